//! Script commands for the data directories' rejoin facts (issue 10):
//!
//! * `rewindable NODE on|off` — data checksums or `wal_log_hints=on`
//!   (default on); off, `pg_rewind` refuses the directory.
//! * `free-disk NODE BYTES` — free bytes beside the node's pgdata (default
//!   1 TiB; every simulated database is 64 MiB).
//! * `datadir` — every node's rewindable flag, free bytes and the
//!   directories a re-clone moved aside.

use super::{node_arg, num_arg};
use crate::sim::Sim;

/// Runs one of this module's commands; `None` when `cmd` is not one of them.
pub(super) fn execute(
    sim: &mut Sim,
    cmd: &str,
    args: &[&str],
) -> Option<Result<Vec<String>, String>> {
    let result = match cmd {
        "rewindable" => rewindable(sim, args),
        "free-disk" => free_disk(sim, args),
        "datadir" => Ok(datadir_lines(sim)),
        _ => return None,
    };
    Some(result)
}

fn rewindable(sim: &mut Sim, args: &[&str]) -> Result<Vec<String>, String> {
    let n = node_arg(sim, args, 0)?;
    let on = match args.get(1).copied() {
        Some("on") => true,
        Some("off") => false,
        other => return Err(format!("bad rewindable value {other:?}: use on or off")),
    };
    sim.net.set_rewindable(n, on);
    Ok(vec!["ok".into()])
}

fn free_disk(sim: &mut Sim, args: &[&str]) -> Result<Vec<String>, String> {
    let n = node_arg(sim, args, 0)?;
    sim.net.set_free_bytes(n, num_arg(args, 1)?);
    Ok(vec!["ok".into()])
}

fn datadir_lines(sim: &Sim) -> Vec<String> {
    sim.node_names()
        .into_iter()
        .map(|n| match sim.net.data_dir(&n) {
            Some(d) => {
                let moved = if d.moved_aside.is_empty() {
                    "(none)".to_string()
                } else {
                    d.moved_aside.join(" ")
                };
                format!(
                    "{n}: rewindable={} free={} moved-aside={moved}",
                    if d.rewindable { "on" } else { "off" },
                    d.free_bytes
                )
            }
            None => format!("{n}: (none)"),
        })
        .collect()
}
