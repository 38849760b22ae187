//! `keyward bench`: drives a running server over HTTP with N concurrent connections and
//! reports throughput and latency per workload. A measurement tool, not a test: it asserts
//! nothing.

use std::time::{Duration, Instant};

use anyhow::bail;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use crate::cli::{BenchArgs, Format, Global};
use crate::client_cmds::client;

struct Outcome {
    ops: u64,
    errors: u64,
    latencies_us: Vec<u32>,
    elapsed: Duration,
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted.get(idx).copied().unwrap_or(0)) / 1000.0
}

pub async fn run(global: &Global, args: BenchArgs) -> anyhow::Result<()> {
    let c = client(global)?;
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    let run_id: String = keyward_crypto::random_array::<4>()?.iter().map(|b| format!("{b:02x}")).collect();
    let mut results = Vec::new();
    for op in &args.ops {
        let (path, body, is_get): (String, Option<Value>, bool) = match op.as_str() {
            "health" => ("/v1/sys/health".into(), None, true),
            "encrypt" => {
                let name = format!("bench-{run_id}-aes");
                c.post("/v1/keys", &json!({"name": name, "type": "aes-256"})).await?;
                let pt = B64.encode(vec![0x5au8; 1024]);
                (keyward_client::Client::key_path(&name, "/encrypt"), Some(json!({"plaintext": pt})), false)
            }
            "create" => ("/v1/keys".into(), None, false),
            other => bail!("unknown workload {other:?}: use health, encrypt or create"),
        };
        let deadline = Instant::now() + Duration::from_secs(args.duration);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for worker in 0..args.concurrency {
            let c = c.clone();
            let path = path.clone();
            let body = body.clone();
            let op = op.clone();
            let run_id = run_id.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut errors = 0u64;
                let mut i = 0u64;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let r = if is_get {
                        c.get(&path).await
                    } else if op == "create" {
                        i += 1;
                        c.post(&path, &json!({"name": format!("bench-{run_id}-{worker}-{i}"), "type": "aes-256"})).await
                    } else {
                        c.post(&path, body.as_ref().unwrap_or(&Value::Null)).await
                    };
                    match r {
                        Ok(_) => lat.push(t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32),
                        Err(_) => errors += 1,
                    }
                }
                (lat, errors)
            }));
        }
        let mut all = Vec::new();
        let mut errors = 0;
        for t in tasks {
            let (lat, e) = t.await?;
            all.extend(lat);
            errors += e;
        }
        let elapsed = started.elapsed();
        all.sort_unstable();
        results.push((op.clone(), Outcome { ops: all.len() as u64, errors, latencies_us: all, elapsed }));
    }
    let rows: Vec<Value> = results
        .iter()
        .map(|(op, o)| {
            json!({
                "workload": op,
                "concurrency": args.concurrency,
                "ops": o.ops,
                "errors": o.errors,
                "ops_per_sec": (o.ops as f64 / o.elapsed.as_secs_f64()).round(),
                "p50_ms": (percentile(&o.latencies_us, 0.50) * 100.0).round() / 100.0,
                "p99_ms": (percentile(&o.latencies_us, 0.99) * 100.0).round() / 100.0,
            })
        })
        .collect();
    let whole = json!({"results": rows});
    crate::output::print_rows(
        global.format,
        &whole,
        &rows,
        &["workload", "concurrency", "ops", "errors", "ops_per_sec", "p50_ms", "p99_ms"],
    );
    if global.format == Format::Table {
        println!("(keys created by this run are named bench-{run_id}-*)");
    }
    Ok(())
}
