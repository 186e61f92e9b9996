//! The network section, built so that failing closed does not depend on the
//! order of branches.
//!
//! [`NetworkForm::decide`] is the only place that looks at the policy, the proxy variables
//! and the managed-network flag. Once proxy configuration is present it returns
//! [`NetworkForm::Restricted`], whose rendering has no code path that writes a rule without a
//! destination: the worst a malformed proxy value can do is leave the port list empty, which
//! is a profile with no outbound allowance at all (beyond loopback, when local binding was
//! explicitly asked for).

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::UnixSockets;
use super::sbpl::Params;
use crate::error::{Error, Result};
use crate::proxy::endpoints::ProxyEndpoints;

/// The shape of the network section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum NetworkForm {
    /// No network rules at all; `(deny default)` refuses every socket operation.
    Closed,
    /// The policy grants the network and no proxy is in play.
    Open,
    /// A proxy is meant to be used (or the launcher enforces a managed network): outbound
    /// traffic may reach these loopback ports and nothing else. Also used, with no ports,
    /// when the policy denies the network but some unix sockets are allowed.
    Restricted { ports: BTreeSet<u16> },
}

impl NetworkForm {
    /// The one decision. Proxy configuration is checked first and wins over everything, so no
    /// later condition can reopen the network once a proxy was meant to be used.
    pub(super) fn decide(
        policy_grants_network: bool,
        proxy: &ProxyEndpoints,
        managed_network: bool,
        unix_sockets: &UnixSockets,
    ) -> NetworkForm {
        if proxy.config_present || managed_network {
            // Even a policy with full network is narrowed: the launcher set a proxy up so
            // that traffic goes through it, and a blanket rule would let a tool ignore it.
            return NetworkForm::Restricted { ports: proxy.ports() };
        }
        if policy_grants_network {
            return NetworkForm::Open;
        }
        if unix_sockets.asks_for_any() {
            return NetworkForm::Restricted { ports: BTreeSet::new() };
        }
        NetworkForm::Closed
    }
}

/// Unix-socket rules, their paths already turned into parameters.
#[derive(Debug)]
pub(super) enum UnixSocketRules {
    All,
    /// `(param "UNIX_SOCKET_PATH_i")` expressions.
    Paths(Vec<String>),
}

impl UnixSocketRules {
    /// Resolves the allowlist and registers its paths as `UNIX_SOCKET_PATH_i`, sorted and
    /// without duplicates so that parameter names are stable across runs.
    pub(super) fn new(sockets: &UnixSockets, params: &mut Params) -> Result<UnixSocketRules> {
        let paths = match sockets {
            UnixSockets::All => return Ok(UnixSocketRules::All),
            UnixSockets::Paths(paths) => paths.as_slice(),
            UnixSockets::None => &[],
        };
        let mut resolved = BTreeSet::new();
        for (index, path) in paths.iter().enumerate() {
            let field = format!("unix_sockets[{index}]");
            crate::policy::check_absolute(path).map_err(|message| Error::argument(&field, message))?;
            resolved.insert((resolve_socket_path(path)?, field));
        }
        let mut expressions = Vec::new();
        let mut previous: Option<PathBuf> = None;
        for (path, field) in resolved {
            if previous.as_ref() == Some(&path) {
                continue;
            }
            let name = format!("UNIX_SOCKET_PATH_{}", expressions.len());
            expressions.push(params.path(name, &path, &field)?);
            previous = Some(path);
        }
        Ok(UnixSocketRules::Paths(expressions))
    }
}

/// A socket file usually does not exist until its server binds it, so only its directory can
/// be resolved; a path whose directory is missing too is kept as written.
fn resolve_socket_path(path: &Path) -> Result<PathBuf> {
    match fs::canonicalize(path) {
        Ok(resolved) => return Ok(resolved),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::path("cannot resolve unix socket path", path, e)),
    }
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(path.to_path_buf());
    };
    match fs::canonicalize(parent) {
        Ok(resolved) => Ok(resolved.join(name)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(path.to_path_buf()),
        Err(e) => Err(Error::path("cannot resolve unix socket path", parent, e)),
    }
}

/// The network section for `form`.
pub(super) fn network_section(form: &NetworkForm, allow_local_binding: bool, unix_sockets: &UnixSocketRules) -> String {
    let mut section = String::new();
    match form {
        NetworkForm::Closed => return section,
        NetworkForm::Open => {
            section.push_str("; Network: unrestricted (the policy allows it, no proxy is configured).\n");
            section.push_str("(allow network-outbound)\n(allow network-inbound)\n");
        }
        NetworkForm::Restricted { ports } => {
            section.push_str("; Network: restricted; nothing is reachable unless a rule below names it.\n");
            if allow_local_binding {
                section.push_str(
                    "; Local binding was asked for: listen on any port, talk to any loopback port.\n\
                     (allow network-bind (local ip \"*:*\"))\n\
                     (allow network-inbound (local ip \"localhost:*\"))\n\
                     (allow network-outbound (remote ip \"localhost:*\"))\n",
                );
                // Without a proxy port there is nothing to resolve names for.
                if !ports.is_empty() {
                    section.push_str(
                        "; DNS, for tools that resolve names themselves before using the proxy.\n\
                         (allow network-outbound (remote ip \"*:53\"))\n",
                    );
                }
            }
            if !ports.is_empty() {
                section.push_str("; The loopback proxies named in the environment.\n");
            }
            for port in ports {
                section.push_str(&format!("(allow network-outbound (remote ip \"localhost:{port}\"))\n"));
            }
        }
    }
    section.push_str(&unix_socket_rules(unix_sockets));
    section.push_str(include_str!("network_support.sbpl"));
    section
}

