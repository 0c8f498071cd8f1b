// SPDX-License-Identifier: GPL-2.0

//! Workqueues: a module's own queue ([`Workqueue`], `alloc_workqueue`) and
//! delayed work ([`DelayedWork`], `struct delayed_work`) that belongs to a
//! driver object shared through an [`Arc`].
//!
//! # Ownership
//!
//! A [`DelayedWork<T, ID>`] is a field of its owner `T` (checked: anything
//! else is refused with `EINVAL`), and every time it is queued the queue
//! takes one `Arc<T>` reference, handed to [`DelayedWorkItem::run`] when
//! the work runs, or dropped when a cancel takes the work off the queue.
//! So the owner, and the `work_struct` inside it, live while the work is
//! queued or running, whatever the driver drops meanwhile, and dropping
//! needs no cancel: when the owner goes, its work is not queued (and a
//! work may free its own `work_struct` while it runs, which the
//! workqueue core allows).
//!
//! The queue a work runs on is chosen when the work is initialised and
//! held by it: a system queue, or an `Arc` of a [`Workqueue`], so that a
//! queue is destroyed only after every work that can be queued on it.
//!
//! # Stopping
//!
//! [`DelayedWork::cancel_sync`] returns once the work is neither queued
//! nor running, and refuses to queue it again while it waits, so a work
//! that re-arms itself from its own callback is stopped too.
//! [`DelayedWork::disable_sync`] does the same and keeps refusing until
//! [`DelayedWork::enable`]: the teardown form. Called from the work's own
//! callback, both take it off the queue without waiting for the callback
//! that called them (which would deadlock).
//!
//! A work that keeps re-arming itself keeps its owner alive: a module
//! must disable (or cancel) every such work before its exit returns, as
//! C modules do; [`crate::kernel_ext::sync::armed_callbacks`] counts the
//! references still held by queued works and armed timers.

use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, Ordering};

use crate::kernel_ext::bindings;
use kernel::error::{code::*, Result};
use kernel::init::PinInit;
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::sync::{Arc, LockClassKey};
use kernel::time::msecs_to_jiffies;
use kernel::types::Opaque;
use kernel::workqueue::Queue;

use super::sync::{class_key_ptr, Gate, SpinLockIrq, ARMED};

/// `alloc_workqueue` flags (`WQ_*`).
pub mod flags {
    use crate::kernel_ext::bindings;

    /// Not bound to a CPU; concurrency managed by max_active only.
    pub const UNBOUND: u32 = bindings::wq_flags_WQ_UNBOUND;
    /// Frozen during suspend.
    pub const FREEZABLE: u32 = bindings::wq_flags_WQ_FREEZABLE;
    /// May be used in memory reclaim: has a rescuer thread.
    pub const MEM_RECLAIM: u32 = bindings::wq_flags_WQ_MEM_RECLAIM;
    /// High priority workers.
    pub const HIGHPRI: u32 = bindings::wq_flags_WQ_HIGHPRI;
    /// Works that burn CPU, not counted for concurrency.
    pub const CPU_INTENSIVE: u32 = bindings::wq_flags_WQ_CPU_INTENSIVE;

    /// What [`super::Workqueue::new`] accepts. Not `WQ_BH`: works on a
    /// [`super::Workqueue`] run in process context.
    pub const ALLOWED: u32 = UNBOUND | FREEZABLE | MEM_RECLAIM | HIGHPRI | CPU_INTENSIVE;
}

/// A workqueue of our own (`alloc_workqueue`), destroyed
/// (`destroy_workqueue`, which first runs what is queued) when the last
/// `Arc` goes.
///
/// Works run on it in process context. The last reference must not be
/// dropped by a work running on this queue: `destroy_workqueue` would
/// wait for that work, i.e. for itself. Keep one in the module's state
/// and drop it in module exit.
///
/// # Invariants
///
/// `raw` was returned by `alloc_workqueue` and is destroyed only by drop.
pub struct Workqueue {
    raw: NonNull<bindings::workqueue_struct>,
}

// SAFETY: Workqueues are made to be used from any thread.
unsafe impl Send for Workqueue {}
// SAFETY: As above; every operation synchronises internally.
unsafe impl Sync for Workqueue {}

