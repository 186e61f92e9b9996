//! Hosts that cannot enforce a policy: the run is refused (exit 125, a message saying why and
//! what to do) and nothing runs. The limits are imposed with the system `bwrap`, which CI
//! installs; without it these tests skip.

mod common;

use std::io::{Seek, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Output};

use codex_sandbox_core::seccomp::{SyscallRule, compile};
use common::{Scratch, User, stderr};

fn bwrap() -> Option<&'static str> {
    let path = "/usr/bin/bwrap";
    if Path::new(path).exists() {
        Some(path)
    } else {
        common::skip("/usr/bin/bwrap is not installed (CI installs Debian's bubblewrap)");
        None
    }
}

fn sandbox_inside_bwrap(bwrap_args: &[&str], policy: &str, cwd: &Path) -> Output {
    Command::new(bwrap().unwrap())
        .args(["--dev-bind", "/", "/"])
        .args(bwrap_args)
        .arg("--")
        .arg(common::binary())
        .args(["--sandbox-policy", policy, "--", "/usr/bin/touch", "ran"])
        .current_dir(cwd)
        .output()
        .unwrap()
}

#[test]
fn without_user_namespaces_protected_paths_refuse_and_read_only_runs() {
    if bwrap().is_none() {
        return;
    }
    let scratch = Scratch::new(User::Current, "no-userns");
    let limits = ["--unshare-user", "--disable-userns"];
    let output = sandbox_inside_bwrap(&limits, "workspace-write", &scratch.path);
    assert_eq!(output.status.code(), Some(125), "{}", stderr(&output));
    let refusal = stderr(&output);
    // The failing check with its errno, the cause the evidence points to (not the sysctls,
    // which allow user namespaces here), and each pipeline's reason.
    assert!(refusal.contains("clone with CLONE_NEWUSER): No space left on device (os error 28)"), "{refusal}");
    assert!(refusal.contains("bwrap --disable-userns"), "names the outer sandbox: {refusal}");
    assert!(!refusal.contains("unprivileged_userns_clone"), "no sysctl advice where sysctls allow it: {refusal}");
    assert!(refusal.contains("Landlock pipeline: the protected paths"), "{refusal}");
    assert!(!scratch.path.join("ran").exists());
    assert!(!scratch.path.join(".codex").exists(), "placeholder left behind");

    // A read-only policy protects nothing and needs no namespace; `touch` then fails inside.
    let output = sandbox_inside_bwrap(&limits, "read-only", &scratch.path);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("Permission denied"), "{}", stderr(&output));

    // `auto` fell back to the landlock pipeline, and says why.
    let output = Command::new(bwrap().unwrap())
        .args(["--dev-bind", "/", "/"])
        .args(limits)
        .arg("--")
        .arg(common::binary())
        .args(["--explain", "--", "/bin/true"])
        .current_dir(&scratch.path)
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(plan["pipeline"], "landlock");
    let reason = plan["pipeline_reason"].as_str().unwrap();
    assert!(reason.starts_with("auto: the namespace pipeline cannot run here"), "{reason}");
    assert!(reason.contains("clone with CLONE_NEWUSER"), "the cause: {reason}");
}

