// SPDX-License-Identifier: GPL-2.0

//! A userspace RTRS client path: `cid_num` RC connections over rdma_cm,
//! the INFO exchange, requests into the server's chunks, heartbeats and a
//! clean disconnect (spec §2-§5). Single-threaded: every wait runs the
//! event loop ([`Session::progress`]).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rnbd_wire::rtrs::{
    ConnReq, ConnRsp, Imm, InfoReq, InfoRsp, IoReqImm, RdmaRead, RdmaWrite, RkeyRsp, SgDesc,
    RTRS_HB_INTERVAL_MS,
};

use crate::error::{Error, Kind, Result};
use crate::ffi::{self, cm, CmEvent, CmId, CompChannel, Cq, EventChannel, Pd, Region, SendOp, Wc};

/// Receives kept posted per connection beyond the request window.
const RECV_SLACK: u32 = 32;
/// Size of one general receive buffer (RKEY_RSP is 8 bytes).
const RECV_BUF: usize = 64;
/// Room for the INFO_REQ (and malformed variants) in the control region.
const INFO_REQ_BUF: usize = 512;

const KIND_RECV: u64 = 1;
const KIND_INFO_RECV: u64 = 2;
const KIND_INFO_SEND: u64 = 3;
const KIND_REQ: u64 = 4;
const KIND_HB: u64 = 5;

fn wr_id(kind: u64, cid: usize, idx: usize) -> u64 {
    (kind << 56) | ((cid as u64 & 0xFFFF) << 40) | (idx as u64 & 0xFF_FFFF_FFFF)
}

fn wr_split(id: u64) -> (u64, usize, usize) {
    (
        id >> 56,
        ((id >> 40) & 0xFFFF) as usize,
        (id & 0xFF_FFFF_FFFF) as usize,
    )
}

/// How to build the CM private data of connection `cid` (malformed mode).
pub type ConnReqHook = fn(cid: u16, pdata: &mut Vec<u8>);
/// How to change the INFO_REQ bytes (malformed mode).
pub type InfoReqHook = fn(msg: &mut Vec<u8>);

#[derive(Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub sessname: String,
    /// Connections of the path, cid 0 admin (like C: CPUs + 1).
    pub conns: u16,
    pub timeout: Duration,
    /// Requests in flight at most (server chunks used: 0..window).
    pub window: usize,
    pub verbose: bool,
    pub conn_req_hook: Option<ConnReqHook>,
    pub info_req_hook: Option<InfoReqHook>,
}

struct Conn {
    id: CmId,
    established: bool,
    disconnected: bool,
}

#[derive(Clone, Copy, Default)]
struct Slot {
    busy: bool,
    send_done: bool,
    reply: Option<i32>,
}

/// What the server said about the path when it accepted cid 0: the
/// kernel client's type and checks (`ConnRsp::path_params`).
pub use rnbd_wire::rtrs::PathParams;

/// One RTRS client path. Field order is teardown order: QPs and ids, then
/// the memory regions, the CQ, its channel, the PD, the CM channel.
pub struct Session {
    conns: Vec<Conn>,
    ctrl: Option<Region>,
    io: Option<Region>,
    cq: Option<Cq>,
    comp: Option<CompChannel>,
    pd: Option<Pd>,
    ch: EventChannel,

    pub cfg: Config,
    pub params: Option<PathParams>,
    mem_bits: u32,
    rbufs: Vec<(u64, u32)>,
    slots: Vec<Slot>,
    recv_per_conn: u32,
    info_len: usize,
    info_rsp: Option<(u32, u32)>, // (status, byte_len)
    cm_events: VecDeque<CmEvent>,
    closed: Option<String>,
    fatal: Option<Error>,
    hb_next: Instant,
    pub hb_answered: u32,
    pub hb_acked: u32,
    next_io_cid: usize,
}

fn errno_err(kind: Kind, e: i32, what: &str) -> Error {
    Error::errno(kind, e, what.to_string())
}

impl Session {
    fn new(cfg: Config) -> Result<Self> {
        let ch = EventChannel::new().map_err(|e| {
            if e == 19 {
                errno_err(
                    Kind::Unreachable,
                    e,
                    "rdma_create_event_channel: no RDMA device (load rdma_rxe and add a link?)",
                )
            } else {
                errno_err(Kind::Other, e, "rdma_create_event_channel")
            }
        })?;
        Ok(Session {
            conns: Vec::new(),
            ctrl: None,
            io: None,
            cq: None,
            comp: None,
            pd: None,
            ch,
            cfg,
            params: None,
            mem_bits: 0,
            rbufs: Vec::new(),
            slots: Vec::new(),
            recv_per_conn: 0,
            info_len: 0,
            info_rsp: None,
            cm_events: VecDeque::new(),
            closed: None,
            fatal: None,
            hb_next: Instant::now(),
            hb_answered: 0,
            hb_acked: 0,
            next_io_cid: 0,
        })
    }

