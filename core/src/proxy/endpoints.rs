//! Which loopback proxies a command's environment points at.
//!
//! Both the Linux proxy pipeline and the Seatbelt generator need the same answer to "where may
//! this command connect?", and both must fail closed when the answer is unclear. This module
//! only reads the environment: it reports the usable loopback endpoints, whether any proxy
//! configuration was present at all (so that a malformed value still counts as "a proxy was
//! meant to be used"), and one diagnostic per value it could not use.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use serde::Serialize;

use crate::error::{Error, Result};

/// The variables whose values are proxy URLs. Matched case-insensitively, because tools
/// disagree on case (curl reads `http_proxy`, npm `npm_config_proxy`, docker `HTTP_PROXY`).
pub const PROXY_URL_ENV_KEYS: [&str; 16] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "WS_PROXY",
    "WSS_PROXY",
    "ALL_PROXY",
    "FTP_PROXY",
    "YARN_HTTP_PROXY",
    "YARN_HTTPS_PROXY",
    "NPM_CONFIG_HTTP_PROXY",
    "NPM_CONFIG_HTTPS_PROXY",
    "NPM_CONFIG_PROXY",
    "BUNDLE_HTTP_PROXY",
    "BUNDLE_HTTPS_PROXY",
    "PIP_PROXY",
    "DOCKER_HTTP_PROXY",
    "DOCKER_HTTPS_PROXY",
];

/// What the environment says about proxies.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProxyEndpoints {
    /// Some proxy variable had a non-empty value, usable or not. A sandbox that sees this must
    /// restrict the command to `endpoints` (possibly none), never open the network.
    pub config_present: bool,
    /// Usable loopback endpoints, sorted by variable name.
    pub endpoints: Vec<ProxyEndpoint>,
    /// One entry per non-empty value that yielded no endpoint, sorted by variable name.
    pub diagnostics: Vec<ProxyDiagnostic>,
}

/// A proxy the command may reach.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProxyEndpoint {
    /// The variable it came from, spelled as in the environment.
    pub variable: String,
    /// `localhost` is mapped to `127.0.0.1`: the name could resolve elsewhere inside a
    /// sandbox with its own `/etc/hosts`, the address cannot.
    pub addr: SocketAddr,
}

/// A proxy value that could not be used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProxyDiagnostic {
    /// The variable, spelled as in the environment.
    pub variable: String,
    /// The value with any `user:password@` replaced by `***@`, so that it can be printed.
    pub value: String,
    pub problem: ProxyProblem,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ProxyProblem {
    /// The value is not valid UTF-8.
    NotUnicode,
    /// The value is not a URL we can read.
    Malformed { reason: String },
    /// Port 0 names no listener; connecting to it would fail or hit whatever the kernel picks.
    PortZero,
    /// The host is not one of `localhost`, `127.0.0.1`, `[::1]`. Other loopback addresses
    /// (`127.0.0.2`) are refused too: the launcher's proxies listen on exactly these.
    NotLoopback { host: String },
}

