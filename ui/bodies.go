package ui

import "time"

// The API's answers as the pages decode them: PostHog's shapes, declared
// here because the pages are a client of the API like any other.

// userBasic is PostHog's nested user shape.
type userBasic struct {
	ID         int64  `json:"id"`
	UUID       string `json:"uuid"`
	DistinctID string `json:"distinct_id"`
	FirstName  string `json:"first_name"`
	Email      string `json:"email"`
}

type idName struct {
	ID   any    `json:"id"`
	Name string `json:"name"`
}

type orgSummary struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	MembershipLevel int    `json:"membership_level"`
}

// meBody is GET /api/users/@me.
type meBody struct {
	userBasic
	Organization  *idName      `json:"organization"`
	Organizations []orgSummary `json:"organizations"`
	Team          *idName      `json:"team"`
}

type orgBody struct {
	ID                string    `json:"id"`
	Name              string    `json:"name"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
	MembershipLevel   int       `json:"membership_level"`
	AvailableFeatures []string  `json:"available_features"`
	Plan              string    `json:"plan"`
}

type memberBody struct {
	ID        string     `json:"id"`
	User      *userBasic `json:"user"`
	Level     int        `json:"level"`
	JoinedAt  time.Time  `json:"joined_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

type inviteBody struct {
	ID          string     `json:"id"`
	TargetEmail string     `json:"target_email"`
	Level       int        `json:"level"`
	CreatedAt   time.Time  `json:"created_at"`
	CreatedBy   *userBasic `json:"created_by"`
	IsExpired   bool       `json:"is_expired"`
}

type projectBody struct {
	ID           int64     `json:"id"`
	UUID         string    `json:"uuid"`
	Name         string    `json:"name"`
	Organization string    `json:"organization"`
	APIToken     string    `json:"api_token"`
	CreatedAt    time.Time `json:"created_at"`
}

type flagRef struct {
	ID  int64  `json:"id"`
	Key string `json:"key"`
}

type roleMemberBody struct {
	ID        string     `json:"id"`
	RoleID    string     `json:"role_id"`
	User      *userBasic `json:"user"`
	JoinedAt  time.Time  `json:"joined_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

type roleBody struct {
	ID                      string           `json:"id"`
	Name                    string           `json:"name"`
	FeatureFlagsAccessLevel int              `json:"feature_flags_access_level"`
	ResourceAccessLevels    map[string]int   `json:"resource_access_levels"`
	CreatedAt               time.Time        `json:"created_at"`
	CreatedBy               *userBasic       `json:"created_by"`
	Members                 []roleMemberBody `json:"members"`
	AssociatedFlags         []flagRef        `json:"associated_flags"`
}

// resourceAccessBody is a v1 organization default for a kind.
type resourceAccessBody struct {
	ID           string     `json:"id"`
	Resource     string     `json:"resource"`
	AccessLevel  int        `json:"access_level"`
	Organization string     `json:"organization"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	CreatedBy    *userBasic `json:"created_by"`
}

// accessControlBody is PostHog's v2 AccessControl shape.
type accessControlBody struct {
	ID                 string     `json:"id"`
	AccessLevel        string     `json:"access_level"`
	Resource           string     `json:"resource"`
	ResourceID         *string    `json:"resource_id"`
	OrganizationMember *string    `json:"organization_member"`
	Role               *string    `json:"role"`
	CreatedBy          *int64     `json:"created_by"`
	CreatedAt          time.Time  `json:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at"`
	ExpiresAt          *time.Time `json:"expires_at"`
}

// userAccess is one row of users_with_access.
type userAccess struct {
	UserID      string `json:"user_id"`
	AccessLevel string `json:"access_level"`
	Source      string `json:"access_source"`
}
