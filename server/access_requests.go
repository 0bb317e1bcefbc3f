package server

// Access requests: a member asks for a higher level on an object (or a whole kind in a
// project), and those who may change its rules approve or deny. Who may do what is
// access's (Snapshot.MayRequest, MayDecide, MaySeeRequest, MayCancel, MayApprove); the
// store holds one pending request per requester and object, and writes an approval's
// member rule in the transaction that marks the request approved.

import (
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

// maxReasonLength bounds a request's or a denial's reason.
const maxReasonLength = 1000

// accessRequestInput is the body of POST …/{kind}/{id}/access_requests.
type accessRequestInput struct {
	AccessLevel     *string `json:"access_level" api:"required,enum=viewer|editor|manager"`
	Reason          *string `json:"reason" api:"required"`
	DurationSeconds *int64  `json:"duration_seconds" api:"nullable"`
}

// kindAccessRequestInput is the body of POST /api/projects/{project}/access_requests.
type kindAccessRequestInput struct {
	AccessLevel     *string `json:"access_level" api:"required,enum=viewer|editor|manager"`
	Reason          *string `json:"reason" api:"required"`
	DurationSeconds *int64  `json:"duration_seconds" api:"nullable"`
	Resource        *string `json:"resource" api:"required,enumof=kinds"`
}

// approveInput is the body of POST …/access_requests/{id}/approve.
type approveInput struct {
	AccessLevel     *string `json:"access_level" api:"enum=viewer|editor|manager"`
	DurationSeconds *int64  `json:"duration_seconds" api:"nullable"`
	Permanent       *bool   `json:"permanent"`
}

// cancelInput is the body of POST …/access_requests/{id}/cancel: nothing, or an empty object.
type cancelInput struct{}

// denyInput is the body of POST …/access_requests/{id}/deny.
type denyInput struct {
	Reason *string `json:"reason" api:"required"`
}

// accessRequestBody is an access request as the API answers it. can_decide and can_cancel
// say what the reader may do with it (the web UI offers those controls).
type accessRequestBody struct {
	ID              string             `json:"id"`
	Status          string             `json:"status" api:"enum=pending|approved|denied|cancelled"`
	RequestedBy     *userBasic         `json:"requested_by"`
	AccessLevel     string             `json:"access_level" api:"enum=viewer|editor|manager"`
	Reason          string             `json:"reason"`
	DurationSeconds *int64             `json:"duration_seconds"`
	Resource        string             `json:"resource" api:"enumof=kinds"`
	ResourceID      *string            `json:"resource_id"`
	CreatedAt       time.Time          `json:"created_at"`
	DecidedBy       *userBasic         `json:"decided_by"`
	DecidedAt       *time.Time         `json:"decided_at"`
	DecisionReason  string             `json:"decision_reason"`
	AccessControl   *accessControlBody `json:"access_control"`
	CanDecide       bool               `json:"can_decide"`
	CanCancel       bool               `json:"can_cancel"`
}

// requestLevel reads a requested or approved level.
func requestLevel(text string) (access.Level, error) {
	l, ok := access.ParseLevel(text)
	if !ok || l == access.None {
		return 0, gatehouse.FieldError(gatehouse.EInvalidChoice, "access_level", "\""+text+"\" is not a valid choice.")
	}
	return l, nil
}

// durationOf reads duration_seconds: any positive number of whole seconds.
func durationOf(seconds *int64) (time.Duration, error) {
	if seconds == nil {
		return 0, nil
	}
	if *seconds <= 0 || *seconds > int64(100*365*24*time.Hour/time.Second) {
		return 0, gatehouse.FieldError(gatehouse.EInvalid, "duration_seconds", "Ensure this value is a positive number of seconds, at most a century.")
	}
	return time.Duration(*seconds) * time.Second, nil
}

// reasonOf reads a required reason.
func reasonOf(reason *string) (string, error) {
	if reason == nil {
		return "", gatehouse.FieldError(gatehouse.ERequired, "reason", "This field is required.")
	}
	text := strings.TrimSpace(*reason)
	if text == "" {
		return "", gatehouse.FieldError(gatehouse.EBlank, "reason", "This field may not be blank.")
	}
	if utf8.RuneCountInString(text) > maxReasonLength {
		return "", gatehouse.FieldError(gatehouse.EMaxLength, "reason", "Ensure this field has no more than 1000 characters.")
	}
	return text, nil
}

// handleAccessRequestCreate serves POST /api/projects/{project}/{kind}/{id}/access_requests.
func (s *Server) handleAccessRequestCreate(w http.ResponseWriter, r *http.Request, c *call) error {
	var in accessRequestInput
	if err := decode(r, &in); err != nil {
		return err
	}
	subject := access.RequestSubject{Requester: c.user.ID, Project: c.project.ID, Kind: c.kind, Object: c.obj}
	return s.createAccessRequest(w, r, c, subject, in.AccessLevel, in.Reason, in.DurationSeconds)
}

// handleKindAccessRequestCreate serves POST /api/projects/{project}/access_requests: a
// request on a whole kind in the project.
func (s *Server) handleKindAccessRequestCreate(w http.ResponseWriter, r *http.Request, c *call) error {
	var in kindAccessRequestInput
	if err := decode(r, &in); err != nil {
		return err
	}
	if deref(in.Resource) == "" {
		return gatehouse.FieldError(gatehouse.ERequired, "resource", "This field is required.")
	}
	k, ok := access.KindFromSingular(*in.Resource)
	if !ok {
		return gatehouse.FieldError(gatehouse.EInvalidChoice, "resource", "\""+*in.Resource+"\" is not a valid choice.")
	}
	subject := access.RequestSubject{Requester: c.user.ID, Project: c.project.ID, Kind: k}
	return s.createAccessRequest(w, r, c, subject, in.AccessLevel, in.Reason, in.DurationSeconds)
}

func (s *Server) createAccessRequest(w http.ResponseWriter, r *http.Request, c *call, subject access.RequestSubject, level, reason *string, seconds *int64) error {
	if deref(level) == "" {
		return gatehouse.FieldError(gatehouse.ERequired, "access_level", "This field is required.")
	}
	want, err := requestLevel(*level)
	if err != nil {
		return err
	}
	text, err := reasonOf(reason)
	if err != nil {
		return err
	}
	d, err := durationOf(seconds)
	if err != nil {
		return err
	}
	if err := c.snap.MayRequest(c.user.ID, subject, want); err != nil {
		return denied(err)
	}
	rq := &gatehouse.AccessRequest{OrganizationID: c.org.ID, Project: subject.Project, Kind: subject.Kind, Object: subject.Object.ID,
		RequestedBy: c.user.ID, Level: want, Reason: text, Duration: d}
	if err := s.store.CreateAccessRequest(r.Context(), rq); err != nil {
		return err
	}
	out, err := s.accessRequestsOut(r, c, []gatehouse.AccessRequest{*rq}, map[int64]access.Object{c.obj.ID: c.obj})
	if err != nil {
		return err
	}
	encode(w, http.StatusCreated, out[0])
	return nil
}

// requestFromPath loads {id} among the project's requests, with what it is about: an id
// of another project, of another organization or of no request is not found.
func (s *Server) requestFromPath(r *http.Request, c *call) (*gatehouse.AccessRequest, access.RequestSubject, error) {
	rq, err := s.store.AccessRequest(r.Context(), c.org.ID, r.PathValue("id"))
	if err != nil {
		return nil, access.RequestSubject{}, err
	}
	if rq.Project != c.project.ID {
		return nil, access.RequestSubject{}, gatehouse.NotFound()
	}
	subject := access.RequestSubject{Requester: rq.RequestedBy, Project: rq.Project, Kind: rq.Kind}
	if rq.Object != 0 {
		heads, err := s.store.HeadsByID(r.Context(), nil, []int64{rq.Object})
		if err != nil {
			return nil, subject, err
		}
		if len(heads) != 1 {
			return nil, subject, gatehouse.NotFound()
		}
		subject.Object = heads[0]
	}
	return rq, subject, nil
}

// handleAccessRequestList serves GET /api/projects/{project}/access_requests: the requests
// the caller may decide and their own (only their own with ?mine=true), newest first,
// optionally of one ?status=.
func (s *Server) handleAccessRequestList(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	f := gatehouse.AccessRequestFilter{OrganizationID: c.org.ID, Project: c.project.ID, OptionalStatus: q.Get("status")}
	if f.OptionalStatus != "" && !validStatus(f.OptionalStatus) {
		return gatehouse.FieldError(gatehouse.EInvalidChoice, "status", "\""+f.OptionalStatus+"\" is not a valid choice.")
	}
	switch q.Get("mine") {
	case "", "false", "0":
	case "true", "1":
		f.OptionalRequestedBy = c.user.ID
	default:
		return gatehouse.FieldError(gatehouse.EInvalid, "mine", "Must be a valid boolean.")
	}
	rqs, err := s.store.AccessRequests(r.Context(), f)
	if err != nil {
		return err
	}
	heads, err := s.requestHeads(r, rqs)
	if err != nil {
		return err
	}
	seen := rqs[:0]
	for _, rq := range rqs {
		subject := access.RequestSubject{Requester: rq.RequestedBy, Project: rq.Project, Kind: rq.Kind, Object: heads[rq.Object]}
		if rq.Object != 0 && subject.Object.ID == 0 {
			continue
		}
		if c.snap.MaySeeRequest(c.user.ID, subject) == nil {
			seen = append(seen, rq)
		}
	}
	limit, offset, err := paging(r)
	if err != nil {
		return err
	}
	lo, hi := window(len(seen), limit, offset)
	out, err := s.accessRequestsOut(r, c, seen[lo:hi], heads)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, newPage(r, len(seen), limit, offset, out))
	return nil
}

