//! Generates the gRPC stubs from the shared protos at build time, with a vendored protoc, and keeps
//! the descriptor set so the scope layer can read `lanyard.v1.required_scopes` from method options.
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = PathBuf::from("../../proto");
    std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?);
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let files = [
        "lanyard/v1/options.proto",
        "lanyard/v1/certificate.proto",
        "lanyard/v1/trust_bundle.proto",
        "lanyard/v1/token.proto",
        "lanyard/v1/revocation.proto",
        // Admin, contracts and policy: what the tests against a real server set it up with.
        "lanyard/v1/admin.proto",
        "lanyard/v1/contracts.proto",
        "lanyard/v1/policy.proto",
        "examples/ledger/v1/ledger.proto",
        "examples/payments/v1/payments.proto",
    ]
    .map(|f| protos.join(f));
    tonic_build::configure()
        .file_descriptor_set_path(out.join("lanyard_descriptor.bin"))
        .compile_protos(&files, &[protos.clone(), protoc_bin_vendored::include_path()?])?;
    // The SPIFFE Workload API (vendored from go-spiffe), client only: what the node agent serves.
    tonic_build::configure().build_server(false).compile_protos(
        &["proto/spiffe/workload/workload.proto"],
        &[PathBuf::from("proto"), protoc_bin_vendored::include_path()?],
    )?;
    println!("cargo:rerun-if-changed=../../proto");
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
