// SPDX-License-Identifier: GPL-2.0

//! Exported block devices (`rnbd-srv.c`: `struct rnbd_srv_dev`,
//! `rnbd_srv_get_or_create_srv_dev()`, `rnbd_srv_check_update_open_perm()`)
//! and their bindings to sessions (`struct rnbd_srv_sess_dev`).
//!
//! A device is server-wide, keyed by the `%pg` name of its block device,
//! and counts its bindings and writers over all sessions. Its sysfs
//! directory `ctl/devices/<name>/` (with `block_dev` and `sessions/`) is
//! there while it has a binding. A binding holds the open block device;
//! in-flight IO holds the binding, so the device is closed, and its write
//! count dropped, after the last bio of a closed binding has ended.

use core::sync::atomic::{AtomicU64, Ordering};

use kernel::c_str;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::str::CString;
use kernel::sync::{Arc, Mutex};

use crate::kernel_ext::block::{Bdev, OpenMode};
use crate::kernel_ext::fs::ResolvedPath;
use crate::kernel_ext::sysfs::{Class, ClassDevice, Dir, KObject, Node, Symlink};
use crate::proto::AccessMode;

/// The server-wide state: sysfs roots and the exported devices.
#[pin_data]
pub(crate) struct Server {
    /// `/sys/devices/virtual/rnbd-server/ctl/devices`.
    pub(crate) devices_dir: Arc<Dir>,
    _ctl: Arc<ClassDevice<()>>,
    _class: Arc<Class>,
    /// The exported devices. Process context.
    #[pin]
    devs: Mutex<KVec<Option<DevEntry>>>,
}

struct DevEntry {
    dev: Arc<SrvDev>,
    /// Bindings alive (closed ones with IO in flight included).
    users: u32,
    /// Bindings opened rw or migration (`open_write_cnt`).
    open_write_cnt: u32,
}

/// An exported block device (`struct rnbd_srv_dev`).
pub(crate) struct SrvDev {
    pub(crate) name: CString,
    sysfs: DevSysfs,
}

/// `ctl/devices/<name>/`, its `block_dev` link and `sessions/`.
struct DevSysfs {
    _link: Symlink,
    sessions: Arc<Dir>,
    _dir: Arc<KObject<()>>,
}

impl SrvDev {
    /// `ctl/devices/<name>/sessions`, where the bindings' directories go.
    pub(crate) fn sessions_dir(&self) -> Arc<dyn Node> {
        self.sysfs.sessions.clone()
    }
}

impl Server {
    pub(crate) fn new() -> Result<Arc<Server>> {
        let class = Class::register(c_str!("rnbd-server"))?;
        let ctl = ClassDevice::create(&class, c_str!("ctl"), (), &[])?;
        let devices_dir = Dir::create(ctl.clone(), c_str!("devices"))?;
        Arc::pin_init(
            pin_init!(Server {
                devices_dir,
                _ctl: ctl,
                _class: class,
                devs <- new_mutex!(KVec::new()),
            }),
            GFP_KERNEL,
        )
    }

