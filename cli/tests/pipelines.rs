//! Both pipelines, end to end: real sandboxed processes under the Landlock pipeline and the
//! namespace (bwrap) pipeline, as the current user and (when root) as uid 65534, asserting what
//! the kernel did and that the host is untouched.

mod common;

use std::fs;
use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::path::Path;

use common::{Run, Scratch, User, WORKSPACE, stderr, stdout, users};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pipeline {
    Landlock,
    Bwrap,
}

impl Pipeline {
    fn flag(self) -> &'static str {
        match self {
            Pipeline::Landlock => "--pipeline=landlock",
            Pipeline::Bwrap => "--pipeline=bwrap",
        }
    }

    /// The errno of reading outside the readable roots: Landlock refuses it; under the
    /// namespaces the path is not in the view at all.
    fn hidden(self) -> &'static str {
        match self {
            Pipeline::Landlock => "EACCES",
            Pipeline::Bwrap => "ENOENT",
        }
    }

    /// The errno of a write outside the writable roots: under a user namespace the mount is
    /// read-only (on the landlock pipeline too, beneath its Landlock rules), which the kernel
    /// checks first; without one Landlock refuses it.
    fn denied(self, user: User) -> &'static str {
        match self {
            Pipeline::Landlock if !common::userns_available(user) => "EACCES",
            Pipeline::Landlock | Pipeline::Bwrap => "EROFS",
        }
    }
}

/// Every (user, pipeline) pair this host can run; both pipelines need user namespaces for
/// protected paths, and the bwrap pipeline always.
fn matrix() -> Vec<(User, Pipeline)> {
    let mut pairs = Vec::new();
    for user in users() {
        pairs.push((user, Pipeline::Landlock));
        if common::userns_available(user) {
            pairs.push((user, Pipeline::Bwrap));
        } else {
            common::skip(format!("bwrap pipeline as {user:?}: this host forbids user namespaces"));
        }
    }
    pairs
}

fn run(user: User, pipeline: Pipeline, cwd: &Path) -> Run {
    Run::new(user, cwd).arg(pipeline.flag())
}

fn skip_without_userns(user: User) -> bool {
    if common::userns_available(user) {
        return false;
    }
    common::skip(format!("as {user:?}: this host forbids user namespaces, needed to protect .git/.codex"));
    true
}

#[test]
fn reads_everywhere_writes_only_in_writable_roots() {
    for (user, pipeline) in matrix() {
        let scratch = Scratch::new(user, "writes");
        let ws = scratch.dir("ws");
        let outside = scratch.file("outside/victim.txt", "original\n");
        let d = pipeline.denied(user);
        let results = run(user, pipeline, &ws).policy(WORKSPACE).probe(&[
            "read:/etc/passwd".into(),
            format!("write:{}", ws.join("inside.txt").display()),
            format!("mkdir:{}", ws.join("subdir").display()),
            format!("write:{}", outside.display()),
            format!("append:{}", outside.display()),
            format!("truncate:{}", outside.display()),
            format!("write:{}", scratch.path.join("outside/new.txt").display()),
            format!("unlink:{}", outside.display()),
            "write:/dev/null".into(),
        ]);
        assert_eq!(results, ["OK", "OK", "OK", d, d, d, d, d, "OK"], "as {user:?} under {pipeline:?}");
        assert_eq!(fs::read_to_string(&outside).unwrap(), "original\n", "host file changed as {user:?}");
        assert!(!scratch.path.join("outside/new.txt").exists());
        assert!(ws.join("inside.txt").exists() && ws.join("subdir").is_dir());
    }
}

#[test]
fn read_only_policy_writes_nothing() {
    for (user, pipeline) in matrix() {
        let scratch = Scratch::new(user, "readonly");
        let victim = scratch.file("victim.txt", "original\n");
        let results = run(user, pipeline, &scratch.path).policy("read-only").probe(&[
            format!("read:{}", victim.display()),
            format!("write:{}", victim.display()),
            "write:/dev/null".into(),
        ]);
        assert_eq!(results, ["OK", pipeline.denied(user), "OK"], "as {user:?} under {pipeline:?}");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "original\n");
    }
}

