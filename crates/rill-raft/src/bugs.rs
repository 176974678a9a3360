//! Behaviours that break Rill on purpose, for the simulator to prove that its checkers catch
//! them (`simulation/tests/planted.rs`). All off by default; never set outside the simulator.

/// The planted bugs, each a switch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bugs {
    /// Apply each entry at this node's own clock instead of the leader's stamp.
    pub apply_with_local_clock: bool,
    /// Apply a producer's XADD as a plain XADD: a retry appends again.
    pub skip_producer_dedup: bool,
    /// A leader serves reads from its own state without confirming with a quorum that it
    /// still leads (no read index): a deposed leader answers stale reads.
    pub serve_reads_without_read_index: bool,
    /// The leader answers a write as soon as its entry is in its own log, with the reply the
    /// write would get if it committed, before a quorum stored it.
    pub reply_before_commit: bool,
    /// After installing a snapshot, a node applies the first entry it applies next twice.
    pub apply_twice_after_snapshot_install: bool,
    /// The vote is written without an fsync: a power loss can forget it, and the node votes
    /// a second time in the same term.
    pub vote_not_fsynced: bool,
    /// A truncation of conflicting entries removes only the first one: entries of a deposed
    /// leader stay after the new leader's, and come back after a restart.
    pub truncate_keeps_stale_suffix: bool,
    /// XACK is applied to the stream's other group (the first other one by name), if it has
    /// one.
    pub xack_wrong_group: bool,
    /// A follower sends each forwarded batch to the leader twice.
    pub forward_twice: bool,
    /// XCLAIM and XAUTOCLAIM hand entries over without raising their delivery counts.
    pub claim_keeps_delivery_count: bool,
    /// A log append whose write (its fsync) failed is reported stored all the same.
    pub ignore_fsync_errors: bool,
    /// The log's group commit reports appends stored without fsyncing them: a power loss can
    /// take entries that a quorum counted (a follower's, or the leader's own).
    pub append_reported_unflushed: bool,
}
