// SPDX-License-Identifier: GPL-2.0

//! rnbd_ping_test: exercises `kernel_ext::rdma` work requests with no
//! `unsafe`: SEND/RECV, RDMA WRITE_WITH_IMM and READ, fast-registration
//! MRs, local (LOCAL_INV) and remote (SEND_WITH_INV) invalidation, a
//! stale rkey refused, and teardown with requests outstanding (disconnect,
//! module unload, `rdma link delete`). Every instance listens on port
//! 18200 and can also connect as a client (`ctl`).

use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::{c_str, new_mutex};

#[path = "../../../kernel/rust/kernel_ext/mod.rs"]
mod kernel_ext;

mod client;
mod ctl;
mod message;
mod server;

use kernel_ext::rdma::cm::{CmContext, Listener};
use kernel_ext::rdma::verbs::QpCaps;
use kernel_ext::rdma::Address;
use kernel_ext::sysfs::{Class, ClassDevice};

module! {
    type: PingTest,
    name: "rnbd_ping_test",
    author: "rnbd-rs developers",
    description: "rnbd-rs proof module for RDMA work requests and memory registration",
    license: "GPL",
}

pub(crate) const PORT: u16 = 18200;
/// Receives kept posted on each side.
pub(crate) const RECV_DEPTH: usize = 8;
pub(crate) const CAPS: QpCaps = QpCaps {
    max_send_wr: 32,
    max_recv_wr: RECV_DEPTH as u32,
    max_send_sge: 2,
    max_recv_sge: 1,
};

/// Private data without the zero padding the CM adds.
pub(crate) fn trimmed(data: &[u8]) -> &[u8] {
    let end = data.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    &data[..end]
}

struct PingTest {
    // Dropped in this order: the sysfs files (no new client step), the
    // client's connection, the listener, then the server's connections.
    ctl: Option<Arc<ClassDevice<ctl::Ctl>>>,
    listener: Option<Listener<Arc<server::Server>>>,
    server: Arc<server::Server>,
    /// Last: waits for every id, including destructions deferred from
    /// inside handlers.
    _cm: Arc<CmContext>,
}

impl kernel::Module for PingTest {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let cm = Arc::new(CmContext::new()?, GFP_KERNEL)?;
        let server = server::Server::new()?;
        let listener = Listener::listen(
            &cm,
            Arc::new(server.clone(), GFP_KERNEL)?,
            &Address::any_ipv4(PORT)?,
            64,
        )?;
        let class = Class::register(c_str!("rnbd-ping-test"))?;
        let ctl = ClassDevice::create(
            &class,
            c_str!("ctl"),
            ctl::Ctl {
                server: server.clone(),
                client: client::Client::new()?,
                cm: cm.clone(),
                result: KBox::pin_init(new_mutex!(None), GFP_KERNEL)?,
            },
            &ctl::CTL_ATTRIBUTES,
        )?;
        pr_info!("listening on port {}\n", PORT);
        Ok(PingTest {
            ctl: Some(ctl),
            listener: Some(listener),
            server,
            _cm: cm,
        })
    }
}

impl Drop for PingTest {
    fn drop(&mut self) {
        if let Some(ctl) = self.ctl.take() {
            ctl.data().client.disconnect_locked();
        }
        drop(self.listener.take());
        let closed = self.server.close_all();
        pr_info!("unloaded, {} server connection(s) closed at exit\n", closed);
    }
}
