//! vmrun: boots rnbd-rs test VMs under QEMU (TCG), runs scenario scripts in
//! them and fails on any guest kernel report, hang or script error.

mod console;
mod initramfs;
mod net;
mod run;
mod scenario;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use net::NetMode;
use run::Host;
use scenario::{Expectation, Scenario};

const USAGE: &str = "\
usage: vmrun run --kernel-dir DIR [options] SCENARIO_DIR...

Boots the VMs of each scenario (tests/<name>/vm<N>.sh) under QEMU/TCG, runs
each script in its VM and judges the run: it fails on a non-zero script, on
any BUG/WARNING/Oops/KASAN/lockdep/kmemleak/hung-task report in a guest
console, and on a timeout.

options:
  --kernel-dir DIR     kernel build output: bzImage, modroot/, release
  --logs DIR           where console logs and results go
                       (default: <repo>/logs/<time>, linked as logs/latest)
  --net MODE           link for multi-VM scenarios: stream (unix socket,
                       default for two VMs), socket (TCP; multicast, default
                       for more), dgram (UDP), bridge (host taps)
  --env KEY=VALUE      exported to the guest scripts (repeatable)
  --timeout-scale F    multiply every scenario timeout (slow kernels)
  --append ARGS        extra guest kernel command line (repeatable)
  --busybox PATH       static busybox for the initramfs (/bin/busybox)
  -h, --help           this text
";

struct Options {
    kernel_dir: PathBuf,
    logs: Option<PathBuf>,
    net: Option<NetMode>,
    env: Vec<(String, String)>,
    timeout_scale: f64,
    append: Vec<String>,
    busybox: PathBuf,
    scenarios: Vec<PathBuf>,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut it = args.iter();
    match it.next().map(String::as_str) {
        Some("run") => {}
        Some("-h" | "--help") => return Err(String::new()),
        Some(other) => return Err(format!("unknown command '{other}'")),
        None => return Err("missing command".into()),
    }
    let mut kernel_dir = None;
    let mut opts = Options {
        kernel_dir: PathBuf::new(),
        logs: None,
        net: None,
        env: Vec::new(),
        timeout_scale: 1.0,
        append: Vec::new(),
        busybox: PathBuf::from("/bin/busybox"),
        scenarios: Vec::new(),
    };
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "-h" | "--help" => return Err(String::new()),
            "--kernel-dir" => kernel_dir = Some(PathBuf::from(value(arg)?)),
            "--logs" => opts.logs = Some(PathBuf::from(value(arg)?)),
            "--busybox" => opts.busybox = PathBuf::from(value(arg)?),
            "--append" => opts.append.push(value(arg)?),
            "--net" => {
                let v = value(arg)?;
                opts.net = match NetMode::parse(&v) {
                    Some(NetMode::User) | None => {
                        return Err(format!(
                            "--net: '{v}' is not socket, dgram, stream or bridge"
                        ))
                    }
                    mode => mode,
                }
            }
            "--env" => {
                let v = value(arg)?;
                let (k, val) = v
                    .split_once('=')
                    .filter(|(k, _)| !k.is_empty())
                    .ok_or_else(|| format!("--env: '{v}' is not KEY=VALUE"))?;
                opts.env.push((k.to_string(), val.to_string()));
            }
            "--timeout-scale" => {
                let v = value(arg)?;
                opts.timeout_scale = v
                    .parse()
                    .ok()
                    .filter(|f: &f64| *f > 0.0 && f.is_finite())
                    .ok_or_else(|| format!("--timeout-scale: '{v}' is not a positive number"))?;
            }
            s if s.starts_with('-') => return Err(format!("unknown option '{s}'")),
            s => opts.scenarios.push(PathBuf::from(s)),
        }
    }
    opts.kernel_dir = kernel_dir.ok_or("--kernel-dir is required")?;
    if opts.scenarios.is_empty() {
        return Err("no scenario given".into());
    }
    Ok(opts)
}

