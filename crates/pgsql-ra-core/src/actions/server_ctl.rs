//! Starting and stopping the server with bounded polls: `pgsql_real_start`
//! and `pgsql_real_stop`, without the stock agent's unbounded loops (bug L),
//! without deleting a live `postmaster.pid` (bug F) or a `backup_label` (G).

use super::health::{login_refused, postmaster_alive, probe_server, Health, NoAnswer};
use super::{Ctx, LOCK_FILE};
use crate::budget::{escalation, POLL_INTERVAL};
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

/// How [`real_stop`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// No postmaster was alive: nothing was stopped (a crash, or never started).
    WasDown,
    /// `-m fast` stopped it: a clean shutdown (shutdown checkpoint written).
    Fast,
    /// It had to be stopped with `-m immediate` (or `stop_escalate` is 0):
    /// crash recovery at the next start.
    Immediate,
}

/// Stops PostgreSQL: `stop -m fast`, then `stop -m immediate` after the
/// escalation delay, then waits until the postmaster is gone, all within the
/// action's budget. `Err` when it is still running at the deadline; `Ok`
/// says which mode stopped it.
pub fn real_stop(ctx: &mut Ctx<'_, '_>, kind: StopKind) -> Result<Stopped, Outcome> {
    let agent = ctx.agent;
    let params = &agent.params;
    if params.check_wal_receiver {
        let r = ctx
            .attrs
            .delete_own(ctx.world.cluster, &agent.names.receiver_status);
        ctx.warn_on_err("deleting the receiver status", r);
    }
    if postmaster_alive(ctx)?.is_none() {
        return Ok(Stopped::WasDown);
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
    let mut how = Stopped::Fast;
    if postmaster_alive(ctx)?.is_some() {
        how = Stopped::Immediate;
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
    Ok(how)
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
/// `log_from`: the length of `logfile` before this start (`None`: no start
/// was issued), so that only what this start wrote is quoted when the
/// postmaster exits.
pub fn wait_until_up(
    ctx: &mut Ctx<'_, '_>,
    what: &str,
    log_from: Option<u64>,
) -> Result<Health, Outcome> {
    let mut last: String;
    // No live postmaster for a whole second: it exited (the first polls
    // may come before a new postmaster wrote its pid file).
    let mut down_since: Option<std::time::Duration> = None;
    let mut interval = POLL_INTERVAL;
    loop {
        match probe_server(ctx, 1) {
            Ok(h) if h.is_up() => return Ok(h),
            Ok(_) => {
                last = "PostgreSQL is down".to_string();
                interval = POLL_INTERVAL;
                let now = ctx.world.clock.now();
                let since = *down_since.get_or_insert(now);
                if now.saturating_sub(since) >= EXITED_AFTER {
                    return Err(exited(ctx, what, log_from));
                }
            }
            // It answers, and says no for good: waiting cannot help.
            Err(NoAnswer::LoginRefused(e)) => return Err(login_refused(ctx, &e)),
            Err(NoAnswer::Failed(o)) => {
                last = o.reason.unwrap_or_default();
                down_since = None;
            }
        }
        let paused = ctx.pause(interval);
        // A postmaster that is starting (57P03) or not listening yet is
        // asked again, less and less often (issue 12, re-attack item 3).
        if down_since.is_none() {
            interval = (interval * 2).min(MAX_POLL_BACKOFF);
        }
        if !paused {
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

/// The longest pause between two attempts to reach a server that does not
/// answer yet.
const MAX_POLL_BACKOFF: std::time::Duration = std::time::Duration::from_secs(1);

/// How long no live postmaster means it exited during a start.
const EXITED_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// How many last lines of `logfile` a failed start logs.
const LOGFILE_LINES: usize = 5;

/// Where PostgreSQL's log goes nowhere.
const DEV_NULL: &str = "/dev/null";

/// The length of `logfile` now (0 when it does not exist or can't be read),
/// taken before `pg_ctl start`.
pub fn log_length(ctx: &mut Ctx<'_, '_>) -> u64 {
    let logfile = ctx.agent.params.logfile.clone();
    match ctx.world.fs.read_from(&logfile, u64::MAX) {
        Ok(Some((len, _))) => len,
        _ => 0,
    }
}

/// The lines this start wrote to `logfile` (all of it when it shrank, i.e.
/// was rotated or truncated, since `from`), blank lines left out.
fn new_log_lines(ctx: &mut Ctx<'_, '_>, from: u64) -> Vec<String> {
    let logfile = ctx.agent.params.logfile.clone();
    let text = match ctx.world.fs.read_from(&logfile, from) {
        Ok(Some((len, _))) if len < from => ctx
            .world
            .fs
            .read_from(&logfile, 0)
            .ok()
            .flatten()
            .map(|(_, t)| t)
            .unwrap_or_default(),
        Ok(Some((_, text))) => text,
        _ => String::new(),
    };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// What the server logs on every start or stop: never the cause of an exit.
const ROUTINE: &[&str] = &[
    "starting PostgreSQL",
    "listening on",
    "database system",
    "redirecting log output",
    "ending log output",
    "received ",
    "aborting any active transactions",
    "background worker",
    "shutting down",
];

/// The first line before the FATAL/PANIC at `fatal` that is a LOG, WARNING
/// or ERROR other than [`ROUTINE`]: the cause the FATAL line only sums up
/// ("could not bind IPv4 address …: Address already in use" before "FATAL:
/// could not create any TCP/IP sockets"; "syntax error in file … line 3"
/// before "FATAL: configuration file … contains errors"). Without the
/// severity.
fn cause_before(lines: &[String], fatal: usize) -> Option<String> {
    lines[..fatal].iter().find_map(|l| {
        let (at, sev) = ["LOG:", "WARNING:", "ERROR:"]
            .iter()
            .filter_map(|s| l.find(s).map(|i| (i, s.len())))
            .min()?;
        let text = l[at + sev..].trim();
        (!text.is_empty() && !ROUTINE.iter().any(|r| text.starts_with(r)))
            .then(|| text.split_whitespace().collect::<Vec<_>>().join(" "))
    })
}

/// The line to build a reason from: the last FATAL or PANIC line (the
/// server's reason to exit), else the last line; from its severity on
/// (the `log_line_prefix` timestamp and pid left out), blanks squeezed.
/// A FATAL/PANIC that sums up a cause logged before it comes after that
/// cause ([`cause_before`]; issue 12, re-attack item 6), so that the cause
/// is within the 128 bytes of an exit reason.
pub fn cause_line(lines: &[String]) -> Option<String> {
    let severity = |l: &str| ["PANIC:", "FATAL:"].iter().filter_map(|s| l.find(s)).min();
    if let Some((n, at)) = lines
        .iter()
        .enumerate()
        .rev()
        .find_map(|(n, l)| severity(l).map(|i| (n, i)))
    {
        let fatal = lines[n][at..]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        return Some(match cause_before(lines, n) {
            Some(cause) => format!("{cause}; {fatal}"),
            None => fatal,
        });
    }
    let line = lines.last()?;
    let at = ["ERROR:", "LOG:", "WARNING:"]
        .iter()
        .filter_map(|s| line.find(s))
        .min()
        .unwrap_or(0);
    Some(line[at..].split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The postmaster exited while the agent waited for it: the lines this
/// start wrote to `logfile` (the server's own words, at most the last
/// [`LOGFILE_LINES`]) are logged, and the reason gives the cause first
/// (the FATAL/PANIC line when there is one), then where to look. With
/// `logfile=/dev/null` the log is not kept: the reason says so.
fn exited(ctx: &mut Ctx<'_, '_>, what: &str, log_from: Option<u64>) -> Outcome {
    let logfile = ctx.agent.params.logfile.clone();
    if logfile == DEV_NULL {
        return ctx.fail(
            OcfExit::ErrGeneric,
            format!(
                "PostgreSQL exited instead of getting ready to {what}; its log is not kept (logfile={DEV_NULL}): set logfile to a file to see why"
            ),
        );
    }
    let lines = new_log_lines(ctx, log_from.unwrap_or(0));
    let tail = &lines[lines.len().saturating_sub(LOGFILE_LINES)..];
    for line in tail {
        ctx.log(LogLevel::Err, &format!("{logfile}: {line}"));
    }
    let (head, tail) = crate::quote::param_path("logfile", &logfile);
    let reason = match cause_line(&lines) {
        Some(cause) => format!("PostgreSQL exited: {cause} (see {head}){tail}"),
        None => format!(
            "PostgreSQL exited instead of getting ready to {what}; nothing new in {head}{tail}"
        ),
    };
    ctx.fail(OcfExit::ErrGeneric, reason)
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
///
/// # Errors
/// The server refuses the login for good: 4 (`OCF_ERR_PERM`) at once, naming the
/// parameters ([`login_refused`]); the postmaster can't be checked: 1.
pub fn find_server(ctx: &mut Ctx<'_, '_>) -> Result<ServerState, Outcome> {
    match probe_server(ctx, 1) {
        Ok(h) if h.is_up() => {
            ctx.log(LogLevel::Info, "PostgreSQL is already running");
            Ok(state_of(h))
        }
        Ok(_) => Ok(ServerState::Down),
        Err(NoAnswer::LoginRefused(e)) => Err(login_refused(ctx, &e)),
        Err(NoAnswer::Failed(o)) => match postmaster_alive(ctx)? {
            Some(pid) => {
                ctx.log(
                    LogLevel::Warn,
                    &format!(
                        "postmaster {pid} is alive but not answering ({}); not starting a second one",
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
    let h = wait_until_up(ctx, "answer", None)?;
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
    let log_from = log_length(ctx);
    if let Err(e) = ctx.world.server.start() {
        // The whole text to the log; the reason with the paths shortened,
        // so that pg_ctl's own words fit (issue 12, attack finding 9).
        let full = format!("Can't start PostgreSQL: {e}");
        ctx.log(LogLevel::Err, &full);
        let params = &ctx.agent.params;
        let short = crate::quote::shorten_paths_in(
            &full,
            &[
                &params.pgdata,
                &params.logfile,
                &params.pgctl,
                &params.config,
            ],
        );
        return Err(Outcome::fail(OcfExit::ErrGeneric, short));
    }
    ctx.world.db.reset();
    let h = wait_until_up(ctx, "start", Some(log_from))?;
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

#[cfg(test)]
mod log_tests {
    use super::cause_line;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn the_cause_is_the_fatal_line_without_its_prefix() {
        let log = lines(
            "2026-11-30 21:00:00.001 UTC [77] LOG:  starting PostgreSQL 15.8\n\
             2026-11-30 21:00:00.002 UTC [77] FATAL:  could not map anonymous shared memory: Cannot allocate memory\n\
             2026-11-30 21:00:00.002 UTC [77] HINT:  This error usually means that PostgreSQL's request...\n\
             2026-11-30 21:00:00.003 UTC [77] LOG:  database system is shut down",
        );
        assert_eq!(
            cause_line(&log).as_deref(),
            Some("FATAL: could not map anonymous shared memory: Cannot allocate memory")
        );
        let log = lines("x PANIC:  could not locate a valid checkpoint record\ny LOG:  aborted");
        assert_eq!(
            cause_line(&log).as_deref(),
            Some("PANIC: could not locate a valid checkpoint record")
        );
        // No FATAL/PANIC: the last line, from its severity on.
        let log = lines("2026-11-30 UTC [1] LOG:  database system is shut down");
        assert_eq!(
            cause_line(&log).as_deref(),
            Some("LOG: database system is shut down")
        );
        assert_eq!(
            cause_line(&lines("no prefix here")).as_deref(),
            Some("no prefix here")
        );
        assert_eq!(cause_line(&[]), None);
    }

    /// Issue 12 (re-attack item 6): PostgreSQL 15's own words when the port
    /// is taken and when postgresql.conf has an error: the cause is logged
    /// before the FATAL line, and comes first in the reason.
    #[test]
    fn a_cause_logged_before_the_fatal_line_comes_first() {
        let log = lines(
            "2026-12-01 00:38:47.676 UTC [3195] LOG:  starting PostgreSQL 15.20 (Debian 15.20-0+deb12u1) on x86_64-pc-linux-gnu\n\
             2026-12-01 00:38:47.676 UTC [3195] LOG:  could not bind IPv4 address \"127.0.0.5\": Address already in use\n\
             2026-12-01 00:38:47.676 UTC [3195] HINT:  Is another postmaster already running on port 45678? If not, wait a few seconds and retry.\n\
             2026-12-01 00:38:47.676 UTC [3195] WARNING:  could not create listen socket for \"127.0.0.5\"\n\
             2026-12-01 00:38:47.676 UTC [3195] FATAL:  could not create any TCP/IP sockets\n\
             2026-12-01 00:38:47.686 UTC [3195] LOG:  database system is shut down",
        );
        assert_eq!(
            cause_line(&log).as_deref(),
            Some("could not bind IPv4 address \"127.0.0.5\": Address already in use; FATAL: could not create any TCP/IP sockets")
        );
        let log = lines(
            "2026-12-01 00:38:48.143 GMT [3311] LOG:  syntax error in file \"/etc/postgresql/15/main/postgresql.conf\" line 821, near token \"baz\"\n\
             2026-12-01 00:38:48.143 GMT [3311] FATAL:  configuration file \"/etc/postgresql/15/main/postgresql.conf\" contains errors",
        );
        let cause = cause_line(&log).expect("a cause");
        assert!(
            cause.starts_with("syntax error in file \"/etc/postgresql/15/main/postgresql.conf\" line 821, near token \"baz\"; FATAL: configuration file"),
            "{cause}"
        );
    }

    #[test]
    fn tails_start_at_a_character_boundary() {
        use crate::ports::tail_from;
        assert_eq!(tail_from("abc", 1), "bc");
        assert_eq!(tail_from("abc", 3), "");
        assert_eq!(tail_from("abc", u64::MAX), "");
        assert_eq!(tail_from("é!", 1), "!");
    }
}
