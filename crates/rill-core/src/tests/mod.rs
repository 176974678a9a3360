//! Data-driven tests: a script of commands, each line's reply rendered as text and compared
//! with an inline snapshot (`UPDATE_EXPECT=1 cargo test` rewrites the snapshots).
//!
//! Script lines: `CMD arg ...` runs a command (arguments split on spaces; `""` is an empty
//! argument); `@<ms>` sets the stamped time for the lines after it (default 1000).
//! `WATCH`, `MULTI` and `EXEC` act as a connection does: WATCH runs `Command::KeyVersions` and
//! keeps the stamps, MULTI queues the lines up to EXEC, which runs them as one `Command::Exec`.

mod claim_read;
mod consumer_groups;
mod idmp;
mod nack;
mod producers;
mod references;
mod streams;
mod transactions;

use expect_test::Expect;

use crate::{execute, parse, Command, Limits, MemStore, Reply, Transaction};

pub(crate) fn render(reply: &Reply) -> String {
    match reply {
        Reply::Status(s) => format!("+{s}"),
        Reply::Error(e) => format!("-{e}"),
        Reply::Int(n) => format!(":{n}"),
        Reply::Bulk(b) => format!("{:?}", String::from_utf8_lossy(b)),
        Reply::Nil => "(nil)".to_owned(),
        Reply::NilArray => "(nil-array)".to_owned(),
        Reply::Array(items) => format!(
            "[{}]",
            items.iter().map(render).collect::<Vec<_>>().join(", ")
        ),
        Reply::Map(pairs) => {
            let body: Vec<_> = pairs
                .iter()
                .map(|(k, v)| format!("{}: {}", render(k), render(v)))
                .collect();
            format!("{{{}}}", body.join(", "))
        }
        Reply::PairMap(pairs) => {
            let body: Vec<_> = pairs
                .iter()
                .map(|(k, v)| format!("{} => {}", render(k), render(v)))
                .collect();
            format!("{{{}}}", body.join(", "))
        }
    }
}

pub(crate) fn split_args(line: &str) -> Vec<Vec<u8>> {
    line.split(' ')
        .filter(|a| !a.is_empty())
        .map(|a| {
            if a == "\"\"" {
                Vec::new()
            } else {
                a.as_bytes().to_vec()
            }
        })
        .collect()
}

/// Runs `script` on a fresh [`MemStore`] and compares the transcript with `expect`.
/// Runs `script` (one command a line, no `@ms`, no MULTI) on a fresh store at 1000 ms, checking
/// the invariants after each line; returns the lines `show` picks with their replies. For
/// scripts too long to write out, built in a loop.
pub(crate) fn run_script(script: &str, show: impl Fn(&str) -> bool) -> String {
    let mut out = String::new();
    let mut store = MemStore::new();
    for line in script.lines() {
        let argv = split_args(line);
        let reply = match parse(&argv) {
            Some(Ok(cmd)) => execute(&mut store, &cmd, 1000, &Limits::default()),
            Some(Err(e)) => e,
            None => Reply::err("(not an engine command)"),
        };
        crate::invariants::check_invariants(&store).expect("invariants hold after every line");
        if show(line) {
            out.push_str(&format!("> {line}\n{}\n", render(&reply)));
        }
    }
    out
}

pub(crate) fn check(script: &str, expect: Expect) {
    check_with(script, &Limits::default(), expect);
}

pub(crate) fn check_with(script: &str, limits: &Limits, expect: Expect) {
    let mut store = MemStore::new();
    let mut now_ms = 1000;
    let mut out = String::new();
    let mut watched: Vec<(Vec<u8>, Option<u64>)> = Vec::new();
    let mut queued: Option<Vec<Command>> = None;
    for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(ms) = line.strip_prefix('@') {
            now_ms = ms.parse().expect("@<ms>");
            continue;
        }
        let mut argv = split_args(line);
        if line == "MULTI" {
            queued = Some(Vec::new());
            out.push_str(&format!("> {line}\n+OK\n"));
            continue;
        }
        let parsed = match (line, queued.take()) {
            ("EXEC", Some(commands)) => Some(Ok(Command::Exec(Box::new(Transaction {
                watched: std::mem::take(&mut watched),
                commands,
            })))),
            (_, Some(mut commands)) => {
                let cmd = parse(&argv).expect("an engine command").expect("parses");
                commands.push(cmd);
                queued = Some(commands);
                out.push_str(&format!("> {line}\n+QUEUED\n"));
                continue;
            }
            _ if argv[0] == b"WATCH" => Some(Ok(Command::KeyVersions {
                keys: argv[1..].to_vec(),
            })),
            _ => {
                let mut producer = None;
                if argv.first().map(Vec::as_slice) == Some(b"PRODUCE".as_slice()) {
                    let seq = std::str::from_utf8(&argv[2])
                        .expect("utf-8")
                        .parse()
                        .expect("seq");
                    producer = Some((argv[1].clone(), seq));
                    argv.drain(..3);
                }
                match producer {
                    Some((producer, seq)) => parse(&argv)
                        .map(|cmd| cmd.and_then(|cmd| Command::produce(producer, seq, cmd))),
                    None => parse(&argv),
                }
            }
        };
        let reply = match parsed {
            None => Reply::err("(not an engine command)"),
            Some(Err(reply)) => reply,
            Some(Ok(cmd)) => {
                let reply = execute(&mut store, &cmd, now_ms, limits);
                crate::invariants::check_invariants(&store)
                    .expect("invariants hold after every command");
                assert!(
                    store
                        .versions
                        .keys()
                        .all(|key| store.streams.contains_key(key)),
                    "a change stamp outlived its stream"
                );
                if let (Command::KeyVersions { keys }, Reply::Array(stamps)) = (&cmd, &reply) {
                    for (key, stamp) in keys.iter().zip(stamps) {
                        let stamp = match stamp {
                            Reply::Int(n) => Some(*n as u64),
                            _ => None,
                        };
                        watched.push((key.clone(), stamp));
                    }
                }
                reply
            }
        };
        out.push_str(&format!("> {line}\n{}\n", render(&reply)));
    }
    expect.assert_eq(&out);
}
