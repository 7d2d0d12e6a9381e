//! Reads the whole CIB over the CIB manager's read-only IPC channel
//! (`cib_ro`) through libqb, without Pacemaker's client libraries (issue 16,
//! target 1: loading libcrmcommon and its two dozen dependencies was about
//! a third of a steady-state monitor; libqb alone loads in under a
//! millisecond).
//!
//! What goes over the channel is what libcib's native client sends and
//! receives in Pacemaker 2.1 (`lib/cib/cib_native.c`, `lib/common/ipc_client.c`,
//! `daemons/based/based_callbacks.c`): a 40-byte `pcmk__ipc_header_t`
//! (libqb's response header, then the uncompressed and compressed sizes,
//! the flags and the protocol version 1) before a NUL-terminated XML
//! request `<cib_command t="cib" cib_op="cib_query" cib_callid="1"
//! cib_callopt="4352"/>` (`cib_scope_local | cib_sync_call`, the whole
//! CIB), answered by `<cib-reply ... cib_rc="0"><cib_calldata><cib>…`.
//! Replies above the manager's IPC buffer (128 KiB unless
//! `PCMK_ipc_buffer`) come bzip2-compressed: libbz2 is loaded for them
//! only. The registration round trip libcib makes first is skipped: the
//! manager names a client by its connection and registration is only a
//! handshake for libcib's callback token.
//!
//! The protocol is pinned as strictly as the sonames of the library path:
//! libqb's soname [`LIBQB`], protocol version 1, the reply's element and
//! attribute names, and a CIB whose `crm_feature_set` is that of a
//! Pacemaker 2.1 (3.10 to 3.19). Anything else is
//! [`LibCibError::Unavailable`]: the caller then reads through libcib,
//! then `crm_mon`. Like Pacemaker's own clients, the peer must be root or
//! `hacluster` (its uid; Pacemaker also admits members of `haclient`, the
//! agent does not): any local user can bind an abstract socket named
//! `cib_ro` where no CIB manager runs. Unlike Pacemaker's clients (libcib,
//! `crm_mon`), the check comes before libqb acts on the listener's answer
//! (it opens and truncates files at paths the server names), and a refused
//! listener is [`LibCibError::Impostor`]: no other client is pointed at it.
//!
//! Used only where libcib would use the same channel: not when `CIB_file`,
//! `CIB_shadow` or `CIB_port` is set ([`native_channel`]).

use std::ffi::{c_char, c_int, c_void};
use std::time::{Duration, Instant};

use crate::libcib::LibCibError;
use pgsql_ra_core::quote::quoted;

/// libqb's soname (libqb 2.0, Debian 12).
pub const LIBQB: &str = "libqb.so.100";
/// libbz2's soname, for compressed replies.
pub const LIBBZ2: &str = "libbz2.so.1.0";
/// `PCMK__SERVER_BASED_RO`: the CIB manager's read-only channel.
const CHANNEL: &[u8] = b"cib_ro\0";
/// `sizeof(pcmk__ipc_header_t)` on LP64: libqb's 24-byte response header
/// (`id`, `size`, `error`, each 8-aligned), three `uint32_t`, one `uint8_t`,
/// padded to 8.
pub const HEADER_LEN: usize = 40;
/// `PCMK__IPC_VERSION`.
const IPC_VERSION: u8 = 1;
/// `crm_ipc_compressed`.
const FLAG_COMPRESSED: u32 = 0x0000_0001;
/// `crm_ipc_client_response`: a reply is expected.
const FLAG_CLIENT_RESPONSE: u32 = 0x0000_0200;
/// The buffer libcib's synchronous client asks for (512 KiB).
const CLIENT_BUFFER: usize = 512 * 1024;
/// The request's IPC id and the CIB call id (one request per connection).
const REQUEST_ID: i32 = 1;
/// `cib_scope_local | cib_sync_call`.
const CALL_OPTIONS: u32 = 0x0000_0100 | 0x0000_1000;
/// An attribute's value as the operator reads it: quoted, or "none".
fn shown(value: Option<&str>) -> String {
    value.map_or_else(|| "none".to_string(), quoted)
}

/// Pacemaker's daemon user (`CRM_DAEMON_USER`).
const DAEMON_USER: &str = "hacluster";
/// The `crm_feature_set` minors of Pacemaker 2.1.0 (3.10.0) to 2.1.9
/// (3.19.6); Pacemaker 3.0 is 3.20.
const FEATURE_SET_MINORS: std::ops::RangeInclusive<u32> = 10..=19;

