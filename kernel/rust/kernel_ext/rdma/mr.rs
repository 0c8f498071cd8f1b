// SPDX-License-Identifier: GPL-2.0

//! Fast-registration memory regions (FRMR): memory a peer may access by
//! rkey, registered with an `IB_WR_REG_MR` work request and invalidated
//! locally (`IB_WR_LOCAL_INV`) or by the peer (`SEND_WITH_INV`).
//!
//! # Remote access and CPU access never overlap
//!
//! An [`FrMr`] owns the buffer it maps. Its state says whether the rkey may
//! be valid: posting a REG_MR makes it *registered* (at post time, before
//! the device acts); it becomes *invalid* again only when a LOCAL_INV for
//! it completes successfully, when a received completion reports that the
//! peer invalidated exactly this rkey ([`FrMr::invalidated_by`]), or when
//! [`FrMr::reclaim`] deregisters the MR. The buffer is handed out
//! (`memory`, `memory_mut`, `unmap`) only while invalid and only through
//! `&mut FrMr`, so a peer can never write into memory a `&[u8]` points at.
//! On drop the MR is deregistered before its buffer is freed.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU8, Ordering};

use crate::kernel_ext::bindings;
use kernel::error::{from_err_ptr, Result};
use kernel::prelude::*;
use kernel::sync::Arc;

use super::buffer::DmaBuffer;
use super::sg::MappedData;
use super::verbs::ProtectionDomain;
use super::wr::WorkCompletion;

/// What an MR maps: a DMA buffer, or a request's DMA-mapped data.
enum Memory {
    Buffer(DmaBuffer),
    Data(MappedData),
}

/// The proof that the peer invalidated an rkey of a PD (a receive
/// completion with `IB_WC_WITH_INVALIDATE`), to be applied to the MR
/// later with [`FrMr::apply_invalidation`] when the completion that
/// carried it is not where the MR is at hand.
#[derive(Clone, Copy, Debug)]
pub struct PeerInvalidation {
    rkey: u32,
    pd: *mut bindings::ib_pd,
}

// SAFETY: Plain values; the PD pointer is only compared.
unsafe impl Send for PeerInvalidation {}

impl PeerInvalidation {
    /// The invalidation `wc` reports, if it is a successful receive that
    /// invalidated an rkey.
    pub fn from_wc(wc: &WorkCompletion<'_>) -> Option<Self> {
        if !wc.is_success() {
            return None;
        }
        Some(PeerInvalidation {
            rkey: wc.invalidated_rkey()?,
            pd: wc.pd_raw(),
        })
    }

    pub fn rkey(&self) -> u32 {
        self.rkey
    }
}

const INVALID: u8 = 0;
const REGISTERED: u8 = 1;

/// Access a registration grants (`enum ib_access_flags`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MrAccess(u32);

impl MrAccess {
    pub const LOCAL_WRITE: Self = Self(bindings::ib_access_flags_IB_ACCESS_LOCAL_WRITE);
    pub const REMOTE_WRITE: Self = Self(bindings::ib_access_flags_IB_ACCESS_REMOTE_WRITE);
    pub const REMOTE_READ: Self = Self(bindings::ib_access_flags_IB_ACCESS_REMOTE_READ);

    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    pub(crate) fn bits(self) -> i32 {
        self.0 as i32
    }
}

/// A fast-registration MR and the buffer it maps.
///
/// Dropping it sleeps (`ib_dereg_mr` waits for the restrack entry), so it
/// must not be dropped in a completion callback (softirq) or under a
/// spinlock: park it and drop it from process context.
///
/// # Invariants
///
/// `raw` came from `ib_alloc_mr(IB_MR_TYPE_MEM_REG)` on `pd` and is
/// deregistered on drop or by `reclaim`; when `memory` is `Some`, the MR's
/// page list describes exactly that buffer; `state` is `REGISTERED` from the
/// moment a REG_MR for it is posted until an invalidation is observed.
pub struct FrMr {
    raw: NonNull<bindings::ib_mr>,
    pd: Arc<ProtectionDomain>,
    max_pages: u32,
    memory: Option<Memory>,
    state: AtomicU8,
}

