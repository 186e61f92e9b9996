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
        assert!(
            stderr(&output).contains("5.13") && stderr(&output).contains("lsm="),
            "the remedy: {}",
            stderr(&output)
        );
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
    run_filtered_with(filter, user, cwd, args, &[])
}

/// [`run_filtered`] with `env` added to the binary's environment.
fn run_filtered_with(
    filter: &mut std::fs::File,
    user: User,
    cwd: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Output {
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
        .env("LC_ALL", "C")
        .envs(env.iter().copied());
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
                      mount -t tmpfs none .git 2>&1 || true; \
                      (exec 3>>/proc/sys/kernel/core_pattern && echo sysctl-open) 2>&1 | sed 's/^/sysctl: /'";
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
        let refused =
            out.lines().filter(|line| !line.starts_with("sysctl: ") && line.contains("Read-only file system"));
        assert_eq!(refused.count(), 3, "{user:?}: outside and .git are read-only: {out}");
        assert!(out.contains("devnull-ok"), "{user:?}: {out}");
        assert!(out.lines().any(|line| line == "codex-linux-san"), "{user:?}: our init is PID 1: {out}");
        assert!(!out.contains("host-pid-visible"), "{user:?}: a fresh /proc: {out}");
        // The host's sysctls stay read-only on the classic path too (opened, never written).
        let sysctl = out.lines().find(|line| line.starts_with("sysctl: ")).unwrap_or_default();
        let expected = if user.ids().0 == 0 { "Read-only file system" } else { "Permission denied" };
        assert!(sysctl.contains(expected) && !sysctl.contains("sysctl-open"), "{user:?}: {sysctl}");
        assert!(scratch.path.join("work/inside").exists(), "{user:?}");
        assert!(!scratch.path.join("outside/new").exists(), "{user:?}: wrote outside the workspace");
        assert_eq!(std::fs::read_to_string(scratch.path.join("outside/keep")).unwrap(), "host");
        assert!(!scratch.path.join("work/.git/hook").exists(), "{user:?}: wrote into .git");
        std::fs::remove_file(scratch.path.join("work/inside")).unwrap();

        // The other views on the classic path: restricted read (an empty root with readable
        // binds, sealed read-only), full network (host sockets masked), deny-read (a file
        // masked without device access).
        let secret = scratch.file("work/secret.txt", "secret");
        let restricted = r#"{"type":"read-only","access":{"type":"restricted","readable_roots":["/etc"]}}"#;
        let script = "cat /etc/hostname > /dev/null && echo etc-readable; cat ../outside/keep 2>&1; \
                      touch /etc/x 2>&1; touch / 2>&1; ls /bin/sh > /dev/null && echo bin-ok";
        let args = ["--pipeline", "bwrap", "--sandbox-policy", restricted, "--", "/bin/sh", "-c", script];
        let output = run(&mut filter, &args);
        let out = common::stdout(&output);
        assert!(out.contains("etc-readable") && out.contains("bin-ok"), "{user:?}: {out} {}", stderr(&output));
        assert!(out.contains("No such file or directory"), "{user:?}: outside is hidden: {out}");
        assert_eq!(out.matches("Read-only file system").count(), 2, "{user:?}: {out}");
        let full_network = r#"{"type":"read-only","network_access":true}"#;
        let args = ["--pipeline", "bwrap", "--sandbox-policy", full_network, "--", "/bin/sh", "-c", "echo ok"];
        let output = run(&mut filter, &args);
        assert_eq!(common::stdout(&output), "ok\n", "{user:?}: {}", stderr(&output));
        let profile = format!(
            r#"{{"type":"managed","file_system":{{"type":"restricted","entries":[
                {{"path":{{"type":"special","value":{{"kind":"root"}}}},"access":"read"}},
                {{"path":{{"type":"path","path":"{}"}},"access":"write"}},
                {{"path":{{"type":"path","path":"{}"}},"access":"deny"}}]}},"network":"restricted"}}"#,
            work.display(),
            secret.display()
        );
        let args = ["--pipeline", "bwrap", "--permission-profile", &profile, "--", "/bin/cat", "secret.txt"];
        let output = run(&mut filter, &args);
        assert_eq!(output.status.code(), Some(1), "{user:?}: {}", stderr(&output));
        assert!(stderr(&output).contains("Permission denied"), "{user:?}: {}", stderr(&output));
        assert_eq!(std::fs::read_to_string(&secret).unwrap(), "secret");
        std::fs::remove_file(&secret).unwrap();

        // The Landlock pipeline's read-only view (everything outside the writable roots, and the
        // protected binds) takes the same path, staged like the namespace pipeline's.
        let args = sandboxed("landlock");
        let output = run(&mut filter, &args.iter().map(String::as_str).collect::<Vec<_>>());
        let out = common::stdout(&output);
        assert!(output.status.success(), "{user:?}: {out} {}", stderr(&output));
        assert!(out.contains("inside-ok"), "{user:?}: {out}");
        let refused =
            out.lines().filter(|line| !line.starts_with("sysctl: ") && line.contains("Read-only file system"));
        assert_eq!(refused.count(), 3, "{user:?}: outside and .git are read-only: {out}");
        let sysctl = out.lines().find(|line| line.starts_with("sysctl: ")).unwrap_or_default();
        let denied = sysctl.contains("Read-only file system") || sysctl.contains("Permission denied");
        assert!(denied && !sysctl.contains("sysctl-open"), "{user:?}: {sysctl}");
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

