//! Protected names created during the run anywhere inside a writable root (`sub/.git` as a
//! directory, a file, a symlink, a hard link or renamed in; a planted `.envrc`): found once the
//! whole process tree is gone, removed, and reported, so the run fails naming each path.
//!
//! This is detection, not prevention (docs/security.md says why): directly under each writable
//! root the names are kept from being created by the sandbox's view; deeper down the command
//! can create them, and this sweep makes sure none survives the run.
//!
//! Before the run every entry with a protected name inside the writable roots is recorded as
//! (its directory's inode, its name, its own inode and birth time). After the run the same walk
//! finds every entry with a protected name that is not one of those — created, renamed or
//! hard-linked in, or recreated in place — and removes it (a directory recursively, never
//! following a symbolic link). Entries that were there before are left alone, even when the
//! command changed what is inside them (a vendored repository's `.git/hooks`: a residual risk).
//!
//! Every step acts on descriptors the walk opened itself (`openat` with `O_NOFOLLOW`,
//! `statx` and `unlinkat` relative to them), never on a path that could be swapped, and the
//! walk visits at most [`MAX_ENTRIES`] directory entries. More before the run refuses the run
//! (nothing is spawned); more after the run fails it as "not fully checked". Never silently.

use std::collections::HashSet;
use std::ffi::{CStr, CString, OsStr};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::rc::Rc;

use crate::error::{Error, Result};
use crate::resolve::ProtectedNames;
use crate::sys::{self, EntryStat, Errno, StatxTimestamp};

/// The most directory entries one walk visits (the swept roots' trees together). A walk of
/// 300 000 entries (100 000 directories) takes 0.7–1.2 s on this project's machine
/// (`cargo bench -p codex-sandbox-core --bench protected_sweep`), so this bound is several
/// seconds per walk: past it the check could no longer keep up with a run, and refuses.
pub const MAX_ENTRIES: usize = 2_000_000;

/// How deep a removal descends: a directory tree deeper than this is reported, not removed.
const MAX_REMOVE_DEPTH: usize = 256;

/// Pseudo file systems never walked (a writable root of `/` holds them).
const PSEUDO_FILE_SYSTEMS: [i64; 10] = [
    0x9fa0,      // proc
    0x6265_6572, // sysfs
    0x1cd1,      // devpts
    0x0027_e0eb, // cgroup
    0x6367_7270, // cgroup2
    0x6462_6720, // debugfs
    0x7472_6163, // tracefs
    0x7363_6673, // securityfs
    0xcafe_4a11, // bpf
    0x6165_676c, // pstore
];

/// One entry with a protected name, as it was found.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Known {
    parent: (u64, u64),
    name: Vec<u8>,
    entry: (u64, u64),
    btime: Option<StatxTimestamp>,
}

/// What to check after the run, recorded before it.
#[derive(Debug)]
pub struct Sweep {
    roots: Vec<PathBuf>,
    names: ProtectedNames,
    /// Directories not walked: the read-only protected paths (nothing can be created there).
    skip: HashSet<(u64, u64)>,
    before: HashSet<Known>,
    /// Entries visited before the run, for the benchmark.
    pub visited: usize,
    /// The bound of each walk.
    max: usize,
}

/// What the sweep found after the run.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Protected names created during the run, removed.
    pub removed: Vec<PathBuf>,
    /// Protected names created during the run that could not be removed, and why.
    pub not_removed: Vec<(PathBuf, String)>,
    /// Why the walk could not look everywhere, when it could not.
    pub incomplete: Option<String>,
    pub visited: usize,
}

impl Outcome {
    /// The run's failure, when there is one.
    pub fn into_error(self) -> Option<Error> {
        if self.removed.is_empty() && self.not_removed.is_empty() && self.incomplete.is_none() {
            return None;
        }
        Some(Error::ProtectedNameCreated {
            removed: self.removed,
            not_removed: self.not_removed.into_iter().map(|(p, why)| format!("`{}` ({why})", p.display())).collect(),
            incomplete: self.incomplete,
        })
    }
}

enum Visit {
    Descend,
    Stop,
}

impl Sweep {
    /// Records the protected names present in `roots` now. `skip` are directories (device,
    /// inode) not to walk. Refuses (nothing runs) when the roots hold more than
    /// [`MAX_ENTRIES`] entries or cannot be walked.
    pub fn before(roots: &[PathBuf], names: &ProtectedNames, skip: &[(u64, u64)]) -> Result<Sweep> {
        Sweep::before_bounded(roots, names, skip, MAX_ENTRIES)
    }

