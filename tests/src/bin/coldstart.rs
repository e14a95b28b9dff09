//! Cold-start init under a local Lambda Runtime API: the time from `exec` of a
//! bootstrap to its first `GET /2018-06-01/runtime/invocation/next`, which is what
//! Lambda reports as the init duration. Every bootstrap named on the command line
//! starts `RUNS` times (default 15), in turns, so load from other work on the machine
//! falls on all of them alike. Prints one Markdown row per bootstrap, and the ratio
//! of its median to the first bootstrap's (the hello-world yardstick).
//!
//!   coldstart NAME=PATH [NAME=PATH ...]
//!
//! The bootstraps get the process environment plus what Lambda sets for a function.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NEXT: &str = "GET /2018-06-01/runtime/invocation/next ";

fn init_once(path: &str, name: &str) -> Duration {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let api = listener.local_addr().expect("the port").to_string();
    let start = Instant::now();
    let mut child = Command::new(path)
        .env("AWS_LAMBDA_RUNTIME_API", &api)
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "coldstart")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {path}: {e}"));
    let (stream, _) = listener
        .accept()
        .expect("the bootstrap connects to the Runtime API");
    let mut line = String::new();
    BufReader::new(&stream)
        .read_line(&mut line)
        .expect("a request line");
    let took = start.elapsed();
    assert!(
        line.starts_with(NEXT),
        "{name} asked for {line:?} first, not for the next invocation"
    );
    let _ = child.kill();
    let _ = child.wait();
    took
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let bootstraps: Vec<(String, String)> = std::env::args()
        .skip(1)
        .map(|a| {
            a.split_once('=')
                .map(|(n, p)| (n.to_string(), p.to_string()))
                .expect("arguments are NAME=PATH")
        })
        .collect();
    assert!(
        !bootstraps.is_empty(),
        "usage: coldstart NAME=PATH [NAME=PATH ...] (the first is the yardstick)"
    );
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(15);
    // One start each before timing: the page cache then holds every binary.
    for (name, path) in &bootstraps {
        init_once(path, name);
    }
    let mut samples = vec![Vec::with_capacity(runs); bootstraps.len()];
    for _ in 0..runs {
        for (i, (name, path)) in bootstraps.iter().enumerate() {
            samples[i].push(init_once(path, name));
        }
    }
    println!(
        "| bootstrap | starts | min ms | median ms | p90 ms | median / {} |",
        bootstraps[0].0
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let mut yardstick = None;
    for ((name, _), mut s) in bootstraps.iter().zip(samples) {
        s.sort();
        let pick = |q: f64| ms(s[((s.len() - 1) as f64 * q).round() as usize]);
        let median = pick(0.5);
        let base = *yardstick.get_or_insert(median);
        println!(
            "| {name} | {} | {:.2} | {:.2} | {:.2} | {:.2}x |",
            s.len(),
            ms(s[0]),
            median,
            pick(0.9),
            median / base
        );
    }
}
