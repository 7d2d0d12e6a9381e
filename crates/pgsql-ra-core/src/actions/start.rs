//! `start` (stock §1.1): a plain start in non-replication modes; in sync/async
//! mode the node always starts as a hot standby, refused while `PGSQL.lock`
//! exists. What to do with the lock and the server found is decided by
//! [`crate::decide::start`].

use super::lock::consider_lock;
use super::prepare::{prepare, write_recovery_conf, write_rep_mode_conf};
use super::server_ctl::{
    find_server, real_stop, start_server, state_of, wait_for_server, StopKind,
};
use super::{Ctx, LOCK_FILE};
use crate::decide::start::{start_decision, ServerState, StartAction, StartInput};
use crate::election::NOTE_PREFIX;
use crate::ineligible::Ineligible;
use crate::ocf::{OcfExit, Outcome};
use crate::params::RepMode;
use crate::ports::{Cluster, LogLevel};
use crate::recovery::recovery_conf_path;
use crate::status::PgStatus;
use crate::sync_mode;
use crate::validate::start_refusal;

/// Runs `start`.
pub fn start(ctx: &mut Ctx<'_, '_>) -> Outcome {
    if ctx.is_replication() {
        return replication_start(ctx);
    }
    if ctx.agent.params.rep_mode == RepMode::Slave {
        if let Err(o) = prepare(ctx).and_then(|_| write_recovery_conf(ctx)) {
            return o;
        }
    }
    match decided_start(ctx, None, None) {
        Ok(code) => Outcome::code(code),
        Err(o) => o,
    }
}

/// Walks [`start_decision`]: looks at the server, starts it or waits for
/// it, as the decision says. `lock` is the path of `PGSQL.lock` when it
/// exists (sync/async); `found` what the server was already found to be,
/// if it was looked at. `Ok` with the exit code when the server part of
/// the start succeeded.
fn decided_start(
    ctx: &mut Ctx<'_, '_>,
    lock: Option<String>,
    found: Option<ServerState>,
) -> Result<OcfExit, Outcome> {
    let mut input = StartInput {
        rep_mode: ctx.agent.params.rep_mode,
        lock: lock.clone(),
        lock_check: None,
        found,
        came_up: None,
    };
    // Each step fills one input; five steps always conclude.
    for _ in 0..5 {
        let decision = start_decision(&input);
        ctx.log(LogLevel::Debug, &format!("start: {}", decision.reason));
        match decision.action {
            StartAction::ConsiderLock => {
                let path = lock.clone().unwrap_or_default();
                input.lock_check = Some(consider_lock(ctx, &path));
            }
            StartAction::LookAtServer => input.found = Some(find_server(ctx)?),
            StartAction::StartServer => input.came_up = Some(state_of(start_server(ctx)?)),
            StartAction::WaitForServer => input.came_up = Some(state_of(wait_for_server(ctx)?)),
            StartAction::Succeed { code } => return Ok(code),
            StartAction::Refuse { code } => {
                journal_refusal(ctx, &decision);
                return Err(ctx.fail(code, decision.reason.to_string()));
            }
        }
    }
    Err(ctx.fail(OcfExit::ErrGeneric, "the start decision did not conclude"))
}

fn cluster_step<T>(
    ctx: &mut Ctx<'_, '_>,
    what: &str,
    f: impl FnOnce(&super::Attrs, &mut dyn Cluster) -> Result<T, crate::ports::ClusterError>,
) -> Result<T, Outcome> {
    f(&ctx.attrs, ctx.world.cluster)
        .map_err(|e| Outcome::fail(OcfExit::ErrGeneric, format!("{what} failed: {e}")))
}

/// Removes `xlog_note.*` from tmpdir.
pub fn remove_notes(ctx: &mut Ctx<'_, '_>) {
    let tmpdir = ctx.agent.params.tmpdir.clone();
    let names = ctx.world.fs.list_dir(&tmpdir).unwrap_or_default();
    for name in names.iter().filter(|n| n.starts_with(NOTE_PREFIX)) {
        let path = ctx.tmp_path(name);
        if let Err(e) = ctx.world.fs.remove(&path) {
            ctx.log(LogLevel::Warn, &format!("Can't remove {path}: {e}"));
        }
    }
}

