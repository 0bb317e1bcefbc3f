package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/license"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/sqlstore"
	"github.com/gatehouse/gatehouse/ui"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

const defaultDatabaseURL = "sqlite:gatehouse.db"

// usageError is a mistake on the command line: exit status 2, like flag's.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

const topUsage = `Usage: gatehouse <command> [flags]

Commands:
  serve     run the server (migrates the database first)
  migrate   apply database migrations and exit
  license   keygen | issue: manage enterprise licence keys
  version   print the version

Run 'gatehouse <command> --help' for a command's flags.
`

// run is the whole program; main only wires it to the process.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage)
		return usageError{"no command given"}
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args[1:], getenv, stdout, stderr)
	case "license":
		return runLicense(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "gatehouse", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, topUsage)
		return nil
	}
	fmt.Fprint(stderr, topUsage)
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}

// oidcConfig checks the single sign-on settings: none at all, or an issuer
// URL, a client id and a secret together.
func oidcConfig(issuer, clientID, secret, name, groups, scopes string) (*server.OIDCConfig, error) {
	issuer, clientID = strings.TrimSpace(issuer), strings.TrimSpace(clientID)
	if issuer == "" && clientID == "" && secret == "" {
		return nil, nil
	}
	if issuer == "" || clientID == "" || secret == "" {
		return nil, usageError{"single sign-on needs --oidc-issuer (GATEHOUSE_OIDC_ISSUER), --oidc-client-id (GATEHOUSE_OIDC_CLIENT_ID) and GATEHOUSE_OIDC_CLIENT_SECRET together"}
	}
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, usageError{fmt.Sprintf("--oidc-issuer (GATEHOUSE_OIDC_ISSUER) %q: want the provider's absolute https:// issuer URL", issuer)}
	}
	if strings.TrimSpace(groups) == "" {
		groups = "groups"
	}
	return &server.OIDCConfig{Issuer: issuer, ClientID: clientID, ClientSecret: secret, Name: strings.TrimSpace(name),
		GroupsClaim: strings.TrimSpace(groups), Scopes: strings.Fields(scopes)}, nil
}

// parse parses flags; --help prints usage and ends the command successfully.
func parse(fs *flag.FlagSet, args []string) (help bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, nil
		}
		return false, usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return false, usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return false, nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

func newFlagSet(name, summary string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: gatehouse %s [flags]\n\n%s\n\nFlags:\n", name, summary)
		fs.PrintDefaults()
	}
	return fs
}

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", `Runs the Gatehouse server. Every flag has an environment twin, named beside it.
Environment without a flag:
  GATEHOUSE_LICENSE_KEY          the licence key (free plan without one)
  GATEHOUSE_LICENSE_KEY_FILE     or a file holding it, re-read every 10 s: a renewed
                                 licence written there takes effect without a restart
  GATEHOUSE_LICENSE_PUBLIC_KEY   the key that verifies licences (base64, or a file)
  GATEHOUSE_METRICS_TOKEN        when set, GET /metrics requires it as a bearer token
  GATEHOUSE_OIDC_CLIENT_SECRET   the OpenID Connect client's secret (with --oidc-issuer)
