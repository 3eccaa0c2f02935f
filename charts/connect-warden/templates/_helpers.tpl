{{/* The prefix of every object's name: the release name, or <release>-<chart> when the release name does not
contain the chart name; at most 52 characters so that "<fullname>-controller-leader-election" still fits. */}}
{{- define "cw.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "cw.controller" -}}{{ include "cw.fullname" . }}-controller{{- end -}}
{{- define "cw.webhook" -}}{{ include "cw.fullname" . }}-webhook{{- end -}}
{{- define "cw.tlsSecret" -}}{{ include "cw.fullname" . }}-webhook-tls{{- end -}}

{{/* Labels on every object. */}}
{{- define "cw.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: connect-warden
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* Selector labels of a component (dict "ctx" $ "component" "controller"). app.kubernetes.io/name stays
connect-warden-<component> whatever the release: Prometheus takes the job name from it, and the alert rules
and the dashboard name those jobs. */}}
{{- define "cw.selectorLabels" -}}
app.kubernetes.io/name: connect-warden-{{ .component }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- end -}}

{{- define "cw.componentLabels" -}}
{{ include "cw.labels" .ctx }}
app.kubernetes.io/name: connect-warden-{{ .component }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "cw.image" -}}
{{- printf "%s:%s" .image.repository (default .ctx.Chart.AppVersion .image.tag) -}}
{{- end -}}

{{/* The certificate source, checked. */}}
{{- define "cw.certificates" -}}
{{- $mode := .Values.webhook.certificates -}}
{{- if not (has $mode (list "selfManaged" "certManager")) -}}
{{- fail (printf "webhook.certificates must be selfManaged or certManager, not %q" $mode) -}}
{{- end -}}
{{- $mode -}}
{{- end -}}

{{/* --watch-namespaces for both binaries, when namespaces are listed. */}}
{{- define "cw.watchArgs" -}}
{{- with .Values.watchNamespaces -}}
- --watch-namespaces={{ join "," . }}
{{- end -}}
{{- end -}}

{{/* The webhook configurations' namespaceSelector. */}}
{{- define "cw.namespaceSelector" -}}
{{- if .Values.webhook.namespaceSelector -}}
{{ toYaml .Values.webhook.namespaceSelector }}
{{- else if .Values.watchNamespaces -}}
matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: In
    values: {{ toJson .Values.watchNamespaces }}
{{- else -}}
matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values: ["kube-system", "kube-public", "kube-node-lease", {{ .Release.Namespace | quote }}]
{{- end -}}
{{- end -}}

{{/* Spreads a component's replicas over nodes unless topologySpreadConstraints is set. */}}
{{- define "cw.topologySpread" -}}
{{- if kindIs "invalid" .values.topologySpreadConstraints -}}
- maxSkew: 1
  topologyKey: kubernetes.io/hostname
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "cw.selectorLabels" . | nindent 6 }}
{{- else -}}
{{ toYaml .values.topologySpreadConstraints }}
{{- end -}}
{{- end -}}

{{/* Scheduling and pod-level fields shared by both Deployments. */}}
{{- define "cw.podScheduling" -}}
{{- with .ctx.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (include "cw.topologySpread" .) }}
topologySpreadConstraints:
  {{- . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* What the two connect-warden-certs containers of a webhook pod share (selfManaged mode). */}}
{{- define "cw.certsContainer" -}}
{{- $certs := .Values.certs -}}
image: {{ include "cw.image" (dict "ctx" $ "image" $certs.image) }}
imagePullPolicy: {{ $certs.image.pullPolicy }}
env:
  - name: CW_CERTS_NAMESPACE
    valueFrom:
      fieldRef:
        fieldPath: metadata.namespace
  - name: CW_CERTS_SECRET
    value: {{ include "cw.tlsSecret" . }}
  - name: CW_CERTS_SERVICE
    value: {{ include "cw.webhook" . }}
  - name: CW_CERTS_WEBHOOK_CONFIG
    value: {{ include "cw.fullname" . }}
  - name: CW_CERTS_OUT_DIR
    value: /tls
  - name: CW_CERTS_CERT_VALIDITY
    value: {{ $certs.certValidity | quote }}
  - name: CW_CERTS_CERT_RENEW_BEFORE
    value: {{ $certs.certRenewBefore | quote }}
volumeMounts:
  - name: tls
    mountPath: /tls
resources:
  {{- toYaml $certs.resources | nindent 2 }}
securityContext:
  {{- toYaml $certs.securityContext | nindent 2 }}
{{- end -}}

