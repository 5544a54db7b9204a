//! Step **lifecycle**, updates: the I/O half of auto-updates and image changes. It observes
//! what the pure plan (`super::update_plan`) needs in this pass (the registry only when a
//! check is due, the pods only while the workload is held, the Jobs from the cache), asks the
//! plan, and carries out its actions: the pre-update backup and the rollback restore through
//! the backup Job driver, the migration Job, the `spec.image.tag` patch. Each action is
//! idempotent, so a pass interrupted anywhere is repeated safely by the next one.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::ObjectRef;
use openclaw_api::{AutoUpdateStatus, OpenClawInstance};
use openclaw_render::features::backup::{self as render_backup, JobKind};
use openclaw_render::model::Model;
use openclaw_render::{Object, WriteMode};

use super::backup::{self, Credentials, Driven, MAX_ATTEMPTS};
use super::update_plan::{self, Act, Check, JobState, Observed, Plan};
use super::{Context, Error};

/// How long a registry answer is reused (shared by every instance of a repository).
pub const REGISTRY_TTL: Duration = Duration::from_secs(300);

/// Run the update workflow of one pass; the plan goes to the report, its hold and pin to the
/// lifecycle decision.
pub async fn lifecycle_step(
    instance: &OpenClawInstance,
    merged: &OpenClawInstance,
    ctx: &Context,
    missing_claim: Option<&str>,
    render_observed: &openclaw_render::Observed,
    now: &Time,
) -> Result<Plan, Error> {
    let status = instance
        .status
        .as_ref()
        .and_then(|s| s.auto_update.as_ref());
    let spec = &merged.spec;
    let name = instance.name_any();
    let ns = instance.namespace().unwrap_or_default();
    let Ok(model) = Model::new(merged, render_observed) else {
        return Ok(Plan::default());
    };
    let claim =
        openclaw_render::simple::backup_claim(&model).filter(|c| missing_claim != Some(c.as_str()));
    let creds = Credentials::read(
        ctx.backup_credentials.as_ref(),
        ctx.backup.credentials_namespace.as_deref(),
    );
    let sts = ctx
        .stores
        .stateful_sets
        .get(&ObjectRef::new(&name).within(&ns));
    let running_image = sts
        .as_ref()
        .and_then(|s| s.spec.as_ref())
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.containers.first())
        .and_then(|c| c.image.clone());
    let desired_image =
        openclaw_render::image::with_registry(&model.main_image(), model.registry());
    let mut observed = Observed {
        running_image: running_image.clone(),
        desired_image: desired_image.clone(),
        data_volume: claim.is_some(),
        s3: creds.ready().is_some(),
        s3_problem: creds.problem(),
        suspended: spec.suspended == Some(true),
        ..Observed::default()
    };
    let pending = status
        .and_then(|a| a.pending_version.clone())
        .filter(|p| !p.is_empty());
    observed.healthy = pending.as_deref().is_some_and(|p| {
        sts.as_deref()
            .is_some_and(|s| healthy(s, &update_plan::with_tag(&desired_image, p)))
    });

    let settings = update_plan::Settings::of(spec);
    if update_plan::wants_check(spec, status, now) {
        observed.check = Some(
            match registry_request(ctx, merged, &settings.repository).await {
                Err(why) => Check::Failed(why),
                Ok((resolver, request)) => match resolver
                    .latest(&request.as_request(&settings.repository))
                    .await
                {
                    Ok(latest) => Check::Latest(latest.tag),
                    Err(e) => Check::Failed(e.to_string()),
                },
            },
        );
    }
    if let Some(tag) = update_plan::wants_tag_check(status) {
        observed.tag_exists = Some(
            match registry_request(ctx, merged, &settings.repository).await {
                Err(why) => Err(why),
                Ok((resolver, request)) => resolver
                    .tag_exists(&request.as_request(&settings.repository), &tag)
                    .await
                    .map_err(|e| e.to_string()),
            },
        );
    }
    if update_plan::wants_pods(status) {
        observed.pods_left = Some(backup::pods_left(ctx, instance).await?);
    }
    let (want_backup, want_migration, want_restore) = update_plan::wants_jobs(status);
    let uid = instance.uid().unwrap_or_default();
    if let Some(p) = pending.as_deref() {
        let jobs = backup::jobs_of(&ctx.stores.jobs, &ns, &uid);
        if want_backup {
            observed.backup = Some(JobState::of(
                &backup::progress(&jobs, JobKind::PreUpdate, p),
                MAX_ATTEMPTS,
            ));
        }
        if want_restore {
            observed.restore = Some(JobState::of(
                &backup::progress(&jobs, JobKind::Rollback, p),
                MAX_ATTEMPTS,
            ));
        }
        if want_migration {
            observed.migration = Some(migration_state(ctx, &ns, &name, p));
        }
    }

    let mut plan = update_plan::plan(spec, status, &observed, now);
    for act in plan.acts.clone() {
        match act {
            Act::PatchTag(tag) => patch_tag(ctx, instance, &tag).await?,
            Act::Backup | Act::Restore(_) => {
                let (Some(p), Some(claim), Some(c)) = (pending.as_deref(), &claim, creds.ready())
                else {
                    continue;
                };
                let (kind, path) = match &act {
                    Act::Restore(path) => (JobKind::Rollback, path.clone()),
                    _ => {
                        let tenant = render_backup::tenant(instance.metadata.labels.as_ref(), &ns);
                        (
                            JobKind::PreUpdate,
                            JobKind::PreUpdate.new_path(&tenant, &name, now.0),
                        )
                    }
                };
                let driven = backup::drive(
                    ctx,
                    instance,
                    &model,
                    c,
                    claim,
                    kind,
                    p,
                    &path,
                    Some(MAX_ATTEMPTS),
                )
                .await?;
                if let Driven::Started { job, path, attempt } = driven {
                    let (reason, what) = match kind {
                        JobKind::Rollback => ("RollbackRestoreStarted", "Restoring"),
                        _ => ("PreUpdateBackupStarted", "Backing up to"),
                    };
                    plan.events.push((
                        false,
                        reason,
                        format!("{what} {path} (Job {job}, attempt {attempt})"),
                    ));
                }
            }
            Act::Migrate(image) => {
                let Some(p) = pending.as_deref() else {
                    continue;
                };
                let job_name = openclaw_render::migration::migration_job_name(&name, p);
                match openclaw_render::migration::migration_job(&model, &image, &job_name) {
                    Ok(job) => {
                        super::kinds::ensure_object(
                            ctx,
                            &ns,
                            &Object::Job(job),
                            WriteMode::CreateOnly,
                        )
                        .await?;
                    }
                    Err(e) => plan.events.push((
                        true,
                        "MigrationFailed",
                        format!("The migration Job cannot be rendered: {e}"),
                    )),
                }
            }
        }
    }
    Ok(plan)
}

