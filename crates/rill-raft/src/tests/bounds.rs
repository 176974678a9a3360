//! What one peer message or one command can make a node do: bounded.

use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{InstallSnapshotRequest, InstallSnapshotResponse};
use openraft::{SnapshotMeta, StoredMembership};
use rill_core::{Limits, Reply};

use super::{command, test_config, Cluster};
use crate::codec::{decode, encode};
use crate::types::TypeConfig;
use crate::{Error, NodeId, RpcKind};

fn chunk(offset: u64, len: usize) -> InstallSnapshotRequest<TypeConfig> {
    InstallSnapshotRequest {
        vote: openraft::Vote::new(1, 1),
        meta: SnapshotMeta {
            last_log_id: None,
            last_membership: StoredMembership::default(),
            snapshot_id: "s-1".to_owned(),
        },
        offset,
        data: vec![7; len],
        done: false,
    }
}

type SnapshotAnswer =
    Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>;

#[tokio::test]
async fn snapshot_chunks_past_what_arrived_or_past_the_bound_are_refused() {
    let mut config = test_config();
    config.snapshot_bytes_max = 2 << 30;
    let mut cluster = Cluster::new(config);
    cluster.start(1).await;
    let node = cluster.node(1);
    // Addressed to incarnation 0 (any); the answer's header (served, incarnation) is cut off.
    let send = |rpc: InstallSnapshotRequest<TypeConfig>| async move {
        let payload = crate::codec::encode_after(vec![0; 8], &rpc).expect("encode");
        let answer = node.serve_rpc(RpcKind::InstallSnapshot, &payload).await?;
        assert_eq!(answer[0], 1, "served");
        Ok::<_, crate::Error>(answer[9..].to_vec())
    };

    let first = send(chunk(0, 100))
        .await
        .expect("the first chunk is served");
    let _: SnapshotAnswer = decode(&first).expect("an install-snapshot answer");
    // Before the bound: openraft 0.9 would seek there and zero-fill 1 GiB.
    let far = send(chunk(1 << 30, 100)).await.expect("answered");
    let far: SnapshotAnswer = decode(&far).expect("an install-snapshot answer");
    match far {
        Err(RaftError::APIError(InstallSnapshotError::SnapshotMismatch(mismatch))) => {
            assert_eq!(mismatch.expect.offset, 100, "{mismatch}");
            assert_eq!(mismatch.got.offset, 1 << 30, "{mismatch}");
        }
        other => panic!("a chunk past the end was not refused: {other:?}"),
    }
    // A resent chunk, and the next one, go through.
    send(chunk(0, 100)).await.expect("a resent chunk");
    let next = send(chunk(100, 100)).await.expect("the next chunk");
    let next: SnapshotAnswer = decode(&next).expect("an install-snapshot answer");
    assert!(
        !matches!(
            next,
            Err(RaftError::APIError(InstallSnapshotError::SnapshotMismatch(
                _
            )))
        ),
        "{next:?}"
    );
    // Past the snapshot bound: an error, not an answer.
    let big = send(chunk((2 << 30) - 50, 100)).await;
    assert!(matches!(big, Err(Error::Refused(_))), "{big:?}");
    let overflow = send(chunk(u64::MAX - 10, 100)).await;
    assert!(matches!(overflow, Err(Error::Refused(_))), "{overflow:?}");
    // Another node's snapshot mid-stream, unknown here.
    let mut other = chunk(100, 10);
    other.meta.snapshot_id = "s-2".to_owned();
    let other: SnapshotAnswer = decode(&send(other).await.expect("answered")).expect("answer");
    assert!(matches!(
        other,
        Err(RaftError::APIError(InstallSnapshotError::SnapshotMismatch(
            _
        )))
    ));
    cluster.stop(1).await;
}

