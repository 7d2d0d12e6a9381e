//! Reads the whole CIB in process through Pacemaker's client library
//! (issue 16, target 1): no `crm_mon` child on a steady-state monitor.
//!
//! The libraries are loaded at run time with their sonames pinned
//! ([`LIBCIB`], [`LIBCRMCOMMON`]: Pacemaker 2.1.x as Debian 12 ships it), so
//! the binary starts where they are missing; the caller then falls back to
//! `crm_mon`. Only the public API is used (`crm/cib.h`, `crm/common/xml.h`):
//! `cib_new`, `cib->cmds->signon(cib, name, cib_query)`,
//! `cib->cmds->query(cib, NULL, &out, cib_scope_local | cib_sync_call)`,
//! `dump_xml_unformatted`, `free_xml`, `cib->cmds->signoff`, `cib_delete`,
//! after `crm_xml_init` (what every Pacemaker tool runs first: it loads the
//! schema list that a file-backed CIB is validated against). `cib_new`
//! honours `CIB_file` like the tools do.
//!
//! Every session runs on one worker thread ([`start_query`]) that the
//! caller waits for at most the given time: a stalled CIB manager cannot
//! hang the agent (the thread is abandoned, the process exits soon after).
//!
//! The same thread first tries the CIB manager's IPC channel without these
//! libraries ([`crate::cib_ipc`], through libqb alone) when asked to
//! ([`Path::Ipc`]): that reply is the same CIB for a sixth of the loading
//! cost. When that path is unavailable (no libqb, another protocol, a
//! file, shadow or remote CIB) libcib reads as before. No listener, or one
//! that is not Pacemaker's, ends the read ([`LibCibError::is_final`]: the
//! caller runs no other client); a refused or timed-out query fails it and
//! the caller runs `crm_mon`.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The CIB client library's soname (Pacemaker 2.1).
pub const LIBCIB: &str = "libcib.so.27";
/// The common library's soname (Pacemaker 2.1.5 on Debian 12).
pub const LIBCRMCOMMON: &str = "libcrmcommon.so.34";

/// The client name the CIB manager logs for our connection.
const CLIENT_NAME: &[u8] = b"pgsql-ra\0";
/// `enum cib_conn_type`: `cib_query` (read-only connection).
const CIB_QUERY: c_int = 1;
/// `enum cib_call_options`: `cib_scope_local | cib_sync_call`.
const QUERY_OPTIONS: c_int = 0x0000_0100 | 0x0000_1000;
/// `pcmk_ok`.
const PCMK_OK: c_int = 0;

/// The start of `cib_api_operations_t` (crm/cib/cib_types.h, 2.1.5), up to
/// `query`: only read through a pointer the library owns.
#[repr(C)]
struct CibOps {
    signon: Option<unsafe extern "C" fn(*mut Cib, *const c_char, c_int) -> c_int>,
    signon_raw: *const c_void,
    signoff: Option<unsafe extern "C" fn(*mut Cib) -> c_int>,
    free: *const c_void,
    set_op_callback: *const c_void,
    add_notify_callback: *const c_void,
    del_notify_callback: *const c_void,
    set_connection_dnotify: *const c_void,
    inputfd: *const c_void,
    noop: *const c_void,
    ping: *const c_void,
    query: Option<unsafe extern "C" fn(*mut Cib, *const c_char, *mut *mut c_void, c_int) -> c_int>,
}

/// `struct cib_s` (crm/cib/cib_types.h, 2.1.5).
#[repr(C)]
struct Cib {
    state: c_int,
    conn_type: c_int,
    variant: c_int,
    call_id: c_int,
    call_timeout: c_int,
    variant_opaque: *mut c_void,
    delegate_fn: *mut c_void,
    notify_list: *mut c_void,
    op_callback: *mut c_void,
    cmds: *mut CibOps,
}

type CibNew = unsafe extern "C" fn() -> *mut Cib;
type CibDelete = unsafe extern "C" fn(*mut Cib);
type DumpXml = unsafe extern "C" fn(*mut c_void) -> *mut c_char;
type FreeXml = unsafe extern "C" fn(*mut c_void);
type XmlInit = unsafe extern "C" fn();

/// The in-process paths a read may take, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// The CIB manager's IPC channel through libqb ([`crate::cib_ipc`]),
    /// then libcib when that path is unavailable.
    Ipc,
    /// libcib only.
    Libcib,
}

/// A CIB read in process: its text, the path that answered and, when the
/// IPC path was tried and left for libcib, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The `<cib>` element.
    pub xml: String,
    /// [`Path::Ipc`] or [`Path::Libcib`]: which one answered.
    pub via: Path,
    /// Why the IPC path was left for libcib.
    pub ipc_declined: Option<String>,
}

