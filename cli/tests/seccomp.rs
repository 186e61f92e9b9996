//! The seccomp rules, proved against the kernel: a real sandboxed process makes each refused
//! system call with and without the argument that matters, on both pipelines (and the
//! namespace pipeline's plan run by an installed bubblewrap, which loads the same program
//! with `--seccomp`), as the current
//! user and (when root) as uid 65534, in restricted and full network mode. The same calls made
//! outside the sandbox by the same user show that the arguments reach the kernel and that the
//! refusal comes from the filter (the kernel itself would answer differently).

mod common;

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use common::{Run, Scratch, User, users};

const SYSCALLS: &str = include_str!("common/syscalls.py");

/// The installed bubblewrap (`--bwrap-path`), as CI installs it.
const SYSTEM_BWRAP: &str = "/usr/bin/bwrap";

/// What the kernel answers outside the sandbox.
#[derive(Clone, Copy, Debug)]
enum Baseline {
    /// Always this answer.
    Exactly(&'static str),
    /// "OK" where the user may create user namespaces; not checked elsewhere.
    OkWithUserNamespaces,
    /// Not checked (depends on host settings).
    Unchecked,
}

struct Case {
    what: String,
    call: String,
    sandboxed: &'static str,
    baseline: Baseline,
}

fn case(what: impl Into<String>, nr: i64, args: &[&str], sandboxed: &'static str, baseline: Baseline) -> Case {
    let mut call = nr.to_string();
    for arg in args {
        call.push(':');
        call.push_str(arg);
    }
    Case { what: what.into(), call, sandboxed, baseline }
}

/// A libc operation of the probe rather than a raw call; it must work in the sandbox.
fn named(what: &str, operation: &str) -> Case {
    Case { what: what.into(), call: operation.into(), sandboxed: "OK", baseline: Baseline::Exactly("OK") }
}

fn forking(mut case: Case) -> Case {
    case.call.insert_str(0, "fork-");
    case
}

const CLONE_NEWTIME: i64 = 0x80;
const TIOCSTI: u64 = 0x5412;
const TIOCLINUX: u64 = 0x541c;
const KEY_SPEC_SESSION_KEYRING: &str = "-3";
const KEY_SPEC_PROCESS_KEYRING: &str = "-2";
const UFFD_USER_MODE_ONLY: i64 = 1;

fn cases() -> Vec<Case> {
    use Baseline::*;
    let n = |v: i64| v.to_string();
    let sigchld = libc::SIGCHLD as i64;
    let newuser = libc::CLONE_NEWUSER as i64;
    let mut cases = vec![
        case("unshare(0)", libc::SYS_unshare, &["0"], "OK", Exactly("OK")),
        case(
            "unshare(CLONE_FS|CLONE_FILES)",
            libc::SYS_unshare,
            &[&n((libc::CLONE_FS | libc::CLONE_FILES) as i64)],
            "OK",
            Exactly("OK"),
        ),
        case("unshare(CLONE_NEWUSER)", libc::SYS_unshare, &[&n(newuser)], "EPERM", OkWithUserNamespaces),
        // An invalid extra bit: the kernel would say EINVAL, so EPERM is the filter's.
        case("unshare(CLONE_NEWUSER|1)", libc::SYS_unshare, &[&n(newuser | 1)], "EPERM", Exactly("EINVAL")),
        case(
            "unshare(1<<40: high bits only, not a flag)",
            libc::SYS_unshare,
            &[&n(1 << 40)],
            "EINVAL",
            Exactly("EINVAL"),
        ),
        forking(case("clone(SIGCHLD)", libc::SYS_clone, &[&n(sigchld), "0", "0", "0", "0"], "OK", Exactly("OK"))),
        forking(case("clone3(plain fork)", libc::SYS_clone3, &["@clone3", "88"], "ENOSYS", Exactly("OK"))),
        named("thread (pthread_create: clone3, then clone)", "thread"),
        named("spawn /bin/true (posix_spawn: clone3, then clone)", "spawn"),
        case("setns(-1, 0)", libc::SYS_setns, &["-1", "0"], "EPERM", Exactly("EBADF")),
        case("setns(own user ns)", libc::SYS_setns, &["@ns=user", &n(newuser)], "EPERM", Exactly("EINVAL")),
        case(
            "keyctl(GET_KEYRING_ID, session)",
            libc::SYS_keyctl,
            &["0", KEY_SPEC_SESSION_KEYRING, "0"],
            "EPERM",
            Unchecked,
        ),
        case(
            "keyctl(GET_KEYRING_ID, process, create)",
            libc::SYS_keyctl,
            &["0", KEY_SPEC_PROCESS_KEYRING, "1"],
            "EPERM",
            Exactly("OK"),
        ),
        case(
            "add_key(user, process keyring)",
            libc::SYS_add_key,
            &["@s=user", "@s=codex-sandbox-probe", "@s=secret", "6", KEY_SPEC_PROCESS_KEYRING],
            "EPERM",
            Exactly("OK"),
        ),
        case(
            "request_key(user, missing)",
            libc::SYS_request_key,
            &["@s=user", "@s=codex-sandbox-missing", "0", "0"],
            "EPERM",
            Exactly("ENOKEY"),
        ),
        case(
            "perf_event_open(NULL)",
            libc::SYS_perf_event_open,
            &["0", "0", "-1", "-1", "0"],
            "EPERM",
            Exactly("EFAULT"),
        ),
        case(
            "userfaultfd(USER_MODE_ONLY|O_RDWR)",
            libc::SYS_userfaultfd,
            &[&n(UFFD_USER_MODE_ONLY | 2)],
            "EPERM",
            Exactly("EINVAL"),
        ),
        case("bpf(9999, NULL, 1 MiB)", libc::SYS_bpf, &["9999", "0", &n(1 << 20)], "EPERM", Exactly("E2BIG")),
        case(
            "ioctl(/dev/null, TIOCSTI)",
            libc::SYS_ioctl,
            &["@devnull", &TIOCSTI.to_string(), "@buf"],
            "EPERM",
            Exactly("ENOTTY"),
        ),
        case(
            "ioctl(/dev/null, TIOCLINUX)",
            libc::SYS_ioctl,
            &["@devnull", &TIOCLINUX.to_string(), "@buf"],
            "EPERM",
            Exactly("ENOTTY"),
        ),
        case(
            "ioctl(/dev/null, TIOCSTI | 7<<32)",
            libc::SYS_ioctl,
            &["@devnull", &((7u64 << 32) | TIOCSTI).to_string(), "@buf"],
            "EPERM",
            Exactly("ENOTTY"),
        ),
        case(
            "ioctl(/dev/null, TIOCGWINSZ)",
            libc::SYS_ioctl,
            &["@devnull", &libc::TIOCGWINSZ.to_string(), "@buf"],
            "ENOTTY",
            Exactly("ENOTTY"),
        ),
        case("io_uring_setup(1, NULL)", libc::SYS_io_uring_setup, &["1", "0"], "EPERM", Exactly("EFAULT")),
        case("ptrace(PTRACE_TRACEME)", libc::SYS_ptrace, &["0", "0", "0", "0"], "EPERM", Exactly("OK")),
    ];
    let namespaces = [
        ("NEWNS", libc::CLONE_NEWNS as i64),
        ("NEWPID", libc::CLONE_NEWPID as i64),
        ("NEWNET", libc::CLONE_NEWNET as i64),
        ("NEWIPC", libc::CLONE_NEWIPC as i64),
        ("NEWUTS", libc::CLONE_NEWUTS as i64),
        ("NEWCGROUP", libc::CLONE_NEWCGROUP as i64),
        ("NEWTIME", CLONE_NEWTIME),
    ];
    for (name, flag) in namespaces {
        // With CLONE_NEWUSER the kernel grants the other namespaces to an unprivileged user.
        cases.push(case(
            format!("unshare(CLONE_NEWUSER|CLONE_{name})"),
            libc::SYS_unshare,
            &[&n(newuser | flag)],
            "EPERM",
            Baseline::OkWithUserNamespaces,
        ));
        cases.push(case(
            format!("unshare(CLONE_{name})"),
            libc::SYS_unshare,
            &[&n(flag)],
            "EPERM",
            Baseline::Unchecked,
        ));
        if name != "NEWTIME" {
            cases.push(forking(case(
                format!("clone(CLONE_NEWUSER|CLONE_{name}|SIGCHLD)"),
                libc::SYS_clone,
                &[&n(newuser | flag | sigchld), "0", "0", "0", "0"],
                "EPERM",
                Baseline::OkWithUserNamespaces,
            )));
        }
    }
    cases.push(forking(case(
        "clone(CLONE_NEWUSER|SIGCHLD)",
        libc::SYS_clone,
        &[&n(newuser | sigchld), "0", "0", "0", "0"],
        "EPERM",
        Baseline::OkWithUserNamespaces,
    )));
    cases
}

fn python_args(cases: &[Case]) -> Vec<&str> {
    let mut argv = vec!["/usr/bin/python3", "-c", SYSCALLS];
    argv.extend(cases.iter().map(|c| c.call.as_str()));
    argv
}

fn lines(output: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout).lines().map(str::to_owned).collect()
}

