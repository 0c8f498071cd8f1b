// SPDX-License-Identifier: GPL-2.0

//! The IO path (`rtrs-srv.c:rtrs_srv_rdma_done()`, `process_io_req()`,
//! `rtrs_srv_inv_rkey()`, `rtrs_srv_resp_rdma()`; protocol reference
//! §4): an IO_REQ immediate names a chunk and the offset of the RTRS
//! trailer in it; with `always_invalidate` the chunk's MR is invalidated
//! first; the request goes to the user; its answer is an RDMA WRITE of the
//! read data, the chunk's re-registration under a new key, an optional
//! SEND_WITH_INV of the client's MR, and the IO_RSP immediate (with the
//! RKEY_RSP message when `always_invalidate`).
//!
//! Differences from upstream (see `Documentation/server.md`): a request
//! the C server drops silently or answers by closing the path (unknown
//! trailer type, `usr_len` beyond the offset, more than one descriptor, a
//! descriptor longer than the chunk) gets an error reply here (EINVAL), so
//! the client never waits forever.

use core::sync::atomic::Ordering;

use kernel::prelude::*;
use kernel::sync::Arc;

use super::ops::Dir;
use super::params::{ALWAYS_INVALIDATE, MAX_CHUNK_SIZE};
use super::path::{SrvPath, Taken};
use crate::kernel_ext::block::bio::DmaWindow;
use crate::kernel_ext::errno::{ENOTCONN, EOPNOTSUPP};
use crate::kernel_ext::rdma::buffer::DmaBuffer;
use crate::kernel_ext::rdma::mr::{FrMr, MrAccess};
use crate::kernel_ext::rdma::qp::QueuePair;
use crate::kernel_ext::rdma::wr::{Completion, Remote, SendChain, Src, WorkCompletion, Wr};
use crate::kernel_ext::trace;
use crate::wire::{mem_bits, Imm, IoKind, IoReq, IoReqImm, RkeyRsp, SgDesc, WireError};

/// One IO reply in this many is posted signalled (upstream signals one in
/// `queue_depth`, but frees the chunk at post time; here a chunk comes back
/// with its reply's context, so a small interval keeps a buffer the client
/// reuses at once from waiting long).
pub(crate) const REPLY_SIGNAL_INTERVAL: u32 = 4;

/// A chunk of a path: its MR (mapping `max_chunk_size` bytes) and the
/// RKEY_RSP message announcing the MR's new key.
pub(crate) struct Chunk {
    pub(crate) mr: FrMr,
    pub(crate) rkey_rsp: DmaBuffer,
}

impl Chunk {
    fn memory(&self) -> Option<&DmaBuffer> {
        self.mr.shared_memory()
    }
}

/// The errno an IO_RSP can carry (9 bits): C masks larger ones (so
/// `-ENOTSUPP`, 524, would arrive as `-ENOMEM`); here they become their
/// user-space equivalent or EIO.
fn wire_errno(errno: i32) -> i32 {
    const ENOTSUPP: u32 = 524;
    let abs = errno.unsigned_abs();
    if abs == 0 {
        0
    } else if abs <= crate::wire::IO_RSP_MAX_ERRNO {
        // At most 511: fits.
        -(abs as i32)
    } else if abs == ENOTSUPP {
        EOPNOTSUPP().to_errno()
    } else {
        EIO.to_errno()
    }
}

/// A request's reference to its path, counted in `SrvPath::requests`
/// until dropped: the path's close waits for the count to reach zero
/// before it frees what requests use.
struct CountedPath(Arc<SrvPath>);

impl CountedPath {
    fn new(path: &Arc<SrvPath>) -> Self {
        path.request_started();
        CountedPath(path.clone())
    }
}

impl Drop for CountedPath {
    fn drop(&mut self) {
        self.0.request_done();
    }
}

impl core::ops::Deref for CountedPath {
    type Target = Arc<SrvPath>;

    fn deref(&self) -> &Arc<SrvPath> {
        &self.0
    }
}

