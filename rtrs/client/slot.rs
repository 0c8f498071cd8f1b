// SPDX-License-Identifier: GPL-2.0

//! The state of one IO slot (`struct rtrs_clt_io_req`): where its work
//! request context is and whether the server's answer is in. A request
//! completes only once both its context is back from the QP and its
//! IO_RSP is in (see `io.rs`); the states say which of the two is still
//! missing, so a combination that cannot happen (a free slot with an
//! answer, a context both posted and at hand) cannot be written.
//!
//! Generic over the context `C` and the invalidation `I` that came with
//! the answer, so this file names nothing above it. Every transition is a
//! method, called with the slot's lock held.

/// Where a busy slot's context is.
pub(crate) enum CtxAt<C> {
    /// `send` is building and posting the chain; the context is with
    /// `send` or the QP, or already back (`Some`: its completion came
    /// before `send` was done). Nothing finishes the request meanwhile:
    /// `send` looks once more when it is done ([`Slot::posted`]).
    Posting(Option<C>),
    /// With the QP: a posted request chain, or the LOCAL_INV of `finish`.
    Posted,
    /// Back from the QP (or kept after a failure): at hand.
    Back(C),
    /// Taken out by whoever finishes the request (neither here nor with
    /// the QP).
    Out,
}

/// One slot.
///
/// # Invariants
///
/// - `Free` holds the slot's only context; a request may take it.
/// - `Busy` belongs to exactly one request from `take_for_send` until the
///   context comes back to `Free` (`put_back`); `rsp` is set at most once
///   in that time (a second IO_RSP is a stray).
/// - `Empty` is a drained slot: its context is gone with the connection.
pub(crate) enum Slot<C, I> {
    Empty,
    Free(C),
    Busy {
        ctx: CtxAt<C>,
        /// The IO_RSP's errno and the invalidation that came with it.
        rsp: Option<(i32, Option<I>)>,
    },
}

/// What `send` does once its chain is posted.
pub(crate) enum AfterPost<C> {
    /// Nothing yet: the answer or the context is still to come.
    Wait,
    /// Both are in (the completion came while posting): finish now.
    Finish(C),
    /// The answer is in, the unsignalled send not handed back: kick the QP
    /// so that a signalled send follows it.
    Kick,
}

/// What the IO_RSP leads to.
pub(crate) enum AfterAnswer<C> {
    /// Not a request of ours (free slot, or a second answer).
    Stray,
    /// Wait for the context (`send` is still posting, or it is out).
    Wait,
    /// The context is at hand: finish now.
    Finish(C),
    /// The context is with the QP, unsignalled maybe: kick the QP.
    Kick,
}

/// What `drain` found.
pub(crate) enum Drained<C, I> {
    /// `send` is posting into it: look again shortly.
    Posting,
    /// Taken out (now `Empty`): the context if the slot had it, and the
    /// answer if one came.
    Taken(Option<C>, Option<(i32, Option<I>)>),
}

impl<C, I> Default for Slot<C, I> {
    fn default() -> Self {
        Slot::Empty
    }
}

impl<C, I> Slot<C, I> {
    /// Takes the free context for a new request (`None`: busy or empty).
    pub(crate) fn take_for_send(&mut self) -> Option<C> {
        match core::mem::replace(
            self,
            Slot::Busy {
                ctx: CtxAt::Posting(None),
                rsp: None,
            },
        ) {
            Slot::Free(ctx) => Some(ctx),
            other => {
                *self = other;
                None
            }
        }
    }

    /// The context back and the slot free (the request is over, or never
    /// went out).
    pub(crate) fn put_back(&mut self, ctx: C) {
        *self = Slot::Free(ctx);
    }

    /// `send` posted its chain.
    pub(crate) fn posted(&mut self) -> AfterPost<C> {
        let Slot::Busy { ctx, rsp } = self else {
            return AfterPost::Wait;
        };
        match (core::mem::replace(ctx, CtxAt::Out), rsp.is_some()) {
            (CtxAt::Posting(None), answered) => {
                *ctx = CtxAt::Posted;
                if answered {
                    AfterPost::Kick
                } else {
                    AfterPost::Wait
                }
            }
            // Already back: finish if the answer is in too.
            (CtxAt::Posting(Some(c)), true) => AfterPost::Finish(c),
            (CtxAt::Posting(Some(c)), false) => {
                *ctx = CtxAt::Back(c);
                AfterPost::Wait
            }
            // Cannot happen: only `send` ends `Posting`.
            (other, _) => {
                *ctx = other;
                AfterPost::Wait
            }
        }
    }