impl Workqueue {
    /// Allocates queue `name` (as `ps` and `/sys/bus/workqueue` show it)
    /// with [`flags`] and `max_active` (0 for the default, at most 512).
    /// EINVAL for other flags or a `max_active` out of range.
    pub fn new(name: &CStr, flags: u32, max_active: i32) -> Result<Arc<Self>> {
        let max = bindings::wq_consts_WQ_MAX_ACTIVE as i32;
        if flags & !flags::ALLOWED != 0 || !(0..=max).contains(&max_active) {
            return Err(EINVAL);
        }
        // SAFETY: The format consumes one NUL-terminated string, which
        // `alloc_workqueue` copies into the queue.
        let raw = unsafe {
            bindings::alloc_workqueue(
                kernel::c_str!("%s").as_char_ptr(),
                flags,
                max_active,
                name.as_char_ptr(),
            )
        };
        let raw = NonNull::new(raw).ok_or(ENOMEM)?;
        // On failure the Arc drops the new queue, which destroys it.
        Ok(Arc::new(Workqueue { raw }, GFP_KERNEL)?)
    }

    /// The queue as 6.12's [`Queue`], to enqueue `kernel::workqueue`
    /// work items on it.
    pub fn queue(&self) -> &Queue {
        // SAFETY: `raw` is a live workqueue until `self` is dropped
        // (type invariant), which the returned borrow cannot outlive.
        unsafe { Queue::from_raw(self.raw.as_ptr()) }
    }

    /// Waits for every work queued so far to finish (`flush_workqueue`).
    /// Process context; not from a work running on this queue.
    pub fn flush(&self) {
        // SAFETY: `raw` is live (type invariant).
        unsafe { bindings::__flush_workqueue(self.raw.as_ptr()) }
    }
}

impl core::ops::Deref for Workqueue {
    type Target = Queue;

    fn deref(&self) -> &Queue {
        self.queue()
    }
}

impl Drop for Workqueue {
    fn drop(&mut self) {
        // SAFETY: `raw` is live (type invariant) and no longer used: every
        // DelayedWork queued on it holds an Arc of it.
        unsafe { bindings::destroy_workqueue(self.raw.as_ptr()) }
    }
}

/// The queue a [`DelayedWork`] runs on.
pub enum QueueRef {
    /// A system queue (`kernel::workqueue::system()` and friends).
    System(&'static Queue),
    /// One of our own, kept alive by the work.
    Owned(Arc<Workqueue>),
}

impl QueueRef {
    fn raw(&self) -> *mut bindings::workqueue_struct {
        let queue: &Queue = match self {
            QueueRef::System(queue) => queue,
            QueueRef::Owned(wq) => wq.queue(),
        };
        // `Queue` is `#[repr(transparent)]` over `Opaque<workqueue_struct>`.
        ptr::from_ref(queue).cast_mut().cast()
    }
}

impl From<&'static Queue> for QueueRef {
    fn from(queue: &'static Queue) -> Self {
        QueueRef::System(queue)
    }
}

impl From<Arc<Workqueue>> for QueueRef {
    fn from(wq: Arc<Workqueue>) -> Self {
        QueueRef::Owned(wq)
    }
}

impl From<&Arc<Workqueue>> for QueueRef {
    fn from(wq: &Arc<Workqueue>) -> Self {
        QueueRef::Owned(wq.clone())
    }
}

/// What runs when a [`DelayedWork<Self, ID>`] field of `Self` fires.
/// `ID` tells apart several delayed works of one type.
pub trait DelayedWorkItem<const ID: u64 = 0>: Send + Sync + Sized + 'static {
    /// Runs in process context (a worker of the work's queue), with the
    /// reference the queue held.
    fn run(this: Arc<Self>);
}

