//! The side effects around [`crate::election`]: publishing the own location,
//! reading the others', keeping `xlog_note.*` and acting on the verdict.

use super::start::remove_notes;
use super::Ctx;
use crate::attrs::WriteResult;
use crate::election::{
    awaits_marks, cluster_origin, completed_rounds, decide_with_finality, eligibility_of_attr,
    final_mark, handover_eligibility, lineage_eligibility, note_file_name, observed_final,
    probe_claim_of, Finality, NotesChange, Observation, Origin, Round, Verdict, FINAL_SEEN_FILE,
};
use crate::forks::ForkRecord;
use crate::ineligible::Ineligible;
use crate::lsn::Lsn;
use crate::ocf::{OcfExit, Outcome};
use crate::params::RepMode;
use crate::ports::{FileOwner, Lifetime, LogLevel, RecoveryActivity, UpstreamAnswer};
use crate::quorum::QuorumSet;
use crate::quote::quoted;
use crate::score::Score;
use crate::status::DataStatus;
use crate::timeline::{
    end_on_followed_history, followable, history_file_timeline, parse_history, rank, HistoryEnd,
    HistoryEntry,
};

/// The local location: the greater of the replay and receive locations
/// (`0000000000000000` when both are NULL).
pub fn own_location(ctx: &mut Ctx<'_, '_>) -> Result<Lsn, Outcome> {
    match ctx.world.db.replay_and_receive_lsn() {
        Ok((replay, receive)) => Ok(replay.max(receive).unwrap_or(Lsn::ZERO)),
        Err(e) => Err(Outcome::fail(
            OcfExit::ErrGeneric,
            format!("Can't get my xlog location: {e}"),
        )),
    }
}

/// Reads the own location and publishes it as `<rsc>-master-baseline`.
pub fn record_master_baseline(ctx: &mut Ctx<'_, '_>) -> Result<Lsn, Outcome> {
    let lsn = own_location(ctx)?;
    record_master_baseline_at(ctx, lsn)
}

/// Publishes `lsn` as `<rsc>-master-baseline`.
fn record_master_baseline_at(ctx: &mut Ctx<'_, '_>, lsn: Lsn) -> Result<Lsn, Outcome> {
    ctx.log(LogLevel::Info, &format!("My master baseline : {lsn}."));
    let name = ctx.agent.names.master_baseline.clone();
    ctx.attrs
        .set_own(ctx.world.cluster, &name, &lsn.to_string())
        .map_err(|e| {
            Outcome::fail(
                OcfExit::ErrGeneric,
                format!("Can't record the master baseline: {e}"),
            )
        })?;
    Ok(lsn)
}

/// A survivor of a demote (post-demote): [`record_master_baseline`],
/// preceded by the origin of that WAL as `<rsc>-baseline-origin` (issue
/// 11: the pre-promote check compares histories). The origin is deleted
/// when the server cannot report it, so that a baseline is never paired
/// with a stale origin.
///
/// Where the baselines are compared (sync mode, 3 or more nodes: the
/// pre-promote check, stock §4.5 and issue 11), the baseline is also at
/// least the end of the WAL already in the local `pg_wal` (`pg_controldata`,
/// then `pg_waldump` from the last checkpoint along the history recovery
/// follows, [`end_on_followed_history`]): a standby replaying WAL it
/// had flushed (a restart, a slow replay) holds, and may have acknowledged,
/// commits past its replay and receive positions; a baseline from those
/// alone let a standby behind it take over and lose them (found by the
/// attack on issue 11's node-loss change, fixture
/// `issue11_baseline_counts_unreplayed_wal.txt`). When that end cannot be
/// read or is ambiguous (old-timeline WAL past the fork), no baseline is recorded (fail closed: nobody takes over or is
/// banned on this node's numbers, and the promotion goes on).
pub fn record_master_baseline_and_origin(ctx: &mut Ctx<'_, '_>) -> Result<Lsn, Outcome> {
    let r = read_and_record_baseline(ctx);
    if r.is_err() {
        withhold_baseline(ctx);
    }
    r
}

/// Deletes the own master-baseline and marks it [`BASELINE_WITHHELD`]:
/// withheld, not absent, so that the others' pre-promote check does not
/// fall back to this node's election location (replay and receive only) as
/// if no demote had happened (fourth attack on issue 11's baseline: a
/// promotee whose SQL failed at post-demote was overtaken that way).
fn withhold_baseline(ctx: &mut Ctx<'_, '_>) {
    let name = ctx.agent.names.master_baseline.clone();
    let r = ctx.attrs.delete_own(ctx.world.cluster, &name);
    ctx.warn_on_err("deleting the master baseline", r);
    let name = ctx.agent.names.baseline_origin.clone();
    let r = ctx
        .attrs
        .set_own(ctx.world.cluster, &name, BASELINE_WITHHELD)
        .map(|_| ());
    ctx.warn_on_err("marking the master baseline withheld", r);
}

fn read_and_record_baseline(ctx: &mut Ctx<'_, '_>) -> Result<Lsn, Outcome> {
    let mut lsn = own_location(ctx)?;
    let mut from_pg_wal = None;
    if ctx.agent.params.rep_mode == RepMode::Sync && ctx.agent.params.node_list.len() >= 3 {
        match local_wal_end(ctx) {
            Ok((he, system_id)) => {
                if he.end > lsn {
                    ctx.log(
                        LogLevel::Info,
                        &format!(
                            "My pg_wal holds WAL up to {}, past my replay and receive location {lsn}",
                            he.end
                        ),
                    );
                    lsn = he.end;
                }
                // Ranked on the timeline the end was read along (the one
                // recovery follows), never on a guess from the WAL receiver.
                from_pg_wal = Some(Origin {
                    timeline: he.timeline,
                    system_id,
                    switch_point: he.switch_point,
                });
            }
            Err(e) => {
                return Err(Outcome::fail(
                    OcfExit::ErrGeneric,
                    format!("Can't read the end of my WAL ({e}); no master baseline recorded"),
                ));
            }
        }
    }
    let origin = match from_pg_wal {
        Some(o) => Some(o),
        None => own_origin(ctx, lsn),
    }
    .map(|o| o.to_attr());
    let name = ctx.agent.names.baseline_origin.clone();
    let r = match origin.as_deref() {
        Some(v) => ctx.attrs.set_own(ctx.world.cluster, &name, v).map(|_| ()),
        None => ctx.attrs.delete_own(ctx.world.cluster, &name),
    };
    r.map_err(|e| {
        Outcome::fail(
            OcfExit::ErrGeneric,
            format!("Can't record the origin of the master baseline: {e}"),
        )
    })?;
    record_master_baseline_at(ctx, lsn)
}

