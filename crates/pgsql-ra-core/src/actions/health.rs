//! `pgsql_real_monitor`: is PostgreSQL up, and as what.

use super::Ctx;
use crate::budget::RETRY_INTERVAL;
use crate::ocf::{OcfExit, Outcome};
use crate::ports::{DbError, DbErrorKind, LogLevel};

/// What the real monitor found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// No live postmaster.
    Down,
    /// Running (non-replication mode; the monitor SQL succeeded).
    Running,
    /// Running as a primary (replication mode).
    Primary,
    /// Running as a hot standby (replication mode).
    Standby,
}

impl Health {
    /// The monitor's exit code for this health.
    pub fn code(self) -> OcfExit {
        match self {
            Health::Down => OcfExit::NotRunning,
            Health::Running | Health::Standby => OcfExit::Success,
            Health::Primary => OcfExit::RunningPromoted,
        }
    }

    /// True when PostgreSQL answers (anything but `Down`).
    pub fn is_up(self) -> bool {
        self != Health::Down
    }
}

/// True when a postmaster is alive for pgdata. A failure to tell is an error.
pub fn postmaster_alive(ctx: &mut Ctx<'_, '_>) -> Result<Option<u32>, Outcome> {
    ctx.world.server.postmaster_pid().map_err(|e| {
        Outcome::fail(
            OcfExit::ErrGeneric,
            format!("Can't check the postmaster: {e}"),
        )
    })
}

/// Why the real monitor could not tell what the server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoAnswer {
    /// The SQL failed (the server may be starting, stopped, or broken).
    Failed(Outcome),
    /// The server refused the login for good ([`DbError::refuses_login`]):
    /// it answers, and retrying cannot cure it (issue 12, re-attack item 3).
    LoginRefused(DbError),
}

impl NoAnswer {
    /// As the monitor reports it: 1 with what failed (stock: a failed
    /// `psql` is `OCF_ERR_GENERIC`, whatever the cause).
    pub fn into_outcome(self, what: &str) -> Outcome {
        match self {
            NoAnswer::Failed(o) => o,
            NoAnswer::LoginRefused(e) => {
                Outcome::fail(OcfExit::ErrGeneric, format!("{what} failed: {e}"))
            }
        }
    }
}

/// `start`'s answer to a refused login: 4 (`OCF_ERR_PERM`) at once,
/// naming the parameters to check, instead of polling until the timeout
/// (issue 12, re-attack item 3; the stock agent polled `psql` until
/// Pacemaker's timeout). Not 6: Pacemaker treats `OCF_ERR_CONFIGURED` as
/// fatal for the whole resource and stops it on every node, a working
/// primary included, while a refused login is often this node's own
/// (`pg_hba.conf`, `.pgpass`); 4 is a hard error of this node only
/// (Pacemaker Explained, "How are OCF Return Codes Interpreted?"). The parameters and the server's words come first,
/// where the connection is last: an exit reason keeps 128 bytes.
pub fn login_refused(ctx: &mut Ctx<'_, '_>, e: &DbError) -> Outcome {
    let check = match e.kind {
        DbErrorKind::NoDatabase => "pgdb",
        _ => "monitor_user/monitor_password/.pgpass",
    };
    ctx.fail(
        OcfExit::ErrPerm,
        format!("login refused, check {check}: {}", e.message),
    )
}

/// `pg_is_in_recovery()`, tried up to `attempts` times within the budget
/// (a transient failure must not fail a primary; bug M). A refused login
/// is not retried.
fn in_recovery(ctx: &mut Ctx<'_, '_>, attempts: u32) -> Result<bool, NoAnswer> {
    let mut attempt = 1;
    loop {
        match ctx.world.db.is_in_recovery() {
            Ok(v) => return Ok(v),
            Err(e) if e.refuses_login() => return Err(NoAnswer::LoginRefused(e)),
            Err(e) if attempt < attempts && ctx.pause(RETRY_INTERVAL) => {
                ctx.world.log.log(
                    LogLevel::Warn,
                    &format!("select pg_is_in_recovery() failed (attempt {attempt}): {e}"),
                );
                ctx.world.db.reset();
                attempt += 1;
            }
            Err(e) => {
                return Err(NoAnswer::Failed(Outcome::fail(
                    OcfExit::ErrGeneric,
                    format!("{IN_RECOVERY} failed: {e}"),
                )))
            }
        }
    }
}

const IN_RECOVERY: &str = "select pg_is_in_recovery()";

/// `monitor_sql`, with a refused login told apart.
fn monitor_sql(ctx: &mut Ctx<'_, '_>) -> Result<(), NoAnswer> {
    let sql = ctx.agent.params.monitor_sql.clone();
    ctx.world.db.run_monitor_sql(&sql).map_err(|e| {
        if e.refuses_login() {
            NoAnswer::LoginRefused(e)
        } else {
            NoAnswer::Failed(Outcome::fail(
                OcfExit::ErrGeneric,
                format!("monitor_sql failed: {e}"),
            ))
        }
    })
}

/// The real monitor: down, running (non-replication), primary or standby.
/// SQL is tried up to `attempts` times within the budget. The probe's
/// initial scores are the caller's (after the role gate, see `monitor`).
pub fn real_monitor(ctx: &mut Ctx<'_, '_>, attempts: u32) -> Result<Health, Outcome> {
    let what = if ctx.is_replication() {
        IN_RECOVERY
    } else {
        "monitor_sql"
    };
    probe_server(ctx, attempts).map_err(|e| e.into_outcome(what))
}

/// [`real_monitor`], with a refused login told apart ([`NoAnswer`]).
pub fn probe_server(ctx: &mut Ctx<'_, '_>, attempts: u32) -> Result<Health, NoAnswer> {
    if postmaster_alive(ctx).map_err(NoAnswer::Failed)?.is_none() {
        return Ok(Health::Down);
    }
    if !ctx.is_replication() {
        return monitor_sql(ctx).map(|()| Health::Running);
    }
    if in_recovery(ctx, attempts)? {
        return Ok(Health::Standby);
    }
    if !ctx.agent.params.monitor_sql_is_default() {
        monitor_sql(ctx)?;
    }
    Ok(Health::Primary)
}
