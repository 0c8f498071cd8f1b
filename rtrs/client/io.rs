// SPDX-License-Identifier: GPL-2.0

//! The IO path of a connected path (`rtrs-clt.c:rtrs_clt_write_req()`,
//! `rtrs_clt_read_req()`, `rtrs_clt_rdma_done()`, `complete_rdma_req()`;
//! protocol reference §4): one slot per server buffer id with its
//! fast-registration MR and header buffer (IU); a request maps its data
//! into the MR, posts REG_MR + RDMA_WRITE_WITH_IMM (batched: signalled one
//! in `IO_SIGNAL_INTERVAL`), and completes when both the send context is
//! handed back and the server's IO_RSP immediate is in, after a LOCAL_INV
//! of the MR unless the server invalidated it.

use core::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use kernel::prelude::*;
use kernel::sync::Arc;

use super::ops::{Dir, Done, ReqData};
use super::path::CltPath;
use super::permits::Permit;
use super::slot::{AfterAnswer, AfterPost, Drained};
use crate::kernel_ext::errno::EMSGSIZE;
use crate::kernel_ext::rdma::buffer::DmaBuffer;
use crate::kernel_ext::rdma::mr::{FrMr, MrAccess, PeerInvalidation};
use crate::kernel_ext::rdma::qp::QueuePair;
use crate::kernel_ext::rdma::sg::DmaDir;
use crate::kernel_ext::rdma::verbs::ProtectionDomain;
use crate::kernel_ext::rdma::wr::{Completion, Dst, Remote, Src, WcStatus, WorkCompletion, Wr};
use crate::kernel_ext::sync::new_spinlock_bh;
use crate::kernel_ext::sync::SpinLockBh;
use crate::wire::{Imm, IoReqImm, RdmaRead, RdmaWrite, RkeyRsp, SgDesc, RTRS_MSG_NEED_INVAL_F};

/// An IO connection signals one request chain in this many (the others
/// come back with the next signalled one, see `QueuePair::post_send_batched`).
pub(crate) const IO_SIGNAL_INTERVAL: u32 = 4;

/// The most pages (4 KiB) one request maps (`RTRS_MAX_SEGMENTS`).
pub(crate) const MAX_SEGMENTS: u32 = 128;

/// A remote buffer (chunk) of the server.
pub(crate) struct Rbuf {
    pub(crate) addr: u64,
    pub(crate) rkey: AtomicU32,
}

/// What the connection established taught us (shared with the peer).
pub(crate) use crate::wire::PathParams;

/// The request of a slot while it is in flight.
pub(crate) struct InFlight {
    pub(crate) dir: Dir,
    pub(crate) permit: Permit,
    pub(crate) done: Done,
    pub(crate) usr_len: usize,
    /// The data when it is not in the MR (no data).
    pub(crate) plain: Option<ReqData>,
    pub(crate) min_inflight: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Request,
    Inv,
}

/// A slot's work request context: the MR, the header buffer, and the
/// request in flight.
pub(crate) struct IoCtx {
    conns: Arc<Conns>,
    mem_id: u16,
    mr: FrMr,
    iu: DmaBuffer,
    qp: Option<Arc<QueuePair>>,
    phase: Phase,
    req: Option<InFlight>,
}

/// A slot's work request context, owned by the slot or the QP.
type Ctx = KBox<Wr<IoCtx>>;

/// A slot (`struct rtrs_clt_io_req`): see `slot.rs`.
type Slot = super::slot::Slot<Ctx, PeerInvalidation>;

struct SlotTable {
    slots: KVec<Slot>,
    /// Per connection: an invalidation received and not yet claimed by
    /// the IO_RSP_W_INV that follows it.
    inv: KVec<Option<PeerInvalidation>>,
}

/// One connected incarnation of a path: its PD and QPs, the server's
/// buffers, the slots. Replaced on every reconnect.
#[pin_data]
pub(crate) struct Conns {
    pub(crate) path: Arc<CltPath>,
    pub(crate) pd: Arc<ProtectionDomain>,
    pub(crate) qps: KVec<Arc<QueuePair>>,
    pub(crate) params: PathParams,
    pub(crate) rbufs: KVec<Rbuf>,
    #[pin]
    table: SpinLockBh<SlotTable>,
    /// IO_RSPs for slots not in use (a misbehaving server): logged.
    pub(crate) stray: AtomicI32,
}

