//! The escape suite: probes that try to get out of the sandbox, each judged by evidence on the
//! host (a file unchanged, an exact errno, a listener that got nothing, a victim alive and
//! unchanged). Columns: the landlock pipeline, the namespace pipeline (embedded launcher, and
//! an installed bubblewrap through `--bwrap-path` when `/usr/bin/bwrap` exists), and the
//! landlock pipeline on a simulated host without user namespaces; as the current user and
//! (when root) as uid 65534; with restricted and full network. It prints one row per probe and
//! column, a summary per column, and ends with the line `N passed, N failed`.
//!
//! A probe that shows an escape we have not closed yet is KNOWN-OPEN with the issue item that
//! tracks it: neither passed nor failed, unless `CODEX_SANDBOX_ESCAPES_STRICT=1`, which makes
//! it a failure. A probe that needs what the host lacks is SKIP (a failure under
//! `CODEX_SANDBOX_REQUIRE_ALL=1`); one whose target does not exist on this host is n/a.
//!
//! `cargo test -p codex-linux-sandbox --test escape` runs it (no test harness: it is one
//! program). `CODEX_SANDBOX_ESCAPES_FILTER=substring` runs only the probes whose id contains
//! it.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt, chown};
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Run, Scratch, User};
use serde_json::{Value, json};

const PROBE: &str = include_str!("common/escape_probe.py");

// ---------------------------------------------------------------------------------------------
// Columns.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pipeline {
    Landlock,
    /// The namespace pipeline, embedded launcher.
    Bwrap,
    /// The namespace pipeline's plan carried out by an installed bubblewrap (`--bwrap-path`).
    SystemBwrap,
    /// The landlock pipeline on a host that refuses user namespaces (Docker's default seccomp
    /// profile, Ubuntu's AppArmor default), simulated by a seccomp filter around the CLI that
    /// refuses `clone`/`unshare` with CLONE_NEWUSER (EPERM) and `clone3` (ENOSYS), as Docker's
    /// profile does. Only read-only policies run there: protected paths need a mount namespace.
    LandlockNoUserns,
}

/// The installed bubblewrap the `SystemBwrap` columns use (as CI installs it).
const SYSTEM_BWRAP: &str = "/usr/bin/bwrap";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Network {
    Restricted,
    Full,
}

#[derive(Clone, Copy, Debug)]
struct Column {
    pipeline: Pipeline,
    user: User,
    network: Network,
}

impl Column {
    fn name(&self) -> String {
        let pipeline = match self.pipeline {
            Pipeline::Landlock => "landlock",
            Pipeline::Bwrap => "bwrap",
            Pipeline::SystemBwrap => "sysbwrap",
            Pipeline::LandlockNoUserns => "landlock-nouserns",
        };
        let user = match self.user {
            User::Current if unsafe { libc::geteuid() } == 0 => "root".to_owned(),
            User::Current => format!("uid{}", unsafe { libc::geteuid() }),
            User::Nobody => "65534".to_owned(),
        };
        let network = match self.network {
            Network::Restricted => "restricted",
            Network::Full => "full",
        };
        format!("{pipeline}/{user}/{network}")
    }

    fn landlock(&self) -> bool {
        matches!(self.pipeline, Pipeline::Landlock | Pipeline::LandlockNoUserns)
    }

    fn no_userns(&self) -> bool {
        self.pipeline == Pipeline::LandlockNoUserns
    }

    fn full(&self) -> bool {
        self.network == Network::Full
    }

    fn root(&self) -> bool {
        self.user.ids().0 == 0
    }

    /// The errno of a write outside the writable roots: under a user namespace (both
    /// pipelines) the mount is read-only, which the kernel checks first; without one Landlock
    /// refuses it.
    fn denied(&self) -> &'static str {
        if self.no_userns() { "EACCES" } else { "EROFS" }
    }

    /// The errno of a metadata change outside the writable roots: the read-only mount's, or
    /// without user namespaces the metadata supervisor's refusal.
    fn metadata_denied(&self) -> &'static str {
        if self.no_userns() { "EPERM" } else { "EROFS" }
    }

    /// The errno of reaching a host process: not in the sandbox's PID namespace at all (both
    /// pipelines where user namespaces are available), or, without one, refused by Landlock's
    /// scoping (signals) or its ptrace restriction.
    fn unseen(&self, landlock: &'static str) -> &'static str {
        if self.no_userns() { landlock } else { "ESRCH" }
    }
}

// ---------------------------------------------------------------------------------------------
// Verdicts.

enum Verdict {
    /// Held, with the evidence.
    Held(String),
    /// Got out, with the evidence.
    Escaped(String),
    /// Held, but not the way the probe expects (a different errno): a failure to look at.
    Unexpected(String),
    /// The host lacks what the probe needs.
    Skip(String),
    /// The surface does not exist on this host.
    NotApplicable(String),
}

use Verdict::*;

/// Expects exactly `expected` for `what`, with `escaped` telling from host evidence whether
/// the attempt got through.
fn judge(what: &str, answer: &str, expected: &str, escaped: Option<String>) -> Verdict {
    match escaped {
        Some(evidence) => Escaped(format!("{what}: {answer}; {evidence}")),
        None if answer == expected => Held(format!("{what}: {answer}")),
        None => Unexpected(format!("{what}: got {answer}, expected {expected} (host unchanged)")),
    }
}

/// Several answers, all expected.
fn judge_all(parts: &[(&str, &str, &str)], escaped: Option<String>) -> Verdict {
    if let Some(evidence) = escaped {
        let answers: Vec<String> = parts.iter().map(|(what, answer, _)| format!("{what}={answer}")).collect();
        return Escaped(format!("{}; {evidence}", answers.join(" ")));
    }
    let wrong: Vec<String> = parts
        .iter()
        .filter(|(_, answer, expected)| answer != expected)
        .map(|(what, answer, expected)| format!("{what}: got {answer}, expected {expected}"))
        .collect();
    if wrong.is_empty() {
        let answers: Vec<String> = parts.iter().map(|(what, answer, _)| format!("{what}: {answer}")).collect();
        Held(answers.join(", "))
    } else {
        Unexpected(format!("{} (host unchanged)", wrong.join("; ")))
    }
}

fn changed(path: &Path, original: &str) -> Option<String> {
    match fs::read_to_string(path) {
        Ok(now) if now == original => None,
        Ok(now) => Some(format!("{} now holds {:?}", path.display(), now.chars().take(60).collect::<String>())),
        Err(e) => Some(format!("{} is gone ({e})", path.display())),
    }
}

fn exists(path: &Path) -> Option<String> {
    fs::symlink_metadata(path).is_ok().then(|| format!("{} exists on the host", path.display()))
}

fn either(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    }
}

// ---------------------------------------------------------------------------------------------
// The host side of one column: directories, a victim process, listeners, a pty, a SysV segment.

const ORIGINAL: &str = "original host content\n";

struct Fixture {
    column: Column,
    scratch: Scratch,
    /// Outside every writable root.
    outside: PathBuf,
    victim_file: PathBuf,
    /// `repo` layout: the policy cwd is `repo/ws`, a git repository; `repo` is a writable root too.
    repo: PathBuf,
    ws: PathBuf,
    /// `plain` layout: the policy cwd is in no repository.
    plain: PathBuf,
    /// `gitfile` layout: `gitfile/ws/.git` is a worktree's `gitdir:` file.
    gitfile: PathBuf,
    victim: Victim,
    tcp: TcpListener,
    tcp6: Option<TcpListener>,
    udp: UdpSocket,
    unix_path: PathBuf,
    unix: UnixListener,
    abstract_name: String,
    abstract_listener: UnixListener,
    dgram_path: PathBuf,
    dgram: UnixDatagram,
    seqpacket_path: PathBuf,
    seqpacket: OwnedFd,
    pty: Option<Pty>,
    shm: Option<Shm>,
    /// A root-owned set-uid copy of `id` and what it prints outside the sandbox as 65534.
    setuid_id: Option<(PathBuf, String)>,
    orphan_tag: String,
}

struct Victim {
    child: Child,
    pid: u32,
    secret: String,
}

impl Victim {
    fn start(column: Column, cwd: &Path, secret_file: &Path) -> Victim {
        let secret = format!("codex-victim-secret-{}", std::process::id());
        let mut command = Command::new("/usr/bin/python3");
        command
            .args(["-c", "import os,sys,time; fd=os.open(sys.argv[1], os.O_RDONLY); time.sleep(600)"])
            .arg(secret_file)
            .current_dir(cwd)
            .env_clear()
            .env("VICTIM_SECRET", &secret)
            .stdin(Stdio::null())
            .process_group(0);
        if column.user == User::Nobody {
            command.uid(65534).gid(65534);
        }
        let child = command.spawn().expect("start the victim");
        let pid = child.id();
        // Until python has opened its descriptor (fd 3), pidfd_getfd has nothing to take.
        let deadline = Instant::now() + Duration::from_secs(10);
        while fs::read_link(format!("/proc/{pid}/fd/3")).is_err() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        Victim { child, pid, secret }
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn status(&self, field: &str) -> String {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with(field))
            .map(|l| l[field.len() + 1..].trim().to_owned())
            .unwrap_or_default()
    }

    fn nofile_limit(&self) -> String {
        let limits = fs::read_to_string(format!("/proc/{}/limits", self.pid)).unwrap_or_default();
        limits.lines().find(|l| l.starts_with("Max open files")).unwrap_or_default().to_owned()
    }

    fn nice(&self) -> String {
        let stat = fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
        // Field 19 (nice), counted after the parenthesised command name.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
        rest.split_whitespace().nth(16).unwrap_or_default().to_owned()
    }

    /// Evidence that the victim was harmed: dead, traced, or with changed limits or nice value.
    fn harmed(&mut self, nofile: &str, nice: &str) -> Option<String> {
        if !self.alive() {
            return Some(format!("victim {} is dead", self.pid));
        }
        let tracer = self.status("TracerPid");
        if tracer != "0" {
            return Some(format!("victim {} is traced by {tracer}", self.pid));
        }
        let now = self.nofile_limit();
        if now != nofile {
            return Some(format!("victim's open-files limit changed to `{now}`"));
        }
        let now = self.nice();
        if now != nice {
            return Some(format!("victim's nice value changed from {nice} to {now}"));
        }
        None
    }
}

impl Drop for Victim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A pseudo-terminal pair of the host (another session's terminal), with typed input waiting.
struct Pty {
    master: OwnedFd,
    slave: OwnedFd,
    path: PathBuf,
}

const TYPED_SECRET: &str = "codex-typed-secret";

impl Pty {
    fn open(user: User) -> Option<Pty> {
        let (mut master, mut slave) = (-1, -1);
        // SAFETY: out-pointers to two ints; the name, termios and winsize pointers are NULL.
        let rc =
            unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
        if rc != 0 {
            return None;
        }
        // SAFETY: openpty returned two fresh descriptors we now own.
        let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let path = fs::read_link(format!("/proc/self/fd/{}", slave.as_raw_fd())).ok()?;
        let (uid, gid) = user.ids();
        chown(&path, Some(uid), Some(gid)).ok()?;
        let line = format!("{TYPED_SECRET}\n");
        // SAFETY: writes from a live buffer to a descriptor we own.
        unsafe { libc::write(master.as_raw_fd(), line.as_ptr().cast(), line.len()) };
        Some(Pty { master, slave, path })
    }

    /// Bytes waiting to be read on the slave side (typed input, or input injected by TIOCSTI).
    fn pending(fd: RawFd) -> i32 {
        let mut count: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int.
        unsafe { libc::ioctl(fd, libc::FIONREAD, &mut count) };
        count
    }
}

/// A System V shared-memory segment of the host, world-writable, so only the sandbox's IPC
/// namespace (or nothing) stands between the command and it.
struct Shm {
    key: i32,
    id: i32,
    address: *mut u8,
}

impl Shm {
    fn create(seed: u32) -> Option<Shm> {
        let key = 0x0c0d_0000 | (seed & 0xffff) as i32;
        // SAFETY: plain System V calls; the address is checked before use.
        unsafe {
            let id = libc::shmget(key, 4096, libc::IPC_CREAT | libc::IPC_EXCL | 0o666);
            if id < 0 {
                return None;
            }
            let address = libc::shmat(id, std::ptr::null(), 0);
            if address as isize == -1 {
                libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut());
                return None;
            }
            let address = address.cast::<u8>();
            std::ptr::copy_nonoverlapping(ORIGINAL.as_ptr(), address, ORIGINAL.len());
            Some(Shm { key, id, address })
        }
    }

    fn content(&self) -> String {
        // SAFETY: the segment is 4096 bytes and stays attached while self lives.
        let bytes = unsafe { std::slice::from_raw_parts(self.address, ORIGINAL.len()) };
        String::from_utf8_lossy(bytes).into_owned()
    }
}

impl Drop for Shm {
    fn drop(&mut self) {
        // SAFETY: detaches and removes the segment this value created.
        unsafe {
            libc::shmdt(self.address.cast());
            libc::shmctl(self.id, libc::IPC_RMID, std::ptr::null_mut());
        }
    }
}

fn git_repository(dir: &Path, config: &str) {
    fs::create_dir_all(dir.join("hooks")).unwrap();
    fs::write(dir.join("HEAD"), "ref: refs/heads/main\n").unwrap();
    fs::write(dir.join("config"), config).unwrap();
}

