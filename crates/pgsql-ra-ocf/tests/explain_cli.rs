//! `pgsql-ra status|explain|history` (issue 13) against two real
//! PostgreSQL 15 servers driven by the real agent binary, with the
//! file-backed attribute store standing in for Pacemaker (the harness of
//! agent_real_pg.rs): every JSON output is parsed and checked field by
//! field against the schema in docs/explain.md.

mod common;

use std::process::Command;
use std::time::Duration;

use common::agent::{attr, AgentEnv};
use common::*;
use serde_json::Value;

const RUNNING: i32 = 0;
const NOT_RUNNING: i32 = 7;
const PROMOTED: i32 = 8;

struct Pair {
    _dir: TestDir,
    n1: PgNode,
    n2: PgNode,
    attrd: String,
}

impl Pair {
    fn new(tag: &str) -> Pair {
        let dir = TestDir::new(tag);
        let port = free_port();
        let n1 = PgNode::new(&dir, "node1", 1, port);
        let n2 = PgNode::new(&dir, "node2", 2, port);
        let attrd = dir.join("attrd");
        std::fs::create_dir_all(&attrd).expect("attrd dir");
        std::fs::write(format!("{attrd}/nodes"), "node1\nnode2\n").expect("nodes");
        Pair {
            _dir: dir,
            n1,
            n2,
            attrd,
        }
    }

    fn env(&self, node: &PgNode, master: &PgNode) -> AgentEnv {
        AgentEnv::new(node, &self.attrd, "node1 node2", &master.host)
    }

    fn set_promoted(&self, node: Option<&PgNode>) {
        let text = node
            .map(|n| format!("pgsql {}\n", n.name))
            .unwrap_or_default();
        std::fs::write(format!("{}/promoted", self.attrd), text).expect("promoted");
    }

    fn attr(&self, node: &PgNode, lifetime: &str, name: &str) -> Option<String> {
        attr(&self.attrd, &node.name, lifetime, name)
    }
}

