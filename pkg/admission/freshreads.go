package admission

import (
	"context"
	"sync"
)

// freshReads merges identical reads, such as a GitOps burst of stores that name the same
// Secret (or the same access review of it), without ever answering a caller with a read sent before it called: a caller
// joins only a read that has not been sent yet. While a read of a key is in flight,
// callers of that key wait together for the next one, which is sent once the one in
// flight is answered; so at most one read of a key is in flight, a burst costs two reads
// whatever its size, and a read that starts after a write completes sees the write.
// Nothing is kept once a read is answered. (singleflight, which lets a caller join a read
// already sent, could answer with a value from before a write that completed before the
// caller started.) The zero value is ready to use.
type freshReads[V any] struct {
	mu   sync.Mutex
	keys map[string]*readQueue[V]
}

// readQueue is one key's read in flight and the read its next callers wait for.
type readQueue[V any] struct {
	// next is the read that callers arriving now join; nil until one arrives while a
	// read is in flight.
	next *pendingRead[V]
}

// pendingRead is one read and the callers that share its answer.
type pendingRead[V any] struct {
	// ctx is the first caller's, without its cancellation: the read is not cancelled with
	// one caller, whose answer the others share. The reader's own timeout bounds it.
	ctx     context.Context
	waiters int
	done    chan struct{}
	value   V
	err     error
}

// do returns read(ctx)'s answer for key, from a read sent after do was called.
func (f *freshReads[V]) do(ctx context.Context, key string, read func(context.Context) (V, error)) (V, error) {
	f.mu.Lock()
	if f.keys == nil {
		f.keys = map[string]*readQueue[V]{}
	}
	q, inFlight := f.keys[key]
	if !inFlight {
		// Nothing in flight: send a read now, of this caller alone.
		f.keys[key] = &readQueue[V]{}
		f.mu.Unlock()
		r := &pendingRead[V]{ctx: context.WithoutCancel(ctx), done: make(chan struct{})}
		f.send(key, r, read)
		return r.value, r.err
	}
	if q.next == nil {
		q.next = &pendingRead[V]{ctx: context.WithoutCancel(ctx), done: make(chan struct{})}
	}
	r := q.next
	r.waiters++
	f.mu.Unlock()
	select {
	case <-r.done:
		return r.value, r.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// send makes read r, then sends the read that callers joined meanwhile, if any, or
// ends key's queue.
func (f *freshReads[V]) send(key string, r *pendingRead[V], read func(context.Context) (V, error)) {
	r.value, r.err = read(r.ctx)
	close(r.done)
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.keys[key]
	next := q.next
	if next == nil {
		delete(f.keys, key)
		return
	}
	q.next = nil
	go f.send(key, next, read)
}

// waiting is how many callers of key wait for a read not yet sent; for tests.
func (f *freshReads[V]) waiting(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if q := f.keys[key]; q != nil && q.next != nil {
		return q.next.waiters
	}
	return 0
}
