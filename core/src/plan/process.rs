//! How the command is started: its argv checked, its environment checked and completed, where
//! `argv[0]` is looked for.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

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
