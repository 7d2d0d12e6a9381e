//! `control_slave_status` (stock §4.2): on the primary, turn the rows of
//! `pg_stat_replication` into each standby's data-status, promotion score
//! and `<rsc>-status`, and decide the synchronous standby (sync mode). A pure
//! function: the caller applies the decisions through the attribute guards
//! and rewrites `rep_mode.conf`.
//!
//! Beyond the stock agent: a standby that has just been made synchronous
//! gets 100 only once its `flush_lsn` reaches the primary's WAL position at
//! the handover ([`SyncBaseline`], kept in `<tmpdir>/sync_baseline`), so
//! that writes its predecessor acknowledged are not lost by promoting it.

use std::time::Duration;

use serde::Serialize;

use crate::ineligible::Ineligible;
use crate::loaded_sync_set::{
    as_after_change, as_after_reload, merge_duplicate_rows, names_in_force, unsettled,
};
use crate::lsn::Lsn;
use crate::params::RepMode;
use crate::ports::ReplicationRow;
use crate::score::Score;
use crate::status::{DataStatus, PgStatus};

/// What the primary decides for one standby of node_list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StandbyDecision {
    /// The standby's node name.
    pub node: String,
    /// Its new `<rsc>-data-status`.
    #[serde(serialize_with = "as_text")]
    pub data_status: DataStatus,
    /// Its new promotion score.
    #[serde(serialize_with = "as_text")]
    pub score: Score,
    /// Its new `<rsc>-status`, or `None` to leave it unchanged (disconnected).
    pub status: Option<String>,
    /// Why, in words.
    pub reason: String,
    /// Why it may not be promoted, when its score is `-INFINITY`.
    pub ineligible: Option<Ineligible>,
}

/// A new content for `rep_mode.conf` (followed by a reload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncChange {
    /// The synchronous standbys to configure (empty: all asynchronous).
    pub names: Vec<String>,
    /// Issue 11: `Some(k)` for a quorum commit line `ANY k (names)`.
    pub quorum: Option<u32>,
    /// Why, in words.
    pub reason: String,
}

/// The handover baseline: the primary's WAL position when it made `names`
/// synchronous. Every write acknowledged before that moment is at or below
/// `lsn`; the new synchronous standbys must have flushed it before they can
/// be promoted. Stored by the primary in `<tmpdir>/sync_baseline` as one
/// line, `<LSN|unknown> <name>...`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncBaseline {
    /// The primary's position, `None` until it has been read after the reload.
    pub lsn: Option<Lsn>,
    /// The names added to `synchronous_standby_names` that still wait.
    pub names: Vec<String>,
}

/// The file (in tmpdir) that keeps the [`SyncBaseline`].
pub const BASELINE_FILE: &str = "sync_baseline";

impl SyncBaseline {
    /// Parses the file; `None` for an empty or unreadable content.
    pub fn parse(text: &str) -> Option<SyncBaseline> {
        let mut words = text.split_whitespace();
        let lsn = match words.next()? {
            "unknown" => None,
            w => Some(w.parse::<Lsn>().ok()?),
        };
        let names: Vec<String> = words.map(str::to_string).collect();
        (!names.is_empty()).then_some(SyncBaseline { lsn, names })
    }

    /// The file content.
    pub fn render(&self) -> String {
        let lsn = self.lsn.map_or("unknown".to_string(), |l| l.to_attr());
        format!("{lsn} {}\n", self.names.join(" "))
    }
}

/// Everything one `control_slave_status` run decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControlDecision {
    /// One decision per other node of node_list, in list order.
    pub standbys: Vec<StandbyDecision>,
    /// The new synchronous standby configuration, if it changes.
    pub sync_change: Option<SyncChange>,
    /// True when a standby was just made synchronous: check again shortly.
    pub recheck: bool,
    /// The handover baseline to keep after this run (`None`: remove it). A
    /// baseline with `lsn: None` is recorded with the primary's position
    /// read after the reload.
    pub baseline: Option<SyncBaseline>,
    /// Issue 11: the application_names whose walsender to terminate, after
    /// their attributes are written and after the reload that removed them
    /// from `synchronous_standby_names` (in that order): standbys that are
    /// gone although their row remains ([`lost_standbys`]).
    pub terminate: Vec<String>,
    /// Issue 11: why the server does not (yet) run `rep_mode.conf`'s set
    /// ([`crate::loaded_sync_set::unsettled`]); empty when it does. While
    /// not empty, the handover baseline's position is not recorded.
    pub unsettled: Vec<String>,
}

/// What the decision function needs to know.
#[derive(Debug, Clone, Copy)]
pub struct ControlInput<'a> {
    /// `rep_mode` (sync or async).
    pub rep_mode: RepMode,
    /// node_list, lower-cased, in order.
    pub node_list: &'a [String],
    /// The local (primary) node.
    pub local: &'a str,
    /// `external_standby_node_list` (sync mode only).
    pub external: &'a [String],
    /// The rows of `pg_stat_replication`.
    pub rows: &'a [ReplicationRow],
    /// The names `rep_mode.conf` currently makes synchronous.
    pub current_sync: &'a [String],
    /// The handover baseline stored by the previous runs, if any.
    pub baseline: Option<&'a SyncBaseline>,
    /// Issue 11: node_list nodes the cluster shows offline (down, fenced).
    pub offline: &'a [String],
    /// Issue 11: node_list nodes online whose instance of this resource
    /// Pacemaker shows stopped ([`crate::ports::InstanceState::Stopped`];
    /// never an unknown one).
    pub instance_stopped: &'a [String],
    /// Issue 11: `standby_reply_timeout` (`None`: disabled).
    pub reply_timeout: Option<Duration>,
    /// Issue 11: `sync_quorum` (0: one synchronous standby, stock).
    pub quorum: u32,
    /// Issue 11: the `k` of `rep_mode.conf` when it holds `ANY k (...)`.
    pub current_quorum: Option<u32>,
    /// Issue 11: how long the oldest commit has been waiting for
    /// synchronous replication (`pg_stat_activity.wait_event = 'SyncRep'`;
    /// `None`: none waits, or it could not be seen). See [`SYNC_WAIT_GRACE`].
    pub sync_wait_age: Option<Duration>,
}

/// Issue 11 (B2-04's write stall): a commit that has waited this long for
/// synchronous replication while a synchronous standby sent no reply since
/// that commit began waiting shows the standby is gone, without waiting
/// for `standby_reply_timeout`. A healthy standby replies as soon as it has
/// written WAL (walreceiver: a reply whenever its write or flush position
/// moves, PostgreSQL documentation, `wal_receiver_status_interval`), so a
/// second of silence under a waiting commit is far beyond its normal
/// round trip; an idle standby is never judged by this rule (no commit
/// waits), only by `standby_reply_timeout`.
pub const SYNC_WAIT_GRACE: Duration = Duration::from_secs(1);

fn as_text<T: std::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

