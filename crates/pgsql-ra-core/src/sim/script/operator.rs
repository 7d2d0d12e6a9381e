//! Script commands for what happens outside Pacemaker: an operator's or a
//! client's actions on the servers and on the attributes, and the VIP.
//!
//! * `pg-promote NODE` — `pg_ctl promote` of a standby outside the cluster
//!   (an operator, a trigger file, a leftover): a new timeline with its own
//!   birth, marked as created outside the cluster (`wal` shows it with `!`).
//! * `restart NODE` — an operator's `pg_ctl restart -m fast`: the server
//!   stops and starts from its files, keeping its role.
//! * `ban NODE` — an operator's `crm_resource --ban` of the node's
//!   instance (a `cli-ban`): Pacemaker's next step stops it there and shows
//!   it Stopped (issue 11).
//! * `pg-start NODE` — an operator's `pg_ctl start` of a stopped server
//!   outside Pacemaker, from its files (a standby streams again while
//!   Pacemaker still shows its instance stopped; issue 11).
//! * `del-attr NODE NAME [forever]` — an operator deletes a node attribute
//!   (`crm_attribute -D`); reboot lifetime unless `forever`.
//! * `write-vip COUNT` — a client writes `COUNT` transactions through the
//!   VIP: to the node the VIP is placed on, when it serves.
//! * `vip` — where the VIP is placed and whether it serves.
//! * `put NODE PATH [TEXT]` — a file written on the node by an operator or
//!   a tool (e.g. a `backup_label` left by a base backup); `~` stands for a
//!   space in TEXT, owned by the database owner, mode 0600.
//! * `log NODE` — the warning and error lines the agent logged in the last
//!   action it ran on the node (what an operator reads in the journal).
//! * `wal` — every node's true WAL history: timelines (with their birth
//!   when a promotion created them, `!` when outside the cluster), switch
//!   points and end of WAL.

use super::{node_arg, num_arg, write_line};
use crate::ports::Lifetime;
use crate::sim::Sim;

/// Runs one of this module's commands; `None` when `cmd` is not one of them.
pub(super) fn execute(
    sim: &mut Sim,
    cmd: &str,
    args: &[&str],
) -> Option<Result<Vec<String>, String>> {
    let result = match cmd {
        "pg-promote" => pg_promote(sim, args),
        "restart" => restart(sim, args),
        "ban" => ban(sim, args),
        "pg-start" => pg_start(sim, args),
        "del-attr" => del_attr(sim, args),
        "write-vip" => write_vip(sim, args),
        "vip" => Ok(vec![vip_line(sim)]),
        "wal" => Ok(wal_lines(sim)),
        "put" => put(sim, args),
        "log" => log_lines(sim, args),
        _ => return None,
    };
    Some(result)
}

fn pg_promote(sim: &mut Sim, args: &[&str]) -> Result<Vec<String>, String> {
    let n = node_arg(sim, args, 0)?;
    sim.net.pg_promote(n)?;
    Ok(vec![format!(
        "{n}: promoted outside the cluster, timeline {} at {}",
        sim.net.timeline(n),
        sim.net.lsn(n)
    )])
}

fn restart(sim: &mut Sim, args: &[&str]) -> Result<Vec<String>, String> {
    let n = node_arg(sim, args, 0)?;
    sim.net.restart(n)?;
    Ok(vec![format!("{n}: restarted as {:?}", sim.net.role(n))])
}

fn ban(sim: &mut Sim, args: &[&str]) -> Result<Vec<String>, String> {
    let n = node_arg(sim, args, 0)?.to_string();
    let instance = sim.nodes.get(&n).ok_or("no node")?.instance.clone();
    sim.cluster.put_ban(&instance, &n);
    Ok(vec![format!("{instance} banned from {n}")])
}

fn pg_start(sim: &mut Sim, args: &[&str]) -> Result<Vec<String>, String> {
    use crate::ports::Server;
    let n = node_arg(sim, args, 0)?.to_string();
    let node = sim.nodes.get_mut(&n).ok_or("no node")?;
    node.pg.start().map_err(|e| e.to_string())?;
    Ok(vec![format!(
        "{n}: started by hand as {:?}, Pacemaker shows its instance {}",
        sim.net.role(&n),
        sim.pcmk_role(&n).as_str()
    )])
}

fn log_lines(sim: &mut Sim, args: &[&str]) -> Result<Vec<String>, String> {
    use crate::ports::LogLevel;
    let n = node_arg(sim, args, 0)?;
    let node = sim.nodes.get(n).ok_or("no node")?;
    let lines: Vec<String> = node
        .last_log
        .lines
        .iter()
        .filter(|(l, _)| matches!(l, LogLevel::Warn | LogLevel::Err))
        .map(|(l, m)| {
            format!(
                "{}: {m}",
                if *l == LogLevel::Err {
                    "ERROR"
                } else {
                    "WARNING"
                }
            )
        })
        .collect();
    Ok(if lines.is_empty() {
        vec!["(no warning or error)".into()]
    } else {
        lines
    })
}

fn put(sim: &mut Sim, args: &[&str]) -> Result<Vec<String>, String> {
    let n = node_arg(sim, args, 0)?;
    let path = args.get(1).ok_or("missing path")?;
    let text = args.get(2).map(|t| t.replace('~', " ")).unwrap_or_default();
    let node = sim.nodes.get(n).ok_or("no node")?;
    node.fs.put(path, &format!("{text}\n"), "postgres", 0o600);
    Ok(vec!["ok".into()])
}

fn del_attr(sim: &mut Sim, args: &[&str]) -> Result<Vec<String>, String> {
    let n = node_arg(sim, args, 0)?;
    let name = args.get(1).ok_or("missing name")?;
    let lifetime = if args.get(2) == Some(&"forever") {
        Lifetime::Forever
    } else {
        Lifetime::Reboot
    };
    sim.cluster.remove_attr(n, name, lifetime);
    Ok(vec!["ok".into()])
}

fn write_vip(sim: &mut Sim, args: &[&str]) -> Result<Vec<String>, String> {
    let count = num_arg(args, 0)?;
    match sim.net.vip_holder() {
        Some(n) => Ok(vec![format!(
            "via VIP to {n}: {}",
            write_line(sim, &n, count)
        )]),
        None => Ok(vec!["failed: nobody serves the VIP".into()]),
    }
}

/// `vip: on NODE` (serving), `vip: on NODE (not serving)` or `vip: nowhere`.
pub(super) fn vip_line(sim: &Sim) -> String {
    match (sim.net.vip_placement(), sim.net.vip_holder()) {
        (Some(at), Some(_)) => format!("vip: on {at}"),
        (Some(at), None) => format!("vip: on {at} (not serving)"),
        (None, _) => "vip: nowhere".to_string(),
    }
}

fn wal_lines(sim: &Sim) -> Vec<String> {
    sim.node_names()
        .into_iter()
        .map(|n| {
            let text = sim
                .net
                .wal(&n)
                .map(|w| w.describe())
                .unwrap_or_else(|| "(none)".into());
            format!("{n}: {text}")
        })
        .collect()
}
