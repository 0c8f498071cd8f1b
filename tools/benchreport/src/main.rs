//! benchreport: reads what the bench scenarios left in a vmrun log
//! directory (`<scenario>/shared/bench/`) and writes one JSON document and
//! one markdown table.
//!
//! usage: benchreport LOG_DIR OUT.json OUT.md [--title TEXT] [--note TEXT]...
//!        [--pair SETUP=LABEL [--not-run SETUP=REASON]]...
//!
//! With `--pair`, the fio results of those setups (one per pair of client
//! and server implementations) are also laid out side by side, a column
//! per pair in the order given; a pair marked `--not-run` gets a column
//! saying so.

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
struct FioResult {
    iops: f64,
    mb_per_s: f64,
    p50_us: f64,
    p99_us: f64,
    bytes: u64,
}

/// Parses fio's `--output-format=json` for a single-job run. Reads and
/// writes are summed; latency comes from whichever direction moved more.
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

fn cpu_seconds(path: &Path) -> Result<Option<f64>, String> {
    if !path.exists() {
        return Ok(None);
    }
    let text = read(path)?;
    let jiffies: f64 = text
        .trim()
        .parse()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Some(jiffies / USER_HZ))
}

/// Collects one setup (a bench scenario's output directory).
fn collect_setup(name: &str, dir: &Path) -> Result<Value, String> {
    let mut link = serde_json::Map::new();
    for kind in ["write_lat", "write_bw"] {
        let path = dir.join(format!("{kind}.txt"));
        if !path.exists() {
            continue;
        }
        match parse_perftest(&read(&path)?)? {
            Perftest::Latency { typical_us, p99_us } => {
                link.insert("ib_write_lat_typical_us".into(), json!(typical_us));
                link.insert("ib_write_lat_p99_us".into(), json!(p99_us));
            }
            Perftest::Bandwidth { average_mb_per_s } => {
                link.insert("ib_write_bw_mb_per_s".into(), json!(average_mb_per_s));
            }
        }
    }
    // Files are <setup>.<job>.fio.json; keep the order the jobs ran in.
    let mut jobs = BTreeMap::new();
    for entry in fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let file = entry.map_err(|e| e.to_string())?.file_name();
        let file = file.to_string_lossy();
        let Some(job) = file
            .strip_suffix(".fio.json")
            .and_then(|s| s.strip_prefix(&format!("{name}.")))
        else {
            continue;
        };
        let path = dir.join(&*file);
        let modified = fs::metadata(&path)
            .and_then(|m| m.modified())
            .map_err(|e| e.to_string())?;
        let fio = parse_fio(&read(&path)?).map_err(|e| format!("{}: {e}", path.display()))?;
        let gib = fio.bytes as f64 / GIB;
        let per_gib = |cpu: Option<f64>| cpu.filter(|_| gib > 0.0).map(|s| s / gib);
        let client_cpu = cpu_seconds(&dir.join(format!("{name}.{job}.cpu-client")))?;
        let server_cpu = cpu_seconds(&dir.join(format!("{name}.{job}.cpu-server")))?;
        jobs.insert(
            (modified, job.to_string()),
            json!({
                "job": job,
                "iops": fio.iops,
                "mb_per_s": fio.mb_per_s,
                "p50_us": fio.p50_us,
                "p99_us": fio.p99_us,
                "bytes": fio.bytes,
                "client_cpu_s_per_gib": per_gib(client_cpu),
                "server_cpu_s_per_gib": per_gib(server_cpu),
            }),
        );
    }
    Ok(json!({
        "setup": name,
        "link": link,
        "jobs": jobs.into_values().collect::<Vec<_>>(),
    }))
}

fn fmt_num(v: &Value, decimals: usize) -> String {
    v.as_f64()
        .map_or_else(|| "-".to_string(), |f| format!("{f:.decimals$}"))
}

