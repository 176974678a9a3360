//! What a failed fsync leaves behind: a marker that keeps the store closed until the machine
//! reboots.
//!
//! ```text
//!   fsync fails ── record: <store>/FSYNC_FAILED = this boot's id (not fsynced) ── node stops
//!   Db::open ── check: no marker ─▶ open
//!                      marker of this boot ─▶ refuse (StorageError::FsyncFailedThisBoot)
//!                      marker of an earlier boot ─▶ delete it, open
//! ```
//!
//! After a failed fsync Linux marks the pages it could not write clean: they stay in the page
//! cache, later reads see them, and a later fsync reports success without writing them. A
//! process restarted on the same boot would read back log entries the disk does not hold, report
//! them stored, and a power loss would then take entries a quorum was counted on for. A reboot
//! empties the page cache, so reads come from the disk again. The marker is not fsynced on
//! purpose: it needs to outlive the process, not the boot, which is exactly as long as the
//! page cache that makes the store untrustworthy.

use std::fs;
use std::io;
use std::path::Path;

use crate::error::StorageError;

/// The marker's file name in the store's directory.
pub(crate) const MARKER: &str = "FSYNC_FAILED";

/// Where the kernel names the current boot: a random id, new at every boot.
const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";

/// The marker's bytes at most (a boot id and an error message); a longer file is not ours.
const MARKER_BYTES_MAX: u64 = 4096;

/// This boot's id, or `None` where the kernel does not say (then every marker counts as this
/// boot's: only a person can tell that the page cache was emptied).
pub(crate) fn boot_id() -> Option<String> {
    let id = fs::read_to_string(BOOT_ID).ok()?;
    let id = id.trim();
    (!id.is_empty()).then(|| id.to_owned())
}

/// Whether a RocksDB error reports a failed fsync: its own call's, or one it ran in the
/// background (syncing a closed WAL before a memtable flush), which it reports at the next
/// write. RocksDB names the call in the message ("While fsync: ...", "While fdatasync: ...",
/// "While sync_file_range: ...").
pub(crate) fn is_fsync_failure(error: &StorageError) -> bool {
    match error {
        StorageError::Rocks { message } => message.to_ascii_lowercase().contains("sync"),
        _ => false,
    }
}

/// Leaves the marker in `dir` if `error` is a failed fsync (see [`is_fsync_failure`]); other
/// errors (a full disk, a store this build cannot read) close nothing.
pub(crate) fn record_if_fsync(dir: &Path, boot: Option<&str>, error: &StorageError) {
    if is_fsync_failure(error) {
        record(dir, boot, &error.to_string());
    }
}

/// Leaves the marker in `dir` for `boot`. Best effort: a disk that just failed an fsync may
/// fail this too, and the error that stops the node is the fsync's. Written whole or not at
/// all (a rename), so a marker is never cut short.
pub(crate) fn record(dir: &Path, boot: Option<&str>, error: &str) {
    let path = dir.join(MARKER);
    let body = format!(
        "boot_id={}\nerror={}\n",
        boot.unwrap_or("unknown"),
        error.replace('\n', " ")
    );
    let partial = dir.join(format!("{MARKER}.partial"));
    match fs::write(&partial, body).and_then(|()| fs::rename(&partial, &path)) {
        Ok(()) => {
            tracing::error!(marker = %path.display(), "fsync failed: the store stays closed until the machine reboots")
        }
        Err(write) => {
            tracing::error!(marker = %path.display(), %write, "fsync failed, and the marker could not be written")
        }
    }
}

/// Refuses a store whose fsync failed during `boot`; deletes the marker of an earlier boot.
pub(crate) fn check(dir: &Path, boot: Option<&str>) -> Result<(), StorageError> {
    let path = dir.join(MARKER);
    let Some(marker) = read_marker(&path) else {
        return Ok(());
    };
    match (boot, marker.boot.as_deref()) {
        (Some(now), Some(then)) if now != then => {
            fs::remove_file(&path).map_err(|error| StorageError::Rocks {
                message: format!("cannot remove {}: {error}", path.display()),
            })?;
            tracing::warn!(
                marker = %path.display(),
                "an fsync of this store failed during an earlier boot: opening it again"
            );
            Ok(())
        }
        (_, marker_boot) => Err(StorageError::FsyncFailedThisBoot {
            marker: path.display().to_string(),
            reboot_clears: boot.is_some() && marker_boot.is_some(),
            error: marker.error,
        }),
    }
}

