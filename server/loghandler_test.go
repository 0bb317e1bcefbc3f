package server

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"testing"
	"time"
)

// FuzzLogHandler: NewLogHandler's handler writes every record as slog.JSONHandler does,
// whether its fast path takes the record or hands it on.
func FuzzLogHandler(f *testing.F) {
	f.Add("request", "request_id", "Zx8-q_1", int64(200), 0.412, int64(1764566400), uint8(0))
	f.Add("request", "route", "/api/projects/{project}/access/check", int64(-7), 1e21, int64(0), uint8(1))
	f.Add("a \"quoted\" line\n", "k", "é\u2028<&>\x00\xff", int64(math.MaxInt64), 1e-7, int64(-62135596801), uint8(2))
	f.Add("", "", "", int64(0), math.Inf(1), int64(253402300800), uint8(3))
	f.Add("m", "dup", "x", int64(1), -0.0, int64(5), uint8(4))
	f.Add("m", "n", "x", int64(1), math.NaN(), int64(5), uint8(5))
	f.Add("m", "n", "x", int64(1), 123456789.125, int64(5), uint8(6))
	f.Fuzz(func(t *testing.T, msg, key, text string, n int64, x float64, at int64, shape uint8) {
		var when time.Time
		if shape&1 == 0 {
			when = time.Unix(at, n%1e9).In(time.FixedZone("z", int(n%50_000)))
		}
		r := slog.NewRecord(when, slog.Level(int(n%13)-4), msg, 0)
		r.AddAttrs(slog.String(key, text), slog.Int64("n", n), slog.Float64("x", x), slog.Bool("b", n%2 == 0),
			slog.Uint64("u", uint64(n)), slog.Duration("d", time.Duration(n)))
		switch shape % 4 {
		case 1:
			r.AddAttrs(slog.Time("t", when))
		case 2:
			r.AddAttrs(slog.Group("g", slog.String("k", text)))
		case 3:
			r.AddAttrs(slog.Any("any", []int{1, 2}), slog.String(key, text))
		}
		var fast, slow bytes.Buffer
		errFast := NewLogHandler(&fast).Handle(context.Background(), r.Clone())
		errSlow := slog.NewJSONHandler(&slow, nil).Handle(context.Background(), r.Clone())
		if (errFast == nil) != (errSlow == nil) || !bytes.Equal(fast.Bytes(), slow.Bytes()) {
			t.Fatalf("lineHandler wrote %q (%v)\nslog.JSONHandler  %q (%v)", fast.Bytes(), errFast, slow.Bytes(), errSlow)
		}
	})
}

// TestLogHandlerTakesRequestLines: the line the server writes for each
// request goes by the fast path (were it handed on, the handler would be
// right but no faster), and a line it cannot write is handed on whole.
func TestLogHandlerTakesRequestLines(t *testing.T) {
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
	r.AddAttrs(slog.String("request_id", "Zx8-q_1AbC"), slog.String("method", "POST"), slog.String("route", "/api/projects/{project}/access/check"),
		slog.Int("status", 200), slog.Float64("duration_ms", 0.412), slog.Int64("user_id", 12))
	if _, ok := appendLine(nil, r); !ok {
		t.Fatal("a request line is not taken by the fast path")
	}
	var out bytes.Buffer
	h := NewLogHandler(&out)
	r = slog.NewRecord(time.Now(), slog.LevelWarn, "odd", 0)
	r.AddAttrs(slog.String("path", "/a\"b"), slog.Any("err", context.Canceled))
	if _, ok := appendLine(nil, r); ok {
		t.Fatal("the fast path took a line that needs escaping")
	}
	if err := h.Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if want := `"path":"/a\"b","err":"context canceled"}` + "\n"; !bytes.HasSuffix(out.Bytes(), []byte(want)) {
		t.Fatalf("handed-on line = %q, want it to end %q", out.String(), want)
	}
}

// BenchmarkLogHandler: a request line through lineHandler and through
// slog.JSONHandler, the handler it replaces.
func BenchmarkLogHandler(b *testing.B) {
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
	r.AddAttrs(slog.String("request_id", "Zx8-q_1AbCdEfGhI"), slog.String("method", "POST"), slog.String("route", "/api/projects/{project}/access/check"),
		slog.Int("status", 200), slog.Float64("duration_ms", 0.412), slog.Int64("user_id", 12))
	for _, h := range []struct {
		name string
		h    slog.Handler
	}{{"lineHandler", NewLogHandler(discard{})}, {"slog.JSONHandler", slog.NewJSONHandler(discard{}, nil)}} {
		b.Run(h.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				_ = h.h.Handle(context.Background(), r)
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
