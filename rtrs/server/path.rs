// SPDX-License-Identifier: GPL-2.0

//! A server path (`struct rtrs_srv_path`): the connections of one client
//! path (`sess_uuid`), its protection domain and the chunk MRs the client
//! writes into, and its closing.

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};

use super::con::SrvCon;
use super::io::Chunk;
use super::ops::SrvSessionOps;
use super::params::MAX_CHUNK_SIZE;
use super::srv::{SessShared, SrvCtx};
pub(crate) use super::stats::{PathAddrs, PathStats};
use super::sysfs::{PathFiles, PathSysfs};
use crate::kernel_ext::errno::ENOTCONN;
use crate::kernel_ext::rdma::buffer::DmaBuffer;
use crate::kernel_ext::rdma::cm::CmIdRef;
use crate::kernel_ext::rdma::mr::FrMr;
use crate::kernel_ext::rdma::qp::QueuePair;
use crate::kernel_ext::rdma::verbs::ProtectionDomain;
use crate::kernel_ext::sync::{new_completion, new_spinlock_bh, Completion, SpinLockBh};
use crate::kernel_ext::workqueue::DelayedWorkItem;
use crate::kernel_ext::workqueue::{new_delayed_work, DelayedWork};
use crate::wire::{
    ConnReq, InfoReq, IoReqImm, RkeyRsp, Uuid, RTRS_HB_INTERVAL_MS, RTRS_HB_MISSED_MAX,
};

/// `DelayedWork` ids of a path.
pub(crate) const INFO_WORK: u64 = 0;
pub(crate) const HB_WORK: u64 = 1;
pub(crate) const CLOSE_WORK: u64 = 2;

/// `enum rtrs_srv_state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PathState {
    Connecting,
    Connected,
    Closing,
}

/// What the sessions lock's holders change on a path.
pub(crate) struct PathInner {
    /// `paths/<client>@<server>/`, once connected; removed under the
    /// sessions lock.
    pub(crate) sysfs: Option<PathSysfs>,
    pub(crate) state: PathState,
    /// `con[cid]`, `con_num` slots.
    pub(crate) cons: KVec<Option<SrvCon>>,
    /// The session name from INFO_REQ (`pathname`), once connected.
    pub(crate) name: Option<InfoReq>,
}

#[pin_data]
pub(crate) struct SrvPath {
    pub(crate) ctx: Arc<SrvCtx>,
    /// The session's shared part (its user); the path keeps it alive.
    pub(crate) sess: Arc<SessShared>,
    pub(crate) sess_uuid: Uuid,
    pub(crate) paths_uuid: Uuid,
    pub(crate) addrs: PathAddrs,
    pub(crate) con_num: u16,
    pub(crate) queue_depth: u16,
    /// The path's protection domain until `close` frees it (before the
    /// ids: see there). Process context.
    #[pin]
    pd: Mutex<Option<Arc<ProtectionDomain>>>,
    /// State, connections and name. Process context only (CM events, the
    /// INFO work, module exit), taken after `SrvCtx::sessions`.
    #[pin]
    pub(crate) inner: Mutex<PathInner>,
    /// The chunks (`always_invalidate=Y` layout: one MR per chunk, index =
    /// buffer id) while no request holds them; requests and REG_MR chains
    /// own them meanwhile. Taken in process context (INFO work, completion
    /// works) and in softirq; a chunk is never dropped under it (dropping
    /// an MR sleeps): they go with the path, whose last reference goes in
    /// process context (after its ids are destroyed).
    #[pin]
    pub(crate) chunks: SpinLockBh<KVec<Option<Chunk>>>,
    /// Per chunk, the QP its reply is posted on and an IO_REQ that
    /// arrived before the reply's context came back (the client may reuse
    /// a buffer as soon as it has the IO_RSP; replies are batched, so
    /// their contexts come back with a later signalled send). Taken under
    /// the `chunks` lock.
    #[pin]
    pub(crate) deferred: SpinLockBh<KVec<ChunkWait>>,
    /// The INFO_REQ bytes and length, from the receive completion to the
    /// INFO work.
    #[pin]
    pub(crate) info_req: SpinLockBh<Option<([u8; InfoReq::SIZE], usize)>>,
    /// Processes INFO_REQ in process context (`process_info_req()`).
    #[pin]
    pub(crate) info_work: DelayedWork<SrvPath, INFO_WORK>,
    /// Heartbeats on connection 0 (`rtrs.c:hb_work()`), every 5 s once
    /// connected.
    #[pin]
    pub(crate) hb_work: DelayedWork<SrvPath, HB_WORK>,
    /// Closes the path from contexts that must not destroy ids
    /// (completions, heartbeats, sysfs): `close_work` upstream.
    #[pin]
    pub(crate) close_work: DelayedWork<SrvPath, CLOSE_WORK>,
    /// Heartbeat ticks since something was last received.
    pub(crate) hb_missed: AtomicU32,
    /// Set once `close` started (read by completions without the lock).
    /// Sequentially consistent with `requests`: see `request_done`.
    pub(crate) closing: AtomicBool,
    /// Receives that carried nothing this server handles.
    pub(crate) unhandled: AtomicU32,
    /// Requests handed to the user and not yet dropped: `close` waits for
    /// them before it frees the chunks and the QPs they use.
    requests: AtomicU32,
    /// Signalled when `requests` drops to zero while closing.
    #[pin]
    requests_done: Completion,
    pub(crate) stats: PathStats,
}

