//! Shared by the C-API tests: running the test again as uid 65534.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

/// Set in the copy of a test that runs as uid 65534, so it does not start another.
pub const AS_NOBODY: &str = "CODEX_SANDBOX_FFI_TEST_AS_NOBODY";

/// When root (and not already the copy), runs `test` of this test binary again as uid 65534:
/// the binary is copied to a world-readable directory under /tmp first (the checkout may sit
/// under /root, which 65534 cannot enter). Panics if that run fails.
pub fn also_as_nobody(test: &str) {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || std::env::var_os(AS_NOBODY).is_some() {
        return;
    }
    let dir = PathBuf::from(format!("/tmp/codex-sandbox-ffi-nobody-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = dir.join("test");
    std::fs::copy(std::env::current_exe().unwrap(), &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    let output = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&copy)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(AS_NOBODY, "1")
        .env("HOME", "/tmp")
        .current_dir("/tmp")
        .output()
        .expect("run setpriv");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{test} as uid 65534 failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "{test} as uid 65534 did not run:\n{stdout}\n{stderr}");
    eprintln!("{test}: also passed as uid 65534");
}
