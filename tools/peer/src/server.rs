// SPDX-License-Identifier: GPL-2.0

//! `rnbd-peer serve-malformed`: a malformed RTRS server, to test clients.
//!
//! It listens with rdma_cm and answers every connection request of any
//! client the same way, by its case: a reject (with an errno, with none),
//! an accept whose conn_rsp is wrong in one field, no answer at all, or a
//! correct accept followed by a wrong INFO_RSP (or none) on connection 0.
//! It never serves IO: a client that accepted everything would find the
//! descriptors' rkeys invalid. It runs until it is killed.

use std::time::{Duration, Instant};

use rnbd_wire::rtrs::{ConnReq, ConnRsp, InfoReq, InfoRsp, MsgType, SgDesc, RTRS_MSG_NEW_RKEY_F};

use crate::error::{Error, Kind, Result};
use crate::ffi::{self, cm, CmId, CompChannel, Cq, EventChannel, Pd, Region, SendOp, Wc};

/// The conn_rsp of a correct server: the C server's defaults but a queue
/// depth of 128 (a smaller INFO_RSP and fewer client slots).
const QD: u16 = 128;
const MAX_IO: u32 = 131072 - 4096;
const MAX_HDR: u32 = 4096;

const ENOMEM: i16 = 12;
const EEXIST: i16 = 17;
const EIO: i16 = 5;
const ECONNRESET: i16 = 104;

/// The largest INFO_RSP sent (qd 4096 descriptors and some).
const SEND_BUF: usize = 8 + 16 * 4096 + 4096;
const RECV_BUF: usize = 512;
const RECVS: usize = 8;
/// Connections accepted over the server's life at most.
const MAX_CONNS: usize = 1024;

/// (name, what the server does). The client's expected errno is in the
/// scenario's `expected.txt`, per client.
pub const CASES: &[(&str, &str)] = &[
    (
        "rej-enomem",
        "reject every connection with conn_rsp errno -ENOMEM",
    ),
    (
        "rej-eexist",
        "reject every connection with conn_rsp errno -EEXIST",
    ),
    (
        "rej-positive-errno",
        "reject with conn_rsp errno +5 (not negative)",
    ),
    ("rej-errno-zero", "reject with a conn_rsp whose errno is 0"),
    (
        "rej-no-pdata",
        "reject without private data (the client sees zeros)",
    ),
    (
        "rej-cid1-enomem",
        "accept cid 0 correctly, reject cid 1 with -ENOMEM",
    ),
    (
        "acc-no-pdata",
        "accept without private data (the client sees zeros)",
    ),
    (
        "acc-short-pdata",
        "accept with 8 bytes of conn_rsp (max_io_size, max_hdr_size 0)",
    ),
    ("acc-bad-magic", "accept with magic 0x1BBE"),
    ("acc-bad-major", "accept with version 3.0"),
    ("acc-errno", "accept with conn_rsp errno -EIO"),
    ("acc-qd-0", "accept with queue_depth 0"),
    (
        "acc-qd-over-imm",
        "accept with queue_depth 4096 (12 + 17 bits > 28 of the IMM)",
    ),
    ("acc-max-io-0", "accept with max_io_size 0"),
    ("acc-max-hdr-0", "accept with max_hdr_size 0"),
    ("acc-max-hdr-huge", "accept with max_hdr_size 1 GiB"),
    (
        "acc-disconnect",
        "accept every connection, disconnect cid 0 on INFO_REQ",
    ),
    (
        "no-answer",
        "never answer connection requests (the client times out)",
    ),
    ("info-sg-cnt-0", "INFO_RSP with sg_cnt 0"),
    (
        "info-sg-cnt-qd-1",
        "INFO_RSP with sg_cnt queue_depth - 1 (not a divisor)",
    ),
    (
        "info-sg-cnt-half",
        "INFO_RSP with queue_depth / 2 chunk-sized descriptors (too few buffers)",
    ),
    ("info-desc-len-0", "INFO_RSP with descriptor 5 of length 0"),
    (
        "info-desc-len-2chunk",
        "INFO_RSP with every descriptor twice the chunk size",
    ),
    (
        "info-desc-len-odd",
        "INFO_RSP with descriptor 0 of chunk size + 512",
    ),
    (
        "info-truncated",
        "INFO_RSP one descriptor shorter than its sg_cnt says",
    ),
    ("info-short", "INFO_RSP of 4 bytes"),
    ("info-bad-type", "INFO_RSP with type INFO_REQ (0)"),
    (
        "info-oversize",
        "INFO_RSP longer than the client's receive buffer",
    ),
    ("info-none", "no INFO_RSP (the client times out)"),
];

