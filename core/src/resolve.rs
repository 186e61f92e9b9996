//! From a policy to concrete paths: which roots are writable, which paths inside them stay
//! read-only, and what may be read.
//!
//! This is the one place that decides these sets; every pipeline (and the Seatbelt generator)
//! consumes its result. It only reads the filesystem (`stat`, `readlink`, reading `.git`
//! pointer files) and never changes it.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::policy::{ReadAccess, SandboxPolicy};

/// Names that stay read-only inside every writable root: the command must not rewrite git hooks
/// or config (code execution on the next `git` run outside the sandbox), nor Codex's or other
/// agents' configuration.
pub const PROTECTED_NAMES: [&str; 3] = [".git", ".agents", ".codex"];

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
#[derive(Clone, Debug, Serialize)]
pub struct FilesystemView {
    /// The command may write anywhere (danger-full-access, external-sandbox).
    pub full_write: bool,
    pub read: ReadScope,
    /// Writable roots, canonical, without duplicates, shallowest first.
    pub writable_roots: Vec<WritableRoot>,
    /// Roots the policy named that do not exist (or are not directories); not fatal.
    pub skipped_roots: Vec<SkippedPath>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "scope", rename_all = "kebab-case")]
pub enum ReadScope {
    /// Everything the user can read.
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
pub fn resolve(policy: &SandboxPolicy, policy_cwd: &Path, tmpdir: Option<&OsStr>) -> Result<FilesystemView> {
    let policy_cwd = canonical_dir(policy_cwd, "sandbox-policy-cwd")?;
    let mut view = FilesystemView {
        full_write: policy.has_full_disk_write_access(),
        read: ReadScope::Full,
        writable_roots: Vec::new(),
        skipped_roots: Vec::new(),
    };

    if let SandboxPolicy::WorkspaceWrite { writable_roots, exclude_tmpdir_env_var, exclude_slash_tmp, .. } = policy {
        let mut candidates: Vec<(PathBuf, RootSource)> =
            writable_roots.iter().map(|root| (root.clone(), RootSource::Explicit)).collect();
        candidates.push((policy_cwd.clone(), RootSource::PolicyCwd));
        if !exclude_slash_tmp && Path::new("/tmp").is_dir() {
            candidates.push((PathBuf::from("/tmp"), RootSource::SlashTmp));
        }
        if !exclude_tmpdir_env_var && let Some(tmpdir) = tmpdir.filter(|t| !t.is_empty()) {
            let tmpdir = Path::new(tmpdir);
            if tmpdir.to_str().is_none() {
                return Err(Error::argument("TMPDIR", format!("`{}` is not valid UTF-8", tmpdir.display())));
            }
            if !tmpdir.is_absolute() {
                return Err(Error::argument(
                    "TMPDIR",
                    format!("relative path `{}`; expected an absolute path", tmpdir.display()),
                ));
            }
            candidates.push((tmpdir.to_path_buf(), RootSource::TmpdirEnv));
        }

        for (path, source) in candidates {
            match fs::canonicalize(&path) {
                Ok(canonical) if canonical.is_dir() => {
                    if !view.writable_roots.iter().any(|r| r.path == canonical) {
                        check_implicit_root(&path, &canonical, source)?;
                        view.writable_roots.push(WritableRoot { path: canonical, source, protected: Vec::new() });
                    }
                }
                Ok(_) => view.skipped_roots.push(SkippedPath { path, reason: "not a directory".into() }),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    view.skipped_roots.push(SkippedPath { path, reason: "does not exist".into() })
                }
                Err(e) => return Err(Error::path("cannot resolve writable root", path, e)),
            }
        }
        view.writable_roots.sort_by_key(|root| (root.path.components().count(), root.path.clone()));

        for index in 0..view.writable_roots.len() {
            let is_cwd = view.writable_roots[index].path == policy_cwd;
            let protected = protected_paths_of(&view.writable_roots[index].path, is_cwd)?;
            view.writable_roots[index].protected = protected;
        }
        check_roots_outside_protected(&view)?;
    }

