// SPDX-License-Identifier: GPL-2.0

//! The RTRS client (`rtrs-clt.c`): sessions of one or more paths to a
//! server, each path `nr_cpu_ids + 1` RC connections, IO over RDMA with
//! fast-registration MRs, heartbeats, reconnects and multipath. RNBD sees
//! only `ops` (no `ib_*` type). See `Documentation/client.md`.

mod clt;
mod io;
/// The `map_device` grammar, compiled once per module: RTRS parses the
/// `path=` addresses of sysfs `add_path` with it (`rtrs_addr_to_sockaddr`)
/// and RNBD imports it from here for `map_device` and the other files.
#[allow(dead_code)]
#[path = "../../rnbd/client/map_opts.rs"]
pub(crate) mod map_opts;
pub(crate) mod ops;
mod path;
mod permits;
mod sysfs;

pub(crate) use clt::to_address;
