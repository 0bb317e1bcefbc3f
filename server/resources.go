package server

import (
	"encoding/json"
	"math/bits"
	"net/http"
	"sync"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

// userCache memoises nested users within one request, so a list page costs
// one lookup per distinct creator rather than one per row.
type userCache struct {
	s  *Server
	mu sync.Mutex
	m  map[int64]*userBasic
}

func (s *Server) newUserCache() *userCache { return &userCache{s: s, m: map[int64]*userBasic{}} }

// load fetches, in one query, the users among ids not yet known.
func (uc *userCache) load(r *http.Request, ids []int64) error {
	uc.mu.Lock()
	defer uc.mu.Unlock()
	var missing []int64
	for _, id := range ids {
		if _, ok := uc.m[id]; !ok && id != 0 {
			missing = append(missing, id)
			uc.m[id] = nil // unknown users stay nil rather than being asked for again
		}
	}
	if len(missing) == 0 {
		return nil
	}
	users, err := uc.s.store.UsersByID(r.Context(), missing)
	if err != nil {
		return err
	}
	for i := range users {
		uc.m[users[i].ID] = basicUser(&users[i])
	}
	return nil
}

func (uc *userCache) get(r *http.Request, id int64) *userBasic {
	if id == 0 {
		return nil
	}
	uc.mu.Lock()
	defer uc.mu.Unlock()
	if u, ok := uc.m[id]; ok {
		return u
	}
	u, err := uc.s.store.User(r.Context(), id)
	if err != nil {
		uc.m[id] = nil
		return nil
	}
	uc.m[id] = basicUser(u)
	return uc.m[id]
}

// resourceOut is res as answered, with the caller's decision on it.
func (s *Server) resourceOut(r *http.Request, res *gatehouse.Resource, d access.Decision, users *userCache) resourceAnswer {
	return newResourceAnswer(res, d, users.get(r, res.CreatedBy))
}

// readResource decodes a resource body: the kind's fields, plus the shared
// "deleted" flag and the natural key where the client may set it.
func readResource(r *http.Request) (map[string]json.RawMessage, error) {
	in := map[string]json.RawMessage{}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return in, nil
}

// keyFrom reads the natural key from in, if the kind has one the client sets.
func (spec *kindSpec) keyFrom(in map[string]json.RawMessage) (string, bool, error) {
	if spec.keyField == "" || spec.generateKey != nil && !spec.stringID {
		return "", false, nil
	}
	raw, ok := in[spec.keyField]
	if !ok {
		return "", false, nil
	}
	var key string
	if err := json.Unmarshal(raw, &key); err != nil {
		return "", false, gatehouse.FieldError(gatehouse.EInvalid, spec.keyField, "Expected a string.")
	}
	if key == "" {
		return "", false, gatehouse.FieldError(gatehouse.EBlank, spec.keyField, "This field may not be blank.")
	}
	if spec.checkKey != nil {
		if err := spec.checkKey(key); err != nil {
			return "", false, err
		}
	}
	return key, true, nil
}

// handleResourceList serves GET /api/projects/{project}/{kind}: the live
// objects of the kind that the caller may view, newest first. Every object's
// head (kept in memory by the store) is decided at once by Snapshot.Filter,
// whose bits give both the count and the page, so objects the caller may not
// view are neither counted nor shown and count and next agree with the
// pages; only the page's rows are then read, in one query.
func (s *Server) handleResourceList(k access.Kind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		limit, offset, err := paging(r)
		if err != nil {
			return err
		}
		ctx := r.Context()
		uid := c.user.ID
		// Every live object of the kind, in list order, decided in memory at
		// a few nanoseconds an object: the page and count come out exact
		// whatever rules hide objects between pages, with no per-object query.
		heads, err := s.store.ResourceHeads(ctx, c.project.ID, k)
		if err != nil {
			return err
		}
		visible := make([]uint64, (len(heads)+63)/64)
		count := c.snap.Filter(uid, heads, access.Viewer, visible)
		s.metrics.decided(k, resultHidden, len(heads)-count)
		s.metrics.decided(k, resultAllowed, count)
		ids := make([]int64, 0, min(limit, count))
		decisions := make(map[int64]access.Decision, cap(ids))
		seen := 0 // visible heads passed so far
	page:
		for w, word := range visible {
			if n := bits.OnesCount64(word); seen+n <= offset {
				seen += n
				continue
			}
			for ; word != 0; word &= word - 1 {
				if seen++; seen <= offset {
					continue
				}
				if len(ids) == limit {
					break page
				}
				h := heads[w*64+bits.TrailingZeros64(word)]
				ids = append(ids, h.ID)
				decisions[h.ID] = c.snap.Decide(uid, h)
			}
		}
		rows, err := s.store.ResourcesByID(ctx, ids)
		if err != nil {
			return err
		}
		users := s.newUserCache()
		creators := make([]int64, len(rows))
		for i := range rows {
			creators[i] = rows[i].CreatedBy
		}
		if err := users.load(r, creators); err != nil {
			return err
		}
		results := make([]resourceAnswer, len(rows))
		for i := range rows {
			results[i] = s.resourceOut(r, &rows[i], decisions[rows[i].ID], users)
		}
		encode(w, http.StatusOK, newPage(r, count, limit, offset, results))
		return nil
	}
}

