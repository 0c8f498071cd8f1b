// SPDX-License-Identifier: GPL-2.0

//! Block devices opened by path, as RNBD's server opens what it exports.

use core::mem::MaybeUninit;
use core::ptr::{self, NonNull};

use crate::kernel_ext::bindings;
use kernel::c_str;
use kernel::error::{code::*, from_err_ptr, Result};
use kernel::prelude::*;
use kernel::str::{CStr, CString};

use crate::kernel_ext::fs::ResolvedPath;
use crate::kernel_ext::sysfs::Node;
use kernel::sync::{Arc, UniqueArc};

/// How to open a block device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenMode {
    write: bool,
    exclusive: bool,
}

impl OpenMode {
    pub const READ: Self = Self {
        write: false,
        exclusive: false,
    };
    pub const READ_WRITE: Self = Self {
        write: true,
        exclusive: false,
    };

    /// The same mode with an exclusive claim: other exclusive openers (a
    /// mount, another exclusive `Bdev`) get EBUSY while this one is open.
    pub fn exclusive(self) -> Self {
        Self {
            exclusive: true,
            ..self
        }
    }

    pub fn is_write(self) -> bool {
        self.write
    }

    fn to_raw(self) -> bindings::blk_mode_t {
        let mut mode = bindings::BLK_OPEN_READ;
        if self.write {
            mode |= bindings::BLK_OPEN_WRITE;
        }
        if self.exclusive {
            mode |= bindings::BLK_OPEN_EXCL;
        }
        mode
    }
}

/// An open block device (a `struct file` from `bdev_file_open_by_path`).
///
/// Shared as `Arc<Bdev>`: every [`super::Io`] in flight holds a reference,
/// so the device stays open until its last bio has ended. The last
/// reference closes it with `fput`, which may run in any context: from a
/// process it completes (and drops an exclusive claim) before the process
/// returns to user space, elsewhere shortly after, from a work item.
///
/// # Invariants
///
/// `file` is an open block device file owned by this value; `mode` is how
/// it was opened.
pub struct Bdev {
    file: NonNull<bindings::file>,
    mode: OpenMode,
}

// SAFETY: The file and its block device may be used from any thread; the
// accessors only read limits.
unsafe impl Send for Bdev {}
// SAFETY: As above.
unsafe impl Sync for Bdev {}

impl Bdev {
    /// Opens the block device at `path` (such as `/dev/ram0`). The errno
    /// is the kernel's: ENOENT (no such path), ENOTBLK (not a block
    /// device), EACCES (read-only device opened for writing), EBUSY
    /// (claimed by someone else), ENXIO (no such device), EINVAL (empty
    /// path). Process context.
    pub fn open(path: &CStr, mode: OpenMode) -> Result<Arc<Bdev>> {
        Self::open_with(mode, |raw_mode, holder| {
            // SAFETY: `path` is NUL-terminated; the holder (if any) is a
            // valid unique address for the life of the open file; no
            // holder ops.
            unsafe {
                bindings::bdev_file_open_by_path(path.as_char_ptr(), raw_mode, holder, ptr::null())
            }
        })
    }

    /// Opens the block device `path` names, resolved before
    /// ([`ResolvedPath`]: symlinks followed once, so what was checked is
    /// what is opened). As [`Bdev::open`]: ENOTBLK if it is not a block
    /// device, EACCES for a read-only device opened for writing, ENXIO,
    /// EBUSY, ... Process context.
    pub fn open_resolved(path: &ResolvedPath, mode: OpenMode) -> Result<Arc<Bdev>> {
        let dev = path.block_device_number()?;
        let bdev = Self::open_with(mode, |raw_mode, holder| {
            // SAFETY: As in `open`: the holder (if any) is a valid unique
            // address for the life of the open file; no holder ops.
            unsafe { bindings::bdev_file_open_by_dev(dev, raw_mode, holder, ptr::null()) }
        })?;
        // As `bdev_file_open_by_path`: no write open of a read-only
        // device (dropping `bdev` closes it).
        if mode.write && bdev.read_only() {
            return Err(EACCES);
        }
        Ok(bdev)
    }

