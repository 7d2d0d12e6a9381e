//! Issue 12 (attack finding 1): the agent's own connections negotiate TLS
//! like libpq (default `sslmode=prefer`, `PGSSLMODE` in the agent's
//! environment), so a `hostssl`-only pg_hba works with the agent as it does
//! with psql and the stock agent. Real PostgreSQL 15 with a self-signed
//! certificate.

mod common;

use common::agent::AgentEnv;
use common::*;

#[test]
fn hostssl_only_pg_hba_works_with_libpq_sslmodes() {
    let dir = TestDir::new("tls");
    let port = free_port();
    let n1 = PgNode::new(&dir, "node1", 1, port);
    let _guard = ServerGuard(vec![n1.clone()]);
    n1.initdb();
    // A self-signed server certificate (CN = the test address).
    let crt = format!("{}/server.crt", n1.pgdata);
    let key = format!("{}/server.key", n1.pgdata);
    self_signed(&format!("/CN={}", n1.host), &key, &crt);
    chown_pgdba(std::path::Path::new(&crt));
    chown_pgdba(std::path::Path::new(&key));
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod key");
    // No subjectAltName: verify-full must fall back to the Common Name as
    // libpq does (issue 12, re-attack item 4).
    let text = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in", &crt])
        .output()
        .expect("openssl x509 runs");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains(&format!("CN = {}", n1.host)), "{text}");
    assert!(!text.contains("Subject Alternative Name"), "{text}");
    let root = dir.join("root.crt");
    std::fs::copy(&crt, &root).expect("copy the root certificate");
    // The same root certificate, readable by root only (issue 12, re-attack
    // item 5: libpq reads it as pgdba).
    let root_only = dir.join("root-only.crt");
    std::fs::copy(&crt, &root_only).expect("copy the root certificate");
    std::fs::set_permissions(
        &root_only,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .expect("chmod root-only.crt");
    let conf = format!("{}/postgresql.conf", n1.pgdata);
    let mut text = std::fs::read_to_string(&conf).expect("postgresql.conf");
    text.push_str("\nssl = on\n");
    std::fs::write(&conf, text).expect("postgresql.conf");
    std::fs::write(
        format!("{}/pg_hba.conf", n1.pgdata),
        "local all all trust\nhostssl all all 127.0.0.0/8 trust\n",
    )
    .expect("pg_hba.conf");
    n1.start_directly();

    let attrd = dir.join("attrd");
    std::fs::create_dir_all(&attrd).expect("attrd");
    std::fs::write(format!("{attrd}/nodes"), "node1\n").expect("nodes");
    let run = |vars: &[(&str, &str)]| {
        let mut env = AgentEnv::new(&n1, &attrd, "node1", &n1.host);
        env.set("OCF_RESKEY_rep_mode", "none");
        for (k, v) in vars {
            env.set(k, v);
        }
        env.run("monitor", 10000)
    };

    // libpq's default (prefer), and the modes that take TLS.
    for vars in [
        vec![],
        vec![("PGSSLMODE", "prefer")],
        vec![("PGSSLMODE", "allow")],
        vec![("PGSSLMODE", "require")],
        vec![("PGSSLMODE", "verify-ca"), ("PGSSLROOTCERT", root.as_str())],
        vec![
            ("PGSSLMODE", "verify-full"),
            ("PGSSLROOTCERT", root.as_str()),
        ],
    ] {
        let r = run(&vars);
        assert_eq!(r.code, 0, "{vars:?}: {}", r.stderr);
    }
    // Issue 12 (re-attack item 1): every session ends cleanly (Terminate,
    // then the TLS close): the server logs no reset for any of them.
    for _ in 0..5 {
        let r = run(&[("PGSSLMODE", "require")]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let log = std::fs::read_to_string(&n1.logfile).expect("server log");
    let resets = log
        .lines()
        .filter(|l| l.contains("Connection reset by peer") || l.contains("unexpected EOF"))
        .count();
    assert!(
        log.contains("connection authorized") || log.contains("database system is ready"),
        "the server log is the one the server writes: {log}"
    );
    assert_eq!(resets, 0, "sessions ended with a reset:\n{log}");

    // Over the Unix socket libpq never uses TLS, whatever the mode.
    let r = run(&[("OCF_RESKEY_pghost", ""), ("PGSSLMODE", "require")]);
    assert_eq!(r.code, 0, "socket: {}", r.stderr);

    // A root certificate pgdba cannot read fails as it would for libpq
    // (psql runs as pgdba), for verify-ca and for require (which is
    // verify-ca when the file exists).
    for mode in ["verify-ca", "require"] {
        let r = run(&[("PGSSLMODE", mode), ("PGSSLROOTCERT", root_only.as_str())]);
        assert_eq!(r.code, 1, "{mode}: {}", r.stderr);
        assert!(
            r.stderr.contains("could not read root certificate file")
                && r.stderr.contains("Permission denied"),
            "{mode}: {}",
            r.stderr
        );
    }

    // disable: the server's own refusal reaches the message.
    let r = run(&[("PGSSLMODE", "disable")]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("no encryption"), "{}", r.stderr);
    // verify-ca without the root certificate the server's chains to.
    let r = run(&[
        ("PGSSLMODE", "verify-ca"),
        ("PGSSLROOTCERT", "/etc/hostname"),
    ]);
    assert_ne!(r.code, 0, "{}", r.stderr);
    eprintln!("verify-ca, not a certificate: {}", r.stderr);
    // verify-ca with another CA's certificate as the root.
    let other_key = dir.join("other.key");
    let other = dir.join("other.crt");
    self_signed("/CN=another CA", &other_key, &other);
    let r = run(&[
        ("PGSSLMODE", "verify-ca"),
        ("PGSSLROOTCERT", other.as_str()),
    ]);
    assert_ne!(r.code, 0, "{}", r.stderr);
    eprintln!("verify-ca, wrong root: {}", r.stderr);
    // Issue 12 (re-attack item 6): OpenSSL's reason, not its error stack
    // (library, function, source line), is in the 128 bytes.
    let reason = r
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("ocf-exit-reason:"))
        .expect("an exit reason");
    assert!(reason.len() <= 128, "{reason}");
    assert!(reason.contains("certificate verify failed"), "{reason}");
    assert!(!reason.contains("SSL routines"), "{reason}");
    let r = run(&[("PGSSLMODE", "bogus")]);
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("invalid sslmode value \"bogus\""),
        "{}",
        r.stderr
    );

    // A `hostnossl`-only pg_hba (what worked before the agent used TLS):
    // prefer falls back to a plain session like libpq (issue 12, re-attack);
    // require keeps refusing.
    std::fs::write(
        format!("{}/pg_hba.conf", n1.pgdata),
        "local all all trust\nhostnossl all all 127.0.0.0/8 trust\n",
    )
    .expect("pg_hba.conf");
    n1.psql("select pg_reload_conf()");
    std::thread::sleep(std::time::Duration::from_millis(500));
    for vars in [
        vec![],
        vec![("PGSSLMODE", "prefer")],
        vec![("PGSSLMODE", "disable")],
    ] {
        let r = run(&vars);
        assert_eq!(r.code, 0, "hostnossl {vars:?}: {}", r.stderr);
    }
    let r = run(&[("PGSSLMODE", "require")]);
    assert_eq!(r.code, 1, "{}", r.stderr);
}

/// A self-signed certificate `crt` with subject `subject` and its key `key`
/// (`openssl req -x509`, RSA 2048, 2 days).
fn self_signed(subject: &str, key: &str, crt: &str) {
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-new", "-x509", "-days", "2", "-nodes", "-newkey", "rsa:2048",
        ])
        .args(["-subj", subject])
        .args(["-keyout", key, "-out", crt])
        .output()
        .expect("openssl runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
}
