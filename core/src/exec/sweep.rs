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
//!
//! A big tree is walked on several threads sharing one depth-first queue (up to one per core,
//! at most 8); what the walk records, removes and reports does not depend on how they share
//! it.

use std::collections::HashSet;
use std::ffi::{CStr, CString, OsStr};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use crate::error::{Error, Result};
use crate::resolve::ProtectedNames;
use crate::sys::{self, EntryStat, Errno, StatxTimestamp};

/// The most directory entries one walk visits (the swept roots' trees together). A walk of
/// 300 000 entries (100 000 directories) takes 0.65–0.9 s on one thread of this project's
/// machine, 0.35–0.5 s on its two cores (`cargo bench -p codex-sandbox-core --bench
/// protected_sweep`), so this bound is several seconds per walk: past it the check could no
/// longer keep up with a run, and refuses.
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
    /// Threads the walk before the run used, for the benchmark.
    pub threads: usize,
    /// The bound of each walk.
    max: usize,
    /// The most threads each walk may use.
    walkers: usize,
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
    /// Threads the walk used.
    pub threads: usize,
}

impl Outcome {
    /// The run's failure, when there is one.
    /// A check that could not be made: the run fails as not fully checked, saying why.
    pub fn not_checked(why: impl Into<String>) -> Outcome {
        Outcome { incomplete: Some(why.into()), ..Outcome::default() }
    }

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
        Sweep::record(roots, names, skip, MAX_ENTRIES, walkers())
    }

    /// [`Sweep::before`] walking (before and after the run) on at most `walkers` threads, 1
    /// for the sequential walk: for the benchmark, which compares them.
    #[doc(hidden)]
    pub fn before_with_walkers(
        roots: &[PathBuf],
        names: &ProtectedNames,
        skip: &[(u64, u64)],
        walkers: usize,
    ) -> Result<Sweep> {
        Sweep::record(roots, names, skip, MAX_ENTRIES, walkers.max(1))
    }

    /// [`Sweep::before`] with another bound (for the tests).
    #[cfg(test)]
    fn before_bounded(roots: &[PathBuf], names: &ProtectedNames, skip: &[(u64, u64)], max: usize) -> Result<Sweep> {
        Sweep::record(roots, names, skip, max, walkers())
    }

    fn record(
        roots: &[PathBuf],
        names: &ProtectedNames,
        skip: &[(u64, u64)],
        max: usize,
        walkers: usize,
    ) -> Result<Sweep> {
        let mut sweep = Sweep {
            roots: outermost(roots),
            names: names.clone(),
            skip: skip.iter().copied().collect(),
            before: HashSet::new(),
            visited: 0,
            threads: 0,
            max,
            walkers,
        };
        let before = Mutex::new(HashSet::new());
        let walked = walk(&sweep.roots, &sweep.names, &sweep.skip, sweep.max, sweep.walkers, &|found: Found| {
            lock(&before).insert(found.known());
            Visit::Descend
        });
        sweep.threads = walked.threads;
        match walked.visited {
            Ok(visited) => sweep.visited = visited,
            Err(why) => {
                return Err(Error::Unsupported {
                    what: "checking the writable roots for protected names created during the run".into(),
                    reason: format!("{why}; narrow the writable roots (or unprotect the names) to run"),
                });
            }
        }
        sweep.before = before.into_inner().unwrap_or_else(PoisonError::into_inner);
        Ok(sweep)
    }

    /// Call once every process of the run is gone: removes every protected name that was not
    /// there before. Removals run on the walk's threads, each through its own parent's
    /// descriptor.
    pub fn after(self) -> Outcome {
        let outcome = Mutex::new(Outcome::default());
        // The same directory reached by two paths (bind-mounted twice): its entry is removed
        // once, as the sequential walk would find it gone the second time.
        let claimed = Mutex::new(HashSet::new());
        let walked = walk(&self.roots, &self.names, &self.skip, self.max, self.walkers, &|found: Found| {
            if self.before.contains(&found.known()) {
                return Visit::Descend;
            }
            if !lock(&claimed).insert((found.parent_id, found.name.clone())) {
                return Visit::Stop;
            }
            let removal = remove(&found);
            let mut outcome = lock(&outcome);
            match removal {
                Ok(Removal::Removed) => outcome.removed.push(found.path),
                Ok(Removal::LivePlaceholder) => {}
                Err(why) => outcome.not_removed.push((found.path, why)),
            }
            Visit::Stop
        });
        let mut outcome = outcome.into_inner().unwrap_or_else(PoisonError::into_inner);
        // Found in whatever order the threads came by.
        outcome.removed.sort();
        outcome.not_removed.sort();
        outcome.threads = walked.threads;
        match walked.visited {
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
    parent: Arc<OwnedFd>,
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

/// A directory still to read: opened only when its turn comes, so a walk on one thread holds
/// one descriptor per level of depth (its parents'), however many siblings wait. Threads
/// sharing the queue can hold more (each queued directory keeps its parent open, and their
/// paths interleave); a walk that runs out of descriptors fails closed, as any directory it
/// cannot open: refused before the run, not fully checked after it.
struct Pending {
    /// The directory it is in (`None` for a root) and its name there.
    parent: Option<(Arc<OwnedFd>, (u64, u64), CString)>,
    path: PathBuf,
}

/// The most threads one walk uses.
const MAX_WALKERS: usize = 8;

/// How many directories the calling thread reads alone before it brings in more threads (if
/// any directory still waits): a small tree costs no thread. Counted in directories read, not
/// queued: a depth-first walk queues only the siblings left along its path, a few dozen in a
/// wide source tree of thousands of directories.
const PARALLEL_AFTER: usize = 64;

/// The threads a walk may use here: one per core it may run on, at most [`MAX_WALKERS`]
/// (looked up once: the answer reads the affinity mask and the cgroup's CPU quota).
fn walkers() -> usize {
    static WALKERS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *WALKERS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_WALKERS))
}

