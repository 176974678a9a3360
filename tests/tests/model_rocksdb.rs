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
use stream_model::{run_engine, script, Model, Op};

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