fn markdown(doc: &Value) -> String {
    let mut md = String::new();
    md.push_str(&format!(
        "## {}\n\n",
        doc["title"].as_str().unwrap_or("Benchmark")
    ));
    for note in doc["notes"].as_array().into_iter().flatten() {
        md.push_str(&format!("- {}\n", note.as_str().unwrap_or_default()));
    }
    md.push_str("\n### Link limit (perftest over rdma_cm on rxe)\n\n");
    md.push_str("| setup | ib_write_lat 2 B typical (us) | ib_write_lat p99 (us) | ib_write_bw 128 KiB (MB/s) |\n");
    md.push_str("|---|---:|---:|---:|\n");
    for setup in doc["setups"].as_array().into_iter().flatten() {
        let link = &setup["link"];
        md.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            setup["setup"].as_str().unwrap_or("?"),
            fmt_num(&link["ib_write_lat_typical_us"], 1),
            fmt_num(&link["ib_write_lat_p99_us"], 1),
            fmt_num(&link["ib_write_bw_mb_per_s"], 2),
        ));
    }
    let pairs: Vec<&Value> = doc["pairs"].as_array().into_iter().flatten().collect();
    if !pairs.is_empty() {
        md.push_str(&pairs_table(doc, &pairs));
    }
    md.push_str("\n### fio on /dev/rnbd0 (brd backing)\n\n");
    md.push_str("| setup | modules | job | IOPS | MB/s | p50 (us) | p99 (us) | client CPU s/GiB | server CPU s/GiB |\n");
    md.push_str("|---|---|---|---:|---:|---:|---:|---:|---:|\n");
    for setup in doc["setups"].as_array().into_iter().flatten() {
        for job in setup["jobs"].as_array().into_iter().flatten() {
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                setup["setup"].as_str().unwrap_or("?"),
                setup_modules(doc, setup["setup"].as_str().unwrap_or("?")),
                job["job"].as_str().unwrap_or("?"),
                fmt_num(&job["iops"], 0),
                fmt_num(&job["mb_per_s"], 2),
                fmt_num(&job["p50_us"], 0),
                fmt_num(&job["p99_us"], 0),
                fmt_num(&job["client_cpu_s_per_gib"], 1),
                fmt_num(&job["server_cpu_s_per_gib"], 1),
            ));
        }
    }
    md
}

/// The modules column of a setup: its pair's label, else `--modules`.
fn setup_modules(doc: &Value, setup: &str) -> String {
    doc["pairs"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["setup"].as_str() == Some(setup))
        .and_then(|p| p["label"].as_str())
        .unwrap_or(doc["modules"].as_str().unwrap_or("?"))
        .to_string()
}

