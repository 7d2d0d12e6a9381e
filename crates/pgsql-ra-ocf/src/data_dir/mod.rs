//! The real [`DataDir`] port (issue 10): facts about the local data
//! directory and the current primary, and the two repairs (`pg_rewind`, a
//! re-clone with `pg_basebackup`).
//!
//! Every program is PostgreSQL's, taken from the directory of the configured
//! `pgctl` (a bare `pgctl` name means `PATH`), and runs through
//! [`crate::command`]: as `pgdba` (uid, gid, groups), with `LC_ALL=C` (the
//! parsers read untranslated text), `HOME` set to `pgdba`'s home (libpq
//! finds `.pgpass` there), `pglibs` on `LD_LIBRARY_PATH`, the libpq
//! connection variables (`PGHOST`, `PGUSER`…) and every secret removed,
//! stdin closed, killed with its process group at its deadline. An error
//! quotes the last lines the program printed (PostgreSQL's tools never
//! print a password).
//!
//! Modules: [`runner`] runs the programs; [`control_file`] parses
//! `pg_controldata`, [`wal_dump`]
//! `pg_waldump`; [`primary`] asks the primary over SQL; [`role_check`]
//! reads the rewind role's rights there; [`rewind`] builds
//! `pg_rewind`'s command line and reads its output; [`reclone`] moves the
//! directories of a re-clone; [`archive`] runs `restore_command` for one
//! segment file.
//!
//! The repairs refuse to run while a live postmaster serves `pgdata`.

pub mod archive;
pub mod control_file;
pub mod primary;
pub mod reclone;
pub mod rewind;
pub mod role_check;
pub mod runner;
pub mod wal_dump;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use pgsql_ra_core::ports::{
    ArchiveAnswer, CloneOutcome, ControlData, DataDir, PrimaryFacts, RewindOutcome,
    RewindRoleError, RewindRoleFacts,
};
use pgsql_ra_core::{Lsn, Params};

use runner::{last_lines, major_of_version_line, Ran, QUOTED_LINES};
use wal_dump::Stop;

use crate::budget::Budget;
use crate::bytes_path;
use crate::db::{DbTarget, PgDatabase};
use crate::log::SharedLog;
use crate::users::Account;

/// How far before a page- or file-level stop `wal_end` starts reading again
/// to find the last valid record (bytes of WAL; at most ~1 MiB of records
/// printed).
const WAL_END_WINDOW: u64 = 1024 * 1024;

/// The first PostgreSQL major whose `pg_waldump` has `--quiet`
/// (PostgreSQL 14 documentation, pg_waldump).
const WALDUMP_QUIET_SINCE: u32 = 14;

/// What the port needs from the parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDirConfig {
    /// Directory of the configured `pgctl` (`None`: a bare name, use `PATH`).
    pub bin_dir: Option<String>,
    /// `pgdata`.
    pub pgdata: String,
    /// `config` (the server's configuration file).
    pub config: String,
    /// `pgdba`: the OS user every program runs as.
    pub pgdba: String,
    /// `pglibs`, appended to `LD_LIBRARY_PATH`.
    pub pglibs: String,
    /// `master_ip`: where the current primary is reached.
    pub master_ip: String,
    /// `pgport` (the primary listens on the same port, as in
    /// `primary_conninfo`).
    pub pgport: u16,
    /// The role `pg_rewind` and [`DataDir::primary_facts`] connect as
    /// (`rewind_user`, empty → `pgdba`).
    pub rewind_user: String,
    /// `repuser`: the replication role `pg_basebackup` connects as.
    pub repuser: String,
    /// `restore_command` (set: `pg_rewind --restore-target-wal`).
    pub restore_command: String,
}

