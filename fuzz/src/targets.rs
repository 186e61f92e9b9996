//! The fuzz targets' bodies, shared by the `cargo fuzz` targets (`fuzz/fuzz_targets/`, nightly,
//! libFuzzer) and the stable smoke run (`cli/tests/fuzz_smoke.rs`, which includes this file).
//! Each takes arbitrary bytes, must never panic, and checks the invariants its input owes the
//! sandbox: an input is either refused with an error that names what is wrong, or accepted
//! into something that is safe to act on.

use std::ffi::{CStr, CString, c_char};

use codex_sandbox::{
    CODEX_SANDBOX_MAX_STRUCT_SIZE, codex_sandbox_error, codex_sandbox_error_free, codex_sandbox_error_message,
    codex_sandbox_explain, codex_sandbox_spawn_request, codex_sandbox_string_free,
};
use codex_sandbox_core::proxy::endpoints::{PROXY_URL_ENV_KEYS, infer};
use codex_sandbox_core::{ErrorKind, SandboxPolicy};

/// Reads structured values off the front of the fuzzer's bytes; zeros once they run out.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Input<'a> {
        Input { data }
    }

    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((first, rest)) => {
                self.data = rest;
                *first
            }
            None => 0,
        }
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    /// Up to `max` bytes, the length taken from the input.
    pub fn bytes(&mut self, max: usize) -> &'a [u8] {
        let len = (self.byte() as usize).min(max).min(self.data.len());
        let (taken, rest) = self.data.split_at(len);
        self.data = rest;
        taken
    }

    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}

/// What a target did with an input, so that a smoke run can show it reached both sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Accepted,
    Refused,
    /// Not even decoded (not UTF-8, say).
    Skipped,
}

/// `SandboxPolicy::parse`: the policy JSON (or a policy name) of every front end.
pub fn policy_json(data: &[u8]) -> Outcome {
    // Lossy: the front ends hand over text, and a fuzzer's bytes are rarely UTF-8.
    let text = &*String::from_utf8_lossy(data);
    match SandboxPolicy::parse(text) {
        Ok(policy) => {
            // Parsing is a function of the text alone.
            let again = SandboxPolicy::parse(text).expect("a policy parsed once parses again");
            assert_eq!(format!("{policy:?}"), format!("{again:?}"));
            // What the policy grants is answerable without panicking.
            let _ = (policy.has_full_disk_write_access(), policy.has_full_network_access());
            Outcome::Accepted
        }
        Err(error) => {
            assert!(
                matches!(error.kind(), ErrorKind::InvalidPolicy | ErrorKind::InvalidArgument),
                "a bad policy is an invalid policy, not {:?}: {error}",
                error.kind()
            );
            assert!(!error.to_string().is_empty());
            Outcome::Refused
        }
    }
}

/// `proxy::endpoints::infer`: the proxy variables of the command's environment. Whatever the
/// values, every endpoint it yields is a loopback address with a real port, and any proxy
/// configuration at all is reported as present (a sandbox must then never open the network).
pub fn proxy_environment(data: &[u8]) -> Outcome {
    let mut input = Input::new(data);
    let mut env: Vec<(std::ffi::OsString, std::ffi::OsString)> = Vec::new();
    use std::os::unix::ffi::OsStringExt;
    for _ in 0..(input.byte() % 8) {
        let selector = input.byte() as usize;
        let key = match PROXY_URL_ENV_KEYS.get(selector % (PROXY_URL_ENV_KEYS.len() + 2)) {
            // Known keys in either case, and now and then an arbitrary one.
            Some(key) if selector & 0x80 != 0 => key.to_ascii_lowercase().into_bytes(),
            Some(key) => key.as_bytes().to_vec(),
            None => input.bytes(24).to_vec(),
        };
        let value = input.bytes(96).to_vec();
        env.push((std::ffi::OsString::from_vec(key), std::ffi::OsString::from_vec(value)));
    }
    let found = infer(&env);
    for endpoint in &found.endpoints {
        assert!(endpoint.addr.ip().is_loopback(), "non-loopback endpoint {endpoint:?} from {env:?}");
        assert_ne!(endpoint.addr.port(), 0, "port 0 endpoint from {env:?}");
    }
    if !found.endpoints.is_empty() || !found.diagnostics.is_empty() {
        assert!(found.config_present, "proxy configuration not reported as present: {env:?}");
    }
    let ports = found.ports();
    assert!(found.endpoints.iter().all(|e| ports.contains(&e.addr.port())));
    if !found.endpoints.is_empty() {
        Outcome::Accepted
    } else if found.config_present {
        Outcome::Refused
    } else {
        Outcome::Skipped
    }
}

