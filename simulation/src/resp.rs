//! A minimal Redis-protocol client over turmoil's TCP: a pipeline of commands to one node
//! (a follower forwards them to the leader), its replies as `rill_core::Reply` values.
//!
//! ```text
//!  connect ─▶ write every command (RESP arrays of bulk strings) in one write
//!          ─▶ read until one reply per command has been decoded ─▶ close
//!  (all of it within one timeout)
//! ```
//!
//! A fresh connection per call, as `crate::net` explains (turmoil never resends a lost
//! segment, so a connection that lost one hangs).
//!
//! Replies are decoded as `rill_server::resp::encode` sends them: RESP2, which a connection
//! speaks unless `HELLO 3` switches it, and the RESP3 frames that encoder sends (`_`, `%`).
//! RESP2 does not tell apart what the server's `Reply` was: a map arrives as a flat array
//! (`Map`) or an array of pairs (`PairMap`), and both decode as `Reply::Array`; RESP3's `_`
//! decodes as `Reply::Nil`. Bytes that are not RESP are an error, never a panic.

use std::fmt;
use std::time::Duration;

use rill_core::Reply;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use turmoil::net::TcpStream;

/// Bytes asked of the connection per read.
const READ_CHUNK_BYTES: usize = 16 << 10;
/// Deepest nesting of aggregates accepted (the server's deepest reply, XINFO STREAM FULL, is
/// far shallower); deeper is garbage, and recursing on it would overflow the stack.
const DEPTH_MAX: usize = 32;
/// Longest simple string or error line.
const LINE_BYTES_MAX: usize = 64 << 10;
/// Longest `:`, `$`, `*`, `%` header line: a sign and 19 digits fit.
const HEADER_BYTES_MAX: usize = 20;
/// Largest bulk string (Redis's `proto-max-bulk-len` default).
const BULK_BYTES_MAX: usize = 512 << 20;
/// Elements reserved ahead for an aggregate, whatever length its header claims.
const PREALLOC_MAX: usize = 1024;

/// Why a pipeline got fewer replies than commands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RespError {
    /// Nothing was sent (no connection, no commands, an empty command, or the time ran out
    /// before a byte was written): no command ran.
    NotSent(String),
    /// The commands were sent, at least in part, and not every reply came back (the
    /// connection closed or failed, the time ran out, or a reply was not RESP). `replies` are
    /// those that came, in order: the first `replies.len()` commands ran and answered so; the
    /// others may or may not have run.
    Lost { replies: Vec<Reply>, reason: String },
}

impl RespError {
    /// Whether a command without a reply may have run.
    pub fn maybe_applied(&self) -> bool {
        matches!(self, RespError::Lost { .. })
    }
}

impl fmt::Display for RespError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RespError::NotSent(reason) => write!(f, "not sent: {reason}"),
            RespError::Lost { replies, reason } => {
                write!(f, "sent, {} replies came, then: {reason}", replies.len())
            }
        }
    }
}

impl std::error::Error for RespError {}

/// Sends `commands` (each an argv) to the node at `addr` (`host:port`) on a new connection,
/// in one write, and returns one reply per command, in order; the whole exchange takes at
/// most `timeout`. Error replies (`-ERR ...`) are replies (`Reply::Error`), not errors.
pub async fn pipeline(
    addr: &str,
    commands: &[Vec<Vec<u8>>],
    timeout: Duration,
) -> Result<Vec<Reply>, RespError> {
    if commands.is_empty() {
        return Err(RespError::NotSent("no commands".to_owned()));
    }
    // The server skips an empty request without replying: it would wait for a reply forever.
    if commands.iter().any(Vec::is_empty) {
        return Err(RespError::NotSent("an empty command".to_owned()));
    }
    let request = encode_request(commands);
    let mut progress = Progress::default();
    let exchange = exchange(addr, &request, commands.len(), &mut progress);
    let reason = match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(())) => return Ok(progress.replies),
        Ok(Err(reason)) => reason,
        Err(_) => format!("timed out after {timeout:?}"),
    };
    if progress.sent {
        Err(RespError::Lost {
            replies: progress.replies,
            reason,
        })
    } else {
        Err(RespError::NotSent(reason))
    }
}

/// How far an exchange got; what is left of it when the timeout drops it.
#[derive(Default)]
struct Progress {
    /// A byte of the request was written.
    sent: bool,
    replies: Vec<Reply>,
}