    /// [`Sweep::before`] with another bound (for the tests).
    fn before_bounded(roots: &[PathBuf], names: &ProtectedNames, skip: &[(u64, u64)], max: usize) -> Result<Sweep> {
        let mut sweep = Sweep {
            roots: outermost(roots),
            names: names.clone(),
            skip: skip.iter().copied().collect(),
            before: HashSet::new(),
            visited: 0,
            max,
        };
        let mut before = HashSet::new();
        let walked = walk(&sweep.roots, &sweep.names, &sweep.skip, sweep.max, &mut |found: Found| {
            before.insert(found.known());
            Visit::Descend
        });
        match walked {
            Ok(visited) => sweep.visited = visited,
            Err(why) => {
                return Err(Error::Unsupported {
                    what: "checking the writable roots for protected names created during the run".into(),
                    reason: format!("{why}; narrow the writable roots (or unprotect the names) to run"),
                });
            }
        }
        sweep.before = before;
        Ok(sweep)
    }

    /// Call once every process of the run is gone: removes every protected name that was not
    /// there before.
    pub fn after(self) -> Outcome {
        let mut outcome = Outcome::default();
        let walked = walk(&self.roots, &self.names, &self.skip, self.max, &mut |found: Found| {
            if self.before.contains(&found.known()) {
                return Visit::Descend;
            }
            match remove(&found) {
                Ok(Removal::Removed) => outcome.removed.push(found.path),
                Ok(Removal::LivePlaceholder) => {}
                Err(why) => outcome.not_removed.push((found.path, why)),
            }
            Visit::Stop
        });
        match walked {
            Ok(visited) => outcome.visited = visited,
            Err(why) => outcome.incomplete = Some(why),
        }
        outcome
    }
}

/// The roots that do not lie inside another (whose walk covers them).
fn outermost(roots: &[PathBuf]) -> Vec<PathBuf> {
    let mut kept: Vec<PathBuf> = Vec::new();
    for root in roots {
        if !roots.iter().any(|other| other != root && root.starts_with(other)) && !kept.contains(root) {
            kept.push(root.clone());
        }
    }
    kept
}

/// An entry with a protected name, and the directory descriptor it was found through.
struct Found {
    path: PathBuf,
    parent: Rc<OwnedFd>,
    parent_id: (u64, u64),
    name: CString,
    stat: EntryStat,
}

impl Found {
    fn known(&self) -> Known {
        Known {
            parent: self.parent_id,
            name: self.name.as_bytes().to_vec(),
            entry: (self.stat.dev, self.stat.ino),
            btime: self.stat.btime,
        }
    }
}

/// A directory still to read: opened only when its turn comes, so the walk holds one
/// descriptor per level of depth (its parents'), however many siblings wait.
struct Pending {
    /// The directory it is in (`None` for a root) and its name there.
    parent: Option<(Rc<OwnedFd>, (u64, u64), CString)>,
    path: PathBuf,
}

/// Walks `roots` depth first and calls `visit` for each entry whose name is protected. Returns
/// the number of entries visited, or why the walk could not cover everything: a directory it
/// could not read is reported and the walk goes on with the rest (so what it did find is still
/// visited and removed); past `max` entries it stops.
fn walk(
    roots: &[PathBuf],
    names: &ProtectedNames,
    skip: &HashSet<(u64, u64)>,
    max: usize,
    visit: &mut dyn FnMut(Found) -> Visit,
) -> std::result::Result<usize, String> {
    let mut visited = 0usize;
    let mut problems: Vec<String> = Vec::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut stack: Vec<Pending> = roots.iter().rev().map(|root| Pending { parent: None, path: root.clone() }).collect();
    while let Some(pending) = stack.pop() {
        let (fd, id) = match open_pending(&pending, skip) {
            Ok(Some(opened)) => opened,
            Ok(None) => continue,
            Err(why) => {
                problems.push(why);
                continue;
            }
        };
        let dir = Rc::new(fd);
        let entries = match read_names(dir.as_raw_fd(), &mut buffer) {
            Ok(entries) => entries,
            // Removed while being walked (by a host process): empty.
            Err(Errno(libc::ENOENT)) => continue,
            Err(errno) => {
                problems.push(format!("cannot read `{}`: {}", pending.path.display(), errno.into_io()));
                continue;
            }
        };
        let mut below = Vec::new();
        for (name, d_type) in entries {
            visited += 1;
            if visited > max {
                return Err(format!("the writable roots hold more than {max} entries, the bound of this check"));
            }
            let path = pending.path.join(OsStr::from_bytes(name.as_bytes()));
            let descend = if names.contains(name.as_bytes()) {
                let stat = match sys::stat_entry(dir.as_raw_fd(), &name) {
                    Ok(stat) => stat,
                    Err(errno) if errno.0 == libc::ENOENT => continue,
                    Err(errno) => {
                        problems.push(format!("cannot inspect `{}`: {}", path.display(), errno.into_io()));
                        continue;
                    }
                };
                let is_dir = stat.is_dir();
                let found = Found { path: path.clone(), parent: dir.clone(), parent_id: id, name: name.clone(), stat };
                matches!(visit(found), Visit::Descend) && is_dir
            } else {
                d_type == libc::DT_DIR || d_type == libc::DT_UNKNOWN
            };
            if descend {
                below.push(Pending { parent: Some((dir.clone(), id, name)), path });
            }
        }
        // Depth first, in directory order.
        stack.extend(below.into_iter().rev());
    }
    if problems.is_empty() {
        return Ok(visited);
    }
    let more = problems.len().saturating_sub(3);
    problems.truncate(3);
    let tail = if more > 0 { format!(" (and {more} more)") } else { String::new() };
    Err(format!("{}{tail}", problems.join("; ")))
}

