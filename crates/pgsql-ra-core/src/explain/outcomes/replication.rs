//! [`Explain`] for the primary's classification of a standby
//! ([`crate::replication::classify_row`]).

use std::collections::BTreeMap;

use serde::Serialize;

use super::super::{Explain, Implied};
use super::pg;
use crate::ports::ReplicationRow;
use crate::replication::{Handover, StandbyDecision};

/// The primary's classification of one node_list standby
/// ([`crate::replication::classify_row`]), with the inputs it read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classification {
    /// The decision.
    pub decision: StandbyDecision,
    /// Its row of `pg_stat_replication` (`None`: absent).
    pub row: Option<ReplicationRow>,
    /// Where it stands with the handover baseline.
    pub handover: Handover,
}

impl Explain for Classification {
    fn rule(&self) -> String {
        match &self.decision.ineligible {
            Some(i) => i.rule(),
            None => {
                // The promotable branches of classify_row.
                let flushed = self.row.as_ref().and_then(|r| r.flush_lsn);
                if !self.decision.data_status.is_streaming("SYNC") {
                    "replication.streaming_async_two_nodes".into()
                } else {
                    match (self.handover, flushed) {
                        (Handover::At(_), Some(_)) => "replication.streaming_sync_caught_up".into(),
                        (Handover::At(_), None) => "replication.streaming_sync_no_flush_lsn".into(),
                        _ => "replication.streaming_sync".into(),
                    }
                }
            }
        }
    }

    fn sentence(&self) -> String {
        let d = &self.decision;
        let flushed = self
            .row
            .as_ref()
            .and_then(|r| r.flush_lsn)
            .map(|f| format!(", flushed {}", f.to_pg()))
            .unwrap_or_default();
        let baseline = match self.handover {
            Handover::At(b) => format!(" (handover baseline {})", b.to_pg()),
            _ => String::new(),
        };
        format!("{}{flushed}{baseline}: {}", d.data_status, d.reason)
    }

    fn inputs(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        match &self.row {
            Some(r) => {
                m.insert("state".into(), r.state.clone());
                m.insert("sync_state".into(), r.sync_state.clone());
                if let Some(f) = r.flush_lsn {
                    m.insert("flush_lsn".into(), pg(f));
                }
                if let Some(f) = r.replay_lsn {
                    m.insert("replay_lsn".into(), pg(f));
                }
            }
            None => {
                m.insert("row".into(), "absent from pg_stat_replication".into());
            }
        }
        match self.handover {
            Handover::At(b) => {
                m.insert("handover_baseline".into(), pg(b));
            }
            Handover::Unrecorded => {
                m.insert("handover_baseline".into(), "unknown".into());
            }
            Handover::NotWaiting => {}
        }
        if let Some(i) = &self.decision.ineligible {
            m.extend(i.inputs());
        }
        m
    }

    fn implies(&self) -> Implied {
        Implied {
            score: Some(self.decision.score.to_string()),
            data_status: Some(self.decision.data_status.to_string()),
            pgsql_status: self.decision.status.clone(),
            keeps_sync_score: false,
        }
    }

    fn would_change(&self) -> String {
        match &self.decision.ineligible {
            Some(i) => i.would_change(),
            None => "its replication leaving STREAMING or its sync_state changing".into(),
        }
    }
}
