//! `validate-all` at `OCF_CHECK_LEVEL=10` with crash rejoin enabled judges
//! pg_rewind's prerequisites on the primary reached through `master_ip`
//! (issue 10, "Precisions"; docs/rejoin.md "Role and grants for
//! `rewind_user`"): the agent binary against a real PostgreSQL 15 server
//! behind the stand-in VIP, as roles with and without the grants, a role
//! whose normal login `pg_hba.conf` rejects, and no primary at all.

mod common;

use common::agent::{AgentEnv, Run};
use common::vip::{Vip, VIP};
use common::*;

const OCF_SUCCESS: i32 = 0;
const OCF_ERR_PERM: i32 = 4;
const OCF_ERR_CONFIGURED: i32 = 6;

/// The four functions, as docs/rejoin.md grants them.
const FUNCTIONS: [&str; 4] = [
    "pg_catalog.pg_ls_dir(text, boolean, boolean)",
    "pg_catalog.pg_stat_file(text, boolean)",
    "pg_catalog.pg_read_binary_file(text)",
    "pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)",
];

/// `rewinder` with the documented grants, `bare` with none, `nohba` whose
/// normal logins pg_hba.conf rejects (a stock setup's "replication only").
const ROLES_SQL: &str = "create role rewinder login; \
     grant execute on function pg_catalog.pg_ls_dir(text, boolean, boolean) to rewinder; \
     grant execute on function pg_catalog.pg_stat_file(text, boolean) to rewinder; \
     grant execute on function pg_catalog.pg_read_binary_file(text) to rewinder; \
     grant execute on function pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) to rewinder; \
     grant pg_checkpoint to rewinder; \
     create role bare login; \
     create role nohba login replication";

fn validate(node: &PgNode, attrd: &str, crash_rejoin: &str, role: &str) -> Run {
    let mut a = AgentEnv::new(node, attrd, "node1 node2", VIP);
    a.set("OCF_CHECK_LEVEL", "10")
        .set("OCF_RESKEY_crash_rejoin", crash_rejoin)
        .set("OCF_RESKEY_rewind_user", role);
    let r = a.run("validate-all", 0);
    eprintln!(
        "validate-all crash_rejoin={crash_rejoin} rewind_user={role}: exit {} in {:?}\n{}",
        r.code, r.elapsed, r.stderr
    );
    r
}

#[test]
fn rewind_role_grants_login_and_rewindability_are_judged_on_the_primary() {
    let dir = TestDir::new("rewind-prereq");
    let port = free_port();
    let n1 = PgNode::new(&dir, "node1", 1, port);
    let attrd = dir.join("attrd");
    std::fs::create_dir_all(&attrd).expect("attrd dir");
    std::fs::write(format!("{attrd}/nodes"), "node1\nnode2\n").expect("nodes");
    n1.initdb();
    let hba_path = format!("{}/pg_hba.conf", n1.pgdata);
    let hba = std::fs::read_to_string(&hba_path).expect("pg_hba.conf");
    std::fs::write(
        &hba_path,
        format!("host postgres nohba 127.0.0.0/8 reject\n{hba}"),
    )
    .expect("write pg_hba.conf");
    n1.start_directly();
    n1.psql(ROLES_SQL);
    let vip = Vip::new(port);
    vip.place(Some(&n1));

    // No grants: every one named with its GRANT statement, in the log.
    let r = validate(&n1, &attrd, "rewind-or-clone", "bare");
    assert_eq!(r.code, OCF_ERR_PERM, "{}", r.stderr);
    assert!(
        r.stderr.contains("(and 4 more problems, see the log)"),
        "{}",
        r.stderr
    );
    for f in FUNCTIONS {
        let grant = format!("GRANT EXECUTE ON FUNCTION {f} TO bare;");
        assert!(r.stderr.contains(&grant), "{grant} missing:\n{}", r.stderr);
    }
    assert!(
        r.stderr.contains("GRANT pg_checkpoint TO bare;"),
        "{}",
        r.stderr
    );

    // The documented grants: clean.
    let r = validate(&n1, &attrd, "rewind-or-clone", "rewinder");
    assert_eq!(r.code, OCF_SUCCESS, "{}", r.stderr);
    assert!(!r.stderr.contains("GRANT"), "{}", r.stderr);

    // A superuser (rewind_user empty: pgdba) needs no grant.
    let r = validate(&n1, &attrd, "rewind-or-clone", "");
    assert_eq!(r.code, OCF_SUCCESS, "{}", r.stderr);

    // pg_hba.conf rejects its normal login: the line to add is named.
    let r = validate(&n1, &attrd, "rewind-or-clone", "nohba");
    assert_eq!(r.code, OCF_ERR_PERM, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("refused a normal (non-replication) login"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("host postgres nohba <each node's address>/32 scram-sha-256"),
        "{}",
        r.stderr
    );

    // crash_rejoin=rewind and a directory without checksums or
    // wal_log_hints (the harness's initdb): refused as a configuration that
    // can never rewind; crash_rejoin=none checks nothing.
    let r = validate(&n1, &attrd, "rewind", "rewinder");
    assert_eq!(r.code, OCF_ERR_CONFIGURED, "{}", r.stderr);
    assert!(r.stderr.contains("wal_log_hints = on"), "{}", r.stderr);
    let r = validate(&n1, &attrd, "none", "bare");
    assert_eq!(r.code, OCF_SUCCESS, "{}", r.stderr);

    // No primary behind master_ip: skipped with a note, not a failure.
    vip.place(None);
    let r = validate(&n1, &attrd, "rewind-or-clone", "bare");
    assert_eq!(r.code, OCF_SUCCESS, "{}", r.stderr);
    assert!(
        r.stderr.contains("not checked: no primary answered"),
        "{}",
        r.stderr
    );
    n1.stop_cleanly();
}
