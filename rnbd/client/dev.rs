// SPDX-License-Identifier: GPL-2.0

//! A mapped device (`struct rnbd_clt_dev`): map, OPEN/CLOSE, remap,
//! resize, unmap (`rnbd-clt.c`).

use core::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, AtomicU8, Ordering};

use kernel::prelude::*;
use kernel::str::{CStr, CString};
use kernel::sync::{Arc, Mutex};
use kernel::time::Ktime;
use kernel::{c_str, fmt, new_mutex};

use crate::blk::{Blk, DevQueue};
use crate::kernel_ext::block::{Disk, DiskBuilder, QueueLimits, SECTOR_SHIFT};
use crate::kernel_ext::errno::EALREADY;
use crate::kernel_ext::sysfs::{KObject, StoreContext, Symlink};
use crate::map_opts::{self, MapOptions};
use crate::params::HOLD_IO_SEC;
use crate::proto;
use crate::proto::AccessMode;
use crate::rtrs_clt::ops::Dir as RtrsDir;
use crate::sess::Session;
use crate::sysfs::{self, DevFiles, DevSysfs};

/// `enum rnbd_clt_dev_state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DevState {
    Init = 0,
    Mapped = 1,
    MappedDisconnected = 2,
    Unmapped = 3,
}

impl DevState {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => DevState::Init,
            1 => DevState::Mapped,
            2 => DevState::MappedDisconnected,
            _ => DevState::Unmapped,
        }
    }

    /// The `state` sysfs text.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DevState::Init => "init",
            DevState::Mapped => "open",
            DevState::MappedDisconnected => "closed",
            DevState::Unmapped => "unmapped",
        }
    }
}

/// What the IO path needs of a device (the disk's queue data).
pub(crate) struct DevIo {
    pub(crate) sess: Arc<Session>,
    state: AtomicU8,
    pub(crate) device_id: AtomicU32,
    /// When the device went to `closed` (ms, monotonic).
    disconnected_ms: AtomicI64,
    /// Requests sent from poll queues (on poll connections), and
    /// completions their polling found; logged at unmap (ours).
    pub(crate) poll_sent: AtomicU64,
    pub(crate) poll_found: AtomicU64,
}

pub(crate) fn now_ms() -> i64 {
    Ktime::ktime_get().to_ms()
}

impl DevIo {
    pub(crate) fn state(&self) -> DevState {
        DevState::from_u8(self.state.load(Ordering::Acquire))
    }

    fn set_state(&self, s: DevState) {
        self.state.store(s as u8, Ordering::Release);
    }

    /// Whether IO that finds no connected path still waits (ours; upstream
    /// fails it at once): `since` is when it started waiting.
    pub(crate) fn within_hold(since_ms: i64) -> bool {
        let hold = i64::from(HOLD_IO_SEC.get()).saturating_mul(1000);
        hold > 0 && now_ms().saturating_sub(since_ms) < hold
    }

    /// A request arrived while `closed`: wait if the hold time is not over.
    pub(crate) fn holding(&self) -> bool {
        Self::within_hold(self.disconnected_ms.load(Ordering::Relaxed))
    }
}

/// What the device's mutex protects.
struct DevInner {
    disk: Option<Arc<Disk<Blk>>>,
    sysfs: Option<KObject<DevSysfs>>,
    link: Option<Symlink>,
}

/// `struct rnbd_clt_dev`.
#[pin_data]
pub(crate) struct Device {
    pub(crate) io: Arc<DevIo>,
    pub(crate) name: CString,
    pub(crate) pathname: KVec<u8>,
    pub(crate) access_mode: AccessMode,
    pub(crate) nr_poll_queues: u32,
    #[pin]
    inner: Mutex<DevInner>,
    /// Serialises state changes (`dev->lock`).
    #[pin]
    lock: Mutex<()>,
}

impl Device {
    pub(crate) fn sess(&self) -> &Arc<Session> {
        &self.io.sess
    }

    pub(crate) fn state(&self) -> DevState {
        self.io.state()
    }

    fn disk(&self) -> Option<Arc<Disk<Blk>>> {
        self.inner.lock().disk.clone()
    }

    /// Link down: MAPPED → MAPPED_DISCONNECTED, `KOBJ_OFFLINE`.
    pub(crate) fn disconnected(&self) {
        let _g = self.lock.lock();
        if self.io.state() == DevState::Mapped {
            self.io.disconnected_ms.store(now_ms(), Ordering::Relaxed);
            self.io.set_state(DevState::MappedDisconnected);
            if let Some(disk) = self.disk() {
                disk.uevent_online(false);
            }
        }
    }
}

