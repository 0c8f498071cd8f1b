// SPDX-License-Identifier: GPL-2.0

//! A scatterlist of a fixed capacity: what a block request is mapped into
//! (`blk_rq_map_sg`) and what RDMA maps for DMA and registers in an MR
//! (`ib_dma_map_sg`, `ib_map_mr_sg`).
//!
//! The table only describes memory; it does not own it. Whoever fills it
//! (a request's pages, a buffer) must keep that memory alive for as long as
//! the entries are used, which the filling APIs tie to their own types.

use crate::kernel_ext::bindings;
use kernel::prelude::*;

/// The end-of-list bit in `page_link` (`SG_END` in `linux/scatterlist.h`).
const SG_END: kernel::ffi::c_ulong = 0x02;

/// `capacity` entries of `struct scatterlist`, `len` of them in use.
///
/// # Invariants
///
/// `entries` was initialised by `sg_init_table` (no chaining); when
/// `len > 0`, entry `len - 1` carries the end mark and entries `0..len`
/// were set by this layer.
pub struct SgTable {
    entries: KVec<bindings::scatterlist>,
    len: usize,
}

// SAFETY: The table is plain memory owned by this value.
unsafe impl Send for SgTable {}
// SAFETY: Shared access only reads it.
unsafe impl Sync for SgTable {}

impl SgTable {
    /// A table with room for `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Result<Self> {
        if capacity == 0 || capacity > u32::MAX as usize {
            return Err(EINVAL);
        }
        let mut entries = KVec::with_capacity(capacity, GFP_KERNEL)?;
        for _ in 0..capacity {
            entries.push(bindings::scatterlist::default(), GFP_KERNEL)?;
        }
        // SAFETY: `entries` holds `capacity` entries.
        unsafe { bindings::sg_init_table(entries.as_mut_ptr(), capacity as u32) };
        Ok(SgTable { entries, len: 0 })
    }

    pub fn capacity(&self) -> usize {
        self.entries.len()
    }

    /// Entries in use.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Total bytes the entries in use describe.
    pub fn total_len(&self) -> usize {
        self.entries[..self.len]
            .iter()
            .map(|sg| sg.length as usize)
            .sum()
    }

    /// Forgets all entries (the end mark moves back to the last slot, as
    /// `sg_init_table` left it).
    pub fn clear(&mut self) {
        let capacity = self.capacity() as u32;
        // SAFETY: `entries` holds `capacity` entries.
        unsafe { bindings::sg_init_table(self.entries.as_mut_ptr(), capacity) };
        self.len = 0;
    }

    /// The first entry, for the C functions that walk the list.
    pub(crate) fn as_raw(&mut self) -> *mut bindings::scatterlist {
        self.entries.as_mut_ptr()
    }

    /// Appends an entry for `len` bytes at `buf`, which must be in the
    /// kernel's direct map (kmalloc memory).
    ///
    /// # Safety
    ///
    /// `buf..buf + len` is kmalloc (direct-mapped) memory that stays
    /// allocated while the entry is used.
    pub(crate) unsafe fn push_buf(&mut self, buf: *const u8, len: u32) -> Result {
        if self.len == self.capacity() {
            return Err(ENOSPC);
        }
        let index = self.len;
        if index > 0 {
            // The previous last entry loses its end mark (`sg_unmark_end`,
            // an inline without a helper).
            self.entries[index - 1].page_link &= !SG_END;
        }
        // SAFETY: `index` is in bounds; the caller vouches for the memory.
        unsafe {
            bindings::sg_set_buf(&mut self.entries[index], buf.cast(), len);
            bindings::sg_mark_end(&mut self.entries[index]);
        }
        self.len = index + 1;
        Ok(())
    }

    /// Records that C code (for example `blk_rq_map_sg`) filled the first
    /// `len` entries and marked the end.
    ///
    /// # Safety
    ///
    /// Entries `0..len` were set and `len - 1` carries the end mark.
    pub(crate) unsafe fn set_len(&mut self, len: usize) {
        debug_assert!(len <= self.capacity());
        self.len = len;
    }
}
