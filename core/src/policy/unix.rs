//! The unix-socket capability: which unix sockets outside its own socketpairs a command may
//! reach, independent of the IP network mode.
//!
//! Reaching a unix socket ignores read-only mounts and Landlock's file rules (`connect` needs
//! no write access to the socket file), so the only sound ways to keep host sockets out of
//! reach are to take the means away (`socket(AF_UNIX, …)` refused by seccomp, which covers
//! pathname and abstract sockets alike) or to perform every connect for the command after a
//! check (the connect broker, `exec::child::broker`). Hence:
//!
//! - [`UnixSockets::None`] (the default): no unix socket of its own making; socketpairs of
//!   stream and seqpacket type (pipes between the command's own processes: Node's and libuv's
//!   stdio and IPC, Python's `socketpair`) and descriptors the launcher passes explicitly keep
//!   working.
//! - [`UnixSockets::All`]: no unix-socket restriction at all (Codex's
//!   `dangerouslyAllowAllUnixSockets`): every socket in the command's view and network
//!   namespace is reachable.
//! - [`UnixSockets::Paths`]: a per-path grant (Codex's `allowUnixSockets`), enforced by the
//!   connect broker: the sandbox's init performs every connect of the command itself and lets a
//!   unix one reach only a granted socket (by device and inode). Where the broker cannot run
//!   (`plan::UnixSocketsPlan` says why) the paths are **not granted**: the run goes on as under
//!   `None`, and `--explain` and a warning name each path and why (stricter, not broken).

use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Error, Result};

/// Which unix sockets a command may reach beyond its own socketpairs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", content = "paths", rename_all = "kebab-case")]
pub enum UnixSockets {
    /// None: `socket(AF_UNIX, …)` is refused; socketpairs keep working.
    #[default]
    None,
    /// Every unix socket the command can see (and, in its network namespace, every abstract one).
    All,
    /// These absolute paths: granted through the connect broker where it runs (module docs).
    Paths(Vec<PathBuf>),
}

impl UnixSockets {
    /// Parses the CLI's `--unix-sockets` value and C's / Node's mode string: `none` or `all`.
    pub fn parse_mode(text: &str, field: &str) -> Result<UnixSockets> {
        match text {
            "none" => Ok(UnixSockets::None),
            "all" => Ok(UnixSockets::All),
            other => Err(Error::argument(
                field,
                format!("unknown unix-socket mode `{}`; expected none or all", super::shorten(other)),
            )),
        }
    }

    /// `mode` (none/all, or nothing) and granted `paths` together, as the CLI, C and Node give
    /// them. Paths with `all` would mean nothing, so the two together are refused.
    pub fn from_parts(mode: Option<UnixSockets>, paths: Vec<PathBuf>, field: &str) -> Result<UnixSockets> {
        for (index, path) in paths.iter().enumerate() {
            super::check_absolute(path).map_err(|message| Error::argument(format!("{field}[{index}]"), message))?;
        }
        match (mode, paths.is_empty()) {
            (None, true) => Ok(UnixSockets::None),
            (Some(mode), true) => Ok(mode),
            (None | Some(UnixSockets::Paths(_)), false) => Ok(UnixSockets::Paths(paths)),
            (Some(UnixSockets::None), false) | (Some(UnixSockets::All), false) => Err(Error::argument(
                field,
                "unix-socket paths together with the mode none or all: give one of them".to_owned(),
            )),
        }
    }

    /// Whether `socket(AF_UNIX, …)` and every unix-socket operation stay allowed.
    pub fn allows_all(&self) -> bool {
        *self == UnixSockets::All
    }

    /// Whether anything beyond socketpairs was asked for (granted or not).
    pub fn asks_for_any(&self) -> bool {
        *self != UnixSockets::None
    }

    /// Why `path` is not granted, for `--explain` and the run's warnings.
    pub fn not_granted_because(path: &std::path::Path, why: &str) -> String {
        format!(
            "unix socket `{}` is not granted: {why}; unix sockets stay refused as under `none` (socket(AF_UNIX) \
             fails with EPERM, or, where other paths are granted through the connect broker, its connect fails \
             with EACCES)",
            path.display()
        )
    }

    /// One capability from the launcher's own setting and a managed network's fields: they
    /// must agree when both say something (otherwise one of them would silently not apply).
    pub fn combine(own: UnixSockets, managed: UnixSockets) -> Result<UnixSockets> {
        match (own, managed) {
            (own, UnixSockets::None) => Ok(own),
            (UnixSockets::None, managed) => Ok(managed),
            (own, managed) if own == managed => Ok(own),
            (own, managed) => Err(Error::argument(
                "unix-sockets",
                format!(
                    "disagrees with the managed network's unix-socket fields ({} here, {} there)",
                    own.describe(),
                    managed.describe()
                ),
            )),
        }
    }

    fn describe(&self) -> String {
        match self {
            UnixSockets::None => "none".into(),
            UnixSockets::All => "all".into(),
            UnixSockets::Paths(paths) => {
                let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                format!("paths {}", names.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_paths_and_their_combinations() {
        assert_eq!(UnixSockets::parse_mode("none", "f").unwrap(), UnixSockets::None);
        assert_eq!(UnixSockets::parse_mode("all", "f").unwrap(), UnixSockets::All);
        let error = UnixSockets::parse_mode("some", "unix-sockets").unwrap_err().to_string();
        assert!(error.contains("`unix-sockets`: unknown unix-socket mode `some`"), "{error}");
        let paths = vec![PathBuf::from("/run/docker.sock")];
        assert_eq!(UnixSockets::from_parts(None, paths.clone(), "f").unwrap(), UnixSockets::Paths(paths.clone()));
        assert_eq!(UnixSockets::from_parts(Some(UnixSockets::All), vec![], "f").unwrap(), UnixSockets::All);
        assert_eq!(UnixSockets::from_parts(None, vec![], "f").unwrap(), UnixSockets::None);
        let error = UnixSockets::from_parts(Some(UnixSockets::All), paths.clone(), "allow-unix-socket")
            .unwrap_err()
            .to_string();
        assert!(error.contains("`allow-unix-socket`"), "{error}");
        let error =
            UnixSockets::from_parts(None, vec!["rel.sock".into()], "allow-unix-socket").unwrap_err().to_string();
        assert!(error.contains("`allow-unix-socket[0]`: relative path `rel.sock`"), "{error}");
        let why = UnixSockets::not_granted_because(&paths[0], "an installed bwrap runs no init of ours");
        assert!(why.starts_with("unix socket `/run/docker.sock` is not granted: an installed bwrap"), "{why}");
        assert_eq!(UnixSockets::combine(UnixSockets::None, UnixSockets::All).unwrap(), UnixSockets::All);
        assert_eq!(UnixSockets::combine(UnixSockets::All, UnixSockets::None).unwrap(), UnixSockets::All);
        let error = UnixSockets::combine(UnixSockets::All, UnixSockets::Paths(paths)).unwrap_err().to_string();
        assert!(error.contains("disagrees with the managed network"), "{error}");
        assert_eq!(serde_json::to_value(UnixSockets::None).unwrap(), serde_json::json!({"mode": "none"}));
    }
}