    fn log(&self, msg: impl AsRef<str>) {
        if self.cfg.verbose {
            eprintln!("rnbd-peer: {}", msg.as_ref());
        }
    }

    /// Connects all `cfg.conns` connections (cid 0 first, sequentially, as
    /// the C client does) and runs the INFO exchange.
    pub fn connect(cfg: Config) -> Result<Self> {
        if cfg.conns == 0 {
            return Err(Error::new(Kind::Usage, "--connections must be at least 1"));
        }
        let mut s = Session::new(cfg)?;
        let sess_uuid = random_uuid();
        let paths_uuid = random_uuid();
        for cid in 0..s.cfg.conns {
            s.connect_one(cid, sess_uuid, paths_uuid)?;
        }
        s.info_exchange()?;
        Ok(s)
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.cfg.timeout
    }

    fn timeout_ms(&self) -> i32 {
        i32::try_from(self.cfg.timeout.as_millis()).unwrap_or(i32::MAX)
    }

    /// Waits for the next CM event of connection `cid`.
    fn wait_cm(&mut self, cid: usize, what: &str) -> Result<CmEvent> {
        let deadline = self.deadline();
        loop {
            if let Some(pos) = self.cm_events.iter().position(|e| e.ctx == cid) {
                if let Some(ev) = self.cm_events.remove(pos) {
                    self.log(format!(
                        "cid {cid}: {} (status {})",
                        ffi::cm_event_str(ev.event),
                        ev.status
                    ));
                    return Ok(ev);
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::new(
                    Kind::Timeout,
                    format!(
                        "no answer to {what} on connection {cid} within {:?}",
                        self.cfg.timeout
                    ),
                ));
            }
            self.progress(deadline - now)?;
        }
    }

    fn connect_one(&mut self, cid: u16, sess_uuid: [u8; 16], paths_uuid: [u8; 16]) -> Result<()> {
        let idx = usize::from(cid);
        let id =
            CmId::create(&self.ch, idx).map_err(|e| errno_err(Kind::Other, e, "rdma_create_id"))?;
        self.conns.push(Conn {
            id,
            established: false,
            disconnected: false,
        });
        // The CM's own resolution timeout ends before ours, so that it
        // reports ADDR_ERROR/ROUTE_ERROR when it can.
        let to = (self.timeout_ms() / 4 * 3).max(1);
        let (host, port) = (self.cfg.host.clone(), self.cfg.port);
        self.conn(idx)?
            .id
            .resolve_addr(&host, port, to)
            .map_err(|e| errno_err(Kind::Unreachable, e, &format!("rdma_resolve_addr {host}")))?;
        let ev = self
            .wait_cm(idx, "rdma_resolve_addr")
            .map_err(|e| resolve_timeout(e, &host))?;
        if ev.event != cm::ADDR_RESOLVED {
            return Err(self.cm_failure(&ev, &format!("resolving {host}")));
        }
        if cid == 0 {
            self.setup_device()?;
        }
        let window = self.cfg.window as u32;
        let (send_wr, recv_wr) = (window * 2 + 16, window * 2 + RECV_SLACK + 1);
        self.recv_per_conn = window * 2 + RECV_SLACK;
        {
            let (pd, cq) = match (&self.pd, &self.cq) {
                (Some(pd), Some(cq)) => (pd, cq),
                _ => return Err(Error::new(Kind::Other, "no PD/CQ")),
            };
            let conn = self
                .conns
                .get_mut(idx)
                .ok_or_else(|| Error::new(Kind::Other, "no connection"))?;
            conn.id
                .create_qp(pd, cq, send_wr, recv_wr)
                .map_err(|e| errno_err(Kind::Other, e, "rdma_create_qp"))?;
        }
        self.conn(idx)?
            .id
            .resolve_route(to)
            .map_err(|e| errno_err(Kind::Unreachable, e, "rdma_resolve_route"))?;
        let ev = self
            .wait_cm(idx, "rdma_resolve_route")
            .map_err(|e| resolve_timeout(e, &host))?;
        if ev.event != cm::ROUTE_RESOLVED {
            return Err(self.cm_failure(&ev, &format!("route to {host}")));
        }
        let req = ConnReq::new(cid, self.cfg.conns, 1, sess_uuid, paths_uuid, true);
        let mut pdata = req.encode().to_vec();
        if let Some(hook) = self.cfg.conn_req_hook {
            hook(cid, &mut pdata);
        }
        self.conn(idx)?
            .id
            .connect(&pdata)
            .map_err(|e| errno_err(Kind::Other, e, "rdma_connect"))?;
        let ev = self.wait_cm(idx, "the connection request")?;
        if ev.event != cm::ESTABLISHED {
            return Err(self.cm_failure(&ev, &format!("connecting cid {cid} to {host}:{port}")));
        }
        let rsp = ConnRsp::decode(&ev.private_data).map_err(|e| {
            Error::new(
                Kind::Other,
                format!(
                    "bad conn_rsp private data ({} bytes): {e}",
                    ev.private_data.len()
                ),
            )
        })?;
        if rsp.errno() != 0 {
            return Err(Error::errno(
                Kind::Rejected,
                rsp.errno(),
                "server accepted with a non-zero errno",
            ));
        }
        if let Some(c) = self.conns.get_mut(idx) {
            c.established = true;
        }
        if cid == 0 {
            let pp = rsp
                .path_params()
                .map_err(|e| Error::new(Kind::Other, format!("invalid conn_rsp: {e}")))?;
            self.log(format!("cid 0 accepted: {pp:?}"));
            self.mem_bits = pp.mem_bits;
            self.params = Some(pp);
        }
        Ok(())
    }

