//! `rill.raft.v1.Raft`: node-to-node calls (Raft RPCs and forwarded commands).

use std::sync::{Arc, Weak};

use rill_core::Command;
use rill_proto::raft::raft_server::Raft;
use rill_proto::raft::streamed_answer::Outcome;
use rill_proto::raft::{ForwardReply, ForwardRequest, RaftPayload, StreamedAnswer, StreamedCall};
use rill_raft::RpcKind;
use tokio::sync::{mpsc, watch};
use tonic::codegen::tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::{not_leader, Service};
use crate::{stopped, Shared};

/// Answers of an `AppendEntriesStream` not yet taken by the connection. The calls are served
/// one at a time, so one is enough to keep the connection busy; more would only hold memory.
const STREAMED_ANSWERS_QUEUED_MAX: usize = 2;

#[tonic::async_trait]
impl Raft for Service {
    async fn append_entries(
        &self,
        request: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        self.raft_rpc(RpcKind::AppendEntries, request).await
    }

    type AppendEntriesStreamStream = ReceiverStream<Result<StreamedAnswer, Status>>;

    async fn append_entries_stream(
        &self,
        request: Request<Streaming<StreamedCall>>,
    ) -> Result<Response<Self::AppendEntriesStreamStream>, Status> {
        // Refused as a whole while isolated or stopping, like a unary call.
        drop(self.peer_shared()?);
        let (answers, rx) = mpsc::channel(STREAMED_ANSWERS_QUEUED_MAX);
        tokio::spawn(serve_appends(
            request.into_inner(),
            answers,
            self.shared.clone(),
            self.shutdown.clone(),
        ));
        Ok(Response::new(ReceiverStream::new(rx)))
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

/// Serves the calls of one `AppendEntriesStream` in order until the caller ends it, goes away
/// (its answer stream is dropped: a call being served is dropped too, as a unary call's handler
/// is when the caller resets it), or this node stops.
async fn serve_appends(
    mut calls: Streaming<StreamedCall>,
    answers: mpsc::Sender<Result<StreamedAnswer, Status>>,
    shared: Weak<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let next = tokio::select! {
            next = calls.message() => next,
            () = answers.closed() => return,
            () = stopped(&mut shutdown) => return,
        };
        let call = match next {
            Ok(Some(call)) => call,
            Ok(None) => return,
            Err(status) => {
                let _ = answers.send(Err(status)).await;
                return;
            }
        };
        let outcome = match shared.upgrade() {
            None => return,
            Some(shared) if shared.peers.is_isolated() => {
                Outcome::Unavailable("isolated from the other nodes".to_owned())
            }
            Some(shared) => {
                let served = tokio::select! {
                    served = shared.node.serve_rpc(RpcKind::AppendEntries, &call.payload) => served,
                    () = answers.closed() => return,
                    () = stopped(&mut shutdown) => return,
                };
                match served {
                    Ok(payload) => Outcome::Payload(payload),
                    Err(error) => Outcome::Refused(error.to_string()),
                }
            }
        };
        let answer = StreamedAnswer {
            id: call.id,
            outcome: Some(outcome),
        };
        // A caller that stops reading must not hold this task past a stop.
        let sent = tokio::select! {
            sent = answers.send(Ok(answer)) => sent.is_ok(),
            () = stopped(&mut shutdown) => false,
        };
        if !sent {
            return;
        }
    }
}