/// The value of `<rsc>-baseline-origin` of a node that withheld its
/// master-baseline at post-demote (its end of WAL could not be read, or
/// was ambiguous): the others' pre-promote check then runs no fallback on
/// its election location, and the promotion goes on (issue 11, third
/// attack on the baseline's `pg_wal` reading).
pub const BASELINE_WITHHELD: &str = "withheld";

/// The end of the valid WAL in the local `pg_wal` on the history the
/// node's recovery follows ([`end_on_followed_history`]: the control file's
/// timeline from its last checkpoint, up to a newer timeline's switch point,
/// then that timeline), read with the server port's `pg_controldata` and
/// `pg_waldump`.
fn local_wal_end(ctx: &mut Ctx<'_, '_>) -> Result<(HistoryEnd, u64), String> {
    let control = ctx.world.server.control_data().map_err(|e| e.to_string())?;
    let histories = history_files_checked(ctx, control.timeline)?;
    let server = &mut *ctx.world.server;
    let he = end_on_followed_history(
        control.timeline,
        control.checkpoint,
        &histories,
        |t, from| server.wal_end(t, from),
    )?;
    Ok((he, control.system_id))
}

/// The local timeline and system identifier, `None` (logged) when the
/// server cannot report them: the election then compares LSNs alone (stock).
/// The timeline (with the checkpoint) comes from the control file, SQL's
/// only when `pg_controldata` fails. It is raised only to the timeline
/// recovery would follow ([`followable`]), and only when `my_end` (the
/// local end of WAL) is at or before its switch point from the own one or
/// a WAL receiver runs ([`crate::timeline::rank`]).
pub(super) fn own_origin(ctx: &mut Ctx<'_, '_>, my_end: Lsn) -> Option<Origin> {
    // The control file (`pg_controldata`) gives the timeline and the
    // checkpoint together; SQL (`pg_control_checkpoint()`, the same file)
    // the timeline alone when it cannot be read.
    let control = ctx.world.server.control_data().ok();
    let timeline = match &control {
        Some(c) => Ok(Some(c.timeline)),
        None => ctx.world.db.timeline(),
    };
    let system_id = ctx.world.db.system_identifier();
    match (timeline, system_id) {
        (Ok(Some(timeline)), Ok(Some(system_id))) => {
            // Only a history recovery would follow ranks the node (the
            // checkpoint from the control file; unknown: not checked).
            // Unknown checkpoint (pg_controldata failed): ranked on its own
            // timeline only (fourth attack: SQL's timeline with no
            // checkpoint raised a streaming standby to a refused timeline).
            let checkpoint = control.map(|c| c.checkpoint);
            let histories = followable(timeline, checkpoint, history_files(ctx, timeline));
            // A standby whose WAL receiver streams right now follows its
            // upstream's timeline: the WAL it received past a switch point
            // is that timeline's (its checkpoint timeline only lags until
            // the next restartpoint), so it is not a divergence.
            let streaming = match ctx.world.server.postmaster_pid() {
                Ok(Some(pid)) => ctx.world.server.wal_receiver_running(pid).unwrap_or(false),
                _ => false,
            };
            let end = if streaming { Lsn::ZERO } else { my_end };
            let ranking = rank(timeline, end, &histories);
            for d in &ranking.diverged {
                ctx.log(
                    LogLevel::Warn,
                    &format!("My WAL diverged: {d}; I am ranked on my own timeline {timeline}."),
                );
            }
            Some(Origin {
                timeline: ranking.timeline,
                system_id,
                switch_point: ranking.switch_point,
            })
        }
        (Err(e), _) | (_, Err(e)) => {
            ctx.log(
                LogLevel::Warn,
                &format!(
                    "Can't get my timeline and system identifier: {e}; comparing by location only."
                ),
            );
            None
        }
        _ => {
            ctx.log(
                LogLevel::Info,
                "The server does not report its timeline and system identifier; comparing by location only.",
            );
            None
        }
    }
}

/// The history files of timelines `own` and newer in the WAL directory,
/// parsed. A listing, read or parse error is logged and the file left out
/// (the node is then ranked on an older timeline: never above its data).
pub(super) fn history_files(ctx: &mut Ctx<'_, '_>, own: u32) -> Vec<(u32, Vec<HistoryEntry>)> {
    let (out, errors) = read_history_files(ctx, own);
    for e in errors {
        ctx.log(LogLevel::Warn, &e);
    }
    out
}

/// [`history_files`] where a file that cannot be listed, read or parsed is
/// an error (in words): the end of WAL along the followed history
/// ([`end_on_followed_history`]) must not be read without it.
pub(super) fn history_files_checked(
    ctx: &mut Ctx<'_, '_>,
    own: u32,
) -> Result<Vec<(u32, Vec<HistoryEntry>)>, String> {
    let (out, errors) = read_history_files(ctx, own);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors.join("; "))
    }
}

fn read_history_files(
    ctx: &mut Ctx<'_, '_>,
    own: u32,
) -> (Vec<(u32, Vec<HistoryEntry>)>, Vec<String>) {
    let wal_dir = if ctx.facts.pg_version.is_some_and(|v| v < 1000) {
        "pg_xlog"
    } else {
        "pg_wal"
    };
    let dir = format!(
        "{}/{wal_dir}",
        ctx.agent.params.pgdata.trim_end_matches('/')
    );
    let names = match ctx.world.fs.list_dir(&dir) {
        Ok(names) => names,
        Err(e) => return (Vec::new(), vec![format!("Can't list {dir}: {e}")]),
    };
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for name in names {
        let Some(tli) = history_file_timeline(&name).filter(|t| *t >= own) else {
            continue;
        };
        let path = format!("{dir}/{name}");
        match ctx.world.fs.read(&path) {
            Ok(Some(text)) => match parse_history(&text) {
                Ok(entries) => out.push((tli, entries)),
                Err(e) => errors.push(format!("{path}: {e}; ignored")),
            },
            Ok(None) => {}
            Err(e) => errors.push(format!("Can't read {path}: {e}; ignored")),
        }
    }
    (out, errors)
}