fn repo_root() -> PathBuf {
    // This crate lives at <repo>/tools/vmrun.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match parse_args(&args) {
        Ok(opts) => opts,
        Err(e) if e.is_empty() => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("vmrun: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run_all(opts) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("vmrun: error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run_all(opts: Options) -> Result<bool, String> {
    let repo = repo_root();
    let kernel_dir = opts
        .kernel_dir
        .canonicalize()
        .map_err(|e| format!("{}: {e} (build it: make kernel)", opts.kernel_dir.display()))?;
    for needed in ["bzImage", "modroot", "release"] {
        if !kernel_dir.join(needed).exists() {
            return Err(format!(
                "{} has no {needed} (build it: make kernel)",
                kernel_dir.display()
            ));
        }
    }
    if !kernel_dir.join("modroot-installed").exists() {
        return Err(format!(
            "{} has no modroot-installed (install the modules into it: make install)",
            kernel_dir.display()
        ));
    }
    let kernel_release = std::fs::read_to_string(kernel_dir.join("release"))
        .map_err(|e| e.to_string())?
        .trim()
        .to_string();
    let scenarios = opts
        .scenarios
        .iter()
        .map(|dir| Scenario::load(dir))
        .collect::<Result<Vec<_>, _>>()?;

    let logs = match opts.logs {
        Some(dir) => dir,
        None => {
            let stamp = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let dir = repo.join("logs").join(format!("run-{stamp}"));
            let latest = repo.join("logs/latest");
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let _ = std::fs::remove_file(&latest);
            let _ = std::os::unix::fs::symlink(dir.file_name().expect("named"), &latest);
            dir
        }
    };
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    let logs = logs.canonicalize().map_err(|e| e.to_string())?;
    let initramfs = logs.join("initramfs.cpio");
    initramfs::build(&opts.busybox, &initramfs).map_err(|e| format!("initramfs: {e}"))?;

    let interrupted = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&interrupted)).map_err(|e| e.to_string())?;
    }
    let host = Host {
        repo,
        kernel_dir,
        kernel_release,
        initramfs,
        logs: logs.clone(),
        net_override: opts.net,
        extra_env: opts.env,
        timeout_scale: opts.timeout_scale,
        extra_cmdline: opts.append,
        interrupted: Arc::clone(&interrupted),
    };

    println!(
        "vmrun: kernel {} ({}), logs in {}",
        host.kernel_release,
        host.kernel_dir.display(),
        logs.display()
    );
    let mut results = Vec::new();
    let mut all_ok = true;
    for scenario in &scenarios {
        println!(
            "vmrun: {} - {} VM(s), timeout {} s{}",
            scenario.name,
            scenario.vms,
            scenario.timeout.mul_f64(host.timeout_scale).as_secs(),
            if scenario.description.is_empty() {
                String::new()
            } else {
                format!(" - {}", scenario.description)
            }
        );
        let outcome = run::run(&host, scenario);
        let ok = outcome.meets(scenario.expect);
        all_ok &= ok;
        report(scenario, &outcome, ok);
        results.push(result_json(scenario, &outcome, ok));
        if interrupted.load(std::sync::atomic::Ordering::SeqCst) {
            break;
        }
    }
    let passed = results.iter().filter(|r| r["ok"] == true).count();
    println!(
        "vmrun: {passed} of {} scenario(s) ended as expected; {}",
        scenarios.len(),
        if all_ok { "PASS" } else { "FAIL" }
    );
    let json = serde_json::json!({
        "kernel_release": host.kernel_release,
        "scenarios": results,
        "ok": all_ok,
    });
    std::fs::write(
        logs.join("results.json"),
        serde_json::to_string_pretty(&json).expect("json"),
    )
    .map_err(|e| e.to_string())?;
    Ok(all_ok && results.len() == scenarios.len())
}

fn report(scenario: &Scenario, outcome: &run::Outcome, ok: bool) {
    let verdict = match (ok, scenario.expect) {
        (true, Expectation::Pass) => "PASS".to_string(),
        (true, _) => "PASS (failed as expected)".to_string(),
        (false, _) => "FAIL".to_string(),
    };
    println!(
        "{verdict} {} ({:.1} s)",
        scenario.name,
        outcome.elapsed.as_secs_f64()
    );
    for line in &outcome.summary {
        println!("    {line}");
    }
    if !ok || scenario.expect != Expectation::Pass {
        if let Expectation::Report(kind) = scenario.expect {
            println!("    expected: a kernel {kind} report");
        } else if scenario.expect == Expectation::Timeout {
            println!("    expected: a timeout");
        }
        for failure in &outcome.failures {
            println!("    {failure}");
        }
    }
    if !ok {
        for vm in 1..=scenario.vms {
            let log = outcome.log_dir.join(format!("vm{vm}.console.log"));
            println!("    --- last lines of {} ---", log.display());
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            for line in &lines[lines.len().saturating_sub(40)..] {
                println!("    | {line}");
            }
        }
    }
}

fn result_json(scenario: &Scenario, outcome: &run::Outcome, ok: bool) -> serde_json::Value {
    serde_json::json!({
        "scenario": scenario.name,
        "ok": ok,
        "expect": format!("{:?}", scenario.expect),
        "seconds": outcome.elapsed.as_secs_f64(),
        "failures": outcome.failures.iter().map(|f| f.to_string()).collect::<Vec<_>>(),
        "summary": outcome.summary,
        "log_dir": outcome.log_dir.display().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn parses_options() {
        let o = parse_args(&args(
            "run --kernel-dir /k --net bridge --env A=b=c --timeout-scale 2.5 --append a=1 tests/x tests/y",
        ))
        .unwrap();
        assert_eq!(o.kernel_dir, PathBuf::from("/k"));
        assert_eq!(o.net, Some(NetMode::Bridge));
        assert_eq!(o.env, vec![("A".to_string(), "b=c".to_string())]);
        assert_eq!(o.timeout_scale, 2.5);
        assert_eq!(o.append, vec!["a=1".to_string()]);
        assert_eq!(o.scenarios.len(), 2);
    }

    #[test]
    fn rejects_bad_options() {
        for (line, want) in [
            ("", "missing command"),
            ("walk", "unknown command"),
            ("run tests/x", "--kernel-dir is required"),
            ("run --kernel-dir /k", "no scenario"),
            (
                "run --kernel-dir /k --net user t",
                "not socket, dgram, stream or bridge",
            ),
            ("run --kernel-dir /k --env =x t", "not KEY=VALUE"),
            (
                "run --kernel-dir /k --timeout-scale -1 t",
                "not a positive number",
            ),
            ("run --kernel-dir", "needs a value"),
            ("run --kernel-dir /k --bogus t", "unknown option"),
        ] {
            let err = parse_args(&args(line)).err().unwrap();
            assert!(err.contains(want), "{line}: {err}");
        }
        assert_eq!(parse_args(&args("--help")).err().unwrap(), "");
    }
}
