//! Benchmarks of a Redis-protocol stream server. Each works against Rill and against Redis alike,
//! so the two can be compared on one machine; `scripts/bench-cluster.sh` runs them side by side.
//!
//! ```text
//! stream_bench ADDR [clients] [entries]                       # throughput (default mode)
//! stream_bench ADDR workqueue [rounds] [batch] [seconds_max]  # a steady work queue over time
//! stream_bench ADDR history [entries]                         # reads after trims and deletes
//! cargo run --release -p rill-tests --example stream_bench -- 127.0.0.1:6379 workqueue
//! ```
//!
//! - throughput: `clients` clients producing `entries` entries with XADD (p50/p99), then as many
//!   consumers of one group draining them with XREADGROUP COUNT 10 + XACK.
//! - workqueue (issue 13): per round, one pipeline of `batch` (1000) `XADD MAXLEN ~ 1000`, one
//!   XREADGROUP of what is new and an XACK of all of it but the newest 10 (acknowledged next
//!   round), so the stream stays ~1000 entries and the PEL ~10 while acks and trims pile up
//!   behind them. Each round also times five reads that should not care about that history
//!   (XPENDING twice, a history XREADGROUP, XAUTOCLAIM, XRANGE). Prints the median of the first
//!   and of the last 20 rounds and their ratio; a flat server stays near 1. `seconds_max` (0: no
//!   limit) stops early on a server that slows down too much, saying so.
//! - history (issue 13): XTRIM of 200,000 head entries and the reads right after it, DEL of an
//!   `entries`-entry stream (1,000,000) and a new stream under that key next to a fresh key.
//!
//! workqueue and history end with one `summary <mode>:` line that scripts pick up.

use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::streams::{StreamReadOptions, StreamReadReply};
use redis::AsyncCommands;

/// How long one reply may take before the benchmark gives up on the server.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(300);

#[tokio::main]
async fn main() -> redis::RedisResult<()> {
    let args: Vec<String> = std::env::args().collect();
    let addr = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:6379".to_owned());
    let client = redis::Client::open(format!("redis://{addr}/"))?;
    match args.get(2).map(String::as_str) {
        Some("workqueue") => {
            let rounds = arg(&args, 3, "rounds", 1000);
            let batch = arg(&args, 4, "batch", 1000);
            let seconds_max = arg(&args, 5, "seconds_max", 0);
            workqueue::run(&mut connect(&client).await?, rounds, batch, seconds_max).await
        }
        Some("history") => {
            let entries = arg(&args, 3, "entries", 1_000_000);
            history::run(&mut connect(&client).await?, entries).await
        }
        _ => throughput(&client, &args).await,
    }
}

/// The positional argument at `index`, or `default` when absent.
fn arg(args: &[String], index: usize, name: &str, default: usize) -> usize {
    args.get(index).map_or(default, |a| {
        a.parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, got {a:?}"))
    })
}

