//! Starting and stopping the server with bounded polls: `pgsql_real_start`
//! and `pgsql_real_stop`, without the stock agent's unbounded loops (bug L),
//! without deleting a live `postmaster.pid` (bug F) or a `backup_label` (G).

use super::health::{postmaster_alive, real_monitor, Health};
use super::{Ctx, LOCK_FILE};
use crate::budget::escalation;
use crate::decide::start::ServerState;
use crate::ocf::{OcfExit, Outcome};
use crate::ports::{FileOwner, LogLevel, StopMode};
use crate::recovery::config_value;
use crate::slots::slots_for_others;

/// Which escalation delay a stop uses, and whether it may remove the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopKind {
    /// `stop_escalate`; removes `PGSQL.lock` when no standby instance exists (demote).
    Master,
    /// `stop_escalate_in_slave` (replication stop, restart_on_promote).
    Slave,
    /// `stop_escalate` (non-replication stop).
    Plain,
}

/// Stops PostgreSQL: `stop -m fast`, then `stop -m immediate` after the
/// escalation delay, then waits until the postmaster is gone, all within the
/// action's budget. `Err` when it is still running at the deadline.
pub fn real_stop(ctx: &mut Ctx<'_, '_>, kind: StopKind) -> Result<(), Outcome> {
    let agent = ctx.agent;
    let params = &agent.params;
    if params.check_wal_receiver {
        let r = ctx
            .attrs
            .delete_own(ctx.world.cluster, &agent.names.receiver_status);
        ctx.warn_on_err("deleting the receiver status", r);
    }
    if postmaster_alive(ctx)?.is_none() {
        return Ok(());
    }
    let configured = match kind {
        StopKind::Slave => params.stop_escalate_in_slave,
        StopKind::Master | StopKind::Plain => params.stop_escalate,
    };
    let esc = escalation(configured, agent.context.timeout_ms);
    if esc.capped {
        ctx.log(
            LogLevel::Info,
            &format!(
                "stop escalation delay capped at {}s by the operation timeout",
                esc.delay.as_secs()
            ),
        );
    }
    if !esc.delay.is_zero() {
        if let Err(e) = ctx.world.server.stop(StopMode::Fast) {
            ctx.log(LogLevel::Warn, &format!("pg_ctl stop -m fast failed: {e}"));
        }
        let until = ctx.world.clock.now() + esc.delay;
        while postmaster_alive(ctx)?.is_some() && ctx.world.clock.now() < until {
            if !ctx.pause_poll() {
                break;
            }
        }
    }
    if postmaster_alive(ctx)?.is_some() {
        ctx.log(
            LogLevel::Info,
            "PostgreSQL still running: stopping it with -m immediate",
        );
        if let Err(e) = ctx.world.server.stop(StopMode::Immediate) {
            ctx.log(
                LogLevel::Warn,
                &format!("pg_ctl stop -m immediate failed: {e}"),
            );
        }
        while postmaster_alive(ctx)?.is_some() {
            if !ctx.pause_poll() {
                return Err(ctx.fail(
                    OcfExit::ErrGeneric,
                    format!(
                        "PostgreSQL is still running {}s after the stop began",
                        ctx.budget.timeout.as_secs()
                    ),
                ));
            }
        }
    }
    ctx.world.db.reset();
    if let Err(e) = ctx.world.server.remove_stale_pid_file() {
        ctx.log(
            LogLevel::Warn,
            &format!("Can't remove the stale postmaster.pid: {e}"),
        );
    }
    if kind == StopKind::Master && agent.context.notify_lists.unpromoted_given_empty {
        let lock = ctx.tmp_path(LOCK_FILE);
        match ctx.world.fs.remove(&lock) {
            Ok(true) => ctx.log(
                LogLevel::Info,
                &format!("Removed {lock}: no standby instance is running"),
            ),
            Ok(false) => {}
            Err(e) => ctx.log(LogLevel::Warn, &format!("Can't remove {lock}: {e}")),
        }
    }
    ctx.log(LogLevel::Info, "PostgreSQL is down");
    Ok(())
}

/// How `real_start` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    /// PostgreSQL was already running and answering.
    AlreadyRunning(Health),
    /// PostgreSQL is up now.
    Up(Health),
}

fn perm(ctx: &mut Ctx<'_, '_>, reason: String) -> Outcome {
    ctx.fail(OcfExit::ErrPerm, reason)
}