/// A node's published `<rsc>-xlog-tli`: `Ok(None)` when not published (the
/// election compares it by LSN alone, stock), `Err` (in words naming the
/// node, the attribute and the value) when it cannot be read or recognised.
fn published_origin(ctx: &mut Ctx<'_, '_>, node: &str) -> Result<Option<Origin>, String> {
    let name = ctx.agent.names.xlog_tli.clone();
    match ctx.world.cluster.get_attr(node, &name, Lifetime::Reboot) {
        Ok(Some(v)) => Origin::parse_attr(&v)
            .map(Some)
            .map_err(|_| format!("{node}: unrecognised {name} {}", quoted(&v))),
        Ok(None) => Ok(None),
        Err(e) => Err(format!("{node}: can't read {name}: {e}")),
    }
}

/// Whether the local server, found running as a primary by a probe while no
/// other instance is Promoted, may be taken as the cluster's primary
/// (resource-agents PR #1277) — only with the cluster's data: its own
/// data-status absent (first boot) or `LATEST`, and its timeline and system
/// identifier not refused by [`lineage_eligibility`] against the origins
/// the cluster's primaries recorded. `Err` holds the reason (issue 9: a
/// standby promoted outside the cluster must not become primary by a
/// re-probe).
pub fn probe_claim(ctx: &mut Ctx<'_, '_>) -> Result<(), String> {
    let names = &ctx.agent.names;
    let local = ctx.attrs.local.clone();
    let ds_name = names.data_status.clone();
    let own = ctx
        .world
        .cluster
        .get_attr(&local, &ds_name, Lifetime::Forever)
        .map_err(|e| format!("can't read my {ds_name}: {e}"))?;
    // The data-status first (as before): no other read when it refuses.
    probe_claim_of(&ds_name, own.as_deref(), None, None)?;
    let recorded = recorded_primary_origins(ctx)?;
    let mine = primary_origin_now(ctx);
    probe_claim_of(
        &ds_name,
        own.as_deref(),
        mine,
        cluster_origin(&recorded).as_ref(),
    )
}

/// A recurring Promoted monitor's check of the local primary's lineage
/// (issue 9's rule, [`lineage_eligibility`], found missing by a settled
/// fault schedule on 2026-12-01): a primary promoted outside the cluster
/// whose own promote the cluster refused may still hold the Promoted role
/// (the failure expired before Pacemaker recovered it); its timeline is
/// newer than any the cluster's primaries recorded, so it must not keep
/// the role. The same attribute snapshot the probe reads: no extra
/// program. `Err` holds the reason.
pub fn promoted_claim(ctx: &mut Ctx<'_, '_>) -> Result<(), String> {
    let recorded = recorded_primary_origins(ctx)?;
    let mine = primary_origin_now(ctx);
    lineage_eligibility(mine, cluster_origin(&recorded).as_ref())
}

/// The local primary's timeline and system identifier: the timeline is the
/// newest of the checkpoint's and the history files' in the WAL directory
/// (right after `pg_ctl promote` the checkpoint still shows the old one).
/// `None` when the server cannot report them. Also the timeline a
/// promotion candidate compares demote checkpoints on (a standby fetches
/// the history file of a timeline it follows).
pub(super) fn primary_origin_now(ctx: &mut Ctx<'_, '_>) -> Option<Origin> {
    let timeline = ctx.world.db.timeline().ok().flatten()?;
    let system_id = ctx.world.db.system_identifier().ok().flatten()?;
    let newest = history_files(ctx, timeline)
        .iter()
        .map(|(t, _)| *t)
        .fold(timeline, u32::max);
    Some(Origin::new(newest, system_id))
}

/// Every node_list node's `<rsc>-primary-origin`. An unrecognised or
/// unreadable value is an error in words naming the node, the attribute
/// and the value (fail closed: the caller takes no part).
pub(super) fn recorded_primary_origins(
    ctx: &mut Ctx<'_, '_>,
) -> Result<Vec<(String, Origin)>, String> {
    let name = ctx.agent.names.primary_origin.clone();
    recorded_forever(ctx, &name, |v| {
        Origin::parse_attr(v).map_err(|_| format!("unrecognised {name} {}", quoted(v)))
    })
}

