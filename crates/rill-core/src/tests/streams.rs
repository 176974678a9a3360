//! XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM, XREAD, XSETID, XINFO STREAM and the keyspace.

use expect_test::expect;

use super::check;

#[test]
fn xadd_ids() {
    check(
        r#"
        @5000
        XADD s * a 1
        XADD s * a 2
        @4000
        XADD s * a 3
        XADD s 5000-* a 4
        XADD s 6000-* a 5
        XADD s 6000-7 a 6
        XADD s 6000-7 a 7
        XADD s 6000 a 8
        XADD s 0-0 a 9
        XADD s 0 a 9
        XADD n 0-* a b
        XADD s 18446744073709551616-0 a b
        XADD s 1-x a b
        XADD s * a
        XADD s NOMKSTREAM
        XADD missing NOMKSTREAM * a b
        EXISTS missing
        XADD s maxlen
        XLEN s
        XLEN missing
        "#,
        expect![[r#"
            > XADD s * a 1
            "5000-0"
            > XADD s * a 2
            "5000-1"
            > XADD s * a 3
            "5000-2"
            > XADD s 5000-* a 4
            "5000-3"
            > XADD s 6000-* a 5
            "6000-0"
            > XADD s 6000-7 a 6
            "6000-7"
            > XADD s 6000-7 a 7
            -ERR The ID specified in XADD is equal or smaller than the target stream top item
            > XADD s 6000 a 8
            -ERR The ID specified in XADD is equal or smaller than the target stream top item
            > XADD s 0-0 a 9
            -ERR The ID specified in XADD must be greater than 0-0
            > XADD s 0 a 9
            -ERR The ID specified in XADD must be greater than 0-0
            > XADD n 0-* a b
            "0-1"
            > XADD s 18446744073709551616-0 a b
            -ERR Invalid stream ID specified as stream command argument
            > XADD s 1-x a b
            -ERR Invalid stream ID specified as stream command argument
            > XADD s * a
            -ERR wrong number of arguments for 'xadd' command
            > XADD s NOMKSTREAM
            -ERR wrong number of arguments for 'xadd' command
            > XADD missing NOMKSTREAM * a b
            (nil)
            > EXISTS missing
            :0
            > XADD s maxlen
            -ERR wrong number of arguments for 'xadd' command
            > XLEN s
            :6
            > XLEN missing
            :0
        "#]],
    );
}

#[test]
fn xadd_exhausted_id() {
    check(
        r#"
        XADD s 18446744073709551615-18446744073709551615 a b
        XADD s * a b
        XADD t 18446744073709551615-18446744073709551614 a b
        XADD t 18446744073709551615-* a b
        XADD t 18446744073709551615-* a b
        "#,
        expect![[r#"
            > XADD s 18446744073709551615-18446744073709551615 a b
            "18446744073709551615-18446744073709551615"
            > XADD s * a b
            -ERR The stream has exhausted the last possible ID, unable to add more items
            > XADD t 18446744073709551615-18446744073709551614 a b
            "18446744073709551615-18446744073709551614"
            > XADD t 18446744073709551615-* a b
            "18446744073709551615-18446744073709551615"
            > XADD t 18446744073709551615-* a b
            -ERR The stream has exhausted the last possible ID, unable to add more items
        "#]],
    );
}

#[test]
fn xadd_trimming_options() {
    check(
        r#"
        XADD s MAXLEN 2 1-1 a b
        XADD s MAXLEN 2 2-1 a b
        XADD s MAXLEN = 2 3-1 a b
        XRANGE s - +
        XADD s MAXLEN 0 4-1 a b
        XLEN s
        XINFO STREAM s
        XADD s MINID 9 5-1 a b
        XLEN s
        XADD s MAXLEN 10 LIMIT 5 6-1 a b
        XADD s MAXLEN 1 MINID 1 7-1 a b
        XADD s MAXLEN -1 8-1 a b
        XADD s MAXLEN x 8-1 a b
        XADD s MINID x 8-1 a b
        XADD s MAXLEN ~ 1 LIMIT -1 8-1 a b
        "#,
        expect![[r#"
            > XADD s MAXLEN 2 1-1 a b
            "1-1"
            > XADD s MAXLEN 2 2-1 a b
            "2-1"
            > XADD s MAXLEN = 2 3-1 a b
            "3-1"
            > XRANGE s - +
            [["2-1", ["a", "b"]], ["3-1", ["a", "b"]]]
            > XADD s MAXLEN 0 4-1 a b
            "4-1"
            > XLEN s
            :0
            > XINFO STREAM s
            {"length": :0, "radix-tree-keys": :0, "radix-tree-nodes": :1, "last-generated-id": "4-1", "max-deleted-entry-id": "0-0", "entries-added": :4, "recorded-first-entry-id": "0-0", "idmp-duration": :100, "idmp-maxsize": :100, "pids-tracked": :0, "iids-tracked": :0, "iids-added": :0, "iids-duplicates": :0, "groups": :0, "first-entry": (nil), "last-entry": (nil)}
            > XADD s MINID 9 5-1 a b
            "5-1"
            > XLEN s
            :0
            > XADD s MAXLEN 10 LIMIT 5 6-1 a b
            -ERR syntax error, LIMIT cannot be used without the special ~ option
            > XADD s MAXLEN 1 MINID 1 7-1 a b
            -ERR syntax error, MAXLEN and MINID options at the same time are not compatible
            > XADD s MAXLEN -1 8-1 a b
            -ERR The MAXLEN argument must be >= 0.
            > XADD s MAXLEN x 8-1 a b
            -ERR value is not an integer or out of range
            > XADD s MINID x 8-1 a b
            -ERR Invalid stream ID specified as stream command argument
            > XADD s MAXLEN ~ 1 LIMIT -1 8-1 a b
            -ERR The LIMIT argument must be >= 0.
        "#]],
    );
}

#[test]
fn approximate_trimming_removes_whole_nodes_only() {
    let mut script = String::new();
    for i in 1..=250 {
        script.push_str(&format!("XADD s {i}-0 f v\n"));
    }
    script.push_str("XTRIM s MAXLEN ~ 10\nXLEN s\nXTRIM s MAXLEN ~ 10\nXLEN s\nXTRIM s MAXLEN ~ 0 LIMIT 20\nXTRIM s MAXLEN 10\nXLEN s\nXRANGE s - + COUNT 1\n");
    script.push_str("XTRIM s MINID 245\nXRANGE s - +\nXTRIM missing MAXLEN 0\nXTRIM missing FOO\nXTRIM s FOO bar\nXTRIM s MAXLEN 1 LIMIT 10\n");
    let out = super::run_script(&script, |line| !line.starts_with("XADD"));
    expect![[r#"
        > XTRIM s MAXLEN ~ 10
        :200
        > XLEN s
        :50
        > XTRIM s MAXLEN ~ 10
        :0
        > XLEN s
        :50
        > XTRIM s MAXLEN ~ 0 LIMIT 20
        :0
        > XTRIM s MAXLEN 10
        :40
        > XLEN s
        :10
        > XRANGE s - + COUNT 1
        [["241-0", ["f", "v"]]]
        > XTRIM s MINID 245
        :4
        > XRANGE s - +
        [["245-0", ["f", "v"]], ["246-0", ["f", "v"]], ["247-0", ["f", "v"]], ["248-0", ["f", "v"]], ["249-0", ["f", "v"]], ["250-0", ["f", "v"]]]
        > XTRIM missing MAXLEN 0
        :0
        > XTRIM missing FOO
        -ERR wrong number of arguments for 'xtrim' command
        > XTRIM s FOO bar
        -ERR syntax error
        > XTRIM s MAXLEN 1 LIMIT 10
        -ERR syntax error, LIMIT cannot be used without the special ~ option
    "#]].assert_eq(&out);
}

#[test]
fn xrange_and_xrevrange() {
    check(
        r#"
        XADD s 1-1 a 1
        XADD s 1-2 b 2
        XADD s 2-1 c 3
        XADD s 3-0 d 4 e 5
        XRANGE s - +
        XRANGE s 1 1
        XRANGE s (1-1 +
        XRANGE s - (3
        XRANGE s - + COUNT 2
        XRANGE s - + COUNT 0
        XRANGE s - + COUNT -5
        XREVRANGE s + -
        XREVRANGE s + - COUNT 1
        XREVRANGE s (3-0 -
        XRANGE s 3 1
        XRANGE s (+ +
        XRANGE s - (-
        XRANGE s (- +
        XRANGE s x +
        XRANGE s - + COUNT
        XRANGE s - + LIMIT 1
        XRANGE missing - +
        XRANGE s
        "#,
        expect![[r#"
            > XADD s 1-1 a 1
            "1-1"
            > XADD s 1-2 b 2
            "1-2"
            > XADD s 2-1 c 3
            "2-1"
            > XADD s 3-0 d 4 e 5
            "3-0"
            > XRANGE s - +
            [["1-1", ["a", "1"]], ["1-2", ["b", "2"]], ["2-1", ["c", "3"]], ["3-0", ["d", "4", "e", "5"]]]
            > XRANGE s 1 1
            [["1-1", ["a", "1"]], ["1-2", ["b", "2"]]]
            > XRANGE s (1-1 +
            [["1-2", ["b", "2"]], ["2-1", ["c", "3"]], ["3-0", ["d", "4", "e", "5"]]]
            > XRANGE s - (3
            [["1-1", ["a", "1"]], ["1-2", ["b", "2"]], ["2-1", ["c", "3"]], ["3-0", ["d", "4", "e", "5"]]]
            > XRANGE s - + COUNT 2
            [["1-1", ["a", "1"]], ["1-2", ["b", "2"]]]
            > XRANGE s - + COUNT 0
            (nil-array)
            > XRANGE s - + COUNT -5
            (nil-array)
            > XREVRANGE s + -
            [["3-0", ["d", "4", "e", "5"]], ["2-1", ["c", "3"]], ["1-2", ["b", "2"]], ["1-1", ["a", "1"]]]
            > XREVRANGE s + - COUNT 1
            [["3-0", ["d", "4", "e", "5"]]]
            > XREVRANGE s (3-0 -
            [["2-1", ["c", "3"]], ["1-2", ["b", "2"]], ["1-1", ["a", "1"]]]
            > XRANGE s 3 1
            []
            > XRANGE s (+ +
            -ERR Invalid stream ID specified as stream command argument
            > XRANGE s - (-
            -ERR Invalid stream ID specified as stream command argument
            > XRANGE s (- +
            -ERR Invalid stream ID specified as stream command argument
            > XRANGE s x +
            -ERR Invalid stream ID specified as stream command argument
            > XRANGE s - + COUNT
            -ERR syntax error
            > XRANGE s - + LIMIT 1
            -ERR syntax error
            > XRANGE missing - +
            []
            > XRANGE s
            -ERR wrong number of arguments for 'xrange' command
        "#]],
    );
}

#[test]
fn xdel_tracks_first_and_max_deleted() {
    check(
        r#"
        XADD s 1-1 a 1
        XADD s 2-1 a 2
        XADD s 3-1 a 3
        XDEL s 1-1 1-1 9-9
        XDEL s x
        XDEL missing 1-1
        XINFO STREAM s
        XDEL s 2-1 3-1
        XINFO STREAM s
        XADD s 2-5 a b
        XADD s * a b
        "#,
        expect![[r#"
            > XADD s 1-1 a 1
            "1-1"
            > XADD s 2-1 a 2
            "2-1"
            > XADD s 3-1 a 3
            "3-1"
            > XDEL s 1-1 1-1 9-9
            :1
            > XDEL s x
            -ERR Invalid stream ID specified as stream command argument
            > XDEL missing 1-1
            :0
            > XINFO STREAM s
            {"length": :2, "radix-tree-keys": :1, "radix-tree-nodes": :2, "last-generated-id": "3-1", "max-deleted-entry-id": "1-1", "entries-added": :3, "recorded-first-entry-id": "2-1", "idmp-duration": :100, "idmp-maxsize": :100, "pids-tracked": :0, "iids-tracked": :0, "iids-added": :0, "iids-duplicates": :0, "groups": :0, "first-entry": ["2-1", ["a", "2"]], "last-entry": ["3-1", ["a", "3"]]}
            > XDEL s 2-1 3-1
            :2
            > XINFO STREAM s
            {"length": :0, "radix-tree-keys": :0, "radix-tree-nodes": :1, "last-generated-id": "3-1", "max-deleted-entry-id": "3-1", "entries-added": :3, "recorded-first-entry-id": "0-0", "idmp-duration": :100, "idmp-maxsize": :100, "pids-tracked": :0, "iids-tracked": :0, "iids-added": :0, "iids-duplicates": :0, "groups": :0, "first-entry": (nil), "last-entry": (nil)}
            > XADD s 2-5 a b
            -ERR The ID specified in XADD is equal or smaller than the target stream top item
            > XADD s * a b
            "1000-0"
        "#]],
    );
}

#[test]
fn xread() {
    check(
        r#"
        XADD a 1-1 f 1
        XADD a 2-1 f 2
        XADD b 5-0 g 1
        XREAD STREAMS a b 0 0
        XREAD COUNT 1 STREAMS a b 1-1 0
        XREAD STREAMS a $
        XREAD STREAMS a +
        XREAD STREAMS a missing 2-1 0
        XREAD STREAMS a
        XREAD STREAMS a b 0
        XREAD STREAMS a >
        XREAD GROUP g c STREAMS a 0
        XREAD NOACK STREAMS a 0
        XREAD COUNT x STREAMS a 0
        XREAD BLOCK -1 STREAMS a 0
        XREAD BLOCK x STREAMS a 0
        XREAD FOO STREAMS a 0
        XREAD COUNT 1
        "#,
        expect![[r#"
            > XADD a 1-1 f 1
            "1-1"
            > XADD a 2-1 f 2
            "2-1"
            > XADD b 5-0 g 1
            "5-0"
            > XREAD STREAMS a b 0 0
            {"a" => [["1-1", ["f", "1"]], ["2-1", ["f", "2"]]], "b" => [["5-0", ["g", "1"]]]}
            > XREAD COUNT 1 STREAMS a b 1-1 0
            {"a" => [["2-1", ["f", "2"]]], "b" => [["5-0", ["g", "1"]]]}
            > XREAD STREAMS a $
            (nil-array)
            > XREAD STREAMS a +
            {"a" => [["2-1", ["f", "2"]]]}
            > XREAD STREAMS a missing 2-1 0
            (nil-array)
            > XREAD STREAMS a
            -ERR wrong number of arguments for 'xread' command
            > XREAD STREAMS a b 0
            -ERR Unbalanced 'xread' list of streams: for each stream key an ID, '+', or '$' must be specified.
            > XREAD STREAMS a >
            -ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.
            > XREAD GROUP g c STREAMS a 0
            -ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.
            > XREAD NOACK STREAMS a 0
            -ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.
            > XREAD COUNT x STREAMS a 0
            -ERR value is not an integer or out of range
            > XREAD BLOCK -1 STREAMS a 0
            -ERR timeout is negative
            > XREAD BLOCK x STREAMS a 0
            -ERR timeout is not an integer or out of range
            > XREAD FOO STREAMS a 0
            -ERR syntax error
            > XREAD COUNT 1
            -ERR wrong number of arguments for 'xread' command
        "#]],
    );
}

#[test]
fn xsetid() {
    check(
        r#"
        XADD s 5-1 a b
        XSETID s 4-0
        XSETID s 10-0 ENTRIESADDED 0
        XSETID s 10-0 ENTRIESADDED 7 MAXDELETEDID 3-0
        XINFO STREAM s
        XSETID s 10-0 MAXDELETEDID 11-0
        XSETID s 2-0
        XSETID missing 1-0
        XSETID s x
        XSETID s 10-0 ENTRIESADDED -1
        XSETID s 10-0 FOO 1
        XADD s 10-0 a b
        XADD s * a b
        "#,
        expect![[r#"
            > XADD s 5-1 a b
            "5-1"
            > XSETID s 4-0
            -ERR The ID specified in XSETID is smaller than the target stream top item
            > XSETID s 10-0 ENTRIESADDED 0
            -ERR The entries_added specified in XSETID is smaller than the target stream length
            > XSETID s 10-0 ENTRIESADDED 7 MAXDELETEDID 3-0
            +OK
            > XINFO STREAM s
            {"length": :1, "radix-tree-keys": :1, "radix-tree-nodes": :2, "last-generated-id": "10-0", "max-deleted-entry-id": "3-0", "entries-added": :7, "recorded-first-entry-id": "5-1", "idmp-duration": :100, "idmp-maxsize": :100, "pids-tracked": :0, "iids-tracked": :0, "iids-added": :0, "iids-duplicates": :0, "groups": :0, "first-entry": ["5-1", ["a", "b"]], "last-entry": ["5-1", ["a", "b"]]}
            > XSETID s 10-0 MAXDELETEDID 11-0
            -ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id
            > XSETID s 2-0
            -ERR The ID specified in XSETID is smaller than current max_deleted_entry_id
            > XSETID missing 1-0
            -ERR no such key
            > XSETID s x
            -ERR Invalid stream ID specified as stream command argument
            > XSETID s 10-0 ENTRIESADDED -1
            -ERR entries_added must be positive
            > XSETID s 10-0 FOO 1
            -ERR syntax error
            > XADD s 10-0 a b
            -ERR The ID specified in XADD is equal or smaller than the target stream top item
            > XADD s * a b
            "1000-0"
        "#]],
    );
}

#[test]
fn keyspace() {
    check(
        r#"
        XADD sensor:1 1-1 a b
        XADD sensor:2 1-1 a b
        XADD other 1-1 a b
        KEYS *
        KEYS sensor:*
        KEYS s?nsor:[12]
        EXISTS sensor:1 sensor:1 nope
        TYPE other
        TYPE nope
        SCAN 0
        SCAN 0 COUNT 2
        SCAN 2 COUNT 2
        SCAN 0 MATCH sensor:* COUNT 100
        SCAN 0 TYPE string
        SCAN x
        SCAN 0 COUNT 0
        DEL sensor:1 sensor:1 nope
        KEYS *
        "#,
        expect![[r#"
            > XADD sensor:1 1-1 a b
            "1-1"
            > XADD sensor:2 1-1 a b
            "1-1"
            > XADD other 1-1 a b
            "1-1"
            > KEYS *
            ["other", "sensor:1", "sensor:2"]
            > KEYS sensor:*
            ["sensor:1", "sensor:2"]
            > KEYS s?nsor:[12]
            ["sensor:1", "sensor:2"]
            > EXISTS sensor:1 sensor:1 nope
            :2
            > TYPE other
            +stream
            > TYPE nope
            +none
            > SCAN 0
            ["0", ["other", "sensor:1", "sensor:2"]]
            > SCAN 0 COUNT 2
            ["2", ["other", "sensor:1"]]
            > SCAN 2 COUNT 2
            ["0", ["sensor:2"]]
            > SCAN 0 MATCH sensor:* COUNT 100
            ["0", ["sensor:1", "sensor:2"]]
            > SCAN 0 TYPE string
            ["0", []]
            > SCAN x
            -ERR invalid cursor
            > SCAN 0 COUNT 0
            -ERR syntax error
            > DEL sensor:1 sensor:1 nope
            :1
            > KEYS *
            ["other", "sensor:2"]
        "#]],
    );
}

#[test]
fn xinfo_stream_full() {
    check(
        r#"
        XADD s 1-1 a 1
        XADD s 2-1 a 2
        XGROUP CREATE s g 0
        @2000
        XREADGROUP GROUP g alice COUNT 1 STREAMS s >
        XINFO STREAM s FULL
        XINFO STREAM s FULL COUNT 1
        XINFO STREAM s FULL COUNT
        XINFO STREAM s FOO
        XINFO STREAM missing
        XINFO FOO
        XINFO
        "#,
        expect![[r#"
            > XADD s 1-1 a 1
            "1-1"
            > XADD s 2-1 a 2
            "2-1"
            > XGROUP CREATE s g 0
            +OK
            > XREADGROUP GROUP g alice COUNT 1 STREAMS s >
            {"s" => [["1-1", ["a", "1"]]]}
            > XINFO STREAM s FULL
            {"length": :2, "radix-tree-keys": :1, "radix-tree-nodes": :2, "last-generated-id": "2-1", "max-deleted-entry-id": "0-0", "entries-added": :2, "recorded-first-entry-id": "1-1", "idmp-duration": :100, "idmp-maxsize": :100, "pids-tracked": :0, "iids-tracked": :0, "iids-added": :0, "iids-duplicates": :0, "entries": [["1-1", ["a", "1"]], ["2-1", ["a", "2"]]], "groups": [{"name": "g", "last-delivered-id": "1-1", "entries-read": :1, "lag": :1, "pel-count": :1, "nacked-count": :0, "pending": [["1-1", "alice", :2000, :1]], "consumers": [{"name": "alice", "seen-time": :2000, "active-time": :2000, "pel-count": :1, "pending": [["1-1", :2000, :1]]}]}]}
            > XINFO STREAM s FULL COUNT 1
            {"length": :2, "radix-tree-keys": :1, "radix-tree-nodes": :2, "last-generated-id": "2-1", "max-deleted-entry-id": "0-0", "entries-added": :2, "recorded-first-entry-id": "1-1", "idmp-duration": :100, "idmp-maxsize": :100, "pids-tracked": :0, "iids-tracked": :0, "iids-added": :0, "iids-duplicates": :0, "entries": [["1-1", ["a", "1"]]], "groups": [{"name": "g", "last-delivered-id": "1-1", "entries-read": :1, "lag": :1, "pel-count": :1, "nacked-count": :0, "pending": [["1-1", "alice", :2000, :1]], "consumers": [{"name": "alice", "seen-time": :2000, "active-time": :2000, "pel-count": :1, "pending": [["1-1", :2000, :1]]}]}]}
            > XINFO STREAM s FULL COUNT
            -ERR unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP.
            > XINFO STREAM s FOO
            -ERR unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP.
            > XINFO STREAM missing
            -ERR no such key
            > XINFO FOO
            -ERR unknown subcommand 'FOO'. Try XINFO HELP.
            > XINFO
            -ERR wrong number of arguments for 'xinfo' command
        "#]],
    );
}

/// An entry `a b` costs 82 reply bytes (`entry_reply_bytes`): two fit in 200, three do not.
#[test]
fn replies_are_bounded_in_bytes() {
    let limits = crate::Limits {
        reply_bytes_max: 200,
        ..crate::Limits::default()
    };
    super::check_with(
        r#"
        XADD s 1-1 a b
        XADD s 2-1 a b
        XADD s 3-1 a b
        XRANGE s - +
        XRANGE s - + COUNT 2
        XREVRANGE s + - COUNT 3
        XREAD STREAMS s 0
        XREAD COUNT 1 STREAMS s s 0 1-1
        XREAD COUNT 2 STREAMS s s 0 1-1
        XINFO STREAM s FULL
        XGROUP CREATE s g 0
        XREADGROUP GROUP g c STREAMS s >
        XPENDING s g
        XREADGROUP GROUP g c COUNT 2 STREAMS s >
        XREADGROUP GROUP g c COUNT 2 STREAMS s >
        XREADGROUP GROUP g c STREAMS s 0
        XREADGROUP GROUP g c COUNT 2 STREAMS s 0
        XCLAIM s g d 0 1-1 2-1 3-1
        XCLAIM s g d 0 1-1 2-1
        XAUTOCLAIM s g e 0 0 COUNT 10
        XAUTOCLAIM s g e 0 3-1 COUNT 10
        XCLAIM s g d 0 1-1 2-1 3-1 JUSTID
        "#,
        &limits,
        expect![[r#"
            > XADD s 1-1 a b
            "1-1"
            > XADD s 2-1 a b
            "2-1"
            > XADD s 3-1 a b
            "3-1"
            > XRANGE s - +
            -ERR reply would exceed 200 bytes (reply_bytes_max); use COUNT to page
            > XRANGE s - + COUNT 2
            [["1-1", ["a", "b"]], ["2-1", ["a", "b"]]]
            > XREVRANGE s + - COUNT 3
            -ERR reply would exceed 200 bytes (reply_bytes_max); use COUNT to page
            > XREAD STREAMS s 0
            -ERR reply would exceed 200 bytes (reply_bytes_max); use COUNT to page
            > XREAD COUNT 1 STREAMS s s 0 1-1
            {"s" => [["1-1", ["a", "b"]]], "s" => [["2-1", ["a", "b"]]]}
            > XREAD COUNT 2 STREAMS s s 0 1-1
            -ERR reply would exceed 200 bytes (reply_bytes_max); use COUNT to page
            > XINFO STREAM s FULL
            -ERR reply would exceed 200 bytes (reply_bytes_max); use COUNT to page
            > XGROUP CREATE s g 0
            +OK
            > XREADGROUP GROUP g c STREAMS s >
            -ERR reply would exceed 200 bytes (reply_bytes_max); use COUNT to page
            > XPENDING s g
            [:0, (nil), (nil), (nil-array)]
            > XREADGROUP GROUP g c COUNT 2 STREAMS s >
            {"s" => [["1-1", ["a", "b"]], ["2-1", ["a", "b"]]]}
            > XREADGROUP GROUP g c COUNT 2 STREAMS s >
            {"s" => [["3-1", ["a", "b"]]]}
            > XREADGROUP GROUP g c STREAMS s 0
            -ERR reply would exceed 200 bytes (reply_bytes_max); use COUNT to page
            > XREADGROUP GROUP g c COUNT 2 STREAMS s 0
            {"s" => [["1-1", ["a", "b"]], ["2-1", ["a", "b"]]]}
            > XCLAIM s g d 0 1-1 2-1 3-1
            -ERR reply would exceed 200 bytes (reply_bytes_max); claim fewer IDs or use JUSTID
            > XCLAIM s g d 0 1-1 2-1
            [["1-1", ["a", "b"]], ["2-1", ["a", "b"]]]
            > XAUTOCLAIM s g e 0 0 COUNT 10
            ["3-1", [["1-1", ["a", "b"]], ["2-1", ["a", "b"]]], []]
            > XAUTOCLAIM s g e 0 3-1 COUNT 10
            ["0-0", [["3-1", ["a", "b"]]], []]
            > XCLAIM s g d 0 1-1 2-1 3-1 JUSTID
            ["1-1", "2-1", "3-1"]
        "#]],
    );
}

#[test]
fn limits_are_errors() {
    let limits = crate::Limits {
        name_bytes_max: 4,
        entry_bytes_max: 8,
        entry_fields_max: 2,
        reply_entries_max: 3,
        groups_per_stream_max: 1,
        consumers_per_group_max: 1,
        ..crate::Limits::default()
    };
    super::check_with(
        r#"
        XADD toolong 1-1 a b
        XADD s 1-1 abcd efghi
        XADD s 1-1 a b c d e f
        XADD s 1-1 a b
        XADD s 2-1 a b
        XADD s 3-1 a b
        XADD s 4-1 a b
        XRANGE s - +
        XRANGE s - + COUNT 3
        XRANGE s - + COUNT 10
        XREAD STREAMS s 0
        XGROUP CREATE s g1 0
        XGROUP CREATE s g2 0
        XREADGROUP GROUP g1 c1 COUNT 1 STREAMS s >
        XREADGROUP GROUP g1 c2 COUNT 1 STREAMS s >
        "#,
        &limits,
        expect![[r#"
            > XADD toolong 1-1 a b
            -ERR key or name longer than 4 bytes
            > XADD s 1-1 abcd efghi
            -ERR entry is larger than 8 bytes
            > XADD s 1-1 a b c d e f
            -ERR entry has more than 2 fields
            > XADD s 1-1 a b
            "1-1"
            > XADD s 2-1 a b
            "2-1"
            > XADD s 3-1 a b
            "3-1"
            > XADD s 4-1 a b
            "4-1"
            > XRANGE s - +
            -ERR reply would exceed 3 entries (reply_entries_max); use COUNT to page
            > XRANGE s - + COUNT 3
            [["1-1", ["a", "b"]], ["2-1", ["a", "b"]], ["3-1", ["a", "b"]]]
            > XRANGE s - + COUNT 10
            -ERR reply would exceed 3 entries (reply_entries_max); use COUNT to page
            > XREAD STREAMS s 0
            -ERR reply would exceed 3 entries (reply_entries_max); use COUNT to page
            > XGROUP CREATE s g1 0
            +OK
            > XGROUP CREATE s g2 0
            -ERR stream already has 1 groups (groups_per_stream_max)
            > XREADGROUP GROUP g1 c1 COUNT 1 STREAMS s >
            {"s" => [["1-1", ["a", "b"]]]}
            > XREADGROUP GROUP g1 c2 COUNT 1 STREAMS s >
            -ERR group already has 1 consumers (consumers_per_group_max)
        "#]],
    );
}

/// Redis looks some keys and groups up before it parses the rest of the arguments, so a
/// missing key or group wins over a syntax error there; XTRIM and XAUTOCLAIM parse first.
#[test]
fn lookup_before_parse_order() {
    check(
        r#"
        XADD a 1-0 f v
        XGROUP CREATE a g 0
        XDEL nokey x
        XDEL a x
        XACK nokey g x
        XACK a nog x
        XACK a g x
        XCLAIM nokey g c x 1-0
        XCLAIM a g c x 1-0
        XCLAIM a nog c 0 1-0 FOO
        XGROUP CREATE nokey g2 x
        XGROUP CREATE nokey g2 x MKSTREAM
        XGROUP SETID a nog x
        XGROUP SETID a g x
        XREADGROUP GROUP g c STREAMS nokey $
        XREADGROUP GROUP g c STREAMS a nokey > x
        XREADGROUP GROUP g c STREAMS a +
        XTRIM nokey SIZE 1
        XTRIM nokey MAXLEN 1
        XAUTOCLAIM nokey g c 0 0 COUNT abc
        XRANGE nokey - + COUNT 0
        XRANGE a - + COUNT 0
        XADD a 0-0 f v g
        XADD a 0-0 f v
        XADD a LIMIT 5 2-0 f v
        XADD a LIMIT 0 2-0 f v
        XTRIM a LIMIT 0
        XREADGROUP GROUP g c STREAMS a a > >
        XPENDING a g
        "#,
        expect![[r#"
            > XADD a 1-0 f v
            "1-0"
            > XGROUP CREATE a g 0
            +OK
            > XDEL nokey x
            :0
            > XDEL a x
            -ERR Invalid stream ID specified as stream command argument
            > XACK nokey g x
            :0
            > XACK a nog x
            :0
            > XACK a g x
            -ERR Invalid stream ID specified as stream command argument
            > XCLAIM nokey g c x 1-0
            -NOGROUP No such key 'nokey' or consumer group 'g'
            > XCLAIM a g c x 1-0
            -ERR Invalid min-idle-time argument for XCLAIM
            > XCLAIM a nog c 0 1-0 FOO
            -NOGROUP No such key 'a' or consumer group 'nog'
            > XGROUP CREATE nokey g2 x
            -ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.
            > XGROUP CREATE nokey g2 x MKSTREAM
            -ERR Invalid stream ID specified as stream command argument
            > XGROUP SETID a nog x
            -NOGROUP No such consumer group 'nog' for key name 'a'
            > XGROUP SETID a g x
            -ERR Invalid stream ID specified as stream command argument
            > XREADGROUP GROUP g c STREAMS nokey $
            -NOGROUP No such key 'nokey' or consumer group 'g' in XREADGROUP with GROUP option
            > XREADGROUP GROUP g c STREAMS a nokey > x
            -NOGROUP No such key 'nokey' or consumer group 'g' in XREADGROUP with GROUP option
            > XREADGROUP GROUP g c STREAMS a +
            -ERR The + ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The + ID would just return an empty result set.
            > XTRIM nokey SIZE 1
            -ERR syntax error
            > XTRIM nokey MAXLEN 1
            :0
            > XAUTOCLAIM nokey g c 0 0 COUNT abc
            -ERR COUNT must be > 0
            > XRANGE nokey - + COUNT 0
            []
            > XRANGE a - + COUNT 0
            (nil-array)
            > XADD a 0-0 f v g
            -ERR wrong number of arguments for 'xadd' command
            > XADD a 0-0 f v
            -ERR The ID specified in XADD must be greater than 0-0
            > XADD a LIMIT 5 2-0 f v
            -ERR syntax error, LIMIT cannot be used without specifying a trimming strategy
            > XADD a LIMIT 0 2-0 f v
            -ERR syntax error, LIMIT cannot be used without the special ~ option
            > XTRIM a LIMIT 0
            -ERR syntax error, XTRIM must be called with a trimming strategy
            > XREADGROUP GROUP g c STREAMS a a > >
            {"a" => [["1-0", ["f", "v"]]]}
            > XPENDING a g
            [:1, "1-0", "1-0", [["c", "1"]]]
        "#]],
    );
}
