//! `libcodex_sandbox`: the stable C ABI of codex-sandbox.
//!
//! Every export goes through `error::boundary` (or an equivalent `catch_unwind`), checks its
//! pointers, and reports failures as a [`codex_sandbox_result`] plus an optional
//! [`codex_sandbox_error`]. The header `include/codex_sandbox.h` is generated from this crate by
//! cbindgen; the doc comments below are the C documentation.

#![allow(non_camel_case_types)]

mod child;
mod error;
mod request;

use std::ffi::{CString, c_char, c_int};
use std::os::fd::IntoRawFd;
use std::panic::{AssertUnwindSafe, catch_unwind};

use codex_sandbox_core::seatbelt::{SeatbeltOptions, seatbelt_command};
use codex_sandbox_core::{ExitStatus, SpawnOptions, prepare, probe::probe, spawn};

pub use child::codex_sandbox_child;
pub use error::{codex_sandbox_error, codex_sandbox_result};
pub use request::{
    CODEX_SANDBOX_FLAG_ALL_UNIX_SOCKETS, CODEX_SANDBOX_FLAG_NO_DIE_WITH_PARENT, CODEX_SANDBOX_FLAG_NO_PROC,
    CODEX_SANDBOX_FLAG_PROXY_NETWORK, CODEX_SANDBOX_MAX_STRUCT_SIZE, CODEX_SANDBOX_STDIO_INHERIT,
    CODEX_SANDBOX_STDIO_NULL, CODEX_SANDBOX_STDIO_PIPE, codex_sandbox_pipeline, codex_sandbox_spawn_request,
    codex_sandbox_stdio_which,
};

use error::{FfiError, boundary, codex_sandbox_result::*};
use request::{Request, V1_SIZE, read_request};

/// The ABI version of this header; codex_sandbox_abi_version() returns the library's. It
/// changes only with the SONAME (libcodex_sandbox.so.0 for version 1).
pub const CODEX_SANDBOX_ABI_VERSION: u32 = 1;

/// The library's version, e.g. "0.1.0": a static string, never freed.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn codex_sandbox_version() -> *const c_char {
    error::static_str(
        // A literal, checked at compile time to have no interior NUL.
        match std::ffi::CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(version) => version,
            Err(_) => c"unknown",
        },
    )
}

/// The ABI version the library implements (CODEX_SANDBOX_ABI_VERSION of the header it was
/// built with). A program may compare it with its own CODEX_SANDBOX_ABI_VERSION.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn codex_sandbox_abi_version() -> u32 {
    CODEX_SANDBOX_ABI_VERSION
}

/// The name of a result code, e.g. "CODEX_SANDBOX_INVALID_POLICY", or "unknown" for a value
/// this library does not know. A static string, never freed.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn codex_sandbox_result_name(code: i32) -> *const c_char {
    error::static_str(codex_sandbox_result::from_i32(code).map(codex_sandbox_result::name).unwrap_or(c"unknown"))
}

/// Prepares a request for filling in: zeroes `size` bytes at `req`, sets
/// `struct_size = size` and the three stdio fields to CODEX_SANDBOX_STDIO_INHERIT. Call it as
/// `codex_sandbox_spawn_request_init(&req, sizeof req)`. Returns CODEX_SANDBOX_NULL_POINTER
/// or CODEX_SANDBOX_BAD_STRUCT_SIZE (and leaves `req` alone) when `req` is NULL or `size` is
/// smaller than the first version of the struct.
///
/// Thread-safe (for distinct requests).
///
/// # Safety
/// `req` is NULL or points to `size` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn codex_sandbox_spawn_request_init(
    req: *mut codex_sandbox_spawn_request,
    size: usize,
) -> codex_sandbox_result {
    boundary(std::ptr::null_mut(), || {
        if req.is_null() {
            return Err(FfiError::null("req"));
        }
        if size < V1_SIZE || size > CODEX_SANDBOX_MAX_STRUCT_SIZE as usize {
            return Err(FfiError::new(CODEX_SANDBOX_BAD_STRUCT_SIZE, "bad size"));
        }
        // SAFETY: the caller guarantees `size` (>= V1_SIZE) writable bytes at `req`; all-zero
        // is a valid request value, and the fields written are within the first V1_SIZE.
        unsafe {
            std::ptr::write_bytes(req.cast::<u8>(), 0, size);
            let fields = &mut *req;
            fields.struct_size = size as u32;
            fields.stdin_fd = CODEX_SANDBOX_STDIO_INHERIT;
            fields.stdout_fd = CODEX_SANDBOX_STDIO_INHERIT;
            fields.stderr_fd = CODEX_SANDBOX_STDIO_INHERIT;
        }
        Ok(())
    })
}

