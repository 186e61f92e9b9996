//! From a policy to concrete paths: which roots are writable, which paths inside them stay
//! read-only, and what may be read.
//!
//! This is the one place that decides these sets; every pipeline (and the Seatbelt generator)
//! consumes its result. It only reads the filesystem (`stat`, `readlink`, reading `.git`
//! pointer files) and never changes it.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::policy::{Access, FileSystemPath, FileSystemPolicy, Permissions, Special};

pub mod globs;

/// The names protected in every writable root by default: the command must not rewrite git
/// hooks or config (code execution on the next `git` run outside the sandbox), nor Codex's or
/// other agents' configuration, nor AWS credentials and config (`credential_process` runs
/// code). A launcher adds names and opts out of these through [`ProtectedNames::new`].
pub const PROTECTED_NAMES: [&str; 4] = [".git", ".agents", ".codex", ".aws"];

/// The protected names of a run: final path components kept read-only (present) or kept from
/// being created (missing) directly under every writable root, and removed after the run
/// wherever else in a writable root the command created them (see `exec::sweep`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ProtectedNames(Vec<String>);

impl Default for ProtectedNames {
    fn default() -> ProtectedNames {
        ProtectedNames(PROTECTED_NAMES.iter().map(|name| (*name).to_owned()).collect())
    }
}

impl ProtectedNames {
    /// The defaults, plus `add`, minus `remove` (each only a default). `add_field` and
    /// `remove_field` name the options as the front end spells them (`protect`, `unprotect`);
    /// an error names the entry (`protect[1]`) and its value.
    pub fn new(add: &[OsString], remove: &[OsString], add_field: &str, remove_field: &str) -> Result<ProtectedNames> {
        let mut names = ProtectedNames::default().0;
        let checked = |list: &[OsString], field: &str| -> Result<Vec<String>> {
            list.iter().enumerate().map(|(index, name)| check_name(name, &format!("{field}[{index}]"))).collect()
        };
        let added = checked(add, add_field)?;
        let removed = checked(remove, remove_field)?;
        for (index, name) in removed.iter().enumerate() {
            if !PROTECTED_NAMES.contains(&name.as_str()) {
                return Err(Error::argument(
                    format!("{remove_field}[{index}]"),
                    format!(
                        "`{name}` is not a default protected name; the defaults are {}",
                        PROTECTED_NAMES.join(", ")
                    ),
                ));
            }
            if let Some(again) = added.iter().position(|other| other == name) {
                return Err(Error::argument(
                    format!("{remove_field}[{index}]"),
                    format!("`{name}` is also named by {add_field}[{again}]; protect or unprotect it, not both"),
                ));
            }
            names.retain(|kept| kept != name);
        }
        for name in added {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        Ok(ProtectedNames(names))
    }

    pub fn names(&self) -> &[String] {
        &self.0
    }

    pub fn contains(&self, name: &[u8]) -> bool {
        self.0.iter().any(|protected| protected.as_bytes() == name)
    }
}

/// A protected name is one final path component: not empty, `.` or `..`, without `/` or NUL.
fn check_name(name: &OsStr, field: &str) -> Result<String> {
    let shown = name.to_string_lossy();
    let refuse =
        |why: &str| Error::argument(field, format!("`{shown}` {why}; give a plain file name such as `.envrc`"));
    let Some(text) = name.to_str() else { return Err(refuse("is not valid UTF-8")) };
    if text.is_empty() {
        return Err(Error::argument(field, "is empty; give a plain file name such as `.envrc`"));
    }
    if text == "." || text == ".." {
        return Err(refuse("names a directory, not an entry"));
    }
    if text.contains('/') {
        return Err(refuse("contains `/`: a protected name is one final path component"));
    }
    if text.contains('\0') {
        return Err(refuse("contains a NUL byte"));
    }
    Ok(text.to_owned())
}

/// Paths readable under `include_platform_defaults`, when they exist: what a dynamically
/// linked program needs to start, plus the harmless character devices.
pub const PLATFORM_DEFAULT_READ_PATHS: &[&str] = &[
    "/bin",
    "/sbin",
    "/usr",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/nix/store",
    "/run/current-system/sw",
    "/proc",
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
];

/// The resolved filesystem side of a policy.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FilesystemView {
    /// The command may write anywhere (danger-full-access, external-sandbox).
    pub full_write: bool,
    pub read: ReadScope,
    /// Writable roots, canonical, without duplicates, shallowest first.
    pub writable_roots: Vec<WritableRoot>,
    /// Roots the policy named that do not exist (or are not directories); not fatal.
    pub skipped_roots: Vec<SkippedPath>,
    /// Existing paths that must not be read (shallowest first): the namespace pipeline masks
    /// each; the Landlock pipeline cannot, and refuses to run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deny_read: Vec<DenyRead>,
    /// The policy's entries as this host resolved them, for `--explain`.
    pub policy_entries: PolicyEntries,
    /// The protected names of this run (every writable root gets them).
    pub protected_names: ProtectedNames,
}

/// A path hidden from the command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DenyRead {
    /// Canonical (a symlink named by the policy or matched by a glob is masked at its target).
    pub path: PathBuf,
    pub kind: DenyKind,
    /// Which entry, for `--explain`.
    pub reason: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DenyKind {
    /// Masked by an empty read-only directory.
    Directory,
    /// Masked by an empty read-only file.
    File,
}

/// The lowered entries of the policy and what became of them.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PolicyEntries {
    /// One per distinct path, after precedence (deny > write > read at equal depth).
    pub entries: Vec<LoweredEntry>,
    /// Deny-read globs and their matches at planning time (files created later that match
    /// are not covered).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub globs: Vec<globs::GlobExpansion>,
    /// Entries kept but ignored (special kinds from a newer Codex).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<String>,
    /// Entries that needed nothing done, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct LoweredEntry {
    pub path: PathBuf,
    pub access: Access,
    /// Which entry (`entries[i]`, and the glob for a match).
    pub origin: String,
    /// The path as the policy named it, when resolving symlinks changed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub named: Option<PathBuf>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub missing: bool,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(tag = "scope", rename_all = "kebab-case")]
pub enum ReadScope {
    /// Everything the user can read.
    #[default]
    Full,
    /// Only these canonical paths (and what lies beneath them).
    Restricted {
        roots: Vec<PathBuf>,
        /// Requested roots that are symlinks (`/bin -> usr/bin` on merged-/usr systems), as
        /// `(link, target as written)`: a view built from `roots` alone must recreate them.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        links: Vec<(PathBuf, PathBuf)>,
        /// Which of `roots` are there only as Linux platform defaults: other platforms (the
        /// Seatbelt generator) put their own defaults in their place.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        platform_defaults: Vec<PathBuf>,
        skipped: Vec<SkippedPath>,
    },
}

#[derive(Clone, Debug, Serialize)]
pub struct WritableRoot {
    /// Canonical path (symlinks resolved).
    pub path: PathBuf,
    /// Why the root is writable.
    pub source: RootSource,
    /// Paths under this root that stay read-only.
    pub protected: Vec<ProtectedPath>,
    /// The protected names applied directly under this root (present or not), for `--explain`.
    pub protected_names: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RootSource {
    /// Listed in `writable_roots`.
    Explicit,
    /// The policy cwd.
    PolicyCwd,
    /// `/tmp` (unless `exclude_slash_tmp`).
    SlashTmp,
    /// `$TMPDIR` (unless `exclude_tmpdir_env_var`).
    TmpdirEnv,
}

#[derive(Clone, Debug, Serialize)]
pub struct ProtectedPath {
    pub path: PathBuf,
    pub kind: ProtectedKind,
    /// Why the path is protected, for `--explain`.
    pub reason: String,
    /// Identity of the existing inode (`None` for a missing path), checked again in the child
    /// before it is mounted over so that a path swapped since planning is refused.
    #[serde(skip)]
    pub identity: Option<(u64, u64)>,
    /// When missing at spawn time, an empty placeholder directory is created for the run
    /// (only `.codex` in the policy cwd).
    pub placeholder_if_missing: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProtectedKind {
    Directory,
    File,
    /// Does not exist; the sandbox must stop the command from creating it.
    Missing,
}

#[derive(Clone, Debug, Serialize)]
pub struct SkippedPath {
    pub path: PathBuf,
    pub reason: String,
}

impl FilesystemView {
    /// Every protected path of every writable root.
    pub fn protected_paths(&self) -> impl Iterator<Item = &ProtectedPath> {
        self.writable_roots.iter().flat_map(|root| root.protected.iter())
    }

