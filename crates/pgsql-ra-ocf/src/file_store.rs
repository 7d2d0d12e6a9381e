//! A [`Cluster`] backed by plain files in one directory, for running the
//! agent outside Pacemaker (embedding, integration tests). Selected by the
//! shim when `PGSQL_RA_ATTRD_DIR=<dir>` is set; `PGSQL_RA_NODE=<name>` names
//! the local node (see docs/embedding.md). Layout of `<dir>`:
//!
//! - `nodes`: one node per line, `<name>` or `<name> offline` (online by
//!   default), optionally `stopped` or `active`: the resource's instance
//!   there as Pacemaker shows it (issue 11; unknown without either).
//!   Without this file the local node is the only, online, node.
//! - `promoted`: lines `<resource> <node>`: where an instance is promoted.
//! - `attrs/<node>.reboot`, `attrs/<node>.forever`: `name=value` lines.
//! - `bans`: `<instance> <node>` lines appended by [`Cluster::ban`].
//!
//! What a line cannot hold is refused with an error, never stored in a form
//! that reads back differently: names starting with `#` (comments), names
//! with `=`, `/`, NUL or line breaks, values with `\r` or `\n`.
//!
//! Paths, names and values are the core's strings ([`crate::bytes_path`]):
//! the directory and file names are encoded to exactly the bytes they stand
//! for, contents are written as those bytes and decoded back when read.
//!
//! Writes take an exclusive `flock` on `<dir>/.lock` and replace a file by
//! atomic rename, so concurrent agents on "different nodes" never lose or
//! tear an update.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use pgsql_ra_core::ports::{Cluster, ClusterError, InstanceState, Lifetime, NodeState};

use crate::bytes_path::{self, decode_bytes, encode_bytes};

/// The file-backed cluster port.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
    local: String,
}

/// Holds the store's lock until dropped.
struct Locked(File);

impl Drop for Locked {
    fn drop(&mut self) {
        // SAFETY: unlocking our own open file descriptor.
        unsafe {
            libc::flock(self.0.as_raw_fd(), libc::LOCK_UN);
        }
    }
}

fn io_err(path: &Path, e: std::io::Error) -> ClusterError {
    ClusterError(format!("{}: {e}", bytes_path::decode(path.as_os_str())))
}

fn read_optional(path: &Path) -> Result<Option<String>, ClusterError> {
    match fs::read(path) {
        Ok(t) => Ok(Some(decode_bytes(&t))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path, e)),
    }
}

