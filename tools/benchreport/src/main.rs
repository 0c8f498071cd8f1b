//! benchreport: reads what the bench runs left in a vmrun log directory
//! (one `<scenario>/shared/bench/` per (round, pair) run, see
//! tools/bench/lib.sh) and writes one JSON document and one markdown
//! report: per job, metric and pair the median and range over rounds; the
//! Rust/C ratios computed per round; always_invalidate Y against N; the
//! runs' overheads; and, when the runs were profiled, profile.md beside
//! the markdown.
//!
//! usage: benchreport LOG_DIR OUT.json OUT.md [--title TEXT] [--note TEXT]...
//!        [--pair PAIR=LABEL [--not-run PAIR=REASON]]...
//!
//! PAIR is `<client>-<server>` (`c-c`, `rust-c`, ...). Pairs are laid out
//! in the order given; a pair marked `--not-run` gets a column saying so.

mod profile;
mod report;
mod stats;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::ExitCode;

use serde_json::{json, Value};

/// The kernel's USER_HZ: /proc/stat counts in these.
const USER_HZ: f64 = 100.0;
const GIB: f64 = (1u64 << 30) as f64;

/// One fio job's result.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FioResult {
    pub iops: f64,
    pub mb_per_s: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub bytes: u64,
    pub ios: u64,
}

/// Parses fio's `--output-format=json` of one job (or one group with
/// `--group_reporting`). Reads and writes are summed; latency comes from
/// whichever direction moved more.
fn parse_fio(text: &str) -> Result<FioResult, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("fio json: {e}"))?;
    let job = doc["jobs"].get(0).ok_or("fio json: no jobs")?;
    if job["error"].as_i64() != Some(0) {
        return Err(format!("fio job reported error {}", job["error"]));
    }
    let mut result = FioResult::default();
    let mut busiest: Option<&Value> = None;
    for dir in ["read", "write"] {
        let side = &job[dir];
        let bytes = side["io_bytes"].as_u64().unwrap_or(0);
        result.iops += side["iops"].as_f64().unwrap_or(0.0);
        result.mb_per_s += side["bw_bytes"].as_f64().unwrap_or(0.0) / 1e6;
        result.bytes += bytes;
        result.ios += side["total_ios"].as_u64().unwrap_or(0);
        if bytes > 0 && busiest.is_none_or(|b| b["io_bytes"].as_u64().unwrap_or(0) < bytes) {
            busiest = Some(side);
        }
    }
    let side = busiest.ok_or("fio json: the job moved no data")?;
    let percentile = |p: &str| -> Result<f64, String> {
        side["clat_ns"]["percentile"][p]
            .as_f64()
            .map(|ns| ns / 1000.0)
            .ok_or_else(|| format!("fio json: no clat percentile {p}"))
    };
    result.p50_us = percentile("50.000000")?;
    result.p99_us = percentile("99.000000")?;
    Ok(result)
}

/// ib_write_lat: typical and 99th percentile latency in microseconds.
/// ib_write_bw: average bandwidth in MB/s. Both print a header line that
/// starts with `#bytes` and a data line of numbers under it.
#[derive(Debug, Clone, PartialEq)]
enum Perftest {
    Latency { typical_us: f64, p99_us: f64 },
    Bandwidth { average_mb_per_s: f64 },
}

fn parse_perftest(text: &str) -> Result<Perftest, String> {
    let mut lines = text.lines();
    let header = lines
        .by_ref()
        .find(|l| l.trim_start().starts_with("#bytes"))
        .ok_or("perftest: no result header")?;
    let numbers: Vec<f64> = lines
        .map(|l| {
            l.split_whitespace()
                .map(str::parse::<f64>)
                .collect::<Result<Vec<_>, _>>()
        })
        .find_map(|r| r.ok().filter(|v| v.len() >= 4))
        .ok_or("perftest: no result line")?;
    if header.contains("t_typical") {
        // bytes iterations t_min t_max t_typical t_avg t_stdev p99 p99.9
        if numbers.len() < 8 {
            return Err("perftest: short latency line".into());
        }
        Ok(Perftest::Latency {
            typical_us: numbers[4],
            p99_us: numbers[7],
        })
    } else if header.contains("BW average") {
        // bytes iterations bw_peak bw_average msg_rate
        Ok(Perftest::Bandwidth {
            average_mb_per_s: numbers[3],
        })
    } else {
        Err(format!("perftest: unknown header '{}'", header.trim()))
    }
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// A file holding one number (jiffies, seconds), if it exists.
fn read_number(path: &Path) -> Result<Option<f64>, String> {
    if !path.exists() {
        return Ok(None);
    }
    let text = read(path)?;
    text.trim()
        .parse()
        .map(Some)
        .map_err(|e| format!("{}: '{}': {e}", path.display(), text.trim()))
}

/// `KEY=VALUE` or `KEY="VALUE"` lines (bench.env).
fn parse_env(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            (k.trim().to_string(), v.to_string())
        })
        .collect()
}

