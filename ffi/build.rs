//! Gives the shared library its SONAME, so programs linked against it ask for
//! `libcodex_sandbox.so.0` and keep working across compatible library updates, and makes the
//! plain `cargo build` output usable in place: `target/<profile>/libcodex_sandbox.so.0` is a
//! symlink to the `libcodex_sandbox.so` cargo writes next to it, so a program linked with
//! `-Ltarget/release -lcodex_sandbox -Wl,-rpath,...` finds the name it asks for at run time.
//!
//! Under cargo-c (feature `capi`) this script does neither: cargo-c sets the SONAME from
//! `[package.metadata.capi.library]` (the same `libcodex_sandbox.so.0`) and writes the
//! versioned file and its links itself; a second `-soname` would race with its own.
//!
//! No version script is needed: rustc already exports only the `#[no_mangle]` functions
//! of a cdylib (`codex_sandbox_*`); tests/c/run.sh checks that with `nm -D --defined-only`.

use std::path::{Path, PathBuf};

const SONAME: &str = "libcodex_sandbox.so.0";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_CAPI").is_some() {
        return;
    }
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os != "linux" {
        return;
    }
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{SONAME}");
    if let Some(dir) = profile_dir() {
        link_soname(&dir);
    }
}

/// `target/[<triple>/]<profile>`, where cargo puts the final `libcodex_sandbox.so`: OUT_DIR is
/// `<that>/build/<package>-<hash>/out`.
fn profile_dir() -> Option<PathBuf> {
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR")?);
    let dir = out_dir.ancestors().nth(3)?;
    (out_dir.ancestors().nth(2)?.file_name()? == "build").then(|| dir.to_path_buf())
}

/// Creates `<dir>/libcodex_sandbox.so.0 -> libcodex_sandbox.so` (relative, so the tree can be
/// moved). It dangles until the link step writes the library, a moment after this script.
fn link_soname(dir: &Path) {
    let link = dir.join(SONAME);
    if std::fs::read_link(&link).is_ok_and(|target| target == Path::new("libcodex_sandbox.so")) {
        return;
    }
    let _ = std::fs::remove_file(&link);
    if let Err(error) = std::os::unix::fs::symlink("libcodex_sandbox.so", &link) {
        println!("cargo:warning=could not create {}: {error}", link.display());
    }
}
