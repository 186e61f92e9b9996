//! The one policy model every input form lowers into: Codex's split policies
//! (`FileSystemSandboxPolicy` + `NetworkSandboxPolicy`), which its
//! `PermissionProfile` also reduces to, and which the legacy [`SandboxPolicy`] is
//! converted into here exactly as Codex converts it.
//!
//! Resolution (`crate::resolve`) consumes only [`Permissions`]: the three input forms cannot
//! drift apart in what they enforce.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{ReadAccess, SandboxPolicy};

/// What a command may touch, in the split form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Permissions {
    /// Which input form this came from (for `--explain` and error messages).
    pub form: PolicyForm,
    pub file_system: FileSystemPolicy,
    pub network: NetworkPolicy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyForm {
    /// `--sandbox-policy` (Codex's legacy `SandboxPolicy`).
    Legacy,
    /// `--file-system-sandbox-policy` + `--network-sandbox-policy`.
    Split,
    /// `--permission-profile`.
    PermissionProfile,
}

/// Codex's `FileSystemSandboxPolicy`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum FileSystemPolicy {
    /// Only what the entries grant.
    Restricted {
        entries: Vec<FileSystemEntry>,
        /// How deep deny-read globs are expanded below their static prefix.
        #[serde(skip_serializing_if = "Option::is_none")]
        glob_scan_max_depth: Option<usize>,
    },
    /// No filesystem restriction at all.
    Unrestricted,
    /// The caller isolates the filesystem itself.
    ExternalSandbox,
}

/// One `{ "path": ..., "access": ... }` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileSystemEntry {
    pub path: FileSystemPath,
    pub access: Access,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_path_behavior: Option<MissingPathBehavior>,
}

/// Codex's `FileSystemPath`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FileSystemPath {
    Path {
        path: PathBuf,
    },
    Special {
        value: Special,
    },
    /// An absolute glob; only meaningful (and only accepted) with [`Access::Deny`].
    GlobPattern {
        pattern: String,
    },
}

/// The `special` path kinds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Special {
    /// `/`.
    Root,
    /// The platform defaults a dynamically linked program needs (read only).
    Minimal,
    /// The policy cwd.
    CurrentWorkingDirectory,
    /// The project root (the policy cwd), or a relative `subpath` of it.
    ProjectRoots {
        #[serde(skip_serializing_if = "Option::is_none")]
        subpath: Option<PathBuf>,
    },
    /// `$TMPDIR` of the command's environment, when set.
    Tmpdir,
    /// `/tmp`, when it is a directory.
    SlashTmp,
    /// A kind this version does not know: kept, ignored (Codex's forward compatibility), and
    /// listed in `--explain`. Ignoring it can only leave a grant ungranted, or a deny of a
    /// path we cannot name unapplied, so a deny of an unknown kind is refused instead.
    Unknown { name: String },
}

/// Codex's `FileSystemAccessMode`. At equal depth the conflict order is deny > write > read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    Read,
    Write,
    /// Spelled `none` or `deny`.
    Deny,
}

/// Codex's `missing_path_behavior` (its `FileSystemSandboxEntryMissingPathBehavior`). Codex
/// defines one value, `skip`, and its own deserialiser refuses any other, so that is all we
/// accept too: a value from a newer Codex is refused naming the field rather than guessed at.
/// It marks the protected names Codex adds in each writable root (`.git`, `.agents`, `.codex`,
/// `.aws`). Absent or `skip`, a missing path is not an error here: a missing grant grants
/// nothing, and a missing read-only or denied path inside a writable root is still kept from
/// being created (an empty read-only placeholder stands in, as Codex masks it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MissingPathBehavior {
    /// A missing path is not an error.
    Skip,
}

/// Codex's `NetworkSandboxPolicy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkPolicy {
    #[default]
    Restricted,
    Enabled,
}

/// A policy as the caller gave it: the legacy form, or one already in the split model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Policy {
    Legacy(SandboxPolicy),
    Permissions(Permissions),
}

impl From<SandboxPolicy> for Policy {
    fn from(policy: SandboxPolicy) -> Policy {
        Policy::Legacy(policy)
    }
}

impl From<&SandboxPolicy> for Policy {
    fn from(policy: &SandboxPolicy) -> Policy {
        Policy::Legacy(policy.clone())
    }
}

impl From<&Policy> for Policy {
    fn from(policy: &Policy) -> Policy {
        policy.clone()
    }
}

