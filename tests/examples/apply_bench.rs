//! What applying a command costs a node, without Raft, network or clients: the state
//! machine's loop (`rill_raft::state_machine::apply_batch`: one `Txn`, `execute` per command,
//! one commit) on one thread, over a RocksDB store in a temporary directory.
//!
//!   cargo run --release -p rill-tests --example apply_bench [entries] [batch] [runs]
//!
//! Writes `entries` (default 100,000) with XADD, then drains them through a consumer group as
//! 50 consumers would, XREADGROUP COUNT 10 then XACK of what it read, `batch` commands
//! (default 26, about what a leader puts in one log entry while 50 consumers drain a stream)
//! to a commit. Prints the median over `runs` (default 5) of wall-clock µs per command for
//! each phase, on the one thread that applies (RocksDB's flushes and compactions run on
//! others); every node of a cluster pays this for every command.

use std::time::Instant;

use rill_core::{execute, parse, Command, Limits, Reply};
use rill_storage::{Db, DbOptions};

const CONSUMERS: usize = 50;

/// The allocator `rill-server` runs with.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("arguments are numbers"))
        .collect();
    let entries = args.first().copied().unwrap_or(100_000);
    let batch = args.get(1).copied().unwrap_or(26).max(1);
    let runs = args.get(2).copied().unwrap_or(5).max(1);
    let (mut xadd, mut group) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let (a, g) = run(entries, batch);
        xadd.push(a);
        group.push(g);
    }
    println!(
        "apply_bench entries={entries} batch={batch} runs={runs}: XADD {:.2} µs/command, \
         XREADGROUP COUNT 10 + XACK {:.2} µs/command (medians)",
        median(&mut xadd),
        median(&mut group)
    );
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn command(words: &[&[u8]]) -> Command {
    let argv: Vec<Vec<u8>> = words.iter().map(|w| w.to_vec()).collect();
    match parse(&argv) {
        Some(Ok(command)) => command,
        other => panic!(
            "{:?} did not parse: {other:?}",
            String::from_utf8_lossy(words[0])
        ),
    }
}

/// A store and the log position its next batch is applied at.
struct Applier {
    db: Db,
    index: u64,
    now_ms: u64,
    limits: Limits,
}

impl Applier {
    fn apply(&mut self, commands: &[Command]) -> Vec<Reply> {
        let mut txn = self.db.begin();
        let replies = commands
            .iter()
            .map(|c| execute(&mut txn, c, self.now_ms, &self.limits))
            .collect();
        self.index += 1;
        self.now_ms += 1;
        self.db.commit(txn, self.index).expect("commit");
        replies
    }
}

fn run(entries: usize, batch: usize) -> (f64, f64) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let options = DbOptions {
        sync: false,
        log_sync: false,
        ..DbOptions::default()
    };
    let mut applier = Applier {
        db: Db::open(dir.path(), &options).expect("open the store"),
        index: 0,
        now_ms: 1_700_000_000_000,
        limits: Limits::default(),
    };

    let started = Instant::now();
    let mut written = 0;
    while written < entries {
        let n = batch.min(entries - written);
        let adds: Vec<Command> = (0..n)
            .map(|i| {
                let reading = (written + i).to_string();
                command(&[
                    b"XADD",
                    b"s",
                    b"*",
                    b"sensor_id",
                    b"7",
                    b"reading",
                    reading.as_bytes(),
                ])
            })
            .collect();
        applier.apply(&adds);
        written += n;
    }
    let xadd_us = started.elapsed().as_secs_f64() * 1e6 / entries as f64;
    applier.apply(&[command(&[b"XGROUP", b"CREATE", b"s", b"g", b"0"])]);

    // Each consumer alternates XREADGROUP and XACK; a batch holds the next command of
    // `batch` consumers in turn, as concurrent clients' commands land in one log entry.
    let mut acks: Vec<Option<Command>> = vec![None; CONSUMERS];
    let mut done = [false; CONSUMERS];
    let (mut commands, mut acked) = (0usize, 0usize);
    let mut turn = 0;
    let started = Instant::now();
    loop {
        let live: Vec<usize> = (0..CONSUMERS).filter(|&c| !done[c]).collect();
        if live.is_empty() {
            break;
        }
        let who: Vec<usize> = (0..batch.min(live.len()))
            .map(|k| live[(turn + k) % live.len()])
            .collect();
        turn += who.len();
        let cmds: Vec<Command> = who
            .iter()
            .map(|&c| match acks[c].take() {
                Some(ack) => ack,
                None => {
                    let name = format!("c{c}");
                    command(&[
                        b"XREADGROUP",
                        b"GROUP",
                        b"g",
                        name.as_bytes(),
                        b"COUNT",
                        b"10",
                        b"STREAMS",
                        b"s",
                        b">",
                    ])
                }
            })
            .collect();
        commands += cmds.len();
        let replies = applier.apply(&cmds);
        for ((c, cmd), reply) in who.into_iter().zip(&cmds).zip(replies) {
            match cmd {
                Command::XAck { .. } => {
                    if let Reply::Int(n) = reply {
                        acked += n as usize;
                    }
                }
                _ => match delivered_ids(&reply) {
                    ids if ids.is_empty() => done[c] = true,
                    ids => {
                        let mut words: Vec<&[u8]> = vec![b"XACK", b"s", b"g"];
                        words.extend(ids.iter().map(Vec::as_slice));
                        acks[c] = Some(command(&words));
                    }
                },
            }
        }
    }
    assert_eq!(
        acked, entries,
        "every entry is delivered and acknowledged once"
    );
    let group_us = started.elapsed().as_secs_f64() * 1e6 / commands as f64;
    (xadd_us, group_us)
}

/// The IDs in an XREADGROUP reply (RESP-neutral: a map of stream to entries, or nil).
fn delivered_ids(reply: &Reply) -> Vec<Vec<u8>> {
    let Reply::PairMap(streams) = reply else {
        return Vec::new();
    };
    streams
        .iter()
        .flat_map(|(_, entries)| match entries {
            Reply::Array(entries) => entries.as_slice(),
            _ => &[],
        })
        .filter_map(|entry| match entry {
            Reply::Array(parts) => match parts.first() {
                Some(Reply::Bulk(id)) => Some(id.to_vec()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}
