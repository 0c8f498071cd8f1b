// SPDX-License-Identifier: GPL-2.0

//! rnbd_sysfs_test: exercises the sysfs abstractions the way RNBD uses
//! them, with no `unsafe`. The `sysfs-1vm` scenario drives it from a shell.
//!
//! ```text
//! /sys/devices/virtual/rnbd-sysfs-test/ctl/
//!     add_object      write <name>: create objects/<name> and links/<name>
//!     remove_object   write <name>: remove them
//!     count           the number of objects
//!     objects/<name>/value    a u32, read-write
//!     objects/<name>/remove   write 1: the object removes itself (like
//!                             RNBD's unmap_device)
//!     links/<name> -> ../objects/<name>
//! ```

use core::sync::atomic::{AtomicU32, Ordering};

use kernel::prelude::*;
use kernel::str::{CStr, CString};
use kernel::sync::{Arc, Mutex};
use kernel::{c_str, fmt, new_mutex};

#[path = "../../../kernel/rust/kernel_ext/mod.rs"]
mod kernel_ext;

use kernel_ext::errno::ENAMETOOLONG;
use kernel_ext::sysfs::{
    self, AttrRef, Attribute, AttributeOps, Class, ClassDevice, DeviceAttrs, Dir, KObject,
    KObjectAttrs, Node, ShowBuffer, StoreContext, Symlink,
};

module! {
    type: SysfsTest,
    name: "rnbd_sysfs_test",
    author: "rnbd-rs developers",
    description: "rnbd-rs proof module for the sysfs abstractions",
    license: "GPL",
}

/// Longest object name accepted; longer ones get ENAMETOOLONG.
const MAX_NAME: usize = 32;

/// One object: its directory, its link, its name.
struct Entry {
    name: CString,
    // Declared before the object: the link goes first.
    _link: Symlink,
    _object: KObject<Object>,
}

/// What exists while the module is loaded. Taken (and so torn down) by
/// module exit before the ctl device goes.
struct Registry {
    /// Slots; a removed object leaves `None` for the next one to reuse
    /// (6.12's `KVec` cannot remove elements).
    entries: KVec<Option<Entry>>,
    objects_dir: Arc<Dir>,
    links_dir: Arc<Dir>,
}

/// Shared by the ctl attributes and every object: the registry, or `None`
/// once the module is going away.
#[pin_data]
struct Shared {
    #[pin]
    registry: Mutex<Option<Registry>>,
}

/// The data behind `ctl`.
struct Ctl {
    shared: Arc<Shared>,
}

/// The data behind `objects/<name>`.
struct Object {
    name: CString,
    value: AtomicU32,
    shared: Arc<Shared>,
}

fn valid_name(name: &[u8]) -> Result {
    if name.len() > MAX_NAME {
        return Err(ENAMETOOLONG());
    }
    let allowed = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-';
    if name.is_empty() || !name.iter().all(allowed) {
        return Err(EINVAL);
    }
    Ok(())
}

fn cstring(bytes: &[u8]) -> Result<CString> {
    let text = core::str::from_utf8(bytes).map_err(|_| EINVAL)?;
    Ok(CString::try_from_fmt(fmt!("{}", text))?)
}

impl Shared {
    fn add(self: &Arc<Self>, name: &[u8]) -> Result {
        valid_name(name)?;
        let name = cstring(name)?;
        let mut guard = self.registry.lock();
        let registry = guard.as_mut().ok_or(ENODEV)?;
        if registry
            .entries
            .iter()
            .flatten()
            .any(|e| e.name.as_bytes() == name.as_bytes())
        {
            return Err(EEXIST);
        }
        let object = KObject::create(
            registry.objects_dir.clone(),
            &name,
            Object {
                name: cstring(name.as_bytes())?,
                value: AtomicU32::new(0),
                shared: self.clone(),
            },
            &OBJECT_ATTRIBUTES,
        )?;
        let link = Symlink::create(registry.links_dir.clone(), &object, &name)?;
        let entry = Some(Entry {
            name,
            _link: link,
            _object: object,
        });
        match registry.entries.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) => *slot = entry,
            None => registry.entries.push(entry, GFP_KERNEL)?,
        }
        Ok(())
    }

    /// Takes the entry out of the registry. The caller drops it outside
    /// the lock: removing a directory waits for its callbacks, and one of
    /// them may be waiting for this lock.
    fn take(&self, name: &[u8]) -> Result<Entry> {
        let mut guard = self.registry.lock();
        let registry = guard.as_mut().ok_or(ENODEV)?;
        registry
            .entries
            .iter_mut()
            .find(|slot| slot.as_ref().is_some_and(|e| e.name.as_bytes() == name))
            .and_then(Option::take)
            .ok_or(ENOENT)
    }

    fn count(&self) -> usize {
        self.registry
            .lock()
            .as_ref()
            .map_or(0, |r| r.entries.iter().flatten().count())
    }
}

