package server

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

// accessControlBody is PostHog's v2 AccessControl shape.
type accessControlBody struct {
	ID                 string    `json:"id"`
	AccessLevel        string    `json:"access_level" api:"enum=none|viewer|editor|manager|member|admin"`
	Resource           string    `json:"resource" api:"enumof=resources"`
	ResourceID         *string   `json:"resource_id"`
	OrganizationMember *string   `json:"organization_member"`
	Role               *string   `json:"role"`
	CreatedBy          *int64    `json:"created_by"`
	CreatedAt          time.Time `json:"created_at"`
	UpdatedAt          time.Time `json:"updated_at"`
	// ExpiresAt is when the rule stops granting anything; null: never.
	ExpiresAt *time.Time `json:"expires_at"`
}

// memberIndex maps user ids to membership ids and back: v2 targets members
// by membership id, rules store the user.
type memberIndex struct {
	byUser       map[int64]*gatehouse.Membership
	byMembership map[string]*gatehouse.Membership
}

func (s *Server) members(r *http.Request, orgID string) (*memberIndex, error) {
	ms, err := s.store.Members(r.Context(), orgID)
	if err != nil {
		return nil, err
	}
	idx := &memberIndex{byUser: map[int64]*gatehouse.Membership{}, byMembership: map[string]*gatehouse.Membership{}}
	for i := range ms {
		idx.byUser[ms[i].User.ID] = &ms[i]
		idx.byMembership[ms[i].ID] = &ms[i]
	}
	return idx, nil
}

// memberByUUID is the member of c's organization with this uuid. Anyone else,
// a user of another organization included, is answered as unknown in attr,
// so that the answer does not tell which uuids have accounts.
func (s *Server) memberByUUID(ctx context.Context, c *call, uuid, attr string) (*gatehouse.User, error) {
	u, err := s.store.UserByUUID(ctx, uuid)
	if gatehouse.ErrorCode(err) == gatehouse.ENotFound || err == nil && !isMember(c, u.ID) {
		return nil, noSuchMember(attr)
	}
	return u, err
}

// isMember reports whether user (0: no user) is a member of c's organization.
func isMember(c *call, user int64) bool {
	return user != 0 && access.IsMember(c.snap.MembershipLevel(user))
}

// noSuchMember is the answer for a uuid that names no member of the caller's
// organization, whether or not it names a user.
func noSuchMember(attr string) error {
	return gatehouse.FieldError(gatehouse.EDoesNotExist, attr, "User does not exist.")
}

func ptr[T any](v T) *T { return &v }

func accessControlOut(rl *gatehouse.Rule, idx *memberIndex, objectID string) accessControlBody {
	out := accessControlBody{ID: rl.ID, CreatedAt: rl.CreatedAt.UTC(), UpdatedAt: rl.UpdatedAt.UTC()}
	if rl.CreatedBy != 0 {
		out.CreatedBy = ptr(rl.CreatedBy)
	}
	switch rl.Scope {
	case access.ScopeProject:
		out.AccessLevel = rl.ProjectLevel.String()
		out.Resource = "project"
		out.ResourceID = ptr(strconv.FormatInt(rl.Project, 10))
	case access.ScopeKind:
		out.AccessLevel = rl.Level.String()
		out.Resource = rl.Kind.Singular()
	default:
		out.AccessLevel = rl.Level.String()
		out.Resource = rl.Kind.Singular()
		out.ResourceID = ptr(objectID)
	}
	if rl.Role != "" {
		out.Role = ptr(rl.Role)
	}
	if rl.ExpiresAt != 0 {
		out.ExpiresAt = ptr(time.Unix(0, rl.ExpiresAt).UTC())
	}
	if m, ok := idx.byUser[rl.User]; ok && rl.User != 0 {
		out.OrganizationMember = ptr(m.ID)
	}
	return out
}

// accessControlInput is the body of every v2 PUT.
type accessControlInput struct {
	AccessLevel        json.RawMessage `json:"access_level" api:"required,enum=none|viewer|editor|manager|member|admin,nullable"`
	OrganizationMember *string         `json:"organization_member"`
	Role               *string         `json:"role"`
	Resource           *string         `json:"resource"`
	// ExpiresAt (RFC 3339, in the future) makes the rule grant nothing from
	// that instant; absent or null: permanent.
	ExpiresAt *string `json:"expires_at" api:"format=date-time"`
}

