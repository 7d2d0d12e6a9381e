//! The CIB record of the quorum commit set (issue 11 item 3, see
//! [`crate::quorum`]): `<rsc>-sync-quorum` (forever) on every node_list
//! node, so that every standby's election reads it after the primary is
//! gone. Widened before the reload that adds members; narrowed after the
//! reload that removed some, once enough of the remaining members hold the
//! primary's position read after it (`<tmpdir>/quorum_narrow`:
//! `<LSN|unknown> <k> <member>…`, `0` and no member when quorum commit was
//! turned off).

use super::Ctx;
use crate::lsn::Lsn;
use crate::ocf::{OcfExit, Outcome};
use crate::ports::{FileOwner, Lifetime, LogLevel, ReplicationRow};
use crate::quorum::{narrow_ready, QuorumSet};
use crate::replication::SyncChange;

/// The file (in tmpdir) that keeps a pending narrowing.
pub const NARROW_FILE: &str = "quorum_narrow";

/// The record on `node`: `Ok(None)` when absent, `Err` when unreadable or
/// not a record (in words).
pub fn read_record(ctx: &mut Ctx<'_, '_>, node: &str) -> Result<Option<QuorumSet>, String> {
    let name = ctx.agent.names.sync_quorum.clone();
    match ctx.world.cluster.get_attr(node, &name, Lifetime::Forever) {
        Ok(Some(v)) => QuorumSet::parse_attr(&v).map(Some).map_err(|e| {
            format!(
                "{node}: unrecognised {name} {}: {e}",
                crate::quote::quoted(&v)
            )
        }),
        Ok(None) => Ok(None),
        Err(e) => Err(format!("{node}: can't read {name}: {e}")),
    }
}

/// Writes (or deletes) the record on every node_list node the cluster
/// knows. A failure fails the action: the record must never be narrower
/// than what commits were acknowledged under.
fn write_everywhere(ctx: &mut Ctx<'_, '_>, set: Option<&QuorumSet>) -> Result<(), Outcome> {
    let name = ctx.agent.names.sync_quorum.clone();
    for node in ctx.agent.params.node_list.clone() {
        if !ctx.attrs.exists(&node) {
            continue;
        }
        let now = ctx
            .world
            .cluster
            .get_attr(&node, &name, Lifetime::Forever)
            .ok()
            .flatten();
        let want = set.map(QuorumSet::to_attr);
        if now == want {
            continue;
        }
        let r = match &want {
            Some(v) => ctx
                .world
                .cluster
                .set_attr(&node, &name, v, Lifetime::Forever),
            None => ctx
                .world
                .cluster
                .delete_attr(&node, &name, Lifetime::Forever),
        };
        if let Err(e) = r {
            return Err(ctx.fail(
                OcfExit::ErrGeneric,
                format!("Can't record the quorum set on {node}: {e}"),
            ));
        }
    }
    Ok(())
}

/// Step 1, before the reload of `change`: when it configures a quorum,
/// the record becomes the union of what was in force (the record, else the
/// current configuration) and the new set, with the smaller k.
pub fn before_reload(
    ctx: &mut Ctx<'_, '_>,
    change: &SyncChange,
    in_force: Option<QuorumSet>,
) -> Result<(), Outcome> {
    let Some(next) = change.quorum.and_then(|k| QuorumSet::new(k, &change.names)) else {
        return Ok(());
    };
    let local = ctx.attrs.local.clone();
    let recorded = read_record(ctx, &local).unwrap_or(None);
    let base = recorded.clone().or(in_force);
    let widened = base.map_or(next.clone(), |b| b.widened(&next));
    if recorded.as_ref() != Some(&widened) {
        ctx.log(
            LogLevel::Info,
            &format!(
                "Quorum set recorded before the reload: any {} of [{}].",
                widened.k,
                widened.members.join(", ")
            ),
        );
        write_everywhere(ctx, Some(&widened))?;
    }
    Ok(())
}

/// Step 2, right after the reload of `change` (quorum configured, changed
/// or turned off): the narrowing waits for the primary's position now.
pub fn after_reload(ctx: &mut Ctx<'_, '_>, change: &SyncChange) -> Result<(), Outcome> {
    let lsn = ctx.world.db.current_lsn().ok();
    let target = change.quorum.and_then(|k| QuorumSet::new(k, &change.names));
    let text = format!(
        "{} {}\n",
        lsn.map_or("unknown".to_string(), |l| l.to_attr()),
        target.map_or("0".to_string(), |t| t.to_attr())
    );
    let path = ctx.tmp_path(NARROW_FILE);
    ctx.world
        .fs
        .write(&path, &text, FileOwner::Root, 0o600)
        .map_err(|e| ctx.fail(OcfExit::ErrGeneric, format!("Can't write {path}: {e}")))
}

/// Every run of the primary's control in quorum mode (or with a pending
/// narrowing): records the configured set when nothing is recorded yet,
/// and narrows the record once the pending target is safe. Quorum commit
/// turned off (`quorum_on` false, nothing configured): the record goes.
pub fn maintain(
    ctx: &mut Ctx<'_, '_>,
    configured: Option<QuorumSet>,
    quorum_on: bool,
    rows: &[ReplicationRow],
) -> Result<(), Outcome> {
    let path = ctx.tmp_path(NARROW_FILE);
    let pending = ctx.world.fs.read(&path).ok().flatten();
    if pending.is_none() && !quorum_on {
        // Quorum commit not in use: no attribute read on every monitor.
        return Ok(());
    }
    let local = ctx.attrs.local.clone();
    let recorded = match read_record(ctx, &local) {
        Ok(r) => r,
        Err(e) => {
            ctx.log(LogLevel::Warn, &format!("{e}; it is rewritten"));
            None
        }
    };
    if let Some(text) = pending {
        let mut words = text.split_whitespace();
        let lsn = match words.next() {
            Some("unknown") | None => ctx.world.db.current_lsn().ok(),
            Some(w) => Lsn::parse_attr(w).ok(),
        };
        let rest: Vec<&str> = words.collect();
        let target = QuorumSet::parse_attr(&rest.join(" ")).ok();
        match (target, lsn) {
            (None, _) if !quorum_on => {
                write_everywhere(ctx, None)?;
                let _ = ctx.world.fs.remove(&path);
            }
            (None, _) => {
                // No member streams: keep the record until members are
                // configured again (it is widened from it then).
                let _ = ctx.world.fs.remove(&path);
            }
            (Some(t), Some(l)) if narrow_ready(&t, l, rows) => {
                if recorded.as_ref() != Some(&t) {
                    ctx.log(
                        LogLevel::Info,
                        &format!(
                            "Quorum set narrowed after the reload: any {} of [{}] hold {}.",
                            t.k,
                            t.members.join(", "),
                            l.to_pg()
                        ),
                    );
                    write_everywhere(ctx, Some(&t))?;
                }
                let _ = ctx.world.fs.remove(&path);
            }
            _ => {}
        }
        return Ok(());
    }
    if recorded.is_none() {
        if let Some(c) = configured.filter(|_| quorum_on) {
            write_everywhere(ctx, Some(&c))?;
        }
    }
    Ok(())
}
