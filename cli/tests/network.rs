//! The network modes, end to end, on both pipelines, as the current user and (when root) as
//! uid 65534. Every target is a listener this test starts on the loopback interface.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Run, Scratch, User, stderr, stdout, users};

const PIPELINES: [&str; 2] = ["landlock", "bwrap"];

fn matrix() -> Vec<(User, &'static str)> {
    let mut pairs = Vec::new();
    for user in users() {
        for pipeline in PIPELINES {
            if pipeline == "bwrap" && !common::userns_available(user) {
                common::skip(format!("bwrap as {user:?}: this host forbids user namespaces"));
                continue;
            }
            pairs.push((user, pipeline));
        }
    }
    pairs
}

fn run(user: User, pipeline: &str, cwd: &Path) -> Run {
    Run::new(user, cwd).arg(format!("--pipeline={pipeline}"))
}

/// Nothing arrived at a listener.
fn assert_untouched(listener: &TcpListener, what: &str) {
    listener.set_nonblocking(true).unwrap();
    assert!(listener.accept().is_err(), "{what}: the listener received a connection");
}

/// Tries one system call the way a program would and prints OK or the errno name.
const SYSCALLS: &str = r#"
import ctypes, errno, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
def attempt(fn):
    try:
        fn(); return "OK"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
def io_uring():
    params = ctypes.create_string_buffer(120)
    if libc.syscall(425, 8, params) < 0:
        raise OSError(ctypes.get_errno(), "io_uring_setup")
for name, fn in [
    ("netlink", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0).close()),
    ("packet", lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close()),
    ("io_uring", io_uring),
    ("socketpair", lambda: [s.close() for s in socket.socketpair()]),
]:
    print(name, attempt(fn))
"#;

#[test]
fn restricted_mode_refuses_every_kind_of_network_access() {
    for (user, pipeline) in matrix() {
        let scratch = Scratch::new(user, "net-restricted");
        let tcp4 = TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp6 = TcpListener::bind("[::1]:0").ok();
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let p4 = tcp4.local_addr().unwrap().port();
        let mut ops =
            vec![format!("connect:127.0.0.1:{p4}"), format!("udp:127.0.0.1:{}", udp.local_addr().unwrap().port())];
        if let Some(tcp6) = &tcp6 {
            ops.push(format!("connect6:{}", tcp6.local_addr().unwrap().port()));
        }
        let results = run(user, pipeline, &scratch.path).policy("read-only").probe(&ops);
        assert!(results.iter().all(|r| r == "EPERM"), "as {user:?} on {pipeline}: {results:?}");

        let output = run(user, pipeline, &scratch.path).policy("read-only").output(&[
            "/bin/bash",
            "-c",
            &format!("echo escaped > /dev/tcp/127.0.0.1/{p4}"),
        ]);
        assert!(!output.status.success(), "bash /dev/tcp connected as {user:?} on {pipeline}");

        let output =
            run(user, pipeline, &scratch.path).policy("read-only").output(&["/usr/bin/python3", "-c", SYSCALLS]);
        let text = stdout(&output);
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            ["netlink EPERM", "packet EPERM", "io_uring EPERM", "socketpair OK"],
            "as {user:?} on {pipeline}: {}",
            stderr(&output)
        );

        assert_untouched(&tcp4, "tcp4");
        if let Some(tcp6) = &tcp6 {
            assert_untouched(tcp6, "tcp6");
        }
        udp.set_nonblocking(true).unwrap();
        assert!(udp.recv_from(&mut [0u8; 16]).is_err(), "the UDP listener received a datagram");
    }
}

#[test]
fn full_network_still_refuses_packet_sockets_and_io_uring() {
    for (user, pipeline) in matrix() {
        let scratch = Scratch::new(user, "net-full");
        let policy = r#"{"type":"read-only","network_access":true}"#;
        let output = run(user, pipeline, &scratch.path).policy(policy).output(&["/usr/bin/python3", "-c", SYSCALLS]);
        let text = stdout(&output);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1..], ["packet EPERM", "io_uring EPERM", "socketpair OK"], "as {user:?} on {pipeline}");
    }
}

/// A tiny HTTP proxy on 127.0.0.1: records each request line; answers a GET with `proxied`
/// and a CONNECT with `200` followed by `tunnel` and a close.
struct TestProxy {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

impl TestProxy {
    fn start() -> TestProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let seen = seen.clone();
                std::thread::spawn(move || {
                    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    let mut request = Vec::new();
                    let mut byte = [0u8; 1];
                    while !request.ends_with(b"\r\n\r\n") && request.len() < 65536 {
                        match stream.read(&mut byte) {
                            Ok(1) => request.push(byte[0]),
                            _ => return,
                        }
                    }
                    let line = String::from_utf8_lossy(&request).lines().next().unwrap_or_default().to_owned();
                    let reply: &[u8] = if line.starts_with("CONNECT") {
                        b"HTTP/1.1 200 Connection established\r\n\r\ntunnel"
                    } else {
                        b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\nproxied"
                    };
                    seen.lock().unwrap().push(line);
                    let _ = stream.write_all(reply);
                });
            }
        });
        TestProxy { port, requests }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

