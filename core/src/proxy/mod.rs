//! Proxy-only networking: the command may reach the loopback proxies named in its environment
//! and nothing else.
//!
//! - [`endpoints`] reads the proxy variables and refuses anything it cannot route (fail closed).
//! - [`self::env`] writes them, for a launcher that runs a proxy and wants every tool to use it.
//! - On the bwrap pipeline the command sits in an empty network namespace. Inside it, the
//!   sandbox's init listens on `127.0.0.1:PORT` and `[::1]:PORT` for each proxy port — the same
//!   port as the real proxy, so the environment (and any `.npmrc` or `pip.conf` naming the
//!   proxy) stays valid unchanged — and hands each listening socket to the spawning process over
//!   a socketpair. There, the bridge (`exec::bridge`) accepts on those sockets (they stay in the sandbox's
//!   namespace) and connects to the real proxy from the host's. No socket file exists on disk
//!   and no bridge process runs inside the sandbox.
//! - On the landlock pipeline (Landlock ABI 4) TCP may connect only to the proxy ports, and
//!   seccomp allows TCP sockets only. The residual risk: the same port on another host.

pub mod endpoints;
pub mod env;

use std::net::SocketAddr;

use serde::Serialize;

pub use endpoints::ProxyEndpoint;

/// The proxy part of a plan.
#[derive(Clone, Debug, Serialize)]
pub struct ProxyPlan {
    /// The proxies named in the environment.
    pub endpoints: Vec<ProxyEndpoint>,
    pub route: ProxyRoute,
}

/// How the command's connections reach the proxies.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ProxyRoute {
    /// Listeners inside the sandbox's empty network namespace, served by a bridge in the
    /// spawning process.
    Bridge { routes: Vec<BridgeRoute> },
    /// Landlock's TCP rules allow connecting to these ports only.
    LandlockPorts { ports: Vec<u16>, residual_risk: &'static str },
}

/// One listening port inside the sandbox and the proxy it leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct BridgeRoute {
    /// Listened on at `127.0.0.1` and `[::1]` inside the sandbox.
    pub port: u16,
    pub upstream: SocketAddr,
}

impl ProxyPlan {
    /// One bridge route per distinct port (the first endpoint naming a port decides where it
    /// leads).
    pub fn bridged(endpoints: Vec<ProxyEndpoint>) -> ProxyPlan {
        let mut routes: Vec<BridgeRoute> = Vec::new();
        for endpoint in &endpoints {
            if !routes.iter().any(|route| route.port == endpoint.addr.port()) {
                routes.push(BridgeRoute { port: endpoint.addr.port(), upstream: endpoint.addr });
            }
        }
        ProxyPlan { endpoints, route: ProxyRoute::Bridge { routes } }
    }

    pub fn landlock_ports(endpoints: Vec<ProxyEndpoint>) -> ProxyPlan {
        let mut ports: Vec<u16> = endpoints.iter().map(|e| e.addr.port()).collect();
        ports.sort_unstable();
        ports.dedup();
        ProxyPlan {
            endpoints,
            route: ProxyRoute::LandlockPorts {
                ports,
                residual_risk: "Landlock rules name ports, not hosts: the same ports on other hosts are reachable too",
            },
        }
    }

    /// Route `index` of a bridged plan, in words (`127.0.0.1:3128 and [::1]:3128 -> 127.0.0.1:3128`).
    pub fn describe_route(&self, index: usize) -> Option<String> {
        match &self.route {
            ProxyRoute::Bridge { routes } => routes
                .get(index)
                .map(|route| format!("proxy route 127.0.0.1:{0} and [::1]:{0} -> {1}", route.port, route.upstream)),
            ProxyRoute::LandlockPorts { .. } => None,
        }
    }

    pub fn ports(&self) -> Vec<u16> {
        match &self.route {
            ProxyRoute::Bridge { routes } => routes.iter().map(|r| r.port).collect(),
            ProxyRoute::LandlockPorts { ports, .. } => ports.clone(),
        }
    }
}
