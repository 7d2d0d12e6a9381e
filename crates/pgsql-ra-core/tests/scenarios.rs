//! Runs every data-driven scenario in `fixtures/*.txt` through the simulator
//! and compares the transcript with the expected output.
//!
//! * `REWRITE=1 cargo test --test scenarios` regenerates the expected
//!   outputs, prints the diff of every file it changed and then FAILS, so a
//!   rewrite can never pass silently; review the diff against the spec and
//!   run again. It is refused when `CI` is set.
//! * A harness `error:` line (an unknown command, a bad argument, a missing
//!   node) fails the scenario unless the block declares it with a comment
//!   line `# expect-error` right before its command.

use std::path::{Path, PathBuf};

use pgsql_ra_core::sim::script::{parse, run_script};

/// The comment that declares a block expects a harness error.
const EXPECT_ERROR: &str = "# expect-error";

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// A unified-looking line diff (changed lines only, with line numbers).
fn diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let mut out = String::new();
    for i in 0..a.len().max(b.len()) {
        match (a.get(i), b.get(i)) {
            (Some(x), Some(y)) if x == y => {}
            (x, y) => {
                if let Some(x) = x {
                    out.push_str(&format!("{:>4} - {x}\n", i + 1));
                }
                if let Some(y) = y {
                    out.push_str(&format!("{:>4} + {y}\n", i + 1));
                }
            }
        }
    }
    out
}

/// The blocks of `actual` whose output holds a harness `error:` line
/// without an `# expect-error` declaration.
fn undeclared_errors(path: &Path, actual: &str) -> Vec<String> {
    parse(actual)
        .into_iter()
        .filter(|b| b.expected.iter().any(|l| l.starts_with("error:")))
        .filter(|b| !b.comments.iter().any(|c| c.trim() == EXPECT_ERROR))
        .map(|b| {
            format!(
                "{}: `{}` failed in the harness ({}) without `{EXPECT_ERROR}`",
                path.display(),
                b.command,
                b.expected.join(" / ")
            )
        })
        .collect()
}

#[test]
fn every_scenario_file_matches_its_transcript() {
    let rewrite = std::env::var("REWRITE").is_ok_and(|v| v == "1");
    assert!(
        !(rewrite && std::env::var_os("CI").is_some()),
        "REWRITE=1 is refused when CI is set: transcripts are reviewed, not regenerated, in CI"
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scenario files found");
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("readable scenario");
        let (actual, mismatches) = run_script(&text);
        failures.extend(undeclared_errors(path, &actual));
        if rewrite {
            if actual != text {
                std::fs::write(path, &actual).expect("writable scenario");
                failures.push(format!(
                    "{}: rewritten; review the diff and run again without REWRITE:\n{}",
                    path.display(),
                    diff(&text, &actual)
                ));
            }
        } else {
            for m in mismatches {
                failures.push(format!("{}: {m}", path.display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn an_undeclared_harness_error_fails_and_a_declared_one_does_not() {
    let script = "setup\n----\nok\n\nfrobnicate node1\n----\nerror: unknown command frobnicate\n";
    let (actual, mismatches) = run_script(script);
    assert!(mismatches.is_empty(), "{mismatches:?}");
    assert_eq!(undeclared_errors(Path::new("t"), &actual).len(), 1);
    let declared = format!("setup\n----\nok\n\n{EXPECT_ERROR}\nfrobnicate node1\n----\nerror: unknown command frobnicate\n");
    let (actual, _) = run_script(&declared);
    assert!(undeclared_errors(Path::new("t"), &actual).is_empty());
}