async fn connect(client: &redis::Client) -> redis::RedisResult<MultiplexedConnection> {
    let config = redis::AsyncConnectionConfig::new().set_response_timeout(RESPONSE_TIMEOUT);
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

/// A command from a line of words, as typed into redis-cli: `command("XPENDING s g")`. The
/// benchmarks' keys and values hold no spaces.
fn command(line: &str) -> redis::Cmd {
    let mut words = line.split_whitespace();
    let mut cmd = redis::cmd(words.next().expect("a command has a name"));
    for word in words {
        cmd.arg(word);
    }
    cmd
}

/// Runs `cmd` once and returns how long its reply took, in milliseconds.
async fn time_ms(conn: &mut MultiplexedConnection, cmd: &redis::Cmd) -> redis::RedisResult<f64> {
    let started = Instant::now();
    let _: redis::Value = cmd.query_async(conn).await?;
    Ok(ms(started.elapsed()))
}

fn ms(elapsed: Duration) -> f64 {
    elapsed.as_secs_f64() * 1000.0
}

fn median(samples: &[f64]) -> f64 {
    assert!(!samples.is_empty(), "median of no samples");
    let mut sorted = samples.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// One pipeline of `count` XADDs of one 20-byte field to `key`, numbered from `first`, each
/// with `XADD key MAXLEN ~ maxlen` when `maxlen` is given.
async fn add_entries(
    conn: &mut MultiplexedConnection,
    key: &str,
    first: usize,
    count: usize,
    maxlen: Option<usize>,
) -> redis::RedisResult<()> {
    let mut pipe = redis::pipe();
    for n in first..first + count {
        let xadd = pipe.cmd("XADD").arg(key);
        if let Some(maxlen) = maxlen {
            xadd.arg("MAXLEN").arg("~").arg(maxlen);
        }
        xadd.arg("*").arg("f").arg(format!("{n:020}")).ignore();
    }
    pipe.query_async(conn).await
}

/// Issue 13's steady work queue: per round, add a batch, read it through a group, acknowledge it.
mod workqueue {
    use std::time::Instant;

    use redis::aio::MultiplexedConnection;
    use redis::streams::{StreamReadOptions, StreamReadReply};
    use redis::AsyncCommands;

    use super::{add_entries, command, median, ms, time_ms};

    const GROUP: &str = "g";
    const CONSUMER: &str = "c";
    /// `XADD ... MAXLEN ~ STREAM_LEN`: the stream's steady length.
    const STREAM_LEN: usize = 1000;
    /// The newest deliveries of each round stay pending until the next one: the PEL's size.
    const PENDING_KEPT: usize = 10;
    /// Rounds in each of the "first" and "last" windows that are compared.
    const WINDOW_ROUNDS: usize = 20;
    const PROGRESS_ROUNDS: usize = 100;

    /// One timed thing and its time in every round so far.
    struct Series {
        name: &'static str,
        round_ms: Vec<f64>,
    }

    pub async fn run(
        conn: &mut MultiplexedConnection,
        rounds: usize,
        batch: usize,
        seconds_max: usize,
    ) -> redis::RedisResult<()> {
        assert!(rounds > 0 && batch > 0, "rounds and batch must be positive");
        let key = format!("workqueue:{}", std::process::id());
        let _: i64 = conn.del(&key).await?;
        let _: () = conn.xgroup_create_mkstream(&key, GROUP, "$").await?;
        println!("workqueue: {rounds} rounds of {batch} XADD MAXLEN ~ {STREAM_LEN}, XREADGROUP, XACK all but {PENDING_KEPT}");

        let probes = probes(&key);
        let mut round = Series {
            name: "round (XADD pipeline + XREADGROUP + XACK)",
            round_ms: Vec::with_capacity(rounds),
        };
        let mut probe_series: Vec<Series> = probes
            .iter()
            .map(|(name, _)| Series {
                name,
                round_ms: Vec::with_capacity(rounds),
            })
            .collect();
        let started = Instant::now();
        let mut pending: Vec<String> = Vec::new();
        let mut acked_total = 0usize;
        for n in 1..=rounds {
            let round_started = Instant::now();
            add_entries(conn, &key, (n - 1) * batch, batch, Some(STREAM_LEN)).await?;
            let delivered = read_new(conn, &key, batch).await?;
            let (acked, kept) =
                ack_all_but_newest(conn, &key, std::mem::take(&mut pending), delivered).await?;
            acked_total += acked;
            pending = kept;
            round.round_ms.push(ms(round_started.elapsed()));

            for ((_, probe), series) in probes.iter().zip(&mut probe_series) {
                series.round_ms.push(time_ms(conn, probe).await?);
            }
            if n % PROGRESS_ROUNDS == 0 {
                let recent = &round.round_ms[n - PROGRESS_ROUNDS..];
                println!(
                    "  round {n:>6}: median round {:>9.2} ms over the last {PROGRESS_ROUNDS}, {:.0} s so far, {acked_total} acked",
                    median(recent),
                    started.elapsed().as_secs_f64()
                );
            }
            if seconds_max > 0 && started.elapsed().as_secs() >= seconds_max as u64 && n < rounds {
                println!("  stopped after {n} of {rounds} rounds: over {seconds_max} s");
                break;
            }
        }
        let _: i64 = conn.del(&key).await?;
        report(&round, &probe_series, acked_total);
        Ok(())
    }

    /// The reads that should stay flat however many entries were trimmed and acknowledged.
    fn probes(key: &str) -> Vec<(&'static str, redis::Cmd)> {
        [
            ("XPENDING (summary)", format!("XPENDING {key} {GROUP}")),
            ("XPENDING - + 10", format!("XPENDING {key} {GROUP} - + 10")),
            (
                "XREADGROUP COUNT 10 STREAMS w 0 (history)",
                format!("XREADGROUP GROUP {GROUP} {CONSUMER} COUNT 10 STREAMS {key} 0"),
            ),
            (
                "XAUTOCLAIM 0 0-0 COUNT 10",
                format!("XAUTOCLAIM {key} {GROUP} {CONSUMER} 0 0-0 COUNT 10"),
            ),
            ("XRANGE - + COUNT 10", format!("XRANGE {key} - + COUNT 10")),
        ]
        .into_iter()
        .map(|(name, line)| (name, command(&line)))
        .collect()
    }

    /// The IDs of up to `count` entries never delivered to the group before, oldest first.
    async fn read_new(
        conn: &mut MultiplexedConnection,
        key: &str,
        count: usize,
    ) -> redis::RedisResult<Vec<String>> {
        let opts = StreamReadOptions::default()
            .group(GROUP, CONSUMER)
            .count(count);
        let reply: StreamReadReply = conn.xread_options(&[key], &[">"], &opts).await?;
        Ok(reply
            .keys
            .into_iter()
            .flat_map(|k| k.ids.into_iter().map(|entry| entry.id))
            .collect())
    }

    /// Acknowledges the previous round's `pending` and all of `delivered` but its newest
    /// `PENDING_KEPT`, which it returns (to acknowledge next round) with the count acked.
    async fn ack_all_but_newest(
        conn: &mut MultiplexedConnection,
        key: &str,
        mut pending: Vec<String>,
        mut delivered: Vec<String>,
    ) -> redis::RedisResult<(usize, Vec<String>)> {
        let kept = delivered.split_off(delivered.len().saturating_sub(PENDING_KEPT));
        pending.append(&mut delivered);
        let acked: usize = if pending.is_empty() {
            0
        } else {
            conn.xack(key, GROUP, &pending).await?
        };
        Ok((acked, kept))
    }

    fn report(round: &Series, probes: &[Series], acked_total: usize) {
        let rounds = round.round_ms.len();
        let window = WINDOW_ROUNDS.min(rounds);
        println!("{rounds} rounds, {acked_total} entries acked; medians of the first and last {window} rounds:");
        println!(
            "  {:<44} {:>10} {:>10} {:>10}",
            "", "first ms", "last ms", "last/first"
        );
        for series in std::iter::once(round).chain(probes) {
            let (first, last) = first_and_last(series, window);
            println!(
                "  {:<44} {first:>10.2} {last:>10.2} {:>10.2}",
                series.name,
                last / first
            );
        }
        let (first, last) = first_and_last(round, window);
        let probe_ratios: Vec<String> = probes
            .iter()
            .map(|p| {
                let (first, last) = first_and_last(p, window);
                format!("{:.2}", last / first)
            })
            .collect();
        println!(
            "summary workqueue: rounds {rounds}, round first {first:.2} ms, last {last:.2} ms, ratio {:.2}; probe ratios {}",
            last / first,
            probe_ratios.join("/")
        );
    }

    fn first_and_last(series: &Series, window: usize) -> (f64, f64) {
        let all = &series.round_ms;
        (median(&all[..window]), median(&all[all.len() - window..]))
    }
}

/// Issue 13's history costs: XTRIM of a long head, the reads after it, DEL of a big stream.
mod history {
    use std::time::Instant;

    use redis::aio::MultiplexedConnection;
    use redis::AsyncCommands;

    use super::{add_entries, command, median, ms, time_ms};

    /// Entries in the stream that is trimmed.
    const TRIMMED_STREAM_LEN: usize = 200_000;
    /// XADDs per pipeline while filling a stream.
    const FILL_BATCH: usize = 1000;
    /// Samples of each timed command that can be repeated without changing what it measures.
    const REPEATS: usize = 7;
    const GROUP: &str = "g";

    pub async fn run(conn: &mut MultiplexedConnection, entries: usize) -> redis::RedisResult<()> {
        let key = format!("history:{}", std::process::id());
        let fresh_key = format!("{key}:fresh");
        let _: i64 = conn.del(&[&key, &fresh_key]).await?;

        let (trim_ms, range_ratio) = trim(conn, &key).await?;
        let _: i64 = conn.del(&key).await?;
        let del_ms = delete_big(conn, &key, entries).await?;
        let reused_range_ms = new_stream(conn, &key, "the deleted key").await?;
        let fresh_range_ms = new_stream(conn, &fresh_key, "a fresh key").await?;
        let _: i64 = conn.del(&[&key, &fresh_key]).await?;
        println!(
            "summary history: XTRIM {TRIMMED_STREAM_LEN}->10 {trim_ms:.2} ms, XRANGE after/before trim ratio {range_ratio:.2}, DEL {entries} {del_ms:.2} ms, XRANGE same key/fresh key {:.2}",
            reused_range_ms / fresh_range_ms
        );
        Ok(())
    }

    /// Times XTRIM of a long stream down to 10 entries and the reads right after it; returns
    /// the XTRIM's time and XRANGE's time after it over before it.
    async fn trim(conn: &mut MultiplexedConnection, key: &str) -> redis::RedisResult<(f64, f64)> {
        fill(conn, key, TRIMMED_STREAM_LEN).await?;
        let xrange = command(&format!("XRANGE {key} - + COUNT 10"));
        let before_ms = repeated_ms(conn, &xrange).await?;
        print_ms("XRANGE - + COUNT 10, fresh stream (median)", before_ms);
        let trim_ms = time_ms(conn, &command(&format!("XTRIM {key} MAXLEN 10"))).await?;
        print_ms(&format!("XTRIM MAXLEN 10 of {TRIMMED_STREAM_LEN}"), trim_ms);
        let after_ms = repeated_ms(conn, &xrange).await?;
        print_ms("XRANGE - + COUNT 10, after the trim (median)", after_ms);
        let create_ms = time_ms(conn, &command(&format!("XGROUP CREATE {key} {GROUP} 0"))).await?;
        print_ms("XGROUP CREATE 0, after the trim", create_ms);
        let mut read_ack_ms = Vec::with_capacity(REPEATS);
        for _ in 0..REPEATS {
            read_ack_ms.push(read_one_and_ack(conn, key).await?);
        }
        print_ms(
            "XREADGROUP COUNT 1 + XACK, after the trim (median)",
            median(&read_ack_ms),
        );
        Ok((trim_ms, after_ms / before_ms))
    }

    async fn read_one_and_ack(
        conn: &mut MultiplexedConnection,
        key: &str,
    ) -> redis::RedisResult<f64> {
        let started = Instant::now();
        let read = command(&format!(
            "XREADGROUP GROUP {GROUP} c COUNT 1 STREAMS {key} >"
        ));
        let reply: redis::streams::StreamReadReply = read.query_async(conn).await?;
        let ids: Vec<String> = reply
            .keys
            .into_iter()
            .flat_map(|k| k.ids.into_iter().map(|entry| entry.id))
            .collect();
        assert_eq!(
            ids.len(),
            1,
            "the trimmed stream still has entries to deliver"
        );
        let acked: usize = conn.xack(key, GROUP, &ids).await?;
        assert_eq!(acked, 1, "the entry just delivered is pending");
        Ok(ms(started.elapsed()))
    }

    /// Fills `key` with `entries` entries, then times its DEL.
    async fn delete_big(
        conn: &mut MultiplexedConnection,
        key: &str,
        entries: usize,
    ) -> redis::RedisResult<f64> {
        fill(conn, key, entries).await?;
        let del_ms = time_ms(conn, &command(&format!("DEL {key}"))).await?;
        print_ms(&format!("DEL of {entries} entries"), del_ms);
        Ok(del_ms)
    }

    /// Times XADDs and `XRANGE - + COUNT 10` on a new stream at `key`; returns the XRANGE median.
    async fn new_stream(
        conn: &mut MultiplexedConnection,
        key: &str,
        which: &str,
    ) -> redis::RedisResult<f64> {
        let xadd = command(&format!("XADD {key} * f {:020}", 0));
        let add_ms = repeated_ms(conn, &xadd).await?;
        print_ms(&format!("XADD, new stream at {which} (median)"), add_ms);
        let xrange = command(&format!("XRANGE {key} - + COUNT 10"));
        let range_ms = repeated_ms(conn, &xrange).await?;
        print_ms(
            &format!("XRANGE - + COUNT 10, new stream at {which}"),
            range_ms,
        );
        Ok(range_ms)
    }

    /// Adds `entries` entries to `key` in pipelines of `FILL_BATCH`, printing the rate.
    async fn fill(
        conn: &mut MultiplexedConnection,
        key: &str,
        entries: usize,
    ) -> redis::RedisResult<()> {
        let started = Instant::now();
        for first in (0..entries).step_by(FILL_BATCH) {
            add_entries(conn, key, first, FILL_BATCH.min(entries - first), None).await?;
        }
        let len: usize = conn.xlen(key).await?;
        assert_eq!(len, entries, "the stream holds every entry added");
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "  filled {entries} entries in {seconds:.1} s ({:.0}/s)",
            entries as f64 / seconds
        );
        Ok(())
    }

    /// The median time of `REPEATS` runs of `cmd`.
    async fn repeated_ms(
        conn: &mut MultiplexedConnection,
        cmd: &redis::Cmd,
    ) -> redis::RedisResult<f64> {
        let mut samples = Vec::with_capacity(REPEATS);
        for _ in 0..REPEATS {
            samples.push(time_ms(conn, cmd).await?);
        }
        Ok(median(&samples))
    }

    fn print_ms(what: &str, ms: f64) {
        println!("  {what:<56} {ms:>10.2} ms");
    }
}

/// The default mode: XADD from many clients, then a group draining the stream.
async fn throughput(client: &redis::Client, args: &[String]) -> redis::RedisResult<()> {
    let clients: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(50);
    let entries: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(50_000);
    let key = format!("bench:{}", std::process::id());

    let (elapsed, mut latencies) = produce(client, &key, clients, entries).await?;
    latencies.sort_unstable();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "XADD      clients={clients} entries={entries} {:>9.0} ops/s  p50={:?} p99={:?}",
        entries as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99)
    );

    let elapsed = consume(client, &key, clients, entries).await?;
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
