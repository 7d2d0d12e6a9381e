//! The operator subcommands of `pgsql-ra` (issue 13), beside the OCF
//! actions: `status`, `explain` and `history`, parsed with clap.
//!
//! `pgsql-ra status` is also an OCF action: it is the operator's command
//! only with more arguments (`--json`, `--resource`) or outside an OCF
//! environment (neither `OCF_ROOT` nor `OCF_RESOURCE_INSTANCE` set), see
//! [`is_operator_command`]. Every OCF action as `argv[1]` in an OCF
//! environment behaves exactly as before.
//!
//! The resource's parameters come from the live CIB ([`crate::cib`]); with
//! the file-backed attribute store (`PGSQL_RA_ATTRD_DIR`) from the
//! environment's `OCF_RESKEY_*`, as the actions read them.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use pgsql_ra_core::explain::gather::gather;
use pgsql_ra_core::explain::status::Status;
use pgsql_ra_core::explain::{explain, Snapshot};
use pgsql_ra_core::journal;
use pgsql_ra_core::Agent;

use pgsql_ra_core::ports::Cluster;

use crate::bounded_cluster::BoundedCluster;
use crate::wiring::{RealWorld, ATTRD_DIR_VAR};

/// `pgsql-ra <subcommand>` for operators, run as root on any node.
#[derive(Debug, Parser)]
#[command(
    name = "pgsql-ra",
    version = pgsql_ra_core::metadata::AGENT_VERSION,
    about = "pgsql-ra operator commands: the cluster's state and why (OCF actions: see pgsql-ra --help)"
)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// One row per node_list node: role, pgsql-status, data-status, score,
    /// published LSN/timeline, PGSQL.lock; on the primary its replication rows.
    Status {
        /// JSON (schema pgsql-ra/status/1, docs/explain.md).
        #[arg(long)]
        json: bool,
        /// The resource (primitive or clone id); default: the only
        /// promotable clone of ocf:pgsql-ra:pgsql.
        #[arg(long)]
        resource: Option<String>,
    },
    /// For each node, the rule behind its score and data-status, its inputs
    /// and what would change it; and why there is (no) primary.
    Explain {
        /// Only this node.
        node: Option<String>,
        /// JSON (schema pgsql-ra/explain/1, docs/explain.md).
        #[arg(long)]
        json: bool,
        /// The resource (primitive or clone id).
        #[arg(long)]
        resource: Option<String>,
    },
    /// The last decisions the agent took on this node (its journal in tmpdir).
    History {
        /// JSON lines as journaled (schema pgsql-ra/journal/1).
        #[arg(long)]
        json: bool,
        /// How many of the last entries.
        #[arg(short = 'n', default_value_t = 20)]
        n: usize,
        /// The resource (primitive or clone id).
        #[arg(long)]
        resource: Option<String>,
        /// The tmpdir holding the journal (else `PGSQL_RA_TMPDIR`, else the
        /// resource's `tmpdir` from the CIB, else the default when the CIB
        /// cannot be read).
        #[arg(long)]
        tmpdir: Option<String>,
    },
}

/// True when argv (without the program name) is an operator subcommand.
pub fn is_operator_command(args: &[String], env: &BTreeMap<String, String>) -> bool {
    match args.first().map(String::as_str) {
        Some("explain" | "history") => true,
        Some("status") => {
            args.len() > 1
                || !(env.contains_key("OCF_ROOT") || env.contains_key("OCF_RESOURCE_INSTANCE"))
        }
        _ => false,
    }
}

/// Bounds every Pacemaker tool the subcommands run (`cibadmin` here; the
/// cluster port's tools through [`OPERATOR_TIMEOUT_MS`]).
const TOOL_TIMEOUT: Duration = Duration::from_secs(6);

/// The operation timeout (ms) the subcommands' per-call limits derive from
/// ([`crate::budget::Budget::from_timeout_ms`]): 6 s per program (crm_node,
/// crm_mon, crm_attribute, pg_ctl), 2.4 s per database connection and per
/// statement, 9.6 s for all database calls together.
const OPERATOR_TIMEOUT_MS: &str = "12000";

