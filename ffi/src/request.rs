//! The request struct and its conversion into the core's `SandboxSpec`.

use std::ffi::{CStr, OsStr, OsString, c_char, c_int};
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use codex_sandbox_core::policy::UnixSockets;
use codex_sandbox_core::sys;
use codex_sandbox_core::{PipelineRequest, Policy, ResourceLimits, SandboxSpec, Stdio};

use crate::error::{FfiError, codex_sandbox_result::*};

/// Which pipeline carries out the sandbox; the `pipeline` field of
/// codex_sandbox_spawn_request. Any other value is CODEX_SANDBOX_INVALID_ARGUMENT.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum codex_sandbox_pipeline {
    /// The strongest pipeline this host supports: bwrap when user, mount and PID namespaces
    /// are available, landlock otherwise (codex_sandbox_explain() says which and why).
    CODEX_SANDBOX_PIPELINE_AUTO = 0,
    /// Landlock + seccomp + no_new_privs, applied in the child (Codex's legacy pipeline).
    CODEX_SANDBOX_PIPELINE_LANDLOCK = 1,
    /// The namespace pipeline (the embedded bubblewrap): user, mount, PID and network
    /// namespaces, a read-only view of `/`, then Landlock and seccomp as further layers.
    CODEX_SANDBOX_PIPELINE_BWRAP = 2,
}

/// The standard streams, for codex_sandbox_child_stdio_fd() and
/// codex_sandbox_child_take_stdio_fd().
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum codex_sandbox_stdio_which {
    CODEX_SANDBOX_STDIN = 0,
    CODEX_SANDBOX_STDOUT = 1,
    CODEX_SANDBOX_STDERR = 2,
}

/// `stdin_fd` / `stdout_fd` / `stderr_fd`: the child uses the caller's own stream.
pub const CODEX_SANDBOX_STDIO_INHERIT: c_int = -1;
/// `stdin_fd` / `stdout_fd` / `stderr_fd`: the library creates a pipe; the caller's end is
/// returned by codex_sandbox_child_stdio_fd().
pub const CODEX_SANDBOX_STDIO_PIPE: c_int = -2;
/// `stdin_fd` / `stdout_fd` / `stderr_fd`: `/dev/null`.
pub const CODEX_SANDBOX_STDIO_NULL: c_int = -3;

/// `flags`: do not mount a fresh `/proc` in the sandbox (bwrap pipeline; Codex's `--no-proc`,
/// for hosts where mounting proc is refused, e.g. inside some containers).
pub const CODEX_SANDBOX_FLAG_NO_PROC: u32 = 1;
/// `flags`: network only through the loopback proxies named in the environment (Codex's
/// `--allow-network-for-proxy`). A request whose environment names no usable loopback proxy,
/// or any unusable one, fails with CODEX_SANDBOX_INVALID_ARGUMENT naming the variable. On the
/// bwrap pipeline a bridge thread in this process relays the sandbox's connections to the
/// proxies until the child is waited for or freed.
pub const CODEX_SANDBOX_FLAG_PROXY_NETWORK: u32 = 2;
/// `flags`: do not kill the sandbox when the spawning thread exits. By default the sandbox
/// gets SIGKILL when the thread that called codex_sandbox_spawn() exits (Linux ties the
/// parent-death signal to the thread, not the process): spawn from a long-lived thread, or
/// set this flag.
pub const CODEX_SANDBOX_FLAG_NO_DIE_WITH_PARENT: u32 = 4;

/// `flags`: every unix socket in the command's view is reachable (Codex's
/// `dangerously_allow_all_unix_sockets`). Without it, whatever the network mode,
/// `socket(AF_UNIX, ...)` fails with EPERM in the command, so no unix socket of the host
/// (pathname or abstract) is reachable; stream and seqpacket socketpairs and the descriptors
/// passed in `extra_fds` keep working, datagram socketpairs fail with EPERM.
pub const CODEX_SANDBOX_FLAG_ALL_UNIX_SOCKETS: u32 = 8;

const KNOWN_FLAGS: u32 = CODEX_SANDBOX_FLAG_NO_PROC
    | CODEX_SANDBOX_FLAG_PROXY_NETWORK
    | CODEX_SANDBOX_FLAG_NO_DIE_WITH_PARENT
    | CODEX_SANDBOX_FLAG_ALL_UNIX_SOCKETS;

/// The largest `struct_size` accepted: a guard against garbage, far above any future version.
pub const CODEX_SANDBOX_MAX_STRUCT_SIZE: u32 = 4096;

