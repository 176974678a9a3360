//! Operating errors of this crate. Redis-level errors are replies inside [`crate::Response`].

use crate::codec::CodecError;
use crate::types::{NodeId, StorageError};

/// Why a node could not start or a store could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("storage: {0}")]
    Storage(#[from] rill_storage::StorageError),
    #[error("cannot encode or decode {what}: {source}")]
    Codec {
        what: &'static str,
        #[source]
        source: CodecError,
    },
    #[error("bad raft config: {0}")]
    Config(String),
    /// A peer's message that would make this node do unbounded work.
    #[error("refused: {0}")]
    Refused(String),
    #[error("store disagrees with itself: {0}")]
    Inconsistent(String),
    /// Boxed: openraft's fatal errors are large and this type travels in every `Result` here.
    #[error("raft: {0}")]
    Fatal(Box<openraft::error::Fatal<NodeId>>),
}

impl From<openraft::error::Fatal<NodeId>> for Error {
    fn from(fatal: openraft::error::Fatal<NodeId>) -> Error {
        Error::Fatal(Box::new(fatal))
    }
}

impl Error {
    pub(crate) fn codec(what: &'static str) -> impl FnOnce(CodecError) -> Error {
        move |source| Error::Codec { what, source }
    }
}

/// Storage errors as openraft wants them. Any of them stops the Raft core: the node must not go
/// on from a state it could not read or write.
pub(crate) fn read_logs(error: impl Into<Error>) -> StorageError {
    openraft::StorageIOError::read_logs(openraft::AnyError::new(&error.into())).into()
}

pub(crate) fn write_logs(error: impl Into<Error>) -> StorageError {
    openraft::StorageIOError::write_logs(openraft::AnyError::new(&error.into())).into()
}

pub(crate) fn read_vote(error: impl Into<Error>) -> StorageError {
    openraft::StorageIOError::read_vote(openraft::AnyError::new(&error.into())).into()
}

pub(crate) fn write_vote(error: impl Into<Error>) -> StorageError {
    openraft::StorageIOError::write_vote(openraft::AnyError::new(&error.into())).into()
}

pub(crate) fn read_state_machine(error: impl Into<Error>) -> StorageError {
    openraft::StorageIOError::read_state_machine(openraft::AnyError::new(&error.into())).into()
}

pub(crate) fn write_state_machine(error: impl Into<Error>) -> StorageError {
    openraft::StorageIOError::write_state_machine(openraft::AnyError::new(&error.into())).into()
}

pub(crate) fn write_snapshot(error: impl Into<Error>) -> StorageError {
    openraft::StorageIOError::write_snapshot(None, openraft::AnyError::new(&error.into())).into()
}

pub(crate) fn read_snapshot(error: impl Into<Error>) -> StorageError {
    openraft::StorageIOError::read_snapshot(None, openraft::AnyError::new(&error.into())).into()
}
