//! `rill produce` and `rill consume`: the seed articles' sensor pipeline (random readings of
//! ten sensors into `sensor_stream`; a consumer group reading, handling and acknowledging
//! them), with a live progress line.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rill_client::proto::value::Kind;
use rill_client::proto::Value;
use rill_client::{Client, Consumer, ConsumerOptions};
use tokio::sync::watch;

#[derive(clap::Args, Debug)]
pub struct ProduceArgs {
    #[arg(long, default_value = "sensor_stream")]
    stream: String,
    /// Readings per second; 0: as fast as the cluster acknowledges them.
    #[arg(long, default_value_t = 100)]
    rate: u64,
    /// Stop after this many readings; 0: at Ctrl-C.
    #[arg(long, default_value_t = 0)]
    count: u64,
    #[arg(long, default_value_t = 10)]
    sensors: u64,
    /// The group whose pending count and lag the progress line shows.
    #[arg(long, default_value = "sensor_group")]
    group: String,
}

#[derive(clap::Args, Debug)]
pub struct ConsumeArgs {
    #[arg(long, default_value = "sensor_stream")]
    stream: String,
    #[arg(long, default_value = "sensor_group")]
    group: String,
    /// Consumers in the group, named consumer_1, consumer_2, ...
    #[arg(long, default_value_t = 2)]
    consumers: u64,
    /// Stop after this many readings handled; 0: at Ctrl-C.
    #[arg(long, default_value_t = 0)]
    count: u64,
    /// Claim entries other consumers left pending this long (they died before acknowledging).
    #[arg(long, default_value_t = 30_000)]
    claim_idle_ms: u64,
}

/// A small xorshift generator: the demo needs varied readings, not good randomness.
struct Rng(u64);

impl Rng {
    fn seeded() -> Rng {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Rng(nanos | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

pub async fn produce(client: Client, args: ProduceArgs) -> Result<(), String> {
    let mut producer = client.producer();
    let produced = Arc::new(AtomicU64::new(0));
    let (done_tx, done_rx) = watch::channel(false);
    let progress = tokio::spawn(progress_line(
        client.clone(),
        args.stream.clone(),
        args.group.clone(),
        "produced",
        Arc::clone(&produced),
        done_rx,
    ));
    let mut rng = Rng::seeded();
    let pace = (args.rate > 0).then(|| Duration::from_secs_f64(1.0 / args.rate as f64));
    let started = Instant::now();
    let mut outcome = Ok(());
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    while args.count == 0 || produced.load(Ordering::Relaxed) < args.count {
        let sensor_id = (1 + rng.below(args.sensors)).to_string();
        let temperature = format!("{:.1}", 15.0 + rng.below(151) as f64 / 10.0);
        let humidity = (40 + rng.below(31)).to_string();
        let fields: [(&[u8], &[u8]); 3] = [
            (b"sensor_id", sensor_id.as_bytes()),
            (b"temperature", temperature.as_bytes()),
            (b"humidity", humidity.as_bytes()),
        ];
        tokio::select! {
            _ = &mut ctrl_c => break,
            added = producer.xadd(args.stream.as_bytes(), &fields) => {
                if let Err(error) = added {
                    outcome = Err(format!("XADD failed: {error}"));
                    break;
                }
            }
        }
        let n = produced.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(pace) = pace {
            let due = started + pace.mul_f64(n as f64);
            tokio::time::sleep_until(due.into()).await;
        }
    }
    let _ = done_tx.send(true);
    let _ = progress.await;
    let n = produced.load(Ordering::Relaxed);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "produced {n} readings into {} in {secs:.1} s ({:.0}/s)",
        args.stream,
        n as f64 / secs.max(1e-9)
    );
    outcome
}

pub async fn consume(client: Client, args: ConsumeArgs) -> Result<(), String> {
    client
        .ensure_group(args.stream.as_bytes(), &args.group, "0")
        .await
        .map_err(|e| format!("XGROUP CREATE failed: {e}"))?;
    let handled = Arc::new(AtomicU64::new(0));
    // Per sensor: readings and the sum of their temperatures.
    let sensors = Arc::new(Mutex::new(BTreeMap::<String, (u64, f64)>::new()));
    let (stop_tx, stop_rx) = watch::channel(false);
    let (done_tx, done_rx) = watch::channel(false);
    let progress = tokio::spawn(progress_line(
        client.clone(),
        args.stream.clone(),
        args.group.clone(),
        "consumed",
        Arc::clone(&handled),
        done_rx,
    ));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for n in 1..=args.consumers.max(1) {
        let consumer = Consumer {
            client: client.clone(),
            key: args.stream.as_bytes().to_vec(),
            group: args.group.clone(),
            name: format!("consumer_{n}"),
            options: ConsumerOptions {
                batch: 100,
                claim_idle: Duration::from_millis(args.claim_idle_ms),
                ..ConsumerOptions::default()
            },
        };
        let (handled, sensors) = (Arc::clone(&handled), Arc::clone(&sensors));
        let mut stop_rx = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            let stop = async move {
                let _ = stop_rx.wait_for(|stop| *stop).await;
            };
            consumer
                .run(
                    |entry| {
                        let field = |name: &[u8]| {
                            entry
                                .fields
                                .iter()
                                .find(|f| f.name == name)
                                .map(|f| String::from_utf8_lossy(&f.value).into_owned())
                        };
                        if let (Some(sensor), Some(temperature)) =
                            (field(b"sensor_id"), field(b"temperature"))
                        {
                            let temperature: f64 = temperature.parse().unwrap_or(f64::NAN);
                            let mut sensors =
                                sensors.lock().unwrap_or_else(PoisonError::into_inner);
                            let slot = sensors.entry(sensor).or_insert((0, 0.0));
                            slot.0 += 1;
                            slot.1 += temperature;
                        }
                        handled.fetch_add(1, Ordering::Relaxed);
                        Ok::<(), ()>(())
                    },
                    stop,
                )
                .await
        }));
    }
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        if args.count > 0 && handled.load(Ordering::Relaxed) >= args.count {
            break;
        }
        if tasks.iter().any(|t| t.is_finished()) {
            break;
        }
        tokio::select! {
            _ = &mut ctrl_c => break,
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    }
    let _ = stop_tx.send(true);
    let mut outcome = Ok(());
    for task in tasks {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => outcome = Err(format!("consumer failed: {error}")),
            Err(error) => outcome = Err(format!("consumer task failed: {error}")),
        }
    }
    let _ = done_tx.send(true);
    let _ = progress.await;
    let n = handled.load(Ordering::Relaxed);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "consumed {n} readings from {} as group {} in {secs:.1} s",
        args.stream, args.group
    );
    let sensors = sensors.lock().unwrap_or_else(PoisonError::into_inner);
    let mut sorted: Vec<_> = sensors.iter().collect();
    // Numeric ids in numeric order (2 before 10), anything else after them.
    sorted.sort_by_key(|(sensor, _)| (sensor.parse::<u64>().unwrap_or(u64::MAX), sensor.as_str()));
    for (sensor, (count, sum)) in sorted {
        println!(
            "  sensor {sensor:>3}: {count} readings, mean temperature {:.1}",
            sum / *count as f64
        );
    }
    outcome
}

