//! The [`Server`] port: `pg_ctl` run as `pgdba` (uid, gid and groups set in
//! the child, no `su`/`runuser`), in `pgdata`, with `PGUSER` and every secret
//! ([`command::is_secret`]: `PGPASSWORD`, `OCF_RESKEY_*password*`, private
//! parameters) removed, so neither pg_ctl nor the postmaster it starts ever
//! holds the monitor password, and `pglibs` on `LD_LIBRARY_PATH`; every call
//! has a deadline.
//! Postmaster liveness and the WAL receiver come from `postmaster.pid` and
//! `/proc`. Paths (`pgdata`, `pgctl`, `config`, `logfile`) are the core's
//! strings and reach the OS and pg_ctl as exactly the bytes they stand for
//! ([`crate::bytes_path`]), so a data directory whose path is not UTF-8 is
//! started, promoted and stopped like any other.
//! The PID in `postmaster.pid` counts only when `/proc` shows a live
//! postgres process whose working directory is `pgdata`
//! ([`is_postmaster_of`]), so a stale file whose PID now belongs to another
//! server's postmaster is never taken for this one (nor handed to pg_ctl).
//! The rejoin facts and repairs of the [`DataDir`] supertrait (issue 10) are
//! delegated to [`PgDataDir`] (`crate::data_dir`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use pgsql_ra_core::ports::{
    ArchiveAnswer, CloneOutcome, ControlData, DataDir, PrimaryFacts, ProcessError, RewindOutcome,
    RewindRoleError, RewindRoleFacts, Server, StopMode,
};
use pgsql_ra_core::{Lsn, Params};

use crate::bytes_path;
use crate::command::{self, Invocation};
use crate::data_dir::PgDataDir;
use crate::procfs;
use crate::users;

/// Builds pg_ctl command lines from the parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgCtlCommands {
    /// `pgctl`.
    pub pgctl: String,
    /// `pgdata`.
    pub pgdata: String,
    /// `ctl_opt`, split on whitespace.
    pub ctl_opt: Vec<String>,
    /// `logfile`.
    pub logfile: String,
    /// `config`.
    pub config: String,
    /// `pghost`.
    pub pghost: String,
    /// `start_opt`.
    pub start_opt: String,
}

impl PgCtlCommands {
    /// The command lines the parameters describe.
    pub fn from_params(p: &Params) -> PgCtlCommands {
        PgCtlCommands {
            pgctl: p.pgctl.clone(),
            pgdata: p.pgdata.clone(),
            ctl_opt: p.ctl_opt.split_whitespace().map(String::from).collect(),
            logfile: p.logfile.clone(),
            config: p.config.clone(),
            pghost: p.pghost.clone(),
            start_opt: p.start_opt.clone(),
        }
    }

    /// `[ctl_opt] -D pgdata -l logfile -o '-c config_file=… [-h pghost] [start_opt]' -W start`.
    pub fn start(&self) -> Vec<String> {
        let mut server_opts = format!("-c config_file={}", self.config);
        if !self.pghost.is_empty() {
            server_opts.push_str(&format!(" -h {}", self.pghost));
        }
        if !self.start_opt.trim().is_empty() {
            server_opts.push(' ');
            server_opts.push_str(self.start_opt.trim());
        }
        let mut args = self.ctl_opt.clone();
        args.extend(
            [
                "-D",
                &self.pgdata,
                "-l",
                &self.logfile,
                "-o",
                &server_opts,
                "-W",
                "start",
            ]
            .map(String::from),
        );
        args
    }

    /// `-W -D pgdata stop -m fast|immediate`.
    pub fn stop(&self, mode: StopMode) -> Vec<String> {
        let m = match mode {
            StopMode::Fast => "fast",
            StopMode::Immediate => "immediate",
        };
        ["-W", "-D", &self.pgdata, "stop", "-m", m]
            .map(String::from)
            .to_vec()
    }

    /// `-D pgdata -W promote`.
    pub fn promote(&self) -> Vec<String> {
        ["-D", &self.pgdata, "-W", "promote"]
            .map(String::from)
            .to_vec()
    }

    /// `-D pgdata reload`.
    pub fn reload(&self) -> Vec<String> {
        ["-D", &self.pgdata, "reload"].map(String::from).to_vec()
    }
}