// expiresAt reads in's expires_at as Unix nanoseconds (0: permanent); it must
// be after now, since a rule that has expired already would grant nothing.
func expiresAt(in *accessControlInput, now time.Time) (int64, error) {
	if in.ExpiresAt == nil {
		return 0, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *in.ExpiresAt)
	if err != nil {
		return 0, gatehouse.FieldError(gatehouse.EInvalid, "expires_at", "Datetime has wrong format. Use RFC 3339, e.g. 2030-01-02T15:04:05Z.")
	}
	// Stored to the microsecond: the instant compared is the instant kept.
	t = t.Truncate(time.Microsecond)
	if !t.After(now) {
		return 0, gatehouse.FieldError(gatehouse.EInvalid, "expires_at", "Expiry must be in the future.")
	}
	return t.UnixNano(), nil
}

// target fills rl's target (everyone, one role or one member) from in, and
// returns the index that names it in answers: the one member it targets, read
// by id, never the organization's member list.
func (s *Server) target(r *http.Request, c *call, in *accessControlInput, rl *access.Rule) (*memberIndex, error) {
	idx := &memberIndex{byUser: map[int64]*gatehouse.Membership{}, byMembership: map[string]*gatehouse.Membership{}}
	if in.OrganizationMember != nil && in.Role != nil {
		return nil, gatehouse.Errorf(gatehouse.EInvalidInput, "An access control targets one role or one member, not both.")
	}
	if in.Role != nil {
		role, err := s.store.Role(r.Context(), c.org.ID, *in.Role)
		if gatehouse.ErrorCode(err) == gatehouse.ENotFound {
			return nil, gatehouse.FieldError(gatehouse.EDoesNotExist, "role", "Role does not exist.")
		}
		if err != nil {
			return nil, err
		}
		rl.Role = role.ID
	}
	if in.OrganizationMember != nil {
		m, err := s.store.MembershipByID(r.Context(), c.org.ID, *in.OrganizationMember)
		if gatehouse.ErrorCode(err) == gatehouse.ENotFound {
			return nil, gatehouse.FieldError(gatehouse.EDoesNotExist, "organization_member", "Organization member does not exist.")
		}
		if err != nil {
			return nil, err
		}
		rl.User = m.User.ID
		idx.byUser[m.User.ID], idx.byMembership[m.ID] = m, m
	}
	return idx, nil
}

// levelText reads access_level: ("", true) means null, i.e. delete.
func levelText(in *accessControlInput) (string, bool, error) {
	if len(in.AccessLevel) == 0 {
		return "", false, gatehouse.FieldError(gatehouse.ERequired, "access_level", "This field is required.")
	}
	if string(in.AccessLevel) == "null" {
		return "", true, nil
	}
	var s string
	if err := json.Unmarshal(in.AccessLevel, &s); err != nil {
		return "", false, gatehouse.FieldError(gatehouse.EInvalid, "access_level", "Expected a string or null.")
	}
	return s, false, nil
}

// proposedRule reads a v2 PUT body into the rule it asks for, want with its
// target, level and expiry filled in; remove: access_level null, which deletes
// the rule of want's target. setLevel parses the level text into want. The
// write and its preview answer the same errors.
//
// idx names the member the rule targets, if any (target).
func (s *Server) proposedRule(r *http.Request, c *call, in *accessControlInput, want access.Rule, setLevel func(string, *access.Rule) bool) (_ access.Rule, idx *memberIndex, remove bool, _ error) {
	idx, err := s.target(r, c, in, &want)
	if err != nil {
		return want, nil, false, err
	}
	text, remove, err := levelText(in)
	if err != nil || remove {
		return want, idx, remove, err
	}
	if !setLevel(text, &want) {
		return want, idx, false, gatehouse.FieldError(gatehouse.EInvalidChoice, "access_level", "\""+text+"\" is not a valid choice.")
	}
	if want.ExpiresAt, err = expiresAt(in, s.now()); err != nil {
		return want, idx, false, err
	}
	return want, idx, false, nil
}

