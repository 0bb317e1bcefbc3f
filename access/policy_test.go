package access

import (
	"errors"
	"slices"
	"testing"
)

const (
	mem = MemberLevel
	adm = AdminLevel
	own = OwnerLevel
)

func TestMayChangeLevel(t *testing.T) {
	tests := []struct {
		actor, target, to int
		self              bool
		want              error
	}{
		{own, mem, own, false, nil},
		{own, own, mem, false, nil},
		{adm, mem, adm, false, nil},
		{adm, adm, mem, false, nil},
		{adm, mem, own, false, ErrRaiseAboveYou}, // only owners make owners
		{adm, own, mem, false, ErrAboveYou},
		{adm, own, own, false, ErrAboveYou},
		{mem, mem, mem, false, ErrNeedAdmin},
		{mem, mem, adm, false, ErrNeedAdmin},
		{own, own, mem, true, ErrOwnLevel},
		{adm, adm, mem, true, ErrOwnLevel},
		{0, mem, mem, false, ErrNeedAdmin},
	}
	for _, tt := range tests {
		if got := MayChangeLevel(tt.actor, tt.target, tt.to, tt.self); got != tt.want {
			t.Errorf("MayChangeLevel(%d, %d, %d, %v) = %v, want %v", tt.actor, tt.target, tt.to, tt.self, got, tt.want)
		}
	}
}

func TestAssignableLevels(t *testing.T) {
	tests := []struct {
		actor, target int
		self          bool
		want          []int
	}{
		{own, mem, false, []int{mem, adm, own}},
		{adm, mem, false, []int{mem, adm}},
		{adm, own, false, nil},
		{mem, mem, false, nil},
		{own, own, true, nil},
	}
	for _, tt := range tests {
		if got := AssignableLevels(tt.actor, tt.target, tt.self); !slices.Equal(got, tt.want) {
			t.Errorf("AssignableLevels(%d, %d, %v) = %v, want %v", tt.actor, tt.target, tt.self, got, tt.want)
		}
	}
}

func TestMayRemoveMember(t *testing.T) {
	tests := []struct {
		actor, target int
		self          bool
		want          error
	}{
		{mem, mem, true, nil},
		{own, own, true, nil}, // the last-owner check is KeepsOwner's, in the transaction
		{adm, mem, false, nil},
		{adm, adm, false, nil},
		{adm, own, false, ErrAboveYou},
		{own, own, false, nil},
		{mem, mem, false, ErrNeedAdmin},
	}
	for _, tt := range tests {
		if got := MayRemoveMember(tt.actor, tt.target, tt.self); got != tt.want {
			t.Errorf("MayRemoveMember(%d, %d, %v) = %v, want %v", tt.actor, tt.target, tt.self, got, tt.want)
		}
	}
}

func TestKeepsOwner(t *testing.T) {
	tests := []struct {
		owners, target, to int
		want               bool
	}{
		{1, own, mem, false},
		{1, own, adm, false},
		{1, own, 0, false},
		{2, own, 0, true},
		{2, own, mem, true},
		{1, own, own, true},
		{1, adm, 0, true},
		{1, mem, own, true},
		{0, mem, 0, true}, // not ours to mend: the change itself takes no owner away
	}
	for _, tt := range tests {
		if got := KeepsOwner(tt.owners, tt.target, tt.to); got != tt.want {
			t.Errorf("KeepsOwner(%d, %d, %d) = %v, want %v", tt.owners, tt.target, tt.to, got, tt.want)
		}
	}
}

