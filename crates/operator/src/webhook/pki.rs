//! The self-signed certificate authority of the webhook: generation, leaf issuance and the
//! "is this still good" check. Pure (the clock is a parameter); the cluster side is in
//! `certs`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData,
};
use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use time::OffsetDateTime;

use crate::tls::{self, TlsError};

/// Lifetime of a generated CA.
pub const CA_LIFETIME: Duration = Duration::from_secs(10 * 365 * 86400);
/// Lifetime of a serving certificate.
pub const LEAF_LIFETIME: Duration = Duration::from_secs(365 * 86400);
/// A certificate is replaced when it expires within this margin.
pub const RENEW_BEFORE: Duration = Duration::from_secs(30 * 86400);
/// Backdating of `notBefore`, for clocks that lag behind ours.
const BACKDATE: Duration = Duration::from_secs(3600);

/// Common name of the generated CA.
pub const CA_COMMON_NAME: &str = "openclaw-operator-webhook-ca";

/// Secret keys: the serving pair under the `kubernetes.io/tls` names, the CA beside it.
pub const KEY_TLS_CRT: &str = "tls.crt";
/// See [`KEY_TLS_CRT`].
pub const KEY_TLS_KEY: &str = "tls.key";
/// See [`KEY_TLS_CRT`].
pub const KEY_CA_CRT: &str = "ca.crt";
/// See [`KEY_TLS_CRT`].
pub const KEY_CA_KEY: &str = "ca.key";

/// A CA and a serving certificate signed by it, all PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct Material {
    /// The CA certificate (what goes into `caBundle`).
    pub ca_cert_pem: String,
    /// The CA private key. Never log it.
    pub ca_key_pem: String,
    /// The serving certificate.
    pub cert_pem: String,
    /// The serving private key. Never log it.
    pub key_pem: String,
}

impl fmt::Debug for Material {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Material")
            .field("ca_cert_pem", &self.ca_cert_pem)
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

/// Verdict on stored material for a set of hosts at a point in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Use as is.
    Good,
    /// The CA is fine; issue a new serving certificate (the reason says why).
    RenewLeaf(String),
    /// Start over with a new CA (the reason says why); `caBundle` changes.
    Regenerate(String),
}

fn add(t: OffsetDateTime, d: Duration) -> OffsetDateTime {
    t.checked_add(time::Duration::seconds(d.as_secs() as i64))
        .unwrap_or(t)
}

fn sub(t: OffsetDateTime, d: Duration) -> OffsetDateTime {
    t.checked_sub(time::Duration::seconds(d.as_secs() as i64))
        .unwrap_or(t)
}

/// A new CA valid from `now` for [`CA_LIFETIME`]: `(certificate PEM, key PEM)`.
pub fn new_ca(now: OffsetDateTime) -> Result<(String, String), TlsError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_COMMON_NAME);
    dn.push(DnType::OrganizationName, "openclaw-operator");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = sub(now, BACKDATE);
    params.not_after = add(now, CA_LIFETIME);
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// A serving certificate for `hosts` (DNS names or IP addresses) signed by the CA, valid from
/// `now` for `lifetime`: `(certificate PEM, key PEM)`.
pub fn issue_leaf(
    ca_cert_pem: &str,
    ca_key_pem: &str,
    hosts: &[String],
    now: OffsetDateTime,
    lifetime: Duration,
) -> Result<(String, String), TlsError> {
    let ca_key = KeyPair::from_pem(ca_key_pem)?;
    let issuer = Issuer::from_ca_cert_pem(ca_cert_pem, ca_key)?;
    let mut params = CertificateParams::new(hosts.to_vec())?;
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        hosts
            .first()
            .map_or("openclaw-operator-webhook", String::as_str),
    );
    params.distinguished_name = dn;
    params.is_ca = IsCa::NoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = sub(now, BACKDATE);
    params.not_after = add(now, lifetime);
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// A new CA and a serving certificate for `hosts`.
pub fn generate(hosts: &[String], now: OffsetDateTime) -> Result<Material, TlsError> {
    let (ca_cert_pem, ca_key_pem) = new_ca(now)?;
    let (cert_pem, key_pem) = issue_leaf(&ca_cert_pem, &ca_key_pem, hosts, now, LEAF_LIFETIME)?;
    Ok(Material {
        ca_cert_pem,
        ca_key_pem,
        cert_pem,
        key_pem,
    })
}