// handleResourceCreate serves POST /api/projects/{project}/{kind}; the
// caller becomes the creator, and so the object's manager.
func (s *Server) handleResourceCreate(k access.Kind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		spec := &kindSpecs[k]
		in, err := readResource(r)
		if err != nil {
			return err
		}
		data := map[string]json.RawMessage{}
		if err := spec.apply(in, data, true); err != nil {
			return err
		}
		res := &gatehouse.Resource{Kind: k, ProjectID: c.project.ID, CreatedBy: c.user.ID}
		key, ok, err := spec.keyFrom(in)
		if err != nil {
			return err
		}
		switch {
		case ok:
			res.Key = key
		case spec.generateKey != nil:
			res.Key = spec.generateKey()
		}
		if spec.keyField != "" {
			delete(data, spec.keyField)
		}
		if res.Data, err = json.Marshal(data); err != nil {
			return err
		}
		if err := s.store.CreateResource(r.Context(), res); err != nil {
			return err
		}
		encode(w, http.StatusCreated, s.resourceOut(r, res, c.snap.Decide(c.user.ID, res.Object()), s.newUserCache()))
		return nil
	}
}

// handleResourceGet serves GET /api/projects/{project}/{kind}/{id}.
func (s *Server) handleResourceGet(w http.ResponseWriter, r *http.Request, c *call) error {
	res, err := s.resource(r.Context(), c)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, s.resourceOut(r, res, c.decision, s.newUserCache()))
	return nil
}

// handleResourceUpdate serves PATCH and PUT /api/projects/{project}/{kind}/{id};
// {"deleted": true} soft-deletes, as in PostHog.
func (s *Server) handleResourceUpdate(w http.ResponseWriter, r *http.Request, c *call) error {
	spec := &kindSpecs[c.kind]
	in, err := readResource(r)
	if err != nil {
		return err
	}
	// The patch applies to the row as it is when written, not as authorize read
	// it: a concurrent PATCH of another field must not be undone.
	res, err := s.store.UpdateResourceFunc(r.Context(), c.project.ID, c.kind, c.obj.ID, func(res *gatehouse.Resource) error {
		data := map[string]json.RawMessage{}
		if err := json.Unmarshal(res.Data, &data); err != nil {
			return err
		}
		if err := spec.apply(in, data, false); err != nil {
			return err
		}
		if !spec.stringID {
			key, ok, err := spec.keyFrom(in)
			if err != nil {
				return err
			}
			if ok {
				res.Key = key
			}
		}
		if spec.keyField != "" {
			delete(data, spec.keyField)
		}
		if raw, ok := in["deleted"]; ok {
			if err := json.Unmarshal(raw, &res.Deleted); err != nil {
				return gatehouse.FieldError(gatehouse.EInvalid, "deleted", "Must be a valid boolean.")
			}
		}
		var err error
		res.Data, err = json.Marshal(data)
		return err
	})
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, s.resourceOut(r, res, c.decision, s.newUserCache()))
	return nil
}

// handleResourceDelete serves DELETE /api/projects/{project}/{kind}/{id}.
func (s *Server) handleResourceDelete(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.store.DeleteResource(r.Context(), c.project.ID, c.kind, c.obj.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