    /// Whether `path` (canonical) lies in a writable root.
    pub fn is_under_writable_root(&self, path: &Path) -> bool {
        self.writable_roots.iter().any(|root| path.starts_with(&root.path))
    }

    /// Directories the command could rename to carry a protected path away, then recreate the
    /// path with contents of its own (`mv proj proj.old; mkdir -p proj/.git/hooks`): every
    /// ancestor of a protected path whose parent lies in a writable root. The sandbox makes each
    /// a mount point, which cannot be renamed (EBUSY). Shallowest first.
    pub fn directories_to_pin(&self, protected: &[ProtectedPath]) -> Vec<PathBuf> {
        let mut pins: Vec<PathBuf> = Vec::new();
        for path in protected.iter().map(|p| &p.path) {
            for ancestor in path.ancestors().skip(1) {
                let renamable = ancestor.parent().is_some_and(|parent| self.is_under_writable_root(parent));
                if renamable && !pins.iter().any(|pin| pin == ancestor) {
                    pins.push(ancestor.to_path_buf());
                }
            }
        }
        pins.sort_by_key(|path| path.components().count());
        pins
    }
}

/// Resolves `policy` against the policy cwd. `tmpdir` is the `TMPDIR` the command will see.
///
/// The entries are lowered to concrete paths (symlinks resolved), collapsed per path (deny >
/// write > read), and sorted into the view: writable roots with their read-only carve-outs,
/// the readable scope, and the deny-read paths. A combination this sandbox cannot enforce as
/// written (a grant inside a denied path, a writable `/` with exceptions) is refused.
pub fn resolve(policy: &Permissions, policy_cwd: &Path, tmpdir: Option<&OsStr>) -> Result<FilesystemView> {
    resolve_with_names(policy, policy_cwd, tmpdir, &ProtectedNames::default())
}

/// [`resolve`] with the protected names of this run.
pub fn resolve_with_names(
    policy: &Permissions,
    policy_cwd: &Path,
    tmpdir: Option<&OsStr>,
    names: &ProtectedNames,
) -> Result<FilesystemView> {
    let policy_cwd = canonical_dir(policy_cwd, "sandbox-policy-cwd")?;
    let mut view = FilesystemView::default();
    let (entries, glob_scan_max_depth) = match &policy.file_system {
        FileSystemPolicy::Unrestricted | FileSystemPolicy::ExternalSandbox => {
            view.full_write = true;
            return Ok(view);
        }
        FileSystemPolicy::Restricted { entries, glob_scan_max_depth } => (entries, *glob_scan_max_depth),
    };

    let mut lowered = Vec::new();
    let mut include_platform_defaults = false;
    for (index, entry) in entries.iter().enumerate() {
        let origin = format!("entries[{index}]");
        let mut add = |path: PathBuf, source: RootSource, origin: String| -> Result<()> {
            lowered.push(Lowered::new(path, entry.access, source, origin)?);
            Ok(())
        };
        match &entry.path {
            FileSystemPath::Path { path } => add(path.clone(), RootSource::Explicit, origin)?,
            FileSystemPath::Special { value } => match value {
                Special::Root => add(PathBuf::from("/"), RootSource::Explicit, origin)?,
                Special::Minimal if entry.access == Access::Deny => {
                    return Err(Error::policy(
                        format!("{origin}.path.value.kind"),
                        "`minimal` (the platform defaults) cannot be denied; deny the paths themselves",
                    ));
                }
                Special::Minimal => include_platform_defaults = true,
                Special::CurrentWorkingDirectory | Special::ProjectRoots { subpath: None } => {
                    add(policy_cwd.clone(), RootSource::PolicyCwd, origin)?
                }
                Special::ProjectRoots { subpath: Some(subpath) } => {
                    add(policy_cwd.join(subpath), RootSource::Explicit, origin)?
                }
                Special::SlashTmp => {
                    if Path::new("/tmp").is_dir() {
                        add(PathBuf::from("/tmp"), RootSource::SlashTmp, origin)?
                    }
                }
                Special::Tmpdir => {
                    if let Some(tmpdir) = tmpdir.filter(|t| !t.is_empty()) {
                        let tmpdir = Path::new(tmpdir);
                        if tmpdir.to_str().is_none() {
                            return Err(Error::argument(
                                "TMPDIR",
                                format!("`{}` is not valid UTF-8", tmpdir.display()),
                            ));
                        }
                        if !tmpdir.is_absolute() {
                            return Err(Error::argument(
                                "TMPDIR",
                                format!("relative path `{}`; expected an absolute path", tmpdir.display()),
                            ));
                        }
                        add(tmpdir.to_path_buf(), RootSource::TmpdirEnv, origin)?
                    }
                }
                Special::Unknown { name } => view.policy_entries.ignored.push(format!(
                    "{origin}: special path kind `{name}` is unknown to this version; the entry is ignored"
                )),
            },
            FileSystemPath::GlobPattern { pattern } if !globs::is_glob(pattern) => {
                add(PathBuf::from(pattern), RootSource::Explicit, origin)?
            }
            FileSystemPath::GlobPattern { pattern } => {
                let expansion = globs::expand(pattern, glob_scan_max_depth, &format!("{origin}.path.pattern"))?;
                for found in &expansion.matches {
                    add(found.clone(), RootSource::Explicit, format!("{origin} (glob `{pattern}`)"))?;
                }
                view.policy_entries.globs.push(expansion);
            }
        }
    }
    // Writable paths the policy names itself: an implicit root (`/tmp`, `$TMPDIR`) that is one of
    // them needs no second look.
    let named: Vec<PathBuf> = lowered
        .iter()
        .filter(|e| e.access == Access::Write && matches!(e.source, RootSource::Explicit | RootSource::PolicyCwd))
        .map(|e| e.path.clone())
        .collect();
    let entries = collapse_lowered(lowered);
    view.policy_entries.entries = entries.iter().map(Lowered::explain).collect();

    let root_access = entries.iter().find(|e| e.path == Path::new("/")).map(|e| e.access);
    let full_read = matches!(root_access, Some(Access::Read | Access::Write));
    // A writable `/` is a writable root like any other (as the legacy `writable_roots: ["/"]`
    // always was), never "no sandbox": protected names and narrower entries still apply.
    // The most specific entry strictly containing each one decides what it refines.
    let container = |entry: &Lowered| -> Option<&Lowered> {
        entries
            .iter()
            .filter(|other| other.path != entry.path && entry.path.starts_with(&other.path))
            .max_by_key(|other| other.path.components().count())
    };
    for entry in &entries {
        if let Some(outer) = container(entry)
            && outer.access == Access::Deny
            && entry.access != Access::Deny
        {
            return Err(Error::Unsupported {
                what: format!(
                    "{} access to `{}` ({}) inside the denied `{}` ({})",
                    access_word(entry.access),
                    entry.path.display(),
                    entry.origin,
                    outer.path.display(),
                    outer.origin
                ),
                reason: "a denied directory is hidden as a whole; this sandbox cannot reopen paths inside it".into(),
            });
        }
    }

    for entry in entries.iter().filter(|e| e.access == Access::Write) {
        if !named.contains(&entry.path) {
            check_implicit_root(&entry.literal, &entry.path, entry.source)?;
        }
        match &entry.kind {
            Some(kind) if kind.is_dir() => view.writable_roots.push(WritableRoot {
                path: entry.path.clone(),
                source: entry.source,
                protected: vec![],
                protected_names: vec![],
            }),
            Some(_) => {
                view.skipped_roots.push(SkippedPath { path: entry.literal.clone(), reason: "not a directory".into() })
            }
            None => {
                view.skipped_roots.push(SkippedPath { path: entry.literal.clone(), reason: "does not exist".into() })
            }
        }
    }
    view.writable_roots.sort_by_key(|root| (root.path.components().count(), root.path.clone()));
    let roots: Vec<PathBuf> = view.writable_roots.iter().map(|root| root.path.clone()).collect();
    for root in &mut view.writable_roots {
        root.protected = protected_paths_of(&root.path, names, &roots)?;
        root.protected_names = names.names().to_vec();
    }
    view.protected_names = names.clone();

    // Read-only carve-outs inside writable roots, and missing denied paths there (which must
    // not be created): both become protected paths of their root.
    for entry in &entries {
        let outer = container(entry).map(|outer| outer.access);
        let carve_out = entry.access == Access::Read && outer == Some(Access::Write);
        // (One inside a denied directory is hidden with it.)
        let missing_deny = entry.access == Access::Deny && entry.kind.is_none() && outer != Some(Access::Deny);
        if !carve_out && !missing_deny {
            continue;
        }
        let Some(root) = deepest_root(&view, &entry.path) else {
            if missing_deny {
                view.policy_entries.notes.push(format!(
                    "{}: `{}` does not exist and cannot be created (not in a writable root); nothing to mask",
                    entry.origin,
                    entry.literal.display()
                ));
            }
            continue;
        };
        // Inside a read-only protected path nothing can be created anyway, nor written.
        let in_protected = view.writable_roots[root]
            .protected
            .iter()
            .any(|p| p.kind != ProtectedKind::Missing && p.path != entry.path && entry.path.starts_with(&p.path));
        if in_protected {
            continue;
        }
        check_no_writable_symlink(&view, &entry.literal, entry.access)?;
        let protected = match &entry.kind {
            Some(kind) => ProtectedPath {
                path: entry.path.clone(),
                kind: if kind.is_dir() { ProtectedKind::Directory } else { ProtectedKind::File },
                reason: format!("read-only by {}", entry.origin),
                identity: Some((kind.dev, kind.ino)),
                placeholder_if_missing: false,
            },
            None => {
                let first_missing = first_missing_component(&view.writable_roots[root].path, &entry.path);
                let reason = if missing_deny {
                    format!(
                        "{}: denied `{}` does not exist; kept from being created",
                        entry.origin,
                        entry.path.display()
                    )
                } else {
                    format!(
                        "{}: read-only `{}` does not exist; kept from being created",
                        entry.origin,
                        entry.path.display()
                    )
                };
                ProtectedPath {
                    path: first_missing,
                    kind: ProtectedKind::Missing,
                    reason,
                    identity: None,
                    placeholder_if_missing: true,
                }
            }
        };
        let list = &mut view.writable_roots[root].protected;
        match list.iter_mut().find(|p| p.path == protected.path) {
            // Already protected by name; a missing one the policy names must not be created.
            Some(existing) => existing.placeholder_if_missing |= protected.placeholder_if_missing,
            None => list.push(protected),
        }
    }
    check_roots_outside_protected(&view)?;

    for entry in entries.iter().filter(|e| e.access == Access::Deny && e.path != Path::new("/")) {
        let Some(kind) = &entry.kind else { continue };
        let visible = match container(entry).map(|outer| outer.access) {
            Some(Access::Read | Access::Write) => true,
            Some(Access::Deny) => false,
            None => full_read,
        };
        if !visible {
            view.policy_entries.notes.push(format!(
                "{}: `{}` is not readable under this policy anyway; nothing to mask",
                entry.origin,
                entry.path.display()
            ));
            continue;
        }
        if ["/dev", "/proc", "/sys"].iter().any(|special| entry.path.starts_with(special)) {
            return Err(Error::Unsupported {
                what: format!("deny-read of `{}` ({})", entry.path.display(), entry.origin),
                reason: "the sandbox builds /dev, /proc and /sys afresh; a deny inside them cannot be applied".into(),
            });
        }
        let mut reason = format!("denied by {}", entry.origin);
        if entry.literal != entry.path {
            reason.push_str(&format!(" as `{}`", entry.literal.display()));
        }
        view.deny_read.push(DenyRead {
            path: entry.path.clone(),
            kind: if kind.is_dir() { DenyKind::Directory } else { DenyKind::File },
            reason,
        });
    }
    view.deny_read.sort_by_key(|deny| deny.path.components().count());

    if !full_read {
        let requested: Vec<PathBuf> =
            entries.iter().filter(|e| e.access == Access::Read).map(|e| e.literal.clone()).collect();
        let explicit: Vec<PathBuf> = entries
            .iter()
            .filter(|e| e.access == Access::Read && e.source == RootSource::Explicit)
            .map(|e| e.literal.clone())
            .collect();
        view.read = restricted_read_scope(&view, &requested, &explicit, include_platform_defaults)?;
    }
    Ok(view)
}

/// One entry lowered to a concrete path.
struct Lowered {
    /// Canonical: symlinks resolved (for a missing path, those of its existing ancestors).
    path: PathBuf,
    /// As the policy named it.
    literal: PathBuf,
    access: Access,
    source: RootSource,
    origin: String,
    /// What is there now; `None` when nothing is.
    kind: Option<Found>,
}

struct Found {
    dir: bool,
    dev: u64,
    ino: u64,
}

impl Found {
    fn is_dir(&self) -> bool {
        self.dir
    }
}

impl Lowered {
    fn new(literal: PathBuf, access: Access, source: RootSource, origin: String) -> Result<Lowered> {
        let (path, kind) = match fs::canonicalize(&literal) {
            Ok(canonical) => {
                let metadata =
                    fs::metadata(&canonical).map_err(|e| Error::path("cannot inspect policy path", &canonical, e))?;
                let kind = Found { dir: metadata.is_dir(), dev: metadata.dev(), ino: metadata.ino() };
                (canonical, Some(kind))
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => {
                (canonical_missing(&literal), None)
            }
            Err(e) => return Err(Error::path("cannot resolve policy path", literal, e)),
        };
        Ok(Lowered { path, literal, access, source, origin, kind })
    }

    fn explain(&self) -> LoweredEntry {
        LoweredEntry {
            path: self.path.clone(),
            access: self.access,
            origin: self.origin.clone(),
            named: (self.literal != self.path).then(|| self.literal.clone()),
            missing: self.kind.is_none(),
        }
    }
}

/// One entry per path; at equal depth the conflict order deny > write > read decides, and the
/// first entry with the winning access names the source.
fn collapse_lowered(lowered: Vec<Lowered>) -> Vec<Lowered> {
    let mut collapsed: Vec<Lowered> = Vec::new();
    for entry in lowered {
        match collapsed.iter_mut().find(|seen| seen.path == entry.path) {
            Some(seen) if entry.access > seen.access => *seen = entry,
            Some(_) => {}
            None => collapsed.push(entry),
        }
    }
    collapsed
}

/// A missing path with its existing ancestors' symlinks resolved, so that it compares with
/// canonical paths.
fn canonical_missing(path: &Path) -> PathBuf {
    for ancestor in path.ancestors().skip(1) {
        if let Ok(canonical) = fs::canonicalize(ancestor) {
            let rest = path.strip_prefix(ancestor).unwrap_or(path);
            return canonical.join(rest);
        }
    }
    path.to_path_buf()
}

/// The shallowest missing path on the way from `root` (existing) to `path` (beneath it).
fn first_missing_component(root: &Path, path: &Path) -> PathBuf {
    let mut current = root.to_path_buf();
    for component in path.strip_prefix(root).unwrap_or(Path::new("")).components() {
        current.push(component);
        if fs::symlink_metadata(&current).is_err() {
            return current;
        }
    }
    path.to_path_buf()
}

/// The index of the deepest writable root holding `path`.
fn deepest_root(view: &FilesystemView, path: &Path) -> Option<usize> {
    view.writable_roots
        .iter()
        .enumerate()
        .filter(|(_, root)| path.starts_with(&root.path))
        .max_by_key(|(_, root)| root.path.components().count())
        .map(|(index, _)| index)
}

/// A read-only path reached through a symlink that lies in a writable root could be
/// re-pointed by the command; as Codex does, that is refused rather than half-enforced.
fn check_no_writable_symlink(view: &FilesystemView, literal: &Path, access: Access) -> Result<()> {
    for ancestor in literal.ancestors() {
        let is_link = fs::symlink_metadata(ancestor).is_ok_and(|m| m.file_type().is_symlink());
        let in_writable = ancestor
            .parent()
            .and_then(|parent| fs::canonicalize(parent).ok())
            .is_some_and(|parent| view.is_under_writable_root(&parent));
        if is_link && in_writable {
            return Err(Error::Unsupported {
                what: format!("keeping `{}` {}", literal.display(), access_word(access)),
                reason: format!(
                    "it crosses the symbolic link `{}` inside a writable root, which the command could re-point",
                    ancestor.display()
                ),
            });
        }
    }
    Ok(())
}

fn access_word(access: Access) -> &'static str {
    match access {
        Access::Read => "read-only",
        Access::Write => "writable",
        Access::Deny => "unreadable",
    }
}

/// Refuses a writable root the policy did not name that would open `/`, the home directory or
/// an ancestor of it (`TMPDIR=/`, `TMPDIR=$HOME`, a `/tmp` that links to `/`): the command
/// could then rewrite shell start-up files, `~/.ssh` or anything else of the user's. Naming the
/// directory in `writable_roots` still makes it writable (explicit roots come first, so the
/// implicit duplicate never reaches this check).
///
/// `/tmp` is refused only when it resolves to `/`: a `HOME=/tmp` (service accounts, CI) is the
/// caller's own choice of home, and refusing every default workspace-write run there would
/// leave only the choice of excluding `/tmp`. docs/security.md lists it as a residual risk.
fn check_implicit_root(requested: &Path, canonical: &Path, source: RootSource) -> Result<()> {
    let variable = match source {
        RootSource::TmpdirEnv => "TMPDIR",
        RootSource::SlashTmp => "/tmp",
        RootSource::Explicit | RootSource::PolicyCwd => return Ok(()),
    };
    let what = if canonical == Path::new("/") {
        "the root directory".to_owned()
    } else if source == RootSource::SlashTmp {
        return Ok(());
    } else if let Some(home) = home_directories().into_iter().find(|home| home.starts_with(canonical)) {
        if home == canonical {
            format!("the home directory `{}`", home.display())
        } else {
            format!("an ancestor of the home directory `{}`", home.display())
        }
    } else {
        return Ok(());
    };
    Err(Error::argument(
        variable,
        format!(
            "`{}` resolves to `{}`, {what}, which would become writable; name it in `writable_roots` to mean it, \
             or set `exclude_{}` in the policy",
            requested.display(),
            canonical.display(),
            if source == RootSource::TmpdirEnv { "tmpdir_env_var" } else { "slash_tmp" },
        ),
    ))
}

/// The invoking user's home directories, canonical where they exist: `$HOME` and the password
/// database's entry (they differ under `sudo -E` or a changed `HOME`).
fn home_directories() -> Vec<PathBuf> {
    let mut homes: Vec<PathBuf> =
        std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from).into_iter().collect();
    homes.extend(password_database_home());
    homes.into_iter().filter(|h| h.is_absolute()).map(|h| fs::canonicalize(&h).unwrap_or(h)).collect()
}

fn password_database_home() -> Option<PathBuf> {
    use std::ffi::CStr;
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: `passwd` is plain data (integers and pointers); all zeros is a valid value.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer refers to live storage of the size given; the strings `entry`
    // points to live in `buffer`, read before it is dropped.
    let rc = unsafe { libc::getpwuid_r(libc::getuid(), &mut entry, buffer.as_mut_ptr(), buffer.len(), &mut found) };
    if rc != 0 || found.is_null() || entry.pw_dir.is_null() {
        return None;
    }
    // SAFETY: `pw_dir` is a NUL-terminated string inside `buffer`.
    let dir = unsafe { CStr::from_ptr(entry.pw_dir) };
    Some(PathBuf::from(OsStr::from_bytes(dir.to_bytes())))
}

/// Checks a `--bwrap-path` before anything runs: an installed bubblewrap runs outside every
/// confinement, so it must be an absolute path (a relative one would run `./bwrap` from the
/// command's directory), an executable regular file, and out of the sandbox's reach (neither it
/// nor any directory or link on the way to it inside a writable root, where the command could
/// replace it for the next run). Returns the canonical path.
///
/// Call it with the resolved view of the same run; `field` names the option as the caller
/// spells it (`bwrap-path` for the CLI, `bwrapPath` for Node).
pub fn check_bwrap_path(path: &Path, view: &FilesystemView, field: &str) -> Result<PathBuf> {
    crate::policy::check_absolute(path).map_err(|message| Error::argument(field, message))?;
    let refuse = |why: String| Error::argument(field, format!("`{}` {why}", path.display()));
    let canonical = fs::canonicalize(path).map_err(|e| refuse(format!("cannot be used: {e}")))?;
    let metadata = fs::metadata(&canonical).map_err(|e| refuse(format!("cannot be used: {e}")))?;
    if !metadata.is_file() {
        return Err(refuse("is not a regular file".into()));
    }
    let executable = std::ffi::CString::new(canonical.as_os_str().as_encoded_bytes()).ok().is_some_and(|c| {
        // SAFETY: a valid NUL-terminated path.
        unsafe { libc::access(c.as_ptr(), libc::X_OK) == 0 }
    });
    if metadata.permissions().mode() & 0o111 == 0 || !executable {
        return Err(refuse("is not executable".into()));
    }
    if view.full_write {
        return Err(refuse("would be writable by the command: the policy lets it write everywhere".into()));
    }
    // Every prefix of the path as written, located through its canonical parent: a link or
    // directory on the way that lies in a writable root can be swapped by the command.
    let mut prefix = PathBuf::new();
    let mut locations = vec![canonical.clone()];
    for component in path.components() {
        prefix.push(component);
        if let (Some(parent), Some(name)) = (prefix.parent(), prefix.file_name()) {
            let parent = fs::canonicalize(parent).unwrap_or_else(|_| parent.to_path_buf());
            locations.push(parent.join(name));
        }
    }
    if let Some(inside) = locations.iter().find(|location| view.is_under_writable_root(location)) {
        return Err(refuse(format!(
            "would be writable by the command: `{}` lies in a writable root; install bubblewrap outside them",
            inside.display()
        )));
    }
    Ok(canonical)
}

/// Canonicalises a directory the caller named, with an error naming the option.
pub(crate) fn canonical_dir(path: &Path, field: &str) -> Result<PathBuf> {
    if path.to_str().is_none() {
        return Err(Error::argument(field, format!("`{}` is not valid UTF-8", path.display())));
    }
    crate::policy::check_absolute(path).map_err(|message| Error::argument(field, message))?;
    let canonical = fs::canonicalize(path).map_err(|e| Error::argument(field, format!("`{}`: {e}", path.display())))?;
    if !canonical.is_dir() {
        return Err(Error::argument(field, format!("`{}` is not a directory", path.display())));
    }
    Ok(canonical)
}

/// The protected paths of one (canonical) writable root: each protected name directly under
/// it, present (read-only) or missing (kept from being created), and for `.git` the git layout
/// behind it (see [`git_layout`]). `roots` are every writable root, for the paths a `.git`
/// points to elsewhere.
fn protected_paths_of(root: &Path, names: &ProtectedNames, roots: &[PathBuf]) -> Result<Vec<ProtectedPath>> {
    let mut protected = Vec::new();
    for name in names.names() {
        let path = root.join(name);
        let metadata = match fs::symlink_metadata(&path) {
            Ok(metadata) => metadata,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                protected.push(ProtectedPath {
                    path,
                    kind: ProtectedKind::Missing,
                    reason: format!("protected name `{name}`; kept from being created"),
                    identity: None,
                    placeholder_if_missing: true,
                });
                continue;
            }
            Err(e) => return Err(Error::path("cannot inspect protected path", path, e)),
        };
        if metadata.file_type().is_symlink() {
            let target = fs::read_link(&path).map(|t| t.display().to_string()).unwrap_or_default();
            return Err(Error::Unsupported {
                what: format!("keeping `{}` read-only", path.display()),
                reason: format!(
                    "it is a symbolic link (to `{target}`) inside the writable root `{}`, which the command could replace; \
                     remove the link or run with a policy that does not make `{}` writable",
                    root.display(),
                    root.display()
                ),
            });
        }
        let reason = match name.as_str() {
            ".git" => "git metadata (hooks and config run code outside the sandbox)".to_owned(),
            ".agents" => "agent configuration".to_owned(),
            ".codex" => "Codex configuration".to_owned(),
            ".aws" => "AWS credentials and configuration".to_owned(),
            other => format!("protected name `{other}`"),
        };
        protected.push(ProtectedPath {
            path: path.clone(),
            kind: if metadata.is_dir() { ProtectedKind::Directory } else { ProtectedKind::File },
            reason,
            identity: Some((metadata.dev(), metadata.ino())),
            // A directory may be another run's placeholder (or one a killed run left behind):
            // it is joined as one, and removed at the end only if it carries the marker.
            placeholder_if_missing: metadata.is_dir(),
        });
        if name == ".git" {
            for extra in git_layout(&path, metadata.is_dir(), roots)? {
                if !protected.iter().any(|p| p.path == extra.path) {
                    protected.push(extra);
                }
            }
        }
    }
    Ok(protected)
}