/// Why the in-process read did not give a CIB.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LibCibError {
    /// A library or symbol is missing (another Pacemaker, or none).
    #[error("Pacemaker client library unavailable: {0}")]
    Unavailable(String),
    /// The library is there but the query failed (rc is Pacemaker's legacy
    /// return code) or timed out.
    #[error("in-process CIB query failed: {0}")]
    Failed(String),
    /// The CIB manager's channel is served by a process that is not
    /// Pacemaker's (neither root nor hacluster): nothing is read, and no
    /// other client is pointed at it (crm_mon would connect to the same
    /// listener before checking it, as libqb's clients do).
    #[error("cluster state not read: {0}")]
    Impostor(String),
    /// Nobody listens on the CIB manager's channel: no client of
    /// Pacemaker's could read the CIB, and none is run (crm_mon would
    /// connect first to an unchecked `pacemakerd`, which any local user can
    /// bind while Pacemaker is down).
    #[error("cluster state not read: {0}")]
    NoManager(String),
}

impl LibCibError {
    /// Whether no other client may be tried after this error (the
    /// channel's listener is not Pacemaker's, or there is none).
    pub fn is_final(&self) -> bool {
        matches!(self, LibCibError::Impostor(_) | LibCibError::NoManager(_))
    }
}

/// Queries the whole CIB through libcib, waiting at most `timeout` (also
/// passed to libcib as its call timeout, whole seconds, at least 1).
///
/// # Errors
/// [`LibCibError::Unavailable`] when the pinned libraries or a symbol cannot
/// be loaded; [`LibCibError::Failed`] when signon or the query fails, the
/// result cannot be serialized, or `timeout` passes.
pub fn query_cib(timeout: Duration) -> Result<String, LibCibError> {
    query_cib_from(LIBCIB, LIBCRMCOMMON, Path::Libcib, timeout).map(|a| a.xml)
}

/// [`query_cib`] with other sonames (tests: a missing library must give
/// [`LibCibError::Unavailable`], never a crash).
///
/// # Errors
/// As [`query_cib`].
pub fn query_cib_from(
    libcib: &str,
    libcrmcommon: &str,
    path: Path,
    timeout: Duration,
) -> Result<Answer, LibCibError> {
    start_query(libcib, libcrmcommon, path, timeout)?.wait()
}

/// A CIB query running on the libcib thread ([`start_query`]).
#[derive(Debug)]
pub struct PendingQuery {
    rx: mpsc::Receiver<Result<Answer, LibCibError>>,
    started: Instant,
    timeout: Duration,
}

/// One query for the worker thread ([`worker`]).
struct Job {
    libcib: String,
    libcrmcommon: String,
    path: Path,
    /// The waiter gives up at `deadline` ([`PendingQuery::wait`]): the
    /// worker does not run past it either.
    deadline: Instant,
    reply: mpsc::Sender<Result<Answer, LibCibError>>,
}

/// The process's one libcib thread, started by the first query: every
/// query of the process runs on it, one after another. `crm_xml_init` sets
/// its libxml2 callbacks once per process, and libxml2 keeps them per
/// thread, so a second query on another thread would run Pacemaker's XML
/// code without them (the review of issue 16's read-again: two queries in
/// one invocation). `None` when the thread could not be started.
fn worker() -> Option<&'static mpsc::Sender<Job>> {
    static WORKER: std::sync::OnceLock<Option<mpsc::Sender<Job>>> = std::sync::OnceLock::new();
    WORKER
        .get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Job>();
            std::thread::Builder::new()
                .name("libcib".into())
                .spawn(move || {
                    for job in rx {
                        let _ = job.reply.send(run(&job));
                    }
                })
                .ok()
                .map(|_| tx)
        })
        .as_ref()
}

