package server

// hasOIDC reports whether the operator configured sign-in through an OpenID Connect
// provider: domains show it as has_oidc, and SSO enforcement needs it. The OIDC sign-in
// replaces this with its configuration's presence.
func (s *Server) hasOIDC() bool { return false }
