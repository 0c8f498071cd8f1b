// SPDX-License-Identifier: GPL-2.0

//! A spinlock that disables softirqs while held (`spin_lock_bh`).
//!
//! RDMA completions run in softirq context (CQs polled with
//! `IB_POLL_SOFTIRQ`). Data they share with process context needs a lock
//! that process context takes with bottom halves disabled; otherwise a
//! completion arriving on the same CPU while the lock is held deadlocks
//! (and lockdep reports the inconsistent lock state).

use kernel::bindings;
use kernel::sync::lock::{Backend, Lock};

/// Creates a [`SpinLockBh`] initialiser with a lock class of its own.
#[macro_export]
macro_rules! new_spinlock_bh {
    ($inner:expr $(, $name:literal)? $(,)?) => {
        $crate::kernel_ext::sync::spinlock_bh::SpinLockBh::new(
            $inner,
            ::kernel::optional_name!($($name)?),
            ::kernel::static_lock_class!(),
        )
    };
}

/// A spinlock taken with softirqs disabled; usable from process context
/// and from softirq context (not from hard interrupts).
pub type SpinLockBh<T> = Lock<T, SpinLockBhBackend>;

/// The `spin_lock_bh`/`spin_unlock_bh` backend of [`SpinLockBh`].
pub struct SpinLockBhBackend;

// SAFETY: The kernel `spinlock_t` gives mutual exclusion; `relock` uses the
// default implementation, which calls `lock` again.
unsafe impl Backend for SpinLockBhBackend {
    type State = bindings::spinlock_t;
    type GuardState = ();

    unsafe fn init(
        ptr: *mut Self::State,
        name: *const kernel::ffi::c_char,
        key: *mut bindings::lock_class_key,
    ) {
        // SAFETY: The caller guarantees `ptr` is valid for writes and
        // `name`/`key` valid forever.
        unsafe { bindings::__spin_lock_init(ptr, name, key) }
    }

    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: `ptr` is an initialised lock (caller's guarantee); a
        // `spinlock_t` begins with its `raw_spinlock_t` (`rlock`, the
        // union's only member without PREEMPT_RT), which is what
        // `spin_lock_bh` passes to `_raw_spin_lock_bh`.
        unsafe { bindings::_raw_spin_lock_bh(ptr.cast()) }
    }

    unsafe fn unlock(ptr: *mut Self::State, _guard_state: &Self::GuardState) {
        // SAFETY: As for `lock`; the caller holds the lock.
        unsafe { bindings::_raw_spin_unlock_bh(ptr.cast()) }
    }
}