/// What a walk visited, and with how many threads.
struct Walked {
    /// The entries visited, or why the walk could not cover everything.
    visited: std::result::Result<usize, String>,
    threads: usize,
}

/// Walks `roots` depth first and calls `visit` for each entry whose name is protected, on up
/// to `walkers` threads (the calling thread alone for the first [`PARALLEL_AFTER`] directories).
/// Returns the number of entries visited, or why the walk could not cover everything: a
/// directory it could not read is reported and the walk goes on with the rest (so what it did
/// find is still visited and removed); past `max` entries it stops. What it reports does not
/// depend on the order the threads came by: the entries visited are the same, and the
/// problems are sorted.
fn walk(
    roots: &[PathBuf],
    names: &ProtectedNames,
    skip: &HashSet<(u64, u64)>,
    max: usize,
    walkers: usize,
    visit: &(dyn Fn(Found) -> Visit + Sync),
) -> Walked {
    let walk = Walk {
        names,
        skip,
        max,
        visit,
        visited: AtomicUsize::new(0),
        over_bound: AtomicBool::new(false),
        queue: Mutex::new(Queue {
            pending: roots.iter().rev().map(|root| Pending { parent: None, path: root.clone() }).collect(),
            ..Queue::default()
        }),
        queued: Condvar::new(),
        problems: Mutex::new(Vec::new()),
    };
    let mut threads = 1;
    if let Ended::Crowded = walk.work(walkers > 1) {
        std::thread::scope(|scope| {
            let helpers: Vec<_> = (1..walkers)
                .filter_map(|_| {
                    // One that cannot be started leaves the walk to fewer threads.
                    std::thread::Builder::new()
                        .name("protected-sweep".into())
                        .spawn_scoped(scope, || walk.work(false))
                        .ok()
                })
                .collect();
            threads += helpers.len();
            walk.work(false);
            for helper in helpers {
                if let Err(panic) = helper.join() {
                    std::panic::resume_unwind(panic);
                }
            }
        });
    }
    Walked { visited: walk.finish(), threads }
}