{{/* The controller's rules on the objects it manages (a ClusterRole, or a Role per watched namespace). */}}
{{/* The controller's rules on namespaced objects (a ClusterRole, or a Role per watched namespace). */}}
{{- define "cw.controllerRules" -}}
# Connectors: watched, finalizer and restart annotations written on the object, status on its subresource.
- apiGroups: ["connectwarden.io"]
  resources: ["kafkaconnectors"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["connectwarden.io"]
  resources: ["kafkaconnectors/status"]
  verbs: ["get", "patch", "update"]
# Needed where the OwnerReferencesPermissionEnforcement admission plugin is on.
- apiGroups: ["connectwarden.io"]
  resources: ["kafkaconnectors/finalizers"]
  verbs: ["update"]
# Clusters: watched; an in-use finalizer keeps a cluster while connectors on it still need deleting.
- apiGroups: ["connectwarden.io"]
  resources: ["kafkaconnectclusters"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["connectwarden.io"]
  resources: ["kafkaconnectclusters/finalizers"]
  verbs: ["update"]
- apiGroups: ["connectwarden.io"]
  resources: ["kafkaconnectclusters/status"]
  verbs: ["get", "patch", "update"]
# Credentials and CAs that KafkaConnectClusters reference (read only; watched so rotations apply at once).
- apiGroups: [""]
  resources: ["secrets", "configmaps"]
  verbs: ["get", "list", "watch"]
# The offsets a listOffsets request asks for, written to the ConfigMap the connector names.
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["create", "patch"]
- apiGroups: ["", "events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}

{{/* The controller's rules on cluster-scoped objects (always in a ClusterRole). Policies: watched, so
connectors that violate one get a condition, and their status lists those connectors. Namespace labels are
what policies select connectors by. */}}
{{- define "cw.controllerClusterRules" -}}
- apiGroups: ["connectwarden.io"]
  resources: ["kafkaconnectorpolicies"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["connectwarden.io"]
  resources: ["kafkaconnectorpolicies/status"]
  verbs: ["get", "patch", "update"]
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["get", "list", "watch"]
{{- end -}}

{{/* The webhook's read-only rules on what a review looks up, namespaced objects. */}}
{{- define "cw.webhookRules" -}}
- apiGroups: ["connectwarden.io"]
  resources: ["kafkaconnectors", "kafkaconnectclusters"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["secrets", "configmaps"]
  verbs: ["get", "list", "watch"]
# Whether the requesting user may read what configFrom references, asked in the connector's namespace
# (creating a review changes nothing; it only asks).
- apiGroups: ["authorization.k8s.io"]
  resources: ["localsubjectaccessreviews"]
  verbs: ["create"]
{{- end -}}

{{/* The webhook's rules on cluster-scoped objects: KafkaConnectorPolicies, compiled as they change, and
namespace labels, which policies select connectors by. */}}
{{- define "cw.webhookClusterRules" -}}
- apiGroups: ["connectwarden.io"]
  resources: ["kafkaconnectorpolicies"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["get", "list", "watch"]
{{- end -}}

{{/* Grants "rules" (on namespaced objects) and "clusterRules" (on cluster-scoped ones) to the component's
ServiceAccount "name": both in one ClusterRole; or, with watchNamespaces, "rules" in a Role in each watched
namespace and "clusterRules" in a ClusterRole. Each object starts with "---". */}}
{{- define "cw.grant" -}}
{{- $ctx := .ctx -}}
{{- $labels := include "cw.componentLabels" (dict "ctx" $ctx "component" .component) -}}
{{- $grants := list (dict "kind" "ClusterRole" "namespace" "" "rules" (printf "%s\n%s" .rules .clusterRules)) -}}
{{- with $ctx.Values.watchNamespaces -}}
{{- $grants = list (dict "kind" "ClusterRole" "namespace" "" "rules" $.clusterRules) -}}
{{- range $ns := . -}}
{{- $grants = append $grants (dict "kind" "Role" "namespace" $ns "rules" $.rules) -}}
{{- end -}}
{{- end -}}
{{- range $grants }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: {{ .kind }}
metadata:
  name: {{ $.name }}
  {{- with .namespace }}
  namespace: {{ . }}
  {{- end }}
  labels:
    {{- $labels | nindent 4 }}
rules:
  {{- .rules | nindent 2 }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: {{ .kind }}Binding
metadata:
  name: {{ $.name }}
  {{- with .namespace }}
  namespace: {{ . }}
  {{- end }}
  labels:
    {{- $labels | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: {{ .kind }}
  name: {{ $.name }}
subjects:
  - kind: ServiceAccount
    name: {{ $.name }}
    namespace: {{ $ctx.Release.Namespace }}
{{- end }}
{{- end -}}
