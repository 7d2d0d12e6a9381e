//! Transcript-style scenario scripts (like raft-rs's datadriven files):
//! blocks of `command args…`, a line `----`, then the exact expected output,
//! ended by a blank line. Lines starting with `#` before a command are
//! comments. [`run_script`] executes a file and returns it with the actual
//! outputs in place, so a runner can compare or rewrite.
//!
//! `setup nodes=a,b,… [version=N] [notify=true|false] [migration_threshold=N]
//! [failure_timeout=SECONDS] [roles=seed|legacy|pcs011] [param=value…]` builds the cluster (`roles`:
//! the `CRM_meta_role` of recurring monitors, see [`MonitorRoles`]); the
//! Pacemaker commands are `pacemaker [N]`, `probe`, `monitor`, `start`,
//! `stop`, `promote`, `demote`, `cleanup`, `failure-timeout SECONDS|none`
//! (the clone's meta attribute, reported to `explain`), `node-down NODE [unfenced|pending]`
//! (the node is fenced and Pacemaker reacts at once: a lost Promoted role
//! is demoted as a pseudo-action, with notifications, and replaced before
//! any monitor; `unfenced`: fencing disabled, no demote; `pending`: not
//! reacted yet), `node-up` (a full
//! stop then restarts in a chosen order is `node-down` of every node, then
//! `node-up` in that order with `pacemaker` steps in between); faults are
//! `kill`, `hang`/`unhang`, `link-down`/`link-up`, `lag`/`unlag`, `freeze`/`thaw` (issue 11: a host frozen without a TCP reset),
//! `fail-queries`, `stop-behaviour`; data and operators: `write NODE N`,
//! `set-lsn`, `set-sysid`, `rebuild`, `sync-names`, `rm`, `set-attr`, and
//! the commands of `operator` (`pg-promote`, `restart`, `ban`, `pg-start`, `del-attr`,
//! `write-vip`, `vip`, `wal`) and of `datadir` (`rewindable`,
//! `free-disk`, `datadir`: issue 10's crash rejoin; `setup crash_rejoin=…`
//! sets the parameter like any other); `explain [NODE]` prints what
//! `pgsql-ra explain` says on NODE and `history NODE` its decision journal
//! (issue 13).

mod datadir;
mod operator;

use std::collections::BTreeMap;
use std::time::Duration;

use super::pacemaker::{MonitorRoles, Op, PcmkRole};
use super::{Invocation, Sim, SimConfig, TMPDIR};
use crate::action::Action;
use crate::lsn::Lsn;
use crate::memory::{SimRole, StopBehaviour, WriteOutcome};
use crate::ocf::OcfExit;
use crate::ports::Lifetime;
use crate::ports::Server;

/// One block of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Comment lines before the command (kept verbatim).
    pub comments: Vec<String>,
    /// The command line.
    pub command: String,
    /// The expected output lines.
    pub expected: Vec<String>,
}

/// Parses a script. Malformed trailing text becomes a block whose command
/// fails, so mistakes show up in the output rather than being dropped.
pub fn parse(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().peekable();
    loop {
        let mut comments = Vec::new();
        while let Some(l) = lines.peek() {
            if l.trim().is_empty() {
                lines.next();
            } else if l.starts_with('#') {
                comments.push(l.to_string());
                lines.next();
            } else {
                break;
            }
        }
        let Some(command) = lines.next() else {
            break;
        };
        let mut expected = Vec::new();
        if lines.peek().map(|l| l.trim()) == Some("----") {
            lines.next();
            while let Some(l) = lines.peek() {
                if l.trim().is_empty() {
                    break;
                }
                expected.push(l.to_string());
                lines.next();
            }
        }
        blocks.push(Block {
            comments,
            command: command.trim().to_string(),
            expected,
        });
    }
    blocks
}

