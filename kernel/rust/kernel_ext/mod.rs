// SPDX-License-Identifier: GPL-2.0

//! rnbd-rs's safe abstractions over kernel APIs that Linux 6.12's `kernel`
//! crate lacks.
//!
//! This is the only layer that touches `bindings::` or writes `unsafe`.
//! Out-of-tree modules cannot link against a shared Rust library crate in
//! 6.12, so each module compiles this tree into itself:
//!
//! ```ignore
//! #[path = "<repo>/kernel/rust/kernel_ext/mod.rs"]
//! mod kernel_ext;
//! ```
//!
//! It must be mounted under that name at the crate root, next to
//! `module!`: the macros it exports (`new_spinlock_bh!`,
//! `new_delayed_work!`, `module_param!`, ...) name
//! `$crate::kernel_ext::...` and `crate::THIS_MODULE`.
//!
//! Not every module uses every part, hence the `dead_code` allowance; and
//! its `pub` items are a library's API even though, compiled into a module
//! crate, nothing outside that crate can reach them (`unreachable_pub`).
#![allow(dead_code, unreachable_pub)]

pub mod bindings;
pub mod block;
pub mod callback;
pub mod context;
pub mod cpu;
pub mod delay;
pub mod errno;
pub mod fs;
pub mod module_ref;
pub mod param;
pub mod rdma;
pub mod scatterlist;
pub mod sync;
pub mod sysfs;
pub mod timer;
pub mod trace;
pub mod workqueue;
