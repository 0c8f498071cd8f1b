// SPDX-License-Identifier: GPL-2.0

//! RNBD server parameters (`rnbd-srv.c`, protocol reference §7).

use kernel::error::{code::*, Result};

use crate::kernel_ext::param::{module_param, module_param_string};

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

module_param! {
    pub(crate) static PORT_NR: u16 = crate::proto::RTRS_PORT;
    name: "port_nr", perm: 0o444,
    desc: "The port number the server is listening on (default: 1234)",
}

module_param_string! {
    pub(crate) static DEV_SEARCH_PATH: StringParam<4096> = "/";
    name: "dev_search_path", perm: 0o444,
    desc: "Sets the dev_search_path. When a device is mapped this path is prepended to the device path from the map device operation.  If %SESSNAME% is specified in a path, then device will be searched in a session namespace. (default: /)",
    check: dev_search_path_set,
}

module_param! {
    pub(crate) static MAX_ERRORS: u32 = 64;
    name: "max_errors", perm: 0o644,
    desc: "Malformed RNBD messages a session may send before the server closes it; 0: no limit (default: 64)",
}