/// No cluster read starts later than this after the command began; with
/// the limits above `status` and `explain` end within about 31 s (6 s
/// `cibadmin`… 15 s + 6 s for the last cluster read, 9.6 s of database
/// calls), even when every Pacemaker tool hangs (issue 13: a hanging tool
/// is run once, [`crate::bounded_cluster`]).
const CLUSTER_READS_WITHIN: Duration = Duration::from_secs(15);

/// Environment variable naming the tmpdir for `history` (issue 13).
pub const TMPDIR_VAR: &str = "PGSQL_RA_TMPDIR";

/// The environment the actions would get: `OCF_RESKEY_*` of the resource
/// (from the CIB, or as given with the file-backed store) and
/// `OCF_RESOURCE_INSTANCE`.
fn resource_env(
    env: &BTreeMap<String, String>,
    resource: Option<&str>,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = env.clone();
    if env.get(ATTRD_DIR_VAR).is_some_and(|d| !d.is_empty()) {
        let instance = resource
            .map(str::to_string)
            .or_else(|| env.get("OCF_RESOURCE_INSTANCE").cloned())
            .unwrap_or_else(|| "pgsql".to_string());
        out.insert("OCF_RESOURCE_INSTANCE".into(), instance);
        return Ok(out);
    }
    let xml =
        crate::cib::query_resources(env.get("HA_SBIN_DIR").map(String::as_str), TOOL_TIMEOUT)?;
    let found = crate::cib::agent_resources(&xml)?;
    let r = crate::cib::pick(found, resource)?;
    out.retain(|k, _| !k.starts_with("OCF_RESKEY_") || k.starts_with("OCF_RESKEY_CRM_meta_"));
    for (k, v) in r.params {
        out.insert(format!("OCF_RESKEY_{k}"), v);
    }
    out.insert("OCF_RESOURCE_INSTANCE".into(), r.primitive_id);
    Ok(out)
}

fn snapshot(env: &BTreeMap<String, String>, agent: &Agent, deadline: Instant) -> Snapshot {
    let mut real = RealWorld::new(env, agent)
        .map_cluster(|c| Box::new(BoundedCluster::new(c, deadline)) as Box<dyn Cluster>);
    let mut snap = gather(&agent.params, &agent.names, &mut real.world());
    if let Some(lock) = snap.lock.as_mut() {
        lock.since_epoch_s = std::fs::metadata(crate::bytes_path::path(&lock.path))
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs());
    }
    snap
}

fn print_json<T: serde::Serialize>(value: &T) -> ExitCode {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pgsql-ra: cannot serialize: {e}");
            ExitCode::from(1)
        }
    }
}

