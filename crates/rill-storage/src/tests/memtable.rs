//! What writing a batch into the memtables costs, counted as RocksDB's perf context counts key
//! comparisons (`UserKeyComparisonCount`): an acknowledgement deletes records that the read
//! before it wrote a moment ago, in three indexes at once, and each of those tombstones must
//! land next to the last one without a search from the skiplist's top
//! (`db::MEMTABLE_INSERT_HINTS`).

use rill_core::{execute, parse, Limits, Reply};
use rocksdb::perf::{set_perf_stats, PerfContext, PerfMetric, PerfStatsLevel};

use super::temp_db;

fn command(line: &str) -> rill_core::Command {
    let argv: Vec<Vec<u8>> = line.split(' ').map(|a| a.as_bytes().to_vec()).collect();
    match parse(&argv) {
        Some(Ok(command)) => command,
        other => panic!("{line}: not a command: {other:?}"),
    }
}

/// Key comparisons per record written when a consumer acknowledges `n` entries it has just
/// read: its commit deletes three records per entry (the PEL's, its consumer's index's and
/// the delivery order's) and rewrites a few others.
fn comparisons_per_acknowledged_record(n: usize) -> f64 {
    let (_dir, db) = temp_db();
    let limits = Limits::default();
    let mut applied = 0;
    let mut run = |line: &str, measure: bool| -> (Reply, u64) {
        applied += 1;
        let mut txn = db.begin();
        let reply = execute(&mut txn, &command(line), 1_000 + applied, &limits);
        set_perf_stats(PerfStatsLevel::EnableCount);
        let mut perf = PerfContext::default();
        perf.reset();
        db.commit(txn, applied).expect("commit");
        let comparisons = perf.metric(PerfMetric::UserKeyComparisonCount);
        set_perf_stats(PerfStatsLevel::Disable);
        (reply, if measure { comparisons } else { 0 })
    };
    run("XGROUP CREATE q g $ MKSTREAM", false);
    let ids: Vec<String> = (1..=n)
        .map(|i| {
            run(&format!("XADD q {i}-1 f v"), false);
            format!("{i}-1")
        })
        .collect();
    run(
        &format!("XREADGROUP GROUP g c COUNT {n} STREAMS q >"),
        false,
    );
    let (reply, comparisons) = run(&format!("XACK q g {}", ids.join(" ")), true);
    assert_eq!(reply, Reply::Int(n as i64));
    comparisons as f64 / (3 * n) as f64
}

#[test]
fn an_acknowledgements_tombstones_are_inserted_without_a_search() {
    // Each tombstone lands just before its key's record, so a memtable that remembers one
    // place per batch searches for each from the skiplist's top, about 2 log2(n) comparisons
    // and growing with the memtable; with a place per key tag it steps there from the last.
    // Measured at 5,000 entries (this count includes the batch's other work): 28-30 per
    // record without the hints, 13 with them.
    let per_record = comparisons_per_acknowledged_record(5_000);
    assert!(
        per_record < 20.0,
        "{per_record:.1} key comparisons per record written: the memtable insert hints are lost"
    );
}

#[test]
fn an_options_string_with_an_unknown_name_is_refused() {
    let mut options = rocksdb::Options::default();
    let error = options
        .apply_options_string("no_such_option=1")
        .expect_err("an unknown option name");
    assert!(error.to_string().contains("no_such_option"), "{error}");
    options
        .apply_options_string(crate::db::MEMTABLE_INSERT_HINTS)
        .expect("the hints Rill sets");
}
