//! The [`Filesystem`] port over `std::fs`, creating files with the requested
//! owner (`pgdba` or root) and mode; replacements are atomic (write to a
//! temporary file in the same directory, then rename).
//!
//! Paths and contents are the core's strings, decoded losslessly from bytes
//! ([`crate::bytes_path`]): every path is encoded back to its exact bytes
//! before it reaches the OS, written contents (recovery settings,
//! `rep_mode.conf`, include lines) are the exact bytes the strings stand
//! for, and what is read (files, directory entries) is decoded the same way,
//! so a file read and written back is unchanged byte for byte.

use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use pgsql_ra_core::ports::{FileMeta, FileOwner, Filesystem, FsError};

use crate::bytes_path::{self, decode, decode_bytes, encode_bytes};
use crate::users;

/// The real filesystem, knowing who `pgdba` is.
#[derive(Debug, Clone)]
pub struct RealFs {
    pgdba: String,
}

fn fs_err(path: &str, e: &std::io::Error) -> FsError {
    let mut err = FsError::new(path, crate::os_error::message(e));
    err.permission_denied = e.kind() == std::io::ErrorKind::PermissionDenied;
    err
}

/// True when the permission bits let `uid` (member of `groups`) write a
/// file owned by `owner_uid:owner_gid` (root may always write).
pub fn mode_allows_write(
    mode: u32,
    owner_uid: u32,
    owner_gid: u32,
    uid: u32,
    groups: &[u32],
) -> bool {
    mode_allows(0o2, mode, owner_uid, owner_gid, uid, groups)
}

/// True when the permission bits grant `uid` (member of `groups`) the
/// `bit` (0o4 read, 0o2 write, 0o1 search) on a file owned by
/// `owner_uid:owner_gid` (root always).
pub fn mode_allows(
    bit: u32,
    mode: u32,
    owner_uid: u32,
    owner_gid: u32,
    uid: u32,
    groups: &[u32],
) -> bool {
    if uid == 0 {
        return true;
    }
    if uid == owner_uid {
        return mode & (bit << 6) != 0;
    }
    if groups.contains(&owner_gid) {
        return mode & (bit << 3) != 0;
    }
    mode & bit != 0
}

/// [`mode_allows`]'s answer when it does not depend on the user's groups:
/// root, the owner (owner bits only), or group and other bits that agree
/// on `bit`; `None` when membership of the file's group decides.
pub fn group_irrelevant(bit: u32, mode: u32, owner_uid: u32, uid: u32) -> Option<bool> {
    if uid == 0 {
        return Some(true);
    }
    if uid == owner_uid {
        return Some(mode & (bit << 6) != 0);
    }
    let (group, other) = (mode & (bit << 3) != 0, mode & bit != 0);
    (group == other).then_some(other)
}

impl RealFs {
    /// A filesystem port for the PostgreSQL owner `pgdba`.
    pub fn new(pgdba: &str) -> RealFs {
        RealFs {
            pgdba: pgdba.to_string(),
        }
    }

    fn ids(&self, owner: FileOwner, path: &str) -> Result<(u32, u32), FsError> {
        match owner {
            FileOwner::Root => Ok((0, 0)),
            FileOwner::Pgdba => users::by_name(&self.pgdba)
                .map(|a| (a.uid, a.gid))
                .ok_or_else(|| FsError::new(path, format!("user {} does not exist", self.pgdba))),
        }
    }

    fn set_owner_mode(&self, path: &str, owner: FileOwner, mode: u32) -> Result<(), FsError> {
        if users::effective_uid() == 0 {
            let (uid, gid) = self.ids(owner, path)?;
            std::os::unix::fs::chown(bytes_path::path(path), Some(uid), Some(gid))
                .map_err(|e| fs_err(path, &e))?;
        }
        fs::set_permissions(bytes_path::path(path), fs::Permissions::from_mode(mode))
            .map_err(|e| fs_err(path, &e))
    }
}

