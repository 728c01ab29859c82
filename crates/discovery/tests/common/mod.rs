//! What the DNS and etcd source tests share: sources running for a config, and waits
//! for the answer a test expects.

use std::net::SocketAddr;
use std::time::Duration;

use sluicegate_config::Config;
use sluicegate_discovery::{Answer, Sources, Update, channel};
use tokio::sync::mpsc::Receiver;

/// The sources of `config`, running, and the answers they send.
pub fn run(config: &Config) -> (Sources, Receiver<Update>) {
    let (tx, updates) = channel();
    let mut sources = Sources::new(tx);
    sources.reconcile(config);
    (sources, updates)
}

/// The next update whose answer satisfies `wanted`, within `within`.
pub async fn next(
    updates: &mut Receiver<Update>,
    within: Duration,
    wanted: impl Fn(&Answer) -> bool,
) -> Update {
    tokio::time::timeout(within, async {
        loop {
            let update = updates.recv().await.expect("the sources stopped");
            if wanted(&update.answer) {
                return update;
            }
        }
    })
    .await
    .expect("no such answer in time")
}

/// An answer that found exactly the backends at `list`, in any order.
pub fn found(list: &[&str]) -> impl Fn(&Answer) -> bool {
    let mut want: Vec<SocketAddr> = list
        .iter()
        .map(|a| a.parse().expect("an address"))
        .collect();
    want.sort();
    move |answer| match answer {
        Answer::Found(backends) => {
            let mut got: Vec<SocketAddr> = backends.iter().map(|b| b.address).collect();
            got.sort();
            got == want
        }
        Answer::Failed(_) => false,
    }
}

/// A failed answer.
pub fn failed(answer: &Answer) -> bool {
    matches!(answer, Answer::Failed(_))
}
