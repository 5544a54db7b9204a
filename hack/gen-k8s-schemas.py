#!/usr/bin/env python3
"""Extract the structural schemas of the Kubernetes core types that the
openclaw.rocks/v1alpha1 contract embeds (Container, Volume, EnvVar, ...).

The reference CRDs embed these types as generated from k8s.io/api v0.31 by
controller-gen, with list/map-type markers, defaults and quantity patterns that
k8s-openapi's schemars output does not carry. Server-side apply merges lists by
those markers, so our CRDs must carry exactly the same ones. This script keeps
only the structure and the markers (descriptions are dropped: ours come from
k8s-openapi's doc comments) and writes crates/api/src/k8s_schemas.json, which
crates/api overlays onto k8s-openapi's schemas when it generates the CRDs.

Usage: hack/gen-k8s-schemas.py [REFERENCE_CRD_DIR]   (default ../shared/compat/crds)
"""
import json
import os
import sys

import yaml

# type -> list of (crd file, path of segments inside spec) holding exactly that type
SOURCES = {
    "Container": [("openclawinstances", ["initContainers", "[]"]), ("openclawinstances", ["sidecars", "[]"])],
    "Volume": [("openclawinstances", ["extraVolumes", "[]"]), ("openclawinstances", ["sidecarVolumes", "[]"])],
    "VolumeMount": [("openclawinstances", ["extraVolumeMounts", "[]"])],
    "EnvVar": [("openclawinstances", ["env", "[]"]), ("openclawinstances", ["chromium", "extraEnv", "[]"]),
               ("openclawclusterdefaults", ["env", "[]"])],
    "EnvFromSource": [("openclawinstances", ["envFrom", "[]"])],
    "Affinity": [("openclawinstances", ["availability", "affinity"])],
    "Toleration": [("openclawinstances", ["availability", "tolerations", "[]"])],
    "TopologySpreadConstraint": [("openclawinstances", ["availability", "topologySpreadConstraints", "[]"])],
    "NetworkPolicyEgressRule": [("openclawinstances", ["security", "networkPolicy", "additionalEgress", "[]"])],
    "LocalObjectReference": [("openclawinstances", ["image", "pullSecrets", "[]"]),
                             ("openclawinstances", ["tailscale", "authKeySecretRef"]),
                             ("openclawinstances", ["webTerminal", "credential", "secretRef"])],
    "Capabilities": [("openclawinstances", ["security", "containerSecurityContext", "capabilities"])],
    "Condition": [("openclawinstances", ["@status", "conditions", "[]"]),
                  ("openclawclusterdefaults", ["@status", "conditions", "[]"])],
}
DROP = {"description"}


def strip(node):
    if isinstance(node, dict):
        return {k: strip(v) for k, v in sorted(node.items()) if k not in DROP}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def at(root, segments):
    # paths start inside .spec, or inside .status when the first segment is "@status"
    schema = root["properties"]["status"] if segments[0] == "@status" else root["properties"]["spec"]
    for seg in segments[1:] if segments[0] == "@status" else segments:
        schema = schema["items"] if seg == "[]" else schema["properties"][seg]
    return schema


def main():
    ref_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../shared/compat/crds")
    specs = {}
    for name in ("openclawinstances", "openclawclusterdefaults"):
        with open(os.path.join(ref_dir, f"openclaw.rocks_{name}.yaml")) as f:
            crd = yaml.safe_load(f)
        specs[name] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    out = {}
    for ty, places in SOURCES.items():
        found = [strip(at(specs[crd], path)) for crd, path in places]
        for other in found[1:]:
            if other != found[0]:
                sys.exit(f"{ty}: the reference embeds it with different schemas")
        out[ty] = found[0]
    target = os.path.join(os.path.dirname(__file__), "../crates/api/src/k8s_schemas.json")
    with open(target, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(out)} type schemas to {os.path.normpath(target)}")


if __name__ == "__main__":
    main()