#[test]
fn slash_tmp_is_writable_unless_excluded() {
    for (user, pipeline) in matrix() {
        let scratch = Scratch::new(user, "tmp");
        let ws = scratch.dir("ws");
        let elsewhere_in_tmp = scratch.dir("elsewhere").join("file");
        let write = format!("write:{}", elsewhere_in_tmp.display());
        let included = r#"{"type":"workspace-write","exclude_tmpdir_env_var":true}"#;
        assert_eq!(
            run(user, pipeline, &ws).policy(included).probe(std::slice::from_ref(&write)),
            ["OK"],
            "as {user:?} under {pipeline:?}"
        );
        fs::remove_file(&elsewhere_in_tmp).unwrap();
        assert_eq!(
            run(user, pipeline, &ws).policy(WORKSPACE).probe(&[write]),
            [pipeline.denied(user)],
            "as {user:?} under {pipeline:?}"
        );
        assert!(!elsewhere_in_tmp.exists());
    }
}

#[test]
fn tmpdir_env_is_a_writable_root_unless_excluded() {
    for (user, pipeline) in matrix() {
        let scratch = Scratch::new(user, "tmpdir");
        let ws = scratch.dir("ws");
        let tmpdir = scratch.dir("tmpdir");
        let write = format!("write:{}", tmpdir.join("f").display());
        let included = r#"{"type":"workspace-write","exclude_slash_tmp":true}"#;
        let tmpdir_str = tmpdir.to_str().unwrap();
        assert_eq!(
            run(user, pipeline, &ws).policy(included).env("TMPDIR", tmpdir_str).probe(std::slice::from_ref(&write)),
            ["OK"]
        );
        fs::remove_file(tmpdir.join("f")).unwrap();
        assert_eq!(
            run(user, pipeline, &ws).policy(WORKSPACE).env("TMPDIR", tmpdir_str).probe(&[write]),
            [pipeline.denied(user)]
        );
    }
}

#[test]
fn explicit_writable_roots_and_missing_ones() {
    for (user, pipeline) in matrix() {
        let scratch = Scratch::new(user, "explicit");
        let ws = scratch.dir("ws");
        let extra = scratch.dir("extra");
        let policy = format!(
            r#"{{"type":"workspace-write","writable_roots":["{}","{}"],"exclude_slash_tmp":true,"exclude_tmpdir_env_var":true}}"#,
            extra.display(),
            scratch.path.join("does-not-exist").display()
        );
        let results = run(user, pipeline, &ws).policy(&policy).probe(&[format!("write:{}", extra.join("f").display())]);
        assert_eq!(results, ["OK"], "as {user:?} under {pipeline:?}");
    }
}

#[test]
fn protected_paths_stay_read_only() {
    for (user, pipeline) in matrix() {
        if skip_without_userns(user) {
            continue;
        }
        let scratch = Scratch::new(user, "protected");
        let ws = scratch.dir("ws");
        let config = scratch.file("ws/.git/config", "[core]\n");
        let hook = scratch.file("ws/.git/hooks/pre-commit", "#!/bin/sh\n");
        let codex = scratch.file("ws/.codex/config.toml", "model = \"x\"\n");
        let agents = scratch.file("ws/.agents/notes.md", "notes\n");
        let before = scratch.listing();
        let results = run(user, pipeline, &ws).policy(WORKSPACE).probe(&[
            format!("write:{}", config.display()),
            format!("write:{}", hook.display()),
            format!("unlink:{}", hook.display()),
            format!("write:{}", ws.join(".git/new-file").display()),
            format!("write:{}", codex.display()),
            format!("write:{}", agents.display()),
            format!("rename:{}:{}", ws.join(".git").display(), ws.join("git-moved").display()),
            format!("rmdir:{}", ws.join(".codex").display()),
            format!("read:{}", config.display()),
            format!("write:{}", ws.join("regular.txt").display()),
        ]);
        assert_eq!(
            results,
            ["EROFS", "EROFS", "EROFS", "EROFS", "EROFS", "EROFS", "EBUSY", "EBUSY", "OK", "OK"],
            "as {user:?} under {pipeline:?}"
        );
        assert_eq!(fs::read_to_string(&config).unwrap(), "[core]\n");
        assert_eq!(fs::read_to_string(&hook).unwrap(), "#!/bin/sh\n");
        fs::remove_file(ws.join("regular.txt")).unwrap();
        assert_eq!(scratch.listing(), before, "the run changed the host as {user:?}");
    }
}

