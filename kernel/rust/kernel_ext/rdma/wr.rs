// SPDX-License-Identifier: GPL-2.0

//! Work requests and their completions.
//!
//! # Ownership
//!
//! A work request's context is a driver value `T` boxed with the
//! `struct ib_cqe` the completion finds it by: [`Wr<T>`]. Posting moves the
//! box into the queue pair; the completion (success, error or flush)
//! moves it back out, to [`Completion::complete`]. In between nobody else
//! can reach it.
//!
//! The segments and MRs a request uses are borrowed from that same
//! context while the request is built (`post_send`/`post_recv` hand the
//! builder `&'b mut T` and accept only `'b` borrows), so everything the
//! device touches lives until the completion returns the context. Buffers
//! the device writes into (receives, RDMA READ targets) must be borrowed
//! mutably, so no shared reference to them exists while they are posted.
//!
//! A chain of send requests is posted at once; only its last request is
//! signalled and carries the context. The earlier ones complete in order
//! before it (an error moves the QP to the error state, which flushes the
//! last one too), so the context's completion means the whole chain is
//! done.
//!
//! Completions run in softirq context (`CompletionQueue::new`) or in
//! process context on the verbs core's workqueue
//! (`CompletionQueue::new_in_workqueue`).

use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;
use core::sync::atomic::AtomicU8;

use kernel::alloc::Flags;
use kernel::bindings;
use kernel::prelude::*;

use super::buffer::DmaBuffer;
use super::mr::{FrMr, MrAccess};

/// Most work requests in one posted chain.
pub const MAX_CHAIN: usize = 4;
/// Most scatter/gather entries in one posted chain (or receive).
pub const MAX_SGES: usize = 16;

/// What a work request's context does when its request completes.
pub trait Completion: Sized + Send + 'static {
    /// Called once per posted chain or receive, in the CQ's context, with
    /// the context back in the driver's hands. May post again.
    fn complete(wr: KBox<Wr<Self>>, wc: &WorkCompletion<'_>);
}

/// A work request's context: the driver's `T` and the completion entry
/// the CQ finds it by.
///
/// # Invariants
///
/// `cqe` is the first field (a completion's `wr_cqe` is the `Wr`'s
/// address) and its `done` is `done::<T>`; `invalidates` lists the states
/// of MRs borrowed from `value` that a LOCAL_INV in the posted chain
/// invalidates, and is empty when not posted.
#[repr(C)]
pub struct Wr<T> {
    cqe: bindings::ib_cqe,
    invalidates: [Option<NonNull<AtomicU8>>; MAX_CHAIN],
    value: T,
}

// SAFETY: `invalidates` only points into `value`, which moves with the box.
unsafe impl<T: Send> Send for Wr<T> {}
// SAFETY: Shared access reaches only `value`.
unsafe impl<T: Sync> Sync for Wr<T> {}

impl<T: Completion> Wr<T> {
    /// Boxes `value` as a work request context.
    pub fn new(value: T, flags: Flags) -> Result<KBox<Self>> {
        Ok(KBox::new(
            Wr {
                cqe: bindings::ib_cqe {
                    done: Some(done::<T>),
                },
                invalidates: [None; MAX_CHAIN],
                value,
            },
            flags,
        )?)
    }

    /// The driver value, out of its box.
    pub fn into_inner(this: KBox<Self>) -> T {
        KBox::into_inner(this).value
    }
}

impl<T> Deref for Wr<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for Wr<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

/// The completion entry point of contexts of type `T`.
///
/// # Safety
///
/// Called by the CQ with a completion whose `wr_cqe` is the `cqe` of a
/// `Wr<T>` leaked from a `KBox` by `post_send`/`post_recv`.
unsafe extern "C" fn done<T: Completion>(_cq: *mut bindings::ib_cq, wc: *mut bindings::ib_wc) {
    // SAFETY: The completion is valid for the call.
    let wc = WorkCompletion {
        raw: unsafe { &*wc },
    };
    // SAFETY: Per the contract, `wr_cqe` is the first field of a leaked
    // `KBox<Wr<T>>`; this completion is the only one it gets.
    let mut wr = unsafe { KBox::from_raw(wc.raw.__bindgen_anon_1.wr_cqe.cast::<Wr<T>>()) };
    let invalidates = core::mem::replace(&mut wr.invalidates, [None; MAX_CHAIN]);
    if wc.is_success() {
        for state in invalidates.iter().flatten() {
            // SAFETY: The state is inside an MR borrowed from `wr.value`
            // when the chain was built, which is still alive.
            FrMr::mark_invalid(unsafe { state.as_ref() });
        }
    }
    T::complete(wr, &wc);
}

