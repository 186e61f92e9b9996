//! Codex 0.171's helper invocations replayed: the captured
//! `--permission-profile` / `--managed-network` argument lists with the workspace `W` replaced
//! by a scratch directory, the era-C split policies, and every parse error. Each runs the real
//! binary, as root and as uid 65534, on both pipelines where they apply, and checks what the
//! kernel did and that the host is untouched.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use common::{Run, Scratch, User, stderr, stdout, users};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pipeline {
    /// No pipeline flag: exactly Codex's argument list.
    Auto,
    Landlock,
    Bwrap,
}

impl Pipeline {
    fn args(self) -> Vec<String> {
        match self {
            Pipeline::Auto => vec![],
            Pipeline::Landlock => vec!["--pipeline=landlock".into()],
            Pipeline::Bwrap => vec!["--pipeline=bwrap".into()],
        }
    }

    /// The errno of a write outside the writable roots: every pair here has user namespaces,
    /// so both pipelines mount everything outside the writable roots read-only (the landlock
    /// pipeline under its Landlock rules), which the kernel checks first.
    fn denied(self) -> &'static str {
        "EROFS"
    }
}

/// A skip that fails when CI requires everything to run.
fn skip(reason: &str) {
    if std::env::var_os("CODEX_SANDBOX_REQUIRE_ALL").is_some_and(|v| v == "1") {
        panic!("required test skipped: {reason}");
    }
    eprintln!("SKIP {reason}");
}

fn matrix() -> Vec<(User, Pipeline)> {
    let mut pairs = Vec::new();
    for user in users() {
        if !common::userns_available(user) {
            skip(&format!("as {user:?}: this host forbids user namespaces (protected paths need them)"));
            continue;
        }
        pairs.extend([(user, Pipeline::Auto), (user, Pipeline::Bwrap), (user, Pipeline::Landlock)]);
    }
    pairs
}

/// Codex's outer-stage argument order: `--sandbox-policy-cwd W --command-cwd W
/// --permission-profile JSON [--managed-network JSON]` (our pipeline flag first, when any).
fn codex_run(user: User, pipeline: Pipeline, ws: &Path, profile: &str, managed: Option<&str>) -> Run {
    let w = ws.display().to_string();
    let mut run = Run::new(user, ws);
    run.args.extend(pipeline.args());
    run.args.extend(["--sandbox-policy-cwd".into(), w.clone(), "--command-cwd".into(), w]);
    run.args.extend(["--permission-profile".into(), profile.into()]);
    if let Some(managed) = managed {
        run.args.extend(["--managed-network".into(), managed.into()]);
    }
    run
}

fn profile(entries: &[String], network: &str) -> String {
    format!(
        r#"{{"type":"managed","file_system":{{"type":"restricted","entries":[{}]}},"network":"{network}"}}"#,
        entries.join(",")
    )
}

