// SPDX-License-Identifier: GPL-2.0

//! blk-mq disks: queue limits set at run time, a major number with minor
//! ranges, and the disk itself.

use core::ffi::c_int;
use core::ptr::{self, NonNull};

use crate::kernel_ext::bindings;
use kernel::error::{code::*, from_err_ptr, to_result, Error, Result};
use kernel::init::PinInit;
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::sync::{Arc, Mutex};
use kernel::types::Opaque;
use kernel::{new_mutex, pin_init};

use super::super::errno::ENAMETOOLONG;
use super::super::sysfs::Node;
use super::bdev::Bdev;
use super::tag_set::{Operations, TagSet};
use super::SECTOR_SHIFT;

const PAGE_SIZE: u32 = bindings::PAGE_SIZE as u32;

/// The limits of a disk's queue (`struct queue_limits`). Zero means the
/// block layer's default for every field; features default to off.
///
/// Values the block layer would reject with a warning are refused with
/// EINVAL by [`DiskBuilder::build`] instead.
#[derive(Clone, Copy)]
pub struct QueueLimits {
    raw: bindings::queue_limits,
}

impl Default for QueueLimits {
    fn default() -> Self {
        Self::new()
    }
}

impl QueueLimits {
    /// All defaults.
    pub fn new() -> Self {
        QueueLimits {
            // SAFETY: All-zero queue limits ask for the defaults.
            raw: unsafe { core::mem::zeroed() },
        }
    }

    /// The limits of `bdev`, for a disk that forwards to it: block sizes,
    /// transfer, segment, discard, write-zeroes and secure-erase limits,
    /// the virtual boundary, and the write cache, FUA and rotational
    /// features.
    pub fn from_bdev(bdev: &Bdev) -> Self {
        Self::new()
            .logical_block_size(bdev.logical_block_size())
            .physical_block_size(bdev.physical_block_size())
            .max_hw_sectors(bdev.max_hw_sectors())
            .max_segments(bdev.max_segments())
            .max_segment_size(bdev.max_segment_size())
            .virt_boundary_mask(bdev.virt_boundary_mask())
            .max_hw_discard_sectors(bdev.max_discard_sectors())
            .discard_granularity(bdev.discard_granularity())
            .discard_alignment(bdev.discard_alignment())
            .max_write_zeroes_sectors(bdev.max_write_zeroes_sectors())
            .max_secure_erase_sectors(bdev.max_secure_erase_sectors())
            .write_cache(bdev.write_cache())
            .fua(bdev.fua())
            .rotational(bdev.rotational())
    }

    /// A power of two from 512 to the page size.
    pub fn logical_block_size(mut self, bytes: u32) -> Self {
        self.raw.logical_block_size = bytes;
        self
    }

    /// A power of two; raised to the logical block size if smaller.
    pub fn physical_block_size(mut self, bytes: u32) -> Self {
        self.raw.physical_block_size = bytes;
        self
    }

    /// Largest request, in sectors: at least a page and a logical block.
    pub fn max_hw_sectors(mut self, sectors: u32) -> Self {
        self.raw.max_hw_sectors = sectors;
        self
    }

    /// The optimal IO size in bytes (`io_opt`, `optimal_io_size` in sysfs).
    pub fn io_opt(mut self, bytes: u32) -> Self {
        self.raw.io_opt = bytes;
        self
    }

    pub fn max_segments(mut self, segments: u16) -> Self {
        self.raw.max_segments = segments;
        self
    }

    /// At least a page, unless a virtual boundary is set.
    pub fn max_segment_size(mut self, bytes: u32) -> Self {
        self.raw.max_segment_size = bytes;
        self
    }

    /// Segments may not cross this boundary (a power of two minus one, at
    /// most a page minus one), as for RDMA memory registration.
    pub fn virt_boundary_mask(mut self, mask: u64) -> Self {
        self.raw.virt_boundary_mask = mask as _;
        self
    }