func TestInvites(t *testing.T) {
	invite := []struct {
		actor, level int
		want         error
	}{
		{own, own, nil},
		{adm, adm, nil},
		{adm, mem, nil},
		{adm, own, ErrInviteAboveYou},
		{mem, mem, ErrNeedAdmin},
	}
	for _, tt := range invite {
		if got := MayInvite(tt.actor, tt.level); got != tt.want {
			t.Errorf("MayInvite(%d, %d) = %v, want %v", tt.actor, tt.level, got, tt.want)
		}
	}
	see := []struct {
		reader, level int
		want          bool
	}{
		{own, own, true},
		{adm, own, false}, // the admin → owner escalation
		{adm, adm, true},
		{adm, mem, true},
		{mem, mem, false},
		{0, mem, false},
	}
	for _, tt := range see {
		if got := MaySeeInvite(tt.reader, tt.level); got != tt.want {
			t.Errorf("MaySeeInvite(%d, %d) = %v, want %v", tt.reader, tt.level, got, tt.want)
		}
	}
	honoured := []struct {
		inviter, level int
		want           bool
	}{
		{own, own, true},
		{adm, own, false}, // inviter demoted below the invite
		{adm, adm, true},
		{mem, adm, false},
		{mem, mem, true},
		{0, mem, false}, // inviter left
	}
	for _, tt := range honoured {
		if got := InviteHonoured(tt.inviter, tt.level); got != tt.want {
			t.Errorf("InviteHonoured(%d, %d) = %v, want %v", tt.inviter, tt.level, got, tt.want)
		}
	}
}

func TestRequireMembership(t *testing.T) {
	tests := []struct {
		level, least int
		want         error
	}{
		{mem, mem, nil},
		{0, mem, ErrNeedAdmin},
		{mem, adm, ErrNeedAdmin},
		{adm, adm, nil},
		{adm, own, ErrNeedOwner},
		{own, own, nil},
	}
	for _, tt := range tests {
		if got := RequireMembership(tt.level, tt.least); got != tt.want {
			t.Errorf("RequireMembership(%d, %d) = %v, want %v", tt.level, tt.least, got, tt.want)
		}
	}
}

// TestProjectPolicy: a plain member made project admin by a v2 rule administers the
// project but may not delete it, nor ask about others; an organization admin may do all.
func TestProjectPolicy(t *testing.T) {
	const (
		owner, admin, padmin, plain, outsider = 1, 2, 3, 4, 99
		project, other                        = 10, 11
	)
	s := Compile(Facts{
		Enforced: true,
		Members:  []Member{{User: owner, Level: own}, {User: admin, Level: adm}, {User: padmin, Level: mem}, {User: plain, Level: mem}},
		Rules:    []Rule{{Scope: ScopeProject, Project: project, User: padmin, ProjectLevel: ProjectAdmin}},
	})
	tests := []struct {
		user                       int64
		administer, administerElse bool
		delete, askOther           bool
	}{
		{owner, true, true, true, true},
		{admin, true, true, true, true},
		{padmin, true, false, false, false},
		{plain, false, false, false, false},
		{outsider, false, false, false, false},
	}
	for _, tt := range tests {
		if got := s.MayAdministerProject(tt.user, project); got != tt.administer {
			t.Errorf("MayAdministerProject(%d, project) = %v, want %v", tt.user, got, tt.administer)
		}
		if got := s.MayAdministerProject(tt.user, other); got != tt.administerElse {
			t.Errorf("MayAdministerProject(%d, other) = %v, want %v", tt.user, got, tt.administerElse)
		}
		if got := s.MayEditProjectAccess(tt.user, project); got != tt.administer {
			t.Errorf("MayEditProjectAccess(%d) = %v, want %v", tt.user, got, tt.administer)
		}
		if got := s.MayDeleteProject(tt.user) == nil; got != tt.delete {
			t.Errorf("MayDeleteProject(%d) allowed = %v, want %v", tt.user, got, tt.delete)
		}
		if got := s.MayAskAbout(tt.user, plain) == nil; got != (tt.askOther || tt.user == plain) {
			t.Errorf("MayAskAbout(%d, plain) allowed = %v, want %v", tt.user, got, tt.askOther || tt.user == plain)
		}
		if err := s.MayAskAbout(tt.user, tt.user); err != nil {
			t.Errorf("MayAskAbout(%d, self) = %v, want nil", tt.user, err)
		}
	}
	free := Compile(Facts{Members: []Member{{User: padmin, Level: mem}}, Rules: []Rule{{Scope: ScopeProject, Project: project, User: padmin, ProjectLevel: ProjectAdmin}}})
	if free.MayEditProjectAccess(padmin, project) {
		t.Error("MayEditProjectAccess on the free plan = true, want false")
	}
}