fn special(kind: &str, access: &str) -> String {
    format!(r#"{{"path":{{"type":"special","value":{{"kind":"{kind}"}}}},"access":"{access}"}}"#)
}

fn path(path: &Path, access: &str) -> String {
    format!(r#"{{"path":{{"type":"path","path":"{}"}},"access":"{access}"}}"#, path.display())
}

fn skip_missing(path: &Path) -> String {
    format!(
        r#"{{"path":{{"type":"path","path":"{}"}},"access":"read","missing_path_behavior":"skip"}}"#,
        path.display()
    )
}

fn glob(pattern: &str) -> String {
    format!(r#"{{"path":{{"type":"glob_pattern","pattern":"{pattern}"}},"access":"deny"}}"#)
}

/// The captured workspace-write profile (also with network_access = true, and without the
/// temp directories).
fn workspace_write(ws: &Path, network: &str, temp_dirs: bool) -> String {
    let mut entries = vec![special("root", "read"), path(ws, "write")];
    if temp_dirs {
        entries.extend([special("slash_tmp", "write"), special("tmpdir", "write")]);
    }
    for name in [".git", ".agents", ".codex", ".aws"] {
        entries.push(skip_missing(&ws.join(name)));
    }
    profile(&entries, network)
}

/// The captured deny profile: a glob and a path, after the writable workspace.
fn deny_read(ws: &Path) -> String {
    profile(
        &[
            special("root", "read"),
            special("slash_tmp", "write"),
            special("tmpdir", "write"),
            glob(&format!("{}/**/*.pem", ws.display())),
            path(ws, "write"),
            path(&ws.join("private"), "deny"),
        ],
        "enabled",
    )
}

const MANAGED_NETWORK: &str = r#"{"loopbackPorts":[PORT],"allowLocalBinding":false,"allowUnixSockets":[],"dangerouslyAllowAllUnixSockets":false}"#;

/// Reads each path and prints `OK:<contents>` or the errno name, one line each.
const READER: &str = r#"
import errno, sys
for p in sys.argv[1:]:
    try:
        with open(p) as f:
            print("OK:" + f.read().strip(), flush=True)
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e.errno)), flush=True)
"#;

fn read_all(run: &Run, paths: &[&Path]) -> Vec<String> {
    let mut argv = vec!["/usr/bin/python3".to_owned(), "-c".into(), READER.into()];
    argv.extend(paths.iter().map(|p| p.display().to_string()));
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let output = run.output(&argv);
    assert!(output.status.success(), "reader failed: {} {}", stdout(&output), stderr(&output));
    stdout(&output).lines().map(str::to_owned).collect()
}

#[test]
fn captured_workspace_write_profiles() {
    for (user, pipeline) in matrix() {
        for (network, temp_dirs) in [("restricted", true), ("enabled", true), ("restricted", false)] {
            let scratch = Scratch::new(user, "ws-write");
            let ws = scratch.dir("ws");
            let config = scratch.file("ws/.git/config", "[core]\n");
            let before = scratch.listing();
            let results = codex_run(user, pipeline, &ws, &workspace_write(&ws, network, temp_dirs), None).probe(&[
                format!("write:{}", ws.join("new.txt").display()),
                "write:/etc/codex-sandbox-profile-probe".into(),
                format!("append:{}", config.display()),
                format!("mkdir:{}", ws.join(".aws").display()),
                format!("write:{}", ws.join(".aws/credentials").display()),
                format!("mkdir:{}", ws.join(".codex").display()),
                format!("read:{}", config.display()),
            ]);
            let d = pipeline.denied();
            // A missing protected name is an empty read-only directory for the run.
            assert_eq!(
                results,
                ["OK", d, "EROFS", "EEXIST", "EROFS", "EEXIST", "OK"],
                "as {user:?} under {pipeline:?}, network {network}, temp dirs {temp_dirs}"
            );
            assert_eq!(fs::read_to_string(&config).unwrap(), "[core]\n");
            assert!(!Path::new("/etc/codex-sandbox-profile-probe").exists());
            assert!(!ws.join(".aws").exists(), "the .aws placeholder was left behind");
            fs::remove_file(ws.join("new.txt")).unwrap();
            assert_eq!(scratch.listing(), before, "the run changed the host as {user:?} under {pipeline:?}");
        }
    }
}

#[test]
fn an_existing_aws_directory_stays_read_only() {
    for (user, pipeline) in matrix() {
        let scratch = Scratch::new(user, "aws");
        let ws = scratch.dir("ws");
        let credentials = scratch.file("ws/.aws/credentials", "[default]\n");
        // Legacy workspace-write too: `.aws` is a protected name in every writable root.
        let legacy = Run::new(user, &ws)
            .arg(pipeline.args().first().cloned().unwrap_or_else(|| "--pipeline=auto".into()))
            .policy(common::WORKSPACE)
            .probe(&[format!("append:{}", credentials.display()), format!("write:{}", ws.join("ok").display())]);
        assert_eq!(legacy, ["EROFS", "OK"], "legacy as {user:?} under {pipeline:?}");
        let profile = codex_run(user, pipeline, &ws, &workspace_write(&ws, "restricted", false), None)
            .probe(&[format!("append:{}", credentials.display())]);
        assert_eq!(profile, ["EROFS"], "profile as {user:?} under {pipeline:?}");
        assert_eq!(fs::read_to_string(&credentials).unwrap(), "[default]\n");
    }
}