/// The most entries read from `argv`, `envp` or `extra_fds`: a guard against a missing NULL.
const MAX_ENTRIES: usize = 1 << 20;

/// What to run and how: the input of codex_sandbox_spawn(), codex_sandbox_explain() and
/// codex_sandbox_seatbelt().
///
/// Versioning: set `struct_size = sizeof(codex_sandbox_spawn_request)` (or call
/// codex_sandbox_spawn_request_init()). Fields are only ever added at the end. A library older
/// than your header accepts the larger struct as long as every field it does not know is
/// zero, and refuses it (CODEX_SANDBOX_BAD_STRUCT_SIZE) otherwise, so a new option is never
/// silently ignored; zero the whole struct (memset or `= {0}`) before filling it in.
///
/// Ownership: the library only reads the request and the strings and arrays it points to,
/// during the call; it keeps no pointer into them. Descriptors named in it stay the caller's.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct codex_sandbox_spawn_request {
    /// `sizeof(codex_sandbox_spawn_request)` as the caller compiled it. 0 is an error.
    pub struct_size: u32,
    /// One of codex_sandbox_pipeline; 0 is CODEX_SANDBOX_PIPELINE_AUTO.
    pub pipeline: u32,
    /// Required. The sandbox policy: Codex's policy JSON (`{"type":"workspace-write",...}`),
    /// one of the names `read-only`, `workspace-write`, `danger-full-access`, or Codex's
    /// permission profile JSON (`{"type":"managed","file_system":{...},"network":...}`, also
    /// `disabled` and `external`). UTF-8.
    pub policy: *const c_char,
    /// Required. The absolute directory the policy's cwd-relative parts refer to (the
    /// workspace that `workspace-write` makes writable, its `.git` and `.codex`).
    pub policy_cwd: *const c_char,
    /// The absolute directory the command runs in; NULL means `policy_cwd`.
    pub command_cwd: *const c_char,
    /// Required. The command and its arguments, terminated by a NULL entry; must have at
    /// least one entry. `argv[0]` is searched in the command's `PATH` when it has no slash.
    pub argv: *const *const c_char,
    /// The command's whole environment as `NAME=value` strings, terminated by a NULL entry.
    /// NULL means a copy of the caller's `environ` taken during the call (like posix_spawn()
    /// with `environ`; as with getenv(), do not setenv() in another thread meanwhile). Pass an
    /// array holding only NULL for an empty environment. The library adds
    /// `CODEX_SANDBOX_NETWORK_DISABLED=1` when the network is restricted.
    pub envp: *const *const c_char,
    /// An installed `bwrap` executable to carry out a bwrap plan instead of the embedded
    /// launcher (it applies no Landlock layer); NULL for the embedded launcher.
    pub bwrap_path: *const c_char,
    /// Descriptors (each >= 3) the command inherits at the same numbers; every other
    /// descriptor above 2 is closed in the command. NULL when `extra_fds_len` is 0.
    pub extra_fds: *const c_int,
    /// The number of entries in `extra_fds`.
    pub extra_fds_len: usize,
    /// The command's stdin: a descriptor of the caller (duplicated; the caller keeps and must
    /// still close its own), or CODEX_SANDBOX_STDIO_INHERIT, _PIPE or _NULL.
    pub stdin_fd: c_int,
    /// The command's stdout; as `stdin_fd`.
    pub stdout_fd: c_int,
    /// The command's stderr; as `stdin_fd`.
    pub stderr_fd: c_int,
    /// A bitwise OR of CODEX_SANDBOX_FLAG_*; an unknown bit is CODEX_SANDBOX_INVALID_ARGUMENT.
    pub flags: u32,
    /// Since version 2 (`struct_size` >= 104). Names protected in every writable root besides
    /// the defaults (`.git`, `.agents`, `.codex`, `.aws`), e.g. `.envrc`, `.vscode`: each a
    /// plain file name (no `/`, not `.` or `..`), kept read-only where present, kept from
    /// being created where missing, and removed after the run wherever deeper in a writable
    /// root the command created it (codex_sandbox_wait() then returns
    /// CODEX_SANDBOX_PROTECTED_NAME_CREATED). A NULL-terminated array; NULL for none.
    pub protect: *const *const c_char,
    /// Since version 2. Default names to leave unprotected (`.git` for a `git init`
    /// workflow). A NULL-terminated array; NULL for none.
    pub unprotect: *const *const c_char,
    // Version 3 (`struct_size` >= 152): resource limits. 0 means the default for each. A value outside a
    // limit's valid range is CODEX_SANDBOX_INVALID_ARGUMENT naming the field and the value; a
    // value above the calling process's own hard limit is lowered to it (limits are never
    // raised); codex_sandbox_explain() shows what the command gets.
    /// The sandbox's process budget (processes and threads at once, counted in its own user
    /// namespace); 0: 4096 where it can be enforced. For the host's root, with `bwrap_path`, or
    /// where the command shares the host's user namespace it is a pids cgroup of the run's own
    /// where one can be made; where none can, a non-zero value is CODEX_SANDBOX_UNSUPPORTED (0
    /// runs without a budget, as codex_sandbox_explain() warns).
    pub max_processes: u64,
    /// The address space of each process (`RLIMIT_AS`), in bytes, at least 1 MiB: mmap/brk
    /// beyond fail with ENOMEM; and, where a memory cgroup can be made, the memory of the whole
    /// sandbox (the OOM killer ends a process of it at the limit). 0: no limit.
    pub max_memory_bytes: u64,
    /// CPU time of each process (`RLIMIT_CPU`), in seconds: SIGXCPU at the limit, SIGKILL one
    /// second later. 0: no limit.
    pub max_cpu_seconds: u64,
    /// The largest file a process may write (`RLIMIT_FSIZE`), in bytes: SIGXFSZ, or EFBIG where
    /// it is caught or ignored. 0: no limit.
    pub max_file_size_bytes: u64,
    /// Open descriptors of each process (`RLIMIT_NOFILE`), 3 to 1048576: EMFILE beyond. 0: no
    /// limit.
    pub max_open_files: u64,
    /// Wall-clock limit of the whole run, in milliseconds: when it expires the sandbox's init
    /// kills the command and every other process of the run; the command's status is then
    /// SIGKILL and codex_sandbox_child_wall_time_exceeded() returns 1 (with `bwrap_path`, an
    /// init of ours runs bwrap and ends its tree). Refused (CODEX_SANDBOX_UNSUPPORTED) for a
    /// policy that runs without the sandbox's init (danger-full-access). 0: no limit.
    pub max_wall_time_ms: u64,
    /// Since version 4 (`struct_size` >= 160). Unix socket paths the command may connect to,
    /// whatever the network mode (Codex's `allowUnixSockets`): a NULL-terminated array of
    /// absolute paths, each a socket that exists when the sandbox starts, granted through the
    /// connect broker (the sandbox's init performs every connect itself and lets it through only
    /// to one of these, found by device and inode); where the broker cannot run they are not
    /// granted (codex_sandbox_explain() says why) and the command's connects fail as without
    /// them. Not together with CODEX_SANDBOX_FLAG_ALL_UNIX_SOCKETS. NULL for none.
    pub allow_unix_sockets: *const *const c_char,
}

