//! The report protocol between the sandbox's first process and the spawning process.
//!
//! The child writes one fixed-size record — `(stage, errno, index)` — to a close-on-exec pipe
//! when a step fails, then exits with 125. The parent reads until end of file: no record means
//! `execve` succeeded (the pipe closed on exec). Both sides use this module: the child encodes
//! without allocating, the parent decodes and turns the record into an [`Error`] that names the
//! stage, the subject (the mount, Landlock rule or proxy route at `index`) and the errno.

use std::io;
use std::os::fd::RawFd;

use crate::error::Error;
use crate::plan::{Pipeline, SandboxPlan};
use crate::probe::{Evidence, Refusal, landlock_hint, loopback_hint, namespace_hint};
use crate::sys::{self, Errno, SysResult};

/// Declares [`Stage`] from one table: each stage, in wire order from 1, with what it does.
macro_rules! stages {
    ($($name:ident => $what:literal,)*) => {
        /// Where the child stopped; sent to the parent with the errno.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u32)]
        pub(crate) enum Stage {
            $($name,)*
        }

        impl Stage {
            const ALL: &[Stage] = &[$(Stage::$name,)*];

            pub(crate) fn describe(self) -> &'static str {
                match self {
                    $(Stage::$name => $what,)*
                }
            }
        }
    };
}

stages! {
    ParentDeathSignal => "set the parent-death signal",
    ParentGone => "the spawning process exited before the sandbox started",
    LaunchGate => "wait for the launcher to put the sandbox into its cgroups and write its id maps",
    NewSession => "start a new session (setsid)",
    CommandProcessGroup => "make the command the leader of its own process group (setpgid)",
    Stdio => "set up the command's descriptors",
    SetgroupsDeny => "write /proc/self/setgroups in the new user namespace",
    UidMap => "write the uid map of the new user namespace",
    GidMap => "write the gid map of the new user namespace",
    MountPropagation => "make the mount namespace private",
    ProtectOpen => "open a path to mount over without following symlinks",
    ProtectVerify => "a path changed between planning and mounting",
    ProtectClone => "clone a path for its bind mount",
    ProtectReadOnly => "make a protected bind read-only",
    ProtectAttach => "attach a bind mount",
    ReadOnlyRoot => "make the root read-only",
    WritableBind => "bind a writable root",
    Dev => "set up /dev",
    Proc => "mount /proc",
    Mask => "mask a path with an empty tmpfs",
    ProxyListen => "listen on a proxy port inside the sandbox",
    Loopback => "bring up lo in the sandbox's network namespace (proxy mode needs it)",
    Chdir => "change to the command's working directory",
    ClearGroups => "clear the supplementary groups (setgroups) to switch ids",
    SetGid => "switch to the requested gid (setresgid)",
    SetUid => "switch to the requested uid (setresuid)",
    Fork => "fork the command under the sandbox's init",
    Subreaper => "make the sandbox's init a subreaper that can list its children (PR_SET_CHILD_SUBREAPER, /proc/thread-self/children)",
    CloseFds => "close inherited file descriptors",
    PassFds => "keep the passed file descriptors open",
    Limits => "set the sandbox's resource limits",
    DropCapabilities => "drop all capabilities",
    NoNewPrivs => "set no_new_privs",
    Landlock => "enforce the Landlock ruleset",
    Seccomp => "install the seccomp filter",
    Exec => "execute the command",
    Panic => "a bug in the sandbox's setup code (it panicked; nothing was run)",
}

impl Stage {
    /// The value sent on the wire (never 0, so a zeroed message is not a valid report).
    fn to_wire(self) -> u32 {
        (self as u32).wrapping_add(1)
    }

    fn from_wire(value: u32) -> Option<Stage> {
        Stage::ALL.iter().copied().find(|stage| stage.to_wire() == value)
    }
}

/// A failure: the stage, the errno, and which item of the stage's list (mount operation,
/// Landlock rule, proxy route) failed, when there is a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    pub stage: Stage,
    pub errno: Errno,
    pub index: Option<u32>,
}

impl Failure {
    pub(crate) fn new(stage: Stage, errno: Errno) -> Failure {
        Failure { stage, errno, index: None }
    }

    /// Names the list item the failure concerns (the first one named wins).
    pub(crate) fn at(mut self, index: usize) -> Failure {
        self.index.get_or_insert(u32::try_from(index).unwrap_or(u32::MAX));
        self
    }

    pub(crate) const WIRE_SIZE: usize = 12;

    pub(crate) fn encode(self) -> [u8; Self::WIRE_SIZE] {
        let [s0, s1, s2, s3] = self.stage.to_wire().to_ne_bytes();
        let [e0, e1, e2, e3] = self.errno.0.to_ne_bytes();
        let [i0, i1, i2, i3] = self.index.unwrap_or(u32::MAX).to_ne_bytes();
        [s0, s1, s2, s3, e0, e1, e2, e3, i0, i1, i2, i3]
    }

