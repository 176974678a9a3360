//! A leader's AppendEntries to one follower, on one long-lived gRPC stream
//! (`rill.raft.v1.Raft/AppendEntriesStream`) instead of a call each.
//!
//! ```text
//!  call ─ id, oneshot ─▶ waiting ◀─ answer by id ─ reader task ◀─ answers ─┐
//!    └─ StreamedCall { id, payload } ─▶ calls (bounded) ─▶ request stream ─┴▶ the follower
//! ```
//!
//! A unary call costs both nodes its own headers, an HTTP/2 stream set up and torn down, and a
//! task on the follower; a message on an open stream costs a frame. The follower serves the
//! calls in order; answers are matched by id, so one whose caller gave up is dropped. A stream
//! that ends or fails fails the calls waiting on it, and the next call opens another.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use rill_proto::raft::raft_client::RaftClient;
use rill_proto::raft::streamed_answer::Outcome;
use rill_proto::raft::{StreamedAnswer, StreamedCall};
use rill_raft::TransportError;
use tokio::sync::{mpsc, oneshot};
use tonic::codegen::tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::Streaming;

/// Calls handed to the stream and not yet taken by the connection. openraft sends one
/// AppendEntries at a time to a follower; a few more cover the calls of a caller that gave up.
const CALLS_QUEUED_MAX: usize = 4;

type Answer = Result<Vec<u8>, TransportError>;

/// One open stream to a peer.
pub(crate) struct AppendStream {
    calls: mpsc::Sender<StreamedCall>,
    waiting: Arc<Mutex<Waiting>>,
}

#[derive(Default)]
struct Waiting {
    next_id: u64,
    /// Ordered, so that a failed stream wakes its calls in the same order on every run (the
    /// simulator replays a seed exactly).
    calls: BTreeMap<u64, oneshot::Sender<Answer>>,
    /// Why the stream ended, once it has: no call waits on it then.
    ended: Option<String>,
}

/// Why a stream could not be opened.
pub(crate) enum OpenError {
    /// The peer has no such call (an older build): use the unary call.
    Unimplemented,
    /// As the unary call would have failed.
    Failed(TransportError),
}

impl AppendStream {
    /// Opens a stream with `request`, which carries the stream's headers (the cluster secret).
    pub(crate) async fn open(
        client: &mut RaftClient<Channel>,
        request: impl FnOnce(
            ReceiverStream<StreamedCall>,
        ) -> tonic::Request<ReceiverStream<StreamedCall>>,
    ) -> Result<AppendStream, OpenError> {
        let (calls, rx) = mpsc::channel(CALLS_QUEUED_MAX);
        let answers = match client
            .append_entries_stream(request(ReceiverStream::new(rx)))
            .await
        {
            Ok(answers) => answers.into_inner(),
            Err(status) if status.code() == tonic::Code::Unimplemented => {
                return Err(OpenError::Unimplemented)
            }
            Err(status) => return Err(OpenError::Failed(crate::peers::transport_error(&status))),
        };
        let waiting = Arc::new(Mutex::new(Waiting::default()));
        tokio::spawn(read_answers(answers, Arc::clone(&waiting)));
        Ok(AppendStream { calls, waiting })
    }

    /// Whether the stream has ended: the next call opens another.
    pub(crate) fn has_ended(&self) -> bool {
        lock(&self.waiting).ended.is_some() || self.calls.is_closed()
    }

    /// Sends `payload` and waits for its answer. Dropping the future forgets the call; its
    /// answer, if one comes, is dropped.
    pub(crate) async fn call(&self, payload: Vec<u8>) -> Answer {
        let (tx, rx) = oneshot::channel();
        let id = {
            let mut waiting = lock(&self.waiting);
            if let Some(why) = &waiting.ended {
                return Err(TransportError::Network(why.clone()));
            }
            let id = waiting.next_id;
            waiting.next_id += 1;
            waiting.calls.insert(id, tx);
            id
        };
        let _forget = Forget {
            waiting: &self.waiting,
            id,
        };
        if self.calls.send(StreamedCall { id, payload }).await.is_err() {
            return Err(TransportError::Network(
                "the stream to the peer closed".to_owned(),
            ));
        }
        match rx.await {
            Ok(answer) => answer,
            Err(_) => Err(TransportError::Network(
                "the stream to the peer ended".to_owned(),
            )),
        }
    }
}