#[derive(Clone, Copy)]
struct Params {
    qd: u16,
    max_io: u32,
    max_hdr: u32,
}

impl Params {
    fn chunk(&self) -> u32 {
        self.max_io.wrapping_add(self.max_hdr)
    }
}

enum ConnAction {
    Accept(Vec<u8>),
    Reject(Vec<u8>),
    Ignore,
}

fn good() -> Params {
    Params {
        qd: QD,
        max_io: MAX_IO,
        max_hdr: MAX_HDR,
    }
}

/// The parameters the case advertises.
fn params(case: &str) -> Params {
    let mut p = good();
    match case {
        "acc-short-pdata" => {
            p.max_io = 0;
            p.max_hdr = 0;
        }
        "acc-qd-0" => p.qd = 0,
        "acc-qd-over-imm" => p.qd = 4096,
        "acc-max-io-0" => p.max_io = 0,
        "acc-max-hdr-0" => p.max_hdr = 0,
        "acc-max-hdr-huge" => p.max_hdr = 1 << 30,
        _ => {}
    }
    p
}

fn rsp_bytes(p: Params) -> Vec<u8> {
    ConnRsp::accept(p.qd, p.max_io, p.max_hdr, RTRS_MSG_NEW_RKEY_F)
        .encode()
        .to_vec()
}

fn reject_bytes(errno: i16) -> Vec<u8> {
    ConnRsp::reject(errno).encode().to_vec()
}

fn conn_action(case: &str, cid: u16) -> ConnAction {
    let p = params(case);
    let mut ok = rsp_bytes(p);
    match case {
        "rej-enomem" => ConnAction::Reject(reject_bytes(-ENOMEM)),
        "rej-eexist" => ConnAction::Reject(reject_bytes(-EEXIST)),
        "rej-positive-errno" => ConnAction::Reject(reject_bytes(EIO)),
        "rej-errno-zero" => ConnAction::Reject(reject_bytes(0)),
        "rej-no-pdata" => ConnAction::Reject(Vec::new()),
        "rej-cid1-enomem" if cid > 0 => ConnAction::Reject(reject_bytes(-ENOMEM)),
        "acc-no-pdata" => ConnAction::Accept(Vec::new()),
        "acc-short-pdata" => {
            ok.truncate(8);
            ConnAction::Accept(ok)
        }
        "acc-bad-magic" => {
            ok[0] = 0xBE;
            ConnAction::Accept(ok)
        }
        "acc-bad-major" => {
            ok[2] = 0x00;
            ok[3] = 0x03;
            ConnAction::Accept(ok)
        }
        "acc-errno" => {
            let e = (-EIO).to_le_bytes();
            ok[4] = e[0];
            ok[5] = e[1];
            ConnAction::Accept(ok)
        }
        "no-answer" => ConnAction::Ignore,
        _ => ConnAction::Accept(ok),
    }
}

/// `qd` descriptors of one chunk each at a fake address with fake keys
/// (the peer never serves IO).
fn descs(p: Params, n: usize, len: u32) -> Vec<SgDesc> {
    (0..n)
        .map(|i| {
            SgDesc::new(
                0x1000_0000 + i as u64 * u64::from(p.chunk()),
                0xbad0_0000 | i as u32,
                len,
            )
        })
        .collect()
}

fn info_bytes(d: &[SgDesc]) -> Vec<u8> {
    let mut buf = vec![0u8; 8 + 16 * d.len()];
    let n = InfoRsp::encode_with_descs(d, &mut buf).unwrap_or(0);
    buf.truncate(n);
    buf
}

