//! Table-driven validation cases: level 0 (every parameter rule, one bad
//! value at a time over otherwise valid configurations) and level 10 (the
//! machine, over the in-memory ports).

use std::collections::BTreeMap;

use pgsql_ra_core::memory::{
    InstanceSpec, MemClock, MemCluster, MemFs, MemSystem, MemoryLog, SimNetwork,
};
use pgsql_ra_core::ports::World;
use pgsql_ra_core::validate::{
    check_machine, check_parameters, parameter_problems, shape_free_parameter_problems,
    MachineFacts,
};
use pgsql_ra_core::{Agent, OcfExit, Outcome};

const PGDATA: &str = "/var/lib/pgsql/data";

/// A valid single-server configuration.
const NONE: &[(&str, &str)] = &[("pgdata", PGDATA)];

/// A valid synchronous promotable clone.
const SYNC: &[(&str, &str)] = &[
    ("pgdata", PGDATA),
    ("rep_mode", "sync"),
    ("node_list", "node1 node2"),
    ("master_ip", "192.168.122.10"),
];

/// A valid standby-only clone (not promotable).
const SLAVE: &[(&str, &str)] = &[
    ("pgdata", PGDATA),
    ("rep_mode", "slave"),
    ("master_ip", "192.168.122.10"),
];

fn agent(base: &[(&str, &str)], extra: &[(&str, &str)], promotable: bool) -> Agent {
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    env.insert("OCF_RESOURCE_INSTANCE".into(), "pgsql:0".into());
    for (k, v) in base.iter().chain(extra) {
        env.insert(format!("OCF_RESKEY_{k}"), v.to_string());
    }
    if promotable {
        env.insert("OCF_RESKEY_CRM_meta_promotable".into(), "true".into());
        env.insert("OCF_RESKEY_CRM_meta_promoted_max".into(), "1".into());
    }
    Agent::from_env_map(&env)
}

struct Invalid {
    base: &'static [(&'static str, &'static str)],
    extra: &'static [(&'static str, &'static str)],
    promotable: bool,
    param: &'static str,
}

const fn bad(
    base: &'static [(&'static str, &'static str)],
    extra: &'static [(&'static str, &'static str)],
    promotable: bool,
    param: &'static str,
) -> Invalid {
    Invalid {
        base,
        extra,
        promotable,
        param,
    }
}

const LONG_PREFIX: &str = "slot_prefix_that_is_far_too_long_for_postgresql_identifiers_x";

/// Every level-0 rule, each broken alone: all give 6 and name `param`.
const INVALID: &[Invalid] = &[
    bad(NONE, &[("pgport", "54x2")], false, "pgport"),
    bad(NONE, &[("pgport", "70000")], false, "pgport"),
    bad(NONE, &[("pgport", "0")], false, "pgport"),
    bad(NONE, &[("pgport", "")], false, "pgport"),
    bad(NONE, &[("stop_escalate", "-1")], false, "stop_escalate"),
    bad(NONE, &[("stop_escalate", "90s")], false, "stop_escalate"),
    bad(
        NONE,
        &[("stop_escalate_in_slave", "1.5")],
        false,
        "stop_escalate_in_slave",
    ),
    bad(
        NONE,
        &[("crm_attr_timeout", "five")],
        false,
        "crm_attr_timeout",
    ),
    bad(
        NONE,
        &[("xlog_check_count", "99999999999")],
        false,
        "xlog_check_count",
    ),
    bad(NONE, &[("rep_mode", "both")], false, "rep_mode"),
    bad(NONE, &[("rep_mode", "SYNC")], false, "rep_mode"),
    bad(
        NONE,
        &[("monitor_password", "secret")],
        false,
        "monitor_user",
    ),
    bad(NONE, &[("pgdata", "data")], false, "pgdata"),
    bad(NONE, &[("pgdata", "")], false, "pgdata"),
    bad(SYNC, &[], false, "rep_mode"),
    bad(SYNC, &[("rep_mode", "async")], false, "rep_mode"),
    bad(SYNC, &[("node_list", "")], true, "node_list"),
    bad(SYNC, &[("node_list", "  ")], true, "node_list"),
    bad(SYNC, &[("node_list", "node1 Node1")], true, "node_list"),
    bad(SYNC, &[("master_ip", "")], true, "master_ip"),
    bad(SYNC, &[("xlog_check_count", "0")], true, "xlog_check_count"),
    bad(SYNC, &[("tmpdir", "tmp")], true, "tmpdir"),
    bad(SLAVE, &[("master_ip", "")], false, "master_ip"),
    bad(SLAVE, &[], true, "rep_mode"),
    bad(
        SYNC,
        &[("rep_mode", "async"), ("external_standby_node_list", "dr1")],
        true,
        "external_standby_node_list",
    ),
    bad(
        NONE,
        &[("external_standby_node_list", "dr1")],
        false,
        "external_standby_node_list",
    ),
    bad(
        SYNC,
        &[("external_standby_node_list", "dr1 DR1")],
        true,
        "external_standby_node_list",
    ),
    bad(
        SYNC,
        &[("external_standby_node_list", "node2")],
        true,
        "external_standby_node_list",
    ),
    bad(
        NONE,
        &[("replication_slot_name", "Bad")],
        false,
        "replication_slot_name",
    ),
    bad(
        NONE,
        &[("replication_slot_name", "my-slot")],
        false,
        "replication_slot_name",
    ),
    bad(
        NONE,
        &[("replication_slot_name", "slot name")],
        false,
        "replication_slot_name",
    ),
    bad(
        SYNC,
        &[("replication_slot_name", LONG_PREFIX)],
        true,
        "replication_slot_name",
    ),
    bad(
        SYNC,
        &[
            ("replication_slot_name", "s"),
            ("node_list", "node1 node+2"),
        ],
        true,
        "replication_slot_name",
    ),
];