/// Parses `name=value` lines (blank lines and `#` comments ignored).
pub fn parse_attrs(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn render_attrs(attrs: &BTreeMap<String, String>) -> String {
    attrs.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

/// True for a node or attribute name the store can keep: it must be a file
/// name, the key of a `name=value` line and survive the read back (a line
/// starting with `#` is a comment, `\r` is stripped at the end of a line).
fn valid_component(text: &str) -> bool {
    !text.is_empty()
        && !text.starts_with('#')
        && !text.contains(['/', '\n', '\r', '=', '\0'])
        && text != "."
        && text != ".."
}

/// True for a value that reads back unchanged from a `name=value` line.
fn valid_value(text: &str) -> bool {
    !text.contains(['\n', '\r'])
}

impl FileStore {
    /// A store in `dir` for the local node `local` (lower-cased).
    pub fn new(dir: impl Into<PathBuf>, local: &str) -> FileStore {
        FileStore {
            dir: dir.into(),
            local: local.trim().to_lowercase(),
        }
    }

    fn lock(&self) -> Result<Locked, ClusterError> {
        fs::create_dir_all(&self.dir).map_err(|e| io_err(&self.dir, e))?;
        let path = self.dir.join(".lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io_err(&path, e))?;
        // SAFETY: locking our own open file descriptor.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(io_err(&path, std::io::Error::last_os_error()));
        }
        Ok(Locked(f))
    }

    fn attr_path(
        &self,
        node: &str,
        name: &str,
        lifetime: Lifetime,
    ) -> Result<PathBuf, ClusterError> {
        if !valid_component(node) || !valid_component(name) {
            return Err(ClusterError(format!(
                "the file store can't keep the node or attribute name {}/{}",
                pgsql_ra_core::quote::quoted(node),
                pgsql_ra_core::quote::quoted(name)
            )));
        }
        let suffix = match lifetime {
            Lifetime::Reboot => "reboot",
            Lifetime::Forever => "forever",
        };
        Ok(self.dir.join("attrs").join(bytes_path::encode(&format!(
            "{}.{suffix}",
            node.to_lowercase()
        ))))
    }

    fn read_attrs(&self, path: &Path) -> Result<BTreeMap<String, String>, ClusterError> {
        Ok(read_optional(path)?
            .map(|t| parse_attrs(&t))
            .unwrap_or_default())
    }

    fn replace(&self, path: &Path, contents: &str) -> Result<(), ClusterError> {
        let parent = path.parent().unwrap_or(&self.dir);
        fs::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let mut f = File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
        f.write_all(&encode_bytes(contents))
            .and_then(|_| f.sync_all())
            .map_err(|e| io_err(&tmp, e))?;
        fs::rename(&tmp, path).map_err(|e| io_err(path, e))
    }

    fn modify(
        &self,
        node: &str,
        name: &str,
        lifetime: Lifetime,
        value: Option<&str>,
    ) -> Result<(), ClusterError> {
        if let Some(v) = value.filter(|v| !valid_value(v)) {
            return Err(ClusterError(format!(
                "attribute {name}: the file store can't keep the value {} (line breaks)",
                pgsql_ra_core::quote::quoted(v)
            )));
        }
        let path = self.attr_path(node, name, lifetime)?;
        let _lock = self.lock()?;
        let mut attrs = self.read_attrs(&path)?;
        let changed = match value {
            Some(v) => attrs.insert(name.to_string(), v.to_string()).as_deref() != Some(v),
            None => attrs.remove(name).is_some(),
        };
        if changed {
            self.replace(&path, &render_attrs(&attrs))?;
        }
        Ok(())
    }
}

impl Cluster for FileStore {
    fn local_node(&mut self) -> Result<String, ClusterError> {
        if self.local.is_empty() {
            return Err(ClusterError(
                "PGSQL_RA_NODE is not set: the local node name is unknown".into(),
            ));
        }
        Ok(self.local.clone())
    }

    fn nodes(&mut self) -> Result<Vec<NodeState>, ClusterError> {
        let Some(text) = read_optional(&self.dir.join("nodes"))? else {
            return Ok(vec![NodeState::new(&self.local, true)]);
        };
        Ok(text
            .lines()
            .filter_map(|l| {
                let mut words = l.split_whitespace();
                let name = words.next()?.to_lowercase();
                let flags: Vec<&str> = words.collect();
                // Issue 11: `stopped`/`active` after the name stand for
                // Pacemaker's view of the instance; neither: unknown.
                let instance = if flags.contains(&"stopped") {
                    InstanceState::Stopped
                } else if flags.contains(&"active") {
                    InstanceState::Active
                } else {
                    InstanceState::Unknown
                };
                Some(NodeState {
                    name,
                    online: !flags.contains(&"offline"),
                    instance,
                })
            })
            .collect())
    }

    fn promoted_nodes(&mut self, resource: &str) -> Result<Vec<String>, ClusterError> {
        let text = read_optional(&self.dir.join("promoted"))?.unwrap_or_default();
        Ok(text
            .lines()
            .filter_map(|l| l.split_once(' '))
            .filter(|(r, _)| *r == resource)
            .map(|(_, n)| n.trim().to_lowercase())
            .collect())
    }

    fn get_attr(
        &mut self,
        node: &str,
        name: &str,
        lifetime: Lifetime,
    ) -> Result<Option<String>, ClusterError> {
        let path = self.attr_path(node, name, lifetime)?;
        Ok(self.read_attrs(&path)?.remove(name))
    }

    fn set_attr(
        &mut self,
        node: &str,
        name: &str,
        value: &str,
        lifetime: Lifetime,
    ) -> Result<(), ClusterError> {
        self.modify(node, name, lifetime, Some(value))
    }

    fn delete_attr(
        &mut self,
        node: &str,
        name: &str,
        lifetime: Lifetime,
    ) -> Result<(), ClusterError> {
        self.modify(node, name, lifetime, None)
    }

    fn ban(&mut self, instance: &str, node: &str) -> Result<(), ClusterError> {
        if [instance, node]
            .iter()
            .any(|t| t.is_empty() || t.contains(char::is_whitespace) || t.contains('\0'))
        {
            return Err(ClusterError(format!(
                "the file store can't record a ban of {} on {}",
                pgsql_ra_core::quote::quoted(instance),
                pgsql_ra_core::quote::quoted(node)
            )));
        }
        let _lock = self.lock()?;
        let path = self.dir.join("bans");
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| io_err(&path, e))?;
        let line = format!("{instance} {}\n", node.to_lowercase());
        f.write_all(&encode_bytes(&line))
            .map_err(|e| io_err(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(tag: &str) -> (PathBuf, FileStore) {
        let dir = std::env::temp_dir().join(format!("pgsql-ra-fs-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        (dir.clone(), FileStore::new(&dir, "Node1"))
    }

    #[test]
    fn attributes_round_trip_per_lifetime() {
        let (dir, mut s) = store("rt");
        assert_eq!(s.local_node().expect("named"), "node1");
        s.set_attr("node2", "master-pgsql", "-INFINITY", Lifetime::Reboot)
            .expect("set");
        s.set_attr(
            "node2",
            "pgsql-data-status",
            "STREAMING|SYNC",
            Lifetime::Forever,
        )
        .expect("set");
        assert_eq!(
            s.get_attr("node2", "master-pgsql", Lifetime::Reboot)
                .expect("get")
                .as_deref(),
            Some("-INFINITY")
        );
        assert_eq!(
            s.get_attr("node2", "master-pgsql", Lifetime::Forever)
                .expect("get"),
            None
        );
        assert_eq!(
            s.get_attr("node2", "pgsql-data-status", Lifetime::Forever)
                .expect("get")
                .as_deref(),
            Some("STREAMING|SYNC")
        );
        s.delete_attr("node2", "master-pgsql", Lifetime::Reboot)
            .expect("delete");
        s.delete_attr("node2", "master-pgsql", Lifetime::Reboot)
            .expect("absent is fine");
        assert_eq!(
            s.get_attr("node2", "master-pgsql", Lifetime::Reboot)
                .expect("get"),
            None
        );
        assert!(s.set_attr("../x", "a", "b", Lifetime::Reboot).is_err());
        assert!(s.set_attr("n", "a", "b\nc", Lifetime::Reboot).is_err());
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn what_cannot_be_stored_is_rejected_and_the_rest_round_trips() {
        let (dir, mut s) = store("reject");
        for name in ["#master-pgsql", "#", "a\rb", "a\nb", "a=b", ""] {
            assert!(
                s.set_attr("node1", name, "v", Lifetime::Reboot).is_err(),
                "name {name:?} is rejected"
            );
        }
        for value in ["v\r", "\r", "a\rb", "a\nb", "v\n"] {
            assert!(
                s.set_attr("node1", "a", value, Lifetime::Reboot).is_err(),
                "value {value:?} is rejected"
            );
        }
        for node in ["n\r", "#n"] {
            assert!(s.set_attr(node, "a", "v", Lifetime::Reboot).is_err());
        }
        assert!(s.ban("pgsql:0\n", "node2").is_err());
        assert!(s.ban("pgsql:0", "node2\r").is_err());
        for (name, value) in [
            ("a", " padded "),
            ("b", "x=y#z"),
            ("c", ""),
            ("d", "#not a comment"),
            ("e", "tab\there"),
            ("f#g", "v"),
        ] {
            s.set_attr("node1", name, value, Lifetime::Reboot)
                .expect("storable");
            assert_eq!(
                s.get_attr("node1", name, Lifetime::Reboot)
                    .expect("get")
                    .as_deref(),
                Some(value),
                "{name}={value:?} round-trips"
            );
        }
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn nodes_promoted_and_bans_come_from_files() {
        let (dir, mut s) = store("nodes");
        assert_eq!(
            s.nodes().expect("nodes"),
            vec![NodeState::new("node1", true)]
        );
        fs::create_dir_all(&dir).expect("dir");
        fs::write(dir.join("nodes"), "node1\nNode2 offline\nnode3 stopped\n").expect("write");
        fs::write(dir.join("promoted"), "pgsql node2\nother node1\n").expect("write");
        let nodes = s.nodes().expect("nodes");
        assert_eq!(nodes[1], NodeState::new("node2", false));
        assert_eq!(nodes[2].instance, InstanceState::Stopped);
        assert!(nodes[2].online);
        assert_eq!(s.promoted_nodes("pgsql").expect("promoted"), vec!["node2"]);
        s.ban("pgsql:0", "Node2").expect("ban");
        assert_eq!(
            fs::read_to_string(dir.join("bans")).expect("bans"),
            "pgsql:0 node2\n"
        );
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn concurrent_writers_lose_nothing() {
        let (dir, _) = store("conc");
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let mut s = FileStore::new(&dir, "node1");
                std::thread::spawn(move || {
                    for j in 0..20 {
                        s.set_attr("node1", &format!("a{i}-{j}"), "v", Lifetime::Reboot)
                            .expect("set");
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("writer");
        }
        let text = fs::read_to_string(dir.join("attrs/node1.reboot")).expect("file");
        assert_eq!(parse_attrs(&text).len(), 160);
        let _ = fs::remove_dir_all(dir);
    }
}
