// SPDX-License-Identifier: GPL-2.0

//! The blk-mq driver (`rnbd_queue_rq()`, `rnbd_client_xfer_request()`,
//! `msg_io_conf()`, `rnbd_softirq_done_fn()`): each request becomes one
//! RNBD IO message over RTRS (spec §6.4).
//!
//! Ours, unlike upstream: while the device is `closed` (no path
//! connected), requests wait up to `hold_io_sec` for the reconnect
//! instead of failing at once; so do requests RTRS could not carry
//! because the last path just went down.

use core::sync::atomic::Ordering;

use kernel::str::CString;

use kernel::error::Error;
use kernel::init::PinInit;
use kernel::prelude::*;
use kernel::sync::Arc;

use crate::dev::{now_ms, DevIo, DevState};
use crate::kernel_ext::block::{
    Busy, HctxType, HwQueue, IoFlags, Op, Operations, QueueMaps, Request,
};
use crate::kernel_ext::callback::Callback;
use crate::kernel_ext::errno::{ECONNABORTED, ECONNRESET, ESHUTDOWN};
use crate::kernel_ext::scatterlist::SgTable;
use crate::proto;
use crate::rtrs_clt::ops::{ConType, Dir, PermitWait, ReqData};

/// How often held requests look at the device again.
const HOLD_POLL_MS: u32 = 100;
/// `rnbd_clt_dev_kick_mq_queue(dev, hctx, 10)`.
const RETRY_MS: u32 = 10;

/// Per tag set (one per session): segments a request may have (RTRS
/// `max_segments`) and the queues: `nr_default` shared by the DEFAULT and
/// READ maps (`num_online_cpus()` when the session was made), then
/// `nr_poll` poll queues (`setup_mq_tags()`, `rnbd_rdma_map_queues()`).
pub(crate) struct SetInfo {
    pub(crate) max_segments: usize,
    pub(crate) nr_default: u32,
    pub(crate) nr_poll: u32,
    pub(crate) sessname: CString,
}

impl SetInfo {
    /// `nr_maps`: 3 with poll queues, else 2 (DEFAULT and READ).
    pub(crate) fn nr_maps(&self) -> u32 {
        if self.nr_poll > 0 {
            3
        } else {
            2
        }
    }

    /// The poll connection of a poll hardware queue.
    fn poll_index(&self, hw: &HwQueue) -> Option<u16> {
        if hw.kind() != HctxType::Poll {
            return None;
        }
        let i = hw.index().checked_sub(self.nr_default)?;
        (i < self.nr_poll).then_some(i as u16)
    }
}

/// Per request slot (`struct rnbd_iu`): its scatterlist (lent to RTRS
/// while the request is in flight) and when it started waiting for a
/// path (0: not waiting).
pub(crate) struct Slot {
    sg: Option<SgTable>,
    held_since_ms: i64,
}

/// Per disk: the device.
pub(crate) struct DevQueue {
    pub(crate) io: Arc<DevIo>,
}

impl DevQueue {
    pub(crate) fn new(io: Arc<DevIo>) -> impl PinInit<DevQueue, Error> {
        try_init!(DevQueue { io })
    }
}

pub(crate) struct Blk;

/// `rq_to_rnbd_flags()` and the RTRS direction (`rq_data_dir()`).
fn rnbd_rw(op: Op, flags: IoFlags) -> Option<(proto::Rw, Dir)> {
    let (rop, dir) = match op {
        Op::Read => (proto::Op::Read, Dir::Read),
        Op::Write => (proto::Op::Write, Dir::Write),
        Op::Flush => (proto::Op::Flush, Dir::Read),
        Op::Discard => (proto::Op::Discard, Dir::Write),
        Op::SecureErase => (proto::Op::SecureErase, Dir::Write),
        Op::WriteZeroes => (proto::Op::WriteZeroes, Dir::Write),
        Op::Other(_) => return None,
    };
    // op_is_sync(): reads, or SYNC/FUA/PREFLUSH; op_is_flush(): FUA or
    // PREFLUSH, sent as RNBD_F_FUA in every protocol version (a 2.0
    // server, which ignores RNBD_F_PREFLUSH, then at least writes
    // through). Protocol 2.1 adds RNBD_F_PREFLUSH, 2.2 RNBD_F_NOUNMAP, as
    // mainline's rq_to_rnbd_flags().
    let preflush = flags.contains(IoFlags::PREFLUSH);
    let flushy = flags.contains(IoFlags::FUA) || preflush;
    let sync = op == Op::Read || flags.contains(IoFlags::SYNC) || flushy;
    Some((
        proto::Rw {
            op: rop,
            sync,
            fua: flushy,
            preflush,
            nounmap: op == Op::WriteZeroes && flags.contains(IoFlags::NOUNMAP),
        },
        dir,
    ))
}

/// Errors that mean "no path": held like a disconnected device.
fn is_link_error(e: Error) -> bool {
    e == ECONNABORTED() || e == ECONNRESET() || e == ESHUTDOWN()
}

/// Ends `rq` unless it may still wait for a path; then it goes back to
/// blk-mq, to be dispatched again `HOLD_POLL_MS` later.
fn hold_or_fail(mut rq: Request<Blk>, hw: Option<&HwQueue>, e: Error) -> Result<(), Busy<Blk>> {
    let since = rq.data().held_since_ms;
    let since = if since == 0 { now_ms() } else { since };
    if is_link_error(e) && DevIo::within_hold(since) {
        rq.data_mut().get_mut().held_since_ms = since;
        return match hw {
            Some(hw) => {
                hw.delay_run(HOLD_POLL_MS);
                Err(rq.dev_busy())
            }
            None => {
                rq.requeue(true);
                Ok(())
            }
        };
    }
    rq.data_mut().get_mut().held_since_ms = 0;
    rq.end(Err(e));
    Ok(())
}