/// The completion entry of unsignalled requests earlier in a chain: the
/// device reports them only when they fail (or are flushed), and the
/// chain's context learns of a failure from its own (then flushed)
/// completion.
unsafe extern "C" fn chain_member_done(_cq: *mut bindings::ib_cq, wc: *mut bindings::ib_wc) {
    // SAFETY: The completion is valid for the call.
    let wc = WorkCompletion {
        raw: unsafe { &*wc },
    };
    if wc.status() == WcStatus::Error {
        pr_debug!("chained work request failed: {}\n", wc.status_text());
    }
}

/// The completion entry shared by all unsignalled chain members.
struct ChainMemberCqe(bindings::ib_cqe);
// SAFETY: Never written after initialisation.
unsafe impl Sync for ChainMemberCqe {}
static CHAIN_MEMBER_CQE: ChainMemberCqe = ChainMemberCqe(bindings::ib_cqe {
    done: Some(chain_member_done),
});

/// How a work request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WcStatus {
    Success,
    /// Flushed: the QP entered the error state (disconnect, teardown)
    /// before the request ran.
    Flushed,
    /// Any other failure; see [`WorkCompletion::status_code`].
    Error,
}

/// What completed (`enum ib_wc_opcode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WcOpcode {
    Send,
    RdmaWrite,
    RdmaRead,
    LocalInv,
    RegMr,
    Recv,
    RecvRdmaWithImm,
    Other(u32),
}

/// The text of a raw completion status (`ib_wc_status_msg`).
pub fn wc_status_text(code: u32) -> &'static kernel::str::CStr {
    // SAFETY: Returns a static string for every value.
    unsafe { kernel::str::CStr::from_char_ptr(bindings::ib_wc_status_msg(code)) }
}

/// A completion, valid during the completion callback.
pub struct WorkCompletion<'a> {
    raw: &'a bindings::ib_wc,
}

impl WorkCompletion<'_> {
    pub fn status(&self) -> WcStatus {
        match self.raw.status {
            bindings::ib_wc_status_IB_WC_SUCCESS => WcStatus::Success,
            bindings::ib_wc_status_IB_WC_WR_FLUSH_ERR => WcStatus::Flushed,
            _ => WcStatus::Error,
        }
    }

    pub fn is_success(&self) -> bool {
        self.status() == WcStatus::Success
    }

    /// The raw `enum ib_wc_status` value.
    pub fn status_code(&self) -> u32 {
        self.raw.status
    }

    /// The status as text (`ib_wc_status_msg`), for logs.
    pub fn status_text(&self) -> &'static kernel::str::CStr {
        wc_status_text(self.raw.status)
    }

    /// Meaningful only for successful completions.
    pub fn opcode(&self) -> WcOpcode {
        match self.raw.opcode {
            bindings::ib_wc_opcode_IB_WC_SEND => WcOpcode::Send,
            bindings::ib_wc_opcode_IB_WC_RDMA_WRITE => WcOpcode::RdmaWrite,
            bindings::ib_wc_opcode_IB_WC_RDMA_READ => WcOpcode::RdmaRead,
            bindings::ib_wc_opcode_IB_WC_LOCAL_INV => WcOpcode::LocalInv,
            bindings::ib_wc_opcode_IB_WC_REG_MR => WcOpcode::RegMr,
            bindings::ib_wc_opcode_IB_WC_RECV => WcOpcode::Recv,
            bindings::ib_wc_opcode_IB_WC_RECV_RDMA_WITH_IMM => WcOpcode::RecvRdmaWithImm,
            other => WcOpcode::Other(other),
        }
    }

    /// Bytes received (receives) or transferred.
    pub fn byte_len(&self) -> u32 {
        self.raw.byte_len
    }

    /// The immediate data of a SEND_WITH_IMM or WRITE_WITH_IMM, in CPU
    /// order (it travels big-endian).
    pub fn imm_data(&self) -> Option<u32> {
        if self.raw.wc_flags & bindings::ib_wc_flags_IB_WC_WITH_IMM as i32 == 0 {
            return None;
        }
        // SAFETY: `WITH_IMM` says the union holds `imm_data`.
        Some(u32::from_be(unsafe { self.raw.ex.imm_data }))
    }

    /// The rkey the peer invalidated with SEND_WITH_INV.
    pub fn invalidated_rkey(&self) -> Option<u32> {
        if self.raw.wc_flags & bindings::ib_wc_flags_IB_WC_WITH_INVALIDATE as i32 == 0 {
            return None;
        }
        // SAFETY: `WITH_INVALIDATE` says the union holds the rkey.
        Some(unsafe { self.raw.ex.invalidate_rkey })
    }

    /// The PD of the QP the completion belongs to.
    pub(crate) fn pd_raw(&self) -> *mut bindings::ib_pd {
        // SAFETY: The QP of a completion being delivered is live.
        unsafe { (*self.raw.qp).pd }
    }
}

