//! What only the namespace (bwrap) pipeline provides: PID isolation with our init, a view that
//! cannot be remounted, a minimal /dev, `--no-proc`, and a host left as it was even when the
//! run is killed. As the current user and, when root, as uid 65534.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Run, Scratch, User, WORKSPACE, stderr, stdout, users};

fn bwrap_users() -> Vec<User> {
    users()
        .into_iter()
        .filter(|user| {
            let ok = common::userns_available(*user);
            if !ok {
                common::skip(format!("as {user:?}: this host forbids user namespaces"));
            }
            ok
        })
        .collect()
}

fn run(user: User, cwd: &Path) -> Run {
    Run::new(user, cwd).arg("--pipeline=bwrap")
}

/// Waits (bounded) until `path` exists.
fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(Instant::now() < deadline, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn alive(child: &mut Child) -> bool {
    child.try_wait().unwrap().is_none()
}

#[test]
fn init_is_pid_1_and_host_pids_are_invisible() {
    for user in bwrap_users() {
        let scratch = Scratch::new(user, "pids");
        let me = std::process::id();
        let script = format!(
            "echo $$; ls /proc | grep -E '^[0-9]+$' | sort -n | tr '\\n' ' '; echo; test -e /proc/{me} && echo visible || echo hidden"
        );
        let output = run(user, &scratch.path).policy("read-only").sh(&script);
        assert!(output.status.success(), "{}", stderr(&output));
        let text = stdout(&output);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "2", "the command is the child of our init (PID 1) as {user:?}");
        let pids: Vec<u32> = lines[1].split_whitespace().map(|p| p.parse().unwrap()).collect();
        assert!(pids.contains(&1) && pids.iter().all(|pid| *pid < 16), "host pids visible as {user:?}: {pids:?}");
        assert_eq!(lines[2], "hidden");
    }
}

#[test]
fn cannot_signal_a_host_process() {
    for user in bwrap_users() {
        let scratch = Scratch::new(user, "signal");
        let mut victim = Command::new("/bin/sleep").arg("30").spawn().unwrap();
        let pid = victim.id();
        let output = run(user, &scratch.path).policy("read-only").sh(&format!("kill -KILL {pid}; echo rc=$?"));
        assert!(stdout(&output).contains("rc=1"), "kill succeeded as {user:?}: {}", stdout(&output));
        assert!(alive(&mut victim), "the host process was killed from inside as {user:?}");
        victim.kill().unwrap();
        victim.wait().unwrap();
    }
}

#[test]
fn the_view_cannot_be_remounted_or_escaped_with_a_nested_namespace() {
    for user in bwrap_users() {
        let scratch = Scratch::new(user, "remount");
        let ws = scratch.dir("ws");
        let victim = scratch.file("victim.txt", "original\n");
        let attempts = [
            "mount -o remount,rw / && touch /etc/codex-sandbox-escape",
            "unshare -Urm sh -c 'mount -o remount,rw / && touch /etc/codex-sandbox-escape'",
            &format!(
                "unshare -Urm sh -c 'mount -o remount,rw {0} ; echo changed > {0}/victim.txt'",
                scratch.path.display()
            ),
            &format!("mount --bind {} /etc", ws.display()),
            &format!(
                "unshare -Urm sh -c 'mount --bind {} {} && echo changed > {}'",
                ws.display(),
                scratch.path.display(),
                victim.display()
            ),
            &format!("unshare -Urm sh -c 'umount -l {}; echo changed > {}'", ws.display(), victim.display()),
        ];
        for attempt in attempts {
            let output = run(user, &ws).policy(WORKSPACE).sh(attempt);
            assert!(!output.status.success(), "`{attempt}` succeeded as {user:?}");
        }
        assert!(!Path::new("/etc/codex-sandbox-escape").exists());
        assert_eq!(fs::read_to_string(&victim).unwrap(), "original\n", "host file changed as {user:?}");
    }
}

