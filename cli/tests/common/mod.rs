//! Test harness: runs the real `codex-linux-sandbox` binary as the current user and, when the
//! tests run as root, also as uid/gid 65534, in scratch directories under `/tmp`.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

pub mod hosts;

/// The probe script run by `python3 -c` inside the sandbox.
pub const PROBE: &str = include_str!("probe.py");

/// Who runs the sandbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum User {
    /// The test process's own uid (root in CI).
    Current,
    /// uid/gid 65534, used when the tests run as root.
    Nobody,
}

impl User {
    pub fn ids(self) -> (u32, u32) {
        match self {
            // SAFETY: getuid/getgid cannot fail.
            User::Current => unsafe { (libc::getuid(), libc::getgid()) },
            User::Nobody => (65534, 65534),
        }
    }
}

/// The users every behavioural test runs as.
pub fn users() -> Vec<User> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 { vec![User::Current, User::Nobody] } else { vec![User::Current] }
}

/// The binary under test, copied to a world-readable directory: the build tree may sit under a
/// directory uid 65534 cannot enter (`/root` is 0700).
pub fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        // A fresh directory per test process (concurrent runs never share or replace it), removed
        // when the process exits: the test harness ends with exit(), which runs atexit handlers.
        let dir = make_temp_dir("/tmp/codex-sandbox-test-bin.XXXXXX");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        BINARY_DIR.set(dir.clone()).unwrap();
        // SAFETY: remove_binary_dir is an extern "C" fn that does not unwind.
        unsafe { libc::atexit(remove_binary_dir) };
        let target = dir.join("codex-linux-sandbox");
        fs::copy(env!("CARGO_BIN_EXE_codex-linux-sandbox"), &target).unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o755)).unwrap();
        target
    })
}

static BINARY_DIR: OnceLock<PathBuf> = OnceLock::new();

extern "C" fn remove_binary_dir() {
    if let Some(dir) = BINARY_DIR.get() {
        let _ = fs::remove_dir_all(dir);
    }
}

/// mkdtemp(3): a new directory, mode 0700, named after `template` (ending in XXXXXX).
fn make_temp_dir(template: &str) -> PathBuf {
    let mut bytes = std::ffi::CString::new(template).unwrap().into_bytes_with_nul();
    // SAFETY: bytes is a writable NUL-terminated buffer that mkdtemp fills in place.
    let made = unsafe { libc::mkdtemp(bytes.as_mut_ptr().cast()) };
    assert!(!made.is_null(), "mkdtemp {template}: {}", std::io::Error::last_os_error());
    bytes.pop();
    PathBuf::from(String::from_utf8(bytes).unwrap())
}

/// A scratch directory under `/tmp`, owned by the user the test runs as, removed on drop.
pub struct Scratch {
    pub path: PathBuf,
    pub user: User,
}

