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
use core::sync::atomic::{AtomicPtr, AtomicU8, Ordering};

use crate::kernel_ext::bindings;
use kernel::alloc::{Flags, KVVec};
use kernel::prelude::*;

use super::buffer::DmaBuffer;
use super::mr::{FrMr, MrAccess};
use crate::kernel_ext::sync::{new_spinlock_bh, SpinLockBh};

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
/// `head.cqe` is the first field (a completion's `wr_cqe` is the `Wr`'s
/// address) and its `done` is `done::<T>`; `invalidates` lists the states
/// of MRs borrowed from `value` that a LOCAL_INV in the posted chain
/// invalidates, and is empty when not posted.
#[repr(C)]
pub struct Wr<T> {
    head: WrHead,
    invalidates: [Option<NonNull<AtomicU8>>; MAX_CHAIN],
    value: T,
}

/// The type-independent start of every context: the completion entry and,
/// while a posted send sits in its QP's send ring, that ring and the
/// context's place in it (see [`SendRing`]).
#[repr(C)]
pub(crate) struct WrHead {
    cqe: bindings::ib_cqe,
    /// The ring while the context is in it (set by the post, cleared by
    /// whoever takes the context out); null for receives and contexts not
    /// posted.
    ring: AtomicPtr<SendRing>,
    /// The context's sequence number in the ring.
    seq: u64,
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
                head: WrHead {
                    cqe: bindings::ib_cqe {
                        done: Some(done::<T>),
                    },
                    ring: AtomicPtr::new(core::ptr::null_mut()),
                    seq: 0,
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
/// `Wr<T>` leaked from a `KBox` by `post_send`/`post_recv`, or by a
/// [`SendRing`] releasing such a context (with a completion it made).
unsafe extern "C" fn done<T: Completion>(cq: *mut bindings::ib_cq, wc: *mut bindings::ib_wc) {
    // SAFETY: The completion is valid for the call.
    let raw_wc = unsafe { &*wc };
    // SAFETY: `wr_cqe` is the first field of a leaked `Wr<T>` (contract).
    let head = unsafe { raw_wc.__bindgen_anon_1.wr_cqe.cast::<WrHead>() };
    // SAFETY: `head` is live until whoever takes the context rebuilds it.
    let ring = unsafe { (*head).ring.load(Ordering::Acquire) };
    if !ring.is_null() {
        // A send in its QP's ring: the contexts posted before it are done
        // too (send completions come in posting order); release them
        // first, then take ours out. If a concurrent release already took
        // ours (only possible while a direct CQ is drained and polled at
        // once), that release completed it.
        // SAFETY: A ring outlives the contexts in it (`SendRing`).
        // SAFETY: `head` is live (above); its `seq` was set by the post.
        let seq = unsafe { (*head).seq };
        if !unsafe { (*ring).release_through(head, seq, cq, raw_wc) } {
            return;
        }
    }
    let wc = WorkCompletion { raw: raw_wc };
    // SAFETY: Per the contract, `head` is the start of a leaked
    // `KBox<Wr<T>>`, and this is the only completion that takes it (the
    // ring gave it to us, or it never was in one).
    let mut wr = unsafe { KBox::from_raw(head.cast::<Wr<T>>()) };
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

/// `vendor_err` of the completions a send ring makes up for the contexts
/// it hands back (the device sets it only on errors of its own).
const HANDED_BACK: u32 = 0x5249_4e47;

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

    /// Whether the send ring made this completion up: the send was
    /// unsignalled and came back with a later one (or at close).
    pub fn is_handed_back(&self) -> bool {
        self.raw.vendor_err == HANDED_BACK && self.raw.opcode == bindings::ib_wc_opcode_IB_WC_SEND
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

    /// Links the requests for posting: the last one with `cqe` (signalled
    /// if `signalled`), the others unsignalled with the shared chain-member
    /// entry. Records
    /// the LOCAL_INV targets in `invalidates`, marks REG_MR targets
    /// registered, and returns the first request (null if empty).
    ///
    /// The returned pointers stay valid while `self` is neither moved nor
    /// dropped.
    fn link(
        &mut self,
        cqe: *mut bindings::ib_cqe,
        signalled: bool,
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
                head.send_flags = if signalled {
                    bindings::ib_send_flags_IB_SEND_SIGNALED as i32
                } else {
                    0
                };
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

/// When a send is signalled.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// Always: its context comes back with its own completion.
    Always,
    /// As the ring's interval decides (see [`SendRing`]).
    Batched,
}

/// Posts a send chain on the ring's QP (the caller holds a posting
/// reference).
///
/// # Safety
///
/// The ring's QP is live for the call.
pub(crate) unsafe fn post_send<T, F>(
    ring: &SendRing,
    wr: KBox<Wr<T>>,
    signal: Signal,
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
    // SAFETY: `wr` is valid; `head` starts it.
    let head = unsafe { NonNull::new_unchecked(core::ptr::addr_of_mut!((*wr).head)) };
    // The ring's lock is held across `ib_post_send`, so the ring's order
    // is the send queue's.
    let mut state = ring.state.lock();
    let Some(signalled) = state.admit(signal) else {
        drop(state);
        drop(chain);
        return Err(give_back(EAGAIN));
    };
    let seq = state.push(head, EntryKind::Context, signalled);
    // SAFETY: `wr` is ours; the ring pointer is set before the device can
    // complete the request (it is posted below), and the ring outlives it.
    unsafe {
        (*wr).head.seq = seq;
        (*wr)
            .head
            .ring
            .store(core::ptr::from_ref(ring).cast_mut(), Ordering::Release);
    }
    // SAFETY: `wr` is valid; the fields are disjoint from `value`.
    let first = chain.link(unsafe { &mut (*wr).head.cqe }, signalled, unsafe {
        &mut (*wr).invalidates
    });
    chain.mark_registered();
    let mut bad: *const bindings::ib_send_wr = core::ptr::null();
    // SAFETY: The QP is live (caller); the chain is valid for the call (the
    // device copies it); its memory is borrowed from the context, which
    // the device owns until the completion (or the ring's release).
    let rc = unsafe { bindings::ib_post_send(ring.qp.as_ptr(), first, &mut bad) };
    drop(chain);
    if rc == 0 {
        return Ok(());
    }
    let error = Error::from_errno(rc);
    if bad.cast_mut() == first {
        // Nothing was posted: take it out of the ring again (nobody else
        // pushed: we hold the lock), undo the bookkeeping, give it back.
        state.pop_back(signalled);
        drop(state);
        // SAFETY: Still ours.
        unsafe {
            (*wr)
                .head
                .ring
                .store(core::ptr::null_mut(), Ordering::Release);
            (*wr).invalidates = [None; MAX_CHAIN];
        }
        return Err(give_back(error));
    }
    // Part of the chain is posted, its last request (the context's) not:
    // the ring keeps the context and hands it back flushed once the
    // requests before it are done (at the latest when the QP is closed).
    state.mark_back_partial();
    drop(state);
    pr_err!("partial post of a work request chain ({rc}): context kept by the send ring\n");
    Err(PostError { error, wr: None })
}

/// What a ring entry is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum EntryKind {
    /// A driver context (a leaked `Wr<T>`).
    Context,
    /// A context whose chain was only partly posted: it gets no completion
    /// of its own and is handed back as flushed.
    Partial,
    /// The ring's own fence (a signalled empty RDMA WRITE, see
    /// [`SendRing::kick`]).
    Fence,
}

#[derive(Clone, Copy)]
struct Entry {
    head: NonNull<WrHead>,
    seq: u64,
    kind: EntryKind,
}

/// The ring's state, under its lock.
struct RingState {
    /// Circular buffer of the contexts posted and not yet handed back, in
    /// posting order.
    entries: KVVec<Option<Entry>>,
    front: usize,
    len: usize,
    /// The sequence number of the next entry.
    next_seq: u64,
    /// Batched sends posted since the last signalled one.
    since_signal: u32,
    /// Signal a batched send at least every `interval` posts.
    interval: u32,
    /// Whether the newest entry is signalled (or a fence), so that every
    /// entry in the ring has a signalled one at or after it.
    tail_signalled: bool,
    fence_busy: bool,
    /// A kick came while the fence was posted and sends followed it: the
    /// fence's completion posts it again.
    kick_pending: bool,
    /// Cleared by the QP's close before it drains: no fence after that.
    open: bool,
    /// The fence's sequence number while it is posted.
    fence_seq: u64,
}

impl RingState {
    fn capacity(&self) -> usize {
        self.entries.len()
    }

    /// The slot `offset` entries after the oldest (no panic path: the
    /// capacity is never zero, see `SendRing::new`).
    fn slot(&mut self, offset: usize) -> Option<&mut Option<Entry>> {
        let at = self
            .front
            .wrapping_add(offset)
            .checked_rem(self.capacity())?;
        self.entries.get_mut(at)
    }

    /// Whether a send may go in, and signalled or not.
    fn admit(&mut self, signal: Signal) -> Option<bool> {
        if self.len >= self.capacity() {
            return None;
        }
        // Signal when the interval is up, when the ring is nearly full (so
        // it always empties), and when nothing else is outstanding (a lone
        // send would otherwise wait for a later one or a fence).
        let signalled = signal == Signal::Always
            || self.len == 0
            || self.since_signal.saturating_add(1) >= self.interval
            || self.len + 1 >= self.capacity() / 2;
        Some(signalled)
    }

    fn push(&mut self, head: NonNull<WrHead>, kind: EntryKind, signalled: bool) -> u64 {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let len = self.len;
        if let Some(slot) = self.slot(len) {
            *slot = Some(Entry { head, seq, kind });
        }
        self.len += 1;
        if signalled {
            self.since_signal = 0;
        } else {
            self.since_signal = self.since_signal.saturating_add(1);
        }
        self.tail_signalled = signalled;
        seq
    }

    /// Undoes the last `push` (its post failed; the lock was held).
    fn pop_back(&mut self, signalled: bool) {
        self.len = self.len.saturating_sub(1);
        let len = self.len;
        if let Some(slot) = self.slot(len) {
            *slot = None;
        }
        self.next_seq = self.next_seq.wrapping_sub(1);
        if !signalled {
            self.since_signal = self.since_signal.saturating_sub(1);
        }
        // Conservative: a kick re-checks.
        self.tail_signalled = false;
    }

    fn mark_back_partial(&mut self) {
        let last = self.len.saturating_sub(1);
        if let Some(Some(entry)) = self.slot(last) {
            entry.kind = EntryKind::Partial;
        }
        self.tail_signalled = false;
    }

    fn pop_front(&mut self) -> Option<Entry> {
        if self.len == 0 {
            return None;
        }
        let entry = self.slot(0).and_then(|slot| slot.take());
        self.front = self
            .front
            .wrapping_add(1)
            .checked_rem(self.capacity())
            .unwrap_or(0);
        self.len -= 1;
        if self.len == 0 {
            self.tail_signalled = true;
        }
        entry
    }

    fn front_seq(&self) -> u64 {
        self.next_seq.wrapping_sub(self.len as u64)
    }
}

/// The send ring of a QP: every send context posted on it, in posting
/// order, until it is handed back.
///
/// Sends posted [`Signal::Batched`] are mostly unsignalled: the device
/// reports them only if they fail (or are flushed). Send completions of a
/// QP come in posting order, so a signalled send's completion proves that
/// every send posted before it is done; its arrival hands back, oldest
/// first, every context before it (as successful), then its own. An error
/// or flush completion of any send (signalled or not: the device reports
/// every failed one) does the same, with its own status for itself. When
/// the QP is closed, after `ib_drain_qp`, whatever is left (done, with no
/// completion to tell) is handed back as successful, a partly posted
/// chain's context as flushed. So every context comes back exactly once,
/// in posting order, and none after the QP is gone.
///
/// # Invariants
///
/// `qp` is the live QP whose sends go through `state` (held across
/// `ib_post_send`, so the ring order is the send queue's order); each
/// entry points at the head of a leaked `KBox<Wr<_>>` (or at `fence`) whose
/// `ring` is this ring, until popped; the ring outlives its entries (the QP
/// is closed, and the ring emptied, before it is dropped).
#[pin_data]
pub(crate) struct SendRing {
    qp: NonNull<bindings::ib_qp>,
    #[pin]
    state: SpinLockBh<RingState>,
    /// The fence's completion entry (`kick`); only its address is used.
    fence: WrHead,
}

// SAFETY: The QP pointer is only used to post, which is thread-safe; the
// state is locked; `fence` is written only at creation.
unsafe impl Send for SendRing {}
// SAFETY: As above.
unsafe impl Sync for SendRing {}

impl SendRing {
    /// A ring for `qp` with room for `capacity` contexts (at least twice
    /// the send queue, so that the sends in the queue and those done since
    /// the last signalled one always fit).
    pub(crate) fn new(
        qp: NonNull<bindings::ib_qp>,
        capacity: usize,
        interval: u32,
    ) -> Result<Pin<KBox<Self>>> {
        let capacity = capacity.max(4);
        let mut entries = KVVec::with_capacity(capacity, GFP_KERNEL)?;
        for _ in 0..capacity {
            entries.push(None, GFP_KERNEL)?;
        }
        let ring = KBox::pin_init(
            pin_init!(SendRing {
                qp,
                state <- new_spinlock_bh!(
                    RingState {
                        entries,
                        front: 0,
                        len: 0,
                        next_seq: 1,
                        since_signal: 0,
                        interval: interval.max(1),
                        tail_signalled: true,
                        fence_busy: false,
                        kick_pending: false,
                        open: true,
                        fence_seq: 0,
                    },
                    "SendRing::state"
                ),
                fence: WrHead {
                    cqe: bindings::ib_cqe {
                        done: Some(fence_done),
                    },
                    ring: AtomicPtr::new(core::ptr::null_mut()),
                    seq: 0,
                },
            }),
            GFP_KERNEL,
        )?;
        // The fence's ring pointer is constant: its own ring.
        let this: *const SendRing = &*ring;
        ring.fence.ring.store(this.cast_mut(), Ordering::Release);
        Ok(ring)
    }

    /// Sets the signalling interval of batched sends (at least 1; at most
    /// half the ring).
    pub(crate) fn set_interval(&self, interval: u32) {
        let mut state = self.state.lock();
        let most = (state.capacity() / 2).max(1) as u32;
        state.interval = interval.clamp(1, most);
    }

    /// Contexts posted and not yet handed back.
    pub(crate) fn outstanding(&self) -> usize {
        self.state.lock().len
    }

    /// Makes sure every context in the ring will come back: if the newest
    /// send is unsignalled, posts a signalled empty RDMA WRITE (the fence)
    /// behind it. A zero-length RDMA WRITE needs no rkey (IBTA C9-88) and
    /// gives the peer no completion. The caller holds a posting reference.
    ///
    /// # Safety
    ///
    /// The QP is live for the call.
    pub(crate) unsafe fn kick(&self) -> Result {
        let mut state = self.state.lock();
        if state.len == 0 || state.tail_signalled || !state.open {
            return Ok(());
        }
        if state.fence_busy {
            // The fence is before the newest send: post it again behind
            // them once it is back.
            state.kick_pending = true;
            return Ok(());
        }
        // SAFETY: The QP is live (caller).
        unsafe { self.post_fence(&mut state) }
    }

    /// Posts the fence behind the newest send (the ring's lock held, the
    /// fence not posted).
    ///
    /// # Safety
    ///
    /// The QP is live for the call.
    unsafe fn post_fence(&self, state: &mut RingState) -> Result {
        if state.len >= state.capacity() {
            return Err(EAGAIN);
        }
        let head = NonNull::from(&self.fence);
        state.fence_seq = state.push(head, EntryKind::Fence, true);
        state.fence_busy = true;
        let mut wr = bindings::ib_rdma_wr {
            wr: bindings::ib_send_wr {
                opcode: bindings::ib_wr_opcode_IB_WR_RDMA_WRITE,
                send_flags: bindings::ib_send_flags_IB_SEND_SIGNALED as i32,
                ..Default::default()
            },
            remote_addr: 0,
            rkey: 0,
        };
        wr.wr.__bindgen_anon_1.wr_cqe = core::ptr::from_ref(&self.fence.cqe).cast_mut();
        let mut bad: *const bindings::ib_send_wr = core::ptr::null();
        // SAFETY: The QP is live (caller); the request is valid for the
        // call and has no memory.
        let rc = unsafe { bindings::ib_post_send(self.qp.as_ptr(), &wr.wr, &mut bad) };
        if rc != 0 {
            state.pop_back(true);
            state.fence_busy = false;
            return Err(Error::from_errno(rc));
        }
        Ok(())
    }

    /// No fence is posted from now on (the QP's close, before draining:
    /// a fence posted behind the drain's request would complete after
    /// the close).
    pub(crate) fn shut(&self) {
        let mut state = self.state.lock();
        state.open = false;
        state.kick_pending = false;
    }

    /// Hands back, oldest first, every entry before `me` (done: a later
    /// send completed), then takes `me` out. Returns false if `me` was no
    /// longer in the ring (a concurrent release handed it back already).
    ///
    /// # Safety
    ///
    /// `me` is the head of an entry pushed into this ring; called from a
    /// completion of this ring's QP with `cq` and `wc` of that completion.
    unsafe fn release_through(
        &self,
        me: *mut WrHead,
        my_seq: u64,
        cq: *mut bindings::ib_cq,
        wc: &bindings::ib_wc,
    ) -> bool {
        loop {
            let entry = {
                let mut state = self.state.lock();
                if state.len == 0 || state.front_seq() > my_seq {
                    return false;
                }
                state.pop_front()
            };
            let Some(entry) = entry else {
                return false;
            };
            if entry.seq == my_seq {
                // SAFETY: `me` is live; it is ours now.
                unsafe { (*me).ring.store(core::ptr::null_mut(), Ordering::Release) };
                return true;
            }
            // SAFETY: A popped entry is ours to hand back; `wc.qp` is its QP.
            unsafe { self.hand_back(entry, cq, wc.qp, bindings::ib_wc_status_IB_WC_SUCCESS) };
        }
    }

    /// Hands a popped entry back to its driver with a completion made up
    /// for it (`status`; `Partial` entries always as flushed).
    ///
    /// # Safety
    ///
    /// `entry` was popped from this ring (so it is ours alone).
    unsafe fn hand_back(
        &self,
        entry: Entry,
        cq: *mut bindings::ib_cq,
        qp: *mut bindings::ib_qp,
        status: u32,
    ) {
        match entry.kind {
            EntryKind::Fence => {
                self.state.lock().fence_busy = false;
            }
            EntryKind::Context | EntryKind::Partial => {
                let status = if entry.kind == EntryKind::Partial {
                    bindings::ib_wc_status_IB_WC_WR_FLUSH_ERR
                } else {
                    status
                };
                let head = entry.head.as_ptr();
                // SAFETY: The entry's head is live (a leaked context) and
                // out of the ring: no completion of its own is still to
                // come (one that is would be before the completion that
                // released it, and completions come in posting order).
                unsafe { (*head).ring.store(core::ptr::null_mut(), Ordering::Release) };
                let mut wc = bindings::ib_wc::default();
                // SAFETY: As above; only the address is taken.
                wc.__bindgen_anon_1.wr_cqe = unsafe { core::ptr::addr_of_mut!((*head).cqe) };
                wc.status = status;
                wc.opcode = bindings::ib_wc_opcode_IB_WC_SEND;
                wc.qp = qp;
                wc.vendor_err = HANDED_BACK;
                // SAFETY: The head's `done` is `done::<T>` of its context
                // type, which takes the context back from this completion.
                if let Some(done) = unsafe { (*head).cqe.done } {
                    // SAFETY: As above; `wc` is valid for the call.
                    unsafe { done(cq, &mut wc) };
                }
            }
        }
    }

    /// After the QP is drained (no completion of it is still to come):
    /// hands back whatever is left. Process context.
    ///
    /// # Safety
    ///
    /// The QP is drained and takes no more posts.
    pub(crate) unsafe fn release_all(&self, cq: *mut bindings::ib_cq) {
        loop {
            let entry = self.state.lock().pop_front();
            let Some(entry) = entry else {
                return;
            };
            // SAFETY: Popped; the QP is drained (caller).
            unsafe {
                self.hand_back(
                    entry,
                    cq,
                    self.qp.as_ptr(),
                    bindings::ib_wc_status_IB_WC_SUCCESS,
                )
            };
        }
    }
}

/// The completion entry of a ring's fence.
///
/// # Safety
///
/// Called by the CQ for a fence posted by [`SendRing::kick`].
unsafe extern "C" fn fence_done(cq: *mut bindings::ib_cq, wc: *mut bindings::ib_wc) {
    // SAFETY: The completion is valid for the call.
    let raw_wc = unsafe { &*wc };
    // SAFETY: `wr_cqe` is the fence head of a live ring.
    let head = unsafe { raw_wc.__bindgen_anon_1.wr_cqe.cast::<WrHead>() };
    // SAFETY: The fence's ring pointer is constant and the ring live.
    let ring = unsafe { &*(*head).ring.load(Ordering::Acquire) };
    let seq = ring.state.lock().fence_seq;
    // SAFETY: The fence is in the ring (posted by `kick`).
    if unsafe { ring.release_through(head, seq, cq, raw_wc) } {
        // The fence's head keeps its ring pointer (`release_through`
        // cleared it): restore it before it can be posted again.
        ring.fence
            .ring
            .store(core::ptr::from_ref(ring).cast_mut(), Ordering::Release);
        let mut state = ring.state.lock();
        state.fence_busy = false;
        let again = core::mem::take(&mut state.kick_pending);
        if again
            && state.open
            && state.len > 0
            && !state.tail_signalled
            && raw_wc.status == bindings::ib_wc_status_IB_WC_SUCCESS
        {
            // SAFETY: The ring is open, so the QP's close has not begun
            // its drain (it shuts the ring first, under this lock): the
            // QP is live and this fence lands before the drain's request.
            if unsafe { ring.post_fence(&mut state) }.is_err() {
                pr_debug!("send ring: fence not posted again\n");
            }
        }
    }
    if raw_wc.status != bindings::ib_wc_status_IB_WC_SUCCESS
        && raw_wc.status != bindings::ib_wc_status_IB_WC_WR_FLUSH_ERR
    {
        pr_debug!(
            "send ring fence failed: {}\n",
            wc_status_text(raw_wc.status)
        );
    }
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
            wr_cqe: unsafe { &mut (*wr).head.cqe },
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
