//! The proxy variables a launcher sets so that every common tool uses its proxy,
//! and removing them again.
//!
//! Beyond Codex's table: `CARGO_HTTP_PROXY`, and the JVM build tools, which ignore `*_PROXY`.
//! For those we append `-Dhttp.proxyHost/-Dhttp.proxyPort/-Dhttps.proxyHost/-Dhttps.proxyPort/
//! -Dhttp.nonProxyHosts` to `GRADLE_OPTS`, `MAVEN_OPTS` and `SBT_OPTS` rather than setting
//! `JAVA_TOOL_OPTIONS`, which every JVM echoes to stderr ("Picked up JAVA_TOOL_OPTIONS"),
//! breaking tools that parse a JVM's output. IPv6 loopback proxies (`[::1]`) are written with
//! brackets in URLs and without in JVM properties.

use std::ffi::OsString;
use std::net::SocketAddr;

/// Variables that get the HTTP proxy URL.
pub const HTTP_PROXY_KEYS: [&str; 22] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
    "YARN_HTTP_PROXY",
    "YARN_HTTPS_PROXY",
    "npm_config_http_proxy",
    "npm_config_https_proxy",
    "npm_config_proxy",
    "NPM_CONFIG_HTTP_PROXY",
    "NPM_CONFIG_HTTPS_PROXY",
    "NPM_CONFIG_PROXY",
    "BUNDLE_HTTP_PROXY",
    "BUNDLE_HTTPS_PROXY",
    "PIP_PROXY",
    "DOCKER_HTTP_PROXY",
    "DOCKER_HTTPS_PROXY",
    "WS_PROXY",
    "WSS_PROXY",
    "ws_proxy",
    "wss_proxy",
    "CARGO_HTTP_PROXY",
];

/// Variables that get the SOCKS5 URL when there is a SOCKS proxy, else the HTTP one. HTTP_PROXY
/// and friends never get a SOCKS URL: many clients break on it.
pub const ALL_PROXY_KEYS: [&str; 4] = ["ALL_PROXY", "all_proxy", "FTP_PROXY", "ftp_proxy"];

/// Variables that get the no-proxy list.
pub const NO_PROXY_KEYS: [&str; 6] =
    ["NO_PROXY", "no_proxy", "npm_config_noproxy", "NPM_CONFIG_NOPROXY", "YARN_NO_PROXY", "BUNDLE_NO_PROXY"];

/// JVM build tools' option variables, to which the proxy properties are appended.
pub const JVM_OPTION_KEYS: [&str; 3] = ["GRADLE_OPTS", "MAVEN_OPTS", "SBT_OPTS"];

/// Markers set alongside the proxies.
pub const MARKER_KEYS: [&str; 4] =
    ["CODEX_NETWORK_PROXY_ACTIVE", "CODEX_NETWORK_ALLOW_LOCAL_BINDING", "ELECTRON_GET_USE_PROXY", "NODE_USE_ENV_PROXY"];

/// The no-proxy list when local binding is allowed: loopback and private ranges bypass the
/// proxy. Link-local (169.254.0.0/16, cloud metadata) always goes through it.
pub const LOCAL_NO_PROXY: &str = "localhost,127.0.0.1,::1,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16";

/// What to point the command at.
#[derive(Clone, Debug)]
pub struct ProxyEnvOptions {
    /// The HTTP (CONNECT) proxy.
    pub http: SocketAddr,
    /// An optional SOCKS5 proxy.
    pub socks: Option<SocketAddr>,
    /// Local and private addresses bypass the proxy (`NO_PROXY` gets [`LOCAL_NO_PROXY`]).
    pub allow_local_binding: bool,
    /// Overrides the no-proxy list.
    pub no_proxy: Option<String>,
}

impl ProxyEnvOptions {
    fn no_proxy(&self) -> String {
        match &self.no_proxy {
            Some(list) => list.clone(),
            None if self.allow_local_binding => LOCAL_NO_PROXY.to_owned(),
            // Everything, local addresses too, goes through the proxy, where its rules apply.
            None => String::new(),
        }
    }

