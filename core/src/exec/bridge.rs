//! The host side of proxy-only networking on the bwrap pipeline: one thread per sandbox that
//! accepts connections on the listening sockets the sandbox handed over (they live in the
//! sandbox's network namespace) and relays each to the real proxy (connected from the host's
//! namespace), propagating half-closes. It runs exactly as long as the sandbox: [`Bridge::stop`]
//! (called when the sandbox is reaped, or when its `Child` is dropped) ends it and closes every
//! socket it holds.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::sys;

/// How long connecting to the (loopback) proxy may take before the client is dropped.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const BUFFER: usize = 64 * 1024;
/// Connections relayed at once. Each costs two descriptors and two buffers in the host
/// process (the Node or C host, or the CLI): a command must not be able to exhaust them.
const MAX_CONNECTIONS: usize = 256;

/// A running bridge.
pub(crate) struct Bridge {
    stop: Option<OwnedFd>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge").finish_non_exhaustive()
    }
}

impl Bridge {
    /// Serves `listeners`, each relaying to its upstream proxy address.
    pub(crate) fn start(listeners: Vec<(TcpListener, SocketAddr)>) -> io::Result<Bridge> {
        for (listener, _) in &listeners {
            listener.set_nonblocking(true)?;
        }
        let (stop_read, stop_write) = sys::pipe().map_err(sys::Errno::into_io)?;
        let thread = std::thread::Builder::new()
            .name("codex-sandbox-proxy-bridge".into())
            .spawn(move || serve(&stop_read, &listeners))?;
        Ok(Bridge { stop: Some(stop_write), thread: Some(thread) })
    }

    /// Ends the bridge and waits for its thread.
    pub(crate) fn stop(&mut self) {
        // Closing the write end wakes the thread's poll with a hang-up.
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One direction of a relayed connection.
struct Flow {
    buffer: Box<[u8]>,
    start: usize,
    end: usize,
    /// The source reached end of file.
    eof: bool,
    /// End of file was passed on (`shutdown(SHUT_WR)` on the destination).
    closed: bool,
}

impl Flow {
    fn new() -> Flow {
        Flow { buffer: vec![0; BUFFER].into_boxed_slice(), start: 0, end: 0, eof: false, closed: false }
    }

    fn wants_read(&self) -> bool {
        !self.eof && self.end < self.buffer.len()
    }

    fn wants_write(&self) -> bool {
        self.start < self.end
    }

    /// Moves what it can from `from` to `to` without blocking. `Err` means the connection is
    /// broken and must be closed.
    fn pump(&mut self, from: &mut TcpStream, to: &mut TcpStream) -> io::Result<()> {
        if self.wants_read() {
            match from.read(&mut self.buffer[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        while self.wants_write() {
            match to.write(&self.buffer[self.start..self.end]) {
                Ok(n) => self.start += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
            if self.eof && !self.closed {
                self.closed = true;
                let _ = to.shutdown(Shutdown::Write);
            }
        }
        Ok(())
    }
}

struct Connection {
    client: TcpStream,
    upstream: TcpStream,
    /// Until when the (non-blocking) connection to the proxy may still be in progress.
    connecting: Option<Instant>,
    to_upstream: Flow,
    to_client: Flow,
}

impl Connection {
    fn done(&self) -> bool {
        self.to_upstream.closed && self.to_client.closed
    }

    fn service(&mut self) -> io::Result<()> {
        if let Some(deadline) = self.connecting {
            if let Some(error) = self.upstream.take_error()? {
                return Err(error);
            }
            match self.upstream.peer_addr() {
                Ok(_) => self.connecting = None,
                Err(_) if Instant::now() < deadline => return Ok(()),
                Err(_) => return Err(io::Error::from(ErrorKind::TimedOut)),
            }
        }
        self.to_upstream.pump(&mut self.client, &mut self.upstream)?;
        self.to_client.pump(&mut self.upstream, &mut self.client)
    }

    /// Poll interest for the client and the upstream socket (0: none).
    fn interest(&self) -> (i16, i16) {
        if self.connecting.is_some() {
            return (0, libc::POLLOUT);
        }
        let read = |flow: &Flow| if flow.wants_read() { libc::POLLIN } else { 0 };
        let write = |flow: &Flow| if flow.wants_write() { libc::POLLOUT } else { 0 };
        (read(&self.to_upstream) | write(&self.to_client), read(&self.to_client) | write(&self.to_upstream))
    }
}

fn accept(listener: &TcpListener, upstream: SocketAddr, connections: &mut Vec<Connection>) {
    loop {
        let client = match listener.accept() {
            Ok((client, _)) => client,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return, // WouldBlock, or a client that gave up already
        };
        if connections.len() >= MAX_CONNECTIONS {
            continue; // closed at once, as an overloaded server would
        }
        // Connecting never blocks the relay of other connections; a client whose proxy cannot
        // be reached is closed, as a refused connection would be.
        let Ok(upstream) = sys::tcp_connect_nonblocking(upstream).map(TcpStream::from) else { continue };
        if client.set_nonblocking(true).is_err() {
            continue;
        }
        let _ = client.set_nodelay(true);
        let _ = upstream.set_nodelay(true);
        connections.push(Connection {
            client,
            upstream,
            connecting: Some(Instant::now() + CONNECT_TIMEOUT),
            to_upstream: Flow::new(),
            to_client: Flow::new(),
        });
    }
}

fn serve(stop: &OwnedFd, listeners: &[(TcpListener, SocketAddr)]) {
    let mut connections: Vec<Connection> = Vec::new();
    let mut fds: Vec<libc::pollfd> = Vec::new();
    loop {
        fds.clear();
        fds.push(libc::pollfd { fd: stop.as_raw_fd(), events: libc::POLLIN, revents: 0 });
        fds.extend(listeners.iter().map(|(l, _)| libc::pollfd { fd: l.as_raw_fd(), events: libc::POLLIN, revents: 0 }));
        for connection in &connections {
            let (client, upstream) = connection.interest();
            // A socket with nothing to wait for is left out (fd -1): its hang-up would
            // otherwise wake the poll forever.
            let entry =
                |fd: i32, events: i16| libc::pollfd { fd: if events == 0 { -1 } else { fd }, events, revents: 0 };
            fds.push(entry(connection.client.as_raw_fd(), client));
            fds.push(entry(connection.upstream.as_raw_fd(), upstream));
        }
        // Wake up at least once a second while a connection is pending, to time it out.
        let timeout = if connections.iter().any(|c| c.connecting.is_some()) { 1000 } else { -1 };
        if sys::poll(&mut fds, timeout).is_err() || fds[0].revents != 0 {
            return;
        }
        for (index, (listener, upstream)) in listeners.iter().enumerate() {
            if fds[1 + index].revents != 0 {
                accept(listener, *upstream, &mut connections);
            }
        }
        connections.retain_mut(|connection| connection.service().is_ok() && !connection.done());
    }
}
