//! Planted bugs: each switches on a deliberate fault in Rill, and a CI seed must catch it with
//! the checker named after the property it breaks; the same seed without the bug is clean, so
//! the bug, not the schedule, was caught. A checker that never fails proves nothing.
//!
//! Hunt for catching seeds of one bug:
//!   SIM_BUG=vote_not_fsynced SIM_SEEDS=0..20 cargo nextest run -p rill-sim --release -E 'test(=hunt)' --no-capture

use rill_sim::{rerun_in_child, run, Config, Fault, Report};

/// A planted bug: its name, how to switch it on, and words one of its violations must hold.
struct Plant {
    name: &'static str,
    plant: fn(&mut Config),
    expect: &'static [&'static str],
}

const PLANTS: &[Plant] = &[
    Plant {
        name: "apply_with_local_clock",
        plant: |c| c.bugs.apply_with_local_clock = true,
        expect: &["state digest", "ran at"],
    },
    Plant {
        name: "skip_producer_dedup",
        plant: |c| c.bugs.skip_producer_dedup = true,
        expect: &["appears twice", "a producer retry"],
    },
    Plant {
        // Lost acknowledged writes need a majority to lose power: crash them all.
        name: "ack_before_fsync",
        plant: |c| {
            c.ack_before_fsync = true;
            c.only = Some(Fault::CrashAll);
        },
        expect: &["booted with another log", "is missing"],
    },
    Plant {
        // The group commit's own bug: appends reported stored with no fsync. As above, lost
        // acknowledged writes need a majority to lose power.
        name: "append_reported_unflushed",
        plant: |c| {
            c.bugs.append_reported_unflushed = true;
            c.only = Some(Fault::CrashAll);
        },
        expect: &["booted with another log", "is missing"],
    },
    Plant {
        // A stale read needs a deposed leader that still answers: isolate leaders.
        name: "serve_reads_without_read_index",
        plant: |c| {
            c.bugs.serve_reads_without_read_index = true;
            c.only = Some(Fault::IsolateLeader);
        },
        expect: &["missed"],
    },
    Plant {
        name: "reply_before_commit",
        plant: |c| {
            c.bugs.reply_before_commit = true;
            c.only = Some(Fault::IsolateLeader);
        },
        expect: &["is missing", "acknowledged as"],
    },
    Plant {
        name: "apply_twice_after_snapshot_install",
        plant: |c| c.bugs.apply_twice_after_snapshot_install = true,
        expect: &["state digest", "answered"],
    },
    Plant {
        name: "vote_not_fsynced",
        plant: |c| c.bugs.vote_not_fsynced = true,
        expect: &["stored the vote"],
    },
    Plant {
        // A stale suffix needs a deposed leader with entries no one else has: isolate
        // leaders while clients still reach them.
        name: "truncate_keeps_stale_suffix",
        plant: |c| {
            c.bugs.truncate_keeps_stale_suffix = true;
            c.only = Some(Fault::IsolateLeader);
            // More uncommitted entries than one append carries (`entries_per_append_max`).
            c.proposals_in_flight = 16;
        },
        expect: &["stale suffix"],
    },
    Plant {
        name: "xack_wrong_group",
        plant: |c| c.bugs.xack_wrong_group = true,
        expect: &["XACK of"],
    },
    Plant {
        name: "forward_twice",
        plant: |c| c.bugs.forward_twice = true,
        expect: &["appears twice"],
    },
    Plant {
        // Needs fsyncs that fail.
        name: "ignore_fsync_errors",
        plant: |c| {
            c.bugs.ignore_fsync_errors = true;
            c.only = Some(Fault::FsyncError);
        },
        expect: &[
            "did not start",
            "skips",
            "is missing",
            "booted with another log",
        ],
    },
    Plant {
        name: "claim_keeps_delivery_count",
        plant: |c| c.bugs.claim_keeps_delivery_count = true,
        expect: &["claims", "pending lists"],
    },
];

fn plant(name: &str) -> &'static Plant {
    PLANTS
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no planted bug {name}"))
}

fn with_bug(plant: &Plant, seed: u64) -> Config {
    let mut config = Config::new(seed);
    (plant.plant)(&mut config);
    config
}

fn caught(plant: &Plant, report: &Report) -> bool {
    report
        .violations
        .iter()
        .any(|v| plant.expect.iter().any(|words| v.contains(words)))
}

/// `seed` catches bug `name` with the expected checker, and runs clean without it.
fn caught_by(name: &str, seed: u64) {
    let plant = plant(name);
    let config = with_bug(plant, seed);
    let report = run(&config);
    println!("{}", report.summary());
    for violation in report.violations.iter().take(5) {
        println!("  {violation}");
    }
    assert!(
        caught(plant, &report),
        "{name}: seed {seed} did not catch it with {:?}; violations: {:?}",
        plant.expect,
        report.violations
    );
    let clean = run(&Config {
        bugs: Default::default(),
        ack_before_fsync: false,
        wipe_disks: false,
        ..config
    });
    assert!(
        clean.violations.is_empty(),
        "{name}: seed {seed} fails without the bug too: {:?}",
        clean.violations
    );
}

