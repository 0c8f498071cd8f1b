// SPDX-License-Identifier: GPL-2.0

//! rnbd_rtrs_clt_test: drives the RTRS client (`rtrs/client`, compiled in
//! as `rnbd_client` does) with raw RNBD messages against a real server:
//! opens a session over one or two paths, SESS_INFO, OPEN of `dev`,
//! writes and reads back patterns of many sizes, then keeps doing so for
//! `io_secs` seconds (while the server side disconnects a path), checks
//! that every path is connected again, CLOSE, close. Prints
//! `rtrs_clt_test: PASS ...` or `rtrs_clt_test: FAIL ...`.

#![recursion_limit = "256"]

use core::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use kernel::prelude::*;
use kernel::sync::Arc;

#[path = "../../../kernel/rust/kernel_ext/mod.rs"]
mod kernel_ext;

#[path = "../../../rtrs/common/wire.rs"]
mod wire;

#[path = "../../../rtrs/common/text.rs"]
mod text;

#[path = "../../../rtrs/common/addr.rs"]
mod addr;

// The test drives a subset of the client that RNBD uses in full.
#[allow(dead_code, unused_imports)]
#[path = "../../../rtrs/client/mod.rs"]
mod rtrs_clt;

#[path = "../../../rnbd/proto/wire.rs"]
mod proto;

use kernel_ext::delay::msleep;
use kernel_ext::param::{module_param, module_param_string};
use kernel_ext::rdma::cm::CmContext;
use kernel_ext::rdma::Address;
use rtrs_clt::ops::{
    CltOps, ConType, Dir, Done, LinkEvent, OpenParams, PathAddr, PermitWait, ReqData, RtrsClt,
};

module_param_string! {
    static DST0: StringParam<64> = "";
    name: "dst0", perm: 0o444,
    desc: "first server address",
}

module_param_string! {
    static DST1: StringParam<64> = "";
    name: "dst1", perm: 0o444,
    desc: "second server address (optional)",
}

module_param_string! {
    static DEV: StringParam<128> = "/dev/ram0";
    name: "dev", perm: 0o444,
    desc: "device to open",
}

module_param! {
    static IO_SECS: u32 = 0;
    name: "io_secs", perm: 0o444,
    desc: "seconds of IO after the first pass",
}

module! {
    type: RtrsCltTest,
    name: "rnbd_rtrs_clt_test",
    author: "rnbd-rs developers",
    description: "rnbd-rs test module: the RTRS client against a server",
    license: "GPL",
}

struct Events {
    reconnected: AtomicU32,
    disconnected: AtomicU32,
}

impl CltOps for Events {
    fn link_event(&self, event: LinkEvent) {
        pr_info!("rtrs_clt_test: link event {:?}\n", event);
        match event {
            LinkEvent::Reconnected => self.reconnected.fetch_add(1, Ordering::Relaxed),
            LinkEvent::Disconnected => self.disconnected.fetch_add(1, Ordering::Relaxed),
        };
    }
}

fn request(clt: &RtrsClt, con: ConType, dir: Dir, usr: &[u8], data: ReqData) -> (Result, ReqData) {
    let Some(permit) = clt.get_permit(con, PermitWait::Wait) else {
        return (Err(EBUSY), data);
    };
    let slot = match Arc::pin_init(
        kernel_ext::sync::new_spinlock_bh!(None, "test::slot"),
        GFP_KERNEL,
    ) {
        Ok(s) => s,
        Err(e) => return (Err(e), data),
    };
    let state = match Arc::new(AtomicI32::new(1), GFP_KERNEL) {
        Ok(s) => s,
        Err(e) => return (Err(e.into()), data),
    };
    let (slot2, state2) = (slot.clone(), state.clone());
    let done = match Done::new(
        move |data: ReqData, result: Result| {
            *slot2.lock() = Some(data);
            let v = match result {
                Ok(()) => 0,
                Err(e) => e.to_errno(),
            };
            state2.store(v, Ordering::Release);
        },
        GFP_KERNEL,
    ) {
        Ok(d) => d,
        Err(e) => return (Err(e), data),
    };
    if let Err((e, _permit, data)) = clt.request(dir, permit, usr, data, done) {
        return (Err(e), data);
    }
    let mut waited = 0;
    loop {
        let v = state.load(Ordering::Acquire);
        if v != 1 {
            let data = slot.lock().take().unwrap_or_else(ReqData::none);
            return (
                if v == 0 {
                    Ok(())
                } else {
                    Err(Error::from_errno(v))
                },
                data,
            );
        }
        msleep(1);
        waited += 1;
        if waited > 120_000 {
            pr_err!("rtrs_clt_test: request never completed\n");
            // The request still owns the data; leak nothing of ours.
            return (Err(ETIMEDOUT_()), ReqData::none());
        }
    }
}

