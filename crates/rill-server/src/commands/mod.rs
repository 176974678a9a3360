//! Dispatch of one request: the server's own commands (PING, HELLO, CLIENT, ...) are answered
//! here; stream commands are parsed by `rill-core` and handed back to the connection to run.
//!
//! ```text
//!  argv ─▶ server command? ── yes ─▶ Action::Reply / Quit / DbSize
//!             │ no
//!             ▼
//!        rill_core::parse ─▶ Some(Ok(cmd)) ─▶ Action::Engine(cmd)
//!                          ─▶ Some(Err(r)) ─▶ Action::Reply(r)
//!                          ─▶ None         ─▶ "unknown command" error
//! ```
//!
//! Each family of the server's own commands has its module: `client` (HELLO, AUTH, CLIENT and
//! the `CLIENT LIST` registry), `info` (INFO, CONFIG, ROLE), `introspect` (COMMAND), `table` (the table
//! of every command Rill serves), `docs` (what COMMAND DOCS says of each), `transaction` (MULTI,
//! EXEC, WATCH and the commands they queue).

mod client;
mod docs;
mod info;
mod introspect;
mod table;
mod transaction;
pub mod wait;

use rill_core::id::parse_i64;
use rill_core::reply::errors;
use rill_core::{Command, Reply};

pub use client::{ClientControl, ClientEntry, Signal};
pub use info::ServerInfo;
use table::COMMANDS;
pub use transaction::{too_large, Answer, Multi, PendingExec, WATCHED_KEYS_MAX};

use crate::resp::Protocol;

/// The newest Redis version whose stream commands Rill serves in full; clients read it from
/// HELLO and INFO to decide which commands they may send. Where versions differ in what Rill
/// serves, replies follow this one (ARCHITECTURE.md lists the deliberate differences).
pub const REDIS_COMPAT_VERSION: &str = "8.8.0";

/// Per-connection state that commands read and change.
#[derive(Debug)]
pub struct ClientState {
    pub id: u64,
    pub protocol: Protocol,
    pub name: Option<Vec<u8>>,
    pub lib_name: Option<Vec<u8>>,
    pub lib_ver: Option<Vec<u8>>,
    /// After `READONLY`: reads are served from this node's state even on a follower (they may
    /// be behind); `READWRITE` turns it off. As for Redis Cluster replicas.
    pub stale_reads: bool,
    /// Passed `AUTH` (or `HELLO ... AUTH`); only matters when a password is configured.
    pub authenticated: bool,
    /// Between MULTI and EXEC or DISCARD: the commands queued so far.
    pub multi: Option<Multi>,
    /// Keys WATCHed, with the stamp each had then (`None`: missing); EXEC and DISCARD clear it.
    pub watched: Vec<(Vec<u8>, Option<u64>)>,
    /// When this connection was last told that the leader vouches not for itself
    /// (`crate::discovery::sentinel`).
    pub sentinel_disowned_at: Option<tokio::time::Instant>,
}

impl ClientState {
    pub fn new(id: u64) -> ClientState {
        ClientState {
            id,
            protocol: Protocol::Resp2,
            name: None,
            lib_name: None,
            lib_ver: None,
            stale_reads: false,
            authenticated: false,
            multi: None,
            watched: Vec::new(),
            sentinel_disowned_at: None,
        }
    }
}

/// What the connection does with one request.
#[derive(Debug)]
pub enum Action {
    Reply(Reply),
    /// Reply `+OK`, then close the connection.
    Quit,
    /// Count the stream keys on a read view.
    DbSize,
    /// `INFO`: `text`, then the `streams` section (counted on a read view) when wanted.
    Info {
        text: String,
        streams: bool,
    },
    /// A stream-engine command: read, write or blocking read.
    Engine(Command),
    /// WATCH: read these keys' stamps (where reads run) and keep them for EXEC.
    Watch(Vec<Vec<u8>>),
    /// EXEC of a transaction that was not aborted.
    Exec(PendingExec),
    /// WAIT or WAITAOF: wait until enough replicas hold this client's writes.
    Wait(wait::WaitFor),
}

