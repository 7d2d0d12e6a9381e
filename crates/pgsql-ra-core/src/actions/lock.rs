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
        return match ctx.world.fs.remove(lock) {
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
    }
    ctx.log(LogLevel::Debug, &format!("start: {lone}"));
    if ctx.agent.params.crash_rejoin == CrashRejoin::None {
        return LockCheck::Kept { why: None };
    }
    match &input.others_promoted {
        Ok(nodes) if !nodes.is_empty() => {}
        _ => {
            ctx.log(
                LogLevel::Info,
                "crash rejoin waits for another node to be Promoted",
            );
            return LockCheck::Kept { why: None };
        }
    }
    match postmaster_alive(ctx) {
        Ok(None) => {}
        Ok(Some(pid)) => {
            return LockCheck::Kept {
                why: Some(format!(
                    "crash rejoin needs a stopped server; postmaster {pid} is alive"
                )),
            }
        }
        Err(o) => {
            return LockCheck::Kept {
                why: Some(o.reason.unwrap_or_default()),
            }
        }
    }
    match crash_rejoin(ctx) {
        Ok(()) => match ctx.world.fs.remove(lock) {
            Ok(_) => {
                ctx.log(
                    LogLevel::Info,
                    &format!("Removed {lock}: the local data is on the primary's history"),
                );
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
