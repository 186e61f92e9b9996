//! The Seatbelt generator from the outside: whole profiles against golden files, the profile's
//! structure (balanced S-expressions, every parameter passed), and the fail-closed network
//! rule over many generated environments.
//!
//! Golden files live in `tests/golden/seatbelt/`; `UPDATE_GOLDEN=1 cargo test -p
//! codex-sandbox-core --test seatbelt` rewrites them. Each case builds its files under a fixed
//! directory, `/tmp/codex-sandbox-seatbelt-golden/<case>`, so that the paths in the profiles
//! are the same on every Linux machine.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use codex_sandbox_core::proxy::endpoints::{self as proxy_endpoints, PROXY_URL_ENV_KEYS};
use codex_sandbox_core::seatbelt::{SANDBOX_EXEC, SeatbeltCommand, SeatbeltOptions, UnixSockets, seatbelt_command};
use codex_sandbox_core::{NetworkAccess, ReadAccess, SandboxPolicy};

const GOLDEN_SCRATCH: &str = "/tmp/codex-sandbox-seatbelt-golden";

// ---------------------------------------------------------------------------------------------
// Helpers

/// A fresh, empty directory for one case.
fn scratch(case: &str) -> PathBuf {
    let dir = Path::new(GOLDEN_SCRATCH).join(case);
    if dir.exists() {
        fs::remove_dir_all(&dir).expect("remove old scratch dir");
    }
    fs::create_dir_all(&dir).expect("create scratch dir");
    assert_eq!(
        fs::canonicalize(&dir).expect("canonical scratch dir"),
        dir,
        "golden cases need a /tmp without symlinks"
    );
    dir
}

fn mkdirs(base: &Path, dirs: &[&str]) {
    for dir in dirs {
        fs::create_dir_all(base.join(dir)).expect("create dir");
    }
}

fn env(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
    pairs.iter().map(|(k, v)| (OsString::from(k), OsString::from(v))).collect()
}

fn command() -> Vec<OsString> {
    vec!["/bin/echo".into(), "hello".into()]
}

fn workspace_write(writable_roots: Vec<PathBuf>, network_access: bool) -> SandboxPolicy {
    SandboxPolicy::WorkspaceWrite {
        writable_roots,
        read_only_access: ReadAccess::FullAccess,
        network_access,
        exclude_tmpdir_env_var: false,
        exclude_slash_tmp: true,
    }
}

fn read_only(network_access: bool) -> SandboxPolicy {
    SandboxPolicy::ReadOnly { access: ReadAccess::FullAccess, network_access }
}

fn generate(
    policy: &SandboxPolicy,
    cwd: &Path,
    env: &[(OsString, OsString)],
    options: &SeatbeltOptions,
) -> SeatbeltCommand {
    seatbelt_command(policy, cwd, &command(), env, options).expect("profile generation")
}

/// The pieces of a `sandbox-exec` argv.
struct Invocation<'a> {
    profile: &'a str,
    params: Vec<(&'a str, &'a str)>,
    command: &'a [String],
}

fn split_args(cmd: &SeatbeltCommand) -> Invocation<'_> {
    assert_eq!(cmd.program, SANDBOX_EXEC);
    assert_eq!(cmd.args[0], "-p");
    let separator = cmd.args.iter().position(|arg| arg == "--").expect("`--` before the command");
    let params = cmd.args[2..separator]
        .iter()
        .map(|arg| {
            arg.strip_prefix("-D")
                .and_then(|definition| definition.split_once('='))
                .unwrap_or_else(|| panic!("not a -DNAME=value argument: {arg}"))
        })
        .collect();
    Invocation { profile: &cmd.args[1], params, command: &cmd.args[separator + 1..] }
}