/// Every node_list node's forever attribute `name`, parsed by `parse`
/// (its error follows "<node>: "). An unreadable or unrecognised value is
/// an error naming the node: the caller decides nothing from a partial view.
fn recorded_forever<T>(
    ctx: &mut Ctx<'_, '_>,
    name: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<(String, T)>, String> {
    let mut out = Vec::new();
    for node in &ctx.agent.params.node_list {
        match ctx.world.cluster.get_attr(node, name, Lifetime::Forever) {
            Ok(Some(v)) => out.push((node.clone(), parse(&v).map_err(|e| format!("{node}: {e}"))?)),
            Ok(None) => {}
            Err(e) => return Err(format!("{node}: can't read {name}: {e}")),
        }
    }
    Ok(out)
}

/// A node that takes no part removes its published location and timeline
/// (a stale one must not count in the others' rounds), its finality mark
/// and the observation behind it (issue 16); also at stop and after a
/// promotion. Failures are logged, never returned.
pub fn withdraw_location(ctx: &mut Ctx<'_, '_>) {
    let names = &ctx.agent.names;
    let (fin, loc, tli) = (
        names.xlog_final.clone(),
        names.xlog_loc.clone(),
        names.xlog_tli.clone(),
    );
    let r = ctx.attrs.delete_own(ctx.world.cluster, &fin);
    ctx.warn_on_err("deleting the xlog final mark", r);
    let r = ctx.attrs.delete_own(ctx.world.cluster, &loc);
    ctx.warn_on_err("deleting the xlog location", r);
    let r = ctx.attrs.delete_own(ctx.world.cluster, &tli);
    ctx.warn_on_err("deleting the xlog timeline", r);
    forget_final_observation(ctx);
}

/// Issue 16: removes the tmpdir file of the last observation that proved
/// this node's position final (at start, when the node takes no part).
/// Failures are logged.
pub fn forget_final_observation(ctx: &mut Ctx<'_, '_>) {
    let path = ctx.tmp_path(FINAL_SEEN_FILE);
    if let Err(e) = ctx.world.fs.remove(&path) {
        ctx.log(LogLevel::Warn, &format!("Can't remove {path}: {e}"));
    }
}

/// Issue 16: this monitor's observation of the local server
/// ([`crate::election::observed_final`]) at the location `my_lsn` it
/// publishes, kept in tmpdir for the next monitor, and the finality mark
/// it earns with the previous observation ([`final_mark`]). An unreadable
/// activity, file or a file that cannot be written earns no mark.
fn own_final_mark(ctx: &mut Ctx<'_, '_>, my_lsn: Lsn) -> Option<Lsn> {
    let activity = ctx.world.db.recovery_activity().ok().flatten();
    let upstream = match activity {
        Some(RecoveryActivity {
            receiver_connecting: true,
            receiver_pid: Some(pid),
            ..
        }) => ctx.world.system.connection_answer(pid),
        _ => UpstreamAnswer::Unknown,
    };
    let now = observed_final(activity.as_ref(), my_lsn, upstream);
    let path = ctx.tmp_path(FINAL_SEEN_FILE);
    let previous = match ctx.world.fs.read(&path) {
        Ok(text) => text.and_then(|t| Lsn::parse_attr(t.trim()).ok()),
        Err(_) => None,
    };
    let written = match now {
        Some(lsn) => ctx
            .world
            .fs
            .write(&path, &lsn.to_string(), FileOwner::Root, 0o600)
            .is_ok(),
        None => {
            forget_final_observation(ctx);
            true
        }
    };
    if !written {
        return None;
    }
    final_mark(previous, now)
}

/// Issue 16: a node whose recorded data-status keeps it out of the
/// election (stock §4.3) publishes no location, but still its finality
/// mark ([`own_final_mark`] at its own location): the early election then
/// knows it runs and that its position cannot move. Failures withdraw the
/// mark (logged).
fn publish_final_out_of_election(ctx: &mut Ctx<'_, '_>) {
    let name = ctx.agent.names.xlog_final.clone();
    let mark = match own_location(ctx) {
        Ok(lsn) => own_final_mark(ctx, lsn),
        Err(_) => None,
    };
    match mark {
        Some(lsn) => {
            let r = ctx
                .attrs
                .set_own(ctx.world.cluster, &name, &lsn.to_string());
            ctx.warn_on_err("publishing the xlog final mark", r);
        }
        None => {
            let r = ctx.attrs.delete_own(ctx.world.cluster, &name);
            ctx.warn_on_err("withdrawing the xlog final mark", r);
        }
    }
}

/// Issue 16: true when a node's recorded data-status keeps it out of the
/// election whatever its position (`DISCONNECT` and the like, stock §4.3;
/// not a superset-only or quorum status, not an unrecognised value): the
/// count-based rule does not wait for its location either.
pub(crate) fn out_of_election(rep_mode: RepMode, raw: Option<&str>) -> bool {
    raw.is_some_and(|v| {
        eligibility_of_attr(rep_mode, Some(v)).is_err()
            && !superset_only_status(rep_mode, Some(v))
            && v != "STREAMING|QUORUM"
            && v.parse::<DataStatus>()
                .is_ok_and(|d| d.is_known() && d.to_string() == v)
    })
}

/// Issue 16: every node_list node's published `<rsc>-xlog-final`, for
/// [`crate::election::proven_final`]. An unreadable or malformed mark is
/// `None` (the node is not proven final).
pub(super) fn finality(ctx: &mut Ctx<'_, '_>) -> Finality {
    let params = &ctx.agent.params;
    let names = &ctx.agent.names;
    let cluster = &mut *ctx.world.cluster;
    let marks = params
        .node_list
        .iter()
        .map(|n| {
            let mark = cluster
                .get_attr(n, &names.xlog_final, Lifetime::Reboot)
                .ok()
                .flatten()
                .and_then(|v| Lsn::parse_attr(&v).ok());
            (n.clone(), mark)
        })
        .collect();
    let out_of_election = params
        .node_list
        .iter()
        .filter(|n| {
            let raw = cluster
                .get_attr(n, &names.data_status, Lifetime::Forever)
                .ok()
                .flatten();
            out_of_election(params.rep_mode, raw.as_deref())
        })
        .cloned()
        .collect();
    Finality {
        node_list: params.node_list.clone(),
        marks,
        out_of_election,
    }
}

/// Records the local server's `<timeline>:<system identifier>` as
/// `<rsc>-primary-origin` (forever): called when the cluster made this node
/// its primary (promote, or a probe that found the only primary). The
/// timeline is the newest of the checkpoint's and the history files' in the
/// WAL directory (right after `pg_ctl promote` the checkpoint still shows
/// the old one). Nothing is written when the server cannot report them.
///
/// `began`: where this node began writing on a timeline it kept (a
/// promotion by restart, `restart_on_promote`: the end of the WAL it had
/// received), recorded as the origin's switch point
/// `<timeline>:<system identifier>:<LSN>` so that a crashed old primary
/// can tell whether its WAL goes past it (issue 10, `crate::rejoin` rows 6a–6b).
/// `None` (a probe) keeps a recorded switch point of the same timeline
/// and system.
pub fn record_primary_origin(ctx: &mut Ctx<'_, '_>, began: Option<Lsn>) -> Result<(), Outcome> {
    let Some(mut origin) = primary_origin_now(ctx) else {
        ctx.log(
            LogLevel::Info,
            "The server does not report its timeline and system identifier; no primary origin recorded.",
        );
        return Ok(());
    };
    let local = ctx.attrs.local.clone();
    let name = ctx.agent.names.primary_origin.clone();
    let current = ctx
        .world
        .cluster
        .get_attr(&local, &name, Lifetime::Forever)
        .map_err(generic("Can't read my primary origin"))?;
    origin.switch_point = match began {
        Some(lsn) => Some(lsn),
        None => current
            .as_deref()
            .and_then(|v| Origin::parse_attr(v).ok())
            .filter(|o| o.timeline == origin.timeline && o.system_id == origin.system_id)
            .and_then(|o| o.switch_point),
    };
    if current.as_deref() != Some(origin.to_attr().as_str()) {
        ctx.world
            .cluster
            .set_attr(&local, &name, &origin.to_attr(), Lifetime::Forever)
            .map_err(generic("Can't record my primary origin"))?;
    }
    if let Some(point) = began {
        record_fork_point(ctx, origin.timeline, origin.system_id, point)?;
    }
    Ok(())
}

/// Adds `point` to the local `<rsc>-primary-forks` ([`ForkRecord::adding`]):
/// every promotion by restart on the same timeline keeps the earlier
/// points (issue 10; an operator attack found a second promotion erasing
/// the first fork, after which a diverged old primary was "followed"). An
/// unreadable record is replaced (logged): its points are lost.
fn record_fork_point(
    ctx: &mut Ctx<'_, '_>,
    timeline: u32,
    system_id: u64,
    point: Lsn,
) -> Result<(), Outcome> {
    let local = ctx.attrs.local.clone();
    let name = ctx.agent.names.primary_forks.clone();
    let current = ctx
        .world
        .cluster
        .get_attr(&local, &name, Lifetime::Forever)
        .map_err(generic("Can't read my fork points"))?;
    let previous = match current.as_deref().map(ForkRecord::parse_attr) {
        None => None,
        Some(Ok(r)) => Some(r),
        Some(Err(e)) => {
            ctx.log(LogLevel::Warn, &format!("{name}: {e}; replaced"));
            None
        }
    };
    // Its place in the order of such promotions on this timeline: after
    // every one any node recorded (an unreadable record fails the promote:
    // a wrong order could hide a fork).
    let last = recorded_fork_points(ctx)
        .map_err(|e| Outcome::fail(OcfExit::ErrGeneric, e))?
        .iter()
        .filter(|(_, r)| r.is_on(timeline, system_id))
        .map(|(_, r)| r.last_seq())
        .max()
        .unwrap_or(0);
    let point = crate::forks::ForkPoint {
        seq: last + 1,
        lsn: point,
    };
    let record = ForkRecord::adding(previous, timeline, system_id, point);
    if current.as_deref() != Some(record.to_attr().as_str()) {
        ctx.world
            .cluster
            .set_attr(&local, &name, &record.to_attr(), Lifetime::Forever)
            .map_err(generic("Can't record my fork points"))?;
    }
    Ok(())
}

/// Every node_list node's `<rsc>-primary-forks`. An unreadable or
/// unrecognised value is an error naming the node (fail closed: the crash
/// rejoin then decides nothing).
pub(super) fn recorded_fork_points(
    ctx: &mut Ctx<'_, '_>,
) -> Result<Vec<(String, ForkRecord)>, String> {
    let name = ctx.agent.names.primary_forks.clone();
    recorded_forever(ctx, &name, |v| {
        ForkRecord::parse_attr(v).map_err(|e| format!("{name}: {e}"))
    })
}

fn generic<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> Outcome + '_ {
    move |e| Outcome::fail(OcfExit::ErrGeneric, format!("{what}: {e}"))
}

