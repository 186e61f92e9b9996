//! The landlock pipeline on a host without user namespaces (simulated, as Docker's default
//! seccomp profile does it: `clone`/`unshare` with CLONE_NEWUSER refused): metadata calls go to
//! the sandbox's init, the metadata supervisor, which performs them inside the writable roots
//! and refuses them outside. Host-side evidence for each: the outside file's mode, owner,
//! xattrs and timestamps unchanged, the inside file's changed; as root and as 65534, with the
//! outside files owned by the sandbox's user (so the kernel alone would allow every change).
mod common;

use std::ffi::CString;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;

use common::hosts::{forbid_user_namespaces, forbid_user_namespaces_with_a_listener};
use common::{Run, Scratch, User};
use serde_json::{Value, json};

const PROBE: &str = include_str!("common/metadata_probe.py");

/// Root read, `ws` writable: a policy that needs no protected path, so it runs without user
/// namespaces.
fn policy(ws: &Path) -> String {
    json!({"kind": "restricted", "entries": [
        {"path": {"type": "special", "value": {"kind": "root"}}, "access": "read"},
        {"path": {"type": "path", "path": ws}, "access": "write"},
    ]})
    .to_string()
}

/// Runs in `ws`'s parent (the policy cwd, not writable: a writable cwd protects `.codex`).
fn run_ops(user: User, ws: &Path, ops: &[Value]) -> (Vec<String>, String) {
    let run = Run::new(user, ws.parent().unwrap())
        .arg("--pipeline=landlock")
        .arg("--file-system-sandbox-policy")
        .arg(policy(ws))
        .arg("--network-sandbox-policy")
        .arg("\"restricted\"")
        .unprotect_defaults();
    let ops = Value::Array(ops.to_vec()).to_string();
    let mut command = run.command(&["/usr/bin/python3", "-c", PROBE, &ops]);
    forbid_user_namespaces(&mut command);
    let output = command.output().expect("start the sandbox");
    let stderr = common::stderr(&output);
    assert!(output.status.success(), "{:?} as {user:?}: {stderr}", output.status);
    (common::stdout(&output).lines().map(str::to_owned).collect(), stderr)
}

fn op(name: &str, args: &[&dyn std::fmt::Display]) -> Value {
    let mut list = vec![Value::from(name)];
    list.extend(args.iter().map(|a| Value::from(a.to_string())));
    Value::Array(list)
}

fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let path = CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let name = CString::new(name).unwrap();
    let mut buf = [0u8; 64];
    // SAFETY: NUL-terminated strings and a writable buffer of the given length.
    let n = unsafe { libc::lgetxattr(path.as_ptr(), name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (n >= 0).then(|| buf[..n as usize].to_vec())
}

/// Mode, owner, group, mtime and our xattrs of `path`, as the host sees them.
fn evidence(path: &Path) -> String {
    let m = fs::symlink_metadata(path).unwrap();
    let names = ["user.codex", "trusted.codex", "security.codex"];
    let xattrs: Vec<String> = names.iter().filter(|n| xattr(path, n).is_some()).map(|n| n.to_string()).collect();
    format!("mode {:o} owner {}:{} mtime {} xattrs {:?}", m.mode() & 0o7777, m.uid(), m.gid(), m.mtime(), xattrs)
}

#[test]
fn metadata_outside_the_writable_roots_is_refused_and_inside_works() {
    for user in common::users() {
        let scratch = Scratch::new(user, "metadata");
        let ws = scratch.dir("ws");
        let outside_dir = scratch.dir("outside");
        let outside = scratch.file("outside/victim.txt", "host file\n");
        fs::set_permissions(&outside, fs::Permissions::from_mode(0o644)).unwrap();
        let inside = scratch.file("ws/script.sh", "#!/bin/sh\n");
        fs::set_permissions(&inside, fs::Permissions::from_mode(0o644)).unwrap();
        let link = ws.join("link");
        symlink(&outside, &link).unwrap();
        std::os::unix::fs::lchown(&link, Some(user.ids().0), Some(user.ids().1)).unwrap();
        let before = evidence(&outside);
        let dir_before = evidence(&outside_dir);
        let root = user.ids().0 == 0;
        let (uid, gid) = user.ids();
        let other = if root { 1234 } else { 0 };

        let mut ops = vec![
            // Inside: what agents do.
            op("chmod", &[&inside.display(), &"755"]),
            op("utime", &[&inside.display()]),
            op("setxattr", &[&inside.display(), &"user.codex"]),
            op("utime_now", &[&ws.display()]),
            // Inside, but a set-uid bit: refused there too.
            op("chmod", &[&inside.display(), &"4755"]),
            // Outside, by path.
            op("chmod", &[&outside.display(), &"4777"]),
            op("chmod", &[&outside_dir.display(), &"777"]),
            op("chown", &[&outside.display(), &uid, &other]),
            op("setxattr", &[&outside.display(), &"user.codex"]),
            op("utime", &[&outside.display()]),
            op("utime_now", &[&outside.display()]),
            // Outside, through a symlink in the workspace, and the symlink itself.
            op("chmod", &[&link.display(), &"777"]),
            op("utime", &[&link.display()]),
            op("setxattr", &[&link.display(), &"user.codex"]),
            op("lchown", &[&link.display(), &uid, &gid]),
            // Outside, through a descriptor opened read-only (which Landlock allows).
            op("fchmod_ro", &[&outside.display(), &"777"]),
            op("futime_ro", &[&outside.display()]),
            op("fsetxattr_ro", &[&outside.display(), &"user.codex"]),
            // Relative to a directory descriptor: inside, then outside.
            op("chmod_at_dirfd", &[&ws.display(), &"script.sh", &"700"]),
            op("chmod_at_dirfd", &[&outside_dir.display(), &"victim.txt", &"777"]),
            // /proc/self/cwd is a magic link: refused rather than resolved in init.
            op("chmod", &[&"/proc/self/cwd/ws/script.sh", &"755"]),
        ];
        if root {
            ops.push(op("setxattr", &[&outside.display(), &"trusted.codex"]));
            ops.push(op("setxattr", &[&outside.display(), &"security.codex"]));
        }
        let (answers, stderr) = run_ops(user, &ws, &ops);
        let expected: Vec<&str> = [
            "OK", "OK", "OK", "OK", "EPERM", "EPERM", "EPERM", "EPERM", "EPERM", "EPERM", "EPERM", "EPERM", "EPERM",
            "EPERM", "OK", "EPERM", "EPERM", "EPERM", "OK", "EPERM", "ELOOP",
        ]
        .into_iter()
        .chain(if root { vec!["EPERM", "EPERM"] } else { vec![] })
        .collect();
        assert_eq!(answers, expected, "as {user:?}: {stderr}");
        // The host's evidence.
        assert_eq!(evidence(&outside), before, "outside file changed as {user:?}");
        assert_eq!(evidence(&outside_dir), dir_before, "outside directory changed as {user:?}");
        let m = fs::metadata(&inside).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o700, "chmod +x, then 700 through the directory descriptor, as {user:?}");
        assert_eq!(m.mtime(), 0, "utime inside as {user:?}");
        assert_eq!(xattr(&inside, "user.codex").as_deref(), Some(&b"1"[..]), "xattr inside as {user:?}");
    }
}

