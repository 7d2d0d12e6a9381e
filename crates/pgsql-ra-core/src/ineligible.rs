//! Every reason a node may not be promoted, in one enum: follow
//! [`Ineligible`] to find each place that gives a node the score
//! `-INFINITY`, marks its `<rsc>-data-status` `DISCONNECT`, keeps it out of
//! the election or bans it. Each variant cites the rule of the stock agent
//! (`/work/shared/spec/stock-agent.md`, "§") or says that it goes beyond it.
//!
//! The decision functions ([`crate::replication`], [`crate::decide`],
//! [`crate::election`]) return these values; the actions write what
//! [`Ineligible::effect`] says and log the [`Display`](std::fmt::Display)
//! text.

use std::fmt;

use serde::Serialize;

use crate::lsn::Lsn;
use crate::score::Score;
use crate::status::DataStatus;

/// What a reason does to the node's attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Effect {
    /// Its promotion score becomes `-INFINITY`.
    Score,
    /// Its score becomes `-INFINITY` and its data-status `DISCONNECT` (forever).
    ScoreAndDisconnect,
    /// Its data-status becomes `DISCONNECT` (forever); the score is left alone.
    Disconnect,
    /// Nothing is written: its own election refuses to claim the primary role.
    NotElected,
    /// It bans itself from the resource (a location constraint) and fails.
    Ban,
}

impl Effect {
    /// The score this effect writes, if it writes one.
    pub fn score(self) -> Option<Score> {
        matches!(self, Effect::Score | Effect::ScoreAndDisconnect).then_some(Score::CAN_NOT_PROMOTE)
    }

    /// True when the data-status becomes `DISCONNECT`.
    pub fn disconnects(self) -> bool {
        matches!(self, Effect::ScoreAndDisconnect | Effect::Disconnect)
    }
}

/// Why a node is not (or no longer) promotable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Ineligible {
    /// Own score at `start`: a starting standby may not be promoted until the
    /// primary sees it streaming or it wins an election (§1.1 step 3).
    Starting,
    /// Own score at `stop` (§1.2 step 1).
    Stopping,
    /// Own score at `demote` (§1.5 step 2).
    Demoting,
    /// Own score set by a probe that finds a hot standby (§1.3 step 2,
    /// PR #1277: the primary only updates scores that exist).
    ProbedAsStandby,
    /// Set by the promoting node on every other node_list node: data-status
    /// `DISCONNECT` and `-INFINITY` until the new primary sees it streaming
    /// (§1.4 step 5).
    OtherNodePromoted {
        /// The node being promoted.
        promoted: String,
    },
    /// Set by the primary: a node_list node absent from
    /// `pg_stat_replication` (`DISCONNECT`, §4.2 step 2).
    NotReplicating,
    /// Set by the primary (issue 11): streaming as a member of a quorum
    /// commit set (`STREAMING|QUORUM`). Any one member may lack a commit the
    /// others acknowledged, so no member is promoted directly: after the
    /// primary is lost the election promotes the member with the highest
    /// position among enough members (`sync_quorum`, Patroni's rule).
    QuorumMember,
    /// Set by the primary (issue 11): the standby still has a walsender
    /// row, but it is gone — its node is offline or fenced in Pacemaker's
    /// view, or its last reply (`reply_time`) is older than
    /// `standby_reply_timeout`. Treated like an absent row, and its
    /// walsender is terminated.
    StandbyLost {
        /// Why, in words.
        detail: String,
    },
    /// Set by the primary (issue 11): its walsender still reports `sync`,
    /// `potential` or `quorum`, but `rep_mode.conf` no longer names it, so
    /// the server stops waiting for it at the next reload (or already has
    /// for new commits); shown asynchronous before that happens
    /// ([`crate::loaded_sync_set::as_after_reload`]).
    NotInSyncConfiguration {
        /// Its walsender's `sync_state` as read.
        sync_state: String,
    },
    /// Set by the primary: streaming asynchronously in sync mode, it may
    /// miss committed transactions (§4.2 table, §4.1).
    AsyncInSyncMode,
    /// Set by the primary: streaming asynchronously in async mode with three
    /// or more node_list names; which standby is newest cannot be told
    /// (§4.2 table, §4.1).
    AsyncWithManyNodes,
    /// Set by the primary: `STREAMING|POTENTIAL` (§4.2 table).
    PotentialStandby,
    /// Set by the primary: in `pg_stat_replication` but not streaming
    /// normally (`CATCHUP`, `STARTUP`, `BACKUP`, `STREAMING|QUORUM`, …;
    /// §4.2 table, "anything else").
    NotStreaming {
        /// The data-status written (`STATE|SYNC_STATE`).
        data_status: String,
    },
    /// Beyond the stock agent (docs/decision-logic.md, "Acknowledged writes
    /// and the sync handover"): a standby just made synchronous, while the
    /// primary's WAL position at the handover is not recorded yet.
    HandoverUnrecorded,
    /// Beyond the stock agent (same section): a standby just made
    /// synchronous that has not yet flushed the writes its predecessor
    /// acknowledged.
    HandoverBehind {
        /// The primary's position when the standby became synchronous.
        baseline: Lsn,
        /// The standby's `flush_lsn` in `pg_stat_replication`.
        flushed: Lsn,
    },
    /// The node's own `have_master_right` found its data-status outside the
    /// allowed set: sync allows `LATEST` and `STREAMING|SYNC`, async also
    /// `STREAMING|ASYNC`; empty is a first boot (§4.3 step 1).
    DataStatusNotAllowed {
        /// The node's data-status.
        data_status: String,
        /// `rep_mode` (`sync` or `async`).
        rep_mode: String,
    },
    /// Beyond the stock agent: the election refuses a standby that has not
    /// reached its `<rsc>-sync-baseline`, the primary's position when it
    /// became synchronous (docs/decision-logic.md, "Where it is kept").
    BelowSyncBaseline {
        /// The primary's position at the handover.
        baseline: Lsn,
        /// The node's own location.
        mine: Lsn,
    },
    /// Beyond the stock agent: the election refuses a standby whose
    /// `<rsc>-sync-baseline` is `unknown` (the primary had not recorded its
    /// position yet; same section).
    SyncBaselineUnrecorded {
        /// The attribute as read.
        value: String,
    },
    /// Beyond the stock agent (docs/reliability.md, `xlog_note.<n>`): the
    /// election's note cannot be written (e.g. tmpdir full), so the standby
    /// cannot count rounds and withholds its score until it can (the score
    /// it had is kept in `<rsc>-withheld-score`).
    ElectionNoteUnwritable,
    /// The node lost the election: another node is ahead (LSN, and beyond
    /// the stock agent the timeline), or its system identifier is
    /// outnumbered (§4.3 step 6.3; bug N in §8.2).
    LostElection {
        /// The election's words ([`crate::election::Decision::reason`]).
        detail: String,
    },
    /// Pre-promote: this standby's master-baseline is newer than the
    /// promotee's, so it bans itself and fails the notify (§4.5 step 3).
    NewerThanPromotee {
        /// The promotee's `<rsc>-master-baseline`.
        promotee: Lsn,
        /// This node's `<rsc>-master-baseline`.
        mine: Lsn,
    },
    /// Beyond the stock agent (issue 9, the role gate, [`crate::role_gate`]):
    /// the server runs as a primary but Pacemaker has not promoted this
    /// instance (a promotion outside the cluster); it takes itself out of
    /// every election. Stock §1.3 trusts `pg_is_in_recovery()` alone.
    NotPromotedByCluster,
    /// An attribute the election reads holds a value the agent does not
    /// recognise; the stock agent refuses any data-status outside the
    /// allowed set (§4.3 step 1), and pgsql-ra fails closed the same way on
    /// every value it reads (issue 9).
    UnrecognisedAttribute {
        /// The attribute's name (e.g. `pgsql-data-status`).
        attribute: String,
        /// The value found.
        value: String,
    },
}

