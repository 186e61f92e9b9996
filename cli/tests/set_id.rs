//! Set-uid and set-gid files made inside the writable roots. The command's files belong to the
//! launcher's ids — on the namespace pipeline root in the user namespace owns them, which is the
//! host's root when root launches — so a set-uid binary left in the workspace would run, for any
//! host user, with the launcher's uid. Every call that creates a file with a mode or changes a
//! mode refuses the set-id bits (EPERM), `openat2` answers ENOSYS (its mode sits in memory the
//! filter cannot read), and file capabilities cannot be set (the command has no capability).
//! On every pipeline — embedded and system bwrap, landlock with and without user namespaces —
//! as root and as 65534; the evidence is the host's: no set-id file and no
//! `security.capability` in the workspace afterwards.
mod common;

use std::ffi::CString;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use common::hosts::forbid_user_namespaces;
use common::{Run, Scratch, User};
use serde_json::json;

const PROBE: &str = include_str!("common/set_id_probe.py");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    EmbeddedBwrap,
    SystemBwrap,
    Landlock,
    /// The landlock pipeline on a simulated host without user namespaces: the metadata
    /// supervisor performs chmod (and sees directories: `chmod g+s dir` works there).
    LandlockWithoutUserNamespaces,
}

const SYSTEM_BWRAP: &str = "/usr/bin/bwrap";

fn has_security_capability(path: &Path) -> bool {
    let path = CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let mut buf = [0u8; 64];
    // SAFETY: NUL-terminated strings and a writable buffer of the given length.
    let n = unsafe { libc::lgetxattr(path.as_ptr(), c"security.capability".as_ptr(), buf.as_mut_ptr().cast(), 64) };
    n >= 0
}

/// Every set-id or capability-carrying object below `dir`, as the host sees it.
fn set_id_objects(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let m = fs::symlink_metadata(&path).unwrap();
        let set_gid_file = m.mode() & libc::S_ISGID != 0 && !m.is_dir();
        if m.mode() & libc::S_ISUID != 0 || set_gid_file || has_security_capability(&path) {
            found.push(format!("{} mode {:o} owner {}", path.display(), m.mode(), m.uid()));
        }
        if m.is_dir() {
            found.extend(set_id_objects(&path));
        }
    }
    found
}

fn run_probe(column: Column, user: User, scratch: &Scratch, ws: &Path, ops: &serde_json::Value) -> Vec<String> {
    let (cwd, run) = match column {
        Column::LandlockWithoutUserNamespaces => {
            // A policy without protected paths (none can be protected without a namespace):
            // root read, the workspace writable, run from its parent.
            let policy = json!({"kind": "restricted", "entries": [
                {"path": {"type": "special", "value": {"kind": "root"}}, "access": "read"},
                {"path": {"type": "path", "path": ws}, "access": "write"},
            ]});
            let run = Run::new(user, &scratch.path)
                .arg("--pipeline=landlock")
                .arg("--file-system-sandbox-policy")
                .arg(policy.to_string())
                .arg("--network-sandbox-policy")
                .arg("\"restricted\"")
                .unprotect_defaults();
            (scratch.path.clone(), run)
        }
        _ => {
            let mut run = Run::new(user, ws).policy(common::WORKSPACE);
            run = match column {
                Column::EmbeddedBwrap => run.arg("--pipeline=bwrap"),
                Column::SystemBwrap => run.arg("--pipeline=bwrap").arg(format!("--bwrap-path={SYSTEM_BWRAP}")),
                _ => run.arg("--pipeline=landlock"),
            };
            (ws.to_path_buf(), run)
        }
    };
    let ops_json = ops.to_string();
    let mut command = run.command(&["/usr/bin/python3", "-c", PROBE, &ops_json]);
    command.current_dir(cwd);
    if column == Column::LandlockWithoutUserNamespaces {
        forbid_user_namespaces(&mut command);
    }
    let output = command.output().expect("start the sandbox");
    assert!(output.status.success(), "{column:?} as {user:?}: {:?} {}", output.status, common::stderr(&output));
    common::stdout(&output).lines().map(str::to_owned).collect()
}

