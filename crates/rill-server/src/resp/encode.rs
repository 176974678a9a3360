//! Reply encoding: a [`Reply`] value to RESP2 or RESP3 bytes, per the connection's protocol.
//!
//! | Reply      | RESP2                         | RESP3              |
//! |------------|-------------------------------|--------------------|
//! | `Nil`      | `$-1`                         | `_`                |
//! | `NilArray` | `*-1`                         | `_`                |
//! | `Map`      | `*2n` k v k v ...             | `%n` k v k v ...   |
//! | `PairMap`  | `*n` `*2` k v, `*2` k v, ...  | `%n` k v k v ...   |
//!
//! # Why hand-written rather than `redis-protocol`'s encoder
//!
//! Its RESP2 frames have one null (`$-1`), so `*-1` (an XREAD timeout in RESP2, what
//! `redis-cli` and byte-exact tests expect) cannot be expressed; its RESP3 maps are hash maps,
//! which lose the key order Redis replies have (HELLO, XINFO, XREAD over several keys); and it
//! would need a second tree of frames built from every reply. Encoding a `Reply` directly is a
//! page of code. The tests check the bytes exactly and decode them with `redis-protocol`.

use rill_core::Reply;

/// The wire protocol of a connection, switched by `HELLO 2|3`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

impl Protocol {
    pub fn version(self) -> i64 {
        match self {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        }
    }
}

/// Appends the encoding of `reply` to `out`.
pub fn encode(reply: &Reply, protocol: Protocol, out: &mut Vec<u8>) {
    match reply {
        Reply::Status(text) => push_line(out, b'+', text),
        Reply::Error(text) => {
            debug_assert!(
                !text.starts_with('-'),
                "error text carries its code, not the '-': {text:?}"
            );
            push_line(out, b'-', text);
        }
        Reply::Int(n) => push_header(out, b':', *n),
        Reply::Bulk(bytes) => push_bulk(out, bytes),
        Reply::Nil => match protocol {
            Protocol::Resp2 => out.extend_from_slice(b"$-1\r\n"),
            Protocol::Resp3 => out.extend_from_slice(b"_\r\n"),
        },
        Reply::NilArray => match protocol {
            Protocol::Resp2 => out.extend_from_slice(b"*-1\r\n"),
            Protocol::Resp3 => out.extend_from_slice(b"_\r\n"),
        },
        Reply::Array(items) => {
            push_len(out, b'*', items.len());
            for item in items {
                encode(item, protocol, out);
            }
        }
        Reply::Map(pairs) => {
            match protocol {
                Protocol::Resp2 => push_len(out, b'*', pairs.len() * 2),
                Protocol::Resp3 => push_len(out, b'%', pairs.len()),
            }
            for (key, value) in pairs {
                encode(key, protocol, out);
                encode(value, protocol, out);
            }
        }
        Reply::PairMap(pairs) => match protocol {
            Protocol::Resp2 => {
                push_len(out, b'*', pairs.len());
                for (key, value) in pairs {
                    out.extend_from_slice(b"*2\r\n");
                    encode(key, protocol, out);
                    encode(value, protocol, out);
                }
            }
            Protocol::Resp3 => {
                push_len(out, b'%', pairs.len());
                for (key, value) in pairs {
                    encode(key, protocol, out);
                    encode(value, protocol, out);
                }
            }
        },
    }
}

