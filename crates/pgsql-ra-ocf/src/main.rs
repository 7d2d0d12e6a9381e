//! `pgsql-ra`: the OCF resource agent binary that Pacemaker calls.

use std::process::ExitCode;

use pgsql_ra_core::Action;

fn usage() -> String {
    let names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
    format!("usage: pgsql-ra {{{}}}", names.join("|"))
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
            eprintln!("ocf-exit-reason:{e}");
            return ExitCode::from(3);
        }
    };
    match action {
        Action::MetaData => {
            let pgdata = std::env::var("OCF_RESKEY_pgdata")
                .unwrap_or_else(|_| "/var/lib/pgsql/data".to_string());
            print!("{}", pgsql_ra_core::metadata::render(&pgdata));
            ExitCode::SUCCESS
        }
        Action::Methods => {
            for a in Action::ALL {
                println!("\t{a}");
            }
            ExitCode::SUCCESS
        }
        other => {
            eprintln!("ocf-exit-reason:action {other} is not implemented yet");
            ExitCode::from(3)
        }
    }
}
