package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/access"
)

func testRoles(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice, bob := e.user("alice@example.com"), e.user("bob@example.com")
	org, _ := e.org("Acme", alice)
	other, _ := e.org("Other", bob)

	lv := levels(access.Editor)
	lv[access.FeatureFlags] = access.Viewer
	product := &gatehouse.Role{OrganizationID: org.ID, Name: "Product", Levels: lv}
	if err := s.CreateRole(ctx, product, alice.ID); err != nil {
		t.Fatalf("CreateRole(Product) = %v", err)
	}
	if product.ID == "" || product.CreatedBy != alice.ID || product.CreatedAt.IsZero() || !product.UpdatedAt.Equal(product.CreatedAt) || product.Levels != lv {
		t.Errorf("CreateRole set %+v, want ID, CreatedBy, CreatedAt = UpdatedAt, levels kept", product)
	}
	got, err := s.Role(ctx, org.ID, product.ID)
	if err != nil {
		t.Fatalf("Role(Product) = %v", err)
	}
	if diff := cmp.Diff(product, got); diff != "" {
		t.Errorf("Role(Product) mismatch (-want +got):\n%s", diff)
	}
	_, err = s.Role(ctx, other.ID, product.ID)
	wantNotFound(t, "Role(of another organization)", err)
	err = s.CreateRole(ctx, &gatehouse.Role{OrganizationID: "nope", Name: "X"}, alice.ID)
	wantNotFound(t, "CreateRole(unknown organization)", err)

	// Names are unique per organization, case-insensitively.
	nameTests := []struct {
		org, name string
		taken     bool
	}{
		{org.ID, "Product", true},
		{org.ID, "product", true},
		{org.ID, "PRODUCT", true},
		{other.ID, "Product", false},
		{org.ID, "Engineering", false},
	}
	for _, tt := range nameTests {
		err := s.CreateRole(ctx, &gatehouse.Role{OrganizationID: tt.org, Name: tt.name, Levels: lv}, alice.ID)
		if !tt.taken {
			if err != nil {
				t.Errorf("CreateRole(%q) = %v, want success", tt.name, err)
			}
			continue
		}
		wantDetail(t, "CreateRole("+tt.name+")", err, gatehouse.EUnique, "name", "There is already a role with this name.")
	}
	roles, err := s.Roles(ctx, org.ID)
	if err != nil {
		t.Fatalf("Roles() = %v", err)
	}
	if len(roles) != 2 || roles[0].ID != product.ID || roles[1].Name != "Engineering" {
		t.Errorf("Roles() = %+v, want Product then Engineering", roles)
	}
	if diff := cmp.Diff(*product, roles[0]); diff != "" {
		t.Errorf("Roles()[0] mismatch (-want +got):\n%s", diff)
	}

	// Renaming to a case variant of its own name is allowed; to another role's name is not.
	product.Name = "PRODUCT"
	if err := s.UpdateRole(ctx, product, alice.ID); err != nil {
		t.Errorf("UpdateRole(own name in capitals) = %v, want success", err)
	}
	taken := *product
	taken.Name = "engineering"
	wantDetail(t, "UpdateRole(another role's name)", s.UpdateRole(ctx, &taken, alice.ID),
		gatehouse.EUnique, "name", "There is already a role with this name.")
	product.Levels[access.Actions] = access.Manager
	if err := s.UpdateRole(ctx, product, alice.ID); err != nil {
		t.Fatalf("UpdateRole(levels) = %v", err)
	}
	got, _ = s.Role(ctx, org.ID, product.ID)
	if got == nil || got.Name != "PRODUCT" || got.Levels != product.Levels || !got.CreatedAt.Equal(product.CreatedAt) || got.UpdatedAt.Before(got.CreatedAt) {
		t.Errorf("Role after UpdateRole = %+v, want name PRODUCT and the new levels", got)
	}
	lost := *product
	lost.OrganizationID = other.ID
	wantNotFound(t, "UpdateRole(in another organization)", s.UpdateRole(ctx, &lost, bob.ID))
	lost = *product
	lost.ID = "nope"
	wantNotFound(t, "UpdateRole(unknown)", s.UpdateRole(ctx, &lost, alice.ID))

	wantNotFound(t, "DeleteRole(in another organization)", s.DeleteRole(ctx, other.ID, product.ID, bob.ID))
	if err := s.DeleteRole(ctx, org.ID, product.ID, alice.ID); err != nil {
		t.Fatalf("DeleteRole() = %v", err)
	}
	_, err = s.Role(ctx, org.ID, product.ID)
	wantNotFound(t, "Role(deleted)", err)
	wantNotFound(t, "DeleteRole(deleted)", s.DeleteRole(ctx, org.ID, product.ID, alice.ID))
	// The name is free again.
	if err := s.CreateRole(ctx, &gatehouse.Role{OrganizationID: org.ID, Name: "product"}, alice.ID); err != nil {
		t.Errorf("CreateRole(name of a deleted role) = %v, want success", err)
	}
}

