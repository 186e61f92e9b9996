//! The one error type of the C API: a stable code, a message and the OS error number, plus
//! the panic boundary that every export goes through.

use std::ffi::{CString, c_char, c_int};
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};

use codex_sandbox_core::{Error, ErrorKind};

/// Result codes. The numeric values are part of the ABI and never change; new codes may be
/// added, so treat any value you do not know as a failure.
///
/// Codes 1 to 8 and 12 are the categories of the Rust core (`codex_sandbox_core::ErrorKind`)
/// with the same numbers.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum codex_sandbox_result {
    /// Success.
    CODEX_SANDBOX_OK = 0,
    /// A caller-supplied option is unusable: empty or relative cwd, unknown pipeline, unknown
    /// flag, bad descriptor, malformed `envp` entry, string that is not valid UTF-8 where
    /// UTF-8 is required.
    CODEX_SANDBOX_INVALID_ARGUMENT = 1,
    /// The policy is neither valid JSON of a Codex sandbox policy nor one of the names
    /// `read-only`, `workspace-write`, `danger-full-access`.
    CODEX_SANDBOX_INVALID_POLICY = 2,
    /// This host cannot enforce what was asked (no Landlock, no user namespaces, proxy-only
    /// networking on a Landlock ABI below 4, `lo` that cannot be brought up in proxy mode).
    /// Nothing runs without the sandbox that was asked for. The same code whether the probe
    /// found it before `clone` or the sandbox's first process after it (a refused id map,
    /// mount or Landlock ruleset): the message names the failing check and a remedy for this
    /// host, and codex_sandbox_error_errno() gives that check's errno when it has one.
    CODEX_SANDBOX_UNSUPPORTED = 3,
    /// The sandbox could not be set up or the process could not be started.
    CODEX_SANDBOX_SPAWN_FAILED = 4,
    /// `argv[0]` was not found (a shell would exit with 127).
    CODEX_SANDBOX_COMMAND_NOT_FOUND = 5,
    /// `argv[0]` exists but cannot be executed (a shell would exit with 126).
    CODEX_SANDBOX_COMMAND_NOT_EXECUTABLE = 6,
    /// A permission error while preparing the sandbox.
    CODEX_SANDBOX_PERMISSION_DENIED = 7,
    /// A bug in the library: a caught panic or an impossible state. Please report it.
    CODEX_SANDBOX_INTERNAL = 8,
    /// A pointer argument that must not be NULL was NULL (the message names it).
    CODEX_SANDBOX_NULL_POINTER = 9,
    /// `struct_size` is 0, smaller than the first version of the struct, implausibly large,
    /// or larger than this library knows with a non-zero unknown tail (a newer caller asked
    /// for something this library cannot do).
    CODEX_SANDBOX_BAD_STRUCT_SIZE = 10,
    /// A system call on a running child failed (waitpid, pidfd_send_signal);
    /// codex_sandbox_error_errno() gives the errno. Signalling a child that has already been
    /// waited for gives this code with ESRCH.
    CODEX_SANDBOX_IO = 11,
    /// From codex_sandbox_wait() / codex_sandbox_try_wait(): the command has exited (its status
    /// is stored as on success) but it created a protected name (`sub/.git`, a name from
    /// `protect`) in a writable root, which was removed after the run; the message names each
    /// path. Also when the writable roots could not be fully checked. Treat the run as failed.
    CODEX_SANDBOX_PROTECTED_NAME_CREATED = 12,
}

use codex_sandbox_result::*;

