//! Protected names (`.git`, `.agents`, `.codex`, `.aws`, and names a launcher adds): kept
//! read-only where present and kept from being created where missing, directly under every
//! writable root; removed after the run wherever deeper down the command created one, with the
//! run failing (exit 123) and naming each path. Real sandboxed processes on both pipelines (and
//! the landlock pipeline on a simulated host without user namespaces, which refuses these
//! policies), as the current user and as uid 65534; the evidence is the host's.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Output};

use common::{Run, Scratch, User, skip, stderr, stdout, userns_available, users};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pipeline {
    Bwrap,
    Landlock,
}

const PIPELINES: [Pipeline; 2] = [Pipeline::Bwrap, Pipeline::Landlock];

const DEFAULT_NAMES: [&str; 4] = [".git", ".agents", ".codex", ".aws"];

/// Exit code of a run whose command created a protected name (README, "Exit codes").
const PROTECTED_NAME_CREATED: i32 = 123;

/// Runs each operation of argv[1] (JSON: `[[op, path, ...], ...]`) and prints one line per
/// operation: OK or the errno's name.
const OPS: &str = r#"
import errno, json, os, sys
def create_file(p):
    # O_EXCL: an existing entry of any kind (the placeholder directory too) gives EEXIST.
    os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
def write(p):
    with open(p, "w") as f:
        f.write("written by the sandbox\n")
def makedirs_write(p):
    os.makedirs(os.path.dirname(p), exist_ok=True)
    write(p)
ops = {
    "mkdir": lambda p: os.mkdir(p),
    "create_file": create_file,
    "write": write,
    "makedirs_write": makedirs_write,
    "rmdir": lambda p: os.rmdir(p),
    "rename": lambda a, b: os.rename(a, b),
    "symlink": lambda target, link: os.symlink(target, link),
    "link": lambda a, b: os.link(a, b),
}
for op, *args in json.loads(sys.argv[1]):
    try:
        ops[op](*args)
        print("OK")
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e.errno)))
"#;

fn run(user: User, pipeline: Pipeline, cwd: &Path, roots: &[&Path]) -> Run {
    let roots: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
    let policy = serde_json::json!({
        "type": "workspace-write",
        "writable_roots": roots,
        "exclude_tmpdir_env_var": true,
        "exclude_slash_tmp": true,
    });
    let run = Run::new(user, cwd).arg(match pipeline {
        Pipeline::Bwrap => "--pipeline=bwrap",
        Pipeline::Landlock => "--pipeline=landlock",
    });
    run.policy(&policy.to_string())
}

/// The operations' answers, and the run's output.
fn ops(run: &Run, ops: &[Vec<String>]) -> (Vec<String>, Output) {
    let list = serde_json::to_string(ops).unwrap();
    let output = run.output(&["/usr/bin/python3", "-c", OPS, &list]);
    let answers = stdout(&output).lines().map(str::to_owned).collect();
    (answers, output)
}

fn op(name: &str, args: &[&Path]) -> Vec<String> {
    let mut list = vec![name.to_owned()];
    list.extend(args.iter().map(|a| a.display().to_string()));
    list
}

/// The contexts these tests need: user namespaces for this user (both pipelines protect
/// names in a user + mount namespace).
fn contexts() -> Vec<(User, Pipeline)> {
    let mut contexts = Vec::new();
    for user in users() {
        if !userns_available(user) {
            skip(format!("user namespaces are not available to {user:?}"));
            continue;
        }
        contexts.extend(PIPELINES.iter().map(|pipeline| (user, *pipeline)));
    }
    contexts
}

#[test]
fn missing_default_names_cannot_be_created_in_any_writable_root_and_nothing_is_left() {
    for (user, pipeline) in contexts() {
        let scratch = Scratch::new(user, "names-missing");
        let ws = scratch.dir("ws");
        let other = scratch.dir("other");
        let before = scratch.listing();
        let mut list = Vec::new();
        for root in [&ws, &other] {
            for name in DEFAULT_NAMES {
                let path = root.join(name);
                list.push(op("mkdir", &[&path]));
                list.push(op("create_file", &[&path]));
                list.push(op("makedirs_write", &[&path.join("hooks/pre-commit")]));
                list.push(op("symlink", &[Path::new("/etc"), &path]));
                list.push(op("rmdir", &[&path]));
                list.push(op("rename", &[&path, &root.join("aside")]));
            }
        }
        let (answers, output) = ops(&run(user, pipeline, &ws, &[&other]), &list);
        assert!(output.status.success(), "{user:?} {pipeline:?}: {:?} {}", output.status, stderr(&output));
        // The placeholder is an empty read-only directory, a mount point in the sandbox.
        let expected = ["EEXIST", "EEXIST", "EROFS", "EEXIST", "EBUSY", "EBUSY"];
        assert_eq!(answers.len(), list.len(), "{user:?} {pipeline:?}: {}", stderr(&output));
        for (index, answer) in answers.iter().enumerate() {
            assert_eq!(answer, expected[index % expected.len()], "{user:?} {pipeline:?}: {:?}", list[index]);
        }
        assert_eq!(scratch.listing(), before, "{user:?} {pipeline:?}: the run left something on the host");
    }
}

