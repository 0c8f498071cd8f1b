// SPDX-License-Identifier: GPL-2.0

//! IO on a block device: bios over caller-owned buffers, submitted
//! together and completing once, as RNBD's server turns each request it
//! receives into bios on the device it exports.
//!
//! An [`Io`] is one operation with one set of flags. Data operations take
//! one bio per buffer ([`Io::add_data`]); discard, write-zeroes and secure
//! erase take ranges ([`Io::add_range`]); a flush is a single empty bio.
//! [`Io::submit`] chains the bios (`bio_chain`) so that one end-io callback
//! runs after the last of them, with the first error, and receives the
//! buffers back.

use core::ptr;
use core::sync::atomic::{AtomicU8, Ordering};

use crate::kernel_ext::bindings;
use kernel::alloc::{flags, Flags, KBox, KVec};
use kernel::error::{code::*, Error, Result};
use kernel::sync::Arc;

use kernel::init::InPlaceInit;
use kernel::workqueue::{self, impl_has_work, new_work, Work, WorkItem};
use kernel::{pin_init, prelude::pin_data};

use super::bdev::Bdev;
use super::{from_blk_status, IoFlags, Op, SECTOR_SIZE};
use crate::kernel_ext::rdma::buffer::DmaBuffer;
use crate::kernel_ext::sync::{new_spinlock_irq, SpinLockIrq};

/// Memory a bio reads from or writes into: one physically contiguous
/// range of the kernel's direct map (kmalloc memory), whose address does
/// not change when the owning value moves.
///
/// # Safety
///
/// Implementors guarantee that `as_mut_ptr()..as_mut_ptr() + len()` is
/// kmalloc (or page allocator, lowmem) memory owned by the value, valid
/// and unmoved until the value is dropped, and not accessed by anyone else
/// while a bio holds the value.
pub unsafe trait IoBuffer: Send + 'static {
    fn as_mut_ptr(&mut self) -> *mut u8;
    fn len(&self) -> usize;
}

// SAFETY: A `KVec<u8>` stores its elements in one kmalloc allocation that
// stays put when the vector (moved by value) moves; the bio owns the
// vector while in flight.
unsafe impl IoBuffer for KVec<u8> {
    fn as_mut_ptr(&mut self) -> *mut u8 {
        KVec::as_mut_ptr(self)
    }

    fn len(&self) -> usize {
        KVec::len(self)
    }
}

// SAFETY: As for `KVec<u8>`: one kmalloc allocation owned by the box.
unsafe impl<const N: usize> IoBuffer for KBox<[u8; N]> {
    fn as_mut_ptr(&mut self) -> *mut u8 {
        (**self).as_mut_ptr()
    }

    fn len(&self) -> usize {
        N
    }
}

/// A value that owns a [`DmaBuffer`] (such as an RTRS server request
/// holding its chunk) and lends its first [`DmaWindow::window_len`] bytes
/// to a bio through [`Window`]: the bio reads or writes the memory the
/// RDMA device moves data through, with no copy.
pub trait DmaWindow: Send + 'static {
    /// The buffer (`None`: nothing to lend; the bio refuses a window
    /// of length 0).
    fn dma_buffer(&mut self) -> Option<&mut DmaBuffer>;
    /// Bytes lent, from the start; at most the buffer's length.
    fn window_len(&self) -> usize;
}

/// A [`DmaWindow`] as an [`IoBuffer`].
///
/// # Invariants
///
/// `ptr..ptr + len` lies in the buffer `value` lent at construction,
/// which `value` keeps (nothing can call into `value` while the window
/// holds it).
pub struct Window<T: DmaWindow> {
    value: T,
    ptr: *mut u8,
    len: usize,
}

// SAFETY: The pointer is into memory `value` owns; `T: Send`.
unsafe impl<T: DmaWindow> Send for Window<T> {}

impl<T: DmaWindow> Window<T> {
    /// Lends `value`'s window (made visible to the CPU side first: the
    /// RDMA device may have written it).
    pub fn new(mut value: T) -> Self {
        let want = value.window_len();
        let (ptr, len) = match value.dma_buffer() {
            Some(buffer) => {
                let buffer = buffer.as_mut_slice();
                (buffer.as_mut_ptr(), want.min(buffer.len()))
            }
            None => (core::ptr::null_mut(), 0),
        };
        Window { value, ptr, len }
    }