    pub(crate) fn decode(message: &[u8; Self::WIRE_SIZE]) -> Option<Failure> {
        let [s0, s1, s2, s3, e0, e1, e2, e3, i0, i1, i2, i3] = *message;
        let stage = Stage::from_wire(u32::from_ne_bytes([s0, s1, s2, s3]))?;
        let errno = Errno(i32::from_ne_bytes([e0, e1, e2, e3]));
        let index = match u32::from_ne_bytes([i0, i1, i2, i3]) {
            u32::MAX => None,
            i => Some(i),
        };
        Some(Failure { stage, errno, index })
    }
}

/// The result of one child-side step.
pub(crate) type Step<T = ()> = Result<T, Failure>;

/// Tags a system call's failure with the stage it belongs to.
pub(crate) fn at<T>(stage: Stage, result: SysResult<T>) -> Step<T> {
    result.map_err(|errno| Failure::new(stage, errno))
}

/// Reads the child's failure report, or `None` when the pipe closed because `execve` worked.
pub(crate) fn read(fd: RawFd) -> SysResult<Option<Failure>> {
    let mut message = [0u8; Failure::WIRE_SIZE];
    let mut filled = 0;
    while let Some(rest) = message.get_mut(filled..).filter(|rest| !rest.is_empty()) {
        match sys::read(fd, rest)? {
            0 => break,
            n => filled += n,
        }
    }
    match filled {
        0 => Ok(None),
        Failure::WIRE_SIZE => Failure::decode(&message).map(Some).ok_or(Errno(libc::EPROTO)),
        _ => Err(Errno(libc::EPROTO)),
    }
}

/// Turns a child's report into an error that names what failed, with the errno kept intact.
/// A step the host refused (namespaces, mounts, Landlock, `lo`) is
/// [`Error::HostRefused`], as the same refusal found before `clone` would be.
pub(crate) fn into_error(plan: &SandboxPlan, failure: Failure) -> Error {
    let Failure { stage, errno, index } = failure;
    let source = io::Error::from_raw_os_error(errno.0);
    let program = plan.process.argv.first().cloned().unwrap_or_default();
    match (stage, errno.0) {
        (Stage::Exec, libc::ENOENT | libc::ENOTDIR) => return Error::CommandNotFound { program },
        (Stage::Exec, _) => return Error::CommandNotExecutable { program, source },
        (Stage::Panic, _) => return Error::Internal(format!("sandbox setup failed: {}", stage.describe())),
        _ => {}
    }
    let subject = subject(plan, stage, index.map(|i| i as usize));
    if let Some(hint) = host_refusal_hint(plan, stage, errno.0) {
        let check = match &subject {
            Some(subject) => format!("{}: {subject}", stage.describe()),
            None => stage.describe().to_owned(),
        };
        let pipeline = serde_json::to_value(plan.pipeline()).ok().and_then(|v| v.as_str().map(str::to_owned));
        let what = format!("the {} pipeline", pipeline.unwrap_or_default());
        return Error::HostRefused { what, refusal: Refusal::new(check, Some(errno.0), hint) };
    }
    let hint = match (stage, errno.0) {
        (Stage::ProtectVerify, libc::ESTALE) => {
            " (a path was replaced while the sandbox was being set up; refusing to run)"
        }
        _ => "",
    };
    Error::Setup { stage: stage.describe(), subject, source, hint }
}

/// The hint for a failure that says the host cannot enforce the plan (rather than a path
/// changed, a bug, or a resource ran out), chosen from the host's evidence.
fn host_refusal_hint(plan: &SandboxPlan, stage: Stage, errno: i32) -> Option<String> {
    let refused = matches!(errno, libc::EPERM | libc::EACCES | libc::ENOSYS | libc::EOPNOTSUPP);
    match stage {
        Stage::SetgroupsDeny | Stage::UidMap | Stage::GidMap | Stage::MountPropagation => {
            Some(namespace_hint(errno, &Evidence::gather()))
        }
        Stage::ProtectClone
        | Stage::ProtectReadOnly
        | Stage::ProtectAttach
        | Stage::ReadOnlyRoot
        | Stage::WritableBind
        | Stage::Dev
        | Stage::Proc
        | Stage::Mask
            if refused || errno == libc::EINVAL =>
        {
            Some(namespace_hint(errno, &Evidence::gather()))
        }
        Stage::Landlock if refused => {
            let kernel = crate::sys::uname_release().unwrap_or_default();
            Some(landlock_hint(errno, &kernel, &Evidence::gather()))
        }
        Stage::Loopback => Some(loopback_hint(errno, &Evidence::gather())),
        Stage::ProxyListen if matches!(errno, libc::EADDRNOTAVAIL | libc::ENETUNREACH) && plan.proxy().is_some() => {
            Some(loopback_hint(errno, &Evidence::gather()))
        }
        _ => None,
    }
}