/// The same calls outside the sandbox, as `user`.
fn baseline(user: User, cases: &[Case], cwd: &std::path::Path) -> Vec<String> {
    let argv = python_args(cases);
    let mut command = Command::new(argv[0]);
    command.args(&argv[1..]).current_dir(cwd).stdin(Stdio::null()).env_clear().env("PATH", "/usr/bin:/bin");
    if user == User::Nobody {
        command.uid(65534).gid(65534);
    }
    let output = command.output().unwrap();
    assert!(output.status.success(), "baseline probe failed: {}", String::from_utf8_lossy(&output.stderr));
    lines(&output)
}

#[test]
fn refused_system_calls_get_the_filters_errno_on_both_pipelines() {
    let cases = cases();
    let mut checked = 0;
    for user in users() {
        let scratch = Scratch::new(user, "seccomp");
        let userns = common::userns_available(user);
        let host = baseline(user, &cases, &scratch.path);
        for (case, answer) in cases.iter().zip(&host) {
            match case.baseline {
                Baseline::Exactly(expected) => {
                    assert_eq!(answer, expected, "outside the sandbox as {user:?}: {}", case.what)
                }
                Baseline::OkWithUserNamespaces if userns => {
                    assert_eq!(answer, "OK", "outside the sandbox as {user:?}: {}", case.what)
                }
                _ => {}
            }
        }
        // (name, arguments): the landlock pipeline, the namespace pipeline with its embedded
        // launcher, and the same plan carried out by an installed bubblewrap.
        let mut pipelines: Vec<(&str, Vec<&str>)> = vec![("landlock", vec!["--pipeline=landlock"])];
        if userns {
            pipelines.push(("bwrap", vec!["--pipeline=bwrap"]));
            if std::path::Path::new(SYSTEM_BWRAP).is_file() {
                pipelines.push(("system bwrap", vec!["--pipeline=bwrap", "--bwrap-path", SYSTEM_BWRAP]));
            } else {
                common::skip(format!("system bwrap as {user:?}: no {SYSTEM_BWRAP}"));
            }
        } else {
            common::skip(format!("bwrap pipeline as {user:?}: this host forbids user namespaces"));
        }
        for (pipeline, args) in &pipelines {
            for policy in ["read-only", r#"{"type":"read-only","network_access":true}"#] {
                let mut run = Run::new(user, &scratch.path);
                for arg in args {
                    run = run.arg(*arg);
                }
                let run = run.policy(policy);
                let output = run.output(&python_args(&cases));
                assert!(output.status.success(), "probe failed: {}", common::stderr(&output));
                let answers = lines(&output);
                assert_eq!(answers.len(), cases.len(), "{}", common::stderr(&output));
                for (case, answer) in cases.iter().zip(&answers) {
                    assert_eq!(answer, case.sandboxed, "{} as {user:?} on {pipeline} with {policy}", case.what);
                    checked += 1;
                }
            }
        }
    }
    eprintln!("{checked} sandboxed system calls checked");
}

