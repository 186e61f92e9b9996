//! Parsing the era-C split policies, the era-D `PermissionProfile` and the managed-network
//! context.
//!
//! Strict where leniency would weaken the sandbox: a relative path, a wrong type, an unknown
//! access mode, field or `missing_path_behavior` is an error naming the field and the value.
//! Lenient where Codex is forward-compatible: an unknown `special` kind is kept and ignored
//! (and listed by `--explain`), unless it is a deny, which we could not apply.

use std::path::{Component, Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

use super::UnixSockets;
use super::model::{
    Access, FileSystemEntry, FileSystemPath, FileSystemPolicy, MissingPathBehavior, NetworkPolicy, Permissions, Policy,
    PolicyForm, Special,
};
use super::{Fields, SandboxPolicy, check_absolute, describe, expect_object, shorten};
use crate::error::{Error, Result};

/// Codex's `--managed-network` context. Its presence means proxy-only networking to
/// `loopback_ports`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ManagedNetwork {
    /// The proxy's ports on the host's loopback.
    pub loopback_ports: Vec<u16>,
    /// Binding and listening on loopback: granted where the command has a network namespace of
    /// its own (the namespace pipeline); not on the landlock pipeline (see the planner).
    pub allow_local_binding: bool,
    /// Unix sockets by path: not granted (no connect broker; see [`UnixSockets`]).
    pub allow_unix_sockets: Vec<PathBuf>,
    /// Every unix socket: [`UnixSockets::All`].
    pub dangerously_allow_all_unix_sockets: bool,
}

impl ManagedNetwork {
    /// Parses the `--managed-network` JSON.
    pub fn parse(text: &str) -> Result<ManagedNetwork> {
        const FIELD: &str = "managed-network";
        let value = json(text, FIELD)?;
        let object = expect_object(&value, FIELD)?;
        let mut fields = Fields::with_tag(object, FIELD, "");
        let mut network = ManagedNetwork::default();
        if let Some(ports) = fields.take("loopbackPorts") {
            let Value::Array(items) = ports else {
                return Err(Error::policy(
                    format!("{FIELD}.loopbackPorts"),
                    format!("expected an array of port numbers, found {}", describe(ports)),
                ));
            };
            for (index, item) in items.iter().enumerate() {
                let port = item.as_u64().filter(|port| (1..=u64::from(u16::MAX)).contains(port)).ok_or_else(|| {
                    Error::policy(
                        format!("{FIELD}.loopbackPorts[{index}]"),
                        format!("expected a port number 1-65535, found {}", describe(item)),
                    )
                })?;
                network.loopback_ports.push(port as u16);
            }
        }
        network.allow_local_binding = fields.bool("allowLocalBinding", false).map_err(|e| under(e, FIELD))?;
        if let Some(sockets) = fields.take("allowUnixSockets") {
            let Value::Array(items) = sockets else {
                return Err(Error::policy(
                    format!("{FIELD}.allowUnixSockets"),
                    format!("expected an array of absolute paths, found {}", describe(sockets)),
                ));
            };
            for (index, item) in items.iter().enumerate() {
                network.allow_unix_sockets.push(absolute(item, &format!("{FIELD}.allowUnixSockets[{index}]"))?);
            }
        }
        network.dangerously_allow_all_unix_sockets =
            fields.bool("dangerouslyAllowAllUnixSockets", false).map_err(|e| under(e, FIELD))?;
        fields.finish().map_err(|e| under(e, FIELD))?;
        Ok(network)
    }

    /// The unix-socket capability its fields ask for: `dangerouslyAllowAllUnixSockets` wins
    /// (every socket, the listed ones included), else the listed paths, else none.
    pub fn unix_sockets(&self) -> UnixSockets {
        if self.dangerously_allow_all_unix_sockets {
            UnixSockets::All
        } else if self.allow_unix_sockets.is_empty() {
            UnixSockets::None
        } else {
            UnixSockets::Paths(self.allow_unix_sockets.clone())
        }
    }
}

