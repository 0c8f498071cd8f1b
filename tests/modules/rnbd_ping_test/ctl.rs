// SPDX-License-Identifier: GPL-2.0

//! The sysfs control device, `/sys/devices/virtual/rnbd-ping-test/ctl/`:
//!
//! ```text
//! connect      write "<address>": connect, check the accept's private
//!              data, learn the server's registered buffer
//! run          write "<bytes> <seed>": SEND/RECV ping, RDMA WRITE_WITH_IMM
//!              + READ back compared, remote invalidation (SEND_WITH_INV)
//!              of a client MR, local invalidation (LOCAL_INV) of the
//!              server's MR with a checksum
//! stale        write 1: RDMA READ with the invalidated rkey must fail
//! burst        write "<count> <bad_at> [drop]": batched (mostly
//!              unsignalled) RDMA WRITEs, one with a wrong rkey, or the
//!              connection destroyed with them outstanding; every context
//!              must come back once, in order
//! disconnect   write 1
//! result       the client's last outcome
//! server       the listening side's counters
//! ```

use core::sync::atomic::Ordering;

use kernel::prelude::*;
use kernel::str::{CStr, CString};
use kernel::sync::{Arc, Mutex};
use kernel::{c_str, fmt};

use crate::client::Client;
use crate::kernel_ext::rdma::cm::CmContext;
use crate::kernel_ext::rdma::Address;
use crate::kernel_ext::sysfs::{
    self, AttrRef, Attribute, AttributeOps, DeviceAttrs, ShowBuffer, StoreContext,
};
use crate::server::Server;
use crate::PORT;

pub(crate) struct Ctl {
    pub(crate) server: Arc<Server>,
    pub(crate) client: Arc<Client>,
    /// The module's rdma_cm context, for the client's ids.
    pub(crate) cm: Arc<CmContext>,
    /// The text `result` shows.
    pub(crate) result: Pin<KBox<Mutex<Option<CString>>>>,
}

impl Ctl {
    /// Records the outcome of a step and passes its error on.
    fn record<T>(&self, outcome: Result<T>, text: impl FnOnce(&T) -> Result<CString>) -> Result {
        let line = match &outcome {
            Ok(value) => text(value)?,
            Err(e) => CString::try_from_fmt(fmt!("error {}", e.to_errno()))?,
        };
        *self.result.lock() = Some(line);
        outcome.map(|_| ())
    }
}

fn input_str(input: &[u8]) -> Result<&str> {
    core::str::from_utf8(sysfs::trim_newline(input)).map_err(|_| EINVAL)
}

struct Connect;
impl AttributeOps<Ctl> for Connect {
    const NAME: &'static CStr = c_str!("connect");
    const MODE: u16 = 0o200;

    fn store(ctl: &Ctl, input: &[u8], _ctx: &mut StoreContext) -> Result {
        let address = Address::parse(input_str(input)?, PORT)?;
        let outcome = ctl.client.connect(&ctl.cm, &address);
        ctl.record(outcome, |reply| {
            CString::try_from_fmt(fmt!(
                "connected {}",
                core::str::from_utf8(reply).unwrap_or("?")
            ))
        })
    }
}

struct Run;
impl AttributeOps<Ctl> for Run {
    const NAME: &'static CStr = c_str!("run");
    const MODE: u16 = 0o200;

    fn store(ctl: &Ctl, input: &[u8], _ctx: &mut StoreContext) -> Result {
        let mut words = input_str(input)?.split_whitespace();
        let len: usize = words.next().and_then(|w| w.parse().ok()).ok_or(EINVAL)?;
        let seed: u32 = words.next().and_then(|w| w.parse().ok()).ok_or(EINVAL)?;
        let client = &ctl.client;
        let outcome = (|| -> Result<u32> {
            client.ping(seed)?;
            let sum = client.write_read(len, seed)?;
            client.remote_invalidate(len, seed.wrapping_add(1))?;
            client.check(sum, len)?;
            Ok(sum)
        })();
        ctl.record(outcome, |sum| {
            CString::try_from_fmt(fmt!(
                "ok ping write_imm read remote_inv local_inv bytes={} sum={:08x}",
                len,
                sum
            ))
        })
    }
}

struct Burst;
impl AttributeOps<Ctl> for Burst {
    const NAME: &'static CStr = c_str!("burst");
    const MODE: u16 = 0o200;