/// One round of `have_master_right` on a standby that sees no primary.
/// True when this node won (its score is now 1000).
pub fn have_master_right(ctx: &mut Ctx<'_, '_>) -> Result<bool, Outcome> {
    let agent = ctx.agent;
    let params = &agent.params;
    let names = &agent.names;
    let local = ctx.attrs.local.clone();
    let own = ctx
        .world
        .cluster
        .get_attr(&local, &names.data_status, Lifetime::Forever)
        .map_err(generic("Can't read my data status"))?;
    // Issue 11: the quorum commit set recorded by the primary; an
    // unreadable record refuses the election (fail closed).
    let quorum = match super::quorum_record::read_record(ctx, &local) {
        Ok(q) => q,
        Err(e) => {
            ctx.log(
                LogLevel::Warn,
                &format!("{e}; taking no part in the election until it is readable"),
            );
            withdraw_location(ctx);
            return Ok(false);
        }
    };
    let my_quorum_member = quorum_member(quorum.as_ref(), &local, own.as_deref());
    let my_superset_only =
        !my_quorum_member && superset_only_status(params.rep_mode, own.as_deref());
    if my_quorum_member {
        ctx.log(
            LogLevel::Info,
            "A quorum commit member: I take part in the election among the recorded members (issue 11).",
        );
    } else if my_superset_only {
        ctx.log(
            LogLevel::Info,
            "Not a synchronous standby: I take part in the election only if I hold all of an eligible node's WAL on the same history (issue 11).",
        );
    } else if let Err(reason) = eligibility_of_attr(params.rep_mode, own.as_deref()) {
        let level = if own.as_deref().is_some_and(|v| {
            v.parse::<DataStatus>()
                .map_or(true, |d| !d.is_known() || d.to_string() != v)
        }) {
            LogLevel::Warn
        } else {
            LogLevel::Info
        };
        let detail = match own.as_deref() {
            Some(v) if level == LogLevel::Warn => {
                format!(
                    "{local}: unrecognised {} {}; {reason}",
                    names.data_status,
                    quoted(v)
                )
            }
            _ => reason,
        };
        ctx.log(level, &detail);
        if level == LogLevel::Info {
            publish_final_out_of_election(ctx);
        }
        return Ok(false);
    }
    let my_lsn = own_location(ctx)?;
    let baseline = ctx
        .world
        .cluster
        .get_attr(&local, &names.sync_baseline, Lifetime::Forever)
        .map_err(generic("Can't read my sync baseline"))?;
    if let Err(reason) = handover_eligibility(baseline.as_deref(), my_lsn) {
        match baseline.as_deref() {
            Some(v) if Lsn::parse_attr(v).is_err() => ctx.log(
                LogLevel::Warn,
                &format!(
                    "{local}: unrecognised {} {}; {reason}",
                    names.sync_baseline,
                    quoted(v)
                ),
            ),
            _ => ctx.log(LogLevel::Info, &reason),
        }
        // It takes no part: a location it published before must not count
        // in the others' rounds (eleventh attack's observation).
        withdraw_location(ctx);
        return Ok(false);
    }
    let my_origin = own_origin(ctx, my_lsn);
    let recorded = match recorded_primary_origins(ctx) {
        Ok(r) => r,
        Err(e) => {
            ctx.log(
                LogLevel::Warn,
                &format!("{e}; taking no part in the election until it is readable"),
            );
            withdraw_location(ctx);
            return Ok(false);
        }
    };
    if let Err(reason) = lineage_eligibility(my_origin, cluster_origin(&recorded).as_ref()) {
        ctx.log(LogLevel::Warn, &reason);
        withdraw_location(ctx);
        return Ok(false);
    }
    // Issue 16: a mark from an earlier round never vouches for a new
    // location: it goes before the location changes.
    let mark = own_final_mark(ctx, my_lsn);
    if mark.is_none() {
        ctx.attrs
            .delete_own(ctx.world.cluster, &names.xlog_final)
            .map_err(generic("Can't withdraw my final mark"))?;
    }
    ctx.attrs
        .set_own(ctx.world.cluster, &names.xlog_loc, &my_lsn.to_string())
        .map_err(generic("Can't publish my xlog location"))?;
    match my_origin {
        Some(origin) => {
            ctx.attrs
                .set_own(ctx.world.cluster, &names.xlog_tli, &origin.to_attr())
                .map_err(generic("Can't publish my timeline"))?;
        }
        None => {
            let r = ctx.attrs.delete_own(ctx.world.cluster, &names.xlog_tli);
            ctx.warn_on_err("deleting the xlog timeline", r);
        }
    }
    // Issue 16: the mark that this node's position cannot move, written
    // after the location it vouches for (removed before, above).
    // Published for the first time (absent or another position before):
    // the write was made, not skipped as unchanged.
    let mut mark_is_new = false;
    if let Some(lsn) = mark {
        let written = ctx
            .attrs
            .set_own(ctx.world.cluster, &names.xlog_final, &lsn.to_string())
            .map_err(generic("Can't publish my final mark"))?;
        mark_is_new = written == WriteResult::Written;
    }
    let own = OwnInputs {
        my_lsn,
        my_origin,
        my_superset_only,
        quorum,
    };
    let (mut round, unreadable) = match read_round(ctx, &own, true) {
        Ok(read) => read,
        Err(e) => {
            withhold_score(ctx, &e)?;
            return Ok(false);
        }
    };
    let finality = finality(ctx);
    let mut decision = decide_with_finality(&round, &unreadable, Some(&finality));
    // Issue 16: the other nodes' monitors may be publishing their
    // locations and marks right now (a cold start runs them together):
    // the first monitor that publishes this mark waits a moment for them.
    if let Some(own_mark) = mark.filter(|_| mark_is_new) {
        if unreadable.is_empty()
            && !decision.verdict.is_decided()
            && awaits_marks(&round, &finality, &super::await_marks::running_nodes(ctx))
        {
            if let Some((r, d)) = super::await_marks::await_marks(ctx, &own, own_mark) {
                round = r;
                decision = d;
            }
        }
    }
    if matches!(decision.verdict, Verdict::Winner | Verdict::Loser) {
        journal_election(ctx, &round, &decision);
    }
    for warning in &decision.warnings {
        ctx.log(LogLevel::Warn, warning);
    }
    ctx.log(LogLevel::Info, &decision.reason);
    let write_note = |ctx: &mut Ctx<'_, '_>, round: u32, text: &str| {
        let path = ctx.tmp_path(&note_file_name(round));
        ctx.world.fs.write(&path, text, FileOwner::Root, 0o600)
    };
    let written = match &decision.notes {
        NotesChange::ResetTo(text) => {
            remove_notes(ctx);
            write_note(ctx, 0, text)
        }
        NotesChange::Save { round, text } => write_note(ctx, *round, text),
        NotesChange::Clear => {
            remove_notes(ctx);
            Ok(())
        }
    };
    if let Err(e) = written {
        withhold_score(ctx, &format!("Can't write an xlog note: {e}"))?;
        return Ok(false);
    }
    restore_withheld_score(ctx)?;
    match decision.verdict {
        Verdict::Winner => {
            ctx.attrs
                .set_own_score(ctx.world.cluster, Score::PROMOTE_ME)
                .map_err(generic("Can't set my promotion score"))?;
            Ok(true)
        }
        Verdict::Loser => {
            let lost = Ineligible::LostElection {
                detail: decision.reason.clone(),
            };
            ctx.attrs
                .set_data_status(ctx.world.cluster, &local, &lost.disconnect())
                .map_err(generic("Can't set my data status"))?;
            Ok(false)
        }
        Verdict::Restarted | Verdict::Waiting | Verdict::Yield => Ok(false),
    }
}

