// SPDX-License-Identifier: GPL-2.0

//! rnbd_server: the RNBD server with its RTRS server (compiled in).
//! Milestone 1: RTRS connection establishment and the INFO exchange
//! (see `Documentation/server.md`).

#![recursion_limit = "256"]

use kernel::prelude::*;
use kernel::sync::Arc;

#[path = "../../kernel/rust/kernel_ext/mod.rs"]
mod kernel_ext;

#[path = "../../rtrs/common/wire.rs"]
mod wire;

#[path = "../../rtrs/server/mod.rs"]
mod rtrs_srv;

mod params;

use kernel_ext::errno::EOPNOTSUPP;
use kernel_ext::rdma::cm::CmContext;
use rtrs_srv::ops::{SrvOps, SrvRequest, SrvSession, SrvSessionOps};

/// Until the RNBD layer lands: every request is refused.
struct Refuse;

impl SrvOps for Refuse {
    fn connected(&self, sess: &SrvSession) -> Result<Arc<dyn SrvSessionOps>> {
        pr_info!(
            "session '{}' connected\n",
            kernel::str::BStr::from_bytes(sess.name())
        );
        Ok(Arc::new(Refuse, GFP_KERNEL)?)
    }
}

impl SrvSessionOps for Refuse {
    fn request(&self, req: SrvRequest) {
        req.respond(EOPNOTSUPP().to_errno());
    }

    fn disconnected(&self) {
        pr_info!("session disconnected\n");
    }
}

module! {
    type: RnbdServer,
    name: "rnbd_server",
    author: "rnbd-rs developers",
    description: "RDMA Network Block Device Server (rnbd-rs)",
    license: "GPL",
}

struct RnbdServer {
    /// The RTRS server: listener and sessions, closed on drop.
    rtrs: Option<rtrs_srv::RtrsSrv>,
    /// Last: waits for every id, including destructions deferred from
    /// inside handlers.
    _cm: Arc<CmContext>,
}

impl kernel::Module for RnbdServer {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        rtrs_srv::params::check_module_params()?;
        let cm = Arc::new(CmContext::new()?, GFP_KERNEL)?;
        let rtrs =
            rtrs_srv::RtrsSrv::open(&cm, params::PORT_NR.get(), Arc::new(Refuse, GFP_KERNEL)?)?;
        Ok(RnbdServer {
            rtrs: Some(rtrs),
            _cm: cm,
        })
    }
}

impl Drop for RnbdServer {
    fn drop(&mut self) {
        drop(self.rtrs.take());
    }
}