#[test]
fn proxy_mode_reaches_the_proxy_and_nothing_else() {
    let curl = Path::new("/usr/bin/curl").exists();
    if !curl {
        common::skip("the curl clients: /usr/bin/curl is not installed (CI installs it)");
    }
    for (user, pipeline) in matrix() {
        let scratch = Scratch::new(user, "net-proxy");
        let proxy = TestProxy::start();
        let other = TcpListener::bind("127.0.0.1:0").unwrap();
        let other_port = other.local_addr().unwrap().port();
        let python = "import urllib.request; print(urllib.request.urlopen('http://python.example.test/', timeout=10).read().decode())";
        let mut script = format!("/usr/bin/python3 -c \"{python}\"; ");
        if curl {
            script.push_str(
                "curl -s --max-time 10 http://curl-http.example.test/; echo; \
                 curl -s --max-time 10 https://curl-https.example.test/ >/dev/null; echo; \
                 ALL_PROXY=$HTTP_PROXY http_proxy= HTTPS_PROXY= curl -s --max-time 10 http://curl-all.example.test/; echo; ",
            );
        }
        script.push_str(&format!("/usr/bin/python3 -c \"import socket; socket.create_connection(('127.0.0.1', {other_port}), timeout=3)\" 2>/dev/null && echo other-reachable || echo other-refused"));
        let output = run(user, pipeline, &scratch.path)
            .policy("read-only")
            .arg("--allow-network-for-proxy")
            .env("HTTP_PROXY", &proxy.url())
            .env("http_proxy", &proxy.url())
            .env("HTTPS_PROXY", &proxy.url())
            .sh(&script);
        let text = stdout(&output);
        assert!(text.starts_with("proxied\n"), "python as {user:?} on {pipeline}: {text} {}", stderr(&output));
        assert!(
            text.trim_end().ends_with("other-refused"),
            "another loopback port was reachable as {user:?} on {pipeline}"
        );
        let requests = proxy.requests();
        assert!(requests.iter().any(|r| r == "GET http://python.example.test/ HTTP/1.1"), "{requests:?}");
        if curl {
            assert_eq!(text.matches("proxied").count(), 3, "curl as {user:?} on {pipeline}: {text}");
            assert!(requests.iter().any(|r| r.starts_with("GET http://curl-http.example.test/")), "{requests:?}");
            assert!(requests.iter().any(|r| r.starts_with("CONNECT curl-https.example.test:443")), "{requests:?}");
            assert!(requests.iter().any(|r| r.starts_with("GET http://curl-all.example.test/")), "{requests:?}");
        }
        assert_untouched(&other, "the second host listener");
    }
}

#[test]
fn proxy_mode_refuses_unroutable_proxy_settings() {
    let cases = [
        ("HTTP_PROXY", "http://[::1", "HTTP_PROXY"),
        ("HTTPS_PROXY", "http://example.com:3128", "HTTPS_PROXY"),
        ("http_proxy", "http://127.0.0.1:0", "http_proxy"),
        ("ALL_PROXY", "http://:3128", "ALL_PROXY"),
    ];
    for (user, pipeline) in matrix() {
        let scratch = Scratch::new(user, "net-proxy-bad");
        for (key, value, needle) in cases {
            let output = run(user, pipeline, &scratch.path)
                .policy("read-only")
                .arg("--allow-network-for-proxy")
                .env(key, value)
                .output(&["/usr/bin/touch", "ran"]);
            assert_eq!(output.status.code(), Some(125), "{key}={value} as {user:?} on {pipeline}");
            assert!(stderr(&output).contains(needle), "{}", stderr(&output));
            assert!(!scratch.path.join("ran").exists());
        }
        let output = run(user, pipeline, &scratch.path)
            .policy("read-only")
            .arg("--allow-network-for-proxy")
            .output(&["/usr/bin/touch", "ran"]);
        assert_eq!(output.status.code(), Some(125), "no proxy variable at all");
        assert!(!scratch.path.join("ran").exists());
    }
}

#[test]
fn full_network_reaches_loopback() {
    for (user, pipeline) in matrix() {
        let scratch = Scratch::new(user, "net-full-loopback");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let policy = r#"{"type":"read-only","network_access":true}"#;
        let results = run(user, pipeline, &scratch.path).policy(policy).probe(&[format!("connect:127.0.0.1:{port}")]);
        assert_eq!(results, ["OK"], "as {user:?} on {pipeline}");
        let (mut stream, _) = listener.accept().unwrap();
        let mut received = String::new();
        stream.read_to_string(&mut received).unwrap();
        assert_eq!(received, "escaped");
        drop(TcpStream::connect(("127.0.0.1", port)));
    }
}