/// Parses `--file-system-sandbox-policy` (Codex's `FileSystemSandboxPolicy` JSON).
pub fn parse_file_system_policy(text: &str) -> Result<FileSystemPolicy> {
    const FIELD: &str = "file-system-sandbox-policy";
    let value = json(text, FIELD)?;
    let object = expect_object(&value, FIELD)?;
    let kind = match object.get("kind") {
        None | Some(Value::Null) => "restricted",
        Some(Value::String(kind)) => kind.as_str(),
        Some(other) => {
            return Err(Error::policy(
                format!("{FIELD}.kind"),
                format!("expected a string, found {}", describe(other)),
            ));
        }
    };
    let mut fields = Fields::with_tag(object, &format!("{FIELD} ({kind})"), "kind");
    let policy = match kind {
        "restricted" => restricted(&mut fields, FIELD)?,
        "unrestricted" => FileSystemPolicy::Unrestricted,
        "external-sandbox" => FileSystemPolicy::ExternalSandbox,
        other => {
            return Err(Error::policy(
                format!("{FIELD}.kind"),
                format!("unknown kind `{}`; expected restricted, unrestricted or external-sandbox", shorten(other)),
            ));
        }
    };
    fields.finish().map_err(|e| under(e, FIELD))?;
    Ok(policy)
}

/// Parses `--network-sandbox-policy`: `"restricted"` or `"enabled"`, as JSON or bare.
pub fn parse_network_policy(text: &str) -> Result<NetworkPolicy> {
    let trimmed = text.trim();
    let value =
        if trimmed.starts_with('"') { json(trimmed, "network-sandbox-policy")? } else { Value::String(trimmed.into()) };
    network(&value, "network-sandbox-policy")
}

/// Parses `--permission-profile` (Codex's `PermissionProfile` JSON).
pub fn parse_permission_profile(text: &str) -> Result<Permissions> {
    const FIELD: &str = "permission-profile";
    let value = json(text, FIELD)?;
    permission_profile(&value, FIELD)
}

pub(super) fn permission_profile(value: &Value, field: &str) -> Result<Permissions> {
    let object = expect_object(value, field)?;
    let kind = tag(object, "type", field, "managed, disabled or external")?;
    let mut fields = Fields::new(object, &format!("{field} ({kind})"));
    let (file_system, network_policy) = match kind {
        "managed" => {
            let file_system = match fields.take("file_system") {
                None => {
                    return Err(Error::policy(format!("{field}.file_system"), "missing; a managed profile needs one"));
                }
                Some(value) => profile_file_system(value, &format!("{field}.file_system"))?,
            };
            let network_policy = match fields.take("network") {
                None => NetworkPolicy::Restricted,
                Some(value) => network(value, &format!("{field}.network"))?,
            };
            (file_system, network_policy)
        }
        "disabled" => (FileSystemPolicy::Unrestricted, NetworkPolicy::Enabled),
        "external" => {
            let network_policy = match fields.take("network") {
                None => NetworkPolicy::Restricted,
                Some(value) => network(value, &format!("{field}.network"))?,
            };
            (FileSystemPolicy::ExternalSandbox, network_policy)
        }
        other => {
            return Err(Error::policy(
                format!("{field}.type"),
                format!("unknown profile type `{}`; expected managed, disabled or external", shorten(other)),
            ));
        }
    };
    fields.finish().map_err(|e| under(e, field))?;
    Ok(Permissions { form: PolicyForm::PermissionProfile, file_system, network: network_policy })
}

fn profile_file_system(value: &Value, field: &str) -> Result<FileSystemPolicy> {
    let object = expect_object(value, field)?;
    let kind = tag(object, "type", field, "restricted or unrestricted")?;
    let mut fields = Fields::new(object, &format!("{field} ({kind})"));
    let policy = match kind {
        "restricted" => restricted(&mut fields, field)?,
        "unrestricted" => FileSystemPolicy::Unrestricted,
        other => {
            return Err(Error::policy(
                format!("{field}.type"),
                format!("unknown file_system type `{}`; expected restricted or unrestricted", shorten(other)),
            ));
        }
    };
    fields.finish().map_err(|e| under(e, field))?;
    Ok(policy)
}

/// The `entries` and `glob_scan_max_depth` of a restricted file-system policy.
fn restricted(fields: &mut Fields<'_>, field: &str) -> Result<FileSystemPolicy> {
    let entries = match fields.take("entries") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(index, item)| entry(item, &format!("{field}.entries[{index}]")))
            .collect::<Result<_>>()?,
        Some(other) => {
            return Err(Error::policy(
                format!("{field}.entries"),
                format!("expected an array of entries, found {}", describe(other)),
            ));
        }
    };
    let glob_scan_max_depth = match fields.take("glob_scan_max_depth") {
        None => None,
        Some(value) => Some(value.as_u64().filter(|depth| *depth >= 1 && *depth <= 4096).ok_or_else(|| {
            Error::policy(
                format!("{field}.glob_scan_max_depth"),
                format!("expected a depth from 1 to 4096, found {}", describe(value)),
            )
        })? as usize),
    };
    Ok(FileSystemPolicy::Restricted { entries, glob_scan_max_depth })
}

