//! The dev setup's certificates: a CA, a server certificate for `localhost`,
//! and one client certificate per service identity. ECDSA P-256 throughout.

use rcgen::string::Ia5String;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use std::net::{IpAddr, Ipv4Addr};
use time::{Duration, OffsetDateTime};

use super::DevError;
use super::layout::spiffe_id;
use crate::gateway::config::CertFingerprint;

const ORGANIZATION: &str = "verdict dev";

/// When the certificates are valid: from a day ago, for 365 days, so a clock
/// a little behind does not reject them.
#[derive(Debug, Clone, Copy)]
pub(super) struct Validity {
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

impl Validity {
    pub(super) fn from_yesterday() -> Self {
        let not_before = OffsetDateTime::now_utc().saturating_sub(Duration::days(1));
        Self {
            not_before,
            not_after: not_before.saturating_add(Duration::days(365)),
        }
    }
}

/// A certificate and its private key, both PEM.
pub(super) struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub fingerprint: CertFingerprint,
}

/// The dev CA, able to issue.
pub(super) struct DevCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    validity: Validity,
}

impl DevCa {
    /// A fresh self-signed CA that may sign end-entity certificates only.
    pub(super) fn generate(validity: Validity) -> Result<Self, DevError> {
        let failed = cert_error("CA certificate");
        let mut params = params(validity, "verdict dev CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().map_err(&failed)?;
        let issuer = CertifiedIssuer::self_signed(params, key).map_err(&failed)?;
        Ok(Self { issuer, validity })
    }

    /// The CA certificate and key.
    pub(super) fn issued(&self) -> Issued {
        Issued {
            cert_pem: self.issuer.pem(),
            key_pem: self.issuer.key().serialize_pem(),
            fingerprint: CertFingerprint::of_der(self.issuer.der()),
        }
    }

    /// A server certificate for DNS `localhost` and IP `127.0.0.1`.
    pub(super) fn server(&self) -> Result<Issued, DevError> {
        let failed = cert_error("server certificate");
        let mut params = params(self.validity, "localhost");
        params.subject_alt_names = vec![
            SanType::DnsName(Ia5String::try_from("localhost").map_err(&failed)?),
            SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(&params, &failed)
    }

    /// A client certificate for `identity`: CN `identity`, SAN URI
    /// `spiffe://verdict.local/<identity>`.
    pub(super) fn client(&self, identity: &str) -> Result<Issued, DevError> {
        let what = format!("client certificate for `{identity}`");
        let failed = cert_error(&what);
        let mut params = params(self.validity, identity);
        params.subject_alt_names = vec![SanType::URI(
            Ia5String::try_from(spiffe_id(identity)).map_err(&failed)?,
        )];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(&params, &failed)
    }

    fn sign(
        &self,
        params: &CertificateParams,
        failed: &impl Fn(rcgen::Error) -> DevError,
    ) -> Result<Issued, DevError> {
        let key = KeyPair::generate().map_err(failed)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(failed)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            fingerprint: CertFingerprint::of_der(cert.der()),
        })
    }
}

/// End-entity parameters: subject `CN=<common_name>, O=verdict dev`, the
/// validity, digital signatures only, and an authority key identifier.
fn params(validity: Validity, common_name: &str) -> CertificateParams {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name.push(DnType::OrganizationName, ORGANIZATION);
    let mut params = CertificateParams::default();
    params.distinguished_name = name;
    params.not_before = validity.not_before;
    params.not_after = validity.not_after;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    params
}

fn cert_error(what: &str) -> impl Fn(rcgen::Error) -> DevError {
    let what = what.to_owned();
    move |error| DevError::Certificate {
        what: what.clone(),
        reason: error.to_string(),
    }
}
