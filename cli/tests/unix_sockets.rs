//! The unix-socket capability through the CLI, against real host listeners created here
//! outside the sandbox (a pathname stream socket, an abstract one, a datagram socket): every
//! pipeline (landlock with user namespaces and on a simulated host without them, the embedded
//! namespace pipeline, an installed bubblewrap), every network mode (restricted, full, proxy
//! through a managed network), as the current user and, when root, as uid 65534.
//!
//! - `none` (the default): each listener gets nothing and the command sees EPERM; socketpairs
//!   work;
//! - `all`: the listeners in the command's view are reached;
//! - a path asked for (`--allow-unix-socket`, a managed network's `allowUnixSockets`) is
//!   granted through the connect broker, and not granted with an installed bwrap (EPERM,
//!   nothing reached, a warning naming the path);
//! - `allowLocalBinding`: a loopback listener inside the sandbox works on the namespace pipeline
//!   (and is not reachable from the host), and is refused on the landlock pipeline.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{Run, Scratch, User, forbid_user_namespaces, stderr, stdout};

/// Inside the sandbox: one word per attempt (OK or the errno name).
const PROBE: &str = r#"
import errno, socket, sys
def word(f):
    try:
        f()
        return "OK"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
def connect(address):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(3)
        s.connect(address)
        s.sendall(b"reached")
def datagram(address):
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(b"reached", address)
def pair():
    a, b = socket.socketpair()
    a.sendall(b"x")
    assert b.recv(1) == b"x"
path, name, dgram = sys.argv[1:4]
print(word(lambda: connect(path)), word(lambda: connect("\0" + name)), word(lambda: datagram(dgram)), word(pair))
"#;

/// Inside the sandbox: a loopback listener of its own, connected to from inside; prints its
/// port and the round trip's word, then waits for the host's attempt (a line on stdin).
const LOCAL_BINDING: &str = r#"
import errno, socket, sys
try:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    client = socket.create_connection(server.getsockname(), timeout=3)
    peer, _ = server.accept()
    client.sendall(b"x")
    print(server.getsockname()[1], "OK" if peer.recv(1) == b"x" else "NO-DATA", flush=True)
    sys.stdin.readline()
except OSError as e:
    print(0, errno.errorcode.get(e.errno, str(e.errno)), flush=True)
"#;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pipeline {
    Landlock,
    LandlockNoUserns,
    Bwrap,
    SystemBwrap,
}

const SYSTEM_BWRAP: &str = "/usr/bin/bwrap";

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
    path: PathBuf,
    stream: UnixListener,
    name: String,
    abstract_stream: UnixListener,
    dgram_path: PathBuf,
    dgram: UnixDatagram,
    /// The managed network's loopback port (a listener nobody is expected to use here).
    proxy: TcpListener,
}

