package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

// The invariants of docs/access-model.md that no check before a write can keep, since another
// write may land between the check and the write: each is held inside the write's own
// transaction, and these tests race the writes that would break it.

// rounds is how many times each race is run.
const rounds = 20

// testLastOwner checks an organization keeps an owner, however its owners demote each other
// or leave, one after the other or all at once.
func testLastOwner(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice, bob := e.user("alice@example.com"), e.user("bob@example.com")
	org, _ := e.org("Acme", alice)
	e.join(org.ID, bob, access.AdminLevel)

	rev, log := e.revision(org.ID), len(e.activity(org.ID))
	if err := s.SetMemberLevel(ctx, org.ID, alice.ID, access.AdminLevel, bob.ID); !errors.Is(err, access.ErrLastOwnerDemote) {
		t.Errorf("SetMemberLevel(last owner → admin) = %v, want %v", err, access.ErrLastOwnerDemote)
	}
	if err := s.RemoveMember(ctx, org.ID, alice.ID, alice.ID); !errors.Is(err, access.ErrLastOwnerLeave) {
		t.Errorf("RemoveMember(last owner) = %v, want %v", err, access.ErrLastOwnerLeave)
	}
	if got := e.revision(org.ID); got != rev {
		t.Errorf("RulesRevision after refused changes = %d, want %d", got, rev)
	}
	if got := len(e.activity(org.ID)); got != log {
		t.Errorf("activity rows after refused changes = %d, want %d", got, log)
	}
	if m, err := s.Membership(ctx, org.ID, alice.ID); err != nil || !access.IsOwner(m.Level) {
		t.Errorf("Membership(alice) after refused changes = %+v, %v, want an owner", m, err)
	}
	// Setting the last owner's own level again changes nothing and is no demotion.
	if err := s.SetMemberLevel(ctx, org.ID, alice.ID, access.OwnerLevel, alice.ID); err != nil {
		t.Errorf("SetMemberLevel(last owner → owner) = %v, want nil", err)
	}

	// Two owners: either may go, not both, even at once.
	for round := range rounds {
		org, _ := e.org(fmt.Sprintf("Race %d", round), alice)
		e.join(org.ID, bob, access.OwnerLevel)
		owners := [2]*gatehouse.User{alice, bob}
		leave := round%2 == 1
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, u := range owners {
			wg.Go(func() {
				if leave {
					errs[i] = s.RemoveMember(ctx, org.ID, u.ID, u.ID)
				} else {
					errs[i] = s.SetMemberLevel(ctx, org.ID, owners[1-i].ID, access.AdminLevel, u.ID)
				}
			})
		}
		wg.Wait()
		members, err := s.Members(ctx, org.ID)
		if err != nil {
			t.Fatalf("Members() = %v", err)
		}
		n := 0
		for _, m := range members {
			if access.IsOwner(m.Level) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("round %d (leave %v): %d owners after two owners raced (errors %v), want 1", round, leave, n, errs)
		}
		refusal := access.ErrLastOwnerDemote
		if leave {
			refusal = access.ErrLastOwnerLeave
		}
		if (errs[0] == nil) == (errs[1] == nil) || !errors.Is(errors.Join(errs[:]...), refusal) {
			t.Fatalf("round %d: errors %v, want one success and one %v", round, errs, refusal)
		}
	}
}

func isNotFound(err error) bool { return gatehouse.ErrorCode(err) == gatehouse.ENotFound }