/// Runs the sandbox binary with `args` as `user` in `cwd`, inside bwrap with `bwrap_args`
/// (private namespaces the test builds: a masked /proc, a read-only bind), no filter.
fn run_inside_bwrap(bwrap_args: &[&str], user: User, cwd: &Path, args: &[&str]) -> Output {
    use std::os::unix::process::CommandExt;
    let mut command = Command::new(bwrap().unwrap());
    command
        .args(["--dev-bind", "/", "/"])
        .args(bwrap_args)
        .arg("--")
        .arg(common::binary())
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("LC_ALL", "C");
    if user == User::Nobody {
        command.uid(65534).gid(65534);
    }
    command.output().unwrap()
}

/// `doctor --json`'s check named `name`.
fn doctor_check(report: &serde_json::Value, name: &str) -> serde_json::Value {
    report["checks"].as_array().unwrap().iter().find(|c| c["check"] == name).cloned().unwrap()
}

/// A container's seccomp profile (Docker's default, Kubernetes' RuntimeDefault): `clone` and
/// `unshare` with CLONE_NEWUSER refused (EPERM), `clone3` hidden (ENOSYS); the sysctls allow
/// user namespaces.
fn container_filter() -> Vec<SyscallRule> {
    use codex_sandbox_core::seccomp::Condition;
    let without_newuser = || Condition::ArgIn {
        arg: 0,
        mask: libc::CLONE_NEWUSER as u32,
        values: vec![0],
        meaning: "no new user namespace",
    };
    vec![
        SyscallRule {
            syscall: "clone",
            number: libc::SYS_clone,
            allow_if: vec![without_newuser()],
            errno: libc::EPERM,
            note: None,
        },
        SyscallRule {
            syscall: "unshare",
            number: libc::SYS_unshare,
            allow_if: vec![without_newuser()],
            errno: libc::EPERM,
            note: None,
        },
        SyscallRule { syscall: "clone3", number: libc::SYS_clone3, allow_if: vec![], errno: libc::ENOSYS, note: None },
    ]
}

#[test]
fn in_a_container_whose_seccomp_profile_refuses_user_namespaces_the_refusal_names_the_filter() {
    if bwrap().is_none() {
        return;
    }
    let mut filter = filter_file(&container_filter());
    for user in common::users() {
        let scratch = Scratch::new(user, "container-filter");
        let output = run_filtered(&mut filter, user, &scratch.path, &["doctor", "--json"]);
        assert_eq!(output.status.code(), Some(1), "{user:?}: workspace-write cannot run here");
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let namespaces = doctor_check(&report, "user, mount, PID, network namespaces");
        assert_eq!(namespaces["errno"], serde_json::json!(["EPERM", libc::EPERM]), "{user:?}: {namespaces}");
        let fix = namespaces["fix"].as_str().unwrap();
        assert!(fix.contains("Seccomp: 2") && fix.contains("Docker"), "{user:?}: the filter, not sysctls: {fix}");
        assert!(!fix.contains("max_user_namespaces is"), "{user:?}: {fix}");
        // The landlock pipeline's residual risks on this host kind, summarised.
        let risks = report["landlock_risks"].as_array().map(Vec::as_slice).unwrap_or_default();
        assert!(
            risks.iter().any(|risk| risk.as_str().is_some_and(|r| r.contains("no user namespaces: metadata calls"))),
            "{user:?}: {risks:?}"
        );
        let output = run_filtered(&mut filter, user, &scratch.path, &["--explain", "--", "true"]);
        let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let warnings = plan["warnings"].as_array().map(Vec::as_slice).unwrap_or_default();
        assert!(
            warnings
                .iter()
                .any(|w| w.as_str().is_some_and(|w| w.contains("performs them only inside the writable roots"))),
            "{user:?}: {warnings:?}"
        );

        let output = run_filtered(
            &mut filter,
            user,
            &scratch.path,
            &["--sandbox-policy", "workspace-write", "--", "touch", "ran"],
        );
        assert_eq!(output.status.code(), Some(125), "{user:?}: {}", stderr(&output));
        let refusal = stderr(&output);
        assert!(refusal.contains("Operation not permitted (os error 1)") && refusal.contains("seccomp"), "{refusal}");
        assert!(!scratch.path.join("ran").exists() && !scratch.path.join(".codex").exists(), "{user:?}");

        // --explain does not pretend: the bwrap pipeline is refused here too.
        let args = ["--pipeline", "bwrap", "--explain", "--", "true"];
        let output = run_filtered(&mut filter, user, &scratch.path, &args);
        assert_eq!(output.status.code(), Some(125), "{user:?}: {}", stderr(&output));
        assert!(output.stdout.is_empty() && stderr(&output).contains("the bwrap pipeline cannot be enforced"));

        // A read-only policy needs no namespace: auto runs it on Landlock, which holds.
        let output = run_filtered(&mut filter, user, &scratch.path, &["--", "touch", "ran"]);
        assert_eq!(output.status.code(), Some(1), "{user:?}: {}", stderr(&output));
        assert!(stderr(&output).contains("Permission denied"), "{user:?}: {}", stderr(&output));
        assert!(!scratch.path.join("ran").exists());
    }
}

