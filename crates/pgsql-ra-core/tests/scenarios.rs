//! Runs every data-driven scenario in `fixtures/*.txt` through the simulator
//! and compares the transcript with the expected output. `REWRITE=1 cargo
//! test --test scenarios` regenerates the expected outputs (review the diff
//! against the spec before committing).

use std::path::PathBuf;

use pgsql_ra_core::sim::script::run_script;

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

#[test]
fn every_scenario_file_matches_its_transcript() {
    let rewrite = std::env::var("REWRITE").is_ok_and(|v| v == "1");
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
        if rewrite {
            if actual != text {
                std::fs::write(path, &actual).expect("writable scenario");
            }
        } else {
            for m in mismatches {
                failures.push(format!("{}: {m}", path.display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
