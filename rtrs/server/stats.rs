// SPDX-License-Identifier: GPL-2.0

//! What a server path shows of itself (sysfs, logs, trace events): where
//! it runs and what it moved. Imports nothing of the folder, so the path
//! and its sysfs files both build on it.

use core::sync::atomic::AtomicU64;

use kernel::fmt;
use kernel::prelude::*;
use kernel::str::CString;

use crate::kernel_ext::rdma::cm::CmIdRef;

/// `stats/rdma` of a path, and requests answered EINVAL for being
/// malformed.
#[derive(Default)]
pub(crate) struct PathStats {
    pub(crate) read_cnt: AtomicU64,
    pub(crate) read_bytes: AtomicU64,
    pub(crate) write_cnt: AtomicU64,
    pub(crate) write_bytes: AtomicU64,
    pub(crate) errors: AtomicU64,
}

/// Where a path runs (for sysfs and logs), from its first connection.
pub(crate) struct PathAddrs {
    /// `ip:...` of the client.
    pub(crate) client: CString,
    /// `ip:...` of ours.
    pub(crate) server: CString,
    /// `<client>@<server>`: the path's name in sysfs and trace events.
    pub(crate) name: CString,
    pub(crate) hca_name: CString,
    pub(crate) hca_port: u32,
}

impl PathAddrs {
    pub(crate) fn of(id: &CmIdRef<'_>) -> Result<Self> {
        let hca_name = id.device_name().ok_or(ENODEV)?;
        let client = id.dst_addr().to_rtrs_string()?;
        let server = id.src_addr().to_rtrs_string()?;
        Ok(PathAddrs {
            name: CString::try_from_fmt(fmt!("{}@{}", &*client, &*server))?,
            client,
            server,
            hca_name: CString::try_from_fmt(fmt!("{}", hca_name))?,
            hca_port: id.port_num(),
        })
    }
}
