//! The [`System`] port: users through the C library, programs by absolute
//! path (must be an executable file) or, for bare names, on `PATH`. Names
//! are the core's strings, looked up as exactly the bytes they stand for
//! ([`crate::bytes_path`]).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use pgsql_ra_core::ports::{System, UpstreamAnswer, UserInfo};

use crate::bytes_path;
use crate::users;

/// The local machine.
#[derive(Debug, Default, Clone)]
pub struct RealSystem;

/// True when `path` is a regular file with an execute bit.
pub fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

impl System for RealSystem {
    fn find_program(&mut self, program: &str) -> Option<String> {
        if program.is_empty() {
            return None;
        }
        if program.contains('/') {
            return is_executable(&bytes_path::path(program)).then(|| program.to_string());
        }
        which::which(bytes_path::encode(program))
            .ok()
            .map(|p| bytes_path::decode(p.as_os_str()))
    }

    fn user(&mut self, name: &str) -> Option<UserInfo> {
        users::by_name(name).map(|a| UserInfo {
            name: a.name,
            uid: a.uid,
            gid: a.gid,
        })
    }

    fn current_user(&mut self) -> String {
        let uid = users::effective_uid();
        users::by_uid(uid)
            .map(|a| a.name)
            .unwrap_or_else(|| uid.to_string())
    }

    fn connection_answer(&mut self, pid: u32) -> UpstreamAnswer {
        crate::upstream_socket::connection_answer(pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_programs_by_path_and_name() {
        let mut s = RealSystem;
        assert_eq!(s.find_program("/bin/sh").as_deref(), Some("/bin/sh"));
        assert!(s.find_program("sh").is_some());
        assert_eq!(s.find_program("/nonexistent/pg_ctl"), None);
        assert_eq!(s.find_program("/etc/passwd"), None);
        assert_eq!(s.find_program(""), None);
        assert_eq!(s.user("root").map(|u| u.uid), Some(0));
    }
}
