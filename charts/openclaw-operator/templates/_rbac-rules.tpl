{{- /*
Generated from crates/operator/src/rbac.rs by `UPDATE_RBAC=1 cargo test -p openclaw-operator --test rbac`; do not edit by hand.
Each template is a YAML sequence of PolicyRules, to be placed under `rules:`.
*/ -}}

{{- define "openclaw-operator.rules.manager" }}
- apiGroups:
  - ""
  resources:
  - serviceaccounts
  - secrets
  - configmaps
  - persistentvolumeclaims
  - services
  verbs:
  - list
  - watch
  - create
  - patch
  - delete
- apiGroups:
  - rbac.authorization.k8s.io
  resources:
  - roles
  - rolebindings
  verbs:
  - list
  - watch
  - create
  - patch
  - delete
- apiGroups:
  - networking.k8s.io
  resources:
  - networkpolicies
  - ingresses
  verbs:
  - list
  - watch
  - create
  - patch
  - delete
- apiGroups:
  - policy
  resources:
  - poddisruptionbudgets
  verbs:
  - list
  - watch
  - create
  - patch
  - delete
- apiGroups:
  - apps
  resources:
  - statefulsets
  verbs:
  - list
  - watch
  - create
  - patch
  - delete
- apiGroups:
  - autoscaling
  resources:
  - horizontalpodautoscalers
  verbs:
  - list
  - watch
  - create
  - patch
  - delete
- apiGroups:
  - batch
  resources:
  - cronjobs
  - jobs
  verbs:
  - list
  - watch
  - create
  - patch
  - delete
- apiGroups:
  - monitoring.coreos.com
  resources:
  - servicemonitors
  - prometheusrules
  verbs:
  - list
  - watch
  - create
  - patch
  - delete
- apiGroups:
  - traefik.io
  resources:
  - middlewares
  verbs:
  - list
  - watch
  - create
  - patch
  - delete
- apiGroups:
  - gateway.networking.k8s.io
  resources:
  - httproutes
  verbs:
  - list
  - watch
  - create
  - patch
  - delete
- apiGroups:
  - ""
  resources:
  - secrets
  verbs:
  - get
  - update
- apiGroups:
  - ""
  resources:
  - configmaps
  - persistentvolumeclaims
  verbs:
  - get
- apiGroups:
  - ""
  resources:
  - pods
  verbs:
  - list
- apiGroups:
  - openclaw.rocks
  resources:
  - openclawinstances
  verbs:
  - get
  - list
  - watch
  - patch
- apiGroups:
  - openclaw.rocks
  resources:
  - openclawinstances/finalizers
  verbs:
  - update
- apiGroups:
  - openclaw.rocks
  resources:
  - openclawinstances/status
  verbs:
  - patch
- apiGroups:
  - openclaw.rocks
  resources:
  - openclawselfconfigs
  verbs:
  - get
  - list
  - watch
  - create
  - patch
  - delete
- apiGroups:
  - openclaw.rocks
  resources:
  - openclawselfconfigs/status
  verbs:
  - patch
- apiGroups:
  - events.k8s.io
  resources:
  - events
  verbs:
  - create
  - patch
{{- end }}

{{- define "openclaw-operator.rules.cluster" }}
- apiGroups:
  - openclaw.rocks
  resources:
  - openclawclusterdefaults
  verbs:
  - list
  - watch
- apiGroups:
  - authorization.k8s.io
  resources:
  - subjectaccessreviews
  verbs:
  - create
{{- end }}

{{- define "openclaw-operator.rules.escalation" }}
- apiGroups:
  - rbac.authorization.k8s.io
  resources:
  - roles
  verbs:
  - escalate
  - bind
{{- end }}

{{- define "openclaw-operator.rules.leaderElection" }}
- apiGroups:
  - coordination.k8s.io
  resources:
  - leases
  verbs:
  - create
- apiGroups:
  - coordination.k8s.io
  resourceNames:
  - {{ include "openclaw-operator.leaseName" . | quote }}
  resources:
  - leases
  verbs:
  - get
  - patch
{{- end }}

{{- define "openclaw-operator.rules.backupCredentials" }}
- apiGroups:
  - ""
  resourceNames:
  - s3-backup-credentials
  resources:
  - secrets
  verbs:
  - get
  - list
  - watch
{{- end }}

{{- define "openclaw-operator.rules.webhookSecret" }}
- apiGroups:
  - ""
  resources:
  - secrets
  verbs:
  - create
- apiGroups:
  - ""
  resourceNames:
  - {{ include "openclaw-operator.webhookSecretName" . | quote }}
  resources:
  - secrets
  verbs:
  - get
  - update
{{- end }}

{{- define "openclaw-operator.rules.webhookConfiguration" }}
- apiGroups:
  - admissionregistration.k8s.io
  resourceNames:
  - {{ include "openclaw-operator.webhookConfigurationName" . | quote }}
  resources:
  - validatingwebhookconfigurations
  - mutatingwebhookconfigurations
  verbs:
  - get
  - patch
{{- end }}

{{- define "openclaw-operator.rules.metricsAuth" }}
- apiGroups:
  - authentication.k8s.io
  resources:
  - tokenreviews
  verbs:
  - create
- apiGroups:
  - authorization.k8s.io
  resources:
  - subjectaccessreviews
  verbs:
  - create
{{- end }}

{{- define "openclaw-operator.rules.metricsReader" }}
- nonResourceURLs:
  - /metrics
  verbs:
  - get
{{- end }}

{{- define "openclaw-operator.rules.aggregateEdit" }}
- apiGroups:
  - openclaw.rocks
  resources:
  - openclawinstances
  - openclawselfconfigs
  verbs:
  - get
  - list
  - watch
  - create
  - update
  - patch
  - delete
{{- end }}

{{- define "openclaw-operator.rules.aggregateView" }}
- apiGroups:
  - openclaw.rocks
  resources:
  - openclawinstances
  - openclawselfconfigs
  verbs:
  - get
  - list
  - watch
{{- end }}
