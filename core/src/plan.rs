//! `prepare`: from what the caller asked for ([`SandboxSpec`]) to everything the child will do
//! ([`SandboxPlan`]). All validation happens here, before anything is created or spawned; the
//! plan is plain data that `--explain` prints as JSON.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::landlock::{self, LandlockPlan};
use crate::mounts::{self, MountOp, ViewOptions};
use crate::policy::{ManagedNetwork, Policy};
use crate::probe;
use crate::proxy::{self, ProxyPlan};
use crate::resolve::{self, FilesystemView, ProtectedPath, ReadScope};
use crate::seccomp::{NetworkMode, SeccompPlan};
use crate::sys;

/// Which pipeline the caller wants.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PipelineRequest {
    /// The strongest pipeline this host supports.
    #[default]
    Auto,
    /// Landlock + seccomp + no_new_privs, applied in the child.
    Landlock,
    /// The namespace pipeline (our embedded bubblewrap).
    Bwrap,
}

impl PipelineRequest {
    pub fn parse(name: &str) -> Result<PipelineRequest> {
        match name {
            "auto" => Ok(PipelineRequest::Auto),
            "landlock" => Ok(PipelineRequest::Landlock),
            "bwrap" | "namespaces" => Ok(PipelineRequest::Bwrap),
            other => Err(Error::argument(
                "pipeline",
                format!("unknown pipeline `{other}`; expected auto, bwrap or landlock"),
            )),
        }
    }
}

/// The pipeline a plan uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pipeline {
    /// No sandbox (danger-full-access, or external-sandbox with network): the command runs as
    /// a plain child in its own session.
    Unsandboxed,
    /// Only the seccomp network filter (external-sandbox with restricted network).
    SeccompOnly,
    /// Landlock + seccomp + no_new_privs in the child; protected paths re-bound read-only in a
    /// private user + mount namespace.
    Landlock,
    /// The namespace pipeline, our embedded bubblewrap: user, mount, PID (and network)
    /// namespaces, a read-only view of `/`, then Landlock and seccomp as further layers.
    Bwrap,
}

/// Who carries out a `bwrap` plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Executor {
    /// This library, in the forked child: no helper executable.
    Embedded,
    /// An installed `bwrap`, given the same view as arguments and the seccomp program as a
    /// descriptor. It applies no Landlock layer.
    SystemBwrap {
        path: PathBuf,
        /// The arguments it gets before the command (`FD`: the seccomp program's descriptor,
        /// known at spawn time).
        args: Vec<String>,
    },
}

/// The namespaces of a `bwrap` plan.
#[derive(Clone, Debug, Serialize)]
pub struct NamespacePlan {
    pub user: bool,
    pub mount: bool,
    /// The sandbox's PID 1 is our init: it reaps, forwards every catchable signal but SIGCHLD
    /// (and its own fault signals) to the command, and exits with the command's status.
    pub pid: bool,
    /// IPC, UTS and cgroup namespaces: the host's System V and POSIX IPC objects are out of
    /// reach.
    pub ipc_uts_cgroup: bool,
    /// An empty network namespace.
    pub network: bool,
    /// How `lo` is brought up in that namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loopback: Option<&'static str>,
    /// The caller's uid and gid, mapped to themselves.
    pub id_map: String,
}

/// Everything the caller decides.
#[derive(Clone, Debug)]
pub struct SandboxSpec {
    /// The legacy policy, or one in the split model (split policies, permission profile).
    pub policy: Policy,
    /// The directory the policy's cwd-relative parts (the cwd writable root, `.codex`) refer to.
    pub policy_cwd: PathBuf,
    /// Where the command runs; defaults to `policy_cwd`.
    pub command_cwd: Option<PathBuf>,
    /// The command and its arguments; `argv[0]` is looked up in the child's `PATH` when it has
    /// no slash.
    pub argv: Vec<OsString>,
    /// The command's whole environment (nothing is inherited implicitly).
    pub env: Vec<(OsString, OsString)>,
    pub pipeline: PipelineRequest,
    /// Codex's `--allow-network-for-proxy`: network only through the proxies named in `env`.
    pub proxy_network: bool,
    /// Codex's `--managed-network`: network only to these loopback proxy ports.
    pub managed_network: Option<ManagedNetwork>,
    /// Do not mount a fresh `/proc` (namespace pipeline).
    pub no_proc: bool,
    /// Run a `bwrap` plan with this installed `bwrap` instead of the embedded launcher.
    pub bwrap_path: Option<PathBuf>,
}

