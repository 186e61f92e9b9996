//! The connect broker: how a per-path unix-socket grant is enforced. The sandbox's init
//! performs every `connect` of the command itself, after its own check, on its own duplicate
//! of the caller's socket; the command's filter hands every `connect` to init
//! (`SECCOMP_RET_USER_NOTIF`, see `SeccompPlan::with_connect_broker`) and never lets one
//! through (no `SECCOMP_USER_NOTIF_FLAG_CONTINUE`): the descriptor number and the address are
//! the caller's, and a racing thread could `dup2` another socket onto the number or rewrite
//! the address after any check of them.
//!
//! For each `connect(fd, address, length)` init:
//! 1. copies the address into its own buffer (`process_vm_readv`; longer than a
//!    `sockaddr_storage` is EINVAL, as the kernel says);
//! 2. opens a pidfd of the caller's thread group (its `Tgid`), checks the notification is
//!    still pending (so the thread id named the caller, not a process that reused it), and
//!    takes a duplicate of the socket with `pidfd_getfd`: the same socket object, now held by
//!    init, whatever the number means in the caller afterwards;
//! 3. asks *its duplicate* for the family (`SO_DOMAIN`);
//! 4. AF_UNIX: an abstract name is refused; a pathname is resolved by init itself (relative
//!    ones from `/proc/<tid>/cwd`, opened before a second validity check;
//!    `openat2(RESOLVE_NO_MAGICLINKS)`, `O_PATH`) and the object must be one of the granted
//!    sockets by device and inode (resolved by the launcher, as Landlock's rule paths are).
//!    The connect goes through `/proc/self/fd/N` of init's `O_PATH` descriptor, so a path
//!    swapped after the check cannot redirect it. Anything else is EACCES, whether the path
//!    exists or not (so the refusal says nothing about names the command may not list);
//! 5. another family: refused (EPERM, the filter's answer) where the network mode is
//!    restricted; otherwise connected as asked, the socket's own network namespace deciding
//!    where it can go. Where Landlock's TCP rules confine the command (proxy mode on the
//!    landlock pipeline) the connect is made by a child of init that first restricts itself
//!    with the command's own ruleset: the same rules judge it;
//! 6. answers with the result: the duplicate is the caller's socket, so the caller's
//!    descriptor is connected (or connecting: a non-blocking socket gets EINPROGRESS, and
//!    completes as usual). A connect that may block (a blocking socket) is made by a
//!    short-lived child of init, which answers the notification itself on the inherited
//!    listener and exits; init reaps it like any orphan, and a subreaper's final rounds kill
//!    it with the rest. Init never waits on a connect, so no other call waits for one.
//!
//! `listen` goes to init too (`listen`): a unix socket bound to an abstract name may not listen
//! (EACCES), so the host's clients of an abstract name cannot be met by a sandboxed listener
//! under full network; other sockets listen as the network mode allows.
//!
//! Like everything after the clone it allocates nothing, takes no lock and cannot panic.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use super::caller::{self, ShortPath};
use super::image::BrokerImage;
use crate::sys::{self, Errno, SeccompNotif, SysResult};

/// Whether `notif` is the broker's (a `connect` or a `listen`).
pub(crate) fn handles(notif: &SeccompNotif) -> bool {
    matches!(i64::from(notif.data.nr), libc::SYS_connect | libc::SYS_listen)
}

/// Answers one `connect` notification (here, or in a child of init for a connect that may
/// block). Without a broker image, which a filter that hands `connect` over never lacks, it
/// is refused.
pub(crate) fn answer(listener: RawFd, notif: &SeccompNotif, broker: Option<&BrokerImage>) {
    let result = match broker {
        Some(broker) if i64::from(notif.data.nr) == libc::SYS_listen => listen(listener, notif, broker),
        Some(broker) => prepare(listener, notif, broker).and_then(|connect| perform(listener, notif.id, connect)),
        None => Err(Errno(libc::EPERM)),
    };
    if let Err(errno) = result {
        // ENOENT: the caller was interrupted (or killed) meanwhile; its call is restarted or gone.
        let _ = sys::notif_send(listener, notif.id, Err(errno));
    }
}