func testRoleMembers(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice, bob, carol, dave := e.user("alice@example.com"), e.user("bob@example.com"), e.user("carol@example.com"), e.user("dave@example.com")
	org, _ := e.org("Acme", alice)
	other, _ := e.org("Other", dave)
	e.join(org.ID, bob, access.MemberLevel)
	e.join(org.ID, carol, access.MemberLevel)
	role := e.role(org.ID, "Product", alice.ID)
	foreign := e.role(other.ID, "Foreign", dave.ID)

	mb := &gatehouse.RoleMembership{RoleID: role.ID, User: gatehouse.User{ID: bob.ID}}
	if err := s.AddRoleMember(ctx, org.ID, mb, alice.ID); err != nil {
		t.Fatalf("AddRoleMember(bob) = %v", err)
	}
	if mb.ID == "" || mb.RoleID != role.ID || mb.JoinedAt.IsZero() {
		t.Errorf("AddRoleMember set %+v, want ID, RoleID, JoinedAt", mb)
	}
	if diff := cmp.Diff(*bob, mb.User); diff != "" {
		t.Errorf("AddRoleMember user mismatch (-want +got):\n%s", diff)
	}
	addTests := []struct {
		name   string
		org    string
		role   string
		user   int64
		code   string
		attr   string
		detail string
	}{
		{"again", org.ID, role.ID, bob.ID, gatehouse.EUnique, "user_uuid", "User is already part of the role."},
		{"non-member", org.ID, role.ID, dave.ID, gatehouse.EDoesNotExist, "user_uuid", "User does not exist."},
		{"unknown user", org.ID, role.ID, dave.ID + 1000, gatehouse.EDoesNotExist, "user_uuid", "User does not exist."},
		{"role of another organization", org.ID, foreign.ID, bob.ID, gatehouse.ENotFound, "", "Not found."},
		{"unknown role", org.ID, "nope", bob.ID, gatehouse.ENotFound, "", "Not found."},
	}
	for _, tt := range addTests {
		err := s.AddRoleMember(ctx, tt.org, &gatehouse.RoleMembership{RoleID: tt.role, User: gatehouse.User{ID: tt.user}}, alice.ID)
		wantDetail(t, "AddRoleMember("+tt.name+")", err, tt.code, tt.attr, tt.detail)
	}
	mc := e.roleMember(org.ID, role.ID, carol, alice.ID)

	members, err := s.RoleMembers(ctx, role.ID)
	if err != nil {
		t.Fatalf("RoleMembers() = %v", err)
	}
	if diff := cmp.Diff([]gatehouse.RoleMembership{*mb, *mc}, members); diff != "" {
		t.Errorf("RoleMembers() mismatch (-want +got):\n%s", diff)
	}
	got, err := s.RoleMember(ctx, role.ID, mb.ID)
	if err != nil {
		t.Fatalf("RoleMember(bob) = %v", err)
	}
	if diff := cmp.Diff(mb, got); diff != "" {
		t.Errorf("RoleMember(bob) mismatch (-want +got):\n%s", diff)
	}
	_, err = s.RoleMember(ctx, foreign.ID, mb.ID)
	wantNotFound(t, "RoleMember(other role)", err)

	wantNotFound(t, "RemoveRoleMember(other organization)", s.RemoveRoleMember(ctx, other.ID, role.ID, mb.ID, dave.ID))
	wantNotFound(t, "RemoveRoleMember(other role)", s.RemoveRoleMember(ctx, org.ID, foreign.ID, mb.ID, alice.ID))
	if err := s.RemoveRoleMember(ctx, org.ID, role.ID, mb.ID, alice.ID); err != nil {
		t.Fatalf("RemoveRoleMember(bob) = %v", err)
	}
	_, err = s.RoleMember(ctx, role.ID, mb.ID)
	wantNotFound(t, "RoleMember(removed)", err)
	wantNotFound(t, "RemoveRoleMember(removed)", s.RemoveRoleMember(ctx, org.ID, role.ID, mb.ID, alice.ID))
	if members, _ := s.RoleMembers(ctx, role.ID); len(members) != 1 || members[0].ID != mc.ID {
		t.Errorf("RoleMembers() after removal = %+v, want only carol", members)
	}
	// Removed from the role, bob may join again.
	e.roleMember(org.ID, role.ID, bob, alice.ID)
}