/// Issue 11: the standbys whose walsender row remains although they are
/// gone, with why: a node_list node the cluster shows offline (down,
/// fenced) or online with its instance stopped (a server Pacemaker does
/// not run there, e.g. left running by an operator after a ban), or any standby (node_list or external) whose last reply
/// (`reply_time`, PostgreSQL ≥ 12) is older than `standby_reply_timeout`.
/// A frozen host or a link lost without a TCP reset keeps its row
/// `streaming` (and `sync`) until `wal_sender_timeout`, and every commit
/// waits for it meanwhile; a healthy standby replies at least every
/// `wal_receiver_status_interval`, idle or not.
pub fn lost_standbys(input: &ControlInput<'_>) -> Vec<(String, String)> {
    let mut lost: Vec<(String, String)> = Vec::new();
    for r in input.rows {
        let name = &r.application_name;
        if name == input.local || lost.iter().any(|(n, _)| n == name) {
            continue;
        }
        let ours = input.node_list.contains(name);
        if !ours && !input.external.contains(name) {
            continue;
        }
        if ours && input.offline.contains(name) {
            lost.push((
                name.clone(),
                format!("its node {name} is offline in the cluster (down or fenced) although its walsender row remains"),
            ));
        } else if ours && input.instance_stopped.contains(name) {
            lost.push((
                name.clone(),
                format!("Pacemaker shows its instance on {name} stopped (its node online) although its walsender row remains"),
            ));
        } else if let (Some(age), Some(wait), true) = (
            r.reply_age,
            input.sync_wait_age,
            input.reply_timeout.is_some() && input.current_sync.contains(name),
        ) {
            // A synchronous standby silent since the oldest waiting commit
            // began waiting (the reply_timeout rule below covers the rest).
            if wait >= SYNC_WAIT_GRACE && age >= wait {
                lost.push((
                    name.clone(),
                    format!(
                        "a commit has waited {:.1} s for synchronous replication and {name} sent no reply since (last reply {:.1} s ago): its host froze or lost its link",
                        wait.as_secs_f64(),
                        age.as_secs_f64()
                    ),
                ));
            } else if let Some(bound) = input.reply_timeout.filter(|b| age > *b) {
                lost.push((
                    name.clone(),
                    format!(
                        "no reply for {:.1} s (standby_reply_timeout {} s): its host froze or lost its link",
                        age.as_secs_f64(),
                        bound.as_secs()
                    ),
                ));
            }
        } else if let (Some(age), Some(bound)) = (r.reply_age, input.reply_timeout) {
            if age > bound {
                lost.push((
                    name.clone(),
                    format!(
                        "no reply for {:.1} s (standby_reply_timeout {} s): its host froze or lost its link",
                        age.as_secs_f64(),
                        bound.as_secs()
                    ),
                ));
            }
        }
    }
    lost
}

/// Decides the standbys' attributes and the synchronous standby, in three
/// steps: [`classify_row`] for each other node of node_list (list order),
/// [`choose_sync_set`] over those classifications, then [`next_baseline`].
/// A standby in [`lost_standbys`] is decided as if its row were absent
/// (`DISCONNECT`, -INFINITY, released from the sync set) with its own
/// reason, and its walsender is to be terminated.
pub fn control_slave_status(input: &ControlInput<'_>) -> ControlDecision {
    let merged = merge_duplicate_rows(input.rows);
    let input = &ControlInput {
        rows: &merged,
        ..*input
    };
    let lost = lost_standbys(input);
    let live: Vec<ReplicationRow> = input
        .rows
        .iter()
        .filter(|r| !lost.iter().any(|(n, _)| *n == r.application_name))
        .cloned()
        .collect();
    let sync = input.rep_mode == RepMode::Sync;
    let unsettled = if sync {
        unsettled(input.current_sync, input.current_quorum, &live)
    } else {
        Vec::new()
    };
    let (live, released) = if sync {
        as_after_reload(input.current_sync, live)
    } else {
        (live, Vec::new())
    };
    let (in_force, not_loaded) = names_in_force(input.current_sync, &live);
    let input = &ControlInput {
        rows: &live,
        current_sync: &in_force,
        ..*input
    };
    // While the server does not run the file's set, every named standby
    // waits for a position recorded once it does (loaded_sync_set).
    let waiting = (!unsettled.is_empty()).then(|| {
        let mut names: Vec<String> = valid_baseline(input)
            .map(|b| b.names.clone())
            .unwrap_or_default();
        for n in input.current_sync {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
        SyncBaseline { lsn: None, names }
    });
    let input = &ControlInput {
        baseline: waiting.as_ref().or(input.baseline),
        ..*input
    };
    let valid = valid_baseline(input);
    let rules = RowRules::of(input);
    let classify_all = |rows: &[ReplicationRow], released: &[(String, String)]| {
        let mut caught_up = Vec::new();
        let standbys: Vec<StandbyDecision> = input
            .node_list
            .iter()
            .filter(|n| n.as_str() != input.local)
            .map(|node| {
                let row = rows.iter().find(|r| r.application_name == *node);
                let c = classify_row(rules, node, row, Handover::of(valid, node));
                if c.caught_up {
                    caught_up.push(node.clone());
                }
                if let Some((_, was)) = released.iter().find(|(n, _)| n == node) {
                    let i = Ineligible::NotInSyncConfiguration {
                        sync_state: was.clone(),
                    };
                    return StandbyDecision {
                        reason: i.to_string(),
                        ineligible: Some(i),
                        ..c.decision
                    };
                }
                match lost.iter().find(|(n, _)| n == node) {
                    Some((_, why)) => {
                        let i = Ineligible::StandbyLost {
                            detail: why.clone(),
                        };
                        StandbyDecision {
                            reason: i.to_string(),
                            ineligible: Some(i),
                            ..c.decision
                        }
                    }
                    None => c.decision,
                }
            })
            .collect();
        (standbys, caught_up)
    };
    let (mut standbys, mut caught_up) = classify_all(input.rows, &released);
    let mut choice = choose_sync_set(input, &standbys);
    // Issue 11 (tenth attack, A10-1): the attributes this run writes hold
    // from the reload of its change on, so the rows are read as the change
    // leaves them: a standby the change drops reads async, and with
    // `ANY k` a member reads quorum (never promotable by its own score;
    // under `ANY 1` another member alone may acknowledge a commit).
    if let Some(change) = &choice.change {
        let (after, dropped) = as_after_change(change, live.clone());
        if !dropped.is_empty() || change.quorum.is_some() {
            let mut all = released.clone();
            all.extend(dropped);
            (standbys, caught_up) = classify_all(&after, &all);
        }
    }
    if let Some(change) = choice.change.as_mut() {
        if !not_loaded.is_empty() {
            change.reason.push_str(&format!(
                "; the server does not run with rep_mode.conf's synchronous_standby_names: [{}] named there but streaming asynchronously (a reload that failed or has not been done, or a setting that overrides it, e.g. ALTER SYSTEM); the reload is redone and they wait for a new handover baseline",
                not_loaded.join(", ")
            ));
        }
    }
    let baseline = next_baseline(input, &caught_up, choice.change.as_ref());
    ControlDecision {
        standbys,
        sync_change: choice.change,
        recheck: choice.recheck,
        baseline,
        terminate: lost.into_iter().map(|(n, _)| n).collect(),
        unsettled,
    }
}

/// The parts of [`ControlInput`] that the score of one row depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowRules {
    /// `rep_mode` (sync or async).
    pub rep_mode: RepMode,
    /// The number of node_list names (async: 100 only with ≤ 2, §4.1).
    pub list_len: usize,
}

impl RowRules {
    /// The rules of one run.
    pub fn of(input: &ControlInput<'_>) -> RowRules {
        RowRules {
            rep_mode: input.rep_mode,
            list_len: input.node_list.len(),
        }
    }
}

/// Where one standby stands with the handover baseline ([`SyncBaseline`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Handover {
    /// Not named in the baseline: it does not wait.
    NotWaiting,
    /// Named, but the primary's position is not recorded yet.
    Unrecorded,
    /// Named: it must have flushed this position.
    At(Lsn),
}

impl Handover {
    /// Where `node` stands with `baseline`.
    pub fn of(baseline: Option<&SyncBaseline>, node: &str) -> Handover {
        match baseline.filter(|b| b.names.iter().any(|n| n == node)) {
            None => Handover::NotWaiting,
            Some(SyncBaseline { lsn: None, .. }) => Handover::Unrecorded,
            Some(SyncBaseline { lsn: Some(l), .. }) => Handover::At(*l),
        }
    }
}

/// One classified row: the decision, and whether the standby has just
/// reached its handover baseline (it leaves the baseline).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classified {
    /// The standby's attributes and why.
    pub decision: StandbyDecision,
    /// True when it waited for the baseline and has now flushed it.
    pub caught_up: bool,
}

fn standby(
    node: &str,
    data_status: &DataStatus,
    score: Score,
    status: Option<PgStatus>,
    why: Result<String, Ineligible>,
) -> StandbyDecision {
    let (reason, ineligible) = match why {
        Ok(text) => (text, None),
        Err(i) => (i.to_string(), Some(i)),
    };
    StandbyDecision {
        node: node.to_string(),
        data_status: data_status.clone(),
        score,
        status: status.map(|s| s.as_str().to_string()),
        reason,
        ineligible,
    }
}