/// The golden-file rendering: the invocation as SBPL comments, then the profile, so that the
/// file itself reads as a profile.
fn render(cmd: &SeatbeltCommand) -> String {
    let invocation = split_args(cmd);
    let mut text = String::from(";; Golden file: regenerate with UPDATE_GOLDEN=1.\n");
    text.push_str(&format!(";; program: {}\n", cmd.program));
    for (name, value) in &invocation.params {
        text.push_str(&format!(";; -D{name}={value}\n"));
    }
    text.push_str(&format!(";; -- {}\n", invocation.command.join(" ")));
    for (name, value) in &cmd.env {
        text.push_str(&format!(";; env: {name}={value}\n"));
    }
    for warning in &cmd.warnings {
        text.push_str(&format!(";; warning: {warning}\n"));
    }
    text.push_str(";; profile (-p):\n");
    text.push_str(invocation.profile);
    text
}

fn check_golden(case: &str, cmd: &SeatbeltCommand) {
    check_structure(cmd);
    let actual = render(cmd);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/seatbelt").join(format!("{case}.sbpl"));
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        fs::create_dir_all(path.parent().expect("golden dir")).expect("create golden dir");
        fs::write(&path, &actual).expect("write golden file");
        return;
    }
    let expected = fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}; run with UPDATE_GOLDEN=1 to create it", path.display()));
    if actual != expected {
        let line = actual
            .lines()
            .zip(expected.lines())
            .position(|(a, e)| a != e)
            .unwrap_or_else(|| actual.lines().count().min(expected.lines().count()));
        panic!(
            "{case}: profile differs from {} at line {}:\n  expected: {:?}\n  actual:   {:?}\n\
             (run with UPDATE_GOLDEN=1 if the change is intended)\n--- actual ---\n{actual}",
            path.display(),
            line + 1,
            expected.lines().nth(line),
            actual.lines().nth(line),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// A small S-expression reader, enough for SBPL: lists, symbols, "strings", #"regexes" and
// `;` comments.

#[derive(Clone, Debug, PartialEq)]
enum Sexp {
    Symbol(String),
    Str(String),
    Regex(String),
    List(Vec<Sexp>),
}

fn parse_sbpl(text: &str) -> Result<Vec<Sexp>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut stack: Vec<Vec<Sexp>> = vec![Vec::new()];
    let mut i = 0;
    let mut line = 1;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            ';' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '(' => {
                stack.push(Vec::new());
                i += 1;
            }
            ')' => {
                if stack.len() == 1 {
                    return Err(format!("line {line}: unmatched `)`"));
                }
                let list = stack.pop().ok_or("empty stack")?;
                stack.last_mut().ok_or("empty stack")?.push(Sexp::List(list));
                i += 1;
            }
            '"' => {
                let mut value = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(format!("line {line}: unterminated string")),
                        Some('"') => break,
                        Some('\\') => {
                            value.push(*chars.get(i + 1).ok_or("dangling escape")?);
                            i += 2;
                        }
                        Some('\n') => return Err(format!("line {line}: newline in a string")),
                        Some(other) => {
                            value.push(*other);
                            i += 1;
                        }
                    }
                }
                i += 1;
                stack.last_mut().ok_or("empty stack")?.push(Sexp::Str(value));
            }
            '#' if chars.get(i + 1) == Some(&'"') => {
                let start = i + 2;
                let end = (start..chars.len())
                    .find(|&j| chars[j] == '"' || chars[j] == '\n')
                    .filter(|&j| chars[j] == '"')
                    .ok_or(format!("line {line}: unterminated regex literal"))?;
                let regex: String = chars[start..end].iter().collect();
                stack.last_mut().ok_or("empty stack")?.push(Sexp::Regex(regex));
                i = end + 1;
            }
            _ => {
                let start = i;
                while i < chars.len() && !chars[i].is_whitespace() && !matches!(chars[i], '(' | ')' | '"' | ';') {
                    i += 1;
                }
                let symbol: String = chars[start..i].iter().collect();
                stack.last_mut().ok_or("empty stack")?.push(Sexp::Symbol(symbol));
            }
        }
    }
    if stack.len() != 1 {
        return Err(format!("{} unclosed `(`", stack.len() - 1));
    }
    stack.pop().ok_or_else(|| "empty stack".to_owned())
}

