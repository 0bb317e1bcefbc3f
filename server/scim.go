package server

// SCIM 2.0 (RFC 7643, RFC 7644) under /scim/v2/{domain_id}/: a domain's identity provider
// provisions the organization's members (Users) and roles (Groups). Authenticated by the
// domain's bearer token alone; answered in SCIM's own media type and error bodies.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
	"github.com/gatehouse/gatehouse/license"
)

const (
	scimMediaType    = "application/scim+json"
	scimUserSchema   = "urn:ietf:params:scim:schemas:core:2.0:User"
	scimGroupSchema  = "urn:ietf:params:scim:schemas:core:2.0:Group"
	scimListSchema   = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	scimErrorSchema  = "urn:ietf:params:scim:api:messages:2.0:Error"
	scimPatchSchema  = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	scimMaxResults   = 200
	scimDefaultCount = 100
)

// scimError is a refusal with SCIM's scimType (RFC 7644 §3.12).
type scimError struct {
	status   int
	scimType string
	detail   string
}

func (e *scimError) Error() string { return e.detail }

func scimErr(status int, scimType, detail string) error {
	return &scimError{status: status, scimType: scimType, detail: detail}
}

// scimErrorBody is SCIM's error message.
type scimErrorBody struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail"`
}

func isSCIMPath(p string) bool { return p == "/scim" || strings.HasPrefix(p, "/scim/") }

// writeSCIMError answers err as SCIM's error body: the API's errors keep their status,
// with the scimType that status stands for.
func (s *Server) writeSCIMError(w http.ResponseWriter, r *http.Request, err error) {
	var se *scimError
	if !errors.As(err, &se) {
		err = denied(err)
		var e *gatehouse.Error
		if !errors.As(err, &e) {
			s.log.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path, "err", err)
			se = &scimError{status: http.StatusInternalServerError, detail: "A server error occurred."}
		} else {
			st, ok := errorStatus[e.Code]
			if !ok {
				st.status = http.StatusBadRequest
			}
			se = &scimError{status: st.status, detail: e.Detail}
			switch {
			case e.Code == gatehouse.EUnique:
				se.status, se.scimType = http.StatusConflict, "uniqueness"
			case e.Code == gatehouse.EParseError || e.Code == gatehouse.EInvalidInput && strings.HasPrefix(e.Detail, "Invalid data"):
				se.scimType = "invalidSyntax"
			case se.status == http.StatusBadRequest:
				se.scimType = "invalidValue"
			case se.status == http.StatusPaymentRequired:
				se.status = http.StatusForbidden
			}
		}
	}
	if se.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scim"`)
	}
	scimEncode(w, se.status, scimErrorBody{Schemas: []string{scimErrorSchema}, Status: strconv.Itoa(se.status), ScimType: se.scimType, Detail: se.detail})
}

func scimEncode(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err) // SCIM's bodies are built from plain types: a failure is a bug
	}
	w.Header().Set("Content-Type", scimMediaType)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

// authorizeSCIM checks the bearer token against {domain_id}'s, in constant time. A
// domain that is unknown, unverified, has SCIM off or no token, and a wrong token, are
// refused alike, so that the answer tells nothing about the domain.
func (s *Server) authorizeSCIM(r *http.Request, c *call) error {
	refuse := scimErr(http.StatusUnauthorized, "", "A valid SCIM bearer token of this domain is required.")
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return refuse
	}
	d, err := s.store.Domain(r.Context(), r.PathValue("domain_id"))
	switch {
	case gatehouse.ErrorCode(err) == gatehouse.ENotFound:
		return refuse
	case err != nil:
		return err
	}
	if !scimTokenMatches(d, strings.TrimSpace(token)) || !d.SCIMEnabled || !d.Verified() {
		return refuse
	}
	if !s.currentPlan().Has(license.FeatureSCIM) {
		return scimErr(http.StatusForbidden, "", "SCIM provisioning is an enterprise feature: add a licence to use it.")
	}
	c.scim = d
	return nil
}

// scimContext attributes the request's changes to the domain's SCIM client.
func scimContext(ctx context.Context, d *gatehouse.Domain) context.Context {
	return gatehouse.WithActorName(ctx, "SCIM ("+d.Domain+")")
}

// The resources.

type scimMeta struct {
	ResourceType string     `json:"resourceType"`
	Created      *time.Time `json:"created,omitempty"`
	LastModified *time.Time `json:"lastModified,omitempty"`
	Location     string     `json:"location,omitempty"`
}

type scimName struct {
	GivenName  string `json:"givenName"`
	FamilyName string `json:"familyName"`
	Formatted  string `json:"formatted"`
}

type scimEmail struct {
	Value   string `json:"value"`
	Type    string `json:"type"`
	Primary bool   `json:"primary"`
}

type scimUserBody struct {
	Schemas     []string    `json:"schemas"`
	ID          string      `json:"id"`
	ExternalID  string      `json:"externalId,omitempty"`
	UserName    string      `json:"userName"`
	Name        scimName    `json:"name"`
	DisplayName string      `json:"displayName"`
	Emails      []scimEmail `json:"emails"`
	Active      bool        `json:"active"`
	Meta        scimMeta    `json:"meta"`
}

// scimMember is a group's member. Its optional $ref is left out: a property of that name
// cannot be described in an OpenAPI schema without being read as a reference.
type scimMember struct {
	Value   string `json:"value"`
	Display string `json:"display,omitempty"`
}

