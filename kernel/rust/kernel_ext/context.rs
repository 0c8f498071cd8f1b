// SPDX-License-Identifier: GPL-2.0

//! The execution context (`in_task()`), for code that must know whether
//! it may sleep. Needs `context.c` linked into the module (see there).

extern "C" {
    fn rnbd_kext_in_task() -> bool;
}

/// Whether we run in a task (process context, a kernel thread, a work
/// item), not in a hard or soft interrupt or NMI (C's `in_task()`).
#[inline]
pub fn in_task() -> bool {
    // SAFETY: Reads the preempt count; no preconditions.
    unsafe { rnbd_kext_in_task() }
}
