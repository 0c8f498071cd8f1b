// SPDX-License-Identifier: GPL-2.0

//! The module parameters: RNBD's and RTRS's server parameters with their
//! upstream names, types, permissions, defaults and validation (protocol
//! reference §7), and two writable ones to test sysfs writes.

use kernel::error::{code::*, Result};
use kernel::fmt;

use crate::kernel_ext::param::{module_param, module_param_string};
use crate::kernel_ext::sysfs::ShowBuffer;

/// RTRS's smallest chunk.
const MIN_CHUNK_SIZE: i32 = 8192;
/// RTRS's largest session queue depth.
const MAX_SESS_QUEUE_DEPTH: i32 = 65535;
/// Bits of an RDMA immediate that carry buffer id and offset.
const MAX_IMM_PAYL_BITS: u32 = 28;

fn check_chunk_size(size: i32) -> Result {
    if size < MIN_CHUNK_SIZE || size.count_ones() != 1 {
        return Err(EINVAL);
    }
    Ok(())
}

fn check_queue_depth(depth: i32) -> Result {
    if !(1..=MAX_SESS_QUEUE_DEPTH).contains(&depth) {
        return Err(EINVAL);
    }
    Ok(())
}

/// As `rnbd-srv.c:dev_search_path_set`: refuse 4096 bytes or more, keep
/// what precedes the last newline.
fn dev_search_path_set(value: &[u8]) -> Result<&[u8]> {
    if value.len() >= 4096 {
        return Err(EINVAL);
    }
    Ok(match value.iter().rposition(|&c| c == b'\n') {
        Some(newline) => &value[..newline],
        None => value,
    })
}

fn check_interval(ms: u32) -> Result {
    if !(1..=10_000).contains(&ms) {
        return Err(EINVAL);
    }
    Ok(())
}

/// Lower-case letters only; one trailing newline (from `echo`) dropped.
fn check_label(value: &[u8]) -> Result<&[u8]> {
    let value = value.strip_suffix(b"\n").unwrap_or(value);
    if value.is_empty() || !value.iter().all(u8::is_ascii_lowercase) {
        return Err(EINVAL);
    }
    Ok(value)
}

module_param! {
    pub(crate) static PORT_NR: u16 = 1234;
    name: "port_nr", perm: 0o444,
    desc: "The port number the server is listening on (default: 1234)",
}

module_param! {
    pub(crate) static ALWAYS_INVALIDATE: bool = true;
    name: "always_invalidate", perm: 0o444,
    desc: "Invalidate memory registration for contiguous memory regions before accessing.",
}

module_param! {
    pub(crate) static MAX_CHUNK_SIZE: i32 = 131072;
    name: "max_chunk_size", perm: 0o444,
    desc: "Max size for each IO request, when change the unit is in byte (default: 128KB)",
    check: check_chunk_size,
}

module_param! {
    pub(crate) static SESS_QUEUE_DEPTH: i32 = 512;
    name: "sess_queue_depth", perm: 0o444,
    desc: "Number of buffers for pending I/O requests to allocate per session. Maximum: 65535 (default: 512)",
    check: check_queue_depth,
}

module_param_string! {
    pub(crate) static DEV_SEARCH_PATH: StringParam<4096> = "/";
    name: "dev_search_path", perm: 0o444,
    desc: "Sets the dev_search_path. When a device is mapped this path is prepended to the device path from the map device operation.  If %SESSNAME% is specified in a path, then device will be searched in a session namespace. (default: /)",
    check: dev_search_path_set,
}

module_param! {
    pub(crate) static HB_INTERVAL_MS: u32 = 10;
    name: "hb_interval_ms", perm: 0o644,
    desc: "Default heartbeat period of hb_start, 1 to 10000 ms (default: 10)",
    check: check_interval,
}

module_param_string! {
    pub(crate) static LABEL: StringParam<16> = "none";
    name: "label", perm: 0o644,
    desc: "Up to 15 lower-case letters (default: none)",
    check: check_label,
}

/// Checks what a single parameter cannot: the immediate data must hold a
/// buffer id and an offset (`rtrs-srv.c:check_module_params`).
pub(crate) fn check_combination() -> Result {
    let bits = |n: i32| 32 - (n as u32 - 1).leading_zeros();
    if bits(SESS_QUEUE_DEPTH.get()) + bits(MAX_CHUNK_SIZE.get()) > MAX_IMM_PAYL_BITS {
        kernel::pr_err!(
            "RDMA immediate size ({}b) not enough to encode {} buffers of size {}B\n",
            MAX_IMM_PAYL_BITS,
            SESS_QUEUE_DEPTH.get(),
            MAX_CHUNK_SIZE.get()
        );
        return Err(EINVAL);
    }
    Ok(())
}

/// The values as Rust reads them, for `stats`.
pub(crate) fn show(out: &mut ShowBuffer) -> Result {
    out.write_fmt(fmt!(
        "param_port_nr {}\nparam_always_invalidate {}\nparam_max_chunk_size {}\nparam_sess_queue_depth {}\nparam_hb_interval_ms {}\n",
        PORT_NR.get(),
        u8::from(ALWAYS_INVALIDATE.get()),
        MAX_CHUNK_SIZE.get(),
        SESS_QUEUE_DEPTH.get(),
        HB_INTERVAL_MS.get()
    ))?;
    DEV_SEARCH_PATH.read(|path| out.write_fmt(fmt!("param_dev_search_path {}\n", path)))?;
    LABEL.read(|label| out.write_fmt(fmt!("param_label {}\n", label)))
}
