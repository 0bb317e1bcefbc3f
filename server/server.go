// Package server is Gatehouse's HTTP layer: every route is registered in
// routes.go with its authorization, handlers decode, call the store and ask
// the access snapshot, and errors leave through one helper in PostHog's shape.
package server

import (
	"crypto/sha256"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/license"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"
)

// Config is everything the server depends on; nothing is global.
type Config struct {
	Store  gatehouse.Store
	Logger *slog.Logger
	Now    func() time.Time
	// Plan is the plan of a licence that never expires: shorthand for
	// License{Plan: Plan}. License, when set, takes its place.
	Plan license.Plan
	// License is the verified licence the server runs under. It grants its
	// plan until its ValidUntil by Now, then the free plan, while the server
	// runs (docs/access-model.md: "The licence is live").
	License license.License
	// ReloadLicense, when set, is asked for the licence again every
	// licenceReloadInterval by Now, so that a renewed licence takes effect
	// without a restart. An error keeps the licence in force, and is logged
	// once.
	ReloadLicense func(now time.Time) (license.License, error)
	// OpenSignup lets anyone sign up; otherwise only the first user can.
	OpenSignup bool
	// Passwords hashes and checks passwords; the zero value is production
	// strength (argon2id, 64 MiB).
	Passwords Passwords
	// SecureCookies marks the session cookie Secure (set behind HTTPS).
	SecureCookies bool
	// Metrics is the registry /metrics serves; nil means a new one.
	Metrics *prometheus.Registry
	// MetricsToken, when set, is the bearer token /metrics requires: route
	// patterns, statuses and latencies are then for the scraper alone.
	MetricsToken string
	// Pages, when set, makes the web pages served beside the API (package
	// ui, given the API to call in-process): every path outside the API is
	// theirs. Pages enter through ServeHTTP like API requests, so each is
	// one request id, one log line and one count under its own route.
	Pages func(api *Server) Pages
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// (ParseTrustedProxies); a request from any other peer is from that peer.
	TrustedProxies []netip.Prefix
	// PublicURL, when set (ParsePublicURL), is where clients reach the
	// server: requests for any other host are refused (see edge), and the
	// links the server builds are on it.
	PublicURL *url.URL
	// OIDC, when set, is the OpenID Connect provider people may sign in
	// with (oidc.go); nil: passwords alone.
	OIDC *OIDCConfig
}

// Pages routes web pages as http.ServeMux does. Handler names the pattern
// r would match ("" for none) without serving it, so that the request is
// logged and counted under it and an unknown page is a JSON 404 like any
// other unknown path.
type Pages interface {
	http.Handler
	Handler(r *http.Request) (h http.Handler, pattern string)
}

// Server is the http.Handler of the whole API, and of the pages served
// beside it (Config.Pages).
type Server struct {
	store      gatehouse.Store
	log        *slog.Logger
	now        func() time.Time
	licence    licensing
	openSignup bool
	passwords  *Passwords
	secure     bool
	mux        *http.ServeMux
	routes     []route
	// tags are the route table's sections, in order (section).
	tags []map[string]any
	// schemaJSON is the OpenAPI document, built once from routes (schema.go).
	schemaOnce sync.Once
	schemaJSON []byte
	pages      Pages // nil: the API alone
	cop        *http.CrossOriginProtection
	limiter    *loginLimiter
	metrics    *metrics
	// metricsToken is the SHA-256 of Config.MetricsToken; nil when /metrics is open.
	metricsToken []byte

	trustedProxies []netip.Prefix
	publicURL      *url.URL    // scheme and host only
	oidc           *oidcSignIn // nil: no single sign-on

	mu         sync.Mutex
	snapshots  map[string]cachedSnapshot
	compacting map[string]bool // organizations whose snapshot a goroutine is compacting (mu)
	rebuilding singleflight.Group
}

// New returns the API's handler.
func New(cfg Config) *Server {
	s := &Server{
		store:      cfg.Store,
		log:        cfg.Logger,
		now:        cfg.Now,
		openSignup: cfg.OpenSignup,
		passwords:  &cfg.Passwords,
		secure:     cfg.SecureCookies,
		mux:        http.NewServeMux(),
		cop:        http.NewCrossOriginProtection(),
		limiter:    newLoginLimiter(cfg.Store),
		snapshots:  make(map[string]cachedSnapshot),
		compacting: make(map[string]bool),
	}
	s.trustedProxies = cfg.TrustedProxies
	if cfg.PublicURL != nil {
		s.publicURL = &url.URL{Scheme: cfg.PublicURL.Scheme, Host: strings.ToLower(cfg.PublicURL.Host)}
	}
	if cfg.MetricsToken != "" {
		sum := sha256.Sum256([]byte(cfg.MetricsToken))
		s.metricsToken = sum[:]
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	cfg.Now = s.now
	s.licence.init(cfg)
	s.metrics = newMetrics(cfg.Metrics, cfg.Store)
	s.passwords.init()
	s.registerOIDC(cfg.OIDC)
	s.registerRoutes()
	if cfg.Pages != nil {
		s.pages = cfg.Pages(s)
	}
	return s
}