/// One read: the IPC path first when the job asks for it and libcib
/// would use the native channel, then libcib when the IPC path is
/// unavailable.
fn run(job: &Job) -> Result<Answer, LibCibError> {
    let mut ipc_declined = None;
    if job.path == Path::Ipc {
        match crate::cib_ipc::native_channel_declined() {
            Some(why) => ipc_declined = Some(why),
            None => match crate::cib_ipc::query(job.deadline) {
                Ok(xml) => {
                    return Ok(Answer {
                        xml,
                        via: Path::Ipc,
                        ipc_declined: None,
                    })
                }
                Err(LibCibError::Unavailable(why)) => ipc_declined = Some(why),
                Err(e) => return Err(e),
            },
        }
    }
    // What is left of the job's time (it may have waited behind an earlier
    // job, or spent some on the IPC path).
    let left = job.deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(LibCibError::Failed(match ipc_declined {
            Some(why) => format!("no time left for libcib (IPC channel not used: {why})"),
            None => "no time left for libcib".into(),
        }));
    }
    let call_timeout_s = c_int::try_from(left.as_secs().max(1)).unwrap_or(c_int::MAX);
    let declined = ipc_declined.clone();
    query_blocking(
        &job.libcib,
        &job.libcrmcommon,
        call_timeout_s,
        job.path == Path::Libcib,
    )
    .map(|xml| Answer {
        xml,
        via: Path::Libcib,
        ipc_declined,
    })
    .map_err(|e| match (e, declined) {
        (LibCibError::Failed(m), Some(why)) => {
            LibCibError::Failed(format!("{m} (IPC channel not used: {why})"))
        }
        (LibCibError::Unavailable(m), Some(why)) => {
            LibCibError::Unavailable(format!("{m} (IPC channel not used: {why})"))
        }
        (e, _) => e,
    })
}

/// Starts [`query_cib_from`] on the process's libcib thread and returns at
/// once (issue 16: the agent starts it first thing, so that loading the
/// libraries and the query overlap the database session). A query still
/// running (a stalled CIB manager) delays the next one, which then fails
/// at its own timeout.
///
/// # Errors
/// [`LibCibError::Failed`] when the thread cannot be started.
pub fn start_query(
    libcib: &str,
    libcrmcommon: &str,
    path: Path,
    timeout: Duration,
) -> Result<PendingQuery, LibCibError> {
    let (reply, rx) = mpsc::channel();
    let started = Instant::now();
    let job = Job {
        libcib: libcib.to_string(),
        libcrmcommon: libcrmcommon.to_string(),
        path,
        deadline: started + timeout,
        reply,
    };
    worker()
        .ok_or_else(|| LibCibError::Failed("cannot start the query thread".into()))?
        .send(job)
        .map_err(|_| LibCibError::Failed("the query thread has ended".into()))?;
    Ok(PendingQuery {
        rx,
        started,
        timeout,
    })
}

impl PendingQuery {
    /// When the query was started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The query's answer, waiting at most until its timeout, counted from
    /// its start.
    ///
    /// # Errors
    /// As [`query_cib`].
    pub fn wait(self) -> Result<Answer, LibCibError> {
        let left = self.timeout.saturating_sub(self.started.elapsed());
        self.rx.recv_timeout(left).map_err(|_| {
            LibCibError::Failed(format!(
                "no answer within {:.1} s",
                self.timeout.as_secs_f64()
            ))
        })?
    }
}

fn unavailable(e: libloading::Error) -> LibCibError {
    LibCibError::Unavailable(e.to_string())
}

/// Loads libcib and queries the CIB; with `vet_first`, the channel's
/// listener is checked ([`crate::cib_ipc::vet`]) once the libraries are
/// loaded and before libcib connects: libcib acts on the listener's answer,
/// then checks it (second attack on issue 16's IPC read). The IPC path,
/// when it ran before, has checked it already.
fn query_blocking(
    libcib: &str,
    libcrmcommon: &str,
    call_timeout_s: c_int,
    vet_first: bool,
) -> Result<String, LibCibError> {
    // SAFETY: loading Pacemaker's own libraries by their pinned sonames; their
    // initialisers are the ones every Pacemaker tool runs.
    let common = unsafe { libloading::Library::new(libcrmcommon) }.map_err(unavailable)?;
    // SAFETY: as above.
    let cib_lib = unsafe { libloading::Library::new(libcib) }.map_err(unavailable)?;
    // SAFETY: the symbols' C signatures are the ones declared in crm/cib.h and
    // crm/common/xml.h of Pacemaker 2.1 (the pinned sonames).
    let (xml_init, cib_new, cib_delete, dump_xml, free_xml) = unsafe {
        (
            *common
                .get::<XmlInit>(b"crm_xml_init\0")
                .map_err(unavailable)?,
            *cib_lib.get::<CibNew>(b"cib_new\0").map_err(unavailable)?,
            *cib_lib
                .get::<CibDelete>(b"cib_delete\0")
                .map_err(unavailable)?,
            *common
                .get::<DumpXml>(b"dump_xml_unformatted\0")
                .map_err(unavailable)?,
            *common.get::<FreeXml>(b"free_xml\0").map_err(unavailable)?,
        )
    };
    if vet_first && crate::cib_ipc::native_channel_declined().is_none() {
        crate::cib_ipc::vet("cib_ro")?;
    }
    // SAFETY: crm_xml_init takes no argument and may run more than once.
    unsafe { xml_init() };
    // SAFETY: cib_new returns an owned connection object or NULL.
    let cib = unsafe { cib_new() };
    if cib.is_null() {
        return Err(LibCibError::Failed("cib_new returned NULL".into()));
    }
    // SAFETY: `cib` is non-null and owned by us until cib_delete below.
    let result = unsafe { session(cib, call_timeout_s, dump_xml, free_xml) };
    // SAFETY: `cib` came from cib_new and is deleted once.
    unsafe { cib_delete(cib) };
    // The libraries stay loaded until the process exits (one query per
    // invocation): unloading two dozen libraries (libcrmcommon's glib,
    // libxml2, ICU, GnuTLS) cost about a tenth of a monitor's time, and
    // their atexit handlers then run at exit as in any Pacemaker tool.
    std::mem::forget(cib_lib);
    std::mem::forget(common);
    result
}