impl Conns {
    pub(crate) fn new(
        path: &Arc<CltPath>,
        pd: Arc<ProtectionDomain>,
        qps: KVec<Arc<QueuePair>>,
        params: PathParams,
        rbufs: KVec<Rbuf>,
        max_pages: u32,
    ) -> Result<Arc<Conns>> {
        let qd = usize::from(params.queue_depth);
        let mut slots = KVec::with_capacity(qd, GFP_KERNEL)?;
        for _ in 0..qd {
            slots.push(Slot::default(), GFP_KERNEL)?;
        }
        let mut inv = KVec::with_capacity(qps.len(), GFP_KERNEL)?;
        for _ in 0..qps.len() {
            inv.push(None, GFP_KERNEL)?;
        }
        let pd_for_conns = pd.clone();
        let conns = Arc::pin_init(
            pin_init!(Conns {
                path: path.clone(),
                pd: pd_for_conns,
                qps,
                params,
                rbufs,
                table <- new_spinlock_bh!(SlotTable { slots, inv }, "Conns::table"),
                stray: AtomicI32::new(0),
            }),
            GFP_KERNEL,
        )?;
        // The contexts hold the conns: made after it, put into its slots.
        for mem_id in 0..params.queue_depth {
            let ctx = Wr::new(
                IoCtx {
                    conns: conns.clone(),
                    mem_id,
                    mr: FrMr::new(&pd, max_pages)?,
                    iu: DmaBuffer::new(&pd, params.max_hdr_size as usize, GFP_KERNEL)?,
                    qp: None,
                    phase: Phase::Request,
                    req: None,
                },
                GFP_KERNEL,
            )?;
            let mut table = conns.table.lock();
            if let Some(slot) = table.slots.get_mut(usize::from(mem_id)) {
                slot.put_back(ctx);
            }
        }
        Ok(conns)
    }

