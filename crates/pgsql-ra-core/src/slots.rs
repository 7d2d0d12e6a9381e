//! Replication slot names (`replication_slot_name` set): `<name>_<node>`
//! with the node name lower-cased and `.`/`-` turned into `_`.

/// The slot name used for `node`'s standby connection.
pub fn slot_name(prefix: &str, node: &str) -> String {
    let sanitized: String = node
        .chars()
        .map(|c| match c {
            '.' | '-' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    format!("{prefix}_{sanitized}")
}

/// The slots a node manages on its own server: one per other node of
/// `node_list`, in list order (exact name comparison with `local`).
/// Empty when slots are not configured.
pub fn slots_for_others(prefix: &str, node_list: &[String], local: &str) -> Vec<String> {
    if prefix.is_empty() {
        return Vec::new();
    }
    node_list
        .iter()
        .filter(|n| n.as_str() != local)
        .map(|n| slot_name(prefix, n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_like_the_stock_agent() {
        assert_eq!(slot_name("rs", "Node-1.example"), "rs_node_1_example");
        assert_eq!(slot_name("rs", "node2"), "rs_node2");
    }

    #[test]
    fn one_slot_per_other_node() {
        let list = vec![
            "node1".to_string(),
            "node10".to_string(),
            "node2".to_string(),
        ];
        assert_eq!(
            slots_for_others("rs", &list, "node1"),
            vec!["rs_node10", "rs_node2"]
        );
        assert!(slots_for_others("", &list, "node1").is_empty());
    }
}
