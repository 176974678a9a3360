//! A stream's cost must not grow with its history: after a long work queue (appends trimmed
//! with `MAXLEN ~`, every delivery acknowledged), reads step over a bounded number of
//! tombstones, however many entries came and went. RocksDB's perf context counts the deleted
//! records an iterator skipped, so these tests count work rather than time it.
//!
//! Each case runs commands through `rill_core::execute` on `Txn`s, one commit per command as
//! the state machine does, so the layout under test is the one a node writes.

use rill_core::{execute, parse, Limits, Reply, StreamId};
use rocksdb::perf::{set_perf_stats, PerfContext, PerfMetric, PerfStatsLevel};
use rocksdb::statistics::Ticker;

use super::temp_db;
use crate::cf::Cf;
use crate::db::Db;

struct Node {
    db: Db,
    applied: u64,
    now_ms: u64,
    limits: Limits,
    _dir: tempfile::TempDir,
}

impl Node {
    fn new() -> Node {
        let (dir, db) = temp_db();
        Node {
            db,
            applied: 0,
            now_ms: 1_000,
            limits: Limits::default(),
            _dir: dir,
        }
    }

    /// Runs one command as its own committed batch.
    fn run(&mut self, line: &str) -> Reply {
        let argv: Vec<Vec<u8>> = line.split(' ').map(|a| a.as_bytes().to_vec()).collect();
        let command = match parse(&argv) {
            Some(Ok(command)) => command,
            other => panic!("{line}: not a command: {other:?}"),
        };
        self.now_ms += 1;
        let mut txn = self.db.begin();
        let reply = execute(&mut txn, &command, self.now_ms, &self.limits);
        self.applied += 1;
        self.db.commit(txn, self.applied).expect("commit");
        reply
    }

    fn check_invariants(&self) {
        let view = self.db.read();
        rill_core::check_invariants(&view).expect("invariants");
        view.status().expect("reads of the check");
    }

    /// Deleted records RocksDB stepped over while running `line`.
    fn tombstones_walked(&mut self, line: &str) -> u64 {
        self.check_invariants();
        set_perf_stats(PerfStatsLevel::EnableCount);
        let mut perf = PerfContext::default();
        perf.reset();
        self.run(line);
        // Point tombstones stepped over (`InternalKeySkippedCount` also counts live keys read).
        let walked = perf.metric(PerfMetric::InternalDeleteSkippedCount);
        set_perf_stats(PerfStatsLevel::Disable);
        walked
    }

    fn flush(&self) {
        for cf in Cf::STATE {
            self.db.rocks().flush_cf(self.db.handle(cf)).expect("flush");
        }
    }
}

/// Entry IDs in a reply of XREADGROUP (`[[key, [[id, fields], ..]]]`).
fn delivered(reply: &Reply) -> Vec<String> {
    let Reply::PairMap(streams) = reply else {
        return Vec::new();
    };
    let mut ids = Vec::new();
    for (_, entries) in streams {
        let Reply::Array(entries) = entries else {
            continue;
        };
        for entry in entries {
            if let Reply::Array(parts) = entry {
                if let Some(Reply::Bulk(id)) = parts.first() {
                    ids.push(String::from_utf8_lossy(id).into_owned());
                }
            }
        }
    }
    ids
}

/// A work queue: `rounds` of `batch` appends trimmed to about 500 entries, one group read of
/// everything new, and an ack of all but the newest `left_pending`, which the next round acks.
fn work_queue(node: &mut Node, rounds: usize, batch: usize, left_pending: usize) {
    node.run("XGROUP CREATE q g $ MKSTREAM");
    let mut unacked: Vec<String> = Vec::new();
    for round in 0..rounds {
        for _ in 0..batch {
            node.run("XADD q MAXLEN ~ 500 * f 01234567890123456789");
        }
        let mut ids =
            delivered(&node.run(&format!("XREADGROUP GROUP g c COUNT {batch} STREAMS q >")));
        assert_eq!(ids.len(), batch, "round {round} delivers its batch");
        unacked.append(&mut ids);
        let ack_upto = unacked.len() - left_pending;
        let acked: Vec<String> = unacked.drain(..ack_upto).collect();
        node.run(&format!("XACK q g {}", acked.join(" ")));
        if round == rounds / 2 {
            node.flush();
        }
        if round % 10 == 0 {
            node.check_invariants();
        }
    }
}

const READS: [&str; 8] = [
    "XRANGE q - + COUNT 10",
    "XREVRANGE q + - COUNT 10",
    "XLEN q",
    "XPENDING q g",
    "XPENDING q g - + 10",
    "XPENDING q g - + 10 c",
    "XREADGROUP GROUP g c COUNT 10 STREAMS q 0",
    "XAUTOCLAIM q g c 0 0-0 COUNT 10",
];

