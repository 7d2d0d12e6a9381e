//! The agent's parameters (`OCF_RESKEY_*`): the stock agent's 33 names, types
//! and defaults, parsed from a map handed in by the caller (the core never
//! reads the environment).

use std::collections::BTreeMap;

use crate::ocf::OcfExit;

/// The value type of a parameter as advertised in the meta-data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// Free text.
    String,
    /// A non-negative integer (validated, unlike the stock agent).
    Integer,
    /// `ocf_is_true` semantics: `yes|true|1|on|ja` (any case) are true.
    Boolean,
}

/// One parameter's name, type, default and reload safety.
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    /// The name, without the `OCF_RESKEY_` prefix.
    pub name: &'static str,
    /// Its type.
    pub kind: ParamKind,
    /// The default text (`config` is computed from `pgdata`; see [`Params::parse`]).
    pub default: &'static str,
    /// True when a change takes effect without restarting PostgreSQL: only
    /// the agent reads it, on every action, and the running server does not
    /// depend on it (advertised as `reloadable="1"`, applied by `reload-agent`).
    pub reloadable: bool,
}

const fn spec(
    name: &'static str,
    kind: ParamKind,
    default: &'static str,
    reloadable: bool,
) -> ParamSpec {
    ParamSpec {
        name,
        kind,
        default,
        reloadable,
    }
}

use ParamKind::{Boolean as B, Integer as I, String as S};

/// Every parameter, in the stock agent's meta-data order.
pub const PARAMETERS: [ParamSpec; 37] = [
    spec("pgctl", S, "/usr/bin/pg_ctl", true),
    spec("start_opt", S, "", false),
    spec("ctl_opt", S, "", false),
    spec("psql", S, "/usr/bin/psql", true),
    spec("pgdata", S, "/var/lib/pgsql/data", false),
    spec("pgdba", S, "postgres", false),
    spec("pghost", S, "", false),
    spec("pgport", I, "5432", false),
    spec("pglibs", S, "/usr/lib", true),
    spec("monitor_user", S, "", true),
    spec("monitor_password", S, "", true),
    spec("monitor_sql", S, "select now();", true),
    spec("config", S, "", false),
    spec("pgdb", S, "template1", true),
    spec("logfile", S, "/dev/null", false),
    spec("socketdir", S, "", false),
    spec("stop_escalate", I, "90", true),
    spec("rep_mode", S, "none", false),
    spec("node_list", S, "", false),
    spec("restore_command", S, "", false),
    spec("archive_cleanup_command", S, "", false),
    spec("recovery_end_command", S, "", false),
    spec("master_ip", S, "", false),
    spec("repuser", S, "postgres", false),
    spec("primary_conninfo_opt", S, "", false),
    spec("restart_on_promote", B, "false", true),
    spec("replication_slot_name", S, "", false),
    spec("tmpdir", S, "/var/lib/pgsql/tmp", false),
    spec("xlog_check_count", I, "3", true),
    spec("crm_attr_timeout", I, "5", true),
    spec("stop_escalate_in_slave", I, "90", true),
    spec("check_wal_receiver", B, "false", true),
    spec("external_standby_node_list", S, "", false),
    spec("crash_rejoin", S, "none", true),
    spec("rewind_user", S, "", true),
    spec("standby_reply_timeout", I, "10", true),
    spec("sync_quorum", I, "0", true),
];

/// Looks up a parameter's spec by name.
pub fn param_spec(name: &str) -> Option<&'static ParamSpec> {
    PARAMETERS.iter().find(|p| p.name == name)
}

/// `crash_rejoin` (issue 10; Patroni's `use_pg_rewind`, pg_auto_failover's
/// rewind are opt-in the same way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum CrashRejoin {
    /// `none` (default): a crashed old primary keeps `PGSQL.lock` and waits
    /// for an operator, as with the stock agent.
    None,
    /// `rewind`: `pg_rewind` when its history diverged, then follow.
    Rewind,
    /// `rewind-or-clone`: like `rewind`; when `pg_rewind` cannot run, a new
    /// copy by `pg_basebackup` (the old directory is moved aside, never deleted).
    RewindOrClone,
}

impl CrashRejoin {
    /// The parameter's text.
    pub fn as_str(self) -> &'static str {
        match self {
            CrashRejoin::None => "none",
            CrashRejoin::Rewind => "rewind",
            CrashRejoin::RewindOrClone => "rewind-or-clone",
        }
    }
}

