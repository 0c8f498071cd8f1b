// SPDX-License-Identifier: GPL-2.0

//! Verbs objects: protection domains, completion queues and the queue pair
//! of an rdma_cm id (see `qp`), buffers (`buffer`), MRs (`mr`) and work
//! requests (`wr`).
//!
//! Lifetimes: a QP holds `Arc`s of its PD and CQs, so they are freed only
//! after it; the QP itself belongs to its id and is destroyed just before
//! the id (see `cm`), so no PD or CQ is ever freed while in use.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::kernel_ext::bindings;
use kernel::error::{from_err_ptr, Result};
use kernel::prelude::*;
use kernel::sync::Arc;

/// An RDMA device, borrowed from an id that is bound to it.
#[derive(Clone, Copy)]
pub struct DeviceRef<'a> {
    raw: NonNull<bindings::ib_device>,
    _lifetime: core::marker::PhantomData<&'a ()>,
}

impl<'a> DeviceRef<'a> {
    /// # Safety
    ///
    /// `raw` is a registered device that stays registered for `'a`.
    pub(crate) unsafe fn from_raw(raw: NonNull<bindings::ib_device>) -> Self {
        DeviceRef {
            raw,
            _lifetime: core::marker::PhantomData,
        }
    }

    /// The device name (`rxe0`, ...).
    pub fn name(&self) -> &'a kernel::str::CStr {
        // SAFETY: `name` is a NUL-terminated array of the device, which
        // stays registered for `'a`.
        unsafe { kernel::str::CStr::from_char_ptr((*self.raw.as_ptr()).name.as_ptr()) }
    }

    /// The largest work-request count of one queue (`attrs.max_qp_wr`).
    pub fn max_qp_wr(&self) -> u32 {
        // SAFETY: Plain read of the live device's attributes.
        unsafe { (*self.raw.as_ptr()).attrs.max_qp_wr as u32 }
    }

    /// The largest completion queue (`attrs.max_cqe`).
    pub fn max_cqe(&self) -> u32 {
        // SAFETY: Plain read of the live device's attributes.
        unsafe { (*self.raw.as_ptr()).attrs.max_cqe as u32 }
    }

    /// How many completion vectors the device has.
    pub fn num_comp_vectors(&self) -> u32 {
        // SAFETY: Plain read of the live device.
        unsafe { (*self.raw.as_ptr()).num_comp_vectors as u32 }
    }
}

/// A protection domain.
///
/// # Invariants
///
/// `raw` was allocated by `__ib_alloc_pd` and is freed on drop.
pub struct ProtectionDomain {
    raw: NonNull<bindings::ib_pd>,
}

// SAFETY: PDs are used through the verbs core, which is thread-safe.
unsafe impl Send for ProtectionDomain {}
// SAFETY: As above.
unsafe impl Sync for ProtectionDomain {}

impl ProtectionDomain {
    pub fn new(device: DeviceRef<'_>) -> Result<Arc<Self>> {
        // SAFETY: The device is live; the caller name is our module's, as
        // the `ib_alloc_pd` macro would pass.
        let pd = unsafe {
            bindings::__ib_alloc_pd(device.raw.as_ptr(), 0, crate::__LOG_PREFIX.as_ptr().cast())
        };
        let pd = from_err_ptr(pd)?;
        Ok(Arc::new(
            ProtectionDomain {
                // SAFETY: Not an error pointer, hence non-null.
                raw: unsafe { NonNull::new_unchecked(pd) },
            },
            GFP_KERNEL,
        )?)
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::ib_pd {
        self.raw.as_ptr()
    }

    /// The device the PD belongs to (live while the PD is).
    pub(crate) fn device_raw(&self) -> *mut bindings::ib_device {
        // SAFETY: Plain read of the live PD.
        unsafe { (*self.raw.as_ptr()).device }
    }

    /// The lkey covering all local memory for DMA-mapped buffers.
    pub fn local_dma_lkey(&self) -> u32 {
        // SAFETY: Plain read of the live PD.
        unsafe { (*self.raw.as_ptr()).local_dma_lkey }
    }
}

impl Drop for ProtectionDomain {
    fn drop(&mut self) {
        // SAFETY: Allocated by us; its users (QPs, MRs) hold Arcs of it and
        // are gone.
        unsafe { bindings::ib_dealloc_pd_user(self.raw.as_ptr(), core::ptr::null_mut()) };
    }
}

/// A completion queue: completions are delivered to each work request's
/// own callback, in softirq ([`CompletionQueue::new`]), in a workqueue
/// ([`CompletionQueue::new_in_workqueue`]) or by whoever calls
/// [`CompletionQueue::poll`] ([`CompletionQueue::new_direct`]).
///
/// # Invariants
///
/// `raw` was allocated by `__ib_alloc_cq` with poll context `poll_ctx`
/// and is freed on drop.
pub struct CompletionQueue {
    raw: NonNull<bindings::ib_cq>,
    poll_ctx: bindings::ib_poll_context,
    /// Direct CQs: odd while a [`CompletionQueue::poll`] runs (one at a
    /// time), bumped by 2 per poll, so that a QP's teardown can wait for
    /// a poller that took completions off the CQ but has not run their
    /// callbacks yet ([`CompletionQueue::wait_for_poller`]).
    poll_seq: AtomicU32,
}

// SAFETY: CQs are used through the verbs core, which is thread-safe.
unsafe impl Send for CompletionQueue {}
// SAFETY: As above.
unsafe impl Sync for CompletionQueue {}

impl CompletionQueue {
    /// A CQ whose completions run in softirq (`IB_POLL_SOFTIRQ`).
    pub fn new(device: DeviceRef<'_>, entries: u32, comp_vector: u32) -> Result<Arc<Self>> {
        Self::alloc(
            device,
            entries,
            comp_vector,
            bindings::ib_poll_context_IB_POLL_SOFTIRQ,
        )
    }

