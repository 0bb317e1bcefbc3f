// Package ui is Gatehouse's web UI: server-rendered pages over the JSON API.
// It does not import the API's package: it declares what it needs of it (API)
// and reads and writes only through that, so every rule lives in the API.
package ui

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/access"
)

// Each page handler reads and writes through apiClient (api.go), a client
// of the API in the same process, and renders the answers; it decides
// nothing about access itself. Forms post back to the page, which
// translates them into one API call and redirects (POST/redirect/GET), or
// renders the form again with the API's error beside the field it names.

//go:embed templates/*.html
var uiTemplateFS embed.FS

//go:embed static
var uiStaticFS embed.FS

const flashCookie = "gatehouse_flash"

// maxFormBytes bounds a form post, as the API bounds its bodies.
const maxFormBytes = 1 << 20

// Config is what the pages depend on besides the API.
type Config struct {
	Logger *slog.Logger
	// SecureCookies marks the UI's own cookies Secure (set behind HTTPS).
	SecureCookies bool
	// Now is the clock a rule's expiry ("in 1 hour") is counted from; nil
	// means time.Now. It should be the API's.
	Now func() time.Time
}

// Server serves the pages. It routes as http.ServeMux does (Handler names
// a request's pattern), so the API's server can serve the pages beside its
// routes and log and count each under its own pattern.
type Server struct {
	api    API
	log    *slog.Logger
	secure bool
	cop    *http.CrossOriginProtection
	mux    *http.ServeMux
	kinds  kindForms
	now    func() time.Time
}

// New returns the pages, reading and writing through api. It reads the
// kinds' fields from the API's schema once, and panics if the API has
// none to give: the two are built together.
func New(api API, cfg Config) *Server {
	s := &Server{api: api, log: cfg.Logger, secure: cfg.SecureCookies, cop: http.NewCrossOriginProtection(), mux: http.NewServeMux()}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now = cfg.Now; s.now == nil {
		s.now = time.Now
	}
	kinds, err := loadKindForms(context.Background(), api)
	if err != nil {
		panic(fmt.Sprintf("ui: %v", err))
	}
	s.kinds = kinds
	s.registerRoutes()
	return s
}

// ServeHTTP serves a page.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Handler returns the page handler for r and its pattern, "" when no page
// matches, without serving it (http.ServeMux.Handler).
func (s *Server) Handler(r *http.Request) (http.Handler, string) { return s.mux.Handler(r) }

// uiCall is one browser request to a page.
type uiCall struct {
	api   apiClient
	me    *meBody // nil on a public page when nobody is signed in
	flash string
	// hasFlash: the request carried a flash cookie, to clear when a page renders.
	hasFlash bool
}

type pageFunc func(w http.ResponseWriter, r *http.Request, ui *uiCall) error

// page registers a page for signed-in users: anyone else is sent to log in
// and brought back. Pages have no authorization of their own (the API
// they call has it).
func (s *Server) page(pattern string, h pageFunc) { s.mux.Handle(pattern, s.uiHandler(true, h)) }

// publicPage registers a page anyone may open (login, invites, assets).
func (s *Server) publicPage(pattern string, h pageFunc) { s.mux.Handle(pattern, s.uiHandler(false, h)) }

func (s *Server) uiHandler(signedIn bool, h pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setPageHeaders(w.Header())
		ui := &uiCall{}
		if isWrite(r) {
			// Cookie-authenticated form posts: the same cross-origin check
			// the API applies (Sec-Fetch-Site / Origin), which it applies
			// again to the calls the post makes (API.Do).
			if err := s.cop.Check(r); err != nil {
				s.renderError(w, r, ui, http.StatusForbidden, "Request refused", "This form was sent from another site, so it was not accepted. Go back, reload the page and try again.")
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				s.renderError(w, r, ui, http.StatusBadRequest, "Bad request", "The form could not be read.")
				return
			}
		}
		// The session is looked up once, here; every API call of the page
		// is made for the caller found.
		ctx, found, err := s.api.Authenticate(r)
		if err != nil {
			s.uiFail(w, r, ui, err)
			return
		}
		ui.api = apiClient{api: s.api, ctx: ctx, r: r}
		if found {
			var me meBody
			if err := ui.api.get("/api/users/@me", &me); err != nil {
				s.uiFail(w, r, ui, err)
				return
			}
			ui.me = &me
		} else if signedIn {
			next := r.URL.RequestURI()
			if isWrite(r) {
				next = r.URL.Path // a form can't be replayed; come back to its page
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(next), http.StatusSeeOther)
			return
		}
		if c, err := r.Cookie(flashCookie); err == nil && !isWrite(r) {
			// Shown, and so cleared, by the page that renders (render);
			// a redirect on the way leaves it for the next page.
			ui.hasFlash = true
			if b, err := base64.RawURLEncoding.DecodeString(c.Value); err == nil && utf8.Valid(b) {
				ui.flash = string(b)
			}
		}
		if err := h(w, r, ui); err != nil {
			s.uiFail(w, r, ui, err)
		}
	})
}

