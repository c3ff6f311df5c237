package localenv

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

func TestBlackHoleAcceptsAndNeverAnswers(t *testing.T) {
	b, err := StartBlackHole()
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", b.Endpoint)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	if err := b.WaitAccepted(ctx, 2); err != nil {
		t.Fatalf("waiting for 2 accepted connections: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	for i, c := range conns {
		if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Errorf("connection %d after Close read %d bytes, %v; want nothing and EOF", i, n, err)
		}
		_ = c.Close()
	}
}

func TestHoldingAbortHoldsTheAbortUntilTheClientHangsUp(t *testing.T) {
	h, err := StartHoldingAbort()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.Stop() }()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, "http://"+h.Endpoint+"/kratix/k?uploadId=held", nil)
	if err != nil {
		t.Fatal(err)
	}
	answered := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		answered <- err
	}()

	<-h.Held()
	select {
	case err := <-answered:
		t.Fatalf("the abort was answered (%v), want it held", err)
	default:
	}
	cancel()
	if err := <-answered; err == nil {
		t.Error("the abort was answered, want it held until the client hung up")
	}
}