#[test]
fn where_a_seccomp_profile_predating_landlock_refuses_it_the_refusal_says_so() {
    if bwrap().is_none() {
        return;
    }
    let calls = [
        ("landlock_create_ruleset", libc::SYS_landlock_create_ruleset),
        ("landlock_add_rule", libc::SYS_landlock_add_rule),
        ("landlock_restrict_self", libc::SYS_landlock_restrict_self),
    ];
    let mut filter = filter_file(&hiding(&calls, libc::EPERM));
    for user in common::users() {
        let scratch = Scratch::new(user, "landlock-eperm");
        let args = ["--pipeline", "landlock", "--", "touch", "ran"];
        let output = run_filtered(&mut filter, user, &scratch.path, &args);
        assert_eq!(output.status.code(), Some(125), "{user:?}: {}", stderr(&output));
        assert!(stderr(&output).contains("predates Landlock"), "{user:?}: {}", stderr(&output));
        assert!(!scratch.path.join("ran").exists());
        let report = run_filtered(&mut filter, user, &scratch.path, &["doctor", "--json"]);
        let report: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
        assert_eq!(doctor_check(&report, "Landlock")["errno"], serde_json::json!(["EPERM", libc::EPERM]));
    }
}

#[test]
fn without_proc_the_refusal_says_to_mount_it() {
    if bwrap().is_none() {
        return;
    }
    for user in common::users() {
        if !common::userns_available(user) {
            common::skip(format!("user namespaces unavailable to {user:?} (bwrap builds this host)"));
            continue;
        }
        let scratch = Scratch::new(user, "no-proc");
        let hide_proc = ["--tmpfs", "/proc"];
        let output = run_inside_bwrap(
            &hide_proc,
            user,
            &scratch.path,
            &["--sandbox-policy", "workspace-write", "--", "touch", "ran"],
        );
        assert_eq!(output.status.code(), Some(125), "{user:?}: {}", stderr(&output));
        let refusal = stderr(&output);
        assert!(refusal.contains("No such file or directory (os error 2)"), "{refusal}");
        assert!(refusal.contains("/proc is not mounted here") && refusal.contains("mount procfs"), "{refusal}");
        assert!(!refusal.contains("unprivileged_userns_clone"), "{refusal}");
        assert!(!scratch.path.join("ran").exists());
        let output = run_inside_bwrap(&hide_proc, user, &scratch.path, &["doctor", "--json"]);
        assert_eq!(output.status.code(), Some(1));
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert!(!report["kernel"].as_str().unwrap().is_empty(), "the kernel is read with uname(2)");
        let namespaces = doctor_check(&report, "user, mount, PID, network namespaces");
        assert_eq!(namespaces["errno"], serde_json::json!(["ENOENT", libc::ENOENT]), "{namespaces}");
    }
}

#[test]
fn a_read_only_workspace_runs_workspace_write_without_a_placeholder() {
    if bwrap().is_none() {
        return;
    }
    for user in common::users() {
        if !common::userns_available(user) {
            common::skip(format!("user namespaces unavailable to {user:?} (bwrap builds this host)"));
            continue;
        }
        let scratch = Scratch::new(user, "ro-workspace");
        let work = scratch.dir("src");
        scratch.dir("src/.git");
        let work_str = work.to_str().unwrap();
        // `docker run -v src:/src:ro`: the workspace is a read-only bind in the test's own
        // private mount namespace.
        let read_only = ["--ro-bind", work_str, work_str];
        let explain = ["--sandbox-policy", "workspace-write", "--explain", "--", "true"];
        let output = run_inside_bwrap(&read_only, user, &work, &explain);
        assert!(output.status.success(), "{user:?}: {}", stderr(&output));
        let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let skipped = plan["uncreatable_protected_paths"].as_array().unwrap();
        // Every missing protected name (`.git` exists here): none gets a placeholder.
        let names: Vec<String> = [".agents", ".codex", ".aws"].iter().map(|n| format!("{work_str}/{n}")).collect();
        let paths: Vec<&str> = skipped.iter().map(|entry| entry[0].as_str().unwrap()).collect();
        assert_eq!(paths, names, "{user:?}: {plan}");
        assert!(skipped.iter().all(|e| e[1].as_str().unwrap().contains("Read-only file system")), "{user:?}");
        let script = "touch new 2>&1; mkdir .codex 2>&1; touch .git/hook 2>&1; echo ran";
        let args = ["--sandbox-policy", "workspace-write", "--", "/bin/sh", "-c", script];
        let output = run_inside_bwrap(&read_only, user, &work, &args);
        let out = common::stdout(&output);
        assert!(output.status.success(), "{user:?}: {out} {}", stderr(&output));
        assert_eq!(out.matches("Read-only file system").count(), 3, "{user:?}: {out}");
        assert!(out.contains("ran"));
        assert!(!work.join(".codex").exists() && !work.join("new").exists() && !work.join(".git/hook").exists());
    }
}

#[test]
fn nested_inside_our_own_sandbox_workspace_write_is_refused_for_the_outer_sandbox_and_read_only_runs() {
    for user in common::users() {
        if !common::userns_available(user) {
            common::skip(format!("user namespaces unavailable to {user:?}"));
            continue;
        }
        let scratch = Scratch::new(user, "nested");
        let inner = |policy: &str| {
            let binary = common::binary().to_str().unwrap().to_owned();
            common::Run::new(user, &scratch.path).policy("workspace-write").output(&[
                &binary,
                "--sandbox-policy",
                policy,
                "--",
                "touch",
                "ran",
            ])
        };
        let output = inner("workspace-write");
        assert_eq!(output.status.code(), Some(125), "{user:?}: {}", stderr(&output));
        let refusal = stderr(&output);
        assert!(refusal.contains("already runs confined") && refusal.contains("NoNewPrivs: 1"), "{refusal}");
        assert!(!refusal.contains("unprivileged_userns_clone"), "{refusal}");
        assert!(!scratch.path.join("ran").exists());
        // Landlock stacks: the inner read-only sandbox runs and refuses the write.
        let output = inner("read-only");
        assert_eq!(output.status.code(), Some(1), "{user:?}: {}", stderr(&output));
        assert!(stderr(&output).contains("Permission denied"), "{user:?}: {}", stderr(&output));
        assert!(!scratch.path.join("ran").exists());
    }
}

