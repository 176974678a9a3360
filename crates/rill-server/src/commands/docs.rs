//! `COMMAND DOCS`: what each command Rill serves does and which arguments it takes, in the
//! shape of Redis 8.8's reply. `redis-cli` reads it at start to hint at the arguments as one
//! types and for `help <command>`; client generators read the syntax from it.
//!
//! ```text
//!  COMMAND DOCS xgroup ─▶ table::COMMANDS: xgroup, a container ─▶ DOCS["xgroup"]
//!                                  └─ its subcommands ──────────▶ DOCS["xgroup|create"], ...
//! ```
//!
//! The argument trees are interface facts, Redis 8.8's exactly: names (lowercase), types,
//! tokens (uppercase), flags, `since`, display texts, as Redis's `generate-command-code.py`
//! turns its `src/commands/*.json` into the command table. `since` and `group` are Redis's too;
//! the summaries and complexities are written here, and `history` is left out. Redis 7.2 added
//! `display_text`; `tests/python/cluster_client.py` compares the rest with a real redis-server.

use rill_core::Reply;

use super::statuses;
use super::table::CommandSpec;

/// The documentation of one command or subcommand (`container|sub`, as in the table).
struct Doc {
    name: &'static str,
    group: &'static str,
    since: &'static str,
    summary: &'static str,
    /// Redis documents none for a few commands (XREAD); neither does Rill.
    complexity: Option<&'static str>,
    /// `(deprecated_since, replaced_by)`; the command then carries the `deprecated` doc flag.
    deprecated: Option<(&'static str, &'static str)>,
    args: &'static [Arg],
}

/// One argument as Redis's `COMMAND DOCS` describes it. Redis also has the `double` type and
/// the `multiple_token` flag; no command Rill serves uses them.
struct Arg {
    name: &'static str,
    kind: Kind,
    /// Shown in place of the name in syntax hints (`ip:port`); Redis 7.2 and later.
    display: Option<&'static str>,
    token: Option<&'static str>,
    since: Option<&'static str>,
    deprecated_since: Option<&'static str>,
    optional: bool,
    multiple: bool,
}

enum Kind {
    String,
    Integer,
    /// A key, with the index of the key spec that finds it (COMMAND INFO's).
    Key(i64),
    Pattern,
    UnixTime,
    PureToken,
    OneOf(&'static [Arg]),
    Block(&'static [Arg]),
}

impl Kind {
    fn name(&self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Integer => "integer",
            Kind::Key(_) => "key",
            Kind::Pattern => "pattern",
            Kind::UnixTime => "unix-time",
            Kind::PureToken => "pure-token",
            Kind::OneOf(_) => "oneof",
            Kind::Block(_) => "block",
        }
    }

    fn nested(&self) -> Option<&'static [Arg]> {
        match self {
            Kind::OneOf(args) | Kind::Block(args) => Some(args),
            _ => None,
        }
    }
}

/// The map `COMMAND DOCS` gives for `spec`, with its subcommands' maps for a container: the
/// fields in Redis's order (`addReplyCommandDocs`), each only where Redis has it.
pub(super) fn reply(spec: &CommandSpec) -> Reply {
    let Some(doc) = find(spec.name) else {
        // Never: a test holds every name in the table documented.
        return Reply::Map(Vec::new());
    };
    let text = Reply::text;
    let mut map = vec![
        (text("summary"), text(doc.summary)),
        (text("since"), text(doc.since)),
        (text("group"), text(doc.group)),
    ];
    if let Some(complexity) = doc.complexity {
        map.push((text("complexity"), text(complexity)));
    }
    if let Some((since, replaced_by)) = doc.deprecated {
        map.push((text("doc_flags"), statuses(&["deprecated"])));
        map.push((text("deprecated_since"), text(since)));
        map.push((text("replaced_by"), text(replaced_by)));
    }
    if !doc.args.is_empty() {
        map.push((text("arguments"), args_reply(doc.args)));
    }
    if !spec.subcommands.is_empty() {
        let subcommands = spec
            .subcommands
            .iter()
            .map(|sub| (text(sub.name), reply(sub)))
            .collect();
        map.push((text("subcommands"), Reply::Map(subcommands)));
    }
    Reply::Map(map)
}

fn find(name: &str) -> Option<&'static Doc> {
    DOCS.iter().find(|doc| doc.name == name)
}

fn args_reply(args: &[Arg]) -> Reply {
    Reply::Array(args.iter().map(Arg::reply).collect())
}

impl Arg {
    /// The fields in Redis's order (`addReplyCommandArgList`): `name`, `type`, `display_text`
    /// (not for `oneof` and `block`), `key_spec_index`, `token`, `since`, `deprecated_since`,
    /// `flags`, and the nested `arguments` of a `oneof` or `block`.
    fn reply(&self) -> Reply {
        let text = Reply::text;
        let mut map = vec![
            (text("name"), text(self.name)),
            (text("type"), text(self.kind.name())),
        ];
        if self.kind.nested().is_none() {
            map.push((
                text("display_text"),
                text(self.display.unwrap_or(self.name)),
            ));
        }
        if let Kind::Key(index) = self.kind {
            map.push((text("key_spec_index"), Reply::Int(index)));
        }
        let fields = [
            ("token", self.token),
            ("since", self.since),
            ("deprecated_since", self.deprecated_since),
        ];
        for (field, value) in fields {
            if let Some(value) = value {
                map.push((text(field), text(value)));
            }
        }
        let flags: Vec<&str> = [("optional", self.optional), ("multiple", self.multiple)]
            .into_iter()
            .filter_map(|(flag, set)| set.then_some(flag))
            .collect();
        if !flags.is_empty() {
            map.push((text("flags"), statuses(&flags)));
        }
        if let Some(nested) = self.kind.nested() {
            map.push((text("arguments"), args_reply(nested)));
        }
        Reply::Map(map)
    }

    const fn optional(self) -> Arg {
        Arg {
            optional: true,
            ..self
        }
    }

    const fn multiple(self) -> Arg {
        Arg {
            multiple: true,
            ..self
        }
    }

    const fn token(self, token: &'static str) -> Arg {
        Arg {
            token: Some(token),
            ..self
        }
    }

