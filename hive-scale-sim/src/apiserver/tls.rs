//! A throwaway certificate authority and serving certificate for the loopback hub.

use crate::SimError;

/// PEM texts of the CA and the serving certificate and key.
#[derive(Clone)]
pub struct Certs {
    /// CA certificate (goes into the kubeconfig).
    pub ca_pem: String,
    /// Serving certificate, signed by the CA.
    pub cert_pem: String,
    /// Serving key.
    pub key_pem: String,
}

impl std::fmt::Debug for Certs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certs")
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// A CA plus a leaf valid for 127.0.0.1, ::1 and localhost.
pub fn generate() -> Result<Certs, SimError> {
    let tls = |e: rcgen::Error| SimError::Tls(e.into());
    let ca_key = rcgen::KeyPair::generate().map_err(tls)?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(tls)?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "hive-scale-sim CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(tls)?;
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = rcgen::KeyPair::generate().map_err(tls)?;
    let mut leaf = rcgen::CertificateParams::new(vec![
        "127.0.0.1".to_string(),
        "::1".into(),
        "localhost".into(),
    ])
    .map_err(tls)?;
    leaf.distinguished_name
        .push(rcgen::DnType::CommonName, "hive-scale-sim");
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(tls)?;
    Ok(Certs {
        ca_pem: ca_cert.pem(),
        cert_pem: leaf_cert.pem(),
        key_pem: leaf_key.serialize_pem(),
    })
}