/// Decides what to do with `argv` (never empty: the decoder drops empty requests).
pub fn dispatch(argv: &[Vec<u8>], client: &mut ClientState, info: &ServerInfo) -> Action {
    let name = argv.first().expect("the decoder yields no empty request");
    let password = info.config.requirepass.as_deref();
    let before_auth = [&b"auth"[..], b"hello", b"quit"];
    if password.is_some()
        && !client.authenticated
        && !before_auth
            .iter()
            .any(|allowed| name.eq_ignore_ascii_case(allowed))
    {
        return Action::Reply(Reply::err("NOAUTH Authentication required."));
    }
    if client.multi.is_some() && !transaction::runs_in_multi(name) {
        return Action::Reply(transaction::queue(client, argv, info));
    }
    let spec = COMMANDS
        .iter()
        .find(|spec| spec.handled_here && name.eq_ignore_ascii_case(spec.name.as_bytes()));
    let Some(spec) = spec else {
        return match rill_core::parse(argv) {
            Some(Ok(cmd)) => Action::Engine(cmd),
            Some(Err(reply)) => Action::Reply(reply),
            None => Action::Reply(unknown_command(argv)),
        };
    };
    if !arity_ok(spec.arity, argv.len()) {
        return Action::Reply(Reply::err(errors::wrong_arity(spec.name)));
    }
    if let (false, Some(name)) = (spec.subcommands.is_empty(), argv.get(1)) {
        // As Redis's `processCommand`: an unknown subcommand, then the subcommand's arity.
        let Some(sub) = spec.subcommand(name) else {
            let container = spec.name.to_ascii_uppercase();
            return Action::Reply(Reply::err(errors::unknown_subcommand(name, &container)));
        };
        if !arity_ok(sub.arity, argv.len()) {
            return Action::Reply(Reply::err(errors::wrong_arity(sub.name)));
        }
    }
    let args = &argv[1..];
    let reply = match spec.name {
        "ping" => match args {
            [] => Reply::Status("PONG".to_owned()),
            [message] => Reply::bulk(message),
            _ => Reply::err(errors::wrong_arity("ping")),
        },
        "echo" => Reply::bulk(&args[0]),
        "hello" => {
            let reply = client::hello(args, client, password);
            info.client_changed(client);
            reply
        }
        "auth" => client::auth(args, client, password),
        "client" => {
            let reply = client::client_command(args, client, info);
            info.client_changed(client);
            reply
        }
        "select" => select(&args[0]),
        "function" => function(args),
        "command" => introspect::command(args),
        "config" => info::config(args, info),
        "info" => {
            return Action::Info {
                text: info::info_text(args, info),
                streams: info::info_wants(args, "streams"),
            }
        }
        "quit" => return Action::Quit,
        "multi" => transaction::multi(client),
        "discard" => transaction::discard(client),
        "unwatch" => transaction::unwatch(client),
        "exec" => {
            return match transaction::exec(client) {
                Ok(pending) => Action::Exec(pending),
                Err(reply) => Action::Reply(reply),
            }
        }
        "watch" if client.multi.is_some() => Reply::err("ERR WATCH inside MULTI is not allowed"),
        "watch" => return Action::Watch(args.to_vec()),
        "dbsize" => return Action::DbSize,
        "wait" => match wait::parse_wait(args) {
            Ok(wait) => return Action::Wait(wait),
            Err(reply) => reply,
        },
        "waitaof" => match wait::parse_waitaof(args, info.config.fsync) {
            Ok(wait) => return Action::Wait(wait),
            Err(reply) => reply,
        },
        "role" => info::role(info),
        "sentinel" => {
            let name = &info.config.raft.cluster_name;
            crate::discovery::sentinel(
                args,
                (info.status)(),
                name,
                &mut client.sentinel_disowned_at,
            )
        }
        "cluster" => crate::discovery::cluster(args, (info.status)()),
        "readonly" => {
            client.stale_reads = true;
            Reply::ok()
        }
        "readwrite" => {
            client.stale_reads = false;
            Reply::ok()
        }
        other => unreachable!("server command {other} has no handler"),
    };
    Action::Reply(reply)
}

fn arity_ok(arity: i32, argc: usize) -> bool {
    let argc = i64::try_from(argc).unwrap_or(i64::MAX);
    if arity >= 0 {
        argc == i64::from(arity)
    } else {
        argc >= -i64::from(arity)
    }
}

/// Status strings: command flags, key-spec flags, HELP lines.
fn statuses(words: &[&str]) -> Reply {
    Reply::Array(
        words
            .iter()
            .map(|w| Reply::Status((*w).to_owned()))
            .collect(),
    )
}

