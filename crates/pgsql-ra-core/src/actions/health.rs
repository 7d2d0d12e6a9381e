//! `pgsql_real_monitor`: is PostgreSQL up, and as what.

use super::Ctx;
use crate::budget::RETRY_INTERVAL;
use crate::ocf::{OcfExit, Outcome};
use crate::ports::LogLevel;

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

/// `pg_is_in_recovery()`, tried up to `attempts` times within the budget
/// (a transient failure must not fail a primary; bug M).
fn in_recovery(ctx: &mut Ctx<'_, '_>, attempts: u32) -> Result<bool, Outcome> {
    let mut attempt = 1;
    loop {
        match ctx.world.db.is_in_recovery() {
            Ok(v) => return Ok(v),
            Err(e) if attempt < attempts && ctx.pause(RETRY_INTERVAL) => {
                ctx.world.log.log(
                    LogLevel::Warn,
                    &format!("select pg_is_in_recovery() failed (attempt {attempt}): {e}"),
                );
                ctx.world.db.reset();
                attempt += 1;
            }
            Err(e) => {
                return Err(Outcome::fail(
                    OcfExit::ErrGeneric,
                    format!("select pg_is_in_recovery() failed: {e}"),
                ))
            }
        }
    }
}

/// The real monitor: down, running (non-replication), primary or standby.
/// SQL is tried up to `attempts` times within the budget. The probe's
/// initial scores are the caller's (after the role gate, see `monitor`).
pub fn real_monitor(ctx: &mut Ctx<'_, '_>, attempts: u32) -> Result<Health, Outcome> {
    if postmaster_alive(ctx)?.is_none() {
        return Ok(Health::Down);
    }
    let agent = ctx.agent;
    let params = &agent.params;
    if !ctx.is_replication() {
        let sql = params.monitor_sql.clone();
        return match ctx.world.db.run_monitor_sql(&sql) {
            Ok(()) => Ok(Health::Running),
            Err(e) => Err(Outcome::fail(
                OcfExit::ErrGeneric,
                format!("monitor_sql failed: {e}"),
            )),
        };
    }
    if in_recovery(ctx, attempts)? {
        return Ok(Health::Standby);
    }
    if !params.monitor_sql_is_default() {
        let sql = params.monitor_sql.clone();
        ctx.world
            .db
            .run_monitor_sql(&sql)
            .map_err(|e| Outcome::fail(OcfExit::ErrGeneric, format!("monitor_sql failed: {e}")))?;
    }
    Ok(Health::Primary)
}