func isWrite(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// setPageHeaders keeps pages out of frames and runs only the UI's own
// scripts and styles.
func setPageHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
}

// redirect ends a form post (POST/redirect/GET), with a message for the next page.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, to, flash string) {
	if flash != "" {
		http.SetCookie(w, &http.Cookie{
			Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString([]byte(flash)), Path: "/",
			MaxAge: 60, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secure,
		})
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// uiFail renders err as an HTML page: the API's own status and detail, a
// login redirect when the session ended, or a generic 500.
func (s *Server) uiFail(w http.ResponseWriter, r *http.Request, ui *uiCall, err error) {
	e, ok := asAPIError(err)
	if !ok {
		s.log.ErrorContext(r.Context(), "ui: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		s.renderError(w, r, ui, http.StatusInternalServerError, "Something went wrong", "A server error occurred. Try again in a moment.")
		return
	}
	switch e.Status {
	case http.StatusUnauthorized:
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.Path), http.StatusSeeOther)
	case http.StatusNotFound:
		s.renderError(w, r, ui, http.StatusNotFound, "Not found", "This page does not exist, or you don't have access to it.")
	case http.StatusForbidden:
		s.renderError(w, r, ui, e.Status, "Not allowed", e.Detail)
	case http.StatusPaymentRequired:
		s.renderError(w, r, ui, e.Status, "Enterprise feature", e.Detail)
	default:
		s.renderError(w, r, ui, e.Status, http.StatusText(e.Status), e.Detail)
	}
}

type errorPage struct {
	Status int
	Detail string
}

func (s *Server) renderError(w http.ResponseWriter, r *http.Request, ui *uiCall, status int, title, detail string) {
	s.render(w, r, ui, status, "error", pageData{Title: title, Content: errorPage{Status: status, Detail: detail}})
}

// handleNotFoundPage serves the UI's unknown paths with an HTML 404.
func (s *Server) handleNotFoundPage(w http.ResponseWriter, r *http.Request, ui *uiCall) error {
	s.renderError(w, r, ui, http.StatusNotFound, "Not found", "This page does not exist.")
	return nil
}

// pageData is what every template gets.
type pageData struct {
	Title string
	Page  string // names the page, on <main data-page>
	Me    *meBody
	Flash string
	// FlashError marks Flash as a failure (a redirect message starting with "!").
	FlashError bool
	Nav        *navData
	Content    any
}

// navData places a page: its project and organization, and the current tab.
type navData struct {
	ProjectID   int64
	ProjectName string
	OrgID       string
	OrgName     string
	Section     string // "project", "members" or "access"
	Kind        string // the current kind tab on project pages
	Pending     string // access requests waiting for the reader to decide them, "" for none
}

// kindTab is one of the seven tabs of a project.
type kindTab struct {
	Path  string
	Label string
}

var kindTabs = func() []kindTab {
	tabs := make([]kindTab, 0, access.NumKinds)
	for _, k := range access.Kinds {
		tabs = append(tabs, kindTab{Path: k.String(), Label: kindLabel(k)})
	}
	return tabs
}()

// kindLabel is a kind as a heading, e.g. "Feature flags".
func kindLabel(k access.Kind) string { return capitalize(k.Noun()) + "s" }

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// fieldLabel turns a JSON field name into a label: "feature_flag_key" → "Feature flag key".
func fieldLabel(name string) string { return capitalize(strings.ReplaceAll(name, "_", " ")) }

var (
	uiOnce      sync.Once
	uiPages     map[string]*template.Template
	uiAssetHash map[string]string
	uiStatic    fs.FS
)

// membershipNames are PostHog's membership levels as words.
var membershipNames = map[int]string{access.MemberLevel: "Member", access.AdminLevel: "Admin", access.OwnerLevel: "Owner"}

var uiFuncs = template.FuncMap{
	"asset": func(name string) string { return "/static/" + name + "?v=" + uiAssetHash[name] },
	"kinds": func() []kindTab { return kindTabs },
	"membership": func(level int) string {
		if n, ok := membershipNames[level]; ok {
			return n
		}
		return fmt.Sprint(level)
	},
	"levelName":    levelLabel,
	"projectLevel": projectLevelLabel,
	"date":         formatDate,
	"choice": func(id, name, label string, options []option) selectField {
		return selectField{ID: id, Name: name, Label: label, Options: options}
	},
	"removal": func(action, label string, fields ...string) removalForm {
		return newRemoval("", action, label, fields)
	},
	// panelRemoval is removal in a panel that htmx swaps in place (e.g.
	// "#permissions"); without scripts the form posts as any other.
	"panelRemoval": func(panel, action, label string) removalForm {
		return newRemoval(panel, action, label, nil)
	},
	"isoDate":       func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"expiry":        expiryLabel,
	"expiryChoices": func() []option { return expiryChoices },
}