#[test]
fn without_landlock_the_landlock_pipeline_refuses() {
    if bwrap().is_none() {
        return;
    }
    // A seccomp filter that makes Landlock look absent (ENOSYS), as on a kernel built without it.
    let rules: Vec<SyscallRule> = [
        ("landlock_create_ruleset", libc::SYS_landlock_create_ruleset),
        ("landlock_add_rule", libc::SYS_landlock_add_rule),
        ("landlock_restrict_self", libc::SYS_landlock_restrict_self),
    ]
    .into_iter()
    .map(|(syscall, number)| SyscallRule { syscall, number, allow_if: vec![], errno: libc::ENOSYS, note: None })
    .collect();
    let mut filter = filter_file(&rules);
    let fd = filter.as_raw_fd().to_string();

    let scratch = Scratch::new(User::Current, "no-landlock");
    let mut run = |pipeline: &str, policy: &str| {
        // bwrap reads the filter from the shared file offset.
        filter.rewind().unwrap();
        let mut command = Command::new(bwrap().unwrap());
        command
            .args(["--dev-bind", "/", "/", "--seccomp", &fd, "--"])
            .arg(common::binary())
            .args(["--pipeline", pipeline, "--sandbox-policy", policy, "--", "/usr/bin/touch", "ran"])
            .current_dir(&scratch.path);
        preserve_fd(&mut command, filter.as_raw_fd()).output().unwrap()
    };
    for policy in ["read-only", "workspace-write"] {
        let output = run("landlock", policy);
        assert_eq!(output.status.code(), Some(125), "{policy}: {}", stderr(&output));
        assert!(stderr(&output).contains("Landlock"), "{}", stderr(&output));
        assert!(!scratch.path.join("ran").exists(), "{policy}: the command ran without Landlock");
    }
    // The namespace pipeline does not need Landlock: its read-only mounts still hold.
    if common::userns_available(User::Current) {
        let output = run("bwrap", "read-only");
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        assert!(stderr(&output).contains("Read-only file system"), "{}", stderr(&output));
        assert!(!scratch.path.join("ran").exists());
    }
}

/// The system calls a 5.4 kernel lacks (RHEL 8's 4.18 and Debian 11's 5.10 lack a subset):
/// the new mount API (5.2 and 5.12), `openat2` (5.6), `close_range` (5.9), `clone3` (5.3).
const NEWER_THAN_5_4: [(&str, libc::c_long); 10] = [
    ("open_tree", libc::SYS_open_tree),
    ("move_mount", libc::SYS_move_mount),
    ("fsopen", libc::SYS_fsopen),
    ("fsconfig", libc::SYS_fsconfig),
    ("fsmount", libc::SYS_fsmount),
    ("fspick", libc::SYS_fspick),
    ("mount_setattr", libc::SYS_mount_setattr),
    ("openat2", libc::SYS_openat2),
    ("close_range", libc::SYS_close_range),
    ("clone3", libc::SYS_clone3),
];

/// `rules` compiled, in a file bwrap reads with `--seccomp FD`.
fn filter_file(rules: &[SyscallRule]) -> std::fs::File {
    let mut filter = tempfile();
    for instruction in &compile(rules) {
        filter.write_all(&instruction.code.to_ne_bytes()).unwrap();
        filter.write_all(&[instruction.jt, instruction.jf]).unwrap();
        filter.write_all(&instruction.k.to_ne_bytes()).unwrap();
    }
    filter
}