#[test]
fn captured_read_only_profile() {
    for (user, pipeline) in matrix() {
        let scratch = Scratch::new(user, "read-only");
        let ws = scratch.dir("ws");
        let file = scratch.file("ws/file.txt", "original\n");
        let before = scratch.listing();
        let results =
            codex_run(user, pipeline, &ws, &profile(&[special("root", "read")], "restricted"), None).probe(&[
                format!("write:{}", ws.join("new.txt").display()),
                format!("append:{}", file.display()),
                format!("write:{}", scratch.path.join("beside.txt").display()),
                "write:/tmp/codex-sandbox-profile-read-only".into(),
                format!("read:{}", file.display()),
                "connect:127.0.0.1:9".into(),
            ]);
        let d = pipeline.denied();
        assert_eq!(results, [d, d, d, d, "OK", "EPERM"], "as {user:?} under {pipeline:?}");
        assert_eq!(fs::read_to_string(&file).unwrap(), "original\n");
        assert_eq!(scratch.listing(), before);
    }
}

/// `W/private/key.txt` and `W/**/*.pem` unreadable, also through symlinks; `W/pub.txt`
/// readable; a missing denied path cannot be created. The Landlock pipeline refuses.
#[test]
fn captured_deny_read_profile() {
    for (user, pipeline) in matrix() {
        let scratch = Scratch::new(user, "deny");
        let ws = scratch.dir("ws");
        let key = scratch.file("ws/private/key.txt", "the-key\n");
        let pem = scratch.file("ws/certs/deep/server.pem", "the-pem\n");
        let top_pem = scratch.file("ws/top.pem", "top-pem\n");
        let public = scratch.file("ws/pub.txt", "public\n");
        std::os::unix::fs::symlink("private/key.txt", ws.join("key-link")).unwrap();
        std::os::unix::fs::symlink("certs/deep/server.pem", ws.join("pem-link.txt")).unwrap();
        // A glob match that is a symlink is hidden at its target too, wherever that is.
        let outside = scratch.file("outside/target.txt", "outside-secret\n");
        std::os::unix::fs::symlink(&outside, ws.join("alias.pem")).unwrap();
        let paths = [
            &key,
            &pem,
            &top_pem,
            &ws.join("key-link"),
            &ws.join("pem-link.txt"),
            &public,
            &outside,
            &ws.join("alias.pem"),
        ];
        let paths: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();

        // The control: without the deny entries everything reads.
        let open = codex_run(user, pipeline, &ws, &workspace_write(&ws, "enabled", true), None);
        assert_eq!(
            read_all(&open, &paths),
            [
                "OK:the-key",
                "OK:the-pem",
                "OK:top-pem",
                "OK:the-key",
                "OK:the-pem",
                "OK:public",
                "OK:outside-secret",
                "OK:outside-secret"
            ],
            "control as {user:?} under {pipeline:?}"
        );

        let run = codex_run(user, pipeline, &ws, &deny_read(&ws), None);
        if pipeline == Pipeline::Landlock {
            let output = run.sh("touch ran");
            assert_eq!(output.status.code(), Some(125), "as {user:?}: {}", stderr(&output));
            assert!(
                stderr(&output).contains("deny-read of") && stderr(&output).contains("landlock"),
                "{}",
                stderr(&output)
            );
            assert!(!ws.join("ran").exists(), "the command ran although its deny-read could not be enforced");
            continue;
        }
        // A denied directory is an empty read-only directory; a denied file is a device node
        // on a `nodev` mount, which cannot be opened at all.
        assert_eq!(
            read_all(&run, &paths),
            ["ENOENT", "EACCES", "EACCES", "ENOENT", "EACCES", "OK:public", "EACCES", "EACCES"],
            "as {user:?} under {pipeline:?}"
        );
        let results = run.probe(&[
            format!("write:{}", ws.join("private/new.txt").display()),
            format!("listdir:{}", ws.join("private").display()),
            format!("write:{}", pem.display()),
            format!("write:{}", ws.join("new.txt").display()),
        ]);
        // A denied file is masked by a `nodev` read-only bind of /dev/null: it cannot be
        // opened for writing either, and the host file is untouched.
        assert_eq!(results, ["EROFS", "OK", "EACCES", "OK"], "as {user:?} under {pipeline:?}");
        assert_eq!(fs::read_to_string(&key).unwrap(), "the-key\n");
        assert_eq!(fs::read_to_string(&pem).unwrap(), "the-pem\n");

        // A denied path that does not exist yet cannot be created during the run.
        let missing = ws.join("later/secret");
        let with_missing =
            profile(&[special("root", "read"), path(&ws, "write"), path(&missing, "deny")], "restricted");
        let before = scratch.listing();
        let results = codex_run(user, pipeline, &ws, &with_missing, None).probe(&[
            format!("mkdir:{}", ws.join("later").display()),
            format!("write:{}", ws.join("later/secret").display()),
        ]);
        assert_eq!(results, ["EEXIST", "EROFS"], "as {user:?} under {pipeline:?}");
        assert_eq!(scratch.listing(), before, "placeholder left behind as {user:?}");
    }
}

