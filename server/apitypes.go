package server

import "time"

// The request and answer bodies that handlers decode and encode and that
// had no named type: named, so that the route table can give them to the
// schema (schema.go), which describes each from its Go type.
//
// Tags read by the schema, beside json: api:"required" (a request field the
// handler refuses without), api:"enum=a|b|c", api:"enumof=NAME" (a list
// schema.go computes: enumSets), api:"nullable" (a field that is not a
// pointer and may still be null).

type signupInput struct {
	Email            *string `json:"email" api:"required"`
	Password         *string `json:"password" api:"required"`
	FirstName        *string `json:"first_name" api:"required"`
	OrganizationName *string `json:"organization_name"`
}

type loginInput struct {
	Email    *string `json:"email" api:"required"`
	Password *string `json:"password" api:"required"`
}

type meInput struct {
	FirstName              *string `json:"first_name"`
	SetCurrentOrganization *string `json:"set_current_organization"`
	SetCurrentTeam         *int64  `json:"set_current_team"`
}

type apiKeyInput struct {
	Label *string `json:"label" api:"required"`
}

// nameInput is the body of an organization's or a project's create and update.
type nameInput struct {
	Name *string `json:"name" api:"required"`
}

type memberInput struct {
	Level *int `json:"level" api:"required,enum=1|8|15"`
}

type inviteInput struct {
	TargetEmail *string `json:"target_email" api:"required"`
	Level       *int    `json:"level" api:"enum=1|8|15"`
}

// inviteAcceptInput signs up through an invite; a signed-in user sends {}.
type inviteAcceptInput struct {
	FirstName *string `json:"first_name"`
	Password  *string `json:"password"`
	Email     *string `json:"email"`
}

type roleMemberInput struct {
	UserUUID *string `json:"user_uuid" api:"required"`
}

type roleAccessInput struct {
	RoleID *string `json:"role_id" api:"required"`
}

// roleAccessBody is the part of a role access answer (roleAccessOut) that
// every kind shares; the object itself is under the kind's singular name.
type roleAccessBody struct {
	ID        string    `json:"id"`
	Role      roleBody  `json:"role"`
	RoleID    string    `json:"role_id"`
	AddedAt   time.Time `json:"added_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// accessControlsBody answers the v2 GETs of access controls. The kind
// rules' answer has no user_access_level.
type accessControlsBody struct {
	AccessControls          []accessControlBody `json:"access_controls"`
	AvailableAccessLevels   []string            `json:"available_access_levels"`
	DefaultAccessLevel      string              `json:"default_access_level"`
	UserAccessLevel         string              `json:"user_access_level,omitempty"`
	UserCanEditAccessLevels bool                `json:"user_can_edit_access_levels"`
}

type usersWithAccessBody struct {
	Users      []userAccess `json:"users"`
	TotalCount int          `json:"total_count"`
}

// checkResult is one answer of access/check: what appendCheckResult writes,
// byte for byte as encoding/json would (FuzzCheckBody).
type checkResult struct {
	Allowed      bool   `json:"allowed"`
	AccessLevel  string `json:"access_level" api:"enum=none|viewer|editor|manager"`
	AccessSource string `json:"access_source"`
	Reason       string `json:"reason"`
}

type checkAnswer struct {
	Results []checkResult `json:"results"`
}

// statusBody answers /_health and /_ready.
type statusBody struct {
	Status string `json:"status"`
}

// resourceMeta is what every resource answer adds to the kind's own fields
// (resourceOut), and how the schema learns it.
type resourceMeta struct {
	CreatedBy       *userBasic `json:"created_by"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
	Deleted         bool       `json:"deleted"`
	CanEdit         bool       `json:"can_edit"`
	UserAccessLevel string     `json:"user_access_level" api:"enum=none|viewer|editor|manager"`
}

// pageOf is PostHog's list envelope as the schema describes it: page, which
// the handlers fill, with its results typed.
type pageOf[T any] struct {
	Count    int     `json:"count"`
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  []T     `json:"results"`
}