/// A request handed to the user (see `ops`). Owns its chunk until
/// answered.
///
/// Field order matters: `path` is declared last so that it is dropped
/// (and the request uncounted) only after the QP reference.
pub(crate) struct SrvRequest {
    qp: Arc<QueuePair>,
    buf_id: u16,
    chunk: Option<Chunk>,
    dir: Dir,
    data_len: usize,
    usr_len: usize,
    need_inval: bool,
    desc: Option<SgDesc>,
    path: CountedPath,
}

impl SrvRequest {
    pub(crate) fn dir(&self) -> Dir {
        self.dir
    }

    /// Bytes of data: written by the client (WRITE), or room for the
    /// reply (READ).
    pub(crate) fn data_len(&self) -> usize {
        self.data_len
    }

    /// The user header (the RNBD message), `usr_len` bytes.
    pub(crate) fn usr(&self) -> &[u8] {
        let range = self.data_len..self.data_len + self.usr_len;
        match self.chunk.as_ref().and_then(|c| c.memory()) {
            Some(mem) => mem.as_slice().get(range).unwrap_or(&[]),
            None => &[],
        }
    }

    /// The data: the client's (WRITE), or where the reply goes (READ).
    pub(crate) fn data_mut(&mut self) -> &mut [u8] {
        let len = self.data_len;
        match self.chunk.as_mut().and_then(|c| c.mr.shared_memory_mut()) {
            Some(mem) => mem.as_mut_slice().get_mut(..len).unwrap_or(&mut []),
            None => &mut [],
        }
    }

    /// Answers the request with `errno` (0 or negative), and for a
    /// successful READ writes the data into the client's buffer. Process
    /// context (may sleep briefly).
    pub(crate) fn respond(mut self, errno: i32) {
        self.send_response(errno);
    }

    fn send_response(&mut self, errno: i32) {
        let Some(mut chunk) = self.chunk.take() else {
            return;
        };
        let path: Arc<SrvPath> = (*self.path).clone();
        let errno = wire_errno(errno);
        let ai = ALWAYS_INVALIDATE.get();
        let write_data = match (errno, self.dir, self.desc) {
            (0, Dir::Read, Some(desc)) => Some(desc),
            _ => None,
        };
        let inval_key = match (self.need_inval, self.desc) {
            (true, Some(desc)) => Some(desc.key.get()),
            _ => None,
        };
        if trace::send_io_resp_imm_enabled() {
            trace::send_io_resp_imm(
                &path.addrs.name,
                &trace::SendIoRespImm {
                    // CONNECTED, or CLOSING once the QP is closed.
                    state: if self.qp.is_closed() { 2 } else { 1 },
                    dir: self.dir.traced(),
                    need_inval: self.need_inval,
                    always_invalidate: ai,
                    msg_id: u32::from(self.buf_id),
                    wr_cnt: self.qp.sends_outstanding() as i32,
                    signal_interval: REPLY_SIGNAL_INTERVAL,
                    errno,
                },
            );
        }
        let imm = Imm::IoRsp {
            msg_id: u32::from(self.buf_id),
            errno,
            w_inv: inval_key.is_some(),
        }
        .encode()
        .unwrap_or(0);
        if ai {
            // The MR is invalid (LOCAL_INV done before the request went
            // up): a new key, announced with the reply.
            let _ = chunk.mr.update_key();
            let rsp = RkeyRsp::new(self.buf_id, chunk.mr.rkey()).encode();
            chunk.rkey_rsp.as_mut_slice()[..RkeyRsp::SIZE].copy_from_slice(&rsp);
        }
        let op = match Wr::new(
            ReplyOp {
                path: path.clone(),
                buf_id: self.buf_id,
                chunk: Some(chunk),
            },
            GFP_KERNEL,
        ) {
            Ok(op) => op,
            Err(_) => {
                // The chunk went with the failed allocation's value: the
                // buffer id is lost; the path cannot go on.
                pr_err!("rtrs server: no memory for a reply, closing the path\n");
                path.close_async();
                return;
            }
        };
        // Replies are batched (`signal_interval` upstream): the chunk comes
        // back with a later signalled send of the QP, or a kick when its
        // next IO_REQ is early. Signalled if that IO_REQ is already here.
        let posted = if path.reply_posting(usize::from(self.buf_id), &self.qp) {
            self.qp.post_send(op, |op, chain| {
                build_reply(op, chain, write_data, inval_key, imm, ai)
            })
        } else {
            self.qp.post_send_batched(op, |op, chain| {
                build_reply(op, chain, write_data, inval_key, imm, ai)
            })
        };
        if let Err(e) = posted {
            if let Some(op) = e.wr {
                Wr::into_inner(op).park();
            }
            if !self.qp.is_closed() {
                pr_err!(
                    "rtrs server: reply to buffer {} not posted: {:?}, closing the path\n",
                    self.buf_id,
                    e.error
                );
                path.close_async();
            }
        }
    }
}