fn entry(value: &Value, field: &str) -> Result<FileSystemEntry> {
    let object = expect_object(value, field)?;
    let mut fields = Fields::with_tag(object, &format!("{field} entry"), "");
    let path = match fields.take("path") {
        None => return Err(Error::policy(format!("{field}.path"), "missing")),
        Some(value) => file_system_path(value, &format!("{field}.path"))?,
    };
    let access = match fields.take("access") {
        None => return Err(Error::policy(format!("{field}.access"), "missing; expected read, write, none or deny")),
        Some(Value::String(mode)) => match mode.as_str() {
            "read" => Access::Read,
            "write" => Access::Write,
            "none" | "deny" => Access::Deny,
            other => {
                return Err(Error::policy(
                    format!("{field}.access"),
                    format!("unknown access mode `{}`; expected read, write, none or deny", shorten(other)),
                ));
            }
        },
        Some(other) => {
            return Err(Error::policy(
                format!("{field}.access"),
                format!("expected one of \"read\", \"write\", \"none\", \"deny\", found {}", describe(other)),
            ));
        }
    };
    let missing_path_behavior = match fields.take("missing_path_behavior") {
        None => None,
        Some(Value::String(behavior)) if behavior == "skip" => Some(MissingPathBehavior::Skip),
        Some(other) => {
            return Err(Error::policy(
                format!("{field}.missing_path_behavior"),
                format!("expected \"skip\" (the only value Codex defines), found {}", describe(other)),
            ));
        }
    };
    fields.finish().map_err(|e| under(e, field))?;
    match &path {
        FileSystemPath::GlobPattern { pattern } if access != Access::Deny => {
            return Err(Error::policy(
                format!("{field}.access"),
                format!(
                    "`{}` with glob_pattern `{}`: globs can only deny (access none or deny)",
                    access_name(access),
                    shorten(pattern)
                ),
            ));
        }
        FileSystemPath::Special { value: Special::Unknown { name } } if access == Access::Deny => {
            return Err(Error::policy(
                format!("{field}.path.value.kind"),
                format!(
                    "unknown special kind `{}` in a deny entry: refusing rather than leaving it readable",
                    shorten(name)
                ),
            ));
        }
        _ => {}
    }
    Ok(FileSystemEntry { path, access, missing_path_behavior })
}

fn access_name(access: Access) -> &'static str {
    match access {
        Access::Read => "read",
        Access::Write => "write",
        Access::Deny => "deny",
    }
}

fn file_system_path(value: &Value, field: &str) -> Result<FileSystemPath> {
    let object = expect_object(value, field)?;
    let kind = tag(object, "type", field, "path, special or glob_pattern")?;
    let mut fields = Fields::new(object, &format!("{field} ({kind})"));
    let path = match kind {
        "path" => match fields.take("path") {
            None => return Err(Error::policy(format!("{field}.path"), "missing")),
            Some(value) => FileSystemPath::Path { path: absolute(value, &format!("{field}.path"))? },
        },
        "glob_pattern" => match fields.take("pattern") {
            None => return Err(Error::policy(format!("{field}.pattern"), "missing")),
            Some(value) => FileSystemPath::GlobPattern {
                pattern: absolute(value, &format!("{field}.pattern"))?.display().to_string(),
            },
        },
        "special" => match fields.take("value") {
            None => return Err(Error::policy(format!("{field}.value"), "missing")),
            Some(value) => FileSystemPath::Special { value: special(value, &format!("{field}.value"))? },
        },
        other => {
            return Err(Error::policy(
                format!("{field}.type"),
                format!("unknown path type `{}`; expected path, special or glob_pattern", shorten(other)),
            ));
        }
    };
    fields.finish().map_err(|e| under(e, field))?;
    Ok(path)
}

fn special(value: &Value, field: &str) -> Result<Special> {
    let object = expect_object(value, field)?;
    let kind = tag(object, "kind", field, "a special path kind")?;
    let mut fields = Fields::with_tag(object, &format!("{field} ({kind})"), "kind");
    let special = match kind {
        "root" => Special::Root,
        "minimal" => Special::Minimal,
        "current_working_directory" => Special::CurrentWorkingDirectory,
        "tmpdir" => Special::Tmpdir,
        "slash_tmp" => Special::SlashTmp,
        "project_roots" => Special::ProjectRoots {
            subpath: match fields.take("subpath") {
                None => None,
                Some(value) => Some(relative(value, &format!("{field}.subpath"))?),
            },
        },
        // Forward compatibility: a kind from a newer Codex, with whatever fields it has.
        other => return Ok(Special::Unknown { name: other.to_owned() }),
    };
    fields.finish().map_err(|e| under(e, field))?;
    Ok(special)
}

