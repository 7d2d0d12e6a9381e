//! Does the WAL archive hold a segment file? ([`super::PgDataDir`]'s
//! `archive_holds`; issue 10, row W2.) The operator's `restore_command`
//! is run as PostgreSQL runs it during archive recovery (PostgreSQL
//! documentation, "Archive Recovery", `restore_command`): through
//! `sh -c`, as `pgdba`, in `pgdata`, `%f` replaced by the file name, `%p`
//! by the path to copy it to, `%r` by the oldest file to keep (here the
//! file itself: nothing older is needed), `%%` by `%`. `%p` is a file in
//! a fresh directory the agent creates (mode 0700, owned by `pgdba`) and
//! removes afterwards. Held: exit 0 and a regular file of the WAL segment
//! size at `%p`.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pgsql_ra_core::ports::ArchiveAnswer;

use crate::command::{self, Invocation};
use crate::users;

use super::runner::{last_lines, LIBPQ_VARS, QUOTED_LINES};
use super::DataDirConfig;

/// `restore_command` with its placeholders replaced (`%f` `file`, `%p`
/// `path`, `%r` `file`, `%%` `%`; any other `%x` kept as written, as
/// PostgreSQL before 16 does).
pub fn expand(restore_command: &str, file: &str, path: &str) -> String {
    let mut out = String::with_capacity(restore_command.len() + 64);
    let mut chars = restore_command.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some('f') | Some('r') => {
                chars.next();
                out.push_str(file);
            }
            Some('p') => {
                chars.next();
                out.push_str(path);
            }
            Some('%') => {
                chars.next();
                out.push('%');
            }
            _ => out.push('%'),
        }
    }
    out
}

/// A fresh directory for `%p` under the system's temporary directory,
/// mode 0700, owned by `pgdba`.
fn scratch_dir(pgdba: &users::Account) -> Result<PathBuf, String> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("pgsql-ra-restore-{}-{nanos}", std::process::id()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| format!("can't create {}: {e}", dir.display()))?;
    if let Err(e) = std::os::unix::fs::chown(&dir, Some(pgdba.uid), Some(pgdba.gid)) {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(format!(
            "can't give {} to {}: {e}",
            dir.display(),
            pgdba.name
        ));
    }
    Ok(dir)
}

/// What a finished run left at `path`: held when it exited 0 and `path` is
/// a regular file of `segment_size` bytes.
fn judge(
    success: bool,
    status: &str,
    output: &str,
    path: &Path,
    segment_size: u64,
) -> ArchiveAnswer {
    let size = std::fs::symlink_metadata(path)
        .ok()
        .filter(|m| m.file_type().is_file())
        .map(|m| m.len());
    match (success, size) {
        (true, Some(s)) if s == segment_size => ArchiveAnswer {
            holds: true,
            detail: format!("restore_command {status}, {s} bytes"),
        },
        (true, Some(s)) => ArchiveAnswer {
            holds: false,
            detail: format!(
                "restore_command {status} but left {s} bytes, not the WAL segment size {segment_size}: {output}"
            ),
        },
        (true, None) => ArchiveAnswer {
            holds: false,
            detail: format!("restore_command {status} but left no file at %p: {output}"),
        },
        (false, _) => ArchiveAnswer {
            holds: false,
            detail: format!("restore_command {status}: {output}"),
        },
    }
}

/// Runs `restore_command` for `file` (see the module documentation).
///
/// # Errors
/// `restore_command` is empty, `file` is not a segment file name, `pgdba`
/// does not exist, the scratch directory can't be made, the shell can't be
/// started, or the command did not end within `timeout`.
pub fn holds(
    config: &DataDirConfig,
    file: &str,
    segment_size: u64,
    timeout: Duration,
) -> Result<ArchiveAnswer, String> {
    if config.restore_command.trim().is_empty() {
        return Err("restore_command is not set".into());
    }
    if file.len() != 24 || !file.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("'{file}' is not a WAL segment file name"));
    }
    let pgdba = users::by_name(&config.pgdba)
        .ok_or_else(|| format!("user {} does not exist", config.pgdba))?;
    let dir = scratch_dir(&pgdba)?;
    let path = dir.join("RECOVERYXLOG");
    let command_line = expand(
        &config.restore_command,
        file,
        &crate::bytes_path::decode(path.as_os_str()),
    );
    let inv = Invocation {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), command_line],
        env_remove: LIBPQ_VARS.iter().map(|v| v.to_string()).collect(),
        env_set: vec![("HOME".into(), pgdba.home.clone())],
        cwd: Some(config.pgdata.clone()),
        run_as: Some(pgdba),
        timeout,
    };
    let ran = command::run(&inv).map_err(|e| e.to_string());
    let answer = ran.and_then(|done| {
        if done.timed_out {
            return Err(format!(
                "restore_command {}: {}",
                done.status_text(),
                last_lines(&done, QUOTED_LINES)
            ));
        }
        Ok(judge(
            done.success(),
            &done.status_text(),
            &last_lines(&done, QUOTED_LINES),
            &path,
            segment_size,
        ))
    });
    let _ = std::fs::remove_dir_all(&dir);
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_expand_as_postgresql_s() {
        assert_eq!(
            expand("cp /a/%f %p", "000000030000000000000003", "/t/RECOVERYXLOG"),
            "cp /a/000000030000000000000003 /t/RECOVERYXLOG"
        );
        assert_eq!(expand("x %r 100%% %q %", "F", "P"), "x F 100% %q %");
        assert_eq!(expand("%%f", "F", "P"), "%f");
    }

    #[test]
    fn only_a_whole_segment_is_held() {
        let dir =
            std::env::temp_dir().join(format!("pgsql-ra-archive-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("RECOVERYXLOG");
        std::fs::write(&path, vec![0u8; 4096]).expect("write");
        assert!(judge(true, "exited 0", "(no output)", &path, 4096).holds);
        let short = judge(true, "exited 0", "(no output)", &path, 8192);
        assert!(!short.holds);
        assert!(
            short.detail.contains("not the WAL segment size 8192"),
            "{}",
            short.detail
        );
        assert!(!judge(false, "exited 1", "cp: cannot stat", &path, 4096).holds);
        std::fs::remove_file(&path).expect("rm");
        let none = judge(true, "exited 0", "(no output)", &path, 4096);
        assert!(
            !none.holds && none.detail.contains("left no file"),
            "{}",
            none.detail
        );
        std::fs::remove_dir_all(&dir).expect("rmdir");
    }
}
