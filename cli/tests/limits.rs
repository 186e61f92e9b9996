//! The process budget: a fork bomb inside the sandbox exhausts the sandbox's budget, counted in
//! its own user namespace, while the host keeps forking as the same uid. As a non-root user (the
//! kernel exempts the host's uid 0 from every process budget; the plan says so).

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
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

/// Starts [`FORKER`] under `run` and reads how many children it forked; its fork must have
/// been refused with EAGAIN. The forker then waits for `go`.
fn start_forker(run: &Run, go: &Path, label: &str) -> (Child, usize) {
    let mut sandbox = run
        .command(&["/usr/bin/python3", "-c", FORKER, go.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(sandbox.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let (forked, refused) = line.trim().split_once(' ').unwrap_or(("", ""));
    let forked: usize = forked.parse().unwrap_or_else(|_| panic!("{label}: `{line}`"));
    assert_eq!(refused, "EAGAIN", "{label}");
    (sandbox, forked)
}

/// Lets the forker go on (`go`) and waits, bounded, for it to end its children and succeed.
fn release_forker(mut sandbox: Child, go: &Path, label: &str) {
    std::fs::write(go, "").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while sandbox.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "{label}: the forker never finished");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(sandbox.wait().unwrap().success(), "{label}");
}

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
        let (sandbox, forked) = start_forker(&run, &go, pipeline);
        // The budget counts the sandbox's init (namespace pipeline) and the forker itself.
        assert!((56..64).contains(&forked), "{pipeline}: forked {forked} children under a budget of 64");

        // While the sandbox sits at its budget the same uid still forks on the host.
        let host = Command::new("/bin/true").uid(uid).gid(gid).status().unwrap();
        assert!(host.success(), "{pipeline}: the host could not fork as uid {uid}");

        release_forker(sandbox, &go, pipeline);
    }
}

/// As the host's root (whom RLIMIT_NPROC exempts) the budget is the run's own pids cgroup: a
/// fork bomb stops at it, the host keeps forking, the cgroup (seen from the host while the run
/// sits at its budget) is gone afterwards. Every pipeline, an installed bwrap included.
#[test]
fn as_root_a_fork_bomb_stops_at_the_runs_own_pids_cgroup() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP: the pids cgroup budget is for the host's root; this test runs as another user");
        return;
    }
    let scratch = Scratch::new(User::Current, "root-budget");
    let explain =
        Run::new(User::Current, &scratch.path).arg("--explain").arg("--pipeline=bwrap").output(&["/bin/true"]);
    let plan: serde_json::Value = serde_json::from_str(&stdout(&explain)).unwrap();
    let Some(parent) = plan["process"]["pids_cgroup"]["parent"].as_str().map(std::path::PathBuf::from) else {
        // Not a missing package CI could install: a host whose cgroups give this process no
        // pids hierarchy it may write (the plan's warnings say why), so a skip even under
        // CODEX_SANDBOX_REQUIRE_ALL; root then runs without a budget, as `--explain` warns.
        eprintln!("SKIP: no pids cgroup can be made here: {}", plan["warnings"]);
        return;
    };
    let mut columns =
        vec![("bwrap", vec!["--pipeline=bwrap".to_owned()]), ("landlock", vec!["--pipeline=landlock".to_owned()])];
    if Path::new(SYSTEM_BWRAP).exists() {
        columns.push(("system-bwrap", vec!["--pipeline=bwrap".to_owned(), format!("--bwrap-path={SYSTEM_BWRAP}")]));
    }
    for (column, flags) in columns {
        let go = scratch.path.join(format!("go-{column}"));
        let mut run = Run::new(User::Current, &scratch.path).policy(WORKSPACE).arg("--max-processes=64");
        for flag in flags {
            run = run.arg(flag);
        }
        let (sandbox, forked) = start_forker(&run, &go, column);
        assert!((50..64).contains(&forked), "{column}: forked {forked} children under a budget of 64");
        // Host-side: the run's cgroup, at its budget, and the host still forks.
        let cgroup = parent.join(format!("codex-sandbox-{}-0", sandbox.id()));
        let read = |file: &str| std::fs::read_to_string(cgroup.join(file)).unwrap_or_default().trim().to_owned();
        assert_eq!(read("pids.max"), "64", "{column}: {}", cgroup.display());
        let current: u64 = read("pids.current").parse().unwrap_or(0);
        assert!((60..=64).contains(&current), "{column}: pids.current {current}");
        assert!(Command::new("/bin/true").status().unwrap().success(), "{column}: the host could not fork");
        release_forker(sandbox, &go, column);
        assert!(!cgroup.exists(), "{column}: the run's cgroup {} was left behind", cgroup.display());
    }
}

