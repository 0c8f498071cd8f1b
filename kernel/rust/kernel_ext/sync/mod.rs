// SPDX-License-Identifier: GPL-2.0

//! Locking that 6.12's `kernel::sync` lacks.

pub mod spinlock_bh;