impl codex_sandbox_result {
    pub(crate) fn name(self) -> &'static std::ffi::CStr {
        match self {
            CODEX_SANDBOX_OK => c"CODEX_SANDBOX_OK",
            CODEX_SANDBOX_INVALID_ARGUMENT => c"CODEX_SANDBOX_INVALID_ARGUMENT",
            CODEX_SANDBOX_INVALID_POLICY => c"CODEX_SANDBOX_INVALID_POLICY",
            CODEX_SANDBOX_UNSUPPORTED => c"CODEX_SANDBOX_UNSUPPORTED",
            CODEX_SANDBOX_SPAWN_FAILED => c"CODEX_SANDBOX_SPAWN_FAILED",
            CODEX_SANDBOX_COMMAND_NOT_FOUND => c"CODEX_SANDBOX_COMMAND_NOT_FOUND",
            CODEX_SANDBOX_COMMAND_NOT_EXECUTABLE => c"CODEX_SANDBOX_COMMAND_NOT_EXECUTABLE",
            CODEX_SANDBOX_PERMISSION_DENIED => c"CODEX_SANDBOX_PERMISSION_DENIED",
            CODEX_SANDBOX_INTERNAL => c"CODEX_SANDBOX_INTERNAL",
            CODEX_SANDBOX_NULL_POINTER => c"CODEX_SANDBOX_NULL_POINTER",
            CODEX_SANDBOX_BAD_STRUCT_SIZE => c"CODEX_SANDBOX_BAD_STRUCT_SIZE",
            CODEX_SANDBOX_IO => c"CODEX_SANDBOX_IO",
            CODEX_SANDBOX_PROTECTED_NAME_CREATED => c"CODEX_SANDBOX_PROTECTED_NAME_CREATED",
        }
    }

    pub(crate) fn from_i32(code: i32) -> Option<codex_sandbox_result> {
        const ALL: [codex_sandbox_result; 13] = [
            CODEX_SANDBOX_OK,
            CODEX_SANDBOX_INVALID_ARGUMENT,
            CODEX_SANDBOX_INVALID_POLICY,
            CODEX_SANDBOX_UNSUPPORTED,
            CODEX_SANDBOX_SPAWN_FAILED,
            CODEX_SANDBOX_COMMAND_NOT_FOUND,
            CODEX_SANDBOX_COMMAND_NOT_EXECUTABLE,
            CODEX_SANDBOX_PERMISSION_DENIED,
            CODEX_SANDBOX_INTERNAL,
            CODEX_SANDBOX_NULL_POINTER,
            CODEX_SANDBOX_BAD_STRUCT_SIZE,
            CODEX_SANDBOX_IO,
            CODEX_SANDBOX_PROTECTED_NAME_CREATED,
        ];
        ALL.into_iter().find(|c| *c as i32 == code)
    }
}

/// A failure: its code, a message naming the field and the value, and the errno when an OS
/// call failed. Opaque; read it with codex_sandbox_error_code(), codex_sandbox_error_message()
/// and codex_sandbox_error_errno(), release it with codex_sandbox_error_free(). An error
/// object is immutable: it may be read from several threads at once.
pub struct codex_sandbox_error {
    pub(crate) code: codex_sandbox_result,
    pub(crate) message: CString,
    pub(crate) errno: c_int,
}

/// An error before it is handed to the caller.
#[derive(Debug)]
pub(crate) struct FfiError {
    pub(crate) code: codex_sandbox_result,
    pub(crate) message: String,
    pub(crate) errno: c_int,
}

impl FfiError {
    pub(crate) fn new(code: codex_sandbox_result, message: impl Into<String>) -> FfiError {
        FfiError { code, message: message.into(), errno: 0 }
    }

    pub(crate) fn null(name: &str) -> FfiError {
        FfiError::new(CODEX_SANDBOX_NULL_POINTER, format!("`{name}` is NULL"))
    }

    pub(crate) fn argument(field: &str, message: impl std::fmt::Display) -> FfiError {
        FfiError::new(CODEX_SANDBOX_INVALID_ARGUMENT, format!("invalid argument: `{field}`: {message}"))
    }

    pub(crate) fn io(what: &str, error: &io::Error) -> FfiError {
        FfiError {
            code: CODEX_SANDBOX_IO,
            message: format!("{what}: {error}"),
            errno: error.raw_os_error().unwrap_or(0),
        }
    }
}

