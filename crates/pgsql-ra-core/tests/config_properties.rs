//! Properties of the text forms and of configuration parsing: LSN and
//! data-status round trips, LSN ordering, and parsers that never panic on
//! whatever Pacemaker (or an operator) hands them.

use std::collections::BTreeMap;

use proptest::prelude::*;

use pgsql_ra_core::params::{Params, PARAMETERS};
use pgsql_ra_core::validate::{
    check_parameters, config_values, parameter_problems, parse_pg_version,
};
use pgsql_ra_core::{Agent, ClusterContext, DataStatus, Lsn, OcfExit};

/// Context variables Pacemaker sets, for random environments.
const CONTEXT_KEYS: &[&str] = &[
    "OCF_RESOURCE_INSTANCE",
    "OCF_CHECK_LEVEL",
    "OCF_RESKEY_OCF_CHECK_LEVEL",
    "OCF_RESKEY_crm_feature_set",
    "OCF_RESKEY_CRM_meta_interval",
    "OCF_RESKEY_CRM_meta_timeout",
    "OCF_RESKEY_CRM_meta_notify",
    "OCF_RESKEY_CRM_meta_clone_max",
    "OCF_RESKEY_CRM_meta_promoted_max",
    "OCF_RESKEY_CRM_meta_master_max",
    "OCF_RESKEY_CRM_meta_promotable",
    "OCF_RESKEY_CRM_meta_role",
    "OCF_RESKEY_CRM_meta_notify_type",
    "OCF_RESKEY_CRM_meta_notify_operation",
    "OCF_RESKEY_CRM_meta_notify_promote_uname",
    "OCF_RESKEY_CRM_meta_notify_demote_uname",
    "OCF_RESKEY_CRM_meta_notify_start_uname",
    "OCF_RESKEY_CRM_meta_notify_stop_uname",
    "OCF_RESKEY_CRM_meta_notify_promoted_uname",
    "OCF_RESKEY_CRM_meta_notify_unpromoted_uname",
    "OCF_RESKEY_CRM_meta_notify_master_uname",
    "OCF_RESKEY_CRM_meta_notify_slave_uname",
];

/// Values that hit the interesting branches, mixed with arbitrary text.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(" ".to_string()),
        Just("sync".to_string()),
        Just("slave".to_string()),
        Just("true".to_string()),
        Just("node1 node2".to_string()),
        "[0-9]{1,25}",
        "-?[0-9]{0,6}\\.?[0-9]{0,3}",
        any::<String>(),
    ]
}

fn param_name() -> impl Strategy<Value = String> {
    prop_oneof![
        (0..PARAMETERS.len()).prop_map(|i| PARAMETERS[i].name.to_string()),
        "[a-z_]{1,12}",
    ]
}

fn reskeys() -> impl Strategy<Value = BTreeMap<String, String>> {
    proptest::collection::btree_map(param_name(), value(), 0..20)
}

fn env() -> impl Strategy<Value = BTreeMap<String, String>> {
    let key = prop_oneof![
        (0..CONTEXT_KEYS.len()).prop_map(|i| CONTEXT_KEYS[i].to_string()),
        param_name().prop_map(|n| format!("OCF_RESKEY_{n}")),
        any::<String>(),
    ];
    proptest::collection::btree_map(key, value(), 0..30)
}

fn data_status() -> impl Strategy<Value = DataStatus> {
    let part = "[A-Z][A-Z_ ]{0,10}";
    prop_oneof![
        Just(DataStatus::Latest),
        Just(DataStatus::Disconnect),
        (part, part).prop_map(|(state, sync_state)| DataStatus::Replication { state, sync_state }),
    ]
}

