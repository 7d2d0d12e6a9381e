//! The agent for one invocation: parameters, context and derived names, and
//! the dispatch of an [`Action`] to its logic over a [`World`].

use std::collections::BTreeMap;

use crate::action::Action;
use crate::context::ClusterContext;
use crate::names::AttributeNames;
use crate::ocf::{OcfExit, Outcome};
use crate::params::{ParamError, Params};
use crate::ports::World;

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
        Agent { params, param_errors, context, names }
    }

    /// Runs one action. `meta-data` and `methods` are answered by the shim.
    pub fn run(&self, action: Action, world: &mut World<'_>) -> Outcome {
        let _ = world;
        Outcome::fail(
            OcfExit::ErrUnimplemented,
            format!("action {action} is not implemented yet"),
        )
    }
}
