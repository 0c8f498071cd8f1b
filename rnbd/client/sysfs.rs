// SPDX-License-Identifier: GPL-2.0

//! `/sys/class/rnbd-client/ctl/map_device` and `/sys/block/rnbd<N>/rnbd/`
//! (`rnbd-clt-sysfs.c`; spec §8.1).

use kernel::prelude::*;
use kernel::str::CStr;
use kernel::sync::Arc;
use kernel::{c_str, fmt};

use crate::kernel_ext::module_ref::ModuleRef;
use crate::kernel_ext::sysfs::{
    AttrRef, Attribute, AttributeOps, DeviceAttrs, KObjectAttrs, ShowBuffer, StoreContext,
};
use crate::map_opts;
use crate::proto::AccessMode;

/// What `ctl/map_device` does (implemented by the client, so that this
/// file names nothing above it).
pub(crate) trait CtlOps: Send + Sync {
    /// Maps a device from what was written (`rnbd_clt_map_device_store()`).
    fn map_device(self: Arc<Self>, input: &[u8]) -> Result;
}

/// The `ctl` device's data.
pub(crate) struct Ctl {
    pub(crate) client: Arc<dyn CtlOps>,
}

struct MapDevice;

impl AttributeOps<Ctl> for MapDevice {
    const NAME: &'static CStr = c_str!("map_device");
    const MODE: u16 = 0o644;

    fn show(_c: &Ctl, out: &mut ShowBuffer) -> Result {
        out.push(map_opts::MAP_DEVICE_USAGE.as_bytes())
    }

    fn store(c: &Ctl, input: &[u8], _ctx: &mut StoreContext) -> Result {
        c.client.clone().map_device(input)
    }
}

static MAP_DEVICE: Attribute<DeviceAttrs<Ctl>, MapDevice> = Attribute::new();
pub(crate) static CTL_ATTRIBUTES: [AttrRef<DeviceAttrs<Ctl>>; 1] = [MAP_DEVICE.as_ref()];

/// What a device's files show and do (implemented by the device).
pub(crate) trait DevFiles: Send + Sync {
    /// `rnbd<N>`, for messages.
    fn name(&self) -> &CStr;
    /// `mapping_path`: the server's device path.
    fn pathname(&self) -> &[u8];
    /// `state`: `init`, `open`, `closed`, `unmapped`.
    fn state_name(&self) -> &'static str;
    /// `session`: its session's name.
    fn sessname(&self) -> &CStr;
    fn access_mode(&self) -> AccessMode;
    fn nr_poll_queues(&self) -> u32;
    /// The module is going away (no unmap from sysfs then, as upstream).
    fn unloading(&self) -> bool;
    /// `unmap_device` (`ctx`: the writing file, which removes itself).
    fn unmap(self: Arc<Self>, force: bool, ctx: &mut StoreContext) -> Result;
    /// `resize`, to `sectors`.
    fn resize(&self, sectors: u64) -> Result;
    /// `remap_device`.
    fn remap(&self) -> Result;
}

/// The data of `/sys/block/rnbd<N>/rnbd/`.
pub(crate) struct DevSysfs {
    pub(crate) dev: Arc<dyn DevFiles>,
}

struct UnmapDevice;

impl AttributeOps<DevSysfs> for UnmapDevice {
    const NAME: &'static CStr = c_str!("unmap_device");
    const MODE: u16 = 0o644;

    fn show(_d: &DevSysfs, out: &mut ShowBuffer) -> Result {
        out.push(b"Usage: echo <normal|force> > unmap_device\n")
    }

    fn store(d: &DevSysfs, input: &[u8], ctx: &mut StoreContext) -> Result {
        let force = map_opts::parse_unmap(input).inspect_err(|_| {
            pr_err!(
                "{}: unmap_device: Invalid value: {}\n",
                d.dev.name(),
                kernel::str::BStr::from_bytes(crate::text::strstrip(input))
            )
        })?;
        pr_info!(
            "{}: Unmapping device, option: {}.\n",
            d.dev.name(),
            if force { "force" } else { "normal" }
        );
        // As upstream: no unmap while the module is going away.
        let _module = ModuleRef::get(&crate::THIS_MODULE).map_err(|_| ENODEV)?;
        if d.dev.unloading() {
            return Err(ENODEV);
        }
        d.dev.clone().unmap(force, ctx)
    }
}

struct Resize;

