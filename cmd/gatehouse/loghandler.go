package main

import (
	"context"
	"io"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"
)

// lineHandler writes the log as slog.JSONHandler does, byte for byte, and
// faster for the records that make up nearly all of it: a line per request,
// of plain strings and numbers. slog's handler formats each float through
// encoding/json and walks every attribute through its general machinery;
// on a single access check that was a thirteenth of the server's time.
// Anything else (groups, other kinds, text that needs escaping, derived
// loggers) goes to slog.JSONHandler, so this decides how fast a line is
// written, never what it says; FuzzLineHandler holds it to that.
//
// The writer must take whole lines from several goroutines at once, as
// logWriter does: the two handlers write to it independently.
type lineHandler struct {
	w    io.Writer
	slow *slog.JSONHandler
}

func newLineHandler(w io.Writer) *lineHandler {
	return &lineHandler{w: w, slow: slog.NewJSONHandler(w, nil)}
}

func (h *lineHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.slow.Enabled(ctx, l)
}

func (h *lineHandler) WithAttrs(as []slog.Attr) slog.Handler { return h.slow.WithAttrs(as) }
func (h *lineHandler) WithGroup(name string) slog.Handler    { return h.slow.WithGroup(name) }

var lineBuffers = sync.Pool{New: func() any { return new([]byte) }}

func (h *lineHandler) Handle(ctx context.Context, r slog.Record) error {
	buf := lineBuffers.Get().(*[]byte)
	defer func() {
		if cap(*buf) <= 16<<10 {
			lineBuffers.Put(buf)
		}
	}()
	line, ok := appendLine((*buf)[:0], r)
	*buf = line
	if !ok {
		return h.slow.Handle(ctx, r)
	}
	_, err := h.w.Write(line)
	return err
}

// appendLine appends r as slog.JSONHandler (with default options) writes it;
// ok is false for a record it does not write the same way.
func appendLine(b []byte, r slog.Record) (_ []byte, ok bool) {
	b = append(b, '{')
	if !r.Time.IsZero() {
		t := r.Time.Round(0)
		if y := t.Year(); y < 0 || y >= 10000 {
			return b, false
		}
		b = append(b, `"time":"`...)
		b = append(t.AppendFormat(b, time.RFC3339Nano), `",`...)
	}
	b = append(append(append(b, `"level":"`...), r.Level.String()...), `","msg":`...)
	if b, ok = appendPlain(b, r.Message); !ok {
		return b, false
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "" {
			ok = false
			return false
		}
		b = append(b, ',')
		if b, ok = appendPlain(b, a.Key); !ok {
			return false
		}
		b = append(b, ':')
		switch v := a.Value; v.Kind() {
		case slog.KindString:
			b, ok = appendPlain(b, v.String())
		case slog.KindInt64:
			b = strconv.AppendInt(b, v.Int64(), 10)
		case slog.KindUint64:
			b = strconv.AppendUint(b, v.Uint64(), 10)
		case slog.KindBool:
			b = strconv.AppendBool(b, v.Bool())
		case slog.KindDuration:
			b = strconv.AppendInt(b, int64(v.Duration()), 10)
		case slog.KindFloat64:
			b, ok = appendJSONFloat(b, v.Float64())
		default:
			ok = false
		}
		return ok
	})
	if !ok {
		return b, false
	}
	return append(b, "}\n"...), true
}

// appendPlain appends s as a JSON string when it needs no escaping (printable
// ASCII without quotes or backslashes); ok is false otherwise.
func appendPlain(b []byte, s string) (_ []byte, ok bool) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return b, false
		}
	}
	return append(append(append(b, '"'), s...), '"'), true
}

// appendJSONFloat appends f as encoding/json writes a float64; ok is false
// for the values it refuses (NaN, infinities).
func appendJSONFloat(b []byte, f float64) (_ []byte, ok bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}