type scimGroupBody struct {
	Schemas     []string      `json:"schemas"`
	ID          string        `json:"id"`
	ExternalID  string        `json:"externalId,omitempty"`
	DisplayName string        `json:"displayName"`
	Members     *[]scimMember `json:"members,omitempty"`
	Meta        scimMeta      `json:"meta"`
}

type scimListBody[T any] struct {
	Schemas      []string `json:"schemas"`
	TotalResults int      `json:"totalResults"`
	StartIndex   int      `json:"startIndex"`
	ItemsPerPage int      `json:"itemsPerPage"`
	Resources    []T      `json:"Resources"`
}

// The requests. Values a client may send in more than one form (Entra sends "True" for
// true) are read as any.

type scimUserInput struct {
	Schemas    []string `json:"schemas"`
	UserName   *string  `json:"userName" api:"required"`
	ExternalID *string  `json:"externalId"`
	Name       *struct {
		GivenName  *string `json:"givenName"`
		FamilyName *string `json:"familyName"`
		Formatted  *string `json:"formatted"`
	} `json:"name"`
	DisplayName *string `json:"displayName"`
	Emails      []struct {
		Value   string `json:"value"`
		Type    string `json:"type"`
		Primary any    `json:"primary"`
	} `json:"emails"`
	Active any `json:"active"`
}

type scimGroupInput struct {
	Schemas     []string `json:"schemas"`
	DisplayName *string  `json:"displayName" api:"required"`
	ExternalID  *string  `json:"externalId"`
	Members     []struct {
		Value string `json:"value"`
	} `json:"members"`
}

type scimPatchInput struct {
	Schemas    []string `json:"schemas"`
	Operations []struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value any    `json:"value"`
	} `json:"Operations" api:"required"`
}

func (s *Server) scimLocation(r *http.Request, d *gatehouse.Domain, rest string) string {
	scheme, host := linkBase(r)
	return scheme + "://" + host + "/scim/v2/" + d.ID + "/" + rest
}

func (s *Server) scimUserOut(r *http.Request, d *gatehouse.Domain, su *gatehouse.SCIMUser) scimUserBody {
	created, modified := su.CreatedAt, su.UpdatedAt
	display := strings.TrimSpace(su.GivenName + " " + su.FamilyName)
	if display == "" {
		display = su.User.FirstName
	}
	return scimUserBody{
		Schemas: []string{scimUserSchema}, ID: su.User.UUID, ExternalID: su.ExternalID, UserName: su.UserName,
		Name:        scimName{GivenName: su.GivenName, FamilyName: su.FamilyName, Formatted: display},
		DisplayName: display,
		Emails:      []scimEmail{{Value: su.User.Email, Type: "work", Primary: true}},
		Active:      su.Active,
		Meta:        scimMeta{ResourceType: "User", Created: &created, LastModified: &modified, Location: s.scimLocation(r, d, "Users/"+su.User.UUID)},
	}
}

// scimBool reads a boolean as SCIM clients send it: true, or "True" (Entra ID).
func scimBool(v any, attr string) (bool, error) {
	switch b := v.(type) {
	case bool:
		return b, nil
	case string:
		if x, err := strconv.ParseBool(strings.ToLower(b)); err == nil {
			return x, nil
		}
	}
	return false, scimErr(http.StatusBadRequest, "invalidValue", attr+" must be a boolean.")
}

func scimString(v any, attr string) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	if v == nil {
		return "", nil
	}
	return "", scimErr(http.StatusBadRequest, "invalidValue", attr+" must be a string.")
}

// scimPaging reads startIndex (1-based; less than 1 is 1) and count (at most
// scimMaxResults; negative is 0), as RFC 7644 §3.4.2.4 has them.
func scimPaging(r *http.Request) (start, count int, err error) {
	start, count = 1, scimDefaultCount
	q := r.URL.Query()
	if v := q.Get("startIndex"); v != "" {
		if start, err = strconv.Atoi(v); err != nil {
			return 0, 0, scimErr(http.StatusBadRequest, "invalidValue", "startIndex must be a whole number.")
		}
		start = max(start, 1)
	}
	if v := q.Get("count"); v != "" {
		if count, err = strconv.Atoi(v); err != nil {
			return 0, 0, scimErr(http.StatusBadRequest, "invalidValue", "count must be a whole number.")
		}
		count = min(max(count, 0), scimMaxResults)
	}
	return start, count, nil
}

func scimPage[T any](r *http.Request, items []T) (scimListBody[T], error) {
	start, count, err := scimPaging(r)
	if err != nil {
		return scimListBody[T]{}, err
	}
	lo := min(start-1, len(items))
	hi := min(lo+count, len(items))
	page := items[lo:hi]
	if page == nil {
		page = []T{}
	}
	return scimListBody[T]{Schemas: []string{scimListSchema}, TotalResults: len(items), StartIndex: start, ItemsPerPage: len(page), Resources: page}, nil
}

// A filter is parsed by a SCIM filter parser and then held to the attributes and
// operators this endpoint answers for: eq on the attributes of attrs, joined by and/or.