#[test]
fn where_lo_cannot_be_raised_proxy_mode_takes_landlock_and_the_namespace_pipeline_refuses() {
    if bwrap().is_none() {
        return;
    }
    use codex_sandbox_core::seccomp::Condition;
    // AppArmor-restricted hosts and gVisor refuse the interface change.
    let rules = vec![SyscallRule {
        syscall: "ioctl",
        number: libc::SYS_ioctl,
        allow_if: vec![Condition::ArgNotIn {
            arg: 1,
            mask: u32::MAX,
            values: vec![libc::SIOCSIFFLAGS as u32],
            meaning: "not SIOCSIFFLAGS",
        }],
        errno: libc::EPERM,
        note: None,
    }];
    let mut filter = filter_file(&rules);
    for user in common::users() {
        if !common::userns_available(user) {
            common::skip(format!("user namespaces unavailable to {user:?}"));
            continue;
        }
        let scratch = Scratch::new(user, "no-lo");
        let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = proxy.local_addr().unwrap().port();
        let proxy_url = format!("http://127.0.0.1:{port}");
        let env = [("HTTP_PROXY", proxy_url.as_str())];
        let script = format!("echo through-the-proxy > /dev/tcp/127.0.0.1/{port} && echo sent");
        let run = |filter: &mut std::fs::File, pipeline: &str, explain: bool| {
            let mut args =
                vec!["--pipeline", pipeline, "--allow-network-for-proxy", "--sandbox-policy", common::WORKSPACE];
            if explain {
                args.push("--explain");
            }
            args.extend(["--", "/bin/bash", "-c", &script]);
            run_filtered_with(filter, user, &scratch.path, &args, &env)
        };
        // Explicitly on the namespace pipeline: refused before anything runs, naming lo.
        let output = run(&mut filter, "bwrap", false);
        assert_eq!(output.status.code(), Some(125), "{user:?}: {}", stderr(&output));
        let refusal = stderr(&output);
        assert!(refusal.contains("bring up lo") && refusal.contains("Operation not permitted"), "{refusal}");
        // auto: Landlock (ABI ≥ 4 here) reaches the proxy without a network namespace.
        let output = run(&mut filter, "auto", true);
        let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(plan["pipeline"], "landlock", "{user:?}: {}", plan["pipeline_reason"]);
        assert!(plan["pipeline_reason"].as_str().unwrap().contains("bring up lo"), "{}", plan["pipeline_reason"]);
        proxy.set_nonblocking(true).unwrap();
        let output = run(&mut filter, "auto", false);
        assert!(output.status.success(), "{user:?}: {} {}", common::stdout(&output), stderr(&output));
        let (mut stream, _) = proxy.accept().expect("the command reached the proxy");
        stream.set_nonblocking(false).unwrap();
        stream.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
        let mut received = String::new();
        std::io::Read::read_to_string(&mut stream, &mut received).unwrap();
        assert_eq!(received, "through-the-proxy\n", "{user:?}");
        let report = run_filtered(&mut filter, user, &scratch.path, &["doctor", "--json"]);
        let report: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
        let lo = doctor_check(&report, "lo up in a new network namespace");
        assert_eq!(lo["errno"], serde_json::json!(["EPERM", libc::EPERM]), "{user:?}: {lo}");
        assert!(lo["fix"].as_str().unwrap().contains("--pipeline landlock"), "{lo}");
    }
}

#[test]
fn a_setup_failure_inside_an_installed_bwrap_exits_125_with_a_prefixed_message() {
    if bwrap().is_none() {
        return;
    }
    // bwrap always pivots into its new root; the embedded launcher needs no pivot for a
    // read-only view of `/`, so only the installed bwrap fails its setup here.
    let mut filter = filter_file(&hiding(&[("pivot_root", libc::SYS_pivot_root)], libc::EPERM));
    for user in common::users() {
        if !common::userns_available(user) {
            common::skip(format!("user namespaces unavailable to {user:?}"));
            continue;
        }
        let scratch = Scratch::new(user, "bwrap-setup");
        let run = |filter: &mut std::fs::File, extra: &[&str]| {
            let mut args = vec!["--pipeline", "bwrap"];
            args.extend(extra);
            args.extend(["--", "/bin/sh", "-c", "touch ran; exit 1"]);
            run_filtered(filter, user, &scratch.path, &args)
        };
        let output = run(&mut filter, &["--bwrap-path", "/usr/bin/bwrap"]);
        assert_eq!(output.status.code(), Some(125), "{user:?}: {}", stderr(&output));
        let message = stderr(&output);
        assert!(message.contains("bwrap: "), "bwrap's own message stays: {message}");
        assert!(
            message.contains("codex-linux-sandbox: sandbox setup failed: set up the sandbox with the installed bwrap"),
            "{message}"
        );
        assert!(!scratch.path.join("ran").exists());
        // The embedded launcher runs the command, whose own exit 1 is kept.
        let output = run(&mut filter, &[]);
        assert_eq!(output.status.code(), Some(1), "{user:?}: {}", stderr(&output));
        assert!(stderr(&output).contains("Read-only file system"), "{user:?}: {}", stderr(&output));
    }
}

