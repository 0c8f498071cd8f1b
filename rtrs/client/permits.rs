// SPDX-License-Identifier: GPL-2.0

//! Permits (`rtrs_clt_get_permit()`, protocol reference §4.1): one per
//! server buffer (`queue_depth` of them, shared by every path), taken
//! before a request and returned when it completes.

use core::sync::atomic::{AtomicUsize, Ordering};

use kernel::new_condvar;
use kernel::prelude::*;
use kernel::sync::{Arc, CondVar};

use super::ops::{ConType, PermitWait};
use crate::kernel_ext::sync::new_spinlock_bh;
use crate::kernel_ext::sync::SpinLockBh;

const WORD_BITS: usize = usize::BITS as usize;

/// The permits of a session: a bitmap taken and put back with one atomic
/// each, as upstream's `find_first_zero_bit()` + `test_and_set_bit()`;
/// the lock and the condition variable serve only `PermitWait::Wait`.
///
/// # Invariants
///
/// Bit `i` of `used` (word `i / WORD_BITS`) is set while permit `i` is
/// held; bits at `queue_depth` and above are always set. `waiters` counts
/// the callers between their last failed try and their wakeup; they wait
/// under `wait_lock`.
#[pin_data]
pub(crate) struct Permits {
    used: KVec<AtomicUsize>,
    waiters: AtomicUsize,
    #[pin]
    wait_lock: SpinLockBh<()>,
    #[pin]
    wait: CondVar,
}

impl Permits {
    pub(crate) fn new(queue_depth: u16) -> Result<Arc<Self>> {
        let qd = usize::from(queue_depth);
        let words = qd.div_ceil(WORD_BITS);
        let mut used = KVec::with_capacity(words, GFP_KERNEL)?;
        for w in 0..words {
            // The bits past the last permit are taken for good.
            let valid = (qd - w * WORD_BITS).min(WORD_BITS);
            let past = if valid == WORD_BITS {
                0
            } else {
                !0usize << valid
            };
            used.push(AtomicUsize::new(past), GFP_KERNEL)?;
        }
        Arc::pin_init(
            pin_init!(Permits {
                used,
                waiters: AtomicUsize::new(0),
                wait_lock <- new_spinlock_bh!((), "Permits::wait_lock"),
                wait <- new_condvar!("Permits::wait"),
            }),
            GFP_KERNEL,
        )
    }

    /// Takes the lowest free permit, if there is one.
    fn try_take(&self) -> Option<u16> {
        for (w, word) in self.used.iter().enumerate() {
            let mut cur = word.load(Ordering::Relaxed);
            while cur != !0 {
                let bit = (!cur).trailing_zeros() as usize;
                let mask = 1usize << bit;
                let prev = word.fetch_or(mask, Ordering::Acquire);
                if prev & mask == 0 {
                    return Some((w * WORD_BITS + bit) as u16);
                }
                cur = prev | mask;
            }
        }
        None
    }

    /// `__rtrs_get_permit()` / `rtrs_clt_get_permit()`.
    pub(crate) fn get(self: &Arc<Self>, con_type: ConType, wait: PermitWait) -> Option<Permit> {
        let mem_id = match self.try_take() {
            Some(i) => i,
            None if wait == PermitWait::NoWait => return None,
            None => self.take_waiting(),
        };
        Some(Permit {
            permits: self.clone(),
            mem_id,
            con_type,
            cpu: crate::kernel_ext::context::cpu_id(),
        })
    }

    /// Sleeps until a permit is free (process context).
    fn take_waiting(&self) -> u16 {
        let mut guard = self.wait_lock.lock();
        // Counted before the next try: a `put` after that try sees us
        // and wakes us under the lock (no lost wakeup).
        self.waiters.fetch_add(1, Ordering::SeqCst);
        loop {
            if let Some(i) = self.try_take() {
                self.waiters.fetch_sub(1, Ordering::SeqCst);
                return i;
            }
            self.wait.wait(&mut guard);
        }
    }

    fn put(&self, mem_id: u16) {
        let i = usize::from(mem_id);
        if let Some(word) = self.used.get(i / WORD_BITS) {
            word.fetch_and(!(1usize << (i % WORD_BITS)), Ordering::SeqCst);
        }
        // Pairs with the waiter's count before its try (both SeqCst).
        if self.waiters.load(Ordering::SeqCst) > 0 {
            let _guard = self.wait_lock.lock();
            self.wait.notify_one();
        }
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
