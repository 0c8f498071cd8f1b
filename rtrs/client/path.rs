// SPDX-License-Identifier: GPL-2.0

//! A client path (`struct rtrs_clt_path`): its connections and their CM
//! flow (`create_cm()`, `rtrs_clt_rdma_cm_handler()`, protocol reference
//! §2.3, §2.9), the INFO exchange (§3), heartbeats (§5.1), the state
//! machine, error recovery and reconnects (§5.2, §5.3).

use core::sync::atomic::{
    AtomicBool, AtomicI32, AtomicI64, AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering,
};

use kernel::new_mutex;
use kernel::prelude::*;
use kernel::str::CString;
use kernel::sync::{Arc, Mutex};

use super::clt::RtrsClt;
use super::io::{self, Conns, InFlight, PathParams, Rbuf, MAX_SEGMENTS};
use super::ops::Dir;
use crate::kernel_ext::context;
use crate::kernel_ext::delay::msleep;
use crate::kernel_ext::errno::{ECONNABORTED, ECONNRESET, EHOSTUNREACH, ETIMEDOUT};
use crate::kernel_ext::rdma::buffer::DmaBuffer;
use crate::kernel_ext::rdma::cm::{
    CmContext, CmEvent, CmEventKind, CmHandler, CmId, CmIdRef, ConnParams,
};
use crate::kernel_ext::rdma::qp::QueuePair;
use crate::kernel_ext::rdma::verbs::{CompletionQueue, ProtectionDomain, QpCaps};
use crate::kernel_ext::rdma::wr::{Completion, Dst, Src, WorkCompletion, Wr};
use crate::kernel_ext::rdma::Address;
use crate::kernel_ext::sync::new_spinlock_bh;
use crate::kernel_ext::trace;
use crate::kernel_ext::workqueue::new_delayed_work;
use crate::kernel_ext::workqueue::{DelayedWork, DelayedWorkItem};
use crate::wire::{
    ConnReq, ConnRsp, Imm, InfoReq, InfoRsp, Uuid, RTRS_HB_INTERVAL_MS, RTRS_HB_MISSED_MAX,
    SERVICE_CON_QUEUE_DEPTH,
};

/// `enum rtrs_clt_state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum State {
    Connecting = 0,
    ConnectingErr = 1,
    Reconnecting = 2,
    Connected = 3,
    Closing = 4,
    Closed = 5,
    Dead = 6,
}

impl State {
    fn from_u8(v: u8) -> State {
        match v {
            0 => State::Connecting,
            1 => State::ConnectingErr,
            2 => State::Reconnecting,
            3 => State::Connected,
            4 => State::Closing,
            5 => State::Closed,
            _ => State::Dead,
        }
    }

    /// `rtrs_clt_change_state()`'s table.
    fn may_become(self, new: State) -> bool {
        use State::*;
        match new {
            Connecting => self == Reconnecting,
            Reconnecting => matches!(self, Connected | ConnectingErr | Closed),
            Connected => self == Connecting,
            ConnectingErr => self == Connecting,
            Closing => matches!(self, Connecting | ConnectingErr | Reconnecting | Connected),
            Closed => self == Closing,
            Dead => self == Closed,
        }
    }
}

const CONNECT_TIMEOUT_MS: u32 = 30_000;
const RECONNECT_BACKOFF_MS: u32 = 1000;
const RECONNECT_SEED: u32 = 8;

pub(crate) const HB_WORK: u64 = 1;
pub(crate) const RECOVERY_WORK: u64 = 2;
pub(crate) const RECONNECT_WORK: u64 = 3;

/// `struct rtrs_clt_stats` (what sysfs shows).
pub(crate) struct Stats {
    pub(crate) read_cnt: AtomicU64,
    pub(crate) read_bytes: AtomicU64,
    pub(crate) write_cnt: AtomicU64,
    pub(crate) write_bytes: AtomicU64,
    pub(crate) inflight: AtomicI32,
    pub(crate) failover_cnt: AtomicU64,
    pub(crate) reconnect_ok: AtomicI32,
    pub(crate) reconnect_fail: AtomicI32,
    /// `cpu_migr` of `struct rtrs_clt_stats_pcpu`, indexed by CPU id.
    pub(crate) cpu_migr: KVec<CpuMigration>,
}

/// Completions handled on another CPU than their connection's
/// (`struct rtrs_clt_stats_pcpu::cpu_migr`).
#[derive(Default)]
pub(crate) struct CpuMigration {
    /// Completions of this CPU's connections handled elsewhere.
    pub(crate) from: AtomicI32,
    /// Completions of other CPUs' connections handled here.
    pub(crate) to: AtomicI32,
}

impl Stats {
    fn new() -> Result<Self> {
        let cpus = context::nr_cpu_ids() as usize;
        let mut cpu_migr = KVec::with_capacity(cpus, GFP_KERNEL)?;
        for _ in 0..cpus {
            cpu_migr.push(CpuMigration::default(), GFP_KERNEL)?;
        }
        Ok(Stats {
            read_cnt: AtomicU64::new(0),
            read_bytes: AtomicU64::new(0),
            write_cnt: AtomicU64::new(0),
            write_bytes: AtomicU64::new(0),
            inflight: AtomicI32::new(0),
            failover_cnt: AtomicU64::new(0),
            reconnect_ok: AtomicI32::new(0),
            reconnect_fail: AtomicI32::new(0),
            cpu_migr,
        })
    }