#[test]
fn missing_codex_cannot_be_created_and_leaves_nothing_behind() {
    for (user, pipeline) in matrix() {
        if skip_without_userns(user) {
            continue;
        }
        let scratch = Scratch::new(user, "codex-missing");
        let ws = scratch.dir("ws");
        let before = scratch.listing();
        let results = run(user, pipeline, &ws).policy(WORKSPACE).probe(&[
            format!("mkdir:{}", ws.join(".codex/sub").display()),
            format!("write:{}", ws.join(".codex/config.toml").display()),
            format!("rmdir:{}", ws.join(".codex").display()),
            format!("listdir:{}", ws.join(".codex").display()),
        ]);
        assert_eq!(results, ["EROFS", "EROFS", "EBUSY", "OK"], "as {user:?} under {pipeline:?}");
        assert!(!ws.join(".codex").exists(), "placeholder left behind as {user:?}");
        assert_eq!(scratch.listing(), before);
    }
}

#[test]
fn git_pointer_file_and_its_gitdir_are_protected() {
    for (user, pipeline) in matrix() {
        if skip_without_userns(user) {
            continue;
        }
        let scratch = Scratch::new(user, "gitdir");
        let ws = scratch.dir("ws");
        let real = scratch.file("ws/modules/real-gitdir/HEAD", "ref: refs/heads/main\n");
        let pointer = scratch.file("ws/.git", "gitdir: modules/real-gitdir\n");
        let results = run(user, pipeline, &ws).policy(WORKSPACE).probe(&[
            format!("write:{}", pointer.display()),
            format!("write:{}", real.display()),
            format!("write:{}", real.with_file_name("hooks-new").display()),
            format!("write:{}", ws.join("modules/other").display()),
        ]);
        assert_eq!(results, ["EROFS", "EROFS", "EROFS", "OK"], "as {user:?} under {pipeline:?}");
        assert_eq!(fs::read_to_string(&pointer).unwrap(), "gitdir: modules/real-gitdir\n");
        assert_eq!(fs::read_to_string(&real).unwrap(), "ref: refs/heads/main\n");
    }
}

