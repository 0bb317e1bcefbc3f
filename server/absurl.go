package server

import "net/http"

// AbsoluteURL is path on the host the browser used for r (https when the
// connection, or the proxy in front, says so): links a page hands out to
// be opened elsewhere, such as an invite's.
func (s *Server) AbsoluteURL(r *http.Request, path string) string {
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + r.Host + path
}