/// 20,000 entries added, trimmed and acknowledged; the reads of the head of the stream and of
/// the PEL walk a handful of tombstones, not thousands. Without the first-ID bounds each walks
/// one per entry ever trimmed or acknowledged (9,800 to 19,600 here, measured by removing them).
#[test]
fn reads_after_a_long_work_queue_walk_few_tombstones() {
    let mut node = Node::new();
    work_queue(&mut node, 100, 200, 10);
    for read in READS {
        let walked = node.tombstones_walked(read);
        assert!(walked <= 64, "{read}: walked {walked} tombstones");
    }
    // Appending, delivering and acknowledging stay as cheap as the reads.
    for line in [
        "XADD q MAXLEN ~ 100 * f v",
        "XREADGROUP GROUP g c COUNT 1 STREAMS q >",
    ] {
        let walked = node.tombstones_walked(line);
        assert!(walked <= 64, "{line}: walked {walked} tombstones");
    }
}

/// A long head trimmed at once is one range delete: the trim and the reads after it cost the
/// same as on a fresh stream, and the stream's first ID moves to the first entry kept.
#[test]
fn trimming_a_long_head_is_one_range_delete() {
    let mut node = Node::new();
    for _ in 0..5_000 {
        node.run("XADD s * f v");
    }
    let first_kept = match node.run("XREVRANGE s + - COUNT 10") {
        Reply::Array(entries) => entries.last().cloned(),
        other => panic!("XREVRANGE: {other:?}"),
    };
    assert_eq!(node.run("XTRIM s MAXLEN 10"), Reply::Int(4_990));
    let after = node.run("XRANGE s - + COUNT 1");
    assert_eq!(after, Reply::Array(first_kept.into_iter().collect()));
    for read in ["XRANGE s - + COUNT 10", "XLEN s", "XADD s MAXLEN 10 * f v"] {
        let walked = node.tombstones_walked(read);
        assert!(walked <= 16, "{read}: walked {walked} tombstones");
    }
    let raw = super::raw_records(&node.db, Cf::Entries);
    assert_eq!(raw.len(), 10, "only the kept entries remain");
}

/// A deleted stream's records are range deletes; a new stream under the same key reads only its
/// own entry. (RocksDB's perf context does not count records a range delete hides, so the
/// tombstone bound here guards point deletes only; the benchmark's `history` mode times it.)
#[test]
fn a_stream_recreated_after_del_reads_like_a_fresh_one() {
    let mut node = Node::new();
    for _ in 0..3_000 {
        node.run("XADD s * f v");
    }
    node.run("XGROUP CREATE s g 0");
    node.run("XREADGROUP GROUP g c STREAMS s >");
    assert_eq!(node.run("DEL s"), Reply::Int(1));
    node.run("XADD s 1-1 f v");
    for read in ["XRANGE s - + COUNT 10", "XLEN s", "XREVRANGE s + - COUNT 1"] {
        let walked = node.tombstones_walked(read);
        assert!(walked <= 16, "{read}: walked {walked} tombstones");
    }
    let entries = node.run("XRANGE s - + COUNT 10");
    let Reply::Array(entries) = entries else {
        panic!("XRANGE: {entries:?}");
    };
    let ids: Vec<Reply> = entries
        .into_iter()
        .filter_map(|entry| match entry {
            Reply::Array(mut parts) if !parts.is_empty() => Some(parts.remove(0)),
            _ => None,
        })
        .collect();
    assert_eq!(ids, vec![Reply::bulk(StreamId::new(1, 1).to_string())]);
}

