//! Admission of accepted connections: a listener's `max_connections` and the process's.
//!
//! Every connection an accept loop takes holds a [`Slot`] for as long as it is open,
//! counted in its listener's count (shared by the listener's accept loops, one per
//! worker, and kept across reloads that keep the listener) and in the process's.
//! The limits are read from the live snapshot at each accept, so a reload changes
//! them for the next connection. Past a limit the connection is closed at once,
//! before a byte of it is read, and counted by reason (Envoy's listener connection
//! limit does the same; nginx closes when `worker_connections` run out): the
//! connections already open are untouched, and a refused client sees a clean close
//! instead of waiting in the backlog.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sluicegate_metrics::ConnectionLimit;

/// Open-connection counts an accept loop admits against.
#[derive(Clone, Debug, Default)]
pub(crate) struct Counts {
    /// Its listener's open connections.
    pub(crate) listener: Arc<AtomicUsize>,
    /// The process's open connections (on every listener).
    pub(crate) process: Arc<AtomicUsize>,
}

/// An admitted connection's place in the counts, given back when it is dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    counts: Counts,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.counts.listener.fetch_sub(1, Ordering::Relaxed);
        self.counts.process.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Counts {
    /// A slot for one more connection, or the limit that refuses it: `listener`
    /// connections on this listener, `process` (if set) on all of them.
    pub(crate) fn admit(
        &self,
        listener: u32,
        process: Option<u32>,
    ) -> Result<Slot, ConnectionLimit> {
        // Counted first and given back on refusal: two loops racing for the last slot
        // cannot both take it.
        let on_listener = self.listener.fetch_add(1, Ordering::Relaxed);
        let in_process = self.process.fetch_add(1, Ordering::Relaxed);
        let slot = Slot {
            counts: self.clone(),
        };
        if on_listener >= listener as usize {
            return Err(ConnectionLimit::Listener);
        }
        if process.is_some_and(|limit| in_process >= limit as usize) {
            return Err(ConnectionLimit::Process);
        }
        Ok(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_admits_up_to_its_limit_and_again_once_a_slot_is_freed() {
        let counts = Counts::default();
        let held: Vec<Slot> = (0..3).filter_map(|_| counts.admit(3, None).ok()).collect();
        assert_eq!(held.len(), 3);
        assert_eq!(counts.admit(3, None).err(), Some(ConnectionLimit::Listener));
        drop(held);
        assert!(counts.admit(3, None).is_ok());
        assert_eq!(counts.listener.load(Ordering::Relaxed), 0);
        assert_eq!(counts.process.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn the_process_limit_counts_every_listener() {
        let process = Arc::new(AtomicUsize::new(0));
        let web = Counts {
            listener: Arc::default(),
            process: process.clone(),
        };
        let api = Counts {
            listener: Arc::default(),
            process,
        };
        let _a = web.admit(10, Some(2)).unwrap();
        let _b = api.admit(10, Some(2)).unwrap();
        assert_eq!(web.admit(10, Some(2)).err(), Some(ConnectionLimit::Process));
        assert_eq!(api.admit(1, Some(2)).err(), Some(ConnectionLimit::Listener));
    }
}
