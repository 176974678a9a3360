//! The bytes of everything this crate persists in `rill-storage` (log entries, vote, log ids,
//! membership, clock): a format byte, then postcard.
//!
//! Format 2: `0x02 | postcard(value)`. postcard is compact (varints) and its wire format is
//! specified and stable across its 1.x releases. Decoding refuses trailing bytes, so one value has
//! one encoding.
//!
//! Format 1 is the same but for [`Peer`](crate::Peer), which had no incarnation then. postcard
//! does not describe its fields, so a value of format 1 is decoded with a flag set that
//! `Peer`'s `Deserialize` reads: stores written before incarnations existed read as before, their
//! members with incarnation 0 (unknown).

use std::cell::Cell;

use serde::de::DeserializeOwned;
use serde::Serialize;

const FORMAT: u8 = 2;
/// Values written before members had incarnations.
const FORMAT_WITHOUT_INCARNATIONS: u8 = 1;

thread_local! {
    static DECODING_FORMAT_1: Cell<bool> = const { Cell::new(false) };
}

/// Whether the value being decoded on this thread is of format 1 (for `Peer`).
pub(crate) fn decoding_format_1() -> bool {
    DECODING_FORMAT_1.with(Cell::get)
}

/// Runs `decode` with the format-1 flag set as `format` says, and resets it after.
fn in_format<T>(format: u8, decode: impl FnOnce() -> T) -> Result<T, CodecError> {
    let legacy = match format {
        FORMAT => false,
        FORMAT_WITHOUT_INCARNATIONS => true,
        found => return Err(CodecError::BadFormat { found }),
    };
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            DECODING_FORMAT_1.with(|flag| flag.set(self.0));
        }
    }
    let _reset = Reset(DECODING_FORMAT_1.with(|flag| flag.replace(legacy)));
    Ok(decode())
}

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("empty value")]
    Empty,
    #[error("unknown format {found}")]
    BadFormat { found: u8 },
    #[error("{extra} trailing bytes")]
    Trailing { extra: usize },
    #[error("postcard: {0}")]
    Postcard(#[from] postcard::Error),
}

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    encode_after(Vec::new(), value)
}

/// `value`'s encoding after the bytes of `prefix` (a message's header), in one buffer.
pub fn encode_after<T: Serialize>(mut prefix: Vec<u8>, value: &T) -> Result<Vec<u8>, CodecError> {
    prefix.push(FORMAT);
    Ok(postcard::to_extend(value, prefix)?)
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (&format, body) = bytes.split_first().ok_or(CodecError::Empty)?;
    let (value, rest) = in_format(format, || postcard::take_from_bytes(body))??;
    if !rest.is_empty() {
        return Err(CodecError::Trailing { extra: rest.len() });
    }
    Ok(value)
}

