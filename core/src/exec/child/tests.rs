//! The child's steps driven through a recording fake of the kernel: the exact order of the
//! calls for each pipeline's image, and that a failing call stops everything after it and is
//! reported with its stage, errno and list index.
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::arithmetic_side_effects,
    clippy::panic
)]

use std::cell::{Cell, RefCell};
use std::ffi::{CStr, CString};
use std::os::fd::OwnedFd;

use super::image::{ChildImage, ExecImage, FdImage, InitImage, LandlockImage, LandlockRuleImage, NamespaceImage};
use super::image::{ClassicMounts, CloneSource, PreparedOp};
use super::setup_and_exec;
use crate::exec::report::{Failure, Stage};
use crate::sys::{CapData, Errno, SockFilter, SysResult};

/// Logs every call (with its path, where it has one) and fails the first call that matches.
pub(crate) struct Recorder {
    calls: RefCell<Vec<String>>,
    fail: Option<(&'static str, Errno)>,
    failed: Cell<bool>,
    /// What `read` returns, chunk by chunk (then end of file).
    reads: RefCell<std::collections::VecDeque<Vec<u8>>>,
}

impl Recorder {
    fn new() -> Recorder {
        Recorder { calls: RefCell::new(Vec::new()), fail: None, failed: Cell::new(false), reads: RefCell::default() }
    }

    /// Queues `data` for the next `read` (then end of file).
    fn reading(self, data: &[u8]) -> Recorder {
        self.reads.borrow_mut().push_back(data.to_vec());
        self.reads.borrow_mut().push_back(Vec::new());
        self
    }

    pub(crate) fn read_into(&self, buf: &mut [u8]) -> usize {
        let mut reads = self.reads.borrow_mut();
        let Some(chunk) = reads.front_mut() else { return 0 };
        let n = chunk.len().min(buf.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        chunk.drain(..n);
        if chunk.is_empty() {
            reads.pop_front();
        }
        n
    }

    /// Fails the first call whose log line is `line` with `errno`.
    fn failing(line: &'static str, errno: i32) -> Recorder {
        Recorder { fail: Some((line, Errno(errno))), ..Recorder::new() }
    }

    pub(crate) fn call<T: FakeReturn>(&self, name: &'static str, detail: Option<&CStr>) -> T {
        let line = match detail {
            Some(path) => format!("{name} {}", path.to_string_lossy()),
            None => name.to_owned(),
        };
        let fails = self.fail.as_ref().filter(|(wanted, _)| *wanted == line && !self.failed.get());
        self.calls.borrow_mut().push(line);
        match fails {
            Some((_, errno)) => {
                self.failed.set(true);
                T::failed(*errno)
            }
            None => T::fake(),
        }
    }

    fn calls(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }
}

/// What the fake returns from a call of each type.
pub(crate) trait FakeReturn {
    fn fake() -> Self;
    fn failed(errno: Errno) -> Self;
}

/// What a successful fake call yields.
pub(crate) trait FakeOk {
    fn fake_ok() -> Self;
}

impl<T: FakeOk> FakeReturn for SysResult<T> {
    fn fake() -> Self {
        Ok(T::fake_ok())
    }

    fn failed(errno: Errno) -> Self {
        Err(errno)
    }
}

impl FakeReturn for () {
    fn fake() {}

    fn failed(_: Errno) {}
}

impl FakeReturn for bool {
    fn fake() -> bool {
        false
    }

    fn failed(_: Errno) -> bool {
        false
    }
}

/// `getppid`: the parent the images below name.
impl FakeReturn for libc::pid_t {
    fn fake() -> libc::pid_t {
        PARENT
    }