async fn exchange(
    addr: &str,
    request: &[u8],
    expected: usize,
    progress: &mut Progress,
) -> Result<(), String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|error| format!("connect to {addr}: {error}"))?;
    // By hand rather than `write_all`: a failed write that wrote nothing sent nothing.
    let mut written = 0;
    while written < request.len() {
        match stream.write(&request[written..]).await {
            Ok(0) => return Err("the connection takes no more bytes".to_owned()),
            Ok(n) => {
                written += n;
                progress.sent = true;
            }
            Err(error) => return Err(format!("write: {error}")),
        }
    }
    let mut input = Vec::with_capacity(READ_CHUNK_BYTES);
    while progress.replies.len() < expected {
        input.reserve(READ_CHUNK_BYTES);
        match stream.read_buf(&mut input).await {
            Ok(0) => {
                return Err(format!(
                    "the connection closed after {} of {expected} replies",
                    progress.replies.len()
                ))
            }
            Ok(_) => {}
            Err(error) => return Err(format!("read: {error}")),
        }
        let mut used = 0;
        while progress.replies.len() < expected {
            match decode(&input[used..]).map_err(|error| format!("not RESP: {error}"))? {
                Some((reply, len)) => {
                    progress.replies.push(reply);
                    used += len;
                }
                None => break,
            }
        }
        input.drain(..used);
    }
    Ok(())
}

