//! A panic in the sandbox's child never unwinds into the host's code: the unwind guard reports
//! it and exits. Without the guard the cloned child would unwind through `spawn` into this
//! test (running on a copy of its stack) and the harness would go on running in the child,
//! while the host saw a launch that "worked". The panic path itself must not allocate (std's
//! default hook would, before any unwinding): this binary's allocator ends a child that
//! allocates with exit 97, which would turn the reported panic into a launch that "worked".
//! Needs `--features fault-injection`.
#![cfg(feature = "fault-injection")]
mod common;

#[path = "common/child_allocator.rs"]
mod child_allocator;

use codex_sandbox_core::exec::fault;
use codex_sandbox_core::{ErrorKind, SandboxPolicy, SpawnOptions, Stdio, prepare, spawn};
use common::{Scratch, pipelines, spec};

#[test]
fn a_panicking_child_is_a_setup_failure_and_runs_nothing() {
    let scratch = Scratch::new("panic");
    let marker = scratch.0.join("ran");
    let script = format!("touch {}", marker.display());
    let host = std::process::id();
    for pipeline in pipelines() {
        let plan = prepare(&spec(SandboxPolicy::workspace_write(), &scratch.0, &["/bin/sh", "-c", &script], pipeline))
            .unwrap();
        fault::arm_child_panic(true);
        child_allocator::arm();
        let outcome = spawn(&plan, SpawnOptions { stdin: Stdio::Null, ..SpawnOptions::default() });
        child_allocator::disarm();
        fault::arm_child_panic(false);
        // Only the host gets here: a child that unwound would have a different pid.
        assert_eq!(std::process::id(), host, "the child ran the host's code");
        let error = outcome.expect_err("a panicking child must not look like a launch");
        assert_eq!(error.kind(), ErrorKind::Internal, "{pipeline:?}: {error}");
        assert!(error.to_string().contains("panicked"), "{pipeline:?}: {error}");
        assert!(!marker.exists(), "{pipeline:?}: the command ran");
    }
}