/// An open directory and its (device, inode).
type OpenDir = (OwnedFd, (u64, u64));

/// Opens a queued directory (never through a symbolic link) with its (device, inode), or
/// `None` when it is not one to walk: gone, not a directory after all, skipped, a pseudo file
/// system, or one the command could not have written in.
fn open_pending(pending: &Pending, skip: &HashSet<(u64, u64)>) -> std::result::Result<Option<OpenDir>, String> {
    let path = &pending.path;
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
    let opened = match &pending.parent {
        None => {
            let c_root =
                CString::new(path.as_os_str().as_bytes()).map_err(|_| format!("`{}`: NUL in path", path.display()))?;
            sys::open(&c_root, flags)
        }
        Some((parent, _, name)) => match sys::openat(parent.as_raw_fd(), name, flags) {
            // Unreadable, but ours: the command (same ids) may have created entries in it and
            // then taken its own read right away. Read it anyway.
            Err(Errno(libc::EACCES)) => open_own_unreadable(parent.as_raw_fd(), name),
            other => other,
        },
    };
    let fd = match opened {
        Ok(fd) => fd,
        Err(Errno(libc::ENOTDIR | libc::ELOOP | libc::ENOENT)) => return Ok(None),
        // A directory this user cannot read and does not own: the command (same ids) could
        // neither have changed its mode nor created anything in it, unless it may write there.
        Err(Errno(libc::EACCES))
            if pending
                .parent
                .as_ref()
                .is_some_and(|(parent, _, name)| sys::may_write_at(parent.as_raw_fd(), name).is_err()) =>
        {
            return Ok(None);
        }
        Err(errno) => return Err(format!("cannot open `{}`: {}", path.display(), errno.into_io())),
    };
    let st = sys::fstat(fd.as_raw_fd()).map_err(|errno| format!("`{}`: {}", path.display(), errno.into_io()))?;
    let id = (st.st_dev, st.st_ino);
    if skip.contains(&id) {
        return Ok(None);
    }
    if let Some((_, parent_id, _)) = &pending.parent
        && st.st_dev != parent_id.0
        && sys::fs_type(fd.as_raw_fd()).is_ok_and(|kind| PSEUDO_FILE_SYSTEMS.contains(&kind))
    {
        return Ok(None);
    }
    Ok(Some((fd, id)))
}

/// Opens for reading the directory `name` in `parent` that this user owns but may not read:
/// through an `O_PATH` descriptor of it (no symbolic link followed), adds the owner's read and
/// search bits for as long as it takes to open that same inode again by `/proc/self/fd`, and
/// puts the mode back. Anything else (not ours, not a directory, no `/proc`) stays EACCES.
fn open_own_unreadable(parent: RawFd, name: &CStr) -> sys::SysResult<OwnedFd> {
    let denied = Errno(libc::EACCES);
    let handle = sys::openat(parent, name, libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW)?;
    let st = sys::fstat(handle.as_raw_fd())?;
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR || st.st_uid != sys::geteuid() {
        return Err(denied);
    }
    let magic = CString::new(format!("/proc/self/fd/{}", handle.as_raw_fd())).map_err(|_| denied)?;
    let mode = st.st_mode & 0o7777;
    sys::fchmodat(libc::AT_FDCWD, &magic, mode | libc::S_IRUSR | libc::S_IXUSR)?;
    let opened = sys::open(&magic, libc::O_RDONLY | libc::O_DIRECTORY);
    let restored = sys::fchmodat(libc::AT_FDCWD, &magic, mode);
    let fd = opened?;
    restored?;
    Ok(fd)
}

