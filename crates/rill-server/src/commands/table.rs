//! The table of every command Rill serves, with what `COMMAND INFO` says of each: Redis's
//! values (flags, ACL categories, tips, key specs and the subcommands Rill serves), so that
//! cluster clients find the keys of each command as they do with Redis.

use rill_core::Reply;

use super::statuses;

/// One row of `COMMAND INFO`.
pub struct CommandSpec {
    /// Lowercase, as COMMAND reports it; a subcommand is `container|sub`.
    pub name: &'static str,
    /// Redis convention: positive is exact, negative is a minimum; both count the name (and,
    /// for a subcommand, the subcommand's name).
    pub arity: i32,
    pub flags: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub tips: &'static [&'static str],
    pub key_specs: &'static [KeySpec],
    pub subcommands: &'static [CommandSpec],
    /// Dispatched by this module rather than by `rill_core::parse`.
    pub handled_here: bool,
}

/// Where a command's keys are, as Redis 7's key specs say it.
pub struct KeySpec {
    pub notes: Option<&'static str>,
    /// `RO`/`RW`/`RM` and what the command does to the key (`access`, `update`, ...).
    pub flags: &'static [&'static str],
    pub begin: Begin,
    pub find: Range,
}

/// Where the search for the first key starts.
pub enum Begin {
    /// At this argument.
    Index(i32),
    /// After this keyword, searched for from this argument on.
    Keyword(&'static str, i32),
}

/// Which arguments from the first key on are keys. `lastkey` is relative to the first key;
/// negative counts from the end. With `limit` n > 0 (and `lastkey` -1), the keys are the
/// first 1/n of what remains (XREAD: the streams, then as many IDs).
pub struct Range {
    pub lastkey: i32,
    pub step: i32,
    pub limit: i32,
}

impl CommandSpec {
    /// `[name, arity, flags, first key, last key, step, categories, tips, key specs,
    /// subcommands]`, as Redis 7 and later answer it.
    pub(super) fn info(&self) -> Reply {
        let (first, last, step) = self.legacy_range();
        Reply::Array(vec![
            Reply::text(self.name),
            Reply::Int(i64::from(self.arity)),
            statuses(self.flags),
            Reply::Int(i64::from(first)),
            Reply::Int(i64::from(last)),
            Reply::Int(i64::from(step)),
            statuses(self.categories),
            Reply::Array(self.tips.iter().map(|tip| Reply::text(tip)).collect()),
            Reply::Array(self.key_specs.iter().map(KeySpec::info).collect()),
            Reply::Array(self.subcommands.iter().map(CommandSpec::info).collect()),
        ])
    }

    /// The first key, last key and step of the pre-7.0 reply: those of a single key spec that
    /// starts at an index; `(0, 0, 0)` for keyword searches (flagged `movablekeys`).
    pub(super) fn legacy_range(&self) -> (i32, i32, i32) {
        match self.key_specs {
            [KeySpec {
                begin: Begin::Index(first),
                find,
                ..
            }] => {
                let last = if find.lastkey >= 0 {
                    first + find.lastkey
                } else {
                    find.lastkey
                };
                (*first, last, find.step)
            }
            _ => (0, 0, 0),
        }
    }

    /// The subcommand `sub` (any case) of this container command.
    pub(super) fn subcommand(&self, sub: &[u8]) -> Option<&'static CommandSpec> {
        self.subcommands.iter().find(|spec| {
            spec.name
                .split_once('|')
                .is_some_and(|(_, name)| sub.eq_ignore_ascii_case(name.as_bytes()))
        })
    }

    const fn tips(self, tips: &'static [&'static str]) -> CommandSpec {
        CommandSpec { tips, ..self }
    }

    const fn keys(self, key_specs: &'static [KeySpec]) -> CommandSpec {
        CommandSpec { key_specs, ..self }
    }

    const fn subcommands(self, subcommands: &'static [CommandSpec]) -> CommandSpec {
        CommandSpec {
            subcommands,
            ..self
        }
    }
}

