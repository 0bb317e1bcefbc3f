package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse"
)

// ParsePublicURL checks the URL browsers and API clients reach the server at
// ("https://gatehouse.example.com"): absolute, http or https, with a host and
// nothing after it but an optional "/" (the server answers at the root of its
// host). It returns the URL reduced to scheme and host, the host lowercased.
func ParsePublicURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("public URL %q: %v", s, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("public URL %q: want an absolute http:// or https:// URL", s)
	case u.Opaque != "" || u.Hostname() == "":
		return nil, fmt.Errorf("public URL %q: no host", s)
	case u.User != nil:
		return nil, fmt.Errorf("public URL %q: must not carry a user name or password", s)
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.ForceQuery, u.Fragment != "":
		return nil, fmt.Errorf("public URL %q: the server answers at the root of its host; give no path, query or fragment", s)
	case strings.HasSuffix(u.Host, ":"):
		return nil, fmt.Errorf("public URL %q: empty port", s)
	}
	return &url.URL{Scheme: u.Scheme, Host: strings.ToLower(u.Host)}, nil
}

// edgeKey marks a request the server has received from the network, holding
// what it learnt there (see edge).
type edgeKey struct{}

type edgeInfo struct {
	client string   // clientAddress, for the login limiter
	public *url.URL // Config.PublicURL, for links (nil: none)
}

// edge is the first thing ServeHTTP does with a request from the network:
// with a public URL configured, it refuses a request for any other host
// (nil: answered); otherwise it returns r carrying its client address.
//
// Pinning the host defeats DNS rebinding: a page on evil.example whose name
// is made to resolve to this server reaches it with "Host: evil.example"
// and, without the pin, could sign up as the first user (the owner) or read
// /metrics, whose answers the browser hands to the page as same-origin.
// /_health and /_ready answer any host, for load-balancer probes that address
// a replica by its IP (they say only "ok"); so does /metrics when a metrics
// token guards it, for scrapers that do the same and hold the token a page
// cannot know. The check is of the Host header itself: a proxy in front must
// pass it through (X-Forwarded-Host is not consulted, since any client can
// set it).
//
// Requests the UI makes to the API in-process carry the outer request's
// context, so they keep the browser's client address and are not checked twice.
func (s *Server) edge(w http.ResponseWriter, r *http.Request) *http.Request {
	if _, ok := r.Context().Value(edgeKey{}).(*edgeInfo); ok {
		return r
	}
	if s.publicURL != nil && !s.hostPinExempt(r.URL.Path) && !s.isPublicHost(r.Host) {
		s.log.InfoContext(r.Context(), "request refused: not for this server's host", "host", truncateText(r.Host, 100), "path", truncateText(r.URL.Path, 100))
		if isAPIPath(r.URL.Path) {
			s.writeError(w, r, gatehouse.Errorf(gatehouse.EMisdirected, "This server does not answer for this host."))
		} else {
			http.Error(w, "Misdirected request: this server does not answer for this host.", http.StatusMisdirectedRequest)
		}
		return nil
	}
	info := &edgeInfo{client: clientAddress(r, s.trustedProxies), public: s.publicURL}
	return r.WithContext(context.WithValue(r.Context(), edgeKey{}, info))
}

func (s *Server) hostPinExempt(path string) bool {
	p := strings.TrimRight(path, "/")
	return p == "/_health" || p == "/_ready" || p == "/metrics" && s.metricsToken != nil
}

// isPublicHost reports whether host (a Host header) names the public URL's
// host: the same name, any case, with or without the root's trailing dot,
// and the same port, the scheme's default port being optional.
func (s *Server) isPublicHost(host string) bool {
	got := url.URL{Host: host}
	name := strings.TrimSuffix(strings.ToLower(got.Hostname()), ".")
	if name == "" || name != strings.TrimSuffix(s.publicURL.Hostname(), ".") {
		return false
	}
	def := "80"
	if s.publicURL.Scheme == "https" {
		def = "443"
	}
	want, port := s.publicURL.Port(), got.Port()
	if want == "" {
		want = def
	}
	if port == "" {
		port = def
	}
	return port == want && !strings.HasSuffix(host, ":")
}

// requestClient is r's client address as edge resolved it.
func requestClient(r *http.Request) string {
	if info, ok := r.Context().Value(edgeKey{}).(*edgeInfo); ok {
		return info.client
	}
	return clientAddress(r, nil)
}

// AbsoluteURL returns path (absolute, starting with "/", with any query) as
// a full URL for links the server hands out (list pages' next and previous,
// invite links). With a public URL configured it is on the public URL, never
// on the Host the request named; without one, on the request's own host,
// https when the request came over TLS or says X-Forwarded-Proto: https.
func (s *Server) AbsoluteURL(r *http.Request, path string) string {
	if s.publicURL != nil {
		return s.publicURL.Scheme + "://" + s.publicURL.Host + path
	}
	scheme, host := linkBase(r)
	return scheme + "://" + host + path
}

// linkBase is the scheme and host of the links built for r: the public URL's
// when one is configured (AbsoluteURL).
func linkBase(r *http.Request) (scheme, host string) {
	if info, ok := r.Context().Value(edgeKey{}).(*edgeInfo); ok && info.public != nil {
		return info.public.Scheme, info.public.Host
	}
	scheme = "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme, r.Host
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
