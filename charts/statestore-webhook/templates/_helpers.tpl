{{/* The chart's name, or nameOverride. */}}
{{- define "bsw.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The prefix of every object's name: fullnameOverride, or the release name with the
chart's name appended unless it already contains it. Cluster-scoped objects carry it
too, so two releases need two names.
*/}}
{{- define "bsw.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The ServiceAccount the pods run as. */}}
{{- define "bsw.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "bsw.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Selects the webhook's pods: never changes for a release (a selector is immutable). */}}
{{- define "bsw.selectorLabels" -}}
app.kubernetes.io/name: {{ include "bsw.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: webhook
{{- end -}}

{{/* On every object. */}}
{{- define "bsw.labels" -}}
{{ include "bsw.selectorLabels" . }}
app.kubernetes.io/version: {{ include "bsw.tag" . | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{- define "bsw.tag" -}}
{{- default .Chart.AppVersion .Values.image.tag -}}
{{- end -}}

{{- define "bsw.image" -}}
{{- .Values.image.repository }}:{{ include "bsw.tag" . }}{{ with .Values.image.digest }}@{{ . }}{{ end -}}
{{- end -}}

{{/* imagePullSecrets and global.imagePullSecrets (names or {name: ...}), once each. */}}
{{- define "bsw.imagePullSecrets" -}}
{{- $names := list -}}
{{- range concat ((.Values.global).imagePullSecrets | default list) .Values.imagePullSecrets -}}
{{- if kindIs "string" . }}{{ $names = append $names . }}{{ else }}{{ $names = append $names .name }}{{ end -}}
{{- end -}}
{{- range uniq $names }}
- name: {{ . }}
{{- end -}}
{{- end -}}

{{/* The Secret holding the serving certificate, which the Deployment mounts. */}}
{{- define "bsw.servingSecret" -}}
{{- if eq .Values.certificates.source "secret" -}}
{{- required "certificates.secret.name is required when certificates.source is secret" .Values.certificates.secret.name -}}
{{- else -}}
{{- include "bsw.fullname" . }}-tls
{{- end -}}
{{- end -}}

{{/* The CA the user brought for their serving certificate, as a caBundle. */}}
{{- define "bsw.caBundle" -}}
{{- required "certificates.secret.caBundle is required when certificates.source is secret" .Values.certificates.secret.caBundle | b64enc -}}
{{- end -}}

{{/*
Kubernetes 1.30 or later (matchConditions on webhooks, the preStop sleep action). Not
Chart.yaml's kubeVersion: without a cluster (helm template, helm install --dry-run)
Helm assumes v1.20.0, its built-in default, and would refuse to render. The check runs
when Helm knows the cluster's version, or one given with --kube-version.
*/}}
{{- define "bsw.checkKubeVersion" -}}
{{- $v := .Capabilities.KubeVersion.Version -}}
{{- if and (ne $v "v1.20.0") (semverCompare "<1.30.0-0" $v) -}}
{{- fail (printf "this chart needs Kubernetes 1.30 or later (matchConditions, the preStop sleep action); the cluster is %s" $v) -}}
{{- end -}}
{{- end -}}