/// The size of the first version of the request; smaller values of `struct_size` are refused.
/// Frozen: a field appended later makes the struct larger, and requests of this size must
/// keep working (copied into a zeroed struct, not read past their end).
pub(crate) const V1_SIZE: usize = 88;
/// Version 2 added `protect` and `unprotect`.
pub(crate) const V2_SIZE: usize = 104;
/// Version 3 added the resource limits.
pub(crate) const V3_SIZE: usize = 152;
/// Version 4 added `allow_unix_sockets`.
pub(crate) const V4_SIZE: usize = 160;
/// This library's request.
pub(crate) const CURRENT_SIZE: usize = V4_SIZE;

// Adding a field must come with a new version size; older sizes keep being read.
const _: () = assert!(std::mem::size_of::<codex_sandbox_spawn_request>() == CURRENT_SIZE);
const _: () = assert!(std::mem::offset_of!(codex_sandbox_spawn_request, protect) == V1_SIZE);
const _: () = assert!(std::mem::offset_of!(codex_sandbox_spawn_request, max_processes) == V2_SIZE);
const _: () = assert!(std::mem::offset_of!(codex_sandbox_spawn_request, allow_unix_sockets) == V3_SIZE);

/// Everything the request says, in Rust types.
pub(crate) struct Request {
    pub spec: SandboxSpec,
    pub stdio: [RawFd; 3],
    pub extra_fds: Vec<RawFd>,
    pub die_with_parent: bool,
}