impl DataDirConfig {
    /// The configuration the parameters describe.
    pub fn from_params(p: &Params) -> DataDirConfig {
        let bin_dir = p
            .pgctl
            .rsplit_once('/')
            .map(|(dir, _)| if dir.is_empty() { "/" } else { dir }.to_string());
        DataDirConfig {
            bin_dir,
            pgdata: p.pgdata.clone(),
            config: p.config.clone(),
            pgdba: p.pgdba.clone(),
            pglibs: p.pglibs.clone(),
            master_ip: p.master_ip.clone(),
            pgport: p.pgport,
            rewind_user: if p.rewind_user.is_empty() {
                p.pgdba.clone()
            } else {
                p.rewind_user.clone()
            },
            repuser: p.repuser.clone(),
            restore_command: p.restore_command.clone(),
        }
    }

    /// The path of PostgreSQL program `name` beside `pgctl`.
    pub fn program(&self, name: &str) -> String {
        match &self.bin_dir {
            Some(dir) => format!("{}/{name}", dir.trim_end_matches('/')),
            None => name.to_string(),
        }
    }
}

/// The real rejoin port of one invocation.
#[derive(Debug, Clone)]
pub struct PgDataDir {
    config: DataDirConfig,
    /// Deadline of the quick programs (`pg_controldata`, `pg_waldump`, `df`).
    timeout: Duration,
    /// `pgdba`'s password file, for [`DataDir::primary_facts`]'s session.
    passwords: Option<PasswordFile>,
}

/// Where the SQL session to the primary finds its password ([`crate::pgpass`]).
#[derive(Debug, Clone)]
struct PasswordFile {
    path: PathBuf,
    pgdba: Option<Account>,
    log: SharedLog,
}

impl PgDataDir {
    /// A port for the parameters; quick programs are killed after `timeout`
    /// (the repairs take theirs from the caller).
    pub fn new(p: &Params, timeout: Duration) -> PgDataDir {
        PgDataDir {
            config: DataDirConfig::from_params(p),
            timeout,
            passwords: None,
        }
    }

    /// The same port, looking up the rewind role's password for the SQL
    /// session to the primary in `path` (read as `pgdba`, libpq's rules;
    /// `None`: no file). `pg_rewind` itself is libpq: it reads `pgdba`'s
    /// `.pgpass` (or `PGPASSFILE`) on its own.
    pub fn with_password_file(
        mut self,
        path: Option<PathBuf>,
        pgdba: Option<Account>,
        log: SharedLog,
    ) -> PgDataDir {
        self.passwords = path.map(|path| PasswordFile { path, pgdba, log });
        self
    }

    /// The configuration in use.
    pub fn config(&self) -> &DataDirConfig {
        &self.config
    }

    /// Runs PostgreSQL's program `name` as `pgdba` with `args` (see the
    /// module documentation for the environment), killed after `timeout`.
    ///
    /// # Errors
    /// `pgdba` does not exist, or the program could not be started.
    fn run(&self, name: &str, args: Vec<String>, timeout: Duration) -> Result<Ran, String> {
        self.run_path(self.config.program(name), args, timeout)
    }

    /// [`Self::run`] for a program given by path or `PATH` name.
    fn run_path(
        &self,
        program: String,
        args: Vec<String>,
        timeout: Duration,
    ) -> Result<Ran, String> {
        runner::run(&self.config, program, args, timeout)
    }

    /// Runs a quick program and returns its standard output.
    ///
    /// # Errors
    /// It could not start, failed or overran its deadline ([`Ran::failure`]).
    fn output_of(&self, name: &str, args: Vec<String>) -> Result<String, String> {
        self.output_of_path(self.config.program(name), args)
    }

    /// [`Self::output_of`] for a program given by path or `PATH` name.
    fn output_of_path(&self, program: String, args: Vec<String>) -> Result<String, String> {
        let ran = self.run_path(program, args, self.timeout)?;
        if ran.done.success() {
            Ok(ran.done.stdout)
        } else {
            Err(ran.failure())
        }
    }

    /// The major version of PostgreSQL's program `name` (`--version`);
    /// `None` when it can't be told.
    fn major(&self, name: &str) -> Option<u32> {
        let out = self.output_of(name, vec!["--version".into()]).ok()?;
        major_of_version_line(&out)
    }

