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

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rill_core::id::parse_i64;
use rill_core::reply::errors;
use rill_core::{Command, Reply};

use crate::blocking::Waiters;
use crate::config::ServerConfig;
use crate::discovery::split;
use crate::resp::Protocol;

/// The Redis version whose stream semantics Rill follows; clients read it from HELLO and INFO
/// to decide which commands they may send.
pub const REDIS_COMPAT_VERSION: &str = "7.0.0";

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
        }
    }
}

/// What the server reports about itself (INFO, CONFIG GET, HELLO).
pub struct ServerInfo {
    pub addr: SocketAddr,
    pub config: ServerConfig,
    pub started: Instant,
    pub connected_clients: AtomicUsize,
    /// What `CLIENT LIST` shows, by client id: kept up to date by connections and by the
    /// commands that name a client.
    pub clients: std::sync::Mutex<std::collections::BTreeMap<u64, ClientEntry>>,
    pub waiters: Arc<Waiters>,
    /// This node's view of the cluster (`None` in tests without a node).
    pub status: Box<dyn Fn() -> Option<rill_raft::Status> + Send + Sync>,
}

/// One connected client, as `CLIENT LIST` shows it.
#[derive(Clone, Debug)]
pub struct ClientEntry {
    pub addr: SocketAddr,
    pub connected: Instant,
    pub name: Option<Vec<u8>>,
    pub lib_name: Option<Vec<u8>>,
    pub lib_ver: Option<Vec<u8>>,
    pub resp: i64,
}