// scimFilter returns the ?filter= predicate over resources with attributes attr(name)
// (lower-cased name; ok false for one the resource lacks), or nil for no filter.
func scimFilter(r *http.Request, allowed []string) (func(attr func(name string) (any, bool)) bool, error) {
	raw := strings.TrimSpace(r.URL.Query().Get("filter"))
	if raw == "" {
		return nil, nil
	}
	expr, err := filter.ParseFilter([]byte(raw))
	if err != nil {
		return nil, scimErr(http.StatusBadRequest, "invalidFilter", "The filter is not a SCIM filter.")
	}
	var check func(e filter.Expression) error
	check = func(e filter.Expression) error {
		switch x := e.(type) {
		case *filter.LogicalExpression:
			if err := check(x.Left); err != nil {
				return err
			}
			return check(x.Right)
		case *filter.AttributeExpression:
			if !strings.EqualFold(string(x.Operator), string(filter.EQ)) {
				return scimErr(http.StatusBadRequest, "invalidFilter", "Only the eq operator is supported.")
			}
			if !slices.Contains(allowed, filterAttr(x.AttributePath)) {
				return scimErr(http.StatusBadRequest, "invalidFilter", "Filtering on "+x.AttributePath.String()+" is not supported.")
			}
			return nil
		}
		return scimErr(http.StatusBadRequest, "invalidFilter", "Only eq comparisons joined by and and or are supported.")
	}
	if err := check(expr); err != nil {
		return nil, err
	}
	var eval func(e filter.Expression, attr func(string) (any, bool)) bool
	eval = func(e filter.Expression, attr func(string) (any, bool)) bool {
		switch x := e.(type) {
		case *filter.LogicalExpression:
			if strings.EqualFold(string(x.Operator), string(filter.AND)) {
				return eval(x.Left, attr) && eval(x.Right, attr)
			}
			return eval(x.Left, attr) || eval(x.Right, attr)
		case *filter.AttributeExpression:
			name := filterAttr(x.AttributePath)
			v, ok := attr(name)
			if !ok {
				return false
			}
			switch have := v.(type) {
			case bool:
				want, err := scimBool(x.CompareValue, name)
				return err == nil && want == have
			case string:
				want, ok := x.CompareValue.(string)
				if name == "externalid" {
					return ok && want == have // caseExact (RFC 7643 §3.1)
				}
				return ok && strings.EqualFold(want, have)
			}
		}
		return false
	}
	return func(attr func(string) (any, bool)) bool { return eval(expr, attr) }, nil
}

// filterAttr names a filter's attribute lower-cased, with its sub-attribute ("emails.value")
// and without the core schema's URI, which may prefix it.
func filterAttr(p filter.AttributePath) string {
	name := strings.ToLower(p.AttributeName)
	if sub := p.SubAttributeName(); sub != "" {
		name += "." + strings.ToLower(sub)
	}
	return name
}

// Users.

