// SPDX-License-Identifier: GPL-2.0

//! The test state: two spinlocks taken from three contexts, delayed works
//! and timers that belong to it, and a completion.

use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};

use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::time::Ktime;
use kernel::workqueue;

use crate::kernel_ext::delay::msleep;
use crate::kernel_ext::sync::{
    new_completion, new_spinlock_bh, new_spinlock_irq, Completion, SpinLockBh, SpinLockIrq,
};
use crate::kernel_ext::timer::{new_timer, Timer, TimerItem};
use crate::kernel_ext::workqueue::{new_delayed_work, DelayedWork, DelayedWorkItem, Workqueue};

/// Ids of the delayed works and timers of [`State`].
pub(crate) const HEARTBEAT: u64 = 1;
pub(crate) const RECONNECT: u64 = 2;
pub(crate) const COMPLETER: u64 = 3;
pub(crate) const STRESS: u64 = 1;
pub(crate) const ONESHOT: u64 = 2;

/// Increments per stress timer tick.
const TICK_INCREMENTS: u64 = 64;

fn now_ns() -> i64 {
    Ktime::ktime_get().to_ns()
}

fn ms_since(start_ns: i64) -> i64 {
    (now_ns() - start_ns) / 1_000_000
}

/// Counters and settings, outside any lock.
#[derive(Default)]
pub(crate) struct Counters {
    /// Increments done by each context, counted outside the locks: if the
    /// locks exclude, each locked counter equals their sum.
    pub(crate) incs_timer: AtomicU64,
    pub(crate) incs_work: AtomicU64,
    pub(crate) incs_process: AtomicU64,

    pub(crate) stress_ticks: AtomicU64,
    /// Tick at which the stress timer cancels itself (0: never), and how
    /// often that cancel found it re-armed.
    pub(crate) stress_stop_at: AtomicU64,
    pub(crate) stress_self_cancelled: AtomicU64,

    pub(crate) hb_period_ms: AtomicU32,
    pub(crate) hb_ticks: AtomicU64,
    pub(crate) hb_in_callback: AtomicBool,
    pub(crate) hb_stop_at: AtomicU64,
    pub(crate) hb_self_cancelled: AtomicU64,
    pub(crate) hb_race_iterations: AtomicU64,
    pub(crate) hb_race_failures: AtomicU64,

    pub(crate) reconnect_armed_ns: AtomicI64,
    pub(crate) reconnect_fired: AtomicU64,
    pub(crate) reconnect_delay_ms: AtomicI64,
    pub(crate) reconnect_cancelled: AtomicU64,

    pub(crate) oneshot_armed_ns: AtomicI64,
    pub(crate) oneshot_fired: AtomicU64,
    pub(crate) oneshot_delay_ms: AtomicI64,
    pub(crate) oneshot_cancelled: AtomicU64,

    pub(crate) wq_spawned: AtomicU64,

    pub(crate) completer_all: AtomicBool,
    pub(crate) last_wait_ms: AtomicI64,
}

#[pin_data]
pub(crate) struct State {
    /// Incremented under the lock by the stress timer (softirq), the
    /// heartbeat work (process context, a worker) and `spin` commands
    /// (process context, the writer): the lock must be `_bh`.
    #[pin]
    pub(crate) counter: SpinLockBh<u64>,
    /// The same increments under an irqsave lock.
    #[pin]
    pub(crate) counter_irq: SpinLockIrq<u64>,
    /// A timer re-arming itself every millisecond, doing increments.
    #[pin]
    pub(crate) stress: Timer<State, STRESS>,
    /// A self-rearming delayed work, like RTRS's heartbeat.
    #[pin]
    pub(crate) heartbeat: DelayedWork<State, HEARTBEAT>,
    /// A one-off delayed work whose delay is changed, like RTRS's
    /// reconnect work.
    #[pin]
    pub(crate) reconnect: DelayedWork<State, RECONNECT>,
    /// A one-off timer.
    #[pin]
    pub(crate) oneshot: Timer<State, ONESHOT>,
    /// Completed by `completer` (or a command), waited on by commands.
    #[pin]
    pub(crate) done: Completion,
    #[pin]
    pub(crate) completer: DelayedWork<State, COMPLETER>,
    pub(crate) c: Counters,
    /// The queue of the heartbeat and reconnect works (they hold it too).
    pub(crate) wq: Arc<Workqueue>,
}

