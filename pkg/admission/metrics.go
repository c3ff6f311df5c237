package admission

import (
	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	ctrladmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

var admissionsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "statestore_webhook_admissions_total",
	Help: "Admission requests answered, by webhook (mutate, validate), operation and result (allowed, denied, error).",
}, []string{"webhook", "operation", "result"})

func init() {
	metrics.Registry.MustRegister(admissionsTotal)
}

func recordAdmission(webhook string, op admissionv1.Operation, resp ctrladmission.Response) {
	admissionsTotal.WithLabelValues(webhook, operationLabel(op), admissionResult(&resp)).Inc()
}

// admissionResult is the metric's result label for resp: allowed, denied or error.
func admissionResult(resp *ctrladmission.Response) string {
	switch {
	case resp.Allowed:
		return "allowed"
	case resp.Result != nil && (resp.Result.Code >= 500 || resp.Result.Code == 400):
		return "error"
	default:
		return "denied"
	}
}

// operationLabel keeps the label to the operations the API server sends: anyone who
// reaches the port can put any string in a request, and each would be a new series.
func operationLabel(op admissionv1.Operation) string {
	switch op {
	case admissionv1.Create, admissionv1.Update, admissionv1.Delete, admissionv1.Connect:
		return string(op)
	default:
		return "other"
	}
}
