//! MULTI/EXEC and WATCH over gRPC: `Transaction` runs stream commands as one log entry,
//! atomically on every node, only if each watched key's change stamp still reads as the
//! client saw it through `KeyVersions` (the Redis protocol's WATCH).

use rill_core::{Command, Reply, Transaction};
use rill_proto::v1 as pb;
use tonic::Status;

use super::streams::value_of;
use super::{parse_args, Service};
use crate::commands::{too_large, WATCHED_KEYS_MAX};

impl Service {
    pub(super) async fn run_transaction(
        &self,
        request: pb::TransactionRequest,
    ) -> Result<pb::TransactionResponse, Status> {
        if request.watch.len() > WATCHED_KEYS_MAX {
            return Err(too_many_watched());
        }
        // Any command that does not parse refuses the whole transaction (Redis: EXECABORT).
        let commands = request
            .commands
            .iter()
            .map(|command| parse_args(&command.args))
            .collect::<Result<Vec<_>, _>>()?;
        let bytes_max = self.shared()?.info.config.proposer.batch_bytes_max;
        let bytes: usize = commands.iter().map(Command::size_bytes).sum();
        if bytes > bytes_max {
            return Err(Status::invalid_argument(too_large(bytes_max)));
        }
        let watched = request
            .watch
            .into_iter()
            .map(|watched| (watched.key, watched.version))
            .collect();
        let transaction = Transaction { watched, commands };
        let reply = self
            .run_command(Command::Exec(Box::new(transaction)), false)
            .await?;
        match reply {
            // A watched key changed: nothing ran.
            Reply::NilArray => Ok(pb::TransactionResponse {
                aborted: true,
                replies: Vec::new(),
            }),
            Reply::Array(replies) => Ok(pb::TransactionResponse {
                aborted: false,
                replies: replies.into_iter().map(value_of).collect(),
            }),
            other => Err(Status::internal(format!("EXEC answered {other:?}"))),
        }
    }

    pub(super) async fn read_key_versions(
        &self,
        request: pb::KeyVersionsRequest,
    ) -> Result<pb::KeyVersionsResponse, Status> {
        if request.keys.len() > WATCHED_KEYS_MAX {
            return Err(too_many_watched());
        }
        let keys = request.keys;
        let reply = self
            .run_command(Command::KeyVersions { keys: keys.clone() }, false)
            .await?;
        let Reply::Array(stamps) = reply else {
            return Err(Status::internal(format!("KeyVersions answered {reply:?}")));
        };
        let keys = keys
            .into_iter()
            .zip(stamps)
            .map(|(key, stamp)| pb::WatchedKey {
                key,
                version: match stamp {
                    Reply::Int(stamp) => u64::try_from(stamp).ok(),
                    _ => None,
                },
            })
            .collect();
        Ok(pb::KeyVersionsResponse { keys })
    }
}

fn too_many_watched() -> Status {
    Status::invalid_argument(format!(
        "ERR a transaction may watch at most {WATCHED_KEYS_MAX} keys"
    ))
}
