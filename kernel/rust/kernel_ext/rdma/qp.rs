// SPDX-License-Identifier: GPL-2.0

//! The queue pair of an rdma_cm id, and posting work requests on it.
//!
//! # Teardown
//!
//! The QP belongs to its id, which destroys it right before itself
//! (`cm`). Drivers post through an `Arc<QueuePair>` that may outlive
//! that: each post holds a posting reference, and [`QueuePair::close`]
//! (called by the id's teardown) first refuses new posts (`ENOTCONN`),
//! waits for the posts in progress, then drains the QP (`ib_drain_qp`:
//! error state, every outstanding request flushed and its completion
//! delivered), so every context is back with its driver before the QP is
//! destroyed.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, Ordering};

use kernel::bindings;
use kernel::prelude::*;
use kernel::sync::Arc;

use super::verbs::{CompletionQueue, ProtectionDomain};
use super::wr::{self, Completion, PostError, RecvSges, SendChain, Wr};
use crate::kernel_ext::errno::ENOTCONN;

/// Set in `users` once the QP refuses posts.
const CLOSED: u32 = 1 << 31;

/// An RC queue pair created on an id (`rdma_create_qp`).
///
/// # Invariants
///
/// `raw` is live until `close` has set `CLOSED` and the owning id destroys
/// it; `users` counts posts in progress (low bits) and carries `CLOSED`.
/// The PD and CQs outlive the QP (held here).
pub struct QueuePair {
    raw: NonNull<bindings::ib_qp>,
    num: u32,
    users: AtomicU32,
    pd: Arc<ProtectionDomain>,
    _send_cq: Arc<CompletionQueue>,
    _recv_cq: Arc<CompletionQueue>,
}

// SAFETY: Posting is thread-safe in the verbs core; `users` is atomic.
unsafe impl Send for QueuePair {}
// SAFETY: As above.
unsafe impl Sync for QueuePair {}

/// A posting reference: the QP is not destroyed while it exists.
struct PostGuard<'a>(&'a QueuePair);

impl Drop for PostGuard<'_> {
    fn drop(&mut self) {
        self.0.users.fetch_sub(1, Ordering::Release);
    }
}

impl QueuePair {
    /// # Safety
    ///
    /// `raw` is a live QP created on `pd` with these CQs, destroyed only
    /// after `close` returned.
    pub(crate) unsafe fn new(
        raw: NonNull<bindings::ib_qp>,
        pd: Arc<ProtectionDomain>,
        send_cq: Arc<CompletionQueue>,
        recv_cq: Arc<CompletionQueue>,
    ) -> Self {
        QueuePair {
            raw,
            // SAFETY: Live per the contract.
            num: unsafe { (*raw.as_ptr()).qp_num },
            users: AtomicU32::new(0),
            pd,
            _send_cq: send_cq,
            _recv_cq: recv_cq,
        }
    }

    pub fn pd(&self) -> &Arc<ProtectionDomain> {
        &self.pd
    }

    /// The CQ of the send queue (for [`CompletionQueue::poll`] of a
    /// direct CQ).
    pub fn send_cq(&self) -> &Arc<CompletionQueue> {
        &self._send_cq
    }

    /// The CQ of the receive queue.
    pub fn recv_cq(&self) -> &Arc<CompletionQueue> {
        &self._recv_cq
    }

    /// The QP number.
    pub fn num(&self) -> u32 {
        self.num
    }

    fn enter(&self) -> Option<PostGuard<'_>> {
        if self.users.fetch_add(1, Ordering::Acquire) & CLOSED != 0 {
            self.users.fetch_sub(1, Ordering::Release);
            return None;
        }
        Some(PostGuard(self))
    }

    /// Posts a chain of send requests built by `build` from the context's
    /// own fields; the context comes back in [`Completion::complete`] when
    /// the chain completes, or in the error. `ENOTCONN` once the QP is
    /// closed. Callable from any context but hard interrupts.
    pub fn post_send<T, F>(&self, wr: KBox<Wr<T>>, build: F) -> Result<(), PostError<T>>
    where
        T: Completion,
        F: for<'b> FnOnce(&'b mut T, &mut SendChain<'b>) -> Result,
    {
        let Some(_guard) = self.enter() else {
            return Err(PostError {
                error: ENOTCONN(),
                wr: Some(wr),
            });
        };
        // SAFETY: The posting reference keeps the QP live for the call.
        unsafe { wr::post_send(self.raw.as_ptr(), wr, build) }
    }

    /// Posts a receive into the segments `build` adds from the context.
    pub fn post_recv<T, F>(&self, wr: KBox<Wr<T>>, build: F) -> Result<(), PostError<T>>
    where
        T: Completion,
        F: for<'b> FnOnce(&'b mut T, &mut RecvSges<'b>) -> Result,
    {
        let Some(_guard) = self.enter() else {
            return Err(PostError {
                error: ENOTCONN(),
                wr: Some(wr),
            });
        };
        // SAFETY: The posting reference keeps the QP live for the call.
        unsafe { wr::post_recv(self.raw.as_ptr(), wr, build) }
    }

    /// Whether posts are refused (the id is being torn down).
    pub fn is_closed(&self) -> bool {
        self.users.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Refuses new posts, waits for those in progress, and drains the QP
    /// so that every posted context has completed (for a direct CQ, also
    /// waits for a poller still delivering completions). Process context only,
    /// and not inside a completion of this QP (with a workqueue CQ that
    /// would wait for itself).
    pub(crate) fn close(&self) {
        if self.users.fetch_or(CLOSED, Ordering::AcqRel) & CLOSED != 0 {
            return;
        }
        // Posts take microseconds and never sleep.
        while self.users.load(Ordering::Acquire) != CLOSED {
            crate::kernel_ext::delay::msleep(1);
        }
        // SAFETY: The QP is live; no posts race with it now. Its CQs poll
        // in softirq or a workqueue, or directly: `ib_drain_qp` then
        // processes them itself every 100 ms until its drain requests
        // come back (concurrent `CompletionQueue::poll`s are fine). (Not
        // from one of its own completions: the drain waits for them.)
        unsafe { bindings::ib_drain_qp(self.raw.as_ptr()) };
        // A direct CQ: a concurrent poller may still hold completions of
        // this QP it took before the drain's own came back.
        self._send_cq.wait_for_poller();
        self._recv_cq.wait_for_poller();
    }
}
