//! [`Explain`] for one election round and the election's lineage check.

use std::collections::BTreeMap;

use serde::Serialize;

use super::super::{snake, tag_of, Explain, Implied};
use super::{inputs_of, pg};
use crate::election::{self, Observation, Round, Verdict};
use crate::score::Score;
use crate::status::DataStatus;

/// One election round ([`election::decide_checked`]) with its inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ElectionRound {
    /// The node the round is for.
    pub node: String,
    /// The inputs.
    pub round: Round,
    /// The decision.
    pub decision: election::Decision,
    /// The election inputs that could not be recognised (in words), which
    /// make [`election::decide_checked`] restart.
    pub unreadable: Vec<String>,
    /// The published score is 1000 and the current locations still give
    /// this node the win: an undecided round keeps that 1000 (the monitor
    /// writes the score only when it wins, §4.3).
    pub keeps_win: bool,
}

impl ElectionRound {
    /// True when the round was confirmed (`xlog_check_count` unchanged
    /// rounds) and still decided nothing: the election failed closed
    /// (diverged histories, system identifiers in equal numbers; steps
    /// 7c of docs/decision-logic.md).
    fn confirmed_without_decision(&self) -> bool {
        let r = &self.round;
        self.decision.verdict == Verdict::Restarted
            && !r.observed.is_empty()
            && r.completed + 1 >= r.check_count
            && r.previous.as_deref() == Some(election::render_note(&r.observed).as_str())
    }
}

fn observation_text(o: &Observation) -> String {
    match o.origin {
        Some(origin) => format!("{} timeline {}", o.lsn.to_pg(), origin.timeline),
        None => o.lsn.to_pg(),
    }
}

impl Explain for ElectionRound {
    fn rule(&self) -> String {
        format!("election.{}", snake(&tag_of(&self.decision.verdict, "")))
    }

    fn sentence(&self) -> String {
        let mut s = self.decision.reason.clone();
        for w in &self.decision.warnings {
            s.push_str("; ");
            s.push_str(w);
        }
        s
    }

    fn inputs(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("my_location".into(), pg(self.round.my_lsn));
        if let Some(o) = self.round.my_origin {
            m.insert("my_timeline".into(), o.timeline.to_string());
        }
        m.insert(
            "rounds".into(),
            format!("{} of {}", self.round.completed, self.round.check_count),
        );
        for o in &self.round.observed {
            m.insert(format!("candidate {}", o.node), observation_text(o));
        }
        if let Some(h) = self.decision.highest {
            m.insert("highest".into(), pg(h));
        }
        m
    }

    /// A winner has 1000 (§4.3); every other round leaves the -INFINITY
    /// start gave (a loser also `DISCONNECT`), or the 1000 of a win the
    /// current locations still give ([`ElectionRound::keeps_win`]). A
    /// round that does not decide writes nothing, so a sync standby keeps
    /// the 100 it had when its primary went away (an operator attack found
    /// explain calling that 100 wrong): [`Implied::keeps_sync_score`].
    fn implies(&self) -> Implied {
        match self.decision.verdict {
            Verdict::Winner => Implied::score(Score::PROMOTE_ME),
            Verdict::Loser => Implied {
                data_status: Some(DataStatus::Disconnect.to_string()),
                ..Implied::score(Score::CAN_NOT_PROMOTE)
            },
            Verdict::Waiting | Verdict::Restarted | Verdict::Yield if self.keeps_win => {
                Implied::score(Score::PROMOTE_ME)
            }
            Verdict::Waiting | Verdict::Restarted | Verdict::Yield => Implied {
                keeps_sync_score: true,
                ..Implied::score(Score::CAN_NOT_PROMOTE)
            },
        }
    }

    fn would_change(&self) -> String {
        match self.decision.verdict {
            Verdict::Waiting => format!(
                "{} more unchanged monitor(s) decide; any published location changing restarts the count",
                self.round.check_count.saturating_sub(self.round.completed + 1)
            ),
            Verdict::Restarted if !self.unreadable.is_empty() => {
                "an operator correcting or deleting the unrecognised attribute(s)".into()
            }
            Verdict::Restarted if self.confirmed_without_decision() => {
                "one side leaving the election (stopped or rebuilt from the other): which data is the cluster's cannot be told while both take part".into()
            }
            Verdict::Restarted => {
                "the published locations staying unchanged for xlog_check_count monitors".into()
            }
            Verdict::Winner => "Pacemaker promoting it (score 1000)".into(),
            Verdict::Yield => {
                "the node whose WAL holds all of this one's being promoted (this one then follows it)".into()
            }
            Verdict::Loser => {
                "the node ahead leaving the election; a rebuild if its history diverged".into()
            }
        }
    }
}

/// The election's lineage check refused the node
/// ([`election::lineage_eligibility`], issue 9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineageRefusal {
    /// The node's published `<rsc>-xlog-tli`.
    pub origin: String,
    /// The cluster's newest `<rsc>-primary-origin` and who recorded it.
    pub cluster: String,
    /// The check's own words.
    pub reason: String,
}

impl Explain for LineageRefusal {
    fn implies(&self) -> Implied {
        Implied::score(Score::CAN_NOT_PROMOTE)
    }

    fn rule(&self) -> String {
        "election.lineage_refused".into()
    }
    fn sentence(&self) -> String {
        self.reason.clone()
    }
    fn inputs(&self) -> BTreeMap<String, String> {
        inputs_of(self, &["reason"])
    }
    fn would_change(&self) -> String {
        "a rebuild of this node from the cluster's primary".into()
    }
}