/// One walk's state, shared by the threads taking part.
struct Walk<'a> {
    names: &'a ProtectedNames,
    skip: &'a HashSet<(u64, u64)>,
    max: usize,
    visit: &'a (dyn Fn(Found) -> Visit + Sync),
    /// Entries visited by every thread together, against `max`.
    visited: AtomicUsize,
    over_bound: AtomicBool,
    queue: Mutex<Queue>,
    /// Signalled when directories are queued, the last one is done, or the walk stops.
    queued: Condvar,
    problems: Mutex<Vec<String>>,
}

#[derive(Default)]
struct Queue {
    /// Last in, first out: depth first, which keeps the parents held open few.
    pending: Vec<Pending>,
    /// Directories taken by a thread and not yet done (more may be queued from them).
    taken: usize,
    /// Threads waiting for a directory.
    idle: usize,
    /// Past the bound, or a thread panicked: every thread stops.
    stopped: bool,
}

enum Ended {
    Finished,
    /// The tree is big enough to share out.
    Crowded,
}

/// A directory taken from the queue: once read (or if reading it panicked) its
/// subdirectories are queued and waiting threads woken.
struct Turn<'w, 'a> {
    walk: &'w Walk<'a>,
    below: Vec<Pending>,
}

impl Drop for Turn<'_, '_> {
    fn drop(&mut self) {
        let mut queue = lock(&self.walk.queue);
        queue.taken -= 1;
        if std::thread::panicking() {
            // The others stop instead of waiting for this one forever; the panic goes on up.
            queue.stopped = true;
        } else {
            // In directory order when popped.
            queue.pending.extend(self.below.drain(..).rev());
        }
        let wake = queue.idle > 0 && (queue.stopped || queue.taken == 0 || !queue.pending.is_empty());
        drop(queue);
        if wake {
            self.walk.queued.notify_all();
        }
    }
}