impl Drop for SrvRequest {
    fn drop(&mut self) {
        // Unanswered: the client must not wait forever.
        self.send_response(EIO.to_errno());
    }
}

impl DmaWindow for SrvRequest {
    fn dma_buffer(&mut self) -> Option<&mut DmaBuffer> {
        // A request holds its chunk until answered, and a chunk always
        // maps its buffer (`SrvPath::new`).
        self.chunk.as_mut().and_then(|c| c.mr.shared_memory_mut())
    }

    fn window_len(&self) -> usize {
        self.data_len
    }
}

/// The chain of a reply: the read data, the chunk's re-registration
/// (`always_invalidate`), the client MR's invalidation, the IO_RSP.
fn build_reply<'b>(
    op: &'b mut ReplyOp,
    chain: &mut SendChain<'b>,
    write_data: Option<SgDesc>,
    inval_key: Option<u32>,
    imm: u32,
    ai: bool,
) -> Result {
    let chunk = op.chunk.as_ref().ok_or(EINVAL)?;
    if let Some(desc) = write_data {
        let mem = chunk.memory().ok_or(EINVAL)?;
        chain.write(
            &[Src::range(mem, 0, desc.len.get() as usize)?],
            Remote {
                addr: desc.addr.get(),
                rkey: desc.key.get(),
            },
        )?;
    }
    if ai {
        chain.reg_mr(
            &chunk.mr,
            MrAccess::LOCAL_WRITE.union(MrAccess::REMOTE_WRITE),
        )?;
    }
    if let Some(key) = inval_key {
        chain.send_with_inv(&[], key)?;
    }
    if ai {
        chain.send_imm(&[Src::range(&chunk.rkey_rsp, 0, RkeyRsp::SIZE)?], imm)
    } else {
        chain.write_imm(&[], Remote { addr: 0, rkey: 0 }, imm)
    }
}

/// A posted reply: the chunk comes back to the path when it completes.
struct ReplyOp {
    path: Arc<SrvPath>,
    buf_id: u16,
    chunk: Option<Chunk>,
}

impl ReplyOp {
    fn park(mut self) {
        if let Some(chunk) = self.chunk.take() {
            self.path.park_chunk(usize::from(self.buf_id), chunk);
        }
    }

    /// The reply completed: the chunk goes back, or to the IO_REQ that
    /// arrived for it meanwhile (process context: the CQ work).
    fn give_back(mut self) {
        let Some(chunk) = self.chunk.take() else {
            return;
        };
        let path = self.path.clone();
        if let Some((chunk, qp, imm)) = path.return_chunk(usize::from(self.buf_id), chunk) {
            start(&path, &qp, imm, false, chunk);
        }
    }
}

impl Completion for ReplyOp {
    fn complete(op: KBox<Wr<Self>>, wc: &WorkCompletion<'_>) {
        let op = Wr::into_inner(op);
        if !wc.is_success() && !op.path.is_closing() {
            pr_err!(
                "rtrs server: reply to buffer {} failed: {}, closing the path\n",
                op.buf_id,
                wc.status_text()
            );
            op.path.close_async();
        }
        op.give_back();
    }
}

