//! The managed kinds, from the one table in `openclaw_render::managed_kinds!`.
//!
//! Everything the operator does per managed kind is generated here from that table, so the
//! compiler holds the list of kinds in one place:
//!
//! - [`Stores`]: one cache per kind (the field named in the table), plus the instances and the
//!   cluster defaults;
//! - [`watch_owned`]: the label-selected watch that fills each cache, and its change feed in
//!   [`OwnedChanges`] (which [`OwnedChanges::owned_by`] hands to a `Controller`);
//! - [`ensure_object`]: the write of one rendered object, an exhaustive `match` over
//!   [`Object`] (a new variant without an arm does not compile);
//! - [`prune_owned`]: the deletion of owned objects no longer rendered, for every kind, with the
//!   table's prune rule (`always`, or `component("x")`: only objects labelled
//!   `app.kubernetes.io/component=x`);
//! - [`MANAGED_RESOURCES`]: the `(api group, resource)` pairs `crate::rbac` grants.
//!
//! # Adding a managed kind
//!
//! One line in `managed_kinds!` (`crates/render/src/lib.rs`), e.g. for a Job:
//!
//! ```text
//! Job(jobs): ::k8s_openapi::api::batch::v1::Job, "batch", "jobs", always;
//! ```
//!
//! That adds `Object::Job`, `Stores::jobs`, its watch and change feed, its apply and prune, and
//! the RBAC rule (regenerate the packaged RBAC with
//! `UPDATE_RBAC=1 cargo test -p openclaw-operator --test rbac`). What is left is the render
//! code that produces `Object::Job(...)`: a renderer that forgets nothing else can forget.

use std::collections::BTreeMap;

use futures::StreamExt;
use futures::future::BoxFuture;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DynamicObject};
use kube::runtime::controller::Controller;
use kube::runtime::reflector::Store;
use kube::{Client, Resource, ResourceExt};
use openclaw_api::OpenClawInstance;
use openclaw_api::clusterdefaults::OpenClawClusterDefaults;
use openclaw_render::consts::COMPONENT_LABEL;
use openclaw_render::{Object, WriteMode};

use super::Context;
use super::apply::{ApplyError, ensure, ensure_custom, prune};
use super::custom::api_resource;
use super::runtime::{Change, Fanout, Readiness, Scope, drive, owned};

/// Names kept per kind ([`Object::kind`] → object names) by one pass of apply: the objects
/// [`prune_owned`] leaves alone.
pub type Keep = BTreeMap<&'static str, Vec<String>>;

/// The table's prune rule of a kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Prune {
    /// Objects no longer rendered are deleted.
    Always,
    /// Only those labelled `app.kubernetes.io/component=<c>` (PVCs hold user data).
    Component(&'static str),
    /// Never: a lifecycle workflow creates and removes them (the backup and restore Jobs).
    Never,
}

/// Whether pruning may delete `obj`, under the table's rule.
fn prunable<K: Resource>(obj: &K, rule: Prune) -> bool {
    match rule {
        Prune::Always => true,
        Prune::Component(c) => obj.labels().get(COMPONENT_LABEL).map(String::as_str) == Some(c),
        Prune::Never => false,
    }
}

/// The table's prune token as a [`Prune`].
macro_rules! prune_rule {
    (always) => {
        Prune::Always
    };
    (never) => {
        Prune::Never
    };
    (component($component:literal)) => {
        Prune::Component($component)
    };
}