/// The replication mode (`rep_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepMode {
    /// `none`: a single PostgreSQL, no replication handling.
    None,
    /// `async`: promotable clone, asynchronous streaming.
    Async,
    /// `sync`: promotable clone, the primary switches one standby between sync and async.
    Sync,
    /// `slave`: a plain clone that only starts as a standby of `master_ip`.
    Slave,
}

impl RepMode {
    /// True for `sync` and `async`: the agent manages a promotable clone.
    pub fn is_replication(self) -> bool {
        matches!(self, RepMode::Sync | RepMode::Async)
    }

    /// The parameter text.
    pub fn as_str(self) -> &'static str {
        match self {
            RepMode::None => "none",
            RepMode::Async => "async",
            RepMode::Sync => "sync",
            RepMode::Slave => "slave",
        }
    }
}

/// Serializes as the parameter text (`sync`), for printing decisions as JSON.
impl serde::Serialize for RepMode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A parameter with a bad value: the OCF code to return and a message naming it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParamError {
    /// The parameter's name.
    pub param: String,
    /// The code the agent returns for it (normally `OCF_ERR_CONFIGURED`).
    pub code: OcfExit,
    /// One line naming the parameter and what is wrong.
    pub message: String,
}

impl ParamError {
    /// A configuration error (`OCF_ERR_CONFIGURED`) for `param`.
    pub fn configured(param: &str, message: impl Into<String>) -> ParamError {
        ParamError {
            param: param.to_string(),
            code: OcfExit::ErrConfigured,
            message: message.into(),
        }
    }
}

/// The typed parameters. Field names are the parameter names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// Path of pg_ctl.
    pub pgctl: String,
    /// Extra server options for `pg_ctl -o`.
    pub start_opt: String,
    /// Extra pg_ctl options (start only).
    pub ctl_opt: String,
    /// Path of psql (checked for presence only; SQL goes through libpq).
    pub psql: String,
    /// The data directory.
    pub pgdata: String,
    /// The OS user owning PostgreSQL.
    pub pgdba: String,
    /// Host (or socket directory) to connect to and to pass to the server as `-h`.
    pub pghost: String,
    /// Port for client connections and `primary_conninfo`.
    pub pgport: u16,
    /// Library directory appended to `LD_LIBRARY_PATH` of child processes.
    pub pglibs: String,
    /// Role for monitoring SQL (empty: `pgdba`).
    pub monitor_user: String,
    /// Password of `monitor_user` (never exported to the environment).
    pub monitor_password: String,
    /// SQL run by the monitor (non-replication; primary only when customised).
    pub monitor_sql: String,
    /// The configuration file (default `<pgdata>/postgresql.conf`).
    pub config: String,
    /// Database to connect to.
    pub pgdb: String,
    /// pg_ctl's log file.
    pub logfile: String,
    /// Unix socket directory.
    pub socketdir: String,
    /// Seconds between `stop -m fast` and `stop -m immediate`.
    pub stop_escalate: u32,
    /// Replication mode.
    pub rep_mode: RepMode,
    /// Nodes of the replication cluster, lower-cased, in the given order.
    pub node_list: Vec<String>,
    /// `restore_command` for the recovery configuration.
    pub restore_command: String,
    /// `archive_cleanup_command` for the recovery configuration.
    pub archive_cleanup_command: String,
    /// `recovery_end_command` for the recovery configuration.
    pub recovery_end_command: String,
    /// Host standbys connect to (normally a VIP following the primary).
    pub master_ip: String,
    /// Replication role.
    pub repuser: String,
    /// Extra `primary_conninfo` options.
    pub primary_conninfo_opt: String,
    /// Promote by restart instead of `pg_ctl promote`.
    pub restart_on_promote: bool,
    /// Prefix of replication slot names (empty: no slots).
    pub replication_slot_name: String,
    /// Directory for `PGSQL.lock`, `rep_mode.conf`, `xlog_note.*` and (PG ≥ 12) `recovery.conf`.
    pub tmpdir: String,
    /// Identical LSN observations needed before a standby claims the primary role.
    pub xlog_check_count: u32,
    /// Seconds allowed for one permanent attribute write.
    pub crm_attr_timeout: u32,
    /// Like `stop_escalate`, for standbys.
    pub stop_escalate_in_slave: u32,
    /// Publish `<rsc>-receiver-status`.
    pub check_wal_receiver: bool,
    /// Standbys outside the cluster to include in `synchronous_standby_names`, lower-cased.
    pub external_standby_node_list: Vec<String>,
    /// `crash_rejoin` (issue 10): what `start` may do to bring a crashed
    /// old primary (one holding `PGSQL.lock`) back as a standby.
    pub crash_rejoin: CrashRejoin,
    /// `rewind_user`: the role `pg_rewind` and the rejoin checks connect to
    /// the primary as (through `master_ip`); empty means `pgdba`.
    pub rewind_user: String,
    /// `standby_reply_timeout` (issue 11), seconds: on the primary, a
    /// standby whose walsender's `reply_time` (PostgreSQL ≥ 12) is older
    /// than this is treated as gone (DISCONNECT, released from
    /// `synchronous_standby_names`, walsender terminated). 0 disables the
    /// check. Default 10: five times the seed's `wal_receiver_status_interval`
    /// (2 s), at which even an idle standby replies.
    pub standby_reply_timeout: u32,
    /// `sync_quorum` (issue 11, opt-in): 0 (default) keeps one synchronous
    /// standby (stock); k ≥ 1 (rep_mode=sync) makes the primary write
    /// `ANY k (...)` over every streaming standby of node_list (PostgreSQL
    /// ≥ 10 quorum commit); the election then follows Patroni's rule.
    pub sync_quorum: u32,
}

