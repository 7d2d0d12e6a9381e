//! The standby's recovery configuration (stock §4.9) and the include lines
//! the agent keeps in postgresql.conf. Before PostgreSQL 12 the file is
//! `<pgdata>/recovery.conf`; from 12 on it is `<tmpdir>/recovery.conf`,
//! included from the configuration file, plus `<pgdata>/standby.signal`.

use crate::params::Params;
use crate::slots::slot_name;

/// The first version (`server_version_num / 100`) that uses `standby.signal`.
pub const STANDBY_SIGNAL_SINCE: u32 = 1200;

/// True when the server version uses `standby.signal` and an included
/// recovery file. An unknown version counts as older, as in the stock agent.
pub fn uses_standby_signal(pg_version: Option<u32>) -> bool {
    pg_version.is_some_and(|v| v >= STANDBY_SIGNAL_SINCE)
}

/// Where the recovery configuration lives for this version.
pub fn recovery_conf_path(params: &Params, pg_version: Option<u32>) -> String {
    if uses_standby_signal(pg_version) {
        join(&params.tmpdir, "recovery.conf")
    } else {
        join(&params.pgdata, "recovery.conf")
    }
}

/// `<pgdata>/standby.signal`.
pub fn standby_signal_path(params: &Params) -> String {
    join(&params.pgdata, "standby.signal")
}

/// Joins a directory and a file name with exactly one `/`.
pub fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}

/// Renders the recovery configuration for the standby `node` (the
/// application_name), line by line as the stock agent writes it. Values are
/// embedded verbatim, as in the stock agent.
pub fn render(params: &Params, node: &str, pg_version: Option<u32>) -> String {
    let mut lines = vec![
        format!(
            "primary_conninfo = 'host={} port={} user={} application_name={node} {}'",
            params.master_ip, params.pgport, params.repuser, params.primary_conninfo_opt
        ),
        format!("restore_command = '{}'", params.restore_command),
        "recovery_target_timeline = 'latest'".to_string(),
    ];
    if !uses_standby_signal(pg_version) {
        lines.push("standby_mode = 'on'".to_string());
    }
    if !params.archive_cleanup_command.is_empty() {
        lines.push(format!(
            "archive_cleanup_command = '{}'",
            params.archive_cleanup_command
        ));
    }
    if !params.recovery_end_command.is_empty() {
        lines.push(format!(
            "recovery_end_command = '{}'",
            params.recovery_end_command
        ));
    }
    if !params.replication_slot_name.is_empty() {
        lines.push(format!(
            "primary_slot_name = '{}'",
            slot_name(&params.replication_slot_name, node)
        ));
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// The include line the agent adds to postgresql.conf for `path`.
pub fn include_line(path: &str) -> String {
    format!("include '{path}' # added by pgsql RA")
}

/// True when a line of `config` starts (after blanks) with the include line,
/// which is how the stock agent recognises an existing include.
pub fn has_include(config: &str, path: &str) -> bool {
    let wanted = include_line(path);
    config.lines().any(|l| l.trim_start().starts_with(&wanted))
}

/// `config` without the lines containing the include line for `path`, or
/// `None` when there is none (async mode removes the rep_mode.conf include).
pub fn without_include(config: &str, path: &str) -> Option<String> {
    let wanted = include_line(path);
    if !config.lines().any(|l| l.contains(&wanted)) {
        return None;
    }
    let mut kept: Vec<&str> = config.lines().filter(|l| !l.contains(&wanted)).collect();
    if config.ends_with('\n') {
        kept.push("");
    }
    Some(kept.join("\n"))
}

/// The value of a setting in a postgresql.conf text, read like the stock
/// agent's parser: the first line that starts (after blanks) with the name
/// followed by blanks or `=`; a trailing `# comment` is dropped and a
/// `'quoted'` value unquoted. Include files are not followed.
pub fn config_value(config: &str, name: &str) -> Option<String> {
    config.lines().find_map(|line| {
        let rest = line.trim_start().strip_prefix(name)?;
        let first = rest.chars().next()?;
        if !(first == ' ' || first == '\t' || first == '=') {
            return None;
        }
        let value = rest.trim_start_matches([' ', '\t', '=']);
        let value = match value.find('#') {
            Some(i) => &value[..i],
            None => value,
        }
        .trim();
        let value = value
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .unwrap_or(value);
        Some(value.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn params(pairs: &[(&str, &str)]) -> Params {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Params::parse(&map).0
    }

    #[test]
    fn pg11_writes_standby_mode_in_pgdata() {
        let p = params(&[
            ("pgdata", "/d"),
            ("master_ip", "10.0.0.9"),
            ("restore_command", "cp /a/%f %p"),
        ]);
        assert_eq!(recovery_conf_path(&p, Some(1100)), "/d/recovery.conf");
        assert_eq!(
            render(&p, "node2", Some(1100)),
            "primary_conninfo = 'host=10.0.0.9 port=5432 user=postgres application_name=node2 '\n\
             restore_command = 'cp /a/%f %p'\n\
             recovery_target_timeline = 'latest'\n\
             standby_mode = 'on'\n"
        );
    }

    #[test]
    fn pg15_writes_to_tmpdir_without_standby_mode() {
        let p = params(&[
            ("tmpdir", "/t/"),
            ("master_ip", "vip"),
            ("pgport", "5433"),
            ("repuser", "rep"),
            ("primary_conninfo_opt", "keepalives_idle=60"),
            ("archive_cleanup_command", "clean"),
            ("recovery_end_command", "end"),
            ("replication_slot_name", "rs"),
        ]);
        assert_eq!(recovery_conf_path(&p, Some(1500)), "/t/recovery.conf");
        assert_eq!(
            render(&p, "node-2", Some(1500)),
            "primary_conninfo = 'host=vip port=5433 user=rep application_name=node-2 keepalives_idle=60'\n\
             restore_command = ''\n\
             recovery_target_timeline = 'latest'\n\
             archive_cleanup_command = 'clean'\n\
             recovery_end_command = 'end'\n\
             primary_slot_name = 'rs_node_2'\n"
        );
    }

    #[test]
    fn unknown_version_counts_as_older_than_12() {
        assert!(!uses_standby_signal(None));
        assert!(uses_standby_signal(Some(1200)));
        assert!(!uses_standby_signal(Some(1106)));
    }

    #[test]
    fn include_lines_are_recognised_and_removed() {
        let line = include_line("/t/rep_mode.conf");
        assert_eq!(line, "include '/t/rep_mode.conf' # added by pgsql RA");
        let conf = format!("port = 5432\n  {line}\nwork_mem = 4MB\n");
        assert!(has_include(&conf, "/t/rep_mode.conf"));
        assert!(!has_include(&conf, "/t/recovery.conf"));
        assert!(!has_include(&format!("# {line}\n"), "/t/rep_mode.conf"));
        assert_eq!(
            without_include(&conf, "/t/rep_mode.conf").unwrap(),
            "port = 5432\nwork_mem = 4MB\n"
        );
        assert_eq!(without_include("port = 1\n", "/t/rep_mode.conf"), None);
    }

    #[test]
    fn reads_config_values_like_the_stock_parser() {
        let conf = "#stats_temp_directory = 'x'\nstats_temp_directory = 'pg_stat_tmp'  # c\nport=5433\nportal = 1\n";
        assert_eq!(
            config_value(conf, "stats_temp_directory").as_deref(),
            Some("pg_stat_tmp")
        );
        assert_eq!(config_value(conf, "port").as_deref(), Some("5433"));
        assert_eq!(config_value(conf, "unix_socket_directories"), None);
    }
}
