// SPDX-License-Identifier: GPL-2.0

//! Synchronisation that 6.12's `kernel::sync` lacks: spinlocks for
//! softirq and interrupt context ([`SpinLockBh`], [`SpinLockIrq`]) and
//! completions ([`Completion`]), and the count of armed deferred
//! callbacks ([`armed_callbacks`]).

mod completion;
mod spinlock;

// The API, re-exported; a module may use none of it.
#[allow(unused_imports)]
pub(crate) use completion::new_completion;
#[allow(unused_imports)]
pub use completion::Completion;
#[allow(unused_imports)]
pub(crate) use spinlock::{new_spinlock_bh, new_spinlock_irq};
#[allow(unused_imports)]
pub use spinlock::{SpinLockBh, SpinLockBhBackend, SpinLockIrq, SpinLockIrqBackend};

use core::sync::atomic::{AtomicUsize, Ordering};

use crate::kernel_ext::bindings;
use kernel::sync::LockClassKey;

/// References held by queued [`DelayedWork`]s and armed [`Timer`]s of this
/// module (each module compiles its own copy of this layer).
///
/// [`DelayedWork`]: crate::kernel_ext::workqueue::DelayedWork
/// [`Timer`]: crate::kernel_ext::timer::Timer
pub(crate) static ARMED: AtomicUsize = AtomicUsize::new(0);

/// How many delayed works and timers of this module are queued or armed,
/// each holding a reference to its owner. Zero once a module has stopped
/// them all; module exit can check it before returning.
pub fn armed_callbacks() -> usize {
    ARMED.load(Ordering::Relaxed)
}

/// Whether a delayed work or timer may be queued or armed: kept under the
/// owner's irqsave lock (`gate`), since both are queued or armed from any
/// context, their own callback included.
#[derive(Default)]
pub(crate) struct Gate {
    /// Set by `disable_sync`, cleared by `enable`.
    pub(crate) disabled: bool,
    /// Number of cancels waiting for the work or timer to stop.
    pub(crate) cancelling: u32,
}

impl Gate {
    pub(crate) fn blocked(&self) -> bool {
        self.disabled || self.cancelling != 0
    }
}

/// The C `lock_class_key` of a [`LockClassKey`] (6.12 keeps its own
/// accessor crate-private), for C initialisers that take one.
pub(crate) fn class_key_ptr(key: &'static LockClassKey) -> *mut bindings::lock_class_key {
    // `LockClassKey` is `#[repr(transparent)]` over
    // `Opaque<lock_class_key>`, itself transparent over the C struct, so
    // the cast yields the C key; lockdep writes it through this pointer,
    // which `Opaque` allows.
    core::ptr::from_ref(key).cast_mut().cast()
}
