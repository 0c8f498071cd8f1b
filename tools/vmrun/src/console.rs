//! Reading a guest console: kernel reports that fail a run, and the result
//! line the guest init prints when its scenario script ends.

use std::fmt;

/// A kind of kernel report. Any of them fails a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReportKind {
    /// `BUG:` lines (NULL dereference, sleeping in atomic, soft lockup, ...).
    Bug,
    /// `Oops` and `general protection fault`.
    Oops,
    /// `WARNING:` (WARN_ON, and lockdep's and RCU's own warnings).
    Warning,
    Kasan,
    Ubsan,
    Lockdep,
    Kmemleak,
    /// A task blocked in D state past `hung_task_timeout_secs`.
    HungTask,
    RcuStall,
    Panic,
}

impl ReportKind {
    pub const ALL: [ReportKind; 10] = [
        ReportKind::Bug,
        ReportKind::Oops,
        ReportKind::Warning,
        ReportKind::Kasan,
        ReportKind::Ubsan,
        ReportKind::Lockdep,
        ReportKind::Kmemleak,
        ReportKind::HungTask,
        ReportKind::RcuStall,
        ReportKind::Panic,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ReportKind::Bug => "bug",
            ReportKind::Oops => "oops",
            ReportKind::Warning => "warning",
            ReportKind::Kasan => "kasan",
            ReportKind::Ubsan => "ubsan",
            ReportKind::Lockdep => "lockdep",
            ReportKind::Kmemleak => "kmemleak",
            ReportKind::HungTask => "hung-task",
            ReportKind::RcuStall => "rcu-stall",
            ReportKind::Panic => "panic",
        }
    }

    pub fn from_name(name: &str) -> Option<ReportKind> {
        ReportKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl fmt::Display for ReportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Substrings that mark a kernel report, and what they mean. A line can
/// match several (a KASAN report starts with `BUG: KASAN:`).
const PATTERNS: &[(&str, ReportKind)] = &[
    ("BUG:", ReportKind::Bug),
    ("Oops", ReportKind::Oops),
    ("general protection fault", ReportKind::Oops),
    ("WARNING:", ReportKind::Warning),
    ("KASAN", ReportKind::Kasan),
    ("UBSAN:", ReportKind::Ubsan),
    ("possible circular locking dependency", ReportKind::Lockdep),
    ("possible recursive locking detected", ReportKind::Lockdep),
    ("inconsistent lock state", ReportKind::Lockdep),
    ("possible irq lock inversion", ReportKind::Lockdep),
    ("suspicious RCU usage", ReportKind::Lockdep),
    ("DEBUG_LOCKS_WARN_ON", ReportKind::Lockdep),
    ("bad unlock balance detected", ReportKind::Lockdep),
    ("held lock freed", ReportKind::Lockdep),
    ("suspected memory leak", ReportKind::Kmemleak),
    ("unreferenced object 0x", ReportKind::Kmemleak),
    ("blocked for more than", ReportKind::HungTask),
    ("rcu_sched detected stalls", ReportKind::RcuStall),
    ("rcu_preempt detected stalls", ReportKind::RcuStall),
    ("self-detected stall on CPU", ReportKind::RcuStall),
    ("Kernel panic", ReportKind::Panic),
];

/// The kinds of kernel report a console line carries, if any.
pub fn classify(line: &str) -> Vec<ReportKind> {
    let mut kinds: Vec<ReportKind> = PATTERNS
        .iter()
        .filter(|(needle, _)| line.contains(needle))
        .map(|&(_, kind)| kind)
        .collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

/// The prefix of the line the guest init prints when the scenario ends:
/// `RNBD-VM-RESULT vm=<n> rc=<exit status>`.
pub const RESULT_MARKER: &str = "RNBD-VM-RESULT";

/// Parses a result line into (vm number, exit status). The marker may be
/// preceded by other output on the same console line.
pub fn parse_result(line: &str) -> Option<(usize, i32)> {
    let rest = &line[line.find(RESULT_MARKER)? + RESULT_MARKER.len()..];
    let mut vm = None;
    let mut rc = None;
    for field in rest.split_whitespace() {
        if let Some(v) = field.strip_prefix("vm=") {
            vm = v.parse().ok();
        } else if let Some(v) = field.strip_prefix("rc=") {
            rc = v.parse().ok();
        }
    }
    Some((vm?, rc?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_lines_have_no_report() {
        for line in [
            "[    1.234567] rnbd_client L597: </dev/ram0@sess1>: map_device: Device mapped",
            "[    0.500000] rdma_rxe: loaded",
            "write: IOPS=494, BW=1976KiB/s",
            "Warning: unable to open an initial console.",
            "",
        ] {
            assert!(classify(line).is_empty(), "{line}");
        }
    }

    #[test]
    fn real_reports_are_classified() {
        let cases: &[(&str, &[ReportKind])] = &[
            (
                "[   12.1] BUG: kernel NULL pointer dereference, address: 0000000000000000",
                &[ReportKind::Bug],
            ),
            (
                "[   12.2] Oops: Oops: 0002 [#1] PREEMPT SMP NOPTI",
                &[ReportKind::Oops],
            ),
            (
                "[    3.0] WARNING: CPU: 1 PID: 77 at rnbd_selftest_fault.c:20 init+0x1/0x2",
                &[ReportKind::Warning],
            ),
            (
                "[    3.0] BUG: KASAN: slab-use-after-free in rtrs_clt_close+0x1c/0x40",
                &[ReportKind::Bug, ReportKind::Kasan],
            ),
            (
                "[    9.9] WARNING: possible circular locking dependency detected",
                &[ReportKind::Warning, ReportKind::Lockdep],
            ),
            (
                "kmemleak: 2 new suspected memory leaks (see /sys/kernel/debug/kmemleak)",
                &[ReportKind::Kmemleak],
            ),
            (
                "[  150.0] INFO: task fio:123 blocked for more than 60 seconds.",
                &[ReportKind::HungTask],
            ),
            (
                "[  150.0] Oops: general protection fault, probably for non-canonical address",
                &[ReportKind::Oops],
            ),
            (
                "[    5.0] Kernel panic - not syncing: Attempted to kill init!",
                &[ReportKind::Panic],
            ),
            (
                "[   60.0] rcu: INFO: rcu_sched detected stalls on CPUs/tasks:",
                &[ReportKind::RcuStall],
            ),
            (
                "[    1.0] watchdog: BUG: soft lockup - CPU#0 stuck for 22s!",
                &[ReportKind::Bug],
            ),
        ];
        for (line, want) in cases {
            assert_eq!(classify(line), want.to_vec(), "{line}");
        }
    }

    #[test]
    fn kind_names_round_trip() {
        for kind in ReportKind::ALL {
            assert_eq!(ReportKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(ReportKind::from_name("hang"), None);
    }

    #[test]
    fn result_lines() {
        assert_eq!(parse_result("RNBD-VM-RESULT vm=2 rc=0"), Some((2, 0)));
        assert_eq!(
            parse_result("[  3.1] random noiseRNBD-VM-RESULT vm=1 rc=127"),
            Some((1, 127))
        );
        assert_eq!(parse_result("RNBD-VM-RESULT vm=1"), None);
        assert_eq!(parse_result("RNBD-VM-RESULT vm=x rc=0"), None);
        assert_eq!(parse_result("vm=1 rc=0"), None);
    }
}
