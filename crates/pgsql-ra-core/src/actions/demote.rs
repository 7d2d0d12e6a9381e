//! `demote` (stock §1.5, issue 10 item 2). The stock agent stops
//! PostgreSQL and keeps `PGSQL.lock`, so the old primary stays down until an
//! operator rebuilds it. Here a *clean* stop continues as a hot standby:
//!
//! 1. score -INFINITY and the master baseline deleted (stock);
//! 2. `pg_ctl stop -m fast`: PostgreSQL sends all WAL, its shutdown
//!    checkpoint included, to the connected standbys before it exits;
//! 3. if it stopped without escalating to `-m immediate` and
//!    `pg_controldata` says "shut down" (a primary's clean shutdown), the
//!    shutdown checkpoint is published as `<rsc>-demote-checkpoint`
//!    (`<timeline>:<LSN>`, [`crate::demote_checkpoint`]) for the promotion
//!    candidate to check, `PGSQL.lock` is removed, the standby
//!    configuration pointing at `master_ip` is written and the server
//!    started as a hot standby (`HS:alone`), all within the demote timeout.
//!
//! Otherwise (the stop escalated or failed, the server was found dead, the
//! control data is unreadable or not a clean primary shutdown, the
//! checkpoint cannot be published) it is the stock behaviour: the server
//! stays stopped, `PGSQL.lock` is kept, the status is `STOP`. A restart as
//! a standby that fails after the checkpoint was published fails the
//! demote with the reason (Pacemaker then stops the instance); the lock is
//! already removed then, since the candidate's check protects that WAL.

use super::health::{postmaster_alive, Health};
use super::prepare::{prepare, write_recovery_conf, write_rep_mode_conf};
use super::server_ctl::{real_stop, start_server, StopKind, Stopped};
use super::start::remove_notes;
use super::{Ctx, LOCK_FILE};
use crate::demote_checkpoint::DemoteCheckpoint;
use crate::ineligible::Ineligible;
use crate::ocf::{OcfExit, Outcome};
use crate::params::RepMode;
use crate::ports::{DbClusterState, LogLevel};
use crate::status::PgStatus;

/// Runs `demote`.
pub fn demote(ctx: &mut Ctx<'_, '_>) -> Outcome {
    if !ctx.is_replication() {
        return ctx.fail(OcfExit::ErrConfigured, "Not in a replication mode.");
    }
    let names = &ctx.agent.names;
    let local = ctx.attrs.local.clone();
    if let Err(e) = ctx
        .attrs
        .set_own_score(ctx.world.cluster, Ineligible::Demoting.score())
    {
        return ctx.fail(
            OcfExit::ErrGeneric,
            format!("Can't set the promotion score to -INFINITY: {e}"),
        );
    }
    let r = ctx
        .attrs
        .delete_own(ctx.world.cluster, &names.master_baseline);
    ctx.warn_on_err("deleting the master baseline", r);
    // Its origin (or the `withheld` mark) lives and dies with it.
    let r = ctx
        .attrs
        .delete_own(ctx.world.cluster, &names.baseline_origin);
    ctx.warn_on_err("deleting the origin of the master baseline", r);
    let stopped = match postmaster_alive(ctx) {
        Err(o) => return o,
        Ok(Some(_)) => match real_stop(ctx, StopKind::Master) {
            Ok(s) => s,
            Err(o) => {
                let r = ctx
                    .attrs
                    .set_status(ctx.world.cluster, &local, PgStatus::Unknown);
                ctx.warn_on_err("setting the status to UNKNOWN", r);
                return o;
            }
        },
        Ok(None) => Stopped::WasDown,
    };
    if let Some(checkpoint) = clean_shutdown_checkpoint(ctx, stopped) {
        return continue_as_standby(ctx, checkpoint);
    }
    let r = ctx
        .attrs
        .set_status(ctx.world.cluster, &local, PgStatus::Stop);
    ctx.warn_on_err("setting the status to STOP", r);
    Outcome::success()
}

/// The shutdown checkpoint when the stop was a clean shutdown of a primary,
/// else `None` with the reason logged (the stock behaviour follows).
fn clean_shutdown_checkpoint(ctx: &mut Ctx<'_, '_>, stopped: Stopped) -> Option<DemoteCheckpoint> {
    let control = match stopped {
        Stopped::Fast => ctx
            .world
            .server
            .control_data()
            .map_err(|e| format!("can't read the control data: {e}")),
        Stopped::WasDown => Err("PostgreSQL was not running (crashed)".to_string()),
        Stopped::Immediate => Err("the stop escalated to -m immediate".to_string()),
    };
    let why = match control {
        Ok(cd) if cd.state == DbClusterState::ShutDown => {
            return Some(DemoteCheckpoint {
                timeline: cd.timeline,
                lsn: cd.checkpoint,
            })
        }
        Ok(cd) => format!(
            "pg_controldata says \"{}\", not a clean shutdown of a primary",
            state_words(&cd.state)
        ),
        Err(why) => why,
    };
    let line = format!(
        "Not continuing as a standby: {why}; PostgreSQL stays stopped and PGSQL.lock is kept."
    );
    ctx.log(LogLevel::Warn, &line);
    ctx.journal_rejoin("demote", "clean_demote", "stay_stopped", &line);
    None
}

