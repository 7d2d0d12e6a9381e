//! `pgsql-ra`: the OCF resource agent binary that Pacemaker calls.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(action) = args.first() else {
        eprintln!("usage: pgsql-ra {{start|stop|status|monitor|promote|demote|notify|reload-agent|methods|meta-data|validate-all}}");
        return ExitCode::from(2);
    };
    match action.parse::<pgsql_ra_core::Action>() {
        Ok(a) => {
            eprintln!("ocf-exit-reason:action {a} is not implemented yet");
            ExitCode::from(3)
        }
        Err(e) => {
            eprintln!("ocf-exit-reason:{e}");
            ExitCode::from(3)
        }
    }
}
