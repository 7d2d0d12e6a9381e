//! The safety oracles. They judge the agent by the simulated servers'
//! history (who streamed what from whom up to which LSN, on which timeline
//! lineage: [`WalHistory`]) and by what Pacemaker did, never by the agent's
//! own `eligibility()` nor by the `pgsql-data-status` it wrote.

use std::collections::BTreeSet;

use pgsql_ra_core::memory::{SimRole, TimelineId, WalHistory};
use pgsql_ra_core::ports::Lifetime;
use pgsql_ra_core::sim::faults::Commit;
use pgsql_ra_core::sim::{PcmkRole, PromotionRecord, Sim};
use pgsql_ra_core::Score;
use proptest::test_runner::TestCaseError;

use super::reach::Key;

/// `pg_stat_replication.state` values (PostgreSQL 10–18), upper-cased.
const PG_STATES: &[&str] = &["STARTUP", "CATCHUP", "STREAMING", "BACKUP", "STOPPING"];
/// `pg_stat_replication.sync_state` values, upper-cased.
const PG_SYNC_STATES: &[&str] = &["ASYNC", "POTENTIAL", "SYNC", "QUORUM"];

/// True for a data-status value the agent could have written (§4.3):
/// `LATEST`, `DISCONNECT` or `STATE|SYNC_STATE` from PostgreSQL's columns.
/// Anything else is garbage (a foreign tool's value, a typo).
pub fn known_data_status(v: &str) -> bool {
    match v.split_once('|') {
        None => v == "LATEST" || v == "DISCONNECT",
        Some((state, sync)) => PG_STATES.contains(&state) && PG_SYNC_STATES.contains(&sync),
    }
}

/// What the oracle remembers over a whole run.
#[derive(Debug, Default)]
pub struct Oracle {
    /// The highest acknowledged write of the whole run (never reset at a
    /// promotion): the WAL of the primary that acknowledged it. Every later
    /// acknowledged write and every promotion must include it.
    pub acked: Option<WalHistory>,
    /// The system identifier of the first node Pacemaker promoted.
    pub system: Option<u64>,
    /// The key assertions this run reached.
    pub reached: BTreeSet<Key>,
    /// The WAL of every node promoted under the known limit of an
    /// indistinguishable outside fork ([`Key::IndistinguishableFork`]).
    pub tolerated_forks: Vec<WalHistory>,
    /// Timelines created outside the cluster that a promotion tolerated as
    /// [`Key::IndistinguishableFork`] brought into the cluster's history:
    /// a later promotion that continues them (a standby of that primary,
    /// a rejoined node) is the same known limit, not a new fork.
    pub adopted_forks: BTreeSet<TimelineId>,
}

/// The timelines of a history that were created outside the cluster.
fn outside_timelines(w: &WalHistory) -> Vec<TimelineId> {
    w.past
        .iter()
        .map(|(t, _)| *t)
        .chain(std::iter::once(w.current))
        .filter(|t| t.outside)
        .collect()
}

/// The WAL data of a history: a current timeline (or past ones) with no
/// record of its own — it ends where it began, the simulator writes no
/// end-of-recovery record — holds no data, so two independent promotions at
/// the very same position that wrote nothing yet have lost nothing to each
/// other: the empty tail is dropped before comparing.
pub fn data_of(w: &WalHistory) -> WalHistory {
    let mut d = w.clone();
    while let Some(&(tl, switch)) = d.past.last() {
        if d.lsn != switch {
            break;
        }
        d.past.pop();
        d.current = tl;
    }
    d
}

/// True when `theirs`, read with timeline numbers and switch points only
/// (what history files show), contains `mine`'s history: the two differ
/// only in which promotion created a timeline.
pub fn same_numbers_and_switch_points(mine: &WalHistory, theirs: &WalHistory) -> bool {
    let path = |h: &WalHistory| -> Vec<(u32, pgsql_ra_core::Lsn)> {
        h.past
            .iter()
            .map(|(t, l)| (t.timeline, *l))
            .chain(std::iter::once((h.current.timeline, h.lsn)))
            .collect()
    };
    let (m, t) = (path(mine), path(theirs));
    let Some(((cur, _), past)) = m.split_last() else {
        return false;
    };
    t.len() > past.len() && t[..past.len()] == *past && t[past.len()].0 == *cur
}

fn fail(msg: String) -> Result<(), TestCaseError> {
    Err(TestCaseError::fail(msg))
}

impl Oracle {
    /// A client write committed. It is *acknowledged* when it went through
    /// the VIP (to the instance Pacemaker promoted) while a synchronous
    /// standby confirmed it. The one exception, kept on purpose (stock
    /// §4.8): a write committed while the primary had fallen back to async
    /// (empty `synchronous_standby_names`) was confirmed by no standby and
    /// is not counted. Writes sent directly to a server Pacemaker did not
    /// promote bypass the cluster and are not counted either.
    pub fn on_commit(&mut self, c: &Commit) -> Result<(), TestCaseError> {
        if !(c.via_vip && c.sync_confirmed) {
            return Ok(());
        }
        if let Some(prev) = &self.acked {
            self.reached.insert(Key::AckAfterAck);
            if !c.wal.includes(prev) {
                return fail(format!(
                    "[two-acks] {} acknowledged a write at {} but an earlier acknowledged write at {} is not in its WAL (two acknowledging primaries, or an acknowledged write lost)",
                    c.node,
                    c.wal.describe(),
                    prev.describe()
                ));
            }
        }
        self.acked = Some(c.wal.clone());
        Ok(())
    }

