//! Spawning, and one reaper thread per JS environment that reports exits.
//!
//! A child is never waited for on libuv's thread pool. The reaper thread blocks in
//! `epoll_wait` over the pidfds of all pending children (plus an eventfd to wake it up). When a
//! pidfd becomes readable the child has exited: the thread reaps it (`waitpid` with `WNOHANG`,
//! through the core's `Child::try_wait`, which also restores the command's own status under
//! the namespace pipeline) and queues the status on a threadsafe function, whose callback runs
//! on the JS thread. On kernels without pidfds the thread polls such children every 50 ms.
//!
//! The threadsafe function starts unreferenced ("weak"); the JS layer references it while
//! children it has not unref()ed are pending, so the event loop stays alive exactly as long as
//! Node's own `ChildProcess` would keep it alive, and not a moment longer.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use codex_sandbox_core::sys as core_sys;
use codex_sandbox_core::{Child, Error, ExitStatus};
use napi::bindgen_prelude::{Either, FnArgs, Function, Status};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, sys};
use napi_derive::napi;

use crate::spec::{NativeError, NativeSpec, spawn_options};

/// The epoll token of the wake-up eventfd; children use their id (a `u32`).
const WAKE: u64 = u64::MAX;
/// How often children without a pidfd are polled.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// What the reaper reports for one child: `(id, code, signal, error)`. `code` is -1 when the
/// command died of a signal, `signal` 0 when it exited; `error` is set (and both are -1 / 0)
/// when it could not be reaped at all.
pub struct Exit {
    id: u32,
    code: i32,
    signal: i32,
    error: Option<String>,
    /// Protected names the command created (removed after the run): the run failed.
    violation: Option<String>,
    /// The sandbox's wall-clock limit ended the run.
    wall_time_exceeded: bool,
}

type ExitArgs = FnArgs<(u32, i32, i32, Option<String>, Option<String>, bool)>;
type ExitCallback = ThreadsafeFunction<Exit, (), ExitArgs, Status, false, true>;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A child the JS layer holds. `None` once it has been reaped: dropping the core's `Child`
/// then closes its pidfd and the init's status pipe at once, instead of whenever the garbage
/// collector finalises the JS object (thousands of short-lived children would otherwise run
/// the process out of descriptors).
type SharedChild = Arc<Mutex<Option<Child>>>;

struct Watch {
    child: SharedChild,
    /// The child's pidfd, owned by `child` (which stays alive while it is registered).
    pidfd: Option<RawFd>,
    /// Node's `detached`: left running when the JS environment goes away.
    detached: bool,
}

struct Shared {
    epoll: OwnedFd,
    wake: OwnedFd,
    stop: AtomicBool,
    watched: Mutex<HashMap<u32, Watch>>,
}

impl Shared {
    fn wake(&self) {
        let _ = core_sys::eventfd_signal(self.wake.as_raw_fd());
    }

    fn epoll_ctl(&self, op: libc::c_int, fd: RawFd, token: u64) -> std::io::Result<()> {
        core_sys::epoll_ctl(self.epoll.as_raw_fd(), op, fd, token).map_err(core_sys::Errno::into_io)
    }

