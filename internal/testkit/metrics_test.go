package testkit

import "testing"

func TestMetricsSum(t *testing.T) {
	m, err := ParseMetrics(`# HELP statestore_webhook_probes_total Probes.
# TYPE statestore_webhook_probes_total counter
statestore_webhook_probes_total{reason="OK"} 3
statestore_webhook_probes_total{reason="Timeout"} 2
# TYPE statestore_webhook_probes_total_extra counter
statestore_webhook_probes_total_extra{reason="OK"} 100
# TYPE rest_client_requests_total counter
rest_client_requests_total{code="201",host="127.0.0.1:1",method="POST"} 7
rest_client_requests_total{code="200",host="127.0.0.1:1",method="GET"} 5
# TYPE plain_gauge gauge
plain_gauge 1.5
# TYPE duration_seconds histogram
duration_seconds_bucket{le="+Inf"} 4
duration_seconds_sum 2
duration_seconds_count 4
`)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		name   string
		labels []string
		want   float64
	}{
		"every series of a metric is summed":             {name: "statestore_webhook_probes_total", want: 5},
		"labels pick series":                             {name: "statestore_webhook_probes_total", labels: []string{"reason", "OK"}, want: 3},
		"several labels must all match":                  {name: "rest_client_requests_total", labels: []string{"code", "200", "method", "GET"}, want: 5},
		"a label that no series has matches none":        {name: "rest_client_requests_total", labels: []string{"code", "500"}, want: 0},
		"a metric whose name extends another's is apart": {name: "statestore_webhook_probes_total_extra", want: 100},
		"a metric without labels":                        {name: "plain_gauge", want: 1.5},
		"a histogram counts its observations":            {name: "duration_seconds", want: 4},
		"a metric that is not there is zero":             {name: "missing_total", want: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := m.Sum(tc.name, tc.labels...); got != tc.want {
				t.Fatalf("Sum = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseMetricsRefusesWhatIsNotTheTextFormat(t *testing.T) {
	if _, err := ParseMetrics("<html>not metrics</html>\n"); err == nil {
		t.Fatal("ParseMetrics took HTML")
	}
}