/// Prepares the log file, socket and stats directories (stock steps 4–6).
fn prepare_directories(ctx: &mut Ctx<'_, '_>) -> Result<(), Outcome> {
    let params = &ctx.agent.params;
    let (logfile, socketdir, pgdba) = (
        params.logfile.clone(),
        params.socketdir.clone(),
        params.pgdba.clone(),
    );
    let fs = &mut *ctx.world.fs;
    let created = match fs.metadata(&logfile) {
        Ok(Some(_)) => false,
        Ok(None) => {
            if let Err(e) = fs.write(&logfile, "", FileOwner::Pgdba, 0o600) {
                return Err(perm(
                    ctx,
                    format!("PostgreSQL can't write to the log file: {e}"),
                ));
            }
            true
        }
        Err(e) => {
            return Err(perm(
                ctx,
                format!("PostgreSQL can't write to the log file: {e}"),
            ))
        }
    };
    // Stock `test -w` as pgdba: a file pgdba can't reach (a directory it
    // can't enter) is refused with 4, and a file created for the test is
    // not left behind (issue 12, attack finding 7).
    if !matches!(ctx.world.fs.writable_by(&logfile, &pgdba), Ok(true)) {
        if created {
            let _ = ctx.world.fs.remove(&logfile);
        }
        return Err(perm(
            ctx,
            format!("PostgreSQL can't write to the log file: {logfile}"),
        ));
    }
    if !socketdir.is_empty() {
        let ok = match ctx.world.fs.metadata(&socketdir) {
            Ok(None) => ctx
                .world
                .fs
                .create_dir_all(&socketdir, FileOwner::Pgdba, 0o2775)
                .is_ok(),
            Ok(Some(_)) => matches!(ctx.world.fs.writable_by(&socketdir, &pgdba), Ok(true)),
            Err(_) => false,
        };
        if !ok {
            return Err(perm(
                ctx,
                format!("Can't create or write to the socket directory {socketdir}"),
            ));
        }
    }
    let config = ctx.agent.params.config.clone();
    let stats = match ctx.world.fs.read(&config) {
        Ok(Some(text)) => config_value(&text, "stats_temp_directory"),
        _ => None,
    };
    if let Some(dir) = stats.filter(|d| !d.is_empty()) {
        let path = if dir.starts_with('/') {
            dir
        } else {
            ctx.pgdata_path(&dir)
        };
        let is_dir = matches!(ctx.world.fs.metadata(&path), Ok(Some(m)) if m.is_dir);
        if !is_dir
            && ctx
                .world
                .fs
                .create_dir_all(&path, FileOwner::Pgdba, 0o700)
                .is_err()
        {
            return Err(perm(
                ctx,
                format!("Can't create the stats_temp_directory {path}"),
            ));
        }
    }
    Ok(())
}

/// Polls the real monitor until PostgreSQL answers, within the budget.
pub fn wait_until_up(ctx: &mut Ctx<'_, '_>, what: &str) -> Result<Health, Outcome> {
    let mut last: String;
    // No live postmaster for a whole second: it exited (the first polls
    // may come before a new postmaster wrote its pid file).
    let mut down_since: Option<std::time::Duration> = None;
    loop {
        match real_monitor(ctx, 1) {
            Ok(h) if h.is_up() => return Ok(h),
            Ok(_) => {
                last = "PostgreSQL is down".to_string();
                let now = ctx.world.clock.now();
                let since = *down_since.get_or_insert(now);
                if now.saturating_sub(since) >= EXITED_AFTER {
                    return Err(exited(ctx, what));
                }
            }
            Err(o) => {
                last = o.reason.unwrap_or_default();
                down_since = None;
            }
        }
        if !ctx.pause_poll() {
            return Err(ctx.fail(
                OcfExit::ErrGeneric,
                format!(
                    "PostgreSQL did not {what} within {}s: {last}",
                    ctx.budget.timeout.as_secs()
                ),
            ));
        }
    }
}

/// How long no live postmaster means it exited during a start.
const EXITED_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// How many last lines of `logfile` a failed start logs.
const LOGFILE_LINES: usize = 5;

/// The postmaster exited while the agent waited for it: the last lines of
/// `logfile` (the server's own words) are logged, and the reason points at
/// the file and quotes its last line.
fn exited(ctx: &mut Ctx<'_, '_>, what: &str) -> Outcome {
    let logfile = ctx.agent.params.logfile.clone();
    let text = ctx
        .world
        .fs
        .read(&logfile)
        .ok()
        .flatten()
        .unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = &lines[lines.len().saturating_sub(LOGFILE_LINES)..];
    for line in tail {
        ctx.log(LogLevel::Err, &format!("{logfile}: {}", line.trim()));
    }
    let quote = tail
        .last()
        .map(|l| format!(": {}", l.trim()))
        .unwrap_or_default();
    ctx.fail(
        OcfExit::ErrGeneric,
        format!(
            "PostgreSQL exited instead of getting ready to {what}; see logfile={logfile}{quote}"
        ),
    )
}