// testInviteHonoured checks an invite brings someone in only while its inviter is still a
// member at or above its level, and that a refused acceptance writes nothing: no
// membership, no user, no activity.
func testInviteHonoured(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice, bob, carol := e.user("alice@example.com"), e.user("bob@example.com"), e.user("carol@example.com")
	org, _ := e.org("Acme", alice)
	e.join(org.ID, bob, access.AdminLevel)
	invite := func(level int, by int64) *gatehouse.Invite {
		t.Helper()
		inv := &gatehouse.Invite{OrganizationID: org.ID, TargetEmail: fmt.Sprintf("invited%d@example.com", e.seq()), Level: level, CreatedBy: by}
		if err := s.CreateInvite(ctx, inv); err != nil {
			t.Fatalf("CreateInvite() = %v", err)
		}
		return inv
	}
	byAdmin := invite(access.AdminLevel, bob.ID)        // bob is demoted below it
	memberByAdmin := invite(access.MemberLevel, bob.ID) // still within bob's level then
	noInviter := invite(access.MemberLevel, 0)
	if err := s.SetMemberLevel(ctx, org.ID, bob.ID, access.MemberLevel, alice.ID); err != nil {
		t.Fatalf("SetMemberLevel(bob → member) = %v", err)
	}

	refused := func(name string, inv *gatehouse.Invite) {
		t.Helper()
		rev, log := e.revision(org.ID), len(e.activity(org.ID))
		_, err := s.AcceptInvite(ctx, inv.ID, carol.ID)
		wantNotFound(t, "AcceptInvite("+name+")", err)
		newcomer := &gatehouse.User{Email: inv.TargetEmail, FirstName: "New", PasswordHash: "hash"}
		_, err = s.AcceptInviteAsNewUser(ctx, inv.ID, newcomer)
		wantNotFound(t, "AcceptInviteAsNewUser("+name+")", err)
		if _, err := s.UserByEmail(ctx, inv.TargetEmail); !isNotFound(err) {
			t.Errorf("UserByEmail(%s) after a refused signup = %v, want not_found: an account without an organization", name, err)
		}
		if _, err := s.Membership(ctx, org.ID, carol.ID); !isNotFound(err) {
			t.Errorf("Membership(carol) after %s = %v, want not_found", name, err)
		}
		if _, err := s.Invite(ctx, inv.ID); err != nil {
			t.Errorf("Invite(%s) after a refused acceptance = %v, want it kept", name, err)
		}
		if got := e.revision(org.ID); got != rev {
			t.Errorf("RulesRevision after %s = %d, want %d", name, got, rev)
		}
		if got := len(e.activity(org.ID)); got != log {
			t.Errorf("activity rows after %s = %d, want %d", name, got, log)
		}
	}
	refused("inviter demoted below the invite", byAdmin)
	refused("invite without an inviter", noInviter)

	// Within the inviter's level it stands, and a new user joins through it in one go.
	newcomer := &gatehouse.User{Email: memberByAdmin.TargetEmail, FirstName: "New", PasswordHash: "hash"}
	m, err := s.AcceptInviteAsNewUser(ctx, memberByAdmin.ID, newcomer)
	if err != nil {
		t.Fatalf("AcceptInviteAsNewUser(within the inviter's level) = %v", err)
	}
	if newcomer.ID == 0 || m.User.ID != newcomer.ID || m.Level != access.MemberLevel {
		t.Errorf("AcceptInviteAsNewUser() = %+v (user %+v), want the new user's membership at %d", m, newcomer, access.MemberLevel)
	}

	// An inviter who left takes their invites' standing with them.
	byLeaver := invite(access.MemberLevel, bob.ID)
	if err := s.RemoveMember(ctx, org.ID, bob.ID, bob.ID); err != nil {
		t.Fatalf("RemoveMember(bob) = %v", err)
	}
	refused("inviter gone", byLeaver)
	// A taken email leaves nothing either.
	taken := invite(access.MemberLevel, alice.ID)
	_, err = s.AcceptInviteAsNewUser(ctx, taken.ID, &gatehouse.User{Email: carol.Email, FirstName: "C", PasswordHash: "hash"})
	wantError(t, "AcceptInviteAsNewUser(taken email)", err, gatehouse.EUnique, "email")
	if _, err := s.Invite(ctx, taken.ID); err != nil {
		t.Errorf("Invite(after a taken email) = %v, want it kept", err)
	}
}

// testFirstUser checks that however many sign up at once on an empty store, one user is
// created, and that later ones are refused with ErrSignupClosed and leave nothing.
func testFirstUser(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	const signups = 8
	var (
		wg   sync.WaitGroup
		errs = make([]error, signups)
	)
	// Warm the connection pool first, so that the signups do not queue one behind the
	// other for connections being opened, and start them together.
	for range signups {
		wg.Go(func() { _, _ = s.CountUsers(ctx) })
	}
	wg.Wait()
	start := make(chan struct{})
	for i := range signups {
		wg.Go(func() {
			<-start
			u := &gatehouse.User{Email: fmt.Sprintf("first%d@example.com", i), FirstName: "F", PasswordHash: "hash"}
			errs[i] = s.CreateFirstUser(ctx, u)
		})
	}
	close(start)
	wg.Wait()
	n := 0
	for i, err := range errs {
		switch {
		case err == nil:
			n++
		case !errors.Is(err, gatehouse.ErrSignupClosed):
			t.Errorf("CreateFirstUser(%d) = %v, want nil or %v", i, err, gatehouse.ErrSignupClosed)
		}
	}
	if n != 1 {
		t.Errorf("%d of %d concurrent CreateFirstUser calls created a user, want 1", n, signups)
	}
	if got, err := s.CountUsers(ctx); err != nil || got != 1 {
		t.Errorf("CountUsers() after concurrent first signups = %d, %v, want 1", got, err)
	}
	late := &gatehouse.User{Email: "late@example.com", FirstName: "L", PasswordHash: "hash"}
	if err := s.CreateFirstUser(ctx, late); !errors.Is(err, gatehouse.ErrSignupClosed) {
		t.Errorf("CreateFirstUser(after the first) = %v, want %v", err, gatehouse.ErrSignupClosed)
	}
	if _, err := s.UserByEmail(ctx, late.Email); !isNotFound(err) {
		t.Errorf("UserByEmail(refused) = %v, want not_found", err)
	}
}

