//! The operator's own HTTP endpoints: health probes and Prometheus metrics.
//!
//! - Health (`--health-probe-bind-address`, plain HTTP): `/livez` and `/healthz` answer while
//!   the process runs; `/readyz` answers 200 once every cache has finished its first list (and
//!   the webhook server, when enabled, serves), 503 before, naming what it waits for. The body
//!   says whether this replica leads or stands by: both replicas are ready (both serve the
//!   webhooks), only the leader writes.
//! - Metrics (`--metrics-bind-address`): `/metrics` in the OpenMetrics text format. With
//!   `--metrics-secure`, HTTPS, and each request must carry a bearer token that a TokenReview
//!   authenticates and a SubjectAccessReview allows to `get` the non-resource URL `/metrics`
//!   (decisions are cached for a minute). The RBAC for both reviews is part of the operator's
//!   role (the Go operator shipped the same mode without it, so every scrape failed).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::controller::Readiness;
use crate::metrics::Metrics;

/// Parses a bind address as controller-runtime flags take it: `:8080` (all interfaces),
/// `host:port`, or `0` (disabled, `None`).
pub fn parse_bind(value: &str) -> Result<Option<SocketAddr>, String> {
    let value = value.trim();
    if value.is_empty() || value == "0" {
        return Ok(None);
    }
    let full = if let Some(port) = value.strip_prefix(':') {
        format!("0.0.0.0:{port}")
    } else {
        value.to_string()
    };
    full.parse::<SocketAddr>()
        .map(Some)
        .map_err(|e| format!("invalid bind address {value:?}: {e}"))
}

#[derive(Clone)]
struct HealthState {
    readiness: Readiness,
    leader: watch::Receiver<bool>,
    leader_election: bool,
}

/// The health router (`/livez`, `/healthz`, `/readyz`).
pub fn health_router(
    readiness: Readiness,
    leader: watch::Receiver<bool>,
    leader_election: bool,
) -> Router {
    Router::new()
        .route("/livez", get(|| async { "ok\n" }))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(HealthState {
            readiness,
            leader,
            leader_election,
        })
}

async fn readyz(State(s): State<HealthState>) -> Response {
    let role = match (s.leader_election, *s.leader.borrow()) {
        (false, _) => "single replica (leader election off)",
        (true, true) => "leader",
        (true, false) => "standby",
    };
    if s.readiness.ready() {
        (StatusCode::OK, format!("ok\nrole: {role}\n")).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "not ready: waiting for {}\nrole: {role}\n",
                s.readiness.pending().join(", ")
            ),
        )
            .into_response()
    }
}

/// Review decisions by token digest: allowed, and when decided.
type DecisionCache = Arc<Mutex<HashMap<[u8; 32], (bool, Instant)>>>;

/// Who may scrape `/metrics` in secure mode.
#[derive(Clone)]
pub struct MetricsAuth {
    client: kube::Client,
    cache: DecisionCache,
}

impl MetricsAuth {
    /// Reviews tokens with this client.
    pub fn new(client: kube::Client) -> Self {
        Self {
            client,
            cache: Arc::default(),
        }
    }

    /// `Ok` when the bearer token may `get /metrics`.
    async fn check(&self, headers: &HeaderMap) -> Result<(), StatusCode> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(StatusCode::UNAUTHORIZED)?;
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some((allowed, at)) = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&digest)
            .copied()
        {
            let ttl = if allowed { 60 } else { 10 };
            if at.elapsed() < Duration::from_secs(ttl) {
                return if allowed {
                    Ok(())
                } else {
                    Err(StatusCode::FORBIDDEN)
                };
            }
        }
        let decision = self.review(token).await?;
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() > 1024 {
            cache.clear();
        }
        cache.insert(digest, (decision, Instant::now()));
        if decision {
            Ok(())
        } else {
            Err(StatusCode::FORBIDDEN)
        }
    }

    async fn review(&self, token: &str) -> Result<bool, StatusCode> {
        let reviews: Api<TokenReview> = Api::all(self.client.clone());
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: Some(token.to_string()),
                ..Default::default()
            },
            ..Default::default()
        };
        let reviewed = reviews
            .create(&PostParams::default(), &review)
            .await
            .map_err(|e| {
                tracing::warn!("metrics: TokenReview failed: {e}");
                StatusCode::INTERNAL_SERVER_ERROR
            })?;
        let status = reviewed.status.unwrap_or_default();
        if status.authenticated != Some(true) {
            return Err(StatusCode::UNAUTHORIZED);
        }
        let user = status.user.unwrap_or_default();
        let access: Api<SubjectAccessReview> = Api::all(self.client.clone());
        let sar = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: user.username.clone(),
                groups: user.groups,
                uid: user.uid,
                extra: user.extra,
                non_resource_attributes: Some(NonResourceAttributes {
                    path: Some("/metrics".into()),
                    verb: Some("get".into()),
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let decided = access
            .create(&PostParams::default(), &sar)
            .await
            .map_err(|e| {
                tracing::warn!("metrics: SubjectAccessReview failed: {e}");
                StatusCode::INTERNAL_SERVER_ERROR
            })?;
        let allowed = decided.status.is_some_and(|s| s.allowed);
        if !allowed {
            tracing::debug!(
                user = user.username.as_deref().unwrap_or(""),
                "metrics: scrape denied"
            );
        }
        Ok(allowed)
    }
}

#[derive(Clone)]
struct MetricsState {
    metrics: Arc<Metrics>,
    auth: Option<MetricsAuth>,
}

/// The metrics router (`/metrics`); with `auth`, every request is reviewed.
pub fn metrics_router(metrics: Arc<Metrics>, auth: Option<MetricsAuth>) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(MetricsState { metrics, auth })
}

async fn scrape(State(s): State<MetricsState>, headers: HeaderMap) -> Response {
    if let Some(auth) = &s.auth
        && let Err(code) = auth.check(&headers).await
    {
        return (code, format!("{}\n", code.canonical_reason().unwrap_or(""))).into_response();
    }
    match s.metrics.encode() {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Serves `router` over plain HTTP until `shutdown` resolves.
pub async fn serve_plain(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn bind_addresses() {
        assert_eq!(parse_bind("0").unwrap(), None);
        assert_eq!(parse_bind("").unwrap(), None);
        assert_eq!(
            parse_bind(":8080").unwrap(),
            Some("0.0.0.0:8080".parse().unwrap())
        );
        assert_eq!(
            parse_bind("127.0.0.1:9").unwrap(),
            Some("127.0.0.1:9".parse().unwrap())
        );
        assert!(parse_bind("nope").is_err());
    }
}
