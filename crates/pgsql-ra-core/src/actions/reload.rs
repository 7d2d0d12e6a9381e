//! `reload-agent` (OCF 1.1): the agent keeps no state between invocations,
//! so changed reloadable parameters take effect with the next action. The
//! one thing a reload must undo itself is an attribute a parameter that was
//! just turned off used to publish: with `check_wal_receiver` off, the
//! node's `<rsc>-receiver-status` would otherwise keep its last value until
//! the next stop.

use super::Ctx;
use crate::ocf::Outcome;
use crate::ports::LogLevel;

/// Runs `reload-agent`.
pub fn reload(ctx: &mut Ctx<'_, '_>) -> Outcome {
    let agent = ctx.agent;
    if !agent.params.check_wal_receiver {
        let r = ctx
            .attrs
            .delete_own(ctx.world.cluster, &agent.names.receiver_status);
        ctx.warn_on_err("deleting the receiver status", r);
    }
    ctx.log(
        LogLevel::Info,
        "reloadable parameters take effect with the next action",
    );
    Outcome::success()
}