/// Checks the legacy policy given next to split policies means the same:
/// otherwise one of them would be enforced and the other silently not. A path entry naming the
/// policy cwd, `/tmp` or `/` means the same as the special kind for it.
pub fn agree(legacy: &SandboxPolicy, split: &Permissions, policy_cwd: &Path) -> Result<()> {
    let derived = legacy.to_permissions();
    let legacy_network = derived.network;
    if legacy_network != split.network {
        return Err(Error::policy(
            "sandbox-policy",
            format!(
                "disagrees with `network-sandbox-policy`: the legacy policy `{}` means network {}, the split policy says {}",
                legacy.type_name(),
                network_name(legacy_network),
                network_name(split.network)
            ),
        ));
    }
    let cwd = std::fs::canonicalize(policy_cwd).unwrap_or_else(|_| policy_cwd.to_path_buf());
    if signature(&derived.file_system, &cwd) != signature(&split.file_system, &cwd) {
        return Err(Error::policy(
            "sandbox-policy",
            format!(
                "disagrees with `file-system-sandbox-policy`: the legacy policy `{}` means {}, the split policy means {}",
                legacy.type_name(),
                describe_signature(&signature(&derived.file_system, &cwd)),
                describe_signature(&signature(&split.file_system, &cwd))
            ),
        ));
    }
    Ok(())
}

fn network_name(network: NetworkPolicy) -> &'static str {
    match network {
        NetworkPolicy::Restricted => "restricted",
        NetworkPolicy::Enabled => "enabled",
    }
}

/// What a file-system policy means, independent of entry order and of the protected-name
/// entries (`.git`, `.agents`, `.codex`, `.aws` read with `missing_path_behavior: skip`) that
/// Codex adds and that every writable root gets anyway.
fn signature(policy: &FileSystemPolicy, cwd: &Path) -> Vec<String> {
    let entries = match policy {
        FileSystemPolicy::Unrestricted => return vec!["unrestricted".into()],
        FileSystemPolicy::ExternalSandbox => return vec!["external-sandbox".into()],
        FileSystemPolicy::Restricted { entries, .. } => entries,
    };
    let mut signature: Vec<String> = entries
        .iter()
        .filter(|entry| {
            let protected_name = matches!(&entry.path, FileSystemPath::Path { path }
                if path.file_name().is_some_and(|name| crate::resolve::PROTECTED_NAMES.iter().any(|p| name == *p)));
            !(protected_name && entry.access == Access::Read)
        })
        .map(|entry| {
            let path = match &entry.path {
                FileSystemPath::Path { path } if path == Path::new("/") => "root".into(),
                FileSystemPath::Path { path } if path == Path::new("/tmp") => "slash_tmp".into(),
                FileSystemPath::Path { path } if std::fs::canonicalize(path).is_ok_and(|p| p == cwd) || path == cwd => {
                    "current_working_directory".into()
                }
                FileSystemPath::Path { path } => path.display().to_string(),
                FileSystemPath::GlobPattern { pattern } => format!("glob {pattern}"),
                FileSystemPath::Special { value: Special::ProjectRoots { subpath: None } } => {
                    "current_working_directory".into()
                }
                FileSystemPath::Special { value } => serde_json::to_value(value)
                    .ok()
                    .and_then(|v| v.get("kind").and_then(Value::as_str).map(str::to_owned))
                    .unwrap_or_default(),
            };
            format!("{path}:{}", access_name(entry.access))
        })
        .collect();
    signature.sort();
    signature.dedup();
    signature
}

fn describe_signature(signature: &[String]) -> String {
    format!("[{}]", signature.join(", "))
}

