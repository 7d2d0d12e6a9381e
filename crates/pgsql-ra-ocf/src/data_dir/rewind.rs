//! `pg_rewind`'s command line and the reading of its output
//! (PostgreSQL documentation, pg_rewind; messages of
//! `src/bin/pg_rewind/pg_rewind.c`, run with `LC_ALL=C`).
//!
//! `pg_rewind --target-pgdata=<pgdata> --source-server='host=<master_ip>
//! port=<pgport> user=<rewind role> dbname=postgres connect_timeout=N'`,
//! plus `--config-file=<config>` when `config` is outside `pgdata` (from
//! PostgreSQL 15: after a crash pg_rewind first runs the target's crash
//! recovery in single-user mode, which must find the configuration) and
//! `--restore-target-wal` when `restore_command` is set (from 13: missing
//! local WAL is fetched with it). No password is ever on the command line:
//! libpq reads `pgdba`'s password file.

use pgsql_ra_core::ports::RewindOutcome;
use pgsql_ra_core::Lsn;

use super::DataDirConfig;

/// The first major with `--restore-target-wal` and automatic crash recovery.
pub const RESTORE_TARGET_WAL_SINCE: u32 = 13;
/// The first major with `--config-file`.
pub const CONFIG_FILE_SINCE: u32 = 15;

/// A libpq connection-string value, quoted when it needs to be (`'…'`
/// with `\` and `'` escaped; PostgreSQL documentation, "Connection
/// Strings").
pub fn conninfo_value(v: &str) -> String {
    if !v.is_empty()
        && !v
            .chars()
            .any(|c| c.is_whitespace() || c == '\'' || c == '\\' || c == '=')
    {
        return v.to_string();
    }
    let escaped = v.replace('\\', "\\\\").replace('\'', "\\'");
    format!("'{escaped}'")
}

/// True when `config` is a file outside the directory `pgdata` (compared as
/// written: `config` was derived from `pgdata` unless set).
pub fn config_outside(config: &str, pgdata: &str) -> bool {
    let dir = pgdata.trim_end_matches('/');
    !config.is_empty() && !config.starts_with(&format!("{dir}/"))
}

/// The arguments of `pg_rewind` for PostgreSQL `major` (unknown: the
/// options of the oldest supported version only), connecting within
/// `connect_timeout_s` seconds.
pub fn args(c: &DataDirConfig, major: Option<u32>, connect_timeout_s: u64) -> Vec<String> {
    let source = format!(
        "host={} port={} user={} dbname=postgres connect_timeout={}",
        conninfo_value(&c.master_ip),
        c.pgport,
        conninfo_value(&c.rewind_user),
        connect_timeout_s.max(2)
    );
    let mut args = vec![
        format!("--target-pgdata={}", c.pgdata),
        format!("--source-server={source}"),
    ];
    let major = major.unwrap_or(0);
    if major >= CONFIG_FILE_SINCE && config_outside(&c.config, &c.pgdata) {
        args.push(format!("--config-file={}", c.config));
    }
    if major >= RESTORE_TARGET_WAL_SINCE && !c.restore_command.trim().is_empty() {
        args.push("--restore-target-wal".into());
    }
    args
}

/// How a successful (exit 0) run ended, from its output: "no rewind
/// required", else rewound, with "servers diverged at WAL location X on
/// timeline T" when printed.
pub fn outcome(output: &str) -> RewindOutcome {
    if output.contains("no rewind required") {
        return RewindOutcome::NotNeeded;
    }
    RewindOutcome::Rewound {
        diverged_at: diverged_at(output),
    }
}

/// X of "servers diverged at WAL location X on timeline T".
pub fn diverged_at(output: &str) -> Option<Lsn> {
    const KEY: &str = "servers diverged at WAL location ";
    let i = output.find(KEY)? + KEY.len();
    let word = output[i..].split_whitespace().next()?;
    Lsn::parse_pg(word).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(config: &str, restore: &str) -> DataDirConfig {
        DataDirConfig {
            bin_dir: Some("/usr/lib/postgresql/15/bin".into()),
            pgdata: "/var/lib/pgsql/data".into(),
            config: config.into(),
            pgdba: "postgres".into(),
            pglibs: "/usr/lib".into(),
            master_ip: "10.0.0.10".into(),
            pgport: 5432,
            rewind_user: "rewinder".into(),
            repuser: "repl".into(),
            restore_command: restore.into(),
        }
    }

    #[test]
    fn command_line_by_version_and_settings() {
        let inside = config("/var/lib/pgsql/data/postgresql.conf", "");
        let base = vec![
            "--target-pgdata=/var/lib/pgsql/data".to_string(),
            "--source-server=host=10.0.0.10 port=5432 user=rewinder dbname=postgres connect_timeout=5"
                .to_string(),
        ];
        assert_eq!(args(&inside, Some(15), 5), base);
        let outside = config("/etc/postgresql/15/main/postgresql.conf", "cp /a/%f %p");
        let mut want = base.clone();
        want.push("--config-file=/etc/postgresql/15/main/postgresql.conf".into());
        want.push("--restore-target-wal".into());
        assert_eq!(args(&outside, Some(15), 5), want);
        // 13 and 14: no --config-file; 12: neither.
        let mut want14 = base.clone();
        want14.push("--restore-target-wal".into());
        assert_eq!(args(&outside, Some(14), 5), want14);
        assert_eq!(args(&outside, Some(12), 5), base);
        assert_eq!(args(&outside, None, 5), base);
    }

    #[test]
    fn conninfo_values_are_quoted_when_needed() {
        assert_eq!(conninfo_value("10.0.0.1"), "10.0.0.1");
        assert_eq!(conninfo_value("a b"), "'a b'");
        assert_eq!(conninfo_value("o'k\\"), "'o\\'k\\\\'");
        assert_eq!(conninfo_value("x=y"), "'x=y'");
        assert_eq!(conninfo_value(""), "''");
    }

    #[test]
    fn config_inside_or_outside() {
        assert!(!config_outside("/d/postgresql.conf", "/d"));
        assert!(!config_outside("/d/postgresql.conf", "/d/"));
        assert!(config_outside("/etc/pg/postgresql.conf", "/d"));
        assert!(config_outside("/dd/postgresql.conf", "/d"));
        assert!(!config_outside("", "/d"));
    }

    /// Outputs in the form of PostgreSQL 15's pg_rewind.c messages (LSNs
    /// made up). tests/rejoin_real_pg.rs checks the real ones: the parsed
    /// divergence point equals the new primary's switch point, and "no
    /// rewind required" after a clean switchover.
    #[test]
    fn pg15_message_forms() {
        let rewound = "pg_rewind: executing \"/usr/lib/postgresql/15/bin/postgres\" for target server to complete crash recovery\n\
                       pg_rewind: servers diverged at WAL location 0/3019A18 on timeline 1\n\
                       pg_rewind: rewinding from last common checkpoint at 0/2000060 on timeline 1\n\
                       pg_rewind: Done!\n";
        assert_eq!(
            outcome(rewound),
            RewindOutcome::Rewound {
                diverged_at: Some(Lsn(0x3019A18))
            }
        );
        let none = "pg_rewind: servers diverged at WAL location 0/3000148 on timeline 1\n\
                    pg_rewind: no rewind required\n";
        assert_eq!(outcome(none), RewindOutcome::NotNeeded);
        assert_eq!(
            outcome("pg_rewind: Done!\n"),
            RewindOutcome::Rewound { diverged_at: None }
        );
    }
}