impl KeySpec {
    /// A map: `notes` (when there are), `flags`, `begin_search`, `find_keys`.
    fn info(&self) -> Reply {
        let text = Reply::text;
        let begin = match self.begin {
            Begin::Index(index) => vec![
                (text("type"), text("index")),
                (
                    text("spec"),
                    Reply::Map(vec![(text("index"), Reply::Int(i64::from(index)))]),
                ),
            ],
            Begin::Keyword(keyword, startfrom) => vec![
                (text("type"), text("keyword")),
                (
                    text("spec"),
                    Reply::Map(vec![
                        (text("keyword"), text(keyword)),
                        (text("startfrom"), Reply::Int(i64::from(startfrom))),
                    ]),
                ),
            ],
        };
        let find = vec![
            (text("type"), text("range")),
            (
                text("spec"),
                Reply::Map(vec![
                    (text("lastkey"), Reply::Int(i64::from(self.find.lastkey))),
                    (text("keystep"), Reply::Int(i64::from(self.find.step))),
                    (text("limit"), Reply::Int(i64::from(self.find.limit))),
                ]),
            ),
        ];
        let mut map = Vec::with_capacity(4);
        if let Some(notes) = self.notes {
            map.push((text("notes"), text(notes)));
        }
        map.push((text("flags"), statuses(self.flags)));
        map.push((text("begin_search"), Reply::Map(begin)));
        map.push((text("find_keys"), Reply::Map(find)));
        Reply::Map(map)
    }
}

const fn cmd(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    categories: &'static [&'static str],
    handled_here: bool,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        categories,
        tips: &[],
        key_specs: &[],
        subcommands: &[],
        handled_here,
    }
}

/// One key, at `index`.
const fn key(index: i32, flags: &'static [&'static str]) -> KeySpec {
    KeySpec {
        notes: None,
        flags,
        begin: Begin::Index(index),
        find: Range {
            lastkey: 0,
            step: 1,
            limit: 0,
        },
    }
}

/// Every argument from `index` on is a key.
const fn keys_from(index: i32, flags: &'static [&'static str]) -> KeySpec {
    KeySpec {
        notes: None,
        flags,
        begin: Begin::Index(index),
        find: Range {
            lastkey: -1,
            step: 1,
            limit: 0,
        },
    }
}

const ENGINE: bool = false;
const SERVER: bool = true;