/// Why this channel is not the one libcib would use, or `None` when it is:
/// `CIB_shadow` (non-empty), `CIB_file` or `CIB_port` in the environment
/// make libcib's `cib_new` read a shadow, a file or a remote CIB.
pub fn native_channel(env: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<String> {
    if env("CIB_shadow").is_some_and(|v| !v.is_empty()) {
        return Some("CIB_shadow is set".into());
    }
    ["CIB_file", "CIB_port"]
        .into_iter()
        .find(|v| env(v).is_some())
        .map(|v| format!("{v} is set"))
}

/// [`native_channel`] in this process's environment.
pub fn native_channel_declined() -> Option<String> {
    native_channel(|k| std::env::var_os(k))
}

/// Before one of Pacemaker's own clients (cibadmin, crm_mon) connects to
/// `channels`, which it checks only after acting on the listener's answer:
/// a listener on any of them that is not Pacemaker's is the error
/// ([`vet`]); nobody listening is not (the client then fails by itself).
/// Nothing is checked where the client reads a CIB file, shadow or remote
/// CIB ([`native_channel`]).
///
/// # Errors
/// [`LibCibError::Impostor`].
pub fn refuse_impostors(channels: &[&str]) -> Result<(), LibCibError> {
    if native_channel_declined().is_some() {
        return Ok(());
    }
    for channel in channels {
        if let Err(e @ LibCibError::Impostor(_)) = vet(channel) {
            return Err(e);
        }
    }
    Ok(())
}

/// The query message: header and NUL-terminated XML.
pub fn request() -> Vec<u8> {
    let xml = format!(
        "<cib_command t=\"cib\" cib_op=\"cib_query\" cib_callid=\"{REQUEST_ID}\" \
         cib_callopt=\"{CALL_OPTIONS}\" cib_clientname=\"pgsql-ra\"/>"
    );
    let body_len = xml.len() + 1;
    let total = HEADER_LEN + body_len;
    let mut msg = vec![0u8; total];
    msg[0..4].copy_from_slice(&REQUEST_ID.to_ne_bytes());
    msg[8..12].copy_from_slice(&(total as i32).to_ne_bytes());
    msg[24..28].copy_from_slice(&(body_len as u32).to_ne_bytes());
    msg[32..36].copy_from_slice(&FLAG_CLIENT_RESPONSE.to_ne_bytes());
    msg[36] = IPC_VERSION;
    msg[HEADER_LEN..HEADER_LEN + xml.len()].copy_from_slice(xml.as_bytes());
    msg
}

/// A reply's `pcmk__ipc_header_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The request it answers.
    pub id: i32,
    /// Bytes of the XML with its NUL.
    pub size_uncompressed: u32,
    /// Bytes of the bzip2 stream (0: not compressed).
    pub size_compressed: u32,
    /// `crm_ipc_flags`.
    pub flags: u32,
    /// Protocol version.
    pub version: u8,
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    u32::from_ne_bytes(b)
}

/// Reads the header of a reply of `buf.len()` bytes.
///
/// # Errors
/// [`LibCibError::Unavailable`] when the bytes are too short or the
/// protocol version is not 1 (another Pacemaker).
pub fn header(buf: &[u8]) -> Result<Header, LibCibError> {
    if buf.len() < HEADER_LEN {
        return Err(LibCibError::Unavailable(format!(
            "IPC reply of {} bytes, shorter than its header",
            buf.len()
        )));
    }
    let h = Header {
        id: u32_at(buf, 0) as i32,
        size_uncompressed: u32_at(buf, 24),
        size_compressed: u32_at(buf, 28),
        flags: u32_at(buf, 32),
        version: buf[36],
    };
    if h.version != IPC_VERSION {
        return Err(LibCibError::Unavailable(format!(
            "IPC protocol version {} (this agent speaks {IPC_VERSION})",
            h.version
        )));
    }
    Ok(h)
}

/// The XML text of a reply (`buf`: header and body as received),
/// decompressing through `inflate(stream, uncompressed size)` when the
/// header says so.
///
/// # Errors
/// [`LibCibError::Unavailable`] when the sizes disagree with the bytes, the
/// text is not NUL-terminated UTF-8, or `inflate` fails.
pub fn body(
    buf: &[u8],
    h: &Header,
    inflate: impl FnOnce(&[u8], usize) -> Result<Vec<u8>, LibCibError>,
) -> Result<String, LibCibError> {
    let bad = |what: &str| LibCibError::Unavailable(format!("IPC reply: {what}"));
    let rest = &buf[HEADER_LEN..];
    let text = if h.flags & FLAG_COMPRESSED != 0 || h.size_compressed != 0 {
        let n = h.size_compressed as usize;
        let stream = rest
            .get(..n)
            .ok_or_else(|| bad("compressed size beyond the bytes"))?;
        let out = inflate(stream, h.size_uncompressed as usize)?;
        if out.len() != h.size_uncompressed as usize {
            return Err(bad("decompressed size differs from the header's"));
        }
        out
    } else {
        rest.get(..h.size_uncompressed as usize)
            .ok_or_else(|| bad("size beyond the bytes"))?
            .to_vec()
    };
    match text.split_last() {
        Some((0, xml)) => String::from_utf8(xml.to_vec()).map_err(|_| bad("not UTF-8")),
        _ => Err(bad("text not NUL-terminated")),
    }
}

