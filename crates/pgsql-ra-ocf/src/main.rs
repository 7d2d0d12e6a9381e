//! `pgsql-ra`: the OCF resource agent binary that Pacemaker calls. It reads
//! the environment once, answers `meta-data`/`methods` without touching
//! anything, and otherwise runs the core's action over the real ports.

use std::collections::BTreeMap;
use std::process::ExitCode;

use pgsql_ra_core::ocf::OcfExit;
use pgsql_ra_core::ports::LogLevel;
use pgsql_ra_core::{Action, Agent};
use pgsql_ra_ocf::log::format_line;
use pgsql_ra_ocf::raw_env;
use pgsql_ra_ocf::wiring::RealWorld;

fn usage() -> String {
    let names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
    format!("usage: pgsql-ra {{{}}}", names.join("|"))
}

fn exit(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn finish(
    env: &BTreeMap<String, String>,
    level: LogLevel,
    code: OcfExit,
    reason: &str,
) -> ExitCode {
    eprintln!("{}", format_line(level, reason));
    if code != OcfExit::Success {
        let prefix = env
            .get("OCF_EXIT_REASON_PREFIX")
            .map(String::as_str)
            .unwrap_or("ocf-exit-reason:");
        eprintln!("{prefix}{}", reason.replace('\n', " "));
    }
    exit(code.code())
}

/// An agent variable is not valid UTF-8 (see `raw_env`): never a default
/// in its place. `stop` acts on exactly the given data directory; the
/// monitor says "not running" when nothing runs there; everything else is
/// OCF_ERR_CONFIGURED naming the variable.
fn unreadable_values(
    action: Action,
    env: &BTreeMap<String, String>,
    unreadable: &[raw_env::Unreadable],
) -> ExitCode {
    let reason = raw_env::reason(unreadable);
    match action {
        Action::Stop => match raw_env::stop_exact(env, unreadable) {
            raw_env::StopResult::Stopped(what) => finish(
                env,
                LogLevel::Warn,
                OcfExit::Success,
                &format!("{reason}; {what}"),
            ),
            raw_env::StopResult::Failed(what) => finish(
                env,
                LogLevel::Err,
                OcfExit::ErrGeneric,
                &format!("{reason}; {what}"),
            ),
        },
        Action::Monitor | Action::Status => {
            let pgdata = raw_env::exact_pgdata(env, unreadable);
            match raw_env::running_at(&pgdata) {
                Ok(None) => finish(env, LogLevel::Err, OcfExit::NotRunning, &reason),
                _ => finish(env, LogLevel::Err, OcfExit::ErrConfigured, &reason),
            }
        }
        _ => finish(env, LogLevel::Err, OcfExit::ErrConfigured, &reason),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 1 {
        eprintln!("{}", usage());
        return ExitCode::from(2);
    }
    let action = match args[0].parse::<Action>() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{}", usage());
            eprintln!("ocf-exit-reason:{e}");
            return ExitCode::from(3);
        }
    };
    let (env, unreadable) = raw_env::split_env(std::env::vars_os());
    // No secret stays in this process's environment either (children get
    // none in any case: command::run_command removes them).
    for k in pgsql_ra_ocf::command::secret_vars() {
        std::env::remove_var(k);
    }
    if !unreadable.is_empty() && !matches!(action, Action::MetaData | Action::Methods) {
        return unreadable_values(action, &env, &unreadable);
    }
    match action {
        Action::MetaData => {
            let pgdata = env
                .get("OCF_RESKEY_pgdata")
                .map(String::as_str)
                .unwrap_or("/var/lib/pgsql/data");
            print!("{}", pgsql_ra_core::metadata::render(pgdata));
            ExitCode::SUCCESS
        }
        Action::Methods => {
            for a in Action::ALL {
                println!("\t{a}");
            }
            ExitCode::SUCCESS
        }
        other => {
            let agent = Agent::from_env_map(&env);
            let mut real = RealWorld::new(&env, &agent);
            let outcome = agent.run(other, &mut real.world());
            if let Some(reason) = outcome.reason.as_deref().filter(|r| !r.is_empty()) {
                let prefix = env
                    .get("OCF_EXIT_REASON_PREFIX")
                    .map(String::as_str)
                    .unwrap_or("ocf-exit-reason:");
                eprintln!("{prefix}{}", reason.replace('\n', " "));
            }
            exit(outcome.code.code())
        }
    }
}
