//! The code that runs in the cloned child, between `clone` and `execve`.
//!
//! The parent may be multi-threaded (Node, a C launcher, the test harness): another thread may
//! have held the allocator's lock at the moment of the clone. So everything here is
//! async-signal-safe: it reads the [`ChildImage`] prepared by the parent, calls the raw
//! wrappers of [`crate::sys`], never allocates and never returns (it ends in `execve` or
//! `_exit`). The lints below turn the usual panic sites into compile errors, and an unwind
//! guard turns any panic that remains into a reported failure and `_exit(125)`: the child runs
//! on a copy of the parent's stack, so unwinding past [`run`] would return into the host's own
//! code and run it a second time.
//!
//! The steps, in order: parent-death signal, new session, the command's descriptors
//! ([`fds`]), the namespaces and the filesystem view ([`view`]), the working directory, the
//! sandbox's init ([`init`]: PID 1, or a subreaper on the landlock pipeline), and the confinement of the command itself ([`confine`]).
//! A failure is reported to the parent as `(stage, errno, index)` over the report pipe
//! ([`crate::exec::report`]).
#![deny(
    clippy::indexing_slicing,
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::arithmetic_side_effects
)]

pub(crate) mod broker;
pub(crate) mod caller;
pub(crate) mod classic;
pub(crate) mod confine;
pub(crate) mod fds;
pub(crate) mod image;
pub(crate) mod init;
pub(crate) mod kernel;
pub(crate) mod panic;
pub(crate) mod paths;
pub(crate) mod probe;
pub(crate) mod supervisor;
#[cfg(test)]
mod tests;
pub(crate) mod view;

use std::convert::Infallible;
use std::os::fd::RawFd;

pub(crate) use image::ChildImage;
use kernel::{Kernel, Live};

use crate::exec::report::{Failure, Stage, Step, at};
use crate::sys::{self, Errno};

/// Runs the child side. Never returns.
pub(crate) fn run(image: &ChildImage) -> ! {
    panic::enter(image.report_fd);
    let guard = UnwindGuard { report_fd: image.report_fd };
    let Err(failure) = setup_and_exec(&Live, image);
    guard.defuse();
    report(image.report_fd, failure)
}

/// Reports a panic and exits when dropped during unwinding; [`UnwindGuard::defuse`] disarms it
/// on the normal path. The second line of defence: the hook of [`panic`] reports and exits
/// before any unwinding starts, unless the host replaced it after the first spawn.
struct UnwindGuard {
    report_fd: RawFd,
}

impl UnwindGuard {
    fn defuse(self) {
        std::mem::forget(self);
    }
}

impl Drop for UnwindGuard {
    fn drop(&mut self) {
        report(self.report_fd, Failure::new(Stage::Panic, Errno(0)))
    }
}

/// Arms the parent-death signal, when the sandbox dies with its launcher, and checks the
/// launcher did not die before it was armed.
fn arm_parent_death(k: &impl Kernel, image: &ChildImage) -> Step {
    let Some(parent) = image.die_with_parent else { return Ok(()) };
    at(Stage::ParentDeathSignal, k.prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong))?;
    // In a new PID namespace the parent has no pid here; its end of the report pipe closing
    // says the same (this process closed its own copy first).
    let in_pid_namespace = image.namespaces.as_ref().is_some_and(|ns| ns.pid_namespace);
    let gone = if in_pid_namespace { k.peer_closed(image.report_fd) } else { k.getppid() != parent };
    if gone {
        return Err(Failure::new(Stage::ParentGone, Errno(libc::ESRCH)));
    }
    Ok(())
}

/// Sends `failure` to the parent and exits.
pub(crate) fn report(report_fd: RawFd, failure: Failure) -> ! {
    let _ = sys::write_all(report_fd, &failure.encode());
    sys::exit_immediately(125)
}

fn setup_and_exec(k: &impl Kernel, image: &ChildImage) -> Step<Infallible> {
    // SAFETY: the parent's read end is owned by the parent's memory, which this process never
    // returns to.
    unsafe { k.close_raw(image.report_read_fd) };
    if let Some((read, write)) = image.launcher_gate {
        // Nothing runs before the launcher has put this process into the run's cgroups and
        // written its id maps.
        // SAFETY: the launcher's end, owned by its memory, which this process never returns to.
        unsafe { k.close_raw(write) };
        let mut go = [0u8; 1];
        match k.read(read, &mut go) {
            Ok(1) => {}
            Ok(_) => return Err(Failure::new(Stage::LaunchGate, Errno(libc::EPIPE))),
            Err(errno) => return Err(Failure::new(Stage::LaunchGate, errno)),
        }
        // SAFETY: as above.
        unsafe { k.close_raw(read) };
    }
    crate::exec::fault::child_checkpoint();
    arm_parent_death(k, image)?;
    if image.new_session {
        at(Stage::NewSession, k.setsid())?;
    }
    fds::set_up(k, &image.fds)?;
    if let Some(ns) = &image.namespaces {
        view::enter(k, ns)?;
    }
    at(Stage::Chdir, k.chdir(&image.exec.cwd))?;
    if let Some((uid, gid)) = image.switch_ids {
        // After everything that needs privilege (the view, the proxy listeners), before init:
        // init, its supervisor and its broker then act with the command's ids, not root's.
        confine::switch_ids(k, uid, gid, image.drop_capabilities)?;
        // The kernel clears the parent-death signal when the credentials change.
        arm_parent_death(k, image)?;
    }
    if let Some(init) = &image.init {
        // This process is the sandbox's init (its PID 1, or a subreaper); the command is its
        // child.
        let init_pid = k.getpid();
        init::fork_command(k, init, image.fd_limit, image.die_with_parent, image.supervisor.as_ref())?;
        at(Stage::ParentDeathSignal, k.prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong))?;
        // Init dies with the launcher (its own death signal), possibly before it set up its
        // watch: a command whose init is already gone would run unwatched (and unswept).
        if k.getppid() != init_pid {
            return Err(Failure::new(Stage::ParentGone, Errno(libc::ESRCH)));
        }
        if image.new_session {
            // Init leads the new session; the command leads a process group of its own in it,
            // so that the launcher's `kill(-pid)` with the command's pid (what Node's `pid`
            // is) reaches the command and its descendants, as for a process it spawned itself.
            at(Stage::CommandProcessGroup, k.lead_process_group())?;
        }
    }
    confine::confine_and_exec(k, image)
}
