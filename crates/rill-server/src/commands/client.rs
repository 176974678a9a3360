//! The connection's own commands: HELLO, AUTH, CLIENT, and the registry `CLIENT LIST` shows
//! (with what one connection may ask of another: `CLIENT KILL`, `CLIENT UNBLOCK`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rill_core::id::parse_i64;
use rill_core::reply::errors;
use rill_core::Reply;
use tokio::sync::Notify;

use super::{lossy, statuses, wrong_sub_arity, ClientState, ServerInfo, REDIS_COMPAT_VERSION};
use crate::resp::Protocol;

/// One connected client, as `CLIENT LIST` shows it.
#[derive(Clone, Debug)]
pub struct ClientEntry {
    pub addr: SocketAddr,
    pub connected: Instant,
    pub name: Option<Vec<u8>>,
    pub lib_name: Option<Vec<u8>>,
    pub lib_ver: Option<Vec<u8>>,
    pub resp: i64,
    pub control: Arc<ClientControl>,
}

/// What other connections may ask of a connection: to close (`CLIENT KILL`), or to end the
/// blocking command it waits in (`CLIENT UNBLOCK`).
#[derive(Debug, Default)]
pub struct ClientControl {
    killed: AtomicBool,
    /// While the connection waits in a blocking command (BLOCK, WAIT).
    blocked: AtomicBool,
    /// An unblock asked for and not yet taken: `UNBLOCK_*`.
    unblock: AtomicU8,
    wake: Notify,
}

const UNBLOCK_NONE: u8 = 0;
const UNBLOCK_TIMEOUT: u8 = 1;
const UNBLOCK_ERROR: u8 = 2;

/// What ends a connection's wait from outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Kill,
    /// End the blocking command as if it timed out, or (`error`) with `-UNBLOCKED`.
    Unblock {
        error: bool,
    },
}

impl ClientControl {
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }

    /// Marks the connection as waiting in a blocking command, or no longer.
    pub fn set_blocked(&self, blocked: bool) {
        self.blocked.store(blocked, Ordering::SeqCst);
        if !blocked {
            self.unblock.store(UNBLOCK_NONE, Ordering::SeqCst);
        }
    }

    /// Whether the connection was blocked (and is now told to stop).
    fn unblock(&self, error: bool) -> bool {
        if !self.blocked.load(Ordering::SeqCst) {
            return false;
        }
        let how = if error {
            UNBLOCK_ERROR
        } else {
            UNBLOCK_TIMEOUT
        };
        self.unblock.store(how, Ordering::SeqCst);
        self.wake.notify_one();
        true
    }

    /// Completes when the connection is killed or, while blocked, unblocked.
    pub async fn signalled(&self) -> Signal {
        loop {
            if self.is_killed() {
                return Signal::Kill;
            }
            match self.unblock.swap(UNBLOCK_NONE, Ordering::SeqCst) {
                UNBLOCK_TIMEOUT => return Signal::Unblock { error: false },
                UNBLOCK_ERROR => return Signal::Unblock { error: true },
                _ => {}
            }
            self.wake.notified().await;
        }
    }
}