/// Every command Rill serves, with the subcommands it serves. Values are Redis 7.0.15's
/// `COMMAND INFO`, with the commands and subcommands added since (XDELEX, XACKDEL, XCFGSET,
/// WAIT's 7.2 flags, WAITAOF, CLIENT SETINFO and NO-TOUCH) from Redis's `src/commands/*.json`.
pub const COMMANDS: &[CommandSpec] = &[
    cmd(
        "xadd",
        -5,
        &["write", "denyoom", "fast"],
        &["@write", "@stream", "@fast"],
        ENGINE,
    )
    .tips(&["nondeterministic_output"])
    .keys(&[KeySpec {
        notes: Some("UPDATE instead of INSERT because of the optional trimming feature"),
        flags: &["RW", "update"],
        begin: Begin::Index(1),
        find: Range {
            lastkey: 0,
            step: 1,
            limit: 0,
        },
    }]),
    cmd(
        "xrange",
        -4,
        &["readonly"],
        &["@read", "@stream", "@slow"],
        ENGINE,
    )
    .keys(&[key(1, &["RO", "access"])]),
    cmd(
        "xrevrange",
        -4,
        &["readonly"],
        &["@read", "@stream", "@slow"],
        ENGINE,
    )
    .keys(&[key(1, &["RO", "access"])]),
    cmd(
        "xlen",
        2,
        &["readonly", "fast"],
        &["@read", "@stream", "@fast"],
        ENGINE,
    )
    .keys(&[key(1, &["RO"])]),
    cmd(
        "xread",
        -4,
        &["readonly", "blocking", "movablekeys"],
        &["@read", "@stream", "@slow", "@blocking"],
        ENGINE,
    )
    .keys(&[KeySpec {
        notes: None,
        flags: &["RO", "access"],
        begin: Begin::Keyword("STREAMS", 1),
        find: Range {
            lastkey: -1,
            step: 1,
            limit: 2,
        },
    }]),
    cmd(
        "xreadgroup",
        -7,
        &["write", "blocking", "movablekeys"],
        &["@write", "@stream", "@slow", "@blocking"],
        ENGINE,
    )
    .keys(&[KeySpec {
        notes: None,
        flags: &["RO", "access"],
        begin: Begin::Keyword("STREAMS", 4),
        find: Range {
            lastkey: -1,
            step: 1,
            limit: 2,
        },
    }]),
    cmd("xgroup", -2, &[], &["@slow"], ENGINE).subcommands(XGROUP_SUBCOMMANDS),
    cmd(
        "xack",
        -4,
        &["write", "fast"],
        &["@write", "@stream", "@fast"],
        ENGINE,
    )
    .keys(&[key(1, &["RW", "update"])]),
    cmd(
        "xpending",
        -3,
        &["readonly"],
        &["@read", "@stream", "@slow"],
        ENGINE,
    )
    .tips(&["nondeterministic_output"])
    .keys(&[key(1, &["RO", "access"])]),
    cmd(
        "xclaim",
        -6,
        &["write", "fast"],
        &["@write", "@stream", "@fast"],
        ENGINE,
    )
    .tips(&["nondeterministic_output"])
    .keys(&[key(1, &["RW", "update"])]),
    cmd(
        "xautoclaim",
        -6,
        &["write", "fast"],
        &["@write", "@stream", "@fast"],
        ENGINE,
    )
    .tips(&["nondeterministic_output"])
    .keys(&[key(1, &["RW", "delete"])]),
    cmd("xinfo", -2, &[], &["@slow"], ENGINE).subcommands(XINFO_SUBCOMMANDS),
    cmd(
        "xdel",
        -3,
        &["write", "fast"],
        &["@write", "@stream", "@fast"],
        ENGINE,
    )
    .keys(&[key(1, &["RW", "delete"])]),
    cmd(
        "xdelex",
        -5,
        &["write", "fast"],
        &["@write", "@stream", "@fast"],
        ENGINE,
    )
    .keys(&[key(1, &["RW", "delete"])]),
    cmd(
        "xackdel",
        -6,
        &["write", "fast"],
        &["@write", "@stream", "@fast"],
        ENGINE,
    )
    .keys(&[key(1, &["RW", "update", "delete"])]),
    cmd(
        "xcfgset",
        -2,
        &["write", "fast"],
        &["@write", "@stream", "@fast"],
        ENGINE,
    )
    .keys(&[key(1, &["RW", "update"])]),
    // Redis 8.8, from src/commands/xnack.json.
    cmd(
        "xnack",
        -7,
        &["write", "fast"],
        &["@write", "@stream", "@fast"],
        ENGINE,
    )
    .keys(&[key(1, &["RW", "update"])]),
    cmd(
        "xtrim",
        -4,
        &["write"],
        &["@write", "@stream", "@slow"],
        ENGINE,
    )
    .tips(&["nondeterministic_output"])
    .keys(&[key(1, &["RW", "delete"])]),
    cmd(
        "xsetid",
        -3,
        &["write", "denyoom", "fast"],
        &["@write", "@stream", "@fast"],
        ENGINE,
    )
    .keys(&[key(1, &["RW", "update"])]),
    cmd(
        "del",
        -2,
        &["write"],
        &["@keyspace", "@write", "@slow"],
        ENGINE,
    )
    .tips(&["request_policy:multi_shard", "response_policy:agg_sum"])
    .keys(&[keys_from(1, &["RM", "delete"])]),
    cmd(
        "exists",
        -2,
        &["readonly", "fast"],
        &["@keyspace", "@read", "@fast"],
        ENGINE,
    )
    .tips(&["request_policy:multi_shard", "response_policy:agg_sum"])
    .keys(&[keys_from(1, &["RO"])]),
    cmd(
        "type",
        2,
        &["readonly", "fast"],
        &["@keyspace", "@read", "@fast"],
        ENGINE,
    )
    .keys(&[key(1, &["RO"])]),
    cmd(
        "keys",
        2,
        &["readonly"],
        &["@keyspace", "@read", "@slow", "@dangerous"],
        ENGINE,
    )
    .tips(&["request_policy:all_shards", "nondeterministic_output_order"]),
    cmd(
        "scan",
        -2,
        &["readonly"],
        &["@keyspace", "@read", "@slow"],
        ENGINE,
    )
    .tips(&["nondeterministic_output", "request_policy:special"]),
    cmd("ping", -1, &["fast"], &["@fast", "@connection"], SERVER)
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"]),
    cmd(
        "echo",
        2,
        &["loading", "stale", "fast"],
        &["@fast", "@connection"],
        SERVER,
    ),
    cmd(
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
        &["@fast", "@connection"],
        SERVER,
    ),
    cmd("client", -2, &[], &["@slow"], SERVER).subcommands(CLIENT_SUBCOMMANDS),
    cmd(
        "select",
        2,
        &["loading", "stale", "fast"],
        &["@fast", "@connection"],
        SERVER,
    ),
    cmd(
        "command",
        -1,
        &["loading", "stale"],
        &["@slow", "@connection"],
        SERVER,
    )
    .tips(&["nondeterministic_output_order"])
    .subcommands(COMMAND_SUBCOMMANDS),
    cmd(
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
        &["@fast", "@connection"],
        SERVER,
    ),
    cmd(
        "info",
        -1,
        &["loading", "stale"],
        &["@slow", "@dangerous"],
        SERVER,
    )
    .tips(&[
        "nondeterministic_output",
        "request_policy:all_shards",
        "response_policy:special",
    ]),
    cmd("config", -2, &[], &["@slow"], SERVER).subcommands(CONFIG_SUBCOMMANDS),
    cmd(
        "role",
        1,
        &["noscript", "loading", "stale", "fast"],
        &["@admin", "@fast", "@dangerous"],
        SERVER,
    ),
    cmd(
        "sentinel",
        -2,
        &["admin", "loading", "stale"],
        &["@admin", "@slow", "@dangerous"],
        SERVER,
    ),
    cmd("cluster", -2, &[], &["@slow"], SERVER).subcommands(CLUSTER_SUBCOMMANDS),
    cmd(
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
        &["@fast", "@connection"],
        SERVER,
    ),
    cmd(
        "readonly",
        1,
        &["loading", "stale", "fast"],
        &["@fast", "@connection"],
        SERVER,
    ),
    cmd(
        "flushall",
        -1,
        &["write"],
        &["@keyspace", "@write", "@slow", "@dangerous"],
        ENGINE,
    )
    .tips(&["request_policy:all_shards", "response_policy:all_succeeded"]),
    cmd(
        "flushdb",
        -1,
        &["write"],
        &["@keyspace", "@write", "@slow", "@dangerous"],
        ENGINE,
    )
    .tips(&["request_policy:all_shards", "response_policy:all_succeeded"]),
    cmd("function", -2, &[], &["@slow"], SERVER).subcommands(FUNCTION_SUBCOMMANDS),
    cmd(
        "multi",
        1,
        &["noscript", "loading", "stale", "fast", "allow_busy"],
        &["@fast", "@transaction"],
        SERVER,
    ),
    cmd(
        "exec",
        1,
        &["noscript", "loading", "stale", "skip_slowlog"],
        &["@slow", "@transaction"],
        SERVER,
    ),
    cmd(
        "discard",
        1,
        &["noscript", "loading", "stale", "fast", "allow_busy"],
        &["@fast", "@transaction"],
        SERVER,
    ),
    cmd(
        "watch",
        -2,
        &["noscript", "loading", "stale", "fast", "allow_busy"],
        &["@fast", "@transaction"],
        SERVER,
    )
    .keys(&[keys_from(1, &["RO"])]),
    cmd(
        "unwatch",
        1,
        &["noscript", "loading", "stale", "fast", "allow_busy"],
        &["@fast", "@transaction"],
        SERVER,
    ),
    cmd(
        "readwrite",
        1,
        &["loading", "stale", "fast"],
        &["@fast", "@connection"],
        SERVER,
    ),
    cmd(
        "dbsize",
        1,
        &["readonly", "fast"],
        &["@keyspace", "@read", "@fast"],
        SERVER,
    )
    .tips(&["request_policy:all_shards", "response_policy:agg_sum"]),
    cmd(
        "wait",
        3,
        &["blocking"],
        &["@slow", "@blocking", "@connection"],
        SERVER,
    )
    .tips(&["request_policy:all_shards", "response_policy:agg_min"]),
    cmd(
        "waitaof",
        4,
        &["blocking"],
        &["@slow", "@blocking", "@connection"],
        SERVER,
    )
    .tips(&["request_policy:all_shards", "response_policy:agg_min"]),
];

