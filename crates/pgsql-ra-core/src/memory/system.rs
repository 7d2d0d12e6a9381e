//! [`MemSystem`]: the programs and users of a simulated machine.

use std::collections::{BTreeMap, BTreeSet};

use crate::ports::{System, UpstreamAnswer, UserInfo};

/// Users and programs of one simulated machine.
#[derive(Debug, Clone)]
pub struct MemSystem {
    programs: BTreeSet<String>,
    users: BTreeMap<String, UserInfo>,
    current_user: String,
    connection_answer: UpstreamAnswer,
}

impl MemSystem {
    /// A machine with only `root`, run by `root`, without programs.
    pub fn empty() -> MemSystem {
        let mut s = MemSystem {
            programs: BTreeSet::new(),
            users: BTreeMap::new(),
            current_user: "root".into(),
            connection_answer: UpstreamAnswer::Unknown,
        };
        s.add_user("root", 0, 0);
        s
    }

    /// A Debian-like machine: `root` and `postgres` (uid 105), and
    /// `/usr/bin/pg_ctl` and `/usr/bin/psql` installed (the parameters' defaults)
    /// plus PostgreSQL 15's binaries.
    pub fn standard() -> MemSystem {
        let mut s = MemSystem::empty();
        s.add_user("postgres", 105, 111);
        for p in [
            "/usr/bin/pg_ctl",
            "/usr/bin/psql",
            "/usr/lib/postgresql/15/bin/pg_ctl",
            "/usr/lib/postgresql/15/bin/psql",
        ] {
            s.add_program(p);
        }
        s
    }

    /// Installs a program at an absolute path (also found by its base name).
    pub fn add_program(&mut self, path: &str) {
        self.programs.insert(path.to_string());
    }

    /// Removes a program.
    pub fn remove_program(&mut self, path: &str) {
        self.programs.remove(path);
    }

    /// Adds an OS user.
    pub fn add_user(&mut self, name: &str, uid: u32, gid: u32) {
        self.users.insert(
            name.to_string(),
            UserInfo {
                name: name.to_string(),
                uid,
                gid,
            },
        );
    }

    /// Removes an OS user.
    pub fn remove_user(&mut self, name: &str) {
        self.users.remove(name);
    }

    /// Sets whether the TCP connections of any process of this machine
    /// got an answer (issue 16; the simulator asks only about the WAL
    /// receiver); [`UpstreamAnswer::Unknown`] until set.
    pub fn set_connection_answer(&mut self, state: UpstreamAnswer) {
        self.connection_answer = state;
    }

    /// Sets who runs the agent.
    pub fn set_current_user(&mut self, name: &str) {
        self.current_user = name.to_string();
    }
}

impl System for MemSystem {
    fn find_program(&mut self, program: &str) -> Option<String> {
        let word = program.split_whitespace().next()?;
        if word.starts_with('/') {
            return self.programs.get(word).cloned();
        }
        // Like `which` over PATH: the first installed program with that base name.
        self.programs
            .iter()
            .find(|p| p.rsplit('/').next() == Some(word) && p.starts_with("/usr/bin/"))
            .or_else(|| {
                self.programs
                    .iter()
                    .find(|p| p.rsplit('/').next() == Some(word))
            })
            .cloned()
    }

    fn user(&mut self, name: &str) -> Option<UserInfo> {
        self.users.get(name).cloned()
    }

    fn current_user(&mut self) -> String {
        self.current_user.clone()
    }

    fn connection_answer(&mut self, _pid: u32) -> UpstreamAnswer {
        self.connection_answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_programs_by_path_or_name_and_users() {
        let mut s = MemSystem::standard();
        assert_eq!(
            s.find_program("/usr/bin/psql -X").as_deref(),
            Some("/usr/bin/psql")
        );
        assert_eq!(s.find_program("pg_ctl").as_deref(), Some("/usr/bin/pg_ctl"));
        assert_eq!(s.find_program("/opt/pg_ctl"), None);
        assert_eq!(s.user("postgres").map(|u| u.uid), Some(105));
        s.remove_user("postgres");
        assert!(s.user("postgres").is_none());
        assert_eq!(s.current_user(), "root");
    }
}