    fn failed(_: Errno) -> libc::pid_t {
        1
    }
}

impl FakeOk for () {
    fn fake_ok() {}
}

impl FakeOk for usize {
    fn fake_ok() -> usize {
        0
    }
}

impl FakeOk for u64 {
    fn fake_ok() -> u64 {
        0
    }
}

impl FakeOk for libc::c_int {
    fn fake_ok() -> libc::c_int {
        0
    }
}

impl FakeOk for OwnedFd {
    fn fake_ok() -> OwnedFd {
        OwnedFd::from(std::fs::File::open("/dev/null").unwrap())
    }
}

impl FakeOk for libc::stat {
    /// A directory with device and inode 0, as the images below plan their targets.
    fn fake_ok() -> libc::stat {
        // SAFETY: stat is plain data; all zeroes is a valid value.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        st.st_mode = libc::S_IFDIR | 0o755;
        st
    }
}

impl FakeOk for [CapData; 2] {
    fn fake_ok() -> [CapData; 2] {
        [CapData::default(); 2]
    }
}

impl FakeOk for (libc::pid_t, Option<OwnedFd>) {
    /// `clone`: the fake goes on as the new process.
    fn fake_ok() -> (libc::pid_t, Option<OwnedFd>) {
        (0, None)
    }
}

const PARENT: libc::pid_t = 4242;

/// An image's C strings, kept alive while the steps read pointers into them.
struct Strings {
    argv: Vec<CString>,
}

fn image(strings: &Strings, namespaces: Option<NamespaceImage>) -> ChildImage {
    let argv: Vec<*const libc::c_char> =
        strings.argv.iter().map(|s| s.as_ptr()).chain(std::iter::once(std::ptr::null())).collect();
    ChildImage {
        exec: ExecImage {
            envp: vec![std::ptr::null()],
            argv,
            candidates: vec![c"/usr/bin/cmd".to_owned()],
            cwd: c"/w".to_owned(),
        },
        fds: FdImage { map: vec![(1, 10)], inherit: [true, false, true], keep: vec![20], pass: vec![] },
        report_fd: 20,
        report_read_fd: 21,
        die_with_parent: Some(PARENT),
        // The namespace images below are the namespace pipeline's: PID 1.
        init: namespaces.as_ref().map(|_| InitImage {
            status_fd: 30,
            keep_fds: vec![30],
            subreaper: None,
            wall_time_ms: None,
        }),
        namespaces,
        drop_capabilities: true,
        no_new_privs: true,
        new_session: true,
        max_processes: None,
        launcher_gate: None,
        switch_ids: None,
        rlimits: vec![],
        landlock: Some(LandlockImage {
            ruleset: OwnedFd::from(std::fs::File::open("/dev/null").unwrap()),
            rules: vec![LandlockRuleImage { path: c"/".to_owned(), access: 7, file_access: 5, optional: false }],
        }),
        seccomp: Some(vec![SockFilter { code: 6, jt: 0, jf: 0, k: 0x7fff_0000 }]),
        supervisor: None,
        fd_limit: 64,
    }
}

fn namespaces(ops: Vec<PreparedOp>, clone_first: Vec<CloneSource>) -> NamespaceImage {
    NamespaceImage {
        id_maps: Some((b"1000 1000 1\n".to_vec(), b"1000 1000 1\n".to_vec())),
        ops,
        clone_first,
        loopback: true,
        pid_namespace: true,
        proxy_listeners: None,
        classic: None,
    }
}

fn strings() -> Strings {
    Strings { argv: vec![c"cmd".to_owned()] }
}

/// The confinement every sandboxed command gets, in order, after its descriptors are set up.
const CONFINE: &[&str] = &[
    "close_range",
    "set_cloexec",
    "close_range",
    // drop_capabilities: no CAP_SETPCAP in the fake, so no bounding-set loop
    "capget",
    "prctl",
    "capset",
    "capget",
    "prctl",
    "openat2 /",
    "fstat",
    "landlock_add_path_rule",
    "landlock_restrict_self",
    "seccomp_set_filter",
    "reset_signals",
    "execve /usr/bin/cmd",
];

#[test]
fn landlock_image_runs_session_descriptors_then_confinement_then_exec() {
    let strings = strings();
    let kernel = Recorder::new();
    let failure = setup_and_exec(&kernel, &image(&strings, None)).unwrap_err();
    assert_eq!(failure, Failure::new(Stage::Exec, Errno(libc::ENOENT)), "the fake's execve fails");
    let mut expected = vec!["close_raw", "prctl", "getppid", "setsid", "dup2", "is_open", "is_open", "chdir /w"];
    expected.extend(CONFINE.iter().filter(|call| **call != "set_cloexec").copied());
    // keep = [20]: close 3..=19, then 21.. ; no passed descriptors.
    assert_eq!(kernel.calls(), expected);
}

#[test]
fn landlock_image_with_a_subreaper_init_forks_the_command_before_confining() {
    let strings = strings();
    let kernel = Recorder::new();
    let mut with_init = image(&strings, None);
    with_init.init = Some(InitImage {
        status_fd: 30,
        keep_fds: vec![30],
        subreaper: Some(super::image::Subreaper { children: std::cell::RefCell::new(vec![0; 64].into_boxed_slice()) }),
        wall_time_ms: None,
    });
    let failure = setup_and_exec(&kernel, &with_init).unwrap_err();
    assert_eq!(failure.stage, Stage::Exec);
    let mut expected = vec!["close_raw", "prctl", "getppid", "setsid", "dup2", "is_open", "is_open", "chdir /w"];
    // The subreaper is armed and its children list checked before the fork; the fake goes on
    // as the command, which arms its own parent-death signal and leads a process group of its
    // own in init's session.
    expected.extend([
        "getpid",
        "prctl",
        "open /proc/thread-self/children",
        "clone_process",
        "prctl",
        "getppid",
        "lead_process_group",
    ]);
    expected.extend(CONFINE.iter().filter(|call| **call != "set_cloexec").copied());
    assert_eq!(kernel.calls(), expected);

    // Without a children list nothing runs.
    let kernel = Recorder::failing("open /proc/thread-self/children", libc::ENOENT);
    let failure = setup_and_exec(&kernel, &with_init).unwrap_err();
    assert_eq!(failure, Failure::new(Stage::Subreaper, Errno(libc::ENOENT)));
    assert_eq!(kernel.calls().last().map(String::as_str), Some("open /proc/thread-self/children"));
}

#[test]
fn a_supervised_command_installs_its_filter_with_a_listener_and_hands_it_over_last() {
    let strings = strings();
    let mut supervised = image(&strings, None);
    supervised.supervisor = Some(super::image::SupervisorImage {
        init_socket: 40,
        command_socket: 41,
        roots: vec![],
        value: std::cell::RefCell::new(vec![0; 16].into_boxed_slice()),
        broker: None,
    });
    let kernel = Recorder::new();
    let failure = setup_and_exec(&kernel, &supervised).unwrap_err();
    assert_eq!(failure.stage, Stage::Exec);
    let calls = kernel.calls();
    let tail: Vec<&str> = calls.iter().rev().take(5).rev().map(String::as_str).collect();
    // The listener goes to init, the command's end of the pair is closed, then the exec.
    assert_eq!(tail, ["seccomp_set_filter_listener", "send_fd", "close_raw", "reset_signals", "execve /usr/bin/cmd"]);
    assert!(!calls.iter().any(|call| call == "seccomp_set_filter"), "one filter, with its listener");

    // A listener that cannot be handed over stops the command: its calls would wait for ever.
    let kernel = Recorder::failing("send_fd", libc::EPIPE);
    let failure = setup_and_exec(&kernel, &supervised).unwrap_err();
    assert_eq!(failure, Failure::new(Stage::Seccomp, Errno(libc::EPIPE)));
    assert!(!kernel.calls().iter().any(|call| call.starts_with("execve")), "never exec'd");
}

#[test]
fn namespace_image_maps_ids_before_mounting_and_forks_init_before_confining() {
    let strings = strings();
    let kernel = Recorder::new();
    let clone = CloneSource {
        target: super::image::BindTarget { path: c"/w".to_owned(), dev: 0, ino: 0 },
        checked: true,
        tree: Cell::new(None),
    };
    let ops = vec![
        PreparedOp::ReadOnlyRoot,
        PreparedOp::Attach { target: c"/w".to_owned(), slot: 0, is_dir: true, attr: 0 },
        PreparedOp::Proc,
    ];
    let failure = setup_and_exec(&kernel, &image(&strings, Some(namespaces(ops, vec![clone])))).unwrap_err();
    assert_eq!(failure.stage, Stage::Exec);
    let calls = kernel.calls();
    let view = [
        "open /proc/self/setgroups",
        "write_all",
        "open /proc/self/uid_map",
        "write_all",
        "open /proc/self/gid_map",
        "write_all",
        "mount_propagation /",
        "bring_up_loopback",
        // the writable root is cloned from the host's view first
        "openat2 /w",
        "fstat",
        "open_tree",
        // op 0: the whole tree read-only
        "open /",
        "mount_setattr",
        // op 1: the clone attached over its path
        "mkdir /w",
        "openat2 /w",
        "move_mount",
        // op 2: a fresh /proc, its sysctls and other knobs bound read-only over themselves
        "mkdir /proc",
        "mount /proc",
        "open /proc/sys",
        "open_tree",
        "mount_setattr",
        "move_mount",
        "open /proc/sysrq-trigger",
        "open_tree",
        "mount_setattr",
        "move_mount",
        "open /proc/irq",
        "open_tree",
        "mount_setattr",
        "move_mount",
        "open /proc/bus",
        "open_tree",
        "mount_setattr",
        "move_mount",
        "open /proc/fs",
        "open_tree",
        "mount_setattr",
        "move_mount",
        "open /proc/acpi",
        "open_tree",
        "mount_setattr",
        "move_mount",
        "open /proc/scsi",
        "open_tree",
        "mount_setattr",
        "move_mount",
        "open /proc/asound",
        "open_tree",
        "mount_setattr",
        "move_mount",
        "chdir /w",
        // PID 1 forks the command; the fake goes on as the command, which checks init is
        // still its parent
        "getpid",
        "clone_process",
        "prctl",
        "getppid",
        "lead_process_group",
    ];
    let start = calls.iter().position(|call| call == "setsid").unwrap() + 4;
    assert_eq!(calls[..start].last().map(String::as_str), Some("is_open"));
    assert_eq!(&calls[start..start + view.len()], view, "{calls:#?}");
    let confine: Vec<&str> = CONFINE.iter().filter(|call| **call != "set_cloexec").copied().collect();
    assert_eq!(&calls[start + view.len()..], confine, "{calls:#?}");
}

#[test]
fn a_failing_call_stops_the_steps_and_names_its_stage_and_index() {
    let strings = strings();
    let kernel = Recorder::failing("mount_propagation /", libc::EPERM);
    let failure = setup_and_exec(&kernel, &image(&strings, Some(namespaces(vec![], vec![])))).unwrap_err();
    assert_eq!(failure, Failure::new(Stage::MountPropagation, Errno(libc::EPERM)));
    assert_eq!(kernel.calls().last().map(String::as_str), Some("mount_propagation /"));

    let kernel = Recorder::failing("mount /proc", libc::EIO);
    let ops = vec![PreparedOp::ReadOnlyRoot, PreparedOp::Proc, PreparedOp::Sysfs];
    let failure = setup_and_exec(&kernel, &image(&strings, Some(namespaces(ops, vec![])))).unwrap_err();
    assert_eq!(failure, Failure::new(Stage::Proc, Errno(libc::EIO)).at(1));
    assert_eq!(kernel.calls().last().map(String::as_str), Some("mount /proc"), "nothing after the failure");

    let kernel = Recorder::failing("seccomp_set_filter", libc::EINVAL);
    let failure = setup_and_exec(&kernel, &image(&strings, None)).unwrap_err();
    assert_eq!(failure, Failure::new(Stage::Seccomp, Errno(libc::EINVAL)));
    assert!(!kernel.calls().iter().any(|call| call.starts_with("execve")), "never exec'd unconfined");
}

/// A command that switches ids: the launcher writes the maps (the child waits on its gate and
/// writes none, and no `setgroups deny`), the view is built with the caller's privilege, then
/// groups, gid and uid are switched before init forks, and the parent-death signal (which the
/// kernel clears on a change of credentials) is armed again.
#[test]
fn a_switch_of_ids_waits_for_the_launchers_maps_and_happens_after_the_view_before_init() {
    let strings = strings();
    let mut switching = image(&strings, Some(NamespaceImage { id_maps: None, ..namespaces(vec![], vec![]) }));
    switching.launcher_gate = Some((50, 51));
    switching.switch_ids = Some((65534, 65533));
    let kernel = Recorder::new().reading(&[1]);
    let failure = setup_and_exec(&kernel, &switching).unwrap_err();
    assert_eq!(failure.stage, Stage::Exec);
    let calls = kernel.calls();
    let start: Vec<&str> = calls.iter().take(6).map(String::as_str).collect();
    assert_eq!(start, ["close_raw", "close_raw", "read", "close_raw", "prctl", "peer_closed"], "{calls:#?}");
    assert!(!calls.iter().any(|call| call.contains("setgroups") || call.contains("_map")), "{calls:#?}");
    let chdir = calls.iter().position(|call| call == "chdir /w").unwrap();
    let switch: Vec<&str> = calls[chdir + 1..chdir + 12].iter().map(String::as_str).collect();
    assert_eq!(
        switch,
        // bounding set (no CAP_SETPCAP in the fake), the switch, the death signal again, init
        [
            "capget",
            "clear_groups",
            "set_all_gids",
            "set_all_uids",
            "prctl",
            "peer_closed",
            "getpid",
            "clone_process",
            "prctl",
            "getppid",
            "lead_process_group",
        ],
        "{calls:#?}"
    );
    let confine: Vec<&str> = CONFINE.iter().filter(|call| **call != "set_cloexec").copied().collect();
    assert_eq!(&calls[chdir + 12..], confine, "the capabilities are still dropped and checked: {calls:#?}");

    // Each call is checked: a failed switch runs nothing (no init, no command).
    for (call, stage) in
        [("clear_groups", Stage::ClearGroups), ("set_all_gids", Stage::SetGid), ("set_all_uids", Stage::SetUid)]
    {
        let kernel = Recorder::failing(call, libc::EPERM).reading(&[1]);
        let failure = setup_and_exec(&kernel, &switching).unwrap_err();
        assert_eq!(failure, Failure::new(stage, Errno(libc::EPERM)));
        assert_eq!(kernel.calls().last().map(String::as_str), Some(call), "nothing after the failure");
    }
    // A launcher that closes the gate instead (it could not write the maps) runs nothing.
    let kernel = Recorder::new();
    let failure = setup_and_exec(&kernel, &switching).unwrap_err();
    assert_eq!(failure, Failure::new(Stage::LaunchGate, Errno(libc::EPIPE)));
    assert_eq!(kernel.calls(), ["close_raw", "close_raw", "read"]);
}

#[test]
fn a_parent_gone_before_the_death_signal_was_armed_stops_the_child() {
    let strings = strings();
    let mut orphan = image(&strings, None);
    orphan.die_with_parent = Some(PARENT + 1);
    let kernel = Recorder::new();
    let failure = setup_and_exec(&kernel, &orphan).unwrap_err();
    assert_eq!(failure, Failure::new(Stage::ParentGone, Errno(libc::ESRCH)));
    assert_eq!(kernel.calls(), ["close_raw", "prctl", "getppid"]);
}

#[test]
fn proxy_mode_requires_lo_and_other_modes_go_on_without_it() {
    let strings = strings();
    let mut proxied = namespaces(vec![], vec![]);
    proxied.proxy_listeners = Some(super::image::ProxyListeners { control_fd: 40, ports: vec![3128] });
    let kernel = Recorder::failing("bring_up_loopback", libc::EPERM);
    let failure = setup_and_exec(&kernel, &image(&strings, Some(proxied))).unwrap_err();
    assert_eq!(failure, Failure::new(Stage::Loopback, Errno(libc::EPERM)));
    assert!(!kernel.calls().iter().any(|call| call == "listen_loopback"), "no listener on a down lo");

    let kernel = Recorder::failing("bring_up_loopback", libc::EPERM);
    let failure = setup_and_exec(&kernel, &image(&strings, Some(namespaces(vec![], vec![])))).unwrap_err();
    assert_eq!(failure.stage, Stage::Exec, "without proxy routes lo is best effort");
}

/// `/proc/self/mountinfo` lines: `id parent major:minor root mount-point options ...`.
const MOUNTINFO: &[u8] = b"22 1 8:1 / /oldroot rw - ext4 /dev/sda1 rw\n\
40 22 0:5 / /oldroot/my\\040dir rw - tmpfs t rw\n\
50 1 8:1 / /newroot rw - ext4 /dev/sda1 rw\n\
51 50 0:5 / /newroot/my\\040dir rw - tmpfs t rw\n\
52 50 0:6 / /newrootx rw - tmpfs t rw\n";

#[test]
fn the_classic_path_stages_the_view_and_remounts_every_mount_of_the_tree_without_the_new_mount_api() {
    let strings = strings();
    let clone = CloneSource {
        target: super::image::BindTarget { path: c"/w".to_owned(), dev: 0, ino: 0 },
        checked: true,
        tree: Cell::new(None),
    };
    let ops = vec![
        PreparedOp::ReadOnlyRoot,
        PreparedOp::Attach { target: c"/w".to_owned(), slot: 0, is_dir: true, attr: 0 },
        PreparedOp::Proc,
    ];
    let mut ns = namespaces(ops, vec![clone]);
    ns.classic = Some(ClassicMounts {
        staged: true,
        base: c"/tmp".to_owned(),
        mountinfo: RefCell::new(vec![0u8; 4096].into_boxed_slice()),
    });
    let kernel = Recorder::new().reading(MOUNTINFO);
    let failure = setup_and_exec(&kernel, &image(&strings, Some(ns))).unwrap_err();
    assert_eq!(failure.stage, Stage::Exec, "{:#?}", kernel.calls());
    let calls = kernel.calls();
    let view_end = calls.iter().position(|call| call == "chdir /w").unwrap();
    for call in &calls[..view_end] {
        for new_api in ["open_tree", "move_mount", "mount_setattr", "openat2"] {
            assert!(!call.starts_with(new_api), "{call} on the classic path: {calls:#?}");
        }
    }
    let position =
        |wanted: &str| calls.iter().position(|call| call == wanted).unwrap_or_else(|| panic!("{wanted}: {calls:#?}"));
    // Staging: a tmpfs root holding the host's tree at /oldroot.
    assert!(position("mount /tmp") < position("pivot_root ."));
    // op 0: the host's tree bound at /newroot, then each mount of it remounted read-only: the
    // two mountinfo lines under /newroot (the escaped space decoded), not /oldroot's nor
    // /newrootx.
    let bind = position("bind_mount /newroot");
    let remounts: Vec<&String> = calls[bind..]
        .iter()
        .take_while(|c| !c.starts_with("mkdir"))
        .filter(|c| c.starts_with("mount_propagation"))
        .collect();
    assert_eq!(remounts.len(), 2, "{calls:#?}");
    assert!(calls[bind..].iter().any(|c| c == "openat my dir"), "the decoded path is walked: {calls:#?}");
    // op 1: the writable root bound from the host's tree through descriptors.
    let mkdir = position("mkdir /newroot/w");
    assert!(calls[mkdir..].iter().any(|c| c.starts_with("bind_mount /oldroot/proc/self/fd/")), "{calls:#?}");
    // op 2: a fresh /proc in the view; then the view becomes the root.
    assert!(position("mount /newroot/proc") < position("chdir /newroot"));
    assert!(position("chdir /newroot") < position("pivot_root_here"));
    assert!(position("pivot_root_here") < position("detach_mount ."));
}

#[test]
fn the_classic_path_refuses_a_mount_table_larger_than_its_buffer() {
    let strings = strings();
    let mut ns = namespaces(vec![PreparedOp::ReadOnlyRoot], vec![]);
    ns.classic = Some(ClassicMounts {
        staged: true,
        base: c"/tmp".to_owned(),
        mountinfo: RefCell::new(vec![0u8; 16].into_boxed_slice()),
    });
    let kernel = Recorder::new().reading(MOUNTINFO);
    let failure = setup_and_exec(&kernel, &image(&strings, Some(ns))).unwrap_err();
    assert_eq!(failure, Failure::new(Stage::ReadOnlyRoot, Errno(libc::E2BIG)).at(0), "never a partly read-only view");
}

#[test]
fn without_close_range_the_descriptors_are_listed_from_proc() {
    let strings = strings();
    let kernel = Recorder::failing("close_range", libc::ENOSYS);
    let failure = setup_and_exec(&kernel, &image(&strings, None)).unwrap_err();
    assert_eq!(failure.stage, Stage::Exec);
    let calls = kernel.calls();
    let at = calls.iter().position(|call| call == "close_range").unwrap();
    assert_eq!(calls[at + 1..at + 3], ["open /proc/self/fd", "read_dir"], "{calls:?}");
}

#[test]
fn listed_descriptors_are_parsed_from_dirent_records() {
    fn record(name: &str) -> Vec<u8> {
        let reclen = (19 + name.len() + 1).next_multiple_of(8);
        let mut bytes = vec![0u8; reclen];
        bytes[16..18].copy_from_slice(&(reclen as u16).to_ne_bytes());
        bytes[19..19 + name.len()].copy_from_slice(name.as_bytes());
        bytes
    }
    let records: Vec<u8> = [".", "..", "0", "17", "5000", "x1", ""].iter().flat_map(|name| record(name)).collect();
    assert_eq!(super::fds::listed_fds(&records).collect::<Vec<_>>(), [0, 17, 5000]);
    // A truncated or zero-length record ends the listing instead of looping.
    assert_eq!(super::fds::listed_fds(&records[..30]).collect::<Vec<_>>(), Vec::<i32>::new());
    let mut zero = record("3");
    zero[16..18].copy_from_slice(&0u16.to_ne_bytes());
    assert_eq!(super::fds::listed_fds(&zero).count(), 0);
    // Overflowing numbers are not descriptors.
    assert_eq!(super::fds::listed_fds(&record("99999999999")).count(), 0);
}
