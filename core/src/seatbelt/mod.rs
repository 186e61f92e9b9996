//! macOS Seatbelt: the same policy and environment that drive the Linux pipelines, expressed
//! as a `sandbox-exec` profile.
//!
//! Generation is a pure function of the policy, the resolved filesystem view and the
//! environment, so it runs and is tested on any host; nothing here executes `sandbox-exec`.
//! The profile is assembled from sections, in this order:
//!
//! 1. the fixed base (`base.sbpl`): `(deny default)` plus process, sysctl, IPC and terminal
//!    allowances, no file access and no network;
//! 2. reads (`filesystem.rs`);
//! 3. writes, with protected paths carved out (`filesystem.rs`);
//! 4. deny-read globs (`glob.rs`);
//! 5. the network (`network.rs`, which also holds the fail-closed decision);
//! 6. platform defaults (`platform_defaults.sbpl`), when a restricted-read policy asks for them.
//!
//! Paths are passed as `-DNAME=value` parameters, never spliced into the profile text.

mod filesystem;
mod glob;
mod network;
mod sbpl;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::policy::{Access, FileSystemPath, FileSystemPolicy, Permissions, Policy, Special};
use crate::proxy::endpoints as proxy_endpoints;
use crate::resolve::{self, ReadScope};
use network::{NetworkForm, UnixSocketRules};
use sbpl::Params;

/// The only `sandbox-exec` used: a copy found on `PATH` could be anyone's, this one can only
/// be replaced by root.
pub const SANDBOX_EXEC: &str = "/usr/bin/sandbox-exec";

/// What the caller decides beyond the policy.
#[derive(Clone, Debug, Default)]
pub struct SeatbeltOptions {
    /// Let the command listen on local ports and talk to any loopback port (and, while a proxy
    /// is configured, to DNS servers). Codex's `allow_local_binding`.
    pub allow_local_binding: bool,
    /// Unix sockets the command may bind and connect to (Docker, ssh-agent); none by default.
    pub unix_sockets: UnixSockets,
    /// Absolute glob patterns of files the command must not read or delete.
    pub deny_read_globs: Vec<String>,
    /// The launcher routes the command's traffic through its own proxy: restrict the network
    /// to the proxy ports even when no proxy variable is set (then to nothing).
    pub managed_network: bool,
}

/// Which unix sockets the command may use: the same capability as on Linux. Seatbelt can
/// grant paths soundly (its rules check the address of each bind and connect), so on macOS
/// [`UnixSockets::Paths`] is rendered as a grant of those sockets (or directories of them),
/// as Codex renders `allow_unix_sockets`.
pub use crate::policy::UnixSockets;

/// A generated profile and the parameters it refers to.
#[derive(Clone, Debug, Serialize)]
pub struct SeatbeltProfile {
    /// The SBPL text, for `sandbox-exec -p`.
    pub text: String,
    /// `(name, value)` pairs, for `-Dname=value`, in the order they are passed.
    pub params: Vec<(String, String)>,
    /// Things the caller should know: unusable proxy values, roots that were skipped.
    pub warnings: Vec<String>,
}

