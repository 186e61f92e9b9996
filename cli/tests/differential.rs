//! Differential tests: one plan, two executors. Each (policy, command) case runs through the
//! embedded launcher and through the system `bwrap` (Debian's bubblewrap, installed by CI), as
//! the current user and, when root, as uid 65534; both must give the same exit code and leave
//! the same files behind on the host.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use common::{Run, Scratch, User, stderr, users};

const BWRAP: &str = "/usr/bin/bwrap";

/// Placeholders in commands: `{ws}` the policy cwd, `{out}` a directory outside every
/// writable root, `{tmp}` a directory under /tmp outside the workspace, `{extra}` an explicit
/// writable root, `{port}` a loopback listener of the test.
struct Case {
    name: &'static str,
    policy: &'static str,
    script: &'static str,
}

const WS: &str = r#"{"type":"workspace-write","exclude_slash_tmp":true,"exclude_tmpdir_env_var":true}"#;
const WS_TMP: &str = r#"{"type":"workspace-write","exclude_tmpdir_env_var":true}"#;
const WS_EXTRA: &str =
    r#"{"type":"workspace-write","writable_roots":["{extra}"],"exclude_slash_tmp":true,"exclude_tmpdir_env_var":true}"#;
const RO: &str = "read-only";
const RO_NET: &str = r#"{"type":"read-only","network_access":true}"#;
const RO_RESTRICTED: &str = r#"{"type":"read-only","access":{"type":"restricted","readable_roots":["/etc"]}}"#;
const WS_RESTRICTED: &str = r#"{"type":"workspace-write","read_only_access":{"type":"restricted","readable_roots":["/etc"]},"exclude_slash_tmp":true,"exclude_tmpdir_env_var":true}"#;
const NET_PY: &str =
    "import socket,sys; s=socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=2); s.sendall(b'x')";

const CASES: &[Case] = &[
    Case { name: "true", policy: RO, script: "true" },
    Case { name: "false", policy: RO, script: "false" },
    Case { name: "exit-code", policy: RO, script: "exit 42" },
    Case { name: "signal", policy: RO, script: "kill -TERM $$" },
    Case { name: "read-etc", policy: RO, script: "cat /etc/passwd > /dev/null" },
    Case { name: "write-dev-null", policy: RO, script: "echo x > /dev/null" },
    Case { name: "write-cwd", policy: WS, script: "echo data > {ws}/new.txt" },
    Case { name: "write-cwd-read-only", policy: RO, script: "echo data > {ws}/new.txt" },
    Case { name: "mkdir-cwd", policy: WS, script: "mkdir -p {ws}/a/b/c" },
    Case { name: "rm-in-cwd", policy: WS, script: "rm {ws}/existing.txt" },
    Case { name: "chmod-in-cwd", policy: WS, script: "chmod 600 {ws}/existing.txt" },
    Case { name: "symlink-in-cwd", policy: WS, script: "ln -s existing.txt {ws}/link" },
    Case { name: "write-outside", policy: WS, script: "echo data > {out}/victim.txt" },
    Case { name: "rm-outside", policy: WS, script: "rm {out}/victim.txt" },
    Case { name: "hardlink-outside", policy: WS, script: "ln {out}/victim.txt {ws}/hard" },
    Case { name: "write-etc", policy: WS, script: "echo data > /etc/codex-sandbox-differential" },
    Case { name: "write-tmp-included", policy: WS_TMP, script: "echo data > {tmp}/t.txt" },
    Case { name: "write-tmp-excluded", policy: WS, script: "echo data > {tmp}/t.txt" },
    Case { name: "write-extra-root", policy: WS_EXTRA, script: "echo data > {extra}/e.txt" },
    Case { name: "write-git-config", policy: WS, script: "echo evil >> {ws}/.git/config" },
    Case { name: "create-git-hook", policy: WS, script: "echo evil > {ws}/.git/hooks/pre-commit" },
    Case { name: "mkdir-codex", policy: WS, script: "mkdir {ws}/.codex/sub" },
    Case { name: "write-agents", policy: WS, script: "echo evil > {ws}/.agents/notes.md" },
    Case { name: "rename-git", policy: WS, script: "mv {ws}/.git {ws}/git-moved" },
    Case { name: "proc-pid-1", policy: RO, script: "test -d /proc/1" },
    Case { name: "host-pid-hidden", policy: RO, script: "test ! -e /proc/{hostpid}" },
    Case { name: "inet-socket", policy: RO, script: "python3 -c 'import socket; socket.socket()'" },
    Case { name: "loopback-connect-restricted", policy: RO, script: "python3 -c \"{netpy}\" {port}" },
    Case { name: "loopback-connect-full", policy: RO_NET, script: "python3 -c \"{netpy}\" {port}" },
    Case { name: "remount-root", policy: WS, script: "mount -o remount,rw / && touch /etc/codex-sandbox-differential" },
    Case { name: "restricted-read-allowed", policy: RO_RESTRICTED, script: "cat /etc/hostname >/dev/null" },
    Case { name: "restricted-read-cwd", policy: RO_RESTRICTED, script: "cat {ws}/existing.txt >/dev/null" },
    Case { name: "restricted-read-hidden", policy: RO_RESTRICTED, script: "cat {out}/victim.txt" },
    Case { name: "restricted-read-write-cwd", policy: WS_RESTRICTED, script: "echo data > {ws}/new.txt" },
    Case { name: "restricted-read-git", policy: WS_RESTRICTED, script: "echo evil >> {ws}/.git/config" },
];

struct Fixture {
    scratch: Scratch,
    ws: PathBuf,
    vars: BTreeMap<&'static str, String>,
    _listener: TcpListener,
}