    /// Turns an unexpected CM event into the error a user can act on.
    fn cm_failure(&self, ev: &CmEvent, what: &str) -> Error {
        let name = ffi::cm_event_str(ev.event);
        match ev.event {
            cm::ADDR_ERROR | cm::ROUTE_ERROR => Error::errno(
                Kind::Unreachable,
                if ev.status != 0 { ev.status } else { 113 },
                format!("{what}: {name}"),
            ),
            cm::REJECTED => match ConnRsp::decode(&ev.private_data) {
                Ok(rsp) if rsp.errno() != 0 => Error::errno(
                    Kind::Rejected,
                    rsp.errno(),
                    format!("{what}: the server rejected the connection"),
                ),
                _ => Error::new(
                    Kind::Unreachable,
                    format!(
                        "{what}: rejected without RTRS data (CM reason {}{}), no rnbd server listening?",
                        ev.status,
                        if ev.status == 8 { ": invalid service id" } else { "" }
                    ),
                ),
            },
            cm::UNREACHABLE | cm::CONNECT_ERROR => Error::errno(
                Kind::Unreachable,
                if ev.status < 0 { -ev.status } else { 113 },
                format!("{what}: {name} (status {})", ev.status),
            ),
            _ => Error::new(
                Kind::Other,
                format!("{what}: unexpected {name} (status {})", ev.status),
            ),
        }
    }

    fn conn(&self, idx: usize) -> Result<&Conn> {
        self.conns
            .get(idx)
            .ok_or_else(|| Error::new(Kind::Other, format!("no connection {idx}")))
    }

    fn setup_device(&mut self) -> Result<()> {
        let ctx = self
            .conn(0)?
            .id
            .verbs()
            .ok_or_else(|| Error::new(Kind::Other, "resolved id has no device"))?;
        let pd = Pd::new(ctx).map_err(|e| errno_err(Kind::Other, e, "ibv_alloc_pd"))?;
        let comp = CompChannel::new(ctx)
            .map_err(|e| errno_err(Kind::Other, e, "ibv_create_comp_channel"))?;
        let w = self.cfg.window as i32;
        let per_conn = (w * 2 + 16) + (w * 2 + RECV_SLACK as i32 + 1);
        let cqe = per_conn * i32::from(self.cfg.conns) + 16;
        let cq =
            Cq::new(ctx, cqe, &comp).map_err(|e| errno_err(Kind::Other, e, "ibv_create_cq"))?;
        cq.req_notify()
            .map_err(|e| errno_err(Kind::Other, e, "ibv_req_notify_cq"))?;
        self.pd = Some(pd);
        self.comp = Some(comp);
        self.cq = Some(cq);
        Ok(())
    }