/// The first value of `bytes` (a struct's leading field), ignoring what follows it.
pub fn decode_prefix<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (&format, body) = bytes.split_first().ok_or(CodecError::Empty)?;
    let (value, _) = in_format(format, || postcard::take_from_bytes(body))??;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Entry, LogId, Peer, Request, StoredMembership, Vote};
    use openraft::{CommittedLeaderId, EntryPayload, Membership};
    use rill_core::Command;
    use std::collections::{BTreeMap, BTreeSet};

    fn argv(words: &[&str]) -> Vec<Vec<u8>> {
        words.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    fn command(words: &[&str]) -> Command {
        match rill_core::parse(&argv(words)) {
            Some(Ok(command)) => command,
            other => panic!("{words:?} does not parse: {other:?}"),
        }
    }

    /// Byte strings encode as byte strings (one copy), in the same bytes as serde's default
    /// sequence of `u8`: entries written before the change read the same.
    #[test]
    fn byte_strings_encode_as_serde_sequences_did() {
        #[derive(Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Plain(Vec<(Vec<u8>, Vec<u8>)>, Vec<u8>);
        #[derive(Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Annotated(
            #[serde(with = "rill_core::serde_bytes::pairs")] Vec<(Vec<u8>, Vec<u8>)>,
            #[serde(with = "rill_core::serde_bytes::bytes")] Vec<u8>,
        );
        let pairs = vec![
            (b"f".to_vec(), vec![0xff; 300]),
            (Vec::new(), b"v".to_vec()),
        ];
        let plain = encode(&Plain(pairs.clone(), vec![1, 2, 200])).expect("encode");
        let annotated = encode(&Annotated(pairs.clone(), vec![1, 2, 200])).expect("encode");
        assert_eq!(plain, annotated);
        assert_eq!(
            decode::<Annotated>(&plain).expect("decode"),
            Annotated(pairs, vec![1, 2, 200])
        );
    }

    fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) {
        let bytes = encode(value).expect("encode");
        assert_eq!(&decode::<T>(&bytes).expect("decode"), value);
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode::<T>(&longer).is_err(), "trailing byte accepted");
        assert!(decode::<T>(&bytes[1..]).is_err() || bytes[1] == FORMAT);
    }

    #[test]
    fn commands_round_trip() {
        let scripts: &[&[&str]] = &[
            &["XADD", "s", "*", "f", "v"],
            &[
                "XADD",
                "s",
                "NOMKSTREAM",
                "MAXLEN",
                "~",
                "10",
                "LIMIT",
                "5",
                "7-*",
                "a",
                "b",
            ],
            &["XADD", "s", "MINID", "=", "3-4", "9-9", "a", "\u{0}\u{ff}"],
            &["XTRIM", "s", "MAXLEN", "0"],
            &["XDEL", "s", "1-1", "2"],
            &[
                "XGROUP",
                "CREATE",
                "s",
                "g",
                "$",
                "MKSTREAM",
                "ENTRIESREAD",
                "3",
            ],
            &["XGROUP", "SETID", "s", "g", "0"],
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c",
                "COUNT",
                "2",
                "NOACK",
                "STREAMS",
                "s",
                ">",
            ],
            &["XACK", "s", "g", "1-0"],
            &[
                "XCLAIM", "s", "g", "c", "10", "1-0", "IDLE", "5", "FORCE", "JUSTID",
            ],
            &["XAUTOCLAIM", "s", "g", "c", "10", "0", "COUNT", "3"],
            &[
                "XSETID",
                "s",
                "5-5",
                "ENTRIESADDED",
                "9",
                "MAXDELETEDID",
                "1-1",
            ],
            &["DEL", "s", "t"],
        ];
        for script in scripts {
            round_trip(&Request {
                commands: vec![command(script)].into(),
                now_ms: 1_700_000_000_123,
            });
        }
    }

    #[test]
    fn raft_records_round_trip() {
        let log_id = LogId::new(CommittedLeaderId::new(3, 2), 42);
        round_trip(&log_id);
        round_trip(&Some(log_id));
        round_trip(&Option::<LogId>::None);
        round_trip(&Vote::new(4, 1));
        let mut committed = Vote::new(5, 2);
        committed.commit();
        round_trip(&committed);
        let nodes: BTreeMap<u64, Peer> = (1..=3)
            .map(|id| {
                let peer = Peer {
                    raft_addr: format!("127.0.0.1:{}", 7000 + id),
                    client_addr: format!("127.0.0.1:{}", 6000 + id),
                    incarnation: 0x1234_5678_9abc_def0 + id,
                };
                (id, peer)
            })
            .collect();
        let membership = Membership::new(vec![BTreeSet::from([1, 2, 3])], nodes);
        round_trip(&StoredMembership::new(Some(log_id), membership.clone()));
        let entries = [
            EntryPayload::Blank,
            EntryPayload::Membership(membership),
            EntryPayload::Normal(Request {
                commands: vec![command(&["XADD", "s", "*", "f", "v"])].into(),
                now_ms: 9,
            }),
        ];
        for payload in entries {
            let entry = Entry { log_id, payload };
            round_trip(&entry);
            // An entry's log id reads alone from its front.
            let bytes = encode(&entry).expect("encodes");
            assert_eq!(decode_prefix::<LogId>(&bytes).expect("decodes"), log_id);
        }
    }

    /// A membership written before members had incarnations (format 1) reads with incarnation
    /// 0, and what follows the members decodes in place.
    #[test]
    fn members_of_format_1_read_with_an_unknown_incarnation() {
        let log_id = LogId::new(CommittedLeaderId::new(3, 2), 42);
        #[derive(Serialize)]
        struct OldPeer {
            raft_addr: String,
            client_addr: String,
        }
        let nodes: BTreeMap<u64, OldPeer> = BTreeMap::from([(
            1,
            OldPeer {
                raft_addr: "a:1".to_owned(),
                client_addr: "a:2".to_owned(),
            },
        )]);
        // A `Membership` is its joint configs, then its nodes: the same serde shape.
        let old = (vec![BTreeSet::from([1u64])], nodes);
        let mut bytes = vec![FORMAT_WITHOUT_INCARNATIONS];
        bytes = postcard::to_extend(&(Some(log_id), old), bytes).expect("encode");
        let read: StoredMembership = decode(&bytes).expect("a format-1 membership decodes");
        let peer = read.membership().get_node(&1).expect("node 1");
        assert_eq!(
            peer,
            &Peer {
                raft_addr: "a:1".to_owned(),
                client_addr: "a:2".to_owned(),
                incarnation: 0,
            }
        );
        assert_eq!(read.log_id(), &Some(log_id));
        // The flag does not outlive the call: the same thread decodes format 2 after.
        assert!(!decoding_format_1());
        round_trip(&read);
    }

    #[test]
    fn refuses_unknown_format_and_garbage() {
        assert!(matches!(decode::<u64>(&[]), Err(CodecError::Empty)));
        assert!(matches!(
            decode::<u64>(&[3, 0]),
            Err(CodecError::BadFormat { found: 3 })
        ));
        assert!(decode::<LogId>(&[FORMAT, 0xff, 0xff]).is_err());
    }
}
