//! `codex-linux-sandbox`: the fallback executable.
//!
//! Accepts the flags of Codex's helper of the same name, so Codex (or anything that launched
//! Codex's helper) can use it unchanged, plus `--pipeline` and `--explain`. All the work is in
//! `codex-sandbox-core`; this file only parses arguments and maps results to exit codes:
//! the command's own code, 128+N when it died of signal N, 125 when the sandbox could not be
//! set up, 126 when the command cannot be executed, 127 when it was not found.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use codex_sandbox_core::policy::{UnixSockets, policy_from_flags};
use codex_sandbox_core::{
    Error, ErrorKind, FORWARDED_SIGNALS, ManagedNetwork, PipelineRequest, Policy, ResourceLimits, SandboxSpec,
    SignalForwarder, SpawnOptions, prepare, spawn,
};

/// The run was ended by its wall-clock limit (`--max-wall-time`), as timeout(1) reports it.
const WALL_TIME_EXCEEDED: u8 = 124;
const SETUP_FAILED: u8 = 125;
/// Exit code when the command created a protected name in a writable root (removed after the run).
const PROTECTED_NAME_CREATED: u8 = 123;
const NOT_EXECUTABLE: u8 = 126;
const NOT_FOUND: u8 = 127;

/// Run a command inside the codex-sandbox Linux sandbox.
///
/// `codex-linux-sandbox doctor` prints what this host can enforce;
/// `codex-linux-sandbox seatbelt [--sandbox-policy P] -- CMD` prints the macOS `sandbox-exec`
/// command for a policy.
#[derive(Parser, Debug)]
#[command(name = "codex-linux-sandbox", version, about)]
struct Cli {
    /// Directory the policy's cwd-relative parts refer to (the cwd writable root, `.codex`).
    /// Defaults to the current directory.
    #[arg(long, value_name = "DIR")]
    sandbox_policy_cwd: Option<PathBuf>,

    /// The policy: Codex's SandboxPolicy JSON, or one of read-only, workspace-write,
    /// danger-full-access. Default: read-only.
    #[arg(long, value_name = "JSON|NAME")]
    sandbox_policy: Option<String>,

    /// Codex's split file-system policy (FileSystemSandboxPolicy JSON); needs
    /// --network-sandbox-policy. With --sandbox-policy too, the two must agree.
    #[arg(long, value_name = "JSON")]
    file_system_sandbox_policy: Option<String>,

    /// Codex's split network policy: "restricted" or "enabled"; needs
    /// --file-system-sandbox-policy.
    #[arg(long, value_name = "JSON")]
    network_sandbox_policy: Option<String>,

    /// Codex's PermissionProfile JSON: the whole policy (instead of the other policy flags).
    #[arg(long, value_name = "JSON")]
    permission_profile: Option<String>,

    /// Codex's managed-network context JSON: network only to its `loopbackPorts` (proxy-only).
    #[arg(long, value_name = "JSON")]
    managed_network: Option<String>,

    /// Working directory of the command. Defaults to the current directory.
    #[arg(long, value_name = "DIR")]
    command_cwd: Option<PathBuf>,

    /// Which pipeline enforces the policy.
    #[arg(long, value_name = "auto|bwrap|landlock")]
    pipeline: Option<String>,

    /// Run the bwrap pipeline with this installed bubblewrap instead of the embedded launcher.
    #[arg(long, value_name = "PATH")]
    bwrap_path: Option<PathBuf>,

    /// Codex's flag for `--pipeline bwrap`.
    #[arg(long, hide = true)]
    use_bwrap_sandbox: bool,

    /// Codex's flag for `--pipeline landlock`.
    #[arg(long, hide = true)]
    use_legacy_landlock: bool,

    /// Do not mount a fresh /proc (namespace pipeline).
    #[arg(long)]
    no_proc: bool,

    /// Processes and threads the sandbox may have at once (default 4096; counted in the
    /// sandbox's own user namespace, or in a pids cgroup of the run's own for the host's root).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_processes: Option<u64>,