/// The real server port.
#[derive(Debug, Clone)]
pub struct PgCtl {
    commands: PgCtlCommands,
    pgdba: String,
    pglibs: String,
    timeout: Duration,
    proc_root: PathBuf,
    data_dir: PgDataDir,
}

impl PgCtl {
    /// A server port for the parameters; each pg_ctl call is killed after `timeout`.
    pub fn new(p: &Params, timeout: Duration) -> PgCtl {
        PgCtl {
            commands: PgCtlCommands::from_params(p),
            pgdba: p.pgdba.clone(),
            pglibs: p.pglibs.clone(),
            timeout,
            proc_root: PathBuf::from("/proc"),
            data_dir: PgDataDir::new(p, timeout),
        }
    }

    /// The same port with its rejoin facts and repairs served by `data_dir`.
    pub fn with_data_dir(mut self, data_dir: PgDataDir) -> PgCtl {
        self.data_dir = data_dir;
        self
    }

    fn pid_file(&self) -> PathBuf {
        bytes_path::path(&self.commands.pgdata).join("postmaster.pid")
    }

    /// True when `pgctl` is an executable (by path or on `PATH`) and the
    /// `pgdba` account exists.
    fn can_run_pg_ctl(&self) -> bool {
        let program = &self.commands.pgctl;
        let found = if program.contains('/') {
            crate::system::is_executable(&bytes_path::path(program))
        } else {
            which::which(bytes_path::encode(program)).is_ok()
        };
        found && users::by_name(&self.pgdba).is_some()
    }

    fn run(&self, args: Vec<String>) -> Result<(), ProcessError> {
        let account = users::by_name(&self.pgdba).ok_or_else(|| {
            ProcessError::new(None, format!("user {} does not exist", self.pgdba))
        })?;
        // Decoded losslessly too: an inherited LD_LIBRARY_PATH that is not
        // UTF-8 is kept, never dropped.
        let library_path = match std::env::var_os("LD_LIBRARY_PATH") {
            Some(v) if !v.is_empty() => format!("{}:{}", bytes_path::decode(&v), self.pglibs),
            _ => self.pglibs.clone(),
        };
        let inv = Invocation {
            program: self.commands.pgctl.clone(),
            args,
            // Secrets are removed from every child by command::run.
            env_remove: vec!["PGUSER".into()],
            env_set: vec![("LD_LIBRARY_PATH".into(), library_path)],
            cwd: Some(self.commands.pgdata.clone()),
            run_as: Some(account),
            timeout: self.timeout,
        };
        let done = command::run(&inv).map_err(|e| ProcessError::new(None, e.to_string()))?;
        if done.timed_out {
            return Err(ProcessError::new(
                None,
                format!(
                    "{} (killed after {} s: {})",
                    done.output_line(),
                    self.timeout.as_secs_f64(),
                    inv.display()
                ),
            ));
        }
        if done.success() {
            Ok(())
        } else {
            Err(ProcessError::new(
                done.code,
                // The program's own words first: an exit reason keeps 128
                // bytes (issue 12, attack finding 9); the full command
                // follows for the log.
                format!(
                    "{} ({}: {})",
                    done.output_line(),
                    done.status_text(),
                    inv.display()
                ),
            ))
        }
    }
}

/// True when `pid` is a live, non-zombie postgres process (under `proc_root`).
pub fn is_live_postmaster(proc_root: &Path, pid: u32) -> bool {
    if !procfs::signalable(pid) {
        return false;
    }
    match procfs::stat(proc_root, pid) {
        Some(s) => {
            s.state != 'Z' && (s.comm.starts_with("postgres") || s.comm.starts_with("postmaster"))
        }
        None => false,
    }
}

/// True when `pid` is the live postmaster of the data directory `pgdata`: a
/// live postgres process ([`is_live_postmaster`]) whose working directory is
/// `pgdata` (the postmaster chdirs into its data directory; compared with
/// [`procfs::cwd_is`]: canonical paths, or device and inode), and whose
/// parent is not a postgres process in that directory (that would be one of
/// its backends). A PID that a crashed postmaster left in `postmaster.pid`
/// and the kernel gave to another server's postmaster fails this test.
pub fn is_postmaster_of(proc_root: &Path, pid: u32, pgdata: &Path) -> bool {
    if !is_live_postmaster(proc_root, pid) || !procfs::cwd_is(proc_root, pid, pgdata) {
        return false;
    }
    match procfs::stat(proc_root, pid) {
        Some(s) => {
            s.ppid <= 1
                || !(is_live_postmaster(proc_root, s.ppid)
                    && procfs::cwd_is(proc_root, s.ppid, pgdata))
        }
        None => false,
    }
}

