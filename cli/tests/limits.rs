//! The process budget: a fork bomb inside the sandbox exhausts the sandbox's budget, counted in
//! its own user namespace, while the host keeps forking as the same uid. As a non-root user (the
//! kernel exempts the host's uid 0 from every process budget; the plan says so).

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Run, Scratch, User, WORKSPACE, stdout};

/// Forks until refused (at most 500), prints how many and the errno, waits for `argv[1]` to
/// exist (bounded), then ends its children.
const FORKER: &str = r#"
import errno, os, sys, time
pids, refused = [], "none"
for _ in range(500):
    try:
        pid = os.fork()
    except OSError as e:
        refused = errno.errorcode[e.errno]
        break
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    pids.append(pid)
print(len(pids), refused, flush=True)
for _ in range(1000):
    if os.path.exists(sys.argv[1]):
        break
    time.sleep(0.01)
for pid in pids:
    os.kill(pid, 9)
for pid in pids:
    os.waitpid(pid, 0)
"#;

/// A user the budget applies to: 65534 when the tests run as root, else the test's own.
fn budgeted_user() -> User {
    if common::users().contains(&User::Nobody) { User::Nobody } else { User::Current }
}

#[test]
fn a_fork_bomb_exhausts_the_sandbox_budget_not_the_users() {
    let user = budgeted_user();
    if !common::userns_available(user) {
        common::skip(format!("as {user:?}: this host forbids user namespaces, where the budget is counted"));
        return;
    }
    let (uid, gid) = user.ids();
    // The namespace pipeline always has its own user namespace; the landlock pipeline has one
    // when protected paths need binding (workspace-write).
    for (pipeline, policy) in [("bwrap", "read-only"), ("landlock", WORKSPACE)] {
        let scratch = Scratch::new(user, "budget");
        let go = scratch.path.join("go");
        let run = Run::new(user, &scratch.path)
            .arg(format!("--pipeline={pipeline}"))
            .arg("--max-processes=64")
            .policy(policy);
        let mut sandbox = run
            .command(&["/usr/bin/python3", "-c", FORKER, go.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(sandbox.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let (forked, refused) = line.trim().split_once(' ').unwrap_or(("", ""));
        let forked: usize = forked.parse().unwrap_or_else(|_| panic!("{pipeline}: `{line}`"));
        // The budget counts the sandbox's init (namespace pipeline) and the forker itself.
        assert!((56..64).contains(&forked), "{pipeline}: forked {forked} children under a budget of 64");
        assert_eq!(refused, "EAGAIN", "{pipeline}");

        // While the sandbox sits at its budget the same uid still forks on the host.
        let host = Command::new("/bin/true").uid(uid).gid(gid).status().unwrap();
        assert!(host.success(), "{pipeline}: the host could not fork as uid {uid}");

        std::fs::write(&go, "").unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while sandbox.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "{pipeline}: the forker never finished");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(sandbox.wait().unwrap().success(), "{pipeline}");
    }
}

#[test]
fn the_plan_states_the_budget_and_where_it_is_not_enforced() {
    let user = budgeted_user();
    let scratch = Scratch::new(user, "budget-explain");
    let run = |args: &[&str]| {
        let mut run = Run::new(user, &scratch.path).arg("--explain");
        for arg in args {
            run = run.arg(*arg);
        }
        run.output(&["/bin/true"])
    };
    let explain = |args: &[&str]| -> serde_json::Value { serde_json::from_str(&stdout(&run(args))).unwrap() };
    if common::userns_available(user) {
        assert_eq!(explain(&["--pipeline=bwrap"])["process"]["max_processes"], 4096);
        assert_eq!(explain(&["--pipeline=bwrap", "--max-processes=10"])["process"]["max_processes"], 10);
    } else {
        common::skip(format!("as {user:?}: this host forbids user namespaces"));
    }
    // Read-only on the landlock pipeline without a user namespace of its own shares the host's:
    // no budget by default, and why; asked for explicitly, the run is refused, never weakened.
    let plan = explain(&["--pipeline=landlock"]);
    if plan["process"]["max_processes"].is_null() {
        assert!(plan["warnings"].to_string().contains("no process budget"), "{}", plan["warnings"]);
        let refused = run(&["--pipeline=landlock", "--max-processes=10"]);
        assert_eq!(refused.status.code(), Some(125), "{}", common::stderr(&refused));
        assert!(common::stderr(&refused).contains("a process budget of 10"), "{}", common::stderr(&refused));
    }
    // The host's root is exempt from every process budget: none is claimed for it.
    let root = Run::new(User::Current, &scratch.path).arg("--explain").arg("--pipeline=bwrap");
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        let plan: serde_json::Value = serde_json::from_str(&stdout(&root.output(&["/bin/true"]))).unwrap();
        assert!(plan["process"]["max_processes"].is_null(), "{}", plan["process"]);
        assert!(plan["warnings"].to_string().contains("exempts"), "{}", plan["warnings"]);
        let refused = root.arg("--max-processes=10").output(&["/bin/true"]);
        assert_eq!(refused.status.code(), Some(125), "{}", common::stderr(&refused));
    }
    let output = Run::new(user, &scratch.path).arg("--max-processes=0").output(&["/bin/true"]);
    assert_eq!(output.status.code(), Some(125), "{}", common::stderr(&output));
    assert!(common::stderr(&output).contains("invalid value '0' for '--max-processes"), "{}", common::stderr(&output));
}