fn symbol(sexp: &Sexp) -> Option<&str> {
    match sexp {
        Sexp::Symbol(s) => Some(s),
        _ => None,
    }
}

/// Every list in `forms`, depth first.
fn all_lists(forms: &[Sexp]) -> Vec<&[Sexp]> {
    let mut lists = Vec::new();
    let mut pending: Vec<&Sexp> = forms.iter().collect();
    while let Some(form) = pending.pop() {
        if let Sexp::List(items) = form {
            lists.push(items.as_slice());
            pending.extend(items.iter());
        }
    }
    lists
}

fn parse_or_panic(profile: &str) -> Vec<Sexp> {
    parse_sbpl(profile).unwrap_or_else(|e| panic!("unbalanced profile: {e}\n{profile}"))
}

/// Checks every profile must pass: it parses, starts with `(version 1)` and `(deny default)`,
/// every top-level form is an `allow`/`deny` rule, every regex compiles, and the parameters
/// referenced are exactly those passed with `-D`.
fn check_structure(cmd: &SeatbeltCommand) {
    let invocation = split_args(cmd);
    assert_eq!(invocation.command, ["/bin/echo", "hello"]);
    let forms = parse_or_panic(invocation.profile);
    let version = Sexp::List(vec![Sexp::Symbol("version".into()), Sexp::Symbol("1".into())]);
    let deny_default = Sexp::List(vec![Sexp::Symbol("deny".into()), Sexp::Symbol("default".into())]);
    assert_eq!(forms.first(), Some(&version));
    assert_eq!(forms.get(1), Some(&deny_default));
    for form in &forms[1..] {
        let Sexp::List(items) = form else { panic!("top-level atom {form:?}") };
        let head = items.first().and_then(symbol);
        assert!(matches!(head, Some("allow" | "deny")), "top-level form is not a rule: {form:?}");
    }

    let mut referenced = BTreeSet::new();
    for list in all_lists(&forms) {
        match list {
            [Sexp::Symbol(head), Sexp::Str(name)] if head == "param" => {
                referenced.insert(name.as_str());
            }
            [Sexp::Symbol(head), ..] if head == "param" => panic!("malformed param {list:?}"),
            [Sexp::Symbol(head), Sexp::Regex(regex)] if head == "regex" => {
                regex::Regex::new(regex).unwrap_or_else(|e| panic!("regex {regex:?} does not compile: {e}"));
            }
            _ => {}
        }
    }
    let passed: BTreeSet<&str> = invocation.params.iter().map(|(name, _)| *name).collect();
    assert_eq!(passed.len(), invocation.params.len(), "a parameter is passed twice");
    assert_eq!(referenced, passed, "referenced vs passed parameters");
    for (name, value) in &invocation.params {
        assert!(value.starts_with('/'), "{name}={value} is not absolute");
    }
}

/// `(remote ip "...")` destinations of `network-outbound` rules, and whether a rule allows
/// outbound traffic with no destination at all.
fn outbound_rules(forms: &[Sexp]) -> (bool, Vec<String>) {
    let mut blanket = false;
    let mut destinations = Vec::new();
    for form in forms {
        let Sexp::List(items) = form else { continue };
        let [Sexp::Symbol(action), Sexp::Symbol(operation), filters @ ..] = items.as_slice() else {
            continue;
        };
        if action != "allow" || !operation.starts_with("network") {
            continue;
        }
        assert_ne!(operation, "network*", "wildcard network rule: {items:?}");
        if operation != "network-outbound" {
            continue;
        }
        if filters.is_empty() {
            blanket = true;
        }
        for filter in filters {
            if let Sexp::List(parts) = filter
                && let [Sexp::Symbol(kind), Sexp::Symbol(family), Sexp::Str(destination)] = parts.as_slice()
                && kind == "remote"
                && family == "ip"
            {
                destinations.push(destination.clone());
            }
        }
    }
    (blanket, destinations)
}

