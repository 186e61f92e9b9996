//! The native half of the npm package `@codex/linux-sandbox`.
//!
//! Deliberately low level: the JS layer (`node/lib/`) validates options, builds `Error`s with
//! stable `code`s from [`spec::NativeError`], wraps pipe descriptors in `net.Socket`s and turns
//! reaper reports into `ChildProcess`-style events. Everything here either returns data (plans
//! and probes as JSON text) or spawns through the core's prepare-then-spawn path, whose child
//! runs async-signal-safe code only, so spawning from Node's multi-threaded process is safe.

mod reaper;
mod spec;
mod sync;

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::Path;

use codex_sandbox_core::Error;
use codex_sandbox_core::proxy::env::{ProxyEnvOptions, apply};
use codex_sandbox_core::seatbelt::{SeatbeltOptions, UnixSockets, seatbelt_command};
use napi::bindgen_prelude::Either;
use napi_derive::napi;

pub use reaper::{NativeChild, Reaper};
pub use spec::{NativeError, NativeSpec};
pub use sync::{NativeSyncOptions, NativeSyncResult, spawn_sync};

/// The addon's version (the workspace version; the package.json version matches it).
#[napi]
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

fn json(value: &impl serde::Serialize) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| Error::Internal(format!("cannot serialise: {e}")))
}

fn either(result: Result<String, Error>) -> Either<String, NativeError> {
    match result {
        Ok(text) => Either::A(text),
        Err(error) => Either::B(error.into()),
    }
}

/// The plan `spawn` would carry out, as JSON text. Reads the filesystem, changes nothing.
#[napi(catch_unwind)]
pub fn explain(spec: NativeSpec) -> Either<String, NativeError> {
    either(spec.to_core().and_then(|spec| codex_sandbox_core::prepare(&spec)).and_then(|plan| json(&plan)))
}

/// What this host can enforce, as JSON text.
#[napi(catch_unwind)]
pub fn probe() -> Either<String, NativeError> {
    either(json(&codex_sandbox_core::probe::probe()))
}

/// macOS-only options of `seatbeltPolicy`.
#[napi(object)]
pub struct NativeSeatbeltOptions {
    pub allow_local_binding: Option<bool>,
    /// `true`: any unix socket.
    pub allow_all_unix_sockets: Option<bool>,
    pub unix_sockets: Option<Vec<String>>,
    pub deny_read_globs: Option<Vec<String>>,
}

/// The `sandbox-exec` invocation for the spec, as JSON text. `network: 'proxy'` restricts the
/// profile to the loopback proxies named in the environment (Seatbelt's managed network).
#[napi(catch_unwind)]
pub fn seatbelt(spec: NativeSpec, options: NativeSeatbeltOptions) -> Either<String, NativeError> {
    either((|| {
        let (policy, proxy) = spec.policy()?;
        let env = spec.env()?;
        let argv: Vec<OsString> = spec.argv.iter().map(OsString::from).collect();
        let unix_sockets = if options.allow_all_unix_sockets.unwrap_or(false) {
            UnixSockets::All
        } else {
            let paths: Vec<std::path::PathBuf> =
                options.unix_sockets.unwrap_or_default().into_iter().map(Into::into).collect();
            if paths.is_empty() { UnixSockets::None } else { UnixSockets::Paths(paths) }
        };
        let options = SeatbeltOptions {
            allow_local_binding: options.allow_local_binding.unwrap_or(false),
            unix_sockets,
            deny_read_globs: options.deny_read_globs.unwrap_or_default(),
            managed_network: proxy,
        };
        json(&seatbelt_command(&policy, Path::new(&spec.policy_cwd), &argv, &env, &options)?)
    })())
}

/// The loopback proxies an environment names, as JSON text (`config_present`, `endpoints`,
/// `diagnostics`).
#[napi(catch_unwind)]
pub fn proxy_endpoints(env_keys: Vec<String>, env_values: Vec<String>) -> Either<String, NativeError> {
    let env: Vec<(String, String)> = env_keys.into_iter().zip(env_values).collect();
    either(json(&codex_sandbox_core::proxy::endpoints::infer(&env)))
}

/// Where `proxyEnv` points the command.
#[napi(object)]
pub struct NativeProxyOptions {
    /// The HTTP (CONNECT) proxy, `host:port` with an IP host (`127.0.0.1:3128`, `[::1]:3128`).
    pub http: String,
    /// An optional SOCKS5 proxy, same form.
    pub socks: Option<String>,
    pub allow_local_binding: Option<bool>,
    pub no_proxy: Option<String>,
}

fn socket_addr(text: &str, field: &str) -> Result<SocketAddr, Error> {
    text.parse().map_err(|e| spec::argument_error(field, format!("`{text}` is not an IP address and port: {e}")))
}

/// `env` with every proxy variable set (and stale ones removed), as `[keys, values]`.
#[napi(catch_unwind)]
pub fn proxy_env(
    env_keys: Vec<String>,
    env_values: Vec<String>,
    options: NativeProxyOptions,
) -> Either<Vec<Vec<String>>, NativeError> {
    let result = (|| {
        let options = ProxyEnvOptions {
            http: socket_addr(&options.http, "http")?,
            socks: options.socks.as_deref().map(|s| socket_addr(s, "socks")).transpose()?,
            allow_local_binding: options.allow_local_binding.unwrap_or(false),
            no_proxy: options.no_proxy,
        };
        let mut env: Vec<(OsString, OsString)> =
            env_keys.into_iter().zip(env_values).map(|(k, v)| (k.into(), v.into())).collect();
        apply(&mut env, &options);
        let (keys, values) =
            env.into_iter().map(|(k, v)| (k.to_string_lossy().into_owned(), v.to_string_lossy().into_owned())).unzip();
        Ok::<_, Error>(vec![keys, values])
    })();
    match result {
        Ok(pair) => Either::A(pair),
        Err(error) => Either::B(error.into()),
    }
}
