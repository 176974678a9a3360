//! The simulator's CI seeds, the determinism check, and the replay/soak entry point.
//!
//! Replay one seed:  SIM_SEED=7 cargo nextest run --workspace -E 'test(replay)' --no-capture
//! Soak:             SIM_SEEDS=0..500 cargo nextest run --workspace -E 'test(replay)' --no-capture

use rill_sim::{run, Config, Fault, Report};

fn assert_clean(report: &Report) {
    assert!(
        report.violations.is_empty(),
        "seed {} broke {} invariant(s):\n  {}\nfaults: {:?}\nreplay: SIM_SEED={} cargo nextest run --workspace -E 'test(replay)' --no-capture",
        report.seed,
        report.violations.len(),
        report.violations.join("\n  "),
        report.faults,
        report.seed
    );
}

fn summary(report: &Report) -> String {
    format!(
        "seed {}: {} ops, {} acknowledged, {} faults, trace {:016x}",
        report.seed,
        report.ops,
        report.acknowledged,
        report.faults.len(),
        report.trace_hash
    )
}

#[test]
fn ci_seeds_hold_every_invariant() {
    for seed in 0..6 {
        let report = run(&Config::new(seed));
        println!("{}", summary(&report));
        assert_clean(&report);
        assert!(report.acknowledged > 0, "seed {seed}: nothing acknowledged");
    }
}

#[test]
fn five_nodes() {
    let report = run(&Config {
        nodes: 5,
        ..Config::new(100)
    });
    println!("{}", summary(&report));
    assert_clean(&report);
}

#[test]
fn the_same_seed_gives_the_same_trace() {
    let a = run(&Config::new(42));
    let b = run(&Config::new(42));
    assert_eq!(a.faults, b.faults);
    assert_eq!(
        a.trace_hash,
        b.trace_hash,
        "{}\n{}",
        summary(&a),
        summary(&b)
    );
}

/// `SIM_SEED=N` replays one seed; `SIM_SEEDS=A..B` runs a range (the soak). Without either,
/// nothing runs.
#[test]
fn replay() {
    let seeds: Vec<u64> = if let Ok(seed) = std::env::var("SIM_SEED") {
        vec![seed.parse().expect("SIM_SEED is a number")]
    } else if let Ok(range) = std::env::var("SIM_SEEDS") {
        let (a, b) = range.split_once("..").expect("SIM_SEEDS=A..B");
        (a.parse().expect("A")..b.parse().expect("B")).collect()
    } else {
        Vec::new()
    };
    for seed in seeds {
        let report = run(&Config::new(seed));
        println!("{}", summary(&report));
        for fault in &report.faults {
            println!("  {fault}");
        }
        assert_clean(&report);
    }
}

/// Each planted bug is caught by some seed within a few: a checker that never fails proves
/// nothing.
#[test]
fn every_planted_bug_is_caught() {
    type Plant = (&'static str, fn(&mut Config));
    let plants: [Plant; 4] = [
        ("apply with the node's own clock", |c| {
            c.bugs.apply_with_local_clock = true
        }),
        ("skip the producer dedup table", |c| {
            c.bugs.skip_producer_dedup = true
        }),
        // Lost acknowledged writes need a majority to lose power: crash them all.
        ("acknowledge log entries before they are fsynced", |c| {
            c.ack_before_fsync = true;
            c.only = Some(Fault::CrashAll);
            // A cluster that keeps losing power crawls: a short workload says enough.
            c.clients = 1;
            c.ops_per_client = 10;
        }),
        // A stale read needs a deposed leader that still answers: isolate leaders.
        ("serve reads without the read index", |c| {
            c.skip_read_index = true;
            c.only = Some(Fault::IsolateLeader);
        }),
    ];
    for (name, plant) in plants {
        let caught = (0..8).find_map(|seed| {
            let mut config = Config::new(seed);
            plant(&mut config);
            let report = run(&config);
            (!report.violations.is_empty()).then_some((config, report))
        });
        let (mut config, report) =
            caught.unwrap_or_else(|| panic!("{name}: no seed in 0..8 caught it"));
        println!(
            "{name}: caught by seed {}: {}",
            report.seed, report.violations[0]
        );
        // The same run without the bug is clean: the bug, not the schedule, was caught.
        config.bugs = Default::default();
        config.skip_read_index = false;
        config.ack_before_fsync = false;
        assert_clean(&run(&config));
    }
}
