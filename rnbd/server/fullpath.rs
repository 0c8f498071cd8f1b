// SPDX-License-Identifier: GPL-2.0

//! The device path of an OPEN (`rnbd-srv.c:process_msg_open()`,
//! `rnbd_srv_get_full_path()`; protocol reference §6.6): the rules on the
//! client's name, `%SESSNAME%` expansion and `/` collapsing exactly as
//! upstream, and the directory the result must resolve under.

use kernel::prelude::*;
use kernel::str::{CStr, CString};

/// `PATH_MAX`.
pub(crate) const PATH_MAX: usize = 4096;

const SESSNAME: &[u8] = b"%SESSNAME%";

/// The full path of `dev_name` and the search directory it must stay
/// in, both NUL-terminated, runs of `/` collapsed.
pub(crate) struct FullPath {
    pub(crate) path: CString,
    pub(crate) base: CString,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Runs of `/` collapsed to one, as upstream's loop does (from the first
/// `/` on; there always is one).
fn collapse(raw: &[u8]) -> Result<CString> {
    let mut out = KVec::with_capacity(raw.len() + 1, GFP_KERNEL)?;
    let mut prev_slash = false;
    for &c in raw {
        if c == b'/' && prev_slash {
            continue;
        }
        prev_slash = c == b'/';
        out.push(c, GFP_KERNEL)?;
    }
    to_cstring(out)
}

/// `bytes` (no NUL inside) as a C string.
pub(crate) fn to_cstring(mut bytes: KVec<u8>) -> Result<CString> {
    bytes.push(0, GFP_KERNEL)?;
    let cstr = CStr::from_bytes_with_nul(&bytes).map_err(|_| EINVAL)?;
    CString::try_from(cstr).map_err(|_| ENOMEM)
}

fn concat(parts: &[&[u8]]) -> Result<KVec<u8>> {
    let mut out = KVec::new();
    for part in parts {
        out.extend_from_slice(part, GFP_KERNEL)?;
    }
    Ok(out)
}

/// Builds the path as upstream, with its checks, in its order: length of
/// search path + name ≥ `PATH_MAX`, `..` anywhere in the name, then the
/// expanded path ≥ `PATH_MAX` (all EINVAL).
pub(crate) fn full_path(search: &[u8], sessname: &[u8], dev_name: &[u8]) -> Result<FullPath> {
    if search.len() + dev_name.len() >= PATH_MAX {
        return Err(EINVAL);
    }
    if find(dev_name, b"..").is_some() {
        return Err(EINVAL);
    }
    let (path, base) = match find(search, SESSNAME) {
        // Anything after %SESSNAME% is dropped, as upstream.
        Some(at) => {
            let prefix = search.get(..at).unwrap_or(search);
            (
                concat(&[prefix, b"/", sessname, b"/", dev_name])?,
                concat(&[prefix, b"/", sessname, b"/"])?,
            )
        }
        None => (concat(&[search, b"/", dev_name])?, concat(&[search, b"/"])?),
    };
    // snprintf's `len >= PATH_MAX`.
    if path.len() >= PATH_MAX {
        return Err(EINVAL);
    }
    Ok(FullPath {
        path: collapse(&path)?,
        base: collapse(&base)?,
    })
}
