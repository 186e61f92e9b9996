//! Where this process may give a sandbox a cgroup of its own for a controller (`pids`,
//! `memory`): a child of its own cgroup, in the cgroup v2 hierarchy when that delegates the
//! controller to children of this cgroup, else in the controller's cgroup v1 hierarchy. Only
//! read here; `exec::cgroup` creates, fills and removes the child.
//!
//! cgroup v2's no-internal-processes rule: a cgroup with processes of its own (ours has this
//! process) can enable a controller for its children only as the root cgroup. So the v2 path
//! needs `pids` already in this cgroup's `cgroup.subtree_control` (the root cgroup, or a
//! delegation set up that way); this process never enables a controller or moves itself, which
//! would change the caller's own cgroup.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// A directory under which a child cgroup limiting one controller can be made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DelegatedCgroup {
    /// This process's own cgroup in that hierarchy.
    pub parent: PathBuf,
    /// `v2` or `v1`.
    pub hierarchy: &'static str,
}

/// The pids cgroup this process can use, or why there is none.
pub fn find() -> Result<DelegatedCgroup, String> {
    find_for("pids")
}

/// The cgroup this process can use to limit `controller`, or why there is none.
pub fn find_for(controller: &str) -> Result<DelegatedCgroup, String> {
    let own =
        std::fs::read_to_string("/proc/self/cgroup").map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
    let mut why = Vec::new();
    match v2(&own, &mounts, controller) {
        Ok(found) => return Ok(found),
        Err(reason) => why.push(reason),
    }
    match v1(&own, &mounts, controller) {
        Ok(found) => return Ok(found),
        Err(reason) => why.push(reason),
    }
    Err(why.join("; "))
}

fn v2(own: &str, mounts: &str, controller: &str) -> Result<DelegatedCgroup, String> {
    let path = own.lines().find_map(|line| line.strip_prefix("0::")).ok_or("cgroup v2: this process has none")?;
    let dir = directory(mounts, path, |fstype, _| fstype == "cgroup2").ok_or("cgroup v2: not mounted here")?;
    let delegated = std::fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    if !delegated.split_whitespace().any(|c| c == controller) {
        return Err(format!(
            "cgroup v2: `{controller}` is not enabled for children of {} (its cgroup.subtree_control: `{}`; a \
             cgroup with processes of its own cannot enable it)",
            dir.display(),
            delegated.trim()
        ));
    }
    writable(DelegatedCgroup { parent: dir, hierarchy: "v2" })
}

fn v1(own: &str, mounts: &str, controller: &str) -> Result<DelegatedCgroup, String> {
    let path = own
        .lines()
        .find_map(|line| {
            let mut fields = line.splitn(3, ':');
            let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
            controllers.split(',').any(|c| c == controller).then_some(path)
        })
        .ok_or_else(|| format!("cgroup v1: no {controller} hierarchy"))?;
    let dir =
        directory(mounts, path, |fstype, options| fstype == "cgroup" && options.split(',').any(|o| o == controller))
            .ok_or_else(|| format!("cgroup v1: the {controller} hierarchy is not mounted here"))?;
    writable(DelegatedCgroup { parent: dir, hierarchy: "v1" })
}

fn writable(found: DelegatedCgroup) -> Result<DelegatedCgroup, String> {
    let c_path = std::ffi::CString::new(found.parent.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
    match crate::sys::may_write(&c_path) {
        Ok(()) => Ok(found),
        Err(errno) => Err(format!(
            "cgroup {}: {} is not writable by this user ({}): nothing was delegated to it",
            found.hierarchy,
            found.parent.display(),
            errno.into_io()
        )),
    }
}

/// This process's cgroup directory `path` (as `/proc/self/cgroup` names it) under the mount of
/// the hierarchy `is_hierarchy(fstype, super options)` picks, from `/proc/self/mountinfo`.
fn directory(mounts: &str, path: &str, is_hierarchy: impl Fn(&str, &str) -> bool) -> Option<PathBuf> {
    for line in mounts.lines() {
        let (before, after) = line.split_once(" - ")?;
        let fields: Vec<&str> = before.split(' ').collect();
        let rest: Vec<&str> = after.split(' ').collect();
        let (Some(root), Some(mount_point), Some(fstype), Some(options)) =
            (fields.get(3), fields.get(4), rest.first(), rest.get(2))
        else {
            continue;
        };
        if !is_hierarchy(fstype, options) {
            continue;
        }
        // The mount shows the hierarchy from `root` down; our cgroup must lie below it.
        let relative = Path::new(path).strip_prefix(root).ok()?;
        if relative.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
            return None;
        }
        return Some(Path::new(mount_point).join(relative));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
30 25 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw
38 30 0:34 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids
39 30 0:35 /outer /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
";

    #[test]
    fn finds_this_process_directory_in_each_hierarchy() {
        let own = "8:pids:/a/b\n4:memory:/outer/x\n0::/c\n";
        let dir = |path, pick: fn(&str, &str) -> bool| directory(HYBRID, path, pick);
        assert_eq!(dir("/c", |f, _| f == "cgroup2"), Some(PathBuf::from("/sys/fs/cgroup/unified/c")));
        assert_eq!(
            dir("/a/b", |f, o| f == "cgroup" && o.split(',').any(|x| x == "pids")),
            Some(PathBuf::from("/sys/fs/cgroup/pids/a/b"))
        );
        // A mount whose root is not above our cgroup shows nothing of it.
        assert_eq!(dir("/elsewhere", |f, o| f == "cgroup" && o.contains("memory")), None);
        assert_eq!(
            dir("/outer/x", |f, o| f == "cgroup" && o.contains("memory")),
            Some("/sys/fs/cgroup/memory/x".into())
        );
        assert!(v1(own, "", "pids").is_err());
    }
}