/// Every half second: the count's rate, the stream's length, the group's pending entries and
/// lag (from XINFO GROUPS). On a terminal one line rewritten in place; otherwise a line each.
async fn progress_line(
    client: Client,
    stream: String,
    group: String,
    verb: &'static str,
    count: Arc<AtomicU64>,
    mut done: watch::Receiver<bool>,
) {
    let tty = std::io::stdout().is_terminal();
    let mut last = (Instant::now(), 0u64);
    let mut ticker = tokio::time::interval(Duration::from_millis(500));
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = done.wait_for(|done| *done) => break,
        }
        let now = (Instant::now(), count.load(Ordering::Relaxed));
        let rate = (now.1 - last.1) as f64 / now.0.duration_since(last.0).as_secs_f64();
        last = now;
        let (pending, lag) = group_state(&client, &stream, &group).await;
        let line = format!(
            "{verb} {} ({rate:.0}/s) | group {group}: pending {pending}, lag {lag}",
            now.1
        );
        let mut out = std::io::stdout().lock();
        let _ = if tty {
            write!(out, "\r{line}\x1b[K")
        } else {
            writeln!(out, "{line}")
        };
        let _ = out.flush();
    }
    if tty {
        println!();
    }
}

/// The group's `pending` and `lag` from XINFO GROUPS, as text (`-` when unknown).
async fn group_state(client: &Client, stream: &str, group: &str) -> (String, String) {
    let unknown = || ("-".to_owned(), "-".to_owned());
    let Ok(reply) = client
        .execute(&[b"XINFO", b"GROUPS", stream.as_bytes()])
        .await
    else {
        return unknown();
    };
    let Some(Kind::Array(groups)) = reply.kind else {
        return unknown();
    };
    for info in groups.values {
        let fields = match info.kind {
            Some(Kind::Map(list)) | Some(Kind::Array(list)) => list.values,
            _ => continue,
        };
        let get = |name: &str| {
            fields
                .chunks(2)
                .find(|pair| matches!(&pair[0].kind, Some(Kind::Bulk(b)) if b == name.as_bytes()))
                .and_then(|pair| pair.get(1))
                .map(text)
        };
        if get("name").as_deref() == Some(group) {
            return (
                get("pending").unwrap_or_else(|| "-".to_owned()),
                get("lag").unwrap_or_else(|| "-".to_owned()),
            );
        }
    }
    unknown()
}

fn text(value: &Value) -> String {
    match &value.kind {
        Some(Kind::Bulk(b)) => String::from_utf8_lossy(b).into_owned(),
        Some(Kind::Integer(n)) => n.to_string(),
        Some(Kind::Status(s)) => s.clone(),
        _ => "-".to_owned(),
    }
}
