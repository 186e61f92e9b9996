//! Codex's legacy `SandboxPolicy`, parsed strictly.
//!
//! The JSON shape is Codex's (internally tagged by `type`, kebab-case variant names, every
//! field optional with Codex's default), so policies written for Codex work unchanged. Parsing
//! is stricter than Codex in one way on purpose: a field we do not know is an error, because a
//! field we silently ignored could be a restriction we silently failed to apply.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

mod model;
mod parse;
mod unix;

pub use model::{
    Access, ConcreteEntry, FileSystemEntry, FileSystemPath, FileSystemPolicy, MissingPathBehavior, NetworkPolicy,
    Permissions, Policy, PolicyForm, Special, access_for, collapse,
};
pub use parse::{
    ManagedNetwork, agree, parse_file_system_policy, parse_network_policy, parse_permission_profile, policy_from_flags,
};
pub use unix::UnixSockets;

/// What the command may touch. See Codex's `SandboxPolicy`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum SandboxPolicy {
    /// No sandbox at all.
    DangerFullAccess,
    /// Read (everything, or some roots), write nothing.
    ReadOnly { access: ReadAccess, network_access: bool },
    /// The caller is already sandboxed: full disk access, network as stated.
    ExternalSandbox { network_access: NetworkAccess },
    /// Read as `read_only_access` says; write the cwd, temp dirs and `writable_roots`.
    WorkspaceWrite {
        writable_roots: Vec<PathBuf>,
        read_only_access: ReadAccess,
        network_access: bool,
        exclude_tmpdir_env_var: bool,
        exclude_slash_tmp: bool,
    },
}

/// Codex's `ReadOnlyAccess`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ReadAccess {
    #[default]
    FullAccess,
    Restricted {
        include_platform_defaults: bool,
        readable_roots: Vec<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkAccess {
    #[default]
    Restricted,
    Enabled,
}

impl SandboxPolicy {
    /// Parses a `--sandbox-policy` value: either JSON or one of the plain names
    /// `read-only`, `workspace-write`, `danger-full-access`.
    pub fn parse(text: &str) -> Result<SandboxPolicy> {
        let trimmed = text.trim();
        match trimmed {
            "read-only" => return Ok(SandboxPolicy::read_only()),
            "workspace-write" => return Ok(SandboxPolicy::workspace_write()),
            "danger-full-access" => return Ok(SandboxPolicy::DangerFullAccess),
            _ => {}
        }
        if !trimmed.starts_with('{') {
            return Err(Error::policy(
                "sandbox-policy",
                format!(
                    "`{}` is neither a JSON object nor one of the names read-only, workspace-write, danger-full-access",
                    shorten(trimmed)
                ),
            ));
        }
        let value: Value = serde_json::from_str(trimmed)
            .map_err(|e| Error::policy("sandbox-policy", format!("malformed JSON: {e}")))?;
        SandboxPolicy::from_json(&value)
    }

    /// `{"type":"read-only"}` with Codex's defaults.
    pub fn read_only() -> SandboxPolicy {
        SandboxPolicy::ReadOnly { access: ReadAccess::FullAccess, network_access: false }
    }

    /// `{"type":"workspace-write"}` with Codex's defaults.
    pub fn workspace_write() -> SandboxPolicy {
        SandboxPolicy::WorkspaceWrite {
            writable_roots: Vec::new(),
            read_only_access: ReadAccess::FullAccess,
            network_access: false,
            exclude_tmpdir_env_var: false,
            exclude_slash_tmp: false,
        }
    }

    /// Parses an already-decoded JSON value.
    pub fn from_json(value: &Value) -> Result<SandboxPolicy> {
        let object = expect_object(value, "sandbox-policy")?;
        let kind = match object.get("type") {
            Some(Value::String(kind)) => kind.as_str(),
            Some(other) => {
                return Err(Error::policy("type", format!("expected a string, found {}", describe(other))));
            }
            None => {
                return Err(Error::policy(
                    "type",
                    "missing; expected one of read-only, workspace-write, danger-full-access, external-sandbox",
                ));
            }
        };
        let mut fields = Fields::new(object, kind);
        let policy = match kind {
            "danger-full-access" => SandboxPolicy::DangerFullAccess,
            "read-only" => SandboxPolicy::ReadOnly {
                access: fields.read_access("access")?,
                network_access: fields.bool("network_access", false)?,
            },
            "external-sandbox" => {
                SandboxPolicy::ExternalSandbox { network_access: fields.network_access("network_access")? }
            }
            "workspace-write" => SandboxPolicy::WorkspaceWrite {
                writable_roots: fields.paths("writable_roots")?,
                read_only_access: fields.read_access("read_only_access")?,
                network_access: fields.bool("network_access", false)?,
                exclude_tmpdir_env_var: fields.bool("exclude_tmpdir_env_var", false)?,
                exclude_slash_tmp: fields.bool("exclude_slash_tmp", false)?,
            },
            other => {
                return Err(Error::policy(
                    "type",
                    format!(
                        "unknown policy type `{}`; expected one of read-only, workspace-write, danger-full-access, external-sandbox",
                        shorten(other)
                    ),
                ));
            }
        };
        fields.finish()?;
        Ok(policy)
    }

    /// Whether the command may use the network without restriction.
    pub fn has_full_network_access(&self) -> bool {
        match self {
            SandboxPolicy::DangerFullAccess => true,
            SandboxPolicy::ExternalSandbox { network_access } => *network_access == NetworkAccess::Enabled,
            SandboxPolicy::ReadOnly { network_access, .. } | SandboxPolicy::WorkspaceWrite { network_access, .. } => {
                *network_access
            }
        }
    }

    /// Whether the command may write anywhere.
    pub fn has_full_disk_write_access(&self) -> bool {
        matches!(self, SandboxPolicy::DangerFullAccess | SandboxPolicy::ExternalSandbox { .. })
    }

    /// The read scope of the policy.
    pub fn read_access(&self) -> &ReadAccess {
        static FULL: ReadAccess = ReadAccess::FullAccess;
        match self {
            SandboxPolicy::ReadOnly { access, .. } => access,
            SandboxPolicy::WorkspaceWrite { read_only_access, .. } => read_only_access,
            SandboxPolicy::DangerFullAccess | SandboxPolicy::ExternalSandbox { .. } => &FULL,
        }
    }

    /// The policy's own name, as in its `type` field.
    pub fn type_name(&self) -> &'static str {
        match self {
            SandboxPolicy::DangerFullAccess => "danger-full-access",
            SandboxPolicy::ReadOnly { .. } => "read-only",
            SandboxPolicy::ExternalSandbox { .. } => "external-sandbox",
            SandboxPolicy::WorkspaceWrite { .. } => "workspace-write",
        }
    }
}

