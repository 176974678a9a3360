//! Redis 8.8's XNACK, following Redis's own tests (`stream-cgroups.tcl`, "XNACK ...") where
//! they exist. `@ms` sets the stamped time; invariants are checked after every line (among
//! them: released entries are in no consumer's index and `nacked-count` counts them).

use expect_test::expect;

use super::check;

#[test]
fn xnack_arguments_are_checked_as_redis_does() {
    // "XNACK argument and error validation". Most of Redis 8.8's XNACK errors carry their
    // `ERR` twice on the wire (`addReplyError` given a text that starts with `ERR `): odd,
    // and matched. A missing key or group is answered before any syntax error.
    check(
        r#"
        XNACK s g SILENT IDS 1
        XNACK nokey g SILENT IDS 1 1-0
        XNACK nokey g BADMODE
        XADD s 1-0 f v
        XGROUP CREATE s g 0
        XNACK s nogroup SILENT IDS 1 1-0
        XNACK s g BADMODE IDS 1 1-0
        XNACK s g SILENT BADOPT IDS 1 1-0
        XNACK s g SILENT IDS 1 1-0 BADOPT
        XNACK s g SILENT FATAL IDS 1 1-0
        XNACK s g SILENT NOTIDS 1 1-0
        XNACK s g SILENT IDS 1 1-0 RETRYCOUNT
        XNACK s g SILENT IDS 1 1-0 2-0
        XNACK s g SILENT FORCE RETRYCOUNT 5
        XNACK s g SILENT IDS abc 1-0
        XNACK s g SILENT IDS 0 1-0
        XNACK s g SILENT IDS -1 1-0
        XNACK s g SILENT IDS 3 1-0 2-0
        XNACK s g SILENT IDS 1 bad-id
        XNACK s g SILENT IDS 2 1-0 +
        XNACK s g SILENT IDS 1 1-0 RETRYCOUNT abc
        XNACK s g SILENT IDS 1 1-0 RETRYCOUNT 99999999999999999999
        XNACK s g SILENT IDS 1 1-0 RETRYCOUNT -1
        XNACK s g silent ids 1 1-0 force retrycount 3
        "#,
        expect![[r#"
            > XNACK s g SILENT IDS 1
            -ERR wrong number of arguments for 'xnack' command
            > XNACK nokey g SILENT IDS 1 1-0
            -NOGROUP No such key 'nokey' or consumer group 'g'
            > XNACK nokey g BADMODE
            -ERR wrong number of arguments for 'xnack' command
            > XADD s 1-0 f v
            "1-0"
            > XGROUP CREATE s g 0
            +OK
            > XNACK s nogroup SILENT IDS 1 1-0
            -NOGROUP No such key 's' or consumer group 'nogroup'
            > XNACK s g BADMODE IDS 1 1-0
            -ERR ERR mode must be SILENT, FAIL, or FATAL
            > XNACK s g SILENT BADOPT IDS 1 1-0
            -ERR ERR Unrecognized XNACK option 'BADOPT'
            > XNACK s g SILENT IDS 1 1-0 BADOPT
            -ERR ERR Unrecognized XNACK option 'BADOPT'
            > XNACK s g SILENT FATAL IDS 1 1-0
            -ERR ERR Unrecognized XNACK option 'FATAL'
            > XNACK s g SILENT NOTIDS 1 1-0
            -ERR ERR Unrecognized XNACK option 'NOTIDS'
            > XNACK s g SILENT IDS 1 1-0 RETRYCOUNT
            -ERR ERR Unrecognized XNACK option 'RETRYCOUNT'
            > XNACK s g SILENT IDS 1 1-0 2-0
            -ERR ERR Unrecognized XNACK option '2-0'
            > XNACK s g SILENT FORCE RETRYCOUNT 5
            -ERR ERR syntax error, expected IDS keyword
            > XNACK s g SILENT IDS abc 1-0
            -ERR numids must be a positive integer
            > XNACK s g SILENT IDS 0 1-0
            -ERR numids must be a positive integer
            > XNACK s g SILENT IDS -1 1-0
            -ERR numids must be a positive integer
            > XNACK s g SILENT IDS 3 1-0 2-0
            -ERR ERR number of IDs doesn't match numids
            > XNACK s g SILENT IDS 1 bad-id
            -ERR Invalid stream ID specified as stream command argument
            > XNACK s g SILENT IDS 2 1-0 +
            -ERR Invalid stream ID specified as stream command argument
            > XNACK s g SILENT IDS 1 1-0 RETRYCOUNT abc
            -ERR value is not an integer or out of range
            > XNACK s g SILENT IDS 1 1-0 RETRYCOUNT 99999999999999999999
            -ERR value is not an integer or out of range
            > XNACK s g SILENT IDS 1 1-0 RETRYCOUNT -1
            -ERR ERR Invalid RETRYCOUNT value, must be >= 0
            > XNACK s g silent ids 1 1-0 force retrycount 3
            :1
        "#]],
    );
}

#[test]
fn xnack_modes_set_the_delivery_count() {
    // "XNACK SILENT mode ...", "FAIL mode ...", "FATAL mode ...", "RETRYCOUNT overrides ...".
    check(
        r#"
        XADD s 1-0 f v
        XADD s 2-0 f v
        XADD s 3-0 f v
        XGROUP CREATE s g 0
        XREADGROUP GROUP g c1 STREAMS s >
        XNACK s g SILENT IDS 1 1-0
        XNACK s g SILENT IDS 1 1-0
        XNACK s g FAIL IDS 1 2-0
        XNACK s g FATAL IDS 1 3-0
        XNACK s g SILENT IDS 1 3-0
        XPENDING s g - + 10
        XNACK s g FATAL RETRYCOUNT 42 IDS 1 1-0
        XNACK s g SILENT IDS 1 2-0 RETRYCOUNT 0
        XPENDING s g - + 10
        XPENDING s g
        XPENDING s g IDLE 100000 - + 10
        XPENDING s g - + 10 c1
        XINFO CONSUMERS s g
        "#,
        expect![[r#"
            > XADD s 1-0 f v
            "1-0"
            > XADD s 2-0 f v
            "2-0"
            > XADD s 3-0 f v
            "3-0"
            > XGROUP CREATE s g 0
            +OK
            > XREADGROUP GROUP g c1 STREAMS s >
            {"s" => [["1-0", ["f", "v"]], ["2-0", ["f", "v"]], ["3-0", ["f", "v"]]]}
            > XNACK s g SILENT IDS 1 1-0
            :1
            > XNACK s g SILENT IDS 1 1-0
            :1
            > XNACK s g FAIL IDS 1 2-0
            :1
            > XNACK s g FATAL IDS 1 3-0
            :1
            > XNACK s g SILENT IDS 1 3-0
            :1
            > XPENDING s g - + 10
            [["1-0", "", :-1, :0], ["2-0", "", :-1, :1], ["3-0", "", :-1, :9223372036854775806]]
            > XNACK s g FATAL RETRYCOUNT 42 IDS 1 1-0
            :1
            > XNACK s g SILENT IDS 1 2-0 RETRYCOUNT 0
            :1
            > XPENDING s g - + 10
            [["1-0", "", :-1, :42], ["2-0", "", :-1, :0], ["3-0", "", :-1, :9223372036854775806]]
            > XPENDING s g
            [:3, "1-0", "3-0", []]
            > XPENDING s g IDLE 100000 - + 10
            [["1-0", "", :-1, :42], ["2-0", "", :-1, :0], ["3-0", "", :-1, :9223372036854775806]]
            > XPENDING s g - + 10 c1
            []
            > XINFO CONSUMERS s g
            [{"name": "c1", "pending": :0, "idle": :0, "inactive": :0}]
        "#]],
    );
}

#[test]
fn released_entries_leave_their_consumer_and_are_claimed_first() {
    // "XNACK releases entries and removes from consumer PEL", "XNACK ordering: NACKed entries
    // at head of PEL", "... claimable via XCLAIM, XAUTOCLAIM, and XREADGROUP CLAIM", "XNACK
    // XREADGROUP pending read excludes NACKed entries".
    check(
        r#"
        @1000
        XADD s 1-0 f v
        XADD s 2-0 f v
        XADD s 3-0 f v
        XADD s 4-0 f v
        XGROUP CREATE s g 0
        XREADGROUP GROUP g c1 COUNT 2 STREAMS s >
        @2000
        XREADGROUP GROUP g c2 STREAMS s >
        XNACK s g FAIL IDS 2 3-0 1-0
        XREADGROUP GROUP g c1 STREAMS s 0
        XINFO STREAM s FULL
        @2001
        XREADGROUP GROUP g c3 COUNT 1 CLAIM 99999 STREAMS s >
        XCLAIM s g c4 99999 3-0
        XNACK s g FAIL IDS 1 4-0
        XAUTOCLAIM s g c5 99999 0 COUNT 10
        XPENDING s g - + 10
        XINFO STREAM s FULL
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
            > XREADGROUP GROUP g c1 COUNT 2 STREAMS s >
            {"s" => [["1-0", ["f", "v"]], ["2-0", ["f", "v"]]]}
            > XREADGROUP GROUP g c2 STREAMS s >
            {"s" => [["3-0", ["f", "v"]], ["4-0", ["f", "v"]]]}
            > XNACK s g FAIL IDS 2 3-0 1-0
            :2
            > XREADGROUP GROUP g c1 STREAMS s 0
            {"s" => [["2-0", ["f", "v"]]]}
            > XINFO STREAM s FULL
            {"length": :4, "radix-tree-keys": :1, "radix-tree-nodes": :2, "last-generated-id": "4-0", "max-deleted-entry-id": "0-0", "entries-added": :4, "recorded-first-entry-id": "1-0", "idmp-duration": :100, "idmp-maxsize": :100, "pids-tracked": :0, "iids-tracked": :0, "iids-added": :0, "iids-duplicates": :0, "entries": [["1-0", ["f", "v"]], ["2-0", ["f", "v"]], ["3-0", ["f", "v"]], ["4-0", ["f", "v"]]], "groups": [{"name": "g", "last-delivered-id": "4-0", "entries-read": :4, "lag": :0, "pel-count": :4, "nacked-count": :2, "pending": [["1-0", "", :0, :1], ["2-0", "c1", :2000, :2], ["3-0", "", :0, :1], ["4-0", "c2", :2000, :1]], "consumers": [{"name": "c1", "seen-time": :2000, "active-time": :1000, "pel-count": :1, "pending": [["2-0", :2000, :2]]}, {"name": "c2", "seen-time": :2000, "active-time": :2000, "pel-count": :1, "pending": [["4-0", :2000, :1]]}]}]}
            > XREADGROUP GROUP g c3 COUNT 1 CLAIM 99999 STREAMS s >
            {"s" => [["1-0", ["f", "v"], :2001, :1]]}
            > XCLAIM s g c4 99999 3-0
            [["3-0", ["f", "v"]]]
            > XNACK s g FAIL IDS 1 4-0
            :1
            > XAUTOCLAIM s g c5 99999 0 COUNT 10
            ["0-0", [["4-0", ["f", "v"]]], []]
            > XPENDING s g - + 10
            [["1-0", "c3", :0, :2], ["2-0", "c1", :1, :2], ["3-0", "c4", :0, :2], ["4-0", "c5", :0, :2]]
            > XINFO STREAM s FULL
            {"length": :4, "radix-tree-keys": :1, "radix-tree-nodes": :2, "last-generated-id": "4-0", "max-deleted-entry-id": "0-0", "entries-added": :4, "recorded-first-entry-id": "1-0", "idmp-duration": :100, "idmp-maxsize": :100, "pids-tracked": :0, "iids-tracked": :0, "iids-added": :0, "iids-duplicates": :0, "entries": [["1-0", ["f", "v"]], ["2-0", ["f", "v"]], ["3-0", ["f", "v"]], ["4-0", ["f", "v"]]], "groups": [{"name": "g", "last-delivered-id": "4-0", "entries-read": :4, "lag": :0, "pel-count": :4, "nacked-count": :0, "pending": [["1-0", "c3", :2001, :2], ["2-0", "c1", :2000, :2], ["3-0", "c4", :2001, :2], ["4-0", "c5", :2001, :2]], "consumers": [{"name": "c1", "seen-time": :2000, "active-time": :1000, "pel-count": :1, "pending": [["2-0", :2000, :2]]}, {"name": "c2", "seen-time": :2000, "active-time": :2000, "pel-count": :0, "pending": []}, {"name": "c3", "seen-time": :2001, "active-time": :2001, "pel-count": :1, "pending": [["1-0", :2001, :2]]}, {"name": "c4", "seen-time": :2001, "active-time": :2001, "pel-count": :1, "pending": [["3-0", :2001, :2]]}, {"name": "c5", "seen-time": :2001, "active-time": :2001, "pel-count": :1, "pending": [["4-0", :2001, :2]]}]}]}
        "#]],
    );
}

#[test]
fn xnack_counts_and_force() {
    // "XNACK return count and edge cases", "XNACK FORCE behavior", "XNACK FORCE + RETRYCOUNT
    // combination", "XNACK flexible IDS position".
    check(
        r#"
        XADD s 1-0 f v
        XADD s 2-0 f v
        XADD s 3-0 f v
        XGROUP CREATE s g 0
        XNACK s g SILENT IDS 1 1-0
        XNACK s g SILENT IDS 1 1-0 FORCE
        XNACK s g FATAL FORCE IDS 2 2-0 9-0
        XNACK s g FAIL FORCE RETRYCOUNT 7 IDS 1 3-0
        XPENDING s g - + 10
        XREADGROUP GROUP g c1 STREAMS s >
        XPENDING s g - + 10
        XNACK s g FAIL IDS 3 1-0 1-0 5-0
        XNACK s g FAIL IDS 1 9-0 IDS 1 2-0
        XACK s g 1-0 2-0
        XINFO STREAM s FULL
        XDEL s 3-0
        XPENDING s g - + 10
        XCLAIM s g c2 0 3-0
        XPENDING s g
        "#,
        expect![[r#"
            > XADD s 1-0 f v
            "1-0"
            > XADD s 2-0 f v
            "2-0"
            > XADD s 3-0 f v
            "3-0"
            > XGROUP CREATE s g 0
            +OK
            > XNACK s g SILENT IDS 1 1-0
            :0
            > XNACK s g SILENT IDS 1 1-0 FORCE
            :1
            > XNACK s g FATAL FORCE IDS 2 2-0 9-0
            :1
            > XNACK s g FAIL FORCE RETRYCOUNT 7 IDS 1 3-0
            :1
            > XPENDING s g - + 10
            [["1-0", "", :-1, :0], ["2-0", "", :-1, :9223372036854775807], ["3-0", "", :-1, :7]]
            > XREADGROUP GROUP g c1 STREAMS s >
            {"s" => [["1-0", ["f", "v"]], ["2-0", ["f", "v"]], ["3-0", ["f", "v"]]]}
            > XPENDING s g - + 10
            [["1-0", "c1", :0, :1], ["2-0", "c1", :0, :1], ["3-0", "c1", :0, :1]]
            > XNACK s g FAIL IDS 3 1-0 1-0 5-0
            :2
            > XNACK s g FAIL IDS 1 9-0 IDS 1 2-0
            :1
            > XACK s g 1-0 2-0
            :2
            > XINFO STREAM s FULL
            {"length": :3, "radix-tree-keys": :1, "radix-tree-nodes": :2, "last-generated-id": "3-0", "max-deleted-entry-id": "0-0", "entries-added": :3, "recorded-first-entry-id": "1-0", "idmp-duration": :100, "idmp-maxsize": :100, "pids-tracked": :0, "iids-tracked": :0, "iids-added": :0, "iids-duplicates": :0, "entries": [["1-0", ["f", "v"]], ["2-0", ["f", "v"]], ["3-0", ["f", "v"]]], "groups": [{"name": "g", "last-delivered-id": "3-0", "entries-read": :3, "lag": :0, "pel-count": :1, "nacked-count": :0, "pending": [["3-0", "c1", :1000, :1]], "consumers": [{"name": "c1", "seen-time": :1000, "active-time": :1000, "pel-count": :1, "pending": [["3-0", :1000, :1]]}]}]}
            > XDEL s 3-0
            :1
            > XPENDING s g - + 10
            [["3-0", "c1", :0, :1]]
            > XCLAIM s g c2 0 3-0
            []
            > XPENDING s g
            [:0, (nil), (nil), (nil-array)]
        "#]],
    );
}

#[test]
fn a_fatal_count_stays_at_its_maximum_through_claims_and_rereads() {
    // Redis: "LLONG_MAX stays LLONG_MAX"; a wrapped count would read as negative.
    check(
        r#"
        XADD s 1-0 f v
        XGROUP CREATE s g 0
        XREADGROUP GROUP g c1 STREAMS s >
        XNACK s g FATAL IDS 1 1-0
        XCLAIM s g c2 0 1-0
        XPENDING s g - + 10
        XREADGROUP GROUP g c2 STREAMS s 0
        XPENDING s g - + 10
        XAUTOCLAIM s g c3 0 0
        XREADGROUP GROUP g c4 CLAIM 0 STREAMS s >
        XPENDING s g - + 10
        "#,
        expect![[r#"
            > XADD s 1-0 f v
            "1-0"
            > XGROUP CREATE s g 0
            +OK
            > XREADGROUP GROUP g c1 STREAMS s >
            {"s" => [["1-0", ["f", "v"]]]}
            > XNACK s g FATAL IDS 1 1-0
            :1
            > XCLAIM s g c2 0 1-0
            [["1-0", ["f", "v"]]]
            > XPENDING s g - + 10
            [["1-0", "c2", :0, :9223372036854775807]]
            > XREADGROUP GROUP g c2 STREAMS s 0
            {"s" => [["1-0", ["f", "v"]]]}
            > XPENDING s g - + 10
            [["1-0", "c2", :0, :9223372036854775807]]
            > XAUTOCLAIM s g c3 0 0
            ["0-0", [["1-0", ["f", "v"]]], []]
            > XREADGROUP GROUP g c4 CLAIM 0 STREAMS s >
            {"s" => [["1-0", ["f", "v"], :0, :9223372036854775807]]}
            > XPENDING s g - + 10
            [["1-0", "c4", :0, :9223372036854775807]]
        "#]],
    );
}