    /// Allocates the Bdev, whose allocation is the unique holder identity
    /// of an exclusive claim, and opens the device with `open_file(mode,
    /// holder)` (an ERR_PTR-returning `bdev_file_open_*`).
    fn open_with(
        mode: OpenMode,
        open_file: impl FnOnce(bindings::blk_mode_t, *mut core::ffi::c_void) -> *mut bindings::file,
    ) -> Result<Arc<Bdev>> {
        let slot: UniqueArc<MaybeUninit<Bdev>> = UniqueArc::new_uninit(GFP_KERNEL)?;
        let holder: *const MaybeUninit<Bdev> = &*slot;
        let holder = if mode.exclusive {
            holder.cast_mut().cast()
        } else {
            ptr::null_mut()
        };
        let file = from_err_ptr(open_file(mode.to_raw(), holder))?;
        let bdev = Bdev {
            // SAFETY: Not NULL (`from_err_ptr` succeeded).
            file: unsafe { NonNull::new_unchecked(file) },
            mode,
        };
        Ok(slot.write(bdev).into())
    }

    /// Whether the device (or its whole disk) is read-only
    /// (`bdev_read_only`).
    pub fn read_only(&self) -> bool {
        // SAFETY: An open device has a live disk and part0; the flags are
        // read as the C accessors do (atomic int, bit field word).
        unsafe {
            let bdev = self.as_raw();
            let disk = (*bdev).bd_disk;
            let flags = |b: *mut bindings::block_device| {
                core::ptr::read_volatile(ptr::addr_of!((*b).__bd_flags.counter)) as u32
            };
            flags(bdev) & bindings::BD_READ_ONLY != 0
                || flags((*disk).part0) & bindings::BD_READ_ONLY != 0
                || core::ptr::read_volatile(ptr::addr_of!((*disk).state))
                    & (1 << bindings::GD_READ_ONLY)
                    != 0
        }
    }

    /// The device's name as the kernel prints it (`%pg`: `ram0`, `sda1`,
    /// `dm-0`), as RNBD's server names what it exports.
    pub fn name(&self) -> Result<CString> {
        let mut buf = [0u8; 64];
        // SAFETY: `buf` has room for `buf.len()` bytes; `%pg` takes one
        // `struct block_device *`, our open device.
        let len = unsafe {
            bindings::snprintf(
                buf.as_mut_ptr().cast(),
                buf.len(),
                c_str!("%pg").as_char_ptr(),
                self.as_raw(),
            )
        };
        let len = usize::try_from(len).map_err(|_| EINVAL)?;
        let name = buf.get(..=len.min(buf.len() - 1)).ok_or(EINVAL)?;
        let name = CStr::from_bytes_with_nul(name).map_err(|_| EINVAL)?;
        CString::try_from(name).map_err(|_| ENOMEM)
    }

