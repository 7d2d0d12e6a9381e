use std::time::Duration;

/// Time, injected so that every wait and retry is bounded and testable.
pub trait Clock {
    /// Time elapsed since an arbitrary fixed origin (monotonic).
    fn now(&mut self) -> Duration;
    /// Waits for `d` (an in-memory clock just advances).
    fn sleep(&mut self, d: Duration);
    /// Wall-clock time, seconds since the Unix epoch, for the decision
    /// journal's timestamps only (issue 13; never used to decide). `None`
    /// (the default, e.g. the in-memory clock) when there is none.
    fn unix_time_s(&mut self) -> Option<u64> {
        None
    }
}
