//! `notify` (stock §1.6). Node names in the notify lists are compared
//! exactly (bug J); membership is checked over the whole list.

use super::control::control;
use super::elect::record_master_baseline;
use super::Ctx;
use crate::lsn::Lsn;
use crate::ocf::{OcfExit, Outcome};
use crate::params::RepMode;
use crate::ports::{Lifetime, LogLevel};
use crate::status::PgStatus;

/// Runs `notify`.
pub fn notify(ctx: &mut Ctx<'_, '_>) -> Outcome {
    if !ctx.is_replication() {
        return Outcome::success();
    }
    let lists = &ctx.agent.context.notify_lists;
    let local = ctx.attrs.local.clone();
    let names = &ctx.agent.names;
    let has = |list: &[String]| list.contains(&local);
    match (lists.kind.as_str(), lists.operation.as_str()) {
        ("pre", "promote") => return pre_promote(ctx),
        ("post", "promote") => {
            let r = ctx.attrs.delete_own(ctx.world.cluster, &names.xlog_loc);
            ctx.warn_on_err("deleting the xlog location", r);
            let r = ctx.attrs.delete_own(ctx.world.cluster, &names.xlog_tli);
            ctx.warn_on_err("deleting the xlog timeline", r);
            if !has(&lists.promote) {
                let r = ctx
                    .attrs
                    .delete_own(ctx.world.cluster, &names.master_baseline);
                ctx.warn_on_err("deleting the master baseline", r);
            }
        }
        ("post", "demote") if !has(&lists.demote) && !has(&lists.promoted) => {
            if let Err(o) = record_master_baseline(ctx) {
                ctx.log(LogLevel::Warn, &o.reason.unwrap_or_default());
            }
            let r = ctx
                .attrs
                .set_status(ctx.world.cluster, &local, PgStatus::HsAlone);
            ctx.warn_on_err("setting the status to HS:alone", r);
        }
        ("post", "start") | ("post", "stop") if has(&lists.promoted) => {
            if let Err(o) = control(ctx) {
                ctx.log(LogLevel::Warn, &o.reason.unwrap_or_default());
            }
        }
        _ => {}
    }
    Outcome::success()
}

/// The pre-promote data check (stock §4.5): with ≥ 3 nodes in sync mode, a
/// standby whose baseline is newer than the promotee's bans itself and fails.
fn pre_promote(ctx: &mut Ctx<'_, '_>) -> Outcome {
    let agent = ctx.agent;
    let params = &agent.params;
    let local = ctx.attrs.local.clone();
    let Some(promotee) = agent.context.notify_lists.promote.first() else {
        return Outcome::success();
    };
    if params.node_list.len() < 3 || params.rep_mode != RepMode::Sync || *promotee == local {
        return Outcome::success();
    }
    let baseline = |ctx: &mut Ctx<'_, '_>, node: &str| -> Option<Lsn> {
        match ctx
            .world
            .cluster
            .get_attr(node, &agent.names.master_baseline, Lifetime::Reboot)
        {
            Ok(Some(v)) => Lsn::parse_attr(&v).ok(),
            _ => None,
        }
    };
    let Some(theirs) = baseline(ctx, promotee) else {
        ctx.log(
            LogLevel::Info,
            &format!("Can't read the master baseline of {promotee}; skipping the data check"),
        );
        return Outcome::success();
    };
    match baseline(ctx, &local) {
        Some(mine) if mine > theirs => {
            let reason =
                format!("My data is newer than new master's one. New master's location : {theirs}");
            if let Err(e) = ctx.world.cluster.ban(&agent.context.instance, &local) {
                ctx.log(LogLevel::Err, &format!("Can't ban myself: {e}"));
            }
            ctx.fail(OcfExit::ErrGeneric, reason)
        }
        _ => Outcome::success(),
    }
}
