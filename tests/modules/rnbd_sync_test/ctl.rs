// SPDX-License-Identifier: GPL-2.0

//! The sysfs interface: `ctl/command` runs a command, `ctl/stats` shows
//! the counters, one `name value` per line.

use core::sync::atomic::{AtomicU64, Ordering};

use kernel::c_str;
use kernel::fmt;
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::sync::Arc;

use crate::kernel_ext::sync::armed_callbacks;
use crate::kernel_ext::sysfs::{
    self, AttrRef, Attribute, AttributeOps, DeviceAttrs, ShowBuffer, StoreContext,
};
use crate::kernel_ext::workqueue::Workqueue;
use crate::params;
use crate::state::State;

/// The data behind `ctl`.
pub(crate) struct Ctl {
    pub(crate) state: Arc<State>,
}

/// Splits `<command> [number]`.
fn parse(input: &[u8]) -> Result<(&str, Option<u32>)> {
    let text = core::str::from_utf8(sysfs::trim_newline(input)).map_err(|_| EINVAL)?;
    let mut words = text.split_ascii_whitespace();
    let command = words.next().ok_or(EINVAL)?;
    let number = match words.next() {
        Some(word) => Some(word.parse::<u32>().map_err(|_| EINVAL)?),
        None => None,
    };
    if words.next().is_some() {
        return Err(EINVAL);
    }
    Ok((command, number))
}

/// A queueing call that must have queued: EBUSY if it was refused or the
/// work was already queued.
fn queued(result: Result<bool>) -> Result {
    match result? {
        true => Ok(()),
        false => Err(EBUSY),
    }
}

