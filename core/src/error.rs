//! The one error type of the crate.
//!
//! Every failure names what was wrong (the policy field, the option, the path) and the value
//! that was refused, so a front end can print it as is. [`ErrorKind`] gives each failure a
//! stable category that the C ABI and the Node binding map to their own codes.

use std::io;
use std::path::PathBuf;

/// Stable failure categories. The numeric values are part of the C ABI: never renumber.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[repr(i32)]
pub enum ErrorKind {
    /// A caller-supplied option (argv, cwd, stdio, pipeline name) is unusable.
    InvalidArgument = 1,
    /// The policy JSON is malformed or names something we refuse to enforce.
    InvalidPolicy = 2,
    /// The host cannot enforce what was asked (no Landlock, no user namespaces, ...).
    Unsupported = 3,
    /// The sandbox could not be set up or the process could not be started.
    SpawnFailed = 4,
    /// The command was not found (exit code 127 in the CLI).
    CommandNotFound = 5,
    /// The command exists but cannot be executed (exit code 126 in the CLI).
    CommandNotExecutable = 6,
    /// A permission error while preparing the sandbox.
    PermissionDenied = 7,
    /// A bug: a panic caught at an API boundary, or an impossible state.
    Internal = 8,
    /// The command created a protected name (`sub/.git`, an added name) in a writable root:
    /// removed after the run, and the run failed (exit code 123 in the CLI).
    ProtectedNameCreated = 12,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid policy: `{field}`: {message}")]
    InvalidPolicy { field: String, message: String },

    #[error("invalid argument: `{field}`: {message}")]
    InvalidArgument { field: String, message: String },

    #[error("{what} cannot be enforced on this host: {reason}")]
    Unsupported { what: String, reason: String },

    /// The host refused a step the sandbox needs, found by the probe or planning before
    /// `clone` or by the child after it: `refusal` names the check, keeps its errno and says
    /// what to do on this host. Its kind is [`ErrorKind::Unsupported`] too.
    #[error("{what} cannot be enforced on this host: {refusal}")]
    HostRefused { what: String, refusal: crate::probe::Refusal },

    #[error("command not found: `{program}`")]
    CommandNotFound { program: String },

    #[error("command cannot be executed: `{program}`: {source}")]
    CommandNotExecutable { program: String, source: io::Error },

    /// A step of setting up the sandbox failed. `source` is the system call's own error (its
    /// errno intact); `subject` names the path, mount, rule or route it was acting on.
    #[error("sandbox setup failed: {stage}{}: {source}{hint}", subject.as_deref().map(|s| format!(": {s}")).unwrap_or_default())]
    Setup { stage: &'static str, subject: Option<String>, source: io::Error, hint: &'static str },

    #[error("{context} `{}`: {source}", path.display())]
    Path { context: &'static str, path: PathBuf, source: io::Error },

    #[error("internal error: {0}")]
    Internal(String),

    /// Found after the run by `exec::sweep`: protected names the command created in a
    /// writable root. The command's own exit status is still known (`Child::wait`).
    #[error("{}", protected_name_message(removed, not_removed, incomplete.as_deref()))]
    ProtectedNameCreated { removed: Vec<PathBuf>, not_removed: Vec<String>, incomplete: Option<String> },
}

fn protected_name_message(removed: &[PathBuf], not_removed: &[String], incomplete: Option<&str>) -> String {
    let mut parts = Vec::new();
    if !removed.is_empty() {
        let paths: Vec<String> = removed.iter().map(|p| format!("`{}`", p.display())).collect();
        parts.push(format!(
            "the command created protected names in a writable root; removed after the run: {}",
            paths.join(", ")
        ));
    }
    if !not_removed.is_empty() {
        parts
            .push(format!("the command created protected names that could not be removed: {}", not_removed.join(", ")));
    }
    if let Some(why) = incomplete {
        parts.push(format!(
            "the writable roots could not be fully checked for protected names created during the run: {why}"
        ));
    }
    parts.join("; ")
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidPolicy { .. } => ErrorKind::InvalidPolicy,
            Error::InvalidArgument { .. } => ErrorKind::InvalidArgument,
            Error::Unsupported { .. } | Error::HostRefused { .. } => ErrorKind::Unsupported,
            Error::CommandNotFound { .. } => ErrorKind::CommandNotFound,
            Error::CommandNotExecutable { .. } => ErrorKind::CommandNotExecutable,
            Error::Setup { source, .. } | Error::Path { source, .. }
                if source.kind() == io::ErrorKind::PermissionDenied =>
            {
                ErrorKind::PermissionDenied
            }
            Error::Setup { .. } | Error::Path { .. } => ErrorKind::SpawnFailed,
            Error::Internal(_) => ErrorKind::Internal,
            Error::ProtectedNameCreated { .. } => ErrorKind::ProtectedNameCreated,
        }
    }

    /// The errno of the system call behind this error, when there is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Setup { source, .. } | Error::Path { source, .. } | Error::CommandNotExecutable { source, .. } => {
                source.raw_os_error()
            }
            Error::HostRefused { refusal, .. } => refusal.errno,
            _ => None,
        }
    }

    /// The host check that failed, for a host-cannot-enforce error found by trying.
    pub fn failed_check(&self) -> Option<&str> {
        match self {
            Error::HostRefused { refusal, .. } => Some(&refusal.check),
            _ => None,
        }
    }

    pub(crate) fn host_refused(what: impl Into<String>, refusal: crate::probe::Refusal) -> Error {
        Error::HostRefused { what: what.into(), refusal }
    }

    /// A setup failure with no particular subject.
    pub fn setup(stage: &'static str, source: io::Error) -> Error {
        Error::Setup { stage, subject: None, source, hint: "" }
    }

    pub(crate) fn policy(field: impl Into<String>, message: impl Into<String>) -> Error {
        Error::InvalidPolicy { field: field.into(), message: message.into() }
    }

    pub(crate) fn argument(field: impl Into<String>, message: impl Into<String>) -> Error {
        Error::InvalidArgument { field: field.into(), message: message.into() }
    }

    pub(crate) fn path(context: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Path { context, path: path.into(), source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
