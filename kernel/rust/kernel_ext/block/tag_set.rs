// SPDX-License-Identifier: GPL-2.0

//! blk-mq tag sets and the driver trait their queues call.

use core::marker::PhantomData;
use core::ptr::{self, NonNull};

use crate::kernel_ext::bindings;
use kernel::error::{code::*, to_result, Error, Result};
use kernel::init::{pin_init_from_closure, PinInit};
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::types::Opaque;

use super::request::{self, Busy, HctxType, HwQueue, Pdu, Request};

/// A blk-mq driver: what its queues do with requests.
///
/// The type itself is never instantiated; it names the driver and its
/// three kinds of data.
pub trait Operations: Sized + 'static {
    /// Shared by every queue of a tag set (C's `set->driver_data`); what
    /// [`Operations::init_request_data`] builds request data from.
    type TagSetData: Send + Sync;

    /// One per disk (C's `queuedata`), seen by `queue_rq` and `complete`.
    type QueueData: Send + Sync;

    /// One per request slot (C's pdu, `blk_mq_rq_to_pdu`), created once
    /// when blk-mq allocates the slot and reused by every request that
    /// occupies it. Reached through [`Request::data`].
    type RequestData: Send;

    /// Creates the data of one request slot. Called in process context
    /// when the tag set, a queue's flush request or scheduler tags are
    /// allocated; a failure fails that allocation.
    fn init_request_data(tag_set: &Self::TagSetData) -> impl PinInit<Self::RequestData, Error>;

    /// A new request. The handle owns the request: end or complete it now
    /// or later from any context, or hand it back with
    /// [`Request::busy`] to have blk-mq dispatch it again later. `last`
    /// is false when more requests follow right away.
    ///
    /// Runs in process context; it may sleep only if the tag set has
    /// [`TagSetFlags::BLOCKING`].
    fn queue_rq(
        queue: &Self::QueueData,
        hw_queue: &HwQueue,
        request: Request<Self>,
        last: bool,
    ) -> Result<(), Busy<Self>>;

    /// A request passed to [`Request::complete`], now on the CPU that
    /// submitted it (IPI or softirq context, or inside `complete` itself),
    /// with the status given there. The default ends it with that status.
    fn complete(queue: &Self::QueueData, request: Request<Self>, status: Result) {
        let _ = queue;
        request.end(status);
    }

    /// Maps CPUs to hardware queues for each map of the set
    /// (`blk_mq_ops.map_queues`): called when the set is allocated (and
    /// again if its hardware queue count changes), in process context.
    /// The default gives every map all hardware queues, which for one map
    /// is what blk-mq does without the callback.
    fn map_queues(tag_set: &Self::TagSetData, maps: &mut QueueMaps<'_>) {
        let _ = tag_set;
        let n = maps.nr_hw_queues();
        for kind in [HctxType::Default, HctxType::Read, HctxType::Poll] {
            if (kind as u32) < maps.nr_maps() {
                let _ = maps.map(kind, n, 0);
            }
        }
    }

    /// Polls for completions of a poll queue (`blk_mq_ops.poll`, only
    /// called for hardware queues of the [`HctxType::Poll`] map): the
    /// number of requests (or events) found, 0 for none yet (blk-mq
    /// polls again), or a negative value to stop polling for now.
    /// Process context; the completions it finds may complete requests
    /// of the queue inline ([`Request::complete`] of a polled request
    /// runs [`Operations::complete`] at once). The default finds nothing.
    fn poll(queue: &Self::QueueData, hw_queue: &HwQueue) -> i32 {
        let _ = (queue, hw_queue);
        0
    }
}

/// The CPU → hardware queue maps of a tag set, lent to
/// [`Operations::map_queues`].
pub struct QueueMaps<'a> {
    set: NonNull<bindings::blk_mq_tag_set>,
    _lifetime: PhantomData<&'a mut bindings::blk_mq_tag_set>,
}