    const fn since(self, version: &'static str) -> Arg {
        Arg {
            since: Some(version),
            ..self
        }
    }

    const fn display(self, display: &'static str) -> Arg {
        Arg {
            display: Some(display),
            ..self
        }
    }

    const fn deprecated_since(self, version: &'static str) -> Arg {
        Arg {
            deprecated_since: Some(version),
            ..self
        }
    }
}

const fn arg(name: &'static str, kind: Kind) -> Arg {
    Arg {
        name,
        kind,
        display: None,
        token: None,
        since: None,
        deprecated_since: None,
        optional: false,
        multiple: false,
    }
}

const fn string(name: &'static str) -> Arg {
    arg(name, Kind::String)
}

const fn integer(name: &'static str) -> Arg {
    arg(name, Kind::Integer)
}

const fn key(name: &'static str, key_spec_index: i64) -> Arg {
    arg(name, Kind::Key(key_spec_index))
}

const fn pattern(name: &'static str) -> Arg {
    arg(name, Kind::Pattern)
}

const fn unix_time(name: &'static str) -> Arg {
    arg(name, Kind::UnixTime)
}

/// A word given as is, such as `NOMKSTREAM`.
const fn pure(name: &'static str, token: &'static str) -> Arg {
    arg(name, Kind::PureToken).token(token)
}

const fn one_of(name: &'static str, args: &'static [Arg]) -> Arg {
    arg(name, Kind::OneOf(args))
}

const fn block(name: &'static str, args: &'static [Arg]) -> Arg {
    arg(name, Kind::Block(args))
}

impl Doc {
    const fn complexity(self, complexity: &'static str) -> Doc {
        Doc {
            complexity: Some(complexity),
            ..self
        }
    }

    const fn deprecated(self, since: &'static str, replaced_by: &'static str) -> Doc {
        Doc {
            deprecated: Some((since, replaced_by)),
            ..self
        }
    }

    const fn args(self, args: &'static [Arg]) -> Doc {
        Doc { args, ..self }
    }
}

const fn doc(
    name: &'static str,
    group: &'static str,
    since: &'static str,
    summary: &'static str,
) -> Doc {
    Doc {
        name,
        group,
        since,
        summary,
        complexity: None,
        deprecated: None,
        args: &[],
    }
}

// Redis's command groups.
const CLUSTER: &str = "cluster";
const CONNECTION: &str = "connection";
const GENERIC: &str = "generic";
const SCRIPTING: &str = "scripting";
const SENTINEL: &str = "sentinel";
const SERVER: &str = "server";
const STREAM: &str = "stream";
const TRANSACTIONS: &str = "transactions";

// Arguments several commands share.
/// What happens to the groups' references to removed entries (Redis 8.2).
const CONDITION: Arg = one_of(
    "condition",
    &[
        pure("keepref", "KEEPREF"),
        pure("delref", "DELREF"),
        pure("acked", "ACKED"),
    ],
);
const IDS: Arg = block("ids", &[integer("numids"), string("id").multiple()]).token("IDS");
const TRIM_STRATEGY: Arg = one_of(
    "strategy",
    &[
        pure("maxlen", "MAXLEN"),
        pure("minid", "MINID").since("6.2.0"),
    ],
);
const TRIM_OPERATOR: Arg = one_of(
    "operator",
    &[pure("equal", "="), pure("approximately", "~")],
)
.optional();
const TRIM_THRESHOLD: Arg = string("threshold");
const TRIM_LIMIT: Arg = integer("count").token("LIMIT").optional().since("6.2.0");
const GROUP_ID: Arg = one_of("id-selector", &[string("id"), pure("new-id", "$")]);
const ENTRIES_READ: Arg = integer("entriesread")
    .token("ENTRIESREAD")
    .display("entries-read")
    .optional();
const FLUSH_TYPE: Arg = one_of(
    "flush-type",
    &[
        pure("async", "ASYNC").since("4.0.0"),
        pure("sync", "SYNC").since("6.2.0"),
    ],
)
.optional();
const ON_OFF: Arg = one_of("enabled", &[pure("on", "ON"), pure("off", "OFF")]);