impl Material {
    /// The same CA with a new serving certificate.
    pub fn with_new_leaf(&self, hosts: &[String], now: OffsetDateTime) -> Result<Self, TlsError> {
        let (cert_pem, key_pem) = issue_leaf(
            &self.ca_cert_pem,
            &self.ca_key_pem,
            hosts,
            now,
            LEAF_LIFETIME,
        )?;
        Ok(Self {
            cert_pem,
            key_pem,
            ..self.clone()
        })
    }

    /// The serving pair for rustls.
    pub fn certified_key(&self) -> Result<Arc<rustls::sign::CertifiedKey>, TlsError> {
        Ok(Arc::new(tls::certified_key_from_pem(
            self.cert_pem.as_bytes(),
            self.key_pem.as_bytes(),
        )?))
    }
}

fn check_ca(m: &Material, now: OffsetDateTime) -> Result<CertificateDer<'static>, String> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(m.ca_cert_pem.as_bytes())
        .map_err(|e| format!("CA certificate is not PEM: {e}"))?;
    let cert = pem
        .parse_x509()
        .map_err(|e| format!("CA certificate cannot be parsed: {e}"))?;
    if !cert.is_ca() {
        return Err("the CA certificate is not a CA".into());
    }
    let key = KeyPair::from_pem(&m.ca_key_pem).map_err(|e| format!("CA key: {e}"))?;
    if key.subject_public_key_info() != cert.public_key().raw {
        return Err("the CA key does not belong to the CA certificate".into());
    }
    // The CA must outlive a serving certificate issued now, plus the renewal margin.
    let needed = add(now, LEAF_LIFETIME + RENEW_BEFORE).unix_timestamp();
    if cert.validity().not_after.timestamp() < needed {
        return Err("the CA expires within a serving certificate's lifetime".into());
    }
    if cert.validity().not_before.timestamp() > now.unix_timestamp() {
        return Err("the CA is not valid yet".into());
    }
    Ok(CertificateDer::from(pem.contents.clone()))
}

fn check_leaf(
    m: &Material,
    ca: CertificateDer<'static>,
    hosts: &[String],
    now: OffsetDateTime,
) -> Result<(), String> {
    let key = m.certified_key().map_err(|e| e.to_string())?;
    let leaf = key
        .end_entity_cert()
        .map_err(|e| format!("serving certificate: {e}"))?;
    let mut roots = RootCertStore::empty();
    roots
        .add(ca)
        .map_err(|e| format!("CA certificate is not a usable trust anchor: {e}"))?;
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), tls::provider())
        .build()
        .map_err(|e| e.to_string())?;
    // Checked as of the renewal deadline: still valid then, so not expiring soon.
    let then = add(now, RENEW_BEFORE).unix_timestamp().max(0) as u64;
    let at = UnixTime::since_unix_epoch(Duration::from_secs(then));
    if hosts.is_empty() {
        return Err("no hosts configured".into());
    }
    for host in hosts {
        let name = ServerName::try_from(host.as_str())
            .map_err(|e| format!("host {host:?} is not a DNS name or IP address: {e}"))?;
        verifier
            .verify_server_cert(leaf, &[], &name, &[], at)
            .map_err(|e| format!("serving certificate for {host:?}: {e}"))?;
    }
    Ok(())
}

