//! The C API called from Rust through the rlib: the checks that need no C compiler. The full
//! C suite (installed header, .so and .a, uid 65534, valgrind) is tests/c/run.sh.

use std::ffi::{CStr, c_char, c_int};
use std::ptr;

use codex_sandbox::*;

fn request(argv: &[*const c_char]) -> codex_sandbox_spawn_request {
    let mut req = std::mem::MaybeUninit::<codex_sandbox_spawn_request>::uninit();
    // SAFETY: `req` has room for the struct; init zeroes it and sets struct_size and stdio.
    let rc = unsafe { codex_sandbox_spawn_request_init(req.as_mut_ptr(), size_of::<codex_sandbox_spawn_request>()) };
    assert_eq!(rc, codex_sandbox_result::CODEX_SANDBOX_OK);
    // SAFETY: initialised by codex_sandbox_spawn_request_init.
    let mut req = unsafe { req.assume_init() };
    req.policy = c"read-only".as_ptr();
    req.policy_cwd = c"/".as_ptr();
    req.argv = argv.as_ptr();
    req
}

/// Spawns `req`, returning the code and, on failure, the message.
fn spawn(req: *const codex_sandbox_spawn_request) -> (codex_sandbox_result, String, c_int) {
    let mut child = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: valid pointers; the error is read and freed below.
    unsafe {
        let rc = codex_sandbox_spawn(req, &mut child, &mut err);
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

#[test]
fn error_paths() {
    use codex_sandbox_result::*;
    let argv = [c"true".as_ptr(), ptr::null()];
    let (rc, message, _) = spawn(ptr::null());
    assert_eq!((rc, message.as_str()), (CODEX_SANDBOX_NULL_POINTER, "`req` is NULL"));

    let mut req = request(&argv);
    req.struct_size = 0;
    assert_eq!(spawn(&req).0, CODEX_SANDBOX_BAD_STRUCT_SIZE);
    // A size between two versions would cut a pointer field in half: refused, whole versions run.
    for size in [92u32, 100, 120, 151] {
        let mut req = request(&argv);
        req.struct_size = size;
        let (rc, message, _) = spawn(&req);
        assert_eq!(rc, CODEX_SANDBOX_BAD_STRUCT_SIZE, "{size}: {message}");
        assert!(message.contains("not the size of any version"), "{message}");
    }
    for size in [88u32, 104] {
        let mut req = request(&argv);
        req.struct_size = size;
        let (rc, message, code) = spawn(&req);
        assert_eq!((rc, code), (CODEX_SANDBOX_OK, 0), "{size}: {message}");
    }

    let mut req = request(&argv);
    req.policy = c"{not json".as_ptr();
    let (rc, message, _) = spawn(&req);
    assert_eq!(rc, CODEX_SANDBOX_INVALID_POLICY, "{message}");

    let mut req = request(&argv);
    req.policy_cwd = c"relative".as_ptr();
    let (rc, message, _) = spawn(&req);
    assert_eq!(rc, CODEX_SANDBOX_INVALID_ARGUMENT, "{message}");
    assert!(message.contains("relative"), "{message}");

    let mut req = request(&argv);
    req.pipeline = 7;
    let (rc, message, _) = spawn(&req);
    assert_eq!(rc, CODEX_SANDBOX_INVALID_ARGUMENT);
    assert!(message.contains("unknown pipeline 7"), "{message}");

    // A larger struct with a non-zero tail is refused; with a zero tail it is accepted.
    #[repr(C)]
    struct Bigger {
        req: codex_sandbox_spawn_request,
        tail: u64,
    }
    let mut bigger = Bigger { req: request(&argv), tail: 1 };
    bigger.req.struct_size = size_of::<Bigger>() as u32;
    assert_eq!(spawn(&bigger.req).0, CODEX_SANDBOX_BAD_STRUCT_SIZE);
    bigger.tail = 0;
    bigger.req.policy = c"danger-full-access".as_ptr();
    let (rc, message, code) = spawn(&bigger.req);
    assert_eq!((rc, code), (CODEX_SANDBOX_OK, 0), "{message}");
}

#[test]
fn names_and_versions() {
    // SAFETY: static strings.
    unsafe {
        assert_eq!(CStr::from_ptr(codex_sandbox_result_name(2)), c"CODEX_SANDBOX_INVALID_POLICY");
        assert_eq!(CStr::from_ptr(codex_sandbox_result_name(-5)), c"unknown");
        assert_eq!(CStr::from_ptr(codex_sandbox_version()).to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
    assert_eq!(codex_sandbox_abi_version(), CODEX_SANDBOX_ABI_VERSION);
}