impl fmt::Display for ProxyDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`=`{}`: ", self.variable, self.value)?;
        match &self.problem {
            ProxyProblem::NotUnicode => write!(f, "the value is not valid UTF-8"),
            ProxyProblem::Malformed { reason } => write!(f, "not a proxy URL: {reason}"),
            ProxyProblem::PortZero => write!(f, "port 0 is not a proxy port"),
            ProxyProblem::NotLoopback { host } => {
                write!(f, "host `{host}` is not a loopback proxy (expected localhost, 127.0.0.1 or [::1])")
            }
        }
    }
}

impl ProxyEndpoints {
    /// The distinct ports of the usable endpoints, ascending.
    pub fn ports(&self) -> BTreeSet<u16> {
        self.endpoints.iter().map(|e| e.addr.port()).collect()
    }

    /// For a proxy-only sandbox that must route every proxy variable: an error naming the
    /// first unusable variable, or the absence of any usable one.
    pub fn require_all_usable(&self) -> Result<&[ProxyEndpoint]> {
        if let Some(diagnostic) = self.diagnostics.first() {
            return Err(Error::argument(
                diagnostic.variable.clone(),
                format!("proxy-only networking needs loopback proxy URLs: {diagnostic}"),
            ));
        }
        if self.endpoints.is_empty() {
            return Err(Error::argument(
                "env",
                format!("proxy-only networking needs a loopback proxy URL in one of {}", PROXY_URL_ENV_KEYS.join(", ")),
            ));
        }
        Ok(&self.endpoints)
    }
}

/// Reads the proxy variables of `env`, the command's whole environment.
pub fn infer<K: AsRef<OsStr>, V: AsRef<OsStr>>(env: &[(K, V)]) -> ProxyEndpoints {
    let mut found = ProxyEndpoints::default();
    for (key, value) in env {
        let Some(variable) = key.as_ref().to_str() else {
            continue;
        };
        if !PROXY_URL_ENV_KEYS.iter().any(|known| known.eq_ignore_ascii_case(variable)) {
            continue;
        }
        let Some(text) = value.as_ref().to_str() else {
            found.config_present = true;
            found.diagnostics.push(ProxyDiagnostic {
                variable: variable.to_owned(),
                value: value.as_ref().to_string_lossy().into_owned(),
                problem: ProxyProblem::NotUnicode,
            });
            continue;
        };
        let text = text.trim();
        if text.is_empty() {
            // An empty value is how users switch a proxy off; it configures nothing.
            continue;
        }
        found.config_present = true;
        match loopback_endpoint(text) {
            Ok(addr) => found.endpoints.push(ProxyEndpoint { variable: variable.to_owned(), addr }),
            Err(problem) => found.diagnostics.push(ProxyDiagnostic {
                variable: variable.to_owned(),
                value: redact_credentials(text),
                problem,
            }),
        }
    }
    found.endpoints.sort_by(|a, b| a.variable.cmp(&b.variable));
    found.diagnostics.sort_by(|a, b| a.variable.cmp(&b.variable));
    found
}

/// The socket address a proxy URL names, if it is a loopback one.
///
/// Only the authority is read; a full URL parser would accept more than a proxy value can
/// mean, and every extra accepted form is one more way to misread where traffic goes.
fn loopback_endpoint(value: &str) -> Result<SocketAddr, ProxyProblem> {
    let malformed = |reason: &str| ProxyProblem::Malformed { reason: reason.to_owned() };
    // Tools accept `host:port` without a scheme and treat it as HTTP.
    let (scheme, rest) = value.split_once("://").unwrap_or(("http", value));
    let scheme_is_valid = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_is_valid {
        return Err(malformed("invalid scheme"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host_port)| host_port);

    let (host, port_text) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or_else(|| malformed("unclosed `[` in the host"))?;
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err(malformed("unexpected text after `]`")),
            },
        }
    } else if host_port.matches(':').count() > 1 {
        return Err(malformed("an IPv6 host must be in brackets, as in http://[::1]:3128"));
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err(malformed("no host"));
    }

    let port = match port_text.filter(|p| !p.is_empty()) {
        None => default_port(scheme),
        Some(text) if text.bytes().all(|b| b.is_ascii_digit()) => {
            text.parse::<u16>().map_err(|_| malformed(&format!("port `{text}` is out of range")))?
        }
        Some(text) => return Err(malformed(&format!("port `{text}` is not a number"))),
    };
    if port == 0 {
        return Err(ProxyProblem::PortZero);
    }

    let ip = if host.eq_ignore_ascii_case("localhost") || host == "127.0.0.1" {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else if host == "::1" {
        IpAddr::V6(Ipv6Addr::LOCALHOST)
    } else {
        return Err(ProxyProblem::NotLoopback { host: host.to_owned() });
    };
    Ok(SocketAddr::new(ip, port))
}

/// The port a client uses when the URL names none.
fn default_port(scheme: &str) -> u16 {
    match scheme.to_ascii_lowercase().as_str() {
        "https" => 443,
        "socks4" | "socks4a" | "socks5" | "socks5h" => 1080,
        _ => 80,
    }
}

/// `scheme://user:pass@host` → `scheme://***@host`: diagnostics end up in logs.
fn redact_credentials(value: &str) -> String {
    let (prefix, rest) = match value.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), value),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{prefix}***{}", &rest[at..]),
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().expect("test address")
    }

    #[test]
    fn no_proxy_variables_means_no_configuration() {
        let found = infer(&env(&[("PATH", "/bin"), ("NO_PROXY", "localhost")]));
        assert_eq!(found, ProxyEndpoints::default());
    }

    #[test]
    fn empty_and_blank_values_are_ignored() {
        let found = infer(&env(&[("HTTP_PROXY", ""), ("https_proxy", "  \t")]));
        assert!(!found.config_present);
        assert!(found.endpoints.is_empty() && found.diagnostics.is_empty());
    }

    #[test]
    fn keys_match_case_insensitively_and_sort_by_name() {
        let found = infer(&env(&[
            ("https_proxy", "http://127.0.0.1:8443"),
            ("Npm_Config_Proxy", "http://localhost:3128"),
            ("ALL_PROXY", "socks5h://[::1]:1081"),
        ]));
        assert!(found.config_present);
        let got: Vec<_> = found.endpoints.iter().map(|e| (e.variable.as_str(), e.addr)).collect();
        assert_eq!(
            got,
            vec![
                ("ALL_PROXY", addr("[::1]:1081")),
                ("Npm_Config_Proxy", addr("127.0.0.1:3128")),
                ("https_proxy", addr("127.0.0.1:8443")),
            ]
        );
        assert_eq!(found.ports(), BTreeSet::from([1081, 3128, 8443]));
    }

    #[test]
    fn default_ports_follow_the_scheme() {
        for (value, port) in [
            ("http://localhost", 80),
            ("localhost", 80),
            ("localhost:", 80),
            ("HTTPS://localhost/", 443),
            ("socks5://127.0.0.1", 1080),
            ("socks5h://localhost", 1080),
            ("socks4://localhost", 1080),
            ("socks4a://[::1]", 1080),
            ("ws://localhost", 80),
        ] {
            let found = infer(&env(&[("ALL_PROXY", value)]));
            assert_eq!(found.ports(), BTreeSet::from([port]), "{value}");
        }
    }

    #[test]
    fn credentials_paths_and_whitespace_are_tolerated() {
        let found = infer(&env(&[("HTTP_PROXY", "  http://user:p%40ss@localhost:3128/some/path?q#f ")]));
        assert_eq!(found.endpoints[0].addr, addr("127.0.0.1:3128"));
    }

    #[test]
    fn only_exact_loopback_hosts_are_used() {
        let found = infer(&env(&[
            ("HTTP_PROXY", "http://127.0.0.2:3128"),
            ("HTTPS_PROXY", "http://proxy.example.com:3128"),
            ("FTP_PROXY", "http://localhost.example.com:21"),
            ("WS_PROXY", "http://[::2]:80"),
        ]));
        assert!(found.config_present);
        assert!(found.endpoints.is_empty());
        let hosts: Vec<_> = found
            .diagnostics
            .iter()
            .map(|d| match &d.problem {
                ProxyProblem::NotLoopback { host } => host.as_str(),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(hosts, ["localhost.example.com", "proxy.example.com", "127.0.0.2", "::2"]);
    }

    #[test]
    fn malformed_values_are_reported_with_their_variable() {
        let found = infer(&env(&[
            ("HTTP_PROXY", "http://localhost:0"),
            ("HTTPS_PROXY", "http://localhost:99999"),
            ("ALL_PROXY", "http://localhost:31a8"),
            ("PIP_PROXY", "http://::1:3128"),
            ("WSS_PROXY", "http://[::1"),
            ("WS_PROXY", "http://[::1]x"),
            ("YARN_HTTP_PROXY", "http://:3128"),
            ("FTP_PROXY", "1http://localhost:3128"),
        ]));
        assert!(found.config_present);
        assert!(found.endpoints.is_empty());
        let messages: Vec<String> = found.diagnostics.iter().map(|d| d.to_string()).collect();
        let expected = [
            "`ALL_PROXY`=`http://localhost:31a8`: not a proxy URL: port `31a8` is not a number",
            "`FTP_PROXY`=`1http://localhost:3128`: not a proxy URL: invalid scheme",
            "`HTTPS_PROXY`=`http://localhost:99999`: not a proxy URL: port `99999` is out of range",
            "`HTTP_PROXY`=`http://localhost:0`: port 0 is not a proxy port",
            "`PIP_PROXY`=`http://::1:3128`: not a proxy URL: an IPv6 host must be in brackets, as in http://[::1]:3128",
            "`WSS_PROXY`=`http://[::1`: not a proxy URL: unclosed `[` in the host",
            "`WS_PROXY`=`http://[::1]x`: not a proxy URL: unexpected text after `]`",
            "`YARN_HTTP_PROXY`=`http://:3128`: not a proxy URL: no host",
        ];
        assert_eq!(messages, expected);
    }

    #[test]
    fn non_unicode_values_count_as_configuration() {
        let env = vec![(OsString::from("HTTP_PROXY"), OsString::from_vec(b"http://localhost:\xff".to_vec()))];
        let found = infer(&env);
        assert!(found.config_present);
        assert_eq!(found.diagnostics[0].problem, ProxyProblem::NotUnicode);
    }

    #[test]
    fn diagnostics_hide_credentials() {
        let found = infer(&env(&[("HTTPS_PROXY", "http://alice:s3cret@proxy.example.com:8080/x@y")]));
        let message = found.diagnostics[0].to_string();
        assert!(!message.contains("s3cret") && !message.contains("alice"), "{message}");
        assert!(message.contains("http://***@proxy.example.com:8080/x@y"), "{message}");
    }

    #[test]
    fn require_all_usable_names_the_bad_variable() {
        let err = infer(&env(&[("HTTP_PROXY", "http://localhost:3128"), ("HTTPS_PROXY", "http://10.0.0.1:3128")]))
            .require_all_usable()
            .unwrap_err()
            .to_string();
        assert!(err.contains("`HTTPS_PROXY`") && err.contains("10.0.0.1"), "{err}");

        let err = infer(&env(&[])).require_all_usable().unwrap_err().to_string();
        assert!(err.contains("HTTP_PROXY, HTTPS_PROXY"), "{err}");

        let ok = infer(&env(&[("HTTP_PROXY", "localhost:3128")]));
        assert_eq!(ok.require_all_usable().map(<[_]>::len).ok(), Some(1));
    }
}
