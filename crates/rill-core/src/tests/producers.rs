//! Idempotent producers (`Command::Produce`): not a Redis command; gRPC's `XAddRequest.producer`.

use expect_test::expect;

use super::{check, check_with};
use crate::Limits;

#[test]
fn a_repeated_sequence_number_answers_the_first_id_and_appends_nothing() {
    check(
        "
        PRODUCE p 1 XADD s * n 1
        @2000
        PRODUCE p 1 XADD s * n 1
        XLEN s
        PRODUCE p 2 XADD s * n 2
        PRODUCE p 2 XADD s * n 2
        PRODUCE q 1 XADD s * n 3
        XLEN s
        ",
        expect![[r#"
            > PRODUCE p 1 XADD s * n 1
            "1000-0"
            > PRODUCE p 1 XADD s * n 1
            "1000-0"
            > XLEN s
            :1
            > PRODUCE p 2 XADD s * n 2
            "2000-0"
            > PRODUCE p 2 XADD s * n 2
            "2000-0"
            > PRODUCE q 1 XADD s * n 3
            "2000-1"
            > XLEN s
            :3
        "#]],
    );
}

#[test]
fn explicit_ids_gaps_and_stale_sequence_numbers() {
    check(
        "
        PRODUCE p 5 XADD s 7-1 n 1
        PRODUCE p 5 XADD s 7-1 n 1
        PRODUCE p 9 XADD s 8-1 n 2
        PRODUCE p 6 XADD s 9-1 n 3
        PRODUCE p 10 XADD s 8-1 n 4
        PRODUCE p 10 XADD s 9-1 n 4
        XRANGE s - +
        PRODUCE p 11 XADD missing NOMKSTREAM * n 5
        PRODUCE p 11 XADD s * n 5
        PRODUCE \"\" 1 XADD s * n 6
        PRODUCE p 12 XLEN s
        ",
        expect![[r#"
            > PRODUCE p 5 XADD s 7-1 n 1
            "7-1"
            > PRODUCE p 5 XADD s 7-1 n 1
            "7-1"
            > PRODUCE p 9 XADD s 8-1 n 2
            "8-1"
            > PRODUCE p 6 XADD s 9-1 n 3
            -ERR producer sequence 6 is below the last one applied (9)
            > PRODUCE p 10 XADD s 8-1 n 4
            -ERR The ID specified in XADD is equal or smaller than the target stream top item
            > PRODUCE p 10 XADD s 9-1 n 4
            "9-1"
            > XRANGE s - +
            [["7-1", ["n", "1"]], ["8-1", ["n", "2"]], ["9-1", ["n", "4"]]]
            > PRODUCE p 11 XADD missing NOMKSTREAM * n 5
            (nil)
            > PRODUCE p 11 XADD s * n 5
            "1000-0"
            > PRODUCE "" 1 XADD s * n 6
            -ERR the producer id must not be empty
            > PRODUCE p 12 XLEN s
            -ERR only XADD takes a producer id
        "#]],
    );
}

#[test]
fn idle_producers_are_forgotten_and_the_table_is_bounded() {
    let limits = Limits {
        producers_max: 2,
        producer_idle_ms: 1000,
        ..Limits::default()
    };
    check_with(
        "
        @1000
        PRODUCE a 1 XADD s * n 1
        PRODUCE b 1 XADD s * n 2
        PRODUCE c 1 XADD s * n 3
        PRODUCE a 1 XADD s * n 1
        @2001
        PRODUCE a 1 XADD s * n 1
        PRODUCE c 1 XADD s * n 3
        PRODUCE b 1 XADD s * n 2
        XLEN s
        ",
        &limits,
        expect![[r#"
            > PRODUCE a 1 XADD s * n 1
            "1000-0"
            > PRODUCE b 1 XADD s * n 2
            "1000-1"
            > PRODUCE c 1 XADD s * n 3
            -ERR too many producers (limit 2); idle ones are forgotten after 1000 ms
            > PRODUCE a 1 XADD s * n 1
            "1000-0"
            > PRODUCE a 1 XADD s * n 1
            "2001-0"
            > PRODUCE c 1 XADD s * n 3
            "2001-1"
            > PRODUCE b 1 XADD s * n 2
            -ERR too many producers (limit 2); idle ones are forgotten after 1000 ms
            > XLEN s
            :4
        "#]],
    );
}

/// A leader whose clock runs 11 minutes fast stamps a jump: the producer clock moves a minute
/// (`ProducerClock::STEP_MAX_MS`), so no producer is forgotten early. Writes a minute apart
/// move it at the stamps' pace, and then an idle producer is forgotten.
#[test]
fn a_jump_of_the_stamps_does_not_forget_producers() {
    let limits = Limits {
        producer_idle_ms: 10 * 60 * 1000,
        ..Limits::default()
    };
    check_with(
        "
        @1000
        PRODUCE a 1 XADD s 1-1 n 1
        @661000
        PRODUCE b 1 XADD s 2-1 n 2
        PRODUCE a 1 XADD s 3-1 n 1
        @721000
        PRODUCE b 2 XADD s 4-1 n 3
        @781000
        PRODUCE b 3 XADD s 5-1 n 3
        @841000
        PRODUCE b 4 XADD s 6-1 n 3
        @901000
        PRODUCE b 5 XADD s 7-1 n 3
        @961000
        PRODUCE b 6 XADD s 8-1 n 3
        @1021000
        PRODUCE b 7 XADD s 9-1 n 3
        @1081000
        PRODUCE b 8 XADD s 10-1 n 3
        @1141000
        PRODUCE b 9 XADD s 11-1 n 3
        @1201000
        PRODUCE b 10 XADD s 12-1 n 3
        @1261000
        PRODUCE a 1 XADD s 13-1 n 1
        ",
        &limits,
        expect![[r#"
            > PRODUCE a 1 XADD s 1-1 n 1
            "1-1"
            > PRODUCE b 1 XADD s 2-1 n 2
            "2-1"
            > PRODUCE a 1 XADD s 3-1 n 1
            "1-1"
            > PRODUCE b 2 XADD s 4-1 n 3
            "4-1"
            > PRODUCE b 3 XADD s 5-1 n 3
            "5-1"
            > PRODUCE b 4 XADD s 6-1 n 3
            "6-1"
            > PRODUCE b 5 XADD s 7-1 n 3
            "7-1"
            > PRODUCE b 6 XADD s 8-1 n 3
            "8-1"
            > PRODUCE b 7 XADD s 9-1 n 3
            "9-1"
            > PRODUCE b 8 XADD s 10-1 n 3
            "10-1"
            > PRODUCE b 9 XADD s 11-1 n 3
            "11-1"
            > PRODUCE b 10 XADD s 12-1 n 3
            "12-1"
            > PRODUCE a 1 XADD s 13-1 n 1
            "13-1"
        "#]],
    );
}