/// Reads the fields of one JSON object, remembering which were consumed so that leftovers can
/// be reported as unknown.
pub(crate) struct Fields<'a> {
    object: &'a Map<String, Value>,
    context: String,
    seen: Vec<&'static str>,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(object: &'a Map<String, Value>, context: &str) -> Self {
        Fields::with_tag(object, context, "type")
    }

    /// Like [`Fields::new`] for objects whose tag field is `tag`.
    pub(crate) fn with_tag(object: &'a Map<String, Value>, context: &str, tag: &'static str) -> Self {
        Fields { object, context: context.to_owned(), seen: vec![tag] }
    }

    pub(crate) fn take(&mut self, name: &'static str) -> Option<&'a Value> {
        self.seen.push(name);
        self.object.get(name).filter(|v| !v.is_null())
    }

    pub(crate) fn bool(&mut self, name: &'static str, default: bool) -> Result<bool> {
        match self.take(name) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(Error::policy(name, format!("expected true or false, found {}", describe(other)))),
        }
    }

    fn paths(&mut self, name: &'static str) -> Result<Vec<PathBuf>> {
        let Some(value) = self.take(name) else {
            return Ok(Vec::new());
        };
        let Value::Array(items) = value else {
            return Err(Error::policy(name, format!("expected an array of absolute paths, found {}", describe(value))));
        };
        items.iter().enumerate().map(|(i, item)| absolute_path(item, &format!("{name}[{i}]"))).collect()
    }

    fn network_access(&mut self, name: &'static str) -> Result<NetworkAccess> {
        match self.take(name) {
            None => Ok(NetworkAccess::Restricted),
            Some(Value::String(s)) if s == "restricted" => Ok(NetworkAccess::Restricted),
            Some(Value::String(s)) if s == "enabled" => Ok(NetworkAccess::Enabled),
            Some(other) => {
                Err(Error::policy(name, format!("expected \"restricted\" or \"enabled\", found {}", describe(other))))
            }
        }
    }

    fn read_access(&mut self, name: &'static str) -> Result<ReadAccess> {
        let Some(value) = self.take(name) else {
            return Ok(ReadAccess::FullAccess);
        };
        let object = expect_object(value, name)?;
        let kind = match object.get("type") {
            Some(Value::String(kind)) => kind.as_str(),
            Some(other) => {
                return Err(Error::policy(
                    format!("{name}.type"),
                    format!("expected a string, found {}", describe(other)),
                ));
            }
            None => {
                return Err(Error::policy(
                    format!("{name}.type"),
                    "missing; expected \"full-access\" or \"restricted\"",
                ));
            }
        };
        let mut fields = Fields::new(object, &format!("{name} ({kind})"));
        let access = match kind {
            "full-access" => ReadAccess::FullAccess,
            "restricted" => ReadAccess::Restricted {
                include_platform_defaults: fields.bool("include_platform_defaults", true)?,
                readable_roots: fields.paths("readable_roots").map_err(|e| prefix_field(e, name))?,
            },
            other => {
                return Err(Error::policy(
                    format!("{name}.type"),
                    format!("unknown access type `{}`; expected \"full-access\" or \"restricted\"", shorten(other)),
                ));
            }
        };
        fields.finish().map_err(|e| prefix_field(e, name))?;
        Ok(access)
    }

    pub(crate) fn finish(self) -> Result<()> {
        let mut unknown: Vec<&String> = self.object.keys().filter(|k| !self.seen.contains(&k.as_str())).collect();
        unknown.sort();
        match unknown.first() {
            None => Ok(()),
            Some(field) => Err(Error::policy(
                field.as_str(),
                format!(
                    "unknown field in a `{}` policy (known: {}); refusing rather than ignoring a setting that may restrict the sandbox",
                    self.context,
                    self.seen[1..].join(", ")
                ),
            )),
        }
    }
}