    /// The value back (after the bio ended: `Io::submit`'s `done`).
    pub fn into_inner(self) -> T {
        self.value
    }
}

// SAFETY: A `DmaBuffer` is one kmalloc allocation that never moves or
// resizes while it lives; `value` (moved in with the window, unreachable
// from outside) keeps it; the range lies inside it (type invariant).
unsafe impl<T: DmaWindow> IoBuffer for Window<T> {
    fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr
    }

    fn len(&self) -> usize {
        self.len
    }
}

/// A buffer [`Io::add_data`] did not take, and why.
pub struct AddError<B> {
    pub error: Error,
    pub buffer: B,
}

impl<B> From<AddError<B>> for Error {
    fn from(e: AddError<B>) -> Error {
        e.error
    }
}

/// `GFP_NOIO`: may sleep and reclaim, but not start IO or FS work (which
/// could wait for this very IO).
const GFP_NOIO: bindings::gfp_t =
    bindings::GFP_KERNEL & !((1 << bindings::___GFP_IO_BIT) | (1 << bindings::___GFP_FS_BIT));

/// What the end-io callback needs, owned by the first bio while in flight.
struct IoContext<B, F> {
    buffers: KVec<B>,
    /// Keeps the device open until the last bio has ended.
    bdev: Arc<Bdev>,
    done: F,
}

/// One operation on a block device, as one or more bios (see the module
/// documentation).
///
/// # Invariants
///
/// `head..tail` is a list, linked by `bi_next`, of bios allocated by us on
/// `bdev` with `opf` and not submitted; `buffers` holds the buffers their
/// data pages point into.
pub struct Io<B: IoBuffer> {
    bdev: Arc<Bdev>,
    op: Op,
    opf: bindings::blk_opf_t,
    /// For our bookkeeping and the buffers' list.
    gfp: Flags,
    /// For the first bio: may wait on the bio mempool.
    first_bio_gfp: bindings::gfp_t,
    /// `bi_ioprio` of every bio.
    prio: u16,
    head: *mut bindings::bio,
    tail: *mut bindings::bio,
    buffers: KVec<B>,
}

// SAFETY: The unsubmitted bios are owned by this value alone; buffers are
// `Send`.
unsafe impl<B: IoBuffer> Send for Io<B> {}

impl<B: IoBuffer> Io<B> {
    /// Starts an operation on `bdev`. `gfp` says how it may allocate: with
    /// `GFP_KERNEL` the first bio waits for memory rather than fail (and
    /// bios are allocated `GFP_NOIO`); with `GFP_ATOMIC` or `GFP_NOWAIT`
    /// (any context) every allocation may fail with ENOMEM.
    ///
    /// EINVAL for an unsupported op or a flag that does not fit it (FUA
    /// and PREFLUSH go with writes and flushes, NOUNMAP with
    /// write-zeroes); EBADF for a data-changing op on a device opened
    /// read-only.
    pub fn new(bdev: &Arc<Bdev>, op: Op, flags: IoFlags, gfp: Flags) -> Result<Self> {
        let base = match op {
            Op::Read => bindings::req_op_REQ_OP_READ,
            Op::Write => bindings::req_op_REQ_OP_WRITE,
            Op::Flush => bindings::req_op_REQ_OP_WRITE | bindings::REQ_PREFLUSH,
            Op::Discard => bindings::req_op_REQ_OP_DISCARD,
            Op::SecureErase => bindings::req_op_REQ_OP_SECURE_ERASE,
            Op::WriteZeroes => bindings::req_op_REQ_OP_WRITE_ZEROES,
            Op::Other(_) => return Err(EINVAL),
        };
        let cache_flags = IoFlags::FUA | IoFlags::PREFLUSH;
        // The block layer warns about flush flags on anything but a write.
        let cache_flags_ok = matches!(op, Op::Write | Op::Flush);
        if (!cache_flags_ok && flags.bits() & cache_flags.bits() != 0)
            || (op != Op::WriteZeroes && flags.contains(IoFlags::NOUNMAP))
        {
            return Err(EINVAL);
        }
        if op.modifies_data() && !bdev.mode().is_write() {
            return Err(EBADF);
        }
        let may_sleep = gfp.contains(flags::GFP_KERNEL);
        let first_bio_gfp = if may_sleep {
            GFP_NOIO
        } else if gfp.contains(flags::GFP_ATOMIC) {
            bindings::GFP_ATOMIC
        } else {
            bindings::GFP_NOWAIT
        };
        let mut io = Io {
            bdev: bdev.clone(),
            op,
            opf: base | flags.bits(),
            gfp,
            first_bio_gfp,
            prio: 0,
            head: ptr::null_mut(),
            tail: ptr::null_mut(),
            buffers: KVec::new(),
        };
        if op == Op::Flush {
            io.push_bio(0)?;
        }
        Ok(io)
    }

