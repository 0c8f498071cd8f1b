// SPDX-License-Identifier: GPL-2.0

//! `map_device` parsing, exactly as upstream
//! `rnbd-clt-sysfs.c:rnbd_clt_parse_map_options()` (spec
//! `rnbd-rtrs-protocol.md` §8.1.1), and the other `ctl` and device files'
//! input. The `path=` values are RTRS addresses (`rtrs/common/addr.rs`),
//! the text rules the kernel's (`rtrs/common/text.rs`), the access mode
//! and name limit the RNBD protocol's (`proto`).
//!
//! One definition, `no_std`, only `core`, no `unsafe`, no kernel types:
//! compiled into `rnbd_client.ko` by path and into the host crate
//! `tools/wire` (`rnbd_wire::map_opts`), where `tests/map_opts.rs` checks
//! every boundary of the grammar. Results borrow from the input.

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

use crate::addr::{parse_path, AddrError, PathSpec};
use crate::proto::{AccessMode, NAME_MAX, RTRS_PORT};
use crate::text::{c_str, match_int, strstrip, sysfs_streq};

/// `rnbd_clt_map_device_store()`: `struct rtrs_addr paths[6]`.
pub const MAX_PATHS: usize = 6;
/// What `strscpy(dst, src, NAME_MAX)` keeps of a 255-byte value.
pub const NAME_KEEP: usize = NAME_MAX - 1;

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

impl From<AddrError> for ParseError {
    fn from(e: AddrError) -> Self {
        match e {
            AddrError::Inval => ParseError::Inval,
            AddrError::ProtoNoSupport => ParseError::ProtoNoSupport,
        }
    }
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
            opt.access_mode = AccessMode::from_name(v).ok_or(ParseError::Inval)?;
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
