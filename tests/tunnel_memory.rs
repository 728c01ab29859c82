//! A long transfer through a tunnel in flat memory: 1 GiB through a raw upgraded
//! tunnel, with the growth of this process's resident memory (proxy, backend and
//! client all live in it) checked along the way. A few seconds even in a debug build:
//! the copying is tokio's, the hashing sha2's (optimised in every profile).

use std::time::Duration;

use sluicegate_testkit::pattern::Digest;
use sluicegate_testkit::upgrading::read_to_end;
use sluicegate_testkit::{Backend, init_tracing, single_cluster, start_proxy, upgrade, within};
use tokio::io::AsyncWriteExt;

const MIB: u64 = 1024 * 1024;
/// Most the resident memory may grow while the bytes flow.
const MAX_GROWTH: u64 = 64 * MIB;

/// This process's resident memory, from `/proc/self/status` (`VmRSS`, in kB).
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_else(|e| panic!("reading /proc/self/status: {e}"));
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/self/status"));
    kb * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gibibyte_through_a_tunnel_in_flat_memory() {
    init_tracing();
    let len = 1024 * MIB;
    let backend = Backend::upgrading();
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let (head, mut stream, rest) = upgrade(proxy.addr(), "/", "sink-test", b"").await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    // A whole number of periods of the pattern byte i % 251, so it repeats seamlessly.
    let block: Vec<u8> = (0..251 * 261).map(|i| (i % 251) as u8).collect();
    let before = rss();
    let mut peak = before;
    let mut sent = Digest::default();
    let sending = async {
        let mut offset = 0u64;
        let mut checked = 0u64;
        while offset < len {
            let n = (len - offset).min(block.len() as u64) as usize;
            stream
                .write_all(&block[..n])
                .await
                .expect("write to the tunnel");
            sent.update(&block[..n]);
            offset += n as u64;
            if offset - checked >= 32 * MIB {
                checked = offset;
                peak = peak.max(rss());
            }
        }
        stream
            .shutdown()
            .await
            .expect("shut down the client's side");
    };
    within(
        Duration::from_secs(300),
        "sending through the tunnel",
        sending,
    )
    .await;
    let answer = read_to_end(&mut stream, rest).await;
    peak = peak.max(rss());
    assert_eq!(String::from_utf8_lossy(&answer), sent.finish());
    let growth = peak.saturating_sub(before);
    eprintln!(
        "resident memory: {} MiB before, peak {} MiB",
        before / MIB,
        peak / MIB
    );
    assert!(
        growth < MAX_GROWTH,
        "resident memory grew by {} MiB while {} MiB went through",
        growth / MIB,
        len / MIB
    );
}
