//! A helper thread that repeats one step until it is dropped, as the test's
//! stand-ins for node agents do.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Runs a step on its own thread, pausing between steps, until dropped.
pub struct Repeating {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Repeating {
    /// Runs `step` every `pause` until dropped.
    pub fn every(pause: Duration, step: impl FnMut() + Send + 'static) -> Self {
        Self::at_most(usize::MAX, pause, step)
    }

    /// Runs `step` at most `rounds` times, `pause` apart, until dropped.
    pub fn at_most(
        rounds: usize,
        pause: Duration,
        mut step: impl FnMut() + Send + 'static,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            for _ in 0..rounds {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                step();
                std::thread::sleep(pause);
            }
        });
        Repeating {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Repeating {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