// putAccessControl upserts or (access_level null) deletes the rule that
// want describes. setLevel parses the level text into want.
func (s *Server) putAccessControl(w http.ResponseWriter, r *http.Request, c *call, in *accessControlInput, want access.Rule, setLevel func(string, *access.Rule) bool, objectID string) error {
	want, idx, remove, err := s.proposedRule(r, c, in, want, setLevel)
	if err != nil {
		return err
	}
	if remove {
		// Only the rules of the one object, kind or project, found through the
		// rule table's unique index (organization, scope, project, kind, object,
		// …): their number does not grow with the organization.
		f := gatehouse.RuleFilter{OrganizationID: c.org.ID, OptionalScope: &want.Scope, OptionalProject: &want.Project}
		switch want.Scope {
		case access.ScopeObject:
			f.OptionalKind, f.OptionalObject = &want.Kind, &want.Object
		case access.ScopeKind:
			f.OptionalKind = &want.Kind
		}
		rules, err := s.store.Rules(r.Context(), f)
		if err != nil {
			return err
		}
		for _, rl := range rules {
			if sameTarget(&rl.Rule, &want) {
				if err := s.store.DeleteRule(r.Context(), c.org.ID, rl.ID, c.user.ID); err != nil {
					return err
				}
			}
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	rl := &gatehouse.Rule{OrganizationID: c.org.ID, Rule: want, CreatedBy: c.user.ID}
	if err := s.store.PutRule(r.Context(), rl, c.user.ID); err != nil {
		return err
	}
	encode(w, http.StatusOK, accessControlOut(rl, idx, objectID))
	return nil
}

// sameTarget reports whether a and b are the same rule slot (everything but the level).
func sameTarget(a, b *access.Rule) bool {
	return a.Scope == b.Scope && a.Project == b.Project && a.Object == b.Object && a.Role == b.Role && a.User == b.User &&
		(a.Scope == access.ScopeProject || a.Kind == b.Kind)
}

func setObjectLevel(s string, rl *access.Rule) bool {
	l, ok := access.ParseLevel(s)
	rl.Level = l
	return ok
}

func setProjectLevel(s string, rl *access.Rule) bool {
	l, ok := access.ParseProjectLevel(s)
	rl.ProjectLevel = l
	return ok
}

var availableLevels = []string{"none", "viewer", "editor", "manager"}

func (s *Server) objectID(c *call) string {
	if kindSpecs[c.kind].stringID {
		return c.res.Key // read by resolveObject for these kinds
	}
	return strconv.FormatInt(c.obj.ID, 10)
}

// handleObjectAccessControlsGet serves GET …/{kind}/{id}/access_controls.
func (s *Server) handleObjectAccessControlsGet(w http.ResponseWriter, r *http.Request, c *call) error {
	rules, err := s.objectRules(r, c)
	if err != nil {
		return err
	}
	idx, err := s.members(r, c.org.ID)
	if err != nil {
		return err
	}
	out := make([]accessControlBody, len(rules))
	def := access.Editor.String()
	for i := range rules {
		out[i] = accessControlOut(&rules[i], idx, s.objectID(c))
		if rules[i].Role == "" && rules[i].User == 0 {
			def = rules[i].Level.String()
		}
	}
	encode(w, http.StatusOK, accessControlsBody{
		AccessControls:          out,
		AvailableAccessLevels:   availableLevels,
		DefaultAccessLevel:      def,
		UserAccessLevel:         c.decision.Level.String(),
		UserCanEditAccessLevels: c.decision.CanManage() && s.enforced(),
	})
	return nil
}

// handleObjectAccessControlsPut serves PUT …/{kind}/{id}/access_controls.
func (s *Server) handleObjectAccessControlsPut(w http.ResponseWriter, r *http.Request, c *call) error {
	var in accessControlInput
	if err := decode(r, &in); err != nil {
		return err
	}
	want := access.Rule{Scope: access.ScopeObject, Project: c.project.ID, Kind: c.kind, Object: c.obj.ID}
	return s.putAccessControl(w, r, c, &in, want, setObjectLevel, s.objectID(c))
}

// handleKindAccessControlsGet serves GET /api/projects/{project}/resource_access_controls:
// the project's kind rules and the organization defaults that apply to it.
func (s *Server) handleKindAccessControlsGet(w http.ResponseWriter, r *http.Request, c *call) error {
	sc := access.ScopeKind
	rules, err := s.store.Rules(r.Context(), gatehouse.RuleFilter{OrganizationID: c.org.ID, OptionalScope: &sc})
	if err != nil {
		return err
	}
	idx, err := s.members(r, c.org.ID)
	if err != nil {
		return err
	}
	out := []accessControlBody{}
	for i := range rules {
		if rules[i].Project == 0 || rules[i].Project == c.project.ID {
			out = append(out, accessControlOut(&rules[i], idx, ""))
		}
	}
	// v1 role levels are kind rules for roles across the organization: they
	// are listed too, so v2 shows every rule that decides. They change through
	// the roles endpoints, so their id says where they come from.
	roles, err := s.store.Roles(r.Context(), c.org.ID)
	if err != nil {
		return err
	}
	for i := range roles {
		for _, k := range access.Kinds {
			out = append(out, accessControlBody{
				ID: "role_level:" + roles[i].ID + ":" + k.String(), AccessLevel: roles[i].Levels[k].String(),
				Resource: k.Singular(), Role: ptr(roles[i].ID), CreatedAt: roles[i].CreatedAt.UTC(), UpdatedAt: roles[i].UpdatedAt.UTC(),
			})
		}
	}
	encode(w, http.StatusOK, accessControlsBody{
		AccessControls:          out,
		AvailableAccessLevels:   availableLevels,
		DefaultAccessLevel:      access.Editor.String(),
		UserCanEditAccessLevels: c.snap.MayEditProjectAccess(c.user.ID, c.project.ID),
	})
	return nil
}

// handleKindAccessControlsPut serves PUT /api/projects/{project}/resource_access_controls.
func (s *Server) handleKindAccessControlsPut(w http.ResponseWriter, r *http.Request, c *call) error {
	var in accessControlInput
	if err := decode(r, &in); err != nil {
		return err
	}
	want, err := kindRule(c, &in)
	if err != nil {
		return err
	}
	return s.putAccessControl(w, r, c, &in, want, setObjectLevel, "")
}

// kindRule is the rule slot a resource_access_controls body names: its kind
// in c's project.
func kindRule(c *call, in *accessControlInput) (access.Rule, error) {
	if deref(in.Resource) == "" {
		return access.Rule{}, gatehouse.FieldError(gatehouse.ERequired, "resource", "This field is required.")
	}
	k, ok := access.KindFromSingular(*in.Resource)
	if !ok {
		return access.Rule{}, gatehouse.FieldError(gatehouse.EInvalidChoice, "resource", "\""+*in.Resource+"\" is not a valid choice.")
	}
	return access.Rule{Scope: access.ScopeKind, Project: c.project.ID, Kind: k}, nil
}

// handleProjectAccessControlsGet serves GET /api/projects/{project}/access_controls.
func (s *Server) handleProjectAccessControlsGet(w http.ResponseWriter, r *http.Request, c *call) error {
	sc, pid := access.ScopeProject, c.project.ID
	rules, err := s.store.Rules(r.Context(), gatehouse.RuleFilter{OrganizationID: c.org.ID, OptionalScope: &sc, OptionalProject: &pid})
	if err != nil {
		return err
	}
	idx, err := s.members(r, c.org.ID)
	if err != nil {
		return err
	}
	out := make([]accessControlBody, len(rules))
	for i := range rules {
		out[i] = accessControlOut(&rules[i], idx, "")
	}
	lvl, _ := c.snap.ProjectAccess(c.user.ID, c.project.ID)
	encode(w, http.StatusOK, accessControlsBody{
		AccessControls:          out,
		AvailableAccessLevels:   []string{"none", "member", "admin"},
		DefaultAccessLevel:      access.ProjectMember.String(),
		UserAccessLevel:         lvl.String(),
		UserCanEditAccessLevels: c.snap.MayEditProjectAccess(c.user.ID, c.project.ID),
	})
	return nil
}

// handleProjectAccessControlsPut serves PUT /api/projects/{project}/access_controls.
func (s *Server) handleProjectAccessControlsPut(w http.ResponseWriter, r *http.Request, c *call) error {
	var in accessControlInput
	if err := decode(r, &in); err != nil {
		return err
	}
	want := access.Rule{Scope: access.ScopeProject, Project: c.project.ID}
	return s.putAccessControl(w, r, c, &in, want, setProjectLevel, "")
}

type userAccess struct {
	UserID      string `json:"user_id"`
	AccessLevel string `json:"access_level" api:"enum=none|viewer|editor|manager"`
	Source      string `json:"access_source"`
}

// handleUsersWithAccess serves GET …/{kind}/{id}/users_with_access: every
// member who can at least view the object, with where that comes from.
func (s *Server) handleUsersWithAccess(w http.ResponseWriter, r *http.Request, c *call) error {
	idx, err := s.members(r, c.org.ID)
	if err != nil {
		return err
	}
	obj := c.obj
	out := []userAccess{}
	for _, m := range c.snap.Members() {
		d := c.snap.Decide(m.User, obj)
		if !d.CanView() {
			continue
		}
		if ms, ok := idx.byUser[m.User]; ok {
			out = append(out, userAccess{UserID: ms.User.UUID, AccessLevel: d.Level.String(), Source: d.Source.String()})
		}
	}
	encode(w, http.StatusOK, usersWithAccessBody{Users: out, TotalCount: len(out)})
	return nil
}

// maxChecks bounds one access/check batch.
const maxChecks = 1000

// handleAccessCheck serves POST /api/projects/{project}/access/check: up to
// 1,000 decisions in one request, each with a reason a person understands.
// Admins may ask about any member, others only about themselves
// (access.MayAskAbout). Numeric ids are decided on the objects' heads, read
// all at once (mostly from the store's memory); a string id (a session
// recording) is looked up on its own. An object of another project, or of
// another organization, is answered as missing.
func (s *Server) handleAccessCheck(w http.ResponseWriter, r *http.Request, c *call) error {
	body, out := getBuffer(), getBuffer()
	defer putBuffer(body)
	defer putBuffer(out)
	sc := checkScratches.Get().(*checkScratch)
	defer sc.put()
	data, err := readBodyInto(r, *body)
	if err != nil {
		return err
	}
	*body = data
	in, err := readChecks(sc.in, data)
	if err != nil {
		return err
	}
	sc.in = in
	if len(in) > maxChecks {
		return gatehouse.FieldError(gatehouse.EMaxLength, "checks", "Ensure this field has no more than 1000 elements.")
	}
	// Other members are named by uuid. Whether the caller may ask about others
	// does not depend on whom, so it is asked before any uuid is looked up, and
	// a refused caller learns nothing of which uuids are members. The uuids are
	// looked up all at once, from the store's memory: never the member list,
	// whose length grows with the organization.
	// A run of checks about one member (a batch about one user, the usual
	// shape) looks the uuid up once: the loop below takes the next id where
	// the uuid changes, by the same test.
	others := sc.uuids[:0]
	var last *checkInput
	for i := range in {
		if ch := &in[i]; ch.aboutOther(c.user.UUID) {
			if !ch.sameMember(last) {
				others = append(others, *ch.UserUUID)
			}
			last = ch
		}
	}
	sc.uuids = others
	var subjects []int64
	if len(others) > 0 && c.snap.MayAskAbout(c.user.ID, 0) == nil {
		if subjects, err = s.store.UserIDsByUUID(r.Context(), others); err != nil {
			return err
		}
	}
	checks, ids := slices.Grow(sc.checks[:0], len(in))[:len(in)], sc.ids[:0]
	var subject int64
	last = nil
	for i := range in {
		ch := &in[i]
		ck := checkItem{user: c.user.ID}
		if ch.aboutOther(c.user.UUID) {
			// Errors come in the order of the checks, as each would alone.
			if err := c.snap.MayAskAbout(c.user.ID, 0); err != nil {
				return err
			}
			if !ch.sameMember(last) {
				subject, subjects = subjects[0], subjects[1:]
			}
			last = ch
			if !isMember(c, subject) {
				return noSuchMember("user_uuid")
			}
			ck.user = subject
		}
		var ok bool
		if ck.kind, ok = access.KindFromPath(ch.Kind); !ok {
			if ck.kind, ok = access.KindFromSingular(ch.Kind); !ok {
				return gatehouse.FieldError(gatehouse.EInvalidChoice, "kind", "\""+ch.Kind+"\" is not a valid choice.")
			}
		}
		if ck.need, ok = checkAction(ch.Action); !ok {
			return gatehouse.FieldError(gatehouse.EInvalidChoice, "action", "\""+ch.Action+"\" is not a valid choice.")
		}
		if n, ok := idNumber(ch.ID); ok && !kindSpecs[ck.kind].stringID {
			ck.id = n
			ids = append(ids, n)
			checks[i] = ck
			continue
		}
		text, ok := idText(ch.ID)
		if !ok {
			return gatehouse.FieldError(gatehouse.EInvalid, "id", "Expected an object id.")
		}
		if kindSpecs[ck.kind].stringID {
			ck.key = text
		} else if n, err := strconv.ParseInt(text, 10, 64); err == nil && n > 0 {
			ck.id = n
			ids = append(ids, n)
		}
		checks[i] = ck
	}
	sc.checks, sc.ids = checks, ids
	heads, err := s.store.HeadsByID(r.Context(), sc.heads[:0], ids)
	if err != nil {
		return err
	}
	// Kept for the next batch: at 32 bytes a head, a batch's heads were half
	// of what it allocated, and the collector ran that much more often.
	sc.heads = heads
	// The store answers from memory in the order of ids (a head it has not
	// got comes after the others, and a missing one not at all), so each check
	// first tries the next head; heads.find sorts them once for any other. A
	// map of the heads, built per request, was a tenth of the handler's time.
	found := headIndex{heads: heads}
	// The answer is written straight into one buffer (see checkbody.go):
	// reasons are explained into scratch space, nothing per result is
	// allocated.
	b := append((*out)[:0], `{"results":[`...)
	var reason []byte
	var memo resultMemo
	for i, ck := range checks {
		if i > 0 {
			b = append(b, ',')
		}
		obj, ok := found.find(ck.id)
		if ck.key != "" {
			res, err := s.store.ResourceByKey(r.Context(), c.project.ID, ck.kind, ck.key)
			if err != nil && gatehouse.ErrorCode(err) != gatehouse.ENotFound {
				return err
			}
			if ok = err == nil; ok {
				obj = res.Object()
			}
		}
		var d access.Decision
		if ok = ok && obj.Project == c.project.ID && obj.Kind == ck.kind; ok {
			d = c.snap.Decide(ck.user, obj)
		}
		if !ok || !d.CanView() {
			// Hidden and missing are one answer, so existence does not leak.
			reason = append(append(append(reason[:0], "no access: the "...), ck.kind.Noun()...), " does not exist or is hidden"...)
			b = appendCheckResult(b, false, "none", "none", reason)
			continue
		}
		key, allowed := c.snap.ExplainKey(d, obj), d.Allows(ck.need)
		if from, to, ok := memo.find(key, allowed); ok {
			b = append(b, b[from:to]...)
			continue
		}
		from := len(b)
		reason = c.snap.AppendExplain(reason[:0], d, obj)
		b = appendCheckResult(b, allowed, d.Level.String(), d.Source.String(), reason)
		memo.add(key, allowed, from, len(b))
	}
	*out = append(b, "]}\n"...)
	writeJSON(w, http.StatusOK, *out)
	return nil
}

// headIndex finds heads by id, cheaply when they are asked for in the order
// they are held.
type headIndex struct {
	heads  []access.Object
	next   int  // the head the next id is likely to be
	sorted bool // heads is in id order, for a binary search
}

// find returns the head whose id is id; ok is false for none (or id 0).
func (x *headIndex) find(id int64) (h access.Object, ok bool) {
	if id == 0 {
		return h, false
	}
	if !x.sorted && x.next < len(x.heads) && x.heads[x.next].ID == id {
		x.next++
		return x.heads[x.next-1], true
	}
	if !x.sorted {
		slices.SortFunc(x.heads, func(a, b access.Object) int { return cmp.Compare(a.ID, b.ID) })
		x.sorted = true
	}
	i, ok := slices.BinarySearchFunc(x.heads, id, func(h access.Object, id int64) int { return cmp.Compare(h.ID, id) })
	if ok {
		h = x.heads[i]
	}
	return h, ok
}

// resultMemo remembers where the last few distinct results of a batch were
// written, by what they depend on, so that a result the batch repeats (one
// member asking about many objects mostly gets a few answers over and over)
// is copied rather than explained and written again.
type resultMemo struct {
	at   [4]memoEntry
	n    int // entries used
	next int // the entry to replace next
}

type memoEntry struct {
	key      access.ExplainKey
	allowed  bool
	from, to int // the result's bytes in the answer
}

func (m *resultMemo) find(key access.ExplainKey, allowed bool) (from, to int, ok bool) {
	for i := range m.n {
		if e := &m.at[i]; e.key == key && e.allowed == allowed {
			return e.from, e.to, true
		}
	}
	return 0, 0, false
}

func (m *resultMemo) add(key access.ExplainKey, allowed bool, from, to int) {
	m.at[m.next] = memoEntry{key, allowed, from, to}
	m.next = (m.next + 1) % len(m.at)
	m.n = min(m.n+1, len(m.at))
}

// checkItem is one check of a batch, read and resolved.
type checkItem struct {
	user int64
	kind access.Kind
	need access.Level
	id   int64  // numeric ids
	key  string // string ids (session recordings)
}

// checkScratch is what a batch of checks is read into, kept from one request
// to the next: a batch of 100 allocated about 20 KB of it, for the collector
// to sweep away again.
type checkScratch struct {
	in     []checkInput
	checks []checkItem
	ids    []int64
	uuids  []string
	heads  []access.Object
}

var checkScratches = sync.Pool{New: func() any { return new(checkScratch) }}

// put returns sc to the pool, unless a large batch made it too big to keep,
// holding nothing of the request it served.
func (sc *checkScratch) put() {
	if cap(sc.in) > maxKeptChecks {
		return
	}
	clear(sc.in)
	clear(sc.checks)
	clear(sc.uuids)
	sc.in, sc.checks, sc.ids, sc.uuids, sc.heads = sc.in[:0], sc.checks[:0], sc.ids[:0], sc.uuids[:0], sc.heads[:0]
	checkScratches.Put(sc)
}

// maxKeptChecks bounds the scratch kept between requests: batches of up to
// this many checks reuse it; larger ones (up to maxChecks) allocate their own.
const maxKeptChecks = 200

// readChecks reads access/check's body into dst[:0]: the fast reader for the
// usual shape, encoding/json (with its errors) for everything else.
func readChecks(dst []checkInput, data []byte) ([]checkInput, error) {
	if checks, ok := parseChecks(dst, data); ok {
		return checks, nil
	}
	var in checkRequest
	if err := decodeBytes(data, &in); err != nil {
		return nil, err
	}
	if in.Checks == nil {
		// Absent or null: not a batch of none, which is "checks": [].
		var members map[string]json.RawMessage
		if _ = json.Unmarshal(data, &members); members["checks"] != nil {
			return nil, gatehouse.FieldError(gatehouse.ENull, "checks", "This field may not be null.")
		}
		return nil, gatehouse.FieldError(gatehouse.ERequired, "checks", "This field is required.")
	}
	return in.Checks, nil
}

// checkAction is the level an access/check action needs.
func checkAction(action string) (access.Level, bool) {
	switch action {
	case "view":
		return access.Viewer, true
	case "edit":
		return access.Editor, true
	case "manage":
		return access.Manager, true
	}
	return access.None, false
}
