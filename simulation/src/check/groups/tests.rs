use super::*;

fn run_at(model: &mut Model, index: u64, now_ms: u64, args: &str, reply: Reply) {
    let argv: Vec<Vec<u8>> = args.split(' ').map(|a| a.as_bytes().to_vec()).collect();
    let command = match rill_core::parse(&argv) {
        Some(Ok(command)) => command,
        other => panic!("{args}: {other:?}"),
    };
    model.apply(index, now_ms, &command, &reply);
}

fn run(model: &mut Model, index: u64, args: &str, reply: Reply) {
    run_at(model, index, 1_000, args, reply);
}

fn entries(ids: &[&str]) -> Reply {
    let entry = |id: &str| Reply::Array(vec![Reply::bulk(id), Reply::Array(Vec::new())]);
    Reply::Array(ids.iter().map(|id| entry(id)).collect())
}

fn delivered(ids: &[&str]) -> Reply {
    Reply::PairMap(vec![(Reply::bulk(STREAM), entries(ids))])
}

fn autoclaimed(cursor: &str, ids: &[&str], deleted: &[&str]) -> Reply {
    let bare = Reply::Array(deleted.iter().map(|id| Reply::bulk(*id)).collect());
    Reply::Array(vec![Reply::bulk(cursor), entries(ids), bare])
}

/// A queue of 1-1, 1-2, 1-3 and group `g` at 0.
fn queue() -> Model {
    let mut model = Model::default();
    run(&mut model, 1, "XGROUP CREATE q g 0 MKSTREAM", Reply::ok());
    for (i, id) in ["1-1", "1-2", "1-3"].iter().enumerate() {
        run(&mut model, 2 + i as u64, "XADD q * op v", Reply::bulk(*id));
    }
    model
}

fn counts(model: &Model) -> Vec<(String, u64)> {
    model
        .pending()
        .into_iter()
        .map(|(_, id, _, count, _)| (id, count))
        .collect()
}

#[test]
fn an_honest_history_passes() {
    let mut model = queue();
    run(
        &mut model,
        5,
        "XREADGROUP GROUP g a COUNT 2 STREAMS q >",
        delivered(&["1-1", "1-2"]),
    );
    run(&mut model, 6, "XACK q g 1-1", Reply::Int(1));
    run_at(
        &mut model,
        7,
        3_000,
        "XAUTOCLAIM q g b 1000 0-0",
        autoclaimed("0-0", &["1-2"], &[]),
    );
    run_at(
        &mut model,
        8,
        3_000,
        "XREADGROUP GROUP g b STREAMS q 0",
        delivered(&["1-2"]),
    );
    assert_eq!(model.violations, Vec::<String>::new());
    let pending = model.pending();
    assert_eq!(
        pending,
        vec![("g".into(), "1-2".into(), "b".into(), 3, 3_000)],
        "delivered once, claimed once, reread once"
    );
    assert!(model.check_seen("a", &["1-1".to_owned()]).is_empty());
}

#[test]
fn a_gap_in_new_deliveries_is_caught() {
    let mut model = queue();
    run(
        &mut model,
        5,
        "XREADGROUP GROUP g a COUNT 2 STREAMS q >",
        delivered(&["1-1", "1-3"]),
    );
    assert_eq!(model.violations.len(), 1, "{:?}", model.violations);
}

#[test]
fn a_claim_after_an_ack_is_caught() {
    let mut model = queue();
    run(
        &mut model,
        5,
        "XREADGROUP GROUP g a COUNT 1 STREAMS q >",
        delivered(&["1-1"]),
    );
    run(&mut model, 6, "XACK q g 1-1", Reply::Int(1));
    run_at(
        &mut model,
        7,
        5_000,
        "XAUTOCLAIM q g b 1000 0-0",
        autoclaimed("0-0", &["1-1"], &[]),
    );
    assert!(!model.violations.is_empty());
}

#[test]
fn a_history_read_of_another_consumers_entry_is_caught() {
    let mut model = queue();
    run(
        &mut model,
        5,
        "XREADGROUP GROUP g a COUNT 1 STREAMS q >",
        delivered(&["1-1"]),
    );
    run(
        &mut model,
        6,
        "XREADGROUP GROUP g b STREAMS q 0",
        delivered(&["1-1"]),
    );
    assert_eq!(model.violations.len(), 1, "{:?}", model.violations);
}

#[test]
fn wrong_counts_and_unlogged_deliveries_are_caught() {
    let mut model = queue();
    run(&mut model, 5, "XACK q g 1-1", Reply::Int(1));
    run(&mut model, 6, "XTRIM q MAXLEN 2", Reply::Int(0));
    run(&mut model, 7, "XDEL q 1-2 1-9", Reply::Int(2));
    assert_eq!(model.violations.len(), 3, "{:?}", model.violations);
    assert_eq!(model.check_seen("a", &["1-2".to_owned()]).len(), 1);
}