func TestRequireObjectLevel(t *testing.T) {
	const (
		edit   = "You don't have edit permissions for this feature flag."
		manage = "You can't edit roles for this feature flag."
	)
	tests := []struct {
		have, need Level
		want       string // "" for allowed
	}{
		{None, Viewer, edit},
		{Viewer, Viewer, ""},
		{Viewer, Editor, edit},
		{Editor, Editor, ""},
		{Editor, Manager, manage},
		{Manager, Manager, ""},
		{Manager, Viewer, ""},
	}
	for _, tt := range tests {
		err := RequireObjectLevel(Decision{Level: tt.have}, tt.need, FeatureFlags)
		if got := errText(err); got != tt.want {
			t.Errorf("RequireObjectLevel(%v, %v) = %q, want %q", tt.have, tt.need, got, tt.want)
		}
		var d *Denial
		if err != nil && (!errors.As(err, &d) || d.Invalid) {
			t.Errorf("RequireObjectLevel(%v, %v) = %#v, want a refusal (*Denial, not Invalid)", tt.have, tt.need, err)
		}
	}
	if got := errText(RequireObjectLevel(Decision{Level: Viewer}, Editor, Cohorts)); got != "You don't have edit permissions for this cohort." {
		t.Errorf("RequireObjectLevel(cohort) = %q, want the cohort's noun", got)
	}
	kindTests := []struct {
		have Level
		want string
	}{
		{None, "You don't have edit permissions for feature flags."},
		{Viewer, "You don't have edit permissions for feature flags."},
		{Editor, ""},
		{Manager, ""},
	}
	for _, tt := range kindTests {
		if got := errText(RequireKindLevel(Decision{Level: tt.have}, Editor, FeatureFlags)); got != tt.want {
			t.Errorf("RequireKindLevel(%v, editor) = %q, want %q", tt.have, got, tt.want)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestGrantsV1RoleAccess(t *testing.T) {
	tests := []struct {
		r    Rule
		want bool
	}{
		{Rule{Scope: ScopeObject, Role: "r", Level: Editor}, true},
		{Rule{Scope: ScopeObject, Role: "r", Level: Manager}, true},
		{Rule{Scope: ScopeObject, Role: "r", Level: Viewer}, false},
		{Rule{Scope: ScopeObject, Role: "r", Level: None}, false},
		{Rule{Scope: ScopeObject, User: 3, Level: Editor}, false},
		{Rule{Scope: ScopeKind, Role: "r", Level: Editor}, false},
	}
	for _, tt := range tests {
		if got := tt.r.GrantsV1RoleAccess(); got != tt.want {
			t.Errorf("GrantsV1RoleAccess(%+v) = %v, want %v", tt.r, got, tt.want)
		}
	}
}

func TestHolds(t *testing.T) {
	const (
		alice, bob, carol int64 = 1, 2, 3
		project           int64 = 10
	)
	flag := Object{ID: 100, Kind: FeatureFlags, Project: project, Creator: carol}
	base := Facts{Enforced: true, Members: []Member{{alice, mem}, {bob, adm}, {carol, own}},
		Rules: []Rule{{Scope: ScopeObject, Kind: FeatureFlags, Object: flag.ID, User: alice, Level: Manager}}}
	with := func(change func(f *Facts)) *Snapshot {
		f := base
		f.Members = slices.Clone(base.Members)
		f.Rules = slices.Clone(base.Rules)
		change(&f)
		return Compile(f)
	}
	before := Compile(base)
	tests := []struct {
		name  string
		after *Snapshot
		st    Standing
		want  bool
	}{
		{"nothing changed", before, Standing{User: alice, Object: flag}, true},
		{"another member's rule", with(func(f *Facts) {
			f.Rules = append(f.Rules, Rule{Scope: ScopeObject, Kind: FeatureFlags, Object: flag.ID, User: bob, Level: Viewer})
		}), Standing{User: alice, Object: flag}, true},
		{"caller removed", with(func(f *Facts) { f.Members = f.Members[1:] }), Standing{User: alice, Object: flag}, false},
		{"caller's object rule gone", with(func(f *Facts) { f.Rules = nil }), Standing{User: alice, Object: flag}, false},
		{"caller demoted", with(func(f *Facts) { f.Members[1].Level = mem }), Standing{User: bob}, false},
		{"target promoted", with(func(f *Facts) { f.Members[0].Level = own }), Standing{User: bob, Target: alice}, false},
		{"target promoted, not asked", with(func(f *Facts) { f.Members[0].Level = own }), Standing{User: bob}, true},
		{"kind level changed", with(func(f *Facts) {
			f.Rules = append(f.Rules, Rule{Scope: ScopeKind, Kind: FeatureFlags, User: alice, Level: Viewer})
		}), Standing{User: alice, Project: project, Kind: FeatureFlags, HasKind: true}, false},
		{"other kind's level changed", with(func(f *Facts) {
			f.Rules = append(f.Rules, Rule{Scope: ScopeKind, Kind: Cohorts, User: alice, Level: Viewer})
		}), Standing{User: alice, Project: project, Kind: FeatureFlags, HasKind: true}, true},
		{"project closed to caller", with(func(f *Facts) {
			f.Rules = append(f.Rules, Rule{Scope: ScopeProject, Project: project, User: alice, ProjectLevel: ProjectNone})
		}), Standing{User: alice, Project: project}, false},
	}
	for _, tt := range tests {
		if got := before.Holds(tt.after, tt.st); got != tt.want {
			t.Errorf("Holds(%s, %+v) = %v, want %v", tt.name, tt.st, got, tt.want)
		}
	}
}

func TestLevelValid(t *testing.T) {
	for l := Level(0); l < 10; l++ {
		if got, want := l.Valid(), l.String() != "" && l <= Manager; got != want {
			t.Errorf("Level(%d).Valid() = %v, want %v", l, got, want)
		}
	}
	for l := ProjectLevel(0); l < 10; l++ {
		if got, want := l.Valid(), l <= ProjectAdmin; got != want {
			t.Errorf("ProjectLevel(%d).Valid() = %v, want %v", l, got, want)
		}
	}
}

func TestAccessRequestPolicy(t *testing.T) {
	const (
		owner, admin, padmin, creator, viewer, hidden, manager, outsider = 1, 2, 3, 4, 5, 6, 7, 99
		project                                                          = 10
	)
	flag := Object{ID: 100, Kind: FeatureFlags, Project: project, Creator: creator}
	s := Compile(Facts{
		Enforced: true,
		Members: []Member{{User: owner, Level: own}, {User: admin, Level: adm}, {User: padmin, Level: mem}, {User: creator, Level: mem},
			{User: viewer, Level: mem}, {User: hidden, Level: mem}, {User: manager, Level: mem}},
		Rules: []Rule{
			{Scope: ScopeProject, Project: project, User: padmin, ProjectLevel: ProjectAdmin},
			{Scope: ScopeKind, Kind: FeatureFlags, Level: Viewer}, // flags are view-only
			{Scope: ScopeObject, Project: project, Kind: FeatureFlags, Object: flag.ID, User: hidden, Level: None},
			{Scope: ScopeObject, Project: project, Kind: FeatureFlags, Object: flag.ID, User: manager, Level: Manager},
		},
	})
	onFlag := func(requester int64) RequestSubject {
		return RequestSubject{Requester: requester, Project: project, Kind: FeatureFlags, Object: flag}
	}
	onKind := func(requester int64) RequestSubject {
		return RequestSubject{Requester: requester, Project: project, Kind: FeatureFlags}
	}

	requests := []struct {
		user int64
		rq   RequestSubject
		want Level
		err  *Denial // nil: allowed
	}{
		{viewer, onFlag(viewer), Editor, nil},
		{viewer, onFlag(viewer), Manager, nil},
		{viewer, onFlag(viewer), Viewer, ErrHaveLevel},
		{viewer, onFlag(viewer), None, ErrNoLevel},
		{hidden, onFlag(hidden), Editor, ErrRequestHidden}, // cannot view the flag
		{hidden, onKind(hidden), Editor, nil},              // but can view flags
		{creator, onFlag(creator), Manager, ErrHaveLevel},
		{manager, onFlag(manager), Editor, ErrHaveLevel},
		{admin, onKind(admin), Manager, ErrHaveLevel},
		{outsider, onFlag(outsider), Viewer, ErrRequestHidden},
	}
	for _, tt := range requests {
		if err := s.MayRequest(tt.user, tt.rq, tt.want); !sameDenial(err, tt.err) {
			t.Errorf("MayRequest(%d, object %d, %v) = %v, want %v", tt.user, tt.rq.Object.ID, tt.want, err, tt.err)
		}
	}

	refused := &Denial{}
	decide := []struct {
		user        int64
		rq          RequestSubject
		decide, see *Denial
		cancel      *Denial
	}{
		{owner, onFlag(viewer), nil, nil, ErrNotYourRequest},
		{admin, onFlag(viewer), nil, nil, ErrNotYourRequest},
		{creator, onFlag(viewer), nil, nil, ErrNotYourRequest},
		{manager, onFlag(viewer), nil, nil, ErrNotYourRequest},
		{padmin, onFlag(viewer), nil, nil, ErrNotYourRequest}, // a project admin by rule manages its objects
		{padmin, onKind(viewer), nil, nil, ErrNotYourRequest},
		{manager, onKind(viewer), refused, refused, refused}, // managing one flag is not administering the project
		{viewer, onFlag(viewer), ErrDecideOwn, nil, nil},
		{admin, onFlag(admin), ErrDecideOwn, nil, nil},
		{creator, onFlag(manager), nil, nil, ErrNotYourRequest},
		{viewer, onFlag(manager), refused, refused, refused},
		{hidden, onFlag(viewer), ErrRequestHidden, ErrRequestHidden, ErrRequestHidden},
		{outsider, onFlag(viewer), ErrRequestHidden, ErrRequestHidden, ErrRequestHidden},
		{outsider, onKind(viewer), ErrRequestHidden, ErrRequestHidden, ErrRequestHidden},
	}
	for _, tt := range decide {
		if err := s.MayDecide(tt.user, tt.rq); !sameDenial(err, tt.decide) {
			t.Errorf("MayDecide(%d, request of %d on %d) = %v, want %v", tt.user, tt.rq.Requester, tt.rq.Object.ID, err, tt.decide)
		}
		if err := s.MaySeeRequest(tt.user, tt.rq); !sameDenial(err, tt.see) {
			t.Errorf("MaySeeRequest(%d, request of %d on %d) = %v, want %v", tt.user, tt.rq.Requester, tt.rq.Object.ID, err, tt.see)
		}
		if err := s.MayCancel(tt.user, tt.rq); !sameDenial(err, tt.cancel) {
			t.Errorf("MayCancel(%d, request of %d on %d) = %v, want %v", tt.user, tt.rq.Requester, tt.rq.Object.ID, err, tt.cancel)
		}
	}

	if got := s.RequestLevel(onFlag(viewer)); got != Viewer {
		t.Errorf("RequestLevel(viewer on the flag) = %v, want viewer", got)
	}
	approvals := []struct {
		asked, approved, current Level
		err                      *Denial
	}{
		{Manager, Manager, Viewer, nil},
		{Manager, Editor, Viewer, nil}, // lower
		{Editor, Manager, Viewer, ErrApproveAbove},
		{Editor, Viewer, Viewer, ErrApproveHad}, // would lower no one, and grant nothing
		{Manager, Editor, Editor, ErrApproveHad},
		{Editor, None, None, ErrNoLevel},
	}
	for _, tt := range approvals {
		if err := MayApprove(tt.asked, tt.approved, tt.current); !sameDenial(err, tt.err) {
			t.Errorf("MayApprove(%v, %v, %v) = %v, want %v", tt.asked, tt.approved, tt.current, err, tt.err)
		}
	}
}

// sameDenial reports whether err is want: nil for nil, the same denial for a named one, and
// any refusal (403) for an empty one.
func sameDenial(err error, want *Denial) bool {
	var d *Denial
	switch {
	case want == nil:
		return err == nil
	case !errors.As(err, &d):
		return false
	case *want == Denial{}:
		return !d.Invalid && !d.Hidden && d.Detail != ""
	}
	return d == want
}

func TestApprovableLevels(t *testing.T) {
	for asked, want := range map[Level][]Level{Viewer: {Viewer}, Editor: {Viewer, Editor}, Manager: {Viewer, Editor, Manager}, None: nil} {
		if got := ApprovableLevels(asked); !slices.Equal(got, want) {
			t.Errorf("ApprovableLevels(%v) = %v, want %v", asked, got, want)
		}
	}
}
