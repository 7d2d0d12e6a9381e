//! TLS for the agent's own connections, the way libpq (the stock agent's
//! `psql`) negotiates it (PostgreSQL documentation, "SSL Support" in libpq,
//! table "SSL Mode Descriptions"; issue 12, attack finding 1).
//!
//! * The mode comes from `PGSSLMODE` in the agent's environment, default
//!   `prefer`: the stock agent ran `psql` through `su` (without `-`), which
//!   keeps that variable. `sslmode=` in `primary_conninfo_opt` is for the
//!   standby's WAL receiver, not for the agent, and is not read here.
//! * `disable`: plain. `allow`: plain, and TLS only when the server refuses
//!   the plain session. `prefer`: TLS when the server offers it, else plain.
//!   `require`: TLS only. For these the server's certificate is not checked,
//!   like libpq, except that `require` behaves as `verify-ca` when a root
//!   certificate file exists (libpq's rule). `verify-ca`: the certificate
//!   must chain to the root certificates. `verify-full`: also the host name
//!   must match it.
//! * Root certificates: `PGSSLROOTCERT`, else `~/.postgresql/root.crt` in
//!   the home of `pgdba` (the `HOME` that `su` gives `psql`);
//!   `PGSSLROOTCERT=system` uses the system's store.
//! * libpq never uses TLS over a Unix-domain socket: neither does the agent.
//! * Not supported: client certificates (`PGSSLCERT`/`PGSSLKEY`), CRLs,
//!   `sslnegotiation=direct`; a mode of `verify-*` without a root
//!   certificate file fails the connection, as in libpq.
//!
//! The TLS library is the system's OpenSSL (`postgres-openssl`), the one
//! Debian's libpq uses, so ciphers and `/etc/ssl/openssl.cnf` policy agree
//! with `psql`.

use std::path::{Path, PathBuf};

use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use postgres_openssl::MakeTlsConnector;
use tokio_postgres::config::SslMode as DriverMode;

/// libpq's `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// Plain first; TLS when the server refuses the plain session.
    Allow,
    /// TLS when the server offers it (libpq's default).
    Prefer,
    /// TLS only; the certificate is not checked (unless a root file exists).
    Require,
    /// TLS only; the certificate must chain to a trusted root.
    VerifyCa,
    /// As `VerifyCa`, and the host name must match the certificate.
    VerifyFull,
}

impl SslMode {
    /// Parses a `PGSSLMODE` value; an empty value is the default `prefer`.
    ///
    /// # Errors
    /// The value is not one of libpq's six modes (libpq refuses the
    /// connection then: "invalid sslmode value").
    pub fn parse(text: &str) -> Result<SslMode, String> {
        Ok(match text {
            "" | "prefer" => SslMode::Prefer,
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(format!(
                    "invalid sslmode value {} in PGSSLMODE (disable, allow, prefer, require, verify-ca or verify-full)",
                    pgsql_ra_core::quote::quoted(other)
                ))
            }
        })
    }
}

/// How the agent's connections use TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// The mode; [`TlsSettings::mode_for`] gives the one actually used.
    pub mode: SslMode,
    /// Root certificates (`None`: the system's store).
    pub root_cert: Option<PathBuf>,
}

impl Default for TlsSettings {
    fn default() -> TlsSettings {
        TlsSettings {
            mode: SslMode::Prefer,
            root_cert: None,
        }
    }
}

impl TlsSettings {
    /// From `PGSSLMODE` and `PGSSLROOTCERT` (see the module's rules);
    /// `pgdba_home` is the home directory of `pgdba`.
    ///
    /// # Errors
    /// `PGSSLMODE` is not a valid mode.
    pub fn from_env(
        sslmode: Option<&str>,
        root_cert: Option<&str>,
        pgdba_home: Option<&str>,
    ) -> Result<TlsSettings, String> {
        let mode = SslMode::parse(sslmode.unwrap_or(""))?;
        let root_cert = match root_cert.filter(|r| !r.is_empty()) {
            Some("system") => None,
            Some(r) => Some(crate::bytes_path::path(r)),
            None => pgdba_home
                .filter(|h| !h.is_empty())
                .map(|h| crate::bytes_path::path(h).join(".postgresql/root.crt")),
        };
        Ok(TlsSettings { mode, root_cert })
    }

