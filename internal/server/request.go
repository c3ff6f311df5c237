package server

import (
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// requestLogger gives each request's log lines its UID, object name, operation and user.
// It replaces controller-runtime's default, which encodes whole structs by reflection on
// every request and was a sixth of the webhook's CPU under load.
func requestLogger(base logr.Logger, req *admission.Request) logr.Logger {
	if req == nil {
		return base
	}
	return base.WithValues("requestID", string(req.UID), "name", req.Name, "operation", string(req.Operation), "user", req.UserInfo.Username)
}

// withBodyTimeout gives h's request body a read deadline of timeout. The deadline is
// lifted once the body has been read, because the server keeps reading the connection in
// the background to notice a client going away, and a deadline passing there would cancel
// the request's context in the middle of a bucket probe. A body that fails to arrive gets
// controller-runtime's 400 and then the connection is closed: Go's server would otherwise
// keep it and read the rest of the body as the next request.
func withBodyTimeout(h http.Handler, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// controller-runtime answers a missing body itself, by comparing it to http.NoBody.
		if r.Body != nil && r.Body != http.NoBody {
			rc := http.NewResponseController(w)
			if err := rc.SetReadDeadline(time.Now().Add(timeout)); err == nil {
				r.Body = &deadlineBody{
					ReadCloser: r.Body,
					read:       func() { _ = rc.SetReadDeadline(time.Time{}) },
					failed:     func() { w.Header().Set("Connection", "close") },
				}
			}
		}
		h.ServeHTTP(w, r)
	})
}

// deadlineBody calls read when its body has been read to the end, or failed when reading
// it fails.
type deadlineBody struct {
	io.ReadCloser
	read, failed func()
	once         sync.Once
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF:
		b.once.Do(b.read)
	case err != nil:
		b.once.Do(b.failed)
	}
	return n, err
}
