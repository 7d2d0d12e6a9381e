//! `status` (stock §1.7): is the postmaster alive (no SQL).

use super::health::postmaster_alive;
use super::Ctx;
use crate::ocf::{OcfExit, Outcome};
use crate::ports::LogLevel;

/// Runs `status`.
pub fn status(ctx: &mut Ctx<'_, '_>) -> Outcome {
    match postmaster_alive(ctx) {
        Ok(Some(pid)) => {
            ctx.log(LogLevel::Info, &format!("PostgreSQL is up (pid {pid})"));
            Outcome::success()
        }
        Ok(None) => {
            ctx.log(LogLevel::Info, "PostgreSQL is down");
            Outcome::code(OcfExit::NotRunning)
        }
        Err(o) => o,
    }
}
