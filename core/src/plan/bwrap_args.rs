//! A `bwrap` plan as the arguments of an installed bubblewrap: the second executor of the
//! namespace pipeline (`exec::system_bwrap`) and what `--explain` shows for it. Debian 12's
//! bwrap 0.8.0 has every option used here.

use std::path::Path;

use super::SandboxPlan;
use super::mounts::{MountOp, PROC_READ_ONLY};

/// The `bwrap` command line for `plan` (without the command), with the seccomp program read
/// from `seccomp_fd` and bwrap's JSON status written to `status_fd` (descriptor numbers, or
/// placeholders for `--explain`). The status tells a setup failure (no `exit-code` record)
/// from the command's own exit status.
pub fn command_line(plan: &SandboxPlan, bwrap: &Path, seccomp_fd: Option<&str>, status_fd: &str) -> Vec<String> {
    let mut args = vec![bwrap.to_string_lossy().into_owned()];
    let mut push = |items: &[&str]| args.extend(items.iter().map(|s| s.to_string()));
    if plan.process.new_session {
        push(&["--new-session"]);
    }
    push(&[
        "--die-with-parent",
        "--unshare-user",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--cap-drop",
        "ALL",
    ]);
    if plan.namespaces().is_some_and(|ns| ns.network) {
        push(&["--unshare-net"]);
    }
    args.extend(bwrap_args(plan.mounts()));
    args.push("--chdir".into());
    args.push(plan.exec.cwd.to_string_lossy().into_owned());
    if let Some(fd) = seccomp_fd {
        args.push("--seccomp".into());
        args.push(fd.to_string());
    }
    args.push("--json-status-fd".into());
    args.push(status_fd.to_string());
    args.push("--".into());
    args
}

/// The view as `bwrap` options, in order. `bwrap` cannot mount a fresh sysfs, so [`MountOp::Sysfs`] becomes an empty mask.
pub fn bwrap_args(ops: &[MountOp]) -> Vec<String> {
    let mut args = Vec::new();
    let mut push = |items: &[&str]| args.extend(items.iter().map(|s| s.to_string()));
    for op in ops {
        match op {
            MountOp::ReadOnlyRoot => push(&["--ro-bind", "/", "/"]),
            // bwrap's root is an empty tmpfs already.
            MountOp::EmptyRoot => {}
            MountOp::ReadableBind { path } => {
                let path = path.to_string_lossy();
                push(&["--ro-bind", &path, &path]);
            }
            MountOp::Symlink { link, target } => {
                push(&["--symlink", &target.to_string_lossy(), &link.to_string_lossy()])
            }
            MountOp::SealRoot => push(&["--remount-ro", "/"]),
            MountOp::WritableBind { path } => {
                let path = path.to_string_lossy();
                push(&["--bind", &path, &path]);
            }
            MountOp::ReadOnlyBind { path } => {
                let path = path.to_string_lossy();
                push(&["--ro-bind", &path, &path]);
            }
            MountOp::Pin { path } => {
                let path = path.to_string_lossy();
                push(&["--bind", &path, &path]);
            }
            MountOp::Dev { host_shm } => {
                push(&["--dev", "/dev"]);
                if *host_shm {
                    push(&["--bind", "/dev/shm", "/dev/shm"]);
                }
                // Like the embedded /dev: nothing new can be created in it.
                push(&["--remount-ro", "/dev"]);
            }
            MountOp::Proc => {
                push(&["--proc", "/proc"]);
                // bwrap resolves bind sources in the host's view: the same sysctl tree.
                for path in PROC_READ_ONLY {
                    let path = path.to_string_lossy();
                    push(&["--ro-bind-try", &path, &path]);
                }
            }
            MountOp::MaskFile { path } => {
                let path = path.to_string_lossy();
                push(&["--ro-bind", "/dev/null", &path]);
            }
            MountOp::Mask { path } => {
                let path = path.to_string_lossy();
                push(&["--tmpfs", &path, "--remount-ro", &path]);
            }
            MountOp::Sysfs => push(&["--tmpfs", "/sys", "--remount-ro", "/sys"]),
        }
    }
    args
}