/// Runs an operator subcommand; exit 0 on success, 1 on an error (in
/// words on stderr), 2 on bad usage (clap's).
pub fn run(args: &[String], env: &BTreeMap<String, String>) -> ExitCode {
    let cli = match Cli::try_parse_from(
        std::iter::once("pgsql-ra".to_string()).chain(args.iter().cloned()),
    ) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let started = Instant::now();
    let (view, resource) = match cli.command {
        Command::History {
            json,
            n,
            resource,
            tmpdir,
        } => {
            let (dir, source) = history_tmpdir(env, resource.as_deref(), tmpdir.as_deref());
            return history(&dir, &source, json, n);
        }
        Command::Status { json, resource } => (View::Status { json }, resource),
        Command::Explain {
            node,
            json,
            resource,
        } => (View::Explain { node, json }, resource),
    };
    let mut env = match resource_env(env, resource.as_deref()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("pgsql-ra: {e}");
            return ExitCode::from(1);
        }
    };
    env.insert(
        "OCF_RESKEY_CRM_meta_timeout".into(),
        OPERATOR_TIMEOUT_MS.into(),
    );
    let agent = Agent::from_env_map(&env);
    if !agent.params.rep_mode.is_replication() || agent.params.node_list.is_empty() {
        eprintln!(
            "pgsql-ra: rep_mode={} with node_list {}: no replication, no promotion decision to show",
            agent.params.rep_mode.as_str(),
            pgsql_ra_core::quote::quoted(&agent.params.node_list.join(" "))
        );
        return ExitCode::from(1);
    }
    let snap = snapshot(&env, &agent, started + CLUSTER_READS_WITHIN);
    let unreadable = snap.cluster_unreadable();
    if let Some(first) = unreadable.first() {
        let more = match unreadable.len() - 1 {
            0 => String::new(),
            n => format!(" ({n} further error(s): the reads after a failure are not attempted)"),
        };
        eprintln!(
            "pgsql-ra: the cluster state could not be read: {first}{more}; no answer is given from a partial state (after {:.1} s)",
            started.elapsed().as_secs_f64()
        );
        return ExitCode::from(1);
    }
    match view {
        View::Status { json } => {
            let status = Status::of(&snap);
            if json {
                return print_json(&status);
            }
            print!("{}", status.render_text());
            ExitCode::SUCCESS
        }
        View::Explain { node, json } => {
            // The explanation is about node_list's nodes: a local node
            // outside it (a renamed host, an FQDN) would be left out while
            // its server may run as a primary (issue-13 attack finding 7).
            let local = snap.local_node.to_lowercase();
            if !local.is_empty() && !agent.params.node_list.contains(&local) {
                eprintln!(
                    "pgsql-ra: this node ({}) is not in node_list ({}): the agent takes no part in the election here; nothing explained",
                    pgsql_ra_core::quote::quoted(&snap.local_node),
                    pgsql_ra_core::quote::quoted(&agent.params.node_list.join(" "))
                );
                return ExitCode::from(1);
            }
            let node = node.map(|n| n.to_lowercase());
            let mut e = explain(&agent.params, &snap);
            if let Some(n) = node.as_deref() {
                if !e.nodes.iter().any(|x| x.node == n) {
                    eprintln!("pgsql-ra: {n} is not in node_list");
                    return ExitCode::from(1);
                }
                if json {
                    e.nodes.retain(|x| x.node == n);
                }
            }
            if json {
                return print_json(&e);
            }
            print!("{}", e.render_text(node.as_deref()));
            ExitCode::SUCCESS
        }
    }
}

/// `status` or `explain`, which read the cluster's state.
enum View {
    Status { json: bool },
    Explain { node: Option<String>, json: bool },
}

/// The tmpdir `history` reads and where it came from, in words: `--tmpdir`,
/// else [`TMPDIR_VAR`], else the resource's parameters (the CIB, or the
/// environment with the file-backed store), else — the CIB unreadable —
/// the `tmpdir` parameter's default (`/var/lib/pgsql/tmp`, as the stock
/// agent's).
fn history_tmpdir(
    env: &BTreeMap<String, String>,
    resource: Option<&str>,
    option: Option<&str>,
) -> (String, String) {
    if let Some(t) = option.filter(|t| !t.is_empty()) {
        return (t.to_string(), "--tmpdir".into());
    }
    if let Some(t) = env.get(TMPDIR_VAR).filter(|t| !t.is_empty()) {
        return (t.clone(), TMPDIR_VAR.into());
    }
    match resource_env(env, resource) {
        Ok(e) => {
            let agent = Agent::from_env_map(&e);
            let source = if e.get("OCF_RESKEY_tmpdir").is_some_and(|t| !t.is_empty()) {
                "the resource's tmpdir parameter"
            } else {
                "the tmpdir parameter's default"
            };
            (agent.params.tmpdir, source.into())
        }
        Err(why) => {
            let default = Agent::from_env_map(&BTreeMap::new()).params.tmpdir;
            eprintln!(
                "pgsql-ra: the resource's parameters could not be read ({why}): reading the journal in the default tmpdir {default} (use --tmpdir or {TMPDIR_VAR})"
            );
            (
                default,
                format!("the default tmpdir: the resource's parameters could not be read ({why})"),
            )
        }
    }
}

/// At most this much of each journal file is read (the journal rotates at
/// 64 KiB; a larger file is not the agent's).
const JOURNAL_READ_CAP: u64 = 1 << 20;

/// Reads a journal file without following a symbolic link, without blocking
/// on a FIFO, only a regular file, at most [`JOURNAL_READ_CAP`] bytes from
/// its end (issue 13, operator attack: tmpdir belongs to pgdba).
fn read_journal_file(path: &str) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(crate::bytes_path::path(path))?;
    let meta = f.metadata()?;
    if !meta.file_type().is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    if meta.len() > JOURNAL_READ_CAP {
        f.seek(SeekFrom::Start(meta.len() - JOURNAL_READ_CAP))?;
    }
    let mut bytes = Vec::new();
    f.take(JOURNAL_READ_CAP).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// `text` with control characters (an escape sequence, a carriage return)
