//! Compiles `proto/` with protox (a Rust protobuf compiler: no `protoc` on the machine), then
//! generates the tonic code from the descriptors. The encoded descriptor set is kept for gRPC
//! server reflection.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = ["rill/v1/rill.proto", "rill/raft/v1/raft.proto"];
    let descriptors = protox::compile(files, [&root])?;
    for file in files {
        println!("cargo:rerun-if-changed={}", root.join(file).display());
    }
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let encoded = prost::Message::encode_to_vec(&descriptors);
    std::fs::write(out.join("descriptors.bin"), encoded)?;
    tonic_prost_build::configure().compile_fds(descriptors)?;
    Ok(())
}
