//! Simulated hosts: the CLI started under a seccomp filter of the kind a container runtime
//! installs, so the host probe and the sandbox meet what they would meet there.

use std::os::unix::process::CommandExt;
use std::process::Command;

use codex_sandbox_core::seccomp::{Condition, SyscallRule, compile};

/// The filter of a host that forbids user namespaces, as Docker's default profile does:
/// `clone`/`unshare` with CLONE_NEWUSER refused (EPERM), `clone3` ENOSYS.
fn no_user_namespaces() -> Vec<libc::sock_filter> {
    let no_newuser =
        || vec![Condition::ArgIn { arg: 0, mask: libc::CLONE_NEWUSER as u32, values: vec![0], meaning: "" }];
    let rule = |syscall, number, allow_if, errno| SyscallRule { syscall, number, allow_if, errno, note: None };
    compile(&[
        rule("clone", libc::SYS_clone, no_newuser(), libc::EPERM),
        rule("unshare", libc::SYS_unshare, no_newuser(), libc::EPERM),
        rule("clone3", libc::SYS_clone3, vec![], libc::ENOSYS),
    ])
    .into_iter()
    .map(|i| libc::sock_filter { code: i.code, jt: i.jt, jf: i.jf, k: i.k })
    .collect()
}

/// The command started as on a host that forbids user namespaces.
pub fn forbid_user_namespaces(command: &mut Command) {
    install_before_exec(command, no_user_namespaces(), None);
}

/// As [`forbid_user_namespaces`], with the host's filter installed with a seccomp listener
/// that stays open in the started process (as a container runtime's seccomp agent holds it):
/// the kernel then refuses the sandbox a listener of its own (EBUSY).
pub fn forbid_user_namespaces_with_a_listener(command: &mut Command, listener_fd: i32) {
    install_before_exec(command, no_user_namespaces(), Some(listener_fd));
}

fn install_before_exec(command: &mut Command, program: Vec<libc::sock_filter>, keep_listener_at: Option<i32>) {
    let len = program.len() as u16;
    // SAFETY: only async-signal-safe calls (prctl, syscall, dup2) between fork and exec;
    // `program` (moved into the closure) outlives them and has the layout of `struct
    // sock_filter`.
    unsafe {
        command.pre_exec(move || {
            let fprog = libc::sock_fprog { len, filter: program.as_ptr().cast_mut() };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            match keep_listener_at {
                None => {
                    if libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &fprog as *const libc::sock_fprog)
                        != 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Some(target) => {
                    const NEW_LISTENER: libc::c_ulong = 1 << 3;
                    let listener =
                        libc::syscall(libc::SYS_seccomp, 1 as libc::c_ulong, NEW_LISTENER, &fprog as *const _);
                    // The listener is close-on-exec; its copy at `target` is not, so the
                    // filter keeps a listener for as long as the started process lives.
                    if listener < 0 || libc::dup2(listener as i32, target) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
            }
            Ok(())
        });
    }
}
