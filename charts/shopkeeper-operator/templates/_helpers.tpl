{{- define "shopkeeper-operator.name" -}}shop-operator{{- end -}}

{{- define "shopkeeper-operator.labels" -}}
app.kubernetes.io/name: shop-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: shopkeeper
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "shopkeeper-operator.selector" -}}
app.kubernetes.io/name: shop-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
