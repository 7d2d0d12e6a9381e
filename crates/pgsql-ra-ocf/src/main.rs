//! `pgsql-ra`: the OCF resource agent binary that Pacemaker calls. It reads
//! the environment once, answers `meta-data`/`methods` without touching
//! anything, and otherwise runs the core's action over the real ports.

use std::process::ExitCode;

use pgsql_ra_core::{Action, Agent};
use pgsql_ra_ocf::wiring::RealWorld;
use pgsql_ra_ocf::{bytes_path, raw_env};

/// The version and the git revision it was built from (`build.rs`: `git
/// rev-parse --short HEAD`, or `unknown` outside a git checkout), as
/// `--version` prints it after the program name (issue 15).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("PGSQL_RA_GIT_REV"),
    ")"
);

fn usage() -> String {
    let names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
    format!("usage: pgsql-ra {{{}}}", names.join("|"))
}

/// `--help`: what the binary is and how Pacemaker drives it.
fn help() -> String {
    format!(
        "pgsql-ra {version}: OCF resource agent for PostgreSQL (drop-in for ocf:heartbeat:pgsql)\n\
         \n\
         {usage}\n\
         \x20      pgsql-ra --version | --help\n\
         \x20      pgsql-ra status [--json] | explain [NODE] [--json] | history [--json] [-n N]\n\
         \n\
         Pacemaker runs one action per call; the parameters come from the environment as\n\
         OCF_RESKEY_<name> (see `pgsql-ra meta-data`), with OCF_RESOURCE_INSTANCE and the\n\
         OCF_RESKEY_CRM_meta_* variables. The exit code is the OCF code of the action.\n\
         Install as /usr/lib/ocf/resource.d/pgsql-ra/pgsql and use ocf:pgsql-ra:pgsql.\n",
        version = VERSION,
        usage = usage()
    )
}

fn exit(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| bytes_path::decode(&a))
        .collect();
    // The operator subcommands (issue 13); OCF actions are untouched.
    let process_env = raw_env::env_map(std::env::vars_os());
    if pgsql_ra_ocf::operator::is_operator_command(&args, &process_env) {
        for k in pgsql_ra_ocf::command::secret_vars() {
            std::env::remove_var(k);
        }
        return pgsql_ra_ocf::operator::run(&args, &process_env);
    }
    if args.len() != 1 {
        eprintln!("{}", usage());
        return ExitCode::from(2);
    }
    match args[0].as_str() {
        "--version" | "-V" => {
            println!("pgsql-ra {VERSION}");
            return ExitCode::SUCCESS;
        }
        "--help" | "-h" => {
            print!("{}", help());
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let action = match args[0].parse::<Action>() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{}", usage());
            eprintln!("ocf-exit-reason:{}", bytes_path::display(&e.to_string()));
            return ExitCode::from(3);
        }
    };
    // Every value, decoded losslessly (a path that is not UTF-8 is legal).
    let env = raw_env::env_map(std::env::vars_os());
    // No secret stays in this process's environment either (children get
    // none in any case: command::run_command removes them).
    for k in pgsql_ra_ocf::command::secret_vars() {
        std::env::remove_var(k);
    }
    match action {
        Action::MetaData => {
            let pgdata = env
                .get("OCF_RESKEY_pgdata")
                .map(String::as_str)
                .unwrap_or("/var/lib/pgsql/data");
            print!(
                "{}",
                pgsql_ra_core::metadata::render(&bytes_path::display(pgdata))
            );
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
            let mut real = RealWorld::for_action(&env, &agent, other);
            real.connect_early(&agent, other);
            real.log_debug(&format!("{other} (pgsql-ra {VERSION})"));
            let outcome = agent.run(other, &mut real.world());
            if let Some(reason) = outcome.reason.as_deref().filter(|r| !r.is_empty()) {
                let shown = bytes_path::display(reason).replace('\n', " ");
                let shortened = pgsql_ra_ocf::log::shorten_exit_reason(&shown);
                if shortened.is_some() {
                    // Pacemaker keeps 128 bytes: the whole text goes to the log.
                    real.log_error_once(reason);
                } else {
                    real.log_exit_reason(reason);
                }
                let prefix = env
                    .get("OCF_EXIT_REASON_PREFIX")
                    .map(String::as_str)
                    .unwrap_or("ocf-exit-reason:");
                eprintln!("{prefix}{}", shortened.unwrap_or(shown));
            }
            exit(outcome.code.code())
        }
    }
}