/// The StatefulSet runs `image` and has rolled out: its controller saw the latest template, no
/// revision is left behind, and a pod is Ready on the new revision.
fn healthy(sts: &k8s_openapi::api::apps::v1::StatefulSet, image: &str) -> bool {
    let template_image = sts
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.containers.first())
        .and_then(|c| c.image.as_deref());
    let Some(status) = sts.status.as_ref() else {
        return false;
    };
    let generation = sts.metadata.generation.unwrap_or(0);
    template_image.is_some_and(|t| update_plan::image_tag(t) == update_plan::image_tag(image))
        && status.observed_generation.unwrap_or(0) >= generation
        && status.update_revision.is_some()
        && status.update_revision == status.current_revision
        && status.updated_replicas.unwrap_or(0) >= 1
        && status.ready_replicas.unwrap_or(0) >= 1
}

/// The migration Job of `version`, from the cache.
fn migration_state(ctx: &Context, ns: &str, name: &str, version: &str) -> JobState {
    let job_name = openclaw_render::migration::migration_job_name(name, version);
    let Some(job) = ctx
        .stores
        .jobs
        .get(&ObjectRef::<Job>::new(&job_name).within(ns))
    else {
        return JobState::NotStarted;
    };
    let conditions = job
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    if conditions
        .iter()
        .any(|c| c.type_ == "Complete" && c.status == "True")
    {
        return JobState::Succeeded {
            job: job_name,
            path: String::new(),
        };
    }
    if let Some(c) = conditions
        .iter()
        .find(|c| c.type_ == "Failed" && c.status == "True")
    {
        return JobState::Failed(format!(
            "Job {job_name} failed ({}: {}); its pod's log says why (kubectl logs job/{job_name})",
            c.reason.as_deref().unwrap_or("Failed"),
            c.message.as_deref().unwrap_or("")
        ));
    }
    JobState::Running(job_name)
}