impl Fixture {
    fn new(column: Column, index: usize) -> Fixture {
        let scratch = Scratch::new(column.user, &format!("escape-{index}"));
        let outside = scratch.dir("outside");
        let victim_file = scratch.file("outside/victim.txt", ORIGINAL);
        scratch.file("outside/secret.txt", "host secret\n");
        for name in ["chmod.txt", "utime.txt", "xattr.txt", "link.txt", "fd.txt", "race.txt"] {
            let path = scratch.file(&format!("outside/{name}"), ORIGINAL);
            fs::set_permissions(path, fs::Permissions::from_mode(0o644)).unwrap();
        }

        let repo = scratch.dir("repo");
        let ws = scratch.dir("repo/ws");
        git_repository(&ws.join(".git"), "[core]\n\thooksPath = .husky\n");
        fs::write(ws.join(".git/hooks/pre-commit"), ORIGINAL).unwrap();
        scratch.file("repo/ws/.husky/pre-commit", ORIGINAL);
        git_repository(&ws.join("vendored/.git"), ORIGINAL);
        scratch.file("repo/ws/file.txt", ORIGINAL);

        let plain = scratch.dir("plain/ws");

        let gitfile = scratch.dir("gitfile");
        let main_git = gitfile.join("main/.git");
        git_repository(&main_git, ORIGINAL);
        fs::write(main_git.join("hooks/post-checkout"), ORIGINAL).unwrap();
        let worktree_git = main_git.join("worktrees/wt");
        fs::create_dir_all(&worktree_git).unwrap();
        fs::write(worktree_git.join("HEAD"), "ref: refs/heads/wt\n").unwrap();
        fs::write(worktree_git.join("commondir"), "../..\n").unwrap();
        fs::write(worktree_git.join("config.worktree"), ORIGINAL).unwrap();
        let gitfile_ws = scratch.dir("gitfile/ws");
        fs::write(gitfile_ws.join(".git"), format!("gitdir: {}\n", worktree_git.display())).unwrap();
        let tool = scratch.file("plain/ws/tool.sh", "#!/bin/sh\n");
        fs::set_permissions(&tool, fs::Permissions::from_mode(0o644)).unwrap();
        own_tree(&scratch, &scratch.path);
        let meta_link = plain.join("meta-link");
        std::os::unix::fs::symlink(outside.join("link.txt"), &meta_link).unwrap();
        let (uid, gid) = column.user.ids();
        std::os::unix::fs::lchown(&meta_link, Some(uid), Some(gid)).unwrap();

        let victim = Victim::start(column, &outside, &scratch.path.join("outside/secret.txt"));
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        tcp.set_nonblocking(true).unwrap();
        let tcp6 = TcpListener::bind("[::1]:0").ok();
        tcp6.iter().for_each(|l| l.set_nonblocking(true).unwrap());
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        udp.set_nonblocking(true).unwrap();
        let unix_path = scratch.path.join("host.sock");
        let unix = UnixListener::bind(&unix_path).unwrap();
        unix.set_nonblocking(true).unwrap();
        let abstract_name = format!("codex-escape-{}-{index}", std::process::id());
        let abstract_listener = abstract_listener(&abstract_name);
        let dgram_path = scratch.path.join("host-dgram.sock");
        let dgram = UnixDatagram::bind(&dgram_path).unwrap();
        dgram.set_nonblocking(true).unwrap();
        let seqpacket_path = scratch.path.join("host-seqpacket.sock");
        let seqpacket = seqpacket_listener(&seqpacket_path);
        for socket in [&unix_path, &dgram_path, &seqpacket_path] {
            fs::set_permissions(socket, fs::Permissions::from_mode(0o777)).unwrap();
        }
        let setuid_id = (column.user == User::Nobody).then(|| setuid_copy(&scratch)).flatten();
        Fixture {
            column,
            outside,
            victim_file,
            repo,
            ws,
            plain,
            gitfile,
            victim,
            tcp,
            tcp6,
            udp,
            unix_path,
            unix,
            abstract_name,
            abstract_listener,
            dgram_path,
            dgram,
            seqpacket_path,
            seqpacket,
            pty: Pty::open(column.user),
            shm: Shm::create(std::process::id().wrapping_add(index as u32)),
            setuid_id,
            orphan_tag: format!("600.{}{index}", std::process::id()),
            scratch,
        }
    }

    fn policy(&self, writable_roots: &[&Path]) -> String {
        if self.column.no_userns() {
            return json!({"type": "read-only", "network_access": self.column.full()}).to_string();
        }
        let roots: Vec<String> = writable_roots.iter().map(|p| p.display().to_string()).collect();
        json!({
            "type": "workspace-write",
            "writable_roots": roots,
            "network_access": self.column.full(),
            "exclude_tmpdir_env_var": true,
            "exclude_slash_tmp": true,
        })
        .to_string()
    }

    /// The run of a batch of `layout`.
    fn run_layout(&self, layout: Layout) -> Run {
        if layout == Layout::Writable && self.column.no_userns() {
            let policy = json!({"kind": "restricted", "entries": [
                {"path": {"type": "special", "value": {"kind": "root"}}, "access": "read"},
                {"path": {"type": "path", "path": self.plain}, "access": "write"},
            ]});
            let network = if self.column.full() { "\"enabled\"" } else { "\"restricted\"" };
            return Run::new(self.column.user, self.plain.parent().unwrap())
                .arg("--pipeline=landlock")
                .arg("--file-system-sandbox-policy")
                .arg(policy.to_string())
                .arg("--network-sandbox-policy")
                .arg(network)
                .unprotect_defaults();
        }
        let (cwd, policy) = layout.cwd_and_policy(self);
        self.run(&cwd, &policy)
    }

    fn run(&self, cwd: &Path, policy: &str) -> Run {
        let run = Run::new(self.column.user, cwd);
        let run = match self.column.pipeline {
            Pipeline::Landlock | Pipeline::LandlockNoUserns => run.arg("--pipeline=landlock"),
            Pipeline::Bwrap => run.arg("--pipeline=bwrap"),
            Pipeline::SystemBwrap => run.arg("--pipeline=bwrap").arg("--bwrap-path").arg(SYSTEM_BWRAP),
        };
        run.policy(policy)
    }

    /// Whether one listener received anything (each probe has its own).
    fn reached(&self, listener: Listener) -> Option<String> {
        let mut buf = [0u8; 64];
        let (got, what) = match listener {
            Listener::Tcp => (self.tcp.accept().is_ok(), "the 127.0.0.1 TCP listener accepted a connection"),
            Listener::Tcp6 => {
                (self.tcp6.as_ref().is_some_and(|l| l.accept().is_ok()), "the ::1 TCP listener accepted a connection")
            }
            Listener::Udp => (self.udp.recv(&mut buf).is_ok(), "the UDP socket received a datagram"),
            Listener::Unix => (self.unix.accept().is_ok(), "the host unix socket accepted a connection"),
            Listener::Abstract => {
                (self.abstract_listener.accept().is_ok(), "the abstract unix socket accepted a connection")
            }
            Listener::Dgram => (self.dgram.recv(&mut buf).is_ok(), "the host unix datagram socket received a datagram"),
            Listener::Seqpacket => {
                // SAFETY: accept4 on a listening socket we own; a connection's descriptor is closed.
                let fd = unsafe {
                    libc::accept4(
                        self.seqpacket.as_raw_fd(),
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                        libc::SOCK_CLOEXEC,
                    )
                };
                if fd >= 0 {
                    // SAFETY: the descriptor accept4 just returned.
                    unsafe { libc::close(fd) };
                }
                (fd >= 0, "the host unix seqpacket listener accepted a connection")
            }
        };
        got.then(|| what.to_owned())
    }
}

#[derive(Clone, Copy)]
enum Listener {
    Tcp,
    Tcp6,
    Udp,
    Unix,
    Abstract,
    Dgram,
    Seqpacket,
}

fn own_tree(scratch: &Scratch, dir: &Path) {
    scratch.own(dir);
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && !path.is_symlink() {
            own_tree(scratch, &path);
        } else {
            scratch.own(&path);
        }
    }
}

/// A non-blocking unix seqpacket listener at `path` (std has none).
fn seqpacket_listener(path: &Path) -> OwnedFd {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: plain socket calls on a descriptor we own; the address is built in place.
    unsafe {
        let fd = libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK, 0);
        assert!(fd >= 0, "seqpacket socket");
        let owned = OwnedFd::from_raw_fd(fd);
        let mut address: libc::sockaddr_un = std::mem::zeroed();
        address.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (slot, byte) in address.sun_path.iter_mut().zip(path.as_os_str().as_bytes()) {
            *slot = *byte as libc::c_char;
        }
        let length = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
        assert_eq!(libc::bind(fd, (&raw const address).cast(), length), 0, "bind {}", path.display());
        assert_eq!(libc::listen(fd, 8), 0, "listen");
        owned
    }
}

fn abstract_listener(name: &str) -> UnixListener {
    use std::os::linux::net::SocketAddrExt;
    let address = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let listener = UnixListener::bind_addr(&address).unwrap();
    listener.set_nonblocking(true).unwrap();
    listener
}

/// A root-owned set-uid copy of `id` in a directory 65534 can reach, and what it prints for
/// `id -u` when 65534 runs it outside the sandbox (`0` unless `/tmp` is mounted nosuid).
fn setuid_copy(scratch: &Scratch) -> Option<(PathBuf, String)> {
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let dir = scratch.dir("setuid");
    let copy = dir.join("id");
    fs::copy("/usr/bin/id", &copy).ok()?;
    chown(&copy, Some(0), Some(0)).ok()?;
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o4755)).ok()?;
    let output = Command::new(&copy).arg("-u").uid(65534).gid(65534).output().ok()?;
    Some((copy, String::from_utf8_lossy(&output.stdout).trim().to_owned()))
}

// ---------------------------------------------------------------------------------------------
// Probes.

/// The operations a batched probe adds to its column's run.
type Ops = fn(&Fixture) -> Vec<Value>;
/// Judges a batched probe's answers against the host's evidence.
type Judge = fn(&mut Fixture, &[String]) -> Verdict;

/// Where a probe runs: in one of the shared sandbox runs of its column (its operations are
/// batched with the other probes of the same layout), or in a run of its own.
enum Kind {
    /// Operations for the batch of `layout`, and the judge of their answers.
    Batched { layout: Layout, ops: Ops, judge: Judge },
    /// A run of its own.
    Own(fn(&mut Fixture) -> Verdict),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Layout {
    /// Policy cwd `repo/ws` (a repository), writable roots `repo` and `repo/ws`.
    Repo,
    /// Policy cwd `plain/ws`, in no repository.
    Plain,
    /// Policy cwd `gitfile/ws`, a worktree whose `.git` is a `gitdir:` file; `gitfile` is a root.
    GitFile,
    /// `plain/ws` writable in every column: workspace-write where user namespaces exist, and
    /// without them the most a host without a mount namespace runs (root read, `plain/ws`
    /// writable, no protected path), from `plain`.
    Writable,
}

impl Layout {
    fn cwd_and_policy(self, f: &Fixture) -> (PathBuf, String) {
        match self {
            Layout::Repo => (f.ws.clone(), f.policy(&[&f.repo])),
            Layout::Plain => (f.plain.clone(), f.policy(&[])),
            Layout::GitFile => (f.gitfile.join("ws"), f.policy(&[&f.gitfile])),
            Layout::Writable => (f.plain.clone(), f.policy(&[])),
        }
    }
}

struct Probe {
    id: &'static str,
    class: &'static str,
    /// Whether the probe means something in this column (a network probe in one mode only...).
    applies: fn(&Column) -> bool,
    /// The issue item that tracks an escape not closed yet in this column.
    known_open: fn(&Column) -> Option<&'static str>,
    kind: Kind,
}

fn everywhere(_: &Column) -> bool {
    true
}

fn never_open(_: &Column) -> Option<&'static str> {
    None
}

