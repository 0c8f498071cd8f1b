//! The report: runs reduced to medians and ranges over rounds, per-round
//! ratios, always_invalidate Y against N; as JSON and markdown.

use serde_json::{json, Value};

use crate::stats::{fmt_spread_json, ratios, spread, spread_json, ByRound};
use crate::{PairSpec, Run};

/// The metrics of every job: key, title, decimals in the tables.
pub const METRICS: [(&str, &str, usize); 6] = [
    ("iops", "IOPS", 0),
    ("mb_per_s", "MB/s", 2),
    ("p50_us", "p50 (us)", 0),
    ("p99_us", "p99 (us)", 0),
    ("client_cpu_s_per_gib", "client CPU s/GiB", 1),
    ("server_cpu_s_per_gib", "server CPU s/GiB", 1),
];

/// The Rust/C ratios: id, title, numerator pair, denominator pair, and the
/// CPU metric that belongs to the comparison (the client's CPU for a client
/// comparison, the server's for a server one, both for Rust/Rust vs C/C).
pub const RATIOS: [(&str, &str, &str, &str, &str); 5] = [
    (
        "rust_client_c_server",
        "Rust client / C client (C server)",
        "rust-c",
        "c-c",
        "client_cpu_s_per_gib",
    ),
    (
        "rust_client_rust_server",
        "Rust client / C client (Rust server)",
        "rust-rust",
        "c-rust",
        "client_cpu_s_per_gib",
    ),
    (
        "rust_server_c_client",
        "Rust server / C server (C client)",
        "c-rust",
        "c-c",
        "server_cpu_s_per_gib",
    ),
    (
        "rust_server_rust_client",
        "Rust server / C server (Rust client)",
        "rust-rust",
        "rust-c",
        "server_cpu_s_per_gib",
    ),
    (
        "rust_rust_c_c",
        "Rust/Rust / C/C",
        "rust-rust",
        "c-c",
        "total_cpu_s_per_gib",
    ),
];

/// The metric of one pair's job in one phase, by round, over the runs that
/// ended as expected.
pub fn by_round(runs: &[Run], pair: &str, phase: &str, job: &str, metric: &str) -> ByRound {
    runs.iter()
        .filter(|r| r.ok && r.pair == pair)
        .filter_map(|r| Some((r.round, r.job(phase, job)?.metric(metric)?)))
        .collect()
}

/// Job names of a phase in the order they first ran.
fn jobs_of(runs: &[Run], phase: &str) -> Vec<String> {
    let mut jobs: Vec<String> = Vec::new();
    for j in runs
        .iter()
        .filter_map(|r| r.phase(phase))
        .flat_map(|p| &p.jobs)
    {
        if !jobs.contains(&j.job) {
            jobs.push(j.job.clone());
        }
    }
    jobs
}

