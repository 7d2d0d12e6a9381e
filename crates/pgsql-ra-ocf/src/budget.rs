//! Time limits of one invocation, derived from Pacemaker's operation timeout
//! (`OCF_RESKEY_CRM_meta_timeout`, milliseconds) so that every database and
//! command call fails well before Pacemaker kills the agent.

use std::time::Duration;

/// The per-call limits of one invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Limit for establishing a database session (TCP/unix connect + auth).
    pub connect: Duration,
    /// Limit for one SQL statement (server-side `statement_timeout` and a
    /// client-side deadline on the reply).
    pub statement: Duration,
    /// Limit for one external program (pg_ctl, crm_mon, crm_attribute…).
    pub command: Duration,
    /// Limit for all database calls of the invocation together (retries
    /// included): 80 % of the operation timeout; `None` when none was given.
    pub database_total: Option<Duration>,
}

fn fraction(total_ms: u64, divisor: u64, min: Duration, max: Duration) -> Duration {
    Duration::from_millis(total_ms / divisor).clamp(min, max)
}

impl Budget {
    /// Limits used when Pacemaker gave no timeout (a manual invocation).
    pub const DEFAULT: Budget = Budget {
        connect: Duration::from_secs(5),
        statement: Duration::from_secs(10),
        command: Duration::from_secs(30),
        database_total: None,
    };

    /// Limits for an operation timeout: connect ⅕ (1–15 s), statement ⅕
    /// (1–30 s), command ½ (2–120 s), all database calls together ⅘.
    pub fn from_timeout_ms(timeout_ms: Option<u64>) -> Budget {
        match timeout_ms {
            None | Some(0) => Budget::DEFAULT,
            Some(ms) => Budget {
                connect: fraction(ms, 5, Duration::from_secs(1), Duration::from_secs(15)),
                statement: fraction(ms, 5, Duration::from_secs(1), Duration::from_secs(30)),
                command: fraction(ms, 2, Duration::from_secs(2), Duration::from_secs(120)),
                database_total: Some(Duration::from_millis(ms / 5 * 4)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_timeout_gives_defaults() {
        assert_eq!(Budget::from_timeout_ms(None), Budget::DEFAULT);
        assert_eq!(Budget::from_timeout_ms(Some(0)), Budget::DEFAULT);
    }

    #[test]
    fn limits_are_fractions_bounded_both_ways() {
        let b = Budget::from_timeout_ms(Some(20_000));
        assert_eq!(b.connect, Duration::from_secs(4));
        assert_eq!(b.statement, Duration::from_secs(4));
        assert_eq!(b.database_total, Some(Duration::from_secs(16)));
        assert_eq!(b.command, Duration::from_secs(10));
        let tiny = Budget::from_timeout_ms(Some(100));
        assert_eq!(tiny.connect, Duration::from_secs(1));
        assert_eq!(tiny.command, Duration::from_secs(2));
        let huge = Budget::from_timeout_ms(Some(3_600_000));
        assert_eq!(huge.connect, Duration::from_secs(15));
        assert_eq!(huge.statement, Duration::from_secs(30));
        assert_eq!(huge.command, Duration::from_secs(120));
    }
}