/// A lock whose holder panicked still guards whole values here (the panic is propagated).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Walk<'_> {
    /// Reads queued directories until none is left (or, `alone`, until it is worth sharing).
    fn work(&self, alone: bool) -> Ended {
        let mut buffer = vec![0u8; 64 * 1024];
        let mut read = 0usize;
        loop {
            let pending = {
                let mut queue = lock(&self.queue);
                loop {
                    if queue.stopped {
                        return Ended::Finished;
                    }
                    if alone && read >= PARALLEL_AFTER && !queue.pending.is_empty() {
                        return Ended::Crowded;
                    }
                    if let Some(pending) = queue.pending.pop() {
                        queue.taken += 1;
                        break pending;
                    }
                    if queue.taken == 0 {
                        return Ended::Finished;
                    }
                    queue.idle += 1;
                    queue = self.queued.wait(queue).unwrap_or_else(PoisonError::into_inner);
                    queue.idle -= 1;
                }
            };
            let mut turn = Turn { walk: self, below: Vec::new() };
            self.read(&pending, &mut buffer, &mut turn.below);
            read += 1;
        }
    }

    /// Reads one directory: visits its protected names and puts in `below` the directories
    /// to read next.
    fn read(&self, pending: &Pending, buffer: &mut [u8], below: &mut Vec<Pending>) {
        let (fd, id) = match open_pending(pending, self.skip) {
            Ok(Some(opened)) => opened,
            Ok(None) => return,
            Err(why) => return self.problem(why),
        };
        let dir = Arc::new(fd);
        let entries = match read_names(dir.as_raw_fd(), buffer) {
            Ok(entries) => entries,
            // Removed while being walked (by a host process): empty.
            Err(Errno(libc::ENOENT)) => return,
            Err(errno) => {
                return self.problem(format!("cannot read `{}`: {}", pending.path.display(), errno.into_io()));
            }
        };
        if self.visited.fetch_add(entries.len(), Ordering::Relaxed) + entries.len() > self.max {
            self.over_bound.store(true, Ordering::Relaxed);
            lock(&self.queue).stopped = true;
            self.queued.notify_all();
            return;
        }
        for (name, d_type) in entries {
            let descend = if self.names.contains(name.as_bytes()) {
                let path = pending.path.join(OsStr::from_bytes(name.as_bytes()));
                let stat = match sys::stat_entry(dir.as_raw_fd(), &name) {
                    Ok(stat) => stat,
                    Err(errno) if errno.0 == libc::ENOENT => continue,
                    Err(errno) => {
                        self.problem(format!("cannot inspect `{}`: {}", path.display(), errno.into_io()));
                        continue;
                    }
                };
                let is_dir = stat.is_dir();
                let found = Found { path, parent: dir.clone(), parent_id: id, name: name.clone(), stat };
                matches!((self.visit)(found), Visit::Descend) && is_dir
            } else {
                d_type == libc::DT_DIR || d_type == libc::DT_UNKNOWN
            };
            if descend {
                let path = pending.path.join(OsStr::from_bytes(name.as_bytes()));
                below.push(Pending { parent: Some((dir.clone(), id, name)), path });
            }
        }
    }

    fn problem(&self, why: String) {
        lock(&self.problems).push(why);
    }

    /// The entries visited, or why not everything was: the first three problems in order
    /// of their text, and how many more there were.
    fn finish(self) -> std::result::Result<usize, String> {
        if self.over_bound.into_inner() {
            return Err(format!("the writable roots hold more than {} entries, the bound of this check", self.max));
        }
        let mut problems = self.problems.into_inner().unwrap_or_else(PoisonError::into_inner);
        if problems.is_empty() {
            return Ok(self.visited.into_inner());
        }
        problems.sort();
        let more = problems.len().saturating_sub(3);
        problems.truncate(3);
        let tail = if more > 0 { format!(" (and {more} more)") } else { String::new() };
        Err(format!("{}{tail}", problems.join("; ")))
    }
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
    // One at a time: two threads reaching the same directory by two paths (a bind mount
    // inside the roots) would otherwise each read the other's temporary mode as the one to
    // put back.
    static CHANGING_MODES: Mutex<()> = Mutex::new(());
    let _one_at_a_time = lock(&CHANGING_MODES);
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
        return gone_is_done(sys::unlinkat(parent, &found.name, 0))
            .map(|()| Removal::Removed)
            .map_err(|e| e.into_io().to_string());
    }
    let dir = match sys::openat(parent, &found.name, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW) {
        Ok(dir) => dir,
        // Removed through another path to the same directory meanwhile.
        Err(Errno(libc::ENOENT)) => return Ok(Removal::Removed),
        Err(errno) => return Err(errno.into_io().to_string()),
    };
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
    gone_is_done(sys::unlinkat(parent, &found.name, libc::AT_REMOVEDIR))
        .map(|()| Removal::Removed)
        .map_err(|e| e.into_io().to_string())
}

/// Removes the entry `name` of `dir` (emptied first if it is a directory).
fn remove_entry(dir: &OwnedFd, name: &CStr, depth: usize, budget: &mut usize) -> sys::SysResult<()> {
    let stat = sys::stat_entry(dir.as_raw_fd(), name)?;
    if stat.is_dir() {
        let child = sys::openat(dir.as_raw_fd(), name, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW)?;
        empty_directory(&child, depth + 1, budget)?;
        sys::unlinkat(dir.as_raw_fd(), name, libc::AT_REMOVEDIR)
    } else {
        sys::unlinkat(dir.as_raw_fd(), name, 0)
    }
}

