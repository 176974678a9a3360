//! COMMAND, and the table of every command Rill serves with what COMMAND INFO says of it.

use rill_core::reply::errors;
use rill_core::Reply;

use super::{lossy, wrong_sub_arity};

/// `COMMAND`, `COMMAND COUNT|INFO|DOCS|LIST`. DOCS answers an empty map: enough for
/// `redis-cli`, which then falls back to its built-in hints.
pub(super) fn command(args: &[Vec<u8>]) -> Reply {
    let Some(sub) = args.first() else {
        return Reply::Array(COMMANDS.iter().map(CommandSpec::info).collect());
    };
    let upper = lossy(sub).to_ascii_uppercase();
    match upper.as_str() {
        "COUNT" if args.len() != 1 => wrong_sub_arity("command", "count"),
        "COUNT" => Reply::Int(COMMANDS.len() as i64),
        "INFO" if args.len() == 1 => Reply::Array(COMMANDS.iter().map(CommandSpec::info).collect()),
        "INFO" => Reply::Array(
            args[1..]
                .iter()
                .map(|name| find_command(name).map_or(Reply::Nil, CommandSpec::info))
                .collect(),
        ),
        "DOCS" => Reply::Map(Vec::new()),
        "LIST" if args.len() == 1 => {
            Reply::Array(COMMANDS.iter().map(|spec| Reply::text(spec.name)).collect())
        }
        "LIST" => Reply::err(errors::SYNTAX),
        _ => Reply::err(errors::unknown_subcommand(sub, "COMMAND")),
    }
}

pub(super) fn find_command(name: &[u8]) -> Option<&'static CommandSpec> {
    COMMANDS
        .iter()
        .find(|spec| name.eq_ignore_ascii_case(spec.name.as_bytes()))
}

/// One row of `COMMAND INFO`, with Redis 7.0's values for the commands Rill serves.
pub struct CommandSpec {
    /// Lowercase, as COMMAND reports it.
    pub name: &'static str,
    /// Redis convention: positive is exact, negative is a minimum; both count the name.
    pub arity: i32,
    pub flags: &'static [&'static str],
    pub first_key: i32,
    pub last_key: i32,
    pub key_step: i32,
    pub categories: &'static [&'static str],
    /// Dispatched by this module rather than by `rill_core::parse`.
    pub handled_here: bool,
}

impl CommandSpec {
    /// `[name, arity, flags, first key, last key, step, categories, tips, key specs, subcommands]`.
    /// Tips, key specs and subcommands are left empty.
    fn info(&self) -> Reply {
        let statuses = |words: &[&str]| {
            Reply::Array(
                words
                    .iter()
                    .map(|w| Reply::Status((*w).to_owned()))
                    .collect(),
            )
        };
        Reply::Array(vec![
            Reply::text(self.name),
            Reply::Int(i64::from(self.arity)),
            statuses(self.flags),
            Reply::Int(i64::from(self.first_key)),
            Reply::Int(i64::from(self.last_key)),
            Reply::Int(i64::from(self.key_step)),
            statuses(self.categories),
            Reply::Array(Vec::new()),
            Reply::Array(Vec::new()),
            Reply::Array(Vec::new()),
        ])
    }
}

const fn spec(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    keys: (i32, i32, i32),
    categories: &'static [&'static str],
    handled_here: bool,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        first_key: keys.0,
        last_key: keys.1,
        key_step: keys.2,
        categories,
        handled_here,
    }
}

const ENGINE: bool = false;
const SERVER: bool = true;