/// The OPEN message of a device.
fn open_msg(dev: &Device) -> Result<[u8; proto::Open::SIZE]> {
    let mode = dev.access_mode;
    Ok(proto::Open::new(mode, &dev.pathname)
        .map_err(|_| EINVAL)?
        .encode())
}

/// `process_msg_open_rsp()`.
fn process_open_rsp(dev: &Device, rsp: &proto::OpenRsp) -> Result {
    let _g = dev.lock.lock();
    match dev.io.state() {
        DevState::Unmapped => {
            pr_info!(
                "{}: Ignoring Open-Response message from server for  unmapped device\n",
                &*dev.name
            );
            return Err(ENOENT);
        }
        DevState::MappedDisconnected => {
            if let Some(disk) = dev.disk() {
                let n = rsp.nsectors.get();
                if disk.capacity_sectors() != n {
                    pr_info!(
                        "{}: Device size changed from {} to {} sectors\n",
                        &*dev.name,
                        disk.capacity_sectors(),
                        n
                    );
                    disk.set_capacity_sectors(n);
                }
                disk.uevent_online(true);
            }
            pr_info!(
                "{}: Device online, device remapped successfully\n",
                &*dev.name
            );
        }
        _ => {}
    }
    if rsp.logical_block_size.get() == 0 {
        return Err(EINVAL);
    }
    dev.io
        .device_id
        .store(rsp.device_id.get(), Ordering::Relaxed);
    dev.io.set_state(DevState::Mapped);
    if let Some(disk) = dev.disk() {
        // Held requests go now.
        disk.run_hw_queues(true);
    }
    Ok(())
}

/// `send_msg_open()` with the answer processed (remap, `remap_device`).
pub(crate) fn send_open(dev: &Device) -> Result {
    let msg = open_msg(dev)?;
    let buf = dev
        .sess()
        .admin(RtrsDir::Read, &msg, proto::OpenRsp::SIZE)
        .inspect_err(|e| {
            pr_err!(
                "{}: Opening failed, server responded: {:?}\n",
                &*dev.name,
                e
            )
        })?;
    let rsp = proto::OpenRsp::decode(&buf).map_err(|_| EINVAL)?;
    if let Err(e) = process_open_rsp(dev, &rsp) {
        let _ = send_close(dev, rsp.device_id.get());
        return Err(e);
    }
    Ok(())
}

/// `send_msg_close()`.
fn send_close(dev: &Device, device_id: u32) -> Result {
    let msg = proto::Close::new(device_id).encode();
    dev.sess().admin(RtrsDir::Write, &msg, 0).map(|_| ())
}

/// The queue limits of `rnbd_client_setup_device()`.
fn limits(sess: &Session, rsp: &proto::OpenRsp) -> QueueLimits {
    let max_io = sess.max_io_size.load(Ordering::Relaxed);
    let mut lim = QueueLimits::new()
        .logical_block_size(u32::from(rsp.logical_block_size.get()))
        .physical_block_size(u32::from(rsp.physical_block_size.get()))
        .io_opt(max_io)
        .max_hw_sectors(max_io >> SECTOR_SHIFT)
        .max_segments(u16::try_from(sess.max_segments).unwrap_or(u16::MAX))
        .virt_boundary_mask(4095)
        .max_hw_discard_sectors(rsp.max_discard_sectors.get())
        .discard_granularity(rsp.discard_granularity.get())
        .discard_alignment(rsp.discard_alignment.get())
        .max_write_zeroes_sectors(rsp.max_write_zeroes_sectors.get());
    if rsp.secure_discard.get() != 0 {
        lim = lim.max_secure_erase_sectors(rsp.max_discard_sectors.get());
    }
    if rsp.writeback() {
        lim = lim.write_cache(true).fua(rsp.fua());
    }
    lim
}

