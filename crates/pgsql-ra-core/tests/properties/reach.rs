//! Reach counters: how many cases of a property actually reached each key
//! assertion. A property whose key assertion is reached in under 20 % of
//! its cases tests less than it claims, and fails.

use std::collections::BTreeMap;
use std::collections::BTreeSet;

/// A key assertion of the safety properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// A promotion happened after an acknowledged write (the "no
    /// acknowledged write lost" check ran with something to lose).
    PromotionAfterAck,
    /// An acknowledged write came after another one (the lineage check of
    /// two acknowledgements ran).
    AckAfterAck,
    /// A promotion was compared with at least one other standby Pacemaker
    /// could have promoted (the "more advanced node" check ran).
    PromotionCompared,
    /// A primary promoted outside the cluster ran while another instance
    /// was Promoted (S1).
    RogueBesidePromoted,
    /// An election or promotion had a node with a garbage data-status among
    /// its candidates (S2).
    GarbageCandidate,
    /// A node on a timeline created outside the cluster was promoted
    /// (informational; a violation when that timeline forked from WAL
    /// another node holds).
    ForkedPromoted,
    /// Informational, counted and printed: a timeline created outside the
    /// cluster was promoted although it forked from WAL another node holds,
    /// but its timeline numbers and switch points equal the cluster's (what
    /// PostgreSQL's history files show cannot tell them apart). A known
    /// limit, documented in docs/decision-logic.md. Also counted when a
    /// later promotion continues such a fork the cluster already adopted.
    IndistinguishableFork,
    /// Informational, counted and printed: a standby marked `DISCONNECT`
    /// (stock: by the promotion, until the primary sees it stream) held
    /// more of the same WAL than the promoted node, because no monitor saw
    /// it streaming before the primary died. Issue 11 (the most advanced
    /// standby wins) is what closes it.
    UnobservedStandbyAhead,
    /// Informational: a cleanly demoted primary ran on as a standby with its
    /// shutdown checkpoint published (issue 10, B2-01).
    DemotedRanAsStandby,
    /// `start` removed a lone primary's `PGSQL.lock` (B2-05, issue 10).
    LonePrimaryRestart,
    /// A crashed old primary rejoined as a standby without a repair.
    RejoinedByFollow,
    /// A crashed old primary rejoined after `pg_rewind`.
    RejoinedByRewind,
    /// A crashed old primary rejoined after a re-clone.
    RejoinedByClone,
}

impl Key {
    /// A short description for the summary.
    pub fn describe(self) -> &'static str {
        match self {
            Key::PromotionAfterAck => "a promotion happened after an acknowledged write",
            Key::AckAfterAck => "an acknowledged write followed another",
            Key::PromotionCompared => "a promotion was compared with another promotable standby",
            Key::RogueBesidePromoted => {
                "a rogue primary existed while another instance was Promoted"
            }
            Key::GarbageCandidate => "a node with a garbage data-status was a candidate",
            Key::ForkedPromoted => "a node on a timeline created outside the cluster was promoted",
            Key::UnobservedStandbyAhead => {
                "tolerated (issue 11): a DISCONNECT standby the primary never saw streaming held more WAL"
            }
            Key::IndistinguishableFork => {
                "known limit: an outside fork with the cluster's own timeline numbers and switch points was promoted (or continued)"
            }
            Key::DemotedRanAsStandby => {
                "a cleanly demoted primary ran on as a standby (issue 10)"
            }
            Key::LonePrimaryRestart => "start removed a lone primary's PGSQL.lock (B2-05)",
            Key::RejoinedByFollow => "a crashed old primary rejoined by follow (no repair)",
            Key::RejoinedByRewind => "a crashed old primary rejoined after pg_rewind",
            Key::RejoinedByClone => "a crashed old primary rejoined after a re-clone",
        }
    }
}

/// Per-key counts of cases over a property's run.
#[derive(Debug, Default)]
pub struct Reach {
    /// Cases run.
    pub cases: u32,
    /// Cases that reached each key.
    pub counts: BTreeMap<Key, u32>,
}

impl Reach {
    /// Adds one case and the keys it reached.
    pub fn add(&mut self, reached: &BTreeSet<Key>) {
        self.cases += 1;
        for k in reached {
            *self.counts.entry(*k).or_default() += 1;
        }
    }

    /// The summary lines, one per key in `keys` (marked `key`), in `also`
    /// and every other key reached (marked `info`).
    pub fn summary(&self, property: &str, keys: &[Key], also: &[Key]) -> Vec<String> {
        let mut all: BTreeSet<Key> = keys.iter().chain(also).copied().collect();
        all.extend(self.counts.keys().copied());
        all.into_iter()
            .map(|k| {
                let n = self.counts.get(&k).copied().unwrap_or(0);
                let pct = 100.0 * f64::from(n) / f64::from(self.cases.max(1));
                let mark = if keys.contains(&k) { "key" } else { "info" };
                format!(
                    "reach[{property}] {mark} {:>5}/{} ({pct:5.1} %) {}",
                    n,
                    self.cases,
                    k.describe()
                )
            })
            .collect()
    }

    /// The key assertions reached in under `min_percent` % of the cases.
    pub fn under(&self, keys: &[Key], min_percent: u32) -> Vec<Key> {
        keys.iter()
            .copied()
            .filter(|k| {
                let n = self.counts.get(k).copied().unwrap_or(0);
                n * 100 < min_percent * self.cases
            })
            .collect()
    }
}
