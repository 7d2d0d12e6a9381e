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
//!   `PGSSLROOTCERT=system` uses the system's store. The file is looked at
//!   and read with `pgdba`'s rights, as `psql` running as `pgdba` would:
//!   a file `pgdba` cannot read fails the connection as in libpq (issue 12,
//!   re-attack item 5).
//! * `verify-full` matches the host with libpq's rules, the Common Name
//!   included when no SAN of the host's type is present
//!   ([`crate::tls_name`]; issue 12, re-attack item 4).
//! * libpq never uses TLS over a Unix-domain socket: neither does the agent.
//! * Not supported: client certificates (`PGSSLCERT`/`PGSSLKEY`), CRLs,
//!   `sslnegotiation=direct`; a mode of `verify-*` without a root
//!   certificate file fails the connection, as in libpq.
//!
//! The TLS library is the system's OpenSSL (`postgres-openssl`), the one
//! Debian's libpq uses, so ciphers and `/etc/ssl/openssl.cnf` policy agree
//! with `psql`.

use std::path::{Path, PathBuf};

use openssl::nid::Nid;
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use openssl::x509::{X509Ref, X509StoreContextRef, X509VerifyResult, X509};
use postgres_openssl::MakeTlsConnector;
use tokio_postgres::config::SslMode as DriverMode;

use crate::tls_name::{host_matches, CertNames};
use crate::users::{Account, EffectiveIdentity};

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
    /// Whose rights the root certificate file is looked at and read with
    /// (`pgdba`; `None`: the agent's own).
    pub reader: Option<Account>,
}

impl Default for TlsSettings {
    fn default() -> TlsSettings {
        TlsSettings {
            mode: SslMode::Prefer,
            root_cert: None,
            reader: None,
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
        Ok(TlsSettings {
            mode,
            root_cert,
            reader: None,
        })
    }

    /// Looks at and reads the root certificate file as `reader` (`pgdba`).
    pub fn read_as(mut self, reader: Option<Account>) -> TlsSettings {
        self.reader = reader;
        self
    }

    /// Whether the root certificate file exists for the reader (libpq's
    /// `stat`, run as `pgdba`).
    fn root_cert_exists(&self) -> bool {
        let Some(path) = self.root_cert.as_deref() else {
            return false;
        };
        let _identity = EffectiveIdentity::assume(self.reader.as_ref());
        Path::exists(path)
    }

    /// The root certificates, read with the reader's rights.
    fn read_root_certs(&self, path: &Path) -> Result<Vec<X509>, String> {
        let shown =
            crate::bytes_path::display(&crate::bytes_path::decode(path.as_os_str())).into_owned();
        let bytes = {
            let _identity = EffectiveIdentity::assume(self.reader.as_ref());
            std::fs::read(path)
        }
        .map_err(|e| {
            format!(
                "could not read root certificate file {}: {}",
                pgsql_ra_core::quote::quoted(&shown),
                crate::os_error::without_os_error(&e.to_string())
            )
        })?;
        match X509::stack_from_pem(&bytes) {
            Ok(certs) if !certs.is_empty() => Ok(certs),
            Ok(_) => Err(format!(
                "root certificate file {} holds no certificate",
                pgsql_ra_core::quote::quoted(&shown)
            )),
            Err(e) => Err(format!(
                "root certificate file {} can't be used: {e}",
                pgsql_ra_core::quote::quoted(&shown)
            )),
        }
    }

    /// The mode used for a connection: never TLS over a Unix socket; and
    /// `require` is `verify-ca` when the root certificate file exists.
    pub fn mode_for(&self, unix_socket: bool) -> SslMode {
        match self.mode {
            _ if unix_socket => SslMode::Disable,
            SslMode::Require if self.root_cert_exists() => SslMode::VerifyCa,
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
                Some(path) => {
                    let store = builder.cert_store_mut();
                    for cert in self.read_root_certs(path)? {
                        store
                            .add_cert(cert)
                            .map_err(|e| format!("cannot use a root certificate: {e}"))?;
                    }
                }
                None => builder
                    .set_default_verify_paths()
                    .map_err(|e| format!("cannot load the system's root certificates: {e}"))?,
            }
            builder.set_verify(SslVerifyMode::PEER);
        } else {
            builder.set_verify(SslVerifyMode::NONE);
        }
        let mut connector = MakeTlsConnector::new(builder.build());
        let full = mode == SslMode::VerifyFull;
        connector.set_callback(move |config, host| {
            // OpenSSL's own host check has no Common Name fallback for an
            // address: libpq's rules are applied to the leaf instead.
            config.set_verify_hostname(false);
            if full {
                let host = host.to_string();
                config.set_verify_callback(SslVerifyMode::PEER, move |ok, ctx| {
                    ok && (ctx.error_depth() != 0 || leaf_names_host(ctx, &host))
                });
            }
            Ok(())
        });
        Ok(connector)
    }
}

/// The verify callback's host check of the leaf certificate; a mismatch is
/// reported as OpenSSL's "hostname mismatch".
fn leaf_names_host(ctx: &mut X509StoreContextRef, host: &str) -> bool {
    let matches = ctx
        .current_cert()
        .is_some_and(|cert| host_matches(&cert_names(cert), host));
    if !matches {
        // SAFETY: 62 is X509_V_ERR_HOSTNAME_MISMATCH, a verify result
        // OpenSSL knows.
        ctx.set_error(unsafe { X509VerifyResult::from_raw(62) });
    }
    matches
}

/// The names of `cert` that host matching reads.
fn cert_names(cert: &X509Ref) -> CertNames {
    let mut names = CertNames::default();
    if let Some(sans) = cert.subject_alt_names() {
        for san in &sans {
            if let Some(d) = san.dnsname() {
                names.dns.push(d.as_bytes().to_vec());
            } else if let Some(ip) = san.ipaddress() {
                names.ip.push(ip.to_vec());
            }
        }
    }
    names.common_name = cert
        .subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .map(|e| e.data().as_slice().to_vec());
    names
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
            e.contains("could not read root certificate file \"/nonexistent/root.crt\""),
            "{e}"
        );
        assert!(s.connector(SslMode::Prefer).is_ok());
    }
}