/// A local memory segment a request reads (the device reads it).
#[derive(Clone, Copy)]
pub struct Src<'b> {
    sge: bindings::ib_sge,
    _borrow: PhantomData<&'b ()>,
}

impl<'b> Src<'b> {
    /// All of `buffer`.
    pub fn buffer(buffer: &'b DmaBuffer) -> Self {
        Self::from_buffer(buffer, 0, buffer.len())
    }

    /// `len` bytes of `buffer` from `offset`.
    pub fn range(buffer: &'b DmaBuffer, offset: usize, len: usize) -> Result<Self> {
        buffer.check_range(offset, len)?;
        Ok(Self::from_buffer(buffer, offset, len))
    }

    fn from_buffer(buffer: &'b DmaBuffer, offset: usize, len: usize) -> Self {
        buffer.sync_for_device(offset, len);
        Src {
            sge: bindings::ib_sge {
                addr: buffer.dma_addr() + offset as u64,
                length: len as u32,
                lkey: buffer.pd().local_dma_lkey(),
            },
            _borrow: PhantomData,
        }
    }

    /// The memory a registered MR maps, through its lkey (the device
    /// refuses the access if the MR is not registered).
    pub fn mr(mr: &'b FrMr) -> Self {
        Src {
            sge: bindings::ib_sge {
                addr: mr.iova(),
                length: mr.length() as u32,
                lkey: mr.lkey(),
            },
            _borrow: PhantomData,
        }
    }
}

/// A local memory segment a request writes (receives, RDMA READ targets);
/// borrowed mutably so nothing reads it meanwhile.
pub struct Dst<'b> {
    sge: bindings::ib_sge,
    _borrow: PhantomData<&'b mut ()>,
}

impl<'b> Dst<'b> {
    /// All of `buffer`.
    pub fn buffer(buffer: &'b mut DmaBuffer) -> Self {
        let len = buffer.len();
        Self::from_buffer(buffer, 0, len)
    }

    /// `len` bytes of `buffer` from `offset`.
    pub fn range(buffer: &'b mut DmaBuffer, offset: usize, len: usize) -> Result<Self> {
        buffer.check_range(offset, len)?;
        Ok(Self::from_buffer(buffer, offset, len))
    }

    fn from_buffer(buffer: &'b mut DmaBuffer, offset: usize, len: usize) -> Self {
        // Hand over to the device whatever the CPU wrote before.
        buffer.sync_for_device(offset, len);
        Dst {
            sge: bindings::ib_sge {
                addr: buffer.dma_addr() + offset as u64,
                length: len as u32,
                lkey: buffer.pd().local_dma_lkey(),
            },
            _borrow: PhantomData,
        }
    }
}

/// Memory of the peer: an address and the rkey it granted.
#[derive(Clone, Copy, Debug)]
pub struct Remote {
    pub addr: u64,
    pub rkey: u32,
}

/// One request of a chain, in the layout `ib_post_send` expects for its
/// opcode.
enum SendSlot {
    Empty,
    Plain(bindings::ib_send_wr),
    Rdma(bindings::ib_rdma_wr),
    Reg(bindings::ib_reg_wr),
}

impl SendSlot {
    fn head(&mut self) -> &mut bindings::ib_send_wr {
        match self {
            SendSlot::Plain(wr) => wr,
            SendSlot::Rdma(wr) => &mut wr.wr,
            SendSlot::Reg(wr) => &mut wr.wr,
            SendSlot::Empty => unreachable!(),
        }
    }
}

