//! A measurement, not a test (ignored by default): what an in-process cache of the
//! policy item would save. Run on DynamoDB Local with
//! `cargo test --workspace --test it -- policy_cache_measure --ignored --nocapture`;
//! BENCHMARKS.md records the result and the decision.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use e2e::{Backend, store};
use twofa::policy::TwoFactorSettings;

fn line(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize].as_secs_f64() * 1000.0;
    println!(
        "| {name} | {} | {:.3} | {:.3} | {:.3} |",
        samples.len(),
        pick(0.5),
        pick(0.95),
        pick(1.0)
    );
}

#[tokio::test]
#[ignore = "a measurement; run it by name"]
async fn what_a_policy_cache_would_save() {
    let Some(backend) = Backend::dynamo() else {
        return;
    };
    let store = store(&backend).await;
    store
        .set_host_settings(&TwoFactorSettings::default())
        .await
        .unwrap();
    for _ in 0..50 {
        store.host_settings().await.unwrap();
    }
    let mut reads = Vec::new();
    for _ in 0..500 {
        let t = Instant::now();
        std::hint::black_box(store.host_settings().await.unwrap());
        reads.push(t.elapsed());
    }
    // The cheapest cache there is: a lock around a clone, with the time it was read.
    let cache = Arc::new(RwLock::new((TwoFactorSettings::default(), Instant::now())));
    let mut hits = Vec::new();
    for _ in 0..500 {
        let t = Instant::now();
        let guard = cache.read().unwrap_or_else(|p| p.into_inner());
        std::hint::black_box((guard.0.clone(), guard.1.elapsed() < Duration::from_secs(5)));
        drop(guard);
        hits.push(t.elapsed());
    }
    println!("| operation | runs | p50 ms | p95 ms | max ms |\n|---|---:|---:|---:|---:|");
    line("GetItem HOST, strongly consistent (DynamoDB Local)", reads);
    line("in-process cache hit (RwLock + clone)", hits);
}
