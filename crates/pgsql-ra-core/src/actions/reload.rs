//! `reload-agent` (OCF 1.1): the agent keeps no state between invocations,
//! so changed reloadable parameters take effect with the next action.

use super::Ctx;
use crate::ocf::Outcome;
use crate::ports::LogLevel;

/// Runs `reload-agent`.
pub fn reload(ctx: &mut Ctx<'_, '_>) -> Outcome {
    ctx.log(
        LogLevel::Info,
        "reloadable parameters take effect with the next action",
    );
    Outcome::success()
}
