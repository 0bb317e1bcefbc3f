package access

// Who may change what (docs/access-model.md, "Who may change what"). Every rule about
// membership levels, invites, ownership, project administration and asking about
// others is a function here, so the API's routes and handlers, the web UI's pages and
// the store's checks inside a write's transaction all ask one place, and no membership
// or access level is compared anywhere else.

// Denial is a "who may" answer of no, carrying the detail PostHog shows. Invalid marks
// a request that is wrong whoever sends it (400), rather than refused to this caller
// (403); Attr then names the field, when one is at fault.
type Denial struct {
	Detail  string
	Invalid bool
	Attr    string
	// Hidden marks a no to someone who may not know the thing exists: the API answers
	// 404, as for anything unknown.
	Hidden bool
}

func (d *Denial) Error() string { return d.Detail }

// The denials, by the details PostHog answers them with.
var (
	ErrNeedAdmin       = &Denial{Detail: "You need to have admin level or higher."}
	ErrNeedOwner       = &Denial{Detail: "You need to be an organization owner."}
	ErrOwnLevel        = &Denial{Detail: "You can't change your own access level."}
	ErrAboveYou        = &Denial{Detail: "You can only edit others with level lower or equal to you."}
	ErrRaiseAboveYou   = &Denial{Detail: "You can only change access level of others to lower or equal to your current one."}
	ErrInviteAboveYou  = &Denial{Detail: "You can't invite someone with a level higher than your own.", Invalid: true, Attr: "level"}
	ErrLastOwnerDemote = &Denial{Detail: "The organization's last owner can't be demoted.", Invalid: true}
	ErrLastOwnerLeave  = &Denial{Detail: "The organization's last owner can't leave it.", Invalid: true}
	ErrAskAboutOthers  = &Denial{Detail: "Only organization admins can check access for other members."}
	ErrDeleteProject   = &Denial{Detail: "Only organization admins can delete a project."}
	ErrHaveLevel       = &Denial{Detail: "You already have this access level or a higher one.", Invalid: true, Attr: "access_level"}
	ErrNoLevel         = &Denial{Detail: "Ask for viewer, editor or manager.", Invalid: true, Attr: "access_level"}
	ErrApproveAbove    = &Denial{Detail: "You can approve the level asked for or a lower one.", Invalid: true, Attr: "access_level"}
	ErrApproveHad      = &Denial{Detail: "The requester already has this access level or a higher one.", Invalid: true, Attr: "access_level"}
	ErrDecideOwn       = &Denial{Detail: "You can't decide your own access request."}
	ErrNotYourRequest  = &Denial{Detail: "Only the requester can cancel an access request."}
	ErrRequestHidden   = &Denial{Detail: "Not found.", Hidden: true}
)

// MembershipLevels are the levels a membership can have, lowest first.
var MembershipLevels = [...]int{MemberLevel, AdminLevel, OwnerLevel}

// ValidMembershipLevel reports whether l is one of MembershipLevels.
func ValidMembershipLevel(l int) bool {
	return l == MemberLevel || l == AdminLevel || l == OwnerLevel
}

// IsMember reports whether a membership level (0: none) makes a member.
func IsMember(level int) bool { return level >= MemberLevel }

// IsAdmin reports whether a membership level is admin or higher ("admin+").
func IsAdmin(level int) bool { return level >= AdminLevel }

// IsOwner reports whether a membership level is owner.
func IsOwner(level int) bool { return level >= OwnerLevel }

// RequireMembership is a route's membership requirement: nil when level reaches least,
// else the denial its caller is shown. A non-member (0) is refused too, but the API
// answers them 404 before asking.
func RequireMembership(level, least int) error {
	switch {
	case level >= least && IsMember(level):
		return nil
	case IsOwner(least):
		return ErrNeedOwner
	}
	return ErrNeedAdmin
}

