// SPDX-License-Identifier: GPL-2.0

//! `struct completion`: one side waits (with or without a timeout) until
//! another signals that something is done.

use crate::kernel_ext::bindings;
use kernel::error::{code::*, Result};
use kernel::init::PinInit;
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::sync::LockClassKey;
use kernel::time::msecs_to_jiffies;
use kernel::types::Opaque;

use super::super::errno::ETIMEDOUT;

/// Creates a [`Completion`] initialiser with the given name (or one made
/// of file and line) and a lock class of its own, as C's
/// `init_completion` does per call site.
#[allow(unused_macros)] // Not every module uses every macro.
macro_rules! new_completion {
    ($($name:literal)?) => {
        $crate::kernel_ext::sync::Completion::new(
            ::kernel::optional_name!($($name)?),
            ::kernel::static_lock_class!(),
        )
    };
}
#[allow(unused_imports)]
pub(crate) use new_completion;

/// A `struct completion`, pinned: its wait queue links to itself.
///
/// `complete` and `complete_all` may be called from any context; the
/// waits sleep, so only from process context without spinlocks held.
///
/// # Invariants
///
/// `raw` was initialised by `__init_swait_queue_head` with `done = 0`
/// in [`Completion::new`], and does not move (it is pinned).
#[pin_data]
pub struct Completion {
    #[pin]
    raw: Opaque<bindings::completion>,
}

// SAFETY: A completion is made to be signalled and waited on from any
// thread; its state is protected by the wait queue's lock.
unsafe impl Send for Completion {}
// SAFETY: As above: every operation takes the wait queue's lock.
unsafe impl Sync for Completion {}

impl Completion {
    /// An initialiser of a completion that is not done. Use
    /// [`new_completion!`] to get a name and lock class.
    pub fn new(name: &'static CStr, key: &'static LockClassKey) -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `slot` is valid for writes; `name` and `key` are
            // 'static as `__init_swait_queue_head` requires (lockdep keeps
            // them). This is `init_completion` with our key.
            raw <- Opaque::ffi_init(|slot: *mut bindings::completion| unsafe {
                (*slot).done = 0;
                bindings::__init_swait_queue_head(
                    core::ptr::addr_of_mut!((*slot).wait),
                    name.as_char_ptr(),
                    super::class_key_ptr(key),
                );
            }),
        })
    }

    fn ptr(&self) -> *mut bindings::completion {
        self.raw.get()
    }

    /// Wakes one waiter, or lets the next wait return at once (each call
    /// counts once).
    pub fn complete(&self) {
        // SAFETY: Initialised per the type invariant.
        unsafe { bindings::complete(self.ptr()) }
    }

    /// Wakes every waiter, and every later wait returns at once until
    /// [`Completion::reinit`].
    pub fn complete_all(&self) {
        // SAFETY: Initialised per the type invariant.
        unsafe { bindings::complete_all(self.ptr()) }
    }

    /// Waits, uninterruptibly and without limit, until done. Consumes one
    /// `complete`. Process context only.
    pub fn wait(&self) {
        // SAFETY: Initialised per the type invariant; the C function
        // checks (might_sleep) that it may sleep here.
        unsafe { bindings::wait_for_completion(self.ptr()) }
    }

    /// Waits at most `ms` milliseconds; `ETIMEDOUT` if not done by then.
    /// Consumes one `complete` on success. Process context only.
    pub fn wait_timeout_ms(&self, ms: u32) -> Result {
        // SAFETY: As for `wait`.
        let left =
            unsafe { bindings::wait_for_completion_timeout(self.ptr(), msecs_to_jiffies(ms)) };
        if left == 0 {
            Err(ETIMEDOUT())
        } else {
            Ok(())
        }
    }

    /// Consumes one `complete` if there is one, without waiting
    /// (`try_wait_for_completion`); `EAGAIN` otherwise.
    pub fn try_wait(&self) -> Result {
        // SAFETY: Initialised per the type invariant; does not sleep.
        if unsafe { bindings::try_wait_for_completion(self.ptr()) } {
            Ok(())
        } else {
            Err(EAGAIN)
        }
    }

    /// Whether a wait would return at once (`completion_done`).
    pub fn is_done(&self) -> bool {
        // SAFETY: Initialised per the type invariant.
        unsafe { bindings::completion_done(self.ptr()) }
    }

    /// Makes the completion not done again (`reinit_completion`), for
    /// reuse. Unlike C's plain store this takes the wait queue's lock, so
    /// a concurrent `complete` is ordered before or after it instead of
    /// racing with it.
    pub fn reinit(&self) {
        let raw = self.ptr();
        // SAFETY: Initialised per the type invariant; `wait.lock` is the
        // raw spinlock under which `complete` and the waits change
        // `done`, so the store below does not race with them.
        unsafe {
            let lock = core::ptr::addr_of_mut!((*raw).wait.lock);
            let flags = bindings::_raw_spin_lock_irqsave(lock);
            (*raw).done = 0;
            bindings::_raw_spin_unlock_irqrestore(lock, flags);
        }
    }
}
