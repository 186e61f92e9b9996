//! How the command is started: its argv checked, its environment checked and completed, where
//! `argv[0]` is looked for.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::probe::HostFacts;

const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Refuses an empty command, an empty program name and NUL bytes.
pub(crate) fn check_argv(argv: &[OsString]) -> Result<&OsStr> {
    let Some(program) = argv.first() else {
        return Err(Error::argument("command", "empty command: nothing to run"));
    };
    if program.is_empty() {
        return Err(Error::argument("command", "the program name (argv[0]) is empty"));
    }
    for (i, arg) in argv.iter().enumerate() {
        if arg.as_bytes().contains(&0) {
            return Err(Error::argument(format!("command[{i}]"), "contains a NUL byte"));
        }
    }
    Ok(program)
}

/// The ids the command runs as instead of the caller's, as libuv switches them: the
/// supplementary groups cleared, then the gid, then the uid. An id not asked for stays the
/// caller's (effective) one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SwitchIds {
    pub uid: u32,
    pub gid: u32,
    /// Which of the two the caller asked for: `uid`, `gid` or both (for errors).
    #[serde(skip)]
    pub(crate) asked: (bool, bool),
}

impl SwitchIds {
    /// The option an error about the switch names.
    pub(crate) fn field(&self) -> &'static str {
        if self.asked.0 { "uid" } else { "gid" }
    }
}

/// Validates `uid`/`gid`: another id than the caller's needs a root caller (the kernel's rule
/// for `setuid`/`setgid`, which the command would meet anyway); the caller's own ids switch
/// nothing for an unprivileged caller. A root caller always switches when asked (its
/// supplementary groups are cleared, as libuv clears them).
pub(crate) fn switch_ids(uid: Option<u32>, gid: Option<u32>, host: &HostFacts) -> Result<Option<SwitchIds>> {
    if uid.is_none() && gid.is_none() {
        return Ok(None);
    }
    for (field, id) in [("uid", uid), ("gid", gid)] {
        if id == Some(u32::MAX) {
            // What the kernel's set*id calls read as "leave unchanged": never a switch.
            return Err(Error::argument(field, "4294967295 (-1) is not an id"));
        }
    }
    if host.euid != 0 {
        for (field, asked, own) in [("uid", uid, host.euid), ("gid", gid, host.egid)] {
            if let Some(id) = asked.filter(|id| *id != own) {
                return Err(Error::argument(
                    field,
                    format!(
                        "{id}: only root may run the command as another {field} (this process runs as uid {})",
                        host.euid
                    ),
                ));
            }
        }
        return Ok(None);
    }
    Ok(Some(SwitchIds {
        uid: uid.unwrap_or(host.euid),
        gid: gid.unwrap_or(host.egid),
        asked: (uid.is_some(), gid.is_some()),
    }))
}

/// `argv0` may be empty (execve allows it) but holds no NUL byte.
pub(crate) fn check_argv0(argv0: Option<&OsStr>) -> Result<()> {
    match argv0 {
        Some(argv0) if argv0.as_bytes().contains(&0) => Err(Error::argument("argv0", "contains a NUL byte")),
        _ => Ok(()),
    }
}

/// The argv the program is executed with: `argv` with `argv[0]` replaced by `argv0`.
pub(crate) fn exec_argv(argv: &[OsString], argv0: Option<&OsString>) -> Vec<OsString> {
    let mut exec = argv.to_vec();
    if let (Some(first), Some(argv0)) = (exec.first_mut(), argv0) {
        first.clone_from(argv0);
    }
    exec
}

pub(crate) fn check_env(env: &[(OsString, OsString)]) -> Result<()> {
    for (key, value) in env {
        let field = format!("env[{}]", key.to_string_lossy());
        if key.is_empty() || key.as_bytes().contains(&b'=') {
            return Err(Error::argument(field, "a variable name must be non-empty and contain no `=`"));
        }
        if key.as_bytes().contains(&0) || value.as_bytes().contains(&0) {
            return Err(Error::argument(field, "contains a NUL byte"));
        }
    }
    Ok(())
}

pub(crate) fn set_env(env: &mut Vec<(OsString, OsString)>, added: &mut Vec<(String, String)>, key: &str, value: &str) {
    env.retain(|(k, _)| k != key);
    env.push((key.into(), value.into()));
    added.push((key.into(), value.into()));
}

/// Where `execvp` would look for `program`: itself when it contains a slash, else each entry of
/// the child's `PATH` (an empty entry meaning the current directory).
pub(crate) fn exec_candidates(program: &OsStr, env: &[(OsString, OsString)]) -> Vec<PathBuf> {
    if program.as_bytes().contains(&b'/') {
        return vec![PathBuf::from(program)];
    }
    let path = env.iter().find(|(k, _)| k == "PATH").map(|(_, v)| v.as_os_str()).unwrap_or(OsStr::new(DEFAULT_PATH));
    path.as_bytes()
        .split(|b| *b == b':')
        .map(|dir| if dir.is_empty() { Path::new(".") } else { Path::new(OsStr::from_bytes(dir)) })
        .map(|dir| dir.join(program))
        .collect()
}
