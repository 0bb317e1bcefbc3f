package server_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"testing"

	"github.com/gatehouse/gatehouse/license"
	"github.com/gatehouse/gatehouse/server/apiclient"
	"github.com/gatehouse/gatehouse/sqlstore/sqltest"
)

// TestGeneratedClientSeedExample walks the README's seed example with the
// client generated from /api/schema, reading every answer through its
// generated type: what a user's generated client gets.
func TestGeneratedClientSeedExample(t *testing.T) {
	srv := newServer(t, sqltest.Open(t, "sqlite"), license.Enterprise)
	ctx := context.Background()
	origin := func(_ context.Context, r *http.Request) error { r.Header.Set("Origin", srv.URL); return nil }
	session := func() *apiclient.ClientWithResponses {
		jar, _ := cookiejar.New(nil)
		c, err := apiclient.NewClientWithResponses(srv.URL, apiclient.WithHTTPClient(&http.Client{Jar: jar}), apiclient.WithRequestEditorFn(origin))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	bearer := func(key string) *apiclient.ClientWithResponses {
		c, err := apiclient.NewClientWithResponses(srv.URL, apiclient.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
			r.Header.Set("Authorization", "Bearer "+key)
			return nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	str := func(s string) *string { return &s }
	want := func(what string, got, status int, body []byte) {
		t.Helper()
		if got != status {
			t.Fatalf("%s = %d %s, want %d", what, got, body, status)
		}
	}

	// The first user becomes owner of a new organization with one project.
	ownerSession := session()
	signup, err := ownerSession.PostApiSignupWithResponse(ctx, apiclient.SignupInput{
		Email: str("olive@example.com"), Password: str("correct horse"), FirstName: str("Olive"), OrganizationName: str("Acme")})
	if err != nil {
		t.Fatal(err)
	}
	want("signup", signup.StatusCode(), 201, signup.Body)
	key, err := ownerSession.PostApiPersonalApiKeysWithResponse(ctx, apiclient.ApiKeyInput{Label: str("cli")})
	if err != nil {
		t.Fatal(err)
	}
	want("owner's key", key.StatusCode(), 201, key.Body)
	if key.JSON201.Value == nil || *key.JSON201.Value == "" {
		t.Fatalf("the new key's value is missing: %s", key.Body)
	}
	owner := bearer(*key.JSON201.Value)
	org, err := owner.GetApiOrganizationsOrgWithResponse(ctx, "@current")
	if err != nil {
		t.Fatal(err)
	}
	want("GET organization", org.StatusCode(), 200, org.Body)
	orgID := org.JSON200.Id
	proj, err := owner.GetApiProjectsProjectWithResponse(ctx, "@current")
	if err != nil {
		t.Fatal(err)
	}
	want("GET project", proj.StatusCode(), 200, proj.Body)
	p := strconv.FormatInt(proj.JSON200.Id, 10)
	if org.JSON200.Name != "Acme" || proj.JSON200.Organization != orgID {
		t.Fatalf("organization %+v, project %+v", org.JSON200, proj.JSON200)
	}

	// Invite Pat (plain member) and sign Pat up through the invite.
	inv, err := owner.PostApiOrganizationsOrgInvitesWithResponse(ctx, orgID, apiclient.InviteInput{TargetEmail: str("pat@example.com")})
	if err != nil {
		t.Fatal(err)
	}
	want("invite", inv.StatusCode(), 201, inv.Body)
	patSession := session()
	joined, err := patSession.PostApiSignupInviteWithResponse(ctx, inv.JSON201.Id, apiclient.InviteAcceptInput{FirstName: str("Pat"), Password: str("correct horse")})
	if err != nil {
		t.Fatal(err)
	}
	want("signup through the invite", joined.StatusCode(), 201, joined.Body)
	if len(joined.JSON201.Organizations) != 1 || joined.JSON201.Organizations[0].Id != orgID {
		t.Fatalf("Pat's organizations = %+v", joined.JSON201.Organizations)
	}
	patKey, err := patSession.PostApiPersonalApiKeysWithResponse(ctx, apiclient.ApiKeyInput{Label: str("cli")})
	if err != nil {
		t.Fatal(err)
	}
	want("Pat's key", patKey.StatusCode(), 201, patKey.Body)
	pat := bearer(*patKey.JSON201.Value)
	me, err := pat.GetApiUsersMeWithResponse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want("Pat's @me", me.StatusCode(), 200, me.Body)

	// Flags are view only by default; role "product" (view only for flags) has Pat.
	viewOnly := 21
	def, err := owner.PostApiOrganizationsOrgResourceAccessWithResponse(ctx, orgID, apiclient.ResourceAccessInput{Resource: str("feature flags"), AccessLevel: &viewOnly})
	if err != nil {
		t.Fatal(err)
	}
	want("organization default", def.StatusCode(), 201, def.Body)
	role, err := owner.PostApiOrganizationsOrgRolesWithResponse(ctx, orgID, apiclient.RoleInput{Name: str("product")})
	if err != nil {
		t.Fatal(err)
	}
	want("role", role.StatusCode(), 201, role.Body)
	if role.JSON201.FeatureFlagsAccessLevel != viewOnly {
		t.Errorf("the new role's flag level = %d, want the organization default %d", role.JSON201.FeatureFlagsAccessLevel, viewOnly)
	}
	membership, err := owner.PostApiOrganizationsOrgRolesRoleRoleMembershipsWithResponse(ctx, orgID, role.JSON201.Id, apiclient.RoleMemberInput{UserUuid: &me.JSON200.Uuid})
	if err != nil {
		t.Fatal(err)
	}
	want("role membership", membership.StatusCode(), 201, membership.Body)

	// Two flags; top-secret is editable by product.
	newFlag := func(k string) string {
		t.Helper()
		res, err := owner.PostApiProjectsProjectFeatureFlagsWithResponse(ctx, p, apiclient.FeatureFlag{Key: k})
		if err != nil {
			t.Fatal(err)
		}
		want("flag "+k, res.StatusCode(), 201, res.Body)
		if res.JSON201.Key != k || res.JSON201.UserAccessLevel != "manager" {
			t.Fatalf("new flag = %+v", res.JSON201)
		}
		return strconv.FormatInt(res.JSON201.Id, 10)
	}
	secret, other := newFlag("top-secret"), newFlag("other-flag")
	grant, err := owner.PostApiProjectsProjectFeatureFlagsIdRoleAccessWithResponse(ctx, p, secret, apiclient.RoleAccessInput{RoleId: &role.JSON201.Id})
	if err != nil {
		t.Fatal(err)
	}
	want("role access", grant.StatusCode(), 201, grant.Body)
	if strconv.FormatInt(grant.JSON201.FeatureFlag.Id, 10) != secret || grant.JSON201.RoleId != role.JSON201.Id {
		t.Errorf("role access = %+v", grant.JSON201)
	}

	// Pat edits top-secret (200) and is refused the other flag (403).
	edited, err := pat.PatchApiProjectsProjectFeatureFlagsIdWithResponse(ctx, p, secret, apiclient.FeatureFlagUpdate{Name: str("Pat was here")})
	if err != nil {
		t.Fatal(err)
	}
	want("Pat edits top-secret", edited.StatusCode(), 200, edited.Body)
	if edited.JSON200.Name != "Pat was here" || !edited.JSON200.CanEdit {
		t.Errorf("edited flag = %+v", edited.JSON200)
	}
	refused, err := pat.PatchApiProjectsProjectFeatureFlagsIdWithResponse(ctx, p, other, apiclient.FeatureFlagUpdate{Name: str("nope")})
	if err != nil {
		t.Fatal(err)
	}
	want("Pat edits other-flag", refused.StatusCode(), 403, refused.Body)
	e := refused.JSON403
	if e == nil || e.Type != "authentication_error" || e.Code != "permission_denied" || e.Detail != "You don't have edit permissions for this feature flag." || e.Attr != nil {
		t.Errorf("refusal = %s, want PostHog's permission_denied", refused.Body)
	}

	// Why does Pat have access?
	why, err := owner.GetApiProjectsProjectFeatureFlagsIdUsersWithAccessWithResponse(ctx, p, secret)
	if err != nil {
		t.Fatal(err)
	}
	want("users_with_access", why.StatusCode(), 200, why.Body)
	found := false
	for _, u := range why.JSON200.Users {
		if u.UserId == me.JSON200.Uuid {
			found = u.AccessLevel == "editor"
		}
	}
	if !found || why.JSON200.TotalCount != len(why.JSON200.Users) {
		t.Errorf("users_with_access = %+v, want Pat as editor", why.JSON200)
	}
}
