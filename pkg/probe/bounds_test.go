package probe

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kratix-community/statestore-webhook/internal/localenv"
)

func TestS3ProberEndsAnswersTooLargeToBeS3(t *testing.T) {
	for name, handler := range localenv.HostileAnswers {
		t.Run(name+" ends the probe as ResponseTooLarge", func(t *testing.T) {
			srv := startHandler(t, handler.ServeHTTP)
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