/// Scatter/gather entries shared by the requests being built.
struct SgeList {
    sges: [bindings::ib_sge; MAX_SGES],
    len: usize,
}

impl SgeList {
    fn new() -> Self {
        SgeList {
            sges: [bindings::ib_sge::default(); MAX_SGES],
            len: 0,
        }
    }

    /// Appends `sges`; returns where they start and how many.
    fn push(&mut self, sges: impl IntoIterator<Item = bindings::ib_sge>) -> Result<(usize, usize)> {
        let start = self.len;
        for sge in sges {
            if self.len == MAX_SGES {
                return Err(EINVAL);
            }
            self.sges[self.len] = sge;
            self.len += 1;
        }
        Ok((start, self.len - start))
    }
}

/// The requests of one `post_send`, built from borrows of the context.
pub struct SendChain<'b> {
    /// The requests, and where their entries start in `sges` and how many.
    slots: [(SendSlot, usize, usize); MAX_CHAIN],
    len: usize,
    sges: SgeList,
    registers: [Option<&'b FrMr>; MAX_CHAIN],
    invalidates: [Option<&'b FrMr>; MAX_CHAIN],
}

impl<'b> SendChain<'b> {
    fn new() -> Self {
        SendChain {
            slots: [const { (SendSlot::Empty, 0, 0) }; MAX_CHAIN],
            len: 0,
            sges: SgeList::new(),
            registers: [None; MAX_CHAIN],
            invalidates: [None; MAX_CHAIN],
        }
    }

    fn push(&mut self, slot: SendSlot, sges: impl IntoIterator<Item = bindings::ib_sge>) -> Result {
        if self.len == MAX_CHAIN {
            return Err(EINVAL);
        }
        let (start, count) = self.sges.push(sges)?;
        self.slots[self.len] = (slot, start, count);
        self.len += 1;
        Ok(())
    }

    fn plain(opcode: bindings::ib_wr_opcode) -> bindings::ib_send_wr {
        bindings::ib_send_wr {
            opcode,
            ..Default::default()
        }
    }

    /// SEND of `sges` (they may be empty).
    pub fn send(&mut self, sges: &[Src<'b>]) -> Result {
        self.push(
            SendSlot::Plain(Self::plain(bindings::ib_wr_opcode_IB_WR_SEND)),
            sges.iter().map(|s| s.sge),
        )
    }

    /// SEND_WITH_IMM: the peer's receive completion carries `imm`.
    pub fn send_imm(&mut self, sges: &[Src<'b>], imm: u32) -> Result {
        let mut wr = Self::plain(bindings::ib_wr_opcode_IB_WR_SEND_WITH_IMM);
        wr.ex.imm_data = imm.to_be();
        self.push(SendSlot::Plain(wr), sges.iter().map(|s| s.sge))
    }

    /// SEND_WITH_INV: also invalidates the peer's `rkey` (an MR of the
    /// peer's), before the peer's receive completes.
    pub fn send_with_inv(&mut self, sges: &[Src<'b>], rkey: u32) -> Result {
        let mut wr = Self::plain(bindings::ib_wr_opcode_IB_WR_SEND_WITH_INV);
        wr.ex.invalidate_rkey = rkey;
        self.push(SendSlot::Plain(wr), sges.iter().map(|s| s.sge))
    }

    fn rdma(opcode: bindings::ib_wr_opcode, remote: Remote) -> bindings::ib_rdma_wr {
        bindings::ib_rdma_wr {
            wr: Self::plain(opcode),
            remote_addr: remote.addr,
            rkey: remote.rkey,
        }
    }

    /// RDMA WRITE of `sges` to the peer's memory.
    pub fn write(&mut self, sges: &[Src<'b>], remote: Remote) -> Result {
        let wr = Self::rdma(bindings::ib_wr_opcode_IB_WR_RDMA_WRITE, remote);
        self.push(SendSlot::Rdma(wr), sges.iter().map(|s| s.sge))
    }

    /// RDMA WRITE_WITH_IMM: the write, then a receive completion at the
    /// peer carrying `imm` (it consumes one of the peer's receives).
    pub fn write_imm(&mut self, sges: &[Src<'b>], remote: Remote, imm: u32) -> Result {
        let mut wr = Self::rdma(bindings::ib_wr_opcode_IB_WR_RDMA_WRITE_WITH_IMM, remote);
        wr.wr.ex.imm_data = imm.to_be();
        self.push(SendSlot::Rdma(wr), sges.iter().map(|s| s.sge))
    }

    /// RDMA READ of the peer's memory into `dsts`.
    pub fn read(&mut self, dsts: impl IntoIterator<Item = Dst<'b>>, remote: Remote) -> Result {
        let wr = Self::rdma(bindings::ib_wr_opcode_IB_WR_RDMA_READ, remote);
        self.push(SendSlot::Rdma(wr), dsts.into_iter().map(|d| d.sge))
    }

    /// REG_MR: registers `mr` (which must map memory) with `access` under
    /// its current rkey. From posting on, `mr` counts as registered.
    pub fn reg_mr(&mut self, mr: &'b FrMr, access: MrAccess) -> Result {
        if !mr.has_memory() {
            return Err(EINVAL);
        }
        let index = self.len;
        let wr = bindings::ib_reg_wr {
            wr: Self::plain(bindings::ib_wr_opcode_IB_WR_REG_MR),
            mr: mr.as_raw(),
            key: mr.rkey(),
            access: access.bits(),
        };
        self.push(SendSlot::Reg(wr), [])?;
        self.registers[index] = Some(mr);
        Ok(())
    }

    /// LOCAL_INV of `mr`'s rkey; when the chain completes successfully,
    /// `mr` is invalid (its memory accessible again).
    pub fn local_inv(&mut self, mr: &'b FrMr) -> Result {
        let index = self.len;
        let mut wr = Self::plain(bindings::ib_wr_opcode_IB_WR_LOCAL_INV);
        wr.ex.invalidate_rkey = mr.rkey();
        self.push(SendSlot::Plain(wr), [])?;
        self.invalidates[index] = Some(mr);
        Ok(())
    }

    /// Links the requests for posting: the last one signalled with `cqe`,
    /// the others unsignalled with the shared chain-member entry. Records
    /// the LOCAL_INV targets in `invalidates`, marks REG_MR targets
    /// registered, and returns the first request (null if empty).
    ///
    /// The returned pointers stay valid while `self` is neither moved nor
    /// dropped.
    fn link(
        &mut self,
        cqe: *mut bindings::ib_cqe,
        invalidates: &mut [Option<NonNull<AtomicU8>>; MAX_CHAIN],
    ) -> *mut bindings::ib_send_wr {
        let count = self.len;
        let sges = self.sges.sges.as_mut_ptr();
        let mut next: *mut bindings::ib_send_wr = core::ptr::null_mut();
        for (index, (slot, start, sge_count)) in self.slots[..count].iter_mut().enumerate().rev() {
            let head = slot.head();
            head.next = next;
            if *sge_count > 0 {
                // SAFETY: `start + sge_count <= MAX_SGES` (checked by `push`).
                head.sg_list = unsafe { sges.add(*start) };
            }
            head.num_sge = *sge_count as i32;
            if index + 1 == count {
                head.__bindgen_anon_1.wr_cqe = cqe;
                head.send_flags = bindings::ib_send_flags_IB_SEND_SIGNALED as i32;
            } else {
                head.__bindgen_anon_1.wr_cqe = core::ptr::from_ref(&CHAIN_MEMBER_CQE.0).cast_mut();
            }
            next = head;
        }
        for (slot, mr) in invalidates.iter_mut().zip(self.invalidates.iter()) {
            *slot = mr.map(|mr| mr.state_ptr());
        }
        next
    }

    fn mark_registered(&self) {
        for mr in self.registers.iter().flatten() {
            mr.set_registered();
        }
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The scatter list of one receive, built from borrows of the context.
pub struct RecvSges<'b> {
    sges: SgeList,
    _borrow: PhantomData<&'b mut ()>,
}

impl<'b> RecvSges<'b> {
    /// Receives into `dst` (a receive may also have no segment, for
    /// completions that only carry immediate data).
    pub fn add(&mut self, dst: Dst<'b>) -> Result {
        self.sges.push([dst.sge]).map(|_| ())
    }
}

/// A failed post: the error, and the context back unless the device took
/// part of a chain (then the context stays with the QP for good, since
/// requests already posted may still use its memory; that needs a send
/// queue overrun, which drivers avoid by accounting their queue depth).
pub struct PostError<T> {
    pub error: Error,
    pub wr: Option<KBox<Wr<T>>>,
}

impl<T> From<PostError<T>> for Error {
    fn from(e: PostError<T>) -> Error {
        e.error
    }
}

/// Posts a send chain on `qp` (the caller holds a posting reference).
///
/// # Safety
///
/// `qp` is a live QP that stays live for the call.
pub(crate) unsafe fn post_send<T, F>(
    qp: *mut bindings::ib_qp,
    wr: KBox<Wr<T>>,
    build: F,
) -> Result<(), PostError<T>>
where
    T: Completion,
    F: for<'b> FnOnce(&'b mut T, &mut SendChain<'b>) -> Result,
{
    let wr = KBox::into_raw(wr);
    // SAFETY: We own the leaked box until it is posted or rebuilt.
    let give_back = move |error| PostError {
        error,
        wr: Some(unsafe { KBox::from_raw(wr) }),
    };
    let mut chain = SendChain::new();
    // SAFETY: `wr` is valid and exclusively ours; the borrow ends with
    // `chain` below, before the box is rebuilt or handed to the device.
    let built = build(unsafe { &mut (*wr).value }, &mut chain);
    if let Err(error) = built {
        drop(chain);
        return Err(give_back(error));
    }
    if chain.is_empty() {
        drop(chain);
        return Err(give_back(EINVAL));
    }
    // SAFETY: `wr` is valid; the fields are disjoint from `value`.
    let first = chain.link(unsafe { &mut (*wr).cqe }, unsafe { &mut (*wr).invalidates });
    chain.mark_registered();
    let mut bad: *const bindings::ib_send_wr = core::ptr::null();
    // SAFETY: `qp` is live (caller); the chain is valid for the call (the
    // device copies it); its memory is borrowed from the context, which
    // the device owns until the completion.
    let rc = unsafe { bindings::ib_post_send(qp, first, &mut bad) };
    drop(chain);
    if rc == 0 {
        return Ok(());
    }
    let error = Error::from_errno(rc);
    if bad.cast_mut() == first {
        // Nothing was posted: undo the bookkeeping and return the context.
        // SAFETY: Still ours.
        unsafe { (*wr).invalidates = [None; MAX_CHAIN] };
        return Err(give_back(error));
    }
    pr_err!("partial post of a work request chain ({rc}): context kept by the QP\n");
    Err(PostError { error, wr: None })
}

/// Posts a receive on `qp`.
///
/// # Safety
///
/// As for [`post_send`].
pub(crate) unsafe fn post_recv<T, F>(
    qp: *mut bindings::ib_qp,
    wr: KBox<Wr<T>>,
    build: F,
) -> Result<(), PostError<T>>
where
    T: Completion,
    F: for<'b> FnOnce(&'b mut T, &mut RecvSges<'b>) -> Result,
{
    let wr = KBox::into_raw(wr);
    // SAFETY: We own the leaked box until it is posted or rebuilt.
    let give_back = move |error| PostError {
        error,
        wr: Some(unsafe { KBox::from_raw(wr) }),
    };
    let mut sges = RecvSges {
        sges: SgeList::new(),
        _borrow: PhantomData,
    };
    // SAFETY: As in `post_send`.
    if let Err(error) = build(unsafe { &mut (*wr).value }, &mut sges) {
        return Err(give_back(error));
    }
    let count = sges.sges.len;
    let recv = bindings::ib_recv_wr {
        next: core::ptr::null_mut(),
        __bindgen_anon_1: bindings::ib_recv_wr__bindgen_ty_1 {
            // SAFETY: `wr` is valid.
            wr_cqe: unsafe { &mut (*wr).cqe },
        },
        sg_list: if count > 0 {
            sges.sges.sges.as_mut_ptr()
        } else {
            core::ptr::null_mut()
        },
        num_sge: count as i32,
    };
    let mut bad: *const bindings::ib_recv_wr = core::ptr::null();
    // SAFETY: As in `post_send`; a single request is posted or not.
    let rc = unsafe { bindings::ib_post_recv(qp, &recv, &mut bad) };
    if rc == 0 {
        return Ok(());
    }
    Err(give_back(Error::from_errno(rc)))
}