/// Starts `req->argv` in a sandbox.
///
/// Everything the caller can get wrong (policy, paths, argv, envp, descriptors, a pipeline
/// the host cannot enforce, a command that does not exist) is detected before anything is
/// created: on failure nothing was spawned and no descriptor was left open. On success
/// `*out` is a new child handle that the caller owns (codex_sandbox_child_free()).
///
/// `err` may be NULL. Otherwise `*err` is set to NULL on success and to a new error object
/// (caller frees it with codex_sandbox_error_free()) on failure.
///
/// Thread-safe: any number of threads may spawn at once, in a host whose other threads
/// allocate and take locks; the forked child runs only async-signal-safe code. The spawning
/// thread matters: see CODEX_SANDBOX_FLAG_NO_DIE_WITH_PARENT.
///
/// # Safety
/// `req` is NULL or a valid request (see codex_sandbox_spawn_request); `out` and `err` are
/// NULL or valid for writing one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn codex_sandbox_spawn(
    req: *const codex_sandbox_spawn_request,
    out: *mut *mut codex_sandbox_child,
    err: *mut *mut codex_sandbox_error,
) -> codex_sandbox_result {
    boundary(err, || {
        if out.is_null() {
            return Err(FfiError::null("out"));
        }
        // SAFETY: `out` is valid for writing (checked non-NULL; caller's contract).
        unsafe { out.write(std::ptr::null_mut()) };
        // SAFETY: forwarded from the caller.
        let Request { spec, stdio, extra_fds, die_with_parent } = unsafe { read_request(req) }?;
        let plan = prepare(&spec)?;
        let options = SpawnOptions {
            stdin: request::stdio(stdio[0], "stdin_fd")?,
            stdout: request::stdio(stdio[1], "stdout_fd")?,
            stderr: request::stdio(stdio[2], "stderr_fd")?,
            pass_fds: extra_fds,
            die_with_parent,
            ..SpawnOptions::default()
        };
        let child = spawn(&plan, options)?;
        let handle = Box::into_raw(Box::new(codex_sandbox_child::new(child)));
        // SAFETY: as above.
        unsafe { out.write(handle) };
        Ok(())
    })
}

/// The body of every export that returns JSON: clears `*json_out` (refusing NULL), runs
/// `produce` inside the panic boundary, and hands its result over as a new C string.
///
/// # Safety
/// `json_out` and `err` are NULL or valid for writing one pointer.
unsafe fn export_json<T, F>(
    json_out: *mut *mut c_char,
    err: *mut *mut codex_sandbox_error,
    produce: F,
) -> codex_sandbox_result
where
    T: serde::Serialize,
    F: FnOnce() -> Result<T, FfiError>,
{
    boundary(err, || {
        if json_out.is_null() {
            return Err(FfiError::null("json_out"));
        }
        // SAFETY: non-NULL and valid for writing (caller's contract).
        unsafe { json_out.write(std::ptr::null_mut()) };
        let json = serde_json::to_string_pretty(&produce()?).map_err(|e| {
            FfiError::new(CODEX_SANDBOX_INTERNAL, format!("internal error: cannot serialise to JSON: {e}"))
        })?;
        // SAFETY: as above.
        unsafe { json_out.write(error::to_c_string(json).into_raw()) };
        Ok(())
    })
}

/// Explains what codex_sandbox_spawn() would do with `req`, without spawning: the sandbox
/// plan as a JSON object (keys include "pipeline", "pipeline_reason", "filesystem",
/// "network", "process", "warnings"). The descriptors named in the request are checked
/// (open, extra_fds >= 3) but not used.
///
/// On success `*json_out` is a new NUL-terminated UTF-8 string that the caller frees with
/// codex_sandbox_string_free(); on failure it is NULL and the result is the error
/// codex_sandbox_spawn() would have returned for the same request.
///
/// Thread-safe.
///
/// # Safety
/// As codex_sandbox_spawn(); `json_out` is NULL or valid for writing one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn codex_sandbox_explain(
    req: *const codex_sandbox_spawn_request,
    json_out: *mut *mut c_char,
    err: *mut *mut codex_sandbox_error,
) -> codex_sandbox_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        export_json(json_out, err, || {
            // SAFETY: forwarded from the caller.
            let request = read_request(req)?;
            Ok(prepare(&request.spec)?)
        })
    }
}

