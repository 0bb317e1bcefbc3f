package sqlstore

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

// cache holds what nearly every request reads and almost nothing writes: the
// user behind an API key, projects and their organizations (with the rules
// revision that tells a replica whether its snapshot is current), and object
// heads. With it a check, a batch check or an authorization decision reads
// nothing from the database at all.
//
// It is only as good as its invalidations, so it is used only while every
// change is sure to reach it:
//   - every write that changes a cached row invalidates it after its
//     transaction commits, in this process (so a client reads its own writes);
//   - on PostgreSQL the same write sends a notice in its transaction, and the
//     listener of every replica invalidates on receipt (within milliseconds);
//     while the listener is not known to be connected (no notice, not even its
//     own once-a-second ping, for pingTimeout) the cache is bypassed and a
//     reconnect empties it, so a lost connection cannot leave stale entries;
//   - on SQLite every process holds the file's lock (lockFile), so there is
//     no other writer to miss.
//
// Fills race invalidations: a reader that read a row before a change committed
// could store it after the change's invalidation. gen makes that store a
// no-op: every invalidation bumps it, and a fill is kept only if gen has not
// moved since before its read.
type cache struct {
	// liveUntil is when the cache stops being trusted (unix nanoseconds);
	// math.MaxInt64 where nothing can be missed (SQLite).
	liveUntil atomic.Int64
	gen       atomic.Uint64

	mu       sync.RWMutex
	keys     map[string]*cachedKey // by value hash
	orgs     map[string]gatehouse.Organization
	projects map[int64]gatehouse.Project
	heads    headTable
	// lists holds each (project, kind)'s live heads in list order, shared
	// by every caller (the Store contract forbids changing them).
	lists     map[listKey]cachedList
	listHeads int // heads in lists, against maxListedHeads
	users     map[int64]gatehouse.User
	// rows holds whole resources as list pages read them, bounded by rowBytes
	// (their data) against maxRowBytes: the first pages of busy lists.
	rows     map[int64]gatehouse.Resource
	rowBytes int
	// userIDs maps a user's uuid to its id: both are fixed for the user's
	// life, so an entry needs no invalidation, and a deleted user's stays
	// harmless (its id finds no user).
	userIDs map[string]int64
}

type listKey struct {
	project int64
	kind    access.Kind
}

// cachedList is a kind's live heads in a project, newest first, and the
// newest one's created_at (unix microseconds).
type cachedList struct {
	heads  []access.Object
	newest int64
}

// cachedKey is an API key's owner as APIKeyUser returns it.
type cachedKey struct {
	user  gatehouse.User
	keyID string
	// lastUsed is the recorded last use (unix nanoseconds), so that a hit
	// still records a use once per apiKeyUseResolution.
	lastUsed atomic.Int64
}

// Bounds on each map: past them it is emptied, which costs a round of misses
// and never a wrong answer. Heads are what grows with the workspace: by id
// they are kept in pages of at most 32 MB (headTable, maxHeadPages), in lists
// at 32 bytes each, so a replica keeps at most about 32 + 32 MB of them.
const (
	maxCachedKeys     = 100_000
	maxCachedOrgs     = 100_000
	maxCachedProjects = 100_000
	maxListedHeads    = 1_000_000
	maxCachedUsers    = 100_000
)

func newCache() *cache {
	return &cache{
		keys:     map[string]*cachedKey{},
		orgs:     map[string]gatehouse.Organization{},
		projects: map[int64]gatehouse.Project{},
		lists:    map[listKey]cachedList{},
		users:    map[int64]gatehouse.User{},
		rows:     map[int64]gatehouse.Resource{},
		userIDs:  map[string]int64{},
	}
}

// clearLocked empties every map. The maps themselves are never replaced, so
// that lookup may be handed one without holding the lock.
func (c *cache) clearLocked() {
	clear(c.keys)
	clear(c.orgs)
	clear(c.projects)
	c.heads.clear()
	clear(c.lists)
	c.listHeads = 0
	clear(c.users)
	clear(c.rows)
	c.rowBytes = 0
	clear(c.userIDs)
}

// CacheLive reports whether the store serves hot reads from memory: always on
// SQLite, and on PostgreSQL while its change notices are known to arrive.
func (db *DB) CacheLive() bool {
	_, ok := db.cache.begin()
	return ok
}

// begin returns the generation a fill must still find, and whether the cache
// may be used at all.
func (c *cache) begin() (uint64, bool) {
	if c == nil {
		return 0, false
	}
	// A cache that is always live (SQLite) spares the clock: a request begins
	// three or four reads, and the clock is a tenth of a microsecond each here.
	if until := c.liveUntil.Load(); until != alwaysLive && time.Now().UnixNano() >= until {
		return 0, false
	}
	return c.gen.Load(), true
}

