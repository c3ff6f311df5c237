package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
)

// MaxResponseBytes bounds every response body the probe reads, and MaxResponseHeaderBytes
// its response headers. minio-go decodes a 2xx XML body without a limit and reads error
// bodies up to 5 MiB, so without them one endpoint that streams an endless answer could
// run the webhook out of memory.
//
// The probe's requests are GET ?location, HEAD bucket, POST ?uploads and DELETE
// ?uploadId. Real S3 servers answer them in well under 4 KiB: a LocationConstraint or an
// InitiateMultipartUploadResult is a few hundred bytes, an S3 error body under 1 KiB
// (SignatureDoesNotMatch, the largest, quotes the canonical request in hex: 2 to 3 KiB),
// a proxy's HTML error page a few KiB, and their headers under 2 KiB. 64 KiB is far
// above all of them and small enough that every probe running at once
// (DefaultMaxConcurrent of them) reads at most 2 MiB.
const (
	MaxResponseBytes       = 64 << 10
	MaxResponseHeaderBytes = 64 << 10
)

// errResponseTooLarge ends the read of a body longer than MaxResponseBytes. minio-go
// returns it as it is, but the probe does not rely on that: the body also marks the
// probe (see bounds).
var errResponseTooLarge = errors.New("response exceeds the probe's size limit")

// headersTooLarge is how net/http says a response's headers passed
// MaxResponseHeaderBytes; it has no error value of its own.
const headersTooLarge = "server response headers exceeded"

// bounds records, for one probe, that an answer was too large. It travels in the
// context of the probe's requests, so whatever minio-go makes of the failed read, the
// probe's outcome names the real cause.
type bounds struct {
	exceeded atomic.Bool
}

type boundsKey struct{}

func withBounds(ctx context.Context) (context.Context, *bounds) {
	b := &bounds{}
	return context.WithValue(ctx, boundsKey{}, b), b
}

func (b *bounds) mark() {
	if b != nil {
		b.exceeded.Store(true)
	}
}

// boundedTransport limits the size of every response next returns.
type boundedTransport struct {
	next http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t boundedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	b, _ := req.Context().Value(boundsKey{}).(*bounds)
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		if strings.Contains(err.Error(), headersTooLarge) {
			b.mark()
		}
		return nil, err
	}
	resp.Body = &limitedBody{ReadCloser: resp.Body, left: MaxResponseBytes, bounds: b}
	return resp, nil
}

// limitedBody hands out at most left bytes of a body and then fails with
// errResponseTooLarge if there is more; it never reads more than one byte past the limit.
type limitedBody struct {
	io.ReadCloser
	left     int64
	exceeded bool
	bounds   *bounds
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.exceeded {
		return 0, errResponseTooLarge
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.ReadCloser.Read(p)
	if int64(n) <= b.left {
		b.left -= int64(n)
		return n, err
	}
	b.exceeded = true
	b.bounds.mark()
	return int(b.left), errResponseTooLarge
}

func responseTooLarge(t Target) *Failure {
	return &Failure{Reason: ReasonResponseTooLarge, Message: fmt.Sprintf(
		"%q answered with more than %d KiB, far more than any S3 answer to the probe; check that endpoint is an S3 API",
		t.Endpoint, MaxResponseBytes>>10), Err: errResponseTooLarge}
}