impl Ineligible {
    /// The score a node gets for this reason: `-INFINITY`. Callers write
    /// `Ineligible::Stopping.score()` rather than the bare constant, so that
    /// every `-INFINITY` names its reason.
    pub fn score(&self) -> Score {
        debug_assert!(self.effect().score().is_some(), "{self:?} writes no score");
        Score::CAN_NOT_PROMOTE
    }

    /// The data-status a node gets for this reason: `DISCONNECT` (forever).
    pub fn disconnect(&self) -> DataStatus {
        debug_assert!(self.effect().disconnects(), "{self:?} does not disconnect");
        DataStatus::Disconnect
    }

    /// What this reason writes.
    pub fn effect(&self) -> Effect {
        match self {
            Ineligible::Starting
            | Ineligible::Stopping
            | Ineligible::Demoting
            | Ineligible::ProbedAsStandby
            | Ineligible::AsyncInSyncMode
            | Ineligible::AsyncWithManyNodes
            | Ineligible::NotInSyncConfiguration { .. }
            | Ineligible::PotentialStandby
            | Ineligible::NotStreaming { .. }
            | Ineligible::HandoverUnrecorded
            | Ineligible::HandoverBehind { .. }
            | Ineligible::ElectionNoteUnwritable => Effect::Score,
            Ineligible::OtherNodePromoted { .. }
            | Ineligible::NotReplicating
            | Ineligible::StandbyLost { .. }
            | Ineligible::NotPromotedByCluster => Effect::ScoreAndDisconnect,
            Ineligible::QuorumMember => Effect::Score,
            Ineligible::LostElection { .. } => Effect::Disconnect,
            Ineligible::DataStatusNotAllowed { .. }
            | Ineligible::BelowSyncBaseline { .. }
            | Ineligible::SyncBaselineUnrecorded { .. }
            | Ineligible::UnrecognisedAttribute { .. } => Effect::NotElected,
            Ineligible::NewerThanPromotee { .. } => Effect::Ban,
        }
    }
}

