//! Model-based check of the engine over [`MemStore`]: random command scripts run on the naive
//! model in `common/stream_model.rs` and on `rill_core::execute`; every reply must be equal,
//! and the store's invariants must hold after every command.
//!
//! The scripts never use XGROUP SETID or XCLAIM FORCE, so the delivery bound ("no pending ID
//! above the group's last-delivered ID") is checked too.
//!
//! Where the engine is known to part from Redis, a flag in `stream_model::deviation` makes the
//! model follow the engine, so the rest stays checked; each flag says what Redis does instead.
//! Set one to `false` and this test finds the difference within a few cases.
//!
//! Cases: `PROPTEST_CASES` (default 256, about two seconds in a debug build).

#[path = "common/stream_model.rs"]
mod stream_model;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use rill_core::invariants::check_delivery_bound;
use rill_core::{check_invariants, Limits, MemStore};
use stream_model::{run_engine, script, Model, Op};

/// Runs `script` on both sides; `Err` names the first step where they part.
fn run(script: &[(u64, Op)]) -> Result<(), TestCaseError> {
    let limits = Limits::default();
    let mut model = Model::default();
    let mut store = MemStore::new();
    let mut now_ms = 1;
    for (step, (advance_ms, op)) in script.iter().enumerate() {
        now_ms += advance_ms;
        let op = &model.concretize(op);
        let expected = model.apply(op, now_ms);
        let actual = run_engine(&mut store, &op.argv(), now_ms, &limits);
        prop_assert_eq!(
            &actual,
            &expected,
            "step {} at {} ms: {}",
            step,
            now_ms,
            op.line()
        );
        check_invariants(&store)
            .map_err(|e| TestCaseError::fail(format!("step {step} {}: {e}", op.line())))?;
        check_delivery_bound(&store)
            .map_err(|e| TestCaseError::fail(format!("step {step} {}: {e}", op.line())))?;
    }
    Ok(())
}

proptest! {
    // Integration tests have no lib.rs for proptest to put its file beside; name it (inside
    // tests/, the part of this crate these tests own).
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/proptest-regressions/model.txt",
        ))),
        ..ProptestConfig::default()
    })]
    #[test]
    fn engine_matches_model(script in script()) {
        run(&script)?;
    }
}

/// The generator reaches every command often enough to matter: with errors, with empty
/// answers and with answers that carry something.
#[test]
fn scripts_cover_every_command() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use rill_core::Reply;
    use std::collections::BTreeMap;

    #[derive(Debug, Default)]
    struct Seen {
        errors: u32,
        empty: u32,
        substantive: u32,
    }
    let mut runner = TestRunner::deterministic();
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    let mut texts = BTreeMap::new();
    for _ in 0..256 {
        let script = script().new_tree(&mut runner).expect("tree").current();
        let mut model = Model::default();
        let mut now_ms = 1;
        for (advance_ms, op) in &script {
            now_ms += advance_ms;
            let op = &model.concretize(op);
            let reply = model.apply(op, now_ms);
            let argv = op.argv();
            let mut name = String::from_utf8_lossy(&argv[0]).into_owned();
            if name == "XGROUP" {
                name = format!("XGROUP {}", String::from_utf8_lossy(&argv[1]));
            }
            let counts = seen.entry(name.clone()).or_default();
            match reply {
                Reply::Error(e) => {
                    counts.errors += 1;
                    *texts.entry(format!("{name}: {e}")).or_insert(0u32) += 1;
                }
                Reply::Nil | Reply::NilArray | Reply::Int(0) => counts.empty += 1,
                Reply::Array(items) if items.is_empty() => counts.empty += 1,
                // XAUTOCLAIM's reply always has three parts; it matters when one is not empty.
                Reply::Array(items)
                    if items.len() == 3
                        && items[1] == Reply::Array(Vec::new())
                        && items[2] == Reply::Array(Vec::new()) =>
                {
                    counts.empty += 1
                }
                _ => counts.substantive += 1,
            }
        }
    }
    let report = format!("{seen:#?}\n{texts:#?}");
    eprintln!("{seen:?}");
    for (name, counts) in &seen {
        // An XGROUP DELCONSUMER that matters needs a consumer with pending entries: rarer.
        let substantive_min = if name == "XGROUP DELCONSUMER" { 5 } else { 25 };
        assert!(
            counts.substantive >= substantive_min,
            "{name}: too few substantive replies\n{report}"
        );
        let always_ok = ["XLEN", "EXISTS", "DEL"].contains(&name.as_str());
        assert!(
            always_ok || counts.errors >= 5,
            "{name}: too few errors\n{report}"
        );
    }
    assert_eq!(seen.len(), 17, "commands seen: {report}");
}