/// What a `.git` (directory, or `gitdir:` pointer file) makes git read besides itself, each
/// kept read-only where it lies in a writable root: the pointer's target, that gitdir's
/// `commondir` (a worktree's shared repository, with its `hooks/` and `config`), and the
/// `core.hooksPath` set in the config files found there (relative values name a directory of
/// the work tree). A target that does not exist yet is kept from being created (a placeholder
/// at its first missing component), so a dangling pointer cannot be completed into a
/// repository of the command's making. Git is not run: `include` directives and the user's
/// global config are not followed (docs/security.md).
fn git_layout(dot_git: &Path, is_dir: bool, roots: &[PathBuf]) -> Result<Vec<ProtectedPath>> {
    let work_tree = dot_git.parent().unwrap_or(Path::new("/"));
    let mut found = Vec::new();
    let gitdir = if is_dir {
        dot_git.to_path_buf()
    } else {
        let Some(pointer) = git_pointer(dot_git)? else { return Ok(found) };
        let target = work_tree.join(pointer);
        found.extend(git_path(&target, format!("gitdir target of `{}`", dot_git.display()), roots)?);
        target
    };
    if !gitdir.is_dir() {
        return Ok(found);
    }
    let mut config_dirs = vec![gitdir.clone()];
    if let Some(common) = read_small(&gitdir.join("commondir"))? {
        let common = gitdir.join(common.trim());
        found.extend(git_path(&common, format!("commondir of `{}`", gitdir.display()), roots)?);
        config_dirs.push(common);
    }
    let mut hooks_paths = Vec::new();
    for dir in &config_dirs {
        for config in ["config", "config.worktree"] {
            if let Some(text) = read_small(&dir.join(config))? {
                hooks_paths.extend(config_values(&text, "core", "hookspath"));
            }
        }
    }
    for value in hooks_paths {
        let path = match value.strip_prefix("~/") {
            Some(rest) => match std::env::var_os("HOME") {
                Some(home) => Path::new(&home).join(rest),
                None => continue,
            },
            None => work_tree.join(&value),
        };
        found.extend(git_path(&path, format!("core.hooksPath `{value}` of `{}`", dot_git.display()), roots)?);
    }
    Ok(found)
}