/// `sizeof(struct sockaddr_storage)`: the kernel refuses a longer address with EINVAL.
const ADDRESS_MAX: usize = 128;
/// `offsetof(struct sockaddr_un, sun_path)`.
const SUN_PATH_OFFSET: usize = 2;
/// `sizeof(sun_path)`.
const SUN_PATH_MAX: usize = 108;

/// A checked connect, ready to perform.
struct Connect {
    socket: OwnedFd,
    /// The address to connect to, in init's memory.
    address: [u8; ADDRESS_MAX],
    length: usize,
    /// Keeps the resolved socket file open while `address` names it as `/proc/self/fd/N`.
    _target: Option<OwnedFd>,
    /// The connect may block: made in a child of init.
    blocking: bool,
    /// Made under the command's Landlock ruleset (in a child of init).
    landlock: Option<RawFd>,
}

fn prepare(listener: RawFd, notif: &SeccompNotif, broker: &BrokerImage) -> SysResult<Connect> {
    let [fd, address_at, length, ..] = notif.data.args;
    let tid = notif.pid;
    // 1. The address, copied once.
    let length = usize::try_from(length as u32 as i32).map_err(|_| Errno(libc::EINVAL))?;
    if length > ADDRESS_MAX {
        return Err(Errno(libc::EINVAL));
    }
    let mut address = [0u8; ADDRESS_MAX];
    if length > 0 {
        // Any failure to read the caller's address is EFAULT, as the kernel's own copy gives.
        caller::read_exact(tid, address_at, address.get_mut(..length).ok_or(Errno(libc::EINVAL))?)
            .map_err(|_| Errno(libc::EFAULT))?;
    }
    // 2. The caller's socket, duplicated.
    let pidfd = sys::pidfd_open(thread_group_of(tid)?)?;
    if !sys::notif_id_valid(listener, notif.id) {
        return Err(Errno(libc::ENOENT));
    }
    let socket = sys::pidfd_getfd(pidfd.as_raw_fd(), fd as i32).map_err(|errno| match errno.0 {
        // The caller has no such descriptor.
        libc::EBADF => Errno(libc::EBADF),
        _ => errno,
    })?;
    drop(pidfd);
    // 3. What it is, asked of our duplicate.
    let domain = sys::socket_option(socket.as_raw_fd(), libc::SOL_SOCKET, libc::SO_DOMAIN)?;
    let blocking = sys::file_status_flags(socket.as_raw_fd())? & libc::O_NONBLOCK == 0;
    if domain != libc::AF_UNIX {
        // 5. Another family.
        if broker.unix_only {
            return Err(Errno(libc::EPERM));
        }
        return Ok(Connect { socket, address, length, _target: None, blocking, landlock: broker.landlock_ruleset });
    }
    // 4. A unix socket: only a granted one, by inode, through our own descriptor of it.
    let target = granted_socket(listener, notif, broker, &address, length)?;
    let mut through = [0u8; ADDRESS_MAX];
    let through_length = own_fd_address(&target, &mut through);
    Ok(Connect { socket, address: through, length: through_length, _target: Some(target), blocking, landlock: None })
}