#[test]
fn a_command_never_encodes_larger_than_its_size_bound() {
    let big = "v".repeat(5000);
    let ids: Vec<String> = (0..500).map(|i| format!("{i}-{i}")).collect();
    let mut xack = vec!["XACK", "s", "g"];
    xack.extend(ids.iter().map(String::as_str));
    let mut xclaim = vec!["XCLAIM", "s", "g", "c", "10"];
    xclaim.extend(ids.iter().map(String::as_str));
    let mut del = vec!["DEL"];
    del.extend(ids.iter().map(String::as_str));
    let lines: Vec<Vec<&str>> = vec![
        vec!["XADD", "s", "MAXLEN", "~", "1000", "*", "f", &big, "g", "h"],
        vec![
            "XADD",
            "s",
            "18446744073709551615-18446744073709551615",
            "f",
            "v",
        ],
        vec![
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "COUNT",
            "10",
            "BLOCK",
            "100",
            "STREAMS",
            "a",
            "b",
            ">",
            ">",
        ],
        vec!["XREAD", "COUNT", "10", "STREAMS", "a", "b", "0-0", "$"],
        vec![
            "XGROUP",
            "CREATE",
            "s",
            "g",
            "$",
            "MKSTREAM",
            "ENTRIESREAD",
            "99",
        ],
        vec!["XGROUP", "CREATECONSUMER", "s", "g", "c"],
        vec![
            "XPENDING", "s", "g", "IDLE", "100", "-", "+", "10", "consumer",
        ],
        vec![
            "XAUTOCLAIM",
            "s",
            "g",
            "c",
            "100",
            "0-0",
            "COUNT",
            "100",
            "JUSTID",
        ],
        vec![
            "XSETID",
            "s",
            "5-5",
            "ENTRIESADDED",
            "10",
            "MAXDELETEDID",
            "3-3",
        ],
        vec![
            "XTRIM",
            "s",
            "MINID",
            "~",
            "18446744073709551615-0",
            "LIMIT",
            "100",
        ],
        vec!["XINFO", "STREAM", "s", "FULL", "COUNT", "10"],
        vec!["XINFO", "CONSUMERS", "s", "g"],
        vec![
            "SCAN",
            "18446744073709551615",
            "MATCH",
            "a*b",
            "COUNT",
            "100",
            "TYPE",
            "stream",
        ],
        xack,
        xclaim,
        del,
    ];
    for line in lines {
        let cmd = command(&line);
        let encoded = encode(&cmd).expect("encode").len();
        assert!(
            encoded <= cmd.size_bytes(),
            "{}: encodes to {encoded} bytes, bound {}",
            line[0],
            cmd.size_bytes()
        );
    }
}

#[test]
fn the_largest_command_the_limits_allow_fits_their_bound() {
    let limits = Limits::default();
    let name = "n".repeat(limits.name_bytes_max);
    // The most pairs and the most bytes: "f" and the value, then one-byte pairs.
    let pairs = limits.entry_fields_max - 1;
    let value = "v".repeat(limits.entry_bytes_max - 1 - 2 * pairs);
    let fields: Vec<String> = (0..pairs).map(|_| "f".to_owned()).collect();
    let mut xadd = vec!["XADD", &name, "*", "f", &value];
    xadd.extend(fields.iter().flat_map(|f| [f.as_str(), f.as_str()]));
    let xadd = command(&xadd);
    assert_eq!(xadd.check_limits(&limits), Ok(()));
    let ids: Vec<String> = (0..limits.ids_per_command_max)
        .map(|i| format!("{}-{}", u64::MAX - i as u64, u64::MAX))
        .collect();
    let mut xclaim = vec!["XCLAIM", &name, &name, &name, "0"];
    xclaim.extend(ids.iter().map(String::as_str));
    let xclaim = command(&xclaim);
    assert_eq!(xclaim.check_limits(&limits), Ok(()));
    for cmd in [xadd, xclaim] {
        assert!(cmd.size_bytes() <= limits.largest_command_bytes());
        assert!(encode(&cmd).expect("encode").len() <= cmd.size_bytes());
    }
    assert!(limits.largest_command_bytes() <= crate::ProposerLimits::default().batch_bytes_max);
}

#[tokio::test]
async fn oversized_commands_are_refused_before_they_are_proposed() {
    let mut cluster = Cluster::new(test_config());
    cluster.start(1).await;
    cluster.initialize(&[1]).await;
    cluster.leader().await;
    let node = cluster.node(1);
    let last_log = || node.status().last_log_index;
    let before = last_log();
    let limits = Limits::default();
    let value = "v".repeat(limits.entry_bytes_max + 1);
    let reply = node.write(command(&["XADD", "s", "*", "f", &value])).await;
    assert_eq!(
        reply.expect("answered"),
        Reply::Error(format!(
            "ERR entry is larger than {} bytes",
            limits.entry_bytes_max
        ))
    );
    // A DEL naming more key bytes than a log entry holds.
    let keys: Vec<String> = (0..10_000).map(|i| format!("{i:01000}")).collect();
    let mut del = vec!["DEL"];
    del.extend(keys.iter().map(String::as_str));
    let reply = node.write(command(&del)).await.expect("answered");
    assert!(
        matches!(&reply, Reply::Error(text) if text.contains("bytes of a log entry")),
        "{reply:?}"
    );
    assert_eq!(last_log(), before, "nothing was proposed");
    cluster.stop(1).await;
}
