// SPDX-License-Identifier: GPL-2.0

//! The RTRS and RNBD wire formats as a host crate.
//!
//! The sources are the kernel's: `rtrs/common/wire.rs` and
//! `rnbd/proto/wire.rs` (and the sysfs text rules `rtrs/common/text.rs`,
//! the RTRS address grammar `rtrs/common/addr.rs`, the client's
//! `map_device` parser `rnbd/client/map_opts.rs`), compiled here
//! unchanged, so that what the modules
//! send is what `cargo test` checks against the C headers and what
//! `cargo fuzz` feeds garbage to. See `Documentation/wire-formats.md`.
#![no_std]
#![forbid(unsafe_code)]

#[path = "../../../rtrs/common/wire.rs"]
pub mod rtrs;

#[path = "../../../rnbd/proto/wire.rs"]
pub mod rnbd;

/// The kernel's text parsing for sysfs input (`rtrs/common/text.rs`).
#[path = "../../../rtrs/common/text.rs"]
pub mod text;

/// The RTRS `path=` address grammar (`rtrs/common/addr.rs`).
#[path = "../../../rtrs/common/addr.rs"]
pub mod addr;

/// `map_device` parsing of the RNBD client (`rnbd/client/map_opts.rs`).
#[path = "../../../rnbd/client/map_opts.rs"]
pub mod map_opts;

/// The names the shared sources use for the layers below them (the
/// modules' crate roots call the RTRS wire `wire`, the RNBD protocol
/// `proto`).
use rnbd as proto;
use rtrs as wire;
