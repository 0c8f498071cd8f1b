// SPDX-License-Identifier: GPL-2.0

//! The RTRS address grammar: `path=` values of RNBD's `map_device` and of
//! RTRS's `add_path`, exactly as upstream `rtrs.c:rtrs_addr_to_sockaddr()`
//! with the kernel's `in4_pton()`/`in6_pton()` and
//! `inet_pton_with_scope()` (spec `rnbd-rtrs-protocol.md` §8.1.1).
//!
//! `no_std`, only `core`, no `unsafe`, no kernel types: compiled into the
//! client module by path and into the host crate `tools/wire`
//! (`rnbd_wire::addr`), where `tests/map_opts.rs` checks every boundary.
//! Results borrow from the input.
//!
//! What it cannot decide without the kernel is left to the caller: the
//! `%scope` of a link-local IPv6 address names a network device or is a
//! number (`dev_get_by_name()`, else `kstrtouint()`); the module converts
//! every `ip:` address with the kernel's own `inet_pton_with_scope()`,
//! which agrees with [`parse_ip`] on everything else.

#![allow(dead_code, unreachable_pub)]
#![forbid(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented,
    clippy::arithmetic_side_effects
)]

use crate::text::{c_str, digit_value};

/// `INET_ADDRSTRLEN`, `INET6_ADDRSTRLEN` (`inet4_pton()`, `inet6_pton()`).
const INET_ADDRSTRLEN: usize = 16;
const INET6_ADDRSTRLEN: usize = 48;
/// `inet6_pton()`'s `char scope_id[16]`.
const SCOPE_MAX: usize = 15;

/// Why an address does not parse (positive errnos, x86).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddrError {
    /// `-EINVAL`: a bad source address, IP or GID.
    Inval,
    /// `-EPROTONOSUPPORT`: a destination without `ip:` or `gid:`.
    ProtoNoSupport,
}

impl AddrError {
    /// The positive errno.
    pub const fn errno(self) -> i32 {
        match self {
            AddrError::Inval => 22,
            AddrError::ProtoNoSupport => 93,
        }
    }
}

/// A parsed address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host<'a> {
    /// `ip:<IPv4>` (`AF_INET`).
    Ip4([u8; 4]),
    /// `ip:<IPv6>[%scope]` (`AF_INET6`); `scope` only for link-local
    /// addresses (what `inet6_pton()` then resolves, at most 15 bytes).
    Ip6 {
        addr: [u8; 16],
        scope: Option<&'a [u8]>,
    },
    /// `gid:<GID>` (`AF_IB`).
    Gid([u8; 16]),
}

/// One address with its port (0 for a source, as upstream).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Addr<'a> {
    pub host: Host<'a>,
    pub port: u16,
    /// For `ip:`: the text after `ip:`, as `inet_pton_with_scope()` gets
    /// it; for `gid:` the text after `gid:`.
    pub text: &'a [u8],
}

/// One `path=` (`struct rtrs_addr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathSpec<'a> {
    pub src: Option<Addr<'a>>,
    pub dst: Addr<'a>,
}

// `in6_pton()`'s character classes (`net/core/utils.c`).
const IN6PTON_XDIGIT: u32 = 0x00010000;
const IN6PTON_DIGIT: u32 = 0x00020000;
const IN6PTON_COLON_MASK: u32 = 0x00700000;
const IN6PTON_COLON_1: u32 = 0x00100000;
const IN6PTON_COLON_2: u32 = 0x00200000;
const IN6PTON_COLON_1_2: u32 = 0x00400000;
const IN6PTON_DOT: u32 = 0x00800000;
const IN6PTON_DELIM: u32 = 0x10000000;
const IN6PTON_NULL: u32 = 0x20000000;
const IN6PTON_UNKNOWN: u32 = 0x40000000;

/// A delimiter for the `pton` functions: a byte, or none (`-1`).
#[derive(Clone, Copy)]
enum Delim {
    Byte(u8),
    None,
}

fn xdigit2bin(c: u8, delim: Delim) -> u32 {
    if c == 0 || matches!(delim, Delim::Byte(d) if d == c) {
        return IN6PTON_DELIM;
    }
    if c == b':' {
        return IN6PTON_COLON_MASK;
    }
    if c == b'.' {
        return IN6PTON_DOT;
    }
    if let Some(v) = digit_value(c) {
        let v = v as u32;
        return v | IN6PTON_XDIGIT | if v < 10 { IN6PTON_DIGIT } else { 0 };
    }
    if matches!(delim, Delim::None) {
        return IN6PTON_DELIM;
    }
    IN6PTON_UNKNOWN
}

