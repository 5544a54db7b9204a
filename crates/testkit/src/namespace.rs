//! Temporary namespaces with unique names.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};
use kube::{Client, Config, Resource};

use crate::{Error, NAMESPACE_LABEL, wait_for};

/// Set to keep temporary namespaces after the tests (for debugging).
pub const KEEP_NAMESPACES_ENV: &str = "OPENCLAW_KEEP_NAMESPACES";

const SERVICE_ACCOUNT_TIMEOUT: Duration = Duration::from_secs(60);
const DROP_CLEANUP_TIMEOUT: Duration = Duration::from_secs(15);

/// A namespace that exists for one test. Delete it with
/// [`cleanup`](Self::cleanup); if that is not called (e.g. the test panicked)
/// it is deleted on drop. Set `OPENCLAW_KEEP_NAMESPACES=1` to keep it.
pub struct TestNamespace {
    name: String,
    client: Client,
    config: Config,
    deleted: bool,
}

impl std::fmt::Debug for TestNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestNamespace")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// `<prefix>-<8 hex digits>`, a valid DNS-1123 label (at most 63 characters).
pub(crate) fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut clean: String = prefix
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    clean.truncate(40);
    let clean = clean.trim_matches('-');
    let clean = if clean.is_empty() { "test" } else { clean };

    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    let suffix = hasher.finish() & 0xffff_ffff;
    format!("{clean}-{suffix:08x}")
}

fn keep_namespaces() -> bool {
    std::env::var(KEEP_NAMESPACES_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

impl TestNamespace {
    pub(crate) async fn create(
        client: Client,
        config: Config,
        prefix: &str,
    ) -> Result<Self, Error> {
        let name = unique_name(prefix);
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some(
                    [(NAMESPACE_LABEL.0.to_owned(), NAMESPACE_LABEL.1.to_owned())]
                        .into_iter()
                        .collect(),
                ),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await?;
        let namespace = Self {
            name,
            client,
            config,
            deleted: false,
        };
        // The ServiceAccount admission plugin rejects pods until the
        // namespace's default ServiceAccount exists (created by kcm).
        wait_for(
            &namespace.api::<ServiceAccount>(),
            "default",
            |_: &ServiceAccount| true,
            SERVICE_ACCOUNT_TIMEOUT,
        )
        .await?;
        Ok(namespace)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A client for the cluster (default namespace unchanged).
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// An `Api` for namespaced resources of kind `K` in this namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }

    /// Deletes the namespace (the namespace controller then deletes its
    /// contents) without waiting for it to disappear.
    pub async fn cleanup(mut self) -> Result<(), Error> {
        self.deleted = true;
        if keep_namespaces() {
            return Ok(());
        }
        delete_namespace(self.client.clone(), &self.name).await
    }
}

async fn delete_namespace(client: Client, name: &str) -> Result<(), Error> {
    // Instances keep `openclaw.rocks/finalizer` until an operator releases it; the test's
    // controller is gone by now, so release it here or the namespace never goes away. Best
    // effort: without the CRD there is nothing to release.
    let _ = crate::go_fleet::release_finalizers(&client, name).await;
    match Api::<Namespace>::all(client)
        .delete(name, &DeleteParams::background())
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        if self.deleted || keep_namespaces() {
            return;
        }
        // Drop cannot await, and the test's runtime may be shutting down (its
        // client with it), so delete from a helper thread with its own runtime
        // and a fresh client, and wait for it a bounded time.
        let name = self.name.clone();
        let config = self.config.clone();
        let thread = format!("testkit-drop-{name}");
        let outcome = run_detached(thread, DROP_CLEANUP_TIMEOUT, move || async move {
            let client = Client::try_from(config).map_err(|e| e.to_string())?;
            delete_namespace(client, &name)
                .await
                .map_err(|e| e.to_string())
        });
        if let Err(e) = outcome {
            let _ = std::io::Write::write_fmt(
                &mut std::io::stderr(),
                format_args!("testkit: could not delete namespace {}: {e}\n", self.name),
            );
        }
    }
}

/// Run `work` on a helper thread with its own runtime and wait for it at most `timeout`: for
/// cleanups in `Drop`, which cannot await and may run while the test's runtime (and its
/// clients) shut down.
pub(crate) fn run_detached<F, Fut>(
    thread: String,
    timeout: std::time::Duration,
    work: F,
) -> Result<(), String>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new().name(thread).spawn(move || {
        let result = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
            .and_then(|rt| rt.block_on(work()));
        let _ = done_tx.send(result);
    });
    match spawned {
        Ok(_) => done_rx
            .recv_timeout(timeout)
            .unwrap_or_else(|_| Err("timed out".to_owned())),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::unique_name;

    #[test]
    fn unique_names_are_valid_and_distinct() {
        let a = unique_name("My_Test");
        let b = unique_name("My_Test");
        assert_ne!(a, b);
        assert!(a.starts_with("my-test-"), "{a}");
        let long = unique_name(&"x".repeat(100));
        assert!(long.len() <= 63, "{long}");
        assert_eq!(unique_name("--")[..5], *"test-");
        for name in [a, b, long] {
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            );
        }
    }
}
