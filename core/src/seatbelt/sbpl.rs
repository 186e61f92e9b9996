//! The few pieces of SBPL syntax the generated sections share: named parameters and regex
//! literals.
//!
//! Paths reach the profile as parameters (`(param "NAME")`, passed as `-DNAME=value`) whenever
//! SBPL allows it, because a parameter value is never parsed as SBPL: no path can inject a
//! rule. Only regexes must carry text inline, so that text is escaped here and refused when
//! SBPL cannot carry it.

use std::path::Path;

use crate::error::{Error, Result};

/// The profile's parameters, in the order they are passed to `sandbox-exec`.
#[derive(Debug, Default)]
pub(super) struct Params {
    entries: Vec<(String, String)>,
}

impl Params {
    /// Adds a path parameter and returns the expression that refers to it. `what` names the
    /// path in the error when it is not UTF-8 (`-D` values are passed as text).
    pub(super) fn path(&mut self, name: String, path: &Path, what: &str) -> Result<String> {
        let value = utf8(path, what)?;
        let expression = format!("(param \"{name}\")");
        self.entries.push((name, value.to_owned()));
        Ok(expression)
    }

    pub(super) fn into_entries(self) -> Vec<(String, String)> {
        self.entries
    }
}

/// A path as UTF-8 text, or an error naming it.
pub(super) fn utf8<'a>(path: &'a Path, what: &str) -> Result<&'a str> {
    path.to_str().ok_or_else(|| {
        Error::argument(
            what,
            format!("`{}` is not valid UTF-8, which a Seatbelt profile cannot express", path.display()),
        )
    })
}

/// Escapes every regex metacharacter so that `text` matches itself only.
pub(super) fn escape_regex(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if is_regex_meta(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

pub(super) fn is_regex_meta(c: char) -> bool {
    matches!(c, '\\' | '.' | '+' | '*' | '?' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$')
}

/// `#"regex"`, SBPL's regex literal. The literal has no escape for its closing quote, and a
/// line break would split the rule, so text containing either is refused rather than
/// mangled into a regex that matches something else. `what` names the source in the error.
pub(super) fn regex_literal(regex: &str, what: &str) -> Result<String> {
    if let Some(bad) = regex.chars().find(|c| *c == '"' || c.is_control()) {
        return Err(Error::argument(
            what,
            format!(
                "`{}` contains {}, which a Seatbelt regex cannot carry",
                regex.escape_debug(),
                match bad {
                    '"' => "a double quote".to_owned(),
                    other => format!("the control character {:?}", other),
                }
            ),
        ));
    }
    Ok(format!("#\"{regex}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_metacharacters_only() {
        assert_eq!(
            escape_regex("/a.b/c+d (1)/[x]{2}^$|?*\\é"),
            "/a\\.b/c\\+d \\(1\\)/\\[x\\]\\{2\\}\\^\\$\\|\\?\\*\\\\é"
        );
    }

    #[test]
    fn regex_literal_refuses_quotes_and_line_breaks() {
        assert_eq!(regex_literal("^/a$", "x").ok().as_deref(), Some("#\"^/a$\""));
        let err = regex_literal("^/a\"b$", "deny_read_globs[0]").unwrap_err().to_string();
        assert!(err.contains("`deny_read_globs[0]`") && err.contains("double quote"), "{err}");
        let err = regex_literal("^/a\nb$", "x").unwrap_err().to_string();
        assert!(err.contains("control character"), "{err}");
    }

    #[test]
    fn params_keep_order_and_refuse_non_utf8() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        let mut params = Params::default();
        let a = params.path("A".into(), Path::new("/a"), "a").ok();
        let b = params.path("B".into(), Path::new("/b"), "b").ok();
        assert_eq!(a.as_deref(), Some("(param \"A\")"));
        assert_eq!(b.as_deref(), Some("(param \"B\")"));
        let bad = Path::new(OsStr::from_bytes(b"/x\xff"));
        let err = params.path("C".into(), bad, "writable root").unwrap_err();
        assert!(err.to_string().contains("`writable root`"), "{err}");
        assert_eq!(params.into_entries(), [("A".into(), "/a".into()), ("B".into(), "/b".into())]);
    }
}