/// The granted socket `address` names, resolved by init, or EACCES (EINVAL for an address
/// the kernel would refuse as malformed).
fn granted_socket(
    listener: RawFd,
    notif: &SeccompNotif,
    broker: &BrokerImage,
    address: &[u8; ADDRESS_MAX],
    length: usize,
) -> SysResult<OwnedFd> {
    let family = u16::from_ne_bytes([address.first().copied().unwrap_or(0), address.get(1).copied().unwrap_or(0)]);
    if length <= SUN_PATH_OFFSET || i32::from(family) != libc::AF_UNIX {
        return Err(Errno(libc::EINVAL));
    }
    let sun_path = address.get(SUN_PATH_OFFSET..length).unwrap_or_default();
    if sun_path.first() == Some(&0) {
        // An abstract name: no file to check, and the command's network namespace may be the
        // host's. Refused.
        return Err(Errno(libc::EACCES));
    }
    // The kernel reads the path up to its first NUL or the end of the address.
    let end = sun_path.iter().position(|b| *b == 0).unwrap_or(sun_path.len());
    let mut path = [0u8; SUN_PATH_MAX + 1];
    for (slot, byte) in path.iter_mut().zip(sun_path.get(..end).unwrap_or_default()) {
        *slot = *byte;
    }
    let path = CStr::from_bytes_until_nul(&path).map_err(|_| Errno(libc::EINVAL))?;
    let how =
        sys::OpenHow { flags: (libc::O_PATH | libc::O_CLOEXEC) as u64, mode: 0, resolve: sys::RESOLVE_NO_MAGICLINKS };
    let refused = |_| Errno(libc::EACCES);
    let object = if path.to_bytes().first() == Some(&b'/') {
        sys::openat2_at(libc::AT_FDCWD, path, &how).map_err(refused)?
    } else {
        let cwd = sys::open(proc_cwd(notif.pid).c_str(), libc::O_PATH | libc::O_DIRECTORY).map_err(refused)?;
        if !sys::notif_id_valid(listener, notif.id) {
            return Err(Errno(libc::ENOENT));
        }
        sys::openat2_at(cwd.as_raw_fd(), path, &how).map_err(refused)?
    };
    let st = sys::fstat(object.as_raw_fd()).map_err(refused)?;
    let is_socket = st.st_mode & libc::S_IFMT == libc::S_IFSOCK;
    if is_socket && broker.granted.iter().any(|(dev, ino)| *dev == st.st_dev && *ino == st.st_ino) {
        Ok(object)
    } else {
        Err(Errno(libc::EACCES))
    }
}

/// `listen(fd, backlog)`: answered as the network mode answers it where it decides it (0
/// without listening in restricted mode, EPERM in proxy mode on the host's network stack);
/// otherwise a unix socket bound to an abstract name may not listen (EACCES): in the host's
/// network namespace a host client connecting to that name would reach the sandbox instead of
/// the server it meant, and Landlock's abstract scope only stops connects *out* of the
/// sandbox. (A unix socket gets an abstract name from `bind`, or from the kernel's automatic
/// bind when it connects or sends with `SO_PASSCRED` set.) An unbound one gets EINVAL, as from
/// the kernel, without a listen. Performed by init on its own duplicate (a socket is bound
/// once, so the name checked is the name it listens on).
fn listen(listener: RawFd, notif: &SeccompNotif, broker: &BrokerImage) -> SysResult<()> {
    match broker.listen_answer {
        Some(0) => {
            let _ = sys::notif_send(listener, notif.id, Ok(0));
            return Ok(());
        }
        Some(errno) => return Err(Errno(errno)),
        None => {}
    }
    let [fd, backlog, ..] = notif.data.args;
    let pidfd = sys::pidfd_open(thread_group_of(notif.pid)?)?;
    if !sys::notif_id_valid(listener, notif.id) {
        return Err(Errno(libc::ENOENT));
    }
    let socket = sys::pidfd_getfd(pidfd.as_raw_fd(), fd as i32)?;
    drop(pidfd);
    if sys::socket_option(socket.as_raw_fd(), libc::SOL_SOCKET, libc::SO_DOMAIN)? == libc::AF_UNIX {
        let mut name = [0u8; ADDRESS_MAX];
        let length = sys::socket_name(socket.as_raw_fd(), &mut name)?;
        // Unbound: the kernel's own answer, given here without listening, for a racing
        // thread could bind the socket to an abstract name between this check and a listen.
        if length <= SUN_PATH_OFFSET {
            return Err(Errno(libc::EINVAL));
        }
        if name.get(SUN_PATH_OFFSET) == Some(&0) {
            return Err(Errno(libc::EACCES));
        }
    }
    let result = sys::listen(socket.as_raw_fd(), backlog as i32);
    let _ = sys::notif_send(listener, notif.id, result.map(|()| 0));
    Ok(())
}

