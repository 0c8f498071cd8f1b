// SPDX-License-Identifier: GPL-2.0

//! The data of an RTRS client request ([`ReqData`]), its DMA mapping for
//! an RDMA device ([`MappedData`]), which a fast-registration MR then maps
//! (`FrMr::map_data`).
//!
//! # Who may touch the pages
//!
//! A [`ReqData`] owns what it describes: nothing, a kmalloc buffer, or a
//! blk-mq request (of any driver: the request is type-erased) together
//! with the scatterlist its pages are mapped into. The request is ended
//! only by whoever gets it back out ([`ReqData::into_request`]), so its
//! pages stay valid for as long as the value lives, wherever it goes.
//! While the data is DMA-mapped ([`MappedData`]) the value is inside the
//! mapping and no CPU access is possible; unmapping gives it back.

use core::any::TypeId;
use core::ptr::NonNull;

use crate::kernel_ext::bindings;
use kernel::prelude::*;
use kernel::sync::Arc;

use super::verbs::ProtectionDomain;
use crate::kernel_ext::block::request::Request;
use crate::kernel_ext::block::tag_set::Operations;
use crate::kernel_ext::scatterlist::SgTable;

/// A blk-mq request of some driver with its type erased, without a box
/// (no allocation per request): the handle's parts, the driver's type,
/// and the function that ends it as that driver's request.
///
/// # Invariants
///
/// `raw` and `started` are the parts of a `Request<T>` (its invariant
/// holds and this is its only handle) with `TypeId::of::<T>() ==
/// type_id`, and `end` is `end_erased::<T>`. `bytes` is what the request
/// moves through its pages (0 for a request without data pages).
struct AnyRequest {
    raw: NonNull<bindings::request>,
    started: bool,
    bytes: usize,
    type_id: TypeId,
    end: unsafe fn(NonNull<bindings::request>, bool),
}

// SAFETY: A `Request<T>` is `Send` for every driver `T` (a request may be
// ended from any context); this is the same handle, type-erased.
unsafe impl Send for AnyRequest {}

/// Ends the request as `Request<T>`'s drop does (I/O error).
///
/// # Safety
///
/// `raw` and `started` are the parts of a `Request<T>` whose handle is
/// given up to this call.
unsafe fn end_erased<T: Operations>(raw: NonNull<bindings::request>, started: bool) {
    // SAFETY: The parts of a `Request<T>`, handed over by the caller.
    drop(unsafe { Request::<T>::from_raw(raw.as_ptr(), started) });
}

impl AnyRequest {
    fn new<T: Operations>(rq: Request<T>) -> Self {
        let bytes = if rq.op().has_data() {
            rq.bytes() as usize
        } else {
            0
        };
        let (raw, started) = rq.into_parts();
        // INVARIANT: The parts of the `Request<T>` just given up, with
        // `T`'s type id and end function.
        AnyRequest {
            raw,
            started,
            bytes,
            type_id: TypeId::of::<T>(),
            end: end_erased::<T>,
        }
    }

    /// The request back, if it is one of driver `T`.
    fn into_request<T: Operations>(self) -> core::result::Result<Request<T>, Self> {
        if self.type_id != TypeId::of::<T>() {
            return Err(self);
        }
        let (raw, started) = (self.raw, self.started);
        // The handle moves to the `Request<T>` below: `drop` must not end it.
        core::mem::forget(self);
        // SAFETY: The parts of a `Request<T>` for this very `T` (type
        // invariant), whose only handle was `self`, given up just above.
        Ok(unsafe { Request::<T>::from_raw(raw.as_ptr(), started) })
    }
}

impl Drop for AnyRequest {
    fn drop(&mut self) {
        // A request must never be lost: ended with an I/O error, as the
        // driver's own handle would be.
        // SAFETY: `end` is `end_erased::<T>` for the `T` these are the
        // parts of (type invariant); this handle ends here.
        unsafe { (self.end)(self.raw, self.started) };
    }
}

