package server

import (
	"net/http"

	"github.com/gatehouse/gatehouse/access"
	"github.com/gatehouse/gatehouse/license"
)

// registerRoutes is the whole API surface. Each route names its
// authorization beside it (need.go); authorize (authorize.go) enforces it before
// the handler runs, so no handler decides who may call it. Each also names
// the types of its request and answers, from which /api/schema is built
// (schema.go); the errors its shape implies are added there.
func (s *Server) registerRoutes() {
	s.section("operations", "Health, readiness, metrics and this document.")
	s.handle("GET /_health", public, s.handleHealth, answers(200, statusBody{}))
	s.handle("GET /_ready", public, s.handleReady, answers(200, statusBody{}), answers(503, statusBody{}))
	s.handle("GET /metrics", public, s.handleMetrics, textAnswer(200), refuses(401))
	s.handle("GET /api/schema", public, s.handleSchema, answers(200, map[string]any{}))

	s.section("accounts", "Sign up, sign in, the caller and their personal API keys.")
	s.handle("GET /api/signup", public, s.handleSignupStatus, answers(200, signupStatus{}))
	s.handle("POST /api/signup", public, s.handleSignup, body[signupInput](), answers(201, meBody{}), refuses(401)) // 401: sso_enforced
	s.handle("POST /api/signup/{invite}", public, s.handleInviteAccept, body[inviteAcceptInput](),
		answers(201, meBody{}), answers(200, meBody{}), refuses(401)) // 200: a signed-in user joins; 401: sso_enforced
	s.handle("POST /api/login", public, s.handleLogin, body[loginInput](), answers(200, meBody{}), refuses(401, 429))
	s.handle("GET /api/login/providers", public, s.handleLoginProviders, answers(200, loginProviders{}))
	s.handle("POST /api/logout", public, s.handleLogout, noContent())
	s.handle("GET /api/users/@me", signedIn, s.handleMeGet, answers(200, meBody{}))
	s.handle("PATCH /api/users/@me", signedIn, s.handleMeUpdate, body[meInput](), answers(200, meBody{}))
	s.handle("GET /api/personal_api_keys", signedIn, s.handleAPIKeyList, list[apiKeyBody]())
	s.handle("POST /api/personal_api_keys", signedIn, s.handleAPIKeyCreate, body[apiKeyInput](), answers(201, apiKeyBody{}))
	s.handle("DELETE /api/personal_api_keys/{id}", signedIn, s.handleAPIKeyDelete, noContent())

	s.section("organizations", "Organizations, their members and invites.")
	s.handle("GET /api/organizations", signedIn, s.handleOrganizationList, list[orgBody]())
	s.handle("POST /api/organizations", signedIn, s.handleOrganizationCreate, body[nameInput](), answers(201, orgBody{}))
	s.handle("GET /api/organizations/{org}", orgMember, s.handleOrganizationGet, answers(200, orgBody{}))
	s.handle("PATCH /api/organizations/{org}", orgAdmin, s.handleOrganizationUpdate, body[nameInput](), answers(200, orgBody{}))
	s.handle("DELETE /api/organizations/{org}", orgOwner, s.handleOrganizationDelete, noContent())
	s.handle("GET /api/organizations/{org}/members", orgMember, s.handleMemberList, list[memberBody]())
	s.handle("PATCH /api/organizations/{org}/members/{user}", orgAdmin, s.handleMemberUpdate, body[memberInput](), answers(200, memberBody{}))
	s.handle("DELETE /api/organizations/{org}/members/{user}", orgAdminOrSelf, s.handleMemberDelete, noContent())
	s.handle("GET /api/organizations/{org}/invites", orgAdmin, s.handleInviteList, list[inviteBody]())
	s.handle("POST /api/organizations/{org}/invites", orgAdmin, s.handleInviteCreate, body[inviteInput](), answers(201, inviteBody{}))
	s.handle("DELETE /api/organizations/{org}/invites/{id}", orgAdmin, s.handleInviteDelete, noContent())

	s.section("domains", "Organization domains: sign-in through the identity provider and SCIM provisioning.")
	domainAdmin := orgAdmin.licensedFor(license.FeatureSSO)
	s.handle("GET /api/organizations/{org}/domains", orgAdmin, s.handleDomainList, list[domainBody]())
	s.handle("POST /api/organizations/{org}/domains", domainAdmin, s.handleDomainCreate, body[domainInput](), answers(201, domainBody{}))
	s.handle("GET /api/organizations/{org}/domains/{id}", orgAdmin, s.handleDomainGet, answers(200, domainBody{}))
	s.handle("PATCH /api/organizations/{org}/domains/{id}", domainAdmin, s.handleDomainUpdate, body[domainUpdateInput](), answers(200, domainBody{}))
	s.handle("DELETE /api/organizations/{org}/domains/{id}", domainAdmin, s.handleDomainDelete, noContent())
	s.handle("POST /api/organizations/{org}/domains/{id}/verify", orgOwner.licensedFor(license.FeatureSSO), s.handleDomainVerify, body[emptyInput](), answers(200, domainBody{}))
	s.handle("POST /api/organizations/{org}/domains/{id}/scim/token", orgAdmin.licensedFor(license.FeatureSCIM), s.handleDomainSCIMToken,
		body[emptyInput](), answers(201, scimTokenBody{}))

	s.section("scim", "SCIM 2.0 provisioning of members (Users) and roles (Groups), authenticated by a domain's SCIM token.")
	scimBase := "/scim/v2/{domain_id}/"
	s.handle("GET "+scimBase+"ServiceProviderConfig", scimClient, s.handleSCIMServiceProviderConfig, answers(200, scimServiceProviderConfig{}))
	s.handle("GET "+scimBase+"ResourceTypes", scimClient, s.handleSCIMResourceTypes, answers(200, scimListBody[scimResourceType]{}))
	s.handle("GET "+scimBase+"Schemas", scimClient, s.handleSCIMSchemas, answers(200, scimListBody[scimSchema]{}))
	s.handle("GET "+scimBase+"Users", scimClient, s.handleSCIMUserList, answers(200, scimListBody[scimUserBody]{}), query("filter", "startIndex", "count"))
	s.handle("POST "+scimBase+"Users", scimClient, s.handleSCIMUserCreate, body[scimUserInput](), answers(201, scimUserBody{}))
	s.handle("GET "+scimBase+"Users/{id}", scimClient, s.handleSCIMUserGet, answers(200, scimUserBody{}))
	s.handle("PUT "+scimBase+"Users/{id}", scimClient, s.handleSCIMUserReplace, body[scimUserInput](), answers(200, scimUserBody{}))
	s.handle("PATCH "+scimBase+"Users/{id}", scimClient, s.handleSCIMUserPatch, body[scimPatchInput](), answers(200, scimUserBody{}))
	s.handle("DELETE "+scimBase+"Users/{id}", scimClient, s.handleSCIMUserDelete, noContent())
	s.handle("GET "+scimBase+"Groups", scimClient, s.handleSCIMGroupList, answers(200, scimListBody[scimGroupBody]{}),
		query("filter", "startIndex", "count", "excludedAttributes"))
	s.handle("POST "+scimBase+"Groups", scimClient, s.handleSCIMGroupCreate, body[scimGroupInput](), answers(201, scimGroupBody{}))
	s.handle("GET "+scimBase+"Groups/{id}", scimClient, s.handleSCIMGroupGet, answers(200, scimGroupBody{}), query("excludedAttributes"))
	s.handle("PUT "+scimBase+"Groups/{id}", scimClient, s.handleSCIMGroupReplace, body[scimGroupInput](), answers(200, scimGroupBody{}))
	s.handle("PATCH "+scimBase+"Groups/{id}", scimClient, s.handleSCIMGroupPatch, body[scimPatchInput](), answers(200, scimGroupBody{}))
	s.handle("DELETE "+scimBase+"Groups/{id}", scimClient, s.handleSCIMGroupDelete, noContent())

	s.section("projects", "Projects (PostHog's teams).")
	s.handle("GET /api/projects", signedIn, s.handleProjectList, list[projectBody]())
	s.handle("GET /api/organizations/{org}/projects", orgMember, s.handleOrgProjectList, list[projectBody]())
	s.handle("POST /api/organizations/{org}/projects", orgAdmin, s.handleOrgProjectCreate, body[nameInput](), answers(201, projectBody{}))
	s.handle("POST /api/projects", currentAdmin, s.handleOrgProjectCreate, body[nameInput](), answers(201, projectBody{})) // admin+ of the current organization
	s.handle("GET /api/projects/{project}", projectMember, s.handleProjectGet, answers(200, projectBody{}))
	s.handle("PATCH /api/projects/{project}", projectAdmin, s.handleProjectUpdate, body[nameInput](), answers(200, projectBody{}))
	s.handle("DELETE /api/projects/{project}", projectDelete, s.handleProjectDelete, noContent()) // organization admins only: a project admin by rule may not destroy it

	// Role-based access, API v1 (PostHog 2023). Reads for members, writes
	// for admins and only on a plan with the feature.
	s.section("roles", "Roles, their members and the organization's defaults (role-based access, API v1).")
	s.handle("GET /api/organizations/{org}/roles", orgMember, s.handleRoleList, list[roleBody]())
	s.handle("POST /api/organizations/{org}/roles", orgAdmin.licensed(), s.handleRoleCreate, body[roleInput](), answers(201, roleBody{}))
	s.handle("GET /api/organizations/{org}/roles/{role}", orgMember, s.handleRoleGet, answers(200, roleBody{}))
	s.handle("PUT /api/organizations/{org}/roles/{role}", orgAdmin.licensed(), s.handleRoleUpdate, body[roleInput](), answers(200, roleBody{}))
	s.handle("PATCH /api/organizations/{org}/roles/{role}", orgAdmin.licensed(), s.handleRoleUpdate, body[roleInput](), answers(200, roleBody{}))
	s.handle("DELETE /api/organizations/{org}/roles/{role}", orgAdmin.licensed(), s.handleRoleDelete, noContent())
	// Previews answer who would gain and lose what, writing nothing, to whoever may make the write.
	s.handle("POST /api/organizations/{org}/roles/{role}/preview", orgAdmin.licensed().asks(), s.handleRolePreview,
		body[previewRoleInput](), answers(200, previewBody{}))
	s.handle("GET /api/organizations/{org}/roles/{role}/role_memberships", orgMember, s.handleRoleMemberList, list[roleMemberBody]())
	s.handle("POST /api/organizations/{org}/roles/{role}/role_memberships", orgAdmin.licensed(), s.handleRoleMemberCreate,
		body[roleMemberInput](), answers(201, roleMemberBody{}))
	s.handle("GET /api/organizations/{org}/roles/{role}/role_memberships/{id}", orgMember, s.handleRoleMemberGet, answers(200, roleMemberBody{}))
	s.handle("DELETE /api/organizations/{org}/roles/{role}/role_memberships/{id}", orgAdmin.licensed(), s.handleRoleMemberDelete, noContent())
	s.handle("GET /api/organizations/{org}/resource_access", orgMember, s.handleResourceAccessList, list[resourceAccessBody]())
	s.handle("POST /api/organizations/{org}/resource_access", orgAdmin.licensed(), s.handleResourceAccessCreate,
		body[resourceAccessInput](), answers(201, resourceAccessBody{}))
	s.handle("GET /api/organizations/{org}/resource_access/{id}", orgMember, s.handleResourceAccessGet, answers(200, resourceAccessBody{}))
	s.handle("PUT /api/organizations/{org}/resource_access/{id}", orgAdmin.licensed(), s.handleResourceAccessUpdate,
		body[resourceAccessInput](), answers(200, resourceAccessBody{}))
	s.handle("PATCH /api/organizations/{org}/resource_access/{id}", orgAdmin.licensed(), s.handleResourceAccessUpdate,
		body[resourceAccessInput](), answers(200, resourceAccessBody{}))
	s.handle("DELETE /api/organizations/{org}/resource_access/{id}", orgAdmin.licensed(), s.handleResourceAccessDelete, noContent())
	s.handle("POST /api/organizations/{org}/resource_access/preview", orgAdmin.licensed().asks(), s.handleResourceAccessPreview,
		body[defaultPreviewInput](), answers(200, previewBody{}))
	s.handle("GET /api/organizations/{org}/activity_log", orgAdmin, s.handleActivityList, list[activityBody](), query("item_id", "user"))

	// Resources: the seven kinds share one path; only their fields differ.
	for _, k := range access.Kinds {
		base := "/api/projects/{project}/" + k.String()
		obj := base + "/{id}"
		s.section(k.String(), "The project's "+k.Noun()+"s, and who may view, edit and manage each.")
		s.handle("GET "+base, projectMember, s.handleResourceList(k), kindList(k))
		s.handle("POST "+base, kindLevel(k, access.Editor), s.handleResourceCreate(k), kindBody(k), kindAnswer(k, 201))
		s.handle("GET "+obj, objectLevel(k, access.Viewer).withRow(), s.handleResourceGet, kindAnswer(k, 200))
		s.handle("PATCH "+obj, objectLevel(k, access.Editor), s.handleResourceUpdate, kindUpdate(k), kindAnswer(k, 200))
		s.handle("PUT "+obj, objectLevel(k, access.Editor), s.handleResourceUpdate, kindUpdate(k), kindAnswer(k, 200))
		if k == access.FeatureFlags {
			// PostHog only soft-deletes flags (PATCH {"deleted": true}).
			s.handle("DELETE "+obj, objectLevel(k, access.Editor), s.handleMethodNotAllowed, refuses(http.StatusMethodNotAllowed))
		} else {
			s.handle("DELETE "+obj, objectLevel(k, access.Editor), s.handleResourceDelete, noContent())
		}
		s.handle("GET "+obj+"/role_access", objectLevel(k, access.Viewer), s.handleRoleAccessList, roleAccessList(k))
		s.handle("POST "+obj+"/role_access", objectLevel(k, access.Manager).licensed(), s.handleRoleAccessCreate,
			body[roleAccessInput](), roleAccessAnswer(k, 201))
		s.handle("GET "+obj+"/role_access/{grant}", objectLevel(k, access.Viewer), s.handleRoleAccessGet, roleAccessAnswer(k, 200))
		s.handle("DELETE "+obj+"/role_access/{grant}", objectLevel(k, access.Manager).licensed(), s.handleRoleAccessDelete, noContent())
		s.handle("GET "+obj+"/access_controls", objectLevel(k, access.Viewer), s.handleObjectAccessControlsGet, answers(200, accessControlsBody{}))
		s.handle("PUT "+obj+"/access_controls", objectLevel(k, access.Manager).licensed(), s.handleObjectAccessControlsPut,
			body[accessControlInput](), answers(200, accessControlBody{}), noContent()) // 204: access_level null removes the rule
		s.handle("POST "+obj+"/access_controls/preview", objectLevel(k, access.Manager).licensed().asks(), s.handleObjectAccessControlsPreview,
			body[accessControlInput](), answers(200, previewBody{}))
		s.handle("GET "+obj+"/users_with_access", objectLevel(k, access.Viewer), s.handleUsersWithAccess, answers(200, usersWithAccessBody{}))
		// Whoever can view an object may ask for more on it; who may decide is the handler's
		// question (access.Snapshot.MayRequest), since it depends on the level asked.
		s.handle("POST "+obj+"/access_requests", objectLevel(k, access.Viewer).licensed(), s.handleAccessRequestCreate,
			body[accessRequestInput](), answers(201, accessRequestBody{}))
	}

	// Role-based access, API v2: levels, member rules, project access, why.
	s.section("access", "Role-based access, API v2: kind and project access controls, the activity log, and why a member may or may not.")
	s.handle("GET /api/projects/{project}/resource_access_controls", projectMember, s.handleKindAccessControlsGet, answers(200, accessControlsBody{}))
	s.handle("PUT /api/projects/{project}/resource_access_controls", projectAdmin.licensed(), s.handleKindAccessControlsPut,
		body[accessControlInput](), answers(200, accessControlBody{}), noContent())
	s.handle("POST /api/projects/{project}/resource_access_controls/preview", projectAdmin.licensed().asks(), s.handleKindAccessControlsPreview,
		body[accessControlInput](), answers(200, previewBody{}))
	s.handle("GET /api/projects/{project}/access_controls", projectMember, s.handleProjectAccessControlsGet, answers(200, accessControlsBody{}))
	s.handle("PUT /api/projects/{project}/access_controls", projectAdmin.licensed(), s.handleProjectAccessControlsPut,
		body[accessControlInput](), answers(200, accessControlBody{}), noContent())
	s.handle("POST /api/projects/{project}/access_controls/preview", projectAdmin.licensed().asks(), s.handleProjectAccessControlsPreview,
		body[accessControlInput](), answers(200, previewBody{}))
	s.handle("GET /api/projects/{project}/activity_log", projectMember, s.handleActivityList, list[activityBody](), query("item_id", "user"))
	s.handle("POST /api/projects/{project}/access/check", projectMember.asks(), s.handleAccessCheck, body[checkRequest](), answers(200, checkAnswer{}))

	// Access requests. Each handler asks access which member may read, decide or cancel the
	// request it names (Snapshot.MaySeeRequest, MayDecide, MayCancel): that depends on the
	// request's object, which the URL does not name. Decisions are rule changes: 402 on the
	// free plan.
	s.section("access_requests", "Asking for a higher level on an object or a kind for a while, and deciding.")
	s.handle("POST /api/projects/{project}/access_requests", projectMember.licensed(), s.handleKindAccessRequestCreate,
		body[kindAccessRequestInput](), answers(201, accessRequestBody{}))
	s.handle("GET /api/projects/{project}/access_requests", projectMember, s.handleAccessRequestList, list[accessRequestBody](), query("status", "mine"))
	s.handle("GET /api/projects/{project}/access_requests/{id}", projectMember, s.handleAccessRequestGet, answers(200, accessRequestBody{}))
	s.handle("POST /api/projects/{project}/access_requests/{id}/approve", projectMember.licensed(), s.handleAccessRequestApprove,
		body[approveInput](), answers(200, accessRequestBody{}))
	s.handle("POST /api/projects/{project}/access_requests/{id}/deny", projectMember.licensed(), s.handleAccessRequestDeny,
		body[denyInput](), answers(200, accessRequestBody{}))
	s.handle("POST /api/projects/{project}/access_requests/{id}/cancel", projectMember.licensed(), s.handleAccessRequestCancel,
		answers(200, accessRequestBody{}))
}