/// This node's own standing as the election reads it: its data-status,
/// sync baseline and promotion score, the quorum record and every recorded
/// primary origin (read errors in words). An election monitor waiting for
/// the others' marks stops when it changes (issue 16, review of the
/// read-again): a `DISCONNECT` or `-INFINITY` written for this node
/// meanwhile (an operator, another node's promotion) must not be
/// overwritten by a decision made on the first read's standing.
#[derive(Debug, PartialEq)]
pub(super) struct Standing {
    data_status: Result<Option<String>, String>,
    sync_baseline: Result<Option<String>, String>,
    score: Result<Option<String>, String>,
    quorum: Result<Option<QuorumSet>, String>,
    origins: Result<Vec<(String, Origin)>, String>,
}

/// Reads [`Standing`] through the cluster port (its current read).
pub(super) fn own_standing(ctx: &mut Ctx<'_, '_>) -> Standing {
    let local = ctx.attrs.local.clone();
    let names = &ctx.agent.names;
    let cluster = &mut *ctx.world.cluster;
    let mut attr = |name: &str, lifetime: Lifetime| {
        cluster
            .get_attr(&local, name, lifetime)
            .map_err(|e| e.to_string())
    };
    let data_status = attr(&names.data_status, Lifetime::Forever);
    let sync_baseline = attr(&names.sync_baseline, Lifetime::Forever);
    let score = attr(&names.master_score, Lifetime::Reboot);
    let quorum = super::quorum_record::read_record(ctx, &local);
    let origins = recorded_primary_origins(ctx);
    Standing {
        data_status,
        sync_baseline,
        score,
        quorum,
        origins,
    }
}

