//! `spawnSync`: runs a command to completion on the calling (JS) thread, as
//! `child_process.spawnSync` does: the event loop is blocked by design.
//!
//! One `poll` loop over the stdin pipe (fed from `input`), the stdout and stderr pipes (and
//! `stdio[3]` and up where they are pipes) and the child's pidfd. It ends when the command has
//! been reaped and every output pipe has reached
//! end of file, like Node's, so output written just before exit is never lost. A timeout or an
//! overflowing `maxBuffer` sends `killSignal` once and keeps collecting until that point.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use codex_sandbox_core::{Child, ExitStatus};
use napi::bindgen_prelude::{Buffer, Either};
use napi_derive::napi;

use crate::spec::{NativeError, NativeSpec, spawn_options};

/// How often a child without a pidfd (Linux < 5.3) is checked for exit.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

#[napi(object)]
pub struct NativeSyncOptions {
    /// Written to the stdin pipe, which is then closed (closed at once when absent).
    pub input: Option<Buffer>,
    /// Milliseconds; 0: no limit.
    pub timeout: f64,
    pub kill_signal: i32,
    /// Bytes of stdout and stderr together; 0 or `Infinity` for no limit.
    pub max_buffer: f64,
}

#[napi(object)]
pub struct NativeSyncResult {
    pub pid: u32,
    pub status: Option<i32>,
    pub signal: Option<i32>,
    /// `null` where the stream was not a pipe.
    pub stdout: Option<Buffer>,
    pub stderr: Option<Buffer>,
    /// What the command wrote to `stdio[3]` and up, by index from 3 (`null` where not a pipe),
    /// as in Node's `output` array.
    pub extra: Vec<Option<Buffer>>,
    /// `ETIMEDOUT` or `ENOBUFS` when `killSignal` was sent for that reason; `EPIPE` when the
    /// command did not read all of `input`.
    pub error: Option<String>,
    /// Protected names the command created in a writable root (removed after the run): the
    /// run failed.
    pub protected_name_violation: Option<String>,
    /// The sandbox's wall-clock limit (`maxWallTimeMs`) ended the run.
    pub wall_time_exceeded: bool,
}

/// Prepares, spawns and waits. Only a failure to start is an error; how the command ended
/// (including a timeout) is in the result.
#[napi(catch_unwind)]
pub fn spawn_sync(
    spec: NativeSpec,
    stdio: Vec<i32>,
    options: NativeSyncOptions,
) -> Either<NativeSyncResult, NativeError> {
    let started = (|| {
        let plan = codex_sandbox_core::prepare(&spec.to_core()?)?;
        let (spawn, parent_ends) = spawn_options(&stdio, spec.detached.unwrap_or(false))?;
        // Descriptors 3 and up that are pipes are collected like stdout and stderr.
        let extra: Vec<Option<File>> = parent_ends.into_iter().skip(3).map(|end| end.map(File::from)).collect();
        Ok::<_, codex_sandbox_core::Error>((codex_sandbox_core::spawn(&plan, spawn)?, extra))
    })();
    match started {
        Ok((child, extra)) => Either::A(run(child, extra, options)),
        Err(error) => Either::B(NativeError::from(error)),
    }
}

/// One output pipe and what has been read from it.
struct Output {
    file: Option<File>,
    data: Vec<u8>,
    piped: bool,
}

impl Output {
    fn new(file: Option<File>) -> Output {
        let piped = file.is_some();
        Output { file: file.inspect(set_nonblocking), data: Vec::new(), piped }
    }