/// A posted LOCAL_INV of a chunk's MR (`always_invalidate`): the request
/// is processed when it completes.
struct InvOp {
    path: Arc<SrvPath>,
    qp: Arc<QueuePair>,
    imm: IoReqImm,
    bad_offset: bool,
    chunk: Option<Chunk>,
}

impl Completion for InvOp {
    fn complete(op: KBox<Wr<Self>>, wc: &WorkCompletion<'_>) {
        let mut op = Wr::into_inner(op);
        let Some(chunk) = op.chunk.take() else {
            return;
        };
        if !wc.is_success() {
            op.path.park_chunk(op.imm.buf_id as usize, chunk);
            if !op.path.is_closing() {
                pr_err!(
                    "rtrs server: LOCAL_INV of buffer {} failed: {}, closing the path\n",
                    op.imm.buf_id,
                    wc.status_text()
                );
                op.path.close_async();
            }
            return;
        }
        process(&op.path, &op.qp, op.imm, op.bad_offset, chunk);
    }
}

/// An IO_REQ immediate arrived on `qp` (`rtrs_srv_rdma_done()`).
pub(crate) fn io_req(path: &Arc<SrvPath>, qp: &Arc<QueuePair>, payload: u32) {
    let qd = u32::from(path.queue_depth);
    let chunk_size = MAX_CHUNK_SIZE.get() as u32;
    let (imm, bad_offset) = match IoReqImm::decode(payload, qd, chunk_size) {
        Ok(imm) => (imm, false),
        Err(e) => {
            let imm = match mem_bits(qd) {
                Ok(bits) => IoReqImm::split(payload, bits),
                Err(_) => IoReqImm {
                    buf_id: u32::MAX,
                    offset: 0,
                },
            };
            if imm.buf_id >= qd {
                // No chunk to answer through: as upstream, the path goes.
                pr_err!(
                    "rtrs server: bad IO_REQ immediate {:#x}: {:?}, closing the path\n",
                    payload,
                    e
                );
                path.close_async();
                return;
            }
            // A valid chunk with an offset past its end: answered EINVAL
            // (upstream closes the path).
            (imm, true)
        }
    };
    let chunk = match path.take_chunk_or_defer(imm.buf_id as usize, qp, imm) {
        Ok(Taken::Chunk(chunk)) => chunk,
        // The reply of the chunk's last request is posted but its context
        // not back yet: this request starts from there, and the reply's
        // QP is kicked in case nothing signalled follows the reply.
        Ok(Taken::Deferred(reply_qp)) => {
            if let Some(reply_qp) = reply_qp {
                if let Err(e) = reply_qp.kick() {
                    pr_err!(
                        "rtrs server: no fence for buffer {}: {:?}, closing the path\n",
                        imm.buf_id,
                        e
                    );
                    path.close_async();
                }
            }
            return;
        }
        Err(()) => {
            // The client reused a buffer it has a request outstanding on;
            // the reply to that request would answer both.
            pr_err!(
                "rtrs server: IO_REQ on busy buffer {}, closing the path\n",
                imm.buf_id
            );
            path.close_async();
            return;
        }
    };
    start(path, qp, imm, bad_offset, chunk);
}

/// Goes on with an IO_REQ that has its chunk: invalidation (with
/// `always_invalidate`), then [`process`].
fn start(path: &Arc<SrvPath>, qp: &Arc<QueuePair>, imm: IoReqImm, bad_offset: bool, chunk: Chunk) {
    if !ALWAYS_INVALIDATE.get() {
        process(path, qp, imm, bad_offset, chunk);
        return;
    }
    let op = match Wr::new(
        InvOp {
            path: path.clone(),
            qp: qp.clone(),
            imm,
            bad_offset,
            chunk: Some(chunk),
        },
        GFP_KERNEL,
    ) {
        Ok(op) => op,
        Err(_) => {
            pr_err!("rtrs server: no memory for LOCAL_INV, closing the path\n");
            path.close_async();
            return;
        }
    };
    let posted = qp.post_send(op, |op, chain| {
        let chunk = op.chunk.as_ref().ok_or(EINVAL)?;
        chain.local_inv(&chunk.mr)
    });
    if let Err(e) = posted {
        if let Some(op) = e.wr {
            let mut op = Wr::into_inner(op);
            if let Some(chunk) = op.chunk.take() {
                path.park_chunk(imm.buf_id as usize, chunk);
            }
        }
        if !qp.is_closed() {
            pr_err!(
                "rtrs server: LOCAL_INV not posted: {:?}, closing the path\n",
                e.error
            );
            path.close_async();
        }
    }
}

