// SPDX-License-Identifier: GPL-2.0

//! Timers (`struct timer_list`) that belong to a driver object shared
//! through an [`Arc`], with the ownership rules of
//! [`crate::kernel_ext::workqueue::DelayedWork`]: the timer is a field of
//! its owner `T`, an armed timer holds one `Arc<T>` reference (handed to
//! [`TimerItem::expired`], or dropped by the cancel that disarms it), and
//! [`Timer::cancel_sync`] / [`Timer::disable_sync`] stop a timer that
//! re-arms itself from its own callback.
//!
//! The callback runs in softirq context: it must not sleep, and data it
//! shares with process context needs a
//! [`SpinLockBh`](crate::kernel_ext::sync::SpinLockBh) (or an irqsave
//! lock). If it drops the last reference, `T` is dropped there too.
//!
//! Dropping needs no `timer_delete_sync`: an armed timer holds a
//! reference to its owner, so the owner (and the timer in it) is dropped
//! only once disarmed, and a running callback holds one until it has
//! returned.

use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};

use crate::kernel_ext::bindings;
use kernel::error::{code::*, Result};
use kernel::init::PinInit;
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::sync::{Arc, LockClassKey};
use kernel::time::msecs_to_jiffies;
use kernel::types::Opaque;

use super::sync::{class_key_ptr, Gate, SpinLockIrq, ARMED};

/// What runs when a [`Timer<Self, ID>`] field of `Self` expires. `ID`
/// tells apart several timers of one type.
pub trait TimerItem<const ID: u64 = 0>: Send + Sync + Sized + 'static {
    /// Runs in softirq context (must not sleep), with the reference the
    /// armed timer held.
    fn expired(this: Arc<Self>);
}

/// Creates a [`Timer`] initialiser with the given name (or file and line)
/// and lock classes of its own (timer, gate).
#[allow(unused_macros)] // Not every module uses every macro.
macro_rules! new_timer {
    ($($name:literal)?) => {
        $crate::kernel_ext::timer::Timer::new(
            ::kernel::optional_name!($($name)?),
            [::kernel::static_lock_class!(), ::kernel::static_lock_class!()],
        )
    };
}
#[allow(unused_imports)]
pub(crate) use new_timer;

/// A `struct timer_list` in a `T` that implements [`TimerItem<ID>`].
///
/// # Invariants
///
/// - `raw` was initialised by `init_timer_key` with
///   [`expire_trampoline::<T, ID>`], is pinned and, as
///   [`Timer::check_owner`] enforces before any arming, lies inside the
///   `T` that `owner` points at once it has been armed;
/// - the timer is pending only while it holds one `Arc<T>` reference,
///   taken with `Arc::into_raw` and counted in [`ARMED`]; `mod_timer`,
///   `timer_delete` and `timer_delete_sync` report exactly whether it
///   was pending (it is never shut down), and the count follows them;
/// - `running` is the task the callback interrupted (or runs in) while
///   the callback runs, else null; a timer's callback never runs twice
///   at once (a running timer is not migrated to another CPU).
#[pin_data]
#[repr(C)]
pub struct Timer<T: TimerItem<ID>, const ID: u64 = 0> {
    /// First, so that the `timer_list` the trampoline gets is the start
    /// of this struct.
    #[pin]
    raw: Opaque<bindings::timer_list>,
    owner: AtomicPtr<T>,
    running: AtomicPtr<bindings::task_struct>,
    #[pin]
    gate: SpinLockIrq<Gate>,
}

// SAFETY: Timers are made to be armed and deleted from any thread; `T` is
// Send + Sync and only reached through `Arc<T>`.
unsafe impl<T: TimerItem<ID>, const ID: u64> Send for Timer<T, ID> {}
// SAFETY: As above; all the state is atomic or under `gate`.
unsafe impl<T: TimerItem<ID>, const ID: u64> Sync for Timer<T, ID> {}

fn current_task() -> *mut bindings::task_struct {
    // SAFETY: Reading `current` is always allowed.
    unsafe { bindings::get_current() }
}

/// The callback of every `Timer<T, ID>`.
///
/// # Safety
///
/// Called by the timer core (softirq) for a `timer_list` initialised by
/// [`Timer::new`] and armed by [`Timer::arm`].
unsafe extern "C" fn expire_trampoline<T: TimerItem<ID>, const ID: u64>(
    raw: *mut bindings::timer_list,
) {
    // `raw` is the first member of `Timer` (repr(C)).
    let timer = raw.cast::<Timer<T, ID>>();
    // SAFETY: The timer was armed, so (type invariant) it holds a
    // reference to the owner, which contains it; `owner` was stored before
    // arming, which the timer base lock orders before this callback.
    let owner = unsafe { (*timer).owner.load(Ordering::Acquire) };
    // SAFETY: That reference came from `Arc::into_raw` and is ours now:
    // the timer is no longer pending.
    let this = unsafe { Arc::from_raw(owner) };
    ARMED.fetch_sub(1, Ordering::Relaxed);
    // Keeps the owner, and so the timer in it, alive until `running` is
    // cleared, whatever the callback drops.
    let keep = this.clone();
    // SAFETY: The timer lies inside the owner `keep` holds.
    let timer = unsafe { &*timer };
    timer.running.store(current_task(), Ordering::Release);
    T::expired(this);
    timer.running.store(ptr::null_mut(), Ordering::Release);
    drop(keep);
}