/// Classifies one node_list node from its `pg_stat_replication` row (`None`:
/// absent) into its data-status, score and `<rsc>-status` (the table of
/// stock §4.2, plus the handover wait beyond it). Rows are matched by exact
/// `application_name` by the caller.
pub fn classify_row(
    rules: RowRules,
    node: &str,
    row: Option<&ReplicationRow>,
    handover: Handover,
) -> Classified {
    let data_status = match row {
        Some(r) => DataStatus::replication(&r.state, &r.sync_state),
        None => DataStatus::Disconnect,
    };
    let not = Score::CAN_NOT_PROMOTE;
    let can = Score::CAN_PROMOTE;
    let mut caught_up = false;
    let (score, status, why) = if data_status.is_streaming("SYNC") {
        let sync = Some(PgStatus::HsSync);
        match (handover, row.and_then(|r| r.flush_lsn)) {
            (Handover::Unrecorded, _) => (not, sync, Err(Ineligible::HandoverUnrecorded)),
            (Handover::At(baseline), Some(flushed)) if flushed < baseline => (
                not,
                sync,
                Err(Ineligible::HandoverBehind { baseline, flushed }),
            ),
            (Handover::At(base), Some(_)) => {
                caught_up = true;
                (can, sync, Ok(format!(
                    "streaming synchronously and has flushed {} acknowledged before it became synchronous: can take over at once",
                    base.to_pg()
                )))
            }
            (Handover::At(_), None) => (can, sync, Ok(
                "streaming synchronously (the server does not report flush_lsn: stock behaviour, no catch-up check)".to_string(),
            )),
            (Handover::NotWaiting, _) => (
                can,
                sync,
                Ok("streaming synchronously: can take over at once".to_string()),
            ),
        }
    } else if data_status.is_streaming("ASYNC") {
        let status = Some(PgStatus::HsAsync);
        if rules.rep_mode == RepMode::Sync {
            (not, status, Err(Ineligible::AsyncInSyncMode))
        } else if rules.list_len <= 2 {
            (
                can,
                status,
                Ok("streaming asynchronously, the only standby of a two-node list".to_string()),
            )
        } else {
            (not, status, Err(Ineligible::AsyncWithManyNodes))
        }
    } else if data_status.is_streaming("QUORUM") {
        (not, Some(PgStatus::HsQuorum), Err(Ineligible::QuorumMember))
    } else if data_status.is_streaming("POTENTIAL") {
        (
            not,
            Some(PgStatus::HsPotential),
            Err(Ineligible::PotentialStandby),
        )
    } else if data_status == DataStatus::Disconnect {
        (not, None, Err(Ineligible::NotReplicating))
    } else {
        (
            not,
            Some(PgStatus::HsConnected),
            Err(Ineligible::NotStreaming {
                data_status: data_status.to_string(),
            }),
        )
    };
    Classified {
        decision: standby(node, &data_status, score, status, why),
        caught_up,
    }
}

/// The synchronous standby configuration chosen after classifying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncChoice {
    /// The new `rep_mode.conf` content, if it changes.
    pub change: Option<SyncChange>,
    /// True when a standby was just made synchronous: check again shortly.
    pub recheck: bool,
}

/// Chooses who goes into `synchronous_standby_names` (stock §4.8, sync
/// mode only), from all classified rows at once (issue 11 item 2; the stock
/// agent walked node_list in order, so that with 3+ nodes a lost sync
/// standby listed before its replacement left the primary asynchronous
/// until the next monitor):
///
/// 1. the configured names that still stream as `SYNC`/`POTENTIAL` are
///    kept; any other configured name (gone, not streaming, not a standby
///    of node_list) is released, so that commits do not block on it;
/// 2. when none is kept and standbys stream asynchronously, the one with
///    the highest `flush_lsn` in `pg_stat_replication` becomes the
///    synchronous standby (ties and unknown positions: node_list order),
///    so that the handover baseline it must reach is the closest.
///
/// After a run in which a standby of node_list streams, the result names
/// one. With `external_standby_node_list`, every `STREAMING` node_list or
/// external name is synchronous (§4.2 step 3).
pub fn choose_sync_set(input: &ControlInput<'_>, standbys: &[StandbyDecision]) -> SyncChoice {
    if input.rep_mode != RepMode::Sync {
        return SyncChoice {
            change: None,
            recheck: false,
        };
    }
    if !input.external.is_empty() {
        return choose_with_external(input);
    }
    if input.quorum > 0 {
        return choose_quorum(input, standbys);
    }
    let still_sync = |name: &String| {
        standbys.iter().any(|s| {
            s.node == *name
                && (s.data_status.is_streaming("SYNC")
                    || s.data_status.is_streaming("POTENTIAL")
                    || s.data_status.is_streaming("QUORUM"))
        })
    };
    // Quorum commit turned off (`sync_quorum` 0 after `ANY k`): every
    // member is released; one standby is chosen below, through the
    // handover baseline.
    let (kept, released): (Vec<String>, Vec<String>) = if input.current_quorum.is_some() {
        (Vec::new(), input.current_sync.to_vec())
    } else {
        input.current_sync.iter().cloned().partition(still_sync)
    };
    let mut reasons: Vec<String> = released
        .iter()
        .map(|n| {
            let status = standbys
                .iter()
                .find(|s| s.node == *n)
                .map_or("not a standby of node_list".to_string(), |s| {
                    s.data_status.to_string()
                });
            format!("{n} is no longer streaming ({status})")
        })
        .collect();
    let mut names = kept;
    let mut recheck = false;
    if names.is_empty() {
        if let Some(best) = most_advanced_async(input, standbys) {
            reasons.push(format!(
                "no synchronous standby streams: {best}, the most advanced asynchronous standby, becomes the synchronous standby"
            ));
            names = vec![best];
            recheck = true;
        } else if !released.is_empty() {
            reasons
                .push("all standbys become asynchronous so that commits do not block".to_string());
        }
    }
    let unchanged =
        crate::sync_mode::same_names(&names, input.current_sync) && input.current_quorum.is_none();
    let change = (!unchanged).then(|| SyncChange {
        quorum: None,
        names,
        reason: reasons.join("; "),
    });
    let recheck = recheck && change.is_some();
    SyncChoice { change, recheck }
}

/// Quorum commit (issue 11 item 3, `sync_quorum` = k ≥ 1): every streaming
/// standby of node_list is a member, `ANY min(k, members) (members)` in
/// node_list order; no member: all asynchronous (the stock availability
/// trade-off, §4.8). Recheck when a member is added.
fn choose_quorum(input: &ControlInput<'_>, standbys: &[StandbyDecision]) -> SyncChoice {
    let members: Vec<String> = standbys
        .iter()
        .filter(|s| {
            matches!(&s.data_status, crate::status::DataStatus::Replication { state, .. } if state == "STREAMING")
        })
        .map(|s| s.node.clone())
        .collect();
    let k = input
        .quorum
        .min(u32::try_from(members.len()).unwrap_or(u32::MAX));
    let quorum = (k > 0).then_some(k);
    let unchanged = crate::sync_mode::same_names(&members, input.current_sync)
        && (members.is_empty() || input.current_quorum == quorum);
    if unchanged {
        return SyncChoice {
            change: None,
            recheck: false,
        };
    }
    let added = members.iter().any(|m| !input.current_sync.contains(m));
    let reason = match quorum {
        Some(k) => format!(
            "quorum commit: any {k} of the streaming standbys [{}] acknowledge each commit",
            members.join(", ")
        ),
        None => "quorum commit: no standby streams: all asynchronous so that commits do not block"
            .to_string(),
    };
    SyncChoice {
        change: Some(SyncChange {
            quorum,
            names: members,
            reason,
        }),
        recheck: added,
    }
}