/// Why a request cannot go to the user.
fn check(req: &IoReq) -> Result<(), WireError> {
    if let IoKind::Read {
        desc: Some(desc), ..
    } = req.kind
    {
        let len = desc.len.get();
        if len == 0 || len > MAX_CHUNK_SIZE.get() as u32 || len as usize > req.data_len {
            return Err(WireError::Invalid("rdma_read desc length"));
        }
    }
    Ok(())
}

/// Parses the request in the chunk and hands it to the user
/// (`process_io_req()`).
fn process(
    path: &Arc<SrvPath>,
    qp: &Arc<QueuePair>,
    imm: IoReqImm,
    bad_offset: bool,
    chunk: Chunk,
) {
    let parsed = match chunk.memory() {
        _ if bad_offset => Err(WireError::Invalid("io_req offset >= max_chunk_size")),
        Some(mem) => IoReq::parse(mem.as_slice(), imm.offset as usize),
        None => Err(WireError::Invalid("chunk without memory")),
    };
    let parsed = parsed.and_then(|req| check(&req).map(|()| req));
    let (dir, need_inval, desc, data_len, usr_len) = match parsed {
        Ok(IoReq {
            kind,
            data_len,
            usr_len,
        }) => match kind {
            IoKind::Write => (Dir::Write, false, None, data_len, usr_len),
            IoKind::Read { need_inval, desc } => (Dir::Read, need_inval, desc, data_len, usr_len),
        },
        Err(e) => {
            path.stats.errors.fetch_add(1, Ordering::Relaxed);
            pr_err_ratelimited(path, imm, e);
            // Answered at once, without data; the client invalidates its
            // own MR (no W_INV).
            let req = SrvRequest {
                path: CountedPath::new(path),
                qp: qp.clone(),
                buf_id: imm.buf_id as u16,
                chunk: Some(chunk),
                dir: Dir::Write,
                data_len: 0,
                usr_len: 0,
                need_inval: false,
                desc: None,
            };
            req.respond(EINVAL.to_errno());
            if let Some(user) = path.user() {
                user.malformed();
            }
            return;
        }
    };
    let stats = &path.stats;
    let (count, bytes) = match dir {
        Dir::Read => (&stats.read_cnt, &stats.read_bytes),
        Dir::Write => (&stats.write_cnt, &stats.write_bytes),
    };
    count.fetch_add(1, Ordering::Relaxed);
    bytes.fetch_add(u64::from(imm.offset), Ordering::Relaxed);
    let req = SrvRequest {
        path: CountedPath::new(path),
        qp: qp.clone(),
        buf_id: imm.buf_id as u16,
        chunk: Some(chunk),
        dir,
        data_len,
        usr_len,
        need_inval,
        desc,
    };
    match path.user() {
        Some(user) => user.request(req),
        None => req.respond(ENOTCONN().to_errno()),
    }
}

fn pr_err_ratelimited(path: &SrvPath, imm: IoReqImm, e: WireError) {
    // At most the first 10 per path: a garbage-sending client must not
    // flood the log.
    if path.stats.errors.load(Ordering::Relaxed) <= 10 {
        pr_err!(
            "rtrs server: malformed request in buffer {} (offset {}): {:?}, answered EINVAL\n",
            imm.buf_id,
            imm.offset,
            e
        );
    }
}