    /// Refuses a repair while a live postmaster serves `pgdata`.
    fn require_stopped(&self, what: &str) -> Result<(), String> {
        let pgdata = bytes_path::path(&self.config.pgdata);
        match crate::pg_ctl::live_postmaster_at(&pgdata, std::path::Path::new("/proc")) {
            Ok(None) => Ok(()),
            Ok(Some(pid)) => Err(format!(
                "{what} refused: the postmaster {pid} is running in {}",
                self.config.pgdata
            )),
            Err(e) => Err(format!("{what} refused: {e}")),
        }
    }

    /// `pg_controldata -D pgdata`'s output.
    fn controldata_text(&self) -> Result<String, String> {
        self.output_of(
            "pg_controldata",
            vec!["-D".into(), self.config.pgdata.clone()],
        )
    }

    /// Runs `pg_waldump` over `pgdata/pg_wal` on `timeline` from `start`;
    /// it always ends in an error (the end of valid WAL), so only a
    /// deadline or a failure to start is an error here.
    fn waldump(&self, timeline: u32, start: Lsn, quiet: bool) -> Result<Ran, String> {
        let mut args = vec![
            "--path".to_string(),
            format!("{}/pg_wal", self.config.pgdata),
            "--timeline".to_string(),
            timeline.to_string(),
            "--start".to_string(),
            start.to_pg(),
        ];
        if quiet {
            args.push("--quiet".into());
        }
        let ran = self.run("pg_waldump", args, self.timeout)?;
        if ran.done.timed_out || ran.done.code.is_none() {
            return Err(ran.failure());
        }
        Ok(ran)
    }
}

/// The number under `df --output=avail`'s header.
///
/// # Errors
/// The output has no number on its last line.
pub fn parse_df_avail(out: &str) -> Result<u64, String> {
    let last = out
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("");
    last.parse::<u64>().map_err(|_| {
        format!(
            "df printed no free space: {}",
            pgsql_ra_core::quote::quoted(out.trim())
        )
    })
}

impl PgDataDir {
    /// A SQL session to `<master_ip>:<pgport>`, database `postgres`, as
    /// `rewind_user` (empty: `pgdba`), connect and statements within
    /// `timeout`.
    fn primary_session(&self, timeout: Duration) -> Result<PgDatabase, String> {
        if self.config.master_ip.is_empty() {
            return Err("master_ip is not set: there is no primary to ask".into());
        }
        let target = DbTarget {
            host: self.config.master_ip.clone(),
            port: self.config.pgport,
            dbname: "postgres".into(),
            monitor_user: self.config.rewind_user.clone(),
            monitor_password: String::new(),
            pgdba: self.config.pgdba.clone(),
        };
        let budget = Budget {
            connect: timeout,
            statement: timeout,
            command: self.timeout,
            database_total: Some(timeout),
        };
        let mut db = PgDatabase::new(target, budget);
        if let Some(pf) = &self.passwords {
            db = db.with_password_file(Some(pf.path.clone()), pf.pgdba.clone(), pf.log.clone());
        }
        Ok(db)
    }
}

impl DataDir for PgDataDir {
    fn control_data(&mut self) -> Result<ControlData, String> {
        control_file::parse(&self.controldata_text()?)
    }

