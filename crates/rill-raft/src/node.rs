//! [`RaftNode`]: one replica, wired together: a [`Db`], its log store and state machine, the
//! Raft core, and the stamper that times the commands it proposes.

use std::sync::Arc;

use openraft::error::{ClientWriteError, RaftError};
use openraft::network::RaftNetworkFactory;
use rill_core::{Command, Limits, Reply};
use rill_storage::Db;

use crate::config::RaftConfig;
use crate::error::Error;
use crate::log_store::LogStore;
use crate::stamp::Stamper;
use crate::state_machine::StateMachine;
use crate::types::{NodeId, Peer, Raft, Request, TypeConfig};

/// Why a write did not go through. `ForwardToLeader` inside says where to send it instead (its
/// leader may be unknown: then ask `raft().metrics()` again later).
pub type WriteError = RaftError<NodeId, ClientWriteError<NodeId, Peer>>;

/// A running replica.
pub struct RaftNode {
    id: NodeId,
    raft: Raft,
    db: Arc<Db>,
    stamper: Arc<Stamper>,
}

impl RaftNode {
    /// Starts the Raft core of node `id` over `db`, which holds the node's log and state (a
    /// fresh store for a new node). Must run inside a tokio runtime. `limits` must be equal on
    /// every node of the cluster.
    pub async fn start<N>(
        id: NodeId,
        db: Arc<Db>,
        config: &RaftConfig,
        network: N,
        limits: Limits,
    ) -> Result<RaftNode, Error>
    where
        N: RaftNetworkFactory<TypeConfig>,
    {
        let stamper = Arc::new(Stamper::default());
        let state_machine = StateMachine::new(db.clone(), limits, stamper.clone())?;
        let log_store = LogStore::new(db.clone());
        let config = Arc::new(config.to_openraft()?);
        let raft = Raft::new(id, config, network, log_store, state_machine).await?;
        Ok(RaftNode {
            id,
            raft,
            db,
            stamper,
        })
    }

    /// Proposes `command`, stamped with this node's clock, and waits until it is applied here.
    /// Only the leader accepts proposals.
    pub async fn write(&self, command: Command) -> Result<Reply, WriteError> {
        let request = Request {
            command,
            now_ms: self.stamper.stamp(),
        };
        let response = self.raft.client_write(request).await?;
        Ok(response.data.reply)
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The Raft handle: membership changes, metrics, the RPC entry points a transport calls.
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    pub fn db(&self) -> &Arc<Db> {
        &self.db
    }

    /// Stops the Raft core. The `Db` closes when the last handle to it is dropped.
    pub async fn shutdown(self) -> Arc<Db> {
        if let Err(error) = self.raft.shutdown().await {
            tracing::error!(id = self.id, %error, "raft core did not stop cleanly");
        }
        self.db
    }
}
