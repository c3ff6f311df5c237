//go:build !benchpprof

package server

import "net/http"

// debugHandlers are none in a release build; see pprof.go.
var debugHandlers map[string]http.Handler