struct AddObject;
impl AttributeOps<Ctl> for AddObject {
    const NAME: &'static CStr = c_str!("add_object");
    const MODE: u16 = 0o644;

    fn show(_ctl: &Ctl, out: &mut ShowBuffer) -> Result {
        out.push(b"Usage: echo <name> > add_object\n")
    }

    fn store(ctl: &Ctl, input: &[u8], _ctx: &mut StoreContext) -> Result {
        ctl.shared.add(sysfs::trim_newline(input))
    }
}

struct RemoveObject;
impl AttributeOps<Ctl> for RemoveObject {
    const NAME: &'static CStr = c_str!("remove_object");
    const MODE: u16 = 0o200;

    fn store(ctl: &Ctl, input: &[u8], _ctx: &mut StoreContext) -> Result {
        let entry = ctl.shared.take(sysfs::trim_newline(input))?;
        drop(entry);
        Ok(())
    }
}

struct Count;
impl AttributeOps<Ctl> for Count {
    const NAME: &'static CStr = c_str!("count");
    const MODE: u16 = 0o444;

    fn show(ctl: &Ctl, out: &mut ShowBuffer) -> Result {
        out.write_fmt(fmt!("{}\n", ctl.shared.count()))
    }
}

struct Value;
impl AttributeOps<Object> for Value {
    const NAME: &'static CStr = c_str!("value");
    const MODE: u16 = 0o644;

    fn show(object: &Object, out: &mut ShowBuffer) -> Result {
        out.write_fmt(fmt!("{}\n", object.value.load(Ordering::Relaxed)))
    }

    fn store(object: &Object, input: &[u8], _ctx: &mut StoreContext) -> Result {
        let text = core::str::from_utf8(sysfs::trim_newline(input)).map_err(|_| EINVAL)?;
        let value: u32 = text.parse().map_err(|_| EINVAL)?;
        object.value.store(value, Ordering::Relaxed);
        Ok(())
    }
}

struct Remove;
impl AttributeOps<Object> for Remove {
    const NAME: &'static CStr = c_str!("remove");
    const MODE: u16 = 0o200;

    fn store(object: &Object, input: &[u8], ctx: &mut StoreContext) -> Result {
        if sysfs::trim_newline(input) != b"1" {
            return Err(EINVAL);
        }
        // As RNBD's unmap_device: first our own file, so that removing the
        // directory does not wait for this very call.
        if !ctx.remove_self()? {
            return Err(ENODEV);
        }
        let entry = object.shared.take(object.name.as_bytes())?;
        drop(entry);
        Ok(())
    }
}

static ADD_OBJECT: Attribute<DeviceAttrs<Ctl>, AddObject> = Attribute::new();
static REMOVE_OBJECT: Attribute<DeviceAttrs<Ctl>, RemoveObject> = Attribute::new();
static COUNT: Attribute<DeviceAttrs<Ctl>, Count> = Attribute::new();
static CTL_ATTRIBUTES: [AttrRef<DeviceAttrs<Ctl>>; 3] =
    [ADD_OBJECT.as_ref(), REMOVE_OBJECT.as_ref(), COUNT.as_ref()];

static VALUE: Attribute<KObjectAttrs<Object>, Value> = Attribute::new();
static REMOVE: Attribute<KObjectAttrs<Object>, Remove> = Attribute::new();
static OBJECT_ATTRIBUTES: [AttrRef<KObjectAttrs<Object>>; 2] = [VALUE.as_ref(), REMOVE.as_ref()];

struct SysfsTest {
    shared: Arc<Shared>,
    _ctl: Arc<ClassDevice<Ctl>>,
}

impl kernel::Module for SysfsTest {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let class = Class::register(c_str!("rnbd-sysfs-test"))?;
        let shared = Arc::pin_init(
            pin_init!(Shared {
                registry <- new_mutex!(None),
            }),
            GFP_KERNEL,
        )?;
        let ctl = ClassDevice::create(
            &class,
            c_str!("ctl"),
            Ctl {
                shared: shared.clone(),
            },
            &CTL_ATTRIBUTES,
        )?;
        let objects_dir = Dir::create(ctl.clone(), c_str!("objects"))?;
        let links_dir = Dir::create(ctl.clone(), c_str!("links"))?;
        *shared.registry.lock() = Some(Registry {
            entries: KVec::new(),
            objects_dir,
            links_dir,
        });
        pr_info!("ready at /sys/devices/virtual/rnbd-sysfs-test/ctl\n");
        Ok(SysfsTest { shared, _ctl: ctl })
    }
}

impl Drop for SysfsTest {
    fn drop(&mut self) {
        // Outside the lock, for the reason `Shared::take` gives.
        let registry = self.shared.registry.lock().take();
        let objects = registry
            .as_ref()
            .map_or(0, |r| r.entries.iter().flatten().count());
        drop(registry);
        pr_info!("unloaded, {} object(s) removed\n", objects);
    }
}

// `Node` is used through `Arc<dyn Node>` coercions above.
const _: fn(&Dir) -> &dyn Node = |d| d;
