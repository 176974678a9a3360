//! Callbacks used by Storage API

use std::io;

use tokio::sync::mpsc;
use tokio::sync::oneshot;

use crate::async_runtime::AsyncOneshotSendExt;
use crate::core::notify::Notify;
use crate::raft_state::io_state::log_io_id::LogIOId;
use crate::type_config::alias::OneshotSenderOf;
use crate::LogId;
use crate::RaftTypeConfig;
use crate::StorageIOError;
use crate::Vote;

/// A oneshot callback for completion of log io operation.
pub struct LogFlushed<C>
where C: RaftTypeConfig
{
    log_io_id: LogIOId<C::NodeId>,
    /// `None` once answered.
    tx: Option<FlushedTx<C>>,
}

/// Where a flush is reported.
///
/// Rill's patch: a leader does not wait for its own flush. Its append hands the store a callback
/// that reports straight to `RaftCore` as [`Notify::LocalLogFlushed`], and the leader counts
/// itself as holding the entries only when that arrives.
enum FlushedTx<C>
where C: RaftTypeConfig
{
    /// A caller awaits the flush (a follower's append).
    Waiter(OneshotSenderOf<C, Result<LogIOId<C::NodeId>, io::Error>>),
    /// The leader's own append: the answer goes to `RaftCore`'s notify channel.
    Core {
        tx_notify: mpsc::UnboundedSender<Notify<C>>,
        vote: Vote<C::NodeId>,
        log_id: LogId<C::NodeId>,
    },
}

impl<C> LogFlushed<C>
where C: RaftTypeConfig
{
    pub(crate) fn new(
        log_io_id: LogIOId<C::NodeId>,
        tx: OneshotSenderOf<C, Result<LogIOId<C::NodeId>, io::Error>>,
    ) -> Self {
        Self {
            log_io_id,
            tx: Some(FlushedTx::Waiter(tx)),
        }
    }

    /// Rill's patch: a callback for a leader's own append, answered on `RaftCore`'s notify
    /// channel. Dropping it unanswered reports a failed flush.
    pub(crate) fn to_core(
        tx_notify: mpsc::UnboundedSender<Notify<C>>,
        vote: Vote<C::NodeId>,
        log_id: LogId<C::NodeId>,
    ) -> Self {
        Self {
            log_io_id: LogIOId::new(vote.clone(), Some(log_id.clone())),
            tx: Some(FlushedTx::Core {
                tx_notify,
                vote,
                log_id,
            }),
        }
    }

    /// Report log io completion event.
    ///
    /// It will be called when the log is successfully appended to the storage or an error occurs.
    pub fn log_io_completed(mut self, result: Result<(), io::Error>) {
        if let Err(e) = &result {
            tracing::error!("LogFlush error: {}, while flushing upto {}", e, self.log_io_id);
        }
        match self.tx.take() {
            Some(FlushedTx::Waiter(tx)) => {
                let res = tx.send(result.map(|()| self.log_io_id.clone()));
                if let Err(e) = res {
                    tracing::error!("failed to send log io completion event: {:?}", e);
                }
            }
            Some(FlushedTx::Core {
                tx_notify,
                vote,
                log_id,
            }) => {
                // A closed channel means `RaftCore` has stopped: nobody is left to tell.
                let _ = tx_notify.send(Notify::LocalLogFlushed { vote, log_id, result });
            }
            None => {}
        }
    }
}

impl<C> Drop for LogFlushed<C>
where C: RaftTypeConfig
{
    /// Rill's patch: a leader's append that the store drops unanswered counts as a failed flush
    /// (a waiter sees its channel close instead).
    fn drop(&mut self) {
        if let Some(FlushedTx::Core {
            tx_notify,
            vote,
            log_id,
        }) = self.tx.take()
        {
            let result = Err(io::Error::new(io::ErrorKind::Other, "log flush callback dropped unanswered"));
            let _ = tx_notify.send(Notify::LocalLogFlushed { vote, log_id, result });
        }
    }
}

/// A oneshot callback for completion of applying logs to state machine.
pub struct LogApplied<C>
where C: RaftTypeConfig
{
    last_log_id: LogId<C::NodeId>,
    tx: oneshot::Sender<Result<(LogId<C::NodeId>, Vec<C::R>), StorageIOError<C::NodeId>>>,
}

impl<C> LogApplied<C>
where C: RaftTypeConfig
{
    #[allow(dead_code)]
    pub(crate) fn new(
        last_log_id: LogId<C::NodeId>,
        tx: oneshot::Sender<Result<(LogId<C::NodeId>, Vec<C::R>), StorageIOError<C::NodeId>>>,
    ) -> Self {
        Self { last_log_id, tx }
    }

    /// Report apply io completion event.
    ///
    /// It will be called when the log is successfully applied to the state machine or an error
    /// occurs.
    pub fn completed(self, result: Result<Vec<C::R>, StorageIOError<C::NodeId>>) {
        let res = match result {
            Ok(x) => {
                tracing::debug!("LogApplied upto {}", self.last_log_id);
                let resp = (self.last_log_id.clone(), x);
                self.tx.send(Ok(resp))
            }
            Err(e) => {
                tracing::error!("LogApplied error: {}, while applying upto {}", e, self.last_log_id);
                self.tx.send(Err(e))
            }
        };

        if let Err(_e) = res {
            tracing::error!("failed to send apply complete event, last_log_id: {}", self.last_log_id);
        }
    }
}
