//! The operator-facing descriptions of the agent and of every parameter
//! (written for pgsql-ra; plain text, escaped when rendered).

/// One-line summary of the agent.
pub const AGENT_SHORTDESC: &str =
    "Manages a PostgreSQL server, optionally as a promotable clone with streaming replication";

/// What the agent does, shown by `crm ra info` / `pcs resource describe`.
pub const AGENT_LONGDESC: &str = "\
pgsql-ra starts, stops and monitors one PostgreSQL server. It is a drop-in \
replacement for ocf:heartbeat:pgsql: same parameters, defaults and node \
attributes, so an existing resource can be switched by changing its agent only.

With rep_mode=sync or rep_mode=async it runs as a promotable clone over the \
nodes of node_list: one node is promoted to primary, the others stream from \
the address in master_ip (normally a virtual IP that follows the primary). The \
agent publishes each node's replication state in node attributes \
(<rsc>-status, <rsc>-data-status, <rsc>-xlog-loc, master-<rsc>) and only lets \
a node with the most recent data become primary. Configure the clone with \
promotable=true, promoted-max=1 and notify=true.

With rep_mode=slave it runs a plain (non-promotable) standby of master_ip, for \
example a standby in another data centre.

Supported PostgreSQL: 10 to 18 (each tested against real servers); a data \
directory of another major is refused as not installed.";

