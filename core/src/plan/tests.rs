//! Planning tests: every decision made for hosts described by injected facts, no process
//! created.

use std::ffi::OsString;
use std::path::PathBuf;

use super::*;
use crate::policy::SandboxPolicy;

fn spec(argv: &[&str]) -> SandboxSpec {
    let mut spec = SandboxSpec::new(SandboxPolicy::read_only(), "/", argv.iter().map(OsString::from).collect());
    spec.env = vec![("PATH".into(), "/usr/bin::/bin".into())];
    spec
}

fn host() -> HostFacts {
    HostFacts::capable(6)
}

fn plan(spec: &SandboxSpec, host: &HostFacts) -> SandboxPlan {
    prepare_for(spec, host).unwrap_or_else(|e| panic!("planning failed: {e}"))
}

fn error(spec: &SandboxSpec, host: &HostFacts) -> String {
    prepare_for(spec, host).map(|_| ()).expect_err("planning should fail").to_string()
}

#[test]
fn empty_command_is_refused() {
    assert!(error(&spec(&[]), &host()).contains("`command`: empty command"));
    assert!(error(&spec(&[""]), &host()).contains("argv[0]) is empty"));
}

#[test]
fn argv0_is_what_the_command_receives_while_the_program_is_looked_up() {
    let mut named = spec(&["true", "x"]);
    named.argv0 = Some("renamed".into());
    let plan = plan(&named, &host());
    assert_eq!(plan.exec.argv, vec![OsString::from("renamed"), OsString::from("x")]);
    assert_eq!(plan.exec.candidates[0], PathBuf::from("/usr/bin/true"));
    assert_eq!(plan.process.argv0.as_deref(), Some("renamed"));
    named.argv0 = Some("a\0b".into());
    assert!(error(&named, &host()).contains("`argv0`: contains a NUL byte"));
}

#[test]
fn the_callers_session_is_kept_only_behind_a_seccomp_filter() {
    let mut keep = spec(&["true"]);
    keep.keep_session = true;
    assert!(!plan(&keep, &host()).process.new_session);
    assert!(plan(&spec(&["true"]), &host()).process.new_session);
    keep.policy = SandboxPolicy::DangerFullAccess.into();
    assert!(error(&keep, &host()).contains("`keep-session`"));
}

#[test]
fn path_search_candidates() {
    let plan = plan(&spec(&["true"]), &host());
    assert_eq!(
        plan.exec.candidates,
        vec![PathBuf::from("/usr/bin/true"), PathBuf::from("./true"), PathBuf::from("/bin/true")]
    );
    let plan = super::tests::plan(&spec(&["./x"]), &host());
    assert_eq!(plan.exec.candidates, vec![PathBuf::from("./x")]);
}

#[test]
fn bad_env_is_refused() {
    let mut s = spec(&["true"]);
    s.env.push(("A=B".into(), "c".into()));
    assert!(error(&s, &host()).contains("`env[A=B]`"));
}

