//! The model-based check of `crates/rill-core/tests/model.rs`, with the engine running over a
//! RocksDB [`Txn`] as well as over [`MemStore`]:
//!
//! ```text
//!   script ──┬─▶ Model::apply ──────────────────────────────▶ reply ─┐
//!            ├─▶ execute(MemStore) ─────────────────────────▶ reply ─┼─ all equal
//!            └─▶ execute(db.begin()) ─▶ db.commit(txn, n+1) ─▶ reply ─┘
//! ```
//!
//! Every command commits (reads too), so the next one reads the previous ones' writes from disk,
//! not from the txn's overlay. At the end both stores must hold the same state, read record by
//! record through the `Store` trait.
//!
//! Case count: `PROPTEST_CASES` if set, else 64 (each case opens a fresh database).

#[path = "../../crates/rill-core/tests/common/stream_model.rs"]
mod stream_model;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use rill_core::invariants::check_delivery_bound;
use rill_core::{check_invariants, Limits, MemStore, Store, StreamId};
use rill_storage::{Db, DbOptions};
use stream_model::{
    run_engine, script, AddId, BoundArg, GroupStart, IdArg, Model, Op, ReadId, TrimArg,
};

const CASES_DEFAULT: u32 = 64;
const ALL: usize = usize::MAX;

/// Every record a store holds, one line each, in key order.
fn dump<S: Store>(store: &S) -> Vec<String> {
    let mut out = Vec::new();
    for key in store.stream_keys(None, ALL) {
        let k = String::from_utf8_lossy(&key).into_owned();
        out.push(format!("stream {k}: {:?}", store.stream(&key)));
        for (id, fields) in store.entries(&key, StreamId::MIN, StreamId::MAX, false, ALL) {
            out.push(format!("  entry {id}: {fields:?}"));
        }
        for (group, meta) in store.groups(&key) {
            let g = String::from_utf8_lossy(&group).into_owned();
            out.push(format!("  group {g}: {meta:?}"));
            for (id, pending) in
                store.pending_range(&key, &group, StreamId::MIN, StreamId::MAX, ALL)
            {
                out.push(format!("    pending {id}: {pending:?}"));
            }
            for (consumer, meta) in store.consumers(&key, &group) {
                let c = String::from_utf8_lossy(&consumer).into_owned();
                let ids = store.consumer_pending_range(
                    &key,
                    &group,
                    &consumer,
                    StreamId::MIN,
                    StreamId::MAX,
                    ALL,
                );
                out.push(format!("    consumer {c}: {meta:?} owns {ids:?}"));
            }
        }
    }
    out
}

fn run(script: &[(u64, Op)]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Db::open(
        dir.path().join("db"),
        &DbOptions {
            sync: false,
            ..DbOptions::default()
        },
    )
    .expect("open db");
    let limits = Limits::default();
    let mut model = Model::default();
    let mut mem = MemStore::new();
    let mut now_ms = 1;
    let mut applied_index = db.applied_index().expect("applied index");
    for (step, (advance_ms, op)) in script.iter().enumerate() {
        now_ms += advance_ms;
        let op = model.concretize(op);
        let argv = op.argv();
        let expected = model.apply(&op, now_ms);
        let from_mem = run_engine(&mut mem, &argv, now_ms, &limits);
        let mut txn = db.begin();
        let from_rocks = run_engine(&mut txn, &argv, now_ms, &limits);
        applied_index += 1;
        db.commit(txn, applied_index).expect("commit");
        let at = format!("step {step} at {now_ms} ms: {}", op.line());
        prop_assert_eq!(&from_rocks, &from_mem, "RocksDB vs MemStore, {}", at);
        prop_assert_eq!(&from_mem, &expected, "MemStore vs model, {}", at);
        let view = db.read();
        check_invariants(&view).map_err(|e| TestCaseError::fail(format!("{at}: {e}")))?;
        check_delivery_bound(&view).map_err(|e| TestCaseError::fail(format!("{at}: {e}")))?;
        view.status().expect("reads of the invariant check succeed");
    }
    prop_assert_eq!(db.applied_index().expect("applied index"), applied_index);
    let view = db.read();
    let (on_disk, in_memory) = (dump(&view), dump(&mem));
    view.status().expect("reads of the dump succeed");
    prop_assert_eq!(on_disk, in_memory, "final state differs");
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(CASES_DEFAULT)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/proptest-regressions/model_rocksdb.txt",
        ))),
        ..ProptestConfig::default()
    })]
    #[test]
    fn rocksdb_matches_memstore_and_model(script in script()) {
        run(&script)?;
    }
}

