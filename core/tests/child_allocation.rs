//! The child side never allocates: this binary's allocator ends any process but the test's own
//! with exit code 97 the moment it allocates, and every plan shape is spawned through it — read-
//! only, workspace-write, restricted read, proxy-only, a missing command — on both pipelines,
//! with the new mount API and on the classic path of older kernels.
//! An allocation between `clone` and `execve` turns a success into exit 97, and a
//! command-not-found error into a launch that "worked".
mod common;

#[path = "common/child_allocator.rs"]
mod child_allocator;

use codex_sandbox_core::{
    ErrorKind, ExitStatus, HostFacts, PipelineRequest, SandboxPolicy, SpawnOptions, Stdio, prepare_for, spawn,
};
use common::{Scratch, pipelines, spec};

const NOBODY: u32 = 65534;

#[test]
fn no_plan_shape_allocates_in_the_child() {
    let scratch = Scratch::new("alloc");
    std::fs::create_dir(scratch.0.join(".git")).unwrap();
    let restricted = SandboxPolicy::parse(
        r#"{"type":"workspace-write","read_only_access":{"type":"restricted","include_platform_defaults":true,"readable_roots":[]},"exclude_slash_tmp":true,"exclude_tmpdir_env_var":true}"#,
    )
    .unwrap();
    let shapes: Vec<(&str, SandboxPolicy, bool)> = vec![
        ("read-only", SandboxPolicy::read_only(), false),
        ("workspace-write", SandboxPolicy::workspace_write(), false),
        ("restricted read", restricted, false),
        ("proxy-only", SandboxPolicy::workspace_write(), true),
    ];
    let pipelines = pipelines();
    let host = HostFacts::get_with_loopback().clone();
    // This kernel has the new calls; the classic path works without them all the same.
    let classic = HostFacts { new_mount_api: false, openat2: false, ..host.clone() };
    // As root, every shape again with the command switching to uid and gid 65534 (the
    // launcher writes the maps; the child switches before init).
    let switches: &[Option<u32>] = if host.euid == 0 { &[None, Some(NOBODY)] } else { &[None] };
    child_allocator::arm();
    for (pipeline, host) in pipelines.iter().flat_map(|p| [(p, &host), (p, &classic)]) {
        for ((name, policy, proxy), switch) in shapes.iter().flat_map(|shape| switches.iter().map(move |s| (shape, s)))
        {
            for (argv, missing) in [(vec!["/bin/sh", "-c", "exit 3"], false), (vec!["no-such-command-xyz"], true)] {
                let mut s = spec(policy.clone(), &scratch.0, &argv, *pipeline);
                (s.uid, s.gid) = (*switch, *switch);
                if *proxy {
                    s.proxy_network = true;
                    s.env.push(("HTTPS_PROXY".into(), "http://127.0.0.1:9".into()));
                }
                let plan = match prepare_for(&s, host) {
                    Ok(plan) => plan,
                    // Proxy-only needs Landlock ABI 4 on the landlock pipeline.
                    Err(error) if *proxy && error.kind() == ErrorKind::Unsupported => {
                        common::skip(format!("{name} on {pipeline:?}: {error}"));
                        continue;
                    }
                    Err(error) => panic!("{name} on {pipeline:?}: {error}"),
                };
                let options = SpawnOptions { stdin: Stdio::Null, stdout: Stdio::Null, ..SpawnOptions::default() };
                let outcome = spawn(&plan, options).map(|mut child| child.wait().unwrap());
                match (missing, outcome) {
                    (false, Ok(status)) => {
                        assert_eq!(status, ExitStatus::Exited(3), "{name} on {pipeline:?}, {:?}", plan.launcher())
                    }
                    (true, Err(error)) => {
                        assert_eq!(error.kind(), ErrorKind::CommandNotFound, "{name} on {pipeline:?}")
                    }
                    (missing, outcome) => panic!("{name} on {pipeline:?} (missing: {missing}): {outcome:?}"),
                }
            }
        }
    }
    // The landlock pipeline on a host without user namespaces: init is the metadata
    // supervisor, and answers the command's chmod (refused: a read-only policy) without
    // allocating; an allocation there would end init with 97, never the command's 3.
    let no_userns = HostFacts { namespaces: Err("simulated: no user namespaces".into()), ..host.clone() };
    let target = scratch.0.join("supervised.txt");
    std::fs::write(&target, "x").unwrap();
    let script = format!("chmod 600 {} && exit 4; touch -m {} && exit 5; exit 3", target.display(), target.display());
    for switch in switches {
        let mut s = spec(SandboxPolicy::read_only(), &scratch.0, &["/bin/sh", "-c", &script], pipelines[0]);
        s.pipeline = codex_sandbox_core::PipelineRequest::Landlock;
        (s.uid, s.gid) = (*switch, *switch);
        let plan = prepare_for(&s, &no_userns).unwrap();
        assert!(matches!(plan.metadata_guard(), Some(codex_sandbox_core::plan::MetadataGuard::Supervisor { .. })));
        let options = SpawnOptions { stdin: Stdio::Null, stdout: Stdio::Null, ..SpawnOptions::default() };
        let status = spawn(&plan, options).unwrap().wait().unwrap();
        assert_eq!(status, ExitStatus::Exited(3), "the supervised path, switching to {switch:?}");
        connect_broker_paths(&scratch, &host, &no_userns, &pipelines, *switch);
    }
    child_allocator::disarm();
}