/// One fio job of one phase of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct JobResult {
    pub job: String,
    pub fio: FioResult,
    pub client_cpu_s_per_gib: Option<f64>,
    pub server_cpu_s_per_gib: Option<f64>,
    pub seconds: Option<f64>,
    pub profile: Option<Value>,
}

impl JobResult {
    /// A metric by its key (`report::METRICS`, plus `total_cpu_s_per_gib`).
    pub fn metric(&self, key: &str) -> Option<f64> {
        match key {
            "iops" => Some(self.fio.iops),
            "mb_per_s" => Some(self.fio.mb_per_s),
            "p50_us" => Some(self.fio.p50_us),
            "p99_us" => Some(self.fio.p99_us),
            "client_cpu_s_per_gib" => self.client_cpu_s_per_gib,
            "server_cpu_s_per_gib" => self.server_cpu_s_per_gib,
            "total_cpu_s_per_gib" => Some(self.client_cpu_s_per_gib? + self.server_cpu_s_per_gib?),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    pub name: String,
    /// The server's always_invalidate as the guest read it.
    pub always_invalidate: Option<String>,
    pub map_seconds: Option<f64>,
    pub unmap_seconds: Option<f64>,
    pub jobs: Vec<JobResult>,
}

/// One (round, pair) run: one scenario of the vmrun.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub scenario: String,
    pub round: u32,
    pub position: u32,
    pub pair: String,
    /// The scenario ended as expected (vmrun's results.json).
    pub ok: bool,
    /// Its wall time, boot to power-off (results.json).
    pub seconds: Option<f64>,
    pub link: serde_json::Map<String, Value>,
    pub phases: Vec<Phase>,
}

impl Run {
    pub fn phase(&self, name: &str) -> Option<&Phase> {
        self.phases.iter().find(|p| p.name == name)
    }

    pub fn job(&self, phase: &str, job: &str) -> Option<&JobResult> {
        self.phase(phase)?.jobs.iter().find(|j| j.job == job)
    }