/// The calls the filter adds where the command shares the host's PID and IPC namespaces (the
/// landlock pipeline): System V IPC and POSIX message queues refused, and the calls that change
/// another process's limits, priority, affinity or scheduling allowed on the caller only. The
/// target `@ppid` is another process of the same uid (the probe's own), which the kernel lets
/// these calls act on outside the sandbox.
fn host_process_cases() -> Vec<Case> {
    use Baseline::*;
    let n = |v: i64| v.to_string();
    const KEY: &str = "0x7c0d5eed"; // no such System V object: the kernel answers ENOENT
    const IPC_STAT: &str = "2";
    const RLIMIT_NOFILE: &str = "7";
    const IOPRIO_WHO_PROCESS: &str = "1";
    vec![
        case("shmget(missing key)", libc::SYS_shmget, &[KEY, "4096", "0"], "EPERM", Exactly("ENOENT")),
        case("shmat(-1)", libc::SYS_shmat, &["-1", "0", "0"], "EPERM", Exactly("EINVAL")),
        case("shmctl(-1, IPC_STAT)", libc::SYS_shmctl, &["-1", IPC_STAT, "@buf"], "EPERM", Exactly("EINVAL")),
        case("shmdt(NULL)", libc::SYS_shmdt, &["0"], "EPERM", Exactly("EINVAL")),
        case("semget(missing key)", libc::SYS_semget, &[KEY, "1", "0"], "EPERM", Exactly("ENOENT")),
        case("semop(-1)", libc::SYS_semop, &["-1", "@buf", "1"], "EPERM", Exactly("EINVAL")),
        case("semtimedop(-1)", libc::SYS_semtimedop, &["-1", "@buf", "1", "0"], "EPERM", Exactly("EINVAL")),
        case("semctl(-1, IPC_STAT)", libc::SYS_semctl, &["-1", "0", IPC_STAT, "@buf"], "EPERM", Exactly("EINVAL")),
        case("msgget(missing key)", libc::SYS_msgget, &[KEY, "0"], "EPERM", Exactly("ENOENT")),
        case("msgsnd(-1)", libc::SYS_msgsnd, &["-1", "@buf", "1", "0"], "EPERM", Exactly("EINVAL")),
        case(
            "msgrcv(-1)",
            libc::SYS_msgrcv,
            &["-1", "@buf", "1", "0", &n(libc::IPC_NOWAIT as i64)],
            "EPERM",
            Exactly("EINVAL"),
        ),
        case("msgctl(-1, IPC_STAT)", libc::SYS_msgctl, &["-1", IPC_STAT, "@buf"], "EPERM", Exactly("EINVAL")),
        case(
            "mq_open(missing)",
            libc::SYS_mq_open,
            &["@s=codex-missing-queue", "0", "0", "0"],
            "EPERM",
            Exactly("ENOENT"),
        ),
        case("mq_unlink(missing)", libc::SYS_mq_unlink, &["@s=codex-missing-queue"], "EPERM", Exactly("ENOENT")),
        case("prlimit64(0, NOFILE, get)", libc::SYS_prlimit64, &["0", RLIMIT_NOFILE, "0", "@buf"], "OK", Exactly("OK")),
        case(
            "prlimit64(other, NOFILE, get)",
            libc::SYS_prlimit64,
            &["@ppid", RLIMIT_NOFILE, "0", "@buf"],
            "EPERM",
            Exactly("OK"),
        ),
        case("setpriority(PROCESS, 0, 0)", libc::SYS_setpriority, &["0", "0", "0"], "OK", Exactly("OK")),
        case("setpriority(PROCESS, other, 0)", libc::SYS_setpriority, &["0", "@ppid", "0"], "EPERM", Exactly("OK")),
        // An empty CPU mask: the kernel answers EINVAL, after its permission check.
        case(
            "sched_setaffinity(other, empty)",
            libc::SYS_sched_setaffinity,
            &["@ppid", "8", "@buf"],
            "EPERM",
            Exactly("EINVAL"),
        ),
        case(
            "sched_setaffinity(0, empty)",
            libc::SYS_sched_setaffinity,
            &["0", "8", "@buf"],
            "EINVAL",
            Exactly("EINVAL"),
        ),
        case(
            "sched_setscheduler(other, OTHER, 0)",
            libc::SYS_sched_setscheduler,
            &["@ppid", "0", "@buf"],
            "EPERM",
            Exactly("OK"),
        ),
        case("sched_setscheduler(0, OTHER, 0)", libc::SYS_sched_setscheduler, &["0", "0", "@buf"], "OK", Exactly("OK")),
        case("sched_setparam(other, 0)", libc::SYS_sched_setparam, &["@ppid", "@buf"], "EPERM", Exactly("OK")),
        case("sched_setparam(0, 0)", libc::SYS_sched_setparam, &["0", "@buf"], "OK", Exactly("OK")),
        case("sched_setattr(other)", libc::SYS_sched_setattr, &["@ppid", "@buf", "0"], "EPERM", Unchecked),
        case(
            "ioprio_set(PROCESS, other, 0)",
            libc::SYS_ioprio_set,
            &[IOPRIO_WHO_PROCESS, "@ppid", "0"],
            "EPERM",
            Exactly("OK"),
        ),
        case("ioprio_set(PROCESS, 0, 0)", libc::SYS_ioprio_set, &[IOPRIO_WHO_PROCESS, "0", "0"], "OK", Exactly("OK")),
    ]
}

