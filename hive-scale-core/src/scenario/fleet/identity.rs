//! Which hub a fleet member reaches, whatever URL reaches it: `https://127.0.0.1:6443` and
//! `https://localhost:6443` (or two contexts, two kubeconfigs) may be one hub, and a fleet
//! that ran it twice would adopt the same clones twice and tear down its own objects.

use crate::hub::Hub;
use crate::{Error, Result};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// The namespace whose uid identifies a hub: every cluster has it, and its uid is made when
/// the cluster is installed.
const IDENTITY_NAMESPACE: &str = "kube-system";

/// How long reading the server's certificate may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What tells one hub from another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "by", content = "value", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum HubIdentity {
    /// The uid of the hub's `kube-system` namespace.
    KubeSystemUid(String),
    /// The SHA-256 of the API server's TLS certificate (lowercase hex), when `kube-system`
    /// cannot be read: one hub's API server shows one certificate whatever its URL.
    CertificateSha256(String),
}

impl std::fmt::Display for HubIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HubIdentity::KubeSystemUid(uid) => write!(f, "kube-system namespace uid {uid}"),
            HubIdentity::CertificateSha256(sha) => {
                write!(f, "API server certificate SHA-256 {sha}")
            }
        }
    }
}

/// Finds out which hub `hub` is: the uid of its `kube-system` namespace (one GET), or, only
/// when that GET is forbidden or the namespace is absent, the fingerprint of its API server's
/// TLS certificate.
///
/// # Errors
///
/// When the GET fails otherwise (after the hub's retries), or the fallback cannot read a
/// certificate (a plain-HTTP server, a handshake that fails).
pub async fn identify(hub: &Hub) -> Result<HubIdentity> {
    let api = Api::<Namespace>::all(hub.client());
    let found = hub
        .call("get", "namespace kube-system", || {
            api.get_opt(IDENTITY_NAMESPACE)
        })
        .await;
    let why = match found {
        Ok(Some(ns)) => match ns.metadata.uid.filter(|u| !u.is_empty()) {
            Some(uid) => return Ok(HubIdentity::KubeSystemUid(uid)),
            None => "has no uid",
        },
        Ok(None) => "does not exist",
        Err(Error::Api { code: 403, .. }) => "may not be read",
        Err(e) => return Err(e),
    };
    tracing::debug!(
        server = hub.server(),
        "kube-system {why}; identifying the hub by its certificate"
    );
    certificate_sha256(hub.server())
        .await
        .map(HubIdentity::CertificateSha256)
        .map_err(|reason| {
            Error::Invalid(format!(
                "cannot tell which hub {} is: kube-system {why}, and {reason}",
                hub.server()
            ))
        })
}

/// The SHA-256 of the certificate the server at `server` (an API server URL) presents, as
/// lowercase hex; the error says why there is none, on one line.
async fn certificate_sha256(server: &str) -> std::result::Result<String, String> {
    let url = reqwest::Url::parse(server).map_err(|e| format!("its URL does not parse: {e}"))?;
    if url.scheme() != "https" {
        return Err("it serves no TLS certificate (plain HTTP)".into());
    }
    let host = url
        .host_str()
        .ok_or("its URL has no host")?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = url.port_or_known_default().unwrap_or(443);
    tokio::task::spawn_blocking(move || handshake(&host, port))
        .await
        .map_err(|e| format!("reading its certificate failed: {e}"))?
}

/// Connects to `host:port`, completes a TLS handshake and hashes the leaf certificate. Nothing
/// is sent after the handshake, so trusting any certificate exposes nothing.
fn handshake(host: &str, port: u16) -> std::result::Result<String, String> {
    use std::net::ToSocketAddrs as _;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| format!("{host} is not a server name: {e}"))?;
    let mut conn =
        rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| format!("TLS: {e}"))?;
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} resolves to no address"))?;
    let mut sock = std::net::TcpStream::connect_timeout(&addr, HANDSHAKE_TIMEOUT)
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let _ = sock.set_read_timeout(Some(HANDSHAKE_TIMEOUT));
    let _ = sock.set_write_timeout(Some(HANDSHAKE_TIMEOUT));
    while conn.is_handshaking() {
        conn.complete_io(&mut sock)
            .map_err(|e| format!("TLS handshake with {addr}: {e}"))?;
    }
    let leaf = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or("the server sent no certificate")?;
    Ok(sha256_hex(leaf.as_ref()))
}

/// SHA-256 through rustls' own ring provider (the hash of a TLS 1.3 suite), which saves a
/// direct dependency on a hashing crate.
fn sha256_hex(bytes: &[u8]) -> String {
    let suite = rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256
        .tls13()
        .expect("a TLS 1.3 suite");
    debug_assert_eq!(
        suite.common.hash_provider.algorithm(),
        rustls::crypto::hash::HashAlgorithm::SHA256
    );
    suite
        .common
        .hash_provider
        .hash(bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Accepts whatever certificate the server shows (it is only looked at), but still checks the
/// handshake's signatures, so the server holds that certificate's key.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_is_sha256() {
        // The SHA-256 of "abc" (FIPS 180-2's first example).
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[tokio::test]
    async fn a_server_without_tls_has_no_certificate_to_go_by() {
        let e = certificate_sha256("http://127.0.0.1:1").await.unwrap_err();
        assert!(e.contains("plain HTTP"), "{e}");
        let e = certificate_sha256("https://127.0.0.1:1").await.unwrap_err();
        assert!(e.contains("cannot connect to 127.0.0.1:1"), "{e}");
    }

    #[test]
    fn identities_say_what_they_are() {
        let id = HubIdentity::KubeSystemUid("u-1".into());
        assert_eq!(id.to_string(), "kube-system namespace uid u-1");
        assert_eq!(
            serde_json::to_value(&id).unwrap(),
            serde_json::json!({"by": "kube-system-uid", "value": "u-1"})
        );
        let id = HubIdentity::CertificateSha256("ab".into());
        assert_eq!(
            serde_json::to_value(&id).unwrap(),
            serde_json::json!({"by": "certificate-sha256", "value": "ab"})
        );
    }
}
