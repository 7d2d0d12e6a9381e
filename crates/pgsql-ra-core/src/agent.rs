//! The agent for one invocation: parameters, context and derived names, and
//! the dispatch of an [`Action`] to its logic over a [`World`].

use std::collections::BTreeMap;
use std::time::Duration;

use crate::action::Action;
use crate::actions::{self, Ctx};
use crate::attrs::Attrs;
use crate::budget::{default_timeout, Budget};
use crate::context::ClusterContext;
use crate::names::AttributeNames;
use crate::ocf::{OcfExit, Outcome};
use crate::params::{ParamError, Params, RepMode};
use crate::ports::{LogLevel, World};
use crate::validate::{self, MachineFacts};

/// Everything an invocation knows before it touches the world.
#[derive(Debug, Clone)]
pub struct Agent {
    /// The parsed parameters (defaults stand in for bad values).
    pub params: Params,
    /// Parameters whose values were rejected.
    pub param_errors: Vec<ParamError>,
    /// Pacemaker's context.
    pub context: ClusterContext,
    /// Attribute names derived from the resource.
    pub names: AttributeNames,
}

impl Agent {
    /// Builds the agent from the environment-style map (full variable names:
    /// `OCF_RESKEY_pgdata`, `OCF_RESOURCE_INSTANCE`, …).
    pub fn from_env_map(env: &BTreeMap<String, String>) -> Agent {
        let reskeys: BTreeMap<String, String> = env
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("OCF_RESKEY_")
                    .filter(|name| !name.starts_with("CRM_meta_"))
                    .map(|name| (name.to_string(), v.clone()))
            })
            .collect();
        let (params, param_errors) = Params::parse(&reskeys);
        let context = ClusterContext::from_env_map(env);
        let names = AttributeNames::for_instance(&context.instance);
        Agent {
            params,
            param_errors,
            context,
            names,
        }
    }

    /// Runs one action: validation (level 0, then level 10 on the machine),
    /// then the action's logic. `meta-data` and `methods` are answered by
    /// the shim and succeed here without touching the world.
    pub fn run(&self, action: Action, world: &mut World<'_>) -> Outcome {
        match action {
            Action::MetaData | Action::Methods => return Outcome::success(),
            // Without a resource name every attribute would be named
            // `-status`, `-xlog-loc`…: refused, except by stop (which must
            // stop the server; it addresses no attribute of another resource).
            Action::Stop => {}
            _ if self.params.rep_mode.is_replication()
                && crate::names::resource_name(&self.context.instance).is_empty() =>
            {
                return fail_logged(
                    world,
                    OcfExit::ErrConfigured,
                    format!(
                        "OCF_RESOURCE_INSTANCE={} names no resource: rep_mode={} needs it to name the node attributes",
                        crate::quote::quoted(&self.context.instance),
                        self.params.rep_mode.as_str()
                    ),
                );
            }
            Action::ValidateAll => return self.validate_all(world),
            _ => {}
        }
        let budget = Budget::new(action, world.clock.now(), self.context.timeout_ms);
        let probe = action == Action::Monitor && self.context.is_probe();
        let problems = validate::parameter_problems(self);
        if validate::summarize(&problems).is_err() {
            // Level-0 problems first, then the machine's (level 10), so that
            // a bad pgport does not hide a missing pg_ctl (issue 12, attack
            // finding 5); the exit code is the first problem's. A stop goes
            // on with the defaults and checks the machine below.
            let problems = if action == Action::Stop {
                problems
            } else {
                let (_, machine) = validate::machine_problems(self, world, probe);
                validate::merge_problems(&problems, machine)
            };
            log_each_problem(world, &problems, action == Action::Stop);
            if let Err(o) = validate::summarize(&problems) {
                if let Some(early) = self.on_bad_parameters(action, world, &o) {
                    return early;
                }
            }
        }
        let (facts, machine) = validate::machine_problems(self, world, probe);
        let facts = match validate::summarize(&machine) {
            Ok(()) => facts,
            Err(o) => {
                log_each_problem(world, &machine, action == Action::Stop);
                match self.on_machine_failure(action, world, o) {
                    Ok(f) => f,
                    Err(o) => return o,
                }
            }
        };
        if action == Action::Start {
            if let Err(o) = validate::check_tmpdir(self, world) {
                return fail_logged(world, o.code, o.reason.unwrap_or_default());
            }
        }
        let local = match world.cluster.local_node() {
            Ok(n) => n,
            // A single PostgreSQL (rep_mode=none) never uses the node name, so
            // it is managed even where no cluster answers (ocf-tester, tests).
            Err(e) if self.params.rep_mode == RepMode::None => {
                world.log.log(
                    LogLevel::Debug,
                    &format!("local node name unknown, not needed with rep_mode=none: {e}"),
                );
                String::new()
            }
            // A stop needs no name to stop the server; it skips the
            // attributes (see actions::stop).
            Err(e) if action == Action::Stop => {
                world.log.log(
                    LogLevel::Warn,
                    &format!("Can't get the local node name: {e}; stopping without it"),
                );
                String::new()
            }
            Err(e) => {
                return fail_logged(
                    world,
                    OcfExit::ErrGeneric,
                    format!("Can't get the local node name: {e}"),
                )
            }
        };
        let nodes = if self.params.rep_mode.is_replication() {
            match world.cluster.nodes() {
                Ok(n) => n,
                Err(e) => {
                    if action != Action::Stop {
                        return fail_logged(
                            world,
                            OcfExit::ErrGeneric,
                            format!("Can't read the cluster nodes: {e}"),
                        );
                    }
                    world.log.log(
                        LogLevel::Warn,
                        &format!("Can't read the cluster nodes: {e}"),
                    );
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        let attrs = Attrs::new(self.names.clone(), &local, nodes);
        let mut ctx = Ctx {
            agent: self,
            world,
            facts,
            budget,
            attrs,
            probe,
        };
        let outcome = match action {
            Action::Start => actions::start(&mut ctx),
            Action::Stop => actions::stop(&mut ctx),
            Action::Monitor => {
                ctx.warn_cluster_problems();
                actions::monitor(&mut ctx)
            }
            Action::Promote => actions::promote(&mut ctx),
            Action::Demote => actions::demote(&mut ctx),
            Action::Notify => actions::notify(&mut ctx),
            Action::Status => actions::status(&mut ctx),
            Action::ReloadAgent => actions::reload(&mut ctx),
            Action::ValidateAll | Action::MetaData | Action::Methods => Outcome::success(),
        };
        for refusal in ctx.attrs.take_refusals() {
            ctx.log(LogLevel::Warn, &refusal);
        }
        outcome
    }

    /// `validate-all`: the parameters and the `pgdba` user (stock B1, basic:
    /// 5 at any level, stock §1.9), and the machine at check level 10. All
    /// problems are collected, level 0 first (a configuration that can never
    /// work), then the machine's; one log line each, the exit reason names
    /// the first (whose code is returned) and how many more there are.
    fn validate_all(&self, world: &mut World<'_>) -> Outcome {
        let problems = if self.context.check_level >= 10 {
            let level0 = validate::parameter_problems(self);
            let (_, mut machine) = validate::machine_problems(self, world, false);
            machine.extend(validate::tmpdir_problem(self, world));
            let timeout = self
                .context
                .timeout_ms
                .map_or(default_timeout(Action::ValidateAll), Duration::from_millis);
            let wait = (timeout / 2).clamp(Duration::from_secs(1), Duration::from_secs(10));
            let (rewind, notes) = validate::rewind_prerequisite_problems(self, world, wait);
            for note in notes {
                world.log.log(
                    LogLevel::Info,
                    &format!("pg_rewind's prerequisites (crash_rejoin): {note}"),
                );
            }
            machine.extend(rewind);
            validate::merge_problems(&level0, machine)
        } else {
            let level0 = validate::shape_free_parameter_problems(self);
            let basic = validate::pgdba_problem(self, world).into_iter().collect();
            validate::merge_problems(&level0, basic)
        };
        log_each_problem(world, &problems, false);
        match validate::summarize(&problems) {
            Ok(()) => Outcome::success(),
            Err(o) => o,
        }
    }

    /// A parameter error. `stop` goes on with the defaults standing in for
    /// the bad values (bug A: stop never fails or hangs because of a
    /// parameter). `monitor`/`status` answer 7 when no postmaster is alive,
    /// otherwise the error's code; other actions fail with it.
    fn on_bad_parameters(
        &self,
        action: Action,
        world: &mut World<'_>,
        o: &Outcome,
    ) -> Option<Outcome> {
        let reason = o.reason.clone().unwrap_or_default();
        match action {
            Action::Stop => {
                world.log.log(
                    LogLevel::Warn,
                    &format!("{reason}; stopping with the defaults for the bad values"),
                );
                None
            }
            Action::Monitor | Action::Status
                if matches!(world.server.postmaster_pid(), Ok(None)) =>
            {
                world.log.log(LogLevel::Err, &reason);
                Some(Outcome::fail(OcfExit::NotRunning, reason))
            }
            _ => Some(fail_logged(world, o.code, reason)),
        }
    }

    /// A machine check failed. A stop of a server that is not running still
    /// succeeds (the resource is stopped; a failed stop means fencing), and a
    /// stop of a running one goes on (nothing the check covers, e.g.
    /// `config`, is needed to stop it; the server port signals the
    /// postmaster when `pgctl` itself is missing). `Ok`: the facts to stop
    /// with; `Err`: the outcome of the action.
    fn on_machine_failure(
        &self,
        action: Action,
        world: &mut World<'_>,
        o: Outcome,
    ) -> Result<MachineFacts, Outcome> {
        let reason = o.reason.clone().unwrap_or_default();
        if action == Action::Stop {
            match world.server.postmaster_pid() {
                Ok(None) => {
                    world.log.log(
                        LogLevel::Warn,
                        &format!("{reason}; PostgreSQL is not running, so the stop succeeds"),
                    );
                    return Err(Outcome::success());
                }
                Ok(Some(_)) => {
                    world.log.log(
                        LogLevel::Warn,
                        &format!("{reason}; stopping the running PostgreSQL anyway"),
                    );
                    return Ok(validate::stop_facts(self, world));
                }
                Err(_) => {}
            }
        }
        world.log.log(LogLevel::Err, &reason);
        Err(o)
    }
}

/// Logs the reason at error level and returns the failed outcome.
/// Several parameter problems: one log line each (error; warning for a
/// stop, which goes on). A single problem is the exit reason alone.
fn log_each_problem(world: &mut World<'_>, problems: &[crate::params::ParamError], stop: bool) {
    if problems.len() < 2 {
        return;
    }
    let level = if stop { LogLevel::Warn } else { LogLevel::Err };
    for p in problems {
        world.log.log(level, &p.message);
    }
}

fn fail_logged(world: &mut World<'_>, code: OcfExit, reason: String) -> Outcome {
    world.log.log(LogLevel::Err, &reason);
    Outcome::fail(code, reason)
}
