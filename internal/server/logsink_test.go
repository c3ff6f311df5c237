package server

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"

	"github.com/kratix-community/statestore-webhook/internal/text"
)

const testAccessKeyID = "AKIAIOSFODNN7EXAMPLE"

// echoedAuthorization is what an endpoint that echoes the probe's Authorization header
// puts in its error text.
const echoedAuthorization = "400 Bad Request: you sent Authorization: AWS4-HMAC-SHA256 Credential=" + testAccessKeyID +
	"/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0123456789abcdef"

// record returns a SafeLogger over a funcr logger and the lines it wrote.
func record() (logr.Logger, *[]string) {
	var lines []string
	base := funcr.New(func(prefix, args string) { lines = append(lines, prefix+" "+args) }, funcr.Options{Verbosity: 1})
	return SafeLogger(base), &lines
}

func TestSafeLoggerBoundsAndRedactsEverythingLogged(t *testing.T) {
	huge := strings.Repeat("n", 3<<20)
	cases := map[string]func(logr.Logger){
		"a huge name given with WithValues":  func(l logr.Logger) { l.WithValues("name", huge).Info("denied") },
		"a huge name given to Info":          func(l logr.Logger) { l.Info("denied", "name", huge) },
		"a huge logger name":                 func(l logr.Logger) { l.WithName(huge).Info("denied") },
		"a huge message":                     func(l logr.Logger) { l.Info(huge) },
		"an error that echoes Authorization": func(l logr.Logger) { l.Error(errors.New(echoedAuthorization), "probe failed") },
		"a wrapped error that echoes it": func(l logr.Logger) {
			l.Info("probe failed", "error", errors.Join(errors.New("probe"), errors.New(echoedAuthorization)))
		},
		"a Stringer that carries it": func(l logr.Logger) {
			l.Info("request", "url", &url.URL{Scheme: "https", Host: "s3", RawQuery: "X-Amz-Credential=" + testAccessKeyID})
		},
		"a list that carries it": func(l logr.Logger) {
			l.Info("headers", "values", []string{"Authorization: AWS4-HMAC-SHA256 Credential=" + testAccessKeyID})
		},
		"a struct that carries it": func(l logr.Logger) { l.Info("answer", "body", struct{ Text string }{echoedAuthorization}) },
		"bytes that carry it":      func(l logr.Logger) { l.Info("answer", "body", []byte(echoedAuthorization)) },
		"a huge list":              func(l logr.Logger) { l.Info("names", "names", strings.Split(strings.Repeat("a,", 1<<16), ",")) },
		"at a higher verbosity":    func(l logr.Logger) { l.V(1).Info("probe failed", "error", echoedAuthorization) },
	}
	for name, log := range cases {
		t.Run(name, func(t *testing.T) {
			l, lines := record()
			log(l)
			if len(*lines) != 1 {
				t.Fatalf("wrote %d lines, want 1", len(*lines))
			}
			line := (*lines)[0]
			// The line holds a handful of bounded values, their quotes and its keys.
			if limit := 4*text.MaxLogValue + 200; len(line) > limit {
				t.Errorf("the line is %d bytes, more than %d: %.200s...", len(line), limit, line)
			}
			if strings.Contains(line, testAccessKeyID) || strings.Contains(line, "0123456789abcdef") {
				t.Errorf("the line carries a credential: %s", line)
			}
		})
	}
}

func TestSafeLoggerKeepsWhatIsSafe(t *testing.T) {
	l, lines := record()
	l.WithName("client-auth").WithValues("requestID", "42").Error(errors.New(`bucket "b" does not exist`), "probe failed", "attempt", 2, "ok", false)
	want := `client-auth "msg"="probe failed" "error"="bucket \"b\" does not exist" "requestID"="42" "attempt"=2 "ok"=false`
	if len(*lines) != 1 || !strings.Contains((*lines)[0], want) {
		t.Errorf("lines = %q, want one that contains %s", *lines, want)
	}
}