fn ops1(op: &str, args: &[&str]) -> Value {
    let mut list = vec![Value::from(op)];
    list.extend(args.iter().map(|a| Value::from(*a)));
    Value::Array(list)
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

macro_rules! batched {
    ($id:expr, $class:expr, $layout:expr, $ops:expr, $judge:expr) => {
        Probe {
            id: $id,
            class: $class,
            applies: everywhere,
            known_open: never_open,
            kind: Kind::Batched { layout: $layout, ops: $ops, judge: $judge },
        }
    };
}

// Issue items are the "What to build" items; the findings are the "What we measured" ones.
// Issue 11 item 1 closes the landlock pipeline's findings where user namespaces exist, item 2
// where they do not.
/// Accepted, not tracked: docs/security.md, "Residual risks".
const NESTED_REPOSITORY: &str =
    "residual risk (docs/security.md): a nested repository that existed before the run keeps a writable .git";
/// Accepted where the host gives no way (docs/security.md, "Residual risks"): an explicit budget
/// is refused there and the default one is dropped with a warning.
const PROCESS_BUDGET: &str = "residual risk (docs/security.md): no process budget where neither the sandbox's own user namespace nor a pids cgroup of the run's own can count it";
/// Documented, bounded by the run (docs/security.md, "Residual risks"; flock-ends-with-the-run).
const FLOCK: &str =
    "residual risk (docs/security.md): a lock on a readable host file blocks host lockers until the run ends";

fn probes() -> Vec<Probe> {
    let mut probes = Vec::new();
    probes.extend(write_probes());
    probes.extend(protected_probes());
    probes.extend(namespace_probes());
    probes.extend(privilege_probes());
    probes.extend(writable_root_metadata_probes());
    probes.extend(process_probes());
    probes.extend(terminal_and_fd_probes());
    probes.extend(socket_probes());
    probes.extend(kernel_surface_probes());
    probes.extend(footgun_probes());
    probes
}

fn write_probes() -> Vec<Probe> {
    const C: &str = "writes outside roots";
    let mut probes = vec![
        batched!("write-outside", C, Layout::Repo, |f| vec![ops1("write", &[&p(&f.victim_file)])], |f, a| {
            judge("write", &a[0], f.column.denied(), changed(&f.victim_file, ORIGINAL))
        }),
        batched!("append-outside", C, Layout::Repo, |f| vec![ops1("append", &[&p(&f.victim_file)])], |f, a| {
            judge("append", &a[0], f.column.denied(), changed(&f.victim_file, ORIGINAL))
        }),
        batched!("truncate-outside", C, Layout::Repo, |f| vec![ops1("truncate", &[&p(&f.victim_file)])], |f, a| {
            judge("truncate", &a[0], f.column.denied(), changed(&f.victim_file, ORIGINAL))
        }),
        batched!(
            "create-outside",
            C,
            Layout::Repo,
            |f| vec![ops1("create", &[&p(&f.outside.join("new.txt"))])],
            |f, a| judge("create", &a[0], f.column.denied(), exists(&f.outside.join("new.txt")))
        ),
        batched!("unlink-outside", C, Layout::Repo, |f| vec![ops1("unlink", &[&p(&f.victim_file)])], |f, a| {
            judge("unlink", &a[0], f.column.denied(), changed(&f.victim_file, ORIGINAL))
        }),
        batched!(
            "create-in-etc",
            C,
            Layout::Repo,
            |f| vec![ops1("create", &[&format!("/etc/codex-escape-{}", f.scratch.path.display().to_string().len())])],
            |f, a| {
                let path = PathBuf::from(format!("/etc/codex-escape-{}", f.scratch.path.display().to_string().len()));
                let result = judge("create /etc/codex-escape-*", &a[0], f.column.denied(), exists(&path));
                let _ = fs::remove_file(path);
                result
            }
        ),
        batched!(
            "rename-outside-in",
            C,
            Layout::Repo,
            |f| vec![ops1("rename", &[&p(&f.victim_file), &p(&f.ws.join("stolen.txt"))])],
            |f, a| {
                // Under the read-only policy of a host without user namespaces the workspace
                // is not writable either.
                let expected = if f.column.no_userns() { "EACCES" } else { "EXDEV" };
                judge("rename into the workspace", &a[0], expected, changed(&f.victim_file, ORIGINAL))
            }
        ),
        batched!(
            "hardlink-outside-in",
            C,
            Layout::Repo,
            |f| vec![ops1("link_then_write", &[&p(&f.victim_file), &p(&f.ws.join("linked.txt"))])],
            |f, a| {
                let expected = if f.column.no_userns() { "EACCES" } else { "EXDEV" };
                judge("hard link into the workspace, write", &a[0], expected, changed(&f.victim_file, ORIGINAL))
            }
        ),
        batched!(
            "symlink-outside-in",
            C,
            Layout::Repo,
            |f| vec![ops1("symlink_then_write", &[&p(&f.victim_file), &p(&f.ws.join("link.txt"))])],
            |f, a| {
                judge(
                    "symlink in the workspace, write through",
                    &a[0],
                    f.column.denied(),
                    changed(&f.victim_file, ORIGINAL),
                )
            }
        ),
        batched!(
            "proc-cwd-of-host-process",
            C,
            Layout::Repo,
            |f| vec![ops1("write", &[&format!("/proc/{}/cwd/victim.txt", f.victim.pid)])],
            |f, a| {
                let expected = f.column.unseen("EACCES");
                let expected = if expected == "ESRCH" { "ENOENT" } else { expected };
                judge("write through /proc/<host pid>/cwd", &a[0], expected, changed(&f.victim_file, ORIGINAL))
            }
        ),
        batched!("dev-shm", C, Layout::Repo, |f| vec![ops1("create", &[&shm_name(f)])], |f, a| {
            let path = PathBuf::from(shm_name(f));
            let result = judge("create in /dev/shm", &a[0], f.column.denied(), exists(&path));
            let _ = fs::remove_file(path);
            result
        }),
    ];
    // Metadata: Landlock has no rights for these; a read-only view stops them (EROFS), and
    // without user namespaces the metadata supervisor refuses them outside the roots (EPERM).
    let metadata: [(&'static str, Ops, Judge); 3] = [
        (
            "chmod-outside",
            |f| vec![ops1("chmod", &[&p(&f.outside.join("chmod.txt")), "4777"])],
            |f, a| {
                // The set-uid bit is refused by every pipeline's filter (EPERM) before the
                // read-only view or the supervisor would answer.
                let evidence = metadata_changed(&f.outside.join("chmod.txt"));
                judge("chmod u+s", &a[0], "EPERM", evidence)
            },
        ),
        (
            "utime-outside",
            |f| vec![ops1("utime", &[&p(&f.outside.join("utime.txt"))])],
            |f, a| {
                let evidence = metadata_changed(&f.outside.join("utime.txt"));
                judge("utime", &a[0], f.column.metadata_denied(), evidence)
            },
        ),
        (
            "setxattr-outside",
            |f| vec![ops1("setxattr", &[&p(&f.outside.join("xattr.txt")), "user.codex-escape"])],
            |f, a| {
                let evidence = metadata_changed(&f.outside.join("xattr.txt"));
                judge("setxattr", &a[0], f.column.metadata_denied(), evidence)
            },
        ),
    ];
    for (id, ops, judge) in metadata {
        probes.push(Probe {
            id,
            class: C,
            applies: everywhere,
            known_open: never_open,
            kind: Kind::Batched { layout: Layout::Repo, ops, judge },
        });
    }
    probes.push(batched!(
        "chown-outside",
        C,
        Layout::Repo,
        |f| {
            let (uid, _) = f.column.user.ids();
            let target = if uid == 0 { "1234" } else { "0" };
            vec![ops1("chown", &[&p(&f.victim_file), target, target])]
        },
        |f, a| {
            let (uid, _) = f.column.user.ids();
            let owner = fs::metadata(&f.victim_file).map(|m| m.uid()).unwrap_or(u32::MAX);
            let evidence = (owner != uid).then(|| format!("owner is now {owner}"));
            // Without a user namespace the capability is simply missing; with one (both
            // pipelines) the read-only mount is checked first.
            let expected = if f.column.no_userns() { "EPERM" } else { "EROFS" };
            judge("chown", &a[0], expected, evidence)
        }
    ));
    probes
}

fn shm_name(f: &Fixture) -> String {
    format!("/dev/shm/codex-escape-{}-{}", std::process::id(), f.scratch.path.file_name().unwrap().to_string_lossy())
}

/// Mode bits, timestamps and xattrs of the victim file, compared with how the fixture made it.
fn metadata_changed(path: &Path) -> Option<String> {
    let metadata = fs::metadata(path).ok()?;
    if metadata.mode() & 0o7777 != 0o644 {
        return Some(format!("mode is now {:o}", metadata.mode() & 0o7777));
    }
    if metadata.mtime() == 0 {
        return Some("mtime set to the epoch".into());
    }
    let name = std::ffi::CString::new("user.codex-escape").unwrap();
    let path_c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: NUL-terminated strings; a NULL buffer of size 0 asks for the value's size.
    let size = unsafe { libc::getxattr(path_c.as_ptr(), name.as_ptr(), std::ptr::null_mut(), 0) };
    (size >= 0).then(|| "xattr user.codex-escape was set".into())
}

fn protected_probes() -> Vec<Probe> {
    const C: &str = "protected paths";
    let mut probes = vec![
        batched!("git-config", C, Layout::Repo, |f| vec![ops1("write", &[&p(&f.ws.join(".git/config"))])], |f, a| {
            judge(
                "write .git/config",
                &a[0],
                "EROFS",
                changed(&f.ws.join(".git/config"), "[core]\n\thooksPath = .husky\n"),
            )
        }),
        batched!(
            "git-hook",
            C,
            Layout::Repo,
            |f| vec![
                ops1("write", &[&p(&f.ws.join(".git/hooks/pre-commit"))]),
                ops1("create", &[&p(&f.ws.join(".git/hooks/post-checkout"))])
            ],
            |f, a| {
                let evidence = either(
                    changed(&f.ws.join(".git/hooks/pre-commit"), ORIGINAL),
                    exists(&f.ws.join(".git/hooks/post-checkout")),
                );
                judge_all(&[("rewrite hook", &a[0], "EROFS"), ("new hook", &a[1], "EROFS")], evidence)
            }
        ),
        batched!(
            "git-rename-away",
            C,
            Layout::Repo,
            |f| vec![ops1("rename", &[&p(&f.ws.join(".git")), &p(&f.ws.join(".git-aside"))])],
            |f, a| {
                let evidence = either(
                    exists(&f.ws.join(".git-aside")),
                    changed(&f.ws.join(".git/HEAD"), "ref: refs/heads/main\n"),
                );
                judge("rename .git", &a[0], "EBUSY", evidence)
            }
        ),
        batched!(
            "git-replace-with-symlink",
            C,
            Layout::Repo,
            |f| vec![ops1("replace_with_symlink", &[&p(&f.ws.join(".git")), &p(&f.outside)])],
            |f, a| {
                let evidence = fs::symlink_metadata(f.ws.join(".git"))
                    .map(|m| m.file_type().is_symlink())
                    .unwrap_or(true)
                    .then(|| ".git is no longer the repository directory".into());
                judge("swap .git for a symlink", &a[0], "EBUSY", evidence)
            }
        ),
        batched!(
            "git-hardlink-config",
            C,
            Layout::Repo,
            |f| vec![ops1("link_then_write", &[&p(&f.ws.join(".git/config")), &p(&f.ws.join("config-link"))])],
            |f, a| {
                let evidence = changed(&f.ws.join(".git/config"), "[core]\n\thooksPath = .husky\n");
                judge("hard link .git/config, write", &a[0], "EXDEV", evidence)
            }
        ),
        batched!(
            "git-symlink-config",
            C,
            Layout::Repo,
            |f| vec![ops1("symlink_then_write", &[&p(&f.ws.join(".git/config")), &p(&f.ws.join("config-symlink"))])],
            |f, a| {
                let evidence = changed(&f.ws.join(".git/config"), "[core]\n\thooksPath = .husky\n");
                judge("symlink to .git/config, write through", &a[0], "EROFS", evidence)
            }
        ),
        batched!(
            "git-rename-parent-and-plant",
            C,
            Layout::Repo,
            |f| {
                vec![ops1(
                    "rename_then_plant",
                    &[&p(&f.ws), &p(&f.repo.join("ws-aside")), &p(&f.ws.join(".git/hooks/pre-commit"))],
                )]
            },
            |f, a| {
                let evidence =
                    either(exists(&f.repo.join("ws-aside")), changed(&f.ws.join(".git/hooks/pre-commit"), ORIGINAL));
                judge("rename the repository away, plant a hook", &a[0], "EBUSY", evidence)
            }
        ),
        batched!(
            "codex-missing",
            C,
            Layout::Repo,
            |f| vec![ops1("makedirs_write", &[&p(&f.ws.join(".codex/config.toml"))])],
            |f, a| judge("create .codex/config.toml", &a[0], "EROFS", exists(&f.ws.join(".codex")))
        ),
        batched!(
            "gitdir-target",
            C,
            Layout::GitFile,
            |f| vec![ops1("write", &[&p(&f.gitfile.join("main/.git/worktrees/wt/config.worktree"))])],
            |f, a| {
                let evidence = changed(&f.gitfile.join("main/.git/worktrees/wt/config.worktree"), ORIGINAL);
                judge("write the gitdir target", &a[0], "EROFS", evidence)
            }
        ),
    ];
    type KnownOpen = fn(&Column) -> Option<&'static str>;
    let residual: KnownOpen = |_| Some(NESTED_REPOSITORY);
    // (id, open item, layout, whether the target exists before the run); targets in `target_of`.
    let known: [(&'static str, KnownOpen, Layout, bool); 6] = [
        ("agents-missing", never_open, Layout::Repo, false),
        ("aws-missing", never_open, Layout::Repo, false),
        ("git-missing-no-repo", never_open, Layout::Plain, false),
        ("nested-repo-config", residual, Layout::Repo, true),
        ("hooks-path", never_open, Layout::Repo, true),
        ("worktree-commondir-hook", never_open, Layout::GitFile, true),
    ];
    // Protected names created below the top of a writable root: removed once the run is over,
    // the run failing (123) and naming each.
    type OwnRun = fn(&mut Fixture) -> Verdict;
    let own: [(&'static str, OwnRun); 7] = [
        ("sub-git-created", |f| {
            created_names_probe(
                f,
                "sub/.git with a hook",
                &[],
                "mkdir -p sub/.git/hooks && echo id > sub/.git/hooks/pre-commit",
                &["sub/.git"],
            )
        }),
        ("sub-git-file", |f| {
            let script = format!("mkdir -p subfile && printf 'gitdir: {}\\n' > subfile/.git", p(&f.outside));
            created_names_probe(f, "sub/.git as a gitdir: file", &[], &script, &["subfile/.git"])
        }),
        ("sub-git-symlink", |f| {
            let verdict = created_names_probe(
                f,
                "sub/.git as a symlink",
                &[],
                "mkdir -p sublink && ln -s ../.husky sublink/.git",
                &["sublink/.git"],
            );
            match changed(&f.ws.join(".husky/pre-commit"), ORIGINAL) {
                Some(evidence) => Unexpected(format!("the removal followed the link: {evidence}")),
                None => verdict,
            }
        }),
        ("sub-git-rename-in", |f| {
            let script = "mkdir -p evil/hooks subren && echo id > evil/hooks/pre-commit && mv evil subren/.git";
            created_names_probe(f, "a repository renamed to sub/.git", &[], script, &["subren/.git"])
        }),
        ("sub-git-hardlink", |f| {
            let verdict = created_names_probe(
                f,
                "sub/.git as a hard link",
                &[],
                "mkdir -p subhard && ln file.txt subhard/.git",
                &["subhard/.git"],
            );
            match changed(&f.ws.join("file.txt"), ORIGINAL) {
                Some(evidence) => Unexpected(format!("the removal took the linked file: {evidence}")),
                None => verdict,
            }
        }),
        ("added-name-created", |f| {
            let verdict = created_names_probe(
                f,
                "an added name (--protect .envrc) below the top",
                &["--protect=.envrc"],
                "mkdir -p subenv && echo 'export X=1' > subenv/.envrc; echo 'export X=1' > .envrc",
                &["subenv/.envrc"],
            );
            match fs::symlink_metadata(f.ws.join(".envrc")) {
                Ok(_) => Escaped(format!("{} exists on the host", p(&f.ws.join(".envrc")))),
                Err(_) => verdict,
            }
        }),
        ("submodule-git-file-kept", submodule_kept_probe),
    ];
    for (id, run) in own {
        probes.push(Probe { id, class: C, applies: everywhere, known_open: never_open, kind: Kind::Own(run) });
    }
    for (id, known_open, layout, existing) in known {
        probes.push(Probe {
            id,
            class: C,
            applies: everywhere,
            known_open,
            kind: Kind::Batched {
                layout,
                ops: target_op(id),
                judge: if existing { judge_existing(id) } else { judge_created(id) },
            },
        });
    }
    probes
}

/// Runs `script` (`sh -c`) in the Repo layout with `args`; expects the run to fail with 123 (a
/// protected name created) naming each of `created` (relative to `ws`), none left on the host.
fn created_names_probe(f: &mut Fixture, what: &str, args: &[&str], script: &str, created: &[&str]) -> Verdict {
    let (cwd, policy) = Layout::Repo.cwd_and_policy(f);
    let mut run = f.run(&cwd, &policy);
    for arg in args {
        run = run.arg(*arg);
    }
    let output = run.run_probe(&["/bin/sh".into(), "-c".into(), script.into()]);
    let message = common::stderr(&output);
    let paths: Vec<PathBuf> = created.iter().map(|c| f.ws.join(c)).collect();
    let survivors: Vec<String> =
        paths.iter().filter(|path| fs::symlink_metadata(path).is_ok()).map(|path| p(path)).collect();
    let evidence = (!survivors.is_empty()).then(|| format!("{} survived the run", survivors.join(", ")));
    let named = paths.iter().all(|path| message.contains(&format!("`{}`", p(path))));
    let answer = if output.status.code() == Some(123) && named {
        "removed, run failed naming it".to_owned()
    } else {
        format!("{:?}: {}", output.status.code(), message.trim())
    };
    judge(what, &answer, "removed, run failed naming it", evidence)
}

/// A submodule's `.git` file that was there before the run is left alone (and the run keeps the
/// command's own status).
fn submodule_kept_probe(f: &mut Fixture) -> Verdict {
    let pointer = "gitdir: ../.git/modules/submod\n";
    let file = f.scratch.file("repo/ws/submod/.git", pointer);
    let (cwd, policy) = Layout::Repo.cwd_and_policy(f);
    let output = f.run(&cwd, &policy).run_probe(&["/bin/sh".into(), "-c".into(), "echo x > submod/notes.txt".into()]);
    let gone = changed(&file, pointer).map(|evidence| format!("the user's submodule pointer: {evidence}"));
    match (output.status.code(), gone) {
        (_, Some(evidence)) => Unexpected(evidence),
        (Some(0), None) => Held("a pre-existing submod/.git stays, the run succeeds".into()),
        (code, None) => Unexpected(format!("run ended {code:?}: {}", common::stderr(&output).trim())),
    }
}

/// The target path of the protected-name probes, by id (function pointers cannot capture).
fn target_of(id: &str, f: &Fixture) -> PathBuf {
    match id {
        "agents-missing" => f.ws.join(".agents/skills/x.md"),
        "aws-missing" => f.ws.join(".aws/credentials"),
        "git-missing-no-repo" => f.plain.join(".git/config"),
        "nested-repo-config" => f.ws.join("vendored/.git/config"),
        "hooks-path" => f.ws.join(".husky/pre-commit"),
        "worktree-commondir-hook" => f.gitfile.join("main/.git/hooks/post-checkout"),
        _ => unreachable!("{id}"),
    }
}

fn target_op(id: &'static str) -> Ops {
    macro_rules! op {
        ($($id:literal),*) => {
            match id {
                $($id => |f: &Fixture| vec![ops1("makedirs_write", &[&p(&target_of($id, f))])],)*
                _ => unreachable!(),
            }
        };
    }
    op!(
        "agents-missing",
        "aws-missing",
        "git-missing-no-repo",
        "nested-repo-config",
        "hooks-path",
        "worktree-commondir-hook"
    )
}

fn judge_created(id: &'static str) -> Judge {
    macro_rules! j {
        ($($id:literal),*) => {
            match id {
                $($id => |f: &mut Fixture, a: &[String]| {
                    let target = target_of($id, f);
                    judge(&format!("create {}", target.display()), &a[0], "EROFS", exists(&target))
                },)*
                _ => unreachable!(),
            }
        };
    }
    j!("agents-missing", "aws-missing", "git-missing-no-repo")
}

fn judge_existing(id: &'static str) -> Judge {
    macro_rules! j {
        ($($id:literal),*) => {
            match id {
                $($id => |f: &mut Fixture, a: &[String]| {
                    let target = target_of($id, f);
                    judge(&format!("rewrite {}", target.display()), &a[0], "EROFS", changed(&target, ORIGINAL))
                },)*
                _ => unreachable!(),
            }
        };
    }
    j!("nested-repo-config", "hooks-path", "worktree-commondir-hook")
}

fn namespace_probes() -> Vec<Probe> {
    const C: &str = "mounts and namespaces";
    vec![
        batched!("mount-tmpfs", C, Layout::Repo, |f| vec![ops1("mount_tmpfs", &[&p(&f.outside)])], |f, a| {
            judge("mount tmpfs over a host directory", &a[0], "EPERM", changed(&f.victim_file, ORIGINAL))
        }),
        batched!("remount-root-rw", C, Layout::Repo, |_| vec![ops1("remount_rw", &["/"])], |f, a| {
            judge("remount / read-write", &a[0], "EPERM", changed(&f.victim_file, ORIGINAL))
        }),
        batched!(
            "nested-userns-bind",
            C,
            Layout::Repo,
            |f| vec![ops1("unshare_bind_write", &[&p(&f.ws), &p(&f.outside), &p(&f.victim_file)])],
            |f, a| judge("unshare(NEWUSER|NEWNS), bind, write", &a[0], "EPERM", changed(&f.victim_file, ORIGINAL))
        ),
        batched!(
            "umount-protected",
            C,
            Layout::Repo,
            |f| vec![ops1("umount_then_write", &[&p(&f.ws.join(".git")), &p(&f.ws.join(".git/config"))])],
            |f, a| {
                let evidence = changed(&f.ws.join(".git/config"), "[core]\n\thooksPath = .husky\n");
                judge("umount .git, write config", &a[0], "EPERM", evidence)
            }
        ),
        batched!(
            "setns-host-init",
            C,
            Layout::Repo,
            |f| vec![ops1("setns", &[&format!("/proc/{}/ns/mnt", f.victim.pid)])],
            |f, a| {
                let expected = if f.column.no_userns() { "EACCES" } else { "ENOENT" };
                judge("setns into a host process's mount namespace", &a[0], expected, None)
            }
        ),
        batched!("chroot", C, Layout::Repo, |f| vec![ops1("chroot", &[&p(&f.ws)])], |_, a| {
            judge("chroot", &a[0], "EPERM", None)
        }),
        batched!("clone3-into-cgroup", C, Layout::Repo, |_| vec![ops1("clone3_into_cgroup", &["/"])], |_, a| {
            judge("clone3(CLONE_INTO_CGROUP)", &a[0], "ENOSYS", None)
        }),
    ]
}

fn privilege_probes() -> Vec<Probe> {
    const C: &str = "capabilities and set-uid";
    vec![
        batched!(
            "no-capabilities",
            C,
            Layout::Repo,
            |_| vec![ops1("status", &["CapEff"]), ops1("status", &["CapPrm"]), ops1("status", &["NoNewPrivs"])],
            |_, a| {
                judge_all(
                    &[
                        ("CapEff", &a[0], "CapEff=0000000000000000"),
                        ("CapPrm", &a[1], "CapPrm=0000000000000000"),
                        ("NoNewPrivs", &a[2], "NoNewPrivs=1"),
                    ],
                    None,
                )
            }
        ),
        Probe {
            id: "setuid-root",
            class: C,
            applies: |c| c.user == User::Nobody,
            known_open: never_open,
            kind: Kind::Batched {
                layout: Layout::Repo,
                ops: |_| vec![ops1("setuid_root", &[])],
                // uid 0 is not mapped in the sandbox's user namespace; without one, the
                // capability is missing.
                judge: |f, a| judge("setuid(0)", &a[0], if f.column.no_userns() { "EPERM" } else { "EINVAL" }, None),
            },
        },
        Probe {
            id: "setuid-helper",
            class: C,
            applies: |c| c.user == User::Nobody,
            known_open: never_open,
            kind: Kind::Batched {
                layout: Layout::Repo,
                ops: |f| match &f.setuid_id {
                    Some((path, _)) => vec![ops1("run_euid", &[&p(path)])],
                    None => vec![ops1("status", &["CapEff"])],
                },
                judge: |f, a| match &f.setuid_id {
                    Some((_, outside)) if outside == "0" => {
                        let escaped = (a[0] == "EUID=0").then(|| "the set-uid helper ran with euid 0".to_owned());
                        judge("run a set-uid root copy of id (euid 0 outside)", &a[0], "EUID=65534", escaped)
                    }
                    Some((_, outside)) => {
                        Skip(format!("the set-uid copy gives euid {outside} outside the sandbox (nosuid /tmp?)"))
                    }
                    None => Skip("making a set-uid root helper needs root".into()),
                },
            },
        },
        batched!("open-by-handle", C, Layout::Repo, |_| vec![ops1("open_by_handle", &["/etc/hostname"])], |_, a| {
            judge("open_by_handle_at (CAP_DAC_READ_SEARCH)", &a[0], "EPERM", None)
        }),
        batched!("init-module", C, Layout::Repo, |_| vec![ops1("init_module", &[])], |_, a| {
            if !Path::new("/proc/modules").exists() {
                return NotApplicable("this kernel has no module support".into());
            }
            judge("init_module", &a[0], "EPERM", None)
        }),
        batched!("mknod-device", C, Layout::Repo, |f| vec![ops1("mknod_null", &[&p(&f.ws.join("null"))])], |f, a| {
            // Under a read-only policy Landlock refuses it before the capability check.
            let expected = if f.column.no_userns() { "EACCES" } else { "EPERM" };
            judge("mknod a character device", &a[0], expected, exists(&f.ws.join("null")))
        }),
    ]
}

/// Every set-id or capability-carrying object below `dir`, as the host sees it.
fn set_id_objects(dir: &Path) -> Option<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let Ok(m) = fs::symlink_metadata(&path) else { continue };
            let capability = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).is_ok_and(|c| {
                // SAFETY: NUL-terminated strings; a NULL buffer of size 0 asks for the size.
                unsafe { libc::lgetxattr(c.as_ptr(), c"security.capability".as_ptr(), std::ptr::null_mut(), 0) >= 0 }
            });
            if m.mode() & libc::S_ISUID != 0 || (m.mode() & libc::S_ISGID != 0 && !m.is_dir()) || capability {
                found.push(format!("{} (mode {:o}, owner {})", path.display(), m.mode() & 0o7777, m.uid()));
            }
            if m.is_dir() {
                pending.push(path);
            }
        }
    }
    (!found.is_empty()).then(|| format!("left in the workspace: {}", found.join(", ")))
}