/// Creates a [`DelayedWork`] initialiser on `queue` (anything
/// `Into<QueueRef>`: `kernel::workqueue::system()`, an
/// `Arc<Workqueue>`), with the given name (or file and line) and lock
/// classes of its own, as C's `INIT_DELAYED_WORK` does per call site.
#[allow(unused_macros)] // Not every module uses every macro.
macro_rules! new_delayed_work {
    ($queue:expr $(, $name:literal)? $(,)?) => {
        $crate::kernel_ext::workqueue::DelayedWork::new(
            $queue,
            ::kernel::optional_name!($($name)?),
            [
                ::kernel::static_lock_class!(),
                ::kernel::static_lock_class!(),
                ::kernel::static_lock_class!(),
            ],
        )
    };
}
#[allow(unused_imports)]
pub(crate) use new_delayed_work;

/// A `struct delayed_work` in a `T` that implements
/// [`DelayedWorkItem<ID>`]; see the module documentation for who owns
/// what.
///
/// # Invariants
///
/// - `raw` was initialised by `INIT_DELAYED_WORK` with
///   [`run_trampoline::<T, ID>`] as its function, is pinned and, as
///   [`DelayedWork::check_owner`] enforces before any queueing, lies
///   inside the `T` that `owner` points at once it has been queued;
/// - the work is queued (timer pending or on the queue) only while the
///   queue holds one `Arc<T>` reference, taken with `Arc::into_raw` of a
///   clone of the owner and counted in [`ARMED`];
/// - queueing happens only under `gate`, never while it is blocked, so a
///   queue call never meets a work the kernel has disabled (during
///   `cancel_delayed_work_sync`); the kernel's return values are then
///   exact and the reference count follows them.
#[pin_data]
#[repr(C)]
pub struct DelayedWork<T: DelayedWorkItem<ID>, const ID: u64 = 0> {
    /// First, so that the `work_struct` the trampoline gets is the start
    /// of this struct.
    #[pin]
    raw: Opaque<bindings::delayed_work>,
    owner: AtomicPtr<T>,
    queue: QueueRef,
    #[pin]
    gate: SpinLockIrq<Gate>,
}

// SAFETY: The C work is made to be queued and cancelled from any thread;
// `T` is Send + Sync and only reached through `Arc<T>`.
unsafe impl<T: DelayedWorkItem<ID>, const ID: u64> Send for DelayedWork<T, ID> {}
// SAFETY: As above; all the state is atomic or under `gate`.
unsafe impl<T: DelayedWorkItem<ID>, const ID: u64> Sync for DelayedWork<T, ID> {}

/// The work function of every `DelayedWork<T, ID>`.
///
/// # Safety
///
/// Called by the workqueue core for a `work_struct` initialised by
/// [`DelayedWork::new`] and queued by one of its methods.
unsafe extern "C" fn run_trampoline<T: DelayedWorkItem<ID>, const ID: u64>(
    work: *mut bindings::work_struct,
) {
    // The `work_struct` is the first member of `delayed_work`, which is
    // the first member of `DelayedWork` (repr(C)).
    let dwork = work.cast::<DelayedWork<T, ID>>();
    // SAFETY: The work was queued, so (type invariant) the queue holds a
    // reference to the owner, which contains the DelayedWork; `owner` was
    // stored before queueing, which the workqueue orders before this run.
    let owner = unsafe { (*dwork).owner.load(Ordering::Acquire) };
    // SAFETY: That reference came from `Arc::into_raw` and is ours now:
    // the work is no longer pending, and the next queueing takes a new
    // one.
    let this = unsafe { Arc::from_raw(owner) };
    ARMED.fetch_sub(1, Ordering::Relaxed);
    T::run(this);
}

