//! [`MemFs`]: an in-memory filesystem of files and directories with owners
//! and permission bits. Clones share the same tree, so the simulated
//! PostgreSQL can read what the agent wrote on the same node.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use crate::ports::{FileMeta, FileOwner, Filesystem, FsError};

/// One entry of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemEntry {
    /// File text, or `None` for a directory.
    pub contents: Option<String>,
    /// Owner's user name.
    pub owner: String,
    /// Permission bits.
    pub mode: u32,
}

#[derive(Debug, Default)]
struct Tree {
    entries: BTreeMap<String, MemEntry>,
    read_only: BTreeSet<String>,
    pgdba: String,
}

/// A shared in-memory filesystem for one node.
#[derive(Debug, Clone)]
pub struct MemFs {
    tree: Rc<RefCell<Tree>>,
}

/// Normalises a path: absolute, no empty or `.` components, no trailing `/`.
pub fn normalize(path: &str) -> String {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    format!("/{}", parts.join("/"))
}

fn parent(path: &str) -> Option<String> {
    let (p, _) = path.rsplit_once('/')?;
    if path == "/" {
        None
    } else if p.is_empty() {
        Some("/".to_string())
    } else {
        Some(p.to_string())
    }
}

fn not_found(path: &str) -> FsError {
    FsError::new(path, "No such file or directory")
}

fn denied(path: &str) -> FsError {
    FsError {
        path: path.to_string(),
        message: "Permission denied".into(),
        permission_denied: true,
    }
}

impl MemFs {
    /// An empty tree (only `/`, owned by root); `FileOwner::Pgdba` maps to `pgdba`.
    pub fn new(pgdba: &str) -> MemFs {
        let mut tree = Tree {
            pgdba: pgdba.to_string(),
            ..Tree::default()
        };
        tree.entries.insert(
            "/".into(),
            MemEntry {
                contents: None,
                owner: "root".into(),
                mode: 0o755,
            },
        );
        MemFs {
            tree: Rc::new(RefCell::new(tree)),
        }
    }

    fn owner_name(&self, owner: FileOwner) -> String {
        match owner {
            FileOwner::Pgdba => self.tree.borrow().pgdba.clone(),
            FileOwner::Root => "root".into(),
        }
    }

    /// Creates a directory and its parents as `owner` with `mode` (test setup).
    pub fn mkdir_p(&self, path: &str, owner: &str, mode: u32) {
        let path = normalize(path);
        let mut tree = self.tree.borrow_mut();
        let mut cur = String::new();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            cur = format!("{cur}/{part}");
            tree.entries.entry(cur.clone()).or_insert_with(|| MemEntry {
                contents: None,
                owner: "root".into(),
                mode: 0o755,
            });
        }
        if let Some(e) = tree.entries.get_mut(&path) {
            e.owner = owner.to_string();
            e.mode = mode;
        }
    }

    /// Writes a file directly, creating missing parent directories as root (test setup).
    pub fn put(&self, path: &str, contents: &str, owner: &str, mode: u32) {
        let path = normalize(path);
        if let Some(p) = parent(&path) {
            if !self.exists(&p) {
                self.mkdir_p(&p, "root", 0o755);
            }
        }
        self.tree.borrow_mut().entries.insert(
            path,
            MemEntry {
                contents: Some(contents.to_string()),
                owner: owner.to_string(),
                mode,
            },
        );
    }

    /// The text of a file, if it exists.
    pub fn file(&self, path: &str) -> Option<String> {
        self.tree
            .borrow()
            .entries
            .get(&normalize(path))
            .and_then(|e| e.contents.clone())
    }

    /// The entry at a path, if any.
    pub fn entry(&self, path: &str) -> Option<MemEntry> {
        self.tree.borrow().entries.get(&normalize(path)).cloned()
    }

    /// True when the path exists.
    pub fn exists(&self, path: &str) -> bool {
        self.tree.borrow().entries.contains_key(&normalize(path))
    }

    /// Removes a file, or a directory with everything under it (test setup).
    pub fn remove_tree(&self, path: &str) {
        let path = normalize(path);
        let prefix = format!("{path}/");
        self.tree
            .borrow_mut()
            .entries
            .retain(|k, _| *k != path && !k.starts_with(&prefix));
    }

    /// Every path in the tree, sorted.
    pub fn paths(&self) -> Vec<String> {
        self.tree.borrow().entries.keys().cloned().collect()
    }

    /// Makes writes at or under `path` fail with "Permission denied" (even for root,
    /// like a read-only mount).
    pub fn set_read_only(&self, path: &str, read_only: bool) {
        let path = normalize(path);
        let mut tree = self.tree.borrow_mut();
        if read_only {
            tree.read_only.insert(path);
        } else {
            tree.read_only.remove(&path);
        }
    }

    fn is_read_only(&self, path: &str) -> bool {
        let tree = self.tree.borrow();
        tree.read_only
            .iter()
            .any(|ro| path == ro || path.starts_with(&format!("{}/", ro.trim_end_matches('/'))))
    }

    fn check_parent_dir(&self, path: &str) -> Result<(), FsError> {
        let p = parent(path).ok_or_else(|| FsError::new(path, "Is a directory"))?;
        match self.tree.borrow().entries.get(&p) {
            Some(e) if e.contents.is_none() => Ok(()),
            Some(_) => Err(FsError::new(path, "Not a directory")),
            None => Err(not_found(path)),
        }
    }
}

impl Filesystem for MemFs {
    fn read(&mut self, path: &str) -> Result<Option<String>, FsError> {
        let path = normalize(path);
        match self.tree.borrow().entries.get(&path) {
            None => Ok(None),
            Some(MemEntry {
                contents: Some(text),
                ..
            }) => Ok(Some(text.clone())),
            Some(_) => Err(FsError::new(&path, "Is a directory")),
        }
    }

