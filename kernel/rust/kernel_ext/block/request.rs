// SPDX-License-Identifier: GPL-2.0

//! Requests of a blk-mq queue, owned by the driver from `queue_rq` until
//! they end.
//!
//! # Ownership
//!
//! blk-mq hands a request to the driver once (`queue_rq`) and takes it back
//! once (`blk_mq_end_request`, or a requeue). [`Request`] is that
//! ownership as a value: it is neither `Clone` nor `Copy`, and every way
//! of giving the request back ([`Request::end`], [`Request::complete`],
//! [`Request::requeue`], [`Request::busy`]) consumes it. So safe code can
//! neither end a request twice nor touch it after it ended. A handle that
//! is dropped instead ends its request with an I/O error, so a request is
//! never lost (a lost request would hang `del_gendisk` forever).
//!
//! The handle is `Send`: a driver moves it into whatever completes the IO
//! (an RDMA completion, a bio's end-io) and ends it there; ending and
//! completing work in any context, hard and soft interrupts included.

use core::marker::PhantomData;
use core::ops::Deref;
use core::pin::Pin;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicI32, Ordering};

use crate::kernel_ext::bindings;
use kernel::error::{code::*, Error, Result};
use kernel::init::PinInit;
use kernel::types::Opaque;

use super::super::scatterlist::SgTable;
use super::tag_set::Operations;
use super::{to_blk_status, IoFlags, Op};

// `blk_status_t` values (include/linux/blk_types.h) that bindgen cannot
// evaluate (they are casts).
/// `BLK_STS_RESOURCE`: out of a resource; blk-mq dispatches again shortly.
const BLK_STS_RESOURCE: bindings::blk_status_t = 9;
/// `BLK_STS_IOERR`.
const BLK_STS_IOERR: bindings::blk_status_t = 10;
/// `BLK_STS_DEV_RESOURCE`: a device resource is busy; the driver reruns
/// the queue when it frees up.
const BLK_STS_DEV_RESOURCE: bindings::blk_status_t = 13;

/// What this layer keeps in each request's pdu: the status
/// [`Request::complete`] hands to [`Operations::complete`], then the
/// driver's data.
#[repr(C)]
pub(crate) struct Pdu<D> {
    /// 0 or a negative errno; written before `blk_mq_complete_request`
    /// and read in the completion, which may run on another CPU.
    completion_status: AtomicI32,
    data: D,
}

/// The pdu of `rq`: the memory right after `struct request`
/// (`blk_mq_rq_to_pdu`).
fn pdu_ptr<T: Operations>(rq: *mut bindings::request) -> *mut Pdu<T::RequestData> {
    const {
        assert!(
            core::mem::align_of::<Pdu<T::RequestData>>()
                <= core::mem::align_of::<bindings::request>(),
            "request data needs more alignment than blk-mq gives the pdu"
        )
    };
    rq.wrapping_add(1).cast()
}

/// Initialises the pdu of `rq`.
///
/// # Safety
///
/// `rq` is a request slot of a `TagSet<T>` (its pdu has room for a
/// `Pdu<T::RequestData>`) whose pdu is not initialised.
pub(crate) unsafe fn init_pdu<T: Operations>(
    rq: *mut bindings::request,
    init: impl PinInit<T::RequestData, Error>,
) -> Result {
    let pdu = pdu_ptr::<T>(rq);
    // SAFETY: Per the contract the pdu is ours to initialise; it never
    // moves (it lives as long as the slot).
    unsafe {
        ptr::addr_of_mut!((*pdu).completion_status).write(AtomicI32::new(0));
        init.__pinned_init(ptr::addr_of_mut!((*pdu).data))
    }
}

/// Drops the data in the pdu of `rq`.
///
/// # Safety
///
/// The pdu was initialised by [`init_pdu`] and is not used any more.
pub(crate) unsafe fn drop_pdu<T: Operations>(rq: *mut bindings::request) {
    // SAFETY: Per the contract.
    unsafe { ptr::drop_in_place(ptr::addr_of_mut!((*pdu_ptr::<T>(rq)).data)) };
}