/// Four children of 100 MiB each, every one within a per-process limit of 200 MiB, then the
/// exit status of each (-9: killed).
const MEMORY_HOGS: &str = r#"
import os, time
kids = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        block = bytearray(100 << 20)
        for at in range(0, len(block), 4096):
            block[at] = 1
        time.sleep(2)
        os._exit(0)
    kids.append(pid)
print(" ".join(str(os.waitstatus_to_exitcode(os.waitpid(kid, 0)[1])) for kid in kids))
"#;

/// Where a memory cgroup can be made (root here), the memory limit bounds the sandbox as a
/// whole: of four 100 MiB children under 200 MiB the kernel's OOM killer ends all but one; the
/// run's cgroup, seen from the host while they run, holds the limit and is gone afterwards.
#[test]
fn a_memory_cgroup_bounds_the_whole_sandbox() {
    let user = User::Current;
    let scratch = Scratch::new(user, "memory-cgroup");
    let explain = Run::new(user, &scratch.path).arg("--explain").arg("--max-memory=200M").output(&["/bin/true"]);
    let plan: serde_json::Value = serde_json::from_str(&stdout(&explain)).unwrap();
    let Some(parent) = plan["process"]["limits"]["memory_cgroup"]["parent"].as_str().map(std::path::PathBuf::from)
    else {
        // As for the pids cgroup: a host that delegates no memory controller to this user is not
        // something CI can install; the plan warns that the limit is per process there.
        assert!(plan["warnings"].to_string().contains("per process (RLIMIT_AS)"), "{}", plan["warnings"]);
        eprintln!("SKIP: no memory cgroup can be made here: {}", plan["warnings"]);
        return;
    };
    let v1 = plan["process"]["limits"]["memory_cgroup"]["hierarchy"] == "v1";
    for pipeline in ["bwrap", "landlock"] {
        let sandbox = Run::new(user, &scratch.path)
            .policy(WORKSPACE)
            .arg(format!("--pipeline={pipeline}"))
            .arg("--max-memory=200M")
            .command(&["/usr/bin/python3", "-c", MEMORY_HOGS])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let cgroup = parent.join(format!("codex-sandbox-{}-0", sandbox.id()));
        let limit_file = cgroup.join(if v1 { "memory.limit_in_bytes" } else { "memory.max" });
        let mut seen_limit = String::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while seen_limit.is_empty() && Instant::now() < deadline {
            seen_limit = std::fs::read_to_string(&limit_file).unwrap_or_default().trim().to_owned();
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(seen_limit, (200u64 << 20).to_string(), "{pipeline}: {}", limit_file.display());
        let output = sandbox.wait_with_output().unwrap();
        assert!(output.status.success(), "{pipeline}: {}", common::stderr(&output));
        let statuses: Vec<i32> = stdout(&output).split_whitespace().map(|s| s.parse().unwrap()).collect();
        assert_eq!(statuses.len(), 4, "{pipeline}: {statuses:?}");
        assert!(statuses.iter().filter(|s| **s == -libc::SIGKILL).count() >= 2, "{pipeline}: {statuses:?}");
        assert!(!cgroup.exists(), "{pipeline}: the run's cgroup was left behind");
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
    // The host's root is exempt from RLIMIT_NPROC: its budget is a pids cgroup of the run's own
    // where one can be made, and otherwise none is claimed for it.
    let root = Run::new(User::Current, &scratch.path).arg("--explain").arg("--pipeline=bwrap");
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        let plan: serde_json::Value = serde_json::from_str(&stdout(&root.output(&["/bin/true"]))).unwrap();
        if plan["process"]["pids_cgroup"].is_null() {
            assert!(plan["process"]["max_processes"].is_null(), "{}", plan["process"]);
            assert!(plan["warnings"].to_string().contains("exempts"), "{}", plan["warnings"]);
            let refused = root.arg("--max-processes=10").output(&["/bin/true"]);
            assert_eq!(refused.status.code(), Some(125), "{}", common::stderr(&refused));
        } else {
            assert_eq!(plan["process"]["max_processes"], 4096, "{}", plan["process"]);
            let plan: serde_json::Value =
                serde_json::from_str(&stdout(&root.arg("--max-processes=10").output(&["/bin/true"]))).unwrap();
            assert_eq!(plan["process"]["max_processes"], 10, "{}", plan["process"]);
        }
    }
    let output = Run::new(user, &scratch.path).arg("--max-processes=0").output(&["/bin/true"]);
    assert_eq!(output.status.code(), Some(125), "{}", common::stderr(&output));
    assert!(common::stderr(&output).contains("invalid value '0' for '--max-processes"), "{}", common::stderr(&output));
}

// ---------------------------------------------------------------------------------------------
// The optional limits: memory, CPU time, file size, open files, wall-clock time.

/// The pipelines every limit is checked on: the namespace pipeline (embedded launcher, and an
/// installed bwrap where one exists) and the landlock pipeline.
fn limit_columns() -> Vec<(&'static str, Vec<String>)> {
    let mut columns =
        vec![("bwrap", vec!["--pipeline=bwrap".to_owned()]), ("landlock", vec!["--pipeline=landlock".to_owned()])];
    if Path::new(SYSTEM_BWRAP).exists() {
        columns.push(("system-bwrap", vec!["--pipeline=bwrap".to_owned(), format!("--bwrap-path={SYSTEM_BWRAP}")]));
    } else {
        common::skip(format!("no {SYSTEM_BWRAP}: the installed-bwrap column of the limits tests"));
    }
    columns
}

const SYSTEM_BWRAP: &str = "/usr/bin/bwrap";

fn limited_run(user: User, scratch: &Scratch, flags: &[String], limits: &[&str]) -> Run {
    let mut run = Run::new(user, &scratch.path).policy(WORKSPACE);
    for flag in flags.iter().map(String::as_str).chain(limits.iter().copied()) {
        run = run.arg(flag);
    }
    run
}

/// Inside: open files until refused, map more than the address space allows (private and
/// shared: RLIMIT_AS counts both, RLIMIT_DATA would miss the shared one), write past the file
/// size with SIGXFSZ ignored, and try to raise each hard limit back.
const RLIMIT_PROBE: &str = r#"
import errno, mmap, os, resource, signal
def name(e): return errno.errorcode.get(e.errno, str(e.errno))
files = []
try:
    for _ in range(1000):
        files.append(open("/dev/null"))
    print("nofile none")
except OSError as e:
    print("nofile", len(files), name(e))
for f in files: f.close()
for kind, flags in (("private", mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS), ("shared", mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)):
    try:
        mmap.mmap(-1, 512 << 20, flags=flags)
        print("mmap", kind, "OK")
    except OSError as e:
        print("mmap", kind, name(e))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
fd = os.open("big", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
print("write", os.write(fd, b"x" * 65536))
try:
    os.write(fd, b"x")
    print("fsize OK")
except OSError as e:
    print("fsize", name(e))
for res in ("RLIMIT_NOFILE", "RLIMIT_AS", "RLIMIT_FSIZE", "RLIMIT_CPU"):
    soft, hard = resource.getrlimit(getattr(resource, res))
    try:
        resource.setrlimit(getattr(resource, res), (hard + 1, hard + 1))
        print("raise", res, "OK")
    except (OSError, ValueError) as e:
        print("raise", res, getattr(e, "errno", None) and name(e) or "EPERM")
"#;

#[test]
fn memory_file_size_and_open_files_hold_inside_and_cannot_be_raised() {
    for user in common::users() {
        if !common::userns_available(user) {
            common::skip(format!("as {user:?}: no user namespaces"));
            continue;
        }
        for (column, flags) in limit_columns() {
            let scratch = Scratch::new(user, "rlimits");
            let run = limited_run(
                user,
                &scratch,
                &flags,
                &["--max-open-files=16", "--max-memory=256M", "--max-file-size=64K", "--max-cpu-seconds=30"],
            );
            let output = run.output(&["/usr/bin/python3", "-c", RLIMIT_PROBE]);
            let out = stdout(&output);
            let context = format!("{column} as {user:?}: {out}{}", common::stderr(&output));
            assert!(output.status.success(), "{context}");
            let lines: Vec<&str> = out.lines().collect();
            // 16 descriptors: the three standard streams, Python's own, then EMFILE.
            let nofile: Vec<&str> = lines[0].split(' ').collect();
            assert_eq!((nofile[0], nofile[2]), ("nofile", "EMFILE"), "{context}");
            let opened: usize = nofile[1].parse().unwrap();
            assert!((8..16).contains(&opened), "{context}");
            assert_eq!(lines[1], "mmap private ENOMEM", "{context}");
            assert_eq!(lines[2], "mmap shared ENOMEM", "{context}");
            assert_eq!(lines[3], "write 65536", "{context}");
            assert_eq!(lines[4], "fsize EFBIG", "{context}");
            // Host-side: the file stopped at the limit.
            assert_eq!(std::fs::metadata(scratch.path.join("big")).unwrap().len(), 65536, "{context}");
            for (line, resource) in lines[5..].iter().zip(["RLIMIT_NOFILE", "RLIMIT_AS", "RLIMIT_FSIZE", "RLIMIT_CPU"])
            {
                assert_eq!(*line, format!("raise {resource} EPERM"), "{context}");
            }
        }
    }
}

#[test]
fn file_size_and_cpu_limits_end_the_process_with_their_signals() {
    const SIGXCPU: i32 = 24;
    const SIGXFSZ: i32 = 25;
    let spin = "while True: pass";
    let spin_ignoring = "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True: pass";
    // Python ignores SIGXFSZ at startup; head keeps the default action.
    let grow = ["/bin/sh", "-c", "exec head -c 4194304 /dev/zero > grown"];
    for user in common::users() {
        if !common::userns_available(user) {
            common::skip(format!("as {user:?}: no user namespaces"));
            continue;
        }
        for (column, flags) in limit_columns() {
            let scratch = Scratch::new(user, "rlimit-signals");
            let cases: [(&str, [&str; 3], i32, Duration); 3] = [
                ("--max-file-size=64K", grow, 128 + SIGXFSZ, Duration::from_secs(20)),
                // SIGXCPU at the soft limit; ignored, SIGKILL at the hard one a second later.
                ("--max-cpu-seconds=1", ["/usr/bin/python3", "-c", spin], 128 + SIGXCPU, Duration::from_secs(20)),
                (
                    "--max-cpu-seconds=1",
                    ["/usr/bin/python3", "-c", spin_ignoring],
                    128 + libc::SIGKILL,
                    Duration::from_secs(20),
                ),
            ];
            for (limit, argv, expected, bound) in cases {
                let started = Instant::now();
                // Bounded by the limits themselves (CPU time; the file size ends head at once).
                let output = limited_run(user, &scratch, &flags, &[limit]).output(&argv);
                let context = format!("{column} as {user:?} {limit}: {}", common::stderr(&output));
                assert_eq!(output.status.code(), Some(expected), "{context}");
                assert!(started.elapsed() < bound, "{context}: took {:?}", started.elapsed());
            }
            assert_eq!(std::fs::metadata(scratch.path.join("grown")).unwrap().len(), 65536, "{column} as {user:?}");
        }
    }
}

/// The host pids of processes whose command line holds `marker` as an argument.
fn host_pids_with(marker: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<i32>().ok()) else { continue };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if cmdline.split(|b| *b == 0).any(|arg| arg == marker.as_bytes()) {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn the_wall_clock_limit_ends_the_whole_tree_and_says_so() {
    for user in common::users() {
        if !common::userns_available(user) {
            common::skip(format!("as {user:?}: no user namespaces"));
            continue;
        }
        for (index, (column, flags)) in limit_columns().into_iter().enumerate() {
            let scratch = Scratch::new(user, "wall-clock");
            let context = format!("{column} as {user:?}");
            // A unique sleep length marks the run's processes on the host.
            let marker = format!("{}.{index}{}", 600 + index, std::process::id() % 1000);
            // A background child, a daemon in a session of its own, and the foreground sleep.
            let script = format!("sleep {marker} & setsid sleep {marker} & sleep {marker}; echo never");
            let started = Instant::now();
            let mut sandbox = limited_run(user, &scratch, &flags, &["--max-wall-time=2"])
                .command(&["/bin/sh", "-c", &script])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            // The three sleeps, seen from the host (bounded wait).
            let mut seen = Vec::new();
            while seen.len() < 3 && started.elapsed() < Duration::from_millis(1800) {
                seen = host_pids_with(&marker);
                std::thread::sleep(Duration::from_millis(20));
            }
            assert_eq!(seen.len(), 3, "{context}: the run's processes on the host: {seen:?}");
            let deadline = Instant::now() + Duration::from_secs(20);
            while sandbox.try_wait().unwrap().is_none() {
                assert!(Instant::now() < deadline, "{context}: the limit did not end the run");
                std::thread::sleep(Duration::from_millis(20));
            }
            let output = sandbox.wait_with_output().unwrap();
            let elapsed = started.elapsed();
            assert_eq!(output.status.code(), Some(124), "{context}: {}", common::stderr(&output));
            assert!(common::stderr(&output).contains("wall-clock limit (--max-wall-time 2) expired"), "{context}");
            assert!(!stdout(&output).contains("never"), "{context}");
            assert!(elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(10), "{context}: {elapsed:?}");
            // Every process of the run is gone by the time the launcher reports (by pid).
            for pid in &seen {
                assert!(!Path::new(&format!("/proc/{pid}")).exists(), "{context}: pid {pid} of the run is alive");
            }
            assert!(host_pids_with(&marker).is_empty(), "{context}");

            // A run that ends before its limit keeps its own status.
            let output = limited_run(user, &scratch, &flags, &["--max-wall-time=30"]).sh("exit 3");
            assert_eq!(output.status.code(), Some(3), "{context}: {}", common::stderr(&output));
        }
    }
}

#[test]
fn limits_are_validated_and_never_raised() {
    let user = User::Current;
    let scratch = Scratch::new(user, "limits-explain");
    let run = |args: &[&str]| {
        let mut run = Run::new(user, &scratch.path);
        for arg in args {
            run = run.arg(*arg);
        }
        run.output(&["/bin/true"])
    };
    for (flag, message) in [
        ("--max-memory=0", "`max-memory`: 0 bytes is outside the valid range"),
        ("--max-memory=1K", "`max-memory`: 1024 bytes is outside"),
        ("--max-cpu-seconds=0", "`max-cpu-seconds`: 0 s is outside"),
        ("--max-file-size=0", "`max-file-size`: 0 bytes is outside"),
        ("--max-open-files=2", "`max-open-files`: 2 is outside"),
        ("--max-open-files=99999999", "`max-open-files`: 99999999 is outside"),
        ("--max-wall-time=0", "`max-wall-time`: 0 ms is outside"),
        ("--max-wall-time=-1", "'-1' for '--max-wall-time"),
        ("--max-memory=12Q", "the unit must be K, M, G or T"),
    ] {
        let output = run(&[flag]);
        assert_eq!(output.status.code(), Some(125), "{flag}");
        assert!(common::stderr(&output).contains(message), "{flag}: {}", common::stderr(&output));
    }
    // A wall clock needs the sandbox's init: a policy run without one refuses it, never ignores it.
    let output = run(&["--sandbox-policy=danger-full-access", "--max-wall-time=1"]);
    assert_eq!(output.status.code(), Some(125), "{}", common::stderr(&output));
    assert!(common::stderr(&output).contains("a wall-clock limit of 1000 ms"), "{}", common::stderr(&output));
    // Above the launcher's own hard limit: clamped to it, and said so.
    let mut hard = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: a valid out parameter.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut hard) };
    if hard.rlim_max < 1 << 20 {
        let output = run(&["--explain", "--max-open-files=1048576", "--max-wall-time=1.5"]);
        let plan: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
        let limits = &plan["process"]["limits"];
        assert_eq!(limits["rlimits"][0]["name"], "RLIMIT_NOFILE");
        assert_eq!(limits["rlimits"][0]["hard"], hard.rlim_max);
        assert_eq!(limits["wall_time_ms"], 1500);
        assert!(plan["warnings"].to_string().contains("RLIMIT_NOFILE: 1048576 is above"), "{}", plan["warnings"]);
    }
}
