//! Which pipeline a plan uses, and why: the request, the policy and the host's facts decide.

use serde::Serialize;

use super::SandboxSpec;
use crate::error::{Error, Result};
use crate::probe::HostFacts;
use crate::seccomp::NetworkMode;

/// Which pipeline the caller wants.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PipelineRequest {
    /// The strongest pipeline this host supports.
    #[default]
    Auto,
    /// Landlock + seccomp + no_new_privs, applied in the child.
    Landlock,
    /// The namespace pipeline (our embedded bubblewrap).
    Bwrap,
}

impl PipelineRequest {
    pub fn parse(name: &str) -> Result<PipelineRequest> {
        match name {
            "auto" => Ok(PipelineRequest::Auto),
            "landlock" => Ok(PipelineRequest::Landlock),
            "bwrap" | "namespaces" => Ok(PipelineRequest::Bwrap),
            other => Err(Error::argument(
                "pipeline",
                format!("unknown pipeline `{other}`; expected auto, bwrap or landlock"),
            )),
        }
    }
}

/// The pipeline a plan uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pipeline {
    /// No sandbox (danger-full-access, or external-sandbox with network): the command runs as
    /// a plain child in its own session.
    Unsandboxed,
    /// Only the seccomp network filter (external-sandbox with restricted network).
    SeccompOnly,
    /// Landlock + seccomp + no_new_privs in the child; protected paths re-bound read-only in a
    /// private user + mount namespace.
    Landlock,
    /// The namespace pipeline, our embedded bubblewrap: user, mount, PID (and network)
    /// namespaces, a read-only view of `/`, then Landlock and seccomp as further layers.
    Bwrap,
}

/// Picks the pipeline for `spec` on `host`, with the reason in words.
pub(crate) fn choose(
    spec: &SandboxSpec,
    full_write: bool,
    network: NetworkMode,
    host: &HostFacts,
) -> Result<(Pipeline, String)> {
    let policy = &spec.policy;
    // A full-write policy needs no filesystem sandbox; in proxy mode it still needs a network
    // one (Codex wraps even danger-full-access then).
    if full_write && network != NetworkMode::Proxy {
        let name = policy.type_name();
        return Ok(if network == NetworkMode::Full {
            (Pipeline::Unsandboxed, format!("policy `{name}` with network: nothing to enforce"))
        } else {
            (
                Pipeline::SeccompOnly,
                format!("policy `{name}`: the filesystem is left to the caller; only the network is restricted"),
            )
        });
    }
    let embedded_blocker = if spec.bwrap_path.is_some() {
        // An installed bwrap does its own mounting: only the namespaces matter.
        host.namespaces.clone().err()
    } else {
        host.namespace_pipeline_blocker()
    };
    match spec.pipeline {
        PipelineRequest::Bwrap => match embedded_blocker {
            None => Ok((Pipeline::Bwrap, "requested explicitly".into())),
            Some(reason) => Err(Error::Unsupported {
                what: "the bwrap pipeline".into(),
                reason: format!("{reason}{NAMESPACE_REMEDY}"),
            }),
        },
        PipelineRequest::Landlock => Ok((Pipeline::Landlock, "requested explicitly".into())),
        PipelineRequest::Auto => Ok(match embedded_blocker {
            None => (Pipeline::Bwrap, "auto: this host allows user, mount and PID namespaces".into()),
            Some(reason) => (Pipeline::Landlock, format!("auto: the namespace pipeline cannot run here ({reason})")),
        }),
    }
}

const NAMESPACE_REMEDY: &str = " (or use --pipeline landlock)";