// selectField is a labelled <select> (template "select").
type selectField struct {
	ID, Name, Label string
	Options         []option
}

// removalForm is a one-button form that removes a rule (template
// "removal"), with hidden inputs naming it; in a Panel that htmx swaps.
type removalForm struct {
	Action, Label, Panel string
	Fields               []hiddenField
}

type hiddenField struct{ Name, Value string }

// newRemoval takes the hidden fields as name, value pairs.
func newRemoval(panel, action, label string, fields []string) removalForm {
	f := removalForm{Action: action, Label: label, Panel: panel}
	for i := 0; i+1 < len(fields); i += 2 {
		f.Fields = append(f.Fields, hiddenField{Name: fields[i], Value: fields[i+1]})
	}
	return f
}

func formatDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2 Jan 2006 15:04 UTC")
}

// levelLabel names an access level for people.
func levelLabel(l string) string {
	switch l {
	case "none":
		return "No access"
	case "viewer":
		return "View"
	case "editor":
		return "View & edit"
	case "manager":
		return "Manage"
	}
	return l
}

func loadUI() {
	uiOnce.Do(func() {
		var err error
		uiStatic, err = fs.Sub(uiStaticFS, "static")
		if err != nil {
			panic(err)
		}
		uiAssetHash = map[string]string{}
		_ = fs.WalkDir(uiStatic, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := fs.ReadFile(uiStatic, p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			uiAssetHash[p] = hex.EncodeToString(sum[:6])
			return nil
		})
		base := template.Must(template.New("layout.html").Funcs(uiFuncs).ParseFS(uiTemplateFS, "templates/layout.html", "templates/parts.html"))
		names, err := fs.Glob(uiTemplateFS, "templates/*.html")
		if err != nil {
			panic(err)
		}
		uiPages = map[string]*template.Template{}
		for _, n := range names {
			name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
			if name == "layout" || name == "parts" {
				continue
			}
			uiPages[name] = template.Must(template.Must(base.Clone()).ParseFS(uiTemplateFS, n))
		}
	})
}

// render executes page name into the layout and writes it with status.
func (s *Server) render(w http.ResponseWriter, r *http.Request, ui *uiCall, status int, name string, d pageData) {
	loadUI()
	t, ok := uiPages[name]
	if !ok {
		s.log.ErrorContext(r.Context(), "ui: unknown template", "name", name)
		http.Error(w, "A server error occurred.", http.StatusInternalServerError)
		return
	}
	if d.Page == "" {
		d.Page = name
	}
	if ui != nil {
		d.Me = ui.me
		if d.Nav == nil && ui.me != nil {
			// Pages outside a project or organization link to the current ones.
			d.Nav = &navData{ProjectID: ui.me.teamID()}
			if ui.me.Team != nil {
				d.Nav.ProjectName = ui.me.Team.Name
			}
			if ui.me.Organization != nil {
				d.Nav.OrgID, d.Nav.OrgName = fmt.Sprint(ui.me.Organization.ID), ui.me.Organization.Name
			}
		}
		if d.Flash == "" {
			d.Flash = ui.flash
		}
		if d.Nav != nil && d.Nav.ProjectID != 0 && ui.me != nil {
			d.Nav.Pending = ui.pendingCount(d.Nav.ProjectID)
		}
	}
	d.Flash = strings.TrimPrefix(d.Flash, "@")
	if msg, ok := strings.CutPrefix(d.Flash, "!"); ok {
		d.Flash, d.FlashError = msg, true
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", d); err != nil {
		s.log.ErrorContext(r.Context(), "ui: render", "name", name, "err", err)
		http.Error(w, "A server error occurred.", http.StatusInternalServerError)
		return
	}
	setPageHeaders(w.Header())
	if ui != nil && ui.hasFlash {
		http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secure})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// handleStatic serves GET /static/{file...}: the embedded CSS and scripts.
// Links carry a content hash (asset), so a matching one is cached for good.
// It needs no session, so it does not go through uiHandler.
func (s *Server) handleStatic(w http.ResponseWriter, r *http.Request) {
	loadUI()
	name := r.PathValue("file")
	if _, ok := uiAssetHash[name]; !ok {
		http.NotFound(w, r)
		return
	}
	if v := r.URL.Query().Get("v"); v != "" && v == uiAssetHash[name] {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeFileFS(w, r, uiStatic, name)
}

// safeNext keeps a post-login redirect on this site.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.HasPrefix(next, "/api/") {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return next
}

// prettyJSON indents raw JSON for a textarea.
func prettyJSON(raw json.RawMessage) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}
