// SPDX-License-Identifier: GPL-2.0

//! The ctl device of rnbd_blk_test: its attribute files and the registry
//! of disks they manage (see `blk_test_main.rs` for the file layout).

use core::sync::atomic::{AtomicU64, Ordering};

use kernel::prelude::*;

use crate::kernel_ext::workqueue::{flags as wq_flags, Workqueue};
use kernel::str::{CStr, CString};
use kernel::sync::{Arc, Mutex};
use kernel::{c_str, fmt, new_mutex};

use crate::forward::{Forward, SegmentLimit, Stats, Target};
use crate::kernel_ext::block::{
    Bdev, Disk, DiskBuilder, Major, OpenMode, QueueLimits, TagSet, TagSetConfig, TagSetFlags,
};
use crate::kernel_ext::errno::ENAMETOOLONG;
use crate::kernel_ext::sysfs::{
    self, AttrRef, Attribute, AttributeOps, DeviceAttrs, KObject, KObjectAttrs, ShowBuffer,
    StoreContext,
};

/// Longest backing path accepted; longer ones get ENAMETOOLONG.
const MAX_PATH: usize = 256;

/// Minors per disk: the whole disk and 15 partitions.
pub(crate) const MINORS_PER_DISK: u32 = 16;

const TAG_SET: TagSetConfig = TagSetConfig {
    nr_hw_queues: 2,
    queue_depth: 32,
    // Blocking: submitting a bio to a bio-based device such as brd may
    // sleep (it allocates pages for new data).
    flags: TagSetFlags::SHOULD_MERGE.union(TagSetFlags::BLOCKING),
    nr_maps: 1,
};

/// One disk and what it forwards to.
struct Entry {
    name: CString,
    path: CString,
    stats: Arc<Stats>,
    /// `/sys/block/<name>/blktest/`, as RNBD's client has
    /// `/sys/block/rnbd<N>/rnbd/`. It holds the disk, which goes when
    /// both are dropped: after the directory.
    _sysfs: KObject<DiskInfo>,
    disk: Arc<Disk<Forward>>,
}

/// The data behind `/sys/block/<name>/blktest/`.
struct DiskInfo {
    path: CString,
}

/// The disks, and the major they take minors from.
struct Registry {
    /// Slots; a destroyed disk leaves `None` (6.12's `KVec` cannot remove).
    entries: KVec<Option<Entry>>,
    major: Arc<Major>,
}

/// Shared by the ctl attributes: the registry, or `None` once the module
/// is going away.
#[pin_data]
pub(crate) struct Shared {
    #[pin]
    registry: Mutex<Option<Registry>>,
    /// Where requests in a flush sequence are ended (see `forward`).
    /// Destroyed with its last reference: the disks' go first (`shutdown`
    /// removes them), this one at module exit, which drains it.
    pub(crate) completer: Arc<Workqueue>,
}

/// The data behind `ctl`.
pub(crate) struct Ctl {
    pub(crate) shared: Arc<Shared>,
}

fn cstring(bytes: &[u8]) -> Result<CString> {
    let text = core::str::from_utf8(bytes).map_err(|_| EINVAL)?;
    Ok(CString::try_from_fmt(fmt!("{}", text))?)
}

/// Splits "<name> <value>" (one space).
fn name_and_value(input: &[u8]) -> Result<(&[u8], u64)> {
    let text = core::str::from_utf8(sysfs::trim_newline(input)).map_err(|_| EINVAL)?;
    let (name, value) = text.split_once(' ').ok_or(EINVAL)?;
    let value = value.parse::<u64>().map_err(|_| EINVAL)?;
    Ok((name.as_bytes(), value))
}

impl Shared {
    pub(crate) fn new(major: Arc<Major>) -> Result<Arc<Shared>> {
        let completer = Workqueue::new(c_str!("rnbd_blk_test"), wq_flags::MEM_RECLAIM, 0)?;
        Arc::pin_init(
            pin_init!(Shared {
                registry <- new_mutex!(Some(Registry {
                    entries: KVec::new(),
                    major,
                })),
                completer,
            }),
            GFP_KERNEL,
        )
    }

    /// Removes every disk (outside the lock, for the reason `take`
    /// gives) and refuses new ones; returns how many there were.
    pub(crate) fn shutdown(&self) -> usize {
        let registry = self.registry.lock().take();
        let disks = registry
            .as_ref()
            .map_or(0, |r| r.entries.iter().flatten().count());
        drop(registry);
        disks
    }