    fn write(
        &mut self,
        path: &str,
        contents: &str,
        owner: FileOwner,
        mode: u32,
    ) -> Result<(), FsError> {
        let path = normalize(path);
        if self.is_read_only(&path) {
            return Err(denied(&path));
        }
        self.check_parent_dir(&path)?;
        let owner = self.owner_name(owner);
        let mut tree = self.tree.borrow_mut();
        match tree.entries.get_mut(&path) {
            Some(MemEntry { contents: None, .. }) => Err(FsError::new(&path, "Is a directory")),
            Some(e) => {
                // An existing file keeps its owner and mode, like `>` in a shell.
                e.contents = Some(contents.to_string());
                Ok(())
            }
            None => {
                tree.entries.insert(
                    path,
                    MemEntry {
                        contents: Some(contents.to_string()),
                        owner,
                        mode,
                    },
                );
                Ok(())
            }
        }
    }

    fn append_line(&mut self, path: &str, line: &str) -> Result<(), FsError> {
        let path = normalize(path);
        if self.is_read_only(&path) {
            return Err(denied(&path));
        }
        let mut tree = self.tree.borrow_mut();
        match tree.entries.get_mut(&path) {
            Some(MemEntry {
                contents: Some(text),
                ..
            }) => {
                if !text.is_empty() && !text.ends_with('\n') {
                    text.push('\n');
                }
                text.push_str(line);
                text.push('\n');
                Ok(())
            }
            Some(_) => Err(FsError::new(&path, "Is a directory")),
            None => Err(not_found(&path)),
        }
    }

    fn remove(&mut self, path: &str) -> Result<bool, FsError> {
        let path = normalize(path);
        if self.is_read_only(&path) {
            return Err(denied(&path));
        }
        let mut tree = self.tree.borrow_mut();
        match tree.entries.get(&path) {
            None => Ok(false),
            Some(MemEntry { contents: None, .. }) => Err(FsError::new(&path, "Is a directory")),
            Some(_) => {
                tree.entries.remove(&path);
                Ok(true)
            }
        }
    }

    fn metadata(&mut self, path: &str) -> Result<Option<FileMeta>, FsError> {
        Ok(self
            .tree
            .borrow()
            .entries
            .get(&normalize(path))
            .map(|e| FileMeta {
                is_dir: e.contents.is_none(),
                owner: Some(e.owner.clone()),
                mode: e.mode,
            }))
    }

    fn create_dir_all(&mut self, path: &str, owner: FileOwner, mode: u32) -> Result<(), FsError> {
        let path = normalize(path);
        if self.is_read_only(&path) {
            return Err(denied(&path));
        }
        let mut cur = String::new();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            cur = format!("{cur}/{part}");
            if let Some(e) = self.tree.borrow().entries.get(&cur) {
                if e.contents.is_some() {
                    return Err(FsError::new(&cur, "Not a directory"));
                }
            }
        }
        let owner = self.owner_name(owner);
        self.mkdir_p(&path, &owner, mode);
        Ok(())
    }

    fn list_dir(&mut self, path: &str) -> Result<Vec<String>, FsError> {
        let path = normalize(path);
        if self
            .tree
            .borrow()
            .entries
            .get(&path)
            .is_some_and(|e| e.contents.is_some())
        {
            return Err(FsError::new(&path, "Not a directory"));
        }
        let prefix = if path == "/" {
            "/".to_string()
        } else {
            format!("{path}/")
        };
        Ok(self
            .tree
            .borrow()
            .entries
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter(|rest| !rest.is_empty() && !rest.contains('/'))
            .map(str::to_string)
            .collect())
    }

    fn writable_by(&mut self, path: &str, user: &str) -> Result<bool, FsError> {
        let path = normalize(path);
        if self.is_read_only(&path) {
            return Ok(false);
        }
        let tree = self.tree.borrow();
        let Some(e) = tree.entries.get(&path) else {
            return Ok(false);
        };
        Ok(user == "root" || (e.owner == user && e.mode & 0o200 != 0) || e.mode & 0o002 != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_need_a_parent_and_keep_owner_and_mode() {
        let mut fs = MemFs::new("postgres");
        assert!(fs.write("/a/b", "x", FileOwner::Root, 0o600).is_err());
        fs.create_dir_all("/a/", FileOwner::Pgdba, 0o700).unwrap();
        fs.write("/a/b", "x", FileOwner::Pgdba, 0o600).unwrap();
        fs.append_line("/a/b", "y").unwrap();
        assert_eq!(fs.read("/a//b").unwrap().as_deref(), Some("x\ny\n"));
        let meta = fs.metadata("/a").unwrap().unwrap();
        assert!(meta.is_dir);
        assert_eq!(meta.owner.as_deref(), Some("postgres"));
        assert_eq!(meta.mode, 0o700);
        assert_eq!(fs.list_dir("/a").unwrap(), vec!["b"]);
        assert!(fs.writable_by("/a", "postgres").unwrap());
        assert!(!fs.writable_by("/a", "nobody").unwrap());
        assert!(fs.remove("/a/b").unwrap());
        assert!(!fs.remove("/a/b").unwrap());
        assert!(fs.append_line("/a/b", "z").is_err());
    }

    #[test]
    fn read_only_paths_refuse_writes() {
        let mut fs = MemFs::new("postgres");
        fs.mkdir_p("/d", "postgres", 0o700);
        fs.set_read_only("/d", true);
        let err = fs.write("/d/f", "x", FileOwner::Root, 0o600).unwrap_err();
        assert!(err.permission_denied);
        assert!(!fs.writable_by("/d", "root").unwrap());
    }
}
