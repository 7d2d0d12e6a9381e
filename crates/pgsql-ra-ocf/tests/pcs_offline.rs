//! Issue 12 item 1: pcs (Debian's 0.11) can use the agent. Its meta-data
//! passes pcs's own OCF 1.1 schema (`/usr/share/pcs/data/ocf-1.1.rng`, from
//! Debian's pcs package; the ra-api-1.dtd check is in `metadata_vs_stock`),
//! and the seed's pcs commands, in pcs 0.11 syntax (`promotable`,
//! `Promoted`, `resource defaults update`) and with only the agent name
//! changed, work against an offline CIB (`pcs -f`) without `--force`; the
//! resulting CIB passes `crm_verify` and `crm_resource --validate` runs the
//! agent on it.
//!
//! pcs and crm_resource find agents only under `/usr/lib/ocf/resource.d`,
//! so each test links the built binary there under a provider of its own
//! (`pgsqlra-test-<pid>-<tag>`, removed on drop) instead of the documented
//! `pgsql-ra`, which a lab on the same machine may be using.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PCS_RNG: &str = "/usr/share/pcs/data/ocf-1.1.rng";
const RA_DIR: &str = "/usr/lib/ocf/resource.d";

/// The agent linked under a test provider, removed on drop.
struct Installed {
    dir: PathBuf,
    name: String,
}

