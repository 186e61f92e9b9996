//! The proxy bridge of the bwrap pipeline lives exactly as long as its sandbox: after 100
//! proxied runs from this process, no thread, descriptor or file is left. Its own test binary,
//! so that no other test's threads or descriptors blur the counts.
mod common;

use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use codex_sandbox_core::{
    ExitStatus, PipelineRequest, SandboxPolicy, SandboxSpec, SpawnOptions, Stdio, prepare, probe, spawn,
};

const RUNS: usize = 100;

fn count(dir: &str) -> usize {
    fs::read_dir(dir).unwrap().count()
}

#[test]
fn a_hundred_proxied_runs_leave_nothing_behind() {
    if let Err(reason) = probe::namespaces_available() {
        common::skip(format!("the bwrap pipeline is unavailable here: {reason}"));
        return;
    }
    // A proxy that answers every request with `proxied` and counts them.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                request.push(byte[0]);
            }
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\nproxied");
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });

    let scratch = PathBuf::from(format!("/tmp/codex-sandbox-bridge-{}", std::process::id()));
    fs::create_dir_all(&scratch).unwrap();
    let script = "exec 3<>/dev/tcp/127.0.0.1/$PORT && printf 'GET http://example.test/ HTTP/1.1\\r\\nHost: example.test\\r\\n\\r\\n' >&3 && cat <&3 | grep -q proxied";
    let mut spec = SandboxSpec::new(
        SandboxPolicy::read_only(),
        &scratch,
        ["/bin/bash", "-c", script].map(OsString::from).to_vec(),
    );
    spec.pipeline = PipelineRequest::Bwrap;
    spec.proxy_network = true;
    spec.env = vec![
        ("PATH".into(), "/usr/bin:/bin".into()),
        ("HTTP_PROXY".into(), format!("http://127.0.0.1:{port}").into()),
        ("PORT".into(), port.to_string().into()),
    ];
    let plan = prepare(&spec).unwrap();

    // Warm up (lazily created process-wide state: the namespace probe's cache, the thread the
    // proxy runs on), then count.
    let options = || SpawnOptions { stdin: Stdio::Null, stdout: Stdio::Null, ..SpawnOptions::default() };
    assert_eq!(spawn(&plan, options()).unwrap().wait().unwrap(), ExitStatus::Exited(0));
    let (threads, fds, files) = (count("/proc/self/task"), count("/proc/self/fd"), count(scratch.to_str().unwrap()));

    for run in 0..RUNS {
        let status = spawn(&plan, options()).unwrap().wait().unwrap();
        assert_eq!(status, ExitStatus::Exited(0), "run {run} did not get through the proxy");
    }
    assert_eq!(served.load(Ordering::SeqCst), RUNS + 1, "every run's request reached the proxy");
    assert_eq!(count("/proc/self/task"), threads, "bridge threads left behind");
    assert_eq!(count("/proc/self/fd"), fds, "descriptors left behind");
    assert_eq!(count(scratch.to_str().unwrap()), files, "files left behind");
    fs::remove_dir_all(&scratch).unwrap();
}