    /// `input` is "<path>" or "<path> <logical block size>".
    fn create(&self, input: &[u8]) -> Result {
        let (path, block_size) = match input.iter().position(|c| *c == b' ') {
            Some(space) => {
                let size = core::str::from_utf8(&input[space + 1..]).map_err(|_| EINVAL)?;
                (
                    &input[..space],
                    Some(size.parse::<u32>().map_err(|_| EINVAL)?),
                )
            }
            None => (input, None),
        };
        if path.is_empty() || path.contains(&0) {
            return Err(EINVAL);
        }
        if path.len() > MAX_PATH {
            return Err(ENAMETOOLONG());
        }
        let path = cstring(path)?;
        let bdev = Bdev::open(&path, OpenMode::READ_WRITE.exclusive())?;
        let mut guard = self.registry.lock();
        let registry = guard.as_mut().ok_or(ENODEV)?;
        let minors = registry.major.reserve()?;
        let name = CString::try_from_fmt(fmt!("rnbdblktest{}", minors.index()))?;
        let mut limits = QueueLimits::from_bdev(&bdev);
        if let Some(size) = block_size {
            // Smaller blocks than the backing device's could not be
            // forwarded; the disk's own checks refuse the rest.
            if size < bdev.logical_block_size() {
                return Err(EINVAL);
            }
            limits = limits.logical_block_size(size);
        }
        let tag_set =
            TagSet::<Forward>::new(&TAG_SET, SegmentLimit(usize::from(bdev.max_segments())))?;
        let stats = Arc::new(Stats::default(), GFP_KERNEL)?;
        let capacity = bdev.nr_sectors();
        let disk = DiskBuilder::new(&name)
            .limits(limits)
            .capacity_sectors(capacity)
            .minors(minors)
            .build(
                &tag_set,
                Target::new(bdev, stats.clone(), self.completer.clone()),
            )?;
        let disk = Arc::new(disk, GFP_KERNEL)?;
        let sysfs = KObject::create(
            disk.clone(),
            c_str!("blktest"),
            DiskInfo {
                path: cstring(path.as_bytes())?,
            },
            &DISK_ATTRIBUTES,
        )?;
        pr_info!(
            "{}: {} sectors, forwarding to {}\n",
            &*name,
            capacity,
            &*path
        );
        let entry = Some(Entry {
            name,
            path,
            stats,
            _sysfs: sysfs,
            disk,
        });
        match registry.entries.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) => *slot = entry,
            None => registry.entries.push(entry, GFP_KERNEL)?,
        }
        Ok(())
    }

    /// Takes the disk `name` out of the registry; the caller drops it
    /// outside the lock (removing a disk waits for its IO).
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

    /// Runs `f` on the disk `name`.
    fn with_disk(&self, name: &[u8], f: impl FnOnce(&Entry) -> Result) -> Result {
        let guard = self.registry.lock();
        let registry = guard.as_ref().ok_or(ENODEV)?;
        let entry = registry
            .entries
            .iter()
            .flatten()
            .find(|e| e.name.as_bytes() == name)
            .ok_or(ENOENT)?;
        f(entry)
    }

    fn for_each(&self, mut f: impl FnMut(&Entry) -> Result) -> Result {
        let guard = self.registry.lock();
        if let Some(registry) = guard.as_ref() {
            for entry in registry.entries.iter().flatten() {
                f(entry)?;
            }
        }
        Ok(())
    }
}

struct Create;
impl AttributeOps<Ctl> for Create {
    const NAME: &'static CStr = c_str!("create");
    const MODE: u16 = 0o644;

    fn show(_ctl: &Ctl, out: &mut ShowBuffer) -> Result {
        out.push(b"Usage: echo <block device path> [<logical block size>] > create\n")
    }

    fn store(ctl: &Ctl, input: &[u8], _ctx: &mut StoreContext) -> Result {
        ctl.shared.create(sysfs::trim_newline(input))
    }
}

struct Destroy;
impl AttributeOps<Ctl> for Destroy {
    const NAME: &'static CStr = c_str!("destroy");
    const MODE: u16 = 0o200;

    fn store(ctl: &Ctl, input: &[u8], _ctx: &mut StoreContext) -> Result {
        let entry = ctl.shared.take(sysfs::trim_newline(input))?;
        pr_info!("{}: removing\n", &*entry.name);
        drop(entry);
        Ok(())
    }
}

struct Resize;
impl AttributeOps<Ctl> for Resize {
    const NAME: &'static CStr = c_str!("resize");
    const MODE: u16 = 0o200;

    fn store(ctl: &Ctl, input: &[u8], _ctx: &mut StoreContext) -> Result {
        let (name, sectors) = name_and_value(input)?;
        ctl.shared.with_disk(name, |entry| {
            if sectors > entry.disk.queue_data().bdev.nr_sectors() {
                return Err(EINVAL);
            }
            entry.disk.set_capacity_sectors(sectors);
            Ok(())
        })
    }
}

