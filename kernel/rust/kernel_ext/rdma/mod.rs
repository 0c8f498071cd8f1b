// SPDX-License-Identifier: GPL-2.0

//! RDMA: connection management (`cm`), verbs objects (`verbs`), the
//! queue pair (`qp`), DMA buffers (`buffer`), fast-registration MRs (`mr`)
//! and work requests with their completions (`wr`).

pub mod buffer;
pub mod cm;
pub mod mr;
pub mod qp;
pub mod verbs;
pub mod wr;

use kernel::bindings;
use kernel::error::{code::*, to_result, Result};
use kernel::fmt;
use kernel::str::CString;

/// An IPv4 or IPv6 socket address, as the CM takes it.
pub struct Address {
    raw: bindings::__kernel_sockaddr_storage,
}

impl Address {
    /// Parses a numeric IPv4 or IPv6 address (with an optional `%scope`)
    /// and a port, as upstream RTRS does with `inet_pton_with_scope`.
    /// Fails with EINVAL on anything else.
    pub fn parse(text: &str, port: u16) -> Result<Address> {
        let text = CString::try_from_fmt(fmt!("{}", text))?;
        let port = CString::try_from_fmt(fmt!("{}", port))?;
        // SAFETY: All-zero is a valid (unspecified) sockaddr_storage.
        let mut raw: bindings::__kernel_sockaddr_storage = unsafe { core::mem::zeroed() };
        // SAFETY: Both strings are NUL-terminated; `raw` is writable;
        // `init_net` is the initial namespace.
        to_result(unsafe {
            bindings::inet_pton_with_scope(
                core::ptr::addr_of_mut!(bindings::init_net),
                bindings::AF_UNSPEC as u16,
                text.as_char_ptr(),
                port.as_char_ptr(),
                &mut raw,
            )
        })
        .map_err(|_| EINVAL)?;
        Ok(Address { raw })
    }

    /// The wildcard IPv4 address with `port`, to listen on every address.
    pub fn any_ipv4(port: u16) -> Result<Address> {
        Self::parse("0.0.0.0", port)
    }

    pub(crate) fn as_sockaddr(&self) -> *const bindings::sockaddr {
        core::ptr::from_ref::<bindings::__kernel_sockaddr_storage>(&self.raw).cast()
    }
}