pub(crate) fn prefix_field(error: Error, prefix: &str) -> Error {
    match error {
        Error::InvalidPolicy { field, message } if !field.starts_with(prefix) => {
            Error::InvalidPolicy { field: format!("{prefix}.{field}"), message }
        }
        other => other,
    }
}

pub(crate) fn expect_object<'a>(value: &'a Value, field: &str) -> Result<&'a Map<String, Value>> {
    value.as_object().ok_or_else(|| Error::policy(field, format!("expected a JSON object, found {}", describe(value))))
}

fn absolute_path(value: &Value, field: &str) -> Result<PathBuf> {
    let Value::String(text) = value else {
        return Err(Error::policy(field, format!("expected an absolute path string, found {}", describe(value))));
    };
    check_absolute(Path::new(text)).map_err(|message| Error::policy(field, message))
}

/// Checks that a path is absolute and free of NUL bytes; returns it unchanged.
pub(crate) fn check_absolute(path: &Path) -> std::result::Result<PathBuf, String> {
    use std::os::unix::ffi::OsStrExt;
    if path.as_os_str().is_empty() {
        return Err("empty path; expected an absolute path".to_owned());
    }
    if !path.is_absolute() {
        return Err(format!("relative path `{}`; expected an absolute path", path.display()));
    }
    if path.as_os_str().as_bytes().contains(&0) {
        return Err(format!("path `{}` contains a NUL byte", path.display()));
    }
    Ok(path.to_path_buf())
}

/// A short description of a JSON value for error messages.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string \"{}\"", shorten(s)),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

