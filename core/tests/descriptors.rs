//! The command's descriptors, whatever the host's own look like: a host with standard streams
//! closed (its next files land on 0–2), streams marked close-on-exec (as Node's are), and
//! descriptors mapped to numbers of the caller's choosing. Each host is a fresh process (this
//! test binary re-executed in a role), run as the current user and as uid 65534.
mod common;

use std::fs;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};

use codex_sandbox_core::{ErrorKind, ExitStatus, SandboxPolicy, SpawnOptions, Stdio, prepare, spawn};
use common::{Scratch, User, pipelines, role, run_role, spec, users};

/// Writes straight to `fd` (the host role's standard streams are not Rust's to use any more).
fn say(fd: i32, text: &str) {
    // SAFETY: the pointer and length describe `text`.
    unsafe { libc::write(fd, text.as_ptr().cast(), text.len()) };
}

/// Ends a host role: `_exit`, so the harness writes nothing to streams the role closed.
fn finish(fd: i32, failure: Option<String>) -> ! {
    match failure {
        None => {
            say(fd, "ROLE-OK\n");
            // SAFETY: _exit ends the process at once.
            unsafe { libc::_exit(0) }
        }
        Some(message) => {
            say(fd, &format!("ROLE-FAILED: {message}\n"));
            // SAFETY: _exit ends the process at once.
            unsafe { libc::_exit(1) }
        }
    }
}

/// The host role: `closed` are the standard streams it closes first; the target of the stream
/// `redirected` is a file opened afterwards (so it lands on one of the closed numbers).
fn closed_streams_host(closed: [i32; 2], redirected: i32, report_fd: i32) -> ! {
    let scratch = Scratch::new(&format!("closed-{}-{}", closed[0], closed[1]));
    for fd in closed {
        // SAFETY: this process owns its standard streams and no Rust object uses them again.
        unsafe { libc::close(fd) };
    }
    let target_path = scratch.0.join("target");
    let run = |argv: &[&str], pipeline| -> Result<Result<ExitStatus, ErrorKind>, String> {
        let target = OwnedFd::from(fs::File::create(&target_path).map_err(|e| e.to_string())?);
        let stream = Stdio::Fd(target);
        let options = if redirected == 2 {
            SpawnOptions { stdin: Stdio::Null, stderr: stream, ..SpawnOptions::default() }
        } else {
            SpawnOptions { stdin: Stdio::Null, stdout: stream, ..SpawnOptions::default() }
        };
        let plan = prepare(&spec(SandboxPolicy::read_only(), &scratch.0, argv, pipeline)).map_err(|e| e.to_string())?;
        Ok(match spawn(&plan, options) {
            Ok(mut child) => Ok(child.wait().map_err(|e| e.to_string())?),
            Err(error) => Err(error.kind()),
        })
    };
    let check = || -> Result<(), String> {
        for pipeline in pipelines() {
            let missing = run(&["no-such-command-codex-sandbox"], pipeline)?;
            if missing != Err(ErrorKind::CommandNotFound) {
                return Err(format!("{pipeline:?}: a missing command gave {missing:?}"));
            }
            let left = fs::read(&target_path).map_err(|e| e.to_string())?;
            if !left.is_empty() {
                return Err(format!("{pipeline:?}: the stream's target got {left:?}"));
            }
            let script = format!("echo through-{redirected} >&{redirected}");
            let ran = run(&["/bin/sh", "-c", &script], pipeline)?;
            if ran != Ok(ExitStatus::Exited(0)) {
                return Err(format!("{pipeline:?}: the command gave {ran:?}"));
            }
            let written = fs::read_to_string(&target_path).map_err(|e| e.to_string())?;
            if written != format!("through-{redirected}\n") {
                return Err(format!("{pipeline:?}: the stream's target holds {written:?}"));
            }
        }
        Ok(())
    };
    finish(report_fd, check().err())
}

fn assert_role_passed(output: &std::process::Output, user: User) {
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let all = format!("{}{}", text(&output.stdout), text(&output.stderr));
    assert!(output.status.success() && all.contains("ROLE-OK"), "as {user:?}: {all}");
    // Nothing binary (a failure record) reached the host's streams.
    let binary = |bytes: &[u8]| bytes.iter().any(|b| *b != b'\n' && *b != b'\t' && !(0x20..0x7f).contains(b));
    assert!(!binary(&output.stdout) && !binary(&output.stderr), "as {user:?}: binary output: {all:?}");
}

#[test]
fn a_host_with_stdin_and_stderr_closed() {
    if role().as_deref() == Some("closed-0-2") {
        closed_streams_host([0, 2], 2, 1);
    }
    for user in users() {
        let output = run_role("a_host_with_stdin_and_stderr_closed", "closed-0-2", user, |_| {});
        assert_role_passed(&output, user);
    }
}