/// Codex wraps even danger-full-access in proxy mode: the filesystem stays open, the network
/// does not.
#[test]
fn proxy_mode_confines_the_network_of_a_full_access_policy() {
    for (user, pipeline) in matrix() {
        let scratch = Scratch::new(user, "net-proxy-full");
        let proxy = TestProxy::start();
        let other = TcpListener::bind("127.0.0.1:0").unwrap();
        let other_port = other.local_addr().unwrap().port();
        let marker = scratch.path.join("written");
        let script = format!(
            "echo yes > {}; exec /usr/bin/python3 -c \"import socket\nfor port in ({}, {other_port}):\n  try:\n    socket.create_connection(('127.0.0.1', port), timeout=3).close(); print('ok')\n  except OSError as e: print(e.errno)\"",
            marker.display(),
            proxy.port
        );
        let output = run(user, pipeline, &scratch.path)
            .policy("danger-full-access")
            .arg("--allow-network-for-proxy")
            .env("HTTP_PROXY", &proxy.url())
            .sh(&script);
        let lines: Vec<String> = stdout(&output).lines().map(str::to_owned).collect();
        assert_eq!(
            lines.first().map(String::as_str),
            Some("ok"),
            "proxy unreachable as {user:?} on {pipeline}: {}",
            stderr(&output)
        );
        assert_ne!(lines.get(1).map(String::as_str), Some("ok"), "another port reachable as {user:?} on {pipeline}");
        assert_eq!(std::fs::read_to_string(&marker).unwrap(), "yes\n", "the filesystem should stay writable");
        assert_untouched(&other, "the second host listener");
    }
}

/// Landlock's TCP rules cover TCP only: other stream protocols must not get past proxy mode.
#[test]
fn proxy_mode_refuses_mptcp_and_sctp() {
    for (user, pipeline) in matrix() {
        let scratch = Scratch::new(user, "net-proxy-mptcp");
        let proxy = TestProxy::start();
        let other = TcpListener::bind("127.0.0.1:0").unwrap();
        let script = format!(
            "import errno, socket\nfor proto in (262, 132):\n  try:\n    socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto).connect(('127.0.0.1', {}))\n    print('connected')\n  except OSError as e: print(errno.errorcode.get(e.errno, e.errno))",
            other.local_addr().unwrap().port()
        );
        let output = run(user, pipeline, &scratch.path)
            .policy("read-only")
            .arg("--allow-network-for-proxy")
            .env("HTTP_PROXY", &proxy.url())
            .output(&["/usr/bin/python3", "-c", &script]);
        assert_eq!(
            stdout(&output).split_whitespace().collect::<Vec<_>>(),
            ["EPERM", "EPERM"],
            "as {user:?} on {pipeline}"
        );
        assert_untouched(&other, "the second host listener");
    }
}

/// What the command does with the socket it got as stdin: `listen`, then where it is bound,
/// whether it listens, and a non-blocking `accept` (which, on a listener with a connection
/// waiting, sends "accepted" on it).
const PASSED_SOCKET: &str = r#"
import errno, socket
def word(fn):
    try:
        fn(); return "OK"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
s = socket.socket(fileno=0)
listened = word(lambda: s.listen(8))
port = s.getsockname()[1]
listening = s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
s.settimeout(5)
def accept():
    c, _ = s.accept()
    c.sendall(b"accepted")
    c.close()
print(listened, "bound" if port else "unbound", listening, word(accept))
"#;

/// Restricted mode answers `listen` without running it: a socket the launcher passed that
/// does not listen is not made to (it would bind itself to a port on the host's network,
/// reachable from the host on both pipelines), while a listener it passed keeps accepting —
/// its grant (Node's `send(message, server)`). With and without the connect broker.
#[test]
fn restricted_mode_makes_no_socket_listen_and_accepts_only_on_a_passed_listener() {
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::process::Stdio;
    for (user, pipeline) in matrix() {
        let scratch = Scratch::new(user, "net-passed-listener");
        let granted = scratch.path.join("granted.sock");
        let _granted_listener = std::os::unix::net::UnixListener::bind(&granted).unwrap();
        for broker in [false, true] {
            let context = format!("as {user:?} on {pipeline}, broker {broker}");
            let run = || {
                let run = run(user, pipeline, &scratch.path).policy("read-only");
                if broker { run.arg("--allow-unix-socket").arg(granted.display().to_string()) } else { run }
            };
            // SAFETY: a plain socket(2) call; the descriptor is owned from here on.
            let unbound = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
            assert!(unbound >= 0, "socket");
            // SAFETY: a fresh descriptor nothing else owns.
            let unbound = unsafe { OwnedFd::from_raw_fd(unbound) };
            let output =
                run().command(&["/usr/bin/python3", "-c", PASSED_SOCKET]).stdin(Stdio::from(unbound)).output().unwrap();
            assert_eq!(stdout(&output).trim(), "OK unbound 0 EINVAL", "{context}: {}", stderr(&output));

            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            client.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let output = run()
                .command(&["/usr/bin/python3", "-c", PASSED_SOCKET])
                .stdin(Stdio::from(OwnedFd::from(listener)))
                .output()
                .unwrap();
            assert_eq!(stdout(&output).trim(), "OK bound 1 OK", "{context}: {}", stderr(&output));
            let mut received = String::new();
            client.read_to_string(&mut received).unwrap();
            assert_eq!(received, "accepted", "{context}");
        }
    }
}
