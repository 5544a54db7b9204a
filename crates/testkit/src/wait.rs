//! Waiting for objects to reach a state, with timeouts and useful errors.

use std::fmt::Debug;
use std::pin::pin;
use std::time::Duration;

use futures::TryStreamExt as _;
use kube::runtime::wait::Condition;
use kube::runtime::watcher;
use kube::{Api, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;

/// Longest object description put into a timeout error.
const MAX_DESCRIPTION: usize = 4000;

/// Waits until the object `name` exists and `predicate` holds for it, and
/// returns the object. Watches the object (no polling). Fails with
/// [`Error::Timeout`] (including the last state seen) after `timeout`.
///
/// ```no_run
/// # async fn t(api: kube::Api<k8s_openapi::api::apps::v1::StatefulSet>) -> Result<(), testkit::Error> {
/// use std::time::Duration;
/// let sts = testkit::wait_for(&api, "web", |s: &k8s_openapi::api::apps::v1::StatefulSet| {
///     s.status.as_ref().and_then(|st| st.ready_replicas) == Some(1)
/// }, Duration::from_secs(60)).await?;
/// # Ok(()) }
/// ```
pub async fn wait_for<K, F>(
    api: &Api<K>,
    name: &str,
    predicate: F,
    timeout: Duration,
) -> Result<K, Error>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug + Send + 'static,
    F: Fn(&K) -> bool,
{
    let what = format!("{} {name} to match the predicate", kind_of(api));
    let found = watch_until(
        api,
        name,
        |obj: Option<&K>| obj.is_some_and(&predicate),
        timeout,
        what,
    )
    .await?;
    // The condition only matches Some(_), so this is always the object.
    found.ok_or_else(|| Error::Timeout {
        what: format!("{} {name}", kind_of(api)),
        timeout,
        last: "nothing".to_owned(),
    })
}

/// Like [`wait_for`], for any `kube::runtime::wait::Condition`, e.g. those in
/// `kube::runtime::conditions` (`is_job_completed()`, `is_crd_established()`,
/// ...). Returns the object, or `None` if the condition matched its absence.
pub async fn wait_for_condition<K, C>(
    api: &Api<K>,
    name: &str,
    condition: C,
    timeout: Duration,
) -> Result<Option<K>, Error>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug + Send + 'static,
    C: Condition<K>,
{
    let what = format!("{} {name} to meet the condition", kind_of(api));
    watch_until(
        api,
        name,
        |obj: Option<&K>| condition.matches_object(obj),
        timeout,
        what,
    )
    .await
}

/// Waits until the object `name` does not exist (returns at once if it never did).
pub async fn wait_for_deletion<K>(api: &Api<K>, name: &str, timeout: Duration) -> Result<(), Error>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug + Send + 'static,
{
    let what = format!("{} {name} to be deleted", kind_of(api));
    watch_until(api, name, |obj: Option<&K>| obj.is_none(), timeout, what)
        .await
        .map(|_| ())
}

fn kind_of<K: Resource>(api: &Api<K>) -> String {
    let path = api.resource_url();
    path.rsplit('/').next().unwrap_or(path).to_owned()
}

async fn watch_until<K, F>(
    api: &Api<K>,
    name: &str,
    matches: F,
    timeout: Duration,
    what: String,
) -> Result<Option<K>, Error>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug + Send + 'static,
    F: Fn(Option<&K>) -> bool,
{
    let deadline = tokio::time::Instant::now() + timeout;
    let mut stream = pin!(watcher::watch_object(api.clone(), name));
    // None: no event yet; Some(None): absent; Some(Some(obj)): last state.
    let mut last: Option<Option<K>> = None;
    let mut last_error: Option<String> = None;
    loop {
        match tokio::time::timeout_at(deadline, stream.try_next()).await {
            Err(_elapsed) => {
                let mut described = describe(last.as_ref());
                if let Some(e) = last_error {
                    described.push_str(&format!(" (last watch error: {e})"));
                }
                return Err(Error::Timeout {
                    what,
                    timeout,
                    last: described,
                });
            }
            Ok(Ok(Some(obj))) => {
                if matches(obj.as_ref()) {
                    return Ok(obj);
                }
                last = Some(obj);
            }
            Ok(Ok(None)) => {
                // The watcher stream never ends on its own; restart it if it does.
                stream.set(watcher::watch_object(api.clone(), name));
            }
            Ok(Err(e)) => {
                // Watch errors (e.g. a dropped connection) are retried by
                // polling the watcher again; back off a little first.
                last_error = Some(e.to_string());
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
}

/// The object as JSON without managedFields, shortened to a readable size.
fn describe<K: Serialize>(last: Option<&Option<K>>) -> String {
    let obj = match last {
        None => return "no event received".to_owned(),
        Some(None) => return "object does not exist".to_owned(),
        Some(Some(obj)) => obj,
    };
    let mut value = match serde_json::to_value(obj) {
        Ok(v) => v,
        Err(e) => return format!("<unserializable: {e}>"),
    };
    if let Some(meta) = value.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        meta.remove("managedFields");
    }
    let mut text = value.to_string();
    if text.len() > MAX_DESCRIPTION {
        let mut cut = MAX_DESCRIPTION;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("...");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::describe;
    use k8s_openapi::api::core::v1::ConfigMap;

    #[test]
    fn describe_drops_managed_fields_and_truncates() {
        let cm: ConfigMap = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "x", "managedFields": [{"manager": "m"}]},
            "data": {"k": "v".repeat(10_000)}
        }))
        .expect("valid configmap");
        let text = describe(Some(&Some(cm)));
        assert!(!text.contains("managedFields"));
        assert!(text.ends_with("..."));
        assert!(text.len() <= super::MAX_DESCRIPTION + 3);
        assert_eq!(describe::<ConfigMap>(Some(&None)), "object does not exist");
        assert_eq!(describe::<ConfigMap>(None), "no event received");
    }
}