    /// Largest discard, in sectors; 0 disables discard.
    pub fn max_hw_discard_sectors(mut self, sectors: u32) -> Self {
        self.raw.max_hw_discard_sectors = sectors;
        self
    }

    /// Ranges in one discard request (default 1).
    pub fn max_discard_segments(mut self, segments: u16) -> Self {
        self.raw.max_discard_segments = segments;
        self
    }

    pub fn discard_granularity(mut self, bytes: u32) -> Self {
        self.raw.discard_granularity = bytes;
        self
    }

    pub fn discard_alignment(mut self, bytes: u32) -> Self {
        self.raw.discard_alignment = bytes;
        self
    }

    /// Largest write-zeroes, in sectors; 0 disables it.
    pub fn max_write_zeroes_sectors(mut self, sectors: u32) -> Self {
        self.raw.max_write_zeroes_sectors = sectors;
        self
    }

    /// Largest secure erase, in sectors; 0 disables it.
    pub fn max_secure_erase_sectors(mut self, sectors: u32) -> Self {
        self.raw.max_secure_erase_sectors = sectors;
        self
    }

    fn feature(mut self, feature: bindings::blk_features_t, on: bool) -> Self {
        if on {
            self.raw.features |= feature;
        } else {
            self.raw.features &= !feature;
        }
        self
    }

    /// A volatile write cache: blk-mq sends flushes.
    pub fn write_cache(self, on: bool) -> Self {
        self.feature(bindings::BLK_FEAT_WRITE_CACHE, on)
    }

    /// Forced unit access writes (ignored without a write cache).
    pub fn fua(self, on: bool) -> Self {
        self.feature(bindings::BLK_FEAT_FUA, on)
    }

    pub fn rotational(self, on: bool) -> Self {
        self.feature(bindings::BLK_FEAT_ROTATIONAL, on)
    }

    /// Refuses, with EINVAL, what `blk_validate_limits` would refuse with
    /// a kernel warning or log line.
    fn validate(&self) -> Result {
        let lim = &self.raw;
        let block_size_ok = |size: u32| size.is_power_of_two() && (512..=PAGE_SIZE).contains(&size);
        if lim.logical_block_size != 0 && !block_size_ok(lim.logical_block_size) {
            return Err(EINVAL);
        }
        if lim.physical_block_size != 0 && !lim.physical_block_size.is_power_of_two() {
            return Err(EINVAL);
        }
        let logical_sectors = lim.logical_block_size.max(512) >> SECTOR_SHIFT;
        let page_sectors = PAGE_SIZE >> SECTOR_SHIFT;
        if lim.max_hw_sectors != 0
            && (lim.max_hw_sectors < page_sectors || lim.max_hw_sectors < logical_sectors)
        {
            return Err(EINVAL);
        }
        let mask = lim.virt_boundary_mask as u64;
        if mask != 0 && (mask >= u64::from(PAGE_SIZE) || !(mask + 1).is_power_of_two()) {
            return Err(EINVAL);
        }
        if mask == 0 && lim.max_segment_size != 0 && lim.max_segment_size < PAGE_SIZE {
            return Err(EINVAL);
        }
        Ok(())
    }
}

/// A block major number (`register_blkdev`), shown in `/proc/devices`,
/// handing out ranges of minors to disks. Unregistered when the last
/// holder (the major itself, or a disk's [`MinorRange`]) is gone.
///
/// # Invariants
///
/// `number` is registered under `name` until drop.
#[pin_data(PinnedDrop)]
pub struct Major {
    number: u32,
    name: &'static CStr,
    minors_per_disk: u32,
    /// Which ranges are taken, by index; process context only.
    #[pin]
    taken: Mutex<KVec<bool>>,
}

/// `MINORBITS`: minors per major.
const MINORS: u32 = 1 << 20;