/// The policy a helper invocation asks for, from Codex's three spellings:
/// `--sandbox-policy` alone, the split pair (with or without a legacy policy that must agree
/// with it), or `--permission-profile` alone. Nothing given means `read-only`.
pub fn policy_from_flags(
    policy_cwd: &Path,
    legacy: Option<&str>,
    file_system: Option<&str>,
    network_policy: Option<&str>,
    profile: Option<&str>,
) -> Result<Policy> {
    if let Some(profile) = profile {
        let other = [
            ("sandbox-policy", legacy),
            ("file-system-sandbox-policy", file_system),
            ("network-sandbox-policy", network_policy),
        ]
        .into_iter()
        .find(|(_, value)| value.is_some());
        if let Some((name, _)) = other {
            return Err(Error::policy(
                "permission-profile",
                format!(
                    "given together with `--{name}`; a permission profile is the whole policy, give one or the other"
                ),
            ));
        }
        return Ok(Policy::Permissions(parse_permission_profile(profile)?));
    }
    let split = match (file_system, network_policy) {
        (None, None) => None,
        (Some(file_system), Some(network_policy)) => Some(Permissions {
            form: PolicyForm::Split,
            file_system: parse_file_system_policy(file_system)?,
            network: parse_network_policy(network_policy)?,
        }),
        (Some(_), None) | (None, Some(_)) => {
            let (given, missing) = if file_system.is_some() {
                ("file-system-sandbox-policy", "network-sandbox-policy")
            } else {
                ("network-sandbox-policy", "file-system-sandbox-policy")
            };
            return Err(Error::policy(
                given,
                format!(
                    "given without `--{missing}`; the file-system and network sandbox policies must be provided together"
                ),
            ));
        }
    };
    let legacy = legacy.map(SandboxPolicy::parse).transpose()?;
    match (legacy, split) {
        (Some(legacy), Some(split)) => {
            agree(&legacy, &split, policy_cwd)?;
            Ok(Policy::Permissions(split))
        }
        (Some(legacy), None) => Ok(Policy::Legacy(legacy)),
        (None, Some(split)) => Ok(Policy::Permissions(split)),
        (None, None) => Ok(Policy::Legacy(SandboxPolicy::read_only())),
    }
}

/// `Policy::parse`: the legacy names and JSON, or a permission profile JSON.
pub(super) fn policy(text: &str) -> Result<Policy> {
    let trimmed = text.trim();
    if trimmed.starts_with('{')
        && let Ok(value) = serde_json::from_str::<Value>(trimmed)
        && matches!(value.get("type").and_then(Value::as_str), Some("managed" | "disabled" | "external"))
    {
        return Ok(Policy::Permissions(permission_profile(&value, "policy")?));
    }
    Ok(Policy::Legacy(SandboxPolicy::parse(trimmed)?))
}

fn json(text: &str, field: &str) -> Result<Value> {
    serde_json::from_str(text.trim()).map_err(|e| Error::policy(field, format!("malformed JSON: {e}")))
}

fn tag<'a>(object: &'a Map<String, Value>, name: &str, field: &str, expected: &str) -> Result<&'a str> {
    match object.get(name) {
        Some(Value::String(kind)) => Ok(kind.as_str()),
        Some(other) => {
            Err(Error::policy(format!("{field}.{name}"), format!("expected a string, found {}", describe(other))))
        }
        None => Err(Error::policy(format!("{field}.{name}"), format!("missing; expected {expected}"))),
    }
}

fn network(value: &Value, field: &str) -> Result<NetworkPolicy> {
    match value {
        Value::String(s) if s == "restricted" => Ok(NetworkPolicy::Restricted),
        Value::String(s) if s == "enabled" => Ok(NetworkPolicy::Enabled),
        other => {
            Err(Error::policy(field, format!("expected \"restricted\" or \"enabled\", found {}", describe(other))))
        }
    }
}

/// An absolute path (a `file://` URI is taken as its path, as Codex normalises it).
fn absolute(value: &Value, field: &str) -> Result<PathBuf> {
    let Value::String(text) = value else {
        return Err(Error::policy(field, format!("expected an absolute path string, found {}", describe(value))));
    };
    let text = text.strip_prefix("file://").unwrap_or(text);
    check_absolute(Path::new(text)).map_err(|message| Error::policy(field, message))
}

/// A relative path that stays below its base: no root, no `..`.
fn relative(value: &Value, field: &str) -> Result<PathBuf> {
    let Value::String(text) = value else {
        return Err(Error::policy(field, format!("expected a relative path string, found {}", describe(value))));
    };
    let path = Path::new(text);
    if text.is_empty() || text.contains('\0') {
        return Err(Error::policy(field, format!("`{}`: expected a non-empty relative path", shorten(text))));
    }
    if path.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir)) {
        return Err(Error::policy(
            field,
            format!(
                "`{}`: expected a relative path that stays inside the project root (no `/` or `..`)",
                shorten(text)
            ),
        ));
    }
    Ok(path.to_path_buf())
}

