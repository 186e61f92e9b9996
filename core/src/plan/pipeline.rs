//! Which pipeline a plan uses, and why: the request, the policy and the host's facts decide.

use std::path::PathBuf;

use serde::Serialize;

use super::SandboxSpec;
use crate::error::{Error, Result};
use crate::probe::{HostFacts, Refusal};
use crate::resolve::FilesystemView;
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

/// The pipeline a plan uses, why, and the installed bwrap `auto` chose to run it with.
pub(crate) struct Choice {
    pub pipeline: Pipeline,
    pub reason: String,
    pub system_bwrap: Option<PathBuf>,
}

impl Choice {
    fn new(pipeline: Pipeline, reason: impl Into<String>) -> Choice {
        Choice { pipeline, reason: reason.into(), system_bwrap: None }
    }
}

/// Picks the pipeline for `spec` on `host`: for `auto`, the first of the embedded namespace
/// pipeline, an installed bwrap that works here, and Landlock that can enforce the policy; or
/// a refusal naming each one's cause and remedy.
pub(crate) fn choose(
    spec: &SandboxSpec,
    filesystem: &FilesystemView,
    network: NetworkMode,
    host: &HostFacts,
) -> Result<Choice> {
    let policy = &spec.policy;
    // A full-write policy needs no filesystem sandbox; in proxy mode it still needs a network
    // one (Codex wraps even danger-full-access then).
    if filesystem.full_write && network != NetworkMode::Proxy {
        let name = policy.type_name();
        return Ok(if network == NetworkMode::Full {
            Choice::new(Pipeline::Unsandboxed, format!("policy `{name}` with network: nothing to enforce"))
        } else {
            Choice::new(
                Pipeline::SeccompOnly,
                format!("policy `{name}`: the filesystem is left to the caller; only the network is restricted"),
            )
        });
    }
    let proxy = network == NetworkMode::Proxy;
    if let Some(bwrap) = &spec.bwrap_path {
        // An installed bwrap does its own mounting; ours being refused namespaces says nothing
        // about it where the probe saw it work.
        return match &host.namespaces {
            Err(refusal) if host.working_system_bwrap.as_ref() != Some(bwrap) => {
                Err(Error::host_refused("the bwrap pipeline", refusal.clone()))
            }
            _ => Ok(Choice::new(Pipeline::Bwrap, "requested explicitly")),
        };
    }
    let embedded = embedded_blocker(host, proxy);
    match spec.pipeline {
        PipelineRequest::Bwrap => match embedded {
            None => Ok(Choice::new(Pipeline::Bwrap, "requested explicitly")),
            Some(refusal) => Err(Error::host_refused("the bwrap pipeline", refusal)),
        },
        PipelineRequest::Landlock => Ok(Choice::new(Pipeline::Landlock, "requested explicitly")),
        PipelineRequest::Auto => {
            let Some(embedded) = embedded else {
                return Ok(Choice::new(Pipeline::Bwrap, "auto: this host allows user, mount and PID namespaces"));
            };
            if let Some(bwrap) = host.working_system_bwrap.as_ref().filter(|_| !proxy) {
                return Ok(Choice {
                    pipeline: Pipeline::Bwrap,
                    reason: format!(
                        "auto: the embedded namespace pipeline cannot run here ({}), but {} creates its \
                         namespaces: it runs the view",
                        embedded.check,
                        bwrap.display()
                    ),
                    system_bwrap: Some(bwrap.clone()),
                });
            }
            match landlock_blocker(filesystem, proxy, host) {
                None => Ok(Choice::new(
                    Pipeline::Landlock,
                    format!("auto: the namespace pipeline cannot run here ({embedded})"),
                )),
                Some(landlock) => {
                    let bwrap = if proxy {
                        "proxy mode needs the embedded launcher's bridge"
                    } else {
                        "none installed, or refused its namespaces here too"
                    };
                    let hint = format!(
                        "no pipeline can enforce it here. Namespace pipeline: {}. Installed bwrap: {bwrap}. Landlock \
                         pipeline: {landlock}",
                        if embedded.hint.is_empty() { "refused" } else { &embedded.hint }
                    );
                    Err(Error::host_refused("this policy", Refusal { hint, ..embedded }))
                }
            }
        }
    }
}

/// Why the embedded namespace pipeline cannot run `network` here.
fn embedded_blocker(host: &HostFacts, proxy: bool) -> Option<Refusal> {
    if let Some(refusal) = host.namespace_pipeline_blocker() {
        return Some(refusal);
    }
    // Proxy mode serves its routes on the sandbox's `lo`: down, the proxy is unreachable.
    host.loopback.clone().err().filter(|_| proxy)
}

/// Why the Landlock pipeline cannot enforce the policy here, in words.
pub(crate) fn landlock_blocker(filesystem: &FilesystemView, proxy: bool, host: &HostFacts) -> Option<String> {
    if let Some(deny) = filesystem.deny_read.first() {
        return Some(format!(
            "deny-read of `{}` needs a mount namespace (Landlock cannot take back reads)",
            deny.path.display()
        ));
    }
    let abi = match &host.landlock_abi {
        Ok(abi) => *abi,
        Err(refusal) => return Some(refusal.to_string()),
    };
    if proxy && abi < 4 {
        return Some(format!("proxy mode needs Landlock ABI ≥ 4 (TCP port rules); this kernel has ABI {abi}"));
    }
    let protects = !super::protected_binds(filesystem).read_only.is_empty();
    match &host.namespaces {
        Err(_) if protects && !filesystem.full_write => Some(
            "the protected paths inside writable roots (.git, .codex, ...) are re-bound read-only in a user+mount \
             namespace, refused as above"
                .into(),
        ),
        _ => None,
    }
}
