//! `demote` (stock §1.5): like the stock agent, demote stops PostgreSQL.

use super::health::postmaster_alive;
use super::server_ctl::{real_stop, StopKind};
use super::Ctx;
use crate::ineligible::Ineligible;
use crate::ocf::{OcfExit, Outcome};
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
    match postmaster_alive(ctx) {
        Err(o) => return o,
        Ok(Some(_)) => {
            if let Err(o) = real_stop(ctx, StopKind::Master) {
                let r = ctx
                    .attrs
                    .set_status(ctx.world.cluster, &local, PgStatus::Unknown);
                ctx.warn_on_err("setting the status to UNKNOWN", r);
                return o;
            }
        }
        Ok(None) => {}
    }
    let r = ctx
        .attrs
        .set_status(ctx.world.cluster, &local, PgStatus::Stop);
    ctx.warn_on_err("setting the status to STOP", r);
    Outcome::success()
}