    /// `pg_waldump --path <pgdata>/pg_wal --timeline T --start <from>
    /// [--quiet]` (quiet from 14); where it stopped ([`wal_dump`]). A stop
    /// in a page or a file is refined by reading again from up to 1 MiB
    /// before it and computing the end of the last record printed.
    fn wal_end(&mut self, timeline: u32, from: Lsn) -> Result<Lsn, String> {
        let geometry = control_file::wal_geometry(&self.controldata_text()?)?;
        let version = self.output_of("pg_waldump", vec!["--version".into()])?;
        let quiet = major_of_version_line(&version).is_some_and(|m| m >= WALDUMP_QUIET_SINCE);
        let first = self.waldump(timeline, from, quiet)?;
        let stop = wal_dump::parse_stop(&first.done.stderr, geometry).ok_or_else(|| {
            format!(
                "{} did not say where the WAL ends ({}): {}",
                first.inv.display(),
                first.done.status_text(),
                last_lines(&first.done, QUOTED_LINES)
            )
        })?;
        let near = match stop {
            Stop::Exact(end) => return Ok(end),
            Stop::Near(near) => near,
        };
        let mut records = (!quiet).then(|| first.done.stdout.clone());
        if records.as_deref().and_then(wal_dump::last_record).is_none() {
            let window = Lsn(near.0.saturating_sub(WAL_END_WINDOW)).max(from);
            records = Some(self.waldump(timeline, window, false)?.done.stdout);
            if records.as_deref().and_then(wal_dump::last_record).is_none() && window > from {
                records = Some(self.waldump(timeline, from, false)?.done.stdout);
            }
        }
        let last = records
            .as_deref()
            .and_then(wal_dump::last_record)
            .ok_or_else(|| {
                format!(
                    "pg_waldump found no valid record on timeline {timeline} from {} (it stopped near {})",
                    from.to_pg(),
                    near.to_pg()
                )
            })?;
        wal_dump::record_end(last, geometry)
            .ok_or_else(|| format!("the end of the record at {} overflows", last.start.to_pg()))
    }

    /// A session to `master_ip:pgport`, database `postgres`, as the rewind
    /// role; connect, each statement and the whole call bounded by `timeout`.
    fn primary_facts(&mut self, timeout: Duration) -> Result<PrimaryFacts, String> {
        let mut db = self.primary_session(timeout)?;
        primary::ask(&mut db)
    }

    /// One query over the rewind role's normal session ([`role_check`]).
    fn rewind_role_facts(&mut self, timeout: Duration) -> Result<RewindRoleFacts, RewindRoleError> {
        let mut db = self
            .primary_session(timeout)
            .map_err(RewindRoleError::Unreachable)?;
        role_check::ask(&mut db)
    }

    /// `df -B1 --output=avail -- <parent of pgdata>` as `pgdba` (a program
    /// with a deadline rather than `statvfs` in the agent: a hung network
    /// filesystem then costs the deadline, not the whole operation).
    fn free_bytes_beside_pgdata(&mut self) -> Result<u64, String> {
        let parent = reclone::parent_of(&self.config.pgdata);
        let out = self.output_of_path(
            "df".into(),
            vec![
                "-B1".into(),
                "--output=avail".into(),
                "--".into(),
                bytes_path::decode(parent.as_os_str()),
            ],
        )?;
        parse_df_avail(&out)
    }

    /// `pg_rewind` (see [`rewind`] for the command line), bounded by
    /// `timeout`; its connection to the primary by a quarter of it (2–30 s).
    /// [`archive::holds`]: `restore_command` for `file`, as PostgreSQL runs it.
    fn archive_holds(
        &mut self,
        file: &str,
        segment_size: u64,
        timeout: Duration,
    ) -> Result<ArchiveAnswer, String> {
        archive::holds(&self.config, file, segment_size, timeout)
    }

    fn rewind(&mut self, timeout: Duration) -> Result<RewindOutcome, String> {
        self.require_stopped("pg_rewind")?;
        if self.config.master_ip.is_empty() {
            return Err("master_ip is not set: there is no primary to rewind from".into());
        }
        let started = Instant::now();
        // The primary's control file must name its timeline first (see
        // [`primary::checkpoint_if_promoted`]): a quarter of the budget.
        let mut db = self.primary_session(timeout / 4)?;
        primary::checkpoint_if_promoted(&mut db)?;
        drop(db);
        let timeout = timeout.saturating_sub(started.elapsed());
        let major = self.major("pg_rewind");
        let connect = (timeout.as_secs() / 4).clamp(2, 30);
        let args = rewind::args(&self.config, major, connect);
        let ran = self.run("pg_rewind", args, timeout)?;
        if ran.done.success() {
            let all = format!("{}\n{}", ran.done.stdout, ran.done.stderr);
            return Ok(rewind::outcome(&all));
        }
        Err(format!(
            "{}; {} is left as pg_rewind left it (after a failure during the copy it can't be started: rewind again or re-clone)",
            ran.failure(),
            self.config.pgdata
        ))
    }