impl Host {
    fn new(user: User, tag: &str) -> Host {
        let scratch = Scratch::new(user, tag);
        let path = scratch.path.join("host.sock");
        let stream = UnixListener::bind(&path).unwrap();
        let dgram_path = scratch.path.join("host-dgram.sock");
        let dgram = UnixDatagram::bind(&dgram_path).unwrap();
        for socket in [&path, &dgram_path] {
            std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        let name = format!("codex-cli-unix-{}-{tag}", std::process::id());
        let abstract_stream = {
            use std::os::linux::net::SocketAddrExt;
            let address = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
            UnixListener::bind_addr(&address).unwrap()
        };
        for listener in [&stream, &abstract_stream] {
            listener.set_nonblocking(true).unwrap();
        }
        dgram.set_nonblocking(true).unwrap();
        let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
        Host { scratch, path, stream, name, abstract_stream, dgram_path, dgram, proxy }
    }

    /// How many connections or datagrams each listener got since the last call.
    fn received(&self) -> [usize; 3] {
        let drain = |listener: &UnixListener| std::iter::from_fn(|| listener.accept().ok()).count();
        let mut buf = [0u8; 64];
        let datagrams = std::iter::from_fn(|| self.dgram.recv(&mut buf).ok()).count();
        [drain(&self.stream), drain(&self.abstract_stream), datagrams]
    }

    fn run(&self, user: User, pipeline: Pipeline, network: Network, managed_extra: &str) -> Run {
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
        if network == Network::Proxy || !managed_extra.is_empty() {
            let ports = if network == Network::Proxy {
                format!("[{}]", self.proxy.local_addr().unwrap().port())
            } else {
                "[]".into()
            };
            run = run.arg("--managed-network").arg(format!(r#"{{"loopbackPorts":{ports}{managed_extra}}}"#));
        }
        run
    }

    fn argv(&self) -> Vec<String> {
        let path = self.path.display().to_string();
        let dgram = self.dgram_path.display().to_string();
        vec!["/usr/bin/python3".into(), "-c".into(), PROBE.into(), path, self.name.clone(), dgram]
    }
}

/// The command line of `run`, on a simulated host without user namespaces when asked.
fn command(run: &Run, pipeline: Pipeline, argv: &[String]) -> Command {
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let mut command = run.command(&argv);
    if pipeline == Pipeline::LandlockNoUserns {
        forbid_user_namespaces(&mut command);
    }
    command
}

/// The pipelines this user can run here (skips printed, or failed under REQUIRE_ALL).
fn pipelines(user: User) -> Vec<Pipeline> {
    let mut pipelines = vec![Pipeline::LandlockNoUserns];
    if common::userns_available(user) {
        pipelines.extend([Pipeline::Landlock, Pipeline::Bwrap]);
        if Path::new(SYSTEM_BWRAP).is_file() {
            pipelines.push(Pipeline::SystemBwrap);
        } else {
            common::skip(format!("{SYSTEM_BWRAP} is not installed (apt install bubblewrap)"));
        }
    } else {
        common::skip(format!("as {user:?}: this host forbids user namespaces (landlock view, bwrap)"));
    }
    pipelines
}

fn networks(pipeline: Pipeline) -> Vec<Network> {
    // An installed bwrap has no proxy bridge (refused with a message, checked elsewhere).
    if pipeline == Pipeline::SystemBwrap {
        vec![Network::Restricted, Network::Full]
    } else {
        vec![Network::Restricted, Network::Full, Network::Proxy]
    }
}

fn probe(host: &Host, run: &Run, pipeline: Pipeline) -> (String, String) {
    let output = command(run, pipeline, &host.argv()).output().unwrap();
    assert!(output.status.success(), "{pipeline:?}: {:?} {}", output.status, stderr(&output));
    (stdout(&output).trim().to_owned(), stderr(&output))
}

#[test]
fn no_host_unix_socket_is_reachable_by_default_while_socketpairs_work() {
    for user in common::users() {
        for pipeline in pipelines(user) {
            let host = Host::new(user, &format!("none-{pipeline:?}"));
            for network in networks(pipeline) {
                let context = format!("{user:?} {pipeline:?} {network:?}");
                let (words, _) = probe(&host, &host.run(user, pipeline, network, ""), pipeline);
                assert_eq!(words, "EPERM EPERM EPERM OK", "{context}");
                assert_eq!(host.received(), [0, 0, 0], "{context}: a host listener got something");
                // Explicitly none: the same.
                let (words, _) =
                    probe(&host, &host.run(user, pipeline, network, "").arg("--unix-sockets=none"), pipeline);
                assert_eq!(words, "EPERM EPERM EPERM OK", "{context}");
                assert_eq!(host.received(), [0, 0, 0], "{context}");
            }
        }
    }
}

/// A path asked for (`--allow-unix-socket`, a managed network's `allowUnixSockets`) is granted
/// through the connect broker where the sandbox has an init of ours (`unix_broker.rs` tests the
/// broker itself), and not granted with an installed bwrap: EPERM, nothing reached, a warning.
#[test]
fn a_path_asked_for_is_granted_through_the_broker_or_not_at_all() {
    for user in common::users() {
        for pipeline in pipelines(user) {
            let host = Host::new(user, &format!("paths-{pipeline:?}"));
            let path = host.path.display().to_string();
            let brokered = pipeline != Pipeline::SystemBwrap;
            // Granted: the path connects, the abstract name is refused by the broker (EACCES),
            // datagram sockets stay refused.
            let expected = if brokered { "OK EACCES EPERM OK" } else { "EPERM EPERM EPERM OK" };
            let reached = [usize::from(brokered), 0, 0];
            for network in networks(pipeline) {
                let context = format!("{user:?} {pipeline:?} {network:?}");
                let flag = host.run(user, pipeline, network, "").arg("--allow-unix-socket").arg(&path);
                let (words, warnings) = probe(&host, &flag, pipeline);
                assert_eq!(words, expected, "{context}");
                assert_eq!(warnings.contains(&format!("unix socket `{path}` is not granted")), !brokered, "{context}");
                assert_eq!(host.received(), reached, "{context}");
                // Today's Codex sends the same in its managed network.
                if network != Network::Full {
                    let managed = format!(r#","allowLocalBinding":false,"allowUnixSockets":["{path}"]"#);
                    let (words, warnings) = probe(&host, &host.run(user, pipeline, network, &managed), pipeline);
                    assert_eq!(words, expected, "{context} (managed network)");
                    assert_eq!(warnings.contains("is not granted"), !brokered, "{context}: {warnings}");
                    assert_eq!(host.received(), reached, "{context}");
                }
            }
            let explained = host.run(user, pipeline, Network::Full, "").arg("--allow-unix-socket").arg(&path);
            let output = command(&explained.arg("--explain"), pipeline, &host.argv()).output().unwrap();
            let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
            assert_eq!(plan["unix_sockets"]["requested"]["paths"][0], path.as_str());
            if brokered {
                assert_eq!(plan["unix_sockets"]["granted"], "paths", "{pipeline:?}");
                assert!(plan["unix_sockets"]["not_granted"].is_null(), "{pipeline:?}");
            } else {
                assert_eq!(plan["unix_sockets"]["granted"], "none", "{pipeline:?}");
                assert!(plan["unix_sockets"]["not_granted"][0].as_str().unwrap().contains("connect broker"));
            }
        }
    }
}

#[test]
fn all_reaches_the_sockets_in_the_view() {
    for user in common::users() {
        for pipeline in pipelines(user) {
            let host = Host::new(user, &format!("all-{pipeline:?}"));
            for network in networks(pipeline) {
                let context = format!("{user:?} {pipeline:?} {network:?}");
                let run = host.run(user, pipeline, network, "").arg("--unix-sockets=all");
                let (words, _) = probe(&host, &run, pipeline);
                // Abstract sockets belong to a network namespace: the namespace pipeline's
                // own (restricted, proxy) has none of the host's.
                let own_netns = matches!(pipeline, Pipeline::Bwrap | Pipeline::SystemBwrap) && network != Network::Full;
                // Proxy mode allows unix stream sockets only (its type check is shared with TCP).
                let dgram = if network == Network::Proxy { "EPERM" } else { "OK" };
                let expected = format!("OK {} {dgram} OK", if own_netns { "ECONNREFUSED" } else { "OK" });
                assert_eq!(words, expected, "{context}");
                let reached = [1, usize::from(!own_netns), usize::from(dgram == "OK")];
                assert_eq!(host.received(), reached, "{context}");
            }
            // A managed network's dangerouslyAllowAllUnixSockets is the same capability.
            if pipeline != Pipeline::SystemBwrap {
                let managed = r#","dangerouslyAllowAllUnixSockets":true"#;
                let (words, _) = probe(&host, &host.run(user, pipeline, Network::Proxy, managed), pipeline);
                assert!(words.starts_with("OK "), "{user:?} {pipeline:?}: {words}");
                assert_eq!(host.received()[0], 1);
            }
            let output = command(
                &host.run(user, pipeline, Network::Full, "").arg("--unix-sockets=all").arg("--explain"),
                pipeline,
                &host.argv(),
            )
            .output()
            .unwrap();
            let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
            assert_eq!(plan["unix_sockets"]["granted"], "all");
            let warned = plan["warnings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|w| w.as_str().unwrap().starts_with("unix sockets: all: every unix socket"));
            assert!(warned, "{pipeline:?}: {}", plan["warnings"]);
        }
    }
}

#[test]
fn unix_socket_flags_are_checked() {
    let scratch = Scratch::new(User::Current, "unix-flags");
    for (args, expected) in [
        (vec!["--unix-sockets=some"], "`unix-sockets`: unknown unix-socket mode `some`; expected none or all"),
        (vec!["--allow-unix-socket", "rel.sock"], "`allow-unix-socket[0]`: relative path `rel.sock`"),
        (
            vec!["--unix-sockets=all", "--allow-unix-socket", "/x.sock"],
            "`allow-unix-socket`: unix-socket paths together",
        ),
        (
            vec!["--unix-sockets=all", "--managed-network", r#"{"allowUnixSockets":["/x.sock"]}"#],
            "`unix-sockets`: disagrees with the managed network's unix-socket fields",
        ),
    ] {
        let mut run = Run::new(User::Current, &scratch.path);
        for arg in &args {
            run = run.arg(*arg);
        }
        let marker = scratch.path.join("ran");
        let output = run.output(&["/bin/touch", marker.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(125), "{args:?}");
        assert!(stderr(&output).contains(expected), "{args:?}: {}", stderr(&output));
        assert!(!marker.exists(), "{args:?}: the command ran");
    }
}

#[test]
fn local_binding_only_where_the_sandbox_has_its_own_network_namespace() {
    for user in common::users() {
        for pipeline in pipelines(user).into_iter().filter(|p| *p != Pipeline::SystemBwrap) {
            let host = Host::new(user, &format!("bind-{pipeline:?}"));
            let run = host.run(user, pipeline, Network::Proxy, r#","allowLocalBinding":true"#);
            let argv: Vec<String> = vec!["/usr/bin/python3".into(), "-c".into(), LOCAL_BINDING.into()];
            let mut command = command(&run, pipeline, &argv);
            let mut child =
                command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
            let words: Vec<&str> = line.split_whitespace().collect();
            let context = format!("{user:?} {pipeline:?}");
            if pipeline == Pipeline::Bwrap {
                assert_eq!(words.get(1), Some(&"OK"), "{context}: {line}");
                // The listener lives in the sandbox's network namespace: not on the host's loopback.
                let port: u16 = words[0].parse().unwrap();
                let from_host = std::net::TcpStream::connect(("127.0.0.1", port));
                assert!(from_host.is_err(), "{context}: the host reached the sandbox's listener on port {port}");
            } else {
                assert_eq!(words.get(1), Some(&"EPERM"), "{context}: {line}");
            }
            drop(child.stdin.take());
            let output = child.wait_with_output().unwrap();
            assert!(output.status.success(), "{context}: {}", stderr(&output));
            let warned = stderr(&output).contains("allowLocalBinding is not granted");
            // The warning is --explain's; the run itself prints only unix-socket gaps.
            assert!(!warned, "{context}");
            let explained = command_explain(&run, pipeline);
            let warned = explained["warnings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|w| w.as_str().unwrap().contains("allowLocalBinding is not granted on the landlock pipeline"));
            assert_eq!(warned, pipeline != Pipeline::Bwrap, "{context}: {}", explained["warnings"]);
        }
    }
}

fn command_explain(run: &Run, pipeline: Pipeline) -> serde_json::Value {
    let run = Run { user: run.user, args: run.args.clone(), cwd: run.cwd.clone(), env: run.env.clone() };
    let output = command(&run.arg("--explain"), pipeline, &["/bin/true".into()]).output().unwrap();
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&output)))
}