/// A path git reads through a `.git`, protected as it is now: an existing one read-only, a
/// missing one inside a writable root kept from being created. Reached through a symbolic link
/// in a writable root (which the command could re-point), it is refused.
fn git_path(path: &Path, reason: String, roots: &[PathBuf]) -> Result<Option<ProtectedPath>> {
    let in_writable = |p: &Path| roots.iter().any(|root| p.starts_with(root));
    for ancestor in path.ancestors() {
        let is_link = fs::symlink_metadata(ancestor).is_ok_and(|m| m.file_type().is_symlink());
        let parent_writable = ancestor
            .parent()
            .and_then(|parent| fs::canonicalize(parent).ok())
            .is_some_and(|parent| in_writable(&parent));
        if is_link && parent_writable {
            return Err(Error::Unsupported {
                what: format!("keeping `{}` read-only ({reason})", path.display()),
                reason: format!(
                    "it crosses the symbolic link `{}` inside a writable root, which the command could re-point",
                    ancestor.display()
                ),
            });
        }
    }
    match fs::canonicalize(path) {
        Ok(canonical) => {
            let metadata =
                fs::metadata(&canonical).map_err(|e| Error::path("cannot inspect git path", &canonical, e))?;
            Ok(Some(ProtectedPath {
                path: canonical,
                kind: if metadata.is_dir() { ProtectedKind::Directory } else { ProtectedKind::File },
                reason,
                identity: Some((metadata.dev(), metadata.ino())),
                placeholder_if_missing: false,
            }))
        }
        Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => {
            let canonical = canonical_missing(path);
            let Some(root) =
                roots.iter().filter(|root| canonical.starts_with(root)).max_by_key(|r| r.components().count())
            else {
                // Outside every writable root the command cannot create it either.
                return Ok(None);
            };
            let first_missing = first_missing_component(root, &canonical);
            if fs::symlink_metadata(&first_missing).is_ok() {
                // Not a directory on the way (a file): nothing can be created beneath it.
                return Ok(None);
            }
            Ok(Some(ProtectedPath {
                path: first_missing,
                kind: ProtectedKind::Missing,
                reason: format!("{reason}: `{}` does not exist; kept from being created", path.display()),
                identity: None,
                placeholder_if_missing: true,
            }))
        }
        Err(e) => Err(Error::path("cannot resolve git path", path, e)),
    }
}

