//! PLACEHOLDER: replaced by the registry branch (same public API).
#![allow(missing_docs, dead_code, clippy::unused_async)]
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Error(String);
impl Error {
    pub fn retry_after(&self) -> Option<Duration> {
        None
    }
}
#[derive(Clone)]
pub struct Resolver;
pub struct Request<'a> {
    pub repository: &'a str,
    pub credentials: Option<Credentials>,
    pub ca_bundle: Option<&'a [u8]>,
    pub constraint: Option<&'a str>,
}
#[derive(Clone)]
pub struct Credentials {
    pub secret: String,
    pub kind: CredentialKind,
}
#[derive(Clone)]
pub enum CredentialKind {
    Basic { username: String, password: String },
    Bearer(String),
}
pub struct Latest {
    pub tag: String,
    pub from_cache: bool,
}
impl Resolver {
    pub fn new(_ttl: Duration) -> Result<Resolver, Error> {
        Ok(Resolver)
    }
    pub async fn latest(&self, _req: &Request<'_>) -> Result<Latest, Error> {
        Err(Error("x".into()))
    }
    pub async fn tag_exists(&self, _req: &Request<'_>, _tag: &str) -> Result<bool, Error> {
        Ok(true)
    }
    pub fn requests(&self) -> u64 {
        0
    }
}
pub fn credentials_for(
    _secrets: &[k8s_openapi::api::core::v1::Secret],
    _repository: &str,
) -> Result<Option<Credentials>, Error> {
    Ok(None)
}
pub fn newer(candidate: &str, current: &str) -> Option<bool> {
    let p = |s: &str| -> Option<Vec<u64>> {
        s.trim_start_matches('v')
            .split('.')
            .map(|x| x.parse().ok())
            .collect()
    };
    Some(p(candidate)? > p(current)?)
}