/// Every command Rill serves. Values copied from Redis 7.0.15's `COMMAND INFO`.
pub const COMMANDS: &[CommandSpec] = &[
    spec(
        "xadd",
        -5,
        &["write", "denyoom", "fast"],
        (1, 1, 1),
        &["@write", "@stream", "@fast"],
        ENGINE,
    ),
    spec(
        "xrange",
        -4,
        &["readonly"],
        (1, 1, 1),
        &["@read", "@stream", "@slow"],
        ENGINE,
    ),
    spec(
        "xrevrange",
        -4,
        &["readonly"],
        (1, 1, 1),
        &["@read", "@stream", "@slow"],
        ENGINE,
    ),
    spec(
        "xlen",
        2,
        &["readonly", "fast"],
        (1, 1, 1),
        &["@read", "@stream", "@fast"],
        ENGINE,
    ),
    spec(
        "xread",
        -4,
        &["readonly", "blocking", "movablekeys"],
        (0, 0, 0),
        &["@read", "@stream", "@slow", "@blocking"],
        ENGINE,
    ),
    spec(
        "xreadgroup",
        -7,
        &["write", "blocking", "movablekeys"],
        (0, 0, 0),
        &["@write", "@stream", "@slow", "@blocking"],
        ENGINE,
    ),
    spec("xgroup", -2, &[], (0, 0, 0), &["@slow"], ENGINE),
    spec(
        "xack",
        -4,
        &["write", "fast"],
        (1, 1, 1),
        &["@write", "@stream", "@fast"],
        ENGINE,
    ),
    spec(
        "xpending",
        -3,
        &["readonly"],
        (1, 1, 1),
        &["@read", "@stream", "@slow"],
        ENGINE,
    ),
    spec(
        "xclaim",
        -6,
        &["write", "fast"],
        (1, 1, 1),
        &["@write", "@stream", "@fast"],
        ENGINE,
    ),
    spec(
        "xautoclaim",
        -6,
        &["write", "fast"],
        (1, 1, 1),
        &["@write", "@stream", "@fast"],
        ENGINE,
    ),
    spec("xinfo", -2, &[], (0, 0, 0), &["@slow"], ENGINE),
    spec(
        "xdel",
        -3,
        &["write", "fast"],
        (1, 1, 1),
        &["@write", "@stream", "@fast"],
        ENGINE,
    ),
    spec(
        "xdelex",
        -5,
        &["write", "fast"],
        (1, 1, 1),
        &["@write", "@stream", "@fast"],
        ENGINE,
    ),
    spec(
        "xackdel",
        -6,
        &["write", "fast"],
        (1, 1, 1),
        &["@write", "@stream", "@fast"],
        ENGINE,
    ),
    spec(
        "xcfgset",
        -2,
        &["write", "fast"],
        (1, 1, 1),
        &["@write", "@stream", "@fast"],
        ENGINE,
    ),
    spec(
        "xtrim",
        -4,
        &["write"],
        (1, 1, 1),
        &["@write", "@stream", "@slow"],
        ENGINE,
    ),
    spec(
        "xsetid",
        -3,
        &["write", "denyoom", "fast"],
        (1, 1, 1),
        &["@write", "@stream", "@fast"],
        ENGINE,
    ),
    spec(
        "del",
        -2,
        &["write"],
        (1, -1, 1),
        &["@keyspace", "@write", "@slow"],
        ENGINE,
    ),
    spec(
        "exists",
        -2,
        &["readonly", "fast"],
        (1, -1, 1),
        &["@keyspace", "@read", "@fast"],
        ENGINE,
    ),
    spec(
        "type",
        2,
        &["readonly", "fast"],
        (1, 1, 1),
        &["@keyspace", "@read", "@fast"],
        ENGINE,
    ),
    spec(
        "keys",
        2,
        &["readonly"],
        (0, 0, 0),
        &["@keyspace", "@read", "@slow", "@dangerous"],
        ENGINE,
    ),
    spec(
        "scan",
        -2,
        &["readonly"],
        (0, 0, 0),
        &["@keyspace", "@read", "@slow"],
        ENGINE,
    ),
    spec(
        "ping",
        -1,
        &["fast"],
        (0, 0, 0),
        &["@fast", "@connection"],
        SERVER,
    ),
    spec(
        "echo",
        2,
        &["loading", "stale", "fast"],
        (0, 0, 0),
        &["@fast", "@connection"],
        SERVER,
    ),
    spec(
        "hello",
        -1,
        &[
            "noscript",
            "loading",
            "stale",
            "fast",
            "no_auth",
            "allow_busy",
        ],
        (0, 0, 0),
        &["@fast", "@connection"],
        SERVER,
    ),
    spec("client", -2, &[], (0, 0, 0), &["@slow"], SERVER),
    spec(
        "select",
        2,
        &["loading", "stale", "fast"],
        (0, 0, 0),
        &["@fast", "@connection"],
        SERVER,
    ),
    spec(
        "command",
        -1,
        &["loading", "stale"],
        (0, 0, 0),
        &["@slow", "@connection"],
        SERVER,
    ),
    spec(
        "quit",
        -1,
        &[
            "noscript",
            "loading",
            "stale",
            "fast",
            "no_auth",
            "allow_busy",
        ],
        (0, 0, 0),
        &["@fast", "@connection"],
        SERVER,
    ),
    spec(
        "info",
        -1,
        &["loading", "stale"],
        (0, 0, 0),
        &["@slow", "@dangerous"],
        SERVER,
    ),
    spec("config", -2, &[], (0, 0, 0), &["@slow"], SERVER),
    spec(
        "role",
        1,
        &["noscript", "loading", "stale", "fast"],
        (0, 0, 0),
        &["@admin", "@fast", "@dangerous"],
        SERVER,
    ),
    spec(
        "sentinel",
        -2,
        &["admin", "loading", "stale"],
        (0, 0, 0),
        &["@admin", "@slow", "@dangerous"],
        SERVER,
    ),
    spec("cluster", -2, &[], (0, 0, 0), &["@slow"], SERVER),
    spec(
        "auth",
        -2,
        &[
            "noscript",
            "loading",
            "stale",
            "fast",
            "no_auth",
            "allow_busy",
        ],
        (0, 0, 0),
        &["@fast", "@connection"],
        SERVER,
    ),
    spec(
        "readonly",
        1,
        &["loading", "stale", "fast"],
        (0, 0, 0),
        &["@fast", "@connection"],
        SERVER,
    ),
    spec(
        "flushall",
        -1,
        &["write"],
        (0, 0, 0),
        &["@keyspace", "@write", "@slow", "@dangerous"],
        ENGINE,
    ),
    spec(
        "flushdb",
        -1,
        &["write"],
        (0, 0, 0),
        &["@keyspace", "@write", "@slow", "@dangerous"],
        ENGINE,
    ),
    spec("function", -2, &[], (0, 0, 0), &["@slow"], SERVER),
    spec(
        "multi",
        1,
        &["noscript", "loading", "stale", "fast", "allow_busy"],
        (0, 0, 0),
        &["@fast", "@transaction"],
        SERVER,
    ),
    spec(
        "exec",
        1,
        &["noscript", "loading", "stale", "skip_slowlog"],
        (0, 0, 0),
        &["@slow", "@transaction"],
        SERVER,
    ),
    spec(
        "discard",
        1,
        &["noscript", "loading", "stale", "fast", "allow_busy"],
        (0, 0, 0),
        &["@fast", "@transaction"],
        SERVER,
    ),
    spec(
        "watch",
        -2,
        &["noscript", "loading", "stale", "fast", "allow_busy"],
        (1, -1, 1),
        &["@fast", "@transaction"],
        SERVER,
    ),
    spec(
        "unwatch",
        1,
        &["noscript", "loading", "stale", "fast", "allow_busy"],
        (0, 0, 0),
        &["@fast", "@transaction"],
        SERVER,
    ),
    spec(
        "readwrite",
        1,
        &["loading", "stale", "fast"],
        (0, 0, 0),
        &["@fast", "@connection"],
        SERVER,
    ),
    spec(
        "dbsize",
        1,
        &["readonly", "fast"],
        (0, 0, 0),
        &["@keyspace", "@read", "@fast"],
        SERVER,
    ),
];
