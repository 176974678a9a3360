//! Throughput and latency of a Redis-protocol stream server: many clients producing with XADD,
//! then a consumer group draining the stream with XREADGROUP + XACK.
//!
//! ```text
//! cargo run --release -p rill-tests --example stream_bench -- 127.0.0.1:6379 [clients] [entries]
//! ```
//!
//! Works against Rill and against Redis alike, so the two can be compared on one machine.

use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::streams::{StreamReadOptions, StreamReadReply};
use redis::AsyncCommands;

#[tokio::main]
async fn main() -> redis::RedisResult<()> {
    let args: Vec<String> = std::env::args().collect();
    let addr = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:6379".to_owned());
    let clients: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(50);
    let entries: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(50_000);
    let client = redis::Client::open(format!("redis://{addr}/"))?;
    let key = format!("bench:{}", std::process::id());

    let (elapsed, mut latencies) = produce(&client, &key, clients, entries).await?;
    latencies.sort_unstable();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "XADD      clients={clients} entries={entries} {:>9.0} ops/s  p50={:?} p99={:?}",
        entries as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99)
    );

    let elapsed = consume(&client, &key, clients, entries).await?;
    println!(
        "XREADGROUP+XACK consumers={clients} COUNT 10 {:>9.0} entries/s",
        entries as f64 / elapsed.as_secs_f64()
    );
    let mut conn = client.get_multiplexed_async_connection().await?;
    let _: i64 = conn.del(&key).await?;
    Ok(())
}

async fn produce(
    client: &redis::Client,
    key: &str,
    clients: usize,
    entries: usize,
) -> redis::RedisResult<(Duration, Vec<Duration>)> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let mut conn: MultiplexedConnection = client.get_multiplexed_async_connection().await?;
        let key = key.to_owned();
        let share = entries / clients + usize::from(c < entries % clients);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(share);
            for i in 0..share {
                let t = Instant::now();
                let _: String = conn
                    .xadd(&key, "*", &[("sensor_id", c), ("reading", i)])
                    .await?;
                latencies.push(t.elapsed());
            }
            Ok::<_, redis::RedisError>(latencies)
        }));
    }
    let mut all = Vec::with_capacity(entries);
    for task in tasks {
        all.extend(task.await.expect("producer task")?);
    }
    Ok((started.elapsed(), all))
}

async fn consume(
    client: &redis::Client,
    key: &str,
    consumers: usize,
    entries: usize,
) -> redis::RedisResult<Duration> {
    let mut conn = client.get_multiplexed_async_connection().await?;
    let _: () = conn.xgroup_create(key, "bench", "0").await?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..consumers {
        let mut conn = client.get_multiplexed_async_connection().await?;
        let key = key.to_owned();
        tasks.push(tokio::spawn(async move {
            let opts = StreamReadOptions::default()
                .group("bench", format!("c{c}"))
                .count(10);
            let mut done = 0usize;
            loop {
                let reply: StreamReadReply = conn.xread_options(&[&key], &[">"], &opts).await?;
                let ids: Vec<String> = reply
                    .keys
                    .iter()
                    .flat_map(|k| k.ids.iter().map(|e| e.id.clone()))
                    .collect();
                if ids.is_empty() {
                    return Ok::<_, redis::RedisError>(done);
                }
                let acked: usize = conn.xack(&key, "bench", &ids).await?;
                done += acked;
            }
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.expect("consumer task")?;
    }
    assert_eq!(
        total, entries,
        "every entry is delivered and acknowledged once"
    );
    Ok(started.elapsed())
}