/// What a registry request needs from the cluster: the pull secrets' credentials and the CA
/// bundle (read only when the registry is asked, about once a day).
struct Inputs {
    credentials: Option<crate::registry::Credentials>,
    ca: Option<Vec<u8>>,
    constraint: Option<String>,
}

impl Inputs {
    fn as_request<'a>(&'a self, repository: &'a str) -> crate::registry::Request<'a> {
        crate::registry::Request {
            repository,
            credentials: self.credentials.clone(),
            ca_bundle: self.ca.as_deref(),
            constraint: self.constraint.as_deref(),
        }
    }
}

async fn registry_request<'c>(
    ctx: &'c Context,
    merged: &OpenClawInstance,
    repository: &str,
) -> Result<(&'c crate::registry::Resolver, Inputs), String> {
    let resolver = ctx
        .registry
        .as_ref()
        .map_err(|why| format!("the registry client cannot start: {why}"))?;
    let ns = merged.namespace().unwrap_or_default();
    let secrets_api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    let mut secrets = Vec::new();
    for r in merged
        .spec
        .image
        .as_ref()
        .and_then(|i| i.pull_secrets.clone())
        .unwrap_or_default()
    {
        let name = r.name;
        if name.is_empty() {
            continue;
        }
        match secrets_api.get_opt(&name).await {
            Ok(Some(s)) => secrets.push(s),
            Ok(None) => return Err(format!("the image pull Secret {name:?} does not exist")),
            Err(e) => return Err(format!("cannot read the image pull Secret {name:?}: {e}")),
        }
    }
    let credentials =
        crate::registry::credentials_for(&secrets, repository).map_err(|e| e.to_string())?;
    let ca = ca_bundle(ctx, merged).await?;
    Ok((
        resolver,
        Inputs {
            credentials,
            ca,
            constraint: None,
        },
    ))
}

/// The instance's CA bundle (`spec.security.caBundle`), for registries with a private CA.
async fn ca_bundle(ctx: &Context, merged: &OpenClawInstance) -> Result<Option<Vec<u8>>, String> {
    let Some(ca) = merged
        .spec
        .security
        .as_ref()
        .and_then(|s| s.ca_bundle.clone())
    else {
        return Ok(None);
    };
    let ns = merged.namespace().unwrap_or_default();
    let key = ca
        .key
        .clone()
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| "ca.crt".into());
    if let Some(name) = ca.config_map_name.filter(|n| !n.is_empty()) {
        let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &ns);
        let cm = api
            .get_opt(&name)
            .await
            .map_err(|e| format!("cannot read the CA bundle ConfigMap {name:?}: {e}"))?;
        return Ok(cm
            .and_then(|c| c.data)
            .and_then(|d: BTreeMap<String, String>| d.get(&key).cloned())
            .map(String::into_bytes));
    }
    if let Some(name) = ca.secret_name.filter(|n| !n.is_empty()) {
        let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
        let s = api
            .get_opt(&name)
            .await
            .map_err(|e| format!("cannot read the CA bundle Secret {name:?}: {e}"))?;
        return Ok(s
            .and_then(|s| s.data)
            .and_then(|d| d.get(&key).map(|b| b.0.clone())));
    }
    Ok(None)
}

/// Merge-patch `spec.image.tag` (the Go operator's way: users see the version in the spec).
async fn patch_tag(ctx: &Context, instance: &OpenClawInstance, tag: &str) -> Result<(), Error> {
    let api: Api<OpenClawInstance> = Api::namespaced(
        ctx.client.clone(),
        &instance.namespace().unwrap_or_default(),
    );
    let patch = serde_json::json!({"spec": {"image": {"tag": tag}}});
    match api
        .patch(
            &instance.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(Error::Read(e)),
    }
}

/// `status.autoUpdate` as the plan wants it, for the report.
pub fn status_of(plan: &Plan, old: Option<&AutoUpdateStatus>) -> Option<AutoUpdateStatus> {
    plan.status.clone().or_else(|| old.cloned())
}