/// What item `index` of `stage`'s list is, in words.
fn subject(plan: &SandboxPlan, stage: Stage, index: Option<usize>) -> Option<String> {
    if stage == Stage::Chdir {
        return Some(plan.process.cwd.display().to_string());
    }
    let index = index?;
    match stage {
        Stage::Landlock => plan.landlock().and_then(|l| l.rules.get(index)).map(|r| r.path.display().to_string()),
        Stage::ProxyListen => plan.proxy().and_then(|proxy| proxy.describe_route(index)),
        _ if plan.pipeline() == Pipeline::Bwrap => plan.mounts().get(index).map(ToString::to_string),
        // The landlock pipeline's operations: the pins, then the protected paths.
        _ => {
            let pins = plan.protected().pins.iter();
            pins.chain(plan.read_only_binds().iter().map(|p| &p.path)).nth(index).map(|p| p.display().to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_garbage_is_refused() {
        for stage in Stage::ALL {
            let failure = Failure::new(*stage, Errno(libc::EACCES)).at(7);
            assert_eq!(Failure::decode(&failure.encode()), Some(failure));
        }
        let plain = Failure::new(Stage::Exec, Errno(libc::ENOENT));
        assert_eq!(Failure::decode(&plain.encode()).unwrap().index, None);
        assert_eq!(Failure::decode(&[0; Failure::WIRE_SIZE]), None, "a zeroed record is not a report");
    }

    /// Each stage's index names an item of that stage's own list: a proxy listener that fails
    /// is its route, never the mount at the same index.
    #[test]
    fn failures_name_their_subject_and_keep_the_errno() {
        use crate::plan::{PipelineRequest, SandboxSpec, prepare_for};
        use crate::policy::SandboxPolicy;
        use crate::probe::HostFacts;
        let mut spec = SandboxSpec::new(SandboxPolicy::read_only(), "/", vec!["true".into()]);
        spec.pipeline = PipelineRequest::Bwrap;
        spec.proxy_network = true;
        spec.env = vec![("HTTPS_PROXY".into(), "http://127.0.0.1:3128".into())];
        let plan = prepare_for(&spec, &HostFacts::capable(6)).unwrap();

        let error = into_error(&plan, Failure::new(Stage::ProxyListen, Errno(libc::EADDRINUSE)).at(0));
        assert_eq!(error.errno(), Some(libc::EADDRINUSE));
        let message = error.to_string();
        assert!(message.contains("listen on a proxy port inside the sandbox: proxy route 127.0.0.1:3128"), "{message}");
        assert!(!message.contains("read-only /"), "{message}");

        let error = into_error(&plan, Failure::new(Stage::ReadOnlyRoot, Errno(libc::EPERM)).at(0));
        assert_eq!(error.errno(), Some(libc::EPERM));
        assert!(error.to_string().contains("make the root read-only: read-only /"), "{error}");

        let error = into_error(&plan, Failure::new(Stage::Exec, Errno(libc::ENOENT)));
        assert!(matches!(error, Error::CommandNotFound { .. }), "{error}");
    }

    #[test]
    fn what_the_host_refused_after_clone_is_unsupported_with_its_errno_and_check() {
        use crate::{ErrorKind, HostFacts, SandboxPolicy, SandboxSpec, prepare_for};
        let mut spec = SandboxSpec::new(SandboxPolicy::read_only(), "/", vec!["true".into()]);
        spec.env = vec![("PATH".into(), "/usr/bin".into())];
        let plan = prepare_for(&spec, &HostFacts::capable(6)).unwrap();
        for (stage, errno) in [
            (Stage::UidMap, libc::EPERM),
            (Stage::SetgroupsDeny, libc::ENOENT),
            (Stage::MountPropagation, libc::EACCES),
            (Stage::ReadOnlyRoot, libc::ENOSYS),
            (Stage::Proc, libc::EPERM),
            (Stage::Landlock, libc::EPERM),
            (Stage::Loopback, libc::EPERM),
        ] {
            let error = into_error(&plan, Failure::new(stage, Errno(errno)).at(0));
            assert_eq!(error.kind(), ErrorKind::Unsupported, "{stage:?}: {error}");
            assert_eq!(error.errno(), Some(errno), "{stage:?}");
            assert!(error.failed_check().unwrap().starts_with(stage.describe()), "{stage:?}: {error}");
            assert!(error.to_string().contains("cannot be enforced on this host"), "{error}");
        }
        let landlock = into_error(&plan, Failure::new(Stage::Landlock, Errno(libc::EPERM)));
        assert!(landlock.to_string().contains("predates Landlock"), "{landlock}");
        // A path swapped under the setup, or a missing command, is no host limit.
        let swapped = into_error(&plan, Failure::new(Stage::ProtectVerify, Errno(libc::ESTALE)));
        assert_eq!(swapped.kind(), ErrorKind::SpawnFailed);
        assert_eq!(
            into_error(&plan, Failure::new(Stage::Exec, Errno(libc::ENOENT))).kind(),
            ErrorKind::CommandNotFound
        );
    }
}
