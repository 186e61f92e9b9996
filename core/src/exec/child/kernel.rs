//! The seam between the child's ordered steps and the kernel.
//!
//! Every system call the steps make goes through [`Kernel`], dispatched statically (the child
//! is generic over it, so the live build calls `crate::sys` directly, with nothing to allocate
//! or look up). [`Live`] is the kernel; the unit tests drive the same steps through a recording
//! fake (`tests::Recorder`), which logs each call and can fail a chosen one, so the order of
//! ids, view, init, confinement and exec is checked without creating a process. Signal
//! handlers, the init loop and the final `_exit` call `crate::sys` directly: they never
//! return to the steps.

use std::ffi::CStr;
use std::os::fd::{OwnedFd, RawFd};

use crate::sys::{self, CapData, Errno, LandlockPathBeneathAttr};
use crate::sys::{MountAttr, OpenHow, SockFilter, SysResult};

/// Declares the [`Kernel`] trait and its [`Live`] implementation from one list of calls (each
/// forwarded to the `crate::sys` function of the same name) and, for the tests, the recording
/// fake's implementation; `[arg]` names an argument (a C string) the fake logs with the call.
macro_rules! kernel_calls {
    ($( $(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $([$detail:ident])?; )*) => {
        /// The system calls of the child's steps.
        pub(crate) trait Kernel {
            $( $(#[$doc])* fn $name(&self, $($arg: $ty),*) -> $ret; )*

            /// `sys::read` (the fake fills `buf` with the data it was given).
            fn read(&self, fd: RawFd, buf: &mut [u8]) -> SysResult<usize>;

            /// `sys::close_raw`.
            ///
            /// # Safety
            /// As for [`sys::close_raw`].
            unsafe fn close_raw(&self, fd: RawFd);

            /// `sys::dup2`.
            ///
            /// # Safety
            /// As for [`sys::dup2`].
            unsafe fn dup2(&self, from: RawFd, to: RawFd) -> SysResult<()>;

            /// `sys::close_range`.
            ///
            /// # Safety
            /// As for [`sys::close_range`].
            unsafe fn close_range(&self, first: u32, last: u32) -> SysResult<()>;

            /// `sys::clone_process`.
            ///
            /// # Safety
            /// As for [`sys::clone_process`].
            unsafe fn clone_process(&self, flags: u64) -> SysResult<(libc::pid_t, Option<OwnedFd>)>;

            /// `sys::execve`.
            ///
            /// # Safety
            /// As for [`sys::execve`].
            unsafe fn execve(
                &self,
                path: &CStr,
                argv: *const *const libc::c_char,
                envp: *const *const libc::c_char,
            ) -> Errno;
        }

        /// The kernel itself.
        pub(crate) struct Live;

        impl Kernel for Live {
            $(
                #[inline(always)]
                fn $name(&self, $($arg: $ty),*) -> $ret {
                    sys::$name($($arg),*)
                }
            )*

            #[inline(always)]
            fn read(&self, fd: RawFd, buf: &mut [u8]) -> SysResult<usize> {
                sys::read(fd, buf)
            }

            #[inline(always)]
            unsafe fn close_raw(&self, fd: RawFd) {
                // SAFETY: upheld by the caller.
                unsafe { sys::close_raw(fd) }
            }

            #[inline(always)]
            unsafe fn dup2(&self, from: RawFd, to: RawFd) -> SysResult<()> {
                // SAFETY: upheld by the caller.
                unsafe { sys::dup2(from, to) }
            }

            #[inline(always)]
            unsafe fn close_range(&self, first: u32, last: u32) -> SysResult<()> {
                // SAFETY: upheld by the caller.
                unsafe { sys::close_range(first, last) }
            }

            #[inline(always)]
            unsafe fn clone_process(&self, flags: u64) -> SysResult<(libc::pid_t, Option<OwnedFd>)> {
                // SAFETY: upheld by the caller.
                unsafe { sys::clone_process(flags) }
            }

            #[inline(always)]
            unsafe fn execve(
                &self,
                path: &CStr,
                argv: *const *const libc::c_char,
                envp: *const *const libc::c_char,
            ) -> Errno {
                // SAFETY: upheld by the caller.
                unsafe { sys::execve(path, argv, envp) }
            }
        }

        #[cfg(test)]
        impl Kernel for super::tests::Recorder {
            $(
                #[allow(unused_variables)]
                fn $name(&self, $($arg: $ty),*) -> $ret {
                    #[allow(unused_mut, unused_assignments)]
                    let mut detail: Option<&CStr> = None;
                    $( detail = Some($detail); )?
                    self.call(stringify!($name), detail)
                }
            )*

            fn read(&self, _fd: RawFd, buf: &mut [u8]) -> SysResult<usize> {
                self.call::<SysResult<()>>("read", None)?;
                Ok(self.read_into(buf))
            }

            unsafe fn close_raw(&self, _fd: RawFd) {
                self.call::<()>("close_raw", None)
            }

            unsafe fn dup2(&self, _from: RawFd, _to: RawFd) -> SysResult<()> {
                self.call("dup2", None)
            }

            unsafe fn close_range(&self, _first: u32, _last: u32) -> SysResult<()> {
                self.call("close_range", None)
            }

            unsafe fn clone_process(&self, _flags: u64) -> SysResult<(libc::pid_t, Option<OwnedFd>)> {
                // The fake continues as the new process, as the command's side of a fork does.
                self.call("clone_process", None)
            }

            unsafe fn execve(
                &self,
                path: &CStr,
                _argv: *const *const libc::c_char,
                _envp: *const *const libc::c_char,
            ) -> Errno {
                self.call::<SysResult<()>>("execve", Some(path)).err().unwrap_or(Errno(libc::ENOENT))
            }
        }
    };
}

kernel_calls! {
    fn prctl(option: libc::c_int, arg2: libc::c_ulong) -> SysResult<libc::c_int>;
    fn getppid() -> libc::pid_t;
    fn getpid() -> libc::pid_t;
    fn peer_closed(fd: RawFd) -> bool;
    fn setsid() -> SysResult<()>;
    fn lead_process_group() -> SysResult<()>;
    fn is_open(fd: RawFd) -> bool;
    fn set_cloexec(fd: RawFd, cloexec: bool) -> SysResult<()>;
    fn write_all(fd: RawFd, bytes: &[u8]) -> SysResult<()>;
    fn open(path: &CStr, flags: libc::c_int) -> SysResult<OwnedFd> [path];
    fn openat2(path: &CStr, how: &OpenHow) -> SysResult<OwnedFd> [path];
    fn openat(dir: RawFd, name: &CStr, flags: libc::c_int) -> SysResult<OwnedFd> [name];
    fn read_dir(dir: RawFd, buf: &mut [u8]) -> SysResult<usize>;
    fn mount_flags(fd: RawFd) -> SysResult<u64>;
    fn fstat(fd: RawFd) -> SysResult<libc::stat>;
    fn chdir(path: &CStr) -> SysResult<()> [path];
    fn mkdir(path: &CStr, mode: libc::mode_t) -> SysResult<()> [path];
    fn create_file(path: &CStr, mode: libc::mode_t) -> SysResult<OwnedFd> [path];
    fn symlink(target: &CStr, link: &CStr) -> SysResult<()> [link];
    fn mount(source: &CStr, target: &CStr, fstype: &CStr, flags: libc::c_ulong, data: Option<&CStr>) -> SysResult<()> [target];
    fn mount_propagation(target: &CStr, flags: libc::c_ulong) -> SysResult<()> [target];
    fn pivot_root_here() -> SysResult<()>;
    fn pivot_root(new_root: &CStr, put_old: &CStr) -> SysResult<()> [new_root];
    fn bind_mount(source: &CStr, target: &CStr, flags: libc::c_ulong) -> SysResult<()> [target];
    fn detach_mount(path: &CStr) -> SysResult<()> [path];
    fn open_tree(fd: RawFd, flags: u32) -> SysResult<OwnedFd>;
    fn mount_setattr(fd: RawFd, flags: u32, attr: &MountAttr) -> SysResult<()>;
    fn move_mount(from: RawFd, to: RawFd) -> SysResult<()>;
    fn bring_up_loopback() -> SysResult<()>;
    fn listen_loopback(ipv6: bool, port: u16) -> SysResult<OwnedFd>;
    fn send_fd(socket: RawFd, tag: u32, fd: RawFd) -> SysResult<()>;
    fn set_rlimit(resource: sys::RlimitResource, limit: u64) -> SysResult<()>;
    fn set_rlimit_pair(resource: sys::RlimitResource, soft: u64, hard: u64) -> SysResult<()>;
    fn arm_alarm_ms(ms: u64) -> SysResult<()>;
    fn clear_groups() -> SysResult<()>;
    fn set_all_gids(gid: libc::gid_t) -> SysResult<()>;
    fn set_all_uids(uid: libc::uid_t) -> SysResult<()>;
    fn capget() -> SysResult<[CapData; 2]>;
    fn capset(data: &[CapData; 2]) -> SysResult<()>;
    fn landlock_add_path_rule(ruleset: RawFd, rule: &LandlockPathBeneathAttr) -> SysResult<()>;
    fn landlock_restrict_self(ruleset: RawFd) -> SysResult<()>;
    fn seccomp_set_filter(program: &[SockFilter]) -> SysResult<()>;
    fn seccomp_set_filter_listener(program: &[SockFilter]) -> SysResult<OwnedFd>;
    fn reset_signal_handlers() -> ();
    fn set_signal_handler(signal: i32, handler: extern "C" fn(libc::c_int)) -> ();
    fn unblock_all_signals() -> ();
    fn reset_signals() -> ();
}
