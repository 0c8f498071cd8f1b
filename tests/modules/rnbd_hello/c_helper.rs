// SPDX-License-Identifier: GPL-2.0

//! Safe wrapper over the C object linked into the same module.

extern "C" {
    fn rnbd_hello_multiply(a: i32, b: i32) -> i32;
}

/// Multiplies in C (wrapping, as C's int arithmetic in the kernel does).
pub(crate) fn multiply(a: i32, b: i32) -> i32 {
    // SAFETY: `rnbd_hello_multiply` is defined in hello_helper.c with this
    // exact signature, takes its arguments by value and touches no memory.
    unsafe { rnbd_hello_multiply(a, b) }
}