// MayChangeLevel decides whether a member at level actor may set a member at level
// target to level to: admins only, never their own level, never someone above them,
// never above their own level (so only owners make owners). Whether an owner would
// remain is KeepsOwner's question, asked inside the write's transaction.
func MayChangeLevel(actor, target, to int, self bool) error {
	switch {
	case self:
		return ErrOwnLevel
	case !IsAdmin(actor):
		return ErrNeedAdmin
	case target > actor:
		return ErrAboveYou
	case to > actor:
		return ErrRaiseAboveYou
	}
	return nil
}

// AssignableLevels lists the levels MayChangeLevel lets actor give target (target's own
// level included), lowest first; nil when it allows none.
func AssignableLevels(actor, target int, self bool) []int {
	var out []int
	for _, l := range MembershipLevels {
		if MayChangeLevel(actor, target, l, self) == nil {
			out = append(out, l)
		}
	}
	return out
}

// MayRemoveMember decides whether a member at level actor may remove a member at level
// target: anyone may leave (self), admins remove members at or below their level.
// Whether an owner would remain is KeepsOwner's question.
func MayRemoveMember(actor, target int, self bool) error {
	switch {
	case self:
		return nil
	case !IsAdmin(actor):
		return ErrNeedAdmin
	case target > actor:
		return ErrAboveYou
	}
	return nil
}

// KeepsOwner reports whether an organization with owners owners still has one after a
// member at level target is set to level to (0: removed). The store asks it inside the
// transaction that makes the change, with owners counted there, so two owners demoting
// each other at once cannot both succeed.
func KeepsOwner(owners, target, to int) bool {
	if IsOwner(target) && !IsOwner(to) {
		return owners > 1
	}
	return true
}

// MayInvite decides whether a member at level actor may invite someone at level level:
// admins only, and at most at their own level.
func MayInvite(actor, level int) error {
	switch {
	case !IsAdmin(actor):
		return ErrNeedAdmin
	case level > actor:
		return ErrInviteAboveYou
	}
	return nil
}

// MaySeeInvite reports whether a member at level reader may see an invite at level
// invite, and with it the invite's id (its secret link), or delete it: admins, and only
// invites at or below their own level. An admin who could read an owner's invite could
// accept it from a fresh account and become an owner.
func MaySeeInvite(reader, invite int) bool {
	return IsAdmin(reader) && invite <= reader
}

// InviteHonoured reports whether an invite at level invite, made by a member now at
// level inviter (0: no longer a member), may still be accepted: only while its inviter
// is a member at or above its level. It is asked inside the accepting transaction.
func InviteHonoured(inviter, invite int) bool {
	return IsMember(inviter) && invite <= inviter
}

// VerifiesDomainAtOnce reports whether a domain that a member at level adds is verified as
// it is added: an owner's is, since a self-hosted instance trusts its operator's
// organization owners; an admin's waits until an owner verifies it, because a verified
// domain lets everyone with an email at it sign in and join.
func VerifiesDomainAtOnce(level int) bool { return IsOwner(level) }

// MayAdministerProject reports whether user may change project's settings and access
// rules: organization admins, and project admins by a v2 project rule.
func (s *Snapshot) MayAdministerProject(user, project int64) bool {
	lvl, ok := s.ProjectAccess(user, project)
	return ok && lvl == ProjectAdmin
}

// MayEditProjectAccess is PostHog's user_can_edit_access_levels for a project: its
// administrators, on a plan with the feature.
func (s *Snapshot) MayEditProjectAccess(user, project int64) bool {
	return s.enforced && s.MayAdministerProject(user, project)
}

// MayDeleteProject decides whether user may delete a project of the organization:
// organization admins only, since it destroys every object in it. A project admin by
// rule manages the project but may not destroy it.
func (s *Snapshot) MayDeleteProject(user int64) error {
	if !IsAdmin(s.MembershipLevel(user)) {
		return ErrDeleteProject
	}
	return nil
}

// MayAskAbout decides whether asker may ask what subject may do (access/check with
// another member's uuid, users_with_access for a given user): about themselves, anyone;
// about others, organization admins.
func (s *Snapshot) MayAskAbout(asker, subject int64) error {
	if asker == subject || IsAdmin(s.MembershipLevel(asker)) {
		return nil
	}
	return ErrAskAboutOthers
}