/// The queue data of the disk `rq` belongs to.
///
/// # Safety
///
/// `rq` is in flight on the queue of a `Disk<T>`; the result is used only
/// while it is.
pub(crate) unsafe fn queue_data<'a, T: Operations>(rq: *mut bindings::request) -> &'a T::QueueData {
    // SAFETY: A `Disk<T>` sets `queuedata` to its queue data, which it
    // drops only after `del_gendisk` has waited for every request.
    unsafe { &*(*(*rq).q).queuedata.cast::<T::QueueData>() }
}

/// What a request asks for, and its data pages: the part of a
/// [`Request`] that does not depend on the driver.
///
/// # Invariants
///
/// Only ever a shared borrow of a [`Request`] (through `Deref`), so the
/// request is in flight while it is used. Never lent as `&mut` (that would
/// let safe code swap two C requests): writing into the pages goes through
/// [`RequestMut`].
#[repr(transparent)]
pub struct RequestRef(Opaque<bindings::request>);

impl RequestRef {
    fn as_raw(&self) -> *mut bindings::request {
        self.0.get()
    }

    /// The first sector.
    pub fn sector(&self) -> u64 {
        // SAFETY: A request in flight (type invariant of `Request`).
        unsafe { bindings::blk_rq_pos(self.as_raw()) }
    }

    /// Bytes to transfer (for a discard or write-zeroes: bytes to act on).
    pub fn bytes(&self) -> u32 {
        // SAFETY: As above.
        unsafe { bindings::blk_rq_bytes(self.as_raw()) }
    }

    pub fn op(&self) -> Op {
        // SAFETY: As above.
        Op::from_raw(unsafe { bindings::req_op(self.as_raw()) })
    }

    /// FUA, PREFLUSH, SYNC and NOUNMAP as set on the request.
    pub fn flags(&self) -> IoFlags {
        // SAFETY: As above; `cmd_flags` is fixed while in flight.
        IoFlags::from_opf(unsafe { (*self.as_raw()).cmd_flags })
    }

    /// The IO priority (`req_get_ioprio`), which RNBD sends with each IO.
    pub fn ioprio(&self) -> u16 {
        // SAFETY: As above; a request's bios live while it is in flight.
        unsafe {
            let bio = (*self.as_raw()).bio;
            if bio.is_null() {
                0
            } else {
                (*bio).bi_ioprio
            }
        }
    }

    /// Physical segments of the data (what `map_sg` needs room for).
    pub fn nr_phys_segments(&self) -> u16 {
        // SAFETY: As above.
        unsafe { bindings::blk_rq_nr_phys_segments(self.as_raw()) }
    }

    /// The request's tag, unique among the requests in flight on its
    /// hardware queue.
    pub fn tag(&self) -> i32 {
        // SAFETY: As above.
        unsafe { (*self.as_raw()).tag }
    }

    /// Maps the data pages into `sg` (`blk_rq_map_sg`) and returns the
    /// number of entries. Requests without data pages (flush, discard,
    /// write-zeroes, secure erase) map to none. Fails with ENOSPC if `sg`
    /// has fewer entries than [`RequestRef::nr_phys_segments`].
    ///
    /// The entries describe the request's pages, which stay valid until
    /// the request ends.
    pub fn map_sg(&self, sg: &mut SgTable) -> Result<usize> {
        sg.clear();
        if !self.op().has_data() {
            return Ok(0);
        }
        if usize::from(self.nr_phys_segments()) > sg.capacity() {
            return Err(ENOSPC);
        }
        let rq = self.as_raw();
        // SAFETY: `sg` was just initialised and has room for every
        // segment of this data request; `rq->q` is its queue.
        let mapped = unsafe { bindings::blk_rq_map_sg((*rq).q, rq, sg.as_raw()) };
        let mapped = usize::try_from(mapped).map_err(|_| EIO)?;
        // SAFETY: `blk_rq_map_sg` set `mapped` entries and marked the end.
        unsafe { sg.set_len(mapped) };
        Ok(mapped)
    }

    /// Checks that `len` bytes at `offset` lie within the request's data.
    fn check_range(&self, offset: usize, len: usize) -> Result {
        if !self.op().has_data() {
            return Err(EINVAL);
        }
        match offset.checked_add(len) {
            Some(end) if end <= self.bytes() as usize => Ok(()),
            _ => Err(EINVAL),
        }
    }