/// A missing denied path in a writable root needs no mask, only a placeholder: the Landlock
/// pipeline enforces that too.
#[test]
fn missing_denied_path_is_enforced_on_landlock_too() {
    for user in users() {
        if !common::userns_available(user) {
            skip(&format!("as {user:?}: no user namespaces"));
            continue;
        }
        let scratch = Scratch::new(user, "deny-missing-landlock");
        let ws = scratch.dir("ws");
        let policy =
            profile(&[special("root", "read"), path(&ws, "write"), path(&ws.join(".env"), "deny")], "restricted");
        let results = codex_run(user, Pipeline::Landlock, &ws, &policy, None)
            .probe(&[format!("write:{}", ws.join(".env").display()), format!("write:{}", ws.join("ok").display())]);
        assert_eq!(results, ["EISDIR", "OK"], "as {user:?}");
        assert!(!ws.join(".env").exists());
    }
}

/// The managed network: only the named loopback port, reached through `HTTP_PROXY`. The
/// captured profile itself (with its deny entries: refused on the Landlock pipeline), and its
/// file-system part without them (so that the Landlock pipeline's proxy mode is exercised).
#[test]
fn captured_managed_network_profile() {
    for (user, pipeline) in matrix() {
        for exact in [true, false] {
            let scratch = Scratch::new(user, "managed");
            let ws = scratch.dir("ws");
            // The secrets the deny entries are for exist (with none, there is nothing to mask
            // and Landlock enforces the rest).
            scratch.file("ws/private/key.txt", "the-key\n");
            let profile = if exact { deny_read(&ws) } else { deny_read_free_profile() };
            managed_network_case(user, pipeline, &ws, &profile, exact);
        }
    }
}