#[test]
fn a_claim_of_an_entry_not_idle_long_enough_is_caught() {
    let mut model = queue();
    run_at(
        &mut model,
        5,
        1_000,
        "XREADGROUP GROUP g a COUNT 1 STREAMS q >",
        delivered(&["1-1"]),
    );
    // Idle 500 ms of the 1,000 asked.
    run_at(
        &mut model,
        6,
        1_500,
        "XCLAIM q g b 1000 1-1",
        entries(&["1-1"]),
    );
    assert_eq!(model.violations.len(), 1, "{:?}", model.violations);
    let mut model = queue();
    run_at(
        &mut model,
        5,
        1_000,
        "XREADGROUP GROUP g a COUNT 1 STREAMS q >",
        delivered(&["1-1"]),
    );
    run_at(
        &mut model,
        6,
        1_500,
        "XAUTOCLAIM q g b 1000 0-0",
        autoclaimed("0-0", &["1-1"], &[]),
    );
    assert_eq!(model.violations.len(), 1, "{:?}", model.violations);
}

#[test]
fn an_autoclaim_that_leaves_an_idle_entry_behind_is_caught() {
    let mut model = queue();
    run_at(
        &mut model,
        5,
        1_000,
        "XREADGROUP GROUP g a STREAMS q >",
        delivered(&["1-1", "1-2", "1-3"]),
    );
    // All three are idle; COUNT 2 must claim 1-1 and 1-2 and point at 1-3.
    run_at(
        &mut model,
        6,
        9_000,
        "XAUTOCLAIM q g b 1000 0-0 COUNT 2",
        autoclaimed("0-0", &["1-1"], &[]),
    );
    assert_eq!(model.violations.len(), 1, "{:?}", model.violations);
}

#[test]
fn delivery_counts_follow_claims_and_rereads() {
    let mut model = queue();
    run_at(
        &mut model,
        5,
        1_000,
        "XREADGROUP GROUP g a COUNT 2 STREAMS q >",
        delivered(&["1-1", "1-2"]),
    );
    run_at(
        &mut model,
        6,
        3_000,
        "XCLAIM q g b 1000 1-1",
        entries(&["1-1"]),
    );
    let justid = Reply::Array(vec![Reply::bulk("1-2")]);
    run_at(&mut model, 7, 3_000, "XCLAIM q g b 1000 1-2 JUSTID", justid);
    assert_eq!(model.violations, Vec::<String>::new());
    assert_eq!(
        counts(&model),
        vec![("1-1".into(), 2), ("1-2".into(), 1)],
        "a claim counts a delivery, JUSTID does not"
    );
}

#[test]
fn deleted_pending_entries_leave_on_claim_and_setid_allows_redelivery() {
    let mut model = queue();
    run(
        &mut model,
        5,
        "XREADGROUP GROUP g a STREAMS q >",
        delivered(&["1-1", "1-2", "1-3"]),
    );
    run(&mut model, 6, "XACK q g 1-3", Reply::Int(1));
    run(&mut model, 7, "XDEL q 1-1", Reply::Int(1));
    run_at(
        &mut model,
        8,
        5_000,
        "XAUTOCLAIM q g b 0 0-0",
        autoclaimed("0-0", &["1-2"], &["1-1"]),
    );
    run(&mut model, 9, "XGROUP SETID q g 1-2", Reply::ok());
    run(
        &mut model,
        10,
        "XREADGROUP GROUP g c STREAMS q >",
        delivered(&["1-3"]),
    );
    assert_eq!(model.violations, Vec::<String>::new());
    // The same read without the move would be a repeat.
    let mut unmoved = queue();
    run(
        &mut unmoved,
        5,
        "XREADGROUP GROUP g a STREAMS q >",
        delivered(&["1-1", "1-2", "1-3"]),
    );
    run(
        &mut unmoved,
        6,
        "XREADGROUP GROUP g c STREAMS q >",
        delivered(&["1-3"]),
    );
    assert_eq!(unmoved.violations.len(), 1, "{:?}", unmoved.violations);
}

#[test]
fn commands_on_a_missing_group_must_fail() {
    let mut model = queue();
    run(&mut model, 5, "XGROUP DESTROY q g", Reply::Int(1));
    run(
        &mut model,
        6,
        "XREADGROUP GROUP g a STREAMS q >",
        delivered(&["1-1"]),
    );
    run(&mut model, 7, "XACK q g 1-1", Reply::Int(0));
    assert_eq!(model.violations.len(), 1, "{:?}", model.violations);
}