/// `msg_io_conf()`: the request back from RTRS (it travels inside the
/// data, with or without pages), completed on its CPU.
fn io_done(data: ReqData, res: Result) {
    let Ok((mut rq, sg)) = data.into_request::<Blk>() else {
        // Not ours: cannot happen (the data was made from our request).
        return;
    };
    rq.data_mut().get_mut().sg = Some(sg);
    match res {
        Err(e) if is_link_error(e) => {
            let _ = hold_or_fail(rq, None, e);
        }
        _ => rq.complete(res),
    }
}

impl Operations for Blk {
    type TagSetData = SetInfo;
    type QueueData = DevQueue;
    type RequestData = Slot;

    fn init_request_data(info: &SetInfo) -> impl PinInit<Slot, Error> {
        try_init!(Slot {
            sg: Some(SgTable::new(info.max_segments.max(1))?),
            held_since_ms: 0,
        })
    }

    fn queue_rq(
        q: &DevQueue,
        hw: &HwQueue,
        mut rq: Request<Self>,
        _last: bool,
    ) -> Result<(), Busy<Self>> {
        let io = &q.io;
        match io.state() {
            DevState::Mapped => {}
            DevState::MappedDisconnected if io.holding() => {
                hw.delay_run(HOLD_POLL_MS);
                return Err(rq.dev_busy());
            }
            _ => {
                rq.data_mut().get_mut().held_since_ms = 0;
                rq.end(Err(EIO));
                return Ok(());
            }
        }
        let Some(rtrs) = io.sess.rtrs() else {
            return hold_or_fail(rq, Some(hw), ECONNABORTED());
        };
        // A poll queue's requests go on its poll connection, where only
        // `poll` finds their completions.
        let poll = io.sess.tag_set.data().poll_index(hw);
        let con = match poll {
            Some(i) => ConType::Poll(i),
            None => ConType::Io,
        };
        let Some(permit) = rtrs.get_permit(con, PermitWait::NoWait) else {
            // blk-mq reruns the queue when a tag is freed (upstream parks
            // the queue until a permit is put).
            return Err(rq.busy());
        };
        let Some((rw, dir)) = rnbd_rw(rq.op(), rq.flags()) else {
            rq.end(Err(EIO));
            return Ok(());
        };
        rq.start();
        let msg = proto::Io::new(
            io.device_id.load(Ordering::Relaxed),
            rq.sector(),
            rw,
            rq.bytes(),
            rq.ioprio(),
        )
        .encode();
        // The request travels inside the data (with its pages, or none
        // for flush, discard, write zeroes); nothing is allocated.
        let Some(sg) = rq.data_mut().get_mut().sg.take() else {
            rq.end(Err(EIO));
            return Ok(());
        };
        let data = match ReqData::from_request(rq, sg) {
            Ok(d) => d,
            Err((e, mut rq, sg)) => {
                rq.data_mut().get_mut().sg = Some(sg);
                if e == ENOMEM {
                    hw.delay_run(RETRY_MS);
                    return Err(rq.busy());
                }
                rq.end(Err(e));
                return Ok(());
            }
        };
        match rtrs.request(dir, permit, &msg, data, Callback::from_fn(io_done)) {
            Ok(()) => {
                if poll.is_some() {
                    io.poll_sent.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            }
            Err((e, _permit, data)) => {
                let Ok((mut rq, sg)) = data.into_request::<Blk>() else {
                    return Ok(());
                };
                rq.data_mut().get_mut().sg = Some(sg);
                if e == EAGAIN || e == ENOMEM {
                    hw.delay_run(RETRY_MS);
                    return Err(rq.busy());
                }
                hold_or_fail(rq, Some(hw), e)
            }
        }
    }

    /// `rnbd_rdma_map_queues()`: DEFAULT and READ share the first
    /// `nr_default` queues, POLL gets the rest.
    fn map_queues(info: &SetInfo, maps: &mut QueueMaps<'_>) {
        let n = info.nr_default;
        for kind in [HctxType::Default, HctxType::Read] {
            if let Err(e) = maps.map(kind, n, 0) {
                pr_err!(
                    "[session={}] mapping {:?} queues: {:?}\n",
                    &*info.sessname,
                    kind,
                    e
                );
            }
        }
        if info.nr_poll > 0 {
            if let Err(e) = maps.map(HctxType::Poll, info.nr_poll, n) {
                pr_err!(
                    "[session={}] mapping poll queues: {:?}\n",
                    &*info.sessname,
                    e
                );
            }
            pr_info!(
                "[session={}] mapped {}/{}/{} default/read/poll queues.\n",
                &*info.sessname,
                n,
                n,
                info.nr_poll
            );
        } else {
            pr_info!(
                "[session={}] mapped {}/{} default/read queues.\n",
                &*info.sessname,
                n,
                n
            );
        }
    }

    /// `rnbd_rdma_poll()` → `rtrs_clt_rdma_cq_direct()`: the completions
    /// of this poll queue's connection on every connected path.
    fn poll(q: &DevQueue, hw: &HwQueue) -> i32 {
        let io = &q.io;
        let Some(index) = io.sess.tag_set.data().poll_index(hw) else {
            return -1;
        };
        let Some(rtrs) = io.sess.rtrs() else {
            return -1;
        };
        let n = rtrs.poll(u32::from(index));
        if n > 0 {
            io.poll_found.fetch_add(n as u64, Ordering::Relaxed);
        }
        n
    }

    /// `rnbd_softirq_done_fn()`.
    fn complete(_q: &DevQueue, mut rq: Request<Self>, status: Result) {
        rq.data_mut().get_mut().held_since_ms = 0;
        rq.end(status);
    }
}
