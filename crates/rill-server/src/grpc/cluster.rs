//! `rill.v1.Cluster`: membership, status and the operator's levers.

use rill_proto::v1 as pb;
use rill_proto::v1::cluster_server::Cluster;
use rill_raft::Peer;
use tonic::{Request, Response, Status};

use super::{node_status, Service};
use crate::Shared;

fn cluster_status(shared: &Shared) -> pb::ClusterStatus {
    let status = shared.node.status();
    pb::ClusterStatus {
        node_id: status.id,
        role: status.role.as_str().to_owned(),
        leader_id: status.leader.as_ref().map(|(id, _)| *id),
        term: status.term,
        members: status
            .members
            .into_iter()
            .map(|(id, peer, voter)| pb::Member {
                id,
                raft_addr: peer.raft_addr,
                client_addr: peer.client_addr,
                voter,
                incarnation: peer.incarnation,
            })
            .collect(),
        last_log_index: status.last_log_index,
        // openraft 0.9 reports no commit index in its metrics; on the leader everything
        // applied is committed, and the applied index is what reads observe.
        commit_index: status.applied_index,
        applied_index: status.applied_index,
        snapshot_index: status.snapshot_index,
        replication_lag: status.replication_lag.into_iter().collect(),
        incarnation: shared.node.incarnation(),
    }
}

#[tonic::async_trait]
impl Cluster for Service {
    async fn status(
        &self,
        _request: Request<pb::Empty>,
    ) -> Result<Response<pb::ClusterStatus>, Status> {
        let shared = self.shared()?;
        Ok(Response::new(cluster_status(&shared)))
    }

    async fn add_learner(
        &self,
        request: Request<pb::AddLearnerRequest>,
    ) -> Result<Response<pb::ClusterStatus>, Status> {
        let shared = self.shared()?;
        let Some(member) = request.into_inner().member else {
            return Err(Status::invalid_argument("member is required"));
        };
        if member.raft_addr.is_empty() || member.client_addr.is_empty() {
            return Err(Status::invalid_argument(
                "member needs raft_addr and client_addr",
            ));
        }
        // The incarnation the new member's messages are addressed to: asked of the node
        // itself when the caller does not say.
        let incarnation = match member.incarnation {
            0 => {
                shared
                    .peers
                    .identify(&member.raft_addr)
                    .await
                    .map_err(|why| {
                        Status::unavailable(format!(
                            "cannot ask node {} at {} who it is: {why}",
                            member.id, member.raft_addr
                        ))
                    })?
                    .incarnation
            }
            known => known,
        };
        let peer = Peer {
            raft_addr: member.raft_addr,
            client_addr: member.client_addr,
            incarnation,
        };
        shared
            .node
            .add_learner(member.id, peer)
            .await
            .map_err(|error| node_status(error, &shared))?;
        Ok(Response::new(cluster_status(&shared)))
    }

    async fn change_membership(
        &self,
        request: Request<pb::ChangeMembershipRequest>,
    ) -> Result<Response<pb::ClusterStatus>, Status> {
        let shared = self.shared()?;
        let voters = request.into_inner().voters.into_iter().collect();
        shared
            .node
            .change_membership(voters)
            .await
            .map_err(|error| node_status(error, &shared))?;
        Ok(Response::new(cluster_status(&shared)))
    }

    async fn trigger_snapshot(
        &self,
        _request: Request<pb::Empty>,
    ) -> Result<Response<pb::Empty>, Status> {
        let shared = self.shared()?;
        shared
            .node
            .trigger_snapshot()
            .await
            .map_err(|error| node_status(error, &shared))?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn trigger_election(
        &self,
        _request: Request<pb::Empty>,
    ) -> Result<Response<pb::Empty>, Status> {
        let shared = self.shared()?;
        shared
            .node
            .trigger_election()
            .await
            .map_err(|error| node_status(error, &shared))?;
        Ok(Response::new(pb::Empty {}))
    }
}