impl ServerInfo {
    fn client_list(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<u64, ClientEntry>> {
        self.clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records a new connection.
    pub fn client_connected(&self, id: u64, addr: SocketAddr) {
        let entry = ClientEntry {
            addr,
            connected: Instant::now(),
            name: None,
            lib_name: None,
            lib_ver: None,
            resp: 2,
        };
        self.client_list().insert(id, entry);
    }

    pub fn client_gone(&self, id: u64) {
        self.client_list().remove(&id);
    }

    /// Copies what `client` says about itself into its `CLIENT LIST` entry.
    fn client_changed(&self, client: &ClientState) {
        if let Some(entry) = self.client_list().get_mut(&client.id) {
            entry.name.clone_from(&client.name);
            entry.lib_name.clone_from(&client.lib_name);
            entry.lib_ver.clone_from(&client.lib_ver);
            entry.resp = client.protocol.version();
        }
    }

    /// `CLIENT LIST` in Redis's line format (fields Rill does not track are zero).
    fn client_list_text(&self) -> String {
        let show = |value: &Option<Vec<u8>>| {
            value
                .as_deref()
                .map_or(String::new(), |v| lossy(v).into_owned())
        };
        let mut text = String::new();
        for (id, entry) in self.client_list().iter() {
            text.push_str(&format!(
                "id={id} addr={} laddr={} fd=0 name={} age={} idle=0 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=client|list user=default redir=-1 resp={} lib-name={} lib-ver={}\n",
                entry.addr,
                self.addr,
                show(&entry.name),
                entry.connected.elapsed().as_secs(),
                entry.resp,
                show(&entry.lib_name),
                show(&entry.lib_ver),
            ));
        }
        text
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
    let args = &argv[1..];
    let reply = match spec.name {
        "ping" => match args {
            [] => Reply::Status("PONG".to_owned()),
            [message] => Reply::bulk(message),
            _ => Reply::err(errors::wrong_arity("ping")),
        },
        "echo" => Reply::bulk(&args[0]),
        "hello" => {
            let reply = hello(args, client, password);
            info.client_changed(client);
            reply
        }
        "auth" => auth(args, client, password),
        "client" => {
            if args[0].eq_ignore_ascii_case(b"LIST") {
                return Action::Reply(Reply::Bulk(info.client_list_text().into_bytes()));
            }
            let reply = client_command(args, client);
            info.client_changed(client);
            reply
        }
        "select" => select(&args[0]),
        "command" => command(args),
        "config" => config(args, info),
        "info" => {
            return Action::Info {
                text: info_text(args, info),
                streams: info_wants(args, "streams"),
            }
        }
        "quit" => return Action::Quit,
        "dbsize" => return Action::DbSize,
        "role" => role(info),
        "sentinel" => {
            crate::discovery::sentinel(args, (info.status)(), &info.config.raft.cluster_name)
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

/// Redis's `validateClientName`: printable ASCII without spaces.
fn valid_client_name(name: &[u8]) -> bool {
    name.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

const BAD_CLIENT_NAME: &str =
    "ERR Client names cannot contain spaces, newlines or special characters.";

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`. There is no
/// authentication, so any credentials are accepted (like Redis's default `nopass` user).
fn hello(args: &[Vec<u8>], client: &mut ClientState, password: Option<&str>) -> Reply {
    let mut protocol = client.protocol;
    if let Some(version) = args.first() {
        protocol = match parse_i64(version) {
            None => return Reply::err("ERR Protocol version is not an integer or out of range"),
            Some(2) => Protocol::Resp2,
            Some(3) => Protocol::Resp3,
            Some(_) => return Reply::err("NOPROTO unsupported protocol version"),
        };
    }
    let mut setname = None;
    let mut i = 1;
    let authenticated_before = client.authenticated;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let option = &args[i];
        if option.eq_ignore_ascii_case(b"AUTH") && more >= 2 {
            if let Some(password) = password {
                if !credentials_match(&args[i + 1], &args[i + 2], password) {
                    return Reply::err(WRONGPASS);
                }
                client.authenticated = true;
            }
            i += 3;
        } else if option.eq_ignore_ascii_case(b"SETNAME") && more >= 1 {
            if !valid_client_name(&args[i + 1]) {
                return Reply::err(BAD_CLIENT_NAME);
            }
            setname = Some(args[i + 1].clone());
            i += 2;
        } else {
            return Reply::err(format!(
                "ERR Syntax error in HELLO option '{}'",
                lossy(option)
            ));
        }
    }
    if password.is_some() && !client.authenticated {
        client.authenticated = authenticated_before;
        return Reply::err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    if let Some(name) = setname {
        client.name = (!name.is_empty()).then_some(name);
    }
    client.protocol = protocol;
    Reply::Map(vec![
        (Reply::text("server"), Reply::text("rill")),
        (Reply::text("version"), Reply::text(REDIS_COMPAT_VERSION)),
        (Reply::text("proto"), Reply::Int(protocol.version())),
        (
            Reply::text("id"),
            Reply::Int(i64::try_from(client.id).unwrap_or(i64::MAX)),
        ),
        (Reply::text("mode"), Reply::text("standalone")),
        (Reply::text("role"), Reply::text("master")),
        (Reply::text("modules"), Reply::Array(Vec::new())),
    ])
}

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// Only the default user exists: a username other than `default` never matches.
fn credentials_match(user: &[u8], given: &[u8], password: &str) -> bool {
    user == b"default" && crate::auth::constant_time_eq(given, password.as_bytes())
}

/// `AUTH [username] password`, against `requirepass` (the `default` user).
fn auth(args: &[Vec<u8>], client: &mut ClientState, password: Option<&str>) -> Reply {
    let (user, given) = match args {
        [given] => (&b"default"[..], given),
        [user, given] => (user.as_slice(), given),
        _ => return Reply::err(errors::SYNTAX),
    };
    let Some(password) = password else {
        return Reply::err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
    };
    if credentials_match(user, given, password) {
        client.authenticated = true;
        Reply::ok()
    } else {
        Reply::err(WRONGPASS)
    }
}

fn client_command(args: &[Vec<u8>], client: &mut ClientState) -> Reply {
    let sub = &args[0];
    let upper = lossy(sub).to_ascii_uppercase();
    match upper.as_str() {
        "SETNAME" if args.len() != 2 => wrong_sub_arity("client", "setname"),
        "SETNAME" => {
            if !valid_client_name(&args[1]) {
                return Reply::err(BAD_CLIENT_NAME);
            }
            client.name = (!args[1].is_empty()).then(|| args[1].clone());
            Reply::ok()
        }
        "GETNAME" if args.len() != 1 => wrong_sub_arity("client", "getname"),
        "GETNAME" => client.name.as_ref().map_or(Reply::Nil, Reply::bulk),
        "ID" if args.len() != 1 => wrong_sub_arity("client", "id"),
        "ID" => Reply::Int(i64::try_from(client.id).unwrap_or(i64::MAX)),
        // Redis 7.2: clients report their library; redis-py and redis-rs send it on connect.
        "SETINFO" if args.len() != 3 => wrong_sub_arity("client", "setinfo"),
        "SETINFO" => {
            let attribute = lossy(&args[1]).to_ascii_lowercase();
            let slot = match attribute.as_str() {
                "lib-name" => &mut client.lib_name,
                "lib-ver" => &mut client.lib_ver,
                _ => return Reply::err(format!("ERR Unrecognized option '{}'", lossy(&args[1]))),
            };
            if !valid_client_name(&args[2]) {
                return Reply::err(format!(
                    "ERR {attribute} cannot contain spaces, newlines or special characters."
                ));
            }
            *slot = (!args[2].is_empty()).then(|| args[2].clone());
            Reply::ok()
        }
        _ => Reply::err(errors::unknown_subcommand(sub, "CLIENT")),
    }
}

fn select(index: &[u8]) -> Reply {
    match parse_i64(index) {
        None => Reply::err(errors::NOT_INTEGER),
        Some(0) => Reply::ok(),
        Some(_) => Reply::err("ERR DB index is out of range"),
    }
}

/// `COMMAND`, `COMMAND COUNT|INFO|DOCS|LIST`. DOCS answers an empty map: enough for
/// `redis-cli`, which then falls back to its built-in hints.
fn command(args: &[Vec<u8>]) -> Reply {
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

fn find_command(name: &[u8]) -> Option<&'static CommandSpec> {
    COMMANDS
        .iter()
        .find(|spec| name.eq_ignore_ascii_case(spec.name.as_bytes()))
}

/// `CONFIG GET pattern [pattern ...]` over the few parameters clients ask about
/// (redis-benchmark reads `save` and `appendonly`). Patterns are globs, case-insensitive.
fn config(args: &[Vec<u8>], info: &ServerInfo) -> Reply {
    let upper = lossy(&args[0]).to_ascii_uppercase();
    match upper.as_str() {
        "GET" if args.len() < 2 => wrong_sub_arity("config", "get"),
        "GET" => {
            let params = config_params(info);
            let patterns: Vec<Vec<u8>> = args[1..].iter().map(|p| p.to_ascii_lowercase()).collect();
            let pairs = params
                .into_iter()
                .filter(|(name, _)| {
                    patterns
                        .iter()
                        .any(|p| rill_core::glob::matches(p, name.as_bytes()))
                })
                .map(|(name, value)| (Reply::text(name), Reply::Bulk(value.into_bytes())))
                .collect();
            Reply::Map(pairs)
        }
        "SET" | "RESETSTAT" | "REWRITE" => {
            Reply::err(format!("ERR CONFIG {upper} is not supported"))
        }
        _ => Reply::err(errors::unknown_subcommand(&args[0], "CONFIG")),
    }
}

fn config_params(info: &ServerInfo) -> Vec<(&'static str, String)> {
    let config = &info.config;
    vec![
        // Every write is in RocksDB's log before its reply; there are no RDB snapshots.
        ("save", String::new()),
        ("appendonly", "yes".to_owned()),
        (
            "appendfsync",
            if config.fsync { "always" } else { "no" }.to_owned(),
        ),
        ("bind", info.addr.ip().to_string()),
        ("port", info.addr.port().to_string()),
        ("dir", config.dir.display().to_string()),
        ("databases", "1".to_owned()),
        ("maxclients", config.limits.connections_max.to_string()),
        (
            "proto-max-bulk-len",
            config.limits.bulk_bytes_max.to_string(),
        ),
        (
            "client-query-buffer-limit",
            config.limits.query_buffer_bytes_max.to_string(),
        ),
    ]
}

/// `INFO [section ...]`: the `server`, `clients` and `persistence` sections.
/// Whether `INFO args` asks for `section` (no arguments, `all`, `default` and `everything`
/// ask for every section).
fn info_wants(args: &[Vec<u8>], section: &str) -> bool {
    args.is_empty()
        || args.iter().any(|a| {
            let a = lossy(a).to_ascii_lowercase();
            a == section || a == "all" || a == "default" || a == "everything"
        })
}

fn info_text(args: &[Vec<u8>], info: &ServerInfo) -> String {
    let wanted = |section: &str| info_wants(args, section);
    let mut text = String::new();
    if wanted("server") {
        let uptime_s = info.started.elapsed().as_secs();
        text.push_str("# Server\r\n");
        text.push_str(&format!("redis_version:{REDIS_COMPAT_VERSION}\r\n"));
        text.push_str(&format!("rill_version:{}\r\n", env!("CARGO_PKG_VERSION")));
        text.push_str("redis_mode:standalone\r\n");
        text.push_str(&format!(
            "os:{} {}\r\n",
            std::env::consts::OS,
            std::env::consts::ARCH
        ));
        text.push_str(&format!("arch_bits:{}\r\n", usize::BITS));
        text.push_str(&format!("process_id:{}\r\n", std::process::id()));
        text.push_str(&format!("tcp_port:{}\r\n", info.addr.port()));
        text.push_str(&format!("uptime_in_seconds:{uptime_s}\r\n"));
        text.push_str(&format!("uptime_in_days:{}\r\n", uptime_s / 86_400));
        text.push_str("\r\n");
    }
    if wanted("clients") {
        text.push_str("# Clients\r\n");
        text.push_str(&format!(
            "connected_clients:{}\r\n",
            info.connected_clients.load(Ordering::Relaxed)
        ));
        text.push_str(&format!(
            "maxclients:{}\r\n",
            info.config.limits.connections_max
        ));
        text.push_str(&format!("blocked_clients:{}\r\n", info.waiters.blocked()));
        text.push_str("\r\n");
    }
    let status = (info.status)();
    if wanted("persistence") {
        text.push_str("# Persistence\r\n");
        text.push_str("loading:0\r\n");
        text.push_str(&format!("rill_fsync:{}\r\n", u8::from(info.config.fsync)));
        if let Some(status) = &status {
            text.push_str(&format!("rill_applied_index:{}\r\n", status.applied_index));
            text.push_str(&format!(
                "rill_last_log_index:{}\r\n",
                status.last_log_index
            ));
            text.push_str(&format!(
                "rill_snapshot_index:{}\r\n",
                status.snapshot_index
            ));
            // Counters since the node started: commands per log entry and fsyncs per second
            // come from two readings (`scripts/bench-cluster.sh`).
            text.push_str(&format!(
                "rill_applied_commands:{}\r\n",
                status.applied_commands
            ));
            text.push_str(&format!("rill_synced_writes:{}\r\n", status.synced_writes));
        }
        text.push_str("\r\n");
    }
    if wanted("replication") {
        text.push_str("# Replication\r\n");
        if let Some(status) = &status {
            replication_text(status, &mut text);
        }
        text.push_str("\r\n");
    }
    text
}

/// `INFO replication` in Redis's shape: the leader is the master, the other members replicas.
fn replication_text(status: &rill_raft::Status, text: &mut String) {
    let leader = status.leader.as_ref();
    let is_leader = status.role == rill_raft::Role::Leader;
    text.push_str(if is_leader {
        "role:master\r\n"
    } else {
        "role:slave\r\n"
    });
    if is_leader {
        let replicas: Vec<_> = status
            .members
            .iter()
            .filter(|(id, ..)| *id != status.id)
            .collect();
        text.push_str(&format!("connected_slaves:{}\r\n", replicas.len()));
        for (n, (id, peer, _)) in replicas.into_iter().enumerate() {
            let (ip, port) = split(&peer.client_addr);
            let lag = status.replication_lag.get(id).copied().unwrap_or(0);
            let offset = status.matched_index(*id);
            let state = if status.replication_lag.contains_key(id) {
                "online"
            } else {
                "wait_bgsave"
            };
            text.push_str(&format!(
                "slave{n}:ip={ip},port={port},state={state},offset={offset},lag={lag}\r\n"
            ));
        }
    } else {
        let (host, port) = leader.map_or(("", 0), |(_, peer)| split(&peer.client_addr));
        text.push_str(&format!("master_host:{host}\r\n"));
        text.push_str(&format!("master_port:{port}\r\n"));
        let link = if leader.is_some() { "up" } else { "down" };
        text.push_str(&format!("master_link_status:{link}\r\n"));
        text.push_str(&format!("slave_repl_offset:{}\r\n", status.applied_index));
        text.push_str("slave_read_only:1\r\n");
    }
    text.push_str(&format!("master_repl_offset:{}\r\n", status.applied_index));
    text.push_str(&format!("rill_node_id:{}\r\n", status.id));
    text.push_str(&format!("rill_role:{}\r\n", status.role.as_str()));
    text.push_str(&format!("rill_term:{}\r\n", status.term));
    let leader_id = leader.map_or(String::new(), |(id, _)| id.to_string());
    text.push_str(&format!("rill_leader_id:{leader_id}\r\n"));
}

/// `ROLE`: Redis's reply shape for a master (`master`, offset, replicas) or a replica
/// (`slave`, master host, master port, link state, offset).
fn role(info: &ServerInfo) -> Reply {
    let Some(status) = (info.status)() else {
        return Reply::Array(vec![
            Reply::bulk("master"),
            Reply::Int(0),
            Reply::Array(Vec::new()),
        ]);
    };
    let offset = i64::try_from(status.applied_index).unwrap_or(i64::MAX);
    if status.role == rill_raft::Role::Leader {
        let replicas = status
            .members
            .iter()
            .filter(|(id, ..)| *id != status.id)
            .map(|(id, peer, _)| {
                let (ip, port) = split(&peer.client_addr);
                Reply::Array(vec![
                    Reply::bulk(ip),
                    Reply::bulk(port.to_string()),
                    Reply::bulk(status.matched_index(*id).to_string()),
                ])
            })
            .collect();
        return Reply::Array(vec![
            Reply::bulk("master"),
            Reply::Int(offset),
            Reply::Array(replicas),
        ]);
    }
    let (host, port, state) = match &status.leader {
        Some((_, peer)) => {
            let (host, port) = split(&peer.client_addr);
            (host.to_owned(), port, "connected")
        }
        None => (String::new(), 0, "connect"),
    };
    Reply::Array(vec![
        Reply::bulk("slave"),
        Reply::bulk(host),
        Reply::Int(port),
        Reply::bulk(state),
        Reply::Int(offset),
    ])
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::{encode, split_args};
    use expect_test::{expect, Expect};

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
    fn check(script: &str, expect: Expect) {
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
                  *14⏎$6⏎server⏎$4⏎rill⏎$7⏎version⏎$5⏎7.0.0⏎$5⏎proto⏎:2⏎$2⏎id⏎:7⏎$4⏎mode⏎$10⏎standalone⏎$4⏎role⏎$6⏎master⏎$7⏎modules⏎*0⏎
                HELLO 3 SETNAME app
                  %7⏎$6⏎server⏎$4⏎rill⏎$7⏎version⏎$5⏎7.0.0⏎$5⏎proto⏎:3⏎$2⏎id⏎:7⏎$4⏎mode⏎$10⏎standalone⏎$4⏎role⏎$6⏎master⏎$7⏎modules⏎*0⏎
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
                  *14⏎$6⏎server⏎$4⏎rill⏎$7⏎version⏎$5⏎7.0.0⏎$5⏎proto⏎:2⏎$2⏎id⏎:7⏎$4⏎mode⏎$10⏎standalone⏎$4⏎role⏎$6⏎master⏎$7⏎modules⏎*0⏎
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
                  -ERR unknown subcommand 'KILL'. Try CLIENT HELP.⏎
                CLIENT
                  -ERR wrong number of arguments for 'client' command⏎
            "#]],
        );
    }

    #[test]
    fn command_and_config() {
        check(
            r#"
            COMMAND INFO xadd nosuch
            COMMAND DOCS
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
                  *2⏎*10⏎$4⏎xadd⏎:-5⏎*3⏎+write⏎+denyoom⏎+fast⏎:1⏎:1⏎:1⏎*3⏎+@write⏎+@stream⏎+@fast⏎*0⏎*0⏎*0⏎$-1⏎
                COMMAND DOCS
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

    #[test]
    fn info_sections() {
        let info = info();
        let text = info_text(&[], &info);
        assert!(
            text.starts_with("# Server\r\nredis_version:7.0.0\r\n"),
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
}