    /// Finds or creates the device of `bdev` (named `name`) and takes a
    /// binding on it in `mode`, after the access-mode rules over all
    /// sessions (`rnbd_srv_check_update_open_perm()`): RO always; RW if
    /// no writer; MIGRATION if fewer than two (EPERM otherwise).
    fn get(&self, name: &CString, bdev: &Arc<Bdev>, mode: AccessMode) -> Result<Arc<SrvDev>> {
        let mut devs = self.devs.lock();
        let index = devs.iter().position(|e| {
            e.as_ref()
                .is_some_and(|e| e.dev.name.as_bytes() == name.as_bytes())
        });
        let writers = index
            .and_then(|i| devs.get(i))
            .and_then(|e| e.as_ref())
            .map_or(0, |e| e.open_write_cnt);
        let allowed = match mode {
            AccessMode::Ro => true,
            AccessMode::Rw => writers == 0,
            AccessMode::Migration => writers < 2,
        };
        if !allowed {
            pr_err!(
                "Mapping device '{}' with {} permissions failed. Device already opened as 'RW' by {} client(s)\n",
                &**name,
                mode.as_str(),
                writers
            );
            return Err(EPERM);
        }
        let write = u32::from(mode != AccessMode::Ro);
        if let Some(Some(entry)) = index.and_then(|i| devs.get_mut(i)) {
            entry.users += 1;
            entry.open_write_cnt += write;
            return Ok(entry.dev.clone());
        }
        // First binding: the sysfs directory (`rnbd_srv_create_dev_sysfs()`).
        let dir = Arc::new(
            KObject::create(self.devices_dir.clone(), name, (), &[])?,
            GFP_KERNEL,
        )?;
        let link = Symlink::create(dir.clone(), &bdev.disk_node(), c_str!("block_dev"))?;
        let sessions = Dir::create(dir.clone(), c_str!("sessions"))?;
        let dev = Arc::new(
            SrvDev {
                name: CString::try_from(&**name).map_err(|_| ENOMEM)?,
                sysfs: DevSysfs {
                    _link: link,
                    sessions,
                    _dir: dir,
                },
            },
            GFP_KERNEL,
        )?;
        let entry = Some(DevEntry {
            dev: dev.clone(),
            users: 1,
            open_write_cnt: write,
        });
        match devs.iter_mut().find(|e| e.is_none()) {
            Some(free) => *free = entry,
            None => devs.push(entry, GFP_KERNEL)?,
        }
        Ok(dev)
    }

    /// A binding of `dev` ended; the last one removes the device (and
    /// its sysfs directory, under the lock, so that a new open of the
    /// same device never meets the old directory).
    fn put(&self, dev: &Arc<SrvDev>, wrote: bool) {
        let removed;
        {
            let mut devs = self.devs.lock();
            let Some(slot) = devs
                .iter_mut()
                .find(|e| e.as_ref().is_some_and(|e| Arc::ptr_eq(&e.dev, dev)))
            else {
                return;
            };
            let Some(entry) = slot.as_mut() else {
                return;
            };
            entry.users = entry.users.saturating_sub(1);
            if wrote {
                entry.open_write_cnt = entry.open_write_cnt.saturating_sub(1);
            }
            if entry.users != 0 {
                return;
            }
            removed = slot.take();
        }
        drop(removed);
    }
}

/// Serial numbers of bindings: a stale sysfs file never closes a newer
/// binding that got the same device id.
static SERIAL: AtomicU64 = AtomicU64::new(1);

/// A session's open device (`struct rnbd_srv_sess_dev`).
pub(crate) struct Binding {
    server: Arc<Server>,
    pub(crate) dev: Arc<SrvDev>,
    pub(crate) bdev: Arc<Bdev>,
    pub(crate) mode: AccessMode,
    pub(crate) device_id: u32,
    pub(crate) serial: u64,
    /// The name the client sent (`mapping_path`).
    pub(crate) dev_name: KVec<u8>,
}

impl Binding {
    /// Opens what `path` resolved to in `mode` and binds it to
    /// `device_id`. The access mode is checked with the device opened
    /// read-only; only then is it reopened for writing (upstream opens it
    /// rw first).
    pub(crate) fn open(
        server: &Arc<Server>,
        path: &ResolvedPath,
        mode: AccessMode,
        device_id: u32,
        dev_name: &[u8],
    ) -> Result<Arc<Binding>> {
        let probe = Bdev::open_resolved(path, OpenMode::READ)?;
        let name = probe.name()?;
        let dev = server.get(&name, &probe, mode)?;
        let wrote = mode != AccessMode::Ro;
        let bdev = if wrote {
            match Bdev::open_resolved(path, OpenMode::READ_WRITE) {
                Ok(bdev) => bdev,
                Err(e) => {
                    server.put(&dev, wrote);
                    return Err(e);
                }
            }
        } else {
            probe
        };
        let mut owned = KVec::new();
        let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = owned.extend_from_slice(dev_name, GFP_KERNEL) {
            server.put(&dev, wrote);
            return Err(e.into());
        }
        let binding = Binding {
            server: server.clone(),
            dev,
            bdev,
            mode,
            device_id,
            serial,
            dev_name: owned,
        };
        // On failure the binding's drop gives the device back.
        Ok(Arc::new(binding, GFP_KERNEL)?)
    }
}

impl Drop for Binding {
    fn drop(&mut self) {
        self.server.put(&self.dev, self.mode != AccessMode::Ro);
    }
}