/// A thread swapping a workspace path between a file of the workspace and a symlink to an
/// outside file, while another chmods, utimes and setxattrs that path: the outside file never
/// changes (the supervisor acts on the object it resolved and checked, not on the path).
#[test]
fn a_racing_path_swap_never_reaches_the_outside_file() {
    for user in common::users() {
        let scratch = Scratch::new(user, "metadata-race");
        let ws = scratch.dir("ws");
        let outside = scratch.file("outside/victim.txt", "host file\n");
        fs::set_permissions(&outside, fs::Permissions::from_mode(0o644)).unwrap();
        let before = evidence(&outside);
        let target = ws.join("swap");
        let ops = [op("race", &[&target.display(), &outside.display(), &ws.display(), &"1500"])];
        let (answers, stderr) = run_ops(user, &ws, &ops);
        // Both kinds of answers were seen: the race really alternated the object.
        let seen: Vec<&str> = answers.first().map(|a| a.split(',').collect()).unwrap_or_default();
        assert!(seen.contains(&"OK") && seen.contains(&"EPERM"), "as {user:?}: {answers:?} {stderr}");
        assert!(seen.iter().all(|a| ["OK", "EPERM", "ENOENT"].contains(a)), "as {user:?}: {answers:?}");
        assert_eq!(evidence(&outside), before, "outside file changed by the race as {user:?}");
    }
}

/// Without the supervisor (here: its refusal forced by planning on a simulated host is covered
/// by the plan tests), `--explain` names which guard this host gets.
#[test]
fn explain_names_the_supervisor() {
    let scratch = Scratch::new(User::Current, "metadata-explain");
    let ws = scratch.dir("ws");
    let run = Run::new(User::Current, &scratch.path)
        .arg("--pipeline=landlock")
        .arg("--explain")
        .arg("--file-system-sandbox-policy")
        .arg(policy(&ws))
        .arg("--network-sandbox-policy")
        .arg("\"restricted\"")
        .unprotect_defaults();
    let mut command = run.command(&["/bin/true"]);
    forbid_user_namespaces(&mut command);
    let output = command.output().unwrap();
    let plan: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("{}", common::stderr(&output)));
    assert_eq!(plan["metadata"]["kind"], "supervisor", "{plan}");
    let supervised: Vec<&str> =
        plan["seccomp"]["supervised"].as_array().unwrap().iter().filter_map(|c| c["syscall"].as_str()).collect();
    assert!(supervised.contains(&"fchmodat") && supervised.contains(&"utimensat"), "{supervised:?}");
    let warnings = plan["warnings"].to_string();
    assert!(warnings.contains("performs them only inside the writable roots"), "{warnings}");
}

/// A host whose own seccomp filter already has a listener (a container runtime's seccomp
/// agent): the kernel refuses the sandbox a second one (EBUSY). The probe tries it for real, so
/// the plan says `refused-everywhere` with that reason, and the run goes ahead with every
/// metadata call refused (EPERM inside the writable roots too) instead of failing to spawn.
#[test]
fn a_host_filter_with_a_listener_makes_metadata_refused_everywhere() {
    const HOST_LISTENER_FD: i32 = 200;
    for user in common::users() {
        let scratch = Scratch::new(user, "metadata-busy");
        let ws = scratch.dir("ws");
        let outside = scratch.file("outside/victim.txt", "host file\n");
        fs::set_permissions(&outside, fs::Permissions::from_mode(0o644)).unwrap();
        let inside = scratch.file("ws/script.sh", "#!/bin/sh\n");
        fs::set_permissions(&inside, fs::Permissions::from_mode(0o644)).unwrap();
        let (before, inside_before) = (evidence(&outside), evidence(&inside));

        let run = Run::new(user, &scratch.path)
            .arg("--pipeline=landlock")
            .arg("--file-system-sandbox-policy")
            .arg(policy(&ws))
            .arg("--network-sandbox-policy")
            .arg("\"restricted\"")
            .unprotect_defaults();
        let mut explain =
            Run { args: [vec!["--explain".to_owned()], run.args.clone()].concat(), ..run }.command(&["/bin/true"]);
        forbid_user_namespaces_with_a_listener(&mut explain, HOST_LISTENER_FD);
        let output = explain.output().unwrap();
        let plan: Value =
            serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("{}", common::stderr(&output)));
        assert_eq!(plan["metadata"]["kind"], "refused-everywhere", "as {user:?}: {}", plan["metadata"]);
        let reason = plan["metadata"]["reason"].as_str().unwrap_or_default();
        assert!(reason.contains("NEW_LISTENER") && reason.contains("os error 16"), "as {user:?}: {reason}");
        assert!(plan["seccomp"]["supervised"].is_null(), "as {user:?}: {}", plan["seccomp"]["supervised"]);

        let run = Run::new(user, &scratch.path)
            .arg("--pipeline=landlock")
            .arg("--file-system-sandbox-policy")
            .arg(policy(&ws))
            .arg("--network-sandbox-policy")
            .arg("\"restricted\"")
            .unprotect_defaults();
        let ops = Value::Array(vec![
            op("chmod", &[&inside.display(), &"755"]),
            op("utime", &[&inside.display()]),
            op("chmod", &[&outside.display(), &"4777"]),
            op("setxattr", &[&outside.display(), &"user.codex"]),
        ])
        .to_string();
        let mut command = run.command(&["/usr/bin/python3", "-c", PROBE, &ops]);
        forbid_user_namespaces_with_a_listener(&mut command, HOST_LISTENER_FD);
        let output = command.output().unwrap();
        assert!(output.status.success(), "as {user:?}: {:?} {}", output.status, common::stderr(&output));
        assert_eq!(common::stdout(&output).lines().collect::<Vec<_>>(), ["EPERM"; 4], "as {user:?}");
        assert_eq!(evidence(&outside), before, "outside file changed as {user:?}");
        assert_eq!(evidence(&inside), inside_before, "inside file changed as {user:?}");
    }
}

