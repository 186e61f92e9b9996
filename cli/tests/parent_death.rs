//! A launcher killed while its sandbox is being set up — or after, while the command runs —
//! leaves no sandbox process behind: the parent-death signal is armed first, and the "parent
//! already gone" check after it can fire in a new PID namespace too (the child closes its copy
//! of the report pipe's read end, so the write end sees its reader go).
mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Run, Scratch, User, users};

/// Pids of the processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline"))
            && String::from_utf8_lossy(&cmdline).contains(marker)
        {
            found.push(pid);
        }
    }
    found
}

/// Waits up to two seconds for every process carrying `marker` to be gone; returns those left.
fn survivors(marker: &str) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let left = processes_with(marker);
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn pipelines(user: User) -> Vec<&'static str> {
    if common::userns_available(user) {
        vec!["landlock", "bwrap"]
    } else {
        common::skip(format!("the bwrap pipeline as {user:?}: this host forbids user namespaces"));
        vec!["landlock"]
    }
}

#[test]
fn killing_the_launcher_leaves_no_sandbox_process() {
    const ROUNDS: u32 = 24;
    for user in users() {
        let scratch = Scratch::new(user, "parent-death");
        for pipeline in pipelines(user) {
            let mut saw_command = false;
            for round in 0..ROUNDS {
                // A sleep whose argument no other process has: it marks this round's command.
                let marker = format!("30.{:07}{round:03}", std::process::id());
                let run = Run::new(user, &scratch.path).arg("--pipeline").arg(pipeline).policy("read-only");
                let mut launcher = run.command(&["/bin/sleep", &marker]).spawn().unwrap();
                // Spread the kill over the whole setup (tens of microseconds to a few
                // milliseconds); the last round kills a command that is surely running.
                let delay = if round == ROUNDS - 1 {
                    Duration::from_millis(300)
                } else {
                    Duration::from_micros(u64::from(round) * 150)
                };
                std::thread::sleep(delay);
                if round == ROUNDS - 1 {
                    saw_command = !processes_with(&marker).is_empty();
                }
                launcher.kill().unwrap();
                launcher.wait().unwrap();
                let left = survivors(&marker);
                for pid in &left {
                    // SAFETY: integer arguments; these are this test's own descendants.
                    unsafe { libc::kill(*pid, libc::SIGKILL) };
                }
                assert!(left.is_empty(), "{pipeline} as {user:?}, round {round}: {left:?} outlived the launcher");
            }
            assert!(saw_command, "{pipeline} as {user:?}: the command never started, so nothing was tested");
        }
        assert!(Path::new(&scratch.path).exists());
    }
}

/// The landlock pipeline has no PID namespace: its init is a subreaper that ends the
/// command's descendants. Killing the launcher (the parent-death signal) must end a detached
/// orphan of the command too, with and without the protected-path namespaces (read-only
/// policy: none; workspace-write: a user and mount namespace).
#[test]
fn killing_the_launcher_ends_the_landlock_commands_orphans() {
    for user in users() {
        let scratch = Scratch::new(user, "parent-death-orphans");
        let mut policies = vec!["read-only"];
        if common::userns_available(user) {
            policies.push("workspace-write");
        } else {
            common::skip(format!("workspace-write on the landlock pipeline as {user:?}: no user namespaces"));
        }
        for (round, policy) in policies.into_iter().enumerate() {
            let marker = format!("31.{:07}{round:03}", std::process::id());
            let orphan = format!("32.{:07}{round:03}", std::process::id());
            let script = format!("(/bin/sleep {orphan} &); exec /bin/sleep {marker}");
            let run = Run::new(user, &scratch.path).arg("--pipeline").arg("landlock").policy(policy);
            let mut launcher = run.command(&["/bin/sh", "-c", &script]).spawn().unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            // The script (and the launcher's argv) name both markers: match the sleeps exactly.
            while sleeping(&[&orphan, &marker]).len() < 2 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            assert_eq!(sleeping(&[&orphan, &marker]).len(), 2, "{policy} as {user:?}: the sleeps never started");
            launcher.kill().unwrap();
            launcher.wait().unwrap();
            let deadline = Instant::now() + Duration::from_secs(2);
            let mut left = sleeping(&[&orphan, &marker]);
            while !left.is_empty() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
                left = sleeping(&[&orphan, &marker]);
            }
            for pid in &left {
                // SAFETY: integer arguments; these are this test's own descendants.
                unsafe { libc::kill(*pid, libc::SIGKILL) };
            }
            assert!(left.is_empty(), "{policy} as {user:?}: {left:?} outlived the launcher");
        }
    }
}

/// Pids of the processes running exactly `/bin/sleep <marker>` for one of `markers`.
fn sleeping(markers: &[&str]) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        if markers.iter().any(|marker| cmdline == format!("/bin/sleep\0{marker}\0").as_bytes()) {
            found.push(pid);
        }
    }
    found
}