macro_rules! operator_kinds {
    ($($variant:ident($store:ident): $ty:ty, $group:literal, $plural:literal, $prune:ident $(($component:literal))?;)*) => {
        /// The caches: one per managed kind (label-selected, managedFields stripped), the
        /// instances in the scope and the cluster defaults.
        #[derive(Clone)]
        pub struct Stores {
            $(
                #[doc = concat!("Managed `", stringify!($variant), "` objects.")]
                pub $store: Store<$ty>,
            )*
            /// Every OpenClawClusterDefaults (the operator reads the one named `cluster`).
            pub cluster_defaults: Store<OpenClawClusterDefaults>,
            /// Every OpenClawInstance in the scope (those that parse).
            pub instances: Store<OpenClawInstance>,
        }

        /// The caches of the managed kinds, before the runtime adds its own.
        pub struct OwnedStores {
            $($store: Store<$ty>,)*
        }

        impl OwnedStores {
            /// The full [`Stores`].
            pub fn with(
                self,
                cluster_defaults: Store<OpenClawClusterDefaults>,
                instances: Store<OpenClawInstance>,
            ) -> Stores {
                Stores {
                    $($store: self.$store,)*
                    cluster_defaults,
                    instances,
                }
            }
        }

        /// The change feed of every managed kind.
        #[derive(Clone, Default)]
        pub struct OwnedChanges {
            $(
                #[doc = concat!("Changes of managed `", stringify!($variant), "` objects.")]
                pub $store: Fanout<Change<$ty>>,
            )*
        }

        impl OwnedChanges {
            /// `controller` with every managed kind as owned: a change (deletions included, so
            /// a deleted child is re-created at once) of an object with a controller reference
            /// to an instance triggers that instance. `on_change` sees each object first (for
            /// metrics).
            pub fn owned_by(
                &self,
                controller: Controller<OpenClawInstance>,
                on_change: impl Fn(&ObjectMeta) + Clone + Send + Sync + 'static,
            ) -> Controller<OpenClawInstance> {
                let mut controller = controller;
                $(
                    let on = on_change.clone();
                    controller = controller.owns_stream(self.$store.subscribe().map(
                        move |change: Change<$ty>| {
                            let o = change.into_object();
                            on(o.meta());
                            Ok(o)
                        },
                    ));
                )*
                controller
            }
        }

        /// Start the watch of every managed kind: the caches, their change feeds, and the
        /// tasks that drive them.
        pub fn watch_owned(
            client: &Client,
            scope: &Scope,
            readiness: &Readiness,
        ) -> (OwnedStores, OwnedChanges, Vec<BoxFuture<'static, ()>>) {
            let changes = OwnedChanges::default();
            let mut drivers = Vec::new();
            $(
                let ($store, events) = owned::<$ty>(client, scope, readiness);
                drivers.push(drive(
                    events,
                    changes.$store.clone(),
                    stringify!($variant).to_string(),
                ));
            )*
            (OwnedStores { $($store,)* }, changes, drivers)
        }

        /// Make sure the cluster holds `object` in `ns` (server-side apply when it differs,
        /// or create-only); returns its name. An object of an optional kind is written
        /// whatever its availability: check that first.
        pub async fn ensure_object(
            ctx: &Context,
            ns: &str,
            object: &Object,
            mode: WriteMode,
        ) -> Result<String, ApplyError> {
            match object {
                $(
                    Object::$variant(o) => {
                        let api: Api<$ty> = Api::namespaced(ctx.client.clone(), ns);
                        ensure(&api, &ctx.stores.$store, o, mode).await?;
                        Ok(o.name_any())
                    }
                )*
                Object::Custom(o) => {
                    let name = o.metadata.name.clone().unwrap_or_default();
                    let api: Api<DynamicObject> =
                        Api::namespaced_with(ctx.client.clone(), ns, &api_resource(o.kind));
                    let live = ctx.custom.get(o.kind, ns, &name);
                    let body = o.to_value().map_err(|e| ApplyError::Json(name.clone(), e))?;
                    ensure_custom(&api, live.as_deref(), body).await?;
                    Ok(name)
                }
            }
        }

        /// Delete the objects of every managed kind that the instance with `owner_uid`
        /// controls but that `keep` does not name (nor the table's prune rule protects).
        /// Returns the number of deletions sent.
        pub async fn prune_owned(
            client: &Client,
            stores: &Stores,
            owner_uid: &str,
            keep: &Keep,
        ) -> Result<usize, ApplyError> {
            let mut deleted = 0;
            $(
                deleted += {
                    let c = client.clone();
                    let keep = keep.get(stringify!($variant)).map(Vec::as_slice).unwrap_or_default();
                    prune(
                        move |ns: &str| Api::<$ty>::namespaced(c.clone(), ns),
                        &stores.$store,
                        owner_uid,
                        keep,
                        |o: &$ty| prunable(o, prune_rule!($prune $(($component))?)),
                    )
                    .await?
                };
            )*
            Ok(deleted)
        }

        /// `(api group, resource)` of every managed kind, in table order.
        pub const MANAGED_RESOURCES: &[(&str, &str)] = &[$(($group, $plural),)*];

        /// `(table group, table plural, the type's group, the type's plural)` per kind.
        #[cfg(test)]
        fn table_and_types() -> Vec<(&'static str, &'static str, String, String)> {
            vec![$((
                $group,
                $plural,
                <$ty as Resource>::group(&()).to_string(),
                <$ty as Resource>::plural(&()).to_string(),
            ),)*]
        }
    };
}

openclaw_render::managed_kinds!(operator_kinds);

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;

    #[test]
    fn table_names_match_the_types() {
        for (group, plural, type_group, type_plural) in table_and_types() {
            assert_eq!((group, plural), (type_group.as_str(), type_plural.as_str()));
        }
        assert_eq!(MANAGED_RESOURCES.len(), table_and_types().len());
    }

    #[test]
    fn prune_rules() {
        let mut pvc = PersistentVolumeClaim::default();
        assert!(prunable(&pvc, Prune::Always));
        assert!(!prunable(&pvc, Prune::Component("chromium")));
        pvc.labels_mut()
            .insert(COMPONENT_LABEL.into(), "chromium".into());
        assert!(prunable(&pvc, Prune::Component("chromium")));
        assert!(!prunable(&pvc, Prune::Component("other")));
        assert!(!prunable(&pvc, Prune::Never));
    }
}