/// The `sandbox-exec` invocation that runs a command under a profile.
#[derive(Clone, Debug, Serialize)]
pub struct SeatbeltCommand {
    /// Always [`SANDBOX_EXEC`].
    pub program: String,
    /// `-p PROFILE -DNAME=value... -- COMMAND...`
    pub args: Vec<String>,
    /// Variables to set on top of the command's environment.
    pub env: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The profile for running a command under `policy`.
///
/// `env` is the command's whole environment: `TMPDIR` in it is a writable root (as on Linux)
/// and its proxy variables name the proxies the launcher set up, so any non-empty one makes
/// the network proxy-only (see [`SeatbeltOptions::managed_network`]).
pub fn seatbelt_profile(
    policy: impl Into<Policy>,
    policy_cwd: &Path,
    env: &[(OsString, OsString)],
    options: &SeatbeltOptions,
) -> Result<SeatbeltProfile> {
    let policy: Policy = policy.into();
    let permissions = policy.lower();
    let tmpdir = env.iter().find(|(key, _)| key == "TMPDIR").map(|(_, value)| value.as_os_str());
    let view = resolve::resolve(&permissions, policy_cwd, tmpdir)?;
    let proxy = proxy_endpoints::infer(env);
    let form =
        NetworkForm::decide(policy.has_full_network_access(), &proxy, options.managed_network, &options.unix_sockets);

    let mut params = Params::default();
    let mut sections = vec![include_str!("base.sbpl").to_owned()];
    sections.push(filesystem::read_section(&view, &mut params)?);
    sections.push(filesystem::write_section(&view, &mut params)?);
    sections.push(filesystem::deny_section(&view, &mut params)?);
    // The policy's own deny globs, as patterns: Seatbelt matches them at access time, so
    // files created during the run are covered too (unlike the Linux plan-time expansion).
    let mut deny_globs = options.deny_read_globs.clone();
    deny_globs.extend(view.policy_entries.globs.iter().map(|glob| glob.pattern.clone()));
    sections.push(glob::deny_read_section(&deny_globs)?);
    let unix_rules = UnixSocketRules::new(&options.unix_sockets, &mut params)?;
    sections.push(network::network_section(&form, options.allow_local_binding, &unix_rules));
    if wants_platform_defaults(&permissions) {
        sections.push(include_str!("platform_defaults.sbpl").to_owned());
    }
    sections.retain(|section| !section.is_empty());

    let mut warnings: Vec<String> = proxy.diagnostics.iter().map(|d| d.to_string()).collect();
    if let NetworkForm::Restricted { ports } = &form
        && ports.is_empty()
        && (proxy.config_present || options.managed_network)
    {
        warnings.push(if options.allow_local_binding {
            "no usable loopback proxy endpoint: outbound network is limited to loopback".into()
        } else {
            "no usable loopback proxy endpoint: the profile allows no outbound network".into()
        });
    }
    let skipped_reads = match &view.read {
        ReadScope::Restricted { skipped, .. } => skipped.as_slice(),
        ReadScope::Full => &[],
    };
    for skipped in view.skipped_roots.iter().chain(skipped_reads) {
        warnings.push(format!("skipped `{}`: {}", skipped.path.display(), skipped.reason));
    }

    Ok(SeatbeltProfile { text: sections.join("\n"), params: params.into_entries(), warnings })
}

/// The full `sandbox-exec` invocation for `command` (program first) under `policy`.
pub fn seatbelt_command(
    policy: impl Into<Policy>,
    policy_cwd: &Path,
    command: &[OsString],
    env: &[(OsString, OsString)],
    options: &SeatbeltOptions,
) -> Result<SeatbeltCommand> {
    if command.is_empty() {
        return Err(Error::argument("command", "empty; expected the program to run and its arguments"));
    }
    let command: Vec<&str> = command
        .iter()
        .enumerate()
        .map(|(index, arg)| {
            arg.to_str().ok_or_else(|| {
                Error::argument(format!("command[{index}]"), format!("`{}` is not valid UTF-8", arg.to_string_lossy()))
            })
        })
        .collect::<Result<_>>()?;
    let policy: Policy = policy.into();
    let profile = seatbelt_profile(&policy, policy_cwd, env, options)?;

    let mut args = vec!["-p".to_owned(), profile.text];
    args.extend(profile.params.iter().map(|(name, value)| format!("-D{name}={value}")));
    args.push("--".to_owned());
    args.extend(command.iter().map(|arg| (*arg).to_owned()));

    let mut env_added = BTreeMap::from([("CODEX_SANDBOX".to_owned(), "seatbelt".to_owned())]);
    // Codex's marker follows the policy, not the profile: a full-network policy narrowed to a
    // proxy still has network, through the proxy.
    if !policy.has_full_network_access() {
        env_added.insert("CODEX_SANDBOX_NETWORK_DISABLED".to_owned(), "1".to_owned());
    }
    Ok(SeatbeltCommand { program: SANDBOX_EXEC.to_owned(), args, env: env_added, warnings: profile.warnings })
}

/// A restricted read scope that asks for `minimal` (legacy: `include_platform_defaults`).
fn wants_platform_defaults(permissions: &Permissions) -> bool {
    let FileSystemPolicy::Restricted { entries, .. } = &permissions.file_system else { return false };
    let has = |kind: &Special| {
        entries.iter().any(|entry| {
            entry.access != Access::Deny && matches!(&entry.path, FileSystemPath::Special { value } if value == kind)
        })
    };
    has(&Special::Minimal) && !has(&Special::Root)
}