    /// Copies the request's data from `offset` on into `buf` (the payload
    /// of a write), using `sg` to map the pages. EINVAL if the range is
    /// not within the data.
    pub fn copy_to_buffer(&self, sg: &mut SgTable, offset: usize, buf: &mut [u8]) -> Result {
        self.check_range(offset, buf.len())?;
        let entries = self.map_sg(sg)?;
        // SAFETY: `sg` describes the request's pages, alive while `self`
        // is borrowed; `buf` is writable for its length.
        let copied = unsafe {
            bindings::sg_pcopy_to_buffer(
                sg.as_raw(),
                entries as u32,
                buf.as_mut_ptr().cast(),
                buf.len(),
                offset as bindings::off_t,
            )
        };
        if copied != buf.len() {
            return Err(EIO);
        }
        Ok(())
    }

    /// Copies `buf` into the request's data from `offset` on.
    ///
    /// # Safety
    ///
    /// No one else reads or writes the request's pages meanwhile.
    unsafe fn copy_from_buffer(&self, sg: &mut SgTable, offset: usize, buf: &[u8]) -> Result {
        self.check_range(offset, buf.len())?;
        let entries = self.map_sg(sg)?;
        // SAFETY: `sg` describes the request's pages, which the caller lets
        // us write; `buf` is readable for its length.
        let copied = unsafe {
            bindings::sg_pcopy_from_buffer(
                sg.as_raw(),
                entries as u32,
                buf.as_ptr().cast(),
                buf.len(),
                offset as bindings::off_t,
            )
        };
        if copied != buf.len() {
            return Err(EIO);
        }
        Ok(())
    }
}

/// Exclusive access to a request's pages, lent by [`Request::parts`] (or
/// used by [`Request::copy_from_buffer`]): what writing into them needs.
/// Reads and the accessors come through `Deref` to [`RequestRef`].
pub struct RequestMut<'a> {
    request: &'a RequestRef,
}

impl RequestMut<'_> {
    /// Copies `buf` into the request's data from `offset` on (the result
    /// of a read), using `sg` to map the pages. EINVAL if the range is not
    /// within the data.
    pub fn copy_from_buffer(&mut self, sg: &mut SgTable, offset: usize, buf: &[u8]) -> Result {
        // SAFETY: This value stands for the exclusive borrow of the only
        // handle of the request.
        unsafe { self.request.copy_from_buffer(sg, offset, buf) }
    }
}

impl Deref for RequestMut<'_> {
    type Target = RequestRef;

    fn deref(&self) -> &RequestRef {
        self.request
    }
}

/// A request of a disk of driver `T`, owned by the driver (see the module
/// documentation).
///
/// # Invariants
///
/// `raw` is a request of a queue of a `TagSet<T>` that blk-mq dispatched
/// to the driver and that has not been ended, completed or handed back;
/// this is its only handle. Its pdu holds initialised `T::RequestData`.
/// `started` tells whether `blk_mq_start_request` was called for this
/// dispatch.
pub struct Request<T: Operations> {
    raw: NonNull<bindings::request>,
    started: bool,
    _ops: PhantomData<T>,
}

// SAFETY: The request may be ended from any context; the handle gives
// access to `RequestData` (`Send`) and `QueueData` (`Sync`).
unsafe impl<T: Operations> Send for Request<T> {}
// SAFETY: `&Request` gives `&RequestData`, hence the bound, and the
// read-only accessors.
unsafe impl<T: Operations> Sync for Request<T> where T::RequestData: Sync {}

impl<T: Operations> Request<T> {
    /// # Safety
    ///
    /// `rq` satisfies the type invariant and no other handle exists.
    pub(crate) unsafe fn from_raw(rq: *mut bindings::request, started: bool) -> Self {
        Request {
            // SAFETY: blk-mq never passes NULL requests.
            raw: unsafe { NonNull::new_unchecked(rq) },
            started,
            _ops: PhantomData,
        }
    }

    /// Gives up the handle without ending the request: its parts, for
    /// [`Request::from_raw`].
    pub(crate) fn into_parts(self) -> (NonNull<bindings::request>, bool) {
        let parts = (self.raw, self.started);
        core::mem::forget(self);
        parts
    }

    /// Gives up the handle without ending the request.
    fn into_raw(self) -> *mut bindings::request {
        let rq = self.raw.as_ptr();
        core::mem::forget(self);
        rq
    }