    /// The mode used for a connection: never TLS over a Unix socket; and
    /// `require` is `verify-ca` when the root certificate file exists.
    pub fn mode_for(&self, unix_socket: bool) -> SslMode {
        match self.mode {
            _ if unix_socket => SslMode::Disable,
            SslMode::Require if self.root_cert.as_deref().is_some_and(Path::exists) => {
                SslMode::VerifyCa
            }
            m => m,
        }
    }

    /// The driver's mode for a first attempt in `mode` (`allow` starts
    /// plain).
    pub fn driver_mode(mode: SslMode) -> DriverMode {
        match mode {
            SslMode::Disable | SslMode::Allow => DriverMode::Disable,
            SslMode::Prefer => DriverMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => DriverMode::Require,
        }
    }

    /// The TLS connector for `mode`.
    ///
    /// # Errors
    /// OpenSSL cannot be set up, or a `verify-*` mode has no readable root
    /// certificate file.
    pub fn connector(&self, mode: SslMode) -> Result<MakeTlsConnector, String> {
        let mut builder = SslConnector::builder(SslMethod::tls_client())
            .map_err(|e| format!("cannot set up TLS: {e}"))?;
        let verify = matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull);
        if verify {
            match &self.root_cert {
                Some(path) => builder.set_ca_file(path).map_err(|e| {
                    format!(
                        "root certificate file {} can't be used for sslmode verify-ca/verify-full: {e}",
                        crate::bytes_path::display(&crate::bytes_path::decode(path.as_os_str()))
                    )
                })?,
                None => builder
                    .set_default_verify_paths()
                    .map_err(|e| format!("cannot load the system's root certificates: {e}"))?,
            }
            builder.set_verify(SslVerifyMode::PEER);
        } else {
            builder.set_verify(SslVerifyMode::NONE);
        }
        let mut connector = MakeTlsConnector::new(builder.build());
        if mode != SslMode::VerifyFull {
            connector.set_callback(|config, _host| {
                config.set_verify_hostname(false);
                Ok(())
            });
        }
        Ok(connector)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_like_libpq_and_unknown_ones_are_refused() {
        for (text, mode) in [
            ("", SslMode::Prefer),
            ("disable", SslMode::Disable),
            ("allow", SslMode::Allow),
            ("prefer", SslMode::Prefer),
            ("require", SslMode::Require),
            ("verify-ca", SslMode::VerifyCa),
            ("verify-full", SslMode::VerifyFull),
        ] {
            assert_eq!(SslMode::parse(text), Ok(mode), "{text}");
        }
        let e = SslMode::parse("Require\u{1}").unwrap_err();
        assert!(e.contains("\"Require^A\""), "{e}");
    }

    #[test]
    fn root_certificate_and_the_mode_used() {
        let s = TlsSettings::from_env(None, None, Some("/var/lib/postgresql")).expect("ok");
        assert_eq!(s.mode, SslMode::Prefer);
        assert_eq!(
            s.root_cert,
            Some(PathBuf::from("/var/lib/postgresql/.postgresql/root.crt"))
        );
        let s = TlsSettings::from_env(Some("require"), Some("system"), None).expect("ok");
        assert_eq!(s.root_cert, None);
        assert_eq!(s.mode_for(false), SslMode::Require);
        // Never TLS over a Unix socket.
        assert_eq!(s.mode_for(true), SslMode::Disable);
        // require with an existing root file is verify-ca (libpq).
        let s = TlsSettings::from_env(Some("require"), Some("/etc/hostname"), None).expect("ok");
        assert_eq!(s.mode_for(false), SslMode::VerifyCa);
        let s = TlsSettings::from_env(Some("require"), Some("/nonexistent/root.crt"), None)
            .expect("ok");
        assert_eq!(s.mode_for(false), SslMode::Require);
        assert!(TlsSettings::from_env(Some("bogus"), None, None).is_err());
        assert_eq!(
            TlsSettings::driver_mode(SslMode::Allow),
            DriverMode::Disable
        );
    }

    #[test]
    fn verify_modes_need_a_usable_root_file() {
        let s = TlsSettings::from_env(Some("verify-ca"), Some("/nonexistent/root.crt"), None)
            .expect("ok");
        let e = s.connector(SslMode::VerifyCa).err().expect("refused");
        assert!(
            e.contains("root certificate file /nonexistent/root.crt"),
            "{e}"
        );
        assert!(s.connector(SslMode::Prefer).is_ok());
    }
}
