//! The `notify` decisions (stock §1.6, §4.5): what a notification does for
//! its (type, operation), and the pre-promote data check. Node names are
//! compared exactly and over the whole list (bugs J and K, §8.2).
//!
//! | type / operation | condition | action |
//! |---|---|---|
//! | any | rep_mode none/slave | nothing |
//! | pre / promote | – | the pre-promote check ([`pre_promote`]) |
//! | post / promote | – | delete own xlog-loc and xlog-tli; own master-baseline too unless I am the promotee |
//! | post / demote | I am neither demoted nor primary | record own master-baseline, `HS:alone` |
//! | post / start, post / stop | I am the primary | `control_slave_status` (errors logged only) |
//! | anything else | – | nothing |

use serde::Serialize;

use crate::context::NotifyLists;
use crate::election::Origin;
use crate::ineligible::Ineligible;
use crate::lsn::Lsn;
use crate::params::RepMode;
use crate::superset::holds_all_by_history;
use crate::timeline::HistoryEntry;

/// What a notification does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum NotifyAction {
    /// Nothing; succeed.
    Nothing,
    /// Run the pre-promote data check ([`pre_promote`]).
    PrePromoteCheck,
    /// Forget the election: delete own `<rsc>-xlog-loc` and `<rsc>-xlog-tli`,
    /// and own `<rsc>-master-baseline` when `delete_master_baseline`.
    ForgetElection {
        /// True on every node but the promotee.
        delete_master_baseline: bool,
    },
    /// A survivor of a demote: record own `<rsc>-master-baseline` and set
    /// own `<rsc>-status` to `HS:alone` (errors logged only).
    RecordBaseline,
    /// The primary after a standby started or stopped: run
    /// `control_slave_status` (errors logged only).
    ControlStandbys,
}

/// Why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum NotifyReason {
    /// Not a replication mode (§1.6: returns 0 at once).
    NotReplication,
    /// pre-promote (§4.5).
    PrePromote,
    /// post-promote (§1.6, §3.4, §3.5).
    PostPromote {
        /// True when this node is the promotee.
        promotee: bool,
    },
    /// post-demote on a node that is neither demoted nor primary (§1.6).
    DemoteSurvivor,
    /// post-demote on the demoted node or on a primary (§1.6).
    DemoteInvolved,
    /// post-start/post-stop on the primary (§1.6).
    StandbyChangedOnPrimary,
    /// Any other notification, or one that does not concern this node.
    NotMine {
        /// `notify_type`.
        kind: String,
        /// `notify_operation`.
        operation: String,
    },
}

/// A notification's action and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotifyDecision {
    /// What to do.
    pub action: NotifyAction,
    /// Why.
    pub reason: NotifyReason,
}

/// Decides what `notify` does on `local` (the table in the module doc).
pub fn notify_decision(rep_mode: RepMode, local: &str, lists: &NotifyLists) -> NotifyDecision {
    let decision = |action, reason| NotifyDecision { action, reason };
    if !rep_mode.is_replication() {
        return decision(NotifyAction::Nothing, NotifyReason::NotReplication);
    }
    let has = |list: &[String]| list.iter().any(|n| n == local);
    match (lists.kind.as_str(), lists.operation.as_str()) {
        ("pre", "promote") => decision(NotifyAction::PrePromoteCheck, NotifyReason::PrePromote),
        ("post", "promote") => {
            let promotee = has(&lists.promote);
            decision(
                NotifyAction::ForgetElection {
                    delete_master_baseline: !promotee,
                },
                NotifyReason::PostPromote { promotee },
            )
        }
        ("post", "demote") if !has(&lists.demote) && !has(&lists.promoted) => {
            decision(NotifyAction::RecordBaseline, NotifyReason::DemoteSurvivor)
        }
        ("post", "demote") => decision(NotifyAction::Nothing, NotifyReason::DemoteInvolved),
        ("post", "start") | ("post", "stop") if has(&lists.promoted) => decision(
            NotifyAction::ControlStandbys,
            NotifyReason::StandbyChangedOnPrimary,
        ),
        (kind, operation) => decision(
            NotifyAction::Nothing,
            NotifyReason::NotMine {
                kind: kind.to_string(),
                operation: operation.to_string(),
            },
        ),
    }
}