/// What to answer an INFO_REQ with: `None` = nothing.
fn info_answer(case: &str) -> Option<Vec<u8>> {
    let p = params(case);
    let qd = usize::from(p.qd);
    let c = p.chunk();
    let full = || descs(p, qd, c);
    let msg = match case {
        "info-none" | "acc-disconnect" => return None,
        "info-sg-cnt-0" => info_bytes(&[]),
        "info-sg-cnt-qd-1" => info_bytes(&descs(p, qd - 1, c)),
        "info-sg-cnt-half" => info_bytes(&descs(p, qd / 2, c)),
        "info-desc-len-0" => {
            let mut d = full();
            d[5] = SgDesc::new(d[5].addr.get(), d[5].key.get(), 0);
            info_bytes(&d)
        }
        "info-desc-len-2chunk" => info_bytes(&descs(p, qd, c * 2)),
        "info-desc-len-odd" => {
            let mut d = full();
            d[0] = SgDesc::new(d[0].addr.get(), d[0].key.get(), c + 512);
            info_bytes(&d)
        }
        "info-truncated" => {
            let mut m = info_bytes(&full());
            m.truncate(m.len() - 16);
            m
        }
        "info-short" => info_bytes(&full())[..4].to_vec(),
        "info-bad-type" => {
            let mut m = info_bytes(&full());
            m[0] = MsgType::InfoReq as u8;
            m[1] = 0;
            m
        }
        "info-oversize" => {
            let mut m = info_bytes(&full());
            m.resize(m.len() + 64, 0x5a);
            m
        }
        // Conn-level cases that a client accepted: a consistent answer.
        _ => info_bytes(&full()),
    };
    Some(msg)
}

struct Conn {
    id: CmId,
    cid: u16,
}

/// Field order = drop order: ids (and their QPs) before the MRs, CQ, PD.
struct Server {
    conns: Vec<Option<Conn>>,
    pending: Vec<CmId>,
    send: Option<Region>,
    recv: Option<Region>,
    cq: Option<Cq>,
    comp: Option<CompChannel>,
    pd: Option<Pd>,
    _listener: Option<CmId>,
    ch: EventChannel,
    case: &'static str,
    t0: Instant,
}

fn ferr(e: i32, what: &str) -> Error {
    Error::errno(Kind::Other, e, what)
}

impl Server {
    fn log(&self, msg: &str) {
        eprintln!(
            "[{:8.3}] serve-malformed {}: {msg}",
            self.t0.elapsed().as_secs_f64(),
            self.case
        );
    }

    fn setup_device(&mut self, id: &CmId) -> Result<()> {
        if self.pd.is_some() {
            return Ok(());
        }
        let ctx = id
            .verbs()
            .ok_or_else(|| Error::new(Kind::Other, "connection request without a device"))?;
        let pd = Pd::new(ctx).map_err(|e| ferr(e, "ibv_alloc_pd"))?;
        let comp = CompChannel::new(ctx).map_err(|e| ferr(e, "ibv_create_comp_channel"))?;
        let cq = Cq::new(ctx, 4096, &comp).map_err(|e| ferr(e, "ibv_create_cq"))?;
        cq.req_notify().map_err(|e| ferr(e, "ibv_req_notify_cq"))?;
        let send = Region::new(&pd, SEND_BUF).map_err(|e| ferr(e, "ibv_reg_mr"))?;
        let recv =
            Region::new(&pd, MAX_CONNS * RECVS * RECV_BUF).map_err(|e| ferr(e, "ibv_reg_mr"))?;
        self.send = Some(send);
        self.recv = Some(recv);
        self.pd = Some(pd);
        self.comp = Some(comp);
        self.cq = Some(cq);
        Ok(())
    }

    fn post_recv(&self, idx: usize, slot: usize) -> Result<()> {
        let (Some(Some(c)), Some(r)) = (self.conns.get(idx), self.recv.as_ref()) else {
            return Ok(());
        };
        let off = (idx * RECVS + slot) * RECV_BUF;
        c.id.post_recv(((idx as u64) << 16) | slot as u64, r, off, RECV_BUF as u32)
            .map_err(|e| ferr(e, "ibv_post_recv"))
    }