/// `(shortdesc, longdesc)` of a parameter; `None` for an unknown name.
pub fn describe(name: &str) -> Option<(&'static str, &'static str)> {
    let text = match name {
        "pgctl" => (
            "Path of pg_ctl",
            "The pg_ctl program used to start, stop, promote and reload the server \
             (run as pgdba). An absolute path or a name found on PATH. On Debian and \
             Ubuntu it lives in /usr/lib/postgresql/<major>/bin/pg_ctl; the default only \
             fits distributions that put it in /usr/bin.",
        ),
        "start_opt" => (
            "Extra server options at start",
            "Options passed to the postgres server through 'pg_ctl -o' when the agent \
             starts it, after the config_file setting, e.g. '-c max_connections=200'. \
             Together with postgresql.conf this is where the server's own port is set: \
             pgport is only used by the agent's client connections.",
        ),
        "ctl_opt" => (
            "Extra pg_ctl options at start",
            "Additional pg_ctl options placed before -D on the start command only \
             (stop, promote and reload do not use them).",
        ),
        "psql" => (
            "Path of psql",
            "The psql program. pgsql-ra runs its SQL over its own connection, so this \
             is only checked for presence (a missing psql fails validation, as with \
             the stock agent). An absolute path or a name on PATH.",
        ),
        "pgdata" => (
            "Data directory",
            "The PostgreSQL data directory (the one holding PG_VERSION and \
             postmaster.pid). Its PG_VERSION decides the version-dependent behaviour \
             (PostgreSQL 10 to 18 are supported; any other major is refused as not \
             installed), and it must be writable by pgdba.",
        ),
        "pgdba" => (
            "Operating-system owner of PostgreSQL",
            "The OS user that owns the data directory; pg_ctl runs as this user. It is \
             also the database role used to manage replication slots, and the \
             monitoring role when monitor_user is empty.",
        ),
        "pghost" => (
            "Host to connect to (also given to the server)",
            "When set, the agent connects to this host or socket directory, and the \
             server is started with '-h <pghost>', which overrides listen_addresses. \
             Leave it empty to connect through socketdir (or the default socket) and \
             keep listen_addresses from postgresql.conf.",
        ),
        "pgport" => (
            "Port for client connections",
            "The port the agent connects to, and the port written into \
             primary_conninfo of standbys. It is not passed to the server (set the \
             server port in postgresql.conf or start_opt), so all nodes must listen on \
             this same port.",
        ),
        "pglibs" => (
            "Extra library directory",
            "A directory appended to LD_LIBRARY_PATH for the programs the agent runs, \
             for PostgreSQL builds whose libraries are outside the linker's search path.",
        ),
        "monitor_user" => (
            "Role for monitoring SQL",
            "The database role used for the monitor's SQL (recovery state, \
             pg_stat_replication, WAL positions, monitor_sql). Empty means pgdba. A \
             password comes from monitor_password or, when that is empty, from the \
             pgdba user's .pgpass or trust authentication.",
        ),
        "monitor_password" => (
            "Password of monitor_user",
            "The password of monitor_user. It requires monitor_user to be set. \
             pgsql-ra hands it to its own connection only and never exports it to \
             the environment of other processes. To keep it out of the CIB, leave it \
             empty and put the password in the pgdba user's .pgpass (or PGPASSFILE).",
        ),
        "monitor_sql" => (
            "SQL run by the monitor",
            "A statement the monitor runs to prove the server answers queries. Without \
             replication it runs on every monitor. With rep_mode=sync or async it runs \
             only on the primary and only when changed from the default; a changed \
             value also stops a probe from giving a found primary the initial score 1000.",
        ),
        "config" => (
            "Path of postgresql.conf",
            "The server configuration file, passed as '-c config_file=...'. The default \
             is postgresql.conf inside pgdata. The agent reads it to find \
             unix_socket_directories, and the start action keeps its 'include ... # \
             added by pgsql RA' lines for rep_mode.conf and (PostgreSQL 12 and later) \
             the recovery configuration.",
        ),
        "pgdb" => (
            "Database to connect to",
            "The database the agent's connections use. It must exist on every node.",
        ),
        "logfile" => (
            "pg_ctl log file",
            "Where pg_ctl sends the server's output while starting (pg_ctl -l). It is \
             created if missing and must be writable by pgdba. Most setups log through \
             logging_collector instead and keep /dev/null here.",
        ),
        "socketdir" => (
            "Unix socket directory",
            "The directory holding the server's Unix socket, used by the agent's \
             connections when pghost is empty. Required when postgresql.conf sets \
             unix_socket_directories (PostgreSQL 9.3 and later, the Debian default), \
             because that setting may list several directories.",
        ),
        "stop_escalate" => (
            "Seconds before a fast stop becomes immediate",
            "How long a stop waits after 'pg_ctl stop -m fast' before falling back to \
             '-m immediate' (which needs crash recovery at the next start). 0 stops \
             immediately. The wait is capped so that the stop ends within its timeout.",
        ),
        "rep_mode" => (
            "Replication mode: none, async, sync or slave",
            "none: a single server, no replication handling. async: a promotable clone \
             with asynchronous streaming replication. sync: like async, and the primary \
             moves one connected standby into synchronous_standby_names (falling back \
             to asynchronous when none is connected). slave: a plain clone that only \
             runs as a standby of master_ip and is never promoted. sync and async need \
             node_list and master_ip.",
        ),
        "node_list" => (
            "Nodes of the replication cluster",
            "Space-separated names of every node that runs this clone (as crm_node -n \
             prints them; case does not matter). Required for rep_mode=sync and async. \
             The primary maintains the replication attributes of exactly these nodes, \
             and a standby's application_name must equal its name here.",
        ),
        "restore_command" => (
            "restore_command for standbys",
            "The restore_command written into the recovery configuration of standbys, \
             to fetch archived WAL. Written verbatim inside single quotes.",
        ),
        "archive_cleanup_command" => (
            "archive_cleanup_command for standbys",
            "The archive_cleanup_command written into the recovery configuration of \
             standbys when not empty.",
        ),
        "recovery_end_command" => (
            "recovery_end_command for standbys",
            "The recovery_end_command written into the recovery configuration of \
             standbys when not empty.",
        ),
        "master_ip" => (
            "Address standbys stream from",
            "The host put into primary_conninfo of every standby. Use a virtual IP that \
             is colocated with the Promoted role, so that standbys follow a failover. \
             Required for rep_mode=sync, async and slave.",
        ),
        "repuser" => (
            "Replication role",
            "The role standbys use to connect to the primary (user= in \
             primary_conninfo). It needs the REPLICATION attribute and a matching \
             pg_hba.conf entry.",
        ),
        "primary_conninfo_opt" => (
            "Extra primary_conninfo options",
            "Appended to primary_conninfo after the host, port, user and \
             application_name, e.g. 'keepalives_idle=60 keepalives_interval=5 \
             keepalives_count=5' or 'sslmode=require'. A password here ends up in \
             the recovery configuration file; prefer the replication user's .pgpass.",
        ),
        "restart_on_promote" => (
            "Promote by restarting",
            "When true, promotion stops the standby, removes its standby marker and \
             starts it as primary instead of running 'pg_ctl promote'. The timeline ID \
             then stays the same. Consider on-fail=fence for promote with this setting.",
        ),
        "replication_slot_name" => (
            "Prefix of replication slot names",
            "When set, the primary keeps one physical replication slot per standby, \
             named <prefix>_<node> (node names lower-cased, '-' and '.' turned into \
             '_'), and each standby streams through its own slot. Only lower-case \
             letters, digits and '_' are allowed, the full slot name must fit in 63 \
             characters, and PostgreSQL 9.4 or later is needed. Slots retain WAL while \
             a standby is away: watch the primary's disk.",
        ),
        "tmpdir" => (
            "Directory for the agent's state files",
            "Holds PGSQL.lock (the marker of a primary that may be ahead of its \
             standbys), rep_mode.conf (the synchronous standby setting) and, from \
             PostgreSQL 12, the recovery configuration. Created owned by pgdba with mode \
             0700. It must survive PostgreSQL restarts but should be local to the node.",
        ),
        "xlog_check_count" => (
            "Observations before a standby claims the primary role",
            "When no primary exists, a standby compares its WAL position with the \
             others on this many consecutive monitors before it asks to be promoted. \
             Higher values wait longer for late standbys. Must be at least 1.",
        ),
        "crm_attr_timeout" => (
            "Seconds allowed for one permanent attribute write",
            "The time limit of one write of <rsc>-data-status (a permanent attribute \
             stored in the CIB) before it is abandoned and retried.",
        ),
        "stop_escalate_in_slave" => (
            "Seconds before a standby's fast stop becomes immediate",
            "Like stop_escalate, for stopping a standby in replication mode (and the \
             stop part of restart_on_promote).",
        ),
        "check_wal_receiver" => (
            "Publish the WAL receiver state",
            "When true, the monitor publishes whether the WAL receiver is running in \
             the attribute <rsc>-receiver-status (normal, ERROR, or normal (master) on \
             the primary). Most useful with rep_mode=slave, where nothing else shows \
             that a standby lost its primary.",
        ),
        "crash_rejoin" => (
            "What start may do to bring a crashed old primary back as a standby",
            "none (default, like the stock agent): a node that crashed as the primary \
             keeps PGSQL.lock and is refused until an operator rebuilds it. rewind: when \
             another node is Promoted, start decides from pg_controldata, the local end of \
             WAL and the primary's timeline history whether the node can follow as it is, \
             must be rewound with pg_rewind (needs data checksums or wal_log_hints=on) or \
             must be refused (another system, ahead of the primary on the same timeline); \
             the lock is removed only after the node is on the primary's history. \
             rewind-or-clone: like rewind, and when pg_rewind cannot run, a new copy by \
             pg_basebackup; the old data directory is moved aside, never deleted. With \
             migration-threshold=1, set failure-timeout so that Pacemaker calls start again.",
        ),
        "rewind_user" => (
            "Role for pg_rewind and the rejoin checks",
            "The role that pg_rewind and the rejoin checks use to connect to the primary \
             through master_ip (a normal, not a replication, connection: the primary's \
             pg_hba.conf needs a non-replication entry for it). Empty means pgdba. A \
             non-superuser needs EXECUTE on pg_ls_dir, pg_stat_file and \
             pg_read_binary_file, and (PostgreSQL 15 and later) membership in pg_checkpoint: \
             a primary promoted moments before is checkpointed before pg_rewind runs. Its \
             password comes from pgdba's .pgpass.",
        ),
        "standby_reply_timeout" => (
            "Seconds without a reply after which the primary drops a standby",
            "On the primary (PostgreSQL 12 and later), a standby whose walsender's \
             reply_time in pg_stat_replication is older than this many seconds is treated \
             as gone, like a standby whose node Pacemaker shows offline: it is marked \
             DISCONNECT with score -INFINITY first, then removed from \
             synchronous_standby_names (a reload releases the waiting commits), then its \
             walsender is terminated so that it must qualify again when it returns. This \
             bounds the write stall after a sync standby's host freezes or loses its link \
             without a TCP reset to about this value plus one monitor interval, instead of \
             wal_sender_timeout (60 s). Keep it a safe multiple of \
             wal_receiver_status_interval, at which even an idle standby replies. 0 \
             disables the check.",
        ),
        "sync_quorum" => (
            "Quorum commit: ANY k of the streaming standbys",
            "0 (default) keeps one synchronous standby, like the stock agent. With \
             rep_mode=sync and k of 1 or more, the primary sets synchronous_standby_names \
             to ANY k (...) over every streaming standby of node_list (fewer members than \
             k: ANY of all of them), so that a commit waits for any k of them. Members \
             are not promoted directly: after the primary is lost, the election promotes \
             the member with the highest position, and only when it can compare the \
             positions of at least members - k + 1 of the recorded members (Patroni's \
             rule), so that a commit acknowledged by members that are down is not lost. \
             The member set and k are recorded in the attribute <rsc>-sync-quorum \
             (widened before a member is added, narrowed after it is removed).",
        ),
        "external_standby_node_list" => (
            "Standbys outside the cluster to keep synchronous",
            "Space-separated application_names of standbys that are not cluster nodes. \
             With rep_mode=sync the primary adds them to synchronous_standby_names while \
             they stream and removes them when they disconnect. Requires rep_mode=sync \
             and must not repeat a node of node_list.",
        ),
        _ => return None,
    };
    Some(text)
}
