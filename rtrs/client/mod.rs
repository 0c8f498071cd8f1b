// SPDX-License-Identifier: GPL-2.0

//! The RTRS client (`rtrs-clt.c`): sessions of one or more paths to a
//! server, each path `nr_cpu_ids + 1` RC connections, IO over RDMA with
//! fast-registration MRs, heartbeats, reconnects and multipath. RNBD sees
//! only `ops` (no `ib_*` type). See `Documentation/client.md`.

mod clt;
mod io;
pub(crate) mod ops;
mod path;
mod permits;
mod slot;
mod sysfs;

pub(crate) use clt::to_address;
