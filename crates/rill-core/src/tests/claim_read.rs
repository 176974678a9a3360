//! Redis 8.4's XREADGROUP CLAIM, following Redis's own tests (`stream-cgroups.tcl`, "XREADGROUP
//! CLAIM ...") where they exist. `@ms` sets the stamped time.

use expect_test::expect;

use super::check;

#[test]
fn claim_arguments_are_checked_as_redis_does() {
    // "XREADGROUP CLAIM with not integer / negative integer for min-idle-time", "... with
    // different position".
    check(
        r#"
        XADD s 1-0 f v
        XGROUP CREATE s g 0
        XREADGROUP GROUP g c CLAIM test STREAMS s >
        XREADGROUP GROUP g c CLAIM 5.5 STREAMS s >
        XREADGROUP GROUP g c CLAIM +10 STREAMS s >
        XREADGROUP GROUP g c CLAIM -0 STREAMS s >
        XREADGROUP GROUP g c CLAIM -10 STREAMS s >
        XREADGROUP GROUP g c CLAIM 10 CLAIM COUNT 1 STREAMS s >
        XREADGROUP CLAIM GROUP g c STREAMS s >
        XREADGROUP GROUP g CLAIM 50 c STREAMS s >
        XREADGROUP GROUP g c STREAMS s CLAIM 50 >
        XREADGROUP GROUP g c STREAMS s > CLAIM 50
        XREADGROUP GROUP g c STREAMS s > CLAIM
        XREADGROUP GROUP g c CLAIM
        XREAD CLAIM 10 STREAMS s 0
        XREADGROUP CLAIM 50 GROUP g c COUNT 1 STREAMS s >
        XREADGROUP GROUP g c CLAIM 0 CLAIM 9223372036854775807 STREAMS s >
        XREADGROUP GROUP nogroup c CLAIM 0 STREAMS s >
        "#,
        expect![[r#"
            > XADD s 1-0 f v
            "1-0"
            > XGROUP CREATE s g 0
            +OK
            > XREADGROUP GROUP g c CLAIM test STREAMS s >
            -ERR min-idle-time is not an integer or out of range
            > XREADGROUP GROUP g c CLAIM 5.5 STREAMS s >
            -ERR min-idle-time is not an integer or out of range
            > XREADGROUP GROUP g c CLAIM +10 STREAMS s >
            -ERR min-idle-time is not an integer or out of range
            > XREADGROUP GROUP g c CLAIM -0 STREAMS s >
            -ERR min-idle-time is not an integer or out of range
            > XREADGROUP GROUP g c CLAIM -10 STREAMS s >
            -ERR min-idle-time must be a positive integer
            > XREADGROUP GROUP g c CLAIM 10 CLAIM COUNT 1 STREAMS s >
            -ERR min-idle-time is not an integer or out of range
            > XREADGROUP CLAIM GROUP g c STREAMS s >
            -ERR min-idle-time is not an integer or out of range
            > XREADGROUP GROUP g CLAIM 50 c STREAMS s >
            -ERR syntax error
            > XREADGROUP GROUP g c STREAMS s CLAIM 50 >
            -NOGROUP No such key 'CLAIM' or consumer group 'g' in XREADGROUP with GROUP option
            > XREADGROUP GROUP g c STREAMS s > CLAIM 50
            -ERR Invalid stream ID specified as stream command argument
            > XREADGROUP GROUP g c STREAMS s > CLAIM
            -ERR Unbalanced 'xreadgroup' list of streams: for each stream key an ID or '>' must be specified.
            > XREADGROUP GROUP g c CLAIM
            -ERR wrong number of arguments for 'xreadgroup' command
            > XREAD CLAIM 10 STREAMS s 0
            -ERR The CLAIM option is only supported by XREADGROUP. You called XREAD instead.
            > XREADGROUP CLAIM 50 GROUP g c COUNT 1 STREAMS s >
            {"s" => [["1-0", ["f", "v"], :0, :0]]}
            > XREADGROUP GROUP g c CLAIM 0 CLAIM 9223372036854775807 STREAMS s >
            (nil-array)
            > XREADGROUP GROUP nogroup c CLAIM 0 STREAMS s >
            -NOGROUP No such key 's' or consumer group 'nogroup' in XREADGROUP with GROUP option
        "#]],
    );
}

#[test]
fn idle_entries_come_first_with_idle_time_and_delivery_count() {
    // "... returns unacknowledged messages", "... respects min-idle-time threshold", "...
    // message response format", "... verify ownership transfer and delivery count updates".
    check(
        r#"
        @1000
        XADD s 1-0 f v1
        XADD s 2-0 f v2
        XGROUP CREATE s g 0
        XREADGROUP GROUP g c1 STREAMS s >
        XREADGROUP GROUP g c2 CLAIM 100 STREAMS s >
        @1100
        XADD s 3-0 f v3
        XREADGROUP GROUP g c2 CLAIM 50 STREAMS s >
        XPENDING s g - + 10
        XINFO CONSUMERS s g
        XREADGROUP GROUP g c2 CLAIM 50 STREAMS s >
        @1200
        XREADGROUP GROUP g c3 CLAIM 0 COUNT 1 STREAMS s >
        XPENDING s g - + 10
        "#,
        expect![[r#"
            > XADD s 1-0 f v1
            "1-0"
            > XADD s 2-0 f v2
            "2-0"
            > XGROUP CREATE s g 0
            +OK
            > XREADGROUP GROUP g c1 STREAMS s >
            {"s" => [["1-0", ["f", "v1"]], ["2-0", ["f", "v2"]]]}
            > XREADGROUP GROUP g c2 CLAIM 100 STREAMS s >
            (nil-array)
            > XADD s 3-0 f v3
            "3-0"
            > XREADGROUP GROUP g c2 CLAIM 50 STREAMS s >
            {"s" => [["1-0", ["f", "v1"], :100, :1], ["2-0", ["f", "v2"], :100, :1], ["3-0", ["f", "v3"], :0, :0]]}
            > XPENDING s g - + 10
            [["1-0", "c2", :0, :2], ["2-0", "c2", :0, :2], ["3-0", "c2", :0, :1]]
            > XINFO CONSUMERS s g
            [{"name": "c1", "pending": :0, "idle": :100, "inactive": :100}, {"name": "c2", "pending": :3, "idle": :0, "inactive": :0}]
            > XREADGROUP GROUP g c2 CLAIM 50 STREAMS s >
            (nil-array)
            > XREADGROUP GROUP g c3 CLAIM 0 COUNT 1 STREAMS s >
            {"s" => [["1-0", ["f", "v1"], :100, :2]]}
            > XPENDING s g - + 10
            [["1-0", "c3", :0, :3], ["2-0", "c2", :100, :2], ["3-0", "c2", :100, :1]]
        "#]],
    );
}

#[test]
fn count_is_shared_and_oldest_delivery_goes_first() {
    // "... with COUNT limit", "... verify claiming order" (delivery times set by XCLAIM TIME),
    // "... with multiple streams" (COUNT per stream), "... with specific ID" (a history read:
    // two-element entries, CLAIM off for it and every later stream).
    check(
        r#"
        @5000
        XADD s 1-0 f v
        XADD s 2-0 f v
        XADD s 3-0 f v
        XADD s 4-0 f v
        XGROUP CREATE s g 0
        XREADGROUP GROUP g c STREAMS s >
        XCLAIM s g c 0 1-0 TIME 4000 JUSTID
        XCLAIM s g c 0 2-0 TIME 1000 JUSTID
        XCLAIM s g c 0 3-0 TIME 3000 JUSTID
        XCLAIM s g c 0 4-0 TIME 2000 JUSTID
        XADD s 5-0 f v
        XREADGROUP GROUP g c CLAIM 1500 COUNT 2 STREAMS s >
        XREADGROUP GROUP g c CLAIM 1500 COUNT 2 STREAMS s >
        XREADGROUP GROUP g c CLAIM 1500 COUNT 2 STREAMS s >
        XADD t 1-0 f v
        XGROUP CREATE t g 0
        XREADGROUP GROUP g c STREAMS t >
        XADD t 2-0 f v
        @6000
        XREADGROUP GROUP g c CLAIM 500 STREAMS s t > >
        XREADGROUP GROUP g c CLAIM 0 STREAMS s t 0 >
        "#,
        expect![[r#"
            > XADD s 1-0 f v
            "1-0"
            > XADD s 2-0 f v
            "2-0"
            > XADD s 3-0 f v
            "3-0"
            > XADD s 4-0 f v
            "4-0"
            > XGROUP CREATE s g 0
            +OK
            > XREADGROUP GROUP g c STREAMS s >
            {"s" => [["1-0", ["f", "v"]], ["2-0", ["f", "v"]], ["3-0", ["f", "v"]], ["4-0", ["f", "v"]]]}
            > XCLAIM s g c 0 1-0 TIME 4000 JUSTID
            ["1-0"]
            > XCLAIM s g c 0 2-0 TIME 1000 JUSTID
            ["2-0"]
            > XCLAIM s g c 0 3-0 TIME 3000 JUSTID
            ["3-0"]
            > XCLAIM s g c 0 4-0 TIME 2000 JUSTID
            ["4-0"]
            > XADD s 5-0 f v
            "5-0"
            > XREADGROUP GROUP g c CLAIM 1500 COUNT 2 STREAMS s >
            {"s" => [["2-0", ["f", "v"], :4000, :1], ["4-0", ["f", "v"], :3000, :1]]}
            > XREADGROUP GROUP g c CLAIM 1500 COUNT 2 STREAMS s >
            {"s" => [["3-0", ["f", "v"], :2000, :1], ["5-0", ["f", "v"], :0, :0]]}
            > XREADGROUP GROUP g c CLAIM 1500 COUNT 2 STREAMS s >
            (nil-array)
            > XADD t 1-0 f v
            "1-0"
            > XGROUP CREATE t g 0
            +OK
            > XREADGROUP GROUP g c STREAMS t >
            {"t" => [["1-0", ["f", "v"]]]}
            > XADD t 2-0 f v
            "2-0"
            > XREADGROUP GROUP g c CLAIM 500 STREAMS s t > >
            {"s" => [["1-0", ["f", "v"], :2000, :1], ["2-0", ["f", "v"], :1000, :2], ["3-0", ["f", "v"], :1000, :2], ["4-0", ["f", "v"], :1000, :2], ["5-0", ["f", "v"], :1000, :1]], "t" => [["1-0", ["f", "v"], :1000, :1], ["2-0", ["f", "v"], :0, :0]]}
            > XREADGROUP GROUP g c CLAIM 0 STREAMS s t 0 >
            {"s" => [["1-0", ["f", "v"]], ["2-0", ["f", "v"]], ["3-0", ["f", "v"]], ["4-0", ["f", "v"]], ["5-0", ["f", "v"]]]}
        "#]],
    );
}

#[test]
fn noack_deleted_entries_and_new_entries_alone() {
    // "... with NOACK and pending messages", "... without pending messages", "... without
    // messages", "... verify XACK removes messages from CLAIM pool", "... after consumer
    // deleted". A deleted entry's pending record is skipped and stays (Redis does the same).
    check(
        r#"
        @1000
        XADD s 1-0 f v
        XADD s 2-0 f v
        XGROUP CREATE s g 0
        XREADGROUP GROUP g c COUNT 1 STREAMS s >
        @2000
        XREADGROUP GROUP g c NOACK CLAIM 10 STREAMS s >
        XPENDING s g
        XADD s 3-0 f v
        XREADGROUP GROUP g c CLAIM 5000 STREAMS s >
        XDEL s 1-0
        @9000
        XREADGROUP GROUP g c CLAIM 10 STREAMS s >
        XPENDING s g - + 10
        XACK s g 3-0
        XREADGROUP GROUP g c CLAIM 10 STREAMS s >
        XGROUP DELCONSUMER s g c
        XREADGROUP GROUP g c CLAIM 0 STREAMS s >
        "#,
        expect![[r#"
            > XADD s 1-0 f v
            "1-0"
            > XADD s 2-0 f v
            "2-0"
            > XGROUP CREATE s g 0
            +OK
            > XREADGROUP GROUP g c COUNT 1 STREAMS s >
            {"s" => [["1-0", ["f", "v"]]]}
            > XREADGROUP GROUP g c NOACK CLAIM 10 STREAMS s >
            {"s" => [["1-0", ["f", "v"], :1000, :1], ["2-0", ["f", "v"], :0, :0]]}
            > XPENDING s g
            [:1, "1-0", "1-0", [["c", "1"]]]
            > XADD s 3-0 f v
            "3-0"
            > XREADGROUP GROUP g c CLAIM 5000 STREAMS s >
            {"s" => [["3-0", ["f", "v"], :0, :0]]}
            > XDEL s 1-0
            :1
            > XREADGROUP GROUP g c CLAIM 10 STREAMS s >
            {"s" => [["3-0", ["f", "v"], :7000, :1]]}
            > XPENDING s g - + 10
            [["1-0", "c", :7000, :2], ["3-0", "c", :0, :2]]
            > XACK s g 3-0
            :1
            > XREADGROUP GROUP g c CLAIM 10 STREAMS s >
            (nil-array)
            > XGROUP DELCONSUMER s g c
            :1
            > XREADGROUP GROUP g c CLAIM 0 STREAMS s >
            (nil-array)
        "#]],
    );
}

#[test]
fn a_blocked_claim_read_wakes_when_its_first_live_pending_entry_has_idled_enough() {
    use crate::command::Command;
    use crate::engine::claim_wake_ms;
    use crate::{execute, parse, Limits, MemStore};

    let run = |store: &mut MemStore, line: &str, now_ms: u64| {
        let argv = super::split_args(line);
        let cmd = parse(&argv).expect("an engine command").expect("parses");
        execute(store, &cmd, now_ms, &Limits::default());
    };
    let mut store = MemStore::new();
    run(&mut store, "XADD s 1-0 f v", 1000);
    run(&mut store, "XADD s 2-0 f v", 1000);
    run(&mut store, "XGROUP CREATE s g 0", 1000);
    let read = |line: &str| match parse(&super::split_args(line)) {
        Some(Ok(Command::XReadGroup(read))) => read,
        other => panic!("not a group read: {other:?}"),
    };
    let claim = read("XREADGROUP GROUP g c BLOCK 0 CLAIM 500 STREAMS s >");
    // Nothing pending: no timer (a delivery, which wakes the reader, must come first).
    assert_eq!(claim_wake_ms(&store, &claim), None);
    run(&mut store, "XREADGROUP GROUP g c COUNT 1 STREAMS s >", 2000);
    run(&mut store, "XREADGROUP GROUP g c COUNT 1 STREAMS s >", 3000);
    assert_eq!(claim_wake_ms(&store, &claim), Some(2500));
    // A deleted entry is skipped, as the read skips it.
    run(&mut store, "XDEL s 1-0", 3000);
    assert_eq!(claim_wake_ms(&store, &claim), Some(3500));
    let plain = read("XREADGROUP GROUP g c BLOCK 0 STREAMS s >");
    assert_eq!(claim_wake_ms(&store, &plain), None);
}