impl State {
    pub(crate) fn new(wq: &Arc<Workqueue>) -> Result<Arc<State>> {
        Arc::pin_init(
            pin_init!(State {
                counter <- new_spinlock_bh!(0, "State::counter"),
                counter_irq <- new_spinlock_irq!(0, "State::counter_irq"),
                stress <- new_timer!("State::stress"),
                heartbeat <- new_delayed_work!(wq, "State::heartbeat"),
                reconnect <- new_delayed_work!(wq, "State::reconnect"),
                oneshot <- new_timer!("State::oneshot"),
                done <- new_completion!("State::done"),
                completer <- new_delayed_work!(workqueue::system(), "State::completer"),
                c: Counters::default(),
                wq: wq.clone(),
            }),
            GFP_KERNEL,
        )
    }

    /// `n` increments of both counters from the current context, each a
    /// read-modify-write that loses updates unless the lock excludes.
    pub(crate) fn increment(&self, n: u64, by: &AtomicU64) {
        for _ in 0..n {
            {
                let mut count = self.counter.lock();
                let seen = *count;
                core::hint::spin_loop();
                *count = seen + 1;
            }
            {
                let mut count = self.counter_irq.lock();
                let seen = *count;
                core::hint::spin_loop();
                *count = seen + 1;
            }
            by.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Starts the stress timer (every millisecond).
    pub(crate) fn stress_start(self: &Arc<Self>) -> Result<bool> {
        self.stress.arm(self, 1)
    }

    /// Starts the heartbeat every `period_ms`.
    pub(crate) fn hb_start(self: &Arc<Self>, period_ms: u32) -> Result<bool> {
        self.c.hb_period_ms.store(period_ms, Ordering::Relaxed);
        self.heartbeat.enqueue(self, period_ms)
    }

    /// Stops the heartbeat; fails with EIO if its callback still runs or
    /// it is still queued after `cancel_sync` returned.
    pub(crate) fn hb_stop(&self) -> Result<bool> {
        let was_pending = self.heartbeat.cancel_sync();
        if self.c.hb_in_callback.load(Ordering::Acquire) || self.heartbeat.is_pending() {
            return Err(EIO);
        }
        Ok(was_pending)
    }

    /// `iterations` times: start the heartbeat re-arming itself with no
    /// or a one-jiffy delay, let it spin a little, cancel it, and check it
    /// neither runs nor is queued, then or a few milliseconds later.
    pub(crate) fn hb_race(self: &Arc<Self>, iterations: u64) -> Result {
        let mut failures = 0;
        for i in 0..iterations {
            self.hb_start((i % 2) as u32)?;
            msleep((i % 3) as u32);
            let stopped = self.hb_stop();
            let ticks = self.c.hb_ticks.load(Ordering::Relaxed);
            msleep(3);
            if stopped.is_err()
                || self.c.hb_ticks.load(Ordering::Relaxed) != ticks
                || self.heartbeat.is_pending()
            {
                failures += 1;
            }
        }
        self.c
            .hb_race_iterations
            .fetch_add(iterations, Ordering::Relaxed);
        self.c
            .hb_race_failures
            .fetch_add(failures, Ordering::Relaxed);
        if failures != 0 {
            pr_err!("hb_race: {} of {} cancels failed\n", failures, iterations);
            return Err(EIO);
        }
        Ok(())
    }

    pub(crate) fn reconnect_arm(self: &Arc<Self>, ms: u32, modify: bool) -> Result<bool> {
        self.c.reconnect_armed_ns.store(now_ns(), Ordering::Relaxed);
        if modify {
            self.reconnect.modify(self, ms)
        } else {
            self.reconnect.enqueue(self, ms)
        }
    }

    pub(crate) fn oneshot_arm(self: &Arc<Self>, ms: u32) -> Result<bool> {
        self.c.oneshot_armed_ns.store(now_ns(), Ordering::Relaxed);
        self.oneshot.arm(self, ms)
    }

    /// Waits for `done`, at most `ms` (or forever), recording how long.
    pub(crate) fn wait(&self, ms: Option<u32>) -> Result {
        let start = now_ns();
        let result = match ms {
            Some(ms) => self.done.wait_timeout_ms(ms),
            None => {
                self.done.wait();
                Ok(())
            }
        };
        self.c
            .last_wait_ms
            .store(ms_since(start), Ordering::Relaxed);
        result
    }

    /// Stops every work and timer for good: module exit.
    pub(crate) fn shut_down(&self) {
        self.stress.disable_sync();
        self.oneshot.disable_sync();
        self.heartbeat.disable_sync();
        self.reconnect.disable_sync();
        self.completer.disable_sync();
    }
}

impl TimerItem<STRESS> for State {
    fn expired(this: Arc<State>) {
        let tick = this.c.stress_ticks.fetch_add(1, Ordering::Relaxed) + 1;
        this.increment(TICK_INCREMENTS, &this.c.incs_timer);
        // Re-arm first, then (at the chosen tick) cancel from inside the
        // callback: the cancel must find the timer armed and not wait for
        // itself.
        let _ = this.stress.arm(&this, 1);
        let stop_at = this.c.stress_stop_at.load(Ordering::Relaxed);
        if stop_at != 0 && tick >= stop_at {
            this.c.stress_stop_at.store(0, Ordering::Relaxed);
            if this.stress.cancel_sync() {
                this.c.stress_self_cancelled.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

impl TimerItem<ONESHOT> for State {
    fn expired(this: Arc<State>) {
        let armed = this.c.oneshot_armed_ns.load(Ordering::Relaxed);
        this.c
            .oneshot_delay_ms
            .store(ms_since(armed), Ordering::Relaxed);
        this.c.oneshot_fired.fetch_add(1, Ordering::Relaxed);
    }
}

impl DelayedWorkItem<HEARTBEAT> for State {
    fn run(this: Arc<State>) {
        this.c.hb_in_callback.store(true, Ordering::Release);
        let tick = this.c.hb_ticks.fetch_add(1, Ordering::Relaxed) + 1;
        this.increment(1, &this.c.incs_work);
        let _ = this
            .heartbeat
            .enqueue(&this, this.c.hb_period_ms.load(Ordering::Relaxed));
        let stop_at = this.c.hb_stop_at.load(Ordering::Relaxed);
        if stop_at != 0 && tick >= stop_at {
            this.c.hb_stop_at.store(0, Ordering::Relaxed);
            if this.heartbeat.cancel_sync() {
                this.c.hb_self_cancelled.fetch_add(1, Ordering::Relaxed);
            }
        }
        this.c.hb_in_callback.store(false, Ordering::Release);
    }
}

impl DelayedWorkItem<RECONNECT> for State {
    fn run(this: Arc<State>) {
        let armed = this.c.reconnect_armed_ns.load(Ordering::Relaxed);
        this.c
            .reconnect_delay_ms
            .store(ms_since(armed), Ordering::Relaxed);
        this.c.reconnect_fired.fetch_add(1, Ordering::Relaxed);
    }
}

impl DelayedWorkItem<COMPLETER> for State {
    fn run(this: Arc<State>) {
        if this.c.completer_all.load(Ordering::Relaxed) {
            this.done.complete_all();
        } else {
            this.done.complete();
        }
    }
}