/// A delete-heavy history, long enough that trims take the range-delete path (more than 1,024
/// entries at once): a work queue whose deliveries are all acknowledged, exact trims by
/// length and by ID, XDEL at the head, DEL and a stream re-created under the same key with
/// lower IDs, a group destroyed and re-created. Model, MemStore and RocksDB agree after every
/// command, and the invariants hold.
#[test]
fn a_long_delete_heavy_history_matches_the_model() {
    let id = |n: u64| IdArg::Full(n, 0);
    let add = |n: u64, maxlen: Option<i64>| Op::XAdd {
        key: "a",
        nomkstream: false,
        maxlen: maxlen.map(|n| (true, n)),
        id: AddId::Given(id(n)),
        fields: vec![("f", "v")],
    };
    let read = |streams: Vec<(&'static str, ReadId)>, count| Op::XReadGroup {
        group: "g1",
        consumer: "c1",
        count: Some(count),
        noack: false,
        streams,
    };
    let mut script = vec![Op::GroupCreate {
        key: "a",
        group: "g1",
        start: GroupStart::Id(IdArg::Ms(0)),
        mkstream: true,
    }];
    // A work queue: appends trimmed to 150, each round read and acknowledged but for 5.
    let mut next = 1;
    for _ in 0..6 {
        let first = next;
        for _ in 0..100 {
            script.push(add(next, Some(150)));
            next += 1;
        }
        script.push(read(vec![("a", ReadId::New)], 100));
        script.push(Op::XAck {
            key: "a",
            group: "g1",
            ids: (first.saturating_sub(5)..next - 5).map(id).collect(),
        });
        script.push(Op::XPendingSummary {
            key: "a",
            group: "g1",
        });
        script.push(read(vec![("a", ReadId::After(IdArg::Ms(0)))], 10));
    }
    // A long head trimmed at once, then by ID, then deleted entry by entry.
    for _ in 0..1_500 {
        script.push(add(next, None));
        next += 1;
    }
    script.push(Op::XTrim {
        key: "a",
        trim: TrimArg::MaxLen { eq: true, n: 20 },
    });
    script.push(Op::XTrim {
        key: "a",
        trim: TrimArg::MinId {
            eq: true,
            id: id(next - 15),
        },
    });
    script.push(Op::XDel {
        key: "a",
        ids: (next - 15..next - 10).map(id).collect(),
    });
    for op in [
        Op::XRange {
            key: "a",
            rev: false,
            start: BoundArg::Min,
            end: BoundArg::Max,
            count: Some(3),
        },
        Op::XRange {
            key: "a",
            rev: true,
            start: BoundArg::Min,
            end: BoundArg::Max,
            count: Some(3),
        },
        Op::XPendingRange {
            key: "a",
            group: "g1",
            idle: None,
            start: BoundArg::Min,
            end: BoundArg::Max,
            count: 10,
            consumer: Some("c1"),
        },
        Op::XAutoClaim {
            key: "a",
            group: "g1",
            consumer: "c2",
            min_idle: 0,
            start: BoundArg::Min,
            count: Some(10),
            justid: false,
        },
        Op::GroupDestroy {
            key: "a",
            group: "g1",
        },
        Op::GroupCreate {
            key: "a",
            group: "g1",
            start: GroupStart::Id(IdArg::Ms(0)),
            mkstream: false,
        },
        read(vec![("a", ReadId::New)], 100),
        Op::Del { keys: vec!["a"] },
        add(1, None),
        Op::XRange {
            key: "a",
            rev: false,
            start: BoundArg::Min,
            end: BoundArg::Max,
            count: None,
        },
        Op::XLen { key: "a" },
    ] {
        script.push(op);
    }
    let script: Vec<(u64, Op)> = script.into_iter().map(|op| (1, op)).collect();
    if let Err(failure) = run(&script) {
        panic!("{failure}");
    }
}
