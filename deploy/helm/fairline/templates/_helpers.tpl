{{- define "fairline.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "fairline.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "fairline.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "fairline.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Secret-backed environment: values come from existing Secrets, never from this chart. */}}
{{- define "fairline.secretEnv" -}}
{{- if and (hasPrefix "s3://" .Values.store.uri) (eq .Values.store.s3.credentials "env") }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ required "store.s3.secretName: an existing Secret with the S3 keys" .Values.store.s3.secretName }}
      key: {{ .Values.store.s3.accessKeyIdKey }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.store.s3.secretName }}
      key: {{ .Values.store.s3.secretAccessKeyKey }}
{{- end }}
{{- if .Values.temporal.apiKey.secretName }}
- name: FAIRLINE_TEMPORAL_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.temporal.apiKey.secretName }}
      key: {{ .Values.temporal.apiKey.key }}
{{- end }}
{{- end -}}

{{/* The config file, TLS material and scratch space every fairline container mounts. */}}
{{- define "fairline.volumeMounts" -}}
- name: config
  mountPath: /etc/fairline
  readOnly: true
{{- if .Values.temporal.tls.enabled }}
- name: temporal-tls
  mountPath: /etc/fairline-tls
  readOnly: true
{{- end }}
- name: scratch
  mountPath: /tmp
{{- end -}}

{{- define "fairline.volumes" -}}
- name: config
  configMap:
    name: {{ include "fairline.fullname" . }}
{{- if .Values.temporal.tls.enabled }}
- name: temporal-tls
  secret:
    secretName: {{ required "temporal.tls.secretName: an existing kubernetes.io/tls Secret" .Values.temporal.tls.secretName }}
    defaultMode: 0400
{{- end }}
- name: scratch
  emptyDir: {}
{{- end -}}

{{- define "fairline.podSecurity" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: 10001
  fsGroup: 10001
{{- end -}}