impl SandboxSpec {
    pub fn new(policy: impl Into<Policy>, policy_cwd: impl Into<PathBuf>, argv: Vec<OsString>) -> SandboxSpec {
        SandboxSpec {
            policy: policy.into(),
            policy_cwd: policy_cwd.into(),
            command_cwd: None,
            argv,
            env: Vec::new(),
            pipeline: PipelineRequest::Auto,
            proxy_network: false,
            managed_network: None,
            no_proc: false,
            bwrap_path: None,
        }
    }
}

/// What the child does, decided in full before `fork`.
#[derive(Clone, Debug, Serialize)]
pub struct SandboxPlan {
    pub pipeline: Pipeline,
    /// Why this pipeline, in words.
    pub pipeline_reason: String,
    pub policy: Policy,
    pub filesystem: FilesystemView,
    /// Protected paths inside writable roots that the child re-binds read-only in a private
    /// user + mount namespace (a missing one gets an empty placeholder directory first).
    pub read_only_binds: Vec<ProtectedPath>,
    /// Directories bound over themselves first, so that the command cannot rename them to
    /// carry a protected path away (see [`FilesystemView::directories_to_pin`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pinned_directories: Vec<PathBuf>,
    /// The filesystem view of the `bwrap` pipeline, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<MountOp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<NamespacePlan>,
    pub executor: Executor,
    pub landlock: Option<LandlockPlan>,
    pub network: NetworkMode,
    /// Proxy mode: which proxies, and how the command reaches them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxyPlan>,
    pub seccomp: Option<SeccompPlan>,
    pub process: ProcessPlan,
    /// Variables set on top of the caller's environment.
    pub env_added: Vec<(String, String)>,
    pub warnings: Vec<String>,
    #[serde(skip)]
    pub(crate) exec: ExecPlan,
}

/// How the command is started.
#[derive(Clone, Debug, Serialize)]
pub struct ProcessPlan {
    pub argv: Vec<String>,
    pub cwd: PathBuf,
    /// `setsid`: no controlling terminal, so no TIOCSTI injection into the caller's terminal.
    pub new_session: bool,
    pub no_new_privs: bool,
    /// All capabilities (effective, permitted, inheritable, ambient, bounding) are dropped.
    pub drop_capabilities: bool,
    /// Every descriptor except stdio and those passed explicitly is closed.
    pub close_other_fds: bool,
    /// Where `argv[0]` is looked for, in order.
    pub exec_candidates: Vec<PathBuf>,
}

/// The non-printable part of the plan: exact bytes for the child.
#[derive(Clone, Debug, Default)]
pub(crate) struct ExecPlan {
    pub argv: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
    pub cwd: PathBuf,
    pub candidates: Vec<PathBuf>,
}