impl Filesystem for RealFs {
    fn read(&mut self, path: &str) -> Result<Option<String>, FsError> {
        use std::io::Read;
        let Some(f) = open_regular(path)? else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        f.take(MAX_READ_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| fs_err(path, &e))?;
        if bytes.len() as u64 > MAX_READ_BYTES {
            return Err(FsError::new(
                path,
                format!("larger than {MAX_READ_BYTES} bytes, not read"),
            ));
        }
        Ok(Some(decode_bytes(&bytes)))
    }

    fn write(
        &mut self,
        path: &str,
        contents: &str,
        owner: FileOwner,
        mode: u32,
    ) -> Result<(), FsError> {
        let target = bytes_path::path(path);
        let mut tmp_name = OsString::from(".");
        tmp_name.push(target.file_name().unwrap_or("file".as_ref()));
        tmp_name.push(format!(".pgsql-ra-{}", std::process::id()));
        let tmp = decode(target.with_file_name(tmp_name).as_os_str());
        let result = (|| {
            let mut f = fs::File::create(bytes_path::path(&tmp)).map_err(|e| fs_err(&tmp, &e))?;
            f.write_all(&encode_bytes(contents))
                .and_then(|_| f.sync_all())
                .map_err(|e| fs_err(&tmp, &e))?;
            self.set_owner_mode(&tmp, owner, mode)?;
            fs::rename(bytes_path::path(&tmp), &target).map_err(|e| fs_err(path, &e))
        })();
        if result.is_err() {
            let _ = fs::remove_file(bytes_path::path(&tmp));
        }
        result
    }

