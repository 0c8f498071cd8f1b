// SPDX-License-Identifier: GPL-2.0

//! `/sys/class/rtrs-server` as upstream (`rtrs-srv-sysfs.c`, protocol
//! reference §8.4): a device per session named after it, `paths/`, and
//! per path `<client>@<server>/` with `hca_name`, `hca_port`, `src_addr`
//! (the client's address), `dst_addr` (ours), `disconnect` and
//! `stats/rdma`.

use core::sync::atomic::Ordering;

use kernel::c_str;
use kernel::fmt;
use kernel::prelude::*;
use kernel::str::{CStr, CString};
use kernel::sync::Arc;

use super::stats::{PathAddrs, PathStats};
use crate::kernel_ext::sysfs::{
    self, AttrRef, Attribute, AttributeOps, Class, ClassDevice, DeviceAttrs, Dir, KObject,
    KObjectAttrs, Node, ShowBuffer, StoreContext,
};

/// A session's device and its `paths` directory.
pub(crate) struct SessSysfs {
    /// Holds the device (its parent).
    paths: Arc<Dir>,
}

/// The session's device carries no attributes of its own.
pub(crate) struct SessDev;

static SESS_ATTRIBUTES: [AttrRef<DeviceAttrs<SessDev>>; 0] = [];

impl SessSysfs {
    /// `/sys/devices/virtual/rtrs-server/<name>/paths/`.
    pub(crate) fn create(class: &Arc<Class>, name: &[u8]) -> Result<Self> {
        let name = cstring(name)?;
        let dev = ClassDevice::create(class, &name, SessDev, &SESS_ATTRIBUTES)?;
        let paths = Dir::create(dev, c_str!("paths"))?;
        Ok(SessSysfs { paths })
    }
}

/// What a path's files show and do (implemented by the path, so that
/// this file names nothing above it).
pub(crate) trait PathFiles: Send + Sync {
    fn addrs(&self) -> &PathAddrs;
    fn stats(&self) -> &PathStats;
    /// `disconnect`: closes the path (from a work item).
    fn close_async(self: Arc<Self>);
}

/// What a path's files show.
pub(crate) struct PathInfo {
    path: Arc<dyn PathFiles>,
}

/// A path's directory and its `stats` (dropped, in this order, when the
/// path closes).
pub(crate) struct PathSysfs {
    _stats: KObject<PathInfo>,
    _dir: Arc<KObject<PathInfo>>,
}

impl PathSysfs {
    /// `paths/<client>@<server>/` of `sess`.
    pub(crate) fn create(sess: &SessSysfs, path: Arc<dyn PathFiles>) -> Result<Self> {
        let name = CString::try_from_fmt(fmt!(
            "{}@{}",
            path.addrs().client.to_str().unwrap_or("?"),
            path.addrs().server.to_str().unwrap_or("?")
        ))?;
        let dir = Arc::new(
            KObject::create(
                sess.paths.clone(),
                &name,
                PathInfo { path: path.clone() },
                &PATH_ATTRIBUTES,
            )?,
            GFP_KERNEL,
        )?;
        let stats = KObject::create(
            dir.clone() as Arc<dyn Node>,
            c_str!("stats"),
            PathInfo { path: path.clone() },
            &STATS_ATTRIBUTES,
        )?;
        Ok(PathSysfs {
            _stats: stats,
            _dir: dir,
        })
    }
}

fn cstring(bytes: &[u8]) -> Result<CString> {
    let text = core::str::from_utf8(bytes).map_err(|_| EINVAL)?;
    CString::try_from_fmt(fmt!("{}", text))
}

struct HcaName;
impl AttributeOps<PathInfo> for HcaName {
    const NAME: &'static CStr = c_str!("hca_name");
    const MODE: u16 = 0o444;

    fn show(info: &PathInfo, out: &mut ShowBuffer) -> Result {
        out.push(info.path.addrs().hca_name.as_bytes())?;
        out.push(b"\n")
    }
}

struct HcaPort;
impl AttributeOps<PathInfo> for HcaPort {
    const NAME: &'static CStr = c_str!("hca_port");
    const MODE: u16 = 0o444;