/// `rnbd_clt_map_device()` on a found or new session, then the sysfs
/// directory and the `ctl/devices` link.
pub(crate) fn map(sess: &Arc<Session>, opt: &MapOptions<'_>) -> Result {
    let client = &sess.client;
    let minors = client.major.reserve()?;
    let name = CString::try_from_fmt(fmt!("rnbd{}", minors.index()))?;
    let mut pathname = KVec::new();
    pathname.extend_from_slice(opt.device_path, GFP_KERNEL)?;
    let io = Arc::new(
        DevIo {
            sess: sess.clone(),
            state: AtomicU8::new(DevState::Init as u8),
            device_id: AtomicU32::new(0),
            disconnected_ms: AtomicI64::new(0),
            poll_sent: AtomicU64::new(0),
            poll_found: AtomicU64::new(0),
        },
        GFP_KERNEL,
    )?;
    let dev = Arc::pin_init(
        pin_init!(Device {
            io: io.clone(),
            name,
            pathname,
            access_mode: opt.access_mode,
            nr_poll_queues: opt.nr_poll_queues,
            inner <- new_mutex!(DevInner { disk: None, sysfs: None, link: None }),
            lock <- new_mutex!(()),
        }),
        GFP_KERNEL,
    )?;
    // `insert_dev_if_not_exists_devpath()`: under the map lock, checked
    // by the caller; the list is the session's.
    sess.devs.lock().push(dev.clone(), GFP_KERNEL)?;
    let result = map_open(sess, &dev, minors);
    if let Err(e) = result {
        pr_err!("{}: map_device: failed, err: {:?}\n", &*dev.name, e);
        sess.remove_dev(&dev);
        let taken = {
            let mut inner = dev.inner.lock();
            (inner.link.take(), inner.sysfs.take(), inner.disk.take())
        };
        dev.io.set_state(DevState::Unmapped);
        drop(taken);
        return Err(e);
    }
    Ok(())
}

fn map_open(
    sess: &Arc<Session>,
    dev: &Arc<Device>,
    minors: crate::kernel_ext::block::MinorRange,
) -> Result {
    let msg = open_msg(dev)?;
    let buf = sess.admin(RtrsDir::Read, &msg, proto::OpenRsp::SIZE)?;
    let rsp = proto::OpenRsp::decode(&buf).map_err(|_| EINVAL)?;
    if let Err(e) = process_open_rsp(dev, &rsp) {
        let _ = send_close(dev, rsp.device_id.get());
        return Err(e);
    }
    let lim = limits(sess, &rsp);
    let disk = DiskBuilder::new(&dev.name)
        .limits(lim)
        .capacity_sectors(rsp.nsectors.get())
        .read_only(dev.access_mode == AccessMode::Ro)
        .partitions(true)
        .minors(minors)
        .build(&sess.tag_set, DevQueue::new(dev.io.clone()));
    let disk = match disk {
        Ok(d) => Arc::new(d, GFP_KERNEL)?,
        Err(e) => {
            pr_err!(
                "{}: map_device: Failed to configure device, err: {:?}\n",
                &*dev.name,
                e
            );
            let _ = send_close(dev, rsp.device_id.get());
            return Err(e);
        }
    };
    dev.inner.lock().disk = Some(disk.clone());
    pr_info!(
        "{}: map_device: Device mapped as {} (nsectors: {}, logical_block_size: {}, physical_block_size: {}, max_write_zeroes_sectors: {}, max_discard_sectors: {}, discard_granularity: {}, discard_alignment: {}, secure_discard: {}, max_segments: {}, max_hw_sectors: {}, wc: {}, fua: {})\n",
        kernel::str::BStr::from_bytes(&dev.pathname),
        &*dev.name,
        rsp.nsectors.get(),
        rsp.logical_block_size.get(),
        rsp.physical_block_size.get(),
        rsp.max_write_zeroes_sectors.get(),
        rsp.max_discard_sectors.get(),
        rsp.discard_granularity.get(),
        rsp.discard_alignment.get(),
        rsp.secure_discard.get(),
        sess.max_segments,
        sess.max_io_size.load(Ordering::Relaxed) >> SECTOR_SHIFT,
        u8::from(rsp.writeback()),
        u8::from(rsp.fua())
    );
    // `rnbd_clt_add_dev_kobj()`, `KOBJ_ONLINE`, `rnbd_clt_add_dev_symlink()`;
    // a failure unmaps (by force).
    let kobj = KObject::create(
        disk.clone(),
        c_str!("rnbd"),
        DevSysfs { dev: dev.clone() },
        &sysfs::DEV_ATTRIBUTES,
    )?;
    dev.inner.lock().sysfs = Some(kobj);
    disk.uevent_online(true);
    let mut link_name = [0u8; 2 * proto::NAME_MAX + 2];
    let len = map_opts::symlink_name(&dev.pathname, sess.name.as_bytes(), &mut link_name)
        .ok_or(crate::kernel_ext::errno::ENAMETOOLONG())?;
    let link_name = CString::try_from_fmt(fmt!(
        "{}",
        kernel::str::BStr::from_bytes(link_name.get(..len).unwrap_or(&[]))
    ))?;
    let dir = sess.client.devices_dir().ok_or(ENODEV)?;
    let link = Symlink::create(dir, &*disk, &link_name)?;
    dev.inner.lock().link = Some(link);
    Ok(())
}