    /// A CQ whose completions run in process context, on the verbs
    /// core's `ib-comp-wq` (`IB_POLL_WORKQUEUE`): they may sleep briefly
    /// (allocate, submit bios, drop MRs), as the RTRS server needs.
    pub fn new_in_workqueue(
        device: DeviceRef<'_>,
        entries: u32,
        comp_vector: u32,
    ) -> Result<Arc<Self>> {
        Self::alloc(
            device,
            entries,
            comp_vector,
            bindings::ib_poll_context_IB_POLL_WORKQUEUE,
        )
    }

    /// A CQ nobody polls but its user (`IB_POLL_DIRECT`): completions
    /// run only inside [`CompletionQueue::poll`] (and inside the drain of
    /// a QP using it, see `QueuePair::close`), so the work request
    /// callbacks of its QPs must be fine in process context, and someone
    /// must poll while requests are outstanding.
    pub fn new_direct(device: DeviceRef<'_>, entries: u32, comp_vector: u32) -> Result<Arc<Self>> {
        Self::alloc(
            device,
            entries,
            comp_vector,
            bindings::ib_poll_context_IB_POLL_DIRECT,
        )
    }

    /// Whether this is a [`CompletionQueue::new_direct`] CQ.
    pub fn is_direct(&self) -> bool {
        self.poll_ctx == bindings::ib_poll_context_IB_POLL_DIRECT
    }

    /// Processes up to `budget` completions now (`None`: all there are),
    /// running their callbacks in the caller's context
    /// (`ib_process_cq_direct`); returns how many were processed. Only
    /// for direct CQs (0 for others, whose completions run elsewhere).
    /// Process or softirq context, not hard interrupts. One poller at a
    /// time: a call while another polls the CQ returns 0 at once.
    pub fn poll(&self, budget: Option<u32>) -> u32 {
        if !self.is_direct() {
            return 0;
        }
        let seq = self.poll_seq.load(Ordering::Acquire);
        if seq & 1 != 0
            || self
                .poll_seq
                .compare_exchange(
                    seq,
                    seq.wrapping_add(1),
                    Ordering::Acquire,
                    Ordering::Relaxed,
                )
                .is_err()
        {
            return 0;
        }
        let budget = match budget {
            Some(b) => i32::try_from(b).unwrap_or(i32::MAX),
            None => -1,
        };
        // SAFETY: The CQ is live (type invariant) and `IB_POLL_DIRECT`,
        // the only kind `ib_process_cq_direct` may process; its work
        // request callbacks are written for any non-hardirq context.
        let n = unsafe { bindings::ib_process_cq_direct(self.raw.as_ptr(), budget) };
        self.poll_seq.store(seq.wrapping_add(2), Ordering::Release);
        n.max(0) as u32
    }

    /// Waits until the [`CompletionQueue::poll`] running now, if any,
    /// has returned (later ones are not waited for). After a QP's drain
    /// every completion of it has been taken off the CQ, but a poller may
    /// still hold some it has not delivered yet. Process context.
    pub(crate) fn wait_for_poller(&self) {
        let seq = self.poll_seq.load(Ordering::Acquire);
        if seq & 1 == 0 {
            return;
        }
        while self.poll_seq.load(Ordering::Acquire) == seq {
            crate::kernel_ext::delay::msleep(1);
        }
    }

    fn alloc(
        device: DeviceRef<'_>,
        entries: u32,
        comp_vector: u32,
        poll: bindings::ib_poll_context,
    ) -> Result<Arc<Self>> {
        // SAFETY: The device is live; no private data; our module name.
        let cq = unsafe {
            bindings::__ib_alloc_cq(
                device.raw.as_ptr(),
                core::ptr::null_mut(),
                entries as _,
                comp_vector as _,
                poll,
                crate::__LOG_PREFIX.as_ptr().cast(),
            )
        };
        let cq = from_err_ptr(cq)?;
        Ok(Arc::new(
            CompletionQueue {
                // SAFETY: Not an error pointer, hence non-null.
                raw: unsafe { NonNull::new_unchecked(cq) },
                poll_ctx: poll,
                poll_seq: AtomicU32::new(0),
            },
            GFP_KERNEL,
        )?)
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::ib_cq {
        self.raw.as_ptr()
    }
}

impl Drop for CompletionQueue {
    fn drop(&mut self) {
        // SAFETY: Allocated by us; QPs using it hold Arcs and are gone.
        unsafe { bindings::ib_free_cq(self.raw.as_ptr()) };
    }
}

/// Sizes of a QP's queues.
#[derive(Clone, Copy)]
pub struct QpCaps {
    pub max_send_wr: u32,
    pub max_recv_wr: u32,
    pub max_send_sge: u32,
    pub max_recv_sge: u32,
}

/// Fills a `struct ib_qp_init_attr` for an RC QP.
pub(crate) fn qp_init_attr(
    send_cq: &CompletionQueue,
    recv_cq: &CompletionQueue,
    caps: QpCaps,
) -> bindings::ib_qp_init_attr {
    let mut attr = bindings::ib_qp_init_attr::default();
    attr.send_cq = send_cq.as_raw();
    attr.recv_cq = recv_cq.as_raw();
    attr.cap.max_send_wr = caps.max_send_wr;
    attr.cap.max_recv_wr = caps.max_recv_wr;
    attr.cap.max_send_sge = caps.max_send_sge;
    attr.cap.max_recv_sge = caps.max_recv_sge;
    attr.sq_sig_type = bindings::ib_sig_type_IB_SIGNAL_REQ_WR;
    attr.qp_type = bindings::ib_qp_type_IB_QPT_RC;
    attr
}