    /// Sets the IO priority (`bio_set_prio`; the `ioprio` value RNBD
    /// carries in its IO message) of every bio, those added so far and
    /// later ones.
    pub fn set_prio(&mut self, prio: u16) {
        self.prio = prio;
        let mut bio = self.head;
        while !bio.is_null() {
            // SAFETY: Our unsubmitted bios (type invariant).
            unsafe {
                (*bio).bi_ioprio = prio;
                bio = (*bio).bi_next;
            }
        }
    }

    /// Allocates a bio for `nr_vecs` pages and appends it to the list.
    fn push_bio(&mut self, nr_vecs: u16) -> Result<*mut bindings::bio> {
        // After the first, bios do not wait on the mempool: several taken
        // from it before any is submitted could wait for each other.
        let gfp = if self.head.is_null() {
            self.first_bio_gfp
        } else {
            self.first_bio_gfp & !(1 << bindings::___GFP_DIRECT_RECLAIM_BIT)
        };
        // SAFETY: The device is open (we hold an Arc of it).
        let bio = unsafe { bindings::bio_alloc(self.bdev.as_raw(), nr_vecs, self.opf, gfp) };
        if bio.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: Our fresh bio (`bio_set_prio`).
        unsafe { (*bio).bi_ioprio = self.prio };
        if self.tail.is_null() {
            self.head = bio;
        } else {
            // SAFETY: `tail` is our unsubmitted bio (type invariant).
            unsafe { (*self.tail).bi_next = bio };
        }
        self.tail = bio;
        Ok(bio)
    }

    /// Adds a bio that reads into or writes from all of `buffer`, at
    /// `sector`. For reads and writes only (EINVAL otherwise). The length
    /// must be a non-zero multiple of the device's logical block size, at
    /// most 4 GiB - 1, and the buffer aligned as the device needs (512
    /// bytes or more) (EINVAL otherwise, where drivers such as brd would
    /// warn); ENOMEM if a bio cannot be had. On error the buffer comes
    /// back.
    pub fn add_data(&mut self, sector: u64, mut buffer: B) -> Result<(), AddError<B>> {
        let len = buffer.len();
        let block = self.bdev.logical_block_size() as usize;
        let align_mask = (self.bdev.dma_alignment() | (SECTOR_SIZE - 1)) as usize;
        let addr = buffer.as_mut_ptr();
        let error = if !self.op.has_data()
            || len == 0
            || len.checked_rem(block) != Some(0)
            || len > u32::MAX as usize
            || addr as usize & align_mask != 0
        {
            Some(EINVAL)
        } else {
            None
        };
        if let Some(error) = error {
            return Err(AddError { error, buffer });
        }
        if let Err(error) = self.buffers.reserve(1, self.gfp) {
            return Err(AddError {
                error: error.into(),
                buffer,
            });
        }
        let bio = match self.push_bio(1) {
            Ok(bio) => bio,
            Err(error) => return Err(AddError { error, buffer }),
        };
        // SAFETY: A fresh bio with room for one vector; the buffer is
        // direct-mapped, contiguous (`IoBuffer`), and kept in `buffers`
        // (room reserved above) until the bio has ended.
        unsafe {
            bindings::bio_add_virt_nofail(bio, addr.cast(), len as u32);
            (*bio).bi_iter.bi_sector = sector;
        }
        // Cannot fail: room was reserved.
        let _ = self.buffers.push(buffer, self.gfp);
        Ok(())
    }

