package server

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"time"
)

// NewLogHandler returns the log handler gatehouse serve writes with:
// slog.JSONHandler's lines byte for byte, written faster for the records that
// make up nearly all of the log, the request lines of ServeHTTP, made of plain
// strings and numbers. slog's handler formats each float through
// encoding/json and walks every attribute through its general machinery;
// on a single access check that was a thirteenth of the server's time.
// Anything else (groups, other kinds, text that needs escaping, derived
// loggers) goes to slog.JSONHandler, so this decides how fast a line is
// written, never what it says; FuzzLogHandler holds it to that.
//
// w must take whole lines from several goroutines at once (gatehouse serve's
// log writer does): the fast path and slog's handler write to it independently.
func NewLogHandler(w io.Writer) slog.Handler {
	return &lineHandler{w: w, slow: slog.NewJSONHandler(w, nil)}
}

type lineHandler struct {
	w    io.Writer
	slow *slog.JSONHandler
}

func (h *lineHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.slow.Enabled(ctx, l)
}

func (h *lineHandler) WithAttrs(as []slog.Attr) slog.Handler { return h.slow.WithAttrs(as) }
func (h *lineHandler) WithGroup(name string) slog.Handler    { return h.slow.WithGroup(name) }

func (h *lineHandler) Handle(ctx context.Context, r slog.Record) error {
	buf := getBuffer()
	defer putBuffer(buf)
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
			b, ok = appendFloat(b, v.Float64())
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

// appendPlain appends s as a JSON string when it needs no escaping; ok is
// false otherwise.
func appendPlain(b []byte, s string) (_ []byte, ok bool) {
	if !plainASCII([]byte(s)) {
		return b, false
	}
	return append(append(append(b, '"'), s...), '"'), true
}