/// Checks `struct_size` and copies the request.
///
/// # Safety
/// `req` is NULL or points to at least `req->struct_size` readable bytes (up to
/// [`CODEX_SANDBOX_MAX_STRUCT_SIZE`]).
unsafe fn copy_request(req: *const codex_sandbox_spawn_request) -> Result<codex_sandbox_spawn_request, FfiError> {
    if req.is_null() {
        return Err(FfiError::null("req"));
    }
    // SAFETY: `req` is non-NULL and points to at least the `struct_size` field (4 bytes),
    // which every version of the struct starts with. read_unaligned: no alignment assumed.
    let size = unsafe { std::ptr::addr_of!((*req).struct_size).read_unaligned() };
    let bad = |why: String| {
        Err(FfiError::new(
            CODEX_SANDBOX_BAD_STRUCT_SIZE,
            format!(
                "invalid argument: `struct_size`: {why}; set it to sizeof(codex_sandbox_spawn_request) ({CURRENT_SIZE} for this library)"
            ),
        ))
    };
    if size == 0 {
        return bad("0 (the request was not initialised)".into());
    }
    if (size as usize) < V1_SIZE {
        return bad(format!("{size} is smaller than the first version of the struct"));
    }
    // Only whole versions: a size between two would cut a field (a pointer) in half.
    if (size as usize) < CURRENT_SIZE && ![V1_SIZE, V2_SIZE].contains(&(size as usize)) {
        return bad(format!(
            "{size} is not the size of any version of the struct ({V1_SIZE}, {V2_SIZE} or {CURRENT_SIZE})"
        ));
    }
    if size > CODEX_SANDBOX_MAX_STRUCT_SIZE {
        return bad(format!(
            "{size} is larger than any version of the struct (at most {CODEX_SANDBOX_MAX_STRUCT_SIZE})"
        ));
    }
    if size as usize > CURRENT_SIZE {
        // SAFETY: the caller guarantees `struct_size` readable bytes at `req`.
        let bytes = unsafe { std::slice::from_raw_parts(req.cast::<u8>(), size as usize) };
        if let Some(offset) = bytes[CURRENT_SIZE..].iter().position(|b| *b != 0) {
            return bad(format!(
                "{size} is larger than this library's {CURRENT_SIZE} bytes and byte {} of the unknown tail is not zero: the request uses an option this version does not support",
                CURRENT_SIZE + offset
            ));
        }
    }
    // An older, smaller version: its bytes over a zeroed request (the newer fields stay 0,
    // their defaults), never read past its end.
    let mut request = std::mem::MaybeUninit::<codex_sandbox_spawn_request>::zeroed();
    let length = (size as usize).min(CURRENT_SIZE);
    // SAFETY: at least `length` bytes are readable at `req` (checked above) and writable in
    // `request`; every bit pattern is a valid value of each field (integers and raw pointers),
    // so the zeroed-then-copied struct is initialised.
    unsafe {
        std::ptr::copy_nonoverlapping(req.cast::<u8>(), request.as_mut_ptr().cast::<u8>(), length);
        Ok(request.assume_init())
    }
}

/// Reads a NUL-terminated string field; NULL is `None`.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string.
unsafe fn c_str<'a>(ptr: *const c_char) -> Option<&'a CStr> {
    // SAFETY: guaranteed by the caller.
    (!ptr.is_null()).then(|| unsafe { CStr::from_ptr(ptr) })
}

/// Reads a NULL-terminated array of strings.
///
/// # Safety
/// `array` is non-NULL and points to a NULL-terminated array of NUL-terminated strings.
unsafe fn c_str_array<'a>(array: *const *const c_char, name: &str) -> Result<Vec<&'a CStr>, FfiError> {
    let mut out = Vec::new();
    loop {
        if out.len() >= MAX_ENTRIES {
            return Err(FfiError::argument(
                name,
                format!("more than {MAX_ENTRIES} entries; is the terminating NULL missing?"),
            ));
        }
        // SAFETY: the array is NULL-terminated and we have not passed the terminator.
        let entry = unsafe { array.add(out.len()).read() };
        if entry.is_null() {
            return Ok(out);
        }
        // SAFETY: each entry is a NUL-terminated string.
        out.push(unsafe { CStr::from_ptr(entry) });
    }
}

fn os(s: &CStr) -> OsString {
    OsStr::from_bytes(s.to_bytes()).to_owned()
}

