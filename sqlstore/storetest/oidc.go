package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

func testOIDCLogins(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	now := time.Now().UTC().Truncate(time.Microsecond)
	l := gatehouse.OIDCLogin{StateHash: "state-1", BrowserHash: "browser", Nonce: "nonce", Verifier: "verifier", Next: "/projects", ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateOIDCLogin(ctx, l); err != nil {
		t.Fatalf("CreateOIDCLogin() = %v", err)
	}
	wantError(t, "CreateOIDCLogin(same state)", s.CreateOIDCLogin(ctx, l), gatehouse.EUnique, "state")
	got, err := s.TakeOIDCLogin(ctx, "state-1", now)
	if err != nil || got.BrowserHash != l.BrowserHash || got.Nonce != l.Nonce || got.Verifier != l.Verifier || got.Next != l.Next || !got.ExpiresAt.Equal(l.ExpiresAt) {
		t.Fatalf("TakeOIDCLogin() = %+v, %v, want %+v", got, err, l)
	}
	// A state is honoured once.
	_, err = s.TakeOIDCLogin(ctx, "state-1", now)
	wantNotFound(t, "TakeOIDCLogin(taken)", err)
	_, err = s.TakeOIDCLogin(ctx, "never", now)
	wantNotFound(t, "TakeOIDCLogin(unknown)", err)

	expired := l
	expired.StateHash, expired.ExpiresAt = "state-2", now.Add(time.Minute)
	if err := s.CreateOIDCLogin(ctx, expired); err != nil {
		t.Fatalf("CreateOIDCLogin(expiring) = %v", err)
	}
	_, err = s.TakeOIDCLogin(ctx, "state-2", now.Add(2*time.Minute))
	wantNotFound(t, "TakeOIDCLogin(expired)", err)
}

func testJoinOrganization(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	owner := e.user("owner@example.com")
	org, _ := e.org("Acme", owner)
	rev := e.revision(org.ID)

	u := &gatehouse.User{Email: "New@Acme.test", FirstName: "New"}
	m, err := s.JoinOrganization(ctx, org.ID, u, access.MemberLevel)
	if err != nil {
		t.Fatalf("JoinOrganization(new user) = %v", err)
	}
	if u.ID == 0 || u.UUID == "" || u.PasswordHash != "" || m.User.ID != u.ID || m.Level != access.MemberLevel || m.OrganizationID != org.ID {
		t.Fatalf("JoinOrganization(new user) = %+v, user %+v", m, u)
	}
	if got := e.revision(org.ID); got <= rev {
		t.Errorf("revision after a join = %d, want above %d", got, rev)
	}
	log := e.activity(org.ID)
	if log[0].Scope != "Membership" || log[0].Activity != "created" || log[0].UserID != u.ID {
		t.Errorf("activity after a join = %+v, want Membership created by the user", log[0])
	}
	if !slices.ContainsFunc(log[0].Changes, func(c gatehouse.Change) bool { return c.Field == "via" && c.After == "oidc" }) {
		t.Errorf("activity changes = %+v, want the join marked via oidc", log[0].Changes)
	}

	_, err = s.JoinOrganization(ctx, org.ID, u, access.MemberLevel)
	wantError(t, "JoinOrganization(member)", err, gatehouse.EUnique, "user")
	taken := &gatehouse.User{Email: "new@acme.TEST"}
	_, err = s.JoinOrganization(ctx, org.ID, taken, access.MemberLevel)
	wantError(t, "JoinOrganization(email taken)", err, gatehouse.EUnique, "email")
	// No user is left behind by a join that fails.
	ghost := &gatehouse.User{Email: "ghost@acme.test"}
	_, err = s.JoinOrganization(ctx, "no-such-org", ghost, access.MemberLevel)
	wantNotFound(t, "JoinOrganization(unknown org)", err)
	_, err = s.UserByEmail(ctx, "ghost@acme.test")
	wantNotFound(t, "UserByEmail(ghost)", err)

	// An existing user joins as they are.
	other := e.user("other@example.com")
	if _, err := s.JoinOrganization(ctx, org.ID, other, access.MemberLevel); err != nil {
		t.Fatalf("JoinOrganization(existing user) = %v", err)
	}
	if _, err := s.Membership(ctx, org.ID, other.ID); err != nil {
		t.Errorf("Membership(existing user) = %v", err)
	}
}

func testSyncSSORoles(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	owner := e.user("owner@example.com")
	org, _ := e.org("Acme", owner)
	other, _ := e.org("Other", owner)
	dev := e.user("dev@acme.test")
	e.join(org.ID, dev, access.MemberLevel)
	eng, design, hand := e.role(org.ID, "Engineering", owner.ID), e.role(org.ID, "Design", owner.ID), e.role(org.ID, "Hand-made", owner.ID)
	e.role(other.ID, "Engineering", owner.ID) // another organization's role of the same name
	e.roleMember(org.ID, hand.ID, dev, owner.ID)

	sync := func(groups ...string) (joined, left []string) {
		t.Helper()
		j, l, err := s.SyncSSORoles(ctx, org.ID, dev.ID, groups)
		if err != nil {
			t.Fatalf("SyncSSORoles(%q) = %v", groups, err)
		}
		for _, r := range j {
			joined = append(joined, r.Name)
		}
		for _, r := range l {
			left = append(left, r.Name)
		}
		return joined, left
	}
	roles := func() []string {
		t.Helper()
		var out []string
		for _, r := range []*gatehouse.Role{eng, design, hand} {
			ms, err := s.RoleMembers(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				if m.User.ID == dev.ID {
					out = append(out, r.Name)
				}
			}
		}
		return out
	}

	rev := e.revision(org.ID)
	if j, l := sync("ENGINEERING", "design", "not a role", "hand-made"); !slices.Equal(j, []string{"Engineering", "Design"}) || l != nil {
		t.Fatalf("first sync joined %v left %v, want [Engineering Design] and none (Hand-made held already)", j, l)
	}
	if got := e.revision(org.ID); got <= rev {
		t.Errorf("revision after a sync = %d, want above %d", got, rev)
	}
	if got := roles(); !slices.Equal(got, []string{"Engineering", "Design", "Hand-made"}) {
		t.Errorf("roles after the first sync = %v", got)
	}
	// The claim drops Design and the hand-made role: only Design, which a sign-in added, goes.
	if j, l := sync("Engineering"); j != nil || !slices.Equal(l, []string{"Design"}) {
		t.Fatalf("second sync joined %v left %v, want none and [Design]", j, l)
	}
	rev = e.revision(org.ID)
	if j, l := sync("Engineering"); j != nil || l != nil {
		t.Errorf("unchanged sync joined %v left %v, want nothing", j, l)
	}
	if got := e.revision(org.ID); got != rev {
		t.Errorf("an unchanged sync moved the revision %d → %d", rev, got)
	}
	if j, l := sync(); j != nil || !slices.Equal(l, []string{"Engineering"}) {
		t.Errorf("empty sync joined %v left %v, want none and [Engineering]", j, l)
	}
	if got := roles(); !slices.Equal(got, []string{"Hand-made"}) {
		t.Errorf("roles after the claim named none = %v, want the hand-made one alone", got)
	}
	log := e.activity(org.ID)
	if log[0].Scope != "RoleMembership" || log[0].Activity != "deleted" || log[0].UserID != dev.ID {
		t.Errorf("last activity = %+v, want RoleMembership deleted by the user", log[0])
	}

	// A membership a sign-in added and a person removed, then added by hand, is theirs.
	sync("Design")
	ms, _ := s.RoleMembers(ctx, design.ID)
	for _, m := range ms {
		if m.User.ID == dev.ID {
			if err := s.RemoveRoleMember(ctx, org.ID, design.ID, m.ID, owner.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.roleMember(org.ID, design.ID, dev, owner.ID)
	if _, l := sync(); slices.Contains(l, "Design") {
		t.Errorf("sync removed a membership added by hand")
	}

	_, _, err := s.SyncSSORoles(ctx, other.ID, dev.ID, []string{"Engineering"})
	wantNotFound(t, "SyncSSORoles(not a member)", err)
}