    /// Sends `req` on connection `cid` through slot `mem_id`. On failure
    /// the request comes back.
    pub(crate) fn send(
        self: &Arc<Self>,
        cid: usize,
        mut req: InFlight,
        usr: &[u8],
        data: ReqData,
    ) -> core::result::Result<(), (Error, InFlight, ReqData)> {
        let p = self.params;
        let mem_id = req.permit.mem_id();
        let data_len = data.len();
        let Ok(layout) = p.io_layout(req.dir == Dir::Write, usr.len(), data_len) else {
            return Err((EMSGSIZE(), req, data));
        };
        let hdr_len = layout.hdr_len;
        let Some(qp) = self.qps.get(cid).cloned() else {
            return Err((EINVAL, req, data));
        };
        let Some(rbuf) = self.rbufs.get(usize::from(mem_id)) else {
            return Err((EINVAL, req, data));
        };
        // Take the slot.
        let mut ctx = {
            let mut table = self.table.lock();
            let Some(slot) = table.slots.get_mut(usize::from(mem_id)) else {
                return Err((EINVAL, req, data));
            };
            let Some(ctx) = slot.take_for_send() else {
                drop(table);
                return Err((EBUSY, req, data));
            };
            ctx
        };
        // Map the data into the MR.
        let mut has_mr = false;
        if data_len > 0 {
            let dir = match req.dir {
                Dir::Write => DmaDir::ToDevice,
                Dir::Read => DmaDir::FromDevice,
            };
            let mapped = match data.dma_map(&self.pd, dir) {
                Ok(mapped) => mapped,
                Err((e, data)) => {
                    self.put_back(ctx);
                    return Err((e, req, data));
                }
            };
            if let Err((e, mapped)) = ctx.mr.map_data(mapped) {
                self.put_back(ctx);
                return Err((e, req, mapped.unmap()));
            }
            if let Err(e) = ctx.mr.update_key() {
                let data = ctx
                    .mr
                    .unmap_data()
                    .map(|m| m.unmap())
                    .unwrap_or_else(|_| ReqData::none());
                self.put_back(ctx);
                return Err((e, req, data));
            }
            has_mr = true;
        } else {
            req.plain = Some(data);
        }
        // The header: user message, then the RTRS trailer.
        let usr_len = usr.len();
        req.usr_len = usr_len;
        let imm = IoReqImm {
            buf_id: u32::from(mem_id),
            offset: layout.trailer_offset as u32,
        }
        .encode(p.mem_bits);
        let desc = SgDesc::new(ctx.mr.iova(), ctx.mr.rkey(), ctx.mr.length() as u32);
        let filled = imm.map_err(|_| EMSGSIZE()).and_then(|imm| {
            let iu = ctx.iu.as_mut_slice();
            iu.get_mut(..usr_len)
                .ok_or(EMSGSIZE())?
                .copy_from_slice(usr);
            let rest = iu.get_mut(usr_len..hdr_len).ok_or(EMSGSIZE())?;
            match req.dir {
                Dir::Write => {
                    RdmaWrite::new(usr_len as u16)
                        .encode_into(rest)
                        .map_err(|_| EINVAL)?;
                }
                Dir::Read => {
                    if has_mr {
                        RdmaRead::encode_with_descs(
                            usr_len as u16,
                            RTRS_MSG_NEED_INVAL_F,
                            &[desc],
                            rest,
                        )
                        .map_err(|_| EINVAL)?;
                    } else {
                        RdmaRead::encode_with_descs(usr_len as u16, 0, &[], rest)
                            .map_err(|_| EINVAL)?;
                    }
                }
            }
            Ok(imm)
        });
        let imm = match filled {
            Ok(imm) => imm,
            Err(e) => {
                let data = if has_mr {
                    ctx.mr
                        .unmap_data()
                        .map(|m| m.unmap())
                        .unwrap_or_else(|_| ReqData::none())
                } else {
                    req.plain.take().unwrap_or_else(ReqData::none)
                };
                self.put_back(ctx);
                return Err((e, req, data));
            }
        };
        // A WRITE's data and header go in one RDMA write from the chunk's
        // start; a READ's header alone, at its offset.
        let remote_off = match req.dir {
            Dir::Write => 0,
            Dir::Read => layout.hdr_offset as u64,
        };
        let remote = Remote {
            addr: rbuf.addr + remote_off,
            rkey: rbuf.rkey.load(Ordering::Acquire),
        };
        let access = match req.dir {
            Dir::Write => MrAccess::LOCAL_WRITE,
            Dir::Read => MrAccess::LOCAL_WRITE.union(MrAccess::REMOTE_WRITE),
        };
        let dir = req.dir;
        ctx.qp = Some(qp.clone());
        ctx.phase = Phase::Request;
        ctx.req = Some(req);
        let posted = qp.post_send_batched(ctx, |ctx, chain| {
            let ctx: &IoCtx = ctx;
            let iu = Src::range(&ctx.iu, 0, hdr_len)?;
            if has_mr {
                chain.reg_mr(&ctx.mr, access)?;
                match dir {
                    Dir::Write => chain.write_imm(&[Src::mr(&ctx.mr), iu], remote, imm),
                    Dir::Read => chain.write_imm(&[iu], remote, imm),
                }
            } else {
                chain.write_imm(&[iu], remote, imm)
            }
        });
        match posted {
            Ok(()) => {
                let next = {
                    let mut table = self.table.lock();
                    match table.slots.get_mut(usize::from(mem_id)) {
                        // The send completion may already have come.
                        Some(slot) => slot.posted(),
                        None => AfterPost::Wait,
                    }
                };
                match next {
                    AfterPost::Finish(ctx) => finish(ctx),
                    // The answer is in and the send not handed back yet
                    // (`io_rsp` saw us posting and left the kick to us).
                    AfterPost::Kick => {
                        if qp.kick().is_err() {
                            self.path.error_recovery();
                        }
                    }
                    AfterPost::Wait => {}
                }
                Ok(())
            }
            Err(e) => {
                let error = e.error;
                let Some(mut ctx) = e.wr else {
                    // The QP kept the context (partial post): the
                    // request completes from the flush.
                    let mut table = self.table.lock();
                    if let Some(slot) = table.slots.get_mut(usize::from(mem_id)) {
                        slot.post_kept();
                    }
                    return Ok(());
                };
                let Some(mut req) = ctx.req.take() else {
                    // Cannot happen: the request was put in just above.
                    self.put_back(ctx);
                    return Ok(());
                };
                // REG_MR counted as posted only when the post worked, so
                // the MR is invalid again here.
                let data = if has_mr {
                    match ctx.mr.unmap_data() {
                        Ok(m) => m.unmap(),
                        Err(_) => ReqData::none(),
                    }
                } else {
                    req.plain.take().unwrap_or_else(ReqData::none)
                };
                self.put_back(ctx);
                Err((error, req, data))
            }
        }
    }

    /// Returns an unposted context to its free slot.
    fn put_back(&self, mut ctx: Ctx) {
        ctx.req = None;
        ctx.qp = None;
        let mut table = self.table.lock();
        if let Some(slot) = table.slots.get_mut(usize::from(ctx.mem_id)) {
            slot.put_back(ctx);
        }
    }