// testDeleteResourceScoped checks DeleteResource finds the resource in the project and kind
// it is told, never through another project's id.
func testDeleteResourceScoped(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice, bob := e.user("alice@example.com"), e.user("bob@example.com")
	_, p := e.org("Acme", alice)
	other, op := e.org("Other", bob)
	foreign := e.resource(op.ID, access.FeatureFlags, "theirs", bob.ID)
	e.rule(other.ID, access.Rule{Scope: access.ScopeObject, Object: foreign.ID, Level: access.Viewer}, bob.ID)
	mine := e.resource(p.ID, access.Cohorts, "", alice.ID)
	rev := e.revision(other.ID)

	wantNotFound(t, "DeleteResource(another organization's object under my project)", s.DeleteResource(ctx, p.ID, access.FeatureFlags, foreign.ID))
	wantNotFound(t, "DeleteResource(the right project, the wrong kind)", s.DeleteResource(ctx, op.ID, access.Cohorts, foreign.ID))
	wantNotFound(t, "DeleteResource(my object as another kind)", s.DeleteResource(ctx, p.ID, access.FeatureFlags, mine.ID))
	if got, err := s.Resource(ctx, op.ID, access.FeatureFlags, foreign.ID); err != nil || got.Deleted {
		t.Errorf("Resource(foreign) after refused deletes = %+v, %v, want it untouched", got, err)
	}
	if rules, _ := s.Rules(ctx, gatehouse.RuleFilter{OrganizationID: other.ID}); len(rules) != 1 {
		t.Errorf("Rules(other organization) after refused deletes = %+v, want its rule kept", rules)
	}
	if got := e.revision(other.ID); got != rev {
		t.Errorf("other organization's RulesRevision after refused deletes = %d, want %d", got, rev)
	}
	if err := s.DeleteResource(ctx, p.ID, access.Cohorts, mine.ID); err != nil {
		t.Errorf("DeleteResource(mine) = %v", err)
	}
}

