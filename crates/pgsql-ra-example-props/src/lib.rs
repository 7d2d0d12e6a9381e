//! Nothing to build: this crate holds property tests (`tests/`) written
//! against `pgsql-ra-core`'s public API only, as a user of the library
//! would write them (issue 18).
#![forbid(unsafe_code)]
#![deny(missing_docs)]
