//! The spawn engine through the library API, from a multi-threaded process (the test harness
//! itself): stdio, pass-through descriptors, kill, concurrency under allocation pressure, and
//! that nothing leaks.
mod common;

use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use codex_sandbox_core::{ErrorKind, ExitStatus, SandboxPolicy, SandboxSpec, SpawnOptions, Stdio, prepare, spawn};

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let path = PathBuf::from(format!("/tmp/codex-sandbox-core-test-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        Scratch(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn workspace_policy() -> SandboxPolicy {
    SandboxPolicy::parse(r#"{"type":"workspace-write","exclude_tmpdir_env_var":true,"exclude_slash_tmp":true}"#)
        .unwrap()
}

fn spec(policy: SandboxPolicy, cwd: &Path, argv: &[&str]) -> SandboxSpec {
    let mut spec = SandboxSpec::new(policy, cwd, argv.iter().map(OsString::from).collect());
    spec.env = vec![("PATH".into(), "/usr/bin:/bin".into())];
    spec
}

fn options() -> SpawnOptions {
    SpawnOptions { stdin: Stdio::Null, stdout: Stdio::Null, stderr: Stdio::Inherit, ..SpawnOptions::default() }
}

#[test]
fn pipes_carry_stdin_and_stdout() {
    let scratch = Scratch::new("pipes");
    let plan = prepare(&spec(SandboxPolicy::read_only(), &scratch.0, &["/bin/cat"])).unwrap();
    let mut child = spawn(&plan, SpawnOptions { stdin: Stdio::Pipe, stdout: Stdio::Pipe, ..options() }).unwrap();
    child.stdin.as_mut().unwrap().write_all(b"through the sandbox").unwrap();
    drop(child.stdin.take());
    let mut out = String::new();
    child.stdout.as_mut().unwrap().read_to_string(&mut out).unwrap();
    assert_eq!(out, "through the sandbox");
    assert_eq!(child.wait().unwrap(), ExitStatus::Exited(0));
}

#[test]
fn kill_and_try_wait() {
    let scratch = Scratch::new("kill");
    let plan = prepare(&spec(SandboxPolicy::read_only(), &scratch.0, &["/bin/sleep", "30"])).unwrap();
    let mut child = spawn(&plan, options()).unwrap();
    assert_eq!(child.try_wait().unwrap(), None);
    assert!(child.pidfd().is_some());
    child.kill(libc::SIGKILL).unwrap();
    assert_eq!(child.wait().unwrap(), ExitStatus::Signaled(libc::SIGKILL));
    assert_eq!(child.wait().unwrap().shell_code(), 128 + libc::SIGKILL);
    assert!(child.kill(libc::SIGKILL).is_err(), "a reaped child cannot be signalled");
}

#[test]
fn passed_descriptors_survive_and_others_do_not() {
    let scratch = Scratch::new("passfd");
    let file = scratch.0.join("data");
    fs::write(&file, "passed").unwrap();
    let passed: OwnedFd = fs::File::open(&file).unwrap().into();
    let not_passed: OwnedFd = fs::File::open(&file).unwrap().into();
    let (p, n) = (passed.as_raw_fd(), not_passed.as_raw_fd());
    let script = format!("cat /proc/self/fd/{p}; test -e /proc/self/fd/{n} && echo leaked || echo closed");
    let plan = prepare(&spec(SandboxPolicy::read_only(), &scratch.0, &["/bin/sh", "-c", &script])).unwrap();
    let mut child = spawn(&plan, SpawnOptions { stdout: Stdio::Pipe, pass_fds: vec![p], ..options() }).unwrap();
    let mut out = String::new();
    child.stdout.as_mut().unwrap().read_to_string(&mut out).unwrap();
    assert_eq!(child.wait().unwrap(), ExitStatus::Exited(0));
    assert_eq!(out, "passedclosed\n");
}

#[test]
fn stdio_from_a_caller_descriptor() {
    let scratch = Scratch::new("stdio-fd");
    let out_path = scratch.0.join("out");
    let out: OwnedFd = fs::File::create(&out_path).unwrap().into();
    let plan = prepare(&spec(SandboxPolicy::read_only(), &scratch.0, &["/bin/echo", "to a file"])).unwrap();
    let mut child = spawn(&plan, SpawnOptions { stdout: Stdio::Fd(out), ..options() }).unwrap();
    assert_eq!(child.wait().unwrap(), ExitStatus::Exited(0));
    assert_eq!(fs::read_to_string(out_path).unwrap(), "to a file\n");
}

#[test]
fn child_setup_failures_are_errors_and_nothing_runs() {
    let scratch = Scratch::new("setup-fail");
    let cwd = scratch.0.join("cwd");
    fs::create_dir(&cwd).unwrap();
    let marker = scratch.0.join("ran");
    let script = format!("touch {}", marker.display());
    let plan = prepare(&spec(SandboxPolicy::read_only(), &cwd, &["/bin/sh", "-c", &script])).unwrap();
    fs::remove_dir(&cwd).unwrap();
    let error = spawn(&plan, options()).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::SpawnFailed);
    assert!(error.to_string().contains("working directory"), "{error}");
    // The errno survives, and the path is named beside it.
    assert_eq!(error.errno(), Some(libc::ENOENT), "{error}");
    assert!(error.to_string().contains(&format!("{}: No such file or directory", cwd.display())), "{error}");
    assert!(!marker.exists());

    let plan = prepare(&spec(SandboxPolicy::read_only(), &scratch.0, &["no-such-program-xyz"])).unwrap();
    assert_eq!(spawn(&plan, options()).unwrap_err().kind(), ErrorKind::CommandNotFound);
}

#[test]
fn protected_path_swapped_after_planning_is_refused() {
    if !Path::new("/proc/self/ns/user").exists() {
        common::skip("no user namespaces");
        return;
    }
    let host = codex_sandbox_core::HostFacts::get().clone();
    // With the new mount API, and on the classic path of older kernels.
    let classic = codex_sandbox_core::HostFacts { new_mount_api: false, openat2: false, ..host.clone() };
    for host in [host, classic] {
        for swap_with_symlink in [true, false] {
            let scratch = Scratch::new("swap");
            let git = scratch.0.join(".git");
            fs::create_dir(&git).unwrap();
            let marker = scratch.0.join("ran");
            let script = format!("touch {}", marker.display());
            let spec = spec(workspace_policy(), &scratch.0, &["/bin/sh", "-c", &script]);
            let plan = codex_sandbox_core::prepare_for(&spec, &host).unwrap();
            // Replace .git after planning: with a symlink to a writable decoy, or with another
            // directory (the old one kept, so its inode number is not reused at once).
            fs::rename(&git, scratch.0.join("old-git")).unwrap();
            if swap_with_symlink {
                fs::create_dir(scratch.0.join("decoy")).unwrap();
                std::os::unix::fs::symlink("decoy", &git).unwrap();
            } else {
                fs::create_dir(&git).unwrap();
            }
            let launcher = plan.launcher();
            let error = spawn(&plan, options()).map(|_| ()).expect_err(&format!("{launcher:?} {swap_with_symlink}"));
            assert!(error.to_string().contains("changed between planning and mounting"), "{launcher:?}: {error}");
            assert_eq!(error.errno(), Some(libc::ESTALE), "{launcher:?}");
            assert!(!marker.exists(), "{launcher:?}: ran");
        }
    }
}

/// A handle dropped while its sandbox runs must not let a later run remove the `.codex`
/// placeholder under it (which would lift its read-only mount).
#[test]
fn placeholders_outlive_a_dropped_handle() {
    let scratch = Scratch::new("dropped");
    let go = scratch.0.join("go");
    let result = scratch.0.join("result");
    let script = format!(
        "i=0; while [ ! -e {go} ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; \
         mkdir -p .codex/x 2>/dev/null && echo escaped > {result} || echo blocked > {result}",
        go = go.display(),
        result = result.display()
    );
    let pipelines = if codex_sandbox_core::probe::namespaces_available().is_ok() {
        vec![codex_sandbox_core::PipelineRequest::Landlock, codex_sandbox_core::PipelineRequest::Bwrap]
    } else {
        vec![codex_sandbox_core::PipelineRequest::Landlock]
    };
    for pipeline in pipelines {
        let _ = fs::remove_file(&go);
        let _ = fs::remove_file(&result);
        let mut first = spec(workspace_policy(), &scratch.0, &["/bin/sh", "-c", &script]);
        first.pipeline = pipeline;
        let running = spawn(&prepare(&first).unwrap(), options()).unwrap();
        drop(running);
        let mut second = spec(workspace_policy(), &scratch.0, &["/bin/true"]);
        second.pipeline = pipeline;
        assert_eq!(spawn(&prepare(&second).unwrap(), options()).unwrap().wait().unwrap(), ExitStatus::Exited(0));
        fs::write(&go, "").unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !result.exists() {
            assert!(std::time::Instant::now() < deadline, "the first sandbox never reported");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(fs::read_to_string(&result).unwrap(), "blocked\n", "{pipeline:?}");
        assert!(!scratch.0.join(".codex/x").exists());
    }
}

/// A signal sent to the sandbox reaches the command whatever it is: under the bwrap pipeline
/// the pid is the sandbox's init, which the kernel shields from signals it has no handler for.
#[test]
fn any_catchable_signal_reaches_the_command() {
    let scratch = Scratch::new("signals");
    let mut pipelines = vec![codex_sandbox_core::PipelineRequest::Landlock];
    if codex_sandbox_core::probe::namespaces_available().is_ok() {
        pipelines.push(codex_sandbox_core::PipelineRequest::Bwrap);
    }
    for pipeline in pipelines {
        for signal in [libc::SIGALRM, libc::SIGABRT, libc::SIGTERM, libc::SIGUSR2, libc::SIGRTMIN() + 3] {
            let mut s = spec(SandboxPolicy::read_only(), &scratch.0, &["/bin/sleep", "30"]);
            s.pipeline = pipeline;
            let mut child = spawn(&prepare(&s).unwrap(), options()).unwrap();
            // spawn returns once the command has exec'd, by which time init forwards signals.
            child.kill(signal).unwrap();
            assert_eq!(child.wait().unwrap(), ExitStatus::Signaled(signal), "{pipeline:?} signal {signal}");
        }
    }
}

/// SIGSTOP reaches the command on both pipelines (under the namespace pipeline it cannot be
/// forwarded by init, so it goes to the command itself), and SIGCONT resumes it.
#[test]
fn stop_and_continue_reach_the_command() {
    let scratch = Scratch::new("stop");
    let state = |pid: u32| {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next()).unwrap_or('?')
    };
    let wait_for_state = |pid: u32, stopped: bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while (state(pid) == 'T') != stopped {
            assert!(
                std::time::Instant::now() < deadline,
                "pid {pid} never {}",
                if stopped { "stopped" } else { "resumed" }
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    };
    let mut pipelines = vec![codex_sandbox_core::PipelineRequest::Landlock];
    if codex_sandbox_core::probe::namespaces_available().is_ok() {
        pipelines.push(codex_sandbox_core::PipelineRequest::Bwrap);
    }
    for pipeline in pipelines {
        let mut s = spec(SandboxPolicy::read_only(), &scratch.0, &["/bin/sleep", "30"]);
        s.pipeline = pipeline;
        let mut child = spawn(&prepare(&s).unwrap(), options()).unwrap();
        let command = child.command_pid().unwrap().expect("the command is running");
        assert_eq!(child.is_sandbox_init(), command != child.id(), "{pipeline:?}");
        child.kill(libc::SIGSTOP).unwrap();
        wait_for_state(command, true);
        if child.is_sandbox_init() {
            assert_ne!(state(child.id()), 'T', "{pipeline:?}: init itself must keep running");
        }
        child.kill(libc::SIGCONT).unwrap();
        wait_for_state(command, false);
        child.kill(libc::SIGKILL).unwrap();
        assert_eq!(child.wait().unwrap(), ExitStatus::Signaled(libc::SIGKILL), "{pipeline:?}");
    }
}
