//! Names derived from the resource: node attribute names and files in `tmpdir`.

/// Attribute names for one resource, e.g. `pgsql-status` and `master-pgsql`
/// for a primitive `pgsql` (clone suffix `:N` stripped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeNames {
    /// The resource name without the clone suffix (`<rsc>`).
    pub resource: String,
    /// `<rsc>-status` (reboot).
    pub status: String,
    /// `<rsc>-data-status` (forever).
    pub data_status: String,
    /// `<rsc>-xlog-loc` (reboot).
    pub xlog_loc: String,
    /// `<rsc>-xlog-tli` (reboot; not in the stock agent): `<timeline>:<system
    /// identifier>` published next to `xlog-loc` during the election.
    pub xlog_tli: String,
    /// `<rsc>-xlog-final` (reboot; not in the stock agent, issue 16): the
    /// node's `xlog-loc` again when two consecutive observations by its own
    /// monitors saw its server in recovery, with no WAL receiver and the
    /// startup process waiting for WAL, at that replay position; absent
    /// otherwise. Lets the election decide before `xlog_check_count`
    /// rounds ([`crate::election::proven_final`]).
    pub xlog_final: String,
    /// `<rsc>-master-baseline` (reboot).
    pub master_baseline: String,
    /// `<rsc>-baseline-origin` (reboot; not in the stock agent, issue 11):
    /// `<timeline>:<system identifier>[:<switch point>]` of the WAL the
    /// master-baseline was read from, recorded with it, so that the
    /// pre-promote check can tell a standby ahead on the same history
    /// from one that diverged.
    pub baseline_origin: String,
    /// `<rsc>-receiver-status` (reboot, via attrd).
    pub receiver_status: String,
    /// `master-<rsc>`: the promotion score (reboot).
    pub master_score: String,
    /// `<rsc>-sync-baseline` (forever; not in the stock agent): on a standby
    /// just made synchronous, the primary's WAL position at the handover
    /// until the standby has flushed it (blocks its election meanwhile).
    pub sync_baseline: String,
    /// `<rsc>-withheld-score` (reboot; not in the stock agent): the own
    /// promotion score a standby withheld (set to -INFINITY) because it could
    /// not write its election note; restored and deleted once it can.
    pub withheld_score: String,
    /// `<rsc>-primary-origin` (forever; not in the stock agent): the
    /// `<timeline>:<system identifier>` this node had when the cluster
    /// promoted it (or a probe found it the only primary). The election
    /// refuses a node whose data the cluster never made primary: another
    /// system identifier, or a timeline newer than any recorded (a standby
    /// promoted outside the cluster).
    pub primary_origin: String,
    /// `<rsc>-sync-quorum` (forever; not in the stock agent, issue 11): on
    /// every node, the quorum commit set `<k> <member>…` the election
    /// relies on ([`crate::quorum::QuorumSet`]).
    pub sync_quorum: String,
    /// `<rsc>-demote-checkpoint` (forever, so that it survives the node leaving
    /// the cluster; not in the stock agent, issue 10):
    /// `<timeline>:<LSN, 16 hex digits>` of the shutdown checkpoint a clean
    /// demote wrote (from `pg_controldata`). A candidate refuses its
    /// promotion until it has received WAL past it; deleted after a
    /// successful promotion (never at a start: the node's WAL still holds it).
    pub demote_checkpoint: String,
    /// `<rsc>-primary-forks` (forever; not in the stock agent, issue 10):
    /// `<timeline>:<system identifier>:<seq>@<LSN>[,…]`, every point where
    /// this node began writing on that timeline by a promotion that kept
    /// the timeline number (`restart_on_promote`), oldest first
    /// ([`crate::forks::ForkRecord`]). The crash rejoin reads the other
    /// nodes' to find where their writing split from its own WAL.
    pub primary_forks: String,
}

/// Strips a clone instance suffix: `pgsql:1` → `pgsql`.
pub fn resource_name(instance: &str) -> &str {
    match instance.rsplit_once(':') {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => instance,
    }
}

impl AttributeNames {
    /// Names for the resource instance given by `OCF_RESOURCE_INSTANCE`.
    pub fn for_instance(instance: &str) -> AttributeNames {
        let rsc = resource_name(instance);
        AttributeNames {
            resource: rsc.to_string(),
            status: format!("{rsc}-status"),
            data_status: format!("{rsc}-data-status"),
            xlog_loc: format!("{rsc}-xlog-loc"),
            xlog_tli: format!("{rsc}-xlog-tli"),
            xlog_final: format!("{rsc}-xlog-final"),
            master_baseline: format!("{rsc}-master-baseline"),
            baseline_origin: format!("{rsc}-baseline-origin"),
            receiver_status: format!("{rsc}-receiver-status"),
            master_score: format!("master-{rsc}"),
            sync_baseline: format!("{rsc}-sync-baseline"),
            withheld_score: format!("{rsc}-withheld-score"),
            primary_origin: format!("{rsc}-primary-origin"),
            sync_quorum: format!("{rsc}-sync-quorum"),
            demote_checkpoint: format!("{rsc}-demote-checkpoint"),
            primary_forks: format!("{rsc}-primary-forks"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_the_stock_names() {
        let n = AttributeNames::for_instance("pgsql:1");
        assert_eq!(n.status, "pgsql-status");
        assert_eq!(n.data_status, "pgsql-data-status");
        assert_eq!(n.xlog_loc, "pgsql-xlog-loc");
        assert_eq!(n.xlog_tli, "pgsql-xlog-tli");
        assert_eq!(n.master_baseline, "pgsql-master-baseline");
        assert_eq!(n.receiver_status, "pgsql-receiver-status");
        assert_eq!(n.master_score, "master-pgsql");
        assert_eq!(n.withheld_score, "pgsql-withheld-score");
        assert_eq!(resource_name("pg:sql"), "pg:sql");
    }
}