#[test]
fn symlinked_codex_is_refused_and_nothing_runs() {
    for (user, pipeline) in matrix() {
        let scratch = Scratch::new(user, "codex-symlink");
        let ws = scratch.dir("ws");
        let decoy = scratch.dir("ws/decoy");
        std::os::unix::fs::symlink("decoy", ws.join(".codex")).unwrap();
        std::os::unix::fs::lchown(ws.join(".codex"), Some(user.ids().0), Some(user.ids().1)).unwrap();
        let output = run(user, pipeline, &ws).policy(WORKSPACE).sh("touch ran; echo pwned > .codex/config.toml");
        assert_eq!(output.status.code(), Some(125), "as {user:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(".codex") && stderr(&output).contains("symbolic link"), "{}", stderr(&output));
        assert!(!ws.join("ran").exists(), "the command ran as {user:?}");
        assert!(fs::read_dir(&decoy).unwrap().next().is_none());
    }
}

#[test]
fn tcp_and_udp_to_a_loopback_listener_are_refused() {
    for (user, pipeline) in matrix() {
        let scratch = Scratch::new(user, "net");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tcp_port = listener.local_addr().unwrap().port();
        let udp_port = udp.local_addr().unwrap().port();
        let results = run(user, pipeline, &scratch.path).policy("read-only").probe(&[
            format!("connect:127.0.0.1:{tcp_port}"),
            format!("udp:127.0.0.1:{udp_port}"),
            "socket:AF_INET".into(),
            "socket:AF_INET6".into(),
            "socket:AF_NETLINK:SOCK_RAW".into(),
            "socket:AF_UNIX:SOCK_DGRAM".into(),
        ]);
        assert_eq!(results, ["EPERM", "EPERM", "EPERM", "EPERM", "EPERM", "EPERM"], "as {user:?} under {pipeline:?}");
        listener.set_nonblocking(true).unwrap();
        assert!(listener.accept().is_err(), "the listener received a connection");
        udp.set_nonblocking(true).unwrap();
        assert!(udp.recv_from(&mut [0u8; 16]).is_err(), "the UDP listener received a datagram");
    }
}

/// Socketpairs carry data; a unix socket of one's own is refused (unix sockets: none, the
/// default; `cli/tests/unix_sockets.rs` has the rest).
#[test]
fn unix_socketpairs_still_work_while_unix_sockets_are_refused() {
    for (user, pipeline) in matrix() {
        let scratch = Scratch::new(user, "unix");
        let results = run(user, pipeline, &scratch.path).policy("read-only").probe(&[
            "socketpair".into(),
            "socket:AF_UNIX".into(),
            "socket:AF_UNIX:SOCK_SEQPACKET".into(),
        ]);
        assert_eq!(results, ["OK", "EPERM", "EPERM"], "as {user:?} under {pipeline:?}");
    }
}

#[test]
fn unix_socket_connect_is_refused_without_network() {
    for (user, pipeline) in matrix() {
        let scratch = Scratch::new(user, "unix-connect");
        let path = scratch.path.join("listener.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        scratch.own(&path);
        let results =
            run(user, pipeline, &scratch.path).policy("read-only").probe(&[format!("unix_connect:{}", path.display())]);
        assert_eq!(results, ["EPERM"], "as {user:?} under {pipeline:?}");
        listener.set_nonblocking(true).unwrap();
        assert!(listener.accept().is_err());
    }
}

#[test]
fn network_access_true_allows_loopback() {
    for (user, pipeline) in matrix() {
        let scratch = Scratch::new(user, "net-on");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let policy = r#"{"type":"read-only","network_access":true}"#;
        let results = run(user, pipeline, &scratch.path).policy(policy).probe(&[format!("connect:127.0.0.1:{port}")]);
        assert_eq!(results, ["OK"], "as {user:?} under {pipeline:?}");
        let (mut stream, _) = listener.accept().unwrap();
        let mut received = String::new();
        stream.read_to_string(&mut received).unwrap();
        assert_eq!(received, "escaped");
    }
}

#[test]
fn no_new_privs_and_no_capabilities() {
    for (user, pipeline) in matrix() {
        let scratch = Scratch::new(user, "caps");
        let output = run(user, pipeline, &scratch.path).policy(WORKSPACE).output(&[
            "/bin/grep",
            "-E",
            "^(NoNewPrivs|Cap(Inh|Prm|Eff|Bnd|Amb)):",
            "/proc/self/status",
        ]);
        let text = stdout(&output);
        assert!(text.contains("NoNewPrivs:\t1"), "as {user:?}: {text}");
        for line in text.lines().filter(|l| l.starts_with("Cap")) {
            assert!(line.ends_with("0000000000000000"), "as {user:?}: {line}");
        }
    }
}

#[test]
fn inherited_descriptors_are_closed() {
    let scratch = Scratch::new(User::Current, "fds");
    let path = std::ffi::CString::new(scratch.file("secret", "s").to_str().unwrap()).unwrap();
    // SAFETY: opening a file without O_CLOEXEC so that the sandbox binary inherits it.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY) };
    assert!(fd > 2);
    for (user, pipeline) in matrix() {
        let output = run(user, pipeline, &scratch.path)
            .policy("read-only")
            .sh(&format!("test -e /proc/self/fd/{fd} && echo leaked || echo closed"));
        assert_eq!(stdout(&output).trim(), "closed", "as {user:?} under {pipeline:?}");
    }
    // SAFETY: closing the descriptor opened above.
    unsafe { libc::close(fd) };
}

#[test]
fn exit_codes_and_signals_pass_through() {
    for (user, pipeline) in matrix() {
        let scratch = Scratch::new(user, "exit");
        let sandbox = run(user, pipeline, &scratch.path).policy("read-only");
        assert_eq!(sandbox.sh("exit 7").status.code(), Some(7));
        assert_eq!(sandbox.sh("exit 0").status.code(), Some(0));
        assert_eq!(sandbox.sh("kill -TERM $$").status.code(), Some(128 + libc::SIGTERM));
        assert_eq!(sandbox.sh("kill -KILL $$").status.code(), Some(128 + libc::SIGKILL));
        let missing = sandbox.output(&["definitely-not-a-command-xyz"]);
        assert_eq!(missing.status.code(), Some(127), "{}", stderr(&missing));
        assert!(stderr(&missing).contains("command not found"));
        let not_executable = sandbox.output(&["/etc/passwd"]);
        assert_eq!(not_executable.status.code(), Some(126), "{}", stderr(&not_executable));
    }
}

#[test]
fn restricted_read_access() {
    for (user, pipeline) in matrix() {
        let scratch = Scratch::new(user, "read");
        let ws = scratch.dir("ws");
        let readable = scratch.file("readable/data.txt", "yes");
        let hidden = scratch.file("hidden/data.txt", "no");
        let policy = format!(
            r#"{{"type":"read-only","access":{{"type":"restricted","readable_roots":["{}"]}}}}"#,
            readable.parent().unwrap().display()
        );
        let results = run(user, pipeline, &ws).policy(&policy).probe(&[
            format!("read:{}", readable.display()),
            format!("read:{}", hidden.display()),
            "read:/etc/hostname".into(),
        ]);
        assert_eq!(results, ["OK", pipeline.hidden(), "OK"], "as {user:?} under {pipeline:?}");
    }
}

#[test]
fn danger_full_access_is_not_sandboxed() {
    for user in users() {
        let scratch = Scratch::new(user, "danger");
        let outside = scratch.file("outside.txt", "original");
        let output = Run::new(user, &scratch.path)
            .policy("danger-full-access")
            .sh(&format!("echo changed > {} && grep NoNewPrivs /proc/self/status", outside.display()));
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(stdout(&output).contains("NoNewPrivs:\t0"));
        assert_eq!(fs::read_to_string(&outside).unwrap(), "changed\n");
    }
}

#[test]
fn a_real_empty_codex_directory_is_kept_and_a_stale_placeholder_is_removed() {
    for (user, pipeline) in matrix() {
        if skip_without_userns(user) {
            continue;
        }
        let scratch = Scratch::new(user, "codex-stale");
        let ws = scratch.dir("ws");
        let codex = scratch.dir("ws/.codex");
        let results =
            run(user, pipeline, &ws).policy(WORKSPACE).probe(&[format!("mkdir:{}", codex.join("x").display())]);
        assert_eq!(results, ["EROFS"], "as {user:?} under {pipeline:?}");
        assert!(codex.is_dir(), "the user's own .codex was removed as {user:?}");

        // What a parent killed mid-run leaves behind: an empty, marked placeholder.
        let name = std::ffi::CString::new("user.codex-sandbox.placeholder").unwrap();
        let path = std::ffi::CString::new(codex.to_str().unwrap()).unwrap();
        // SAFETY: valid NUL-terminated strings and a one-byte value.
        let ret = unsafe { libc::setxattr(path.as_ptr(), name.as_ptr(), b"1".as_ptr().cast(), 1, 0) };
        if ret != 0 {
            common::skip("stale-placeholder half: no user xattrs on /tmp");
            continue;
        }
        let results =
            run(user, pipeline, &ws).policy(WORKSPACE).probe(&[format!("mkdir:{}", codex.join("x").display())]);
        assert_eq!(results, ["EROFS"], "as {user:?} under {pipeline:?}");
        assert!(!codex.exists(), "the stale placeholder was not cleaned up as {user:?}");
    }
}

/// Renaming a directory above a protected path would carry the protected mount away and let
/// the command recreate the path with contents of its own (`mv proj proj.old; mkdir -p
/// proj/.git/hooks`). Every such directory inside a writable root is pinned.
#[test]
fn protected_paths_cannot_be_carried_away_by_renaming_a_parent() {
    for (user, pipeline) in matrix() {
        if skip_without_userns(user) {
            continue;
        }
        let scratch = Scratch::new(user, "rename-parent");
        let ws = scratch.dir("a/ws");
        let config = scratch.file("a/ws/.git/config", "[core]\n");
        // /tmp stays writable, so the scratch directory and `a` are inside a writable root.
        let policy = r#"{"type":"workspace-write","exclude_tmpdir_env_var":true}"#;
        let results = run(user, pipeline, &ws).policy(policy).probe(&[
            format!("rename:{}:{}", ws.display(), scratch.path.join("a/moved").display()),
            format!("rename:{}:{}", scratch.path.join("a").display(), scratch.path.join("b").display()),
            format!("rename:{}:{}", scratch.path.display(), scratch.path.with_extension("moved").display()),
            format!("write:{}", scratch.path.join("a/sibling.txt").display()),
        ]);
        assert_eq!(results, ["EBUSY", "EBUSY", "EBUSY", "OK"], "as {user:?} under {pipeline:?}");
        assert_eq!(fs::read_to_string(&config).unwrap(), "[core]\n");
        assert!(ws.join(".git").is_dir());
    }
}

/// In a cwd inside a repository, a new `.git` would shadow that repository for the user's next
/// `git` there (hooks, `core.fsmonitor`): it cannot be created, and git still finds the
/// enclosing repository.
#[test]
fn a_git_directory_shadowing_the_enclosing_repository_cannot_be_created() {
    for (user, pipeline) in matrix() {
        if skip_without_userns(user) {
            continue;
        }
        let scratch = Scratch::new(user, "shadow-git");
        scratch.file(".git/HEAD", "ref: refs/heads/main\n");
        scratch.dir(".git/objects");
        scratch.dir(".git/refs");
        let sub = scratch.dir("sub");
        let before = scratch.listing();
        let results = run(user, pipeline, &sub).policy(WORKSPACE).probe(&[
            format!("mkdir:{}", sub.join(".git/hooks").display()),
            format!("write:{}", sub.join(".git/config").display()),
            format!("rmdir:{}", sub.join(".git").display()),
            format!("write:{}", sub.join("file.txt").display()),
        ]);
        assert_eq!(results, ["EROFS", "EROFS", "EBUSY", "OK"], "as {user:?} under {pipeline:?}");
        fs::remove_file(sub.join("file.txt")).unwrap();
        assert_eq!(scratch.listing(), before, "as {user:?} under {pipeline:?}: the placeholder was left behind");

        if user == User::Current && Path::new("/usr/bin/git").exists() {
            let output =
                run(user, pipeline, &sub).policy(WORKSPACE).env("GIT_CEILING_DIRECTORIES", "/nonexistent").output(&[
                    "/usr/bin/git",
                    "-c",
                    &format!("safe.directory={}", scratch.path.display()),
                    "rev-parse",
                    "--show-toplevel",
                ]);
            assert_eq!(stdout(&output).trim(), scratch.path.to_str().unwrap(), "{}", stderr(&output));
        }
    }
}

/// Outside any repository a missing `.git` is kept from being created too (its placeholder is
/// in the way); `--unprotect .git` makes `git init` possible again.
#[test]
fn a_git_directory_outside_any_repository_needs_unprotect_to_be_created() {
    for (user, pipeline) in matrix() {
        let scratch = Scratch::new(user, "new-git");
        let mkdir = [format!("mkdir:{}", scratch.path.join(".git").display())];
        let results = run(user, pipeline, &scratch.path).policy(WORKSPACE).probe(&mkdir);
        assert_eq!(results, ["EEXIST"], "as {user:?} under {pipeline:?}");
        assert!(!scratch.path.join(".git").exists(), "as {user:?} under {pipeline:?}: the placeholder is gone");
        let results = run(user, pipeline, &scratch.path).policy(WORKSPACE).arg("--unprotect=.git").probe(&mkdir);
        assert_eq!(results, ["OK"], "as {user:?} under {pipeline:?}");
    }
}

/// A host pseudo-terminal pair whose slave belongs to `user`, with a line typed into it.
struct HostPty {
    master: std::os::fd::OwnedFd,
    slave: std::os::fd::OwnedFd,
    path: std::path::PathBuf,
}

fn host_pty(user: User, typed: &str) -> HostPty {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: out-pointers to two ints; name, termios and winsize are NULL.
    let rc =
        unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
    assert_eq!(rc, 0, "openpty");
    // SAFETY: openpty returned two fresh descriptors we now own.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let path = fs::read_link(format!("/proc/self/fd/{}", slave.as_raw_fd())).unwrap();
    let (uid, gid) = user.ids();
    std::os::unix::fs::chown(&path, Some(uid), Some(gid)).unwrap();
    // SAFETY: writes from a live buffer to a descriptor we own.
    unsafe { libc::write(master.as_raw_fd(), typed.as_ptr().cast(), typed.len()) };
    HostPty { master, slave, path }
}

/// The landlock pipeline's `/dev`: the harmless devices and the command's own terminal open
/// read-write, another terminal of the same user (typed input waiting) and the console's
/// screen do not (EACCES, where the mode bits would allow them), and `/` and `/dev` still list.
#[test]
fn landlock_dev_holds_only_the_harmless_devices_and_the_own_terminal() {
    use std::os::fd::AsRawFd;
    use std::process::Stdio;
    const SCRIPT: &str = r#"
import errno, os, sys
def attempt(path, flags):
    try:
        os.close(os.open(path, flags))
        return "OK"
    except OSError as e:
        return errno.errorcode[e.errno]
answers = [attempt(p, os.O_RDWR) for p in ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")]
answers.append(attempt(os.ttyname(0), os.O_RDWR))
answers.append(attempt(sys.argv[1], os.O_RDONLY))
answers.append(attempt("/dev/vcs1", os.O_RDONLY) if os.path.exists("/dev/vcs1") else "EACCES")
answers.append("OK" if "etc" in os.listdir("/") and "null" in os.listdir("/dev") else "NO-LISTING")
answers.append(attempt("/etc/hostname", os.O_RDONLY))
print(" ".join(answers))
"#;
    let expected = "OK OK OK OK OK OK EACCES EACCES OK OK";
    for user in users() {
        let scratch = Scratch::new(user, "landlock-dev");
        let mut policies = vec!["read-only"];
        if common::userns_available(user) {
            policies.push("workspace-write");
        }
        for policy in policies {
            let own = host_pty(user, "");
            let other = host_pty(user, "codex-typed-secret\n");
            let run = Run::new(user, &scratch.path).arg("--pipeline=landlock").policy(policy);
            let mut command = run.command(&["/usr/bin/python3", "-c", SCRIPT, &other.path.display().to_string()]);
            let stdin = own.slave.try_clone().unwrap();
            command.stdin(Stdio::from(stdin)).stdout(Stdio::piped()).stderr(Stdio::piped());
            let output = command.output().unwrap();
            assert!(output.status.success(), "{policy} as {user:?}: {}", stderr(&output));
            assert_eq!(stdout(&output).trim(), expected, "{policy} as {user:?}: {}", stderr(&output));
            // The typed line is still waiting on the other terminal: nothing read it.
            let mut waiting: libc::c_int = 0;
            // SAFETY: FIONREAD writes one int.
            unsafe { libc::ioctl(other.slave.as_raw_fd(), libc::FIONREAD, &mut waiting) };
            assert_eq!(waiting as usize, "codex-typed-secret\n".len(), "{policy} as {user:?}");
            drop((own.master, other.master));
        }
    }
}

/// Metadata outside the writable roots: mode bits (the set-uid bit too), owner, xattrs and
/// timestamps of a host file stay as they were, while `chmod +x`, `touch` and xattrs inside
/// the workspace keep working. On the landlock pipeline with user namespaces the read-only view
/// refuses them (EROFS); without user namespaces workspace-write does not run there at all.
#[test]
fn metadata_outside_the_writable_roots_stays_while_chmod_inside_works() {
    use std::os::unix::fs::MetadataExt;
    const SCRIPT: &str = r#"
import errno, os, sys
inside, outside = sys.argv[1], sys.argv[2]
def attempt(action):
    try:
        action()
        return "OK"
    except OSError as e:
        return errno.errorcode[e.errno]
answers = [
    attempt(lambda: os.chmod(inside, 0o755)),
    attempt(lambda: os.utime(inside, (1, 1))),
    attempt(lambda: os.setxattr(inside, "user.codex", b"1")),
    attempt(lambda: os.chmod(outside, 0o4755)),
    attempt(lambda: os.chmod(outside, 0o777)),
    attempt(lambda: os.utime(outside, (0, 0))),
    attempt(lambda: os.setxattr(outside, "user.codex", b"1")),
    attempt(lambda: os.chown(outside, os.getuid(), os.getgid())),
]
print(" ".join(answers))
"#;
    for user in users() {
        if skip_without_userns(user) {
            continue;
        }
        let scratch = Scratch::new(user, "metadata");
        let ws = scratch.dir("ws");
        let inside = scratch.file("ws/script.sh", "#!/bin/sh\n");
        let outside = scratch.file("outside.txt", "host\n");
        for path in [&inside, &outside] {
            fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
        }
        let before = fs::metadata(&outside).unwrap();
        let argv = ["/usr/bin/python3", "-c", SCRIPT, inside.to_str().unwrap(), outside.to_str().unwrap()];
        let output = run(user, Pipeline::Landlock, &ws).policy(WORKSPACE).output(&argv);
        assert!(output.status.success(), "as {user:?}: {}", stderr(&output));
        let answers = stdout(&output);
        let answers: Vec<&str> = answers.split_whitespace().collect();
        // tmpfs before 6.6 has no user xattrs: the kernel's own answer, not the sandbox's.
        let xattr_inside = if answers.get(2) == Some(&"EOPNOTSUPP") { "EOPNOTSUPP" } else { "OK" };
        // A set-uid bit is refused by the filter first, everywhere (EPERM); the view refuses the
        // rest (EROFS).
        assert_eq!(answers, ["OK", "OK", xattr_inside, "EPERM", "EROFS", "EROFS", "EROFS", "EROFS"], "as {user:?}");
        let inside_now = fs::metadata(&inside).unwrap();
        assert_eq!(inside_now.mode() & 0o7777, 0o755, "chmod +x inside as {user:?}");
        assert_eq!(inside_now.mtime(), 1, "touch inside as {user:?}");
        let after = fs::metadata(&outside).unwrap();
        assert_eq!(after.mode(), before.mode(), "mode bits outside as {user:?}");
        assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()), "owner outside as {user:?}");
        assert_eq!((after.mtime(), after.mtime_nsec()), (before.mtime(), before.mtime_nsec()), "mtime as {user:?}");
        assert_eq!((after.ctime(), after.ctime_nsec()), (before.ctime(), before.ctime_nsec()), "ctime as {user:?}");
    }
}
