//! MULTI, EXEC, DISCARD, WATCH and UNWATCH, as `multi.c` answers them: what a connection
//! queues, and the one [`Command::Exec`] that EXEC hands to the log.
//!
//! ```text
//!  MULTI ─▶ each command: unknown, wrong arity, too large? ─ yes ─▶ error; EXEC will abort
//!                                                          └ no ──▶ +QUEUED
//!  EXEC ──▶ aborted? ─▶ -EXECABORT
//!           else Command::Exec { watched, engine commands } ─▶ one log entry ─▶ the replies,
//!           with the queued server commands (PING, CLIENT, ...) answered in their places
//!  WATCH ─▶ Command::KeyVersions, run where reads run; its stamps go into EXEC
//! ```
//!
//! The state machine decides WATCH: a key whose stamp differs from the one WATCH read makes
//! EXEC a null array on every replica alike (see `rill_core`'s engine, `transaction`).

use rill_core::{Command, Reply};

use super::{arity_ok, unknown_command, ClientState, ServerInfo, COMMANDS};

/// Keys one connection may watch at once.
pub const WATCHED_KEYS_MAX: usize = 10_000;

/// What a server command costs in the queue beyond its arguments.
const QUEUED_OVERHEAD_BYTES: usize = 128;

/// Commands queued since MULTI.
#[derive(Debug, Default)]
pub struct Multi {
    items: Vec<Queued>,
    bytes: usize,
    /// A command was refused while queuing: EXEC answers EXECABORT.
    aborted: bool,
}

/// One queued command.
#[derive(Debug)]
enum Queued {
    /// Runs in the state machine with the transaction's other engine commands.
    Engine(Command),
    /// One of the server's own commands, run by the connection at EXEC.
    Server(Vec<Vec<u8>>),
    /// A command whose arguments are wrong in a way Redis finds only when it runs it (a bad
    /// ID, an unknown option): its error takes its place in EXEC's reply.
    Error(Reply),
}

/// What EXEC leaves to the connection: run `command` (none when no engine command was queued
/// and nothing is watched), then answer each of `answers` in order.
#[derive(Debug)]
pub struct PendingExec {
    pub command: Option<Command>,
    pub answers: Vec<Answer>,
}

/// Where one reply of EXEC comes from.
#[derive(Debug)]
pub enum Answer {
    /// The next reply of `PendingExec::command`.
    Engine,
    Server(Vec<Vec<u8>>),
    Error(Reply),
}

/// Commands that run at once inside MULTI instead of being queued.
pub(super) fn runs_in_multi(name: &[u8]) -> bool {
    ["exec", "discard", "multi", "watch", "quit"]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
}

pub(super) fn multi(client: &mut ClientState) -> Reply {
    if client.multi.is_some() {
        return Reply::err("ERR MULTI calls can not be nested");
    }
    client.multi = Some(Multi::default());
    Reply::ok()
}

pub(super) fn discard(client: &mut ClientState) -> Reply {
    if client.multi.take().is_none() {
        return Reply::err("ERR DISCARD without MULTI");
    }
    client.watched.clear();
    Reply::ok()
}

pub(super) fn unwatch(client: &mut ClientState) -> Reply {
    client.watched.clear();
    Reply::ok()
}

/// Queues `argv` (inside MULTI), or refuses it and marks the transaction aborted: Redis's
/// `processCommand` checks, then `queueMultiCommand`.
pub(super) fn queue(client: &mut ClientState, argv: &[Vec<u8>], info: &ServerInfo) -> Reply {
    let multi = client.multi.get_or_insert_with(Multi::default);
    let item = match classify(argv) {
        Ok(item) => item,
        Err(reply) => {
            multi.aborted = true;
            return reply;
        }
    };
    let bytes = match &item {
        Queued::Engine(cmd) => cmd.size_bytes(),
        Queued::Server(_) | Queued::Error(_) => argv_bytes(argv) + QUEUED_OVERHEAD_BYTES,
    };
    let bytes_max = info.config.proposer.batch_bytes_max;
    if multi.bytes + bytes > bytes_max {
        multi.aborted = true;
        return Reply::err(too_large(bytes_max));
    }
    multi.bytes += bytes;
    multi.items.push(item);
    Reply::Status("QUEUED".to_owned())
}

/// The refusal of a transaction larger than one log entry may be (MULTI's queue and gRPC's
/// `Transaction` both check it).
pub fn too_large(bytes_max: usize) -> String {
    format!("ERR the transaction would exceed {bytes_max} bytes (batch_bytes_max)")
}

fn argv_bytes(argv: &[Vec<u8>]) -> usize {
    argv.iter().map(Vec::len).sum()
}

/// Redis refuses at queue time an unknown command, a wrong number of arguments and an unknown
/// subcommand; every other error shows in EXEC's reply.
fn classify(argv: &[Vec<u8>]) -> Result<Queued, Reply> {
    let name = &argv[0];
    let server = COMMANDS
        .iter()
        .find(|spec| spec.handled_here && name.eq_ignore_ascii_case(spec.name.as_bytes()));
    if let Some(spec) = server {
        if !arity_ok(spec.arity, argv.len()) {
            return Err(Reply::err(rill_core::reply::errors::wrong_arity(spec.name)));
        }
        return Ok(Queued::Server(argv.to_vec()));
    }
    match rill_core::parse(argv) {
        None => Err(unknown_command(argv)),
        Some(Ok(cmd)) => Ok(Queued::Engine(cmd)),
        Some(Err(Reply::Error(text)))
            if text.starts_with("ERR wrong number of arguments")
                || text.starts_with("ERR unknown subcommand") =>
        {
            Err(Reply::Error(text))
        }
        Some(Err(reply)) => Ok(Queued::Error(reply)),
    }
}

/// EXEC: ends the transaction and says what the connection must run.
pub(super) fn exec(client: &mut ClientState) -> Result<PendingExec, Reply> {
    let Some(multi) = client.multi.take() else {
        return Err(Reply::err("ERR EXEC without MULTI"));
    };
    let watched = std::mem::take(&mut client.watched);
    if multi.aborted {
        return Err(Reply::err(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    let mut commands = Vec::new();
    let mut answers = Vec::with_capacity(multi.items.len());
    for item in multi.items {
        answers.push(match item {
            Queued::Engine(cmd) => {
                commands.push(cmd);
                Answer::Engine
            }
            Queued::Server(argv) => Answer::Server(argv),
            Queued::Error(reply) => Answer::Error(reply),
        });
    }
    let command = (!commands.is_empty() || !watched.is_empty())
        .then(|| Command::Exec(Box::new(rill_core::Transaction { watched, commands })));
    Ok(PendingExec { command, answers })
}
