//! From the options the JS layer hands over (already type-checked there) to the core's
//! [`SandboxSpec`], and from core errors to plain objects the JS layer turns into `Error`s.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

use codex_sandbox_core::policy::{NetworkAccess, NetworkPolicy, UnixSockets};
use codex_sandbox_core::sys as core_sys;
use codex_sandbox_core::{
    Error, ManagedNetwork, PipelineRequest, Policy, SandboxPolicy, SandboxSpec, SpawnOptions, Stdio,
};
use napi_derive::napi;

/// A failure, as data: the JS layer builds the `Error` (with a JS stack) from it.
#[napi(object)]
pub struct NativeError {
    /// The core's stable `ErrorKind`, kebab-case (`invalid-policy`, `command-not-found`, ...).
    pub kind: String,
    pub message: String,
    /// The OS error number behind a setup failure, when there is one.
    pub errno: Option<i32>,
    /// The option an `invalid-argument` failure names (`command-cwd`, `stdio[1]`, ...).
    pub field: Option<String>,
    /// The host check that failed, for an `unsupported` failure the host caused (`write
    /// /proc/self/uid_map`, ...).
    pub check: Option<String>,
}

impl From<&Error> for NativeError {
    fn from(error: &Error) -> NativeError {
        let kind = serde_json::to_value(error.kind()).ok().and_then(|v| v.as_str().map(str::to_owned));
        let errno = error.errno();
        let field = match error {
            Error::InvalidArgument { field, .. } => Some(field.clone()),
            _ => None,
        };
        let check = error.failed_check().map(str::to_owned);
        NativeError { kind: kind.unwrap_or_else(|| "internal".into()), message: error.to_string(), errno, field, check }
    }
}

impl From<Error> for NativeError {
    fn from(error: Error) -> NativeError {
        NativeError::from(&error)
    }
}

pub fn argument_error(field: &str, message: impl Into<String>) -> Error {
    Error::InvalidArgument { field: field.into(), message: message.into() }
}

/// What `spawn`, `explain` and `seatbeltPolicy` share. Paths are absolute (the JS layer
/// resolves them); the environment is complete (the JS layer defaults it to `process.env`).
#[napi(object)]
pub struct NativeSpec {
    /// Policy JSON text or one of the plain names.
    pub policy: String,
    /// `restricted`, `full`, `proxy`, or absent (the policy decides).
    pub network: Option<String>,
    pub policy_cwd: String,
    pub cwd: Option<String>,
    pub argv: Vec<String>,
    /// Node's `argv0`, when it is not `argv[0]` (the program run).
    pub argv0: Option<String>,
    pub env_keys: Vec<String>,
    pub env_values: Vec<String>,
    pub pipeline: Option<String>,
    pub no_proc: Option<bool>,
    pub bwrap_path: Option<String>,
    /// Codex's managed network as JSON (`{"loopbackPorts": [...], ...}`): proxy-only to those
    /// loopback ports.
    pub managed_network: Option<String>,
    /// The sandbox's process budget (the core's default when absent).
    pub max_processes: Option<u32>,
    /// The unix-socket capability: `none`, `all`, or absent (none, unless paths are given).
    pub unix_sockets: Option<String>,
    /// Unix socket paths asked for (not granted by this version; see the core's `UnixSockets`).
    pub unix_socket_paths: Option<Vec<String>>,
    /// Names protected in every writable root besides the defaults (`protect`).
    pub protect: Option<Vec<String>>,
    /// Default protected names left unprotected (`unprotect`).
    pub unprotect: Option<Vec<String>>,
    /// The optional limits (`maxMemoryBytes`, `maxCpuSeconds`, `maxFileSizeBytes`,
    /// `maxOpenFiles`, `maxWallTimeMs`): whole numbers, checked by the core.
    pub max_memory_bytes: Option<f64>,
    pub max_cpu_seconds: Option<f64>,
    pub max_file_size_bytes: Option<f64>,
    pub max_open_files: Option<f64>,
    pub max_wall_time_ms: Option<f64>,
    /// Node's `detached`: the child outlives the thread that spawned it.
    pub detached: Option<bool>,
    /// Stay in the caller's session (and keep its controlling terminal): `controllingTerminal`.
    pub keep_session: Option<bool>,
    /// `codexMarkers`: Codex's `CODEX_SANDBOX_NETWORK_DISABLED=1` without full network.
    pub network_marker: Option<bool>,
    /// Node's `uid`/`gid`: always passed by a root caller (libuv clears the supplementary
    /// groups whenever either is given), by others only as their own ids (the JS layer throws
    /// EPERM otherwise); the core checks again.
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// Sets the policy's network access as `network` asks. `proxy` leaves the policy alone and
/// asks for proxy-only networking (the return value).
fn apply_network(policy: &mut SandboxPolicy, network: Option<&str>) -> Result<bool, Error> {
    let full = match network {
        None => return Ok(false),
        Some("proxy") => return Ok(true),
        Some("full") => true,
        Some("restricted") => false,
        Some(other) => {
            return Err(argument_error(
                "network",
                format!("unknown mode `{other}`; expected restricted, full or proxy"),
            ));
        }
    };
    match policy {
        SandboxPolicy::DangerFullAccess if !full => Err(argument_error(
            "network",
            "`restricted` cannot be combined with the danger-full-access policy, which enforces nothing",
        )),
        SandboxPolicy::DangerFullAccess => Ok(false),
        SandboxPolicy::ExternalSandbox { network_access } => {
            *network_access = if full { NetworkAccess::Enabled } else { NetworkAccess::Restricted };
            Ok(false)
        }
        SandboxPolicy::ReadOnly { network_access, .. } | SandboxPolicy::WorkspaceWrite { network_access, .. } => {
            *network_access = full;
            Ok(false)
        }
    }
}

impl NativeSpec {
    /// The policy in any of its forms (a plain name, Codex's legacy JSON, a permission profile),
    /// with `network` applied, and whether proxy-only networking was asked for.
    pub fn policy(&self) -> Result<(Policy, bool), Error> {
        match Policy::parse(&self.policy)? {
            Policy::Legacy(mut policy) => {
                let proxy = apply_network(&mut policy, self.network.as_deref())?;
                Ok((Policy::Legacy(policy), proxy))
            }
            Policy::Permissions(mut permissions) => {
                let proxy = match self.network.as_deref() {
                    None => false,
                    Some("proxy") => true,
                    Some("full") => {
                        permissions.network = NetworkPolicy::Enabled;
                        false
                    }
                    Some("restricted") => {
                        permissions.network = NetworkPolicy::Restricted;
                        false
                    }
                    Some(other) => {
                        return Err(argument_error(
                            "network",
                            format!("unknown mode `{other}`; expected restricted, full or proxy"),
                        ));
                    }
                };
                Ok((Policy::Permissions(permissions), proxy))
            }
        }
    }