/// Every command and subcommand in `table::COMMANDS`, and nothing else (a test holds it).
/// The trees that changed after Redis 8.0: XADD, XTRIM (8.2, 8.6: the IDMP shape as fixed in
/// redis/redis#14788), XREADGROUP (8.4; CLAIM has no `since` in 8.4's JSON), XDELEX, XACKDEL,
/// XCFGSET, XNACK.
const DOCS: &[Doc] = &[
    doc(
        "xadd",
        STREAM,
        "5.0.0",
        "Appends an entry to a stream, creating the stream unless NOMKSTREAM is given; can trim \
         it in the same call.",
    )
    .complexity("O(1) to append; trimming adds O(N) for the N entries it removes.")
    .args(&[
        key("key", 0),
        pure("nomkstream", "NOMKSTREAM").optional().since("6.2.0"),
        CONDITION.optional(),
        one_of(
            "idmp",
            &[
                string("pid").token("IDMPAUTO"),
                block("idmp", &[string("pid"), string("iid")]).token("IDMP"),
            ],
        )
        .optional()
        .since("8.6.0"),
        block(
            "trim",
            &[TRIM_STRATEGY, TRIM_OPERATOR, TRIM_THRESHOLD, TRIM_LIMIT],
        )
        .optional(),
        one_of("id-selector", &[pure("auto-id", "*"), string("id")]),
        block("data", &[string("field"), string("value")]).multiple(),
    ]),
    doc(
        "xrange",
        STREAM,
        "5.0.0",
        "Lists the entries of a stream whose IDs fall in a range, oldest first.",
    )
    .complexity("O(N) for the N entries returned (O(1) with a small fixed COUNT).")
    .args(&[
        key("key", 0),
        string("start"),
        string("end"),
        integer("count").token("COUNT").optional(),
    ]),
    doc(
        "xrevrange",
        STREAM,
        "5.0.0",
        "Lists the entries of a stream whose IDs fall in a range, newest first.",
    )
    .complexity("O(N) for the N entries returned (O(1) with a small fixed COUNT).")
    .args(&[
        key("key", 0),
        string("end"),
        string("start"),
        integer("count").token("COUNT").optional(),
    ]),
    doc("xlen", STREAM, "5.0.0", "Counts the entries of a stream.")
        .complexity("O(1)")
        .args(&[key("key", 0)]),
    doc(
        "xread",
        STREAM,
        "5.0.0",
        "Reads entries newer than the given IDs from one or more streams, waiting for them with \
         BLOCK.",
    )
    .args(&[
        integer("count").token("COUNT").optional(),
        integer("milliseconds").token("BLOCK").optional(),
        block(
            "streams",
            &[key("key", 0).multiple(), string("id").multiple()],
        )
        .token("STREAMS"),
    ]),
    doc(
        "xreadgroup",
        STREAM,
        "5.0.0",
        "Reads entries as a consumer of a consumer group: new ones (recording them as pending), \
         idle pending ones with CLAIM, or the consumer's own pending history; can wait with \
         BLOCK.",
    )
    .complexity(
        "O(M) per stream for the M entries returned; a blocked read costs the writer that serves \
         it O(1) per waiting client.",
    )
    .args(&[
        block("group-block", &[string("group"), string("consumer")]).token("GROUP"),
        integer("count").token("COUNT").optional(),
        integer("milliseconds").token("BLOCK").optional(),
        integer("min-idle-time").token("CLAIM").optional(),
        pure("noack", "NOACK").optional(),
        block(
            "streams",
            &[key("key", 0).multiple(), string("id").multiple()],
        )
        .token("STREAMS"),
    ]),
    doc(
        "xgroup",
        STREAM,
        "5.0.0",
        "Container of the commands that manage consumer groups.",
    )
    .complexity("That of the subcommand."),
    doc(
        "xack",
        STREAM,
        "5.0.0",
        "Acknowledges entries, removing them from a group's pending entries list.",
    )
    .complexity("O(1) per ID.")
    .args(&[key("key", 0), string("group"), string("id").multiple()]),
    doc(
        "xpending",
        STREAM,
        "5.0.0",
        "Inspects a group's pending entries list: a summary, or the entries in an ID range with \
         their owner, idle time and delivery count.",
    )
    .complexity(
        "O(N) for the N entries returned; O(M) for the M entries scanned with IDLE; the summary \
         is O(1) plus O(C) for C consumers.",
    )
    .args(&[
        key("key", 0),
        string("group"),
        block(
            "filters",
            &[
                integer("min-idle-time")
                    .token("IDLE")
                    .optional()
                    .since("6.2.0"),
                string("start"),
                string("end"),
                integer("count"),
                string("consumer").optional(),
            ],
        )
        .optional(),
    ]),
    doc(
        "xclaim",
        STREAM,
        "5.0.0",
        "Transfers pending entries to a consumer, as though they had been delivered to it.",
    )
    .complexity("O(log N) per ID, N the size of the group's pending entries list.")
    .args(&[
        key("key", 0),
        string("group"),
        string("consumer"),
        string("min-idle-time"),
        string("id").multiple(),
        integer("ms").token("IDLE").optional(),
        unix_time("unix-time-milliseconds").token("TIME").optional(),
        integer("count").token("RETRYCOUNT").optional(),
        pure("force", "FORCE").optional(),
        pure("justid", "JUSTID").optional(),
        string("lastid").token("LASTID").optional(),
    ]),
    doc(
        "xautoclaim",
        STREAM,
        "6.2.0",
        "Transfers pending entries idle for long enough to a consumer, scanning the pending \
         entries list from a cursor.",
    )
    .complexity("O(1) for a small COUNT.")
    .args(&[
        key("key", 0),
        string("group"),
        string("consumer"),
        string("min-idle-time"),
        string("start"),
        integer("count").token("COUNT").optional(),
        pure("justid", "JUSTID").optional(),
    ]),
    doc(
        "xinfo",
        STREAM,
        "5.0.0",
        "Container of the commands that describe streams, groups and consumers.",
    )
    .complexity("That of the subcommand."),
    doc(
        "xdel",
        STREAM,
        "5.0.0",
        "Removes entries from a stream by ID.",
    )
    .complexity("O(1) per ID.")
    .args(&[key("key", 0), string("id").multiple()]),
    doc(
        "xdelex",
        STREAM,
        "8.2.0",
        "Removes entries from a stream by ID, choosing what happens to the groups' references to \
         them.",
    )
    .complexity("O(1) per ID, plus the groups' references it visits.")
    .args(&[key("key", 0), CONDITION, IDS]),
    doc(
        "xackdel",
        STREAM,
        "8.2.0",
        "Acknowledges entries for a group and removes them from the stream, choosing what \
         happens to other groups' references.",
    )
    .complexity("O(1) per ID, plus the groups' references it visits.")
    .args(&[key("key", 0), string("group"), CONDITION, IDS]),
    doc(
        "xcfgset",
        STREAM,
        "8.6.0",
        "Configures a stream's idempotent-production window: how long and how many producer \
         message IDs it remembers.",
    )
    .complexity("O(1)")
    .args(&[
        key("key", 0),
        integer("idmp-duration").token("IDMP-DURATION").optional(),
        integer("idmp-maxsize").token("IDMP-MAXSIZE").optional(),
    ]),
    doc(
        "xnack",
        STREAM,
        "8.8.0",
        "Gives pending entries back to their group without acknowledging them, so any consumer \
         can claim them at once.",
    )
    .complexity("O(1) per ID.")
    .args(&[
        key("key", 0),
        string("group"),
        one_of(
            "mode",
            &[
                pure("silent", "SILENT"),
                pure("fail", "FAIL"),
                pure("fatal", "FATAL"),
            ],
        ),
        IDS,
        integer("count").token("RETRYCOUNT").optional(),
        pure("force", "FORCE").optional(),
    ]),
    doc(
        "xtrim",
        STREAM,
        "5.0.0",
        "Removes the oldest entries of a stream, down to a length or up to an ID.",
    )
    .complexity("O(N) for the N entries removed.")
    .args(&[
        key("key", 0),
        block(
            "trim",
            &[
                TRIM_STRATEGY,
                TRIM_OPERATOR,
                TRIM_THRESHOLD,
                TRIM_LIMIT,
                CONDITION.optional(),
            ],
        ),
    ]),
    doc(
        "xsetid",
        STREAM,
        "5.0.0",
        "Sets a stream's last ID (and its added and deleted counters); used to replicate streams.",
    )
    .complexity("O(1)")
    .args(&[
        key("key", 0),
        string("last-id"),
        integer("entries-added")
            .token("ENTRIESADDED")
            .optional()
            .since("7.0.0"),
        string("max-deleted-id")
            .token("MAXDELETEDID")
            .optional()
            .since("7.0.0"),
    ]),
    doc("del", GENERIC, "1.0.0", "Deletes keys.")
        .complexity("O(N) for N keys (each stream in time proportional to its size).")
        .args(&[key("key", 0).multiple()]),
    doc(
        "exists",
        GENERIC,
        "1.0.0",
        "Counts how many of the given keys exist.",
    )
    .complexity("O(N) for N keys.")
    .args(&[key("key", 0).multiple()]),
    doc(
        "type",
        GENERIC,
        "1.0.0",
        "Names the type of the value at a key.",
    )
    .complexity("O(1)")
    .args(&[key("key", 0)]),
    doc(
        "keys",
        GENERIC,
        "1.0.0",
        "Lists the keys whose names match a glob-style pattern.",
    )
    .complexity("O(N) for the N keys in the database.")
    .args(&[pattern("pattern")]),
    doc(
        "scan",
        GENERIC,
        "2.8.0",
        "Walks the key space with a cursor, a batch per call.",
    )
    .complexity("O(1) per call; O(N) for a whole walk over N keys.")
    .args(&[
        integer("cursor"),
        pattern("pattern").token("MATCH").optional(),
        integer("count").token("COUNT").optional(),
        string("type").token("TYPE").optional().since("6.0.0"),
    ]),
    doc(
        "ping",
        CONNECTION,
        "1.0.0",
        "Checks that the server answers: PONG, or the given message.",
    )
    .complexity("O(1)")
    .args(&[string("message").optional()]),
    doc("echo", CONNECTION, "1.0.0", "Answers with its argument.")
        .complexity("O(1)")
        .args(&[string("message")]),
    doc(
        "hello",
        CONNECTION,
        "6.0.0",
        "Opens the conversation: picks the protocol version, can authenticate and name the \
         connection, and describes the server.",
    )
    .complexity("O(1)")
    .args(&[block(
        "arguments",
        &[
            integer("protover"),
            block("auth", &[string("username"), string("password")])
                .token("AUTH")
                .optional(),
            string("clientname").token("SETNAME").optional(),
        ],
    )
    .optional()]),
    doc(
        "client",
        CONNECTION,
        "2.4.0",
        "Container of the commands about client connections.",
    )
    .complexity("That of the subcommand."),
    doc(
        "select",
        CONNECTION,
        "1.0.0",
        "Selects the database of the connection (Rill has only database 0).",
    )
    .complexity("O(1)")
    .args(&[integer("index")]),
    doc(
        "command",
        SERVER,
        "2.8.13",
        "Describes every command the server serves.",
    )
    .complexity("O(N) for N commands."),
    doc(
        "quit",
        CONNECTION,
        "1.0.0",
        "Asks the server to close the connection.",
    )
    .complexity("O(1)")
    .deprecated("7.2.0", "just closing the connection"),
    doc(
        "info",
        SERVER,
        "1.0.0",
        "Reports the server's state and statistics, by section.",
    )
    .complexity("O(1)")
    .args(&[string("section").optional().multiple()]),
    doc(
        "config",
        SERVER,
        "2.0.0",
        "Container of the commands that read and change the configuration.",
    )
    .complexity("That of the subcommand."),
    doc(
        "role",
        SERVER,
        "2.8.12",
        "Tells the node's replication role and whom it replicates with.",
    )
    .complexity("O(1)"),
    doc(
        "sentinel",
        SENTINEL,
        "2.8.4",
        "Container of the Redis Sentinel commands.",
    )
    .complexity("That of the subcommand."),
    doc(
        "cluster",
        CLUSTER,
        "3.0.0",
        "Container of the Redis Cluster commands.",
    )
    .complexity("That of the subcommand."),
    doc(
        "auth",
        CONNECTION,
        "1.0.0",
        "Authenticates the connection with a password (and user name).",
    )
    .complexity("O(N) for the N passwords of the user.")
    .args(&[
        string("username").optional().since("6.0.0"),
        string("password"),
    ]),
    doc(
        "readonly",
        CLUSTER,
        "3.0.0",
        "Lets the connection read from a replica.",
    )
    .complexity("O(1)"),
    doc(
        "flushall",
        SERVER,
        "1.0.0",
        "Deletes every key of every database.",
    )
    .complexity("O(N) for the N keys deleted.")
    .args(&[FLUSH_TYPE]),
    doc(
        "flushdb",
        SERVER,
        "1.0.0",
        "Deletes every key of the selected database.",
    )
    .complexity("O(N) for the N keys deleted.")
    .args(&[FLUSH_TYPE]),
    doc(
        "function",
        SCRIPTING,
        "7.0.0",
        "Container of the commands that manage function libraries.",
    )
    .complexity("That of the subcommand."),
    doc(
        "multi",
        TRANSACTIONS,
        "1.2.0",
        "Opens a transaction: later commands are queued until EXEC.",
    )
    .complexity("O(1)"),
    doc(
        "exec",
        TRANSACTIONS,
        "1.2.0",
        "Runs the commands queued since MULTI, all together.",
    )
    .complexity("That of the queued commands."),
    doc(
        "discard",
        TRANSACTIONS,
        "2.0.0",
        "Drops the commands queued since MULTI.",
    )
    .complexity("O(N) for N queued commands."),
    doc(
        "watch",
        TRANSACTIONS,
        "2.2.0",
        "Makes the next EXEC abort if any of these keys changes first.",
    )
    .complexity("O(1) per key.")
    .args(&[key("key", 0).multiple()]),
    doc(
        "unwatch",
        TRANSACTIONS,
        "2.2.0",
        "Forgets every key WATCHed by the connection.",
    )
    .complexity("O(1)"),
    doc(
        "readwrite",
        CLUSTER,
        "3.0.0",
        "Stops the connection reading from a replica (undoes READONLY).",
    )
    .complexity("O(1)"),
    doc(
        "dbsize",
        SERVER,
        "1.0.0",
        "Counts the keys of the selected database.",
    )
    .complexity("O(1)"),
    doc(
        "wait",
        GENERIC,
        "3.0.0",
        "Waits until this connection's writes are on the given number of replicas, or the \
         timeout passes.",
    )
    .complexity("O(1)")
    .args(&[integer("numreplicas"), integer("timeout")]),
    doc(
        "waitaof",
        GENERIC,
        "7.2.0",
        "Waits until this connection's writes are in the append-only file locally and on the \
         given number of replicas, or the timeout passes.",
    )
    .complexity("O(1)")
    .args(&[
        integer("numlocal"),
        integer("numreplicas"),
        integer("timeout"),
    ]),
    doc(
        "xgroup|create",
        STREAM,
        "5.0.0",
        "Creates a consumer group on a stream, optionally creating the stream too.",
    )
    .complexity("O(1)")
    .args(&[
        key("key", 0),
        string("group"),
        GROUP_ID,
        pure("mkstream", "MKSTREAM").optional(),
        ENTRIES_READ,
    ]),
    doc(
        "xgroup|setid",
        STREAM,
        "5.0.0",
        "Moves a consumer group's last-delivered ID.",
    )
    .complexity("O(1)")
    .args(&[key("key", 0), string("group"), GROUP_ID, ENTRIES_READ]),
    doc(
        "xgroup|destroy",
        STREAM,
        "5.0.0",
        "Deletes a consumer group with its consumers and pending entries.",
    )
    .complexity("O(N) for the N entries of its pending entries list.")
    .args(&[key("key", 0), string("group")]),
    doc(
        "xgroup|createconsumer",
        STREAM,
        "6.2.0",
        "Adds a consumer to a consumer group.",
    )
    .complexity("O(1)")
    .args(&[key("key", 0), string("group"), string("consumer")]),
    doc(
        "xgroup|delconsumer",
        STREAM,
        "5.0.0",
        "Removes a consumer from a consumer group, dropping its pending entries.",
    )
    .complexity("O(1)")
    .args(&[key("key", 0), string("group"), string("consumer")]),
    doc(
        "xgroup|help",
        STREAM,
        "5.0.0",
        "Lists the XGROUP subcommands.",
    )
    .complexity("O(1)"),
    doc(
        "xinfo|stream",
        STREAM,
        "5.0.0",
        "Describes a stream; with FULL, also its entries, groups, pending entries and consumers.",
    )
    .complexity("O(1)")
    .args(&[
        key("key", 0),
        block(
            "full-block",
            &[
                pure("full", "FULL"),
                integer("count").token("COUNT").optional(),
            ],
        )
        .optional(),
    ]),
    doc(
        "xinfo|groups",
        STREAM,
        "5.0.0",
        "Describes each consumer group of a stream.",
    )
    .complexity("O(1)")
    .args(&[key("key", 0)]),
    doc(
        "xinfo|consumers",
        STREAM,
        "5.0.0",
        "Describes each consumer of a consumer group.",
    )
    .complexity("O(1)")
    .args(&[key("key", 0), string("group")]),
    doc(
        "xinfo|help",
        STREAM,
        "5.0.0",
        "Lists the XINFO subcommands.",
    )
    .complexity("O(1)"),
    doc(
        "client|setname",
        CONNECTION,
        "2.6.9",
        "Names the connection.",
    )
    .complexity("O(1)")
    .args(&[string("connection-name")]),
    doc(
        "client|getname",
        CONNECTION,
        "2.6.9",
        "Tells the connection's name.",
    )
    .complexity("O(1)"),
    doc(
        "client|id",
        CONNECTION,
        "5.0.0",
        "Tells the connection's client ID.",
    )
    .complexity("O(1)"),
    doc(
        "client|setinfo",
        CONNECTION,
        "7.2.0",
        "Records the client library's name or version for the connection.",
    )
    .complexity("O(1)")
    .args(&[one_of(
        "attr",
        &[
            string("libname").token("LIB-NAME"),
            string("libver").token("LIB-VER"),
        ],
    )]),
    doc(
        "client|list",
        CONNECTION,
        "2.4.0",
        "Describes the open connections, optionally only some types or IDs.",
    )
    .complexity("O(N) for N connections.")
    .args(&[
        one_of(
            "client-type",
            &[
                pure("normal", "NORMAL"),
                pure("master", "MASTER"),
                pure("replica", "REPLICA"),
                pure("pubsub", "PUBSUB"),
            ],
        )
        .token("TYPE")
        .optional()
        .since("5.0.0"),
        integer("client-id")
            .token("ID")
            .optional()
            .multiple()
            .since("6.2.0"),
    ]),
    doc(
        "client|info",
        CONNECTION,
        "6.2.0",
        "Describes this connection.",
    )
    .complexity("O(1)"),
    doc(
        "client|kill",
        CONNECTION,
        "2.4.0",
        "Closes the connections that match the filters.",
    )
    .complexity("O(N) for N connections.")
    .args(&[one_of(
        "filter",
        &[
            string("old-format")
                .display("ip:port")
                .deprecated_since("2.8.12"),
            one_of(
                "new-format",
                &[
                    integer("client-id").token("ID").optional().since("2.8.12"),
                    one_of(
                        "client-type",
                        &[
                            pure("normal", "NORMAL"),
                            pure("master", "MASTER").since("3.2.0"),
                            pure("slave", "SLAVE"),
                            pure("replica", "REPLICA").since("5.0.0"),
                            pure("pubsub", "PUBSUB"),
                        ],
                    )
                    .token("TYPE")
                    .optional()
                    .since("2.8.12"),
                    string("username").token("USER").optional(),
                    string("addr").token("ADDR").display("ip:port").optional(),
                    string("laddr")
                        .token("LADDR")
                        .display("ip:port")
                        .optional()
                        .since("6.2.0"),
                    one_of("skipme", &[pure("yes", "YES"), pure("no", "NO")])
                        .token("SKIPME")
                        .optional(),
                    integer("maxage").token("MAXAGE").optional().since("7.4.0"),
                ],
            )
            .multiple(),
        ],
    )]),
    doc(
        "client|unblock",
        CONNECTION,
        "5.0.0",
        "Ends another connection's blocking command, as a timeout or an error.",
    )
    .complexity("O(log N) for N connections.")
    .args(&[
        integer("client-id"),
        one_of(
            "unblock-type",
            &[pure("timeout", "TIMEOUT"), pure("error", "ERROR")],
        )
        .optional(),
    ]),
    doc(
        "client|no-evict",
        CONNECTION,
        "7.0.0",
        "Sets whether the connection may be evicted under memory pressure.",
    )
    .complexity("O(1)")
    .args(&[ON_OFF]),
    doc(
        "client|no-touch",
        CONNECTION,
        "7.2.0",
        "Sets whether the connection's commands update the keys' access times.",
    )
    .complexity("O(1)")
    .args(&[ON_OFF]),
    doc(
        "client|getredir",
        CONNECTION,
        "6.0.0",
        "Tells where the connection's tracking notifications go.",
    )
    .complexity("O(1)"),
    doc(
        "client|trackinginfo",
        CONNECTION,
        "6.2.0",
        "Describes the connection's client-side caching state.",
    )
    .complexity("O(1)"),
    doc(
        "client|help",
        CONNECTION,
        "5.0.0",
        "Lists the CLIENT subcommands.",
    )
    .complexity("O(1)"),
    doc(
        "command|count",
        SERVER,
        "2.8.13",
        "Counts the commands the server serves.",
    )
    .complexity("O(1)"),
    doc(
        "command|docs",
        SERVER,
        "7.0.0",
        "Documents the given commands, or every command: summary, version, group and arguments.",
    )
    .complexity("O(N) for N commands.")
    .args(&[string("command-name").optional().multiple()]),
    doc(
        "command|getkeys",
        SERVER,
        "2.8.13",
        "Finds the keys in a full command line.",
    )
    .complexity("O(N) for N arguments.")
    .args(&[string("command"), string("arg").optional().multiple()]),
    doc(
        "command|getkeysandflags",
        SERVER,
        "7.0.0",
        "Finds the keys in a full command line, with how the command uses each.",
    )
    .complexity("O(N) for N arguments.")
    .args(&[string("command"), string("arg").optional().multiple()]),
    doc(
        "command|info",
        SERVER,
        "2.8.13",
        "Describes the given commands, or every command.",
    )
    .complexity("O(N) for N commands.")
    .args(&[string("command-name").optional().multiple()]),
    doc(
        "command|list",
        SERVER,
        "7.0.0",
        "Lists the command names, optionally filtered.",
    )
    .complexity("O(N) for N commands.")
    .args(&[one_of(
        "filterby",
        &[
            string("module-name").token("MODULE"),
            string("category").token("ACLCAT"),
            pattern("pattern").token("PATTERN"),
        ],
    )
    .token("FILTERBY")
    .optional()]),
    doc(
        "command|help",
        SERVER,
        "5.0.0",
        "Lists the COMMAND subcommands.",
    )
    .complexity("O(1)"),
    doc(
        "config|get",
        SERVER,
        "2.0.0",
        "Reads configuration parameters matching the given patterns.",
    )
    .complexity("O(N) for N parameters.")
    .args(&[string("parameter").multiple()]),
    doc(
        "config|set",
        SERVER,
        "2.0.0",
        "Changes configuration parameters.",
    )
    .complexity("O(N) for N parameters.")
    .args(&[block("data", &[string("parameter"), string("value")]).multiple()]),
    doc(
        "config|resetstat",
        SERVER,
        "2.0.0",
        "Resets the server's statistics.",
    )
    .complexity("O(1)"),
    doc(
        "config|rewrite",
        SERVER,
        "2.8.0",
        "Writes the running configuration back to its file.",
    )
    .complexity("O(1)"),
    doc(
        "cluster|slots",
        CLUSTER,
        "3.0.0",
        "Maps hash slot ranges to the nodes that serve them.",
    )
    .complexity("O(N) for N nodes.")
    .deprecated("7.0.0", "`CLUSTER SHARDS`"),
    doc(
        "cluster|shards",
        CLUSTER,
        "7.0.0",
        "Describes each shard: its slot ranges and its nodes.",
    )
    .complexity("O(N) for N nodes."),
    doc(
        "cluster|nodes",
        CLUSTER,
        "3.0.0",
        "Describes every node of the cluster, one line each.",
    )
    .complexity("O(N) for N nodes."),
    doc(
        "cluster|info",
        CLUSTER,
        "3.0.0",
        "Reports the cluster's state as this node sees it.",
    )
    .complexity("O(1)"),
    doc("cluster|myid", CLUSTER, "3.0.0", "Tells this node's ID.").complexity("O(1)"),
    doc(
        "cluster|keyslot",
        CLUSTER,
        "3.0.0",
        "Tells the hash slot of a key name.",
    )
    .complexity("O(N) for a name of N bytes.")
    .args(&[string("key")]),
    doc(
        "function|flush",
        SCRIPTING,
        "7.0.0",
        "Deletes every function library.",
    )
    .complexity("O(N) for N functions.")
    .args(&[one_of(
        "flush-type",
        &[pure("async", "ASYNC"), pure("sync", "SYNC")],
    )
    .optional()]),
    doc(
        "function|list",
        SCRIPTING,
        "7.0.0",
        "Describes the function libraries.",
    )
    .complexity("O(N) for N functions.")
    .args(&[
        string("library-name-pattern")
            .token("LIBRARYNAME")
            .optional(),
        pure("withcode", "WITHCODE").optional(),
    ]),
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use expect_test::{expect, Expect};

    use super::*;
    use crate::commands::introspect;
    use crate::commands::table::COMMANDS;
    use crate::commands::tests::check;

    fn every_spec() -> impl Iterator<Item = &'static CommandSpec> {
        COMMANDS
            .iter()
            .flat_map(|spec| std::iter::once(spec).chain(spec.subcommands))
    }

    #[test]
    fn every_name_in_the_table_has_docs_and_nothing_else_does() {
        let table: Vec<&str> = every_spec().map(|spec| spec.name).collect();
        let documented: BTreeSet<&str> = DOCS.iter().map(|doc| doc.name).collect();
        assert_eq!(documented.len(), DOCS.len(), "a name documented twice");
        assert_eq!(documented, table.iter().copied().collect::<BTreeSet<_>>());
    }

    /// The rules Redis's own command table keeps (`utils/generate-command-code.py`): names
    /// unique among siblings, a `oneof` or `block` of at least two arguments, a token on every
    /// pure token; and each key spec COMMAND INFO lists is named by exactly the key arguments.
    #[test]
    fn argument_trees_keep_redis_rules() {
        fn walk(args: &[Arg], at: &str, key_specs: &mut Vec<i64>) {
            let names: BTreeSet<&str> = args.iter().map(|arg| arg.name).collect();
            assert_eq!(names.len(), args.len(), "{at}: sibling names repeat");
            for arg in args {
                let at = format!("{at} {}", arg.name);
                assert!(
                    arg.token.is_some() || !matches!(arg.kind, Kind::PureToken),
                    "{at}: a pure token without its token"
                );
                if let Kind::Key(index) = arg.kind {
                    key_specs.push(index);
                }
                if let Some(nested) = arg.kind.nested() {
                    assert!(nested.len() >= 2, "{at}: fewer than two choices or parts");
                    assert!(arg.display.is_none(), "{at}: Redis shows no display text");
                    walk(nested, &at, key_specs);
                }
            }
        }
        for spec in every_spec() {
            let doc = find(spec.name).expect("documented");
            let mut key_specs = Vec::new();
            walk(doc.args, spec.name, &mut key_specs);
            let named: BTreeSet<i64> = key_specs.into_iter().collect();
            let listed: BTreeSet<i64> = (0..spec.key_specs.len() as i64).collect();
            assert_eq!(named, listed, "{}: key arguments and key specs", spec.name);
            assert!(
                spec.subcommands.is_empty() || doc.args.is_empty(),
                "{}: a container has no arguments of its own",
                spec.name
            );
        }
    }

    /// Shows a `COMMAND DOCS` reply as an indented tree: a map's fields one a line, and each
    /// argument on one line with its nested arguments below it.
    fn show(reply: &Reply) -> String {
        fn leaf(reply: &Reply) -> Option<String> {
            match reply {
                Reply::Bulk(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
                Reply::Status(status) => Some(status.clone()),
                Reply::Int(n) => Some(n.to_string()),
                Reply::Array(items) => items
                    .iter()
                    .map(leaf)
                    .collect::<Option<Vec<_>>>()
                    .map(|items| format!("[{}]", items.join(", "))),
                _ => None,
            }
        }
        fn map(pairs: &[(Reply, Reply)], depth: usize, out: &mut String) {
            for (key, value) in pairs {
                let key = leaf(key).expect("a name");
                let pad = "  ".repeat(depth);
                match (leaf(value), value) {
                    (Some(value), _) => out.push_str(&format!("{pad}{key}: {value}\n")),
                    (None, Reply::Map(inner)) => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        map(inner, depth + 1, out);
                    }
                    (None, Reply::Array(args)) => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        arguments(args, depth + 1, out);
                    }
                    (None, other) => panic!("unexpected {other:?}"),
                }
            }
        }
        fn arguments(args: &[Reply], depth: usize, out: &mut String) {
            for arg in args {
                let Reply::Map(fields) = arg else {
                    panic!("an argument is a map")
                };
                let mut line = Vec::new();
                let mut nested = None;
                for (key, value) in fields {
                    match (leaf(key).expect("a name").as_str(), value) {
                        ("arguments", Reply::Array(inner)) => nested = Some(inner),
                        (key, value) => {
                            line.push(format!("{key}={}", leaf(value).expect("a value")))
                        }
                    }
                }
                out.push_str(&format!("{}- {}\n", "  ".repeat(depth), line.join(" ")));
                if let Some(inner) = nested {
                    arguments(inner, depth + 1, out);
                }
            }
        }
        let Reply::Map(pairs) = reply else {
            panic!("COMMAND DOCS answers a map")
        };
        let mut out = String::new();
        map(pairs, 0, &mut out);
        out
    }

    fn check_docs(names: &str, expect: Expect) {
        let mut argv = vec![b"DOCS".to_vec()];
        argv.extend(
            names
                .split_whitespace()
                .map(|name| name.as_bytes().to_vec()),
        );
        expect.assert_eq(&show(&introspect::command(&argv)));
    }

    #[test]
    fn docs_of_xadd_are_redis_8_8s() {
        check_docs(
            "xadd",
            expect![[r#"
            xadd:
              summary: Appends an entry to a stream, creating the stream unless NOMKSTREAM is given; can trim it in the same call.
              since: 5.0.0
              group: stream
              complexity: O(1) to append; trimming adds O(N) for the N entries it removes.
              arguments:
                - name=key type=key display_text=key key_spec_index=0
                - name=nomkstream type=pure-token display_text=nomkstream token=NOMKSTREAM since=6.2.0 flags=[optional]
                - name=condition type=oneof flags=[optional]
                  - name=keepref type=pure-token display_text=keepref token=KEEPREF
                  - name=delref type=pure-token display_text=delref token=DELREF
                  - name=acked type=pure-token display_text=acked token=ACKED
                - name=idmp type=oneof since=8.6.0 flags=[optional]
                  - name=pid type=string display_text=pid token=IDMPAUTO
                  - name=idmp type=block token=IDMP
                    - name=pid type=string display_text=pid
                    - name=iid type=string display_text=iid
                - name=trim type=block flags=[optional]
                  - name=strategy type=oneof
                    - name=maxlen type=pure-token display_text=maxlen token=MAXLEN
                    - name=minid type=pure-token display_text=minid token=MINID since=6.2.0
                  - name=operator type=oneof flags=[optional]
                    - name=equal type=pure-token display_text=equal token==
                    - name=approximately type=pure-token display_text=approximately token=~
                  - name=threshold type=string display_text=threshold
                  - name=count type=integer display_text=count token=LIMIT since=6.2.0 flags=[optional]
                - name=id-selector type=oneof
                  - name=auto-id type=pure-token display_text=auto-id token=*
                  - name=id type=string display_text=id
                - name=data type=block flags=[multiple]
                  - name=field type=string display_text=field
                  - name=value type=string display_text=value
        "#]],
        );
    }

    #[test]
    fn docs_of_a_container_nest_its_subcommands() {
        check_docs(
            "XGroup",
            expect![[r#"
            xgroup:
              summary: Container of the commands that manage consumer groups.
              since: 5.0.0
              group: stream
              complexity: That of the subcommand.
              subcommands:
                xgroup|create:
                  summary: Creates a consumer group on a stream, optionally creating the stream too.
                  since: 5.0.0
                  group: stream
                  complexity: O(1)
                  arguments:
                    - name=key type=key display_text=key key_spec_index=0
                    - name=group type=string display_text=group
                    - name=id-selector type=oneof
                      - name=id type=string display_text=id
                      - name=new-id type=pure-token display_text=new-id token=$
                    - name=mkstream type=pure-token display_text=mkstream token=MKSTREAM flags=[optional]
                    - name=entriesread type=integer display_text=entries-read token=ENTRIESREAD flags=[optional]
                xgroup|setid:
                  summary: Moves a consumer group's last-delivered ID.
                  since: 5.0.0
                  group: stream
                  complexity: O(1)
                  arguments:
                    - name=key type=key display_text=key key_spec_index=0
                    - name=group type=string display_text=group
                    - name=id-selector type=oneof
                      - name=id type=string display_text=id
                      - name=new-id type=pure-token display_text=new-id token=$
                    - name=entriesread type=integer display_text=entries-read token=ENTRIESREAD flags=[optional]
                xgroup|destroy:
                  summary: Deletes a consumer group with its consumers and pending entries.
                  since: 5.0.0
                  group: stream
                  complexity: O(N) for the N entries of its pending entries list.
                  arguments:
                    - name=key type=key display_text=key key_spec_index=0
                    - name=group type=string display_text=group
                xgroup|createconsumer:
                  summary: Adds a consumer to a consumer group.
                  since: 6.2.0
                  group: stream
                  complexity: O(1)
                  arguments:
                    - name=key type=key display_text=key key_spec_index=0
                    - name=group type=string display_text=group
                    - name=consumer type=string display_text=consumer
                xgroup|delconsumer:
                  summary: Removes a consumer from a consumer group, dropping its pending entries.
                  since: 5.0.0
                  group: stream
                  complexity: O(1)
                  arguments:
                    - name=key type=key display_text=key key_spec_index=0
                    - name=group type=string display_text=group
                    - name=consumer type=string display_text=consumer
                xgroup|help:
                  summary: Lists the XGROUP subcommands.
                  since: 5.0.0
                  group: stream
                  complexity: O(1)
        "#]],
        );
    }

    /// Names as Redis takes them: any case, a subcommand as `container|sub`; unknown ones
    /// (and a subcommand of a command that has none) are left out of the map.
    #[test]
    fn unknown_names_are_left_out() {
        check_docs(
            "nosuch xadd|x xgroup| |xadd xlen|x|y XINFO|Help",
            expect![[r#"
                xinfo|help:
                  summary: Lists the XINFO subcommands.
                  since: 5.0.0
                  group: stream
                  complexity: O(1)
            "#]],
        );
    }

    /// RESP2 flattens every map into an array; RESP3 sends maps. Doc flags and argument flags
    /// are arrays in both (Redis: sets in RESP3), as COMMAND INFO's flags are.
    #[test]
    fn docs_in_both_protocols() {
        check(
            r#"
            COMMAND DOCS nosuch
            COMMAND DOCS xlen
            HELLO 3
            COMMAND DOCS nosuch
            COMMAND DOCS xlen
            COMMAND DOCS quit
            "#,
            expect![[r#"
                COMMAND DOCS nosuch
                  *0⏎
                COMMAND DOCS xlen
                  *2⏎$4⏎xlen⏎*10⏎$7⏎summary⏎$31⏎Counts the entries of a stream.⏎$5⏎since⏎$5⏎5.0.0⏎$5⏎group⏎$6⏎stream⏎$10⏎complexity⏎$4⏎O(1)⏎$9⏎arguments⏎*1⏎*8⏎$4⏎name⏎$3⏎key⏎$4⏎type⏎$3⏎key⏎$12⏎display_text⏎$3⏎key⏎$14⏎key_spec_index⏎:0⏎
                HELLO 3
                  %7⏎$6⏎server⏎$4⏎rill⏎$7⏎version⏎$5⏎8.8.0⏎$5⏎proto⏎:3⏎$2⏎id⏎:7⏎$4⏎mode⏎$10⏎standalone⏎$4⏎role⏎$6⏎master⏎$7⏎modules⏎*0⏎
                COMMAND DOCS nosuch
                  %0⏎
                COMMAND DOCS xlen
                  %1⏎$4⏎xlen⏎%5⏎$7⏎summary⏎$31⏎Counts the entries of a stream.⏎$5⏎since⏎$5⏎5.0.0⏎$5⏎group⏎$6⏎stream⏎$10⏎complexity⏎$4⏎O(1)⏎$9⏎arguments⏎*1⏎%4⏎$4⏎name⏎$3⏎key⏎$4⏎type⏎$3⏎key⏎$12⏎display_text⏎$3⏎key⏎$14⏎key_spec_index⏎:0⏎
                COMMAND DOCS quit
                  %1⏎$4⏎quit⏎%7⏎$7⏎summary⏎$40⏎Asks the server to close the connection.⏎$5⏎since⏎$5⏎1.0.0⏎$5⏎group⏎$10⏎connection⏎$10⏎complexity⏎$4⏎O(1)⏎$9⏎doc_flags⏎*1⏎+deprecated⏎$16⏎deprecated_since⏎$5⏎7.2.0⏎$11⏎replaced_by⏎$27⏎just closing the connection⏎
            "#]],
        );
    }

    #[test]
    fn docs_without_names_are_every_command_in_table_order() {
        let Reply::Map(all) = introspect::command(&[b"DOCS".to_vec()]) else {
            panic!("a map")
        };
        let names: Vec<Reply> = all.iter().map(|(name, _)| name.clone()).collect();
        let table: Vec<Reply> = COMMANDS.iter().map(|spec| Reply::text(spec.name)).collect();
        assert_eq!(names, table);
        for (spec, (_, docs)) in COMMANDS.iter().zip(&all) {
            assert_eq!(docs, &reply(spec), "{}", spec.name);
        }
    }
}
