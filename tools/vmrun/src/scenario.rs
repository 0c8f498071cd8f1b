//! A scenario is a directory under `tests/` with one script per VM role
//! (`vm1.sh`, `vm2.sh`, ...) and an optional `scenario.conf` of `key=value`
//! lines.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::console::ReportKind;

/// What a scenario's run must end in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expectation {
    /// Every guest script exits 0 and no console carries a kernel report.
    Pass,
    /// The run must fail with at least one report of this kind (harness
    /// self-tests).
    Report(ReportKind),
    /// The run must fail by timing out (harness self-tests).
    Timeout,
}

#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub dir: PathBuf,
    pub description: String,
    pub vms: usize,
    /// Network interfaces per VM, each on its own segment shared by all VMs.
    pub nics: usize,
    /// Whether the guest runner brings up soft-RoCE (rxe<k> on eth<k>)
    /// before the script starts.
    pub rxe: bool,
    pub timeout: Duration,
    pub memory_mib: u32,
    pub smp: u32,
    /// Per-VM overrides of `smp` (`vm<N>.smp = K`), as (VM number, vCPUs).
    pub smp_vm: Vec<(usize, u32)>,
    pub expect: Expectation,
}

impl Scenario {
    pub fn load(dir: &Path) -> Result<Scenario, String> {
        let dir = dir
            .canonicalize()
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("{}: no usable directory name", dir.display()))?
            .to_string();
        let mut vms = 0;
        while dir.join(format!("vm{}.sh", vms + 1)).is_file() {
            vms += 1;
        }
        if vms == 0 {
            return Err(format!("{}: no vm1.sh", dir.display()));
        }
        let conf_path = dir.join("scenario.conf");
        let conf = match std::fs::read_to_string(&conf_path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(format!("{}: {e}", conf_path.display())),
        };
        let mut scenario = Scenario {
            name,
            dir,
            description: String::new(),
            vms,
            nics: 1,
            rxe: true,
            timeout: Duration::from_secs(300),
            memory_mib: 1024,
            // TCG runs a vCPU per host thread: two VMs of one vCPU each fit
            // this 2-core machine, and rxe latency between them is 3x lower
            // than with two vCPUs each (Documentation/testing.md).
            smp: if vms == 1 { 2 } else { 1 },
            smp_vm: Vec::new(),
            expect: Expectation::Pass,
        };
        scenario
            .apply_conf(&conf)
            .map_err(|e| format!("{}: {e}", conf_path.display()))?;
        if let Some((vm, _)) = scenario.smp_vm.iter().find(|(vm, _)| *vm > vms) {
            return Err(format!(
                "{}: vm{vm}.smp, but the scenario has {vms} VM(s)",
                conf_path.display()
            ));
        }
        Ok(scenario)
    }

    /// The vCPUs of VM `vm` (1-based): its `vm<N>.smp`, else `smp`.
    pub fn smp_of(&self, vm: usize) -> u32 {
        self.smp_vm
            .iter()
            .rev()
            .find(|(n, _)| *n == vm)
            .map_or(self.smp, |(_, smp)| *smp)
    }

    fn apply_conf(&mut self, conf: &str) -> Result<(), String> {
        for (number, line) in conf.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| format!("line {}: expected key=value", number + 1))?;
            let (key, value) = (key.trim(), value.trim());
            let bad = |what: &str| format!("line {}: bad {key} '{value}': {what}", number + 1);
            let positive = |limit: u64| -> Result<u64, String> {
                match value.parse::<u64>() {
                    Ok(n) if n >= 1 && n <= limit => Ok(n),
                    _ => Err(bad(&format!("want 1..={limit}"))),
                }
            };
            match key {
                "description" => self.description = value.to_string(),
                "timeout" => self.timeout = Duration::from_secs(positive(24 * 3600)?),
                "memory" => self.memory_mib = positive(16384)? as u32,
                "smp" => self.smp = positive(8)? as u32,
                _ if key.starts_with("vm") && key.ends_with(".smp") => {
                    let vm = key[2..key.len() - 4]
                        .parse::<usize>()
                        .ok()
                        .filter(|&n| n >= 1)
                        .ok_or_else(|| format!("line {}: bad key '{key}'", number + 1))?;
                    self.smp_vm.push((vm, positive(8)? as u32));
                }
                "nics" => self.nics = positive(4)? as usize,
                "rxe" => {
                    self.rxe = match value {
                        "on" => true,
                        "off" => false,
                        _ => return Err(bad("want on or off")),
                    }
                }
                "expect" => {
                    self.expect = match value {
                        "pass" => Expectation::Pass,
                        "timeout" => Expectation::Timeout,
                        other => match other
                            .strip_prefix("report:")
                            .and_then(ReportKind::from_name)
                        {
                            Some(kind) => Expectation::Report(kind),
                            None => return Err(bad("want pass, timeout or report:<kind>")),
                        },
                    }
                }
                _ => return Err(format!("line {}: unknown key '{key}'", number + 1)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario_with(conf: &str) -> Result<Scenario, String> {
        let mut s = Scenario {
            name: "t".into(),
            dir: PathBuf::from("/nonexistent"),
            description: String::new(),
            vms: 1,
            nics: 1,
            rxe: true,
            timeout: Duration::from_secs(300),
            memory_mib: 1024,
            smp: 2,
            smp_vm: Vec::new(),
            expect: Expectation::Pass,
        };
        s.apply_conf(conf).map(|_| s)
    }

    #[test]
    fn conf_keys() {
        let s = scenario_with(
            "# comment\ndescription = two VMs\ntimeout=90\nmemory=2048\nsmp=1\nnics=2\nrxe=off\nexpect=report:oops\n",
        )
        .unwrap();
        assert_eq!(s.description, "two VMs");
        assert_eq!(s.timeout, Duration::from_secs(90));
        assert_eq!((s.memory_mib, s.smp, s.nics, s.rxe), (2048, 1, 2, false));
        assert_eq!(s.expect, Expectation::Report(ReportKind::Oops));
        assert_eq!((s.smp_of(1), s.smp_of(2)), (1, 1));
        let s = scenario_with("smp=1\nvm2.smp=2").unwrap();
        assert_eq!((s.smp_of(1), s.smp_of(2), s.smp_of(3)), (1, 2, 1));
        assert_eq!(
            scenario_with("expect=timeout").unwrap().expect,
            Expectation::Timeout
        );
    }

    #[test]
    fn conf_errors_name_the_line() {
        assert_eq!(
            scenario_with("x").unwrap_err(),
            "line 1: expected key=value"
        );
        assert_eq!(
            scenario_with("\nfoo=1").unwrap_err(),
            "line 2: unknown key 'foo'"
        );
        assert!(scenario_with("timeout=0")
            .unwrap_err()
            .contains("bad timeout"));
        assert!(scenario_with("smp=9").unwrap_err().contains("bad smp"));
        assert!(scenario_with("vm2.smp=9")
            .unwrap_err()
            .contains("bad vm2.smp"));
        assert!(scenario_with("vm0.smp=1").unwrap_err().contains("bad key"));
        assert!(scenario_with("vmx.smp=1").unwrap_err().contains("bad key"));
        assert!(scenario_with("rxe=yes").unwrap_err().contains("bad rxe"));
        assert!(scenario_with("expect=report:nope")
            .unwrap_err()
            .contains("bad expect"));
    }

    #[test]
    fn load_counts_vm_scripts() {
        let dir = std::env::temp_dir().join(format!("vmrun-scenario-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(Scenario::load(&dir).unwrap_err().contains("no vm1.sh"));
        std::fs::write(dir.join("vm1.sh"), "true\n").unwrap();
        std::fs::write(dir.join("vm2.sh"), "true\n").unwrap();
        std::fs::write(dir.join("vm4.sh"), "true\n").unwrap();
        std::fs::write(dir.join("scenario.conf"), "timeout=5\nvm2.smp=2\n").unwrap();
        let s = Scenario::load(&dir).unwrap();
        assert_eq!(s.vms, 2);
        assert_eq!(s.smp, 1, "multi-VM scenarios default to one vCPU per VM");
        assert_eq!((s.smp_of(1), s.smp_of(2)), (1, 2));
        assert_eq!(s.timeout, Duration::from_secs(5));
        std::fs::write(dir.join("scenario.conf"), "vm3.smp=2\n").unwrap();
        assert!(Scenario::load(&dir).unwrap_err().contains("has 2 VM(s)"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
