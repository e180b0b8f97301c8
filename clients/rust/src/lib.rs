//! Lanyard for Rust services: get an X.509-SVID at startup and keep it renewed ([`identity`]),
//! fetch certificate-bound tokens ([`token`]), verify incoming tokens ([`verify`]) against a cached
//! JWKS ([`jwks`]) and the live revocation stream ([`revocation`]), and enforce each RPC's required
//! scopes, read from the same `.proto` options Lanyard enforces when minting ([`authz`]). Or take
//! the identity from a node agent's SPIFFE Workload API instead of a join token ([`workload`]).

pub mod authz;
pub mod contract;
pub mod error;
pub mod identity;
pub mod jwks;
mod pinned;
pub mod revocation;
pub mod tls;
pub mod token;
pub mod transport;
pub mod verify;
pub mod workload;

pub use error::Error;

/// Code generated at build time from `proto/` (tonic + prost, vendored protoc).
pub mod pb {
    pub mod lanyard {
        pub mod v1 {
            tonic::include_proto!("lanyard.v1");
        }
    }
    pub mod examples {
        pub mod ledger {
            pub mod v1 {
                tonic::include_proto!("examples.ledger.v1");
            }
        }
        pub mod payments {
            pub mod v1 {
                tonic::include_proto!("examples.payments.v1");
            }
        }
    }

    /// The SPIFFE Workload API (its .proto has no package), for [`crate::workload`].
    pub mod workload {
        tonic::include_proto!("_");
    }

    /// Every compiled file, options included: the source of the scope contracts.
    pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/lanyard_descriptor.bin"));
}
