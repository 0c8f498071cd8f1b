// SPDX-License-Identifier: GPL-2.0

//! CPU counts (`nr_cpu_ids`, `num_online_cpus()`), which 6.12's `kernel`
//! crate does not offer.

use core::ptr;

use crate::kernel_ext::bindings;

/// `nr_cpu_ids`: one more than the highest possible CPU id.
pub fn nr_cpu_ids() -> u32 {
    // SAFETY: Set once during boot, before any module loads; read as C
    // reads it.
    unsafe { ptr::read_volatile(ptr::addr_of!(bindings::nr_cpu_ids)) }
}

/// `num_online_cpus()`.
pub fn num_online_cpus() -> u32 {
    // SAFETY: An `atomic_t` the CPU hotplug code updates; read as
    // `atomic_read` does.
    let n = unsafe { ptr::read_volatile(ptr::addr_of!(bindings::__num_online_cpus.counter)) };
    u32::try_from(n).unwrap_or(1).max(1)
}
