// SPDX-License-Identifier: GPL-2.0

//! rnbd_blk_test: exercises the block abstractions the way RNBD uses them,
//! with no `unsafe`: each disk it creates is a blk-mq disk whose limits
//! and size come from a backing block device at run time, and whose
//! requests become bios on that device (see `forward.rs`). The
//! `blk-ramdisk-1vm` scenario drives it from a shell.
//!
//! ```text
//! /sys/devices/virtual/rnbd-blk-test/ctl/
//!     create      write "<path> [<logical block size>]": open it
//!                 read-write and exclusively, and create
//!                 /dev/rnbdblktest<N> forwarding to it, with the backing
//!                 device's limits (or a larger logical block size)
//!     destroy     write <name>: remove that disk (IO in flight finishes)
//!     resize      write "<name> <sectors>": set its capacity, at most the
//!                 backing device's
//!     read_only   write "<name> 0|1"
//!     inject      write "<name> <N>": hand every Nth dispatch back to
//!                 blk-mq once, alternately as busy and as a requeue (0:
//!                 never)
//!     disks       one line per disk: <name> <path> <sectors> <read-only>
//!     stats       one line per disk: <name> <counter>=<value> ...
//! ```

use kernel::c_str;
use kernel::prelude::*;
use kernel::sync::Arc;

#[path = "../../../kernel/rust/kernel_ext/mod.rs"]
mod kernel_ext;

mod ctl;
mod forward;

use ctl::{Ctl, Shared, CTL_ATTRIBUTES, MINORS_PER_DISK};
use kernel_ext::block::Major;
use kernel_ext::sysfs::{Class, ClassDevice};

module! {
    type: BlkTest,
    name: "rnbd_blk_test",
    author: "rnbd-rs developers",
    description: "rnbd-rs proof module for the block abstractions",
    license: "GPL",
}

struct BlkTest {
    shared: Arc<Shared>,
    _ctl: Arc<ClassDevice<Ctl>>,
}

impl kernel::Module for BlkTest {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let major = Major::register(c_str!("rnbdblktest"), MINORS_PER_DISK)?;
        let class = Class::register(c_str!("rnbd-blk-test"))?;
        let shared = Shared::new(major)?;
        let ctl = ClassDevice::create(
            &class,
            c_str!("ctl"),
            Ctl {
                shared: shared.clone(),
            },
            &CTL_ATTRIBUTES,
        )?;
        pr_info!("ready at /sys/devices/virtual/rnbd-blk-test/ctl\n");
        Ok(BlkTest { shared, _ctl: ctl })
    }
}

impl Drop for BlkTest {
    fn drop(&mut self) {
        let disks = self.shared.shutdown();
        pr_info!("unloaded, {} disk(s) removed\n", disks);
    }
}
