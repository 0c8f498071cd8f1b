// SPDX-License-Identifier: GPL-2.0

//! Permits (`rtrs_clt_get_permit()`, protocol reference §4.1): one per
//! server buffer (`queue_depth` of them), taken before a request and
//! returned when it completes.

use super::ops::ConType;

/// A permit: the server buffer id it stands for, the connection type and
/// the CPU it was taken on. Dropping it puts it back and wakes a waiter.
pub(crate) struct Permit {
    mem_id: u16,
    con_type: ConType,
    cpu: u32,
}

impl Permit {
    /// The server buffer (chunk) id.
    pub(crate) fn mem_id(&self) -> u16 {
        self.mem_id
    }

    pub(crate) fn con_type(&self) -> ConType {
        self.con_type
    }

    /// The CPU it was taken on (chooses the IO connection).
    pub(crate) fn cpu(&self) -> u32 {
        self.cpu
    }
}