func validStatus(st string) bool {
	for _, v := range gatehouse.RequestStatuses {
		if v == st {
			return true
		}
	}
	return false
}

// requestHeads returns the heads of the objects rqs are about, by id.
func (s *Server) requestHeads(r *http.Request, rqs []gatehouse.AccessRequest) (map[int64]access.Object, error) {
	var ids []int64
	for _, rq := range rqs {
		if rq.Object != 0 {
			ids = append(ids, rq.Object)
		}
	}
	out := map[int64]access.Object{}
	if len(ids) == 0 {
		return out, nil
	}
	heads, err := s.store.HeadsByID(r.Context(), nil, ids)
	if err != nil {
		return nil, err
	}
	for _, h := range heads {
		out[h.ID] = h
	}
	return out, nil
}

// handleAccessRequestGet serves GET /api/projects/{project}/access_requests/{id}: for its
// requester and those who may decide it.
func (s *Server) handleAccessRequestGet(w http.ResponseWriter, r *http.Request, c *call) error {
	rq, subject, err := s.requestFromPath(r, c)
	if err != nil {
		return err
	}
	if err := c.snap.MaySeeRequest(c.user.ID, subject); err != nil {
		return denied(err)
	}
	return s.answerRequest(w, r, c, rq, subject)
}

func (s *Server) answerRequest(w http.ResponseWriter, r *http.Request, c *call, rq *gatehouse.AccessRequest, subject access.RequestSubject) error {
	out, err := s.accessRequestsOut(r, c, []gatehouse.AccessRequest{*rq}, map[int64]access.Object{subject.Object.ID: subject.Object})
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, out[0])
	return nil
}