    fn pdu(&self) -> *mut Pdu<T::RequestData> {
        pdu_ptr::<T>(self.raw.as_ptr())
    }

    /// The driver data of this request's slot.
    pub fn data(&self) -> &T::RequestData {
        // SAFETY: Initialised (type invariant); shared access follows the
        // borrow of the only handle.
        unsafe { &(*self.pdu()).data }
    }

    /// The driver data of this request's slot, for changing it.
    pub fn data_mut(&mut self) -> Pin<&mut T::RequestData> {
        // SAFETY: As above, exclusively borrowed; the pdu never moves.
        unsafe { Pin::new_unchecked(&mut (*self.pdu()).data) }
    }

    /// The request and its driver data at once, for calls that need both
    /// (such as mapping the request into a table kept in the data).
    pub fn parts(&mut self) -> (RequestMut<'_>, Pin<&mut T::RequestData>) {
        let pdu = self.pdu();
        // SAFETY: The request and its pdu are disjoint memory, both
        // exclusively borrowed through `self`; the pdu never moves.
        unsafe {
            (
                RequestMut {
                    request: &*self.raw.as_ptr().cast::<RequestRef>(),
                },
                Pin::new_unchecked(&mut (*pdu).data),
            )
        }
    }

    /// Copies `buf` into the request's data from `offset` on (the result
    /// of a read), using `sg` to map the pages. EINVAL if the range is not
    /// within the data.
    pub fn copy_from_buffer(&mut self, sg: &mut SgTable, offset: usize, buf: &[u8]) -> Result {
        self.parts().0.copy_from_buffer(sg, offset, buf)
    }

    /// The data of the disk this request is on.
    pub fn queue_data(&self) -> &T::QueueData {
        // SAFETY: In flight (type invariant); the borrow ends before it
        // is ended.
        unsafe { queue_data::<T>(self.raw.as_ptr()) }
    }

    /// Tells blk-mq the driver started the request (its timeout starts
    /// now). Once per dispatch; later calls do nothing.
    pub fn start(&mut self) {
        if !self.started {
            // SAFETY: In flight and not started in this dispatch.
            unsafe { bindings::blk_mq_start_request(self.raw.as_ptr()) };
            self.started = true;
        }
    }

    /// Ends the request with `status`: errnos the block layer knows keep
    /// their meaning (EOPNOTSUPP, ENOSPC, ETIMEDOUT, ...), others become
    /// EIO. Any context.
    pub fn end(self, status: Result) {
        let rq = self.into_raw();
        // SAFETY: We owned the request; ending gives it back to blk-mq.
        unsafe { bindings::blk_mq_end_request(rq, to_blk_status(status)) };
    }

    /// Completes the request with `status` through blk-mq
    /// (`blk_mq_complete_request`): [`Operations::complete`] gets the
    /// request and `status` on the CPU that submitted it, from an IPI or
    /// softirq, or directly inside this call when already there (always
    /// for a polled request, completed from [`super::Operations::poll`]).
    /// Starts the request if needed. Any context.
    pub fn complete(mut self, status: Result) {
        self.start();
        let errno = match status {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        };
        // SAFETY: The pdu is initialised (type invariant).
        unsafe {
            (*self.pdu())
                .completion_status
                .store(errno, Ordering::Release)
        };
        let rq = self.into_raw();
        // SAFETY: We owned the started request; the completion callback
        // receives the only new handle.
        unsafe { bindings::blk_mq_complete_request(rq) };
    }

    /// The status stored by [`Request::complete`], reset for the next use
    /// of the slot.
    pub(crate) fn take_completion_status(&self) -> Result {
        // SAFETY: The pdu is initialised (type invariant).
        let errno = unsafe { (*self.pdu()).completion_status.swap(0, Ordering::Acquire) };
        if errno == 0 {
            Ok(())
        } else {
            Err(Error::from_errno(errno))
        }
    }

    /// Puts the request back on the queue's requeue list, to be dispatched
    /// again; `kick` runs that list now (otherwise at the next
    /// `blk_mq_kick_requeue_list` or requeue with a kick). Any context.
    pub fn requeue(self, kick: bool) {
        let rq = self.into_raw();
        // SAFETY: We owned the request; blk-mq takes it back.
        unsafe { bindings::blk_mq_requeue_request(rq, kick) };
    }