/// Metadata calls that aim outside through what lies in a writable root — a symlink, a
/// read-only descriptor, a path swapped under a racing thread — and the set-id files and file
/// capabilities a command could leave inside one, in the `Writable` layout (a writable
/// workspace in every column, the landlock pipeline without user namespaces included).
fn writable_root_metadata_probes() -> Vec<Probe> {
    const C: &str = "metadata from the roots";
    vec![
        batched!(
            "metadata-via-symlink",
            C,
            Layout::Writable,
            |f| {
                let link = p(&f.plain.join("meta-link"));
                vec![
                    ops1("chmod", &[&link, "777"]),
                    ops1("utime", &[&link]),
                    ops1("setxattr", &[&link, "user.codex-escape"]),
                ]
            },
            |f, a| {
                let denied = f.column.metadata_denied();
                let evidence = metadata_changed(&f.outside.join("link.txt"));
                judge_all(&[("chmod", &a[0], denied), ("utime", &a[1], denied), ("setxattr", &a[2], denied)], evidence)
            }
        ),
        batched!(
            "metadata-via-read-only-fd",
            C,
            Layout::Writable,
            |f| {
                let target = p(&f.outside.join("fd.txt"));
                vec![
                    ops1("fchmod_ro", &[&target, "777"]),
                    ops1("futime_ro", &[&target]),
                    ops1("fsetxattr_ro", &[&target, "user.codex-escape"]),
                ]
            },
            |f, a| {
                let denied = f.column.metadata_denied();
                let evidence = metadata_changed(&f.outside.join("fd.txt"));
                judge_all(
                    &[("fchmod", &a[0], denied), ("futimens", &a[1], denied), ("fsetxattr", &a[2], denied)],
                    evidence,
                )
            }
        ),
        batched!(
            "metadata-path-race",
            C,
            Layout::Writable,
            |f| vec![ops1("metadata_race", &[&p(&f.plain.join("swap")), &p(&f.outside.join("race.txt")), "400"])],
            |f, a| {
                let evidence = metadata_changed(&f.outside.join("race.txt"));
                let seen: Vec<&str> = a[0].strip_prefix("SEEN=").unwrap_or_default().split(',').collect();
                let denied = f.column.metadata_denied();
                // Both objects were hit (the race alternated), and nothing else was answered.
                let alternated = seen.contains(&"OK") && seen.contains(&denied);
                let expected = seen.iter().all(|s| ["OK", denied, "ENOENT"].contains(s));
                match evidence {
                    Some(evidence) => Escaped(format!("{}: {evidence}", a[0])),
                    None if alternated && expected => Held(format!("racing chmod/utime/setxattr: {}", a[0])),
                    None => Unexpected(format!("racing chmod/utime/setxattr: {}, expected OK and {denied}", a[0])),
                }
            }
        ),
        batched!(
            "set-id-file-in-workspace",
            C,
            Layout::Writable,
            |f| {
                let at = |name: &str| p(&f.plain.join(name));
                vec![
                    ops1("create_mode", &[&at("suid-created"), "4755"]),
                    ops1("create_mode", &[&at("sgid-created"), "2755"]),
                    ops1("mknod_mode", &[&at("suid-mknod"), "104755"]),
                    ops1("openat2_create", &[&at("suid-openat2"), "4755"]),
                    ops1("chmod", &[&at("tool.sh"), "4755"]),
                    ops1("chmod", &[&at("tool.sh"), "755"]),
                ]
            },
            |f, a| {
                let evidence = set_id_objects(&f.plain);
                let mode = fs::metadata(f.plain.join("tool.sh")).map(|m| m.mode() & 0o7777).unwrap_or_default();
                if evidence.is_none() && mode != 0o755 {
                    return Unexpected(format!("chmod +x inside left mode {mode:o}"));
                }
                judge_all(
                    &[
                        ("open(O_CREAT, 04755)", &a[0], "EPERM"),
                        ("open(O_CREAT, 02755)", &a[1], "EPERM"),
                        ("mknod(S_IFREG|04755)", &a[2], "EPERM"),
                        ("openat2", &a[3], "ENOSYS"),
                        ("chmod u+s", &a[4], "EPERM"),
                        ("chmod +x", &a[5], "OK"),
                    ],
                    evidence,
                )
            }
        ),
        batched!(
            "file-capability-in-workspace",
            C,
            Layout::Writable,
            |f| vec![ops1("set_file_capability", &[&p(&f.plain.join("tool.sh"))])],
            |f, a| judge("setxattr security.capability (CAP_SETUID)", &a[0], "EPERM", set_id_objects(&f.plain))
        ),
    ]
}