    /// Checks one promote Pacemaker ran, against the servers' state just
    /// before it.
    pub fn on_promotion(&mut self, r: &PromotionRecord) -> Result<(), TestCaseError> {
        if !r.succeeded {
            return Ok(());
        }
        let Some(mine) = r.wal.get(&r.node) else {
            return Ok(());
        };
        let garbage_candidate = std::iter::once(&r.node).chain(&r.alternatives).any(|n| {
            r.data_status
                .get(n)
                .and_then(|v| v.as_deref())
                .is_some_and(|v| !known_data_status(v))
        });
        if garbage_candidate {
            self.reached.insert(Key::GarbageCandidate);
        }
        // Never a node of another system (re-initdb'ed) than the one the
        // cluster's first primary ran. Before any promotion the cluster
        // holds no data of its own: a node re-initdb'ed then is as good as
        // any (a tie between systems is the agent's to refuse, not a loss).
        let system = *self.system.get_or_insert(mine.system_id);
        if mine.system_id != system {
            return fail(format!(
                "[other-system] {} promoted with system identifier {}, the cluster's is {system}",
                r.node, mine.system_id
            ));
        }
        // No acknowledged write lost: the promoted node holds the highest
        // acknowledged position of the whole run, by lineage.
        if let Some(acked) = &self.acked {
            self.reached.insert(Key::PromotionAfterAck);
            if !mine.includes(acked) {
                return fail(format!(
                    "[acked-write-lost] {} promoted at {} but a write was acknowledged at {}",
                    r.node,
                    mine.describe(),
                    acked.describe()
                ));
            }
        }
        // Never a node on a forked timeline: one created outside the
        // cluster (an operator's promote) that diverges from WAL another
        // node of the cluster holds. A node promoted outside the cluster
        // from the very position every other node is at, or behind it, has
        // forked from nothing and loses nothing.
        let outside = outside_timelines(mine);
        if mine.forked_outside() && outside.iter().all(|t| self.adopted_forks.contains(t)) {
            // Continues a fork the cluster already adopted (tolerated above).
            self.reached.insert(Key::IndistinguishableFork);
        } else if mine.forked_outside() {
            self.reached.insert(Key::ForkedPromoted);
            let abandoned = r.wal.iter().find(|(n, w)| {
                **n != r.node
                    && !w.forked_outside()
                    && w.system_id == mine.system_id
                    && !data_of(mine).includes(&data_of(w))
            });
            if let Some((other, theirs)) = abandoned {
                // Known limit, counted and printed (never silent): a fork
                // that PostgreSQL's own timeline metadata cannot tell from
                // the cluster's timeline — the same timeline numbers with
                // the same switch points (a standby promoted outside the
                // cluster at exactly the position the cluster's primary was
                // later promoted from, then crashed before any monitor saw
                // it, together with that primary). History files and
                // `pg_control` are identical; only WAL contents differ.
                // The acknowledged-write oracle above still applies.
                if same_numbers_and_switch_points(&data_of(mine), &data_of(theirs)) {
                    self.reached.insert(Key::IndistinguishableFork);
                    self.tolerated_forks.push(mine.clone());
                    self.adopted_forks.extend(outside);
                    return Ok(());
                }
                // The same fork promoted again later (issue 10: its node
                // was demoted cleanly, ran on as a standby and won again,
                // its shutdown checkpoint now on top): it abandons what the
                // tolerated promotion already abandoned, nothing new.
                let continued = self.tolerated_forks.iter().any(|t| {
                    data_of(mine).includes(&data_of(t)) && !data_of(t).includes(&data_of(theirs))
                });
                if continued {
                    self.reached.insert(Key::IndistinguishableFork);
                    self.tolerated_forks.push(mine.clone());
                    return Ok(());
                }
                return fail(format!(
                    "[forked] {} promoted on a timeline created outside the cluster, {}, which forked from {other}'s {}",
                    r.node,
                    mine.describe(),
                    theirs.describe()
                ));
            }
        }
        // Never a node promoted while a standby Pacemaker could have
        // promoted holds a strict superset of its WAL (same system, same
        // lineage, more of it), whatever that standby's data-status says.
        let mut compared = false;
        for other in &r.alternatives {
            let (Some(theirs), Some(SimRole::Standby)) = (r.wal.get(other), r.servers.get(other))
            else {
                continue;
            };
            if theirs.forked_outside() || theirs.system_id != mine.system_id {
                continue;
            }
            // A standby the operator (or a foreign tool) gave a garbage
            // data-status is refused by design (fail closed, issue 9 item
            // 2): passing it over is the operator's doing, not the agent's.
            // Only garbage counts here; the values the agent itself wrote
            // (DISCONNECT, STREAMING|ASYNC, …) never excuse a promotion.
            let garbage = r
                .data_status
                .get(other)
                .and_then(|v| v.as_deref())
                .is_some_and(|v| !known_data_status(v));
            // The same for a sync-baseline an operator's tool garbled
            // (not an LSN in the attribute form): refused by design.
            let garbage_baseline = r
                .sync_baseline
                .get(other)
                .and_then(|v| v.as_deref())
                .is_some_and(|v| pgsql_ra_core::Lsn::parse_attr(v).is_err());
            if garbage || garbage_baseline {
                continue;
            }
            // A standby that has not streamed since it started (a fresh
            // base backup, a restart while the primary was gone) never
            // showed the cluster its position: the agent has no replication
            // fact that vouches for it.
            if !r.streamed.get(other).copied().unwrap_or(false) {
                continue;
            }
            compared = true;
            // More WAL bytes on the same lineage. A timeline switch alone
            // (the simulator writes no end-of-recovery record) is no data.
            if theirs.includes(mine) && theirs.lsn > mine.lsn {
                // B2-14 (issue 11 item 4, a hard assertion since): an
                // async or potential standby ahead of the promoted node on
                // the same lineage takes over at pre-promote or wins the
                // election as a superset; passing it over is a violation
                // like any other (below). Since issue 11 item 4 was
                // completed also when its server did not answer at
                // post-demote (it reads its end of WAL from the data
                // directory) and when it is on a newer timeline whose
                // history holds the promoted node's position (its own
                // history file): no tolerance is left for either.
                let ds = r.data_status.get(other).and_then(|v| v.as_deref());
                // Still tolerated (issue 11, DISCONNECT stays ineligible): a standby the new primary marked
                // DISCONNECT at its promotion (stock) streamed, but no
                // monitor of the primary saw it before the primary died, so
                // it holds more WAL than the winner. No acknowledged write is
                // at stake (checked above); counted and printed, not hidden.
                if ds == Some("DISCONNECT") {
                    self.reached.insert(Key::UnobservedStandbyAhead);
                    continue;
                }
                return fail(format!(
                    "[more-advanced-standby] {} promoted at {} but {other}, which Pacemaker could have promoted, holds more of the same WAL: {} (its data-status {:?})",
                    r.node,
                    mine.describe(),
                    theirs.describe(),
                    r.data_status.get(other).cloned().flatten()
                ));
            }
        }
        if compared {
            self.reached.insert(Key::PromotionCompared);
        }
        Ok(())
    }