impl QueueMaps<'_> {
    /// How many maps the set has ([`TagSetConfig::nr_maps`]).
    pub fn nr_maps(&self) -> u32 {
        // SAFETY: The set is live and ours for the borrow.
        unsafe { (*self.set.as_ptr()).nr_maps }
    }

    /// The set's hardware queue count.
    pub fn nr_hw_queues(&self) -> u32 {
        // SAFETY: As above.
        unsafe { (*self.set.as_ptr()).nr_hw_queues }
    }

    /// Gives map `kind` the `nr_queues` hardware queues starting at
    /// `queue_offset` and spreads the CPUs over them
    /// (`blk_mq_map_queues()`). EINVAL if the set has no such map, for no
    /// queue, or queues beyond the set's.
    pub fn map(&mut self, kind: HctxType, nr_queues: u32, queue_offset: u32) -> Result {
        let idx = kind as u32;
        if idx >= self.nr_maps()
            || nr_queues == 0
            || queue_offset
                .checked_add(nr_queues)
                .map_or(true, |end| end > self.nr_hw_queues())
        {
            return Err(EINVAL);
        }
        // SAFETY: `idx < nr_maps <= HCTX_MAX_TYPES`; blk-mq allocated the
        // map's `mq_map` (one entry per possible CPU) before calling
        // `map_queues`, and the borrow gives us the set exclusively (blk-mq
        // holds its update lock).
        unsafe {
            let map = ptr::addr_of_mut!((*self.set.as_ptr()).map[idx as usize]);
            (*map).nr_queues = nr_queues;
            (*map).queue_offset = queue_offset;
            bindings::blk_mq_map_queues(map);
        }
        Ok(())
    }

    /// The queues of map `kind`: `(nr_queues, queue_offset)`, or `None` if
    /// the set has no such map.
    pub fn get(&self, kind: HctxType) -> Option<(u32, u32)> {
        let idx = kind as u32;
        if idx >= self.nr_maps() {
            return None;
        }
        // SAFETY: In bounds (above); the set is live.
        let map = unsafe { &(*self.set.as_ptr()).map[idx as usize] };
        Some((map.nr_queues, map.queue_offset))
    }
}

/// `BLK_MQ_F_*` flags of a tag set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TagSetFlags(u32);

impl TagSetFlags {
    pub const NONE: Self = Self(0);
    /// blk-mq may merge adjacent bios into one request.
    pub const SHOULD_MERGE: Self = Self(bindings::BLK_MQ_F_SHOULD_MERGE as u32);
    /// `queue_rq` may sleep: blk-mq calls it from process context under
    /// SRCU instead of RCU.
    pub const BLOCKING: Self = Self(bindings::BLK_MQ_F_BLOCKING as u32);
    /// No IO scheduler for the queues of this set.
    pub const NO_SCHED: Self = Self(bindings::BLK_MQ_F_NO_SCHED as u32);
    /// One tag space for all hardware queues.
    pub const TAG_HCTX_SHARED: Self = Self(bindings::BLK_MQ_F_TAG_HCTX_SHARED as u32);
    /// The set serves several request queues (disks) from its tags: blk-mq
    /// tracks the active ones and shares the depth fairly among them
    /// (`BLK_MQ_F_TAG_QUEUE_SHARED`; blk-mq also sets it itself once a
    /// second queue joins).
    pub const TAG_QUEUE_SHARED: Self = Self(bindings::BLK_MQ_F_TAG_QUEUE_SHARED as u32);

    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets of flags (`|`, usable in constants).
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

impl core::ops::BitOr for TagSetFlags {
    type Output = Self;

