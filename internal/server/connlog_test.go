package server

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
)

func TestClosedConnectionsAreLoggedOncePerInterval(t *testing.T) {
	var lines []string
	log := newConnLog(funcr.New(func(_, args string) { lines = append(lines, args) }, funcr.Options{}), time.Hour)
	for i := range 1000 {
		log.record(ConnClosedHandshakeFailed, "10.0.0.1", errors.New("tls: client didn't provide a certificate "+strings.Repeat("x", i%2)))
	}
	log.record(ConnClosedHandshakeTimeout, "10.0.0.2", nil)
	if len(lines) != 1 {
		t.Fatalf("1001 closed connections wrote %d lines in one interval, want 1: %q", len(lines), lines)
	}
	if want := `"lastClient"="10.0.0.1" "lastError"="tls: client didn't provide a certificate " "handshake_failed"=1`; !strings.Contains(lines[0], want) {
		t.Errorf("the first line is %s, want it to contain %s", lines[0], want)
	}
	log.stop()
	if len(lines) != 2 {
		t.Fatalf("stopping wrote %d lines in all, want 2: %q", len(lines), lines)
	}
	if want := `"lastClient"="10.0.0.2" "handshake_failed"=999 "handshake_timeout"=1`; !strings.Contains(lines[1], want) {
		t.Errorf("the summary is %s, want it to contain %s", lines[1], want)
	}
}