/// Probes what this host can enforce (Landlock ABI, user namespaces, an installed bwrap, the
/// pipeline `auto` picks) as a JSON object with keys "kernel", "uid", "landlock",
/// "namespaces", "system_bwrap", "auto_pipeline". `*json_out` as for codex_sandbox_explain().
///
/// Thread-safe. Forks a short-lived probe child (once per process).
///
/// # Safety
/// `json_out` and `err` are NULL or valid for writing one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn codex_sandbox_probe(
    json_out: *mut *mut c_char,
    err: *mut *mut codex_sandbox_error,
) -> codex_sandbox_result {
    // SAFETY: forwarded from the caller.
    unsafe { export_json(json_out, err, || Ok(probe())) }
}

/// The macOS Seatbelt equivalent of `req`: the `sandbox-exec` invocation for its policy,
/// policy_cwd, argv and envp, as a JSON object {"program": "/usr/bin/sandbox-exec", "args":
/// ["-p", PROFILE, "-DNAME=value", ..., "--", argv...], "env": {variables to add},
/// "warnings": [...]}. Generated on any host; nothing is run. argv must be UTF-8.
/// `*json_out` as for codex_sandbox_explain().
///
/// Thread-safe.
///
/// # Safety
/// As codex_sandbox_explain().
#[unsafe(no_mangle)]
pub unsafe extern "C" fn codex_sandbox_seatbelt(
    req: *const codex_sandbox_spawn_request,
    json_out: *mut *mut c_char,
    err: *mut *mut codex_sandbox_error,
) -> codex_sandbox_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        export_json(json_out, err, || {
            // SAFETY: forwarded from the caller.
            let Request { spec, .. } = read_request(req)?;
            // Proxy mode makes the profile proxy-only even when no proxy variable is set (then
            // it allows no network at all), as spawn would refuse to run with an open network.
            // CODEX_SANDBOX_FLAG_ALL_UNIX_SOCKETS renders as Codex renders every unix socket.
            let options = SeatbeltOptions {
                managed_network: spec.proxy_network,
                unix_sockets: spec.unix_sockets.clone(),
                ..SeatbeltOptions::default()
            };
            Ok(seatbelt_command(&spec.policy, &spec.policy_cwd, &spec.argv, &spec.env, &options)?)
        })
    }
}

/// Frees a string returned by this library (codex_sandbox_explain(), _probe(), _seatbelt()).
/// NULL is ignored. Do not free such a string with free().
///
/// Thread-safe (for distinct strings).
///
/// # Safety
/// `s` is NULL or a string returned by this library and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn codex_sandbox_string_free(s: *mut c_char) {
    if s.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `s` came from CString::into_raw in this library (caller's contract).
        drop(unsafe { CString::from_raw(s) });
    }));
}

/// The code of an error; CODEX_SANDBOX_OK for NULL.
///
/// Thread-safe.
///
/// # Safety
/// `err` is NULL or an error returned by this library and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn codex_sandbox_error_code(err: *const codex_sandbox_error) -> codex_sandbox_result {
    // SAFETY: caller's contract.
    unsafe { err.as_ref() }.map_or(CODEX_SANDBOX_OK, |e| e.code)
}

/// The message of an error: one line naming the field and the value that were refused, e.g.
/// "invalid argument: `sandbox-policy-cwd`: relative path `rel`; expected an absolute path".
/// Borrowed: valid until codex_sandbox_error_free(err). "" for NULL. UTF-8.
///
/// Thread-safe.
///
/// # Safety
/// `err` is NULL or an error returned by this library and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn codex_sandbox_error_message(err: *const codex_sandbox_error) -> *const c_char {
    // SAFETY: caller's contract.
    unsafe { err.as_ref() }.map_or(c"".as_ptr(), |e| e.message.as_ptr())
}

/// The errno of the OS call that failed (e.g. EACCES, ESRCH), or 0 when the error did not
/// come from the OS, or for NULL.
///
/// Thread-safe.
///
/// # Safety
/// `err` is NULL or an error returned by this library and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn codex_sandbox_error_errno(err: *const codex_sandbox_error) -> c_int {
    // SAFETY: caller's contract.
    unsafe { err.as_ref() }.map_or(0, |e| e.errno)
}

/// Frees an error. NULL is ignored.
///
/// Thread-safe (for distinct errors).
///
/// # Safety
/// `err` is NULL or an error returned by this library and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn codex_sandbox_error_free(err: *mut codex_sandbox_error) {
    if err.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `err` came from Box::into_raw in this library (caller's contract).
        drop(unsafe { Box::from_raw(err) });
    }));
}

