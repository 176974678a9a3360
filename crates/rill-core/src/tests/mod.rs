//! Data-driven tests: a script of commands, each line's reply rendered as text and compared
//! with an inline snapshot (`UPDATE_EXPECT=1 cargo test` rewrites the snapshots).
//!
//! Script lines: `CMD arg ...` runs a command (arguments split on spaces; `""` is an empty
//! argument); `@<ms>` sets the stamped time for the lines after it (default 1000).

mod consumer_groups;
mod producers;
mod streams;

use expect_test::Expect;

use crate::{execute, parse, Command, Limits, MemStore, Reply};

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
pub(crate) fn check(script: &str, expect: Expect) {
    check_with(script, &Limits::default(), expect);
}

pub(crate) fn check_with(script: &str, limits: &Limits, expect: Expect) {
    let mut store = MemStore::new();
    let mut now_ms = 1000;
    let mut out = String::new();
    for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(ms) = line.strip_prefix('@') {
            now_ms = ms.parse().expect("@<ms>");
            continue;
        }
        let mut argv = split_args(line);
        let mut producer = None;
        if argv.first().map(Vec::as_slice) == Some(b"PRODUCE".as_slice()) {
            let seq = std::str::from_utf8(&argv[2])
                .expect("utf-8")
                .parse()
                .expect("seq");
            producer = Some((argv[1].clone(), seq));
            argv.drain(..3);
        }
        let parsed = match producer {
            Some((producer, seq)) => {
                parse(&argv).map(|cmd| cmd.and_then(|cmd| Command::produce(producer, seq, cmd)))
            }
            None => parse(&argv),
        };
        let reply = match parsed {
            None => Reply::err("(not an engine command)"),
            Some(Err(reply)) => reply,
            Some(Ok(cmd)) => {
                let reply = execute(&mut store, &cmd, now_ms, limits);
                crate::invariants::check_invariants(&store)
                    .expect("invariants hold after every command");
                reply
            }
        };
        out.push_str(&format!("> {line}\n{}\n", render(&reply)));
    }
    expect.assert_eq(&out);
}
