//! The binary's command line: usage, unknown actions, and meta-data/methods
//! answered without touching the cluster or PostgreSQL (no PATH at all).

use std::process::Command;

fn agent(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pgsql-ra"))
        .args(args)
        .env_clear()
        .env("OCF_RESKEY_pgdata", "/srv/pg")
        .output()
        .expect("the agent runs")
}

#[test]
fn wrong_argument_count_prints_usage_and_exits_2() {
    for args in [&[][..], &["start", "stop"][..]] {
        let out = agent(args);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("usage: pgsql-ra"));
    }
}

#[test]
fn unknown_action_exits_3() {
    let out = agent(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ocf-exit-reason:"));
}

#[test]
fn meta_data_and_methods_need_nothing() {
    let out = agent(&["meta-data"]);
    assert_eq!(out.status.code(), Some(0));
    let xml = String::from_utf8_lossy(&out.stdout);
    assert!(xml.contains("<resource-agent"), "{xml}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = agent(&["methods"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("monitor"));
}

/// The revision part of `--version` as build.rs makes it: `git rev-parse
/// --short HEAD` plus `-dirty` when a tracked file differs from HEAD, or the
/// packager's `PGSQL_RA_GIT_REV`, or `unknown` outside a git checkout (issue
/// 15). The test and the build see the same tree: build.rs reruns when any
/// tracked file or the index changes, and cargo builds before it tests.
fn expected_rev() -> String {
    if let Ok(v) = std::env::var("PGSQL_RA_GIT_REV") {
        if !v.is_empty() {
            return v;
        }
    }
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        None => "unknown".into(),
        Some(head) => {
            let status = git(&[
                "--no-optional-locks",
                "status",
                "--porcelain",
                "--untracked-files=no",
            ]);
            match status {
                Some(s) if s.is_empty() => head,
                _ => format!("{head}-dirty"),
            }
        }
    }
}

/// Whether `rev` has the form build.rs gives a git build: 7 to 40 lowercase
/// hex digits, optionally followed by `-dirty`.
fn is_git_rev(rev: &str) -> bool {
    let hex = rev.strip_suffix("-dirty").unwrap_or(rev);
    (7..=40).contains(&hex.len())
        && hex
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

#[test]
fn git_rev_form() {
    for ok in ["cb45954", "cb45954-dirty", &"a".repeat(40)] {
        assert!(is_git_rev(ok), "{ok}");
    }
    for bad in [
        "",
        "cb4595",
        "CB45954",
        "cb45954-",
        "cb45954-dirty-dirty",
        "unknown",
    ] {
        assert!(!is_git_rev(bad), "{bad}");
    }
}

/// Issue 12 item 6: `--version` and `--help` (`-V`, `-h`) answer on stdout
/// with 0; the OCF action interface is unchanged.
#[test]
fn version_and_help() {
    // Issue 15: `pgsql-ra <version> (git <rev>)`, the revision of the build
    // with its dirty marker (expected_rev).
    let rev = expected_rev();
    if std::env::var_os("PGSQL_RA_GIT_REV").is_none() {
        assert!(rev == "unknown" || is_git_rev(&rev), "{rev}");
    }
    for flag in ["--version", "-V"] {
        let out = agent(&[flag]);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("pgsql-ra {} (git {rev})\n", env!("CARGO_PKG_VERSION")),
            "{flag}"
        );
        assert!(out.stderr.is_empty(), "{flag}");
    }
    for flag in ["--help", "-h"] {
        let out = agent(&[flag]);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("usage: pgsql-ra"), "{text}");
        for word in [
            "start",
            "promote",
            "meta-data",
            "validate-all",
            "OCF_RESKEY_",
            "--version",
        ] {
            assert!(text.contains(word), "{flag} lacks {word}: {text}");
        }
        assert!(out.stderr.is_empty(), "{flag}");
    }
    // Still an unknown action for anything else that looks like an option.
    assert_eq!(agent(&["--frobnicate"]).status.code(), Some(3));
}

/// Issue 12 item 4: Pacemaker keeps 128 characters of an exit reason. A
/// longer reason is shortened to fit and says so; the full text is in the
/// log (stderr here: no HA_LOGFACILITY).
#[test]
fn long_exit_reasons_fit_in_128_characters_and_the_log_has_the_full_text() {
    let long = "x".repeat(200);
    let out = Command::new(env!("CARGO_BIN_EXE_pgsql-ra"))
        .arg("validate-all")
        .env_clear()
        .env("OCF_RESKEY_pgdata", "/srv/pg")
        .env("OCF_RESKEY_rep_mode", &long)
        .output()
        .expect("the agent runs");
    assert_eq!(out.status.code(), Some(6));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let reason = stderr
        .lines()
        .find_map(|l| l.strip_prefix("ocf-exit-reason:"))
        .expect("an exit reason");
    assert!(reason.len() <= 128, "{} bytes: {reason}", reason.len());
    assert!(reason.contains("rep_mode"), "{reason}");
    assert!(reason.ends_with("(full text in the log)"), "{reason}");
    let full = stderr
        .lines()
        .find(|l| l.starts_with("ERROR: ") && l.contains(&long))
        .unwrap_or_else(|| panic!("the full reason is not logged: {stderr}"));
    assert!(full.contains("use none, async, sync or slave"), "{full}");
}

/// Issue 12 item 4: every problem is reported, one log line each; the exit
/// reason names the first and how many more there are.
#[test]
fn every_parameter_problem_is_logged_and_the_reason_counts_the_others() {
    let out = Command::new(env!("CARGO_BIN_EXE_pgsql-ra"))
        .arg("validate-all")
        .env_clear()
        .env("OCF_RESKEY_pgdata", "relative/pg")
        .env("OCF_RESKEY_pgport", "not-a-port")
        .env("OCF_RESKEY_monitor_password", "x")
        .output()
        .expect("the agent runs");
    assert_eq!(out.status.code(), Some(6));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("ERROR: "))
        .collect();
    for word in ["pgport", "monitor_user", "pgdata"] {
        assert_eq!(
            errors.iter().filter(|l| l.contains(word)).count(),
            1,
            "one line for {word}: {stderr}"
        );
    }
    let reason = stderr
        .lines()
        .find_map(|l| l.strip_prefix("ocf-exit-reason:"))
        .expect("an exit reason");
    assert!(reason.contains("and 2 more problems"), "{reason}");
    assert!(reason.len() <= 128, "{reason}");
}
