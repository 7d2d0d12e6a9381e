//! pgsql-ra-ocf: the real implementations of the core's ports (PostgreSQL,
//! pg_ctl, Pacemaker, a file-backed attribute store, the filesystem, users,
//! time and logging) and the wiring used by the `pgsql-ra` binary.

#![warn(missing_docs)]

pub mod bounded_cluster;
pub mod budget;
pub mod bytes_path;
pub mod cib;
pub mod cib_failures;
pub mod cib_ipc;
pub mod cib_status;
pub mod clock;
pub mod command;
pub mod crm_mon_xml;
pub mod data_dir;
pub mod db;
pub mod file_store;
pub mod fs;
pub mod libcib;
pub mod log;
pub mod operator;
pub mod os_error;
pub mod pacemaker;
pub mod pg_ctl;
pub mod pgpass;
pub mod procfs;
pub mod raw_env;
pub mod recovery_activity;
pub mod system;
pub mod tls;
pub mod tls_name;
pub mod upstream_socket;
pub mod users;
pub mod wiring;
