//! The real clock: a monotonic `Instant` and `thread::sleep`.

use std::time::{Duration, Instant};

use pgsql_ra_core::ports::Clock;

/// Monotonic time since the clock was created.
#[derive(Debug)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    /// A clock whose origin is now.
    pub fn new() -> SystemClock {
        SystemClock {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn now(&mut self) -> Duration {
        self.origin.elapsed()
    }

    fn unix_time_s(&mut self) -> Option<u64> {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs())
    }

    fn sleep(&mut self, d: Duration) {
        std::thread::sleep(d);
    }
}
