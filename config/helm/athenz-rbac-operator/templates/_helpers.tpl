{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "athenz-rbac-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: <release>-<chart>, or the release name when it already contains the chart name. */}}
{{- define "athenz-rbac-operator.fullname" -}}
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

{{- define "athenz-rbac-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: stable across upgrades (a Deployment's selector is immutable). */}}
{{- define "athenz-rbac-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "athenz-rbac-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "athenz-rbac-operator.labels" -}}
helm.sh/chart: {{ include "athenz-rbac-operator.chart" . }}
{{ include "athenz-rbac-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: athenz-rbac-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "athenz-rbac-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "athenz-rbac-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "athenz-rbac-operator.leaseName" -}}
{{- default (include "athenz-rbac-operator.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{/* image: repository@digest, else repository:tag (tag defaults to the appVersion). */}}
{{- define "athenz-rbac-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Where the Secrets are mounted (whole-Secret volumes, never subPath: kubelet then updates
the files in place when a Secret rotates, and the operator re-reads them). */}}
{{- define "athenz-rbac-operator.clientCertDir" -}}/var/run/secrets/athenz-rbac-operator/zms-client{{- end }}
{{- define "athenz-rbac-operator.caDir" -}}/var/run/secrets/athenz-rbac-operator/zms-ca{{- end }}
{{- define "athenz-rbac-operator.systemCaBundle" -}}/etc/ssl/certs/ca-certificates.crt{{- end }}

{{/* Cross-value checks the JSON schema cannot express with a readable message. */}}
{{- define "athenz-rbac-operator.validate" -}}
{{- if and (gt (int .Values.replicas) 1) (not .Values.leaderElection.enabled) }}
{{- fail "replicas > 1 needs leaderElection.enabled=true: two operators without a leader would fight over the same RoleBindings" }}
{{- end }}
{{- end }}
