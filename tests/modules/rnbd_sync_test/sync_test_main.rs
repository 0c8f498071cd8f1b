// SPDX-License-Identifier: GPL-2.0

//! rnbd_sync_test: exercises kernel_ext's `_bh`/irqsave spinlocks,
//! completions, delayed work on a workqueue of its own, timers and module
//! parameters, with no `unsafe`. The `sync-1vm` scenario drives it:
//!
//! ```text
//! /sys/devices/virtual/rnbd-sync-test/ctl/
//!     command   write "<command> [number]" (see ctl.rs)
//!     stats     counters, one "name value" per line
//! /sys/module/rnbd_sync_test/parameters/
//!     port_nr always_invalidate max_chunk_size sess_queue_depth
//!     dev_search_path (0444), hb_interval_ms label (0644)
//! ```

use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::{c_str, fmt};

#[path = "../../../kernel/rust/kernel_ext/mod.rs"]
mod kernel_ext;

mod ctl;
mod params;
mod state;

use kernel_ext::sync::armed_callbacks;
use kernel_ext::sysfs::{Class, ClassDevice};
use kernel_ext::workqueue::Workqueue;

module! {
    type: SyncTest,
    name: "rnbd_sync_test",
    author: "rnbd-rs developers",
    description: "rnbd-rs proof module for the sync, workqueue, timer and parameter abstractions",
    license: "GPL",
}

struct SyncTest {
    state: Arc<state::State>,
    ctl: Option<Arc<ClassDevice<ctl::Ctl>>>,
}

impl kernel::Module for SyncTest {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        params::check_combination()?;
        let wq = Workqueue::new(c_str!("rnbd_sync_test_wq"), 0, 0)?;
        let state = state::State::new(&wq)?;
        let class = Class::register(c_str!("rnbd-sync-test"))?;
        let ctl = ClassDevice::create(
            &class,
            c_str!("ctl"),
            ctl::Ctl {
                state: state.clone(),
            },
            &ctl::CTL_ATTRIBUTES,
        )?;
        let path = params::DEV_SEARCH_PATH.to_cstring()?;
        pr_info!(
            "{}\n",
            fmt!(
                "loaded: port_nr={} always_invalidate={} max_chunk_size={} sess_queue_depth={} dev_search_path='{}'",
                params::PORT_NR.get(),
                if params::ALWAYS_INVALIDATE.get() { 'Y' } else { 'N' },
                params::MAX_CHUNK_SIZE.get(),
                params::SESS_QUEUE_DEPTH.get(),
                &*path
            )
        );
        Ok(SyncTest {
            state,
            ctl: Some(ctl),
        })
    }
}

impl Drop for SyncTest {
    fn drop(&mut self) {
        // First the files, so no command runs; then every work and timer,
        // whatever is armed.
        self.ctl = None;
        self.state.shut_down();
        pr_info!("unloaded: {} armed callbacks left\n", armed_callbacks());
    }
}