impl Fixture {
    fn new(user: User, name: &str) -> Fixture {
        let scratch = Scratch::new(user, name);
        let ws = scratch.dir("ws");
        scratch.file("ws/existing.txt", "existing\n");
        scratch.file("ws/.git/config", "[core]\n");
        scratch.dir("ws/.git/hooks");
        scratch.file("ws/.agents/notes.md", "notes\n");
        scratch.file("out/victim.txt", "victim\n");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut vars = BTreeMap::new();
        vars.insert("ws", ws.display().to_string());
        vars.insert("out", scratch.path.join("out").display().to_string());
        vars.insert("tmp", scratch.dir("tmp").display().to_string());
        vars.insert("extra", scratch.dir("extra").display().to_string());
        vars.insert("port", listener.local_addr().unwrap().port().to_string());
        vars.insert("hostpid", std::process::id().to_string());
        vars.insert("netpy", NET_PY.to_string());
        Fixture { scratch, ws, vars, _listener: listener }
    }

    fn expand(&self, text: &str) -> String {
        self.vars.iter().fold(text.to_owned(), |acc, (key, value)| acc.replace(&format!("{{{key}}}"), value))
    }

    /// Every file below the scratch directory with its contents (directories as `<dir>`).
    fn snapshot(&self) -> BTreeMap<PathBuf, String> {
        self.scratch
            .listing()
            .into_iter()
            .map(|path| {
                let content = if path.is_symlink() {
                    format!("-> {}", fs::read_link(&path).unwrap().display())
                } else if path.is_dir() {
                    "<dir>".into()
                } else {
                    fs::read_to_string(&path).unwrap_or_else(|_| "<unreadable>".into())
                };
                (path.strip_prefix(&self.scratch.path).unwrap().to_path_buf(), content)
            })
            .collect()
    }
}

fn run_case(user: User, case: &Case, system_bwrap: bool) -> (Option<i32>, BTreeMap<PathBuf, String>) {
    let fixture = Fixture::new(user, &format!("diff-{}-{}", case.name, if system_bwrap { "sys" } else { "emb" }));
    let mut run = Run::new(user, &fixture.ws).arg("--pipeline=bwrap").policy(&fixture.expand(case.policy));
    if system_bwrap {
        run = run.arg("--bwrap-path").arg(BWRAP);
    }
    let output = run.sh(&fixture.expand(case.script));
    assert!(output.status.code() != Some(125), "{} could not be set up: {}", case.name, stderr(&output));
    (output.status.code(), fixture.snapshot())
}

#[test]
fn embedded_and_system_bwrap_agree() {
    if !Path::new(BWRAP).exists() {
        common::skip(format!("{BWRAP} is not installed (CI installs Debian's bubblewrap)"));
        return;
    }
    assert!(CASES.len() >= 25);
    for user in users() {
        if !common::userns_available(user) {
            common::skip(format!("as {user:?}: this host forbids user namespaces"));
            continue;
        }
        let mut disagreements = Vec::new();
        for case in CASES {
            let embedded = run_case(user, case, false);
            let system = run_case(user, case, true);
            if embedded != system {
                disagreements.push(format!("{}: embedded {:?} vs system bwrap {:?}", case.name, embedded, system));
            }
        }
        assert!(disagreements.is_empty(), "as {user:?}:\n{}", disagreements.join("\n"));
    }
}

/// The cases are only worth comparing if they test something: a few must succeed and a few
/// must be refused, as the policy says.
#[test]
fn the_cases_exercise_both_outcomes() {
    if !common::userns_available(User::Current) {
        common::skip("this host forbids user namespaces");
        return;
    }
    let expect = [
        ("write-cwd", Some(0)),
        ("write-outside", Some(2)),
        ("write-git-config", Some(2)),
        ("signal", Some(143)),
        ("loopback-connect-restricted", Some(1)),
        ("loopback-connect-full", Some(0)),
        ("restricted-read-allowed", Some(0)),
        ("restricted-read-cwd", Some(0)),
        ("restricted-read-hidden", Some(1)),
        ("restricted-read-write-cwd", Some(0)),
        ("restricted-read-git", Some(2)),
    ];
    for (name, code) in expect {
        let case = CASES.iter().find(|c| c.name == name).unwrap();
        assert_eq!(run_case(User::Current, case, false).0, code, "{name}");
    }
}

/// A missing command exits 127 and one that cannot be executed 126, on both executors (bwrap
/// itself exits 1 for both). (A setup failure inside bwrap: `host_limits.rs`.)
#[test]
fn missing_and_non_executable_commands_exit_127_and_126_on_both_executors() {
    if !Path::new(BWRAP).exists() {
        common::skip(format!("{BWRAP} is not installed (CI installs Debian's bubblewrap)"));
        return;
    }
    for user in users() {
        if !common::userns_available(user) {
            common::skip(format!("as {user:?}: this host forbids user namespaces"));
            continue;
        }
        let fixture = Fixture::new(user, "diff-exec");
        let not_executable = fixture.ws.join("existing.txt").display().to_string();
        for system_bwrap in [false, true] {
            let mut run = Run::new(user, &fixture.ws).arg("--pipeline=bwrap");
            if system_bwrap {
                run = run.arg("--bwrap-path").arg(BWRAP);
            }
            let output = run.output(&["codex-sandbox-no-such-command"]);
            assert_eq!(output.status.code(), Some(127), "{user:?} system={system_bwrap}: {}", stderr(&output));
            assert!(stderr(&output).contains("command not found: `codex-sandbox-no-such-command`"));
            let output = run.output(&[&not_executable]);
            assert_eq!(output.status.code(), Some(126), "{user:?} system={system_bwrap}: {}", stderr(&output));
            assert!(stderr(&output).contains("Permission denied"), "{}", stderr(&output));
        }
    }
}