/// The path of a `gitdir: <path>` pointer file, or `None` when the file is not one.
fn git_pointer(dot_git: &Path) -> Result<Option<PathBuf>> {
    let Some(text) = read_small(dot_git)? else { return Ok(None) };
    Ok(text.lines().next().and_then(|line| line.strip_prefix("gitdir:")).map(|p| PathBuf::from(p.trim())))
}

/// The start of a small text file git reads (a pointer, `commondir`, a config), `None` when
/// it does not exist or is not a regular file. Large files are read in their first 64 KiB.
fn read_small(path: &Path) -> Result<Option<String>> {
    use std::io::Read;
    match fs::metadata(path) {
        Ok(metadata) if metadata.is_file() => {}
        Ok(_) => return Ok(None),
        Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => return Ok(None),
        Err(e) => return Err(Error::path("cannot inspect git file", path, e)),
    }
    let file = fs::File::open(path).map_err(|e| Error::path("cannot read git file", path, e))?;
    let mut bytes = Vec::new();
    file.take(64 * 1024).read_to_end(&mut bytes).map_err(|e| Error::path("cannot read git file", path, e))?;
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// The values of `section.key` in a git config text (section and key compared without case,
/// as git does; subsections and `include` directives are not followed; a quoted value loses
/// its quotes).
fn config_values(text: &str, section: &str, key: &str) -> Vec<String> {
    let mut values = Vec::new();
    let mut in_section = false;
    for line in text.lines() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[') {
            let name = header.split([']', ' ', '"']).next().unwrap_or("");
            in_section = name.eq_ignore_ascii_case(section) && !header.contains('"');
            continue;
        }
        if !in_section || line.starts_with(['#', ';']) {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else { continue };
        if !name.trim().eq_ignore_ascii_case(key) {
            continue;
        }
        let value = value.trim();
        let value = match value.strip_prefix('"') {
            Some(quoted) => quoted.split('"').next().unwrap_or(""),
            None => value.split([';', '#']).next().unwrap_or("").trim_end(),
        };
        if !value.is_empty() {
            values.push(value.to_owned());
        }
    }
    values
}

/// A writable root inside a protected path would be hidden by the read-only mount of that path.
/// That layout is refused rather than silently made read-only.
fn check_roots_outside_protected(view: &FilesystemView) -> Result<()> {
    for root in &view.writable_roots {
        for protected in view.protected_paths() {
            if root.path != protected.path && root.path.starts_with(&protected.path) {
                return Err(Error::Unsupported {
                    what: format!("the writable root `{}`", root.path.display()),
                    reason: format!(
                        "it lies inside the protected path `{}`, which stays read-only",
                        protected.path.display()
                    ),
                });
            }
        }
    }
    Ok(())
}

/// The readable roots: `requested` (as named) and the writable roots, then the platform
/// defaults. Missing ones among `explicit` are reported as skipped.
fn restricted_read_scope(
    view: &FilesystemView,
    requested: &[PathBuf],
    readable_roots: &[PathBuf],
    include_platform_defaults: bool,
) -> Result<ReadScope> {
    let mut requested: Vec<PathBuf> = requested.to_vec();
    requested.extend(view.writable_roots.iter().map(|root| root.path.clone()));
    let asked_for = requested.len();
    if include_platform_defaults {
        requested.extend(PLATFORM_DEFAULT_READ_PATHS.iter().map(PathBuf::from));
    }
    let mut roots: Vec<PathBuf> = Vec::new();
    let mut platform_defaults = Vec::new();
    let mut links = Vec::new();
    let mut skipped = Vec::new();
    for (index, path) in requested.into_iter().enumerate() {
        match fs::canonicalize(&path) {
            Ok(canonical) => {
                if index >= asked_for && !roots.contains(&canonical) {
                    platform_defaults.push(canonical.clone());
                }
                if canonical != path
                    && path.parent().is_some_and(|parent| fs::canonicalize(parent).is_ok_and(|p| p == parent))
                    && let Ok(target) = fs::read_link(&path)
                    && !links.iter().any(|(link, _)| link == &path)
                {
                    links.push((path.clone(), target));
                }
                if !roots.contains(&canonical) {
                    roots.push(canonical);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if readable_roots.contains(&path) {
                    skipped.push(SkippedPath { path, reason: "does not exist".into() });
                }
            }
            Err(e) => return Err(Error::path("cannot resolve readable root", path, e)),
        }
    }
    Ok(ReadScope::Restricted { roots, links, platform_defaults, skipped })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{ReadAccess, SandboxPolicy};
    use std::os::unix::fs::symlink;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("codex-sandbox-resolve-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::canonicalize(dir).unwrap()
    }

    fn workspace(extra: Vec<PathBuf>, exclude_tmp: bool) -> Permissions {
        SandboxPolicy::WorkspaceWrite {
            writable_roots: extra,
            read_only_access: ReadAccess::FullAccess,
            network_access: false,
            exclude_tmpdir_env_var: exclude_tmp,
            exclude_slash_tmp: exclude_tmp,
        }
        .to_permissions()
    }

    #[test]
    fn roots_include_cwd_tmp_and_tmpdir_and_skip_missing() {
        let cwd = scratch("roots");
        let extra = cwd.join("extra");
        fs::create_dir(&extra).unwrap();
        let tmpdir = cwd.join("tmpdir");
        fs::create_dir(&tmpdir).unwrap();
        let view = resolve(&workspace(vec![extra.clone(), cwd.join("missing")], false), &cwd, Some(tmpdir.as_os_str()))
            .unwrap();
        let roots: Vec<_> = view.writable_roots.iter().map(|r| (r.path.clone(), r.source)).collect();
        assert!(roots.contains(&(cwd.clone(), RootSource::PolicyCwd)));
        assert!(roots.contains(&(extra, RootSource::Explicit)));
        assert!(roots.contains(&(PathBuf::from("/tmp"), RootSource::SlashTmp)) || cwd.starts_with("/tmp"));
        assert!(roots.iter().any(|(p, _)| p == &tmpdir));
        assert_eq!(view.skipped_roots.len(), 1);
        assert_eq!(view.skipped_roots[0].path, cwd.join("missing"));

        let view = resolve(&workspace(vec![], true), &cwd, Some(tmpdir.as_os_str())).unwrap();
        assert_eq!(view.writable_roots.len(), 1);
        fs::remove_dir_all(cwd).unwrap();
    }

    #[test]
    fn protected_names_and_gitdir_pointer() {
        let cwd = scratch("protected");
        fs::create_dir(cwd.join(".agents")).unwrap();
        let real_gitdir = cwd.join("real-gitdir");
        fs::create_dir(&real_gitdir).unwrap();
        fs::write(cwd.join(".git"), "gitdir: real-gitdir\n").unwrap();
        let view = resolve(&workspace(vec![], true), &cwd, None).unwrap();
        let protected: Vec<_> = view.protected_paths().map(|p| (p.path.clone(), p.kind)).collect();
        assert!(protected.contains(&(cwd.join(".git"), ProtectedKind::File)));
        assert!(protected.contains(&(real_gitdir, ProtectedKind::Directory)));
        assert!(protected.contains(&(cwd.join(".agents"), ProtectedKind::Directory)));
        assert!(protected.contains(&(cwd.join(".codex"), ProtectedKind::Missing)));
        fs::remove_dir_all(cwd).unwrap();
    }

    #[test]
    fn every_protected_name_is_protected_in_every_writable_root_present_or_not() {
        let cwd = scratch("every-root");
        let other = scratch("every-root-other");
        fs::create_dir(other.join(".aws")).unwrap();
        let view = resolve(&workspace(vec![other.clone()], true), &cwd, None).unwrap();
        for root in [&cwd, &other] {
            let writable = view.writable_roots.iter().find(|r| &r.path == root).unwrap();
            assert_eq!(writable.protected_names, PROTECTED_NAMES.to_vec());
            for name in PROTECTED_NAMES {
                let found = writable.protected.iter().find(|p| p.path == root.join(name)).expect(name);
                if root == &other && name == ".aws" {
                    // Joined as a placeholder (removed at the end only if it carries the marker).
                    assert_eq!((found.kind, found.identity.is_some()), (ProtectedKind::Directory, true));
                } else {
                    assert_eq!((found.kind, found.placeholder_if_missing), (ProtectedKind::Missing, true), "{name}");
                }
            }
        }
        fs::remove_dir_all(cwd).unwrap();
        fs::remove_dir_all(other).unwrap();
    }

    #[test]
    fn names_can_be_added_and_defaults_opted_out_of_and_bad_names_are_refused() {
        let os = |names: &[&str]| names.iter().map(OsString::from).collect::<Vec<_>>();
        let names =
            ProtectedNames::new(&os(&[".envrc", ".vscode", ".envrc"]), &os(&[".git"]), "protect", "unprotect").unwrap();
        assert_eq!(names.names(), [".agents", ".codex", ".aws", ".envrc", ".vscode"]);
        let cwd = scratch("names");
        fs::write(cwd.join(".envrc"), "export X=1\n").unwrap();
        let view = resolve_with_names(&workspace(vec![], true), &cwd, None, &names).unwrap();
        assert!(view.protected_paths().any(|p| p.path == cwd.join(".envrc") && p.kind == ProtectedKind::File));
        assert!(view.protected_paths().any(|p| p.path == cwd.join(".vscode") && p.kind == ProtectedKind::Missing));
        assert!(!view.protected_paths().any(|p| p.path == cwd.join(".git")), "opted out: git init works");
        fs::remove_dir_all(cwd).unwrap();

        type Case<'a> = (&'a [&'a str], &'a [&'a str], &'a str, &'a str);
        let bad: [Case; 7] = [
            (&[""], &[], "protect[0]", "empty"),
            (&["ok", "a/b"], &[], "protect[1]", "`a/b` contains `/`"),
            (&["."], &[], "protect[0]", "`.` names a directory"),
            (&[".."], &[], "protect[0]", "`..` names a directory"),
            (&["a\0b"], &[], "protect[0]", "NUL"),
            (&[], &[".envrc"], "unprotect[0]", "`.envrc` is not a default protected name"),
            (&[".git"], &[".git"], "unprotect[0]", "also named by protect[0]"),
        ];
        for (add, remove, field, expected) in bad {
            let (got_field, message) =
                argument_error(ProtectedNames::new(&os(add), &os(remove), "protect", "unprotect"));
            assert_eq!(got_field, field, "{message}");
            assert!(message.contains(expected), "{message}");
        }
    }

    #[test]
    fn worktree_gitdir_commondir_and_hooks_path_are_protected() {
        let cwd = scratch("worktree");
        // The main repository lives inside the writable root; the worktree's `.git` points into it.
        let common = cwd.join("main/.git");
        fs::create_dir_all(common.join("worktrees/wt")).unwrap();
        fs::create_dir_all(common.join("hooks")).unwrap();
        fs::write(common.join("config"), "[core]\n\tbare = false\n[Core]\n  hooksPath = \"tools/hooks\" ; husky\n")
            .unwrap();
        fs::write(common.join("worktrees/wt/commondir"), "../..\n").unwrap();
        fs::create_dir_all(cwd.join("wt/tools/hooks")).unwrap();
        fs::write(cwd.join("wt/.git"), format!("gitdir: {}\n", common.join("worktrees/wt").display())).unwrap();
        let wt = cwd.join("wt");
        let view = resolve(&workspace(vec![wt.clone()], true), &cwd, None).unwrap();
        let protected: Vec<_> = view.protected_paths().map(|p| (p.path.clone(), p.kind)).collect();
        assert!(protected.contains(&(wt.join(".git"), ProtectedKind::File)), "{protected:?}");
        assert!(protected.contains(&(common.join("worktrees/wt"), ProtectedKind::Directory)), "{protected:?}");
        assert!(protected.contains(&(common.clone(), ProtectedKind::Directory)), "{protected:?}");
        assert!(protected.contains(&(wt.join("tools/hooks"), ProtectedKind::Directory)), "{protected:?}");

        // A hooksPath that does not exist yet is kept from being created at its first missing part.
        fs::write(common.join("config"), "[core]\n\thooksPath = .husky/_\n").unwrap();
        let view = resolve(&workspace(vec![wt.clone()], true), &cwd, None).unwrap();
        let husky = view.protected_paths().find(|p| p.path == wt.join(".husky")).expect("placeholder");
        assert!(husky.kind == ProtectedKind::Missing && husky.placeholder_if_missing, "{husky:?}");

        // A dangling gitdir inside a writable root cannot be completed into a repository.
        fs::write(wt.join(".git"), "gitdir: ../missing/gitdir\n").unwrap();
        let view = resolve(&workspace(vec![wt.clone()], true), &cwd, None).unwrap();
        let missing = view.protected_paths().find(|p| p.path == cwd.join("missing")).expect("placeholder");
        assert!(missing.placeholder_if_missing, "{missing:?}");

        // Reached through a symbolic link the command could re-point: refused.
        fs::create_dir(cwd.join("elsewhere")).unwrap();
        symlink("elsewhere", cwd.join("link")).unwrap();
        fs::write(wt.join(".git"), "gitdir: ../link\n").unwrap();
        let err = resolve(&workspace(vec![wt.clone()], true), &cwd, None).unwrap_err().to_string();
        assert!(err.contains("crosses the symbolic link") && err.contains("gitdir target"), "{err}");
        fs::remove_dir_all(cwd).unwrap();
    }

    #[test]
    fn config_values_follow_gits_spelling() {
        let text = "[core]\n\tHooksPath = a ; c\n[core \"x\"]\nhookspath = b\n[other]\nhookspath = c\n[CORE]\nhookspath=\"d e\"\n";
        assert_eq!(config_values(text, "core", "hookspath"), ["a", "d e"]);
    }

    #[test]
    fn symlinked_protected_name_is_refused() {
        let cwd = scratch("symlink");
        fs::create_dir(cwd.join("decoy")).unwrap();
        symlink("decoy", cwd.join(".codex")).unwrap();
        let err = resolve(&workspace(vec![], true), &cwd, None).unwrap_err().to_string();
        assert!(err.contains(".codex") && err.contains("symbolic link"), "{err}");
        fs::remove_dir_all(cwd).unwrap();
    }

    #[test]
    fn relative_tmpdir_and_cwd_are_refused() {
        let err = resolve(&workspace(vec![], false), Path::new("/"), Some(OsStr::new("tmp"))).unwrap_err().to_string();
        assert!(err.contains("`TMPDIR`: relative path `tmp`"), "{err}");
        let err =
            resolve(&SandboxPolicy::read_only().to_permissions(), Path::new("rel"), None).unwrap_err().to_string();
        assert!(err.contains("`sandbox-policy-cwd`: relative path `rel`"), "{err}");
    }

    #[test]
    fn restricted_read_includes_cwd_and_defaults() {
        let cwd = scratch("read");
        let policy = SandboxPolicy::ReadOnly {
            access: ReadAccess::Restricted {
                include_platform_defaults: true,
                readable_roots: vec![PathBuf::from("/nonexistent-root")],
            },
            network_access: false,
        };
        let view = resolve(&policy.to_permissions(), &cwd, None).unwrap();
        let ReadScope::Restricted { roots, links, platform_defaults, skipped } = view.read else {
            panic!("expected restricted read")
        };
        assert!(platform_defaults.contains(&PathBuf::from("/usr")));
        assert!(!platform_defaults.contains(&cwd), "the cwd was asked for, not a platform default");
        if fs::symlink_metadata("/bin").is_ok_and(|m| m.file_type().is_symlink()) {
            assert!(links.iter().any(|(link, _)| link == Path::new("/bin")), "{links:?}");
        }
        assert!(roots.contains(&cwd));
        assert!(roots.contains(&PathBuf::from("/usr")));
        assert_eq!(skipped[0].path, PathBuf::from("/nonexistent-root"));
        fs::remove_dir_all(cwd).unwrap();
    }

    fn profile(entries: &[String]) -> Permissions {
        crate::policy::parse_permission_profile(&format!(
            r#"{{"type":"managed","file_system":{{"type":"restricted","entries":[{}]}}}}"#,
            entries.join(",")
        ))
        .unwrap()
    }

    fn entry(path: &Path, access: &str) -> String {
        format!(r#"{{"path":{{"type":"path","path":"{}"}},"access":"{access}"}}"#, path.display())
    }

    fn root_read() -> String {
        r#"{"path":{"type":"special","value":{"kind":"root"}},"access":"read"}"#.to_owned()
    }

    #[test]
    fn deny_beats_write_at_equal_depth_and_a_deeper_read_is_carved_out() {
        let cwd = scratch("precedence");
        fs::create_dir(cwd.join("docs")).unwrap();
        fs::create_dir(cwd.join("secret")).unwrap();
        fs::write(cwd.join("key.pem"), "k").unwrap();
        let view = resolve(
            &profile(&[
                root_read(),
                entry(&cwd, "write"),
                entry(&cwd.join("docs"), "read"),
                entry(&cwd.join("secret"), "write"),
                entry(&cwd.join("secret"), "deny"),
                entry(&cwd.join("key.pem"), "none"),
            ]),
            &cwd,
            None,
        )
        .unwrap();
        let roots: Vec<&Path> = view.writable_roots.iter().map(|r| r.path.as_path()).collect();
        assert_eq!(roots, vec![cwd.as_path()], "the denied `secret` is not writable");
        let docs = view.protected_paths().find(|p| p.path == cwd.join("docs")).expect("docs carved out");
        assert_eq!((docs.kind, docs.reason.as_str()), (ProtectedKind::Directory, "read-only by entries[2]"));
        assert_eq!(
            view.deny_read,
            vec![
                DenyRead { path: cwd.join("secret"), kind: DenyKind::Directory, reason: "denied by entries[4]".into() },
                DenyRead { path: cwd.join("key.pem"), kind: DenyKind::File, reason: "denied by entries[5]".into() },
            ]
        );
        assert!(matches!(view.read, ReadScope::Full));
        fs::remove_dir_all(cwd).unwrap();
    }

    #[test]
    fn grants_inside_a_denied_path_are_refused_and_a_writable_root_keeps_its_exceptions() {
        let cwd = scratch("refusals");
        fs::create_dir_all(cwd.join("private/sub")).unwrap();
        let error = resolve(
            &profile(&[root_read(), entry(&cwd.join("private"), "deny"), entry(&cwd.join("private/sub"), "write")]),
            &cwd,
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("writable access to") && error.contains("inside the denied"), "{error}");
        // A writable `/` keeps its narrower entries (and is not "no sandbox").
        let root_write = r#"{"path":{"type":"special","value":{"kind":"root"}},"access":"write"}"#.to_owned();
        let view = resolve(&profile(&[root_write.clone(), entry(&cwd, "read")]), &cwd, None).unwrap();
        assert!(!view.full_write);
        assert_eq!(view.writable_roots[0].path, PathBuf::from("/"));
        assert!(view.protected_paths().any(|p| p.path == cwd && p.kind == ProtectedKind::Directory));
        assert!(!resolve(&profile(&[root_write]), &cwd, None).unwrap().full_write);
        fs::remove_dir_all(cwd).unwrap();
    }

    #[test]
    fn missing_paths_in_a_writable_root_are_kept_from_being_created() {
        let cwd = scratch("missing-deny");
        fs::create_dir(cwd.join(".git")).unwrap();
        fs::create_dir(cwd.join("private")).unwrap();
        let view = resolve(
            &profile(&[
                root_read(),
                entry(&cwd, "write"),
                // Already read-only, or already hidden: no placeholder on the host.
                entry(&cwd.join(".git/hooks-new"), "deny"),
                entry(&cwd.join("private"), "deny"),
                entry(&cwd.join("private/new"), "deny"),
                entry(&cwd.join("later/deep/secret"), "deny"),
                entry(&cwd.join(".aws"), "read"),
                entry(Path::new("/nonexistent-codex-sandbox/x"), "deny"),
            ]),
            &cwd,
            None,
        )
        .unwrap();
        let later = view.protected_paths().find(|p| p.path == cwd.join("later")).expect("first missing component");
        assert!(later.kind == ProtectedKind::Missing && later.placeholder_if_missing, "{later:?}");
        let aws = view.protected_paths().find(|p| p.path == cwd.join(".aws")).expect(".aws");
        assert!(aws.placeholder_if_missing);
        assert!(!view.protected_paths().any(|p| p.path.starts_with(cwd.join(".git/hooks-new"))));
        assert!(!view.protected_paths().any(|p| p.path.starts_with(cwd.join("private"))));
        assert_eq!(view.deny_read.iter().map(|d| d.path.clone()).collect::<Vec<_>>(), vec![cwd.join("private")]);
        assert!(view.policy_entries.notes.iter().any(|n| n.contains("/nonexistent-codex-sandbox/x")), "{view:?}");
        fs::remove_dir_all(cwd).unwrap();
    }

    #[test]
    fn symlinks_are_masked_at_their_target_and_unknown_kinds_are_listed() {
        let cwd = scratch("symlink-deny");
        fs::create_dir(cwd.join("private")).unwrap();
        fs::write(cwd.join("private/key.txt"), "k").unwrap();
        symlink("private/key.txt", cwd.join("link")).unwrap();
        fs::create_dir(cwd.join(".aws")).unwrap();
        let view = resolve(
            &profile(&[
                root_read(),
                entry(&cwd, "write"),
                entry(&cwd.join("link"), "deny"),
                r#"{"path":{"type":"special","value":{"kind":"vault","path":"/v"}},"access":"read"}"#.into(),
            ]),
            &cwd,
            None,
        )
        .unwrap();
        assert_eq!(view.deny_read.len(), 1);
        assert_eq!(view.deny_read[0].path, cwd.join("private/key.txt"));
        assert!(view.deny_read[0].reason.contains(&format!("as `{}`", cwd.join("link").display())));
        assert!(view.policy_entries.ignored[0].contains("`vault`"), "{:?}", view.policy_entries.ignored);
        // `.aws` is a protected name of every writable root.
        assert!(view.protected_paths().any(|p| p.path == cwd.join(".aws") && p.kind == ProtectedKind::Directory));
        fs::remove_dir_all(cwd).unwrap();
    }

    #[test]
    fn a_deny_outside_a_restricted_view_needs_no_mask() {
        let cwd = scratch("restricted-deny");
        let elsewhere = scratch("restricted-deny-elsewhere");
        let minimal = r#"{"path":{"type":"special","value":{"kind":"minimal"}},"access":"read"}"#.to_owned();
        let cwd_write =
            r#"{"path":{"type":"special","value":{"kind":"current_working_directory"}},"access":"write"}"#.to_owned();
        let view = resolve(&profile(&[minimal, cwd_write, entry(&elsewhere, "deny")]), &cwd, None).unwrap();
        assert!(view.deny_read.is_empty());
        let ReadScope::Restricted { roots, .. } = &view.read else { panic!("restricted") };
        assert!(roots.contains(&cwd) && roots.contains(&PathBuf::from("/usr")) && !roots.contains(&elsewhere));
        assert!(view.policy_entries.notes[0].contains("not readable under this policy anyway"));
        fs::remove_dir_all(cwd).unwrap();
        fs::remove_dir_all(elsewhere).unwrap();
    }

    fn argument_error(result: Result<impl std::fmt::Debug>) -> (String, String) {
        match result {
            Err(Error::InvalidArgument { field, message }) => (field, message),
            other => panic!("expected an invalid-argument error, got {other:?}"),
        }
    }

    #[test]
    fn tmpdir_or_tmp_opening_root_or_home_is_refused_unless_explicit() {
        let cwd = scratch("implicit-roots");
        let to_root = cwd.join("to-root");
        symlink("/", &to_root).unwrap();
        let mut refused = vec![PathBuf::from("/"), to_root.clone()];
        for home in home_directories().into_iter().filter(|h| h.is_dir() && *h != Path::new("/")) {
            refused.push(home.clone());
            refused.extend(home.parent().map(Path::to_path_buf));
        }
        for tmpdir in &refused {
            let (field, message) = argument_error(resolve(&workspace(vec![], false), &cwd, Some(tmpdir.as_os_str())));
            assert_eq!(field, "TMPDIR", "{message}");
            assert!(message.contains(&format!("`{}`", tmpdir.display())), "{message}");
            assert!(message.contains("writable_roots"), "{message}");
            // Named explicitly, the same directory is a writable root.
            let view = resolve(&workspace(vec![tmpdir.clone()], false), &cwd, Some(tmpdir.as_os_str())).unwrap();
            let canonical = fs::canonicalize(tmpdir).unwrap();
            assert!(view.writable_roots.iter().any(|r| r.path == canonical && r.source == RootSource::Explicit));
            // Excluded, it is simply not a root.
            let policy = SandboxPolicy::WorkspaceWrite {
                writable_roots: vec![],
                read_only_access: ReadAccess::FullAccess,
                network_access: false,
                exclude_tmpdir_env_var: true,
                exclude_slash_tmp: false,
            };
            resolve(&policy.to_permissions(), &cwd, Some(tmpdir.as_os_str())).unwrap();
        }
        // An ordinary TMPDIR is fine.
        let ordinary = cwd.join("tmp");
        fs::create_dir(&ordinary).unwrap();
        resolve(&workspace(vec![], false), &cwd, Some(ordinary.as_os_str())).unwrap();
        fs::remove_dir_all(cwd).unwrap();
    }

    #[test]
    fn bwrap_path_must_be_absolute_executable_and_out_of_reach() {
        let cwd = scratch("bwrap-path");
        let view = resolve(&workspace(vec![], true), &cwd, None).unwrap();
        let executable = fs::canonicalize("/bin/sh").unwrap();
        assert_eq!(check_bwrap_path(Path::new("/bin/sh"), &view, "bwrap-path").unwrap(), executable);

        let inside = cwd.join("bwrap");
        fs::copy(&executable, &inside).unwrap();
        let link = cwd.join("link-to-sh");
        symlink(&executable, &link).unwrap();
        let dir_link = cwd.join("bin");
        symlink("/bin", &dir_link).unwrap();
        let plain = std::env::temp_dir().join(format!("codex-sandbox-not-executable-{}", std::process::id()));
        fs::write(&plain, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&plain, fs::Permissions::from_mode(0o644)).unwrap();
        let cases: [(PathBuf, &str); 7] = [
            (PathBuf::from("bwrap"), "relative path"),
            (PathBuf::from("./bin/bwrap"), "relative path"),
            (PathBuf::from("/nonexistent/bwrap"), "cannot be used"),
            (PathBuf::from("/bin"), "not a regular file"),
            (inside.clone(), "lies in a writable root"),
            (link.clone(), "lies in a writable root"),
            (dir_link.join("sh"), "lies in a writable root"),
        ];
        for (path, expected) in cases {
            let (field, message) = argument_error(check_bwrap_path(&path, &view, "bwrap-path"));
            assert_eq!(field, "bwrap-path");
            assert!(message.contains(expected) && message.contains(&format!("`{}`", path.display())), "{message}");
        }
        // Refused by the mode check even for root, whom access(X_OK) would let through.
        let (_, message) = argument_error(check_bwrap_path(&plain, &view, "bwrap-path"));
        assert!(message.contains("not executable"), "{message}");
        let full = resolve(&SandboxPolicy::DangerFullAccess.to_permissions(), &cwd, None).unwrap();
        let (_, message) = argument_error(check_bwrap_path(Path::new("/bin/sh"), &full, "bwrap-path"));
        assert!(message.contains("write everywhere"), "{message}");
        fs::remove_file(plain).unwrap();
        fs::remove_dir_all(cwd).unwrap();
    }
}
