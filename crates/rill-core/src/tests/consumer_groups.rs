//! XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO GROUPS|CONSUMERS.

use expect_test::expect;

use super::check;

#[test]
fn xgroup_subcommands() {
    check(
        r#"
        XGROUP CREATE s g $
        XGROUP CREATE s g $ MKSTREAM
        XGROUP CREATE s g $ MKSTREAM
        XGROUP CREATE s g2 0 ENTRIESREAD 5
        XGROUP CREATE s g3 0 ENTRIESREAD -5
        XGROUP CREATE s g3 x
        XGROUP CREATE s g3 0 FOO
        XGROUP CREATE s
        XGROUP FOO s g
        XGROUP SETID s nog 0
        XGROUP SETID s g 5-5 ENTRIESREAD 3
        XGROUP SETID s g $
        XGROUP SETID s g 0 FOO 1
        XGROUP CREATECONSUMER s g alice
        XGROUP CREATECONSUMER s g alice
        XGROUP CREATECONSUMER s nog alice
        XGROUP DELCONSUMER s g alice
        XGROUP DELCONSUMER s g alice
        XGROUP DESTROY s g2
        XGROUP DESTROY s g2
        XGROUP DESTROY missing g
        XINFO GROUPS s
        XGROUP HELP
        "#,
        expect![[r#"
            > XGROUP CREATE s g $
            -ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.
            > XGROUP CREATE s g $ MKSTREAM
            +OK
            > XGROUP CREATE s g $ MKSTREAM
            -BUSYGROUP Consumer Group name already exists
            > XGROUP CREATE s g2 0 ENTRIESREAD 5
            +OK
            > XGROUP CREATE s g3 0 ENTRIESREAD -5
            -ERR value for ENTRIESREAD must be positive or -1
            > XGROUP CREATE s g3 x
            -ERR Invalid stream ID specified as stream command argument
            > XGROUP CREATE s g3 0 FOO
            -ERR unknown subcommand or wrong number of arguments for 'CREATE'. Try XGROUP HELP.
            > XGROUP CREATE s
            -ERR wrong number of arguments for 'xgroup|create' command
            > XGROUP FOO s g
            -ERR unknown subcommand 'FOO'. Try XGROUP HELP.
            > XGROUP SETID s nog 0
            -NOGROUP No such consumer group 'nog' for key name 's'
            > XGROUP SETID s g 5-5 ENTRIESREAD 3
            +OK
            > XGROUP SETID s g $
            +OK
            > XGROUP SETID s g 0 FOO 1
            -ERR unknown subcommand or wrong number of arguments for 'SETID'. Try XGROUP HELP.
            > XGROUP CREATECONSUMER s g alice
            :1
            > XGROUP CREATECONSUMER s g alice
            :0
            > XGROUP CREATECONSUMER s nog alice
            -NOGROUP No such consumer group 'nog' for key name 's'
            > XGROUP DELCONSUMER s g alice
            :0
            > XGROUP DELCONSUMER s g alice
            :0
            > XGROUP DESTROY s g2
            :1
            > XGROUP DESTROY s g2
            :0
            > XGROUP DESTROY missing g
            -ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.
            > XINFO GROUPS s
            [{"name": "g", "consumers": :0, "pending": :0, "last-delivered-id": "0-0", "entries-read": (nil), "lag": :0}]
            > XGROUP HELP
            [+XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:, +CREATE <key> <groupname> <id|$> [option], +    Create a new consumer group. Options are:, +    * MKSTREAM, +      Create the empty stream if it does not exist., +    * ENTRIESREAD entries_read, +      Set the group's entries_read counter (internal use)., +CREATECONSUMER <key> <groupname> <consumer>, +    Create a new consumer in the specified group., +DELCONSUMER <key> <groupname> <consumer>, +    Remove the specified consumer., +DESTROY <key> <groupname>, +    Remove the specified group., +SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read], +    Set the current group ID and entries_read counter., +HELP, +    Print this help.]
        "#]],
    );
}

#[test]
fn xreadgroup_new_history_and_noack() {
    check(
        r#"
        XADD s 1-1 f 1
        XADD s 2-1 f 2
        XADD s 3-1 f 3
        XGROUP CREATE s g 0
        @2000
        XREADGROUP GROUP g alice COUNT 2 STREAMS s >
        @3000
        XREADGROUP GROUP g bob STREAMS s >
        XREADGROUP GROUP g bob STREAMS s >
        XREADGROUP GROUP g alice STREAMS s 0
        XREADGROUP GROUP g alice STREAMS s 1-1
        XREADGROUP GROUP g carol STREAMS s 0
        XDEL s 1-1
        XREADGROUP GROUP g alice STREAMS s 0
        XPENDING s g - + 10
        XADD s 4-1 f 4
        XREADGROUP GROUP g alice NOACK STREAMS s >
        XPENDING s g
        XINFO GROUPS s
        XREADGROUP GROUP nog alice STREAMS s >
        XREADGROUP GROUP g alice STREAMS missing >
        XREADGROUP GROUP g alice STREAMS s $
        XREADGROUP GROUP g alice STREAMS s +
        XREADGROUP GROUP g alice STREAMS s
        XREADGROUP STREAMS s >
        XREADGROUP GROUP g alice STREAMS s x
        "#,
        expect![[r#"
            > XADD s 1-1 f 1
            "1-1"
            > XADD s 2-1 f 2
            "2-1"
            > XADD s 3-1 f 3
            "3-1"
            > XGROUP CREATE s g 0
            +OK
            > XREADGROUP GROUP g alice COUNT 2 STREAMS s >
            {"s" => [["1-1", ["f", "1"]], ["2-1", ["f", "2"]]]}
            > XREADGROUP GROUP g bob STREAMS s >
            {"s" => [["3-1", ["f", "3"]]]}
            > XREADGROUP GROUP g bob STREAMS s >
            (nil-array)
            > XREADGROUP GROUP g alice STREAMS s 0
            {"s" => [["1-1", ["f", "1"]], ["2-1", ["f", "2"]]]}
            > XREADGROUP GROUP g alice STREAMS s 1-1
            {"s" => [["2-1", ["f", "2"]]]}
            > XREADGROUP GROUP g carol STREAMS s 0
            {"s" => []}
            > XDEL s 1-1
            :1
            > XREADGROUP GROUP g alice STREAMS s 0
            {"s" => [["1-1", (nil-array)], ["2-1", ["f", "2"]]]}
            > XPENDING s g - + 10
            [["1-1", "alice", :0, :2], ["2-1", "alice", :0, :4], ["3-1", "bob", :0, :1]]
            > XADD s 4-1 f 4
            "4-1"
            > XREADGROUP GROUP g alice NOACK STREAMS s >
            {"s" => [["4-1", ["f", "4"]]]}
            > XPENDING s g
            [:3, "1-1", "3-1", [["alice", "2"], ["bob", "1"]]]
            > XINFO GROUPS s
            [{"name": "g", "consumers": :3, "pending": :3, "last-delivered-id": "4-1", "entries-read": :4, "lag": :0}]
            > XREADGROUP GROUP nog alice STREAMS s >
            -NOGROUP No such key 's' or consumer group 'nog' in XREADGROUP with GROUP option
            > XREADGROUP GROUP g alice STREAMS missing >
            -NOGROUP No such key 'missing' or consumer group 'g' in XREADGROUP with GROUP option
            > XREADGROUP GROUP g alice STREAMS s $
            -ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.
            > XREADGROUP GROUP g alice STREAMS s +
            -ERR The + ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The + ID would just return an empty result set.
            > XREADGROUP GROUP g alice STREAMS s
            -ERR wrong number of arguments for 'xreadgroup' command
            > XREADGROUP STREAMS s >
            -ERR wrong number of arguments for 'xreadgroup' command
            > XREADGROUP GROUP g alice STREAMS s x
            -ERR Invalid stream ID specified as stream command argument
        "#]],
    );
}

#[test]
fn xreadgroup_several_streams_and_setid_redelivery() {
    check(
        r#"
        XADD a 1-1 f 1
        XADD b 1-1 f 1
        XGROUP CREATE a g 0
        XGROUP CREATE b g $
        XREADGROUP GROUP g alice STREAMS a b > >
        XADD b 2-1 f 2
        XREADGROUP GROUP g alice STREAMS a b > >
        XGROUP SETID a g 0
        XREADGROUP GROUP g bob STREAMS a >
        XPENDING a g - + 10
        XINFO CONSUMERS a g
        "#,
        expect![[r#"
            > XADD a 1-1 f 1
            "1-1"
            > XADD b 1-1 f 1
            "1-1"
            > XGROUP CREATE a g 0
            +OK
            > XGROUP CREATE b g $
            +OK
            > XREADGROUP GROUP g alice STREAMS a b > >
            {"a" => [["1-1", ["f", "1"]]]}
            > XADD b 2-1 f 2
            "2-1"
            > XREADGROUP GROUP g alice STREAMS a b > >
            {"b" => [["2-1", ["f", "2"]]]}
            > XGROUP SETID a g 0
            +OK
            > XREADGROUP GROUP g bob STREAMS a >
            {"a" => [["1-1", ["f", "1"]]]}
            > XPENDING a g - + 10
            [["1-1", "bob", :0, :1]]
            > XINFO CONSUMERS a g
            [{"name": "alice", "pending": :0, "idle": :0, "inactive": :0}, {"name": "bob", "pending": :1, "idle": :0, "inactive": :0}]
        "#]],
    );
}

#[test]
fn xack_and_xpending() {
    check(
        r#"
        XADD s 1-1 f 1
        XADD s 2-1 f 2
        XADD s 3-1 f 3
        XGROUP CREATE s g 0
        @1000
        XREADGROUP GROUP g alice COUNT 2 STREAMS s >
        @1500
        XREADGROUP GROUP g bob STREAMS s >
        @2000
        XPENDING s g
        XPENDING s g - + 10
        XPENDING s g IDLE 700 - + 10
        XPENDING s g - + 10 bob
        XPENDING s g - + 10 nobody
        XPENDING s g (1-1 + 1
        XPENDING s g - + 0
        XPENDING s g - + 10 bob extra
        XPENDING s g - +
        XPENDING s g IDLE 10 - + 
        XPENDING s g x + 10
        XPENDING s g - + x
        XPENDING s nog
        XPENDING missing g
        XACK s g 1-1 1-1 9-9
        XACK s g x
        XACK s nog 1-1
        XACK missing g 1-1
        XPENDING s g
        XACK s g 2-1 3-1
        XPENDING s g
        "#,
        expect![[r#"
            > XADD s 1-1 f 1
            "1-1"
            > XADD s 2-1 f 2
            "2-1"
            > XADD s 3-1 f 3
            "3-1"
            > XGROUP CREATE s g 0
            +OK
            > XREADGROUP GROUP g alice COUNT 2 STREAMS s >
            {"s" => [["1-1", ["f", "1"]], ["2-1", ["f", "2"]]]}
            > XREADGROUP GROUP g bob STREAMS s >
            {"s" => [["3-1", ["f", "3"]]]}
            > XPENDING s g
            [:3, "1-1", "3-1", [["alice", "2"], ["bob", "1"]]]
            > XPENDING s g - + 10
            [["1-1", "alice", :1000, :1], ["2-1", "alice", :1000, :1], ["3-1", "bob", :500, :1]]
            > XPENDING s g IDLE 700 - + 10
            [["1-1", "alice", :1000, :1], ["2-1", "alice", :1000, :1]]
            > XPENDING s g - + 10 bob
            [["3-1", "bob", :500, :1]]
            > XPENDING s g - + 10 nobody
            []
            > XPENDING s g (1-1 + 1
            [["2-1", "alice", :1000, :1]]
            > XPENDING s g - + 0
            []
            > XPENDING s g - + 10 bob extra
            [["3-1", "bob", :500, :1]]
            > XPENDING s g - +
            -ERR syntax error
            > XPENDING s g IDLE 10 - +
            -ERR syntax error
            > XPENDING s g x + 10
            -ERR Invalid stream ID specified as stream command argument
            > XPENDING s g - + x
            -ERR value is not an integer or out of range
            > XPENDING s nog
            -NOGROUP No such key 's' or consumer group 'nog'
            > XPENDING missing g
            -NOGROUP No such key 'missing' or consumer group 'g'
            > XACK s g 1-1 1-1 9-9
            :1
            > XACK s g x
            -ERR Invalid stream ID specified as stream command argument
            > XACK s nog 1-1
            :0
            > XACK missing g 1-1
            :0
            > XPENDING s g
            [:2, "2-1", "3-1", [["alice", "1"], ["bob", "1"]]]
            > XACK s g 2-1 3-1
            :2
            > XPENDING s g
            [:0, (nil), (nil), (nil-array)]
        "#]],
    );
}

#[test]
fn xclaim() {
    check(
        r#"
        XADD s 1-1 f 1
        XADD s 2-1 f 2
        XADD s 3-1 f 3
        XGROUP CREATE s g 0
        @1000
        XREADGROUP GROUP g alice STREAMS s >
        @1100
        XCLAIM s g bob 500 1-1
        @2000
        XCLAIM s g bob 500 1-1
        XCLAIM s g bob 0 2-1 JUSTID
        XCLAIM s g bob 0 3-1 RETRYCOUNT 7 IDLE 300
        XPENDING s g - + 10
        XCLAIM s g carol 0 1-1 TIME 1500
        XCLAIM s g carol 0 1-1 TIME 99999
        XPENDING s g - + 10 carol
        XDEL s 2-1
        XCLAIM s g carol 0 2-1
        XPENDING s g
        XADD s 4-1 f 4
        XCLAIM s g dave 0 4-1
        XCLAIM s g dave 0 4-1 FORCE
        XPENDING s g - + 10 dave
        XCLAIM s g erin 0 1-1 LASTID 9-0 JUSTID
        XINFO GROUPS s
        XCLAIM s g bob 0 1-1 FOO
        XCLAIM s g bob x 1-1
        XCLAIM s g bob 0 1-1 IDLE x
        XCLAIM s nog bob 0 1-1
        XINFO CONSUMERS s g
        "#,
        expect![[r#"
            > XADD s 1-1 f 1
            "1-1"
            > XADD s 2-1 f 2
            "2-1"
            > XADD s 3-1 f 3
            "3-1"
            > XGROUP CREATE s g 0
            +OK
            > XREADGROUP GROUP g alice STREAMS s >
            {"s" => [["1-1", ["f", "1"]], ["2-1", ["f", "2"]], ["3-1", ["f", "3"]]]}
            > XCLAIM s g bob 500 1-1
            []
            > XCLAIM s g bob 500 1-1
            [["1-1", ["f", "1"]]]
            > XCLAIM s g bob 0 2-1 JUSTID
            ["2-1"]
            > XCLAIM s g bob 0 3-1 RETRYCOUNT 7 IDLE 300
            [["3-1", ["f", "3"]]]
            > XPENDING s g - + 10
            [["1-1", "bob", :0, :2], ["2-1", "bob", :0, :1], ["3-1", "bob", :300, :7]]
            > XCLAIM s g carol 0 1-1 TIME 1500
            [["1-1", ["f", "1"]]]
            > XCLAIM s g carol 0 1-1 TIME 99999
            [["1-1", ["f", "1"]]]
            > XPENDING s g - + 10 carol
            [["1-1", "carol", :0, :4]]
            > XDEL s 2-1
            :1
            > XCLAIM s g carol 0 2-1
            []
            > XPENDING s g
            [:2, "1-1", "3-1", [["bob", "1"], ["carol", "1"]]]
            > XADD s 4-1 f 4
            "4-1"
            > XCLAIM s g dave 0 4-1
            []
            > XCLAIM s g dave 0 4-1 FORCE
            [["4-1", ["f", "4"]]]
            > XPENDING s g - + 10 dave
            [["4-1", "dave", :0, :2]]
            > XCLAIM s g erin 0 1-1 LASTID 9-0 JUSTID
            ["1-1"]
            > XINFO GROUPS s
            [{"name": "g", "consumers": :5, "pending": :3, "last-delivered-id": "9-0", "entries-read": :3, "lag": :1}]
            > XCLAIM s g bob 0 1-1 FOO
            -ERR Unrecognized XCLAIM option 'FOO'
            > XCLAIM s g bob x 1-1
            -ERR Invalid min-idle-time argument for XCLAIM
            > XCLAIM s g bob 0 1-1 IDLE x
            -ERR Invalid IDLE option argument for XCLAIM
            > XCLAIM s nog bob 0 1-1
            -NOGROUP No such key 's' or consumer group 'nog'
            > XINFO CONSUMERS s g
            [{"name": "alice", "pending": :0, "idle": :1000, "inactive": :1000}, {"name": "bob", "pending": :1, "idle": :0, "inactive": :0}, {"name": "carol", "pending": :0, "idle": :0, "inactive": :0}, {"name": "dave", "pending": :1, "idle": :0, "inactive": :0}, {"name": "erin", "pending": :1, "idle": :0, "inactive": :0}]
        "#]],
    );
}

#[test]
fn xautoclaim() {
    check(
        r#"
        XADD s 1-1 f 1
        XADD s 2-1 f 2
        XADD s 3-1 f 3
        XADD s 4-1 f 4
        XGROUP CREATE s g 0
        @1000
        XREADGROUP GROUP g alice STREAMS s >
        XDEL s 2-1
        @5000
        XAUTOCLAIM s g bob 3000 0 COUNT 1
        XAUTOCLAIM s g bob 3000 0 COUNT 1
        XAUTOCLAIM s g bob 3000 3-1 JUSTID
        XAUTOCLAIM s g bob 3000 0
        XPENDING s g - + 10
        XAUTOCLAIM s g bob 0 (4-1
        XAUTOCLAIM s g bob 0 0 COUNT 0
        XAUTOCLAIM s g bob 0 0 FOO
        XAUTOCLAIM s g bob x 0
        XAUTOCLAIM s nog bob 0 0
        XINFO CONSUMERS s g
        "#,
        expect![[r#"
            > XADD s 1-1 f 1
            "1-1"
            > XADD s 2-1 f 2
            "2-1"
            > XADD s 3-1 f 3
            "3-1"
            > XADD s 4-1 f 4
            "4-1"
            > XGROUP CREATE s g 0
            +OK
            > XREADGROUP GROUP g alice STREAMS s >
            {"s" => [["1-1", ["f", "1"]], ["2-1", ["f", "2"]], ["3-1", ["f", "3"]], ["4-1", ["f", "4"]]]}
            > XDEL s 2-1
            :1
            > XAUTOCLAIM s g bob 3000 0 COUNT 1
            ["2-1", [["1-1", ["f", "1"]]], []]
            > XAUTOCLAIM s g bob 3000 0 COUNT 1
            ["3-1", [], ["2-1"]]
            > XAUTOCLAIM s g bob 3000 3-1 JUSTID
            ["0-0", ["3-1", "4-1"], []]
            > XAUTOCLAIM s g bob 3000 0
            ["0-0", [], []]
            > XPENDING s g - + 10
            [["1-1", "bob", :0, :2], ["3-1", "bob", :0, :1], ["4-1", "bob", :0, :1]]
            > XAUTOCLAIM s g bob 0 (4-1
            ["0-0", [], []]
            > XAUTOCLAIM s g bob 0 0 COUNT 0
            -ERR COUNT must be > 0
            > XAUTOCLAIM s g bob 0 0 FOO
            -ERR syntax error
            > XAUTOCLAIM s g bob x 0
            -ERR Invalid min-idle-time argument for XAUTOCLAIM
            > XAUTOCLAIM s nog bob 0 0
            -NOGROUP No such key 's' or consumer group 'nog'
            > XINFO CONSUMERS s g
            [{"name": "alice", "pending": :0, "idle": :4000, "inactive": :4000}, {"name": "bob", "pending": :3, "idle": :0, "inactive": :0}]
        "#]],
    );
}

#[test]
fn xautoclaim_attempts_bound_the_scan() {
    let mut script = String::from("XGROUP CREATE s g 0 MKSTREAM\n");
    for i in 1..=30 {
        script.push_str(&format!("XADD s {i}-0 f v\n"));
    }
    script.push_str("@1000\nXREADGROUP GROUP g alice COUNT 30 STREAMS s >\n@1500\nXAUTOCLAIM s g bob 1000 0 COUNT 2 JUSTID\n");
    let mut store = crate::MemStore::new();
    let mut now = 0;
    let mut last = crate::Reply::ok();
    for line in script.lines() {
        if let Some(ms) = line.strip_prefix('@') {
            now = ms.parse().unwrap();
            continue;
        }
        let Some(Ok(cmd)) = crate::parse(&super::split_args(line)) else {
            panic!("{line}")
        };
        last = crate::execute(&mut store, &cmd, now, &crate::Limits::default());
    }
    // 2 x 10 attempts visit 20 entries, none idle enough; the cursor is the 21st.
    expect![[r#"["21-0", [], []]"#]].assert_eq(&super::render(&last));
}

#[test]
fn lag_and_entries_read() {
    check(
        r#"
        XGROUP CREATE s g $ MKSTREAM
        XINFO GROUPS s
        XADD s 1-1 f 1
        XADD s 2-1 f 2
        XADD s 3-1 f 3
        XINFO GROUPS s
        XREADGROUP GROUP g alice COUNT 1 STREAMS s >
        XINFO GROUPS s
        XDEL s 3-1
        XINFO GROUPS s
        XREADGROUP GROUP g alice STREAMS s >
        XINFO GROUPS s
        XGROUP CREATE s late 0
        XINFO GROUPS s
        XADD s 4-1 f 4
        XREADGROUP GROUP late bob STREAMS s >
        XINFO GROUPS s
        "#,
        expect![[r#"
            > XGROUP CREATE s g $ MKSTREAM
            +OK
            > XINFO GROUPS s
            [{"name": "g", "consumers": :0, "pending": :0, "last-delivered-id": "0-0", "entries-read": (nil), "lag": :0}]
            > XADD s 1-1 f 1
            "1-1"
            > XADD s 2-1 f 2
            "2-1"
            > XADD s 3-1 f 3
            "3-1"
            > XINFO GROUPS s
            [{"name": "g", "consumers": :0, "pending": :0, "last-delivered-id": "0-0", "entries-read": (nil), "lag": :3}]
            > XREADGROUP GROUP g alice COUNT 1 STREAMS s >
            {"s" => [["1-1", ["f", "1"]]]}
            > XINFO GROUPS s
            [{"name": "g", "consumers": :1, "pending": :1, "last-delivered-id": "1-1", "entries-read": :1, "lag": :2}]
            > XDEL s 3-1
            :1
            > XINFO GROUPS s
            [{"name": "g", "consumers": :1, "pending": :1, "last-delivered-id": "1-1", "entries-read": :1, "lag": (nil)}]
            > XREADGROUP GROUP g alice STREAMS s >
            {"s" => [["2-1", ["f", "2"]]]}
            > XINFO GROUPS s
            [{"name": "g", "consumers": :1, "pending": :2, "last-delivered-id": "2-1", "entries-read": (nil), "lag": (nil)}]
            > XGROUP CREATE s late 0
            +OK
            > XINFO GROUPS s
            [{"name": "g", "consumers": :1, "pending": :2, "last-delivered-id": "2-1", "entries-read": (nil), "lag": (nil)}, {"name": "late", "consumers": :0, "pending": :0, "last-delivered-id": "0-0", "entries-read": (nil), "lag": (nil)}]
            > XADD s 4-1 f 4
            "4-1"
            > XREADGROUP GROUP late bob STREAMS s >
            {"s" => [["1-1", ["f", "1"]], ["2-1", ["f", "2"]], ["4-1", ["f", "4"]]]}
            > XINFO GROUPS s
            [{"name": "g", "consumers": :1, "pending": :2, "last-delivered-id": "2-1", "entries-read": (nil), "lag": (nil)}, {"name": "late", "consumers": :1, "pending": :3, "last-delivered-id": "4-1", "entries-read": :4, "lag": :0}]
        "#]],
    );
}

/// Redis's own lag tests (`stream-cgroups.tcl`: "Consumer group read counter and lag in empty
/// streams", "Consumer group lag with XDELs", "Lag with XDELs and tombstone after the
/// last_id", "lag with XTRIM"), whose expectations are those of Redis 7.4 and 8: no estimate
/// before the last tombstone, the whole length when the group and every tombstone are behind
/// the first entry, 0 for an emptied stream.
#[test]
fn lag_as_redis_8_counts_it() {
    check(
        r#"
        XGROUP CREATE e g 0 MKSTREAM
        XINFO GROUPS e
        XADD e 1-0 data a
        XDEL e 1-0
        XINFO GROUPS e
        XADD x 1-0 data a
        XADD x 2-0 data b
        XADD x 3-0 data c
        XADD x 4-0 data d
        XADD x 5-0 data e
        XDEL x 3-0
        XGROUP CREATE x g1 0
        XGROUP CREATE x g2 0
        XINFO GROUPS x
        XREADGROUP GROUP g1 c11 COUNT 1 STREAMS x >
        XINFO GROUPS x
        XREADGROUP GROUP g1 c11 COUNT 1 STREAMS x >
        XREADGROUP GROUP g1 c11 COUNT 1 STREAMS x >
        XINFO GROUPS x
        XREADGROUP GROUP g1 c11 COUNT 1 STREAMS x >
        XINFO GROUPS x
        XADD x 6-0 data f
        XINFO GROUPS x
        XTRIM x MINID = 3-0
        XINFO GROUPS x
        XTRIM x MINID = 5-0
        XINFO GROUPS x
        XADD t 1-0 data a
        XADD t 2-0 data b
        XADD t 3-0 data c
        XGROUP CREATE t g 0
        XREADGROUP GROUP g c COUNT 1 STREAMS t >
        XDEL t 2-0
        XINFO GROUPS t
        XDEL t 1-0
        XINFO GROUPS t
        XREADGROUP GROUP g c STREAMS t >
        XINFO GROUPS t
        XADD m 1-0 data a
        XADD m 2-0 data b
        XADD m 3-0 data c
        XADD m 4-0 data d
        XADD m 5-0 data e
        XGROUP CREATE m g 0
        XREADGROUP GROUP g c COUNT 1 STREAMS m >
        XINFO GROUPS m
        XTRIM m MAXLEN 1
        XINFO GROUPS m
        XREADGROUP GROUP g c STREAMS m >
        XADD m 6-0 data f
        XINFO GROUPS m
        XTRIM m MAXLEN 0
        XINFO GROUPS m
        "#,
        expect![[r#"
            > XGROUP CREATE e g 0 MKSTREAM
            +OK
            > XINFO GROUPS e
            [{"name": "g", "consumers": :0, "pending": :0, "last-delivered-id": "0-0", "entries-read": (nil), "lag": :0}]
            > XADD e 1-0 data a
            "1-0"
            > XDEL e 1-0
            :1
            > XINFO GROUPS e
            [{"name": "g", "consumers": :0, "pending": :0, "last-delivered-id": "0-0", "entries-read": (nil), "lag": :0}]
            > XADD x 1-0 data a
            "1-0"
            > XADD x 2-0 data b
            "2-0"
            > XADD x 3-0 data c
            "3-0"
            > XADD x 4-0 data d
            "4-0"
            > XADD x 5-0 data e
            "5-0"
            > XDEL x 3-0
            :1
            > XGROUP CREATE x g1 0
            +OK
            > XGROUP CREATE x g2 0
            +OK
            > XINFO GROUPS x
            [{"name": "g1", "consumers": :0, "pending": :0, "last-delivered-id": "0-0", "entries-read": (nil), "lag": (nil)}, {"name": "g2", "consumers": :0, "pending": :0, "last-delivered-id": "0-0", "entries-read": (nil), "lag": (nil)}]
            > XREADGROUP GROUP g1 c11 COUNT 1 STREAMS x >
            {"x" => [["1-0", ["data", "a"]]]}
            > XINFO GROUPS x
            [{"name": "g1", "consumers": :1, "pending": :1, "last-delivered-id": "1-0", "entries-read": (nil), "lag": (nil)}, {"name": "g2", "consumers": :0, "pending": :0, "last-delivered-id": "0-0", "entries-read": (nil), "lag": (nil)}]
            > XREADGROUP GROUP g1 c11 COUNT 1 STREAMS x >
            {"x" => [["2-0", ["data", "b"]]]}
            > XREADGROUP GROUP g1 c11 COUNT 1 STREAMS x >
            {"x" => [["4-0", ["data", "d"]]]}
            > XINFO GROUPS x
            [{"name": "g1", "consumers": :1, "pending": :3, "last-delivered-id": "4-0", "entries-read": (nil), "lag": (nil)}, {"name": "g2", "consumers": :0, "pending": :0, "last-delivered-id": "0-0", "entries-read": (nil), "lag": (nil)}]
            > XREADGROUP GROUP g1 c11 COUNT 1 STREAMS x >
            {"x" => [["5-0", ["data", "e"]]]}
            > XINFO GROUPS x
            [{"name": "g1", "consumers": :1, "pending": :4, "last-delivered-id": "5-0", "entries-read": :5, "lag": :0}, {"name": "g2", "consumers": :0, "pending": :0, "last-delivered-id": "0-0", "entries-read": (nil), "lag": (nil)}]
            > XADD x 6-0 data f
            "6-0"
            > XINFO GROUPS x
            [{"name": "g1", "consumers": :1, "pending": :4, "last-delivered-id": "5-0", "entries-read": :5, "lag": :1}, {"name": "g2", "consumers": :0, "pending": :0, "last-delivered-id": "0-0", "entries-read": (nil), "lag": (nil)}]
            > XTRIM x MINID = 3-0
            :2
            > XINFO GROUPS x
            [{"name": "g1", "consumers": :1, "pending": :4, "last-delivered-id": "5-0", "entries-read": :5, "lag": :1}, {"name": "g2", "consumers": :0, "pending": :0, "last-delivered-id": "0-0", "entries-read": (nil), "lag": :3}]
            > XTRIM x MINID = 5-0
            :1
            > XINFO GROUPS x
            [{"name": "g1", "consumers": :1, "pending": :4, "last-delivered-id": "5-0", "entries-read": :5, "lag": :1}, {"name": "g2", "consumers": :0, "pending": :0, "last-delivered-id": "0-0", "entries-read": (nil), "lag": :2}]
            > XADD t 1-0 data a
            "1-0"
            > XADD t 2-0 data b
            "2-0"
            > XADD t 3-0 data c
            "3-0"
            > XGROUP CREATE t g 0
            +OK
            > XREADGROUP GROUP g c COUNT 1 STREAMS t >
            {"t" => [["1-0", ["data", "a"]]]}
            > XDEL t 2-0
            :1
            > XINFO GROUPS t
            [{"name": "g", "consumers": :1, "pending": :1, "last-delivered-id": "1-0", "entries-read": :1, "lag": (nil)}]
            > XDEL t 1-0
            :1
            > XINFO GROUPS t
            [{"name": "g", "consumers": :1, "pending": :1, "last-delivered-id": "1-0", "entries-read": :1, "lag": :1}]
            > XREADGROUP GROUP g c STREAMS t >
            {"t" => [["3-0", ["data", "c"]]]}
            > XINFO GROUPS t
            [{"name": "g", "consumers": :1, "pending": :2, "last-delivered-id": "3-0", "entries-read": :3, "lag": :0}]
            > XADD m 1-0 data a
            "1-0"
            > XADD m 2-0 data b
            "2-0"
            > XADD m 3-0 data c
            "3-0"
            > XADD m 4-0 data d
            "4-0"
            > XADD m 5-0 data e
            "5-0"
            > XGROUP CREATE m g 0
            +OK
            > XREADGROUP GROUP g c COUNT 1 STREAMS m >
            {"m" => [["1-0", ["data", "a"]]]}
            > XINFO GROUPS m
            [{"name": "g", "consumers": :1, "pending": :1, "last-delivered-id": "1-0", "entries-read": :1, "lag": :4}]
            > XTRIM m MAXLEN 1
            :4
            > XINFO GROUPS m
            [{"name": "g", "consumers": :1, "pending": :1, "last-delivered-id": "1-0", "entries-read": :1, "lag": :1}]
            > XREADGROUP GROUP g c STREAMS m >
            {"m" => [["5-0", ["data", "e"]]]}
            > XADD m 6-0 data f
            "6-0"
            > XINFO GROUPS m
            [{"name": "g", "consumers": :1, "pending": :2, "last-delivered-id": "5-0", "entries-read": :5, "lag": :1}]
            > XTRIM m MAXLEN 0
            :2
            > XINFO GROUPS m
            [{"name": "g", "consumers": :1, "pending": :2, "last-delivered-id": "5-0", "entries-read": :5, "lag": :0}]
        "#]],
    );
}

#[test]
fn delconsumer_and_destroy_drop_pending() {
    check(
        r#"
        XADD s 1-1 f 1
        XADD s 2-1 f 2
        XGROUP CREATE s g 0
        XREADGROUP GROUP g alice COUNT 1 STREAMS s >
        XREADGROUP GROUP g bob STREAMS s >
        XGROUP DELCONSUMER s g alice
        XPENDING s g
        XGROUP DESTROY s g
        XPENDING s g
        XGROUP CREATE s g 0
        XPENDING s g
        DEL s
        XPENDING s g
        XGROUP CREATE s g 0 MKSTREAM
        XINFO STREAM s
        "#,
        expect![[r#"
            > XADD s 1-1 f 1
            "1-1"
            > XADD s 2-1 f 2
            "2-1"
            > XGROUP CREATE s g 0
            +OK
            > XREADGROUP GROUP g alice COUNT 1 STREAMS s >
            {"s" => [["1-1", ["f", "1"]]]}
            > XREADGROUP GROUP g bob STREAMS s >
            {"s" => [["2-1", ["f", "2"]]]}
            > XGROUP DELCONSUMER s g alice
            :1
            > XPENDING s g
            [:1, "2-1", "2-1", [["bob", "1"]]]
            > XGROUP DESTROY s g
            :1
            > XPENDING s g
            -NOGROUP No such key 's' or consumer group 'g'
            > XGROUP CREATE s g 0
            +OK
            > XPENDING s g
            [:0, (nil), (nil), (nil-array)]
            > DEL s
            :1
            > XPENDING s g
            -NOGROUP No such key 's' or consumer group 'g'
            > XGROUP CREATE s g 0 MKSTREAM
            +OK
            > XINFO STREAM s
            {"length": :0, "radix-tree-keys": :0, "radix-tree-nodes": :1, "last-generated-id": "0-0", "max-deleted-entry-id": "0-0", "entries-added": :0, "recorded-first-entry-id": "0-0", "idmp-duration": :100, "idmp-maxsize": :100, "pids-tracked": :0, "iids-tracked": :0, "iids-added": :0, "iids-duplicates": :0, "groups": :1, "first-entry": (nil), "last-entry": (nil)}
        "#]],
    );
}

/// A refused XREADGROUP changes nothing: the limit is checked for every stream before the
/// first one is served (here the second stream's entries push the reply over the limit).
#[test]
fn refused_xreadgroup_leaves_no_trace() {
    let limits = crate::Limits {
        reply_entries_max: 3,
        pending_per_group_max: 4,
        ..crate::Limits::default()
    };
    super::check_with(
        r#"
        XADD a 1-0 f v
        XADD a 2-0 f v
        XADD b 1-0 f v
        XADD b 2-0 f v
        XGROUP CREATE a g 0
        XGROUP CREATE b g 0
        XREADGROUP GROUP g c NOACK STREAMS a b > >
        XINFO GROUPS a
        XINFO CONSUMERS a g
        XREADGROUP GROUP g c COUNT 2 STREAMS a >
        XADD a 3-0 f v
        XADD a 4-0 f v
        XADD a 5-0 f v
        XREADGROUP GROUP g c COUNT 3 STREAMS a >
        XCLAIM a g c 0 3-0 4-0 5-0 FORCE
        XPENDING a g
        "#,
        &limits,
        expect![[r#"
            > XADD a 1-0 f v
            "1-0"
            > XADD a 2-0 f v
            "2-0"
            > XADD b 1-0 f v
            "1-0"
            > XADD b 2-0 f v
            "2-0"
            > XGROUP CREATE a g 0
            +OK
            > XGROUP CREATE b g 0
            +OK
            > XREADGROUP GROUP g c NOACK STREAMS a b > >
            -ERR reply would exceed 3 entries (reply_entries_max); use COUNT to page
            > XINFO GROUPS a
            [{"name": "g", "consumers": :0, "pending": :0, "last-delivered-id": "0-0", "entries-read": (nil), "lag": :2}]
            > XINFO CONSUMERS a g
            []
            > XREADGROUP GROUP g c COUNT 2 STREAMS a >
            {"a" => [["1-0", ["f", "v"]], ["2-0", ["f", "v"]]]}
            > XADD a 3-0 f v
            "3-0"
            > XADD a 4-0 f v
            "4-0"
            > XADD a 5-0 f v
            "5-0"
            > XREADGROUP GROUP g c COUNT 3 STREAMS a >
            -ERR group has 2 pending entries (pending_per_group_max); acknowledge some first
            > XCLAIM a g c 0 3-0 4-0 5-0 FORCE
            -ERR group has 2 pending entries (pending_per_group_max); acknowledge some first
            > XPENDING a g
            [:2, "1-0", "2-0", [["c", "2"]]]
        "#]],
    );
}

/// Runs `line` on `store` at `now_ms`: its reply, and what it cost as counted by the store
/// (`fields_read`, `consumer_writes`, `pending_scans`), the reads and writes a disk store pays
/// for.
fn costed(store: &mut crate::MemStore, now_ms: u64, line: &str) -> (String, [u64; 4]) {
    let argv = super::split_args(line);
    let cmd = crate::parse(&argv)
        .expect("an engine command")
        .expect("parses");
    let counts = |store: &crate::MemStore| {
        [
            store.fields_read.get(),
            store.consumer_writes.get(),
            store.pending_scans.get(),
            store.pending_reads.get(),
        ]
    };
    let before = counts(store);
    let reply = crate::execute(store, &cmd, now_ms, &crate::Limits::default());
    let after = counts(store);
    (
        super::render(&reply),
        std::array::from_fn(|i| after[i] - before[i]),
    )
}

/// What XREADGROUP reads: each entry it serves, new, claimed or from history, is decoded once,
/// by the precheck, which hands it on. A key named twice is read again for its second turn,
/// which must see what the first delivered or claimed. Counted on the store's reads, which are
/// what a disk store pays for.
#[test]
fn xreadgroup_reads_each_served_entry_once() {
    let mut store = crate::MemStore::new();
    let mut run = |now_ms: u64, line: &str| {
        let (reply, [reads, _, _, _]) = costed(&mut store, now_ms, line);
        (reply, reads)
    };
    for ms in 1..=20 {
        run(1000, &format!("XADD s {ms}-0 f v"));
    }
    run(1000, "XGROUP CREATE s g 0");
    let (reply, reads) = run(1000, "XREADGROUP GROUP g c COUNT 10 STREAMS s >");
    assert!(
        reply.contains("\"10-0\"") && !reply.contains("\"11-0\""),
        "{reply}"
    );
    assert_eq!(reads, 10, "ten entries served, each read once");

    let (reply, reads) = run(1000, "XREADGROUP GROUP g c COUNT 3 STREAMS s s > >");
    assert!(
        reply.contains("\"16-0\"") && !reply.contains("\"17-0\""),
        "{reply}"
    );
    // The precheck reads 11-13 for both turns (nothing is delivered yet); the second turn
    // starts at 14 and reads again.
    assert_eq!(reads, 3 + 3 + 3);

    // A history read serves what its precheck read; named twice, the second turn reads again.
    let (reply, reads) = run(1000, "XREADGROUP GROUP g c COUNT 4 STREAMS s 0");
    assert!(
        reply.starts_with(r#"{"s" => [["1-0""#)
            && reply.contains("\"4-0\"")
            && !reply.contains("\"5-0\""),
        "{reply}"
    );
    assert_eq!(reads, 4, "four entries served, each read once");
    let (_, reads) = run(1000, "XREADGROUP GROUP g c COUNT 4 STREAMS s s 0 2-0");
    assert_eq!(reads, 4 + 4 + 4);

    let (reply, reads) = run(1000, "XREADGROUP GROUP g c2 COUNT 2 CLAIM 100 STREAMS s >");
    assert_eq!(
        reply,
        r#"{"s" => [["17-0", ["f", "v"], :0, :0], ["18-0", ["f", "v"], :0, :0]]}"#
    );
    assert_eq!(reads, 2, "nothing idle enough to claim yet");

    // Later, 1-0 onwards are idle: the first turn claims 1-0 and 2-0, the second the next two.
    let (reply, reads) = run(
        5000,
        "XREADGROUP GROUP g c2 COUNT 2 CLAIM 100 STREAMS s s > >",
    );
    for id in ["1-0", "2-0", "3-0", "4-0"] {
        let quoted = format!("\"{id}\"");
        assert_eq!(reply.matches(&quoted).count(), 1, "{id} once in {reply}");
    }
    assert_eq!(
        reads,
        2 + 2 + 2,
        "the precheck claims 1-0 and 2-0 for both turns"
    );
}

/// What claims and acknowledgements write: each consumer whose count changes has its record
/// written once per command, however many of its entries move (they used to be written once
/// per entry, three times for each claimed one).
#[test]
fn claims_and_acks_write_each_consumer_once() {
    let mut store = crate::MemStore::new();
    let mut run = |now_ms: u64, line: &str| costed(&mut store, now_ms, line);
    for ms in 1..=12 {
        run(1000, &format!("XADD s {ms}-0 f v"));
    }
    run(1000, "XGROUP CREATE s g 0");
    for consumer in ["c1", "c2", "c3"] {
        run(
            1000,
            &format!("XREADGROUP GROUP g {consumer} COUNT 4 STREAMS s >"),
        );
    }
    let ids: Vec<String> = (1..=12).map(|ms| format!("{ms}-0")).collect();
    let (reply, [_, writes, _, _]) =
        run(2000, &format!("XCLAIM s g c4 0 {} JUSTID", ids.join(" ")));
    assert_eq!(
        reply.matches('"').count(),
        24,
        "all twelve claimed: {reply}"
    );
    // c4 created (1), then c1, c2, c3 and c4 settled (4), then c4 marked active (1). It was 38:
    // the creation written twice, then three writes per claimed entry.
    assert_eq!(writes, 6);

    let (reply, [_, writes, scans, _]) = run(3000, "XAUTOCLAIM s g c5 0 0-0 COUNT 100 JUSTID");
    assert!(reply.starts_with("[\"0-0\", [\"1-0\""), "{reply}");
    assert_eq!(
        writes,
        1 + 2 + 1,
        "c5 created, c4 and c5 settled, c5 active"
    );
    assert_eq!(scans, 1, "twelve pending entries are one chunk");

    let (reply, [reads, writes, _, _]) = run(4000, "XCLAIM s g c5 0 1-0 2-0 3-0");
    assert_eq!(reply.matches("[\"f\", \"v\"]").count(), 3, "{reply}");
    assert_eq!(
        reads, 3,
        "each entry read once, by the reply's bound, and kept (it was 9)"
    );
    assert_eq!(
        writes,
        1 + 1,
        "c5 seen, then active; its count did not change"
    );

    let (reply, [_, writes, _, _]) = run(4000, &format!("XACK s g {}", ids.join(" ")));
    assert_eq!(reply, ":12");
    assert_eq!(writes, 1, "only c5 held them");
    let (reply, _) = run(4000, "XINFO CONSUMERS s g");
    for consumer in ["c1", "c2", "c3", "c4", "c5"] {
        assert!(
            reply.contains(&format!("\"name\": \"{consumer}\", \"pending\": :0")),
            "{consumer} in {reply}"
        );
    }
}

/// XAUTOCLAIM walks the PEL a chunk at a time (one scan per 64 records, not one per record),
/// and its cursor is still the first pending ID it did not visit, as in Redis: after COUNT
/// claims, or after COUNT * 10 visits, which can end inside a chunk.
#[test]
fn xautoclaim_reads_the_pel_a_chunk_at_a_time() {
    let mut store = crate::MemStore::new();
    let mut run = |now_ms: u64, line: &str| {
        let (reply, [_, _, scans, _]) = costed(&mut store, now_ms, line);
        (reply, scans)
    };
    for ms in 1..=200 {
        run(1000, &format!("XADD s {ms}-0 f v"));
    }
    run(1000, "XGROUP CREATE s g 0");
    run(1000, "XREADGROUP GROUP g c1 COUNT 200 STREAMS s >");

    // Nothing idle enough: COUNT 10 visits 100 records, the 101st is the cursor.
    let (reply, scans) = run(2000, "XAUTOCLAIM s g c2 60000 0-0 COUNT 10 JUSTID");
    assert_eq!(reply, r#"["101-0", [], []]"#);
    assert_eq!(scans, 2, "64 records, then the 37 left to visit");

    let (reply, scans) = run(90_000, "XAUTOCLAIM s g c2 60000 0-0 COUNT 150 JUSTID");
    assert!(reply.starts_with("[\"151-0\", [\"1-0\""), "{reply}");
    assert_eq!(
        reply.matches("-0\"").count(),
        151,
        "150 claimed and the cursor"
    );
    assert_eq!(scans, 3, "151 visits in chunks of 64");

    let (reply, scans) = run(90_000, "XAUTOCLAIM s g c2 60000 151-0 COUNT 100 JUSTID");
    assert!(reply.starts_with("[\"0-0\", [\"151-0\""), "{reply}");
    assert_eq!(
        reply.matches("-0\"").count(),
        51,
        "the 50 left and the cursor"
    );
    assert_eq!(scans, 1, "a short chunk ends the PEL");
}

/// `XREADGROUP >` looks a new entry up in the PEL only when the group's bound on pending IDs
/// (`GroupMeta::pending_max`) says it may be there: after XCLAIM FORCE or XNACK FORCE made an
/// undelivered entry pending, or XGROUP SETID moved the group back. Each read below delivers an
/// entry that is already pending, and must move it rather than count it twice (the invariants,
/// checked after every line, compare the group's count with its PEL).
#[test]
fn a_new_entry_made_pending_beforehand_is_moved_not_added() {
    check(
        r#"
        XADD s 1-0 f 1
        XADD s 2-0 f 2
        XADD s 3-0 f 3
        XADD s 4-0 f 4
        XGROUP CREATE s g 0
        XREADGROUP GROUP g alice COUNT 1 STREAMS s >
        XCLAIM s g carol 0 3-0 FORCE JUSTID
        XNACK s g SILENT FORCE IDS 1 4-0
        XREADGROUP GROUP g bob COUNT 10 STREAMS s >
        XPENDING s g - + 10
        XGROUP SETID s g 0
        XREADGROUP GROUP g dave COUNT 2 STREAMS s >
        XPENDING s g
        "#,
        expect![[r#"
            > XADD s 1-0 f 1
            "1-0"
            > XADD s 2-0 f 2
            "2-0"
            > XADD s 3-0 f 3
            "3-0"
            > XADD s 4-0 f 4
            "4-0"
            > XGROUP CREATE s g 0
            +OK
            > XREADGROUP GROUP g alice COUNT 1 STREAMS s >
            {"s" => [["1-0", ["f", "1"]]]}
            > XCLAIM s g carol 0 3-0 FORCE JUSTID
            ["3-0"]
            > XNACK s g SILENT FORCE IDS 1 4-0
            :1
            > XREADGROUP GROUP g bob COUNT 10 STREAMS s >
            {"s" => [["2-0", ["f", "2"]], ["3-0", ["f", "3"]], ["4-0", ["f", "4"]]]}
            > XPENDING s g - + 10
            [["1-0", "alice", :0, :1], ["2-0", "bob", :0, :1], ["3-0", "bob", :0, :1], ["4-0", "bob", :0, :1]]
            > XGROUP SETID s g 0
            +OK
            > XREADGROUP GROUP g dave COUNT 2 STREAMS s >
            {"s" => [["1-0", ["f", "1"]], ["2-0", ["f", "2"]]]}
            > XPENDING s g
            [:4, "1-0", "4-0", [["bob", "2"], ["dave", "2"]]]
        "#]],
    );
}

/// What the bound saves: a work queue's `XREADGROUP >` looks none of its new entries up in the
/// PEL, pending entries or not, and a group with an entry pending above what it delivered (XCLAIM
/// FORCE) looks up those at or below it.
#[test]
fn a_delivery_looks_up_the_pel_only_below_the_bound() {
    let mut store = crate::MemStore::new();
    let mut lookups = |line: &str| {
        let (reply, [_, _, _, lookups]) = costed(&mut store, 1000, line);
        assert!(!reply.starts_with("-"), "{line}: {reply}");
        lookups
    };
    for ms in 1..=30 {
        lookups(&format!("XADD s {ms}-0 f v"));
    }
    lookups("XGROUP CREATE s g 0");
    assert_eq!(lookups("XREADGROUP GROUP g c1 COUNT 10 STREAMS s >"), 0);
    assert_eq!(lookups("XREADGROUP GROUP g c2 COUNT 10 STREAMS s >"), 0);
    lookups("XCLAIM s g c3 0 25-0 FORCE JUSTID");
    assert_eq!(
        lookups("XREADGROUP GROUP g c1 COUNT 10 STREAMS s >"),
        5,
        "21-0 to 25-0 may be pending; 26-0 and on are above the bound"
    );
}
