//! `rill.raft.v1.Raft`: node-to-node calls (Raft RPCs and forwarded commands).

use std::sync::Arc;

use rill_core::Command;
use rill_proto::raft::raft_server::Raft;
use rill_proto::raft::{ForwardReply, ForwardRequest, RaftPayload};
use rill_raft::RpcKind;
use tonic::{Request, Response, Status};

use super::{not_leader, Service};
use crate::Shared;

#[tonic::async_trait]
impl Raft for Service {
    async fn append_entries(
        &self,
        request: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        self.raft_rpc(RpcKind::AppendEntries, request).await
    }

    async fn vote(&self, request: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        self.raft_rpc(RpcKind::Vote, request).await
    }

    async fn install_snapshot(
        &self,
        request: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        self.raft_rpc(RpcKind::InstallSnapshot, request).await
    }

    async fn forward(
        &self,
        request: Request<ForwardRequest>,
    ) -> Result<Response<ForwardReply>, Status> {
        let shared = self.peer_shared()?;
        let commands: Vec<Command> =
            postcard::from_bytes(&request.into_inner().command).map_err(|e| {
                Status::invalid_argument(format!("undecodable forwarded commands: {e}"))
            })?;
        if !shared.node.is_leader() {
            return Err(not_leader(&shared));
        }
        let replies = shared.run_forwarded(commands).await;
        let reply = postcard::to_stdvec(&replies)
            .map_err(|e| Status::internal(format!("cannot encode replies: {e}")))?;
        Ok(Response::new(ForwardReply { reply }))
    }
}

impl Service {
    /// For node-to-node calls: refused while this node is isolated (fault injection).
    fn peer_shared(&self) -> Result<Arc<Shared>, Status> {
        let shared = self.shared()?;
        if shared.peers.is_isolated() {
            return Err(Status::unavailable("isolated from the other nodes"));
        }
        Ok(shared)
    }

    async fn raft_rpc(
        &self,
        kind: RpcKind,
        request: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        let shared = self.peer_shared()?;
        let payload = shared
            .node
            .serve_rpc(kind, &request.into_inner().payload)
            .await
            .map_err(|error| Status::invalid_argument(error.to_string()))?;
        Ok(Response::new(RaftPayload { payload }))
    }
}