    /// Hands the request back from `queue_rq` because a resource ran out
    /// (`BLK_STS_RESOURCE`): blk-mq dispatches it again shortly.
    pub fn busy(self) -> Busy<T> {
        Busy {
            request: self,
            status: BLK_STS_RESOURCE,
        }
    }

    /// Hands the request back from `queue_rq` because a device resource is
    /// busy (`BLK_STS_DEV_RESOURCE`): the driver reruns the queue (for
    /// example with [`HwQueue::delay_run`]) when it frees up.
    pub fn dev_busy(self) -> Busy<T> {
        Busy {
            request: self,
            status: BLK_STS_DEV_RESOURCE,
        }
    }
}

impl<T: Operations> Deref for Request<T> {
    type Target = RequestRef;

    fn deref(&self) -> &RequestRef {
        // SAFETY: `RequestRef` is a transparent wrapper of the request,
        // valid while the handle is.
        unsafe { &*self.raw.as_ptr().cast::<RequestRef>() }
    }
}

impl<T: Operations> Drop for Request<T> {
    fn drop(&mut self) {
        // A request must never be lost: end it with an I/O error.
        // SAFETY: We own the request (type invariant).
        unsafe { bindings::blk_mq_end_request(self.raw.as_ptr(), BLK_STS_IOERR) };
    }
}

/// A request that `queue_rq` hands back to blk-mq, made by
/// [`Request::busy`] or [`Request::dev_busy`].
pub struct Busy<T: Operations> {
    request: Request<T>,
    status: bindings::blk_status_t,
}

impl<T: Operations> Busy<T> {
    /// The status for `queue_rq` to return; blk-mq keeps the request.
    pub(crate) fn into_status(self) -> bindings::blk_status_t {
        let status = self.status;
        let _ = self.request.into_raw();
        status
    }
}

/// A hardware queue, during `queue_rq`.
#[repr(transparent)]
pub struct HwQueue(Opaque<bindings::blk_mq_hw_ctx>);

/// The kinds of hardware queue map (`enum hctx_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum HctxType {
    /// Everything not sent elsewhere.
    Default = bindings::hctx_type_HCTX_TYPE_DEFAULT,
    /// Reads (when the set has 2 or more maps).
    Read = bindings::hctx_type_HCTX_TYPE_READ,
    /// Polled IO (`REQ_POLLED`, when the set has 3 maps): completions
    /// are found by [`super::Operations::poll`].
    Poll = bindings::hctx_type_HCTX_TYPE_POLL,
}

impl HctxType {
    fn from_raw(raw: u32) -> Self {
        match raw {
            bindings::hctx_type_HCTX_TYPE_READ => Self::Read,
            bindings::hctx_type_HCTX_TYPE_POLL => Self::Poll,
            _ => Self::Default,
        }
    }
}

impl HwQueue {
    /// # Safety
    ///
    /// `hctx` is a live hardware context for `'a`.
    pub(crate) unsafe fn from_raw<'a>(hctx: *mut bindings::blk_mq_hw_ctx) -> &'a Self {
        // SAFETY: Transparent wrapper; valid per the contract.
        unsafe { &*hctx.cast::<Self>() }
    }

    /// The queue's index in its tag set.
    pub fn index(&self) -> u32 {
        // SAFETY: Live per `from_raw`'s contract.
        unsafe { (*self.0.get()).queue_num }
    }

    /// The map the queue belongs to (`hctx->type`).
    pub fn kind(&self) -> HctxType {
        // SAFETY: Live per `from_raw`'s contract; set when the queue's
        // maps are set up.
        HctxType::from_raw(unsafe { (*self.0.get()).type_ } as u32)
    }

    /// Runs the queue again soon, from kblockd (never from inside this
    /// call, so it is safe in `queue_rq`).
    pub fn run(&self) {
        // SAFETY: Live per `from_raw`'s contract.
        unsafe { bindings::blk_mq_run_hw_queue(self.0.get(), true) };
    }

    /// Runs the queue again after `msecs` milliseconds.
    pub fn delay_run(&self, msecs: u32) {
        // SAFETY: Live per `from_raw`'s contract.
        unsafe { bindings::blk_mq_delay_run_hw_queue(self.0.get(), msecs as _) };
    }
}