// A notice names what a committed write changed.
type notice struct {
	what noticeKind
	org  string // noticeRules, noticeOrg
	id   int64  // noticeUser, noticeProject, noticeProjectGone, noticeList: that; noticeCreated, noticeObject, noticeHidden: the object
	// noticeCreated, noticeObject, noticeHidden: the object's project;
	// noticeCreated also its kind, creator and created_at (unix microseconds).
	project int64
	kind    access.Kind
	creator int64
	at      int64
	// rev is, for noticeRules, the revision the transaction moved the
	// organization to; in this process only, not in a notice's payload.
	rev int64
}

type noticeKind byte

const (
	noticeRules       noticeKind = 'r' // the organization's rules revision moved
	noticeOrg         noticeKind = 'o' // the organization's row changed or went
	noticeUser        noticeKind = 'u' // a user's row or API keys changed
	noticeProject     noticeKind = 'p' // a project's row changed
	noticeProjectGone noticeKind = 'g' // a project went, and its objects with it
	noticeCreated     noticeKind = 'c' // an object was made
	noticeObject      noticeKind = 'x' // an object went
	noticeHidden      noticeKind = 'h' // an object was soft-deleted: it leaves the lists, its head stays
	noticeList        noticeKind = 'l' // a project's live objects changed otherwise (an undelete, an import)
	noticeResource    noticeKind = 'e' // an object's row changed (its key, data or deleted flag)
)

// invalidate drops what n names.
func (c *cache) invalidate(n notice) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	switch n.what {
	case noticeRules, noticeOrg:
		delete(c.orgs, n.org)
	case noticeUser:
		for h, k := range c.keys {
			if k.user.ID == n.id {
				delete(c.keys, h)
			}
		}
		delete(c.users, n.id)
	case noticeProject:
		delete(c.projects, n.id)
	case noticeProjectGone:
		delete(c.projects, n.id)
		c.dropLists(n.id)
		// Its objects went by cascade; their ids are never reused, but nothing
		// should answer for them either.
		c.heads.clear()
		clear(c.rows)
		c.rowBytes = 0
	case noticeCreated:
		h := access.Object{ID: n.id, Project: n.project, Kind: n.kind, Creator: n.creator}
		// Ids are never reused and heads never change: a head already known
		// stays as read from the database, whatever a notice says.
		if old, ok := c.heads.get(h.ID); ok {
			h = old
		} else {
			c.heads.put(h)
		}
		c.prepend(h, n.at)
	case noticeObject:
		c.heads.delete(n.id)
		c.dropRow(n.id)
		c.remove(n.project, n.id)
	case noticeHidden:
		c.dropRow(n.id)
		c.remove(n.project, n.id)
	case noticeResource:
		c.dropRow(n.id)
	case noticeList:
		c.dropLists(n.id)
	}
}

// prepend puts a new object first in its kind's cached list, where the list
// order (newest first) puts it unless it is older than the newest there (a
// clock went back, or replicas committed out of order): then the list is
// dropped, to be read again. Readers keep the slice they had, so the new one
// is a copy.
func (c *cache) prepend(h access.Object, at int64) {
	key := listKey{h.Project, h.Kind}
	l, ok := c.lists[key]
	if !ok {
		return
	}
	// This process applies its own notices as they commit and again as they
	// come back from PostgreSQL: the second time the object is there already.
	for _, x := range l.heads {
		if x.ID == h.ID {
			return
		}
	}
	if at < l.newest || c.listHeads+1 > maxListedHeads {
		c.listHeads -= len(l.heads)
		delete(c.lists, key)
		return
	}
	heads := make([]access.Object, len(l.heads)+1)
	heads[0] = h
	copy(heads[1:], l.heads)
	c.lists[key] = cachedList{heads: heads, newest: at}
	c.listHeads++
}

// remove takes an object out of its project's cached lists.
func (c *cache) remove(project, id int64) {
	for k := range access.NumKinds {
		key := listKey{project, access.Kind(k)}
		l, ok := c.lists[key]
		if !ok {
			continue
		}
		for i, h := range l.heads {
			if h.ID == id {
				heads := make([]access.Object, 0, len(l.heads)-1)
				heads = append(append(heads, l.heads[:i]...), l.heads[i+1:]...)
				c.lists[key] = cachedList{heads: heads, newest: l.newest}
				c.listHeads--
				return
			}
		}
	}
}

func (c *cache) dropLists(project int64) {
	for k := range access.NumKinds {
		key := listKey{project, access.Kind(k)}
		c.listHeads -= len(c.lists[key].heads)
		delete(c.lists, key)
	}
}

func (c *cache) list(project int64, kind access.Kind) ([]access.Object, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	l, ok := c.lists[listKey{project, kind}]
	return l.heads, ok
}

