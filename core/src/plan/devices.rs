//! The one table of device nodes a sandbox may use.
//!
//! These character devices reach no file and no other process: the bit buckets, the random
//! sources, and `/dev/tty` (the caller's terminal only while the command still has one, and the
//! command runs in a new session without one). The namespace pipeline binds exactly these into
//! its minimal `/dev`; Landlock lets every sandbox read and write them.

use std::ffi::CStr;

/// One device node.
#[derive(Clone, Copy, Debug)]
pub struct Device {
    /// The absolute path, as a C string for the child.
    pub path: &'static CStr,
}

impl Device {
    /// The path as text (the table is ASCII).
    pub fn path_str(&self) -> &'static str {
        self.path.to_str().unwrap_or_default()
    }
}

pub const DEVICE_COUNT: usize = 6;

pub const DEVICES: [Device; DEVICE_COUNT] = [
    Device { path: c"/dev/null" },
    Device { path: c"/dev/zero" },
    Device { path: c"/dev/full" },
    Device { path: c"/dev/random" },
    Device { path: c"/dev/urandom" },
    Device { path: c"/dev/tty" },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_absolute_device_paths() {
        for device in DEVICES {
            assert!(device.path_str().starts_with("/dev/") && device.path_str().len() > 5);
        }
    }
}