/// What waits on a chunk (see [`SrvPath::deferred`]).
#[derive(Default)]
pub(crate) struct ChunkWait {
    /// The QP the chunk's latest reply was posted on, until its context
    /// came back.
    replying_on: Option<Arc<QueuePair>>,
    /// An IO_REQ for the chunk that came before that.
    waiting: Option<(Arc<QueuePair>, IoReqImm)>,
}

/// What [`SrvPath::take_chunk_or_defer`] got.
pub(crate) enum Taken {
    /// The chunk: the request goes on.
    Chunk(Chunk),
    /// A reply still holds it: the request waits; kick this QP (if known)
    /// so that the reply's context comes back.
    Deferred(Option<Arc<QueuePair>>),
}

impl SrvPath {
    /// A new path of a session of `queue_depth` chunks on `device`: its
    /// PD and one MR per chunk, each mapping `max_chunk_size` bytes
    /// (`map_cont_bufs()`).
    pub(crate) fn new(
        ctx: &Arc<SrvCtx>,
        sess: &Arc<SessShared>,
        req: &ConnReq,
        queue_depth: u16,
        id: &CmIdRef<'_>,
        addrs: PathAddrs,
    ) -> Result<Arc<Self>> {
        let device = id.device().ok_or(ENODEV)?;
        let pd = ProtectionDomain::new(device)?;
        let con_num = req.cid_num.get();
        let mut cons = KVec::with_capacity(con_num as usize, GFP_KERNEL)?;
        for _ in 0..con_num {
            cons.push(None, GFP_KERNEL)?;
        }
        let chunk = MAX_CHUNK_SIZE.get() as usize;
        let pages = (chunk.div_ceil(kernel::page::PAGE_SIZE) + 1) as u32;
        let mut chunks = KVec::with_capacity(queue_depth as usize, GFP_KERNEL)?;
        let mut deferred = KVec::with_capacity(queue_depth as usize, GFP_KERNEL)?;
        for _ in 0..queue_depth {
            let mut mr = FrMr::new(&pd, pages)?;
            mr.map(DmaBuffer::new(&pd, chunk, GFP_KERNEL)?)?;
            let rkey_rsp = DmaBuffer::new(&pd, RkeyRsp::SIZE, GFP_KERNEL)?;
            chunks.push(Some(Chunk { mr, rkey_rsp }), GFP_KERNEL)?;
            deferred.push(ChunkWait::default(), GFP_KERNEL)?;
        }
        Arc::pin_init(
            pin_init!(SrvPath {
                ctx: ctx.clone(),
                sess: sess.clone(),
                sess_uuid: req.sess_uuid,
                paths_uuid: req.paths_uuid,
                addrs,
                con_num,
                queue_depth,
                pd <- new_mutex!(Some(pd)),
                inner <- new_mutex!(PathInner {
                    sysfs: None,
                    state: PathState::Connecting,
                    cons,
                    name: None,
                }),
                chunks <- new_spinlock_bh!(chunks),
                deferred <- new_spinlock_bh!(deferred),
                info_req <- new_spinlock_bh!(None),
                info_work <- new_delayed_work!(kernel::workqueue::system(), "SrvPath::info_work"),
                hb_work <- new_delayed_work!(kernel::workqueue::system(), "SrvPath::hb_work"),
                close_work <- new_delayed_work!(kernel::workqueue::system(), "SrvPath::close_work"),
                hb_missed: AtomicU32::new(0),
                closing: AtomicBool::new(false),
                unhandled: AtomicU32::new(0),
                requests: AtomicU32::new(0),
                requests_done <- new_completion!("SrvPath::requests_done"),
                stats: PathStats::default(),
            }),
            GFP_KERNEL,
        )
    }