/// An entry that no longer exists needs no removal.
fn gone_is_done(result: sys::SysResult<()>) -> sys::SysResult<()> {
    match result {
        Err(Errno(libc::ENOENT)) => Ok(()),
        other => other,
    }
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
            // Gone already: removed by another thread of the walk that reached this directory
            // by a second path (a bind mount inside the roots).
            gone_is_done(remove_entry(dir, &name, depth, budget))?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{PermissionsExt, symlink};
    use std::path::Path;

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
        fs::set_permissions(root.join("e/.git"), fs::Permissions::from_mode(0o500)).unwrap();

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

    /// A tree of `tops` x 111 directories with protected names at many depths: pre-existing
    /// ones (`tops` vendored repositories and `.envrc`s, a chain 24 levels deep ending in
    /// `.git`, an `.envrc` to be replaced).
    fn grow(root: &Path, tops: usize) {
        for top in 0..tops {
            for mid in 0..10 {
                for leaf in 0..10 {
                    let dir = root.join(format!("t{top}/m{mid}/l{leaf}"));
                    fs::create_dir_all(&dir).unwrap();
                    if leaf == 3 {
                        fs::write(dir.join("file"), "x").unwrap();
                    }
                }
            }
            fs::create_dir_all(root.join(format!("t{top}/m5/.git/hooks"))).unwrap();
            fs::write(root.join(format!("t{top}/m5/.envrc")), "old").unwrap();
        }
        let deep: PathBuf = (0..24).map(|level| format!("n{level}")).collect();
        fs::create_dir_all(root.join(&deep).join(".git/objects")).unwrap();
        fs::create_dir_all(root.join("replaced")).unwrap();
        fs::write(root.join("replaced/.envrc"), "old").unwrap();
    }

    /// What a run does in a tree from [`grow`]: protected names created at every depth, in
    /// every form, inside old and new ones and in directories made unreadable; returns those
    /// the sweep must remove, sorted.
    fn plant(root: &Path) -> Vec<PathBuf> {
        let mut created = Vec::new();
        for top in 0..30 {
            for mid in (0..10).step_by(3) {
                let leaf = root.join(format!("t{top}/m{mid}/l{}", (top + mid) % 10));
                match top % 5 {
                    0 => fs::create_dir_all(leaf.join(".git/hooks/sub/.git")).unwrap(),
                    1 => fs::write(leaf.join(".git"), "gitdir: elsewhere").unwrap(),
                    2 => symlink("../..", leaf.join(".git")).unwrap(),
                    3 => fs::hard_link(root.join(format!("t{top}/m5/.envrc")), leaf.join(".envrc")).unwrap(),
                    _ => fs::create_dir_all(leaf.join(".agents/deeper")).unwrap(),
                }
                let name = [".git", ".git", ".git", ".envrc", ".agents"][top % 5];
                created.push(leaf.join(name));
            }
            // Inside a repository that was there: new, and found.
            fs::create_dir_all(root.join(format!("t{top}/m5/.git/hooks/.codex"))).unwrap();
            created.push(root.join(format!("t{top}/m5/.git/hooks/.codex")));
        }
        // Hidden in a directory the command then made unreadable (read anyway, mode kept).
        for top in HIDDEN {
            fs::create_dir_all(root.join(format!("t{top}/m8/l8/.git/hooks"))).unwrap();
            created.push(root.join(format!("t{top}/m8/l8/.git")));
            fs::set_permissions(root.join(format!("t{top}/m8")), fs::Permissions::from_mode(0o100)).unwrap();
        }
        let deep: PathBuf = (0..24).map(|level| format!("n{level}")).collect();
        fs::create_dir_all(root.join(&deep).join(".git/objects/.git")).unwrap();
        created.push(root.join(&deep).join(".git/objects/.git"));
        fs::create_dir_all(root.join(&deep).join("new/.aws")).unwrap();
        created.push(root.join(&deep).join("new/.aws"));
        fs::remove_file(root.join("replaced/.envrc")).unwrap();
        fs::write(root.join("replaced/.envrc"), "new").unwrap();
        created.push(root.join("replaced/.envrc"));
        created.sort();
        created
    }

    /// The `t{top}/m8` directories [`plant`] leaves unreadable.
    const HIDDEN: [usize; 5] = [0, 7, 14, 21, 28];

    /// Checks the unreadable directories kept their mode, and makes them readable again.
    fn unhide(root: &Path) {
        for top in HIDDEN {
            let dir = root.join(format!("t{top}/m8"));
            assert_eq!(fs::symlink_metadata(&dir).unwrap().permissions().mode() & 0o7777, 0o100, "{}", dir.display());
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    /// Every path below `root`, relative to it, sorted.
    fn listing(root: &Path) -> Vec<PathBuf> {
        let mut paths = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if fs::symlink_metadata(&path).unwrap().is_dir() {
                    stack.push(path.clone());
                }
                paths.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
        paths.sort();
        paths
    }

    fn relative(root: &Path, paths: &[PathBuf]) -> Vec<PathBuf> {
        paths.iter().map(|path| path.strip_prefix(root).unwrap().to_path_buf()).collect()
    }

    #[test]
    fn the_parallel_walk_records_and_removes_what_the_sequential_walk_does() {
        let names = ProtectedNames::new(&[".envrc".into()], &[], "protect", "unprotect").unwrap();
        let (one, four) = (scratch("sequential"), scratch("parallel"));
        grow(&one, 30);
        grow(&four, 30);
        let roots = |root: &PathBuf| vec![root.clone()];

        // Before: the same tree recorded alike either way.
        let sequential = Sweep::record(&roots(&one), &names, &[], MAX_ENTRIES, 1).unwrap();
        let parallel = Sweep::record(&roots(&one), &names, &[], MAX_ENTRIES, 4).unwrap();
        assert_eq!((sequential.threads, parallel.threads), (1, 4), "the parallel path ran");
        assert!(sequential.visited > 3_600, "{}", sequential.visited);
        assert_eq!(parallel.visited, sequential.visited);
        assert_eq!(parallel.before, sequential.before);
        assert_eq!(sequential.before.len(), 30 * 2 + 2, "every pre-existing name, at every depth");
        drop(parallel);

        // After: each tree swept its own way, with the same outcome and what is left alike.
        let parallel = Sweep::record(&roots(&four), &names, &[], MAX_ENTRIES, 4).unwrap();
        let (planted_one, planted_four) = (plant(&one), plant(&four));
        let (swept_one, swept_four) = (sequential.after(), parallel.after());
        assert_eq!(swept_four.threads, 4, "{swept_four:?}");
        assert!(swept_one.not_removed.is_empty() && swept_one.incomplete.is_none(), "{swept_one:?}");
        assert!(swept_four.not_removed.is_empty() && swept_four.incomplete.is_none(), "{swept_four:?}");
        assert_eq!(swept_one.removed, planted_one, "the sequential walk removes exactly what is new");
        assert_eq!(swept_four.removed, planted_four, "so does the parallel walk, reported sorted");
        assert_eq!(swept_four.visited, swept_one.visited);
        unhide(&one);
        unhide(&four);
        assert_eq!(listing(&four), listing(&one));
        for path in &planted_four {
            assert!(fs::symlink_metadata(path).is_err(), "{} survived", path.display());
        }
        assert!(four.join("t0/m5/.git/hooks").is_dir() && four.join("t3/m5/.envrc").is_file(), "old ones stay");
        assert_eq!(relative(&four, &swept_four.removed), relative(&one, &swept_one.removed));
        fs::remove_dir_all(one).unwrap();
        fs::remove_dir_all(four).unwrap();
    }

    #[test]
    fn the_bound_counts_the_entries_of_every_thread() {
        let root = scratch("bound-parallel");
        grow(&root, 30);
        let roots = std::slice::from_ref(&root);
        let exact = Sweep::record(roots, &names(), &[], MAX_ENTRIES, 1).unwrap().visited;
        let at_bound = Sweep::record(roots, &names(), &[], exact, 4).unwrap();
        assert_eq!((at_bound.visited, at_bound.threads), (exact, 4));
        for walkers in [1, 4] {
            let refused = Sweep::record(roots, &names(), &[], exact - 1, walkers).unwrap_err().to_string();
            assert!(refused.contains(&format!("more than {} entries", exact - 1)), "{walkers}: {refused}");
        }
        fs::write(root.join("t9/m9/l9/one-more"), "").unwrap();
        let outcome = at_bound.after();
        assert_eq!(
            outcome.incomplete,
            Some(format!("the writable roots hold more than {exact} entries, the bound of this check"))
        );
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn problems_are_reported_alike_and_the_rest_is_still_walked() {
        let root = scratch("problems");
        grow(&root, 3);
        // Roots that cannot be opened, given in no order.
        let mut roots: Vec<PathBuf> = ["e", "b", "d", "a", "c"]
            .iter()
            .map(|tag| PathBuf::from(OsStr::from_bytes(format!("/nowhere/{tag}\0").as_bytes())))
            .collect();
        roots.insert(2, root.clone());
        let mut reports = Vec::new();
        for walkers in [1, 4] {
            let found = Mutex::new(0);
            let walked = walk(&roots, &names(), &HashSet::new(), MAX_ENTRIES, walkers, &|_| {
                *lock(&found) += 1;
                Visit::Descend
            });
            assert_eq!(walked.threads, walkers);
            assert_eq!(found.into_inner().unwrap(), 3 * 2 + 2, "{walkers}: the good root was walked whole");
            reports.push(walked.visited.unwrap_err());
        }
        let expected =
            "`/nowhere/a\0`: NUL in path; `/nowhere/b\0`: NUL in path; `/nowhere/c\0`: NUL in path (and 2 more)";
        assert_eq!(reports, [expected, expected]);
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_panic_on_a_helper_thread_reaches_the_caller() {
        let root = scratch("panic");
        grow(&root, 3);
        let caller = std::thread::current().id();
        let names = names();
        let panicked = std::panic::catch_unwind(|| {
            walk(std::slice::from_ref(&root), &names, &HashSet::new(), MAX_ENTRIES, 4, &|_| {
                if std::thread::current().id() != caller {
                    panic!("planted panic");
                }
                // Slow on the calling thread, so the helpers meet protected names too.
                std::thread::sleep(std::time::Duration::from_millis(20));
                Visit::Descend
            })
        });
        let payload = panicked.err().expect("a helper's panic is not swallowed");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"planted panic"));
        let panicked = std::panic::catch_unwind(|| {
            walk(std::slice::from_ref(&root), &names, &HashSet::new(), MAX_ENTRIES, 4, &|found| {
                if found.path.ends_with(
                    "n0/n1/n2/n3/n4/n5/n6/n7/n8/n9/n10/n11/n12/n13/n14/n15/n16/n17/n18/n19/n20/n21/n22/n23/.git",
                ) {
                    panic!("planted panic");
                }
                Visit::Descend
            })
        });
        let payload = panicked.err().expect("the panic is not swallowed");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"planted panic"));
        fs::remove_dir_all(root).unwrap();
    }

    /// The parallel walk, like the sequential one, holds about one descriptor per level of
    /// depth and thread: with 32 descriptors it sweeps 400 sibling directories, each with a
    /// new `.git` (run in a process of its own, whose descriptor limit it lowers).
    #[test]
    fn the_parallel_walk_needs_few_descriptors() {
        const CHILD: &str = "CODEX_SANDBOX_SWEEP_DESCRIPTOR_TEST";
        const NAME: &str = "exec::sweep::tests::the_parallel_walk_needs_few_descriptors";
        if std::env::var_os(CHILD).is_none() {
            let output = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
                .env(CHILD, "1")
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success() && stdout.contains("1 passed"), "{stdout}\n{stderr}");
            assert!(stdout.contains("swept 400 with 4 threads"), "{stdout}");
            return;
        }
        let root = scratch("descriptors");
        for i in 0..400 {
            fs::create_dir_all(root.join(format!("z/d{i}/keep"))).unwrap();
        }
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: `limit` is a valid rlimit to fill, then to set.
        unsafe {
            assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
            limit.rlim_cur = 32;
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        }
        let held: Vec<_> = (0..40).map_while(|_| fs::File::open("/dev/null").ok()).collect();
        assert!(held.len() < 32, "the limit holds: {} opened", held.len());
        drop(held);
        let sweep = Sweep::record(std::slice::from_ref(&root), &names(), &[], MAX_ENTRIES, 4).unwrap();
        assert_eq!(sweep.threads, 4);
        for i in 0..400 {
            fs::create_dir_all(root.join(format!("z/d{i}/keep/.git/hooks"))).unwrap();
            fs::write(root.join(format!("z/d{i}/keep/.git/hooks/pre-commit")), "id").unwrap();
        }
        let outcome = sweep.after();
        assert!(outcome.not_removed.is_empty() && outcome.incomplete.is_none(), "{outcome:?}");
        assert_eq!(outcome.removed.len(), 400, "{outcome:?}");
        println!("swept {} with {} threads", outcome.removed.len(), outcome.threads);
        fs::remove_dir_all(root).unwrap();
    }
}
