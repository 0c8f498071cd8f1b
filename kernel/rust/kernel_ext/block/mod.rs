// SPDX-License-Identifier: GPL-2.0

//! The block layer, both sides of RNBD.
//!
//! Client side (a blk-mq disk): a [`TagSet`] of requests whose driver
//! implements [`Operations`], a [`Disk`] on it with [`QueueLimits`] set
//! at run time, and [`Request`] handles that own a request from
//! `queue_rq` until it is ended.
//!
//! Server side (IO on a backing device): a [`Bdev`] opened by path, and
//! [`Io`]: one or more bios on it over caller-owned buffers, completing
//! once with the buffers handed back.
//!
//! Teardown order is carried by the types: a disk holds its tag set (and
//! its minor numbers), an IO holds its block device, so nothing is freed
//! while something else still uses it.

pub mod bdev;
pub mod bio;
pub mod disk;
pub mod request;
pub mod tag_set;

// Not every module uses every type.
#[allow(unused_imports)]
pub use bdev::{Bdev, OpenMode};
#[allow(unused_imports)]
pub use bio::{AddError, Io, IoBuffer};
#[allow(unused_imports)]
pub use disk::{Disk, DiskBuilder, Major, MinorRange, QueueLimits};
#[allow(unused_imports)]
pub use request::{Busy, HctxType, HwQueue, Request, RequestMut, RequestRef};
#[allow(unused_imports)]
pub use tag_set::{Operations, QueueMaps, TagSet, TagSetConfig, TagSetFlags};

use crate::kernel_ext::bindings;
use kernel::error::{Error, Result};

/// Bytes in a sector, the unit of every position and length the block
/// layer counts in (`SECTOR_SIZE`).
pub const SECTOR_SIZE: u32 = 1 << bindings::SECTOR_SHIFT;

/// `SECTOR_SHIFT`.
pub const SECTOR_SHIFT: u32 = bindings::SECTOR_SHIFT;

/// What a request or a bio does (`enum req_op`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Read,
    Write,
    /// A cache flush without data. As a bio this is an empty write with
    /// `REQ_PREFLUSH`, as upstream RNBD's server sends it.
    Flush,
    Discard,
    SecureErase,
    WriteZeroes,
    /// Zoned and driver-private operations; carries the raw value.
    Other(u32),
}

impl Op {
    pub(crate) fn from_raw(raw: bindings::req_op) -> Self {
        match raw {
            bindings::req_op_REQ_OP_READ => Self::Read,
            bindings::req_op_REQ_OP_WRITE => Self::Write,
            bindings::req_op_REQ_OP_FLUSH => Self::Flush,
            bindings::req_op_REQ_OP_DISCARD => Self::Discard,
            bindings::req_op_REQ_OP_SECURE_ERASE => Self::SecureErase,
            bindings::req_op_REQ_OP_WRITE_ZEROES => Self::WriteZeroes,
            other => Self::Other(other),
        }
    }

    /// Whether requests of this kind carry data pages.
    pub fn has_data(self) -> bool {
        matches!(self, Self::Read | Self::Write)
    }

    /// Whether this kind changes the device's content (a flush does not:
    /// it only makes earlier writes durable).
    pub fn modifies_data(self) -> bool {
        matches!(
            self,
            Self::Write | Self::Discard | Self::SecureErase | Self::WriteZeroes
        )
    }
}

/// Request and bio flags that RNBD carries on the wire (`REQ_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoFlags(u32);

impl IoFlags {
    pub const NONE: Self = Self(0);
    /// Forced unit access: the write is durable when it completes.
    pub const FUA: Self = Self(bindings::REQ_FUA);
    /// Flush the device cache before the write.
    pub const PREFLUSH: Self = Self(bindings::REQ_PREFLUSH);
    /// Synchronous IO (a hint for schedulers and writeback).
    pub const SYNC: Self = Self(bindings::REQ_SYNC);
    /// Write zeroes without deallocating the blocks.
    pub const NOUNMAP: Self = Self(bindings::REQ_NOUNMAP);

    const ALL: u32 = Self::FUA.0 | Self::PREFLUSH.0 | Self::SYNC.0 | Self::NOUNMAP.0;

    /// The known flags of a request's `cmd_flags` (others are dropped).
    pub(crate) fn from_opf(opf: bindings::blk_opf_t) -> Self {
        Self(opf & Self::ALL)
    }

    pub(crate) fn bits(self) -> bindings::blk_opf_t {
        self.0
    }

    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets of flags (`|`, usable in constants).
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// The flags in both sets (`&`).
    pub const fn intersection(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl core::ops::BitOr for IoFlags {
    type Output = Self;

    fn bitor(self, other: Self) -> Self {
        self.union(other)
    }
}

impl core::ops::BitAnd for IoFlags {
    type Output = Self;

    fn bitand(self, other: Self) -> Self {
        self.intersection(other)
    }
}

/// The `blk_status_t` for a driver's outcome: errnos the block layer knows
/// map to their status (`EOPNOTSUPP` to `BLK_STS_NOTSUPP`, ...), the rest
/// to `BLK_STS_IOERR`.
pub(crate) fn to_blk_status(result: Result) -> bindings::blk_status_t {
    match result {
        Ok(()) => bindings::BLK_STS_OK as bindings::blk_status_t,
        // SAFETY: A pure table lookup.
        Err(e) => unsafe { bindings::errno_to_blk_status(e.to_errno()) },
    }
}

/// The errno upstream reports for a `blk_status_t`.
pub(crate) fn from_blk_status(status: bindings::blk_status_t) -> Result {
    // SAFETY: A pure table lookup.
    let errno = unsafe { bindings::blk_status_to_errno(status) };
    if errno == 0 {
        Ok(())
    } else {
        Err(Error::from_errno(errno))
    }
}