const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Validates `spec` and decides everything the child will do. Reads the filesystem, changes
/// nothing.
pub fn prepare(spec: &SandboxSpec) -> Result<SandboxPlan> {
    let Some(program) = spec.argv.first() else {
        return Err(Error::argument("command", "empty command: nothing to run"));
    };
    if program.is_empty() {
        return Err(Error::argument("command", "the program name (argv[0]) is empty"));
    }
    for (i, arg) in spec.argv.iter().enumerate() {
        if arg.as_bytes().contains(&0) {
            return Err(Error::argument(format!("command[{i}]"), "contains a NUL byte"));
        }
    }
    check_env(&spec.env)?;
    // Proxy mode routes exactly the proxies the environment names (or, with a managed network,
    // the loopback ports it names), or nothing runs.
    let proxy_endpoints = match &spec.managed_network {
        Some(managed) if managed.loopback_ports.is_empty() => None,
        Some(managed) => Some(managed_endpoints(managed)),
        None if spec.proxy_network => Some(proxy::endpoints::infer(&spec.env).require_all_usable()?.to_vec()),
        None => None,
    };

    let tmpdir = spec.env.iter().find(|(k, _)| k == "TMPDIR").map(|(_, v)| v.as_os_str());
    let filesystem = resolve::resolve(&spec.policy.lower(), &spec.policy_cwd, tmpdir)?;
    let command_cwd = match &spec.command_cwd {
        Some(cwd) => resolve::canonical_dir(cwd, "command-cwd")?,
        None => resolve::canonical_dir(&spec.policy_cwd, "sandbox-policy-cwd")?,
    };

    let network = match &proxy_endpoints {
        Some(_) => NetworkMode::Proxy,
        // A managed network without ports reaches nothing.
        None if spec.managed_network.is_some() => NetworkMode::Restricted,
        None if spec.policy.has_full_network_access() => NetworkMode::Full,
        None => NetworkMode::Restricted,
    };
    let mut warnings: Vec<String> = spec.managed_network.iter().flat_map(ManagedNetwork::not_granted).collect();
    let (pipeline, pipeline_reason) = choose_pipeline(spec, filesystem.full_write, network)?;

    let readable = match &filesystem.read {
        ReadScope::Full => vec![PathBuf::from("/")],
        ReadScope::Restricted { roots, .. } => roots.clone(),
    };
    let writable: Vec<PathBuf> = filesystem.writable_roots.iter().map(|r| r.path.clone()).collect();
    // Shallowest first: the order in which they are bound.
    let protected_in_roots = || -> Vec<ProtectedPath> {
        let mut paths: Vec<ProtectedPath> =
            filesystem.protected_paths().filter(|p| filesystem.is_under_writable_root(&p.path)).cloned().collect();
        paths.sort_by_key(|p| p.path.components().count());
        paths
    };
    let mut landlock = None;
    let mut read_only_binds = Vec::new();
    let mut pinned_directories = Vec::new();
    let mut mounts = Vec::new();
    let mut namespaces = None;
    let mut proxy = None;
    let seccomp = match pipeline {
        Pipeline::Unsandboxed => None,
        Pipeline::SeccompOnly => Some(SeccompPlan::new(network, false)),
        Pipeline::Landlock => {
            // Landlock only grants; a path inside a readable tree cannot be taken away again
            // without a mount namespace. Never run with it silently readable.
            if let Some(deny) = filesystem.deny_read.first() {
                return Err(Error::Unsupported {
                    what: format!("deny-read of `{}` on the landlock pipeline", deny.path.display()),
                    reason: "Landlock cannot take back reads inside a readable tree and this pipeline masks nothing; \
                             use the bwrap pipeline (a host that allows user namespaces)"
                        .into(),
                });
            }
            let abi = landlock::probe_abi()
                .map_err(|reason| Error::Unsupported { what: "the Landlock pipeline".into(), reason })?;
            let mut plan = if filesystem.full_write {
                LandlockPlan::network_only(abi)
            } else {
                LandlockPlan::new(abi, &readable, &writable, &[])
            };
            if let Some(endpoints) = proxy_endpoints.clone() {
                let route = ProxyPlan::landlock_ports(endpoints);
                plan = plan.with_tcp_connect_only(route.ports()).map_err(|reason| Error::Unsupported {
                    what: "proxy-only networking on the landlock pipeline".into(),
                    reason: format!("{reason}; use the bwrap pipeline"),
                })?;
                proxy = Some(route);
            }
            warnings.extend(plan.not_enforced.iter().map(|gap| format!("landlock: {gap}")));
            landlock = Some(plan);
            read_only_binds = protected_in_roots();
            pinned_directories = filesystem.directories_to_pin(&read_only_binds);
            if spec.no_proc {
                warnings.push("--no-proc has no effect on the landlock pipeline, which mounts no /proc".into());
            }
            Some(SeccompPlan::new(network, false))
        }
        Pipeline::Bwrap => {
            read_only_binds = protected_in_roots();
            let new_netns = network != NetworkMode::Full;
            let mut no_proc = spec.no_proc;
            if !no_proc && !probe::fresh_proc_available() {
                warnings.push("this host refuses a fresh /proc in new namespaces (a container's masked /proc?): /proc is masked instead".into());
                no_proc = true;
            }
            let options = ViewOptions { no_proc, new_netns };
            pinned_directories = filesystem.directories_to_pin(&read_only_binds);
            let masks = if network == NetworkMode::Full {
                let ssh_auth_sock = spec.env.iter().find(|(k, _)| k == "SSH_AUTH_SOCK").map(|(_, v)| Path::new(v));
                mounts::host_ipc_paths(sys::getuid(), ssh_auth_sock)
            } else {
                Vec::new()
            };
            let (ops, view_warnings) =
                mounts::plan(&filesystem, &pinned_directories, &read_only_binds, &masks, options);
            mounts = ops;
            warnings.extend(view_warnings);
            let (uid, gid) = (sys::getuid(), sys::getgid());
            namespaces = Some(NamespacePlan {
                user: true,
                mount: true,
                pid: true,
                ipc_uts_cgroup: true,
                network: new_netns,
                loopback: new_netns.then_some(
                    "IFF_UP only (the kernel then adds 127.0.0.1 and ::1; no RTM_NEWADDR, which AppArmor-restricted \
                     hosts refuse); best effort: where even that is refused the command runs with lo as the host left it",
                ),
                id_map: format!("uid {uid} -> {uid}, gid {gid} -> {gid}"),
            });
            if let Some(endpoints) = proxy_endpoints.clone() {
                if spec.bwrap_path.is_some() {
                    return Err(Error::Unsupported {
                        what: "proxy-only networking with a system bwrap".into(),
                        reason: "the proxy bridge needs the embedded launcher; drop --bwrap-path".into(),
                    });
                }
                proxy = Some(ProxyPlan::bridged(endpoints));
            }
            match landlock::probe_abi() {
                Ok(abi) if spec.bwrap_path.is_none() && !filesystem.full_write => {
                    // The view itself hides what may not be read, so the second layer only
                    // restricts writes.
                    let plan = LandlockPlan::new(abi, &[PathBuf::from("/")], &writable, &["/dev/pts"]);
                    warnings.extend(plan.not_enforced.iter().map(|gap| format!("landlock: {gap}")));
                    landlock = Some(plan);
                }
                Ok(_) if filesystem.full_write => {}
                Ok(_) => warnings.push("the system bwrap executor applies no Landlock layer".into()),
                Err(reason) => warnings.push(format!("no Landlock layer under the namespaces: {reason}")),
            }
            Some(SeccompPlan::new(network, new_netns))
        }
    };
    let executor = match (&spec.bwrap_path, pipeline) {
        (None, _) => Executor::Embedded,
        (Some(path), Pipeline::Bwrap) => Executor::SystemBwrap { path: path.clone(), args: Vec::new() },
        (Some(_), _) => {
            return Err(Error::argument(
                "bwrap-path",
                "a system bwrap can only run the bwrap pipeline (--pipeline bwrap)",
            ));
        }
    };

    let mut env = spec.env.clone();
    let mut env_added = Vec::new();
    // Codex's marker follows the policy: in proxy mode a policy without network keeps it.
    if !spec.policy.has_full_network_access() {
        set_env(&mut env, &mut env_added, "CODEX_SANDBOX_NETWORK_DISABLED", "1");
    }
    let candidates = exec_candidates(program, &env);
    let sandboxed = pipeline != Pipeline::Unsandboxed;
    let mut plan = SandboxPlan {
        pipeline,
        pipeline_reason,
        policy: spec.policy.clone(),
        filesystem,
        pinned_directories,
        read_only_binds,
        mounts,
        namespaces,
        executor,
        landlock,
        network,
        proxy,
        seccomp,
        process: ProcessPlan {
            argv: spec.argv.iter().map(|a| a.to_string_lossy().into_owned()).collect(),
            cwd: command_cwd.clone(),
            new_session: true,
            no_new_privs: sandboxed,
            drop_capabilities: matches!(pipeline, Pipeline::Landlock | Pipeline::Bwrap),
            close_other_fds: true,
            exec_candidates: candidates.clone(),
        },
        env_added,
        warnings,
        exec: ExecPlan { argv: spec.argv.clone(), env, cwd: command_cwd, candidates },
    };
    // What the system bwrap will get, for --explain.
    if let Executor::SystemBwrap { path, .. } = &plan.executor {
        let rendered = crate::spawn::system_bwrap_command_line(&plan, path, plan.seccomp.as_ref().map(|_| "FD"));
        if let Executor::SystemBwrap { args, .. } = &mut plan.executor {
            *args = rendered;
        }
    }
    Ok(plan)
}