// ---------------------------------------------------------------------------------------------
// Golden profiles

#[test]
#[cfg(target_os = "linux")]
fn golden_read_only() {
    let cwd = scratch("read-only");
    let cmd =
        generate(&SandboxPolicy::read_only(), &cwd, &env(&[("PATH", "/usr/bin:/bin")]), &SeatbeltOptions::default());
    check_golden("read-only", &cmd);
}

#[test]
#[cfg(target_os = "linux")]
fn golden_workspace_write_protected_subpaths() {
    let base = scratch("workspace-write");
    mkdirs(&base, &["project/.git", "project/.agents", "project/cache/.git", "tmp"]);
    let cwd = base.join("project");
    let policy = workspace_write(vec![cwd.join("cache"), base.join("missing")], false);
    let tmpdir = base.join("tmp");
    let cmd =
        generate(&policy, &cwd, &env(&[("TMPDIR", tmpdir.to_str().expect("utf-8"))]), &SeatbeltOptions::default());
    check_golden("workspace-write", &cmd);
}

#[test]
#[cfg(target_os = "linux")]
fn golden_git_pointer_file() {
    let base = scratch("git-pointer");
    mkdirs(&base, &["repo/.git/worktrees/wt", "wt"]);
    fs::write(base.join("wt/.git"), "gitdir: ../repo/.git/worktrees/wt\n").expect("pointer");
    let policy = workspace_write(vec![base.join("repo")], false);
    let cmd = generate(&policy, &base.join("wt"), &[], &SeatbeltOptions::default());
    check_golden("git-pointer", &cmd);
}

#[test]
#[cfg(target_os = "linux")]
fn golden_restricted_read() {
    let base = scratch("restricted-read");
    mkdirs(&base, &["docs"]);
    let policy = SandboxPolicy::ReadOnly {
        access: ReadAccess::Restricted {
            include_platform_defaults: false,
            readable_roots: vec![base.join("docs"), base.join("missing")],
        },
        network_access: false,
    };
    let cmd = generate(&policy, &base, &[], &SeatbeltOptions::default());
    check_golden("restricted-read", &cmd);
}

#[test]
#[cfg(target_os = "linux")]
fn golden_deny_read_globs() {
    let base = scratch("deny-globs");
    mkdirs(&base, &["real"]);
    symlink("real", base.join("link")).expect("symlink");
    let options = SeatbeltOptions {
        deny_read_globs: vec![
            format!("{}/**/*.env", base.display()),
            format!("{}/secrets", base.display()),
            format!("{}/link/id_[!.]*", base.display()),
        ],
        ..SeatbeltOptions::default()
    };
    let cmd = generate(&workspace_write(vec![], false), &base, &[], &options);
    check_golden("deny-globs", &cmd);
}

#[test]
#[cfg(target_os = "linux")]
fn golden_full_network() {
    let cwd = scratch("full-network");
    let cmd = generate(
        &workspace_write(vec![], true),
        &cwd,
        &env(&[("NO_PROXY", "localhost"), ("HTTP_PROXY", "  ")]),
        &SeatbeltOptions::default(),
    );
    check_golden("full-network", &cmd);
}

#[test]
#[cfg(target_os = "linux")]
fn golden_proxy_two_ports() {
    let cwd = scratch("proxy-two-ports");
    // A full-network policy: the proxy narrows it all the same.
    let cmd = generate(
        &workspace_write(vec![], true),
        &cwd,
        &env(&[
            ("HTTP_PROXY", "http://127.0.0.1:3128"),
            ("https_proxy", "http://localhost:3128"),
            ("ALL_PROXY", "socks5h://[::1]:8081"),
            ("NO_PROXY", ""),
        ]),
        &SeatbeltOptions::default(),
    );
    check_golden("proxy-two-ports", &cmd);
}

