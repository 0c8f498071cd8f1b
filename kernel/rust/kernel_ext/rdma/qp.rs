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
//!
//! # Sends
//!
//! Every send context goes through the QP's send ring (`wr::SendRing`),
//! which hands contexts back in posting order: a signalled send's
//! completion also hands back the unsignalled ones before it. See
//! `Documentation/abstractions.md`, "Unsignalled sends".

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::kernel_ext::bindings;
use kernel::prelude::*;
use kernel::sync::Arc;

use super::verbs::{CompletionQueue, ProtectionDomain};
use super::wr::{self, Completion, PostError, RecvSges, SendChain, SendRing, Signal, Wr};
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
    /// Every send context posted and not yet handed back, in order.
    ring: Pin<KBox<SendRing>>,
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
        max_send_wr: u32,
        pd: Arc<ProtectionDomain>,
        send_cq: Arc<CompletionQueue>,
        recv_cq: Arc<CompletionQueue>,
    ) -> Result<Self> {
        // Room for the sends in the queue and as many done since the last
        // signalled one; batched sends are signalled every quarter of the
        // queue by default.
        let ring = SendRing::new(raw, 2 * max_send_wr as usize, (max_send_wr / 4).max(1))?;
        Ok(QueuePair {
            raw,
            // SAFETY: Live per the contract.
            num: unsafe { (*raw.as_ptr()).qp_num },
            ring,
            users: AtomicU32::new(0),
            pd,
            _send_cq: send_cq,
            _recv_cq: recv_cq,
        })
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
        self.post_send_as(wr, Signal::Always, build)
    }

    /// As [`QueuePair::post_send`], but the chain is signalled only every
    /// [`QueuePair::set_signal_interval`] posts (or when nothing else is
    /// outstanding, or the send ring is half full): the context comes back
    /// when a later signalled send of this QP completes (or with its own
    /// error or flush completion, or when the QP is closed), in posting
    /// order, with a successful completion made up for it. A driver that
    /// waits for such a context calls [`QueuePair::kick`] so that one
    /// comes. `EAGAIN` if the send ring is full.
    pub fn post_send_batched<T, F>(&self, wr: KBox<Wr<T>>, build: F) -> Result<(), PostError<T>>
    where
        T: Completion,
        F: for<'b> FnOnce(&'b mut T, &mut SendChain<'b>) -> Result,
    {
        self.post_send_as(wr, Signal::Batched, build)
    }

    fn post_send_as<T, F>(
        &self,
        wr: KBox<Wr<T>>,
        signal: Signal,
        build: F,
    ) -> Result<(), PostError<T>>
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
        unsafe { wr::post_send(&self.ring, wr, signal, build) }
    }

    /// Signals batched sends at least every `interval` posts.
    pub fn set_signal_interval(&self, interval: u32) {
        self.ring.set_interval(interval);
    }

    /// Send contexts posted and not yet handed back.
    pub fn sends_outstanding(&self) -> usize {
        self.ring.outstanding()
    }

    /// Makes every batched send posted so far come back: if the newest is
    /// unsignalled, posts a signalled empty RDMA WRITE behind it (a fence;
    /// no completion at the peer). No-op once closed.
    pub fn kick(&self) -> Result {
        let Some(_guard) = self.enter() else {
            return Ok(());
        };
        // SAFETY: The posting reference keeps the QP live for the call.
        unsafe { self.ring.kick() }
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
        // No fence from a completion after this (it would land behind the
        // drain's request).
        self.ring.shut();
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
        // Batched sends that completed with no signalled one after them
        // are done (the drain's own request completed behind them) and
        // have no completion to come: hand them back now.
        // SAFETY: Drained, and closed to posts.
        unsafe { self.ring.release_all(self._send_cq.as_raw()) };
    }
}