/// `in4_pton(src, srclen, dst, delim, &end)`: the address and the offset
/// `end` points at, or `Err(end)`.
fn in4_pton(src: &[u8], delim: Delim) -> Result<([u8; 4], usize), usize> {
    let mut dbuf = [0u8; 4];
    let mut i = 0usize;
    let mut w: u32 = 0;
    let mut s = 0usize;
    loop {
        let ch = if s < src.len() {
            src.get(s).copied().unwrap_or(0)
        } else {
            0
        };
        let c = xdigit2bin(ch, delim);
        if c & (IN6PTON_DIGIT | IN6PTON_DOT | IN6PTON_DELIM | IN6PTON_COLON_MASK) == 0 {
            return Err(s);
        }
        if c & (IN6PTON_DOT | IN6PTON_DELIM | IN6PTON_COLON_MASK) != 0 {
            if w == 0 {
                return Err(s);
            }
            if let Some(d) = dbuf.get_mut(i) {
                *d = (w & 0xff) as u8;
            }
            w = 0;
            i = i.wrapping_add(1);
            if c & (IN6PTON_DELIM | IN6PTON_COLON_MASK) != 0 {
                if i != 4 {
                    return Err(s);
                }
                break;
            }
        } else {
            // C adds the whole class word (digit value plus flag bits);
            // the flags only touch the bits above 0xffff.
            w = w.wrapping_mul(10).wrapping_add(c);
            if (w & 0xffff) > 255 {
                return Err(s);
            }
        }
        if i >= 4 {
            return Err(s);
        }
        s = s.wrapping_add(1);
    }
    Ok((dbuf, s))
}

/// `in6_pton(src, srclen, dst, delim, &end)`.
fn in6_pton(src: &[u8], delim: Delim) -> Result<([u8; 16], usize), usize> {
    let mut dbuf = [0u8; 16];
    let mut d = 0usize; // index into dbuf
    let mut dc: Option<usize> = None;
    let mut tok: Option<usize> = None;
    let mut state = IN6PTON_COLON_1_2 | IN6PTON_XDIGIT | IN6PTON_NULL;
    let mut w: u32 = 0;
    let mut s = 0usize;
    loop {
        let ch = if s < src.len() {
            src.get(s).copied().unwrap_or(0)
        } else {
            0
        };
        let c = xdigit2bin(ch, delim);
        if c & state == 0 {
            return Err(s);
        }
        if c & (IN6PTON_DELIM | IN6PTON_COLON_MASK) != 0 {
            if state & IN6PTON_NULL == 0 {
                if let Some(b) = dbuf.get_mut(d) {
                    *b = ((w >> 8) & 0xff) as u8;
                }
                if let Some(b) = dbuf.get_mut(d.wrapping_add(1)) {
                    *b = (w & 0xff) as u8;
                }
                d = d.wrapping_add(2);
            }
            w = 0;
            if c & IN6PTON_DELIM != 0 {
                break;
            }
            match state & IN6PTON_COLON_MASK {
                IN6PTON_COLON_2 => {
                    dc = Some(d);
                    state = IN6PTON_XDIGIT | IN6PTON_DELIM;
                    if d >= 16 {
                        state |= IN6PTON_NULL;
                    }
                }
                x if x == IN6PTON_COLON_1 | IN6PTON_COLON_1_2 => {
                    state = IN6PTON_XDIGIT | IN6PTON_COLON_2;
                }
                IN6PTON_COLON_1 => state = IN6PTON_XDIGIT,
                IN6PTON_COLON_1_2 => state = IN6PTON_COLON_2,
                _ => state = 0,
            }
            tok = Some(s.wrapping_add(1));
        } else if c & IN6PTON_DOT != 0 {
            // `in4_pton(tok, srclen + (s - tok), d, delim, &s)`: the rest
            // of the string from the last token (set: a dot is only
            // allowed after a colon).
            let start = tok.unwrap_or(s);
            let rest = src.get(start..).unwrap_or(&[]);
            return match in4_pton(rest, delim) {
                Ok((v4, end)) => {
                    for (k, b) in v4.iter().enumerate() {
                        if let Some(slot) = dbuf.get_mut(d.wrapping_add(k)) {
                            *slot = *b;
                        }
                    }
                    d = d.wrapping_add(4);
                    Ok((finish_in6(&dbuf, d, dc), start.wrapping_add(end)))
                }
                Err(end) => Err(start.wrapping_add(end)),
            };
        } else {
            w = (w << 4) | (c & 0xff);
            state = IN6PTON_COLON_1 | IN6PTON_DELIM;
            if w & 0xf000 == 0 {
                state |= IN6PTON_XDIGIT;
            }
            if dc.is_none() && d.wrapping_add(2) < 16 {
                state |= IN6PTON_COLON_1_2;
                state &= !IN6PTON_DELIM;
            }
            if d.wrapping_add(2) >= 16 {
                state &= !(IN6PTON_COLON_1 | IN6PTON_COLON_1_2);
            }
        }
        // cont:
        if (dc.is_some() && d.wrapping_add(4) < 16) || d.wrapping_add(4) == 16 {
            state |= IN6PTON_DOT;
        }
        if d >= 16 {
            state &= !(IN6PTON_XDIGIT | IN6PTON_COLON_MASK);
        }
        s = s.wrapping_add(1);
    }
    Ok((finish_in6(&dbuf, d, dc), s))
}

