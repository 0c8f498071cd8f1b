// SPDX-License-Identifier: GPL-2.0

//! rnbd_server: the RNBD server with its RTRS server (compiled in).
//! See `Documentation/server.md`.

#![recursion_limit = "256"]

use kernel::prelude::*;
use kernel::sync::Arc;

#[path = "../../kernel/rust/kernel_ext/mod.rs"]
mod kernel_ext;

#[path = "../../rtrs/common/wire.rs"]
mod wire;

#[path = "../../rtrs/server/mod.rs"]
mod rtrs_srv;

#[path = "../proto/wire.rs"]
mod proto;

mod dev;
mod fullpath;
mod params;
mod sess;
mod sysfs;

use kernel_ext::rdma::cm::CmContext;
use rtrs_srv::ops::{SrvOps, SrvSession, SrvSessionOps};

/// The RNBD server as RTRS's user (`rnbd_srv_link_ev()`).
struct RnbdOps {
    server: Arc<dev::Server>,
}

impl SrvOps for RnbdOps {
    fn connected(&self, sess: &SrvSession) -> Result<Arc<dyn SrvSessionOps>> {
        let sess = sess::RnbdSess::new(&self.server, sess)?;
        Ok(Arc::new(sess::SessHandle(sess), GFP_KERNEL)?)
    }
}

module! {
    type: RnbdServer,
    name: "rnbd_server",
    author: "rnbd-rs developers",
    description: "RDMA Network Block Device Server (rnbd-rs)",
    license: "GPL",
}

kernel_ext::param::module_version!(proto::RNBD_RS_VERSION);

struct RnbdServer {
    /// The RTRS server: listener and sessions, closed on drop.
    rtrs: Option<rtrs_srv::RtrsSrv>,
    /// The sysfs tree and the exported devices, after RTRS.
    _server: Arc<dev::Server>,
    /// Last: waits for every id, including destructions deferred from
    /// inside handlers.
    _cm: Arc<CmContext>,
}

impl kernel::Module for RnbdServer {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        rtrs_srv::params::check_module_params()?;
        let cm = Arc::new(CmContext::new()?, GFP_KERNEL)?;
        let server = dev::Server::new()?;
        let ops = Arc::new(
            RnbdOps {
                server: server.clone(),
            },
            GFP_KERNEL,
        )?;
        let rtrs = rtrs_srv::RtrsSrv::open(&cm, params::PORT_NR.get(), ops)?;
        Ok(RnbdServer {
            rtrs: Some(rtrs),
            _server: server,
            _cm: cm,
        })
    }
}

impl Drop for RnbdServer {
    fn drop(&mut self) {
        // As upstream's module exit (`rtrs_srv_close()`): sessions do not
        // pin the module; `rmmod` stops listening and closes every path
        // (the clients see the disconnect and reconnect); each close
        // waits for the path's requests in flight, so no bio of ours is
        // left.
        drop(self.rtrs.take());
        // Last: a work item (a path's close work that started before
        // exit, a deferred bio completion) may still run our code.
        kernel_ext::workqueue::flush_system();
    }
}
