package server

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
)

// The access/check endpoint answers batches of up to a thousand decisions,
// and encoding/json's reflection cost several times the decisions
// themselves. These are its fast paths: a reader of the body in the shape
// clients send and a writer of the results. Anything the reader does not
// recognise (escapes, non-ASCII text, unknown or repeated keys, numbers
// other than plain integers) goes to encoding/json as before, so it only
// ever decides how fast an answer comes, never what it is; FuzzCheckBody
// holds it to that.

// checkInput is one element of "checks".
type checkInput struct {
	UserUUID *string         `json:"user_uuid"`
	Kind     string          `json:"kind" api:"required"`
	ID       json.RawMessage `json:"id" api:"required"`
	Action   string          `json:"action" api:"required,enum=view|edit|manage"`
}

// aboutOther reports whether the check names a user other than the caller
// (whose uuid is me), whom it is then about.
func (ch *checkInput) aboutOther(me string) bool {
	return ch.UserUUID != nil && *ch.UserUUID != me
}

// sameMember reports whether the check names the same user as prev, a check
// about another member before it (nil for none).
func (ch *checkInput) sameMember(prev *checkInput) bool {
	return prev != nil && *prev.UserUUID == *ch.UserUUID
}

type checkRequest struct {
	Checks []checkInput `json:"checks" api:"required"`
}

// parseChecks reads {"checks": [{"kind": …, "id": …, "action": …,
// "user_uuid": …}, …]} in its plain form, appending the checks to dst[:0]
// (which it reuses when it is large enough); ok is false for anything else.
func parseChecks(dst []checkInput, data []byte) (checks []checkInput, ok bool) {
	p := jsonScan{b: data}
	if !p.lit('{') {
		return nil, false
	}
	if key, ok := p.plainBytes(); !ok || string(key) != "checks" || !p.lit(':') || !p.lit('[') {
		return nil, false
	}
	// One check per object in the body at most: sizing the slice up front
	// spares growing (and copying) it a dozen times.
	checks = slices.Grow(dst[:0], bytes.Count(data, []byte{'}'}))
	if !p.lit(']') {
		// The last two checks read whole: batches often alternate two shapes (an
		// action for every other check, say).
		var like [2]checkLike
		next := 0
		for {
			ch, ok := like[0].match(&p)
			if !ok {
				ch, ok = like[1].match(&p)
			}
			if !ok {
				start := p.i
				var id [2]int
				if ch, id, ok = p.check(); !ok {
					return nil, false
				}
				like[next].learn(&p, start, ch, id)
				next ^= 1
			}
			checks = append(checks, ch)
			if p.lit(',') {
				continue
			}
			if p.lit(']') {
				break
			}
			return nil, false
		}
	}
	if !p.lit('}') {
		return nil, false
	}
	p.ws()
	return checks, p.i == len(p.b)
}

// jsonScan reads a JSON text from b[i:].
type jsonScan struct {
	b      []byte
	i      int
	recent [4]string
	next   int
	uuid   *string  // the last user_uuid read
	uuids  []string // the slab uuid points into: full, it is replaced, never grown
}

// checkLike is a check read whole, as the pattern of the next ones: a batch's checks
// mostly differ in their ids alone, and a check whose bytes match the pattern's around an
// integer id is read with two comparisons instead of key by key.
type checkLike struct {
	before, after []byte     // the pattern's bytes before and after its id
	ch            checkInput // the pattern's fields, but its id
}

// learn takes the check ch just read from p.b[start:p.i] as the pattern, if its id was
// an integer, at p.b[id[0]:id[1]].
func (l *checkLike) learn(p *jsonScan, start int, ch checkInput, id [2]int) {
	if id[1] == 0 {
		l.before = nil
		return
	}
	l.before, l.after, l.ch = p.b[start:id[0]], p.b[id[1]:p.i], ch
	l.ch.ID = nil
}