    /// A receive that invalidated one of our rkeys, on connection `cid`.
    pub(crate) fn stash_invalidation(&self, cid: usize, inv: PeerInvalidation) {
        let mut table = self.table.lock();
        if let Some(stash) = table.inv.get_mut(cid) {
            *stash = Some(inv);
        }
    }

    /// The server's IO_RSP for buffer `msg_id` (on connection `cid`).
    pub(crate) fn io_rsp(&self, cid: usize, msg_id: u32, errno: i32, w_inv: bool) {
        let ready = {
            let mut table = self.table.lock();
            let inv = if w_inv {
                table.inv.get_mut(cid).and_then(|s| s.take())
            } else {
                None
            };
            match table.slots.get_mut(msg_id as usize) {
                Some(slot) => slot.answer(errno, inv),
                None => AfterAnswer::Stray,
            }
        };
        match ready {
            AfterAnswer::Stray => {
                self.stray.fetch_add(1, Ordering::Relaxed);
            }
            AfterAnswer::Finish(ctx) => finish(ctx),
            AfterAnswer::Kick => {
                // The answer came before our unsignalled send was handed
                // back: make sure a signalled send follows it.
                if let Some(qp) = self.qps.get(cid) {
                    if let Err(e) = qp.kick() {
                        pr_err!("rtrs client: send fence failed: {:?}\n", e);
                        self.path.error_recovery();
                    }
                }
            }
            AfterAnswer::Wait => {}
        }
    }

    /// Updates the rkey of buffer `buf_id` from an RKEY_RSP.
    pub(crate) fn rkey_rsp(&self, cid: usize, msg: &RkeyRsp, imm: Imm) -> Result {
        msg.check(self.params.queue_depth, imm)
            .map_err(|_| EINVAL)?;
        let Imm::IoRsp {
            msg_id,
            errno,
            w_inv,
        } = imm
        else {
            return Ok(());
        };
        if let Some(rbuf) = self.rbufs.get(usize::from(msg.buf_id.get())) {
            rbuf.rkey.store(msg.rkey.get(), Ordering::Release);
        }
        self.io_rsp(cid, msg_id, errno, w_inv);
        Ok(())
    }

    /// After the path's QPs are drained (process context): every request
    /// still in a slot is taken out, its MR reclaimed if needed, and
    /// returned with the server's answer if one came, else for failover.
    /// Also breaks the reference cycle of the contexts.
    pub(crate) fn drain_slots(&self) -> KVec<(InFlight, ReqData, Option<i32>, KVec<u8>)> {
        let mut out = KVec::new();
        let qd = usize::from(self.params.queue_depth);
        for i in 0..qd {
            // Wait for a `send` still posting into this slot (it fails
            // fast on the closed QP).
            let mut ctx = loop {
                let mut table = self.table.lock();
                let Some(slot) = table.slots.get_mut(i) else {
                    break None;
                };
                match slot.drain() {
                    Drained::Posting => {
                        drop(table);
                        crate::kernel_ext::delay::msleep(1);
                    }
                    Drained::Taken(ctx, rsp) => break ctx.map(|c| (c, rsp.map(|r| r.0))),
                }
            };
            let Some((mut ctx, rsp)) = ctx.take() else {
                continue;
            };
            if let Some(mut req) = ctx.req.take() {
                // Process context: the MR may be deregistered here.
                if ctx.mr.is_registered() {
                    if let Err(e) = ctx.mr.reclaim() {
                        pr_err!("rtrs client: MR reclaim failed: {:?}\n", e);
                    }
                }
                let data = match ctx.mr.unmap_data() {
                    Ok(m) => m.unmap(),
                    Err(_) => req.plain.take().unwrap_or_else(ReqData::none),
                };
                let mut usr = KVec::new();
                let usr_len = req.usr_len.min(ctx.iu.len());
                if usr
                    .extend_from_slice(&ctx.iu.as_slice()[..usr_len], GFP_KERNEL)
                    .is_err()
                {
                    pr_err!("rtrs client: no memory to fail over a request\n");
                }
                if out.push((req, data, rsp, usr), GFP_KERNEL).is_err() {
                    pr_err!("rtrs client: no memory to fail over a request\n");
                }
            }
            // `ctx` (its MR and IU, and a reference to us) drops here, in
            // process context.
            drop(ctx);
        }
        out
    }
}

