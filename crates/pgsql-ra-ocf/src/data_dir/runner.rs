//! Runs PostgreSQL's (and a few system) programs for [`super::PgDataDir`]
//! as `pgdba`, bounded in time, in the environment the module
//! documentation of [`super`] describes; errors quote the last lines.

use std::time::Duration;

use crate::bytes_path;
use crate::command::{self, Finished, Invocation};
use crate::users;

use super::DataDirConfig;

/// libpq's connection variables, removed from every child so that only the
/// explicit arguments choose where and as whom a tool connects.
pub const LIBPQ_VARS: &[&str] = &[
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGOPTIONS",
    "PGTARGETSESSIONATTRS",
];

/// How many of a failed program's last output lines an error quotes.
pub const QUOTED_LINES: usize = 6;

/// The major version in a `--version` line (`pg_waldump (PostgreSQL)
/// 15.10 (Debian …)` → 15, `… 10beta1` → 10).
pub fn major_of_version_line(line: &str) -> Option<u32> {
    let word = line.split(')').nth(1)?.split_whitespace().next()?;
    let digits: String = word.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Runs `program` as `pgdba` with `args`, killed after `timeout`.
///
/// # Errors
/// `pgdba` does not exist, or the program could not be started.
pub fn run(
    config: &DataDirConfig,
    program: String,
    args: Vec<String>,
    timeout: Duration,
) -> Result<Ran, String> {
    let account = users::by_name(&config.pgdba)
        .ok_or_else(|| format!("user {} does not exist", config.pgdba))?;
    let library_path = match std::env::var_os("LD_LIBRARY_PATH") {
        Some(v) if !v.is_empty() => format!("{}:{}", bytes_path::decode(&v), config.pglibs),
        _ => config.pglibs.clone(),
    };
    let inv = Invocation {
        program,
        args,
        env_remove: LIBPQ_VARS.iter().map(|v| v.to_string()).collect(),
        env_set: vec![
            ("LC_ALL".into(), "C".into()),
            ("HOME".into(), account.home.clone()),
            ("LD_LIBRARY_PATH".into(), library_path),
        ],
        cwd: Some("/".into()),
        run_as: Some(account),
        timeout,
    };
    let done = command::run(&inv).map_err(|e| e.to_string())?;
    Ok(Ran { inv, done })
}

/// A program that ran, and how it ended.
pub struct Ran {
    /// What ran.
    pub inv: Invocation,
    /// How it ended.
    pub done: Finished,
}

impl Ran {
    /// `"<command line> failed (<how>): <last lines>"`, for errors.
    pub fn failure(&self) -> String {
        format!(
            "{} failed ({}): {}",
            self.inv.display(),
            self.done.status_text(),
            last_lines(&self.done, QUOTED_LINES)
        )
    }
}

/// The last `n` non-empty lines a program printed (stdout, then stderr),
/// joined with ` | `; `(no output)` when there were none.
pub fn last_lines(done: &Finished, n: usize) -> String {
    let lines: Vec<&str> = done
        .stdout
        .lines()
        .chain(done.stderr.lines())
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        return "(no output)".to_string();
    }
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_versions_of_version_lines() {
        for (line, major) in [
            (
                "pg_waldump (PostgreSQL) 15.10 (Debian 15.10-0+deb12u1)",
                Some(15),
            ),
            ("pg_waldump (PostgreSQL) 10beta1", Some(10)),
            ("pg_waldump (PostgreSQL) 18.1", Some(18)),
            ("garbage", None),
        ] {
            assert_eq!(major_of_version_line(line), major, "{line}");
        }
    }

    #[test]
    fn errors_quote_the_last_lines() {
        let done = Finished {
            code: Some(1),
            stdout: "a\n\nb\n".into(),
            stderr: "c\nd\n".into(),
            timed_out: false,
        };
        assert_eq!(last_lines(&done, 3), "b | c | d");
        assert_eq!(last_lines(&done, 10), "a | b | c | d");
        let silent = Finished {
            code: None,
            stdout: String::new(),
            stderr: " \n".into(),
            timed_out: true,
        };
        assert_eq!(last_lines(&silent, 3), "(no output)");
    }
}
