//! Issue 12 (re-attack item 8): no Rust debug formatting (`{:?}`, `{x:?}`)
//! in text an operator reads: log lines, exit reasons, errors. Durations read
//! in seconds (`pgsql_ra_core::quote::seconds`), values quoted with
//! `pgsql_ra_core::quote::quoted`. Scans the non-test code of both crates
//! (test modules, test doubles and assertions may use debug text).

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read a source directory") {
        let path = e.expect("dir entry").path();
        if path.is_dir() {
            // In-memory ports and the simulator are test doubles.
            if !matches!(
                path.file_name().and_then(|n| n.to_str()),
                Some("sim" | "memory")
            ) {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|x| x == "rs")
            && path.file_name().is_some_and(|n| n != "tests.rs")
        {
            out.push(path);
        }
    }
}

/// Whether `line` formats a value with `Debug`.
fn has_debug_format(line: &str) -> bool {
    let mut rest = line;
    while let Some(i) = rest.find(":?}").or_else(|| rest.find(":#?}")) {
        let before = &rest[..i];
        // `{:?}` or `{name:?}`: the opening brace with an identifier or
        // nothing between.
        if let Some(open) = before.rfind('{') {
            let name = &before[open + 1..];
            if name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            {
                return true;
            }
        }
        rest = &rest[i + 3..];
    }
    false
}

#[test]
fn operator_facing_text_has_no_debug_formatting() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for krate in ["pgsql-ra-core", "pgsql-ra-ocf"] {
        rust_files(&crates.join(krate).join("src"), &mut files);
    }
    assert!(files.len() > 50, "found only {} files", files.len());
    let mut found = Vec::new();
    for path in &files {
        let shown = path
            .strip_prefix(&crates)
            .unwrap_or(path)
            .display()
            .to_string();
        let text = std::fs::read_to_string(path).expect("read a source file");
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("#[cfg(test)]") {
                break;
            }
            let code = line.trim_start();
            if code.starts_with("//")
                || ["assert", "debug_assert", "panic!", "unreachable!"]
                    .iter()
                    .any(|m| code.contains(m))
            {
                continue;
            }
            if has_debug_format(line) {
                found.push(format!("{shown}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "debug formatting in operator-facing text:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scan_recognises_debug_formatting() {
    assert!(has_debug_format(r#"format!("killed after {timeout:?}")"#));
    assert!(has_debug_format(r#"format!("{:?}", x)"#));
    assert!(has_debug_format(r#"format!("{self.x:#?}")"#));
    assert!(!has_debug_format(r#"format!("{x} and {y}")"#));
    assert!(!has_debug_format(r#"let m = "a:?}";"#));
}