// MayPreview decides what a preview of a rule change asked by asker may show of the
// levels on o (o.ID 0: on the kind in o.Project) before and after it: asker's own when
// they may view o (or the kind in its project), and every other member's when they manage
// it, as whoever may change its rules must, to see whom the change reaches (organization
// admins and project admins do throughout their scope). Like users_with_access, which
// shows a viewer of an object who else has access.
func (s *Snapshot) MayPreview(asker int64, o Object) (self, others bool) {
	d := s.previewDecide(asker, o)
	return d.CanView(), d.CanManage()
}

// MayCreate reports whether user may create an object of kind k in project: PostHog's
// can_create, an editor's level on the kind.
func (s *Snapshot) MayCreate(user, project int64, k Kind) bool {
	return s.KindLevel(user, project, k).CanEdit()
}

// RequireObjectLevel is an object route's requirement: nil when decision d on an object of
// kind k reaches need, else the denial PostHog shows: "You can't edit roles for this
// feature flag." when need is manager (changing the object's access), "You don't have
// edit permissions for this feature flag." otherwise.
func RequireObjectLevel(d Decision, need Level, k Kind) error {
	switch {
	case d.Allows(need):
		return nil
	case need == Manager:
		return &Denial{Detail: "You can't edit roles for this " + k.Noun() + "."}
	}
	return &Denial{Detail: "You don't have edit permissions for this " + k.Noun() + "."}
}

// RequireKindLevel is a creation route's requirement: nil when decision d on a new object
// of kind k reaches need, else "You don't have edit permissions for feature flags.".
func RequireKindLevel(d Decision, need Level, k Kind) error {
	if d.Allows(need) {
		return nil
	}
	return &Denial{Detail: "You don't have edit permissions for " + k.Noun() + "s."}
}

// Allows reports whether the decision reaches need.
func (d Decision) Allows(need Level) bool { return d.Level >= need }

// Visible reports whether user may see o at all: the one test every derived view (a
// role's associated flags, the activity log, users_with_access, counts) applies before
// it names an object.
func (s *Snapshot) Visible(user int64, o Object) bool {
	return s.Decide(user, o).CanView()
}

// GrantsV1RoleAccess reports whether r is a v1 "role access" grant on an object: a rule
// for a role on one object at editor or above (v1 rules always mean editor; a v2 rule
// below editor is not one, and v1 lists must not show it as "can edit").
func (r *Rule) GrantsV1RoleAccess() bool {
	return r.Scope == ScopeObject && r.Role != "" && r.Level >= Editor
}

// Standing is what one request was authorized on: its caller's membership and, as its
// route asked, their access to a project, their level on a kind in it or on an object, and
// the membership of another member it acts on.
type Standing struct {
	User    int64
	Target  int64  // another member the request acts on; 0: none
	Project int64  // 0: no project
	Kind    Kind   // with Project and no Object: the level on a new object of Kind
	Object  Object // Object.ID 0: no object
	HasKind bool   // Kind is asked
}

// Holds reports whether t decides everything st rests on as s does: a write authorized on
// s may then complete on t's rules, which changed nothing it was allowed on. A caller
// removed or demoted in between, or whose access to its project, kind or object changed,
// is authorized again instead.
func (s *Snapshot) Holds(t *Snapshot, st Standing) bool {
	if s.MembershipLevel(st.User) != t.MembershipLevel(st.User) {
		return false
	}
	if st.Target != 0 && s.MembershipLevel(st.Target) != t.MembershipLevel(st.Target) {
		return false
	}
	if st.Project != 0 {
		a, okA := s.ProjectAccess(st.User, st.Project)
		b, okB := t.ProjectAccess(st.User, st.Project)
		if a != b || okA != okB {
			return false
		}
	}
	switch {
	case st.Object.ID != 0:
		return s.Decide(st.User, st.Object).Level == t.Decide(st.User, st.Object).Level
	case st.HasKind:
		return s.KindLevel(st.User, st.Project, st.Kind).Level == t.KindLevel(st.User, st.Project, st.Kind).Level
	}
	return true
}

