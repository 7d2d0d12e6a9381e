//! `stop` (stock §1.2). Attribute failures are logged, never returned: a
//! failed stop means fencing, so only a server that will not die fails it.

use super::elect::{clear_withheld_score, withdraw_location};
use super::health::postmaster_alive;
use super::prepare::write_rep_mode_conf;
use super::server_ctl::{real_stop, StopKind};
use super::Ctx;
use crate::ineligible::Ineligible;
use crate::ocf::Outcome;
use crate::params::RepMode;
use crate::ports::LogLevel;
use crate::status::PgStatus;

/// Runs `stop`.
pub fn stop(ctx: &mut Ctx<'_, '_>) -> Outcome {
    if !ctx.is_replication() {
        return match real_stop(ctx, StopKind::Plain) {
            Ok(_) => Outcome::success(),
            Err(o) => o,
        };
    }
    let agent = ctx.agent;
    let names = &agent.names;
    let local = ctx.attrs.local.clone();
    let no_resource = crate::names::resource_name(&agent.context.instance).is_empty();
    if local.is_empty() || no_resource {
        // The local node name is unknown (empty or unreadable), or no
        // resource name (empty OCF_RESOURCE_INSTANCE) to name the
        // attributes: they can't be addressed, but the server is stopped.
        ctx.log(
            LogLevel::Warn,
            if no_resource {
                "OCF_RESOURCE_INSTANCE is empty: stopping without updating the node attributes"
            } else {
                "local node name unknown: stopping without updating the node attributes"
            },
        );
        return match real_stop(ctx, StopKind::Slave) {
            Ok(_) => Outcome::success(),
            Err(o) => o,
        };
    }
    let r = ctx
        .attrs
        .set_own_score(ctx.world.cluster, Ineligible::Stopping.score());
    ctx.warn_on_err("setting the score to -INFINITY", r);
    withdraw_location(ctx);
    clear_withheld_score(ctx);
    match postmaster_alive(ctx) {
        Err(o) => return o,
        Ok(None) => {
            let r = ctx
                .attrs
                .set_status(ctx.world.cluster, &local, PgStatus::Stop);
            ctx.warn_on_err("setting the status to STOP", r);
            return Outcome::success();
        }
        Ok(Some(_)) => {}
    }
    if let Err(o) = real_stop(ctx, StopKind::Slave) {
        let r = ctx
            .attrs
            .set_status(ctx.world.cluster, &local, PgStatus::Unknown);
        ctx.warn_on_err("setting the status to UNKNOWN", r);
        return o;
    }
    let r = ctx
        .attrs
        .set_status(ctx.world.cluster, &local, PgStatus::Stop);
    ctx.warn_on_err("setting the status to STOP", r);
    if agent.params.rep_mode == RepMode::Sync {
        let r = write_rep_mode_conf(ctx, &[]);
        ctx.warn_on_err(
            "setting all nodes into async mode",
            r.map_err(|o| o.reason.unwrap_or_default()),
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
    Outcome::success()
}
