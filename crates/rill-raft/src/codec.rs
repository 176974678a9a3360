//! The bytes of everything this crate persists in `rill-storage` (log entries, vote, log ids,
//! membership, clock): a format byte, then postcard.
//!
//! Format 3: `0x03 | postcard(value)`. postcard is compact (varints) and its wire format is
//! specified and stable across its 1.x releases. Decoding refuses trailing bytes, so one value has
//! one encoding.
//!
//! Earlier formats are the same but for types that have since gained a field: format 2 before a
//! trim clause carried its reference policy, format 1 also before [`Peer`](crate::Peer) had an
//! incarnation. postcard does not describe fields, so a value is decoded with its format set in
//! [`rill_core::format`], where those types look: stores written before read as they did.

use rill_core::format::{self, CURRENT as FORMAT};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Runs `decode` with the format of the value it decodes set for the types that read it.
fn in_format<T>(format: u8, decode: impl FnOnce() -> T) -> Result<T, CodecError> {
    if !(format::WITHOUT_INCARNATIONS..=FORMAT).contains(&format) {
        return Err(CodecError::BadFormat { found: format });
    }
    Ok(format::decode_in(format, decode))
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
    // `to_io` copies a byte string whole; `to_extend` copies it a byte at a time, which an
    // unoptimised build makes slow enough for a 2 MiB AppendEntries to miss its heartbeat.
    Ok(postcard::to_io(value, prefix)?)
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
            &["XTRIM", "s", "MINID", "~", "5", "ACKED"],
            &["XADD", "s", "DELREF", "MAXLEN", "1", "*", "f", "v"],
            &["XDEL", "s", "1-1", "2"],
            &["XDELEX", "s", "DELREF", "IDS", "2", "1-1", "2"],
            &["XACKDEL", "s", "g", "IDS", "1", "1-1"],
            &["XACKDEL", "s", "g", "IDS", "1", "bad"],
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
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c",
                "CLAIM",
                "50",
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

    /// A trim clause logged before reference policies (format 2) reads as KEEPREF, what it
    /// meant then; the current format keeps the policy.
    #[test]
    fn trims_of_format_2_read_as_keepref() {
        use rill_core::command::{RefPolicy, Trim, TrimStrategy};
        // `Command::XTrim` is variant 4; postcard writes the index as a varint, then the
        // fields in order: the key, then the clause's strategy, `~` and LIMIT.
        let old = (4u32, b"s".to_vec(), (TrimStrategy::MaxLen(5), true, 100u64));
        let mut bytes = vec![format::WITHOUT_REF_POLICY];
        bytes = postcard::to_extend(&old, bytes).expect("encode");
        let read: Command = decode(&bytes).expect("a format-2 XTRIM decodes");
        let trim = Trim {
            strategy: TrimStrategy::MaxLen(5),
            approx: true,
            limit: 100,
            policy: RefPolicy::KeepRef,
        };
        assert_eq!(
            read,
            Command::XTrim {
                key: b"s".to_vec(),
                trim
            }
        );
        assert_eq!(format::decoding(), FORMAT);
        let acked = Command::XTrim {
            key: b"s".to_vec(),
            trim: Trim {
                policy: RefPolicy::Acked,
                ..trim
            },
        };
        round_trip(&acked);
        // The same bytes under the current format lack the policy: refused, not misread.
        bytes[0] = FORMAT;
        assert!(decode::<Command>(&bytes).is_err());
    }

    /// An XREADGROUP logged before CLAIM (format 3) reads without it; the current format keeps
    /// it.
    #[test]
    fn group_reads_of_format_3_read_without_claim() {
        use rill_core::command::{ReadFrom, XReadGroup};
        // `Command::XReadGroup` is variant 7; then the read's fields in order.
        let streams = vec![(b"s".to_vec(), ReadFrom::New)];
        let fields = (
            b"g".to_vec(),
            b"c".to_vec(),
            Some(5u64),
            None::<u64>,
            true,
            streams,
        );
        let mut bytes = vec![format::WITHOUT_CLAIM];
        bytes = postcard::to_extend(&(7u32, fields), bytes).expect("encode");
        let read: Command = decode(&bytes).expect("a format-3 XREADGROUP decodes");
        let old = XReadGroup {
            group: b"g".to_vec(),
            consumer: b"c".to_vec(),
            count: Some(5),
            block_ms: None,
            noack: true,
            streams: vec![(b"s".to_vec(), ReadFrom::New)],
            claim_min_idle_ms: None,
        };
        assert_eq!(read, Command::XReadGroup(old.clone()));
        assert_eq!(format::decoding(), FORMAT);
        round_trip(&Command::XReadGroup(XReadGroup {
            claim_min_idle_ms: Some(100),
            ..old
        }));
        // The same bytes under the current format lack CLAIM: refused, not misread.
        bytes[0] = FORMAT;
        assert!(decode::<Command>(&bytes).is_err());
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
        let mut bytes = vec![format::WITHOUT_INCARNATIONS];
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
        // The format does not outlive the call: the same thread decodes the current one after.
        assert_eq!(format::decoding(), FORMAT);
        round_trip(&read);
    }

    #[test]
    fn refuses_unknown_format_and_garbage() {
        assert!(matches!(decode::<u64>(&[]), Err(CodecError::Empty)));
        for found in [0, FORMAT + 1] {
            assert!(matches!(
                decode::<u64>(&[found, 0]),
                Err(CodecError::BadFormat { found: f }) if f == found
            ));
        }
        assert!(decode::<LogId>(&[FORMAT, 0xff, 0xff]).is_err());
    }
}
