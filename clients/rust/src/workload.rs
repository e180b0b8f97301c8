//! A SPIFFE Workload API client (go-spiffe's `workload.proto`) for the node agent's unix socket:
//! the X.509-SVID stream and JWT-SVIDs. Our own, on tonic 0.12, because the `spiffe` crate needs a
//! newer tonic than this crate builds with.

use crate::pb::workload as pb;
use crate::Error;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tonic::transport::{Channel, Endpoint};

/// The header every Workload API call carries; the agent refuses a call without it.
const HEADER: (&str, &str) = ("workload.spiffe.io", "true");

/// A connection to a Workload API endpoint (`unix:///path` or `unix:/path`), made lazily.
#[derive(Clone)]
pub struct WorkloadApi {
    client: pb::spiffe_workload_api_client::SpiffeWorkloadApiClient<Channel>,
}

/// One X.509-SVID as the agent handed it over: chain leaf first, its PKCS#8 key, the trust bundle.
pub struct X509Svid {
    pub spiffe_id: String,
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    pub bundle: Vec<CertificateDer<'static>>,
}

impl WorkloadApi {
    pub fn connect(endpoint: &str) -> Result<WorkloadApi, Error> {
        let path = socket_path(endpoint)?;
        // The URI is required by tonic and unused: every connection goes to the socket.
        let channel = Endpoint::from_static("http://workload.api").connect_with_connector_lazy(tower::service_fn(
            move |_: http::Uri| {
                let path = path.clone();
                async move {
                    let stream = tokio::net::UnixStream::connect(path).await?;
                    Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
                }
            },
        ));
        Ok(WorkloadApi { client: pb::spiffe_workload_api_client::SpiffeWorkloadApiClient::new(channel) })
    }

    /// Opens `FetchX509SVID`: the agent sends the full state now and again on every change, and
    /// ends the stream with PermissionDenied when it has no identity for us (e.g. revoked).
    pub async fn fetch_x509_svids(&self) -> Result<tonic::Streaming<pb::X509svidResponse>, Error> {
        Ok(self.client.clone().fetch_x509svid(request(pb::X509svidRequest {})).await?.into_inner())
    }

    /// The first X.509-SVID the agent has for us now (or the one named `spiffe_id`).
    pub async fn fetch_x509_svid(&self, spiffe_id: Option<&str>) -> Result<X509Svid, Error> {
        let mut stream = self.fetch_x509_svids().await?;
        match stream.message().await? {
            Some(response) => pick(response, spiffe_id),
            None => Err(Error::Transient("the agent closed the X.509-SVID stream without an answer".into())),
        }
    }

    /// A JWT-SVID for `audience` (a Lanyard token bound to our X.509-SVID, with the scopes the
    /// grants policy gives us there). Never logged.
    pub async fn fetch_jwt_svid(&self, audience: &str, spiffe_id: Option<&str>) -> Result<String, Error> {
        let response = self
            .client
            .clone()
            .fetch_jwtsvid(request(pb::JwtsvidRequest {
                audience: vec![audience.to_owned()],
                spiffe_id: spiffe_id.unwrap_or_default().to_owned(),
            }))
            .await?
            .into_inner();
        response
            .svids
            .into_iter()
            .next()
            .map(|s| s.svid)
            .ok_or_else(|| Error::Invalid("the agent answered FetchJWTSVID with no JWT-SVID".into()))
    }
}

fn request<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(HEADER.0, tonic::metadata::MetadataValue::from_static(HEADER.1));
    request
}

/// `unix:///run/agent.sock` and `unix:/run/agent.sock` name the same socket; nothing else is served.
fn socket_path(endpoint: &str) -> Result<String, Error> {
    let path = endpoint
        .strip_prefix("unix://")
        .or_else(|| endpoint.strip_prefix("unix:"))
        .ok_or_else(|| Error::Invalid(format!("Workload API endpoint must be unix:///path, not {endpoint:?}")))?;
    if !path.starts_with('/') {
        return Err(Error::Invalid(format!(
            "Workload API endpoint must be an absolute unix:///path, not {endpoint:?}"
        )));
    }
    Ok(path.to_owned())
}

/// The SVID named `spiffe_id`, or the first (the SPIFFE default), with its DER parts split out.
pub fn pick(response: pb::X509svidResponse, spiffe_id: Option<&str>) -> Result<X509Svid, Error> {
    let svid = response
        .svids
        .into_iter()
        .find(|s| spiffe_id.is_none_or(|id| s.spiffe_id == id))
        .ok_or_else(|| Error::Permission(format!("the agent serves no X.509-SVID {}", spiffe_id.unwrap_or(""))))?;
    let chain = split_certificates(&svid.x509_svid)?;
    let bundle = split_certificates(&svid.bundle)?;
    if chain.is_empty() || bundle.is_empty() {
        return Err(Error::Invalid(format!(
            "the X.509-SVID of {} comes without a certificate or bundle",
            svid.spiffe_id
        )));
    }
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(svid.x509_svid_key));
    Ok(X509Svid { spiffe_id: svid.spiffe_id, chain, key, bundle })
}

/// The Workload API sends certificates as concatenated DER.
fn split_certificates(mut der: &[u8]) -> Result<Vec<CertificateDer<'static>>, Error> {
    let mut out = Vec::new();
    while !der.is_empty() {
        let (rest, _) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| Error::Invalid(format!("the agent sent a certificate that does not parse: {e}")))?;
        out.push(CertificateDer::from(der[..der.len() - rest.len()].to_vec()));
        der = rest;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(name: &str) -> (Vec<u8>, rcgen::KeyPair) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap().self_signed(&key).unwrap();
        (cert.der().to_vec(), key)
    }

    #[test]
    fn endpoints_are_unix_sockets() {
        assert_eq!(socket_path("unix:///tmp/a.sock").unwrap(), "/tmp/a.sock");
        assert_eq!(socket_path("unix:/tmp/a.sock").unwrap(), "/tmp/a.sock");
        assert!(socket_path("tcp://127.0.0.1:1").is_err());
        assert!(socket_path("unix:relative.sock").is_err());
    }

    #[test]
    fn the_named_or_first_svid_is_split_into_chain_key_and_bundle() {
        let (leaf, key) = der("a");
        let (ca, _) = der("ca");
        let (other, _) = der("b");
        let svid = |id: &str, cert: &[u8]| pb::X509svid {
            spiffe_id: id.into(),
            x509_svid: [cert, &ca].concat(),
            x509_svid_key: key.serialize_der(),
            bundle: ca.clone(),
            hint: String::new(),
        };
        let response = || pb::X509svidResponse {
            svids: vec![svid("spiffe://td/a", &leaf), svid("spiffe://td/b", &other)],
            ..Default::default()
        };
        let first = pick(response(), None).unwrap();
        assert_eq!(first.spiffe_id, "spiffe://td/a");
        assert_eq!(first.chain.iter().map(|c| c.to_vec()).collect::<Vec<_>>(), vec![leaf.clone(), ca.clone()]);
        assert_eq!(first.bundle[0].to_vec(), ca);
        let named = pick(response(), Some("spiffe://td/b")).unwrap();
        assert_eq!(named.chain[0].to_vec(), other);
        assert!(matches!(pick(response(), Some("spiffe://td/c")), Err(Error::Permission(_))));
        let mut torn = response();
        torn.svids[0].x509_svid.truncate(leaf.len() + 10);
        assert!(matches!(pick(torn, None), Err(Error::Invalid(_))));
    }
}
