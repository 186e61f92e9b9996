//! Deny-read globs: shell-style path patterns turned into Seatbelt regexes.
//!
//! Seatbelt has no glob filter, only regexes over resolved paths, so each pattern is
//! translated once here. A pattern whose directory part runs through a symlink (on macOS,
//! `/tmp` → `/private/tmp`) would never match a resolved path, so a second rule is emitted for
//! the resolved spelling.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::sbpl::{is_regex_meta, regex_literal, utf8};
use crate::error::{Error, Result};

/// The rules that keep files matching `globs` unreadable and undeletable. Deleting is denied
/// too because a command that may unlink a secret may also replace it with a link to
/// something it controls.
pub(super) fn deny_read_section(globs: &[String]) -> Result<String> {
    if globs.is_empty() {
        return Ok(String::new());
    }
    let mut section = String::from("; Deny-read globs: matching paths can be neither read nor deleted.\n");
    for (index, glob) in globs.iter().enumerate() {
        let field = format!("deny_read_globs[{index}]");
        crate::policy::check_absolute(Path::new(glob)).map_err(|message| Error::argument(&field, message))?;
        let mut spellings = vec![glob.clone()];
        spellings.extend(resolved_spelling(glob, &field)?);
        for spelling in spellings {
            let regex = regex_literal(&glob_to_regex(&spelling), &field)?;
            section.push_str(&format!("(deny file-read* (regex {regex}))\n"));
            section.push_str(&format!("(deny file-write-unlink (regex {regex}))\n"));
        }
    }
    Ok(section)
}

/// An anchored regex matching the paths `glob` matches.
///
/// - `*` matches within one path component, `?` one character of a component;
/// - `**/` matches zero or more whole components, any other `**` anything at all;
/// - `[...]` is a character class (`[!...]` negated); an unclosed `[` is a literal;
/// - a pattern without wildcards names a path and everything beneath it.
pub(crate) fn glob_to_regex(glob: &str) -> String {
    let glob = without_trailing_slashes(glob);
    let chars: Vec<char> = glob.chars().collect();
    let mut body = String::new();
    let mut has_wildcards = false;
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' if chars.get(i + 1) == Some(&'*') => {
                has_wildcards = true;
                if chars.get(i + 2) == Some(&'/') {
                    body.push_str("(.*/)?");
                    i += 3;
                } else {
                    body.push_str(".*");
                    i += 2;
                }
            }
            '*' => {
                has_wildcards = true;
                body.push_str("[^/]*");
                i += 1;
            }
            '?' => {
                has_wildcards = true;
                body.push_str("[^/]");
                i += 1;
            }
            '[' => match class_end(&chars, i) {
                Some(end) => {
                    has_wildcards = true;
                    body.push_str(&class_regex(&chars[i + 1..end]));
                    i = end + 1;
                }
                None => {
                    body.push_str("\\[");
                    i += 1;
                }
            },
            c => {
                if is_regex_meta(c) {
                    body.push('\\');
                }
                body.push(c);
                i += 1;
            }
        }
    }
    if !has_wildcards {
        body.push_str("(/.*)?");
    }
    format!("^{body}$")
}

/// Resolved paths never end in `/`, so a pattern's trailing slashes would only stop it
/// matching. The root itself keeps its slash removed too: its subtree rule covers it.
fn without_trailing_slashes(glob: &str) -> &str {
    glob.trim_end_matches('/')
}

/// The index of the `]` closing the class opened at `open`. A `]` right after `[` or `[!` is
/// a member of the class, as in shells.
fn class_end(chars: &[char], open: usize) -> Option<usize> {
    let mut i = open + 1;
    if chars.get(i) == Some(&'!') {
        i += 1;
    }
    if chars.get(i) == Some(&']') {
        i += 1;
    }
    (i..chars.len()).find(|&j| chars[j] == ']')
}

/// A glob class body (between the brackets) as a regex class. Ranges (`a-z`) carry over;
/// characters that mean something inside a regex class (`^`, `\`, `[`, `]`, and the set
/// operators `&&`/`~~` of some engines) are escaped so the class means the same everywhere.
fn class_regex(body: &[char]) -> String {
    let mut class = String::from("[");
    let members = match body.split_first() {
        Some(('!', rest)) => {
            class.push('^');
            rest
        }
        _ => body,
    };
    for &c in members {
        if matches!(c, '^' | '\\' | '[' | ']' | '&' | '~') {
            class.push('\\');
        }
        class.push(c);
    }
    class.push(']');
    class
}

