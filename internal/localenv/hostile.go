package localenv

import (
	"net"
	"net/http"
	"slices"
	"strings"
)

// HostileAnswers are the ways an endpoint can answer a bucket probe without end, keyed
// by a sentence: each streams its answer to one of the probe's requests until the client
// hangs up, and answers the others as S3 would, so that the probe reaches it.
var HostileAnswers = map[string]http.Handler{
	"an endless LocationConstraint":            endlessAnswer("location", http.StatusOK, xmlHeader+`<LocationConstraint>`),
	"an endless error body to GET ?location":   endlessAnswer("location", http.StatusNotFound, xmlHeader+`<Error><Code>NoSuchBucket</Code><Message>`),
	"an endless UploadId with a 200":           endlessAnswer("initiate", http.StatusOK, xmlHeader+`<InitiateMultipartUploadResult><Bucket>kratix</Bucket><UploadId>`),
	"an endless error body to the write check": endlessAnswer("initiate", http.StatusForbidden, xmlHeader+`<Error><Code>AccessDenied</Code><Message>`),
	"an endless body that is not XML":          endlessAnswer("initiate", http.StatusInternalServerError, ""),
	"an endless header":                        http.HandlerFunc(endlessHeader),
}

// HostileKinds are the keys of HostileAnswers in a fixed order.
func HostileKinds() []string {
	kinds := make([]string, 0, len(HostileAnswers))
	for k := range HostileAnswers {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	return kinds
}

// Hostile is a local plain-HTTP endpoint serving one of HostileAnswers.
type Hostile struct {
	// Endpoint is its host:port.
	Endpoint string
	srv      *http.Server
}

// StartHostile serves HostileAnswers[kind] on a free port of 127.0.0.1.
func StartHostile(kind string) (*Hostile, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &Hostile{Endpoint: l.Addr().String(), srv: &http.Server{Handler: HostileAnswers[kind]}}
	go func() { _ = h.srv.Serve(l) }()
	return h, nil
}

// Stop closes the listener and every connection.
func (h *Hostile) Stop() error {
	return h.srv.Close()
}

const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>`

// filler is what endless answers repeat.
var filler = []byte(strings.Repeat("a", 32<<10))

// endlessAnswer answers the request op ("location" for GET ?location, "initiate" for
// POST ?uploads) with status and a body that starts with prefix and never ends.
func endlessAnswer(op string, status int, prefix string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var this string
		switch {
		case r.Method == http.MethodGet && q.Has("location"):
			this = "location"
		case r.Method == http.MethodPost && q.Has("uploads"):
			this = "initiate"
		}
		w.Header().Set("Content-Type", "application/xml")
		if this != op {
			if this == "location" {
				_, _ = w.Write([]byte(xmlHeader + `<LocationConstraint>us-east-1</LocationConstraint>`))
			}
			return // HEAD bucket: 200
		}
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

// endlessHeader answers with a header line that never ends.
func endlessHeader(w http.ResponseWriter, _ *http.Request) {
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	if _, err := rw.WriteString("HTTP/1.1 200 OK\r\nX-Filler: "); err != nil {
		return
	}
	for {
		if _, err := rw.Write(filler); err != nil {
			return
		}
		if err := rw.Flush(); err != nil {
			return
		}
	}
}