/// `ocf_is_true`: `yes|true|1|on|ja` in any case.
pub fn is_true(text: &str) -> bool {
    matches!(
        text.trim().to_ascii_lowercase().as_str(),
        "yes" | "true" | "1" | "on" | "ja"
    )
}

/// Splits a space-separated node list, lower-casing each name.
pub fn split_node_list(text: &str) -> Vec<String> {
    text.split_whitespace().map(|n| n.to_lowercase()).collect()
}

impl Params {
    /// Parses the parameters from `OCF_RESKEY_<name>` values keyed by `<name>`
    /// (unset keys take their default; a set-but-empty string stays empty).
    /// Never panics. Returns the parameters (with defaults standing in for bad
    /// values) and every error found, so that `stop` can still act on a
    /// partly bad configuration.
    pub fn parse(values: &BTreeMap<String, String>) -> (Params, Vec<ParamError>) {
        let mut errors = Vec::new();
        let text = |name: &str| -> String {
            match values.get(name) {
                Some(v) => v.clone(),
                None => param_spec(name)
                    .map(|s| s.default.to_string())
                    .unwrap_or_default(),
            }
        };
        let mut int = |name: &str, min: u64, max: u64| -> u64 {
            let default: u64 = param_spec(name)
                .map(|s| s.default.parse().unwrap_or(0))
                .unwrap_or(0);
            match values.get(name) {
                None => default,
                Some(v) => match v.trim().parse::<u64>() {
                    Ok(n) if (min..=max).contains(&n) => n,
                    _ => {
                        // A secret's value is never printed (none is numeric
                        // today; the rule holds for every message).
                        let shown = if crate::metadata::is_secret_parameter(name) {
                            "(secret, value not shown)".to_string()
                        } else {
                            format!("={}", crate::quote::quoted(v))
                        };
                        errors.push(ParamError::configured(
                            name,
                            format!(
                                "parameter {name}{shown} is not an integer between {min} and {max}"
                            ),
                        ));
                        default
                    }
                },
            }
        };
        // pgport 1-65535 (docs/parameters.md; issue 12, attack finding 13).
        let pgport = int("pgport", 1, 65535) as u16;
        let stop_escalate = int("stop_escalate", 0, u32::MAX as u64) as u32;
        let xlog_check_count = int("xlog_check_count", 0, u32::MAX as u64) as u32;
        let crm_attr_timeout = int("crm_attr_timeout", 0, u32::MAX as u64) as u32;
        let stop_escalate_in_slave = int("stop_escalate_in_slave", 0, u32::MAX as u64) as u32;
        let standby_reply_timeout = int("standby_reply_timeout", 0, u32::MAX as u64) as u32;
        let sync_quorum = int("sync_quorum", 0, 255) as u32;
        let rep_mode_text = text("rep_mode");
        let rep_mode = match rep_mode_text.as_str() {
            "none" => RepMode::None,
            "async" => RepMode::Async,
            "sync" => RepMode::Sync,
            "slave" => RepMode::Slave,
            other => {
                errors.push(ParamError::configured(
                    "rep_mode",
                    format!(
                        "parameter rep_mode={} is invalid: use none, async, sync or slave",
                        crate::quote::quoted(other)
                    ),
                ));
                RepMode::None
            }
        };
        let crash_rejoin = match text("crash_rejoin").as_str() {
            "none" => CrashRejoin::None,
            "rewind" => CrashRejoin::Rewind,
            "rewind-or-clone" => CrashRejoin::RewindOrClone,
            other => {
                errors.push(ParamError::configured(
                    "crash_rejoin",
                    format!(
                        "parameter crash_rejoin={} is invalid: use none, rewind or rewind-or-clone",
                        crate::quote::quoted(other)
                    ),
                ));
                CrashRejoin::None
            }
        };
        let pgdata = text("pgdata");
        let config = match values.get("config") {
            Some(v) => v.clone(),
            None => format!("{}/postgresql.conf", pgdata.trim_end_matches('/')),
        };
        let params = Params {
            pgctl: text("pgctl"),
            start_opt: text("start_opt"),
            ctl_opt: text("ctl_opt"),
            psql: text("psql"),
            pgdata,
            pgdba: text("pgdba"),
            pghost: text("pghost"),
            pgport,
            pglibs: text("pglibs"),
            monitor_user: text("monitor_user"),
            monitor_password: text("monitor_password"),
            monitor_sql: text("monitor_sql"),
            config,
            pgdb: text("pgdb"),
            logfile: text("logfile"),
            socketdir: text("socketdir"),
            stop_escalate,
            rep_mode,
            node_list: split_node_list(&text("node_list")),
            restore_command: text("restore_command"),
            archive_cleanup_command: text("archive_cleanup_command"),
            recovery_end_command: text("recovery_end_command"),
            master_ip: text("master_ip"),
            repuser: text("repuser"),
            primary_conninfo_opt: text("primary_conninfo_opt"),
            restart_on_promote: is_true(&text("restart_on_promote")),
            replication_slot_name: text("replication_slot_name"),
            tmpdir: text("tmpdir"),
            xlog_check_count,
            crm_attr_timeout,
            stop_escalate_in_slave,
            check_wal_receiver: is_true(&text("check_wal_receiver")),
            external_standby_node_list: split_node_list(&text("external_standby_node_list")),
            crash_rejoin,
            rewind_user: text("rewind_user"),
            standby_reply_timeout,
            sync_quorum,
        };
        (params, errors)
    }

