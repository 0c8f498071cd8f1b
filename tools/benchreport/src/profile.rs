//! Profile mode (`RNBD_BENCH_PROFILE=1`): what tools/bench/fio-hook.sh
//! and perf left in `<phase>/<job>.profile/` (and the job's counters
//! beside it), reduced to counts per IO.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};

/// Per-CPU counter lines of /proc/interrupts or /proc/softirqs, summed over
/// the CPUs. Numbered IRQs are keyed by their action name (the last word,
/// e.g. `virtio1-input.0`), summed when several share it; named lines
/// (`LOC`, `NET_RX`, ...) by their label.
pub fn parse_cpu_table(text: &str) -> BTreeMap<String, u64> {
    let mut lines = text.lines();
    let cpus = lines
        .next()
        .map_or(0, |header| header.split_whitespace().count());
    let mut table = BTreeMap::new();
    for line in lines {
        let Some((label, rest)) = line.split_once(':') else {
            continue;
        };
        let label = label.trim();
        let mut words = rest.split_whitespace().peekable();
        let mut sum = 0u64;
        let mut counted = 0;
        while counted < cpus {
            match words.peek().and_then(|w| w.parse::<u64>().ok()) {
                Some(n) => {
                    sum += n;
                    counted += 1;
                    words.next();
                }
                None => break,
            }
        }
        if counted == 0 {
            continue;
        }
        let key = if label.chars().all(|c| c.is_ascii_digit()) {
            match words.last() {
                Some(name) => name.to_string(),
                None => label.to_string(),
            }
        } else {
            label.to_string()
        };
        *table.entry(key).or_insert(0) += sum;
    }
    table
}

/// `after - before` per key (keys only in `after` count from zero).
pub fn delta(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(k, a)| (k.clone(), a.saturating_sub(*before.get(k).unwrap_or(&0))))
        .collect()
}

/// Completed requests (reads + writes) in a /sys/block/<dev>/stat line.
pub fn block_ios(stat: &str) -> Option<u64> {
    let f: Vec<u64> = stat
        .split_whitespace()
        .map(|w| w.parse().ok())
        .collect::<Option<_>>()?;
    Some(f.first()? + f.get(4)?)
}

/// The `ctxt` line of /proc/stat.
pub fn context_switches(stat: &str) -> Option<u64> {
    stat.lines()
        .find_map(|l| l.strip_prefix("ctxt "))
        .and_then(|n| n.trim().parse().ok())
}

/// Whether an interrupt action is a virtio-net queue (`virtio<N>-input.<q>`
/// or `-output.<q>`): rxe's packets arrive and leave through them.
pub fn is_virtio_net(name: &str) -> bool {
    name.starts_with("virtio") && (name.contains("-input.") || name.contains("-output."))
}