impl Major {
    /// Registers a dynamic major named `name`, whose disks each get
    /// `minors_per_disk` minors (1 for no partitions, a power of two up to
    /// 256).
    pub fn register(name: &'static CStr, minors_per_disk: u32) -> Result<Arc<Major>> {
        if !minors_per_disk.is_power_of_two() || minors_per_disk > 256 {
            return Err(EINVAL);
        }
        // SAFETY: `name` is 'static; 0 asks for a dynamic major.
        let number = unsafe { bindings::__register_blkdev(0, name.as_char_ptr(), None) };
        if number < 0 {
            return Err(Error::from_errno(number));
        }
        let init = pin_init!(Major {
            number: number as u32,
            name,
            minors_per_disk,
            taken <- new_mutex!(KVec::new()),
        });
        match Arc::pin_init(init, GFP_KERNEL) {
            Ok(major) => Ok(major),
            Err(e) => {
                // SAFETY: Registered just above, and no Major owns it.
                unsafe { bindings::unregister_blkdev(number as u32, name.as_char_ptr()) };
                Err(e)
            }
        }
    }

    pub fn number(&self) -> u32 {
        self.number
    }

    /// Takes the lowest free range of minors. ENOSPC when the major has
    /// none left.
    pub fn reserve(self: &Arc<Self>) -> Result<MinorRange> {
        let mut taken = self.taken.lock();
        let index = match taken.iter().position(|t| !*t) {
            Some(index) => {
                taken[index] = true;
                index
            }
            None => {
                if taken.len() as u32 >= MINORS / self.minors_per_disk {
                    return Err(ENOSPC);
                }
                taken.push(true, GFP_KERNEL)?;
                taken.len() - 1
            }
        };
        Ok(MinorRange {
            major: self.clone(),
            index: index as u32,
        })
    }
}

#[pinned_drop]
impl PinnedDrop for Major {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: Registered (type invariant); every disk with minors of
        // this major holds an Arc of it, so none is left.
        unsafe { bindings::unregister_blkdev(self.number, self.name.as_char_ptr()) };
    }
}

/// A range of minors of a [`Major`] for one disk, free again on drop.
pub struct MinorRange {
    major: Arc<Major>,
    index: u32,
}

impl MinorRange {
    /// The index of the range (disk `N` of the major), for names such as
    /// `rnbd<N>`.
    pub fn index(&self) -> u32 {
        self.index
    }

    fn first_minor(&self) -> u32 {
        self.index * self.major.minors_per_disk
    }
}

impl Drop for MinorRange {
    fn drop(&mut self) {
        if let Some(taken) = self.major.taken.lock().get_mut(self.index as usize) {
            *taken = false;
        }
    }
}

/// A wrapper that lets the C tables below be `static`s.
#[repr(transparent)]
struct StaticTable<T>(T);
// SAFETY: The tables are never written after compilation.
unsafe impl<T> Sync for StaticTable<T> {}

// `struct module` holds lockdep's zero-sized keys in this configuration,
// which the FFI lint flags; only the symbol's address is used.
#[allow(improper_ctypes)]
extern "C" {
    /// This module (its `struct module`, which modpost defines).
    static __this_module: Opaque<bindings::module>;
}

/// `open` of every disk of this module: a read-only disk refuses an
/// open for writing with EPERM (`rnbd_client_open()`; the block layer
/// alone would open it and fail the writes).
///
/// # Safety
///
/// Called by the block layer with a live disk.
unsafe extern "C" fn disk_open(disk: *mut bindings::gendisk, mode: bindings::blk_mode_t) -> c_int {
    // SAFETY: A live disk (the caller's contract); a single-bit test of
    // `state`, as `get_disk_ro()`.
    let state = unsafe { ptr::read_volatile(ptr::addr_of!((*disk).state)) };
    if state & (1 << bindings::GD_READ_ONLY) != 0 && mode & bindings::BLK_OPEN_WRITE != 0 {
        return EPERM.to_errno();
    }
    0
}

