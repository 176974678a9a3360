//! openraft's own storage conformance suite, run against [`LogStore`] and [`StateMachine`].
//!
//! Only the cases that keep to Raft's order of operations run here: 22 of 35. The other 13
//! (`last_membership_in_log`, `get_membership_from_*_sm*`, `get_initial_state_with_state`,
//! `..._membership_from_log_and_sm`, `..._last_log_gt_sm`, `..._last_log_lt_sm`,
//! `..._re_apply_committed`, `last_id_in_log`, `last_applied_state`, `transfer_snapshot`)
//! apply entries with gaps (index 1 and 2 onto an empty state machine, say), which
//! [`StateMachine`] refuses by assertion, on purpose: a gap in applied entries is a bug
//! upstream, and applying past it would make this replica's state differ from its peers'.
//! `tests::state_machine` covers snapshot transfer with entries in order.

use std::sync::Arc;

use openraft::testing::{StoreBuilder, Suite};
use rill_core::Limits;
use rill_storage::{Db, DbOptions};
use tempfile::TempDir;

use crate::types::StorageError;
use crate::{LogStore, Stamper, StateMachine, TypeConfig};

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, TempDir> for Builder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachine), StorageError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Arc::new(
            Db::open(
                dir.path(),
                &DbOptions {
                    sync: false,
                    ..DbOptions::default()
                },
            )
            .expect("open store"),
        );
        let sm = StateMachine::new(
            db.clone(),
            Limits::default(),
            Arc::new(Stamper::default()),
            None,
        )
        .expect("state machine");
        Ok((dir, LogStore::new(db), sm))
    }
}

type RillSuite = Suite<TypeConfig, LogStore, StateMachine, Builder, TempDir>;

macro_rules! suite_cases {
    ($($case:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $case() {
            let (_dir, log_store, state_machine) = Builder.build().await.expect("build");
            RillSuite::$case(log_store, state_machine).await.expect(stringify!($case));
        }
    )*};
}

suite_cases!(
    last_membership_in_log_initial,
    last_membership_in_log_multi_step,
    get_membership_initial,
    get_membership_from_log_and_empty_sm,
    get_initial_state_without_init,
    get_initial_state_log_ids,
    save_vote,
    get_log_entries,
    limited_get_log_entries,
    try_get_log_entry,
    initial_logs,
    get_log_state,
    get_log_id,
    purge_logs_upto_0,
    purge_logs_upto_5,
    purge_logs_upto_20,
    delete_logs_since_11,
    delete_logs_since_0,
    append_to_log,
    snapshot_meta,
    apply_single,
    apply_multiple,
);