    /// Takes chunk `index` for an IO_REQ; if a posted reply still holds
    /// it, keeps the IO_REQ for [`return_chunk`](Self::return_chunk) and
    /// returns the QP the reply is posted on, to be kicked so that its
    /// context comes back. `Err` if an IO_REQ already waits for it.
    pub(crate) fn take_chunk_or_defer(
        &self,
        index: usize,
        qp: &Arc<QueuePair>,
        imm: IoReqImm,
    ) -> core::result::Result<Taken, ()> {
        let mut chunks = self.chunks.lock();
        let slot = chunks.get_mut(index).ok_or(())?;
        if let Some(chunk) = slot.take() {
            return Ok(Taken::Chunk(chunk));
        }
        let mut deferred = self.deferred.lock();
        match deferred.get_mut(index) {
            Some(wait) if wait.waiting.is_none() => {
                wait.waiting = Some((qp.clone(), imm));
                Ok(Taken::Deferred(wait.replying_on.clone()))
            }
            _ => Err(()),
        }
    }

    /// A reply holding chunk `index` is about to be posted on `qp`: noted
    /// for an IO_REQ that comes for the chunk before the reply's context
    /// is back. Returns whether one already waits (the reply is then
    /// posted signalled: nothing else may bring its context back soon).
    pub(crate) fn reply_posting(&self, index: usize, qp: &Arc<QueuePair>) -> bool {
        let (waits, old) = {
            let _chunks = self.chunks.lock();
            let mut deferred = self.deferred.lock();
            match deferred.get_mut(index) {
                Some(wait) => (wait.waiting.is_some(), wait.replying_on.replace(qp.clone())),
                None => (false, None),
            }
        };
        // Not under the spinlock: the last reference to a QP may sleep.
        drop(old);
        waits
    }

    /// Puts back a chunk whose reply completed; if an IO_REQ waited for
    /// it, hands the chunk to that request instead.
    pub(crate) fn return_chunk(
        &self,
        index: usize,
        chunk: Chunk,
    ) -> Option<(Chunk, Arc<QueuePair>, IoReqImm)> {
        let (waiting, replied_on) = {
            let _chunks = self.chunks.lock();
            let mut deferred = self.deferred.lock();
            match deferred.get_mut(index) {
                Some(wait) => (wait.waiting.take(), wait.replying_on.take()),
                None => (None, None),
            }
        };
        drop(replied_on);
        match waiting {
            Some((qp, imm)) => Some((chunk, qp, imm)),
            None => {
                self.park_chunk(index, chunk);
                None
            }
        }
    }