    fn bitor(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// The shape of a tag set.
#[derive(Clone, Copy, Debug)]
pub struct TagSetConfig {
    /// Hardware queues (blk-mq caps it at the number of CPUs).
    pub nr_hw_queues: u32,
    /// Requests in flight per hardware queue, 1 to `BLK_MQ_MAX_DEPTH`.
    pub queue_depth: u32,
    pub flags: TagSetFlags,
    /// CPU → queue maps (`nr_maps`): 1 (default only), 2 (+ reads) or 3
    /// (+ polled IO, [`HctxType`]); the queues' disks support polling
    /// (`BLK_FEAT_POLL`, set by blk-mq) iff it is 3. With more than one,
    /// [`Operations::map_queues`] must give each map its queues.
    pub nr_maps: u32,
}

/// A blk-mq tag set: the request slots of one or more disks.
///
/// # Invariants
///
/// `raw` was set up by `blk_mq_alloc_tag_set` with `driver_data` pointing
/// at this value and the [`Operations`] table of `T`, and is freed only in
/// drop. Every disk on it holds an `Arc` of it, so none is left by then.
#[pin_data(PinnedDrop)]
pub struct TagSet<T: Operations> {
    /// Initialised before `raw`: allocating the set creates request data
    /// from it.
    #[pin]
    data: T::TagSetData,
    #[pin]
    raw: Opaque<bindings::blk_mq_tag_set>,
    _ops: PhantomData<T>,
}

// SAFETY: The C tag set is used through blk-mq, which serialises its own
// accesses; the data is `Send + Sync`.
unsafe impl<T: Operations> Send for TagSet<T> {}
// SAFETY: As above; `&TagSet` exposes only `&TagSetData`.
unsafe impl<T: Operations> Sync for TagSet<T> {}

impl<T: Operations> TagSet<T> {
    /// Allocates a tag set and the data of every request slot in it.
    /// Fails with EINVAL for zero queues, a depth outside
    /// 1..=`BLK_MQ_MAX_DEPTH` or a map count outside 1..=3.
    pub fn new(
        config: &TagSetConfig,
        data: impl PinInit<T::TagSetData, Error>,
    ) -> Result<Arc<Self>> {
        if config.nr_hw_queues == 0
            || config.queue_depth == 0
            || config.queue_depth > bindings::BLK_MQ_MAX_DEPTH
            || config.nr_maps == 0
            || config.nr_maps > bindings::hctx_type_HCTX_MAX_TYPES
        {
            return Err(EINVAL);
        }
        let config = *config;
        Arc::pin_init(
            try_pin_init!(&this in Self {
                data <- data,
                raw <- Self::alloc_raw(this, config),
                _ops: PhantomData,
            }),
            GFP_KERNEL,
        )
    }

    /// The data given to [`TagSet::new`].
    pub fn data(&self) -> &T::TagSetData {
        &self.data
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::blk_mq_tag_set {
        self.raw.get()
    }

    /// Fills in and allocates the C tag set inside the value at `this`.
    fn alloc_raw(
        this: NonNull<Self>,
        config: TagSetConfig,
    ) -> impl PinInit<Opaque<bindings::blk_mq_tag_set>, Error> {
        let init = move |slot: *mut Opaque<bindings::blk_mq_tag_set>| {
            let set = Opaque::raw_get(slot);
            // SAFETY: `slot` is valid for writes; an all-zero tag set is an
            // empty one, and the fields set below are the ones the driver
            // owns. `driver_data` points at the enclosing `TagSet`, whose
            // `data` is initialised before this field and which stays
            // pinned until drop frees the set.
            unsafe {
                ptr::write_bytes(set, 0, 1);
                (*set).ops = OpsTable::<T>::build();
                (*set).nr_hw_queues = config.nr_hw_queues;
                (*set).queue_depth = config.queue_depth;
                (*set).cmd_size = core::mem::size_of::<Pdu<T::RequestData>>() as u32;
                (*set).numa_node = bindings::NUMA_NO_NODE;
                (*set).flags = config.flags.0;
                (*set).nr_maps = config.nr_maps;
                (*set).driver_data = this.as_ptr().cast();
                to_result(bindings::blk_mq_alloc_tag_set(set))
            }
        };
        // SAFETY: On success the closure has initialised the slot; on
        // failure `blk_mq_alloc_tag_set` has released what it allocated and
        // nothing needs dropping.
        unsafe { pin_init_from_closure(init) }
    }
}

#[pinned_drop]
impl<T: Operations> PinnedDrop for TagSet<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: Allocated per the type invariant; no queue uses it any
        // more (each disk holds an Arc of this set and `del_gendisk` has
        // detached its queue). `data` is dropped after this.
        unsafe { bindings::blk_mq_free_tag_set(self.raw.get()) };
    }
}

/// The `blk_mq_ops` of driver `T`.
struct OpsTable<T: Operations>(PhantomData<T>);

impl<T: Operations> OpsTable<T> {
    const OPS: bindings::blk_mq_ops = bindings::blk_mq_ops {
        queue_rq: Some(queue_rq_callback::<T>),
        complete: Some(complete_callback::<T>),
        init_request: Some(init_request_callback::<T>),
        exit_request: Some(exit_request_callback::<T>),
        map_queues: Some(map_queues_callback::<T>),
        poll: Some(poll_callback::<T>),
        // SAFETY: All-zero is `None` for every other callback.
        ..unsafe { core::mem::zeroed() }
    };