#[test]
fn explain_lists_the_names_of_every_writable_root() {
    let scratch = Scratch::new(User::Current, "names-explain");
    let ws = scratch.dir("ws");
    let other = scratch.dir("other");
    let output = run(User::Current, Pipeline::Bwrap, &ws, &[&other])
        .arg("--protect")
        .arg(".envrc")
        .arg("--unprotect=.aws")
        .arg("--explain")
        .output(&["/bin/true"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let plan: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let roots = plan["filesystem"]["writable_roots"].as_array().unwrap();
    assert_eq!(roots.len(), 2);
    for root in roots {
        assert_eq!(root["protected_names"], serde_json::json!([".git", ".agents", ".codex", ".envrc"]), "{root}");
    }
}

#[test]
fn an_added_name_is_protected_and_bad_names_are_refused_before_anything_runs() {
    for (user, pipeline) in contexts() {
        let scratch = Scratch::new(user, "names-added");
        let ws = scratch.dir("ws");
        let other = scratch.dir("other");
        let envrc = scratch.file("ws/.envrc", "export ORIGINAL=1\n");
        let identity = fs::metadata(&envrc).map(|m| (m.ino(), m.mtime(), m.mode())).unwrap();
        let list = vec![
            op("write", &[&envrc]),
            op("rename", &[&envrc, &ws.join("envrc-aside")]),
            op("create_file", &[&other.join(".envrc")]),
            op("create_file", &[&other.join(".vscode")]),
            op("makedirs_write", &[&ws.join(".vscode/tasks.json")]),
        ];
        let run = run(user, pipeline, &ws, &[&other]).arg("--protect=.envrc").arg("--protect").arg(".vscode");
        let (answers, output) = ops(&run, &list);
        assert!(output.status.success(), "{user:?} {pipeline:?}: {}", stderr(&output));
        assert_eq!(answers, ["EROFS", "EBUSY", "EEXIST", "EEXIST", "EROFS"], "{user:?} {pipeline:?}");
        assert_eq!(fs::read_to_string(&envrc).unwrap(), "export ORIGINAL=1\n");
        assert_eq!(fs::metadata(&envrc).map(|m| (m.ino(), m.mtime(), m.mode())).unwrap(), identity);
        assert!(!other.join(".envrc").exists() && !other.join(".vscode").exists() && !ws.join(".vscode").exists());

        let marker = ws.join("ran");
        for (flag, value, field, why) in [
            ("--protect", "a/b", "protect[0]", "contains `/`"),
            ("--protect", "..", "protect[0]", "names a directory"),
            ("--protect", "", "protect[0]", "is empty"),
            ("--unprotect", ".envrc", "unprotect[0]", "is not a default protected name"),
        ] {
            let output = run_plain(user, pipeline, &ws).arg(flag).arg(value).sh(&format!("touch {}", marker.display()));
            assert_eq!(output.status.code(), Some(125), "{flag} {value:?}");
            let message = stderr(&output);
            assert!(message.contains(&format!("`{field}`")) && message.contains(why), "{message}");
            assert!(!marker.exists(), "nothing runs after a refusal");
        }
    }
}

fn run_plain(user: User, pipeline: Pipeline, ws: &Path) -> Run {
    run(user, pipeline, ws, &[])
}

#[test]
fn opting_out_of_git_lets_git_init_work() {
    if !Path::new("/usr/bin/git").exists() {
        return skip("git is not installed");
    }
    for (user, pipeline) in contexts() {
        let scratch = Scratch::new(user, "names-git-init");
        let ws = scratch.dir("ws");
        let init = "git init -q . && git -c user.email=a@b -c user.name=a commit -q --allow-empty -m x && echo done";
        let output = run_plain(user, pipeline, &ws).env("HOME", "/nonexistent").sh(init);
        assert_ne!(output.status.code(), Some(0), "protected by default: {}", stdout(&output));
        assert!(!ws.join(".git").exists(), "{user:?} {pipeline:?}: the placeholder is gone after the run");
        let output = run_plain(user, pipeline, &ws).arg("--unprotect=.git").env("HOME", "/nonexistent").sh(init);
        assert!(output.status.success(), "{user:?} {pipeline:?}: {}", stderr(&output));
        assert!(ws.join(".git/HEAD").is_file(), "{user:?} {pipeline:?}: git init made a repository");
    }
}

#[test]
fn worktree_commondir_and_hooks_path_stay_unchanged() {
    for (user, pipeline) in contexts() {
        let scratch = Scratch::new(user, "names-worktree");
        let common = scratch.dir("main/.git");
        scratch.file("main/.git/HEAD", "ref: refs/heads/main\n");
        let config = scratch.file("main/.git/config", "[core]\n\thooksPath = .husky\n");
        let hook = scratch.file("main/.git/hooks/post-checkout", "#!/bin/sh\n");
        scratch.file("main/.git/worktrees/wt/HEAD", "ref: refs/heads/wt\n");
        scratch.file("main/.git/worktrees/wt/commondir", "../..\n");
        let ws = scratch.dir("wt");
        scratch.file("wt/.git", &format!("gitdir: {}\n", common.join("worktrees/wt").display()));
        let husky = scratch.file("wt/.husky/pre-commit", "#!/bin/sh\n");
        // The whole scratch directory is writable: the common dir is not a root's own `.git`.
        let list = vec![
            op("write", &[&hook]),
            op("write", &[&config]),
            op("create_file", &[&common.join("hooks/pre-push")]),
            op("write", &[&husky]),
            op("create_file", &[&ws.join(".husky/post-merge")]),
        ];
        let (answers, output) = ops(&run(user, pipeline, &ws, &[&scratch.path]), &list);
        assert!(output.status.success(), "{user:?} {pipeline:?}: {}", stderr(&output));
        assert_eq!(answers, ["EROFS"; 5], "{user:?} {pipeline:?}");
        assert_eq!(fs::read_to_string(&hook).unwrap(), "#!/bin/sh\n");
        assert_eq!(fs::read_to_string(&config).unwrap(), "[core]\n\thooksPath = .husky\n");
        assert_eq!(fs::read_to_string(&husky).unwrap(), "#!/bin/sh\n");
        assert!(!common.join("hooks/pre-push").exists() && !ws.join(".husky/post-merge").exists());
    }
}

#[test]
fn protected_names_created_below_the_top_are_removed_and_fail_the_run() {
    for (user, pipeline) in contexts() {
        let scratch = Scratch::new(user, "names-created");
        let ws = scratch.dir("ws");
        for sub in ["a", "b", "c", "d", "e", "f", "deep/x/y"] {
            scratch.dir(&format!("ws/{sub}"));
        }
        // Present before the run: a submodule's `.git` file and a vendored repository; both stay.
        let submodule = scratch.file("ws/sub/.git", "gitdir: ../.git/modules/sub\n");
        let vendored = scratch.file("ws/vendored/.git/HEAD", "ref: refs/heads/main\n");
        let original = scratch.file("ws/file.txt", "original\n");
        let target = scratch.file("ws/target/config", "target\n");
        let evil = scratch.file("ws/evil/hooks/pre-commit", "#!/bin/sh\nid\n");
        let script = format!(
            "set -e; cd {ws}; mkdir -p a/.git/hooks; echo 'id' > a/.git/hooks/pre-commit; \
             printf 'gitdir: /tmp\\n' > b/.git; ln -s ../target c/.git; mv evil d/.git; ln file.txt e/.git; \
             echo 'export X=1' > f/.envrc; mkdir deep/x/y/.git; exit 7",
            ws = ws.display()
        );
        let output = run_plain(user, pipeline, &ws).arg("--protect=.envrc").sh(&script);
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(PROTECTED_NAME_CREATED), "{user:?} {pipeline:?}: {message}");
        for created in ["a/.git", "b/.git", "c/.git", "d/.git", "e/.git", "f/.envrc", "deep/x/y/.git"] {
            let path = ws.join(created);
            assert!(message.contains(&format!("`{}`", path.display())), "{user:?} {pipeline:?}: {created}: {message}");
            assert!(fs::symlink_metadata(&path).is_err(), "{user:?} {pipeline:?}: {created} survived the run");
        }
        assert!(message.contains("the command's own exit status was 7"), "{message}");
        // Removed without following the link, and only the link of the hard-linked file.
        assert_eq!(fs::read_to_string(&target).unwrap(), "target\n");
        assert_eq!(fs::read_to_string(&original).unwrap(), "original\n");
        assert_eq!(fs::metadata(&original).unwrap().nlink(), 1);
        assert!(!evil.exists());
        assert_eq!(fs::read_to_string(&submodule).unwrap(), "gitdir: ../.git/modules/sub\n");
        assert!(vendored.is_file());
        assert!(!message.contains("ws/sub/.git") && !message.contains("vendored"), "{message}");

        // A run that creates none keeps the command's own status; the pre-existing ones stay.
        let output = run_plain(user, pipeline, &ws).sh("echo x > sub/other; exit 7");
        assert_eq!(output.status.code(), Some(7), "{user:?} {pipeline:?}: {}", stderr(&output));
        assert!(submodule.is_file() && vendored.is_file());
    }
}

#[test]
fn without_user_namespaces_the_landlock_pipeline_refuses_and_leaves_nothing() {
    for user in users() {
        let scratch = Scratch::new(user, "names-nouserns");
        let ws = scratch.dir("ws");
        let before = scratch.listing();
        let marker = ws.join("ran");
        let mut command: Command =
            run_plain(user, Pipeline::Landlock, &ws).command(&["/bin/touch", &marker.to_string_lossy()]);
        common::forbid_user_namespaces(&mut command);
        let output = command.output().unwrap();
        assert_eq!(output.status.code(), Some(125), "{user:?}: {}", stderr(&output));
        let message = stderr(&output);
        for name in DEFAULT_NAMES {
            assert!(message.contains(&ws.join(name).display().to_string()), "{user:?}: {name}: {message}");
        }
        assert_eq!(scratch.listing(), before, "{user:?}: nothing ran, nothing was left");
    }
}

/// The sweep is not fooled by a directory the command made unreadable after planting a name
/// in it (mode 0100: traversable, so a host `git` below it would still find the planted
/// repository), and it holds one descriptor per level of depth, not one per queued sibling: a
/// launcher with 64 descriptors sweeps 200 planted names in 200 sibling directories.
#[test]
fn the_sweep_reads_unreadable_directories_of_the_command_and_needs_few_descriptors() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    for (user, pipeline) in contexts() {
        let scratch = Scratch::new(user, "names-unreadable");
        let ws = scratch.dir("ws");
        let script = "mkdir -p a/b/.git/hooks && echo id > a/b/.git/hooks/pre-commit && chmod 100 a; \
                      mkdir -p z; i=0; while [ $i -lt 200 ]; do mkdir -p z/d$i/.git; i=$((i+1)); done; exit 5";
        let mut command = run_plain(user, pipeline, &ws).command(&["/bin/sh", "-c", script]);
        // SAFETY: setrlimit is async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                let limit = libc::rlimit { rlim_cur: 64, rlim_max: 64 };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        let output = command.output().unwrap();
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(PROTECTED_NAME_CREATED), "{user:?} {pipeline:?}: {message}");
        let hidden = ws.join("a/b/.git");
        assert!(message.contains(&format!("`{}`", hidden.display())), "{user:?} {pipeline:?}: {message}");
        // The command's mode on `a` is put back once the sweep has read it.
        let a = ws.join("a");
        assert_eq!(fs::symlink_metadata(&a).unwrap().permissions().mode() & 0o7777, 0o100, "{user:?} {pipeline:?}");
        fs::set_permissions(&a, fs::Permissions::from_mode(0o755)).unwrap();
        assert!(fs::symlink_metadata(&hidden).is_err(), "{user:?} {pipeline:?}: a/b/.git survived the run");
        for i in 0..200 {
            assert!(fs::symlink_metadata(ws.join(format!("z/d{i}/.git"))).is_err(), "{user:?} {pipeline:?}: d{i}");
        }
        assert!(!message.contains("could not be fully checked"), "{user:?} {pipeline:?}: {message}");
    }
}