/// Runs `f` on a child handle behind the panic boundary.
///
/// # Safety
/// `child` is NULL or a live handle.
unsafe fn with_child<T>(
    child: *const codex_sandbox_child,
    fallback: T,
    f: impl FnOnce(&codex_sandbox_child) -> T,
) -> T {
    // SAFETY: caller's contract.
    let Some(child) = (unsafe { child.as_ref() }) else {
        return fallback;
    };
    catch_unwind(AssertUnwindSafe(|| f(child))).unwrap_or(fallback)
}

/// The child's process id (under the bwrap pipeline: the sandbox's init, which forwards
/// signals to the command and exits with its status). -1 for NULL.
///
/// Thread-safe.
///
/// # Safety
/// `child` is NULL or a handle from codex_sandbox_spawn() not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn codex_sandbox_child_pid(child: *const codex_sandbox_child) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { with_child(child, -1, |c| c.pid()) }
}

/// A pidfd for the child, e.g. to poll() for its exit from an event loop (readable when it
/// has exited). Borrowed: owned by the handle, valid until codex_sandbox_child_free(); do not
/// close it. -1 for NULL or on kernels without pidfds (before Linux 5.3).
///
/// Thread-safe.
///
/// # Safety
/// `child` is NULL or a handle from codex_sandbox_spawn() not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn codex_sandbox_child_pidfd(child: *const codex_sandbox_child) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { with_child(child, -1, |c| c.pidfd()) }
}

/// The caller's end of a pipe the library created for stream `which` (a
/// codex_sandbox_stdio_which: 0 stdin, 1 stdout, 2 stderr): write to the stdin end, read the
/// others. Borrowed: owned by the handle and closed by codex_sandbox_child_free() (the stdin
/// end also by codex_sandbox_wait()); do not close it. -1 when that stream is not a pipe, was
/// taken, for a bad `which` or for NULL.
///
/// Thread-safe.
///
/// # Safety
/// `child` is NULL or a handle from codex_sandbox_spawn() not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn codex_sandbox_child_stdio_fd(child: *const codex_sandbox_child, which: c_int) -> c_int {
    let Ok(which @ 0..=2) = usize::try_from(which) else {
        return -1;
    };
    // SAFETY: forwarded from the caller.
    unsafe { with_child(child, -1, |c| c.stdio_fd(which)) }
}

/// Like codex_sandbox_child_stdio_fd(), but transfers ownership: the caller must close() the
/// returned descriptor (close-on-exec is set), and the handle forgets it. Use it to close the
/// command's stdin early, or to keep a pipe after freeing the handle. -1 as for
/// codex_sandbox_child_stdio_fd().
///
/// Thread-safe.
///
/// # Safety
/// `child` is NULL or a handle from codex_sandbox_spawn() not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn codex_sandbox_child_take_stdio_fd(child: *mut codex_sandbox_child, which: c_int) -> c_int {
    let Ok(which @ 0..=2) = usize::try_from(which) else {
        return -1;
    };
    // SAFETY: forwarded from the caller.
    unsafe { with_child(child, -1, |c| c.take_stdio(which).map_or(-1, IntoRawFd::into_raw_fd)) }
}

/// Stores an exit status in the optional out parameters.
///
/// # Safety
/// Each pointer is NULL or valid for writing an int.
unsafe fn store_status(status: ExitStatus, exit_code: *mut c_int, term_signal: *mut c_int) {
    let (code, signal) = match status {
        ExitStatus::Exited(code) => (code, 0),
        ExitStatus::Signaled(signal) => (-1, signal),
    };
    // SAFETY: caller's contract.
    unsafe {
        if let Some(out) = exit_code.as_mut() {
            *out = code;
        }
        if let Some(out) = term_signal.as_mut() {
            *out = signal;
        }
    }
}

/// Waits (blocking) until the command exits and reaps it. Closes the caller's end of a stdin
/// pipe first, so a command reading stdin sees end of file (drain stdout/stderr pipes in
/// another thread, or before waiting, or the command may block on a full pipe).
///
/// On success: when the command exited, `*exit_code` is its exit code and `*term_signal` is
/// 0; when it was killed by a signal, `*exit_code` is -1 and `*term_signal` the signal
/// number. Both pointers may be NULL. Under the bwrap pipeline this is the command's own
/// status, not its init's. Waiting again returns the same status.
///
/// When the command created a protected name in a writable root (`sub/.git`, or a name from
/// the request's `protect`), found once every process of the run is gone and removed, the
/// result is CODEX_SANDBOX_PROTECTED_NAME_CREATED with `*err` naming each path, and the status
/// is stored all the same: the run failed.
///
/// Thread-safe: codex_sandbox_kill() may be called from another thread meanwhile. A second
/// concurrent wait blocks until the first returns.
///
/// # Safety
/// `child` is NULL or a handle from codex_sandbox_spawn() not yet freed; `exit_code`,
/// `term_signal` and `err` are NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn codex_sandbox_wait(
    child: *mut codex_sandbox_child,
    exit_code: *mut c_int,
    term_signal: *mut c_int,
    err: *mut *mut codex_sandbox_error,
) -> codex_sandbox_result {
    boundary(err, || {
        // SAFETY: caller's contract.
        let child = unsafe { child.as_ref() }.ok_or_else(|| FfiError::null("child"))?;
        let (status, violation) = child.wait()?;
        // SAFETY: caller's contract.
        unsafe { store_status(status, exit_code, term_signal) };
        violation.map_or(Ok(()), Err)
    })
}

