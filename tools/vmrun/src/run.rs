//! Running one scenario: boot its VMs, stream and judge their consoles,
//! enforce the timeout, and tear everything down whatever happens.

use std::fmt;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::console::{self, ReportKind};
use crate::net::{NetMode, Network};
use crate::scenario::{Expectation, Scenario};

/// Everything a run needs besides the scenario.
pub struct Host {
    pub repo: PathBuf,
    pub kernel_dir: PathBuf,
    pub kernel_release: String,
    pub initramfs: PathBuf,
    pub logs: PathBuf,
    pub net_override: Option<NetMode>,
    pub extra_env: Vec<(String, String)>,
    pub timeout_scale: f64,
    /// Extra guest kernel command line.
    pub extra_cmdline: Vec<String>,
    pub interrupted: Arc<AtomicBool>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Failure {
    /// A guest script exited non-zero.
    GuestExit {
        vm: usize,
        rc: i32,
    },
    /// A console carried a kernel report.
    Report {
        vm: usize,
        kind: ReportKind,
        line: String,
    },
    /// The scenario did not finish in time.
    Timeout(Duration),
    /// A VM stopped without printing its result (panic, reboot, QEMU error).
    NoResult {
        vm: usize,
    },
    Interrupted,
    Host(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::GuestExit { vm, rc } => write!(f, "vm{vm}: scenario script exited {rc}"),
            Failure::Report { vm, kind, line } => write!(f, "vm{vm}: kernel {kind}: {line}"),
            Failure::Timeout(t) => write!(f, "timed out after {} s", t.as_secs()),
            Failure::NoResult { vm } => write!(f, "vm{vm}: stopped without a result line"),
            Failure::Interrupted => write!(f, "interrupted"),
            Failure::Host(e) => write!(f, "host: {e}"),
        }
    }
}

pub struct Outcome {
    pub failures: Vec<Failure>,
    pub elapsed: Duration,
    pub log_dir: PathBuf,
    /// Lines the guests appended to /run/rnbd/summary.
    pub summary: Vec<String>,
}

impl Outcome {
    /// Whether the run ended as the scenario expects.
    pub fn meets(&self, expect: Expectation) -> bool {
        let is_host_problem = |f: &Failure| matches!(f, Failure::Host(_) | Failure::Interrupted);
        if self.failures.iter().any(is_host_problem) {
            return false;
        }
        match expect {
            Expectation::Pass => self.failures.is_empty(),
            Expectation::Report(want) => self
                .failures
                .iter()
                .any(|f| matches!(f, Failure::Report { kind, .. } if *kind == want)),
            Expectation::Timeout => self
                .failures
                .iter()
                .any(|f| matches!(f, Failure::Timeout(_))),
        }
    }
}

enum Event {
    Line(usize, String),
    Closed,
}

/// How long a console may keep printing after a kernel report, so the
/// whole trace lands in the log before the VMs are stopped.
const REPORT_GRACE: Duration = Duration::from_secs(5);
/// How long a VM may go on after a kmemleak line, so that the runner's
/// final scan prints the leaked objects and their backtraces.
const KMEMLEAK_GRACE: Duration = Duration::from_secs(60);
/// How long the other VMs get to notice the abort flag after one failed.
const ABORT_GRACE: Duration = Duration::from_secs(60);
/// How long a VM may take to power off after printing its result.
const POWEROFF_GRACE: Duration = Duration::from_secs(20);
/// Report lines kept per run; a trace repeats itself.
const MAX_REPORTS: usize = 20;

pub fn run(host: &Host, scenario: &Scenario) -> Outcome {
    let started = Instant::now();
    let log_dir = host.logs.join(&scenario.name);
    let mut failures = Vec::new();
    let result = run_vms(host, scenario, &log_dir, &mut failures);
    if let Err(e) = result {
        failures.push(Failure::Host(e));
    }
    let summary = fs::read_to_string(log_dir.join("shared/summary"))
        .map(|s| s.lines().map(str::to_string).collect())
        .unwrap_or_default();
    Outcome {
        failures,
        elapsed: started.elapsed(),
        log_dir,
        summary,
    }
}