#[test]
#[cfg(target_os = "linux")]
fn golden_proxy_malformed() {
    let cwd = scratch("proxy-malformed");
    let cmd = generate(
        &read_only(true),
        &cwd,
        &env(&[
            ("HTTP_PROXY", "http://proxy.example.com:3128"),
            ("HTTPS_PROXY", "http://localhost:0"),
            ("ALL_PROXY", "http://[::1"),
            ("npm_config_proxy", "http://user:secret@10.0.0.1:8080"),
        ]),
        &SeatbeltOptions::default(),
    );
    check_golden("proxy-malformed", &cmd);
}

#[test]
#[cfg(target_os = "linux")]
fn golden_local_binding() {
    let cwd = scratch("local-binding");
    let cmd = generate(
        &read_only(false),
        &cwd,
        &env(&[("HTTPS_PROXY", "http://127.0.0.1:3128")]),
        &SeatbeltOptions { allow_local_binding: true, ..SeatbeltOptions::default() },
    );
    check_golden("local-binding", &cmd);
}

#[test]
#[cfg(target_os = "linux")]
fn golden_unix_sockets() {
    let base = scratch("unix-sockets");
    mkdirs(&base, &["run"]);
    symlink("run", base.join("run-link")).expect("symlink");
    let options = SeatbeltOptions {
        unix_sockets: UnixSockets::Paths(vec![
            base.join("run/docker.sock"),
            base.join("agent/ssh.sock"),
            base.join("run-link/docker.sock"),
        ]),
        ..SeatbeltOptions::default()
    };
    let cmd = generate(&read_only(false), &base, &[], &options);
    check_golden("unix-sockets", &cmd);
}

// ---------------------------------------------------------------------------------------------
// Other properties of the generated command

