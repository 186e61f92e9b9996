//! A probe that failed for want of descriptors is not kept: the first spawn of a process that
//! is out of descriptors must not make the namespace pipeline unavailable for the rest of the
//! process once descriptors are free again. Its own test binary, so that nothing probed before.

use codex_sandbox_core::HostFacts;

fn open_descriptors() -> u64 {
    std::fs::read_dir("/proc/self/fd").unwrap().count() as u64
}

#[test]
fn a_probe_short_of_descriptors_is_tried_again() {
    if HostFacts::probe().namespaces.is_err() {
        eprintln!("skipped: the namespace pipeline does not run here");
        assert!(std::env::var("CODEX_SANDBOX_REQUIRE_ALL").as_deref() != Ok("1"), "CI runs where it does");
        return;
    }
    let mut saved = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: valid out parameter.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut saved) }, 0);
    // No descriptor left: the probe's first pipe fails with EMFILE.
    let tight = libc::rlimit { rlim_cur: open_descriptors().saturating_sub(1), rlim_max: saved.rlim_max };
    // SAFETY: a valid limit no higher than the hard one.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &tight) }, 0);
    let starved = HostFacts::get().namespaces.clone();
    // SAFETY: the limit saved above.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &saved) }, 0);
    let refusal = starved.expect_err("the probe had no descriptor to work with");
    assert_eq!(refusal.errno, Some(libc::EMFILE), "{refusal:?}");
    assert!(HostFacts::get().namespaces.is_ok(), "probed again once descriptors are free");
}