    /// The post failed but the QP kept the context (a partial post): it
    /// comes back with the flush.
    pub(crate) fn post_kept(&mut self) {
        if let Slot::Busy { ctx, .. } = self {
            *ctx = match core::mem::replace(ctx, CtxAt::Out) {
                // Its flush may have brought it back already.
                CtxAt::Posting(Some(c)) | CtxAt::Back(c) => CtxAt::Back(c),
                _ => CtxAt::Posted,
            };
        }
    }

    /// The context goes to the QP again (`finish`'s LOCAL_INV).
    pub(crate) fn reposted(&mut self) {
        if let Slot::Busy { ctx, .. } = self {
            *ctx = CtxAt::Posted;
        }
    }

    /// The server's IO_RSP for this slot.
    pub(crate) fn answer(&mut self, errno: i32, inv: Option<I>) -> AfterAnswer<C> {
        let Slot::Busy { ctx, rsp } = self else {
            return AfterAnswer::Stray;
        };
        if rsp.is_some() {
            return AfterAnswer::Stray;
        }
        *rsp = Some((errno, inv));
        match core::mem::replace(ctx, CtxAt::Out) {
            CtxAt::Back(c) => AfterAnswer::Finish(c),
            CtxAt::Posted => {
                *ctx = CtxAt::Posted;
                AfterAnswer::Kick
            }
            // `send` is still posting (it finishes or kicks when done), or
            // the context is out.
            other => {
                *ctx = other;
                AfterAnswer::Wait
            }
        }
    }

    /// The request chain's send completed: the context is back. Returns it
    /// if the answer is in and `send` is done posting (finish now).
    pub(crate) fn send_done(&mut self, c: C) -> Option<C> {
        match self {
            Slot::Busy {
                ctx: ctx @ CtxAt::Posting(None),
                ..
            } => {
                *ctx = CtxAt::Posting(Some(c));
                None
            }
            Slot::Busy { ctx, rsp } => {
                if rsp.is_some() {
                    *ctx = CtxAt::Out;
                    Some(c)
                } else {
                    *ctx = CtxAt::Back(c);
                    None
                }
            }
            // Cannot happen: a posted context belongs to a busy slot.
            _ => {
                self.park(c);
                None
            }
        }
    }

    /// Keeps a context that cannot go on (its QP failed) for the drain.
    pub(crate) fn park(&mut self, c: C) {
        match self {
            // `send` finds it when done posting.
            Slot::Busy {
                ctx: ctx @ CtxAt::Posting(None),
                ..
            } => *ctx = CtxAt::Posting(Some(c)),
            Slot::Busy { ctx, .. } => *ctx = CtxAt::Back(c),
            _ => {
                *self = Slot::Busy {
                    ctx: CtxAt::Back(c),
                    rsp: None,
                }
            }
        }
    }

    /// The answer, if it is in.
    pub(crate) fn rsp(&self) -> Option<&(i32, Option<I>)> {
        match self {
            Slot::Busy { rsp, .. } => rsp.as_ref(),
            _ => None,
        }
    }

    /// Takes everything out (the connection is going), unless `send` is
    /// still posting.
    pub(crate) fn drain(&mut self) -> Drained<C, I> {
        if let Slot::Busy {
            ctx: CtxAt::Posting(_),
            ..
        } = self
        {
            return Drained::Posting;
        }
        match core::mem::replace(self, Slot::Empty) {
            Slot::Empty => Drained::Taken(None, None),
            Slot::Free(c) => Drained::Taken(Some(c), None),
            Slot::Busy { ctx, rsp } => match ctx {
                CtxAt::Back(c) => Drained::Taken(Some(c), rsp),
                _ => Drained::Taken(None, rsp),
            },
        }
    }
}