    /// `rtrs_clt_update_wc_stats()`: a completion of a connection bound to
    /// `con_cpu` handled on the current CPU.
    pub(crate) fn update_wc(&self, con_cpu: u32) {
        let cpu = context::cpu_id();
        if cpu == con_cpu {
            return;
        }
        if let Some(here) = self.cpu_migr.get(cpu as usize) {
            here.to.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(home) = self.cpu_migr.get(con_cpu as usize) {
            home.from.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `rtrs_clt_reset_rdma_stats()`.
    pub(crate) fn reset_rdma(&self) {
        for c in [
            &self.read_cnt,
            &self.read_bytes,
            &self.write_cnt,
            &self.write_bytes,
            &self.failover_cnt,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }

    /// `rtrs_clt_reset_reconnects_stat()`.
    pub(crate) fn reset_reconnects(&self) {
        self.reconnect_ok.store(0, Ordering::Relaxed);
        self.reconnect_fail.store(0, Ordering::Relaxed);
    }

    /// `rtrs_clt_reset_cpu_migr_stats()`.
    pub(crate) fn reset_cpu_migration(&self) {
        for c in self.cpu_migr.iter() {
            c.from.store(0, Ordering::Relaxed);
            c.to.store(0, Ordering::Relaxed);
        }
    }
}

/// `con->cpu` of connection `cid`: `(cid ? cid - 1 : 0) % nr_cpu_ids`.
pub(crate) fn con_cpu(cid: usize) -> u32 {
    (cid.saturating_sub(1) % (context::nr_cpu_ids().max(1) as usize)) as u32
}

/// What a connected path learned for sysfs.
pub(crate) struct PathInfo {
    pub(crate) hca_name: Option<CString>,
    pub(crate) hca_port: u32,
    pub(crate) src_addr: Option<Address>,
}

struct PathInner {
    ids: KVec<CmId<ConEvents>>,
    info: PathInfo,
    queue_depth: u16,
    sysfs: Option<super::sysfs::PathSysfs>,
}

/// A path.
#[pin_data]
pub(crate) struct CltPath {
    pub(crate) clt: Arc<RtrsClt>,
    cm: Arc<CmContext>,
    pub(crate) src: Option<Address>,
    pub(crate) dst: Address,
    sess_uuid: Uuid,
    con_num: u16,
    /// Connections with an interrupt-driven CQ (`irq_con_num`):
    /// `nr_cpu_ids + 1`; cids from here up are poll connections.
    irq_con_num: u16,
    state: AtomicU8,
    pub(crate) for_new_clt: AtomicBool,
    recon_cnt: AtomicU16,
    reconnect_attempts: AtomicU32,
    /// The connected incarnation.
    #[pin]
    conns: crate::kernel_ext::sync::SpinLockBh<Option<Arc<Conns>>>,
    /// The sysfs directory name once it exists, for the trace events
    /// (which may fire in any context). Taken briefly, in any context.
    #[pin]
    trace_name: crate::kernel_ext::sync::SpinLockBh<Option<CString>>,
    #[pin]
    inner: Mutex<PathInner>,
    /// Serialises connect, teardown and close.
    #[pin]
    op: Mutex<()>,
    hb_missed: AtomicU32,
    hb_last_sent: AtomicI64,
    pub(crate) hb_cur_latency: AtomicI64,
    pub(crate) stats: Stats,
    #[pin]
    hb_work: DelayedWork<CltPath, HB_WORK>,
    #[pin]
    recovery_work: DelayedWork<CltPath, RECOVERY_WORK>,
    #[pin]
    reconnect_work: DelayedWork<CltPath, RECONNECT_WORK>,
}

impl CltPath {
    pub(crate) fn new(
        clt: &Arc<RtrsClt>,
        cm: &Arc<CmContext>,
        src: Option<Address>,
        dst: Address,
        for_new_clt: bool,
        nr_poll_queues: u32,
    ) -> Result<Arc<Self>> {
        let mut sess_uuid = [0u8; 16];
        context::random_bytes(&mut sess_uuid);
        // `alloc_path()`: nr_cpu_ids + nr_poll_queues + 1 connections.
        let max = u32::from(crate::wire::MAX_CON_NUM);
        let irq_con_num = (context::nr_cpu_ids() + 1).min(max);
        let con_num = irq_con_num.saturating_add(nr_poll_queues).min(max) as u16;
        let irq_con_num = irq_con_num as u16;
        let stats = Stats::new()?;
        stats.reconnect_ok.store(-1, Ordering::Relaxed);
        Arc::pin_init(
            pin_init!(CltPath {
                clt: clt.clone(),
                cm: cm.clone(),
                src,
                dst,
                sess_uuid,
                con_num,
                irq_con_num,
                state: AtomicU8::new(State::Connecting as u8),
                for_new_clt: AtomicBool::new(for_new_clt),
                recon_cnt: AtomicU16::new(0),
                reconnect_attempts: AtomicU32::new(0),
                conns <- new_spinlock_bh!(None, "CltPath::conns"),
                trace_name <- new_spinlock_bh!(None, "CltPath::trace_name"),
                inner <- new_mutex!(PathInner {
                    ids: KVec::new(),
                    info: PathInfo { hca_name: None, hca_port: 0, src_addr: None },
                    queue_depth: 0,
                    sysfs: None,
                }),
                op <- new_mutex!(()),
                hb_missed: AtomicU32::new(0),
                hb_last_sent: AtomicI64::new(0),
                hb_cur_latency: AtomicI64::new(0),
                stats,
                hb_work <- new_delayed_work!(kernel::workqueue::system(), "CltPath::hb_work"),
                recovery_work <- new_delayed_work!(kernel::workqueue::system(), "CltPath::recovery_work"),
                reconnect_work <- new_delayed_work!(kernel::workqueue::system(), "CltPath::reconnect_work"),
            }),
            GFP_KERNEL,
        )
    }

    pub(crate) fn state(&self) -> State {
        State::from_u8(self.state.load(Ordering::Acquire))
    }

    /// `rtrs_clt_change_state()`: true if the path moved to `new`.
    fn change_state(&self, new: State) -> bool {
        let mut cur = self.state.load(Ordering::Acquire);
        loop {
            if !State::from_u8(cur).may_become(new) {
                return false;
            }
            match self
                .state
                .compare_exchange(cur, new as u8, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
    }

    fn change_state_from_to(&self, old: State, new: State) -> bool {
        self.state() == old && self.change_state(new)
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.state() == State::Connected
    }

    pub(crate) fn conns(&self) -> Option<Arc<Conns>> {
        self.conns.lock().clone()
    }

    /// Connections with an interrupt-driven CQ (admin + IO).
    pub(crate) fn irq_con_num(&self) -> usize {
        usize::from(self.irq_con_num)
    }

    /// The cid of poll connection `index`, if the path has it.
    pub(crate) fn poll_cid(&self, index: u32) -> Option<usize> {
        let cid = usize::from(self.irq_con_num).checked_add(index as usize)?;
        (cid < usize::from(self.con_num)).then_some(cid)
    }

    /// Processes the completions of poll connection `index` of the
    /// current incarnation (none if the path has no such connection or
    /// is not connected).
    pub(crate) fn poll_conn(&self, index: u32) -> u32 {
        let Some(cid) = self.poll_cid(index) else {
            return 0;
        };
        let Some(conns) = self.conns() else {
            return 0;
        };
        match conns.qps.get(cid) {
            Some(qp) => qp.send_cq().poll(None),
            None => 0,
        }
    }

    pub(crate) fn info<R>(&self, f: impl FnOnce(&PathInfo) -> R) -> R {
        f(&self.inner.lock().info)
    }

    /// The path's directory name: `<src>@<dst>` as upstream.
    pub(crate) fn name(&self) -> Result<CString> {
        let src = self
            .info(|i| i.src_addr.clone())
            .or_else(|| self.src.clone());
        let src = match src {
            Some(a) => a.to_rtrs_string()?,
            None => CString::try_from_fmt(kernel::fmt!("ip:0.0.0.0"))?,
        };
        let dst = self.dst.to_rtrs_string()?;
        CString::try_from_fmt(kernel::fmt!(
            "{}@{}",
            src.to_str().unwrap_or("?"),
            dst.to_str().unwrap_or("?")
        ))
    }

    /// Connects every connection and runs the INFO exchange
    /// (`init_path()`). Process context.
    pub(crate) fn connect(self: &Arc<Self>) -> Result {
        let _op = self.op.lock();
        self.recon_cnt.fetch_add(1, Ordering::Relaxed);
        let result = self.connect_locked();
        if let Err(e) = result {
            pr_err!("rtrs client: path connect failed: {:?}\n", e);
            // Whatever is half-built goes now.
            self.destroy_conns(false);
            let _ = self.change_state_from_to(State::Connecting, State::ConnectingErr);
            return Err(e);
        }
        Ok(())
    }

    fn connect_locked(self: &Arc<Self>) -> Result {
        let attempt = Attempt::new(self)?;
        for cid in 0..self.con_num {
            self.connect_con(&attempt, cid)?;
        }
        let (pd, qps, params) = attempt.take_connected()?;
        // Per-request state (`alloc_path_reqs()`), then INFO.
        let max_pages = attempt
            .max_pages
            .load(Ordering::Relaxed)
            .clamp(1, MAX_SEGMENTS);
        let rbufs = self.info_exchange(&pd, &qps, &params)?;
        let conns = Conns::new(self, pd, qps, params, rbufs, max_pages)?;
        io::post_recv_path(&conns)?;
        *self.conns.lock() = Some(conns);
        {
            let mut inner = self.inner.lock();
            inner.info.hca_name = attempt.hca_name.lock().take();
            inner.info.hca_port = attempt.hca_port.load(Ordering::Relaxed);
            inner.info.src_addr = attempt.src_addr.lock().take();
        }
        if !self.change_state(State::Connected) {
            return Err(ECONNABORTED());
        }
        self.clt.set_params(&params, max_pages);
        self.reconnect_attempts.store(0, Ordering::Relaxed);
        self.stats.reconnect_ok.fetch_add(1, Ordering::Relaxed);
        self.hb_missed.store(0, Ordering::Relaxed);
        let _ = self.hb_work.enqueue(self, RTRS_HB_INTERVAL_MS);
        self.clt.path_up();
        Ok(())
    }

    /// Creates connection `cid` and waits for it (`create_cm()`).
    fn connect_con(self: &Arc<Self>, attempt: &Arc<Attempt>, cid: u16) -> Result {
        let handler = Arc::new(
            ConEvents {
                attempt: attempt.clone(),
                cid,
            },
            GFP_KERNEL,
        )?;
        // A `gid:` destination goes in the IB port space (`create_cm()`).
        let id = CmId::with_port_space(&self.cm, handler, self.dst.port_space())?;
        // Allow the port to be reused, as upstream's `create_cm()`.
        id.as_ref().set_reuseaddr().map_err(|e| {
            pr_err!("rtrs client: set address reuse failed: {:?}\n", e);
            e
        })?;
        id.as_ref()
            .resolve_addr(self.src.as_ref(), &self.dst, CONNECT_TIMEOUT_MS)
            .map_err(|e| {
                pr_err!("rtrs client: resolve_addr: {:?}\n", e);
                e
            })?;
        self.inner.lock().ids.push(id, GFP_KERNEL)?;
        // Wait for the CM (`create_cm()`'s wait_event).
        let deadline = connect_deadline();
        loop {
            let err = attempt.cm_err[usize::from(cid)].load(Ordering::Acquire);
            if err == 1 {
                return Ok(());
            }
            if err < 0 {
                return Err(Error::from_errno(err));
            }
            if self.state() != State::Connecting {
                return Err(ECONNABORTED());
            }
            let now = context::ktime_ns();
            if now >= deadline {
                return Err(ETIMEDOUT());
            }
            // Woken by the CM handler; the 100 ms cap notices a path
            // closed meanwhile (nothing completes us for that).
            let _ = attempt
                .cm_event
                .wait_timeout_ms(wait_step_ms(deadline - now));
        }
    }

    /// INFO_REQ / INFO_RSP on connection 0 (`rtrs_send_path_info()`).
    fn info_exchange(
        self: &Arc<Self>,
        pd: &Arc<ProtectionDomain>,
        qps: &KVec<Arc<QueuePair>>,
        params: &PathParams,
    ) -> Result<KVec<Rbuf>> {
        let qp = qps.first().ok_or(EINVAL)?;
        let rsp_len = InfoRsp::SIZE + 16 * usize::from(params.queue_depth);
        let result = Arc::pin_init(
            pin_init!(InfoResult {
                bytes <- new_spinlock_bh!(None, "InfoResult::bytes"),
                done: AtomicI32::new(0),
                arrived <- crate::kernel_ext::sync::new_completion!("InfoResult::arrived"),
            }),
            GFP_KERNEL,
        )?;
        let recv = Wr::new(
            InfoRecv {
                result: result.clone(),
                buf: DmaBuffer::new(pd, rsp_len, GFP_KERNEL)?,
            },
            GFP_KERNEL,
        )?;
        qp.post_recv(recv, |r, sges| sges.add(Dst::buffer(&mut r.buf)))
            .map_err(|e| e.error)?;
        let req = InfoReq::new(self.clt.sessname()).map_err(|_| EINVAL)?;
        let mut buf = DmaBuffer::new(pd, InfoReq::SIZE, GFP_KERNEL)?;
        req.encode_into(buf.as_mut_slice()).map_err(|_| EINVAL)?;
        let send = Wr::new(InfoSend { buf }, GFP_KERNEL)?;
        qp.post_send(send, |s, chain| chain.send(&[Src::buffer(&s.buf)]))
            .map_err(|e| e.error)?;
        let deadline = connect_deadline();
        loop {
            let done = result.done.load(Ordering::Acquire);
            if done > 0 {
                break;
            }
            if done < 0 || self.state() != State::Connecting {
                return Err(ECONNRESET());
            }
            let now = context::ktime_ns();
            if now >= deadline {
                return Err(ETIMEDOUT());
            }
            let _ = result.arrived.wait_timeout_ms(wait_step_ms(deadline - now));
        }
        let bytes = result.bytes.lock().take().ok_or(ECONNRESET())?;
        let (_rsp, descs) = InfoRsp::decode_with_descs(&bytes).map_err(|_| ECONNRESET())?;
        if descs.is_empty() {
            return Err(ECONNRESET());
        }
        let rbufs = descs
            .rbufs(params.queue_depth, params.chunk_size)
            .map_err(|_| ECONNRESET())?;
        let mut out = KVec::with_capacity(usize::from(params.queue_depth), GFP_KERNEL)?;
        for (addr, rkey) in rbufs {
            out.push(
                Rbuf {
                    addr,
                    rkey: AtomicU32::new(rkey),
                },
                GFP_KERNEL,
            )?;
        }
        if out.len() != usize::from(params.queue_depth) {
            return Err(ECONNRESET());
        }
        Ok(out)
    }

    /// Tears the connections down (`rtrs_clt_stop_and_destroy_conns()`):
    /// heartbeat stopped, ids destroyed (QPs drained), requests in flight
    /// completed or failed over. Process context, with `op` held.
    fn destroy_conns(self: &Arc<Self>, failover: bool) {
        self.hb_work.cancel_sync();
        let ids = core::mem::replace(&mut self.inner.lock().ids, KVec::new());
        // The QPs first (drained: every posted context completes,
        // flushed), then the MRs, CQs and PD with the connections, and
        // the ids last: on device removal the device's resources must be
        // gone before its last id is (`rdma_restrack` warns otherwise).
        for id in ids.iter() {
            // DREQ first, as `rtrs_clt_stop_and_destroy_conns()`.
            let _ = id.as_ref().disconnect();
        }
        for id in ids.iter() {
            id.close_qp();
        }
        let conns = self.conns.lock().take();
        let was_up = conns.is_some();
        if let Some(conns) = conns {
            let reqs = conns.drain_slots();
            drop(conns);
            for (req, data, rsp, usr) in reqs {
                self.fail_or_failover(req, data, rsp, &usr, failover);
            }
        }
        drop(ids);
        if was_up {
            self.clt.path_down();
        }
    }

    /// A request taken from this path's slots after a failure.
    fn fail_or_failover(
        self: &Arc<Self>,
        req: InFlight,
        data: crate::kernel_ext::rdma::sg::ReqData,
        rsp: Option<i32>,
        usr: &[u8],
        failover: bool,
    ) {
        self.request_done(&req, 0, false);
        if let Some(errno) = rsp {
            // The server answered: complete with its answer.
            let result = if errno == 0 {
                Ok(())
            } else {
                Err(Error::from_errno(errno))
            };
            let InFlight { permit, done, .. } = req;
            done.call(data, result);
            drop(permit);
            return;
        }
        if failover {
            match self.clt.failover(self, req, usr, data) {
                Ok(()) => return,
                Err((e, req, data)) => {
                    let InFlight { permit, done, .. } = req;
                    done.call(data, Err(e));
                    drop(permit);
                    return;
                }
            }
        }
        let InFlight { permit, done, .. } = req;
        done.call(data, Err(ECONNABORTED()));
        drop(permit);
    }

    /// Accounting of a finished request.
    pub(crate) fn request_done(&self, req: &InFlight, _bytes: usize, _ok: bool) {
        if req.min_inflight {
            self.stats.inflight.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Accounting of a sent request (`rtrs_clt_update_all_stats()`).
    pub(crate) fn request_sent(&self, dir: Dir, bytes: usize, min_inflight: bool) {
        let s = &self.stats;
        match dir {
            Dir::Read => {
                s.read_cnt.fetch_add(1, Ordering::Relaxed);
                s.read_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
            }
            Dir::Write => {
                s.write_cnt.fetch_add(1, Ordering::Relaxed);
                s.write_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
            }
        }
        if min_inflight {
            s.inflight.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `rtrs_rdma_error_recovery()`: a connected path starts recovering;
    /// a connecting one fails its connect. Any context.
    pub(crate) fn error_recovery(self: &Arc<Self>) {
        self.trace(trace::CltPathEvent::RdmaErrorRecovery);
        if self.change_state_from_to(State::Connected, State::Reconnecting) {
            let _ = self.recovery_work.enqueue(self, 0);
        } else {
            let _ = self.change_state_from_to(State::Connecting, State::ConnectingErr);
        }
    }

    /// Something was received: the heartbeat counter restarts.
    pub(crate) fn hb_received(&self) {
        self.hb_missed.store(0, Ordering::Relaxed);
    }

    pub(crate) fn hb_ack(&self) {
        let sent = self.hb_last_sent.load(Ordering::Relaxed);
        self.hb_cur_latency
            .store(context::ktime_ns() - sent, Ordering::Relaxed);
    }

    pub(crate) fn send_hb(&self, imm: Imm) {
        if let Some(conns) = self.conns() {
            if let Some(qp) = conns.qps.first() {
                io::send_imm(qp, imm);
            }
        }
    }

    /// Closes the path for good (`rtrs_clt_close_conns()`, → CLOSED).
    /// Process context.
    pub(crate) fn close(self: &Arc<Self>, failover: bool) {
        self.trace(trace::CltPathEvent::CloseConns);
        self.reconnect_work.cancel_sync();
        let changed = self.change_state(State::Closing);
        {
            let _op = self.op.lock();
            self.destroy_conns(failover);
        }
        self.recovery_work.cancel_sync();
        self.reconnect_work.cancel_sync();
        if changed || self.state() == State::Closing {
            let _ = self.change_state(State::Closed);
        }
    }

    /// Marks a closed path dead and removes its sysfs (remove_path,
    /// session close).
    pub(crate) fn kill(self: &Arc<Self>) {
        self.close(false);
        let _ = self.change_state(State::Dead);
        self.hb_work.disable_sync();
        self.recovery_work.disable_sync();
        self.reconnect_work.disable_sync();
        let sysfs = self.inner.lock().sysfs.take();
        drop(sysfs);
    }

    /// sysfs `remove_path` (`rtrs_clt_remove_path_from_sysfs()`): closed
    /// with failover of its requests, DEAD, out of the session and sysfs.
    /// The caller removed the `remove_path` file itself first.
    pub(crate) fn remove(self: &Arc<Self>) {
        self.close(true);
        self.clt.forget_path(self);
        self.kill();
    }

    pub(crate) fn set_sysfs(&self, sysfs: super::sysfs::PathSysfs) {
        if let Ok(name) = self.name() {
            *self.trace_name.lock() = Some(name);
        }
        self.inner.lock().sysfs = Some(sysfs);
    }

    /// Records an `rtrs_clt` trace event for this path, as upstream's
    /// `rtrs_clt_conn_class` (nothing before the path has a sysfs name).
    fn trace(&self, event: trace::CltPathEvent) {
        let name = self.trace_name.lock();
        if let Some(name) = name.as_ref() {
            trace::clt_path(
                event,
                name,
                &trace::CltPath {
                    state: self.state() as i32,
                    reconnect_attempts: self.reconnect_attempts.load(Ordering::Relaxed) as i32,
                    max_reconnect_attempts: self.clt.max_reconnect_attempts(),
                    fail_cnt: self.stats.reconnect_fail.load(Ordering::Relaxed),
                    success_cnt: self.stats.reconnect_ok.load(Ordering::Relaxed),
                },
            );
        }
    }

    /// sysfs `reconnect` (`rtrs_clt_reconnect_from_sysfs()`).
    pub(crate) fn reconnect_now(self: &Arc<Self>) -> Result {
        let st = self.state();
        if !matches!(
            st,
            State::Connected | State::ConnectingErr | State::Closed | State::Reconnecting
        ) {
            return Err(EBUSY);
        }
        if st != State::Reconnecting && !self.change_state(State::Reconnecting) {
            return Err(EBUSY);
        }
        self.reconnect_attempts.store(0, Ordering::Relaxed);
        {
            let _op = self.op.lock();
            self.destroy_conns(true);
        }
        self.reconnect_work.cancel_sync();
        self.do_reconnect();
        if self.is_connected() {
            Ok(())
        } else {
            Err(crate::kernel_ext::errno::ENOTCONN())
        }
    }

    /// One reconnect attempt (`rtrs_clt_reconnect_work()`).
    fn do_reconnect(self: &Arc<Self>) {
        self.trace(trace::CltPathEvent::ReconnectWork);
        if self.state() != State::Reconnecting {
            return;
        }
        let max = self.clt.max_reconnect_attempts() as u32;
        if self.reconnect_attempts.load(Ordering::Relaxed) >= max {
            pr_info!("rtrs client: max reconnect attempts reached, closing the path\n");
            self.close(false);
            return;
        }
        self.reconnect_attempts.fetch_add(1, Ordering::Relaxed);
        msleep(RECONNECT_BACKOFF_MS);
        if !self.change_state(State::Connecting) {
            return;
        }
        if self.connect().is_err() {
            self.stats.reconnect_fail.fetch_add(1, Ordering::Relaxed);
            if self.change_state(State::Reconnecting) {
                self.schedule_reconnect();
            }
        } else {
            pr_info!("rtrs client: path reconnected\n");
        }
    }

    fn schedule_reconnect(self: &Arc<Self>) {
        let delay = u32::from(self.clt.reconnect_delay_sec()) * 1000
            + context::random_u32() % RECONNECT_SEED;
        let _ = self.reconnect_work.enqueue(self, delay);
    }

    /// sysfs `disconnect`.
    pub(crate) fn disconnect_now(self: &Arc<Self>) {
        self.close(true);
    }
}

impl DelayedWorkItem<RECOVERY_WORK> for CltPath {
    /// `rtrs_clt_err_recovery_work()`.
    fn run(path: Arc<CltPath>) {
        {
            let _op = path.op.lock();
            path.destroy_conns(true);
        }
        if path.state() == State::Reconnecting {
            path.schedule_reconnect();
        }
        // Device removal closes for good (`rtrs_clt_close_conns()`): the
        // path waits in CLOSED for a sysfs `reconnect`.
        let _ = path.change_state_from_to(State::Closing, State::Closed);
    }
}

impl DelayedWorkItem<RECONNECT_WORK> for CltPath {
    fn run(path: Arc<CltPath>) {
        path.do_reconnect();
    }
}

impl DelayedWorkItem<HB_WORK> for CltPath {
    /// `rtrs.c:hb_work()`.
    fn run(path: Arc<CltPath>) {
        if !path.is_connected() {
            return;
        }
        let missed = path.hb_missed.fetch_add(1, Ordering::AcqRel);
        if missed > RTRS_HB_MISSED_MAX {
            pr_err!("rtrs client: heartbeat timeout, reconnecting\n");
            path.error_recovery();
            return;
        }
        if missed == 0 {
            path.hb_last_sent
                .store(context::ktime_ns(), Ordering::Relaxed);
            path.send_hb(Imm::HbMsg);
        }
        let _ = path.hb_work.enqueue(&path, RTRS_HB_INTERVAL_MS);
    }
}

/// The INFO_RSP once received.
#[pin_data]
struct InfoResult {
    #[pin]
    bytes: crate::kernel_ext::sync::SpinLockBh<Option<KVec<u8>>>,
    done: AtomicI32,
    /// Completed when `done` is set.
    #[pin]
    arrived: crate::kernel_ext::sync::Completion,
}

impl InfoResult {
    fn finish(&self, done: i32) {
        self.done.store(done, Ordering::Release);
        self.arrived.complete();
    }
}

/// How long a connecting task sleeps before looking again without being
/// woken: at most 100 ms, at most until `left_ns` runs out.
fn wait_step_ms(left_ns: i64) -> u32 {
    (left_ns / 1_000_000).clamp(1, 100) as u32
}

struct InfoRecv {
    result: Arc<InfoResult>,
    buf: DmaBuffer,
}

impl Completion for InfoRecv {
    fn complete(wr: KBox<Wr<Self>>, wc: &WorkCompletion<'_>) {
        if !wc.is_success() {
            wr.result.finish(-1);
            return;
        }
        let len = (wc.byte_len() as usize).min(wr.buf.len());
        let mut v = KVec::new();
        if v.extend_from_slice(&wr.buf.as_slice()[..len], GFP_ATOMIC)
            .is_err()
        {
            wr.result.finish(-1);
            return;
        }
        *wr.result.bytes.lock() = Some(v);
        wr.result.finish(1);
    }
}

struct InfoSend {
    buf: DmaBuffer,
}

impl Completion for InfoSend {
    fn complete(_wr: KBox<Wr<Self>>, _wc: &WorkCompletion<'_>) {}
}

/// One connect attempt of a path: what its CM events build.
#[pin_data]
pub(crate) struct Attempt {
    path: Arc<CltPath>,
    cm_err: KVec<AtomicI32>,
    /// Completed for every `cm_err` set: the connecting task sleeps on it
    /// (`create_cm()`'s wait_event) instead of polling.
    #[pin]
    cm_event: crate::kernel_ext::sync::Completion,
    #[pin]
    setup: Mutex<Setup>,
    max_pages: AtomicU32,
    hca_port: AtomicU32,
    #[pin]
    hca_name: Mutex<Option<CString>>,
    #[pin]
    src_addr: Mutex<Option<Address>>,
}

struct Setup {
    pd: Option<Arc<ProtectionDomain>>,
    qps: KVec<Option<Arc<QueuePair>>>,
    params: Option<PathParams>,
}

impl Attempt {
    fn new(path: &Arc<CltPath>) -> Result<Arc<Self>> {
        let n = usize::from(path.con_num);
        let mut cm_err = KVec::with_capacity(n, GFP_KERNEL)?;
        let mut qps = KVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            cm_err.push(AtomicI32::new(0), GFP_KERNEL)?;
            qps.push(None, GFP_KERNEL)?;
        }
        Arc::pin_init(
            pin_init!(Attempt {
                path: path.clone(),
                cm_err,
                cm_event <- crate::kernel_ext::sync::new_completion!("Attempt::cm_event"),
                setup <- new_mutex!(Setup { pd: None, qps, params: None }),
                max_pages: AtomicU32::new(MAX_SEGMENTS),
                hca_port: AtomicU32::new(0),
                hca_name <- new_mutex!(None),
                src_addr <- new_mutex!(None),
            }),
            GFP_KERNEL,
        )
    }

    fn take_connected(&self) -> Result<(Arc<ProtectionDomain>, KVec<Arc<QueuePair>>, PathParams)> {
        let mut setup = self.setup.lock();
        let pd = setup.pd.clone().ok_or(ECONNRESET())?;
        let params = setup.params.ok_or(ECONNRESET())?;
        let mut qps = KVec::with_capacity(setup.qps.len(), GFP_KERNEL)?;
        for qp in setup.qps.iter_mut() {
            qps.push(qp.take().ok_or(ECONNRESET())?, GFP_KERNEL)?;
        }
        Ok((pd, qps, params))
    }

    fn set_err(&self, cid: u16, err: i32) {
        if let Some(e) = self.cm_err.get(usize::from(cid)) {
            e.store(err, Ordering::Release);
        }
        self.cm_event.complete();
    }

    /// ADDR_RESOLVED: CQ and QP (`create_con_cq_qp()`), route.
    fn addr_resolved(&self, id: &CmIdRef<'_>, cid: u16) -> Result {
        let device = id.device().ok_or(ENODEV)?;
        let mut setup = self.setup.lock();
        if setup.pd.is_none() {
            setup.pd = Some(ProtectionDomain::new(device)?);
        }
        let pd = setup.pd.clone().ok_or(ENODEV)?;
        let max_qp_wr = device.max_qp_wr();
        let caps = if cid == 0 {
            let n = (SERVICE_CON_QUEUE_DEPTH * 2 + 2).min(max_qp_wr);
            QpCaps {
                max_send_wr: n,
                max_recv_wr: n,
                max_send_sge: 1,
                max_recv_sge: 1,
            }
        } else {
            let qd = u32::from(setup.params.map(|p| p.queue_depth).unwrap_or(1));
            QpCaps {
                max_send_wr: (qd * 4 + 1).min(max_qp_wr),
                max_recv_wr: (qd * 3 + 1).min(max_qp_wr),
                max_send_sge: 2,
                max_recv_sge: 1,
            }
        };
        let entries = (caps.max_send_wr + caps.max_recv_wr).min(device.max_cqe());
        let vectors = device.num_comp_vectors().max(1);
        let cpu = con_cpu(usize::from(cid));
        let cq = if cid >= self.path.irq_con_num {
            // A poll connection (`is_pollqueue()`): `IB_POLL_DIRECT`.
            CompletionQueue::new_direct(device, entries, cpu % vectors)?
        } else {
            CompletionQueue::new(device, entries, cpu % vectors)?
        };
        let qp = id.create_qp(&pd, &cq, &cq, caps)?;
        if cid != 0 {
            // IO sends are batched (`io::Conns::send`): one in
            // IO_SIGNAL_INTERVAL signalled, as upstream's `signal_interval`
            // but small, since a request's context comes back with the
            // next signalled send.
            qp.set_signal_interval(super::io::IO_SIGNAL_INTERVAL);
        }
        if let Some(slot) = setup.qps.get_mut(usize::from(cid)) {
            *slot = Some(qp);
        }
        drop(setup);
        id.resolve_route(CONNECT_TIMEOUT_MS)
    }

    /// ROUTE_RESOLVED: the connect request (`rtrs_rdma_route_resolved()`).
    fn route_resolved(&self, id: &CmIdRef<'_>, cid: u16) -> Result {
        let path = &self.path;
        let req = ConnReq::new(
            cid,
            path.con_num,
            path.recon_cnt.load(Ordering::Relaxed),
            path.sess_uuid,
            path.clt.paths_uuid(),
            path.for_new_clt.load(Ordering::Relaxed),
        );
        let bytes = req.encode();
        let mut params = ConnParams::new(&bytes);
        params.responder_resources = 0;
        params.initiator_depth = 0;
        id.connect(&params)
    }

    /// ESTABLISHED: checks the conn_rsp (`rtrs_rdma_conn_established()`).
    fn established(&self, id: &CmIdRef<'_>, cid: u16, event: &CmEvent<'_>) -> Result {
        let data = event.private_data();
        if data.len() < ConnRsp::SIZE {
            return Err(ECONNRESET());
        }
        let rsp = ConnRsp::decode(data).map_err(|_| ECONNRESET())?;
        if rsp.errno() != 0 {
            return Err(ECONNRESET());
        }
        if cid == 0 {
            // Checked here, before anything is sized by them (see
            // `ConnRsp::path_params`, which the peer uses too).
            let params = rsp.path_params().map_err(|e| {
                pr_err!(
                    "rtrs client: invalid conn_rsp: {} (queue_depth {}, max_io_size {}, max_hdr_size {})\n",
                    e,
                    rsp.queue_depth.get(),
                    rsp.max_io_size.get(),
                    rsp.max_hdr_size.get()
                );
                ECONNRESET()
            })?;
            let qd = params.queue_depth;
            // Only a valid depth is remembered (a reconnect must match it).
            let path = &self.path;
            {
                let mut inner = path.inner.lock();
                if inner.queue_depth != 0 && inner.queue_depth != qd {
                    pr_err!("rtrs client: queue depth changed on reconnect\n");
                    path.reconnect_attempts.store(u32::MAX, Ordering::Relaxed);
                    return Err(ECONNRESET());
                }
                inner.queue_depth = qd;
            }
            self.setup.lock().params = Some(params);
            if let Some(name) = id.device_name() {
                *self.hca_name.lock() =
                    CString::try_from_fmt(kernel::fmt!("{}", name.to_str().unwrap_or("?"))).ok();
            }
            self.hca_port.store(id.port_num(), Ordering::Relaxed);
            *self.src_addr.lock() = Some(id.src_addr());
            path.for_new_clt.store(true, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// The CM handler of a connection.
pub(crate) struct ConEvents {
    attempt: Arc<Attempt>,
    cid: u16,
}

impl CmHandler for ConEvents {
    fn event(&self, id: &CmIdRef<'_>, event: &CmEvent<'_>) {
        let a = &self.attempt;
        let cid = self.cid;
        let err: i32 = match event.kind() {
            CmEventKind::AddrResolved => match a.addr_resolved(id, cid) {
                Ok(()) => 0,
                Err(e) => e.to_errno(),
            },
            CmEventKind::RouteResolved => match a.route_resolved(id, cid) {
                Ok(()) => 0,
                Err(e) => e.to_errno(),
            },
            CmEventKind::Established => match a.established(id, cid, event) {
                Ok(()) => 1,
                Err(e) => e.to_errno(),
            },
            CmEventKind::Rejected => {
                // `rtrs_rdma_conn_rejected()`: the server's errno.
                let data = event.private_data();
                if data.len() >= ConnRsp::SIZE {
                    let errno = i16::from_le_bytes([data[4], data[5]]);
                    pr_err!("rtrs client: connection {} rejected: {}\n", cid, errno);
                    if errno < 0 {
                        i32::from(errno)
                    } else {
                        ECONNRESET().to_errno()
                    }
                } else {
                    ECONNRESET().to_errno()
                }
            }
            CmEventKind::AddrError | CmEventKind::RouteError => EHOSTUNREACH().to_errno(),
            CmEventKind::DeviceRemoval => {
                // Closed without reconnect (from a work: not in the event).
                a.set_err(cid, ECONNRESET().to_errno());
                let path = a.path.clone();
                path.state.store(State::Closing as u8, Ordering::Release);
                let _ = path.recovery_work.enqueue(&path, 0);
                return;
            }
            _ => ECONNRESET().to_errno(),
        };
        if err != 0 {
            a.set_err(cid, err);
        }
        if err < 0 {
            a.path.error_recovery();
        }
    }
}

/// When a connection step started now times out (`CONNECT_TIMEOUT_MS`),
/// in `context::ktime_ns()` time (a wall-clock deadline: counting 2 ms
/// sleeps, as this once did, made a 30 s timeout last about 47 s).
fn connect_deadline() -> i64 {
    context::ktime_ns() + i64::from(CONNECT_TIMEOUT_MS) * 1_000_000
}