/// `rnbd_clt_unmap_device()`: `ctx` is the `unmap_device` file's store
/// (it removes itself first).
pub(crate) fn unmap(dev: &Arc<Device>, force: bool, ctx: Option<&mut StoreContext>) -> Result {
    let was_mapped;
    {
        let _g = dev.lock.lock();
        let state = dev.io.state();
        if state == DevState::Unmapped {
            pr_info!("{}: Device is already being unmapped\n", &*dev.name);
            return Err(EALREADY());
        }
        let openers = dev.disk().map_or(0, |d| d.openers());
        if !force && openers > 0 {
            pr_err!(
                "{}: Closing device failed, device is in use, ({} device users)\n",
                &*dev.name,
                openers
            );
            return Err(EBUSY);
        }
        was_mapped = state == DevState::Mapped;
        dev.io.set_state(DevState::Unmapped);
    }
    let sess = dev.sess().clone();
    sess.remove_dev(dev);
    if let Some(ctx) = ctx {
        let _ = ctx.remove_self();
    }
    let (link, kobj, disk) = {
        let mut inner = dev.inner.lock();
        (inner.link.take(), inner.sysfs.take(), inner.disk.take())
    };
    drop(link);
    drop(kobj);
    // `del_gendisk`: held requests fail now (state `unmapped`), requests
    // in flight end when RTRS completes them.
    if let Some(disk) = disk {
        disk.run_hw_queues(false);
        drop(disk);
    }
    if was_mapped && sess.rtrs().is_some() {
        let _ = send_close(dev, dev.io.device_id.load(Ordering::Relaxed));
    }
    pr_info!("{}: Device is unmapped\n", &*dev.name);
    if dev.nr_poll_queues > 0 {
        pr_info!(
            "{}: poll queues: {} requests sent on poll connections, {} completions polled\n",
            &*dev.name,
            dev.io.poll_sent.load(Ordering::Relaxed),
            dev.io.poll_found.load(Ordering::Relaxed)
        );
    }
    // The last device of a session closes it (upstream: the last
    // session reference).
    if sess.devs.lock().is_empty() && !sess.client.unloading.load(Ordering::SeqCst) {
        sess.close_rtrs();
        sess.client.remove_session(&sess);
    }
    Ok(())
}

/// `rnbd_clt_remap_device()`.
pub(crate) fn remap(dev: &Device) -> Result {
    let err = {
        let _g = dev.lock.lock();
        match dev.io.state() {
            DevState::MappedDisconnected => None,
            DevState::Unmapped => Some(ENODEV),
            DevState::Mapped => Some(EALREADY()),
            DevState::Init => Some(EBUSY),
        }
    };
    if let Some(e) = err {
        return Err(e);
    }
    pr_info!("{}: Remapping device.\n", &*dev.name);
    send_open(dev).inspect_err(|e| pr_err!("{}: remap_device: {:?}\n", &*dev.name, e))
}

/// `rnbd_clt_resize_disk()`.
pub(crate) fn resize(dev: &Device, sectors: u64) -> Result {
    let _g = dev.lock.lock();
    if dev.io.state() != DevState::Mapped {
        pr_err!("Failed to set new size of the device, device is not opened\n");
        return Err(ENOENT);
    }
    if let Some(disk) = dev.disk() {
        if disk.capacity_sectors() != sectors {
            pr_info!(
                "{}: Device size changed from {} to {} sectors\n",
                &*dev.name,
                disk.capacity_sectors(),
                sectors
            );
            disk.set_capacity_sectors(sectors);
        }
    }
    Ok(())
}

impl DevFiles for Device {
    fn name(&self) -> &CStr {
        &self.name
    }

    fn pathname(&self) -> &[u8] {
        &self.pathname
    }

    fn state_name(&self) -> &'static str {
        self.state().as_str()
    }

    fn sessname(&self) -> &CStr {
        &self.sess().name
    }

    fn access_mode(&self) -> AccessMode {
        self.access_mode
    }

    fn nr_poll_queues(&self) -> u32 {
        self.nr_poll_queues
    }

    fn unloading(&self) -> bool {
        self.sess().client.unloading.load(Ordering::SeqCst)
    }

    fn unmap(self: Arc<Self>, force: bool, ctx: &mut StoreContext) -> Result {
        unmap(&self, force, Some(ctx))
    }

    fn resize(&self, sectors: u64) -> Result {
        resize(self, sectors)
    }

    fn remap(&self) -> Result {
        remap(self)
    }
}
