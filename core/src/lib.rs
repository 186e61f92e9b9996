//! codex-sandbox core: a Linux sandbox for commands written by AI coding agents.
//!
//! Data flows in two steps:
//!
//! 1. [`prepare`] validates a [`SandboxSpec`] (Codex's policy JSON, cwd, argv, env, options) and
//!    returns a [`SandboxPlan`]: plain, serialisable data describing every restriction. All
//!    errors that a caller can cause happen here, before anything is created.
//! 2. [`spawn()`] carries the plan out: the forked child applies it with async-signal-safe system
//!    calls only (so the host may be multi-threaded) and executes the command.
//!
//! ```no_run
//! use codex_sandbox_core::{prepare, spawn, SandboxPolicy, SandboxSpec, SpawnOptions};
//! let spec = SandboxSpec::new(SandboxPolicy::workspace_write(), "/home/me/project", vec!["make".into()]);
//! let plan = prepare(&spec)?;
//! let status = spawn(&plan, SpawnOptions::default())?.wait()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod error;
pub mod exec;
pub mod plan;
pub mod policy;
pub mod probe;
pub mod proxy;
pub mod resolve;
pub mod seatbelt;
pub mod seccomp;
pub mod sys;

pub use error::{Error, ErrorKind, Result};
pub use exec::{Child, ExitStatus, FORWARDED_SIGNALS, SignalForwarder, SpawnOptions, Stdio, spawn};
pub use plan::limits::ResourceLimits;
pub use plan::{Executor, Pipeline, PipelineRequest, SandboxPlan, SandboxSpec, prepare, prepare_for};
pub use policy::{ManagedNetwork, NetworkAccess, Permissions, Policy, ReadAccess, SandboxPolicy};
pub use probe::HostFacts;
pub use seccomp::NetworkMode;
