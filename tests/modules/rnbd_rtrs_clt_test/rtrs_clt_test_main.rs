// SPDX-License-Identifier: GPL-2.0

//! rnbd_rtrs_clt_test: drives the RTRS client (`rtrs/client`, compiled in
//! as `rnbd_client` does) with raw RNBD messages against a real server.

#![recursion_limit = "256"]

use kernel::prelude::*;

#[path = "../../../kernel/rust/kernel_ext/mod.rs"]
mod kernel_ext;

#[path = "../../../rtrs/common/wire.rs"]
mod wire;

#[path = "../../../rtrs/client/mod.rs"]
mod rtrs_clt;

#[path = "../../../rnbd/proto/wire.rs"]
mod proto;

module! {
    type: RtrsCltTest,
    name: "rnbd_rtrs_clt_test",
    author: "rnbd-rs developers",
    description: "rnbd-rs test module: the RTRS client against a server",
    license: "GPL",
}

struct RtrsCltTest;

impl kernel::Module for RtrsCltTest {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(RtrsCltTest)
    }
}