    /// Adds a bio for `bytes` bytes at `sector`, for discard, write-zeroes
    /// and secure erase (EINVAL otherwise, or if `bytes` is zero or not a
    /// multiple of 512). ENOMEM if a bio cannot be had.
    pub fn add_range(&mut self, sector: u64, bytes: u32) -> Result {
        if !matches!(self.op, Op::Discard | Op::WriteZeroes | Op::SecureErase)
            || bytes == 0
            || bytes % SECTOR_SIZE != 0
        {
            return Err(EINVAL);
        }
        let bio = self.push_bio(0)?;
        // SAFETY: Our fresh bio; these operations carry a size, no pages.
        unsafe {
            (*bio).bi_iter.bi_sector = sector;
            (*bio).bi_iter.bi_size = bytes;
        }
        Ok(())
    }

    /// Bytes the bios added so far cover.
    pub fn bytes(&self) -> u64 {
        let mut total = 0u64;
        let mut bio = self.head;
        while !bio.is_null() {
            // SAFETY: Our unsubmitted bios (type invariant).
            unsafe {
                total += u64::from((*bio).bi_iter.bi_size);
                bio = (*bio).bi_next;
            }
        }
        total
    }

    /// Submits the bios. `done` runs once, after the last has ended,
    /// with the buffers (in the order added) and the status: `Ok` or the
    /// first error, as the errno upstream reports (EIO, EOPNOTSUPP for an
    /// operation the device does not support, ...).
    ///
    /// `done` runs in the context the device completes in: hard or soft
    /// interrupt, or inside this call for devices that complete
    /// synchronously (`brd`). It must not sleep. If there is nothing to
    /// submit (EINVAL) or no memory for the bookkeeping (ENOMEM), it runs
    /// inside this call.
    pub fn submit<F>(mut self, done: F)
    where
        F: FnOnce(KVec<B>, Result) + Send + 'static,
    {
        let buffers = core::mem::take(&mut self.buffers);
        if self.head.is_null() {
            done(buffers, Err(EINVAL));
            return;
        }
        let context = match KBox::<IoContext<B, F>>::new_uninit(self.gfp) {
            Ok(slot) => KBox::write(
                slot,
                IoContext {
                    buffers,
                    bdev: self.bdev.clone(),
                    done,
                },
            ),
            Err(_) => {
                // Put the bios before the buffers they point into go.
                drop(self);
                done(buffers, Err(ENOMEM));
                return;
            }
        };
        let parent = self.head;
        self.head = ptr::null_mut();
        self.tail = ptr::null_mut();
        // SAFETY: The list holds our unsubmitted bios (type invariant),
        // now taken out of `self`. The first gets the end-io and the
        // context; the others are chained to it, so its end-io runs once
        // after all of them. The context (and so every buffer) is freed
        // only by that end-io.
        unsafe {
            let mut child = (*parent).bi_next;
            (*parent).bi_next = ptr::null_mut();
            (*parent).bi_private = KBox::into_raw(context).cast();
            (*parent).bi_end_io = Some(end_io::<B, F>);
            while !child.is_null() {
                let next = (*child).bi_next;
                (*child).bi_next = ptr::null_mut();
                bindings::bio_chain(child, parent);
                bindings::submit_bio(child);
                child = next;
            }
            bindings::submit_bio(parent);
        }
    }
}