/// The pattern with its fixed directory part resolved, when that differs from how it was
/// written. Missing trailing components are kept as written: a deny rule must also cover
/// files created later.
fn resolved_spelling(glob: &str, field: &str) -> Result<Option<String>> {
    let glob = without_trailing_slashes(glob);
    let fixed_dir = match glob.find(['*', '?', '[']) {
        // A literal pattern is all fixed: resolve it whole, its last component may be a link.
        None => glob,
        Some(first_wildcard) => {
            let prefix = &glob[..first_wildcard];
            &prefix[..prefix.rfind('/').unwrap_or(0)]
        }
    };
    if fixed_dir.is_empty() {
        return Ok(None);
    }
    let resolved = resolve_leniently(Path::new(fixed_dir))?;
    let resolved = utf8(&resolved, field)?;
    if resolved == fixed_dir {
        return Ok(None);
    }
    Ok(Some(format!("{resolved}{}", &glob[fixed_dir.len()..])))
}

/// `path` with its longest existing ancestor canonicalised and the rest appended unchanged.
fn resolve_leniently(path: &Path) -> Result<PathBuf> {
    for ancestor in path.ancestors() {
        match fs::canonicalize(ancestor) {
            Ok(resolved) => {
                let rest = path.strip_prefix(ancestor).unwrap_or(Path::new(""));
                // `join("")` would append a slash.
                return Ok(if rest.as_os_str().is_empty() { resolved } else { resolved.join(rest) });
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => {}
            Err(e) => return Err(Error::path("cannot resolve deny-read glob", ancestor, e)),
        }
    }
    Ok(path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (glob, expected regex, paths it must match, paths it must not match)
    const TABLE: &[(&str, &str, &[&str], &[&str])] = &[
        (
            "/tmp/repo/**/*.env",
            r"^/tmp/repo/(.*/)?[^/]*\.env$",
            &["/tmp/repo/.env", "/tmp/repo/a.env", "/tmp/repo/a/b/c.env"],
            &["/tmp/repo.env", "/tmp/repo/a.env.bak", "/tmp/other/a.env"],
        ),
        (
            "/tmp/repo/*.pem",
            r"^/tmp/repo/[^/]*\.pem$",
            &["/tmp/repo/key.pem", "/tmp/repo/.pem"],
            &["/tmp/repo/sub/key.pem", "/tmp/repo/key.pem.txt"],
        ),
        (
            "/tmp/repo/**",
            r"^/tmp/repo/.*$",
            &["/tmp/repo/a", "/tmp/repo/a/b", "/tmp/repo/"],
            &["/tmp/repo", "/tmp/repository"],
        ),
        ("/tmp/repo/a**b", r"^/tmp/repo/a.*b$", &["/tmp/repo/ab", "/tmp/repo/a/x/b"], &["/tmp/repo/a/x/c"]),
        (
            "/tmp/repo/file?.txt",
            r"^/tmp/repo/file[^/]\.txt$",
            &["/tmp/repo/file1.txt", "/tmp/repo/fileé.txt"],
            &["/tmp/repo/file.txt", "/tmp/repo/file//.txt", "/tmp/repo/file12.txt"],
        ),
        (
            "/tmp/repo/[abc].key",
            r"^/tmp/repo/[abc]\.key$",
            &["/tmp/repo/a.key", "/tmp/repo/c.key"],
            &["/tmp/repo/d.key", "/tmp/repo/ab.key"],
        ),
        (
            "/tmp/repo/[!a-c].key",
            r"^/tmp/repo/[^a-c]\.key$",
            &["/tmp/repo/d.key", "/tmp/repo/^.key"],
            &["/tmp/repo/a.key", "/tmp/repo/b.key"],
        ),
        (
            "/tmp/repo/[^x\\].key",
            r"^/tmp/repo/[\^x\\]\.key$",
            &["/tmp/repo/^.key", "/tmp/repo/x.key", "/tmp/repo/\\.key"],
            &["/tmp/repo/y.key"],
        ),
        (
            "/tmp/repo/[]x].key",
            r"^/tmp/repo/[\]x]\.key$",
            &["/tmp/repo/].key", "/tmp/repo/x.key"],
            &["/tmp/repo/y.key"],
        ),
        (
            "/tmp/repo/[a&&b].key",
            r"^/tmp/repo/[a\&\&b]\.key$",
            &["/tmp/repo/a.key", "/tmp/repo/&.key", "/tmp/repo/b.key"],
            &["/tmp/repo/c.key"],
        ),
        ("/tmp/repo/[abc", r"^/tmp/repo/\[abc(/.*)?$", &["/tmp/repo/[abc", "/tmp/repo/[abc/x"], &["/tmp/repo/a"]),
        ("/tmp/repo/a]b", r"^/tmp/repo/a\]b(/.*)?$", &["/tmp/repo/a]b"], &["/tmp/repo/ab"]),
        (
            "/tmp/repo/secrets",
            r"^/tmp/repo/secrets(/.*)?$",
            &["/tmp/repo/secrets", "/tmp/repo/secrets/a/b"],
            &["/tmp/repo/secrets2", "/tmp/repo/secret", "/tmp/repo"],
        ),
        (
            "/tmp/repo/secrets/",
            r"^/tmp/repo/secrets(/.*)?$",
            &["/tmp/repo/secrets", "/tmp/repo/secrets/a"],
            &["/tmp/repo/secretsx"],
        ),
        (
            "/tmp/a.b+c(1)|{2}$^",
            r"^/tmp/a\.b\+c\(1\)\|\{2\}\$\^(/.*)?$",
            &["/tmp/a.b+c(1)|{2}$^"],
            &["/tmp/aXb+c(1)|{2}$^", "/tmp/a.bbc1"],
        ),
        ("/", r"^(/.*)?$", &["/", "/etc/passwd"], &[]),
    ];

    #[test]
    fn glob_table_translates_and_matches() {
        for (glob, expected, matching, other) in TABLE {
            let regex = glob_to_regex(glob);
            assert_eq!(&regex, expected, "translation of {glob}");
            let compiled = regex::Regex::new(&regex).expect("valid regex");
            for path in *matching {
                assert!(compiled.is_match(path), "{glob} should match {path}");
            }
            for path in *other {
                assert!(!compiled.is_match(path), "{glob} should not match {path}");
            }
        }
    }

    #[test]
    fn relative_and_empty_globs_are_refused_with_their_index() {
        let err = deny_read_section(&["/ok/*".into(), "repo/*.env".into()]).unwrap_err().to_string();
        assert!(err.contains("`deny_read_globs[1]`") && err.contains("relative path `repo/*.env`"), "{err}");
        let err = deny_read_section(&[String::new()]).unwrap_err().to_string();
        assert!(err.contains("`deny_read_globs[0]`: empty path"), "{err}");
    }

    #[test]
    fn quotes_cannot_reach_the_profile() {
        let err = deny_read_section(&["/tmp/\"x\"/*".into()]).unwrap_err().to_string();
        assert!(err.contains("`deny_read_globs[0]`") && err.contains("double quote"), "{err}");
    }

    #[test]
    fn symlinked_directories_get_a_resolved_rule() {
        let dir = std::env::temp_dir().join(format!("codex-sandbox-glob-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("real/sub")).expect("scratch dir");
        std::os::unix::fs::symlink("real", dir.join("link")).expect("symlink");
        let dir = fs::canonicalize(&dir).expect("canonical scratch dir");
        let base = dir.to_str().expect("utf-8 scratch dir");
        let field = "deny_read_globs[0]";

        let via_link = format!("{base}/link/sub/**/*.env");
        assert_eq!(resolved_spelling(&via_link, field).ok().flatten(), Some(format!("{base}/real/sub/**/*.env")));
        let literal_link = format!("{base}/link");
        assert_eq!(resolved_spelling(&literal_link, field).ok().flatten(), Some(format!("{base}/real")));
        let missing_tail = format!("{base}/link/not-yet/*.pem");
        assert_eq!(resolved_spelling(&missing_tail, field).ok().flatten(), Some(format!("{base}/real/not-yet/*.pem")));
        let already_resolved = format!("{base}/real/*.pem");
        assert_eq!(resolved_spelling(&already_resolved, field).ok().flatten(), None);
        assert_eq!(resolved_spelling("/*.pem", field).ok().flatten(), None);

        let section = deny_read_section(&[via_link]).expect("section");
        assert_eq!(section.matches("(deny file-read*").count(), 2, "{section}");
        assert_eq!(section.matches("(deny file-write-unlink").count(), 2, "{section}");
        fs::remove_dir_all(dir).expect("cleanup");
    }
}
