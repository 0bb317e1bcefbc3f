package server

import (
	"context"
	"net"
	"net/http"
	"sync"
)

// An answer larger than net/http's connection buffer (4 KB) leaves the server in
// two system calls: the buffer, holding the header and the start of the body,
// when it fills, then the rest of the body straight from the handler's slice.
// On loopback and in a virtual machine each call is a trip through the kernel's
// network stack and a wake-up of the reader; a batch check's 12 KB answer paid
// two. A connection of GatheringListener can gather the writes of one answer and
// send them in one call: writeJSON gathers an answer it knows the length of, up
// to maxGathered bytes, and sends it before it returns, so nothing written is
// ever held past the handler's own write.

// maxGathered bounds what one answer gathers, and the buffers kept for it: at
// 256 KB the extra copy takes about 2.6 µs on the 2-vCPU benchmark machine,
// half the write it saves, and a longer answer is written in few calls for its
// length anyway, so it goes out as net/http writes it.
const maxGathered = 256 << 10

// gatherFrom is the smallest body worth gathering: a smaller one and its header
// fit net/http's buffer and leave in one call anyway.
const gatherFrom = 3 << 10

// GatheringListener returns ln, its connections able to gather an answer's
// writes. Serve it with ConnContext as the server's ConnContext.
func GatheringListener(ln net.Listener) net.Listener { return gatheringListener{ln} }

type gatheringListener struct{ net.Listener }

func (l gatheringListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	return &gatherConn{Conn: c}, nil
}

// ConnContext is http.Server's ConnContext for a GatheringListener: it lets the
// requests of a connection find it.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if g, ok := c.(*gatherConn); ok {
		return context.WithValue(ctx, gatherKey{}, g)
	}
	return ctx
}

type gatherKey struct{}

// gatherConnOf returns r's connection when it can gather.
func gatherConnOf(r *http.Request) *gatherConn {
	g, _ := r.Context().Value(gatherKey{}).(*gatherConn)
	return g
}

// gatherConn is a connection that, between start and send, keeps what it is
// given and writes it all at send. Only the goroutine serving the connection's
// request writes to it (net/http's background read only reads), so gathering
// needs no lock.
type gatherConn struct {
	net.Conn
	gathering bool
	buf       *[]byte
}

var gatherBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

func (c *gatherConn) Write(p []byte) (int, error) {
	if c.gathering {
		// A copy: the first part comes from net/http's buffer, which it fills
		// again before the answer is sent.
		*c.buf = append(*c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// CloseWrite lets net/http half-close the connection as it does a TCP one.
func (c *gatherConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *gatherConn) start() {
	c.gathering = true
	c.buf = gatherBuffers.Get().(*[]byte)
}

// send writes what was gathered in one call and stops gathering. net/http
// never saw the write, so it cannot know that it failed: a connection whose
// answer did not go out whole is closed here, or a client still reading it
// could take the next answer for the rest of this one.
func (c *gatherConn) send() {
	c.gathering = false
	buf := c.buf
	c.buf = nil
	if len(*buf) > 0 {
		if _, err := c.Conn.Write(*buf); err != nil {
			_ = c.Conn.Close()
		}
	}
	if cap(*buf) <= maxGathered+gatherFrom {
		*buf = (*buf)[:0]
		gatherBuffers.Put(buf)
	}
}
