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
