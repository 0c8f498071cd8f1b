// SPDX-License-Identifier: GPL-2.0

//! INFO_REQ processing (`rtrs-srv.c:process_info_req()`): the path
//! takes the session name, posts its receives, and sends INFO_RSP behind
//! the REG_MRs of the chunk MRs (§3.1-§3.3).

use kernel::prelude::*;
use kernel::sync::Arc;

use super::con::{self, RecvOp};
use super::io::Chunk;
use super::path::{PathState, SrvPath, INFO_WORK};
use crate::kernel_ext::rdma::buffer::DmaBuffer;
use crate::kernel_ext::rdma::mr::MrAccess;
use crate::kernel_ext::rdma::qp::QueuePair;
use crate::kernel_ext::rdma::wr::{Completion, Src, WorkCompletion, Wr, MAX_CHAIN};
use crate::kernel_ext::workqueue::DelayedWorkItem;
use crate::wire::{InfoReq, InfoRsp, SgDesc, SERVICE_CON_QUEUE_DEPTH};

/// Up to `MAX_CHAIN` REG_MRs of chunk MRs, the last chain also the
/// INFO_RSP SEND.
struct RegChain {
    path: Arc<SrvPath>,
    /// (buffer id, chunk): at most `MAX_CHAIN` (one less with `rsp`).
    mrs: KVec<(usize, Chunk)>,
    rsp: Option<(DmaBuffer, usize)>,
}

impl RegChain {
    /// Gives the chunks back to the path (any context).
    fn park(self) {
        for (index, chunk) in self.mrs {
            self.path.park_chunk(index, chunk);
        }
    }
}

impl Completion for RegChain {
    fn complete(op: KBox<Wr<Self>>, wc: &WorkCompletion<'_>) {
        let op = Wr::into_inner(op);
        if !wc.is_success() {
            pr_info!("rtrs server: REG_MR/INFO_RSP chain: {}\n", wc.status_text());
        } else if op.rsp.is_some() {
            pr_info!(
                "rtrs server: INFO_RSP sent ({} chunk MRs)\n",
                op.path.queue_depth
            );
        }
        // Registered MRs stay registered (the client writes into them);
        // they wait in the path for the IO path.
        op.park();
    }
}

/// Why INFO_REQ processing closes the path.
fn fail(path: &Arc<SrvPath>, what: &str, err: Error) {
    pr_err!(
        "rtrs server: INFO_REQ: {}: {:?}, closing the path\n",
        what,
        err
    );
    path.close_async();
}

/// Posts `count` empty receives (`post_recv_path()`).
fn post_empty_recvs(path: &Arc<SrvPath>, qp: &Arc<QueuePair>, count: u32) -> Result {
    for _ in 0..count {
        let op = Wr::new(
            RecvOp {
                path: path.clone(),
                qp: Some(qp.clone()),
                buf: None,
            },
            GFP_KERNEL,
        )?;
        con::post_recv(qp, op)?;
    }
    Ok(())
}

/// Steps 2-5 of `process_info_req()` under the sessions lock: all
/// connections there, path CONNECTING, name unique among other sessions;
/// then the receives. Returns connection 0's QP.
fn take_name(path: &Arc<SrvPath>, req: InfoReq) -> Result<Arc<QueuePair>> {
    let mut sessions = path.ctx.sessions.lock();
    let taken = sessions.list.iter().flatten().any(|s| {
        s.paths_uuid != path.paths_uuid
            && s.paths().any(|p| {
                !Arc::ptr_eq(p, path)
                    && p.inner
                        .lock()
                        .name
                        .as_ref()
                        .is_some_and(|n| n.pathname() == req.pathname())
            })
    });
    let inner = path.inner.lock();
    if inner.state != PathState::Connecting || inner.cons.iter().any(|c| c.is_none()) {
        return Err(EIO);
    }
    if taken {
        return Err(EPERM);
    }
    for (cid, con) in inner.cons.iter().flatten().enumerate() {
        let count = if cid == 0 {
            SERVICE_CON_QUEUE_DEPTH
        } else {
            u32::from(path.queue_depth)
        };
        post_empty_recvs(path, &con.qp, count)?;
    }
    let qp = inner.cons[0].as_ref().ok_or(EIO)?.qp.clone();
    drop(inner);
    let sysfs = path.ctx.create_sysfs(&mut sessions, path, req.pathname())?;
    let mut inner = path.inner.lock();
    inner.sysfs = Some(sysfs);
    inner.name = Some(req);
    inner.state = PathState::Connected;
    drop(inner);
    drop(sessions);
    Ok(qp)
}