/// What the pre-promote check knows so far. The baselines are read lazily,
/// in order, as the decision asks for them: `None` means "not read yet",
/// `Some(None)` "read, but absent or unparsable".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrePromoteInput {
    /// `rep_mode`.
    pub rep_mode: RepMode,
    /// The number of node_list names.
    pub node_list_len: usize,
    /// The local node.
    pub local: String,
    /// The first name of `notify_promote_uname`, if any.
    pub promotee: Option<String>,
    /// The promotee's `<rsc>-master-baseline`.
    pub theirs: Option<Option<Lsn>>,
    /// This node's `<rsc>-master-baseline`.
    pub mine: Option<Option<Lsn>>,
    /// The promotee's `<rsc>-baseline-origin` (issue 11), recorded with its
    /// master-baseline.
    pub their_origin: Option<Option<Origin>>,
    /// This node's `<rsc>-baseline-origin`.
    pub my_origin: Option<Option<Origin>>,
    /// This node's own data-status is `STREAMING|…`: the primary saw it
    /// stream, so post-demote should have recorded its master-baseline.
    /// Only such a standby reads its end of WAL from the data directory
    /// when that baseline is missing, and only such a standby takes over
    /// (never the demoted old primary, `LATEST`, nor a `DISCONNECT`
    /// standby: a take-over scores it 1000).
    pub i_streamed: bool,
    /// Issue 11 item 4: when this node has no master-baseline (its server
    /// did not answer at post-demote: hung), its end of WAL and origin read
    /// from the data directory without SQL (`pg_controldata`,
    /// `pg_waldump`); `Some(None)` when those cannot tell either.
    pub my_wal_end: Option<Option<(Lsn, Origin)>>,
    /// Issue 11 item 4: this node's own history file (the timeline of its
    /// origin), read only when that timeline is newer than the promotee's;
    /// `Some(None)` when unreadable.
    pub my_history: Option<Option<Vec<HistoryEntry>>>,
}

/// The next step of the pre-promote check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PrePromoteAction {
    /// Read the promotee's master-baseline into [`PrePromoteInput::theirs`].
    ReadPromoteeBaseline,
    /// Read the own master-baseline into [`PrePromoteInput::mine`].
    ReadOwnBaseline,
    /// Read the promotee's baseline-origin into [`PrePromoteInput::their_origin`].
    ReadPromoteeOrigin,
    /// Read the own baseline-origin into [`PrePromoteInput::my_origin`].
    ReadOwnOrigin,
    /// Read the own end of WAL and origin from the data directory into
    /// [`PrePromoteInput::my_wal_end`].
    ReadOwnWalEnd,
    /// Read the own history file into [`PrePromoteInput::my_history`].
    ReadOwnHistory,
    /// Issue 11 (B2-14): this standby holds the promotee's WAL and more on
    /// the same history: take over — own score 1000, the promotee's
    /// `-INFINITY` (Pacemaker aborts the transition on the score change and
    /// promotes this node instead) — and let the notify succeed.
    TakeOver,
    /// Let the promotion go on (succeed).
    Allow,
    /// Ban this node from the resource and fail the notify (exit 1).
    BanMyself,
}

/// Why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum PrePromoteReason {
    /// No promotee is named.
    NoPromotee,
    /// The check runs only with ≥ 3 node_list names (§4.5).
    FewerThanThreeNodes,
    /// The check runs only in sync mode (§4.5).
    NotSyncMode,
    /// This node is the promotee (§4.5).
    IAmThePromotee,
    /// A baseline has not been read yet.
    Reading,
    /// The promotee's baseline cannot be read: the check is skipped (§4.5 step 1).
    PromoteeBaselineUnreadable {
        /// The promotee.
        promotee: String,
    },
    /// My baseline is not newer (or I have none: it sorts first, §4.5 step 4).
    NotNewer,
    /// My baseline is newer than the promotee's (§4.5 step 3) and my
    /// history is not known to be the promotee's: I may have diverged.
    Newer(Ineligible),
    /// Issue 11 item 4: I have no master-baseline; my end of WAL read from
    /// the data directory is past the promotee's baseline, but my history
    /// is not shown to hold all of the promotee's. Never a ban on this
    /// evidence (the stock check would have skipped me): allowed.
    NewerUnverified {
        /// The promotee.
        promotee: String,
        /// The promotee's master-baseline.
        theirs: Lsn,
        /// My end of WAL.
        mine: Lsn,
    },
    /// Issue 11: my WAL holds all of the promotee's and more, but my own
    /// data-status is not `STREAMING|…` (`DISCONNECT` stays ineligible):
    /// no take-over, and no ban for being ahead on the same history.
    AheadNotStreaming {
        /// The promotee.
        promotee: String,
        /// The promotee's master-baseline.
        theirs: Lsn,
        /// My position.
        mine: Lsn,
    },
    /// Issue 11: my position is past the promotee's and my WAL holds all
    /// of the promotee's ([`holds_all_by_history`]: the same system, and
    /// the same timeline and switch point, or a newer timeline whose
    /// history, my own history file, passes through the promotee's
    /// position): every acknowledged commit and more.
    AheadOnSameHistory {
        /// The promotee.
        promotee: String,
        /// The promotee's master-baseline.
        theirs: Lsn,
        /// Mine.
        mine: Lsn,
        /// My origin.
        origin: Origin,
    },
}