/// The `<cib>` element of the reply to our query, as text.
///
/// # Errors
/// [`LibCibError::Failed`] for a reply with a non-zero `cib_rc` (the
/// manager refused or failed the query: Pacemaker's legacy return code);
/// [`LibCibError::Unavailable`] for anything not shaped like a Pacemaker
/// 2.1 reply to this query (element and attribute names, call id, a CIB of
/// feature set 3.10 to 3.19).
pub fn cib_of_reply(reply: &str) -> Result<String, LibCibError> {
    let odd = |what: String| LibCibError::Unavailable(format!("IPC reply: {what}"));
    let doc = roxmltree::Document::parse(reply).map_err(|e| odd(format!("not XML: {e}")))?;
    let root = doc.root_element();
    if root.tag_name().name() != "cib-reply" || root.attribute("cib_op") != Some("cib_query") {
        return Err(odd(format!(
            "<{} cib_op={}> instead of <cib-reply cib_op=\"cib_query\">",
            root.tag_name().name(),
            shown(root.attribute("cib_op"))
        )));
    }
    if root.attribute("cib_callid") != Some(&REQUEST_ID.to_string()) {
        return Err(odd(format!(
            "call id {}",
            shown(root.attribute("cib_callid"))
        )));
    }
    match root.attribute("cib_rc").map(str::parse::<i32>) {
        Some(Ok(0)) => {}
        Some(Ok(rc)) => return Err(LibCibError::Failed(format!("query: rc {rc}"))),
        _ => return Err(odd(format!("cib_rc {}", shown(root.attribute("cib_rc"))))),
    }
    let cib = root
        .children()
        .find(|n| n.has_tag_name("cib_calldata"))
        .and_then(|d| d.children().find(roxmltree::Node::is_element))
        .filter(|c| c.has_tag_name("cib"))
        .ok_or_else(|| odd("no <cib_calldata><cib>".into()))?;
    let feature_set = cib.attribute("crm_feature_set").unwrap_or("");
    let minor = feature_set
        .strip_prefix("3.")
        .and_then(|r| r.split('.').next())
        .and_then(|m| m.parse::<u32>().ok());
    if !minor.is_some_and(|m| FEATURE_SET_MINORS.contains(&m)) {
        return Err(odd(format!(
            "CIB feature set {}, not a Pacemaker 2.1's",
            quoted(feature_set)
        )));
    }
    Ok(reply[cib.range()].to_string())
}

/// Whether the listener's `uid` is Pacemaker's: root (pacemakerd, and
/// pacemaker-remoted's proxied channels on a remote node) or the daemon
/// user's uid `daemon_uid` (the CIB manager runs as `hacluster`).
/// Pacemaker's own rule (`pcmk__crm_ipc_is_authentic_process`) also admits
/// the daemon user's primary group; the agent does not (second attack on
/// issue 16's IPC read: any member of `haclient`, whom CIB ACLs may limit,
/// could serve a CIB and name the files libqb opens as root).
pub fn authentic(uid: u32, daemon_uid: Option<u32>) -> bool {
    uid == 0 || daemon_uid == Some(uid)
}

type ConnectAsync = unsafe extern "C" fn(*const c_char, usize, *mut c_int) -> *mut c_void;
type ConnectContinue = unsafe extern "C" fn(*mut c_void) -> c_int;
type Disconnect = unsafe extern "C" fn(*mut c_void);
type BufferSize = unsafe extern "C" fn(*mut c_void) -> i32;
type Send = unsafe extern "C" fn(*mut c_void, *const c_void, usize) -> isize;
type Recv = unsafe extern "C" fn(*mut c_void, *mut c_void, usize, i32) -> isize;
type Bz2Decompress =
    unsafe extern "C" fn(*mut c_char, *mut u32, *const c_char, u32, c_int, c_int) -> c_int;

/// The largest reply accepted (decompressed text or receive buffer), so
/// that a peer's sizes cannot make the agent allocate without bound: far
/// above any CIB Pacemaker serves (its own IPC limit is the buffer size it
/// negotiates; a CIB of 10 000 resources is a few MiB).
pub const MAX_REPLY: usize = 256 * 1024 * 1024;

fn unavailable(e: libloading::Error) -> LibCibError {
    LibCibError::Unavailable(e.to_string())
}

/// The IPC buffer to ask for: libcib's 512 KiB, or `PCMK_ipc_buffer` when
/// larger (what `pcmk__ipc_buffer_size` gives libcib).
fn client_buffer() -> usize {
    std::env::var("PCMK_ipc_buffer")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map_or(CLIENT_BUFFER, |v| v.clamp(CLIENT_BUFFER, MAX_REPLY))
}