    const fn build() -> &'static bindings::blk_mq_ops {
        &Self::OPS
    }
}

/// # Safety
///
/// Called by blk-mq with a hardware context of a queue of a `TagSet<T>`
/// and a request it dispatches to the driver.
unsafe extern "C" fn queue_rq_callback<T: Operations>(
    hctx: *mut bindings::blk_mq_hw_ctx,
    bd: *const bindings::blk_mq_queue_data,
) -> bindings::blk_status_t {
    // SAFETY: `bd` is valid for the call.
    let (rq, last) = unsafe { ((*bd).rq, (*bd).last) };
    // SAFETY: The request was just dispatched to the driver: this handle
    // is its only owner until it is ended, completed or handed back.
    let request = unsafe { Request::<T>::from_raw(rq, false) };
    // SAFETY: The queue belongs to a `Disk<T>`, whose queue data outlives
    // every request (its drop waits for them in `del_gendisk`).
    let queue = unsafe { request::queue_data::<T>(rq) };
    // SAFETY: `hctx` is valid for the call.
    let hw_queue = unsafe { HwQueue::from_raw(hctx) };
    match T::queue_rq(queue, hw_queue, request, last) {
        Ok(()) => bindings::BLK_STS_OK as bindings::blk_status_t,
        Err(busy) => busy.into_status(),
    }
}

/// # Safety
///
/// Called by blk-mq for a request of a `TagSet<T>` queue that was passed to
/// `blk_mq_complete_request` by [`Request::complete`].
unsafe extern "C" fn complete_callback<T: Operations>(rq: *mut bindings::request) {
    // SAFETY: `Request::complete` gave up its handle; this is the only one.
    let request = unsafe { Request::<T>::from_raw(rq, true) };
    let status = request.take_completion_status();
    // SAFETY: As in `queue_rq_callback`.
    let queue = unsafe { request::queue_data::<T>(rq) };
    T::complete(queue, request, status);
}

/// # Safety
///
/// Called by blk-mq for a request slot of the tag set `set`, a `TagSet<T>`,
/// before the slot is used.
unsafe extern "C" fn init_request_callback<T: Operations>(
    set: *mut bindings::blk_mq_tag_set,
    rq: *mut bindings::request,
    _hctx_idx: u32,
    _numa_node: u32,
) -> i32 {
    // SAFETY: `driver_data` points at the `TagSet<T>`, whose `data` is
    // initialised (it is initialised before the C set is allocated).
    let tag_set_data = unsafe { &(*(*set).driver_data.cast::<TagSet<T>>()).data };
    // SAFETY: The pdu of a slot of this set is `cmd_size` bytes, room for
    // a `Pdu<T::RequestData>`, and not in use yet.
    let result = unsafe { request::init_pdu::<T>(rq, T::init_request_data(tag_set_data)) };
    match result {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by blk-mq for a slot of a `TagSet<T>` whose `init_request`
/// succeeded, when the slot is freed.
unsafe extern "C" fn exit_request_callback<T: Operations>(
    _set: *mut bindings::blk_mq_tag_set,
    rq: *mut bindings::request,
    _hctx_idx: u32,
) {
    // SAFETY: Per the contract, the pdu holds initialised data that no
    // request uses any more.
    unsafe { request::drop_pdu::<T>(rq) };
}

/// # Safety
///
/// Called by blk-mq for the tag set `set`, a `TagSet<T>`, with its maps
/// allocated, under its update lock.
unsafe extern "C" fn map_queues_callback<T: Operations>(set: *mut bindings::blk_mq_tag_set) {
    // SAFETY: `driver_data` points at the `TagSet<T>`, whose `data` is
    // initialised before the C set is allocated.
    let tag_set_data = unsafe { &(*(*set).driver_data.cast::<TagSet<T>>()).data };
    let mut maps = QueueMaps {
        // SAFETY: blk-mq passes a valid set.
        set: unsafe { NonNull::new_unchecked(set) },
        _lifetime: PhantomData,
    };
    T::map_queues(tag_set_data, &mut maps);
}

/// # Safety
///
/// Called by blk-mq (`blk_hctx_poll()`) with a poll hardware context of a
/// queue of a `TagSet<T>`, holding a reference on the queue's usage
/// counter (so the disk, and its queue data, are not gone).
unsafe extern "C" fn poll_callback<T: Operations>(
    hctx: *mut bindings::blk_mq_hw_ctx,
    _iob: *mut bindings::io_comp_batch,
) -> i32 {
    // SAFETY: The queue belongs to a `Disk<T>`, whose queue data is
    // dropped only after `del_gendisk`, which waits for the usage counter
    // the poller holds.
    let queue = unsafe { &*(*(*hctx).queue).queuedata.cast::<T::QueueData>() };
    // SAFETY: `hctx` is valid for the call.
    let hw_queue = unsafe { HwQueue::from_raw(hctx) };
    T::poll(queue, hw_queue)
}