impl From<Permissions> for Policy {
    fn from(permissions: Permissions) -> Policy {
        Policy::Permissions(permissions)
    }
}

impl Policy {
    /// Parses a `policy` value of the C and Node APIs: a legacy name or JSON (as
    /// [`SandboxPolicy::parse`]), or a `PermissionProfile` JSON (`type` managed, disabled or
    /// external).
    pub fn parse(text: &str) -> crate::error::Result<Policy> {
        super::parse::policy(text)
    }

    /// The split model this policy means.
    pub fn lower(&self) -> Permissions {
        match self {
            Policy::Legacy(policy) => policy.to_permissions(),
            Policy::Permissions(permissions) => permissions.clone(),
        }
    }

    /// Whether the command may use the network without restriction.
    pub fn has_full_network_access(&self) -> bool {
        match self {
            Policy::Legacy(policy) => policy.has_full_network_access(),
            Policy::Permissions(permissions) => permissions.network == NetworkPolicy::Enabled,
        }
    }

    /// A short name for messages: the legacy `type`, or the form and file-system kind.
    pub fn type_name(&self) -> String {
        match self {
            Policy::Legacy(policy) => policy.type_name().to_owned(),
            Policy::Permissions(permissions) => {
                let kind = match permissions.file_system {
                    FileSystemPolicy::Restricted { .. } => "restricted",
                    FileSystemPolicy::Unrestricted => "unrestricted",
                    FileSystemPolicy::ExternalSandbox => "external-sandbox",
                };
                let form = match permissions.form {
                    PolicyForm::Legacy => "legacy",
                    PolicyForm::Split => "split",
                    PolicyForm::PermissionProfile => "permission-profile",
                };
                format!("{form} ({kind})")
            }
        }
    }
}

impl SandboxPolicy {
    /// The split model of this legacy policy, as Codex converts it:
    /// `read-only` → `root:read` (or the cwd, `minimal` and each readable root);
    /// `workspace-write` → those reads + each writable root, the cwd, `/tmp` and `$TMPDIR`
    /// (unless excluded) writable. Order matters only for which source a duplicate root is
    /// reported under: the explicit roots come first, as they always have.
    pub fn to_permissions(&self) -> Permissions {
        let entry =
            |path: FileSystemPath, access: Access| FileSystemEntry { path, access, missing_path_behavior: None };
        let special = |value: Special| FileSystemPath::Special { value };
        let reads = |access: &ReadAccess| -> Vec<FileSystemEntry> {
            match access {
                ReadAccess::FullAccess => vec![entry(special(Special::Root), Access::Read)],
                ReadAccess::Restricted { include_platform_defaults, readable_roots } => {
                    let mut entries: Vec<FileSystemEntry> = readable_roots
                        .iter()
                        .map(|root| entry(FileSystemPath::Path { path: root.clone() }, Access::Read))
                        .collect();
                    entries.push(entry(special(Special::CurrentWorkingDirectory), Access::Read));
                    if *include_platform_defaults {
                        entries.push(entry(special(Special::Minimal), Access::Read));
                    }
                    entries
                }
            }
        };
        let file_system = match self {
            SandboxPolicy::DangerFullAccess => FileSystemPolicy::Unrestricted,
            SandboxPolicy::ExternalSandbox { .. } => FileSystemPolicy::ExternalSandbox,
            SandboxPolicy::ReadOnly { access, .. } => {
                FileSystemPolicy::Restricted { entries: reads(access), glob_scan_max_depth: None }
            }
            SandboxPolicy::WorkspaceWrite {
                writable_roots,
                read_only_access,
                exclude_tmpdir_env_var,
                exclude_slash_tmp,
                ..
            } => {
                let mut entries = reads(read_only_access);
                entries.extend(
                    writable_roots.iter().map(|root| entry(FileSystemPath::Path { path: root.clone() }, Access::Write)),
                );
                entries.push(entry(special(Special::CurrentWorkingDirectory), Access::Write));
                if !exclude_slash_tmp {
                    entries.push(entry(special(Special::SlashTmp), Access::Write));
                }
                if !exclude_tmpdir_env_var {
                    entries.push(entry(special(Special::Tmpdir), Access::Write));
                }
                FileSystemPolicy::Restricted { entries, glob_scan_max_depth: None }
            }
        };
        let network = if self.has_full_network_access() { NetworkPolicy::Enabled } else { NetworkPolicy::Restricted };
        Permissions { form: PolicyForm::Legacy, file_system, network }
    }
}

