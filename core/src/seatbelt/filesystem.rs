//! The read and write sections, from the resolved [`FilesystemView`].
//!
//! Which roots are readable or writable and which paths stay protected is decided once, by
//! [`crate::resolve`], for every pipeline; this module only spells the result in SBPL.

use std::path::Path;

use super::sbpl::{Params, escape_regex, regex_literal, utf8};
use crate::error::Result;
use crate::resolve::{FilesystemView, ProtectedKind, ProtectedPath, ReadScope};

/// `(allow file-read* ...)`: everything, or the readable roots as `READABLE_ROOT_i`. Linux's
/// platform defaults are left out: macOS's come from `platform_defaults.sbpl`.
pub(super) fn read_section(view: &FilesystemView, params: &mut Params) -> Result<String> {
    let roots: Vec<&Path> = match &view.read {
        ReadScope::Full => return Ok("; Reads: anywhere.\n(allow file-read*)\n".to_owned()),
        ReadScope::Restricted { roots, platform_defaults, .. } => {
            roots.iter().filter(|root| !platform_defaults.contains(root)).map(|root| root.as_path()).collect()
        }
    };
    // `(allow file-read*)` without filters would allow every read.
    if roots.is_empty() {
        return Ok("; Reads: none.\n".to_owned());
    }
    let mut section = String::from("; Reads: only beneath the readable roots.\n(allow file-read*");
    for (index, root) in roots.iter().enumerate() {
        let root = params.path(format!("READABLE_ROOT_{index}"), root, "readable root")?;
        section.push_str(&format!("\n  (subpath {root})"));
    }
    section.push_str(")\n");
    Ok(section)
}

/// `(allow file-write* ...)`: everything, nothing, or each writable root as `WRITABLE_ROOT_i`
/// minus the protected paths beneath it.
///
/// An existing protected path is excluded as `subpath` (it and everything inside) and, as
/// Codex spells it, also as `literal`, which names the path itself explicitly. A missing one
/// is excluded by a regex on the path it would have, which refuses creating it (`mkdir
/// .codex`) and anything beneath it; the root is canonical, so that spelling is the one
/// Seatbelt will compare.
pub(super) fn write_section(view: &FilesystemView, params: &mut Params) -> Result<String> {
    if view.full_write {
        // Codex spells full write access as a regex over every absolute path rather than a
        // bare `file-write*`; keeping its spelling keeps profiles comparable rule by rule.
        return Ok("; Writes: anywhere.\n(allow file-write* (regex #\"^/\"))\n".to_owned());
    }
    if view.writable_roots.is_empty() {
        return Ok(String::new());
    }
    let mut section =
        String::from("; Writes: only beneath the writable roots, never to protected paths.\n(allow file-write*");
    for (index, root) in view.writable_roots.iter().enumerate() {
        let root_param = format!("WRITABLE_ROOT_{index}");
        let root_expression = params.path(root_param.clone(), &root.path, "writable root")?;
        let protected = protected_beneath(view, &root.path);
        if protected.is_empty() {
            section.push_str(&format!("\n  (subpath {root_expression})"));
            continue;
        }
        section.push_str(&format!("\n  (require-all\n    (subpath {root_expression})"));
        let mut excluded = 0;
        for path in protected {
            if path.kind == ProtectedKind::Missing {
                let regex = format!("^{}(/.*)?$", escape_regex(utf8(&path.path, "protected path")?));
                let regex = regex_literal(&regex, "protected path")?;
                section.push_str(&format!("\n    (require-not (regex {regex}))"));
            } else {
                let expression =
                    params.path(format!("{root_param}_EXCLUDED_{excluded}"), &path.path, "protected path")?;
                excluded += 1;
                section.push_str(&format!(
                    "\n    (require-not (literal {expression}))\n    (require-not (subpath {expression}))"
                ));
            }
        }
        section.push(')');
    }
    section.push_str(")\n");
    Ok(section)
}

/// Deny-read paths: neither readable nor writable (the Linux view masks them with an empty
/// read-only directory or file). Missing denied paths inside writable roots are protected
/// paths, excluded from writes above.
pub(super) fn deny_section(view: &FilesystemView, params: &mut Params) -> Result<String> {
    if view.deny_read.is_empty() {
        return Ok(String::new());
    }
    let mut section = String::from("; Deny-read paths: neither read nor written.\n");
    for (index, deny) in view.deny_read.iter().enumerate() {
        let path = params.path(format!("DENY_READ_{index}"), &deny.path, "deny-read path")?;
        section.push_str(&format!("(deny file-read* (literal {path}) (subpath {path}))\n"));
        section.push_str(&format!("(deny file-write* (literal {path}) (subpath {path}))\n"));
    }
    Ok(section)
}

/// Every protected path strictly beneath `root`, whichever root it was found for.
///
/// A `gitdir:` target belongs to the root holding the `.git` pointer file but usually lies in
/// another checkout; when that checkout is writable too, its root must exclude the target as
/// well, or the worktree's git metadata would be writable through it.
fn protected_beneath<'a>(view: &'a FilesystemView, root: &Path) -> Vec<&'a ProtectedPath> {
    let mut found: Vec<&ProtectedPath> = Vec::new();
    for path in view.protected_paths() {
        if path.path != root && path.path.starts_with(root) && !found.iter().any(|seen| seen.path == path.path) {
            found.push(path);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(read: ReadScope) -> FilesystemView {
        FilesystemView {
            full_write: false,
            read,
            writable_roots: Vec::new(),
            skipped_roots: Vec::new(),
            ..Default::default()
        }
    }

    /// An empty root list must mean "nothing", never a rule without filters ("everything").
    #[test]
    fn empty_root_lists_grant_nothing() {
        let mut params = Params::default();
        let empty = view(ReadScope::Restricted {
            roots: Vec::new(),
            links: Vec::new(),
            platform_defaults: Vec::new(),
            skipped: Vec::new(),
        });
        let reads = read_section(&empty, &mut params).expect("read section");
        assert!(!reads.contains("(allow"), "{reads}");
        let writes = write_section(&empty, &mut params).expect("write section");
        assert!(writes.is_empty(), "{writes}");
        assert!(params.into_entries().is_empty());
    }
}
