// SPDX-License-Identifier: GPL-2.0

//! Permits (`rtrs_clt_get_permit()`, protocol reference §4.1): one per
//! server buffer (`queue_depth` of them, shared by every path), taken
//! before a request and returned when it completes.

use kernel::new_condvar;
use kernel::prelude::*;
use kernel::sync::{Arc, CondVar};

use super::ops::{ConType, PermitWait};
use crate::kernel_ext::sync::new_spinlock_bh;
use crate::kernel_ext::sync::SpinLockBh;

/// The permits of a session.
#[pin_data]
pub(crate) struct Permits {
    #[pin]
    used: SpinLockBh<KVec<bool>>,
    #[pin]
    wait: CondVar,
}

impl Permits {
    pub(crate) fn new(queue_depth: u16) -> Result<Arc<Self>> {
        let mut used = KVec::with_capacity(usize::from(queue_depth), GFP_KERNEL)?;
        for _ in 0..queue_depth {
            used.push(false, GFP_KERNEL)?;
        }
        Arc::pin_init(
            pin_init!(Permits {
                used <- new_spinlock_bh!(used, "Permits::used"),
                wait <- new_condvar!("Permits::wait"),
            }),
            GFP_KERNEL,
        )
    }

    /// `__rtrs_get_permit()` / `rtrs_clt_get_permit()`.
    pub(crate) fn get(self: &Arc<Self>, con_type: ConType, wait: PermitWait) -> Option<Permit> {
        let mut used = self.used.lock();
        loop {
            if let Some(i) = used.iter().position(|u| !*u) {
                used[i] = true;
                drop(used);
                return Some(Permit {
                    permits: self.clone(),
                    mem_id: i as u16,
                    con_type,
                    cpu: crate::kernel_ext::context::cpu_id(),
                });
            }
            if wait == PermitWait::NoWait {
                return None;
            }
            self.wait.wait(&mut used);
        }
    }

    fn put(&self, mem_id: u16) {
        let mut used = self.used.lock();
        if let Some(u) = used.get_mut(usize::from(mem_id)) {
            *u = false;
        }
        drop(used);
        self.wait.notify_one();
    }
}

/// A permit: the server buffer id it stands for, the connection type and
/// the CPU it was taken on. Dropping it puts it back and wakes a waiter.
pub(crate) struct Permit {
    permits: Arc<Permits>,
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

impl Drop for Permit {
    fn drop(&mut self) {
        self.permits.put(self.mem_id);
    }
}