/// Performs the checked connect and answers: here when it cannot block, else in a child.
fn perform(listener: RawFd, id: u64, connect: Connect) -> SysResult<()> {
    let address = connect.address.get(..connect.length).unwrap_or_default();
    if !connect.blocking && connect.landlock.is_none() {
        let result = sys::connect_bytes(connect.socket.as_raw_fd(), address);
        let _ = sys::notif_send(listener, id, result.map(|()| 0));
        return Ok(());
    }
    // SAFETY: init is single-threaded; the child runs only the async-signal-safe calls below
    // and ends with `_exit`.
    let (pid, _) = unsafe { sys::clone_process(0) }?;
    if pid != 0 {
        // Init: the child answers; it is reaped with every other child.
        return Ok(());
    }
    // Ends with init (the landlock pipeline's init is no PID 1 whose exit would end it).
    let _ = sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
    let result = match connect.landlock {
        // Init has no_new_privs, which restricting oneself requires.
        Some(ruleset) => sys::landlock_restrict_self(ruleset).map_err(|_| Errno(libc::EPERM)),
        None => Ok(()),
    }
    .and_then(|()| sys::connect_bytes(connect.socket.as_raw_fd(), address));
    let _ = sys::notif_send(listener, id, result.map(|()| 0));
    sys::exit_immediately(0)
}

/// The thread group (process) of thread `tid`, from `/proc/<tid>/status`'s `Tgid:` line: a
/// pidfd names a thread group, a notification a thread.
fn thread_group_of(tid: u32) -> SysResult<libc::pid_t> {
    let mut buf = [0u8; 1024];
    let file = sys::open(ShortPath::proc(tid, b"/status").c_str(), libc::O_RDONLY).map_err(|_| Errno(libc::ESRCH))?;
    let length = sys::read(file.as_raw_fd(), &mut buf)?;
    tgid_in(buf.get(..length).unwrap_or_default()).ok_or(Errno(libc::ESRCH))
}

/// The `Tgid:` value of a status text.
fn tgid_in(status: &[u8]) -> Option<libc::pid_t> {
    let line = status.split(|b| *b == b'\n').find_map(|line| line.strip_prefix(b"Tgid:"))?;
    let mut pid: libc::pid_t = 0;
    let mut digits = 0u32;
    for byte in line.iter().skip_while(|b| **b == b'\t' || **b == b' ') {
        if !byte.is_ascii_digit() {
            break;
        }
        pid = pid.checked_mul(10)?.checked_add(libc::pid_t::from(byte.wrapping_sub(b'0')))?;
        digits = digits.saturating_add(1);
    }
    (digits > 0 && pid > 0).then_some(pid)
}

fn proc_cwd(tid: u32) -> ShortPath {
    ShortPath::proc(tid, b"/cwd")
}

/// `sockaddr_un` for `/proc/self/fd/N` of `target` into `out`; its length (with the NUL).
fn own_fd_address(target: &OwnedFd, out: &mut [u8; ADDRESS_MAX]) -> usize {
    let family = (libc::AF_UNIX as u16).to_ne_bytes();
    let mut path = caller::own_fd_path(target);
    let path = path.c_str().to_bytes_with_nul();
    let mut length = 0usize;
    for (slot, byte) in out.iter_mut().zip(family.iter().chain(path)) {
        *slot = *byte;
        length = length.saturating_add(1);
    }
    length
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn thread_groups_and_addresses() {
        assert_eq!(tgid_in(b"Name:\tpython3\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\nNgid:\t0\n"), Some(4242));
        assert_eq!(tgid_in(b"Name:\tx\nTgid:\t\n"), None);
        assert_eq!(tgid_in(b"Name:\tTgid:\t7\n"), None);
        assert_eq!(ShortPath::proc(17, b"/cwd").c_str(), c"/proc/17/cwd");
        let fd = sys::open(c"/", libc::O_PATH).unwrap();
        let mut out = [0u8; ADDRESS_MAX];
        let length = own_fd_address(&fd, &mut out);
        let expected = format!("/proc/self/fd/{}\0", fd.as_raw_fd());
        assert_eq!(&out[2..length], expected.as_bytes());
        assert_eq!(u16::from_ne_bytes([out[0], out[1]]), libc::AF_UNIX as u16);
    }
}
