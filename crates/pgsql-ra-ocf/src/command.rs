//! Runs one external program with a deadline: no shell, optional switch to
//! another user (uid, gid and supplementary groups) in the child, output
//! captured, and the whole process group killed when the deadline passes.
//!
//! Every child inherits the agent's environment **minus its secrets**
//! ([`is_secret`]): archive/restore commands may need `TZ` or their own
//! credentials and Pacemaker's tools need `CIB_*`, `PCMK_*`, `HA_*`, so the
//! environment passes through, but the monitor password (nor any other
//! password, nor `primary_conninfo_opt`) never reaches
//! `pg_ctl`, the postmaster it starts (and every archive/restore command of
//! the server's life) or a Pacemaker tool.
//!
//! Program, arguments, environment values and working directory of an
//! [`Invocation`] are the core's strings, decoded losslessly from bytes
//! ([`crate::bytes_path`]); they reach the child as exactly the bytes they
//! stand for, and the child's output is decoded the same way.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::bytes_path::{decode_bytes, encode};
use crate::users::{groups_of, Account};

/// One program invocation.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// Program path or name (looked up on `PATH` by `execvp`, no `which`).
    pub program: String,
    /// Arguments, passed as-is (no shell splitting).
    pub args: Vec<String>,
    /// Environment variables removed from the child.
    pub env_remove: Vec<String>,
    /// Environment variables set in the child.
    pub env_set: Vec<(String, String)>,
    /// Working directory of the child.
    pub cwd: Option<String>,
    /// Run as this account instead of the caller.
    pub run_as: Option<Account>,
    /// Kill the program when it runs longer.
    pub timeout: Duration,
}

impl Invocation {
    /// A program with arguments and a deadline, nothing else changed.
    pub fn new(program: &str, args: &[&str], timeout: Duration) -> Invocation {
        Invocation {
            program: program.to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
            env_remove: Vec::new(),
            env_set: Vec::new(),
            cwd: None,
            run_as: None,
            timeout,
        }
    }

    /// The command line, for messages.
    pub fn display(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What a finished (or killed) program left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// The exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// True when the deadline killed it.
    pub timed_out: bool,
}

impl Finished {
    /// True for exit code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }

    /// How it ended, for messages: `exit code N`, `killed by a signal`, or
    /// `killed at its deadline` (never Rust debug text).
    pub fn status_text(&self) -> String {
        match (self.timed_out, self.code) {
            (true, _) => "killed at its deadline".to_string(),
            (false, Some(c)) => format!("exit code {c}"),
            (false, None) => "killed by a signal".to_string(),
        }
    }

    /// stdout and stderr joined on one line, for messages.
    pub fn output_line(&self) -> String {
        let both = format!("{} {}", self.stdout.trim(), self.stderr.trim());
        both.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// A program that could not be started at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot run {program}: {}", crate::os_error::message(.source))]
pub struct SpawnError {
    /// The program.
    pub program: String,
    /// Why.
    pub source: std::io::Error,
}

/// True for an environment variable that carries a secret: `PGPASSWORD`,
/// any `OCF_RESKEY_*password*` (any case), the variable of every parameter
/// the meta-data marks private, and `OCF_RESKEY_primary_conninfo_opt` (a
/// conninfo fragment that may hold a password); see
/// [`pgsql_ra_core::metadata::is_secret_parameter`].
pub fn is_secret(name: &OsStr) -> bool {
    let name = name.to_string_lossy();
    if name == "PGPASSWORD" {
        return true;
    }
    name.strip_prefix("OCF_RESKEY_")
        .is_some_and(pgsql_ra_core::metadata::is_secret_parameter)
}

/// The names of this process's environment variables that carry secrets.
pub fn secret_vars() -> Vec<OsString> {
    std::env::vars_os()
        .map(|(k, _)| k)
        .filter(|k| is_secret(k))
        .collect()
}

fn drop_privileges(cmd: &mut Command, account: &Account) {
    let groups: Vec<libc::gid_t> = groups_of(account);
    let (uid, gid) = (account.uid, account.gid);
    // std's `uid()`/`gid()` run before `pre_exec` closures and drop all
    // supplementary groups, so the full switch happens here, in order:
    // groups, then gid, then uid (setgroups needs root).
    // SAFETY: only async-signal-safe syscalls on data prepared before fork.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setgroups(groups.len(), groups.as_ptr()) != 0
                || libc::setgid(gid) != 0
                || libc::setuid(uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

fn reader<R: Read + Send + 'static>(stream: Option<R>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(mut s) = stream {
            let _ = s.read_to_end(&mut text);
        }
        let _ = tx.send(decode_bytes(&text));
    });
    rx
}

fn kill_group(child: &Child) {
    // SAFETY: kill on the child's own process group (it called setpgid(0,0)).
    unsafe {
        libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL);
    }
}

