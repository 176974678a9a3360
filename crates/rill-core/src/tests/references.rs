//! Reference policies (Redis 8.2): XDELEX, XACKDEL, and KEEPREF|DELREF|ACKED on XTRIM and
//! XADD. The scripts follow Redis's own tests (`stream.tcl`, `stream-cgroups.tcl`) where they
//! exist; each expectation there is noted beside the line.

use expect_test::expect;

use super::check;

#[test]
fn xdelex_arguments_are_checked_as_redis_does() {
    check(
        r#"
        XDELEX s DELREF
        XDELEX nonexist IDS 2 1-1 2-2
        XDELEX nonexist IDS 1 garbage
        XDELEX nonexist IDS 0 1-1
        XADD s 1-0 f v
        XGROUP CREATE s g 0
        XDELEX s IDS abc 1-1
        XDELEX s IDS 0 1-1
        XDELEX s IDS -5 1-1
        XDELEX s IDS 3 1-1 2-2
        XDELEX s IDS 1 1-1 2-2
        XDELEX s IDS 2 1-1 2-2
        XDELEX s KEEPREF DELREF IDS 1 1-1
        XDELEX s KEEPREF ACKED IDS 1 1-1
        XDELEX s ACKED DELREF IDS 1 1-1
        XDELEX s KEEPREF KEEPREF IDS 1 1-1
        XDELEX s IDS 1 KEEPREF
        XDELEX s IDS 1 1-0 IDS 1 2-0
        XDELEX s FOO IDS 1 1-0
        XDELEX s IDS
        xdelex s keepref ids 1 1-0
        XLEN s
        "#,
        expect![[r#"
            > XDELEX s DELREF
            -ERR wrong number of arguments for 'xdelex' command
            > XDELEX nonexist IDS 2 1-1 2-2
            [:-1, :-1]
            > XDELEX nonexist IDS 1 garbage
            [:-1]
            > XDELEX nonexist IDS 0 1-1
            -ERR Number of IDs must be a positive integer
            > XADD s 1-0 f v
            "1-0"
            > XGROUP CREATE s g 0
            +OK
            > XDELEX s IDS abc 1-1
            -ERR Number of IDs must be a positive integer
            > XDELEX s IDS 0 1-1
            -ERR Number of IDs must be a positive integer
            > XDELEX s IDS -5 1-1
            -ERR Number of IDs must be a positive integer
            > XDELEX s IDS 3 1-1 2-2
            -ERR The `numids` parameter must match the number of arguments
            > XDELEX s IDS 1 1-1 2-2
            -ERR syntax error
            > XDELEX s IDS 2 1-1 2-2
            [:-1, :-1]
            > XDELEX s KEEPREF DELREF IDS 1 1-1
            -ERR syntax error
            > XDELEX s KEEPREF ACKED IDS 1 1-1
            -ERR syntax error
            > XDELEX s ACKED DELREF IDS 1 1-1
            -ERR syntax error
            > XDELEX s KEEPREF KEEPREF IDS 1 1-1
            -ERR syntax error
            > XDELEX s IDS 1 KEEPREF
            -ERR Invalid stream ID specified as stream command argument
            > XDELEX s IDS 1 1-0 IDS 1 2-0
            [:-1]
            > XDELEX s FOO IDS 1 1-0
            -ERR syntax error
            > XDELEX s IDS
            -ERR wrong number of arguments for 'xdelex' command
            > xdelex s keepref ids 1 1-0
            [:1]
            > XLEN s
            :0
        "#]],
    );
}

#[test]
fn xdelex_policies() {
    // stream.tcl: "XDELEX with DELREF option acknowledges will remove entry from all PELs",
    // "... ACKED option only deletes messages acknowledged by all groups", "... won't delete
    // messages when new consumer groups are created", "XDELEX with KEEPREF".
    check(
        r#"
        XADD s 1-0 f v
        XADD s 2-0 f v
        XGROUP CREATE s g1 0
        XGROUP CREATE s g2 0
        XREADGROUP GROUP g1 c1 STREAMS s >
        XREADGROUP GROUP g2 c2 STREAMS s >
        XDELEX s KEEPREF IDS 2 1-0 2-0
        XLEN s
        XPENDING s g1
        XPENDING s g2
        XADD s 3-0 f v
        XADD s 4-0 f v
        XREADGROUP GROUP g1 c1 STREAMS s >
        XREADGROUP GROUP g2 c2 STREAMS s >
        XDELEX s DELREF IDS 3 3-0 4-0 1-0
        XLEN s
        XPENDING s g1
        XPENDING s g2
        XINFO CONSUMERS s g1
        XADD s 5-0 f v
        XADD s 6-0 f v
        XGROUP CREATE s g3 0
        XREADGROUP GROUP g1 c1 STREAMS s >
        XREADGROUP GROUP g2 c2 STREAMS s >
        XACK s g1 5-0 6-0
        XDELEX s ACKED IDS 2 5-0 6-0
        XACK s g2 5-0 6-0
        XDELEX s ACKED IDS 2 5-0 6-0
        XREADGROUP GROUP g3 c3 STREAMS s >
        XDELEX s ACKED IDS 2 5-0 6-0
        XACK s g3 5-0 6-0
        XDELEX s ACKED IDS 3 5-0 6-0 5-0
        XLEN s
        XDELEX s ACKED IDS 2 99-0 0-0
        XINFO STREAM s
        "#,
        expect![[r#"
            > XADD s 1-0 f v
            "1-0"
            > XADD s 2-0 f v
            "2-0"
            > XGROUP CREATE s g1 0
            +OK
            > XGROUP CREATE s g2 0
            +OK
            > XREADGROUP GROUP g1 c1 STREAMS s >
            {"s" => [["1-0", ["f", "v"]], ["2-0", ["f", "v"]]]}
            > XREADGROUP GROUP g2 c2 STREAMS s >
            {"s" => [["1-0", ["f", "v"]], ["2-0", ["f", "v"]]]}
            > XDELEX s KEEPREF IDS 2 1-0 2-0
            [:1, :1]
            > XLEN s
            :0
            > XPENDING s g1
            [:2, "1-0", "2-0", [["c1", "2"]]]
            > XPENDING s g2
            [:2, "1-0", "2-0", [["c2", "2"]]]
            > XADD s 3-0 f v
            "3-0"
            > XADD s 4-0 f v
            "4-0"
            > XREADGROUP GROUP g1 c1 STREAMS s >
            {"s" => [["3-0", ["f", "v"]], ["4-0", ["f", "v"]]]}
            > XREADGROUP GROUP g2 c2 STREAMS s >
            {"s" => [["3-0", ["f", "v"]], ["4-0", ["f", "v"]]]}
            > XDELEX s DELREF IDS 3 3-0 4-0 1-0
            [:1, :1, :-1]
            > XLEN s
            :0
            > XPENDING s g1
            [:1, "2-0", "2-0", [["c1", "1"]]]
            > XPENDING s g2
            [:1, "2-0", "2-0", [["c2", "1"]]]
            > XINFO CONSUMERS s g1
            [{"name": "c1", "pending": :1, "idle": :0, "inactive": :0}]
            > XADD s 5-0 f v
            "5-0"
            > XADD s 6-0 f v
            "6-0"
            > XGROUP CREATE s g3 0
            +OK
            > XREADGROUP GROUP g1 c1 STREAMS s >
            {"s" => [["5-0", ["f", "v"]], ["6-0", ["f", "v"]]]}
            > XREADGROUP GROUP g2 c2 STREAMS s >
            {"s" => [["5-0", ["f", "v"]], ["6-0", ["f", "v"]]]}
            > XACK s g1 5-0 6-0
            :2
            > XDELEX s ACKED IDS 2 5-0 6-0
            [:2, :2]
            > XACK s g2 5-0 6-0
            :2
            > XDELEX s ACKED IDS 2 5-0 6-0
            [:2, :2]
            > XREADGROUP GROUP g3 c3 STREAMS s >
            {"s" => [["5-0", ["f", "v"]], ["6-0", ["f", "v"]]]}
            > XDELEX s ACKED IDS 2 5-0 6-0
            [:2, :2]
            > XACK s g3 5-0 6-0
            :2
            > XDELEX s ACKED IDS 3 5-0 6-0 5-0
            [:1, :1, :-1]
            > XLEN s
            :0
            > XDELEX s ACKED IDS 2 99-0 0-0
            [:2, :-1]
            > XINFO STREAM s
            {"length": :0, "radix-tree-keys": :0, "radix-tree-nodes": :1, "last-generated-id": "6-0", "max-deleted-entry-id": "6-0", "entries-added": :6, "recorded-first-entry-id": "0-0", "idmp-duration": :100, "idmp-maxsize": :100, "pids-tracked": :0, "iids-tracked": :0, "iids-added": :0, "iids-duplicates": :0, "groups": :3, "first-entry": (nil), "last-entry": (nil)}
        "#]],
    );
}

#[test]
fn acked_counts_a_new_group_and_setid_as_references() {
    // stream.tcl: "XDELEX with ACKED option won't delete messages when new consumer groups are
    // created"; stream-cgroups.tcl: "XGROUP DESTROY correctly manage min_cgroup_last_id cache",
    // "XGROUP DESTROY removes all consumer group references".
    check(
        r#"
        XADD s 1-0 f v
        XADD s 2-0 f v
        XADD s 3-0 f v
        XGROUP CREATE s g1 0
        XREADGROUP GROUP g1 c1 STREAMS s >
        XACK s g1 1-0 2-0 3-0
        XDELEX s ACKED IDS 1 1-0
        XGROUP CREATE s g2 0
        XDELEX s ACKED IDS 1 2-0
        XREADGROUP GROUP g2 c2 STREAMS s >
        XACK s g2 2-0 3-0
        XDELEX s ACKED IDS 2 2-0 3-0
        XADD t 1-0 f v
        XADD t 2-0 f v
        XADD t 3-0 f v
        XGROUP CREATE t g1 1-0
        XGROUP CREATE t g2 3-0
        XDELEX t ACKED IDS 1 1-0
        XDELEX t ACKED IDS 1 2-0
        XGROUP DESTROY t g1
        XDELEX t ACKED IDS 1 2-0
        XADD u 1-0 f v
        XADD u 2-0 f v
        XGROUP CREATE u g 0
        XREADGROUP GROUP g c STREAMS u >
        XDELEX u ACKED IDS 2 1-0 2-0
        XGROUP DESTROY u g
        XDELEX u ACKED IDS 2 1-0 2-0
        XLEN u
        "#,
        expect![[r#"
            > XADD s 1-0 f v
            "1-0"
            > XADD s 2-0 f v
            "2-0"
            > XADD s 3-0 f v
            "3-0"
            > XGROUP CREATE s g1 0
            +OK
            > XREADGROUP GROUP g1 c1 STREAMS s >
            {"s" => [["1-0", ["f", "v"]], ["2-0", ["f", "v"]], ["3-0", ["f", "v"]]]}
            > XACK s g1 1-0 2-0 3-0
            :3
            > XDELEX s ACKED IDS 1 1-0
            [:1]
            > XGROUP CREATE s g2 0
            +OK
            > XDELEX s ACKED IDS 1 2-0
            [:2]
            > XREADGROUP GROUP g2 c2 STREAMS s >
            {"s" => [["2-0", ["f", "v"]], ["3-0", ["f", "v"]]]}
            > XACK s g2 2-0 3-0
            :2
            > XDELEX s ACKED IDS 2 2-0 3-0
            [:1, :1]
            > XADD t 1-0 f v
            "1-0"
            > XADD t 2-0 f v
            "2-0"
            > XADD t 3-0 f v
            "3-0"
            > XGROUP CREATE t g1 1-0
            +OK
            > XGROUP CREATE t g2 3-0
            +OK
            > XDELEX t ACKED IDS 1 1-0
            [:1]
            > XDELEX t ACKED IDS 1 2-0
            [:2]
            > XGROUP DESTROY t g1
            :1
            > XDELEX t ACKED IDS 1 2-0
            [:1]
            > XADD u 1-0 f v
            "1-0"
            > XADD u 2-0 f v
            "2-0"
            > XGROUP CREATE u g 0
            +OK
            > XREADGROUP GROUP g c STREAMS u >
            {"u" => [["1-0", ["f", "v"]], ["2-0", ["f", "v"]]]}
            > XDELEX u ACKED IDS 2 1-0 2-0
            [:2, :2]
            > XGROUP DESTROY u g
            :1
            > XDELEX u ACKED IDS 2 1-0 2-0
            [:1, :1]
            > XLEN u
            :0
        "#]],
    );
}

#[test]
fn xackdel() {
    // stream-cgroups.tcl: "XACKDEL wrong number of args", "... when key doesn't exist or group
    // doesn't exist", "... IDS parameter validation", "... with DELREF", "... with ACKED",
    // "... with KEEPREF".
    check(
        r#"
        XACKDEL s g
        XACKDEL s g IDS 2 1-1 2-2
        XADD s 1-0 f v
        XACKDEL s g IDS 2 1-1 2-2
        XACKDEL s g IDS 1 nonsense
        XGROUP CREATE s g 0
        XACKDEL s g IDS 1 nonsense
        XACKDEL s g IDS abc 1-1
        XACKDEL s g IDS 3 1-1 2-2
        XACKDEL s g IDS 1 1-1 2-2
        XACKDEL s g KEEPREF DELREF IDS 1 1-1
        XACKDEL s g IDS 1 1-0
        XLEN s
        DEL s
        XADD s 1-0 f v
        XADD s 2-0 f v
        XGROUP CREATE s g1 0
        XGROUP CREATE s g2 0
        XREADGROUP GROUP g1 c1 STREAMS s >
        XREADGROUP GROUP g2 c2 STREAMS s >
        XACKDEL s g1 ACKED IDS 2 1-0 2-0
        XLEN s
        XPENDING s g1
        XPENDING s g2
        XACKDEL s g2 ACKED IDS 2 1-0 2-0
        XLEN s
        XADD s 3-0 f v
        XADD s 4-0 f v
        XREADGROUP GROUP g1 c1 STREAMS s >
        XREADGROUP GROUP g2 c2 STREAMS s >
        XACKDEL s g1 KEEPREF IDS 2 3-0 4-0
        XLEN s
        XPENDING s g2
        XACKDEL s g2 KEEPREF IDS 2 3-0 4-0
        XPENDING s g2
        XADD s 5-0 f v
        XADD s 6-0 f v
        XREADGROUP GROUP g1 c1 STREAMS s >
        XREADGROUP GROUP g2 c2 STREAMS s >
        XACKDEL s g1 DELREF IDS 3 5-0 6-0 5-0
        XLEN s
        XPENDING s g1
        XPENDING s g2
        XACKDEL s g2 DELREF IDS 2 5-0 6-0
        XINFO STREAM s
        "#,
        expect![[r#"
            > XACKDEL s g
            -ERR wrong number of arguments for 'xackdel' command
            > XACKDEL s g IDS 2 1-1 2-2
            [:-1, :-1]
            > XADD s 1-0 f v
            "1-0"
            > XACKDEL s g IDS 2 1-1 2-2
            [:-1, :-1]
            > XACKDEL s g IDS 1 nonsense
            [:-1]
            > XGROUP CREATE s g 0
            +OK
            > XACKDEL s g IDS 1 nonsense
            -ERR Invalid stream ID specified as stream command argument
            > XACKDEL s g IDS abc 1-1
            -ERR Number of IDs must be a positive integer
            > XACKDEL s g IDS 3 1-1 2-2
            -ERR The `numids` parameter must match the number of arguments
            > XACKDEL s g IDS 1 1-1 2-2
            -ERR syntax error
            > XACKDEL s g KEEPREF DELREF IDS 1 1-1
            -ERR syntax error
            > XACKDEL s g IDS 1 1-0
            [:-1]
            > XLEN s
            :1
            > DEL s
            :1
            > XADD s 1-0 f v
            "1-0"
            > XADD s 2-0 f v
            "2-0"
            > XGROUP CREATE s g1 0
            +OK
            > XGROUP CREATE s g2 0
            +OK
            > XREADGROUP GROUP g1 c1 STREAMS s >
            {"s" => [["1-0", ["f", "v"]], ["2-0", ["f", "v"]]]}
            > XREADGROUP GROUP g2 c2 STREAMS s >
            {"s" => [["1-0", ["f", "v"]], ["2-0", ["f", "v"]]]}
            > XACKDEL s g1 ACKED IDS 2 1-0 2-0
            [:2, :2]
            > XLEN s
            :2
            > XPENDING s g1
            [:0, (nil), (nil), (nil-array)]
            > XPENDING s g2
            [:2, "1-0", "2-0", [["c2", "2"]]]
            > XACKDEL s g2 ACKED IDS 2 1-0 2-0
            [:1, :1]
            > XLEN s
            :0
            > XADD s 3-0 f v
            "3-0"
            > XADD s 4-0 f v
            "4-0"
            > XREADGROUP GROUP g1 c1 STREAMS s >
            {"s" => [["3-0", ["f", "v"]], ["4-0", ["f", "v"]]]}
            > XREADGROUP GROUP g2 c2 STREAMS s >
            {"s" => [["3-0", ["f", "v"]], ["4-0", ["f", "v"]]]}
            > XACKDEL s g1 KEEPREF IDS 2 3-0 4-0
            [:1, :1]
            > XLEN s
            :0
            > XPENDING s g2
            [:2, "3-0", "4-0", [["c2", "2"]]]
            > XACKDEL s g2 KEEPREF IDS 2 3-0 4-0
            [:1, :1]
            > XPENDING s g2
            [:0, (nil), (nil), (nil-array)]
            > XADD s 5-0 f v
            "5-0"
            > XADD s 6-0 f v
            "6-0"
            > XREADGROUP GROUP g1 c1 STREAMS s >
            {"s" => [["5-0", ["f", "v"]], ["6-0", ["f", "v"]]]}
            > XREADGROUP GROUP g2 c2 STREAMS s >
            {"s" => [["5-0", ["f", "v"]], ["6-0", ["f", "v"]]]}
            > XACKDEL s g1 DELREF IDS 3 5-0 6-0 5-0
            [:1, :1, :-1]
            > XLEN s
            :0
            > XPENDING s g1
            [:0, (nil), (nil), (nil-array)]
            > XPENDING s g2
            [:0, (nil), (nil), (nil-array)]
            > XACKDEL s g2 DELREF IDS 2 5-0 6-0
            [:-1, :-1]
            > XINFO STREAM s
            {"length": :0, "radix-tree-keys": :0, "radix-tree-nodes": :1, "last-generated-id": "6-0", "max-deleted-entry-id": "6-0", "entries-added": :6, "recorded-first-entry-id": "0-0", "idmp-duration": :100, "idmp-maxsize": :100, "pids-tracked": :0, "iids-tracked": :0, "iids-added": :0, "iids-duplicates": :0, "groups": :2, "first-entry": (nil), "last-entry": (nil)}
        "#]],
    );
}

#[test]
fn trimming_with_policies() {
    // stream.tcl: "XADD with MAXLEN option and ACKED option", "... and DELREF option", "XTRIM
    // with approx and ACKED deletes entries correctly", "... and DELREF ...".
    check(
        r#"
        XADD s 1-0 f v
        XADD s 2-0 f v
        XADD s 3-0 f v
        XADD s 4-0 f v
        XADD s 5-0 f v
        XGROUP CREATE s g 0
        XADD s MAXLEN = 1 ACKED 6-0 f v
        XLEN s
        XREADGROUP GROUP g c COUNT 1 STREAMS s >
        XACK s g 1-0
        XADD s MAXLEN = 1 ACKED 7-0 f v
        XLEN s
        XREADGROUP GROUP g c STREAMS s >
        XACK s g 2-0 3-0 4-0 5-0 6-0 7-0
        XADD s MAXLEN = 1 ACKED 8-0 f v
        XLEN s
        XRANGE s - +
        XADD t 1-0 f v
        XADD t 2-0 f v
        XADD t 3-0 f v
        XADD t 4-0 f v
        XADD t 5-0 f v
        XGROUP CREATE t g 0
        XREADGROUP GROUP g c COUNT 1 STREAMS t >
        XADD t MAXLEN = 1 DELREF 6-0 f v
        XLEN t
        XPENDING t g
        XADD u 1-0 f v
        XADD u 2-0 f v
        XADD u 3-0 f v
        XADD u 4-0 f v
        XADD u 5-0 f v
        XGROUP CREATE u g 0
        XREADGROUP GROUP g c STREAMS u >
        XACK u g 1-0 2-0 4-0
        XTRIM u MINID ~ 6-0 ACKED
        XLEN u
        XRANGE u - +
        XTRIM u MINID ~ 6-0 DELREF
        XLEN u
        XPENDING u g
        XTRIM u MAXLEN 0 ACKED ACKED
        XTRIM u MAXLEN 0 KEEPREF LIMIT 5
        XADD u KEEPREF DELREF * f v
        XADD u ACKED * f v
        XADD u KEEPREF MAXLEN 0 * KEEPREF v
        XLEN u
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
            > XADD s 5-0 f v
            "5-0"
            > XGROUP CREATE s g 0
            +OK
            > XADD s MAXLEN = 1 ACKED 6-0 f v
            "6-0"
            > XLEN s
            :6
            > XREADGROUP GROUP g c COUNT 1 STREAMS s >
            {"s" => [["1-0", ["f", "v"]]]}
            > XACK s g 1-0
            :1
            > XADD s MAXLEN = 1 ACKED 7-0 f v
            "7-0"
            > XLEN s
            :6
            > XREADGROUP GROUP g c STREAMS s >
            {"s" => [["2-0", ["f", "v"]], ["3-0", ["f", "v"]], ["4-0", ["f", "v"]], ["5-0", ["f", "v"]], ["6-0", ["f", "v"]], ["7-0", ["f", "v"]]]}
            > XACK s g 2-0 3-0 4-0 5-0 6-0 7-0
            :6
            > XADD s MAXLEN = 1 ACKED 8-0 f v
            "8-0"
            > XLEN s
            :1
            > XRANGE s - +
            [["8-0", ["f", "v"]]]
            > XADD t 1-0 f v
            "1-0"
            > XADD t 2-0 f v
            "2-0"
            > XADD t 3-0 f v
            "3-0"
            > XADD t 4-0 f v
            "4-0"
            > XADD t 5-0 f v
            "5-0"
            > XGROUP CREATE t g 0
            +OK
            > XREADGROUP GROUP g c COUNT 1 STREAMS t >
            {"t" => [["1-0", ["f", "v"]]]}
            > XADD t MAXLEN = 1 DELREF 6-0 f v
            "6-0"
            > XLEN t
            :1
            > XPENDING t g
            [:0, (nil), (nil), (nil-array)]
            > XADD u 1-0 f v
            "1-0"
            > XADD u 2-0 f v
            "2-0"
            > XADD u 3-0 f v
            "3-0"
            > XADD u 4-0 f v
            "4-0"
            > XADD u 5-0 f v
            "5-0"
            > XGROUP CREATE u g 0
            +OK
            > XREADGROUP GROUP g c STREAMS u >
            {"u" => [["1-0", ["f", "v"]], ["2-0", ["f", "v"]], ["3-0", ["f", "v"]], ["4-0", ["f", "v"]], ["5-0", ["f", "v"]]]}
            > XACK u g 1-0 2-0 4-0
            :3
            > XTRIM u MINID ~ 6-0 ACKED
            :3
            > XLEN u
            :2
            > XRANGE u - +
            [["3-0", ["f", "v"]], ["5-0", ["f", "v"]]]
            > XTRIM u MINID ~ 6-0 DELREF
            :2
            > XLEN u
            :0
            > XPENDING u g
            [:0, (nil), (nil), (nil-array)]
            > XTRIM u MAXLEN 0 ACKED ACKED
            -ERR syntax error
            > XTRIM u MAXLEN 0 KEEPREF LIMIT 5
            -ERR syntax error, LIMIT cannot be used without the special ~ option
            > XADD u KEEPREF DELREF * f v
            -ERR Invalid stream ID specified as stream command argument
            > XADD u ACKED * f v
            "1000-0"
            > XADD u KEEPREF MAXLEN 0 * KEEPREF v
            "1000-1"
            > XLEN u
            :0
        "#]],
    );
}

#[test]
fn acked_trimming_stops_at_the_first_undelivered_entry_and_limit_caps_the_walk() {
    check(
        r#"
        XADD s 1-0 f v
        XADD s 2-0 f v
        XADD s 3-0 f v
        XADD s 4-0 f v
        XADD s 5-0 f v
        XADD s 6-0 f v
        XGROUP CREATE s g 0
        XREADGROUP GROUP g c COUNT 4 STREAMS s >
        XACK s g 2-0 3-0 4-0
        XTRIM s MAXLEN 0 ACKED
        XRANGE s - +
        XADD t 1-0 f v
        XADD t 2-0 f v
        XADD t 3-0 f v
        XADD t 4-0 f v
        XTRIM t MAXLEN ~ 0 LIMIT 2 DELREF
        XTRIM t MAXLEN ~ 0 LIMIT 199 DELREF
        XRANGE t - +
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
            > XADD s 5-0 f v
            "5-0"
            > XADD s 6-0 f v
            "6-0"
            > XGROUP CREATE s g 0
            +OK
            > XREADGROUP GROUP g c COUNT 4 STREAMS s >
            {"s" => [["1-0", ["f", "v"]], ["2-0", ["f", "v"]], ["3-0", ["f", "v"]], ["4-0", ["f", "v"]]]}
            > XACK s g 2-0 3-0 4-0
            :3
            > XTRIM s MAXLEN 0 ACKED
            :3
            > XRANGE s - +
            [["1-0", ["f", "v"]], ["5-0", ["f", "v"]], ["6-0", ["f", "v"]]]
            > XADD t 1-0 f v
            "1-0"
            > XADD t 2-0 f v
            "2-0"
            > XADD t 3-0 f v
            "3-0"
            > XADD t 4-0 f v
            "4-0"
            > XTRIM t MAXLEN ~ 0 LIMIT 2 DELREF
            :0
            > XTRIM t MAXLEN ~ 0 LIMIT 199 DELREF
            :4
            > XRANGE t - +
            []
        "#]],
    );
}

#[test]
fn acked_trimming_looks_no_further_than_the_target_node() {
    // 250 entries delivered, 101-0 to 250-0 acknowledged. Redis stops its walk after the node
    // holding the MAXLEN target; Rill after the target rounded up to a whole node: a trim of 10
    // looks at the 100 pending entries at the head and removes nothing, a trim of 110 looks
    // at 200 and removes the 100 acknowledged among them.
    let mut script = String::new();
    for i in 1..=250 {
        script.push_str(&format!("XADD s {i}-0 f v\n"));
    }
    script.push_str("XGROUP CREATE s g 0\nXREADGROUP GROUP g c STREAMS s >\nXACK s g");
    for i in 101..=250 {
        script.push_str(&format!(" {i}-0"));
    }
    script.push_str("\nXTRIM s MAXLEN 240 ACKED\nXTRIM s MAXLEN 140 ACKED\nXLEN s\n");
    script.push_str("XRANGE s 100 + COUNT 2\nXTRIM s MINID 300 ACKED\nXLEN s\n");
    let shown = ["XTRIM", "XLEN", "XRANGE"];
    let out = super::run_script(&script, |line| shown.iter().any(|c| line.starts_with(c)));
    expect![[r#"
        > XTRIM s MAXLEN 240 ACKED
        :0
        > XTRIM s MAXLEN 140 ACKED
        :100
        > XLEN s
        :150
        > XRANGE s 100 + COUNT 2
        [["100-0", ["f", "v"]], ["201-0", ["f", "v"]]]
        > XTRIM s MINID 300 ACKED
        :50
        > XLEN s
        :100
    "#]]
    .assert_eq(&out);
}