/// The end of `in6_pton()`: the words after `::` move to the end.
fn finish_in6(dbuf: &[u8; 16], d: usize, dc: Option<usize>) -> [u8; 16] {
    let Some(dc) = dc else {
        return *dbuf;
    };
    let mut dst = [0u8; 16];
    let tail = d.saturating_sub(dc).min(16);
    let dst_start = 16usize.saturating_sub(tail);
    for k in 0..dc.min(16) {
        if let (Some(o), Some(i)) = (dst.get_mut(k), dbuf.get(k)) {
            *o = *i;
        }
    }
    for k in 0..tail {
        if let (Some(o), Some(i)) = (
            dst.get_mut(dst_start.wrapping_add(k)),
            dbuf.get(dc.wrapping_add(k)),
        ) {
            *o = *i;
        }
    }
    dst
}

/// `ipv6_addr_type() & IPV6_ADDR_LINKLOCAL`.
fn ipv6_is_linklocal(a: &[u8; 16]) -> bool {
    let top = u32::from_be_bytes([a[0], a[1], a[2], a[3]]);
    if top & 0xE000_0000 != 0 && top & 0xE000_0000 != 0xE000_0000 {
        return false;
    }
    if top & 0xFF00_0000 == 0xFF00_0000 {
        return a[1] & 0x0f == 0x02;
    }
    top & 0xFFC0_0000 == 0xFE80_0000
}

/// `inet_pton_with_scope(AF_UNSPEC, text, port)`, scope left unresolved.
pub fn parse_ip(text: &[u8]) -> Result<Host<'_>, AddrError> {
    let text = c_str(text);
    if text.len() <= INET_ADDRSTRLEN {
        if let Ok((v4, _)) = in4_pton(text, Delim::Byte(b'\n')) {
            return Ok(Host::Ip4(v4));
        }
    }
    if text.len() > INET6_ADDRSTRLEN {
        return Err(AddrError::Inval);
    }
    let (addr, end) = in6_pton(text, Delim::Byte(b'%')).map_err(|_| AddrError::Inval)?;
    let mut scope = None;
    if ipv6_is_linklocal(&addr) && end != text.len() && text.get(end) == Some(&b'%') {
        let rest = text.get(end.wrapping_add(1)..).unwrap_or(&[]);
        let rest = rest.get(..rest.len().min(SCOPE_MAX)).unwrap_or(&[]);
        // Neither a device nor a number (`kstrtouint("")`).
        if rest.is_empty() {
            return Err(AddrError::Inval);
        }
        scope = Some(rest);
    }
    Ok(Host::Ip6 { addr, scope })
}

/// `rtrs_str_to_sockaddr(addr, len, port)`: `addr` is the part of the
/// path; `following` whether more text follows it in the token (the C
/// `strncmp`s look past `len`, which matters for nothing but is kept).
pub fn parse_addr(addr: &[u8], port: u16) -> Result<Addr<'_>, AddrError> {
    if let Some(gid) = addr.strip_prefix(b"gid:") {
        let (raw, _) = in6_pton(gid, Delim::Byte(0)).map_err(|_| AddrError::Inval)?;
        return Ok(Addr {
            host: Host::Gid(raw),
            port,
            text: gid,
        });
    }
    if let Some(ip) = addr.strip_prefix(b"ip:") {
        return Ok(Addr {
            host: parse_ip(ip)?,
            port,
            text: ip,
        });
    }
    Err(AddrError::ProtoNoSupport)
}

/// `rtrs_addr_to_sockaddr(str, len, port)`: `[src,]dst` or `[src@]dst`,
/// `,` searched first.
pub fn parse_path(text: &[u8], port: u16) -> Result<PathSpec<'_>, AddrError> {
    let sep = text
        .iter()
        .position(|&c| c == b',')
        .or_else(|| text.iter().position(|&c| c == b'@'));
    match sep {
        Some(at) => {
            let src = text.get(..at).unwrap_or(&[]);
            let dst = text.get(at.wrapping_add(1)..).unwrap_or(&[]);
            let src = parse_addr(src, 0).map_err(|_| AddrError::Inval)?;
            Ok(PathSpec {
                src: Some(src),
                dst: parse_addr(dst, port)?,
            })
        }
        None => Ok(PathSpec {
            src: None,
            dst: parse_addr(text, port)?,
        }),
    }
}
