// SPDX-License-Identifier: GPL-2.0

//! RTRS server parameters (`rtrs-srv.c`, protocol reference §7). Upstream
//! they belong to `rtrs_server`; here RTRS is compiled into
//! `rnbd_server`, so they appear under `/sys/module/rnbd_server/`.

use kernel::error::{code::*, Result};

use crate::kernel_ext::param::module_param;
use crate::wire::{MAX_IMM_PAYL_BITS, MAX_SESS_QUEUE_DEPTH, MIN_CHUNK_SIZE};

module_param! {
    pub(crate) static ALWAYS_INVALIDATE: bool = true;
    name: "always_invalidate", perm: 0o444,
    desc: "Invalidate memory registration for contiguous memory regions before accessing.",
}

module_param! {
    pub(crate) static MAX_CHUNK_SIZE: i32 = 131072;
    name: "max_chunk_size", perm: 0o444,
    desc: "Max size for each IO request, when change the unit is in byte (default: (128 << 10)KB)",
}

module_param! {
    pub(crate) static SESS_QUEUE_DEPTH: i32 = 512;
    name: "sess_queue_depth", perm: 0o444,
    desc: "Number of buffers for pending I/O requests to allocate per session. Maximum: 65535 (default: 512)",
}

/// `ilog2(n - 1) + 1`, as upstream computes the bits of a buffer id.
pub(crate) fn bits(n: u32) -> u32 {
    32 - n.saturating_sub(1).leading_zeros()
}

/// `rtrs-srv.c:check_module_params()`, at module load, with upstream's
/// messages: the parameters take any integer, a bad one fails the load.
pub(crate) fn check_module_params() -> Result {
    let (qd, chunk) = (SESS_QUEUE_DEPTH.get(), MAX_CHUNK_SIZE.get());
    if !(1..=MAX_SESS_QUEUE_DEPTH as i32).contains(&qd) {
        kernel::pr_err!(
            "Invalid sess_queue_depth value {}, has to be >= {}, <= {}.\n",
            qd,
            1,
            MAX_SESS_QUEUE_DEPTH
        );
        return Err(EINVAL);
    }
    if chunk < MIN_CHUNK_SIZE as i32 || chunk.count_ones() != 1 {
        kernel::pr_err!(
            "Invalid max_chunk_size value {}, has to be >= {} and should be power of two.\n",
            chunk,
            MIN_CHUNK_SIZE
        );
        return Err(EINVAL);
    }
    if bits(qd as u32) + bits(chunk as u32) > MAX_IMM_PAYL_BITS {
        kernel::pr_err!(
            "RDMA immediate size ({}b) not enough to encode {} buffers of size {}B. Reduce 'sess_queue_depth' or 'max_chunk_size' parameters.\n",
            MAX_IMM_PAYL_BITS,
            qd,
            chunk
        );
        return Err(EINVAL);
    }
    Ok(())
}