/// Step 6: the REG_MRs of every chunk MR, chained before the INFO_RSP.
/// The send queue of connection 0 holds them all at once (as upstream,
/// which posts them in one chain).
fn send_info_rsp(path: &Arc<SrvPath>, qp: &QueuePair) -> Result {
    let qd = usize::from(path.queue_depth);
    if qd + 1 > (SERVICE_CON_QUEUE_DEPTH * 2) as usize {
        // No send-queue accounting yet: see Documentation/server.md.
        return Err(EINVAL);
    }
    let mut rsp = DmaBuffer::new(&path.pd()?, InfoRsp::SIZE + qd * SgDesc::SIZE, GFP_KERNEL)?;
    let mut descs = KVec::with_capacity(qd, GFP_KERNEL)?;
    let mut taken: KVec<(usize, Chunk)> = KVec::with_capacity(qd, GFP_KERNEL)?;
    {
        let mut chunks = path.chunks.lock();
        for (index, slot) in chunks.iter_mut().enumerate() {
            if let Some(chunk) = slot.take() {
                taken.push((index, chunk), GFP_ATOMIC)?;
            }
        }
    }
    if taken.len() != qd {
        for (index, chunk) in taken {
            path.park_chunk(index, chunk);
        }
        return Err(EBUSY);
    }
    for (_, Chunk { mr, .. }) in taken.iter_mut() {
        // A new rkey before the first REG_MR, as `ib_inc_rkey` upstream.
        let _ = mr.update_key();
        descs.push(
            SgDesc::new(mr.iova(), mr.rkey(), mr.length() as u32),
            GFP_KERNEL,
        )?;
    }
    let len = InfoRsp::encode_with_descs(&descs, rsp.as_mut_slice()).map_err(|_| EINVAL)?;
    let mut rsp = Some((rsp, len));
    let mut left = taken.len();
    let mut rest = taken.into_iter();
    let access = MrAccess::LOCAL_WRITE.union(MrAccess::REMOTE_WRITE);
    loop {
        let last = left < MAX_CHAIN;
        let n = if last { left } else { MAX_CHAIN };
        left -= n;
        let mut mrs = KVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            if let Some(mr) = rest.next() {
                mrs.push(mr, GFP_KERNEL)?;
            }
        }
        let op = Wr::new(
            RegChain {
                path: path.clone(),
                mrs,
                rsp: if last { rsp.take() } else { None },
            },
            GFP_KERNEL,
        )?;
        let posted = qp.post_send(op, |op, chain| {
            for (_, chunk) in op.mrs.iter() {
                chain.reg_mr(&chunk.mr, access)?;
            }
            if let Some((buf, len)) = op.rsp.as_ref() {
                chain.send(&[Src::range(buf, 0, *len)?])?;
            }
            Ok(())
        });
        if let Err(e) = posted {
            if let Some(op) = e.wr {
                Wr::into_inner(op).park();
            }
            for (index, chunk) in rest {
                path.park_chunk(index, chunk);
            }
            return Err(e.error);
        }
        if last {
            return Ok(());
        }
    }
}

impl DelayedWorkItem<INFO_WORK> for SrvPath {
    fn run(path: Arc<SrvPath>) {
        let Some((bytes, len)) = path.info_req.lock().take() else {
            return;
        };
        // Step 1 and 3: length, type, a name without '/' and '.'.
        let req = match InfoReq::decode(&bytes[..len]) {
            Ok(req) => req,
            Err(e) => {
                pr_err!("rtrs server: bad INFO_REQ ({} bytes): {:?}\n", len, e);
                return fail(&path, "invalid", EINVAL);
            }
        };
        let qp = match take_name(&path, req) {
            Ok(qp) => qp,
            Err(e) => return fail(&path, "path", e),
        };
        // `rtrs_srv_path_up()`: the first path of a session tells the
        // user, before the client can send a request.
        if let Err(e) = path
            .sess
            .path_up(&path.ctx, req.pathname(), path.queue_depth)
        {
            return fail(&path, "link event", e);
        }
        path.start_heartbeat();
        match send_info_rsp(&path, &qp) {
            Ok(()) => pr_info!(
                "rtrs server: path of session '{}' connected: {} connection(s), queue depth {}\n",
                kernel::str::BStr::from_bytes(req.pathname()),
                path.con_num,
                path.queue_depth
            ),
            Err(e) => fail(&path, "INFO_RSP", e),
        }
    }
}