/// A simple string or error line. A `\r` or `\n` inside would end the line early and desync
/// the client, so each becomes a space (as Redis's `addReplyErrorLength` does).
fn push_line(out: &mut Vec<u8>, prefix: u8, text: &str) {
    out.push(prefix);
    out.extend(
        text.bytes()
            .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    out.extend_from_slice(b"\r\n");
}

fn push_bulk(out: &mut Vec<u8>, bytes: &[u8]) {
    push_len(out, b'$', bytes.len());
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

fn push_len(out: &mut Vec<u8>, prefix: u8, len: usize) {
    push_header(
        out,
        prefix,
        i64::try_from(len).expect("a reply length fits in i64"),
    );
}

/// `<prefix><decimal>\r\n` without allocating.
fn push_header(out: &mut Vec<u8>, prefix: u8, n: i64) {
    out.push(prefix);
    if n < 0 {
        out.push(b'-');
    }
    rill_core::id::push_decimal(out, n.unsigned_abs());
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{expect, Expect};

    fn bulk(s: &str) -> Reply {
        Reply::text(s)
    }

    /// Encodes `reply` in both protocols, shows the bytes with `\r\n` as line breaks, and checks
    /// that `redis-protocol` decodes each encoding as exactly one frame of the same length.
    fn check(reply: Reply, expect: Expect) {
        let mut resp2 = Vec::new();
        encode(&reply, Protocol::Resp2, &mut resp2);
        let mut resp3 = Vec::new();
        encode(&reply, Protocol::Resp3, &mut resp3);

        let (_, used) = redis_protocol::resp2::decode::decode(&resp2)
            .expect("valid RESP2")
            .expect("complete RESP2");
        assert_eq!(used, resp2.len(), "one RESP2 frame");
        let (_, used) = redis_protocol::resp3::decode::complete::decode(&resp3)
            .expect("valid RESP3")
            .expect("complete RESP3");
        assert_eq!(used, resp3.len(), "one RESP3 frame");

        let show = |bytes: &[u8]| String::from_utf8_lossy(bytes).replace("\r\n", "⏎");
        expect.assert_eq(&format!("RESP2 {}\nRESP3 {}", show(&resp2), show(&resp3)));
    }

    #[test]
    fn scalars() {
        check(Reply::ok(), expect!["RESP2 +OK⏎\nRESP3 +OK⏎"]);
        check(
            Reply::Status("a\r\nb".into()),
            expect!["RESP2 +a  b⏎\nRESP3 +a  b⏎"],
        );
        check(
            Reply::err("ERR unknown command 'x\ny'"),
            expect!["RESP2 -ERR unknown command 'x y'⏎\nRESP3 -ERR unknown command 'x y'⏎"],
        );
        check(Reply::Int(0), expect!["RESP2 :0⏎\nRESP3 :0⏎"]);
        check(Reply::Int(-42), expect!["RESP2 :-42⏎\nRESP3 :-42⏎"]);
        check(
            Reply::Int(i64::MIN),
            expect!["RESP2 :-9223372036854775808⏎\nRESP3 :-9223372036854775808⏎"],
        );
        check(
            Reply::Int(i64::MAX),
            expect!["RESP2 :9223372036854775807⏎\nRESP3 :9223372036854775807⏎"],
        );
        check(bulk("hello"), expect!["RESP2 $5⏎hello⏎\nRESP3 $5⏎hello⏎"]);
        check(bulk(""), expect!["RESP2 $0⏎⏎\nRESP3 $0⏎⏎"]);
        check(
            Reply::Bulk(b"a\r\nb".to_vec()),
            expect!["RESP2 $4⏎a⏎b⏎\nRESP3 $4⏎a⏎b⏎"],
        );
        check(Reply::Nil, expect!["RESP2 $-1⏎\nRESP3 _⏎"]);
        check(Reply::NilArray, expect!["RESP2 *-1⏎\nRESP3 _⏎"]);
    }

    #[test]
    fn aggregates() {
        check(Reply::Array(vec![]), expect!["RESP2 *0⏎\nRESP3 *0⏎"]);
        check(
            Reply::Array(vec![
                Reply::Int(1),
                bulk("a"),
                Reply::Nil,
                Reply::Array(vec![Reply::NilArray]),
            ]),
            expect!["RESP2 *4⏎:1⏎$1⏎a⏎$-1⏎*1⏎*-1⏎\nRESP3 *4⏎:1⏎$1⏎a⏎_⏎*1⏎_⏎"],
        );
        check(Reply::Map(vec![]), expect!["RESP2 *0⏎\nRESP3 %0⏎"]);
        check(
            Reply::Map(vec![
                (bulk("length"), Reply::Int(2)),
                (bulk("groups"), Reply::Array(vec![])),
            ]),
            expect!["RESP2 *4⏎$6⏎length⏎:2⏎$6⏎groups⏎*0⏎\nRESP3 %2⏎$6⏎length⏎:2⏎$6⏎groups⏎*0⏎"],
        );
        check(Reply::PairMap(vec![]), expect!["RESP2 *0⏎\nRESP3 %0⏎"]);
        check(
            Reply::PairMap(vec![
                (bulk("s1"), Reply::Array(vec![Reply::Array(vec![bulk("1-1"), Reply::Array(vec![bulk("f"), bulk("v")])])])),
                (bulk("s2"), Reply::Array(vec![])),
            ]),
            expect![
                "RESP2 *2⏎*2⏎$2⏎s1⏎*1⏎*2⏎$3⏎1-1⏎*2⏎$1⏎f⏎$1⏎v⏎*2⏎$2⏎s2⏎*0⏎\nRESP3 %2⏎$2⏎s1⏎*1⏎*2⏎$3⏎1-1⏎*2⏎$1⏎f⏎$1⏎v⏎$2⏎s2⏎*0⏎"
            ],
        );
    }
}