    /// Reads what is there; returns the number of bytes read (0 at end of file, which closes).
    fn drain(&mut self) -> usize {
        let Some(file) = self.file.as_mut() else { return 0 };
        let mut total = 0;
        let mut chunk = [0u8; 65536];
        loop {
            match file.read(&mut chunk) {
                Ok(0) => {
                    self.file = None;
                    return total;
                }
                Ok(n) => {
                    self.data.extend_from_slice(&chunk[..n]);
                    total += n;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return total,
                Err(_) => {
                    self.file = None;
                    return total;
                }
            }
        }
    }

    fn into_buffer(self) -> Option<Buffer> {
        self.piped.then(|| self.data.into())
    }
}

fn set_nonblocking(file: &File) {
    let _ = codex_sandbox_core::sys::set_nonblocking(file.as_raw_fd(), true);
}

fn pollfd(fd: RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd { fd, events, revents: 0 }
}

fn run(mut child: Child, extra: Vec<Option<File>>, options: NativeSyncOptions) -> NativeSyncResult {
    let pid = crate::spec::visible_pid(&child);
    let input: &[u8] = options.input.as_deref().unwrap_or(&[]);
    let mut stdin = child.stdin.take().filter(|_| !input.is_empty());
    if let Some(file) = &stdin {
        set_nonblocking(file);
    }
    let mut written = 0;
    // stdout, stderr, then stdio[3] and up.
    let mut outputs: Vec<Output> =
        [child.stdout.take(), child.stderr.take()].into_iter().chain(extra).map(Output::new).collect();
    let pidfd = child.pidfd().map(|fd| fd.as_raw_fd());
    let deadline = (options.timeout > 0.0).then(|| Instant::now() + Duration::from_secs_f64(options.timeout / 1000.0));
    let max_buffer = options.max_buffer;
    let mut status: Option<ExitStatus> = None;
    let mut error: Option<&'static str> = None;
    // Reported like Node (the status stands): the command did not read all of `input`.
    let mut write_error: Option<&'static str> = None;

    loop {
        if status.is_none()
            && let Ok(Some(exit)) = child.try_wait()
        {
            status = Some(exit);
        }
        if status.is_some() && outputs.iter().all(|o| o.file.is_none()) {
            break;
        }
        let mut fds = Vec::with_capacity(outputs.len() + 2);
        if let Some(file) = &stdin {
            fds.push(pollfd(file.as_raw_fd(), libc::POLLOUT));
        }
        for output in &outputs {
            if let Some(file) = &output.file {
                fds.push(pollfd(file.as_raw_fd(), libc::POLLIN));
            }
        }
        let watching_exit = status.is_none() && pidfd.is_some();
        if let (true, Some(fd)) = (watching_exit, pidfd) {
            fds.push(pollfd(fd, libc::POLLIN));
        }
        let mut wait_ms: i32 = if status.is_none() && pidfd.is_none() { POLL_INTERVAL.as_millis() as i32 } else { -1 };
        if let (Some(deadline), None) = (deadline, error) {
            let left = deadline.saturating_duration_since(Instant::now());
            let left_ms = left.as_millis().min(i32::MAX as u128) as i32 + i32::from(left.subsec_micros() % 1000 != 0);
            wait_ms = if wait_ms < 0 { left_ms } else { wait_ms.min(left_ms) };
        }
        let ready = codex_sandbox_core::sys::poll_once(&mut fds, wait_ms);
        if ready.is_err_and(|errno| errno.0 != libc::EINTR) {
            // Nothing sensible is left to wait on: fall back to a blocking reap.
            std::thread::sleep(POLL_INTERVAL);
        }
        if let Some(file) = stdin.as_mut() {
            loop {
                match file.write(&input[written..]) {
                    Ok(n) => {
                        written += n;
                        if written == input.len() {
                            stdin = None;
                            break;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => {
                        if e.kind() == ErrorKind::BrokenPipe {
                            write_error.get_or_insert("EPIPE");
                        }
                        stdin = None;
                        break;
                    }
                }
            }
        }
        for output in outputs.iter_mut() {
            output.drain();
        }
        if error.is_none() {
            // Node counts every output stream together, and 0 means no limit.
            let buffered: usize = outputs.iter().map(|o| o.data.len()).sum();
            let over = max_buffer > 0.0 && buffered as f64 > max_buffer;
            let late = deadline.is_some_and(|d| Instant::now() >= d);
            if over || late {
                error = Some(if over { "ENOBUFS" } else { "ETIMEDOUT" });
                if status.is_none() {
                    let _ = child.kill(options.kill_signal);
                }
                // Like Node: once the command is being killed, what it still writes is not
                // waited for (a background process may hold the pipes open forever).
                stdin = None;
                for output in outputs.iter_mut() {
                    output.file = None;
                }
            }
        }
        if status.is_none() && error.is_some() && !watching_exit {
            // Killed without a pidfd: the next try_wait reaps it; do not spin.
            std::thread::sleep(Duration::from_millis(1));
        }
        if status.is_none() && error.is_some() && outputs.iter().all(|o| o.file.is_none()) {
            status = child.wait().ok();
            break;
        }
    }
    if status.is_none() {
        status = child.wait().ok();
    }
    let mut buffers = outputs.into_iter().map(Output::into_buffer);
    let (stdout, stderr) = (buffers.next().flatten(), buffers.next().flatten());
    NativeSyncResult {
        pid,
        status: status.and_then(ExitStatus::code),
        signal: status.and_then(ExitStatus::signal),
        stdout,
        stderr,
        extra: buffers.collect(),
        error: error.or(write_error).map(str::to_owned),
        protected_name_violation: child.protected_name_violation().map(ToString::to_string),
        wall_time_exceeded: child.wall_time_exceeded(),
    }
}
