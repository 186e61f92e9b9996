//! Per-path unix-socket grants through the connect broker, through the CLI, against real host
//! listeners made here outside the sandbox: the landlock pipeline (with user namespaces and on
//! a simulated host without them) and the embedded namespace pipeline; restricted, full and
//! proxy (managed) network; as the current user and, when root, as uid 65534.
//!
//! - the granted socket gets exactly the sandbox's connections and their data (blocking,
//!   non-blocking, relative, through a symlink to it);
//! - a second listener at a path not granted gets nothing (its accept saw nothing) and the
//!   command sees EACCES; so do a symlink in the workspace to it and an abstract name;
//!   datagram unix sockets stay EPERM;
//! - a thread that keeps swapping what the descriptor number is (dup2 of a fresh unix or TCP
//!   socket) and rewriting the address while another connects never reaches the listener not
//!   granted;
//! - a unix socket bound to an abstract name may not listen (a host client of that name would
//!   reach the sandbox), while TCP listens as the network mode allows;
//! - TCP still connects under full network, blocking and non-blocking (EINPROGRESS, then
//!   success), and under proxy mode only to the proxy: a loopback listener on another port
//!   gets nothing;
//! - `--explain` lists the granted paths and the broker; an installed bwrap grants nothing.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Run, Scratch, User, forbid_user_namespaces, stderr, stdout};

