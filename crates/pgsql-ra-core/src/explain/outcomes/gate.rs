//! [`Explain`] for the role gate's verdict ([`Gate`]).

use std::collections::BTreeMap;

use super::super::{snake, tag_of, Explain};
use super::inputs_of;
use crate::role_gate::{Gate, Refusal};

impl Explain for Gate {
    fn rule(&self) -> String {
        match self {
            Gate::PrimaryPath { .. } => "role_gate.primary_path".into(),
            Gate::Refused(r) => format!("role_gate.{}", snake(&tag_of(r, ""))),
        }
    }

    fn sentence(&self) -> String {
        match self {
            Gate::PrimaryPath { probe_score: true } => {
                "a probe keeps it as the only primary (score 1000, PR #1277)".into()
            }
            Gate::PrimaryPath { probe_score: false } => {
                "promoted by the cluster: runs the primary path".into()
            }
            Gate::Refused(r) => r.reason(),
        }
    }

    fn inputs(&self) -> BTreeMap<String, String> {
        match self {
            Gate::Refused(r) => match serde_json::to_value(r) {
                Ok(serde_json::Value::Object(m)) => m
                    .into_iter()
                    .next()
                    .map(|(_, v)| inputs_of(&v, &[]))
                    .unwrap_or_default(),
                _ => BTreeMap::new(),
            },
            Gate::PrimaryPath { .. } => BTreeMap::new(),
        }
    }

    fn would_change(&self) -> String {
        match self {
            Gate::PrimaryPath { .. } => String::new(),
            Gate::Refused(Refusal::ClusterUnreadable { .. }) => {
                "the cluster status becoming readable".into()
            }
            Gate::Refused(_) => {
                "Pacemaker recovers the instance (stop; its start is refused by PGSQL.lock); rebuild it from the cluster's primary".into()
            }
        }
    }
}