impl From<Error> for FfiError {
    fn from(error: Error) -> FfiError {
        let code = match error.kind() {
            ErrorKind::InvalidArgument => CODEX_SANDBOX_INVALID_ARGUMENT,
            ErrorKind::InvalidPolicy => CODEX_SANDBOX_INVALID_POLICY,
            ErrorKind::Unsupported => CODEX_SANDBOX_UNSUPPORTED,
            ErrorKind::SpawnFailed => CODEX_SANDBOX_SPAWN_FAILED,
            ErrorKind::CommandNotFound => CODEX_SANDBOX_COMMAND_NOT_FOUND,
            ErrorKind::CommandNotExecutable => CODEX_SANDBOX_COMMAND_NOT_EXECUTABLE,
            ErrorKind::PermissionDenied => CODEX_SANDBOX_PERMISSION_DENIED,
            ErrorKind::Internal => CODEX_SANDBOX_INTERNAL,
            ErrorKind::ProtectedNameCreated => CODEX_SANDBOX_PROTECTED_NAME_CREATED,
        };
        // The errno the core kept (a host check's), else the first OS error in the chain.
        let mut errno = error.errno().unwrap_or(0);
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        while let Some(current) = source.filter(|_| errno == 0) {
            if let Some(os) = current.downcast_ref::<io::Error>().and_then(io::Error::raw_os_error) {
                errno = os;
                break;
            }
            source = current.source();
        }
        let message = match &error {
            // Named as the C request spells the field.
            Error::InvalidArgument { field, message } if crate::request::c_field(field).is_some() => {
                format!("invalid argument: `{}`: {message}", crate::request::c_field(field).unwrap_or_default())
            }
            _ => error.to_string(),
        };
        FfiError { code, message, errno }
    }
}

/// Runs `body` behind the panic boundary and reports its outcome through `err`.
///
/// `*err` is set to NULL first (when `err` is not NULL), so callers can always free it.
pub(crate) fn boundary<F>(err: *mut *mut codex_sandbox_error, body: F) -> codex_sandbox_result
where
    F: FnOnce() -> Result<(), FfiError>,
{
    if !err.is_null() {
        // SAFETY: the caller passes either NULL or a valid, writable `codex_sandbox_error *`.
        unsafe { err.write(std::ptr::null_mut()) };
    }
    let failure = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return CODEX_SANDBOX_OK,
        Ok(Err(failure)) => failure,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            FfiError::new(CODEX_SANDBOX_INTERNAL, format!("internal error: panic in libcodex_sandbox: {what}"))
        }
    };
    let code = failure.code;
    if !err.is_null() {
        // Building the error object may itself panic only on allocation failure (which aborts);
        // guard anyway so that nothing unwinds into C.
        if let Ok(object) = catch_unwind(|| Box::into_raw(Box::new(failure.into_object()))) {
            // SAFETY: as above, `err` is valid and writable.
            unsafe { err.write(object) };
        }
    }
    code
}

impl FfiError {
    fn into_object(self) -> codex_sandbox_error {
        codex_sandbox_error { code: self.code, message: to_c_string(self.message), errno: self.errno }
    }
}

/// A C string from `text`, with any NUL byte shown as `\0` rather than truncating it.
pub(crate) fn to_c_string(text: String) -> CString {
    CString::new(text.replace('\0', "\\0")).unwrap_or_default()
}

/// A static, NUL-terminated string for C.
pub(crate) fn static_str(s: &'static std::ffi::CStr) -> *const c_char {
    s.as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_refusal_is_unsupported_with_its_errno_wherever_it_was_found() {
        let refusal = codex_sandbox_core::probe::Refusal::new("write the uid map", Some(libc::EPERM), "the remedy");
        let error = FfiError::from(Error::HostRefused { what: "the bwrap pipeline".into(), refusal });
        assert_eq!(error.code, CODEX_SANDBOX_UNSUPPORTED);
        assert_eq!(error.errno, libc::EPERM);
        assert!(
            error.message.contains("write the uid map") && error.message.contains("the remedy"),
            "{}",
            error.message
        );
    }
}