#[test]
fn each_invalid_value_gives_6_naming_its_parameter() {
    for (i, case) in INVALID.iter().enumerate() {
        let a = agent(case.base, case.extra, case.promotable);
        let problems = parameter_problems(&a);
        assert_eq!(
            problems.len(),
            1,
            "case {i} {:?}: expected one problem, got {problems:?}",
            case.extra
        );
        assert_eq!(problems[0].param, case.param, "case {i}");
        let outcome = check_parameters(&a).expect_err(&format!("case {i} {:?} passed", case.extra));
        assert_eq!(outcome.code, OcfExit::ErrConfigured, "case {i}");
        let reason = outcome.reason.unwrap_or_default();
        assert!(
            reason.contains(case.param),
            "case {i}: reason {reason:?} does not name {}",
            case.param
        );
        assert!(!reason.contains('\n'), "case {i}: reason is not one line");
    }
}

/// Issue 12 item 4: no Rust debug text in any level-0 message (every rule
/// broken alone, all broken at once, and values with quotes, backslashes,
/// non-ASCII and control characters).
#[test]
fn no_validation_message_carries_rust_debug_text() {
    const DEBUG: [&str; 6] = ["Some(", "None", "Ok(", "Err(", "\\u{", "\\x"];
    let check = |what: &str, text: &str| {
        for d in DEBUG {
            assert!(!text.contains(d), "{what}: {d:?} in {text:?}");
        }
    };
    let mut agents: Vec<(String, Agent)> = INVALID
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("case {i}"), agent(c.base, c.extra, c.promotable)))
        .collect();
    let odd: &[(&str, &str)] = &[
        ("pgport", "5\"4\u{e9}\t"),
        ("rep_mode", "sy\"nc\u{e9}"),
        ("pgdata", "data\\é"),
        ("node_list", "n\u{e9}1 N\u{c9}1"),
        ("tmpdir", "t\u{1}mp"),
        ("monitor_password", "p"),
        ("replication_slot_name", "Bad-Name"),
    ];
    agents.push(("odd values".into(), agent(SYNC, odd, false)));
    for (what, a) in &agents {
        for p in parameter_problems(a)
            .iter()
            .chain(shape_free_parameter_problems(a).iter())
        {
            check(what, &p.message);
        }
        if let Err(o) = check_parameters(a) {
            check(what, &o.reason.unwrap_or_default());
        }
    }
}

/// Parameter values as (name, value) pairs.
type Pairs<'a> = &'a [(&'a str, &'a str)];

