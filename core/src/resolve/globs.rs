//! Deny-read globs, expanded at plan time to the paths that exist.
//!
//! A mount namespace can only hide paths, not patterns, so each pattern is walked from its
//! static prefix (the components before the first wildcard) and every existing match becomes a
//! deny-read path. A file created during the run that matches is not covered: that is what
//! Codex does too, and `--explain` says so. The walk is bounded (depth, entries visited,
//! matches) and exceeding a bound is an error, never a partial mask.

use std::path::{Component, Path, PathBuf};

use globset::GlobBuilder;
use serde::Serialize;

use crate::error::{Error, Result};

/// More matches than this refuses the run (Codex's limit).
pub const MAX_MATCHES: usize = 8192;
/// More directory entries visited than this refuses the run: a pattern that broad would make
/// every start slow, and a partial scan would leave matches readable.
pub const MAX_VISITED: usize = 1_000_000;

/// One pattern and what it expanded to.
#[derive(Clone, Debug, Serialize)]
pub struct GlobExpansion {
    pub pattern: String,
    /// Where the walk started (the pattern's static prefix).
    pub scan_root: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<usize>,
    /// The matching paths as found (not resolved: a symlink is listed as the link).
    pub matches: Vec<PathBuf>,
    /// Directories the walk could not read (the command, running as the same user, cannot
    /// either).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<PathBuf>,
}

/// Expands `pattern` (absolute) to its existing matches. `field` names the entry in errors.
pub fn expand(pattern: &str, max_depth: Option<usize>, field: &str) -> Result<GlobExpansion> {
    let scan_root = static_prefix(pattern);
    if scan_root == Path::new("/") {
        return Err(Error::policy(
            field,
            format!(
                "glob `{pattern}` has no directory before its first wildcard; expanding it would scan the whole disk \
                 (name the directory it applies to, e.g. `/home/me/**/*.pem`)"
            ),
        ));
    }
    let matcher = GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|e| Error::policy(field, format!("invalid glob `{pattern}`: {}", e.kind())))?
        .compile_matcher();

    let mut expansion = GlobExpansion {
        pattern: pattern.to_owned(),
        scan_root: scan_root.clone(),
        max_depth,
        matches: Vec::new(),
        unreadable: Vec::new(),
    };
    if std::fs::symlink_metadata(&scan_root).is_err() {
        return Ok(expansion);
    }
    let mut walk = walkdir::WalkDir::new(&scan_root).follow_links(false);
    if let Some(depth) = max_depth {
        walk = walk.max_depth(depth);
    }
    let mut walk = walk.into_iter();
    let mut visited = 0usize;
    while let Some(item) = walk.next() {
        let entry = match item {
            Ok(entry) => entry,
            Err(error) => {
                if let Some(path) = error.path() {
                    expansion.unreadable.push(path.to_path_buf());
                }
                continue;
            }
        };
        visited += 1;
        if visited > MAX_VISITED {
            return Err(Error::policy(
                field,
                format!(
                    "glob `{pattern}`: more than {MAX_VISITED} entries under `{}`; narrow the pattern or set glob_scan_max_depth",
                    scan_root.display()
                ),
            ));
        }
        if matcher.is_match(entry.path()) {
            expansion.matches.push(entry.path().to_path_buf());
            if expansion.matches.len() > MAX_MATCHES {
                return Err(Error::policy(
                    field,
                    format!("glob `{pattern}` matches more than {MAX_MATCHES} paths; narrow it"),
                ));
            }
            // Everything beneath a matched directory is hidden with it.
            if entry.file_type().is_dir() {
                walk.skip_current_dir();
            }
        }
    }
    Ok(expansion)
}

/// The components of `pattern` before the first one holding a glob metacharacter.
fn static_prefix(pattern: &str) -> PathBuf {
    let mut prefix = PathBuf::from("/");
    for component in Path::new(pattern).components() {
        match component {
            Component::Normal(name) => {
                let text = name.to_string_lossy();
                if text.contains(['*', '?', '[', '{', '\\']) {
                    break;
                }
                prefix.push(name);
            }
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir => {
                prefix.pop();
            }
            Component::Prefix(_) => {}
        }
    }
    // A pattern without wildcards names one path: walk from its parent so it can match.
    if prefix == Path::new(pattern) {
        prefix.pop();
    }
    prefix
}

/// Whether `pattern` has a wildcard at all.
pub fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '[', '{'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn prefixes() {
        assert_eq!(static_prefix("/w/**/*.pem"), PathBuf::from("/w"));
        assert_eq!(static_prefix("/w/a/*.pem"), PathBuf::from("/w/a"));
        assert_eq!(static_prefix("/**/*.pem"), PathBuf::from("/"));
        assert_eq!(static_prefix("/w/x.pem"), PathBuf::from("/w"));
    }

    #[test]
    fn expands_existing_matches_within_bounds() {
        let dir = std::env::temp_dir().join(format!("codex-sandbox-globs-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("a/b/c")).unwrap();
        fs::write(dir.join("top.pem"), "k").unwrap();
        fs::write(dir.join("a/b/deep.pem"), "k").unwrap();
        fs::write(dir.join("a/b/c/deeper.pem"), "k").unwrap();
        fs::write(dir.join("a/b/c/note.txt"), "k").unwrap();
        let pattern = format!("{}/**/*.pem", dir.display());
        let mut all = expand(&pattern, None, "f").unwrap().matches;
        all.sort();
        assert_eq!(all, vec![dir.join("a/b/c/deeper.pem"), dir.join("a/b/deep.pem"), dir.join("top.pem")]);
        // Depth 3 reaches a/b/deep.pem (depth 3) but not a/b/c/deeper.pem (depth 4).
        let shallow = expand(&pattern, Some(3), "f").unwrap().matches;
        assert_eq!(shallow.len(), 2, "{shallow:?}");
        // `*` does not cross a separator.
        assert_eq!(expand(&format!("{}/*.pem", dir.display()), None, "f").unwrap().matches, vec![dir.join("top.pem")]);
        let error = expand("/**/*.pem", None, "entries[3]").unwrap_err().to_string();
        assert!(error.contains("`entries[3]`: glob `/**/*.pem` has no directory"), "{error}");
        let error = expand(&format!("{}/[a.pem", dir.display()), None, "e").unwrap_err().to_string();
        assert!(error.contains("invalid glob"), "{error}");
        for i in 0..=MAX_MATCHES {
            fs::write(dir.join(format!("a/{i}.key")), "").unwrap();
        }
        let error = expand(&format!("{}/a/*.key", dir.display()), None, "e").unwrap_err().to_string();
        assert!(error.contains("matches more than 8192 paths"), "{error}");
        fs::remove_dir_all(dir).unwrap();
    }
}