/// Runs bug `SIM_BUG` on seed `SIM_SEED`, or on each seed of `SIM_SEEDS=A..B` in a child
/// process of its own (as a CI test runs it), and says which catch it.
#[test]
fn hunt() {
    let Ok(name) = std::env::var("SIM_BUG") else {
        return;
    };
    let plant = plant(&name);
    if let Ok(seed) = std::env::var("SIM_SEED") {
        let seed = seed.parse().expect("SIM_SEED is a number");
        let mut config = with_bug(plant, seed);
        if std::env::var_os("SIM_CLEAN").is_some() {
            // The bug's schedule without the bug.
            (config.bugs, config.ack_before_fsync, config.wipe_disks) = Default::default();
        }
        let report = run(&config);
        for violation in report.violations.iter().take(5) {
            println!("  {violation}");
        }
        if std::env::var_os("SIM_FAULTS").is_some() {
            for fault in &report.faults {
                println!("  {fault}");
            }
        }
        let first = report.violations.first().cloned().unwrap_or_default();
        println!(
            "HUNT {name} seed {seed}: caught {} ({first})",
            caught(plant, &report)
        );
        return;
    }
    let range = std::env::var("SIM_SEEDS").expect("SIM_SEED or SIM_SEEDS");
    let (a, b) = range.split_once("..").expect("SIM_SEEDS=A..B");
    for seed in a.parse::<u64>().expect("A")..b.parse::<u64>().expect("B") {
        let (text, _) = rerun_in_child("hunt", seed, None);
        let line = text
            .lines()
            .find(|l| l.contains("HUNT "))
            .unwrap_or("(no result)");
        println!("{line}");
    }
}

#[test]
fn caught_apply_with_local_clock() {
    caught_by("apply_with_local_clock", 0);
}

#[test]
fn caught_skip_producer_dedup() {
    caught_by("skip_producer_dedup", 0);
}

/// Since a restarted leader no longer leads its old term, openraft's own assertion (a
/// committed entry truncated) stops the run before the checkers see the loss.
#[test]
fn caught_ack_before_fsync() {
    caught_in_child("ack_before_fsync", 0, COMMITTED_ENTRY_REPLACED);
}

#[test]
fn caught_serve_reads_without_read_index() {
    caught_by("serve_reads_without_read_index", 0);
}

/// The group commit reporting appends stored before (here: without) their fsync. Since a
/// restarted leader no longer leads its old term, openraft's own assertion (a committed entry
/// truncated) stops the run before the checkers see the loss.
#[test]
fn caught_append_reported_unflushed() {
    caught_in_child("append_reported_unflushed", 0, COMMITTED_ENTRY_REPLACED);
}

#[test]
fn caught_reply_before_commit() {
    caught_by("reply_before_commit", 0);
}

#[test]
fn caught_apply_twice_after_snapshot_install() {
    caught_by("apply_twice_after_snapshot_install", 2);
}

#[test]
fn caught_vote_not_fsynced() {
    caught_by("vote_not_fsynced", 0);
}

#[test]
fn caught_truncate_keeps_stale_suffix() {
    caught_by("truncate_keeps_stale_suffix", 0);
}

#[test]
fn caught_xack_wrong_group() {
    caught_by("xack_wrong_group", 0);
}

#[test]
fn caught_forward_twice() {
    caught_by("forward_twice", 0);
}

#[test]
fn caught_claim_keeps_delivery_count() {
    caught_by("claim_keeps_delivery_count", 0);
}

/// In a debug build openraft's own assertions may stop the run first (the log has a hole
/// where an append failed): the child-process check counts that too.
#[test]
fn caught_ignore_fsync_errors() {
    caught_in_child(
        "ignore_fsync_errors",
        3,
        &["panicked at vendor/openraft/src/"],
    );
}

/// openraft's debug assertion that an AppendEntries does not name a log id at or below the
/// committed index with another term (`has_log_id`): a committed entry about to be replaced.
const COMMITTED_ENTRY_REPLACED: &[&str] = &[
    "panicked at vendor/openraft/src/raft_state/log_state_reader.rs",
    "assertion failed: Some(log_id) <= self.committed()",
];

/// Runs bug `name` on `seed` in a child process (a panic there ends only the child) and
/// requires it caught: by a checker, or by a panic whose first report contains each of
/// `expected` (a panic elsewhere, in the harness say, is not the bug being caught). Then the
/// same seed runs clean without it.
fn caught_in_child(name: &str, seed: u64, expected: &[&str]) {
    let (text, passed) = rerun_in_child("hunt", seed, Some(name));
    let caught = text.contains("caught true");
    let panicked =
        !passed && first_panic(&text).is_some_and(|p| expected.iter().all(|e| p.contains(e)));
    assert!(
        caught || panicked,
        "{name}: seed {seed} was not caught as expected ({expected:?}):\n{text}"
    );
    println!("{name}: seed {seed}: caught by a checker {caught}, by a panic {panicked}");
    let mut clean = with_bug(plant(name), seed);
    (clean.bugs, clean.ack_before_fsync, clean.wipe_disks) = Default::default();
    let report = run(&clean);
    assert!(
        report.violations.is_empty(),
        "{name}: seed {seed} fails without it too: {:?}",
        report.violations
    );
}

/// The first panic a child reported: its `panicked at` line and the message line after it.
fn first_panic(text: &str) -> Option<String> {
    let mut lines = text.lines().skip_while(|l| !l.contains("panicked at"));
    let at = lines.next()?;
    Some(format!("{at}\n{}", lines.next().unwrap_or_default()))
}
