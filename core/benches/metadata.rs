//! Cost of the landlock pipeline's metadata supervisor: `chmod +x` on a file in the workspace,
//! 10 000 times in one process (python's `os.chmod`, so the loop is the system calls, not
//! 10 000 process starts), and 200 `chmod +x` processes from a shell loop, each with and
//! without the supervisor (the same plan on a host with user namespaces, where the read-only
//! view makes the supervisor unnecessary). Prints medians and ratios side by side.
//!
//!     cargo bench -p codex-sandbox-core --bench metadata [-- ROUNDS]

use std::ffi::OsString;
use std::path::Path;
use std::time::{Duration, Instant};

use codex_sandbox_core::plan::MetadataGuard;
use codex_sandbox_core::{HostFacts, PipelineRequest, Policy, SandboxSpec, SpawnOptions, prepare_for, spawn};

fn plan_for(ws: &Path, script: &str, supervised: bool) -> codex_sandbox_core::SandboxPlan {
    let policy = Policy::parse(&format!(
        r#"{{"type":"managed","file_system":{{"type":"restricted","entries":[{{"path":{{"type":"special","value":{{"kind":"root"}}}},"access":"read"}},{{"path":{{"type":"path","path":"{}"}},"access":"write"}}]}},"network":"restricted"}}"#,
        ws.display()
    ))
    .expect("policy");
    let argv = ["/bin/sh", "-c", script].iter().map(OsString::from).collect();
    let mut spec = SandboxSpec::new(policy, ws.parent().unwrap(), argv);
    spec.pipeline = PipelineRequest::Landlock;
    spec.env = vec![("PATH".into(), "/usr/bin:/bin".into())];
    let host = HostFacts::get().clone();
    let host =
        if supervised { HostFacts { namespaces: Err("simulated: no user namespaces".into()), ..host } } else { host };
    let plan = prepare_for(&spec, &host).expect("plan");
    assert_eq!(matches!(plan.metadata_guard(), Some(MetadataGuard::Supervisor { .. })), supervised);
    plan
}

fn time(plan: &codex_sandbox_core::SandboxPlan) -> Duration {
    let start = Instant::now();
    let status = spawn(plan, SpawnOptions::default()).unwrap().wait().unwrap();
    assert_eq!(status.code(), Some(0));
    start.elapsed()
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let rounds: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(5);
    let dir = std::env::temp_dir().join(format!("codex-bench-metadata-{}", std::process::id()));
    let ws = dir.join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let file = ws.join("script.sh");
    std::fs::write(&file, "#!/bin/sh\n").unwrap();
    let loop_10k = format!(
        "/usr/bin/python3 -c 'import os\nfor _ in range(10000): os.chmod(\"{0}\", 0o755); os.chmod(\"{0}\", 0o644)' ",
        file.display()
    );
    let processes = format!("i=0; while [ $i -lt 200 ]; do chmod +x {}; i=$((i+1)); done", file.display());
    println!("{:40} {:>14} {:>14} {:>7}", "workload", "view (no sup.)", "supervisor", "ratio");
    for (name, script) in [("os.chmod x 20000 (one process)", &loop_10k), ("chmod +x x 200 (processes)", &processes)] {
        let plain = plan_for(&ws, script, false);
        let supervised = plan_for(&ws, script, true);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            a.push(time(&plain));
            b.push(time(&supervised));
        }
        let (a, b) = (median(&mut a), median(&mut b));
        println!(
            "{name:40} {:>11.1} ms {:>11.1} ms {:>6.2}x",
            a.as_secs_f64() * 1e3,
            b.as_secs_f64() * 1e3,
            b.as_secs_f64() / a.as_secs_f64()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
