package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

// maxBodyBytes bounds every request body; PostHog's own limit for API
// bodies is in the same range, and nothing Gatehouse stores needs more.
const maxBodyBytes = 1 << 20

// errorStatus maps an application error code to its HTTP status and
// PostHog error type: the one table for the whole API.
var errorStatus = map[string]struct {
	status int
	typ    string
}{
	gatehouse.ENotAuthenticated:     {http.StatusUnauthorized, "authentication_error"},
	gatehouse.EAuthenticationFailed: {http.StatusUnauthorized, "authentication_error"},
	gatehouse.ESSOEnforced:          {http.StatusUnauthorized, "authentication_error"},
	gatehouse.EPermissionDenied:     {http.StatusForbidden, "authentication_error"},
	gatehouse.ENotFound:             {http.StatusNotFound, "invalid_request"},
	gatehouse.EMethodNotAllowed:     {http.StatusMethodNotAllowed, "invalid_request"},
	gatehouse.EPaymentRequired:      {http.StatusPaymentRequired, "invalid_request"},
	gatehouse.ETooLarge:             {http.StatusRequestEntityTooLarge, "invalid_request"},
	gatehouse.EThrottled:            {http.StatusTooManyRequests, "throttled_error"},
	gatehouse.EConflict:             {http.StatusConflict, "invalid_request"},
	gatehouse.EMisdirected:          {http.StatusMisdirectedRequest, "invalid_request"},
	gatehouse.ERequired:             {http.StatusBadRequest, "validation_error"},
	gatehouse.ENull:                 {http.StatusBadRequest, "validation_error"},
	gatehouse.EBlank:                {http.StatusBadRequest, "validation_error"},
	gatehouse.EInvalid:              {http.StatusBadRequest, "validation_error"},
	gatehouse.EInvalidChoice:        {http.StatusBadRequest, "validation_error"},
	gatehouse.EMaxLength:            {http.StatusBadRequest, "validation_error"},
	gatehouse.EUnique:               {http.StatusBadRequest, "validation_error"},
	gatehouse.EDoesNotExist:         {http.StatusBadRequest, "validation_error"},
	gatehouse.EInvalidInput:         {http.StatusBadRequest, "validation_error"},
	gatehouse.EParseError:           {http.StatusBadRequest, "validation_error"},
}

// errorBody is PostHog's error shape.
type errorBody struct {
	Type   string  `json:"type"`
	Code   string  `json:"code"`
	Detail string  `json:"detail"`
	Attr   *string `json:"attr"`
}

// writeError renders err in PostHog's shape. Anything that is not a
// *gatehouse.Error is logged once and answered with a generic 500, so no
// internal detail reaches a client.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if isSCIMPath(r.URL.Path) {
		s.writeSCIMError(w, r, err)
		return
	}
	err = denied(err)
	var e *gatehouse.Error
	if !errors.As(err, &e) {
		s.log.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		encode(w, http.StatusInternalServerError, errorBody{Type: "server_error", Code: "error", Detail: "A server error occurred."})
		return
	}
	st, ok := errorStatus[e.Code]
	if !ok {
		st.status, st.typ = http.StatusBadRequest, "validation_error"
	}
	body := errorBody{Type: st.typ, Code: e.Code, Detail: e.Detail}
	if e.Attr != "" {
		body.Attr = &e.Attr
	}
	if st.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
	}
	encode(w, st.status, body)
}

// denied turns an access answer of no (*access.Denial) into the API's error: a request
// that is wrong whoever sends it is 400 (a field error when the denial names the field,
// else invalid_input), a refusal of this caller 403, and one to a caller who may not know
// the thing exists 404. Other errors pass unchanged.
func denied(err error) error {
	var d *access.Denial
	if !errors.As(err, &d) {
		return err
	}
	switch {
	case d.Hidden:
		return gatehouse.NotFound()
	case d.Invalid && d.Attr != "":
		return gatehouse.FieldError(gatehouse.EInvalid, d.Attr, d.Detail)
	case d.Invalid:
		return &gatehouse.Error{Code: gatehouse.EInvalidInput, Detail: d.Detail}
	}
	return &gatehouse.Error{Code: gatehouse.EPermissionDenied, Detail: d.Detail}
}