    /// The whole disk's device (`disk_to_dev(bdev->bd_disk)`, even for a
    /// partition), as a sysfs node to link to; it keeps the device open.
    pub fn disk_node(self: &Arc<Self>) -> DiskNode {
        DiskNode { bdev: self.clone() }
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::block_device {
        // SAFETY: An open block device file (type invariant).
        unsafe { bindings::file_bdev(self.file.as_ptr()) }
    }

    /// The limits of the device's queue.
    fn limits(&self) -> &bindings::queue_limits {
        // SAFETY: An open device has a queue that outlives the file; the
        // fields read are plain integers, read as C's accessors do.
        unsafe { &(*(*self.as_raw()).bd_queue).limits }
    }

    /// How the device was opened.
    pub fn mode(&self) -> OpenMode {
        self.mode
    }

    /// The size in sectors.
    pub fn nr_sectors(&self) -> u64 {
        // SAFETY: An open device.
        unsafe { bindings::bdev_nr_sectors(self.as_raw()) }
    }

    pub fn logical_block_size(&self) -> u32 {
        // SAFETY: An open device.
        unsafe { bindings::bdev_logical_block_size(self.as_raw()) }
    }

    pub fn physical_block_size(&self) -> u32 {
        // SAFETY: An open device.
        unsafe { bindings::bdev_physical_block_size(self.as_raw()) }
    }

    /// The largest request the hardware takes, in sectors.
    pub fn max_hw_sectors(&self) -> u32 {
        // SAFETY: An open device.
        unsafe { bindings::bdev_max_hw_sectors(self.as_raw()) }
    }

    pub fn max_segments(&self) -> u16 {
        // SAFETY: An open device.
        unsafe { bindings::bdev_max_segments(self.as_raw()) }
    }

    pub fn max_segment_size(&self) -> u32 {
        self.limits().max_segment_size
    }

    /// Buffers must be aligned to this mask plus one (at least 511).
    pub fn dma_alignment(&self) -> u32 {
        self.limits().dma_alignment
    }

    pub fn virt_boundary_mask(&self) -> u64 {
        self.limits().virt_boundary_mask as u64
    }

    /// The largest discard in sectors; 0 when the device cannot discard.
    pub fn max_discard_sectors(&self) -> u32 {
        // SAFETY: An open device.
        unsafe { bindings::bdev_max_discard_sectors(self.as_raw()) }
    }

    pub fn discard_granularity(&self) -> u32 {
        // SAFETY: An open device.
        unsafe { bindings::bdev_discard_granularity(self.as_raw()) }
    }

    /// The discard alignment of the device (of the partition, for a
    /// partition).
    pub fn discard_alignment(&self) -> u32 {
        // SAFETY: An open device.
        unsafe { bindings::bdev_discard_alignment(self.as_raw()) as u32 }
    }

    /// The largest write-zeroes in sectors; 0 when unsupported.
    pub fn max_write_zeroes_sectors(&self) -> u32 {
        // SAFETY: An open device.
        unsafe { bindings::bdev_write_zeroes_sectors(self.as_raw()) }
    }

    /// The largest secure erase in sectors; 0 when unsupported.
    pub fn max_secure_erase_sectors(&self) -> u32 {
        // SAFETY: An open device.
        unsafe { bindings::bdev_max_secure_erase_sectors(self.as_raw()) }
    }

    /// Whether the device has a volatile write cache (needs flushes).
    pub fn write_cache(&self) -> bool {
        // SAFETY: An open device.
        unsafe { bindings::bdev_write_cache(self.as_raw()) }
    }

    /// Whether the device does forced-unit-access writes itself.
    pub fn fua(&self) -> bool {
        // SAFETY: An open device.
        unsafe { bindings::bdev_fua(self.as_raw()) }
    }

    pub fn rotational(&self) -> bool {
        self.limits().features & bindings::BLK_FEAT_ROTATIONAL != 0
    }
}

/// The whole disk's `struct device` of an open [`Bdev`], as a sysfs
/// [`Node`] (a symlink target).
pub struct DiskNode {
    bdev: Arc<Bdev>,
}

impl Node for DiskNode {
    fn kobject_ptr(&self) -> *mut bindings::kobject {
        // SAFETY: The device is open (we hold it), so its disk and the
        // disk's part0 (whose `bd_device` is `disk_to_dev()`) are live.
        unsafe {
            let disk = (*self.bdev.as_raw()).bd_disk;
            ptr::addr_of_mut!((*(*disk).part0).bd_device.kobj)
        }
    }
}

impl Drop for Bdev {
    fn drop(&mut self) {
        // SAFETY: We own the open file (type invariant); no bio uses it
        // (each holds an Arc). `fput` is safe in any context.
        unsafe { bindings::fput(self.file.as_ptr()) };
    }
}
