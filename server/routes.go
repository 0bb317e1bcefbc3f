package server

import (
	"github.com/gatehouse/gatehouse/access"
)

// registerRoutes is the whole API surface. Each route names its
// authorization beside it (need.go); authorize (authorize.go) enforces it before
// the handler runs, so no handler decides who may call it.
func (s *Server) registerRoutes() {
	// Operations.
	s.handle("GET /_health", public, s.handleHealth)
	s.handle("GET /_ready", public, s.handleReady)
	s.handle("GET /metrics", public, s.handleMetrics)
	s.handle("GET /api/schema", public, s.handleSchema)

	// Accounts.
	s.handle("GET /api/signup", public, s.handleSignupStatus)
	s.handle("POST /api/signup", public, s.handleSignup)
	s.handle("POST /api/signup/{invite}", public, s.handleInviteAccept)
	s.handle("POST /api/login", public, s.handleLogin)
	s.handle("POST /api/logout", public, s.handleLogout)
	s.handle("GET /api/users/@me", signedIn, s.handleMeGet)
	s.handle("PATCH /api/users/@me", signedIn, s.handleMeUpdate)
	s.handle("GET /api/personal_api_keys", signedIn, s.handleAPIKeyList)
	s.handle("POST /api/personal_api_keys", signedIn, s.handleAPIKeyCreate)
	s.handle("DELETE /api/personal_api_keys/{id}", signedIn, s.handleAPIKeyDelete)

	// Organizations, members, invites.
	s.handle("GET /api/organizations", signedIn, s.handleOrganizationList)
	s.handle("POST /api/organizations", signedIn, s.handleOrganizationCreate)
	s.handle("GET /api/organizations/{org}", orgMember, s.handleOrganizationGet)
	s.handle("PATCH /api/organizations/{org}", orgAdmin, s.handleOrganizationUpdate)
	s.handle("DELETE /api/organizations/{org}", orgOwner, s.handleOrganizationDelete)
	s.handle("GET /api/organizations/{org}/members", orgMember, s.handleMemberList)
	s.handle("PATCH /api/organizations/{org}/members/{user}", orgAdmin, s.handleMemberUpdate)
	s.handle("DELETE /api/organizations/{org}/members/{user}", orgAdminOrSelf, s.handleMemberDelete)
	s.handle("GET /api/organizations/{org}/invites", orgAdmin, s.handleInviteList)
	s.handle("POST /api/organizations/{org}/invites", orgAdmin, s.handleInviteCreate)
	s.handle("DELETE /api/organizations/{org}/invites/{id}", orgAdmin, s.handleInviteDelete)

	// Projects (PostHog's "teams").
	s.handle("GET /api/projects", signedIn, s.handleProjectList)
	s.handle("GET /api/organizations/{org}/projects", orgMember, s.handleOrgProjectList)
	s.handle("POST /api/organizations/{org}/projects", orgAdmin, s.handleOrgProjectCreate)
	s.handle("POST /api/projects", currentAdmin, s.handleOrgProjectCreate)
	s.handle("GET /api/projects/{project}", projectMember, s.handleProjectGet)
	s.handle("PATCH /api/projects/{project}", projectAdmin, s.handleProjectUpdate)
	s.handle("DELETE /api/projects/{project}", projectDelete, s.handleProjectDelete) // organization admins only: a project admin by rule may not destroy it

	// Role-based access, API v1 (PostHog 2023). Reads for members, writes
	// for admins and only on a plan with the feature.
	s.handle("GET /api/organizations/{org}/roles", orgMember, s.handleRoleList)
	s.handle("POST /api/organizations/{org}/roles", orgAdmin.licensed(), s.handleRoleCreate)
	s.handle("GET /api/organizations/{org}/roles/{role}", orgMember, s.handleRoleGet)
	s.handle("PUT /api/organizations/{org}/roles/{role}", orgAdmin.licensed(), s.handleRoleUpdate)
	s.handle("PATCH /api/organizations/{org}/roles/{role}", orgAdmin.licensed(), s.handleRoleUpdate)
	s.handle("DELETE /api/organizations/{org}/roles/{role}", orgAdmin.licensed(), s.handleRoleDelete)
	s.handle("GET /api/organizations/{org}/roles/{role}/role_memberships", orgMember, s.handleRoleMemberList)
	s.handle("POST /api/organizations/{org}/roles/{role}/role_memberships", orgAdmin.licensed(), s.handleRoleMemberCreate)
	s.handle("GET /api/organizations/{org}/roles/{role}/role_memberships/{id}", orgMember, s.handleRoleMemberGet)
	s.handle("DELETE /api/organizations/{org}/roles/{role}/role_memberships/{id}", orgAdmin.licensed(), s.handleRoleMemberDelete)
	s.handle("GET /api/organizations/{org}/resource_access", orgMember, s.handleResourceAccessList)
	s.handle("POST /api/organizations/{org}/resource_access", orgAdmin.licensed(), s.handleResourceAccessCreate)
	s.handle("GET /api/organizations/{org}/resource_access/{id}", orgMember, s.handleResourceAccessGet)
	s.handle("PUT /api/organizations/{org}/resource_access/{id}", orgAdmin.licensed(), s.handleResourceAccessUpdate)
	s.handle("PATCH /api/organizations/{org}/resource_access/{id}", orgAdmin.licensed(), s.handleResourceAccessUpdate)
	s.handle("DELETE /api/organizations/{org}/resource_access/{id}", orgAdmin.licensed(), s.handleResourceAccessDelete)
	s.handle("GET /api/organizations/{org}/activity_log", orgAdmin, s.handleActivityList)

	// Resources: the seven kinds share one path; only their fields differ.
	for _, k := range access.Kinds {
		base := "/api/projects/{project}/" + k.String()
		obj := base + "/{id}"
		s.handle("GET "+base, projectMember, s.handleResourceList(k))
		s.handle("POST "+base, kindLevel(k, access.Editor), s.handleResourceCreate(k))
		s.handle("GET "+obj, objectLevel(k, access.Viewer).withRow(), s.handleResourceGet)
		s.handle("PATCH "+obj, objectLevel(k, access.Editor), s.handleResourceUpdate)
		s.handle("PUT "+obj, objectLevel(k, access.Editor), s.handleResourceUpdate)
		if k == access.FeatureFlags {
			// PostHog only soft-deletes flags (PATCH {"deleted": true}).
			s.handle("DELETE "+obj, objectLevel(k, access.Editor), s.handleMethodNotAllowed)
		} else {
			s.handle("DELETE "+obj, objectLevel(k, access.Editor), s.handleResourceDelete)
		}
		s.handle("GET "+obj+"/role_access", objectLevel(k, access.Viewer), s.handleRoleAccessList)
		s.handle("POST "+obj+"/role_access", objectLevel(k, access.Manager).licensed(), s.handleRoleAccessCreate)
		s.handle("GET "+obj+"/role_access/{grant}", objectLevel(k, access.Viewer), s.handleRoleAccessGet)
		s.handle("DELETE "+obj+"/role_access/{grant}", objectLevel(k, access.Manager).licensed(), s.handleRoleAccessDelete)
		s.handle("GET "+obj+"/access_controls", objectLevel(k, access.Viewer), s.handleObjectAccessControlsGet)
		s.handle("PUT "+obj+"/access_controls", objectLevel(k, access.Manager).licensed(), s.handleObjectAccessControlsPut)
		s.handle("GET "+obj+"/users_with_access", objectLevel(k, access.Viewer), s.handleUsersWithAccess)
	}

	// Role-based access, API v2: levels, member rules, project access, why.
	s.handle("GET /api/projects/{project}/resource_access_controls", projectMember, s.handleKindAccessControlsGet)
	s.handle("PUT /api/projects/{project}/resource_access_controls", projectAdmin.licensed(), s.handleKindAccessControlsPut)
	s.handle("GET /api/projects/{project}/access_controls", projectMember, s.handleProjectAccessControlsGet)
	s.handle("PUT /api/projects/{project}/access_controls", projectAdmin.licensed(), s.handleProjectAccessControlsPut)
	s.handle("GET /api/projects/{project}/activity_log", projectMember, s.handleActivityList)
	s.handle("POST /api/projects/{project}/access/check", projectMember.asks(), s.handleAccessCheck)
}
