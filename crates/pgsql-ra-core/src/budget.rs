//! Time budgets: every poll and retry of an action ends at a deadline derived
//! from Pacemaker's operation timeout (`OCF_RESKEY_CRM_meta_timeout`), so no
//! action can loop forever (stock bug L).

use std::time::Duration;

use serde::Serialize;

use crate::action::Action;

/// Interval between two polls of the server (start, promote, stop).
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Pause before retrying a failed cluster or database call.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// The stock meta-data timeout of an action, used when Pacemaker gives none.
pub fn default_timeout(action: Action) -> Duration {
    let secs = match action {
        Action::Start | Action::Stop | Action::Promote | Action::Demote => 120,
        Action::Notify => 90,
        Action::Status => 60,
        Action::Monitor => 30,
        Action::ValidateAll | Action::MetaData | Action::Methods | Action::ReloadAgent => 5,
    };
    Duration::from_secs(secs)
}

/// The time kept in reserve at the end of an operation for the work that
/// follows the last poll (attribute writes, logging): a tenth of the timeout,
/// at most five seconds.
pub fn reserve(timeout: Duration) -> Duration {
    (timeout / 10).min(Duration::from_secs(5))
}

/// A deadline for one action, on the injected clock's time line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Budget {
    /// When the action began.
    pub started: Duration,
    /// The operation timeout it runs under.
    pub timeout: Duration,
    /// When polls and retries must stop (`started + timeout - reserve`).
    pub deadline: Duration,
}

impl Budget {
    /// The budget of `action` begun at `now`, with Pacemaker's timeout in ms
    /// (`None`: the stock default for the action).
    pub fn new(action: Action, now: Duration, timeout_ms: Option<u64>) -> Budget {
        let timeout = match timeout_ms {
            Some(ms) if ms > 0 => Duration::from_millis(ms),
            _ => default_timeout(action),
        };
        Budget {
            started: now,
            timeout,
            deadline: now + timeout - reserve(timeout),
        }
    }

    /// Time left before the deadline (zero once it has passed).
    pub fn remaining(&self, now: Duration) -> Duration {
        self.deadline.saturating_sub(now)
    }

    /// True once the deadline has passed.
    pub fn expired(&self, now: Duration) -> bool {
        now >= self.deadline
    }

    /// How long to sleep before the next poll: the poll interval, or less
    /// when the deadline is nearer.
    pub fn next_sleep(&self, now: Duration, interval: Duration) -> Duration {
        interval.min(self.remaining(now))
    }
}

/// The stop escalation delay (seconds between `stop -m fast` and
/// `stop -m immediate`), capped like the stock agent: when the configured
/// delay is at least the operation timeout, it becomes timeout − 10 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Escalation {
    /// The delay to use.
    pub delay: Duration,
    /// True when the configured value was capped by the timeout.
    pub capped: bool,
}

/// Computes the escalation delay from the configured seconds and the
/// operation timeout in milliseconds (if Pacemaker gave one).
pub fn escalation(configured_secs: u32, timeout_ms: Option<u64>) -> Escalation {
    let configured = u64::from(configured_secs);
    match timeout_ms {
        Some(ms) if ms > 0 && configured >= ms / 1000 => Escalation {
            delay: Duration::from_secs((ms / 1000).saturating_sub(10)),
            capped: true,
        },
        _ => Escalation {
            delay: Duration::from_secs(configured),
            capped: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_uses_the_given_timeout_minus_a_reserve() {
        let b = Budget::new(Action::Start, Duration::from_secs(100), Some(60_000));
        assert_eq!(b.timeout, Duration::from_secs(60));
        assert_eq!(b.deadline, Duration::from_secs(155));
        assert_eq!(
            b.remaining(Duration::from_secs(150)),
            Duration::from_secs(5)
        );
        assert!(!b.expired(Duration::from_secs(154)));
        assert!(b.expired(Duration::from_secs(155)));
        assert_eq!(b.remaining(Duration::from_secs(200)), Duration::ZERO);
    }

    #[test]
    fn budget_falls_back_to_the_stock_action_timeouts() {
        let b = Budget::new(Action::Monitor, Duration::ZERO, None);
        assert_eq!(b.timeout, Duration::from_secs(30));
        assert_eq!(b.deadline, Duration::from_secs(27));
        assert_eq!(
            Budget::new(Action::Notify, Duration::ZERO, Some(0)).timeout,
            Duration::from_secs(90)
        );
        assert_eq!(default_timeout(Action::Promote), Duration::from_secs(120));
    }

    #[test]
    fn short_timeouts_keep_a_tenth_in_reserve() {
        let b = Budget::new(Action::Stop, Duration::ZERO, Some(2_000));
        assert_eq!(b.deadline, Duration::from_millis(1_800));
        let interval = Duration::from_millis(200);
        assert_eq!(
            b.next_sleep(Duration::from_millis(1_700), interval),
            Duration::from_millis(100)
        );
        assert_eq!(b.next_sleep(Duration::ZERO, interval), interval);
        assert_eq!(b.next_sleep(Duration::ZERO, POLL_INTERVAL), POLL_INTERVAL);
    }

    #[test]
    fn escalation_is_capped_like_the_stock_agent() {
        assert_eq!(
            escalation(90, None),
            Escalation {
                delay: Duration::from_secs(90),
                capped: false
            }
        );
        assert_eq!(escalation(90, Some(120_000)).delay, Duration::from_secs(90));
        assert_eq!(
            escalation(120, Some(120_000)),
            Escalation {
                delay: Duration::from_secs(110),
                capped: true
            }
        );
        assert_eq!(escalation(90, Some(60_000)).delay, Duration::from_secs(50));
        assert_eq!(escalation(90, Some(5_000)).delay, Duration::ZERO);
        assert_eq!(escalation(0, Some(60_000)).delay, Duration::ZERO);
    }
}
