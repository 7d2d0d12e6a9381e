//! The "prepare" step of start and promote: tmpdir, the include lines in
//! postgresql.conf and the recovery configuration. The stock agent does the
//! tmpdir and include edits on every invocation, monitors included (bug X);
//! here they happen only when the server is about to (re)start or promote.

use super::Ctx;
use crate::ocf::{OcfExit, Outcome};
use crate::params::RepMode;
use crate::ports::{FileOwner, LogLevel};
use crate::recovery::{self, has_include, include_line, recovery_conf_path, without_include};
use crate::sync_mode;

/// Creates tmpdir and keeps the include lines of postgresql.conf right:
/// the `<tmpdir>/recovery.conf` include (PG ≥ 12, any replication mode) and
/// the `<tmpdir>/rep_mode.conf` include (added in sync, removed in async).
pub fn prepare(ctx: &mut Ctx<'_, '_>) -> Result<(), Outcome> {
    let agent = ctx.agent;
    let params = &agent.params;
    let signal = recovery::uses_standby_signal(ctx.facts.pg_version);
    let uses_tmpdir =
        params.rep_mode.is_replication() || (params.rep_mode == RepMode::Slave && signal);
    if uses_tmpdir {
        if let Err(e) = ctx
            .world
            .fs
            .create_dir_all(&params.tmpdir, FileOwner::Pgdba, 0o700)
        {
            return Err(ctx.fail(
                OcfExit::ErrPerm,
                format!(
                    "Can't create directory {} or it is not readable by {}: {e}",
                    params.tmpdir, params.pgdba
                ),
            ));
        }
    }
    let config = match ctx.world.fs.read(&params.config) {
        Ok(Some(text)) => text,
        _ => {
            ctx.log(
                LogLevel::Warn,
                &format!("Can't read {}: include lines not checked", params.config),
            );
            return Ok(());
        }
    };
    let mut wanted = Vec::new();
    if params.rep_mode != RepMode::None && signal {
        wanted.push(recovery_conf_path(params, ctx.facts.pg_version));
    }
    let rep_mode_conf = ctx.tmp_path(sync_mode::FILE_NAME);
    if params.rep_mode == RepMode::Sync {
        wanted.push(rep_mode_conf.clone());
    }
    for path in wanted {
        if !has_include(&config, &path) {
            let line = include_line(&path);
            ctx.log(
                LogLevel::Info,
                &format!("adding include directive {line} into {}", params.config),
            );
            if let Err(e) = ctx.world.fs.append_line(&params.config, &line) {
                return Err(ctx.fail(
                    OcfExit::ErrPerm,
                    format!("Can't add an include to {}: {e}", params.config),
                ));
            }
        }
    }
    if params.rep_mode == RepMode::Async {
        if let Some(text) = without_include(&config, &rep_mode_conf) {
            ctx.log(
                LogLevel::Info,
                &format!("deleting include directive from {}", params.config),
            );
            if let Err(e) = ctx
                .world
                .fs
                .write(&params.config, &text, FileOwner::Pgdba, 0o600)
            {
                return Err(ctx.fail(
                    OcfExit::ErrPerm,
                    format!("Can't edit {}: {e}", params.config),
                ));
            }
        }
    }
    Ok(())
}

/// Writes the recovery configuration for the local node and, from
/// PostgreSQL 12 on, `standby.signal`.
pub fn write_recovery_conf(ctx: &mut Ctx<'_, '_>) -> Result<(), Outcome> {
    let agent = ctx.agent;
    let version = ctx.facts.pg_version;
    let path = recovery_conf_path(&agent.params, version);
    let text = recovery::render(&agent.params, &ctx.attrs.local, version);
    if let Err(e) = ctx.world.fs.write(&path, &text, FileOwner::Pgdba, 0o600) {
        return Err(ctx.fail(
            OcfExit::ErrGeneric,
            format!("Can't create recovery.conf. {e}"),
        ));
    }
    if recovery::uses_standby_signal(version) {
        let signal = recovery::standby_signal_path(&agent.params);
        if let Err(e) = ctx.world.fs.write(&signal, "", FileOwner::Pgdba, 0o600) {
            return Err(ctx.fail(OcfExit::ErrGeneric, format!("Can't create {signal}. {e}")));
        }
    }
    ctx.log(
        LogLevel::Debug,
        &format!(
            "Created {path}. host={}, user={}",
            agent.params.master_ip, agent.params.repuser
        ),
    );
    Ok(())
}

/// Writes `rep_mode.conf` with the given synchronous standbys (no reload).
pub fn write_rep_mode_conf(ctx: &mut Ctx<'_, '_>, names: &[String]) -> Result<(), Outcome> {
    write_rep_mode_text(ctx, &sync_mode::render(names))
}

/// Writes `rep_mode.conf` with the given line (issue 11: also the quorum
/// commit form `ANY k (...)`, [`sync_mode::render_quorum`]).
pub fn write_rep_mode_text(ctx: &mut Ctx<'_, '_>, text: &str) -> Result<(), Outcome> {
    let path = ctx.tmp_path(sync_mode::FILE_NAME);
    ctx.world
        .fs
        .write(&path, text, FileOwner::Pgdba, 0o600)
        .map_err(|e| Outcome::fail(OcfExit::ErrGeneric, format!("Can't write {path}: {e}")))
}
