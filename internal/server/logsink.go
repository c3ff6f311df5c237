package server

import (
	"fmt"

	"github.com/go-logr/logr"

	"github.com/kratix-community/statestore-webhook/internal/text"
)

// SafeLogger returns base with every message and every string-like value bounded to
// text.MaxLogValue and cleared of credentials (text.ForLog) before base sees it. Store
// names, users and endpoints' error texts come from the network: a forged name can be
// megabytes long, and an endpoint can echo the Authorization header of the probe. The
// webhook installs it where it builds its logger, so that no call site has to remember.
func SafeLogger(base logr.Logger) logr.Logger {
	sink := base.GetSink()
	if sink == nil {
		return base
	}
	// The wrapper is one more frame between the caller and the sink.
	if cd, ok := sink.(logr.CallDepthLogSink); ok {
		sink = cd.WithCallDepth(1)
	}
	return logr.New(safeSink{sink: sink})
}

// safeSink cleans what it passes on to sink; see SafeLogger.
type safeSink struct{ sink logr.LogSink }

// Init does nothing: sink was initialised when its own logger was made.
func (safeSink) Init(logr.RuntimeInfo) {}

func (s safeSink) Enabled(level int) bool { return s.sink.Enabled(level) }

func (s safeSink) Info(level int, msg string, kv ...any) {
	s.sink.Info(level, text.ForLog(msg), safeValues(kv)...)
}

func (s safeSink) Error(err error, msg string, kv ...any) {
	if err != nil {
		err = safeError{text.ForLog(err.Error())}
	}
	s.sink.Error(err, text.ForLog(msg), safeValues(kv)...)
}

func (s safeSink) WithValues(kv ...any) logr.LogSink {
	return safeSink{sink: s.sink.WithValues(safeValues(kv)...)}
}

func (s safeSink) WithName(name string) logr.LogSink {
	return safeSink{sink: s.sink.WithName(text.ForLog(name))}
}

// WithCallDepth keeps the frames that callers such as logr.Logger.WithCallDepth skip.
func (s safeSink) WithCallDepth(depth int) logr.LogSink {
	if cd, ok := s.sink.(logr.CallDepthLogSink); ok {
		return safeSink{sink: cd.WithCallDepth(depth)}
	}
	return s
}

// maxLogItems is the most entries of a list a log line shows.
const maxLogItems = 16

// safeError is an error whose text has been made safe to log; it has no other methods,
// so the log shows only that text.
type safeError struct{ msg string }

func (e safeError) Error() string { return e.msg }

// safeValues returns kv with every key and every value that is or carries text made
// safe to log. Numbers, booleans and nil pass as they are; any other value (a struct, a
// map, a pointer) is logged as the text fmt gives it, since its fields may carry
// strings from a request.
func safeValues(kv []any) []any {
	if len(kv) == 0 {
		return kv
	}
	out := make([]any, len(kv))
	for i, v := range kv {
		out[i] = safeValue(v)
	}
	return out
}

func safeValue(v any) any {
	switch v := v.(type) {
	case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return v
	case string:
		return text.ForLog(v)
	case []byte:
		return text.ForLog(string(v))
	case error:
		return safeError{text.ForLog(v.Error())}
	case logr.Marshaler:
		return safeValue(v.MarshalLog())
	case fmt.Stringer:
		return text.ForLog(v.String())
	case []string:
		s := make([]string, min(len(v), maxLogItems))
		for i, e := range v[:len(s)] {
			s[i] = text.ForLog(e)
		}
		return s
	default:
		return text.ForLog(fmt.Sprintf("%+v", v))
	}
}
