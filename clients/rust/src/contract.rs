//! The scope contract of each RPC, read from the compiled `.proto` options — the same
//! `lanyard.v1.audience` and `lanyard.v1.required_scopes` Lanyard enforces when it mints.

use prost_reflect::{DescriptorPool, Value};
use std::collections::HashMap;

/// What one RPC requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodContract {
    pub audience: String,
    pub required_scopes: Vec<String>,
}

/// Contracts by gRPC path ("/pkg.Service/Method").
#[derive(Debug, Clone, Default)]
pub struct Contracts {
    methods: HashMap<String, MethodContract>,
}

impl Contracts {
    /// Reads every method of `services` (full names) from a FileDescriptorSet.
    pub fn from_descriptor_set(bytes: &[u8], services: &[&str]) -> Result<Contracts, String> {
        let pool = DescriptorPool::decode(bytes).map_err(|e| format!("not a descriptor set: {e}"))?;
        let audience_ext = pool
            .get_extension_by_name("lanyard.v1.audience")
            .ok_or("the descriptor set lacks lanyard/v1/options.proto")?;
        let scopes_ext = pool
            .get_extension_by_name("lanyard.v1.required_scopes")
            .ok_or("the descriptor set lacks lanyard/v1/options.proto")?;
        let mut methods = HashMap::new();
        for name in services {
            let service = pool.get_service_by_name(name).ok_or_else(|| format!("no service {name}"))?;
            let options = service.options();
            let audience = match options.has_extension(&audience_ext).then(|| options.get_extension(&audience_ext)) {
                Some(v) => v.as_str().unwrap_or_default().to_owned(),
                None => return Err(format!("service {name} declares no lanyard.v1.audience")),
            };
            for method in service.methods() {
                let options = method.options();
                let value = options.get_extension(&scopes_ext);
                let scopes = match value.as_ref() {
                    Value::List(list) => list.iter().filter_map(|v| v.as_str().map(String::from)).collect(),
                    _ => Vec::new(),
                };
                methods.insert(
                    format!("/{}/{}", service.full_name(), method.name()),
                    MethodContract { audience: audience.clone(), required_scopes: scopes },
                );
            }
        }
        Ok(Contracts { methods })
    }

    /// The contract of a gRPC path, if the method is known.
    pub fn get(&self, path: &str) -> Option<&MethodContract> {
        self.methods.get(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_example_contracts_from_the_proto_options() {
        let contracts = Contracts::from_descriptor_set(
            crate::pb::FILE_DESCRIPTOR_SET,
            &["examples.ledger.v1.LedgerService", "examples.payments.v1.PaymentsService"],
        )
        .unwrap();
        let post = contracts.get("/examples.ledger.v1.LedgerService/PostEntry").unwrap();
        assert_eq!(post.audience, "ledger");
        assert_eq!(post.required_scopes, vec!["ledger.write"]);
        let refund = contracts.get("/examples.payments.v1.PaymentsService/Refund").unwrap();
        assert_eq!(refund.audience, "payments");
        assert_eq!(refund.required_scopes, vec!["payments.refund", "payments.charge.read"]);
        assert!(contracts.get("/examples.ledger.v1.LedgerService/Nope").is_none());
    }

    #[test]
    fn a_service_without_an_audience_is_refused() {
        let err =
            Contracts::from_descriptor_set(crate::pb::FILE_DESCRIPTOR_SET, &["lanyard.v1.TokenService"]).unwrap_err();
        assert!(err.contains("declares no lanyard.v1.audience"), "{err}");
    }
}