fn count_if(hit: bool, counter: &AtomicU64) {
    if hit {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

fn run(state: &Arc<State>, command: &str, number: Option<u32>) -> Result {
    let arg = || number.ok_or(EINVAL);
    match command {
        // Spinlocks from softirq (the stress timer), a worker and here.
        "stress_start" => queued(state.stress_start()),
        "stress_stop" => {
            state.stress.cancel_sync();
            match state.stress.is_pending() {
                true => Err(EIO),
                false => Ok(()),
            }
        }
        "stress_stop_at" => {
            let at = state.c.stress_ticks.load(Ordering::Relaxed) + u64::from(arg()?);
            state.c.stress_stop_at.store(at, Ordering::Relaxed);
            Ok(())
        }
        "spin" => {
            state.increment(u64::from(arg()?), &state.c.incs_process);
            Ok(())
        }
        // The self-rearming heartbeat.
        "hb_start" => {
            queued(state.hb_start(number.unwrap_or_else(|| params::HB_INTERVAL_MS.get())))
        }
        "hb_stop" => state.hb_stop().map(|_| ()),
        "hb_stop_at" => {
            let at = state.c.hb_ticks.load(Ordering::Relaxed) + u64::from(arg()?);
            state.c.hb_stop_at.store(at, Ordering::Relaxed);
            Ok(())
        }
        "hb_race" => state.hb_race(u64::from(arg()?)),
        "hb_disable" => {
            state.heartbeat.disable_sync();
            Ok(())
        }
        "hb_enable" => {
            state.heartbeat.enable();
            Ok(())
        }
        // A delayed work whose delay changes.
        "reconnect" => queued(state.reconnect_arm(arg()?, false)),
        "reconnect_mod" => queued(state.reconnect_arm(arg()?, true)),
        "reconnect_cancel" => {
            count_if(state.reconnect.cancel_sync(), &state.c.reconnect_cancelled);
            Ok(())
        }
        "reconnect_flush" => {
            state.reconnect.flush();
            Ok(())
        }
        // A timer.
        "timer" => queued(state.oneshot_arm(arg()?)),
        "timer_cancel" => {
            count_if(state.oneshot.cancel_sync(), &state.c.oneshot_cancelled);
            Ok(())
        }
        // Our own queue: 6.12 work items run on it, `flush` waits for them.
        "wq_spawn" => {
            let n = u64::from(arg()?);
            let before = state.c.wq_spawned.load(Ordering::Relaxed);
            for _ in 0..n {
                let owner = state.clone();
                state.wq.try_spawn(GFP_KERNEL, move || {
                    owner.c.wq_spawned.fetch_add(1, Ordering::Relaxed);
                })?;
            }
            state.wq.flush();
            match state.c.wq_spawned.load(Ordering::Relaxed) - before == n {
                true => Ok(()),
                false => Err(EIO),
            }
        }
        // Flags our queues do not take (WQ_BH), a max_active out of range.
        "bad_workqueue" => {
            let bh = Workqueue::new(c_str!("rnbd_sync_test_bh"), 1, 0).map(|_| ());
            let negative = Workqueue::new(c_str!("rnbd_sync_test_neg"), 0, -1).map(|_| ());
            bh.and(negative)
        }
        // Ownership: a work queued with an owner that does not contain it.
        "wrong_owner" => {
            let other = State::new(&state.wq)?;
            state.heartbeat.enqueue(&other, 1000).map(|_| ())
        }
        // Completions.
        "complete_after" | "complete_all_after" => {
            state
                .c
                .completer_all
                .store(command == "complete_all_after", Ordering::Relaxed);
            queued(state.completer.enqueue(state, arg()?))
        }
        "complete" => {
            state.done.complete();
            Ok(())
        }
        "complete_all" => {
            state.done.complete_all();
            Ok(())
        }
        "reinit" => {
            state.done.reinit();
            Ok(())
        }
        // ETIMEDOUT reaches the writer.
        "wait" => state.wait(Some(arg()?)),
        "wait_forever" => state.wait(None),
        "try_wait" => state.done.try_wait(),
        _ => Err(EINVAL),
    }
}

struct Command;
impl AttributeOps<Ctl> for Command {
    const NAME: &'static CStr = c_str!("command");
    const MODE: u16 = 0o200;

    fn store(ctl: &Ctl, input: &[u8], _ctx: &mut StoreContext) -> Result {
        let (command, number) = parse(input)?;
        run(&ctl.state, command, number)
    }
}

struct Stats;
impl AttributeOps<Ctl> for Stats {
    const NAME: &'static CStr = c_str!("stats");
    const MODE: u16 = 0o444;

    fn show(ctl: &Ctl, out: &mut ShowBuffer) -> Result {
        let s = &ctl.state;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let counter = *s.counter.lock();
        let counter_irq = *s.counter_irq.lock();
        out.write_fmt(fmt!(
            "counter {}\ncounter_irq {}\nincs_timer {}\nincs_work {}\nincs_process {}\n",
            counter,
            counter_irq,
            get(&s.c.incs_timer),
            get(&s.c.incs_work),
            get(&s.c.incs_process)
        ))?;
        out.write_fmt(fmt!(
            "stress_ticks {}\nstress_pending {}\nstress_self_cancelled {}\n",
            get(&s.c.stress_ticks),
            u8::from(s.stress.is_pending()),
            get(&s.c.stress_self_cancelled)
        ))?;
        out.write_fmt(fmt!(
            "hb_ticks {}\nhb_pending {}\nhb_self_cancelled {}\nhb_race_iterations {}\nhb_race_failures {}\n",
            get(&s.c.hb_ticks),
            u8::from(s.heartbeat.is_pending()),
            get(&s.c.hb_self_cancelled),
            get(&s.c.hb_race_iterations),
            get(&s.c.hb_race_failures)
        ))?;
        out.write_fmt(fmt!(
            "reconnect_fired {}\nreconnect_delay_ms {}\nreconnect_cancelled {}\nreconnect_pending {}\n",
            get(&s.c.reconnect_fired),
            s.c.reconnect_delay_ms.load(Ordering::Relaxed),
            get(&s.c.reconnect_cancelled),
            u8::from(s.reconnect.is_pending())
        ))?;
        out.write_fmt(fmt!(
            "timer_fired {}\ntimer_delay_ms {}\ntimer_cancelled {}\ntimer_pending {}\n",
            get(&s.c.oneshot_fired),
            s.c.oneshot_delay_ms.load(Ordering::Relaxed),
            get(&s.c.oneshot_cancelled),
            u8::from(s.oneshot.is_pending())
        ))?;
        out.write_fmt(fmt!(
            "done {}\nlast_wait_ms {}\narmed {}\nwq_spawned {}\n",
            u8::from(s.done.is_done()),
            s.c.last_wait_ms.load(Ordering::Relaxed),
            armed_callbacks(),
            get(&s.c.wq_spawned)
        ))?;
        params::show(out)
    }
}

static COMMAND: Attribute<DeviceAttrs<Ctl>, Command> = Attribute::new();
static STATS: Attribute<DeviceAttrs<Ctl>, Stats> = Attribute::new();
pub(crate) static CTL_ATTRIBUTES: [AttrRef<DeviceAttrs<Ctl>>; 2] =
    [COMMAND.as_ref(), STATS.as_ref()];