/// Milliseconds left until `deadline`, at least 1 while some remain, 0
/// once it has passed.
fn ms_left(deadline: Instant) -> i32 {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return 0;
    }
    i32::try_from(left.as_millis()).unwrap_or(i32::MAX).max(1)
}

/// The credentials of the process that made the listening socket at the
/// other end of `fd` (`SO_PEERCRED`: set by the kernel at `connect()`,
/// nothing the peer sends).
fn peer_credentials(fd: c_int) -> std::io::Result<libc::ucred> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: u32::MAX,
        gid: u32::MAX,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` is valid for `len` bytes.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            std::ptr::addr_of_mut!(cred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if len as usize != std::mem::size_of::<libc::ucred>() {
        return Err(std::io::Error::other("short SO_PEERCRED answer"));
    }
    Ok(cred)
}

/// Whether `fd` has something to read before `deadline`.
fn readable(fd: c_int, deadline: Instant) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        let ms = ms_left(deadline);
        if ms == 0 {
            return false;
        }
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut p, 1, ms) };
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        return n > 0 && p.revents & libc::POLLIN != 0;
    }
}

/// Queries the whole CIB over `cib_ro`, blocking until `deadline` at the
/// latest (connecting included).
///
/// The peer is checked before libqb acts on anything it sends: libqb's
/// connection (`qb_ipcc_connect`) opens, truncates and maps shared-memory
/// files at paths the server names, as root here, so the listener's
/// credentials (`SO_PEERCRED`) are read after the socket's `connect()` and
/// before `qb_ipcc_connect_continue` (attack on issue 16's IPC read: a
/// `cib_ro` bound by `nobody` made the root agent truncate a root-owned
/// file through a symlink when the check came after the connection).
///
/// # Errors
/// [`LibCibError::Unavailable`] when libqb is missing or the manager
/// speaks another protocol (see the module); [`LibCibError::Impostor`]
/// when the listener is not Pacemaker's; [`LibCibError::NoManager`] when
/// no listener could be reached; [`LibCibError::Failed`] when the query
/// fails or `deadline` passes.
pub fn query(deadline: Instant) -> Result<String, LibCibError> {
    // SAFETY: libqb's initialisers are the ones every Pacemaker client runs.
    let qb = unsafe { libloading::Library::new(LIBQB) }.map_err(unavailable)?;
    // SAFETY: the C signatures of libqb 2.0's qb/qbipcc.h.
    let fns = unsafe {
        (
            *qb.get::<ConnectAsync>(b"qb_ipcc_connect_async\0")
                .map_err(unavailable)?,
            *qb.get::<ConnectContinue>(b"qb_ipcc_connect_continue\0")
                .map_err(unavailable)?,
            *qb.get::<Disconnect>(b"qb_ipcc_disconnect\0")
                .map_err(unavailable)?,
            *qb.get::<BufferSize>(b"qb_ipcc_get_buffer_size\0")
                .map_err(unavailable)?,
            *qb.get::<Send>(b"qb_ipcc_send\0").map_err(unavailable)?,
            *qb.get::<Recv>(b"qb_ipcc_recv\0").map_err(unavailable)?,
        )
    };
    // Stays loaded until exit, like libcib's libraries (one read or two
    // per invocation).
    std::mem::forget(qb);
    let (connect_async, connect_continue, disconnect, buffer_size, send, recv) = fns;
    // SAFETY: the connection is made, checked, and disconnected once.
    let reply = unsafe {
        let conn = connect(connect_async, connect_continue, disconnect, deadline)?;
        let result = exchange(conn, deadline, buffer_size, send, recv);
        disconnect(conn);
        result?
    };
    cib_of_reply(&reply)
}

/// Checks who serves the IPC channel `channel` (an abstract socket name
/// as libqb spells it: `cib_ro`, `cib_rw`, `pacemakerd`) without libqb and
/// without speaking to it: a plain `connect()`, the listener's
/// `SO_PEERCRED`, `close()`. For the clients that act on the listener's
/// answer before checking it (libcib, `cibadmin`, `crm_mon`: Pacemaker's
/// own). A listener bound in the moment between this check and the
/// client's own connection is not seen (third review of issue 16's IPC
/// read); while Pacemaker runs, its daemons hold the names.
///
/// # Errors
/// [`LibCibError::NoManager`] when nobody listens (or the listener cannot
/// be reached), [`LibCibError::Impostor`] when it is not Pacemaker's.
pub fn vet(channel: &str) -> Result<(), LibCibError> {
    // SAFETY: a plain socket, closed below on every path.
    let fd = unsafe {
        libc::socket(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            0,
        )
    };
    if fd < 0 {
        return Err(LibCibError::NoManager(format!(
            "cannot check {channel}: {}",
            std::io::Error::last_os_error()
        )));
    }
    // libqb's abstract address: a NUL, the name, NULs to the full length.
    // SAFETY: zeroed is a valid sockaddr_un.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (slot, b) in addr.sun_path[1..].iter_mut().zip(channel.bytes()) {
        *slot = b as c_char;
    }
    let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    // SAFETY: `addr` is valid for `len` bytes.
    let rc = unsafe { libc::connect(fd, std::ptr::addr_of!(addr).cast(), len) };
    let result =
        if rc != 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINPROGRESS) {
            let e = std::io::Error::last_os_error();
            Err(LibCibError::NoManager(format!(
                "no listener on {channel}: {e}"
            )))
        } else {
            match peer_credentials(fd) {
                Err(e) => Err(LibCibError::Impostor(format!(
                    "cannot tell who serves {channel} (SO_PEERCRED): {e}"
                ))),
                Ok(c) => check_listener(channel, &c),
            }
        };
    // SAFETY: `fd` is ours and closed once.
    unsafe { libc::close(fd) };
    result
}

/// [`authentic`] with the daemon user looked up, as an error naming the
/// listener when it is not Pacemaker's.
fn check_listener(channel: &str, cred: &libc::ucred) -> Result<(), LibCibError> {
    if cred.uid == 0 {
        return Ok(());
    }
    let Some(daemon) = crate::users::by_name(DAEMON_USER) else {
        return Err(LibCibError::Impostor(format!(
            "{channel} is served by process {} with uid {}, and the user {DAEMON_USER} cannot be \
             looked up to tell whether that is Pacemaker's: not connected",
            cred.pid, cred.uid
        )));
    };
    if authentic(cred.uid, Some(daemon.uid)) {
        return Ok(());
    }
    Err(LibCibError::Impostor(format!(
        "{channel} is served by process {} with uid {} and gid {}, neither root nor \
         {DAEMON_USER} (uid {}): not connected",
        cred.pid, cred.uid, cred.gid, daemon.uid
    )))
}

/// Drops a connection `qb_ipcc_connect_async` made and that was not
/// continued: `qb_ipcc_disconnect` frees it without closing the socket (no
/// transport is set up yet), then the socket is closed.
///
/// # Safety
/// `conn` and `fd` must come from one `qb_ipcc_connect_async`, not
/// continued.
unsafe fn abandon(disconnect: Disconnect, conn: *mut c_void, fd: c_int) {
    disconnect(conn);
    libc::close(fd);
}

/// libqb's first step towards `cib_ro` (the socket's `connect()` and the
/// authentication request), then the listener's check ([`authentic`]).
///
/// # Safety
/// The functions must be libqb's (or behave as them).
unsafe fn open_checked(
    connect_async: ConnectAsync,
    disconnect: Disconnect,
    deadline: Instant,
) -> Result<(*mut c_void, c_int), LibCibError> {
    let mut fd: c_int = -1;
    let conn = loop {
        let conn = connect_async(CHANNEL.as_ptr().cast(), client_buffer(), &mut fd);
        if !conn.is_null() {
            break conn;
        }
        let e = std::io::Error::last_os_error();
        // A full backlog: retried until the deadline, as Pacemaker 2.1.9's
        // clients retry their sign-on.
        if e.raw_os_error() == Some(libc::EAGAIN) && ms_left(deadline) > 0 {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        // The listener was never identified: no client of Pacemaker's is
        // run after this (third review of issue 16's IPC read: a full
        // backlog made the read fall to crm_mon, which connects first to an
        // unchecked `pacemakerd`).
        let message = match e.raw_os_error() {
            Some(libc::ECONNREFUSED) | Some(libc::ENOENT) => {
                format!("no CIB manager on cib_ro: {e}")
            }
            _ => format!("cannot connect to cib_ro: {e}"),
        };
        return Err(LibCibError::NoManager(message));
    };
    let cred = match peer_credentials(fd) {
        Ok(c) => c,
        Err(e) => {
            abandon(disconnect, conn, fd);
            return Err(LibCibError::Impostor(format!(
                "cannot tell who serves cib_ro (SO_PEERCRED): {e}"
            )));
        }
    };
    if let Err(e) = check_listener("cib_ro", &cred) {
        abandon(disconnect, conn, fd);
        return Err(e);
    }
    Ok((conn, fd))
}

/// Connects to `cib_ro` in two steps, refusing a listener that is not
/// Pacemaker's between them ([`open_checked`]), and waiting for the
/// authentication answer until `deadline` at most.
///
/// # Safety
/// The functions must be libqb's (or behave as them).
unsafe fn connect(
    connect_async: ConnectAsync,
    connect_continue: ConnectContinue,
    disconnect: Disconnect,
    deadline: Instant,
) -> Result<*mut c_void, LibCibError> {
    let (conn, fd) = open_checked(connect_async, disconnect, deadline)?;
    if !readable(fd, deadline) {
        abandon(disconnect, conn, fd);
        return Err(LibCibError::Failed(
            "the CIB manager did not answer the connection in time (or closed it)".into(),
        ));
    }
    // On failure, qb_ipcc_connect_continue closes and frees the connection.
    let rc = connect_continue(conn);
    if rc != 0 {
        return Err(LibCibError::Failed(format!(
            "connecting to cib_ro: {}",
            std::io::Error::from_raw_os_error(rc.checked_neg().unwrap_or(libc::EIO))
        )));
    }
    Ok(conn)
}

/// Sends the query and returns the reply's XML text; a send the manager's
/// flow control refuses (`-EAGAIN`) is retried until `deadline`, as
/// Pacemaker's client does.
///
/// # Safety
/// `conn` must be a live libqb client connection and the functions libqb's
/// (or behave as them).
pub unsafe fn exchange(
    conn: *mut c_void,
    deadline: Instant,
    buffer_size: BufferSize,
    send: Send,
    recv: Recv,
) -> Result<String, LibCibError> {
    let msg = request();
    loop {
        let sent = send(conn, msg.as_ptr().cast(), msg.len());
        if sent >= 0 {
            break;
        }
        let e = std::io::Error::from_raw_os_error((-sent) as i32);
        if sent != -(libc::EAGAIN as isize) || ms_left(deadline) == 0 {
            return Err(LibCibError::Failed(format!("sending the query: {e}")));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let size = usize::try_from(buffer_size(conn))
        .unwrap_or(0)
        .clamp(client_buffer(), MAX_REPLY);
    let mut buf = vec![0u8; size];
    let ms = ms_left(deadline);
    if ms == 0 {
        return Err(LibCibError::Failed(
            "no time left for the CIB manager's reply".into(),
        ));
    }
    let got = recv(conn, buf.as_mut_ptr().cast(), buf.len(), ms);
    if got < 0 {
        return Err(LibCibError::Failed(format!(
            "no reply from the CIB manager: {}",
            std::io::Error::from_raw_os_error((-got) as i32)
        )));
    }
    buf.truncate(got as usize);
    let h = header(&buf)?;
    if h.id != REQUEST_ID {
        return Err(LibCibError::Unavailable(format!(
            "IPC reply to request {} (sent {REQUEST_ID})",
            h.id
        )));
    }
    body(&buf, &h, bunzip2)
}

/// Decompresses a bzip2 stream of a known decompressed size through libbz2
/// (`BZ2_bzBuffToBuffDecompress`, what Pacemaker's client uses).
///
/// # Errors
/// [`LibCibError::Unavailable`] when libbz2 is missing or the stream is
/// not valid for that size.
pub fn bunzip2(stream: &[u8], size: usize) -> Result<Vec<u8>, LibCibError> {
    // SAFETY: libbz2 has no initialiser with side effects.
    let bz = unsafe { libloading::Library::new(LIBBZ2) }.map_err(unavailable)?;
    // SAFETY: the C signature of bzlib.h.
    let decompress = unsafe {
        *bz.get::<Bz2Decompress>(b"BZ2_bzBuffToBuffDecompress\0")
            .map_err(unavailable)?
    };
    if size > MAX_REPLY {
        return Err(LibCibError::Unavailable(format!(
            "compressed reply of {size} bytes decompressed, above {MAX_REPLY}"
        )));
    }
    let mut out = vec![0u8; size.max(1)];
    let mut out_len = u32::try_from(out.len())
        .map_err(|_| LibCibError::Unavailable("compressed reply too large".into()))?;
    let in_len = u32::try_from(stream.len())
        .map_err(|_| LibCibError::Unavailable("compressed reply too large".into()))?;
    // SAFETY: both buffers are valid for the lengths passed.
    let rc = unsafe {
        decompress(
            out.as_mut_ptr().cast(),
            &mut out_len,
            stream.as_ptr().cast(),
            in_len,
            0,
            0,
        )
    };
    if rc != 0 {
        return Err(LibCibError::Unavailable(format!(
            "bzip2 decompression failed (BZ_ error {rc})"
        )));
    }
    out.truncate(out_len as usize);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply_bytes(
        id: i32,
        version: u8,
        flags: u32,
        body: &[u8],
        size_u: u32,
        size_c: u32,
    ) -> Vec<u8> {
        let mut b = vec![0u8; HEADER_LEN];
        b[0..4].copy_from_slice(&id.to_ne_bytes());
        b[8..12].copy_from_slice(&((HEADER_LEN + body.len()) as i32).to_ne_bytes());
        b[24..28].copy_from_slice(&size_u.to_ne_bytes());
        b[28..32].copy_from_slice(&size_c.to_ne_bytes());
        b[32..36].copy_from_slice(&flags.to_ne_bytes());
        b[36] = version;
        b.extend_from_slice(body);
        b
    }

    #[test]
    fn the_request_is_a_version_1_header_then_the_query() {
        let m = request();
        let h = header(&m).expect("our own header parses");
        assert_eq!(h.id, 1);
        assert_eq!(h.flags, FLAG_CLIENT_RESPONSE);
        assert_eq!(h.size_compressed, 0);
        assert_eq!(h.size_uncompressed as usize, m.len() - HEADER_LEN);
        assert_eq!(
            u32_at(&m, 8) as usize,
            m.len(),
            "libqb's size is the whole message"
        );
        let text = body(&m, &h, |_, _| unreachable!()).expect("NUL-terminated");
        assert!(
            text.starts_with("<cib_command t=\"cib\" cib_op=\"cib_query\""),
            "{text}"
        );
        assert!(text.contains("cib_callopt=\"4352\""), "{text}");
    }

    #[test]
    fn another_protocol_version_or_a_short_reply_is_unavailable() {
        let b = reply_bytes(1, 2, 0, b"<x/>\0", 5, 0);
        assert!(matches!(header(&b), Err(LibCibError::Unavailable(_))));
        assert!(matches!(header(&b[..20]), Err(LibCibError::Unavailable(_))));
    }

    #[test]
    fn sizes_that_disagree_with_the_bytes_are_refused() {
        let b = reply_bytes(1, 1, 0, b"<x/>\0", 50, 0);
        let h = header(&b).expect("header");
        assert!(matches!(
            body(&b, &h, |_, _| unreachable!()),
            Err(LibCibError::Unavailable(_))
        ));
        let b = reply_bytes(1, 1, 0, b"<x/>", 4, 0);
        let h = header(&b).expect("header");
        assert!(body(&b, &h, |_, _| unreachable!()).is_err(), "no NUL");
    }

    #[test]
    fn a_compressed_reply_goes_through_the_inflater_and_its_size_is_checked() {
        let b = reply_bytes(1, 1, FLAG_COMPRESSED, b"ZZZ", 5, 3);
        let h = header(&b).expect("header");
        let text = body(&b, &h, |s, n| {
            assert_eq!((s, n), (&b"ZZZ"[..], 5));
            Ok(b"<x/>\0".to_vec())
        })
        .expect("inflated");
        assert_eq!(text, "<x/>");
        let short = body(&b, &h, |_, _| Ok(b"<x>\0".to_vec()));
        assert!(short.is_err());
    }

    /// A real bzip2 stream (made by the `bzip2` program) through libbz2.
    #[test]
    fn libbz2_decompresses_a_real_stream() {
        use std::io::Write;
        let Ok(mut child) = std::process::Command::new("bzip2")
            .arg("-c")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
        else {
            assert!(std::env::var_os("CI").is_none(), "CI installs bzip2");
            eprintln!("no bzip2 program: skipped");
            return;
        };
        let text = b"<cib-reply>hello</cib-reply>\0".repeat(100);
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(&text)
            .expect("write");
        let out = child.wait_with_output().expect("bzip2");
        let got = bunzip2(&out.stdout, text.len()).expect("libbz2 present on Debian 12");
        assert_eq!(got, text);
        assert!(bunzip2(b"not bzip2", 10).is_err());
    }

    const OK: &str = "<cib-reply t=\"cib\" cib_op=\"cib_query\" cib_callid=\"1\" cib_clientid=\"x\" \
        cib_callopt=\"4352\" cib_rc=\"0\"><cib_calldata><cib crm_feature_set=\"3.16.2\" epoch=\"3\">\
        <configuration/><status/></cib></cib_calldata></cib-reply>";

    #[test]
    fn the_cib_element_is_cut_from_the_reply() {
        let cib = cib_of_reply(OK).expect("a 2.1 reply");
        assert_eq!(
            cib,
            "<cib crm_feature_set=\"3.16.2\" epoch=\"3\"><configuration/><status/></cib>"
        );
    }

    #[test]
    fn a_failed_query_is_failed_and_odd_replies_are_unavailable() {
        let failed = OK.replace("cib_rc=\"0\"", "cib_rc=\"-13\"");
        assert!(matches!(cib_of_reply(&failed), Err(LibCibError::Failed(_))));
        for odd in [
            OK.replace("cib-reply", "cib-answer"),
            OK.replace("cib_op=\"cib_query\"", "cib_op=\"cib_modify\""),
            OK.replace("cib_callid=\"1\"", "cib_callid=\"2\""),
            OK.replace(" cib_rc=\"0\"", ""),
            OK.replace("cib_calldata", "cib_data"),
            OK.replace("3.16.2", "3.20.0"),
            OK.replace("3.16.2", "3.9.0"),
            OK.replace(" crm_feature_set=\"3.16.2\"", ""),
            OK.replace("<cib crm", "<cob crm")
                .replace("</cib>", "</cob>"),
            "<cib-reply".to_string(),
        ] {
            assert!(
                matches!(cib_of_reply(&odd), Err(LibCibError::Unavailable(_))),
                "{odd}"
            );
        }
    }

    // The exchange over fake libqb functions (attack on issue 16's IPC
    // read, finding 4: the reply's request id and flow control).
    std::thread_local! {
        static REPLY: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        static SEND_REFUSALS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
        static SENDS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
        static RECV_ERROR: std::cell::Cell<isize> = const { std::cell::Cell::new(0) };
    }

    unsafe extern "C" fn fake_size(_: *mut c_void) -> i32 {
        0
    }

    unsafe extern "C" fn fake_send(_: *mut c_void, _: *const c_void, n: usize) -> isize {
        SENDS.with(|c| c.set(c.get() + 1));
        let refusals = SEND_REFUSALS.with(std::cell::Cell::get);
        if refusals > 0 {
            SEND_REFUSALS.with(|c| c.set(refusals - 1));
            return -(libc::EAGAIN as isize);
        }
        n as isize
    }

    unsafe extern "C" fn fake_recv(_: *mut c_void, buf: *mut c_void, len: usize, _: i32) -> isize {
        let e = RECV_ERROR.with(std::cell::Cell::get);
        if e != 0 {
            return e;
        }
        REPLY.with(|r| {
            let r = r.borrow();
            let n = r.len().min(len);
            std::ptr::copy_nonoverlapping(r.as_ptr(), buf.cast::<u8>(), n);
            n as isize
        })
    }

    fn exchange_with(
        reply_id: i32,
        refusals: u32,
        recv_error: isize,
    ) -> Result<String, LibCibError> {
        let mut text = OK.as_bytes().to_vec();
        text.push(0);
        let n = text.len() as u32;
        REPLY.with(|r| *r.borrow_mut() = reply_bytes(reply_id, 1, 0, &text, n, 0));
        SEND_REFUSALS.with(|c| c.set(refusals));
        SENDS.with(|c| c.set(0));
        RECV_ERROR.with(|c| c.set(recv_error));
        let deadline = Instant::now() + Duration::from_secs(2);
        // SAFETY: the fakes ignore the connection pointer.
        unsafe {
            exchange(
                std::ptr::null_mut(),
                deadline,
                fake_size,
                fake_send,
                fake_recv,
            )
        }
    }

    #[test]
    fn the_reply_to_the_query_is_read() {
        assert_eq!(
            exchange_with(REQUEST_ID, 0, 0).expect("reply").trim_end(),
            OK
        );
        assert_eq!(SENDS.with(std::cell::Cell::get), 1);
    }

    #[test]
    fn a_reply_to_another_request_is_not_read() {
        match exchange_with(7, 0, 0) {
            Err(LibCibError::Unavailable(why)) => assert!(why.contains("request 7"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_send_refused_by_flow_control_is_retried() {
        assert!(exchange_with(REQUEST_ID, 2, 0).is_ok());
        assert_eq!(SENDS.with(std::cell::Cell::get), 3);
    }

    #[test]
    fn a_receive_error_fails_the_read() {
        match exchange_with(REQUEST_ID, 0, -(libc::ETIMEDOUT as isize)) {
            Err(LibCibError::Failed(why)) => assert!(why.contains("no reply"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_peer_cannot_make_the_agent_allocate_without_bound() {
        match bunzip2(b"BZh9", MAX_REPLY + 1) {
            Err(LibCibError::Unavailable(why)) => assert!(why.contains("above"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_root_or_the_daemon_user_serves_the_cib() {
        let daemon = Some(102);
        assert!(authentic(0, daemon));
        assert!(authentic(102, daemon));
        assert!(
            !authentic(500, daemon),
            "a member of the daemon's group is not the daemon"
        );
        assert!(!authentic(1000, daemon));
        assert!(!authentic(1000, None));
        assert!(authentic(0, None));
    }

    #[test]
    fn a_file_shadow_or_remote_cib_is_not_read_over_the_channel() {
        use std::ffi::OsString;
        let env = |set: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                set.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        assert_eq!(native_channel(env(&[])), None);
        assert_eq!(native_channel(env(&[("CIB_shadow", "")])), None);
        assert!(native_channel(env(&[("CIB_shadow", "s")])).is_some());
        assert!(native_channel(env(&[("CIB_file", "/x")])).is_some());
        assert!(native_channel(env(&[("CIB_file", "")])).is_some());
        assert!(native_channel(env(&[("CIB_port", "1234")])).is_some());
    }
}
