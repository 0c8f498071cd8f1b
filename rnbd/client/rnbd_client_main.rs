// SPDX-License-Identifier: GPL-2.0

//! rnbd_client: the RNBD client with its RTRS client (compiled in).
//! See `Documentation/client.md` and `Documentation/client-admin.md`.

#![recursion_limit = "256"]

use kernel::prelude::*;
use kernel::sync::Arc;

#[path = "../../kernel/rust/kernel_ext/mod.rs"]
mod kernel_ext;

#[path = "../../rtrs/common/wire.rs"]
mod wire;

#[path = "../../rtrs/common/text.rs"]
mod text;

#[path = "../../rtrs/common/addr.rs"]
mod addr;

#[path = "../../rtrs/client/mod.rs"]
mod rtrs_clt;

#[path = "../proto/wire.rs"]
mod proto;

mod blk;
mod dev;
mod errno;
mod map_opts;
mod params;
mod sess;
mod sysfs;

module! {
    type: RnbdClient,
    name: "rnbd_client",
    author: "rnbd-rs developers",
    description: "RDMA Network Block Device Client (rnbd-rs)",
    license: "GPL",
}

kernel_ext::param::module_version!(proto::RNBD_RS_VERSION);

struct RnbdClient {
    client: Option<Arc<sess::Client>>,
}

impl kernel::Module for RnbdClient {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let client = sess::Client::new()?;
        Ok(RnbdClient {
            client: Some(client),
        })
    }
}

impl Drop for RnbdClient {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            client.shutdown();
        }
        // Last: no work item of ours may still run our code once the
        // module's text is freed (see `flush_system`).
        kernel_ext::workqueue::flush_system();
    }
}