impl AttributeOps<DevSysfs> for Resize {
    const NAME: &'static CStr = c_str!("resize");
    const MODE: u16 = 0o644;

    fn show(_d: &DevSysfs, out: &mut ShowBuffer) -> Result {
        out.push(b"Usage: echo <new size in sectors> > resize\n")
    }

    fn store(d: &DevSysfs, input: &[u8], _ctx: &mut StoreContext) -> Result {
        let sectors = crate::text::kstrtoul(input).map_err(|e| Error::from_errno(-e))?;
        d.dev.resize(sectors)
    }
}

struct RemapDevice;

impl AttributeOps<DevSysfs> for RemapDevice {
    const NAME: &'static CStr = c_str!("remap_device");
    const MODE: u16 = 0o644;

    fn show(_d: &DevSysfs, out: &mut ShowBuffer) -> Result {
        out.push(b"Usage: echo <1> > remap_device\n")
    }

    fn store(d: &DevSysfs, input: &[u8], _ctx: &mut StoreContext) -> Result {
        map_opts::parse_remap(input)?;
        d.dev.remap()
    }
}

struct MappingPath;

impl AttributeOps<DevSysfs> for MappingPath {
    const NAME: &'static CStr = c_str!("mapping_path");
    const MODE: u16 = 0o444;

    fn show(d: &DevSysfs, out: &mut ShowBuffer) -> Result {
        out.push(d.dev.pathname())?;
        out.push(b"\n")
    }
}

struct State;

impl AttributeOps<DevSysfs> for State {
    const NAME: &'static CStr = c_str!("state");
    const MODE: u16 = 0o444;

    fn show(d: &DevSysfs, out: &mut ShowBuffer) -> Result {
        out.write_fmt(fmt!("{}\n", d.dev.state_name()))
    }
}

struct Session;

impl AttributeOps<DevSysfs> for Session {
    const NAME: &'static CStr = c_str!("session");
    const MODE: u16 = 0o444;

    fn show(d: &DevSysfs, out: &mut ShowBuffer) -> Result {
        out.push(d.dev.sessname().as_bytes())?;
        out.push(b"\n")
    }
}

struct AccessModeAttr;

impl AttributeOps<DevSysfs> for AccessModeAttr {
    const NAME: &'static CStr = c_str!("access_mode");
    const MODE: u16 = 0o444;

    fn show(d: &DevSysfs, out: &mut ShowBuffer) -> Result {
        out.write_fmt(fmt!("{}\n", d.dev.access_mode().as_str()))
    }
}

struct NrPollQueues;

impl AttributeOps<DevSysfs> for NrPollQueues {
    const NAME: &'static CStr = c_str!("nr_poll_queues");
    const MODE: u16 = 0o444;

    fn show(d: &DevSysfs, out: &mut ShowBuffer) -> Result {
        out.write_fmt(fmt!("{}\n", d.dev.nr_poll_queues() as i32))
    }
}

static UNMAP_DEVICE: Attribute<KObjectAttrs<DevSysfs>, UnmapDevice> = Attribute::new();
static RESIZE: Attribute<KObjectAttrs<DevSysfs>, Resize> = Attribute::new();
static REMAP_DEVICE: Attribute<KObjectAttrs<DevSysfs>, RemapDevice> = Attribute::new();
static MAPPING_PATH: Attribute<KObjectAttrs<DevSysfs>, MappingPath> = Attribute::new();
static STATE: Attribute<KObjectAttrs<DevSysfs>, State> = Attribute::new();
static SESSION: Attribute<KObjectAttrs<DevSysfs>, Session> = Attribute::new();
static ACCESS_MODE: Attribute<KObjectAttrs<DevSysfs>, AccessModeAttr> = Attribute::new();
static NR_POLL_QUEUES: Attribute<KObjectAttrs<DevSysfs>, NrPollQueues> = Attribute::new();

/// `rnbd_dev_attrs`, in upstream order.
pub(crate) static DEV_ATTRIBUTES: [AttrRef<KObjectAttrs<DevSysfs>>; 8] = [
    UNMAP_DEVICE.as_ref(),
    RESIZE.as_ref(),
    REMAP_DEVICE.as_ref(),
    MAPPING_PATH.as_ref(),
    STATE.as_ref(),
    SESSION.as_ref(),
    ACCESS_MODE.as_ref(),
    NR_POLL_QUEUES.as_ref(),
];