    /// One `stat`, a rename when past `max_bytes`, one append (created
    /// 0600 when missing); no fsync (the journal must cost no time).
    fn append_rotating(&mut self, path: &str, line: &str, max_bytes: u64) -> Result<(), FsError> {
        use std::os::unix::fs::OpenOptionsExt;
        let p = bytes_path::path(path);
        // tmpdir belongs to pgdba: never follow a symbolic link planted
        // there (root would append to its target) and never block on a FIFO
        // (an action would hang); only a regular file is appended to (issue
        // 13, operator attack).
        if fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_file() && m.len() > max_bytes) {
            let mut old = p.clone().into_os_string();
            old.push(".1");
            fs::rename(&p, old).map_err(|e| fs_err(path, &e))?;
        }
        let mut f = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&p)
            .map_err(|e| fs_err(path, &e))?;
        if !f.metadata().is_ok_and(|m| m.file_type().is_file()) {
            return Err(FsError::new(path, "not a regular file"));
        }
        let mut bytes = encode_bytes(line);
        bytes.push(b'\n');
        f.write_all(&bytes).map_err(|e| fs_err(path, &e))
    }

    fn append_line(&mut self, path: &str, line: &str) -> Result<(), FsError> {
        let mut f = OpenOptions::new()
            .append(true)
            .open(bytes_path::path(path))
            .map_err(|e| fs_err(path, &e))?;
        let mut bytes = encode_bytes(line);
        bytes.push(b'\n');
        f.write_all(&bytes).map_err(|e| fs_err(path, &e))
    }

    fn remove(&mut self, path: &str) -> Result<bool, FsError> {
        match fs::remove_file(bytes_path::path(path)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(fs_err(path, &e)),
        }
    }

    fn metadata(&mut self, path: &str) -> Result<Option<FileMeta>, FsError> {
        match fs::metadata(bytes_path::path(path)) {
            Ok(m) => Ok(Some(FileMeta {
                is_dir: m.is_dir(),
                owner: users::by_uid(m.uid()).map(|a| a.name),
                mode: m.mode() & 0o7777,
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(fs_err(path, &e)),
        }
    }

    fn create_dir_all(&mut self, path: &str, owner: FileOwner, mode: u32) -> Result<(), FsError> {
        fs::create_dir_all(bytes_path::path(path)).map_err(|e| fs_err(path, &e))?;
        self.set_owner_mode(path, owner, mode)
    }

    fn list_dir(&mut self, path: &str) -> Result<Vec<String>, FsError> {
        match fs::read_dir(bytes_path::path(path)) {
            Ok(rd) => {
                let mut names: Vec<String> = rd
                    .filter_map(|e| e.ok())
                    .map(|e| decode(&e.file_name()))
                    .collect();
                names.sort();
                Ok(names)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(fs_err(path, &e)),
        }
    }

    /// Seeks to `from` and reads only the rest: a server log can be large.
    fn read_from(&mut self, path: &str, from: u64) -> Result<Option<(u64, String)>, FsError> {
        use std::io::{Read, Seek, SeekFrom};
        let Some(mut f) = open_regular(path)? else {
            return Ok(None);
        };
        let len = f.metadata().map_err(|e| fs_err(path, &e))?.len();
        if from >= len {
            return Ok(Some((len, String::new())));
        }
        let mut bytes = Vec::new();
        f.seek(SeekFrom::Start(from))
            .and_then(|_| (&mut f).take(MAX_READ_BYTES).read_to_end(&mut bytes))
            .map_err(|e| fs_err(path, &e))?;
        Ok(Some((len, decode_bytes(&bytes))))
    }

    /// Root (uid 0): what `access(W_OK)` says, which also refuses a
    /// read-only mount and what the kernel refuses even to root (`/proc`
    /// entries). Another user: as `test -w` run as that user (stock): the
    /// search bit of every directory above, the write bit of the path, and
    /// never on a read-only mount.
    fn writable_by(&mut self, path: &str, user: &str) -> Result<bool, FsError> {
        let account = users::by_name(user)
            .ok_or_else(|| FsError::new(path, format!("user {user} does not exist")))?;
        let target = bytes_path::path(path);
        let m = fs::metadata(&target).map_err(|e| fs_err(path, &e))?;
        if read_only_mount(&target) || pseudo_filesystem(&target) {
            return Ok(false);
        }
        if account.uid == 0 {
            return Ok(access_writable(&target));
        }
        // The user's groups only when a group decides (issue 16: looking
        // them up loads NSS modules, a few ms of every action).
        let mut groups: Option<Vec<u32>> = None;
        let mut allows = |bit: u32, meta: &fs::Metadata| -> bool {
            let (mode, uid, gid) = (meta.mode(), meta.uid(), meta.gid());
            if let Some(known) = group_irrelevant(bit, mode, uid, account.uid) {
                return known;
            }
            let g = groups.get_or_insert_with(|| users::groups_of(&account));
            mode_allows(bit, mode, uid, gid, account.uid, g)
        };
        // `test -w` as the user (stock): every directory above must let it
        // through (search permission), then the file itself.
        let mut dir = target.parent();
        while let Some(d) = dir {
            let dm = fs::metadata(d).map_err(|e| fs_err(path, &e))?;
            if !allows(0o1, &dm) {
                return Ok(false);
            }
            dir = d.parent();
        }
        Ok(allows(0o2, &m))
    }
}

fn c_path(path: &std::path::Path) -> Option<std::ffi::CString> {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(path.as_os_str().as_bytes()).ok()
}

/// True when `path` is on a file system mounted read-only (`statvfs`
/// `ST_RDONLY`); false when that cannot be told.
fn read_only_mount(path: &std::path::Path) -> bool {
    let Some(c) = c_path(path) else {
        return false;
    };
    // SAFETY: `c` is a NUL-terminated path; `buf` is a plain C struct the
    // call fills in.
    let mut buf: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut buf) };
    rc == 0 && buf.f_flag & libc::ST_RDONLY != 0
}

/// The `statfs` magic numbers (linux/magic.h) of the kernel's
/// pseudo-filesystems, where `access(W_OK)` may say yes to root while
/// creating a file or directory fails (`/sys`, `/proc`) or means something
/// else (a `mkdir` in cgroupfs creates a cgroup): never a place for data.
const PSEUDO_FS_MAGIC: &[u32] = &[
    0x6265_6572, // sysfs
    0x9fa0,      // proc
    0x0027_e0eb, // cgroup
    0x6367_7270, // cgroup2
    0x6462_6720, // debugfs
    0x7472_6163, // tracefs
    0x7363_6673, // securityfs
    0x6265_6570, // configfs
    0x6165_676c, // pstore
    0xcafe_4a11, // bpf
    0xde5e_81e4, // efivarfs
    0xf97c_ff8c, // selinuxfs
    0x6573_5543, // fusectl
    0x1cd1,      // devpts
];

/// True when `path` is on one of the kernel's pseudo-filesystems
/// ([`PSEUDO_FS_MAGIC`]); false when that cannot be told. Issue 12
/// (re-attack item 7): `tmpdir=/sys/...` passed the level-10 check.
fn pseudo_filesystem(path: &std::path::Path) -> bool {
    let Some(c) = c_path(path) else {
        return false;
    };
    // SAFETY: `c` is a NUL-terminated path; `buf` is a plain C struct the
    // call fills in.
    let mut buf: libc::statfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut buf) };
    // f_type is a signed word of platform width; the magic numbers are
    // 32-bit values.
    rc == 0 && PSEUDO_FS_MAGIC.contains(&(buf.f_type as u32))
}

