// SPDX-License-Identifier: GPL-2.0

//! `/sys/class/rtrs-client/<sessname>/` as upstream (`rtrs-clt-sysfs.c`,
//! protocol reference §8.3): `mpath_policy`, `max_reconnect_attempts`,
//! `add_path`, `paths/<src>@<dst>/{state, reconnect, disconnect,
//! remove_path, hca_name, hca_port, src_addr, dst_addr, cur_latency,
//! stats/{cpu_migration_from, cpu_migration_to, rdma, reconnects,
//! reset_all}}`.

use core::sync::atomic::Ordering;

use kernel::c_str;
use kernel::prelude::*;
use kernel::str::{CStr, CString};
use kernel::sync::Arc;

use super::clt::{RtrsClt, MP_POLICY_MIN_INFLIGHT, MP_POLICY_MIN_LATENCY, MP_POLICY_RR};
use super::path::{CltPath, State};
use crate::kernel_ext::sysfs::{
    self, AttrRef, Attribute, AttributeOps, Class, ClassDevice, DeviceAttrs, Dir, KObject,
    KObjectAttrs, Node, ShowBuffer, StoreContext,
};
use crate::text::kstrtoint;

/// The session device's data.
pub(crate) struct SessDev {
    clt: Arc<RtrsClt>,
}

/// The session's device and `paths/`.
pub(crate) struct SessSysfs {
    paths: Arc<Dir>,
}

impl SessSysfs {
    pub(crate) fn create(class: &Arc<Class>, clt: &Arc<RtrsClt>) -> Result<Self> {
        let text = core::str::from_utf8(clt.sessname()).map_err(|_| EINVAL)?;
        let name = CString::try_from_fmt(kernel::fmt!("{}", text))?;
        let dev =
            ClassDevice::create(class, &name, SessDev { clt: clt.clone() }, &SESS_ATTRIBUTES)?;
        let paths = Dir::create(dev, c_str!("paths"))?;
        Ok(SessSysfs { paths })
    }
}

struct MpathPolicy;
impl AttributeOps<SessDev> for MpathPolicy {
    const NAME: &'static CStr = c_str!("mpath_policy");
    const MODE: u16 = 0o644;

    fn show(d: &SessDev, out: &mut ShowBuffer) -> Result {
        match d.clt.mp_policy.load(Ordering::Relaxed) {
            MP_POLICY_RR => out.push(b"round-robin (RR: 0)\n"),
            MP_POLICY_MIN_LATENCY => out.push(b"min-latency (ML: 2)\n"),
            _ => out.push(b"min-inflight (MI: 1)\n"),
        }
    }

    fn store(d: &SessDev, input: &[u8], _ctx: &mut StoreContext) -> Result {
        // As upstream `mpath_policy_store()`: a number (kstrtoint) 0..=2;
        // else the input must start with a policy's full name (any case,
        // anything may follow), or be exactly its two-letter short name.
        let number = kstrtoint(input).and_then(|v| u8::try_from(v).ok());
        let s = sysfs::trim_newline(input);
        let starts =
            |full: &[u8]| s.len() >= full.len() && s[..full.len()].eq_ignore_ascii_case(full);
        let short = |name: &[u8]| s.len() == 2 && s.eq_ignore_ascii_case(name);
        let policy = match number {
            Some(v @ (MP_POLICY_RR | MP_POLICY_MIN_INFLIGHT | MP_POLICY_MIN_LATENCY)) => v,
            _ if starts(b"round-robin") || short(b"rr") => MP_POLICY_RR,
            _ if starts(b"min-inflight") || short(b"mi") => MP_POLICY_MIN_INFLIGHT,
            _ if starts(b"min-latency") || short(b"ml") => MP_POLICY_MIN_LATENCY,
            _ => return Err(EINVAL),
        };
        d.clt.mp_policy.store(policy, Ordering::Relaxed);
        Ok(())
    }
}

struct MaxReconnectAttempts;
impl AttributeOps<SessDev> for MaxReconnectAttempts {
    const NAME: &'static CStr = c_str!("max_reconnect_attempts");
    const MODE: u16 = 0o644;

    fn show(d: &SessDev, out: &mut ShowBuffer) -> Result {
        out.write_fmt(kernel::fmt!("{}\n", d.clt.max_reconnect_attempts()))
    }

