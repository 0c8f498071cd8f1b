// SPDX-License-Identifier: GPL-2.0

//! RNBD client parameters. Upstream has none; `hold_io_sec` is ours
//! (`Documentation/client-admin.md`).

use crate::kernel_ext::param::module_param;

/// `RECONNECT_DELAY` of `rnbd-clt.c`: RTRS retries a lost path this often.
pub(crate) const RECONNECT_DELAY_SEC: u8 = 30;
/// `MAX_RECONNECTS`: forever.
pub(crate) const MAX_RECONNECTS: i16 = -1;

module_param! {
    pub(crate) static HOLD_IO_SEC: u32 = 64;
    name: "hold_io_sec", perm: 0o644,
    desc: "Seconds IO waits for a session to reconnect before it fails while no path is connected; 0 fails it at once as upstream (default: 64, the reconnect window: 30 s delay, 1 s back-off, 30 s connect timeout)",
}