    fn run(&self, callback: &ExitCallback) {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 64];
        loop {
            let polling = lock(&self.watched).values().any(|w| w.pidfd.is_none());
            let timeout = if polling { POLL_INTERVAL.as_millis() as i32 } else { -1 };
            let waited = core_sys::epoll_wait(self.epoll.as_raw_fd(), &mut events, timeout);
            if self.stop.load(Ordering::Acquire) {
                return;
            }
            let n = match waited {
                Ok(n) => n,
                Err(errno) => {
                    if errno.0 != libc::EINTR {
                        std::thread::sleep(POLL_INTERVAL);
                    }
                    continue;
                }
            };
            let mut ready = Vec::new();
            for event in events.iter().take(n) {
                let token = event.u64;
                if token == WAKE {
                    let _ = core_sys::eventfd_drain(self.wake.as_raw_fd());
                } else {
                    ready.push(token as u32);
                }
            }
            let candidates: Vec<(u32, SharedChild)> = {
                let watched = lock(&self.watched);
                let by_pidfd = ready.iter().filter_map(|id| watched.get(id).map(|w| (*id, w.child.clone())));
                let polled = watched.iter().filter(|(_, w)| w.pidfd.is_none()).map(|(id, w)| (*id, w.child.clone()));
                by_pidfd.chain(polled).collect()
            };
            for (id, child) in candidates {
                let mut slot = lock(&child);
                let Some(reaped) = slot.as_mut() else { continue };
                let waited = reaped.try_wait();
                let violation = reaped.protected_name_violation().map(ToString::to_string);
                let exit = match waited {
                    Ok(None) => continue,
                    Ok(Some(status)) => {
                        let wall_time_exceeded = reaped.wall_time_exceeded();
                        let (code, signal) = match status {
                            ExitStatus::Exited(code) => (code, 0),
                            ExitStatus::Signaled(signal) => (-1, signal),
                        };
                        Exit { id, code, signal, error: None, violation, wall_time_exceeded }
                    }
                    Err(error) => Exit {
                        id,
                        code: -1,
                        signal: 0,
                        error: Some(format!("cannot reap the child: {error}")),
                        violation: None,
                        wall_time_exceeded: false,
                    },
                };
                if let Some(Watch { pidfd: Some(fd), .. }) = lock(&self.watched).remove(&id) {
                    // The pidfd is still open: `slot` owns it until the line below.
                    let _ = self.epoll_ctl(libc::EPOLL_CTL_DEL, fd, 0);
                }
                *slot = None;
                drop(slot);
                callback.call(exit, ThreadsafeFunctionCallMode::NonBlocking);
            }
        }
    }
}

/// The spawner and reaper of one JS environment (the JS layer creates one per module instance).
#[napi]
pub struct Reaper {
    shared: Arc<Shared>,
    callback: Arc<ExitCallback>,
    thread: Option<JoinHandle<()>>,
    next_id: u32,
    referenced: bool,
}

#[napi]
impl Reaper {
    /// `onExit(id, code, signal, error, violation)` runs on the JS thread for every child that
    /// ends; `violation` names the protected names the command created (the run failed).
    #[napi(constructor)]
    pub fn new(on_exit: Function<'_, ExitArgs, ()>) -> napi::Result<Reaper> {
        let callback =
            on_exit.build_threadsafe_function::<Exit>().callee_handled::<false>().weak::<true>().build_callback(
                |ctx| {
                    let Exit { id, code, signal, error, violation, wall_time_exceeded } = ctx.value;
                    Ok(FnArgs::from((id, code, signal, error, violation, wall_time_exceeded)))
                },
            )?;
        let to_napi = |e: Error| napi::Error::from_reason(e.to_string());
        let epoll =
            core_sys::epoll_create().map_err(|errno| to_napi(Error::setup("epoll_create1", errno.into_io())))?;
        let wake = core_sys::eventfd().map_err(|errno| to_napi(Error::setup("eventfd", errno.into_io())))?;
        let shared = Shared { epoll, wake, stop: AtomicBool::new(false), watched: Mutex::new(HashMap::new()) };
        shared
            .epoll_ctl(libc::EPOLL_CTL_ADD, shared.wake.as_raw_fd(), WAKE)
            .map_err(|e| napi::Error::from_reason(format!("epoll_ctl: {e}")))?;
        Ok(Reaper {
            shared: Arc::new(shared),
            callback: Arc::new(callback),
            thread: None,
            next_id: 1,
            referenced: false,
        })
    }

    /// Whether pending exits keep the event loop alive. JS thread only.
    #[napi]
    pub fn set_ref(&mut self, env: Env, referenced: bool) -> napi::Result<()> {
        if referenced == self.referenced {
            return Ok(());
        }
        let raw = self.callback.raw();
        // SAFETY: `raw` is alive (we hold the threadsafe function) and `env` is the environment
        // it was created in: this method runs on that environment's JS thread.
        let status = unsafe {
            if referenced {
                sys::napi_ref_threadsafe_function(env.raw(), raw)
            } else {
                sys::napi_unref_threadsafe_function(env.raw(), raw)
            }
        };
        if status != sys::Status::napi_ok {
            return Err(napi::Error::from_status(Status::from(status)));
        }
        self.referenced = referenced;
        Ok(())
    }