impl Installed {
    fn new(tag: &str) -> Installed {
        let provider = format!("pgsqlra-test-{}-{tag}", std::process::id());
        let dir = Path::new(RA_DIR).join(&provider);
        std::fs::create_dir_all(&dir).expect("create the provider directory (run as root)");
        let link = dir.join("pgsql");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_pgsql-ra"), &link).expect("link the agent");
        Installed {
            dir,
            name: format!("ocf:{provider}:pgsql"),
        }
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn pcs_installed() {
    assert!(
        Path::new("/usr/sbin/pcs").exists() && Path::new(PCS_RNG).exists(),
        "Debian's pcs is required (scripts/install-deps.sh installs it)"
    );
}

fn text(o: &Output) -> String {
    format!(
        "rc={:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn meta_data_is_valid_against_pcs_ocf_1_1_schema_and_pcs_describes_it() {
    pcs_installed();
    let out = Command::new(env!("CARGO_BIN_EXE_pgsql-ra"))
        .arg("meta-data")
        .output()
        .expect("meta-data");
    assert!(out.status.success());
    let dir = std::env::temp_dir().join(format!("pcs-rng-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("meta-data.xml");
    std::fs::write(&file, &out.stdout).expect("write");
    // The internal DTD subset names ra-api-1.dtd: load it from Debian's package.
    let lint = Command::new("xmllint")
        .args([
            "--noout",
            "--path",
            "/usr/share/resource-agents",
            "--relaxng",
            PCS_RNG,
        ])
        .arg(&file)
        .output()
        .expect("xmllint");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        lint.status.success(),
        "pcs's ocf-1.1.rng rejects the meta-data: {}",
        text(&lint)
    );

    let agent = Installed::new("describe");
    let d = Command::new("pcs")
        .args(["resource", "describe", &agent.name])
        .output()
        .expect("pcs");
    assert!(d.status.success(), "{}", text(&d));
    let stdout = String::from_utf8_lossy(&d.stdout);
    assert!(stdout.contains("monitor_password"), "{stdout}");
    assert!(
        !String::from_utf8_lossy(&d.stderr).contains("Error"),
        "{}",
        text(&d)
    );
}

#[test]
fn the_seed_pcs_commands_work_offline_without_force() {
    pcs_installed();
    let agent = Installed::new("seed");
    let dir = std::env::temp_dir().join(format!("pcs-seed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let cib = dir.join("pgsql_cfg");
    let empty = Command::new("cibadmin")
        .arg("--empty")
        .output()
        .expect("cibadmin");
    assert!(empty.status.success(), "{}", text(&empty));
    std::fs::write(&cib, &empty.stdout).expect("write the CIB");
    let cib_s = cib.to_string_lossy().into_owned();

    let pgsql = agent.name.as_str();
    let commands: Vec<Vec<&str>> = vec![
        vec!["property", "set", "no-quorum-policy=ignore"],
        vec!["property", "set", "stonith-enabled=false"],
        vec![
            "resource",
            "defaults",
            "update",
            "resource-stickiness=INFINITY",
        ],
        vec!["resource", "defaults", "update", "migration-threshold=1"],
        vec![
            "resource",
            "create",
            "vip-master",
            "ocf:heartbeat:IPaddr2",
            "ip=192.168.0.3",
            "nic=ens9",
            "cidr_netmask=24",
            "op",
            "start",
            "timeout=60s",
            "interval=0s",
            "on-fail=restart",
            "op",
            "monitor",
            "timeout=60s",
            "interval=10s",
            "on-fail=restart",
            "op",
            "stop",
            "timeout=60s",
            "interval=0s",
            "on-fail=block",
        ],
        vec![
            "resource",
            "create",
            "vip-rep",
            "ocf:heartbeat:IPaddr2",
            "ip=192.168.2.3",
            "nic=ens11",
            "cidr_netmask=24",
            "meta",
            "migration-threshold=0",
            "op",
            "start",
            "timeout=60s",
            "interval=0s",
            "on-fail=stop",
            "op",
            "monitor",
            "timeout=60s",
            "interval=10s",
            "on-fail=restart",
            "op",
            "stop",
            "timeout=60s",
            "interval=0s",
            "on-fail=ignore",
        ],
        vec![
            "resource",
            "create",
            "pgsql",
            pgsql,
            "pgctl=/usr/bin/pg_ctl",
            "psql=/usr/bin/psql",
            "pgdata=/var/lib/pgsql/11/data/",
            "rep_mode=sync",
            "node_list=node1 node2",
            "restore_command=cp /var/lib/pgsql/11/pg_archive/%f %p",
            "primary_conninfo_opt=keepalives_idle=60 keepalives_interval=5 keepalives_count=5",
            "master_ip=192.168.2.3",
            "restart_on_promote=true",
            "op",
            "start",
            "timeout=60s",
            "interval=0s",
            "on-fail=restart",
            "op",
            "monitor",
            "timeout=60s",
            "interval=4s",
            "on-fail=restart",
            "op",
            "monitor",
            "timeout=60s",
            "interval=3s",
            "on-fail=restart",
            "role=Promoted",
            "op",
            "promote",
            "timeout=60s",
            "interval=0s",
            "on-fail=restart",
            "op",
            "demote",
            "timeout=60s",
            "interval=0s",
            "on-fail=stop",
            "op",
            "stop",
            "timeout=60s",
            "interval=0s",
            "on-fail=block",
            "op",
            "notify",
            "timeout=60s",
            "interval=0s",
        ],
        vec![
            "resource",
            "promotable",
            "pgsql",
            "msPostgresql",
            "promoted-max=1",
            "promoted-node-max=1",
            "clone-max=2",
            "clone-node-max=1",
            "notify=true",
        ],
        vec![
            "resource",
            "group",
            "add",
            "master-group",
            "vip-master",
            "vip-rep",
        ],
        vec![
            "constraint",
            "colocation",
            "add",
            "master-group",
            "with",
            "Promoted",
            "msPostgresql",
            "INFINITY",
        ],
        vec![
            "constraint",
            "order",
            "promote",
            "msPostgresql",
            "then",
            "start",
            "master-group",
            "symmetrical=false",
            "score=INFINITY",
        ],
        vec![
            "constraint",
            "order",
            "demote",
            "msPostgresql",
            "then",
            "stop",
            "master-group",
            "symmetrical=false",
            "score=0",
        ],
    ];
    for args in &commands {
        let o = Command::new("pcs")
            .arg("-f")
            .arg(&cib_s)
            .args(args)
            .output()
            .expect("pcs");
        let all = text(&o);
        assert!(o.status.success(), "pcs {}: {all}", args.join(" "));
        if args.contains(&pgsql) || args.contains(&"msPostgresql") {
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert!(
                !stderr.contains("Error")
                    && !stderr.contains("invalid")
                    && !stderr.contains("not supported"),
                "pcs {}: {all}",
                args.join(" ")
            );
        }
    }

    // An offline CIB without nodes draws crm_verify's quorum/fencing
    // warnings (exit 78); nothing may concern the agent's resources.
    let verify = Command::new("crm_verify")
        .arg("--xml-file")
        .arg(&cib)
        .arg("-V")
        .output()
        .expect("crm_verify");
    let all = text(&verify);
    assert!(
        matches!(verify.status.code(), Some(0) | Some(78)),
        "crm_verify: {all}"
    );
    for line in all
        .lines()
        .filter(|l| l.contains("error") || l.contains("warning"))
    {
        assert!(
            line.contains("Blind faith") || line.contains("lack of quorum"),
            "crm_verify: {all}"
        );
    }

    // crm_resource --validate runs the agent's validate-all with the CIB's
    // parameters (the seed's own values).
    let validate = Command::new("crm_resource")
        .args(["--validate", "-r", "pgsql"])
        .env("CIB_file", &cib)
        .output()
        .expect("crm_resource");
    let all = text(&validate);
    assert!(validate.status.success(), "crm_resource --validate: {all}");
    assert!(
        all.contains(&format!(
            "Operation validate for pgsql ({pgsql}) returned 0"
        )),
        "crm_resource --validate: {all}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
