// SPDX-License-Identifier: GPL-2.0

//! What the RTRS client offers its user, RNBD (upstream `rtrs.h`:
//! `rtrs_clt_open()`, `rtrs_clt_close()`, `rtrs_clt_get_permit()`,
//! `rtrs_clt_put_permit()`, `rtrs_clt_request()`, `rtrs_clt_query()`,
//! link events). No `ib_*` type crosses this interface.
//!
//! This file is the contract between `rtrs/client/` and `rnbd/client/`;
//! change it only together with both.
//!
//! - [`RtrsClt::open`] connects every path of a new session (all must
//!   connect, as upstream) and runs the INFO exchange; it blocks (process
//!   context) and returns the session, or the errno upstream returns.
//! - [`RtrsClt::get_permit`] gives one of the session's `queue_depth`
//!   permits (= server buffer id), for the admin connection (RNBD
//!   SESS_INFO/OPEN/CLOSE) or an IO connection (chosen by the current
//!   CPU); [`Permit`] is returned by dropping it, or with the completion.
//! - [`RtrsClt::request`] sends one request: a user header (the RNBD
//!   message, at most `max_hdr_size - 8 - 16` bytes) and optional data
//!   ([`ReqData`]); READ means the server writes into the data, WRITE that
//!   it reads it. The completion runs once with the server's errno (or a
//!   local error), in softirq or process context, never before `request`
//!   returned `Ok`. On `Err` the data comes back at once.
//! - [`RtrsClt::poll`]`(n)` processes the completions of poll connection
//!   `n` of every connected path, in the caller's (process) context:
//!   completions of [`ConType::Poll`] requests run from there.
//! - Link events: `Reconnected` when the first path is back after all
//!   were down, `Disconnected` when the last connected path went down.

use kernel::prelude::*;
use kernel::sync::Arc;

/// `enum rtrs_clt_con_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConType {
    /// Connection 0 (RNBD control messages).
    Admin,
    /// The IO connection of the current CPU.
    Io,
    /// Poll connection `n` (`0..nr_poll_queues`), whose completions are
    /// found only by [`RtrsClt::poll`]`(n)`: for a blk-mq poll queue.
    /// On a path without that connection (one added later, with no poll
    /// connections) the request goes on the IO connection of the current
    /// CPU instead (ours; upstream never uses its poll connections for
    /// IO, spec §11.2 #13).
    Poll(u16),
}

/// Whether [`RtrsClt::get_permit`] may sleep until one is free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PermitWait {
    NoWait,
    Wait,
}

/// Direction of a request (`rtrs_clt_request(dir)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    /// The server writes the data buffer (RNBD READ, SESS_INFO, OPEN).
    Read,
    /// The server reads the data buffer (RNBD WRITE, CLOSE, discard...).
    Write,
}

/// `enum rtrs_clt_link_ev`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LinkEvent {
    Reconnected,
    Disconnected,
}

/// `struct rtrs_attrs` (`rtrs_clt_query()`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Attrs {
    pub(crate) queue_depth: u16,
    /// `min(max_io_size, max_segments * 4096)`.
    pub(crate) max_io_size: u32,
    pub(crate) max_segments: u32,
}

/// The session's user.
pub(crate) trait CltOps: Send + Sync {
    /// A link event (process context).
    fn link_event(&self, event: LinkEvent);
}

/// One path to open (`struct rtrs_addr`): an optional source address and
/// the destination, as parsed from `map_device`'s `path=`.
pub(crate) struct PathAddr {
    pub(crate) src: Option<crate::kernel_ext::rdma::Address>,
    pub(crate) dst: crate::kernel_ext::rdma::Address,
}

/// `rtrs_clt_open()`'s parameters.
pub(crate) struct OpenParams<'a> {
    /// The session name (INFO_REQ pathname), at most NAME_MAX bytes.
    pub(crate) sessname: &'a [u8],
    pub(crate) paths: &'a [PathAddr],
    pub(crate) port: u16,
    /// 30 for RNBD.
    pub(crate) reconnect_delay_sec: u8,
    /// -1 (forever) for RNBD.
    pub(crate) max_reconnect_attempts: i16,
    /// Poll connections per path (`IB_POLL_DIRECT` CQs, cids
    /// `nr_cpu_ids + 1 ..`), at most `nr_cpu_ids` (else EINVAL): requests
    /// with a [`ConType::Poll`] permit go there and complete only from
    /// [`RtrsClt::poll`].
    pub(crate) nr_poll_queues: u32,
    /// `/sys/class/rtrs-client`, from [`RtrsClt::register_class`] at module
    /// load (upstream `rtrs_client_init()`); the session's device goes
    /// there.
    pub(crate) class: &'a Arc<crate::kernel_ext::sysfs::Class>,
}

/// A session (`struct rtrs_clt_sess`).
pub(crate) use super::clt::RtrsClt;

/// The data of a request. Its memory stays with RTRS (DMA-mapped and
/// registered, then unregistered) until the completion hands it back.
pub(crate) use crate::kernel_ext::rdma::sg::ReqData;

/// The completion of a request: the data back, and `Ok(())` or the
/// server's (negative) errno / a local error (ECONNABORTED when no path
/// could carry it, ...). Made with `Done::new(|data, result| .., flags)`
/// (6.12's `KBox<dyn FnOnce>` can be neither built nor called).
pub(crate) type Done = crate::kernel_ext::callback::Callback<ReqData, Result>;

// The functions RNBD calls (implemented in `clt.rs`):
//
// impl RtrsClt {
//     pub(crate) fn register_class() -> Result<Arc<Class>>;  // at module load
//     pub(crate) fn open(cm: &Arc<CmContext>, params: &OpenParams<'_>,
//                        ops: Arc<dyn CltOps>) -> Result<Arc<RtrsClt>>;
//     pub(crate) fn close(&self);               // all paths, waits
//     pub(crate) fn query(&self) -> Result<Attrs>;   // ECOMM: none connected
//     pub(crate) fn get_permit(&self, con: ConType, wait: PermitWait)
//         -> Option<Permit>;
//     pub(crate) fn request(&self, dir: Dir, permit: Permit, usr: &[u8],
//                           data: ReqData, done: Done)
//         -> core::result::Result<(), (Error, Permit, ReqData)>;
//     pub(crate) fn poll(&self, index: u32) -> i32;  // -1: no path connected
// }
#[allow(dead_code)]
fn _contract(_: Arc<RtrsClt>) {}