/// The C request decoding (`read_request`, reached through `codex_sandbox_explain`, which
/// decodes a spawn request and plans it without running anything). The request is built from
/// the input with every pointer valid, as the header requires; sizes, flags, enums, strings
/// and descriptor numbers are the fuzzer's.
pub fn c_request(data: &[u8]) -> Outcome {
    let mut input = Input::new(data);
    let string = |input: &mut Input, max: usize| -> Option<CString> {
        let selector = input.byte();
        let bytes: Vec<u8> = input.bytes(max).iter().copied().filter(|b| *b != 0).collect();
        match selector % 4 {
            0 => None,
            1 => CString::new(bytes).ok(),
            // Values that get past the first checks, so the later ones are reached too.
            2 => CString::new(["read-only", "workspace-write", "/tmp", "/", "/bin/true"][bytes.len() % 5]).ok(),
            _ => CString::new([b"/tmp/".as_slice(), &bytes].concat()).ok(),
        }
    };
    let policy = string(&mut input, 200);
    let policy_cwd = string(&mut input, 40);
    let command_cwd = string(&mut input, 40);
    let bwrap_path = string(&mut input, 40);
    let argv_strings: Vec<CString> = (0..input.byte() % 4).filter_map(|_| string(&mut input, 20)).collect();
    let env_strings: Vec<CString> = (0..input.byte() % 4).filter_map(|_| string(&mut input, 40)).collect();
    let pointer = |s: &Option<CString>| s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
    let null_terminated =
        |list: &[CString]| list.iter().map(|s| s.as_ptr()).chain(std::iter::once(std::ptr::null())).collect::<Vec<_>>();
    let argv = null_terminated(&argv_strings);
    let envp = null_terminated(&env_strings);
    let extra_fds: Vec<i32> = (0..input.byte() % 4).map(|_| input.u32() as i32).collect();
    let selector = input.byte();
    // The limits: 0 (the default) or a fuzzed value, valid or not.
    let mut limit = || if input.byte() & 1 == 0 { 0 } else { u64::from(input.u32()) << (input.byte() % 40) };
    let limits = [limit(), limit(), limit(), limit(), limit(), limit()];

    // The request sits at the front of a buffer as large as any version may claim to be, so a
    // fuzzed `struct_size` never makes the library read past what we own.
    let mut buffer = vec![0u8; CODEX_SANDBOX_MAX_STRUCT_SIZE as usize + 8];
    let tail = input.rest();
    let struct_size = match selector % 4 {
        0 => std::mem::size_of::<codex_sandbox_spawn_request>() as u32,
        1 => (u32::from(selector) * 17) % (CODEX_SANDBOX_MAX_STRUCT_SIZE + 2),
        _ => std::mem::size_of::<codex_sandbox_spawn_request>() as u32 + (u32::from(selector) % 16),
    };
    let request = codex_sandbox_spawn_request {
        struct_size,
        pipeline: u32::from(selector >> 4) % 5,
        policy: pointer(&policy),
        policy_cwd: pointer(&policy_cwd),
        command_cwd: pointer(&command_cwd),
        argv: if selector & 0x08 != 0 { std::ptr::null() } else { argv.as_ptr() },
        envp: if selector & 0x04 != 0 { std::ptr::null() } else { envp.as_ptr() },
        bwrap_path: pointer(&bwrap_path),
        extra_fds: if extra_fds.is_empty() { std::ptr::null() } else { extra_fds.as_ptr() },
        extra_fds_len: extra_fds.len(),
        stdin_fd: -1 - i32::from(selector % 4),
        stdout_fd: -1,
        stderr_fd: -1,
        flags: u32::from(selector & 0x03) | if selector & 0x40 != 0 { 1 << 7 } else { 0 },
        protect: std::ptr::null(),
        unprotect: std::ptr::null(),
        max_processes: limits[0],
        max_memory_bytes: limits[1],
        max_cpu_seconds: limits[2],
        max_file_size_bytes: limits[3],
        max_open_files: limits[4],
        max_wall_time_ms: limits[5],
        allow_unix_sockets: std::ptr::null(),
    };
    let size = std::mem::size_of::<codex_sandbox_spawn_request>();
    // SAFETY: copies the request's bytes into the front of a buffer at least that large.
    unsafe {
        std::ptr::copy_nonoverlapping(
            (&request as *const codex_sandbox_spawn_request).cast::<u8>(),
            buffer.as_mut_ptr(),
            size,
        )
    };
    // The unknown tail (past this library's struct) is zero unless the input says otherwise.
    if selector & 0x20 != 0 {
        let room = buffer.len() - size;
        buffer[size..size + tail.len().min(room)].copy_from_slice(&tail[..tail.len().min(room)]);
    }

    let mut json: *mut c_char = std::ptr::null_mut();
    let mut error: *mut codex_sandbox_error = std::ptr::null_mut();
    // SAFETY: every pointer in the request is NULL or valid for the call; the buffer holds
    // CODEX_SANDBOX_MAX_STRUCT_SIZE bytes; the out-pointers are valid.
    let result = unsafe { codex_sandbox_explain(buffer.as_ptr().cast(), &mut json, &mut error) };
    if result as i32 == 0 {
        assert!(!json.is_null() && error.is_null());
        // SAFETY: a NUL-terminated string the library returned; freed once below.
        let text = unsafe { CStr::from_ptr(json) }.to_str().expect("the plan is UTF-8").to_owned();
        serde_json::from_str::<serde_json::Value>(&text).expect("the plan is JSON");
        // SAFETY: returned by the library, freed once.
        unsafe { codex_sandbox_string_free(json) };
        Outcome::Accepted
    } else {
        assert!(json.is_null(), "a failed call returned a plan");
        assert!(!error.is_null(), "a failed call returned no error");
        // SAFETY: a live error object; its message is borrowed until it is freed.
        let message = unsafe { CStr::from_ptr(codex_sandbox_error_message(error)) }.to_string_lossy().into_owned();
        assert!(!message.is_empty(), "error {} without a message", result as i32);
        // SAFETY: returned by the library, freed once.
        unsafe { codex_sandbox_error_free(error) };
        Outcome::Refused
    }
}
