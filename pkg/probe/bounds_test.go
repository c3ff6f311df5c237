package probe

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// endless answers one kind of request (an s3Operation) with status and prefix followed
// by filler until the client hangs up, and every other request as fakeS3 does.
func endless(op string, status int, prefix string) http.HandlerFunc {
	fake := newFakeS3(nil)
	filler := []byte(strings.Repeat("a", 32<<10))
	return func(w http.ResponseWriter, r *http.Request) {
		if s3Operation(r) != op {
			fake.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		if _, err := w.Write([]byte(prefix)); err != nil {
			return
		}
		for {
			if _, err := w.Write(filler); err != nil {
				return
			}
		}
	}
}

// endlessHeader answers every request with a header line that never ends.
func endlessHeader(w http.ResponseWriter, _ *http.Request) {
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	writeEndlessHeader(rw.Writer)
}

func writeEndlessHeader(w *bufio.Writer) {
	if _, err := w.WriteString("HTTP/1.1 200 OK\r\nX-Filler: "); err != nil {
		return
	}
	filler := strings.Repeat("a", 32<<10)
	for {
		if _, err := w.WriteString(filler); err != nil {
			return
		}
		if err := w.Flush(); err != nil {
			return
		}
	}
}

func TestS3ProberEndsAnswersTooLargeToBeS3(t *testing.T) {
	const xmlHead = `<?xml version="1.0" encoding="UTF-8"?>`
	tests := map[string]http.HandlerFunc{
		"an endless LocationConstraint":            endless("location", 200, xmlHead+`<LocationConstraint>`),
		"an endless error body to GET ?location":   endless("location", 404, xmlHead+`<Error><Code>NoSuchBucket</Code><Message>`),
		"an endless UploadId with a 200":           endless("initiate", 200, xmlHead+`<InitiateMultipartUploadResult><Bucket>kratix</Bucket><UploadId>`),
		"an endless error body to the write check": endless("initiate", 403, xmlHead+`<Error><Code>AccessDenied</Code><Message>`),
		"an endless body without XML":              endless("initiate", 500, ""),
		"an endless header":                        endlessHeader,
	}
	for name, handler := range tests {
		t.Run(name+" ends the probe as ResponseTooLarge", func(t *testing.T) {
			srv := startHandler(t, handler)
			endpoint := srv.Listener.Addr().String()

			// The budget is far longer than reading 64 KiB takes: a Timeout would mean
			// the probe read on.
			err := mustProber(t, S3Options{Timeout: 20 * time.Second}).Probe(context.Background(), testTarget(endpoint))

			checkFailure(t, err, &Failure{Reason: ReasonResponseTooLarge, Message: `"` + endpoint +
				`" answered with more than 64 KiB, far more than any S3 answer to the probe; check that endpoint is an S3 API`})
		})
	}
}

func TestS3ProberReadsAnswersUpToTheLimit(t *testing.T) {
	// A LocationConstraint padded to just under the limit is still an S3 answer.
	padding := strings.Repeat(" ", MaxResponseBytes-200)
	srv := startHandler(t, func(w http.ResponseWriter, r *http.Request) {
		if s3Operation(r) == "location" {
			_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?>` + padding +
				`<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">us-east-1</LocationConstraint>`))
			return
		}
		newFakeS3(nil).ServeHTTP(w, r)
	})

	err := mustProber(t, S3Options{}).Probe(context.Background(), testTarget(srv.Listener.Addr().String()))

	checkFailure(t, err, nil)
}