/// The `STREAMING|ASYNC` standby with the highest `flush_lsn` (an unknown
/// position ranks lowest; ties: node_list order, the order of `standbys`);
/// when quorum commit was just turned off, the `STREAMING|QUORUM` members
/// are candidates too.
fn most_advanced_async(input: &ControlInput<'_>, standbys: &[StandbyDecision]) -> Option<String> {
    let flushed = |node: &str| {
        input
            .rows
            .iter()
            .find(|r| r.application_name == node)
            .and_then(|r| r.flush_lsn)
    };
    // Quorum commit turned off: the members (STREAMING|QUORUM) are the
    // candidates too (eighth attack on issue 11, F4: none was, and the
    // primary ran with no synchronous standby for a monitor interval).
    let quorum_off = input.current_quorum.is_some() && input.quorum == 0;
    let mut best: Option<(Option<Lsn>, &str)> = None;
    for s in standbys.iter().filter(|s| {
        s.data_status.is_streaming("ASYNC") || (quorum_off && s.data_status.is_streaming("QUORUM"))
    }) {
        let f = flushed(&s.node);
        if best.is_none_or(|(b, _)| f > b) {
            best = Some((f, &s.node));
        }
    }
    best.map(|(_, n)| n.to_string())
}

/// Sync mode with `external_standby_node_list`: every streaming name.
fn choose_with_external(input: &ControlInput<'_>) -> SyncChoice {
    let streaming = |name: &String| {
        input
            .rows
            .iter()
            .any(|r| r.application_name == *name && r.state == "STREAMING")
    };
    let mut targets: Vec<String> = Vec::new();
    for n in input
        .node_list
        .iter()
        .filter(|n| n.as_str() != input.local)
        .chain(input.external.iter())
        .filter(|n| streaming(n))
    {
        if !targets.contains(n) {
            targets.push(n.clone());
        }
    }
    if crate::sync_mode::same_names(&targets, input.current_sync) {
        return SyncChoice {
            change: None,
            recheck: false,
        };
    }
    let mut reason = format!("the streaming standbys are now [{}]", targets.join(", "));
    for n in input
        .current_sync
        .iter()
        .filter(|n| input.external.contains(n) && !targets.contains(n))
    {
        reason.push_str(&format!(
            "; the synchronous connection from {n} was disconnected"
        ));
    }
    SyncChoice {
        change: Some(SyncChange {
            quorum: None,
            names: targets,
            reason,
        }),
        recheck: true,
    }
}

/// The stored baseline, if it is still valid: only while every name it
/// waits for is still configured (start/stop may have rewritten
/// `rep_mode.conf` since).
pub fn valid_baseline<'a>(input: &ControlInput<'a>) -> Option<&'a SyncBaseline> {
    input
        .baseline
        .filter(|b| b.names.iter().all(|n| input.current_sync.contains(n)))
}