// RequestSubject is what an access request is about and who asked: one object, or (Object.ID
// 0) the whole kind in a project.
type RequestSubject struct {
	Requester int64
	Project   int64
	Kind      Kind
	Object    Object
}

// levelOn is user's decision on what rq is about.
func (s *Snapshot) levelOn(user int64, rq RequestSubject) Decision {
	if rq.Object.ID != 0 {
		return s.Decide(user, rq.Object)
	}
	return s.KindLevel(user, rq.Project, rq.Kind)
}

// MayRequest decides whether user may ask for level want on what rq is about: anyone who
// can view it (an object, or the kind in the project) and whose level there is below
// want. Someone who cannot view it is told nothing of it (Hidden).
func (s *Snapshot) MayRequest(user int64, rq RequestSubject, want Level) error {
	d := s.levelOn(user, rq)
	switch {
	case !d.CanView():
		return ErrRequestHidden
	case want == None || !want.Valid():
		return ErrNoLevel
	case d.Level >= want:
		return ErrHaveLevel
	}
	return nil
}

// mayDecide reports whether user may change the rules of what rq is about: a manager of
// the object (creator, admin+, an explicit manager rule); for a whole kind, the project's
// administrators (organization admins and project admins by rule).
func (s *Snapshot) mayDecide(user int64, rq RequestSubject) bool {
	if rq.Object.ID != 0 {
		return s.Decide(user, rq.Object).CanManage()
	}
	return s.MayAdministerProject(user, rq.Project)
}

// MayDecide decides whether user may approve or deny rq: those who may change the rules
// of what it is about, and never the requester. Someone else who can view what it is
// about is refused; anyone who cannot is told nothing of it (Hidden).
func (s *Snapshot) MayDecide(user int64, rq RequestSubject) error {
	switch {
	case user == rq.Requester:
		return ErrDecideOwn
	case s.mayDecide(user, rq):
		return nil
	case s.levelOn(user, rq).CanView():
		return &Denial{Detail: "You can't decide access requests for this " + rq.subjectNoun() + "."}
	}
	return ErrRequestHidden
}

func (rq RequestSubject) subjectNoun() string {
	if rq.Object.ID != 0 {
		return rq.Kind.Noun()
	}
	return "project's " + rq.Kind.Noun() + "s"
}

// MaySeeRequest decides whether user may read rq: its requester and those who may decide
// it. Someone else who can view what it is about is refused; anyone who cannot is told
// nothing of it (Hidden).
func (s *Snapshot) MaySeeRequest(user int64, rq RequestSubject) error {
	if user == rq.Requester {
		return nil
	}
	return s.MayDecide(user, rq)
}

// MayCancel decides whether user may cancel rq: its requester only (while it is pending,
// which the store checks inside the write). Others are answered as MayDecide answers
// them when they may not decide it, and refused when they may.
func (s *Snapshot) MayCancel(user int64, rq RequestSubject) error {
	if user == rq.Requester {
		return nil
	}
	if err := s.MayDecide(user, rq); err != nil {
		return err
	}
	return ErrNotYourRequest
}

// MayApprove decides whether a request for level asked may be approved at level approved
// for a requester whose level is now current: at most the level asked, and above the
// requester's level, since the member rule an approval writes is the most specific rule on
// an object and would otherwise lower them.
func MayApprove(asked, approved, current Level) error {
	switch {
	case approved == None || !approved.Valid():
		return ErrNoLevel
	case approved > asked:
		return ErrApproveAbove
	case approved <= current:
		return ErrApproveHad
	}
	return nil
}

// RequestLevel is the requester's level now on what rq is about, what MayApprove compares.
func (s *Snapshot) RequestLevel(rq RequestSubject) Level {
	return s.levelOn(rq.Requester, rq).Level
}

// ApprovableLevels lists the levels a request for asked may be approved at, lowest first
// (the choices the web UI offers; MayApprove also wants each above the requester's level).
func ApprovableLevels(asked Level) []Level {
	var out []Level
	for l := Viewer; l <= asked && l <= Manager; l++ {
		out = append(out, l)
	}
	return out
}
