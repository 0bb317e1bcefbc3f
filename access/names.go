package access

import "strconv"

// Kind is a resource kind. Every kind is enforced, not only feature flags as in PostHog 2023.
type Kind uint8

// The resource kinds, in the order of their URL segments in the API reference.
const (
	FeatureFlags Kind = iota
	Experiments
	Cohorts
	SessionRecordings
	Insights
	Dashboards
	Actions
	NumKinds
)

// Kinds lists every kind in order.
var Kinds = [NumKinds]Kind{FeatureFlags, Experiments, Cohorts, SessionRecordings, Insights, Dashboards, Actions}

var (
	kindPaths     = [NumKinds]string{"feature_flags", "experiments", "cohorts", "session_recordings", "insights", "dashboards", "actions"}
	kindV1Names   = [NumKinds]string{"feature flags", "experiments", "cohorts", "session recordings", "insights", "dashboards", "data management"}
	kindSingulars = [NumKinds]string{"feature_flag", "experiment", "cohort", "session_recording", "insight", "dashboard", "action"}
	kindNouns     = [NumKinds]string{"feature flag", "experiment", "cohort", "session recording", "insight", "dashboard", "action"}
)

func (k Kind) name(names *[NumKinds]string) string {
	if k >= NumKinds {
		return "Kind(" + strconv.Itoa(int(k)) + ")"
	}
	return names[k]
}

// Valid reports whether k is one of the kinds.
func (k Kind) Valid() bool { return k < NumKinds }

// String returns the kind's URL segment, e.g. "feature_flags".
func (k Kind) String() string { return k.name(&kindPaths) }

// V1Name returns the resource string of PostHog's v1 API, e.g. "feature flags";
// actions are "data management" there.
func (k Kind) V1Name() string { return k.name(&kindV1Names) }

// Singular returns the v2 resource name, e.g. "feature_flag".
func (k Kind) Singular() string { return k.name(&kindSingulars) }

// Noun returns the kind as a person reads it in a message, e.g. "feature flag".
func (k Kind) Noun() string { return k.name(&kindNouns) }

func kindFrom(names *[NumKinds]string, s string) (Kind, bool) {
	for k, n := range names {
		if n == s {
			return Kind(k), true
		}
	}
	return 0, false
}

// KindFromPath parses the form String returns; ok is false for anything else.
func KindFromPath(s string) (Kind, bool) { return kindFrom(&kindPaths, s) }

// KindFromV1 parses the form V1Name returns; ok is false for anything else.
func KindFromV1(s string) (Kind, bool) { return kindFrom(&kindV1Names, s) }

// KindFromSingular parses the form Singular returns; ok is false for anything else.
func KindFromSingular(s string) (Kind, bool) { return kindFrom(&kindSingulars, s) }

// Level is an access level on a resource. The order is meaningful: a higher level allows
// everything a lower one does.
type Level uint8

// The access levels.
const (
	None Level = iota
	Viewer
	Editor
	Manager
)

var levelNames = [...]string{"none", "viewer", "editor", "manager"}

// String returns the level's name as the v2 API spells it.
func (l Level) String() string {
	if int(l) >= len(levelNames) {
		return "Level(" + strconv.Itoa(int(l)) + ")"
	}
	return levelNames[l]
}

// ParseLevel parses the form String returns; ok is false for anything else.
func ParseLevel(s string) (Level, bool) {
	for l, n := range levelNames {
		if n == s {
			return Level(l), true
		}
	}
	return None, false
}

// PostHog's v1 access levels.
const (
	v1View = 21
	v1Edit = 37
)

// V1 returns the level as PostHog's v1 API integer: 21 for Viewer, 37 for Editor.
// v1 has no manager, and a manager can always edit, so Manager is 37 too.
// None has no v1 form (v1 cannot hide anything) and is 0.
func (l Level) V1() int {
	switch {
	case l == None:
		return 0
	case l == Viewer:
		return v1View
	default:
		return v1Edit
	}
}

// LevelFromV1 parses a v1 integer: 21 is Viewer, 37 is Editor; ok is false for anything else.
func LevelFromV1(n int) (Level, bool) {
	switch n {
	case v1View:
		return Viewer, true
	case v1Edit:
		return Editor, true
	}
	return None, false
}

// Valid reports whether l is one of the four levels.
func (l Level) Valid() bool { return l <= Manager }

// Valid reports whether l is one of the three project levels.
func (l ProjectLevel) Valid() bool { return l <= ProjectAdmin }

// ProjectLevel is what a v2 project rule grants: whether a user may enter the project at all,
// and whether they manage everything in it.
type ProjectLevel uint8

// The project levels.
const (
	ProjectNone ProjectLevel = iota
	ProjectMember
	ProjectAdmin
)

var projectLevelNames = [...]string{"none", "member", "admin"}

// String returns "none", "member" or "admin".
func (l ProjectLevel) String() string {
	if int(l) >= len(projectLevelNames) {
		return "ProjectLevel(" + strconv.Itoa(int(l)) + ")"
	}
	return projectLevelNames[l]
}

// ParseProjectLevel parses the form String returns; ok is false for anything else.
func ParseProjectLevel(s string) (ProjectLevel, bool) {
	for l, n := range projectLevelNames {
		if n == s {
			return ProjectLevel(l), true
		}
	}
	return ProjectNone, false
}

// Membership levels, PostHog's integers. "Admin+" means ≥ AdminLevel.
const (
	MemberLevel = 1
	AdminLevel  = 8
	OwnerLevel  = 15
)

// Source names the step of the decision that gave a level, so that a person can be told
// why they have it.
type Source uint8

// The sources, in the order the decision tries them.
const (
	SourceOrganization Source = iota // not a member of the organization: no access (404)
	SourceProject                    // project rules exclude the user: no access (404)
	SourceCreator
	SourceOrganizationAdmin
	SourceProjectAdmin
	SourceExplicitMember
	SourceExplicitRole
	SourceObjectDefault
	SourceOrganizationDefault
	SourceRole
	SourceDefault
)

var sourceNames = [...]string{
	"organization", "project", "creator", "organization_admin", "project_admin",
	"explicit_member", "explicit_role", "object_default", "organization_default", "role", "default",
}

// String returns the source's name as the API spells it, e.g. "organization_default".
func (s Source) String() string {
	if int(s) >= len(sourceNames) {
		return "Source(" + strconv.Itoa(int(s)) + ")"
	}
	return sourceNames[s]
}