/// Removes a call from `waiting` when its caller is done with it, answered or not.
struct Forget<'a> {
    waiting: &'a Mutex<Waiting>,
    id: u64,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        lock(self.waiting).calls.remove(&self.id);
    }
}

fn lock(waiting: &Mutex<Waiting>) -> std::sync::MutexGuard<'_, Waiting> {
    waiting.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Hands each answer to its call until the stream ends, then fails the calls still waiting.
async fn read_answers(mut answers: Streaming<StreamedAnswer>, waiting: Arc<Mutex<Waiting>>) {
    let why = loop {
        match answers.message().await {
            Ok(Some(answer)) => {
                let call = lock(&waiting).calls.remove(&answer.id);
                if let Some(call) = call {
                    let _ = call.send(answer_of(answer.outcome));
                }
            }
            Ok(None) => break "the peer ended the stream".to_owned(),
            Err(status) => break status.to_string(),
        }
    };
    let mut waiting = lock(&waiting);
    for (_, call) in std::mem::take(&mut waiting.calls) {
        let _ = call.send(Err(TransportError::Network(why.clone())));
    }
    waiting.ended = Some(why);
}

/// What the unary call would have returned: a refusal is an error status there
/// (`TransportError::Network`), and an isolated peer `UNAVAILABLE` (`Unreachable`).
fn answer_of(outcome: Option<Outcome>) -> Answer {
    match outcome {
        Some(Outcome::Payload(payload)) => Ok(payload),
        Some(Outcome::Refused(why)) => Err(TransportError::Network(why)),
        Some(Outcome::Unavailable(why)) => Err(TransportError::Unreachable(why)),
        None => Err(TransportError::Network(
            "an answer without an outcome".to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use hyper_util::rt::TokioIo;
    use rill_proto::raft::raft_server::{Raft, RaftServer};
    use rill_proto::raft::{ForwardReply, ForwardRequest, RaftPayload};
    use rill_raft::{Peer, RpcKind, Transport};
    use tonic::codegen::tokio_stream::wrappers::UnboundedReceiverStream;
    use tonic::codegen::tokio_stream::StreamExt;
    use tonic::transport::{Endpoint, Server, Uri};
    use tonic::{Request, Response, Status};

    use super::*;
    use crate::peers::{Dial, PeerTraffic, Peers};

    /// How the fake node serves `AppendEntriesStream`.
    #[derive(Clone, Copy)]
    enum Streams {
        /// Not at all: an older build.
        Unimplemented,
        /// Answers calls two at a time, the second first.
        Swapped,
        /// Ends its first stream on the first call, unanswered; answers on later ones.
        EndsTheFirst,
    }

    #[derive(Clone)]
    struct Fake {
        streams: Streams,
        opened: Arc<AtomicUsize>,
    }

    fn answered(payload: &[u8]) -> Vec<u8> {
        [b"answer to ", payload].concat()
    }

    fn answer(call: &StreamedCall) -> Result<StreamedAnswer, Status> {
        Ok(StreamedAnswer {
            id: call.id,
            outcome: Some(Outcome::Payload(answered(&call.payload))),
        })
    }

    #[tonic::async_trait]
    impl Raft for Fake {
        async fn append_entries(
            &self,
            request: Request<RaftPayload>,
        ) -> Result<Response<RaftPayload>, Status> {
            let payload = answered(&request.into_inner().payload);
            Ok(Response::new(RaftPayload { payload }))
        }

        type AppendEntriesStreamStream = ReceiverStream<Result<StreamedAnswer, Status>>;

        async fn append_entries_stream(
            &self,
            request: Request<Streaming<StreamedCall>>,
        ) -> Result<Response<Self::AppendEntriesStreamStream>, Status> {
            let nth = self.opened.fetch_add(1, Ordering::SeqCst);
            let mut calls = request.into_inner();
            let (tx, rx) = mpsc::channel(4);
            let streams = self.streams;
            if let Streams::Unimplemented = streams {
                return Err(Status::unimplemented("no such method"));
            }
            tokio::spawn(async move {
                while let Ok(Some(first)) = calls.message().await {
                    match streams {
                        Streams::Swapped => {
                            let Ok(Some(second)) = calls.message().await else {
                                return;
                            };
                            let _ = tx.send(answer(&second)).await;
                            let _ = tx.send(answer(&first)).await;
                        }
                        Streams::EndsTheFirst if nth == 0 => return,
                        _ => {
                            let _ = tx.send(answer(&first)).await;
                        }
                    }
                }
            });
            Ok(Response::new(ReceiverStream::new(rx)))
        }

        async fn vote(&self, _: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
            Err(Status::unimplemented("not in this test"))
        }

        async fn install_snapshot(
            &self,
            _: Request<RaftPayload>,
        ) -> Result<Response<RaftPayload>, Status> {
            Err(Status::unimplemented("not in this test"))
        }

        async fn forward(
            &self,
            _: Request<ForwardRequest>,
        ) -> Result<Response<ForwardReply>, Status> {
            Err(Status::unimplemented("not in this test"))
        }
    }

    /// `Peers` whose every connection reaches `fake`, in memory; and how often `fake` was
    /// asked to open a stream.
    fn peers_of(streams: Streams) -> (Peers, Arc<AtomicUsize>) {
        let opened = Arc::new(AtomicUsize::new(0));
        let fake = Fake {
            streams,
            opened: Arc::clone(&opened),
        };
        let (accepted, incoming) = mpsc::unbounded_channel::<tokio::io::DuplexStream>();
        let incoming = UnboundedReceiverStream::new(incoming).map(Ok::<_, std::io::Error>);
        tokio::spawn(
            Server::builder()
                .add_service(RaftServer::new(fake))
                .serve_with_incoming(incoming),
        );
        let dial: Dial = Arc::new(move |endpoint: Endpoint| {
            let accepted = accepted.clone();
            endpoint.connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
                let (ours, theirs) = tokio::io::duplex(64 << 10);
                let sent = accepted.send(theirs);
                async move {
                    sent.map_err(|_| std::io::Error::other("the fake node stopped"))?;
                    Ok::<_, std::io::Error>(TokioIo::new(ours))
                }
            }))
        });
        (Peers::new(Some(dial), None, None), opened)
    }

    fn peer() -> Peer {
        Peer {
            raft_addr: "127.0.0.1:9".to_owned(),
            ..Peer::default()
        }
    }

    async fn append(peers: &Peers, payload: &[u8]) -> Answer {
        let peer = peer();
        let call = peers.call(
            2,
            &peer,
            RpcKind::AppendEntries,
            payload.to_vec(),
            Duration::from_secs(5),
        );
        tokio::time::timeout(Duration::from_secs(10), call)
            .await
            .expect("the call ended")
    }

    #[tokio::test]
    async fn answers_reach_their_calls_by_id_in_whatever_order_they_come() {
        let (peers, opened) = peers_of(Streams::Swapped);
        let (a, b) = tokio::join!(append(&peers, b"a"), async {
            // After `a` has gone out, so that the fake answers `b` before it.
            tokio::time::sleep(Duration::from_millis(50)).await;
            append(&peers, b"b").await
        });
        assert_eq!(a.expect("answered"), b"answer to a");
        assert_eq!(b.expect("answered"), b"answer to b");
        let (c, d) = tokio::join!(append(&peers, b"c"), append(&peers, b"d"));
        assert_eq!(c.expect("answered"), b"answer to c");
        assert_eq!(d.expect("answered"), b"answer to d");
        assert_eq!(
            opened.load(Ordering::SeqCst),
            1,
            "one stream for every call"
        );
        assert_eq!(
            peers.traffic(),
            PeerTraffic {
                append_streams_opened: 1,
                appends_streamed: 4,
                appends_unary: 0
            }
        );
    }

    #[tokio::test]
    async fn a_node_without_the_stream_is_sent_unary_calls() {
        let (peers, opened) = peers_of(Streams::Unimplemented);
        for payload in [&b"a"[..], b"b", b"c"] {
            let answer = append(&peers, payload).await.expect("answered");
            assert_eq!(answer, answered(payload));
        }
        assert_eq!(opened.load(Ordering::SeqCst), 1, "asked once for a stream");
        assert_eq!(
            peers.traffic(),
            PeerTraffic {
                append_streams_opened: 0,
                appends_streamed: 0,
                appends_unary: 3
            }
        );
    }

    #[tokio::test]
    async fn a_stream_that_ends_fails_its_calls_and_the_next_call_opens_another() {
        let (peers, opened) = peers_of(Streams::EndsTheFirst);
        let first = append(&peers, b"a").await;
        assert!(
            matches!(first, Err(TransportError::Network(_))),
            "{first:?}"
        );
        let second = append(&peers, b"b").await.expect("answered");
        assert_eq!(second, b"answer to b");
        assert_eq!(opened.load(Ordering::SeqCst), 2);
        assert_eq!(peers.traffic().append_streams_opened, 2);
    }
}
