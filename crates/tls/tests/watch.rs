//! The certificate watcher: a pair replaced in place, by rename, or by a kubelet-style
//! `..data` symlink swap is served to new handshakes within 2 s while a connection
//! opened before keeps working; a bad new pair is refused and counted; the watch stops
//! when dropped and never keeps the `ServerTls` alive.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

mod support;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sluicegate_tls::{PairSource, ServerTls};
use support::{
    Client, EchoServer, Metrics, Pem, SWAP_WITHIN, cert_for, eventually, params, round_trip,
    served, temp_dir,
};

const NAME: Option<&str> = Some("site.test");

/// A watched listener serving `old` from `pair`, with a connection opened before any
/// change.
struct Site {
    tls: Arc<ServerTls>,
    server: EchoServer,
    metrics: Metrics,
    open: support::Served,
    listener: &'static str,
}

impl Site {
    async fn start(
        listener: &'static str,
        pair: PairSource,
        old: &Pem,
    ) -> (Self, sluicegate_tls::CertWatch) {
        let metrics = Metrics::new();
        let tls = metrics.load(params(listener, vec![pair], 0));
        let watch = tls.watch().expect("watch");
        let server = EchoServer::start(tls.clone(), Duration::from_secs(10)).await;
        let open = Client::sni(NAME)
            .connect(server.addr)
            .await
            .expect("handshake");
        assert_eq!(open.leaf, old.der);
        let site = Self {
            tls,
            server,
            metrics,
            open,
            listener,
        };
        (site, watch)
    }

    /// Whether new handshakes get `pem` within [`SWAP_WITHIN`].
    async fn serves_within(&self, pem: &Pem, within: Duration) -> bool {
        let addr = self.server.addr;
        eventually(within, || async { served(addr, NAME).await == pem.der }).await
    }