struct ReadOnly;
impl AttributeOps<Ctl> for ReadOnly {
    const NAME: &'static CStr = c_str!("read_only");
    const MODE: u16 = 0o200;

    fn store(ctl: &Ctl, input: &[u8], _ctx: &mut StoreContext) -> Result {
        let read_only = match name_and_value(input)? {
            (name, 0) => (name, false),
            (name, 1) => (name, true),
            _ => return Err(EINVAL),
        };
        ctl.shared.with_disk(read_only.0, |entry| {
            entry.disk.set_read_only(read_only.1);
            Ok(())
        })
    }
}

struct Inject;
impl AttributeOps<Ctl> for Inject {
    const NAME: &'static CStr = c_str!("inject");
    const MODE: u16 = 0o200;

    fn store(ctl: &Ctl, input: &[u8], _ctx: &mut StoreContext) -> Result {
        let (name, every) = name_and_value(input)?;
        let every = u32::try_from(every).map_err(|_| EINVAL)?;
        ctl.shared.with_disk(name, |entry| {
            let target = entry.disk.queue_data();
            target.inject_every.store(every, Ordering::Relaxed);
            Ok(())
        })
    }
}

struct Disks;
impl AttributeOps<Ctl> for Disks {
    const NAME: &'static CStr = c_str!("disks");
    const MODE: u16 = 0o444;

    fn show(ctl: &Ctl, out: &mut ShowBuffer) -> Result {
        ctl.shared.for_each(|entry| {
            out.write_fmt(fmt!(
                "{} {} {} {}\n",
                entry.disk.name(),
                &*entry.path,
                entry.disk.capacity_sectors(),
                u8::from(entry.disk.is_read_only())
            ))
        })
    }
}

struct StatsFile;
impl AttributeOps<Ctl> for StatsFile {
    const NAME: &'static CStr = c_str!("stats");
    const MODE: u16 = 0o444;

    fn show(ctl: &Ctl, out: &mut ShowBuffer) -> Result {
        ctl.shared.for_each(|entry| {
            let s = &entry.stats;
            let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
            out.write_fmt(fmt!(
                "{} reads={} writes={} fua_writes={} flushes={} discards={} write_zeroes={} \
                 write_zeroes_nounmap={} secure_erases={} split_requests={} bios={} errors={} \
                 busy={} busy_injected={} requeues={} completions={}\n",
                &*entry.name,
                get(&s.reads),
                get(&s.writes),
                get(&s.fua_writes),
                get(&s.flushes),
                get(&s.discards),
                get(&s.write_zeroes),
                get(&s.write_zeroes_nounmap),
                get(&s.secure_erases),
                get(&s.split_requests),
                get(&s.bios),
                get(&s.errors),
                get(&s.busy),
                get(&s.busy_injected),
                get(&s.requeues),
                get(&s.completions)
            ))
        })
    }
}

static CREATE: Attribute<DeviceAttrs<Ctl>, Create> = Attribute::new();
static DESTROY: Attribute<DeviceAttrs<Ctl>, Destroy> = Attribute::new();
static RESIZE: Attribute<DeviceAttrs<Ctl>, Resize> = Attribute::new();
static READ_ONLY: Attribute<DeviceAttrs<Ctl>, ReadOnly> = Attribute::new();
static INJECT: Attribute<DeviceAttrs<Ctl>, Inject> = Attribute::new();
static DISKS: Attribute<DeviceAttrs<Ctl>, Disks> = Attribute::new();
static STATS: Attribute<DeviceAttrs<Ctl>, StatsFile> = Attribute::new();
struct BackingPath;
impl AttributeOps<DiskInfo> for BackingPath {
    const NAME: &'static CStr = c_str!("backing");
    const MODE: u16 = 0o444;

    fn show(info: &DiskInfo, out: &mut ShowBuffer) -> Result {
        out.write_fmt(fmt!("{}\n", &*info.path))
    }
}

static BACKING: Attribute<KObjectAttrs<DiskInfo>, BackingPath> = Attribute::new();
static DISK_ATTRIBUTES: [AttrRef<KObjectAttrs<DiskInfo>>; 1] = [BACKING.as_ref()];

pub(crate) static CTL_ATTRIBUTES: [AttrRef<DeviceAttrs<Ctl>>; 7] = [
    CREATE.as_ref(),
    DESTROY.as_ref(),
    RESIZE.as_ref(),
    READ_ONLY.as_ref(),
    INJECT.as_ref(),
    DISKS.as_ref(),
    STATS.as_ref(),
];