#[test]
fn with_a_read_only_tmp_the_classic_path_still_stages_its_view() {
    if bwrap().is_none() {
        return;
    }
    let mut filter = filter_file(&hiding(&NEWER_THAN_5_4, libc::ENOSYS));
    for user in common::users() {
        if !common::userns_available(user) {
            common::skip(format!("user namespaces unavailable to {user:?}"));
            continue;
        }
        let scratch = Scratch::new(user, "ro-tmp");
        let work = scratch.dir("work");
        let work_str = work.to_str().unwrap().to_owned();
        // /tmp read-only (the staging tmpfs goes on a directory of it), the workspace writable.
        filter.rewind().unwrap();
        let fd = filter.as_raw_fd().to_string();
        let mut command = Command::new(bwrap().unwrap());
        command
            .args(["--dev-bind", "/", "/", "--ro-bind", "/tmp", "/tmp", "--bind", &work_str, &work_str])
            .args(["--seccomp", &fd, "--"])
            .arg(common::binary())
            .args(["--sandbox-policy", common::WORKSPACE, "--", "/bin/sh", "-c", "touch inside && touch /tmp/x 2>&1"])
            .current_dir(&work)
            .env_clear()
            .env("PATH", "/usr/bin:/bin");
        if user == User::Nobody {
            use std::os::unix::process::CommandExt;
            command.uid(65534).gid(65534);
        }
        let output = preserve_fd(&mut command, filter.as_raw_fd()).output().unwrap();
        let out = common::stdout(&output);
        assert!(out.contains("Read-only file system"), "{user:?}: {out} {}", stderr(&output));
        assert!(work.join("inside").exists(), "{user:?}: {}", stderr(&output));
        assert!(!Path::new("/tmp/x").exists());
    }
}

#[test]
fn where_a_filter_refuses_the_mount_family_the_refusal_names_the_mount_step() {
    if bwrap().is_none() {
        return;
    }
    let calls = [("mount", libc::SYS_mount), ("umount2", libc::SYS_umount2), ("pivot_root", libc::SYS_pivot_root)];
    let mut filter = filter_file(&hiding(&calls, libc::EPERM));
    for user in common::users() {
        let scratch = Scratch::new(user, "no-mount");
        let args = ["--sandbox-policy", "workspace-write", "--", "touch", "ran"];
        let output = run_filtered(&mut filter, user, &scratch.path, &args);
        assert_eq!(output.status.code(), Some(125), "{user:?}: {}", stderr(&output));
        let refusal = stderr(&output);
        assert!(
            refusal.contains("make the mount tree private in a new mount namespace: Operation not permitted"),
            "{refusal}"
        );
        assert!(refusal.contains("Seccomp: 2"), "the filter is named: {refusal}");
        assert!(!scratch.path.join("ran").exists() && !scratch.path.join(".codex").exists());
        let output = run_filtered(&mut filter, user, &scratch.path, &["--", "touch", "ran"]);
        assert_eq!(output.status.code(), Some(1), "{user:?}: read-only runs on Landlock: {}", stderr(&output));
        assert!(!scratch.path.join("ran").exists());
    }
}