    fn store(d: &SessDev, input: &[u8], _ctx: &mut StoreContext) -> Result {
        let s = core::str::from_utf8(sysfs::trim_newline(input)).map_err(|_| EINVAL)?;
        let v: i32 = s.parse().map_err(|_| EINVAL)?;
        if !(-1..=9999).contains(&v) {
            return Err(EINVAL);
        }
        d.clt.set_max_reconnect_attempts(v);
        Ok(())
    }
}

struct AddPath;
impl AttributeOps<SessDev> for AddPath {
    const NAME: &'static CStr = c_str!("add_path");
    const MODE: u16 = 0o644;

    fn show(_d: &SessDev, out: &mut ShowBuffer) -> Result {
        out.push(b"Usage: echo [<source addr>@]<destination addr> > add_path\n\n*addr ::= [ ip:<ipv4|ipv6> | gid:<gid> ]\n")
    }

    fn store(d: &SessDev, input: &[u8], _ctx: &mut StoreContext) -> Result {
        d.clt.add_path_from_text(input)
    }
}

static ADD_PATH: Attribute<DeviceAttrs<SessDev>, AddPath> = Attribute::new();
static MPATH_POLICY: Attribute<DeviceAttrs<SessDev>, MpathPolicy> = Attribute::new();
static MAX_RECONNECT_ATTEMPTS: Attribute<DeviceAttrs<SessDev>, MaxReconnectAttempts> =
    Attribute::new();
static SESS_ATTRIBUTES: [AttrRef<DeviceAttrs<SessDev>>; 3] = [
    ADD_PATH.as_ref(),
    MPATH_POLICY.as_ref(),
    MAX_RECONNECT_ATTEMPTS.as_ref(),
];

/// What a path's files see.
pub(crate) struct PathData {
    path: Arc<CltPath>,
}

/// A path's directory and its `stats`.
pub(crate) struct PathSysfs {
    _stats: KObject<PathData>,
    _dir: Arc<KObject<PathData>>,
}

impl PathSysfs {
    pub(crate) fn create(sess: &SessSysfs, path: &Arc<CltPath>) -> Result<Self> {
        let name = path.name()?;
        let dir = Arc::new(
            KObject::create(
                sess.paths.clone(),
                &name,
                PathData { path: path.clone() },
                &PATH_ATTRIBUTES,
            )?,
            GFP_KERNEL,
        )?;
        let stats = KObject::create(
            dir.clone() as Arc<dyn Node>,
            c_str!("stats"),
            PathData { path: path.clone() },
            &STATS_ATTRIBUTES,
        )?;
        Ok(PathSysfs {
            _stats: stats,
            _dir: dir,
        })
    }
}

struct StateAttr;
impl AttributeOps<PathData> for StateAttr {
    const NAME: &'static CStr = c_str!("state");
    const MODE: u16 = 0o444;

    fn show(d: &PathData, out: &mut ShowBuffer) -> Result {
        if d.path.state() == State::Connected {
            out.push(b"connected\n")
        } else {
            out.push(b"disconnected\n")
        }
    }
}

struct Reconnect;
impl AttributeOps<PathData> for Reconnect {
    const NAME: &'static CStr = c_str!("reconnect");
    const MODE: u16 = 0o644;

    fn show(_d: &PathData, out: &mut ShowBuffer) -> Result {
        out.push(b"Usage: echo 1 > reconnect\n")
    }

    fn store(d: &PathData, input: &[u8], _ctx: &mut StoreContext) -> Result {
        if sysfs::trim_newline(input) != b"1" {
            return Err(EINVAL);
        }
        d.path.reconnect_now()
    }
}

struct Disconnect;
impl AttributeOps<PathData> for Disconnect {
    const NAME: &'static CStr = c_str!("disconnect");
    const MODE: u16 = 0o644;

    fn show(_d: &PathData, out: &mut ShowBuffer) -> Result {
        out.push(b"Usage: echo 1 > disconnect\n")
    }

    fn store(d: &PathData, input: &[u8], _ctx: &mut StoreContext) -> Result {
        if sysfs::trim_newline(input) != b"1" {
            return Err(EINVAL);
        }
        d.path.disconnect_now();
        Ok(())
    }
}

struct RemovePath;
impl AttributeOps<PathData> for RemovePath {
    const NAME: &'static CStr = c_str!("remove_path");
    const MODE: u16 = 0o644;

    fn show(_d: &PathData, out: &mut ShowBuffer) -> Result {
        out.push(b"Usage: echo 1 > remove_path\n")
    }