fn run_vms(
    host: &Host,
    scenario: &Scenario,
    log_dir: &Path,
    failures: &mut Vec<Failure>,
) -> Result<(), String> {
    let shared = log_dir.join("shared");
    if log_dir.exists() {
        fs::remove_dir_all(log_dir).map_err(|e| format!("{}: {e}", log_dir.display()))?;
    }
    fs::create_dir_all(&shared).map_err(|e| format!("{}: {e}", shared.display()))?;

    // A unix stream is lossless and about as fast as dgram between two VMs
    // (Documentation/testing.md); it joins exactly two, socket multicast more.
    let mode = match (scenario.vms, host.net_override) {
        (1, _) => NetMode::User,
        (_, Some(mode)) => mode,
        (2, None) => NetMode::Stream,
        (_, None) => NetMode::Socket,
    };
    let net = Network::setup(mode, scenario.vms, scenario.nics)?;
    write_env(host, scenario, &net, &shared.join("env.sh"))?;

    let timeout = scenario.timeout.mul_f64(host.timeout_scale);
    let (tx, rx) = mpsc::channel();
    let mut vms: Vec<Child> = Vec::new();
    let mut readers = 0;
    let spawn_all = (|| -> Result<(), String> {
        for vm in 1..=scenario.vms {
            let mut child = qemu_command(host, scenario, &net, &shared, vm)
                .spawn()
                .map_err(|e| format!("qemu-system-x86_64: {e} (run make setup)"))?;
            let log = File::create(log_dir.join(format!("vm{vm}.console.log")))
                .map_err(|e| e.to_string())?;
            let log_err = log.try_clone().map_err(|e| e.to_string())?;
            let stdout = child.stdout.take().expect("piped");
            let stderr = child.stderr.take().expect("piped");
            vms.push(child);
            stream_lines(vm, stdout, log, "", tx.clone());
            stream_lines(vm, stderr, log_err, "qemu: ", tx.clone());
            readers += 2;
            if vm == 1 && net.first_vm_listens() {
                wait_for_listener(&net, Duration::from_secs(10))?;
            }
        }
        Ok(())
    })();
    drop(tx);

    let mut results: Vec<Option<i32>> = vec![None; scenario.vms + 1];
    let mut result_at: Vec<Option<Instant>> = vec![None; scenario.vms + 1];
    let deadline = Instant::now() + timeout;
    let mut stop_at: Option<Instant> = None;
    let mut reports = 0;
    let mut timed_out = false;
    let raise_abort = |stop_at: &mut Option<Instant>, grace: Duration| {
        // Guests waiting on each other see this file and give up.
        let _ = File::create(shared.join("abort"));
        let at = Instant::now() + grace;
        *stop_at = Some(stop_at.map_or(at, |t| t.min(at)));
    };
    if let Err(e) = spawn_all {
        failures.push(Failure::Host(e));
        stop_at = Some(Instant::now());
    }

    while readers > 0 {
        let now = Instant::now();
        if host.interrupted.load(Ordering::SeqCst) {
            failures.push(Failure::Interrupted);
            break;
        }
        if now >= deadline {
            failures.push(Failure::Timeout(timeout));
            timed_out = true;
            break;
        }
        if stop_at.is_some_and(|t| now >= t) {
            break;
        }
        // A VM that printed its result but does not power off is stopped.
        for vm in 1..=scenario.vms {
            if result_at[vm].is_some_and(|t| now >= t + POWEROFF_GRACE) {
                let _ = vms[vm - 1].kill();
            }
        }
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(Event::Line(vm, line)) => {
                if record_reports(failures, &mut reports, vm, &line) {
                    // kmemleak announces leaks from its scan thread; the
                    // runner's own scan prints the objects a little later.
                    let grace = if line.contains("kmemleak:") {
                        KMEMLEAK_GRACE
                    } else {
                        REPORT_GRACE
                    };
                    raise_abort(&mut stop_at, grace);
                }
                if let Some((reported_vm, rc)) = console::parse_result(&line) {
                    if reported_vm == vm && results[vm].is_none() {
                        results[vm] = Some(rc);
                        result_at[vm] = Some(now);
                        if rc != 0 {
                            failures.push(Failure::GuestExit { vm, rc });
                            raise_abort(&mut stop_at, ABORT_GRACE);
                        }
                    }
                }
            }
            Ok(Event::Closed) => readers -= 1,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }

    for child in &mut vms {
        let _ = child.kill();
        let _ = child.wait();
    }
    // Drain what the readers still hold, for the logs' sake.
    while let Ok(event) = rx.recv_timeout(Duration::from_millis(500)) {
        if let Event::Line(vm, line) = event {
            record_reports(failures, &mut reports, vm, &line);
        }
    }
    let stopped_early = timed_out || failures.iter().any(|f| matches!(f, Failure::Interrupted));
    if !stopped_early {
        for (vm, result) in results.iter().enumerate().skip(1).take(vms.len()) {
            if result.is_none() {
                failures.push(Failure::NoResult { vm });
            }
        }
    }
    drop(net);
    Ok(())
}

