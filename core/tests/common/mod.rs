//! Helpers shared by the core integration tests.
#![allow(dead_code)]

/// Skips the rest of a test with a printed reason, or fails it when `CODEX_SANDBOX_REQUIRE_ALL=1`
/// (CI installs everything the tests need, so a skip there is a missing dependency).
pub fn skip(reason: impl std::fmt::Display) {
    if std::env::var_os("CODEX_SANDBOX_REQUIRE_ALL").is_some_and(|v| v == "1") {
        panic!("CODEX_SANDBOX_REQUIRE_ALL=1, but this test would skip: {reason}");
    }
    eprintln!("SKIP: {reason}");
}

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use codex_sandbox_core::{PipelineRequest, SandboxPolicy, SandboxSpec};

/// The environment variable that makes a re-executed test binary play a role (see [`run_role`]).
pub const ROLE: &str = "CODEX_SANDBOX_TEST_ROLE";

/// The role this process was started to play, if any.
pub fn role() -> Option<String> {
    std::env::var(ROLE).ok()
}

/// Who runs a role: this process's user, or uid/gid 65534 when this process is root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum User {
    Current,
    Nobody,
}

/// The users every test runs as: the current one, and 65534 too when that is root.
pub fn users() -> Vec<User> {
    // SAFETY: getuid cannot fail.
    if unsafe { libc::getuid() } == 0 { vec![User::Current, User::Nobody] } else { vec![User::Current] }
}

/// A copy of this test binary that uid 65534 can execute (the build directory may sit under a
/// home directory it cannot enter), made once per process.
fn world_executable_copy() -> &'static Path {
    static COPY: OnceLock<PathBuf> = OnceLock::new();
    COPY.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("codex-sandbox-core-test-bin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let copy = dir.join("test-binary");
        std::fs::copy(std::env::current_exe().unwrap(), &copy).unwrap();
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
        copy
    })
}

/// Removes the copy made by [`world_executable_copy`]; call at the end of a test that used it.
pub fn remove_executable_copy() {
    let dir = std::env::temp_dir().join(format!("codex-sandbox-core-test-bin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs test `name` of this binary again, in a new process playing `role`, as `user`; `setup`
/// may change the command further (its stdio, say). The role's output is returned whole.
pub fn run_role(name: &str, role: &str, user: User, setup: impl FnOnce(&mut Command)) -> Output {
    let program =
        if user == User::Nobody { world_executable_copy().to_path_buf() } else { std::env::current_exe().unwrap() };
    let mut command = Command::new(program);
    command.args(["--exact", name, "--nocapture", "--test-threads=1"]).env(ROLE, role);
    if user == User::Nobody {
        command.uid(65534).gid(65534).env("HOME", "/nonexistent");
    }
    setup(&mut command);
    command.output().unwrap()
}

/// The pipelines this host can run.
pub fn pipelines() -> Vec<PipelineRequest> {
    let mut pipelines = vec![PipelineRequest::Landlock];
    match codex_sandbox_core::probe::namespaces_available() {
        Ok(()) => pipelines.push(PipelineRequest::Bwrap),
        Err(reason) => skip(format!("the bwrap pipeline: {reason}")),
    }
    pipelines
}

/// A spec with a plain `PATH`.
pub fn spec(policy: SandboxPolicy, cwd: &Path, argv: &[&str], pipeline: PipelineRequest) -> SandboxSpec {
    let mut spec = SandboxSpec::new(policy, cwd, argv.iter().map(OsString::from).collect());
    spec.env = vec![("PATH".into(), "/usr/bin:/bin".into())];
    spec.pipeline = pipeline;
    spec
}

/// A fresh directory under the temp dir, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        // SAFETY: getuid cannot fail.
        let uid = unsafe { libc::getuid() };
        let path = std::env::temp_dir().join(format!("codex-sandbox-core-{name}-{}-{uid}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Scratch(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
