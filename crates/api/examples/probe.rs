use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, JsonSchema)]
#[kube(
    group = "openclaw.rocks",
    version = "v1alpha1",
    kind = "Probe",
    namespaced
)]
#[serde(rename_all = "camelCase")]
pub struct ProbeSpec {
    pub init_containers: Option<Vec<k8s_openapi::api::core::v1::Container>>,
    pub env: Option<Vec<k8s_openapi::api::core::v1::EnvVar>>,
    pub affinity: Option<k8s_openapi::api::core::v1::Affinity>,
    pub volumes: Option<Vec<k8s_openapi::api::core::v1::Volume>>,
    pub pull_secrets: Option<Vec<k8s_openapi::api::core::v1::LocalObjectReference>>,
    pub additional_egress: Option<Vec<k8s_openapi::api::networking::v1::NetworkPolicyEgressRule>>,
    pub conditions: Option<Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>>,
}
fn main() {
    use kube::CustomResourceExt;
    print!("{}", serde_json::to_string(&Probe::crd()).unwrap());
}