    /// Prepares and spawns. `stdio` holds three codes (see `spec::STDIO_*`) or descriptors.
    #[napi(catch_unwind)]
    pub fn spawn(&mut self, spec: NativeSpec, stdio: Vec<i32>) -> Either<NativeChild, NativeError> {
        match self.try_spawn(&spec, &stdio) {
            Ok(child) => Either::A(child),
            Err(error) => Either::B(error.into()),
        }
    }

    fn try_spawn(&mut self, spec: &NativeSpec, codes: &[i32]) -> Result<NativeChild, Error> {
        let plan = codex_sandbox_core::prepare(&spec.to_core()?)?;
        let (options, parent_ends) = spawn_options(codes, spec.detached.unwrap_or(false))?;
        self.start_thread()?;
        let mut child = codex_sandbox_core::spawn(&plan, options)?;
        let id = self.next_id;
        self.next_id = self.next_id.checked_add(1).unwrap_or(1);
        // Ownership of the pipe ends passes to the JS layer, which wraps them at once.
        let take = |file: Option<std::fs::File>| file.map(IntoRawFd::into_raw_fd);
        let standard = [take(child.stdin.take()), take(child.stdout.take()), take(child.stderr.take())];
        let fds = parent_ends
            .into_iter()
            .enumerate()
            .map(|(index, end)| end.map(IntoRawFd::into_raw_fd).or_else(|| standard.get(index).copied().flatten()))
            .collect();
        let pid = crate::spec::visible_pid(&child);
        let mut pidfd = child.pidfd().map(|fd| fd.as_raw_fd());
        let child = Arc::new(Mutex::new(Some(child)));
        let mut watched = lock(&self.shared.watched);
        if let Some(fd) = pidfd
            && self.shared.epoll_ctl(libc::EPOLL_CTL_ADD, fd, u64::from(id)).is_err()
        {
            pidfd = None;
        }
        watched.insert(id, Watch { child: child.clone(), pidfd, detached: spec.detached.unwrap_or(false) });
        drop(watched);
        if pidfd.is_none() {
            // Start polling it.
            self.shared.wake();
        }
        Ok(NativeChild { id, pid, fds, child })
    }

    fn start_thread(&mut self) -> Result<(), Error> {
        if self.thread.is_some() {
            return Ok(());
        }
        let shared = self.shared.clone();
        let callback = self.callback.clone();
        let thread = std::thread::Builder::new()
            .name("codex-sandbox-reaper".into())
            .spawn(move || shared.run(&callback))
            .map_err(|source| Error::setup("start the reaper thread", source))?;
        self.thread = Some(thread);
        Ok(())
    }
}

impl Drop for Reaper {
    /// The JS environment is going away (a Worker terminated): children still pending are
    /// killed and reaped here, so none is left a zombie holding its placeholders. Detached
    /// children are left running, as Node leaves them.
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        for (_, watch) in lock(&self.shared.watched).drain() {
            if watch.detached {
                continue;
            }
            if let Some(mut child) = lock(&watch.child).take() {
                let _ = child.kill(libc::SIGKILL);
                let _ = child.wait();
            }
        }
    }
}

/// A spawned child, as the JS layer sees it.
#[napi]
pub struct NativeChild {
    id: u32,
    pid: u32,
    /// The parent's pipe ends (stdin, stdout, stderr), owned by the JS layer from the moment
    /// `spawn` returns.
    fds: Vec<Option<RawFd>>,
    child: SharedChild,
}

#[napi]
impl NativeChild {
    /// The id the reaper reports the exit under.
    #[napi(getter)]
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The command's process id (see [`crate::spec::visible_pid`]).
    #[napi(getter)]
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The parent's pipe ends as descriptor numbers (`null` where not a pipe).
    #[napi(getter)]
    pub fn fds(&self) -> Vec<Option<i32>> {
        self.fds.clone()
    }

    /// Sends `signal` through the pidfd; 0 on success, else an errno (`ESRCH` once reaped).
    #[napi]
    pub fn kill(&self, signal: i32) -> i32 {
        match lock(&self.child).as_mut().map(|child| child.kill(signal)) {
            Some(Ok(())) => 0,
            Some(Err(error)) => error.raw_os_error().unwrap_or(libc::ESRCH),
            None => libc::ESRCH,
        }
    }
}
