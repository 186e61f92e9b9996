//! The command line: flags, `--explain`, exit codes for bad input (125, and nothing runs),
//! signal forwarding, invocation through a symlink.

mod common;

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Run, Scratch, User, WORKSPACE, stderr, stdout, users};

/// Runs `touch ran` under `policy` (as extra flags) and asserts exit 125, an error naming
/// `needle`, and that the command did not run.
fn assert_refused(user: User, flags: &[&str], needle: &str) {
    let scratch = Scratch::new(user, "refused");
    let mut run = Run::new(user, &scratch.path);
    for flag in flags {
        run = run.arg(*flag);
    }
    let output = run.output(&["/usr/bin/touch", "ran"]);
    assert_eq!(output.status.code(), Some(125), "{flags:?} as {user:?}: {}", stderr(&output));
    let message = stderr(&output);
    assert!(message.starts_with("codex-linux-sandbox: "), "{message}");
    assert!(message.contains(needle), "{flags:?}: expected {needle:?} in {message:?}");
    assert_eq!(message.trim_end().lines().count(), 1, "one line expected: {message:?}");
    assert!(!scratch.path.join("ran").exists(), "{flags:?}: the command ran");
}

#[test]
fn malformed_policies_are_refused_before_anything_runs() {
    for user in users() {
        let cases: &[(&str, &str)] = &[
            (r#"{"type":"read-write"}"#, "`type`: unknown policy type `read-write`"),
            (
                r#"{"type":"workspace-write","writable_roots":["relative/dir"]}"#,
                "`writable_roots[0]`: relative path `relative/dir`",
            ),
            (r#"{"type":"workspace-write","writable_roots":"/a"}"#, "`writable_roots`: expected an array"),
            (r#"{"type":"read-only","network_access":"yes"}"#, "`network_access`: expected true or false"),
            (r#"{"type":"workspace-write","writeable_roots":[]}"#, "`writeable_roots`: unknown field"),
            (r#"{"type":"read-only""#, "malformed JSON"),
            ("nonsense", "`nonsense` is neither a JSON object"),
        ];
        for (policy, needle) in cases {
            assert_refused(user, &["--sandbox-policy", policy], needle);
        }
    }
}

#[test]
fn bad_options_are_refused() {
    for user in users() {
        assert_refused(user, &["--sandbox-policy-cwd", "relative"], "`sandbox-policy-cwd`: relative path `relative`");
        assert_refused(user, &["--command-cwd", "/does/not/exist"], "`command-cwd`");
        assert_refused(user, &["--pipeline", "chroot"], "unknown pipeline `chroot`");
        assert_refused(user, &["--use-bwrap-sandbox", "--use-legacy-landlock"], "ask for different pipelines");
        assert_refused(user, &["--bwrap-path", "/usr/bin/bwrap", "--pipeline", "landlock"], "`bwrap-path`");
        assert_refused(user, &["--allow-network-for-proxy"], "needs a loopback proxy URL");
        assert_refused(user, &["--no-such-flag"], "--no-such-flag");
    }
}

#[test]
fn empty_command_is_refused() {
    let scratch = Scratch::new(User::Current, "empty");
    let output = Command::new(common::binary())
        .args(["--sandbox-policy", "read-only", "--"])
        .current_dir(&scratch.path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(125));
    assert!(stderr(&output).contains("`command`: empty command"), "{}", stderr(&output));
}

#[test]
fn non_utf8_policy_cwd_is_refused() {
    let scratch = Scratch::new(User::Current, "non-utf8");
    let dir = scratch.path.join(std::ffi::OsStr::from_bytes(b"caf\xe9"));
    fs::create_dir(&dir).unwrap();
    let output = Run::new(User::Current, &scratch.path)
        .arg("--sandbox-policy-cwd")
        .arg(dir.to_string_lossy())
        .output(&["/bin/true"]);
    assert_eq!(output.status.code(), Some(125));
    let output = Command::new(common::binary())
        .arg("--sandbox-policy-cwd")
        .arg(&dir)
        .args(["--", "/usr/bin/touch", "ran"])
        .current_dir(&scratch.path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(125), "{}", stderr(&output));
    assert!(stderr(&output).contains("not valid UTF-8"), "{}", stderr(&output));
    assert!(!scratch.path.join("ran").exists());
}

#[test]
fn explain_prints_the_plan_and_runs_nothing() {
    for user in users() {
        let scratch = Scratch::new(user, "explain");
        let ws = scratch.dir("ws");
        scratch.dir("ws/.git");
        let output = Run::new(user, &ws).policy(WORKSPACE).arg("--explain").output(&["/usr/bin/touch", "ran"]);
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(!ws.join("ran").exists());
        let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let auto = common::userns_available(user);
        assert_eq!(plan["pipeline"], if auto { "bwrap" } else { "landlock" });
        assert!(plan["pipeline_reason"].as_str().unwrap().starts_with("auto"));
        if auto {
            let ops: Vec<&str> =
                plan["mounts"].as_array().unwrap().iter().map(|op| op["op"].as_str().unwrap()).collect();
            // One read-only bind per protected name of the workspace (`.git` present, the
            // other three missing and kept from being created).
            let mut expected = vec!["read-only-root", "writable-bind"];
            expected.extend(["read-only-bind"; 4]);
            expected.extend(["dev", "proc", "sysfs"]);
            assert_eq!(ops, expected);
            assert_eq!(plan["namespaces"]["network"], true);
        }
        assert_eq!(plan["network"], "restricted");
        assert_eq!(plan["process"]["argv"], serde_json::json!(["/usr/bin/touch", "ran"]));
        assert_eq!(plan["process"]["cwd"], ws.to_str().unwrap());
        let binds: Vec<&str> =
            plan["read_only_binds"].as_array().unwrap().iter().map(|b| b["path"].as_str().unwrap()).collect();
        assert!(binds.contains(&ws.join(".git").to_str().unwrap()));
        assert!(binds.contains(&ws.join(".codex").to_str().unwrap()));
        assert!(plan["landlock"]["abi"].as_u64().unwrap() >= 1);
        let rules = plan["seccomp"]["rules"].as_array().unwrap();
        let sendto = rules.iter().find(|r| r["syscall"] == "sendto").unwrap();
        assert!(sendto["note"].as_str().unwrap().contains("Codex"), "departures from Codex carry a note");
        assert_eq!(plan["env_added"], serde_json::json!([["CODEX_SANDBOX_NETWORK_DISABLED", "1"]]));
    }
}

#[test]
fn network_disabled_marker_is_set() {
    let scratch = Scratch::new(User::Current, "marker");
    let output = Run::new(User::Current, &scratch.path).policy("read-only").sh("echo $CODEX_SANDBOX_NETWORK_DISABLED");
    assert_eq!(stdout(&output).trim(), "1");
    let output = Run::new(User::Current, &scratch.path)
        .policy(r#"{"type":"read-only","network_access":true}"#)
        .sh("echo x$CODEX_SANDBOX_NETWORK_DISABLED");
    assert_eq!(stdout(&output).trim(), "x");
}

#[test]
fn works_through_a_symlink_named_codex_linux_sandbox() {
    let scratch = Scratch::new(User::Current, "symlink");
    let link = scratch.path.join("codex-linux-sandbox");
    std::os::unix::fs::symlink(common::binary(), &link).unwrap();
    let output =
        Command::new(&link).args(["--sandbox-policy", "read-only", "--", "/bin/sh", "-c", "exit 3"]).output().unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
}

#[test]
fn termination_signals_are_forwarded() {
    for user in users() {
        let scratch = Scratch::new(user, "forward");
        let ready = scratch.path.join("ready");
        let run = Run::new(user, &scratch.path).policy(WORKSPACE);
        let script =
            format!("trap 'echo got-term; exit 42' TERM; touch {}; while :; do sleep 0.05; done", ready.display());
        let mut child = run.command(&["/bin/sh", "-c", &script]).stdout(std::process::Stdio::piped()).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ready.exists() {
            assert!(Instant::now() < deadline, "the command never started");
            std::thread::sleep(Duration::from_millis(10));
        }
        // SAFETY: signalling the CLI process this test started, by its pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(42), "as {user:?}");
    }
}

#[test]
fn doctor_reports_the_host() {
    let output = Command::new(common::binary()).args(["doctor", "--json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    // Exit 0 exactly when some pipeline enforces workspace-write with restricted network.
    assert_eq!(output.status.success(), report["workspace_write"]["runs"] == true, "{}", stderr(&output));
    for check in report["checks"].as_array().unwrap() {
        assert!(check["check"].is_string() && check["ok"].is_boolean() && check["meaning"].is_string(), "{check}");
        if check["ok"] == false && check["tried"] == true && check["errno"].is_array() {
            assert!(!check["fix"].as_str().unwrap().is_empty(), "a failed check says what to do: {check}");
        }
    }
    let table = Command::new(common::binary()).arg("doctor").output().unwrap();
    assert_eq!(table.status.code(), output.status.code());
    let text = common::stdout(&table);
    assert!(text.contains(&format!("kernel {}", report["kernel"].as_str().unwrap())), "{text}");
    assert!(!report["kernel"].as_str().unwrap().is_empty());
    assert!(text.lines().any(|line| line.starts_with("Landlock ")), "{text}");
    let help = Command::new(common::binary()).args(["doctor", "--help"]).output().unwrap();
    assert!(help.status.success() && common::stdout(&help).contains("--json"));
    let unknown = Command::new(common::binary()).args(["doctor", "--bogus"]).output().unwrap();
    assert_eq!(unknown.status.code(), Some(125));
    assert!(stderr(&unknown).contains("--bogus"), "{}", stderr(&unknown));
    assert!(report["landlock"]["available"].is_boolean());
    let namespaces = report["namespaces"]["available"].as_bool().unwrap();
    assert_eq!(namespaces, common::userns_available(User::Current));
    assert_eq!(report["auto_pipeline"], if namespaces { "bwrap" } else { "landlock" });
}

#[test]
fn seatbelt_prints_the_sandbox_exec_command() {
    let scratch = Scratch::new(User::Current, "seatbelt");
    let output = Command::new(common::binary())
        .args(["seatbelt", "--sandbox-policy", "workspace-write", "--", "cargo", "test"])
        .current_dir(&scratch.path)
        .env_clear()
        .env("HTTPS_PROXY", "http://127.0.0.1:3128")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let command: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(command["program"], "/usr/bin/sandbox-exec");
    let args: Vec<&str> = command["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert_eq!(args[0], "-p");
    assert_eq!(&args[args.len() - 3..], ["--", "cargo", "test"]);
    let cwd_param = format!("={}", scratch.path.display());
    assert!(args.iter().any(|a| a.starts_with("-DWRITABLE_ROOT_") && a.ends_with(&cwd_param)), "{args:?}");
    let profile = args[1];
    assert!(profile.contains(r#"(remote ip "localhost:3128")"#), "{profile}");
    assert!(!profile.contains("(allow network-outbound)\n"), "blanket outbound with a proxy configured");
    assert_eq!(command["env"]["CODEX_SANDBOX"], "seatbelt");

    let output = Command::new(common::binary()).args(["seatbelt", "--sandbox-policy", "{bad"]).output().unwrap();
    assert_eq!(output.status.code(), Some(125));
}

/// The same unix-socket capability on macOS, rendered as Codex renders it: none (no unix-socket
/// rule), all, or the paths (which Seatbelt can grant, as it checks each address).
#[test]
fn seatbelt_renders_the_unix_socket_capability() {
    let scratch = Scratch::new(User::Current, "seatbelt-unix");
    let profile = |extra: &[&str]| {
        let output = Command::new(common::binary())
            .args(["seatbelt", "--sandbox-policy", "read-only"])
            .args(extra)
            .args(["--", "true"])
            .current_dir(&scratch.path)
            .env_clear()
            .output()
            .unwrap();
        assert!(output.status.success(), "{extra:?}: {}", stderr(&output));
        let command: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let args: Vec<String> =
            command["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()).collect();
        args
    };
    let none = profile(&[]);
    assert!(!none[1].contains("unix-socket") && !none[1].contains("AF_UNIX"), "{}", none[1]);
    assert_eq!(profile(&["--unix-sockets=none"])[1], none[1]);
    let all = profile(&["--unix-sockets=all"]);
    assert!(all[1].contains("(allow network-outbound (remote unix-socket))"), "{}", all[1]);
    let socket = scratch.path.join("docker.sock");
    let paths = profile(&["--allow-unix-socket", socket.to_str().unwrap()]);
    assert!(paths[1].contains(r#"(remote unix-socket (subpath (param "UNIX_SOCKET_PATH_0")))"#), "{}", paths[1]);
    assert!(paths.iter().any(|a| a == &format!("-DUNIX_SOCKET_PATH_0={}", socket.display())), "{paths:?}");
}