// pending refuses a request that is decided already; the store asks again inside the write.
// toDecide is the request the path names, and what it asks about, for approving or
// denying it: the caller must be one who may decide it (the decision rests on their level
// on its object, for the write's recheck) and it must still be pending.
func (s *Server) toDecide(r *http.Request, c *call) (*gatehouse.AccessRequest, access.RequestSubject, error) {
	rq, subject, err := s.requestFromPath(r, c)
	if err != nil {
		return nil, subject, err
	}
	if err := c.snap.MayDecide(c.user.ID, subject); err != nil {
		return nil, subject, denied(err)
	}
	c.rests = subject.Object
	if err := pending(rq); err != nil {
		return nil, subject, err
	}
	return rq, subject, nil
}

func pending(rq *gatehouse.AccessRequest) error {
	if rq.Status != gatehouse.RequestPending {
		return gatehouse.Errorf(gatehouse.EInvalidInput, "This request was %s already.", rq.Status)
	}
	return nil
}

// handleAccessRequestApprove serves POST /api/projects/{project}/access_requests/{id}/approve.
// The level may be lowered and the time changed; the duration defaults to the request's,
// and without one the approver must choose permanent. The member rule expires at the
// approval's time on the server's clock plus the duration.
func (s *Server) handleAccessRequestApprove(w http.ResponseWriter, r *http.Request, c *call) error {
	var in approveInput
	if err := decode(r, &in); err != nil {
		return err
	}
	rq, subject, err := s.toDecide(r, c)
	if err != nil {
		return err
	}
	level := rq.Level
	if in.AccessLevel != nil {
		if level, err = requestLevel(*in.AccessLevel); err != nil {
			return err
		}
	}
	if err := access.MayApprove(rq.Level, level, c.snap.RequestLevel(subject)); err != nil {
		return denied(err)
	}
	permanent := in.Permanent != nil && *in.Permanent
	d, err := durationOf(in.DurationSeconds)
	switch {
	case err != nil:
		return err
	case permanent && d > 0:
		return gatehouse.FieldError(gatehouse.EInvalid, "duration_seconds", "Choose a duration or permanent, not both.")
	case permanent:
	case d == 0 && rq.Duration > 0:
		d = rq.Duration
	case d == 0:
		return gatehouse.FieldError(gatehouse.ERequired, "duration_seconds", "Choose a duration, or permanent: true.")
	}
	decision := gatehouse.RequestDecision{Status: gatehouse.RequestApproved, Level: level}
	if !permanent {
		decision.ExpiresAt = s.now().UTC().Add(d)
	}
	decided, _, err := s.store.DecideAccessRequest(r.Context(), c.org.ID, rq.ID, decision, c.user.ID)
	if err != nil {
		return err
	}
	return s.answerRequest(w, r, c, decided, subject)
}