proptest! {
    #[test]
    fn lsn_text_forms_round_trip(n in any::<u64>()) {
        let lsn = Lsn(n);
        prop_assert_eq!(Lsn::parse_pg(&lsn.to_pg()), Ok(lsn));
        prop_assert_eq!(Lsn::parse_attr(&lsn.to_attr()), Ok(lsn));
        prop_assert_eq!(lsn.to_pg().parse::<Lsn>(), Ok(lsn));
        prop_assert_eq!(lsn.to_string().parse::<Lsn>(), Ok(lsn));
        prop_assert_eq!(Lsn::parse_pg(&lsn.to_pg().to_lowercase()), Ok(lsn));
        prop_assert_eq!(lsn.to_attr().len(), 16);
    }

    #[test]
    fn lsn_order_is_numeric_order(a in any::<u64>(), b in any::<u64>()) {
        let (x, y) = (Lsn(a), Lsn(b));
        prop_assert_eq!(x.cmp(&y), a.cmp(&b));
        // The stock agent compares the attribute text: it must sort the same way.
        prop_assert_eq!(x.to_attr().cmp(&y.to_attr()), a.cmp(&b));
        let (px, py) = (Lsn::parse_pg(&x.to_pg()).unwrap(), Lsn::parse_pg(&y.to_pg()).unwrap());
        prop_assert_eq!(px.cmp(&py), a.cmp(&b));
    }

    #[test]
    fn lsn_parsers_never_panic(text in any::<String>()) {
        if let Ok(lsn) = Lsn::parse_attr(&text) {
            prop_assert_eq!(lsn.to_attr(), text.trim().to_uppercase());
        }
        let _ = Lsn::parse_pg(&text);
        let _ = text.parse::<Lsn>();
    }

    #[test]
    fn data_status_text_round_trips(status in data_status()) {
        prop_assert_eq!(status.to_string().parse::<DataStatus>(), Ok(status));
    }

    #[test]
    fn parsed_data_status_prints_back_unchanged(text in "[A-Z|]{0,12}|.{0,12}") {
        if let Ok(status) = text.parse::<DataStatus>() {
            prop_assert_eq!(status.to_string(), text);
        }
    }

    #[test]
    fn params_parse_never_panics_and_errors_name_real_parameters(values in reskeys()) {
        let (params, errors) = Params::parse(&values);
        for e in &errors {
            prop_assert!(PARAMETERS.iter().any(|p| p.name == e.param), "unknown parameter in {:?}", e);
            prop_assert!(e.message.contains(&e.param));
            prop_assert_eq!(e.code, OcfExit::ErrConfigured);
        }
        if !values.contains_key("config") {
            prop_assert_eq!(params.config, format!("{}/postgresql.conf", params.pgdata.trim_end_matches('/')));
        }
        for node in &params.node_list {
            prop_assert!(!node.is_empty() && node.to_lowercase() == *node);
        }
    }

    #[test]
    fn cluster_context_never_panics(env in env()) {
        let c = ClusterContext::from_env_map(&env);
        prop_assert_eq!(Some(&c.instance).filter(|i| !i.is_empty()), env.get("OCF_RESOURCE_INSTANCE").filter(|i| !i.is_empty()));
        let _ = c.resource();
    }

    #[test]
    fn agent_and_level_0_validation_never_panic(env in env()) {
        let agent = Agent::from_env_map(&env);
        let problems = parameter_problems(&agent);
        match check_parameters(&agent) {
            Ok(()) => prop_assert!(problems.is_empty()),
            Err(outcome) => {
                prop_assert_eq!(outcome.code, OcfExit::ErrConfigured);
                prop_assert!(outcome.reason.unwrap_or_default().contains(&problems[0].param));
            }
        }
    }

    #[test]
    fn pg_version_reads_major_and_minor(major in 0u32..10_000, minor in 0u32..100) {
        prop_assert_eq!(parse_pg_version(&format!("{major}.{minor}\n")), Some(major * 100 + minor));
        prop_assert_eq!(parse_pg_version(&major.to_string()), Some(major * 100));
    }

    #[test]
    fn config_reader_and_version_parser_never_panic(text in any::<String>(), name in "[a-z_]{0,8}") {
        let _ = config_values(&text, &name);
        if let Some(v) = parse_pg_version(&text) {
            prop_assert_eq!(parse_pg_version(&format!("{}.{}", v / 100, v % 100)), Some(v));
        }
    }
}
