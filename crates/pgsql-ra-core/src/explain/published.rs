//! The published values against the re-run decisions (issue 13, operator
//! attack: a garbage master score or data-status used to be "explained").
//!
//! Each [`super::Reason`] carries what its outcome sets ([`Implied`]); for
//! every attribute, the first reason that holds now ([`super::When::Now`])
//! and sets it gives the value the rules give. [`check`] compares it with
//! the published one and also refuses values the agent never writes (a
//! score other than `-INFINITY`, `100`, `1000`; a data-status or status
//! that is not one of the agent's own texts, §4.3 of the stock spec).

use serde::Serialize;

use super::snapshot::NodeAttrs;
use super::{Reason, When};
use crate::score::Score;
use crate::status::{DataStatus, PgStatus};

/// The published values an outcome sets (`None`: it does not decide it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Implied {
    /// `master-<rsc>` (`-INFINITY`, `100`, `1000`).
    pub score: Option<String>,
    /// `<rsc>-data-status`.
    pub data_status: Option<String>,
    /// `<rsc>-status`.
    pub pgsql_status: Option<String>,
    /// The outcome writes no score, so a node whose data-status is still
    /// `STREAMING|SYNC` may keep the 100 of a sync standby (stock §4.2:
    /// the score stays until the next decision) besides `score`.
    pub keeps_sync_score: bool,
}

impl Implied {
    /// Only a score.
    pub fn score(score: Score) -> Implied {
        Implied {
            score: Some(score.to_string()),
            ..Implied::default()
        }
    }
}

/// How the published values compare with the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every value a reason sets is the published one.
    Agrees,
    /// At least one published value is not what the rules give (or not a
    /// value the agent writes): see the mismatches.
    Disagrees,
    /// No reason that holds now sets a value, and the published ones are
    /// values the agent writes.
    Unchecked,
}

/// One published value the rules do not give.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// `score`, `data_status` or `pgsql_status`.
    pub attribute: String,
    /// As published (`None`: absent).
    pub published: Option<String>,
    /// What the rules give (`None`: the published value is not one the
    /// agent ever writes).
    pub expected: Option<String>,
    /// The rule behind `expected`, when any.
    pub rule: Option<String>,
    /// Why, in words (the reason's sentence).
    pub because: String,
}

impl Mismatch {
    /// The mismatch in words: "published score 1000 but the rules give
    /// -INFINITY because \[rule\] …".
    pub fn sentence(&self) -> String {
        let name = match self.attribute.as_str() {
            "data_status" => "data-status",
            "pgsql_status" => "pgsql-status",
            other => other,
        };
        let published = self.published.as_deref().unwrap_or("(none)");
        match (&self.expected, &self.rule) {
            (Some(e), Some(rule)) => format!(
                "published {name} {published} but the rules give {e} because [{rule}] {}",
                self.because
            ),
            (Some(e), None) => format!(
                "published {name} {published} but the rules give {e} because {}",
                self.because
            ),
            (None, _) => format!(
                "published {name} {published} is not a value the agent writes: {}",
                self.because
            ),
        }
    }
}

/// The comparison for one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishedCheck {
    /// The verdict.
    pub verdict: Verdict,
    /// Every disagreeing value, in the order score, data-status, status.
    pub mismatches: Vec<Mismatch>,
}

fn valid_score(v: &str) -> bool {
    [
        Score::CAN_NOT_PROMOTE,
        Score::CAN_PROMOTE,
        Score::PROMOTE_ME,
    ]
    .iter()
    .any(|s| s.to_string() == v)
}

fn valid_data_status(v: &str) -> bool {
    v.parse::<DataStatus>()
        .is_ok_and(|d| d.is_known() && d.to_string() == v)
}

fn valid_status(v: &str) -> bool {
    v.parse::<PgStatus>().is_ok()
}

/// One published attribute as [`check`] compares it.
struct Attr<'a> {
    name: &'static str,
    published: Option<&'a String>,
    pick: fn(&Implied) -> Option<&String>,
    valid: fn(&str) -> bool,
    invalid_why: &'static str,
}

/// Compares `n`'s published score, data-status and status with what
/// `reasons` (most decisive first) set.
pub fn check(n: &NodeAttrs, reasons: &[Reason]) -> PublishedCheck {
    let attrs = [
        Attr {
            name: "score",
            published: n.score.as_ref(),
            pick: |i| i.score.as_ref(),
            valid: valid_score,
            invalid_why: "the agent writes -INFINITY, 100 or 1000",
        },
        Attr {
            name: "data_status",
            published: n.data_status.as_ref(),
            pick: |i| i.data_status.as_ref(),
            valid: valid_data_status,
            invalid_why:
                "not one of the agent's data-status texts (LATEST, DISCONNECT, STATE|SYNC_STATE)",
        },
        Attr {
            name: "pgsql_status",
            published: n.pgsql_status.as_ref(),
            pick: |i| i.pgsql_status.as_ref(),
            valid: valid_status,
            invalid_why: "not one of the agent's status texts",
        },
    ];
    let mut mismatches = Vec::new();
    let mut compared = false;
    for Attr {
        name: attribute,
        published,
        pick,
        valid,
        invalid_why,
    } in attrs
    {
        let setter = reasons
            .iter()
            .filter(|r| r.when == When::Now)
            .find_map(|r| pick(&r.implies).map(|v| (r, v)));
        if let Some((r, expected)) = setter {
            compared = true;
            // An absent score is not promotable, as -INFINITY is.
            let absent_ok = attribute == "score" && published.is_none() && *expected == "-INFINITY";
            let kept_sync = attribute == "score"
                && r.implies.keeps_sync_score
                && published.is_some_and(|p| *p == Score::CAN_PROMOTE.to_string())
                && n.data_status.as_deref() == Some("STREAMING|SYNC");
            if published != Some(expected) && !absent_ok && !kept_sync {
                mismatches.push(Mismatch {
                    attribute: attribute.into(),
                    published: published.cloned(),
                    expected: Some(expected.clone()),
                    rule: Some(r.rule.clone()),
                    because: r.sentence.clone(),
                });
            }
            continue;
        }
        if let Some(p) = published.filter(|p| !valid(p)) {
            mismatches.push(Mismatch {
                attribute: attribute.into(),
                published: Some(p.clone()),
                expected: None,
                rule: None,
                because: invalid_why.into(),
            });
        }
    }
    let verdict = if !mismatches.is_empty() {
        Verdict::Disagrees
    } else if compared {
        Verdict::Agrees
    } else {
        Verdict::Unchecked
    };
    PublishedCheck {
        verdict,
        mismatches,
    }
}
