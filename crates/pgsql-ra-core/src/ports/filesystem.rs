/// Who should own a file the agent creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileOwner {
    /// The PostgreSQL owner (`pgdba`) and its primary group.
    Pgdba,
    /// root (the agent itself), e.g. `PGSQL.lock`.
    Root,
}

/// What the core needs to know about a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    /// True for a directory.
    pub is_dir: bool,
    /// Owner's user name, when known.
    pub owner: Option<String>,
    /// Permission bits.
    pub mode: u32,
}

/// A failed filesystem call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct FsError {
    /// The path involved.
    pub path: String,
    /// What went wrong.
    pub message: String,
    /// True when it was a permission problem.
    pub permission_denied: bool,
}

impl FsError {
    /// Builds an error.
    pub fn new(path: &str, message: impl Into<String>) -> FsError {
        FsError {
            path: path.to_string(),
            message: message.into(),
            permission_denied: false,
        }
    }
}

/// The local filesystem (paths are absolute strings).
pub trait Filesystem {
    /// The file's text, or `None` when it does not exist.
    fn read(&mut self, path: &str) -> Result<Option<String>, FsError>;
    /// Replaces the file's content, creating it with `owner` and `mode`.
    fn write(
        &mut self,
        path: &str,
        contents: &str,
        owner: FileOwner,
        mode: u32,
    ) -> Result<(), FsError>;
    /// Appends a line (with a trailing newline) to an existing file.
    fn append_line(&mut self, path: &str, line: &str) -> Result<(), FsError>;
    /// Appends one line to `path`, creating it (mode 0600, root) when
    /// missing; when it is already larger than `max_bytes`, it is first
    /// renamed to `<path>.1` (replacing an older one). No fsync. For the
    /// decision journal (issue 13).
    ///
    /// # Errors
    /// As [`Filesystem::append_line`] and [`Filesystem::write`].
    fn append_rotating(&mut self, path: &str, line: &str, max_bytes: u64) -> Result<(), FsError> {
        let current = self.read(path)?;
        match current {
            Some(text) if text.len() as u64 > max_bytes => {
                self.write(&format!("{path}.1"), &text, FileOwner::Root, 0o600)?;
                self.write(path, &format!("{line}\n"), FileOwner::Root, 0o600)
            }
            Some(_) => self.append_line(path, line),
            None => self.write(path, &format!("{line}\n"), FileOwner::Root, 0o600),
        }
    }
    /// Removes a file; `Ok(false)` when it did not exist.
    fn remove(&mut self, path: &str) -> Result<bool, FsError>;
    /// Information about a path, or `None` when it does not exist.
    fn metadata(&mut self, path: &str) -> Result<Option<FileMeta>, FsError>;
    /// Creates a directory and its parents, then sets `owner` and `mode` on it.
    fn create_dir_all(&mut self, path: &str, owner: FileOwner, mode: u32) -> Result<(), FsError>;
    /// Names (not paths) of the entries of a directory; empty when it does not exist.
    fn list_dir(&mut self, path: &str) -> Result<Vec<String>, FsError>;
    /// True when `user` may write to `path`.
    fn writable_by(&mut self, path: &str, user: &str) -> Result<bool, FsError>;
    /// The file's length in bytes and its text from byte `from` on (`None`:
    /// no such file). `from` beyond the end (e.g. `u64::MAX` to learn the
    /// length only) gives an empty text. Used to quote only what
    /// PostgreSQL wrote to `logfile` during one start (issue 12, attack
    /// finding 8). The default reads the whole file through
    /// [`Filesystem::read`]; an implementation may read only the tail.
    fn read_from(&mut self, path: &str, from: u64) -> Result<Option<(u64, String)>, FsError> {
        let Some(text) = self.read(path)? else {
            return Ok(None);
        };
        let len = text.len() as u64;
        Ok(Some((len, tail_from(&text, from).to_string())))
    }
}

/// `text` from byte `from` on: empty past the end, moved forward to the
/// next character boundary (see [`Filesystem::read_from`]).
pub fn tail_from(text: &str, from: u64) -> &str {
    let Ok(mut i) = usize::try_from(from) else {
        return "";
    };
    if i >= text.len() {
        return "";
    }
    while !text.is_char_boundary(i) {
        i += 1;
    }
    &text[i..]
}
