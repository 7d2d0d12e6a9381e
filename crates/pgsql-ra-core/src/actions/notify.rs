//! `notify` (stock §1.6): carries out [`crate::decide::notify`]. Node names
//! in the notify lists are compared exactly (bug J); membership is checked
//! over the whole list.

use super::control::control;
use super::elect::{record_master_baseline, withdraw_location};
use super::Ctx;
use crate::decide::notify::{
    notify_decision, pre_promote, NotifyAction, PrePromoteAction, PrePromoteInput, PrePromoteReason,
};
use crate::lsn::Lsn;
use crate::ocf::{OcfExit, Outcome};
use crate::ports::{Lifetime, LogLevel};
use crate::status::PgStatus;

/// Runs `notify`: decides with [`notify_decision`], then carries it out.
pub fn notify(ctx: &mut Ctx<'_, '_>) -> Outcome {
    let local = ctx.attrs.local.clone();
    let names = &ctx.agent.names;
    let decision = notify_decision(
        ctx.agent.params.rep_mode,
        &local,
        &ctx.agent.context.notify_lists,
    );
    match decision.action {
        NotifyAction::Nothing => {}
        NotifyAction::PrePromoteCheck => return pre_promote_check(ctx),
        NotifyAction::ForgetElection {
            delete_master_baseline,
        } => {
            withdraw_location(ctx);
            if delete_master_baseline {
                let r = ctx
                    .attrs
                    .delete_own(ctx.world.cluster, &names.master_baseline);
                ctx.warn_on_err("deleting the master baseline", r);
            }
        }
        NotifyAction::RecordBaseline => {
            if let Err(o) = record_master_baseline(ctx) {
                ctx.log(LogLevel::Warn, &o.reason.unwrap_or_default());
            }
            let r = ctx
                .attrs
                .set_status(ctx.world.cluster, &local, PgStatus::HsAlone);
            ctx.warn_on_err("setting the status to HS:alone", r);
        }
        NotifyAction::ControlStandbys => {
            if let Err(o) = control(ctx) {
                ctx.log(LogLevel::Warn, &o.reason.unwrap_or_default());
            }
        }
    }
    Outcome::success()
}

/// A node's `<rsc>-master-baseline`; `None` when absent, unreadable or
/// unparsable.
fn read_baseline(ctx: &mut Ctx<'_, '_>, node: &str) -> Option<Lsn> {
    let name = &ctx.agent.names.master_baseline;
    match ctx.world.cluster.get_attr(node, name, Lifetime::Reboot) {
        Ok(Some(v)) => Lsn::parse_attr(&v).ok(),
        _ => None,
    }
}

/// The pre-promote data check (stock §4.5), decided by [`pre_promote`].
fn pre_promote_check(ctx: &mut Ctx<'_, '_>) -> Outcome {
    let agent = ctx.agent;
    let mut input = PrePromoteInput {
        rep_mode: agent.params.rep_mode,
        node_list_len: agent.params.node_list.len(),
        local: ctx.attrs.local.clone(),
        promotee: agent.context.notify_lists.promote.first().cloned(),
        theirs: None,
        mine: None,
    };
    loop {
        let decision = pre_promote(&input);
        match decision.action {
            PrePromoteAction::ReadPromoteeBaseline => {
                let promotee = input.promotee.clone().unwrap_or_default();
                input.theirs = Some(read_baseline(ctx, &promotee));
            }
            PrePromoteAction::ReadOwnBaseline => {
                let local = input.local.clone();
                input.mine = Some(read_baseline(ctx, &local));
            }
            PrePromoteAction::Allow => {
                if let PrePromoteReason::PromoteeBaselineUnreadable { promotee } = &decision.reason
                {
                    ctx.log(
                        LogLevel::Info,
                        &format!(
                            "Can't read the master baseline of {promotee}; skipping the data check"
                        ),
                    );
                }
                return Outcome::success();
            }
            PrePromoteAction::BanMyself => {
                let reason = match &decision.reason {
                    PrePromoteReason::Newer(why) => why.to_string(),
                    other => format!("{other:?}"),
                };
                if let PrePromoteReason::Newer(why) = &decision.reason {
                    use crate::explain::Explain;
                    ctx.journal(
                        "notify",
                        crate::journal::Event::Refusal {
                            decision: "pre_promote".into(),
                            rule: why.rule(),
                            reason: reason.clone(),
                        },
                    );
                }
                if let Err(e) = ctx.world.cluster.ban(&agent.context.instance, &input.local) {
                    ctx.log(LogLevel::Err, &format!("Can't ban myself: {e}"));
                }
                return ctx.fail(OcfExit::ErrGeneric, reason);
            }
        }
    }
}
