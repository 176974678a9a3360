//! The encoding format of a value being decoded, for types that gained a field.
//!
//! Commands travel in Raft log entries as postcard, which is positional and names no fields:
//! a struct that gains a field cannot read the bytes written before without being told their
//! shape. `rill-raft`'s codec writes a format byte before every value and sets the format here
//! while it decodes one; a type that grew reads [`decoding`] to pick the shape to decode.

use std::cell::Cell;

/// The format written now.
pub const CURRENT: u8 = 4;
/// Before [`crate::command::XReadGroup`] carried CLAIM (Redis 8.4).
pub const WITHOUT_CLAIM: u8 = 3;
/// Before [`crate::command::Trim`] carried a [`crate::command::RefPolicy`] (Redis 8.2).
pub const WITHOUT_REF_POLICY: u8 = 2;
/// Before cluster members carried their store's incarnation.
pub const WITHOUT_INCARNATIONS: u8 = 1;

thread_local! {
    static DECODING: Cell<u8> = const { Cell::new(CURRENT) };
}

/// The format of the value being decoded on this thread ([`CURRENT`] outside a decode).
pub fn decoding() -> u8 {
    DECODING.with(Cell::get)
}

/// Runs `decode` with [`decoding`] answering `format`, and restores it after (also when
/// `decode` unwinds).
pub fn decode_in<T>(format: u8, decode: impl FnOnce() -> T) -> T {
    struct Restore(u8);
    impl Drop for Restore {
        fn drop(&mut self) {
            DECODING.with(|cell| cell.set(self.0));
        }
    }
    let _restore = Restore(DECODING.with(|cell| cell.replace(format)));
    decode()
}