    fn show(info: &PathInfo, out: &mut ShowBuffer) -> Result {
        out.write_fmt(fmt!("{}\n", info.path.addrs().hca_port))
    }
}

/// Upstream's `src_addr` is the client's address (the path's destination
/// seen from the server).
struct SrcAddr;
impl AttributeOps<PathInfo> for SrcAddr {
    const NAME: &'static CStr = c_str!("src_addr");
    const MODE: u16 = 0o444;

    fn show(info: &PathInfo, out: &mut ShowBuffer) -> Result {
        out.push(info.path.addrs().client.as_bytes())?;
        out.push(b"\n")
    }
}

struct DstAddr;
impl AttributeOps<PathInfo> for DstAddr {
    const NAME: &'static CStr = c_str!("dst_addr");
    const MODE: u16 = 0o444;

    fn show(info: &PathInfo, out: &mut ShowBuffer) -> Result {
        out.push(info.path.addrs().server.as_bytes())?;
        out.push(b"\n")
    }
}

struct Disconnect;
impl AttributeOps<PathInfo> for Disconnect {
    const NAME: &'static CStr = c_str!("disconnect");
    const MODE: u16 = 0o644;

    fn show(_info: &PathInfo, out: &mut ShowBuffer) -> Result {
        out.push(b"Usage: echo 1 > disconnect\n")
    }

    fn store(info: &PathInfo, input: &[u8], ctx: &mut StoreContext) -> Result {
        if sysfs::trim_newline(input) != b"1" {
            return Err(EINVAL);
        }
        pr_info!(
            "rtrs server: disconnect for path {} requested\n",
            info.path.addrs().client.to_str().unwrap_or("?")
        );
        // First the file itself (as upstream): removing the directory
        // must not wait for this call.
        ctx.remove_self()?;
        info.path.clone().close_async();
        Ok(())
    }
}

struct Rdma;
impl AttributeOps<PathInfo> for Rdma {
    const NAME: &'static CStr = c_str!("rdma");
    const MODE: u16 = 0o644;

    fn show(info: &PathInfo, out: &mut ShowBuffer) -> Result {
        let s = info.path.stats();
        out.write_fmt(fmt!(
            "{} {} {} {}\n",
            s.read_cnt.load(Ordering::Relaxed),
            s.read_bytes.load(Ordering::Relaxed),
            s.write_cnt.load(Ordering::Relaxed),
            s.write_bytes.load(Ordering::Relaxed)
        ))
    }

    fn store(info: &PathInfo, input: &[u8], _ctx: &mut StoreContext) -> Result {
        // "1" resets; anything else (also "0") is EINVAL, as upstream.
        if sysfs::trim_newline(input) != b"1" {
            return Err(EINVAL);
        }
        let s = info.path.stats();
        for counter in [&s.read_cnt, &s.read_bytes, &s.write_cnt, &s.write_bytes] {
            counter.store(0, Ordering::Relaxed);
        }
        Ok(())
    }
}

static HCA_NAME: Attribute<KObjectAttrs<PathInfo>, HcaName> = Attribute::new();
static HCA_PORT: Attribute<KObjectAttrs<PathInfo>, HcaPort> = Attribute::new();
static SRC_ADDR: Attribute<KObjectAttrs<PathInfo>, SrcAddr> = Attribute::new();
static DST_ADDR: Attribute<KObjectAttrs<PathInfo>, DstAddr> = Attribute::new();
static DISCONNECT: Attribute<KObjectAttrs<PathInfo>, Disconnect> = Attribute::new();
static PATH_ATTRIBUTES: [AttrRef<KObjectAttrs<PathInfo>>; 5] = [
    HCA_NAME.as_ref(),
    HCA_PORT.as_ref(),
    SRC_ADDR.as_ref(),
    DST_ADDR.as_ref(),
    DISCONNECT.as_ref(),
];

static RDMA: Attribute<KObjectAttrs<PathInfo>, Rdma> = Attribute::new();
static STATS_ATTRIBUTES: [AttrRef<KObjectAttrs<PathInfo>>; 1] = [RDMA.as_ref()];