/// Renders blocks back into script text.
pub fn render(blocks: &[Block]) -> String {
    let mut out = String::new();
    for (i, b) in blocks.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        for c in &b.comments {
            out.push_str(c);
            out.push('\n');
        }
        out.push_str(&b.command);
        out.push_str("\n----\n");
        for l in &b.expected {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

/// Runs a script. Returns the script with actual outputs and the commands
/// whose output differed from the expectation.
pub fn run_script(text: &str) -> (String, Vec<String>) {
    let blocks = parse(text);
    let mut sim: Option<Sim> = None;
    let mut actual = Vec::new();
    let mut mismatches = Vec::new();
    for b in blocks {
        let got = execute(&mut sim, &b.command);
        if got != b.expected {
            mismatches.push(format!(
                "command `{}`:\n--- expected\n{}\n+++ got\n{}",
                b.command,
                b.expected.join("\n"),
                got.join("\n")
            ));
        }
        actual.push(Block { expected: got, ..b });
    }
    (render(&actual), mismatches)
}

fn outcome_line(inv: &Invocation) -> String {
    let code = inv.outcome.code;
    let mut line = format!(
        "{} {}: {} {}",
        inv.node,
        inv.label,
        code.code(),
        code.name()
    );
    if let Some(r) = &inv.outcome.reason {
        if code != OcfExit::Success
            && code != OcfExit::RunningPromoted
            && code != OcfExit::NotRunning
        {
            line.push_str(&format!(" ({r})"));
        }
    }
    line
}

/// The label prefix of a Pacemaker decision recorded among the invocations
/// (no agent ran): printed as `<node> <what>`.
pub const PACEMAKER_EVENT: &str = "pacemaker: ";

/// The output lines for invocations: notifications that succeeded without
/// changing anything are left out.
pub fn invocation_lines(invs: &[Invocation]) -> Vec<String> {
    let mut out = Vec::new();
    for inv in invs {
        let quiet = inv.label.starts_with("notify")
            && inv.outcome.code == OcfExit::Success
            && inv.changes.is_empty();
        if quiet {
            continue;
        }
        if let Some(event) = inv.label.strip_prefix(PACEMAKER_EVENT) {
            out.push(format!("{} {event}", inv.node));
            continue;
        }
        out.push(outcome_line(inv));
        out.extend(inv.changes.iter().map(|c| format!("  {c}")));
    }
    out
}

/// One line summarising Pacemaker's roles, failures and bans.
pub fn roles_line(sim: &Sim) -> String {
    let parts: Vec<String> = sim
        .node_names()
        .iter()
        .map(|n| {
            let node = &sim.nodes[n];
            let mut s = format!("{n}:{}", node.role.as_str());
            if node.failed {
                s.push_str("(failed)");
            }
            if !sim.eligible(n) {
                s.push_str("(banned)");
            }
            s
        })
        .collect();
    format!("roles: {}", parts.join(" "))
}

fn attrs_lines(sim: &Sim) -> Vec<String> {
    let attrs = sim.cluster.attributes();
    sim.node_names()
        .iter()
        .map(|n| {
            let mut by_name: BTreeMap<&str, &str> = BTreeMap::new();
            for ((node, name, _), v) in &attrs {
                if node == n {
                    by_name.insert(name, v);
                }
            }
            let kv: Vec<String> = by_name.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{n}: {}", kv.join(" "))
        })
        .collect()
}

fn setup(args: &[&str]) -> Result<Sim, String> {
    let mut nodes = vec!["node1".to_string(), "node2".to_string()];
    let mut extra: Vec<(String, String)> = Vec::new();
    for a in args {
        let (k, v) = a
            .split_once('=')
            .ok_or_else(|| format!("bad argument {a}"))?;
        if k == "nodes" {
            nodes = v.split(',').map(str::to_string).collect();
        } else {
            extra.push((k.to_string(), v.to_string()));
        }
    }
    let names: Vec<&str> = nodes.iter().map(String::as_str).collect();
    let mut config = SimConfig::new(&names);
    for (k, v) in extra {
        match k.as_str() {
            "version" => config.version_num = v.parse().map_err(|_| format!("bad version {v}"))?,
            "notify" => config.notify = v == "true",
            "roles" => {
                config.monitor_roles =
                    MonitorRoles::parse(&v).ok_or_else(|| format!("bad roles {v}"))?
            }
            "migration_threshold" => {
                config.migration_threshold = v.parse().map_err(|_| "bad threshold".to_string())?
            }
            "failure_timeout" => {
                config.failure_timeout_s =
                    Some(v.parse().map_err(|_| "bad failure_timeout".to_string())?)
            }
            _ => {
                // `~` stands for a space inside a value.
                config.params.insert(k, v.replace('~', " "));
            }
        }
    }
    Ok(Sim::new(config))
}

fn node_arg<'a>(sim: &Sim, args: &[&'a str], i: usize) -> Result<&'a str, String> {
    let n = *args.get(i).ok_or("missing node argument")?;
    if sim.nodes.contains_key(n) {
        Ok(n)
    } else {
        Err(format!("no node {n}"))
    }
}

