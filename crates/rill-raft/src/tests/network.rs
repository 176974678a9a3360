//! What a leader's network client counts toward its read lease (`crate::lease`): only an
//! AppendEntries its target accepted. A conflict, a higher vote, a refusal or a lost answer must
//! not count, or a leader could pass reads on a lease no majority granted.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use openraft::error::RaftError;
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse};
use openraft::CommittedLeaderId;

use super::peer;
use crate::codec::encode_after;
use crate::network::{Network, RpcKind, Transport, TransportError};
use crate::types::{LogId, NodeId, Peer, TypeConfig, Vote};

/// What the target answers.
enum Answer {
    /// Served by the target's Raft core.
    Raft(AppendEntriesResponse<NodeId>),
    /// Refused: the target is another incarnation than the membership names.
    Refused,
    /// Lost on the way.
    Lost,
}

impl Answer {
    /// The envelope `serve_rpc` sends: served or not, the answering incarnation (the one the
    /// membership names: `peer`'s), the answer. `None`: nothing arrives.
    fn envelope(self) -> Option<Vec<u8>> {
        let mut header = vec![1];
        header.extend_from_slice(&peer(2).incarnation.to_le_bytes());
        match self {
            Answer::Raft(response) => {
                let result: Result<_, RaftError<NodeId>> = Ok(response);
                Some(encode_after(header, &result).expect("encode"))
            }
            Answer::Refused => {
                header[0] = 0;
                Some(header)
            }
            Answer::Lost => None,
        }
    }
}

/// Answers every call with the envelope it was last given.
#[derive(Clone)]
struct Canned(Arc<Mutex<Option<Vec<u8>>>>);

impl Canned {
    fn set(&self, answer: Answer) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = answer.envelope();
    }
}

impl Transport for Canned {
    async fn call(
        &self,
        _target: NodeId,
        _peer: &Peer,
        _kind: RpcKind,
        _payload: Vec<u8>,
        _timeout: Duration,
    ) -> Result<Vec<u8>, TransportError> {
        let envelope = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        envelope.ok_or_else(|| TransportError::Network("lost".to_owned()))
    }
}

/// Whether node 1, leading with `vote`, holds a lease once node 3 accepted an AppendEntries
/// and node 2 answered one with `answer`. Node 3 alone is one of the two others needed.
async fn lease_after(vote: Vote, answer: Answer) -> bool {
    let canned = Canned(Arc::new(Mutex::new(None)));
    canned.set(Answer::Raft(AppendEntriesResponse::Success));
    let mut network = Network::new(canned.clone());
    let request = AppendEntriesRequest::<TypeConfig> {
        vote,
        prev_log_id: None,
        entries: Vec::new(),
        leader_commit: None,
    };
    let option = RPCOption::new(Duration::from_secs(1));
    let mut three = network.new_client(3, &peer(3)).await;
    let _ = three.append_entries(request.clone(), option.clone()).await;
    canned.set(answer);
    let mut two = network.new_client(2, &peer(2)).await;
    let _ = two.append_entries(request, option).await;
    let voters: BTreeSet<NodeId> = [1, 2, 3].into();
    network
        .lease()
        .holds(1, &vote, &voters, Duration::from_secs(10))
}

#[tokio::test]
async fn only_an_accepted_append_entries_counts_toward_the_lease() {
    let vote = Vote::new_committed(3, 1);
    let log_id = LogId::new(CommittedLeaderId::new(3, 1), 7);
    let accepted = [
        AppendEntriesResponse::Success,
        AppendEntriesResponse::PartialSuccess(Some(log_id)),
    ];
    for response in accepted {
        let what = format!("{response:?}");
        assert!(lease_after(vote, Answer::Raft(response)).await, "{what}");
    }
    let not_accepted = [
        Answer::Raft(AppendEntriesResponse::Conflict),
        Answer::Raft(AppendEntriesResponse::HigherVote(Vote::new_committed(4, 2))),
        Answer::Refused,
        Answer::Lost,
    ];
    for answer in not_accepted {
        let what = match &answer {
            Answer::Raft(response) => format!("{response:?}"),
            Answer::Refused => "refused".to_owned(),
            Answer::Lost => "lost".to_owned(),
        };
        assert!(!lease_after(vote, answer).await, "{what} counted");
    }
}
