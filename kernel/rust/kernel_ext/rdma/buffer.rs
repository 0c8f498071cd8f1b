// SPDX-License-Identifier: GPL-2.0

//! DMA-mapped buffers for work requests.
//!
//! A [`DmaBuffer`] is kmalloc memory mapped for the PD's device in both
//! directions. Work requests reference it through `Src`/`Dst` segments
//! built from a borrow of the request's own context (see `wr`), so while a
//! request is posted nothing else can touch the buffer; when its
//! completion hands the context back, CPU access resumes.

use crate::kernel_ext::bindings;
use kernel::alloc::Flags;
use kernel::prelude::*;
use kernel::sync::Arc;

use super::verbs::ProtectionDomain;

/// kmalloc memory mapped for DMA by the device of `pd`.
///
/// # Invariants
///
/// `data` is never resized (its heap block does not move); `dma` is its
/// mapping (`ib_dma_map_single`, `DMA_BIDIRECTIONAL`) on `pd`'s device,
/// unmapped on drop; the PD (and with it the device) outlives the mapping.
pub struct DmaBuffer {
    data: KVec<u8>,
    dma: u64,
    pd: Arc<ProtectionDomain>,
}

// SAFETY: The buffer is owned memory; the PD is `Send + Sync`.
unsafe impl Send for DmaBuffer {}
// SAFETY: Shared access only reads.
unsafe impl Sync for DmaBuffer {}

const DIRECTION: bindings::dma_data_direction = bindings::dma_data_direction_DMA_BIDIRECTIONAL;

impl DmaBuffer {
    /// A zeroed buffer of `len` bytes (1 ..= 4 MiB, the kmalloc limit).
    /// `flags` is `GFP_ATOMIC` in completion (softirq) context.
    pub fn new(pd: &Arc<ProtectionDomain>, len: usize, flags: Flags) -> Result<Self> {
        if len == 0 || len > (4 << 20) {
            return Err(EINVAL);
        }
        let mut data = KVec::from_elem(0u8, len, flags)?;
        let device = pd.device_raw();
        // SAFETY: `data` is `len` bytes of kmalloc memory (direct-mapped,
        // physically contiguous) on a live device.
        let dma = unsafe {
            bindings::ib_dma_map_single(device, data.as_mut_ptr().cast(), len, DIRECTION)
        };
        // SAFETY: `dma` came from mapping on `device`.
        if unsafe { bindings::ib_dma_mapping_error(device, dma) } != 0 {
            return Err(ENOMEM);
        }
        Ok(DmaBuffer {
            data,
            dma,
            pd: pd.clone(),
        })
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The contents, made visible to the CPU first.
    pub fn as_slice(&self) -> &[u8] {
        self.sync_for_cpu();
        &self.data
    }

    /// The contents for writing; work requests sync them for the device
    /// when posted.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        self.sync_for_cpu();
        &mut self.data
    }

    /// The PD the buffer is mapped for.
    pub fn pd(&self) -> &Arc<ProtectionDomain> {
        &self.pd
    }

    pub(crate) fn dma_addr(&self) -> u64 {
        self.dma
    }

    fn sync_for_cpu(&self) {
        // SAFETY: The mapping is live (type invariant).
        unsafe {
            bindings::ib_dma_sync_single_for_cpu(
                self.pd.device_raw(),
                self.dma,
                self.data.len(),
                DIRECTION,
            )
        };
    }

    /// Hands `offset..offset + len` (checked by the caller) to the device.
    pub(crate) fn sync_for_device(&self, offset: usize, len: usize) {
        // SAFETY: The mapping is live and the range lies inside it.
        unsafe {
            bindings::ib_dma_sync_single_for_device(
                self.pd.device_raw(),
                self.dma + offset as u64,
                len,
                DIRECTION,
            )
        };
    }

    /// Checks that `offset..offset + len` lies inside the buffer and fits a
    /// scatter/gather entry.
    pub(crate) fn check_range(&self, offset: usize, len: usize) -> Result {
        let end = offset.checked_add(len).ok_or(EINVAL)?;
        if len == 0 || end > self.data.len() || len > u32::MAX as usize {
            return Err(EINVAL);
        }
        Ok(())
    }
}

impl Drop for DmaBuffer {
    fn drop(&mut self) {
        // SAFETY: Mapped in `new` on this device; no work request uses it
        // any more (they borrow it from a context that is dropped only
        // after its completion).
        unsafe {
            bindings::ib_dma_unmap_single(
                self.pd.device_raw(),
                self.dma,
                self.data.len(),
                DIRECTION,
            )
        };
    }
}