#[test]
fn valid_configurations_pass() {
    let valid: &[(Pairs, Pairs, bool)] = &[
        (NONE, &[], false),
        (&[], &[], false),
        (
            NONE,
            &[("monitor_user", "monitor"), ("monitor_password", "pw")],
            false,
        ),
        (NONE, &[("monitor_user", "monitor")], false),
        (
            NONE,
            &[
                ("pgport", " 5433 "),
                ("stop_escalate", "0"),
                ("restart_on_promote", "maybe"),
            ],
            false,
        ),
        (SYNC, &[], true),
        (SYNC, &[("rep_mode", "async")], true),
        (SYNC, &[("node_list", "Node-1.example node_2")], true),
        (
            SYNC,
            &[
                ("replication_slot_name", "ha_slot"),
                ("external_standby_node_list", "dr1 dr2"),
            ],
            true,
        ),
        (
            SYNC,
            &[
                ("replication_slot_name", "s"),
                ("node_list", "Node-1.example node2"),
            ],
            true,
        ),
        (SLAVE, &[], false),
        (
            SLAVE,
            &[
                ("check_wal_receiver", "true"),
                ("replication_slot_name", "a_1"),
            ],
            false,
        ),
        (
            NONE,
            &[("tmpdir", "relative/is/unused/without/replication")],
            false,
        ),
    ];
    for (i, (base, extra, promotable)) in valid.iter().enumerate() {
        let a = agent(base, extra, *promotable);
        assert_eq!(parameter_problems(&a), vec![], "case {i} {extra:?}");
        assert_eq!(check_parameters(&a), Ok(()), "case {i}");
    }
}

#[test]
fn check_parameters_reports_the_parse_error_first() {
    let a = agent(SYNC, &[("pgport", "x"), ("master_ip", "")], true);
    let problems = parameter_problems(&a);
    assert_eq!(
        problems
            .iter()
            .map(|p| p.param.as_str())
            .collect::<Vec<_>>(),
        vec!["pgport", "master_ip"]
    );
    assert!(check_parameters(&a)
        .unwrap_err()
        .reason
        .unwrap()
        .contains("pgport"));
}

/// `pcs resource create` may run validate-all while the resource is still a
/// primitive: the clone-shape rules are left to every other action.
#[test]
fn validate_all_level_0_ignores_the_clone_shape_but_actions_do_not() {
    let primitive = agent(SYNC, &[], false);
    assert!(shape_free_parameter_problems(&primitive).is_empty());
    let problems = parameter_problems(&primitive);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].param, "rep_mode");
    assert!(problems[0].message.contains("promotable"));
    let slave_in_promotable = agent(SLAVE, &[], true);
    assert!(shape_free_parameter_problems(&slave_in_promotable).is_empty());
    assert_eq!(parameter_problems(&slave_in_promotable).len(), 1);
    let no_nodes = agent(SYNC, &[("node_list", "")], false);
    assert_eq!(
        shape_free_parameter_problems(&no_nodes)[0].param,
        "node_list"
    );
}

/// One node's machine: a PostgreSQL 15 data directory owned by postgres,
/// the default binaries, and the rest of the ports.
struct Machine {
    fs: MemFs,
    system: MemSystem,
    pg: pgsql_ra_core::memory::SimPostgres,
    cluster: pgsql_ra_core::memory::MemClusterHandle,
    clock: MemClock,
    log: MemoryLog,
}

impl Machine {
    fn new() -> Machine {
        let fs = MemFs::new("postgres");
        let pg = SimNetwork::new("192.168.122.10").add_node(
            "node1",
            fs.clone(),
            InstanceSpec::pg15(PGDATA),
        );
        Machine {
            fs,
            system: MemSystem::standard(),
            pg,
            cluster: MemCluster::new(&["node1"]).handle("node1"),
            clock: MemClock::new(),
            log: MemoryLog::default(),
        }
    }

    fn check(&mut self, a: &Agent, probe: bool) -> Result<MachineFacts, Outcome> {
        let mut server = self.pg.clone();
        let mut world = World {
            db: &mut self.pg,
            server: &mut server,
            cluster: &mut self.cluster,
            fs: &mut self.fs,
            clock: &mut self.clock,
            system: &mut self.system,
            log: &mut self.log,
        };
        check_machine(a, &mut world, probe)
    }

    fn config(&self, text: &str) {
        self.fs.put(
            &format!("{PGDATA}/postgresql.conf"),
            text,
            "postgres",
            0o600,
        );
    }

