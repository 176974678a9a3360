//! [`RaftConfig`]: the Raft settings Rill exposes, with units in the names, checked and turned
//! into openraft's `Config`.

use openraft::{Config, SnapshotPolicy};

use crate::error::Error;

/// Timing, batching and log-compaction settings of one node. Every node of a cluster should
/// use the same values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaftConfig {
    pub cluster_name: String,
    /// Leader heartbeat period. Must stay under half the minimum election timeout, so that a
    /// healthy leader is not deposed by one late heartbeat.
    pub heartbeat_ms: u64,
    pub election_timeout_ms_min: u64,
    pub election_timeout_ms_max: u64,
    /// Build a snapshot once this many entries were applied since the last; 0: only when asked
    /// (`Raft::trigger().snapshot()`).
    pub snapshot_entries_since_last: u64,
    /// Also build one once this many bytes of log were appended since the last (0: no byte
    /// bound). Entries vary from one command to a batch of a thousand, so a count alone does
    /// not bound the log's size on disk; a build only records the applied point, so a small
    /// bound costs little.
    pub snapshot_log_bytes_since_last: u64,
    /// Applied entries kept in the log behind a snapshot, so a follower that lags a little
    /// catches up from the log instead of a whole snapshot.
    pub log_entries_kept_behind_snapshot: u64,
    /// Most entries in one append-entries RPC.
    pub entries_per_append_max: u64,
    /// Largest snapshot chunk sent in one install-snapshot RPC.
    pub snapshot_chunk_bytes_max: u64,
    /// Largest snapshot a node accepts from its leader: a snapshot being received is held in
    /// memory until it is installed. Must be the same on every node.
    pub snapshot_bytes_max: u64,
    /// How long after sending an AppendEntries that a majority of the other voters accepted
    /// the leader serves linearizable reads without asking a quorum (`crate::lease`); 0: never.
    /// `None`: two thirds of `election_timeout_ms_max`, the lease a follower grants. Must be
    /// below that: the margin is what the nodes' clock rates may differ by.
    pub read_lease_ms: Option<u64>,
}

impl Default for RaftConfig {
    fn default() -> RaftConfig {
        RaftConfig {
            cluster_name: "rill".to_owned(),
            // A follower that has seen a leader waits openraft's leader lease (the maximum
            // election timeout) plus a random election timeout after the last heartbeat before
            // it campaigns: 450-600 ms here, checked every 1.5 heartbeats. With the vote, the
            // new leader's first commit and a client's retry, a failover takes about 0.6-0.8 s
            // (`tests/tests/processes.rs` measures it).
            heartbeat_ms: 50,
            election_timeout_ms_min: 150,
            election_timeout_ms_max: 300,
            snapshot_entries_since_last: 10_000,
            snapshot_log_bytes_since_last: 64 << 20,
            log_entries_kept_behind_snapshot: 1000,
            entries_per_append_max: 300,
            snapshot_chunk_bytes_max: 3 << 20,
            snapshot_bytes_max: 8 << 30,
            read_lease_ms: None,
        }
    }
}

impl RaftConfig {
    /// The read lease in milliseconds (see `read_lease_ms`).
    pub fn read_lease_ms(&self) -> u64 {
        self.read_lease_ms
            .unwrap_or(self.election_timeout_ms_max * 2 / 3)
    }

    /// openraft's `Config` for these settings, or why they do not make sense.
    pub fn to_openraft(&self) -> Result<Config, Error> {
        if self.heartbeat_ms == 0 || self.heartbeat_ms * 2 >= self.election_timeout_ms_min {
            return Err(Error::Config(format!(
                "heartbeat_ms ({}) must be above 0 and under half of election_timeout_ms_min ({})",
                self.heartbeat_ms, self.election_timeout_ms_min
            )));
        }
        if self.read_lease_ms() >= self.election_timeout_ms_max {
            return Err(Error::Config(format!(
                "read_lease_ms ({}) must be under election_timeout_ms_max ({}), the lease a \
                 follower grants its leader",
                self.read_lease_ms(),
                self.election_timeout_ms_max
            )));
        }
        let snapshot_policy = match self.snapshot_entries_since_last {
            0 => SnapshotPolicy::Never,
            entries => SnapshotPolicy::LogsSinceLast(entries),
        };
        let config = Config {
            cluster_name: self.cluster_name.clone(),
            heartbeat_interval: self.heartbeat_ms,
            election_timeout_min: self.election_timeout_ms_min,
            election_timeout_max: self.election_timeout_ms_max,
            snapshot_policy,
            max_in_snapshot_log_to_keep: self.log_entries_kept_behind_snapshot,
            max_payload_entries: self.entries_per_append_max,
            snapshot_max_chunk_size: self.snapshot_chunk_bytes_max,
            ..Config::default()
        };
        config
            .validate()
            .map_err(|error| Error::Config(error.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_maps_field_by_field() {
        let config = RaftConfig::default().to_openraft().expect("valid");
        assert_eq!(config.heartbeat_interval, 50);
        assert_eq!(config.election_timeout_min, 150);
        assert_eq!(config.election_timeout_max, 300);
        assert_eq!(config.max_in_snapshot_log_to_keep, 1000);
        assert_eq!(
            config.snapshot_policy,
            SnapshotPolicy::LogsSinceLast(10_000)
        );
    }

    #[test]
    fn refuses_nonsense() {
        let slow_heartbeat = RaftConfig {
            heartbeat_ms: 500,
            ..RaftConfig::default()
        };
        assert!(slow_heartbeat.to_openraft().is_err());
        let inverted = RaftConfig {
            election_timeout_ms_min: 2000,
            election_timeout_ms_max: 1000,
            ..RaftConfig::default()
        };
        assert!(inverted.to_openraft().is_err());
        let manual_snapshots = RaftConfig {
            snapshot_entries_since_last: 0,
            ..RaftConfig::default()
        };
        let config = manual_snapshots.to_openraft().expect("valid");
        assert_eq!(config.snapshot_policy, SnapshotPolicy::Never);
        let long_lease = RaftConfig {
            read_lease_ms: Some(300),
            ..RaftConfig::default()
        };
        assert!(long_lease.to_openraft().is_err(), "as long as a follower's");
        assert_eq!(RaftConfig::default().read_lease_ms(), 200);
    }
}
