package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/humaninsight/facet/handlers"
	"github.com/humaninsight/facet/internal/app"
	"github.com/humaninsight/facet/internal/browsertest"
	"github.com/humaninsight/facet/internal/outbox"
	"github.com/humaninsight/facet/internal/testenv"
)

// The client portal (/app/) in headless Chromium against the local
// stack, each person in a browser of their own: the operator, a client's
// owner, a researcher, a viewer, a participant, and a member of another
// client. Every step goes through the pages as a person would; the API is
// called from a page only to check what the pages must not allow.

// portalPages are the portal's pages, each checked with axe-core and
// photographed at both widths once the test has reached it.
var portalPages = []string{"signin", "signup", "projects", "newproject", "project", "recording", "stimulus", "deletions", "account", "operator"}

// portalWidths are the widths of the screenshots: a desktop and a phone.
var portalWidths = []struct {
	w, h   int64
	mobile bool
}{{1440, 900, false}, {360, 740, true}}

// portalRun is the stack with what the test has seen of the portal.
type portalRun struct {
	*flow
	outbox  string
	checked map[string]bool
}

// personBrowser is a browser for one person of the story, at an address
// of their own (192.0.2.n, for documentation): the API counts failed
// authentications per source, and every signed-out page load's GET
// /api/session is one; six people on one address would be throttled.
func personBrowser(t testing.TB, n int) *browsertest.Browser {
	t.Helper()
	b := browsertest.New(t, browsertest.Options{})
	if _, err := chromedp.Call(b.Ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
		Headers: network.Headers{"X-Forwarded-For": fmt.Sprintf("192.0.2.%d", n)}}); err != nil {
		t.Fatal(err)
	}
	return b
}

// readyJS is true once the router has drawn page with its data.
func readyJS(page string) string {
	return fmt.Sprintf(`(() => { const m = document.getElementById("main"); return m.dataset.ready === "true" && m.dataset.page === %q })()`, page)
}

// openApp loads path (an /app/ address) in b and waits for page.
func (p *portalRun) openApp(t testing.TB, b *browsertest.Browser, path, page string) {
	t.Helper()
	b.Do(t, 30*time.Second, chromedp.Navigate(p.url+path), browsertest.WaitJS(readyJS(page)))
}

// evalJS evaluates expr in b's page, awaiting a promise.
func evalJS[T any](t testing.TB, b *browsertest.Browser, expr string) T {
	t.Helper()
	return browsertest.Run(t, b, 30*time.Second, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// pageAnswer is what a fetch from the page got.
type pageAnswer struct {
	Status int            `json:"status"`
	Type   string         `json:"type"`
	Body   map[string]any `json:"body"`
	Text   string         `json:"text"`
}

// fetchIn calls the API from b's page with its cookie, as the portal
// does; with csrf, the session's token goes in X-CSRF-Token.
func fetchIn(t testing.TB, b *browsertest.Browser, method, path string, body any, csrf bool) pageAnswer {
	t.Helper()
	j, _ := json.Marshal(body)
	return evalJS[pageAnswer](t, b, fmt.Sprintf(`(async () => {
		const headers = { Accept: "application/json" };
		if (%t) headers["X-CSRF-Token"] = (await (await fetch("/api/session", { credentials: "same-origin" })).json()).csrfToken;
		const init = { method: %q, headers, credentials: "same-origin" };
		const body = %s;
		if (body !== null) { headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
		const r = await fetch(%q, init);
		const text = await r.text();
		let json = null;
		try { json = JSON.parse(text); } catch {}
		return { status: r.status, type: r.headers.get("Content-Type") || "", body: json, text: text.slice(0, 2000) };
	})()`, csrf, method, j, path))
}

// signupPath reads the newest invitation mailed to email from the outbox
// and returns its link's path and fragment (the mail's links start with
// the configured public address, not the stack's).
func (p *portalRun) signupPath(t testing.TB, email string) string {
	t.Helper()
	m, err := outbox.Latest(p.outbox, email)
	if err != nil {
		t.Fatalf("mail to %s: %v", email, err)
	}
	token := app.SignUpToken(m.Text)
	if token == "" || !strings.Contains(m.Text, p.cfg.PublicBaseURL+app.SignUpPath+token) {
		t.Fatalf("mail to %s has no sign-up link:\n%s", email, m.Text)
	}
	return app.SignUpPath + token
}

// signUp opens the sign-up link mailed to email, signs up on the page
// and waits for the page it lands on.
func (p *portalRun) signUp(t testing.TB, b *browsertest.Browser, email, name, password, landing string, check bool) {
	t.Helper()
	p.openApp(t, b, p.signupPath(t, email), "signup")
	if got := b.Text(t, "main dl"); !strings.Contains(got, email) {
		t.Errorf("the sign-up page shows %q, not the invited address %s", got, email)
	}
	if check {
		p.check(t, b, "signup")
	}
	b.Do(t, 30*time.Second,
		chromedp.SendKeys(chromedp.CSS(`main input[name="name"]`), name),
		chromedp.SendKeys(chromedp.CSS(`main input[name="new-password"]`), password),
		chromedp.SendKeys(chromedp.CSS(`main input[name="confirm-password"]`), password),
		chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)),
		browsertest.WaitJS(readyJS(landing)))
	if loc := evalJS[string](t, b, `location.pathname + location.hash`); strings.Contains(loc, "fi_") {
		t.Errorf("the used sign-up token stays in the address: %s", loc)
	}
}