const XGROUP_SUBCOMMANDS: &[CommandSpec] = &[
    cmd(
        "xgroup|create",
        -5,
        &["write", "denyoom"],
        &["@write", "@stream", "@slow"],
        ENGINE,
    )
    .keys(&[key(2, &["RW", "insert"])]),
    cmd(
        "xgroup|setid",
        -5,
        &["write"],
        &["@write", "@stream", "@slow"],
        ENGINE,
    )
    .keys(&[key(2, &["RW", "update"])]),
    cmd(
        "xgroup|destroy",
        4,
        &["write"],
        &["@write", "@stream", "@slow"],
        ENGINE,
    )
    .keys(&[key(2, &["RW", "delete"])]),
    cmd(
        "xgroup|createconsumer",
        5,
        &["write", "denyoom"],
        &["@write", "@stream", "@slow"],
        ENGINE,
    )
    .keys(&[key(2, &["RW", "insert"])]),
    cmd(
        "xgroup|delconsumer",
        5,
        &["write"],
        &["@write", "@stream", "@slow"],
        ENGINE,
    )
    .keys(&[key(2, &["RW", "delete"])]),
    cmd(
        "xgroup|help",
        2,
        &["loading", "stale"],
        &["@stream", "@slow"],
        ENGINE,
    ),
];

