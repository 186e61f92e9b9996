//! The C API's unix-socket capability: without CODEX_SANDBOX_FLAG_ALL_UNIX_SOCKETS a host unix
//! listener (pathname and abstract) gets nothing and `socket(AF_UNIX)` fails with EPERM in the
//! command, on both pipelines and with restricted and full network, while a socketpair works;
//! with the flag the listener is reached. As the current user and, when root, as uid 65534.

mod common;

use std::ffi::{CStr, CString, c_char, c_int};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::ptr;

use codex_sandbox::*;

const PROBE: &str = r#"
import errno, socket, sys
def attempt(address):
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(3)
            s.connect(address)
            s.sendall(b"reached")
        return "OK"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
a, b = socket.socketpair()
a.sendall(b"p")
print(attempt(sys.argv[1]), attempt("\0" + sys.argv[2]), b.recv(1).decode())
"#;

/// Runs the probe under `policy` with `flags`; returns the result code and its stdout.
fn run(
    pipeline: codex_sandbox_pipeline,
    policy: &str,
    flags: u32,
    path: &str,
    name: &str,
) -> (codex_sandbox_result, String) {
    run_with_fds(pipeline, policy, flags, &["/usr/bin/python3", "-c", PROBE, path, name], &[])
}

/// Runs `command` under `policy` with `flags`, passing `extra_fds`; the result code and stdout.
fn run_with_fds(
    pipeline: codex_sandbox_pipeline,
    policy: &str,
    flags: u32,
    command: &[&str],
    extra_fds: &[c_int],
) -> (codex_sandbox_result, String) {
    run_granting(pipeline, policy, flags, command, extra_fds, &[])
}

/// [`run_with_fds`] with `allow_unix_sockets` set to `granted`.
fn run_granting(
    pipeline: codex_sandbox_pipeline,
    policy: &str,
    flags: u32,
    command: &[&str],
    extra_fds: &[c_int],
    granted: &[&str],
) -> (codex_sandbox_result, String) {
    let granted: Vec<CString> = granted.iter().map(|p| CString::new(*p).unwrap()).collect();
    let mut granted_ptrs: Vec<*const c_char> = granted.iter().map(|p| p.as_ptr()).collect();
    granted_ptrs.push(ptr::null());
    let policy = CString::new(policy).unwrap();
    let cwd = CString::new("/tmp").unwrap();
    let args: Vec<CString> = command.iter().map(|a| CString::new(*a).unwrap()).collect();
    let mut argv: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(ptr::null());
    let mut req = std::mem::MaybeUninit::<codex_sandbox_spawn_request>::uninit();
    // SAFETY: `req` has room for the struct; init zeroes it and sets struct_size and stdio.
    let rc = unsafe { codex_sandbox_spawn_request_init(req.as_mut_ptr(), size_of::<codex_sandbox_spawn_request>()) };
    assert_eq!(rc, codex_sandbox_result::CODEX_SANDBOX_OK);
    // SAFETY: initialised above.
    let mut req = unsafe { req.assume_init() };
    req.pipeline = pipeline as u32;
    req.policy = policy.as_ptr();
    req.policy_cwd = cwd.as_ptr();
    req.argv = argv.as_ptr();
    req.stdout_fd = CODEX_SANDBOX_STDIO_PIPE;
    req.flags = flags;
    req.extra_fds = if extra_fds.is_empty() { ptr::null() } else { extra_fds.as_ptr() };
    req.extra_fds_len = extra_fds.len();
    req.allow_unix_sockets = if granted.is_empty() { ptr::null() } else { granted_ptrs.as_ptr() };
    let mut child = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: valid pointers; the error is read and freed, the child's pipe read, the child
    // waited for and freed.
    unsafe {
        let rc = codex_sandbox_spawn(&req, &mut child, &mut err);
        let message = CStr::from_ptr(codex_sandbox_error_message(err)).to_string_lossy().into_owned();
        codex_sandbox_error_free(err);
        if child.is_null() {
            return (rc, message);
        }
        let fd = codex_sandbox_child_take_stdio_fd(child, codex_sandbox_stdio_which::CODEX_SANDBOX_STDOUT as i32);
        let mut out = String::new();
        let mut file = <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd);
        file.read_to_string(&mut out).unwrap();
        let mut code: c_int = -100;
        assert_eq!(
            codex_sandbox_wait(child, &mut code, ptr::null_mut(), ptr::null_mut()),
            codex_sandbox_result::CODEX_SANDBOX_OK
        );
        codex_sandbox_child_free(child);
        assert_eq!(code, 0, "the probe failed: {out}");
        (rc, out.trim().to_owned())
    }
}

