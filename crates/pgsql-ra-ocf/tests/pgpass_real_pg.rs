//! Issue 12 item 2: password files with libpq's rules, on a real PostgreSQL
//! 15 that asks every connection for a scram-sha-256 password, over TCP and
//! over the Unix socket, for `pgdba` (the monitoring role when
//! `monitor_user` is empty) and for `monitor_user`. The file is given by
//! `PGPASSFILE` (the owner's `~/.pgpass` is the same code with another path;
//! it is not written here so as not to touch the shared `postgres` home).
//! No password may appear in the agent's output or in the server's
//! environment (a child of the agent).

mod common;

use std::os::unix::fs::PermissionsExt;

use common::agent::AgentEnv;
use common::*;

const DBA_PASSWORD: &str = "dba-Secret-7f3a";
/// Holds a colon: written as `\:` in the file.
const MONITOR_PASSWORD: &str = "mon:Secret-91c2";

fn no_secret(text: &str) {
    for secret in [DBA_PASSWORD, MONITOR_PASSWORD, "Secret-"] {
        assert!(!text.contains(secret), "a password leaked: {text}");
    }
}

fn write_pgpass(path: &str, text: &str, mode: u32) {
    std::fs::write(path, text).expect("write the password file");
    chown_pgdba(std::path::Path::new(path));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn pgpass_gives_pgdba_and_monitor_user_their_scram_passwords_over_tcp_and_socket() {
    let dir = TestDir::new("pgpass");
    let port = free_port();
    let n1 = PgNode::new(&dir, "node1", 1, port);
    let _guard = ServerGuard(vec![n1.clone()]);
    n1.initdb();
    n1.start_directly();
    n1.psql(&format!("alter role postgres password '{DBA_PASSWORD}'"));
    n1.psql(&format!(
        "create role monitor login password '{MONITOR_PASSWORD}'"
    ));
    // From now on every connection needs a password.
    std::fs::write(
        format!("{}/pg_hba.conf", n1.pgdata),
        "local all all scram-sha-256\nhost all all 127.0.0.0/8 scram-sha-256\n",
    )
    .expect("pg_hba.conf");
    as_pgdba(&pg_bin("pg_ctl"), &["-D", &n1.pgdata, "reload"]);
    std::thread::sleep(std::time::Duration::from_millis(500));

    let attrd = dir.join("attrd");
    std::fs::create_dir_all(&attrd).expect("attrd");
    std::fs::write(format!("{attrd}/nodes"), "node1\n").expect("nodes");
    let passfile = dir.join("pgpass");
    let sock = &n1.socketdir;
    let text = format!(
        "# comments and lines that do not match come first\n\
         127.0.0.9:{port}:postgres:postgres:not-this-one\n\
         127.0.0.2:{port}:postgres:postgres:{DBA_PASSWORD}\n\
         {sock}:*:*:postgres:{DBA_PASSWORD}\n\
         *:{port}:postgres:monitor:mon\\:Secret-91c2\n"
    );
    write_pgpass(&passfile, &text, 0o600);

    let base = |host: &str, monitor_user: &str| {
        let mut env = AgentEnv::new(&n1, &attrd, "node1", &n1.host);
        env.set("OCF_RESKEY_rep_mode", "none")
            .set("OCF_RESKEY_pghost", host)
            .set("OCF_RESKEY_monitor_user", monitor_user)
            .set("PGPASSFILE", &passfile);
        env
    };
    for host in [n1.host.as_str(), ""] {
        for user in ["", "monitor"] {
            let env = base(host, user);
            let r = env.run("monitor", 10000);
            assert_eq!(
                r.code,
                0,
                "monitor over {:?} as {:?}: {}",
                if host.is_empty() { sock } else { host },
                user,
                r.stderr
            );
            no_secret(&r.stderr);
        }
    }

    // The agent stops and starts the server; its children never see a password.
    let env = base(&n1.host, "monitor");
    let r = env.run("stop", 0);
    assert_eq!(r.code, 0, "{}", r.stderr);
    no_secret(&r.stderr);
    let r = env.run("start", 0);
    assert_eq!(r.code, 0, "{}", r.stderr);
    no_secret(&r.stderr);
    let pid = n1.postmaster_pid().expect("the server runs");
    let environ = std::fs::read(format!("/proc/{pid}/environ")).expect("environ");
    no_secret(&String::from_utf8_lossy(&environ));

    // libpq ignores a file that the group or others can read.
    write_pgpass(&passfile, &text, 0o640);
    let r = base(&n1.host, "monitor").run("monitor", 10000);
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("group or world access"), "{}", r.stderr);
    no_secret(&r.stderr);
}