fn choose_pipeline(spec: &SandboxSpec, full_write: bool, network: NetworkMode) -> Result<(Pipeline, String)> {
    let policy = &spec.policy;
    // A full-write policy needs no filesystem sandbox; in proxy mode it still needs a network
    // one (Codex wraps even danger-full-access then).
    if full_write && network != NetworkMode::Proxy {
        let name = policy.type_name();
        return Ok(if network == NetworkMode::Full {
            (Pipeline::Unsandboxed, format!("policy `{name}` with network: nothing to enforce"))
        } else {
            (
                Pipeline::SeccompOnly,
                format!("policy `{name}`: the filesystem is left to the caller; only the network is restricted"),
            )
        });
    }
    match spec.pipeline {
        PipelineRequest::Bwrap => Ok((Pipeline::Bwrap, "requested explicitly".into())),
        PipelineRequest::Landlock => Ok((Pipeline::Landlock, "requested explicitly".into())),
        PipelineRequest::Auto => Ok(match probe::namespaces_available() {
            Ok(()) => (Pipeline::Bwrap, "auto: this host allows user, mount and PID namespaces".into()),
            Err(reason) => (Pipeline::Landlock, format!("auto: namespaces are unavailable ({reason})")),
        }),
    }
}

/// The proxy endpoints of a managed network: its loopback ports on `127.0.0.1`.
fn managed_endpoints(managed: &ManagedNetwork) -> Vec<proxy::ProxyEndpoint> {
    managed
        .loopback_ports
        .iter()
        .enumerate()
        .map(|(index, port)| proxy::ProxyEndpoint {
            variable: format!("managed-network.loopbackPorts[{index}]"),
            addr: std::net::SocketAddr::from(([127, 0, 0, 1], *port)),
        })
        .collect()
}

