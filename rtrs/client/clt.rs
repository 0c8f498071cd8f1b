// SPDX-License-Identifier: GPL-2.0

//! A client session (`struct rtrs_clt_sess`) and its paths.

use kernel::c_str;
use kernel::prelude::*;
use kernel::sync::Arc;

use super::ops::{Attrs, CltOps, ConType, Dir, Done, OpenParams, PermitWait, ReqData};
use super::permits::Permit;
use crate::kernel_ext::errno::{ECOMM, ENOSYS};
use crate::kernel_ext::rdma::cm::CmContext;
use crate::kernel_ext::sysfs::Class;

/// A session (`struct rtrs_clt_sess`).
pub(crate) struct RtrsClt {
    _priv: (),
}

impl RtrsClt {
    /// Registers `/sys/class/rtrs-client` (upstream `rtrs_client_init()`):
    /// the RNBD client module calls it at load and passes the class to
    /// every [`RtrsClt::open`] (`OpenParams::class`), keeping it until
    /// every session is closed.
    pub(crate) fn register_class() -> Result<Arc<Class>> {
        Class::register(c_str!("rtrs-client"))
    }

    /// `rtrs_clt_open()`: connects every path and runs the INFO exchange.
    /// Process context; blocks.
    pub(crate) fn open(
        cm: &Arc<CmContext>,
        params: &OpenParams<'_>,
        ops: Arc<dyn CltOps>,
    ) -> Result<Arc<RtrsClt>> {
        let _ = (cm, params, ops);
        Err(ENOSYS())
    }

    /// `rtrs_clt_close()`: closes every path and waits. Process context.
    pub(crate) fn close(&self) {}

    /// `rtrs_clt_query()`: ECOMM when no path is connected.
    pub(crate) fn query(&self) -> Result<Attrs> {
        Err(ECOMM())
    }

    /// `rtrs_clt_get_permit()`: `Wait` sleeps (process context) until a
    /// permit is free; `NoWait` may be called from any context but hardirq.
    pub(crate) fn get_permit(&self, con: ConType, wait: PermitWait) -> Option<Permit> {
        let _ = (con, wait);
        None
    }

    /// `rtrs_clt_request()`: see `ops`.
    pub(crate) fn request(
        &self,
        dir: Dir,
        permit: Permit,
        usr: &[u8],
        data: ReqData,
        done: Done,
    ) -> core::result::Result<(), (Error, Permit, ReqData)> {
        let _ = (dir, usr, done);
        Err((ENOSYS(), permit, data))
    }
}