/// `access(path, W_OK)` for the real user (the agent: root).
fn access_writable(path: &std::path::Path) -> bool {
    let Some(c) = c_path(path) else {
        return false;
    };
    // SAFETY: `c` is a NUL-terminated path.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

/// The most the agent reads of one file (bytes): its own notes and
/// PostgreSQL's small files; a log tail is cut there.
pub const MAX_READ_BYTES: u64 = 16 * 1024 * 1024;

/// Opens `path` for reading when it is a regular file (symbolic links
/// followed: operators link configuration files); `None` when it does not
/// exist. A FIFO, a device or a directory is refused without blocking
/// (`O_NONBLOCK`, then `fstat`): tmpdir and the log belong to the database
/// owner, who must not be able to hang or exhaust root's agent (a FIFO
/// made `explain` and `monitor` hang, a link to `/dev/zero` used 23 GB:
/// the issue-13 operator attack).
fn open_regular(path: &str) -> Result<Option<fs::File>, FsError> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(bytes_path::path(path))
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(fs_err(path, &e)),
    };
    let meta = f.metadata().map_err(|e| fs_err(path, &e))?;
    if !meta.is_file() {
        return Err(FsError::new(path, "not a regular file, not read"));
    }
    Ok(Some(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The issue-13 operator attack: a FIFO in tmpdir hung `explain` and
    /// `monitor`, a link to /dev/zero grew the agent to 23 GB.
    #[test]
    fn only_regular_files_are_read_and_never_block() {
        let dir = std::env::temp_dir().join(format!("pgsql-ra-fs-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let p = |name: &str| dir.join(name).display().to_string();
        let fifo = std::ffi::CString::new(p("fifo")).expect("path");
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        std::os::unix::fs::symlink("/dev/zero", p("zero")).expect("symlink");
        std::fs::write(p("real"), "rep_mode=sync\n").expect("write");
        std::os::unix::fs::symlink(p("real"), p("link")).expect("symlink");
        let mut fs = RealFs::new("postgres");
        let started = std::time::Instant::now();
        for bad in ["fifo", "zero"] {
            let e = fs.read(&p(bad)).expect_err(bad);
            assert!(e.to_string().contains("not a regular file"), "{e}");
            let e = fs.read_from(&p(bad), 0).expect_err(bad);
            assert!(e.to_string().contains("not a regular file"), "{e}");
        }
        assert!(fs.read(&p(".")).is_err(), "a directory");
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        assert_eq!(
            fs.read(&p("link")).expect("a link to a file"),
            Some("rep_mode=sync\n".into())
        );
        assert_eq!(fs.read(&p("absent")).expect("absent"), None);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn pseudo_filesystems_are_told_apart() {
        assert!(pseudo_filesystem(std::path::Path::new("/proc/1")));
        if std::path::Path::new("/sys/kernel").is_dir() {
            assert!(pseudo_filesystem(std::path::Path::new("/sys/kernel")));
        }
        assert!(!pseudo_filesystem(&std::env::temp_dir()));
    }

    /// Whenever the groups are skipped, the answer is the one with them,
    /// member of the file's group or not (every mode, bit and owner case).
    #[test]
    fn skipping_the_groups_never_changes_the_answer() {
        let mut skipped = 0;
        for mode in 0..=0o777u32 {
            for bit in [0o4, 0o2, 0o1] {
                for (owner, uid) in [(101, 101), (0, 101), (5, 0), (7, 101)] {
                    let Some(known) = group_irrelevant(bit, mode, owner, uid) else {
                        continue;
                    };
                    skipped += 1;
                    for groups in [&[104u32][..], &[104, 50][..]] {
                        assert_eq!(
                            known,
                            mode_allows(bit, mode, owner, 50, uid, groups),
                            "mode {mode:o} bit {bit} owner {owner} uid {uid} groups {groups:?}"
                        );
                    }
                }
            }
        }
        assert!(skipped > 0);
        // Group and other disagree, and the user does not own the file: unknown.
        assert_eq!(group_irrelevant(0o2, 0o770, 0, 101), None);
        assert_eq!(group_irrelevant(0o1, 0o755, 0, 101), Some(true));
    }

    #[test]
    fn write_permission_follows_owner_group_other() {
        assert!(mode_allows_write(0o600, 101, 104, 101, &[104]));
        assert!(!mode_allows_write(0o500, 101, 104, 101, &[104]));
        assert!(mode_allows_write(0o770, 0, 104, 101, &[104]));
        assert!(!mode_allows_write(0o750, 0, 104, 101, &[104]));
        assert!(mode_allows_write(0o777, 0, 0, 101, &[104]));
        assert!(!mode_allows_write(0o755, 0, 0, 101, &[104]));
        assert!(mode_allows_write(0o000, 5, 5, 0, &[0]));
        // Search permission on a directory (the traversal `test -w` needs).
        assert!(!mode_allows(0o1, 0o700, 0, 0, 101, &[104]));
        assert!(mode_allows(0o1, 0o711, 0, 0, 101, &[104]));
        assert!(mode_allows(0o1, 0o710, 0, 104, 101, &[104]));
    }

    #[test]
    fn append_rotating_refuses_symlinks_and_fifos_without_blocking() {
        let dir = std::env::temp_dir().join(format!("pgsql-ra-rotx-{}", std::process::id()));
        let d = dir.to_string_lossy().into_owned();
        let mut fs_ = RealFs::new("root");
        fs_.create_dir_all(&d, FileOwner::Root, 0o700)
            .expect("mkdir");
        // A symlink planted in tmpdir: its target is never appended to.
        let victim = format!("{d}/victim");
        std::fs::write(&victim, "secret\n").expect("victim");
        let link = format!("{d}/journal-link");
        std::os::unix::fs::symlink(&victim, &link).expect("symlink");
        assert!(fs_.append_rotating(&link, "x", 1 << 20).is_err());
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "secret\n");
        // A FIFO without a reader: an error at once, not a hang.
        let fifo = format!("{d}/journal-fifo");
        let c = std::ffi::CString::new(fifo.clone()).expect("path");
        // SAFETY: mkfifo with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let t = std::time::Instant::now();
        assert!(fs_.append_rotating(&fifo, "x", 1 << 20).is_err());
        assert!(t.elapsed() < std::time::Duration::from_secs(2));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn append_rotating_creates_0600_and_rotates_once_past_the_cap() {
        let dir = std::env::temp_dir().join(format!("pgsql-ra-rot-{}", std::process::id()));
        let d = dir.to_string_lossy().into_owned();
        let mut fs_ = RealFs::new("root");
        fs_.create_dir_all(&d, FileOwner::Root, 0o700)
            .expect("mkdir");
        let j = format!("{d}/j");
        fs_.append_rotating(&j, "1", 4).expect("create");
        assert_eq!(fs_.metadata(&j).expect("meta").expect("exists").mode, 0o600);
        fs_.append_rotating(&j, "22", 4).expect("append");
        assert_eq!(fs_.read(&j).expect("read").as_deref(), Some("1\n22\n"));
        // 5 bytes > 4: rotated before the next line.
        fs_.append_rotating(&j, "3", 4).expect("rotate");
        assert_eq!(
            fs_.read(&format!("{j}.1")).expect("read").as_deref(),
            Some("1\n22\n")
        );
        assert_eq!(fs_.read(&j).expect("read").as_deref(), Some("3\n"));
        assert!(fs_
            .append_rotating(&format!("{d}/no/such/dir"), "x", 4)
            .is_err());
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn write_read_append_remove() {
        let dir = std::env::temp_dir().join(format!("pgsql-ra-realfs-{}", std::process::id()));
        let d = dir.to_string_lossy().into_owned();
        let mut fs_ = RealFs::new("root");
        fs_.create_dir_all(&format!("{d}/sub"), FileOwner::Root, 0o700)
            .expect("mkdir");
        let f = format!("{d}/sub/a.conf");
        assert_eq!(fs_.read(&f).expect("read"), None);
        fs_.write(&f, "x = 1\n", FileOwner::Root, 0o600)
            .expect("write");
        fs_.append_line(&f, "y = 2").expect("append");
        assert_eq!(
            fs_.read(&f).expect("read").as_deref(),
            Some("x = 1\ny = 2\n")
        );
        let meta = fs_.metadata(&f).expect("meta").expect("exists");
        assert_eq!(meta.mode, 0o600);
        assert!(!meta.is_dir);
        assert_eq!(
            fs_.list_dir(&format!("{d}/sub")).expect("ls"),
            vec!["a.conf"]
        );
        assert!(fs_.append_line(&format!("{d}/missing"), "z").is_err());
        assert!(fs_.remove(&f).expect("rm"));
        assert!(!fs_.remove(&f).expect("rm again"));
        let _ = fs::remove_dir_all(dir);
    }

    /// A directory and contents that are not UTF-8: written, appended, read,
    /// listed and removed on exactly those bytes.
    #[test]
    fn paths_and_contents_that_are_not_utf8_round_trip() {
        use std::os::unix::ffi::OsStrExt;
        let raw_dir =
            std::env::temp_dir().join(format!("pgsql-ra-realfs-raw-{}", std::process::id()));
        let mut dir_bytes = raw_dir.as_os_str().as_bytes().to_vec();
        dir_bytes.extend_from_slice(b"\xff\xfe");
        let d = decode_bytes(&dir_bytes);
        let mut fs_ = RealFs::new("root");
        fs_.create_dir_all(&d, FileOwner::Root, 0o700)
            .expect("mkdir");
        assert!(std::path::Path::new(std::ffi::OsStr::from_bytes(&dir_bytes)).is_dir());
        let f = format!("{d}/rep_mode\u{10FFE9}.conf");
        let contents = decode_bytes(b"include '/tmp/x\xff/rep_mode.conf'\n");
        fs_.write(&f, &contents, FileOwner::Root, 0o600)
            .expect("write");
        fs_.append_line(&f, &decode_bytes(b"y = '\xc3\x28'"))
            .expect("append");
        let mut file_bytes = dir_bytes.clone();
        file_bytes.extend_from_slice(b"/rep_mode\xe9.conf");
        assert_eq!(
            fs::read(std::ffi::OsStr::from_bytes(&file_bytes)).expect("raw read"),
            b"include '/tmp/x\xff/rep_mode.conf'\ny = '\xc3\x28'\n".to_vec()
        );
        assert_eq!(
            fs_.read(&f).expect("read").map(|t| encode_bytes(&t)),
            Some(b"include '/tmp/x\xff/rep_mode.conf'\ny = '\xc3\x28'\n".to_vec())
        );
        assert_eq!(
            fs_.list_dir(&d).expect("ls"),
            vec![decode_bytes(b"rep_mode\xe9.conf")]
        );
        assert!(fs_.metadata(&f).expect("meta").is_some());
        assert!(fs_.writable_by(&f, "root").expect("writable"));
        assert!(fs_.remove(&f).expect("rm"));
        let _ = fs::remove_dir_all(std::ffi::OsStr::from_bytes(&dir_bytes));
    }
}