/// in caret notation: the journal lives in pgdba's tmpdir and must not
/// drive the operator's terminal (issue-13 attack).
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\t' => c.to_string(),
            c if c.is_control() && (c as u32) < 0x20 => format!("^{}", char::from(b'@' + c as u8)),
            '\u{7f}' => "^?".into(),
            c if c.is_control() => format!("\\u{{{:x}}}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

fn history(tmpdir: &str, source: &str, json: bool, n: usize) -> ExitCode {
    let base = format!("{}/{}", tmpdir.trim_end_matches('/'), journal::FILE);
    let mut text = String::new();
    let mut unreadable = Vec::new();
    for path in [format!("{base}.1"), base.clone()] {
        match read_journal_file(&path) {
            Ok(bytes) => text.push_str(&String::from_utf8_lossy(&bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => unreadable.push(format!("cannot read {path}: {e}")),
        }
    }
    // A journal that exists but cannot be read is not an empty one (the
    // issue-13 attack: a FIFO, a directory or a link answered "no decision
    // journaled" with exit 0).
    if !unreadable.is_empty() {
        for u in &unreadable {
            eprintln!("pgsql-ra: {u}");
        }
        return ExitCode::FAILURE;
    }
    let read = journal::parse(&text);
    let skip = read.entries.len().saturating_sub(n);
    let last = &read.entries[skip..];
    if json {
        let out = serde_json::json!({
            "schema": journal::HISTORY_SCHEMA,
            "journal": base,
            "tmpdir": tmpdir,
            "tmpdir_from": source,
            "skipped": read.bad_lines,
            "skipped_lines": read.bad_lines,
            "entries": last,
        });
        return print_json(&out);
    }
    println!("journal {base} (tmpdir from {source})");
    if read.entries.is_empty() {
        println!("no decision journaled in {base}");
    }
    for e in last {
        println!("{}", printable(&journal::render_text(e)));
    }
    if read.bad_lines > 0 {
        println!("{}", journal::skipped_text(read.bad_lines));
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn journal_text_cannot_drive_the_terminal() {
        assert_eq!(printable("esc \u{1b}[31mRED \r x"), "esc ^[[31mRED ^M x");
        assert_eq!(printable("caf\u{e9}\tok"), "caf\u{e9}\tok");
        assert_eq!(printable("\u{9b}"), "\\u{9b}");
    }

    #[test]
    fn ocf_actions_keep_their_dispatch() {
        let ocf: BTreeMap<String, String> =
            [("OCF_ROOT".to_string(), "/usr/lib/ocf".to_string())].into();
        let bare = BTreeMap::new();
        // An OCF action as the only argument in an OCF environment: OCF.
        for a in ["status", "monitor", "start", "meta-data"] {
            assert!(!is_operator_command(&args(&[a]), &ocf), "{a}");
        }
        assert!(!is_operator_command(&args(&["monitor"]), &bare));
        // status with an option, or outside OCF: the operator's command.
        assert!(is_operator_command(&args(&["status", "--json"]), &ocf));
        assert!(is_operator_command(&args(&["status"]), &bare));
        for a in ["explain", "history"] {
            assert!(is_operator_command(&args(&[a]), &ocf), "{a}");
        }
        assert!(!is_operator_command(&[], &bare));
    }

    #[test]
    fn the_subcommands_parse() {
        let parse =
            |a: &[&str]| Cli::try_parse_from(std::iter::once("pgsql-ra").chain(a.iter().copied()));
        match parse(&["explain", "node2", "--json"])
            .expect("parses")
            .command
        {
            Command::Explain { node, json, .. } => {
                assert_eq!(node.as_deref(), Some("node2"));
                assert!(json);
            }
            other => panic!("{other:?}"),
        }
        match parse(&["history", "-n", "5"]).expect("parses").command {
            Command::History { n, json, .. } => assert_eq!((n, json), (5, false)),
            other => panic!("{other:?}"),
        }
        assert!(parse(&["history", "-n", "x"]).is_err());
        assert!(parse(&["status", "--bogus"]).is_err());
    }
}
