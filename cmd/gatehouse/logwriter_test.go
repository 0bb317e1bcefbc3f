package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLogWriterKeepsEveryLine: lines written from many goroutines all reach the
// destination by Close, each whole and each writer's in its order.
func TestLogWriterKeepsEveryLine(t *testing.T) {
	var out lockedBuffer
	w := newLogWriter(&out)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				fmt.Fprintf(w, "{\"g\":%d,\"i\":%d}\n", g, i)
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	next := make([]int, 8)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	for _, l := range lines {
		var g, i int
		if _, err := fmt.Sscanf(l, "{\"g\":%d,\"i\":%d}", &g, &i); err != nil {
			t.Fatalf("a line came out broken: %q", l)
		}
		if i != next[g] {
			t.Fatalf("writer %d: line %d came where %d was due", g, i, next[g])
		}
		next[g]++
	}
	if len(lines) != 8000 {
		t.Errorf("%d lines out of 8000", len(lines))
	}
	fmt.Fprintln(w, "after close")
	if !strings.HasSuffix(out.String(), "after close\n") {
		t.Error("a line written after Close was lost")
	}
}

// TestLogWriterNeverBlocks: while the destination does not read, writes still return at
// once; past the memory bound they are counted, and the count is logged when it reads again.
func TestLogWriterNeverBlocks(t *testing.T) {
	release := make(chan struct{})
	dst := &blockingWriter{release: release}
	w := newLogWriter(dst)
	line := bytes.Repeat([]byte("x"), 1023)
	line = append(line, '\n')
	done := make(chan int)
	go func() {
		n := 0
		for range 2 * maxPendingLog / len(line) {
			w.Write(line)
			n++
		}
		done <- n
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("writes blocked behind a destination that does not read")
	}
	close(release)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := dst.String()
	if !strings.Contains(got, `"msg":"log lines dropped: the log destination did not keep up"`) {
		t.Fatal("lines were dropped without a word")
	}
	if n := strings.Count(got, "xxx\n"); n < maxPendingLog/len(line)-1 {
		t.Errorf("only %d lines kept; the bound holds about %d", n, maxPendingLog/len(line))
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// blockingWriter does not return from Write until release is closed.
type blockingWriter struct {
	release chan struct{}
	lockedBuffer
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	<-b.release
	return b.lockedBuffer.Write(p)
}

// TestLogWriterGathersLines: lines that arrive one at a time, as a steady stream of
// requests logs them, go out a batch per system call rather than one each, and a line
// reaches the destination without waiting for Close.
func TestLogWriterGathersLines(t *testing.T) {
	var out countingWriter
	w := newLogWriter(&out)
	defer w.Close()
	const lines = 400
	for i := range lines {
		fmt.Fprintf(w, "{\"i\":%d}\n", i)
		time.Sleep(100 * time.Microsecond)
	}
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(out.String(), "\n") < lines {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d lines reached the destination 5 s after the last was written", strings.Count(out.String(), "\n"), lines)
		}
		time.Sleep(time.Millisecond)
	}
	// 400 lines over at least 40 ms: a batch every logGather (5 ms) makes about 10 writes;
	// a write per line, 400.
	if n := out.writes(); n > lines/4 {
		t.Errorf("%d lines went out in %d writes: the writer did not let them gather", lines, n)
	}
}

// countingWriter is a lockedBuffer that counts the calls to Write.
type countingWriter struct {
	lockedBuffer
	mu sync.Mutex
	n  int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.lockedBuffer.Write(p)
}

func (c *countingWriter) writes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