/// Without `close_range` (kernels before 5.9, or a profile that hides it) the child lists its
/// descriptors from `/proc/self/fd` instead of trying numbers up to the descriptor limit: a
/// descriptor the launcher inherited above its current limit (the limit was lowered after it
/// was opened) must not reach the command either.
#[test]
fn without_close_range_a_descriptor_above_the_limit_does_not_reach_the_command() {
    use std::os::unix::process::CommandExt;
    if bwrap().is_none() {
        return;
    }
    const HIGH: i32 = 5000;
    let mut filter = filter_file(&hiding(&[("close_range", libc::SYS_close_range)], libc::ENOSYS));
    let leaked = tempfile();
    for user in common::users() {
        let scratch = Scratch::new(user, "no-close-range");
        let work = scratch.dir("work");
        for pipeline in ["landlock", "bwrap"] {
            if pipeline == "bwrap" && !common::userns_available(user) {
                common::skip(format!("user namespaces unavailable to {user:?}"));
                continue;
            }
            filter.rewind().unwrap();
            let fd = filter.as_raw_fd();
            let source = leaked.as_raw_fd();
            let mut command = Command::new(bwrap().unwrap());
            command
                .args(["--dev-bind", "/", "/", "--seccomp", &fd.to_string(), "--"])
                .arg(common::binary())
                .args(["--pipeline", pipeline, "--sandbox-policy", r#"{"type":"read-only"}"#, "--"])
                .args(["/bin/sh", "-c", "ls /proc/self/fd"])
                .current_dir(&work)
                .env_clear()
                .env("PATH", "/usr/bin:/bin");
            if user == User::Nobody {
                command.uid(65534).gid(65534);
            }
            // SAFETY: dup2, fcntl and setrlimit are async-signal-safe.
            unsafe {
                command.pre_exec(move || {
                    libc::fcntl(fd, libc::F_SETFD, 0);
                    if libc::dup2(source, HIGH) != HIGH {
                        return Err(std::io::Error::last_os_error());
                    }
                    let limit = libc::rlimit { rlim_cur: 1024, rlim_max: 1024 };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            let output = command.output().unwrap();
            let out = common::stdout(&output);
            assert!(output.status.success(), "{user:?} {pipeline}: {out} {}", stderr(&output));
            let fds: Vec<&str> = out.split_whitespace().collect();
            assert!(fds.contains(&"0") && fds.contains(&"2"), "{user:?} {pipeline}: {out}");
            assert!(!fds.contains(&HIGH.to_string().as_str()), "{user:?} {pipeline}: fd {HIGH} leaked: {out}");
            assert!(fds.iter().all(|fd| fd.parse::<i32>().is_ok_and(|fd| fd <= 3)), "{user:?} {pipeline}: {out}");
        }
    }
}

/// Copies `binary` and the shared objects `ldd` lists for it into `tree`, at the same paths
/// (the binary itself at `tree/name`).
fn copy_with_libraries(binary: &Path, tree: &Path, name: &str) {
    std::fs::copy(binary, tree.join(name)).unwrap();
    let ldd = Command::new("ldd").arg(binary).output().unwrap();
    assert!(ldd.status.success(), "ldd {}: {}", binary.display(), stderr(&ldd));
    for line in String::from_utf8(ldd.stdout).unwrap().lines() {
        // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)"
        let Some(library) = line.split_whitespace().find(|word| word.starts_with('/')) else { continue };
        let target = tree.join(library.trim_start_matches('/'));
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(library, &target).unwrap();
    }
}

/// Runs, as root, in a private mount and PID namespace (procfs remounted for it, so PID 1 is
/// the shell below, in this mount namespace): `chroot --userspec USER TREE`, then
/// `/codex-linux-sandbox ARGS` in `/work` (with `TREE` first bind-mounted on itself when
/// `mount_point`), or without `tree` the binary unchrooted, as `user`. Nothing outside the new
/// mount namespace changes.
fn run_in_namespaces(tree: Option<&Path>, mount_point: bool, user: User, args: &[&str]) -> Output {
    let (uid, gid) = user.ids();
    let script = r#"
        set -e
        tree=$1 userspec=$2 bind=$3 binary=$4
        shift 4
        if [ -z "$tree" ]; then
            status=0
            cd /tmp
            setpriv --reuid "${userspec%:*}" --regid "${userspec#*:}" --clear-groups "$binary" "$@" || status=$?
            exit "$status"
        fi
        [ "$bind" = 0 ] || mount --bind "$tree" "$tree"
        mount -t proc proc "$tree/proc"
        # Not exec'd: this shell stays PID 1, with the namespace's root.
        status=0
        chroot --userspec="$userspec" "$tree" /sh -c 'cd /work && exec /codex-linux-sandbox "$@"' sh "$@" || status=$?
        exit "$status"
    "#;
    Command::new("unshare")
        .args(["--mount", "--pid", "--fork", "--mount-proc", "--", "sh", "-c", script, "sh"])
        .arg(tree.map(Path::as_os_str).unwrap_or_default())
        .arg(format!("{uid}:{gid}"))
        .arg(if mount_point { "1" } else { "0" })
        .arg(common::binary())
        .args(args)
        .current_dir("/")
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LC_ALL", "C")
        .output()
        .unwrap()
}

#[test]
fn in_a_chroot_the_refusal_names_the_chroot_for_root_and_for_65534() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        common::skip("building a chroot needs root (CI runs as root)");
        return;
    }
    for user in common::users() {
        // The tree belongs to root (as a chroot would); only /work is the user's.
        let scratch = Scratch::new(User::Current, "chroot");
        let tree = scratch.dir("root");
        copy_with_libraries(common::binary(), &tree, "codex-linux-sandbox");
        copy_with_libraries(Path::new("/usr/bin/touch"), &tree, "touch");
        copy_with_libraries(&std::fs::canonicalize("/bin/sh").unwrap(), &tree, "sh");
        std::fs::create_dir(tree.join("proc")).unwrap();
        std::fs::create_dir(tree.join("work")).unwrap();
        let (uid, gid) = user.ids();
        std::os::unix::fs::chown(tree.join("work"), Some(uid), Some(gid)).unwrap();
        for dir in [&scratch.path, &tree] {
            std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        }

        // A chroot into a plain directory (no mount at the new root: any uid sees that), and
        // into a mount point (seen in PID 1's mountinfo as mounted elsewhere).
        for mount_point in [false, true] {
            let case = format!("{user:?}, chroot into a {}", if mount_point { "mount point" } else { "directory" });
            let output = run_in_namespaces(Some(&tree), mount_point, user, &["doctor", "--json"]);
            let report: serde_json::Value = serde_json::from_slice(&output.stdout)
                .unwrap_or_else(|e| panic!("{case}: doctor: {e}: {}", stderr(&output)));
            assert_eq!(report["evidence"]["chroot"], true, "{case}: {}", report["evidence"]);
            let namespaces = doctor_check(&report, "user, mount, PID, network namespaces");
            // The kernel refuses user namespaces in a chroot (EPERM), for root too.
            assert_eq!(namespaces["errno"], serde_json::json!(["EPERM", libc::EPERM]), "{case}: {namespaces}");
            let fix = namespaces["fix"].as_str().unwrap();
            assert!(fix.starts_with("this process runs in a chroot"), "{case}: {fix}");

            let args = ["--sandbox-policy", "workspace-write", "--", "/touch", "/work/ran"];
            let output = run_in_namespaces(Some(&tree), mount_point, user, &args);
            assert_eq!(output.status.code(), Some(125), "{case}: {}", stderr(&output));
            assert!(stderr(&output).contains("runs in a chroot"), "{case}: {}", stderr(&output));
            assert!(!tree.join("work/ran").exists(), "{case}");
            // A read-only policy runs on Landlock, which holds in a chroot.
            let output = run_in_namespaces(Some(&tree), mount_point, user, &["--", "/touch", "/work/ran"]);
            assert_eq!(output.status.code(), Some(1), "{case}: {}", stderr(&output));
            assert!(stderr(&output).contains("Permission denied"), "{case}: {}", stderr(&output));
            assert!(!tree.join("work/ran").exists(), "{case}");
        }

        // The same namespaces without the chroot: the root is PID 1's.
        let output = run_in_namespaces(None, false, user, &["doctor", "--json"]);
        let report: serde_json::Value =
            serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{user:?}: {e}: {}", stderr(&output)));
        assert_eq!(report["evidence"]["chroot"], false, "{user:?}: {}", report["evidence"]);
    }
}

/// The uid the installed-bwrap host runs the sandbox as. Not 65534: a setuid bwrap maps the
/// overflow uid (65534) as the sandbox's root when it mounts `/dev`, and the kernel refuses a
/// second map line for the same outer uid (`bwrap: setting up uid map: Invalid argument`).
const SETUID_BWRAP_USER: u32 = 1000;

/// A host that refuses our user namespaces but grants them to its installed bwrap (Ubuntu
/// 24.04's AppArmor does it per executable; no AppArmor here). Built with kernel limits only,
/// in namespaces this function creates: a user namespace mapping uids 0-65535 to themselves, in
/// which `user.max_user_namespaces` is `QUOTA` and holder processes (`unshare --user sleep`)
/// use up the quota of the sandbox's uid (and 65534's). The namespaces a user may create are
/// counted per effective uid, so a setuid-root copy of Debian's bwrap, bind-mounted over
/// `/usr/bin/bwrap` in a private mount namespace, still creates them. Runs
/// `codex-linux-sandbox ARGS` there as `uid` in `cwd`. Seccomp cannot build this host: a
/// filter is inherited by the bwrap the binary starts, and bwrap's `clone` carries the same
/// flags as the probe's.
fn run_on_a_host_whose_bwrap_alone_gets_user_namespaces(
    bwrap_copy: &Path,
    uid: u32,
    cwd: &Path,
    args: &[&str],
) -> Output {
    use std::process::Stdio;
    const HOST: &str = r#"
        set -e
        copy=$1 binary=$2 work=$3 uid=$4
        shift 4
        quota=4
        echo "$quota" > /proc/sys/user/max_user_namespaces
        mount --bind "$copy" /usr/bin/bwrap
        own=$(readlink /proc/self/ns/user)
        for holder in $(printf '%s\n' "$uid" 65534 | sort -u); do
            n=0
            while [ "$n" -lt "$quota" ]; do
                n=$((n + 1))
                setpriv --reuid "$holder" --regid "$holder" --clear-groups unshare --user sleep 600 &
                pid=$!
                i=0
                until ns=$(readlink "/proc/$pid/ns/user") && [ "$ns" != "$own" ]; do
                    i=$((i + 1))
                    [ "$i" -lt 500 ] || { echo "holder $holder did not enter its namespace" >&2; exit 99; }
                    sleep 0.01
                done
            done
        done
        # The holders end with this PID namespace, when this shell (its PID 1) exits.
        cd "$work"
        status=0
        setpriv --reuid "$uid" --regid "$uid" --clear-groups "$binary" "$@" || status=$?
        exit "$status"
    "#;
    // `unshare --user` without a map (util-linux would need newuidmap for a range): the shell
    // waits on stdin until this process, root outside, has written the maps.
    let mut child = Command::new("unshare")
        .args(["--user", "--", "sh", "-c"])
        .arg(r#"read _; exec unshare --mount --pid --fork --mount-proc -- sh -c "$0" sh "$@" </dev/null"#)
        .arg(HOST)
        .arg(bwrap_copy)
        .arg(common::binary())
        .arg(cwd)
        .arg(uid.to_string())
        .args(args)
        .current_dir("/")
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LC_ALL", "C")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let own = std::fs::read_link("/proc/self/ns/user").unwrap();
    let pid = child.id();
    let mut waited = 0;
    while std::fs::read_link(format!("/proc/{pid}/ns/user")).is_ok_and(|ns| ns == own) {
        waited += 1;
        assert!(waited < 5_000, "unshare --user did not enter its namespace");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    for map in ["uid_map", "gid_map"] {
        std::fs::write(format!("/proc/{pid}/{map}"), "0 0 65536\n").unwrap();
    }
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn where_only_the_installed_bwrap_gets_user_namespaces_auto_runs_it_sandboxed() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        common::skip("building a host with a setuid bwrap needs root (CI runs as root)");
        return;
    }
    if bwrap().is_none() {
        return;
    }
    use std::os::unix::fs::{PermissionsExt, chown};
    // The setuid copy sits in a directory only root can enter: on the host nobody else can run
    // it; inside the test's mount namespace it is reached as /usr/bin/bwrap.
    let private = Scratch::new(User::Current, "setuid-bwrap");
    std::fs::set_permissions(&private.path, std::fs::Permissions::from_mode(0o700)).unwrap();
    let copy = private.path.join("bwrap");
    std::fs::copy("/usr/bin/bwrap", &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o4755)).unwrap();

    let scratch = Scratch::new(User::Current, "installed-bwrap-host");
    for dir in ["work", "outside"] {
        let path = scratch.dir(dir);
        chown(&path, Some(SETUID_BWRAP_USER), Some(SETUID_BWRAP_USER)).unwrap();
    }
    let host_file = scratch.path.join("outside/host");
    std::fs::write(&host_file, "original").unwrap();
    chown(&host_file, Some(SETUID_BWRAP_USER), Some(SETUID_BWRAP_USER)).unwrap();
    let work = scratch.path.join("work");
    let run = |uid: u32, args: &[&str]| run_on_a_host_whose_bwrap_alone_gets_user_namespaces(&copy, uid, &work, args);

    let output = run(SETUID_BWRAP_USER, &["doctor", "--json"]);
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("doctor: {e}: {}", stderr(&output)));
    assert_eq!(output.status.code(), Some(0), "workspace-write runs here: {}", stderr(&output));
    let namespaces = doctor_check(&report, "user, mount, PID, network namespaces");
    assert_eq!(namespaces["errno"], serde_json::json!(["ENOSPC", libc::ENOSPC]), "{namespaces}");
    let installed = doctor_check(&report, "installed bwrap");
    assert_eq!(installed["ok"], true, "{installed}");
    assert_eq!(installed["meaning"], "/usr/bin/bwrap creates namespaces here: auto runs it", "{installed}");
    assert_eq!(report["auto_pipeline"], "bwrap", "{report}");

    let output = run(SETUID_BWRAP_USER, &["--sandbox-policy", common::WORKSPACE, "--explain", "--", "true"]);
    let plan: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("--explain: {e}: {}", stderr(&output)));
    assert_eq!(plan["pipeline"], "bwrap", "{plan}");
    let reason = plan["pipeline_reason"].as_str().unwrap();
    assert!(reason.contains("but /usr/bin/bwrap creates its namespaces"), "{reason}");

    // Sandboxed: the workspace write lands; a file its owner could write outside the
    // workspace is read-only (EROFS, not the EACCES an unconfined write to /etc would get).
    let script = format!("echo ok > here; echo changed > {}", host_file.display());
    // (common::WORKSPACE: /tmp, where the scratch directories are, is not writable.)
    let output = run(SETUID_BWRAP_USER, &["--sandbox-policy", common::WORKSPACE, "--", "sh", "-c", &script]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("Read-only file system"), "{}", stderr(&output));
    assert_eq!(std::fs::read_to_string(work.join("here")).unwrap(), "ok\n");
    assert_eq!(std::fs::read_to_string(&host_file).unwrap(), "original", "the host file is untouched");

    // uid 65534 on the same host: the installed bwrap cannot map it (see SETUID_BWRAP_USER),
    // the probe sees that, and workspace-write is refused without running.
    let output = run(65534, &["doctor", "--json"]);
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("doctor as 65534: {e}: {}", stderr(&output)));
    let installed = doctor_check(&report, "installed bwrap");
    assert_eq!(installed["meaning"], "/usr/bin/bwrap is installed but cannot create its namespaces here either");
    assert_eq!(report["auto_pipeline"], "landlock", "{report}");
    // Landlock cannot protect .codex without a namespace: refused, every pipeline's cause named.
    let nobody = Scratch::new(User::Nobody, "installed-bwrap-host-65534");
    let (nobody_work, nobody_file) = (nobody.dir("work"), nobody.file("outside/host", "original"));
    let script = format!("echo ok > here; echo changed > {}", nobody_file.display());
    let output = run_on_a_host_whose_bwrap_alone_gets_user_namespaces(
        &copy,
        65534,
        &nobody_work,
        &["--sandbox-policy", common::WORKSPACE, "--", "sh", "-c", &script],
    );
    assert_eq!(output.status.code(), Some(125), "{}", stderr(&output));
    let refusal = stderr(&output);
    assert!(refusal.contains("No space left on device (os error 28)"), "{refusal}");
    assert!(
        refusal.contains("Installed bwrap: ") && refusal.contains("Landlock pipeline: the protected paths"),
        "{refusal}"
    );
    assert!(!nobody_work.join("here").exists(), "nothing ran");
    assert_eq!(std::fs::read_to_string(&nobody_file).unwrap(), "original");
}