/// The entry lines of a perf `--stdio -g none` report (those starting with
/// a percentage), at most `limit`.
pub fn perf_top(text: &str, limit: usize) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.ends_with('%'))
        })
        .take(limit)
        .map(|l| l.trim_end().to_string())
        .collect()
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// One profiled job's numbers: IOs in the window the fio hooks bound
/// (tools/bench/fio-hook.sh), and interrupts, softirqs and context
/// switches in total and per IO, with perf's top entries. `phase_dir` holds
/// `<job>.{stat,blockstat}.{before,after}`, `<job>.profile/` the rest.
pub fn collect(phase_dir: &Path, job: &str) -> Result<Value, String> {
    let counters = |name: &str| phase_dir.join(format!("{job}.{name}"));
    let dir = phase_dir.join(format!("{job}.profile"));
    let table = |name: &str| -> Result<BTreeMap<String, u64>, String> {
        Ok(delta(
            &parse_cpu_table(&read(&dir.join(format!("{name}.before")))?),
            &parse_cpu_table(&read(&dir.join(format!("{name}.after")))?),
        ))
    };
    let interrupts = table("interrupts")?;
    let softirqs = table("softirqs")?;
    let ios = match (
        block_ios(&read(&counters("blockstat.before"))?),
        block_ios(&read(&counters("blockstat.after"))?),
    ) {
        (Some(b), Some(a)) => a.saturating_sub(b),
        _ => return Err(format!("{}: unreadable block stat", dir.display())),
    };
    let ctxt = match (
        context_switches(&read(&counters("stat.before"))?),
        context_switches(&read(&counters("stat.after"))?),
    ) {
        (Some(b), Some(a)) => Some(a.saturating_sub(b)),
        _ => None,
    };
    let per_io = |n: u64| {
        if ios > 0 {
            json!(n as f64 / ios as f64)
        } else {
            Value::Null
        }
    };
    let total_irqs: u64 = interrupts
        .iter()
        .filter(|(k, _)| *k != "ERR" && *k != "MIS")
        .map(|(_, v)| v)
        .sum();
    let virtio_net: u64 = interrupts
        .iter()
        .filter(|(k, _)| is_virtio_net(k))
        .map(|(_, v)| v)
        .sum();
    let nonzero = |t: &BTreeMap<String, u64>| -> Value {
        t.iter()
            .filter(|(_, v)| **v > 0)
            .map(|(k, v)| (k.clone(), json!({"count": v, "per_io": per_io(*v)})))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let sym = read(&dir.join("perf-sym.txt")).unwrap_or_default();
    let dso = read(&dir.join("perf-dso.txt")).unwrap_or_default();
    Ok(json!({
        "ios": ios,
        "interrupts_total": {"count": total_irqs, "per_io": per_io(total_irqs)},
        "interrupts_virtio_net": {"count": virtio_net, "per_io": per_io(virtio_net)},
        "interrupts": nonzero(&interrupts),
        "softirqs": nonzero(&softirqs),
        "context_switches": ctxt.map(|c| json!({"count": c, "per_io": per_io(c)})),
        "perf_top_symbols": perf_top(&sym, 30),
        "perf_top_dsos": perf_top(&dso, 15),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const IRQ_BEFORE: &str = "           CPU0       CPU1
  0:         38          0   IO-APIC   2-edge      timer
 24:        100         50  PCI-MSIX-0000:00:03.0   0-edge      virtio1-config
 25:       1000        500  PCI-MSIX-0000:00:03.0   1-edge      virtio1-input.0
 26:         10          5  PCI-MSIX-0000:00:03.0   2-edge      virtio1-output.0
NMI:          0          0   Non-maskable interrupts
LOC:       5000       4000   Local timer interrupts
RES:        200        300   Rescheduling interrupts
ERR:          0
MIS:          0
";
    const IRQ_AFTER: &str = "           CPU0       CPU1
  0:         38          0   IO-APIC   2-edge      timer
 24:        100         50  PCI-MSIX-0000:00:03.0   0-edge      virtio1-config
 25:       3000        700  PCI-MSIX-0000:00:03.0   1-edge      virtio1-input.0
 26:         20         15  PCI-MSIX-0000:00:03.0   2-edge      virtio1-output.0
NMI:          0          0   Non-maskable interrupts
LOC:       6000       5000   Local timer interrupts
RES:        250        450   Rescheduling interrupts
ERR:          3
MIS:          0
";

    #[test]
    fn interrupts_delta() {
        let before = parse_cpu_table(IRQ_BEFORE);
        assert_eq!(before["virtio1-input.0"], 1500);
        assert_eq!(before["LOC"], 9000);
        assert_eq!(before["ERR"], 0);
        assert_eq!(before["timer"], 38);
        let d = delta(&before, &parse_cpu_table(IRQ_AFTER));
        assert_eq!(d["virtio1-input.0"], 2200);
        assert_eq!(d["virtio1-output.0"], 20);
        assert_eq!(d["LOC"], 2000);
        assert_eq!(d["RES"], 200);
        assert_eq!(d["virtio1-config"], 0);
        assert!(is_virtio_net("virtio1-input.0") && !is_virtio_net("virtio1-config"));
    }

    #[test]
    fn softirqs_and_counters() {
        let t = parse_cpu_table(
            "                    CPU0       CPU1\n          HI:          1          2\n      NET_RX:        100        200\n       BLOCK:          5          0\n",
        );
        assert_eq!((t["HI"], t["NET_RX"], t["BLOCK"]), (3, 300, 5));
        assert_eq!(
            block_ios("    1000        0     8000      500     200        0  1600  30  0  400  530  0 0 0 0 0 0"),
            Some(1200)
        );
        assert_eq!(block_ios("1 2 3"), None);
        assert_eq!(
            context_switches("cpu  1 2 3\nctxt 12345\nbtime 1\n"),
            Some(12345)
        );
    }

    #[test]
    fn perf_report_entries() {
        let report = "# Samples: 10K of event 'cpu-clock'\n#\n# Overhead  Symbol\n#\n    40.00%  [k] default_idle\n     9.50%  [k] rxe_requester\n\n#\n# (Tip: ...)\n";
        assert_eq!(
            perf_top(report, 30),
            vec![
                "    40.00%  [k] default_idle",
                "     9.50%  [k] rxe_requester"
            ]
        );
        assert_eq!(perf_top(report, 1).len(), 1);
    }

    #[test]
    fn collect_a_profile_dir() {
        let dir = std::env::temp_dir().join(format!("benchreport-profile-{}", std::process::id()));
        let prof = dir.join("j.profile");
        std::fs::create_dir_all(&prof).unwrap();
        for (name, text) in [
            ("j.profile/interrupts.before", IRQ_BEFORE),
            ("j.profile/interrupts.after", IRQ_AFTER),
            (
                "j.profile/softirqs.before",
                "  CPU0\n NET_RX: 10\n BLOCK: 0\n",
            ),
            (
                "j.profile/softirqs.after",
                "  CPU0\n NET_RX: 2010\n BLOCK: 1000\n",
            ),
            ("j.profile/perf-sym.txt", "    50.00%  [k] x\n"),
            ("j.blockstat.before", "0 0 0 0 0 0 0 0 0 0 0"),
            ("j.blockstat.after", "1000 0 8000 0 0 0 0 0 0 0 0"),
            ("j.stat.before", "ctxt 100\n"),
            ("j.stat.after", "ctxt 3100\n"),
        ] {
            std::fs::write(dir.join(name), text).unwrap();
        }
        let p = collect(&dir, "j").unwrap();
        assert_eq!(p["ios"], 1000);
        assert_eq!(p["interrupts_virtio_net"]["count"], 2220);
        assert_eq!(p["interrupts_virtio_net"]["per_io"], 2.22);
        // timer 0, config 0, input 2200, output 20, LOC 2000, RES 200; ERR not counted.
        assert_eq!(p["interrupts_total"]["count"], 4420);
        assert_eq!(p["softirqs"]["NET_RX"]["per_io"], 2.0);
        assert_eq!(p["softirqs"]["BLOCK"]["per_io"], 1.0);
        assert_eq!(p["context_switches"]["per_io"], 3.0);
        assert_eq!(p["perf_top_symbols"], json!(["    50.00%  [k] x"]));
        assert!(
            p["interrupts"].get("timer").is_none(),
            "zero deltas are left out"
        );
        assert!(collect(&dir, "missing").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