    fn on_connect_request(&mut self, ev: &ffi::CmEvent, mut id: CmId) -> Result<()> {
        let req = match ConnReq::decode(&ev.private_data) {
            Ok(r) => r,
            Err(e) => {
                self.log(&format!("bad conn_req ({e:?}): reject -ECONNRESET"));
                let _ = id.reject(&reject_bytes(-ECONNRESET));
                return Ok(());
            }
        };
        let cid = req.cid.get();
        let what = format!(
            "conn_req cid {cid}/{} first_conn {}",
            req.cid_num.get(),
            req.is_first_conn()
        );
        match conn_action(self.case, cid) {
            ConnAction::Ignore => {
                self.log(&format!("{what}: no answer"));
                self.pending.push(id);
            }
            ConnAction::Reject(pd) => {
                self.log(&format!("{what}: reject with {} bytes", pd.len()));
                if let Err(e) = id.reject(&pd) {
                    self.log(&format!("rdma_reject: errno {e}"));
                }
            }
            ConnAction::Accept(pd) => {
                self.setup_device(&id)?;
                let idx = self.conns.len();
                if idx >= MAX_CONNS {
                    self.log(&format!("{what}: too many connections, reject -ENOMEM"));
                    let _ = id.reject(&reject_bytes(-ENOMEM));
                    return Ok(());
                }
                {
                    let (Some(pdom), Some(cq)) = (self.pd.as_ref(), self.cq.as_ref()) else {
                        return Err(Error::new(Kind::Other, "no PD/CQ"));
                    };
                    id.create_qp(pdom, cq, 64, RECVS as u32 + 1)
                        .map_err(|e| ferr(e, "rdma_create_qp"))?;
                }
                id.set_context(idx);
                self.conns.push(Some(Conn { id, cid }));
                for slot in 0..RECVS {
                    self.post_recv(idx, slot)?;
                }
                self.log(&format!("{what}: accept with {} bytes", pd.len()));
                if let Some(Some(c)) = self.conns.get(idx) {
                    if let Err(e) = c.id.accept(&pd) {
                        self.log(&format!("rdma_accept: errno {e}"));
                    }
                }
            }
        }
        Ok(())
    }

    fn on_cm_event(&mut self, ev: ffi::CmEvent, new_id: Option<CmId>) -> Result<()> {
        if ev.event == cm::CONNECT_REQUEST {
            if let Some(id) = new_id {
                return self.on_connect_request(&ev, id);
            }
            return Ok(());
        }
        let name = ffi::cm_event_str(ev.event);
        let Some(Some(c)) = self.conns.get(ev.ctx) else {
            self.log(&format!("{name} (status {}) on a pending id", ev.status));
            return Ok(());
        };
        self.log(&format!("cid {}: {name} (status {})", c.cid, ev.status));
        if ev.event != cm::ESTABLISHED {
            let _ = c.id.disconnect();
            if let Some(slot) = self.conns.get_mut(ev.ctx) {
                *slot = None;
            }
        }
        Ok(())
    }

    fn on_wc(&mut self, wc: Wc) -> Result<()> {
        let idx = (wc.wr_id >> 16) as usize;
        let slot = (wc.wr_id & 0xffff) as usize;
        let Some(Some(c)) = self.conns.get(idx) else {
            return Ok(());
        };
        let cid = c.cid;
        if wc.status != 0 {
            self.log(&format!(
                "cid {cid}: completion {} (opcode {})",
                ffi::wc_status_str(wc.status),
                wc.opcode
            ));
            return Ok(());
        }
        if wc.opcode != ffi::WC_RECV {
            if wc.opcode & ffi::WC_RECV == 0 {
                self.log(&format!("cid {cid}: send done"));
            }
            return Ok(());
        }
        let off = (idx * RECVS + slot) * RECV_BUF;
        let len = (wc.byte_len as usize).min(RECV_BUF);
        let msg = self
            .recv
            .as_ref()
            .and_then(|r| r.bytes().get(off..off + len))
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        self.post_recv(idx, slot)?;
        match InfoReq::decode(&msg) {
            Ok(req) if cid == 0 => {
                self.log(&format!(
                    "INFO_REQ for session {:?}",
                    String::from_utf8_lossy(req.pathname())
                ));
                self.answer_info(idx)
            }
            _ => {
                self.log(&format!("cid {cid}: {} bytes received", wc.byte_len));
                Ok(())
            }
        }
    }