/// Both the send and the answer are in: invalidate the MR if the server
/// did not, then complete.
fn finish(mut ctx: Ctx) {
    let conns = ctx.conns.clone();
    let mem_id = usize::from(ctx.mem_id);
    let rsp = {
        let table = conns.table.lock();
        table.slots.get(mem_id).and_then(|slot| slot.rsp().copied())
    };
    let Some((errno, inv)) = rsp else {
        conns.park(ctx);
        return;
    };
    if ctx.mr.is_registered() {
        if let Some(inv) = inv {
            ctx.mr.apply_invalidation(&inv);
        }
    }
    if ctx.mr.is_registered() {
        // LOCAL_INV before the memory goes back (`rtrs_inv_rkey()`).
        let Some(qp) = ctx.qp.clone() else {
            conns.park(ctx);
            return;
        };
        ctx.phase = Phase::Inv;
        {
            let mut table = conns.table.lock();
            if let Some(slot) = table.slots.get_mut(mem_id) {
                slot.reposted();
            }
        }
        if let Err(e) = qp.post_send(ctx, |ctx, chain| chain.local_inv(&ctx.mr)) {
            if let Some(ctx) = e.wr {
                // The QP is closing: the drain reclaims the MR.
                conns.park(ctx);
            }
        }
        return;
    }
    complete(ctx, errno);
}

/// Completes the request of a context whose MR is invalid.
fn complete(mut ctx: Ctx, errno: i32) {
    let conns = ctx.conns.clone();
    let Some(mut req) = ctx.req.take() else {
        conns.put_back(ctx);
        return;
    };
    let data = match ctx.mr.unmap_data() {
        Ok(m) => m.unmap(),
        Err(_) => req.plain.take().unwrap_or_else(ReqData::none),
    };
    conns.put_back(ctx);
    let result = if errno == 0 {
        Ok(())
    } else {
        Err(Error::from_errno(errno))
    };
    let path = conns.path.clone();
    path.request_done(&req, data.len(), result.is_ok());
    let InFlight { permit, done, .. } = req;
    done.call(data, result);
    drop(permit);
}

impl Conns {
    /// Keeps a context in its slot for the drain (the QP failed).
    fn park(&self, ctx: Ctx) {
        let mut table = self.table.lock();
        if let Some(slot) = table.slots.get_mut(usize::from(ctx.mem_id)) {
            slot.park(ctx);
        }
    }
}

impl Completion for IoCtx {
    fn complete(ctx: KBox<Wr<Self>>, wc: &WorkCompletion<'_>) {
        let conns = ctx.conns.clone();
        if !wc.is_success() {
            if wc.status() != WcStatus::Flushed {
                pr_err!("rtrs client: RDMA failed: {}\n", wc.status_text());
            }
            conns.park(ctx);
            conns.path.error_recovery();
            return;
        }
        if ctx.phase == Phase::Inv {
            // The LOCAL_INV completed: the MR is invalid (marked by the
            // layer).
            let errno = {
                let table = conns.table.lock();
                table
                    .slots
                    .get(usize::from(ctx.mem_id))
                    .and_then(|s| s.rsp().map(|r| r.0))
                    .unwrap_or(0)
            };
            complete(ctx, errno);
            return;
        }
        let ready = {
            let mut table = conns.table.lock();
            let mem_id = usize::from(ctx.mem_id);
            match table.slots.get_mut(mem_id) {
                Some(slot) => slot.send_done(ctx),
                None => None,
            }
        };
        if let Some(ctx) = ready {
            finish(ctx);
        }
    }
}

/// A posted receive of a connection: empty, or an 8-byte buffer for
/// RKEY_RSP (`NEW_RKEY_F`).
pub(crate) struct RecvCtx {
    pub(crate) conns: Arc<Conns>,
    pub(crate) cid: usize,
    pub(crate) buf: Option<DmaBuffer>,
}

/// Posts a receive.
pub(crate) fn post_recv(qp: &QueuePair, ctx: KBox<Wr<RecvCtx>>) -> Result {
    qp.post_recv(ctx, |ctx, sges| match ctx.buf.as_mut() {
        Some(buf) => sges.add(Dst::buffer(buf)),
        None => Ok(()),
    })
    .map_err(|e| e.error)
}

