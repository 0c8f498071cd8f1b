// SPDX-License-Identifier: GPL-2.0

//! The blk-mq driver of rnbd_blk_test: a disk that forwards every request
//! to a backing block device as bios, the way an RNBD client and server
//! pair does it with RDMA in between. A write's pages are mapped and
//! copied into kmalloc buffers (what the client's RDMA WRITE does), bios
//! on the backing device carry them (what the server does), and a read's
//! buffers are copied back into the request's pages when the bios end.
//!
//! Requests larger than [`CHUNK`] are split into several bios that
//! complete as one. Requests end through `blk_mq_complete_request`, the
//! path RNBD's client takes, except those of a flush sequence (flushes,
//! PREFLUSH and FUA writes): the backing device completes those holding
//! its queue's `mq_flush_lock`, and ending ours there would take our
//! queue's lock of the same class (lockdep: recursive locking), so they
//! end from a work item. On request, every
//! Nth dispatch is handed back to blk-mq first (in turn as busy, as a
//! requeue, and as device-busy with a queue rerun), to exercise those
//! paths.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use kernel::error::{code::*, Error};
use kernel::init::PinInit;
use kernel::prelude::*;
use kernel::sync::Arc;

use crate::kernel_ext::block::{
    Bdev, Busy, HwQueue, Io, IoFlags, Op, Operations, Request, SECTOR_SHIFT,
};
use crate::kernel_ext::errno::EOPNOTSUPP;
use crate::kernel_ext::scatterlist::SgTable;
use crate::kernel_ext::workqueue::Workqueue;

/// Largest bounce buffer, and so largest bio, per piece of a request.
pub(crate) const CHUNK: usize = 64 * 1024;

/// What happened on one disk, for the `stats` file.
#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) reads: AtomicU64,
    pub(crate) writes: AtomicU64,
    pub(crate) fua_writes: AtomicU64,
    pub(crate) flushes: AtomicU64,
    pub(crate) discards: AtomicU64,
    pub(crate) write_zeroes: AtomicU64,
    pub(crate) write_zeroes_nounmap: AtomicU64,
    pub(crate) secure_erases: AtomicU64,
    /// Requests that needed more than one bio.
    pub(crate) split_requests: AtomicU64,
    pub(crate) bios: AtomicU64,
    /// Requests ended with an error.
    pub(crate) errors: AtomicU64,
    /// Requests handed back to blk-mq for lack of memory.
    pub(crate) busy: AtomicU64,
    /// Injected: requests handed back as busy (or device-busy) from
    /// `queue_rq`.
    pub(crate) busy_injected: AtomicU64,
    /// Injected: requests put on the requeue list.
    pub(crate) requeues: AtomicU64,
    /// Requests ended through `blk_mq_complete_request`.
    pub(crate) completions: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Stats {
    fn count(&self, op: Op, flags: IoFlags) {
        match op {
            Op::Read => bump(&self.reads),
            Op::Write => {
                bump(&self.writes);
                if flags.contains(IoFlags::FUA) {
                    bump(&self.fua_writes);
                }
            }
            Op::Flush => bump(&self.flushes),
            Op::Discard => bump(&self.discards),
            Op::WriteZeroes => {
                bump(&self.write_zeroes);
                if flags.contains(IoFlags::NOUNMAP) {
                    bump(&self.write_zeroes_nounmap);
                }
            }
            Op::SecureErase => bump(&self.secure_erases),
            Op::Other(_) => {}
        }
    }
}

/// Per tag set: how many segments a request of its disk can have.
pub(crate) struct SegmentLimit(pub(crate) usize);

/// Per request slot: the table its pages are mapped into.
pub(crate) struct Slot {
    sg: SgTable,
    /// The request in this slot was handed back once by injection; it
    /// goes through when dispatched again.
    handed_back: bool,
}

/// Per disk: where its requests go.
pub(crate) struct Target {
    pub(crate) bdev: Arc<Bdev>,
    pub(crate) stats: Arc<Stats>,
    /// Ends requests of a flush sequence in process context.
    completer: Arc<Workqueue>,
    /// Hand back every Nth dispatch once (0: never).
    pub(crate) inject_every: AtomicU32,
    pub(crate) dispatches: AtomicU64,
}

impl Target {
    pub(crate) fn new(bdev: Arc<Bdev>, stats: Arc<Stats>, completer: Arc<Workqueue>) -> Self {
        Target {
            bdev,
            stats,
            completer,
            inject_every: AtomicU32::new(0),
            dispatches: AtomicU64::new(0),
        }
    }

    /// Whether to hand this dispatch back, and how.
    fn inject(&self) -> Option<HandBack> {
        let every = u64::from(self.inject_every.load(Ordering::Relaxed));
        let n = self.dispatches.fetch_add(1, Ordering::Relaxed) + 1;
        if every == 0 || n % every != 0 {
            return None;
        }
        Some(match (n / every) % 3 {
            0 => HandBack::Busy,
            1 => HandBack::Requeue,
            _ => HandBack::DevBusy,
        })
    }
}

/// How an injected dispatch goes back to blk-mq.
enum HandBack {
    Busy,
    Requeue,
    DevBusy,
}

pub(crate) struct Forward;

impl Operations for Forward {
    type TagSetData = SegmentLimit;
    type QueueData = Target;
    type RequestData = Slot;