#[test]
fn dev_is_minimal_and_dev_shm_is_writable_only_as_a_writable_root() {
    for user in bwrap_users() {
        let scratch = Scratch::new(user, "dev");
        let name = format!("codex-sandbox-test-{}-{user:?}", std::process::id());
        let host_file = Path::new("/dev/shm").join(&name);
        let script = format!(
            "ls /dev | tr '\\n' ' '; echo; echo data > /dev/null && echo null-ok; echo x > /dev/shm/{name} && echo shm-ok"
        );
        let output = run(user, &scratch.path).policy("read-only").sh(&script);
        let text = stdout(&output);
        let listing: Vec<&str> = text.lines().next().unwrap().split_whitespace().collect();
        assert_eq!(
            listing,
            [
                "fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom",
                "zero"
            ],
            "as {user:?}"
        );
        assert!(text.contains("null-ok"));
        assert!(!text.contains("shm-ok"), "/dev/shm was writable as {user:?}");
        assert!(!host_file.exists());

        let policy = r#"{"type":"workspace-write","writable_roots":["/dev/shm"],"exclude_slash_tmp":true,"exclude_tmpdir_env_var":true}"#;
        let output = run(user, &scratch.path).policy(policy).sh(&script);
        assert!(stdout(&output).contains("shm-ok"), "as {user:?}: {}", stderr(&output));
        assert_eq!(fs::read_to_string(&host_file).unwrap(), "x\n", "the write did not reach the host's /dev/shm");
        fs::remove_file(&host_file).unwrap();
    }
}

#[test]
fn ptys_work_in_the_private_devpts() {
    for user in bwrap_users() {
        let scratch = Scratch::new(user, "pty");
        let script =
            "import os, pty; m, s = pty.openpty(); os.write(s, b'hi'); print(os.read(m, 2).decode(), os.ttyname(s))";
        let output = run(user, &scratch.path).policy("read-only").output(&["/usr/bin/python3", "-c", script]);
        assert!(output.status.success(), "as {user:?}: {}", stderr(&output));
        assert!(stdout(&output).starts_with("hi /dev/pts/"), "{}", stdout(&output));
    }
}

#[test]
fn no_proc_hides_host_processes() {
    for user in bwrap_users() {
        let scratch = Scratch::new(user, "noproc");
        let output = run(user, &scratch.path)
            .policy("read-only")
            .arg("--no-proc")
            .sh("ls -A /proc | wc -l; touch /proc/x || echo ro");
        let text = stdout(&output);
        assert_eq!(text.lines().next(), Some("0"), "as {user:?}: {text}");
        assert!(text.contains("ro"));
    }
}

#[test]
fn network_namespace_has_only_loopback_and_sysfs_shows_no_host_interfaces() {
    for user in bwrap_users() {
        let scratch = Scratch::new(user, "netns");
        let output = run(user, &scratch.path)
            .policy("read-only")
            .sh("ls /sys/class/net | tr '\\n' ' '; grep -c : /proc/net/dev");
        let text = stdout(&output);
        // One interface in sysfs (lo) and one in the namespace's /proc/net/dev.
        assert_eq!(text.split_whitespace().collect::<Vec<_>>(), ["lo", "1"], "as {user:?}: {text}");
    }
}