fn under(error: Error, prefix: &str) -> Error {
    super::prefix_field(error, prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile_err(text: &str) -> String {
        parse_permission_profile(text).unwrap_err().to_string()
    }

    const WORKSPACE_WRITE: &str = r#"{"type":"managed","file_system":{"type":"restricted","entries":[
        {"path":{"type":"special","value":{"kind":"root"}},"access":"read"},
        {"path":{"type":"path","path":"/w"},"access":"write"},
        {"path":{"type":"special","value":{"kind":"slash_tmp"}},"access":"write"},
        {"path":{"type":"special","value":{"kind":"tmpdir"}},"access":"write"},
        {"path":{"type":"path","path":"/w/.git"},"access":"read","missing_path_behavior":"skip"},
        {"path":{"type":"glob_pattern","pattern":"/w/**/*.pem"},"access":"deny"},
        {"path":{"type":"special","value":{"kind":"project_roots","subpath":"docs"}},"access":"read"},
        {"path":{"type":"special","value":{"kind":"from_the_future","path":"/x"}},"access":"read"}
    ],"glob_scan_max_depth":8},"network":"enabled"}"#;

    #[test]
    fn captured_profile_parses() {
        let permissions = parse_permission_profile(WORKSPACE_WRITE).unwrap();
        assert_eq!(permissions.network, NetworkPolicy::Enabled);
        let FileSystemPolicy::Restricted { entries, glob_scan_max_depth } = permissions.file_system else {
            panic!("restricted")
        };
        assert_eq!(glob_scan_max_depth, Some(8));
        assert_eq!(entries.len(), 8);
        assert_eq!(entries[1].path, FileSystemPath::Path { path: "/w".into() });
        assert_eq!(entries[4].missing_path_behavior, Some(MissingPathBehavior::Skip));
        assert_eq!(entries[5].access, Access::Deny);
        assert_eq!(
            entries[6].path,
            FileSystemPath::Special { value: Special::ProjectRoots { subpath: Some("docs".into()) } }
        );
        assert_eq!(
            entries[7].path,
            FileSystemPath::Special { value: Special::Unknown { name: "from_the_future".into() } }
        );
        let disabled = parse_permission_profile(r#"{"type":"disabled"}"#).unwrap();
        assert_eq!((disabled.file_system, disabled.network), (FileSystemPolicy::Unrestricted, NetworkPolicy::Enabled));
        let external = parse_permission_profile(r#"{"type":"external","network":"restricted"}"#).unwrap();
        assert_eq!(external.file_system, FileSystemPolicy::ExternalSandbox);
        let file_uri = parse_permission_profile(
            r#"{"type":"managed","file_system":{"type":"restricted","entries":[{"path":{"type":"path","path":"file:///data"},"access":"none"}]}}"#,
        )
        .unwrap();
        let FileSystemPolicy::Restricted { entries, .. } = file_uri.file_system else { panic!() };
        assert_eq!(
            (entries[0].path.clone(), entries[0].access),
            (FileSystemPath::Path { path: "/data".into() }, Access::Deny)
        );
    }

    #[test]
    fn profile_errors_name_field_and_value() {
        let entry = |e: &str| format!(r#"{{"type":"managed","file_system":{{"type":"restricted","entries":[{e}]}}}}"#);
        let cases = [
            (
                entry(r#"{"path":{"type":"path","path":"rel/x"},"access":"read"}"#),
                "`permission-profile.file_system.entries[0].path.path`: relative path `rel/x`",
            ),
            (
                entry(r#"{"path":{"type":"path","path":"/x"},"access":"execute"}"#),
                "`permission-profile.file_system.entries[0].access`: unknown access mode `execute`",
            ),
            (
                entry(r#"{"path":{"type":"path","path":"/x"},"access":7}"#),
                "`permission-profile.file_system.entries[0].access`: expected one of \"read\", \"write\", \"none\", \"deny\", found the number 7",
            ),
            (
                entry(r#"{"path":{"type":"path","path":5},"access":"read"}"#),
                "`permission-profile.file_system.entries[0].path.path`: expected an absolute path string, found the number 5",
            ),
            (
                entry(r#"{"path":{"type":"file","path":"/x"},"access":"read"}"#),
                "`permission-profile.file_system.entries[0].path.type`: unknown path type `file`",
            ),
            (
                entry(r#"{"path":{"type":"glob_pattern","pattern":"**/*.env"},"access":"deny"}"#),
                "`permission-profile.file_system.entries[0].path.pattern`: relative path `**/*.env`",
            ),
            (
                entry(r#"{"path":{"type":"glob_pattern","pattern":"/w/*.env"},"access":"read"}"#),
                "`permission-profile.file_system.entries[0].access`: `read` with glob_pattern `/w/*.env`",
            ),
            (
                entry(
                    r#"{"path":{"type":"special","value":{"kind":"project_roots","subpath":"../up"}},"access":"write"}"#,
                ),
                "`permission-profile.file_system.entries[0].path.value.subpath`: `../up`",
            ),
            (
                entry(
                    r#"{"path":{"type":"special","value":{"kind":"project_roots","subpath":"/abs"}},"access":"write"}"#,
                ),
                "`permission-profile.file_system.entries[0].path.value.subpath`: `/abs`",
            ),
            (
                entry(r#"{"path":{"type":"special","value":{"kind":"vault"}},"access":"deny"}"#),
                "`permission-profile.file_system.entries[0].path.value.kind`: unknown special kind `vault`",
            ),
            (
                entry(r#"{"path":{"type":"path","path":"/x"},"access":"read","missing_path_behavior":"create"}"#),
                "`permission-profile.file_system.entries[0].missing_path_behavior`: expected \"skip\" (the only value Codex defines), found the string \"create\"",
            ),
            (
                entry(r#"{"path":{"type":"path","path":"/x"},"access":"read","mode":1}"#),
                "`permission-profile.file_system.entries[0].mode`: unknown field",
            ),
            (
                entry(r#"{"path":{"type":"special","value":{"kind":"root","extra":1}},"access":"read"}"#),
                "`permission-profile.file_system.entries[0].path.value.extra`: unknown field",
            ),
            (
                r#"{"type":"managed","file_system":{"type":"partial"}}"#.into(),
                "`permission-profile.file_system.type`: unknown file_system type `partial`",
            ),
            (
                r#"{"type":"managed","file_system":{"type":"restricted","entries":{}}}"#.into(),
                "`permission-profile.file_system.entries`: expected an array of entries, found an object",
            ),
            (
                r#"{"type":"managed","file_system":{"type":"restricted","glob_scan_max_depth":0}}"#.into(),
                "`permission-profile.file_system.glob_scan_max_depth`: expected a depth from 1 to 4096, found the number 0",
            ),
            (
                r#"{"type":"managed","file_system":{"type":"restricted"},"network":"open"}"#.into(),
                "`permission-profile.network`: expected \"restricted\" or \"enabled\", found the string \"open\"",
            ),
            (r#"{"type":"managed"}"#.into(), "`permission-profile.file_system`: missing"),
            (r#"{"type":"sandboxed"}"#.into(), "`permission-profile.type`: unknown profile type `sandboxed`"),
            (r#"{"type":"disabled","network":"enabled"}"#.into(), "`permission-profile.network`: unknown field"),
            ("[1]".into(), "`permission-profile`: expected a JSON object"),
            ("{".into(), "`permission-profile`: malformed JSON"),
        ];
        for (text, expected) in cases {
            let error = profile_err(&text);
            assert!(error.contains(expected), "{text}\n  gave: {error}\n  expected: {expected}");
        }
    }

    #[test]
    fn split_policies_parse_and_agree() {
        let split = parse_file_system_policy(
            r#"{"kind":"restricted","entries":[
                {"path":{"type":"special","value":{"kind":"root"}},"access":"read"},
                {"path":{"type":"special","value":{"kind":"current_working_directory"}},"access":"write"},
                {"path":{"type":"special","value":{"kind":"slash_tmp"}},"access":"write"},
                {"path":{"type":"special","value":{"kind":"tmpdir"}},"access":"write"}]}"#,
        )
        .unwrap();
        let network = parse_network_policy("\"restricted\"").unwrap();
        assert_eq!(parse_network_policy("enabled").unwrap(), NetworkPolicy::Enabled);
        let permissions = Permissions { form: PolicyForm::Split, file_system: split, network };
        agree(&SandboxPolicy::workspace_write(), &permissions, Path::new("/")).unwrap();
        let error = agree(&SandboxPolicy::read_only(), &permissions, Path::new("/")).unwrap_err().to_string();
        assert!(error.contains("`sandbox-policy`: disagrees with `file-system-sandbox-policy`"), "{error}");
        let open = Permissions { network: NetworkPolicy::Enabled, ..permissions };
        let error = agree(&SandboxPolicy::workspace_write(), &open, Path::new("/")).unwrap_err().to_string();
        assert!(error.contains("disagrees with `network-sandbox-policy`"), "{error}");
        assert_eq!(parse_file_system_policy(r#"{"kind":"unrestricted"}"#).unwrap(), FileSystemPolicy::Unrestricted);
        agree(
            &SandboxPolicy::DangerFullAccess,
            &Permissions {
                form: PolicyForm::Split,
                file_system: FileSystemPolicy::Unrestricted,
                network: NetworkPolicy::Enabled,
            },
            Path::new("/"),
        )
        .unwrap();
        // The cwd spelled as a path means the cwd.
        let cwd = std::env::current_dir().unwrap().canonicalize().unwrap();
        let spelled = parse_file_system_policy(&format!(
            r#"{{"entries":[
                {{"path":{{"type":"path","path":"/"}},"access":"read"}},
                {{"path":{{"type":"path","path":"{}"}},"access":"write"}}]}}"#,
            cwd.display()
        ))
        .unwrap();
        let legacy = SandboxPolicy::parse(
            r#"{"type":"workspace-write","exclude_slash_tmp":true,"exclude_tmpdir_env_var":true}"#,
        )
        .unwrap();
        agree(
            &legacy,
            &Permissions { form: PolicyForm::Split, file_system: spelled, network: NetworkPolicy::Restricted },
            &cwd,
        )
        .unwrap();
        let error = parse_file_system_policy(r#"{"kind":"everything"}"#).unwrap_err().to_string();
        assert!(error.contains("`file-system-sandbox-policy.kind`: unknown kind `everything`"), "{error}");
        let error = parse_network_policy("\"open\"").unwrap_err().to_string();
        assert!(
            error.contains(
                "`network-sandbox-policy`: expected \"restricted\" or \"enabled\", found the string \"open\""
            ),
            "{error}"
        );
    }

    #[test]
    fn managed_network_parses_strictly() {
        let network = ManagedNetwork::parse(
            r#"{"loopbackPorts":[35615,38387],"allowLocalBinding":false,"allowUnixSockets":[],"dangerouslyAllowAllUnixSockets":false}"#,
        )
        .unwrap();
        assert_eq!(network.loopback_ports, vec![35615, 38387]);
        assert_eq!(network.unix_sockets(), UnixSockets::None);
        let granted =
            ManagedNetwork::parse(r#"{"loopbackPorts":[1],"allowUnixSockets":["/run/docker.sock"]}"#).unwrap();
        assert_eq!(granted.unix_sockets(), UnixSockets::Paths(vec!["/run/docker.sock".into()]));
        let all = ManagedNetwork::parse(
            r#"{"loopbackPorts":[1],"allowUnixSockets":["/run/docker.sock"],"dangerouslyAllowAllUnixSockets":true}"#,
        )
        .unwrap();
        assert_eq!(all.unix_sockets(), UnixSockets::All);
        for (text, expected) in [
            (
                r#"{"loopbackPorts":[0]}"#,
                "`managed-network.loopbackPorts[0]`: expected a port number 1-65535, found the number 0",
            ),
            (
                r#"{"loopbackPorts":[70000]}"#,
                "`managed-network.loopbackPorts[0]`: expected a port number 1-65535, found the number 70000",
            ),
            (r#"{"loopbackPorts":"80"}"#, "`managed-network.loopbackPorts`: expected an array"),
            (
                r#"{"allowLocalBinding":"no"}"#,
                "`managed-network.allowLocalBinding`: expected true or false, found the string \"no\"",
            ),
            (r#"{"allowUnixSockets":["sock"]}"#, "`managed-network.allowUnixSockets[0]`: relative path `sock`"),
            (r#"{"loopbackPort":[1]}"#, "`managed-network.loopbackPort`: unknown field"),
        ] {
            let error = ManagedNetwork::parse(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}\n  gave: {error}");
        }
    }

    #[test]
    fn policy_parse_accepts_both_forms() {
        assert_eq!(Policy::parse("read-only").unwrap(), Policy::Legacy(SandboxPolicy::read_only()));
        let Policy::Permissions(permissions) = Policy::parse(WORKSPACE_WRITE).unwrap() else { panic!("profile") };
        assert_eq!(permissions.form, PolicyForm::PermissionProfile);
        let error = Policy::parse(r#"{"type":"managed"}"#).unwrap_err().to_string();
        assert!(error.contains("`policy.file_system`: missing"), "{error}");
    }
}
