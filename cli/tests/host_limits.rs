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
    assert!(stderr(&output).contains("cannot create a user namespace"), "{}", stderr(&output));
    assert!(stderr(&output).contains("user.max_user_namespaces"), "says what to do: {}", stderr(&output));
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
    assert!(reason.contains("cannot create user, mount and PID namespaces"), "the cause: {reason}");
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
    let program = compile(&rules);
    let mut filter = tempfile();
    for instruction in &program {
        filter.write_all(&instruction.code.to_ne_bytes()).unwrap();
        filter.write_all(&[instruction.jt, instruction.jf]).unwrap();
        filter.write_all(&instruction.k.to_ne_bytes()).unwrap();
    }
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

fn tempfile() -> std::fs::File {
    let path = std::env::temp_dir().join(format!("codex-sandbox-filter-{}", std::process::id()));
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
