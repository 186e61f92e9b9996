//! Gives the shared library its SONAME, so programs linked against it ask for
//! `libcodex_sandbox.so.0` and keep working across compatible library updates.
//!
//! No version script is needed: rustc already exports only the `#[no_mangle]` functions
//! of a cdylib (`codex_sandbox_*`); tests/c/run.sh checks that with `nm -D --defined-only`.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libcodex_sandbox.so.0");
}