/// The next step of the pre-promote check, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrePromoteDecision {
    /// What to do.
    pub action: PrePromoteAction,
    /// Why.
    pub reason: PrePromoteReason,
}

/// Decides the next step of the pre-promote data check (stock §4.5): with
/// ≥ 3 nodes in sync mode, a standby other than the promotee whose
/// master-baseline is newer than the promotee's bans itself and fails —
/// unless (issue 11, B2-14) its WAL holds all of the promotee's
/// ([`holds_all_by_history`] over the origins recorded with the baselines,
/// `<rsc>-baseline-origin`, and, when this node is on a newer timeline, its
/// own history file): then it holds every commit the promotee held (every
/// acknowledged one) and more, and it takes over instead of being banned
/// for being ahead. An origin that is absent or unparsable on either side,
/// or an unreadable history, keeps the stock ban (the histories cannot be
/// compared).
///
/// Issue 11 item 4: a streaming standby (own data-status `STREAMING|…`)
/// without a master-baseline (its server did not answer at post-demote)
/// is no longer taken for "not newer" at once: its
/// end of WAL is read from the data directory; past the promotee's
/// baseline and holding all of it, it takes over; otherwise the promotion
/// goes on (never a ban on this evidence).
pub fn pre_promote(input: &PrePromoteInput) -> PrePromoteDecision {
    let decision = |action, reason| PrePromoteDecision { action, reason };
    let allow = |reason| decision(PrePromoteAction::Allow, reason);
    let read = |action| decision(action, PrePromoteReason::Reading);
    let Some(promotee) = input.promotee.as_deref() else {
        return allow(PrePromoteReason::NoPromotee);
    };
    if input.node_list_len < 3 {
        return allow(PrePromoteReason::FewerThanThreeNodes);
    }
    if input.rep_mode != RepMode::Sync {
        return allow(PrePromoteReason::NotSyncMode);
    }
    if promotee == input.local {
        return allow(PrePromoteReason::IAmThePromotee);
    }
    let theirs = match input.theirs {
        None => return read(PrePromoteAction::ReadPromoteeBaseline),
        Some(None) => {
            return allow(PrePromoteReason::PromoteeBaselineUnreadable {
                promotee: promotee.to_string(),
            })
        }
        Some(Some(l)) => l,
    };
    // Mine: the master-baseline (stock), else the end of WAL read from the
    // data directory (issue 11 item 4), which carries its own origin.
    let (mine, from_wal) = match (input.mine, &input.my_wal_end) {
        (None, _) => return read(PrePromoteAction::ReadOwnBaseline),
        (Some(Some(mine)), _) => (mine, None),
        (Some(None), _) if !input.i_streamed => return allow(PrePromoteReason::NotNewer),
        (Some(None), None) => return read(PrePromoteAction::ReadOwnWalEnd),
        (Some(None), Some(None)) => return allow(PrePromoteReason::NotNewer),
        (Some(None), Some(Some((mine, origin)))) => (*mine, Some(*origin)),
    };
    if mine <= theirs {
        return allow(PrePromoteReason::NotNewer);
    }
    let their_origin = match input.their_origin {
        None => return read(PrePromoteAction::ReadPromoteeOrigin),
        Some(o) => o,
    };
    let my_origin = match (from_wal, input.my_origin) {
        (Some(o), _) => Some(o),
        (None, None) => return read(PrePromoteAction::ReadOwnOrigin),
        (None, Some(o)) => o,
    };
    let holds = match (their_origin, my_origin) {
        (Some(t), Some(m)) => {
            let history = if m.timeline > t.timeline && m.system_id == t.system_id {
                match &input.my_history {
                    None => return read(PrePromoteAction::ReadOwnHistory),
                    Some(h) => h.as_deref(),
                }
            } else {
                None
            };
            holds_all_by_history((mine, m), history, (theirs, t)).then_some(m)
        }
        _ => None,
    };
    match (holds, from_wal) {
        // Ahead on the same history but not promotable (DISCONNECT, LATEST:
        // the primary did not see it stream): neither a take-over, which
        // would score an ineligible node 1000, nor a ban for being ahead.
        (Some(_), _) if !input.i_streamed => allow(PrePromoteReason::AheadNotStreaming {
            promotee: promotee.to_string(),
            theirs,
            mine,
        }),
        (Some(origin), _) => decision(
            PrePromoteAction::TakeOver,
            PrePromoteReason::AheadOnSameHistory {
                promotee: promotee.to_string(),
                theirs,
                mine,
                origin,
            },
        ),
        (None, Some(_)) => allow(PrePromoteReason::NewerUnverified {
            promotee: promotee.to_string(),
            theirs,
            mine,
        }),
        (None, None) => decision(
            PrePromoteAction::BanMyself,
            PrePromoteReason::Newer(Ineligible::NewerThanPromotee {
                promotee: theirs,
                mine,
            }),
        ),
    }
}