/// Filter rules answering `errno` for each of `calls`.
fn hiding(calls: &[(&'static str, libc::c_long)], errno: i32) -> Vec<SyscallRule> {
    calls
        .iter()
        .map(|&(syscall, number)| SyscallRule { syscall, number, allow_if: vec![], errno, note: None })
        .collect()
}

/// Runs the sandbox binary with `args` as `user` in `cwd`, under `filter` (installed by bwrap
/// just before it starts the binary, so only the binary and what it starts see it).
fn run_filtered(filter: &mut std::fs::File, user: User, cwd: &Path, args: &[&str]) -> Output {
    use std::os::unix::process::CommandExt;
    filter.rewind().unwrap();
    let fd = filter.as_raw_fd().to_string();
    let mut command = Command::new(bwrap().unwrap());
    command
        .args(["--dev-bind", "/", "/", "--seccomp", &fd, "--"])
        .arg(common::binary())
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("LC_ALL", "C");
    if user == User::Nobody {
        command.uid(65534).gid(65534);
    }
    preserve_fd(&mut command, filter.as_raw_fd()).output().unwrap()
}

#[test]
fn on_a_kernel_without_the_new_mount_api_openat2_and_close_range_the_namespace_pipeline_runs_classic_mounts() {
    if bwrap().is_none() {
        return;
    }
    let mut filter = filter_file(&hiding(&NEWER_THAN_5_4, libc::ENOSYS));
    for user in common::users() {
        if !common::userns_available(user) {
            common::skip(format!("user namespaces unavailable to {user:?}"));
            continue;
        }
        let scratch = Scratch::new(user, "old-kernel");
        let work = scratch.dir("work");
        scratch.dir("work/.git");
        scratch.file("outside/keep", "host");
        let run = |filter: &mut std::fs::File, args: &[&str]| run_filtered(filter, user, &work, args);

        let output = run(&mut filter, &["--sandbox-policy", common::WORKSPACE, "--explain", "--", "/bin/true"]);
        assert!(output.status.success(), "{user:?}: {}", stderr(&output));
        let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(plan["pipeline"], "bwrap", "{user:?}: {}", plan["pipeline_reason"]);
        assert_eq!(plan["launcher"]["mount_api"], "classic", "{user:?}");
        assert_eq!(plan["launcher"]["open_without_symlinks"], "O_NOFOLLOW component walk", "{user:?}");

        // Inside: the workspace is writable, the rest of the host and .git are not (EROFS),
        // /dev works, the PID namespace shows only the sandbox, the seccomp filter still holds
        // (the namespace pipeline's network namespace has no interface but lo).
        let script = "touch inside && echo inside-ok; \
                      touch ../outside/new 2>&1; (echo x >> ../outside/keep) 2>&1; touch .git/hook 2>&1; \
                      echo hi > /dev/null && echo devnull-ok; \
                      cat /proc/1/comm; test -e /proc/$0 && echo host-pid-visible; \
                      mount -t tmpfs none .git 2>&1 || true";
        let sandboxed = |pipeline: &str| {
            let host_pid = std::process::id().to_string();
            ["--pipeline", pipeline, "--sandbox-policy", common::WORKSPACE, "--", "/bin/sh", "-c", script, &host_pid]
                .map(String::from)
        };
        let args = sandboxed("bwrap");
        let output = run(&mut filter, &args.iter().map(String::as_str).collect::<Vec<_>>());
        let out = common::stdout(&output);
        assert!(output.status.success(), "{user:?}: {out} {}", stderr(&output));
        assert!(out.contains("inside-ok"), "{user:?}: {out}");
        assert_eq!(out.matches("Read-only file system").count(), 3, "{user:?}: outside and .git are read-only: {out}");
        assert!(out.contains("devnull-ok"), "{user:?}: {out}");
        assert!(out.lines().any(|line| line == "codex-linux-san"), "{user:?}: our init is PID 1: {out}");
        assert!(!out.contains("host-pid-visible"), "{user:?}: a fresh /proc: {out}");
        assert!(scratch.path.join("work/inside").exists(), "{user:?}");
        assert!(!scratch.path.join("outside/new").exists(), "{user:?}: wrote outside the workspace");
        assert_eq!(std::fs::read_to_string(scratch.path.join("outside/keep")).unwrap(), "host");
        assert!(!scratch.path.join("work/.git/hook").exists(), "{user:?}: wrote into .git");
        std::fs::remove_file(scratch.path.join("work/inside")).unwrap();

        // The Landlock pipeline's protected binds take the same path, in place.
        let args = sandboxed("landlock");
        let output = run(&mut filter, &args.iter().map(String::as_str).collect::<Vec<_>>());
        let out = common::stdout(&output);
        assert!(output.status.success(), "{user:?}: {out} {}", stderr(&output));
        assert!(out.contains("inside-ok"), "{user:?}: {out}");
        assert_eq!(out.matches("Permission denied").count(), 2, "{user:?}: Landlock refuses outside: {out}");
        assert!(out.contains("touch: cannot touch '.git/hook': Read-only file system"), "{user:?}: {out}");
        assert!(!scratch.path.join("outside/new").exists(), "{user:?}");
        assert!(!scratch.path.join("work/.git/hook").exists(), "{user:?}");
    }
}

fn tempfile() -> std::fs::File {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("codex-sandbox-filter-{}-{n}", std::process::id()));
    let file = std::fs::OpenOptions::new().create(true).truncate(true).read(true).write(true).open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    file
}

/// Lets `bwrap` inherit `fd` (Rust opens files close-on-exec).
fn preserve_fd(command: &mut Command, fd: i32) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: fcntl on a descriptor we own is async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            libc::fcntl(fd, libc::F_SETFD, 0);
            Ok(())
        })
    }
}