pub(crate) fn shorten(text: &str) -> String {
    const LIMIT: usize = 80;
    if text.chars().count() <= LIMIT {
        text.to_owned()
    } else {
        let head: String = text.chars().take(LIMIT).collect();
        format!("{head}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        SandboxPolicy::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn plain_names() {
        assert_eq!(SandboxPolicy::parse("read-only").unwrap(), SandboxPolicy::read_only());
        assert_eq!(SandboxPolicy::parse("workspace-write").unwrap(), SandboxPolicy::workspace_write());
        assert_eq!(SandboxPolicy::parse("danger-full-access").unwrap(), SandboxPolicy::DangerFullAccess);
    }

    #[test]
    fn old_codex_json_takes_defaults() {
        assert_eq!(SandboxPolicy::parse(r#"{"type":"read-only"}"#).unwrap(), SandboxPolicy::read_only());
        assert_eq!(SandboxPolicy::parse(r#"{"type":"workspace-write"}"#).unwrap(), SandboxPolicy::workspace_write());
        assert_eq!(
            SandboxPolicy::parse(r#"{"type":"external-sandbox"}"#).unwrap(),
            SandboxPolicy::ExternalSandbox { network_access: NetworkAccess::Restricted }
        );
    }

    #[test]
    fn every_field() {
        let policy = SandboxPolicy::parse(
            r#"{"type":"workspace-write","writable_roots":["/a","/b"],"network_access":true,
                "exclude_tmpdir_env_var":true,"exclude_slash_tmp":true,
                "read_only_access":{"type":"restricted","include_platform_defaults":false,"readable_roots":["/opt"]}}"#,
        )
        .unwrap();
        assert_eq!(
            policy,
            SandboxPolicy::WorkspaceWrite {
                writable_roots: vec!["/a".into(), "/b".into()],
                read_only_access: ReadAccess::Restricted {
                    include_platform_defaults: false,
                    readable_roots: vec!["/opt".into()]
                },
                network_access: true,
                exclude_tmpdir_env_var: true,
                exclude_slash_tmp: true,
            }
        );
        let policy =
            SandboxPolicy::parse(r#"{"type":"read-only","access":{"type":"restricted"},"network_access":true}"#)
                .unwrap();
        assert_eq!(
            policy,
            SandboxPolicy::ReadOnly {
                access: ReadAccess::Restricted { include_platform_defaults: true, readable_roots: vec![] },
                network_access: true
            }
        );
        assert!(
            SandboxPolicy::parse(r#"{"type":"external-sandbox","network_access":"enabled"}"#)
                .unwrap()
                .has_full_network_access()
        );
    }

    #[test]
    fn serializes_back_to_codex_shape() {
        let json = serde_json::to_value(
            SandboxPolicy::parse(r#"{"type":"external-sandbox","network_access":"enabled"}"#).unwrap(),
        )
        .unwrap();
        assert_eq!(json, serde_json::json!({"type":"external-sandbox","network_access":"enabled"}));
        let reparsed =
            SandboxPolicy::from_json(&serde_json::to_value(SandboxPolicy::workspace_write()).unwrap()).unwrap();
        assert_eq!(reparsed, SandboxPolicy::workspace_write());
    }

    #[test]
    fn errors_name_the_field_and_value() {
        assert!(err(r#"{"type":"read-write"}"#).contains("`type`: unknown policy type `read-write`"));
        assert!(
            err(r#"{"type":"workspace-write","writable_roots":["rel/dir"]}"#)
                .contains("`writable_roots[0]`: relative path `rel/dir`")
        );
        assert!(
            err(r#"{"type":"workspace-write","writable_roots":["/ok",""]}"#)
                .contains("`writable_roots[1]`: empty path")
        );
        assert!(
            err(r#"{"type":"workspace-write","writable_roots":"/a"}"#).contains("`writable_roots`: expected an array")
        );
        assert!(
            err(r#"{"type":"read-only","network_access":"yes"}"#)
                .contains("`network_access`: expected true or false, found the string \"yes\"")
        );
        assert!(err(r#"{"type":"workspace-write","writeable_roots":[]}"#).contains("`writeable_roots`: unknown field"));
        assert!(
            err(r#"{"type":"read-only","access":{"type":"restricted","readable_roots":["x"]}}"#)
                .contains("`access.readable_roots[0]`: relative path `x`")
        );
        assert!(
            err(r#"{"type":"read-only","access":{"type":"partial"}}"#)
                .contains("`access.type`: unknown access type `partial`")
        );
        assert!(
            err(r#"{"type":"read-only","access":{"type":"restricted","extra":1}}"#)
                .contains("`access.extra`: unknown field")
        );
        assert!(
            err(r#"{"type":"external-sandbox","network_access":true}"#)
                .contains("`network_access`: expected \"restricted\" or \"enabled\"")
        );
        assert!(err(r#"{"type":5}"#).contains("`type`: expected a string, found the number 5"));
        assert!(err(r#"{}"#).contains("`type`: missing"));
        assert!(err(r#"["read-only"]"#).contains("neither a JSON object"));
        assert!(err(r#"{"type":"read-only""#).contains("malformed JSON"));
        assert!(err("writable").contains("`writable` is neither"));
    }

    #[test]
    fn null_fields_take_defaults() {
        assert_eq!(
            SandboxPolicy::parse(r#"{"type":"read-only","access":null,"network_access":null}"#).unwrap(),
            SandboxPolicy::read_only()
        );
    }
}