/// Parses `NAME=value` strings.
fn parse_env(entries: &[&CStr]) -> Result<Vec<(OsString, OsString)>, FfiError> {
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let bytes = entry.to_bytes();
            match bytes.iter().position(|b| *b == b'=') {
                Some(eq) if eq > 0 => {
                    Ok((OsStr::from_bytes(&bytes[..eq]).to_owned(), OsStr::from_bytes(&bytes[eq + 1..]).to_owned()))
                }
                _ => Err(FfiError::argument(
                    &format!("envp[{i}]"),
                    format!("`{}` is not of the form NAME=value", String::from_utf8_lossy(bytes)),
                )),
            }
        })
        .collect()
}

fn pipeline(value: u32) -> Result<PipelineRequest, FfiError> {
    match value {
        0 => Ok(PipelineRequest::Auto),
        1 => Ok(PipelineRequest::Landlock),
        2 => Ok(PipelineRequest::Bwrap),
        other => Err(FfiError::argument(
            "pipeline",
            format!(
                "unknown pipeline {other}; expected CODEX_SANDBOX_PIPELINE_AUTO (0), CODEX_SANDBOX_PIPELINE_LANDLOCK (1) or CODEX_SANDBOX_PIPELINE_BWRAP (2)"
            ),
        )),
    }
}

/// Checks that `fd` is an open descriptor of this process.
fn check_open(fd: RawFd, field: &str) -> Result<(), FfiError> {
    if let Err(errno) = sys::fstat(fd) {
        let error = errno.into_io();
        return Err(FfiError {
            errno: error.raw_os_error().unwrap_or(0),
            ..FfiError::argument(field, format!("descriptor {fd}: {error}"))
        });
    }
    Ok(())
}

fn check_stdio(value: c_int, field: &str) -> Result<RawFd, FfiError> {
    if value >= 0 {
        check_open(value, field)?;
        Ok(value)
    } else if (CODEX_SANDBOX_STDIO_NULL..=CODEX_SANDBOX_STDIO_INHERIT).contains(&value) {
        Ok(value)
    } else {
        Err(FfiError::argument(
            field,
            format!("{value} is neither a descriptor nor CODEX_SANDBOX_STDIO_INHERIT (-1), _PIPE (-2) or _NULL (-3)"),
        ))
    }
}

