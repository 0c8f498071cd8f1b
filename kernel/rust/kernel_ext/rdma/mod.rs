// SPDX-License-Identifier: GPL-2.0

//! RDMA: connection management (`cm`), verbs objects (`verbs`), the
//! queue pair (`qp`), DMA buffers (`buffer`), fast-registration MRs (`mr`)
//! and work requests with their completions (`wr`).

pub mod buffer;
pub mod cm;
pub mod mr;
pub mod qp;
pub mod sg;
pub mod verbs;
pub mod wr;

use crate::kernel_ext::bindings;
use core::ptr;
use kernel::c_str;
use kernel::error::{code::*, to_result, Result};
use kernel::fmt;
use kernel::str::{CStr, CString};

/// An IPv4 or IPv6 socket address, as the CM takes it.
pub struct Address {
    raw: bindings::__kernel_sockaddr_storage,
}

// SAFETY: A socket address is plain data (the pointer-typed union member
// of `sockaddr_storage` is only alignment padding, never dereferenced).
unsafe impl Send for Address {}
// SAFETY: As above; shared access only reads.
unsafe impl Sync for Address {}

impl Clone for Address {
    fn clone(&self) -> Self {
        // SAFETY: `self.raw` is a readable storage.
        unsafe { Address::from_storage(&self.raw) }
    }
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

    /// An InfiniBand address (`AF_IB`) as upstream RTRS builds it for a
    /// `gid:` path (`rtrs.c:rtrs_str_gid_to_sockaddr()`): the GID, the
    /// service id `RDMA_IB_IP_PS_IB | port` with a full mask, pkey 0xffff.
    pub fn ib_gid(gid: &[u8; 16], port: u16) -> Address {
        // `struct sockaddr_ib` (not in the bindings): family u16, pkey
        // be16, flowinfo be32, GID [16], sid be64, sid mask be64, scope
        // id u64: 48 bytes.
        let mut image = [0u8; 48];
        image[0..2].copy_from_slice(&(bindings::AF_IB as u16).to_ne_bytes());
        image[2..4].copy_from_slice(&0xffffu16.to_be_bytes());
        image[8..24].copy_from_slice(gid);
        let sid: u64 = 0x0000_0000_013F_0000 | u64::from(port);
        image[24..32].copy_from_slice(&sid.to_be_bytes());
        image[32..40].copy_from_slice(&u64::MAX.to_be_bytes());
        // SAFETY: All-zero is a valid (unspecified) sockaddr_storage.
        let mut raw: bindings::__kernel_sockaddr_storage = unsafe { core::mem::zeroed() };
        const _: () = assert!(core::mem::size_of::<bindings::__kernel_sockaddr_storage>() >= 48);
        // SAFETY: The storage is plain data of at least 48 bytes (checked
        // above) and `image` does not overlap it.
        unsafe {
            ptr::copy_nonoverlapping(
                image.as_ptr(),
                core::ptr::from_mut(&mut raw).cast::<u8>(),
                image.len(),
            )
        };
        Address { raw }
    }

    /// The `AF_IB` wildcard of upstream's RTRS server listener
    /// (`rtrs_srv_rdma_init()`): no GID, the service id of `port`.
    pub fn ib_any(port: u16) -> Address {
        Self::ib_gid(&[0; 16], port)
    }

    /// The port space an id for this address belongs in: IB for `AF_IB`,
    /// TCP otherwise (upstream's `rtrs_clt` `create_cm()`).
    pub fn port_space(&self) -> cm::PortSpace {
        // SAFETY: Every sockaddr starts with its family.
        let family = u32::from(unsafe { (*self.as_sockaddr()).sa_family });
        if family == bindings::AF_IB {
            cm::PortSpace::Ib
        } else {
            cm::PortSpace::Tcp
        }
    }

    /// The wildcard IPv4 address with `port`, to listen on every address.
    pub fn any_ipv4(port: u16) -> Result<Address> {
        Self::parse("0.0.0.0", port)
    }

    /// Copies a socket address the CM holds (any family).
    ///
    /// # Safety
    ///
    /// `raw` points at a readable `sockaddr_storage`.
    pub(crate) unsafe fn from_storage(raw: *const bindings::__kernel_sockaddr_storage) -> Address {
        Address {
            // SAFETY: Readable per the contract; plain data.
            raw: unsafe { ptr::read(raw) },
        }
    }

    /// The address as upstream RTRS writes it in sysfs and logs
    /// (`rtrs.c:sockaddr_to_str()`): `ip:<IPv4>`, `ip:<IPv6, compressed>`
    /// or `gid:<GID>`.
    pub fn to_rtrs_string(&self) -> Result<CString> {
        let mut buf = [0u8; 64];
        // SAFETY: Every sockaddr starts with its family.
        let family = u32::from(unsafe { (*self.as_sockaddr()).sa_family });
        let (format, addr): (&CStr, *const core::ffi::c_void) = match family {
            bindings::AF_INET => {
                let sin = self.as_sockaddr().cast::<bindings::sockaddr_in>();
                // SAFETY: An AF_INET storage holds a `sockaddr_in`.
                (
                    c_str!("ip:%pI4"),
                    unsafe { ptr::addr_of!((*sin).sin_addr) }.cast(),
                )
            }
            bindings::AF_INET6 => {
                let sin6 = self.as_sockaddr().cast::<bindings::sockaddr_in6>();
                // SAFETY: An AF_INET6 storage holds a `sockaddr_in6`.
                (
                    c_str!("ip:%pI6c"),
                    unsafe { ptr::addr_of!((*sin6).sin6_addr) }.cast(),
                )
            }
            bindings::AF_IB => {
                // `struct sockaddr_ib` (not in the bindings): family,
                // pkey, flow info, then the 16-byte GID at offset 8.
                let gid = self.as_sockaddr().cast::<u8>().wrapping_add(8);
                (c_str!("gid:%pI6"), gid.cast())
            }
            _ => (c_str!("<invalid address family>"), ptr::null()),
        };
        // SAFETY: `buf` is writable for its length; the format takes one
        // pointer to an address of the family's size (or none), which
        // lives in `self`.
        let len = unsafe {
            bindings::scnprintf(
                buf.as_mut_ptr().cast(),
                buf.len(),
                format.as_char_ptr(),
                addr,
            )
        };
        let len = usize::try_from(len).map_err(|_| EINVAL)?.min(buf.len() - 1);
        let text = core::str::from_utf8(&buf[..len]).map_err(|_| EINVAL)?;
        CString::try_from_fmt(fmt!("{}", text))
    }

    pub(crate) fn as_sockaddr(&self) -> *const bindings::sockaddr {
        core::ptr::from_ref::<bindings::__kernel_sockaddr_storage>(&self.raw).cast()
    }
}