// testRoleNamesFoldUnicode: role names are unique per organization case-insensitively in
// every script, not only ASCII (SQLite's lower() folds only ASCII, so "ÉQUIPE" and
// "équipe" were two names there), and two spellings of one letter (composed or not) are
// one name. Renaming a role to a case variant of its own name stays allowed.
func testRoleNamesFoldUnicode(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	alice, bob := e.user("alice@example.com"), e.user("bob@example.com")
	org, _ := e.org("Acme", alice)
	other, _ := e.org("Other", bob)
	for _, name := range []string{"Équipe", "Straße", "Σίσυφος", "Ǆungla"} {
		e.role(org.ID, name, alice.ID)
	}
	tests := []struct {
		org, name string
		taken     bool
	}{
		{org.ID, "ÉQUIPE", true},
		{org.ID, "équipe", true},
		{org.ID, "E\u0301quipe", true}, // É as E and a combining accent
		{org.ID, "e\u0301QUIPE", true},
		{org.ID, "STRASSE", true},
		{org.ID, "strasse", true},
		{org.ID, "ΣΊΣΥΦΟΣ", true},
		{org.ID, "σίσυφοσ", true},
		{org.ID, "ǆungla", true},
		{org.ID, "ǅungla", true},
		{org.ID, "Equipe", false}, // no accent: another name
		{other.ID, "ÉQUIPE", false},
	}
	for _, tt := range tests {
		err := s.CreateRole(ctx, &gatehouse.Role{OrganizationID: tt.org, Name: tt.name}, alice.ID)
		if !tt.taken {
			if err != nil {
				t.Errorf("CreateRole(%q) = %v, want success", tt.name, err)
			}
			continue
		}
		wantDetail(t, "CreateRole("+tt.name+")", err, gatehouse.EUnique, "name", "There is already a role with this name.")
	}
	roles, err := s.Roles(ctx, org.ID)
	if err != nil {
		t.Fatalf("Roles() = %v", err)
	}
	if len(roles) != 5 {
		t.Errorf("Roles() = %d roles, want 5: the refused names wrote nothing", len(roles))
	}
	equipe := &roles[0]
	for _, name := range []string{"ÉQUIPE", "e\u0301quipe", "Équipe"} {
		equipe.Name = name
		if err := s.UpdateRole(ctx, equipe, alice.ID); err != nil {
			t.Errorf("UpdateRole(own name as %q) = %v, want success", name, err)
		}
	}
	straße := roles[1]
	straße.Name = "ÉQUIPE"
	wantDetail(t, "UpdateRole(Straße → ÉQUIPE)", s.UpdateRole(ctx, &straße, alice.ID), gatehouse.EUnique, "name", "There is already a role with this name.")
	// The name freed by a rename or a deletion is free in every case.
	straße.Name = "Rue"
	if err := s.UpdateRole(ctx, &straße, alice.ID); err != nil {
		t.Fatalf("UpdateRole(Straße → Rue) = %v", err)
	}
	if err := s.CreateRole(ctx, &gatehouse.Role{OrganizationID: org.ID, Name: "STRASSE"}, alice.ID); err != nil {
		t.Errorf("CreateRole(STRASSE) after the rename = %v, want success", err)
	}
}
