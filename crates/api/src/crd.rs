//! The CustomResourceDefinitions, generated from the Rust types.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use kube::CustomResourceExt;

use crate::{OpenClawClusterDefaults, OpenClawInstance, OpenClawSelfConfig};

/// The three CRDs, in a stable order (cluster defaults, instances, self configs).
pub fn all() -> Vec<CustomResourceDefinition> {
    vec![
        finish(OpenClawClusterDefaults::crd()),
        finish(OpenClawInstance::crd()),
        finish(OpenClawSelfConfig::crd()),
    ]
}

/// Bring the derived CRD in line with the contract: `listKind` is named, the standard
/// `apiVersion`/`kind`/`metadata` properties are declared, and `spec` is optional (manifests
/// without a spec are valid; every field has a default).
fn finish(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    crd.spec.names.list_kind = Some(format!("{}List", crd.spec.names.kind));
    for version in &mut crd.spec.versions {
        let Some(schema) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        else {
            continue;
        };
        schema.required = None;
        strip_nullable(schema);
        if crd.spec.names.kind == "OpenClawInstance" {
            // The contract lets `spec.probes: null` through (the Go type is a pointer without
            // omitempty); it is the only nullable field.
            if let Some(probes) = schema
                .properties
                .as_mut()
                .and_then(|p| p.get_mut("spec"))
                .and_then(|s| s.properties.as_mut())
                .and_then(|p| p.get_mut("probes"))
            {
                probes.nullable = Some(true);
            }
        }
        let props = schema.properties.get_or_insert_with(Default::default);
        let string = |description: &str| JSONSchemaProps {
            type_: Some("string".into()),
            description: Some(description.into()),
            ..Default::default()
        };
        props.insert(
            "apiVersion".into(),
            string("Versioned schema of this representation of an object."),
        );
        props.insert(
            "kind".into(),
            string("REST resource this object represents."),
        );
        props.insert(
            "metadata".into(),
            JSONSchemaProps {
                type_: Some("object".into()),
                ..Default::default()
            },
        );
    }
    crd
}

/// schemars marks every `Option` field nullable; the contract does not, and a nullable field
/// keeps an explicit `null` instead of having it dropped and defaulted by the API server.
fn strip_nullable(schema: &mut JSONSchemaProps) {
    schema.nullable = None;
    for sub in schema.properties.iter_mut().flat_map(|p| p.values_mut()) {
        strip_nullable(sub);
    }
    if let Some(JSONSchemaPropsOrArray::Schema(items)) = schema.items.as_mut() {
        strip_nullable(items);
    }
    if let Some(JSONSchemaPropsOrBool::Schema(extra)) = schema.additional_properties.as_mut() {
        strip_nullable(extra);
    }
    for sub in schema.any_of.iter_mut().flatten() {
        strip_nullable(sub);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_scope_and_columns() {
        let crds = all();
        let names: Vec<_> = crds
            .iter()
            .map(|c| c.metadata.name.clone().unwrap_or_default())
            .collect();
        assert_eq!(
            names,
            [
                "openclawclusterdefaults.openclaw.rocks",
                "openclawinstances.openclaw.rocks",
                "openclawselfconfigs.openclaw.rocks"
            ]
        );
        assert_eq!(crds[0].spec.scope, "Cluster");
        assert_eq!(
            crds[0].spec.names.short_names,
            Some(vec!["occd".to_string()])
        );
        assert_eq!(crds[1].spec.scope, "Namespaced");
        assert_eq!(
            crds[1].spec.names.short_names,
            Some(vec!["oci".to_string(), "claw".to_string()])
        );
        // `kubectl get openclaw` lists all three kinds.
        for crd in &crds {
            assert_eq!(
                crd.spec.names.categories,
                Some(vec!["openclaw".to_string()]),
                "{:?}",
                crd.metadata.name
            );
        }
        assert_eq!(
            crds[2].spec.names.short_names,
            Some(vec!["ocsc".to_string()])
        );
        let cols: Vec<_> = crds[1].spec.versions[0]
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(cols, ["Phase", "Ready", "Gateway", "Age"]);
    }
}