// SAFETY: The MR is used through the verbs core, which is thread-safe; the
// state is atomic; the buffer is only reached through `&mut self`.
unsafe impl Send for FrMr {}
// SAFETY: As above; `&FrMr` only reads keys and flips the atomic state.
unsafe impl Sync for FrMr {}

impl FrMr {
    /// An MR that can map up to `max_pages` pages, with no memory yet.
    pub fn new(pd: &Arc<ProtectionDomain>, max_pages: u32) -> Result<Self> {
        let raw = Self::alloc(pd, max_pages)?;
        Ok(FrMr {
            raw,
            pd: pd.clone(),
            max_pages,
            memory: None,
            state: AtomicU8::new(INVALID),
        })
    }

    fn alloc(pd: &ProtectionDomain, max_pages: u32) -> Result<NonNull<bindings::ib_mr>> {
        if max_pages == 0 {
            return Err(EINVAL);
        }
        // SAFETY: The PD is live.
        let mr = unsafe {
            bindings::ib_alloc_mr(
                pd.as_raw(),
                bindings::ib_mr_type_IB_MR_TYPE_MEM_REG,
                max_pages,
            )
        };
        let mr = from_err_ptr(mr)?;
        // SAFETY: Not an error pointer, hence non-null.
        Ok(unsafe { NonNull::new_unchecked(mr) })
    }

    /// Maps `buffer` (which must belong to the same PD) into the MR with
    /// `PAGE_SIZE` pages. The MR must be invalid and have no memory.
    pub fn map(&mut self, buffer: DmaBuffer) -> Result {
        if self.is_registered() || self.memory.is_some() {
            return Err(EBUSY);
        }
        if !Arc::ptr_eq(buffer.pd(), &self.pd) {
            return Err(EINVAL);
        }
        let pages = buffer.len().div_ceil(kernel::page::PAGE_SIZE) + 1;
        if pages > self.max_pages as usize {
            return Err(EINVAL);
        }
        self.map_raw(&buffer)?;
        self.memory = Some(Memory::Buffer(buffer));
        Ok(())
    }

    /// Maps DMA-mapped request data (which must be mapped for the same
    /// PD and not empty) into the MR with 4 KiB pages, as RTRS does
    /// (`rtrs_map_sg_fr()`): every entry must be mapped, else EINVAL. The
    /// MR must be invalid and have no memory; the data comes back on
    /// error.
    pub fn map_data(
        &mut self,
        mut data: MappedData,
    ) -> core::result::Result<(), (Error, MappedData)> {
        if self.is_registered() || self.memory.is_some() {
            return Err((EBUSY, data));
        }
        if !Arc::ptr_eq(data.pd(), &self.pd) {
            return Err((EINVAL, data));
        }
        if let Err(e) = self.map_sg(&mut data) {
            return Err((e, data));
        }
        self.memory = Some(Memory::Data(data));
        Ok(())
    }

    /// `ib_map_mr_sg` over the mapped entries of `data`, all or EINVAL.
    fn map_sg(&mut self, data: &mut MappedData) -> Result {
        let Some((sg, count)) = data.mapped_table() else {
            return Err(EINVAL);
        };
        if count > self.max_pages as usize {
            return Err(EINVAL);
        }
        // SAFETY: The MR is live and invalid (no REG_MR in flight uses its
        // page list); the table's first `count` entries are DMA-mapped on
        // this PD's device and stay mapped while `data` is kept in the MR.
        let mapped = unsafe {
            bindings::ib_map_mr_sg(
                self.raw.as_ptr(),
                sg,
                count as i32,
                core::ptr::null_mut(),
                4096,
            )
        };
        if mapped != count as i32 {
            return Err(if mapped < 0 {
                Error::from_errno(mapped)
            } else {
                EINVAL
            });
        }
        Ok(())
    }

