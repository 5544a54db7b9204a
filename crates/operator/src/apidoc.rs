//! `openclaw-operator api-reference`: the API reference (`docs/api-reference.md`) generated from
//! the CRDs, which are generated from the Rust types. `tests/cli.rs` fails when the committed
//! file differs, so a field cannot change without its documentation.

use std::fmt::Write as _;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
use openclaw_api::crd;

/// Where the reference is committed, relative to the repository root.
pub const PATH: &str = "docs/api-reference.md";

/// The whole reference, as Markdown.
pub fn reference() -> String {
    let mut out = String::from(
        "# API reference: `openclaw.rocks/v1alpha1`\n\n\
         Generated from the CRDs by `openclaw-operator api-reference > docs/api-reference.md`; do \
         not edit by hand (`crates/operator/tests/cli.rs` checks it is current). Every field of \
         the three kinds, with its type, its default and the first sentence of its description. \
         The feature pages in [features/](features/) explain what the fields do.\n",
    );
    let crds = crd::all();
    out.push_str("\n| Kind | Scope | Short names | Category |\n|---|---|---|---|\n");
    for c in &crds {
        let names = &c.spec.names;
        let _ = writeln!(
            out,
            "| [{kind}](#{anchor}) | {scope} | {short} | {cat} |",
            kind = names.kind,
            anchor = names.kind.to_lowercase(),
            scope = c.spec.scope,
            short = names.short_names.as_deref().unwrap_or_default().join(", "),
            cat = names.categories.as_deref().unwrap_or_default().join(", "),
        );
    }
    for c in &crds {
        let _ = write!(out, "\n## {}\n", c.spec.names.kind);
        let Some(root) = c
            .spec
            .versions
            .first()
            .and_then(|v| v.schema.as_ref())
            .and_then(|s| s.open_api_v3_schema.as_ref())
        else {
            continue;
        };
        if let Some(d) = &root.description {
            let _ = write!(out, "\n{}\n", first_sentence(d));
        }
        for part in ["spec", "status"] {
            let Some(schema) = root.properties.as_ref().and_then(|p| p.get(part)) else {
                continue;
            };
            let _ = write!(
                out,
                "\n### `{part}`\n\n| Field | Type | Default | Description |\n|---|---|---|---|\n"
            );
            fields(&mut out, part, schema);
        }
    }
    out
}

/// One row per field below `schema`, depth first, in the schema's (alphabetical) order.
fn fields(out: &mut String, path: &str, schema: &JSONSchemaProps) {
    for (name, child) in schema.properties.iter().flatten() {
        let path = format!("{path}.{name}");
        row(out, &path, child);
        fields(out, &path, child);
        // Lists of objects: their items' fields, as `path[].field`.
        if let Some(items) = item_schema(child) {
            fields(out, &format!("{path}[]"), items);
        }
        // Maps of objects: their values' fields, as `path.<key>.field`.
        if let Some(values) = map_values(child) {
            fields(out, &format!("{path}.<key>"), values);
        }
    }
}

fn row(out: &mut String, path: &str, s: &JSONSchemaProps) {
    let default = s
        .default
        .as_ref()
        .map(|d| format!("`{}`", d.0))
        .unwrap_or_default();
    let mut description = s
        .description
        .as_deref()
        .map(first_sentence)
        .unwrap_or_default();
    if let Some(values) = &s.enum_ {
        let values: Vec<String> = values.iter().map(|v| format!("`{}`", v.0)).collect();
        let _ = write!(description, " One of {}.", values.join(", "));
    }
    let _ = writeln!(
        out,
        "| `{path}` | {} | {} | {} |",
        type_of(s),
        cell(&default),
        cell(description.trim())
    );
}

fn item_schema(s: &JSONSchemaProps) -> Option<&JSONSchemaProps> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaPropsOrArray;
    match s.items.as_ref()? {
        JSONSchemaPropsOrArray::Schema(items) => Some(items),
        JSONSchemaPropsOrArray::Schemas(_) => None,
    }
}

fn map_values(s: &JSONSchemaProps) -> Option<&JSONSchemaProps> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaPropsOrBool;
    match s.additional_properties.as_ref()? {
        JSONSchemaPropsOrBool::Schema(values) => Some(values),
        JSONSchemaPropsOrBool::Bool(_) => None,
    }
}

/// `string`, `integer (int32)`, `[]object`, `map[string]string`, `int-or-string`, `any`.
fn type_of(s: &JSONSchemaProps) -> String {
    if s.x_kubernetes_int_or_string == Some(true) {
        return "int-or-string".into();
    }
    match s.type_.as_deref() {
        Some("array") => format!("[]{}", item_schema(s).map(type_of).unwrap_or_default()),
        Some("object") => match map_values(s) {
            Some(v) => format!("map[string]{}", type_of(v)),
            None => "object".into(),
        },
        Some(t) => match &s.format {
            Some(f) => format!("{t} ({f})"),
            None => t.to_string(),
        },
        None if s.x_kubernetes_preserve_unknown_fields == Some(true) => "any".into(),
        None => "any".into(),
    }
}

/// The first sentence of a description, on one line.
fn first_sentence(d: &str) -> String {
    let one_line = d.split_whitespace().collect::<Vec<_>>().join(" ");
    let end = one_line.match_indices(". ").map(|(i, _)| i).find(|&i| {
        let before = &one_line[..i];
        !(before.ends_with("e.g") || before.ends_with("i.e") || before.ends_with("etc"))
    });
    match end {
        Some(i) => one_line[..=i].to_string(),
        None => one_line,
    }
}

/// Text safe inside a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_lists_every_kind_and_known_fields() {
        let r = reference();
        for needle in [
            "## OpenClawInstance",
            "## OpenClawSelfConfig",
            "## OpenClawClusterDefaults",
            "| `spec.image.tag` |",
            "| `spec.backup.schedule` |",
            "| `spec.networking.ingress.hosts[].host` |",
            "| `status.phase` |",
        ] {
            assert!(r.contains(needle), "{needle}");
        }
        assert_eq!(first_sentence("One.  Two\nthree."), "One.");
        assert_eq!(
            first_sentence("A quantity, e.g. 1. More."),
            "A quantity, e.g. 1."
        );
        assert_eq!(cell("a|b"), "a\\|b");
    }
}
