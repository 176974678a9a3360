//! The proposer's clock: the one place time enters the replicated state.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch. The simulator gives each node its own; nodes read the
/// system clock otherwise.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Stamps requests with `max(wall clock, last stamp)` in milliseconds since the Unix epoch, so
/// stamps never go backwards on one node even if the wall clock does. The state machine feeds
/// every applied stamp back through [`Stamper::observe`], so a node that becomes leader never
/// stamps earlier than what it has applied.
#[derive(Default)]
pub struct Stamper {
    last_ms: AtomicU64,
    clock: Option<Clock>,
}

impl fmt::Debug for Stamper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stamper")
            .field("last_ms", &self.last_ms)
            .field("clock", &self.clock.as_ref().map(|_| "custom"))
            .finish()
    }
}

impl Stamper {
    /// A stamper that never stamps below `floor_ms`.
    pub fn new(floor_ms: u64) -> Stamper {
        Stamper {
            last_ms: AtomicU64::new(floor_ms),
            clock: None,
        }
    }

    /// A stamper reading `clock` instead of the system clock.
    pub fn with_clock(clock: Clock) -> Stamper {
        Stamper {
            last_ms: AtomicU64::new(0),
            clock: Some(clock),
        }
    }

    /// The time for a new request.
    pub fn stamp(&self) -> u64 {
        let now = match &self.clock {
            Some(clock) => clock(),
            None => wall_clock_ms(),
        };
        self.stamp_at(now)
    }

    /// Raises the floor to `ms` (an applied stamp).
    pub fn observe(&self, ms: u64) {
        self.last_ms.fetch_max(ms, Ordering::SeqCst);
    }

    /// The highest stamp given or observed.
    pub fn last_ms(&self) -> u64 {
        self.last_ms.load(Ordering::SeqCst)
    }

    fn stamp_at(&self, wall_ms: u64) -> u64 {
        let previous = self.last_ms.fetch_max(wall_ms, Ordering::SeqCst);
        previous.max(wall_ms)
    }
}

fn wall_clock_ms() -> u64 {
    // A clock before 1970 stamps 0 and the floor takes over; not worth failing a write for.
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_never_go_backwards() {
        let stamper = Stamper::new(100);
        assert_eq!(stamper.stamp_at(50), 100, "below the floor");
        assert_eq!(stamper.stamp_at(200), 200);
        assert_eq!(stamper.stamp_at(150), 200, "wall clock stepped back");
        stamper.observe(300);
        assert_eq!(
            stamper.stamp_at(250),
            300,
            "an applied stamp from another leader"
        );
        stamper.observe(10);
        assert_eq!(stamper.last_ms(), 300);
        assert!(stamper.stamp() >= 300);
    }
}