/// Sends the postmaster `pid` the signal `pg_ctl stop -m <mode>` sends
/// (fast: SIGINT, immediate: SIGQUIT). Only for a PID verified with
/// [`is_postmaster_of`].
pub fn signal_postmaster(pid: u32, mode: StopMode) -> std::io::Result<()> {
    let signal = match mode {
        StopMode::Fast => libc::SIGINT,
        StopMode::Immediate => libc::SIGQUIT,
    };
    let Ok(p) = libc::pid_t::try_from(pid) else {
        return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
    };
    // SAFETY: signalling the verified postmaster of this data directory.
    if unsafe { libc::kill(p, signal) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The live postmaster of the data directory `pgdata` (any bytes), from its
/// `postmaster.pid`: the PID on its first line when it passes
/// [`is_postmaster_of`], otherwise the file is stale (`None`). `Ok(None)`
/// also when the kernel refuses the path itself
/// (name too long, a component is not a directory, a loop): PostgreSQL can
/// not have created its pid file there, so nothing runs on that path.
pub fn live_postmaster_at(pgdata: &Path, proc_root: &Path) -> Result<Option<u32>, ProcessError> {
    let pid_file = pgdata.join("postmaster.pid");
    let text = match std::fs::read(&pid_file) {
        Ok(t) => String::from_utf8_lossy(&t).into_owned(),
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                || matches!(
                    e.raw_os_error(),
                    Some(libc::ENAMETOOLONG | libc::ENOTDIR | libc::ELOOP)
                ) =>
        {
            return Ok(None)
        }
        Err(e) => {
            return Err(ProcessError::new(
                None,
                format!("{}: {e}", bytes_path::decode(pid_file.as_os_str())),
            ))
        }
    };
    Ok(pid_from_pid_file(&text).filter(|pid| is_postmaster_of(proc_root, *pid, pgdata)))
}

/// The PID on the first line of a `postmaster.pid` text.
pub fn pid_from_pid_file(text: &str) -> Option<u32> {
    text.lines().next()?.trim().parse().ok().filter(|p| *p > 0)
}

/// Rejoin facts and repairs (issue 10): served by [`PgDataDir`].
impl DataDir for PgCtl {
    fn control_data(&mut self) -> Result<ControlData, String> {
        self.data_dir.control_data()
    }

    fn wal_end(&mut self, timeline: u32, from: Lsn) -> Result<Lsn, String> {
        self.data_dir.wal_end(timeline, from)
    }

    fn primary_facts(&mut self, timeout: Duration) -> Result<PrimaryFacts, String> {
        self.data_dir.primary_facts(timeout)
    }

    fn free_bytes_beside_pgdata(&mut self) -> Result<u64, String> {
        self.data_dir.free_bytes_beside_pgdata()
    }

    fn rewind_role_facts(&mut self, timeout: Duration) -> Result<RewindRoleFacts, RewindRoleError> {
        self.data_dir.rewind_role_facts(timeout)
    }

    fn archive_holds(
        &mut self,
        file: &str,
        segment_size: u64,
        timeout: Duration,
    ) -> Result<ArchiveAnswer, String> {
        self.data_dir.archive_holds(file, segment_size, timeout)
    }

    fn rewind(&mut self, timeout: Duration) -> Result<RewindOutcome, String> {
        self.data_dir.rewind(timeout)
    }

    fn reclone(&mut self, timeout: Duration) -> Result<CloneOutcome, String> {
        self.data_dir.reclone(timeout)
    }
}

impl Server for PgCtl {
    fn postmaster_pid(&mut self) -> Result<Option<u32>, ProcessError> {
        live_postmaster_at(&bytes_path::path(&self.commands.pgdata), &self.proc_root)
    }

    fn remove_stale_pid_file(&mut self) -> Result<(), ProcessError> {
        if self.postmaster_pid()?.is_some() {
            return Err(ProcessError::new(
                None,
                "postmaster.pid belongs to a running postmaster; not removed",
            ));
        }
        match std::fs::remove_file(self.pid_file()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ProcessError::new(
                None,
                format!("{}/postmaster.pid: {e}", self.commands.pgdata),
            )),
        }
    }

    fn start(&mut self) -> Result<(), ProcessError> {
        self.run(self.commands.start())
    }

    fn stop(&mut self, mode: StopMode) -> Result<(), ProcessError> {
        // pg_ctl signals whatever process postmaster.pid names: it only runs
        // while that is the verified postmaster of this data directory.
        if self.postmaster_pid()?.is_none() {
            return Ok(());
        }
        let failed = if self.can_run_pg_ctl() {
            match self.run(self.commands.stop(mode)) {
                Ok(()) => return Ok(()),
                Err(e) => e.to_string(),
            }
        } else {
            "pg_ctl can't run (the program or the pgdba user is missing)".to_string()
        };
        // pg_ctl failed or can't run (pgdba is root, whom pg_ctl refuses, or
        // can't read the pid file…), but a failed stop means fencing: signal
        // the verified postmaster as pg_ctl would; the caller waits for it.
        let Some(pid) = self.postmaster_pid()? else {
            return Ok(());
        };
        signal_postmaster(pid, mode).map_err(|e| {
            ProcessError::new(
                None,
                format!("{failed}; signalling the postmaster {pid} failed: {e}"),
            )
        })
    }

    fn promote(&mut self) -> Result<(), ProcessError> {
        self.run(self.commands.promote())
    }

    fn reload(&mut self) -> Result<(), ProcessError> {
        self.run(self.commands.reload())
    }

    fn wal_receiver_running(&mut self, postmaster_pid: u32) -> Result<bool, ProcessError> {
        Ok(procfs::pids(&self.proc_root).into_iter().any(|pid| {
            procfs::stat(&self.proc_root, pid)
                .is_some_and(|s| s.ppid == postmaster_pid && s.state != 'Z')
                && procfs::is_wal_receiver(&procfs::cmdline(&self.proc_root, pid))
        }))
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
    fn start_line_matches_the_stock_agent() {
        let p = params(&[
            ("pgdata", "/d"),
            ("pghost", "10.0.0.1"),
            ("start_opt", "-p 5433"),
            ("ctl_opt", "-t 30"),
            ("logfile", "/l"),
        ]);
        let c = PgCtlCommands::from_params(&p);
        assert_eq!(
            c.start(),
            vec![
                "-t",
                "30",
                "-D",
                "/d",
                "-l",
                "/l",
                "-o",
                "-c config_file=/d/postgresql.conf -h 10.0.0.1 -p 5433",
                "-W",
                "start"
            ]
        );
        assert_eq!(
            c.stop(StopMode::Immediate),
            vec!["-W", "-D", "/d", "stop", "-m", "immediate"]
        );
        assert_eq!(c.promote(), vec!["-D", "/d", "-W", "promote"]);
        assert_eq!(c.reload(), vec!["-D", "/d", "reload"]);
    }

    #[test]
    fn pid_file_first_line() {
        assert_eq!(pid_from_pid_file("1234\n/d\n"), Some(1234));
        assert_eq!(pid_from_pid_file("x\n"), None);
        assert_eq!(pid_from_pid_file(""), None);
        assert_eq!(pid_from_pid_file("0\n"), None);
    }

    #[test]
    fn a_reused_pid_of_another_program_is_not_a_postmaster() {
        let dir = std::env::temp_dir().join(format!("pgsql-ra-pidtest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        // Our own PID: alive, but the test binary is not postgres.
        std::fs::write(
            dir.join("postmaster.pid"),
            format!("{}\n", std::process::id()),
        )
        .expect("write");
        let mut s = PgCtl::new(
            &params(&[("pgdata", dir.to_str().unwrap_or("/nonexistent"))]),
            Duration::from_secs(1),
        );
        assert_eq!(s.postmaster_pid().expect("reads"), None);
        s.remove_stale_pid_file().expect("removes");
        assert!(!dir.join("postmaster.pid").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
