// SPDX-License-Identifier: GPL-2.0

//! The RTRS client (`rtrs-clt.c`): sessions of one or more paths to a
//! server, each path `nr_cpu_ids + 1` RC connections, IO over RDMA with
//! fast-registration MRs, heartbeats, reconnects and multipath. RNBD sees
//! only `ops` (no `ib_*` type). See `Documentation/client.md`.

/// The address grammar of `map_device`'s `path=` (`rtrs_addr_to_sockaddr`),
/// shared with RNBD's parser, for sysfs `add_path`.
#[allow(dead_code, clippy::duplicate_mod)]
#[path = "../../rnbd/client/map_opts.rs"]
mod addr_text;
mod clt;
mod io;
pub(crate) mod ops;
mod path;
mod permits;
mod sysfs;
