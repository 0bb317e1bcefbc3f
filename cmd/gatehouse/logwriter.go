package main

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// logWriter takes the server's log lines off the request path: Write appends a line to
// memory and returns; one goroutine writes whatever has gathered to the destination in a
// single system call. A request therefore never waits for a pipe or a disk, and a busy
// server writes its lines a batch at a time instead of one call each: once woken, the
// goroutine lets lines gather for logGather before it writes (see there).
//
// Nothing accepted is lost on a clean shutdown: Close writes out everything before it
// returns. Memory is bounded: while maxPendingLog bytes already wait (the destination has
// stopped reading), further lines are counted and dropped rather than block requests, and
// the count is written as a line of its own once the destination reads again.
type logWriter struct {
	out  io.Writer
	wake chan struct{} // a line is waiting; capacity 1
	done chan struct{} // closed when the writer goroutine has written everything and ended

	mu      sync.Mutex
	pending []byte
	dropped int
	closed  bool
	err     error // the destination's first failure, for Close
}

// maxPendingLog bounds the lines held in memory: about 20,000 request lines.
const maxPendingLog = 8 << 20

// logGather is how long the writer lets lines gather after the first one wakes it. Woken
// for every line, it wrote nearly one line per system call at 17,000 requests a second
// (0.87 writes to the log per request, counted in /proc/PID/io), and the process reading
// the log was woken as often: on two cores, that was machine time taken from requests.
// A line reaches the destination at most this much later.
const logGather = 5 * time.Millisecond

func newLogWriter(out io.Writer) *logWriter {
	w := &logWriter{out: out, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go w.run()
	return w
}

// Write keeps a copy of p (slog reuses its buffer) and returns at once.
func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	switch {
	case w.closed:
		// A line logged while or after Close runs (a goroutine still stopping)
		// goes out directly.
		w.mu.Unlock()
		return w.out.Write(p)
	case len(w.pending)+len(p) > maxPendingLog:
		w.dropped++
	default:
		w.pending = append(w.pending, p...)
	}
	// Under the lock, so that Close cannot close wake in between.
	select {
	case w.wake <- struct{}{}:
	default: // already woken: the line goes with the batch it is about to take
	}
	w.mu.Unlock()
	return len(p), nil
}

func (w *logWriter) run() {
	defer close(w.done)
	var batch []byte
	for {
		_, open := <-w.wake
		if open {
			time.Sleep(logGather) // Close ends a sleep's worth of waiting at most
		}
		w.mu.Lock()
		batch, w.pending = w.pending, batch[:0]
		dropped := w.dropped
		w.dropped = 0
		w.mu.Unlock()
		if dropped > 0 {
			batch = fmt.Appendf(batch, `{"time":%q,"level":"WARN","msg":"log lines dropped: the log destination did not keep up","dropped":%d}`+"\n",
				time.Now().Format(time.RFC3339Nano), dropped)
		}
		if len(batch) > 0 {
			if _, err := w.out.Write(batch); err != nil {
				w.mu.Lock()
				if w.err == nil {
					w.err = err
				}
				w.mu.Unlock()
			}
		}
		if !open {
			return
		}
	}
}

// Close writes out every line accepted so far and stops the writer goroutine. Lines
// written afterwards go straight to the destination.
func (w *logWriter) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	close(w.wake)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}
