//! Quorum commit (issue 11 item 3, opt-in by `sync_quorum`): the member set
//! and `k` the election relies on, recorded in `<rsc>-sync-quorum`
//! (forever, on every node_list node), and Patroni's election rule. Pure.
//!
//! With `synchronous_standby_names = 'ANY k (m1, …, mn)'` a commit is
//! acknowledged once any k members flushed it. Any n − k + 1 members then
//! include at least one that holds it, so a member may be promoted only when
//! it holds the highest position among at least n − k + 1 members it can
//! compare (Patroni's quorum rule). The recorded set must cover every set
//! that was in force for acknowledged commits (Patroni's two-step update):
//! it is *widened* (union of members, smaller k) before a member is added to
//! `synchronous_standby_names`, and *narrowed* to the configured set only
//! after the reload that removed a member, once at least k of the remaining
//! members have flushed the primary's position read after that reload.

use serde::Serialize;

use crate::lsn::Lsn;
use crate::ports::ReplicationRow;

/// A quorum: any `k` of `members` acknowledge each commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuorumSet {
    /// How many members must acknowledge (≥ 1).
    pub k: u32,
    /// The members (node names), sorted, without duplicates.
    pub members: Vec<String>,
}

impl QuorumSet {
    /// A set from any order of names (sorted, duplicates dropped); `None`
    /// when empty or `k` is 0.
    pub fn new(k: u32, members: &[String]) -> Option<QuorumSet> {
        let mut m = members.to_vec();
        m.sort();
        m.dedup();
        (k >= 1 && !m.is_empty()).then(|| QuorumSet {
            k: k.min(u32::try_from(m.len()).unwrap_or(u32::MAX)),
            members: m,
        })
    }

    /// The attribute value: `<k> <member> <member>…`.
    pub fn to_attr(&self) -> String {
        format!("{} {}", self.k, self.members.join(" "))
    }

    /// Parses [`QuorumSet::to_attr`]; `Err` (in words) for anything else.
    pub fn parse_attr(text: &str) -> Result<QuorumSet, String> {
        let mut words = text.split_whitespace();
        let k = words
            .next()
            .and_then(|w| w.parse::<u32>().ok())
            .ok_or_else(|| format!("not a quorum record: {}", crate::quote::quoted(text)))?;
        let members: Vec<String> = words.map(str::to_string).collect();
        QuorumSet::new(k, &members)
            .ok_or_else(|| format!("not a quorum record: {}", crate::quote::quoted(text)))
    }

    /// The set that covers both `self` (what was in force) and `next`
    /// (what is about to be configured): every member of either, the
    /// smaller k. Recorded *before* the reload that adds members.
    pub fn widened(&self, next: &QuorumSet) -> QuorumSet {
        let all: Vec<String> = self.members.iter().chain(&next.members).cloned().collect();
        QuorumSet::new(self.k.min(next.k), &all).unwrap_or_else(|| next.clone())
    }

    /// How many members must be compared: n − k + 1.
    pub fn needed(&self) -> usize {
        let n = self.members.len();
        n + 1 - (self.k as usize).min(n)
    }
}

/// Whether the recorded set may be narrowed to `target` (configured and
/// reloaded, the primary at `after_reload` right after that reload): at
/// least `target.k` members of `target` have flushed `after_reload`, so
/// every commit acknowledged under the wider set is on k of its members.
pub fn narrow_ready(target: &QuorumSet, after_reload: Lsn, rows: &[ReplicationRow]) -> bool {
    let holding = target
        .members
        .iter()
        .filter(|m| {
            rows.iter().any(|r| {
                r.application_name == **m
                    && r.state == "STREAMING"
                    && r.flush_lsn.is_some_and(|f| f >= after_reload)
            })
        })
        .count();
    holding >= target.k as usize
}

/// Patroni's rule for the election: among the members whose positions
/// this round compares (`compared`, names; non-members are ignored), at
/// least [`QuorumSet::needed`]. `Err` says how many are missing.
pub fn enough_members(set: &QuorumSet, compared: &[String]) -> Result<(), String> {
    let seen = set.members.iter().filter(|m| compared.contains(m)).count();
    let needed = set.needed();
    if seen >= needed {
        Ok(())
    } else {
        Err(format!(
            "quorum commit (ANY {} of {}): only {seen} member position(s) can be compared, {needed} are needed so that no acknowledged commit is missed",
            set.k,
            set.members.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn records_round_trip_and_fail_closed() {
        let q = QuorumSet::new(1, &v(&["node3", "node2", "node3"])).expect("a set");
        assert_eq!(q.to_attr(), "1 node2 node3");
        assert_eq!(QuorumSet::parse_attr("1 node2 node3"), Ok(q.clone()));
        for bad in ["", "x node2", "0 node2", "2", "-1 node2"] {
            assert!(QuorumSet::parse_attr(bad).is_err(), "{bad:?}");
        }
        // k is capped by the number of members.
        assert_eq!(QuorumSet::new(5, &v(&["a", "b"])).map(|q| q.k), Some(2));
    }

    #[test]
    fn widening_covers_both_sets_and_patroni_counts() {
        let old = QuorumSet::new(2, &v(&["node2", "node3", "node4"])).expect("set");
        let next = QuorumSet::new(1, &v(&["node3", "node5"])).expect("set");
        let w = old.widened(&next);
        assert_eq!(w.members, v(&["node2", "node3", "node4", "node5"]));
        assert_eq!(w.k, 1);
        // n − k + 1.
        assert_eq!(w.needed(), 4);
        assert_eq!(old.needed(), 2);
        assert!(enough_members(&old, &v(&["node2", "node4", "node9"])).is_ok());
        let e = enough_members(&old, &v(&["node2", "node9"])).unwrap_err();
        assert!(e.contains("only 1 member position(s)"), "{e}");
    }

    #[test]
    fn narrowing_waits_for_k_members_to_hold_the_reload_position() {
        let target = QuorumSet::new(1, &v(&["node2", "node3"])).expect("set");
        let row = |n: &str, f: u64| ReplicationRow {
            application_name: n.into(),
            state: "STREAMING".into(),
            sync_state: "QUORUM".into(),
            flush_lsn: Some(Lsn(f)),
            replay_lsn: None,
            reply_age: None,
        };
        assert!(!narrow_ready(&target, Lsn(0x50), &[row("node2", 0x40)]));
        assert!(narrow_ready(
            &target,
            Lsn(0x50),
            &[row("node2", 0x40), row("node3", 0x50)]
        ));
        let two = QuorumSet::new(2, &v(&["node2", "node3"])).expect("set");
        assert!(!narrow_ready(
            &two,
            Lsn(0x50),
            &[row("node2", 0x40), row("node3", 0x50)]
        ));
    }
}
