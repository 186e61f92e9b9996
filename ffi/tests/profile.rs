//! The C API's `policy` accepts Codex's permission profile: deny-read enforced, parse errors
//! reported as CODEX_SANDBOX_INVALID_POLICY naming the field; as the current user and, when
//! root, again as uid 65534. (The installed-library suite under uid 65534 is tests/c/run.sh.)

mod common;

use std::ffi::{CStr, CString, c_char, c_int};
use std::path::{Path, PathBuf};
use std::ptr;

use codex_sandbox::*;

struct Workspace(PathBuf);

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn workspace() -> Workspace {
    let dir = std::env::temp_dir().join(format!("codex-sandbox-ffi-profile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("private")).unwrap();
    std::fs::write(dir.join("private/key.txt"), "the-key\n").unwrap();
    std::fs::write(dir.join("pub.txt"), "public\n").unwrap();
    Workspace(std::fs::canonicalize(dir).unwrap())
}

/// Runs `sh -c script` under `policy` in `cwd`: the result code, the message and the exit code.
fn run(policy: &str, cwd: &Path, script: &str) -> (codex_sandbox_result, String, c_int) {
    let policy = CString::new(policy).unwrap();
    let cwd = CString::new(cwd.to_str().unwrap()).unwrap();
    let script = CString::new(script).unwrap();
    let argv: [*const c_char; 4] = [c"/bin/sh".as_ptr(), c"-c".as_ptr(), script.as_ptr(), ptr::null()];
    let mut req = std::mem::MaybeUninit::<codex_sandbox_spawn_request>::uninit();
    // SAFETY: `req` has room for the struct; init zeroes it and sets struct_size and stdio.
    let rc = unsafe { codex_sandbox_spawn_request_init(req.as_mut_ptr(), size_of::<codex_sandbox_spawn_request>()) };
    assert_eq!(rc, codex_sandbox_result::CODEX_SANDBOX_OK);
    // SAFETY: initialised above.
    let mut req = unsafe { req.assume_init() };
    req.policy = policy.as_ptr();
    req.policy_cwd = cwd.as_ptr();
    req.argv = argv.as_ptr();
    req.stdout_fd = CODEX_SANDBOX_STDIO_NULL;
    req.stderr_fd = CODEX_SANDBOX_STDIO_NULL;
    let mut child = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: valid pointers; the error is read and freed, the child waited for and freed.
    unsafe {
        let rc = codex_sandbox_spawn(&req, &mut child, &mut err);
        let message = CStr::from_ptr(codex_sandbox_error_message(err)).to_string_lossy().into_owned();
        codex_sandbox_error_free(err);
        let mut code = -100;
        if !child.is_null() {
            assert_eq!(
                codex_sandbox_wait(child, &mut code, ptr::null_mut(), ptr::null_mut()),
                codex_sandbox_result::CODEX_SANDBOX_OK
            );
            codex_sandbox_child_free(child);
        }
        (rc, message, code)
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
fn permission_profile_through_policy() {
    use codex_sandbox_result::*;
    if !namespaces_available() {
        assert!(
            std::env::var_os("CODEX_SANDBOX_REQUIRE_ALL").is_none_or(|v| v != "1"),
            "required test skipped: no user namespaces"
        );
        eprintln!("SKIP: this host forbids user namespaces, which deny-read masks need");
        return;
    }
    let ws = workspace();
    let w = ws.0.display();
    let profile = format!(
        r#"{{"type":"managed","file_system":{{"type":"restricted","entries":[
            {{"path":{{"type":"special","value":{{"kind":"root"}}}},"access":"read"}},
            {{"path":{{"type":"path","path":"{w}"}},"access":"write"}},
            {{"path":{{"type":"path","path":"{w}/private"}},"access":"deny"}}]}},"network":"restricted"}}"#
    );
    assert_eq!(run(&profile, &ws.0, "cat pub.txt && echo x > new.txt").0, CODEX_SANDBOX_OK);
    let (rc, message, code) = run(&profile, &ws.0, "cat private/key.txt");
    assert_eq!((rc, code), (CODEX_SANDBOX_OK, 1), "{message}: the denied file was readable");
    let (_, _, code) = run(&profile, &ws.0, "cat pub.txt && test -f new.txt");
    assert_eq!(code, 0);
    let (_, _, code) = run(&profile, &ws.0, "echo x > /etc/codex-sandbox-ffi-probe");
    assert_ne!(code, 0);
    assert!(!Path::new("/etc/codex-sandbox-ffi-probe").exists());

    let bad = r#"{"type":"managed","file_system":{"type":"restricted","entries":[{"path":{"type":"path","path":"rel"},"access":"read"}]}}"#;
    let (rc, message, _) = run(bad, &ws.0, "true");
    assert_eq!(rc, CODEX_SANDBOX_INVALID_POLICY, "{message}");
    assert!(message.contains("`policy.file_system.entries[0].path.path`: relative path `rel`"), "{message}");
    drop(ws);
    common::also_as_nobody("permission_profile_through_policy");
}
