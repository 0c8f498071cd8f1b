// SPDX-License-Identifier: GPL-2.0

//! A server path (`struct rtrs_srv_path`): the connections of one client
//! path (`sess_uuid`), its protection domain and the chunk MRs the client
//! writes into, and its closing.

use core::sync::atomic::{AtomicU32, Ordering};

use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};

use super::con::SrvCon;
use super::params::MAX_CHUNK_SIZE;
use super::srv::SrvCtx;
use crate::kernel_ext::rdma::buffer::DmaBuffer;
use crate::kernel_ext::rdma::mr::FrMr;
use crate::kernel_ext::rdma::verbs::{DeviceRef, ProtectionDomain};
use crate::kernel_ext::sync::{new_spinlock_bh, SpinLockBh};
use crate::kernel_ext::workqueue::{new_delayed_work, DelayedWork};
use crate::wire::{ConnReq, InfoReq, Uuid};

/// `enum rtrs_srv_state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PathState {
    Connecting,
    Connected,
    Closing,
}

/// What the sessions lock's holders change on a path.
pub(crate) struct PathInner {
    pub(crate) state: PathState,
    /// `con[cid]`, `con_num` slots.
    pub(crate) cons: KVec<Option<SrvCon>>,
    /// The session name from INFO_REQ (`pathname`), once connected.
    pub(crate) name: Option<InfoReq>,
}

#[pin_data]
pub(crate) struct SrvPath {
    pub(crate) ctx: Arc<SrvCtx>,
    pub(crate) sess_uuid: Uuid,
    pub(crate) paths_uuid: Uuid,
    pub(crate) con_num: u16,
    pub(crate) queue_depth: u16,
    pub(crate) pd: Arc<ProtectionDomain>,
    /// State, connections and name. Process context only (CM events, the
    /// INFO work, module exit), taken after `SrvCtx::sessions`.
    #[pin]
    pub(crate) inner: Mutex<PathInner>,
    /// The chunk MRs (`always_invalidate=Y` layout: one per chunk, index =
    /// buffer id) while no request holds them; REG_MR chains own them
    /// while posted. Taken in process context (INFO work) and in softirq
    /// (chain completions park them back); an MR is never dropped under
    /// it (dropping an MR sleeps): they go with the path, whose last
    /// reference goes in process context (after its ids are destroyed).
    #[pin]
    pub(crate) mrs: SpinLockBh<KVec<Option<FrMr>>>,
    /// The INFO_REQ bytes and length, from the receive completion
    /// (softirq) to the INFO work (process context).
    #[pin]
    pub(crate) info_req: SpinLockBh<Option<([u8; InfoReq::SIZE], usize)>>,
    /// Processes INFO_REQ in process context (`process_info_req()`).
    #[pin]
    pub(crate) info_work: DelayedWork<SrvPath>,
    /// Empty receives completed (heartbeats, IO, RNBD messages: not
    /// handled yet in this milestone).
    pub(crate) unhandled: AtomicU32,
}

impl SrvPath {
    /// A new path of a session of `queue_depth` chunks on `device`: its
    /// PD and one MR per chunk, each mapping `max_chunk_size` bytes
    /// (`map_cont_bufs()`).
    pub(crate) fn new(
        ctx: &Arc<SrvCtx>,
        req: &ConnReq,
        queue_depth: u16,
        device: DeviceRef<'_>,
    ) -> Result<Arc<Self>> {
        let pd = ProtectionDomain::new(device)?;
        let con_num = req.cid_num.get();
        let mut cons = KVec::with_capacity(con_num as usize, GFP_KERNEL)?;
        for _ in 0..con_num {
            cons.push(None, GFP_KERNEL)?;
        }
        let chunk = MAX_CHUNK_SIZE.get() as usize;
        let pages = (chunk.div_ceil(kernel::page::PAGE_SIZE) + 1) as u32;
        let mut mrs = KVec::with_capacity(queue_depth as usize, GFP_KERNEL)?;
        for _ in 0..queue_depth {
            let mut mr = FrMr::new(&pd, pages)?;
            mr.map(DmaBuffer::new(&pd, chunk, GFP_KERNEL)?)?;
            mrs.push(Some(mr), GFP_KERNEL)?;
        }
        Arc::pin_init(
            pin_init!(SrvPath {
                ctx: ctx.clone(),
                sess_uuid: req.sess_uuid,
                paths_uuid: req.paths_uuid,
                con_num,
                queue_depth,
                pd,
                inner <- new_mutex!(PathInner {
                    state: PathState::Connecting,
                    cons,
                    name: None,
                }),
                mrs <- new_spinlock_bh!(mrs),
                info_req <- new_spinlock_bh!(None),
                info_work <- new_delayed_work!(kernel::workqueue::system(), "SrvPath::info_work"),
                unhandled: AtomicU32::new(0),
            }),
            GFP_KERNEL,
        )
    }

    /// Puts a chunk MR back (softirq or process context).
    pub(crate) fn park_mr(&self, index: usize, mr: FrMr) {
        let mut mrs = self.mrs.lock();
        match mrs.get_mut(index) {
            Some(slot @ None) => *slot = Some(mr),
            _ => {
                drop(mrs);
                // Cannot happen (each index is taken once); an MR is never
                // dropped here, where it may be softirq.
                pr_err!("rtrs server: chunk MR {} parked twice\n", index);
                core::mem::forget(mr);
            }
        }
    }

    /// Closes the path (`close_path()`): out of its session, every
    /// connection disconnected and its id destroyed (draining its QP).
    /// Process context, without the sessions lock; from any connection's
    /// CM event (then that id's destruction is deferred by the layer).
    pub(crate) fn close(self: &Arc<Self>) {
        let cons = {
            let mut sessions = self.ctx.sessions.lock();
            sessions.remove_path(self);
            let mut inner = self.inner.lock();
            if inner.state == PathState::Closing {
                return;
            }
            inner.state = PathState::Closing;
            core::mem::replace(&mut inner.cons, KVec::new())
        };
        // The INFO work may wait for the sessions lock: not held here.
        self.info_work.disable_sync();
        // No `rdma_disconnect` of the other connections here: this runs
        // inside one connection's CM event, where another id's state
        // machine must not be driven (ib_cm refcount underflow on the
        // debug kernel); destroying a connected id sends the DREQ itself,
        // from the layer's workqueue.
        let n = cons.iter().flatten().count();
        pr_info!(
            "rtrs server: path closed ({} connection(s), {} unhandled receive(s))\n",
            n,
            self.unhandled.load(Ordering::Relaxed)
        );
        // Dropping the ids drains and destroys their QPs; the last path
        // reference goes with the last id's handler.
        drop(cons);
    }
}