    fn store(d: &PathData, input: &[u8], ctx: &mut StoreContext) -> Result {
        // `sysfs_streq(buf, "1")`, as upstream: "1" with or without a
        // newline, nothing else.
        if sysfs::trim_newline(input) != b"1" {
            return Err(EINVAL);
        }
        // First this file (as upstream's `sysfs_remove_file_self`):
        // removing the path's directory must not wait for this call.
        if ctx.remove_self()? {
            d.path.remove();
        }
        Ok(())
    }
}

struct HcaName;
impl AttributeOps<PathData> for HcaName {
    const NAME: &'static CStr = c_str!("hca_name");
    const MODE: u16 = 0o444;

    fn show(d: &PathData, out: &mut ShowBuffer) -> Result {
        d.path.info(|i| match i.hca_name.as_ref() {
            Some(n) => out.push(n.as_bytes()),
            None => Ok(()),
        })?;
        out.push(b"\n")
    }
}

struct HcaPort;
impl AttributeOps<PathData> for HcaPort {
    const NAME: &'static CStr = c_str!("hca_port");
    const MODE: u16 = 0o444;

    fn show(d: &PathData, out: &mut ShowBuffer) -> Result {
        let port = d.path.info(|i| i.hca_port);
        out.write_fmt(kernel::fmt!("{}\n", port))
    }
}

struct SrcAddr;
impl AttributeOps<PathData> for SrcAddr {
    const NAME: &'static CStr = c_str!("src_addr");
    const MODE: u16 = 0o444;

    fn show(d: &PathData, out: &mut ShowBuffer) -> Result {
        let addr = d
            .path
            .info(|i| i.src_addr.clone())
            .or_else(|| d.path.src.clone());
        if let Some(addr) = addr {
            out.push(addr.to_rtrs_string()?.as_bytes())?;
        }
        out.push(b"\n")
    }
}

struct DstAddr;
impl AttributeOps<PathData> for DstAddr {
    const NAME: &'static CStr = c_str!("dst_addr");
    const MODE: u16 = 0o444;

    fn show(d: &PathData, out: &mut ShowBuffer) -> Result {
        out.push(d.path.dst.to_rtrs_string()?.as_bytes())?;
        out.push(b"\n")
    }
}

struct CurLatency;
impl AttributeOps<PathData> for CurLatency {
    const NAME: &'static CStr = c_str!("cur_latency");
    const MODE: u16 = 0o444;

    fn show(d: &PathData, out: &mut ShowBuffer) -> Result {
        out.write_fmt(kernel::fmt!(
            "{} ns\n",
            d.path.hb_cur_latency.load(Ordering::Relaxed)
        ))
    }
}

fn reset_store(input: &[u8]) -> Result {
    if sysfs::trim_newline(input) != b"1" {
        return Err(EINVAL);
    }
    Ok(())
}

struct Rdma;
impl AttributeOps<PathData> for Rdma {
    const NAME: &'static CStr = c_str!("rdma");
    const MODE: u16 = 0o644;

    fn show(d: &PathData, out: &mut ShowBuffer) -> Result {
        let s = &d.path.stats;
        out.write_fmt(kernel::fmt!(
            "{} {} {} {} {} {}\n",
            s.read_cnt.load(Ordering::Relaxed),
            s.read_bytes.load(Ordering::Relaxed),
            s.write_cnt.load(Ordering::Relaxed),
            s.write_bytes.load(Ordering::Relaxed),
            s.inflight.load(Ordering::Relaxed),
            s.failover_cnt.load(Ordering::Relaxed)
        ))
    }

    fn store(d: &PathData, input: &[u8], _ctx: &mut StoreContext) -> Result {
        reset_store(input)?;
        d.path.stats.reset_rdma();
        Ok(())
    }
}

struct Reconnects;
impl AttributeOps<PathData> for Reconnects {
    const NAME: &'static CStr = c_str!("reconnects");
    const MODE: u16 = 0o644;

    fn show(d: &PathData, out: &mut ShowBuffer) -> Result {
        let s = &d.path.stats;
        out.write_fmt(kernel::fmt!(
            "{} {}\n",
            s.reconnect_ok.load(Ordering::Relaxed),
            s.reconnect_fail.load(Ordering::Relaxed)
        ))
    }