func encode(w http.ResponseWriter, status int, v any) {
	if v != nil {
		buf := getBuffer()
		defer putBuffer(buf)
		if b, ok := appendFastJSON((*buf)[:0], v); ok {
			*buf = append(b, '\n')
			writeJSON(w, status, *buf)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v == nil {
		return
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// writeJSON writes a whole JSON answer: with its length known it goes out
// unchunked, in fewer writes.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if sw, ok := w.(*statusWriter); ok && sw.conn != nil && len(body) >= gatherFrom && len(body) <= maxGathered {
		// Header and body in one write (gather.go): the flush, deferred last so
		// that it runs first, hands net/http's buffered tail to the connection
		// before it sends.
		sw.conn.start()
		defer sw.conn.send()
		if f, ok := sw.ResponseWriter.(http.Flusher); ok {
			defer f.Flush()
		}
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Answers are built, and request bodies read, in reused buffers: a list page
// or a batch check is tens of kilobytes, and reusing them keeps the garbage
// collector out of the way. Buffers past maxKeptBuffer are not kept.
var buffers = sync.Pool{New: func() any { return new([]byte) }}

const maxKeptBuffer = 256 << 10

func getBuffer() *[]byte { return buffers.Get().(*[]byte) }

func putBuffer(b *[]byte) {
	if cap(*b) <= maxKeptBuffer {
		*b = (*b)[:0]
		buffers.Put(b)
	}
}

// decode reads a JSON object body into v. A missing body decodes as {}.
// Type mismatches name the offending field, as DRF does.
func decode(r *http.Request, v any) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	return decodeBytes(data, v)
}

// readBody reads the request body, up to maxBodyBytes.
func readBody(r *http.Request) ([]byte, error) {
	return readBodyInto(r, nil)
}

// readBodyInto is readBody reading into scratch's space when it is enough.
func readBodyInto(r *http.Request, scratch []byte) ([]byte, error) {
	buf := bytes.NewBuffer(scratch[:0])
	if n := r.ContentLength; n > 0 && n <= maxBodyBytes {
		// Room for the whole body and the read that finds its end: one
		// allocation where io.ReadAll would grow its buffer step by step.
		buf.Grow(int(n) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(nil, r.Body, maxBodyBytes))
	data := buf.Bytes()
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, gatehouse.Errorf(gatehouse.ETooLarge, "Request body is larger than %d bytes.", maxBodyBytes)
		}
		return nil, gatehouse.Errorf(gatehouse.EParseError, "Could not read the request body.")
	}
	return data, nil
}

func decodeBytes(data []byte, v any) error { return decodeNamed(data, v, true) }

// decodeSCIM is decode for SCIM, whose attribute names are case-insensitive
// (RFC 7643, section 2.1): identity providers differ in how they write them.
func decodeSCIM(r *http.Request, v any) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	return decodeNamed(data, v, false)
}

// decodeNamed is decodeBytes, reading names exactly or, for SCIM, in any case.
func decodeNamed(data []byte, v any, exact bool) error {
	if len(strings.TrimSpace(string(data))) == 0 {
		data = []byte("{}")
	}
	if !json.Valid(data) {
		return gatehouse.Errorf(gatehouse.EParseError, "JSON parse error - the request body is not valid JSON.")
	}
	trimmed := strings.TrimSpace(string(data))
	if !strings.HasPrefix(trimmed, "{") {
		return gatehouse.Errorf(gatehouse.EInvalidInput, "Invalid data. Expected a dictionary, but got %s.", jsonTypeName(trimmed))
	}
	if exact {
		data = exactNames(data, reflect.TypeOf(v))
	}
	if err := json.Unmarshal(data, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			attr := typeErr.Field
			return gatehouse.FieldError(gatehouse.EInvalid, attr, fmt.Sprintf("Expected %s, got %s.", goTypeName(typeErr.Type.Kind().String()), typeErr.Value))
		}
		return gatehouse.Errorf(gatehouse.EInvalidInput, "Invalid data.")
	}
	return nil
}

func jsonTypeName(s string) string {
	switch {
	case strings.HasPrefix(s, "["):
		return "list"
	case strings.HasPrefix(s, `"`):
		return "str"
	case s == "null":
		return "null"
	case s == "true" || s == "false":
		return "bool"
	default:
		return "number"
	}
}

func goTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int64", "int32", "float64", "uint8":
		return "a number"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "a list"
	}
	return "another type"
}

// page is PostHog's list envelope.
type page struct {
	Count    int     `json:"count"`
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  any     `json:"results"`
}

// maxLimit bounds ?limit= so one request cannot ask for an unbounded page.
const maxLimit = 1000

// paging reads ?limit= (default 100, 1..maxLimit) and ?offset= (≥ 0).
func paging(r *http.Request) (limit, offset int, err error) {
	limit, offset = 100, 0
	q := r.URL.Query()
	if v := q.Get("limit"); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 1 || n > maxLimit {
			return 0, 0, gatehouse.FieldError(gatehouse.EInvalid, "limit", fmt.Sprintf("limit must be a whole number from 1 to %d.", maxLimit))
		}
		limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 0 {
			return 0, 0, gatehouse.FieldError(gatehouse.EInvalid, "offset", "offset must be a whole number, 0 or more.")
		}
		offset = n
	}
	return limit, offset, nil
}

// newPage builds the envelope with absolute next/previous links.
func newPage(r *http.Request, count, limit, offset int, results any) page {
	p := page{Count: count, Results: results}
	link := func(off int) *string {
		u := url.URL{Path: r.URL.Path}
		u.Scheme, u.Host = linkBase(r)
		q := r.URL.Query()
		q.Set("limit", strconv.Itoa(limit))
		q.Set("offset", strconv.Itoa(off))
		u.RawQuery = q.Encode()
		s := u.String()
		return &s
	}
	if offset < count-limit { // not offset+limit < count: ?offset= may be near MaxInt
		p.Next = link(offset + limit)
	}
	if offset > 0 {
		p.Previous = link(max(0, offset-limit))
	}
	return p
}

// window returns the [lo, hi) bounds of a page within n items.
func window(n, limit, offset int) (lo, hi int) {
	lo = min(offset, n)
	hi = min(lo+limit, n)
	return lo, hi
}

// listOf pages a fully loaded slice: small lists (roles, members) only.
func listOf[T any](w http.ResponseWriter, r *http.Request, items []T) error {
	limit, offset, err := paging(r)
	if err != nil {
		return err
	}
	lo, hi := window(len(items), limit, offset)
	encode(w, http.StatusOK, newPage(r, len(items), limit, offset, items[lo:hi]))
	return nil
}

func itoa(n int) string     { return strconv.Itoa(n) }
func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

// exactNames returns data without the object members whose names match a
// field of t (the type data decodes into) only when case is ignored.
// encoding/json would take "Access_Level" for access_level; the API reads
// names exactly, as PostHog's does, so such a member is an unknown name,
// ignored like any other. data is returned as it is when it has none.
func exactNames(data []byte, t reflect.Type) []byte {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		if !holdsNames(t.Elem()) {
			return data // a json.RawMessage, a list of strings: no names to read
		}
		var items []json.RawMessage
		if json.Unmarshal(data, &items) != nil {
			return data
		}
		changed := false
		for i, item := range items {
			if kept := exactNames(item, t.Elem()); !bytes.Equal(kept, item) {
				items[i], changed = kept, true
			}
		}
		if !changed {
			return data
		}
		out, _ := json.Marshal(items)
		return out
	case reflect.Struct:
	default:
		return data
	}
	var members map[string]json.RawMessage
	if json.Unmarshal(data, &members) != nil {
		return data
	}
	fields := jsonFields(t)
	changed := false
	for name, raw := range members {
		if ft, ok := fields[name]; ok {
			if kept := exactNames(raw, ft); !bytes.Equal(kept, raw) {
				members[name], changed = kept, true
			}
			continue
		}
		for field := range fields {
			if strings.EqualFold(field, name) {
				delete(members, name)
				changed = true
				break
			}
		}
	}
	if !changed {
		return data
	}
	out, _ := json.Marshal(members)
	return out
}

// holdsNames reports whether values of type t are (or hold) JSON objects
// read into struct fields by name.
func holdsNames(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
		t = t.Elem()
	}
	return t.Kind() == reflect.Struct
}

// jsonFields maps the JSON names of struct type t's fields to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	eachJSONField(t, func(name string, f reflect.StructField) { fields[name] = f.Type })
	return fields
}