    fn version(&self, text: &str) {
        self.fs
            .put(&format!("{PGDATA}/PG_VERSION"), text, "postgres", 0o600);
    }
}

fn expect_failure(result: Result<MachineFacts, Outcome>, code: OcfExit, names: &str) {
    let outcome = result.expect_err("the check passed");
    assert_eq!(outcome.code, code, "{outcome:?}");
    let reason = outcome.reason.unwrap_or_default();
    assert!(
        reason.contains(names),
        "reason {reason:?} does not name {names}"
    );
}

#[test]
fn a_healthy_machine_passes_and_reports_its_facts() {
    let mut m = Machine::new();
    let before = m.fs.paths();
    let facts = m
        .check(
            &agent(SYNC, &[("replication_slot_name", "ha")], true),
            false,
        )
        .unwrap();
    assert_eq!(
        facts,
        MachineFacts {
            pg_version: Some(1500),
            config_readable: true
        }
    );
    assert_eq!(m.fs.paths(), before, "validation must not create files");
    m.version("11\n");
    assert_eq!(
        m.check(&agent(NONE, &[], false), false).unwrap().pg_version,
        Some(1100)
    );
}

#[test]
fn missing_pgdba_user_is_5() {
    let mut m = Machine::new();
    m.system.remove_user("postgres");
    expect_failure(
        m.check(&agent(NONE, &[], false), true),
        OcfExit::ErrInstalled,
        "pgdba",
    );
    expect_failure(
        m.check(&agent(NONE, &[("pgdba", "nobody")], false), false),
        OcfExit::ErrInstalled,
        "nobody",
    );
}

#[test]
fn missing_programs_are_5_even_on_probes() {
    let mut m = Machine::new();
    m.system.remove_program("/usr/bin/pg_ctl");
    expect_failure(
        m.check(&agent(NONE, &[], false), true),
        OcfExit::ErrInstalled,
        "pgctl",
    );
    let debian = [("pgctl", "/usr/lib/postgresql/15/bin/pg_ctl")];
    assert!(m.check(&agent(NONE, &debian, false), false).is_ok());
    let no_psql = [debian[0], ("psql", "/opt/pg/bin/psql")];
    expect_failure(
        m.check(&agent(NONE, &no_psql, false), false),
        OcfExit::ErrInstalled,
        "psql",
    );
    expect_failure(
        m.check(&agent(NONE, &[("pgctl", "")], false), false),
        OcfExit::ErrInstalled,
        "pgctl",
    );
}

#[test]
fn missing_config_is_5_but_a_probe_passes() {
    let mut m = Machine::new();
    let a = agent(
        NONE,
        &[("config", "/etc/postgresql/15/main/postgresql.conf")],
        false,
    );
    expect_failure(m.check(&a, false), OcfExit::ErrInstalled, "config");
    let facts = m
        .check(&a, true)
        .expect("a probe tolerates a missing config");
    assert!(!facts.config_readable);
    assert_eq!(facts.pg_version, Some(1500));
}

#[test]
fn unmounted_storage_probe_passes_without_facts() {
    let mut m = Machine::new();
    m.fs.remove_tree(PGDATA);
    let facts = m
        .check(
            &agent(NONE, &[("replication_slot_name", "ha")], false),
            true,
        )
        .unwrap();
    assert_eq!(
        facts,
        MachineFacts {
            pg_version: None,
            config_readable: false
        }
    );
}

#[test]
fn unix_socket_directories_requires_socketdir() {
    let mut m = Machine::new();
    m.config("port = 5432\nunix_socket_directories = '/var/run/postgresql' # Debian\n");
    expect_failure(
        m.check(&agent(NONE, &[], false), true),
        OcfExit::ErrConfigured,
        "socketdir",
    );
    assert!(m
        .check(
            &agent(NONE, &[("socketdir", "/var/run/postgresql")], false),
            false
        )
        .is_ok());
    m.config("#unix_socket_directories = '/tmp'\nunix_socket_directories = ''\n");
    assert!(
        m.check(&agent(NONE, &[], false), false).is_ok(),
        "commented or empty settings do not count"
    );
    m.config("unix_socket_directory = '/tmp'\n");
    m.version("9.2");
    expect_failure(
        m.check(&agent(NONE, &[], false), false),
        OcfExit::ErrInstalled,
        "PostgreSQL 9.2 is not supported",
    );
}