    /// Also protect this name in every writable root (kept read-only, kept from being
    /// created, removed after the run wherever the command created it); repeatable.
    #[arg(long, value_name = "NAME")]
    protect: Vec<OsString>,

    /// Do not protect this default name (`.git` for `git init`); repeatable.
    #[arg(long, value_name = "NAME")]
    unprotect: Vec<OsString>,

    /// Address space of each process of the sandbox (RLIMIT_AS), in bytes or with a K, M, G or
    /// T suffix (powers of 1024).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_memory: Option<u64>,

    /// CPU time of each process (RLIMIT_CPU): SIGXCPU at N seconds, SIGKILL a second later.
    #[arg(long, value_name = "N")]
    max_cpu_seconds: Option<u64>,

    /// The largest file a process may write (RLIMIT_FSIZE): SIGXFSZ, or EFBIG where caught.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_file_size: Option<u64>,

    /// Open descriptors of each process (RLIMIT_NOFILE): EMFILE beyond.
    #[arg(long, value_name = "N")]
    max_open_files: Option<u64>,

    /// Wall-clock limit of the whole run, in seconds (fractions allowed): when it expires every
    /// process of the sandbox is killed and the exit status is 124.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    max_wall_time: Option<std::time::Duration>,

    /// Allow network only through the loopback proxies named in the proxy variables.
    #[arg(long)]
    allow_network_for_proxy: bool,

    /// Which unix sockets the command may reach, whatever the network mode: none (default:
    /// socket(AF_UNIX) fails with EPERM; socketpairs work) or all (every socket in its view).
    #[arg(long, value_name = "none|all")]
    unix_sockets: Option<String>,

    /// Ask for one unix socket path (repeatable). Not granted by this version (no connect
    /// broker): the run goes on as under --unix-sockets none, and --explain says so.
    #[arg(long, value_name = "PATH")]
    allow_unix_socket: Vec<PathBuf>,

    /// Print the plan as JSON and exit without running anything.
    #[arg(long)]
    explain: bool,

    #[command(flatten)]
    inner_stage: InnerStageFlags,

    /// The command and its arguments.
    #[arg(trailing_var_arg = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

/// Flags of Codex's two-stage helper that only its inner stage (re-executed inside bwrap)
/// understands. Ours is single-stage: accepted by the parser only to be refused by name.
#[derive(clap::Args, Debug)]
struct InnerStageFlags {
    #[arg(long, hide = true)]
    apply_seccomp_then_exec: bool,
    #[arg(long, hide = true, value_name = "JSON")]
    proxy_route_spec: Option<String>,
    #[arg(long, hide = true, value_name = "FD:DEST")]
    verify_fd_mount: Vec<String>,
    #[arg(long, hide = true)]
    transparent_tcp: bool,
    #[arg(long, hide = true, value_name = "FD")]
    transparent_tcp_fd: Option<String>,
    #[arg(long, hide = true)]
    inherit_pid_namespace: bool,
}

impl InnerStageFlags {
    /// Refuses the first flag given, saying why.
    fn refuse(&self) -> Result<(), Error> {
        let single_stage = |flag: &str| Error::InvalidArgument {
            field: flag.into(),
            message: "is an inner-stage flag of Codex's two-stage helper; this helper is single-stage \
                      (it sets up the namespaces, seccomp and the proxy bridge itself) and has no inner stage"
                .into(),
        };
        if self.apply_seccomp_then_exec {
            return Err(single_stage("apply-seccomp-then-exec"));
        }
        if self.proxy_route_spec.is_some() {
            return Err(single_stage("proxy-route-spec"));
        }
        if !self.verify_fd_mount.is_empty() {
            return Err(single_stage("verify-fd-mount"));
        }
        if self.transparent_tcp {
            return Err(single_stage("transparent-tcp"));
        }
        if self.transparent_tcp_fd.is_some() {
            return Err(single_stage("transparent-tcp-fd"));
        }
        if self.inherit_pid_namespace {
            return Err(Error::InvalidArgument {
                field: "inherit-pid-namespace".into(),
                message: "refused: the sandbox's PID 1 is our init (it reaps, forwards signals, and its exit ends \
                          every process of the sandbox), and a shared PID namespace with the host's /proc would let \
                          the command see and signal processes outside the sandbox"
                    .into(),
            });
        }
        Ok(())
    }
}

/// `codex-linux-sandbox seatbelt`: print the macOS `sandbox-exec` command for a policy.
#[derive(Parser, Debug)]
#[command(name = "codex-linux-sandbox seatbelt")]
struct SeatbeltCli {
    /// The policy, as for running a command.
    #[arg(long, value_name = "JSON|NAME", default_value = "read-only")]
    sandbox_policy: String,