/// This node's own inputs to a round, read once per monitor.
pub(super) struct OwnInputs {
    /// The location this node publishes.
    pub my_lsn: Lsn,
    /// Its `<timeline>:<system identifier>`, when known.
    pub my_origin: Option<Origin>,
    /// True when it takes part only as a superset (issue 11).
    pub my_superset_only: bool,
    /// The recorded quorum commit set (issue 11).
    pub quorum: Option<QuorumSet>,
}

/// Reads one round of the election from the cluster and tmpdir: every
/// node_list node's published location and origin, their standings, the
/// count's notes. `Ok((round, unreadable))`, `unreadable` the election
/// inputs that could not be read, in words (logged when `log`); `Err` when
/// tmpdir cannot be listed (issue 17 item 4: the score is then withheld).
pub(super) fn read_round(
    ctx: &mut Ctx<'_, '_>,
    own: &OwnInputs,
    log: bool,
) -> Result<(Round, Vec<String>), String> {
    let params = &ctx.agent.params;
    let names = &ctx.agent.names;
    let local = ctx.attrs.local.clone();
    let mut observed = Vec::new();
    let mut unreadable = Vec::new();
    for node in &params.node_list {
        match ctx
            .world
            .cluster
            .get_attr(node, &names.xlog_loc, Lifetime::Reboot)
        {
            Ok(Some(v)) => match Lsn::parse_attr(&v) {
                Ok(lsn) => match published_origin(ctx, node) {
                    Ok(origin) => observed.push(Observation {
                        node: node.clone(),
                        lsn,
                        origin,
                    }),
                    Err(e) => unreadable.push(e),
                },
                Err(_) => unreadable.push(format!(
                    "{node}: unrecognised {} {}",
                    names.xlog_loc,
                    quoted(&v)
                )),
            },
            Ok(None) if log => ctx.log(LogLevel::Warn, &format!("Can't get {node} xlog location.")),
            Ok(None) => {}
            Err(e) => unreadable.push(format!("{node}: can't read {}: {e}", names.xlog_loc)),
        }
    }
    if log {
        for u in &unreadable {
            ctx.log(LogLevel::Warn, u);
        }
    }
    // A tmpdir that cannot be listed (a file, a symlink loop, no permission)
    // is treated like one that cannot be written: the healthy standby keeps
    // running and its score is withheld (issue 17 item 4).
    let files = ctx
        .world
        .fs
        .list_dir(&params.tmpdir)
        .map_err(|e| format!("Can't list tmpdir {}: {e}", params.tmpdir))?;
    let (superset_only, not_eligible) = standings(
        ctx,
        &observed,
        &local,
        own.my_superset_only,
        own.quorum.as_ref(),
    );
    let completed = completed_rounds(&files, params.xlog_check_count);
    let previous = ctx
        .world
        .fs
        .read(&ctx.tmp_path(&note_file_name(completed)))
        .unwrap_or(None);
    let round = Round {
        my_lsn: own.my_lsn,
        my_origin: own.my_origin,
        observed,
        completed,
        previous,
        check_count: params.xlog_check_count,
        superset_only,
        not_eligible,
        my_superset_only: own.my_superset_only,
        quorum: own.quorum.clone(),
    };
    Ok((round, unreadable))
}

/// Issue 11 (quorum commit): `node` is a member of the recorded quorum set
/// and its data-status is exactly `STREAMING|QUORUM`: it takes part in the
/// election like a synchronous standby (Patroni's rule applies to the
/// winner, [`crate::quorum::enough_members`]).
pub(crate) fn quorum_member(quorum: Option<&QuorumSet>, node: &str, raw: Option<&str>) -> bool {
    quorum.is_some_and(|q| q.members.iter().any(|m| m == node)) && raw == Some("STREAMING|QUORUM")
}

/// Issue 11 (B2-14): a data-status (exact agent text) that in sync mode
/// lets a standby take part in the election only as a superset of an
/// eligible node: `STREAMING|ASYNC` or `STREAMING|POTENTIAL`.
pub(crate) fn superset_only_status(rep_mode: RepMode, raw: Option<&str>) -> bool {
    rep_mode == RepMode::Sync
        && raw
            .and_then(|v| v.parse::<DataStatus>().ok().filter(|d| d.to_string() == v))
            .is_some_and(|d| d.is_streaming("ASYNC") || d.is_streaming("POTENTIAL"))
}

/// The standing of every observed node for [`crate::election::Round`]:
/// the superset-only ones (this node included when it is one) and the
/// ones known not eligible (data-status or sync baseline refused, or
/// unreadable: such a node never vouches for a superset).
fn standings(
    ctx: &mut Ctx<'_, '_>,
    observed: &[Observation],
    local: &str,
    my_superset_only: bool,
    quorum: Option<&QuorumSet>,
) -> (Vec<String>, Vec<String>) {
    let names = &ctx.agent.names;
    let rep_mode = ctx.agent.params.rep_mode;
    let cluster = &mut *ctx.world.cluster;
    standings_of(
        rep_mode,
        observed,
        local,
        my_superset_only,
        quorum,
        |node| {
            let status = cluster.get_attr(node, &names.data_status, Lifetime::Forever);
            let baseline = cluster.get_attr(node, &names.sync_baseline, Lifetime::Forever);
            match (status, baseline) {
                (Ok(s), Ok(b)) => Some((s, b)),
                _ => None,
            }
        },
    )
}

