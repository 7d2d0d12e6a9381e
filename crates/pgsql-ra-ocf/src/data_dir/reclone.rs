//! The file moves of a re-clone (issue 10): `pg_basebackup` writes a new
//! directory beside `pgdata` (`<pgdata>.clone-<unix seconds>`); only when
//! it succeeded is `pgdata` renamed to `<pgdata>.aside-<unix seconds>`
//! (never deleted) and the clone renamed to `pgdata`. On a failure or a
//! deadline only the partial clone is removed and `pgdata` is untouched.
//!
//! Both renames stay within one directory (one filesystem): each is atomic,
//! and the directory is synced after them. Configuration files that live
//! outside `pgdata` are not touched; those inside it (`postgresql.conf`,
//! `pg_hba.conf`…) are the primary's after a re-clone, as after a
//! `pg_basebackup`.

use std::path::{Path, PathBuf};

use crate::bytes_path;

/// `<pgdata>.<kind>-<stamp>`, or with `-1`, `-2`… appended while that
/// name exists (`exists`). The trailing `/` of `pgdata` is ignored.
pub fn sibling(pgdata: &str, kind: &str, stamp: u64, exists: impl Fn(&str) -> bool) -> String {
    let base = format!("{}.{kind}-{stamp}", pgdata.trim_end_matches('/'));
    if !exists(&base) {
        return base;
    }
    (1u32..)
        .map(|n| format!("{base}-{n}"))
        .find(|p| !exists(p))
        .unwrap_or(base)
}

/// True when something (even a dangling link) has that path.
pub fn path_exists(path: &str) -> bool {
    std::fs::symlink_metadata(bytes_path::path(path)).is_ok()
}

/// Removes the partial clone `clone` (a directory this re-clone created).
///
/// # Errors
/// It could not be removed entirely.
pub fn remove_partial(clone: &str) -> Result<(), String> {
    match std::fs::remove_dir_all(bytes_path::path(clone)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("removing the partial clone {clone}: {e}")),
    }
}

/// Moves `pgdata` to `aside` and `clone` to `pgdata`; when the second
/// rename fails, `aside` is moved back. The parent directory is synced.
///
/// # Errors
/// A rename failed (the message says where each directory now is).
pub fn swap_in(pgdata: &str, clone: &str, aside: &str) -> Result<(), String> {
    let (p, c, a) = (
        bytes_path::path(pgdata.trim_end_matches('/')),
        bytes_path::path(clone),
        bytes_path::path(aside),
    );
    std::fs::rename(&p, &a)
        .map_err(|e| format!("moving {pgdata} aside to {aside}: {e}; the clone is in {clone}"))?;
    if let Err(e) = std::fs::rename(&c, &p) {
        let back = std::fs::rename(&a, &p);
        return Err(match back {
            Ok(()) => format!(
                "moving the clone {clone} to {pgdata}: {e}; {pgdata} was moved back, the clone is in {clone}"
            ),
            Err(b) => format!(
                "moving the clone {clone} to {pgdata}: {e}; moving {aside} back failed too ({b}): the old data directory is {aside}"
            ),
        });
    }
    sync_dir(p.parent().unwrap_or(Path::new("/")));
    Ok(())
}

/// fsync of a directory (its entries' renames made durable); best effort.
fn sync_dir(dir: &Path) {
    if let Ok(f) = std::fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

/// The parent directory of `pgdata` (`/` for a top-level one).
pub fn parent_of(pgdata: &str) -> PathBuf {
    bytes_path::path(pgdata.trim_end_matches('/'))
        .parent()
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sibling_names_never_reuse_an_existing_path() {
        assert_eq!(sibling("/d/data", "clone", 7, |_| false), "/d/data.clone-7");
        assert_eq!(
            sibling("/d/data/", "aside", 7, |_| false),
            "/d/data.aside-7"
        );
        let taken = ["/d/data.aside-7", "/d/data.aside-7-1"];
        assert_eq!(
            sibling("/d/data", "aside", 7, |p| taken.contains(&p)),
            "/d/data.aside-7-2"
        );
    }

    #[test]
    fn parents() {
        assert_eq!(
            parent_of("/var/lib/pgsql/data"),
            PathBuf::from("/var/lib/pgsql")
        );
        assert_eq!(parent_of("/data/"), PathBuf::from("/"));
        assert_eq!(parent_of("data"), PathBuf::from("/"));
    }

    #[test]
    fn swap_in_moves_both_and_keeps_the_old_one() {
        let dir = std::env::temp_dir().join(format!("pgsql-ra-swap-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let pgdata = dir.join("data");
        let clone = dir.join("data.clone-1");
        let aside = dir.join("data.aside-1");
        std::fs::create_dir_all(&pgdata).expect("mkdir");
        std::fs::create_dir_all(&clone).expect("mkdir");
        std::fs::write(pgdata.join("old"), "o").expect("write");
        std::fs::write(clone.join("new"), "n").expect("write");
        let s = |p: &PathBuf| p.to_string_lossy().into_owned();
        swap_in(&s(&pgdata), &s(&clone), &s(&aside)).expect("swaps");
        assert!(pgdata.join("new").exists());
        assert!(aside.join("old").exists());
        assert!(!clone.exists());
        // A missing clone: pgdata is moved back, nothing lost.
        let e = swap_in(&s(&pgdata), &s(&clone), &s(&dir.join("data.aside-2"))).unwrap_err();
        assert!(e.contains("moved back"), "{e}");
        assert!(pgdata.join("new").exists());
        remove_partial(&s(&aside)).expect("removes");
        assert!(!aside.exists());
        remove_partial(&s(&aside)).expect("already gone is fine");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
