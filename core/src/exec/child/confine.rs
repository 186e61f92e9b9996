//! The last steps, in the process that becomes the command: close what it must not inherit,
//! drop every privilege, enforce Landlock and seccomp, `execve`.

use std::convert::Infallible;

use super::fds::close_other_fds;
use super::image::{ChildImage, ExecImage, LandlockImage};
use super::kernel::Kernel;
use crate::exec::report::{Failure, Stage, Step, at};
use crate::sys::{self, Errno};

pub(crate) fn confine_and_exec(k: &impl Kernel, image: &ChildImage) -> Step<Infallible> {
    close_other_fds(k, &image.fds.keep, image.fd_limit)?;
    for fd in &image.fds.pass {
        at(Stage::PassFds, k.set_cloexec(*fd, false))?;
    }
    if let Some(limit) = image.max_processes {
        // Before the capabilities go: lowering the hard limit needs none, and the budget must
        // hold before the command can fork.
        at(Stage::Limits, k.set_rlimit(libc::RLIMIT_NPROC, limit))?;
    }
    // After the launcher's own setup (which may need more descriptors or memory than the
    // command is given), before the command's first instruction; inherited by all it starts.
    for (index, (resource, soft, hard)) in image.rlimits.iter().enumerate() {
        at(Stage::Limits, k.set_rlimit_pair(*resource, *soft, *hard)).map_err(|failure| failure.at(index))?;
    }
    if image.drop_capabilities {
        drop_capabilities(k)?;
    }
    if image.no_new_privs {
        at(Stage::NoNewPrivs, k.prctl(libc::PR_SET_NO_NEW_PRIVS, 1))?;
    }
    if let Some(landlock) = &image.landlock {
        enforce_landlock(k, landlock)?;
    }
    match (&image.seccomp, &image.supervisor) {
        (Some(program), Some(supervisor)) => {
            super::supervisor::install_and_hand_over(k, program, supervisor.command_socket)?
        }
        (Some(program), None) => at(Stage::Seccomp, k.seccomp_set_filter(program))?,
        (None, _) => {}
    }
    k.reset_signals();
    Err(Failure::new(Stage::Exec, exec_first_candidate(k, &image.exec)))
}

/// Drops every capability: bounding set (when we may), ambient, then effective, permitted and
/// inheritable. Root — or the owner of a fresh user namespace, who holds every capability in
/// it — keeps none.
pub(crate) fn drop_capabilities(k: &impl Kernel) -> Step {
    let stage = Stage::DropCapabilities;
    drop_bounding_set(k)?;
    match k.prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong) {
        Ok(_) => {}
        Err(errno) if errno.0 == libc::EINVAL => {} // no ambient capabilities before 4.3
        Err(errno) => return Err(Failure::new(stage, errno)),
    }
    at(stage, k.capset(&[sys::CapData::default(); 2]))?;
    if at(stage, k.capget())? != [sys::CapData::default(); 2] {
        return Err(Failure::new(stage, Errno(libc::EPERM)));
    }
    Ok(())
}

/// Empties the bounding set, where this process may (it holds CAP_SETPCAP).
fn drop_bounding_set(k: &impl Kernel) -> Step {
    let stage = Stage::DropCapabilities;
    let [low, _] = at(stage, k.capget())?;
    if low.effective & (1 << sys::CAP_SETPCAP) != 0 {
        for cap in 0..64 {
            match k.prctl(libc::PR_CAPBSET_DROP, cap) {
                Ok(_) => {}
                // Past the kernel's last capability.
                Err(errno) if errno.0 == libc::EINVAL => break,
                Err(errno) => return Err(Failure::new(stage, errno)),
            }
        }
    }
    Ok(())
}

/// Runs on as `uid`/`gid` with no supplementary group, as libuv switches (groups, gid, uid),
/// each call checked. Real, effective and saved ids all change, so the command cannot switch
/// back; leaving uid 0 clears the effective, permitted and ambient capabilities. With
/// `drop_capabilities` the bounding set is emptied first, while CAP_SETPCAP is still held
/// ([`drop_capabilities`] runs again later and verifies that nothing is left).
pub(crate) fn switch_ids(k: &impl Kernel, uid: libc::uid_t, gid: libc::gid_t, drop_capabilities: bool) -> Step {
    if drop_capabilities {
        drop_bounding_set(k)?;
    }
    at(Stage::ClearGroups, k.clear_groups())?;
    at(Stage::SetGid, k.set_all_gids(gid))?;
    at(Stage::SetUid, k.set_all_uids(uid))
}

/// Adds the rules of the sandbox's own view to the parent's ruleset and restricts this process
/// (and its future children). no_new_privs must already be set.
fn enforce_landlock(k: &impl Kernel, image: &LandlockImage) -> Step {
    let stage = Stage::Landlock;
    let ruleset_fd = std::os::fd::AsRawFd::as_raw_fd(&image.ruleset);
    for (index, rule) in image.rules.iter().enumerate() {
        let fd = match super::paths::open_without_symlinks(k, &rule.path, &super::paths::RULE_PATH) {
            Ok(fd) => fd,
            Err(errno) if rule.optional && errno.0 == libc::ENOENT => continue,
            Err(errno) => return Err(Failure::new(stage, errno).at(index)),
        };
        let parent_fd = std::os::fd::AsRawFd::as_raw_fd(&fd);
        let added = k.fstat(parent_fd).and_then(|st| {
            let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
            let allowed_access = if is_dir { rule.access } else { rule.file_access };
            k.landlock_add_path_rule(ruleset_fd, &sys::LandlockPathBeneathAttr { allowed_access, parent_fd })
        });
        at(stage, added).map_err(|failure| failure.at(index))?;
    }
    at(stage, k.landlock_restrict_self(ruleset_fd))
}

/// Tries each candidate path like `execvp`: a missing file moves on, a permission error is
/// remembered (and wins over "not found"), anything else stops the search.
fn exec_first_candidate(k: &impl Kernel, exec: &ExecImage) -> Errno {
    let mut saw_eacces = false;
    let mut last = Errno(libc::ENOENT);
    for candidate in &exec.candidates {
        // SAFETY: argv and envp are null-terminated arrays of pointers into CStrings owned by
        // the parent's copy of the image, which this process never frees.
        let errno = unsafe { k.execve(candidate, exec.argv.as_ptr(), exec.envp.as_ptr()) };
        match errno.0 {
            libc::ENOENT | libc::ENOTDIR => {}
            libc::EACCES => saw_eacces = true,
            _ => return errno,
        }
        last = errno;
    }
    if saw_eacces { Errno(libc::EACCES) } else { last }
}
