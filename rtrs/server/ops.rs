// SPDX-License-Identifier: GPL-2.0

//! What the RTRS server offers its user, RNBD (upstream `struct
//! rtrs_srv_ops`, `rtrs_srv_resp_rdma()`, `rtrs_srv_get_path_name()`):
//! session events and requests, with no `ib_*` type in sight.
//!
//! - [`SrvOps::connected`]: the first path of a session has finished its
//!   INFO exchange (`RTRS_SRV_LINK_EV_CONNECTED`). The user returns its
//!   per-session object; an error closes that path.
//! - [`SrvSessionOps::request`]: a request of the session (`rdma_ev`). The
//!   user answers it with [`SrvRequest::respond`], now or later, from any
//!   context but a hard interrupt. An unanswered request that is dropped
//!   is answered with EIO.
//! - [`SrvSessionOps::disconnected`]: the last path closed
//!   (`RTRS_SRV_LINK_EV_DISCONNECTED`). Requests still held may be
//!   answered (the answer is dropped) or dropped.

use crate::kernel_ext::trace::TraceDir;
use kernel::prelude::*;
use kernel::sync::Arc;

pub(crate) use super::io::SrvRequest;
pub(crate) use super::srv::SrvSession;

/// The direction of a request, as the client sent it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    /// `RTRS_MSG_READ`: the server fills [`SrvRequest::data_mut`]; RTRS
    /// writes it into the client's buffer when the request is answered
    /// with success. `data_len` may be 0 (RNBD flush).
    Read,
    /// `RTRS_MSG_WRITE`: the client's data is in
    /// [`SrvRequest::data_mut`] (`data_len` may be 0: RNBD CLOSE,
    /// discard, write-zeroes).
    Write,
}

impl Dir {
    /// The direction as the trace events record it.
    pub(crate) fn traced(self) -> TraceDir {
        match self {
            Dir::Read => TraceDir::Read,
            Dir::Write => TraceDir::Write,
        }
    }
}

/// The server's user: told when a session appears.
pub(crate) trait SrvOps: Send + Sync {
    /// The first path of `sess` is connected. Process context. The
    /// returned object gets the session's requests and its end; an error
    /// closes the path (as a non-zero `link_ev` return upstream).
    fn connected(&self, sess: &SrvSession) -> Result<Arc<dyn SrvSessionOps>>;
}

/// The user's side of one session.
pub(crate) trait SrvSessionOps: Send + Sync {
    /// A request (`rdma_ev`). Process context (the connection's
    /// completion work, `IB_POLL_WORKQUEUE` as upstream): it may sleep
    /// briefly (allocate, submit bios) but should not block for long.
    fn request(&self, req: SrvRequest);

    /// RTRS answered a malformed request of the session with EINVAL
    /// itself (bad trailer, offset or descriptor): for the user's error
    /// budget. Process context.
    fn malformed(&self) {}

    /// The session's last path closed. Process context. Called once,
    /// after the last [`request`](Self::request) call has returned.
    fn disconnected(&self);
}
