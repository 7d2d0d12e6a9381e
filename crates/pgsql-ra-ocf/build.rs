//! Build script of the `pgsql-ra` binary: records the git revision the agent
//! is built from, for `pgsql-ra --version` (issue 15).
//!
//! `PGSQL_RA_GIT_REV` is, in this order: the value of the environment
//! variable `PGSQL_RA_GIT_REV` at build time (a packager building from a
//! tarball can state the revision), else `git rev-parse --short HEAD` run in
//! this crate's directory followed by `-dirty` when a tracked file differs
//! from HEAD (`git status --porcelain --untracked-files=no` prints anything,
//! or cannot tell), else `unknown` (a tarball without `.git`, or no git
//! installed). A failing or missing git never fails the build.
//!
//! Cargo reruns this script when HEAD, the branch it points to, packed-refs
//! or the index change (a commit, a checkout, `git add`) and when any tracked
//! file changes: an edit that is not staged touches none of git's own files,
//! and a binary built from it must not claim to be the clean revision.

use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// A revision is printed as is: only short hex or `unknown` are accepted from
/// git, anything else (an odd environment value) is kept but made printable.
fn printable(rev: &str) -> String {
    rev.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(40)
        .collect()
}

/// Paths (absolute, existing) whose change makes the revision or the dirty
/// marker stale: git's HEAD, the branch, packed-refs and index (resolved by
/// `git rev-parse --git-path`, so a worktree's own HEAD and index, whose
/// `.git` is a file), and every tracked file of the work tree. Missing paths
/// are left out: cargo reruns a build script on every build while a path it
/// watches is missing (a deleted tracked file shows in the index anyway).
fn watched(dir: &Path) -> Vec<String> {
    let mut names = vec![
        "HEAD".to_string(),
        "packed-refs".to_string(),
        "index".to_string(),
    ];
    names.extend(git(dir, &["symbolic-ref", "-q", "HEAD"]));
    let mut paths: Vec<String> = names
        .iter()
        .filter_map(|p| git(dir, &["rev-parse", "--git-path", p]))
        .map(|p| dir.join(p).display().to_string())
        .collect();
    if let Some(top) = git(dir, &["rev-parse", "--show-toplevel"]) {
        let top = Path::new(&top);
        if let Some(files) = git(top, &["ls-files", "-z"]) {
            paths.extend(
                files
                    .split('\0')
                    .filter(|f| !f.is_empty())
                    .map(|f| top.join(f).display().to_string()),
            );
        }
    }
    paths.retain(|p| Path::new(p).is_file());
    paths
}

/// `-dirty` when a tracked file differs from HEAD, or when git cannot tell.
/// `--no-optional-locks`: git status would otherwise refresh and rewrite the
/// index, which this script watches (a rebuild on every build).
fn dirty_suffix(dir: &Path) -> &'static str {
    let out = Command::new("git")
        .args([
            "--no-optional-locks",
            "status",
            "--porcelain",
            "--untracked-files=no",
        ])
        .current_dir(dir)
        .output();
    match out {
        Ok(o) if o.status.success() && o.stdout.iter().all(u8::is_ascii_whitespace) => "",
        _ => "-dirty",
    }
}

fn main() {
    println!("cargo:rerun-if-env-changed=PGSQL_RA_GIT_REV");
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let dir = Path::new(&dir);
    let rev = match std::env::var("PGSQL_RA_GIT_REV") {
        Ok(v) if !printable(&v).is_empty() => printable(&v),
        _ => match git(dir, &["rev-parse", "--short", "HEAD"]) {
            Some(head) => {
                for path in watched(dir) {
                    println!("cargo:rerun-if-changed={path}");
                }
                format!("{}{}", printable(&head), dirty_suffix(dir))
            }
            None => "unknown".into(),
        },
    };
    println!("cargo:rustc-env=PGSQL_RA_GIT_REV={rev}");
}
