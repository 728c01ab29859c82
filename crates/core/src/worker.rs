//! Which worker thread the caller is on, for state kept per worker (the upstream
//! pools' idle connections), so that a connection is used on the thread that drives
//! it. Threads that are not workers (the control plane, tests) are worker 0.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

thread_local! {
    static INDEX: Cell<usize> = const { Cell::new(0) };
}

/// Worker threads of the process; 1 until workers are started.
static COUNT: AtomicUsize = AtomicUsize::new(1);

/// Records that the process runs `count` workers; call before starting them, and
/// before building what is kept per worker.
pub fn set_count(count: usize) {
    COUNT.fetch_max(count.max(1), Ordering::Relaxed);
}

/// Marks the calling thread as worker `index`. Called once by each worker thread as
/// it starts.
pub fn enter(index: usize) {
    INDEX.with(|i| i.set(index));
}

/// The calling thread's worker index (0 off the workers).
#[inline]
pub fn current() -> usize {
    INDEX.with(Cell::get)
}

/// The number of worker threads (at least 1).
pub fn count() -> usize {
    COUNT.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_is_worker_zero_until_it_enters() {
        std::thread::spawn(|| {
            assert_eq!(current(), 0);
            set_count(4);
            enter(3);
            assert_eq!(current(), 3);
            assert!(count() >= 4);
        })
        .join()
        .unwrap();
        assert_eq!(current(), 0, "another thread's index is its own");
    }
}