/// The CLI plans for a host where the probe's namespace checks pass and probes only when that
/// spawn fails: where user namespaces are refused (nested in `bwrap --disable-userns`) the first
/// spawn fails at its clone and the run falls back, sandboxed, to what the probe finds (the
/// landlock pipeline: the write outside is refused, the host file untouched), as `--explain`
/// (which always probes) says it would.
#[test]
fn the_cli_falls_back_to_the_probed_plan_where_the_optimistic_one_cannot_start() {
    if bwrap().is_none() {
        return;
    }
    for user in common::users() {
        let scratch = Scratch::new(user, "optimistic");
        let work = scratch.dir("work");
        let outside = scratch.file("outside/keep", "host");
        let policy = r#"{"type":"read-only"}"#;
        let script = format!("echo x >> {} 2>/dev/null || echo refused", outside.display());
        let nested = |args: &[&str]| run_inside_bwrap(&["--unshare-user", "--disable-userns"], user, &work, args);
        let explained = nested(&["--sandbox-policy", policy, "--explain", "--", "/bin/true"]);
        assert!(explained.status.success(), "{user:?}: {}", stderr(&explained));
        let plan: serde_json::Value = serde_json::from_slice(&explained.stdout).unwrap();
        assert_eq!(plan["pipeline"], "landlock", "{user:?}");
        let output = nested(&["--sandbox-policy", policy, "--", "/bin/sh", "-c", &script]);
        assert!(output.status.success(), "{user:?}: {}", stderr(&output));
        assert_eq!(common::stdout(&output).trim(), "refused", "{user:?}");
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "host", "{user:?}");
    }
}
