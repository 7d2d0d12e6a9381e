use std::time::Duration;

/// Time, injected so that every wait and retry is bounded and testable.
pub trait Clock {
    /// Time elapsed since an arbitrary fixed origin (monotonic).
    fn now(&mut self) -> Duration;
    /// Waits for `d` (an in-memory clock just advances).
    fn sleep(&mut self, d: Duration);
}