    /// `pg_basebackup -D <pgdata>.clone-<ts> -h master_ip -p pgport -U
    /// repuser -X stream -c fast -w` as `pgdba`, bounded by `timeout`, then
    /// the moves of [`reclone`].
    fn reclone(&mut self, timeout: Duration) -> Result<CloneOutcome, String> {
        self.require_stopped("re-clone")?;
        if self.config.master_ip.is_empty() {
            return Err("master_ip is not set: there is no primary to clone".into());
        }
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let pgdata = self.config.pgdata.clone();
        let clone = reclone::sibling(&pgdata, "clone", stamp, reclone::path_exists);
        let args = vec![
            "-D".to_string(),
            clone.clone(),
            "-h".into(),
            self.config.master_ip.clone(),
            "-p".into(),
            self.config.pgport.to_string(),
            "-U".into(),
            self.config.repuser.clone(),
            "-X".into(),
            "stream".into(),
            "-c".into(),
            "fast".into(),
            "-w".into(),
        ];
        let ran = self.run("pg_basebackup", args, timeout);
        let failed = match ran {
            Ok(ran) if ran.done.success() => None,
            Ok(ran) => Some(ran.failure()),
            Err(e) => Some(e),
        };
        if let Some(failed) = failed {
            let cleanup = match reclone::remove_partial(&clone) {
                Ok(()) => "the partial clone was removed".to_string(),
                Err(e) => e,
            };
            return Err(format!("{failed}; {pgdata} is untouched, {cleanup}"));
        }
        let aside = reclone::sibling(&pgdata, "aside", stamp, reclone::path_exists);
        reclone::swap_in(&pgdata, &clone, &aside)?;
        Ok(CloneOutcome { moved_aside: aside })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn params(pairs: &[(&str, &str)]) -> Params {
        let m: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Params::parse(&m).0
    }

    #[test]
    fn programs_come_from_pgctl_s_directory() {
        let c = DataDirConfig::from_params(&params(&[
            ("pgctl", "/usr/lib/postgresql/15/bin/pg_ctl"),
            ("pgdata", "/d"),
        ]));
        assert_eq!(
            c.program("pg_controldata"),
            "/usr/lib/postgresql/15/bin/pg_controldata"
        );
        let bare = DataDirConfig::from_params(&params(&[("pgctl", "pg_ctl"), ("pgdata", "/d")]));
        assert_eq!(bare.program("pg_rewind"), "pg_rewind");
        let root = DataDirConfig::from_params(&params(&[("pgctl", "/pg_ctl"), ("pgdata", "/d")]));
        assert_eq!(root.program("pg_waldump"), "/pg_waldump");
    }

    #[test]
    fn rewind_user_defaults_to_pgdba() {
        let c = DataDirConfig::from_params(&params(&[("pgdata", "/d"), ("pgdba", "pg")]));
        assert_eq!(c.rewind_user, "pg");
        let c = DataDirConfig::from_params(&params(&[
            ("pgdata", "/d"),
            ("pgdba", "pg"),
            ("rewind_user", "rewinder"),
        ]));
        assert_eq!(c.rewind_user, "rewinder");
    }

    #[test]
    fn df_output() {
        assert_eq!(parse_df_avail("    Avail\n123456789\n"), Ok(123_456_789));
        assert!(parse_df_avail("Avail\n").is_err());
        assert!(parse_df_avail("").is_err());
    }

    #[test]
    fn a_missing_program_is_an_error_not_a_panic() {
        let mut d = PgDataDir::new(
            &params(&[
                ("pgctl", "/nonexistent/bin/pg_ctl"),
                ("pgdata", "/nonexistent/data"),
                ("pgdba", "root"),
            ]),
            Duration::from_secs(2),
        );
        let e = d.control_data().unwrap_err();
        assert!(e.contains("/nonexistent/bin/pg_controldata"), "{e}");
    }
}