impl ServerInfo {
    fn client_list(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<u64, ClientEntry>> {
        self.clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records a new connection; returns what other connections may ask of it.
    pub fn client_connected(&self, id: u64, addr: SocketAddr) -> Arc<ClientControl> {
        let control = Arc::new(ClientControl::default());
        let entry = ClientEntry {
            addr,
            connected: Instant::now(),
            name: None,
            lib_name: None,
            lib_ver: None,
            resp: 2,
            control: Arc::clone(&control),
        };
        self.client_list().insert(id, entry);
        control
    }

    pub fn client_gone(&self, id: u64) {
        self.client_list().remove(&id);
    }

    /// Copies what `client` says about itself into its `CLIENT LIST` entry.
    pub(super) fn client_changed(&self, client: &ClientState) {
        if let Some(entry) = self.client_list().get_mut(&client.id) {
            entry.name.clone_from(&client.name);
            entry.lib_name.clone_from(&client.lib_name);
            entry.lib_ver.clone_from(&client.lib_ver);
            entry.resp = client.protocol.version();
        }
    }

    /// `CLIENT LIST` in Redis's line format (fields Rill does not track are zero), for the
    /// clients `keep` selects.
    fn client_lines(&self, keep: impl Fn(u64, &ClientEntry) -> bool) -> String {
        let show = |value: &Option<Vec<u8>>| {
            value
                .as_deref()
                .map_or(String::new(), |v| lossy(v).into_owned())
        };
        let mut text = String::new();
        for (id, entry) in self.client_list().iter().filter(|(id, e)| keep(**id, e)) {
            let flags = if entry.control.blocked.load(Ordering::SeqCst) {
                "b"
            } else {
                "N"
            };
            text.push_str(&format!(
                "id={id} addr={} laddr={} fd=0 name={} age={} idle=0 flags={flags} db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=client|list user=default redir=-1 resp={} lib-name={} lib-ver={}\n",
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

    /// `CLIENT LIST [TYPE normal|master|replica|pubsub] [ID id ...]`. Every Rill client is
    /// of type `normal`.
    fn client_list_command(&self, args: &[Vec<u8>]) -> Reply {
        let mut ids: Option<Vec<u64>> = None;
        let mut normal = true;
        let mut i = 0;
        while i < args.len() {
            if args[i].eq_ignore_ascii_case(b"TYPE") && i + 1 < args.len() {
                normal = match is_normal_type(&args[i + 1]) {
                    Ok(normal) => normal,
                    Err(reply) => return reply,
                };
                i += 2;
            } else if args[i].eq_ignore_ascii_case(b"ID") && i + 1 < args.len() {
                let mut list = Vec::new();
                for id in &args[i + 1..] {
                    match parse_i64(id)
                        .and_then(|id| u64::try_from(id).ok())
                        .filter(|&id| id > 0)
                    {
                        Some(id) => list.push(id),
                        None => return Reply::err("ERR Invalid client ID"),
                    }
                }
                ids = Some(list);
                i = args.len();
            } else {
                return Reply::err(errors::SYNTAX);
            }
        }
        let text =
            self.client_lines(|id, _| normal && ids.as_ref().is_none_or(|ids| ids.contains(&id)));
        Reply::Bulk(text.into_bytes())
    }

    /// `CLIENT KILL addr:port` (the old form: OK or an error) or `CLIENT KILL <filter value>
    /// ...` with filters ID, ADDR, LADDR, USER, SKIPME, MAXAGE (the number of clients killed).
    fn client_kill(&self, me: u64, args: &[Vec<u8>]) -> Reply {
        if let [addr] = args {
            let target = self
                .client_list()
                .values()
                .find(|e| e.addr.to_string().as_bytes() == addr.as_slice())
                .map(|e| Arc::clone(&e.control));
            return match target {
                Some(control) => {
                    control.kill();
                    Reply::ok()
                }
                None => Reply::err("ERR No such client"),
            };
        }
        if !args.len().is_multiple_of(2) {
            return Reply::err(errors::SYNTAX);
        }
        let mut id = None;
        let mut addr = None;
        let mut laddr = None;
        let mut user = None;
        let mut skipme = true;
        let mut max_age = None;
        for pair in args.chunks(2) {
            let value = &pair[1];
            match lossy(&pair[0]).to_ascii_uppercase().as_str() {
                "ID" => match parse_i64(value).filter(|&v| v > 0) {
                    Some(v) => id = Some(v as u64),
                    None => return Reply::err("ERR client-id should be greater than 0"),
                },
                "ADDR" => addr = Some(value.clone()),
                "LADDR" => laddr = Some(value.clone()),
                "USER" => user = Some(value.clone()),
                "SKIPME" if value.eq_ignore_ascii_case(b"yes") => skipme = true,
                "SKIPME" if value.eq_ignore_ascii_case(b"no") => skipme = false,
                "SKIPME" => return Reply::err(errors::SYNTAX),
                "MAXAGE" => match parse_i64(value) {
                    Some(v) => max_age = Some(v),
                    None => return Reply::err(errors::NOT_INTEGER),
                },
                "TYPE" => match is_normal_type(value) {
                    Ok(true) => {}
                    Ok(false) => return Reply::Int(0),
                    Err(reply) => return reply,
                },
                _ => return Reply::err(errors::SYNTAX),
            }
        }
        let local = self.addr.to_string();
        let mut killed = 0;
        for (&client_id, entry) in self.client_list().iter() {
            let matches = id.is_none_or(|id| id == client_id)
                && addr
                    .as_ref()
                    .is_none_or(|a| entry.addr.to_string().as_bytes() == a.as_slice())
                && laddr
                    .as_ref()
                    .is_none_or(|a| local.as_bytes() == a.as_slice())
                && user.as_ref().is_none_or(|u| u.as_slice() == b"default")
                && max_age.is_none_or(|age| {
                    i64::try_from(entry.connected.elapsed().as_secs()).unwrap_or(i64::MAX) > age
                })
                && !(skipme && client_id == me);
            if matches {
                entry.control.kill();
                killed += 1;
            }
        }
        Reply::Int(killed)
    }

    /// `CLIENT UNBLOCK id [TIMEOUT|ERROR]`: 1 if that client was blocked, else 0.
    fn client_unblock(&self, args: &[Vec<u8>]) -> Reply {
        let Some(id) = parse_i64(&args[0]) else {
            return Reply::err(errors::NOT_INTEGER);
        };
        let error = match args.get(1) {
            None => false,
            Some(how) if how.eq_ignore_ascii_case(b"TIMEOUT") => false,
            Some(how) if how.eq_ignore_ascii_case(b"ERROR") => true,
            Some(_) => return Reply::err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
        };
        let control = u64::try_from(id)
            .ok()
            .and_then(|id| self.client_list().get(&id).map(|e| Arc::clone(&e.control)));
        Reply::Int(i64::from(control.is_some_and(|c| c.unblock(error))))
    }
}

/// A client type as CLIENT LIST and KILL name it: whether it is `normal`, the type of every Rill
/// client (the others name none).
fn is_normal_type(kind: &[u8]) -> Result<bool, Reply> {
    match lossy(kind).to_ascii_lowercase().as_str() {
        "normal" => Ok(true),
        "master" | "replica" | "slave" | "pubsub" => Ok(false),
        _ => Err(Reply::err(format!(
            "ERR Unknown client type '{}'",
            lossy(kind)
        ))),
    }
}

/// Redis's `validateClientName`: printable ASCII without spaces.
fn valid_client_name(name: &[u8]) -> bool {
    name.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

const BAD_CLIENT_NAME: &str =
    "ERR Client names cannot contain spaces, newlines or special characters.";

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`. There is no
/// authentication, so any credentials are accepted (like Redis's default `nopass` user).
pub(super) fn hello(args: &[Vec<u8>], client: &mut ClientState, password: Option<&str>) -> Reply {
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
pub(super) fn auth(args: &[Vec<u8>], client: &mut ClientState, password: Option<&str>) -> Reply {
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

pub(super) fn client_command(
    args: &[Vec<u8>],
    client: &mut ClientState,
    info: &ServerInfo,
) -> Reply {
    let sub = &args[0];
    let upper = lossy(sub).to_ascii_uppercase();
    let on_off = |value: &[u8]| {
        if value.eq_ignore_ascii_case(b"on") || value.eq_ignore_ascii_case(b"off") {
            Reply::ok()
        } else {
            Reply::err(errors::SYNTAX)
        }
    };
    match upper.as_str() {
        "LIST" => info.client_list_command(&args[1..]),
        "INFO" => Reply::Bulk(info.client_lines(|id, _| id == client.id).into_bytes()),
        "KILL" => info.client_kill(client.id, &args[1..]),
        "UNBLOCK" if args.len() > 3 => Reply::err(errors::SYNTAX),
        "UNBLOCK" => info.client_unblock(&args[1..]),
        // Rill evicts no client and keeps no LRU clock: both modes are accepted and change
        // nothing.
        "NO-EVICT" | "NO-TOUCH" => on_off(&args[1]),
        // No client-side caching: tracking is off, so nothing is redirected.
        "GETREDIR" => Reply::Int(-1),
        "TRACKINGINFO" => Reply::Map(vec![
            (
                Reply::text("flags"),
                Reply::Array(vec![Reply::Status("off".to_owned())]),
            ),
            (Reply::text("redirect"), Reply::Int(-1)),
            (Reply::text("prefixes"), Reply::Array(Vec::new())),
        ]),
        "HELP" => client_help(),
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

fn client_help() -> Reply {
    let lines = [
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "    * ID <client-id>",
        "      Kill connections by client id.",
        "    * MAXAGE <maxage>",
        "      Kill connections older than the specified age.",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "SETINFO <option> <value>",
        "    Set client meta attr. Options are:",
        "    * LIB-NAME: the client lib name.",
        "    * LIB-VER: the client lib version.",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "NO-TOUCH (ON|OFF)",
        "    Will not touch LRU/LFU stats when this mode is on.",
        "HELP",
        "    Print this help.",
    ];
    statuses(&lines)
}