/// The largest buffer (kmalloc's limit).
const MAX_BUFFER: usize = 4 << 20;

enum Kind {
    None,
    /// The buffer and its one-entry table (filled when mapped).
    Buffer(KVec<u8>, SgTable),
    /// A block request and the table its pages are mapped into.
    Request(AnyRequest, SgTable),
}

/// The data of a request: nothing, an owned kmalloc buffer, or a block
/// request's pages (see the module documentation).
pub struct ReqData {
    kind: Kind,
}

impl ReqData {
    /// No data.
    pub fn none() -> Self {
        ReqData { kind: Kind::None }
    }

    /// An owned buffer (kmalloc memory: `KVec`), at most 4 MiB; an
    /// empty buffer counts as no data. Process context (allocates the
    /// buffer's one-entry scatterlist); EINVAL above 4 MiB.
    pub fn buffer(buf: KVec<u8>) -> Result<Self> {
        if buf.is_empty() {
            return Ok(Self::none());
        }
        if buf.len() > MAX_BUFFER {
            return Err(EINVAL);
        }
        let sg = SgTable::new(1)?;
        Ok(ReqData {
            kind: Kind::Buffer(buf, sg),
        })
    }

    /// The pages of `rq`, mapped into `sg` (`blk_rq_map_sg`); a request
    /// without data pages (flush, discard, write zeroes) has none: its
    /// length is 0 and it only travels with the value. No allocation. On
    /// failure (ENOSPC: `sg` too small) both come back.
    pub fn from_request<T: Operations>(
        rq: Request<T>,
        mut sg: SgTable,
    ) -> core::result::Result<Self, (Error, Request<T>, SgTable)> {
        if let Err(e) = rq.map_sg(&mut sg) {
            return Err((e, rq, sg));
        }
        Ok(ReqData {
            kind: Kind::Request(AnyRequest::new(rq), sg),
        })
    }

    /// Bytes of data (0 for none).
    pub fn len(&self) -> usize {
        match &self.kind {
            Kind::None => 0,
            Kind::Buffer(buf, _) => buf.len(),
            Kind::Request(rq, _) => rq.bytes,
        }
    }

    /// Whether there is no data to transfer.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer, if this is one.
    pub fn as_buffer(&self) -> Option<&[u8]> {
        match &self.kind {
            Kind::Buffer(buf, _) => Some(buf),
            _ => None,
        }
    }

    /// The buffer back, if this is one; otherwise the value.
    pub fn into_buffer(self) -> core::result::Result<KVec<u8>, Self> {
        match self.kind {
            Kind::Buffer(buf, _) => Ok(buf),
            kind => Err(ReqData { kind }),
        }
    }

    /// The request (and its table) back, if this holds a request of
    /// driver `T`; otherwise the value.
    pub fn into_request<T: Operations>(self) -> core::result::Result<(Request<T>, SgTable), Self> {
        match self.kind {
            Kind::Request(any, sg) => match any.into_request::<T>() {
                Ok(rq) => Ok((rq, sg)),
                Err(any) => Err(ReqData {
                    kind: Kind::Request(any, sg),
                }),
            },
            kind => Err(ReqData { kind }),
        }
    }
}

/// Which way the data moves (`enum dma_data_direction`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DmaDir {
    /// The device reads the memory (the peer reads it: RTRS WRITE).
    ToDevice,
    /// The device writes the memory (the peer writes it: RTRS READ).
    FromDevice,
}

impl DmaDir {
    fn raw(self) -> bindings::dma_data_direction {
        match self {
            DmaDir::ToDevice => bindings::dma_data_direction_DMA_TO_DEVICE,
            DmaDir::FromDevice => bindings::dma_data_direction_DMA_FROM_DEVICE,
        }
    }
}