#[test]
fn pgdata_not_writable_is_4_except_on_probes() {
    let mut m = Machine::new();
    m.fs.set_read_only(PGDATA, true);
    expect_failure(
        m.check(&agent(NONE, &[], false), false),
        OcfExit::ErrPerm,
        "pgdata",
    );
    assert!(m.check(&agent(NONE, &[], false), true).is_ok());
}

#[test]
fn majors_outside_10_to_18_are_refused_as_not_installed() {
    let mut m = Machine::new();
    for supported in ["10\n", "11", "12", "13", "14", "15", "16", "17", "18\n"] {
        m.version(supported);
        assert!(
            m.check(
                &agent(SYNC, &[("replication_slot_name", "ha")], true),
                false
            )
            .is_ok(),
            "PostgreSQL {supported:?} is supported"
        );
    }
    for unsupported in ["9.6\n", "9.4", "9.0", "8.4", "19", "20\n"] {
        m.version(unsupported);
        for a in [agent(NONE, &[], false), agent(SYNC, &[], true)] {
            let outcome = m.check(&a, false).expect_err("an unsupported major passed");
            assert_eq!(outcome.code, OcfExit::ErrInstalled, "{outcome:?}");
            let reason = outcome.reason.unwrap_or_default();
            let shown = unsupported.trim();
            assert!(
                reason.contains(&format!("PostgreSQL {shown}"))
                    && reason.contains("10 to 18")
                    && reason.contains(PGDATA),
                "{unsupported:?}: {reason}"
            );
        }
        // A probe is refused too: nothing the agent would do is tested there.
        assert!(m.check(&agent(NONE, &[], false), true).is_err());
    }
}

/// Issue 12 item 4, level 10: the machine checks' messages show values as
/// typed (`quote::quoted`), never Rust's debug escaping, for values with
/// quotes, backslashes, non-ASCII and control characters.
#[test]
fn no_machine_check_message_carries_rust_debug_text() {
    const DEBUG: [&str; 7] = ["Some(", "None", "Ok(", "Err(", "\\u{", "\\x", "\\\\"];
    let odd: &[(&str, &str)] = &[
        ("pgdba", "pg\u{1}dba\\é"),
        ("pgctl", "/usr/bin/pg\"ctl\u{7f}"),
        ("config", "/etc/p\u{1}g\\é.conf"),
    ];
    let mut seen = 0;
    for (name, value) in odd {
        let mut m = Machine::new();
        let Err(outcome) = m.check(&agent(NONE, &[(name, value)], false), false) else {
            panic!("{name}={value:?} passed the machine checks");
        };
        let reason = outcome.reason.unwrap_or_default();
        for d in DEBUG {
            assert!(!reason.contains(d), "{name}: {d:?} in {reason}");
        }
        assert!(reason.contains(name), "{reason} does not name {name}");
        assert!(
            !reason.chars().any(char::is_control),
            "{reason:?} has a control character"
        );
        seen += 1;
    }
    assert_eq!(seen, odd.len());
}

/// Issue 12 (attack findings 11–13): values in messages as typed, in double
/// quotes with control characters in caret notation, never Rust debug
/// escaping; pgport's range is 1–65535 as documented.
#[test]
fn messages_show_values_as_typed_and_pgport_from_1() {
    let messages = |pairs: &[(&str, &str)]| -> Vec<String> {
        let env: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (format!("OCF_RESKEY_{k}"), v.to_string()))
            .chain([
                ("OCF_RESOURCE_INSTANCE".to_string(), "pgsql".to_string()),
                (
                    "OCF_RESKEY_CRM_meta_promotable".to_string(),
                    "true".to_string(),
                ),
            ])
            .collect();
        parameter_problems(&Agent::from_env_map(&env))
            .into_iter()
            .map(|p| p.message)
            .collect()
    };
    for port in ["0", "65536", "abc"] {
        let m = messages(&[("pgdata", PGDATA), ("pgport", port)]);
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].contains("between 1 and 65535"), "{}", m[0]);
    }
    assert!(messages(&[("pgdata", PGDATA), ("pgport", "1")]).is_empty());

    let mut sync = SYNC.to_vec();
    sync.push(("replication_slot_name", "c\u{1}d"));
    let m = messages(&sync);
    assert!(
        m.iter()
            .any(|m| m.contains("replication_slot_name=\"c^Ad\"")),
        "{m:?}"
    );

    let e = "bad\\act".parse::<pgsql_ra_core::Action>().unwrap_err();
    assert_eq!(e.to_string(), "unknown action \"bad\\act\"");
    let e = pgsql_ra_core::Lsn::parse_pg("x\\y").unwrap_err();
    assert!(
        e.to_string().starts_with("invalid WAL location \"x\\y\""),
        "{e}"
    );
}