// handleAccessRequestDeny serves POST /api/projects/{project}/access_requests/{id}/deny.
func (s *Server) handleAccessRequestDeny(w http.ResponseWriter, r *http.Request, c *call) error {
	var in denyInput
	if err := decode(r, &in); err != nil {
		return err
	}
	rq, subject, err := s.toDecide(r, c)
	if err != nil {
		return err
	}
	reason, err := reasonOf(in.Reason)
	if err != nil {
		return err
	}
	decided, _, err := s.store.DecideAccessRequest(r.Context(), c.org.ID, rq.ID,
		gatehouse.RequestDecision{Status: gatehouse.RequestDenied, Reason: reason}, c.user.ID)
	if err != nil {
		return err
	}
	return s.answerRequest(w, r, c, decided, subject)
}

// handleAccessRequestCancel serves POST /api/projects/{project}/access_requests/{id}/cancel:
// its requester's, while it is pending.
func (s *Server) handleAccessRequestCancel(w http.ResponseWriter, r *http.Request, c *call) error {
	if r.Body != nil && r.Body != http.NoBody {
		// Nothing is read from it, but it is bounded like every other body.
		if err := decode(r, &cancelInput{}); err != nil {
			return err
		}
	}
	rq, subject, err := s.requestFromPath(r, c)
	if err != nil {
		return err
	}
	if err := c.snap.MayCancel(c.user.ID, subject); err != nil {
		return denied(err)
	}
	if err := pending(rq); err != nil {
		return err
	}
	decided, _, err := s.store.DecideAccessRequest(r.Context(), c.org.ID, rq.ID,
		gatehouse.RequestDecision{Status: gatehouse.RequestCancelled}, c.user.ID)
	if err != nil {
		return err
	}
	return s.answerRequest(w, r, c, decided, subject)
}

// accessRequestsOut turns requests into answers for c's caller: the users they name, the
// approved ones' rules (null once removed), and what the caller may do with each.
func (s *Server) accessRequestsOut(r *http.Request, c *call, rqs []gatehouse.AccessRequest, heads map[int64]access.Object) ([]accessRequestBody, error) {
	out := make([]accessRequestBody, len(rqs))
	if len(rqs) == 0 {
		return out, nil
	}
	var ids []int64
	for _, rq := range rqs {
		ids = append(ids, rq.RequestedBy)
		if rq.DecidedBy != 0 {
			ids = append(ids, rq.DecidedBy)
		}
	}
	users, err := s.store.UsersByID(r.Context(), ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]*gatehouse.User, len(users))
	for i := range users {
		byID[users[i].ID] = &users[i]
	}
	var idx *memberIndex
	for i, rq := range rqs {
		b := accessRequestBody{
			ID: rq.ID, Status: rq.Status, RequestedBy: basicUser(byID[rq.RequestedBy]), AccessLevel: rq.Level.String(),
			Reason: rq.Reason, Resource: rq.Kind.Singular(), CreatedAt: rq.CreatedAt.UTC(), DecisionReason: rq.DecisionReason,
		}
		if rq.Duration > 0 {
			b.DurationSeconds = ptr(int64(rq.Duration / time.Second))
		}
		if rq.DecidedBy != 0 {
			b.DecidedBy = basicUser(byID[rq.DecidedBy])
		}
		if !rq.DecidedAt.IsZero() {
			b.DecidedAt = ptr(rq.DecidedAt.UTC())
		}
		var objectID string
		if rq.Object != 0 {
			objectID = strconv.FormatInt(rq.Object, 10)
			if kindSpecs[rq.Kind].stringID {
				res, err := s.store.Resource(r.Context(), rq.Project, rq.Kind, rq.Object)
				if err != nil {
					return nil, err
				}
				objectID = res.Key
			}
			b.ResourceID = ptr(objectID)
		}
		if rq.RuleID != "" {
			rule, err := s.store.Rule(r.Context(), c.org.ID, rq.RuleID)
			switch {
			case gatehouse.ErrorCode(err) == gatehouse.ENotFound:
			case err != nil:
				return nil, err
			default:
				if idx == nil {
					if idx, err = s.members(r, c.org.ID); err != nil {
						return nil, err
					}
				}
				b.AccessControl = ptr(accessControlOut(rule, idx, objectID))
			}
		}
		subject := access.RequestSubject{Requester: rq.RequestedBy, Project: rq.Project, Kind: rq.Kind, Object: heads[rq.Object]}
		if rq.Status == gatehouse.RequestPending {
			b.CanDecide = c.snap.MayDecide(c.user.ID, subject) == nil && s.enforced()
			b.CanCancel = c.snap.MayCancel(c.user.ID, subject) == nil
		}
		out[i] = b
	}
	return out, nil
}
