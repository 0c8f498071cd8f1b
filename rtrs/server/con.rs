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
use crate::kernel_ext::rdma::wr::{Completion, Dst, WorkCompletion, Wr};
use crate::wire::{InfoReq, SERVICE_CON_QUEUE_DEPTH};

/// An accepted connection of a path.
pub(crate) struct SrvCon {
    /// Owned only to be dropped: that disconnects and destroys the
    /// connection (from the layer's workqueue when inside a CM event).
    pub(crate) _id: CmId<ConEvents>,
    pub(crate) qp: Arc<QueuePair>,
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
                    path.close();
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
    let device = id.device().ok_or(ENODEV)?;
    let caps = caps(cid, u32::from(path.queue_depth), device.max_qp_wr());
    let entries = (caps.max_send_wr + caps.max_recv_wr).min(device.max_cqe());
    let vectors = device.num_comp_vectors().max(1);
    let cq = CompletionQueue::new(device, entries, u32::from(cid) % vectors)?;
    let qp = id.create_qp(&path.pd, &cq, &cq, caps)?;
    if cid == 0 {
        let op = Wr::new(
            RecvOp {
                path: path.clone(),
                buf: Some(DmaBuffer::new(&path.pd, InfoReq::SIZE, GFP_KERNEL)?),
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

/// A posted receive: the INFO_REQ buffer, or an empty one.
pub(crate) struct RecvOp {
    pub(crate) path: Arc<SrvPath>,
    pub(crate) buf: Option<DmaBuffer>,
}

impl Completion for RecvOp {
    fn complete(op: KBox<Wr<Self>>, wc: &WorkCompletion<'_>) {
        if !wc.is_success() {
            // Flushed at teardown (or failed): not reposted.
            return;
        }
        let path = &op.path;
        match op.buf.as_ref() {
            Some(buf) => {
                // INFO_REQ: checked and answered by the INFO work.
                let len = (wc.byte_len() as usize).min(buf.len());
                let mut bytes = [0u8; InfoReq::SIZE];
                bytes[..len].copy_from_slice(&buf.as_slice()[..len]);
                *path.info_req.lock() = Some((bytes, len));
                if !matches!(path.info_work.enqueue(path, 0), Ok(true)) {
                    pr_info!("rtrs server: INFO_REQ not processed (path closing)\n");
                }
            }
            None => {
                path.unhandled.fetch_add(1, Ordering::Relaxed);
            }
        }
        // `op` (an Arc of the path) drops here; the path's last reference
        // is held by its ids' handlers, never by a receive.
    }
}
