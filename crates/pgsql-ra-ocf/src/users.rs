//! OS users through the C library (`getpwnam_r`, `getpwuid_r`,
//! `getgrouplist`), so that NSS sources (LDAP, sssd) work as with `id`.
//! Names are the core's strings: looked up as exactly the bytes they stand
//! for, and read back decoded losslessly ([`crate::bytes_path`]).

use std::ffi::{CStr, CString};

use crate::bytes_path::{decode_bytes, encode_bytes};

/// A user account with everything needed to run a program as it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// User name.
    pub name: String,
    /// Numeric user ID.
    pub uid: u32,
    /// Primary group ID.
    pub gid: u32,
    /// Home directory.
    pub home: String,
}

fn account_from(pw: &libc::passwd) -> Account {
    // SAFETY: getpw*_r filled `pw` with pointers into our buffer, NUL-terminated.
    let text = |p: *const libc::c_char| {
        if p.is_null() {
            String::new()
        } else {
            decode_bytes(unsafe { CStr::from_ptr(p) }.to_bytes())
        }
    };
    Account {
        name: text(pw.pw_name),
        uid: pw.pw_uid,
        gid: pw.pw_gid,
        home: text(pw.pw_dir),
    }
}

fn lookup(
    mut call: impl FnMut(&mut libc::passwd, &mut [libc::c_char], &mut *mut libc::passwd) -> libc::c_int,
) -> Option<Account> {
    let mut size = 4096usize;
    while size <= 1 << 20 {
        let mut buf = vec![0 as libc::c_char; size];
        // SAFETY: an all-zero passwd is a valid value (null pointers, zero ids).
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = call(&mut pw, &mut buf, &mut result);
        if rc == libc::ERANGE {
            size *= 4;
            continue;
        }
        if rc != 0 || result.is_null() {
            return None;
        }
        return Some(account_from(&pw));
    }
    None
}

/// Looks up a user by name.
pub fn by_name(name: &str) -> Option<Account> {
    let cname = CString::new(encode_bytes(name)).ok()?;
    lookup(|pw, buf, result| {
        // SAFETY: all pointers are valid for the call; buf's length is passed.
        unsafe { libc::getpwnam_r(cname.as_ptr(), pw, buf.as_mut_ptr(), buf.len(), result) }
    })
}

/// Looks up a user by numeric ID.
pub fn by_uid(uid: u32) -> Option<Account> {
    lookup(|pw, buf, result| {
        // SAFETY: all pointers are valid for the call; buf's length is passed.
        unsafe { libc::getpwuid_r(uid, pw, buf.as_mut_ptr(), buf.len(), result) }
    })
}

/// The effective user ID of this process.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
}

/// Every group of `account` (primary first), as `id -G` prints them.
pub fn groups_of(account: &Account) -> Vec<u32> {
    let Ok(cname) = CString::new(encode_bytes(&account.name)) else {
        return vec![account.gid];
    };
    let mut count: libc::c_int = 64;
    loop {
        let mut groups = vec![0 as libc::gid_t; count as usize];
        let mut n = count;
        // SAFETY: `groups` has room for `n` entries; getgrouplist updates `n`.
        let rc =
            unsafe { libc::getgrouplist(cname.as_ptr(), account.gid, groups.as_mut_ptr(), &mut n) };
        if rc >= 0 {
            groups.truncate(n.max(0) as usize);
            return groups;
        }
        if n <= count || n > 65536 {
            return vec![account.gid];
        }
        count = n;
    }
}

/// While alive, this thread's effective user and group are another
/// account's (root only). Used around a unix-socket `connect()` so that
/// PostgreSQL's `peer` authentication sees `pgdba`, as with `runuser`.
///
/// Only the calling thread switches (the raw `setresuid`/`setresgid`
/// system calls; glibc's wrappers would switch every thread of the
/// process): the thread that reads the CIB meanwhile (issue 16,
/// [`crate::libcib`]) keeps root's identity for the CIB manager's access
/// check. The database session runs on a current-thread runtime, so its
/// `connect()` is made on this thread.
#[derive(Debug)]
pub struct EffectiveIdentity {
    switched: bool,
}

impl EffectiveIdentity {
    /// Switches to `account` when running as root; does nothing otherwise.
    pub fn assume(account: Option<&Account>) -> EffectiveIdentity {
        let Some(acc) = account else {
            return EffectiveIdentity { switched: false };
        };
        if effective_uid() != 0 || acc.uid == 0 {
            return EffectiveIdentity { switched: false };
        }
        let ok = thread_set_egid(acc.gid) && thread_set_euid(acc.uid);
        if !ok {
            // Back to root's identity after a partial switch.
            thread_set_euid(0);
            thread_set_egid(0);
        }
        EffectiveIdentity { switched: ok }
    }
}

impl Drop for EffectiveIdentity {
    fn drop(&mut self) {
        if self.switched {
            // We were root before `assume`; the saved set-user-ID is 0.
            thread_set_euid(0);
            thread_set_egid(0);
        }
    }
}

/// "Unchanged" for `setresuid`/`setresgid` (`(uid_t) -1`).
const UNCHANGED: libc::c_long = libc::uid_t::MAX as libc::c_long;

/// The calling thread's effective user ID (the kernel's per-thread
/// credentials, bypassing glibc's process-wide broadcast).
fn thread_set_euid(uid: libc::uid_t) -> bool {
    thread_set_effective(libc::SYS_setresuid, uid)
}

/// The calling thread's effective group ID (see [`thread_set_euid`]).
fn thread_set_egid(gid: libc::gid_t) -> bool {
    thread_set_effective(libc::SYS_setresgid, gid)
}

/// `setresuid`/`setresgid` (`call`) of the calling thread with only the
/// effective ID changed.
fn thread_set_effective(call: libc::c_long, id: u32) -> bool {
    // SAFETY: a plain system call with integer arguments.
    unsafe { libc::syscall(call, UNCHANGED, libc::c_long::from(id), UNCHANGED) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_found_by_name_and_uid() {
        let root = by_name("root").expect("root exists");
        assert_eq!(root.uid, 0);
        assert_eq!(by_uid(0).map(|a| a.name), Some("root".to_string()));
        assert!(by_name("no-such-user-pgsql-ra").is_none());
        assert!(by_name("bad\0name").is_none());
        assert_eq!(groups_of(&root).first(), Some(&0));
    }
}