func (c *cache) putList(gen uint64, project int64, kind access.Kind, l cachedList) {
	c.fill(gen, func() {
		key := listKey{project, kind}
		if len(l.heads) > maxListedHeads {
			return // read from the database every time rather than hold it
		}
		if c.listHeads+len(l.heads) > maxListedHeads {
			clear(c.lists)
			c.listHeads = 0
		}
		c.listHeads += len(l.heads) - len(c.lists[key].heads)
		c.lists[key] = l
	})
}

// maxRowBytes bounds the data of cached rows: past it the rows are emptied.
const maxRowBytes = 32 << 20

func (c *cache) dropRow(id int64) {
	if r, ok := c.rows[id]; ok {
		c.rowBytes -= len(r.Data)
		delete(c.rows, id)
	}
}

func (c *cache) putRows(gen uint64, rs []gatehouse.Resource) {
	c.fill(gen, func() {
		for _, r := range rs {
			if c.rowBytes+len(r.Data) > maxRowBytes {
				clear(c.rows)
				c.rowBytes = 0
			}
			c.dropRow(r.ID)
			c.rows[r.ID] = r
			c.rowBytes += len(r.Data)
		}
	})
}

func (c *cache) putUsers(gen uint64, us []gatehouse.User) {
	c.fill(gen, func() {
		for _, u := range us {
			put(c.users, maxCachedUsers, u.ID, u)
			put(c.userIDs, maxCachedUsers, u.UUID, u.ID)
		}
	})
}

// reset empties the cache and trusts it until until (unix nanoseconds; 0 to
// stop using it).
func (c *cache) reset(until int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	c.clearLocked()
	c.liveUntil.Store(until)
}

// userByUUID is the cached user with this uuid, under one read lock: a batch check about
// many members makes this call for each.
func (c *cache) userByUUID(uuid string) (gatehouse.User, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	id, ok := c.userIDs[uuid]
	if !ok {
		return gatehouse.User{}, false
	}
	u, ok := c.users[id]
	return u, ok
}

// userIDsByUUID sets ids[i] to the id of the cached user with uuids[i], under one read
// lock, and returns the uuids it does not hold (their ids stay 0).
func (c *cache) userIDsByUUID(uuids []string, ids []int64) (missing []string) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for i, u := range uuids {
		if id, ok := c.userIDs[u]; ok {
			if _, ok := c.users[id]; ok {
				ids[i] = id
				continue
			}
		}
		missing = append(missing, u)
	}
	return missing
}

func (c *cache) key(hash string) *cachedKey {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.keys[hash]
}

// fill runs store under the lock unless an invalidation came since gen.
func (c *cache) fill(gen uint64, store func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() == gen {
		store()
	}
}

// put sets m[k] = v, first emptying m if it holds max entries.
func put[K comparable, V any](m map[K]V, max int, k K, v V) {
	if len(m) >= max {
		clear(m)
	}
	m[k] = v
}

func (c *cache) putKey(gen uint64, hash string, k *cachedKey) {
	c.fill(gen, func() { put(c.keys, maxCachedKeys, hash, k) })
}

func (c *cache) org(id string) (gatehouse.Organization, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	o, ok := c.orgs[id]
	return o, ok
}

func (c *cache) projectOrg(id int64) (gatehouse.Project, gatehouse.Organization, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	p, ok := c.projects[id]
	if !ok {
		return p, gatehouse.Organization{}, false
	}
	o, ok := c.orgs[p.OrganizationID]
	return p, o, ok
}

func (c *cache) putOrg(gen uint64, o gatehouse.Organization) {
	c.fill(gen, func() { put(c.orgs, maxCachedOrgs, o.ID, o) })
}

func (c *cache) putProjectOrg(gen uint64, p gatehouse.Project, o gatehouse.Organization) {
	c.fill(gen, func() {
		put(c.projects, maxCachedProjects, p.ID, p)
		put(c.orgs, maxCachedOrgs, o.ID, o)
	})
}

// lookup appends to out the cached values of ids, found by get, under c's read
// lock, and returns the ids it has not got.
func lookup[K comparable, V any](c *cache, get func(K) (V, bool), ids []K, out []V) ([]V, []K) {
	var missing []K
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, id := range ids {
		if v, ok := get(id); ok {
			out = append(out, v)
		} else {
			missing = append(missing, id)
		}
	}
	return out, missing
}

// inMap is lookup's get for a map.
func inMap[K comparable, V any](m map[K]V) func(K) (V, bool) {
	return func(k K) (V, bool) { v, ok := m[k]; return v, ok }
}

func (c *cache) putHeads(gen uint64, hs []access.Object) {
	c.fill(gen, func() {
		for _, h := range hs {
			c.heads.put(h)
		}
	})
}
