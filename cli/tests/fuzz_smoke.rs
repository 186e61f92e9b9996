//! A bounded smoke run of the fuzz targets on stable Rust: the same target bodies as
//! `fuzz/fuzz_targets/*` (`cargo fuzz`, nightly), fed seed inputs and their mutations from a
//! small deterministic generator, a fixed number of times each. The long run is
//! `cargo +nightly fuzz run <target>` in `fuzz/` (docs/security.md).
//!
//! `CODEX_SANDBOX_FUZZ_ITERATIONS` raises or lowers the count (default 20000 per target; the C
//! request target plans each input, so it gets a tenth).

#[path = "../../fuzz/src/targets.rs"]
mod targets;

/// xorshift64*: deterministic, so a failure names an iteration that reproduces.
struct Generator(u64);

impl Generator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A seed, mutated the way a fuzzer would: bytes flipped, inserted, deleted, spliced with
    /// another seed or with tokens the parsers care about.
    fn input(&mut self, seeds: &[&[u8]], tokens: &[&[u8]]) -> Vec<u8> {
        let mut data = seeds[self.below(seeds.len())].to_vec();
        for _ in 0..self.below(8) {
            match self.below(6) {
                0 if !data.is_empty() => {
                    let at = self.below(data.len());
                    data[at] ^= 1 << self.below(8);
                }
                1 => {
                    let at = self.below(data.len() + 1);
                    data.insert(at, self.next() as u8);
                }
                2 if !data.is_empty() => {
                    let at = self.below(data.len());
                    let len = self.below(data.len() - at + 1);
                    data.drain(at..at + len);
                }
                3 => {
                    let other = seeds[self.below(seeds.len())];
                    let at = self.below(data.len() + 1);
                    let from = self.below(other.len() + 1);
                    data.splice(at..at, other[from..].iter().copied());
                }
                4 => {
                    let token = tokens[self.below(tokens.len())];
                    let at = self.below(data.len() + 1);
                    data.splice(at..at, token.iter().copied());
                }
                _ => {
                    let len = self.below(64);
                    data.extend((0..len).map(|_| self.next() as u8));
                }
            }
        }
        data
    }
}

fn iterations(default: usize) -> usize {
    std::env::var("CODEX_SANDBOX_FUZZ_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

use targets::Outcome;

/// Runs `target` over the seeds and `count` generated inputs; every input must be handled
/// without a panic, and both accepted and refused inputs must occur (the run reached past
/// the first checks).
fn smoke(name: &str, seeds: &[&[u8]], tokens: &[&[u8]], count: usize, target: fn(&[u8]) -> Outcome) {
    let mut generator = Generator(0x9e37_79b9_7f4a_7c15 ^ name.len() as u64);
    let mut tally = std::collections::BTreeMap::new();
    let inputs = seeds.iter().map(|s| s.to_vec()).chain((0..count).map(|_| generator.input(seeds, tokens)));
    for (iteration, input) in inputs.enumerate() {
        let outcome = std::panic::catch_unwind(|| target(&input));
        let Ok(outcome) = outcome else { panic!("{name}: input {iteration} panicked: {input:?}") };
        *tally.entry(outcome).or_insert(0usize) += 1;
    }
    eprintln!("{name}: {} seeds and {count} generated inputs: {tally:?}", seeds.len());
    for needed in [Outcome::Accepted, Outcome::Refused] {
        assert!(tally.contains_key(&needed), "{name}: no input was {needed:?}: {tally:?}");
    }
}

#[test]
fn policy_json_never_panics_and_refuses_with_a_field() {
    let seeds: &[&[u8]] = &[
        b"read-only",
        b"workspace-write",
        b"danger-full-access",
        br#"{"type":"workspace-write","writable_roots":["/tmp/x"],"network_access":true,"exclude_slash_tmp":true,"exclude_tmpdir_env_var":false}"#,
        br#"{"type":"read-only","access":{"type":"restricted","include_platform_defaults":true,"readable_roots":["/usr","/etc"]}}"#,
        br#"{"type":"external-sandbox","network_access":"enabled"}"#,
        br#"{"type":"workspace-write","read_only_access":{"type":"full-access"}}"#,
        b"{}",
        b"[]",
    ];
    let tokens: &[&[u8]] = &[
        b"\"type\"",
        b"\"writable_roots\"",
        b"null",
        b"true",
        b"1e999",
        b"\"\\u0000\"",
        b"\"..\"",
        b"{",
        b"}",
        b"[",
        b"]",
        b",",
        b":",
        b"\"restricted\"",
        b"\"/\"",
        b"\"relative\"",
    ];
    smoke("policy_json", seeds, tokens, iterations(20_000), targets::policy_json);
}

#[test]
fn proxy_environment_yields_only_loopback_endpoints() {
    let seeds: &[&[u8]] = &[
        b"\x03\x00\x15http://127.0.0.1:3128\x01\x0fsocks5h://[::1]:1080",
        b"\x02\x81\x10http://localhost:8080/\x04\x1chttps://user:pw@127.0.0.1:443",
        b"\x01\x05\x0bhttp://[::1]",
        b"\x01\x02\x09127.0.0.1",
        b"",
    ];
    let tokens: &[&[u8]] = &[
        b"http://",
        b"https://",
        b"socks5://",
        b"127.0.0.1",
        b"[::1]",
        b"localhost",
        b":0",
        b":65535",
        b":99999",
        b"@",
        b"%00",
        b"\xff",
        b"127.0.0.2",
        b"[::ffff:127.0.0.1]",
        b"0x7f.1",
    ];
    smoke("proxy_environment", seeds, tokens, iterations(20_000), targets::proxy_environment);
}

#[test]
fn c_request_decoding_refuses_or_plans() {
    // Layout (fuzz/src/targets.rs): policy, policy_cwd, command_cwd, bwrap_path as (selector,
    // length, bytes); argv count and entries; env count and entries; extra-fd count; selector.
    let seeds: &[&[u8]] = &[
        // read-only, cwd /tmp, argv /bin/true: planned.
        b"\x02\x00\x02\x02aa\x00\x00\x00\x00\x01\x02\x04aaaa\x00\x00\x00",
        // workspace-write, cwd /tmp, command cwd /tmp/x, argv /bin/true, env FOO=1: planned.
        b"\x02\x01a\x02\x02aa\x03\x01x\x00\x00\x01\x02\x04aaaa\x01\x01\x05FOO=1\x00\x00",
        // a relative --bwrap-path with the bwrap pipeline: refused.
        b"\x02\x00\x02\x02aa\x00\x00\x01\x05bwrap\x01\x02\x04aaaa\x00\x00\x10",
        b"\x02\x00\x02\x00\x03\x04/tmp\x00\x00\x01\x02\x00\x00\x00\x00",
        b"\x01\x0fworkspace-write\x03\x03tmp\x00\x03\x0a/../../bin\x02\x02\x00\x02\x00\x00\x01\x03\x00\x00\x00\x00\x10",
        b"\x01\x40{\"type\":\"workspace-write\",\"writable_roots\":[\"/tmp\"]}\x02\x00\x00\x00\x01\x02\x00\x00\x20",
        b"",
    ];
    let tokens: &[&[u8]] = &[b"\x00", b"\x01", b"\x02", b"\x03", b"\xff", b"read-only", b"/tmp", b"/bin/true"];
    smoke("c_request", seeds, tokens, iterations(20_000) / 10, targets::c_request);
}
