package server

import (
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// ConnLogInterval is how often, at most, the webhook logs the connections it closed
// before or instead of serving them. A flood of failed handshakes would otherwise write a
// line each.
const ConnLogInterval = time.Minute

// connLog logs closed connections summarised: the first after a quiet interval at once,
// with its client and error, and the rest of each interval in one line of counts at its
// end.
type connLog struct {
	log      logr.Logger
	interval time.Duration

	mu     sync.Mutex
	counts map[string]int
	client string
	err    error
	timer  *time.Timer
}

func newConnLog(log logr.Logger, interval time.Duration) *connLog {
	return &connLog{log: log, interval: interval, counts: map[string]int{}}
}

func (c *connLog) record(reason, client string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts[reason]++
	c.client, c.err = client, err
	if c.timer != nil {
		return // a line is due at the end of the interval
	}
	c.write()
	c.timer = time.AfterFunc(c.interval, c.flush)
}

// flush writes what the interval gathered; an interval with nothing ends the summaries
// until the next closed connection.
func (c *connLog) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.counts) == 0 {
		c.timer = nil
		return
	}
	c.write()
	c.timer = time.AfterFunc(c.interval, c.flush)
}

// write logs the counts and the last client and error, and clears them; c.mu is held.
func (c *connLog) write() {
	kv := []any{"lastClient", c.client}
	if c.err != nil {
		kv = append(kv, "lastError", c.err.Error())
	}
	for _, reason := range ConnClosedReasons {
		if n := c.counts[reason]; n > 0 {
			kv = append(kv, reason, n)
		}
	}
	c.log.Info("closed connections before serving them (counts since the last such line; at most one line a "+c.interval.String()+")", kv...)
	clear(c.counts)
	c.client, c.err = "", nil
}

// stop writes what is left and stops the summaries.
func (c *connLog) stop() {
	c.mu.Lock()
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	c.mu.Unlock()
	c.flush()
}