    pub fn env(&self) -> Result<Vec<(OsString, OsString)>, Error> {
        if self.env_keys.len() != self.env_values.len() {
            return Err(Error::Internal("environment keys and values differ in number".into()));
        }
        Ok(self.env_keys.iter().zip(&self.env_values).map(|(k, v)| (k.into(), v.into())).collect())
    }

    pub fn to_core(&self) -> Result<SandboxSpec, Error> {
        let (policy, proxy_network) = self.policy()?;
        let mut spec =
            SandboxSpec::new(policy, PathBuf::from(&self.policy_cwd), self.argv.iter().map(OsString::from).collect());
        spec.command_cwd = self.cwd.as_ref().map(PathBuf::from);
        spec.argv0 = self.argv0.as_ref().map(OsString::from);
        spec.env = self.env()?;
        spec.pipeline = match &self.pipeline {
            Some(name) => PipelineRequest::parse(name)?,
            None => PipelineRequest::Auto,
        };
        spec.proxy_network = proxy_network;
        spec.no_proc = self.no_proc.unwrap_or(false);
        spec.bwrap_path = self.bwrap_path.as_ref().map(PathBuf::from);
        spec.managed_network = self.managed_network.as_deref().map(ManagedNetwork::parse).transpose()?;
        spec.max_processes = self.max_processes.map(u64::from);
        let mode = self.unix_sockets.as_deref().map(|mode| UnixSockets::parse_mode(mode, "unixSockets")).transpose()?;
        let paths = self.unix_socket_paths.iter().flatten().map(PathBuf::from).collect();
        spec.unix_sockets = UnixSockets::from_parts(mode, paths, "unixSockets")?;
        let names = |list: &Option<Vec<String>>| list.iter().flatten().map(OsString::from).collect::<Vec<_>>();
        spec.protect = names(&self.protect);
        spec.unprotect = names(&self.unprotect);
        // JS numbers; the JS layer passes only whole numbers from 1 to 2^53.
        let whole = |value: Option<f64>| value.map(|v| v as u64);
        spec.limits = codex_sandbox_core::ResourceLimits {
            memory_bytes: whole(self.max_memory_bytes),
            cpu_seconds: whole(self.max_cpu_seconds),
            file_size_bytes: whole(self.max_file_size_bytes),
            open_files: whole(self.max_open_files),
            wall_time: whole(self.max_wall_time_ms).map(std::time::Duration::from_millis),
        };
        spec.keep_session = self.keep_session.unwrap_or(false);
        spec.network_marker = self.network_marker.unwrap_or(false);
        (spec.uid, spec.gid) = (self.uid, self.gid);
        Ok(spec)
    }
}

/// One stream of `stdio`, encoded by the JS layer.
pub const STDIO_INHERIT: i32 = -1;
pub const STDIO_PIPE: i32 = -2;
pub const STDIO_IGNORE: i32 = -3;
/// A socket pair for a standard stream (an IPC channel at 0–2, as libuv makes one there).
pub const STDIO_SOCKET: i32 = -4;

/// The core's `Stdio` for stream `index`. A caller descriptor is duplicated (close-on-exec), so
/// the caller's own stays open and stays the caller's. `inherit` is the same as passing `index`
/// itself: Node marks its own 0–2 close-on-exec, and libuv's inherit clears that flag in the
/// child (core's `Stdio::Inherit` leaves the descriptor alone, so the command would find its
/// standard streams closed).
pub fn stdio(value: i32, index: i32) -> Result<Stdio, Error> {
    let field = format!("stdio[{index}]");
    Ok(match value {
        STDIO_INHERIT => duplicate(index, &field)?,
        STDIO_PIPE => Stdio::Pipe,
        STDIO_IGNORE => Stdio::Null,
        fd if fd >= 0 => duplicate(fd, &field)?,
        other => return Err(argument_error(&field, format!("unknown stdio code {other}"))),
    })
}

fn duplicate(fd: i32, field: &str) -> Result<Stdio, Error> {
    let owned = core_sys::dup_above(fd, 3)
        .map_err(|errno| argument_error(field, format!("descriptor {fd}: {}", errno.into_io())))?;
    // A standard stream must block: a command reading a non-blocking pipe (one end of another
    // child's stdout, which libuv made non-blocking) fails with EAGAIN. libuv clears the flag
    // in its child; the flag lives on the shared open file description, so clearing it here
    // has the same effect, on the caller's copy too, as with child_process.
    let _ = core_sys::set_nonblocking(owned.as_raw_fd(), false);
    Ok(Stdio::Fd(owned))
}

/// The spawn options for stdio codes (see `STDIO_*`): entries 0–2 are the standard streams,
/// entries 3 and up become descriptors at that number in the command (`ignore`: none). A `pipe`
/// there (and `STDIO_SOCKET` anywhere) is a socket pair, as libuv makes it (duplex, so also
/// usable for an IPC channel); the parent's ends come back by index, `None` where the core
/// makes the pipe (a standard stream's `pipe`) or there is none. `detached` children outlive
/// the thread that spawned them, as Node's detached children outlive their parent.
pub fn spawn_options(codes: &[i32], detached: bool) -> Result<(SpawnOptions, Vec<Option<OwnedFd>>), Error> {
    if codes.len() < 3 {
        return Err(Error::Internal("stdio must have at least three entries".into()));
    }
    let mut extra_fds = Vec::new();
    let mut parent_ends = Vec::new();
    let mut standard = Vec::new();
    for (index, code) in codes.iter().enumerate() {
        let number = index as i32;
        let field = format!("stdio[{number}]");
        if index < 3 {
            if *code == STDIO_SOCKET {
                let (parent, child) = socket_pair(&field)?;
                parent_ends.push(Some(parent));
                standard.push(Stdio::Fd(child));
            } else {
                parent_ends.push(None);
                standard.push(stdio(*code, number)?);
            }
            continue;
        }
        let source = match *code {
            STDIO_IGNORE => {
                parent_ends.push(None);
                continue;
            }
            STDIO_PIPE | STDIO_SOCKET => {
                let (parent, child) = socket_pair(&field)?;
                parent_ends.push(Some(parent));
                extra_fds.push((number, child));
                continue;
            }
            STDIO_INHERIT => number,
            fd if fd >= 0 => fd,
            other => return Err(argument_error(&field, format!("unknown stdio code {other}"))),
        };
        let Stdio::Fd(fd) = duplicate(source, &field)? else { unreachable!("duplicate returns Stdio::Fd") };
        parent_ends.push(None);
        extra_fds.push((number, fd));
    }
    let [stdin, stdout, stderr]: [Stdio; 3] =
        standard.try_into().map_err(|_| Error::Internal("three standard streams".into()))?;
    let options = SpawnOptions {
        stdin,
        stdout,
        stderr,
        extra_fds,
        pass_fds: Vec::new(),
        // The spawning thread is the JS thread: the sandbox is killed when it ends, unless the
        // caller asked for a detached child.
        die_with_parent: !detached,
    };
    Ok((options, parent_ends))
}

fn socket_pair(field: &str) -> Result<(OwnedFd, OwnedFd), Error> {
    core_sys::socketpair_stream().map_err(|errno| argument_error(field, format!("socketpair: {}", errno.into_io())))
}

/// The pid `child_process` would show: the command's own, not the sandbox's init in front of
/// it, so that signals sent to it from anywhere (`process.kill(pid, 'SIGSTOP')`, `kill -STOP`
/// in a shell, `kill(-pid)` for its process group) reach the command as they would a child
/// Node spawned. Init's pid only when the command has already exited (init is ending).
pub(crate) fn visible_pid(child: &codex_sandbox_core::Child) -> u32 {
    child.command_pid().ok().flatten().unwrap_or_else(|| child.id())
}