fn run_json(run: &Run) -> Value {
    json!({
        "scenario": run.scenario,
        "round": run.round,
        "position": run.position,
        "pair": run.pair,
        "ok": run.ok,
        "seconds": run.seconds,
        "overhead_seconds": run.overhead_seconds(),
        "link": run.link,
        "phases": run.phases.iter().map(|p| json!({
            "phase": p.name,
            "always_invalidate": p.always_invalidate,
            "map_seconds": p.map_seconds,
            "unmap_seconds": p.unmap_seconds,
            "jobs": p.jobs.iter().map(|j| json!({
                "job": j.job,
                "iops": j.fio.iops,
                "mb_per_s": j.fio.mb_per_s,
                "p50_us": j.fio.p50_us,
                "p99_us": j.fio.p99_us,
                "bytes": j.fio.bytes,
                "ios": j.fio.ios,
                "client_cpu_s_per_gib": j.client_cpu_s_per_gib,
                "server_cpu_s_per_gib": j.server_cpu_s_per_gib,
                "seconds": j.seconds,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// The whole report as one JSON document (bench.json); the markdown is
/// made from it.
pub fn document(title: &str, notes: &[String], pairs: &[PairSpec], runs: &[Run]) -> Value {
    let rounds = runs.iter().map(|r| r.round).max().unwrap_or(0);
    let order: Vec<Vec<&str>> = (1..=rounds)
        .map(|round| {
            runs.iter()
                .filter(|r| r.round == round)
                .map(|r| r.pair.as_str())
                .collect()
        })
        .collect();
    let metric_keys = METRICS.iter().map(|m| m.0).chain(["total_cpu_s_per_gib"]);
    let summary: Vec<Value> = jobs_of(runs, "main")
        .iter()
        .map(|job| {
            let metrics: serde_json::Map<String, Value> = metric_keys
                .clone()
                .map(|key| {
                    let per_pair: serde_json::Map<String, Value> = pairs
                        .iter()
                        .map(|p| {
                            (
                                p.pair.clone(),
                                spread_json(&by_round(runs, &p.pair, "main", job, key)),
                            )
                        })
                        .collect();
                    (key.to_string(), Value::Object(per_pair))
                })
                .collect();
            json!({"job": job, "metrics": metrics})
        })
        .collect();
    let ratio_doc: Vec<Value> = jobs_of(runs, "main")
        .iter()
        .map(|job| {
            let per: Vec<Value> = RATIOS
                .iter()
                .map(|(id, title, num, den, cpu)| {
                    let metrics: serde_json::Map<String, Value> = metric_keys
                        .clone()
                        .map(|key| {
                            let r = ratios(
                                &by_round(runs, num, "main", job, key),
                                &by_round(runs, den, "main", job, key),
                            );
                            (key.to_string(), spread_json(&r))
                        })
                        .collect();
                    json!({"id": id, "title": title, "num": num, "den": den,
                           "cpu_metric": cpu, "metrics": metrics})
                })
                .collect();
            json!({"job": job, "ratios": per})
        })
        .collect();
    let ai: Vec<Value> = jobs_of(runs, "ai-n")
        .iter()
        .map(|job| {
            let per_pair: serde_json::Map<String, Value> = pairs
                .iter()
                .filter(|p| p.not_run.is_none())
                .map(|p| {
                    let seen = |phase: &str| -> Vec<String> {
                        let mut v: Vec<String> = runs
                            .iter()
                            .filter(|r| r.ok && r.pair == p.pair)
                            .filter_map(|r| r.phase(phase)?.always_invalidate.clone())
                            .collect();
                        v.sort();
                        v.dedup();
                        v
                    };
                    let side = |key: &str| {
                        let y = by_round(runs, &p.pair, "main", job, key);
                        let n = by_round(runs, &p.pair, "ai-n", job, key);
                        json!({
                            "y": spread_json(&y),
                            "n": spread_json(&n),
                            "y_over_n": spread_json(&ratios(&y, &n)),
                        })
                    };
                    (
                        p.pair.clone(),
                        json!({
                            "always_invalidate_main": seen("main"),
                            "always_invalidate_ai_n": seen("ai-n"),
                            "iops": side("iops"),
                            "server_cpu_s_per_gib": side("server_cpu_s_per_gib"),
                        }),
                    )
                })
                .collect();
            json!({"job": job, "pairs": per_pair})
        })
        .collect();
    let overhead = spread(
        runs.iter()
            .filter(|r| r.ok)
            .filter_map(Run::overhead_seconds),
    );
    let profile: Vec<Value> = runs
        .iter()
        .filter(|r| r.ok)
        .flat_map(|r| {
            r.phases.iter().flat_map(move |p| {
                p.jobs.iter().filter_map(move |j| {
                    Some(json!({
                        "pair": r.pair,
                        "round": r.round,
                        "phase": p.name,
                        "job": j.job,
                        "iops": j.fio.iops,
                        "client_cpu_s_per_gib": j.client_cpu_s_per_gib,
                        "profile": j.profile.clone()?,
                    }))
                })
            })
        })
        .collect();
    json!({
        "title": title,
        "notes": notes,
        "rounds": rounds,
        "order": order,
        "pairs": pairs.iter().map(|p| json!({"pair": p.pair, "label": p.label, "not_run": p.not_run})).collect::<Vec<_>>(),
        "link": runs.iter().find(|r| !r.link.is_empty()).map(|r| json!({"scenario": r.scenario, "values": r.link})),
        "summary": summary,
        "ratios": ratio_doc,
        "always_invalidate": ai,
        "overhead_seconds": overhead.map(|s| json!({"median": s.median, "min": s.min, "max": s.max, "n": s.n})),
        "runs": runs.iter().map(run_json).collect::<Vec<_>>(),
        "profile": profile,
    })
}

fn label<'a>(doc: &'a Value, pair: &'a str) -> &'a str {
    doc["pairs"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["pair"] == pair)
        .and_then(|p| p["label"].as_str())
        .unwrap_or(pair)
}

fn fmt_opt(v: &Value, decimals: usize) -> String {
    v.as_f64()
        .map_or_else(|| "-".to_string(), |f| format!("{f:.decimals$}"))
}

pub fn markdown(doc: &Value) -> String {
    let mut md = format!("## {}\n\n", doc["title"].as_str().unwrap_or("Benchmark"));
    for note in doc["notes"].as_array().into_iter().flatten() {
        md.push_str(&format!("- {}\n", note.as_str().unwrap_or_default()));
    }
    for (i, order) in doc["order"].as_array().into_iter().flatten().enumerate() {
        let pairs: Vec<&str> = order
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        md.push_str(&format!("- round {}: {}\n", i + 1, pairs.join(", ")));
    }
    let pairs: Vec<&Value> = doc["pairs"].as_array().into_iter().flatten().collect();

    if let Some(link) = doc["link"].as_object() {
        let v = &link["values"];
        md.push_str("\n### Link limit (perftest over rdma_cm on rxe, once)\n\n");
        md.push_str("| run | ib_write_lat 2 B typical (us) | ib_write_lat p99 (us) | ib_write_bw 128 KiB (MB/s) |\n|---|---:|---:|---:|\n");
        md.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            link["scenario"].as_str().unwrap_or("?"),
            fmt_opt(&v["ib_write_lat_typical_us"], 1),
            fmt_opt(&v["ib_write_lat_p99_us"], 1),
            fmt_opt(&v["ib_write_bw_mb_per_s"], 2),
        ));
    }

    md.push_str(&format!(
        "\n### fio per pair (client / server): median (min-max) over {} round(s)\n\n| job | metric |",
        doc["rounds"]
    ));
    for p in &pairs {
        md.push_str(&format!(" {} |", p["label"].as_str().unwrap_or("?")));
    }
    md.push_str("\n|---|---|");
    md.push_str(&"---:|".repeat(pairs.len()));
    md.push('\n');
    for job in doc["summary"].as_array().into_iter().flatten() {
        for (i, (key, title, decimals)) in METRICS.iter().enumerate() {
            md.push_str(&format!(
                "| {} | {} |",
                if i == 0 {
                    job["job"].as_str().unwrap_or("?")
                } else {
                    ""
                },
                title
            ));
            for p in &pairs {
                let cell = if p["not_run"].is_string() {
                    "not run".to_string()
                } else {
                    fmt_spread_json(
                        &job["metrics"][key][p["pair"].as_str().unwrap_or("")],
                        *decimals,
                    )
                };
                md.push_str(&format!(" {cell} |"));
            }
            md.push('\n');
        }
    }

    let ratio_table = |md: &mut String, heading: &str, metric_of: &dyn Fn(&Value) -> String| {
        md.push_str(heading);
        md.push_str("| job |");
        for (_, title, num, den, _) in RATIOS {
            md.push_str(&format!(" {title}<br>{num} / {den} |"));
        }
        md.push_str("\n|---|");
        md.push_str(&"---:|".repeat(RATIOS.len()));
        md.push('\n');
        for job in doc["ratios"].as_array().into_iter().flatten() {
            md.push_str(&format!("| {} |", job["job"].as_str().unwrap_or("?")));
            for r in job["ratios"].as_array().into_iter().flatten() {
                let key = metric_of(r);
                md.push_str(&format!(" {} |", fmt_spread_json(&r["metrics"][&key], 2)));
            }
            md.push('\n');
        }
    };
    ratio_table(
        &mut md,
        "\n### Rust / C, IOPS: per round, then median (min-max); above 1 = Rust faster\n\n",
        &|_| "iops".to_string(),
    );
    ratio_table(
        &mut md,
        "\n### Rust / C, CPU s/GiB (client CPU for the client ratios, server CPU for the server ratios, client + server for Rust/Rust vs C/C); above 1 = Rust costs more\n\n",
        &|r| r["cpu_metric"].as_str().unwrap_or("").to_string(),
    );

    let ai = doc["always_invalidate"].as_array().into_iter().flatten();
    let mut ai_md = String::new();
    for job in ai {
        for p in &pairs {
            let pair = p["pair"].as_str().unwrap_or("");
            let Some(v) = job["pairs"].get(pair) else {
                continue;
            };
            let seen = |k: &str| {
                let s: Vec<&str> = v[k]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                if s.is_empty() {
                    "?".to_string()
                } else {
                    s.join("/")
                }
            };
            ai_md.push_str(&format!(
                "| {} | {} | {} / {} | {} | {} | {} | {} | {} |\n",
                job["job"].as_str().unwrap_or("?"),
                label(doc, pair),
                seen("always_invalidate_main"),
                seen("always_invalidate_ai_n"),
                fmt_spread_json(&v["iops"]["y"], 0),
                fmt_spread_json(&v["iops"]["n"], 0),
                fmt_spread_json(&v["iops"]["y_over_n"], 2),
                fmt_spread_json(&v["server_cpu_s_per_gib"]["y"], 1),
                fmt_spread_json(&v["server_cpu_s_per_gib"]["n"], 1),
            ));
        }
    }
    if !ai_md.is_empty() {
        md.push_str("\n### Server always_invalidate: Y (default, main runs) against N (the server reloaded, same boot, right after)\n\n");
        md.push_str("| job | pair | always_invalidate seen Y / N | IOPS Y | IOPS N | Y/N (per round) | server CPU s/GiB Y | server CPU s/GiB N |\n");
        md.push_str("|---|---|---|---:|---:|---:|---:|---:|\n");
        md.push_str(&ai_md);
    }

    md.push_str("\n### Runs\n\n| round | # | pair | result | wall (s) | fio (s) | other (s) | map (s) | unmap (s) |\n|---:|---:|---|---|---:|---:|---:|---:|---:|\n");
    for r in doc["runs"].as_array().into_iter().flatten() {
        let phases = r["phases"].as_array().into_iter().flatten();
        let sum =
            |k: &str| -> Option<f64> { phases.clone().map(|p| p[k].as_f64()).sum::<Option<f64>>() };
        let fio: Option<f64> = phases
            .clone()
            .flat_map(|p| p["jobs"].as_array().into_iter().flatten())
            .map(|j| j["seconds"].as_f64())
            .sum();
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r["round"],
            r["position"],
            r["pair"].as_str().unwrap_or("?"),
            if r["ok"] == true {
                "ok"
            } else {
                "FAILED (left out)"
            },
            fmt_opt(&r["seconds"], 1),
            fio.map_or("-".into(), |f| format!("{f:.1}")),
            fmt_opt(&r["overhead_seconds"], 1),
            sum("map_seconds").map_or("-".into(), |f| format!("{f:.2}")),
            sum("unmap_seconds").map_or("-".into(), |f| format!("{f:.2}")),
        ));
    }
    if let Some(o) = doc["overhead_seconds"].as_object() {
        md.push_str(&format!(
            "\nPer run, the time outside fio (boot, module loads, map, unmap, power-off; perftest in the first run): median {:.1} s ({:.1}-{:.1}) over {} runs.\n",
            o["median"].as_f64().unwrap_or(0.0),
            o["min"].as_f64().unwrap_or(0.0),
            o["max"].as_f64().unwrap_or(0.0),
            o["n"],
        ));
    }
    let skipped: Vec<String> = pairs
        .iter()
        .filter_map(|p| {
            p["not_run"]
                .as_str()
                .map(|r| format!("- {}: not run ({r})\n", p["label"].as_str().unwrap_or("?")))
        })
        .collect();
    if !skipped.is_empty() {
        md.push('\n');
        md.push_str(&skipped.concat());
    }
    md
}

/// profile.md: per profiled run, IOs, interrupts, softirqs and context
/// switches per IO side by side, then perf's top symbols and modules.
pub fn profile_markdown(doc: &Value) -> String {
    let entries: Vec<&Value> = doc["profile"].as_array().into_iter().flatten().collect();
    let mut md = format!(
        "## Profile: {}\n\n",
        doc["title"].as_str().unwrap_or("Benchmark")
    );
    for note in doc["notes"].as_array().into_iter().flatten() {
        md.push_str(&format!("- {}\n", note.as_str().unwrap_or_default()));
    }
    md.push_str("- client VM: `perf record -a -g -e cpu-clock` around the fio job; counters (/proc/interrupts, /proc/softirqs, /proc/stat, the device's block stat) read just before and after fio; IOs = requests the block device completed in that window\n");
    md.push_str("\n### Counts per IO (client VM)\n\n| | ");
    let heads: Vec<String> = entries
        .iter()
        .map(|e| {
            format!(
                "{}, {} (round {})",
                label(doc, e["pair"].as_str().unwrap_or("?")),
                e["job"].as_str().unwrap_or("?"),
                e["round"]
            )
        })
        .collect();
    md.push_str(&heads.join(" | "));
    md.push_str(" |\n|---|");
    md.push_str(&"---:|".repeat(entries.len()));
    md.push('\n');
    let row = |md: &mut String, title: &str, f: &dyn Fn(&Value) -> String| {
        md.push_str(&format!("| {title} |"));
        for e in &entries {
            md.push_str(&format!(" {} |", f(e)));
        }
        md.push('\n');
    };
    row(&mut md, "IOPS (fio)", &|e| fmt_opt(&e["iops"], 0));
    row(&mut md, "client CPU s/GiB", &|e| {
        fmt_opt(&e["client_cpu_s_per_gib"], 1)
    });
    row(&mut md, "IOs in the window", &|e| {
        fmt_opt(&e["profile"]["ios"], 0)
    });
    row(&mut md, "interrupts, all", &|e| {
        fmt_opt(&e["profile"]["interrupts_total"]["per_io"], 3)
    });
    row(&mut md, "interrupts, virtio-net queues", &|e| {
        fmt_opt(&e["profile"]["interrupts_virtio_net"]["per_io"], 3)
    });
    let keys = |kind: &str| -> Vec<String> {
        let mut k: Vec<String> = entries
            .iter()
            .flat_map(|e| {
                e["profile"][kind]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k.clone())
            })
            .collect();
        k.sort();
        k.dedup();
        k
    };
    for key in keys("interrupts") {
        row(&mut md, &format!("interrupt {key}"), &|e| {
            fmt_opt(&e["profile"]["interrupts"][&key]["per_io"], 3)
        });
    }
    for key in keys("softirqs") {
        row(&mut md, &format!("softirq {key}"), &|e| {
            fmt_opt(&e["profile"]["softirqs"][&key]["per_io"], 3)
        });
    }
    row(&mut md, "context switches", &|e| {
        fmt_opt(&e["profile"]["context_switches"]["per_io"], 3)
    });
    for e in &entries {
        md.push_str(&format!(
            "\n### {}, {}: perf top symbols (client VM, all CPUs, self time)\n\n```\n",
            label(doc, e["pair"].as_str().unwrap_or("?")),
            e["job"].as_str().unwrap_or("?")
        ));
        for l in e["profile"]["perf_top_symbols"]
            .as_array()
            .into_iter()
            .flatten()
        {
            md.push_str(l.as_str().unwrap_or(""));
            md.push('\n');
        }
        md.push_str("```\n\nBy module:\n\n```\n");
        for l in e["profile"]["perf_top_dsos"]
            .as_array()
            .into_iter()
            .flatten()
        {
            md.push_str(l.as_str().unwrap_or(""));
            md.push('\n');
        }
        md.push_str("```\n");
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FioResult, JobResult, Phase};

    fn job(name: &str, iops: f64, client_cpu: f64) -> JobResult {
        JobResult {
            job: name.into(),
            fio: FioResult {
                iops,
                mb_per_s: iops * 4096.0 / 1e6,
                p50_us: 1000.0,
                p99_us: 2000.0,
                bytes: 1 << 30,
                ios: 0,
            },
            client_cpu_s_per_gib: Some(client_cpu),
            server_cpu_s_per_gib: Some(50.0),
            seconds: Some(12.0),
            profile: None,
        }
    }

    fn run(round: u32, position: u32, pair: &str, iops: f64, ai_n: Option<f64>) -> Run {
        let mut phases = vec![Phase {
            name: "main".into(),
            always_invalidate: Some("Y".into()),
            map_seconds: Some(0.5),
            unmap_seconds: Some(0.2),
            jobs: vec![job("randread-4k-qd32", iops, 100.0)],
        }];
        if let Some(n) = ai_n {
            phases.push(Phase {
                name: "ai-n".into(),
                always_invalidate: Some("N".into()),
                map_seconds: None,
                unmap_seconds: None,
                jobs: vec![job("randread-4k-qd32", n, 90.0)],
            });
        }
        Run {
            scenario: format!("r{round}-cross-2vm-{pair}"),
            round,
            position,
            pair: pair.into(),
            ok: true,
            seconds: Some(60.0),
            link: Default::default(),
            phases,
        }
    }

    fn pairs() -> Vec<PairSpec> {
        [
            ("c-c", "C client / C server", None),
            ("rust-rust", "Rust client / Rust server", Some("no ko")),
            ("c-rust", "C client / Rust server", None),
            ("rust-c", "Rust client / C server", None),
        ]
        .into_iter()
        .map(|(p, l, n)| PairSpec {
            pair: p.into(),
            label: l.into(),
            not_run: n.map(str::to_string),
        })
        .collect()
    }

    #[test]
    fn medians_ratios_and_not_run() {
        // Round 2 is slow for everyone; per-round ratios do not see it.
        let runs = vec![
            run(1, 1, "c-c", 2000.0, Some(2500.0)),
            run(1, 2, "c-rust", 1900.0, None),
            run(1, 3, "rust-c", 1600.0, None),
            run(2, 1, "c-rust", 950.0, None),
            run(2, 2, "rust-c", 800.0, None),
            run(2, 3, "c-c", 1000.0, Some(1000.0)),
            run(3, 1, "rust-c", 1700.0, None),
            run(3, 2, "c-c", 2100.0, Some(2100.0)),
            run(3, 3, "c-rust", 2000.0, None),
        ];
        let doc = document("t", &[], &pairs(), &runs);
        let cc = &doc["summary"][0]["metrics"]["iops"]["c-c"];
        assert_eq!(
            (
                cc["median"].as_f64(),
                cc["min"].as_f64(),
                cc["max"].as_f64()
            ),
            (Some(2000.0), Some(1000.0), Some(2100.0))
        );
        assert_eq!(
            doc["summary"][0]["metrics"]["iops"]["rust-rust"],
            Value::Null
        );
        let r = &doc["ratios"][0]["ratios"];
        assert_eq!(r[0]["id"], "rust_client_c_server");
        let rc = &r[0]["metrics"]["iops"];
        // 0.8, 0.8, 1700/2100
        assert!((rc["median"].as_f64().unwrap() - 0.8).abs() < 1e-9);
        assert!((rc["min"].as_f64().unwrap() - 0.8).abs() < 1e-9);
        assert!((rc["max"].as_f64().unwrap() - 1700.0 / 2100.0).abs() < 1e-9);
        assert_eq!(
            r[1]["metrics"]["iops"],
            Value::Null,
            "rust-rust did not run"
        );
        let ai = &doc["always_invalidate"][0]["pairs"]["c-c"];
        assert_eq!(ai["iops"]["y_over_n"]["median"], 1.0);
        assert_eq!(ai["iops"]["y_over_n"]["min"], 0.8);
        assert_eq!(ai["always_invalidate_main"], json!(["Y"]));
        assert_eq!(ai["always_invalidate_ai_n"], json!(["N"]));
        assert_eq!(doc["order"][1], json!(["c-rust", "rust-c", "c-c"]));
        assert_eq!(doc["overhead_seconds"]["median"], 60.0 - 12.0 - 0.0);

        let md = markdown(&doc);
        assert!(md.contains("| job | metric | C client / C server | Rust client / Rust server | C client / Rust server | Rust client / C server |"), "{md}");
        assert!(md.contains("| randread-4k-qd32 | IOPS | 2000 (1000-2100) | not run | 1900 (950-2000) | 1600 (800-1700) |"), "{md}");
        assert!(
            md.contains("| randread-4k-qd32 | 0.80 (0.80-0.81) | - | 0.95 (0.95-0.95) |"),
            "{md}"
        );
        assert!(md.contains("- round 2: c-rust, rust-c, c-c"));
        assert!(md.contains("| randread-4k-qd32 | C client / C server | Y / N | 2000 (1000-2100) | 2100 (1000-2500) | 1.00 (0.80-1.00) |"), "{md}");
        assert!(md.contains("- Rust client / Rust server: not run (no ko)"));
        assert!(md.contains("| 2 | 3 | c-c | ok | 60.0 |"), "{md}");
    }

    #[test]
    fn failed_runs_are_left_out() {
        let mut bad = run(2, 1, "c-c", 10.0, None);
        bad.ok = false;
        let runs = vec![run(1, 1, "c-c", 2000.0, None), bad];
        let doc = document("t", &[], &pairs(), &runs);
        let cc = &doc["summary"][0]["metrics"]["iops"]["c-c"];
        assert_eq!(
            (cc["median"].as_f64(), cc["n"].as_u64()),
            (Some(2000.0), Some(1))
        );
        assert!(markdown(&doc).contains("FAILED (left out)"));
    }
}
