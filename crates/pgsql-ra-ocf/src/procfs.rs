//! Process facts from `/proc`, without forking `ps`: liveness of a PID, its
//! state, command name, parent, command line and working directory.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// What `/proc/<pid>/stat` says about a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat {
    /// The command name (`comm`, at most 15 bytes).
    pub comm: String,
    /// The state letter (`R`, `S`, `Z`, `T`…).
    pub state: char,
    /// The parent PID.
    pub ppid: u32,
}

/// Parses a `/proc/<pid>/stat` line (the command name may contain spaces
/// and parentheses, so it is delimited by the first `(` and the last `)`).
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let mut rest = text.get(close + 1..)?.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some(ProcStat { comm, state, ppid })
}

/// The stat of a process under `root` (normally `/proc`).
pub fn stat(root: &Path, pid: u32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(root.join(pid.to_string()).join("stat")).ok()?;
    parse_stat(&text)
}

/// The command line of a process, arguments joined by spaces.
pub fn cmdline(root: &Path, pid: u32) -> String {
    std::fs::read(root.join(pid.to_string()).join("cmdline"))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .replace('\0', " ")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

/// True when the working directory of process `pid` is the directory `dir`:
/// both paths canonicalized (symlinks, trailing `/`, `..`) are equal, or both
/// name the same directory (device and inode, e.g. through a bind mount).
/// False when either can't be read (a process of another user when not
/// root, a deleted working directory, a vanished process).
pub fn cwd_is(root: &Path, pid: u32, dir: &Path) -> bool {
    let link = root.join(pid.to_string()).join("cwd");
    let (Ok(cwd), Ok(canonical)) = (std::fs::canonicalize(&link), std::fs::canonicalize(dir))
    else {
        return false;
    };
    if cwd == canonical {
        return true;
    }
    match (std::fs::metadata(&link), std::fs::metadata(dir)) {
        (Ok(a), Ok(b)) => a.is_dir() && a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// True when `kill(pid, 0)` finds the process (EPERM also means it exists).
pub fn signalable(pid: u32) -> bool {
    let Ok(p) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if p <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence.
    let rc = unsafe { libc::kill(p, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Every PID listed under `root`.
pub fn pids(root: &Path) -> Vec<u32> {
    std::fs::read_dir(root)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
                .collect()
        })
        .unwrap_or_default()
}

/// True when a command line names a WAL receiver ("walreceiver" from 11,
/// "wal receiver process" before).
pub fn is_wal_receiver(cmdline: &str) -> bool {
    let lower = cmdline.to_ascii_lowercase();
    lower.contains("walreceiver") || lower.contains("wal receiver")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_command_names() {
        let s = parse_stat("42 (post (gres) x) S 7 42 42 0 -1").expect("parses");
        assert_eq!(s.comm, "post (gres) x");
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 7);
        assert!(parse_stat("garbage").is_none());
    }

    #[test]
    fn own_process_is_visible() {
        let me = std::process::id();
        assert!(signalable(me));
        let s = stat(Path::new("/proc"), me).expect("own stat");
        assert_ne!(s.state, 'Z');
        assert!(pids(Path::new("/proc")).contains(&me));
        assert!(!signalable(0));
    }

    #[test]
    fn working_directory_compared_canonically() {
        let root = Path::new("/proc");
        let me = std::process::id();
        let cwd = std::env::current_dir().expect("cwd");
        assert!(cwd_is(root, me, &cwd));
        let mut odd = cwd.join("..").into_os_string();
        odd.push("/");
        odd.push(cwd.file_name().unwrap_or_default());
        odd.push("/");
        assert!(cwd_is(root, me, Path::new(&odd)), "{odd:?}");
        assert!(!cwd_is(root, me, Path::new("/nonexistent")));
        assert!(!cwd_is(root, u32::MAX, &cwd));
    }

    #[test]
    fn wal_receiver_names_of_all_versions() {
        assert!(is_wal_receiver("postgres: walreceiver streaming 0/3000060"));
        assert!(is_wal_receiver(
            "postgres: wal receiver process   streaming 0/3000060"
        ));
        assert!(!is_wal_receiver("postgres: walwriter"));
    }
}