/// One table, a column per pair: every job's IOPS, MB/s, latencies and
/// CPU cost, or "not run".
fn pairs_table(doc: &Value, pairs: &[&Value]) -> String {
    let setups: Vec<Option<&Value>> = pairs
        .iter()
        .map(|p| {
            doc["setups"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|s| s["setup"] == p["setup"])
        })
        .collect();
    let mut jobs: Vec<String> = Vec::new();
    for s in setups.iter().flatten() {
        for j in s["jobs"].as_array().into_iter().flatten() {
            let name = j["job"].as_str().unwrap_or("?").to_string();
            if !jobs.contains(&name) {
                jobs.push(name);
            }
        }
    }
    let mut md =
        String::from("\n### fio per pair (client / server), cross-2vm\n\n| job | metric |");
    for p in pairs {
        md.push_str(&format!(" {} |", p["label"].as_str().unwrap_or("?")));
    }
    md.push_str("\n|---|---|");
    md.push_str(&"---:|".repeat(pairs.len()));
    md.push('\n');
    let metrics = [
        ("IOPS", "iops", 0),
        ("MB/s", "mb_per_s", 2),
        ("p50 (us)", "p50_us", 0),
        ("p99 (us)", "p99_us", 0),
        ("client CPU s/GiB", "client_cpu_s_per_gib", 1),
        ("server CPU s/GiB", "server_cpu_s_per_gib", 1),
    ];
    for job in &jobs {
        for (i, (title, key, decimals)) in metrics.iter().enumerate() {
            md.push_str(&format!(
                "| {} | {} |",
                if i == 0 { job.as_str() } else { "" },
                title
            ));
            for (p, s) in pairs.iter().zip(&setups) {
                let cell = match s {
                    Some(s) => s["jobs"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|j| j["job"].as_str() == Some(job.as_str()))
                        .map_or("-".to_string(), |j| fmt_num(&j[*key], *decimals)),
                    None => match p["not_run"].as_str() {
                        Some(_) => "not run".to_string(),
                        None => "-".to_string(),
                    },
                };
                md.push_str(&format!(" {cell} |"));
            }
            md.push('\n');
        }
    }
    let skipped: Vec<String> = pairs
        .iter()
        .filter_map(|p| {
            p["not_run"]
                .as_str()
                .map(|r| format!("{}: not run ({r})", p["label"].as_str().unwrap_or("?")))
        })
        .collect();
    if !skipped.is_empty() {
        md.push('\n');
        for s in skipped {
            md.push_str(&format!("- {s}\n"));
        }
    }
    md
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 || args[0] == "-h" || args[0] == "--help" {
        eprintln!(
            "usage: benchreport LOG_DIR OUT.json OUT.md [--title T] [--modules M] [--note N]..."
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
    let (log_dir, out_json, out_md) = (Path::new(&args[0]), &args[1], &args[2]);
    let mut title = "rnbd-rs benchmark".to_string();
    let mut modules = "C/C".to_string();
    let mut notes = Vec::new();
    let mut pairs: Vec<Value> = Vec::new();
    let mut rest = args[3..].iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().ok_or(format!("{flag} needs a value"))?.clone();
        match flag.as_str() {
            "--title" => title = value,
            "--modules" => modules = value,
            "--note" => notes.push(value),
            "--pair" => {
                let (setup, label) = value
                    .split_once('=')
                    .ok_or(format!("--pair {value}: want SETUP=LABEL"))?;
                pairs.push(json!({"setup": setup, "label": label}));
            }
            "--not-run" => {
                let (setup, reason) = value
                    .split_once('=')
                    .ok_or(format!("--not-run {value}: want SETUP=REASON"))?;
                let pair = pairs
                    .iter_mut()
                    .find(|p| p["setup"].as_str() == Some(setup))
                    .ok_or(format!("--not-run {setup}: no such --pair before it"))?;
                pair["not_run"] = json!(reason);
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    let mut setups = Vec::new();
    let mut names: Vec<String> = fs::read_dir(log_dir)
        .map_err(|e| format!("{}: {e}", log_dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("shared/bench").is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in &names {
        setups.push(collect_setup(
            name,
            &log_dir.join(name).join("shared/bench"),
        )?);
    }
    if setups.is_empty() {
        return Err(format!("{}: no bench results", log_dir.display()));
    }
    let doc = json!({
        "title": title,
        "modules": modules,
        "notes": notes,
        "pairs": pairs,
        "setups": setups,
    });
    fs::write(
        out_json,
        serde_json::to_string_pretty(&doc).expect("json") + "\n",
    )
    .map_err(|e| format!("{out_json}: {e}"))?;
    let md = markdown(&doc);
    fs::write(out_md, &md).map_err(|e| format!("{out_md}: {e}"))?;
    print!("{md}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIO_RANDREAD: &str = r#"{"jobs":[{"jobname":"randread-4k-qd32","error":0,
        "read":{"io_bytes":41943040,"bw_bytes":2097152,"iops":512.0,
                "clat_ns":{"percentile":{"50.000000":61000,"99.000000":120000}}},
        "write":{"io_bytes":0,"bw_bytes":0,"iops":0.0,"clat_ns":{}}}]}"#;

    #[test]
    fn fio_read_job() {
        let r = parse_fio(FIO_RANDREAD).unwrap();
        assert_eq!(r.bytes, 41943040);
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
    fn pairs_side_by_side() {
        let job = |iops: f64| {
            json!({"job": "randread-4k-qd32", "iops": iops, "mb_per_s": 1.0, "p50_us": 10.0,
                   "p99_us": 20.0, "client_cpu_s_per_gib": 3.0, "server_cpu_s_per_gib": null})
        };
        let doc = json!({
            "title": "t", "modules": "C/C", "notes": [],
            "pairs": [{"setup": "cross-2vm-c-c", "label": "C client / C server"},
                      {"setup": "cross-2vm-rust-c", "label": "Rust client / C server", "not_run": "no ko"},
                      {"setup": "cross-2vm-c-rust", "label": "C client / Rust server"}],
            "setups": [{"setup": "cross-2vm-c-c", "link": {}, "jobs": [job(2117.0)]},
                       {"setup": "cross-2vm-c-rust", "link": {}, "jobs": [job(1999.0)]}],
        });
        let md = markdown(&doc);
        assert!(md.contains("| job | metric | C client / C server | Rust client / C server | C client / Rust server |"));
        assert!(md.contains("| randread-4k-qd32 | IOPS | 2117 | not run | 1999 |"));
        assert!(md.contains("|  | server CPU s/GiB | - | not run | - |"));
        assert!(md.contains("- Rust client / C server: not run (no ko)"));
        assert!(
            md.contains("| cross-2vm-c-rust | C client / Rust server | randread-4k-qd32 | 1999 |")
        );
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
