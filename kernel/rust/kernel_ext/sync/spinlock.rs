// SPDX-License-Identifier: GPL-2.0

//! Spinlocks that also keep softirqs (`_bh`) or interrupts (`_irqsave`) off
//! while held, as [`kernel::sync::lock::Backend`]s: the guards, `Deref`
//! and pin-init construction are those of 6.12's `Lock`.
//!
//! Which one a lock needs depends on the contexts that take it:
//!
//! | taken from | use |
//! |---|---|
//! | process context only | `kernel::sync::SpinLock` (or a `Mutex`) |
//! | process context and softirq (timers, RDMA CQ completions, `_bh` work) | [`SpinLockBh`] |
//! | hardirq too, or with interrupts already disabled | [`SpinLockIrq`] |
//!
//! A plain `spin_lock` taken in process context and in a softirq on the
//! same CPU deadlocks; lockdep reports it (`{SOFTIRQ-ON-W} ->
//! {IN-SOFTIRQ-W}`) on the debug kernel. [`SpinLockBh`] must not be taken
//! with interrupts disabled or in hardirq context: `spin_unlock_bh` would
//! re-enable softirqs there, which the kernel WARNs about.

use crate::kernel_ext::bindings;

/// Creates a [`SpinLockBh`] initialiser with the given name (or one made
/// of file and line) and a lock class of its own, as `new_spinlock!` does.
#[allow(unused_macros)] // Not every module uses every macro.
macro_rules! new_spinlock_bh {
    ($inner:expr $(, $name:literal)? $(,)?) => {
        $crate::kernel_ext::sync::SpinLockBh::new(
            $inner,
            ::kernel::optional_name!($($name)?),
            ::kernel::static_lock_class!(),
        )
    };
}
#[allow(unused_imports)]
pub(crate) use new_spinlock_bh;

/// Creates a [`SpinLockIrq`] initialiser with the given name (or one made
/// of file and line) and a lock class of its own.
#[allow(unused_macros)] // Not every module uses every macro.
macro_rules! new_spinlock_irq {
    ($inner:expr $(, $name:literal)? $(,)?) => {
        $crate::kernel_ext::sync::SpinLockIrq::new(
            $inner,
            ::kernel::optional_name!($($name)?),
            ::kernel::static_lock_class!(),
        )
    };
}
#[allow(unused_imports)]
pub(crate) use new_spinlock_irq;

// Both backends take the `raw_spinlock_t` inside a `spinlock_t`, which is
// what a `spinlock_t` is without PREEMPT_RT (there it is an rt_mutex).
#[cfg(CONFIG_PREEMPT_RT)]
compile_error!("SpinLockBh and SpinLockIrq assume a spinlock_t without PREEMPT_RT");

/// The `raw_spinlock_t` of a `spinlock_t`: its first member (the `rlock`
/// of the union bindgen leaves opaque).
fn raw(ptr: *mut bindings::spinlock_t) -> *mut bindings::raw_spinlock_t {
    ptr.cast()
}

/// A spinlock taken with `spin_lock_bh`: usable from process context and
/// from softirq (timer callbacks, RDMA CQ completion handlers), never
/// from hardirq context or with interrupts disabled.
pub type SpinLockBh<T> = kernel::sync::lock::Lock<T, SpinLockBhBackend>;

/// The `spin_lock_bh` / `spin_unlock_bh` backend of [`SpinLockBh`].
pub struct SpinLockBhBackend;

// SAFETY: `spinlock_t` ensures mutual exclusion between lock and unlock;
// `relock` uses the default implementation, which calls `lock`, the same
// locking method.
unsafe impl kernel::sync::lock::Backend for SpinLockBhBackend {
    type State = bindings::spinlock_t;
    type GuardState = ();

    unsafe fn init(
        ptr: *mut Self::State,
        name: *const kernel::ffi::c_char,
        key: *mut bindings::lock_class_key,
    ) {
        // SAFETY: The caller guarantees `ptr` is valid for writes and that
        // `name` and `key` live forever. `__spin_lock_init` is the
        // `spin_lock_init` helper 6.12's `SpinLock` uses too.
        unsafe { bindings::__spin_lock_init(ptr, name, key) }
    }

    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: The caller guarantees `ptr` was initialised by `init`;
        // `_raw_spin_lock_bh` is what `spin_lock_bh` calls.
        unsafe { bindings::_raw_spin_lock_bh(raw(ptr)) }
    }

    unsafe fn unlock(ptr: *mut Self::State, _guard_state: &Self::GuardState) {
        // SAFETY: The caller owns the lock, taken by `lock` above.
        unsafe { bindings::_raw_spin_unlock_bh(raw(ptr)) }
    }
}

/// A spinlock taken with `spin_lock_irqsave`: usable from any context,
/// including hardirq and code that already runs with interrupts off.
pub type SpinLockIrq<T> = kernel::sync::lock::Lock<T, SpinLockIrqBackend>;

/// The `spin_lock_irqsave` / `spin_unlock_irqrestore` backend of
/// [`SpinLockIrq`]; the guard keeps the saved interrupt flags.
pub struct SpinLockIrqBackend;

// SAFETY: `spinlock_t` ensures mutual exclusion between lock and unlock;
// `relock` uses the default implementation, which calls `lock`, the same
// locking method (and stores the flags it returns in the guard).
unsafe impl kernel::sync::lock::Backend for SpinLockIrqBackend {
    type State = bindings::spinlock_t;
    type GuardState = kernel::ffi::c_ulong;

    unsafe fn init(
        ptr: *mut Self::State,
        name: *const kernel::ffi::c_char,
        key: *mut bindings::lock_class_key,
    ) {
        // SAFETY: As for `SpinLockBhBackend::init`.
        unsafe { bindings::__spin_lock_init(ptr, name, key) }
    }

    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: The caller guarantees `ptr` was initialised by `init`;
        // `_raw_spin_lock_irqsave` is what `spin_lock_irqsave` calls.
        unsafe { bindings::_raw_spin_lock_irqsave(raw(ptr)) }
    }

    unsafe fn unlock(ptr: *mut Self::State, guard_state: &Self::GuardState) {
        // SAFETY: The caller owns the lock; `guard_state` holds the flags
        // its `lock` saved.
        unsafe { bindings::_raw_spin_unlock_irqrestore(raw(ptr), *guard_state) }
    }
}