/// `pg_controldata`'s words for a cluster state.
fn state_words(state: &DbClusterState) -> &str {
    match state {
        DbClusterState::ShutDown => "shut down",
        DbClusterState::ShutDownInRecovery => "shut down in recovery",
        DbClusterState::ShuttingDown => "shutting down",
        DbClusterState::InCrashRecovery => "in crash recovery",
        DbClusterState::InArchiveRecovery => "in archive recovery",
        DbClusterState::InProduction => "in production",
        DbClusterState::Other(text) => text,
    }
}

/// Publishes the checkpoint, removes the lock, writes the standby
/// configuration and starts a hot standby.
fn continue_as_standby(ctx: &mut Ctx<'_, '_>, checkpoint: DemoteCheckpoint) -> Outcome {
    let agent = ctx.agent;
    let local = ctx.attrs.local.clone();
    let name = agent.names.demote_checkpoint.clone();
    if let Err(e) = ctx
        .attrs
        .set_own_forever(ctx.world.cluster, &name, &checkpoint.to_attr())
    {
        let line =
            format!("Can't publish {name}: {e}; PostgreSQL stays stopped and PGSQL.lock is kept.");
        ctx.log(LogLevel::Warn, &line);
        ctx.journal_rejoin("demote", "clean_demote", "stay_stopped", &line);
        let r = ctx
            .attrs
            .set_status(ctx.world.cluster, &local, PgStatus::Stop);
        ctx.warn_on_err("setting the status to STOP", r);
        return Outcome::success();
    }
    let line = format!(
        "Clean shutdown: shutdown checkpoint {} on timeline {} published as {name}; continuing as a standby of {}",
        checkpoint.lsn.to_pg(),
        checkpoint.timeline,
        agent.params.master_ip
    );
    ctx.log(LogLevel::Info, &line);
    ctx.journal_rejoin("demote", "clean_demote", "continue_as_standby", &line);
    let lock = ctx.tmp_path(LOCK_FILE);
    match ctx.world.fs.remove(&lock) {
        Ok(true) => ctx.log(
            LogLevel::Info,
            &format!("Removed {lock}: clean shutdown, the promotion candidate checks it received the shutdown checkpoint"),
        ),
        Ok(false) => {}
        Err(e) => ctx.log(LogLevel::Warn, &format!("Can't remove {lock}: {e}")),
    }
    match restart_as_standby(ctx) {
        Ok(()) => {
            let r = ctx
                .attrs
                .set_status(ctx.world.cluster, &local, PgStatus::HsAlone);
            ctx.warn_on_err("setting the status to HS:alone", r);
            ctx.log(
                LogLevel::Info,
                "PostgreSQL is demoted and runs as a hot standby",
            );
            Outcome::success()
        }
        Err(reason) => {
            let r = ctx
                .attrs
                .set_status(ctx.world.cluster, &local, PgStatus::Stop);
            ctx.warn_on_err("setting the status to STOP", r);
            ctx.fail(
                OcfExit::ErrGeneric,
                format!("Demoted cleanly but can't continue as a standby: {reason}"),
            )
        }
    }
}

/// The start's configuration steps (tmpdir and includes, notes, an empty
/// `rep_mode.conf` in sync mode, the recovery configuration pointing at
/// `master_ip`), then the server started and found a hot standby.
fn restart_as_standby(ctx: &mut Ctx<'_, '_>) -> Result<(), String> {
    let reason = |o: Outcome| o.reason.unwrap_or_default();
    prepare(ctx).map_err(reason)?;
    remove_notes(ctx);
    if ctx.agent.params.rep_mode == RepMode::Sync {
        write_rep_mode_conf(ctx, &[]).map_err(reason)?;
    }
    write_recovery_conf(ctx).map_err(reason)?;
    match start_server(ctx).map_err(reason)? {
        Health::Standby => Ok(()),
        Health::Primary => {
            Err("PostgreSQL came up as a primary despite the standby configuration".into())
        }
        Health::Running | Health::Down => Err("PostgreSQL did not come up as a hot standby".into()),
    }
}