// testDecidedRevision checks that a write whose request was authorized on older rules
// writes nothing unless its Recheck finds the rules still allow it alike, and that a
// request's own permission change does not make its next write stale.
func testDecidedRevision(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice, bob := e.user("alice@example.com"), e.user("bob@example.com")
	org, p := e.org("Acme", alice)
	e.join(org.ID, bob, access.MemberLevel)
	flag := e.resource(p.ID, access.FeatureFlags, "f", alice.ID)
	old := e.revision(org.ID)
	e.rule(org.ID, access.Rule{Scope: access.ScopeKind, Kind: access.Cohorts, Level: access.Viewer}, alice.ID)
	now := e.revision(org.ID)

	refuse := func(rev int64, rules gatehouse.RulesAt) (bool, error) { return false, nil }
	var asked []int64
	var replayable []bool
	allow := func(rev int64, rules gatehouse.RulesAt) (bool, error) {
		f, err := rules.Facts()
		if err != nil {
			return false, err
		}
		if len(f.Members) != 2 || len(f.Rules) == 0 {
			return false, fmt.Errorf("facts at %d = %+v, want 2 members and the rules", rev, f)
		}
		// The changes since the decision replay onto its rules exactly when only rules
		// changed in between: the kind rule first, then the rules the writes put.
		changes, ok, err := rules.Changes(old)
		if err != nil {
			return false, err
		}
		if ok && (len(changes) == 0 || changes[0] != (access.RuleChange{Rule: access.Rule{Scope: access.ScopeKind, Kind: access.Cohorts, Level: access.Viewer}})) {
			return false, fmt.Errorf("changes from %d to %d = %+v, want the kind rule first", old, rev, changes)
		}
		replayable = append(replayable, ok)
		asked = append(asked, rev)
		return true, nil
	}
	writes := []struct {
		name  string
		write func(ctx context.Context) error
	}{
		{"PutRule", func(ctx context.Context) error {
			return s.PutRule(ctx, &gatehouse.Rule{OrganizationID: org.ID, Rule: access.Rule{Scope: access.ScopeObject, Object: flag.ID, User: bob.ID, Level: access.Manager}}, bob.ID)
		}},
		{"SetMemberLevel", func(ctx context.Context) error {
			return s.SetMemberLevel(ctx, org.ID, bob.ID, access.AdminLevel, alice.ID)
		}},
		{"CreateResource", func(ctx context.Context) error {
			return s.CreateResource(ctx, &gatehouse.Resource{ProjectID: p.ID, Kind: access.Cohorts, CreatedBy: bob.ID})
		}},
		{"UpdateResourceFunc", func(ctx context.Context) error {
			_, err := s.UpdateResourceFunc(ctx, p.ID, access.FeatureFlags, flag.ID, func(r *gatehouse.Resource) error {
				r.Data = []byte(`{"name":"changed"}`)
				return nil
			})
			return err
		}},
		{"DeleteResource", func(ctx context.Context) error { return s.DeleteResource(ctx, p.ID, access.FeatureFlags, flag.ID) }},
		{"CreateInvite", func(ctx context.Context) error {
			return s.CreateInvite(ctx, &gatehouse.Invite{OrganizationID: org.ID, TargetEmail: "x@example.com", Level: 1, CreatedBy: bob.ID})
		}},
		{"CreateProject", func(ctx context.Context) error {
			return s.CreateProject(ctx, &gatehouse.Project{OrganizationID: org.ID, Name: "Stale"})
		}},
	}
	state := func() string {
		t.Helper()
		rules, _ := s.Rules(ctx, gatehouse.RuleFilter{OrganizationID: org.ID})
		m, _ := s.Membership(ctx, org.ID, bob.ID)
		heads, _ := s.ResourceHeads(ctx, p.ID, access.Cohorts)
		r, _ := s.Resource(ctx, p.ID, access.FeatureFlags, flag.ID)
		invites, _ := s.Invites(ctx, org.ID)
		projects, _ := s.Projects(ctx, org.ID)
		return fmt.Sprintf("rev %d, %d rules, bob %d, %d cohorts, flag %v, %d invites, %d projects",
			e.revision(org.ID), len(rules), m.Level, len(heads), r != nil && string(r.Data) == `{"name":"changed"}`, len(invites), len(projects))
	}
	before := state()
	for _, w := range writes {
		for _, recheck := range []gatehouse.Recheck{nil, refuse} {
			err := w.write(gatehouse.WithDecidedRevision(ctx, org.ID, old, recheck))
			if !errors.Is(err, gatehouse.ErrStaleDecision) {
				t.Errorf("%s(decided at %d, now %d, recheck %v) = %v, want %v", w.name, old, now, recheck != nil, err, gatehouse.ErrStaleDecision)
			}
		}
	}
	if got := state(); got != before {
		t.Errorf("after stale writes: %s, want %s", got, before)
	}

	// The same writes go through when decided at the current revision, or when the
	// recheck finds the rules allow them alike; each asks it at most once, and a
	// request's own permission change does not count against its next write.
	for _, w := range writes {
		dctx := gatehouse.WithDecidedRevision(ctx, org.ID, old, allow)
		asked = nil
		if err := w.write(dctx); err != nil {
			t.Errorf("%s(decided at %d, rechecked) = %v, want nil", w.name, old, err)
		}
		if len(asked) != 1 || asked[0] < now {
			t.Errorf("%s asked the recheck about revisions %v, want one at %d or later", w.name, asked, now)
		}
		if err := w.write(dctx); err != nil && !isNotFound(err) {
			t.Errorf("%s again in the same request = %v, want nil", w.name, err)
		}
		if len(asked) != 1 {
			t.Errorf("%s asked the recheck again after its own write (%v)", w.name, asked)
		}
	}
	// PutRule and SetMemberLevel came after rule changes only; everything after them
	// after a change of membership, which no rule change describes.
	if len(replayable) < 3 || !replayable[0] || !replayable[1] || slices.Contains(replayable[2:], true) {
		t.Errorf("the changes since the decision were replayable %v, want the first two only", replayable)
	}
	// Without a decision in ctx nothing is compared.
	if err := s.CreateResource(ctx, &gatehouse.Resource{ProjectID: p.ID, Kind: access.Cohorts}); err != nil {
		t.Errorf("CreateResource(no decision) = %v", err)
	}
}