func (s *Server) scimUserFromPath(r *http.Request, c *call) (*gatehouse.SCIMUser, error) {
	u, err := s.store.UserByUUID(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	// Only the users this domain provisioned: any other account, of this organization
	// or another, is not found here.
	return s.store.SCIMUser(r.Context(), c.scim.ID, u.ID)
}

// handleSCIMUserList serves GET Users: filters on userName, externalId, emails.value and
// active, paged.
func (s *Server) handleSCIMUserList(w http.ResponseWriter, r *http.Request, c *call) error {
	match, err := scimFilter(r, []string{"username", "externalid", "emails.value", "active"})
	if err != nil {
		return err
	}
	all, err := s.store.SCIMUsers(r.Context(), c.scim.ID)
	if err != nil {
		return err
	}
	out := []scimUserBody{}
	for i := range all {
		su := &all[i]
		if match != nil && !match(func(name string) (any, bool) {
			switch name {
			case "username":
				return su.UserName, true
			case "externalid":
				return su.ExternalID, true
			case "emails.value":
				return su.User.Email, true
			case "active":
				return su.Active, true
			}
			return nil, false
		}) {
			continue
		}
		out = append(out, s.scimUserOut(r, c.scim, su))
	}
	page, err := scimPage(r, out)
	if err != nil {
		return err
	}
	scimEncode(w, http.StatusOK, page)
	return nil
}

// scimUserFields reads a POST or PUT body into su.
func scimUserFields(in *scimUserInput, su *gatehouse.SCIMUser) error {
	userName := strings.TrimSpace(deref(in.UserName))
	if userName == "" {
		return scimErr(http.StatusBadRequest, "invalidValue", "userName is required.")
	}
	if !validEmail(userName) {
		return scimErr(http.StatusBadRequest, "invalidValue", "userName must be an email address.")
	}
	su.UserName = userName
	if in.ExternalID != nil {
		su.ExternalID = *in.ExternalID
	}
	if in.Name != nil {
		su.GivenName, su.FamilyName = deref(in.Name.GivenName), deref(in.Name.FamilyName)
	}
	if su.GivenName == "" && in.DisplayName != nil {
		su.GivenName = *in.DisplayName
	}
	su.Active = true
	if in.Active != nil {
		active, err := scimBool(in.Active, "active")
		if err != nil {
			return err
		}
		su.Active = active
	}
	return nil
}

// handleSCIMUserCreate serves POST Users: the account with that email is linked (created,
// without a password, when there is none) and made a member.
func (s *Server) handleSCIMUserCreate(w http.ResponseWriter, r *http.Request, c *call) error {
	var in scimUserInput
	if err := decodeSCIM(r, &in); err != nil {
		return err
	}
	su := &gatehouse.SCIMUser{DomainID: c.scim.ID}
	if err := scimUserFields(&in, su); err != nil {
		return err
	}
	if err := s.store.ProvisionSCIMUser(scimContext(r.Context(), c.scim), c.scim.OrganizationID, su); err != nil {
		return err
	}
	out := s.scimUserOut(r, c.scim, su)
	w.Header().Set("Location", out.Meta.Location)
	scimEncode(w, http.StatusCreated, out)
	return nil
}

// handleSCIMUserGet serves GET Users/{id}.
func (s *Server) handleSCIMUserGet(w http.ResponseWriter, r *http.Request, c *call) error {
	su, err := s.scimUserFromPath(r, c)
	if err != nil {
		return err
	}
	scimEncode(w, http.StatusOK, s.scimUserOut(r, c.scim, su))
	return nil
}

// handleSCIMUserReplace serves PUT Users/{id}.
func (s *Server) handleSCIMUserReplace(w http.ResponseWriter, r *http.Request, c *call) error {
	var in scimUserInput
	if err := decodeSCIM(r, &in); err != nil {
		return err
	}
	cur, err := s.scimUserFromPath(r, c)
	if err != nil {
		return err
	}
	var next gatehouse.SCIMUser
	if err := scimUserFields(&in, &next); err != nil {
		return err
	}
	return s.updateSCIMUser(w, r, c, cur.User.ID, func(su *gatehouse.SCIMUser) error {
		su.UserName, su.ExternalID, su.GivenName, su.FamilyName, su.Active = next.UserName, next.ExternalID, next.GivenName, next.FamilyName, next.Active
		return nil
	})
}

func (s *Server) updateSCIMUser(w http.ResponseWriter, r *http.Request, c *call, userID int64, modify func(su *gatehouse.SCIMUser) error) error {
	su, err := s.store.UpdateSCIMUser(scimContext(r.Context(), c.scim), c.scim.OrganizationID, c.scim.ID, userID, modify)
	if err != nil {
		return err
	}
	scimEncode(w, http.StatusOK, s.scimUserOut(r, c.scim, su))
	return nil
}

// scimOps reads a PatchOp body: its operations with op lower-cased (Entra ID sends
// "Replace") and path parsed.
type scimOp struct {
	op    string
	path  *filter.Path // nil: no path
	value any
}

func readPatch(r *http.Request) ([]scimOp, error) {
	var in scimPatchInput
	if err := decodeSCIM(r, &in); err != nil {
		return nil, err
	}
	if len(in.Operations) == 0 {
		return nil, scimErr(http.StatusBadRequest, "invalidValue", "Operations is required.")
	}
	ops := make([]scimOp, 0, len(in.Operations))
	for _, o := range in.Operations {
		op := scimOp{op: strings.ToLower(o.Op), value: o.Value}
		switch op.op {
		case "add", "replace", "remove":
		default:
			return nil, scimErr(http.StatusBadRequest, "invalidSyntax", `op must be "add", "replace" or "remove".`)
		}
		if p := strings.TrimSpace(o.Path); p != "" {
			parsed, err := filter.ParsePath([]byte(p))
			if err != nil {
				return nil, scimErr(http.StatusBadRequest, "invalidPath", "The path "+strconv.Quote(p)+" is not a SCIM path.")
			}
			op.path = &parsed
		} else if op.op == "remove" {
			return nil, scimErr(http.StatusBadRequest, "noTarget", "A remove operation needs a path.")
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// pathAttr names a patch path's attribute lower-cased, with its sub-attribute:
// "name.givenname"; a filtered path ("emails[type eq \"work\"].value") names its attribute
// and the sub-attribute after the filter.
func pathAttr(p *filter.Path) string {
	name := filterAttr(p.AttributePath)
	if sub := p.SubAttributeName(); sub != "" {
		name += "." + strings.ToLower(sub)
	}
	return name
}

// applyUserAttr sets one attribute of su from a patch; attributes Gatehouse keeps nothing
// of (titles, phone numbers, the enterprise extension, emails: the account's email is its
// userName) are accepted and ignored, as identity providers send them all.
func applyUserAttr(su *gatehouse.SCIMUser, attr string, value any, remove bool) error {
	var err error
	str := func() string {
		if remove {
			return ""
		}
		var s string
		s, err = scimString(value, attr)
		return s
	}
	switch attr {
	case "active":
		if remove {
			return scimErr(http.StatusBadRequest, "mutability", "active cannot be removed.")
		}
		su.Active, err = scimBool(value, "active")
	case "username":
		name := str()
		if err == nil && !validEmail(name) {
			return scimErr(http.StatusBadRequest, "invalidValue", "userName must be an email address.")
		}
		su.UserName = name
	case "externalid":
		su.ExternalID = str()
	case "name.givenname":
		su.GivenName = str()
	case "name.familyname":
		su.FamilyName = str()
	case "name":
		if remove {
			su.GivenName, su.FamilyName = "", ""
			return nil
		}
		m, ok := value.(map[string]any)
		if !ok {
			return scimErr(http.StatusBadRequest, "invalidValue", "name must be an object.")
		}
		for k, v := range m {
			if err := applyUserAttr(su, "name."+strings.ToLower(k), v, false); err != nil {
				return err
			}
		}
	case "displayname":
		if su.GivenName == "" {
			su.GivenName = str()
		}
	}
	return err
}

// handleSCIMUserPatch serves PATCH Users/{id}, in the forms Okta and Entra ID send: with a
// path, or without one and an object of attributes as the value.
func (s *Server) handleSCIMUserPatch(w http.ResponseWriter, r *http.Request, c *call) error {
	ops, err := readPatch(r)
	if err != nil {
		return err
	}
	cur, err := s.scimUserFromPath(r, c)
	if err != nil {
		return err
	}
	return s.updateSCIMUser(w, r, c, cur.User.ID, func(su *gatehouse.SCIMUser) error {
		for _, op := range ops {
			if op.path != nil {
				if err := applyUserAttr(su, pathAttr(op.path), op.value, op.op == "remove"); err != nil {
					return err
				}
				continue
			}
			m, ok := op.value.(map[string]any)
			if !ok {
				return scimErr(http.StatusBadRequest, "invalidValue", "An operation without a path needs an object as its value.")
			}
			for k, v := range m {
				if err := applyUserAttr(su, strings.ToLower(strings.TrimPrefix(k, scimUserSchema+":")), v, false); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// handleSCIMUserDelete serves DELETE Users/{id}: the membership goes as with active false,
// and so does the link, so that the user is then not found here.
func (s *Server) handleSCIMUserDelete(w http.ResponseWriter, r *http.Request, c *call) error {
	su, err := s.scimUserFromPath(r, c)
	if err != nil {
		return err
	}
	if err := s.store.DeleteSCIMUser(scimContext(r.Context(), c.scim), c.scim.OrganizationID, c.scim.ID, su.User.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Groups: the organization's roles.

func (s *Server) scimGroupOut(r *http.Request, c *call, role *gatehouse.Role, externalID string, withMembers bool) (scimGroupBody, error) {
	created, modified := role.CreatedAt, role.UpdatedAt
	out := scimGroupBody{Schemas: []string{scimGroupSchema}, ID: role.ID, ExternalID: externalID, DisplayName: role.Name,
		Meta: scimMeta{ResourceType: "Group", Created: &created, LastModified: &modified, Location: s.scimLocation(r, c.scim, "Groups/"+role.ID)}}
	if withMembers {
		rms, err := s.store.RoleMembers(r.Context(), role.ID)
		if err != nil {
			return out, err
		}
		members := make([]scimMember, len(rms))
		for i, m := range rms {
			members[i] = scimMember{Value: m.User.UUID, Display: m.User.Email}
		}
		out.Members = &members
	}
	return out, nil
}

// membersWanted reports whether the answer lists members: Entra ID asks without them
// (excludedAttributes=members) where it only needs the group.
func membersWanted(r *http.Request) bool {
	for _, a := range strings.Split(r.URL.Query().Get("excludedAttributes"), ",") {
		if strings.EqualFold(strings.TrimSpace(a), "members") {
			return false
		}
	}
	return true
}

func (s *Server) scimRoleFromPath(r *http.Request, c *call) (*gatehouse.Role, error) {
	return s.store.Role(r.Context(), c.scim.OrganizationID, r.PathValue("id"))
}

// handleSCIMGroupList serves GET Groups: the organization's roles, filtered on displayName.
func (s *Server) handleSCIMGroupList(w http.ResponseWriter, r *http.Request, c *call) error {
	match, err := scimFilter(r, []string{"displayname"})
	if err != nil {
		return err
	}
	roles, err := s.store.Roles(r.Context(), c.scim.OrganizationID)
	if err != nil {
		return err
	}
	links, err := s.store.SCIMGroupLinks(r.Context(), c.scim.ID)
	if err != nil {
		return err
	}
	var matched []*gatehouse.Role
	for i := range roles {
		role := &roles[i]
		if match == nil || match(func(name string) (any, bool) { return role.Name, name == "displayname" }) {
			matched = append(matched, role)
		}
	}
	page, err := scimPage(r, matched)
	if err != nil {
		return err
	}
	out := scimListBody[scimGroupBody]{Schemas: page.Schemas, TotalResults: page.TotalResults, StartIndex: page.StartIndex,
		ItemsPerPage: page.ItemsPerPage, Resources: make([]scimGroupBody, len(page.Resources))}
	for i, role := range page.Resources {
		if out.Resources[i], err = s.scimGroupOut(r, c, role, links[role.ID], membersWanted(r)); err != nil {
			return err
		}
	}
	scimEncode(w, http.StatusOK, out)
	return nil
}

// memberIDs resolves SCIM member values (user ids) to the users that are members of the
// organization; others are left out, since a role holds members only. Each value is looked
// up on its own (the uuid from the store's cache, then that one membership): a PATCH adding
// one member to a group must not read the organization's whole member list.
func (s *Server) memberIDs(ctx context.Context, c *call, values []string) ([]int64, error) {
	var out []int64
	for _, v := range values {
		u, err := s.store.UserByUUID(ctx, v)
		if gatehouse.ErrorCode(err) == gatehouse.ENotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		_, err = s.store.Membership(ctx, c.scim.OrganizationID, u.ID)
		if gatehouse.ErrorCode(err) == gatehouse.ENotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, u.ID) {
			out = append(out, u.ID)
		}
	}
	return out, nil
}

// groupMemberIDs is memberIDs of a group body's members.
func (s *Server) groupMemberIDs(ctx context.Context, c *call, in *scimGroupInput) ([]int64, error) {
	values := make([]string, len(in.Members))
	for i, m := range in.Members {
		values[i] = m.Value
	}
	return s.memberIDs(ctx, c, values)
}

// setRoleMembers adds users to the role (add), takes them out (remove), or makes them
// its members exactly (replace).
func (s *Server) setRoleMembers(ctx context.Context, c *call, roleID, how string, users []int64) error {
	current, err := s.store.RoleMembers(ctx, roleID)
	if err != nil {
		return err
	}
	have := map[int64]string{}
	for _, m := range current {
		have[m.User.ID] = m.ID
	}
	org := c.scim.OrganizationID
	if how == "replace" || how == "remove" {
		for uid, id := range have {
			if slices.Contains(users, uid) == (how == "remove") {
				if err := s.store.RemoveRoleMember(ctx, org, roleID, id, 0); err != nil && gatehouse.ErrorCode(err) != gatehouse.ENotFound {
					return err
				}
			}
		}
	}
	if how == "replace" || how == "add" {
		for _, uid := range users {
			if _, in := have[uid]; in {
				continue
			}
			m := &gatehouse.RoleMembership{RoleID: roleID, User: gatehouse.User{ID: uid}}
			err := s.store.AddRoleMember(ctx, org, m, 0)
			// Already there (a concurrent add) or gone from the organization meanwhile:
			// either way nothing more is to be done for this user.
			if err != nil && gatehouse.ErrorCode(err) != gatehouse.EUnique && gatehouse.ErrorCode(err) != gatehouse.EDoesNotExist {
				return err
			}
		}
	}
	return nil
}

// memberValues reads a members value: a list of {value}, or one.
func memberValues(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	var out []string
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, scimErr(http.StatusBadRequest, "invalidValue", "members must be a list of {value}.")
		}
		s, ok := m["value"].(string)
		if !ok {
			return nil, scimErr(http.StatusBadRequest, "invalidValue", "A member needs a value: the user's id.")
		}
		out = append(out, s)
	}
	return out, nil
}

// handleSCIMGroupCreate serves POST Groups: a role of that name, in any case, is linked
// rather than duplicated; a new role has the levels a role made in the API would.
func (s *Server) handleSCIMGroupCreate(w http.ResponseWriter, r *http.Request, c *call) error {
	var in scimGroupInput
	if err := decodeSCIM(r, &in); err != nil {
		return err
	}
	name := strings.TrimSpace(deref(in.DisplayName))
	if name == "" {
		return scimErr(http.StatusBadRequest, "invalidValue", "displayName is required.")
	}
	ctx := scimContext(r.Context(), c.scim)
	role, err := s.roleNamed(ctx, c.scim.OrganizationID, name)
	if err != nil {
		return err
	}
	if role == nil {
		defaults, err := s.orgDefaults(r, c.scim.OrganizationID)
		if err != nil {
			return err
		}
		role = &gatehouse.Role{OrganizationID: c.scim.OrganizationID, Name: name}
		for _, k := range access.Kinds {
			role.Levels[k] = access.Editor
			if d, ok := defaults[k]; ok {
				role.Levels[k] = d.Level
			}
		}
		if err := s.store.CreateRole(ctx, role, 0); err != nil {
			return err
		}
	}
	if err := s.store.LinkSCIMGroup(ctx, c.scim.ID, role.ID, deref(in.ExternalID)); err != nil {
		return err
	}
	users, err := s.groupMemberIDs(ctx, c, &in)
	if err != nil {
		return err
	}
	if err := s.setRoleMembers(ctx, c, role.ID, "add", users); err != nil {
		return err
	}
	out, err := s.scimGroupOut(r, c, role, deref(in.ExternalID), true)
	if err != nil {
		return err
	}
	w.Header().Set("Location", out.Meta.Location)
	scimEncode(w, http.StatusCreated, out)
	return nil
}

// roleNamed finds the organization's role of this name, compared case-insensitively as
// role names are unique; nil when there is none.
func (s *Server) roleNamed(ctx context.Context, orgID, name string) (*gatehouse.Role, error) {
	roles, err := s.store.Roles(ctx, orgID)
	if err != nil {
		return nil, err
	}
	for i := range roles {
		if strings.EqualFold(roles[i].Name, name) {
			return &roles[i], nil
		}
	}
	return nil, nil
}

func (s *Server) writeSCIMGroup(w http.ResponseWriter, r *http.Request, c *call, roleID string, status int) error {
	role, err := s.store.Role(r.Context(), c.scim.OrganizationID, roleID)
	if err != nil {
		return err
	}
	links, err := s.store.SCIMGroupLinks(r.Context(), c.scim.ID)
	if err != nil {
		return err
	}
	out, err := s.scimGroupOut(r, c, role, links[role.ID], membersWanted(r))
	if err != nil {
		return err
	}
	scimEncode(w, status, out)
	return nil
}

// handleSCIMGroupGet serves GET Groups/{id}.
func (s *Server) handleSCIMGroupGet(w http.ResponseWriter, r *http.Request, c *call) error {
	role, err := s.scimRoleFromPath(r, c)
	if err != nil {
		return err
	}
	return s.writeSCIMGroup(w, r, c, role.ID, http.StatusOK)
}

func (s *Server) renameRole(ctx context.Context, c *call, roleID, name string) error {
	name = strings.TrimSpace(name)
	if name == "" {
		return scimErr(http.StatusBadRequest, "invalidValue", "displayName cannot be empty.")
	}
	_, err := s.store.UpdateRoleFunc(ctx, c.scim.OrganizationID, roleID, 0, func(r *gatehouse.Role) error {
		r.Name = name
		return nil
	})
	return err
}

// handleSCIMGroupReplace serves PUT Groups/{id}: its name and exactly its members.
func (s *Server) handleSCIMGroupReplace(w http.ResponseWriter, r *http.Request, c *call) error {
	var in scimGroupInput
	if err := decodeSCIM(r, &in); err != nil {
		return err
	}
	if strings.TrimSpace(deref(in.DisplayName)) == "" {
		// A PUT replaces the whole group: without its name it is no group.
		return scimErr(http.StatusBadRequest, "invalidValue", "displayName is required.")
	}
	role, err := s.scimRoleFromPath(r, c)
	if err != nil {
		return err
	}
	ctx := scimContext(r.Context(), c.scim)
	if *in.DisplayName != role.Name {
		if err := s.renameRole(ctx, c, role.ID, *in.DisplayName); err != nil {
			return err
		}
	}
	if in.ExternalID != nil {
		if err := s.store.LinkSCIMGroup(ctx, c.scim.ID, role.ID, *in.ExternalID); err != nil {
			return err
		}
	}
	users, err := s.groupMemberIDs(ctx, c, &in)
	if err != nil {
		return err
	}
	if err := s.setRoleMembers(ctx, c, role.ID, "replace", users); err != nil {
		return err
	}
	return s.writeSCIMGroup(w, r, c, role.ID, http.StatusOK)
}

// handleSCIMGroupPatch serves PATCH Groups/{id}: members added, removed (by a list, or by
// a members[value eq "id"] path) or replaced, and displayName and externalId changed, with
// or without a path.
func (s *Server) handleSCIMGroupPatch(w http.ResponseWriter, r *http.Request, c *call) error {
	ops, err := readPatch(r)
	if err != nil {
		return err
	}
	role, err := s.scimRoleFromPath(r, c)
	if err != nil {
		return err
	}
	ctx := scimContext(r.Context(), c.scim)
	apply := func(op, attr string, p *filter.Path, value any) error {
		switch attr {
		case "members":
			var values []string
			if p != nil && p.ValueExpression != nil {
				v, err := memberFilterValue(p.ValueExpression)
				if err != nil {
					return err
				}
				values = []string{v}
			} else if values, err = memberValues(value); err != nil {
				return err
			}
			users, err := s.memberIDs(ctx, c, values)
			if err != nil {
				return err
			}
			if op == "remove" && values == nil {
				op = "replace" // remove without a value or filter: every member
			}
			return s.setRoleMembers(ctx, c, role.ID, op, users)
		case "displayname":
			name, err := scimString(value, "displayName")
			if err != nil {
				return err
			}
			if op == "remove" {
				return scimErr(http.StatusBadRequest, "mutability", "displayName cannot be removed.")
			}
			return s.renameRole(ctx, c, role.ID, name)
		case "externalid":
			ext, err := scimString(value, "externalId")
			if err != nil {
				return err
			}
			if op == "remove" {
				ext = ""
			}
			return s.store.LinkSCIMGroup(ctx, c.scim.ID, role.ID, ext)
		}
		return nil // id, meta and attributes Gatehouse keeps nothing of
	}
	for _, op := range ops {
		if op.path != nil {
			if err := apply(op.op, filterAttr(op.path.AttributePath), op.path, op.value); err != nil {
				return err
			}
			continue
		}
		m, ok := op.value.(map[string]any)
		if !ok {
			return scimErr(http.StatusBadRequest, "invalidValue", "An operation without a path needs an object as its value.")
		}
		for k, v := range m {
			if err := apply(op.op, strings.ToLower(k), nil, v); err != nil {
				return err
			}
		}
	}
	return s.writeSCIMGroup(w, r, c, role.ID, http.StatusOK)
}

// memberFilterValue reads the user id out of a members[value eq "id"] path.
func memberFilterValue(e filter.Expression) (string, error) {
	x, ok := e.(*filter.AttributeExpression)
	if ok && strings.EqualFold(x.AttributePath.AttributeName, "value") && strings.EqualFold(string(x.Operator), string(filter.EQ)) {
		if v, ok := x.CompareValue.(string); ok {
			return v, nil
		}
	}
	return "", scimErr(http.StatusBadRequest, "invalidPath", `A members path may only select members[value eq "id"].`)
}

// handleSCIMGroupDelete serves DELETE Groups/{id}: the role goes, with its memberships and
// the rules on it.
func (s *Server) handleSCIMGroupDelete(w http.ResponseWriter, r *http.Request, c *call) error {
	role, err := s.scimRoleFromPath(r, c)
	if err != nil {
		return err
	}
	if err := s.store.DeleteRole(scimContext(r.Context(), c.scim), c.scim.OrganizationID, role.ID, 0); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Discovery (RFC 7644 §4).

type scimServiceProviderConfig struct {
	Schemas          []string          `json:"schemas"`
	DocumentationURI string            `json:"documentationUri"`
	Patch            scimSupported     `json:"patch"`
	Bulk             scimBulk          `json:"bulk"`
	Filter           scimFilterSupport `json:"filter"`
	ChangePassword   scimSupported     `json:"changePassword"`
	Sort             scimSupported     `json:"sort"`
	Etag             scimSupported     `json:"etag"`
	AuthSchemes      []scimAuthScheme  `json:"authenticationSchemes"`
	Meta             scimMeta          `json:"meta"`
}

type scimSupported struct {
	Supported bool `json:"supported"`
}

type scimBulk struct {
	Supported      bool `json:"supported"`
	MaxOperations  int  `json:"maxOperations"`
	MaxPayloadSize int  `json:"maxPayloadSize"`
}

type scimFilterSupport struct {
	Supported  bool `json:"supported"`
	MaxResults int  `json:"maxResults"`
}

type scimAuthScheme struct {
	Type        string `json:"type"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Primary     bool   `json:"primary"`
}

type scimResourceType struct {
	Schemas     []string `json:"schemas"`
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Endpoint    string   `json:"endpoint"`
	Description string   `json:"description"`
	Schema      string   `json:"schema"`
	Meta        scimMeta `json:"meta"`
}

type scimAttribute struct {
	Name          string          `json:"name"`
	Type          string          `json:"type"`
	MultiValued   bool            `json:"multiValued"`
	Required      bool            `json:"required"`
	CaseExact     bool            `json:"caseExact"`
	Mutability    string          `json:"mutability"`
	Returned      string          `json:"returned"`
	Uniqueness    string          `json:"uniqueness"`
	SubAttributes []scimAttribute `json:"subAttributes,omitempty"`
}

type scimSchema struct {
	Schemas     []string        `json:"schemas"`
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Attributes  []scimAttribute `json:"attributes"`
	Meta        scimMeta        `json:"meta"`
}

// handleSCIMServiceProviderConfig serves GET ServiceProviderConfig.
func (s *Server) handleSCIMServiceProviderConfig(w http.ResponseWriter, r *http.Request, c *call) error {
	scimEncode(w, http.StatusOK, scimServiceProviderConfig{
		Schemas:          []string{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"},
		DocumentationURI: "https://github.com/gatehouse/gatehouse/blob/main/docs/identity.md",
		Patch:            scimSupported{Supported: true},
		Filter:           scimFilterSupport{Supported: true, MaxResults: scimMaxResults},
		AuthSchemes: []scimAuthScheme{{Type: "oauthbearertoken", Name: "OAuth Bearer Token", Primary: true,
			Description: "The domain's SCIM bearer token, made in the organization's domain settings."}},
		Meta: scimMeta{ResourceType: "ServiceProviderConfig", Location: s.scimLocation(r, c.scim, "ServiceProviderConfig")},
	})
	return nil
}

// handleSCIMResourceTypes serves GET ResourceTypes.
func (s *Server) handleSCIMResourceTypes(w http.ResponseWriter, r *http.Request, c *call) error {
	rt := func(name, endpoint, schema, what string) scimResourceType {
		return scimResourceType{Schemas: []string{"urn:ietf:params:scim:schemas:core:2.0:ResourceType"}, ID: name, Name: name,
			Endpoint: endpoint, Description: what, Schema: schema,
			Meta: scimMeta{ResourceType: "ResourceType", Location: s.scimLocation(r, c.scim, "ResourceTypes/"+name)}}
	}
	types := []scimResourceType{
		rt("User", "/Users", scimUserSchema, "A member of the organization."),
		rt("Group", "/Groups", scimGroupSchema, "A role of the organization."),
	}
	scimEncode(w, http.StatusOK, scimListBody[scimResourceType]{Schemas: []string{scimListSchema}, TotalResults: len(types),
		StartIndex: 1, ItemsPerPage: len(types), Resources: types})
	return nil
}

// handleSCIMSchemas serves GET Schemas: the attributes Gatehouse keeps of each resource.
func (s *Server) handleSCIMSchemas(w http.ResponseWriter, r *http.Request, c *call) error {
	attr := func(name, typ string, required, caseExact bool, mutability, uniqueness string, sub ...scimAttribute) scimAttribute {
		return scimAttribute{Name: name, Type: typ, Required: required, CaseExact: caseExact, Mutability: mutability,
			Returned: "default", Uniqueness: uniqueness, SubAttributes: sub, MultiValued: typ == "complex" && name != "name"}
	}
	schema := func(id, name, what string, attrs ...scimAttribute) scimSchema {
		return scimSchema{Schemas: []string{"urn:ietf:params:scim:schemas:core:2.0:Schema"}, ID: id, Name: name, Description: what,
			Attributes: attrs, Meta: scimMeta{ResourceType: "Schema", Location: s.scimLocation(r, c.scim, "Schemas/"+id)}}
	}
	list := []scimSchema{
		schema(scimUserSchema, "User", "A member of the organization.",
			attr("userName", "string", true, false, "readWrite", "server"),
			attr("externalId", "string", false, true, "readWrite", "none"),
			attr("name", "complex", false, false, "readWrite", "none",
				attr("givenName", "string", false, false, "readWrite", "none"),
				attr("familyName", "string", false, false, "readWrite", "none")),
			attr("emails", "complex", false, false, "readOnly", "none", attr("value", "string", false, false, "readOnly", "none")),
			attr("active", "boolean", false, false, "readWrite", "none")),
		schema(scimGroupSchema, "Group", "A role of the organization.",
			attr("displayName", "string", true, false, "readWrite", "server"),
			attr("externalId", "string", false, true, "readWrite", "none"),
			attr("members", "complex", false, false, "readWrite", "none", attr("value", "string", false, true, "immutable", "none"))),
	}
	scimEncode(w, http.StatusOK, scimListBody[scimSchema]{Schemas: []string{scimListSchema}, TotalResults: len(list),
		StartIndex: 1, ItemsPerPage: len(list), Resources: list})
	return nil
}