    /// New handshakes get `new` in time, the connection opened before still echoes,
    /// and the swap was counted.
    async fn swapped_to(&mut self, new: &Pem) {
        assert!(
            self.serves_within(new, SWAP_WITHIN).await,
            "new certificate not served in time"
        );
        assert_eq!(
            round_trip(&mut self.open.stream, b"after the swap\n").await,
            b"after the swap\n"
        );
        assert!(self.metrics.reloads(self.listener, "ok") >= 1);
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write");
}

#[tokio::test]
async fn a_pair_rewritten_in_place_is_served() {
    let (_guard, dir) = temp_dir();
    let old = cert_for(&["site.test"]);
    let pair = support::write_pair(&dir, "site", &old);
    let (mut site, _watch) = Site::start("in_place", pair.clone(), &old).await;
    let new = cert_for(&["site.test"]);
    write(&pair.cert, &new.cert);
    write(&pair.key, &new.key);
    site.swapped_to(&new).await;
}

#[tokio::test]
async fn a_pair_renamed_over_the_old_one_is_served() {
    let (_guard, dir) = temp_dir();
    let old = cert_for(&["site.test"]);
    let pair = support::write_pair(&dir, "site", &old);
    let (mut site, _watch) = Site::start("rename", pair.clone(), &old).await;
    let new = cert_for(&["site.test"]);
    let (cert_tmp, key_tmp) = (dir.join(".site.pem.tmp"), dir.join(".site.key.tmp"));
    write(&cert_tmp, &new.cert);
    write(&key_tmp, &new.key);
    std::fs::rename(&key_tmp, &pair.key).expect("rename the key");
    std::fs::rename(&cert_tmp, &pair.cert).expect("rename the cert");
    site.swapped_to(&new).await;
}

#[tokio::test]
async fn a_pair_split_across_two_directories_is_served() {
    let (_certs_guard, certs) = temp_dir();
    let (_keys_guard, keys) = temp_dir();
    let old = cert_for(&["site.test"]);
    let pair = PairSource {
        cert: certs.join("site.pem"),
        key: keys.join("site.key"),
    };
    write(&pair.cert, &old.cert);
    write(&pair.key, &old.key);
    let (mut site, _watch) = Site::start("split", pair.clone(), &old).await;
    let new = cert_for(&["site.test"]);
    write(&pair.key, &new.key);
    write(&pair.cert, &new.cert);
    site.swapped_to(&new).await;
}

/// Writes `pem` as `tls.crt`/`tls.key` into `dir/<stamp>` and points `dir/..data` at
/// it the way the kubelet does: a new symlink renamed over the old one.
fn kubelet_publish(dir: &Path, stamp: &str, pem: &Pem) {
    let data = dir.join(stamp);
    std::fs::create_dir(&data).expect("timestamped dir");
    write(&data.join("tls.crt"), &pem.cert);
    write(&data.join("tls.key"), &pem.key);
    let tmp = dir.join("..data_tmp");
    symlink(stamp, &tmp).expect("new ..data link");
    std::fs::rename(&tmp, dir.join("..data")).expect("swap ..data");
}

fn kubelet_layout(dir: &Path, pem: &Pem) -> PairSource {
    kubelet_publish(dir, "..2026_01_01_00_00_00.1", pem);
    let link = |name: &str| -> PathBuf {
        let path = dir.join(name);
        symlink(Path::new("..data").join(name), &path).expect("file link");
        path
    };
    PairSource {
        cert: link("tls.crt"),
        key: link("tls.key"),
    }
}

#[tokio::test]
async fn a_kubelet_style_data_symlink_swap_is_served() {
    let (_guard, dir) = temp_dir();
    let old = cert_for(&["site.test"]);
    let pair = kubelet_layout(&dir, &old);
    let (mut site, _watch) = Site::start("kubelet", pair, &old).await;
    let new = cert_for(&["site.test"]);
    kubelet_publish(&dir, "..2026_02_01_00_00_00.2", &new);
    std::fs::remove_dir_all(dir.join("..2026_01_01_00_00_00.1")).expect("old dir removed");
    site.swapped_to(&new).await;
}

#[tokio::test]
async fn a_bad_new_pair_keeps_the_old_one_counts_an_error_and_a_fix_is_served() {
    let (_guard, dir) = temp_dir();
    let old = cert_for(&["site.test"]);
    let pair = support::write_pair(&dir, "site", &old);
    let (mut site, _watch) = Site::start("bad", pair.clone(), &old).await;
    let new = cert_for(&["site.test"]);
    write(&pair.key, &cert_for(&["other.test"]).key);
    let errors = || async { site.metrics.reloads("bad", "error") >= 1 };
    assert!(
        eventually(SWAP_WITHIN, errors).await,
        "the bad key was not counted"
    );
    assert_eq!(served(site.server.addr, NAME).await, old.der);
    assert_eq!(site.metrics.reloads("bad", "ok"), 0);
    write(&pair.cert, &new.cert);
    write(&pair.key, &new.key);
    site.swapped_to(&new).await;
}

#[test]
fn the_watch_holds_no_strong_reference() {
    let (_guard, dir) = temp_dir();
    let pair = support::write_pair(&dir, "site", &cert_for(&["site.test"]));
    let tls = Metrics::new().load(params("weak", vec![pair], 0));
    let watch = tls.watch().expect("watch");
    assert_eq!(Arc::strong_count(&tls), 1);
    let weak = Arc::downgrade(&tls);
    drop(tls);
    assert!(
        weak.upgrade().is_none(),
        "the watch kept the ServerTls alive"
    );
    drop(watch);
}

#[tokio::test]
async fn a_dropped_watch_swaps_nothing() {
    let (_guard, dir) = temp_dir();
    let old = cert_for(&["site.test"]);
    let pair = support::write_pair(&dir, "site", &old);
    let (site, watch) = Site::start("dropped", pair.clone(), &old).await;
    drop(watch);
    let new = cert_for(&["site.test"]);
    write(&pair.cert, &new.cert);
    write(&pair.key, &new.key);
    // A window for a watcher that did not stop to swap it (it would take ~150 ms); a
    // slow machine can only make this pass wrongly, never fail wrongly.
    assert!(!site.serves_within(&new, Duration::from_millis(600)).await);
    assert_eq!(site.tls.refresh(), 1, "nobody swapped it but this refresh");
}

#[tokio::test]
async fn watching_a_directory_that_does_not_exist_fails_clearly() {
    let (_guard, dir) = temp_dir();
    let old = cert_for(&["site.test"]);
    let pair = support::write_pair(&dir, "site", &old);
    let tls = Metrics::new().load(params("gone", vec![pair], 0));
    std::fs::remove_dir_all(&dir).expect("remove the directory");
    let error = tls.watch().expect_err("nothing to watch");
    assert_eq!(error.kind(), std::io::ErrorKind::NotFound, "{error}");
    assert!(
        error
            .to_string()
            .starts_with(&format!("cannot watch {}", dir.display())),
        "{error}"
    );
}