/// Issue 12 (attack finding 5): with several problems the count survives
/// Pacemaker's 128 bytes: the first message is cut, not the count.
#[test]
fn the_count_of_problems_fits_in_the_exit_reason() {
    use pgsql_ra_core::params::ParamError;
    use pgsql_ra_core::validate::{summarize, EXIT_REASON_MAX};
    let long = ParamError::configured("pgctl", format!("pgctl=\"{}\": é", "x".repeat(200)));
    let short = ParamError::configured("psql", "psql: short");
    let o = summarize(&[long.clone(), short.clone(), short.clone()]).unwrap_err();
    let reason = o.reason.expect("reason");
    assert!(
        reason.len() <= EXIT_REASON_MAX,
        "{} bytes: {reason}",
        reason.len()
    );
    assert!(reason.starts_with("pgctl=\"xxx"), "{reason}");
    assert!(
        reason.ends_with("... (and 2 more problems, see the log)"),
        "{reason}"
    );
    // One problem: its message whole (the shim shortens it and logs it all).
    let o = summarize(std::slice::from_ref(&long)).unwrap_err();
    assert_eq!(o.reason.as_deref(), Some(long.message.as_str()));
    let o = summarize(&[short.clone(), short]).unwrap_err();
    assert_eq!(
        o.reason.as_deref(),
        Some("psql: short (and 1 more problem, see the log)")
    );
}

/// Issue 10: with crash rejoin enabled, level 10 also judges pg_rewind's
/// prerequisites (`validate::rewind_prerequisite_problems`): over the
/// in-memory ports (whose server cannot report the rewind role: a note, not
/// a problem), `crash_rejoin=rewind` refuses a data directory without
/// checksums or `wal_log_hints` (6, naming crash_rejoin), `rewind-or-clone`
/// and `none` do not, and an empty `master_ip` is a note.
#[test]
fn crash_rejoin_checks_rewindability_and_notes_what_it_cannot_ask() {
    let net = SimNetwork::new("192.168.122.10");
    let fs = MemFs::new("postgres");
    let mut pg = net.add_node("node1", fs.clone(), InstanceSpec::pg15(PGDATA));
    let mut m = Machine::new();
    let mut judge = |extra: &[(&str, &str)]| {
        let a = agent(SYNC, extra, true);
        let mut server = pg.clone();
        let mut world = World {
            db: &mut pg,
            server: &mut server,
            cluster: &mut m.cluster,
            fs: &mut m.fs,
            clock: &mut m.clock,
            system: &mut m.system,
            log: &mut m.log,
        };
        pgsql_ra_core::validate::rewind_prerequisite_problems(
            &a,
            &mut world,
            std::time::Duration::from_secs(1),
        )
    };
    net.set_rewindable("node1", false);
    let (problems, notes) = judge(&[("crash_rejoin", "rewind")]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].param, "crash_rejoin");
    assert_eq!(problems[0].code, OcfExit::ErrConfigured);
    assert!(problems[0].message.contains("wal_log_hints = on"));
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].contains("rewind_user's grants not checked"),
        "{notes:?}"
    );
    let (problems, _) = judge(&[("crash_rejoin", "rewind-or-clone")]);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(judge(&[("crash_rejoin", "none")]), (vec![], vec![]));
    let (_, notes) = judge(&[("crash_rejoin", "rewind-or-clone"), ("master_ip", "")]);
    assert!(notes[0].contains("master_ip is not set"), "{notes:?}");
    net.set_rewindable("node1", true);
    assert!(judge(&[("crash_rejoin", "rewind")]).0.is_empty());
}
