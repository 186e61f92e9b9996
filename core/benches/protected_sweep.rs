//! Cost of the check for protected names created during a run (`exec::sweep`): the walk before
//! the run and the one after it, over a tree of about 100 000 directories (each with two
//! files), sequential and on the threads the sweep uses here (up to 8) side by side, and how
//! close that is to the walk's bound. Prints the times and the best of each with their ratio;
//! asserts only that the walks found what was planted.
//!
//!     cargo bench -p codex-sandbox-core --bench protected_sweep [-- DIRECTORIES]

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use codex_sandbox_core::exec::sweep::{MAX_ENTRIES, Sweep};
use codex_sandbox_core::resolve::ProtectedNames;

fn main() {
    let directories: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(100_000);
    let root = std::env::temp_dir().join(format!("codex-sandbox-sweep-bench-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    // 100 top-level directories of ~directories/100 each, two levels deep: a wide source tree.
    let started = Instant::now();
    let per_top = directories.div_ceil(100);
    let mut made = 0;
    'outer: for top in 0..100 {
        for leaf in 0..per_top {
            if made == directories {
                break 'outer;
            }
            let dir = root.join(format!("pkg{top}/mod{}/d{leaf}", leaf % 10));
            fs::create_dir_all(&dir).unwrap();
            fs::write(dir.join("index.js"), "x").unwrap();
            fs::write(dir.join("README"), "x").unwrap();
            made += 1;
        }
    }
    // A pre-existing nested repository, which the sweep must leave alone.
    fs::create_dir_all(root.join("pkg7/vendored/.git/hooks")).unwrap();
    println!("tree: {made} directories (+{} levels above), built in {:.1?}", 2, started.elapsed());
    let names = ProtectedNames::default();
    let roots = vec![fs::canonicalize(&root).unwrap()];
    let parallel = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    // The same tree, walked sequentially and in parallel in turn, three rounds each.
    let mut best = [[Duration::MAX; 2]; 2];
    for round in 0..3 {
        for (column, walkers) in [1, parallel].into_iter().enumerate() {
            let before = Instant::now();
            let sweep = Sweep::before_with_walkers(&roots, &names, &[], walkers).unwrap();
            let before_time = before.elapsed();
            let (visited, threads) = (sweep.visited, sweep.threads);
            let planted: PathBuf = root.join(format!("pkg{round}/mod1/d{}/.git", 1 + 10 * column));
            fs::create_dir_all(planted.join("hooks")).unwrap();
            let after = Instant::now();
            let outcome = sweep.after();
            let after_time = after.elapsed();
            assert_eq!(outcome.removed, vec![roots[0].join(planted.strip_prefix(&root).unwrap())]);
            assert!(outcome.incomplete.is_none() && outcome.visited == visited + 1, "{outcome:?}");
            assert!(root.join("pkg7/vendored/.git/hooks").is_dir());
            best[column][0] = best[column][0].min(before_time);
            best[column][1] = best[column][1].min(after_time);
            println!(
                "round {round}, {threads} thread(s): {visited} entries; before the run {before_time:.1?}, \
                 after it {after_time:.1?} ({:.0} entries/ms); bound {MAX_ENTRIES} entries",
                visited as f64 / after_time.as_secs_f64() / 1000.0
            );
        }
    }
    let [sequential, shared] = best;
    for (which, index) in [("before", 0), ("after", 1)] {
        println!(
            "best {which}: sequential {:.1?}, {parallel} threads {:.1?}: {:.2}x",
            sequential[index],
            shared[index],
            sequential[index].as_secs_f64() / shared[index].as_secs_f64()
        );
    }
    fs::remove_dir_all(&root).unwrap();
}
