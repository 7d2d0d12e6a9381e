//! [`Explain`] for every [`Ineligible`] reason: rule `ineligible.<variant>`.

use std::collections::BTreeMap;

use super::super::{tag_of, Explain, Implied};
use super::inputs_of;
use crate::ineligible::Effect;
use crate::ineligible::Ineligible;
use crate::lsn::Lsn;
use crate::score::Score;

impl Explain for Ineligible {
    fn rule(&self) -> String {
        format!("ineligible.{}", tag_of(self, "reason"))
    }

    fn sentence(&self) -> String {
        self.to_string()
    }

    fn inputs(&self) -> BTreeMap<String, String> {
        let mut m = inputs_of(self, &["reason"]);
        // LSNs in the form operators read elsewhere (`X/Y`).
        for (k, v) in m.iter_mut() {
            if matches!(k.as_str(), "baseline" | "flushed" | "mine" | "promotee") {
                if let Ok(l) = Lsn::parse_attr(v) {
                    *v = l.to_pg();
                }
            }
        }
        m
    }

    /// The score and data-status it writes ([`Ineligible::effect`]); a
    /// node its own election refuses never won one: -INFINITY (set at
    /// start, §1.1).
    fn implies(&self) -> Implied {
        let effect = self.effect();
        Implied {
            score: match effect {
                Effect::NotElected => Some(Score::CAN_NOT_PROMOTE.to_string()),
                e => e.score().map(|s| s.to_string()),
            },
            data_status: effect.disconnects().then(|| self.disconnect().to_string()),
            pgsql_status: None,
            keeps_sync_score: false,
        }
    }

    fn would_change(&self) -> String {
        match self {
            Ineligible::Starting | Ineligible::ProbedAsStandby => {
                "the primary's monitor seeing it streaming, or an election it wins".into()
            }
            Ineligible::Stopping | Ineligible::Demoting => "the action finishing".into(),
            Ineligible::OtherNodePromoted { promoted } => {
                format!("{promoted}'s monitor seeing it streaming")
            }
            Ineligible::NotReplicating => {
                "its server streaming from the primary again (check that it runs, its primary_conninfo and the network)".into()
            }
            Ineligible::AsyncInSyncMode => {
                "becoming the synchronous standby (the primary picks one when none is)".into()
            }
            Ineligible::NotInSyncConfiguration { .. } => {
                "the primary naming it in rep_mode.conf again and its reload; if it persists, a setting overriding rep_mode.conf's synchronous_standby_names (ALTER SYSTEM, a later include) must go".into()
            }
            Ineligible::AsyncWithManyNodes => "rep_mode=sync, or a node_list of two".into(),
            Ineligible::PotentialStandby => {
                "the synchronous standby leaving, so that it becomes synchronous".into()
            }
            Ineligible::NotStreaming { .. } => "its replication reaching STREAMING".into(),
            Ineligible::HandoverUnrecorded => {
                "the primary's next monitor recording its WAL position".into()
            }
            Ineligible::HandoverBehind { baseline, .. } => format!(
                "its flush position reaching {} (it is streaming: usually seconds)",
                baseline.to_pg()
            ),
            Ineligible::DataStatusNotAllowed { .. } => {
                "a primary seeing it stream again (a rebuild if its data is stale); or an operator who accepts losing writes setting its data-status".into()
            }
            Ineligible::BelowSyncBaseline { .. } | Ineligible::SyncBaselineUnrecorded { .. } => {
                "its WAL reaching the baseline; or an operator who accepts losing those writes deleting <rsc>-sync-baseline (docs/decision-logic.md)".into()
            }
            Ineligible::ElectionNoteUnwritable => {
                "the tmpdir being writable again (free space, permissions)".into()
            }
            Ineligible::LostElection { .. } => {
                "a primary seeing it stream (after a rebuild if it diverged)".into()
            }
            Ineligible::NewerThanPromotee { .. } => {
                "promoting the newer standby instead, or clearing the ban (crm_resource --clear)".into()
            }
            Ineligible::NotPromotedByCluster => {
                "a rebuild of this node from the cluster's primary, then removing PGSQL.lock and a cleanup".into()
            }
            Ineligible::StandbyLost { .. } => {
                "its walsender reporting again (node back online with its instance running, replies within standby_reply_timeout): it re-qualifies through the handover baseline".into()
            }
            Ineligible::QuorumMember => {
                "an election among at least (members - k + 1) recorded quorum members that it wins".into()
            }
            Ineligible::UnrecognisedAttribute { attribute, .. } => {
                format!("an operator correcting or deleting {attribute}")
            }
        }
    }
}