#[allow(non_snake_case)]
fn ETIMEDOUT_() -> Error {
    kernel_ext::errno::ETIMEDOUT()
}

fn buffer(len: usize) -> Result<ReqData> {
    let v = KVec::from_elem(0u8, len, GFP_KERNEL)?;
    ReqData::buffer(v)
}

fn pattern(len: usize, seed: u32) -> Result<KVec<u8>> {
    let mut v = KVec::with_capacity(len, GFP_KERNEL)?;
    let mut x = seed.wrapping_mul(2654435761).wrapping_add(1);
    for _ in 0..len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v.push(x as u8, GFP_KERNEL)?;
    }
    Ok(v)
}

struct Session {
    clt: Arc<RtrsClt>,
    device_id: u32,
    ios: u32,
    retries: u32,
}

impl Session {
    /// One IO, retried while no path can carry it (as RNBD requeues).
    fn io(&mut self, op: proto::Op, sector: u64, data: ReqData) -> (Result, ReqData) {
        let len = data.len() as u32;
        let msg = proto::Io::new(self.device_id, sector, proto::Rw::new(op), len, 0);
        let mut hdr = [0u8; 64];
        let n = match msg.encode_into(&mut hdr) {
            Ok(n) => n,
            Err(_) => return (Err(EINVAL), data),
        };
        let dir = if op.is_rtrs_write() {
            Dir::Write
        } else {
            Dir::Read
        };
        let mut data = data;
        for _ in 0..600 {
            let (r, d) = request(&self.clt, ConType::Io, dir, &hdr[..n], data);
            data = d;
            self.ios += 1;
            match r {
                Err(e)
                    if e.to_errno() == -(kernel::bindings::ECONNABORTED as i32) || e == EBUSY =>
                {
                    self.retries += 1;
                    msleep(100);
                }
                r => return (r, data),
            }
        }
        (Err(EIO), data)
    }

    /// Writes a pattern of `len` bytes at `sector`, reads it back,
    /// compares.
    fn write_verify(&mut self, sector: u64, len: usize, seed: u32) -> Result {
        let pat = pattern(len, seed)?;
        let mut copy = KVec::new();
        copy.extend_from_slice(&pat, GFP_KERNEL)?;
        let (r, _) = self.io(proto::Op::Write, sector, ReqData::buffer(copy)?);
        r.inspect_err(|e| pr_err!("rtrs_clt_test: write {} at {}: {:?}\n", len, sector, e))?;
        let (r, back) = self.io(proto::Op::Read, sector, buffer(len)?);
        r.inspect_err(|e| pr_err!("rtrs_clt_test: read {} at {}: {:?}\n", len, sector, e))?;
        let back = back.into_buffer().map_err(|_| EINVAL)?;
        if back[..] != pat[..] {
            pr_err!(
                "rtrs_clt_test: mismatch: {} bytes at sector {}\n",
                len,
                sector
            );
            return Err(EIO);
        }
        Ok(())
    }
}

fn run(cm: &Arc<CmContext>, class: &Arc<kernel_ext::sysfs::Class>) -> Result<(u32, u32, u32)> {
    let mut paths = KVec::new();
    let dst0 = DST0.to_cstring()?;
    let dst1 = DST1.to_cstring()?;
    for d in [&dst0, &dst1] {
        let s = d.to_str().map_err(|_| EINVAL)?;
        if !s.is_empty() {
            paths.push(
                PathAddr {
                    src: None,
                    dst: Address::parse(s, proto::RTRS_PORT)?,
                },
                GFP_KERNEL,
            )?;
        }
    }
    let events = Arc::new(
        Events {
            reconnected: AtomicU32::new(0),
            disconnected: AtomicU32::new(0),
        },
        GFP_KERNEL,
    )?;
    let params = OpenParams {
        sessname: b"rtrsclt-test",
        paths: &paths,
        port: proto::RTRS_PORT,
        reconnect_delay_sec: 2,
        max_reconnect_attempts: -1,
        nr_poll_queues: 0,
        class,
    };
    let clt = RtrsClt::open(cm, &params, events.clone())?;
    let attrs = clt.query()?;
    pr_info!(
        "rtrs_clt_test: session open: {} path(s), queue_depth {}, max_io_size {}, max_segments {}\n",
        paths.len(),
        attrs.queue_depth,
        attrs.max_io_size,
        attrs.max_segments
    );
    let result = session(&clt, attrs.max_io_size as usize, &events, paths.len());
    clt.close();
    result
}