/// Drops the replication slots of the other nodes that exist (start).
pub fn drop_other_slots(ctx: &mut Ctx<'_, '_>) -> Result<(), Outcome> {
    let params = &ctx.agent.params;
    for slot in slots_for_others(
        &params.replication_slot_name,
        &params.node_list,
        &ctx.attrs.local,
    ) {
        let r = ctx.world.db.slot_exists(&slot).and_then(|exists| {
            if exists {
                ctx.world.db.drop_slot(&slot)
            } else {
                Ok(())
            }
        });
        if let Err(e) = r {
            return Err(ctx.fail(
                OcfExit::ErrGeneric,
                format!("Can't clean up replication slot {slot}: {e}"),
            ));
        }
    }
    Ok(())
}

/// The [`ServerState`] of an answering server.
pub fn state_of(h: Health) -> ServerState {
    match h {
        Health::Down => ServerState::Down,
        Health::Running => ServerState::Running,
        Health::Primary => ServerState::Primary,
        Health::Standby => ServerState::Standby,
    }
}

fn health_of(s: ServerState) -> Health {
    match s {
        ServerState::Running => Health::Running,
        ServerState::Primary => Health::Primary,
        ServerState::Standby => Health::Standby,
        ServerState::Down | ServerState::Unresponsive { .. } => Health::Down,
    }
}

/// Looks at the server before a start (`pgsql_real_start` step 1): the real
/// monitor, and when it fails, whether a postmaster is alive anyway.
pub fn find_server(ctx: &mut Ctx<'_, '_>) -> Result<ServerState, Outcome> {
    match real_monitor(ctx, 1) {
        Ok(h) if h.is_up() => {
            ctx.log(LogLevel::Info, "PostgreSQL is already running");
            Ok(state_of(h))
        }
        Ok(_) => Ok(ServerState::Down),
        Err(o) => match postmaster_alive(ctx)? {
            Some(pid) => {
                ctx.log(
                    LogLevel::Warn,
                    &format!(
                        "postmaster {pid} is alive but not answering ({}); not starting a second one, waiting for it",
                        o.reason.unwrap_or_default()
                    ),
                );
                Ok(ServerState::Unresponsive { pid })
            }
            None => Ok(ServerState::Down),
        },
    }
}

/// Waits until a live but unresponsive postmaster answers, then cleans up
/// the other nodes' slots.
pub fn wait_for_server(ctx: &mut Ctx<'_, '_>) -> Result<Health, Outcome> {
    let h = wait_until_up(ctx, "answer")?;
    drop_other_slots(ctx)?;
    Ok(h)
}

/// Starts a server that is down (`pgsql_real_start` steps 2–11) and waits
/// until it answers, within the budget.
pub fn start_server(ctx: &mut Ctx<'_, '_>) -> Result<Health, Outcome> {
    if let Err(e) = ctx.world.server.remove_stale_pid_file() {
        ctx.log(
            LogLevel::Warn,
            &format!("Can't remove the stale postmaster.pid: {e}"),
        );
    }
    let label = ctx.pgdata_path("backup_label");
    if matches!(ctx.world.fs.metadata(&label), Ok(Some(_))) {
        ctx.log(
            LogLevel::Info,
            &format!(
                "{label} exists; it is kept (PostgreSQL needs it to recover from a base backup)"
            ),
        );
    }
    prepare_directories(ctx)?;
    if let Err(e) = ctx.world.server.start() {
        return Err(ctx.fail(OcfExit::ErrGeneric, format!("Can't start PostgreSQL. {e}")));
    }
    ctx.world.db.reset();
    let h = wait_until_up(ctx, "start")?;
    drop_other_slots(ctx)?;
    ctx.log(LogLevel::Info, "PostgreSQL is started");
    Ok(h)
}

/// Starts PostgreSQL and waits until it answers (`pgsql_real_start`), used
/// by promote with `restart_on_promote`; `start` walks the same steps
/// through [`crate::decide::start`].
pub fn real_start(ctx: &mut Ctx<'_, '_>) -> Result<Started, Outcome> {
    match find_server(ctx)? {
        ServerState::Down => start_server(ctx).map(Started::Up),
        ServerState::Unresponsive { .. } => wait_for_server(ctx).map(Started::Up),
        answering => Ok(Started::AlreadyRunning(health_of(answering))),
    }
}