/// The handover bookkeeping after a run: names that `caught_up` leave the
/// baseline; when `change` adds names to `synchronous_standby_names` (every
/// name, when it leaves quorum commit), they
/// (and the names still waiting) wait for the primary's position read right
/// after the reload (`lsn: None`, recorded by the caller); names leaving the
/// sync set leave it. `None`: nothing waits (remove the file).
pub fn next_baseline(
    input: &ControlInput<'_>,
    caught_up: &[String],
    change: Option<&SyncChange>,
) -> Option<SyncBaseline> {
    let mut baseline = valid_baseline(input).cloned();
    if let Some(b) = baseline.as_mut() {
        b.names.retain(|n| !caught_up.contains(n));
    }
    if let Some(change) = change {
        // Leaving quorum commit (`ANY k` -> one synchronous standby): every
        // name becomes synchronous anew; under `ANY k` a member may lack a
        // commit the others acknowledged (ninth attack on issue 11, A9-1).
        let from_quorum = input.current_quorum.is_some() && change.quorum.is_none();
        let added: Vec<String> = change
            .names
            .iter()
            .filter(|n| from_quorum || !input.current_sync.contains(n))
            .cloned()
            .collect();
        if added.is_empty() {
            if let Some(b) = baseline.as_mut() {
                b.names.retain(|n| change.names.contains(n));
            }
        } else {
            // Writes acknowledged so far are at or below the primary's
            // position after the reload: the new names wait for it (and so
            // do names still waiting for an older, lower baseline).
            let mut names: Vec<String> = baseline
                .take()
                .map(|b| b.names)
                .unwrap_or_default()
                .into_iter()
                .filter(|n| change.names.contains(n))
                .collect();
            names.extend(added);
            baseline = Some(SyncBaseline { lsn: None, names });
        }
    }
    baseline.filter(|b| !b.names.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn row(name: &str, state: &str, sync: &str) -> ReplicationRow {
        ReplicationRow {
            application_name: name.to_string(),
            state: state.to_string(),
            sync_state: sync.to_string(),
            flush_lsn: None,
            replay_lsn: None,
            reply_age: None,
        }
    }

    fn decide(
        mode: RepMode,
        list: &[&str],
        rows: &[ReplicationRow],
        current: &[&str],
    ) -> ControlDecision {
        let list = v(list);
        let current = v(current);
        control_slave_status(&ControlInput {
            rep_mode: mode,
            node_list: &list,
            local: "node1",
            external: &[],
            rows,
            current_sync: &current,
            baseline: None,
            offline: &[],
            instance_stopped: &[],
            reply_timeout: None,
            quorum: 0,
            current_quorum: None,
            sync_wait_age: None,
        })
    }

    fn summary(d: &ControlDecision) -> Vec<(String, String, String, Option<String>)> {
        d.standbys
            .iter()
            .map(|s| {
                (
                    s.node.clone(),
                    s.data_status.to_string(),
                    s.score.to_string(),
                    s.status.clone(),
                )
            })
            .collect()
    }

    #[test]
    fn the_stock_table_in_sync_mode() {
        let rows = [
            row("node2", "STREAMING", "SYNC"),
            row("node3", "STREAMING", "ASYNC"),
            row("node4", "STREAMING", "POTENTIAL"),
            row("node6", "CATCHUP", "ASYNC"),
        ];
        let d = decide(
            RepMode::Sync,
            &[
                "node1", "node2", "node3", "node4", "node5", "node6", "node7",
            ],
            &rows,
            // The names the server's rows say it waits for (FIRST 1).
            &["node2", "node4"],
        );
        let s = |n: &str, d: &str, sc: &str, st: Option<&str>| {
            (
                n.to_string(),
                d.to_string(),
                sc.to_string(),
                st.map(str::to_string),
            )
        };
        assert_eq!(
            summary(&d),
            vec![
                s("node2", "STREAMING|SYNC", "100", Some("HS:sync")),
                s("node3", "STREAMING|ASYNC", "-INFINITY", Some("HS:async")),
                s(
                    "node4",
                    "STREAMING|POTENTIAL",
                    "-INFINITY",
                    Some("HS:potential")
                ),
                s("node5", "DISCONNECT", "-INFINITY", None),
                s("node6", "CATCHUP|ASYNC", "-INFINITY", Some("HS:connected")),
                s("node7", "DISCONNECT", "-INFINITY", None),
            ]
        );
        assert_eq!(d.sync_change, None, "node2 stays the synchronous standby");
        assert!(!d.recheck);
        assert!(d.unsettled.is_empty(), "{:?}", d.unsettled);
        assert!(d.standbys.iter().all(|s| !s.reason.is_empty()));
        // Issue 11: a quorum member is understood (HS:quorum), not promoted
        // directly (the stock agent: HS:connected).
        let c = classify_row(
            RowRules {
                rep_mode: RepMode::Sync,
                list_len: 3,
            },
            "node7",
            Some(&row("node7", "STREAMING", "QUORUM")),
            Handover::NotWaiting,
        );
        assert_eq!(
            (
                c.decision.data_status.to_string(),
                c.decision.score,
                c.decision.status.as_deref()
            ),
            (
                "STREAMING|QUORUM".to_string(),
                Score::CAN_NOT_PROMOTE,
                Some("HS:quorum")
            )
        );
    }

    #[test]
    fn a_standby_the_file_does_not_name_is_asynchronous_before_the_reload() {
        // rep_mode.conf names node2 only; node4's and node7's walsenders
        // still report the set the server loaded before (or an override).
        let rows = [
            row("node2", "STREAMING", "SYNC"),
            row("node4", "STREAMING", "POTENTIAL"),
            row("node7", "STREAMING", "QUORUM"),
        ];
        let d = decide(
            RepMode::Sync,
            &["node1", "node2", "node4", "node7"],
            &rows,
            &["node2"],
        );
        // The server runs another set: node2 is not promotable either
        // until it runs the file's (it may stop waiting for node2 in favour
        // of node4 or node7 at any time).
        assert_eq!(d.unsettled.len(), 2, "{:?}", d.unsettled);
        assert_eq!(d.standbys[0].data_status.to_string(), "STREAMING|SYNC");
        assert_eq!(d.standbys[0].score, Score::CAN_NOT_PROMOTE);
        assert_eq!(
            d.baseline.as_ref().map(|b| (b.lsn, b.names.clone())),
            Some((None, v(&["node2"])))
        );
        for s in &d.standbys[1..] {
            assert_eq!(s.data_status.to_string(), "STREAMING|ASYNC", "{s:?}");
            assert_eq!(s.score, Score::CAN_NOT_PROMOTE, "{s:?}");
            assert!(
                matches!(
                    s.ineligible,
                    Some(Ineligible::NotInSyncConfiguration { .. })
                ),
                "{s:?}"
            );
        }
        assert_eq!(d.sync_change, None);
        // In async mode the file is not the agent's: rows are read as is.
        let d = decide(
            RepMode::Async,
            &["node1", "node2", "node4"],
            &rows[..2],
            &[],
        );
        assert_eq!(d.standbys[1].data_status.to_string(), "STREAMING|POTENTIAL");
    }

    #[test]
    fn async_mode_scores_depend_on_the_list_length() {
        let rows = [
            row("node2", "STREAMING", "ASYNC"),
            row("node3", "STREAMING", "ASYNC"),
        ];
        let two = decide(RepMode::Async, &["node1", "node2"], &rows, &[]);
        assert_eq!(two.standbys[0].score, Score::CAN_PROMOTE);
        let three = decide(RepMode::Async, &["node1", "node2", "node3"], &rows, &[]);
        assert!(three
            .standbys
            .iter()
            .all(|s| s.score == Score::CAN_NOT_PROMOTE));
        assert_eq!(three.sync_change, None);
        let sync_row = [row("node2", "STREAMING", "SYNC")];
        assert_eq!(
            decide(RepMode::Async, &["node1", "node2", "node3"], &sync_row, &[]).standbys[0].score,
            Score::CAN_PROMOTE
        );
    }

    #[test]
    fn first_async_standby_becomes_synchronous_when_none_is() {
        let rows = [
            row("node2", "STREAMING", "ASYNC"),
            row("node3", "STREAMING", "ASYNC"),
        ];
        let d = decide(RepMode::Sync, &["node1", "node2", "node3"], &rows, &[]);
        assert_eq!(
            d.sync_change.as_ref().map(|c| c.names.clone()),
            Some(v(&["node2"]))
        );
        assert!(d.recheck);
        assert_eq!(
            d.standbys[0].score,
            Score::CAN_NOT_PROMOTE,
            "not promotable until seen as SYNC"
        );
    }

    #[test]
    fn a_lost_sync_standby_is_released_and_replaced() {
        let rows = [row("node3", "STREAMING", "ASYNC")];
        let d = decide(
            RepMode::Sync,
            &["node1", "node2", "node3"],
            &rows,
            &["node2"],
        );
        assert_eq!(d.standbys[0].data_status, DataStatus::Disconnect);
        assert_eq!(d.sync_change.map(|c| c.names), Some(v(&["node3"])));
        let d = decide(RepMode::Sync, &["node1", "node2"], &[], &["node2"]);
        assert_eq!(d.sync_change.map(|c| c.names), Some(v(&[])));
        assert!(!d.recheck);
    }

    #[test]
    fn a_new_sync_standby_waits_for_the_handover_baseline() {
        let list = v(&["node1", "node2", "node3"]);
        let decide_with = |rows: &[ReplicationRow], current: &[&str], b: Option<&SyncBaseline>| {
            let current = v(current);
            control_slave_status(&ControlInput {
                rep_mode: RepMode::Sync,
                node_list: &list,
                local: "node1",
                external: &[],
                rows,
                current_sync: &current,
                baseline: b,
                offline: &[],
                instance_stopped: &[],
                reply_timeout: None,
                quorum: 0,
                current_quorum: None,
                sync_wait_age: None,
            })
        };
        let at = |name: &str, sync: &str, flush: u64| ReplicationRow {
            flush_lsn: Some(Lsn(flush)),
            ..row(name, "STREAMING", sync)
        };
        // node2 (sync) is gone: node3 becomes the sync standby; the baseline
        // (position read after the reload) is to be recorded for node3 only.
        let d = decide_with(&[at("node3", "ASYNC", 0x0500_0000)], &["node2"], None);
        assert_eq!(d.sync_change.map(|c| c.names), Some(v(&["node3"])));
        let pending = SyncBaseline {
            lsn: None,
            names: v(&["node3"]),
        };
        assert_eq!(d.baseline.as_ref(), Some(&pending));
        // Not recorded yet: not promotable.
        let d = decide_with(
            &[at("node3", "SYNC", 0x0500_0000)],
            &["node3"],
            Some(&pending),
        );
        assert_eq!(d.standbys[1].score, Score::CAN_NOT_PROMOTE);
        // Behind the baseline: stock data-status and status, -INFINITY, and why.
        let base = SyncBaseline {
            lsn: Some(Lsn(0x0500_0060)),
            names: v(&["node3"]),
        };
        let d = decide_with(&[at("node3", "SYNC", 0x0500_0000)], &["node3"], Some(&base));
        let s = &d.standbys[1];
        assert_eq!(s.data_status.to_string(), "STREAMING|SYNC");
        assert_eq!(s.status.as_deref(), Some("HS:sync"));
        assert_eq!(s.score, Score::CAN_NOT_PROMOTE);
        assert!(
            s.reason.contains(
                "has not yet flushed 0/5000060 acknowledged before it became synchronous"
            ),
            "{}",
            s.reason
        );
        assert_eq!(d.baseline.as_ref(), Some(&base), "kept while it waits");
        assert_eq!(d.sync_change, None);
        // Caught up: 100, and the baseline is done.
        let d = decide_with(&[at("node3", "SYNC", 0x0500_0060)], &["node3"], Some(&base));
        assert_eq!(d.standbys[1].score, Score::CAN_PROMOTE);
        assert_eq!(d.baseline, None);
        // No flush_lsn reported: stock behaviour.
        let d = decide_with(
            &[row("node3", "STREAMING", "SYNC")],
            &["node3"],
            Some(&base),
        );
        assert_eq!(d.standbys[1].score, Score::CAN_PROMOTE);
        // A standby synchronous since before the baseline does not wait.
        let d = decide_with(
            &[
                at("node2", "SYNC", 0x0400_0000),
                at("node3", "SYNC", 0x0400_0000),
            ],
            &["node2", "node3"],
            Some(&SyncBaseline {
                lsn: Some(Lsn(0x0500_0060)),
                names: v(&["node3"]),
            }),
        );
        assert_eq!(d.standbys[0].score, Score::CAN_PROMOTE);
        assert_eq!(d.standbys[1].score, Score::CAN_NOT_PROMOTE);
        // The waiting standby is released: the baseline goes with it.
        let d = decide_with(&[], &["node3"], Some(&base));
        assert_eq!(d.sync_change.map(|c| c.names), Some(v(&[])));
        assert_eq!(d.baseline, None);
        // A stale baseline (rep_mode.conf rewritten since) is ignored.
        let d = decide_with(&[at("node2", "SYNC", 0x0400_0000)], &["node2"], Some(&base));
        assert_eq!(d.standbys[0].score, Score::CAN_PROMOTE);
        assert_eq!(d.baseline, None);
        // The file form round-trips.
        assert_eq!(SyncBaseline::parse(&base.render()), Some(base.clone()));
        assert_eq!(SyncBaseline::parse(&pending.render()), Some(pending));
        assert_eq!(SyncBaseline::parse(""), None);
    }

    #[test]
    fn names_match_exactly() {
        let rows = [
            row("node10", "STREAMING", "SYNC"),
            row("nodeX1", "STREAMING", "SYNC"),
        ];
        let d = decide(RepMode::Sync, &["node1", "node.1", "node1x"], &rows, &[]);
        assert!(d
            .standbys
            .iter()
            .all(|s| s.data_status == DataStatus::Disconnect));
    }

    #[test]
    fn external_standbys_are_managed_as_one_list() {
        let list = v(&["node1", "node2"]);
        let external = v(&["ext1", "ext2"]);
        let rows = [
            row("ext1", "STREAMING", "ASYNC"),
            row("node2", "STREAMING", "SYNC"),
            row("ext2", "CATCHUP", "ASYNC"),
        ];
        let current = v(&["node2", "ext2"]);
        let d = control_slave_status(&ControlInput {
            rep_mode: RepMode::Sync,
            node_list: &list,
            local: "node1",
            external: &external,
            rows: &rows,
            current_sync: &current,
            baseline: None,
            offline: &[],
            instance_stopped: &[],
            reply_timeout: None,
            quorum: 0,
            current_quorum: None,
            sync_wait_age: None,
        });
        let change = d.sync_change.expect("the list changes");
        assert_eq!(change.names, v(&["node2", "ext1"]));
        assert!(change.reason.contains("ext2 was disconnected"));
        assert!(d.recheck);
        // After the reload of `node2, ext1` (FIRST 1): ext1 is potential.
        let rows = [
            row("ext1", "STREAMING", "POTENTIAL"),
            row("node2", "STREAMING", "SYNC"),
            row("ext2", "CATCHUP", "ASYNC"),
        ];
        let current = v(&["ext1", "node2"]);
        let d = control_slave_status(&ControlInput {
            rep_mode: RepMode::Sync,
            node_list: &list,
            local: "node1",
            external: &external,
            rows: &rows,
            current_sync: &current,
            baseline: None,
            offline: &[],
            instance_stopped: &[],
            reply_timeout: None,
            quorum: 0,
            current_quorum: None,
            sync_wait_age: None,
        });
        assert_eq!(d.sync_change, None);
    }

    #[test]
    fn a_disconnected_node_never_gets_a_positive_score() {
        for mode in [RepMode::Sync, RepMode::Async] {
            let d = decide(mode, &["node1", "node2"], &[], &[]);
            assert!(!d.standbys[0].score.is_positive());
        }
    }

    #[test]
    fn classify_row_alone_gives_the_table_row_and_its_reason() {
        let sync = RowRules {
            rep_mode: RepMode::Sync,
            list_len: 3,
        };
        let c = classify_row(sync, "node2", None, Handover::NotWaiting);
        assert_eq!(c.decision.data_status, DataStatus::Disconnect);
        assert_eq!(c.decision.status, None);
        assert_eq!(c.decision.ineligible, Some(Ineligible::NotReplicating));
        assert_eq!(c.decision.reason, Ineligible::NotReplicating.to_string());
        let r = row("node2", "catchup", "async");
        let c = classify_row(sync, "node2", Some(&r), Handover::NotWaiting);
        assert_eq!(
            c.decision.ineligible,
            Some(Ineligible::NotStreaming {
                data_status: "CATCHUP|ASYNC".into()
            })
        );
        let r = ReplicationRow {
            flush_lsn: Some(Lsn(0x10)),
            ..row("node2", "STREAMING", "SYNC")
        };
        let c = classify_row(sync, "node2", Some(&r), Handover::At(Lsn(0x20)));
        assert_eq!(c.decision.score, Score::CAN_NOT_PROMOTE);
        assert!(!c.caught_up);
        let c = classify_row(sync, "node2", Some(&r), Handover::At(Lsn(0x10)));
        assert_eq!(c.decision.score, Score::CAN_PROMOTE);
        assert_eq!(c.decision.ineligible, None);
        assert!(c.caught_up);
        let r = row("node2", "STREAMING", "ASYNC");
        let two = RowRules {
            rep_mode: RepMode::Async,
            list_len: 2,
        };
        let c = classify_row(two, "node2", Some(&r), Handover::NotWaiting);
        assert_eq!(c.decision.score, Score::CAN_PROMOTE);
        let three = RowRules { list_len: 3, ..two };
        let c = classify_row(three, "node2", Some(&r), Handover::NotWaiting);
        assert_eq!(c.decision.ineligible, Some(Ineligible::AsyncWithManyNodes));
    }

    #[test]
    fn every_minus_infinity_names_its_reason() {
        let rows = [
            row("node2", "STREAMING", "SYNC"),
            row("node3", "STREAMING", "ASYNC"),
            row("node4", "STREAMING", "POTENTIAL"),
            row("node6", "CATCHUP", "ASYNC"),
        ];
        let list = ["node1", "node2", "node3", "node4", "node5", "node6"];
        for mode in [RepMode::Sync, RepMode::Async] {
            let d = decide(mode, &list, &rows, &["node2"]);
            for s in &d.standbys {
                assert_eq!(s.score.is_positive(), s.ineligible.is_none(), "{s:?}");
                if let Some(i) = &s.ineligible {
                    assert_eq!(i.effect().score(), Some(s.score));
                    assert_eq!(
                        i.effect().disconnects(),
                        s.data_status == DataStatus::Disconnect
                    );
                }
            }
        }
    }

    #[test]
    fn choose_sync_set_does_not_depend_on_the_list_order() {
        let list = v(&["node1", "node2", "node3", "node4"]);
        let current = v(&["node2"]);
        let at = |name: &str, flush: u64| ReplicationRow {
            flush_lsn: Some(Lsn(flush)),
            ..row(name, "STREAMING", "ASYNC")
        };
        let rows = [at("node3", 0x10), at("node4", 0x20)];
        let input = ControlInput {
            rep_mode: RepMode::Sync,
            node_list: &list,
            local: "node1",
            external: &[],
            rows: &rows,
            current_sync: &current,
            baseline: None,
            offline: &[],
            instance_stopped: &[],
            reply_timeout: None,
            quorum: 0,
            current_quorum: None,
            sync_wait_age: None,
        };
        let rules = RowRules::of(&input);
        let standbys = [
            classify_row(rules, "node2", None, Handover::NotWaiting).decision,
            classify_row(rules, "node3", Some(&rows[0]), Handover::NotWaiting).decision,
            classify_row(rules, "node4", Some(&rows[1]), Handover::NotWaiting).decision,
        ];
        // node2 is released and the most advanced streaming standby, node4,
        // takes its place, whatever the order of the classifications.
        let mut orders = vec![standbys.to_vec()];
        orders.push(standbys.iter().rev().cloned().collect());
        orders.push(vec![
            standbys[1].clone(),
            standbys[0].clone(),
            standbys[2].clone(),
        ]);
        for order in orders {
            let c = choose_sync_set(&input, &order);
            let change = c.change.expect("a change");
            assert_eq!(change.names, v(&["node4"]));
            assert!(
                change.reason.contains("node2 is no longer streaming"),
                "{}",
                change.reason
            );
            assert!(c.recheck);
        }
        // Equal (or unknown) positions: node_list order.
        let rows = [
            row("node4", "STREAMING", "ASYNC"),
            row("node3", "STREAMING", "ASYNC"),
        ];
        let input = ControlInput {
            rows: &rows,
            ..input
        };
        let d = control_slave_status(&input);
        assert_eq!(d.sync_change.map(|c| c.names), Some(v(&["node3"])));
        // A configured name that is not a standby of node_list is released.
        let stale = v(&["node9"]);
        let d = control_slave_status(&ControlInput {
            current_sync: &stale,
            ..input
        });
        let change = d.sync_change.expect("a change");
        assert_eq!(change.names, v(&["node3"]));
        assert!(change
            .reason
            .contains("node9 is no longer streaming (not a standby of node_list)"));
        // Nobody streams: released, no recheck.
        let d = control_slave_status(&ControlInput { rows: &[], ..input });
        assert_eq!(d.sync_change.map(|c| c.names), Some(v(&[])));
        assert!(!d.recheck);
        // Async mode never touches rep_mode.conf.
        let input = ControlInput {
            rep_mode: RepMode::Async,
            ..input
        };
        assert_eq!(choose_sync_set(&input, &standbys).change, None);
    }

    #[test]
    fn next_baseline_keeps_only_names_that_still_wait() {
        let list = v(&["node1", "node2", "node3"]);
        let current = v(&["node2", "node3"]);
        let stored = SyncBaseline {
            lsn: Some(Lsn(0x50)),
            names: v(&["node2", "node3"]),
        };
        let input = ControlInput {
            rep_mode: RepMode::Sync,
            node_list: &list,
            local: "node1",
            external: &[],
            rows: &[],
            current_sync: &current,
            baseline: Some(&stored),
            offline: &[],
            instance_stopped: &[],
            reply_timeout: None,
            quorum: 0,
            current_quorum: None,
            sync_wait_age: None,
        };
        let b = next_baseline(&input, &v(&["node2"]), None);
        assert_eq!(b.map(|b| b.names), Some(v(&["node3"])));
        assert_eq!(next_baseline(&input, &v(&["node2", "node3"]), None), None);
        // A change that adds a name: a new, unrecorded baseline for the
        // added name and the names still waiting.
        let change = SyncChange {
            quorum: None,
            names: v(&["node3", "node4"]),
            reason: String::new(),
        };
        let b = next_baseline(&input, &[], Some(&change)).expect("waits");
        assert_eq!(b.lsn, None);
        assert_eq!(b.names, v(&["node3", "node4"]));
        // A change that only removes names: the removed ones leave.
        let change = SyncChange {
            quorum: None,
            names: v(&["node3"]),
            reason: String::new(),
        };
        let b = next_baseline(&input, &[], Some(&change)).expect("waits");
        assert_eq!(b.lsn, Some(Lsn(0x50)));
        assert_eq!(b.names, v(&["node3"]));
    }

    #[test]
    fn a_sync_standby_silent_under_a_waiting_commit_is_lost_at_once() {
        let list = v(&["node1", "node2", "node3"]);
        let aged = |name: &str, sync: &str, ms: u64| ReplicationRow {
            flush_lsn: Some(Lsn(0x10)),
            reply_age: Some(Duration::from_millis(ms)),
            ..row(name, "STREAMING", sync)
        };
        let current = v(&["node2"]);
        let decide = |rows: &[ReplicationRow], wait_ms: Option<u64>, timeout: Option<u64>| {
            control_slave_status(&ControlInput {
                rep_mode: RepMode::Sync,
                node_list: &list,
                local: "node1",
                external: &[],
                rows,
                current_sync: &current,
                baseline: None,
                offline: &[],
                instance_stopped: &[],
                reply_timeout: timeout.map(Duration::from_secs),
                quorum: 0,
                current_quorum: None,
                sync_wait_age: wait_ms.map(Duration::from_millis),
            })
        };
        // A commit has waited 1.5 s and node2 (sync) was last heard 1.6 s
        // ago: lost now, long before standby_reply_timeout (10 s); node3
        // replaces it, node2's walsender goes.
        let rows = [aged("node2", "SYNC", 1600), aged("node3", "ASYNC", 200)];
        let d = decide(&rows, Some(1500), Some(10));
        assert_eq!(d.standbys[0].data_status, DataStatus::Disconnect);
        assert!(
            d.standbys[0]
                .reason
                .contains("waited 1.5 s for synchronous replication"),
            "{}",
            d.standbys[0].reason
        );
        assert_eq!(d.sync_change.map(|c| c.names), Some(v(&["node3"])));
        assert_eq!(d.terminate, v(&["node2"]));
        // Not lost: node2 replied since the commit began waiting; the wait is
        // under the grace; no commit waits (an idle standby, 9 s silent but
        // under the bound); the check disabled (standby_reply_timeout=0).
        for (rows, wait, timeout) in [
            (
                vec![aged("node2", "SYNC", 1400), aged("node3", "ASYNC", 1)],
                Some(1500),
                Some(10),
            ),
            (
                vec![aged("node2", "SYNC", 5000), aged("node3", "ASYNC", 1)],
                Some(900),
                Some(10),
            ),
            (
                vec![aged("node2", "SYNC", 9000), aged("node3", "ASYNC", 1)],
                None,
                Some(10),
            ),
            (
                vec![aged("node2", "SYNC", 5000), aged("node3", "ASYNC", 1)],
                Some(3000),
                None,
            ),
        ] {
            let d = decide(&rows, wait, timeout);
            assert_ne!(
                d.standbys[0].data_status,
                DataStatus::Disconnect,
                "{rows:?} {wait:?}"
            );
            assert!(d.terminate.is_empty());
        }
        // An asynchronous standby is never judged by the waiting commit
        // (the commit does not wait for it).
        let rows = [aged("node2", "SYNC", 100), aged("node3", "ASYNC", 5000)];
        let d = decide(&rows, Some(3000), Some(10));
        assert_ne!(d.standbys[1].data_status, DataStatus::Disconnect);
    }

    #[test]
    fn a_lost_standby_is_disconnected_released_and_terminated() {
        let list = v(&["node1", "node2", "node3"]);
        let aged = |name: &str, sync: &str, secs: u64| ReplicationRow {
            flush_lsn: Some(Lsn(0x10)),
            reply_age: Some(Duration::from_secs(secs)),
            ..row(name, "STREAMING", sync)
        };
        let current = v(&["node2"]);
        let decide_with = |rows: &[ReplicationRow], offline: &[String], timeout: Option<u64>| {
            control_slave_status(&ControlInput {
                rep_mode: RepMode::Sync,
                node_list: &list,
                local: "node1",
                external: &[],
                rows,
                current_sync: &current,
                baseline: None,
                offline,
                instance_stopped: &[],
                reply_timeout: timeout.map(Duration::from_secs),
                quorum: 0,
                current_quorum: None,
                sync_wait_age: None,
            })
        };
        // node2 (sync) has not replied for 11 s > 10 s: DISCONNECT,
        // -INFINITY, released; node3 (streaming) replaces it; node2's
        // walsender is to be terminated.
        let rows = [aged("node2", "SYNC", 11), aged("node3", "ASYNC", 1)];
        let d = decide_with(&rows, &[], Some(10));
        let s = &d.standbys[0];
        assert_eq!(s.data_status, DataStatus::Disconnect);
        assert_eq!(s.score, Score::CAN_NOT_PROMOTE);
        assert!(s.reason.contains("no reply for 11.0 s"), "{}", s.reason);
        assert!(matches!(s.ineligible, Some(Ineligible::StandbyLost { .. })));
        assert_eq!(d.sync_change.map(|c| c.names), Some(v(&["node3"])));
        assert_eq!(d.terminate, v(&["node2"]));
        // At the bound, or without the check (0, or PostgreSQL < 12: no
        // reply_time), nothing is lost.
        for (rows, timeout) in [
            (
                vec![aged("node2", "SYNC", 10), aged("node3", "ASYNC", 1)],
                Some(10),
            ),
            (
                vec![aged("node2", "SYNC", 600), aged("node3", "ASYNC", 1)],
                None,
            ),
            (
                vec![row("node2", "STREAMING", "SYNC"), aged("node3", "ASYNC", 1)],
                Some(10),
            ),
        ] {
            let d = decide_with(&rows, &[], timeout);
            assert_eq!(d.standbys[0].score, Score::CAN_PROMOTE);
            assert_eq!(d.sync_change, None);
            assert!(d.terminate.is_empty());
        }
        // Its node offline in the cluster (fenced): lost at once, whatever
        // its reply age.
        let rows = [aged("node2", "SYNC", 0), aged("node3", "ASYNC", 0)];
        let d = decide_with(&rows, &v(&["node2"]), None);
        assert!(
            d.standbys[0].reason.contains("offline"),
            "{}",
            d.standbys[0].reason
        );
        assert_eq!(d.standbys[0].data_status, DataStatus::Disconnect);
        assert_eq!(d.sync_change.map(|c| c.names), Some(v(&["node3"])));
        assert_eq!(d.terminate, v(&["node2"]));
        // Its node online but its instance stopped by Pacemaker (a server
        // left running there): lost at once too, in the same way.
        let rows = [aged("node2", "SYNC", 0), aged("node3", "ASYNC", 0)];
        let d = control_slave_status(&ControlInput {
            rep_mode: RepMode::Sync,
            node_list: &list,
            local: "node1",
            external: &[],
            rows: &rows,
            current_sync: &current,
            baseline: None,
            offline: &[],
            instance_stopped: &v(&["node2"]),
            reply_timeout: Some(Duration::from_secs(10)),
            quorum: 0,
            current_quorum: None,
            sync_wait_age: None,
        });
        assert!(
            d.standbys[0].reason.contains("instance on node2 stopped"),
            "{}",
            d.standbys[0].reason
        );
        assert_eq!(d.standbys[0].data_status, DataStatus::Disconnect);
        assert_eq!(d.standbys[0].score, Score::CAN_NOT_PROMOTE);
        assert_eq!(d.sync_change.map(|c| c.names), Some(v(&["node3"])));
        assert_eq!(d.terminate, v(&["node2"]));
        // The only standby lost: all asynchronous (commits resume).
        let rows = [aged("node2", "SYNC", 30)];
        let d = decide_with(&rows, &[], Some(10));
        assert_eq!(d.sync_change.map(|c| c.names), Some(v(&[])));
        assert_eq!(d.terminate, v(&["node2"]));
    }

    #[test]
    fn decisions_serialize_with_their_reasons() {
        let rows = [row("node3", "STREAMING", "ASYNC")];
        let d = decide(
            RepMode::Sync,
            &["node1", "node2", "node3"],
            &rows,
            &["node2"],
        );
        let v = serde_json::to_value(&d).expect("serializes");
        assert_eq!(v["standbys"][0]["data_status"], "DISCONNECT");
        assert_eq!(v["standbys"][0]["score"], "-INFINITY");
        assert_eq!(v["standbys"][0]["ineligible"]["reason"], "not_replicating");
        assert_eq!(
            v["standbys"][1]["ineligible"]["reason"],
            "async_in_sync_mode"
        );
        assert_eq!(v["sync_change"]["names"][0], "node3");
        assert_eq!(v["baseline"]["lsn"], serde_json::Value::Null);
    }
}

/// Attack 8 (on 71c88b7), finding F1, severity MAJOR: `names_in_force`
/// looks at *any* row of a name while `classify_row` scores the *first*
/// row of that name. Two walsender rows with one application_name (a
/// standby that reconnected while its old walsender lingers: the B2-04
/// half-open link; the new walsender is `streaming` with an invalid flush
/// position until the standby's first reply, which PostgreSQL reports as
/// `async`) make the same run (1) write the named standby STREAMING|SYNC,
/// 100 from its first row and (2) release it from rep_mode.conf in favour
/// of another standby ("not in force"), reloading. Until the next monitor
/// the CIB shows a standby promotable that the server no longer waits for:
/// a commit acknowledged by node3 alone is lost if Pacemaker promotes node2.
#[cfg(test)]
mod attack8 {
    use super::*;

    fn r(name: &str, sync: &str, flush: Option<u64>) -> ReplicationRow {
        ReplicationRow {
            application_name: name.to_string(),
            state: "STREAMING".to_string(),
            sync_state: sync.to_string(),
            flush_lsn: flush.map(Lsn),
            replay_lsn: flush.map(Lsn),
            reply_age: None,
        }
    }

    #[test]
    fn attack8_f1_a_duplicate_async_row_releases_a_standby_scored_100_in_the_same_run() {
        let list: Vec<String> = ["node1", "node2", "node3"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let current = vec!["node2".to_string()];
        // Old walsender of node2 (sync), then its new one (no reply yet:
        // flush invalid, reported async), then node3 (async).
        let rows = [
            r("node2", "SYNC", Some(0x5000)),
            r("node2", "ASYNC", None),
            r("node3", "ASYNC", Some(0x4000)),
        ];
        let d = control_slave_status(&ControlInput {
            rep_mode: RepMode::Sync,
            node_list: &list,
            local: "node1",
            external: &[],
            rows: &rows,
            current_sync: &current,
            baseline: None,
            offline: &[],
            instance_stopped: &[],
            reply_timeout: None,
            quorum: 0,
            current_quorum: None,
            sync_wait_age: None,
        });
        let configured_after = d
            .sync_change
            .as_ref()
            .map_or(current.clone(), |c| c.names.clone());
        for s in &d.standbys {
            if s.score == Score::CAN_PROMOTE {
                assert!(
                    configured_after.contains(&s.node),
                    "{} is written {} / {} although the same run configures [{}] \
                     (reason of the change: {:?})",
                    s.node,
                    s.data_status,
                    s.score,
                    configured_after.join(", "),
                    d.sync_change.as_ref().map(|c| &c.reason)
                );
            }
        }
    }

    /// Attack 8 (on 71c88b7), finding F2, severity MAJOR (same root cause as
    /// F1, worse outcome): a waiting synchronous standby (handover baseline
    /// not reached) with a second, `async` row of its name (a new walsender
    /// without a reply yet, next to the lingering one) is "not in force", so
    /// `valid_baseline` drops its baseline; its first row (SYNC) is then
    /// classified without the baseline: 100 although it has not flushed writes
    /// its predecessor acknowledged. No other standby streams, so no change is
    /// made, the decision's baseline is `None`: the caller deletes
    /// `<tmpdir>/sync_baseline` and the standby's `<rsc>-sync-baseline`. The
    /// protection is gone for good: the next monitor, with one row again, also
    /// gives it 100.
    #[test]
    fn attack8_f2_a_duplicate_async_row_erases_the_handover_baseline_of_a_waiting_standby() {
        let list: Vec<String> = ["node1", "node2", "node3"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let current = vec!["node3".to_string()];
        let baseline = SyncBaseline {
            lsn: Some(Lsn(0x9000)),
            names: vec!["node3".to_string()],
        };
        let input = |rows: &[ReplicationRow], b: Option<&SyncBaseline>| {
            control_slave_status(&ControlInput {
                rep_mode: RepMode::Sync,
                node_list: &list,
                local: "node1",
                external: &[],
                rows,
                current_sync: &current,
                baseline: b,
                offline: &[],
                instance_stopped: &[],
                reply_timeout: None,
                quorum: 0,
                current_quorum: None,
                sync_wait_age: None,
            })
        };
        // node3 flushed 0x5000 < baseline 0x9000: it must wait.
        let one = [r("node3", "SYNC", Some(0x5000))];
        let d = input(&one, Some(&baseline));
        assert_eq!(
            d.standbys[1].score,
            Score::CAN_NOT_PROMOTE,
            "control: {d:?}"
        );
        // The same, with a second (new) walsender row of node3.
        let two = [r("node3", "SYNC", Some(0x5000)), r("node3", "ASYNC", None)];
        let d = input(&two, Some(&baseline));
        let node3 = &d.standbys[1];
        assert!(
            node3.score != Score::CAN_PROMOTE,
            "node3 has flushed 0/5000 < its handover baseline 0/9000 yet is written {} / {}: {}",
            node3.data_status,
            node3.score,
            node3.reason
        );
        assert!(
            d.baseline.is_some(),
            "the handover baseline of node3 is dropped (sync_baseline file and node3's \
             <rsc>-sync-baseline deleted): {d:?}"
        );
    }
}