    fn answer_info(&mut self, idx: usize) -> Result<()> {
        if self.case == "acc-disconnect" {
            self.log("INFO_REQ: disconnect instead");
            if let Some(Some(c)) = self.conns.get(idx) {
                let _ = c.id.disconnect();
            }
            return Ok(());
        }
        let Some(msg) = info_answer(self.case) else {
            self.log("INFO_REQ: no answer");
            return Ok(());
        };
        let (Some(Some(c)), Some(send)) = (self.conns.get(idx), self.send.as_mut()) else {
            return Ok(());
        };
        let n = msg.len().min(SEND_BUF);
        send.bytes_mut()[..n].copy_from_slice(&msg[..n]);
        let sg_cnt = u16::from_le_bytes([
            msg.get(2).copied().unwrap_or(0),
            msg.get(3).copied().unwrap_or(0),
        ]);
        let r = c.id.post_send(
            (idx as u64) << 16 | 0xffff,
            SendOp::Send,
            send,
            0,
            n as u32,
            0,
            0,
            0,
        );
        self.log(&format!(
            "INFO_RSP of {n} bytes (sg_cnt {sg_cnt}){}",
            match r {
                Ok(()) => String::new(),
                Err(e) => format!(": post failed, errno {e}"),
            }
        ));
        Ok(())
    }

    fn poll_cq(&mut self) -> Result<()> {
        if let Some(comp) = self.comp.as_ref() {
            while comp.get_event().map_err(|e| ferr(e, "ibv_get_cq_event"))? {}
        }
        if let Some(cq) = self.cq.as_ref() {
            cq.req_notify().map_err(|e| ferr(e, "ibv_req_notify_cq"))?;
        }
        loop {
            let mut wcs = [Wc::default(); 16];
            let n = match self.cq.as_ref() {
                Some(cq) => cq.poll(&mut wcs).map_err(|e| ferr(e, "ibv_poll_cq"))?,
                None => 0,
            };
            if n == 0 {
                return Ok(());
            }
            for wc in wcs.iter().take(n) {
                self.on_wc(*wc)?;
            }
        }
    }
}

/// Serves `case` on `host:port` until killed (or `duration`, if given).
pub fn serve(case: &str, host: &str, port: u16, duration: Option<Duration>) -> Result<()> {
    let case: &'static str = CASES
        .iter()
        .find(|(n, _)| *n == case)
        .map(|(n, _)| *n)
        .ok_or_else(|| Error::new(Kind::Usage, format!("unknown case {case:?} (see --list)")))?;
    let ch = EventChannel::new().map_err(|e| ferr(e, "rdma_create_event_channel"))?;
    let listener = CmId::create(&ch, usize::MAX).map_err(|e| ferr(e, "rdma_create_id"))?;
    listener
        .listen(host, port, 64)
        .map_err(|e| ferr(e, "rdma_bind_addr/rdma_listen"))?;
    let mut s = Server {
        conns: Vec::new(),
        pending: Vec::new(),
        send: None,
        recv: None,
        cq: None,
        comp: None,
        pd: None,
        _listener: Some(listener),
        ch,
        case,
        t0: Instant::now(),
    };
    s.log(&format!("listening on {host}:{port}"));
    loop {
        if duration.is_some_and(|d| s.t0.elapsed() >= d) {
            s.log("done");
            return Ok(());
        }
        let comp_fd = s.comp.as_ref().map_or(-1, CompChannel::fd);
        ffi::wait2(s.ch.fd(), comp_fd, 200).map_err(|e| ferr(e, "poll"))?;
        while let Some((ev, id)) =
            s.ch.get_with_id()
                .map_err(|e| ferr(e, "rdma_get_cm_event"))?
        {
            s.on_cm_event(ev, id)?;
        }
        s.poll_cq()?;
    }
}
