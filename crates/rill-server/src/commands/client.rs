//! The connection's own commands: HELLO, AUTH, CLIENT, and the registry `CLIENT LIST` shows.

use std::net::SocketAddr;
use std::time::Instant;

use rill_core::id::parse_i64;
use rill_core::reply::errors;
use rill_core::Reply;

use super::{lossy, wrong_sub_arity, ClientState, ServerInfo, REDIS_COMPAT_VERSION};
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
    pub(super) fn client_changed(&self, client: &ClientState) {
        if let Some(entry) = self.client_list().get_mut(&client.id) {
            entry.name.clone_from(&client.name);
            entry.lib_name.clone_from(&client.lib_name);
            entry.lib_ver.clone_from(&client.lib_ver);
            entry.resp = client.protocol.version();
        }
    }

    /// `CLIENT LIST` in Redis's line format (fields Rill does not track are zero).
    pub(super) fn client_list_text(&self) -> String {
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

pub(super) fn client_command(args: &[Vec<u8>], client: &mut ClientState) -> Reply {
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