impl<T: TimerItem<ID>, const ID: u64> Timer<T, ID> {
    /// An initialiser of a disarmed timer; use [`new_timer!`], which
    /// supplies the name and lock classes.
    pub fn new(name: &'static CStr, keys: [&'static LockClassKey; 2]) -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `slot` is valid for writes; `name` and the key are
            // 'static as lockdep requires. This is `timer_setup`.
            raw <- Opaque::ffi_init(|slot: *mut bindings::timer_list| unsafe {
                ptr::write_bytes(slot, 0, 1);
                bindings::init_timer_key(
                    slot,
                    Some(expire_trampoline::<T, ID>),
                    0,
                    name.as_char_ptr(),
                    class_key_ptr(keys[0]),
                );
            }),
            owner: AtomicPtr::new(ptr::null_mut()),
            running: AtomicPtr::new(ptr::null_mut()),
            gate <- SpinLockIrq::new(
                Gate::default(),
                kernel::c_str!("Timer::gate"),
                keys[1],
            ),
        })
    }

    fn raw(&self) -> *mut bindings::timer_list {
        self.raw.get()
    }

    /// Checks that this timer lies inside `owner`, so that the reference
    /// an armed timer holds keeps it alive; EINVAL otherwise.
    fn check_owner(&self, owner: &Arc<T>) -> Result<*mut T> {
        let start = ptr::from_ref::<T>(owner) as usize;
        let end = start + core::mem::size_of::<T>();
        let me = ptr::from_ref(self) as usize;
        if me < start || me + core::mem::size_of::<Self>() > end {
            pr_err!("Timer armed with an owner that does not contain it\n");
            return Err(EINVAL);
        }
        Ok(ptr::from_ref::<T>(owner).cast_mut())
    }

    /// Takes back one reference the armed timer held, for the caller to
    /// drop once it no longer uses `self`.
    fn take_ref(&self) -> Arc<T> {
        ARMED.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: The caller learnt from the kernel that the timer was
        // disarmed without running (or was armed already), so the
        // reference that arming took (type invariant) is ours.
        unsafe { Arc::from_raw(self.owner.load(Ordering::Acquire)) }
    }

    /// Arms the timer to expire in `delay_ms` milliseconds, whether or
    /// not it was armed already (`mod_timer`). `Ok(false)` if arming is
    /// refused (disabled, being cancelled). Any context.
    pub fn arm(&self, owner: &Arc<T>, delay_ms: u32) -> Result<bool> {
        let ptr = self.check_owner(owner)?;
        let gate = self.gate.lock();
        if gate.blocked() {
            return Ok(false);
        }
        self.owner.store(ptr, Ordering::Release);
        ARMED.fetch_add(1, Ordering::Relaxed);
        let _ = Arc::into_raw(owner.clone());
        // SAFETY: `jiffies` is the kernel's tick counter, read as C reads
        // it (volatile).
        let now = unsafe { ptr::read_volatile(ptr::addr_of!(bindings::jiffies)) };
        // SAFETY: The timer is initialised (type invariant) and never shut
        // down, so `mod_timer` arms it and returns 1 exactly if it was
        // pending, holding a reference of its own.
        let was_pending = unsafe {
            bindings::mod_timer(self.raw(), now.wrapping_add(msecs_to_jiffies(delay_ms)))
        };
        let spare = (was_pending != 0).then(|| self.take_ref());
        drop(gate);
        drop(spare);
        Ok(true)
    }

    /// Whether this is the timer's own callback.
    fn in_own_callback(&self) -> bool {
        self.running.load(Ordering::Acquire) == current_task()
    }

    /// Disarms the timer and waits until its callback is not running
    /// (`timer_delete_sync`); arming is refused meanwhile, so a callback
    /// that re-arms itself is stopped too. Returns whether it was armed.
    /// Process context, without locks the callback takes; from the
    /// timer's own callback it only disarms (`timer_delete`).
    pub fn cancel_sync(&self) -> bool {
        self.gate.lock().cancelling += 1;
        // SAFETY: The timer is initialised (type invariant). From its own
        // callback the non-waiting delete is used: waiting would be for
        // ourselves.
        let was_pending = unsafe {
            if self.in_own_callback() {
                bindings::timer_delete(self.raw())
            } else {
                bindings::timer_delete_sync(self.raw())
            }
        } != 0;
        let spare = was_pending.then(|| self.take_ref());
        self.gate.lock().cancelling -= 1;
        // Last: if it were the last reference, `self` would go with it.
        drop(spare);
        was_pending
    }

    /// [`Timer::cancel_sync`], and refuse arming from now on, until
    /// [`Timer::enable`]: after this returns the callback is not running
    /// and will not run.
    pub fn disable_sync(&self) -> bool {
        self.gate.lock().disabled = true;
        self.cancel_sync()
    }

    /// Allows arming again after [`Timer::disable_sync`].
    pub fn enable(&self) {
        self.gate.lock().disabled = false;
    }

    /// Whether the timer is armed (`timer_pending`; a hint, it may expire
    /// right after).
    pub fn is_pending(&self) -> bool {
        // SAFETY: The timer is initialised (type invariant); this is
        // `timer_pending`, a read of `entry.pprev`.
        unsafe { !ptr::read_volatile(ptr::addr_of!((*self.raw()).entry.pprev)).is_null() }
    }
}