    /// The parameters with every default (what an empty map gives).
    pub fn defaults() -> Params {
        Params::parse(&BTreeMap::new()).0
    }

    /// The role used for monitoring SQL: `monitor_user`, else `pgdba`.
    pub fn monitor_role(&self) -> &str {
        if self.monitor_user.is_empty() {
            &self.pgdba
        } else {
            &self.monitor_user
        }
    }

    /// True when `monitor_sql` is the stock default.
    pub fn monitor_sql_is_default(&self) -> bool {
        self.monitor_sql == "select now();"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_match_the_stock_agent() {
        let p = Params::defaults();
        assert_eq!(p.pgctl, "/usr/bin/pg_ctl");
        assert_eq!(p.pgport, 5432);
        assert_eq!(p.config, "/var/lib/pgsql/data/postgresql.conf");
        assert_eq!(p.rep_mode, RepMode::None);
        assert_eq!(p.xlog_check_count, 3);
        assert_eq!(p.monitor_role(), "postgres");
        assert!(p.monitor_sql_is_default());
        // The stock agent's 33, then ours: crash_rejoin, rewind_user (issue
        // 10), standby_reply_timeout and sync_quorum (issue 11).
        assert_eq!(PARAMETERS.len(), 37);
        assert_eq!(p.standby_reply_timeout, 10);
        assert_eq!(p.sync_quorum, 0, "quorum commit is opt-in");
        assert_eq!(p.crash_rejoin, CrashRejoin::None, "crash rejoin is opt-in");
    }

    #[test]
    fn parses_values_and_reports_bad_ones() {
        let (p, e) = Params::parse(&map(&[
            ("pgdata", "/d/"),
            ("node_list", "Node1  node2"),
            ("restart_on_promote", "ON"),
            ("rep_mode", "sync"),
        ]));
        assert!(e.is_empty());
        assert_eq!(p.config, "/d/postgresql.conf");
        assert_eq!(p.node_list, vec!["node1", "node2"]);
        assert!(p.restart_on_promote);
        let (_, e) = Params::parse(&map(&[("pgport", "54x"), ("rep_mode", "both")]));
        assert_eq!(e.len(), 2);
        assert!(e[0].message.contains("pgport"));
        assert!(e[1].message.contains("rep_mode"));
    }
}