    /// The JVM properties, as appended to the JVM option variables.
    fn jvm_properties(&self) -> String {
        let host = self.http.ip();
        let port = self.http.port();
        let non_proxy = self.no_proxy().replace(',', "|");
        format!(
            "-Dhttp.proxyHost={host} -Dhttp.proxyPort={port} -Dhttps.proxyHost={host} -Dhttps.proxyPort={port} \
             -Dhttp.nonProxyHosts={non_proxy}"
        )
    }
}

/// The variables to set, in a fixed order. JVM option variables are returned as the value to
/// append (see [`apply`]).
pub fn proxy_variables(options: &ProxyEnvOptions) -> Vec<(&'static str, String)> {
    let http = format!("http://{}", options.http);
    let all = options.socks.map_or_else(|| http.clone(), |socks| format!("socks5h://{socks}"));
    let no_proxy = options.no_proxy();
    let mut vars: Vec<(&'static str, String)> = Vec::new();
    vars.extend(HTTP_PROXY_KEYS.iter().map(|key| (*key, http.clone())));
    vars.extend(ALL_PROXY_KEYS.iter().map(|key| (*key, all.clone())));
    vars.extend(NO_PROXY_KEYS.iter().map(|key| (*key, no_proxy.clone())));
    vars.push(("CODEX_NETWORK_PROXY_ACTIVE", "1".into()));
    vars.push(("CODEX_NETWORK_ALLOW_LOCAL_BINDING", if options.allow_local_binding { "1" } else { "0" }.into()));
    vars.push(("ELECTRON_GET_USE_PROXY", "true".into()));
    // Node's fetch and http honour the proxy variables only with this.
    vars.push(("NODE_USE_ENV_PROXY", "1".into()));
    vars.extend(JVM_OPTION_KEYS.iter().map(|key| (*key, options.jvm_properties())));
    vars
}

/// Sets the proxy variables in `env`, replacing earlier values (in any letter case for the
/// proxy URL families, since tools read either), appending the JVM properties to existing
/// option variables.
pub fn apply(env: &mut Vec<(OsString, OsString)>, options: &ProxyEnvOptions) {
    strip(env);
    for (key, value) in proxy_variables(options) {
        if JVM_OPTION_KEYS.contains(&key)
            && let Some((_, existing)) = env.iter_mut().find(|(k, _)| k == key)
        {
            let mut joined = existing.clone();
            if !joined.is_empty() {
                joined.push(" ");
            }
            joined.push(&value);
            *existing = joined;
            continue;
        }
        env.push((key.into(), value.into()));
    }
}

/// Removes every variable [`apply`] sets, and our JVM properties from the JVM option variables
/// (keeping what the user had there).
pub fn strip(env: &mut Vec<(OsString, OsString)>) {
    let url_keys = HTTP_PROXY_KEYS.iter().chain(&ALL_PROXY_KEYS).chain(&NO_PROXY_KEYS);
    let is_ours = |key: &str| url_keys.clone().any(|k| k.eq_ignore_ascii_case(key)) || MARKER_KEYS.contains(&key);
    env.retain(|(key, _)| !key.to_str().is_some_and(is_ours));
    for (key, value) in env.iter_mut() {
        if !key.to_str().is_some_and(|k| JVM_OPTION_KEYS.contains(&k)) {
            continue;
        }
        let Some(text) = value.to_str() else { continue };
        let kept: Vec<&str> = text.split(' ').filter(|word| !is_our_jvm_property(word)).collect();
        *value = kept.join(" ").into();
    }
    env.retain(|(key, value)| !(key.to_str().is_some_and(|k| JVM_OPTION_KEYS.contains(&k)) && value.is_empty()));
}

fn is_our_jvm_property(word: &str) -> bool {
    ["-Dhttp.proxyHost=", "-Dhttp.proxyPort=", "-Dhttps.proxyHost=", "-Dhttps.proxyPort=", "-Dhttp.nonProxyHosts="]
        .iter()
        .any(|prefix| word.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> ProxyEnvOptions {
        ProxyEnvOptions {
            http: "127.0.0.1:3128".parse().unwrap(),
            socks: None,
            allow_local_binding: false,
            no_proxy: None,
        }
    }

    fn get<'a>(env: &'a [(OsString, OsString)], key: &str) -> Option<&'a str> {
        env.iter().find(|(k, _)| k == key).and_then(|(_, v)| v.to_str())
    }

    #[test]
    fn every_variable_of_the_table() {
        let mut env = Vec::new();
        apply(&mut env, &options());
        for key in HTTP_PROXY_KEYS.iter().chain(&ALL_PROXY_KEYS) {
            assert_eq!(get(&env, key), Some("http://127.0.0.1:3128"), "{key}");
        }
        for key in NO_PROXY_KEYS {
            assert_eq!(get(&env, key), Some(""), "{key}");
        }
        assert_eq!(get(&env, "NODE_USE_ENV_PROXY"), Some("1"));
        assert_eq!(get(&env, "ELECTRON_GET_USE_PROXY"), Some("true"));
        assert_eq!(get(&env, "CODEX_NETWORK_PROXY_ACTIVE"), Some("1"));
        assert_eq!(get(&env, "CODEX_NETWORK_ALLOW_LOCAL_BINDING"), Some("0"));
        assert_eq!(
            get(&env, "GRADLE_OPTS"),
            Some(
                "-Dhttp.proxyHost=127.0.0.1 -Dhttp.proxyPort=3128 -Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=3128 -Dhttp.nonProxyHosts="
            )
        );
        let keys: Vec<&str> = env.iter().map(|(k, _)| k.to_str().unwrap()).collect();
        assert_eq!(keys.len(), HTTP_PROXY_KEYS.len() + ALL_PROXY_KEYS.len() + NO_PROXY_KEYS.len() + 4 + 3);
    }

    #[test]
    fn socks_ipv6_and_local_binding() {
        let mut env = Vec::new();
        let options = ProxyEnvOptions {
            http: "[::1]:3128".parse().unwrap(),
            socks: Some("127.0.0.1:8081".parse().unwrap()),
            allow_local_binding: true,
            no_proxy: None,
        };
        apply(&mut env, &options);
        assert_eq!(get(&env, "HTTPS_PROXY"), Some("http://[::1]:3128"));
        assert_eq!(get(&env, "ALL_PROXY"), Some("socks5h://127.0.0.1:8081"));
        assert_eq!(get(&env, "HTTP_PROXY"), Some("http://[::1]:3128"), "HTTP_PROXY is never a SOCKS URL");
        assert_eq!(get(&env, "no_proxy"), Some(LOCAL_NO_PROXY));
        assert!(get(&env, "MAVEN_OPTS").unwrap().contains("-Dhttps.proxyHost=::1 -Dhttps.proxyPort=3128"));
        assert!(get(&env, "MAVEN_OPTS").unwrap().contains("-Dhttp.nonProxyHosts=localhost|127.0.0.1|::1|10.0.0.0/8"));
    }

    #[test]
    fn apply_replaces_any_case_and_strip_restores_the_user_environment() {
        let user: Vec<(OsString, OsString)> = vec![
            ("PATH".into(), "/bin".into()),
            ("Https_Proxy".into(), "http://old:1".into()),
            ("GRADLE_OPTS".into(), "-Xmx2g".into()),
        ];
        let mut env = user.clone();
        apply(&mut env, &options());
        assert!(get(&env, "Https_Proxy").is_none(), "a stale proxy in another case would win for some tools");
        assert!(get(&env, "GRADLE_OPTS").unwrap().starts_with("-Xmx2g -Dhttp.proxyHost=127.0.0.1"));
        apply(&mut env, &options());
        assert_eq!(
            get(&env, "GRADLE_OPTS").unwrap().matches("-Dhttp.proxyHost").count(),
            1,
            "applying twice does not stack"
        );
        strip(&mut env);
        assert_eq!(env, vec![("PATH".into(), "/bin".into()), ("GRADLE_OPTS".into(), "-Xmx2g".into())]);
    }
}
