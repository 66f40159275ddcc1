{{/* Names: <release>-linkguard unless overridden, cut to the 63 characters of a DNS label. */}}
{{- define "linkguard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "linkguard.fullname" -}}
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

{{- define "linkguard.smtpFilterName" -}}
{{- printf "%s-smtp-filter" (include "linkguard.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "linkguard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "linkguard.labels" -}}
helm.sh/chart: {{ include "linkguard.chart" . }}
{{ include "linkguard.instanceLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "linkguard.instanceLabels" -}}
app.kubernetes.io/name: {{ include "linkguard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Selector labels; "component" tells the gateway's pods from the SMTP filter's. */}}
{{- define "linkguard.selectorLabels" -}}
{{ include "linkguard.instanceLabels" . }}
app.kubernetes.io/component: gateway
{{- end }}

{{- define "linkguard.smtpFilterSelectorLabels" -}}
{{ include "linkguard.instanceLabels" . }}
app.kubernetes.io/component: smtp-filter
{{- end }}

{{- define "linkguard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "linkguard.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "linkguard.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Checks that stop a broken release before it reaches the cluster. Called by every workload.
*/}}
{{- define "linkguard.validate" -}}
{{- if not (or .Values.linkKeys.value .Values.linkKeys.existingSecret) }}
{{- fail "linkKeys: set linkKeys.value (\"k1:<key>\", from `linkguard keys new`) or linkKeys.existingSecret: without keys no link can be sealed or opened" }}
{{- end }}
{{- $replicas := int .Values.replicaCount }}
{{- if or .Values.autoscaling.enabled (gt $replicas 1) }}
{{- $db := or .Values.externalDatabase.url .Values.externalDatabase.existingSecret }}
{{- $redis := or .Values.externalRedis.url .Values.externalRedis.existingSecret }}
{{- if not (and $db $redis) }}
{{- fail "several gateway replicas share PostgreSQL and Redis (one-time confirmations, rate limits, the click log): set externalDatabase and externalRedis, or run one replica" }}
{{- end }}
{{- if and .Values.persistence.enabled (not .Values.persistence.existingClaim) }}
{{- fail "persistence.enabled with several replicas: one ReadWriteOnce volume cannot serve them all; with externalDatabase the data volume needs no persistence" }}
{{- end }}
{{- end }}
{{- if and .Values.smtpFilter.enabled (not .Values.smtpFilter.reinject) }}
{{- fail "smtpFilter.reinject: the host:port of Postfix's re-injection smtpd is required when smtpFilter.enabled" }}
{{- end }}
{{- end }}

{{/* The Secret holding a value: the user's existing one, or the chart's. */}}
{{- define "linkguard.secretRef" -}}
{{- $ref := index . 0 }}{{- $root := index . 1 -}}
name: {{ default (include "linkguard.fullname" $root) $ref.existingSecret }}
key: {{ $ref.secretKey }}
{{- end }}

{{/* Where the ConfigMap is mounted, and the files in it. */}}
{{- define "linkguard.configDir" -}}/etc/linkguard{{- end }}

{{- define "linkguard.listFiles" -}}
{{- $files := list }}
{{- range $path, $_ := .Files.Glob "files/lists/*.yaml" }}
{{- $files = append $files (printf "%s/list-%s" (include "linkguard.configDir" $) (base $path)) }}
{{- end }}
{{- if or .Values.lists.allow .Values.lists.block }}
{{- $files = append $files (printf "%s/list-values.yaml" (include "linkguard.configDir" .)) }}
{{- end }}
{{- join "," $files }}
{{- end }}

{{- define "linkguard.brandFiles" -}}
{{- $files := list }}
{{- range $path, $_ := .Files.Glob "files/brands/*.yaml" }}
{{- $files = append $files (printf "%s/brands-%s" (include "linkguard.configDir" $) (base $path)) }}
{{- end }}
{{- if .Values.lists.brands }}
{{- $files = append $files (printf "%s/brands-values.yaml" (include "linkguard.configDir" .)) }}
{{- end }}
{{- join "," $files }}
{{- end }}

{{/* One env entry per set value; list values are joined with commas as Settings reads them. */}}
{{- define "linkguard.envValue" -}}
{{- $name := index . 0 }}{{- $value := index . 1 }}
{{- if kindIs "slice" $value }}{{- $value = join "," $value }}{{- end }}
{{- if or $value (kindIs "bool" $value) }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{- define "linkguard.secretEnv" -}}
{{- $name := index . 0 }}{{- $ref := index . 1 }}{{- $root := index . 2 }}
{{- if or $ref.value $ref.existingSecret $ref.url }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      {{- include "linkguard.secretRef" (list $ref $root) | nindent 6 }}
{{- end }}
{{- end }}

{{/* Settings both workloads read: keys, base URL, stores, lists, policy, extra env. */}}
{{- define "linkguard.commonEnv" -}}
- name: LINKGUARD_DATA_DIR
  value: /var/lib/linkguard
{{- include "linkguard.secretEnv" (list "LINKGUARD_LINK_KEYS" .Values.linkKeys .) }}
{{- include "linkguard.secretEnv" (list "LINKGUARD_SESSION_SECRET" .Values.sessionSecret .) }}
{{- include "linkguard.secretEnv" (list "LINKGUARD_API_KEYS" .Values.apiKeys .) }}
{{- include "linkguard.secretEnv" (list "LINKGUARD_DATABASE_URL" .Values.externalDatabase .) }}
{{- include "linkguard.secretEnv" (list "LINKGUARD_REDIS_URL" .Values.externalRedis .) }}
{{- include "linkguard.envValue" (list "LINKGUARD_BASE_URL" .Values.config.baseUrl) }}
{{- include "linkguard.envValue" (list "LINKGUARD_ORG_NAME" .Values.config.orgName) }}
{{- include "linkguard.envValue" (list "LINKGUARD_ORG_DOMAINS" .Values.config.orgDomains) }}
{{- include "linkguard.envValue" (list "LINKGUARD_TRUSTED_PROXIES" .Values.config.trustedProxies) }}
{{- include "linkguard.envValue" (list "LINKGUARD_DO_NOT_REWRITE" .Values.config.doNotRewrite) }}
{{- include "linkguard.envValue" (list "LINKGUARD_MAIL_RECIPIENT_DOMAINS" .Values.config.mailRecipientDomains) }}
{{- include "linkguard.envValue" (list "LINKGUARD_LIST_FILES" (include "linkguard.listFiles" .)) }}
{{- include "linkguard.envValue" (list "LINKGUARD_BRAND_FILES" (include "linkguard.brandFiles" .)) }}
{{- if .Values.policy }}
- name: LINKGUARD_POLICY_FILE
  value: {{ printf "%s/policy.yaml" (include "linkguard.configDir" .) | quote }}
{{- end }}
{{- range $name, $value := .Values.env }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{/* Volumes both workloads mount: the data directory, /tmp, the ConfigMap. */}}
{{- define "linkguard.volumeMounts" -}}
- name: data
  mountPath: /var/lib/linkguard
- name: tmp
  mountPath: /tmp
- name: config
  mountPath: {{ include "linkguard.configDir" . }}
  readOnly: true
{{- end }}

{{/* Pods roll when the ConfigMap or the chart's Secret changes. */}}
{{- define "linkguard.checksums" -}}
checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include (print $.Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}

{{/*
The ConfigMap's files: list and brand files shipped in the chart's files/ folder as they are,
the values' entries written in the same formats (allowlists/README.md), the policy.
*/}}
{{- define "linkguard.configData" -}}
{{- range $path, $_ := .Files.Glob "files/lists/*.yaml" }}
list-{{ base $path }}: |
  {{- $.Files.Get $path | nindent 2 }}
{{- end }}
{{- if or .Values.lists.allow .Values.lists.block }}
list-values.yaml: |
  # From the release's values (lists.allow, lists.block).
  {{- toYaml (dict "version" 1 "allow" .Values.lists.allow "block" .Values.lists.block) | nindent 2 }}
{{- end }}
{{- range $path, $_ := .Files.Glob "files/brands/*.yaml" }}
brands-{{ base $path }}: |
  {{- $.Files.Get $path | nindent 2 }}
{{- end }}
{{- if .Values.lists.brands }}
brands-values.yaml: |
  # From the release's values (lists.brands).
  {{- toYaml (dict "version" 1 "brands" .Values.lists.brands) | nindent 2 }}
{{- end }}
{{- if .Values.policy }}
policy.yaml: |
  # From the release's values (policy).
  {{- toYaml .Values.policy | nindent 2 }}
{{- end }}
{{- end }}
