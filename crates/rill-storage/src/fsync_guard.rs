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

/// Leaves the marker in `dir` for `boot`. Best effort: a disk that just failed an fsync may
/// fail this too, and the error that stops the node is the fsync's.
pub(crate) fn record(dir: &Path, boot: Option<&str>, error: &str) {
    let path = dir.join(MARKER);
    let body = format!(
        "boot_id={}\nerror={}\n",
        boot.unwrap_or("unknown"),
        error.replace('\n', " ")
    );
    match fs::write(&path, body) {
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
    let marker_boot = match read_marker(&path) {
        Ok(None) => return Ok(()),
        Ok(Some(marker_boot)) => marker_boot,
        Err(error) => {
            return Err(StorageError::Rocks {
                message: format!("cannot read {}: {error}", path.display()),
            })
        }
    };
    match (boot, marker_boot.as_deref()) {
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
        _ => Err(StorageError::FsyncFailedThisBoot {
            marker: path.display().to_string(),
        }),
    }
}

/// The boot id a marker names (`None` if it names none), or `Ok(None)` if there is no marker.
fn read_marker(path: &Path) -> io::Result<Option<Option<String>>> {
    let metadata = match fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    if metadata.len() > MARKER_BYTES_MAX {
        // Not written by `record`: keep the store closed and let a person look.
        return Ok(Some(None));
    }
    let body = fs::read_to_string(path)?;
    let boot = body
        .lines()
        .find_map(|line| line.strip_prefix("boot_id="))
        .filter(|id| *id != "unknown")
        .map(str::to_owned);
    Ok(Some(boot))
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
            matches!(&refused, StorageError::FsyncFailedThisBoot { marker } if marker.ends_with(MARKER)),
            "{refused:?}"
        );
        assert!(refused.to_string().contains("reboot"), "{refused}");
        // Without a boot id to compare, the marker counts as this boot's.
        assert!(check(dir.path(), None).is_err());

        assert_eq!(check(dir.path(), Some("boot-b")), Ok(()), "a later boot");
        assert!(!dir.path().join(MARKER).exists(), "cleared");
        assert_eq!(check(dir.path(), Some("boot-b")), Ok(()));
    }

    #[test]
    fn a_marker_without_a_boot_id_or_not_ours_keeps_the_store_closed() {
        let dir = tempfile::tempdir().expect("temp dir");
        record(dir.path(), None, "Input/output error");
        assert!(check(dir.path(), Some("boot-b")).is_err(), "unknown boot");

        let big = vec![b'x'; MARKER_BYTES_MAX as usize + 1];
        fs::write(dir.path().join(MARKER), big).expect("write");
        assert!(
            check(dir.path(), Some("boot-b")).is_err(),
            "oversized marker"
        );
    }

    #[test]
    fn this_machine_names_its_boot() {
        // The guard is only as good as this: CI runs on Linux, where the kernel always says.
        let id = boot_id().expect("/proc/sys/kernel/random/boot_id");
        assert_eq!(id.len(), 36, "{id}");
    }
}