/// Reaps the command if it has exited, without blocking. `*exited` is 1 when it has (and
/// `*exit_code` / `*term_signal` are set as by codex_sandbox_wait()) and 0 while it runs (or
/// while another thread is blocked in codex_sandbox_wait() on the same handle). `exited` is
/// required; the other out pointers may be NULL.
///
/// Thread-safe.
///
/// # Safety
/// As codex_sandbox_wait(); `exited` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn codex_sandbox_try_wait(
    child: *mut codex_sandbox_child,
    exited: *mut c_int,
    exit_code: *mut c_int,
    term_signal: *mut c_int,
    err: *mut *mut codex_sandbox_error,
) -> codex_sandbox_result {
    boundary(err, || {
        // SAFETY: caller's contract.
        let child = unsafe { child.as_ref() }.ok_or_else(|| FfiError::null("child"))?;
        if exited.is_null() {
            return Err(FfiError::null("exited"));
        }
        let status = child.try_wait()?;
        // SAFETY: caller's contract; `exited` checked non-NULL.
        unsafe {
            exited.write(c_int::from(status.is_some()));
            if let Some((status, _)) = &status {
                store_status(*status, exit_code, term_signal);
            }
        }
        status.and_then(|(_, violation)| violation).map_or(Ok(()), Err)
    })
}

/// 1 when the run was ended by its wall-clock limit (`max_wall_time_ms`): the sandbox's init
/// killed the command (its status is SIGKILL: `*exit_code` -1, `*term_signal` 9) and every
/// other process of the run, all gone by the time codex_sandbox_wait() returns. 0 when it
/// ended otherwise or has not been waited for yet; -1 for NULL.
///
/// Thread-safe.
///
/// # Safety
/// `child` is NULL or a handle from codex_sandbox_spawn() not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn codex_sandbox_child_wall_time_exceeded(child: *const codex_sandbox_child) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { with_child(child, -1, |c| c_int::from(c.wall_time_exceeded())) }
}

/// Sends `signal` to the command (through its pidfd, so never to a recycled pid). Under the
/// bwrap pipeline the sandbox's init receives it and forwards every catchable signal to the
/// command (all but SIGCHLD and init's own fault signals: SIGSEGV, SIGBUS, SIGILL, SIGFPE,
/// SIGTRAP, SIGSYS); SIGKILL ends the whole sandbox; SIGSTOP, which init cannot catch, is
/// sent to the command itself.
/// After the command has been waited for: CODEX_SANDBOX_IO with errno ESRCH.
///
/// Thread-safe, also while another thread blocks in codex_sandbox_wait().
///
/// # Safety
/// `child` is NULL or a handle from codex_sandbox_spawn() not yet freed; `err` is NULL or
/// valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn codex_sandbox_kill(
    child: *mut codex_sandbox_child,
    signal: c_int,
    err: *mut *mut codex_sandbox_error,
) -> codex_sandbox_result {
    boundary(err, || {
        // SAFETY: caller's contract.
        let child = unsafe { child.as_ref() }.ok_or_else(|| FfiError::null("child"))?;
        child.kill(signal)
    })
}

/// Frees a child handle and closes the descriptors it owns (pidfd, pipe ends not taken).
/// NULL is ignored. It neither signals nor reaps the command: if it has not been waited for,
/// it keeps running and stays the caller's child, to be reaped with waitpid(pid) (or it is
/// killed when the spawning thread exits unless CODEX_SANDBOX_FLAG_NO_DIE_WITH_PARENT was set).
///
/// Not to be called concurrently with any other call on the same handle.
///
/// # Safety
/// `child` is NULL or a handle from codex_sandbox_spawn() not yet freed; it is invalid
/// afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn codex_sandbox_child_free(child: *mut codex_sandbox_child) {
    if child.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `child` came from Box::into_raw in codex_sandbox_spawn (caller's contract).
        drop(unsafe { Box::from_raw(child) });
    }));
}