/// Runs the program to completion or until its deadline.
pub fn run(inv: &Invocation) -> Result<Finished, SpawnError> {
    let mut cmd = Command::new(encode(&inv.program));
    cmd.args(inv.args.iter().map(|a| encode(a)));
    for k in &inv.env_remove {
        cmd.env_remove(encode(k));
    }
    for (k, v) in &inv.env_set {
        cmd.env(encode(k), encode(v));
    }
    if let Some(dir) = &inv.cwd {
        cmd.current_dir(encode(dir));
    }
    run_command(cmd, inv.run_as.as_ref(), inv.timeout).map_err(|source| SpawnError {
        program: inv.program.clone(),
        source,
    })
}

/// Runs a prepared command (program, arguments, environment changes, working
/// directory; raw bytes allowed) the same way as [`run`]: secrets removed,
/// stdin closed, output captured, own process group killed at the deadline,
/// optionally as `run_as`.
pub fn run_command(
    mut cmd: Command,
    run_as: Option<&Account>,
    timeout: Duration,
) -> std::io::Result<Finished> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    for k in secret_vars() {
        cmd.env_remove(k);
    }
    if let Some(acc) = run_as {
        if crate::users::effective_uid() == 0 && acc.uid != 0 {
            drop_privileges(&mut cmd, acc);
        }
    }
    let mut child = cmd.spawn()?;
    let out = reader(child.stdout.take());
    let err = reader(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                timed_out = true;
                kill_group(&child);
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => break None,
        }
    };
    // A grandchild may keep a pipe open; do not wait for it for long.
    let grace = Duration::from_millis(500);
    Ok(Finished {
        code: status.and_then(|s| s.code()),
        stdout: out.recv_timeout(grace).unwrap_or_default(),
        stderr: err.recv_timeout(grace).unwrap_or_default(),
        timed_out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn captures_output_and_exit_code() {
        let f = run(&Invocation::new(
            "sh",
            &["-c", "echo out; echo err >&2; exit 3"],
            Duration::from_secs(5),
        ))
        .expect("sh runs");
        assert_eq!(f.code, Some(3));
        assert_eq!(f.stdout.trim(), "out");
        assert_eq!(f.stderr.trim(), "err");
        assert!(!f.success());
        assert_eq!(f.output_line(), "out err");
    }

    #[test]
    fn kills_an_overrunning_program_and_its_children() {
        let start = Instant::now();
        let f = run(&Invocation::new(
            "sh",
            &["-c", "sleep 30 & sleep 30"],
            Duration::from_millis(300),
        ))
        .expect("sh runs");
        assert!(f.timed_out);
        assert_eq!(f.code, None);
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn missing_program_is_a_spawn_error() {
        let e = run(&Invocation::new(
            "/nonexistent/pg_ctl",
            &[],
            Duration::from_secs(1),
        ))
        .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/pg_ctl"));
    }

    #[test]
    fn secrets_are_recognised() {
        for k in [
            "PGPASSWORD",
            "OCF_RESKEY_monitor_password",
            "OCF_RESKEY_REPL_PASSWORD",
            "OCF_RESKEY_my_Password_2",
            "OCF_RESKEY_primary_conninfo_opt",
        ] {
            assert!(is_secret(OsStr::new(k)), "{k}");
        }
        for k in [
            "PATH",
            "PGPASSFILE",
            "OCF_RESKEY_monitor_user",
            "HA_password",
            "OCF_RESKEY_CRM_meta_timeout",
        ] {
            assert!(!is_secret(OsStr::new(k)), "{k}");
        }
    }

    #[test]
    fn environment_changes_apply_to_the_child() {
        let mut inv = Invocation::new(
            "sh",
            &["-c", "echo ${PGPASSWORD:-unset} $X"],
            Duration::from_secs(5),
        );
        inv.env_remove.push("PGPASSWORD".into());
        inv.env_set.push(("X".into(), "y".into()));
        let f = run(&inv).expect("sh runs");
        assert_eq!(f.stdout.trim(), "unset y");
    }

    /// Arguments, environment values and the working directory reach the
    /// child as exactly the bytes they stand for; its output comes back
    /// decoded the same way.
    #[test]
    fn bytes_that_are_not_utf8_reach_the_child_exactly() {
        use crate::bytes_path::{decode_bytes, encode_bytes};
        let dir = std::env::temp_dir().join(format!("pgsql-ra-cmd-{}", std::process::id()));
        let mut raw = dir.as_os_str().to_string_lossy().into_owned().into_bytes();
        raw.extend_from_slice(b"\xff");
        std::fs::create_dir_all(std::ffi::OsStr::from_bytes(&raw)).expect("mkdir");
        let mut inv = Invocation::new(
            "sh",
            &["-c", "printf '%s|%s|' \"$1\" \"$X\"; pwd", "sh"],
            Duration::from_secs(5),
        );
        inv.args.push(decode_bytes(b"a\xfe\xc3\x28"));
        inv.env_set.push(("X".into(), decode_bytes(b"v\xfd")));
        inv.cwd = Some(decode_bytes(&raw));
        let f = run(&inv).expect("sh runs");
        let mut want = b"a\xfe\xc3\x28|v\xfd|".to_vec();
        want.extend_from_slice(&raw);
        assert_eq!(encode_bytes(f.stdout.trim()), want);
        let _ = std::fs::remove_dir_all(std::ffi::OsStr::from_bytes(&raw));
    }
}
