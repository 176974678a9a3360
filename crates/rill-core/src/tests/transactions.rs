//! EXEC and WATCH in the state machine (`Command::Exec`, `Command::KeyVersions`), and FLUSHALL.
//! The script's MULTI/EXEC/WATCH act as a connection does (see `super`). Expected replies are
//! Redis 7.4's (`multi.c`, and `signalModifiedKey` in `t_stream.c` for what counts as a change).

use expect_test::expect;

use super::check;

/// Each queued command runs in order with its own reply; an error does not stop the others
/// and nothing is rolled back, as in Redis.
#[test]
fn exec_runs_every_command_and_an_error_stops_nothing() {
    check(
        "
        MULTI
        XADD s 1-1 a 1
        XADD s 1-1 b 2
        XLEN s
        XGROUP CREATE s g 0
        XREADGROUP GROUP g c STREAMS s >
        EXEC
        XLEN s
        ",
        expect![[r#"
            > MULTI
            +OK
            > XADD s 1-1 a 1
            +QUEUED
            > XADD s 1-1 b 2
            +QUEUED
            > XLEN s
            +QUEUED
            > XGROUP CREATE s g 0
            +QUEUED
            > XREADGROUP GROUP g c STREAMS s >
            +QUEUED
            > EXEC
            ["1-1", -ERR The ID specified in XADD is equal or smaller than the target stream top item, :1, +OK, {"s" => [["1-1", ["a", "1"]]]}]
            > XLEN s
            :1
        "#]],
    );
}

/// A watched stream that gains or loses entries, or is deleted, makes EXEC a null array and
/// nothing of it runs; a new WATCH after that sees the new stamp.
#[test]
fn a_changed_watched_key_aborts_exec() {
    check(
        "
        XADD s 1-1 a 1
        WATCH s
        XADD s 2-1 a 2
        MULTI
        XADD s 3-1 a 3
        EXEC
        XLEN s
        WATCH s
        XDEL s 2-1
        MULTI
        XLEN s
        EXEC
        WATCH s
        XTRIM s MAXLEN 0
        MULTI
        XLEN s
        EXEC
        WATCH s
        DEL s
        XADD s 5-1 a 5
        MULTI
        XLEN s
        EXEC
        WATCH s
        MULTI
        XLEN s
        EXEC
        ",
        expect![[r#"
            > XADD s 1-1 a 1
            "1-1"
            > WATCH s
            [:1]
            > XADD s 2-1 a 2
            "2-1"
            > MULTI
            +OK
            > XADD s 3-1 a 3
            +QUEUED
            > EXEC
            (nil-array)
            > XLEN s
            :2
            > WATCH s
            [:2]
            > XDEL s 2-1
            :1
            > MULTI
            +OK
            > XLEN s
            +QUEUED
            > EXEC
            (nil-array)
            > WATCH s
            [:3]
            > XTRIM s MAXLEN 0
            :1
            > MULTI
            +OK
            > XLEN s
            +QUEUED
            > EXEC
            (nil-array)
            > WATCH s
            [:4]
            > DEL s
            :1
            > XADD s 5-1 a 5
            "5-1"
            > MULTI
            +OK
            > XLEN s
            +QUEUED
            > EXEC
            (nil-array)
            > WATCH s
            [:5]
            > MULTI
            +OK
            > XLEN s
            +QUEUED
            > EXEC
            [:1]
        "#]],
    );
}

/// As in Redis, only what `signalModifiedKey` marks counts: group reads, acks, claims, XSETID
/// and XGROUP SETID leave a watched key as it was, and so does XDEL or XTRIM that removed
/// nothing. Redis does the same (odd as it is for XSETID, which moves the stream's last ID).
#[test]
fn group_changes_and_xsetid_do_not_touch_a_watched_key() {
    check(
        "
        XADD s 1-1 a 1
        XGROUP CREATE s g 0
        WATCH s other
        XREADGROUP GROUP g c STREAMS s >
        XACK s g 1-1
        XCLAIM s g c 0 1-1
        XGROUP SETID s g $
        XSETID s 9-9
        XDEL s 7-7
        XTRIM s MAXLEN 5
        MULTI
        XLEN s
        EXEC
        ",
        expect![[r#"
            > XADD s 1-1 a 1
            "1-1"
            > XGROUP CREATE s g 0
            +OK
            > WATCH s other
            [:1, (nil)]
            > XREADGROUP GROUP g c STREAMS s >
            {"s" => [["1-1", ["a", "1"]]]}
            > XACK s g 1-1
            :1
            > XCLAIM s g c 0 1-1
            []
            > XGROUP SETID s g $
            +OK
            > XSETID s 9-9
            +OK
            > XDEL s 7-7
            :0
            > XTRIM s MAXLEN 5
            :0
            > MULTI
            +OK
            > XLEN s
            +QUEUED
            > EXEC
            [:1]
        "#]],
    );
}

/// A missing watched key that is created (XADD, XGROUP CREATE MKSTREAM) aborts EXEC; one that
/// stays missing does not. Redis also aborts when a missing key is created and deleted again
/// before EXEC; Rill compares stamps, so that runs (the transaction still sees what WATCH saw).
#[test]
fn a_watched_missing_key_aborts_only_if_it_exists_at_exec() {
    check(
        "
        WATCH a
        XGROUP CREATE a g $ MKSTREAM
        MULTI
        XLEN a
        EXEC
        WATCH b
        XADD b 1-1 f v
        DEL b
        MULTI
        XLEN b
        EXEC
        WATCH c
        MULTI
        XADD c 1-1 f v
        EXEC
        ",
        expect![[r#"
            > WATCH a
            [(nil)]
            > XGROUP CREATE a g $ MKSTREAM
            +OK
            > MULTI
            +OK
            > XLEN a
            +QUEUED
            > EXEC
            (nil-array)
            > WATCH b
            [(nil)]
            > XADD b 1-1 f v
            "1-1"
            > DEL b
            :1
            > MULTI
            +OK
            > XLEN b
            +QUEUED
            > EXEC
            [:0]
            > WATCH c
            [(nil)]
            > MULTI
            +OK
            > XADD c 1-1 f v
            +QUEUED
            > EXEC
            ["1-1"]
        "#]],
    );
}

/// FLUSHALL and FLUSHDB take ASYNC or SYNC and remove every stream with its groups; a
/// watched key they remove aborts EXEC.
#[test]
fn flushall_removes_everything() {
    check(
        "
        XADD a 1-1 f v
        XGROUP CREATE a g 0
        XADD b 1-1 f v
        WATCH a
        FLUSHALL
        MULTI
        XLEN a
        EXEC
        KEYS *
        XINFO GROUPS a
        XADD a 1-1 f v
        FLUSHDB ASYNC
        FLUSHALL sync
        DBSIZE
        FLUSHALL LAZY
        FLUSHALL ASYNC SYNC
        KEYS *
        ",
        expect![[r#"
            > XADD a 1-1 f v
            "1-1"
            > XGROUP CREATE a g 0
            +OK
            > XADD b 1-1 f v
            "1-1"
            > WATCH a
            [:1]
            > FLUSHALL
            +OK
            > MULTI
            +OK
            > XLEN a
            +QUEUED
            > EXEC
            (nil-array)
            > KEYS *
            []
            > XINFO GROUPS a
            -ERR no such key
            > XADD a 1-1 f v
            "1-1"
            > FLUSHDB ASYNC
            +OK
            > FLUSHALL sync
            +OK
            > DBSIZE
            -(not an engine command)
            > FLUSHALL LAZY
            -ERR syntax error
            > FLUSHALL ASYNC SYNC
            -ERR syntax error
            > KEYS *
            []
        "#]],
    );
}