// match reads the next check if its bytes are the pattern's around an integer id, as
// check would read it; ok is false (and nothing is read) otherwise.
func (l *checkLike) match(p *jsonScan) (ch checkInput, ok bool) {
	at := p.i
	if l.before == nil || !bytes.HasPrefix(p.b[at:], l.before) {
		return ch, false
	}
	from := at + len(l.before)
	p.i = from
	if !p.integer() || !bytes.HasPrefix(p.b[p.i:], l.after) {
		p.i = at
		return ch, false
	}
	ch = l.ch
	ch.ID = json.RawMessage(p.b[from:p.i])
	p.i += len(l.after)
	return ch, true
}

func (p *jsonScan) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// lit skips whitespace and then c, reporting whether c was there.
func (p *jsonScan) lit(c byte) bool {
	// Bodies are mostly written without whitespace: c itself first.
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// plainBytes skips whitespace and reads a string of printable ASCII without
// escapes, returning its contents.
func (p *jsonScan) plainBytes() ([]byte, bool) {
	if !p.lit('"') {
		return nil, false
	}
	start := p.i
	// One table read a byte: plain holds printable ASCII other than '"' and '\\'.
	for p.i < len(p.b) && plain[p.b[p.i]] {
		p.i++
	}
	if p.i < len(p.b) && p.b[p.i] == '"' {
		p.i++
		return p.b[start : p.i-1], true
	}
	return nil, false
}

// plainString is plainBytes as a string. Clients repeat the same kinds and
// actions check after check, so the last few strings are reused instead of
// allocated again.
func (p *jsonScan) plainString() (string, bool) {
	// A string read lately is compared whole where it stands, quotes included
	// (it was checked for escapes when it was first read): a batch about one
	// member repeats a 36-character uuid in every check.
	p.ws()
	for _, s := range p.recent {
		if p.quoted(s) {
			return s, true
		}
	}
	b, ok := p.plainBytes()
	if !ok {
		return "", false
	}
	for _, s := range p.recent {
		if s == string(b) {
			return s, true
		}
	}
	s := string(b)
	p.recent[p.next%len(p.recent)] = s
	p.next++
	return s, true
}

// quoted reads s where it stands, in quotes, if it is there: s was read before and
// checked for escapes then, so its bytes are compared whole.
func (p *jsonScan) quoted(s string) bool {
	rest, n := p.b[p.i:], len(s)
	if n == 0 || len(rest) < n+2 || rest[0] != '"' || rest[n+1] != '"' || string(rest[1:n+1]) != s {
		return false
	}
	p.i += n + 2
	return true
}

// uuidString reads a user_uuid. Checks about the same member share one copy of it,
// which nothing writes to, found whole where it stands. Uuids stay out of recent: in
// a batch about many members each would push a kind or an action out, to be
// allocated again; and their copies are taken from a slab, not one by one.
func (p *jsonScan) uuidString() (*string, bool) {
	p.ws()
	if u := p.uuid; u != nil && p.quoted(*u) {
		return u, true
	}
	b, ok := p.plainBytes()
	if !ok {
		return nil, false
	}
	if len(p.uuids) == cap(p.uuids) {
		p.uuids = make([]string, 0, 16)
	}
	p.uuids = append(p.uuids, string(b))
	p.uuid = &p.uuids[len(p.uuids)-1]
	return p.uuid, true
}

// check reads one element of "checks": kind, id and action, and user_uuid
// if present, each once. id is where the id lies in p.b when it is an integer,
// [0, 0) when it is a string: what a pattern of the next checks is made from.
func (p *jsonScan) check() (ch checkInput, id [2]int, ok bool) {
	if !p.lit('{') {
		return ch, id, false
	}
	const (
		seenUser = 1 << iota
		seenKind
		seenID
		seenAction
	)
	seen := 0
	for {
		key, ok := p.plainBytes()
		if !ok || !p.lit(':') {
			return ch, id, false
		}
		bit := 0
		switch string(key) {
		case "user_uuid":
			bit = seenUser
			if p.word("null") {
				ch.UserUUID = nil
			} else {
				if ch.UserUUID, ok = p.uuidString(); !ok {
					return ch, id, false
				}
			}
		case "kind":
			bit = seenKind
			if ch.Kind, ok = p.plainString(); !ok {
				return ch, id, false
			}
		case "action":
			bit = seenAction
			if ch.Action, ok = p.plainString(); !ok {
				return ch, id, false
			}
		case "id":
			bit = seenID
			p.ws()
			start := p.i
			if p.i < len(p.b) && p.b[p.i] == '"' {
				if _, ok := p.plainBytes(); !ok {
					return ch, id, false
				}
			} else if !p.integer() {
				return ch, id, false
			} else {
				id = [2]int{start, p.i}
			}
			ch.ID = json.RawMessage(p.b[start:p.i])
		default:
			return ch, id, false
		}
		if seen&bit != 0 {
			return ch, id, false
		}
		seen |= bit
		if p.lit(',') {
			continue
		}
		if p.lit('}') {
			break
		}
		return ch, id, false
	}
	return ch, id, seen|seenUser == seenUser|seenKind|seenID|seenAction
}

// word skips whitespace and then w (a JSON literal such as null).
func (p *jsonScan) word(w string) bool {
	p.ws()
	if bytes.HasPrefix(p.b[p.i:], []byte(w)) {
		p.i += len(w)
		return true
	}
	return false
}

// integer reads 0 or [1-9][0-9]*, and nothing that would make it a longer number.
func (p *jsonScan) integer() bool {
	start := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	if n := p.i - start; n == 0 || n > 1 && p.b[start] == '0' {
		return false
	}
	if p.i < len(p.b) {
		switch p.b[p.i] {
		case '.', 'e', 'E':
			return false
		}
	}
	return true
}

// idNumber reads an id that is a plain positive integer, the usual form of
// every kind but session recordings; ok is false for any other form.
func idNumber(raw json.RawMessage) (int64, bool) {
	if len(raw) == 0 || len(raw) > 18 || raw[0] < '1' || raw[0] > '9' {
		return 0, false
	}
	var n int64
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// idText is an id as text: a JSON string's contents or an integer's digits.
// ok is false when raw is neither.
func idText(raw json.RawMessage) (string, bool) {
	if n := len(raw); n >= 2 && raw[0] == '"' && raw[n-1] == '"' && plainASCII(raw[1:n-1]) {
		return string(raw[1 : n-1]), true
	}
	if n, ok := idNumber(raw); ok {
		return strconv.FormatInt(n, 10), true
	}
	return idTextJSON(raw)
}

// idTextJSON is idText by encoding/json alone: a JSON string, or else an int64.
func idTextJSON(raw json.RawMessage) (string, bool) {
	var text string
	if err := json.Unmarshal(raw, &text); err == nil {
		return text, true
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err == nil {
		return strconv.FormatInt(n, 10), true
	}
	return "", false
}

// plainASCII reports whether b is printable ASCII without '"' or '\': text
// JSON writes as it is.
func plainASCII(b []byte) bool {
	for _, c := range b {
		if !plain[c] {
			return false
		}
	}
	return true
}

var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendJSONString appends s as encode writes it (encoding/json without
// HTML escaping).
func appendJSONString(dst, s []byte) []byte {
	if plainASCII(s) {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(string(s)) // a string always encodes
	return append(dst, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}

// appendCheckResult appends one element of "results" as encode would write
// checkResult{allowed, level, source, reason}.
func appendCheckResult(dst []byte, allowed bool, level, source string, reason []byte) []byte {
	dst = append(dst, `{"allowed":`...)
	dst = strconv.AppendBool(dst, allowed)
	dst = append(dst, `,"access_level":`...)
	dst = appendJSONString(dst, []byte(level))
	dst = append(dst, `,"access_source":`...)
	dst = appendJSONString(dst, []byte(source))
	dst = append(dst, `,"reason":`...)
	dst = appendJSONString(dst, reason)
	return append(dst, '}')
}