    fn init_request_data(limit: &SegmentLimit) -> impl PinInit<Slot, Error> {
        try_init!(Slot {
            sg: SgTable::new(limit.0)?,
            handed_back: false,
        })
    }

    fn queue_rq(
        target: &Target,
        hw_queue: &HwQueue,
        mut request: Request<Self>,
        _last: bool,
    ) -> Result<(), Busy<Self>> {
        request.start();
        if !request.data().handed_back {
            if let Some(how) = target.inject() {
                request.data_mut().handed_back = true;
                return match how {
                    HandBack::Busy => {
                        bump(&target.stats.busy_injected);
                        Err(request.busy())
                    }
                    HandBack::DevBusy => {
                        // Device-busy: blk-mq waits for the driver to
                        // rerun the queue.
                        bump(&target.stats.busy_injected);
                        hw_queue.run();
                        Err(request.dev_busy())
                    }
                    HandBack::Requeue => {
                        bump(&target.stats.requeues);
                        request.requeue(true);
                        Ok(())
                    }
                };
            }
        }
        request.data_mut().handed_back = false;
        let op = request.op();
        target.stats.count(op, request.flags());
        let io = match op {
            Op::Read | Op::Write => data_io(target, &mut request),
            Op::Flush => Io::new(&target.bdev, Op::Flush, request.flags(), GFP_KERNEL),
            Op::Discard | Op::WriteZeroes | Op::SecureErase => range_io(target, &request),
            Op::Other(_) => Err(EOPNOTSUPP()),
        };
        match io {
            Ok(mut io) => {
                io.set_prio(request.ioprio());
                io.submit(move |buffers, status| finish(request, buffers, status));
                Ok(())
            }
            Err(e) if e == ENOMEM => {
                bump(&target.stats.busy);
                hw_queue.delay_run(10);
                Err(request.busy())
            }
            Err(e) => {
                bump(&target.stats.errors);
                request.end(Err(e));
                Ok(())
            }
        }
    }

    fn complete(target: &Target, request: Request<Self>, status: Result) {
        bump(&target.stats.completions);
        request.end(status);
    }
}

/// Bios for a read or a write, one per [`CHUNK`] of the request; a write's
/// data is copied into them now.
fn data_io(target: &Target, request: &mut Request<Forward>) -> Result<Io<KVec<u8>>> {
    let op = request.op();
    let flags = if op == Op::Write {
        request.flags() & (IoFlags::SYNC | IoFlags::FUA | IoFlags::PREFLUSH)
    } else {
        request.flags() & IoFlags::SYNC
    };
    let mut io = Io::new(&target.bdev, op, flags, GFP_KERNEL)?;
    let bytes = request.bytes() as usize;
    let sector = request.sector();
    let mut offset = 0;
    while offset < bytes {
        let len = CHUNK.min(bytes - offset);
        let mut buffer = KVec::from_elem(0u8, len, GFP_KERNEL)?;
        if op == Op::Write {
            let (pages, mut slot) = request.parts();
            pages.copy_to_buffer(&mut slot.sg, offset, &mut buffer)?;
        }
        io.add_data(sector + (offset as u64 >> SECTOR_SHIFT), buffer)?;
        offset += len;
    }
    let bios = bytes.div_ceil(CHUNK) as u64;
    target.stats.bios.fetch_add(bios, Ordering::Relaxed);
    if bios > 1 {
        bump(&target.stats.split_requests);
    }
    Ok(io)
}

/// One bio for a discard, write-zeroes or secure erase.
fn range_io(target: &Target, request: &Request<Forward>) -> Result<Io<KVec<u8>>> {
    let flags = if request.op() == Op::WriteZeroes {
        request.flags() & (IoFlags::SYNC | IoFlags::NOUNMAP)
    } else {
        request.flags() & IoFlags::SYNC
    };
    let mut io = Io::new(&target.bdev, request.op(), flags, GFP_KERNEL)?;
    io.add_range(request.sector(), request.bytes())?;
    bump(&target.stats.bios);
    Ok(io)
}

/// Ends `request` from the module's completion workqueue.
fn end_in_process_context(request: Request<Forward>, status: Result) {
    // Not the last reference (the disk's target holds one), so dropping
    // it here does not destroy the queue.
    let completer = request.queue_data().completer.clone();
    // Without memory for the work item, the closure and the request in it
    // are dropped unrun, and a dropped request ends with EIO.
    let _ = completer
        .queue()
        .try_spawn(GFP_ATOMIC, move || request.end(status));
}

/// The end of a request's bios, in whatever context the backing device
/// completes in: a read's buffers go into the request's pages; then the
/// request is completed through blk-mq (which ends it outside this
/// context, see the module comment).
fn finish(mut request: Request<Forward>, buffers: KVec<KVec<u8>>, status: Result) {
    if status.is_err() {
        bump(&request.queue_data().stats.errors);
    }
    if request.op() != Op::Read {
        let in_flush_sequence = request.op() == Op::Flush
            || !(request.flags() & (IoFlags::PREFLUSH | IoFlags::FUA)).is_empty();
        if in_flush_sequence {
            end_in_process_context(request, status);
        } else {
            request.complete(status);
        }
        return;
    }
    let status = status.and_then(|()| {
        let (mut pages, mut slot) = request.parts();
        let mut offset = 0;
        for buffer in buffers.iter() {
            pages.copy_from_buffer(&mut slot.sg, offset, buffer)?;
            offset += buffer.len();
        }
        Ok(())
    });
    request.complete(status);
}