    /// "<count> <bad_at> [drop]": see `Client::burst`.
    fn store(ctl: &Ctl, input: &[u8], _ctx: &mut StoreContext) -> Result {
        let mut words = input_str(input)?.split_whitespace();
        let count: u32 = words.next().and_then(|w| w.parse().ok()).ok_or(EINVAL)?;
        let bad_at: u32 = words.next().and_then(|w| w.parse().ok()).ok_or(EINVAL)?;
        let drop_at_end = match words.next() {
            None => false,
            Some("drop") => true,
            Some(_) => return Err(EINVAL),
        };
        if count == 0 || count > 100_000 || bad_at > count {
            return Err(EINVAL);
        }
        let outcome = ctl.client.burst(count, bad_at, drop_at_end);
        ctl.record(outcome, |t| {
            CString::try_from_fmt(fmt!(
                "burst posted={} refused={} back={} success={} error={} flushed={} handed_back={} out_of_order={} twice={}",
                t.posted,
                t.refused,
                t.back,
                t.success,
                t.error,
                t.flushed,
                t.handed_back,
                t.out_of_order,
                t.twice
            ))
        })
    }
}

struct Stale;
impl AttributeOps<Ctl> for Stale {
    const NAME: &'static CStr = c_str!("stale");
    const MODE: u16 = 0o200;

    fn store(ctl: &Ctl, _input: &[u8], _ctx: &mut StoreContext) -> Result {
        let outcome = ctl.client.read_stale();
        ctl.record(outcome, |status| {
            CString::try_from_fmt(fmt!("refused {}", status.to_str().unwrap_or("?")))
        })
    }
}

struct Disconnect;
impl AttributeOps<Ctl> for Disconnect {
    const NAME: &'static CStr = c_str!("disconnect");
    const MODE: u16 = 0o200;

    fn store(ctl: &Ctl, _input: &[u8], _ctx: &mut StoreContext) -> Result {
        let outcome = ctl.client.disconnect();
        ctl.record(outcome, |()| CString::try_from_fmt(fmt!("disconnected")))
    }
}

struct ResultAttr;
impl AttributeOps<Ctl> for ResultAttr {
    const NAME: &'static CStr = c_str!("result");
    const MODE: u16 = 0o444;

    fn show(ctl: &Ctl, out: &mut ShowBuffer) -> Result {
        match &*ctl.result.lock() {
            Some(line) => out.write_fmt(fmt!("{}\n", line.to_str().unwrap_or("?"))),
            None => out.write_fmt(fmt!("none\n")),
        }
    }
}

struct ServerAttr;
impl AttributeOps<Ctl> for ServerAttr {
    const NAME: &'static CStr = c_str!("server");
    const MODE: u16 = 0o444;

    fn show(ctl: &Ctl, out: &mut ShowBuffer) -> Result {
        let c = &ctl.server.counters;
        let get = |counter: &core::sync::atomic::AtomicU32| counter.load(Ordering::Relaxed);
        out.write_fmt(fmt!(
            "established={} disconnected={} rejected={} active={} pings={} writes_with_imm={} remote_inv={} checks_ok={} checks_bad={} errors={}\n",
            get(&c.established),
            get(&c.disconnected),
            get(&c.rejected),
            ctl.server.active(),
            get(&c.pings),
            get(&c.writes_with_imm),
            get(&c.remote_invalidations),
            get(&c.checks_ok),
            get(&c.checks_bad),
            get(&c.errors)
        ))
    }
}

static CONNECT: Attribute<DeviceAttrs<Ctl>, Connect> = Attribute::new();
static RUN: Attribute<DeviceAttrs<Ctl>, Run> = Attribute::new();
static STALE: Attribute<DeviceAttrs<Ctl>, Stale> = Attribute::new();
static BURST: Attribute<DeviceAttrs<Ctl>, Burst> = Attribute::new();
static DISCONNECT: Attribute<DeviceAttrs<Ctl>, Disconnect> = Attribute::new();
static RESULT: Attribute<DeviceAttrs<Ctl>, ResultAttr> = Attribute::new();
static SERVER: Attribute<DeviceAttrs<Ctl>, ServerAttr> = Attribute::new();
pub(crate) static CTL_ATTRIBUTES: [AttrRef<DeviceAttrs<Ctl>>; 7] = [
    CONNECT.as_ref(),
    RUN.as_ref(),
    STALE.as_ref(),
    BURST.as_ref(),
    DISCONNECT.as_ref(),
    RESULT.as_ref(),
    SERVER.as_ref(),
];