fn temp_case(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("codex-sandbox-seatbelt-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("scratch dir");
    fs::canonicalize(dir).expect("canonical scratch dir")
}

#[test]
fn env_markers_follow_the_policy() {
    let cwd = temp_case("markers");
    let opts = SeatbeltOptions::default();
    let restricted = generate(&read_only(false), &cwd, &[], &opts);
    assert_eq!(
        restricted.env,
        BTreeMap::from([
            ("CODEX_SANDBOX".to_owned(), "seatbelt".to_owned()),
            ("CODEX_SANDBOX_NETWORK_DISABLED".to_owned(), "1".to_owned()),
        ])
    );
    let full = generate(&read_only(true), &cwd, &[], &opts);
    assert_eq!(full.env, BTreeMap::from([("CODEX_SANDBOX".to_owned(), "seatbelt".to_owned())]));
    fs::remove_dir_all(cwd).expect("cleanup");
}

#[test]
fn serialises_as_json_for_front_ends() {
    let cwd = temp_case("json");
    let cmd = generate(&read_only(false), &cwd, &[], &SeatbeltOptions::default());
    let json = serde_json::to_value(&cmd).expect("json");
    assert_eq!(json["program"], "/usr/bin/sandbox-exec");
    assert_eq!(json["args"][0], "-p");
    assert_eq!(json["env"]["CODEX_SANDBOX"], "seatbelt");
    assert!(json.get("warnings").is_none(), "{json}");
    fs::remove_dir_all(cwd).expect("cleanup");
}

#[test]
fn bad_input_is_refused_with_the_field() {
    let cwd = temp_case("bad-input");
    let opts = SeatbeltOptions::default();
    let policy = SandboxPolicy::read_only();
    let err = |result: codex_sandbox_core::Result<SeatbeltCommand>| result.expect_err("should be refused").to_string();

    let message = err(seatbelt_command(&policy, &cwd, &[], &[], &opts));
    assert!(message.contains("`command`: empty"), "{message}");

    let non_utf8 = {
        use std::os::unix::ffi::OsStringExt;
        OsString::from_vec(b"caf\xe9".to_vec())
    };
    let message = err(seatbelt_command(&policy, &cwd, &["/bin/echo".into(), non_utf8], &[], &opts));
    assert!(message.contains("`command[1]`"), "{message}");

    let message = err(seatbelt_command(&policy, Path::new("relative/dir"), &command(), &[], &opts));
    assert!(message.contains("`sandbox-policy-cwd`: relative path `relative/dir`"), "{message}");

    let bad_glob = SeatbeltOptions { deny_read_globs: vec!["*.env".into()], ..SeatbeltOptions::default() };
    let message = err(seatbelt_command(&policy, &cwd, &command(), &[], &bad_glob));
    assert!(message.contains("`deny_read_globs[0]`"), "{message}");

    let bad_socket =
        SeatbeltOptions { unix_sockets: UnixSockets::Paths(vec!["docker.sock".into()]), ..SeatbeltOptions::default() };
    let message = err(seatbelt_command(&policy, &cwd, &command(), &[], &bad_socket));
    assert!(message.contains("`unix_sockets[0]`"), "{message}");
    fs::remove_dir_all(cwd).expect("cleanup");
}

#[test]
fn missing_codex_dir_cannot_be_created() {
    let cwd = temp_case("mkdir-codex");
    let cmd = generate(&workspace_write(vec![], false), &cwd, &[], &SeatbeltOptions::default());
    check_structure(&cmd);
    let forms = parse_or_panic(split_args(&cmd).profile);
    let regexes: Vec<regex::Regex> = all_lists(&forms)
        .into_iter()
        .filter_map(|list| match list {
            [Sexp::Symbol(head), Sexp::Regex(r)] if head == "regex" && r.contains("\\.codex") => {
                Some(regex::Regex::new(r).expect("regex"))
            }
            _ => None,
        })
        .collect();
    assert_eq!(regexes.len(), 1);
    let cwd = cwd.to_str().expect("utf-8");
    assert!(regexes[0].is_match(&format!("{cwd}/.codex")));
    assert!(regexes[0].is_match(&format!("{cwd}/.codex/config.toml")));
    assert!(!regexes[0].is_match(&format!("{cwd}/.codexrc")));
    assert!(!regexes[0].is_match(&format!("{cwd}/src/.codex")));
    fs::remove_dir_all(cwd).expect("cleanup");
}

#[test]
fn platform_defaults_only_for_restricted_reads_that_ask() {
    let cwd = temp_case("platform-defaults");
    let marker = "; Platform defaults:";
    let restricted = |include_platform_defaults| SandboxPolicy::ReadOnly {
        access: ReadAccess::Restricted { include_platform_defaults, readable_roots: vec![] },
        network_access: false,
    };
    let opts = SeatbeltOptions::default();
    for (policy, expected) in
        [(restricted(true), true), (restricted(false), false), (SandboxPolicy::read_only(), false)]
    {
        let cmd = generate(&policy, &cwd, &[], &opts);
        check_structure(&cmd);
        assert_eq!(split_args(&cmd).profile.contains(marker), expected, "{policy:?}");
    }
    fs::remove_dir_all(cwd).expect("cleanup");
}

#[test]
fn full_disk_policies_write_everywhere() {
    let cwd = temp_case("full-disk");
    for policy in
        [SandboxPolicy::DangerFullAccess, SandboxPolicy::ExternalSandbox { network_access: NetworkAccess::Restricted }]
    {
        let cmd = generate(&policy, &cwd, &[], &SeatbeltOptions::default());
        check_structure(&cmd);
        let profile = split_args(&cmd).profile;
        assert!(profile.contains("(allow file-write* (regex #\"^/\"))"), "{profile}");
        assert!(profile.contains("(allow file-read*)"), "{profile}");
    }
    fs::remove_dir_all(cwd).expect("cleanup");
}

#[test]
fn managed_network_without_proxy_variables_is_closed() {
    let cwd = temp_case("managed");
    let options = SeatbeltOptions { managed_network: true, allow_local_binding: true, ..SeatbeltOptions::default() };
    let cmd = generate(&read_only(true), &cwd, &[], &options);
    check_structure(&cmd);
    let (blanket, destinations) = outbound_rules(&parse_or_panic(split_args(&cmd).profile));
    assert!(!blanket);
    // Local binding was asked for, so loopback stays reachable; nothing else is.
    assert_eq!(destinations, ["localhost:*"]);
    assert!(cmd.warnings.iter().any(|w| w.contains("no usable loopback proxy endpoint")), "{:?}", cmd.warnings);
    fs::remove_dir_all(cwd).expect("cleanup");
}

#[test]
fn all_unix_sockets() {
    let cwd = temp_case("all-sockets");
    let options = SeatbeltOptions { unix_sockets: UnixSockets::All, ..SeatbeltOptions::default() };
    let cmd = generate(&read_only(false), &cwd, &[], &options);
    check_structure(&cmd);
    let profile = split_args(&cmd).profile;
    assert!(profile.contains("(allow network-bind (local unix-socket))"), "{profile}");
    assert!(profile.contains("(allow network-outbound (remote unix-socket))"), "{profile}");
    let (blanket, destinations) = outbound_rules(&parse_or_panic(profile));
    assert!(!blanket && destinations.is_empty());
    fs::remove_dir_all(cwd).expect("cleanup");
}

#[test]
fn sbpl_reader_rejects_unbalanced_text() {
    assert!(parse_sbpl("(allow (a)").is_err());
    assert!(parse_sbpl("(allow))").is_err());
    assert!(parse_sbpl("(allow (regex #\"abc))").is_err());
    assert!(parse_sbpl("(allow \"abc)").is_err());
    assert_eq!(
        parse_sbpl("; c\n(a \"x\\\"y\" #\"^/(.*)?$\") ; (").expect("parses"),
        vec![Sexp::List(vec![Sexp::Symbol("a".into()), Sexp::Str("x\"y".into()), Sexp::Regex("^/(.*)?$".into()),])]
    );
}

// ---------------------------------------------------------------------------------------------
// Fail-closed network over many environments

/// xorshift64*: deterministic, so a failure reproduces from its iteration number.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self) -> bool {
        self.next() & 1 == 1
    }
}