/// The names in a directory (without `.` and `..`) with their `d_type`.
fn read_names(fd: RawFd, buffer: &mut [u8]) -> sys::SysResult<Vec<(CString, u8)>> {
    let mut names = Vec::new();
    loop {
        let filled = sys::getdents64(fd, buffer)?;
        if filled == 0 {
            return Ok(names);
        }
        let mut offset = 0;
        // struct linux_dirent64 { u64 d_ino; i64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
        while offset + 19 <= filled {
            let record = &buffer[offset..filled];
            let reclen = usize::from(u16::from_ne_bytes([record[16], record[17]]));
            if reclen < 19 || reclen > record.len() {
                return Err(Errno(libc::EIO));
            }
            let d_type = record[18];
            let raw = &record[19..reclen];
            let name = &raw[..raw.iter().position(|b| *b == 0).unwrap_or(raw.len())];
            if name != b"." && name != b".." {
                names.push((CString::new(name).map_err(|_| Errno(libc::EIO))?, d_type));
            }
            offset += reclen;
        }
    }
}

enum Removal {
    Removed,
    /// An empty directory that a running sandbox holds as its placeholder: not this run's.
    LivePlaceholder,
}

/// Removes a protected name the run created, through its directory's descriptor.
fn remove(found: &Found) -> std::result::Result<Removal, String> {
    let parent = found.parent.as_raw_fd();
    if !found.stat.is_dir() {
        return sys::unlinkat(parent, &found.name, 0).map(|()| Removal::Removed).map_err(|e| e.into_io().to_string());
    }
    let dir = sys::openat(parent, &found.name, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .map_err(|e| e.into_io().to_string())?;
    let st = sys::fstat(dir.as_raw_fd()).map_err(|e| e.into_io().to_string())?;
    if (st.st_dev, st.st_ino) != (found.stat.dev, found.stat.ino) {
        return Err("it changed while being removed".into());
    }
    // Another sandbox's placeholder (another run whose writable root lies inside ours) is held
    // under a shared lock until that sandbox is gone; an exclusive lock taken here also keeps a
    // run from joining this directory while it is removed.
    if sys::flock(dir.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB).is_err()
        && sys::has_xattr(dir.as_raw_fd(), super::placeholder::MARKER)
        && read_names(dir.as_raw_fd(), &mut [0u8; 4096]).is_ok_and(|names| names.is_empty())
    {
        return Ok(Removal::LivePlaceholder);
    }
    empty_directory(&dir, 0, &mut { MAX_ENTRIES }).map_err(|e| e.into_io().to_string())?;
    sys::unlinkat(parent, &found.name, libc::AT_REMOVEDIR)
        .map(|()| Removal::Removed)
        .map_err(|e| e.into_io().to_string())
}

/// Removes everything inside the directory `dir`, depth first, through descriptors, taking
/// one from `budget` per entry.
fn empty_directory(dir: &OwnedFd, depth: usize, budget: &mut usize) -> sys::SysResult<()> {
    if depth > MAX_REMOVE_DEPTH {
        return Err(Errno(libc::ELOOP));
    }
    // The command may have left it (or a directory inside) without write permission.
    let _ = sys::fchmod(dir.as_raw_fd(), 0o700);
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        // Read whole, then removed; read again through a fresh descriptor until nothing is left.
        let reading = sys::openat(dir.as_raw_fd(), c".", libc::O_RDONLY | libc::O_DIRECTORY)?;
        let names = read_names(reading.as_raw_fd(), &mut buffer)?;
        if names.is_empty() {
            return Ok(());
        }
        for (name, _) in names {
            *budget = budget.checked_sub(1).ok_or(Errno(libc::EMLINK))?;
            let stat = sys::stat_entry(dir.as_raw_fd(), &name)?;
            if stat.is_dir() {
                let child = sys::openat(dir.as_raw_fd(), &name, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW)?;
                empty_directory(&child, depth + 1, budget)?;
                sys::unlinkat(dir.as_raw_fd(), &name, libc::AT_REMOVEDIR)?;
            } else {
                sys::unlinkat(dir.as_raw_fd(), &name, 0)?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("codex-sandbox-sweep-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::canonicalize(dir).unwrap()
    }

    fn names() -> ProtectedNames {
        ProtectedNames::new(&[".envrc".into()], &[], "protect", "unprotect").unwrap()
    }

    #[test]
    fn what_the_run_created_goes_and_what_was_there_stays() {
        let root = scratch("created");
        fs::create_dir_all(root.join("vendored/.git/hooks")).unwrap();
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::write(root.join("sub/.git"), "gitdir: ../.git/modules/sub\n").unwrap();
        fs::write(root.join("file.txt"), "original").unwrap();
        fs::create_dir_all(root.join("target")).unwrap();
        fs::write(root.join("recreated-parent-marker"), "").unwrap();
        fs::create_dir_all(root.join("r")).unwrap();
        fs::write(root.join("r/.envrc"), "old").unwrap();
        let sweep = Sweep::before(std::slice::from_ref(&root), &names(), &[]).unwrap();

        // The run: every way of making a protected name appear, and changes inside old ones.
        fs::create_dir_all(root.join("a/.git/hooks")).unwrap();
        fs::write(root.join("a/.git/hooks/pre-commit"), "id").unwrap();
        fs::create_dir_all(root.join("b")).unwrap();
        symlink("../target", root.join("b/.git")).unwrap();
        fs::create_dir_all(root.join("c")).unwrap();
        fs::hard_link(root.join("file.txt"), root.join("c/.git")).unwrap();
        fs::create_dir_all(root.join("evil/hooks")).unwrap();
        fs::create_dir_all(root.join("d")).unwrap();
        fs::rename(root.join("evil"), root.join("d/.git")).unwrap();
        fs::write(root.join("vendored/.git/hooks/pre-commit"), "id").unwrap();
        fs::remove_file(root.join("r/.envrc")).unwrap();
        fs::write(root.join("r/.envrc"), "new").unwrap();
        // Read-only for its owner, as a command may leave it.
        fs::create_dir_all(root.join("e/.git/objects")).unwrap();
        fs::set_permissions(root.join("e/.git"), std::os::unix::fs::PermissionsExt::from_mode(0o500)).unwrap();

        let outcome = sweep.after();
        let mut removed = outcome.removed.clone();
        removed.sort();
        let expected: Vec<PathBuf> =
            ["a/.git", "b/.git", "c/.git", "d/.git", "e/.git", "r/.envrc"].iter().map(|p| root.join(p)).collect();
        assert_eq!(removed, expected, "{outcome:?}");
        assert!(outcome.not_removed.is_empty() && outcome.incomplete.is_none(), "{outcome:?}");
        for path in &expected {
            assert!(fs::symlink_metadata(path).is_err(), "{} survived", path.display());
        }
        assert!(root.join("target").is_dir(), "the link was not followed");
        assert_eq!(fs::read_to_string(root.join("file.txt")).unwrap(), "original");
        assert!(root.join("vendored/.git/hooks/pre-commit").is_file(), "pre-existing: left alone");
        assert!(root.join("sub/.git").is_file());
        assert!(Outcome::default().into_error().is_none());
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn another_sandboxs_live_placeholder_is_left_to_it() {
        let root = scratch("placeholder");
        fs::create_dir_all(root.join("inner")).unwrap();
        let sweep = Sweep::before(std::slice::from_ref(&root), &names(), &[]).unwrap();
        let placeholder = root.join("inner/.git");
        fs::create_dir(&placeholder).unwrap();
        let c_path = CString::new(placeholder.as_os_str().as_bytes()).unwrap();
        let held = sys::open(&c_path, libc::O_RDONLY | libc::O_DIRECTORY).unwrap();
        if sys::fsetxattr(held.as_raw_fd(), super::super::placeholder::MARKER, b"1").is_err() {
            eprintln!("SKIP: no user xattrs here");
            fs::remove_dir_all(root).unwrap();
            return;
        }
        sys::flock(held.as_raw_fd(), libc::LOCK_SH).unwrap();
        let outcome = sweep.after();
        assert!(outcome.removed.is_empty() && placeholder.is_dir(), "{outcome:?}");
        drop(held);
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn past_the_bound_the_run_is_refused_before_and_failed_after() {
        let root = scratch("bound");
        for i in 0..5 {
            fs::create_dir_all(root.join(format!("d{i}"))).unwrap();
        }
        let refused = Sweep::before_bounded(std::slice::from_ref(&root), &names(), &[], 3).unwrap_err().to_string();
        assert!(refused.contains("more than 3 entries") && refused.contains("narrow the writable roots"), "{refused}");
        let sweep = Sweep::before_bounded(std::slice::from_ref(&root), &names(), &[], 8).unwrap();
        for i in 0..5 {
            fs::write(root.join(format!("d{i}/x")), "").unwrap();
        }
        let error = sweep.after().into_error().expect("incomplete").to_string();
        assert!(error.contains("could not be fully checked") && error.contains("more than 8 entries"), "{error}");
        fs::remove_dir_all(root).unwrap();
    }
}