fn managed_network_case(user: User, pipeline: Pipeline, ws: &Path, profile: &str, with_denies: bool) {
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let (proxy_port, other_port) = (proxy.local_addr().unwrap().port(), other.local_addr().unwrap().port());
    let (seen_tx, seen_rx) = mpsc::channel();
    let server = std::thread::spawn(move || {
        if let Ok((mut stream, _)) = proxy.accept() {
            stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = [0u8; 64];
            let n = stream.read(&mut buf).unwrap_or(0);
            let _ = stream.write_all(b"proxied\n");
            seen_tx.send(String::from_utf8_lossy(&buf[..n]).into_owned()).unwrap();
        }
    });
    // Ends the server thread when the sandbox never connected.
    let release = |server: std::thread::JoinHandle<()>| {
        drop(std::net::TcpStream::connect(("127.0.0.1", proxy_port)));
        server.join().unwrap();
    };
    other.set_nonblocking(true).unwrap();
    let managed = MANAGED_NETWORK.replace("PORT", &proxy_port.to_string());
    let script = format!(
        r#"
import os, socket
from urllib.parse import urlparse
u = urlparse(os.environ["HTTP_PROXY"])
s = socket.create_connection((u.hostname, u.port), timeout=5); s.sendall(b"hello"); print(s.recv(64).decode().strip())
try:
    socket.create_connection(("127.0.0.1", {other_port}), timeout=2); print("LEAK")
except OSError as e:
    print("refused", e.errno)
"#
    );
    let output = codex_run(user, pipeline, ws, profile, Some(&managed))
        .env("HTTP_PROXY", &format!("http://127.0.0.1:{proxy_port}"))
        .output(&["/usr/bin/python3", "-c", &script]);
    let message = stderr(&output);
    if pipeline == Pipeline::Landlock && with_denies {
        assert_eq!(output.status.code(), Some(125), "as {user:?}: {message}");
        assert!(message.contains("deny-read of"), "{message}");
        assert!(stdout(&output).is_empty());
        release(server);
        assert_eq!(seen_rx.try_recv().unwrap_or_default(), "", "the refused run reached the proxy");
        return;
    }
    if pipeline == Pipeline::Landlock
        && output.status.code() == Some(125)
        && message.contains("proxy-only networking on the landlock pipeline")
    {
        skip(&format!("landlock proxy mode as {user:?}: {}", message.trim()));
        release(server);
        return;
    }
    let text = stdout(&output);
    assert!(output.status.success(), "as {user:?} under {pipeline:?}: {text} {message}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.first().copied(), Some("proxied"), "as {user:?} under {pipeline:?}: {text}");
    assert!(lines.get(1).is_some_and(|l| l.starts_with("refused")), "as {user:?} under {pipeline:?}: {text}");
    assert_eq!(seen_rx.recv_timeout(Duration::from_secs(5)).unwrap(), "hello");
    server.join().unwrap();
    assert!(other.accept().is_err(), "the unlisted port got a connection as {user:?} under {pipeline:?}");
}

/// The captured managed-network profile's file-system part, without its deny entries (those
/// are the deny test's business, and refuse the Landlock pipeline).
fn deny_read_free_profile() -> String {
    profile(&[special("root", "read"), special("slash_tmp", "write"), special("tmpdir", "write")], "enabled")
}

fn split_workspace_write() -> String {
    format!(
        r#"{{"kind":"restricted","entries":[{},{}]}}"#,
        special("root", "read"),
        special("current_working_directory", "write")
    )
}

#[test]
fn split_policies_with_and_without_the_legacy_one() {
    for (user, pipeline) in matrix() {
        let scratch = Scratch::new(user, "split");
        let ws = scratch.dir("ws");
        let legacy = common::WORKSPACE;
        for with_legacy in [false, true] {
            let mut run = Run::new(user, &ws);
            run.args.extend(pipeline.args());
            if with_legacy {
                run = run.policy(legacy);
            }
            run = run
                .arg("--file-system-sandbox-policy")
                .arg(split_workspace_write())
                .arg("--network-sandbox-policy")
                .arg("\"restricted\"");
            let results = run.probe(&[
                format!("write:{}", ws.join("new.txt").display()),
                format!("write:{}", scratch.path.join("beside.txt").display()),
                "connect:127.0.0.1:9".into(),
            ]);
            let d = pipeline.denied();
            assert_eq!(results, ["OK", d, "EPERM"], "legacy {with_legacy} as {user:?} under {pipeline:?}");
            fs::remove_file(ws.join("new.txt")).unwrap();
        }
        // Disagreeing: nothing runs, and both flags are named.
        for (legacy, network) in [(r#"{"type":"read-only"}"#, "\"restricted\""), (legacy, "\"enabled\"")] {
            let output = Run::new(user, &ws)
                .policy(legacy)
                .arg("--file-system-sandbox-policy")
                .arg(split_workspace_write())
                .arg("--network-sandbox-policy")
                .arg(network)
                .sh("touch ran");
            let message = stderr(&output);
            assert_eq!(output.status.code(), Some(125), "{message}");
            assert!(message.contains("`sandbox-policy`: disagrees with `"), "{message}");
            assert!(message.contains("-sandbox-policy`"), "{message}");
            assert!(!ws.join("ran").exists());
        }
    }
}

/// Every parse error: exit 125, one line naming the field and the value, nothing run.
#[test]
fn parse_errors_exit_125_naming_field_and_value() {
    let scratch = Scratch::new(User::Current, "errors");
    let ws = scratch.dir("ws");
    let w = ws.display().to_string();
    let entry = |e: &str| profile(&[e.to_owned()], "restricted");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--permission-profile".into(),
                entry(r#"{"path":{"type":"path","path":"relative/dir"},"access":"read"}"#),
            ],
            "`permission-profile.file_system.entries[0].path.path`: relative path `relative/dir`",
        ),
        (
            vec![
                "--permission-profile".into(),
                entry(&format!(r#"{{"path":{{"type":"path","path":"{w}"}},"access":"exec"}}"#)),
            ],
            "`permission-profile.file_system.entries[0].access`: unknown access mode `exec`",
        ),
        (
            vec!["--permission-profile".into(), entry(r#"{"path":{"type":"path","path":true},"access":"read"}"#)],
            "`permission-profile.file_system.entries[0].path.path`: expected an absolute path string, found true",
        ),
        (
            vec![
                "--permission-profile".into(),
                entry(
                    r#"{"path":{"type":"special","value":{"kind":"project_roots","subpath":"../x"}},"access":"read"}"#,
                ),
            ],
            "`permission-profile.file_system.entries[0].path.value.subpath`: `../x`",
        ),
        (
            vec![
                "--permission-profile".into(),
                entry(r#"{"path":{"type":"glob_pattern","pattern":"*.pem"},"access":"deny"}"#),
            ],
            "`permission-profile.file_system.entries[0].path.pattern`: relative path `*.pem`",
        ),
        (
            vec![
                "--permission-profile".into(),
                entry(r#"{"path":{"type":"glob_pattern","pattern":"/**/*.pem"},"access":"deny"}"#),
            ],
            "`entries[0].path.pattern`: glob `/**/*.pem` has no directory before its first wildcard",
        ),
        (
            vec![
                "--permission-profile".into(),
                entry(r#"{"path":{"type":"path","path":"/x"},"access":"read","missing_path_behavior":"fail"}"#),
            ],
            "`permission-profile.file_system.entries[0].missing_path_behavior`: expected \"skip\" (the only value Codex defines), found the string \"fail\"",
        ),
        (
            vec![
                "--permission-profile".into(),
                r#"{"type":"managed","file_system":{"type":"restricted"},"network":1}"#.into(),
            ],
            "`permission-profile.network`: expected \"restricted\" or \"enabled\", found the number 1",
        ),
        (
            vec!["--permission-profile".into(), r#"{"type":"locked"}"#.into()],
            "`permission-profile.type`: unknown profile type `locked`",
        ),
        (vec!["--permission-profile".into(), "{not json".into()], "`permission-profile`: malformed JSON"),
        (
            vec![
                "--permission-profile".into(),
                r#"{"type":"disabled"}"#.into(),
                "--sandbox-policy".into(),
                "read-only".into(),
            ],
            "`permission-profile`: given together with `--sandbox-policy`",
        ),
        (
            vec!["--file-system-sandbox-policy".into(), r#"{"kind":"restricted"}"#.into()],
            "`file-system-sandbox-policy`: given without `--network-sandbox-policy`",
        ),
        (
            vec!["--network-sandbox-policy".into(), "enabled".into()],
            "`network-sandbox-policy`: given without `--file-system-sandbox-policy`",
        ),
        (
            vec![
                "--file-system-sandbox-policy".into(),
                r#"{"kind":"restricted","entries":[{"path":{"type":"path","path":"/x"},"access":"rw"}]}"#.into(),
                "--network-sandbox-policy".into(),
                "restricted".into(),
            ],
            "`file-system-sandbox-policy.entries[0].access`: unknown access mode `rw`",
        ),
        (
            vec![
                "--file-system-sandbox-policy".into(),
                r#"{"kind":"restricted"}"#.into(),
                "--network-sandbox-policy".into(),
                "\"wide-open\"".into(),
            ],
            "`network-sandbox-policy`: expected \"restricted\" or \"enabled\", found the string \"wide-open\"",
        ),
        (
            vec![
                "--permission-profile".into(),
                profile(&[special("root", "read")], "enabled"),
                "--managed-network".into(),
                r#"{"loopbackPorts":[0]}"#.into(),
            ],
            "`managed-network.loopbackPorts[0]`: expected a port number 1-65535, found the number 0",
        ),
        (
            vec![
                "--permission-profile".into(),
                profile(&[special("root", "read")], "enabled"),
                "--managed-network".into(),
                r#"{"allowLocalBinding":"yes"}"#.into(),
            ],
            "`managed-network.allowLocalBinding`: expected true or false, found the string \"yes\"",
        ),
        (
            vec![
                "--permission-profile".into(),
                profile(&[special("root", "read")], "enabled"),
                "--managed-network".into(),
                r#"{"domains":["x"]}"#.into(),
            ],
            "`managed-network.domains`: unknown field",
        ),
    ];
    for (args, expected) in cases {
        let mut run = Run::new(User::Current, &ws);
        run.args.extend(["--sandbox-policy-cwd".into(), w.clone()]);
        run.args.extend(args.iter().cloned());
        let output = run.sh("touch ran");
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(125), "{args:?}: {message}");
        assert!(message.contains(expected), "{args:?}\n  gave: {message}\n  expected: {expected}");
        assert_eq!(message.lines().count(), 1, "{message}");
        assert!(!ws.join("ran").exists(), "{args:?} ran the command");
    }
}

#[test]
fn inner_stage_flags_are_refused() {
    let scratch = Scratch::new(User::Current, "inner");
    for flags in [
        vec!["--apply-seccomp-then-exec"],
        vec!["--proxy-route-spec", "{}"],
        vec!["--verify-fd-mount", "3:/w"],
        vec!["--transparent-tcp"],
        vec!["--transparent-tcp-fd", "4"],
        vec!["--inherit-pid-namespace"],
    ] {
        let mut run = Run::new(User::Current, &scratch.path);
        run.args.extend(flags.iter().map(|f| f.to_string()));
        let output = run.sh("touch ran");
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(125), "{flags:?}: {message}");
        assert!(message.contains(&format!("`{}`", &flags[0][2..])), "{message}");
        let expected = if flags[0] == "--inherit-pid-namespace" { "PID 1" } else { "single-stage" };
        assert!(message.contains(expected), "{message}");
        assert!(!scratch.path.join("ran").exists());
    }
}

#[test]
fn explain_lists_entries_masks_and_ignored_kinds() {
    let scratch = Scratch::new(User::Current, "explain");
    let ws = scratch.dir("ws");
    scratch.file("ws/private/key.txt", "k");
    scratch.file("ws/a/b.pem", "k");
    let mut entries = vec![
        special("root", "read"),
        path(&ws, "write"),
        path(&ws.join("private"), "none"),
        glob(&format!("{}/**/*.pem", ws.display())),
    ];
    entries.push(r#"{"path":{"type":"special","value":{"kind":"home_dir_of_the_future"}},"access":"read"}"#.into());
    let output = codex_run(User::Current, Pipeline::Bwrap, &ws, &profile(&entries, "restricted"), None)
        .arg("--explain")
        .output(&["/bin/true"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let fs_view = &plan["filesystem"];
    let deny = fs_view["deny_read"].as_array().unwrap();
    assert_eq!(deny.len(), 2, "{fs_view}");
    assert_eq!(deny[0]["path"], ws.join("private").display().to_string());
    assert_eq!(deny[0]["reason"], "denied by entries[2]");
    assert!(deny[1]["reason"].as_str().unwrap().contains("glob"), "{deny:?}");
    let ignored = fs_view["policy_entries"]["ignored"][0].as_str().unwrap();
    assert!(ignored.contains("home_dir_of_the_future"), "{ignored}");
    let mounts = plan["mounts"].as_array().unwrap();
    assert!(mounts.iter().any(|m| m["op"] == "mask" && m["path"] == ws.join("private").display().to_string()));
    assert!(mounts.iter().any(|m| m["op"] == "mask-file" && m["path"] == ws.join("a/b.pem").display().to_string()));
    assert_eq!(plan["policy"]["form"], "permission-profile");
}

#[test]
fn seatbelt_renders_the_same_denies() {
    let scratch = Scratch::new(User::Current, "seatbelt");
    let ws = scratch.dir("ws");
    scratch.file("ws/private/key.txt", "k");
    let profile = deny_read(&ws);
    // `seatbelt` is a subcommand: it comes first, then its flags, then `--` and the command.
    let output = Run::new(User::Current, &ws)
        .arg("seatbelt")
        .arg("--sandbox-policy-cwd")
        .arg(ws.display().to_string())
        .policy(&profile)
        .output(&["/bin/true"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let command: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let args: Vec<&str> = command["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    let text = args[1];
    assert!(
        text.contains("(deny file-read* (literal (param \"DENY_READ_0\")) (subpath (param \"DENY_READ_0\")))"),
        "{text}"
    );
    assert!(args.contains(&format!("-DDENY_READ_0={}", ws.join("private").display()).as_str()), "{args:?}");
    assert!(text.contains("\\.pem"), "the glob is rendered as a regex: {text}");
}

/// The same deny-read plan carried out by an installed bubblewrap (`--bwrap-path`).
#[test]
fn deny_read_profile_with_the_system_bwrap() {
    let bwrap = Path::new("/usr/bin/bwrap");
    if !bwrap.exists() {
        skip("no /usr/bin/bwrap installed (.ci/run installs it)");
        return;
    }
    for (user, pipeline) in matrix() {
        if pipeline != Pipeline::Bwrap {
            continue;
        }
        let scratch = Scratch::new(user, "deny-system-bwrap");
        let ws = scratch.dir("ws");
        let key = scratch.file("ws/private/key.txt", "the-key\n");
        let pem = scratch.file("ws/a/server.pem", "the-pem\n");
        let public = scratch.file("ws/pub.txt", "public\n");
        let run = codex_run(user, pipeline, &ws, &deny_read(&ws), None).arg("--bwrap-path=/usr/bin/bwrap");
        let results = read_all(&run, &[&key, &pem, &public]);
        assert_eq!(results[0], "ENOENT", "as {user:?}: {results:?}");
        // bwrap binds /dev/null `nodev` too: the masked file cannot be opened.
        assert_eq!(results[1], "EACCES", "as {user:?}: {results:?}");
        assert_eq!(results[2], "OK:public", "as {user:?}: {results:?}");
        assert_eq!(fs::read_to_string(&pem).unwrap(), "the-pem\n");
    }
}
