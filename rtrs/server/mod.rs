// SPDX-License-Identifier: GPL-2.0

//! The RTRS server (`rtrs-srv.c`): listens, validates connection requests
//! (protocol reference §2.7, §2.8), groups connections into paths and
//! paths into sessions, and answers INFO_REQ with the session's chunk MRs
//! (§3.1-§3.3). The upper layer (RNBD) sees none of the `ib_*` types.

mod con;
mod info;
mod io;
pub(crate) mod ops;
pub(crate) mod params;
mod path;
mod srv;
mod stats;
mod sysfs;

pub(crate) use srv::RtrsSrv;
