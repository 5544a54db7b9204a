# shellcheck shell=bash
# shellcheck disable=SC2034 # variables are used by the scripts that source this file
# Pinned versions of the local control plane. Sourced by lib.sh.
#
# Changing anything here (or in build.sh) changes the cache key, so the next
# `cluster.sh build` / `up` rebuilds into a new cache directory.

# Kubernetes release: kube-apiserver, kube-controller-manager, kube-scheduler
# and kubectl are built from the k8s.io/kubernetes module at this tag, with
# every staging module (k8s.io/api, k8s.io/client-go, ...) replaced by its
# published v0.<minor>.<patch> tag.
K8S_VERSION=1.35.8

# etcd: the version that k8s.io/kubernetes v1.35.8 itself requires
# (go.etcd.io/etcd/server/v3 in its go.mod). build.sh warns if they diverge.
ETCD_VERSION=v3.6.5

# KWOK: fake kubelets (node heartbeats, pod phases) and a fake volume
# provisioner driven by "Stage" objects. v0.8.0 has no built-in stages;
# build.sh copies the upstream stage files from the module into the cache.
KWOK_VERSION=v0.8.0