impl<B: IoBuffer> Io<B> {
    /// As [`submit`](Self::submit), but `done` always runs in process
    /// context with no lock of the block layer held, so it may sleep:
    /// - if the device completes while `submit_bio` still runs (brd
    ///   completes inside it; so may a driver that completes a flush
    ///   sequence under its own spinlock), the call waits until
    ///   `submit_bio` has returned and then runs here, in the caller;
    /// - otherwise (a later completion, in any context: hard or soft
    ///   interrupt, or a kworker holding the queue's flush lock with
    ///   interrupts off) it runs from a work item on the system
    ///   workqueue, allocated here beforehand so that the deferral itself
    ///   cannot fail.
    ///
    /// The end-io never calls `done` itself: a task context there does not
    /// mean it may sleep (the debug kernel caught `flush_end_io` calling
    /// it from `blk_mq_requeue_work` with `mq_flush_lock` held).
    ///
    /// The caller must be able to sleep (process context, no spinlock).
    /// The EINVAL/ENOMEM cases call `done` inside this call, too.
    pub fn submit_in_task<F>(mut self, done: F)
    where
        F: FnOnce(KVec<B>, Result) + Send + 'static,
    {
        let deferred = Arc::pin_init(
            pin_init!(Deferred::<B, F> {
                work <- new_work!("kernel_ext::bio::Deferred"),
                call <- new_spinlock_irq!(None, "kernel_ext::bio::Deferred::call"),
                stage: AtomicU8::new(SUBMITTING),
            }),
            self.gfp,
        );
        let deferred = match deferred {
            Ok(deferred) => deferred,
            Err(_) => {
                let buffers = core::mem::take(&mut self.buffers);
                drop(self);
                done(buffers, Err(ENOMEM));
                return;
            }
        };
        let at_end = deferred.clone();
        self.submit(move |buffers, status| {
            *at_end.call.lock() = Some((buffers, status, done));
            // Still inside `submit_bio`: the submitter runs it once that
            // has returned.
            if at_end
                .stage
                .compare_exchange(SUBMITTING, ENDED_EARLY, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return;
            }
            let _ = workqueue::system().enqueue(at_end);
        });
        // Back in our own context, outside the block layer.
        if deferred
            .stage
            .compare_exchange(SUBMITTING, SUBMITTED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            deferred.run_call();
        }
    }
}

/// [`Deferred::stage`]: `submit_bio` is running.
const SUBMITTING: u8 = 0;
/// `submit_bio` has returned before the end-io: a work item runs `done`.
const SUBMITTED: u8 = 1;
/// The end-io ran before `submit_bio` returned: the submitter runs `done`.
const ENDED_EARLY: u8 = 2;

/// A completion of [`Io::submit_in_task`] waiting for its task.
#[pin_data]
struct Deferred<B, F> {
    #[pin]
    work: Work<Deferred<B, F>>,
    /// `done` and its arguments, stored by the end-io.
    #[pin]
    call: SpinLockIrq<Option<(KVec<B>, Result, F)>>,
    stage: AtomicU8,
}

impl<B, F: FnOnce(KVec<B>, Result)> Deferred<B, F> {
    fn run_call(&self) {
        let call = self.call.lock().take();
        if let Some((buffers, status, done)) = call {
            done(buffers, status);
        }
    }
}

impl_has_work! {
    impl{B, F} HasWork<Self> for Deferred<B, F> { self.work }
}

impl<B: IoBuffer, F: FnOnce(KVec<B>, Result) + Send + 'static> WorkItem for Deferred<B, F> {
    type Pointer = Arc<Self>;

    fn run(this: Arc<Self>) {
        this.run_call();
    }
}

impl<B: IoBuffer> Drop for Io<B> {
    fn drop(&mut self) {
        let mut bio = self.head;
        while !bio.is_null() {
            // SAFETY: Our unsubmitted bios (type invariant); nothing else
            // refers to them.
            unsafe {
                let next = (*bio).bi_next;
                (*bio).bi_next = ptr::null_mut();
                bindings::bio_put(bio);
                bio = next;
            }
        }
    }
}

/// The end-io of the first bio of an [`Io`].
///
/// # Safety
///
/// Called by the block layer once, after every bio chained to `bio` has
/// ended, with `bi_private` set by [`Io::submit`].
unsafe extern "C" fn end_io<B: IoBuffer, F: FnOnce(KVec<B>, Result) + Send + 'static>(
    bio: *mut bindings::bio,
) {
    // SAFETY: `bi_private` is the context `submit` leaked for this call.
    let context = unsafe { KBox::from_raw((*bio).bi_private.cast::<IoContext<B, F>>()) };
    // SAFETY: The bio is ours until we put it.
    let status = from_blk_status(unsafe { (*bio).bi_status });
    // SAFETY: Ended; nothing refers to it any more.
    unsafe { bindings::bio_put(bio) };
    let IoContext {
        buffers,
        bdev,
        done,
    } = KBox::into_inner(context);
    // Before `done`: if the driver waits for its IO to finish before
    // closing the device, the close must not wait for us.
    drop(bdev);
    done(buffers, status);
}