    if let ReadAccess::Restricted { include_platform_defaults, readable_roots } = policy.read_access() {
        view.read = restricted_read_scope(&view, &policy_cwd, readable_roots, *include_platform_defaults)?;
    }
    Ok(view)
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

/// The protected paths directly under one (canonical) writable root.
fn protected_paths_of(root: &Path, is_policy_cwd: bool) -> Result<Vec<ProtectedPath>> {
    let mut protected = Vec::new();
    for name in PROTECTED_NAMES {
        let path = root.join(name);
        let metadata = match fs::symlink_metadata(&path) {
            Ok(metadata) => Some(metadata),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::path("cannot inspect protected path", path, e)),
        };
        // A `.git` created in a cwd inside a repository would shadow that repository for the
        // user's next `git` there, with hooks and config (`core.fsmonitor`) of the command's
        // choosing. An empty read-only `.git` is ignored by git's discovery, which goes on to
        // the enclosing repository. (Outside any repository, `git init` stays possible.)
        let shadows_repository = name == ".git" && is_policy_cwd && enclosing_repository(root).is_some();
        let placeholder_if_missing = is_policy_cwd && (name == ".codex" || shadows_repository);
        let Some(metadata) = metadata else {
            if placeholder_if_missing {
                let reason = if name == ".codex" {
                    "Codex configuration; kept from being created in the policy cwd".to_owned()
                } else {
                    let repository = enclosing_repository(root).unwrap_or_default();
                    format!("would shadow the repository at `{}`; kept from being created", repository.display())
                };
                protected.push(ProtectedPath {
                    path,
                    kind: ProtectedKind::Missing,
                    reason,
                    identity: None,
                    placeholder_if_missing,
                });
            }
            continue;
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
        let identity = Some((metadata.dev(), metadata.ino()));
        let reason = match name {
            ".git" => "git metadata (hooks and config run code outside the sandbox)",
            ".agents" => "agent configuration",
            _ => "Codex configuration",
        };
        if metadata.is_dir() {
            protected.push(ProtectedPath {
                path,
                kind: ProtectedKind::Directory,
                reason: reason.into(),
                identity,
                placeholder_if_missing,
            });
        } else if name != ".git" || metadata.is_file() {
            protected.push(ProtectedPath {
                path: path.clone(),
                kind: ProtectedKind::File,
                reason: reason.into(),
                identity,
                placeholder_if_missing,
            });
            if name == ".git"
                && let Some(target) = gitdir_target(&path)?
            {
                protected.push(target);
            }
        }
    }
    Ok(protected)
}

/// The nearest ancestor of `dir` that is a git work tree: it has a `.git` directory with a
/// `HEAD`, or a `.git` file pointing elsewhere.
fn enclosing_repository(dir: &Path) -> Option<PathBuf> {
    dir.ancestors().skip(1).find_map(|ancestor| {
        let dot_git = ancestor.join(".git");
        let metadata = fs::symlink_metadata(&dot_git).ok()?;
        let is_repository = if metadata.is_dir() {
            dot_git.join("HEAD").exists()
        } else {
            metadata.is_file() && fs::read_to_string(&dot_git).is_ok_and(|text| text.starts_with("gitdir:"))
        };
        is_repository.then(|| ancestor.to_path_buf())
    })
}

/// For a `.git` file of the form `gitdir: <path>`, the directory it points to.
fn gitdir_target(dot_git: &Path) -> Result<Option<ProtectedPath>> {
    let mut text = String::new();
    {
        use std::io::Read;
        let file = fs::File::open(dot_git).map_err(|e| Error::path("cannot read git pointer file", dot_git, e))?;
        // A pointer file is one short line; a large file is not a pointer.
        file.take(4096)
            .read_to_string(&mut text)
            .map_err(|e| Error::path("cannot read git pointer file", dot_git, e))?;
    }
    let Some(pointer) = text.lines().next().and_then(|line| line.strip_prefix("gitdir:")) else {
        return Ok(None);
    };
    let pointer = Path::new(pointer.trim());
    let base = dot_git.parent().unwrap_or(Path::new("/"));
    let target = base.join(pointer);
    let canonical = match fs::canonicalize(&target) {
        Ok(canonical) => canonical,
        // A dangling pointer protects nothing more than the file itself.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::path("cannot resolve gitdir target", target, e)),
    };
    let metadata = fs::metadata(&canonical).map_err(|e| Error::path("cannot inspect gitdir target", &canonical, e))?;
    if !metadata.is_dir() {
        return Ok(None);
    }
    Ok(Some(ProtectedPath {
        path: canonical,
        kind: ProtectedKind::Directory,
        reason: format!("gitdir target of `{}`", dot_git.display()),
        identity: Some((metadata.dev(), metadata.ino())),
        placeholder_if_missing: false,
    }))
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

fn restricted_read_scope(
    view: &FilesystemView,
    policy_cwd: &Path,
    readable_roots: &[PathBuf],
    include_platform_defaults: bool,
) -> Result<ReadScope> {
    let mut requested: Vec<PathBuf> = readable_roots.to_vec();
    requested.push(policy_cwd.to_path_buf());
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
    use std::os::unix::fs::symlink;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("codex-sandbox-resolve-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::canonicalize(dir).unwrap()
    }

    fn workspace(extra: Vec<PathBuf>, exclude_tmp: bool) -> SandboxPolicy {
        SandboxPolicy::WorkspaceWrite {
            writable_roots: extra,
            read_only_access: ReadAccess::FullAccess,
            network_access: false,
            exclude_tmpdir_env_var: exclude_tmp,
            exclude_slash_tmp: exclude_tmp,
        }
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
    fn missing_git_is_protected_only_where_it_would_shadow_a_repository() {
        let top = scratch("shadow");
        fs::create_dir_all(top.join(".git")).unwrap();
        fs::write(top.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
        let cwd = top.join("sub");
        fs::create_dir(&cwd).unwrap();
        let view = resolve(&workspace(vec![], true), &cwd, None).unwrap();
        let git = view.protected_paths().find(|p| p.path == cwd.join(".git")).expect("protected");
        assert_eq!(git.kind, ProtectedKind::Missing);
        assert!(git.placeholder_if_missing && git.reason.contains("shadow"));
        fs::remove_dir_all(top.join(".git")).unwrap();
        let view = resolve(&workspace(vec![], true), &cwd, None).unwrap();
        assert!(
            !view.protected_paths().any(|p| p.path == cwd.join(".git")),
            "outside a repository, git init stays possible"
        );
        fs::remove_dir_all(top).unwrap();
    }

    #[test]
    fn missing_codex_only_protected_in_policy_cwd() {
        let cwd = scratch("codex-cwd");
        let other = cwd.join("other");
        fs::create_dir(&other).unwrap();
        let view = resolve(&workspace(vec![other.clone()], true), &cwd, None).unwrap();
        let other_root = view.writable_roots.iter().find(|r| r.path == other).unwrap();
        assert!(other_root.protected.is_empty());
        fs::remove_dir_all(cwd).unwrap();
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
        let err = resolve(&SandboxPolicy::read_only(), Path::new("rel"), None).unwrap_err().to_string();
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
        let view = resolve(&policy, &cwd, None).unwrap();
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
            let mut policy = workspace(vec![], false);
            if let SandboxPolicy::WorkspaceWrite { exclude_tmpdir_env_var, .. } = &mut policy {
                *exclude_tmpdir_env_var = true;
            }
            resolve(&policy, &cwd, Some(tmpdir.as_os_str())).unwrap();
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
        let full = resolve(&SandboxPolicy::DangerFullAccess, &cwd, None).unwrap();
        let (_, message) = argument_error(check_bwrap_path(Path::new("/bin/sh"), &full, "bwrap-path"));
        assert!(message.contains("write everywhere"), "{message}");
        fs::remove_file(plain).unwrap();
        fs::remove_dir_all(cwd).unwrap();
    }
}