#[test]
fn no_set_id_file_or_file_capability_can_be_made_in_the_workspace() {
    let x86 = cfg!(target_arch = "x86_64");
    for user in common::users() {
        let mut columns = vec![Column::LandlockWithoutUserNamespaces];
        if common::userns_available(user) {
            columns.extend([Column::EmbeddedBwrap, Column::Landlock]);
            if Path::new(SYSTEM_BWRAP).exists() {
                columns.push(Column::SystemBwrap);
            } else {
                common::skip(format!("{SYSTEM_BWRAP} is not installed: no system-bwrap column"));
            }
        } else {
            common::skip(format!("no user namespaces for {user:?}: only the column without them runs"));
        }
        for column in columns {
            let scratch = Scratch::new(user, "set-id");
            let ws = scratch.dir("ws");
            let plain = scratch.file("ws/plain", "#!/bin/sh\n");
            fs::set_permissions(&plain, fs::Permissions::from_mode(0o644)).unwrap();
            let shared = scratch.dir("ws/shared");
            let at = |name: &str| ws.join(name).display().to_string();
            let p = plain.display().to_string();
            let d = shared.display().to_string();
            let na = |answer: &'static str| if x86 { answer } else { "n/a" };
            let cases: Vec<(&str, String, &str, &str)> = vec![
                // What agents do keeps working.
                ("open", at("new.txt"), "644", "OK"),
                ("chmod", p.clone(), "755", "OK"),
                ("mknod", at("fifo"), "10644", "OK"),
                // Creating with a set-id mode.
                ("open", at("suid-open"), "4755", "EPERM"),
                ("open", at("sgid-open"), "2755", "EPERM"),
                ("tmpfile", d.clone(), "4755", "EPERM"),
                ("mknod", at("suid-mknod"), "104755", "EPERM"),
                ("mknod", at("sgid-mknod"), "2755", "EPERM"),
                ("openat2", at("suid-openat2"), "4755", "ENOSYS"),
                ("openat2", at("plain-openat2"), "644", "ENOSYS"),
                ("raw_open", at("suid-raw-open"), "4755", na("EPERM")),
                ("raw_creat", at("suid-raw-creat"), "4755", na("EPERM")),
                ("raw_mknod", at("suid-raw-mknod"), "104755", na("EPERM")),
                // Setting set-id bits on an existing file.
                ("chmod", p.clone(), "4755", "EPERM"),
                ("chmod", p.clone(), "2755", "EPERM"),
                ("fchmod", p.clone(), "6755", "EPERM"),
                ("raw_chmod", p.clone(), "4755", na("EPERM")),
                // File capabilities: the command holds no CAP_SETFCAP.
                ("setcap", p.clone(), "0", "EPERM"),
                // A set-gid directory: only the supervisor sees the object is a directory.
                (
                    "chmod",
                    d.clone(),
                    "2775",
                    if column == Column::LandlockWithoutUserNamespaces { "OK" } else { "EPERM" },
                ),
            ];
            let ops =
                serde_json::Value::Array(cases.iter().map(|(op, path, mode, _)| json!([op, path, mode])).collect());
            let answers = run_probe(column, user, &scratch, &ws, &ops);
            let expected: Vec<&str> = cases.iter().map(|case| case.3).collect();
            for ((case, answer), want) in cases.iter().zip(&answers).zip(&expected) {
                assert_eq!(answer, want, "{column:?} as {user:?}: {} {} {}", case.0, case.1, case.2);
            }
            assert_eq!(answers.len(), expected.len(), "{column:?} as {user:?}: {answers:?}");
            // The host's evidence: nothing set-id or capable in the workspace, chmod +x done.
            assert_eq!(set_id_objects(&ws), Vec::<String>::new(), "{column:?} as {user:?}");
            assert_eq!(fs::metadata(&plain).unwrap().mode() & 0o7777, 0o755, "{column:?} as {user:?}");
            for name in ["suid-open", "sgid-open", "suid-mknod", "sgid-mknod", "suid-openat2", "suid-raw-open"] {
                assert!(!ws.join(name).exists(), "{column:?} as {user:?}: {name} exists");
            }
            let shared_mode = fs::metadata(&shared).unwrap().mode();
            let set_gid_dir = column == Column::LandlockWithoutUserNamespaces;
            assert_eq!(shared_mode & libc::S_ISGID != 0, set_gid_dir, "{column:?} as {user:?}: {shared_mode:o}");
        }
    }
}