/// The connect broker, on every pipeline (and the landlock pipeline without user namespaces),
/// under full network and proxy mode: init answers a granted unix connect in place (a
/// non-blocking socket) and through a child of its own (a blocking one), refuses one not
/// granted, and connects TCP (in proxy mode on the landlock pipeline through a child under
/// the command's Landlock ruleset). An allocation in init ends the sandbox with 97; in a
/// connect child it would leave the connect unanswered until the alarm kills the command.
/// With `switch` the command, and so init, run as that uid and gid: the broker still takes the
/// command's socket (`pidfd_getfd`) and reads its address as the new uid.
fn connect_broker_paths(
    scratch: &Scratch,
    host: &HostFacts,
    no_userns: &HostFacts,
    pipelines: &[PipelineRequest],
    switch: Option<u32>,
) {
    use std::os::unix::net::UnixListener;
    if host.connect_broker.is_err() {
        common::skip(format!("the connect broker: {:?}", host.connect_broker));
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let granted = scratch.0.join("granted.sock");
    let other = scratch.0.join("other.sock");
    let _ = (std::fs::remove_file(&granted), std::fs::remove_file(&other));
    let _granted_listener = UnixListener::bind(&granted).unwrap();
    let _other_listener = UnixListener::bind(&other).unwrap();
    // Connectable by any uid: the one refused is refused by the broker, not by its mode.
    for socket in [&granted, &other] {
        std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port();
    let script = format!(
        r#"
import signal, socket, sys
signal.alarm(10)
def unix(path, blocking):
    s = socket.socket(socket.AF_UNIX)
    s.setblocking(blocking)
    s.connect(path)
    s.send(b"x")
unix({granted:?}, True)
unix({granted:?}, False)
try:
    unix({other:?}, True)
    sys.exit(6)
except PermissionError:
    pass
socket.create_connection(("127.0.0.1", {port})).send(b"x")
sys.exit(3)
"#,
        granted = granted.display().to_string(),
        other = other.display().to_string(),
    );
    let shapes = pipelines.iter().map(|p| (*p, host)).chain([(PipelineRequest::Landlock, no_userns)]);
    for (pipeline, host) in shapes {
        for proxy in [false, true] {
            let policy = SandboxPolicy::parse(r#"{"type":"read-only","network_access":true}"#).unwrap();
            let mut s = spec(policy, &scratch.0, &["/usr/bin/python3", "-c", &script], pipeline);
            (s.uid, s.gid) = (switch, switch);
            s.unix_sockets = codex_sandbox_core::policy::UnixSockets::Paths(vec![granted.clone()]);
            if proxy {
                s.proxy_network = true;
                s.env.push(("HTTPS_PROXY".into(), format!("http://127.0.0.1:{port}").into()));
            }
            let context = format!("{pipeline:?} proxy {proxy} namespaces {:?} as {switch:?}", host.namespaces.is_ok());
            let plan = match prepare_for(&s, host) {
                Ok(plan) => plan,
                Err(error) if proxy && error.kind() == ErrorKind::Unsupported => {
                    common::skip(format!("{context}: {error}"));
                    continue;
                }
                Err(error) => panic!("{context}: {error}"),
            };
            assert!(plan.unix_sockets().brokered(), "{context}");
            let options = SpawnOptions { stdin: Stdio::Null, stdout: Stdio::Null, ..SpawnOptions::default() };
            let status = spawn(&plan, options).unwrap().wait().unwrap();
            assert_eq!(status, ExitStatus::Exited(3), "{context}: the broker's paths");
        }
    }
}