    /// Wall time not spent in fio: boot, module loads, map, unmap,
    /// shutdown (and perftest in the first run).
    pub fn overhead_seconds(&self) -> Option<f64> {
        let fio: Option<f64> = self
            .phases
            .iter()
            .flat_map(|p| &p.jobs)
            .map(|j| j.seconds)
            .sum();
        Some(self.seconds? - fio?)
    }
}

fn collect_link(dir: &Path) -> Result<serde_json::Map<String, Value>, String> {
    let mut link = serde_json::Map::new();
    for kind in ["write_lat", "write_bw"] {
        let path = dir.join(format!("{kind}.txt"));
        if !path.exists() {
            continue;
        }
        match parse_perftest(&read(&path)?).map_err(|e| format!("{}: {e}", path.display()))? {
            Perftest::Latency { typical_us, p99_us } => {
                link.insert("ib_write_lat_typical_us".into(), json!(typical_us));
                link.insert("ib_write_lat_p99_us".into(), json!(p99_us));
            }
            Perftest::Bandwidth { average_mb_per_s } => {
                link.insert("ib_write_bw_mb_per_s".into(), json!(average_mb_per_s));
            }
        }
    }
    Ok(link)
}

/// One phase directory: the jobs of `order` that left a fio JSON.
fn collect_phase(name: &str, dir: &Path, order: &[String]) -> Result<Phase, String> {
    let mut jobs = Vec::new();
    for job in order {
        let path = dir.join(format!("{job}.fio.json"));
        if !path.exists() {
            continue;
        }
        // A job that failed (its run is then reported FAILED and left out)
        // is skipped with a word, not the whole report.
        let fio = match parse_fio(&read(&path)?) {
            Ok(fio) => fio,
            Err(e) => {
                eprintln!("benchreport: {}: {e}; job left out", path.display());
                continue;
            }
        };
        // CPU per GiB: the CPU the hooks' window saw over the bytes the
        // device moved in it (fio's own count leaves the ramp out).
        let window = read_number(&dir.join(format!("{job}.window-bytes")))?;
        let gib = window.unwrap_or(fio.bytes as f64) / GIB;
        let per_gib = |file: &str| -> Result<Option<f64>, String> {
            Ok(read_number(&dir.join(format!("{job}.{file}")))?
                .filter(|_| gib > 0.0)
                .map(|jiffies| jiffies / USER_HZ / gib))
        };
        let profile = if dir.join(format!("{job}.profile")).is_dir() {
            match profile::collect(dir, job) {
                Ok(p) => Some(p),
                Err(e) => {
                    eprintln!("benchreport: profile of {job}: {e}; left out");
                    None
                }
            }
        } else {
            None
        };
        jobs.push(JobResult {
            job: job.clone(),
            client_cpu_s_per_gib: per_gib("cpu-client")?,
            server_cpu_s_per_gib: per_gib("cpu-server")?,
            seconds: read_number(&dir.join(format!("{job}.seconds")))?,
            fio,
            profile,
        });
    }
    let ai = dir.join("always_invalidate");
    Ok(Phase {
        name: name.to_string(),
        always_invalidate: if ai.exists() {
            Some(read(&ai)?.trim().to_string())
        } else {
            None
        },
        map_seconds: read_number(&dir.join("map.seconds"))?,
        unmap_seconds: read_number(&dir.join("unmap.seconds"))?,
        jobs,
    })
}

/// One run's `shared/bench` directory (its bench.env says which run).
fn collect_run(
    scenario: &str,
    dir: &Path,
    result: Option<&(bool, f64)>,
) -> Result<Option<Run>, String> {
    let env_path = dir.join("bench.env");
    if !env_path.exists() {
        return Ok(None);
    }
    let env = parse_env(&read(&env_path)?);
    let number = |key: &str| -> Result<u32, String> {
        env.get(key)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{}: no number {key}", env_path.display()))
    };
    let words = |key: &str| -> Vec<String> {
        env.get(key)
            .map(|v| v.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    };
    let mut phases = Vec::new();
    for (name, order) in [
        ("main", words("BENCH_JOBS")),
        ("ai-n", words("BENCH_AI_JOBS")),
    ] {
        let pdir = dir.join(name);
        if pdir.is_dir() {
            phases.push(collect_phase(name, &pdir, &order)?);
        }
    }
    Ok(Some(Run {
        scenario: scenario.to_string(),
        round: number("BENCH_ROUND")?,
        position: number("BENCH_POSITION")?,
        pair: env
            .get("BENCH_PAIR")
            .cloned()
            .ok_or_else(|| format!("{}: no BENCH_PAIR", env_path.display()))?,
        // Without vmrun's verdict (results.json missing) the run counts.
        ok: result.is_none_or(|r| r.0),
        seconds: result.map(|r| r.1),
        link: collect_link(dir)?,
        phases,
    }))
}

/// vmrun's results.json: per scenario, whether it ended as expected and
/// its wall time.
fn read_results(path: &Path) -> Result<BTreeMap<String, (bool, f64)>, String> {
    if !path.exists() {
        return Ok(BTreeMap::new());
    }
    let doc: Value =
        serde_json::from_str(&read(path)?).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(doc["scenarios"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            Some((
                s["scenario"].as_str()?.to_string(),
                (s["ok"].as_bool()?, s["seconds"].as_f64()?),
            ))
        })
        .collect())
}

/// Every run under `log_dir`, in the order they ran.
fn collect_runs(log_dir: &Path) -> Result<Vec<Run>, String> {
    let results = read_results(&log_dir.join("results.json"))?;
    let mut runs = Vec::new();
    for entry in fs::read_dir(log_dir).map_err(|e| format!("{}: {e}", log_dir.display()))? {
        let entry = entry.map_err(|e| e.to_string())?;
        let dir = entry.path().join("shared/bench");
        if !dir.is_dir() {
            continue;
        }
        let scenario = entry.file_name().to_string_lossy().into_owned();
        if let Some(run) = collect_run(&scenario, &dir, results.get(&scenario))? {
            runs.push(run);
        }
    }
    runs.sort_by_key(|r| (r.round, r.position));
    Ok(runs)
}

/// A pair's column: its id, label and why it did not run.
#[derive(Debug, Clone, PartialEq)]
pub struct PairSpec {
    pub pair: String,
    pub label: String,
    pub not_run: Option<String>,
}

#[derive(Debug)]
struct Options {
    title: String,
    notes: Vec<String>,
    pairs: Vec<PairSpec>,
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut opts = Options {
        title: "rnbd-rs benchmark".to_string(),
        notes: Vec::new(),
        pairs: Vec::new(),
    };
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().ok_or(format!("{flag} needs a value"))?.clone();
        match flag.as_str() {
            "--title" => opts.title = value,
            "--note" => opts.notes.push(value),
            "--pair" => {
                let (pair, label) = value
                    .split_once('=')
                    .ok_or(format!("--pair {value}: want PAIR=LABEL"))?;
                if opts.pairs.iter().any(|p| p.pair == pair) {
                    return Err(format!("--pair {pair} given twice"));
                }
                opts.pairs.push(PairSpec {
                    pair: pair.to_string(),
                    label: label.to_string(),
                    not_run: None,
                });
            }
            "--not-run" => {
                let (pair, reason) = value
                    .split_once('=')
                    .ok_or(format!("--not-run {value}: want PAIR=REASON"))?;
                let spec = opts
                    .pairs
                    .iter_mut()
                    .find(|p| p.pair == pair)
                    .ok_or(format!("--not-run {pair}: no such --pair before it"))?;
                spec.not_run = Some(reason.to_string());
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(opts)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 || args[0] == "-h" || args[0] == "--help" {
        eprintln!(
            "usage: benchreport LOG_DIR OUT.json OUT.md [--title T] [--note N]... [--pair PAIR=LABEL [--not-run PAIR=REASON]]..."
        );
        return ExitCode::from(2);
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("benchreport: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let (log_dir, out_json, out_md) = (Path::new(&args[0]), &args[1], Path::new(&args[2]));
    let mut opts = parse_options(&args[3..])?;
    let runs = collect_runs(log_dir)?;
    if runs.is_empty() {
        return Err(format!("{}: no bench results", log_dir.display()));
    }
    // Pairs that ran without a --pair get a column under their own name.
    for run in &runs {
        if !opts.pairs.iter().any(|p| p.pair == run.pair) {
            opts.pairs.push(PairSpec {
                pair: run.pair.clone(),
                label: run.pair.clone(),
                not_run: None,
            });
        }
    }
    let doc = report::document(&opts.title, &opts.notes, &opts.pairs, &runs);
    fs::write(
        out_json,
        serde_json::to_string_pretty(&doc).expect("json") + "\n",
    )
    .map_err(|e| format!("{out_json}: {e}"))?;
    let md = report::markdown(&doc);
    fs::write(out_md, &md).map_err(|e| format!("{}: {e}", out_md.display()))?;
    print!("{md}");
    if doc["profile"].as_array().is_some_and(|p| !p.is_empty()) {
        let path = out_md.with_file_name("profile.md");
        fs::write(&path, report::profile_markdown(&doc))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        println!("\nprofile: {}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIO_RANDREAD: &str = r#"{"jobs":[{"jobname":"randread-4k-qd32","error":0,
        "read":{"io_bytes":41943040,"bw_bytes":2097152,"iops":512.0,"total_ios":10240,
                "clat_ns":{"percentile":{"50.000000":61000,"99.000000":120000}}},
        "write":{"io_bytes":0,"bw_bytes":0,"iops":0.0,"total_ios":0,"clat_ns":{}}}]}"#;

    #[test]
    fn fio_read_job() {
        let r = parse_fio(FIO_RANDREAD).unwrap();
        assert_eq!(r.bytes, 41943040);
        assert_eq!(r.ios, 10240);
        assert_eq!(r.iops, 512.0);
        assert!((r.mb_per_s - 2.097152).abs() < 1e-9);
        assert_eq!((r.p50_us, r.p99_us), (61.0, 120.0));
    }

    #[test]
    fn fio_errors() {
        assert!(parse_fio("{").is_err());
        assert!(parse_fio(r#"{"jobs":[]}"#).is_err());
        assert!(parse_fio(r#"{"jobs":[{"error":5}]}"#)
            .unwrap_err()
            .contains("error 5"));
        let idle = r#"{"jobs":[{"error":0,"read":{"io_bytes":0},"write":{"io_bytes":0}}]}"#;
        assert!(parse_fio(idle).unwrap_err().contains("no data"));
    }

    #[test]
    fn env_lines() {
        let env = parse_env("BENCH_ROUND=\"2\"\nBENCH_JOBS=\"a b\"\nX=y\nnot a line\n");
        assert_eq!(env["BENCH_ROUND"], "2");
        assert_eq!(env["BENCH_JOBS"], "a b");
        assert_eq!(env["X"], "y");
        assert_eq!(env.len(), 3);
    }

    #[test]
    fn options() {
        let args: Vec<String> = [
            "--pair",
            "c-c=C/C",
            "--pair",
            "rust-c=R/C",
            "--not-run",
            "rust-c=no ko",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let o = parse_options(&args).unwrap();
        assert_eq!(o.pairs.len(), 2);
        assert_eq!(o.pairs[1].not_run.as_deref(), Some("no ko"));
        let twice: Vec<String> = ["--pair", "c-c=a", "--pair", "c-c=b"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(parse_options(&twice).unwrap_err().contains("twice"));
    }

    /// Writes a run's shared/bench tree the way the guests do.
    fn write_run(log: &Path, round: u32, position: u32, pair: &str, iops: [f64; 2], ai: bool) {
        let scenario = format!("r{round}-cross-2vm-{pair}");
        let dir = log.join(&scenario).join("shared/bench");
        let jobs = "randread-4k-qd32 randread-4k-qd1";
        fs::create_dir_all(dir.join("main")).unwrap();
        fs::write(
            dir.join("bench.env"),
            format!(
                "BENCH_ROUND=\"{round}\"\nBENCH_POSITION=\"{position}\"\nBENCH_PAIR=\"{pair}\"\nBENCH_JOBS=\"{jobs}\"\nBENCH_AI_JOBS=\"{}\"\n",
                if ai { "randread-4k-qd32" } else { "" }
            ),
        )
        .unwrap();
        let fio = |iops: f64| {
            format!(
                r#"{{"jobs":[{{"error":0,"read":{{"io_bytes":1073741824,"bw_bytes":{},"iops":{iops},"total_ios":262144,
                "clat_ns":{{"percentile":{{"50.000000":1000,"99.000000":2000}}}}}},"write":{{"io_bytes":0}}}}]}}"#,
                iops * 4096.0
            )
        };
        let mut phases = vec![("main", "Y", iops)];
        if ai {
            phases.push(("ai-n", "N", [iops[0] * 1.25, 0.0]));
        }
        for (phase, value, iops) in phases {
            let p = dir.join(phase);
            fs::create_dir_all(&p).unwrap();
            fs::write(p.join("always_invalidate"), format!("{value}\n")).unwrap();
            fs::write(p.join("map.seconds"), "0.5\n").unwrap();
            for (job, iops) in jobs.split(' ').zip(iops) {
                if iops == 0.0 {
                    continue;
                }
                fs::write(p.join(format!("{job}.fio.json")), fio(iops)).unwrap();
                fs::write(p.join(format!("{job}.cpu-client")), "10000\n").unwrap();
                if job == "randread-4k-qd1" {
                    // 2 GiB in the hooks' window: half the CPU per GiB.
                    fs::write(p.join(format!("{job}.window-bytes")), "2147483648\n").unwrap();
                }
                fs::write(p.join(format!("{job}.cpu-server")), "5000\n").unwrap();
                fs::write(p.join(format!("{job}.seconds")), "12.0\n").unwrap();
            }
        }
    }

    #[test]
    fn runs_from_a_log_dir() {
        let log = std::env::temp_dir().join(format!("benchreport-runs-{}", std::process::id()));
        let _ = fs::remove_dir_all(&log);
        write_run(&log, 2, 1, "c-c", [1000.0, 500.0], true);
        write_run(&log, 1, 2, "c-c", [2000.0, 400.0], false);
        write_run(&log, 1, 1, "rust-c", [1800.0, 300.0], false);
        fs::create_dir_all(log.join("scenarios/r1-cross-2vm-c-c")).unwrap();
        fs::write(
            log.join("results.json"),
            r#"{"scenarios":[{"scenario":"r1-cross-2vm-c-c","ok":true,"seconds":60.0},
                             {"scenario":"r1-cross-2vm-rust-c","ok":false,"seconds":70.0}]}"#,
        )
        .unwrap();
        let runs = collect_runs(&log).unwrap();
        let order: Vec<(u32, u32, &str)> = runs
            .iter()
            .map(|r| (r.round, r.position, r.pair.as_str()))
            .collect();
        assert_eq!(order, vec![(1, 1, "rust-c"), (1, 2, "c-c"), (2, 1, "c-c")]);
        assert!(!runs[0].ok, "results.json says it failed");
        assert!(
            runs[2].ok && runs[2].seconds.is_none(),
            "no verdict: counted"
        );
        let cc1 = &runs[1];
        assert_eq!(cc1.overhead_seconds(), Some(60.0 - 24.0));
        let j = cc1.job("main", "randread-4k-qd32").unwrap();
        assert_eq!(j.fio.iops, 2000.0);
        assert_eq!(j.client_cpu_s_per_gib, Some(100.0));
        assert_eq!(j.server_cpu_s_per_gib, Some(50.0));
        assert_eq!(j.metric("total_cpu_s_per_gib"), Some(150.0));
        let qd1 = cc1.job("main", "randread-4k-qd1").unwrap();
        assert_eq!(qd1.client_cpu_s_per_gib, Some(50.0));
        assert_eq!(
            cc1.phase("main").unwrap().always_invalidate.as_deref(),
            Some("Y")
        );
        let bad = log.join("r2-cross-2vm-c-c/shared/bench/main/randread-4k-qd1.fio.json");
        fs::write(&bad, r#"{"jobs":[{"error":5}]}"#).unwrap();
        let runs = collect_runs(&log).unwrap();
        assert!(
            runs[2].job("main", "randread-4k-qd1").is_none(),
            "failed job skipped"
        );
        assert!(runs[2].job("main", "randread-4k-qd32").is_some());
        let cc2 = &runs[2];
        assert_eq!(cc2.phase("ai-n").unwrap().jobs.len(), 1);
        assert_eq!(
            cc2.job("ai-n", "randread-4k-qd32").unwrap().fio.iops,
            1250.0
        );
        fs::remove_dir_all(&log).unwrap();
    }

    #[test]
    fn perftest_latency_and_bandwidth() {
        let lat = "\
---------------------------------------------------------------------------------------
 #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    t_avg[usec]    t_stdev[usec]   99% percentile[usec]   99.9% percentile[usec] 
 2       2000          40.12          900.50       55.30              60.00          10.00           150.25                 800.00  
---------------------------------------------------------------------------------------
";
        assert_eq!(
            parse_perftest(lat).unwrap(),
            Perftest::Latency {
                typical_us: 55.30,
                p99_us: 150.25
            }
        );
        let bw = "\
 #bytes     #iterations    BW peak[MB/sec]    BW average[MB/sec]   MsgRate[Mpps]
 131072     2000             0.00               26.12                0.000199
";
        assert_eq!(
            parse_perftest(bw).unwrap(),
            Perftest::Bandwidth {
                average_mb_per_s: 26.12
            }
        );
        assert!(parse_perftest("Couldn't connect to 10.0.2.15:18515").is_err());
    }
}
