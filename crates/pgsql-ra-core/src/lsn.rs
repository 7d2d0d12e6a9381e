//! WAL locations (LSN): parsing PostgreSQL's `X/Y` form and printing the
//! 16-digit attribute form that the stock agent publishes (`pgsql-xlog-loc`,
//! `pgsql-master-baseline`).

use std::fmt;
use std::str::FromStr;

/// A WAL location. Ordered numerically; `Lsn::ZERO` stands for a NULL location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

/// Why a text could not be read as an LSN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid WAL location {}: expected X/Y (hex) or 16 hex digits", crate::quote::quoted(.0))]
pub struct LsnParseError(pub String);

impl Lsn {
    /// The NULL/unknown location, printed as `0000000000000000`.
    pub const ZERO: Lsn = Lsn(0);

    /// Parses PostgreSQL's `X/Y` text (each half 1–8 hex digits, nothing
    /// else; whitespace around the whole text, as `psql` prints it, is
    /// ignored).
    pub fn parse_pg(text: &str) -> Result<Lsn, LsnParseError> {
        let err = || LsnParseError(text.to_string());
        let (hi, lo) = text.trim().split_once('/').ok_or_else(err)?;
        let half = |s: &str| {
            // from_str_radix alone would take a leading '+'.
            if s.is_empty() || s.len() > 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(err());
            }
            u32::from_str_radix(s, 16).map_err(|_| err())
        };
        Ok(Lsn(((half(hi)? as u64) << 32) | half(lo)? as u64))
    }

    /// Parses the 16-hex-digit attribute form (case-insensitive).
    pub fn parse_attr(text: &str) -> Result<Lsn, LsnParseError> {
        let t = text.trim();
        if t.len() != 16 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(LsnParseError(text.to_string()));
        }
        u64::from_str_radix(t, 16)
            .map(Lsn)
            .map_err(|_| LsnParseError(text.to_string()))
    }

    /// The attribute form: 16 uppercase hex digits, e.g. `0000000006000098`.
    pub fn to_attr(self) -> String {
        format!("{:016X}", self.0)
    }

    /// PostgreSQL's `X/Y` form, e.g. `0/6000098`.
    pub fn to_pg(self) -> String {
        format!("{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// Displays the attribute form.
impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_attr())
    }
}

/// Serializes as the attribute form (for printing decisions as JSON).
impl serde::Serialize for Lsn {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_attr())
    }
}

/// Accepts either `X/Y` or the 16-digit attribute form.
impl FromStr for Lsn {
    type Err = LsnParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.contains('/') {
            Lsn::parse_pg(s)
        } else {
            Lsn::parse_attr(s)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_sign_is_not_a_hex_digit() {
        for bad in ["+0/1", "0/+1", "-0/1", "0x0/1", "0 /1"] {
            assert!(Lsn::parse_pg(bad).is_err(), "{bad}");
        }
        assert_eq!(Lsn::parse_pg(" 0/1 "), Ok(Lsn(1)));
    }

    use super::*;

    #[test]
    fn parses_and_prints_the_stock_forms() {
        let l = Lsn::parse_pg("0/6000098").unwrap();
        assert_eq!(l.to_attr(), "0000000006000098");
        assert_eq!(l.to_pg(), "0/6000098");
        assert_eq!(
            Lsn::parse_pg("A/3000060").unwrap().to_attr(),
            "0000000A03000060"
        );
        assert_eq!("000000000A000098".parse::<Lsn>().unwrap(), Lsn(0xA000098));
        assert!(Lsn::parse_pg("0/").is_err());
        assert!(Lsn::parse_pg("x/1").is_err());
        assert!(Lsn::parse_attr("123").is_err());
    }
}
