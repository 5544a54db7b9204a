//! PLACEHOLDER (replaced by the migrate branch).
#![allow(missing_docs)]
use k8s_openapi::api::batch::v1::Job;

use crate::RenderError;
use crate::model::Model;

pub fn migration_job_name(instance: &str, version: &str) -> String {
    format!(
        "{instance}-migrate-{}",
        &crate::hash::short_sha256(version.as_bytes())[..6]
    )
}

pub fn migration_job(_m: &Model, _image: &str, name: &str) -> Result<Job, RenderError> {
    let mut j = Job::default();
    j.metadata.name = Some(name.into());
    Ok(j)
}