    /// Puts a chunk back (any context but hard interrupts).
    pub(crate) fn park_chunk(&self, index: usize, chunk: Chunk) {
        let mut chunks = self.chunks.lock();
        match chunks.get_mut(index) {
            Some(slot @ None) => *slot = Some(chunk),
            _ => {
                drop(chunks);
                // Cannot happen (each index is taken once); a chunk is
                // never dropped here, where it may be softirq.
                pr_err!("rtrs server: chunk {} parked twice\n", index);
                core::mem::forget(chunk);
            }
        }
    }

    /// The protection domain; `ENOTCONN` once the path closed.
    pub(crate) fn pd(&self) -> Result<Arc<ProtectionDomain>> {
        self.pd.lock().clone().ok_or(ENOTCONN())
    }

    /// The session's user, once the session is connected.
    pub(crate) fn user(&self) -> Option<Arc<dyn SrvSessionOps>> {
        self.sess.user()
    }

    /// Whether the path is closing or closed (a hint).
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Closes the path from its close work (`close_path()`): the way every
    /// context but module exit closes a path (see `close`).
    pub(crate) fn close_async(self: &Arc<Self>) {
        if !self.is_closing() {
            let _ = self.close_work.enqueue(self, 0);
        }
    }

    /// Starts the heartbeats (connected).
    pub(crate) fn start_heartbeat(self: &Arc<Self>) {
        let _ = self.hb_work.enqueue(self, RTRS_HB_INTERVAL_MS);
    }

    /// Connection 0's QP, while connected.
    pub(crate) fn service_qp(&self) -> Option<Arc<crate::kernel_ext::rdma::qp::QueuePair>> {
        let inner = self.inner.lock();
        inner.cons.first()?.as_ref().map(|c| c.qp.clone())
    }

    /// Closes the path (`close_path()` and `rtrs_srv_close_work()`): out
    /// of its session, every connection drained, the requests at the user
    /// waited for, then the device resources freed and the ids destroyed
    /// last. Process context, without the sessions lock.
    ///
    /// Only from the close work and module exit, as upstream runs it only
    /// from `close_work`: CM events, completions, heartbeats, the INFO
    /// work and sysfs call [`close_async`](Self::close_async). Run inside
    /// a CM event (holding that id's `handler_mutex`) it would wait for
    /// the path's works, while the close work destroys ids
    /// (`rdma_destroy_id` takes their `handler_mutex`): lockdep reported
    /// that circular dependency on the debug kernel. (Whoever marks the
    /// path Closing first tears it down and the other returns at once, so
    /// it never deadlocked, but lockdep cannot know that.)
    ///
    /// The order is upstream's close work's, and it matters on device
    /// removal: rdma_cm lets the device go once its last id is destroyed,
    /// and everything allocated on the device (MRs, CQs, QPs, the PD) must
    /// be gone by then.
    pub(crate) fn close(self: &Arc<Self>) {
        let cons = {
            let mut sessions = self.ctx.sessions.lock();
            let mut inner = self.inner.lock();
            // sysfs goes under the sessions lock, before the session's
            // device (in `remove_path`): a new session of the same name
            // must not find them.
            drop(inner.sysfs.take());
            sessions.remove_path(self);
            if inner.state == PathState::Closing {
                return;
            }
            inner.state = PathState::Closing;
            self.closing.store(true, Ordering::SeqCst);
            core::mem::replace(&mut inner.cons, KVec::new())
        };
        // The works may wait for the sessions lock: not held here.
        self.info_work.disable_sync();
        self.hb_work.disable_sync();
        self.close_work.disable_sync();
        // Posts refused from now on, every posted request flushed and its
        // completion handled: chunks of posted replies and invalidations
        // come back; no new request reaches the user. (No
        // `rdma_disconnect` needed: destroying a connected id sends the
        // DREQ itself.)
        for con in cons.iter().flatten() {
            con.id.close_qp();
        }
        self.wait_for_requests();
        let freed = self.free_chunks();
        let n = cons.iter().flatten().count();
        pr_info!(
            "rtrs server: path closed ({} connection(s), {} chunk(s) freed, {} unhandled receive(s))\n",
            n,
            freed,
            self.unhandled.load(Ordering::Relaxed)
        );
        // Ours is not the PD's last reference: each connection's QP holds
        // one. Dropping a connection drops its QP (with its CQ) before its
        // id (`SrvCon` field order), so the PD goes before the last id.
        let pd = self.pd.lock().take();
        drop(pd);
        drop(cons);
    }

