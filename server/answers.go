package server

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

// A resource answer is the stored document's fields merged with the ones the
// server sets, keys in byte order: what encoding/json wrote when the answer
// was a map, and what clients and the committed client still expect. It is
// typed so that a page of them is written without a map per object and
// without reflection.

// rawField is one field of a stored document, as stored.
type rawField struct {
	name string
	raw  json.RawMessage
}

// resourceAnswer is one object of a kind as the API answers it.
type resourceAnswer struct {
	kind access.Kind
	// data is the stored document's fields in key order, without those the
	// server sets (answerKeys), which win over stored ones.
	data    []rawField
	id      int64
	key     string
	derived *float64 // the kind's derived field (kindSpec.derived); nil is null
	meta    resourceMeta
}

// answerKeys are, for each kind, the keys the server sets on every answer,
// in byte order.
var answerKeys = func() (keys [access.NumKinds][]string) {
	for _, k := range access.Kinds {
		spec := &kindSpecs[k]
		names := []string{"id", "created_by", "created_at", "updated_at", "deleted", "can_edit", "user_access_level"}
		if !spec.stringID && spec.keyField != "" {
			names = append(names, spec.keyField)
		}
		if spec.derived != "" {
			names = append(names, spec.derived)
		}
		slices.Sort(names)
		keys[k] = slices.Compact(names)
	}
	return keys
}()

// newResourceAnswer is res with the caller's decision d on it; createdBy is
// its creator as nested in answers.
func newResourceAnswer(res *gatehouse.Resource, d access.Decision, createdBy *userBasic) resourceAnswer {
	doc := documents.get(res)
	a := resourceAnswer{
		kind:    res.Kind,
		data:    doc.data,
		derived: doc.derived,
		id:      res.ID,
		key:     res.Key,
		meta: resourceMeta{
			CreatedBy:       createdBy,
			CreatedAt:       res.CreatedAt.UTC(),
			UpdatedAt:       res.UpdatedAt.UTC(),
			Deleted:         res.Deleted,
			CanEdit:         d.CanEdit(),
			UserAccessLevel: d.Level.String(),
		},
	}
	return a
}

// document is what an answer takes from a stored document: its fields in key
// order without those the server sets, and the kind's derived field. It
// depends on the document alone, so it is made once per version of an object.
type document struct {
	data    []rawField // shared by every answer made from it: never changed
	derived *float64
}

func newDocument(res *gatehouse.Resource) document {
	spec := &kindSpecs[res.Kind]
	fields, ok := decodeRawObject(res.Data)
	if !ok {
		_ = json.Unmarshal(res.Data, &fields)
	}
	set := answerKeys[res.Kind]
	doc := document{data: make([]rawField, 0, len(fields))}
	for name, raw := range fields {
		if _, server := slices.BinarySearch(set, name); !server {
			doc.data = append(doc.data, rawField{name, raw})
		}
	}
	slices.SortFunc(doc.data, func(x, y rawField) int { return strings.Compare(x.name, y.name) })
	if spec.derive != nil {
		doc.derived = spec.derive(fields)
	}
	return doc
}

// documents keeps the documents of the objects answered lately. Decoding a
// stored document (and deriving a flag's rollout from it) was a third of a
// list page's time, for documents that rarely change between pages. An entry
// is found by the object's id and its document's hash and length: the id keeps
// one object's document from ever answering for another's, and an edit
// changes the hash.
var documents = documentCache{m: map[documentKey]document{}}

type documentKey struct {
	id   int64
	kind access.Kind
	sum  uint64
	n    int
}

type documentCache struct {
	mu sync.RWMutex
	m  map[documentKey]document
}

// maxDocuments bounds the cache; past it, it is emptied.
const maxDocuments = 50_000

func (c *documentCache) get(res *gatehouse.Resource) document {
	sum := uint64(14695981039346656037) // FNV-1a, inline: hash/fnv's would allocate
	for _, b := range res.Data {
		sum = (sum ^ uint64(b)) * 1099511628211
	}
	k := documentKey{id: res.ID, kind: res.Kind, sum: sum, n: len(res.Data)}
	c.mu.RLock()
	doc, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return doc
	}
	// The document outlives the call and its fields are slices of the bytes
	// it was decoded from, which belong to the caller (a row buffer, a
	// request body) and may be written over: it is made from its own copy.
	owned := *res
	owned.Data = bytes.Clone(res.Data)
	doc = newDocument(&owned)
	c.mu.Lock()
	if len(c.m) >= maxDocuments {
		clear(c.m)
	}
	c.m[k] = doc
	c.mu.Unlock()
	return doc
}

// field returns the value of one of the keys the server sets.
func (a *resourceAnswer) field(name string) any {
	spec := &kindSpecs[a.kind]
	switch {
	case name == "id" && spec.stringID:
		return a.key
	case name == "id":
		return a.id
	case name == spec.keyField:
		return a.key
	case name == spec.derived:
		if a.derived == nil {
			return nil
		}
		return *a.derived
	}
	switch name {
	case "created_by":
		return a.meta.CreatedBy
	case "created_at":
		return a.meta.CreatedAt
	case "updated_at":
		return a.meta.UpdatedAt
	case "deleted":
		return a.meta.Deleted
	case "can_edit":
		return a.meta.CanEdit
	case "user_access_level":
		return a.meta.UserAccessLevel
	}
	panic("resourceAnswer: no field " + name)
}

