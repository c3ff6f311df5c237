//go:build benchpprof

package server

import (
	"net/http"
	"net/http/pprof"
)

// debugHandlers serve net/http/pprof on the metrics address. Only a build with the tag
// benchpprof has them, which `go run ./hack/bench -webhook-pprof DIR` makes for the
// webhooks it profiles; a release build serves no profile.
var debugHandlers = map[string]http.Handler{
	"/debug/pprof/":        http.HandlerFunc(pprof.Index),
	"/debug/pprof/profile": http.HandlerFunc(pprof.Profile),
}
