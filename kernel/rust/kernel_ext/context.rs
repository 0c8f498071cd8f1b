// SPDX-License-Identifier: GPL-2.0

//! The execution context (`in_task()`), for code that must know whether
//! it may sleep. Needs `context.c` linked into the module (see there).

extern "C" {
    fn rnbd_kext_in_task() -> bool;
    fn rnbd_kext_cpu_id() -> u32;
}

/// Whether we run in a task (process context, a kernel thread, a work
/// item), not in a hard or soft interrupt or NMI (C's `in_task()`).
#[inline]
pub fn in_task() -> bool {
    // SAFETY: Reads the preempt count; no preconditions.
    unsafe { rnbd_kext_in_task() }
}

/// The CPU we run on (`raw_smp_processor_id()`): a hint, the task may
/// migrate right after.
#[inline]
pub fn cpu_id() -> u32 {
    // SAFETY: Reads the per-CPU id; no preconditions.
    unsafe { rnbd_kext_cpu_id() }
}

/// `nr_cpu_ids`: the number of possible CPU ids.
#[inline]
pub fn nr_cpu_ids() -> u32 {
    // SAFETY: Set once at boot, read-only afterwards.
    unsafe { crate::kernel_ext::bindings::nr_cpu_ids }
}

/// `ktime_get()` in nanoseconds.
#[inline]
pub fn ktime_ns() -> i64 {
    // SAFETY: No preconditions.
    unsafe { crate::kernel_ext::bindings::ktime_get() }
}

/// Random bytes (`get_random_bytes`), for UUIDs.
pub fn random_bytes(buf: &mut [u8]) {
    // SAFETY: `buf` is writable for its length.
    unsafe { crate::kernel_ext::bindings::get_random_bytes(buf.as_mut_ptr().cast(), buf.len()) }
}

/// A random u32 (`get_random_u32`).
pub fn random_u32() -> u32 {
    // SAFETY: No preconditions.
    unsafe { crate::kernel_ext::bindings::get_random_u32() }
}
