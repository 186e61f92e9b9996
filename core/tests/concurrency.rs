//! 200 sandboxes from 8 threads of one process, while 4 other threads allocate and free in a
//! loop: the child side must not touch the allocator (a child forked while another thread holds
//! its lock would hang), every exit code must come back right, and nothing may be left over —
//! no descriptor, no zombie, no placeholder. Its own test binary, so that no other test's
//! processes or descriptors blur the counts.
mod common;

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use codex_sandbox_core::{
    ExitStatus, PipelineRequest, SandboxPolicy, SandboxSpec, SpawnOptions, Stdio, prepare, probe, spawn,
};

const THREADS: usize = 8;
const PER_THREAD: usize = 25;

fn open_fds() -> usize {
    fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Children of every thread of this process that have not been reaped.
fn children() -> Vec<String> {
    fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| fs::read_to_string(task.unwrap().path().join("children")).ok())
        .flat_map(|list| list.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

#[test]
fn two_hundred_sandboxes_from_eight_threads_under_allocation_pressure() {
    let scratch = PathBuf::from(format!("/tmp/codex-sandbox-concurrency-{}", std::process::id()));
    let _ = fs::remove_dir_all(&scratch);
    fs::create_dir(&scratch).unwrap();
    let namespaces = probe::namespaces_available().is_ok();
    if !namespaces {
        common::skip("the bwrap half: this host forbids user namespaces");
    }
    let fds_before = open_fds();

    let stop = Arc::new(AtomicBool::new(false));
    let allocators: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut rounds = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let v: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; 64 + i * 16]).collect();
                    rounds += v.len() as u64;
                }
                rounds
            })
        })
        .collect();
    let workers: Vec<_> = (0..THREADS)
        .map(|thread| {
            let cwd = scratch.clone();
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    let code = (thread * PER_THREAD + i) % 200;
                    let policy = if i % 2 == 0 {
                        SandboxPolicy::parse(
                            r#"{"type":"workspace-write","exclude_slash_tmp":true,"exclude_tmpdir_env_var":true}"#,
                        )
                        .unwrap()
                    } else {
                        SandboxPolicy::read_only()
                    };
                    let script = format!("exit {code}");
                    let mut spec = SandboxSpec::new(
                        policy,
                        Path::new(&cwd),
                        ["/bin/sh", "-c", &script].map(OsString::from).to_vec(),
                    );
                    spec.env = vec![("PATH".into(), "/usr/bin:/bin".into())];
                    spec.pipeline =
                        if namespaces && i % 4 < 2 { PipelineRequest::Bwrap } else { PipelineRequest::Landlock };
                    let plan = prepare(&spec).unwrap();
                    let options = SpawnOptions { stdin: Stdio::Null, stdout: Stdio::Null, ..SpawnOptions::default() };
                    let status = spawn(&plan, options).unwrap().wait().unwrap();
                    assert_eq!(status, ExitStatus::Exited(code as i32), "{:?}", spec.pipeline);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for allocator in allocators {
        assert!(allocator.join().unwrap() > 0);
    }

    assert_eq!(open_fds(), fds_before, "descriptors leaked");
    assert!(children().is_empty(), "unreaped children: {:?}", children());
    assert!(!scratch.join(".codex").exists(), "placeholder left behind");
    fs::remove_dir_all(&scratch).unwrap();
}
