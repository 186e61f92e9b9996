//! Cost of the connect broker: 2000 connects in one process (python, so the loop is the system
//! calls, not process starts) to a host unix listener and to a loopback TCP listener, blocking
//! (the broker forks a short-lived child per connect) and non-blocking (answered in init), each
//! without the broker (`unix sockets: all`, whose connects the filter lets through) and with it
//! (the socket granted by path: every connect goes through init), on each pipeline this host
//! runs, under full network. Prints medians, the ratio and the cost per connect side by side.
//!
//!     cargo bench -p codex-sandbox-core --bench connect [-- ROUNDS]

use std::ffi::OsString;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use codex_sandbox_core::policy::UnixSockets;
use codex_sandbox_core::{PipelineRequest, Policy, SandboxSpec, SpawnOptions, prepare_for, spawn};

const CONNECTS: u32 = 2000;

fn plan_for(cwd: &Path, script: &str, pipeline: PipelineRequest, unix: UnixSockets) -> codex_sandbox_core::SandboxPlan {
    let policy = Policy::parse(r#"{"type":"read-only","network_access":true}"#).expect("policy");
    let argv = ["/usr/bin/python3", "-c", script].iter().map(OsString::from).collect();
    let mut spec = SandboxSpec::new(policy, cwd, argv);
    spec.pipeline = pipeline;
    spec.unix_sockets = unix;
    spec.env = vec![("PATH".into(), "/usr/bin:/bin".into())];
    prepare_for(&spec, codex_sandbox_core::HostFacts::get()).expect("plan")
}

fn time(plan: &codex_sandbox_core::SandboxPlan) -> Duration {
    let start = Instant::now();
    let status = spawn(plan, SpawnOptions::default()).unwrap().wait().unwrap();
    assert_eq!(status.code(), Some(0));
    start.elapsed()
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Raises a listener's backlog (std listens with 128): 2000 connects in a row must not
/// overflow it, or dropped SYNs (retried after a second) would be measured instead.
fn deep_backlog(fd: &impl std::os::fd::AsRawFd) {
    // SAFETY: listen on a descriptor we own; a second listen only changes the backlog.
    assert_eq!(unsafe { libc::listen(fd.as_raw_fd(), 4096) }, 0);
}

/// Accepts and drops every connection until the process ends.
fn serve_unix(listener: UnixListener) {
    deep_backlog(&listener);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
}

fn serve_tcp(listener: std::net::TcpListener) {
    deep_backlog(&listener);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
}

fn main() {
    let rounds: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(5);
    let dir = std::env::temp_dir().join(format!("codex-bench-connect-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let socket: PathBuf = dir.join("bench.sock");
    serve_unix(UnixListener::bind(&socket).unwrap());
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port();
    serve_tcp(tcp);
    let loop_of = |make: &str, target: &str, blocking: bool| {
        // A non-blocking connect: unix completes at once (or EAGAIN on a full backlog, retried);
        // TCP says EINPROGRESS and completes once writable.
        let connect = if blocking {
            format!("s.connect({target})")
        } else {
            format!(
                "s.setblocking(False)\n    while True:\n        e = s.connect_ex({target})\n        if e in (0, errno.EINPROGRESS): break\n    select.select([], [s], [], 5)"
            )
        };
        format!(
            "import errno, select, socket\nfor _ in range({CONNECTS}):\n    s = {make}\n    {connect}\n    s.close()\n"
        )
    };
    let unix_target = format!("{:?}", socket.display().to_string());
    let tcp_target = format!("('127.0.0.1', {port})");
    let workloads = [
        ("unix, blocking", loop_of("socket.socket(socket.AF_UNIX)", &unix_target, true)),
        ("unix, non-blocking", loop_of("socket.socket(socket.AF_UNIX)", &unix_target, false)),
        ("tcp, blocking", loop_of("socket.socket()", &tcp_target, true)),
        ("tcp, non-blocking", loop_of("socket.socket()", &tcp_target, false)),
    ];
    let mut pipelines = vec![PipelineRequest::Landlock];
    if codex_sandbox_core::probe::namespaces_available().is_ok() {
        pipelines.push(PipelineRequest::Bwrap);
    }
    println!(
        "{:22} {:9} {:>12} {:>12} {:>7} {:>14}",
        "2000 connects", "pipeline", "no broker", "broker", "ratio", "per connect"
    );
    for pipeline in pipelines {
        for (name, script) in &workloads {
            let direct = plan_for(&dir, script, pipeline, UnixSockets::All);
            let brokered = plan_for(&dir, script, pipeline, UnixSockets::Paths(vec![socket.clone()]));
            assert!(brokered.unix_sockets().brokered() && !direct.unix_sockets().brokered());
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for _ in 0..rounds {
                a.push(time(&direct));
                b.push(time(&brokered));
            }
            let (a, b) = (median(&mut a), median(&mut b));
            let extra_us = (b.as_secs_f64() - a.as_secs_f64()) * 1e6 / f64::from(CONNECTS);
            println!(
                "{name:22} {:9} {:>9.1} ms {:>9.1} ms {:>6.2}x {:>+11.1} us",
                format!("{pipeline:?}").to_lowercase(),
                a.as_secs_f64() * 1e3,
                b.as_secs_f64() * 1e3,
                b.as_secs_f64() / a.as_secs_f64(),
                extra_us
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