fn process_probes() -> Vec<Probe> {
    const C: &str = "host processes";
    vec![
        batched!(
            "ptrace-attach",
            C,
            Layout::Repo,
            |f| vec![ops1("ptrace_attach", &[&f.victim.pid.to_string()])],
            |f, a| {
                let (nofile, nice) = (f.victim.nofile_limit(), f.victim.nice());
                judge("PTRACE_ATTACH a host process", &a[0], "EPERM", f.victim.harmed(&nofile, &nice))
            }
        ),
        batched!(
            "proc-mem-write",
            C,
            Layout::Repo,
            |f| vec![ops1("open_rw", &[&format!("/proc/{}/mem", f.victim.pid)])],
            |f, a| {
                let (nofile, nice) = (f.victim.nofile_limit(), f.victim.nice());
                // Not in the sandbox's own /proc, or, without one, Landlock's ptrace restriction.
                let expected = if f.column.no_userns() { "EACCES" } else { "ENOENT" };
                judge("open /proc/<host pid>/mem read-write", &a[0], expected, f.victim.harmed(&nofile, &nice))
            }
        ),
        batched!(
            "proc-environ",
            C,
            Layout::Repo,
            |f| vec![ops1("read_contains", &[&format!("/proc/{}/environ", f.victim.pid), &f.victim.secret])],
            |f, a| {
                let escaped = (a[0] == "FOUND").then(|| "the host process's secret environment was read".to_owned());
                // Not in the sandbox's own /proc, or, without one, Landlock's ptrace restriction.
                let expected = if f.column.no_userns() { "EACCES" } else { "ENOENT" };
                judge("read /proc/<host pid>/environ", &a[0], expected, escaped)
            }
        ),
        batched!(
            "process-vm-readv",
            C,
            Layout::Repo,
            |f| vec![ops1("process_vm_readv", &[&f.victim.pid.to_string()])],
            |_, a| { judge("process_vm_readv a host process", &a[0], "EPERM", None) }
        ),
        batched!(
            "pidfd-getfd",
            C,
            Layout::Repo,
            |f| vec![ops1("pidfd_getfd", &[&f.victim.pid.to_string(), "3"])],
            |f, a| {
                let escaped = (a[0] == "OK").then(|| "took a descriptor of a host process".to_owned());
                judge("pidfd_getfd from a host process", &a[0], f.column.unseen("EPERM"), escaped)
            }
        ),
        batched!(
            "kill-host-process",
            C,
            Layout::Repo,
            |f| vec![ops1("kill", &[&f.victim.pid.to_string(), "9"])],
            |f, a| {
                let (nofile, nice) = (f.victim.nofile_limit(), f.victim.nice());
                std::thread::sleep(Duration::from_millis(50));
                judge("SIGKILL a host process", &a[0], f.column.unseen("EPERM"), f.victim.harmed(&nofile, &nice))
            }
        ),
        batched!(
            "kill-host-group",
            C,
            Layout::Repo,
            |f| vec![ops1("killpg", &[&f.victim.pid.to_string(), "9"])],
            |f, a| {
                let (nofile, nice) = (f.victim.nofile_limit(), f.victim.nice());
                std::thread::sleep(Duration::from_millis(50));
                judge("SIGKILL a host process group", &a[0], f.column.unseen("EPERM"), f.victim.harmed(&nofile, &nice))
            }
        ),
        Probe {
            id: "prlimit-host-process",
            class: C,
            applies: everywhere,
            known_open: never_open,
            kind: Kind::Batched {
                layout: Layout::Repo,
                ops: |f| vec![ops1("prlimit_nofile", &[&f.victim.pid.to_string(), "17"])],
                judge: |f, a| {
                    let escaped = f.victim.nofile_limit().split_whitespace().nth(3).is_some_and(|soft| soft == "17");
                    let evidence = escaped.then(|| "the host process's open-files limit is now 17".to_owned());
                    judge("prlimit64 on a host process", &a[0], self_only(&f.column), evidence)
                },
            },
        },
        Probe {
            id: "setpriority-host-process",
            class: C,
            applies: everywhere,
            known_open: never_open,
            kind: Kind::Batched {
                layout: Layout::Repo,
                ops: |f| vec![ops1("setpriority", &[&f.victim.pid.to_string(), "19"])],
                judge: |f, a| {
                    let evidence =
                        (f.victim.nice() == "19").then(|| "the host process's nice value is now 19".to_owned());
                    judge("setpriority on a host process", &a[0], self_only(&f.column), evidence)
                },
            },
        },
        Probe {
            id: "setaffinity-host-process",
            class: C,
            applies: everywhere,
            known_open: never_open,
            kind: Kind::Batched {
                layout: Layout::Repo,
                ops: |f| vec![ops1("setaffinity", &[&f.victim.pid.to_string(), "0"])],
                judge: |f, a| {
                    let allowed = f.victim.status("Cpus_allowed_list");
                    let all = fs::read_to_string("/proc/self/status")
                        .unwrap_or_default()
                        .lines()
                        .find_map(|l| l.strip_prefix("Cpus_allowed_list:").map(|v| v.trim().to_owned()))
                        .unwrap_or_default();
                    let evidence = (allowed != all)
                        .then(|| format!("the host process may now run only on CPUs {allowed} (was {all})"));
                    judge("sched_setaffinity on a host process", &a[0], self_only(&f.column), evidence)
                },
            },
        },
        Probe {
            id: "orphan-outlives-run",
            class: C,
            applies: everywhere,
            known_open: never_open,
            kind: Kind::Batched {
                layout: Layout::Repo,
                ops: |f| vec![ops1("orphan", &[&f.orphan_tag])],
                judge: |f, a| {
                    let survivors = processes_with_argument(&f.orphan_tag);
                    for pid in &survivors {
                        // SAFETY: a pid we found running our own tagged sleep.
                        unsafe { libc::kill(*pid, libc::SIGKILL) };
                    }
                    let evidence =
                        (!survivors.is_empty()).then(|| format!("process {survivors:?} is alive after the run"));
                    judge("double-forked process after the run", &a[0], "OK", evidence)
                },
            },
        },
        Probe {
            id: "orphan-writes-after-run",
            class: C,
            applies: everywhere,
            known_open: never_open,
            kind: Kind::Batched {
                layout: Layout::Repo,
                ops: |f| vec![ops1("orphan_later", &[&p(&f.ws)])],
                judge: |f, a| {
                    // The orphan writes a second after it was forked; give it half a second more.
                    std::thread::sleep(Duration::from_millis(1500));
                    // `repo/ws` is a repository already (its `.git` is read-only in the sandbox);
                    // `.codex` is missing, protected by a placeholder that the run removes.
                    let evidence = [".codex", "orphan-marker"]
                        .into_iter()
                        .fold(None, |evidence, name| either(evidence, exists(&f.ws.join(name))));
                    judge("a process of the run writing a second after it ended", &a[0], "OK", evidence)
                },
            },
        },
        Probe {
            id: "process-budget",
            class: C,
            applies: everywhere,
            // Counted in the sandbox's own user namespace, or (for root, whom RLIMIT_NPROC
            // exempts, and wherever that cannot count the sandbox apart) a pids cgroup of the
            // run's own: open where neither can be had (the landlock pipeline without user
            // namespaces; an installed bwrap, whose launcher shares the host's user namespace),
            // for an unprivileged user without a delegated cgroup.
            known_open: |c| {
                let rlimit_counts = !c.root() && !c.no_userns() && c.pipeline != Pipeline::SystemBwrap;
                (!rlimit_counts && !pids_cgroup_available(c.user)).then_some(PROCESS_BUDGET)
            },
            kind: Kind::Batched {
                layout: Layout::Repo,
                ops: |_| vec![ops1("nproc_budget", &[]), ops1("pids_cgroup", &[])],
                judge: |f, a| {
                    // Where RLIMIT_NPROC cannot count the run apart its budget is a pids cgroup
                    // of its own, which this probe (reading rlimits) cannot see;
                    // process-budget-fork shows it holding.
                    let rlimit_counts =
                        !f.column.root() && !f.column.no_userns() && f.column.pipeline != Pipeline::SystemBwrap;
                    if a[1] == "CGROUP=own" || (!rlimit_counts && pids_cgroup_available(f.column.user)) {
                        return NotApplicable(format!("the budget is the run's own pids cgroup ({})", a[1]));
                    }
                    // Not a fork bomb (other builders share this machine): the limit the
                    // command runs under, compared with what the launching user has anyway.
                    let own = fs::read_to_string("/proc/self/limits")
                        .unwrap_or_default()
                        .lines()
                        .find(|l| l.starts_with("Max processes"))
                        .and_then(|l| l.split_whitespace().nth(2).map(str::to_owned))
                        .unwrap_or_default();
                    let limit = a[0].trim_start_matches("NPROC=");
                    let unbounded = limit == "unlimited" || limit == own || f.column.root();
                    let evidence = unbounded.then(|| {
                        format!("the command may fork up to `{limit}` processes (the launcher's own limit is `{own}`; root ignores RLIMIT_NPROC)")
                    });
                    let answer = if unbounded { a[0].clone() } else { "NPROC=bounded".to_owned() };
                    judge("per-sandbox process budget", &answer, "NPROC=bounded", evidence)
                },
            },
        },
        Probe {
            // A real budget, asked for: a fork loop meets EAGAIN below it, or the run is
            // refused where no budget can be had; never an unbounded run.
            id: "process-budget-fork",
            class: C,
            applies: everywhere,
            known_open: never_open,
            kind: Kind::Own(budget_fork_probe),
        },
        Probe {
            // The wall clock ends every process of the run, a daemon in a session of its own
            // included, before the launcher reports (by host pid).
            id: "wall-clock-ends-the-tree",
            class: C,
            applies: everywhere,
            known_open: never_open,
            kind: Kind::Own(wall_clock_probe),
        },
        Probe {
            id: "sysv-shm",
            class: C,
            applies: everywhere,
            known_open: never_open,
            kind: Kind::Batched {
                layout: Layout::Repo,
                ops: |f| match &f.shm {
                    Some(shm) => vec![ops1("shm_write", &[&shm.key.to_string(), "escaped!"])],
                    None => vec![ops1("status", &["CapEff"])],
                },
                judge: |f, a| match &f.shm {
                    None => Skip("cannot create a System V segment on this host".into()),
                    Some(shm) => {
                        let now = shm.content();
                        let evidence = (now != ORIGINAL).then(|| format!("the host segment now holds {now:?}"));
                        judge(
                            "write a host System V segment",
                            &a[0],
                            if f.column.landlock() { "EPERM" } else { "ENOENT" },
                            evidence,
                        )
                    }
                },
            },
        },
    ]
}

/// The errno of a process call (`prlimit64`, `setpriority`, `sched_*`) naming a host pid: the
/// landlock pipeline's seccomp filter allows only pid 0 (the caller) and answers first; under
/// the namespace pipeline the pid does not exist in the sandbox.
fn self_only(column: &Column) -> &'static str {
    if column.landlock() { "EPERM" } else { "ESRCH" }
}

/// Processes whose command line contains `argument` (our tagged `sleep`).
fn processes_with_argument(argument: &str) -> Vec<i32> {
    std::thread::sleep(Duration::from_millis(300));
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if cmdline.split(|b| *b == 0).any(|part| part == argument.as_bytes()) {
            found.push(pid);
        }
    }
    found
}

fn terminal_and_fd_probes() -> Vec<Probe> {
    const C: &str = "terminals and descriptors";
    vec![
        Probe {
            id: "tiocsti-host-pty",
            class: C,
            applies: everywhere,
            known_open: never_open,
            kind: Kind::Own(tiocsti_probe),
        },
        Probe {
            id: "inherited-fds",
            class: C,
            applies: everywhere,
            known_open: never_open,
            kind: Kind::Own(inherited_fd_probe),
        },
        Probe {
            id: "other-pty-read",
            class: C,
            applies: everywhere,
            known_open: never_open,
            kind: Kind::Batched {
                layout: Layout::Repo,
                ops: |f| match &f.pty {
                    Some(pty) => vec![ops1("pty_read", &[&p(&pty.path)])],
                    None => vec![ops1("status", &["CapEff"])],
                },
                judge: |f, a| match &f.pty {
                    None => Skip("openpty failed on this host".into()),
                    Some(_) => {
                        let evidence =
                            a[0].contains(TYPED_SECRET).then(|| "read another terminal's typed input".to_owned());
                        judge(
                            "read another session's pty",
                            &a[0],
                            if f.column.landlock() { "EACCES" } else { "ENOENT" },
                            evidence,
                        )
                    }
                },
            },
        },
        Probe {
            id: "vcs-read",
            class: C,
            applies: everywhere,
            known_open: never_open,
            kind: Kind::Batched {
                layout: Layout::Repo,
                ops: |_| vec![ops1("read_contains", &["/dev/vcs1", "\u{1}"])],
                judge: |f, a| {
                    if !Path::new("/dev/vcs1").exists() {
                        return NotApplicable("no /dev/vcs1 on this host".into());
                    }
                    let escaped = a[0].ends_with("FOUND").then(|| "read the console's screen memory".to_owned());
                    // 0600 root: refused to 65534 by its mode, to root only by the view.
                    let expected = if f.column.landlock() { "EACCES" } else { "ENOENT" };
                    judge("read /dev/vcs1", &a[0], expected, escaped)
                },
            },
        },
    ]
}