/// One other standby as the promotee sees it at its own pre-promote
/// notification (issue 11 item 4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StandbyAhead {
    /// The node.
    pub node: String,
    /// Its instance is active and Unpromoted (`notify_unpromoted_uname`).
    pub active: bool,
    /// Its data-status is `STREAMING|…` (the primary saw it stream).
    pub streaming: bool,
    /// Its published election location and origin (`<rsc>-xlog-loc`,
    /// `<rsc>-xlog-tli`), both readable and recognised.
    pub location: Option<(Lsn, Origin)>,
}

/// Issue 11 item 4, the promotee's side: the standby to yield the
/// promotion to, if any. When the node being promoted published nothing
/// the others can compare (no master-baseline, no election location: an
/// operator made its data-status unrecognised, so it took no part in the
/// election while its score still stood), only it can compare itself with
/// the others. It yields to an active, streaming standby whose published
/// location holds all of its own WAL and more ([`holds_all_by_history`]
/// without a history: the same system, timeline and switch point, further);
/// the highest such location wins, ties in the given (node_list) order.
/// Anything unknown (own position or origin, theirs) yields to nobody.
pub fn promotee_yields_to(mine: Option<(Lsn, Origin)>, others: &[StandbyAhead]) -> Option<String> {
    let (my_lsn, my_origin) = mine?;
    let mut best: Option<(&str, Lsn)> = None;
    for o in others {
        let Some((lsn, origin)) = o.location else {
            continue;
        };
        if !(o.active && o.streaming) || lsn <= my_lsn {
            continue;
        }
        if !holds_all_by_history((lsn, origin), None, (my_lsn, my_origin)) {
            continue;
        }
        if best.is_none_or(|(_, b)| lsn > b) {
            best = Some((o.node.as_str(), lsn));
        }
    }
    best.map(|(n, _)| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists(kind: &str, op: &str, pairs: &[(&str, &[&str])]) -> NotifyLists {
        let mut l = NotifyLists {
            kind: kind.into(),
            operation: op.into(),
            ..NotifyLists::default()
        };
        for (name, nodes) in pairs {
            let v: Vec<String> = nodes.iter().map(|n| n.to_string()).collect();
            match *name {
                "promote" => l.promote = v,
                "demote" => l.demote = v,
                "promoted" => l.promoted = v,
                _ => unreachable!(),
            }
        }
        l
    }

    #[test]
    fn each_notification_has_its_action() {
        let d = |l: &NotifyLists, local: &str| notify_decision(RepMode::Sync, local, l).action;
        let pre = lists("pre", "promote", &[("promote", &["node2"])]);
        assert_eq!(d(&pre, "node3"), NotifyAction::PrePromoteCheck);
        let post = lists("post", "promote", &[("promote", &["node2"])]);
        assert_eq!(
            d(&post, "node2"),
            NotifyAction::ForgetElection {
                delete_master_baseline: false
            }
        );
        assert_eq!(
            d(&post, "node3"),
            NotifyAction::ForgetElection {
                delete_master_baseline: true
            }
        );
        let demote = lists(
            "post",
            "demote",
            &[("demote", &["node1"]), ("promoted", &["node1"])],
        );
        assert_eq!(d(&demote, "node2"), NotifyAction::RecordBaseline);
        assert_eq!(d(&demote, "node1"), NotifyAction::Nothing);
        // Exact names: node1 does not match node10 (bug J).
        assert_eq!(d(&demote, "node10"), NotifyAction::RecordBaseline);
        for op in ["start", "stop"] {
            let l = lists("post", op, &[("promoted", &["node1"])]);
            assert_eq!(d(&l, "node1"), NotifyAction::ControlStandbys);
            assert_eq!(d(&l, "node2"), NotifyAction::Nothing);
            assert_eq!(d(&lists("pre", op, &[]), "node1"), NotifyAction::Nothing);
        }
        assert_eq!(
            notify_decision(RepMode::None, "node1", &pre),
            NotifyDecision {
                action: NotifyAction::Nothing,
                reason: NotifyReason::NotReplication
            }
        );
    }

    fn input(
        local: &str,
        theirs: Option<Option<u64>>,
        mine: Option<Option<u64>>,
    ) -> PrePromoteInput {
        PrePromoteInput {
            rep_mode: RepMode::Sync,
            node_list_len: 3,
            local: local.into(),
            promotee: Some("node2".into()),
            theirs: theirs.map(|t| t.map(Lsn)),
            mine: mine.map(|m| m.map(Lsn)),
            their_origin: None,
            my_origin: None,
            i_streamed: true,
            my_wal_end: None,
            my_history: None,
        }
    }

    #[test]
    fn pre_promote_applies_only_to_other_standbys_of_three_node_sync_clusters() {
        let mut i = input("node3", None, None);
        assert_eq!(
            pre_promote(&i).action,
            PrePromoteAction::ReadPromoteeBaseline
        );
        i.node_list_len = 2;
        assert_eq!(
            pre_promote(&i).reason,
            PrePromoteReason::FewerThanThreeNodes
        );
        i.node_list_len = 3;
        i.rep_mode = RepMode::Async;
        assert_eq!(pre_promote(&i).reason, PrePromoteReason::NotSyncMode);
        let i = input("node2", None, None);
        assert_eq!(pre_promote(&i).reason, PrePromoteReason::IAmThePromotee);
        let i = PrePromoteInput {
            promotee: None,
            ..input("node3", None, None)
        };
        assert_eq!(pre_promote(&i).reason, PrePromoteReason::NoPromotee);
    }

    #[test]
    fn pre_promote_bans_only_a_newer_standby() {
        let step = |t, m| pre_promote(&input("node3", t, m));
        assert_eq!(
            step(Some(None), None).reason,
            PrePromoteReason::PromoteeBaselineUnreadable {
                promotee: "node2".into()
            }
        );
        assert_eq!(
            step(Some(Some(0x50)), None).action,
            PrePromoteAction::ReadOwnBaseline
        );
        // No own baseline (issue 11 item 4): the end of WAL is read from
        // the data directory before anything is concluded.
        assert_eq!(
            step(Some(Some(0x50)), Some(None)).action,
            PrePromoteAction::ReadOwnWalEnd
        );
        // Not a streaming standby (the demoted old primary, a DISCONNECT
        // standby): no baseline is not newer, as in the stock agent.
        let not_streamed = PrePromoteInput {
            i_streamed: false,
            ..input("node3", Some(Some(0x50)), Some(None))
        };
        assert_eq!(
            pre_promote(&not_streamed).reason,
            PrePromoteReason::NotNewer
        );
        // Ahead on the same history but not streaming (DISCONNECT): no
        // take-over (it would score an ineligible node 1000), no ban.
        let tl = Origin {
            timeline: 2,
            system_id: 7,
            switch_point: None,
        };
        let d = pre_promote(&PrePromoteInput {
            i_streamed: false,
            their_origin: Some(Some(tl)),
            my_origin: Some(Some(tl)),
            ..input("node3", Some(Some(0x50)), Some(Some(0x60)))
        });
        assert_eq!(
            d.reason,
            PrePromoteReason::AheadNotStreaming {
                promotee: "node2".into(),
                theirs: Lsn(0x50),
                mine: Lsn(0x60),
            }
        );
        assert_eq!(d.action, PrePromoteAction::Allow);
        assert_eq!(
            step(Some(Some(0x50)), Some(Some(0x50))).action,
            PrePromoteAction::Allow
        );
        assert_eq!(
            step(Some(Some(0x50)), Some(Some(0x60))).action,
            PrePromoteAction::ReadPromoteeOrigin
        );
        let with = |t: Option<Origin>, m: Option<Option<Origin>>| {
            pre_promote(&PrePromoteInput {
                their_origin: Some(t),
                my_origin: m,
                ..input("node3", Some(Some(0x50)), Some(Some(0x60)))
            })
        };
        let tl2 = Origin {
            timeline: 2,
            system_id: 7,
            switch_point: Some(Lsn(0x40)),
        };
        assert_eq!(
            with(Some(tl2), None).action,
            PrePromoteAction::ReadOwnOrigin
        );
        // Another switch point, another system, or an unknown origin: the
        // histories cannot be shown to be the same: the stock ban.
        let forked = Origin {
            switch_point: Some(Lsn(0x30)),
            ..tl2
        };
        let other_system = Origin {
            system_id: 8,
            ..tl2
        };
        for (t, m) in [
            (Some(tl2), Some(Some(forked))),
            (Some(tl2), Some(Some(other_system))),
            (None, Some(Some(tl2))),
            (Some(tl2), Some(None)),
        ] {
            let d = with(t, m);
            assert_eq!(d.action, PrePromoteAction::BanMyself, "{t:?} {m:?}");
            let PrePromoteReason::Newer(why) = &d.reason else {
                panic!("{d:?}")
            };
            assert_eq!(
                why.to_string(),
                "My data is newer than new master's one. New master's location : 0000000000000050"
            );
            assert_eq!(why.effect(), crate::ineligible::Effect::Ban);
        }
        // The same history: take over, nobody banned (issue 11, B2-14).
        let d = with(Some(tl2), Some(Some(tl2)));
        assert_eq!(d.action, PrePromoteAction::TakeOver);
        assert_eq!(
            d.reason,
            PrePromoteReason::AheadOnSameHistory {
                promotee: "node2".into(),
                theirs: Lsn(0x50),
                mine: Lsn(0x60),
                origin: tl2,
            }
        );
        // Not newer: allowed before any origin is read.
        assert_eq!(
            step(Some(Some(0x60)), Some(Some(0x50))).action,
            PrePromoteAction::Allow
        );
    }

    /// Issue 11 item 4: a standby whose server did not answer at
    /// post-demote (no master-baseline) reads its end of WAL from the data
    /// directory; ahead on the same history it takes over; ahead on an
    /// unproven history or unreadable it lets the promotion go on (never a
    /// ban on this evidence).
    #[test]
    fn pre_promote_without_own_baseline_reads_the_wal_end() {
        let tl2 = Origin {
            timeline: 2,
            system_id: 7,
            switch_point: None,
        };
        let with = |wal_end: Option<Option<(u64, Origin)>>, their: Option<Origin>| {
            pre_promote(&PrePromoteInput {
                my_wal_end: wal_end.map(|w| w.map(|(l, o)| (Lsn(l), o))),
                their_origin: Some(their),
                ..input("node3", Some(Some(0x50)), Some(None))
            })
        };
        assert_eq!(
            with(Some(None), Some(tl2)).reason,
            PrePromoteReason::NotNewer
        );
        assert_eq!(
            with(Some(Some((0x50, tl2))), Some(tl2)).reason,
            PrePromoteReason::NotNewer
        );
        // Ahead: the promotee's origin is read; the own comes with the WAL end.
        let d = pre_promote(&PrePromoteInput {
            my_wal_end: Some(Some((Lsn(0x60), tl2))),
            ..input("node3", Some(Some(0x50)), Some(None))
        });
        assert_eq!(d.action, PrePromoteAction::ReadPromoteeOrigin);
        let d = with(Some(Some((0x60, tl2))), Some(tl2));
        assert_eq!(d.action, PrePromoteAction::TakeOver);
        assert_eq!(
            d.reason,
            PrePromoteReason::AheadOnSameHistory {
                promotee: "node2".into(),
                theirs: Lsn(0x50),
                mine: Lsn(0x60),
                origin: tl2,
            }
        );
        // Another switch point or no promotee origin: allowed, not banned.
        let forked = Origin {
            switch_point: Some(Lsn(0x30)),
            ..tl2
        };
        for (mine, theirs) in [(forked, Some(tl2)), (tl2, None)] {
            let d = with(Some(Some((0x60, mine))), theirs);
            assert_eq!(d.action, PrePromoteAction::Allow, "{mine:?} {theirs:?}");
            assert_eq!(
                d.reason,
                PrePromoteReason::NewerUnverified {
                    promotee: "node2".into(),
                    theirs: Lsn(0x50),
                    mine: Lsn(0x60),
                }
            );
        }
    }

    /// Issue 11 item 4: on a newer timeline than the promotee's, the own
    /// history file decides; unreadable, the stock ban stays.
    #[test]
    fn pre_promote_on_a_newer_timeline_compares_my_history() {
        let tl1 = Origin {
            timeline: 1,
            system_id: 7,
            switch_point: None,
        };
        let tl2 = Origin {
            timeline: 2,
            system_id: 7,
            switch_point: None,
        };
        let with = |history: Option<Option<Vec<HistoryEntry>>>| {
            pre_promote(&PrePromoteInput {
                their_origin: Some(Some(tl1)),
                my_origin: Some(Some(tl2)),
                my_history: history,
                ..input("node3", Some(Some(0x50)), Some(Some(0x60)))
            })
        };
        assert_eq!(with(None).action, PrePromoteAction::ReadOwnHistory);
        let line = |sp| HistoryEntry {
            parent: 1,
            switch_point: Lsn(sp),
        };
        assert_eq!(
            with(Some(Some(vec![line(0x50)]))).action,
            PrePromoteAction::TakeOver
        );
        // The promotee's timeline-1 WAL goes past where mine left it.
        assert_eq!(
            with(Some(Some(vec![line(0x48)]))).action,
            PrePromoteAction::BanMyself
        );
        assert_eq!(with(Some(None)).action, PrePromoteAction::BanMyself);
        // The same timeline needs no history.
        let d = pre_promote(&PrePromoteInput {
            their_origin: Some(Some(tl2)),
            my_origin: Some(Some(tl2)),
            ..input("node3", Some(Some(0x50)), Some(Some(0x60)))
        });
        assert_eq!(d.action, PrePromoteAction::TakeOver);
    }

    /// Issue 11 item 4: the promotee yields only to an active, streaming
    /// standby whose published location holds all of its WAL and more.
    #[test]
    fn the_promotee_yields_only_to_a_streaming_superset() {
        let tl2 = Origin {
            timeline: 2,
            system_id: 7,
            switch_point: None,
        };
        let other = |node: &str, active, streaming, loc: Option<(u64, Origin)>| StandbyAhead {
            node: node.into(),
            active,
            streaming,
            location: loc.map(|(l, o)| (Lsn(l), o)),
        };
        let mine = Some((Lsn(0x50), tl2));
        assert_eq!(
            promotee_yields_to(
                mine,
                &[
                    other("node1", true, true, Some((0x60, tl2))),
                    other("node3", true, true, Some((0x70, tl2))),
                    other("node4", true, true, Some((0x70, tl2))),
                ]
            ),
            Some("node3".into())
        );
        let forked = Origin {
            switch_point: Some(Lsn(0x30)),
            ..tl2
        };
        let tl3 = Origin { timeline: 3, ..tl2 };
        for o in [
            other("node3", false, true, Some((0x70, tl2))),
            other("node3", true, false, Some((0x70, tl2))),
            other("node3", true, true, None),
            other("node3", true, true, Some((0x50, tl2))),
            other("node3", true, true, Some((0x70, forked))),
            // A newer timeline needs that node's own history: not here.
            other("node3", true, true, Some((0x70, tl3))),
        ] {
            assert_eq!(
                promotee_yields_to(mine, std::slice::from_ref(&o)),
                None,
                "{o:?}"
            );
        }
        assert_eq!(
            promotee_yields_to(None, &[other("node3", true, true, Some((0x70, tl2)))]),
            None
        );
    }
}