const XINFO_SUBCOMMANDS: &[CommandSpec] = &[
    cmd(
        "xinfo|stream",
        -3,
        &["readonly"],
        &["@read", "@stream", "@slow"],
        ENGINE,
    )
    .keys(&[key(2, &["RO", "access"])]),
    cmd(
        "xinfo|groups",
        3,
        &["readonly"],
        &["@read", "@stream", "@slow"],
        ENGINE,
    )
    .keys(&[key(2, &["RO", "access"])]),
    cmd(
        "xinfo|consumers",
        4,
        &["readonly"],
        &["@read", "@stream", "@slow"],
        ENGINE,
    )
    .tips(&["nondeterministic_output"])
    .keys(&[key(2, &["RO", "access"])]),
    cmd(
        "xinfo|help",
        2,
        &["loading", "stale"],
        &["@stream", "@slow"],
        ENGINE,
    ),
];

const CLIENT_SUBCOMMANDS: &[CommandSpec] = &[
    cmd(
        "client|setname",
        3,
        &["noscript", "loading", "stale"],
        &["@slow", "@connection"],
        SERVER,
    ),
    cmd(
        "client|getname",
        2,
        &["noscript", "loading", "stale"],
        &["@slow", "@connection"],
        SERVER,
    ),
    cmd(
        "client|id",
        2,
        &["noscript", "loading", "stale"],
        &["@slow", "@connection"],
        SERVER,
    ),
    cmd(
        "client|setinfo",
        4,
        &["noscript", "loading", "stale"],
        &["@slow", "@connection"],
        SERVER,
    )
    .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"]),
    cmd(
        "client|list",
        -2,
        &["admin", "noscript", "loading", "stale"],
        &["@admin", "@slow", "@dangerous", "@connection"],
        SERVER,
    )
    .tips(&["nondeterministic_output"]),
    cmd(
        "client|info",
        2,
        &["noscript", "loading", "stale"],
        &["@slow", "@connection"],
        SERVER,
    )
    .tips(&["nondeterministic_output"]),
    cmd(
        "client|kill",
        -3,
        &["admin", "noscript", "loading", "stale"],
        &["@admin", "@slow", "@dangerous", "@connection"],
        SERVER,
    ),
    cmd(
        "client|unblock",
        -3,
        &["admin", "noscript", "loading", "stale"],
        &["@admin", "@slow", "@dangerous", "@connection"],
        SERVER,
    ),
    cmd(
        "client|no-evict",
        3,
        &["admin", "noscript", "loading", "stale"],
        &["@admin", "@slow", "@dangerous", "@connection"],
        SERVER,
    ),
    cmd(
        "client|no-touch",
        3,
        &["noscript", "loading", "stale"],
        &["@slow", "@connection"],
        SERVER,
    ),
    cmd(
        "client|getredir",
        2,
        &["noscript", "loading", "stale"],
        &["@slow", "@connection"],
        SERVER,
    ),
    cmd(
        "client|trackinginfo",
        2,
        &["noscript", "loading", "stale"],
        &["@slow", "@connection"],
        SERVER,
    ),
    cmd(
        "client|help",
        2,
        &["loading", "stale"],
        &["@slow", "@connection"],
        SERVER,
    ),
];