#[test]
fn a_host_with_stdin_and_stdout_closed() {
    if role().as_deref() == Some("closed-0-1") {
        closed_streams_host([0, 1], 1, 2);
    }
    for user in users() {
        let output = run_role("a_host_with_stdin_and_stdout_closed", "closed-0-1", user, |_| {});
        assert_role_passed(&output, user);
    }
}

/// Node marks its standard streams close-on-exec; a command given them must still have them.
#[test]
fn inherited_streams_survive_close_on_exec() {
    if role().as_deref() == Some("inherit-cloexec") {
        let scratch = Scratch::new("inherit");
        for fd in 0..3 {
            // SAFETY: integer arguments.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
        let mut failure = None;
        for pipeline in pipelines() {
            let argv = ["/bin/sh", "-c", "read line; echo \"got $line\"; echo on-stderr >&2"];
            let plan = prepare(&spec(SandboxPolicy::read_only(), &scratch.0, &argv, pipeline)).unwrap();
            let status = spawn(&plan, SpawnOptions::default()).map(|mut c| c.wait().map_err(|e| e.to_string()));
            if !matches!(status, Ok(Ok(ExitStatus::Exited(0)))) {
                failure = Some(format!("{pipeline:?}: {status:?}"));
            }
        }
        drop(scratch);
        finish(2, failure);
    }
    for user in users() {
        let output = run_role("inherited_streams_survive_close_on_exec", "inherit-cloexec", user, |command| {
            command.stdin(std::process::Stdio::piped());
        });
        // The role was given an empty stdin pipe closed at once by `output()`: `read` sees end
        // of file, and both commands still print.
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("ROLE-OK"), "as {user:?}: {stderr}");
        let runs = pipelines().len();
        assert_eq!(stdout.matches("got ").count(), runs, "as {user:?}: {stdout}");
        assert_eq!(stderr.matches("on-stderr").count(), runs, "as {user:?}: {stderr}");
    }
    common::remove_executable_copy();
}

#[test]
fn extra_descriptors_appear_at_their_numbers() {
    let scratch = Scratch::new("extra-fds");
    for pipeline in pipelines() {
        let (mut five_read, five_write) = std::io::pipe().unwrap();
        let (mut nine_read, nine_write) = std::io::pipe().unwrap();
        let argv = ["/bin/sh", "-c", "echo five >&5; echo nine >&9; [ ! -e /proc/self/fd/6 ] && echo closed-6 >&5"];
        let plan = prepare(&spec(SandboxPolicy::read_only(), &scratch.0, &argv, pipeline)).unwrap();
        let options = SpawnOptions {
            stdin: Stdio::Null,
            extra_fds: vec![(5, OwnedFd::from(five_write)), (9, OwnedFd::from(nine_write))],
            ..SpawnOptions::default()
        };
        let mut child = spawn(&plan, options).unwrap();
        assert_eq!(child.wait().unwrap(), ExitStatus::Exited(0), "{pipeline:?}");
        let (mut five, mut nine) = (String::new(), String::new());
        five_read.read_to_string(&mut five).unwrap();
        nine_read.read_to_string(&mut nine).unwrap();
        assert_eq!((five.as_str(), nine.as_str()), ("five\nclosed-6\n", "nine\n"), "{pipeline:?}");
    }
}

#[test]
fn bad_descriptor_numbers_are_refused_before_anything_runs() {
    let scratch = Scratch::new("bad-fds");
    let marker = scratch.0.join("ran");
    let script = format!("touch {}", marker.display());
    let plan =
        prepare(&spec(SandboxPolicy::workspace_write(), &scratch.0, &["/bin/sh", "-c", &script], Default::default()))
            .unwrap();
    let null = || OwnedFd::from(fs::File::open("/dev/null").unwrap());
    for (extra_fds, expected) in [
        (vec![(2, null())], "`extra_fds[0]`: descriptor 2 is a standard stream"),
        (vec![(7, null()), (7, null())], "`extra_fds[1]`: descriptor 7 is given twice"),
        (vec![(1 << 20, null())], "out of range"),
    ] {
        let error = spawn(&plan, SpawnOptions { extra_fds, ..SpawnOptions::default() }).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidArgument);
        assert!(error.to_string().contains(expected), "{error}");
    }
    let reserved = null();
    let pass = reserved.as_raw_fd();
    let error =
        spawn(&plan, SpawnOptions { extra_fds: vec![(pass, null())], pass_fds: vec![pass], ..SpawnOptions::default() })
            .unwrap_err();
    assert!(error.to_string().contains("given twice"), "{error}");
    assert!(!marker.exists(), "nothing ran");
}
