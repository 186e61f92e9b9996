#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    codex_sandbox_fuzz::targets::policy_json(data);
});
