//! Sockets: the loopback interface, TCP listeners and connects, descriptor passing.

use std::os::fd::{OwnedFd, RawFd};

use super::{Errno, SysResult, check, check_int, owned};

/// Sets `IFF_UP` on `lo`. In a new network namespace the kernel then adds 127.0.0.1 and ::1
/// by itself, so no `RTM_NEWADDR` (which AppArmor-restricted hosts refuse) is needed.
pub fn bring_up_loopback() -> SysResult<()> {
    // SAFETY: plain socket and ioctl calls on a zero-initialised ifreq naming "lo".
    unsafe {
        let sock = check_int(libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0))?;
        let mut request: libc::ifreq = std::mem::zeroed();
        for (dst, src) in request.ifr_name.iter_mut().zip(b"lo") {
            *dst = *src as libc::c_char;
        }
        // `as _`: the request is c_ulong on glibc, c_int on musl.
        let result = check_int(libc::ioctl(sock, libc::SIOCGIFFLAGS as _, &mut request)).and_then(|_| {
            request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            check_int(libc::ioctl(sock, libc::SIOCSIFFLAGS as _, &request))
        });
        libc::close(sock);
        result.map(drop)
    }
}

/// `addr` as a `sockaddr_storage`, its family and its length. Pure: safe in the child.
fn sockaddr_of(addr: std::net::SocketAddr) -> (libc::sockaddr_storage, libc::c_int, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data, large and aligned enough for either address
    // type, and is fully initialised (zeroed) before the typed write.
    unsafe {
        let mut storage: libc::sockaddr_storage = std::mem::zeroed();
        match addr {
            std::net::SocketAddr::V4(v4) => {
                let mut sin: libc::sockaddr_in = std::mem::zeroed();
                sin.sin_family = libc::AF_INET as libc::sa_family_t;
                sin.sin_port = v4.port().to_be();
                sin.sin_addr.s_addr = u32::from_ne_bytes(v4.ip().octets());
                std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin);
                (storage, libc::AF_INET, std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t)
            }
            std::net::SocketAddr::V6(v6) => {
                let mut sin6: libc::sockaddr_in6 = std::mem::zeroed();
                sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sin6.sin6_port = v6.port().to_be();
                sin6.sin6_addr.s6_addr = v6.ip().octets();
                std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6);
                (storage, libc::AF_INET6, std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t)
            }
        }
    }
}

/// Starts a non-blocking TCP connection to `addr`; it completes (or fails) later.
pub fn tcp_connect_nonblocking(addr: std::net::SocketAddr) -> SysResult<OwnedFd> {
    let (storage, family, len) = sockaddr_of(addr);
    // SAFETY: plain socket calls with a fully initialised address of the stated length.
    unsafe {
        let fd =
            owned(check_int(libc::socket(family, libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0))?);
        let ret = libc::connect(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            (&storage as *const libc::sockaddr_storage).cast(),
            len,
        );
        if ret == 0 || Errno::last().0 == libc::EINPROGRESS { Ok(fd) } else { Err(Errno::last()) }
    }
}

/// A listening TCP socket on `127.0.0.1:port` or `[::1]:port` of the current network namespace.
pub fn listen_loopback(ipv6: bool, port: u16) -> SysResult<OwnedFd> {
    let ip = if ipv6 {
        std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
    } else {
        std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
    };
    let (storage, family, len) = sockaddr_of(std::net::SocketAddr::new(ip, port));
    // SAFETY: plain socket calls with a fully initialised address of the stated length.
    unsafe {
        let socket = owned(check_int(libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0))?);
        let fd = std::os::fd::AsRawFd::as_raw_fd(&socket);
        if ipv6 {
            let only_v6: libc::c_int = 1;
            libc::setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, (&only_v6 as *const libc::c_int).cast(), 4);
        }
        check_int(libc::bind(fd, (&storage as *const libc::sockaddr_storage).cast(), len))?;
        check_int(libc::listen(fd, 128))?;
        Ok(socket)
    }
}

/// Space for one `SCM_RIGHTS` control message carrying one descriptor (`CMSG_SPACE(4)` is 24
/// on 64-bit Linux), aligned for `cmsghdr`.
#[repr(C, align(8))]
struct OneFdControl([u8; 32]);

/// A message of one data buffer (`iov`) and room for one descriptor (`control`, whole).
fn one_fd_message(iov: &mut libc::iovec, control: &mut OneFdControl) -> libc::msghdr {
    // SAFETY: msghdr is plain data; the zeroed fields are "no address, no flags".
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    // `as _`: socklen_t on musl, size_t on glibc.
    msg.msg_controllen = control.0.len() as _;
    msg
}

/// Sends `fd` with a 4-byte `tag` over a unix socket.
pub fn send_fd(socket: RawFd, tag: u32, fd: RawFd) -> SysResult<()> {
    let mut payload = tag.to_ne_bytes();
    let mut control = OneFdControl([0; 32]);
    let mut iov = libc::iovec { iov_base: payload.as_mut_ptr().cast(), iov_len: payload.len() };
    // SAFETY: the iovec and control buffer live on the stack for the call; the CMSG macros
    // stay within the buffer, which is larger than CMSG_SPACE(sizeof(int)).
    unsafe {
        let mut msg = one_fd_message(&mut iov, &mut control);
        msg.msg_controllen = libc::CMSG_SPACE(4) as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(4) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
        check(libc::sendmsg(socket, &msg, libc::MSG_NOSIGNAL) as libc::c_long).map(drop)
    }
}

/// Receives one `(tag, fd)` sent by [`send_fd`] without blocking; `None` when nothing is queued.
pub fn recv_fd(socket: RawFd) -> SysResult<Option<(u32, OwnedFd)>> {
    let mut payload = [0u8; 4];
    let mut control = OneFdControl([0; 32]);
    let mut iov = libc::iovec { iov_base: payload.as_mut_ptr().cast(), iov_len: payload.len() };
    // SAFETY: as in send_fd; received descriptors are taken over by the caller.
    unsafe {
        let mut msg = one_fd_message(&mut iov, &mut control);
        let received = libc::recvmsg(socket, &mut msg, libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC);
        if received < 0 {
            let errno = Errno::last();
            return if errno.0 == libc::EAGAIN { Ok(None) } else { Err(errno) };
        }
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if received != 4 || cmsg.is_null() || (*cmsg).cmsg_type != libc::SCM_RIGHTS {
            return if received == 0 { Ok(None) } else { Err(Errno(libc::EPROTO)) };
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>());
        Ok(Some((u32::from_ne_bytes(payload), owned(fd))))
    }
}

/// A close-on-exec `AF_UNIX` stream socket pair.
pub fn socketpair_stream() -> SysResult<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    // SAFETY: fds has room for the two descriptors socketpair writes.
    check_int(unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) })
        .map(|_| (owned(fds[0]), owned(fds[1])))
}

pub fn socketpair_seqpacket() -> SysResult<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    // SAFETY: fds has room for the two descriptors socketpair writes.
    check_int(unsafe {
        libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr())
    })
    .map(|_| (owned(fds[0]), owned(fds[1])))
}