/// [`standings`] over any source of the nodes' `<rsc>-data-status` and
/// `<rsc>-sync-baseline` (`None`: unreadable); `explain` runs it over its
/// snapshot (issue 13: the same rule, not a re-derived one).
pub(crate) fn standings_of(
    rep_mode: RepMode,
    observed: &[Observation],
    local: &str,
    my_superset_only: bool,
    quorum: Option<&QuorumSet>,
    mut attrs: impl FnMut(&str) -> Option<(Option<String>, Option<String>)>,
) -> (Vec<String>, Vec<String>) {
    let mut superset_only = Vec::new();
    let mut not_eligible = Vec::new();
    for o in observed {
        if o.node == local {
            if my_superset_only {
                superset_only.push(o.node.clone());
            }
            continue;
        }
        match attrs(&o.node) {
            Some((status, baseline)) => {
                if quorum_member(quorum, &o.node, status.as_deref()) {
                    if handover_eligibility(baseline.as_deref(), o.lsn).is_err() {
                        not_eligible.push(o.node.clone());
                    }
                } else if superset_only_status(rep_mode, status.as_deref()) {
                    superset_only.push(o.node.clone());
                } else if eligibility_of_attr(rep_mode, status.as_deref()).is_err()
                    || handover_eligibility(baseline.as_deref(), o.lsn).is_err()
                {
                    not_eligible.push(o.node.clone());
                }
            }
            None => not_eligible.push(o.node.clone()),
        }
    }
    (superset_only, not_eligible)
}

/// The election note could not be written (e.g. tmpdir full): the standby
/// stays healthy (the monitor succeeds) but must not be promoted on an
/// election it cannot count, so its own score becomes -INFINITY. The score
/// it had is kept in `<rsc>-withheld-score` (first failure only) for
/// [`restore_withheld_score`]. Only an attribute error fails the monitor.
fn withhold_score(ctx: &mut Ctx<'_, '_>, why: &str) -> Result<(), Outcome> {
    let names = &ctx.agent.names;
    let local = ctx.attrs.local.clone();
    ctx.log(
        LogLevel::Err,
        &format!("{why}; withholding my promotion score (-INFINITY) until it can be written"),
    );
    let kept = ctx
        .world
        .cluster
        .get_attr(&local, &names.withheld_score, Lifetime::Reboot)
        .map_err(generic("Can't read my withheld score"))?;
    if kept.is_none() {
        let score = ctx
            .world
            .cluster
            .get_attr(&local, &names.master_score, Lifetime::Reboot)
            .map_err(generic("Can't read my promotion score"))?;
        let value = score.unwrap_or_else(|| NO_SCORE.to_string());
        ctx.attrs
            .set_own(ctx.world.cluster, &names.withheld_score, &value)
            .map_err(generic("Can't keep my withheld score"))?;
    }
    ctx.attrs
        .set_own_score(
            ctx.world.cluster,
            Ineligible::ElectionNoteUnwritable.score(),
        )
        .map_err(generic("Can't withhold my promotion score"))?;
    Ok(())
}

/// `<rsc>-withheld-score` when the standby had no score at all.
const NO_SCORE: &str = "none";

/// The note could be written again: the score withheld by
/// [`withhold_score`] comes back (unless something else changed it since),
/// before the election's verdict applies.
fn restore_withheld_score(ctx: &mut Ctx<'_, '_>) -> Result<(), Outcome> {
    let names = &ctx.agent.names;
    let local = ctx.attrs.local.clone();
    let Some(kept) = ctx
        .world
        .cluster
        .get_attr(&local, &names.withheld_score, Lifetime::Reboot)
        .map_err(generic("Can't read my withheld score"))?
    else {
        return Ok(());
    };
    let now = ctx
        .world
        .cluster
        .get_attr(&local, &names.master_score, Lifetime::Reboot)
        .map_err(generic("Can't read my promotion score"))?;
    if now.as_deref() == Some(Score::CAN_NOT_PROMOTE.to_string().as_str()) {
        let r = if kept == NO_SCORE {
            ctx.attrs.delete_own(ctx.world.cluster, &names.master_score)
        } else {
            ctx.attrs
                .set_own(ctx.world.cluster, &names.master_score, &kept)
                .map(|_| ())
        };
        r.map_err(generic("Can't restore my promotion score"))?;
        ctx.log(
            LogLevel::Info,
            &format!("The xlog note is written again: my promotion score {kept} is restored"),
        );
    }
    clear_withheld_score(ctx);
    Ok(())
}

/// Forgets a withheld score (a primary exists again, or the instance stops):
/// it must never come back later.
pub fn clear_withheld_score(ctx: &mut Ctx<'_, '_>) {
    let name = ctx.agent.names.withheld_score.clone();
    let r = ctx.attrs.delete_own(ctx.world.cluster, &name);
    ctx.warn_on_err("deleting the withheld score", r);
}

/// Journals a decided round (issue 13): the candidates, their positions,
/// the verdict and the election's reason.
fn journal_election(ctx: &mut Ctx<'_, '_>, round: &Round, decision: &crate::election::Decision) {
    let candidates = round
        .observed
        .iter()
        .map(|o| crate::journal::Candidate {
            node: o.node.clone(),
            location: o.lsn.to_pg(),
            timeline: o.origin.map(|x| x.timeline),
        })
        .collect();
    let verdict = match decision.verdict {
        Verdict::Winner => "winner",
        Verdict::Loser => "loser",
        Verdict::Waiting => "waiting",
        Verdict::Restarted => "restarted",
        Verdict::Yield => "yield",
    };
    ctx.journal(
        "monitor",
        crate::journal::Event::Election {
            verdict: verdict.into(),
            my_location: round.my_lsn.to_pg(),
            candidates,
            highest: decision.highest.map(|h| h.to_pg()),
            reason: decision.reason.clone(),
        },
    );
}