/// What a marker says.
struct Marker {
    /// The boot it was left in; `None` if it names none (or is not one `record` wrote).
    boot: Option<String>,
    /// The fsync's error, as far as the marker tells it.
    error: String,
}

/// The marker at `path`, `None` if there is none. A marker that cannot be read counts as one
/// that names no boot: the store stays closed until a person looks.
fn read_marker(path: &Path) -> Option<Marker> {
    let unreadable = |why: String| {
        Some(Marker {
            boot: None,
            error: why,
        })
    };
    let metadata = match fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return None,
        Err(error) => return unreadable(format!("the marker cannot be read: {error}")),
    };
    if metadata.len() > MARKER_BYTES_MAX {
        return unreadable(format!(
            "the marker is {} bytes, more than this build writes",
            metadata.len()
        ));
    }
    let body = match fs::read_to_string(path) {
        Ok(body) => body,
        Err(error) => return unreadable(format!("the marker cannot be read: {error}")),
    };
    let field = |name: &str| {
        body.lines()
            .find_map(|line| line.strip_prefix(name))
            .map(str::to_owned)
    };
    Some(Marker {
        boot: field("boot_id=").filter(|id| id != "unknown"),
        error: field("error=").unwrap_or_else(|| "not recorded".to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_of_this_boot_refuses_and_one_of_an_earlier_boot_is_cleared() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(check(dir.path(), Some("boot-a")), Ok(()), "no marker");

        record(
            dir.path(),
            Some("boot-a"),
            "Input/output error\nsecond line",
        );
        let refused = check(dir.path(), Some("boot-a")).expect_err("same boot");
        assert!(
            matches!(&refused, StorageError::FsyncFailedThisBoot { marker, reboot_clears: true, .. }
                if marker.ends_with(MARKER)),
            "{refused:?}"
        );
        let message = refused.to_string();
        assert!(message.contains("clears itself"), "{message}");
        assert!(
            message.contains("Input/output error second line"),
            "{message}"
        );
        // Without a boot id to compare, the marker counts as this boot's.
        assert!(check(dir.path(), None).is_err());

        assert_eq!(check(dir.path(), Some("boot-b")), Ok(()), "a later boot");
        assert!(!dir.path().join(MARKER).exists(), "cleared");
        assert_eq!(check(dir.path(), Some("boot-b")), Ok(()));
    }

    #[test]
    fn a_marker_without_a_boot_id_or_not_ours_keeps_the_store_closed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let by_hand = |what: &str| match check(dir.path(), Some("boot-b")) {
            Err(
                refused @ StorageError::FsyncFailedThisBoot {
                    reboot_clears: false,
                    ..
                },
            ) => {
                let message = refused.to_string();
                assert!(message.contains("delete the marker"), "{what}: {message}");
                assert!(!message.contains("clears itself"), "{what}: {message}");
            }
            other => panic!("{what}: {other:?}"),
        };
        record(dir.path(), None, "Input/output error");
        by_hand("unknown boot");
        assert!(!dir.path().join(format!("{MARKER}.partial")).exists());

        fs::write(
            dir.path().join(MARKER),
            vec![b'x'; MARKER_BYTES_MAX as usize + 1],
        )
        .expect("write");
        by_hand("oversized marker");
        fs::write(dir.path().join(MARKER), [0xff, 0xfe]).expect("write");
        by_hand("not UTF-8");
        fs::write(dir.path().join(MARKER), "").expect("write");
        by_hand("empty");
    }

    #[test]
    fn only_a_failed_fsync_leaves_a_marker() {
        let dir = tempfile::tempdir().expect("temp dir");
        let rocks = |message: &str| StorageError::Rocks {
            message: message.to_owned(),
        };
        for error in [
            rocks("IO error: No space left on device: While appending to file: 000012.log"),
            StorageError::ReadOnly,
        ] {
            record_if_fsync(dir.path(), Some("boot-a"), &error);
            assert!(!dir.path().join(MARKER).exists(), "{error}");
        }
        record_if_fsync(
            dir.path(),
            Some("boot-a"),
            &rocks("IO error: While fdatasync: /var/lib/rill/000012.log: Input/output error"),
        );
        assert!(check(dir.path(), Some("boot-a")).is_err());
    }

    #[test]
    fn this_machine_names_its_boot() {
        // The guard is only as good as this: CI runs on Linux, where the kernel always says.
        let id = boot_id().expect("/proc/sys/kernel/random/boot_id");
        assert_eq!(id.len(), 36, "{id}");
    }
}