// signIn signs in on the sign-in page with the keyboard alone: from the
// page's heading, Tab reaches the address, Tab the password, and Enter
// sends the form.
func (p *portalRun) signIn(t testing.TB, b *browsertest.Browser, email, password, landing string) {
	t.Helper()
	b.Do(t, 30*time.Second,
		chromedp.Focus(chromedp.CSS(`main h1`)),
		chromedp.KeyEvent(kb.Tab),
		browsertest.WaitJS(`document.activeElement && document.activeElement.name === "email"`),
		chromedp.KeyEvent(email),
		chromedp.KeyEvent(kb.Tab),
		browsertest.WaitJS(`document.activeElement && document.activeElement.name === "password"`),
		chromedp.KeyEvent(password),
		chromedp.KeyEvent("\r"),
		browsertest.WaitJS(readyJS(landing)))
}

// check runs axe-core on the page b shows and photographs it at both
// widths: into docs/ with FACET_UPDATE_SCREENSHOTS=1 (for the README),
// else into the test artefacts. At the phone's width nothing may be
// wider than the screen.
func (p *portalRun) check(t testing.TB, b *browsertest.Browser, page string) {
	t.Helper()
	drawn(t, b)
	if v := b.Axe(t); len(v) > 0 {
		t.Errorf("axe-core on the %s page:\n%s", page, strings.Join(v, "\n"))
	}
	dir, update := browsertest.ArtifactDir(t), os.Getenv("FACET_UPDATE_SCREENSHOTS") == "1"
	if update {
		dir = filepath.Join(testenv.RepoRoot(), "docs")
	}
	for _, w := range portalWidths {
		var opts []chromedp.EmulateViewportOption
		if w.mobile {
			opts = append(opts, chromedp.EmulateMobile)
		}
		b.Do(t, 10*time.Second, chromedp.EmulateViewport(w.w, w.h, opts...))
		drawn(t, b)
		if over := evalJS[int](t, b, `document.documentElement.scrollWidth - innerWidth`); over > 0 {
			t.Errorf("the %s page is %d px wider than a %d px screen", page, over, w.w)
		}
		// From the top, without a passing status message ("Welcome, ...").
		evalJS[bool](t, b, `(() => { document.getElementById("status").hidden = true; window.scrollTo(0, 0); return true })()`)
		drawn(t, b)
		png := browsertest.Run(t, b, 30*time.Second, chromedp.CaptureScreenshot())
		name := filepath.Join(dir, fmt.Sprintf("portal-%s-%d.png", page, w.w))
		if err := os.WriteFile(name, png, 0o644); err != nil {
			t.Fatal(err)
		}
		if update {
			palettePNG(t, name)
		}
	}
	evalJS[bool](t, b, `(() => { document.getElementById("status").hidden = false; return true })()`)
	if _, err := chromedp.Call(b.Ctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(b.Ctx, emulation.SetTouchEmulationEnabled, emulation.SetTouchEmulationEnabledParams{}); err != nil {
		t.Fatal(err)
	}
	p.checked[page] = true
}

// palettePNG rewrites a screenshot with a palette of 256 colours (ffmpeg),
// about half the size and alike to the eye, for the repository.
func palettePNG(t testing.TB, name string) {
	t.Helper()
	tmp := name + ".tmp.png"
	out, err := execCommand("ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", name,
		"-vf", "split[a][b];[a]palettegen=max_colors=256:stats_mode=full[p];[b][p]paletteuse=dither=none", "-pred", "mixed", tmp)
	if err != nil {
		os.Remove(tmp)
		t.Logf("%s stays as Chromium wrote it: ffmpeg: %v\n%s", filepath.Base(name), err, out)
		return
	}
	if err := os.Rename(tmp, name); err != nil {
		t.Fatal(err)
	}
}

// drawn waits two frames: the page's layout, and what observes it, is done.
func drawn(t testing.TB, b *browsertest.Browser) {
	t.Helper()
	evalJS[bool](t, b, `new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(() => ok(true))))`)
}

// sessionCookie returns the value of b's session cookie.
func (p *portalRun) sessionCookie(t testing.TB, b *browsertest.Browser) string {
	t.Helper()
	res, err := chromedp.Call(b.Ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{p.url + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Cookies {
		if c.Name == handlers.SessionCookie {
			if !c.HTTPOnly || !c.Secure || c.SameSite != network.CookieSameSiteStrict {
				t.Errorf("session cookie %+v: want HttpOnly, Secure, SameSite=Strict", c)
			}
			return c.Value
		}
	}
	t.Fatalf("no %s cookie in the browser", handlers.SessionCookie)
	return ""
}

// withCookie calls the API from outside the browser with a session cookie.
func (p *portalRun) withCookie(t testing.TB, method, path, cookie string) int {
	t.Helper()
	req, _ := http.NewRequest(method, p.url+path, nil)
	req.AddCookie(&http.Cookie{Name: handlers.SessionCookie, Value: cookie})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// changeControls lists what in the page's main part could change
// something: forms, and buttons that are shown and enabled (a chart's
// table toggle and the like are listed too: the caller decides).
func changeControls(t testing.TB, b *browsertest.Browser) []string {
	t.Helper()
	return evalJS[[]string](t, b, `(() => {
		const m = document.getElementById("main");
		const out = [...m.querySelectorAll("form")].map((f) => "form: " + (f.querySelector("button") || {}).textContent);
		for (const el of m.querySelectorAll("button, input, select, textarea")) {
			if (!el.disabled && el.getClientRects().length && !el.closest("form")) out.push(el.tagName.toLowerCase() + ": " + (el.textContent || el.name));
		}
		return out;
	})()`)
}

// posterPNG is a small image stimulus.
func posterPNG(t testing.TB) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 320, 180))
	for y := 0; y < 180; y++ {
		for x := 0; x < 320; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 255 / 320), uint8(y * 255 / 180), 160, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestPortalBrowser walks issue 16's story through the portal's pages: the
// operator invites a client's owner, who signs up from the e-mailed link
// and invites a researcher and a viewer; the researcher makes a project
// and a link; a participant records with the fake camera; the project
// page sees the recording analysed without a reload; the result chart,
// the report and the CSV export work; the viewer finds nothing to change
// and the API refuses the viewer's changes; the project is closed, its
// deletion time shown. Then what must not work: another client's look at
// the project, a change without the CSRF token, a session after signing
// out or after the password changed. axe-core checks every page, which is
// photographed at 1440 and 360 px (into docs/ with
// FACET_UPDATE_SCREENSHOTS=1); no page logs an error or a CSP violation
// other than the expected refusals.
func TestPortalBrowser(t *testing.T) {
	began := time.Now()
	s := startStack(t, func(c *config) { c.UploadCreateWrite = true })
	p := &portalRun{flow: &flow{stack: s}, outbox: s.cfg.MailOutbox, checked: map[string]bool{}}
	camera := browsertest.FakeCamera(t, testenv.Shared(t, "media/astronaut.png"))
	// A signed-out page asks GET /api/session first and is answered 401.
	signedOut := "status of 401 (Unauthorized) " + s.url + "/api/session"
	const (
		operator   = "olga@facet.example"
		owner      = "nora@northwind.example"
		researcher = "rui@northwind.example"
		viewer     = "vera@northwind.example"
		stranger   = "sam@southwind.example"
		password   = "correct horse battery staple"
		password2  = "another long passphrase for nora"
	)
	step := func(name string, fn func(t *testing.T)) {
		if !t.Run(name, fn) {
			t.FailNow()
		}
	}
	var own, res *browsertest.Browser
	var project, participantToken string

	step("operator", func(t *testing.T) {
		b := personBrowser(t, 1)
		p.with(t).must(201, "POST", "/api/operators/invitations", "admin", map[string]any{"email": operator})
		p.signUp(t, b, operator, "Olga Operator", password, "operator", true)
		if got := evalJS[string](t, b, `location.pathname`); got != "/app/operator" {
			t.Errorf("the operator landed on %s", got)
		}
		b.Do(t, 30*time.Second,
			chromedp.SendKeys(chromedp.CSS(`main input[name="company"]`), "Northwind Insights"),
			chromedp.SendKeys(chromedp.CSS(`main input[name="contactName"]`), "Nora North"),
			chromedp.SendKeys(chromedp.CSS(`main input[name="contactEmail"]`), owner),
			chromedp.SendKeys(chromedp.CSS(`main input[name="country"]`), "NL"),
			chromedp.SendKeys(chromedp.CSS(`main input[name="sector"]`), "Market research"),
			chromedp.SendKeys(chromedp.CSS(`main input[name="dpaVersion"]`), "2026-01"),
			chromedp.SendKeys(chromedp.CSS(`main input[name="ownerEmail"]`), owner),
			chromedp.Click(chromedp.CSS(`main form:has(input[name="ownerEmail"]) button[type="submit"]`)),
			browsertest.WaitJS(`!!document.querySelector("main p.ok")`))
		if got := b.Text(t, "main table"); !strings.Contains(got, "Northwind Insights") {
			t.Errorf("the clients list lacks the new client: %q", got)
		}
		p.check(t, b, "operator")
		b.Do(t, 30*time.Second, chromedp.Click(chromedp.CSS(`#nav button`)), browsertest.WaitJS(readyJS("signin")))
		p.check(t, b, "signin")
		noErrors(t, b, signedOut)
	})

	step("owner", func(t *testing.T) {
		own = personBrowser(p.t, 2)
		p.signUp(t, own, owner, "Nora North", password, "projects", false)
		b := own
		b.Do(t, 30*time.Second, chromedp.Click(chromedp.CSS(`#nav a[href="/app/account"]`)), browsertest.WaitJS(readyJS("account")))
		for _, inv := range []struct{ email, role string }{{researcher, "researcher"}, {viewer, "viewer"}} {
			b.Do(t, 30*time.Second,
				chromedp.SendKeys(chromedp.CSS(`main input[name="email"]`), inv.email),
				chromedp.SetValue(chromedp.CSS(`main select[name="role"]`), inv.role),
				chromedp.Click(chromedp.CSS(`main form:has(select[name="role"]) button[type="submit"]`)),
				browsertest.WaitJS(fmt.Sprintf(`document.getElementById("main").textContent.includes(%q)`, inv.email)))
		}
		team := fetchIn(t, b, "GET", "/api/team", nil, false)
		var roles []string
		for _, i := range team.Body["invitations"].([]any) {
			m := i.(map[string]any)
			roles = append(roles, m["email"].(string)+" "+m["role"].(string))
		}
		slices.Sort(roles)
		if want := []string{researcher + " researcher", viewer + " viewer"}; !slices.Equal(roles, want) {
			t.Errorf("pending invitations %v, want %v", roles, want)
		}
		p.check(t, b, "account")
		noErrors(t, b, signedOut)
	})

	step("researcher", func(t *testing.T) {
		res = personBrowser(p.t, 3)
		b := res
		p.signUp(t, b, researcher, "Rui Research", password, "projects", false)
		b.Do(t, 30*time.Second, chromedp.Click(chromedp.CSS(`main a[href="/app/projects/new"]`)), browsertest.WaitJS(readyJS("newproject")))
		p.check(t, b, "newproject")
		b.Do(t, 30*time.Second,
			chromedp.SendKeys(chromedp.CSS(`main input[name="name"]`), "Spring campaign: 30 s spot"),
			chromedp.SetValue(chromedp.CSS(`main select[name="useContext"]`), "market-research"),
			chromedp.Click(chromedp.CSS(`main input[type="radio"][value="delete-after-analysis"]`)),
			chromedp.Click(chromedp.CSS(`main details summary`)),
			chromedp.SetValue(chromedp.CSS(`main input[name="deletionGraceS"]`), ""),
			chromedp.SendKeys(chromedp.CSS(`main input[name="deletionGraceS"]`), "7"),
			chromedp.SetValue(chromedp.CSS(`main select[name="detect"]`), "track"),
			chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)),
			browsertest.WaitJS(readyJS("project")))
		project = strings.TrimPrefix(evalJS[string](t, b, `location.pathname`), "/app/projects/")
		pr := fetchIn(t, b, "GET", "/api/projects/"+project, nil, false)
		if st := pr.Body["settings"].(map[string]any); pr.Status != 200 || pr.Body["privacyMode"] != "delete-after-analysis" || st["deletionGraceS"] != float64(7*86400) || st["detect"] != "track" {
			t.Errorf("the project as made by the form: %d %v", pr.Status, pr.Body)
		}
		b.Do(t, 30*time.Second,
			chromedp.SendKeys(chromedp.CSS(`main input[name="prefix"]`), "P-"),
			chromedp.Click(chromedp.CSS(`main form:has(input[name="prefix"]) button[type="submit"]`)),
			browsertest.WaitJS(`!!document.querySelector("main .made code")`))
		link := b.Text(t, "main .made code")
		_, participantToken, _ = strings.Cut(link, "/p/")
		if !strings.HasPrefix(link, "http://participants.example/p/") || participantToken == "" {
			t.Fatalf("participant link %q", link)
		}
		// From here the page must not load again: this stays until it does.
		evalJS[bool](t, b, `(window.portalTestMark = true)`)
		noErrors(t, b, signedOut)
	})

	step("participant", func(t *testing.T) {
		b := browsertest.New(t, browsertest.Options{AllowCamera: true, FakeCamera: camera})
		openPage(p.with(t), b, participantToken)
		record(t, b, 3*time.Second)
		b.Do(t, 60*time.Second, browsertest.WaitJS(visible("done")))
		noErrors(t, b)
	})

	step("analysed without a reload", func(t *testing.T) {
		b := res
		b.Do(t, 120*time.Second, browsertest.WaitJS(`!!document.querySelector("main tbody .badge-analyzed")`))
		if !evalJS[bool](t, b, `window.portalTestMark === true`) {
			t.Error("the project page was loaded again")
		}
		if got := b.Text(t, "main .counts"); !strings.Contains(got, "1") {
			t.Errorf("counts %q", got)
		}
	})

	step("results", func(t *testing.T) {
		b := res
		// The recording's result: the emotions chart has its 7 series and
		// the valence chart its one.
		b.Do(t, 30*time.Second, chromedp.Click(chromedp.CSS(`main a[href^="/app/recordings/"]`)), browsertest.WaitJS(readyJS("recording")))
		if n := evalJS[int](t, b, `document.querySelectorAll("main svg.chart-svg path[fill='none']").length`); n < 8 {
			t.Errorf("%d chart series on the recording page, want 8 or more", n)
		}
		p.check(t, b, "recording")
		b.Do(t, 30*time.Second, chromedp.Click(chromedp.CSS(`main a[href^="/app/projects/"]`)), browsertest.WaitJS(readyJS("project")))

		// The report opens with the session's cookie.
		href := evalJS[string](t, b, `document.querySelector('main a[href$="/report"]').getAttribute("href")`)
		if r := fetchIn(t, b, "GET", href, nil, false); r.Status != 200 || !strings.HasPrefix(r.Type, "text/html") || !strings.Contains(r.Text, "<html") {
			t.Errorf("report %s: %d %s %.200q", href, r.Status, r.Type, r.Text)
		}
		// The CSV export downloads.
		dir := t.TempDir()
		done := make(chan string, 1)
		if err := chromedp.ListenBrowser(b.Ctx, func(ev any) {
			if e, ok := ev.(*browser.EventDownloadProgress); ok && e.State == browser.DownloadProgressStateCompleted {
				select {
				case done <- e.GUID:
				default:
				}
			}
		}); err != nil {
			t.Fatal(err)
		}
		yes := true
		if _, err := chromedp.CallBrowser(b.Ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &yes}); err != nil {
			t.Fatal(err)
		}
		b.Do(t, 10*time.Second, chromedp.Click(chromedp.CSS(`main a[href$="/export.csv"]`)))
		select {
		case guid := <-done:
			csv, err := os.ReadFile(filepath.Join(dir, guid))
			if err != nil {
				t.Fatal(err)
			}
			head, rest, _ := strings.Cut(string(csv), "\n")
			if !strings.HasPrefix(head, "recording_id,") || len(strings.TrimSpace(rest)) == 0 {
				t.Errorf("export.csv: header %q, %d bytes after it", head, len(rest))
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the CSV export did not download")
		}
		if !evalJS[bool](t, b, `window.portalTestMark === true`) {
			t.Error("the download link loaded the page again")
		}

		// A stimulus (an image, made through the API from this page and
		// uploaded as a client's tool would) for the stimulus page.
		slot := fetchIn(t, b, "POST", "/api/projects/"+project+"/stimuli", map[string]any{"name": "Poster", "kind": "image", "displayS": 2}, true)
		if slot.Status != 201 {
			t.Fatalf("new stimulus: %d %v", slot.Status, slot.Body)
		}
		if st := put(t, slot.Body["uploadUrl"].(string), posterPNG(t)); st != 201 {
			t.Fatalf("stimulus upload: %d", st)
		}
		stim := slot.Body["stimulus"].(map[string]any)["id"].(string)
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(300 * time.Millisecond) {
			r := fetchIn(t, b, "GET", "/api/projects/"+project+"/stimuli/"+stim, nil, false)
			if r.Body["status"] == "ready" {
				break
			}
			if r.Body["status"] == "refused" || time.Now().After(deadline) {
				t.Fatalf("stimulus: %v", r.Body)
			}
		}
		p.openApp(t, b, "/app/projects/"+project+"/stimuli/"+stim, "stimulus")
		p.check(t, b, "stimulus")
		p.openApp(t, b, "/app/projects/"+project, "project")
		p.check(t, b, "project")
		p.openApp(t, b, "/app/", "projects")
		if got := b.Text(t, "main table"); !strings.Contains(got, "Spring campaign") {
			t.Errorf("projects list: %q", got)
		}
		p.check(t, b, "projects")

		// The owner's deletion log has the video deleted after its analysis.
		p.openApp(t, own, "/app/deletions", "deletions")
		if got := own.Text(t, "main"); !strings.Contains(got, project) {
			t.Errorf("deletion log: %q", got)
		}
		p.check(t, own, "deletions")
	})

	step("viewer", func(t *testing.T) {
		b := personBrowser(t, 4)
		p.signUp(t, b, viewer, "Vera View", password, "projects", false)
		if evalJS[bool](t, b, `!!document.querySelector('main a[href="/app/projects/new"]')`) {
			t.Error("a viewer is offered a new project")
		}
		if c := changeControls(t, b); len(c) > 0 {
			t.Errorf("the projects page offers a viewer %q", c)
		}
		// The project is open: a researcher would see its forms and buttons.
		b.Do(t, 30*time.Second, chromedp.Click(chromedp.CSS(`main a[href="/app/projects/`+project+`"]`)), browsertest.WaitJS(readyJS("project")))
		if c := changeControls(t, b); len(c) > 0 {
			t.Errorf("the project page offers a viewer %q", c)
		}
		if v := b.Axe(t); len(v) > 0 {
			t.Errorf("axe-core on the viewer's project page:\n%s", strings.Join(v, "\n"))
		}
		p.openApp(t, b, "/app/projects/new", "newproject")
		if c := changeControls(t, b); len(c) > 0 {
			t.Errorf("the new-project page offers a viewer %q", c)
		}
		for _, c := range []struct{ method, path string }{
			{"POST", "/api/projects/" + project + "/reopen"},
			{"POST", "/api/projects/" + project + "/invitations"},
			{"DELETE", "/api/projects/" + project},
		} {
			if r := fetchIn(t, b, c.method, c.path, map[string]any{}, true); r.Status != 403 || r.Body["code"] != "forbidden" {
				t.Errorf("viewer %s %s: %d %v, want 403 forbidden", c.method, c.path, r.Status, r.Body)
			}
		}
		noErrors(t, b, signedOut, "status of 403 (Forbidden)")
	})

	step("close", func(t *testing.T) {
		b := res
		p.openApp(t, b, "/app/projects/"+project, "project")
		evalJS[bool](t, b, `[...document.querySelectorAll("main button")].find((b) => b.textContent === "Close project").click() ?? true`)
		b.Do(t, 10*time.Second,
			chromedp.Click(chromedp.CSS(`dialog[open] button[value="ok"]`)),
			browsertest.WaitJS(`!!document.querySelector("main dd.deletion") && !!document.querySelector("main .page-head .badge-closed")`))
		shown := b.Text(t, "main dd.deletion")
		if want := time.Now().Add(7 * 24 * time.Hour).Format("2006"); !strings.Contains(shown, want) {
			t.Errorf("deletion time shown as %q", shown)
		}
		pr := fetchIn(t, b, "GET", "/api/projects/"+project, nil, false)
		if pr.Body["status"] != "closed" {
			t.Errorf("project after closing: %v", pr.Body)
		}
		if !evalJS[bool](t, b, `[...document.querySelectorAll("main button")].some((b) => b.textContent === "Reopen project")`) {
			t.Error("no reopen within the grace period")
		}
		noErrors(t, b, signedOut)
	})

	step("another client", func(t *testing.T) {
		f := p.with(t)
		f.must(201, "POST", "/api/clients", "admin", map[string]any{
			"company": "Southwind Labs", "contact": map[string]any{"name": "Sam South", "email": stranger},
			"demographics": map[string]any{"country": "DE"}, "dpaVersion": "2026-01", "owner": map[string]any{"email": stranger}})
		token := strings.TrimPrefix(p.signupPath(t, stranger), "/app/signup#")
		f.must(201, "POST", "/api/signup/"+token, "", map[string]any{"name": "Sam South", "password": password})
		b := personBrowser(t, 5)
		p.openApp(t, b, "/app/signin", "signin")
		if r := fetchIn(t, b, "POST", "/api/session", map[string]any{"email": stranger, "password": password}, false); r.Status != 201 {
			t.Fatalf("sign-in: %d %v", r.Status, r.Body)
		}
		if r := fetchIn(t, b, "GET", "/api/projects/"+project, nil, false); r.Status != 404 {
			t.Errorf("another client's project: %d %v, want 404", r.Status, r.Body)
		}
		p.openApp(t, b, "/app/projects/"+project, "project")
		if h := b.Text(t, "main h1"); h != "Page not found" {
			t.Errorf("another client's project page: %q", h)
		}
		if got := b.Text(t, "main"); strings.Contains(got, "Spring campaign") {
			t.Errorf("another client's page shows the project: %q", got)
		}
		noErrors(t, b, signedOut, "status of 404 (Not Found) "+s.url+"/api/projects/"+project)
	})

	step("csrf", func(t *testing.T) {
		for _, c := range []struct{ method, path string }{
			{"POST", "/api/projects"},
			{"POST", "/api/projects/" + project + "/reopen"},
		} {
			if r := fetchIn(t, res, c.method, c.path, map[string]any{"name": "x", "privacyMode": "retain", "useContext": "usability"}, false); r.Status != 403 || r.Body["code"] != "forbidden" {
				t.Errorf("%s %s without the CSRF token: %d %v, want 403 forbidden", c.method, c.path, r.Status, r.Body)
			}
		}
		if r := fetchIn(t, res, "GET", "/api/projects/"+project, nil, false); r.Body["status"] != "closed" {
			t.Errorf("the project changed: %v", r.Body)
		}
	})

	step("sessions end", func(t *testing.T) {
		// Signing out ends the session: its cookie no longer opens anything.
		cookie := p.sessionCookie(t, res)
		if st := p.withCookie(t, "GET", "/api/session", cookie); st != 200 {
			t.Fatalf("the researcher's cookie before signing out: %d", st)
		}
		res.Do(t, 30*time.Second, chromedp.Click(chromedp.CSS(`#nav button`)), browsertest.WaitJS(readyJS("signin")))
		for _, path := range []string{"/api/session", "/api/projects"} {
			if st := p.withCookie(t, "GET", path, cookie); st != 401 {
				t.Errorf("GET %s with the signed-out cookie: %d, want 401", path, st)
			}
		}
		noErrors(t, res, signedOut, "status of 403 (Forbidden)")

		// A password change ends the account's other sessions.
		b2 := personBrowser(t, 2)
		p.openApp(t, b2, "/app/account", "signin")
		p.signIn(t, b2, owner, password, "account")
		other := p.sessionCookie(t, b2)
		p.openApp(t, own, "/app/account", "account")
		own.Do(t, 30*time.Second,
			chromedp.SendKeys(chromedp.CSS(`main input[name="current-password"]`), password),
			chromedp.SendKeys(chromedp.CSS(`main input[name="new-password"]`), password2),
			chromedp.SendKeys(chromedp.CSS(`main input[name="confirm-password"]`), password2),
			chromedp.Click(chromedp.CSS(`main form:has(input[name="current-password"]) button[type="submit"]`)),
			browsertest.WaitJS(`(() => { const f = document.querySelector('main input[name="current-password"]').form; return !f.hasAttribute("aria-busy") && f.elements["current-password"].value === "" })()`))
		if msg := own.Text(t, "main form:has(input[name=\"current-password\"]) .error"); msg != "" {
			t.Fatalf("password change: %s", msg)
		}
		if st := p.withCookie(t, "GET", "/api/session", other); st != 401 {
			t.Errorf("the other session after the password change: %d, want 401", st)
		}
		b2.Do(t, 30*time.Second, chromedp.Click(chromedp.CSS(`#nav a[href="/app/"]`)), browsertest.WaitJS(readyJS("signin")))
		if r := fetchIn(t, own, "GET", "/api/session", nil, false); r.Status != 200 {
			t.Errorf("the session that changed the password: %d", r.Status)
		}
		noErrors(t, b2, signedOut, "status of 401 (Unauthorized) "+s.url+"/api/projects")
		noErrors(t, own, signedOut)
	})

	var missing []string
	for _, pg := range portalPages {
		if !p.checked[pg] {
			missing = append(missing, pg)
		}
	}
	if len(missing) > 0 {
		t.Errorf("pages not checked: %v", missing)
	}
	t.Logf("portal story: %.1f s", time.Since(began).Seconds())
}
