//! Code generated from `proto/`: the public API (`rill.v1`) and the node-to-node service
//! (`rill.raft.v1`). Nothing hand-written lives here but this file.

#![allow(clippy::all, clippy::pedantic)]

pub mod v1 {
    tonic::include_proto!("rill.v1");
}

pub mod raft {
    tonic::include_proto!("rill.raft.v1");
}

/// The encoded `FileDescriptorSet` of every file in `proto/`, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptors.bin"));