    /// Takes the request data back out of an invalid MR.
    pub fn unmap_data(&mut self) -> Result<MappedData> {
        if self.is_registered() {
            return Err(EBUSY);
        }
        match self.memory.take() {
            Some(Memory::Data(data)) => Ok(data),
            other => {
                self.memory = other;
                Err(ENOENT)
            }
        }
    }

    /// Records the peer's invalidation `inv` if it is of this MR's
    /// current rkey on its PD: true, and the MR is invalid from now on.
    /// The caller applies an invalidation only to the registration it
    /// was received for (RC ordering: the SEND_WITH_INV of a reply).
    pub fn apply_invalidation(&self, inv: &PeerInvalidation) -> bool {
        let matches = inv.rkey == self.rkey() && inv.pd == self.pd.as_raw();
        if matches {
            self.state.store(INVALID, Ordering::Release);
        }
        matches
    }

    fn map_raw(&mut self, buffer: &DmaBuffer) -> Result {
        let mut sg = bindings::scatterlist::default();
        // SAFETY: One local entry, initialised and ended by `sg_init_table`.
        unsafe { bindings::sg_init_table(&mut sg, 1) };
        // `ib_map_mr_sg` reads only the DMA address and length of a mapped
        // entry; the buffer's single mapping is that entry.
        sg.dma_address = buffer.dma_addr();
        sg.dma_length = buffer.len() as u32;
        sg.length = buffer.len() as u32;
        // SAFETY: The MR is live and invalid (no REG_MR in flight uses its
        // page list); `sg` is valid for the call.
        let mapped = unsafe {
            bindings::ib_map_mr_sg(
                self.raw.as_ptr(),
                &mut sg,
                1,
                core::ptr::null_mut(),
                kernel::page::PAGE_SIZE as u32,
            )
        };
        if mapped != 1 {
            return Err(if mapped < 0 {
                Error::from_errno(mapped)
            } else {
                EINVAL
            });
        }
        Ok(())
    }

    /// Takes the buffer back out of an invalid MR.
    pub fn unmap(&mut self) -> Result<DmaBuffer> {
        if self.is_registered() {
            return Err(EBUSY);
        }
        match self.memory.take() {
            Some(Memory::Buffer(buffer)) => Ok(buffer),
            other => {
                self.memory = other;
                Err(ENOENT)
            }
        }
    }

    fn buffer(&self) -> Option<&DmaBuffer> {
        match &self.memory {
            Some(Memory::Buffer(buffer)) => Some(buffer),
            _ => None,
        }
    }

    fn buffer_mut(&mut self) -> Option<&mut DmaBuffer> {
        match &mut self.memory {
            Some(Memory::Buffer(buffer)) => Some(buffer),
            _ => None,
        }
    }

    /// The mapped buffer, while no peer can access it.
    pub fn memory(&mut self) -> Result<&DmaBuffer> {
        if self.is_registered() {
            return Err(EBUSY);
        }
        self.buffer().ok_or(ENOENT)
    }

    /// The mapped buffer for writing, while no peer can access it.
    pub fn memory_mut(&mut self) -> Result<&mut DmaBuffer> {
        if self.is_registered() {
            return Err(EBUSY);
        }
        self.buffer_mut().ok_or(ENOENT)
    }

    /// The mapped buffer even while the MR is registered, for segments
    /// (the device reads or writes it) and for protocols in which the
    /// peer hands the memory over by a message rather than by an
    /// invalidation (RTRS with `always_invalidate=N`: the client does not
    /// touch a chunk between its request and the reply). A peer that
    /// breaks such a protocol can change the bytes under the reader; it
    /// cannot free or move them.
    pub fn shared_memory(&self) -> Option<&DmaBuffer> {
        self.buffer()
    }

    /// [`FrMr::shared_memory`] for writing (see there).
    pub fn shared_memory_mut(&mut self) -> Option<&mut DmaBuffer> {
        self.buffer_mut()
    }

    /// Whether the rkey may be valid (a REG_MR was posted and no
    /// invalidation has been seen since).
    pub fn is_registered(&self) -> bool {
        self.state.load(Ordering::Acquire) == REGISTERED
    }

    pub(crate) fn has_memory(&self) -> bool {
        self.memory.is_some()
    }