impl fmt::Display for Ineligible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ineligible::Starting => f.write_str(
                "starting as a hot standby: not promotable until the primary sees it streaming",
            ),
            Ineligible::Stopping => f.write_str("stopping"),
            Ineligible::Demoting => f.write_str("demoting"),
            Ineligible::ProbedAsStandby => f.write_str("probe found a hot standby"),
            Ineligible::OtherNodePromoted { promoted } => write!(
                f,
                "{promoted} is being promoted: its data may be behind until {promoted} sees it streaming"
            ),
            Ineligible::NotReplicating => {
                f.write_str("not in pg_stat_replication: its data may be behind")
            }
            Ineligible::StandbyLost { detail } => f.write_str(detail),
            Ineligible::QuorumMember => f.write_str(
                "a quorum commit member: it may lack commits the other members acknowledged; promoted only by the election among enough members",
            ),
            Ineligible::NotInSyncConfiguration { sync_state } => write!(
                f,
                "its walsender reports {sync_state} but rep_mode.conf does not name it: asynchronous from the reload on, it may miss committed transactions"
            ),
            Ineligible::AsyncInSyncMode => f.write_str(
                "streaming asynchronously in sync mode: it may miss committed transactions",
            ),
            Ineligible::AsyncWithManyNodes => f.write_str(
                "streaming asynchronously with three or more nodes: which standby is newest cannot be told",
            ),
            Ineligible::PotentialStandby => f.write_str(
                "potential synchronous standby: not confirmed to hold every commit",
            ),
            Ineligible::NotStreaming { data_status } => {
                write!(f, "connected but not streaming normally ({data_status})")
            }
            Ineligible::HandoverUnrecorded => f.write_str(
                "sync standby: the primary's WAL position when it became synchronous is not recorded yet",
            ),
            Ineligible::HandoverBehind { baseline, flushed } => write!(
                f,
                "sync standby has not yet flushed {} acknowledged before it became synchronous (flushed {})",
                baseline.to_pg(),
                flushed.to_pg()
            ),
            Ineligible::DataStatusNotAllowed {
                data_status,
                rep_mode,
            } => write!(
                f,
                "My data is out-of-date: data-status {data_status} does not allow a {rep_mode} standby to become primary"
            ),
            Ineligible::BelowSyncBaseline { baseline, mine } => write!(
                f,
                "My data is out-of-date: I became the synchronous standby when the primary was at {} and hold only {}",
                baseline.to_pg(),
                mine.to_pg()
            ),
            Ineligible::SyncBaselineUnrecorded { value } => write!(
                f,
                "My data may be out-of-date: I became the synchronous standby at an unrecorded primary position ({value})"
            ),
            Ineligible::ElectionNoteUnwritable => f.write_str(
                "the election note cannot be written: promotion score withheld until it can",
            ),
            Ineligible::LostElection { detail } => f.write_str(detail),
            Ineligible::NewerThanPromotee { promotee, .. } => write!(
                f,
                "My data is newer than new master's one. New master's location : {promotee}"
            ),
            Ineligible::NotPromotedByCluster => {
                f.write_str("running as primary but not promoted by the cluster")
            }
            Ineligible::UnrecognisedAttribute { attribute, value } => {
                write!(f, "unrecognised {attribute} {}", crate::quote::quoted(value))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effects_say_what_is_written() {
        assert_eq!(
            Ineligible::Starting.effect().score(),
            Some(Score::CAN_NOT_PROMOTE)
        );
        assert!(!Ineligible::Starting.effect().disconnects());
        assert!(Ineligible::NotReplicating.effect().disconnects());
        assert!(Ineligible::OtherNodePromoted {
            promoted: "node1".into()
        }
        .effect()
        .disconnects());
        let lost = Ineligible::LostElection {
            detail: "behind".into(),
        };
        assert_eq!(lost.effect(), Effect::Disconnect);
        assert_eq!(lost.effect().score(), None);
        assert_eq!(
            Ineligible::NewerThanPromotee {
                promotee: Lsn(1),
                mine: Lsn(2)
            }
            .effect(),
            Effect::Ban
        );
    }

    #[test]
    fn serializes_with_a_reason_tag() {
        let v = serde_json::to_value(Ineligible::HandoverBehind {
            baseline: Lsn(0x0500_0060),
            flushed: Lsn(0x0500_0000),
        })
        .expect("serializes");
        assert_eq!(v["reason"], "handover_behind");
        assert_eq!(v["baseline"], "0000000005000060");
        let v = serde_json::to_value(Ineligible::UnrecognisedAttribute {
            attribute: "pgsql-data-status".into(),
            value: "disconnect".into(),
        })
        .expect("serializes");
        assert_eq!(v["reason"], "unrecognised_attribute");
        assert_eq!(v["value"], "disconnect");
    }
}