    fn store(d: &PathData, input: &[u8], _ctx: &mut StoreContext) -> Result {
        reset_store(input)?;
        d.path.stats.reset_reconnects();
        Ok(())
    }
}

/// `cpu_migration_from` (`TO = false`) and `cpu_migration_to`: one `"%d "`
/// per CPU, then a newline (`rtrs_clt_stats_migration_*_cnt_to_str()`);
/// `1` resets both (`rtrs_clt_reset_cpu_migr_stats()`).
struct CpuMigrationAttr<const TO: bool>;
impl<const TO: bool> AttributeOps<PathData> for CpuMigrationAttr<TO> {
    const NAME: &'static CStr = if TO {
        c_str!("cpu_migration_to")
    } else {
        c_str!("cpu_migration_from")
    };
    const MODE: u16 = 0o644;

    fn show(d: &PathData, out: &mut ShowBuffer) -> Result {
        for c in d.path.stats.cpu_migr.iter() {
            let count = if TO { &c.to } else { &c.from };
            out.write_fmt(kernel::fmt!("{} ", count.load(Ordering::Relaxed)))?;
        }
        out.push(b"\n")
    }

    fn store(d: &PathData, input: &[u8], _ctx: &mut StoreContext) -> Result {
        reset_store(input)?;
        d.path.stats.reset_cpu_migration();
        Ok(())
    }
}

struct ResetAll;
impl AttributeOps<PathData> for ResetAll {
    const NAME: &'static CStr = c_str!("reset_all");
    const MODE: u16 = 0o644;

    fn show(_d: &PathData, out: &mut ShowBuffer) -> Result {
        out.push(b"echo 1 to reset all statistics\n")
    }

    fn store(d: &PathData, input: &[u8], _ctx: &mut StoreContext) -> Result {
        reset_store(input)?;
        // `rtrs_clt_reset_all_stats()`.
        let s = &d.path.stats;
        s.reset_rdma();
        s.reset_cpu_migration();
        s.reset_reconnects();
        s.inflight.store(0, Ordering::Relaxed);
        Ok(())
    }
}

static STATE: Attribute<KObjectAttrs<PathData>, StateAttr> = Attribute::new();
static RECONNECT: Attribute<KObjectAttrs<PathData>, Reconnect> = Attribute::new();
static DISCONNECT: Attribute<KObjectAttrs<PathData>, Disconnect> = Attribute::new();
static REMOVE_PATH: Attribute<KObjectAttrs<PathData>, RemovePath> = Attribute::new();
static HCA_NAME: Attribute<KObjectAttrs<PathData>, HcaName> = Attribute::new();
static HCA_PORT: Attribute<KObjectAttrs<PathData>, HcaPort> = Attribute::new();
static SRC_ADDR: Attribute<KObjectAttrs<PathData>, SrcAddr> = Attribute::new();
static DST_ADDR: Attribute<KObjectAttrs<PathData>, DstAddr> = Attribute::new();
static CUR_LATENCY: Attribute<KObjectAttrs<PathData>, CurLatency> = Attribute::new();
static PATH_ATTRIBUTES: [AttrRef<KObjectAttrs<PathData>>; 9] = [
    REMOVE_PATH.as_ref(),
    STATE.as_ref(),
    RECONNECT.as_ref(),
    DISCONNECT.as_ref(),
    HCA_NAME.as_ref(),
    HCA_PORT.as_ref(),
    SRC_ADDR.as_ref(),
    DST_ADDR.as_ref(),
    CUR_LATENCY.as_ref(),
];

static RDMA: Attribute<KObjectAttrs<PathData>, Rdma> = Attribute::new();
static RECONNECTS: Attribute<KObjectAttrs<PathData>, Reconnects> = Attribute::new();
static RESET_ALL: Attribute<KObjectAttrs<PathData>, ResetAll> = Attribute::new();
static CPU_MIGRATION_FROM: Attribute<KObjectAttrs<PathData>, CpuMigrationAttr<false>> =
    Attribute::new();
static CPU_MIGRATION_TO: Attribute<KObjectAttrs<PathData>, CpuMigrationAttr<true>> =
    Attribute::new();
static STATS_ATTRIBUTES: [AttrRef<KObjectAttrs<PathData>>; 5] = [
    CPU_MIGRATION_FROM.as_ref(),
    CPU_MIGRATION_TO.as_ref(),
    RECONNECTS.as_ref(),
    RDMA.as_ref(),
    RESET_ALL.as_ref(),
];