fn unix_socket_rules(rules: &UnixSocketRules) -> String {
    match rules {
        UnixSocketRules::All => "; Any unix socket.\n\
             (allow system-socket (socket-domain AF_UNIX))\n\
             (allow network-bind (local unix-socket))\n\
             (allow network-outbound (remote unix-socket))\n"
            .to_owned(),
        UnixSocketRules::Paths(paths) if paths.is_empty() => String::new(),
        UnixSocketRules::Paths(paths) => {
            let mut rules =
                String::from("; The unix sockets on the allowlist.\n(allow system-socket (socket-domain AF_UNIX))\n");
            for path in paths {
                rules.push_str(&format!(
                    "(allow network-bind (local unix-socket (subpath {path})))\n\
                     (allow network-outbound (remote unix-socket (subpath {path})))\n"
                ));
            }
            rules
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::endpoints::infer;

    fn proxy(pairs: &[(&str, &str)]) -> ProxyEndpoints {
        infer(pairs)
    }

    #[test]
    fn decision_table() {
        let none = proxy(&[]);
        let good = proxy(&[("HTTP_PROXY", "http://127.0.0.1:3128")]);
        let bad = proxy(&[("HTTP_PROXY", "http://proxy.example.com:3128")]);
        let no_sockets = UnixSockets::default();
        let some_sockets = UnixSockets::Paths(vec![PathBuf::from("/tmp/s.sock")]);
        let only = |ports: &[u16]| NetworkForm::Restricted { ports: ports.iter().copied().collect() };

        assert_eq!(NetworkForm::decide(false, &none, false, &no_sockets), NetworkForm::Closed);
        assert_eq!(NetworkForm::decide(true, &none, false, &no_sockets), NetworkForm::Open);
        assert_eq!(NetworkForm::decide(false, &none, false, &some_sockets), only(&[]));
        assert_eq!(NetworkForm::decide(true, &none, false, &some_sockets), NetworkForm::Open);
        assert_eq!(NetworkForm::decide(false, &none, true, &no_sockets), only(&[]));
        assert_eq!(NetworkForm::decide(true, &none, true, &no_sockets), only(&[]));
        for grants in [false, true] {
            assert_eq!(NetworkForm::decide(grants, &good, false, &no_sockets), only(&[3128]));
            assert_eq!(NetworkForm::decide(grants, &bad, false, &no_sockets), only(&[]));
        }
    }

    #[test]
    fn proxy_only_without_ports_allows_no_outbound_even_with_local_binding() {
        let form = NetworkForm::Restricted { ports: BTreeSet::new() };
        let text = network_section(&form, true, &UnixSocketRules::Paths(Vec::new()));
        assert!(!text.contains("*:53"), "{text}");
        assert!(!text.contains("(allow network-outbound)"), "{text}");
    }

    #[test]
    fn closed_form_is_empty() {
        let text = network_section(&NetworkForm::Closed, true, &UnixSocketRules::All);
        assert!(text.is_empty());
    }

    #[test]
    fn socket_paths_are_sorted_deduplicated_and_absolute() {
        let mut params = Params::default();
        let sockets = UnixSockets::Paths(vec![
            PathBuf::from("/nonexistent-dir/b.sock"),
            PathBuf::from("/nonexistent-dir/a.sock"),
            PathBuf::from("/nonexistent-dir/b.sock"),
        ]);
        let rules = UnixSocketRules::new(&sockets, &mut params).expect("rules");
        assert!(matches!(&rules, UnixSocketRules::Paths(p) if p.len() == 2));
        assert_eq!(
            params.into_entries(),
            [
                ("UNIX_SOCKET_PATH_0".into(), "/nonexistent-dir/a.sock".into()),
                ("UNIX_SOCKET_PATH_1".into(), "/nonexistent-dir/b.sock".into()),
            ]
        );

        let relative = UnixSockets::Paths(vec![PathBuf::from("/a.sock"), "run/x.sock".into()]);
        let err = UnixSocketRules::new(&relative, &mut Params::default()).unwrap_err().to_string();
        assert!(err.contains("`unix_sockets[1]`") && err.contains("relative path `run/x.sock`"), "{err}");
    }
}
