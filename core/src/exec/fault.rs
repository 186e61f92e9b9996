//! Fault injection for the tests that prove the child's panic containment.
//!
//! With the `fault-injection` feature, `arm_child_panic` makes the next sandbox's child panic
//! right after it starts; without it the checkpoint compiles to nothing. The flag is set in
//! the parent and read in the child's copy of memory, so only children cloned after arming
//! panic.

#[cfg(feature = "fault-injection")]
static CHILD_PANIC: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes every child cloned from now on panic at its first step (until disarmed).
#[cfg(feature = "fault-injection")]
pub fn arm_child_panic(armed: bool) {
    CHILD_PANIC.store(armed, std::sync::atomic::Ordering::SeqCst);
}

/// Called by the child at its first step.
#[inline(always)]
pub(crate) fn child_checkpoint() {
    #[cfg(feature = "fault-injection")]
    if CHILD_PANIC.load(std::sync::atomic::Ordering::SeqCst) {
        panic!("fault injection: the sandbox's child panics");
    }
}