// appendJSON is the fast path (appendFastJSON) for an answer: the stored
// fields and the server's, merged in key order. ok is false when a stored
// value is not as encoding/json would write it, which MarshalJSON then does.
func (a *resourceAnswer) appendJSON(dst []byte) (_ []byte, ok bool) {
	set := answerKeys[a.kind]
	dst = append(dst, '{')
	for i, j := 0, 0; i < len(a.data) || j < len(set); {
		if i+j > 0 {
			dst = append(dst, ',')
		}
		if j == len(set) || i < len(a.data) && a.data[i].name < set[j] {
			f := a.data[i]
			i++
			dst = append(appendJSONString(dst, []byte(f.name)), ':')
			if dst, ok = appendFastJSON(dst, f.raw); !ok {
				return dst, false
			}
			continue
		}
		name := set[j]
		j++
		dst = append(appendJSONString(dst, []byte(name)), ':')
		if dst, ok = a.appendField(dst, name); !ok {
			return dst, false
		}
	}
	return append(dst, '}'), true
}

// appendField writes the value of one of the keys the server sets, as field
// has it, without boxing it on the list path.
func (a *resourceAnswer) appendField(dst []byte, name string) (_ []byte, ok bool) {
	spec := &kindSpecs[a.kind]
	switch {
	case name == "id" && spec.stringID, name == spec.keyField:
		return appendJSONString(dst, []byte(a.key)), true
	case name == "id":
		return strconv.AppendInt(dst, a.id, 10), true
	case name == spec.derived:
		if a.derived == nil {
			return append(dst, "null"...), true
		}
		return appendFloat(dst, *a.derived)
	}
	switch name {
	case "created_by":
		return appendFastJSON(dst, a.meta.CreatedBy)
	case "created_at":
		return appendTime(dst, a.meta.CreatedAt)
	case "updated_at":
		return appendTime(dst, a.meta.UpdatedAt)
	case "deleted":
		return strconv.AppendBool(dst, a.meta.Deleted), true
	case "can_edit":
		return strconv.AppendBool(dst, a.meta.CanEdit), true
	case "user_access_level":
		return appendJSONString(dst, []byte(a.meta.UserAccessLevel)), true
	}
	return dst, false
}

// appendTime writes t as its MarshalJSON does, which refuses years that
// RFC 3339 cannot write; ok is then false.
func appendTime(dst []byte, t time.Time) (_ []byte, ok bool) {
	b, err := t.AppendText(append(dst, '"'))
	if err != nil {
		return dst, false
	}
	return append(b, '"'), true
}

// MarshalJSON writes the answer as encoding/json wrote it when it was a map
// of the stored fields and the server's: the reference the fast path is held
// to (FuzzFastJSON), and the way out for documents the fast path declines.
func (a resourceAnswer) MarshalJSON() ([]byte, error) {
	fields := make([]answerPair, 0, len(a.data)+len(answerKeys[a.kind]))
	for _, f := range a.data {
		fields = append(fields, answerPair{f.name, f.raw})
	}
	for _, name := range answerKeys[a.kind] {
		fields = append(fields, answerPair{name, a.field(name)})
	}
	return marshalPairs(fields)
}

// answerPair is one key of an answer and its value.
type answerPair struct {
	name  string
	value any
}

// marshalPairs writes fields as one JSON object, keys in byte order, values
// by encoding/json without HTML escaping (as encode writes the rest).
func marshalPairs(fields []answerPair) ([]byte, error) {
	slices.SortFunc(fields, func(x, y answerPair) int { return strings.Compare(x.name, y.name) })
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	buf.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := enc.Encode(f.name); err != nil {
			return nil, err
		}
		buf.Truncate(buf.Len() - 1) // Encode's newline
		buf.WriteByte(':')
		if err := enc.Encode(f.value); err != nil {
			return nil, err
		}
		buf.Truncate(buf.Len() - 1)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// objectRefAnswer is the object nested in a role access answer: its id, and
// its natural key where it has one besides.
type objectRefAnswer struct {
	kind access.Kind
	id   int64
	key  string
}

func (o objectRefAnswer) MarshalJSON() ([]byte, error) {
	spec := &kindSpecs[o.kind]
	if spec.stringID {
		return marshalPairs([]answerPair{{"id", o.key}})
	}
	fields := []answerPair{{"id", o.id}}
	if spec.keyField != "" {
		fields = append(fields, answerPair{spec.keyField, o.key})
	}
	return marshalPairs(fields)
}

// roleAccessResult is PostHog's FeatureFlagRoleAccess shape, the object
// under the kind's singular name ("feature_flag", "experiment", …).
type roleAccessResult struct {
	ID        string
	Role      roleBody
	RoleID    string
	AddedAt   time.Time
	UpdatedAt time.Time
	Object    objectRefAnswer
}

func (a roleAccessResult) MarshalJSON() ([]byte, error) {
	return marshalPairs([]answerPair{
		{"id", a.ID}, {"role", a.Role}, {"role_id", a.RoleID},
		{"added_at", a.AddedAt}, {"updated_at", a.UpdatedAt},
		{a.Object.kind.Singular(), a.Object},
	})
}