/// Signs on, queries, serializes and signs off.
///
/// # Safety
/// `cib` must be a live object from `cib_new`.
unsafe fn session(
    cib: *mut Cib,
    call_timeout_s: c_int,
    dump_xml: DumpXml,
    free_xml: FreeXml,
) -> Result<String, LibCibError> {
    let ops = (*cib).cmds;
    if ops.is_null() {
        return Err(LibCibError::Failed("cib object without operations".into()));
    }
    let (Some(signon), Some(signoff), Some(query)) = ((*ops).signon, (*ops).signoff, (*ops).query)
    else {
        return Err(LibCibError::Failed("cib operations missing".into()));
    };
    (*cib).call_timeout = call_timeout_s;
    let rc = signon(cib, CLIENT_NAME.as_ptr().cast(), CIB_QUERY);
    if rc != PCMK_OK {
        return Err(LibCibError::Failed(format!("signon: rc {rc}")));
    }
    let mut out: *mut c_void = std::ptr::null_mut();
    let rc = query(cib, std::ptr::null(), &mut out, QUERY_OPTIONS);
    let text = if rc != PCMK_OK {
        Err(LibCibError::Failed(format!("query: rc {rc}")))
    } else if out.is_null() {
        Err(LibCibError::Failed("query returned no XML".into()))
    } else {
        let raw = dump_xml(out);
        let text = if raw.is_null() {
            Err(LibCibError::Failed("dump_xml_unformatted failed".into()))
        } else {
            let s = CStr::from_ptr(raw).to_string_lossy().into_owned();
            libc::free(raw.cast());
            Ok(s)
        };
        free_xml(out);
        text
    };
    signoff(cib);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `struct cib_s` layout the header gives on LP64: `cmds` after
    /// five ints (padded to 24) and four pointers.
    /// Where the library is missing (another Pacemaker, or none), the
    /// answer is `Unavailable`, for the caller to fall back to crm_mon.
    #[test]
    fn a_missing_library_is_unavailable_not_a_crash() {
        let e = query_cib_from(
            "libcib.so.0-missing",
            LIBCRMCOMMON,
            Path::Libcib,
            Duration::from_secs(5),
        )
        .expect_err("no such library");
        assert!(matches!(e, LibCibError::Unavailable(_)), "{e}");
        let e = query_cib_from(
            LIBCIB,
            "libcrmcommon.so.0-missing",
            Path::Libcib,
            Duration::from_secs(5),
        )
        .expect_err("no such library");
        assert!(matches!(e, LibCibError::Unavailable(_)), "{e}");
    }

    fn offset<T, F>(base: &std::mem::MaybeUninit<T>, field: *const F) -> usize {
        field as usize - base.as_ptr() as usize
    }

    /// The `struct cib_s` layout the header gives on LP64: `cmds` after
    /// five ints (padded to 24) and four pointers; `query` is the 12th
    /// operation.
    #[test]
    fn the_struct_layout_matches_the_header() {
        if std::mem::size_of::<usize>() != 8 {
            return;
        }
        let cib = std::mem::MaybeUninit::<Cib>::uninit();
        let ops = std::mem::MaybeUninit::<CibOps>::uninit();
        // SAFETY: addresses of fields of uninitialised values, never read.
        unsafe {
            let c = cib.as_ptr();
            assert_eq!(offset(&cib, std::ptr::addr_of!((*c).variant_opaque)), 24);
            assert_eq!(offset(&cib, std::ptr::addr_of!((*c).cmds)), 56);
            let o = ops.as_ptr();
            assert_eq!(offset(&ops, std::ptr::addr_of!((*o).query)), 88);
        }
    }
}