/// The disk under a long trimmed head comes back: the range delete is compacted right after
/// its commit, without waiting for RocksDB to pick those files.
#[test]
fn the_disk_under_a_trimmed_head_comes_back() {
    let mut node = Node::new();
    for _ in 0..20_000 {
        node.run("XADD s * f 0123456789012345678901234567890123456789");
    }
    node.flush();
    let sst_bytes = |node: &Node| {
        node.db
            .rocks()
            .property_int_value_cf(node.db.handle(Cf::Entries), "rocksdb.live-sst-files-size")
            .expect("property")
            .expect("a live-sst-files-size")
    };
    let before = sst_bytes(&node);
    assert!(
        before > 1_000_000,
        "20,000 entries in {before} bytes of files"
    );
    assert_eq!(node.run("XTRIM s MAXLEN 10"), Reply::Int(19_990));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while sst_bytes(&node) > before / 10 {
        assert!(
            std::time::Instant::now() < deadline,
            "entries still take {} of {before} bytes 30 s after the trim",
            sst_bytes(&node)
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// KEYS and SCAN list the streams family whole; as streams come and go, the family is
/// compacted every 4,096 deletes, so a listing steps over fewer tombstones than that (all
/// 9,990 without it).
#[test]
fn listing_keys_after_many_deletes_walks_few_tombstones() {
    let mut node = Node::new();
    for i in 0..10_000 {
        node.run(&format!("XADD job:{i:05} * f v"));
    }
    for i in 0..9_990 {
        node.run(&format!("DEL job:{i:05}"));
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let walked = node.tombstones_walked("SCAN 0 COUNT 10");
        if walked < 4_096 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "SCAN still walks {walked} tombstones 30 s after the deletes"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let keys = node.run("KEYS *");
    let Reply::Array(keys) = keys else {
        panic!("KEYS: {keys:?}");
    };
    assert_eq!(keys.len(), 10);
}

/// XAUTOCLAIM walks the PEL a chunk at a time on the disk store too: claiming 150 of 200
/// pending entries seeks 6 times (3 chunks of the PEL), where one scan per visited record
/// seeked 154 times.
#[test]
fn xautoclaim_seeks_once_per_chunk_of_the_pel() {
    let mut node = Node::new();
    for ms in 1..=200 {
        node.run(&format!("XADD s {ms}-0 f v"));
    }
    node.run("XGROUP CREATE s g 0");
    assert_eq!(
        delivered(&node.run("XREADGROUP GROUP g c1 COUNT 200 STREAMS s >")).len(),
        200
    );
    let seeks = |node: &Node| node.db.db_options.get_ticker_count(Ticker::NumberDbSeek);
    let before = seeks(&node);
    let reply = node.run("XAUTOCLAIM s g c2 0 0-0 COUNT 150 JUSTID");
    let used = seeks(&node) - before;
    let Reply::Array(parts) = &reply else {
        panic!("XAUTOCLAIM: {reply:?}");
    };
    assert!(
        matches!(parts.as_slice(), [Reply::Bulk(cursor), Reply::Array(claimed), _]
            if cursor.as_slice() == b"151-0" && claimed.len() == 150),
        "{reply:?}"
    );
    assert!(used <= 10, "{used} seeks for 151 visits");
    node.check_invariants();
}

/// A commit finds a first record again by a seek only when the scope still holds something:
/// an acknowledgement of everything a consumer holds leaves its count at zero, and its first
/// record goes without a scan. Without that check, each XACK below seeked once more per
/// emptied consumer (3 and 3 instead of 2 and 0). The first read has CLAIM (which finds
/// nothing idle), so the group keeps its delivery order and its first delivery too.
#[test]
fn a_scope_left_empty_is_not_scanned_for_its_first_place() {
    let mut node = Node::new();
    node.run("XGROUP CREATE q g $ MKSTREAM");
    for ms in 1..=20 {
        node.run(&format!("XADD q {ms}-0 f v"));
    }
    let a = delivered(&node.run("XREADGROUP GROUP g a COUNT 10 CLAIM 1000000 STREAMS q >"));
    let b = delivered(&node.run("XREADGROUP GROUP g b COUNT 10 STREAMS q >"));
    assert_eq!((a.len(), b.len()), (10, 10));
    let acknowledge = |node: &mut Node, ids: &[String]| {
        let seeks = |node: &Node| node.db.db_options.get_ticker_count(Ticker::NumberDbSeek);
        let before = seeks(node);
        let reply = node.run(&format!("XACK q g {}", ids.join(" ")));
        assert_eq!(reply, Reply::Int(10));
        let used = seeks(node) - before;
        node.check_invariants();
        used
    };
    // `a` held the group's first entries: the group's first ID and first delivery are found
    // again among `b`'s, and `a`, left empty, is not scanned.
    assert_eq!(
        acknowledge(&mut node, &a),
        2,
        "seeks acknowledging a's entries"
    );
    // The first records found again: XPENDING's summary starts at `b`'s first, and `b`'s own
    // list starts there too.
    let summary = node.run("XPENDING q g");
    let Reply::Array(parts) = &summary else {
        panic!("XPENDING: {summary:?}");
    };
    assert_eq!(
        parts[..2],
        [Reply::Int(10), Reply::bulk(b[0].clone())],
        "{summary:?}"
    );
    let listed = node.run("XPENDING q g - + 1 b");
    let Reply::Array(entries) = &listed else {
        panic!("XPENDING b: {listed:?}");
    };
    assert!(
        matches!(entries.as_slice(), [Reply::Array(entry)] if entry[0] == Reply::bulk(b[0].clone())),
        "{listed:?}"
    );
    // Now the group is empty too: nothing to find.
    assert_eq!(
        acknowledge(&mut node, &b),
        0,
        "seeks acknowledging b's entries"
    );
    let pending = node.run("XPENDING q g");
    assert_eq!(
        pending,
        Reply::Array(vec![Reply::Int(0), Reply::Nil, Reply::Nil, Reply::NilArray]),
        "{pending:?}"
    );
}

/// A group pays for its delivery order (`pel_by_delivery`) only once a CLAIM read needs it:
/// reads and acknowledgements without CLAIM write no delivery record. The first CLAIM read
/// orders what is pending and claims the oldest delivery first; from then on each delivery
/// and acknowledgement keeps the order, and the group's end takes its ordered record along.
/// Fails if every group kept the order (the first count), or if a group ordered late got
/// its order wrong (the claims, and `dump`'s check of the records against the PEL).
#[test]
fn only_a_group_read_with_claim_keeps_its_delivery_order() {
    use crate::cf::KeyTag;

    let mut node = Node::new();
    let tagged = |node: &Node, cf: Cf, tag: KeyTag| super::tagged_count(&node.db, cf, tag);
    node.run("XGROUP CREATE q g $ MKSTREAM");
    for ms in 1..=30 {
        node.run(&format!("XADD q {ms}-0 f v"));
    }
    // `a` reads 10, then `b` 10 (later), and `a` acknowledges its first 5.
    let a = delivered(&node.run("XREADGROUP GROUP g a COUNT 10 STREAMS q >"));
    let b = delivered(&node.run("XREADGROUP GROUP g b COUNT 10 STREAMS q >"));
    assert_eq!(
        node.run(&format!("XACK q g {}", a[..5].join(" "))),
        Reply::Int(5)
    );
    node.flush();
    assert_eq!(tagged(&node, Cf::Pel, KeyTag::PendingByDelivery), 0);
    assert_eq!(tagged(&node, Cf::Pel, KeyTag::DeliveryFirst), 0);
    assert_eq!(tagged(&node, Cf::Groups, KeyTag::DeliveryOrdered), 0);
    super::dump(&node.db);

    // `c` claims the 7 oldest deliveries: `a`'s last 5, then `b`'s first 2.
    let claimed = delivered(&node.run("XREADGROUP GROUP g c COUNT 7 CLAIM 0 STREAMS q >"));
    let mut oldest: Vec<String> = a[5..].to_vec();
    oldest.extend_from_slice(&b[..2]);
    assert_eq!(claimed, oldest);
    node.check_invariants();
    node.flush();
    assert_eq!(tagged(&node, Cf::Groups, KeyTag::DeliveryOrdered), 1);
    assert_eq!(tagged(&node, Cf::Pel, KeyTag::PendingByDelivery), 15);
    super::dump(&node.db);

    // Kept from then on: a read without CLAIM adds to the order, an acknowledgement takes
    // from it, and the next CLAIM read finds `b`'s remaining entries oldest first.
    let d = delivered(&node.run("XREADGROUP GROUP g d COUNT 5 STREAMS q >"));
    assert_eq!(d.len(), 5);
    assert_eq!(
        node.run(&format!("XACK q g {}", claimed.join(" "))),
        Reply::Int(7)
    );
    super::dump(&node.db);
    let next = delivered(&node.run("XREADGROUP GROUP g e COUNT 9 CLAIM 0 STREAMS q >"));
    let mut expected: Vec<String> = b[2..].to_vec();
    expected.push(d[0].clone());
    assert_eq!(next, expected);
    node.check_invariants();
    super::dump(&node.db);

    // The group's end removes its ordered record (`dump` fails on one left without a group),
    // and so does the stream's.
    node.run("XGROUP DESTROY q g");
    node.flush();
    assert_eq!(tagged(&node, Cf::Groups, KeyTag::DeliveryOrdered), 0);
    super::dump(&node.db);
    node.run("XGROUP CREATE q h 0");
    node.run("XREADGROUP GROUP h a COUNT 1 CLAIM 0 STREAMS q >");
    node.flush();
    assert_eq!(tagged(&node, Cf::Groups, KeyTag::DeliveryOrdered), 1);
    assert_eq!(node.run("DEL q"), Reply::Int(1));
    node.flush();
    assert_eq!(tagged(&node, Cf::Groups, KeyTag::DeliveryOrdered), 0);
    super::dump(&node.db);
}