impl<T: DelayedWorkItem<ID>, const ID: u64> DelayedWork<T, ID> {
    /// An initialiser of a delayed work on `queue`; use
    /// [`new_delayed_work!`], which supplies the name and lock classes
    /// (work, timer, gate).
    pub fn new(
        queue: impl Into<QueueRef>,
        name: &'static CStr,
        keys: [&'static LockClassKey; 3],
    ) -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `slot` is valid for writes. This is
            // `INIT_DELAYED_WORK`: the work with our function and
            // lockdep class, and its timer firing `delayed_work_timer_fn`
            // in IRQ-safe mode; `name` and the keys are 'static as
            // lockdep requires.
            raw <- Opaque::ffi_init(|slot: *mut bindings::delayed_work| unsafe {
                ptr::write_bytes(slot, 0, 1);
                bindings::init_work_with_key(
                    ptr::addr_of_mut!((*slot).work),
                    Some(run_trampoline::<T, ID>),
                    false,
                    name.as_char_ptr(),
                    class_key_ptr(keys[0]),
                );
                bindings::init_timer_key(
                    ptr::addr_of_mut!((*slot).timer),
                    Some(bindings::delayed_work_timer_fn),
                    bindings::TIMER_IRQSAFE,
                    name.as_char_ptr(),
                    class_key_ptr(keys[1]),
                );
            }),
            owner: AtomicPtr::new(ptr::null_mut()),
            queue: queue.into(),
            gate <- SpinLockIrq::new(
                Gate::default(),
                kernel::c_str!("DelayedWork::gate"),
                keys[2],
            ),
        })
    }

    fn raw(&self) -> *mut bindings::delayed_work {
        self.raw.get()
    }

    fn work(&self) -> *mut bindings::work_struct {
        // SAFETY: `raw` is valid (we borrow self); only the address is
        // computed.
        unsafe { ptr::addr_of_mut!((*self.raw()).work) }
    }

    /// Checks that this work lies inside `owner`, so that the reference
    /// the queue takes keeps the work alive; EINVAL otherwise.
    fn check_owner(&self, owner: &Arc<T>) -> Result<*mut T> {
        let start = ptr::from_ref::<T>(owner) as usize;
        let end = start + core::mem::size_of::<T>();
        let me = ptr::from_ref(self) as usize;
        if me < start || me + core::mem::size_of::<Self>() > end {
            pr_err!("DelayedWork queued with an owner that does not contain it\n");
            return Err(EINVAL);
        }
        Ok(ptr::from_ref::<T>(owner).cast_mut())
    }

    /// Hands one reference of `owner` to the queue, counting it.
    fn give_ref(&self, owner: &Arc<T>, ptr: *mut T) {
        self.owner.store(ptr, Ordering::Release);
        ARMED.fetch_add(1, Ordering::Relaxed);
        let _ = Arc::into_raw(owner.clone());
    }

    /// Takes back one reference the queue held, for the caller to drop
    /// once it no longer uses `self`.
    fn take_ref(&self) -> Arc<T> {
        ARMED.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: The caller learnt from the kernel that a queueing
        // ended without running the work (or never happened), so the
        // reference that queueing took (type invariant) is ours.
        unsafe { Arc::from_raw(self.owner.load(Ordering::Acquire)) }
    }

    /// Queues the work to run in `delay_ms` milliseconds (0: now), as
    /// `queue_delayed_work`. `Ok(false)` if it was already queued (its
    /// delay is unchanged) or queueing is refused (disabled, being
    /// cancelled). Any context.
    pub fn enqueue(&self, owner: &Arc<T>, delay_ms: u32) -> Result<bool> {
        let ptr = self.check_owner(owner)?;
        let gate = self.gate.lock();
        if gate.blocked() {
            return Ok(false);
        }
        self.give_ref(owner, ptr);
        // SAFETY: The work is initialised (type invariant) and the queue
        // is live (held by `self.queue`); the gate is open, so the kernel
        // has not disabled the work and `false` means "already pending".
        let queued = unsafe {
            bindings::queue_delayed_work_on(
                bindings::wq_misc_consts_WORK_CPU_UNBOUND as i32,
                self.queue.raw(),
                self.raw(),
                msecs_to_jiffies(delay_ms),
            )
        };
        let spare = (!queued).then(|| self.take_ref());
        drop(gate);
        drop(spare);
        Ok(queued)
    }

    /// Queues the work to run in `delay_ms` milliseconds whether or not
    /// it was queued already, replacing the old delay (`mod_delayed_work`).
    /// `Ok(false)` if queueing is refused (disabled, being cancelled).
    /// Any context.
    pub fn modify(&self, owner: &Arc<T>, delay_ms: u32) -> Result<bool> {
        let ptr = self.check_owner(owner)?;
        let gate = self.gate.lock();
        if gate.blocked() {
            return Ok(false);
        }
        self.give_ref(owner, ptr);
        // SAFETY: As in `enqueue`. With the gate open the work ends up
        // queued; `true` means it already was, with a reference of its
        // own, so ours is spare.
        let was_pending = unsafe {
            bindings::mod_delayed_work_on(
                bindings::wq_misc_consts_WORK_CPU_UNBOUND as i32,
                self.queue.raw(),
                self.raw(),
                msecs_to_jiffies(delay_ms),
            )
        };
        let spare = was_pending.then(|| self.take_ref());
        drop(gate);
        drop(spare);
        Ok(true)
    }

    /// Whether this is the work's own callback (`current_work`).
    fn in_own_callback(&self) -> bool {
        // SAFETY: `current_work` only reads the current worker.
        unsafe { bindings::current_work() == self.work() }
    }

    /// Takes the work off the queue and waits until its callback is not
    /// running (`cancel_delayed_work_sync`); queueing is refused
    /// meanwhile, so a callback that re-arms itself is stopped too.
    /// Returns whether it was queued. Process context (it sleeps); from
    /// the work's own callback it only takes it off the queue.
    pub fn cancel_sync(&self) -> bool {
        self.gate.lock().cancelling += 1;
        let own = self.in_own_callback();
        // SAFETY: The work is initialised (type invariant). From its own
        // callback the non-waiting cancel is used: waiting would be for
        // ourselves.
        let was_pending = unsafe {
            if own {
                bindings::cancel_delayed_work(self.raw())
            } else {
                bindings::cancel_delayed_work_sync(self.raw())
            }
        };
        let spare = was_pending.then(|| self.take_ref());
        self.gate.lock().cancelling -= 1;
        // Last: if it were the last reference, `self` would go with it.
        drop(spare);
        was_pending
    }

    /// [`DelayedWork::cancel_sync`], and refuse queueing from now on,
    /// until [`DelayedWork::enable`]: after this returns the callback is
    /// not running and will not run. The way to stop a work for good.
    pub fn disable_sync(&self) -> bool {
        self.gate.lock().disabled = true;
        self.cancel_sync()
    }

    /// Allows queueing again after [`DelayedWork::disable_sync`].
    pub fn enable(&self) {
        self.gate.lock().disabled = false;
    }

    /// If the work is waiting for its delay, runs it now; then waits for
    /// it to finish (`flush_delayed_work`). Returns whether it waited.
    /// Process context; from the work's own callback returns `false`
    /// without waiting.
    pub fn flush(&self) -> bool {
        if self.in_own_callback() {
            return false;
        }
        // SAFETY: The work is initialised (type invariant); flushing
        // does not change whether a queueing holds a reference: a pending
        // work stays pending until it runs.
        unsafe { bindings::flush_delayed_work(self.raw()) }
    }

    /// Whether the work is queued (or its timer pending).
    pub fn is_pending(&self) -> bool {
        // SAFETY: The work is initialised (type invariant).
        let busy = unsafe { bindings::work_busy(self.work()) };
        busy & bindings::wq_misc_consts_WORK_BUSY_PENDING != 0
    }

    /// Whether the callback is running (a hint: it may start or stop
    /// right after).
    pub fn is_running(&self) -> bool {
        // SAFETY: The work is initialised (type invariant).
        let busy = unsafe { bindings::work_busy(self.work()) };
        busy & bindings::wq_misc_consts_WORK_BUSY_RUNNING != 0
    }
}

/// Waits until every work item queued on the system workqueue before this
/// call has finished, including one running now (`__flush_workqueue` of
/// `system_wq`).
///
/// For a module's exit, as its last step: a work item of the module that
/// drops the module's last reference (a [`ModuleRef`] held by an object
/// the work item frees) lets `rmmod` go ahead while the item still runs
/// module code (its return, the rest of its drop glue). Flushing here
/// keeps the module's text until such an item is done.
///
/// [`ModuleRef`]: crate::kernel_ext::module_ref::ModuleRef
pub fn flush_system() {
    // SAFETY: `system_wq` is created at boot and never destroyed; flushing
    // it sleeps, which a module's exit may.
    unsafe { bindings::__flush_workqueue(bindings::system_wq) }
}
