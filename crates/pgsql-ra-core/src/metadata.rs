//! The OCF 1.1 meta-data XML of the agent.

/// Renders the meta-data. `pgdata` is the current `pgdata` parameter value, from
/// which the advertised default of `config` is computed (as the stock agent does).
pub fn render(pgdata: &str) -> String {
    let _ = pgdata;
    String::new()
}