    /// Checks the state after every event.
    pub fn after_event(&mut self, sim: &Sim) -> Result<(), TestCaseError> {
        let names = sim.node_names();
        let promoted: Vec<&String> = names
            .iter()
            .filter(|n| sim.pcmk_role(n) == PcmkRole::Promoted)
            .collect();
        if promoted.len() > 1 {
            return fail(format!(
                "[two-promoted] two promoted instances {promoted:?}"
            ));
        }
        let demoted_standby = names.iter().any(|n| {
            sim.net.role(n) == SimRole::Standby
                && sim
                    .cluster
                    .attr(n, "pgsql-demote-checkpoint", Lifetime::Reboot)
                    .is_some()
        });
        if demoted_standby {
            self.reached.insert(Key::DemotedRanAsStandby);
        }
        let primaries = sim.net.running_primaries();
        let rogue = primaries
            .iter()
            .any(|p| sim.net.wal(p).is_some_and(|w| w.forked_outside()) && !promoted.contains(&p));
        if rogue && !promoted.is_empty() {
            self.reached.insert(Key::RogueBesidePromoted);
        }
        // A primary promoted outside the cluster is the operator's; two
        // primaries the cluster made are the agent's fault.
        let ours: Vec<&String> = primaries
            .iter()
            .filter(|p| !sim.net.wal(p).is_some_and(|w| w.forked_outside()))
            .collect();
        if ours.len() > 1 {
            return fail(format!("[two-primaries] two running primaries {ours:?}"));
        }
        for n in &names {
            if sim.data_status(n).as_deref() == Some("DISCONNECT") {
                let score = sim.score(n).and_then(|s| s.parse::<Score>().ok());
                if score.is_some_and(|s| s.is_positive()) {
                    return fail(format!(
                        "[disconnect-score] {n} is DISCONNECT with score {score:?}"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Before a Pacemaker step: notes when an election is due with a node
    /// whose data-status is garbage among the candidates.
    pub fn before_step(&mut self, sim: &Sim) {
        let names = sim.node_names();
        let nobody_promoted = names.iter().all(|n| sim.pcmk_role(n) != PcmkRole::Promoted);
        let garbage = names.iter().any(|n| {
            sim.pcmk_role(n) == PcmkRole::Unpromoted
                && sim.net.role(n) == SimRole::Standby
                && sim.data_status(n).is_some_and(|v| !known_data_status(&v))
        });
        if nobody_promoted && garbage {
            self.reached.insert(Key::GarbageCandidate);
        }
    }
}