/// The sandbox's init, found as the CLI's only child.
fn init_pid_of(cli: &Child) -> u32 {
    let children = fs::read_to_string(format!("/proc/{0}/task/{0}/children", cli.id())).unwrap();
    children.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn a_killed_run_leaves_the_host_as_it_was() {
    for user in bwrap_users() {
        let scratch = Scratch::new(user, "killed");
        let ws = scratch.dir("ws");
        scratch.file("ws/file.txt", "data");
        let before = scratch.listing();
        let ready = ws.join("ready");
        let script = format!("touch {}; exec sleep 30", ready.display());

        // The sandbox itself is killed: the launcher survives and cleans up.
        let mut cli = run(user, &ws)
            .policy(WORKSPACE)
            .command(&["/bin/sh", "-c", &script])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        wait_for(&ready);
        fs::remove_file(&ready).unwrap();
        assert!(ws.join(".codex").exists(), "the placeholder should exist during the run");
        // SAFETY: killing the sandbox's init, a process this test started (through the CLI).
        unsafe { libc::kill(init_pid_of(&cli) as i32, libc::SIGKILL) };
        assert_eq!(cli.wait().unwrap().code(), Some(128 + libc::SIGKILL), "as {user:?}");
        assert_eq!(scratch.listing(), before, "host changed after the sandbox was killed as {user:?}");

        // The launcher itself is killed: the sandbox dies with it; the placeholder it could not
        // remove is marked, and the next run in that directory removes it.
        let mut cli = run(user, &ws)
            .policy(WORKSPACE)
            .command(&["/bin/sh", "-c", &script])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        wait_for(&ready);
        fs::remove_file(&ready).unwrap();
        let init = init_pid_of(&cli);
        cli.kill().unwrap();
        cli.wait().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Path::new(&format!("/proc/{init}")).exists() {
            assert!(Instant::now() < deadline, "the sandbox outlived its launcher as {user:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
        let output = run(user, &ws).policy(WORKSPACE).sh("true");
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(scratch.listing(), before, "stale placeholder not cleaned up as {user:?}");
    }
}

/// Init runs without Landlock or seccomp; the command must not reach it even when the sandbox
/// has no Landlock layer (here: a full-write policy in proxy mode).
#[test]
fn init_memory_is_out_of_the_commands_reach() {
    for user in bwrap_users() {
        let scratch = Scratch::new(user, "init-mem");
        let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}", proxy.local_addr().unwrap().port());
        let script = "import errno\ntry:\n  open('/proc/1/mem', 'r+b').close(); print('opened')\nexcept OSError as e: print(errno.errorcode[e.errno])";
        let output = run(user, &scratch.path)
            .policy("danger-full-access")
            .arg("--allow-network-for-proxy")
            .env("HTTP_PROXY", &url)
            .output(&["/usr/bin/python3", "-c", script]);
        assert_eq!(stdout(&output).trim(), "EACCES", "as {user:?}: {}", stderr(&output));
    }
}

/// With full network, host unix sockets through which a command could act outside the sandbox
/// (here an SSH agent's, named by SSH_AUTH_SOCK) are out of reach by the unix-socket
/// capability (`socket(AF_UNIX)` refused), not by a list of known names: on the namespace
/// pipeline and on the landlock pipeline's view alike, and the socket is not masked any more.
#[test]
fn full_network_reaches_no_host_agent_socket() {
    for user in bwrap_users() {
        for pipeline in ["--pipeline=bwrap", "--pipeline=landlock"] {
            let scratch = Scratch::new(user, "ipc-mask");
            let agent_dir = scratch.dir("ssh-test");
            let socket = agent_dir.join("agent.1");
            let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
            scratch.own(&socket);
            let policy = r#"{"type":"read-only","network_access":true}"#;
            let results = Run::new(user, &scratch.path)
                .arg(pipeline)
                .policy(policy)
                .env("SSH_AUTH_SOCK", socket.to_str().unwrap())
                .probe(&[format!("unix_connect:{}", socket.display())]);
            assert_eq!(results, ["EPERM"], "as {user:?} with {pipeline}");
            listener.set_nonblocking(true).unwrap();
            assert!(listener.accept().is_err(), "the agent received a connection with {pipeline}");
        }
    }
}

/// A root command cannot open the host's sysctls or the SysRq trigger for writing: a fresh
/// procfs shows the host's tunables, and the sandbox's root is the host's uid 0. Probed by
/// opening without writing, so nothing changes if a check ever fails.
#[test]
fn host_sysctls_stay_read_only() {
    let scratch_users = users();
    for user in scratch_users {
        let scratch = Scratch::new(user, "sysctl");
        let root = user.ids().0 == 0;
        let mut runs = vec![("landlock", Run::new(user, &scratch.path).arg("--pipeline=landlock"))];
        if common::userns_available(user) {
            runs.push(("embedded", run(user, &scratch.path)));
            if Path::new("/usr/bin/bwrap").exists() {
                runs.push(("system bwrap", run(user, &scratch.path).arg("--bwrap-path=/usr/bin/bwrap")));
            } else {
                common::skip("/usr/bin/bwrap is not installed (CI installs Debian's bubblewrap)");
            }
        } else {
            common::skip(format!("the bwrap pipeline as {user:?}: this host forbids user namespaces"));
        }
        for (executor, run) in runs {
            let results = run.probe(&[
                "open_write:/proc/sys/kernel/core_pattern".into(),
                "open_write:/proc/sys/vm/drop_caches".into(),
            ]);
            // The read-only bind refuses first (EROFS) where the sandbox mounted /proc; on the
            // landlock pipeline the host's /proc is read-only in its view where it has a user
            // namespace (EROFS), and Landlock refuses it without one (EACCES); a non-root user
            // is refused by the files' modes before either.
            let landlock_view = common::userns_available(user);
            let expected = match (root, executor) {
                (false, _) => "EACCES",
                (true, "landlock") if !landlock_view => "EACCES",
                (true, _) => "EROFS",
            };
            assert_eq!(results, [expected, expected], "{executor} as {user:?}");
        }
    }
}
