// SPDX-License-Identifier: GPL-2.0

//! `map_device` parsing, exactly as upstream
//! `rnbd-clt-sysfs.c:rnbd_clt_parse_map_options()` with
//! `rtrs.c:rtrs_addr_to_sockaddr()` and the kernel's `lib/parser.c`,
//! `in4_pton()`/`in6_pton()` and `inet_pton_with_scope()` (spec
//! `rnbd-rtrs-protocol.md` §8.1.1).
//!
//! One definition, `no_std`, only `core`, no `unsafe`, no kernel types:
//! compiled into `rnbd_client.ko` by path and into the host crate
//! `tools/wire` (`rnbd_wire::map_opts`), where `tests/map_opts.rs` checks
//! every boundary of the grammar. Results borrow from the input.
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

/// `rnbd_clt_map_device_store()`: `struct rtrs_addr paths[6]`.
pub const MAX_PATHS: usize = 6;
/// `NAME_MAX`: longer `sessname`/`device_path` values are refused.
pub const NAME_MAX: usize = 255;
/// What `strscpy(dst, src, NAME_MAX)` keeps of a 255-byte value.
pub const NAME_KEEP: usize = NAME_MAX - 1;
/// `RTRS_PORT`, the default `dest_port`.
pub const RTRS_PORT: u16 = 1234;
/// `INET_ADDRSTRLEN`, `INET6_ADDRSTRLEN` (`inet4_pton()`, `inet6_pton()`).
const INET_ADDRSTRLEN: usize = 16;
const INET6_ADDRSTRLEN: usize = 48;
/// `lib/parser.c`'s `NUMBER_BUF_LEN`.
const NUMBER_BUF_LEN: usize = 24;
/// `inet6_pton()`'s `char scope_id[16]`.
const SCOPE_MAX: usize = 15;

/// The errnos `map_device` parsing returns (positive values, x86).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// `-EINVAL`: unknown token, empty or malformed value, bad source
    /// address, bad IP or GID, range, length, a mandatory option missing.
    Inval,
    /// `-ENOMEM`: a 7th `path=` (sic, upstream).
    NoMem,
    /// `-EPROTONOSUPPORT`: a destination without `ip:` or `gid:`.
    ProtoNoSupport,
}

impl ParseError {
    /// The positive errno.
    pub const fn errno(self) -> i32 {
        match self {
            ParseError::Inval => 22,
            ParseError::NoMem => 12,
            ParseError::ProtoNoSupport => 93,
        }
    }
}

/// `enum rnbd_access_mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessMode {
    Ro,
    Rw,
    Migration,
}