/// `doctor` has a row for the metadata guard: what applies on this host, and the errno of the
/// check that failed where the supervisor cannot run (the JSON and the table say the same).
#[test]
fn doctor_names_the_metadata_guard_of_each_host() {
    for user in common::users() {
        let scratch = Scratch::new(user, "metadata-doctor");
        let doctor = |simulate: &dyn Fn(&mut std::process::Command)| {
            let mut command = std::process::Command::new(common::binary());
            command.arg("doctor").current_dir(&scratch.path).env_clear().env("PATH", "/usr/bin:/bin");
            if user == User::Nobody {
                std::os::unix::process::CommandExt::uid(&mut command, 65534);
                std::os::unix::process::CommandExt::gid(&mut command, 65534);
            }
            simulate(&mut command);
            let table = common::stdout(&command.output().unwrap());
            command.arg("--json");
            let output = command.output().unwrap();
            let report: Value =
                serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("{}", common::stderr(&output)));
            let row = report["checks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|check| check["check"] == "landlock metadata guard")
                .cloned()
                .unwrap_or_else(|| panic!("no metadata row as {user:?}: {report}"));
            let line = table.lines().find(|l| l.starts_with("landlock metadata guard")).unwrap_or_default().to_owned();
            (row, line)
        };
        let (row, line) = doctor(&|c| forbid_user_namespaces(c));
        assert_eq!(row["ok"], true, "as {user:?}: {row}");
        assert!(row["meaning"].as_str().unwrap().starts_with("supervisor"), "as {user:?}: {row}");
        assert!(line.contains(" ok ") && line.contains("supervisor"), "as {user:?}: {line}");
        let (row, line) = doctor(&|c| forbid_user_namespaces_with_a_listener(c, 200));
        assert_eq!(row["ok"], false, "as {user:?}: {row}");
        assert_eq!(row["errno"], serde_json::json!(["EBUSY", libc::EBUSY]), "as {user:?}: {row}");
        assert!(row["meaning"].as_str().unwrap().starts_with("refused-everywhere"), "as {user:?}: {row}");
        assert!(line.contains("FAILED") && line.contains("EBUSY"), "as {user:?}: {line}");
        if common::userns_available(user) {
            let (row, _) = doctor(&|_| {});
            assert!(row["meaning"].as_str().unwrap().starts_with("read-only-view"), "as {user:?}: {row}");
        }
    }
}