#[test]
fn host_ipc_refused_and_process_calls_limited_to_the_caller_on_the_landlock_pipeline() {
    let cases = host_process_cases();
    let mut checked = 0;
    for user in users() {
        let scratch = Scratch::new(user, "seccomp-host-processes");
        let host = baseline(user, &cases, &scratch.path);
        for (case, answer) in cases.iter().zip(&host) {
            if let Baseline::Exactly(expected) = case.baseline {
                assert_eq!(answer, expected, "outside the sandbox as {user:?}: {}", case.what);
            }
        }
        let mut columns = vec![(vec!["--pipeline=landlock"], true)];
        if common::userns_available(user) {
            // The namespace pipeline has its own PID and IPC namespaces: the kernel answers.
            columns.push((vec!["--pipeline=bwrap"], false));
        }
        for (args, shares_host) in &columns {
            for policy in ["read-only", r#"{"type":"read-only","network_access":true}"#] {
                let mut run = Run::new(user, &scratch.path);
                for arg in args {
                    run = run.arg(*arg);
                }
                let output = run.policy(policy).output(&python_args(&cases));
                assert!(output.status.success(), "probe failed: {}", common::stderr(&output));
                let answers = lines(&output);
                assert_eq!(answers.len(), cases.len(), "{}", common::stderr(&output));
                for ((case, answer), outside) in cases.iter().zip(&answers).zip(&host) {
                    let expected = if *shares_host { case.sandboxed } else { outside.as_str() };
                    if !*shares_host && matches!(case.baseline, Baseline::Unchecked) {
                        continue;
                    }
                    assert_eq!(answer, expected, "{} as {user:?} with {args:?} and {policy}", case.what);
                    checked += 1;
                }
            }
        }
    }
    eprintln!("{checked} host-process system calls checked");
}