fn lossy(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// Redis 7's text: the name and the first arguments, cut near 128 bytes.
fn unknown_command(argv: &[Vec<u8>]) -> Reply {
    const SHOWN_BYTES_MAX: usize = 128;
    let mut shown_args = String::new();
    for arg in &argv[1..] {
        if shown_args.len() >= SHOWN_BYTES_MAX {
            break;
        }
        let room = SHOWN_BYTES_MAX - shown_args.len();
        shown_args.push_str(&format!("'{}' ", lossy(&arg[..arg.len().min(room)])));
    }
    let name = &argv[0][..argv[0].len().min(SHOWN_BYTES_MAX)];
    Reply::err(format!(
        "ERR unknown command '{}', with args beginning with: {}",
        lossy(name),
        shown_args
    ))
}

fn wrong_sub_arity(command: &str, sub: &str) -> Reply {
    Reply::err(format!(
        "ERR wrong number of arguments for '{command}|{sub}' command"
    ))
}

/// `FUNCTION FLUSH [ASYNC|SYNC]` and `FUNCTION LIST`: Rill runs no functions, so there is
/// none to flush or list. Redis's test harness flushes them before every test file.
fn function(args: &[Vec<u8>]) -> Reply {
    let sub = lossy(&args[0]).to_ascii_uppercase();
    match (sub.as_str(), &args[1..]) {
        ("FLUSH", []) => Reply::ok(),
        ("FLUSH", [mode])
            if mode.eq_ignore_ascii_case(b"ASYNC") || mode.eq_ignore_ascii_case(b"SYNC") =>
        {
            Reply::ok()
        }
        ("FLUSH", [_]) => Reply::err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option"),
        ("FLUSH", _) => Reply::err(
            "ERR unknown subcommand or wrong number of arguments for 'FLUSH'. Try FUNCTION HELP.",
        ),
        ("LIST", _) => Reply::Array(Vec::new()),
        _ => Reply::err(errors::unknown_subcommand(&args[0], "FUNCTION")),
    }
}

fn select(index: &[u8]) -> Reply {
    match parse_i64(index) {
        None => Reply::err(errors::NOT_INTEGER),
        Some(0) => Reply::ok(),
        Some(_) => Reply::err("ERR DB index is out of range"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;
    use crate::blocking::Waiters;
    use crate::config::ServerConfig;
    use crate::resp::{encode, split_args};
    use expect_test::{expect, Expect};
    use info::info_text;
    use introspect::find_command;

    fn info() -> ServerInfo {
        ServerInfo {
            addr: "127.0.0.1:6379".parse().expect("address"),
            config: ServerConfig::new("/data/rill"),
            started: Instant::now(),
            connected_clients: AtomicUsize::new(1),
            clients: std::sync::Mutex::default(),
            waiters: Arc::new(Waiters::new(4)),
            status: Box::new(|| None),
        }
    }

    /// Runs inline command lines on one client; shows each reply as RESP with `⏎` for `\r\n`.
    pub(super) fn check(script: &str, expect: Expect) {
        let info = info();
        let mut client = ClientState::new(7);
        let mut out = String::new();
        for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let argv = split_args(line.as_bytes()).expect("balanced quotes");
            let shown = match dispatch(&argv, &mut client, &info) {
                Action::Reply(reply) => {
                    let mut bytes = Vec::new();
                    encode(&reply, client.protocol, &mut bytes);
                    String::from_utf8_lossy(&bytes).replace("\r\n", "⏎")
                }
                Action::Quit => "<quit>".to_owned(),
                Action::DbSize => "<dbsize>".to_owned(),
                Action::Info { streams, .. } => format!("<info streams={streams}>"),
                Action::Engine(cmd) => format!("<engine {cmd:?}>"),
                Action::Watch(keys) => format!("<watch {}>", keys.len()),
                Action::Exec(pending) => format!("<exec {pending:?}>"),
                Action::Wait(wait) => format!("<wait {wait:?}>"),
            };
            out.push_str(&format!("{line}\n  {shown}\n"));
        }
        expect.assert_eq(&out);
    }

    #[test]
    fn ping_echo_select_quit() {
        check(
            r#"
            PING
            ping "hello world"
            PING a b
            ECHO x
            ECHO
            SELECT 0
            SELECT 1
            SELECT x
            SELECT 0 1
            QUIT
            DBSIZE
            DBSIZE x
            "#,
            expect![[r#"
                PING
                  +PONG⏎
                ping "hello world"
                  $11⏎hello world⏎
                PING a b
                  -ERR wrong number of arguments for 'ping' command⏎
                ECHO x
                  $1⏎x⏎
                ECHO
                  -ERR wrong number of arguments for 'echo' command⏎
                SELECT 0
                  +OK⏎
                SELECT 1
                  -ERR DB index is out of range⏎
                SELECT x
                  -ERR value is not an integer or out of range⏎
                SELECT 0 1
                  -ERR wrong number of arguments for 'select' command⏎
                QUIT
                  <quit>
                DBSIZE
                  <dbsize>
                DBSIZE x
                  -ERR wrong number of arguments for 'dbsize' command⏎
            "#]],
        );
    }

    #[test]
    fn unknown_commands() {
        check(
            "FOO a b c d e\nfoo\nGET k",
            expect![[r#"
                FOO a b c d e
                  -ERR unknown command 'FOO', with args beginning with: 'a' 'b' 'c' 'd' 'e' ⏎
                foo
                  -ERR unknown command 'foo', with args beginning with: ⏎
                GET k
                  -ERR unknown command 'GET', with args beginning with: 'k' ⏎
            "#]],
        );
        let long = vec![
            b"nope".to_vec(),
            vec![b'a'; 100],
            vec![b'b'; 100],
            vec![b'c'; 10],
        ];
        let Reply::Error(text) = unknown_command(&long) else {
            panic!("an error")
        };
        assert_eq!(
            text,
            format!(
                "ERR unknown command 'nope', with args beginning with: '{}' '{}' ",
                "a".repeat(100),
                "b".repeat(25)
            )
        );
    }

    #[test]
    fn hello() {
        check(
            r#"
            HELLO
            HELLO 3 SETNAME app
            CLIENT GETNAME
            PING
            HELLO 4
            HELLO x
            HELLO 2 FOO
            HELLO 3 AUTH user
            HELLO 2 SETNAME "a b"
            HELLO 2 AUTH default secret
            "#,
            expect![[r#"
                HELLO
                  *14⏎$6⏎server⏎$4⏎rill⏎$7⏎version⏎$5⏎8.8.0⏎$5⏎proto⏎:2⏎$2⏎id⏎:7⏎$4⏎mode⏎$10⏎standalone⏎$4⏎role⏎$6⏎master⏎$7⏎modules⏎*0⏎
                HELLO 3 SETNAME app
                  %7⏎$6⏎server⏎$4⏎rill⏎$7⏎version⏎$5⏎8.8.0⏎$5⏎proto⏎:3⏎$2⏎id⏎:7⏎$4⏎mode⏎$10⏎standalone⏎$4⏎role⏎$6⏎master⏎$7⏎modules⏎*0⏎
                CLIENT GETNAME
                  $3⏎app⏎
                PING
                  +PONG⏎
                HELLO 4
                  -NOPROTO unsupported protocol version⏎
                HELLO x
                  -ERR Protocol version is not an integer or out of range⏎
                HELLO 2 FOO
                  -ERR Syntax error in HELLO option 'FOO'⏎
                HELLO 3 AUTH user
                  -ERR Syntax error in HELLO option 'AUTH'⏎
                HELLO 2 SETNAME "a b"
                  -ERR Client names cannot contain spaces, newlines or special characters.⏎
                HELLO 2 AUTH default secret
                  *14⏎$6⏎server⏎$4⏎rill⏎$7⏎version⏎$5⏎8.8.0⏎$5⏎proto⏎:2⏎$2⏎id⏎:7⏎$4⏎mode⏎$10⏎standalone⏎$4⏎role⏎$6⏎master⏎$7⏎modules⏎*0⏎
            "#]],
        );
    }

    #[test]
    fn client() {
        check(
            r#"
            CLIENT GETNAME
            CLIENT SETNAME worker-1
            CLIENT GETNAME
            CLIENT SETNAME ""
            CLIENT GETNAME
            CLIENT SETNAME "a b"
            CLIENT SETNAME
            CLIENT ID
            CLIENT ID x
            CLIENT SETINFO LIB-NAME redis-py
            CLIENT SETINFO lib-ver 5.0.1
            CLIENT SETINFO color blue
            CLIENT SETINFO lib-name "a b"
            CLIENT KILL x
            CLIENT
            CLIENT FOO
            CLIENT KILL ID 99
            CLIENT KILL ID x
            CLIENT KILL ID 1 SKIPME maybe
            CLIENT KILL ID
            CLIENT UNBLOCK 7
            CLIENT UNBLOCK x
            CLIENT UNBLOCK 7 NOW
            CLIENT NO-EVICT on
            CLIENT NO-TOUCH maybe
            CLIENT GETREDIR
            CLIENT TRACKINGINFO
            CLIENT LIST TYPE master
            CLIENT LIST TYPE bad
            CLIENT LIST ID x
            CLIENT INFO x
            WAIT x 0
            WAIT 1 -1
            WAIT 1 x
            WAIT 0 0
            WAIT 2 100
            WAITAOF 2 0 0
            WAITAOF 1 -1 0
            WAITAOF 1 0 x
            WAITAOF 1 0 0
            "#,
            expect![[r#"
                CLIENT GETNAME
                  $-1⏎
                CLIENT SETNAME worker-1
                  +OK⏎
                CLIENT GETNAME
                  $8⏎worker-1⏎
                CLIENT SETNAME ""
                  +OK⏎
                CLIENT GETNAME
                  $-1⏎
                CLIENT SETNAME "a b"
                  -ERR Client names cannot contain spaces, newlines or special characters.⏎
                CLIENT SETNAME
                  -ERR wrong number of arguments for 'client|setname' command⏎
                CLIENT ID
                  :7⏎
                CLIENT ID x
                  -ERR wrong number of arguments for 'client|id' command⏎
                CLIENT SETINFO LIB-NAME redis-py
                  +OK⏎
                CLIENT SETINFO lib-ver 5.0.1
                  +OK⏎
                CLIENT SETINFO color blue
                  -ERR Unrecognized option 'color'⏎
                CLIENT SETINFO lib-name "a b"
                  -ERR lib-name cannot contain spaces, newlines or special characters.⏎
                CLIENT KILL x
                  -ERR No such client⏎
                CLIENT
                  -ERR wrong number of arguments for 'client' command⏎
                CLIENT FOO
                  -ERR unknown subcommand 'FOO'. Try CLIENT HELP.⏎
                CLIENT KILL ID 99
                  :0⏎
                CLIENT KILL ID x
                  -ERR client-id should be greater than 0⏎
                CLIENT KILL ID 1 SKIPME maybe
                  -ERR syntax error⏎
                CLIENT KILL ID
                  -ERR No such client⏎
                CLIENT UNBLOCK 7
                  :0⏎
                CLIENT UNBLOCK x
                  -ERR value is not an integer or out of range⏎
                CLIENT UNBLOCK 7 NOW
                  -ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR⏎
                CLIENT NO-EVICT on
                  +OK⏎
                CLIENT NO-TOUCH maybe
                  -ERR syntax error⏎
                CLIENT GETREDIR
                  :-1⏎
                CLIENT TRACKINGINFO
                  *6⏎$5⏎flags⏎*1⏎+off⏎$8⏎redirect⏎:-1⏎$8⏎prefixes⏎*0⏎
                CLIENT LIST TYPE master
                  $0⏎⏎
                CLIENT LIST TYPE bad
                  -ERR Unknown client type 'bad'⏎
                CLIENT LIST ID x
                  -ERR Invalid client ID⏎
                CLIENT INFO x
                  -ERR wrong number of arguments for 'client|info' command⏎
                WAIT x 0
                  -ERR value is not an integer or out of range⏎
                WAIT 1 -1
                  -ERR timeout is negative⏎
                WAIT 1 x
                  -ERR timeout is not an integer or out of range⏎
                WAIT 0 0
                  <wait WaitFor { local: None, replicas: 0, timeout: None }>
                WAIT 2 100
                  <wait WaitFor { local: None, replicas: 2, timeout: Some(100ms) }>
                WAITAOF 2 0 0
                  -ERR value is out of range, value must between 0 and 1⏎
                WAITAOF 1 -1 0
                  -ERR value is out of range, must be positive⏎
                WAITAOF 1 0 x
                  -ERR timeout is not an integer or out of range⏎
                WAITAOF 1 0 0
                  <wait WaitFor { local: Some(1), replicas: 0, timeout: None }>
            "#]],
        );
    }

    #[test]
    fn command_and_config() {
        check(
            r#"
            COMMAND INFO xadd nosuch
            COMMAND DOCS nosuch
            COMMAND COUNT x
            COMMAND FOO
            CONFIG GET save
            CONFIG GET APPEND*
            CONFIG GET nosuch
            CONFIG GET
            CONFIG SET save x
            CONFIG FOO
            "#,
            expect![[r#"
                COMMAND INFO xadd nosuch
                  *2⏎*10⏎$4⏎xadd⏎:-5⏎*3⏎+write⏎+denyoom⏎+fast⏎:1⏎:1⏎:1⏎*3⏎+@write⏎+@stream⏎+@fast⏎*1⏎$23⏎nondeterministic_output⏎*1⏎*8⏎$5⏎notes⏎$65⏎UPDATE instead of INSERT because of the optional trimming feature⏎$5⏎flags⏎*2⏎+RW⏎+update⏎$12⏎begin_search⏎*4⏎$4⏎type⏎$5⏎index⏎$4⏎spec⏎*2⏎$5⏎index⏎:1⏎$9⏎find_keys⏎*4⏎$4⏎type⏎$5⏎range⏎$4⏎spec⏎*6⏎$7⏎lastkey⏎:0⏎$7⏎keystep⏎:1⏎$5⏎limit⏎:0⏎*0⏎$-1⏎
                COMMAND DOCS nosuch
                  *0⏎
                COMMAND COUNT x
                  -ERR wrong number of arguments for 'command|count' command⏎
                COMMAND FOO
                  -ERR unknown subcommand 'FOO'. Try COMMAND HELP.⏎
                CONFIG GET save
                  *2⏎$4⏎save⏎$0⏎⏎
                CONFIG GET APPEND*
                  *4⏎$10⏎appendonly⏎$3⏎yes⏎$11⏎appendfsync⏎$6⏎always⏎
                CONFIG GET nosuch
                  *0⏎
                CONFIG GET
                  -ERR wrong number of arguments for 'config|get' command⏎
                CONFIG SET save x
                  -ERR CONFIG SET is not supported⏎
                CONFIG FOO
                  -ERR unknown subcommand 'FOO'. Try CONFIG HELP.⏎
            "#]],
        );
        let mut client = ClientState::new(1);
        let Action::Reply(Reply::Int(count)) = dispatch(
            &[b"COMMAND".to_vec(), b"COUNT".to_vec()],
            &mut client,
            &info(),
        ) else {
            panic!("COMMAND COUNT is an integer")
        };
        assert_eq!(count as usize, COMMANDS.len());
    }

    /// Each line's reply is Redis 7.0.15's (the same in Redis 8), checked by hand against
    /// `redis-cli COMMAND GETKEYS ...`; `tests/python/cluster_client.py` compares more
    /// against a running Redis.
    #[test]
    fn command_getkeys_finds_keys_as_redis_does() {
        check(
            r#"
            COMMAND GETKEYS xread count 2 streams a b 0 0
            COMMAND GETKEYS xread streams a b 0
            COMMAND GETKEYS xread streams
            COMMAND GETKEYS xread count 1 a
            COMMAND GETKEYS xreadgroup group g c streams s1 s2 > >
            COMMAND GETKEYS xgroup create s g 0
            COMMAND GETKEYS xinfo stream s full
            COMMAND GETKEYS ping x
            COMMAND GETKEYS nosuch a
            COMMAND GETKEYS xadd s
            COMMAND GETKEYS xlen a b
            COMMAND GETKEYS xlen
            COMMAND GETKEYS xgroup nosuch a b
            COMMAND GETKEYS xgroup|create s g 0
            COMMAND GETKEYS xinfo help
            COMMAND GETKEYS del a b c
            COMMAND GETKEYSANDFLAGS del a b
            COMMAND GETKEYSANDFLAGS xadd s * f v
            COMMAND GETKEYS wait 1 0
            "#,
            expect![[r#"
                COMMAND GETKEYS xread count 2 streams a b 0 0
                  *2⏎$1⏎a⏎$1⏎b⏎
                COMMAND GETKEYS xread streams a b 0
                  *1⏎$1⏎a⏎
                COMMAND GETKEYS xread streams
                  -ERR Invalid number of arguments specified for command⏎
                COMMAND GETKEYS xread count 1 a
                  -ERR Invalid arguments specified for command⏎
                COMMAND GETKEYS xreadgroup group g c streams s1 s2 > >
                  *2⏎$2⏎s1⏎$2⏎s2⏎
                COMMAND GETKEYS xgroup create s g 0
                  *1⏎$1⏎s⏎
                COMMAND GETKEYS xinfo stream s full
                  *1⏎$1⏎s⏎
                COMMAND GETKEYS ping x
                  -ERR The command has no key arguments⏎
                COMMAND GETKEYS nosuch a
                  -ERR Invalid command specified⏎
                COMMAND GETKEYS xadd s
                  -ERR Invalid number of arguments specified for command⏎
                COMMAND GETKEYS xlen a b
                  -ERR Invalid number of arguments specified for command⏎
                COMMAND GETKEYS xlen
                  -ERR wrong number of arguments for 'command|getkeys' command⏎
                COMMAND GETKEYS xgroup nosuch a b
                  -ERR Invalid command specified⏎
                COMMAND GETKEYS xgroup|create s g 0
                  -ERR Invalid command specified⏎
                COMMAND GETKEYS xinfo help
                  -ERR The command has no key arguments⏎
                COMMAND GETKEYS del a b c
                  *3⏎$1⏎a⏎$1⏎b⏎$1⏎c⏎
                COMMAND GETKEYSANDFLAGS del a b
                  *2⏎*2⏎$1⏎a⏎*2⏎+RM⏎+delete⏎*2⏎$1⏎b⏎*2⏎+RM⏎+delete⏎
                COMMAND GETKEYSANDFLAGS xadd s * f v
                  *1⏎*2⏎$1⏎s⏎*2⏎+RW⏎+update⏎
                COMMAND GETKEYS wait 1 0
                  -ERR The command has no key arguments⏎
            "#]],
        );
    }

    #[test]
    fn command_info_has_key_specs_and_subcommands() {
        check(
            r#"
            COMMAND INFO xread xgroup|destroy xgroup|nosuch
            COMMAND LIST FILTERBY PATTERN XGROUP*
            COMMAND LIST FILTERBY ACLCAT transaction
            COMMAND LIST FILTERBY x y
            "#,
            expect![[r#"
                COMMAND INFO xread xgroup|destroy xgroup|nosuch
                  *3⏎*10⏎$5⏎xread⏎:-4⏎*3⏎+readonly⏎+blocking⏎+movablekeys⏎:0⏎:0⏎:0⏎*4⏎+@read⏎+@stream⏎+@slow⏎+@blocking⏎*0⏎*1⏎*6⏎$5⏎flags⏎*2⏎+RO⏎+access⏎$12⏎begin_search⏎*4⏎$4⏎type⏎$7⏎keyword⏎$4⏎spec⏎*4⏎$7⏎keyword⏎$7⏎STREAMS⏎$9⏎startfrom⏎:1⏎$9⏎find_keys⏎*4⏎$4⏎type⏎$5⏎range⏎$4⏎spec⏎*6⏎$7⏎lastkey⏎:-1⏎$7⏎keystep⏎:1⏎$5⏎limit⏎:2⏎*0⏎*10⏎$14⏎xgroup|destroy⏎:4⏎*1⏎+write⏎:2⏎:2⏎:1⏎*3⏎+@write⏎+@stream⏎+@slow⏎*0⏎*1⏎*6⏎$5⏎flags⏎*2⏎+RW⏎+delete⏎$12⏎begin_search⏎*4⏎$4⏎type⏎$5⏎index⏎$4⏎spec⏎*2⏎$5⏎index⏎:2⏎$9⏎find_keys⏎*4⏎$4⏎type⏎$5⏎range⏎$4⏎spec⏎*6⏎$7⏎lastkey⏎:0⏎$7⏎keystep⏎:1⏎$5⏎limit⏎:0⏎*0⏎$-1⏎
                COMMAND LIST FILTERBY PATTERN XGROUP*
                  *7⏎$6⏎xgroup⏎$13⏎xgroup|create⏎$12⏎xgroup|setid⏎$14⏎xgroup|destroy⏎$21⏎xgroup|createconsumer⏎$18⏎xgroup|delconsumer⏎$11⏎xgroup|help⏎
                COMMAND LIST FILTERBY ACLCAT transaction
                  *5⏎$5⏎multi⏎$4⏎exec⏎$7⏎discard⏎$5⏎watch⏎$7⏎unwatch⏎
                COMMAND LIST FILTERBY x y
                  -ERR syntax error⏎
            "#]],
        );
        let Action::Reply(Reply::Array(xgroup)) = dispatch(
            &split_args(b"COMMAND INFO xgroup").expect("args"),
            &mut ClientState::new(1),
            &info(),
        ) else {
            panic!("COMMAND INFO answers an array")
        };
        let Reply::Array(row) = &xgroup[0] else {
            panic!("one row per command")
        };
        let Reply::Array(subcommands) = &row[9] else {
            panic!("the tenth field lists the subcommands")
        };
        assert_eq!(subcommands.len(), 6, "XGROUP's six subcommands");
    }

    /// What Redis derives from the key specs (the legacy key range, `movablekeys`) agrees
    /// with the table, and every engine subcommand is in it with the engine's arity.
    /// Every command and subcommand name, alone and with a few arguments of each kind, gets
    /// an answer (no panic), on its own and inside MULTI, and no subcommand the table lists is
    /// unknown to its handler.
    #[test]
    fn every_name_with_any_arguments_is_answered() {
        let info = info();
        let tails: [Vec<&[u8]>; 5] = [
            vec![],
            vec![b"x"],
            vec![b"0", b"0"],
            vec![b"-1", b"x", b"y"],
            vec![b"\xff"; 4],
        ];
        for spec in COMMANDS
            .iter()
            .flat_map(|s| std::iter::once(s).chain(s.subcommands))
        {
            for tail in &tails {
                for in_multi in [false, true] {
                    let mut argv: Vec<Vec<u8>> = spec
                        .name
                        .split('|')
                        .map(|w| w.as_bytes().to_vec())
                        .collect();
                    argv.extend(tail.iter().map(|a| a.to_vec()));
                    let mut client = ClientState::new(1);
                    if in_multi {
                        dispatch(&[b"MULTI".to_vec()], &mut client, &info);
                    }
                    // A subcommand the table lists is one its handler serves.
                    if let Action::Reply(Reply::Error(error)) = dispatch(&argv, &mut client, &info)
                    {
                        assert!(
                            !(spec.name.contains('|')
                                && error.starts_with("ERR unknown subcommand '")),
                            "{}: {error}",
                            spec.name
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_table_is_consistent_with_its_key_specs() {
        for spec in COMMANDS
            .iter()
            .flat_map(|s| std::iter::once(s).chain(s.subcommands))
        {
            let keyword = spec
                .key_specs
                .iter()
                .any(|k| matches!(k.begin, table::Begin::Keyword(..)));
            assert_eq!(
                spec.flags.contains(&"movablekeys"),
                keyword,
                "{}: movablekeys exactly when a key spec searches for a keyword",
                spec.name
            );
            assert!(
                spec.subcommands.is_empty() || spec.key_specs.is_empty(),
                "{}: a container has no keys of its own",
                spec.name
            );
            for sub in spec.subcommands {
                assert!(sub.subcommands.is_empty(), "{}: one level only", sub.name);
                assert!(
                    sub.name.starts_with(&format!("{}|", spec.name)),
                    "{} is named after its container",
                    sub.name
                );
            }
        }
        for (name, subs) in rill_core::command::subcommand_arities() {
            let container = find_command(name.as_bytes()).expect("engine container in the table");
            assert_eq!(
                container.subcommands.len(),
                subs.len(),
                "{name} subcommands"
            );
            for (sub, arity) in subs {
                let spec = container
                    .subcommand(sub.as_bytes())
                    .unwrap_or_else(|| panic!("{name} {sub} is missing"));
                assert_eq!(spec.arity, *arity, "{name} {sub} arity");
            }
        }
    }

    #[test]
    fn info_sections() {
        let info = info();
        let text = info_text(&[], &info);
        assert!(
            text.starts_with("# Server\r\nredis_version:8.8.0\r\n"),
            "{text}"
        );
        assert!(
            text.contains("tcp_port:6379\r\n") && text.contains("connected_clients:1\r\n"),
            "{text}"
        );
        assert!(text.contains("blocked_clients:0\r\n"), "{text}");
        let clients_only = info_text(&[b"CLIENTS".to_vec()], &info);
        assert!(
            clients_only.starts_with("# Clients\r\n") && !clients_only.contains("# Server"),
            "{clients_only}"
        );
    }

    #[test]
    fn stream_commands_go_to_the_engine() {
        check(
            "XLEN s\nxlen\nXREAD BLOCK 0 STREAMS s $",
            expect![[r#"
                XLEN s
                  <engine XLen { key: [115] }>
                xlen
                  -ERR wrong number of arguments for 'xlen' command⏎
                XREAD BLOCK 0 STREAMS s $
                  <engine XRead(XRead { count: None, block_ms: Some(0), streams: [([115], Last)] })>
            "#]],
        );
    }

    #[test]
    fn table_matches_the_engine() {
        for (name, arity) in rill_core::command::command_names() {
            let spec = find_command(name.as_bytes())
                .unwrap_or_else(|| panic!("{name} is missing from COMMANDS"));
            assert!(!spec.handled_here, "{name} belongs to the engine");
            assert_eq!(spec.arity, arity, "{name} arity");
        }
        for spec in COMMANDS.iter().filter(|s| !s.handled_here) {
            assert!(
                rill_core::command::command_names().any(|(n, _)| n.eq_ignore_ascii_case(spec.name)),
                "{} is not an engine command",
                spec.name
            );
        }
    }

    /// A transaction's queue is bounded in bytes (`batch_bytes_max`): the command that would
    /// pass the bound is refused and EXEC aborts. A transaction that was not aborted hands the
    /// connection its engine commands as one `Command::Exec`, with each reply's source in order.
    #[test]
    fn the_queue_is_bounded_and_exec_keeps_the_order() {
        let mut info = info();
        info.config.proposer.batch_bytes_max = 1000;
        let mut client = ClientState::new(7);
        let mut run = |line: &str| {
            let argv = split_args(line.as_bytes()).expect("balanced quotes");
            match dispatch(&argv, &mut client, &info) {
                Action::Reply(reply) => format!("{reply:?}"),
                Action::Exec(pending) => format!("{pending:?}"),
                other => format!("{other:?}"),
            }
        };
        let big = format!("XADD s * f {}", "x".repeat(600));
        assert_eq!(run("MULTI"), r#"Status("OK")"#);
        assert_eq!(run(&big), r#"Status("QUEUED")"#);
        assert_eq!(
            run(&big),
            r#"Error("ERR the transaction would exceed 1000 bytes (batch_bytes_max)")"#
        );
        assert_eq!(
            run("EXEC"),
            r#"Error("EXECABORT Transaction discarded because of previous errors.")"#
        );
        assert_eq!(run("EXEC"), r#"Error("ERR EXEC without MULTI")"#);
        for line in ["MULTI", "PING", "XLEN s", "XADD s bad f v", "ECHO x"] {
            run(line);
        }
        expect![[r#"PendingExec { command: Some(Exec(Transaction { watched: [], commands: [XLen { key: [115] }] })), answers: [Server([[80, 73, 78, 71]]), Engine, Error(Error("ERR Invalid stream ID specified as stream command argument")), Server([[69, 67, 72, 79], [120]])] }"#]].assert_eq(&run("EXEC"));
    }
}
