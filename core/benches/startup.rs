//! Start-up cost of a sandbox: spawn to exit of `/bin/true`, side by side with the kernel's
//! floor for the same namespaces (`unshare`) and with bubblewrap, interleaved round by round so
//! that a noisy machine affects every contender alike. Prints medians and ratios.
//!
//!     cargo bench -p codex-sandbox-core --bench startup [-- ROUNDS]

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use codex_sandbox_core::{PipelineRequest, SandboxPolicy, SandboxSpec, SpawnOptions, prepare, spawn};

type Contender = (&'static str, Box<dyn Fn()>);

fn command(argv: &'static [&'static str]) -> Box<dyn Fn()> {
    Box::new(move || {
        let status = Command::new(argv[0]).args(&argv[1..]).stdin(Stdio::null()).status().unwrap();
        assert!(status.success(), "{argv:?} failed");
    })
}

fn library(pipeline: PipelineRequest, policy: SandboxPolicy) -> Box<dyn Fn()> {
    let mut spec = SandboxSpec::new(policy, "/tmp", vec![OsString::from("/bin/true")]);
    spec.pipeline = pipeline;
    let plan = prepare(&spec).expect("prepare");
    Box::new(move || {
        let status = spawn(&plan, SpawnOptions::default()).unwrap().wait().unwrap();
        assert_eq!(status.code(), Some(0));
    })
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let rounds: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(200);
    let workspace = SandboxPolicy::parse(r#"{"type":"workspace-write","exclude_tmpdir_env_var":true}"#).unwrap();
    let mut contenders: Vec<Contender> = vec![
        ("bare /bin/true", command(&["/bin/true"])),
        ("unshare -Urmnpf --mount-proc true", command(&["unshare", "-Urmnpf", "--mount-proc", "/bin/true"])),
    ];
    if Path::new("/usr/bin/bwrap").exists() {
        contenders.push((
            "bwrap --ro-bind / / --dev /dev --proc /proc --unshare-all",
            command(&[
                "/usr/bin/bwrap",
                "--ro-bind",
                "/",
                "/",
                "--dev",
                "/dev",
                "--proc",
                "/proc",
                "--unshare-all",
                "--die-with-parent",
                "--new-session",
                "/bin/true",
            ]),
        ));
    }
    contenders
        .push(("embedded bwrap pipeline, read-only", library(PipelineRequest::Bwrap, SandboxPolicy::read_only())));
    contenders.push(("embedded bwrap pipeline, workspace-write", library(PipelineRequest::Bwrap, workspace.clone())));
    contenders.push(("landlock pipeline, read-only", library(PipelineRequest::Landlock, SandboxPolicy::read_only())));
    contenders.push(("landlock pipeline, workspace-write", library(PipelineRequest::Landlock, workspace)));

    for (_, run) in &contenders {
        run(); // warm caches
    }
    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(rounds); contenders.len()];
    for _ in 0..rounds {
        for ((_, run), times) in contenders.iter().zip(samples.iter_mut()) {
            let start = Instant::now();
            run();
            times.push(start.elapsed());
        }
    }
    let medians: Vec<Duration> = samples.iter_mut().map(|s| median(s)).collect();
    let reference = contenders.iter().position(|(name, _)| name.starts_with("bwrap")).map(|i| medians[i]);
    println!("{rounds} rounds, median spawn-to-exit of /bin/true");
    for ((name, _), median) in contenders.iter().zip(&medians) {
        let ratio =
            reference.map(|r| format!("{:.2} x bwrap", median.as_secs_f64() / r.as_secs_f64())).unwrap_or_default();
        println!("{:>9.3} ms  {ratio:>12}  {name}", median.as_secs_f64() * 1e3);
    }
}