impl ReqData {
    /// DMA-maps the data for `pd`'s device (`ib_dma_map_sg`). The data
    /// stays inside the mapping until [`MappedData::unmap`]. ENOMEM if
    /// the device maps nothing; the data comes back on error.
    pub fn dma_map(
        mut self,
        pd: &Arc<ProtectionDomain>,
        dir: DmaDir,
    ) -> core::result::Result<MappedData, (Error, ReqData)> {
        let device = pd.device_raw();
        let sg: &mut SgTable = match &mut self.kind {
            Kind::None => {
                return Ok(MappedData {
                    data: self,
                    count: 0,
                    pd: pd.clone(),
                    dir,
                })
            }
            Kind::Buffer(buf, sg) => {
                sg.clear();
                // SAFETY: `buf` is kmalloc memory (a `KVec`) of at most
                // 4 MiB that this value owns; the entry is used only while
                // the value lives (inside the mapping).
                if let Err(e) = unsafe { sg.push_buf(buf.as_ptr(), buf.len() as u32) } {
                    return Err((e, self));
                }
                sg
            }
            Kind::Request(_, sg) => sg,
        };
        let nents = sg.len();
        if nents == 0 {
            return Ok(MappedData {
                data: self,
                count: 0,
                pd: pd.clone(),
                dir,
            });
        }
        // SAFETY: The table's first `nents` entries describe memory this
        // value owns (a buffer, or the pages of a request in flight), and
        // the device is live (the PD holds it).
        let count =
            unsafe { bindings::ib_dma_map_sg(device, sg.as_raw(), nents as i32, dir.raw()) };
        if count <= 0 {
            return Err((ENOMEM, self));
        }
        Ok(MappedData {
            data: self,
            count: count as usize,
            pd: pd.clone(),
            dir,
        })
    }

    /// The table of the data, if it has one with entries.
    fn table(&mut self) -> Option<&mut SgTable> {
        match &mut self.kind {
            Kind::None => None,
            Kind::Buffer(_, sg) => Some(sg),
            Kind::Request(_, sg) => Some(sg),
        }
        .filter(|sg| !sg.is_empty())
    }
}

/// [`ReqData`] DMA-mapped for a device.
///
/// # Invariants
///
/// When `count > 0`, the table of `data` (its first `len()` entries) is
/// mapped on `pd`'s device in direction `dir`, and `count` is what
/// `ib_dma_map_sg` returned; it is unmapped exactly once, by `unmap` or
/// on drop.
pub struct MappedData {
    data: ReqData,
    count: usize,
    pd: Arc<ProtectionDomain>,
    dir: DmaDir,
}

impl MappedData {
    /// DMA entries (0 for no data).
    pub fn count(&self) -> usize {
        self.count
    }

    /// Bytes of data.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn pd(&self) -> &Arc<ProtectionDomain> {
        &self.pd
    }

    /// The mapped table (for MR registration), with `count` DMA entries.
    pub(crate) fn mapped_table(&mut self) -> Option<(*mut bindings::scatterlist, usize)> {
        let count = self.count;
        if count == 0 {
            return None;
        }
        self.data.table().map(|sg| (sg.as_raw(), count))
    }

    fn unmap_raw(&mut self) {
        if self.count == 0 {
            return;
        }
        let device = self.pd.device_raw();
        let dir = self.dir.raw();
        if let Some(sg) = self.data.table() {
            let nents = sg.len();
            // SAFETY: Mapped in `dma_map` with these entries, this
            // device and direction (type invariant); `count` is reset so
            // that it happens once.
            unsafe { bindings::ib_dma_unmap_sg(device, sg.as_raw(), nents as i32, dir) };
        }
        self.count = 0;
    }

    /// Unmaps the data and hands it back (for the CPU to use).
    pub fn unmap(mut self) -> ReqData {
        self.unmap_raw();
        let data = core::mem::replace(&mut self.data, ReqData::none());
        data
    }
}

impl Drop for MappedData {
    fn drop(&mut self) {
        self.unmap_raw();
    }
}