fn session(
    clt: &Arc<RtrsClt>,
    max_io: usize,
    events: &Arc<Events>,
    npaths: usize,
) -> Result<(u32, u32, u32)> {
    // SESS_INFO.
    let mut hdr = [0u8; 512];
    let n = proto::SessInfo::new(proto::RNBD_PROTO_VER_MAJOR)
        .encode_into(&mut hdr)
        .map_err(|_| EINVAL)?;
    let (r, rsp) = request(
        clt,
        ConType::Admin,
        Dir::Read,
        &hdr[..n],
        buffer(proto::SessInfoRsp::SIZE)?,
    );
    r?;
    let rsp = rsp.into_buffer().map_err(|_| EINVAL)?;
    let info = proto::SessInfoRsp::decode(&rsp).map_err(|_| EPROTO_())?;
    pr_info!("rtrs_clt_test: SESS_INFO ok, server version {}\n", info.ver);
    // OPEN.
    let dev = DEV.to_cstring()?;
    let n = proto::Open::new(proto::AccessMode::Rw, dev.as_bytes())
        .map_err(|_| EINVAL)?
        .encode_into(&mut hdr)
        .map_err(|_| EINVAL)?;
    let (r, rsp) = request(
        clt,
        ConType::Admin,
        Dir::Read,
        &hdr[..n],
        buffer(proto::OpenRsp::SIZE)?,
    );
    r?;
    let rsp = rsp.into_buffer().map_err(|_| EINVAL)?;
    let open = proto::OpenRsp::decode(&rsp).map_err(|_| EPROTO_())?;
    let device_id = open.device_id.get();
    pr_info!(
        "rtrs_clt_test: OPEN ok: device_id {}, {} sectors\n",
        device_id,
        open.nsectors.get()
    );
    let mut s = Session {
        clt: clt.clone(),
        device_id,
        ios: 0,
        retries: 0,
    };
    // Patterns of many sizes.
    let sizes = [512usize, 4096, 8192, 12288, 65536, 4096 * 31, max_io];
    let mut sector = 0u64;
    let mut checked = 0u32;
    for (i, &len) in sizes.iter().enumerate() {
        if len > max_io || len == 0 {
            continue;
        }
        s.write_verify(sector, len, i as u32)?;
        sector += (len as u64).div_ceil(512);
        checked += 1;
    }
    pr_info!(
        "rtrs_clt_test: {} sizes written and read back equal\n",
        checked
    );
    // IO for a while (the server side disconnects a path meanwhile).
    let secs = IO_SECS.get();
    if secs > 0 {
        let start = kernel_ext::context::ktime_ns();
        let mut round = 0u32;
        while kernel_ext::context::ktime_ns() - start < i64::from(secs) * 1_000_000_000 {
            let len = sizes[round as usize % 5];
            s.write_verify((round as u64 % 64) * 256, len, 100 + round)?;
            round += 1;
        }
        pr_info!(
            "rtrs_clt_test: {} rounds of IO in {} s verified ({} retries)\n",
            round,
            secs,
            s.retries
        );
        // Every path back.
        let mut waited = 0;
        loop {
            let (up, total) = clt.path_state_counts();
            if up == total && total == npaths {
                break;
            }
            if waited > 60_000 {
                pr_err!("rtrs_clt_test: paths connected {}/{}\n", up, total);
                return Err(ETIMEDOUT_());
            }
            msleep(100);
            waited += 100;
        }
        s.write_verify(0, 4096, 7)?;
    }
    // CLOSE.
    let n = proto::Close::new(device_id)
        .encode_into(&mut hdr)
        .map_err(|_| EINVAL)?;
    let (r, _) = request(clt, ConType::Admin, Dir::Write, &hdr[..n], ReqData::none());
    r?;
    pr_info!("rtrs_clt_test: CLOSE ok\n");
    Ok((
        s.ios,
        events.disconnected.load(Ordering::Relaxed),
        events.reconnected.load(Ordering::Relaxed),
    ))
}

#[allow(non_snake_case)]
fn EPROTO_() -> Error {
    kernel_ext::errno::EPROTO()
}

struct RtrsCltTest {
    _class: Arc<kernel_ext::sysfs::Class>,
    _cm: Arc<CmContext>,
}

impl kernel::Module for RtrsCltTest {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let cm = Arc::new(CmContext::new()?, GFP_KERNEL)?;
        let class = RtrsClt::register_class()?;
        match run(&cm, &class) {
            Ok((ios, down, up)) => pr_info!(
                "rtrs_clt_test: PASS ({} IOs, {} link down, {} link up events)\n",
                ios,
                down,
                up
            ),
            Err(e) => pr_err!("rtrs_clt_test: FAIL: {:?}\n", e),
        }
        Ok(RtrsCltTest {
            _class: class,
            _cm: cm,
        })
    }
}
