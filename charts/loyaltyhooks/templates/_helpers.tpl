{{/* Names and labels. */}}
{{- define "loyaltyhooks.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "loyaltyhooks.fullname" -}}
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

{{- define "loyaltyhooks.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "loyaltyhooks.selectorLabels" -}}
app.kubernetes.io/name: {{ include "loyaltyhooks.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "loyaltyhooks.labels" -}}
helm.sh/chart: {{ include "loyaltyhooks.chart" . }}
{{ include "loyaltyhooks.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels of one component; call with (dict "root" $ "component" "processor"). */}}
{{- define "loyaltyhooks.componentLabels" -}}
{{ include "loyaltyhooks.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "loyaltyhooks.componentSelectorLabels" -}}
{{ include "loyaltyhooks.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "loyaltyhooks.componentName" -}}
{{- printf "%s-%s" (include "loyaltyhooks.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "loyaltyhooks.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "loyaltyhooks.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "loyaltyhooks.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The configuration file; the ConfigMap, its hook copy and the checksum annotation share it. */}}
{{- define "loyaltyhooks.configData" -}}
loyaltyhooks.yaml: |
{{- toYaml .Values.config | nindent 2 }}
{{- end }}

{{/* The variables of the chart-managed Secret. */}}
{{- define "loyaltyhooks.secretData" -}}
{{- range $k, $v := .Values.secret.env }}
{{ $k }}: {{ $v | toString | b64enc | quote }}
{{- end }}
{{- end }}

{{- define "loyaltyhooks.hasSecret" -}}
{{- if or .Values.secret.existingSecret .Values.secret.env }}true{{ end }}
{{- end }}

{{- define "loyaltyhooks.secretName" -}}
{{- default (include "loyaltyhooks.fullname" .) .Values.secret.existingSecret }}
{{- end }}

{{/* Partitions of the topic a component consumes: the most replicas that get work. */}}
{{- define "loyaltyhooks.partitions" -}}
{{- if eq .component "processor" }}
{{- dig "topology" "sourcePartitions" 6 .root.Values.config | int }}
{{- else }}
{{- dig "topology" "webhookPartitions" 6 .root.Values.config | int }}
{{- end }}
{{- end }}

{{/* Consumer group of a component. */}}
{{- define "loyaltyhooks.group" -}}
{{- dig .component "group" (printf "loyaltyhooks-%s" .component) .root.Values.config }}
{{- end }}

{{/* Render-time checks of a component's scaling; fails the render when one is broken. */}}
{{- define "loyaltyhooks.validate" -}}
{{- $c := index .root.Values .component }}
{{- $parts := include "loyaltyhooks.partitions" . | int }}
{{- $key := ternary "config.topology.sourcePartitions" "config.topology.webhookPartitions" (eq .component "processor") }}
{{- if and $c.autoscaling.keda.enabled $c.autoscaling.hpa.enabled }}
{{- fail (printf "%s: autoscaling.keda and autoscaling.hpa are both enabled; enable at most one" .component) }}
{{- end }}
{{- if gt (int $c.replicas) $parts }}
{{- fail (printf "%s.replicas %d exceeds %s %d: replicas beyond the partition count own no partition, are never ready and stall rollouts" .component (int $c.replicas) $key $parts) }}
{{- end }}
{{- range $kind := list "keda" "hpa" }}
{{- $a := index $c.autoscaling $kind }}
{{- if $a.enabled }}
{{- if lt (int $a.minReplicas) 1 }}
{{- fail (printf "%s.autoscaling.%s.minReplicas must be at least 1, got %d" $.component $kind (int $a.minReplicas)) }}
{{- end }}
{{- if gt (int $a.maxReplicas) $parts }}
{{- fail (printf "%s.autoscaling.%s.maxReplicas %d exceeds %s %d: replicas beyond the partition count sit idle" $.component $kind (int $a.maxReplicas) $key $parts) }}
{{- end }}
{{- if lt (int $a.maxReplicas) (int $a.minReplicas) }}
{{- fail (printf "%s.autoscaling.%s.maxReplicas %d is below minReplicas %d" $.component $kind (int $a.maxReplicas) (int $a.minReplicas)) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{- define "loyaltyhooks.autoscaled" -}}
{{- $c := index .root.Values .component }}
{{- if or $c.autoscaling.keda.enabled $c.autoscaling.hpa.enabled }}true{{ end }}
{{- end }}

{{- define "loyaltyhooks.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "loyaltyhooks.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end }}

{{/* Volumes every pod mounts: the config file, a writable /tmp, and extraVolumes. */}}
{{- define "loyaltyhooks.volumes" -}}
- name: config
  configMap:
    name: {{ .configMap }}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- with .root.Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "loyaltyhooks.volumeMounts" -}}
- name: config
  mountPath: /etc/loyaltyhooks
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "loyaltyhooks.envFrom" -}}
envFrom:
  - secretRef:
      name: {{ .secretName }}
{{- end }}

{{/* The pod template of a long-running component; call with (dict "root" $ "component" "processor" "args" (list ...)). */}}
{{- define "loyaltyhooks.podTemplate" -}}
{{- $root := .root }}
{{- $c := index $root.Values .component -}}
metadata:
  labels:
    {{- include "loyaltyhooks.componentSelectorLabels" . | nindent 4 }}
    {{- with $c.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include "loyaltyhooks.configData" $root | sha256sum }}
    checksum/secret: {{ include "loyaltyhooks.secretData" $root | sha256sum }}
    {{- with $c.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "loyaltyhooks.serviceAccountName" $root }}
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: {{ add (int $c.shutdownTimeoutSeconds) (int $c.terminationGraceMarginSeconds) }}
  securityContext:
    {{- include "loyaltyhooks.podSecurityContext" . | nindent 4 }}
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: {{ .component }}
      image: {{ include "loyaltyhooks.image" $root }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      args:
        {{- toYaml .args | nindent 8 }}
      ports:
        - name: metrics
          containerPort: {{ $root.Values.metrics.port }}
          protocol: TCP
      env:
        - name: LOYALTYHOOKS_METRICS_ADDR
          value: {{ printf ":%d" (int $root.Values.metrics.port) | quote }}
        - name: LOYALTYHOOKS_{{ upper .component }}_INSTANCEID
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        - name: LOYALTYHOOKS_{{ upper .component }}_SHUTDOWNTIMEOUT
          value: {{ printf "%ds" (int $c.shutdownTimeoutSeconds) | quote }}
        {{- with $c.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- if include "loyaltyhooks.hasSecret" $root }}
      {{- include "loyaltyhooks.envFrom" (dict "secretName" (include "loyaltyhooks.secretName" $root)) | nindent 6 }}
      {{- end }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: metrics
        periodSeconds: 10
        timeoutSeconds: 3
        failureThreshold: 3
      readinessProbe:
        httpGet:
          path: /readyz
          port: metrics
        periodSeconds: 10
        timeoutSeconds: 3
        failureThreshold: 3
      resources:
        {{- toYaml $c.resources | nindent 8 }}
      securityContext:
        {{- include "loyaltyhooks.containerSecurityContext" . | nindent 8 }}
      volumeMounts:
        {{- include "loyaltyhooks.volumeMounts" $root | nindent 8 }}
  volumes:
    {{- include "loyaltyhooks.volumes" (dict "root" $root "configMap" (include "loyaltyhooks.fullname" $root)) | nindent 4 }}
  {{- with $c.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $c.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $c.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $c.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
