//! The simulator's CI seeds, the determinism check, and the replay/soak entry point.
//!
//! Replay one seed:  SIM_SEED=7 cargo nextest run --workspace -E 'test(replay)' --no-capture
//!                   (SIM_LOG=rill_server=debug adds the nodes' logs)
//! Soak:             SIM_SEEDS=0..1000 cargo nextest run -p rill-sim --release -E 'test(=replay)' --no-capture
//!
//! A seed gives one trace as the first run of its process: tokio numbers tasks from a
//! process-wide counter, and a crashed host's tasks are dropped, closing their connections
//! (which draws from turmoil's generator), in an order that follows those numbers. So each CI
//! seed is its own test (nextest runs each test in its own process), and the determinism check
//! and the soak run each seed in a child process, as a replay does.

use rill_sim::{rerun_in_child, run, Config, Fault, Report};

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
    report.summary()
}

/// Crashes of one node that lost its unsynced writes too.
fn one_node_power_losses(report: &Report) -> usize {
    report
        .faults
        .iter()
        .filter(|fault| fault.contains(" crash n") && fault.contains("(power loss on"))
        .count()
}

fn ci_seed(seed: u64) -> Report {
    let report = run(&Config::new(seed));
    println!("{}", summary(&report));
    assert_clean(&report);
    assert!(report.acknowledged > 0, "seed {seed}: nothing acknowledged");
    assert!(
        report.digests_compared > 100,
        "seed {seed}: replicas' states barely compared"
    );
    report
}

#[test]
fn ci_seed_0() {
    let report = ci_seed(0);
    // One node's crash loses its unsynced writes too, and nothing acknowledged is lost.
    assert!(
        one_node_power_losses(&report) > 0,
        "seed 0 has no one-node power loss"
    );
}

#[test]
fn ci_seed_1() {
    ci_seed(1);
}

#[test]
fn ci_seed_4() {
    ci_seed(4);
}

/// A node whose fsyncs fail stops itself and is restarted; a node crashes right after
/// installing a snapshot; nothing acknowledged is lost. (Seed 2 had both until AppendEntries
/// went on one stream per follower, which moved the timing its faults fell on.)
#[test]
fn ci_seed_19() {
    let report = ci_seed(19);
    let has = |what: &str| report.faults.iter().any(|f| f.contains(what));
    assert!(
        has("stopped itself"),
        "seed 19: no node stopped on a failed fsync"
    );
    assert!(
        has("right after installing"),
        "seed 19: no crash after an install"
    );
}

/// Lost disks (`Config::wipe_disks`): node 3's, then node 1's, the member that forms the
/// cluster. Each comes back empty with a new incarnation, is refused as the member the cluster
/// knew, removed by the leader, joins again as a learner and votes once it has caught up;
/// nothing acknowledged is lost and the replicas end equal. Before node identity this fault
/// lost acknowledged writes (issue 16).
#[test]
fn lost_disks_lose_nothing() {
    let report = run(&Config {
        wipe_disks: true,
        ..Config::new(11)
    });
    println!("{}", summary(&report));
    assert_clean(&report);
    let wiped: Vec<&String> = report
        .faults
        .iter()
        .filter(|f| f.contains("disk wiped"))
        .collect();
    assert!(
        wiped.iter().any(|f| f.contains("wiped on n1")) && wiped.len() >= 2,
        "seed 11 with lost disks: {wiped:?}"
    );
    assert!(report.acknowledged > 100, "seed 11: {}", summary(&report));
}

/// Redis 8's commands (`Config::redis8`: XNACK, XACKDEL, XDELEX, reference policies, IDMP,
/// XCFGSET, CLAIM reads) on one more stream, under the same faults: replicas stay
/// byte-identical and every node's state keeps the engine's invariants (released entries held
/// by no one and counted) after every applied batch.
#[test]
fn redis8_commands_keep_replicas_equal() {
    let report = run(&Config {
        redis8: true,
        ..Config::new(5)
    });
    println!(
        "{}; redis 8 commands answered: {}, transactions run: {}",
        summary(&report),
        report.redis8_answered,
        report.redis8_transactions
    );
    assert_clean(&report);
    assert!(
        report.redis8_answered > 50,
        "seed 5 with Redis 8 commands: {} answered",
        report.redis8_answered
    );
    assert!(
        report.redis8_transactions > 5,
        "seed 5 with Redis 8 commands: {} transactions ran",
        report.redis8_transactions
    );
    assert!(
        report.digests_compared > 100,
        "seed 5: replicas' states barely compared"
    );
}

