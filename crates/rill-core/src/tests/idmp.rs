//! Redis 8.6's idempotent XADD (IDMP, IDMPAUTO) and XCFGSET, following Redis's own tests
//! (`stream.tcl`) where they exist.

use expect_test::expect;

use super::check;

#[test]
fn idmp_arguments_are_checked_as_redis_does() {
    // stream.tcl: "XADD IDMP with invalid syntax", "XADD IDMPAUTO with invalid syntax".
    check(
        r#"
        XADD s IDMP p1 * f v
        XADD s IDMP p1 iid1 1-1 f v
        XADD s IDMP p1 iid1 5-* f v
        XADD s IDMP p1 iid1 IDMP p2 iid2 * f v
        XADD s IDMPAUTO p1 IDMP p2 iid2 * f v
        XADD s IDMP p1 iid1 IDMPAUTO p2 * f v
        XADD s IDMPAUTO p1 IDMPAUTO p2 * f v
        XADD s IDMP "" iid1 * f v
        XADD s IDMP p1 "" * f v
        XADD s IDMPAUTO "" * f v
        XADD s IDMPAUTO p1 1-1 f v
        XADD s IDMP p1 iid1 *
        XADD s IDMP p1
        XLEN s
        "#,
        expect![[r#"
            > XADD s IDMP p1 * f v
            -ERR Invalid stream ID specified as stream command argument
            > XADD s IDMP p1 iid1 1-1 f v
            -ERR syntax error, IDMP/IDMPAUTO can be used only with auto-generated IDs
            > XADD s IDMP p1 iid1 5-* f v
            -ERR syntax error, IDMP/IDMPAUTO can be used only with auto-generated IDs
            > XADD s IDMP p1 iid1 IDMP p2 iid2 * f v
            -ERR syntax error, IDMP/IDMPAUTO specified multiple times
            > XADD s IDMPAUTO p1 IDMP p2 iid2 * f v
            -ERR syntax error, IDMP/IDMPAUTO specified multiple times
            > XADD s IDMP p1 iid1 IDMPAUTO p2 * f v
            -ERR syntax error, IDMP/IDMPAUTO specified multiple times
            > XADD s IDMPAUTO p1 IDMPAUTO p2 * f v
            -ERR syntax error, IDMP/IDMPAUTO specified multiple times
            > XADD s IDMP "" iid1 * f v
            -ERR syntax error, IDMP requires a non-empty producer ID
            > XADD s IDMP p1 "" * f v
            -ERR syntax error, IDMP requires a non-empty idempotent ID
            > XADD s IDMPAUTO "" * f v
            -ERR syntax error, IDMPAUTO requires a non-empty producer ID
            > XADD s IDMPAUTO p1 1-1 f v
            -ERR syntax error, IDMP/IDMPAUTO can be used only with auto-generated IDs
            > XADD s IDMP p1 iid1 *
            -ERR wrong number of arguments for 'xadd' command
            > XADD s IDMP p1
            -ERR wrong number of arguments for 'xadd' command
            > XLEN s
            :0
        "#]],
    );
}

#[test]
fn duplicates_answer_the_first_id() {
    // stream.tcl: "XADD IDMP duplicate request returns same ID", "... multiple producers have
    // isolated namespaces", "XADD IDMPAUTO ... field order independence", "... with
    // NOMKSTREAM", "... with MAXLEN", "iids-duplicates is lifetime counter".
    check(
        r#"
        @5000
        XADD s IDMP p1 req-1 * f v
        XADD s IDMP p1 req-1 * other fields
        XRANGE s - +
        XADD s IDMP p2 req-1 * f v
        XADD s KEEPREF IDMP p1 req-1 MAXLEN ~ 1000 LIMIT 10 * f v
        XADD s IDMPAUTO p1 * a 1 b 2
        XADD s IDMPAUTO p1 * b 2 a 1
        XADD s IDMPAUTO p1 * a 2 b 1
        XADD s IDMPAUTO p1 * 1 a 2 b
        XADD s IDMPAUTO p9 * a 1 b 2
        XLEN s
        XADD s MAXLEN 1 IDMP p1 req-2 * f v
        XADD s MAXLEN 0 IDMP p1 req-2 * f v
        XLEN s
        XDEL s 5000-6
        XADD s IDMP p1 req-2 * f v
        XADD missing NOMKSTREAM IDMP p1 req-1 * f v
        EXISTS missing
        XINFO STREAM s
        "#,
        expect![[r#"
            > XADD s IDMP p1 req-1 * f v
            "5000-0"
            > XADD s IDMP p1 req-1 * other fields
            "5000-0"
            > XRANGE s - +
            [["5000-0", ["f", "v"]]]
            > XADD s IDMP p2 req-1 * f v
            "5000-1"
            > XADD s KEEPREF IDMP p1 req-1 MAXLEN ~ 1000 LIMIT 10 * f v
            "5000-0"
            > XADD s IDMPAUTO p1 * a 1 b 2
            "5000-2"
            > XADD s IDMPAUTO p1 * b 2 a 1
            "5000-2"
            > XADD s IDMPAUTO p1 * a 2 b 1
            "5000-3"
            > XADD s IDMPAUTO p1 * 1 a 2 b
            "5000-4"
            > XADD s IDMPAUTO p9 * a 1 b 2
            "5000-5"
            > XLEN s
            :6
            > XADD s MAXLEN 1 IDMP p1 req-2 * f v
            "5000-6"
            > XADD s MAXLEN 0 IDMP p1 req-2 * f v
            "5000-6"
            > XLEN s
            :1
            > XDEL s 5000-6
            :1
            > XADD s IDMP p1 req-2 * f v
            "5000-6"
            > XADD missing NOMKSTREAM IDMP p1 req-1 * f v
            (nil)
            > EXISTS missing
            :0
            > XINFO STREAM s
            {"length": :0, "radix-tree-keys": :0, "radix-tree-nodes": :1, "last-generated-id": "5000-6", "max-deleted-entry-id": "5000-6", "entries-added": :7, "recorded-first-entry-id": "0-0", "idmp-duration": :100, "idmp-maxsize": :100, "pids-tracked": :3, "iids-tracked": :7, "iids-added": :7, "iids-duplicates": :5, "groups": :0, "first-entry": (nil), "last-entry": (nil)}
        "#]],
    );
}

#[test]
fn iids_expire_and_producers_keep_at_most_maxsize() {
    // stream.tcl: "XIDMP entries expire after DURATION seconds", "XIDMP set evicts entries
    // when MAXSIZE is reached", "XCFGSET changing IDMP-DURATION clears all iids history",
    // "setting same DURATION does not clear", "iids counters after CFGSET clears history".
    check(
        r#"
        @10000
        XADD s IDMP p req-1 * f v
        XCFGSET s IDMP-DURATION 1
        XADD s IDMP p req-1 * f v
        XADD s IDMP p req-1 * f v
        @10999
        XADD s IDMP p req-1 * f v
        @11000
        XADD s IDMP p req-1 * f v
        XINFO STREAM s
        XCFGSET s IDMP-MAXSIZE 3 IDMP-DURATION 60
        XADD s IDMP p req-1 * f v
        XADD s IDMP p req-2 * f v
        XADD s IDMP p req-3 * f v
        XADD s IDMP p req-1 * f v
        XADD s IDMP p req-4 * f v
        XADD s IDMP p req-1 * f v
        XADD s IDMP p req-3 * f v
        XADD s IDMP q req-1 * f v
        XINFO STREAM s
        XCFGSET s IDMP-DURATION 60
        XADD s IDMP p req-3 * f v
        XCFGSET s IDMP-DURATION 30
        XADD s IDMP p req-3 * f v
        XINFO STREAM s
        @71001
        XADD s IDMP other x * f v
        XINFO STREAM s
        "#,
        expect![[r#"
            > XADD s IDMP p req-1 * f v
            "10000-0"
            > XCFGSET s IDMP-DURATION 1
            +OK
            > XADD s IDMP p req-1 * f v
            "10000-1"
            > XADD s IDMP p req-1 * f v
            "10000-1"
            > XADD s IDMP p req-1 * f v
            "10000-1"
            > XADD s IDMP p req-1 * f v
            "11000-0"
            > XINFO STREAM s
            {"length": :3, "radix-tree-keys": :1, "radix-tree-nodes": :2, "last-generated-id": "11000-0", "max-deleted-entry-id": "0-0", "entries-added": :3, "recorded-first-entry-id": "10000-0", "idmp-duration": :1, "idmp-maxsize": :100, "pids-tracked": :1, "iids-tracked": :1, "iids-added": :3, "iids-duplicates": :2, "groups": :0, "first-entry": ["10000-0", ["f", "v"]], "last-entry": ["11000-0", ["f", "v"]]}
            > XCFGSET s IDMP-MAXSIZE 3 IDMP-DURATION 60
            +OK
            > XADD s IDMP p req-1 * f v
            "11000-1"
            > XADD s IDMP p req-2 * f v
            "11000-2"
            > XADD s IDMP p req-3 * f v
            "11000-3"
            > XADD s IDMP p req-1 * f v
            "11000-1"
            > XADD s IDMP p req-4 * f v
            "11000-4"
            > XADD s IDMP p req-1 * f v
            "11000-5"
            > XADD s IDMP p req-3 * f v
            "11000-3"
            > XADD s IDMP q req-1 * f v
            "11000-6"
            > XINFO STREAM s
            {"length": :9, "radix-tree-keys": :1, "radix-tree-nodes": :2, "last-generated-id": "11000-6", "max-deleted-entry-id": "0-0", "entries-added": :9, "recorded-first-entry-id": "10000-0", "idmp-duration": :60, "idmp-maxsize": :3, "pids-tracked": :2, "iids-tracked": :4, "iids-added": :9, "iids-duplicates": :4, "groups": :0, "first-entry": ["10000-0", ["f", "v"]], "last-entry": ["11000-6", ["f", "v"]]}
            > XCFGSET s IDMP-DURATION 60
            +OK
            > XADD s IDMP p req-3 * f v
            "11000-3"
            > XCFGSET s IDMP-DURATION 30
            +OK
            > XADD s IDMP p req-3 * f v
            "11000-7"
            > XINFO STREAM s
            {"length": :10, "radix-tree-keys": :1, "radix-tree-nodes": :2, "last-generated-id": "11000-7", "max-deleted-entry-id": "0-0", "entries-added": :10, "recorded-first-entry-id": "10000-0", "idmp-duration": :30, "idmp-maxsize": :3, "pids-tracked": :1, "iids-tracked": :1, "iids-added": :10, "iids-duplicates": :5, "groups": :0, "first-entry": ["10000-0", ["f", "v"]], "last-entry": ["11000-7", ["f", "v"]]}
            > XADD s IDMP other x * f v
            "71001-0"
            > XINFO STREAM s
            {"length": :11, "radix-tree-keys": :1, "radix-tree-nodes": :2, "last-generated-id": "71001-0", "max-deleted-entry-id": "0-0", "entries-added": :11, "recorded-first-entry-id": "10000-0", "idmp-duration": :30, "idmp-maxsize": :3, "pids-tracked": :1, "iids-tracked": :1, "iids-added": :11, "iids-duplicates": :5, "groups": :0, "first-entry": ["10000-0", ["f", "v"]], "last-entry": ["71001-0", ["f", "v"]]}
        "#]],
    );
}

#[test]
fn xcfgset_arguments_are_checked_as_redis_does() {
    // stream.tcl: "XCFGSET error on non-existent stream", "... IDMP-DURATION maximum/minimum
    // value validation", "... IDMP-MAXSIZE ...", "XCFGSET invalid syntax".
    check(
        r#"
        XCFGSET missing IDMP-DURATION 5
        XCFGSET missing nonsense
        XADD s 1-0 f v
        XCFGSET s
        XCFGSET s IDMP-DURATION
        XCFGSET s IDMP-MAXSIZE
        XCFGSET s IDMP-DURATION A
        XCFGSET s IDMP-DURATION 3.14
        XCFGSET s IDMP-DURATION 000000000
        XCFGSET s IDMP-DURATION IDMP-MAXSIZE
        XCFGSET s INVALID 5
        XCFGSET s IDMP-DURATION 0
        XCFGSET s IDMP-DURATION 86401
        XCFGSET s IDMP-DURATION 86400
        XCFGSET s IDMP-MAXSIZE 0
        XCFGSET s IDMP-MAXSIZE 10001
        XCFGSET s idmp-maxsize 10000
        XCFGSET s IDMP-DURATION 5 IDMP-DURATION 6
        XCFGSET s IDMP-DURATION 5 IDMP-MAXSIZE
        XINFO STREAM s
        "#,
        expect![[r#"
            > XCFGSET missing IDMP-DURATION 5
            -ERR no such key
            > XCFGSET missing nonsense
            -ERR no such key
            > XADD s 1-0 f v
            "1-0"
            > XCFGSET s
            -ERR At least one parameter must be specified
            > XCFGSET s IDMP-DURATION
            -ERR syntax error
            > XCFGSET s IDMP-MAXSIZE
            -ERR syntax error
            > XCFGSET s IDMP-DURATION A
            -ERR value is not an integer or out of range
            > XCFGSET s IDMP-DURATION 3.14
            -ERR value is not an integer or out of range
            > XCFGSET s IDMP-DURATION 000000000
            -ERR value is not an integer or out of range
            > XCFGSET s IDMP-DURATION IDMP-MAXSIZE
            -ERR value is not an integer or out of range
            > XCFGSET s INVALID 5
            -ERR syntax error
            > XCFGSET s IDMP-DURATION 0
            -ERR IDMP-DURATION must be between 1 and 86400 seconds
            > XCFGSET s IDMP-DURATION 86401
            -ERR IDMP-DURATION must be between 1 and 86400 seconds
            > XCFGSET s IDMP-DURATION 86400
            +OK
            > XCFGSET s IDMP-MAXSIZE 0
            -ERR IDMP-MAXSIZE must be between 1 and 10000 entries
            > XCFGSET s IDMP-MAXSIZE 10001
            -ERR IDMP-MAXSIZE must be between 1 and 10000 entries
            > XCFGSET s idmp-maxsize 10000
            +OK
            > XCFGSET s IDMP-DURATION 5 IDMP-DURATION 6
            -ERR IDMP-DURATION specified multiple times
            > XCFGSET s IDMP-DURATION 5 IDMP-MAXSIZE
            -ERR syntax error
            > XINFO STREAM s
            {"length": :1, "radix-tree-keys": :1, "radix-tree-nodes": :2, "last-generated-id": "1-0", "max-deleted-entry-id": "0-0", "entries-added": :1, "recorded-first-entry-id": "1-0", "idmp-duration": :86400, "idmp-maxsize": :10000, "pids-tracked": :0, "iids-tracked": :0, "iids-added": :0, "iids-duplicates": :0, "groups": :0, "first-entry": ["1-0", ["f", "v"]], "last-entry": ["1-0", ["f", "v"]]}
        "#]],
    );
}

#[test]
fn the_stream_bound_forgets_the_oldest_iid() {
    let limits = crate::Limits {
        idmp_iids_per_stream_max: 2,
        ..crate::Limits::default()
    };
    super::check_with(
        r#"
        XADD s IDMP a 1 * f v
        XADD s IDMP b 1 * f v
        XADD s IDMP c 1 * f v
        XADD s IDMP a 1 * f v
        XADD s IDMP c 1 * f v
        XINFO STREAM s
        "#,
        &limits,
        expect![[r#"
            > XADD s IDMP a 1 * f v
            "1000-0"
            > XADD s IDMP b 1 * f v
            "1000-1"
            > XADD s IDMP c 1 * f v
            "1000-2"
            > XADD s IDMP a 1 * f v
            "1000-3"
            > XADD s IDMP c 1 * f v
            "1000-2"
            > XINFO STREAM s
            {"length": :4, "radix-tree-keys": :1, "radix-tree-nodes": :2, "last-generated-id": "1000-3", "max-deleted-entry-id": "0-0", "entries-added": :4, "recorded-first-entry-id": "1000-0", "idmp-duration": :100, "idmp-maxsize": :100, "pids-tracked": :2, "iids-tracked": :2, "iids-added": :4, "iids-duplicates": :1, "groups": :0, "first-entry": ["1000-0", ["f", "v"]], "last-entry": ["1000-3", ["f", "v"]]}
        "#]],
    );
}

#[test]
fn an_id_that_comes_again_replaces_its_iid() {
    // XSETID may move an emptied stream's last ID back, so `*` can hand out an ID an iid is
    // still remembered with. Redis would remember both iids with it; Rill keeps one iid per
    // ID (its index is by ID), so the earlier iid is forgotten and the invariants (every
    // record findable, the counts exact) hold after every line.
    check(
        r#"
        @5
        XADD s IDMP p1 first * f v
        XTRIM s MAXLEN 0
        XSETID s 4-0
        XADD s IDMP p1 second * f v
        XADD s IDMP p1 second * f v
        XADD s IDMP p1 first * f v
        XINFO STREAM s
        "#,
        expect![[r#"
            > XADD s IDMP p1 first * f v
            "5-0"
            > XTRIM s MAXLEN 0
            :1
            > XSETID s 4-0
            +OK
            > XADD s IDMP p1 second * f v
            "5-0"
            > XADD s IDMP p1 second * f v
            "5-0"
            > XADD s IDMP p1 first * f v
            "5-1"
            > XINFO STREAM s
            {"length": :2, "radix-tree-keys": :1, "radix-tree-nodes": :2, "last-generated-id": "5-1", "max-deleted-entry-id": "0-0", "entries-added": :3, "recorded-first-entry-id": "5-0", "idmp-duration": :100, "idmp-maxsize": :100, "pids-tracked": :1, "iids-tracked": :2, "iids-added": :3, "iids-duplicates": :1, "groups": :0, "first-entry": ["5-0", ["f", "v"]], "last-entry": ["5-1", ["f", "v"]]}
        "#]],
    );
}
