//! The true WAL history of a simulated node: which timelines it went
//! through, where each one ended, and which promotion created each one.
//!
//! PostgreSQL itself only knows timeline *numbers* and switch points (the
//! `*.history` files). Two independent promotions can both create timeline
//! n+1, even at the same switch point (S1: an operator's `pg_ctl promote` of
//! a standby while the cluster's primary keeps writing). The simulator gives
//! every timeline a unique birth, so such forks stay distinguishable: a
//! standby only streams from a primary whose WAL includes its own, and the
//! safety oracles compare lineages, not LSN numbers.

use crate::lsn::Lsn;

/// Births of timelines created by promotions start here (smaller values are
/// `initdb` and timelines set directly by a scenario, whose birth is their
/// number: every node set to timeline 3 shares the same timeline 3).
pub const FIRST_PROMOTION_BIRTH: u64 = 1_000;

/// One timeline as the simulator knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimelineId {
    /// The timeline number PostgreSQL shows.
    pub timeline: u32,
    /// Unique per promotion that created it.
    pub birth: u64,
    /// True when it was created by a promotion outside the cluster
    /// (`pg-promote`: an operator's `pg_ctl promote`, a trigger file).
    pub outside: bool,
}

impl TimelineId {
    /// A timeline that no promotion created: `initdb`'s (1) or one a
    /// scenario sets directly; its birth is its number.
    pub fn canonical(timeline: u32) -> TimelineId {
        TimelineId {
            timeline,
            birth: u64::from(timeline),
            outside: false,
        }
    }
}

/// A node's WAL: its system identifier, the past timelines with the LSN at
/// which each one was left (switch point), the current timeline and the
/// flushed end of WAL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalHistory {
    /// The data directory's system identifier.
    pub system_id: u64,
    /// Past timelines, oldest first, each with its switch point.
    pub past: Vec<(TimelineId, Lsn)>,
    /// The timeline the node is on.
    pub current: TimelineId,
    /// The flushed end of WAL on the current timeline.
    pub lsn: Lsn,
}

impl WalHistory {
    /// The path of the WAL: every timeline with the LSN where it ends
    /// (the switch point for past ones, the end of WAL for the current one).
    fn path(&self) -> impl Iterator<Item = (TimelineId, Lsn)> + '_ {
        self.past
            .iter()
            .copied()
            .chain(std::iter::once((self.current, self.lsn)))
    }

    /// True when every WAL record of `other` is also in `self`: same system,
    /// `other`'s past timelines are `self`'s with the same switch points, and
    /// `other`'s current timeline is one of `self`'s, ending no later there.
    pub fn includes(&self, other: &WalHistory) -> bool {
        if self.system_id != other.system_id {
            return false;
        }
        let mine: Vec<(TimelineId, Lsn)> = self.path().collect();
        let theirs: Vec<(TimelineId, Lsn)> = other.path().collect();
        let Some(((last_tl, last_end), earlier)) = theirs.split_last() else {
            return true;
        };
        if mine.len() < theirs.len() || mine[..earlier.len()] != *earlier {
            return false;
        }
        let (tl, end) = mine[earlier.len()];
        tl == *last_tl && *last_end <= end
    }

    /// True when `self` holds all of `other`'s WAL and more.
    pub fn strictly_includes(&self, other: &WalHistory) -> bool {
        self.includes(other) && !other.includes(self)
    }

    /// True when a timeline of this history was created outside the cluster.
    pub fn forked_outside(&self) -> bool {
        self.path().any(|(tl, _)| tl.outside)
    }

    /// A short text, e.g. `1@0/3000100>2#1001 0/3000400` (past timelines
    /// with their switch points, then the current one with its end of WAL).
    pub fn describe(&self) -> String {
        let name = |t: &TimelineId| {
            let mark = if t.outside { "!" } else { "" };
            if t.birth == u64::from(t.timeline) {
                format!("{}{mark}", t.timeline)
            } else {
                format!("{}#{}{mark}", t.timeline, t.birth)
            }
        };
        let mut s = String::new();
        for (t, end) in &self.past {
            s.push_str(&format!("{}@{end}>", name(t)));
        }
        s.push_str(&format!("{} {}", name(&self.current), self.lsn));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wal(past: &[(u32, u64, u64)], current: (u32, u64), lsn: u64) -> WalHistory {
        let id = |t: u32, b: u64| TimelineId {
            timeline: t,
            birth: b,
            outside: false,
        };
        WalHistory {
            system_id: 7,
            past: past.iter().map(|(t, b, e)| (id(*t, *b), Lsn(*e))).collect(),
            current: id(current.0, current.1),
            lsn: Lsn(lsn),
        }
    }

    #[test]
    fn a_promoted_node_includes_the_standby_it_left_behind() {
        let standby = wal(&[], (1, 1), 100);
        let promoted = wal(&[(1, 1, 100)], (2, 1000), 300);
        assert!(promoted.includes(&standby));
        assert!(promoted.strictly_includes(&standby));
        assert!(!standby.includes(&promoted));
        let ahead = wal(&[], (1, 1), 150);
        assert!(
            !promoted.includes(&ahead),
            "WAL past the switch point is lost"
        );
    }

    #[test]
    fn two_promotions_to_the_same_timeline_number_are_a_fork() {
        let a = wal(&[(1, 1, 100)], (2, 1000), 200);
        let b = wal(&[(1, 1, 100)], (2, 1001), 200);
        assert!(!a.includes(&b));
        assert!(!b.includes(&a));
        let base = wal(&[], (1, 1), 100);
        assert!(a.includes(&base) && b.includes(&base));
    }

    #[test]
    fn another_system_is_never_included() {
        let a = wal(&[], (1, 1), 100);
        let mut b = a.clone();
        b.system_id = 8;
        assert!(!a.includes(&b));
        assert!(a.includes(&a.clone()) && !a.strictly_includes(&a.clone()));
    }
}