const PROBE: &str = include_str!("common/broker_probe.py");
const SYSTEM_BWRAP: &str = "/usr/bin/bwrap";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pipeline {
    Landlock,
    LandlockNoUserns,
    Bwrap,
    SystemBwrap,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Network {
    Restricted,
    Full,
    /// A managed network to one loopback port (proxy-only).
    Proxy,
}

/// Listeners on the host, outside every sandbox.
struct Host {
    scratch: Scratch,
    granted: PathBuf,
    granted_listener: UnixListener,
    other: PathBuf,
    other_listener: UnixListener,
    abstract_name: String,
    abstract_listener: UnixListener,
    /// The managed network's loopback port.
    proxy: TcpListener,
    /// A loopback port nobody grants in proxy mode.
    tcp_other: TcpListener,
}

impl Host {
    fn new(user: User, tag: &str) -> Host {
        let scratch = Scratch::new(user, tag);
        let bind = |name: &str| {
            let path = scratch.path.join(name);
            let listener = UnixListener::bind(&path).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
            listener.set_nonblocking(true).unwrap();
            (path, listener)
        };
        let (granted, granted_listener) = bind("granted.sock");
        let (other, other_listener) = bind("other.sock");
        // Planted in the workspace: a symlink to the socket not granted, and one to the granted.
        std::os::unix::fs::symlink(&other, scratch.path.join("link-to-other.sock")).unwrap();
        std::os::unix::fs::symlink(&granted, scratch.path.join("link-to-granted.sock")).unwrap();
        let abstract_name = format!("codex-broker-{}-{tag}", std::process::id());
        let abstract_listener = {
            use std::os::linux::net::SocketAddrExt;
            let address = std::os::unix::net::SocketAddr::from_abstract_name(abstract_name.as_bytes()).unwrap();
            UnixListener::bind_addr(&address).unwrap()
        };
        abstract_listener.set_nonblocking(true).unwrap();
        let tcp = || {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.set_nonblocking(true).unwrap();
            listener
        };
        Host {
            scratch,
            granted,
            granted_listener,
            other,
            other_listener,
            abstract_name,
            abstract_listener,
            proxy: tcp(),
            tcp_other: tcp(),
        }
    }

    fn run(&self, user: User, pipeline: Pipeline, network: Network) -> Run {
        self.base(user, pipeline, network).arg("--allow-unix-socket").arg(self.granted.display().to_string())
    }

    /// The same run without a grant.
    fn base(&self, user: User, pipeline: Pipeline, network: Network) -> Run {
        let policy = match network {
            Network::Full => r#"{"type":"read-only","network_access":true}"#,
            Network::Restricted | Network::Proxy => "read-only",
        };
        let mut run = Run::new(user, &self.scratch.path).policy(policy);
        run = match pipeline {
            Pipeline::Landlock | Pipeline::LandlockNoUserns => run.arg("--pipeline=landlock"),
            Pipeline::Bwrap => run.arg("--pipeline=bwrap"),
            Pipeline::SystemBwrap => run.arg("--pipeline=bwrap").arg("--bwrap-path").arg(SYSTEM_BWRAP),
        };
        if network == Network::Proxy {
            let port = self.proxy.local_addr().unwrap().port();
            run = run.arg("--managed-network").arg(format!(r#"{{"loopbackPorts":[{port}]}}"#));
        }
        run
    }

    /// Connections each unix listener got since the last call: `[granted, other, abstract]`,
    /// and what the granted one was sent.
    fn unix_received(&self) -> ([usize; 3], Vec<String>) {
        let mut sent = Vec::new();
        let mut granted = 0;
        while let Ok((mut stream, _)) = self.granted_listener.accept() {
            granted += 1;
            stream.set_nonblocking(false).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut data = String::new();
            let _ = stream.read_to_string(&mut data);
            sent.push(data);
        }
        let drain = |listener: &UnixListener| std::iter::from_fn(|| listener.accept().ok()).count();
        ([granted, drain(&self.other_listener), drain(&self.abstract_listener)], sent)
    }

    /// Connections each TCP listener got: `[proxy, other]`, waiting up to a second for the
    /// proxy bridge, which connects upstream on its own thread.
    fn tcp_received(&self, expected_proxy: usize) -> [usize; 2] {
        let drain = |listener: &TcpListener| std::iter::from_fn(|| listener.accept().ok()).count();
        let mut proxy = drain(&self.proxy);
        let deadline = Instant::now() + Duration::from_secs(2);
        while proxy < expected_proxy && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            proxy += drain(&self.proxy);
        }
        [proxy, drain(&self.tcp_other)]
    }

    fn probe(&self, run: &Run, pipeline: Pipeline, ops: &[String]) -> String {
        let mut argv = vec!["/usr/bin/python3".to_owned(), "-c".into(), PROBE.into()];
        argv.extend(ops.iter().cloned());
        let output = command(run, pipeline, &argv).output().unwrap();
        assert!(output.status.success(), "{pipeline:?}: {:?} {}", output.status, stderr(&output));
        stdout(&output).trim().to_owned()
    }
}

fn ops(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn command(run: &Run, pipeline: Pipeline, argv: &[String]) -> Command {
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let mut command = run.command(&argv);
    if pipeline == Pipeline::LandlockNoUserns {
        forbid_user_namespaces(&mut command);
    }
    command
}

/// The pipelines with an init of ours this user can run here.
fn pipelines(user: User) -> Vec<Pipeline> {
    let mut pipelines = vec![Pipeline::LandlockNoUserns];
    if common::userns_available(user) {
        pipelines.extend([Pipeline::Landlock, Pipeline::Bwrap]);
    } else {
        common::skip(format!("as {user:?}: this host forbids user namespaces (landlock view, bwrap)"));
    }
    pipelines
}

/// Whether the broker can run here at all (what the probe says), or a skip.
fn broker_available() -> bool {
    let scratch = Scratch::new(User::Current, "broker-probe");
    let socket = scratch.path.join("s.sock");
    let _listener = UnixListener::bind(&socket).unwrap();
    let output = Run::new(User::Current, &scratch.path)
        .arg("--allow-unix-socket")
        .arg(socket.display().to_string())
        .arg("--explain")
        .output(&["/bin/true"]);
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    if plan["unix_sockets"]["granted"] == "paths" {
        return true;
    }
    common::skip(format!("the connect broker cannot run here: {}", plan["unix_sockets"]["not_granted"]));
    false
}

#[test]
fn a_granted_path_reaches_exactly_the_granted_socket() {
    if !broker_available() {
        return;
    }
    for user in common::users() {
        for pipeline in pipelines(user) {
            let host = Host::new(user, &format!("paths-{pipeline:?}"));
            let granted = host.granted.display().to_string();
            let other = host.other.display().to_string();
            for network in [Network::Restricted, Network::Full, Network::Proxy] {
                let context = format!("{user:?} {pipeline:?} {network:?}");
                let words = host.probe(
                    &host.run(user, pipeline, network),
                    pipeline,
                    &ops(&[
                        "unix",
                        &granted,
                        "unix-nb",
                        &granted,
                        "unix",
                        "granted.sock",
                        "unix",
                        "link-to-granted.sock",
                        "unix",
                        &other,
                        "unix-nb",
                        &other,
                        "unix",
                        "link-to-other.sock",
                        "abstract",
                        &host.abstract_name,
                        "dgram",
                    ]),
                );
                assert_eq!(words, "OK OK OK OK EACCES EACCES EACCES EACCES EPERM", "{context}");
                let (counts, sent) = host.unix_received();
                assert_eq!(counts, [4, 0, 0], "{context}: [granted, not granted, abstract] connections");
                assert_eq!(sent, vec!["reached"; 4], "{context}");
            }
        }
    }
}

#[test]
fn a_racing_thread_that_swaps_the_descriptor_and_the_address_never_reaches_a_socket_not_granted() {
    if !broker_available() {
        return;
    }
    for user in common::users() {
        for pipeline in pipelines(user) {
            let host = Host::new(user, &format!("race-{pipeline:?}"));
            for (network, port) in
                [(Network::Full, host.tcp_other.local_addr().unwrap().port()), (Network::Restricted, 0)]
            {
                let context = format!("{user:?} {pipeline:?} {network:?}");
                let (granted, other) = (host.granted.display().to_string(), host.other.display().to_string());
                let port = port.to_string();
                let words = host.probe(
                    &host.run(user, pipeline, network),
                    pipeline,
                    &ops(&["race", &granted, &other, &port, "400"]),
                );
                assert!(words.starts_with("RACE "), "{context}: {words}");
                let (counts, _) = host.unix_received();
                assert_eq!(counts[1], 0, "{context}: the socket not granted was reached ({words})");
                // The positive control: the race did connect, to the granted socket.
                assert!(counts[0] >= 1 && words.contains("OK="), "{context}: {words} {counts:?}");
                assert!(words.contains("EACCES="), "{context}: no refusal seen: {words}");
                let _ = host.tcp_received(0);
            }
            // The control: the same race with every unix socket allowed (no broker) does reach
            // the other socket, so the assertion above is one the race could break.
            let (granted, other) = (host.granted.display().to_string(), host.other.display().to_string());
            let run = host.base(user, pipeline, Network::Full).arg("--unix-sockets=all");
            let words = host.probe(&run, pipeline, &ops(&["race", &granted, &other, "0", "400"]));
            assert!(
                host.unix_received().0[1] >= 1,
                "{user:?} {pipeline:?}: the control race never reached it: {words}"
            );
        }
    }
}

#[test]
fn tcp_still_connects_under_full_network_and_only_to_the_proxy_under_proxy_mode() {
    if !broker_available() {
        return;
    }
    for user in common::users() {
        for pipeline in pipelines(user) {
            let host = Host::new(user, &format!("tcp-{pipeline:?}"));
            let proxy = host.proxy.local_addr().unwrap().port().to_string();
            let other = host.tcp_other.local_addr().unwrap().port().to_string();
            // Full network: both listeners are on the host's loopback, both reachable.
            let context = format!("{user:?} {pipeline:?} full");
            let words = host.probe(
                &host.run(user, pipeline, Network::Full),
                pipeline,
                &ops(&["tcp", &proxy, "tcp-nb", &proxy, "tcp", &other]),
            );
            assert_eq!(words, "OK OK OK", "{context}");
            assert_eq!(host.tcp_received(2), [2, 1], "{context}");
            // Proxy mode: the proxy port only. Landlock refuses the other port (EACCES); in the
            // namespace pipeline's own network namespace nothing listens there (ECONNREFUSED).
            let context = format!("{user:?} {pipeline:?} proxy");
            let words = host.probe(
                &host.run(user, pipeline, Network::Proxy),
                pipeline,
                &ops(&["tcp", &proxy, "tcp-nb", &proxy, "tcp", &other, "tcp-nb", &other]),
            );
            // (Landlock refuses in connect itself, as it would without the broker: a
            // non-blocking connect fails at once rather than with EINPROGRESS.)
            let refused =
                if pipeline == Pipeline::Bwrap { "ECONNREFUSED ECONNREFUSED" } else { "EACCES IMMEDIATE-EACCES" };
            assert_eq!(words, format!("OK OK {refused}"), "{context}");
            assert_eq!(host.tcp_received(2), [2, 0], "{context}: [proxy, other port] connections");
            // Restricted: no TCP socket at all.
            let words = host.probe(&host.run(user, pipeline, Network::Restricted), pipeline, &ops(&["tcp", &proxy]));
            assert_eq!(words, "EPERM", "{user:?} {pipeline:?} restricted");
            assert_eq!(host.tcp_received(0), [0, 0]);
        }
    }
}

#[test]
fn a_unix_socket_bound_to_an_abstract_name_may_not_listen() {
    if !broker_available() {
        return;
    }
    for user in common::users() {
        for pipeline in pipelines(user) {
            let host = Host::new(user, &format!("listen-{pipeline:?}"));
            let name = format!("{}-listen", host.abstract_name);
            for network in [Network::Restricted, Network::Full, Network::Proxy] {
                let context = format!("{user:?} {pipeline:?} {network:?}");
                let granted = host.granted.display().to_string();
                let words = host.probe(
                    &host.run(user, pipeline, network),
                    pipeline,
                    &ops(&["listen-abstract", &name, "listen-tcp", "listen-autobound", &granted]),
                );
                // Restricted mode, and proxy mode on the host's network stack, refuse bind;
                // elsewhere the bind works and the broker refuses the abstract listener. A
                // name the kernel gave (SO_PASSCRED) is refused the same way; restricted mode
                // answers every listen without listening. Proxy mode makes no seqpacket socket.
                let expected = match (network, pipeline) {
                    (Network::Restricted, _) => "EPERM EPERM OK:idle",
                    (Network::Proxy, Pipeline::Bwrap) => "EACCES OK EPERM",
                    (Network::Proxy, _) => "EPERM EPERM EPERM",
                    (Network::Full, _) => "EACCES OK EACCES",
                };
                assert_eq!(words, expected, "{context}");
            }
        }
    }
}

/// Under an outer supervisor whose filter already has a listener (one per filter chain), the
/// broker cannot install its own: the probe finds that, and the paths are not granted (the run
/// goes on as under none) instead of failing at the spawn or granting without the broker.
#[test]
fn under_an_outer_listener_paths_are_not_granted() {
    let user = User::Current;
    let host = Host::new(user, "outer-listener");
    let granted = host.granted.display().to_string();
    let mut command = command(&host.run(user, Pipeline::Landlock, Network::Full), Pipeline::Landlock, &{
        let mut argv = vec!["/usr/bin/python3".to_owned(), "-c".into(), PROBE.into()];
        argv.extend(ops(&["unix", &granted]));
        argv
    });
    // SAFETY: only prctl and seccomp between fork and exec, on a program that lives in the
    // closure; an allow-all filter never notifies, so its listener is never needed.
    unsafe {
        command.pre_exec(|| {
            let allow_all = [libc::sock_filter { code: 0x06, jt: 0, jf: 0, k: 0x7fff_0000 }];
            let fprog = libc::sock_fprog { len: 1, filter: allow_all.as_ptr().cast_mut() };
            let new_listener: libc::c_ulong = 1 << 3;
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let listener = libc::syscall(libc::SYS_seccomp, 1, new_listener, &fprog as *const libc::sock_fprog);
            // Kept open through the exec, as an outer supervisor keeps its own: a listener
            // whose last descriptor is closed no longer counts.
            if listener < 0 || libc::fcntl(listener as i32, libc::F_SETFD, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let output = command.output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).trim(), "EPERM");
    assert!(
        stderr(&output).contains("install a seccomp filter with a listener"),
        "the warning names the cause: {}",
        stderr(&output)
    );
    assert_eq!(host.unix_received().0, [0, 0, 0]);
}

#[test]
fn explain_names_the_granted_paths_and_the_broker_and_an_installed_bwrap_grants_nothing() {
    if !broker_available() {
        return;
    }
    let user = User::Current;
    let host = Host::new(user, "explain");
    let granted = host.granted.display().to_string();
    let mut pipelines = pipelines(user);
    if Path::new(SYSTEM_BWRAP).is_file() && common::userns_available(user) {
        pipelines.push(Pipeline::SystemBwrap);
    } else {
        common::skip(format!("{SYSTEM_BWRAP} is not installed or cannot run here"));
    }
    for pipeline in pipelines {
        let run = host.run(user, pipeline, Network::Full).arg("--allow-unix-socket").arg("/nonexistent/x.sock");
        let output = command(&run.arg("--explain"), pipeline, &["/bin/true".into()]).output().unwrap();
        let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let unix = &plan["unix_sockets"];
        let not_granted: Vec<&str> =
            unix["not_granted"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        if pipeline == Pipeline::SystemBwrap {
            assert_eq!(unix["granted"], "none", "{pipeline:?}");
            assert_eq!(not_granted.len(), 2, "{not_granted:?}");
            assert!(not_granted[0].contains("installed bwrap"), "{not_granted:?}");
            // And the run: nothing reached, EPERM, a warning.
            let words = host.probe(&host.run(user, pipeline, Network::Full), pipeline, &ops(&["unix", &granted]));
            assert_eq!(words, "EPERM");
            assert_eq!(host.unix_received().0, [0, 0, 0]);
        } else {
            assert_eq!(unix["granted"], "paths", "{pipeline:?}");
            assert_eq!(unix["granted_paths"], serde_json::json!([granted]), "{pipeline:?}");
            assert!(unix["enforced_by"].as_str().unwrap().starts_with("the connect broker"), "{pipeline:?}");
            assert_eq!(not_granted.len(), 1, "{pipeline:?}: {not_granted:?}");
            assert!(not_granted[0].contains("`/nonexistent/x.sock` is not granted"), "{not_granted:?}");
            let supervised = plan["seccomp"]["supervised"].as_array().unwrap();
            assert!(supervised.iter().any(|call| call["syscall"] == "connect"), "{pipeline:?}");
        }
    }
}