A licence that expires while the server runs takes effect at once, on every replica.`, stderr)
	addr := fs.String("addr", envOr(getenv, "GATEHOUSE_ADDR", "127.0.0.1:8000"), "address to listen on (env GATEHOUSE_ADDR)")
	dbURL := fs.String("database-url", envOr(getenv, "DATABASE_URL", defaultDatabaseURL), "sqlite:PATH or postgres://… (env DATABASE_URL)")
	openSignup := fs.Bool("open-signup", getenv("GATEHOUSE_OPEN_SIGNUP") == "true", "let anyone sign up, not only the first user (env GATEHOUSE_OPEN_SIGNUP=true)")
	secure := fs.Bool("secure-cookies", getenv("GATEHOUSE_SECURE_COOKIES") == "true", "mark session cookies Secure; set behind HTTPS (env GATEHOUSE_SECURE_COOKIES=true)")
	trustedProxies := fs.String("trusted-proxies", getenv("GATEHOUSE_TRUSTED_PROXIES"), "comma-separated IPs and CIDR prefixes of the proxies in front of the server, whose\nX-Forwarded-For names the client for the login limiter; from anyone else the header is\nignored (env GATEHOUSE_TRUSTED_PROXIES)")
	publicURL := fs.String("public-url", getenv("GATEHOUSE_PUBLIC_URL"), "the URL clients reach the server at, e.g. https://gatehouse.example.com: requests\nfor any other Host are refused (421), except /_health, /_ready and, with a metrics token,\n/metrics; links the server builds use it (env GATEHOUSE_PUBLIC_URL)")
	oidcIssuer := fs.String("oidc-issuer", getenv("GATEHOUSE_OIDC_ISSUER"), "the OpenID Connect provider's issuer URL: people may sign in through it; needs\n--oidc-client-id and GATEHOUSE_OIDC_CLIENT_SECRET (env GATEHOUSE_OIDC_ISSUER)")
	oidcClientID := fs.String("oidc-client-id", getenv("GATEHOUSE_OIDC_CLIENT_ID"), "the OpenID Connect client id (env GATEHOUSE_OIDC_CLIENT_ID)")
	oidcName := fs.String("oidc-name", getenv("GATEHOUSE_OIDC_NAME"), "the provider's name on the login page's button, \"Sign in with NAME\" (env GATEHOUSE_OIDC_NAME)")
	oidcGroups := fs.String("oidc-groups-claim", envOr(getenv, "GATEHOUSE_OIDC_GROUPS_CLAIM", "groups"), "the ID token claim listing the user's groups (env GATEHOUSE_OIDC_GROUPS_CLAIM)")
	oidcScopes := fs.String("oidc-scopes", envOr(getenv, "GATEHOUSE_OIDC_SCOPES", "openid email profile groups"), "the scopes asked of the provider, space-separated; Microsoft Entra ID has no groups\nscope: give \"openid email profile\" (env GATEHOUSE_OIDC_SCOPES)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file, finished at a clean shutdown (for\ndiagnosing performance; go tool pprof reads it)")
	// No flag for the token itself: a flag's value shows in the process list.
	metricsToken := getenv("GATEHOUSE_METRICS_TOKEN")
	oidcSecret := getenv("GATEHOUSE_OIDC_CLIENT_SECRET") // no flag, as for the metrics token
	if help, err := parse(fs, args); help || err != nil {
		return err
	}
	proxies, err := server.ParseTrustedProxies(*trustedProxies)
	if err != nil {
		return usageError{"--trusted-proxies (GATEHOUSE_TRUSTED_PROXIES): " + err.Error()}
	}
	var public *url.URL
	if *publicURL != "" {
		if public, err = server.ParsePublicURL(*publicURL); err != nil {
			return usageError{"--public-url (GATEHOUSE_PUBLIC_URL): " + err.Error()}
		}
	}
	oidcCfg, err := oidcConfig(*oidcIssuer, *oidcClientID, oidcSecret, *oidcName, *oidcGroups, *oidcScopes)
	if err != nil {
		return err
	}
	// The log is written from memory by a goroutine of its own (logWriter): a line per
	// request must not put a system call, or a slow log collector, on every request.
	defer keepHeapFloor(getenv, heapFloor)()
	logs := newLogWriter(stderr)
	defer logs.Close() // last: the lines of the shutdown itself go out too
	logger := slog.New(server.NewLogHandler(logs))

	lic, reloadLicense, err := loadLicence(getenv, logger)
	if err != nil {
		return err
	}

	// Bind before opening the database: opening a SQLite database creates its
	// file and lock file, and a start that fails (port in use, bad address)
	// should leave nothing behind.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("--addr (GATEHOUSE_ADDR): %w", err)
	}
	defer ln.Close() // when the database fails to open; Serve closes it otherwise

	db, err := sqlstore.Open(ctx, *dbURL, time.Now)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	db.SetLogger(logger)

	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer stop()
	}

	pages := func(api *server.Server) server.Pages {
		return ui.New(api, ui.Config{Logger: logger, SecureCookies: *secure})
	}
	handler := server.New(server.Config{Store: db, Logger: logger, Now: time.Now, License: lic, ReloadLicense: reloadLicense, OpenSignup: *openSignup, SecureCookies: *secure, MetricsToken: metricsToken,
		TrustedProxies: proxies, PublicURL: public, Pages: pages, OIDC: oidcCfg})
	srv := &http.Server{
		Handler:           handler,
		ConnContext:       server.ConnContext,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("listening", "addr", "http://"+ln.Addr().String(), "database", redactURL(*dbURL), "version", version)
	fmt.Fprintf(stdout, "Gatehouse listening on http://%s\n", ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(server.GatheringListener(ln)) }()
	watchCtx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	go func() {
		if err := handler.WatchRules(watchCtx); err != nil {
			logger.Warn("watching rule changes stopped", "err", err)
		}
	}()
	go handler.WatchLicence(watchCtx)
	go handler.SweepExpiredRules(watchCtx)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// In-flight requests finish; the deferred Close then closes the database.
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// startCPUProfile profiles the process into path until the returned stop.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// loadLicence reads the licence from GATEHOUSE_LICENSE_KEY, or from the file
// GATEHOUSE_LICENSE_KEY_FILE names, and logs the plan it grants. Any problem
// with the licence itself means the free plan, not an error: only asking for
// both settings, or a file that cannot be read, stops the start.
//
// With a file, the returned reload reads it again (the server asks every few
// seconds), so that a renewed licence written over it takes effect without a
// restart; it verifies the text only when it changed.
func loadLicence(getenv func(string) string, logger *slog.Logger) (license.License, func(time.Time) (license.License, error), error) {
	pubText, key, file := getenv("GATEHOUSE_LICENSE_PUBLIC_KEY"), getenv("GATEHOUSE_LICENSE_KEY"), getenv("GATEHOUSE_LICENSE_KEY_FILE")
	if key != "" && file != "" {
		return license.License{}, nil, usageError{"set GATEHOUSE_LICENSE_KEY or GATEHOUSE_LICENSE_KEY_FILE, not both"}
	}
	if file != "" {
		text, err := os.ReadFile(file)
		if err != nil {
			return license.License{}, nil, fmt.Errorf("GATEHOUSE_LICENSE_KEY_FILE: %w", err)
		}
		key = string(text)
	}
	lic, reason := license.ResolveLicense(pubText, key, time.Now())
	if lic.Plan == license.Free && strings.TrimSpace(key) != "" {
		logger.Warn("licence rejected: running on the free plan", "reason", reason)
	} else {
		logger.Info("licence", "plan", string(lic.Plan), "reason", reason)
	}
	if file == "" {
		return lic, nil, nil
	}
	pub, err := license.ParsePublicKey(pubText)
	if err != nil {
		return lic, nil, nil // already logged: no licence can verify, now or later
	}
	var (
		mu       sync.Mutex
		lastText = key
		last     = lic
	)
	reload := func(now time.Time) (license.License, error) {
		text, err := os.ReadFile(file)
		if err != nil {
			return license.License{}, err
		}
		mu.Lock()
		defer mu.Unlock()
		if string(text) == lastText {
			return last, nil
		}
		l, err := license.Verify(pub, string(text), now)
		if err != nil {
			return license.License{}, fmt.Errorf("%s: %w", file, err)
		}
		lastText, last = string(text), l
		return l, nil
	}
	return lic, reload, nil
}

// redactURL hides a password in a database URL before it is logged.
func redactURL(raw string) string {
	if i := strings.Index(raw, "://"); i >= 0 {
		if at := strings.LastIndex(raw, "@"); at > i {
			creds := raw[i+3 : at]
			if user, _, ok := strings.Cut(creds, ":"); ok {
				return raw[:i+3] + user + ":xxxxx" + raw[at:]
			}
		}
	}
	return raw
}

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", "Applies database migrations and exits.", stderr)
	dbURL := fs.String("database-url", envOr(getenv, "DATABASE_URL", defaultDatabaseURL), "sqlite:PATH or postgres://… (env DATABASE_URL)")
	if help, err := parse(fs, args); help || err != nil {
		return err
	}
	db, err := sqlstore.Open(ctx, *dbURL, time.Now)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Fprintln(stdout, "migrations applied:", redactURL(*dbURL))
	return db.Close()
}

const licenseUsage = `Usage: gatehouse license <keygen|issue> [flags]

  keygen --out DIR                                   write an ed25519 key pair (license.key, license.pub)
  issue --private-key FILE --plan enterprise [--valid-until 2038-01-19]
                                                     print a signed licence key