/// The children of `pid`, as the kernel lists them.
fn children_of(pid: u32) -> Vec<u32> {
    fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|child| child.parse().ok())
        .collect()
}

/// An installed bwrap runs under a subreaper init of ours, which ends the rest of the run
/// before it reports. Killed from outside before it could, processes of the run may still be
/// alive when the sweep would walk: the run fails as not fully checked instead of passing,
/// whatever the command's status.
#[test]
fn an_init_killed_before_its_report_fails_the_run_as_not_fully_checked() {
    let bwrap = Path::new("/usr/bin/bwrap");
    if !bwrap.exists() || !userns_available(User::Current) {
        skip("no /usr/bin/bwrap, or no user namespaces here");
        return;
    }
    let scratch = Scratch::new(User::Current, "names-init-killed");
    let ws = scratch.dir("ws");
    let child = run_plain(User::Current, Pipeline::Bwrap, &ws)
        .arg(format!("--bwrap-path={}", bwrap.display()))
        .command(&["/bin/sleep", "30"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The CLI's child is the sandbox's init; bwrap is init's.
    let mut init = None;
    for _ in 0..500 {
        init = children_of(child.id()).first().copied().filter(|init| !children_of(*init).is_empty());
        if init.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let init = init.expect("the sandbox's init and its bwrap never appeared");
    // SAFETY: a signal to the init this test's CLI started, found by its pid just now.
    assert_eq!(unsafe { libc::kill(init as i32, libc::SIGKILL) }, 0);
    let output = child.wait_with_output().unwrap();
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(PROTECTED_NAME_CREATED), "{message}");
    assert!(message.contains("init was killed before it had ended every process of the run"), "{message}");
}
