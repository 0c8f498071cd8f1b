// SPDX-License-Identifier: GPL-2.0

//! A server connection (`struct rtrs_srv_con`): CQ, QP and receives, and
//! its CM events (`rtrs_srv_rdma_cm_handler()`).

use core::sync::atomic::Ordering;

use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};

use super::params::ALWAYS_INVALIDATE;
use super::path::SrvPath;
use crate::kernel_ext::rdma::buffer::DmaBuffer;
use crate::kernel_ext::rdma::cm::{CmEvent, CmEventKind, CmHandler, CmId, CmIdRef};
use crate::kernel_ext::rdma::qp::QueuePair;
use crate::kernel_ext::rdma::verbs::{CompletionQueue, QpCaps};
use crate::kernel_ext::rdma::wr::{
    Completion, Dst, Remote, WcOpcode, WcStatus, WorkCompletion, Wr,
};
use crate::wire::{Imm, InfoReq, SERVICE_CON_QUEUE_DEPTH};

use super::io;

/// An accepted connection of a path.
///
/// Field order matters: the QP reference (and with the last one the CQ
/// and a PD reference) drops before the id, because on device removal the
/// device's resources must be gone before its last id is destroyed.
pub(crate) struct SrvCon {
    pub(crate) qp: Arc<QueuePair>,
    /// Dropping it disconnects and destroys the connection (from the
    /// layer's workqueue when inside a CM event).
    pub(crate) id: CmId<ConEvents>,
}

/// The CM event handler of a connection.
#[pin_data]
pub(crate) struct ConEvents {
    cid: u16,
    /// The connection's path, set inside the connect request (before any
    /// other event of the id); dropped with the id's handler, in process
    /// context. Taken in CM events only.
    #[pin]
    path: Mutex<Option<Arc<SrvPath>>>,
}

impl ConEvents {
    pub(crate) fn pending(cid: u16) -> impl PinInit<Self> {
        pin_init!(ConEvents {
            cid,
            path <- new_mutex!(None),
        })
    }

    pub(crate) fn set_path(&self, path: &Arc<SrvPath>) {
        *self.path.lock() = Some(path.clone());
    }
}

impl CmHandler for ConEvents {
    fn event(&self, _id: &CmIdRef<'_>, event: &CmEvent<'_>) {
        match event.kind() {
            CmEventKind::Established => {}
            CmEventKind::Rejected
            | CmEventKind::ConnectError
            | CmEventKind::Unreachable
            | CmEventKind::Disconnected
            | CmEventKind::AddrChange
            | CmEventKind::TimewaitExit
            | CmEventKind::DeviceRemoval => {
                let path = self.path.lock().clone();
                if let Some(path) = path {
                    pr_info!(
                        "rtrs server: connection {}: {:?}, closing its path\n",
                        self.cid,
                        event.kind()
                    );
                    // From the close work, never here: see `SrvPath::close`.
                    path.close_async();
                }
            }
            other => pr_info!(
                "rtrs server: connection {}: ignored {:?}\n",
                self.cid,
                other
            ),
        }
    }
}

/// Queue sizes as upstream's `create_con()`, capped by the device.
fn caps(cid: u16, queue_depth: u32, max_qp_wr: u32) -> QpCaps {
    let (send, recv) = if cid == 0 {
        let n = SERVICE_CON_QUEUE_DEPTH * 2 + 2;
        (n, n)
    } else if ALWAYS_INVALIDATE.get() {
        (queue_depth * 5 + 1, queue_depth + 1)
    } else {
        (queue_depth * 3 + 1, queue_depth + 1)
    };
    QpCaps {
        max_send_wr: send.min(max_qp_wr),
        max_recv_wr: recv.min(max_qp_wr),
        max_send_sge: 1,
        max_recv_sge: 1,
    }
}

/// Creates connection `cid`'s CQ and QP on the path's PD; connection 0
/// gets the INFO_REQ receive (`post_recv_info_req()`).
pub(crate) fn create_con(
    path: &Arc<SrvPath>,
    cid: u16,
    id: &CmIdRef<'_>,
) -> Result<Arc<QueuePair>> {
    // ENOTCONN once the path closed (its PD went first).
    let pd = path.pd()?;
    let device = id.device().ok_or(ENODEV)?;
    let caps = caps(cid, u32::from(path.queue_depth), device.max_qp_wr());
    let entries = (caps.max_send_wr + caps.max_recv_wr).min(device.max_cqe());
    let vectors = device.num_comp_vectors().max(1);
    // Completions in process context, as upstream (`IB_POLL_WORKQUEUE`):
    // requests are processed there, and may submit bios.
    let cq = CompletionQueue::new_in_workqueue(device, entries, u32::from(cid) % vectors)?;
    let qp = id.create_qp(&pd, &cq, &cq, caps)?;
    if cid != 0 {
        // IO replies are batched, one in REPLY_SIGNAL_INTERVAL signalled
        // (see `io::SrvRequest::send_response`).
        qp.set_signal_interval(super::io::REPLY_SIGNAL_INTERVAL);
    }
    if cid == 0 {
        let op = Wr::new(
            RecvOp {
                path: path.clone(),
                qp: None,
                buf: Some(DmaBuffer::new(&pd, InfoReq::SIZE, GFP_KERNEL)?),
            },
            GFP_KERNEL,
        )?;
        post_recv(&qp, op)?;
    }
    Ok(qp)
}

