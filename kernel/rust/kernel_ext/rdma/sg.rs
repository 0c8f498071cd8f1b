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

use crate::kernel_ext::bindings;
use kernel::prelude::*;
use kernel::sync::Arc;

use super::verbs::ProtectionDomain;
use crate::kernel_ext::block::request::Request;
use crate::kernel_ext::block::tag_set::Operations;
use crate::kernel_ext::scatterlist::SgTable;

/// A blk-mq request and the table its pages are mapped into.
struct RqPages<T: Operations> {
    rq: Request<T>,
    sg: SgTable,
}

/// What the type-erased form needs of a [`RqPages`].
trait ErasedPages: Send {
    fn sg(&mut self) -> &mut SgTable;
    fn bytes(&self) -> usize;
}

impl<T: Operations> ErasedPages for RqPages<T> {
    fn sg(&mut self) -> &mut SgTable {
        &mut self.sg
    }

    fn bytes(&self) -> usize {
        self.rq.bytes() as usize
    }
}

/// A type-erased [`RqPages`] and the type it was made from.
///
/// # Invariants
///
/// `pages` was made from a `KBox<RqPages<T>>` with `TypeId::of::<T>() ==
/// type_id`.
struct AnyRequest {
    pages: KBox<dyn ErasedPages>,
    type_id: TypeId,
}

/// The largest buffer (kmalloc's limit).
const MAX_BUFFER: usize = 4 << 20;

enum Kind {
    None,
    /// The buffer and its one-entry table (filled when mapped).
    Buffer(KVec<u8>, SgTable),
    Request(AnyRequest),
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
    /// without data pages (flush, discard, ...) has none. On failure
    /// (ENOSPC: `sg` too small) both come back.
    pub fn from_request<T: Operations>(
        rq: Request<T>,
        mut sg: SgTable,
    ) -> core::result::Result<Self, (Error, Request<T>, SgTable)> {
        if let Err(e) = rq.map_sg(&mut sg) {
            return Err((e, rq, sg));
        }
        let slot = match KBox::<RqPages<T>>::new_uninit(GFP_ATOMIC) {
            Ok(slot) => slot,
            Err(_) => return Err((ENOMEM, rq, sg)),
        };
        let boxed: KBox<RqPages<T>> = KBox::write(slot, RqPages { rq, sg });
        let raw: *mut RqPages<T> = KBox::into_raw(boxed);
        let raw: *mut dyn ErasedPages = raw;
        // SAFETY: `raw` came from `KBox::into_raw` just above; only the
        // pointer's type changed (unsized to the trait object), which
        // `KBox` (without `CoerceUnsized` in 6.12) cannot do itself.
        let pages: KBox<dyn ErasedPages> = unsafe { KBox::from_raw(raw) };
        Ok(ReqData {
            kind: Kind::Request(AnyRequest {
                pages,
                type_id: TypeId::of::<T>(),
            }),
        })
    }

    /// Bytes of data (0 for none).
    pub fn len(&self) -> usize {
        match &self.kind {
            Kind::None => 0,
            Kind::Buffer(buf, _) => buf.len(),
            Kind::Request(rq) => rq.pages.bytes(),
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
            Kind::Request(any) if any.type_id == TypeId::of::<T>() => {
                let raw: *mut dyn ErasedPages = KBox::into_raw(any.pages);
                // SAFETY: The box was made from a `KBox<RqPages<T>>` for
                // this very `T` (type invariant of `AnyRequest`); casting
                // the fat pointer back to the thin one recovers it.
                let pages = unsafe { KBox::from_raw(raw.cast::<RqPages<T>>()) };
                let RqPages { rq, sg } = KBox::into_inner(pages);
                Ok((rq, sg))
            }
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
            Kind::Request(any) => any.pages.sg(),
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
            Kind::Request(any) => Some(any.pages.sg()),
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