fn replication_start(ctx: &mut Ctx<'_, '_>) -> Outcome {
    let problems = ctx.cluster_problems();
    if let Some(o) = start_refusal(&problems) {
        return ctx.fail(o.code, o.reason.unwrap_or_default());
    }
    let lock = ctx.tmp_path(LOCK_FILE);
    let present = match ctx.world.fs.metadata(&lock) {
        Ok(m) => m.is_some(),
        Err(e) => return ctx.fail(OcfExit::ErrGeneric, format!("Can't check {lock}: {e}")),
    };
    // Without the lock, the server is looked at before anything changes
    // (issue 12, B2-08): a running hot standby is a successful start that
    // keeps its status, score and configuration; a running primary is
    // refused without touching any attribute or file. With the lock, the
    // stock order stays: the attribute steps, then the lock refusal.
    // With the lock (the normal case on a primary), a server answering as
    // a primary is still "already running as a primary": refused before
    // any attribute or file changes, and without the advice to remove the
    // lock of a live primary (issue 12, attack finding 10). A server that
    // is down or a standby keeps the stock order below.
    // A postmaster that is alive but does not answer is refused the same
    // way: it may be a primary, and the lock's rules (lone primary, crash
    // rejoin) are for one that is gone (issue 12, re-attack item 2).
    if present {
        if let Some(o) = refuse_live_server(ctx, &lock) {
            return o;
        }
    }
    let mut found = None;
    if !present {
        let state = match find_server(ctx) {
            Ok(s) => s,
            Err(o) => return o,
        };
        let decision = start_decision(&StartInput {
            rep_mode: ctx.agent.params.rep_mode,
            lock: None,
            lock_check: None,
            found: Some(state),
            came_up: None,
        });
        ctx.log(LogLevel::Debug, &format!("start: {}", decision.reason));
        match decision.action {
            StartAction::Succeed { code } => {
                ctx.log(
                    LogLevel::Info,
                    "PostgreSQL is already running as a hot standby; start leaves it and its attributes as they are",
                );
                return Outcome::code(code);
            }
            StartAction::Refuse { code } => {
                journal_refusal(ctx, &decision);
                return ctx.fail(code, decision.reason.to_string());
            }
            StartAction::ConsiderLock
            | StartAction::LookAtServer
            | StartAction::StartServer
            | StartAction::WaitForServer => found = Some(state),
        }
    }
    let agent = ctx.agent;
    let names = &agent.names;
    let local = ctx.attrs.local.clone();
    let steps = cluster_step(ctx, "setting the status to STOP", |a, c| {
        a.set_status(c, &local, PgStatus::Stop)
    })
    .and_then(|_| {
        cluster_step(ctx, "deleting the master baseline", |a, c| {
            a.delete_own(c, &names.master_baseline)
        })
    })
    .and_then(|_| {
        cluster_step(ctx, "deleting the origin of the master baseline", |a, c| {
            a.delete_own(c, &names.baseline_origin)
        })
    })
    .and_then(|_| {
        cluster_step(ctx, "setting the score to -INFINITY", |a, c| {
            a.set_own_score(c, Ineligible::Starting.score())
        })
    });
    if let Err(o) = steps {
        return ctx.fail(o.code, o.reason.unwrap_or_default());
    }
    if let Err(o) = prepare(ctx) {
        return o;
    }
    remove_notes(ctx);
    let rep_mode_conf = ctx.tmp_path(sync_mode::FILE_NAME);
    let recovery_conf = recovery_conf_path(&agent.params, ctx.facts.pg_version);
    for path in [rep_mode_conf, recovery_conf] {
        if let Err(e) = ctx.world.fs.remove(&path) {
            ctx.log(LogLevel::Warn, &format!("Can't remove {path}: {e}"));
        }
    }
    if let Err(o) = write_recovery_conf(ctx) {
        return o;
    }
    if let Err(o) = cluster_step(ctx, "deleting the xlog location", |a, c| {
        a.delete_own(c, &names.xlog_loc)
    }) {
        return ctx.fail(o.code, o.reason.unwrap_or_default());
    }
    let r = ctx.attrs.delete_own(ctx.world.cluster, &names.xlog_tli);
    ctx.warn_on_err("deleting the xlog timeline", r);
    let r = ctx.attrs.delete_own(ctx.world.cluster, &names.xlog_final);
    ctx.warn_on_err("deleting the xlog final mark", r);
    super::elect::forget_final_observation(ctx);
    // The node's own `<rsc>-demote-checkpoint` stays (issue 10, operator
    // attack): its WAL still holds that checkpoint after a restart, and
    // only a promotion that passed the check (or this node's own) may
    // retire it; deleting it here let a standby that lacked it be promoted.
    if agent.params.rep_mode == RepMode::Sync {
        if let Err(o) = write_rep_mode_conf(ctx, &[]) {
            return ctx.fail(
                o.code,
                format!(
                    "Can't set all nodes into async mode. {}",
                    o.reason.unwrap_or_default()
                ),
            );
        }
    }
    if let Err(o) = decided_start(ctx, present.then_some(lock), found) {
        return o;
    }
    if let Err(o) = check_sync_names(ctx) {
        return o;
    }
    if let Err(o) = cluster_step(ctx, "setting the status to HS:alone", |a, c| {
        a.set_status(c, &local, PgStatus::HsAlone)
    }) {
        return ctx.fail(o.code, o.reason.unwrap_or_default());
    }
    ctx.log(LogLevel::Info, "PostgreSQL is started as a hot standby");
    Outcome::success()
}

