//! `start` considers `PGSQL.lock` (issue 10): the lone primary of B2-05
//! ([`crate::decide::lock`]), then the crash rejoin ([`super::rejoin`]).
//! Anything else keeps the lock and the stock refusal.

use super::health::postmaster_alive;
use super::rejoin::crash_rejoin;
use super::Ctx;
use crate::decide::lock::{lone_primary, LonePrimaryInput, Reading};
use crate::decide::start::LockCheck;
use crate::params::CrashRejoin;
use crate::ports::{Lifetime, LogLevel};

/// Reads the lone-primary rule's attributes through the cluster port.
fn lone_primary_input(ctx: &mut Ctx<'_, '_>) -> LonePrimaryInput {
    let local = ctx.attrs.local.clone();
    let name = ctx.agent.names.data_status.clone();
    let resource = ctx.agent.names.resource.clone();
    let mut read = |node: &str| match ctx.world.cluster.get_attr(node, &name, Lifetime::Forever) {
        Ok(Some(v)) => Reading::Value(v),
        Ok(None) => Reading::Absent,
        Err(e) => Reading::Unreadable(e.to_string()),
    };
    let own = read(&local);
    let mut others = Vec::new();
    for node in &ctx.agent.params.node_list {
        let node = node.to_lowercase();
        if node != local && !others.iter().any(|(n, _): &(String, Reading)| *n == node) {
            let status = read(&node);
            others.push((node, status));
        }
    }
    let others_promoted = ctx
        .world
        .cluster
        .promoted_nodes(&resource)
        .map(|nodes| nodes.into_iter().filter(|n| *n != local).collect())
        .map_err(|e| e.to_string());
    LonePrimaryInput {
        own,
        others_promoted,
        others,
    }
}

/// Decides what becomes of the lock at `lock` and carries it out: removed
/// for a lone primary or after a successful crash rejoin, else kept (with
/// the rejoin's reason when it was tried). Never fails the action itself:
/// a kept lock is the refusal.
pub fn consider_lock(ctx: &mut Ctx<'_, '_>, lock: &str) -> LockCheck {
    let input = lone_primary_input(ctx);
    let lone = lone_primary(&input);
    if lone.releases() {
        let check = match ctx.world.fs.remove(lock) {
            Ok(_) => {
                ctx.log(
                    LogLevel::Info,
                    &format!("Removed {lock}: {lone}; starting as a hot standby, the election may promote it"),
                );
                LockCheck::Released
            }
            Err(e) => LockCheck::Kept {
                why: Some(format!("{lone}, but {lock} could not be removed: {e}")),
            },
        };
        journal_lock(ctx, "lone_primary", &check, &lone.to_string());
        return check;
    }
    ctx.log(LogLevel::Debug, &format!("start: {lone}"));
    ctx.journal_rejoin("start", "lone_primary", "kept", &lone.to_string());
    if ctx.agent.params.crash_rejoin == CrashRejoin::None {
        return LockCheck::Kept { why: None };
    }
    match &input.others_promoted {
        Ok(nodes) if !nodes.is_empty() => {}
        _ => {
            let why = "crash rejoin waits for another node to be Promoted";
            ctx.log(LogLevel::Info, why);
            ctx.journal_rejoin("start", "crash_rejoin", "kept", why);
            return LockCheck::Kept { why: None };
        }
    }
    let check = match postmaster_alive(ctx) {
        Ok(None) => crash_rejoin_check(ctx, lock),
        Ok(Some(pid)) => LockCheck::Kept {
            why: Some(format!(
                "crash rejoin needs a stopped server; postmaster {pid} is alive"
            )),
        },
        Err(o) => LockCheck::Kept {
            why: Some(o.reason.unwrap_or_default()),
        },
    };
    if let LockCheck::Kept { why: Some(why) } = &check {
        let why = why.clone();
        ctx.journal_rejoin("start", "crash_rejoin", "kept", &why);
    }
    check
}

/// The crash rejoin (its decisions are journaled by [`crash_rejoin`]),
/// then the lock removed when it succeeded.
fn crash_rejoin_check(ctx: &mut Ctx<'_, '_>, lock: &str) -> LockCheck {
    match crash_rejoin(ctx) {
        Ok(()) => match ctx.world.fs.remove(lock) {
            Ok(_) => {
                let why = format!("Removed {lock}: the local data is on the primary's history");
                ctx.log(LogLevel::Info, &why);
                ctx.journal_rejoin("start", "crash_rejoin", "released", &why);
                LockCheck::Released
            }
            Err(e) => LockCheck::Kept {
                why: Some(format!("crash rejoin: {lock} could not be removed: {e}")),
            },
        },
        Err(why) => LockCheck::Kept {
            why: Some(format!("crash rejoin: {why}")),
        },
    }
}

/// Journals what became of the lock (issue 13 item 5).
fn journal_lock(ctx: &mut Ctx<'_, '_>, decision: &str, check: &LockCheck, reason: &str) {
    let (outcome, reason) = match check {
        LockCheck::Released => ("released", reason.to_string()),
        LockCheck::Kept { why } => ("kept", why.clone().unwrap_or_else(|| reason.to_string())),
    };
    ctx.journal_rejoin("start", decision, outcome, &reason);
}