/// Posts `op`: into its buffer, or empty (completions that only carry
/// immediate data: RTRS IO and heartbeats).
pub(crate) fn post_recv(qp: &QueuePair, op: KBox<Wr<RecvOp>>) -> Result {
    qp.post_recv(op, |op, sges| match op.buf.as_mut() {
        Some(buf) => sges.add(Dst::buffer(buf)),
        None => Ok(()),
    })
    .map_err(|e| e.error)
}

/// A posted receive: the INFO_REQ buffer, or an empty one (with the QP
/// it is posted on, to answer on and to re-post).
pub(crate) struct RecvOp {
    pub(crate) path: Arc<SrvPath>,
    pub(crate) qp: Option<Arc<QueuePair>>,
    pub(crate) buf: Option<DmaBuffer>,
}

/// A heartbeat or heartbeat answer: an empty RDMA WRITE_WITH_IMM.
struct HbOp;

impl Completion for HbOp {
    fn complete(_op: KBox<Wr<Self>>, _wc: &WorkCompletion<'_>) {}
}

/// Sends HB_MSG or HB_ACK on `qp` (`rtrs_send_hb_ack()`, `hb_work()`).
pub(crate) fn send_heartbeat(qp: &QueuePair, imm: Imm) {
    let Ok(imm) = imm.encode() else {
        return;
    };
    let Ok(op) = Wr::new(HbOp, GFP_KERNEL) else {
        return;
    };
    // A failure shows as missed heartbeats.
    let _ = qp.post_send(op, |_, chain| {
        chain.write_imm(&[], Remote { addr: 0, rkey: 0 }, imm)
    });
}

impl Completion for RecvOp {
    fn complete(op: KBox<Wr<Self>>, wc: &WorkCompletion<'_>) {
        if !wc.is_success() {
            // Flushed at teardown (or failed): not reposted.
            if wc.status() != WcStatus::Flushed && !op.path.is_closing() {
                pr_err!(
                    "rtrs server: receive failed: {}, closing the path\n",
                    wc.status_text()
                );
                op.path.close_async();
            }
            return;
        }
        if op.buf.is_some() {
            info_req(op, wc);
            return;
        }
        let path = op.path.clone();
        let Some(qp) = op.qp.clone() else {
            return;
        };
        match (wc.opcode(), wc.imm_data()) {
            (WcOpcode::RecvRdmaWithImm, Some(imm)) => {
                path.hb_missed.store(0, Ordering::Relaxed);
                // The receive goes back first (`rtrs_post_recv_empty()`).
                if let Err(e) = post_recv(&qp, op) {
                    if !qp.is_closed() {
                        pr_err!("rtrs server: receive not re-posted: {:?}\n", e);
                        path.close_async();
                    }
                    return;
                }
                match Imm::decode(imm) {
                    Ok(Imm::IoReq { payload }) => io::io_req(&path, &qp, payload),
                    Ok(Imm::HbMsg) => send_heartbeat(&qp, Imm::HbAck),
                    Ok(Imm::HbAck) => {}
                    _ => {
                        // As upstream: logged, ignored.
                        path.unhandled.fetch_add(1, Ordering::Relaxed);
                        pr_warn!("rtrs server: unknown immediate {:#x} ignored\n", imm);
                    }
                }
            }
            _ => {
                // A SEND without immediate: nothing of RTRS; re-posted.
                path.unhandled.fetch_add(1, Ordering::Relaxed);
                let _ = post_recv(&qp, op);
            }
        }
    }
}

/// INFO_REQ: checked and answered by the INFO work.
fn info_req(op: KBox<Wr<RecvOp>>, wc: &WorkCompletion<'_>) {
    let path = &op.path;
    let Some(buf) = op.buf.as_ref() else {
        return;
    };
    let len = (wc.byte_len() as usize).min(buf.len());
    let mut bytes = [0u8; InfoReq::SIZE];
    bytes[..len].copy_from_slice(&buf.as_slice()[..len]);
    *path.info_req.lock() = Some((bytes, len));
    if !matches!(path.info_work.enqueue(path, 0), Ok(true)) {
        pr_info!("rtrs server: INFO_REQ not processed (path closing)\n");
    }
    // `op` (an Arc of the path) drops here; the path's last reference is
    // held by its ids' handlers, never by a receive.
}