/// Validates the request and converts it. Reads only; creates nothing.
///
/// # Safety
/// `req` is NULL or a valid request (see [`codex_sandbox_spawn_request`]) whose pointers are
/// NULL or valid for reading as documented there.
pub(crate) unsafe fn read_request(req: *const codex_sandbox_spawn_request) -> Result<Request, FfiError> {
    // SAFETY: forwarded from the caller.
    let r = unsafe { copy_request(req) }?;
    if r.flags & !KNOWN_FLAGS != 0 {
        return Err(FfiError::argument(
            "flags",
            format!(
                "unknown bits {:#x}: this library knows only CODEX_SANDBOX_FLAG_NO_PROC, _PROXY_NETWORK, _NO_DIE_WITH_PARENT and _ALL_UNIX_SOCKETS",
                r.flags & !KNOWN_FLAGS
            ),
        ));
    }
    let pipeline = pipeline(r.pipeline)?;
    // SAFETY (all `c_str` and `c_str_array` calls below): the request's pointers are NULL or
    // valid strings / NULL-terminated arrays, as its documentation requires.
    let policy_text = unsafe { c_str(r.policy) }.ok_or_else(|| FfiError::null("policy"))?;
    let policy_text = policy_text.to_str().map_err(|_| {
        FfiError::new(CODEX_SANDBOX_INVALID_POLICY, "invalid policy: `sandbox-policy`: not valid UTF-8")
    })?;
    let policy = Policy::parse(policy_text)?;
    let policy_cwd = unsafe { c_str(r.policy_cwd) }.ok_or_else(|| FfiError::null("policy_cwd"))?;
    let command_cwd = unsafe { c_str(r.command_cwd) }.map(|s| PathBuf::from(os(s)));
    if r.argv.is_null() {
        return Err(FfiError::null("argv"));
    }
    let argv: Vec<OsString> = unsafe { c_str_array(r.argv, "argv") }?.into_iter().map(os).collect();
    let env = if r.envp.is_null() {
        std::env::vars_os().collect()
    } else {
        parse_env(&unsafe { c_str_array(r.envp, "envp") }?)?
    };
    let bwrap_path = unsafe { c_str(r.bwrap_path) }.map(|s| PathBuf::from(os(s)));
    let extra_fds = if r.extra_fds_len == 0 {
        Vec::new()
    } else if r.extra_fds.is_null() {
        return Err(FfiError::null("extra_fds"));
    } else if r.extra_fds_len > MAX_ENTRIES {
        return Err(FfiError::argument("extra_fds_len", format!("{} is more than {MAX_ENTRIES}", r.extra_fds_len)));
    } else {
        // SAFETY: the caller guarantees `extra_fds_len` readable ints at `extra_fds`.
        unsafe { std::slice::from_raw_parts(r.extra_fds, r.extra_fds_len) }.to_vec()
    };
    for (i, fd) in extra_fds.iter().enumerate() {
        let field = format!("extra_fds[{i}]");
        if *fd < 3 {
            return Err(FfiError::argument(
                &field,
                format!("descriptor {fd} is a standard stream; use stdin_fd/stdout_fd/stderr_fd"),
            ));
        }
        check_open(*fd, &field)?;
    }
    let stdio = [
        check_stdio(r.stdin_fd, "stdin_fd")?,
        check_stdio(r.stdout_fd, "stdout_fd")?,
        check_stdio(r.stderr_fd, "stderr_fd")?,
    ];

    let names = |array: *const *const c_char, field: &str| -> Result<Vec<OsString>, FfiError> {
        if array.is_null() {
            return Ok(Vec::new());
        }
        // SAFETY: a non-NULL `protect`/`unprotect` is a NULL-terminated array of strings.
        Ok(unsafe { c_str_array(array, field) }?.into_iter().map(os).collect())
    };
    let protect = names(r.protect, "protect")?;
    let unprotect = names(r.unprotect, "unprotect")?;
    let unix_socket_paths: Vec<PathBuf> =
        names(r.allow_unix_sockets, "allow_unix_sockets")?.into_iter().map(PathBuf::from).collect();

    let mut spec = SandboxSpec::new(policy, PathBuf::from(os(policy_cwd)), argv);
    spec.protect = protect;
    spec.unprotect = unprotect;
    spec.command_cwd = command_cwd;
    spec.env = env;
    spec.pipeline = pipeline;
    spec.proxy_network = r.flags & CODEX_SANDBOX_FLAG_PROXY_NETWORK != 0;
    spec.no_proc = r.flags & CODEX_SANDBOX_FLAG_NO_PROC != 0;
    let all_unix = (r.flags & CODEX_SANDBOX_FLAG_ALL_UNIX_SOCKETS != 0).then_some(UnixSockets::All);
    spec.unix_sockets =
        UnixSockets::from_parts(all_unix, unix_socket_paths, "allow_unix_sockets").map_err(FfiError::from)?;
    spec.bwrap_path = bwrap_path;
    let given = |value: u64| (value != 0).then_some(value);
    spec.max_processes = given(r.max_processes);
    spec.limits = ResourceLimits {
        memory_bytes: given(r.max_memory_bytes),
        cpu_seconds: given(r.max_cpu_seconds),
        file_size_bytes: given(r.max_file_size_bytes),
        open_files: given(r.max_open_files),
        wall_time: given(r.max_wall_time_ms).map(std::time::Duration::from_millis),
    };
    Ok(Request { spec, stdio, extra_fds, die_with_parent: r.flags & CODEX_SANDBOX_FLAG_NO_DIE_WITH_PARENT == 0 })
}

/// The core's `Stdio` for one stream; a caller descriptor is duplicated (close-on-exec), so
/// the caller's own stays open and stays the caller's.
pub(crate) fn stdio(value: RawFd, field: &str) -> Result<Stdio, FfiError> {
    Ok(match value {
        CODEX_SANDBOX_STDIO_INHERIT => Stdio::Inherit,
        CODEX_SANDBOX_STDIO_PIPE => Stdio::Pipe,
        CODEX_SANDBOX_STDIO_NULL => Stdio::Null,
        fd => {
            let dup = sys::dup_above(fd, 3).map_err(|errno| {
                let error = errno.into_io();
                FfiError {
                    errno: error.raw_os_error().unwrap_or(0),
                    ..FfiError::argument(field, format!("descriptor {fd}: {error}"))
                }
            })?;
            Stdio::Fd(dup)
        }
    })
}

/// The request field of a limit the core names by its CLI spelling.
pub(crate) fn c_field(core_field: &str) -> Option<&'static str> {
    Some(match core_field {
        "max-processes" => "max_processes",
        "max-memory" => "max_memory_bytes",
        "max-cpu-seconds" => "max_cpu_seconds",
        "max-file-size" => "max_file_size_bytes",
        "max-open-files" => "max_open_files",
        "max-wall-time" => "max_wall_time_ms",
        _ => return None,
    })
}