    /// Directory the policy's cwd refers to. Defaults to the current directory.
    #[arg(long, value_name = "DIR")]
    sandbox_policy_cwd: Option<PathBuf>,

    /// Let the command bind local ports and reach any loopback port.
    #[arg(long)]
    allow_local_binding: bool,

    /// Unix sockets: none (default) or all, rendered as Codex renders them.
    #[arg(long, value_name = "none|all")]
    unix_sockets: Option<String>,

    /// A unix socket (or a directory of them) the command may bind and connect to (repeatable);
    /// Seatbelt checks each address, so on macOS the grant is real.
    #[arg(long, value_name = "PATH")]
    allow_unix_socket: Vec<PathBuf>,

    /// The command and its arguments.
    #[arg(trailing_var_arg = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

/// `codex-linux-sandbox doctor`: what this host can enforce, check by check (each with its
/// errno, what it means and what to do). Exits 1 when no pipeline can enforce workspace-write
/// with restricted network here.
#[derive(Parser, Debug)]
#[command(name = "codex-linux-sandbox doctor", bin_name = "codex-linux-sandbox doctor")]
struct DoctorCli {
    /// Print the probe as JSON instead of the table.
    #[arg(long)]
    json: bool,
}

fn doctor(cli: DoctorCli) -> Result<ExitCode, Error> {
    let probe = codex_sandbox_core::probe::probe();
    if cli.json {
        print_json(&probe)?;
    } else {
        let _ = write!(std::io::stdout().lock(), "{}", probe.table());
    }
    Ok(if probe.can_enforce_workspace_write() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn main() -> ExitCode {
    let result = match std::env::args_os().nth(1) {
        Some(arg) if arg == "doctor" => match DoctorCli::try_parse_from(std::env::args_os().skip(1)) {
            Ok(cli) => doctor(cli),
            Err(error) => return usage_error(error),
        },
        Some(arg) if arg == "seatbelt" => match SeatbeltCli::try_parse_from(std::env::args_os().skip(1)) {
            Ok(cli) => seatbelt(cli),
            Err(error) => return usage_error(error),
        },
        _ => match Cli::try_parse() {
            Ok(cli) => run(cli),
            Err(error) => return usage_error(error),
        },
    };
    result.unwrap_or_else(|error| {
        eprintln!("codex-linux-sandbox: {error}");
        ExitCode::from(match error.kind() {
            ErrorKind::CommandNotFound => NOT_FOUND,
            ErrorKind::CommandNotExecutable => NOT_EXECUTABLE,
            _ => SETUP_FAILED,
        })
    })
}

fn run(cli: Cli) -> Result<ExitCode, Error> {
    cli.inner_stage.refuse()?;
    let pipeline = pipeline_request(&cli)?;
    let cwd = current_dir()?;
    let policy_cwd = cli.sandbox_policy_cwd.clone().unwrap_or_else(|| cwd.clone());
    let policy = policy_from_flags(
        &policy_cwd,
        cli.sandbox_policy.as_deref(),
        cli.file_system_sandbox_policy.as_deref(),
        cli.network_sandbox_policy.as_deref(),
        cli.permission_profile.as_deref(),
    )?;
    let managed_network = cli.managed_network.as_deref().map(ManagedNetwork::parse).transpose()?;
    let unix_mode =
        cli.unix_sockets.as_deref().map(|mode| UnixSockets::parse_mode(mode, "unix-sockets")).transpose()?;
    let unix_sockets = UnixSockets::from_parts(unix_mode, cli.allow_unix_socket, "allow-unix-socket")?;
    let mut spec = SandboxSpec::new(policy, policy_cwd, cli.command);
    spec.managed_network = managed_network;
    spec.unix_sockets = unix_sockets;
    spec.command_cwd = Some(cli.command_cwd.unwrap_or(cwd));
    spec.env = std::env::vars_os().collect();
    spec.pipeline = pipeline;
    spec.proxy_network = cli.allow_network_for_proxy;
    spec.no_proc = cli.no_proc;
    spec.max_processes = cli.max_processes;
    spec.limits = ResourceLimits {
        memory_bytes: cli.max_memory,
        cpu_seconds: cli.max_cpu_seconds,
        file_size_bytes: cli.max_file_size,
        open_files: cli.max_open_files,
        wall_time: cli.max_wall_time,
    };
    spec.bwrap_path = cli.bwrap_path;
    spec.protect = cli.protect;
    spec.unprotect = cli.unprotect;
    if cli.explain {
        return print_json(&prepare(&spec)?);
    }
    // The host probe (a child cloned into namespaces) would cost about as much as the run:
    // plan for a host where its checks pass, and probe only if that spawn fails at setup
    // (`HostFacts::optimistic` says why this never runs the command weaker).
    let optimistic = codex_sandbox_core::prepare_for(&spec, &codex_sandbox_core::HostFacts::optimistic()).ok();
    let plan = match optimistic {
        Some(plan) => plan,
        None => prepare(&spec)?,
    };
    // A socket asked for and not granted makes the command's connect fail; say why up front.
    for gap in &plan.unix_sockets().not_granted {
        eprintln!("codex-linux-sandbox: warning: {gap}");
    }

    let setup_error = |context: &'static str| move |e: std::io::Error| Error::setup(context, e);
    let forwarder = SignalForwarder::new(&FORWARDED_SIGNALS).map_err(setup_error("block forwarded signals"))?;
    let mut child = match spawn(&plan, SpawnOptions::default()) {
        Ok(child) => child,
        Err(error) if retry_after_probe(&error) => {
            let plan = prepare(&spec)?;
            for gap in &plan.unix_sockets().not_granted {
                eprintln!("codex-linux-sandbox: warning: {gap}");
            }
            spawn(&plan, SpawnOptions::default())?
        }
        Err(error) => return Err(error),
    };
    let status = forwarder.wait(&mut child).map_err(setup_error("wait for the command"))?;
    if let Some(failure) = child.setup_failure() {
        eprintln!("codex-linux-sandbox: {failure}");
    }
    if let Some(violation) = child.protected_name_violation() {
        eprintln!("codex-linux-sandbox: {violation} (the command's own exit status was {})", status.shell_code());
        return Ok(ExitCode::from(PROTECTED_NAME_CREATED));
    }
    if child.wall_time_exceeded() {
        let limit = cli.max_wall_time.unwrap_or_default().as_secs_f64();
        eprintln!(
            "codex-linux-sandbox: the wall-clock limit (--max-wall-time {limit}) expired: every process of the \
             sandbox was killed"
        );
        return Ok(ExitCode::from(WALL_TIME_EXCEEDED));
    }
    Ok(ExitCode::from(status.shell_code().clamp(0, 255) as u8))
}

/// A size in bytes: digits, optionally followed by K, M, G or T (powers of 1024).
fn parse_size(text: &str) -> Result<u64, String> {
    let (digits, shift) = match text.char_indices().last() {
        Some((at, unit)) if unit.is_ascii_alphabetic() => {
            let shift = match unit.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return Err(format!("`{text}`: the unit must be K, M, G or T")),
            };
            (&text[..at], shift)
        }
        _ => (text, 0),
    };
    let value: u64 =
        digits.parse().map_err(|_| format!("`{text}` is not a size (bytes, or a number with K, M, G, T)"))?;
    value.checked_mul(1 << shift).ok_or_else(|| format!("`{text}` is too large"))
}

/// Seconds, fractions allowed.
fn parse_seconds(text: &str) -> Result<std::time::Duration, String> {
    text.parse::<f64>()
        .ok()
        .and_then(|seconds| std::time::Duration::try_from_secs_f64(seconds).ok())
        .ok_or_else(|| format!("`{text}` is not a number of seconds"))
}

/// `codex-linux-sandbox seatbelt`: the macOS `sandbox-exec` command for a policy, as JSON.
fn seatbelt(cli: SeatbeltCli) -> Result<ExitCode, Error> {
    let cwd = match cli.sandbox_policy_cwd {
        Some(cwd) => cwd,
        None => current_dir()?,
    };
    let policy = Policy::parse(&cli.sandbox_policy)?;
    let env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    let unix_mode =
        cli.unix_sockets.as_deref().map(|mode| UnixSockets::parse_mode(mode, "unix-sockets")).transpose()?;
    let options = codex_sandbox_core::seatbelt::SeatbeltOptions {
        allow_local_binding: cli.allow_local_binding,
        unix_sockets: UnixSockets::from_parts(unix_mode, cli.allow_unix_socket, "allow-unix-socket")?,
        ..Default::default()
    };
    print_json(&codex_sandbox_core::seatbelt::seatbelt_command(&policy, &cwd, &cli.command, &env, &options)?)
}

fn current_dir() -> Result<PathBuf, Error> {
    std::env::current_dir().map_err(|e| Error::InvalidArgument {
        field: "cwd".into(),
        message: format!("cannot read the current directory: {e}"),
    })
}

fn print_json(value: &impl serde::Serialize) -> Result<ExitCode, Error> {
    let json = serde_json::to_string_pretty(value).map_err(|e| Error::Internal(e.to_string()))?;
    let _ = writeln!(std::io::stdout().lock(), "{json}");
    Ok(ExitCode::SUCCESS)
}

/// Prints a clap error as one line (help and version go to stdout with exit 0).
fn usage_error(error: clap::Error) -> ExitCode {
    if !error.use_stderr() {
        let _ = error.print();
        return ExitCode::SUCCESS;
    }
    // clap's message is several lines of tips; keep the one line that says what is wrong.
    let rendered = error.render().to_string();
    let first = rendered.lines().next().unwrap_or_default();
    eprintln!("codex-linux-sandbox: {} (see --help)", first.trim_start_matches("error: "));
    ExitCode::from(SETUP_FAILED)
}

fn pipeline_request(cli: &Cli) -> Result<PipelineRequest, Error> {
    let mut requests = Vec::new();
    if let Some(name) = &cli.pipeline {
        requests.push(("--pipeline", PipelineRequest::parse(name)?));
    }
    if cli.use_bwrap_sandbox {
        requests.push(("--use-bwrap-sandbox", PipelineRequest::Bwrap));
    }
    if cli.use_legacy_landlock {
        requests.push(("--use-legacy-landlock", PipelineRequest::Landlock));
    }
    match requests.as_slice() {
        [] => Ok(PipelineRequest::Auto),
        [(_, request)] => Ok(*request),
        [(first, a), rest @ ..] => match rest.iter().find(|(_, b)| b != a) {
            None => Ok(*a),
            Some((second, _)) => Err(Error::InvalidArgument {
                field: "pipeline".into(),
                message: format!("{first} and {second} ask for different pipelines"),
            }),
        },
    }
}

/// Whether a spawn planned for an [optimistic](codex_sandbox_core::HostFacts::optimistic) host
/// may have failed because a fact it assumed does not hold here: a setup failure before the
/// command ran (never the command's own not-found or not-executable, which a probe cannot
/// change).
fn retry_after_probe(error: &Error) -> bool {
    matches!(error.kind(), ErrorKind::SpawnFailed | ErrorKind::Unsupported | ErrorKind::PermissionDenied)
}
