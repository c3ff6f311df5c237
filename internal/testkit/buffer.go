package testkit

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"time"
)

// Buffer collects output that several goroutines write, such as a process's or a
// server's logs, so that a caller can search it while they run. It is safe for
// concurrent use; the zero value is empty and ready.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Len returns how many bytes were written so far; pass it to Since later to read only
// what a single step produced.
func (b *Buffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// Since returns what was written after the first offset bytes.
func (b *Buffer) Since(offset int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if offset > b.buf.Len() {
		return ""
	}
	return string(b.buf.Bytes()[offset:])
}

// SinceOnceContains waits, up to timeout, until what was written after offset contains
// want, and returns it then, or what there is when the time is up. A process's output
// reaches the buffer through a pipe, a moment after the process wrote it: a test that
// reads it at once after the request that caused it may find nothing yet.
func (b *Buffer) SinceOnceContains(ctx context.Context, offset int, want string, timeout time.Duration) string {
	var got string
	_ = Poll(ctx, timeout, func(context.Context) (bool, error) {
		got = b.Since(offset)
		return strings.Contains(got, want), nil
	})
	return got
}
