//! Replies as values, independent of the wire protocol.
//!
//! The server encodes a [`Reply`] as RESP2 or RESP3. The few places where the two protocols
//! differ in shape are explicit variants: [`Reply::Map`] is a RESP3 map and a flat RESP2 array;
//! [`Reply::PairMap`] is a RESP3 map and a RESP2 array of pairs;
//! [`Reply::Nil`] is `$-1`/`_`; [`Reply::NilArray`] is `*-1`/`_`.
//!
//! A Redis-level error (`WRONGTYPE`, `NOGROUP`, a bad ID) is a reply, never a Rust `Err`.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// `+text`
    Status(String),
    /// `-text`; the text carries its own prefix (`ERR ...`, `NOGROUP ...`).
    Error(String),
    Int(i64),
    Bulk(#[serde(with = "crate::serde_bytes::bytes")] Vec<u8>),
    /// Null bulk string: `$-1` in RESP2, `_` in RESP3.
    Nil,
    /// Null array: `*-1` in RESP2, `_` in RESP3.
    NilArray,
    Array(Vec<Reply>),
    /// RESP3 map; a flat array of key, value, key, value, ... in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// RESP3 map; an array of two-element `[key, value]` arrays in RESP2 (the shape of XREAD
    /// and XREADGROUP replies).
    PairMap(Vec<(Reply, Reply)>),
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::Status("OK".to_owned())
    }

    pub fn err(text: impl Into<String>) -> Reply {
        Reply::Error(text.into())
    }

    pub fn bulk(bytes: impl AsRef<[u8]>) -> Reply {
        Reply::Bulk(bytes.as_ref().to_vec())
    }

    /// A bulk string from a `&str`, for map keys such as `"length"`.
    pub fn text(s: &str) -> Reply {
        Reply::Bulk(s.as_bytes().to_vec())
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}

/// Error texts shared by several commands, spelled exactly as Redis 7 spells them.
pub mod errors {
    pub const SYNTAX: &str = "ERR syntax error";
    pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
    pub const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";
    pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
    pub const XADD_ID_TOO_SMALL: &str =
        "ERR The ID specified in XADD is equal or smaller than the target stream top item";
    pub const XADD_ID_ZERO: &str = "ERR The ID specified in XADD must be greater than 0-0";
    pub const XADD_ID_EXHAUSTED: &str =
        "ERR The stream has exhausted the last possible ID, unable to add more items";
    pub const BUSYGROUP: &str = "BUSYGROUP Consumer Group name already exists";
    pub const XGROUP_NEEDS_KEY: &str = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";

    pub fn wrong_arity(command: &str) -> String {
        format!(
            "ERR wrong number of arguments for '{}' command",
            command.to_ascii_lowercase()
        )
    }

    pub fn unknown_subcommand(sub: &[u8], command: &str) -> String {
        format!(
            "ERR unknown subcommand '{}'. Try {} HELP.",
            String::from_utf8_lossy(sub),
            command.to_ascii_uppercase()
        )
    }
}