/// `getgeo` (HDIO_GETGEO) of every disk of this module: the fixed
/// geometry of `rnbd_client_getgeo()`, 4 heads and 16 sectors per track,
/// and its cylinders, computed as upstream does from the size in bytes
/// times the logical block size in sectors, divided by 64 (truncated to
/// the 16-bit field).
///
/// # Safety
///
/// Called by the block layer with a live bdev and a geometry to fill.
unsafe extern "C" fn disk_getgeo(
    bdev: *mut bindings::block_device,
    geo: *mut bindings::hd_geometry,
) -> c_int {
    // SAFETY: A live bdev of one of our disks (the caller's contract):
    // its disk and whole-disk bdev live as long.
    let (sectors, lbs) = unsafe {
        let whole = (*(*bdev).bd_disk).part0;
        (
            bindings::bdev_nr_sectors(whole),
            u64::from(bindings::bdev_logical_block_size(whole)),
        )
    };
    let size = sectors.wrapping_mul(lbs).wrapping_mul(lbs / 512);
    // SAFETY: `geo` is the caller's, valid for writes.
    unsafe { bindings::set_geometry(geo.cast(), (size >> 6) as u16, 4, 16) };
    0
}

/// The `block_device_operations` of every disk of this module: `open`
/// and `getgeo` above, and the owner, so that an open disk keeps the
/// module loaded (the gendisk, which may outlive our handle while it is
/// open, points here).
static DISK_FOPS: StaticTable<bindings::block_device_operations> =
    StaticTable(bindings::block_device_operations {
        // Only the address of the extern static is taken.
        owner: ptr::addr_of!(__this_module).cast_mut().cast(),
        open: Some(disk_open),
        getgeo: Some(disk_getgeo),
        // SAFETY: All-zero is `None`/NULL for every other field.
        ..unsafe { core::mem::zeroed() }
    });

/// The lockdep class of our disks' bio completion map (what the
/// `blk_mq_alloc_disk` macro declares per call site).
static DISK_LOCK_CLASS: StaticTable<Opaque<bindings::lock_class_key>> =
    StaticTable(Opaque::uninit());

/// Describes a disk to create with [`DiskBuilder::build`].
pub struct DiskBuilder<'a> {
    name: &'a CStr,
    limits: QueueLimits,
    capacity_sectors: u64,
    read_only: bool,
    partitions: bool,
    minors: Option<MinorRange>,
}

impl<'a> DiskBuilder<'a> {
    /// A disk named `name` (at most 31 bytes, no `/`), with default
    /// limits, no capacity, writable, partitions allowed, and a dynamic
    /// device number.
    pub fn new(name: &'a CStr) -> Self {
        DiskBuilder {
            name,
            limits: QueueLimits::new(),
            capacity_sectors: 0,
            read_only: false,
            partitions: true,
            minors: None,
        }
    }