    fn info_exchange(&mut self) -> Result<()> {
        let p = self.path()?;
        let qd = usize::from(p.queue_depth);
        if self.cfg.window > qd {
            self.cfg.window = qd;
        }
        let pd = self
            .pd
            .as_ref()
            .ok_or_else(|| Error::new(Kind::Other, "no PD"))?;
        self.info_len = 8 + 16 * qd;
        let nconn = self.conns.len();
        let ctrl_len =
            self.info_len + INFO_REQ_BUF + nconn * self.recv_per_conn as usize * RECV_BUF;
        let ctrl =
            Region::new(pd, ctrl_len).map_err(|e| errno_err(Kind::Other, e, "ibv_reg_mr"))?;
        let io_len = self.cfg.window * p.chunk_size as usize;
        let io = Region::new(pd, io_len).map_err(|e| errno_err(Kind::Other, e, "ibv_reg_mr"))?;
        self.slots = vec![Slot::default(); self.cfg.window];
        // INFO_RSP's receive first: receives complete in order.
        self.conn(0)?
            .id
            .post_recv(wr_id(KIND_INFO_RECV, 0, 0), &ctrl, 0, self.info_len as u32)
            .map_err(|e| errno_err(Kind::Other, e, "ibv_post_recv"))?;
        for cid in 0..nconn {
            for i in 0..self.recv_per_conn as usize {
                let off = self.recv_off(cid, i);
                self.conn(cid)?
                    .id
                    .post_recv(wr_id(KIND_RECV, cid, i), &ctrl, off, RECV_BUF as u32)
                    .map_err(|e| errno_err(Kind::Other, e, "ibv_post_recv"))?;
            }
        }
        let mut ctrl = ctrl;
        let name = self.cfg.sessname.as_bytes();
        let mut msg = match InfoReq::new(name) {
            Ok(m) => m.encode().to_vec(),
            Err(e) => {
                if self.cfg.info_req_hook.is_none() {
                    return Err(Error::new(
                        Kind::Usage,
                        format!("session name {:?}: {e}", self.cfg.sessname),
                    ));
                }
                let mut v = vec![0u8; InfoReq::SIZE];
                v[2..2 + name.len().min(254)].copy_from_slice(&name[..name.len().min(254)]);
                v
            }
        };
        if let Some(hook) = self.cfg.info_req_hook {
            hook(&mut msg);
        }
        msg.truncate(INFO_REQ_BUF);
        let at = self.info_len;
        ctrl.bytes_mut()[at..at + msg.len()].copy_from_slice(&msg);
        self.conn(0)?
            .id
            .post_send(
                wr_id(KIND_INFO_SEND, 0, 0),
                SendOp::Send,
                &ctrl,
                at,
                msg.len() as u32,
                0,
                0,
                0,
            )
            .map_err(|e| errno_err(Kind::Other, e, "ibv_post_send INFO_REQ"))?;
        self.ctrl = Some(ctrl);
        self.io = Some(io);
        let deadline = self.deadline();
        while self.info_rsp.is_none() {
            self.check_alive()?;
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::new(
                    Kind::Timeout,
                    format!("no INFO_RSP within {:?}", self.cfg.timeout),
                ));
            }
            self.progress(deadline - now)?;
        }
        let (status, len) = self.info_rsp.unwrap_or((0, 0));
        if status != 0 {
            return Err(Error::new(
                Kind::Closed,
                format!("INFO_RSP receive failed: {}", ffi::wc_status_str(status)),
            ));
        }
        let buf = self
            .ctrl
            .as_ref()
            .map(|c| c.bytes()[..(len as usize).min(self.info_len)].to_vec())
            .unwrap_or_default();
        let (_, descs) = InfoRsp::decode_with_descs(&buf)
            .map_err(|e| Error::new(Kind::Other, format!("bad INFO_RSP: {e}")))?;
        self.rbufs = descs
            .rbufs(p.queue_depth, p.chunk_size)
            .map_err(|e| Error::new(Kind::Other, format!("bad INFO_RSP buffers: {e}")))?
            .collect();
        if self.rbufs.len() != qd {
            return Err(Error::new(Kind::Other, "INFO_RSP: wrong number of buffers"));
        }
        self.log(format!(
            "INFO_RSP: {} descriptors, {} buffers of {} bytes",
            descs.len(),
            self.rbufs.len(),
            p.chunk_size
        ));
        self.hb_next = Instant::now() + Duration::from_millis(u64::from(RTRS_HB_INTERVAL_MS));
        Ok(())
    }

    fn recv_off(&self, cid: usize, i: usize) -> usize {
        self.info_len + INFO_REQ_BUF + (cid * self.recv_per_conn as usize + i) * RECV_BUF
    }

    pub fn path(&self) -> Result<PathParams> {
        self.params
            .ok_or_else(|| Error::new(Kind::Other, "path not connected"))
    }

    pub fn queue_depth(&self) -> u16 {
        self.params.map(|p| p.queue_depth).unwrap_or(0)
    }

    /// Fails if the server closed the path or a completion failed.
    pub fn check_alive(&self) -> Result<()> {
        if let Some(e) = &self.fatal {
            return Err(e.clone());
        }
        if let Some(why) = &self.closed {
            return Err(Error::new(Kind::Closed, why.clone()));
        }
        Ok(())
    }

    /// Runs the event loop once, waiting at most `max` for something.
    pub fn progress(&mut self, max: Duration) -> Result<()> {
        let mut wait = max.min(Duration::from_millis(500));
        if self.params.is_some() && !self.rbufs.is_empty() {
            let now = Instant::now();
            if now >= self.hb_next {
                self.send_hb()?;
            }
            wait = wait.min(self.hb_next.saturating_duration_since(now));
        }
        let comp_fd = self.comp.as_ref().map(|c| c.fd()).unwrap_or(-1);
        let ms = i32::try_from(wait.as_millis()).unwrap_or(500).max(1);
        ffi::wait2(self.ch.fd(), comp_fd, ms).map_err(|e| errno_err(Kind::Other, e, "poll"))?;
        while let Some(ev) = self
            .ch
            .get()
            .map_err(|e| errno_err(Kind::Other, e, "rdma_get_cm_event"))?
        {
            if matches!(
                ev.event,
                cm::DISCONNECTED | cm::DEVICE_REMOVAL | cm::TIMEWAIT_EXIT
            ) {
                if let Some(c) = self.conns.get_mut(ev.ctx) {
                    if c.established && !c.disconnected && ev.event != cm::TIMEWAIT_EXIT {
                        c.disconnected = true;
                        if self.closed.is_none() {
                            self.closed = Some(format!(
                                "the server closed connection {} ({})",
                                ev.ctx,
                                ffi::cm_event_str(ev.event)
                            ));
                        }
                    }
                }
                if ev.event == cm::TIMEWAIT_EXIT {
                    continue;
                }
            }
            self.cm_events.push_back(ev);
        }
        self.poll_cq()
    }

    fn poll_cq(&mut self) -> Result<()> {
        let (Some(comp), Some(cq)) = (&self.comp, &self.cq) else {
            return Ok(());
        };
        while comp
            .get_event()
            .map_err(|e| errno_err(Kind::Other, e, "ibv_get_cq_event"))?
        {}
        let mut wcs = [Wc::default(); 32];
        let mut all = Vec::new();
        loop {
            let n = cq
                .poll(&mut wcs)
                .map_err(|e| errno_err(Kind::Other, e, "ibv_poll_cq"))?;
            all.extend_from_slice(&wcs[..n]);
            if n == 0 {
                cq.req_notify()
                    .map_err(|e| errno_err(Kind::Other, e, "ibv_req_notify_cq"))?;
                let n = cq
                    .poll(&mut wcs)
                    .map_err(|e| errno_err(Kind::Other, e, "ibv_poll_cq"))?;
                if n == 0 {
                    break;
                }
                all.extend_from_slice(&wcs[..n]);
            }
        }
        for wc in all {
            self.handle_wc(wc)?;
        }
        Ok(())
    }

    fn handle_wc(&mut self, wc: Wc) -> Result<()> {
        let (kind, cid, idx) = wr_split(wc.wr_id);
        if wc.status != 0 {
            if kind == KIND_INFO_RECV {
                self.info_rsp = Some((wc.status, 0));
            }
            // Flushes (status 5) follow the server closing the path.
            if wc.status == 5 {
                if self.closed.is_none() {
                    self.closed = Some(format!(
                        "connection {cid} flushed (the QP went to error: closed by the server?)"
                    ));
                }
            } else if self.fatal.is_none() {
                self.fatal = Some(Error::new(
                    Kind::Other,
                    format!(
                        "work completion error on connection {cid}: {} (status {}, vendor_err {:#x}, wr kind {kind})",
                        ffi::wc_status_str(wc.status),
                        wc.status,
                        wc.vendor_err
                    ),
                ));
            }
            return Ok(());
        }
        match kind {
            KIND_INFO_RECV => self.info_rsp = Some((0, wc.byte_len)),
            KIND_INFO_SEND | KIND_HB => {}
            KIND_REQ => {
                if let Some(s) = self.slots.get_mut(idx) {
                    s.send_done = true;
                }
            }
            KIND_RECV => {
                if wc.has_imm != 0 {
                    self.handle_imm(cid, idx, &wc)?;
                }
                self.repost(cid, idx)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn repost(&mut self, cid: usize, idx: usize) -> Result<()> {
        let off = self.recv_off(cid, idx);
        let (Some(conn), Some(ctrl)) = (self.conns.get(cid), &self.ctrl) else {
            return Ok(());
        };
        if conn.disconnected {
            return Ok(());
        }
        conn.id
            .post_recv(wr_id(KIND_RECV, cid, idx), ctrl, off, RECV_BUF as u32)
            .map_err(|e| errno_err(Kind::Other, e, "ibv_post_recv"))
    }

    fn handle_imm(&mut self, cid: usize, idx: usize, wc: &Wc) -> Result<()> {
        match Imm::decode(wc.imm) {
            Ok(Imm::IoRsp { msg_id, errno, .. }) => {
                if wc.opcode == ffi::WC_RECV && self.params.map(|p| p.new_rkey).unwrap_or(false) {
                    let off = self.recv_off(cid, idx);
                    let len = (wc.byte_len as usize).min(RECV_BUF);
                    let bytes = self
                        .ctrl
                        .as_ref()
                        .map(|c| c.bytes()[off..off + len].to_vec())
                        .unwrap_or_default();
                    let rsp = RkeyRsp::decode(&bytes)
                        .and_then(|r| {
                            r.check(self.queue_depth(), Imm::decode(wc.imm)?)
                                .map(|()| r)
                        })
                        .map_err(|e| Error::new(Kind::Other, format!("bad RKEY_RSP: {e}")))?;
                    if let Some(rb) = self.rbufs.get_mut(usize::from(rsp.buf_id.get())) {
                        rb.1 = rsp.rkey.get();
                    }
                }
                match self.slots.get_mut(msg_id as usize) {
                    Some(s) if s.busy => s.reply = Some(errno),
                    _ => self.log(format!("reply for idle buffer {msg_id} (errno {errno})")),
                }
            }
            Ok(Imm::HbMsg) => {
                self.hb_answered += 1;
                self.post_empty_imm(cid, Imm::HbAck)?;
            }
            Ok(Imm::HbAck) => self.hb_acked += 1,
            Ok(Imm::IoReq { .. }) | Err(_) => self.log(format!(
                "unexpected IMM {:#010x} on connection {cid}",
                wc.imm
            )),
        }
        Ok(())
    }

    fn post_empty_imm(&self, cid: usize, imm: Imm) -> Result<()> {
        let (Some(conn), Some(ctrl)) = (self.conns.get(cid), &self.ctrl) else {
            return Ok(());
        };
        if conn.disconnected {
            return Ok(());
        }
        let imm = imm
            .encode()
            .map_err(|e| Error::new(Kind::Other, e.to_string()))?;
        conn.id
            .post_send(
                wr_id(KIND_HB, cid, 0),
                SendOp::WriteWithImm,
                ctrl,
                0,
                0,
                0,
                0,
                imm,
            )
            .map_err(|e| errno_err(Kind::Other, e, "ibv_post_send heartbeat"))
    }

    fn send_hb(&mut self) -> Result<()> {
        self.hb_next = Instant::now() + Duration::from_millis(u64::from(RTRS_HB_INTERVAL_MS));
        self.post_empty_imm(0, Imm::HbMsg)
    }

    /// The connection for the next IO request (cid 1.., round robin; cid 0
    /// if there is only one).
    pub fn next_io_cid(&mut self) -> usize {
        let n = self.conns.len();
        if n <= 1 {
            return 0;
        }
        self.next_io_cid = self.next_io_cid % (n - 1) + 1;
        self.next_io_cid
    }

    /// A free local slot (= server buffer id), waiting for one if needed.
    pub fn get_slot(&mut self) -> Result<usize> {
        let deadline = self.deadline();
        loop {
            if let Some(i) = self.slots.iter().position(|s| !s.busy) {
                return Ok(i);
            }
            self.reap_wait(deadline)?;
        }
    }

    fn reap_wait(&mut self, deadline: Instant) -> Result<()> {
        self.check_alive()?;
        let now = Instant::now();
        if now >= deadline {
            return Err(Error::new(
                Kind::Timeout,
                format!("no reply from the server within {:?}", self.cfg.timeout),
            ));
        }
        self.progress(deadline - now)
    }

    /// The local image of chunk `slot` (data, user header, trailer).
    pub fn slot_buf(&mut self, slot: usize) -> Result<&mut [u8]> {
        let cs = self.path()?.chunk_size as usize;
        let io = self
            .io
            .as_mut()
            .ok_or_else(|| Error::new(Kind::Other, "no IO region"))?;
        io.bytes_mut()
            .get_mut(slot * cs..(slot + 1) * cs)
            .ok_or_else(|| Error::new(Kind::Other, "slot out of range"))
    }

    pub fn slot_bytes(&self, slot: usize, off: usize, len: usize) -> Result<&[u8]> {
        let cs = self.path()?.chunk_size as usize;
        let io = self
            .io
            .as_ref()
            .ok_or_else(|| Error::new(Kind::Other, "no IO region"))?;
        io.bytes()
            .get(slot * cs + off..slot * cs + off + len)
            .ok_or_else(|| Error::new(Kind::Other, "slot range out of range"))
    }

    /// The HCA address and rkey of `[off, off+len)` of local slot `slot`.
    pub fn slot_desc(&self, slot: usize, off: usize, len: usize) -> Result<SgDesc> {
        let cs = self.path()?.chunk_size as usize;
        let io = self
            .io
            .as_ref()
            .ok_or_else(|| Error::new(Kind::Other, "no IO region"))?;
        let addr = io
            .addr_of(slot * cs + off, len)
            .map_err(|e| errno_err(Kind::Other, e, "slot_desc"))?;
        Ok(SgDesc::new(addr, io.rkey, len as u32))
    }

    /// The low-level request: RDMA_WRITE_WITH_IMM of `[off, off+len)` of
    /// local slot `slot` to the same range of the server chunk `buf_id`
    /// (its current rkey), with immediate `imm`. The caller has filled the
    /// slot; the reply is expected for `slot` ([`wait_reply`]).
    pub fn post_request(
        &mut self,
        cid: usize,
        slot: usize,
        buf_id: usize,
        off: usize,
        len: usize,
        imm: u32,
    ) -> Result<()> {
        self.check_alive()?;
        let cs = self.path()?.chunk_size as usize;
        let (raddr, rkey) = *self
            .rbufs
            .get(buf_id)
            .ok_or_else(|| Error::new(Kind::Other, format!("no server buffer {buf_id}")))?;
        let s = self
            .slots
            .get_mut(slot)
            .ok_or_else(|| Error::new(Kind::Other, "bad slot"))?;
        *s = Slot {
            busy: true,
            send_done: false,
            reply: None,
        };
        let conn = self
            .conns
            .get(cid)
            .ok_or_else(|| Error::new(Kind::Other, "bad connection"))?;
        let io = self
            .io
            .as_ref()
            .ok_or_else(|| Error::new(Kind::Other, "no IO region"))?;
        conn.id
            .post_send(
                wr_id(KIND_REQ, cid, slot),
                SendOp::WriteWithImm,
                io,
                slot * cs + off,
                len as u32,
                raddr + off as u64,
                rkey,
                imm,
            )
            .map_err(|e| errno_err(Kind::Other, e, "ibv_post_send request"))
    }

    /// The IO_REQ immediate for a trailer at `offset` of chunk `buf_id`.
    pub fn io_req_imm(&self, buf_id: usize, offset: usize) -> Result<u32> {
        IoReqImm {
            buf_id: buf_id as u32,
            offset: offset as u32,
        }
        .encode(self.mem_bits)
        .map_err(|e| Error::new(Kind::Other, format!("IO_REQ immediate: {e}")))
    }

    pub fn mem_bits(&self) -> u32 {
        self.mem_bits
    }

    /// Sends an RTRS WRITE: `data` and the user header `usr` at offset 0 of
    /// chunk `slot`, then the 4-byte trailer (spec §4.3).
    pub fn send_write(&mut self, cid: usize, slot: usize, data: &[u8], usr: &[u8]) -> Result<()> {
        let p = self.path()?;
        let layout = p
            .io_layout(true, usr.len(), data.len())
            .map_err(|_| Error::errno(Kind::Usage, 90, "request does not fit a chunk"))?;
        let total = layout.hdr_offset + layout.hdr_len;
        let buf = self.slot_buf(slot)?;
        buf[..data.len()].copy_from_slice(data);
        buf[data.len()..data.len() + usr.len()].copy_from_slice(usr);
        let t = RdmaWrite::new(usr.len() as u16).encode();
        buf[data.len() + usr.len()..total].copy_from_slice(&t);
        let imm = self.io_req_imm(slot, layout.trailer_offset)?;
        self.post_request(cid, slot, slot, 0, total, imm)
    }

    /// Sends an RTRS READ: the user header `usr`, the trailer and one
    /// descriptor naming `data_len` bytes at offset 0 of the local slot,
    /// all at chunk offset `data_len` (spec §4.3). No NEED_INVAL: the
    /// buffer is an ordinary MR, not a fast-registration one.
    pub fn send_read(
        &mut self,
        cid: usize,
        slot: usize,
        data_len: usize,
        usr: &[u8],
    ) -> Result<()> {
        let p = self.path()?;
        let descs = if data_len > 0 {
            vec![self.slot_desc(slot, 0, data_len)?]
        } else {
            Vec::new()
        };
        let layout = p
            .io_layout(false, usr.len(), data_len)
            .map_err(|_| Error::errno(Kind::Usage, 90, "request does not fit a chunk"))?;
        let buf = self.slot_buf(slot)?;
        let (hdr, at) = (layout.hdr_offset, layout.trailer_offset);
        buf[hdr..at].copy_from_slice(usr);
        RdmaRead::encode_with_descs(
            usr.len() as u16,
            0,
            &descs,
            &mut buf[at..hdr + layout.hdr_len],
        )
        .map_err(|e| Error::new(Kind::Other, e.to_string()))?;
        let imm = self.io_req_imm(slot, at)?;
        self.post_request(cid, slot, slot, hdr, layout.hdr_len, imm)
    }

    /// Whether `slot` has its reply (and its send completed).
    pub fn reply_of(&self, slot: usize) -> Option<i32> {
        let s = self.slots.get(slot)?;
        if s.busy && s.send_done {
            s.reply
        } else {
            None
        }
    }

    /// Frees `slot` after its reply.
    pub fn release(&mut self, slot: usize) {
        if let Some(s) = self.slots.get_mut(slot) {
            *s = Slot::default();
        }
    }

    /// Waits for the reply to `slot`; returns its errno (0 or negative)
    /// and frees the slot.
    pub fn wait_reply(&mut self, slot: usize) -> Result<i32> {
        let deadline = self.deadline();
        loop {
            if let Some(e) = self.reply_of(slot) {
                self.release(slot);
                return Ok(e);
            }
            self.reap_wait(deadline)?;
        }
    }

    /// Runs the loop for `d` (heartbeats are answered meanwhile).
    pub fn idle(&mut self, d: Duration) -> Result<()> {
        let end = Instant::now() + d;
        loop {
            self.check_alive()?;
            let now = Instant::now();
            if now >= end {
                return Ok(());
            }
            self.progress(end - now)?;
        }
    }

    /// `rdma_disconnect` on every live connection and wait for the
    /// DISCONNECTED events; then everything is destroyed by Drop.
    pub fn disconnect(mut self) -> Result<()> {
        for c in &self.conns {
            if c.established && !c.disconnected {
                let _ = c.id.disconnect();
            }
        }
        let deadline = self.deadline();
        loop {
            let pending = self.conns.iter().any(|c| c.established && !c.disconnected);
            if !pending {
                break;
            }
            // Our own disconnect is not a server close.
            self.closed = None;
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::new(Kind::Timeout, "no DISCONNECTED event"));
            }
            self.progress(deadline - now)?;
            while let Some(ev) = self.cm_events.pop_front() {
                if ev.event == cm::DISCONNECTED {
                    if let Some(c) = self.conns.get_mut(ev.ctx) {
                        c.disconnected = true;
                    }
                }
            }
        }
        self.log("disconnected");
        Ok(())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Fields drop in order: ids/QPs, regions, CQ, channel, PD, CM channel.
        self.conns.clear();
    }
}

/// A resolution that did not finish in time: the address is unreachable.
fn resolve_timeout(e: Error, host: &str) -> Error {
    if e.kind == Kind::Timeout {
        Error::errno(
            Kind::Unreachable,
            110,
            format!("resolving {host}: no answer ({})", e.msg),
        )
    } else {
        e
    }
}

/// 16 random bytes (UUID v4 layout is not required by the server).
fn random_uuid() -> [u8; 16] {
    let mut u = [0u8; 16];
    if let Ok(bytes) = std::fs::read("/proc/sys/kernel/random/uuid") {
        let hex: Vec<u8> = bytes
            .iter()
            .filter(|b| b.is_ascii_hexdigit())
            .copied()
            .collect();
        for (i, pair) in hex.chunks(2).take(16).enumerate() {
            let s = std::str::from_utf8(pair).unwrap_or("00");
            u[i] = u8::from_str_radix(s, 16).unwrap_or(0);
        }
    } else {
        let t = Instant::now().elapsed().as_nanos() as u64 ^ u64::from(std::process::id());
        u[..8].copy_from_slice(&t.to_le_bytes());
    }
    u
}