    /// Counts a request handed to the user (`CountedPath`).
    pub(crate) fn request_started(&self) {
        self.requests.fetch_add(1, Ordering::SeqCst);
    }

    /// Uncounts a request; the last one while closing wakes `close`.
    /// This writes `requests` and then reads `closing`; `close` writes
    /// `closing` and then (in `wait_for_requests`) reads `requests`. All
    /// are sequentially consistent, so at least one side sees the other's
    /// write: either `close` sees the count at zero, or the last request
    /// sees `closing` and signals.
    pub(crate) fn request_done(&self) {
        if self.requests.fetch_sub(1, Ordering::SeqCst) == 1 && self.closing.load(Ordering::SeqCst)
        {
            self.requests_done.complete();
        }
    }

    /// Waits until every request handed to the user has been answered
    /// and dropped (the user completes them: bios end on their own).
    /// Extra signals (the count can touch zero more than once while the
    /// QPs drain) only cost another look at the count.
    fn wait_for_requests(&self) {
        let mut waited_s = 0u32;
        while self.requests.load(Ordering::SeqCst) != 0 {
            if self.requests_done.wait_timeout_ms(10_000).is_err() {
                waited_s += 10;
                pr_warn!(
                    "rtrs server: closing path waits for {} request(s) for {} s\n",
                    self.requests.load(Ordering::Relaxed),
                    waited_s
                );
            }
        }
    }

    /// Frees the chunks (their MRs and buffers) and the IO_REQs waiting
    /// for one, once nothing uses them any more (QPs drained, requests
    /// dropped). Returns how many chunks were freed. One at a time: a
    /// chunk is never dropped under the spinlock (dropping an MR sleeps).
    fn free_chunks(&self) -> usize {
        let mut freed = 0;
        loop {
            let waiting = {
                let _chunks = self.chunks.lock();
                let mut deferred = self.deferred.lock();
                deferred
                    .iter_mut()
                    .find(|d| d.waiting.is_some() || d.replying_on.is_some())
                    .map(core::mem::take)
            };
            if waiting.is_none() {
                break;
            }
        }
        loop {
            let chunk = self.chunks.lock().iter_mut().find_map(|c| c.take());
            match chunk {
                Some(chunk) => {
                    drop(chunk);
                    freed += 1;
                }
                None => return freed,
            }
        }
    }
}

impl DelayedWorkItem<CLOSE_WORK> for SrvPath {
    fn run(path: Arc<SrvPath>) {
        path.close();
    }
}

impl DelayedWorkItem<HB_WORK> for SrvPath {
    /// `rtrs.c:hb_work()`: close after more than `RTRS_HB_MISSED_MAX`
    /// silent ticks; send HB_MSG only when something was received since
    /// the last one.
    fn run(path: Arc<SrvPath>) {
        let missed = path.hb_missed.fetch_add(1, Ordering::AcqRel);
        if missed > RTRS_HB_MISSED_MAX {
            pr_err!(
                "rtrs server: heartbeat timeout ({} missed), closing the path\n",
                missed
            );
            path.close_async();
            return;
        }
        if missed == 0 {
            if let Some(qp) = path.service_qp() {
                super::con::send_heartbeat(&qp, crate::wire::Imm::HbMsg);
            }
        }
        let _ = path.hb_work.enqueue(&path, RTRS_HB_INTERVAL_MS);
    }
}

impl PathFiles for SrvPath {
    fn addrs(&self) -> &PathAddrs {
        &self.addrs
    }

    fn stats(&self) -> &PathStats {
        &self.stats
    }

    fn close_async(self: Arc<Self>) {
        SrvPath::close_async(&self);
    }
}