    pub fn limits(mut self, limits: QueueLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn capacity_sectors(mut self, sectors: u64) -> Self {
        self.capacity_sectors = sectors;
        self
    }

    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Whether the kernel scans and creates partitions
    /// (`GENHD_FL_NO_PART` when not).
    pub fn partitions(mut self, partitions: bool) -> Self {
        self.partitions = partitions;
        self
    }

    /// Device numbers from a major's range instead of a dynamic one.
    pub fn minors(mut self, minors: MinorRange) -> Self {
        self.minors = Some(minors);
        self
    }

    /// Creates the disk on `tag_set`, owning the queue data, and adds it
    /// (it appears in `/sys/block` and `/dev`, and the kernel reads its
    /// partition table through the queue). Process context. EINVAL for
    /// bad limits or names, ENAMETOOLONG for long names, EEXIST if the
    /// name is taken.
    pub fn build<T: Operations>(
        self,
        tag_set: &Arc<TagSet<T>>,
        queue_data: impl PinInit<T::QueueData, Error>,
    ) -> Result<Disk<T>> {
        let name = self.name.as_bytes();
        if name.len() >= bindings::DISK_NAME_LEN as usize {
            return Err(ENAMETOOLONG());
        }
        if name.is_empty() || name.contains(&b'/') {
            return Err(EINVAL);
        }
        self.limits.validate()?;
        let queue_data = KBox::pin_init(queue_data, GFP_KERNEL)?;
        let mut limits = self.limits.raw;
        let queuedata: *const T::QueueData = &*queue_data;
        // SAFETY: The tag set is allocated (type invariant) and outlives
        // the disk (the disk holds an Arc of it); `limits` is read during
        // the call; `queuedata` lives in a box the disk owns and drops only
        // after `del_gendisk`; the lock class key is static.
        let gendisk = from_err_ptr(unsafe {
            bindings::__blk_mq_alloc_disk(
                tag_set.as_raw(),
                &mut limits,
                queuedata.cast_mut().cast(),
                DISK_LOCK_CLASS.0.get(),
            )
        })?;
        // SAFETY: `__blk_mq_alloc_disk` returned a valid disk that we own
        // and nothing else sees before `device_add_disk`.
        unsafe {
            let disk = &mut *gendisk;
            disk.disk_name.fill(0);
            for (dst, src) in disk.disk_name.iter_mut().zip(name) {
                *dst = *src as _;
            }
            disk.fops = &DISK_FOPS.0;
            if let Some(minors) = &self.minors {
                disk.major = minors.major.number as i32;
                disk.first_minor = minors.first_minor() as i32;
                disk.minors = minors.major.minors_per_disk as i32;
            }
            if !self.partitions {
                disk.flags |= bindings::GENHD_FL_NO_PART as i32;
            }
            bindings::set_capacity(gendisk, self.capacity_sectors);
            // `set_disk_ro` would send a change event for a disk that is
            // not in sysfs yet; before `device_add_disk` nobody else sees
            // the flags, so set the bit directly.
            if self.read_only {
                disk.state |= 1 << bindings::GD_READ_ONLY;
            }
        }
        // SAFETY: Set up above; on failure the disk is still ours.
        let added = to_result(unsafe {
            bindings::device_add_disk(ptr::null_mut(), gendisk, ptr::null_mut())
        });
        if let Err(e) = added {
            // SAFETY: Not added, so putting our reference frees it (and
            // tears down its queue).
            unsafe { bindings::put_disk(gendisk) };
            return Err(e);
        }
        Ok(Disk {
            // SAFETY: Not NULL (`from_err_ptr` succeeded).
            gendisk: unsafe { NonNull::new_unchecked(gendisk) },
            queue_data,
            _minors: self.minors,
            _tag_set: tag_set.clone(),
        })
    }
}

/// An added blk-mq disk of driver `T`.
///
/// Dropping it removes the disk (`del_gendisk`, which fails new IO and
/// waits for every request in flight, so it must run in process context
/// and no request handle may be waiting for the drop), drops our
/// reference (`put_disk`), then the queue data, the minors and our hold on
/// the tag set, in that order. A process that still has the disk open
/// keeps the gendisk (and this module) alive until it closes it; its IO
/// fails.
///
/// # Invariants
///
/// `gendisk` was allocated on `_tag_set` with `queuedata` pointing at
/// `queue_data`, and added; we hold its initial reference.
pub struct Disk<T: Operations> {
    gendisk: NonNull<bindings::gendisk>,
    queue_data: Pin<KBox<T::QueueData>>,
    _minors: Option<MinorRange>,
    _tag_set: Arc<TagSet<T>>,
}

// SAFETY: The gendisk is used through block layer calls that do their own
// locking; the queue data is `Send + Sync`.
unsafe impl<T: Operations> Send for Disk<T> {}
// SAFETY: As above.
unsafe impl<T: Operations> Sync for Disk<T> {}

impl<T: Operations> Disk<T> {
    fn raw(&self) -> *mut bindings::gendisk {
        self.gendisk.as_ptr()
    }

    /// The disk name, as in `/sys/block/<name>`.
    pub fn name(&self) -> &CStr {
        // SAFETY: `disk_name` is NUL-terminated (we wrote at most 31
        // bytes into 32 zeroed ones) and lives as long as `self`.
        unsafe { CStr::from_char_ptr((*self.raw()).disk_name.as_ptr()) }
    }