`

func runLicense(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, licenseUsage)
		return usageError{"license needs a subcommand"}
	}
	switch args[0] {
	case "keygen":
		fs := newFlagSet("license keygen", "Writes an ed25519 key pair: license.key (keep it secret) and license.pub.", stderr)
		out := fs.String("out", "", "directory to write the key pair to (required)")
		if help, err := parse(fs, args[1:]); help || err != nil {
			return err
		}
		if *out == "" {
			return usageError{"license keygen: --out is required"}
		}
		priv, pub, err := license.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(*out, 0o700); err != nil {
			return err
		}
		keyPath := filepath.Join(*out, "license.key")
		if _, err := os.Stat(keyPath); err == nil {
			return fmt.Errorf("%s exists: refusing to overwrite a private key", keyPath)
		}
		if err := os.WriteFile(keyPath, []byte(priv+"\n"), 0o600); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(*out, "license.pub"), []byte(pub+"\n"), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s and %s\n", keyPath, filepath.Join(*out, "license.pub"))
		return nil
	case "issue":
		fs := newFlagSet("license issue", "Prints a licence key signed with the private key.", stderr)
		keyFile := fs.String("private-key", "", "file holding the private key from keygen (required)")
		plan := fs.String("plan", "enterprise", "plan: enterprise or free")
		until := fs.String("valid-until", "", "last valid day, YYYY-MM-DD (default: one year from today)")
		if help, err := parse(fs, args[1:]); help || err != nil {
			return err
		}
		if *keyFile == "" {
			return usageError{"license issue: --private-key is required"}
		}
		text, err := os.ReadFile(*keyFile)
		if err != nil {
			return err
		}
		priv, err := license.ParsePrivateKey(strings.TrimSpace(string(text)))
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		validUntil := now.AddDate(1, 0, 0)
		if *until != "" {
			day, err := time.Parse(time.DateOnly, *until)
			if err != nil {
				return usageError{fmt.Sprintf("license issue: --valid-until %q is not YYYY-MM-DD", *until)}
			}
			// The named day is the last valid one.
			validUntil = day.Add(24*time.Hour - time.Second)
		}
		key, err := license.Issue(priv, license.License{Plan: license.Plan(*plan), IssuedAt: now, ValidUntil: validUntil})
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, key)
		return nil
	case "-h", "--help", "help":
		fmt.Fprint(stdout, licenseUsage)
		return nil
	}
	fmt.Fprint(stderr, licenseUsage)
	return usageError{fmt.Sprintf("unknown license subcommand %q", args[0])}
}