fn check_env(env: &[(OsString, OsString)]) -> Result<()> {
    for (key, value) in env {
        let field = format!("env[{}]", key.to_string_lossy());
        if key.is_empty() || key.as_bytes().contains(&b'=') {
            return Err(Error::argument(field, "a variable name must be non-empty and contain no `=`"));
        }
        if key.as_bytes().contains(&0) || value.as_bytes().contains(&0) {
            return Err(Error::argument(field, "contains a NUL byte"));
        }
    }
    Ok(())
}

fn set_env(env: &mut Vec<(OsString, OsString)>, added: &mut Vec<(String, String)>, key: &str, value: &str) {
    env.retain(|(k, _)| k != key);
    env.push((key.into(), value.into()));
    added.push((key.into(), value.into()));
}

/// Where `execvp` would look for `program`: itself when it contains a slash, else each entry of
/// the child's `PATH` (an empty entry meaning the current directory).
fn exec_candidates(program: &OsStr, env: &[(OsString, OsString)]) -> Vec<PathBuf> {
    if program.as_bytes().contains(&b'/') {
        return vec![PathBuf::from(program)];
    }
    let path = env.iter().find(|(k, _)| k == "PATH").map(|(_, v)| v.as_os_str()).unwrap_or(OsStr::new(DEFAULT_PATH));
    path.as_bytes()
        .split(|b| *b == b':')
        .map(|dir| if dir.is_empty() { Path::new(".") } else { Path::new(OsStr::from_bytes(dir)) })
        .map(|dir| dir.join(program))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::SandboxPolicy;

    fn spec(argv: &[&str]) -> SandboxSpec {
        let mut spec = SandboxSpec::new(SandboxPolicy::read_only(), "/", argv.iter().map(OsString::from).collect());
        spec.env = vec![("PATH".into(), "/usr/bin::/bin".into())];
        spec
    }

    #[test]
    fn empty_command_is_refused() {
        assert!(prepare(&spec(&[])).unwrap_err().to_string().contains("`command`: empty command"));
        assert!(prepare(&spec(&[""])).unwrap_err().to_string().contains("argv[0]) is empty"));
    }

    #[test]
    fn path_search_candidates() {
        let plan = prepare(&spec(&["true"])).unwrap();
        assert_eq!(
            plan.exec.candidates,
            vec![PathBuf::from("/usr/bin/true"), PathBuf::from("./true"), PathBuf::from("/bin/true")]
        );
        let plan = prepare(&spec(&["./x"])).unwrap();
        assert_eq!(plan.exec.candidates, vec![PathBuf::from("./x")]);
    }

    #[test]
    fn bad_env_is_refused() {
        let mut s = spec(&["true"]);
        s.env.push(("A=B".into(), "c".into()));
        assert!(prepare(&s).unwrap_err().to_string().contains("`env[A=B]`"));
    }

    #[test]
    fn pipelines_by_policy() {
        let mut s = spec(&["true"]);
        s.policy = SandboxPolicy::DangerFullAccess.into();
        let plan = prepare(&s).unwrap();
        assert_eq!(plan.pipeline, Pipeline::Unsandboxed);
        assert!(plan.seccomp.is_none());
        assert!(plan.env_added.is_empty());
        s.policy = SandboxPolicy::parse(r#"{"type":"external-sandbox"}"#).unwrap().into();
        let plan = prepare(&s).unwrap();
        assert_eq!(plan.pipeline, Pipeline::SeccompOnly);
        assert_eq!(plan.env_added, vec![("CODEX_SANDBOX_NETWORK_DISABLED".to_owned(), "1".to_owned())]);
        s.policy = SandboxPolicy::read_only().into();
        s.pipeline = PipelineRequest::Bwrap;
        let plan = prepare(&s).unwrap();
        assert_eq!(plan.pipeline, Pipeline::Bwrap);
        assert_eq!(plan.mounts.first(), Some(&MountOp::ReadOnlyRoot));
        assert!(plan.namespaces.as_ref().unwrap().network);
        s.bwrap_path = Some("/usr/bin/bwrap".into());
        let Executor::SystemBwrap { args, .. } = prepare(&s).unwrap().executor else { panic!("system bwrap expected") };
        let args = args.join(" ");
        assert!(args.starts_with("/usr/bin/bwrap --new-session --die-with-parent --unshare-user"), "{args}");
        assert!(args.contains("--unshare-net --ro-bind / / ") && args.ends_with("--seccomp FD --"), "{args}");
        s.pipeline = PipelineRequest::Landlock;
        assert!(prepare(&s).unwrap_err().to_string().contains("`bwrap-path`"));
        s.bwrap_path = None;
        s.pipeline = PipelineRequest::Auto;
        s.proxy_network = true;
        // No proxy variable: refused, naming where one was expected.
        assert!(prepare(&s).unwrap_err().to_string().contains("needs a loopback proxy URL"));
        s.env.push(("HTTPS_PROXY".into(), "http://example.com:3128".into()));
        let error = prepare(&s).unwrap_err().to_string();
        assert!(error.contains("`HTTPS_PROXY`"), "{error}");
        s.env.pop();
        s.env.push(("https_proxy".into(), "http://127.0.0.1:3128".into()));
        for pipeline in [PipelineRequest::Bwrap, PipelineRequest::Landlock] {
            s.pipeline = pipeline;
            let plan = prepare(&s).unwrap();
            assert_eq!(plan.network, NetworkMode::Proxy);
            assert_eq!(plan.proxy.as_ref().unwrap().ports(), vec![3128]);
        }
    }
}