    /// The data the queue callbacks see.
    pub fn queue_data(&self) -> &T::QueueData {
        &self.queue_data
    }

    pub fn capacity_sectors(&self) -> u64 {
        // SAFETY: `part0` is the whole-disk device of a live disk
        // (`get_capacity`).
        unsafe { bindings::bdev_nr_sectors((*self.raw()).part0) }
    }

    /// Changes the capacity and tells user space (`set_capacity_and_notify`):
    /// a resize. Process context. Returns whether a change event was sent
    /// (none for a change from or to zero, as in C).
    pub fn set_capacity_sectors(&self, sectors: u64) -> bool {
        // SAFETY: A live, added disk.
        unsafe { bindings::set_capacity_and_notify(self.raw(), sectors) }
    }

    /// Makes the disk read-only or writable (`set_disk_ro`).
    pub fn set_read_only(&self, read_only: bool) {
        // SAFETY: A live disk.
        unsafe { bindings::set_disk_ro(self.raw(), read_only) };
    }

    /// Whether the disk is read-only (`get_disk_ro`).
    pub fn is_read_only(&self) -> bool {
        // SAFETY: A live disk; `state` is a bit field read atomically
        // enough for a single-bit test, as C's `test_bit` does.
        let state = unsafe { ptr::read_volatile(ptr::addr_of!((*self.raw()).state)) };
        state & (1 << bindings::GD_READ_ONLY) != 0
    }

    /// How many opens the whole disk has (`disk_openers()`: opens of a
    /// partition count on the whole disk too).
    pub fn openers(&self) -> u32 {
        // SAFETY: `part0` is the whole-disk device of a live disk;
        // `bd_openers` is an `atomic_t`, read as `atomic_read` does.
        let n =
            unsafe { ptr::read_volatile(ptr::addr_of!((*(*self.raw()).part0).bd_openers.counter)) };
        u32::try_from(n).unwrap_or(0)
    }

    /// Sends `KOBJ_ONLINE` (`true`) or `KOBJ_OFFLINE` for the disk's
    /// device, as RNBD's client does when a device goes down and comes
    /// back. Process context.
    pub fn uevent_online(&self, online: bool) {
        let action = if online {
            bindings::kobject_action_KOBJ_ONLINE
        } else {
            bindings::kobject_action_KOBJ_OFFLINE
        };
        // SAFETY: The disk's device is registered while the disk lives.
        unsafe { bindings::kobject_uevent(self.kobject_ptr(), action) };
    }

    /// Runs every hardware queue again (`blk_mq_run_hw_queues`), from
    /// kblockd when `run_async`.
    pub fn run_hw_queues(&self, run_async: bool) {
        // SAFETY: A live disk has a queue.
        unsafe { bindings::blk_mq_run_hw_queues((*self.raw()).queue, run_async) };
    }

    /// Runs every hardware queue after `msecs` milliseconds.
    pub fn delay_run_hw_queues(&self, msecs: u32) {
        // SAFETY: A live disk has a queue.
        unsafe { bindings::blk_mq_delay_run_hw_queues((*self.raw()).queue, msecs as _) };
    }
}

impl<T: Operations> Node for Disk<T> {
    /// `/sys/block/<name>` (the disk's device, C's `disk_to_dev`), for
    /// driver directories such as RNBD's `/sys/block/rnbd0/rnbd`.
    fn kobject_ptr(&self) -> *mut bindings::kobject {
        // SAFETY: An added disk's `part0` device is registered while the
        // disk lives.
        unsafe { ptr::addr_of_mut!((*(*self.raw()).part0).bd_device.kobj) }
    }
}

impl<T: Operations> Drop for Disk<T> {
    fn drop(&mut self) {
        // SAFETY: Added (type invariant). `del_gendisk` waits for the
        // requests in flight and detaches the queue from the tag set;
        // then we drop our reference. The queue data, the minors and the
        // tag set (fields) go after this.
        unsafe {
            bindings::del_gendisk(self.raw());
            bindings::put_disk(self.raw());
        }
    }
}