/// The started standby must run with an empty `synchronous_standby_names`
/// (stock §1.1: the primary manages it through `rep_mode.conf`; an
/// operator's own value in postgresql.conf is refused with 6). Bug H
/// (issue 11, case B2-07): the stock agent returned the refusal and left the
/// PostgreSQL it had just started running; a refused start now stops what
/// it started before it fails.
fn check_sync_names(ctx: &mut Ctx<'_, '_>) -> Result<(), Outcome> {
    let (code, reason) = match ctx.world.db.synchronous_standby_names() {
        Ok(v) if v.trim().is_empty() => return Ok(()),
        Ok(_) => (
            OcfExit::ErrConfigured,
            "Invalid synchronous_standby_names is set in postgresql.conf.".to_string(),
        ),
        Err(e) => (
            OcfExit::ErrGeneric,
            format!("show synchronous_standby_names failed: {e}"),
        ),
    };
    let reason = match real_stop(ctx, StopKind::Slave) {
        Ok(_) => format!("{reason} PostgreSQL was stopped again."),
        Err(o) => format!(
            "{reason} Stopping PostgreSQL again failed: {}",
            o.reason.unwrap_or_default()
        ),
    };
    Err(ctx.fail(code, reason))
}

/// Journals a refused start with its outcome variant (issue 13).
fn journal_refusal(ctx: &mut Ctx<'_, '_>, decision: &crate::decide::start::StartDecision) {
    use crate::explain::Explain;
    ctx.journal(
        "start",
        crate::journal::Event::Refusal {
            decision: "start".into(),
            rule: decision.rule(),
            reason: decision.reason.to_string(),
        },
    );
}

/// `Some(refusal)` when `PGSQL.lock` (at `lock`) belongs to a live server:
/// one that answers as a primary, or a postmaster that is alive but does
/// not answer; also when the server refuses the login for good (4).
/// `None` otherwise, also when the postmaster can't be checked (the lock
/// rule then decides, as before).
fn refuse_live_server(ctx: &mut Ctx<'_, '_>, lock: &str) -> Option<Outcome> {
    let state = match find_server(ctx) {
        Ok(s) => s,
        Err(o) if o.code == OcfExit::ErrPerm => return Some(o),
        Err(_) => return None,
    };
    let decision = start_decision(&StartInput {
        rep_mode: ctx.agent.params.rep_mode,
        lock: Some(lock.to_string()),
        lock_check: None,
        found: Some(state),
        came_up: None,
    });
    ctx.log(
        LogLevel::Debug,
        &format!("start (PGSQL.lock present): {}", decision.reason),
    );
    match decision.action {
        StartAction::Refuse { code } => {
            journal_refusal(ctx, &decision);
            Some(ctx.fail(code, decision.reason.to_string()))
        }
        _ => None,
    }
}
