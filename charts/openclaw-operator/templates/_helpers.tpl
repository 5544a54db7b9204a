{{/* Chart name. */}}
{{- define "openclaw-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: prefix of every object name (as the Go chart computes it, so upgrades keep names). */}}
{{- define "openclaw-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "openclaw-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "openclaw-operator.labels" -}}
helm.sh/chart: {{ include "openclaw-operator.chart" . }}
{{ include "openclaw-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels selecting the operator pods (the Deployment adds control-plane: controller-manager,
as the Go chart does: a Deployment's selector cannot change on upgrade). */}}
{{- define "openclaw-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "openclaw-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "openclaw-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "openclaw-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The operator's ServiceAccount as an RBAC subject (a YAML list item). */}}
{{- define "openclaw-operator.subject" -}}
- kind: ServiceAccount
  name: {{ include "openclaw-operator.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
{{- end }}

{{- define "openclaw-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default (printf "v%s" .Chart.AppVersion)) }}
{{- end }}
{{- end }}

{{/* Watched namespaces as a list; accepts a list or a comma-separated string. */}}
{{- define "openclaw-operator.watchNamespaces" -}}
{{- $raw := .Values.watchNamespaces | default list }}
{{- if kindIs "string" $raw }}
{{- $raw = splitList "," $raw }}
{{- end }}
{{- $out := list }}
{{- range $raw }}
{{- $ns := . | toString | trim }}
{{- if and $ns (not (has $ns $out)) }}
{{- $out = append $out $ns }}
{{- end }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/* Name of the leader-election Lease. */}}
{{- define "openclaw-operator.leaseName" -}}
{{- .Values.leaderElection.resourceName | default "openclaw-operator.openclaw.rocks" }}
{{- end }}

{{/* Both webhook configurations (validating and mutating) carry this name. */}}
{{- define "openclaw-operator.webhookConfigurationName" -}}
{{- include "openclaw-operator.fullname" . }}
{{- end }}

{{- define "openclaw-operator.webhookServiceName" -}}
{{- printf "%s-webhook" (include "openclaw-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Secret holding the webhook serving certificate (cert-manager's or the operator's). */}}
{{- define "openclaw-operator.webhookSecretName" -}}
{{- printf "%s-webhook-cert" (include "openclaw-operator.fullname" .) }}
{{- end }}

{{/* Whether the operator manages its own webhook certificate. */}}
{{- define "openclaw-operator.webhookSelfSigned" -}}
{{- if and .Values.webhook.enabled (not .Values.webhook.certManager.enabled) }}true{{ end }}
{{- end }}

{{/* The port number of metrics.bindAddress (":8443" -> 8443). */}}
{{- define "openclaw-operator.metricsPort" -}}
{{- $parts := splitList ":" (toString .Values.metrics.bindAddress) }}
{{- last $parts | default "8443" }}
{{- end }}

{{/* Mount path of the webhook serving certificate (cert-manager mode). */}}
{{- define "openclaw-operator.webhookCertDir" -}}
/tmp/k8s-webhook-server/serving-certs
{{- end }}

{{- define "openclaw-operator.metricsCertDir" -}}
/tmp/k8s-metrics-server/serving-certs
{{- end }}

{{- define "openclaw-operator.metricsServiceName" -}}
{{- printf "%s-metrics" (include "openclaw-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Settings shared by every webhook; called with (dict "root" $ "watch" $namespaces "path" $path). */}}
{{- define "openclaw-operator.webhookCommon" }}
    admissionReviewVersions: ["v1"]
    sideEffects: None
    failurePolicy: {{ .failurePolicy | default .root.Values.webhook.failurePolicy }}
    timeoutSeconds: {{ int .root.Values.webhook.timeoutSeconds }}
    matchPolicy: Equivalent
    {{- if .watch }}
    namespaceSelector:
      matchExpressions:
        - key: kubernetes.io/metadata.name
          operator: In
          values:
            {{- toYaml .watch | nindent 12 }}
    {{- end }}
    clientConfig:
      service:
        name: {{ include "openclaw-operator.webhookServiceName" .root }}
        namespace: {{ .root.Release.Namespace }}
        port: 443
        path: {{ .path }}
{{- end }}

{{/* cert-manager injects the CA bundle into the webhook configurations. */}}
{{- define "openclaw-operator.webhookAnnotations" }}
  {{- if .Values.webhook.certManager.enabled }}
  annotations:
    cert-manager.io/inject-ca-from: {{ .Release.Namespace }}/{{ include "openclaw-operator.fullname" . }}-webhook
  {{- end }}
{{- end }}