fn num_arg(args: &[&str], i: usize) -> Result<u64, String> {
    args.get(i)
        .ok_or("missing number")?
        .parse()
        .map_err(|_| "bad number".to_string())
}

/// Runs `count` writes on `node` and describes the outcome.
fn write_line(sim: &Sim, node: &str, count: u64) -> String {
    match sim.net.write(node, count) {
        Ok(WriteOutcome::Committed) => format!("committed, {node} at {}", sim.net.lsn(node)),
        Ok(WriteOutcome::WaitingForSync) => format!(
            "waiting for the synchronous standby, {node} at {}",
            sim.net.lsn(node)
        ),
        Err(e) => format!("failed: {e}"),
    }
}

/// Executes one command line and returns its output lines.
pub fn execute(sim: &mut Option<Sim>, command: &str) -> Vec<String> {
    match try_execute(sim, command) {
        Ok(lines) => lines,
        Err(e) => vec![format!("error: {e}")],
    }
}

fn try_execute(slot: &mut Option<Sim>, command: &str) -> Result<Vec<String>, String> {
    let words: Vec<&str> = command.split_whitespace().collect();
    let (cmd, args) = words.split_first().ok_or("empty command")?;
    if *cmd == "setup" {
        *slot = Some(setup(args)?);
        return Ok(vec!["ok".into()]);
    }
    let sim = slot.as_mut().ok_or("run setup first")?;
    let mut out = Vec::new();
    match *cmd {
        "pacemaker" => {
            let n = if args.is_empty() {
                1
            } else {
                num_arg(args, 0)?
            };
            for _ in 0..n {
                sim.step();
            }
            let invs = sim.take_invocations();
            out.extend(invocation_lines(&invs));
            out.push(roles_line(sim));
        }
        "probe" | "monitor" => {
            let n = node_arg(sim, args, 0)?;
            if *cmd == "probe" {
                if let Some(node) = sim.nodes.get_mut(n) {
                    node.role = PcmkRole::Unknown;
                }
            }
            sim.monitor(n);
            let invs = sim.take_invocations();
            out.extend(invocation_lines(&invs));
        }
        "start" | "stop" | "promote" | "demote" => {
            let n = node_arg(sim, args, 0)?.to_string();
            let op = match *cmd {
                "start" => Op::Start,
                "stop" => Op::Stop,
                "promote" => Op::Promote,
                _ => Op::Demote,
            };
            sim.operate(op, &[n]);
            let invs = sim.take_invocations();
            out.extend(invocation_lines(&invs));
            out.push(roles_line(sim));
        }
        "status" | "validate-all" => {
            let n = node_arg(sim, args, 0)?;
            let action: Action = cmd.parse().map_err(|_| "bad action")?;
            let env = sim.action_env(&sim.role_lists());
            sim.run(n, action, &env, cmd);
            out.extend(invocation_lines(&sim.take_invocations()));
        }
        "kill" => {
            let n = node_arg(sim, args, 0)?;
            sim.net.crash(n);
            out.push(format!("{n}: postgres killed (-9)"));
        }
        "hang" | "unhang" => {
            let n = node_arg(sim, args, 0)?;
            sim.net.set_hung(n, *cmd == "hang");
            out.push("ok".into());
        }
        "link-down" | "link-up" => {
            let a = node_arg(sim, args, 0)?;
            let b = node_arg(sim, args, 1)?;
            sim.net.set_link(a, b, *cmd == "link-up");
            out.push("ok".into());
        }
        "freeze" | "thaw" => {
            // Issue 11: the host freezes (SIGSTOP, no TCP reset) or thaws.
            let n = node_arg(sim, args, 0)?;
            sim.net.set_frozen(n, *cmd == "freeze");
            out.push("ok".into());
        }
        "lag" | "unlag" => {
            let n = node_arg(sim, args, 0)?;
            sim.net.set_lagging(n, *cmd == "lag");
            out.push("ok".into());
        }
        "backlog" => {
            // Issue 16: `backlog NODE local|copied|receiver|intermittent AMOUNT STALL
            // PER_STEP` (AMOUNT and PER_STEP in bytes, hexadecimal with 0x).
            let n = node_arg(sim, args, 0)?;
            let source = match args.get(1).copied() {
                Some("local") => crate::memory::WalSource::Local,
                Some("copied") => crate::memory::WalSource::Copied,
                Some("receiver") => crate::memory::WalSource::Receiver,
                Some("intermittent") => crate::memory::WalSource::Intermittent,
                other => return Err(format!("bad WAL source {other:?}")),
            };
            let hex = |i: usize| -> Result<u64, String> {
                let t = args.get(i).ok_or("missing number")?;
                u64::from_str_radix(t.trim_start_matches("0x"), 16)
                    .map_err(|_| "bad number".to_string())
            };
            sim.net
                .set_backlog(n, source, hex(2)?, num_arg(args, 3)? as u32, hex(4)?);
            out.push("ok".into());
        }
        "fail-queries" => {
            let n = node_arg(sim, args, 0)?;
            sim.net.fail_next_queries(n, num_arg(args, 1)? as u32);
            out.push("ok".into());
        }
        "write" => {
            let n = node_arg(sim, args, 0)?;
            let count = num_arg(args, 1)?;
            out.push(write_line(sim, n, count));
        }
        "set-lsn" => {
            let n = node_arg(sim, args, 0)?;
            let lsn =
                Lsn::parse_pg(args.get(1).ok_or("missing lsn")?).map_err(|e| e.to_string())?;
            // An optional third argument sets the timeline as well.
            let tl = match args.get(2) {
                Some(t) => t.parse().map_err(|_| format!("bad timeline {t:?}"))?,
                None => sim.net.timeline(n),
            };
            sim.net.set_position(n, lsn, tl);
            out.push("ok".into());
        }
        "set-sysid" => {
            // The node's data belongs to another cluster (e.g. re-initdb'ed).
            let n = node_arg(sim, args, 0)?;
            let id = num_arg(args, 1)?;
            sim.net.set_system_id(n, id);
            out.push("ok".into());
        }
        "rebuild" => {
            let n = node_arg(sim, args, 0)?.to_string();
            let source = sim
                .net
                .running_primaries()
                .into_iter()
                .next()
                .ok_or("no running primary")?;
            if matches!(sim.net.role(&n), SimRole::Primary | SimRole::Standby) {
                return Err(format!("{n} is running; stop it first"));
            }
            sim.net.rebuild_from(&n, &source)?;
            let node = &sim.nodes[&n];
            node.fs.remove_tree(&format!("{TMPDIR}/PGSQL.lock"));
            out.push(format!(
                "{n}: base backup from {source}, PGSQL.lock removed"
            ));
        }
        "stop-behaviour" => {
            let n = node_arg(sim, args, 0)?;
            let b = match args.get(1).copied() {
                Some("normal") => StopBehaviour::Normal,
                Some("ignore-fast") => StopBehaviour::IgnoresFast,
                Some("never") => StopBehaviour::Never,
                other => return Err(format!("bad stop behaviour {other:?}")),
            };
            sim.net.set_stop_behaviour(n, b);
            out.push("ok".into());
        }
        "slots" => {
            for n in sim.node_names() {
                let slots = sim.net.slots(&n);
                let text = if slots.is_empty() {
                    "(none)".to_string()
                } else {
                    slots.join(" ")
                };
                out.push(format!("{n}: {text}"));
            }
        }
        "sync-names" => {
            // An operator's own value in the primary's rep_mode.conf (`~` for
            // a space), followed by a reload, as `pg_ctl reload` would.
            let n = node_arg(sim, args, 0)?.to_string();
            let value = args.get(1).ok_or("missing value")?.replace('~', " ");
            let node = sim.nodes.get_mut(&n).ok_or("no node")?;
            let path = format!("{TMPDIR}/{}", crate::sync_mode::FILE_NAME);
            let line = format!("synchronous_standby_names = '{value}'\n");
            node.fs.put(&path, &line, "postgres", 0o600);
            node.pg.reload().map_err(|e| e.to_string())?;
            out.push(format!(
                "{n}: synchronous_standby_names = '{}'",
                sim.net.active_sync_names(&n)
            ));
        }
        "rm" => {
            let n = node_arg(sim, args, 0)?;
            let path = args.get(1).ok_or("missing path")?;
            sim.nodes[n].fs.remove_tree(path);
            out.push("ok".into());
        }
        "cleanup" => {
            let n = node_arg(sim, args, 0)?;
            sim.cleanup(n);
            out.push(roles_line(sim));
        }
        "failure-timeout" => {
            // The clone's failure-timeout as an operator sets it (`none`:
            // removed); reported by the failure record, never acted on.
            let value = *args.first().ok_or("missing seconds or none")?;
            sim.config.failure_timeout_s = match value {
                "none" => None,
                v => Some(v.parse().map_err(|_| format!("bad seconds {v}"))?),
            };
            sim.cluster.set_failure_meta(
                Some(sim.config.migration_threshold),
                sim.config.failure_timeout_s,
            );
            out.push("ok".into());
        }
        "node-down" | "node-up" => {
            let n = node_arg(sim, args, 0)?.to_string();
            if *cmd == "node-down" && args.get(1) == Some(&"pending") {
                sim.node_down_pending(&n);
            } else if *cmd == "node-down" && args.get(1) == Some(&"unfenced") {
                sim.node_down_unfenced(&n);
            } else if *cmd == "node-down" {
                sim.node_down(&n);
            } else {
                sim.node_up(&n);
            }
            out.extend(invocation_lines(&sim.take_invocations()));
            out.push(roles_line(sim));
        }
        "advance" => {
            sim.advance(Duration::from_secs(num_arg(args, 0)?));
            out.push("ok".into());
        }
        "set-attr" => {
            let n = node_arg(sim, args, 0)?;
            let name = args.get(1).ok_or("missing name")?;
            let value = args.get(2).ok_or("missing value")?;
            let lifetime = if args.get(3) == Some(&"forever") {
                Lifetime::Forever
            } else {
                Lifetime::Reboot
            };
            sim.cluster.put_attr(n, name, value, lifetime);
            out.push("ok".into());
        }
        "explain" => {
            // `explain [NODE]`: what `pgsql-ra explain` prints on NODE (default:
            // the first node), the cluster line first.
            let n = match args.first() {
                Some(_) => node_arg(sim, args, 0)?.to_string(),
                None => sim.node_names().first().cloned().ok_or("no node")?,
            };
            let e = sim.explain(&n).ok_or("no node")?;
            out.push(format!("on {n}:"));
            out.extend(e.render_text(None).lines().map(str::to_string));
        }
        "attrs" => out.extend(attrs_lines(sim)),
        "roles" => out.push(roles_line(sim)),
        "pg" => {
            for n in sim.node_names() {
                let up = sim
                    .net
                    .upstream(&n)
                    .map(|u| format!(" from {u}"))
                    .unwrap_or_default();
                out.push(format!(
                    "{n}: {:?}{up} timeline {} at {}",
                    sim.net.role(&n),
                    sim.net.timeline(&n),
                    sim.net.lsn(&n)
                ));
            }
        }
        "files" => {
            let n = node_arg(sim, args, 0)?;
            let dir = args.get(1).copied().unwrap_or(TMPDIR);
            let prefix = format!("{}/", dir.trim_end_matches('/'));
            // The decision journal is left out (it is in every tmpdir where
            // a decision was taken; `history NODE` prints it).
            for p in sim.nodes[n].fs.paths() {
                if let Some(rest) = p.strip_prefix(&prefix) {
                    if !rest.starts_with(crate::journal::FILE) {
                        out.push(rest.to_string());
                    }
                }
            }
        }
        "history" => {
            // `history NODE`: what `pgsql-ra history` prints on NODE.
            let n = node_arg(sim, args, 0)?;
            let path = format!("{TMPDIR}/{}", crate::journal::FILE);
            let text = sim.nodes[n].fs.file(&path).unwrap_or_default();
            let read = crate::journal::parse(&text);
            out.extend(read.entries.iter().map(crate::journal::render_text));
            if read.bad_lines > 0 {
                out.push(crate::journal::skipped_text(read.bad_lines));
            }
        }
        "cat" => {
            let n = node_arg(sim, args, 0)?;
            let path = args.get(1).ok_or("missing path")?;
            match sim.nodes[n].fs.file(path) {
                Some(text) => out.extend(text.lines().map(|l| {
                    if l.is_empty() {
                        "<empty line>".to_string()
                    } else {
                        l.to_string()
                    }
                })),
                None => out.push("(no such file)".into()),
            }
        }
        other => match operator::execute(sim, other, args)
            .or_else(|| datadir::execute(sim, other, args))
        {
            Some(result) => out.extend(result?),
            None => return Err(format!("unknown command {other}")),
        },
    }
    if out.is_empty() {
        out.push("(nothing)".into());
    }
    Ok(out)
}
