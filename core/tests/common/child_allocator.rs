//! An allocator that ends any process but the test's own with exit code 97 the moment it
//! allocates. A test binary includes this file with `#[path]` and arms it around its spawns:
//! the sandbox's child is a clone of the test process, so an allocation between `clone` and
//! `execve` (or in the child's panic path) shows up as exit 97 instead of going unnoticed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, Ordering};

/// The test process's pid while armed (0: not armed).
static HOST_PID: AtomicI64 = AtomicI64::new(0);

/// Starts ending every other process that allocates.
pub fn arm() {
    HOST_PID.store(std::process::id().into(), Ordering::SeqCst);
}

/// Stops checking.
pub fn disarm() {
    HOST_PID.store(0, Ordering::SeqCst);
}

struct ChildMustNotAllocate;

impl ChildMustNotAllocate {
    fn check() {
        let host = HOST_PID.load(Ordering::Relaxed);
        // SAFETY: getpid has no arguments and cannot fail; the raw call sees through any cache.
        if host != 0 && unsafe { libc::syscall(libc::SYS_getpid) } != host {
            // SAFETY: _exit is async-signal-safe and ends the process at once.
            unsafe { libc::_exit(97) }
        }
    }
}

// SAFETY: every call is forwarded to the system allocator unchanged.
unsafe impl GlobalAlloc for ChildMustNotAllocate {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::check();
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        Self::check();
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::check();
        // SAFETY: forwarded with the caller's arguments.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: ChildMustNotAllocate = ChildMustNotAllocate;