/// Posts the receives of every connection (`post_recv_path()`): 2 x 512
/// on connection 0, 2 x queue_depth on the others.
pub(crate) fn post_recv_path(conns: &Arc<Conns>) -> Result {
    for (cid, qp) in conns.qps.iter().enumerate() {
        let n = if cid == 0 {
            crate::wire::SERVICE_CON_QUEUE_DEPTH as usize
        } else {
            usize::from(conns.params.queue_depth)
        } * 2;
        for _ in 0..n {
            let buf = if conns.params.new_rkey {
                Some(DmaBuffer::new(&conns.pd, RkeyRsp::SIZE, GFP_KERNEL)?)
            } else {
                None
            };
            let ctx = Wr::new(
                RecvCtx {
                    conns: conns.clone(),
                    cid,
                    buf,
                },
                GFP_KERNEL,
            )?;
            post_recv(qp, ctx)?;
        }
    }
    Ok(())
}

fn repost(ctx: KBox<Wr<RecvCtx>>) {
    let conns = ctx.conns.clone();
    let cid = ctx.cid;
    let Some(qp) = conns.qps.get(cid).cloned() else {
        return;
    };
    if let Err(e) = post_recv(&qp, ctx) {
        if !qp.is_closed() {
            pr_err!("rtrs client: receive not re-posted: {:?}\n", e);
            conns.path.error_recovery();
        }
    }
}

impl Completion for RecvCtx {
    fn complete(ctx: KBox<Wr<Self>>, wc: &WorkCompletion<'_>) {
        let conns = ctx.conns.clone();
        let path = conns.path.clone();
        if !wc.is_success() {
            if wc.status() != WcStatus::Flushed {
                pr_err!("rtrs client: receive failed: {}\n", wc.status_text());
                path.error_recovery();
            }
            return;
        }
        path.hb_received();
        let cid = ctx.cid;
        path.stats.update_wc(super::path::con_cpu(cid));
        if let Some(inv) = PeerInvalidation::from_wc(wc) {
            // SEND_WITH_INV: the IO_RSP_W_INV that follows claims it.
            conns.stash_invalidation(cid, inv);
            // The receive goes back at once. (Upstream re-posts two at the
            // IO_RSP_W_INV instead, `rtrs_post_recv_empty_x2()`; the count
            // is the same, without freeing and allocating one per read.)
            repost(ctx);
            return;
        }
        let Some(imm) = wc.imm_data() else {
            repost(ctx);
            return;
        };
        let Ok(imm) = Imm::decode(imm) else {
            pr_warn!("rtrs client: unknown IMM type {:#x}\n", imm);
            repost(ctx);
            return;
        };
        match imm {
            Imm::IoRsp {
                msg_id,
                errno,
                w_inv,
            } => {
                if conns.params.new_rkey {
                    // The RKEY_RSP in our buffer (`rtrs_clt_rkey_rsp_done()`).
                    let msg = ctx.buf.as_ref().and_then(|b| {
                        let len = (wc.byte_len() as usize).min(b.len());
                        RkeyRsp::decode(&b.as_slice()[..len]).ok()
                    });
                    let ok = match msg {
                        Some(msg) => conns.rkey_rsp(cid, &msg, imm).is_ok(),
                        None => false,
                    };
                    if !ok {
                        pr_err!("rtrs client: malformed rkey response\n");
                        path.error_recovery();
                        return;
                    }
                    repost(ctx);
                } else {
                    repost(ctx);
                    conns.io_rsp(cid, msg_id, errno, w_inv);
                }
            }
            Imm::HbMsg => {
                repost(ctx);
                path.send_hb(Imm::HbAck);
            }
            Imm::HbAck => {
                repost(ctx);
                path.hb_ack();
            }
            Imm::IoReq { .. } => {
                pr_warn!("rtrs client: unexpected IO_REQ immediate\n");
                repost(ctx);
            }
        }
    }
}

/// A heartbeat (empty RDMA WRITE_WITH_IMM).
pub(crate) struct HbCtx;

impl Completion for HbCtx {
    fn complete(_ctx: KBox<Wr<Self>>, _wc: &WorkCompletion<'_>) {}
}

/// Sends `imm` as an empty RDMA WRITE_WITH_IMM on `qp`.
pub(crate) fn send_imm(qp: &QueuePair, imm: Imm) {
    let Ok(imm) = imm.encode() else {
        return;
    };
    let Ok(ctx) = Wr::new(HbCtx, GFP_ATOMIC) else {
        return;
    };
    let _ = qp.post_send(ctx, |_, chain| {
        chain.write_imm(&[], Remote { addr: 0, rkey: 0 }, imm)
    });
}