/// Records the kernel reports a console line carries, keeping at most
/// MAX_REPORTS of them in `failures`; returns whether there were any.
fn record_reports(failures: &mut Vec<Failure>, reports: &mut usize, vm: usize, line: &str) -> bool {
    let kinds = console::classify(line);
    for &kind in &kinds {
        if *reports < MAX_REPORTS {
            failures.push(Failure::Report {
                vm,
                kind,
                line: line.trim().to_string(),
            });
        }
        *reports += 1;
    }
    !kinds.is_empty()
}

/// Copies a VM's output into its log, line by line, and hands each line
/// to the judge.
fn stream_lines(
    vm: usize,
    source: impl Read + Send + 'static,
    mut log: File,
    prefix: &'static str,
    tx: mpsc::Sender<Event>,
) {
    thread::spawn(move || {
        let mut reader = BufReader::new(source);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&buf);
                    let line = text.trim_end_matches(['\n', '\r']);
                    let _ = writeln!(log, "{prefix}{line}");
                    if tx.send(Event::Line(vm, format!("{prefix}{line}"))).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = tx.send(Event::Closed);
    });
}

fn qemu_command(
    host: &Host,
    scenario: &Scenario,
    net: &Network,
    shared: &Path,
    vm: usize,
) -> Command {
    let runner = host.repo.join("tools/vmrun/guest/runner.sh");
    let binds = [&host.repo, &host.kernel_dir, &scenario.dir]
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(",");
    let cmdline = [
        "console=ttyS0,115200".to_string(),
        "panic=-1".to_string(),
        // A task stuck in D state for a minute is a bug worth a report.
        "sysctl.kernel.hung_task_timeout_secs=60".to_string(),
        format!("rnbd.vm={vm}"),
        format!("rnbd.runner={}", runner.display()),
        format!("rnbd.binds={binds}"),
    ]
    .into_iter()
    .chain(host.extra_cmdline.iter().cloned())
    .collect::<Vec<_>>()
    .join(" ");
    let mut cmd = Command::new("qemu-system-x86_64");
    cmd.args(["-accel", "tcg,thread=multi"])
        // All of TCG's CPU features (SSE4.2 for crc32c, AVX) but 4-level paging:
        // with LA57 the debug kernel took KASAN wild-access reports in early-boot
        // interrupts.
        .args(["-cpu", "max,la57=off"])
        .args(["-m", &scenario.memory_mib.to_string()])
        .args(["-smp", &scenario.smp_of(vm).to_string()])
        .args(["-nodefaults", "-display", "none", "-no-reboot"])
        .args(["-serial", "stdio"])
        .arg("-kernel")
        .arg(host.kernel_dir.join("bzImage"))
        .arg("-initrd")
        .arg(&host.initramfs)
        .args(["-append", &cmdline])
        .args([
            "-virtfs",
            "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
        ])
        .arg("-virtfs")
        .arg(format!(
            "local,path={},mount_tag=rnbdshared,security_model=none,multidevs=remap",
            shared.display()
        ))
        .args(["-device", "virtio-rng-pci"])
        .args(net.qemu_args(vm))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Waits until VM 1's QEMU listens for the others' netdev connections.
fn wait_for_listener(net: &Network, limit: Duration) -> Result<(), String> {
    let until = Instant::now() + limit;
    while !net.first_vm_listening() {
        if Instant::now() >= until {
            return Err(format!(
                "VM 1's QEMU did not listen for the {} network within {} s",
                net.mode.name(),
                limit.as_secs()
            ));
        }
        thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

fn write_env(host: &Host, scenario: &Scenario, net: &Network, path: &Path) -> Result<(), String> {
    let mut vars: Vec<(String, String)> = vec![
        ("RNBD_REPO".into(), host.repo.display().to_string()),
        ("RNBD_SCENARIO".into(), scenario.name.clone()),
        (
            "RNBD_SCENARIO_DIR".into(),
            scenario.dir.display().to_string(),
        ),
        ("RNBD_VMS".into(), scenario.vms.to_string()),
        ("RNBD_NICS".into(), scenario.nics.to_string()),
        ("RNBD_RXE".into(), u8::from(scenario.rxe).to_string()),
        ("RNBD_NET_MODE".into(), net.mode.name().into()),
        // Slow kernels (debug) scale the scenario timeout; scripts scale
        // their own waits with it (integer, at least 1).
        (
            "RNBD_TIMEOUT_SCALE".into(),
            (host.timeout_scale.ceil().max(1.0) as u64).to_string(),
        ),
        (
            "RNBD_KERNEL_DIR".into(),
            host.kernel_dir.display().to_string(),
        ),
        // The module tree the guest's /lib/modules shows (runner.sh):
        // the kernel's modules plus ours (`make install`), so a plain
        // `modprobe rnbd_server` loads ours.
        (
            "RNBD_MODROOT".into(),
            host.kernel_dir
                .join("modroot-installed")
                .display()
                .to_string(),
        ),
        // The kernel's own tree: the upstream C rnbd modules, for the C
        // pairs (`modprobe -d $RNBD_MODROOT_UPSTREAM rnbd_server`).
        (
            "RNBD_MODROOT_UPSTREAM".into(),
            host.kernel_dir.join("modroot").display().to_string(),
        ),
        // The repository's own modules, built for this kernel by
        // tools/kernel/modules.sh (in `$RNBD_EXTMOD_NAME`, default extmod).
        (
            "RNBD_MODULES".into(),
            host.kernel_dir
                .join(std::env::var("RNBD_EXTMOD_NAME").unwrap_or_else(|_| "extmod".into()))
                .display()
                .to_string(),
        ),
        ("RNBD_KERNEL_RELEASE".into(), host.kernel_release.clone()),
        ("RNBD_SHARED".into(), "/run/rnbd".into()),
    ];
    for vm in 1..=scenario.vms {
        vars.push((format!("RNBD_VM{vm}_IP"), net.address(vm, 0)));
        for nic in 0..scenario.nics {
            vars.push((format!("RNBD_VM{vm}_IP{nic}"), net.address(vm, nic)));
        }
    }
    vars.extend(host.extra_env.iter().cloned());
    let text: String = vars
        .iter()
        .map(|(k, v)| format!("export {k}={}\n", shell_quote(v)))
        .collect();
    fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(failures: Vec<Failure>) -> Outcome {
        Outcome {
            failures,
            elapsed: Duration::ZERO,
            log_dir: PathBuf::new(),
            summary: Vec::new(),
        }
    }

    #[test]
    fn expectations() {
        let oops = Failure::Report {
            vm: 1,
            kind: ReportKind::Oops,
            line: "Oops".into(),
        };
        assert!(outcome(vec![]).meets(Expectation::Pass));
        assert!(!outcome(vec![oops.clone()]).meets(Expectation::Pass));
        assert!(outcome(vec![oops.clone()]).meets(Expectation::Report(ReportKind::Oops)));
        assert!(!outcome(vec![oops.clone()]).meets(Expectation::Report(ReportKind::Warning)));
        assert!(!outcome(vec![]).meets(Expectation::Report(ReportKind::Oops)));
        assert!(outcome(vec![Failure::Timeout(Duration::from_secs(1))]).meets(Expectation::Timeout));
        assert!(!outcome(vec![Failure::GuestExit { vm: 1, rc: 1 }]).meets(Expectation::Timeout));
        // A broken host never counts as the expected failure.
        assert!(!outcome(vec![oops, Failure::Host("qemu missing".into())])
            .meets(Expectation::Report(ReportKind::Oops)));
        assert!(
            !outcome(vec![Failure::Interrupted, Failure::Timeout(Duration::ZERO)])
                .meets(Expectation::Timeout)
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