fn namespaces_available() -> bool {
    std::process::Command::new("/usr/bin/unshare")
        .args(["--user", "--map-current-user", "--mount", "/bin/true"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn host_unix_sockets_only_with_the_all_flag() {
    use codex_sandbox_pipeline::*;
    if !namespaces_available() {
        assert!(
            std::env::var_os("CODEX_SANDBOX_REQUIRE_ALL").is_none_or(|v| v != "1"),
            "required test skipped: no user namespaces"
        );
        eprintln!("SKIP: this host forbids user namespaces (the bwrap pipeline and the landlock view need them)");
        return;
    }
    let dir = PathBuf::from(format!("/tmp/codex-sandbox-ffi-unix-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.join("host.sock");
    let listener = UnixListener::bind(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let name = format!("codex-ffi-unix-{}", std::process::id());
    let abstract_listener = {
        use std::os::linux::net::SocketAddrExt;
        let address = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        UnixListener::bind_addr(&address).unwrap()
    };
    abstract_listener.set_nonblocking(true).unwrap();
    let accepted = |l: &UnixListener| {
        let mut n = 0;
        while l.accept().is_ok() {
            n += 1;
        }
        n
    };
    let path_text = path.to_str().unwrap();
    for pipeline in [CODEX_SANDBOX_PIPELINE_LANDLOCK, CODEX_SANDBOX_PIPELINE_BWRAP] {
        for policy in [r#"{"type":"read-only","network_access":true}"#, "read-only"] {
            let (rc, out) = run(pipeline, policy, 0, path_text, &name);
            assert_eq!(rc, codex_sandbox_result::CODEX_SANDBOX_OK, "{out}");
            assert_eq!(out, "EPERM EPERM p", "{pipeline:?} {policy}");
            assert_eq!((accepted(&listener), accepted(&abstract_listener)), (0, 0), "{pipeline:?} {policy}: reached");
        }
        let full = r#"{"type":"read-only","network_access":true}"#;
        let (rc, out) = run(pipeline, full, CODEX_SANDBOX_FLAG_ALL_UNIX_SOCKETS, path_text, &name);
        assert_eq!(rc, codex_sandbox_result::CODEX_SANDBOX_OK, "{out}");
        // The pathname socket in the view is reached; the abstract one too on the host's network
        // namespace (landlock pipeline, bwrap with full network).
        assert_eq!(out, "OK OK p", "{pipeline:?}");
        assert_eq!((accepted(&listener), accepted(&abstract_listener)), (1, 1), "{pipeline:?}");
    }
    // A path in `allow_unix_sockets` is granted through the connect broker: its listener is
    // reached, the abstract one is not (EACCES from the broker); not together with the flag.
    for pipeline in [CODEX_SANDBOX_PIPELINE_LANDLOCK, CODEX_SANDBOX_PIPELINE_BWRAP] {
        for policy in [r#"{"type":"read-only","network_access":true}"#, "read-only"] {
            let command = ["/usr/bin/python3", "-c", PROBE, path_text, &name];
            let (rc, out) = run_granting(pipeline, policy, 0, &command, &[], &[path_text]);
            assert_eq!(rc, codex_sandbox_result::CODEX_SANDBOX_OK, "{out}");
            assert_eq!(out, "OK EACCES p", "{pipeline:?} {policy}");
            assert_eq!((accepted(&listener), accepted(&abstract_listener)), (1, 0), "{pipeline:?} {policy}");
        }
        let command = ["/bin/true"];
        let (rc, message) =
            run_granting(pipeline, "read-only", CODEX_SANDBOX_FLAG_ALL_UNIX_SOCKETS, &command, &[], &[path_text]);
        assert_eq!(rc, codex_sandbox_result::CODEX_SANDBOX_INVALID_ARGUMENT, "{message}");
        assert!(message.contains("`allow_unix_sockets`"), "{message}");
    }
    // A connected unix socket the launcher passes explicitly is its grant: usable under none.
    let (mine, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&theirs);
    let script = format!("import os; os.write({fd}, b'through the passed socket'); print('OK')");
    for pipeline in [CODEX_SANDBOX_PIPELINE_LANDLOCK, CODEX_SANDBOX_PIPELINE_BWRAP] {
        let (rc, out) = run_with_fds(pipeline, "read-only", 0, &["/usr/bin/python3", "-c", &script], &[fd]);
        assert_eq!((rc, out.as_str()), (codex_sandbox_result::CODEX_SANDBOX_OK, "OK"), "{pipeline:?}");
        let mut buf = [0u8; 25];
        (&mine).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"through the passed socket", "{pipeline:?}");
    }
    // The Seatbelt profile of the same request renders the flag as Codex renders every socket.
    let seatbelt = |flags: u32| {
        let policy = CString::new("read-only").unwrap();
        let cwd = CString::new("/tmp").unwrap();
        let argv: [*const c_char; 2] = [c"/bin/true".as_ptr(), ptr::null()];
        let mut req = std::mem::MaybeUninit::<codex_sandbox_spawn_request>::uninit();
        // SAFETY: `req` has room for the struct; init zeroes it; the JSON is read and freed.
        unsafe {
            codex_sandbox_spawn_request_init(req.as_mut_ptr(), size_of::<codex_sandbox_spawn_request>());
            let mut req = req.assume_init();
            req.policy = policy.as_ptr();
            req.policy_cwd = cwd.as_ptr();
            req.argv = argv.as_ptr();
            req.flags = flags;
            let mut json = ptr::null_mut();
            let rc = codex_sandbox_seatbelt(&req, &mut json, ptr::null_mut());
            assert_eq!(rc, codex_sandbox_result::CODEX_SANDBOX_OK);
            let text = CStr::from_ptr(json).to_string_lossy().into_owned();
            codex_sandbox_string_free(json);
            text
        }
    };
    assert!(seatbelt(CODEX_SANDBOX_FLAG_ALL_UNIX_SOCKETS).contains("(allow network-outbound (remote unix-socket))"));
    assert!(!seatbelt(0).contains("unix-socket"));
    drop((listener, abstract_listener));
    let _ = std::fs::remove_dir_all(&dir);
    common::also_as_nobody("host_unix_sockets_only_with_the_all_flag");
}
