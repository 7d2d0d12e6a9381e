//! [`MemClock`]: virtual time that only moves when someone sleeps or advances it.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use crate::ports::Clock;

/// A virtual monotonic clock. Clones share the same time, so every node of a
/// simulated cluster sees one timeline.
#[derive(Debug, Clone, Default)]
pub struct MemClock {
    now: Rc<Cell<Duration>>,
}

impl MemClock {
    /// A clock at time zero.
    pub fn new() -> MemClock {
        MemClock::default()
    }

    /// Moves time forward by `d` (what the harness does between monitor intervals).
    pub fn advance(&self, d: Duration) {
        self.now.set(self.now.get().saturating_add(d));
    }

    /// The current virtual time.
    pub fn elapsed(&self) -> Duration {
        self.now.get()
    }
}

impl Clock for MemClock {
    fn now(&mut self) -> Duration {
        self.now.get()
    }

    fn sleep(&mut self, d: Duration) {
        self.advance(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleep_advances_every_clone() {
        let mut a = MemClock::new();
        let b = a.clone();
        a.sleep(Duration::from_secs(2));
        b.advance(Duration::from_millis(500));
        assert_eq!(a.now(), Duration::from_millis(2500));
        assert_eq!(b.elapsed(), Duration::from_millis(2500));
    }
}