impl Scratch {
    pub fn new(user: User, name: &str) -> Scratch {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = PathBuf::from(format!("/tmp/codex-sandbox-test-{}-{n}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir(&path).unwrap();
        let scratch = Scratch { path, user };
        scratch.own(&scratch.path);
        scratch
    }

    /// Creates a directory (and parents) owned by the test user.
    pub fn dir(&self, relative: &str) -> PathBuf {
        let path = self.path.join(relative);
        fs::create_dir_all(&path).unwrap();
        let mut current = path.clone();
        while current != self.path {
            self.own(&current);
            current.pop();
        }
        path
    }

    /// Writes a file owned by the test user.
    pub fn file(&self, relative: &str, contents: &str) -> PathBuf {
        let path = self.path.join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(&path, contents).unwrap();
        let mut current = path.clone();
        while current != self.path {
            self.own(&current);
            current.pop();
        }
        path
    }

    pub fn own(&self, path: &Path) {
        let (uid, gid) = self.user.ids();
        chown(path, Some(uid), Some(gid)).unwrap();
    }

    /// Every path below the scratch directory, sorted: to check the run left nothing behind.
    pub fn listing(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                out.push(path.clone());
                if path.is_dir() && !path.is_symlink() {
                    walk(&path, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.path, &mut out);
        out.sort();
        out
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// One invocation of the sandbox binary.
pub struct Run {
    pub user: User,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
}

impl Run {
    pub fn new(user: User, cwd: &Path) -> Run {
        Run {
            user,
            args: Vec::new(),
            cwd: cwd.to_path_buf(),
            env: vec![("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()), ("LC_ALL".into(), "C".into())],
        }
    }

    pub fn policy(mut self, policy: &str) -> Run {
        self.args.extend(["--sandbox-policy".to_owned(), policy.to_owned()]);
        self
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Run {
        self.args.push(arg.into());
        self
    }

    /// Leaves every default protected name unprotected: on the landlock pipeline without user
    /// namespaces a writable root with protected names cannot run (nothing can keep a name
    /// from being created there), so the tests of that host's writable roots opt out.
    pub fn unprotect_defaults(self) -> Run {
        [".git", ".agents", ".codex", ".aws"].into_iter().fold(self, |run, name| run.arg("--unprotect").arg(name))
    }

    pub fn env(mut self, key: &str, value: &str) -> Run {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn command(&self, argv: &[&str]) -> Command {
        let mut command = Command::new(binary());
        command.args(&self.args).arg("--").args(argv).current_dir(&self.cwd).env_clear().stdin(Stdio::null());
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        if self.user == User::Nobody {
            command.uid(65534).gid(65534);
        }
        command
    }

    pub fn output(&self, argv: &[&str]) -> Output {
        self.command(argv).output().expect("failed to start codex-linux-sandbox")
    }

    /// Runs the probe with the given operations; returns one result per operation.
    pub fn probe(&self, operations: &[String]) -> Vec<String> {
        let mut argv = vec!["/usr/bin/python3", "-c", PROBE];
        argv.extend(operations.iter().map(String::as_str));
        let output = self.output(&argv);
        assert!(
            output.status.success(),
            "probe failed ({:?}) as {:?}: stdout={} stderr={}",
            output.status,
            self.user,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().lines().map(str::to_owned).collect()
    }

    /// Runs a shell snippet.
    pub fn sh(&self, script: &str) -> Output {
        self.output(&["/bin/sh", "-c", script])
    }
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Whether the host lets this user create a user namespace (needed for protected paths).
pub fn userns_available(user: User) -> bool {
    let mut command = Command::new("/usr/bin/unshare");
    command.args(["--user", "--map-current-user", "--mount", "/bin/true"]).stderr(Stdio::null());
    if user == User::Nobody {
        command.uid(65534).gid(65534);
    }
    command.status().map(|s| s.success()).unwrap_or(false)
}

/// workspace-write without `/tmp` and `$TMPDIR`: scratch directories live under `/tmp`, so
/// "outside the writable roots" must not be writable through `/tmp`.
pub const WORKSPACE: &str = r#"{"type":"workspace-write","exclude_tmpdir_env_var":true,"exclude_slash_tmp":true}"#;

/// Skips the rest of a test with a printed reason, or fails it when `CODEX_SANDBOX_REQUIRE_ALL=1`
/// (CI installs everything the tests need, so a skip there is a missing dependency).
pub fn skip(reason: impl std::fmt::Display) {
    if std::env::var_os("CODEX_SANDBOX_REQUIRE_ALL").is_some_and(|v| v == "1") {
        panic!("CODEX_SANDBOX_REQUIRE_ALL=1, but this test would skip: {reason}");
    }
    eprintln!("SKIP: {reason}");
}

/// Makes `command` start as on a host that forbids user namespaces: a seccomp filter (our own
/// compiler's) refusing `clone`/`unshare` with CLONE_NEWUSER and answering `clone3` with ENOSYS.
pub fn forbid_user_namespaces(command: &mut Command) {
    use codex_sandbox_core::seccomp::{Condition, SyscallRule, compile};
    let no_newuser = || {
        vec![Condition::ArgIn {
            arg: 0,
            mask: libc::CLONE_NEWUSER as u32,
            values: vec![0],
            meaning: "no CLONE_NEWUSER",
        }]
    };
    let rule = |syscall, number, allow_if, errno| SyscallRule { syscall, number, allow_if, errno, note: None };
    let program = compile(&[
        rule("clone", libc::SYS_clone, no_newuser(), libc::EPERM),
        rule("unshare", libc::SYS_unshare, no_newuser(), libc::EPERM),
        rule("clone3", libc::SYS_clone3, vec![], libc::ENOSYS),
    ]);
    let len = program.len() as u16;
    // SAFETY: only prctl between fork and exec; `program` (moved into the closure) outlives the
    // call, and its instructions have the layout of `struct sock_filter`.
    unsafe {
        command.pre_exec(move || {
            let fprog = libc::sock_fprog { len, filter: program.as_ptr().cast::<libc::sock_filter>().cast_mut() };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &fprog as *const libc::sock_fprog) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
