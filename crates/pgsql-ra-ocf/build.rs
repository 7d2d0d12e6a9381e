//! Build script of the `pgsql-ra` binary: records the git revision the agent
//! is built from, for `pgsql-ra --version` (issue 15).
//!
//! `PGSQL_RA_GIT_REV` is, in this order: the value of the environment
//! variable `PGSQL_RA_GIT_REV` at build time (a packager building from a
//! tarball can state the revision), else `git rev-parse --short HEAD` run in
//! this crate's directory, else `unknown` (a tarball without `.git`, or no
//! git installed). A failing or missing git never fails the build.

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

fn main() {
    println!("cargo:rerun-if-env-changed=PGSQL_RA_GIT_REV");
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let dir = Path::new(&dir);
    let rev = match std::env::var("PGSQL_RA_GIT_REV") {
        Ok(v) if !printable(&v).is_empty() => printable(&v),
        _ => {
            // Rebuild when HEAD moves: HEAD itself, the branch it points to
            // and packed-refs (paths resolved by git, worktrees included).
            // Only files that exist: cargo reruns a build script on every
            // build while a path it watches is missing.
            let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
            watched.extend(git(dir, &["symbolic-ref", "-q", "HEAD"]));
            for p in &watched {
                if let Some(path) = git(dir, &["rev-parse", "--git-path", p]) {
                    let path = dir.join(path);
                    if path.exists() {
                        println!("cargo:rerun-if-changed={}", path.display());
                    }
                }
            }
            git(dir, &["rev-parse", "--short", "HEAD"])
                .map(|r| printable(&r))
                .unwrap_or_else(|| "unknown".into())
        }
    };
    println!("cargo:rustc-env=PGSQL_RA_GIT_REV={rev}");
}