fn random_case(rng: &mut Rng, key: &str) -> String {
    match rng.below(3) {
        0 => key.to_owned(),
        1 => key.to_ascii_lowercase(),
        _ => key.chars().map(|c| if rng.chance() { c.to_ascii_lowercase() } else { c }).collect(),
    }
}

fn random_value(rng: &mut Rng) -> String {
    const VALUES: &[&str] = &[
        "",
        "   ",
        "http://127.0.0.1:3128",
        "localhost:8080",
        "socks5h://[::1]:1080",
        "https://localhost",
        "http://user:pw@127.0.0.1:9000/path",
        "http://proxy.example.com:3128",
        "http://127.0.0.2:3128",
        "http://localhost:0",
        "http://localhost:65536",
        "http://[::1",
        "::1",
        "not a url",
        "ftp://LOCALHOST:21",
        "http://10.0.0.1",
        "*:53",
    ];
    match rng.below(4) {
        0 => format!("http://127.0.0.1:{}", rng.below(70_000)),
        _ => (*rng.pick(VALUES)).to_owned(),
    }
}

#[test]
fn proxy_configuration_never_opens_the_network() {
    const OTHER_KEYS: &[&str] = &["PATH", "NO_PROXY", "no_proxy", "HOME", "HTTP_PROXY_USER"];
    let cwd = temp_case("property");
    let policies = [
        read_only(false),
        read_only(true),
        workspace_write(vec![], false),
        workspace_write(vec![], true),
        SandboxPolicy::DangerFullAccess,
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut proxied_cases = 0;
    for iteration in 0..400 {
        let mut pairs = Vec::new();
        for _ in 0..rng.below(6) {
            let key = if rng.below(4) == 0 {
                (*rng.pick(OTHER_KEYS)).to_owned()
            } else {
                let key = rng_key(&mut rng);
                random_case(&mut rng, key)
            };
            pairs.push((OsString::from(key), OsString::from(random_value(&mut rng))));
        }
        let policy = rng.pick(&policies).clone();
        let options = SeatbeltOptions {
            allow_local_binding: rng.chance(),
            managed_network: rng.below(8) == 0,
            unix_sockets: if rng.chance() { UnixSockets::All } else { UnixSockets::default() },
            deny_read_globs: Vec::new(),
        };
        let cmd = seatbelt_command(&policy, &cwd, &command(), &pairs, &options)
            .unwrap_or_else(|e| panic!("iteration {iteration}: {e}"));
        check_structure(&cmd);

        let proxy_set = pairs.iter().any(|(key, value)| {
            let key = key.to_str().expect("utf-8 key");
            PROXY_URL_ENV_KEYS.iter().any(|known| known.eq_ignore_ascii_case(key))
                && !value.to_str().expect("utf-8 value").trim().is_empty()
        });
        let (blanket, destinations) = outbound_rules(&parse_or_panic(split_args(&cmd).profile));
        let context = format!("iteration {iteration}: {pairs:?} {policy:?} {options:?}");
        if !(proxy_set || options.managed_network) {
            assert_eq!(blanket, policy.has_full_network_access(), "{context}");
            continue;
        }
        proxied_cases += 1;
        assert!(!blanket, "blanket outbound with a proxy: {context}");
        let ports = proxy_endpoints::infer(&pairs).ports();
        for destination in &destinations {
            match destination.strip_prefix("localhost:") {
                Some("*") => assert!(options.allow_local_binding, "{context}"),
                Some(port) => {
                    let port: u16 = port.parse().expect("numeric port");
                    assert!(port != 0 && ports.contains(&port), "{context}");
                }
                None => {
                    assert_eq!(destination, "*:53", "{context}");
                    assert!(
                        options.allow_local_binding && !ports.is_empty(),
                        "DNS without local binding or proxy port: {context}"
                    );
                }
            }
        }
        assert!(!destinations.iter().any(|d| d.contains("*:53")) || options.allow_local_binding, "{context}");
    }
    assert!(proxied_cases > 100, "only {proxied_cases} proxied cases");
    fs::remove_dir_all(cwd).expect("cleanup");
}

fn rng_key(rng: &mut Rng) -> &'static str {
    PROXY_URL_ENV_KEYS[rng.below(PROXY_URL_ENV_KEYS.len())]
}

/// With `include_platform_defaults`, macOS gets its own platform defaults, not the Linux
/// directories the Linux pipelines read (`/usr`, `/lib64`, `/proc`...).
#[test]
fn platform_defaults_are_macos_ones() {
    let cwd = scratch("platform-defaults");
    let policy = SandboxPolicy::ReadOnly {
        access: ReadAccess::Restricted { include_platform_defaults: true, readable_roots: vec![] },
        network_access: false,
    };
    let cmd = generate(&policy, &cwd, &env(&[]), &SeatbeltOptions::default());
    let invocation = split_args(&cmd);
    let readable: Vec<&str> =
        invocation.params.iter().filter(|(name, _)| name.starts_with("READABLE_ROOT_")).map(|(_, v)| *v).collect();
    assert_eq!(readable, [cwd.to_str().unwrap()], "only the cwd is a readable root");
    let defaults = include_str!("../src/seatbelt/platform_defaults.sbpl");
    let first_rule = defaults.lines().find(|line| line.starts_with("(allow")).unwrap();
    assert!(invocation.profile.contains(first_rule), "macOS platform defaults missing");
    check_structure(&cmd);
}