const COMMAND_SUBCOMMANDS: &[CommandSpec] = &[
    cmd(
        "command|count",
        2,
        &["loading", "stale"],
        &["@slow", "@connection"],
        SERVER,
    ),
    cmd(
        "command|docs",
        -2,
        &["loading", "stale"],
        &["@slow", "@connection"],
        SERVER,
    )
    .tips(&["nondeterministic_output_order"]),
    cmd(
        "command|getkeys",
        -4,
        &["loading", "stale"],
        &["@slow", "@connection"],
        SERVER,
    ),
    cmd(
        "command|getkeysandflags",
        -4,
        &["loading", "stale"],
        &["@slow", "@connection"],
        SERVER,
    ),
    cmd(
        "command|info",
        -2,
        &["loading", "stale"],
        &["@slow", "@connection"],
        SERVER,
    )
    .tips(&["nondeterministic_output_order"]),
    cmd(
        "command|list",
        -2,
        &["loading", "stale"],
        &["@slow", "@connection"],
        SERVER,
    )
    .tips(&["nondeterministic_output_order"]),
    cmd(
        "command|help",
        2,
        &["loading", "stale"],
        &["@slow", "@connection"],
        SERVER,
    ),
];

const CONFIG_SUBCOMMANDS: &[CommandSpec] = &[
    cmd(
        "config|get",
        -3,
        &["admin", "noscript", "loading", "stale"],
        &["@admin", "@slow", "@dangerous"],
        SERVER,
    ),
    cmd(
        "config|set",
        -4,
        &["admin", "noscript", "loading", "stale"],
        &["@admin", "@slow", "@dangerous"],
        SERVER,
    )
    .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"]),
    cmd(
        "config|resetstat",
        2,
        &["admin", "noscript", "loading", "stale"],
        &["@admin", "@slow", "@dangerous"],
        SERVER,
    ),
    cmd(
        "config|rewrite",
        2,
        &["admin", "noscript", "loading", "stale"],
        &["@admin", "@slow", "@dangerous"],
        SERVER,
    ),
];

const CLUSTER_SUBCOMMANDS: &[CommandSpec] = &[
    cmd("cluster|slots", 2, &["stale"], &["@slow"], SERVER).tips(&["nondeterministic_output"]),
    cmd("cluster|shards", 2, &["stale"], &["@slow"], SERVER).tips(&["nondeterministic_output"]),
    cmd("cluster|nodes", 2, &["stale"], &["@slow"], SERVER).tips(&["nondeterministic_output"]),
    cmd("cluster|info", 2, &["stale"], &["@slow"], SERVER).tips(&["nondeterministic_output"]),
    cmd("cluster|myid", 2, &["stale"], &["@slow"], SERVER),
    cmd("cluster|keyslot", 3, &["stale"], &["@slow"], SERVER),
];

const FUNCTION_SUBCOMMANDS: &[CommandSpec] = &[
    cmd(
        "function|flush",
        -2,
        &["write", "noscript"],
        &["@write", "@slow", "@scripting"],
        SERVER,
    )
    .tips(&["request_policy:all_shards", "response_policy:all_succeeded"]),
    cmd(
        "function|list",
        -2,
        &["noscript"],
        &["@slow", "@scripting"],
        SERVER,
    )
    .tips(&["nondeterministic_output_order"]),
];