/// The commands as RESP arrays of bulk strings, back to back.
fn encode_request(commands: &[Vec<Vec<u8>>]) -> Vec<u8> {
    let mut out = Vec::new();
    for argv in commands {
        out.extend_from_slice(format!("*{}\r\n", argv.len()).as_bytes());
        for arg in argv {
            out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            out.extend_from_slice(arg);
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// The first reply in `buf` and the bytes it took; `Ok(None)` if `buf` holds only part of it.
fn decode(buf: &[u8]) -> Result<Option<(Reply, usize)>, String> {
    let mut at = 0;
    Ok(frame(buf, &mut at, 0)?.map(|reply| (reply, at)))
}

/// The frame at `*at`, advancing `*at` past it; `Ok(None)` if incomplete (`*at` then means
/// nothing).
fn frame(buf: &[u8], at: &mut usize, depth: usize) -> Result<Option<Reply>, String> {
    let Some(&kind) = buf.get(*at) else {
        return Ok(None);
    };
    let max = match kind {
        b'+' | b'-' => LINE_BYTES_MAX,
        _ => HEADER_BYTES_MAX,
    };
    let Some((line, next)) = line(buf, *at + 1, max)? else {
        return Ok(None);
    };
    *at = next;
    let reply = match kind {
        b'+' => Reply::Status(text(line)?),
        b'-' => Reply::Error(text(line)?),
        b':' => Reply::Int(int(line)?),
        b'_' if line.is_empty() => Reply::Nil,
        b'_' => return Err(format!("a null with a payload: {:?}", show(line))),
        b'$' => match length(line)? {
            None => Reply::Nil,
            Some(len) if len > BULK_BYTES_MAX => {
                return Err(format!("a bulk string of {len} bytes"))
            }
            Some(len) => {
                let end = next + len;
                if buf.len() < end + 2 {
                    return Ok(None);
                }
                if &buf[end..end + 2] != b"\r\n" {
                    return Err("a bulk string not followed by \\r\\n".to_owned());
                }
                *at = end + 2;
                Reply::Bulk(buf[next..end].to_vec())
            }
        },
        b'*' | b'%' => {
            let Some(len) = length(line)? else {
                return match kind {
                    b'*' => Ok(Some(Reply::NilArray)),
                    _ => Err("a map of length -1".to_owned()),
                };
            };
            if depth >= DEPTH_MAX {
                return Err(format!("aggregates nested deeper than {DEPTH_MAX}"));
            }
            let pairs = kind == b'%';
            let items_len = if pairs { len.saturating_mul(2) } else { len };
            let mut items = Vec::with_capacity(items_len.min(PREALLOC_MAX));
            for _ in 0..items_len {
                match frame(buf, at, depth + 1)? {
                    Some(item) => items.push(item),
                    None => return Ok(None),
                }
            }
            if pairs {
                let mut items = items.into_iter();
                let mut map = Vec::with_capacity(len.min(PREALLOC_MAX));
                while let (Some(key), Some(value)) = (items.next(), items.next()) {
                    map.push((key, value));
                }
                Reply::Map(map)
            } else {
                Reply::Array(items)
            }
        }
        other => return Err(format!("unexpected type byte {:?}", show(&[other]))),
    };
    Ok(Some(reply))
}

/// The line from `start` to its `\r\n` (at most `max` bytes), and where the next one starts.
fn line(buf: &[u8], start: usize, max: usize) -> Result<Option<(&[u8], usize)>, String> {
    let rest = buf.get(start..).unwrap_or_default();
    let window = &rest[..rest.len().min(max + 2)];
    match window.iter().position(|&b| b == b'\n') {
        Some(end) if end > 0 && window[end - 1] == b'\r' => {
            let line = &window[..end - 1];
            if line.contains(&b'\r') {
                return Err(format!("a \\r inside a line: {:?}", show(line)));
            }
            Ok(Some((line, start + end + 1)))
        }
        Some(_) => Err("a line ending in \\n without \\r".to_owned()),
        None if rest.len() > max + 1 => Err(format!("a line longer than {max} bytes")),
        None => Ok(None),
    }
}

fn text(line: &[u8]) -> Result<String, String> {
    String::from_utf8(line.to_vec()).map_err(|_| format!("a line not UTF-8: {:?}", show(line)))
}

/// A decimal integer: an optional `-`, then digits.
fn int(line: &[u8]) -> Result<i64, String> {
    let digits = line.strip_prefix(b"-").unwrap_or(line);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(format!("not an integer: {:?}", show(line)));
    }
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("an integer out of range: {:?}", show(line)))
}

/// A `$`/`*`/`%` length: `None` for `-1` (null).
fn length(line: &[u8]) -> Result<Option<usize>, String> {
    match int(line)? {
        -1 => Ok(None),
        n => usize::try_from(n)
            .map(Some)
            .map_err(|_| format!("a negative length: {n}")),
    }
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Reply {
        Reply::text(s)
    }

    /// Decodes one whole frame, and checks that every proper prefix of it is incomplete.
    fn whole(bytes: &[u8]) -> Reply {
        for cut in 0..bytes.len() {
            assert_eq!(
                decode(&bytes[..cut]),
                Ok(None),
                "a prefix of {} bytes of {:?} waits for more",
                cut,
                show(bytes)
            );
        }
        let (reply, used) = decode(bytes)
            .expect("valid RESP")
            .expect("a complete frame");
        assert_eq!(used, bytes.len(), "the frame is all of {:?}", show(bytes));
        reply
    }

    #[test]
    fn scalars() {
        assert_eq!(whole(b"+OK\r\n"), Reply::ok());
        assert_eq!(whole(b"+\r\n"), Reply::Status(String::new()));
        assert_eq!(
            whole(b"-ERR unknown command 'x'\r\n"),
            Reply::err("ERR unknown command 'x'")
        );
        assert_eq!(whole(b":0\r\n"), Reply::Int(0));
        assert_eq!(whole(b":-42\r\n"), Reply::Int(-42));
        assert_eq!(whole(b":-9223372036854775808\r\n"), Reply::Int(i64::MIN));
        assert_eq!(whole(b":9223372036854775807\r\n"), Reply::Int(i64::MAX));
        assert_eq!(whole(b"$5\r\nhello\r\n"), bulk("hello"));
        assert_eq!(whole(b"$0\r\n\r\n"), bulk(""));
        // A payload is taken by its length, whatever it holds.
        assert_eq!(whole(b"$4\r\na\r\nb\r\n"), Reply::Bulk(b"a\r\nb".to_vec()));
    }

    #[test]
    fn nils() {
        assert_eq!(whole(b"$-1\r\n"), Reply::Nil);
        assert_eq!(whole(b"*-1\r\n"), Reply::NilArray);
        assert_eq!(whole(b"_\r\n"), Reply::Nil);
    }

    #[test]
    fn aggregates() {
        assert_eq!(whole(b"*0\r\n"), Reply::Array(vec![]));
        assert_eq!(
            whole(b"*4\r\n:1\r\n$1\r\na\r\n$-1\r\n*1\r\n*-1\r\n"),
            Reply::Array(vec![
                Reply::Int(1),
                bulk("a"),
                Reply::Nil,
                Reply::Array(vec![Reply::NilArray]),
            ])
        );
        // An XREAD reply in RESP2: [[key, [[id, [field, value]]]]].
        assert_eq!(
            whole(b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"),
            Reply::Array(vec![Reply::Array(vec![
                bulk("s"),
                Reply::Array(vec![Reply::Array(vec![
                    bulk("1-1"),
                    Reply::Array(vec![bulk("f"), bulk("v")]),
                ])]),
            ])])
        );
        assert_eq!(
            whole(b"%2\r\n$6\r\nlength\r\n:2\r\n$6\r\ngroups\r\n*0\r\n"),
            Reply::Map(vec![
                (bulk("length"), Reply::Int(2)),
                (bulk("groups"), Reply::Array(vec![])),
            ])
        );
        // An error inside an array is an element like any other.
        assert_eq!(
            whole(b"*2\r\n-ERR no\r\n+OK\r\n"),
            Reply::Array(vec![Reply::err("ERR no"), Reply::ok()])
        );
    }

    #[test]
    fn the_server_encoders_bytes_decode_to_what_it_sent() {
        use rill_server::resp::{encode, Protocol};
        let replies = [
            Reply::ok(),
            Reply::err("NOGROUP No such key"),
            Reply::Int(-7),
            bulk("v"),
            Reply::Nil,
            Reply::NilArray,
            Reply::Array(vec![bulk("1-1"), Reply::Array(vec![])]),
        ];
        for reply in replies {
            let mut bytes = Vec::new();
            encode(&reply, Protocol::Resp2, &mut bytes);
            assert_eq!(whole(&bytes), reply);
        }
        let map = vec![(bulk("k"), Reply::Int(1)), (bulk("l"), Reply::Nil)];
        let mut bytes = Vec::new();
        encode(&Reply::Map(map.clone()), Protocol::Resp2, &mut bytes);
        assert_eq!(
            whole(&bytes),
            Reply::Array(vec![bulk("k"), Reply::Int(1), bulk("l"), Reply::Nil]),
            "a map is a flat array in RESP2"
        );
        bytes.clear();
        encode(&Reply::PairMap(map.clone()), Protocol::Resp2, &mut bytes);
        assert_eq!(
            whole(&bytes),
            Reply::Array(vec![
                Reply::Array(vec![bulk("k"), Reply::Int(1)]),
                Reply::Array(vec![bulk("l"), Reply::Nil]),
            ]),
            "a pair map is an array of pairs in RESP2"
        );
        bytes.clear();
        encode(&Reply::PairMap(map.clone()), Protocol::Resp3, &mut bytes);
        assert_eq!(whole(&bytes), Reply::Map(map), "a map in RESP3");
    }

    #[test]
    fn frames_back_to_back_decode_one_at_a_time() {
        let bytes = b"+OK\r\n:1\r\n$1\r";
        let (first, used) = decode(bytes).expect("valid").expect("complete");
        assert_eq!((first, used), (Reply::ok(), 5));
        let (second, used2) = decode(&bytes[used..]).expect("valid").expect("complete");
        assert_eq!((second, used2), (Reply::Int(1), 4));
        assert_eq!(
            decode(&bytes[used + used2..]),
            Ok(None),
            "a partial frame waits"
        );
    }

    #[test]
    fn garbage_is_an_error() {
        let garbage: &[&[u8]] = &[
            b"?\r\n",
            b"hello\r\n",
            b"\r\n",
            b"+OK\n",
            b"+O\rK\r\n",
            b":\r\n",
            b":12a\r\n",
            b":+1\r\n",
            b":99999999999999999999\r\n",
            b"$-2\r\n",
            b"$x\r\n",
            b"$3\r\nabcd\r\n",
            b"$1000000000\r\n",
            b"*-2\r\n",
            b"*1\r\n?\r\n",
            b"%-1\r\n",
            b"_x\r\n",
            b"+\xff\r\n",
            // A header that cannot end in time is refused before its `\r\n`.
            b"$111111111111111111111111",
            b"*1\r\n$11111111111111111111111111",
        ];
        for bytes in garbage {
            assert!(
                decode(bytes).is_err(),
                "{:?} is not RESP: {:?}",
                show(bytes),
                decode(bytes)
            );
        }
        let mut deep = b"*1\r\n".repeat(DEPTH_MAX + 1);
        deep.extend_from_slice(b":1\r\n");
        assert!(decode(&deep).is_err(), "nested too deep");
        let mut deep_enough = b"*1\r\n".repeat(DEPTH_MAX);
        deep_enough.extend_from_slice(b":1\r\n");
        assert!(matches!(decode(&deep_enough), Ok(Some(_))));
        // A huge claimed length allocates nothing ahead: it just waits for the elements.
        assert_eq!(decode(b"*9223372036854775807\r\n:1\r\n"), Ok(None));
    }

    #[test]
    fn long_lines_are_refused_once_past_the_limit() {
        let mut status = b"+".to_vec();
        status.extend(std::iter::repeat_n(b'a', LINE_BYTES_MAX));
        assert_eq!(decode(&status), Ok(None), "up to the limit, it waits");
        status.extend_from_slice(b"\r\n");
        assert!(matches!(decode(&status), Ok(Some(_))));
        let mut too_long = b"+".to_vec();
        too_long.extend(std::iter::repeat_n(b'a', LINE_BYTES_MAX + 2));
        assert!(decode(&too_long).is_err());
    }

    #[test]
    fn requests_are_arrays_of_bulk_strings() {
        let commands = vec![
            vec![b"PING".to_vec()],
            vec![
                b"XADD".to_vec(),
                b"s".to_vec(),
                b"*".to_vec(),
                b"f".to_vec(),
                b"a\r\nb".to_vec(),
            ],
        ];
        assert_eq!(
            encode_request(&commands),
            b"*1\r\n$4\r\nPING\r\n*5\r\n$4\r\nXADD\r\n$1\r\ns\r\n$1\r\n*\r\n$1\r\nf\r\n$4\r\na\r\nb\r\n"
        );
    }
}