#[test]
fn ci_seed_3() {
    ci_seed(3);
}

/// Among its faults, a node crashes while a snapshot arrives.
#[test]
fn ci_seed_7() {
    let report = ci_seed(7);
    assert!(
        report
            .faults
            .iter()
            .any(|f| f.contains("while a snapshot arrives")),
        "seed 7: no crash mid-snapshot"
    );
}

/// Voters leave and rejoin while the workload runs, and now and then the leader crashes in
/// the middle of the change.
#[test]
fn membership_changes_under_crashes() {
    let report = run(&Config {
        only: Some(Fault::Reconfigure),
        ..Config::new(7)
    });
    println!("{}", summary(&report));
    for fault in &report.faults {
        println!("  {fault}");
    }
    assert_clean(&report);
    let has = |what: &str| report.faults.iter().filter(|f| f.contains(what)).count();
    assert!(has("from the voters") >= 3, "few membership changes");
    assert!(has("mid-change") >= 1, "no leader crashed mid-change");
    assert!(
        report
            .faults
            .iter()
            .any(|f| f.contains("voters [1, 2, 3] in place")),
        "the voters were never restored"
    );
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

/// Runs `replay` for `seed` in a fresh process of this test binary; its output, and whether
/// it passed.
fn replay_in_child(seed: u64) -> (String, bool) {
    rerun_in_child("replay", seed, None)
}

fn trace_of(output: &str) -> Option<&str> {
    let (_, rest) = output.split_once(", trace ")?;
    rest.get(..16)
}

#[test]
fn the_same_seed_gives_the_same_trace() {
    let (a, a_ok) = replay_in_child(42);
    let (b, b_ok) = replay_in_child(42);
    assert!(a_ok && b_ok, "seed 42 failed:\n{a}\n{b}");
    let trace = trace_of(&a).expect("a summary line with the trace");
    assert_eq!(Some(trace), trace_of(&b), "\n{a}\n{b}");
}

/// `SIM_SEED=N` replays one seed; `SIM_SEEDS=A..B` runs a range (the soak) on every core, each
/// seed in a child process, and names every failing seed. Without either, nothing runs.
/// `SIM_WIPES=1` adds lost disks to the faults (`Config::wipe_disks`).
#[test]
fn replay() {
    if let Ok(seed) = std::env::var("SIM_SEED") {
        if let Ok(filter) = std::env::var("SIM_LOG") {
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_writer(std::io::stderr)
                .init();
        }
        let report = run(&Config {
            wipe_disks: std::env::var_os("SIM_WIPES").is_some(),
            ..Config::new(seed.parse().expect("SIM_SEED is a number"))
        });
        println!("{}", summary(&report));
        for fault in &report.faults {
            println!("  {fault}");
        }
        assert_clean(&report);
    } else if let Ok(range) = std::env::var("SIM_SEEDS") {
        let (a, b) = range.split_once("..").expect("SIM_SEEDS=A..B");
        let seeds: Vec<u64> =
            (a.parse::<u64>().expect("A")..b.parse::<u64>().expect("B")).collect();
        let started = std::time::Instant::now();
        // One child per core at a time; each prints its summary as it ends.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let next = std::sync::Mutex::new(seeds.iter());
        let failed = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..cores {
                scope.spawn(|| loop {
                    let Some(&seed) = next.lock().expect("seed queue").next() else {
                        return;
                    };
                    let (output, ok) = replay_in_child(seed);
                    // libtest may print the test's name on the summary's line: find it by its
                    // trace.
                    let line = output.lines().find(|line| line.contains(", trace "));
                    let summary = line.and_then(|line| line.find("seed ").map(|at| &line[at..]));
                    println!("{}", summary.unwrap_or("(no summary)"));
                    if !ok {
                        println!("{output}");
                        failed.lock().expect("failures").push(seed);
                    }
                });
            }
        });
        let mut failed = failed.into_inner().expect("failures");
        failed.sort_unstable();
        println!(
            "soak: {} seeds on {cores} cores in {:.0} s; failing seeds: {failed:?}",
            seeds.len(),
            started.elapsed().as_secs_f64()
        );
        assert!(failed.is_empty(), "failing seeds: {failed:?}");
    }
}
