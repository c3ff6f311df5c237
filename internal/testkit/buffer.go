package testkit

import (
	"bytes"
	"sync"
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
