package server_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// chromiumPaths are where Debian and others put a Chromium or Chrome.
var chromiumPaths = []string{"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome", "/usr/bin/google-chrome-stable"}

// startChromium starts one headless Chromium for the test and returns its
// context. Without a browser the test is skipped, except under CI, where it
// fails: CI installs Debian's chromium.
func startChromium(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("GATEHOUSE_CHROMIUM")
	if path == "" {
		for _, p := range chromiumPaths {
			if _, err := exec.LookPath(p); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("Chromium is missing: install it (apt-get install -y chromium) or set GATEHOUSE_CHROMIUM")
		}
		t.Skip("browser tests skipped: no Chromium found (apt-get install -y chromium, or set GATEHOUSE_CHROMIUM)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // tests may run as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	// Start the browser now, so a broken install fails here with its reason.
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium (%s): %v", path, err)
	}
	return bctx
}

// screenshotDir is where the test saves its screenshots: $GATEHOUSE_SCREENSHOTS,
// or a temporary folder.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("GATEHOUSE_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots: %s", dir)
	return dir
}

// tab is one browser tab with a cookie jar of its own, on one server.
type tab struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string
	name  string
	n     int
	// dialogs receives the message of each confirm() the page opens, which
	// the tab answers with acceptDialogs.
	dialogs       chan string
	acceptDialogs atomic.Bool
}

// newTab opens a tab in a fresh browser context (no cookies) on base.
func newTab(t *testing.T, browser context.Context, base, shots, name string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute) // a hang's bound, not a speed test: a busy machine took over 45 s
	t.Cleanup(func() {
		cancelTimeout()
		cancel()
	})
	b := &tab{t: t, ctx: ctx, base: base, shots: shots, name: name, dialogs: make(chan string, 8)}
	// The page waits for a dialog's answer, and so does the click that
	// opened it: a goroutine of its own answers.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			select {
			case b.dialogs <- ev.Message:
			default:
			}
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: b.acceptDialogs.Load()})
		}
	}()
	return b
}

// dialog waits for the next confirm() and returns its message.
func (b *tab) dialog() string {
	b.t.Helper()
	select {
	case m := <-b.dialogs:
		return m
	case <-time.After(10 * time.Second):
		b.t.Fatalf("no dialog opened (at %s)", b.location())
		return ""
	}
}

func (b *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v (at %s)", what, err, b.location())
	}
}

func (b *tab) location() string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "?"
	}
	return loc
}

// path is the current page's path and query.
func (b *tab) path() string {
	u, err := url.Parse(b.location())
	if err != nil {
		return ""
	}
	return u.RequestURI()
}

// open navigates to path and waits for the page to load.
func (b *tab) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path))
}

// follow clicks sel and waits for the page it leads to (a link or a form
// submission) to load.
func (b *tab) follow(sel string) {
	b.t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel))))
	if err != nil {
		b.t.Fatalf("click %s: %v (at %s)", sel, err, b.location())
	}
}

// typeAndSubmit types text into sel and presses Enter, as a keyboard user
// does, and waits for the next page.
func (b *tab) typeAndSubmit(sel, text string) {
	b.t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.SendKeys(chromedp.CSS(sel), text+"\r")))
	if err != nil {
		b.t.Fatalf("type into %s and press Enter: %v", sel, err)
	}
}

// fill replaces the value of the field sel.
func (b *tab) fill(sel, text string) {
	b.t.Helper()
	b.do("fill "+sel, chromedp.Clear(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), text))
}

// choose selects the option of the select sel whose label contains text.
func (b *tab) choose(sel, text string) {
	b.t.Helper()
	ok := b.eval(fmt.Sprintf(`(() => {
		const s = document.querySelector(%q);
		if (!s) return false;
		const o = [...s.options].find(o => o.textContent.includes(%q));
		if (!o) return false;
		s.value = o.value;
		s.dispatchEvent(new Event("change", {bubbles: true}));
		return true;
	})()`, sel, text))
	if ok != true {
		b.t.Fatalf("choose %q in %s: no such option (at %s)", text, sel, b.path())
	}
}

// click clicks sel without waiting for a page (a checkbox, an htmx button).
func (b *tab) click(sel string) {
	b.t.Helper()
	b.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// eval runs a JavaScript expression and returns its JSON value.
func (b *tab) eval(js string) any {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[any](js))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// text is the visible text of the first sel ("" when there is none).
func (b *tab) text(sel string) string {
	b.t.Helper()
	s, _ := b.eval(fmt.Sprintf(`(document.querySelector(%q) || {}).innerText || ""`, sel)).(string)
	return s
}

func (b *tab) count(sel string) int {
	b.t.Helper()
	n, _ := b.eval(fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)).(float64)
	return int(n)
}

// waitText waits until sel's text contains want (an htmx swap, for one).
func (b *tab) waitText(sel, want string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	js := fmt.Sprintf(`((document.querySelector(%q) || {}).innerText || "").includes(%q)`, sel, want)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingInterval(25*time.Millisecond))); err != nil {
		b.t.Fatalf("waiting for %q in %s: %v; it reads %q (at %s)", want, sel, err, b.text(sel), b.path())
	}
}

// wantText checks that sel's text contains want now.
func (b *tab) wantText(sel, want string) {
	b.t.Helper()
	if got := b.text(sel); !strings.Contains(got, want) {
		b.t.Fatalf("%s reads %q, want it to contain %q (at %s)", sel, got, want, b.path())
	}
}

// wantPage checks which page is shown (main[data-page]).
func (b *tab) wantPage(name string) {
	b.t.Helper()
	got, _ := b.eval(`(document.querySelector("main") || {dataset: {}}).dataset.page || ""`).(string)
	if got != name {
		b.t.Fatalf("page = %q at %s, want %q; it reads:\n%s", got, b.path(), name, b.text("main"))
	}
}

var unsafeName = regexp.MustCompile(`[^a-z0-9-]+`)

// shot saves a PNG of the whole page and checks the page's basic
// accessibility: landmarks, and a label for every form control.
func (b *tab) shot(what string) {
	b.t.Helper()
	b.n++
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", what, err)
	}
	name := fmt.Sprintf("%s-%02d-%s.png", b.name, b.n, unsafeName.ReplaceAllString(strings.ToLower(what), "-"))
	if err := os.WriteFile(filepath.Join(b.shots, name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	problems := b.eval(`(() => {
		const out = [];
		for (const l of ["header", "main"]) if (!document.querySelector(l)) out.push("no <" + l + ">");
		for (const e of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
			if (!(e.labels && e.labels.length) && !e.getAttribute("aria-label")) out.push("no label: " + e.outerHTML);
		}
		const ids = {};
		for (const e of document.querySelectorAll("[id]")) {
			if (ids[e.id]) out.push("duplicate id: " + e.id);
			ids[e.id] = true;
		}
		return out;
	})()`)
	if list, _ := problems.([]any); len(list) > 0 {
		b.t.Errorf("%s (%s): accessibility problems: %v", what, b.path(), list)
	}
}

// enabledControls lists the form controls in main that a person could use, beside
// "Request edit access": a read-only page offers that one on purpose.
func (b *tab) enabledControls() []string {
	b.t.Helper()
	v := b.eval(`[...document.querySelectorAll("main input:not([type=hidden]):not(:disabled), main select:not(:disabled), main textarea:not(:disabled), main button:not(:disabled), main form")].filter(e => !e.closest("#request-access")).map(e => e.outerHTML.slice(0, 120))`)
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
