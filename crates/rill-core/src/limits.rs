//! Limits on everything that grows. Hitting one is a clear error reply, never a silent cut.

/// Limits the engine enforces. Units are in the names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest stream key, group name or consumer name.
    pub name_bytes_max: usize,
    /// Largest entry: the sum of its field and value lengths.
    pub entry_bytes_max: usize,
    /// Most field-value pairs in one entry.
    pub entry_fields_max: usize,
    /// Most entries (or pending records) one reply may carry. A range without COUNT that would
    /// exceed it is an error asking for COUNT.
    pub reply_entries_max: usize,
    /// Most entries one XDEL/XACK/XCLAIM may name.
    pub ids_per_command_max: usize,
    /// Most groups per stream.
    pub groups_per_stream_max: usize,
    /// Most consumers per group.
    pub consumers_per_group_max: usize,
    /// Most pending entries per group.
    pub pending_per_group_max: u64,
    /// Most idempotent producers remembered at once.
    pub producers_max: u64,
    /// How long a producer that stops writing is remembered: a retry within this window
    /// answers the original ID.
    pub producer_idle_ms: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            name_bytes_max: 1024,
            entry_bytes_max: 1 << 20,
            entry_fields_max: 1024,
            reply_entries_max: 100_000,
            ids_per_command_max: 100_000,
            groups_per_stream_max: 1024,
            consumers_per_group_max: 10_000,
            pending_per_group_max: 10_000_000,
            producers_max: 100_000,
            producer_idle_ms: 10 * 60 * 1000,
        }
    }
}
