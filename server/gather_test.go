package server_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/license"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

// countingListener counts the writes its connections receive, and can make them fail.
type countingListener struct {
	net.Listener
	writes atomic.Int64
	fail   atomic.Bool // writes fail from now on
	mu     sync.Mutex
	conns  []*countingConn
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	cc := &countingConn{Conn: c, l: l}
	l.mu.Lock()
	l.conns = append(l.conns, cc)
	l.mu.Unlock()
	return cc, nil
}

type countingConn struct {
	net.Conn
	l      *countingListener
	closed atomic.Bool
}

func (c *countingConn) Write(p []byte) (int, error) {
	if c.l.fail.Load() {
		return 0, errors.New("the network went away")
	}
	c.l.writes.Add(1)
	return c.Conn.Write(p)
}

func (c *countingConn) Close() error {
	c.closed.Store(true)
	return c.Conn.Close()
}

// serveCounted serves h as gatehouse serve does (gathering when gather is set), its
// connections counted.
func serveCounted(t *testing.T, h http.Handler, gather bool) (url string, l *countingListener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l = &countingListener{Listener: ln}
	srv := &http.Server{Handler: h}
	var served net.Listener = l
	if gather {
		served, srv.ConnContext = server.GatheringListener(l), server.ConnContext
	}
	go func() { _ = srv.Serve(served) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String(), l
}

// TestGatheredAnswers: served as gatehouse serve serves, an answer longer than
// net/http's buffer (a batch check, a list page) leaves in one write, header and body,
// byte for byte what the server answers without gathering; one that fits the buffer in
// one write as before. Served without gathering, the same answers take two writes, so
// the count can tell.
func TestGatheredAnswers(t *testing.T) {
	db := sqltest.Open(t, "sqlite")
	e := newEnvOn(t, db, license.Enterprise)
	var checks []string
	for range 40 {
		id := e.owner.create(0)
		checks = append(checks, fmt.Sprintf(`{"kind":"feature_flags","id":%s,"action":"edit"}`, id[strings.LastIndex(id, "/")+1:]))
	}
	batch := `{"checks":[` + strings.Join(checks, ",") + `]}`
	single := `{"checks":[` + checks[0] + `]}`
	h := server.New(testConfig(db, license.Enterprise))
	type answer struct {
		status int
		header http.Header
		body   []byte
	}
	ask := func(url, method, path, body string) answer {
		t.Helper()
		req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.owner.token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return answer{res.StatusCode, res.Header, b}
	}
	requests := []struct {
		method, path, body string
		long               bool // longer than net/http's 4 KB buffer
	}{
		{"POST", e.projPath("/access/check"), batch, true},
		{"GET", e.projPath("/feature_flags?limit=40"), "", true},
		{"POST", e.projPath("/access/check"), single, false},
		{"GET", e.projPath("/feature_flags/404404"), "", false},    // an error's answer
		{"HEAD", e.projPath("/feature_flags?limit=40"), "", false}, // a long answer's header alone
	}
	gathered, gl := serveCounted(t, h, true)
	plain, pl := serveCounted(t, h, false)
	for _, rq := range requests {
		const times = 5
		g0, p0 := gl.writes.Load(), pl.writes.Load()
		var got, want answer
		for range times {
			got = ask(gathered, rq.method, rq.path, rq.body)
			want = ask(plain, rq.method, rq.path, rq.body)
		}
		gw, pw := gl.writes.Load()-g0, pl.writes.Load()-p0
		if got.status != want.status || !bytes.Equal(got.body, want.body) {
			t.Errorf("%s %s gathered = %d %.200s, want %d %.200s", rq.method, rq.path, got.status, got.body, want.status, want.body)
		}
		for _, k := range []string{"Content-Type", "Content-Length"} {
			if got.header.Get(k) != want.header.Get(k) {
				t.Errorf("%s %s gathered %s = %q, want %q", rq.method, rq.path, k, got.header.Get(k), want.header.Get(k))
			}
		}
		if gw != times {
			t.Errorf("%s %s (%d bytes): %d writes for %d answers gathered, want one each", rq.method, rq.path, len(got.body), gw, times)
		}
		if rq.long && pw < 2*times {
			t.Errorf("%s %s (%d bytes): %d writes for %d answers without gathering: the answer no longer tests a long one", rq.method, rq.path, len(want.body), pw, times)
		}
	}
}

// TestGatheredAnswerLost: when a gathered answer cannot be written, the connection is
// closed, so that the client sees it fail at once rather than waiting on a connection
// the server thinks it answered (and that a later answer could be read as the rest of
// this one).
func TestGatheredAnswerLost(t *testing.T) {
	db := sqltest.Open(t, "sqlite")
	e := newEnvOn(t, db, license.Enterprise)
	url, l := serveCounted(t, server.New(testConfig(db, license.Enterprise)), true)
	path := e.projPath("/feature_flags?limit=40")
	for range 12 {
		e.owner.create(0)
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	get := func() (*http.Response, error) {
		req, _ := http.NewRequest("GET", url+path, nil)
		req.Header.Set("Authorization", "Bearer "+e.owner.token)
		return hc.Do(req)
	}
	res, err := get()
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(res.Body); res.StatusCode != 200 || len(b) < 4<<10 {
		t.Fatalf("list = %d, %d bytes; want 200 and longer than 4 KB", res.StatusCode, len(b))
	}
	res.Body.Close()
	l.fail.Store(true)
	start := time.Now()
	if res, err := get(); err == nil {
		res.Body.Close()
		t.Fatalf("list answered %d through a connection that cannot write", res.StatusCode)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the failed answer took %v to show: the connection was left open", d)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		if !c.closed.Load() {
			t.Errorf("a connection whose answer was lost is still open")
		}
	}
}