impl AccessMode {
    /// The `access_mode` sysfs text (`rnbd_access_modes[].str`).
    pub const fn as_str(self) -> &'static str {
        match self {
            AccessMode::Ro => "ro",
            AccessMode::Rw => "rw",
            AccessMode::Migration => "migration",
        }
    }

    /// The OPEN message's `access_mode` byte.
    pub const fn wire(self) -> u8 {
        match self {
            AccessMode::Ro => 0,
            AccessMode::Rw => 1,
            AccessMode::Migration => 2,
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

/// The options of one `map_device` write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapOptions<'a> {
    /// At most [`NAME_KEEP`] bytes (longer ones are cut, as `strscpy`).
    pub sessname: &'a [u8],
    /// At most [`NAME_KEEP`] bytes.
    pub device_path: &'a [u8],
    pub paths: [Option<PathSpec<'a>>; MAX_PATHS],
    pub path_cnt: usize,
    /// The last `dest_port=` (the session port), default 1234.
    pub dest_port: u16,
    pub access_mode: AccessMode,
    /// `-1` is already replaced by `nr_cpu_ids`.
    pub nr_poll_queues: u32,
}

impl<'a> MapOptions<'a> {
    /// The parsed paths.
    pub fn paths(&self) -> impl Iterator<Item = &PathSpec<'a>> {
        self.paths.iter().flatten()
    }
}

/// The kernel's `isspace()` (`lib/ctype.c`: 9-13, space and 0xA0).
pub const fn is_space(c: u8) -> bool {
    matches!(c, 9..=13 | b' ' | 0xA0)
}

/// `strstrip()`.
pub fn strstrip(s: &[u8]) -> &[u8] {
    let mut start = 0;
    let mut end = s.len();
    while end > 0 && s.get(end.wrapping_sub(1)).is_some_and(|&c| is_space(c)) {
        end = end.wrapping_sub(1);
    }
    while start < end && s.get(start).is_some_and(|&c| is_space(c)) {
        start = start.wrapping_add(1);
    }
    s.get(start..end).unwrap_or(&[])
}

/// The string as C sees it: up to the first NUL (`kstrdup()`).
pub fn c_str(s: &[u8]) -> &[u8] {
    match s.iter().position(|&c| c == 0) {
        Some(nul) => s.get(..nul).unwrap_or(&[]),
        None => s,
    }
}

/// `sysfs_streq()`: equal, ignoring one trailing newline on either side.
pub fn sysfs_streq(a: &[u8], b: &[u8]) -> bool {
    fn cut(s: &[u8]) -> &[u8] {
        let s = c_str(s);
        match s.split_last() {
            Some((b'\n', rest)) => rest,
            _ => s,
        }
    }
    cut(a) == cut(b)
}

fn digit_value(c: u8) -> Option<u64> {
    match c {
        b'0'..=b'9' => Some(u64::from(c.wrapping_sub(b'0'))),
        b'a'..=b'f' => Some(u64::from(c.wrapping_sub(b'a')).wrapping_add(10)),
        b'A'..=b'F' => Some(u64::from(c.wrapping_sub(b'A')).wrapping_add(10)),
        _ => None,
    }
}

/// `simple_strtoull(s, &end, base)`: the value (wrapping, as the kernel's
/// `_parse_integer_limit()` does) and how many bytes it consumed.
fn simple_strtoull(s: &[u8], base: u32) -> (u64, usize) {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut base = u64::from(base);
    let mut pos = 0usize;
    if base == 0 {
        if at(0) == b'0' {
            base = if at(1).eq_ignore_ascii_case(&b'x') && at(2).is_ascii_hexdigit() {
                16
            } else {
                8
            };
        } else {
            base = 10;
        }
    }
    if base == 16 && at(0) == b'0' && at(1).eq_ignore_ascii_case(&b'x') {
        pos = 2;
    }
    let mut value: u64 = 0;
    while let Some(d) = digit_value(at(pos)) {
        if d >= base {
            break;
        }
        value = value.wrapping_mul(base).wrapping_add(d);
        pos = pos.wrapping_add(1);
    }
    (value, pos)
}

/// `simple_strtol(s, &end, 0)`.
fn simple_strtol(s: &[u8]) -> (i64, usize) {
    if s.first() == Some(&b'-') {
        let (v, used) = simple_strtoull(s.get(1..).unwrap_or(&[]), 0);
        (v.wrapping_neg() as i64, used.wrapping_add(1))
    } else {
        let (v, used) = simple_strtoull(s, 0);
        (v as i64, used)
    }
}

/// A `%d` token value: `match_one()` (a number filling the whole value)
/// then `match_int()` (at most 23 bytes, within `int`). `None` is what
/// upstream turns into `-EINVAL`.
pub fn match_int(value: &[u8]) -> Option<i32> {
    let (_, used) = simple_strtol(value);
    if used == 0 || used != value.len() {
        return None;
    }
    if value.len() >= NUMBER_BUF_LEN {
        return None;
    }
    let (v, _) = simple_strtol(value);
    i32::try_from(v).ok()
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
pub fn parse_ip(text: &[u8]) -> Result<Host<'_>, ParseError> {
    let text = c_str(text);
    if text.len() <= INET_ADDRSTRLEN {
        if let Ok((v4, _)) = in4_pton(text, Delim::Byte(b'\n')) {
            return Ok(Host::Ip4(v4));
        }
    }
    if text.len() > INET6_ADDRSTRLEN {
        return Err(ParseError::Inval);
    }
    let (addr, end) = in6_pton(text, Delim::Byte(b'%')).map_err(|_| ParseError::Inval)?;
    let mut scope = None;
    if ipv6_is_linklocal(&addr) && end != text.len() && text.get(end) == Some(&b'%') {
        let rest = text.get(end.wrapping_add(1)..).unwrap_or(&[]);
        let rest = rest.get(..rest.len().min(SCOPE_MAX)).unwrap_or(&[]);
        // Neither a device nor a number (`kstrtouint("")`).
        if rest.is_empty() {
            return Err(ParseError::Inval);
        }
        scope = Some(rest);
    }
    Ok(Host::Ip6 { addr, scope })
}

/// `rtrs_str_to_sockaddr(addr, len, port)`: `addr` is the part of the
/// path; `following` whether more text follows it in the token (the C
/// `strncmp`s look past `len`, which matters for nothing but is kept).
pub fn parse_addr(addr: &[u8], port: u16) -> Result<Addr<'_>, ParseError> {
    if let Some(gid) = addr.strip_prefix(b"gid:") {
        let (raw, _) = in6_pton(gid, Delim::Byte(0)).map_err(|_| ParseError::Inval)?;
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
    Err(ParseError::ProtoNoSupport)
}

/// `rtrs_addr_to_sockaddr(str, len, port)`: `[src,]dst` or `[src@]dst`,
/// `,` searched first.
pub fn parse_path(text: &[u8], port: u16) -> Result<PathSpec<'_>, ParseError> {
    let sep = text
        .iter()
        .position(|&c| c == b',')
        .or_else(|| text.iter().position(|&c| c == b'@'));
    match sep {
        Some(at) => {
            let src = text.get(..at).unwrap_or(&[]);
            let dst = text.get(at.wrapping_add(1)..).unwrap_or(&[]);
            let src = parse_addr(src, 0).map_err(|_| ParseError::Inval)?;
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

/// `strscpy(dst, value, NAME_MAX)` after the `strlen > NAME_MAX` check.
fn name(value: &[u8]) -> Result<&[u8], ParseError> {
    if value.len() > NAME_MAX {
        return Err(ParseError::Inval);
    }
    Ok(value.get(..value.len().min(NAME_KEEP)).unwrap_or(value))
}

/// `rnbd_clt_parse_map_options()` over what was written to `map_device`
/// (`nr_cpu_ids` bounds `nr_poll_queues`).
pub fn parse(input: &[u8], nr_cpu_ids: u32) -> Result<MapOptions<'_>, ParseError> {
    let mut opt = MapOptions {
        sessname: &[],
        device_path: &[],
        paths: [None; MAX_PATHS],
        path_cnt: 0,
        dest_port: RTRS_PORT,
        access_mode: AccessMode::Rw,
        nr_poll_queues: 0,
    };
    let mut have_sessname = false;
    let mut have_device_path = false;
    for token in strstrip(c_str(input)).split(|&c| c == b' ') {
        if token.is_empty() {
            continue;
        }
        // `match_token()`: the patterns in table order; `%s` needs a
        // non-empty value, `%d` a number filling the value.
        if let Some(v) = token.strip_prefix(b"path=").filter(|v| !v.is_empty()) {
            let slot = opt.paths.get_mut(opt.path_cnt).ok_or(ParseError::NoMem)?;
            *slot = Some(parse_path(v, opt.dest_port)?);
            opt.path_cnt = opt.path_cnt.wrapping_add(1);
        } else if let Some(v) = token
            .strip_prefix(b"device_path=")
            .filter(|v| !v.is_empty())
        {
            opt.device_path = name(v)?;
            have_device_path = true;
        } else if let Some(n) = token.strip_prefix(b"dest_port=").and_then(match_int) {
            opt.dest_port = u16::try_from(n).map_err(|_| ParseError::Inval)?;
        } else if let Some(v) = token
            .strip_prefix(b"access_mode=")
            .filter(|v| !v.is_empty())
        {
            opt.access_mode = match v {
                b"ro" => AccessMode::Ro,
                b"rw" => AccessMode::Rw,
                b"migration" => AccessMode::Migration,
                _ => return Err(ParseError::Inval),
            };
        } else if let Some(v) = token.strip_prefix(b"sessname=").filter(|v| !v.is_empty()) {
            opt.sessname = name(v)?;
            have_sessname = true;
        } else if let Some(n) = token.strip_prefix(b"nr_poll_queues=").and_then(match_int) {
            if n < -1 || i64::from(n) > i64::from(nr_cpu_ids) {
                return Err(ParseError::Inval);
            }
            opt.nr_poll_queues = if n == -1 { nr_cpu_ids } else { n as u32 };
        } else {
            return Err(ParseError::Inval);
        }
    }
    if !have_device_path || !have_sessname {
        return Err(ParseError::Inval);
    }
    Ok(opt)
}

/// The `ctl/devices/` link name (`rnbd_clt_get_path_name()`): the device
/// path with every `/` as `!`, `@`, the session name. Returns the length
/// written, or `None` if `out` is too small.
pub fn symlink_name(device_path: &[u8], sessname: &[u8], out: &mut [u8]) -> Option<usize> {
    let len = device_path
        .len()
        .checked_add(sessname.len())?
        .checked_add(1)?;
    let out = out.get_mut(..len)?;
    let (path_out, rest) = out.split_at_mut(device_path.len());
    for (o, &c) in path_out.iter_mut().zip(device_path) {
        *o = if c == b'/' { b'!' } else { c };
    }
    let (at, sess_out) = rest.split_first_mut()?;
    *at = b'@';
    sess_out.copy_from_slice(sessname);
    Some(len)
}

/// `ctl/map_device`'s usage (§8.0 U1).
pub const MAP_DEVICE_USAGE: &str = "Usage: echo \"[dest_port=server port number] sessname=<name of the rtrs session> path=<[srcaddr@]dstaddr> [path=<[srcaddr@]dstaddr>] device_path=<full path on remote side> [access_mode=<ro|rw|migration>] [nr_poll_queues=<number of queues>]\" > map_device\n\naddr ::= [ ip:<ipv4> | ip:<ipv6> | gid:<gid> ]\n";

/// The `unmap_device` choice: `normal` or `force` after `strstrip`,
/// compared with `sysfs_streq`.
pub fn parse_unmap(input: &[u8]) -> Result<bool, ParseError> {
    let v = strstrip(c_str(input));
    if sysfs_streq(v, b"normal") {
        Ok(false)
    } else if sysfs_streq(v, b"force") {
        Ok(true)
    } else {
        Err(ParseError::Inval)
    }
}

/// `remap_device`: `1` after `strstrip`.
pub fn parse_remap(input: &[u8]) -> Result<(), ParseError> {
    if sysfs_streq(strstrip(c_str(input)), b"1") {
        Ok(())
    } else {
        Err(ParseError::Inval)
    }
}

/// `kstrtoul(buf, 0, &v)` for `resize`: `Err(22)` EINVAL, `Err(34)`
/// ERANGE.
pub fn kstrtoul(input: &[u8]) -> Result<u64, i32> {
    let s = c_str(input);
    // `kstrtoull` skips a leading '+', then needs digits, and allows one
    // trailing newline.
    let s = s.strip_prefix(b"+").unwrap_or(s);
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut base = 10u64;
    let mut pos = 0usize;
    if at(0) == b'0' {
        if at(1).eq_ignore_ascii_case(&b'x') && at(2).is_ascii_hexdigit() {
            base = 16;
            pos = 2;
        } else {
            base = 8;
        }
    }
    let mut value: u64 = 0;
    let mut overflow = false;
    let start = pos;
    while let Some(d) = digit_value(at(pos)) {
        if d >= base {
            break;
        }
        match value.checked_mul(base).and_then(|v| v.checked_add(d)) {
            Some(v) => value = v,
            None => overflow = true,
        }
        pos = pos.wrapping_add(1);
    }
    if pos == start {
        return Err(22);
    }
    if overflow {
        return Err(34);
    }
    let rest = s.get(pos..).unwrap_or(&[]);
    if !(rest.is_empty() || rest == b"\n") {
        return Err(22);
    }
    Ok(value)
}