/// Whether `m` can be served for `hosts` at `now` without renewal.
pub fn assess(m: &Material, hosts: &[String], now: OffsetDateTime) -> Health {
    let ca = match check_ca(m, now) {
        Ok(ca) => ca,
        Err(why) => return Health::Regenerate(why),
    };
    match check_leaf(m, ca, hosts, now) {
        Ok(()) => Health::Good,
        Err(why) => Health::RenewLeaf(why),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

    use super::*;
    use x509_parser::extensions::GeneralName;

    fn hosts() -> Vec<String> {
        vec![
            "webhook.ops.svc".to_string(),
            "webhook.ops.svc.cluster.local".to_string(),
            "127.0.0.1".to_string(),
        ]
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    #[test]
    fn generated_material_is_good_and_has_the_sans() {
        let m = generate(&hosts(), now()).unwrap();
        assert_eq!(assess(&m, &hosts(), now()), Health::Good);
        assert!(
            !format!("{m:?}").contains("PRIVATE KEY"),
            "Debug must not show keys"
        );

        let (_, pem) = x509_parser::pem::parse_x509_pem(m.cert_pem.as_bytes()).unwrap();
        let leaf = pem.parse_x509().unwrap();
        assert!(!leaf.is_ca());
        let san = leaf.subject_alternative_name().unwrap().unwrap();
        let names: Vec<String> = san
            .value
            .general_names
            .iter()
            .map(|n| match n {
                GeneralName::DNSName(d) => d.to_string(),
                GeneralName::IPAddress(ip) => format!("{ip:?}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            names,
            [
                "webhook.ops.svc",
                "webhook.ops.svc.cluster.local",
                "[127, 0, 0, 1]"
            ]
        );
        let days = (leaf.validity().not_after.timestamp() - now().unix_timestamp()) / 86400;
        assert!((364..=365).contains(&days), "{days}");

        let (_, ca_pem) = x509_parser::pem::parse_x509_pem(m.ca_cert_pem.as_bytes()).unwrap();
        let ca = ca_pem.parse_x509().unwrap();
        assert!(ca.is_ca());
        assert_eq!(leaf.issuer(), ca.subject());
        // The CA's signature on the leaf verifies.
        leaf.verify_signature(Some(ca.public_key())).unwrap();
    }

    #[test]
    fn other_hosts_or_expiry_need_a_new_leaf_with_the_same_ca() {
        let m = generate(&hosts(), now()).unwrap();
        let more = [hosts(), vec!["other.example".to_string()]].concat();
        assert!(matches!(assess(&m, &more, now()), Health::RenewLeaf(_)));

        // 340 days later the leaf expires within the margin.
        let later = add(now(), Duration::from_secs(340 * 86400));
        let Health::RenewLeaf(why) = assess(&m, &hosts(), later) else {
            panic!("expected a renewal");
        };
        assert!(why.contains("expired"), "{why}");
        let renewed = m.with_new_leaf(&hosts(), later).unwrap();
        assert_eq!(renewed.ca_cert_pem, m.ca_cert_pem, "the CA is kept");
        assert_ne!(renewed.cert_pem, m.cert_pem);
        assert_eq!(assess(&renewed, &hosts(), later), Health::Good);
    }

    #[test]
    fn an_expiring_or_broken_ca_means_starting_over() {
        let m = generate(&hosts(), now()).unwrap();
        let late = add(now(), Duration::from_secs(9 * 365 * 86400 + 200 * 86400));
        assert!(matches!(assess(&m, &hosts(), late), Health::Regenerate(_)));

        let other = generate(&hosts(), now()).unwrap();
        let wrong_key = Material {
            ca_key_pem: other.ca_key_pem.clone(),
            ..m.clone()
        };
        assert!(matches!(
            assess(&wrong_key, &hosts(), now()),
            Health::Regenerate(_)
        ));
        let garbage = Material {
            ca_cert_pem: "junk".into(),
            ..m.clone()
        };
        assert!(matches!(
            assess(&garbage, &hosts(), now()),
            Health::Regenerate(_)
        ));

        // A leaf from another CA is replaced, keeping this CA.
        let foreign_leaf = Material {
            cert_pem: other.cert_pem.clone(),
            key_pem: other.key_pem.clone(),
            ..m.clone()
        };
        assert!(matches!(
            assess(&foreign_leaf, &hosts(), now()),
            Health::RenewLeaf(_)
        ));
        // So is a leaf whose key does not match.
        let bad_key = Material {
            key_pem: other.key_pem,
            ..m
        };
        assert!(matches!(
            assess(&bad_key, &hosts(), now()),
            Health::RenewLeaf(_)
        ));
    }
}
