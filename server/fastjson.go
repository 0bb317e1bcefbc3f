package server

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Resource pages are most of what the API writes: a hundred objects, each a
// stored JSON document plus the caller's decision. encoding/json decodes
// every document into a map, reflects over the answer and re-validates every
// stored value on the way out, and that cost more than the query and the
// decisions together. These fast paths cover the shapes the resource
// handlers produce and decline everything else, which then goes through
// encoding/json as before: they decide how fast an answer is written, never
// what it says. FuzzFastJSON holds them to encoding/json byte for byte.

// maxFastDepth bounds the nesting the validator follows; deeper documents go
// to encoding/json.
const maxFastDepth = 64

// decodeRawObject is json.Unmarshal(data, &map[string]json.RawMessage) for
// an object whose keys are plain ASCII; ok is false for anything else. The
// values alias data.
func decodeRawObject(data []byte) (m map[string]json.RawMessage, ok bool) {
	p := jsonScan{b: data}
	if !p.lit('{') {
		return nil, false
	}
	m = make(map[string]json.RawMessage, bytes.Count(data, []byte{':'}))
	if !p.lit('}') {
		for {
			key, ok := p.plainBytes()
			if !ok || !p.lit(':') {
				return nil, false
			}
			p.ws()
			start := p.i
			if !p.value(0, true) {
				return nil, false
			}
			// As json.Unmarshal, the last of repeated keys wins.
			m[string(key)] = json.RawMessage(data[start:p.i])
			if p.lit(',') {
				continue
			}
			if p.lit('}') {
				break
			}
			return nil, false
		}
	}
	p.ws()
	return m, p.i == len(data)
}

// compactJSON reports whether b is one JSON value with no whitespace outside
// strings: what encoding/json writes for a json.RawMessage without changing it.
func compactJSON(b []byte) bool {
	p := jsonScan{b: b}
	return p.value(0, false) && p.i == len(b)
}

// value reads one JSON value at p.i, checking its syntax. With spaces, the
// whitespace JSON allows between tokens is skipped; without, it refuses it.
func (p *jsonScan) value(depth int, spaces bool) bool {
	if depth > maxFastDepth || p.i >= len(p.b) {
		return false
	}
	skip := func() {
		if spaces {
			p.ws()
		}
	}
	switch c := p.b[p.i]; {
	case c == '"':
		return p.stringToken()
	case c == '{':
		return p.sequence('}', spaces, func() bool {
			if p.i >= len(p.b) || p.b[p.i] != '"' || !p.stringToken() {
				return false
			}
			skip()
			if p.i >= len(p.b) || p.b[p.i] != ':' {
				return false
			}
			p.i++
			skip()
			return p.value(depth+1, spaces)
		})
	case c == '[':
		return p.sequence(']', spaces, func() bool { return p.value(depth+1, spaces) })
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	}
	return false
}

// appendFloat writes f as encoding/json does: 'f' format, 'e' for very large
// and very small magnitudes with "e-09" shortened to "e-9"; NaN and the
// infinities have no JSON form.
func appendFloat(dst []byte, f float64) ([]byte, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, true
}

// sequence reads an object or array from its opening bracket to close: item
// for each element, with commas between.
func (p *jsonScan) sequence(close byte, spaces bool, item func() bool) bool {
	skip := func() {
		if spaces {
			p.ws()
		}
	}
	p.i++
	skip()
	if p.i < len(p.b) && p.b[p.i] == close {
		p.i++
		return true
	}
	for {
		if !item() {
			return false
		}
		skip()
		if p.i >= len(p.b) {
			return false
		}
		switch p.b[p.i] {
		case ',':
			p.i++
			skip()
		case close:
			p.i++
			return true
		default:
			return false
		}
	}
}

func (p *jsonScan) literal(w string) bool {
	if !bytes.HasPrefix(p.b[p.i:], []byte(w)) {
		return false
	}
	p.i += len(w)
	return true
}

// stringToken reads a JSON string starting at its quote. Like encoding/json's
// scanner it checks escapes and control characters, not UTF-8.
func (p *jsonScan) stringToken() bool {
	p.i++ // the opening quote
	for p.i < len(p.b) {
		c := p.b[p.i]
		p.i++
		switch {
		case c == '"':
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if p.i >= len(p.b) {
				return false
			}
			e := p.b[p.i]
			p.i++
			switch e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if p.i+4 > len(p.b) {
					return false
				}
				for _, h := range p.b[p.i : p.i+4] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return false
					}
				}
				p.i += 4
			default:
				return false
			}
		}
	}
	return false
}

// number reads -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?.
func (p *jsonScan) number() bool {
	digits := func() int {
		start := p.i
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
		}
		return p.i - start
	}
	if p.b[p.i] == '-' {
		p.i++
	}
	if p.i < len(p.b) && p.b[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return false
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return false
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}

// appendFastJSON appends v as encode writes it (without the final newline)
// when v is made only of what resource answers contain; ok is false
// otherwise, and dst is then to be discarded.
func appendFastJSON(dst []byte, v any) (_ []byte, ok bool) {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), true
	case bool:
		return strconv.AppendBool(dst, v), true
	case int:
		return strconv.AppendInt(dst, int64(v), 10), true
	case int64:
		return strconv.AppendInt(dst, v, 10), true
	case float64:
		return appendFloat(dst, v)
	case string:
		return appendJSONString(dst, []byte(v)), true
	case json.RawMessage:
		if v == nil {
			return append(dst, "null"...), true
		}
		if !compactJSON(v) {
			return dst, false
		}
		return append(dst, v...), true
	case time.Time:
		b, err := v.MarshalJSON()
		return append(dst, b...), err == nil
	case *string:
		if v == nil {
			return append(dst, "null"...), true
		}
		return appendJSONString(dst, []byte(*v)), true
	case *userBasic:
		if v == nil {
			return append(dst, "null"...), true
		}
		dst = strconv.AppendInt(append(dst, `{"id":`...), v.ID, 10)
		dst = appendJSONString(append(dst, `,"uuid":`...), []byte(v.UUID))
		dst = appendJSONString(append(dst, `,"distinct_id":`...), []byte(v.DistinctID))
		dst = appendJSONString(append(dst, `,"first_name":`...), []byte(v.FirstName))
		dst = appendJSONString(append(dst, `,"email":`...), []byte(v.Email))
		return append(dst, '}'), true
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, strings.Compare)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(appendJSONString(dst, []byte(k)), ':')
			if dst, ok = appendFastJSON(dst, v[k]); !ok {
				return dst, false
			}
		}
		return append(dst, '}'), true
	case []map[string]any:
		if v == nil {
			return append(dst, "null"...), true
		}
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, ok = appendFastJSON(dst, e); !ok {
				return dst, false
			}
		}
		return append(dst, ']'), true
	case resourceAnswer:
		return v.appendJSON(dst)
	case []resourceAnswer:
		if v == nil {
			return append(dst, "null"...), true
		}
		dst = append(dst, '[')
		for i := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, ok = v[i].appendJSON(dst); !ok {
				return dst, false
			}
		}
		return append(dst, ']'), true
	case page:
		dst = strconv.AppendInt(append(dst, `{"count":`...), int64(v.Count), 10)
		dst, _ = appendFastJSON(append(dst, `,"next":`...), v.Next)
		dst, _ = appendFastJSON(append(dst, `,"previous":`...), v.Previous)
		if dst, ok = appendFastJSON(append(dst, `,"results":`...), v.Results); !ok {
			return dst, false
		}
		return append(dst, '}'), true
	}
	return dst, false
}