/// The command's stdin is a host pty; TIOCSTI and TIOCLINUX on it are refused and nothing is
/// injected into the terminal's input.
fn tiocsti_probe(f: &mut Fixture) -> Verdict {
    let Some(pty) = Pty::open(f.column.user) else { return Skip("openpty failed on this host".into()) };
    // Drain the typed line Pty::open queued, so anything pending afterwards was injected.
    let mut buf = [0u8; 256];
    // SAFETY: reads into a live buffer from a descriptor we own.
    unsafe { libc::read(pty.slave.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    let before = Pty::pending(pty.slave.as_raw_fd());
    let ops = json!([["ioctl_terminal", "0", libc::TIOCSTI.to_string()], ["ioctl_terminal", "0", "21532"]]);
    let (cwd, policy) = Layout::Repo.cwd_and_policy(f);
    let mut command = f.run(&cwd, &policy).probe_command(&probe_argv(&ops));
    command.stdin(Stdio::from(pty.slave.try_clone().unwrap()));
    let output = command.output().unwrap();
    let answers = answers(&output);
    if answers.len() != 2 {
        return Unexpected(format!("probe said {answers:?}: {}", common::stderr(&output)));
    }
    let after = Pty::pending(pty.slave.as_raw_fd());
    let evidence =
        (after != before).then(|| format!("{} bytes were injected into the host terminal's input", after - before));
    drop(pty.master);
    judge_all(&[("TIOCSTI", &answers[0], "EPERM"), ("TIOCLINUX", &answers[1], "EPERM")], evidence)
}

/// Descriptors the launcher leaked (no close-on-exec) do not reach the command.
fn inherited_fd_probe(f: &mut Fixture) -> Verdict {
    const FILE_FD: RawFd = 200;
    const SOCKET_FD: RawFd = 201;
    let file = fs::OpenOptions::new().append(true).open(&f.victim_file).unwrap();
    let (mine, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    mine.set_nonblocking(true).unwrap();
    // SAFETY: dup2 onto numbers this program does not use; the copies lack FD_CLOEXEC.
    unsafe {
        libc::dup2(file.as_raw_fd(), FILE_FD);
        libc::dup2(theirs.as_raw_fd(), SOCKET_FD);
    }
    let ops = json!([["fd_write", FILE_FD.to_string()], ["fd_write", SOCKET_FD.to_string()], ["open_fds"]]);
    let (cwd, policy) = Layout::Repo.cwd_and_policy(f);
    let output = f.run(&cwd, &policy).run_probe(&probe_argv(&ops));
    // SAFETY: closes the two copies made above.
    unsafe {
        libc::close(FILE_FD);
        libc::close(SOCKET_FD);
    }
    let answers = answers(&output);
    if answers.len() != 3 {
        return Unexpected(format!("probe said {answers:?}: {}", common::stderr(&output)));
    }
    let mut buf = [0u8; 64];
    let received = (&mine).read(&mut buf).is_ok_and(|n| n > 0);
    let evidence = either(
        changed(&f.victim_file, ORIGINAL),
        received.then(|| "the host end of the leaked socket received data".into()),
    );
    // The probe's own pipe to its parent is the one descriptor the forked operation holds.
    let fds = answers[2].trim_start_matches("FDS=");
    let leaked = fds.split(',').any(|fd| fd == FILE_FD.to_string() || fd == SOCKET_FD.to_string());
    let evidence = either(evidence, leaked.then(|| format!("descriptors {fds} are open in the command")));
    judge_all(
        &[("write to leaked file fd", &answers[0], "EBADF"), ("write to leaked socket fd", &answers[1], "EBADF")],
        evidence,
    )
}

fn socket_probes() -> Vec<Probe> {
    const C: &str = "sockets";
    vec![
        Probe {
            id: "socket-families-restricted",
            class: C,
            applies: |c| !c.full(),
            known_open: never_open,
            kind: Kind::Batched {
                layout: Layout::Repo,
                ops: |_| {
                    let mut ops = Vec::new();
                    for family in 0..46 {
                        for kind in [libc::SOCK_STREAM, libc::SOCK_DGRAM, libc::SOCK_RAW, libc::SOCK_SEQPACKET] {
                            ops.push(ops1("socket", &[&family.to_string(), &kind.to_string()]));
                        }
                    }
                    ops
                },
                judge: |_, a| {
                    let mut wrong = Vec::new();
                    let mut index = 0;
                    for family in 0..46 {
                        for kind in [libc::SOCK_STREAM, libc::SOCK_DGRAM, libc::SOCK_RAW, libc::SOCK_SEQPACKET] {
                            // Unix sockets: none, so not even AF_UNIX (socketpairs are
                            // checked by socketpairs-work).
                            let expected = "EPERM";
                            if a[index] != expected {
                                wrong.push(format!("socket({family}, {kind}) = {} (expected {expected})", a[index]));
                            }
                            index += 1;
                        }
                    }
                    let escaped = wrong.iter().any(|w| w.contains("= OK")).then(|| "a socket was opened".to_owned());
                    match (escaped, wrong.is_empty()) {
                        (Some(e), _) => Escaped(format!("{e}: {}", wrong.join("; "))),
                        (None, true) => Held(format!("{} socket() calls, AF_UNIX included: all EPERM", index)),
                        (None, false) => Unexpected(wrong.join("; ")),
                    }
                },
            },
        },
        Probe {
            id: "socket-packet-vsock-full",
            class: C,
            applies: |c| c.full(),
            known_open: never_open,
            kind: Kind::Batched {
                layout: Layout::Repo,
                ops: |_| {
                    vec![
                        ops1("socket", &[&libc::AF_PACKET.to_string(), &libc::SOCK_RAW.to_string()]),
                        ops1("socket", &[&libc::AF_PACKET.to_string(), &libc::SOCK_DGRAM.to_string()]),
                        ops1("socket", &[&libc::AF_INET.to_string(), "10"]),
                        ops1("socket", &[&libc::AF_VSOCK.to_string(), &libc::SOCK_STREAM.to_string()]),
                    ]
                },
                judge: |_, a| {
                    judge_all(
                        &[
                            ("AF_PACKET raw", &a[0], "EPERM"),
                            ("AF_PACKET dgram", &a[1], "EPERM"),
                            ("SOCK_PACKET", &a[2], "EPERM"),
                            ("AF_VSOCK", &a[3], "EPERM"),
                        ],
                        None,
                    )
                },
            },
        },
        Probe {
            id: "tcp-loopback-restricted",
            class: C,
            applies: |c| !c.full(),
            known_open: never_open,
            kind: Kind::Batched {
                layout: Layout::Repo,
                ops: |f| vec![ops1("tcp_connect", &["127.0.0.1", &f.tcp.local_addr().unwrap().port().to_string()])],
                judge: |f, a| judge("TCP to a host loopback listener", &a[0], "EPERM", f.reached(Listener::Tcp)),
            },
        },
        Probe {
            id: "tcp6-loopback-restricted",
            class: C,
            applies: |c| !c.full(),
            known_open: never_open,
            kind: Kind::Batched {
                layout: Layout::Repo,
                ops: |f| match &f.tcp6 {
                    Some(l) => vec![ops1("tcp_connect", &["::1", &l.local_addr().unwrap().port().to_string()])],
                    None => vec![ops1("status", &["CapEff"])],
                },
                judge: |f, a| match f.tcp6 {
                    None => Skip("no ::1 on this host".into()),
                    Some(_) => judge("TCP to a host ::1 listener", &a[0], "EPERM", f.reached(Listener::Tcp6)),
                },
            },
        },
        Probe {
            id: "udp-loopback-restricted",
            class: C,
            applies: |c| !c.full(),
            known_open: never_open,
            kind: Kind::Batched {
                layout: Layout::Repo,
                ops: |f| vec![ops1("udp_send", &["127.0.0.1", &f.udp.local_addr().unwrap().port().to_string()])],
                judge: |f, a| judge("UDP to a host loopback socket", &a[0], "EPERM", f.reached(Listener::Udp)),
            },
        },
        Probe {
            id: "unix-host-socket-restricted",
            class: C,
            applies: |c| !c.full(),
            known_open: never_open,
            kind: Kind::Batched {
                layout: Layout::Repo,
                ops: |f| vec![ops1("unix_connect", &[&p(&f.unix_path)])],
                judge: |f, a| judge("connect to a host unix socket", &a[0], "EPERM", f.reached(Listener::Unix)),
            },
        },
        Probe {
            id: "unix-host-socket-full",
            class: C,
            applies: |c| c.full(),
            known_open: never_open,
            kind: Kind::Batched {
                layout: Layout::Repo,
                // socket(AF_UNIX) is refused whatever the network mode (unix sockets: none).
                ops: |f| vec![ops1("unix_connect", &[&p(&f.unix_path)])],
                judge: |f, a| {
                    judge("connect to a host unix socket (any name)", &a[0], "EPERM", f.reached(Listener::Unix))
                },
            },
        },
        Probe {
            id: "unix-host-dgram",
            class: C,
            applies: everywhere,
            known_open: never_open,
            kind: Kind::Batched {
                layout: Layout::Repo,
                ops: |f| vec![ops1("unix_dgram_send", &[&p(&f.dgram_path)])],
                judge: |f, a| judge("send to a host unix datagram socket", &a[0], "EPERM", f.reached(Listener::Dgram)),
            },
        },
        Probe {
            id: "abstract-unix-socket",
            class: C,
            applies: everywhere,
            // Refused by seccomp on every pipeline (a system bwrap has no Landlock scope, and
            // full network shares the host's network namespace).
            known_open: never_open,
            kind: Kind::Batched {
                layout: Layout::Repo,
                ops: |f| vec![ops1("abstract_connect", &[&f.abstract_name])],
                judge: |f, a| {
                    judge("connect to a host abstract unix socket", &a[0], "EPERM", f.reached(Listener::Abstract))
                },
            },
        },
        Probe {
            id: "socketpairs-work",
            class: C,
            applies: everywhere,
            known_open: never_open,
            kind: Kind::Batched {
                layout: Layout::Repo,
                ops: |_| vec![ops1("socketpairs", &[])],
                judge: |_, a| judge("stream, seqpacket and datagram socketpairs", &a[0], "PAIRS=OK,OK,EPERM", None),
            },
        },
        Probe {
            id: "socketpair-reconnect",
            class: C,
            applies: everywhere,
            known_open: never_open,
            kind: Kind::Batched {
                layout: Layout::Repo,
                ops: |f| {
                    let path = p(&f.unix_path);
                    let (stream, seqpacket) = (libc::SOCK_STREAM.to_string(), libc::SOCK_SEQPACKET.to_string());
                    vec![
                        ops1("socketpair_connect", &[&path, &stream, "0"]),
                        ops1("socketpair_connect", &[&path, &stream, "1"]),
                        ops1("socketpair_connect", &[&p(&f.seqpacket_path), &seqpacket, "1"]),
                        ops1("socketpair_sendto", &[&path]),
                    ]
                },
                judge: |f, a| {
                    // Restricted mode refuses connect and an addressed sendto outright; with
                    // full network the kernel refuses a connected pair's new connect.
                    let expected = if f.column.full() { "EISCONN" } else { "EPERM" };
                    judge_all(
                        &[
                            ("connect a socketpair end to a host socket", &a[0], expected),
                            ("... once its peer is closed", &a[1], expected),
                            ("... a seqpacket one", &a[2], expected),
                            ("sendto a host socket from a stream pair", &a[3], expected),
                        ],
                        either(f.reached(Listener::Unix), f.reached(Listener::Seqpacket)),
                    )
                },
            },
        },
        Probe {
            id: "unix-path-not-granted",
            class: C,
            applies: everywhere,
            known_open: never_open,
            kind: Kind::Own(unix_path_not_granted_probe),
        },
        Probe {
            id: "unix-granted-reaches",
            class: C,
            applies: everywhere,
            known_open: never_open,
            kind: Kind::Own(unix_granted_reaches_probe),
        },
        Probe {
            id: "unix-grant-symlink",
            class: C,
            applies: everywhere,
            known_open: never_open,
            kind: Kind::Own(unix_grant_symlink_probe),
        },
        Probe {
            id: "unix-grant-race",
            class: C,
            applies: brokered,
            known_open: never_open,
            kind: Kind::Own(unix_grant_race_probe),
        },
        Probe {
            id: "unix-grant-own-listener",
            class: C,
            applies: brokered,
            known_open: never_open,
            kind: Kind::Own(unix_grant_own_listener_probe),
        },
        Probe {
            id: "unix-grant-abstract-listen",
            class: C,
            applies: brokered,
            known_open: never_open,
            kind: Kind::Own(unix_grant_abstract_listen_probe),
        },
        Probe {
            id: "unix-all-reaches",
            class: C,
            applies: everywhere,
            known_open: never_open,
            kind: Kind::Own(unix_all_reaches_probe),
        },
    ]
}

/// The positive control of the unix probes: with `--unix-sockets all` the same connect reaches
/// the same host listener, so its "got nothing" above is evidence, not a listener that could
/// never have seen anything.
fn unix_all_reaches_probe(f: &mut Fixture) -> Verdict {
    let ops = json!([["unix_connect", p(&f.unix_path)]]);
    let (cwd, policy) = Layout::Repo.cwd_and_policy(f);
    let output = f.run(&cwd, &policy).arg("--unix-sockets=all").run_probe(&probe_argv(&ops));
    let answers = answers(&output);
    let reached = f.reached(Listener::Unix).is_some();
    match answers.first().map(String::as_str) {
        Some("OK") if reached => Held("granted `all`: the connect reached the host listener".into()),
        answer => Unexpected(format!(
            "with --unix-sockets all the connect gave {answer:?} and the listener {}: {}",
            if reached { "accepted it" } else { "got nothing" },
            common::stderr(&output).trim()
        )),
    }
}

/// Whether the connect broker grants paths in this column (not under an installed bwrap,
/// which runs no init of ours).
fn brokered(column: &Column) -> bool {
    column.pipeline != Pipeline::SystemBwrap
}

/// A run of the probe operations `ops` in the repository layout with `--allow-unix-socket
/// grant`; its answers and stderr.
fn granted_run(f: &mut Fixture, grant: &Path, ops: &Value) -> (Vec<String>, String) {
    let (cwd, policy) = Layout::Repo.cwd_and_policy(f);
    let run = f.run(&cwd, &policy).arg("--allow-unix-socket").arg(p(grant));
    let output = run.run_probe(&probe_argv(ops));
    (answers(&output), common::stderr(&output))
}

/// Another socket is granted (the seqpacket listener); a connect to the stream listener, not
/// granted, fails (EACCES from the broker; EPERM where nothing is granted: an installed bwrap,
/// which also warns) and the listener gets nothing.
fn unix_path_not_granted_probe(f: &mut Fixture) -> Verdict {
    let grant = f.seqpacket_path.clone();
    let (answers, stderr) = granted_run(f, &grant, &json!([["unix_connect", p(&f.unix_path)]]));
    let Some(answer) = answers.first() else {
        return Unexpected(format!("probe said nothing: {stderr}"));
    };
    let expected = if brokered(&f.column) { "EACCES" } else { "EPERM" };
    let warned = stderr.contains(&format!("unix socket `{}` is not granted", p(&grant)));
    match judge("connect to a unix socket not granted (another is)", answer, expected, f.reached(Listener::Unix)) {
        Held(d) if warned == brokered(&f.column) => Unexpected(format!("{d}, but the not-granted warning is {warned}")),
        verdict => verdict,
    }
}

/// The positive control of the broker: the granted socket itself is reached (through the
/// broker), so the refusals around it are the broker's check, not a connect that never works.
fn unix_granted_reaches_probe(f: &mut Fixture) -> Verdict {
    let grant = f.unix_path.clone();
    let (answers, stderr) = granted_run(f, &grant, &json!([["unix_connect", p(&grant)]]));
    let reached = f.reached(Listener::Unix).is_some();
    match (answers.first().map(String::as_str), brokered(&f.column)) {
        (Some("OK"), true) if reached => Held("granted: the connect reached the granted host listener".into()),
        (Some("EPERM"), false) if !reached => Held("an installed bwrap grants no path: EPERM, nothing reached".into()),
        (answer, _) => Unexpected(format!(
            "granting the socket gave {answer:?} and the listener {}: {}",
            if reached { "accepted it" } else { "got nothing" },
            stderr.trim()
        )),
    }
}

/// A symlink planted in the workspace to the socket not granted: the broker resolves it
/// itself and finds the wrong inode.
fn unix_grant_symlink_probe(f: &mut Fixture) -> Verdict {
    let link = f.ws.join("escape-broker-link.sock");
    let _ = fs::remove_file(&link);
    std::os::unix::fs::symlink(&f.unix_path, &link).unwrap();
    let grant = f.seqpacket_path.clone();
    let ops = json!([["unix_connect", "escape-broker-link.sock"], ["unix_connect", p(&link)]]);
    let (answers, stderr) = granted_run(f, &grant, &ops);
    let _ = fs::remove_file(&link);
    if answers.len() < 2 {
        return Unexpected(format!("probe said too little: {stderr}"));
    }
    let expected = if brokered(&f.column) { "EACCES" } else { "EPERM" };
    judge_all(
        &[
            ("connect through a relative symlink in the workspace to a socket not granted", &answers[0], expected),
            ("... through its absolute path", &answers[1], expected),
        ],
        f.reached(Listener::Unix),
    )
}

/// A thread swaps what the descriptor number is and rewrites the address while another
/// connects: the socket not granted is never reached, while the granted one is.
fn unix_grant_race_probe(f: &mut Fixture) -> Verdict {
    let grant = f.seqpacket_path.clone();
    let ops = json!([["unix_connect_race", p(&grant), p(&f.unix_path), "300"]]);
    let (answers, stderr) = granted_run(f, &grant, &ops);
    let Some(answer) = answers.first() else {
        return Unexpected(format!("probe said nothing: {stderr}"));
    };
    if let Some(evidence) = f.reached(Listener::Unix) {
        return Escaped(format!("racing connects {answer}; {evidence}"));
    }
    let _ = f.reached(Listener::Seqpacket);
    if answer.contains("OK:") && answer.contains("EACCES:") {
        Held(format!("racing connects {answer}: the granted socket only"))
    } else {
        Unexpected(format!("racing connects {answer}: expected some granted (OK) and some refused (EACCES)"))
    }
}

/// With paths granted the command may make unix stream sockets; one bound to an abstract name
/// may not listen (in the host's network namespace a host client of that name would reach the
/// sandbox). Restricted mode refuses the bind already.
fn unix_grant_abstract_listen_probe(f: &mut Fixture) -> Verdict {
    let grant = f.seqpacket_path.clone();
    let name = format!("{}-squat", f.abstract_name);
    let (answers, stderr) = granted_run(f, &grant, &json!([["abstract_listen", name]]));
    let Some(answer) = answers.first() else {
        return Unexpected(format!("probe said nothing: {stderr}"));
    };
    let expected = if f.column.full() { "EACCES" } else { "EPERM" };
    judge("listen on a unix socket bound to an abstract name", answer, expected, None)
}

/// A filter of the command's own with a listener of its own for `connect` (whose answer
/// CONTINUE would skip the broker): refused by the sandbox's filter (EPERM; while init holds
/// its listener the kernel would refuse a second one anyway, EBUSY, but not once init is gone).
fn unix_grant_own_listener_probe(f: &mut Fixture) -> Verdict {
    let grant = f.seqpacket_path.clone();
    let (answers, stderr) =
        granted_run(f, &grant, &json!([["own_connect_listener"], ["unix_connect", p(&f.unix_path)]]));
    if answers.len() < 2 {
        return Unexpected(format!("probe said too little: {stderr}"));
    }
    judge_all(
        &[
            ("install a seccomp listener of its own for connect", &answers[0], "EPERM"),
            ("connect to the socket not granted", &answers[1], "EACCES"),
        ],
        f.reached(Listener::Unix),
    )
}

fn kernel_surface_probes() -> Vec<Probe> {
    const C: &str = "kernel surfaces";
    let mut probes = vec![
        batched!("io-uring", C, Layout::Repo, |_| vec![ops1("io_uring_setup", &[])], |_, a| judge(
            "io_uring_setup",
            &a[0],
            "EPERM",
            None
        )),
        Probe {
            id: "keyring-secret",
            class: C,
            applies: everywhere,
            known_open: never_open,
            kind: Kind::Own(keyring_probe),
        },
        batched!(
            "perf-event-open",
            C,
            Layout::Repo,
            |f| vec![ops1("perf_open", &[&f.victim.pid.to_string()])],
            |_, a| { judge("perf_event_open on a host process", &a[0], "EPERM", None) }
        ),
        batched!("userfaultfd", C, Layout::Repo, |_| vec![ops1("userfaultfd", &[])], |_, a| judge(
            "userfaultfd",
            &a[0],
            "EPERM",
            None
        )),
        batched!("bpf", C, Layout::Repo, |_| vec![ops1("bpf_map_create", &[])], |_, a| judge(
            "bpf(BPF_MAP_CREATE)",
            &a[0],
            "EPERM",
            None
        )),
        batched!("sethostname", C, Layout::Repo, |_| vec![ops1("sethostname_same", &[])], |_, a| {
            judge("sethostname (to its current name)", &a[0], "EPERM", hostname_changed())
        }),
        batched!(
            "proc-sys-hostname",
            C,
            Layout::Repo,
            |_| vec![ops1("write_same", &["/proc/sys/kernel/hostname"]), ops1("readlink", &["/proc/self/ns/uts"])],
            |f, a| {
                // Root under a system bwrap may write it: its own UTS namespace's name. In
                // the host's UTS namespace a successful write is an escape, even of the same
                // value.
                let host_uts =
                    fs::read_link("/proc/self/ns/uts").map(|l| format!("LINK={}", l.display())).unwrap_or_default();
                let shared = a[0] == "OK" && a[1] == host_uts;
                let evidence = either(hostname_changed(), shared.then(|| "wrote the host's UTS namespace".to_owned()));
                // Its own UTS namespace's name, but /proc/sys is read-only under the namespaces
                // (and in the landlock pipeline's read-only view); Landlock refuses it without.
                let expected = if f.column.no_userns() { "EACCES" } else { "EROFS" };
                judge("write /proc/sys/kernel/hostname (its current value)", &a[0], expected, evidence)
            }
        ),
    ];
    let files: [(&'static str, Ops, Judge); 4] = [
        (
            "proc-sys-drop-caches",
            |_| vec![ops1("open_write", &["/proc/sys/vm/drop_caches"])],
            |f, a| proc_file(f, a, "/proc/sys/vm/drop_caches"),
        ),
        (
            "proc-sys-core-pattern",
            |_| vec![ops1("open_write", &["/proc/sys/kernel/core_pattern"])],
            |f, a| proc_file(f, a, "/proc/sys/kernel/core_pattern"),
        ),
        (
            "proc-sysrq-trigger",
            |_| vec![ops1("open_write", &["/proc/sysrq-trigger"])],
            |f, a| proc_file(f, a, "/proc/sysrq-trigger"),
        ),
        (
            "sys-write",
            |_| vec![ops1("open_write", &["/sys/kernel/mm/transparent_hugepage/enabled"])],
            |f, a| proc_file(f, a, "/sys/kernel/mm/transparent_hugepage/enabled"),
        ),
    ];
    for (id, ops, judge) in files {
        probes.push(Probe {
            id,
            class: C,
            applies: everywhere,
            known_open: never_open,
            kind: Kind::Batched { layout: Layout::Repo, ops, judge },
        });
    }
    probes
}

fn hostname_changed() -> Option<String> {
    static ORIGINAL_HOSTNAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let now = fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let original = ORIGINAL_HOSTNAME.get_or_init(|| now.clone());
    (now != *original).then(|| format!("the host name is now {now:?}"))
}

/// Landlock refuses writes under `/proc` and `/sys`; in the namespace pipeline's fresh `/proc`
/// the host's tunables are not writable by a user namespace (EACCES). Its `/sys` is read-only:
/// a fresh read-only sysfs in the sandbox's network namespace (checked before the file's mode),
/// or, with full network, the host's bound read-only (checked after the mode, so 65534 hears
/// EACCES about a root-owned file).
fn kernel_file_denied(column: &Column, path: &str) -> &'static str {
    if column.pipeline == Pipeline::SystemBwrap && path.starts_with("/sys") && !column.full() {
        // With a network namespace of its own, the system bwrap executor's view has no
        // host /sys below /sys/kernel.
        return "ENOENT";
    }
    // The landlock pipeline's read-only view of the host's tree (where it has a user
    // namespace): the read-only mount is checked before Landlock.
    let landlock_view = column.landlock() && !column.no_userns();
    if path.starts_with("/proc") {
        if landlock_view {
            // The modes of root's tunables stop a non-root user first.
            return if column.root() { "EROFS" } else { "EACCES" };
        }
        // The files' modes stop a non-root user first; for root, the namespaces' read-only
        // /proc/sys binds, or Landlock on the host's /proc.
        return if column.root() && !column.landlock() { "EROFS" } else { "EACCES" };
    }
    if landlock_view {
        return if column.root() { "EROFS" } else { "EACCES" };
    }
    if column.landlock() || (column.full() && !column.root()) { "EACCES" } else { "EROFS" }
}

/// Opening a host kernel tunable for writing (nothing is written).
fn proc_file(f: &mut Fixture, a: &[String], path: &str) -> Verdict {
    if !Path::new(path).exists() {
        return NotApplicable(format!("no {path} on this host"));
    }
    let escaped = (a[0] == "OK").then(|| format!("{path} opened for writing"));
    judge(&format!("open {path} for writing"), &a[0], kernel_file_denied(&f.column, path), escaped)
}

/// A secret `user` key in the session keyring the sandbox is started with: neither readable
/// nor can keys be added. Outside the sandbox the same probe reads it.
fn keyring_probe(f: &mut Fixture) -> Verdict {
    let secret = format!("codex-keyring-secret-{}", std::process::id());
    let description = "codex-escape-key";
    let ops = json!([["keyring_read", description], ["keyring_add"], ["read_contains", "/proc/keys", &secret]]);
    let with_session_key = |command: &mut Command| {
        let secret = std::ffi::CString::new(secret.clone()).unwrap();
        // SAFETY: only system calls between fork and exec; the strings outlive the closure.
        unsafe {
            command.pre_exec(move || {
                if libc::syscall(libc::SYS_keyctl, 1, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let payload = secret.as_bytes();
                let id = libc::syscall(
                    libc::SYS_add_key,
                    c"user".as_ptr(),
                    c"codex-escape-key".as_ptr(),
                    payload.as_ptr(),
                    payload.len(),
                    -3,
                );
                if id < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    };
    // Outside: the probe reads the key (it can tell an escape when there is one).
    let mut outside = Command::new("/usr/bin/python3");
    outside.args(probe_argv(&ops)[1..].iter()).env_clear().stdin(Stdio::null());
    if f.column.user == User::Nobody {
        outside.uid(65534).gid(65534);
    }
    with_session_key(&mut outside);
    let baseline = match outside.output() {
        Ok(output) => answers(&output),
        Err(e) => return Skip(format!("cannot create a session keyring here: {e}")),
    };
    if baseline.first().map(String::as_str) != Some(&format!("READ={secret}")) {
        return Skip(format!("the keyring probe does not read its key outside the sandbox: {baseline:?}"));
    }
    let (cwd, policy) = Layout::Repo.cwd_and_policy(f);
    let mut command = f.run(&cwd, &policy).probe_command(&probe_argv(&ops));
    with_session_key(&mut command);
    let output = command.output().unwrap();
    let answers = answers(&output);
    if answers.len() != 3 {
        return Unexpected(format!("probe said {answers:?}: {}", common::stderr(&output)));
    }
    let evidence = (common::stdout(&output).contains(&secret)).then(|| "the session key's secret was read".to_owned());
    judge_all(
        &[
            ("keyctl search+read", &answers[0], "EPERM"),
            ("add_key", &answers[1], "EPERM"),
            ("/proc/keys", &answers[2], "NOTFOUND"),
        ],
        evidence,
    )
}

fn footgun_probes() -> Vec<Probe> {
    const C: &str = "launcher footguns";
    vec![
        Probe {
            id: "bwrap-path-relative",
            class: C,
            applies: |c| c.pipeline == Pipeline::Bwrap,
            known_open: never_open,
            kind: Kind::Own(relative_bwrap_probe),
        },
        Probe {
            id: "bwrap-path-writable",
            class: C,
            applies: |c| c.pipeline == Pipeline::Bwrap,
            known_open: never_open,
            kind: Kind::Own(writable_bwrap_probe),
        },
        Probe {
            id: "tmpdir-root",
            class: C,
            applies: everywhere,
            known_open: never_open,
            kind: Kind::Own(|f| tmpdir_probe(f, false)),
        },
        Probe {
            id: "tmpdir-home",
            class: C,
            applies: everywhere,
            known_open: never_open,
            kind: Kind::Own(|f| tmpdir_probe(f, true)),
        },
        Probe {
            id: "workspace-write-refused",
            class: C,
            applies: |c| c.no_userns(),
            known_open: never_open,
            kind: Kind::Own(workspace_write_without_userns_probe),
        },
        Probe {
            id: "read-only-policy",
            class: "writes outside roots",
            applies: everywhere,
            known_open: never_open,
            kind: Kind::Own(read_only_probe),
        },
        Probe {
            id: "flock-outside",
            class: "host processes",
            applies: everywhere,
            known_open: |_| Some(FLOCK),
            kind: Kind::Own(flock_probe),
        },
        Probe {
            // The bound of the residual risk above: a lock ends with the run, even one held by
            // a daemon of the command's in a session of its own.
            id: "flock-ends-with-the-run",
            class: "host processes",
            applies: everywhere,
            known_open: never_open,
            kind: Kind::Own(flock_bound_probe),
        },
    ]
}

/// Without user namespaces, workspace-write (whose protected paths need a mount namespace) is
/// refused up front, saying what to change, and runs nothing.
fn workspace_write_without_userns_probe(f: &mut Fixture) -> Verdict {
    let marker = f.plain.join("ran");
    let argv = ["/usr/bin/touch".to_owned(), p(&marker)];
    let output = f.run(&f.plain, "workspace-write").run_probe(&argv);
    let message = common::stderr(&output);
    let refused = output.status.code() == Some(125) && message.contains("user namespace");
    let evidence = either(exists(&marker), exists(&f.plain.join(".codex")));
    judge(
        "workspace-write without user namespaces",
        if refused { "refused" } else { message.trim() },
        "refused",
        evidence,
    )
}

/// A script that, if it ever runs, leaves a marker outside the sandbox.
fn fake_bwrap(f: &Fixture, dir: &Path) -> PathBuf {
    let marker = f.outside.join("fake-bwrap-ran");
    let script = dir.join("bwrap");
    fs::write(&script, format!("#!/bin/sh\ntouch {}\n", marker.display())).unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    f.scratch.own(&script);
    marker
}

fn relative_bwrap_probe(f: &mut Fixture) -> Verdict {
    let marker = fake_bwrap(f, &f.ws);
    let (cwd, policy) = Layout::Repo.cwd_and_policy(f);
    let output = f.run(&cwd, &policy).arg("--bwrap-path").arg("bwrap").run_probe(&["/bin/true".to_owned()]);
    let evidence = exists(&marker);
    let message = common::stderr(&output);
    let refused = output.status.code() == Some(125) && message.contains("`bwrap-path`") && message.contains("`bwrap`");
    judge("--bwrap-path bwrap (relative)", if refused { "refused" } else { message.trim() }, "refused", evidence)
}

fn writable_bwrap_probe(f: &mut Fixture) -> Verdict {
    let marker = fake_bwrap(f, &f.ws);
    let (cwd, policy) = Layout::Repo.cwd_and_policy(f);
    let path = f.ws.join("bwrap");
    let output = f.run(&cwd, &policy).arg("--bwrap-path").arg(p(&path)).run_probe(&["/bin/true".to_owned()]);
    let message = common::stderr(&output);
    let refused = output.status.code() == Some(125) && message.contains("writable root");
    judge(
        "--bwrap-path inside a writable root",
        if refused { "refused" } else { message.trim() },
        "refused",
        exists(&marker),
    )
}

/// Default workspace-write with `TMPDIR=/` (or `$HOME`): refused before anything runs.
fn tmpdir_probe(f: &mut Fixture, home: bool) -> Verdict {
    let home_dir = f.scratch.dir("home");
    let tmpdir = if home { p(&home_dir) } else { "/".to_owned() };
    let marker =
        if home { home_dir.join(".bashrc") } else { PathBuf::from(format!("/codex-escape-{}", std::process::id())) };
    // `/tmp` excluded: the probe's HOME lies under it, and this probe is about TMPDIR.
    let policy = r#"{"type":"workspace-write","exclude_slash_tmp":true}"#;
    let argv = ["/bin/sh".to_owned(), "-c".to_owned(), format!("echo planted > {}", marker.display())];
    let output = f.run(&f.ws, policy).env("HOME", &p(&home_dir)).env("TMPDIR", &tmpdir).run_probe(&argv);
    let message = common::stderr(&output);
    let refused = output.status.code() == Some(125) && message.contains("`TMPDIR`");
    let evidence = exists(&marker);
    let _ = fs::remove_file(&marker);
    judge(
        &format!("workspace-write with TMPDIR={tmpdir}"),
        if refused { "refused" } else { message.trim() },
        "refused",
        evidence,
    )
}

fn read_only_probe(f: &mut Fixture) -> Verdict {
    let target = f.ws.join("read-only-write.txt");
    let ops = json!([["create", p(&target)], ["write", p(&f.ws.join("file.txt"))]]);
    let output = f.run(&f.ws, "read-only").run_probe(&probe_argv(&ops));
    let a = answers(&output);
    if a.len() != 2 {
        return Unexpected(format!("probe said {a:?}: {}", common::stderr(&output)));
    }
    let evidence = either(exists(&target), changed(&f.ws.join("file.txt"), ORIGINAL));
    judge_all(&[("create in cwd", &a[0], f.column.denied()), ("rewrite in cwd", &a[1], f.column.denied())], evidence)
}

/// An exclusive lock taken inside on a host file outside the roots blocks host lockers.
fn flock_probe(f: &mut Fixture) -> Verdict {
    let ops = json!([["flock_hold", p(&f.victim_file), "1.5"]]);
    let (cwd, policy) = Layout::Repo.cwd_and_policy(f);
    let mut child = f.run(&cwd, &policy).probe_command(&probe_argv(&ops)).stdout(Stdio::piped()).spawn().unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    let _ = reader.read_line(&mut first);
    let first = first.trim().to_owned();
    let mut evidence = None;
    if first == "LOCKED" {
        let file = fs::File::open(&f.victim_file).unwrap();
        // SAFETY: flock on a descriptor we own.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            evidence = Some("a host process could not lock the file while the sandbox held it".to_owned());
        }
    }
    let _ = child.wait();
    judge("flock(LOCK_EX) on a host file outside the roots", &first, "EACCES", evidence)
}

/// Whether the launcher can give a run of `user` its own pids cgroup here (from its plan).
fn pids_cgroup_available(user: User) -> bool {
    let scratch = Scratch::new(user, "cgroup-check");
    // An installed bwrap's launcher shares the host's user namespace: its budget can only be a
    // cgroup, so its plan says whether one can be made.
    let mut run = Run::new(user, &scratch.path).arg("--explain").arg("--pipeline=bwrap");
    if Path::new(SYSTEM_BWRAP).exists() {
        run = run.arg(format!("--bwrap-path={SYSTEM_BWRAP}"));
    }
    let output = run.output(&["/bin/true"]);
    serde_json::from_slice::<Value>(&output.stdout).is_ok_and(|plan| !plan["process"]["pids_cgroup"].is_null())
}

/// Forks (at most 100) under `--max-processes=32`.
fn budget_fork_probe(f: &mut Fixture) -> Verdict {
    let (cwd, policy) = Layout::Repo.cwd_and_policy(f);
    let ops = json!([["fork_until_refused", "100"]]);
    let output = f.run(&cwd, &policy).arg("--max-processes=32").run_probe(&probe_argv(&ops));
    let stderr = common::stderr(&output);
    if output.status.code() == Some(125) && stderr.contains("a process budget of 32") {
        return Held("a budget that cannot be enforced here is refused, nothing ran".into());
    }
    let answer = common::stdout(&output).trim().to_owned();
    let forked: usize = answer
        .strip_prefix("FORKED=")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX);
    let evidence =
        (forked >= 32 && forked != usize::MAX).then(|| format!("{forked} processes forked under a budget of 32"));
    let refused = answer.ends_with(" EAGAIN") && forked < 32;
    judge("fork under --max-processes=32", if refused { "EAGAIN" } else { &answer }, "EAGAIN", evidence)
}

/// A run that leaves a `setsid` daemon and blocks, under `--max-wall-time=1`.
fn wall_clock_probe(f: &mut Fixture) -> Verdict {
    static RUN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let marker =
        format!("{}.{}", 800 + RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed), std::process::id() % 997);
    let (cwd, policy) = Layout::Repo.cwd_and_policy(f);
    let script = format!("setsid sleep {marker} & sleep {marker}");
    let argv = ["/bin/sh".to_owned(), "-c".to_owned(), script];
    let mut child =
        f.run(&cwd, &policy).arg("--max-wall-time=1").probe_command(&argv).stderr(Stdio::null()).spawn().unwrap();
    let seen = processes_with_argument(&marker);
    let status = wait_bounded(&mut child, Duration::from_secs(20), Duration::from_millis(20));
    let alive: Vec<i32> = seen.iter().copied().filter(|pid| Path::new(&format!("/proc/{pid}")).exists()).collect();
    let evidence = (!alive.is_empty()).then(|| format!("pids {alive:?} of the run outlived it"));
    if seen.len() != 2 {
        return Unexpected(format!("saw {} of the run's 2 processes on the host", seen.len()));
    }
    let answer = format!("exit {}", status.code().map_or("signal".to_owned(), |c| c.to_string()));
    judge("a run past its wall clock, with a daemon", &answer, "exit 124", evidence)
}

/// Locks a host file outside the roots, leaves the lock to a detached child that sleeps 30 s,
/// and exits: once the launcher returns, a host locker must get the lock at once.
fn flock_bound_probe(f: &mut Fixture) -> Verdict {
    const HOLD: &str = "import fcntl, os, sys, time\n\
        fd = os.open(sys.argv[1], os.O_RDONLY)\n\
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n\
        if os.fork() == 0:\n    os.setsid()\n    time.sleep(30)\n    os._exit(0)\n\
        print('LOCKED', flush=True)\n";
    let (cwd, policy) = Layout::Repo.cwd_and_policy(f);
    let argv = ["/usr/bin/python3".to_owned(), "-c".to_owned(), HOLD.to_owned(), p(&f.victim_file)];
    let output = f.run(&cwd, &policy).run_probe(&argv);
    let answer = common::stdout(&output).trim().to_owned();
    let file = fs::File::open(&f.victim_file).unwrap();
    // SAFETY: flock on a descriptor we own.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    let evidence = (rc != 0).then(|| "a host locker was refused after the run ended: the lock outlived it".to_owned());
    judge("a lock of the run's, held by its daemon, after the run", &answer, "LOCKED", evidence)
}

// ---------------------------------------------------------------------------------------------
// Running.

fn syscall_numbers() -> String {
    json!({
        "unshare": libc::SYS_unshare,
        "setns": libc::SYS_setns,
        "ptrace": libc::SYS_ptrace,
        "process_vm_readv": libc::SYS_process_vm_readv,
        "pidfd_open": libc::SYS_pidfd_open,
        "pidfd_getfd": libc::SYS_pidfd_getfd,
        "io_uring_setup": libc::SYS_io_uring_setup,
        "keyctl": libc::SYS_keyctl,
        "add_key": libc::SYS_add_key,
        "perf_event_open": libc::SYS_perf_event_open,
        "userfaultfd": libc::SYS_userfaultfd,
        "bpf": libc::SYS_bpf,
        "init_module": libc::SYS_init_module,
        "clone3": libc::SYS_clone3,
        "openat2": libc::SYS_openat2,
        "connect": libc::SYS_connect,
        "seccomp": libc::SYS_seccomp,
    })
    .to_string()
}

/// Waits for `child`, checking every `poll`; past `timeout` it is killed (and reaped).
fn wait_bounded(child: &mut std::process::Child, timeout: Duration, poll: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return child.wait().unwrap();
        }
        std::thread::sleep(poll);
    }
}

fn probe_argv(ops: &Value) -> Vec<String> {
    vec!["/usr/bin/python3".into(), "-c".into(), PROBE.into(), ops.to_string(), syscall_numbers()]
}

/// Set while a `LandlockNoUserns` column runs: every sandbox run gets the filter below.
static SIMULATE_NO_USERNS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// How long one sandbox run may take before it is killed and its probes fail.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// `Command::output` with a deadline: a probe that leaves something holding the run's pipes
/// (or hangs) fails instead of stalling the suite.
fn bounded_output(mut command: Command) -> Output {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start the sandbox");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let status = wait_bounded(&mut child, RUN_TIMEOUT, Duration::from_millis(10));
    // A descendant that kept the pipes open must not stall the suite either.
    let join = |handle: std::thread::JoinHandle<Vec<u8>>| {
        let until = Instant::now() + Duration::from_secs(5);
        while !handle.is_finished() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        if handle.is_finished() { handle.join().unwrap() } else { b"(pipe held open by a descendant)".to_vec() }
    };
    Output { status, stdout: join(out), stderr: join(err) }
}

fn answers(output: &Output) -> Vec<String> {
    common::stdout(output).lines().map(str::to_owned).collect()
}

/// `Run` with owned arguments.
trait RunProbe {
    fn run_probe(&self, argv: &[String]) -> Output;
    fn probe_command(&self, argv: &[String]) -> Command;
}

impl RunProbe for Run {
    fn run_probe(&self, argv: &[String]) -> Output {
        bounded_output(self.probe_command(argv))
    }
    fn probe_command(&self, argv: &[String]) -> Command {
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let mut command = self.command(&argv);
        if SIMULATE_NO_USERNS.load(std::sync::atomic::Ordering::Relaxed) {
            common::forbid_user_namespaces(&mut command);
        }
        command
    }
}

struct Row {
    probe: &'static str,
    class: &'static str,
    column: String,
    status: &'static str,
    /// The issue item of a KNOWN-OPEN row.
    item: Option<&'static str>,
    detail: String,
}

fn run_column(column: Column, index: usize, probes: &[Probe], rows: &mut Vec<Row>) {
    SIMULATE_NO_USERNS.store(column.no_userns(), std::sync::atomic::Ordering::Relaxed);
    let mut fixture = Fixture::new(column, index);
    // Without user namespaces workspace-write is refused (protected paths need a mount
    // namespace; the workspace-write-refused probe checks that), so its probes have nothing
    // to probe; the column runs everything else under a read-only policy.
    let meaningful = |p: &Probe| !(column.no_userns() && p.class == "protected paths");
    for probe in probes.iter().filter(|p| (p.applies)(&column) && !meaningful(p)) {
        rows.push(Row {
            probe: probe.id,
            class: probe.class,
            column: column.name(),
            status: "n/a",
            item: None,
            detail: "workspace-write does not run on this host kind".into(),
        });
    }
    let applicable: Vec<&Probe> = probes.iter().filter(|p| (p.applies)(&column) && meaningful(p)).collect();
    let mut verdicts: BTreeMap<&'static str, Verdict> = BTreeMap::new();
    for layout in [Layout::Repo, Layout::Plain, Layout::GitFile, Layout::Writable] {
        let batch: Vec<(&Probe, Vec<Value>)> = applicable
            .iter()
            .filter_map(|probe| match &probe.kind {
                Kind::Batched { layout: l, ops, .. } if *l == layout => Some((*probe, ops(&fixture))),
                _ => None,
            })
            .collect();
        if batch.is_empty() {
            continue;
        }
        let all: Vec<Value> = batch.iter().flat_map(|(_, ops)| ops.iter().cloned()).collect();
        let output = fixture.run_layout(layout).run_probe(&probe_argv(&Value::Array(all.clone())));
        let answers = answers(&output);
        let mut offset = 0;
        for (probe, ops) in &batch {
            let Kind::Batched { judge, .. } = &probe.kind else { unreachable!() };
            let verdict = if answers.len() != all.len() {
                Unexpected(format!(
                    "the {layout:?} batch did not run: {:?} {}",
                    output.status,
                    common::stderr(&output).trim()
                ))
            } else {
                judge(&mut fixture, &answers[offset..offset + ops.len()])
            };
            offset += ops.len();
            verdicts.insert(probe.id, verdict);
        }
    }
    for probe in &applicable {
        if let Kind::Own(run) = &probe.kind {
            verdicts.insert(probe.id, run(&mut fixture));
        }
    }
    for probe in &applicable {
        let verdict = verdicts.remove(probe.id).unwrap();
        let known_open = (probe.known_open)(&column);
        let (status, detail) = match (verdict, known_open) {
            (Held(d), None) => ("pass", d),
            (Held(d), Some(item)) => ("pass", format!("{d} [listed open as {item}: closed now?]")),
            (Escaped(d), Some(item)) => ("KNOWN-OPEN", format!("{item}: {d}")),
            (Escaped(d), None) => ("ESCAPE", d),
            (Unexpected(d), _) => ("FAIL", d),
            (Skip(d), _) => ("SKIP", d),
            (NotApplicable(d), _) => ("n/a", d),
        };
        let item = (status == "KNOWN-OPEN").then_some(known_open).flatten();
        rows.push(Row { probe: probe.id, class: probe.class, column: column.name(), status, item, detail });
    }
}

fn columns() -> (Vec<Column>, Vec<String>) {
    let mut columns = Vec::new();
    let mut skipped = Vec::new();
    for user in common::users() {
        let userns = common::userns_available(user);
        for pipeline in [Pipeline::Landlock, Pipeline::Bwrap, Pipeline::SystemBwrap, Pipeline::LandlockNoUserns] {
            for network in [Network::Restricted, Network::Full] {
                let column = Column { pipeline, user, network };
                // Both pipelines need a user namespace to protect .git and .codex.
                if !userns && pipeline != Pipeline::LandlockNoUserns {
                    skipped.push(format!("{}: this host forbids user namespaces", column.name()));
                } else if pipeline == Pipeline::SystemBwrap && !Path::new(SYSTEM_BWRAP).is_file() {
                    skipped.push(format!("{}: no {SYSTEM_BWRAP} (apt install bubblewrap)", column.name()));
                } else {
                    columns.push(column);
                }
            }
        }
    }
    (columns, skipped)
}

/// The libtest arguments cargo may pass along (`cargo test NAME -- --skip X --test-threads 2`),
/// read the way libtest reads them: test-name filters, `--skip` patterns, and options (with
/// their values) that mean nothing to this program.
fn harness_arguments(args: impl Iterator<Item = String>) -> (Vec<String>, Vec<String>) {
    const WITH_VALUE: [&str; 6] = ["--test-threads", "--logfile", "--format", "--color", "--report-time", "-Z"];
    let (mut filters, mut skips) = (Vec::new(), Vec::new());
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        if arg == "--skip" {
            skips.extend(args.next());
        } else if WITH_VALUE.contains(&arg.as_str()) {
            args.next();
        } else if !arg.starts_with('-') {
            filters.push(arg);
        }
    }
    (filters, skips)
}

fn main() -> ExitCode {
    let strict = std::env::var_os("CODEX_SANDBOX_ESCAPES_STRICT").is_some_and(|v| v == "1");
    let require_all = std::env::var_os("CODEX_SANDBOX_REQUIRE_ALL").is_some_and(|v| v == "1");
    let filter = std::env::var("CODEX_SANDBOX_ESCAPES_FILTER").unwrap_or_default();
    let (name_filters, skips) = harness_arguments(std::env::args().skip(1));
    let started = Instant::now();
    let probes: Vec<Probe> = probes()
        .into_iter()
        .filter(|p| p.id.contains(&filter))
        .filter(|p| name_filters.is_empty() || name_filters.iter().any(|f| p.id.contains(f.as_str())))
        .filter(|p| !skips.iter().any(|s| p.id.contains(s.as_str())))
        .collect();
    hostname_changed();
    let (columns, skipped_columns) = columns();
    let mut rows = Vec::new();
    for (index, column) in columns.iter().enumerate() {
        run_column(*column, index, &probes, &mut rows);
    }

    println!("escape suite: {} probes, {} columns", probes.len(), columns.len());
    println!("{:<30} {:<26} {:<34} {:<11} evidence", "probe", "class", "column", "result");
    for row in &rows {
        println!("{:<30} {:<26} {:<34} {:<11} {}", row.probe, row.class, row.column, row.status, row.detail);
    }
    for reason in &skipped_columns {
        println!("SKIP column {reason}");
    }
    println!();
    println!("{:<34} {:>6} {:>6} {:>11} {:>5} {:>5}", "column", "passed", "failed", "known-open", "skip", "n/a");
    let count = |rows: &[&Row], status: &str| rows.iter().filter(|r| r.status == status).count();
    let mut known_items: BTreeMap<String, usize> = BTreeMap::new();
    for column in &columns {
        let name = column.name();
        let in_column: Vec<&Row> = rows.iter().filter(|r| r.column == name).collect();
        let failed = count(&in_column, "FAIL") + count(&in_column, "ESCAPE");
        println!(
            "{:<34} {:>6} {:>6} {:>11} {:>5} {:>5}",
            name,
            count(&in_column, "pass"),
            failed,
            count(&in_column, "KNOWN-OPEN"),
            count(&in_column, "SKIP"),
            count(&in_column, "n/a")
        );
    }
    for item in rows.iter().filter_map(|r| r.item) {
        *known_items.entry(item.to_owned()).or_default() += 1;
    }
    for (item, n) in &known_items {
        println!("KNOWN-OPEN {n:>3} × {item}");
    }
    let all: Vec<&Row> = rows.iter().collect();
    let passed = count(&all, "pass");
    let known_open = count(&all, "KNOWN-OPEN");
    let skips = count(&all, "SKIP") + if require_all { skipped_columns.len() } else { 0 };
    let mut failed = count(&all, "FAIL") + count(&all, "ESCAPE");
    if strict {
        failed += known_open;
    }
    if require_all {
        failed += skips;
    }
    println!(
        "{known_open} known-open ({}), {skips} skipped{}, in {:.0?}",
        if strict { "counted as failed: CODEX_SANDBOX_ESCAPES_STRICT=1" } else { "not counted" },
        if require_all { " (counted as failed: CODEX_SANDBOX_REQUIRE_ALL=1)" } else { "" },
        started.elapsed()
    );
    println!("{passed} passed, {failed} failed");
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
