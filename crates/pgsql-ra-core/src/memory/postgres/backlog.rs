//! Issue 16: WAL a simulated standby holds or is about to get beyond its
//! replay position, so that the early election's finality clauses can be
//! put to the test (docs/decision-logic.md, "Early election"). Four
//! sources, as PostgreSQL's startup process sees them:
//!
//! - [`WalSource::Local`]: segments already in `pg_wal` when the startup
//!   process last read it (written by a walreceiver before a restart): no
//!   WAL receiver, the receive position NULL, the startup process replays
//!   them (never waiting for WAL while replay is behind their end: it only
//!   sleeps after a read found no further record), possibly stalled for a
//!   while first (a slow replay);
//! - [`WalSource::Copied`]: segments an outside writer puts into `pg_wal`
//!   while the startup process sleeps in `wal_retrieve_retry_interval`
//!   (attack on issue 16, finding 2): no WAL receiver, the receive position
//!   NULL, and the startup process still shows its sleep (waiting) for the
//!   whole stall although the WAL is there: it reads `pg_wal` again only
//!   when the sleep ends, then replays it;
//! - [`WalSource::Receiver`]: an upstream outside the cluster streams it to
//!   a WAL receiver: the receiver is there, the startup process waits for
//!   WAL between deliveries;
//! - [`WalSource::Intermittent`]: the same upstream, but the receiver is
//!   absent between deliveries (it retries after
//!   `wal_retrieve_retry_interval`): no receiver, the startup process
//!   waiting, then WAL arrives.
//!
//! The node's true WAL ([`super::WalHistory`]) ends at the backlog's end in
//! every case: that WAL exists and reaches the node unless it is promoted
//! first.

use crate::lsn::Lsn;

/// Where a standby's WAL beyond its replay position comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalSource {
    /// Already in `pg_wal`: replayed by the startup process (no receiver).
    Local,
    /// Put into `pg_wal` during the startup process's retry sleep: seen as
    /// sleeping until the stall ends, then replayed (no receiver).
    Copied,
    /// Streamed by a WAL receiver that stays connected.
    Receiver,
    /// Streamed by a WAL receiver that is absent between deliveries.
    Intermittent,
}

/// A standby's WAL beyond its replay position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    /// Where that WAL ends.
    pub end: Lsn,
    /// Its source.
    pub source: WalSource,
    /// Monitor rounds (simulator steps) that still see the replay position
    /// unmoved before it advances; 0 or 1: it advances at the end of this
    /// step.
    pub stall: u32,
    /// Bytes replayed (or delivered and replayed) per step once it moves.
    pub per_step: u64,
}

impl Backlog {
    /// One simulator step of a running standby replaying at `replay`: the
    /// new replay position and what remains (`None` once replay reached
    /// the end).
    pub fn step(self, replay: Lsn) -> (Lsn, Option<Backlog>) {
        if self.stall > 1 {
            return (
                replay,
                Some(Backlog {
                    stall: self.stall - 1,
                    ..self
                }),
            );
        }
        let next = Lsn(replay
            .0
            .saturating_add(self.per_step.max(1))
            .min(self.end.0));
        if next >= self.end {
            (self.end, None)
        } else {
            (next, Some(Backlog { stall: 0, ..self }))
        }
    }

    /// True when a WAL receiver process exists for this source.
    pub fn receiver(self) -> bool {
        self.source == WalSource::Receiver
    }

    /// True when the WAL sits in the standby's `pg_wal` (no receiver, the
    /// receive position NULL; a promotion replays it).
    pub fn in_pg_wal(self) -> bool {
        matches!(self.source, WalSource::Local | WalSource::Copied)
    }

    /// True when the startup process shows its retry sleep (waiting for
    /// WAL): always for a streamed source (each delivery is replayed at
    /// once); for WAL copied into `pg_wal` during the sleep, as long as the
    /// replay position has not moved (the sleep hides it, as in
    /// PostgreSQL); for WAL in `pg_wal` before, never while replay is
    /// behind its end.
    pub fn startup_waiting(self, replay: Lsn) -> bool {
        match self.source {
            WalSource::Local => replay >= self.end,
            WalSource::Copied => self.stall >= 1 || replay >= self.end,
            WalSource::Receiver | WalSource::Intermittent => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stalled_backlog_moves_after_its_stall_and_ends_at_its_end() {
        let b = Backlog {
            end: Lsn(0x500),
            source: WalSource::Local,
            stall: 2,
            per_step: 0x200,
        };
        let (r, b) = b.step(Lsn(0x200));
        assert_eq!(r, Lsn(0x200));
        let b = b.expect("still stalled");
        assert!(!b.startup_waiting(r));
        let (r, b) = b.step(r);
        assert_eq!(r, Lsn(0x400));
        let (r, b) = b.expect("not at the end").step(r);
        assert_eq!((r, b), (Lsn(0x500), None));
        let streamed = Backlog {
            source: WalSource::Intermittent,
            stall: 1,
            ..b.unwrap_or(Backlog {
                end: Lsn(0x900),
                source: WalSource::Local,
                stall: 1,
                per_step: 0x400,
            })
        };
        assert!(streamed.startup_waiting(Lsn(0x500)) && !streamed.receiver());
        assert_eq!(streamed.step(Lsn(0x500)).0, Lsn(0x900));
    }

    /// WAL copied into `pg_wal` during the sleep is not seen while the
    /// sleep lasts: through a stall of 3 steps the startup process shows
    /// waiting at an unmoved position (two monitors in that time make a
    /// final mark that then moves: the early election's stated limit,
    /// docs/decision-logic.md), then it replays.
    #[test]
    fn wal_copied_during_the_sleep_is_hidden_until_the_sleep_ends() {
        let b = Backlog {
            end: Lsn(0x900),
            source: WalSource::Copied,
            stall: 3,
            per_step: 0x200,
        };
        assert!(b.in_pg_wal() && !b.receiver());
        let start = Lsn(0x500);
        assert!(b.startup_waiting(start));
        let (r, b) = b.step(start);
        let b = b.expect("still sleeping");
        assert_eq!(r, start);
        assert!(b.startup_waiting(r));
        let (r, b) = b.step(r);
        let b = b.expect("sleep ends this step");
        assert_eq!(r, start);
        assert!(b.startup_waiting(r));
        let (r, b) = b.step(r);
        assert_eq!(r, Lsn(0x700));
        assert!(!b.expect("replaying").startup_waiting(r));
    }
}