/// psql (libpq) as `postgres` with only the password file: `true` when it
/// connects. The oracle for what the agent must do with the same line.
fn psql_connects(n: &PgNode, passfile: &str, user: &str) -> bool {
    std::process::Command::new("runuser")
        .args(["-u", "postgres", "--", "env", "-i"])
        .arg(format!("PGPASSFILE={passfile}"))
        .arg(pg_bin("psql"))
        .args(["-w", "-X", "-h", &n.host, "-p", &n.port.to_string()])
        .args(["-U", user, "-d", "postgres", "-Atc", "select 1"])
        .current_dir("/tmp")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Issue 12 (attack finding 2): the password field ends at the first
/// unescaped ':' and a lone trailing '\' is kept, like libpq's
/// `passwordFromFile`. Each line is judged by psql on the same server and
/// file; the agent's monitor must agree with it.
#[test]
fn pgpass_password_field_ends_like_libpq() {
    let dir = TestDir::new("pgpass-field");
    let port = free_port();
    let n1 = PgNode::new(&dir, "node1", 1, port);
    let _guard = ServerGuard(vec![n1.clone()]);
    n1.initdb();
    n1.start_directly();
    n1.psql(r"alter role postgres password 'Sup3r:Secr\et'");
    n1.psql(r"create role bs login password 'endsin\'");
    // The whole line after the user field: libpq reads only "m0n".
    n1.psql(r"create role mon login password 'm0n:it\or'");
    std::fs::write(
        format!("{}/pg_hba.conf", n1.pgdata),
        "local all all scram-sha-256\nhost all all 127.0.0.0/8 scram-sha-256\n",
    )
    .expect("pg_hba.conf");
    as_pgdba(&pg_bin("pg_ctl"), &["-D", &n1.pgdata, "reload"]);
    std::thread::sleep(std::time::Duration::from_millis(500));

    let attrd = dir.join("attrd");
    std::fs::create_dir_all(&attrd).expect("attrd");
    std::fs::write(format!("{attrd}/nodes"), "node1\n").expect("nodes");
    let passfile = dir.join("pgpass");
    let h = &n1.host;
    let cases = [
        // (monitor_user, line, connects)
        (
            "",
            format!(r"{h}:{port}:postgres:postgres:Sup3r\:Secr\\et:extra"),
            true,
        ),
        ("bs", format!(r"{h}:{port}:postgres:bs:endsin\"), true),
        ("mon", format!(r"{h}:{port}:postgres:mon:m0n:it\\or"), false),
    ];
    for (user, line, connects) in cases {
        write_pgpass(&passfile, &format!("{line}\n"), 0o600);
        let role = if user.is_empty() { "postgres" } else { user };
        assert_eq!(
            psql_connects(&n1, &passfile, role),
            connects,
            "psql with {line}"
        );
        let mut env = AgentEnv::new(&n1, &attrd, "node1", &n1.host);
        env.set("OCF_RESKEY_rep_mode", "none")
            .set("OCF_RESKEY_monitor_user", user)
            .set("PGPASSFILE", &passfile);
        let r = env.run("monitor", 10000);
        assert_eq!(r.code == 0, connects, "agent with {line}: {}", r.stderr);
        if !connects {
            assert!(
                r.stderr.contains("password authentication failed"),
                "{}",
                r.stderr
            );
        }
    }
}