/// A concrete, lowered entry: the path an entry names on this host (lexically; symlinks are
/// resolved later), its access, and the entry it came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConcreteEntry {
    pub path: PathBuf,
    pub access: Access,
}

/// The access the most specific entry gives `path`: the deepest entry that is `path` or
/// contains it wins; at equal depth deny > write > read. `None`: no entry covers it.
pub fn access_for(entries: &[ConcreteEntry], path: &Path) -> Option<Access> {
    entries
        .iter()
        .filter(|entry| path.starts_with(&entry.path))
        .max_by_key(|entry| (entry.path.components().count(), entry.access))
        .map(|entry| entry.access)
}

/// For each distinct path, the one entry that wins at that depth (deny > write > read), in
/// the order the paths first appear.
pub fn collapse(entries: &[ConcreteEntry]) -> Vec<ConcreteEntry> {
    let mut collapsed: Vec<ConcreteEntry> = Vec::new();
    for entry in entries {
        match collapsed.iter_mut().find(|seen| seen.path == entry.path) {
            Some(seen) => seen.access = seen.access.max(entry.access),
            None => collapsed.push(entry.clone()),
        }
    }
    collapsed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(path: &str, access: Access) -> ConcreteEntry {
        ConcreteEntry { path: path.into(), access }
    }

    #[test]
    fn most_specific_entry_wins() {
        let entries =
            [e("/", Access::Read), e("/w", Access::Write), e("/w/.git", Access::Read), e("/w/s", Access::Deny)];
        assert_eq!(access_for(&entries, Path::new("/etc/passwd")), Some(Access::Read));
        assert_eq!(access_for(&entries, Path::new("/w/a")), Some(Access::Write));
        assert_eq!(access_for(&entries, Path::new("/w/.git/config")), Some(Access::Read));
        assert_eq!(access_for(&entries, Path::new("/w/s/key")), Some(Access::Deny));
        // Component-wise, not textual: /w/sx is not under /w/s.
        assert_eq!(access_for(&entries, Path::new("/w/sx")), Some(Access::Write));
        assert_eq!(access_for(&[e("/w", Access::Write)], Path::new("/etc")), None);
    }

    #[test]
    fn equal_depth_is_deny_then_write_then_read() {
        let entries = [e("/w", Access::Read), e("/w", Access::Write)];
        assert_eq!(access_for(&entries, Path::new("/w/x")), Some(Access::Write));
        let entries = [e("/w", Access::Write), e("/w", Access::Deny), e("/w", Access::Read)];
        assert_eq!(access_for(&entries, Path::new("/w")), Some(Access::Deny));
        assert_eq!(collapse(&entries), vec![e("/w", Access::Deny)]);
        // A deeper read beats a shallower deny.
        let entries = [e("/w", Access::Deny), e("/w/pub", Access::Read)];
        assert_eq!(access_for(&entries, Path::new("/w/pub/x")), Some(Access::Read));
    }

    #[test]
    fn legacy_lowers_as_codex_converts_it() {
        let lowered = SandboxPolicy::workspace_write().to_permissions();
        let FileSystemPolicy::Restricted { entries, .. } = &lowered.file_system else { panic!("restricted") };
        let kinds: Vec<(FileSystemPath, Access)> = entries.iter().map(|e| (e.path.clone(), e.access)).collect();
        let special = |value| FileSystemPath::Special { value };
        assert_eq!(
            kinds,
            vec![
                (special(Special::Root), Access::Read),
                (special(Special::CurrentWorkingDirectory), Access::Write),
                (special(Special::SlashTmp), Access::Write),
                (special(Special::Tmpdir), Access::Write),
            ]
        );
        assert_eq!(lowered.network, NetworkPolicy::Restricted);
        assert_eq!(SandboxPolicy::DangerFullAccess.to_permissions().file_system, FileSystemPolicy::Unrestricted);
        assert_eq!(SandboxPolicy::DangerFullAccess.to_permissions().network, NetworkPolicy::Enabled);
        let restricted = SandboxPolicy::ReadOnly {
            access: ReadAccess::Restricted { include_platform_defaults: true, readable_roots: vec!["/opt".into()] },
            network_access: true,
        }
        .to_permissions();
        let FileSystemPolicy::Restricted { entries, .. } = &restricted.file_system else { panic!("restricted") };
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].path, FileSystemPath::Path { path: "/opt".into() });
        assert_eq!(entries[2].path, special(Special::Minimal));
        assert_eq!(restricted.network, NetworkPolicy::Enabled);
    }
}