#[test]
fn pipelines_by_policy() {
    let mut s = spec(&["true"]);
    s.policy = SandboxPolicy::DangerFullAccess.into();
    let p = plan(&s, &host());
    assert_eq!(p.pipeline(), Pipeline::Unsandboxed);
    assert!(p.seccomp().is_none());
    assert!(p.env_added().is_empty());
    s.policy = SandboxPolicy::parse(r#"{"type":"external-sandbox"}"#).unwrap().into();
    let p = plan(&s, &host());
    assert_eq!(p.pipeline(), Pipeline::SeccompOnly);
    assert_eq!(p.env_added(), [("CODEX_SANDBOX_NETWORK_DISABLED".to_owned(), "1".to_owned())]);
    s.policy = SandboxPolicy::read_only().into();
    s.pipeline = PipelineRequest::Bwrap;
    let p = plan(&s, &host());
    assert_eq!(p.pipeline(), Pipeline::Bwrap);
    assert_eq!(p.mounts().first(), Some(&MountOp::ReadOnlyRoot));
    assert!(p.namespaces().unwrap().network);
    s.bwrap_path = Some("/usr/bin/bwrap".into());
    let Executor::SystemBwrap { args, .. } = plan(&s, &host()).executor().clone() else {
        panic!("system bwrap expected")
    };
    let args = args.join(" ");
    assert!(args.starts_with("/usr/bin/bwrap --new-session --die-with-parent --unshare-user"), "{args}");
    assert!(
        args.contains("--unshare-net --ro-bind / / ") && args.ends_with("--seccomp FD --json-status-fd STATUS_FD --"),
        "{args}"
    );
    s.pipeline = PipelineRequest::Landlock;
    assert!(error(&s, &host()).contains("`bwrap-path`"));
    s.bwrap_path = None;
    s.pipeline = PipelineRequest::Auto;
    s.proxy_network = true;
    // No proxy variable: refused, naming where one was expected.
    assert!(error(&s, &host()).contains("needs a loopback proxy URL"));
    s.env.push(("HTTPS_PROXY".into(), "http://example.com:3128".into()));
    assert!(error(&s, &host()).contains("`HTTPS_PROXY`"));
    s.env.pop();
    s.env.push(("https_proxy".into(), "http://127.0.0.1:3128".into()));
    for pipeline in [PipelineRequest::Bwrap, PipelineRequest::Landlock] {
        s.pipeline = pipeline;
        let p = plan(&s, &host());
        assert_eq!(p.network(), NetworkMode::Proxy);
        assert_eq!(p.proxy().unwrap().ports(), vec![3128]);
    }
}

// ---------------------------------------------------------------------------------------------
// Host classes.

fn without_namespaces() -> HostFacts {
    HostFacts { namespaces: Err("cannot create user, mount and PID namespaces: EPERM".into()), ..host() }
}

#[test]
fn no_user_namespaces_auto_picks_landlock_and_explicit_bwrap_is_refused() {
    let mut s = spec(&["true"]);
    let p = plan(&s, &without_namespaces());
    assert_eq!(p.pipeline(), Pipeline::Landlock);
    assert!(p.pipeline_reason().contains("EPERM"), "{}", p.pipeline_reason());
    s.pipeline = PipelineRequest::Bwrap;
    let refused = error(&s, &without_namespaces());
    assert!(refused.contains("the bwrap pipeline cannot be enforced") && refused.contains("EPERM"), "{refused}");
}

#[test]
fn no_landlock_refuses_the_landlock_pipeline_and_drops_the_second_layer() {
    let host = HostFacts { landlock_abi: Err("the kernel was built without Landlock (ENOSYS)".into()), ..host() };
    let mut s = spec(&["true"]);
    let p = plan(&s, &host);
    assert_eq!(p.pipeline(), Pipeline::Bwrap);
    assert!(p.landlock().is_none());
    assert!(p.warnings().iter().any(|w| w.contains("no Landlock layer")), "{:?}", p.warnings());
    s.pipeline = PipelineRequest::Landlock;
    assert!(error(&s, &host).contains("without Landlock (ENOSYS)"));
    let neither = HostFacts { namespaces: Err("EPERM".into()), ..host };
    s.pipeline = PipelineRequest::Auto;
    let refused = prepare_for(&s, &neither).map(|_| ()).unwrap_err();
    assert_eq!(refused.kind(), crate::ErrorKind::Unsupported);
    let refused = refused.to_string();
    assert!(refused.contains("this policy cannot be enforced on this host"), "{refused}");
    // Every cause, each with its own remedy.
    assert!(refused.contains("this policy cannot be enforced on this host: EPERM"), "{refused}");
    assert!(refused.contains("Namespace pipeline: refused"), "{refused}");
    assert!(refused.contains("Installed bwrap: none installed, or refused"), "{refused}");
    assert!(refused.contains("Landlock pipeline: the kernel was built without Landlock"), "{refused}");
}

fn proxy_spec() -> SandboxSpec {
    let mut s = spec(&["true"]);
    s.proxy_network = true;
    s.env.push(("HTTP_PROXY".into(), "http://127.0.0.1:8080".into()));
    s
}

fn lo_refused(abi: u32) -> HostFacts {
    let refusal = crate::probe::Refusal::new("bring up lo in a new network namespace", Some(libc::EACCES), "AppArmor");
    HostFacts { loopback: Err(refusal), ..HostFacts::capable(abi) }
}

#[test]
fn proxy_mode_needs_lo_up_and_auto_takes_landlock_where_it_cannot_be_raised() {
    let mut s = proxy_spec();
    let p = plan(&s, &lo_refused(4));
    assert_eq!(p.pipeline(), Pipeline::Landlock, "{}", p.pipeline_reason());
    assert!(p.pipeline_reason().contains("bring up lo"), "{}", p.pipeline_reason());
    assert_eq!(p.landlock().unwrap().tcp_connect_ports, Some(vec![8080]));
    // Where lo comes up, proxy mode stays on the namespace pipeline and lo is required there.
    let p = plan(&s, &host());
    assert_eq!(p.pipeline(), Pipeline::Bwrap);
    assert!(p.namespaces().unwrap().loopback.unwrap().contains("required"));
    // Without a TCP-capable Landlock both causes are named.
    let refused = error(&s, &lo_refused(3));
    assert!(refused.contains("bring up lo") && refused.contains("ABI ≥ 4"), "{refused}");
    s.pipeline = PipelineRequest::Bwrap;
    let refused = prepare_for(&s, &lo_refused(4)).map(|_| ()).unwrap_err();
    assert_eq!(refused.kind(), crate::ErrorKind::Unsupported);
    assert_eq!(refused.errno(), Some(libc::EACCES));
    assert_eq!(refused.failed_check(), Some("bring up lo in a new network namespace"));
    // Without proxy mode lo stays best effort.
    s.proxy_network = false;
    assert_eq!(plan(&s, &lo_refused(4)).pipeline(), Pipeline::Bwrap);
}

#[test]
fn auto_runs_an_installed_bwrap_that_works_where_ours_is_refused_namespaces() {
    let host = HostFacts { working_system_bwrap: Some("/usr/bin/bwrap".into()), ..without_namespaces() };
    let s = spec(&["true"]);
    let p = plan(&s, &host);
    assert_eq!(p.pipeline(), Pipeline::Bwrap);
    assert!(matches!(p.executor(), Executor::SystemBwrap { path, .. } if path == Path::new("/usr/bin/bwrap")));
    assert!(p.pipeline_reason().contains("/usr/bin/bwrap creates its namespaces"), "{}", p.pipeline_reason());
    assert!(p.launcher().is_none(), "bwrap mounts, not us");
    // --bwrap-path with that bwrap runs; proxy mode (which needs our bridge) goes to Landlock.
    let mut explicit = spec(&["true"]);
    explicit.bwrap_path = Some("/usr/bin/bwrap".into());
    assert_eq!(plan(&explicit, &host).pipeline(), Pipeline::Bwrap);
    assert_eq!(plan(&proxy_spec(), &host).pipeline(), Pipeline::Landlock);
}

#[test]
fn bwrap_path_must_be_an_absolute_executable_file() {
    let mut s = spec(&["true"]);
    for (path, why) in [
        ("bwrap", "relative path"),
        ("/nonexistent/bwrap", "No such file or directory"),
        ("/etc/passwd", "not executable"),
        ("/usr", "not a regular file"),
    ] {
        s.bwrap_path = Some(path.into());
        let refused = prepare_for(&s, &host()).map(|_| ()).unwrap_err();
        assert_eq!(refused.kind(), crate::ErrorKind::InvalidArgument, "{path}");
        let refused = refused.to_string();
        assert!(refused.contains("`bwrap-path`") && refused.contains(path) && refused.contains(why), "{refused}");
    }
}

#[test]
fn workspace_write_without_namespaces_names_the_protected_paths_and_the_namespace_check() {
    let dir = std::env::temp_dir().join(format!("codex-sandbox-plan-ws-{}", std::process::id()));
    std::fs::create_dir_all(dir.join(".git")).unwrap();
    let mut s = SandboxSpec::new(SandboxPolicy::workspace_write(), &dir, vec!["true".into()]);
    s.env = vec![("PATH".into(), "/usr/bin".into())];
    let refusal = crate::probe::Refusal::new("write /proc/self/uid_map", Some(libc::EPERM), "the remedy");
    let host = HostFacts { namespaces: Err(refusal), ..host() };
    let refused = prepare_for(&s, &host).map(|_| ()).unwrap_err();
    assert_eq!(refused.kind(), crate::ErrorKind::Unsupported);
    assert_eq!(refused.errno(), Some(libc::EPERM), "found before clone, with its errno");
    let text = refused.to_string();
    assert!(
        text.contains(".git") && text.contains("write /proc/self/uid_map") && text.contains("the remedy"),
        "{text}"
    );
    s.pipeline = PipelineRequest::Landlock;
    let text = error(&s, &host);
    assert!(text.contains("read-only protection of") && text.contains("write /proc/self/uid_map"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_landlock_abi_plans_its_own_rights_and_gaps() {
    let mut s = spec(&["true"]);
    s.pipeline = PipelineRequest::Landlock;
    for abi in 1..=7 {
        let p = plan(&s, &HostFacts { namespaces: Err("EPERM".into()), ..HostFacts::capable(abi) });
        let landlock = p.landlock().unwrap();
        assert_eq!(landlock.abi, abi);
        assert_eq!(landlock.handled, landlock::fs_rights_of_abi(abi));
        assert_eq!(landlock.not_enforced.iter().any(|gap| gap.contains("truncate")), abi < 3, "ABI {abi}");
        assert_eq!(landlock.scoped != 0, abi >= 6, "ABI {abi}");
    }
    // Proxy-only networking needs ABI 4 on this pipeline.
    s.proxy_network = true;
    s.env.push(("HTTP_PROXY".into(), "http://127.0.0.1:8080".into()));
    assert!(error(&s, &HostFacts::capable(3)).contains("ABI 3 cannot restrict TCP"));
    assert_eq!(plan(&s, &HostFacts::capable(4)).landlock().unwrap().tcp_connect_ports, Some(vec![8080]));
}

#[test]
fn old_kernels_take_the_classic_mount_path_on_the_namespace_pipeline() {
    // 5.10: no mount_setattr; 5.4: no openat2 either.
    let old_kernel = HostFacts { new_mount_api: false, openat2: false, kernel: "5.4.0".into(), ..host() };
    let mut s = spec(&["true"]);
    let p = plan(&s, &old_kernel);
    assert_eq!(p.pipeline(), Pipeline::Bwrap, "{}", p.pipeline_reason());
    let launcher = p.launcher().expect("the embedded launcher creates the namespaces");
    assert_eq!(launcher.mount_api, MountApi::Classic);
    assert_eq!(launcher.open_without_symlinks, "O_NOFOLLOW component walk");
    let explained = serde_json::to_value(&p).unwrap();
    assert_eq!(explained["launcher"]["mount_api"], "classic", "--explain shows the path taken");
    s.pipeline = PipelineRequest::Bwrap;
    assert_eq!(plan(&s, &old_kernel).launcher().unwrap().mount_api, MountApi::Classic);
    // A capable host takes the new API; an installed bwrap needs no launcher of ours.
    assert_eq!(plan(&s, &host()).launcher().unwrap().mount_api, MountApi::New);
    s.bwrap_path = Some("/usr/bin/bwrap".into());
    assert_eq!(plan(&s, &old_kernel).pipeline(), Pipeline::Bwrap);
    assert!(plan(&s, &old_kernel).launcher().is_none());
}

#[test]
fn masked_proc_is_masked_in_the_view() {
    let host = HostFacts { fresh_proc: false, ..host() };
    let p = plan(&spec(&["true"]), &host);
    assert!(p.mounts().contains(&MountOp::Mask { path: "/proc".into() }), "{:?}", p.mounts());
    assert!(!p.mounts().contains(&MountOp::Proc));
    assert!(p.warnings().iter().any(|w| w.contains("masked instead")));
}

#[test]
fn id_maps_use_the_effective_ids() {
    let host = HostFacts { euid: 4242, egid: 4343, ..host() };
    assert_eq!(plan(&spec(&["true"]), &host).namespaces().unwrap().id_map, "uid 4242 -> 4242, gid 4343 -> 4343");
}

#[test]
fn landlock_plans_a_read_only_view_where_it_can_list_their_residual_risks_and_take_dev_out_of_a_full_read() {
    let mut s = spec(&["true"]);
    s.pipeline = PipelineRequest::Landlock;
    for (abi, full_network) in [(6, false), (5, true)] {
        s.policy = if full_network {
            SandboxPolicy::parse(r#"{"type":"read-only","network_access":true}"#).unwrap().into()
        } else {
            SandboxPolicy::read_only().into()
        };
        let p = plan(&s, &HostFacts::capable(abi));
        assert_eq!(p.pipeline(), Pipeline::Landlock);
        let has = |needle: &str| p.warnings().iter().any(|w| w.contains(needle));
        // With user namespaces the view is read-only outside the writable roots.
        assert!(!has("metadata of files outside the writable roots"), "{:?}", p.warnings());
        assert!(matches!(p.mounts().first(), Some(mounts::MountOp::ReadOnlyRoot)), "{:?}", p.mounts());
        let mut no_userns = without_namespaces();
        no_userns.landlock_abi = Ok(abi);
        let bare = plan(&s, &no_userns);
        assert!(bare.mounts().is_empty());
        let bare_has = |needle: &str| bare.warnings().iter().any(|w| w.contains(needle));
        assert!(bare_has("metadata calls (chmod, chown, xattrs, utimes) go through the sandbox's init"));
        assert!(matches!(bare.metadata_guard(), Some(MetadataGuard::Supervisor { .. })));
        assert_eq!(p.metadata_guard(), Some(&MetadataGuard::ReadOnlyView));
        // Where a fresh /proc can be mounted the view has it, and PID 1 its own namespace;
        // without user namespaces (or a fresh /proc) the host's /proc and a subreaper stay.
        assert!(matches!(p.mounts().last(), Some(mounts::MountOp::Proc)), "{:?}", p.mounts());
        assert!(!has("/proc lists every host process") && !has("subreaper"), "{:?}", p.warnings());
        let mut masked_proc = HostFacts::capable(abi);
        masked_proc.fresh_proc = false;
        let shared = plan(&s, &masked_proc);
        assert!(!shared.mounts().iter().any(|op| matches!(op, mounts::MountOp::Proc)));
        assert!(shared.warnings().iter().any(|w| w.contains("/proc lists every host process")));
        assert!(bare_has("/proc lists every host process") && bare_has("subreaper"));
        assert_eq!(bare_has("does not scope signals"), abi < 6);
        // Host unix sockets are out of reach by the capability `none`, not by a list of names.
        assert!(!has("host unix sockets") && !bare_has("host unix sockets"), "{:?}", p.warnings());
        assert!(
            !p.mounts().iter().any(|op| matches!(op, mounts::MountOp::Mask { .. } | mounts::MountOp::MaskFile { .. }))
        );
        // /proc's rule is added in the sandbox's view, on its fresh procfs.
        assert!(p.landlock().unwrap().rules.iter().any(|r| r.path == std::path::Path::new("/proc") && r.sandbox_view));
        // `/` itself grants listing only; `/dev` has no rule of its own.
        let rules = &p.landlock().unwrap().rules;
        let root = rules.iter().find(|r| r.path == std::path::Path::new("/")).unwrap();
        assert_eq!(root.access, landlock::fs_access::READ_DIR);
        assert!(rules.iter().all(|r| r.path != std::path::Path::new("/dev")));
        assert!(rules.iter().any(|r| r.path == std::path::Path::new("/usr")));
        // The namespace pipeline's plan has none of these.
        let mut b = s.clone();
        b.pipeline = PipelineRequest::Bwrap;
        let bwrap = plan(&b, &HostFacts::capable(abi));
        assert!(!bwrap.warnings().iter().any(|w| w.contains("landlock pipeline")), "{:?}", bwrap.warnings());
    }
}

/// Which guard keeps metadata outside the writable roots unchanged, per simulated host: the
/// read-only view with user namespaces, the supervisor without them, and a refusal everywhere
/// where the supervisor cannot run; the seccomp program and `--explain` say the same.
#[test]
fn landlock_metadata_guard_per_host() {
    use crate::seccomp::metadata_calls;
    let mut s = spec(&["true"]);
    s.pipeline = PipelineRequest::Landlock;
    s.policy = SandboxPolicy::read_only().into();
    for abi in [2, 3, 6] {
        let with_view = plan(&s, &HostFacts::capable(abi));
        assert_eq!(with_view.metadata_guard(), Some(&MetadataGuard::ReadOnlyView));
        assert!(with_view.seccomp().unwrap().supervised.is_empty());

        let mut no_userns = without_namespaces();
        no_userns.landlock_abi = Ok(abi);
        let supervised = plan(&s, &no_userns);
        let Some(MetadataGuard::Supervisor { calls, .. }) = supervised.metadata_guard() else {
            panic!("{:?}", supervised.metadata_guard())
        };
        // truncate(2) too where Landlock cannot restrict it (ABI < 3).
        assert_eq!(calls.contains(&"truncate"), abi < 3, "ABI {abi}");
        assert!(calls.contains(&"fchmodat") && calls.contains(&"utimensat") && calls.contains(&"setxattrat"));
        let seccomp = supervised.seccomp().unwrap();
        assert_eq!(seccomp.supervised.len(), metadata_calls(abi < 3).len());
        let json = serde_json::to_value(&supervised).unwrap();
        assert_eq!(json["metadata"]["kind"], "supervisor");
        assert!(json["metadata"]["refuses"].as_str().unwrap().contains("set-uid"));

        no_userns.metadata_supervisor = Err(crate::probe::Refusal::new("openat2 (Linux 5.6)", None, "refused"));
        let refused = plan(&s, &no_userns);
        assert!(
            matches!(refused.metadata_guard(), Some(MetadataGuard::RefusedEverywhere { reason }) if reason.contains("openat2"))
        );
        let seccomp = refused.seccomp().unwrap();
        assert!(seccomp.supervised.is_empty());
        // Every rule for a call must allow it: one refusing outright refuses it.
        for (name, _) in metadata_calls(abi < 3) {
            let refusal = seccomp.rules.iter().any(|r| r.syscall == name && r.allow_if.is_empty());
            assert!(refusal, "no refusal for {name}");
            assert!(seccomp.rules.iter().filter(|r| r.syscall == name).all(|r| r.errno == libc::EPERM), "{name}");
        }
        assert!(
            refused.warnings().iter().any(|w| w.contains("refused with EPERM everywhere") && w.contains("openat2"))
        );
    }
    // A full-write policy needs none.
    s.policy = SandboxPolicy::parse(r#"{"type":"danger-full-access"}"#).unwrap().into();
    let full = plan(&s, &without_namespaces());
    assert!(full.metadata_guard().is_none_or(|guard| *guard == MetadataGuard::NotNeeded));
}

#[test]
fn unix_sockets_are_a_capability_of_their_own_on_every_pipeline_and_network_mode() {
    use crate::policy::UnixSockets;
    let full_network: Policy = SandboxPolicy::parse(r#"{"type":"read-only","network_access":true}"#).unwrap().into();
    let socket_rules = |p: &SandboxPlan| p.seccomp().unwrap().rules.iter().filter(|r| r.syscall == "socket").count();
    for pipeline in [PipelineRequest::Landlock, PipelineRequest::Bwrap] {
        for (policy, proxy) in
            [(full_network.clone(), false), (SandboxPolicy::read_only().into(), false), (full_network.clone(), true)]
        {
            let mut s = if proxy { proxy_spec() } else { spec(&["true"]) };
            s.policy = policy;
            s.pipeline = pipeline;
            let none = plan(&s, &host());
            assert_eq!(none.unix_sockets().granted, "none");
            // The network mode's socket rule and the unix-socket rule, both checked.
            assert_eq!(socket_rules(&none), 2, "{pipeline:?}");
            let scoped = none.landlock().unwrap().scoped;
            assert_ne!(scoped & landlock::scope::ABSTRACT_UNIX_SOCKET, 0, "the abstract scope stays as a second layer");
            assert!(!none.warnings().iter().any(|w| w.contains("unix socket")), "{:?}", none.warnings());

            s.unix_sockets = UnixSockets::All;
            let all = plan(&s, &host());
            assert_eq!(all.unix_sockets().granted, "all");
            assert_eq!(socket_rules(&all), 1);
            assert_eq!(all.landlock().unwrap().scoped & landlock::scope::ABSTRACT_UNIX_SOCKET, 0);
            assert!(
                all.warnings().iter().any(|w| w.contains("unix sockets: all: every unix socket")),
                "{:?}",
                all.warnings()
            );

            s.unix_sockets = UnixSockets::Paths(vec!["/run/docker.sock".into()]);
            let paths = plan(&s, &host());
            assert_eq!(paths.unix_sockets().granted, "none");
            assert_eq!(socket_rules(&paths), 2);
            assert!(
                paths.warnings().iter().any(|w| w.contains("unix socket `/run/docker.sock` is not granted")),
                "{:?}",
                paths.warnings()
            );
            let explained = serde_json::to_value(&paths).unwrap();
            assert_eq!(explained["unix_sockets"]["requested"]["mode"], "paths");
            assert_eq!(explained["unix_sockets"]["granted"], "none");
            assert!(explained["unix_sockets"]["not_granted"][0].as_str().unwrap().contains("connect broker"));
        }
    }
    // The managed network's fields are the same capability, and must agree with the caller's.
    let mut s = spec(&["true"]);
    s.managed_network = Some(
        crate::policy::ManagedNetwork::parse(r#"{"loopbackPorts":[8080],"allowUnixSockets":["/run/docker.sock"]}"#)
            .unwrap(),
    );
    let p = plan(&s, &host());
    assert_eq!(p.unix_sockets().requested, UnixSockets::Paths(vec!["/run/docker.sock".into()]));
    assert!(p.warnings().iter().any(|w| w.contains("is not granted")));
    s.unix_sockets = UnixSockets::All;
    assert!(error(&s, &host()).contains("`unix-sockets`: disagrees with the managed network"));
    s.managed_network = Some(
        crate::policy::ManagedNetwork::parse(r#"{"loopbackPorts":[8080],"dangerouslyAllowAllUnixSockets":true}"#)
            .unwrap(),
    );
    assert_eq!(plan(&s, &host()).unix_sockets().granted, "all");
}

#[test]
fn local_binding_is_granted_in_an_own_network_namespace_only() {
    let mut s = spec(&["true"]);
    s.managed_network =
        Some(crate::policy::ManagedNetwork::parse(r#"{"loopbackPorts":[8080],"allowLocalBinding":true}"#).unwrap());
    s.pipeline = PipelineRequest::Bwrap;
    let bwrap = plan(&s, &host());
    assert!(!bwrap.warnings().iter().any(|w| w.contains("allowLocalBinding")), "{:?}", bwrap.warnings());
    let listen = bwrap.seccomp().unwrap().rules.iter().any(|r| r.syscall == "listen");
    assert!(!listen, "binding and listening are allowed in the sandbox's own network namespace");
    s.pipeline = PipelineRequest::Landlock;
    let landlock = plan(&s, &host());
    assert!(
        landlock.warnings().iter().any(|w| w.contains("allowLocalBinding is not granted on the landlock pipeline"))
    );
    assert!(landlock.seccomp().unwrap().rules.iter().any(|r| r.syscall == "listen" && r.allow_if.is_empty()));
    s.managed_network = Some(crate::policy::ManagedNetwork::parse(r#"{"allowLocalBinding":true}"#).unwrap());
    s.pipeline = PipelineRequest::Bwrap;
    assert!(plan(&s, &host()).warnings().iter().any(|w| w.contains("without loopbackPorts")));
}

#[test]
fn granted_paths_go_through_the_connect_broker_where_it_can_run_and_nowhere_else() {
    use crate::policy::UnixSockets;
    let dir = std::env::temp_dir().join(format!("codex-plan-broker-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("granted.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let file = dir.join("plain.txt");
    std::fs::write(&file, "x").unwrap();
    let canonical = std::fs::canonicalize(&socket).unwrap();
    let mut s = spec(&["true"]);
    s.unix_sockets = UnixSockets::Paths(vec![socket.clone(), file.clone(), dir.join("missing.sock")]);
    for pipeline in [PipelineRequest::Landlock, PipelineRequest::Bwrap] {
        s.pipeline = pipeline;
        let granted = plan(&s, &host());
        let unix = granted.unix_sockets();
        assert_eq!((unix.granted, unix.granted_paths.clone()), ("paths", vec![canonical.clone()]), "{pipeline:?}");
        assert_eq!(unix.enforced_by, Some(CONNECT_BROKER));
        // The file and the missing path are not granted, each with its reason.
        assert_eq!(unix.not_granted.len(), 2, "{:?}", unix.not_granted);
        assert!(unix.not_granted[0].contains("is not a socket"), "{:?}", unix.not_granted);
        assert!(unix.not_granted[1].contains("cannot be resolved"), "{:?}", unix.not_granted);
        let seccomp = granted.seccomp().unwrap();
        assert!(seccomp.brokers_connect());
        assert!(seccomp.rules.iter().any(|r| r.syscall == "seccomp"), "no listener of the command's own");
        // Without what the broker needs on this host, or without a fresh /proc for the
        // namespace pipeline's init: not granted, and nothing is handed to init.
        let mut lacking = host();
        lacking.connect_broker = Err(crate::probe::Refusal::new("pidfd_getfd (Linux 5.6)", Some(libc::ENOSYS), "x"));
        let mut no_fresh_proc = host();
        no_fresh_proc.fresh_proc = false;
        let mut cases = vec![("no broker", plan(&s, &lacking))];
        if pipeline == PipelineRequest::Bwrap {
            cases.push(("no fresh /proc", plan(&s, &no_fresh_proc)));
        }
        for (why, refused) in cases {
            let unix = refused.unix_sockets();
            assert_eq!(unix.granted, "none", "{pipeline:?} {why}");
            assert!(unix.granted_paths.is_empty());
            assert_eq!(unix.not_granted.len(), 3, "{pipeline:?} {why}");
            assert!(!refused.seccomp().unwrap().brokers_connect(), "{pipeline:?} {why}");
        }
    }
    // An installed bwrap runs no init of ours.
    s.pipeline = PipelineRequest::Bwrap;
    s.bwrap_path = Some("/usr/bin/bwrap".into());
    if let Ok(system) = prepare_for(&s, &host()) {
        assert_eq!(system.unix_sockets().granted, "none");
        assert!(system.unix_sockets().not_granted[0].contains("installed bwrap"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_process_budget_is_an_rlimit_where_it_counts_the_sandbox_apart_and_a_cgroup_otherwise() {
    use crate::probe::cgroup::DelegatedCgroup;
    let cgroup = DelegatedCgroup { parent: PathBuf::from("/sys/fs/cgroup/pids"), hierarchy: "v1" };
    let with_cgroup = |euid| HostFacts { euid, pids_cgroup: Ok(cgroup.clone()), ..host() };
    let mut s = spec(&["/bin/true"]);
    s.pipeline = PipelineRequest::Bwrap;
    // An unprivileged user in the sandbox's own user namespace: RLIMIT_NPROC, no cgroup.
    let p = plan(&s, &with_cgroup(1000));
    assert_eq!((p.process().max_processes, p.process().pids_cgroup.as_ref()), (Some(DEFAULT_MAX_PROCESSES), None));
    // The host's root: the run's own pids cgroup.
    let p = plan(&s, &with_cgroup(0));
    assert_eq!(
        (p.process().max_processes, p.process().pids_cgroup.as_ref()),
        (Some(DEFAULT_MAX_PROCESSES), Some(&cgroup))
    );
    // Root without one: no budget by default (warned), an explicit one refused.
    let root = HostFacts { euid: 0, ..host() };
    let p = plan(&s, &root);
    assert_eq!(p.process().max_processes, None);
    assert!(
        p.warnings().iter().any(|w| w.contains("no process budget") && w.contains("no pids cgroup")),
        "{:?}",
        p.warnings()
    );
    s.max_processes = Some(10);
    assert!(error(&s, &root).contains("a process budget of 10"));
    assert_eq!(plan(&s, &with_cgroup(0)).process().max_processes, Some(10));
}

#[test]
fn a_memory_limit_bounds_the_sandbox_where_a_memory_cgroup_can_be_made() {
    use crate::probe::cgroup::DelegatedCgroup;
    let cgroup = DelegatedCgroup { parent: PathBuf::from("/sys/fs/cgroup/memory/me"), hierarchy: "v1" };
    let mut s = spec(&["/bin/true"]);
    s.limits.memory_bytes = Some(64 << 20);
    let p = plan(&s, &HostFacts { memory_cgroup: Ok(cgroup.clone()), ..host() });
    let memory = p.process().limits.memory_cgroup.as_ref().expect("a memory cgroup");
    assert_eq!((&memory.cgroup, memory.max_bytes), (&cgroup, 64 << 20));
    let p = plan(&s, &host());
    assert!(p.process().limits.memory_cgroup.is_none());
    assert!(p.warnings().iter().any(|w| w.contains("per process (RLIMIT_AS)")), "{:?}", p.warnings());
    // A wall clock needs the sandbox's init: a full-access policy has none.
    let mut full = SandboxSpec::new(SandboxPolicy::DangerFullAccess, "/", vec!["/bin/true".into()]);
    full.limits.wall_time = Some(std::time::Duration::from_secs(1));
    assert!(error(&full, &host()).contains("a wall-clock limit of 1000 ms"));
}

/// `uid`/`gid`: another id needs a root caller (the field is named, nothing is planned); the
/// caller's own ids switch nothing; root gets the switch, an id not asked for staying its own;
/// an installed bwrap cannot run the command as another id.
#[test]
fn another_uid_or_gid_needs_a_root_caller_and_the_embedded_launcher() {
    let unprivileged = host();
    for (uid, gid, field) in [(Some(0), None, "uid"), (None, Some(0), "gid"), (Some(1000), Some(1), "gid")] {
        let mut s = spec(&["true"]);
        (s.uid, s.gid) = (uid, gid);
        let error = prepare_for(&s, &unprivileged).unwrap_err();
        assert!(
            matches!(&error, crate::Error::InvalidArgument { field: f, .. } if f == field),
            "{uid:?} {gid:?}: {error}"
        );
        assert!(error.to_string().contains("only root may run the command as another"), "{error}");
    }
    let mut own = spec(&["true"]);
    (own.uid, own.gid) = (Some(1000), Some(1000));
    assert_eq!(plan(&own, &unprivileged).process().ids, None, "the caller's own ids switch nothing");

    let root = HostFacts { euid: 0, egid: 0, ..host() };
    let mut s = spec(&["true"]);
    s.uid = Some(65534);
    let switching = plan(&s, &root);
    let ids = switching.process().ids.unwrap();
    assert_eq!((ids.uid, ids.gid), (65534, 0), "the gid stays the caller's");
    assert!(switching.namespaces().unwrap().id_map.contains("the command runs as uid 65534, gid 0"));
    s.pipeline = PipelineRequest::Landlock;
    s.gid = Some(65533);
    let ids = plan(&s, &root).process().ids.unwrap();
    assert_eq!((ids.uid, ids.gid), (65534, 65533));

    s.pipeline = PipelineRequest::Bwrap;
    s.bwrap_path = Some("/usr/bin/bwrap".into());
    let error = prepare_for(&s, &root).unwrap_err();
    assert!(matches!(&error, crate::Error::InvalidArgument { field, .. } if field == "uid"), "{error}");
    assert!(error.to_string().contains("installed bwrap"), "{error}");
    let auto_bwrap =
        HostFacts { euid: 0, egid: 0, working_system_bwrap: Some("/usr/bin/bwrap".into()), ..without_namespaces() };
    let mut gid_only = spec(&["true"]);
    gid_only.gid = Some(65534);
    let error = prepare_for(&gid_only, &auto_bwrap).unwrap_err();
    assert!(matches!(&error, crate::Error::InvalidArgument { field, .. } if field == "gid"), "{error}");
}