    /// Moves the rkey's key byte on (`ib_inc_rkey`), as before each
    /// re-registration, so that a peer holding the old rkey is refused.
    pub fn update_key(&mut self) -> Result {
        if self.is_registered() {
            return Err(EBUSY);
        }
        let mr = self.raw.as_ptr();
        // SAFETY: The MR is live and not in use by a REG_MR.
        unsafe { bindings::ib_update_fast_reg_key(mr, bindings::ib_inc_rkey((*mr).rkey) as u8) };
        Ok(())
    }

    pub fn rkey(&self) -> u32 {
        // SAFETY: Plain read of the live MR.
        unsafe { (*self.raw.as_ptr()).rkey }
    }

    pub fn lkey(&self) -> u32 {
        // SAFETY: Plain read of the live MR.
        unsafe { (*self.raw.as_ptr()).lkey }
    }

    /// The address peers use for the mapped buffer (with the rkey).
    pub fn iova(&self) -> u64 {
        // SAFETY: Plain read of the live MR.
        unsafe { (*self.raw.as_ptr()).iova }
    }

    /// Bytes mapped.
    pub fn length(&self) -> u64 {
        // SAFETY: Plain read of the live MR.
        unsafe { (*self.raw.as_ptr()).length }
    }

    /// Records an invalidation by the peer: true (and the MR is invalid
    /// from now on) if `wc` is a successful receive on a QP of this MR's PD
    /// that invalidated this MR's current rkey.
    pub fn invalidated_by(&self, wc: &WorkCompletion<'_>) -> bool {
        let matches = wc.is_success()
            && wc.invalidated_rkey() == Some(self.rkey())
            && wc.pd_raw() == self.pd.as_raw();
        if matches {
            self.state.store(INVALID, Ordering::Release);
        }
        matches
    }

    /// Makes a registered MR invalid without a peer's help: deregisters it
    /// (the device refuses its rkey from then on) and allocates a fresh MR
    /// mapping the same buffer. For connections that failed before an
    /// invalidation could complete.
    pub fn reclaim(&mut self) -> Result {
        if !self.is_registered() {
            return Ok(());
        }
        let fresh = Self::alloc(&self.pd, self.max_pages)?;
        let old = core::mem::replace(&mut self.raw, fresh);
        // SAFETY: `old` was ours; no work request references it (a REG_MR
        // or LOCAL_INV borrows the MR from its request's context until the
        // completion, and `&mut self` excludes those).
        unsafe { bindings::ib_dereg_mr_user(old.as_ptr(), core::ptr::null_mut()) };
        self.state.store(INVALID, Ordering::Release);
        match self.memory.take() {
            Some(Memory::Buffer(buffer)) => {
                let mapped = self.map_raw(&buffer);
                self.memory = Some(Memory::Buffer(buffer));
                mapped?;
            }
            Some(Memory::Data(mut data)) => {
                let mapped = self.map_sg(&mut data);
                self.memory = Some(Memory::Data(data));
                mapped?;
            }
            None => {}
        }
        Ok(())
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::ib_mr {
        self.raw.as_ptr()
    }

    pub(crate) fn pd(&self) -> &Arc<ProtectionDomain> {
        &self.pd
    }

    /// Marks the MR registered; called when a REG_MR for it is posted.
    pub(crate) fn set_registered(&self) {
        self.state.store(REGISTERED, Ordering::Release);
    }

    /// The state a completed LOCAL_INV clears (see `wr`).
    pub(crate) fn state_ptr(&self) -> NonNull<AtomicU8> {
        NonNull::from(&self.state)
    }

    pub(crate) fn mark_invalid(state: &AtomicU8) {
        state.store(INVALID, Ordering::Release);
    }
}

impl Drop for FrMr {
    fn drop(&mut self) {
        // SAFETY: Ours; no work request references it (see `reclaim`).
        // The device stops honouring the rkey before `memory` is freed
        // (fields drop after this).
        unsafe { bindings::ib_dereg_mr_user(self.raw.as_ptr(), core::ptr::null_mut()) };
    }
}
