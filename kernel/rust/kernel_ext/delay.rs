// SPDX-License-Identifier: GPL-2.0

//! Sleeping for a while, which 6.12's `kernel` crate cannot do yet.

use crate::kernel_ext::bindings;

/// Sleeps at least `ms` milliseconds (`msleep`), uninterruptibly. Process
/// context only.
pub fn msleep(ms: u32) {
    // SAFETY: `msleep` may be called with any value from process context;
    // the C function checks (might_sleep) that it may sleep.
    unsafe { bindings::msleep(ms) }
}