/// Runs an operator subcommand with the node's environment.
fn cli(env: &AgentEnv, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pgsql-ra"))
        .args(args)
        .env_clear()
        .envs(&env.vars)
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(env: &AgentEnv, args: &[&str]) -> Value {
    let (code, out, err) = cli(env, args);
    assert_eq!(code, 0, "{args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

/// Writes `name=value` (reboot) on `node` in the file-backed store, as an
/// operator or a stray tool would behind the agent's back.
fn set_attr(p: &Pair, node: &str, name: &str, value: &str) {
    use pgsql_ra_core::ports::{Cluster, Lifetime};
    let mut store = pgsql_ra_ocf::file_store::FileStore::new(&p.attrd, node);
    store
        .set_attr(node, name, value, Lifetime::Reboot)
        .expect("attribute written");
}

fn node<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["node"] == name)
        .unwrap_or_else(|| panic!("{name} in {doc}"))
}

fn rules(n: &Value) -> Vec<String> {
    n["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| r["rule"].as_str().expect("rule").to_string())
        .collect()
}

#[test]
fn status_explain_and_history_through_a_crash_and_failover() {
    let p = Pair::new("explain");
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    p.n1.initdb();
    p.n1.start_directly();
    p.n2.basebackup_from(&p.n1);
    p.n1.stop_immediately();
    let a1 = p.env(&p.n1, &p.n1);
    let a2 = p.env(&p.n2, &p.n1);
    a1.expect("monitor", 0, NOT_RUNNING);
    a1.expect("start", 0, RUNNING);
    a1.expect("promote", 0, RUNNING);
    p.set_promoted(Some(&p.n1));
    a2.expect("start", 0, RUNNING);
    assert!(wait_for(Duration::from_secs(30), || {
        a1.run("monitor", 4000).code == PROMOTED
            && p.attr(&p.n2, "forever", "pgsql-data-status").as_deref() == Some("STREAMING|SYNC")
    }));

    // status on the primary: both nodes, its replication row, the sync names.
    let s = json(&a1, &["status", "--json"]);
    assert_eq!(s["schema"], "pgsql-ra/status/1");
    assert_eq!(s["resource"], "pgsql");
    assert_eq!(s["local_node"], "node1");
    assert_eq!(node(&s, "node1")["promoted"], true);
    assert_eq!(node(&s, "node1")["pgsql_status"], "PRI");
    assert_eq!(node(&s, "node2")["data_status"], "STREAMING|SYNC");
    assert_eq!(node(&s, "node2")["score"], "100");
    assert_eq!(s["local_server"]["in_recovery"], false);
    assert!(s["local_server"]["system_id"].as_str().is_some(), "{s}");
    let rows = s["replication"].as_array().expect("replication rows");
    let row = rows
        .iter()
        .find(|r| r["application_name"] == "node2")
        .expect("node2 row");
    assert_eq!(row["state"], "STREAMING");
    assert_eq!(row["sync_state"], "SYNC");
    assert!(row["flush_lag_bytes"].as_u64().is_some(), "{row}");
    assert!(
        row["sent_lsn"].as_str().is_some_and(|l| l.contains('/')),
        "{row}"
    );
    assert!(row["sent_lag_bytes"].as_u64().is_some(), "{row}");
    for k in ["write_lag_ms", "flush_lag_ms", "replay_lag_ms"] {
        assert!(row[k].is_null() || row[k].as_u64().is_some(), "{k}: {row}");
    }
    assert!(s["synchronous_standby_names"]
        .as_str()
        .is_some_and(|v| v.contains("node2")));
    let (code, text, _) = cli(&a1, &["status"]);
    assert_eq!(
        code, 0,
        "no OCF_ROOT check: status alone with OCF_ROOT is the OCF action"
    );
    assert!(
        text.is_empty(),
        "the OCF status action prints nothing: {text}"
    );

    // explain on the primary: node2's row classified by control_slave_status.
    let e = json(&a1, &["explain", "--json"]);
    assert_eq!(e["schema"], "pgsql-ra/explain/1");
    assert_eq!(e["cluster"]["rule"], "cluster.primary");
    assert_eq!(
        rules(node(&e, "node1")),
        ["role_gate.primary_path", "state.promoted"]
    );
    assert_eq!(rules(node(&e, "node2")), ["replication.streaming_sync"]);
    assert_eq!(
        node(&e, "node2")["reasons"][0]["inputs"]["sync_state"],
        "SYNC"
    );
    assert_eq!(node(&e, "node1")["published"]["verdict"], "agrees");
    assert_eq!(node(&e, "node2")["published"]["verdict"], "agrees");
    assert_eq!(node(&e, "node1")["server"]["role"], "primary");

    // Issue 13 item 1: a score written behind the agent's back is not
    // "explained": the primary's classification gives 100.
    set_attr(&p, "node2", "master-pgsql", "1000");
    let e = json(&a1, &["explain", "--json"]);
    let n2 = node(&e, "node2");
    assert_eq!(n2["score"], "1000");
    assert_eq!(n2["published"]["verdict"], "disagrees", "{n2}");
    let m = &n2["published"]["mismatches"][0];
    assert_eq!(m["attribute"], "score");
    assert_eq!(m["published"], "1000");
    assert_eq!(m["expected"], "100");
    assert_eq!(m["rule"], "replication.streaming_sync");
    let (code, text, err) = cli(&a1, &["explain", "node2"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains(
            "! published score 1000 but the rules give 100 because [replication.streaming_sync]"
        ),
        "{text}"
    );
    set_attr(&p, "node2", "master-pgsql", "100");

    // kill -9 of the primary; Pacemaker's recovery: demote, stop; the
    // standby's monitors elect it; it is promoted.
    p.n1.signal_all(libc::SIGKILL);
    // Issue 13 item 2: before its monitor fails, node1 is still Promoted
    // with PRI and 1000; explain reads its server through the ports.
    let mut e = Value::Null;
    assert!(
        wait_for(Duration::from_secs(10), || {
            e = json(&a1, &["explain", "node1", "--json"]);
            rules(node(&e, "node1")).first().map(String::as_str) == Some("state.server_down")
        }),
        "{e}"
    );
    let n1 = node(&e, "node1");
    assert_eq!(n1["server"]["running"], false, "{n1}");
    assert_eq!(n1["published"]["verdict"], "disagrees", "{n1}");
    let wrong: Vec<&str> = n1["published"]["mismatches"]
        .as_array()
        .expect("mismatches")
        .iter()
        .map(|m| m["attribute"].as_str().expect("attribute"))
        .collect();
    assert_eq!(wrong, ["score", "pgsql_status"], "{n1}");
    let (code, text, err) = cli(&a1, &["explain", "node1"]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("server: not running"), "{text}");
    assert!(text.contains("its next monitor fails"), "{text}");
    a1.expect("monitor", 4000, NOT_RUNNING);
    p.set_promoted(None);
    let _ = a1.run("demote", 0);
    a1.expect("stop", 0, RUNNING);
    assert!(wait_for(Duration::from_secs(30), || {
        a2.run("monitor", 4000);
        p.attr(&p.n2, "reboot", "master-pgsql").as_deref() == Some("1000")
    }));

    // explain on the old primary names the lock, with its time.
    let e = json(&a1, &["explain", "node1", "--json"]);
    assert_eq!(e["cluster"]["rule"], "cluster.no_primary");
    let n1 = node(&e, "node1");
    assert_eq!(rules(n1)[0], "start.lock_present", "{n1}");
    let lock = &n1["reasons"][0];
    assert!(lock["sentence"].as_str().unwrap().contains("PGSQL.lock"));
    assert!(lock["inputs"]["lock_since"]
        .as_str()
        .unwrap()
        .ends_with("UTC"));
    assert!(lock["would_change"].as_str().unwrap().contains("rebuild"));
    let (code, text, err) = cli(&a1, &["explain", "node1"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains("node1:") && text.contains("PGSQL.lock present since"),
        "{text}"
    );
    let s = json(&a1, &["status", "--json"]);
    assert!(node(&s, "node1")["lock"]
        .as_str()
        .unwrap()
        .ends_with("PGSQL.lock"));
    assert_eq!(s["local_server"]["running"], false);

    a2.expect("promote", 0, RUNNING);
    p.set_promoted(Some(&p.n2));
    a2.expect("monitor", 4000, PROMOTED);

    // history on the new primary: the election it won, then its promotion.
    let h = json(&a2, &["history", "--json"]);
    assert_eq!(h["schema"], "pgsql-ra/history/1");
    assert_eq!(h["skipped"], 0);
    assert_eq!(h["skipped_lines"], 0);
    assert_eq!(h["tmpdir_from"], "the resource's tmpdir parameter");
    let entries = h["entries"].as_array().expect("entries");
    let won = entries
        .iter()
        .position(|x| x["event"] == "election" && x["verdict"] == "winner")
        .unwrap_or_else(|| panic!("no election won in {h}"));
    let w = &entries[won];
    assert_eq!(w["node"], "node2");
    assert_eq!(w["schema"], "pgsql-ra/journal/1");
    assert!(w["ts"].as_u64().is_some());
    assert!(w["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["node"] == "node2"));
    let promoted = entries
        .iter()
        .position(|x| x["event"] == "promoted")
        .expect("promotion journaled");
    assert!(promoted > won);
    // Pacemaker chose it for the 1000 the election gave it.
    assert_eq!(entries[promoted]["score"], "1000", "{h}");
    assert_eq!(entries[promoted]["data_status"], "STREAMING|SYNC", "{h}");
    // And the old primary's refused start is in its own journal.
    let r = a1.run("start", 0);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let h1 = json(&a1, &["history", "--json", "-n", "1"]);
    assert_eq!(h1["entries"][0]["rule"], "start.lock_present", "{h1}");

    // A corrupt journal never breaks history: bad lines are skipped and counted.
    let journal = format!("{}/pgsql-ra-journal.jsonl", p.n2.tmpdir);
    let mut text = std::fs::read_to_string(&journal).expect("journal");
    text.push_str("{\"torn\n\u{0}garbage\n");
    std::fs::write(&journal, text).expect("corrupt");
    let h = json(&a2, &["history", "--json"]);
    assert_eq!(h["skipped"], 2);
    let (code, text, _) = cli(&a2, &["history"]);
    assert_eq!(code, 0);
    assert!(
        text.contains("election: winner") && text.contains("2 malformed lines skipped"),
        "{text}"
    );
    std::fs::remove_file(&journal).expect("rm");
    let (code, text, _) = cli(&a2, &["history"]);
    assert_eq!(code, 0);
    assert!(text.contains("no decision journaled"), "{text}");
}

/// Under Pacemaker the parameters come from the CIB: an offline CIB
/// (`CIB_file`, which cibadmin, crm_mon and crm_attribute all honour) with
/// the promotable clone of ocf:pgsql-ra:pgsql and two nodes.
#[test]
fn the_resource_and_its_parameters_come_from_the_cib() {
    let dir = TestDir::new("cib");
    let cib = dir.join("cib.xml");
    let tools = |args: &[&str], program: &str| {
        let out = Command::new(program)
            .args(args)
            .env("CIB_file", &cib)
            .output()
            .expect("pacemaker tools");
        assert!(out.status.success(), "{program} {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    std::fs::write(&cib, tools(&["--empty"], "cibadmin")).expect("empty cib");
    let tmp = dir.join("tmp");
    let clone = |clone: &str, rsc: &str| {
        format!(
            r#"<clone id="{clone}"><primitive id="{rsc}" class="ocf" provider="pgsql-ra" type="pgsql"><instance_attributes id="{rsc}-ia"><nvpair id="{rsc}-a" name="rep_mode" value="sync"/><nvpair id="{rsc}-b" name="node_list" value="node1 node2"/><nvpair id="{rsc}-c" name="master_ip" value="10.0.0.1"/><nvpair id="{rsc}-d" name="tmpdir" value="{tmp}"/></instance_attributes></primitive><meta_attributes id="{clone}-m"><nvpair id="{clone}-p" name="promotable" value="true"/></meta_attributes></clone>"#
        )
    };
    tools(
        &[
            "--create",
            "-o",
            "resources",
            "--xml-text",
            &clone("pgsql-clone", "pgsql"),
        ],
        "cibadmin",
    );
    for (id, node, ds) in [("1", "node1", "LATEST"), ("2", "node2", "DISCONNECT")] {
        let xml = format!(
            r#"<node id="{id}" uname="{node}"><instance_attributes id="{node}-ia"><nvpair id="{node}-ds" name="pgsql-data-status" value="{ds}"/></instance_attributes></node>"#
        );
        tools(&["--create", "-o", "nodes", "--xml-text", &xml], "cibadmin");
    }
    let mut env = AgentEnv {
        vars: Default::default(),
    };
    env.set("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .set("CIB_file", &cib)
        .set("OCF_RESKEY_CRM_meta_on_node", "node1");
    let s = json(&env, &["status", "--json"]);
    assert_eq!(s["resource"], "pgsql");
    assert_eq!(s["local_node"], "node1");
    assert_eq!(node(&s, "node1")["data_status"], "LATEST");
    assert_eq!(node(&s, "node2")["data_status"], "DISCONNECT");
    assert_eq!(node(&s, "node2")["online"], false);
    let e = json(&env, &["explain", "--json", "--resource", "pgsql-clone"]);
    assert_eq!(e["cluster"]["rule"], "cluster.no_primary");
    assert_eq!(rules(node(&e, "node2")), ["state.offline"]);
    let (code, _, err) = cli(&env, &["explain", "--resource", "nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("\"nope\""), "{err}");
    // Two clones of the agent: the operator must name one.
    tools(
        &[
            "--create",
            "-o",
            "resources",
            "--xml-text",
            &clone("pg2-clone", "pg2"),
        ],
        "cibadmin",
    );
    let (code, _, err) = cli(&env, &["status"]);
    assert_eq!(code, 1);
    assert!(err.contains("--resource"), "{err}");
    assert_eq!(
        json(&env, &["status", "--json", "--resource", "pg2"])["resource"],
        "pg2"
    );
}

/// A directory of stand-in Pacemaker programs, put first on PATH.
///
/// A test double of external programs is used here only because a hanging
/// or unreachable Pacemaker cannot be produced otherwise on a test machine
/// (issue 13 item 3): `cibadmin` prints a CIB with the resource (or fails),
/// the others record each call and sleep far longer than any limit.
fn fake_pacemaker(dir: &TestDir, tmpdir: &str, cibadmin_fails: bool) -> (String, String) {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("fakebin");
    let calls = dir.join("calls");
    std::fs::create_dir_all(&bin).expect("fake bin");
    let cib = format!(
        r#"<resources><clone id="pgsql-clone"><primitive id="pgsql" class="ocf" provider="pgsql-ra" type="pgsql"><instance_attributes id="ia"><nvpair id="a" name="rep_mode" value="sync"/><nvpair id="b" name="node_list" value="node1 node2"/><nvpair id="c" name="master_ip" value="10.0.0.1"/><nvpair id="d" name="tmpdir" value="{tmpdir}"/></instance_attributes></primitive><meta_attributes id="m"><nvpair id="p" name="promotable" value="true"/></meta_attributes></clone></resources>"#
    );
    let cibadmin = if cibadmin_fails {
        "#!/bin/sh\necho 'Could not connect to the CIB: Transport endpoint is not connected' >&2\nexit 102\n".to_string()
    } else {
        format!("#!/bin/sh\ncat <<'EOF'\n{cib}\nEOF\n")
    };
    let hang = |name: &str| format!("#!/bin/sh\necho {name} >> {calls}\nexec sleep 300\n");
    for (name, text) in [
        ("cibadmin", cibadmin),
        ("crm_node", hang("crm_node")),
        ("crm_mon", hang("crm_mon")),
        ("crm_attribute", hang("crm_attribute")),
        ("attrd_updater", hang("attrd_updater")),
    ] {
        let path = format!("{bin}/{name}");
        std::fs::write(&path, text).expect("fake program");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    (bin, calls)
}

fn calls_of(calls: &str, program: &str) -> usize {
    std::fs::read_to_string(calls)
        .unwrap_or_default()
        .lines()
        .filter(|l| *l == program)
        .count()
}

/// Issue 13 item 3: with crm_mon and crm_attribute hanging, `explain` and
/// `status` ask crm_mon once (not once per attribute), give up within the
/// bound and exit 1 with a clear message instead of a wrong answer.
#[test]
fn a_hanging_pacemaker_is_asked_once_and_the_command_fails_in_bounded_time() {
    let dir = TestDir::new("hang");
    let tmpdir = dir.join("tmp");
    std::fs::create_dir_all(&tmpdir).expect("tmpdir");
    let (bin, calls) = fake_pacemaker(&dir, &tmpdir, false);
    let mut env = AgentEnv {
        vars: Default::default(),
    };
    // crm_mon chosen: with no CIB manager listening here, the in-process
    // read would end at once without running crm_mon (nobody to ask).
    env.set("PATH", &format!("{bin}:/usr/sbin:/usr/bin:/sbin:/bin"))
        .set("OCF_RESKEY_CRM_meta_on_node", "node1")
        .set("PGSQL_RA_CIB_READ", "crm_mon");
    for (cmd, crm_mon_calls) in [("explain", 1), ("status", 2)] {
        let began = std::time::Instant::now();
        let (code, out, err) = cli(&env, &[cmd, "--json"]);
        let took = began.elapsed();
        println!("{cmd}: exit {code} after {took:?}: {err}");
        assert_eq!(code, 1, "{cmd}: {out} {err}");
        assert!(
            out.is_empty(),
            "{cmd}: no answer from a partial state: {out}"
        );
        assert!(
            err.contains("the cluster state could not be read") && err.contains("crm_mon"),
            "{cmd}: {err}"
        );
        assert!(took < Duration::from_secs(35), "{cmd} took {took:?}");
        assert_eq!(calls_of(&calls, "crm_mon"), crm_mon_calls, "{cmd}");
        assert_eq!(calls_of(&calls, "crm_attribute"), 0, "{cmd}");
    }
}

/// Issue 13 items 4 and 6: `history` without a readable CIB: `--tmpdir`,
/// then `PGSQL_RA_TMPDIR`, then the default tmpdir, saying which it used;
/// malformed journal entries are skipped and counted.
#[test]
fn history_finds_its_journal_without_the_cib() {
    let dir = TestDir::new("histdir");
    let tmpdir = dir.join("tmp");
    std::fs::create_dir_all(&tmpdir).expect("tmpdir");
    let (bin, _) = fake_pacemaker(&dir, &tmpdir, true);
    let good = serde_json::json!({
        "schema": "pgsql-ra/journal/1", "ts": 1_764_522_131u64, "node": "node1",
        "action": "start", "event": "rejoin", "decision": "crash_rejoin",
        "outcome": "rewind", "reason": "the local WAL goes past the switch point: pg_rewind",
    });
    let journal = format!("{good}\n{{\"event\":\"election\"}}\n{{\"torn\n");
    std::fs::write(format!("{tmpdir}/pgsql-ra-journal.jsonl"), journal).expect("journal");
    let mut env = AgentEnv {
        vars: Default::default(),
    };
    env.set("PATH", &format!("{bin}:/usr/sbin:/usr/bin:/sbin:/bin"));

    let (code, text, err) = cli(&env, &["history", "--tmpdir", &tmpdir]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("(tmpdir from --tmpdir)"), "{text}");
    assert!(
        text.contains("rejoin: crash_rejoin -> rewind: the local WAL goes past"),
        "{text}"
    );
    assert!(text.contains("2 malformed lines skipped"), "{text}");

    env.set("PGSQL_RA_TMPDIR", &tmpdir);
    let h = json(&env, &["history", "--json"]);
    assert_eq!(h["tmpdir_from"], "PGSQL_RA_TMPDIR");
    assert_eq!(h["skipped"], 2, "{h}");
    let entries = h["entries"].as_array().expect("entries");
    assert_eq!(
        entries.len(),
        1,
        "the malformed entry is not passed through: {h}"
    );
    assert_eq!(entries[0]["outcome"], "rewind");

    env.vars.remove("PGSQL_RA_TMPDIR");
    let (code, out, err) = cli(&env, &["history", "--json"]);
    assert_eq!(code, 0, "{err}");
    let h: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(h["tmpdir"], "/var/lib/pgsql/tmp");
    assert!(
        h["tmpdir_from"]
            .as_str()
            .is_some_and(|s| s.starts_with("the default tmpdir")),
        "{h}"
    );
    assert!(err.contains("could not be read"), "{err}");
}

/// Issue 10 item 3, through Pacemaker's own tools on an offline CIB
/// (`CIB_file`): node1 holds `PGSQL.lock`, crash rejoin is enabled and the
/// CIB's status section records a monitor failure of the resource there
/// with `migration-threshold=1`: `explain` on node1 says it waits for the
/// fail-count to expire when the clone has a `failure-timeout`, and that
/// only `crm_resource --cleanup` helps without one.
#[test]
fn explain_names_the_fail_count_a_crash_rejoin_waits_for() {
    let dir = TestDir::new("cib-failcount");
    let cib = dir.join("cib.xml");
    let tools = |args: &[&str], program: &str| {
        let out = Command::new(program)
            .args(args)
            .env("CIB_file", &cib)
            .output()
            .expect("pacemaker tools");
        assert!(out.status.success(), "{program} {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    std::fs::write(&cib, tools(&["--empty"], "cibadmin")).expect("empty cib");
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).expect("tmpdir");
    std::fs::write(format!("{tmp}/PGSQL.lock"), "").expect("lock");
    let clone = format!(
        r#"<clone id="pgsql-clone"><primitive id="pgsql" class="ocf" provider="pgsql-ra" type="pgsql"><instance_attributes id="ia"><nvpair id="a" name="rep_mode" value="sync"/><nvpair id="b" name="node_list" value="node1 node2"/><nvpair id="c" name="master_ip" value="10.0.0.1"/><nvpair id="d" name="tmpdir" value="{tmp}"/><nvpair id="e" name="crash_rejoin" value="rewind"/></instance_attributes></primitive><meta_attributes id="m"><nvpair id="p" name="promotable" value="true"/><nvpair id="mt" name="migration-threshold" value="1"/></meta_attributes></clone>"#
    );
    tools(
        &["--create", "-o", "resources", "--xml-text", &clone],
        "cibadmin",
    );
    for (id, node) in [("1", "node1"), ("2", "node2")] {
        let xml = format!(
            r#"<node id="{id}" uname="{node}"><instance_attributes id="{node}-ia"><nvpair id="{node}-ds" name="pgsql-data-status" value="DISCONNECT"/></instance_attributes></node>"#
        );
        tools(&["--create", "-o", "nodes", "--xml-text", &xml], "cibadmin");
    }
    let state = r#"<node_state id="1" uname="node1"><transient_attributes id="1"><instance_attributes id="status-1"><nvpair id="s-fc" name="fail-count-pgsql#monitor_3000" value="1"/><nvpair id="s-lf" name="last-failure-pgsql#monitor_3000" value="1764550800"/></instance_attributes></transient_attributes></node_state>"#;
    tools(
        &["--create", "-o", "status", "--xml-text", state],
        "cibadmin",
    );
    let mut env = AgentEnv {
        vars: Default::default(),
    };
    env.set("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .set("CIB_file", &cib)
        .set("OCF_RESKEY_CRM_meta_on_node", "node1");
    let e = json(&env, &["explain", "--json"]);
    let n1 = node(&e, "node1");
    assert!(
        rules(n1).contains(&"start.no_failure_timeout".to_string()),
        "{n1:#}"
    );
    let (_, text, _) = cli(&env, &["explain"]);
    assert!(
        text.contains("no failure-timeout: Pacemaker will not call start here again until `crm_resource --cleanup` (fail-count 1 reached migration-threshold 1)"),
        "{text}"
    );
    // The clone gets a failure-timeout.
    tools(
        &[
            "--modify",
            "-o",
            "resources",
            "--xml-text",
            r#"<meta_attributes id="m"><nvpair id="ft" name="failure-timeout" value="10s"/></meta_attributes>"#,
        ],
        "cibadmin",
    );
    let (_, text, _) = cli(&env, &["explain"]);
    assert!(
        text.contains("waits for its fail-count to expire (failure-timeout 10 s, last failure at 2025-12-01 01:00:00 UTC): then start runs the crash rejoin (crash_rejoin=rewind)"),
        "{text}"
    );
}
