package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/humaninsight/facet/internal/browsertest"
	"github.com/humaninsight/facet/internal/testenv"
)

// BenchmarkPortalPages loads each page of the client portal in headless
// Chromium from the local stack over loopback and prints, per page, the
// time from the start of the navigation to the page being usable: its
// heading drawn with its data (the router's performance mark
// "facet-ready", set once the page's render has resolved). Each page is
// loaded once to warm up, then 5 times; the median is printed:
//
//	BENCH case=portal-page page=<name> ms=<n>
//
// and the compressed size of what the first page loads, as
// TestPortalSizeBudget (handlers) counts it:
//
//	BENCH case=portal-size first_page_kb_gzip=<n>
//
// The figures are read, not asserted (issue 16 asks each page to be usable
// within 1 s); scripts/bench.sh runs this with -benchtime 1x.
func BenchmarkPortalPages(b *testing.B) {
	kb := firstPageGzip(b)
	s := startStack(b)
	f := newFlow(b, s, "Bench Research")
	project := f.must(201, "POST", "/api/projects", f.key, map[string]any{"name": "Bench spot", "privacyMode": "retain", "useContext": "media-testing"})["id"].(string)
	rec := f.recording(project, true)
	gone := f.recording(project, true)
	f.must(202, "DELETE", "/api/recordings/"+gone, f.key, nil) // an entry in the deletion log
	f.must(201, "POST", "/api/projects/"+project+"/invitations", f.key, map[string]any{"participantRef": "P-001"})
	poster := filepath.Join(b.TempDir(), "poster.png")
	if err := os.WriteFile(poster, posterPNG(b), 0o644); err != nil {
		b.Fatal(err)
	}
	stim := f.stimulus(project, "Poster", "image", poster, map[string]any{"displayS": 2})["id"].(string)

	// The client's owner and an operator, signed up from their mails; one
	// more invitation stays open for the sign-up page.
	p := &portalRun{flow: f, outbox: s.cfg.MailOutbox}
	const password = "correct horse battery staple"
	signUp := func(email string) {
		token := strings.TrimPrefix(p.signupPath(b, email), "/app/signup#")
		f.must(201, "POST", "/api/signup/"+token, "", map[string]any{"name": "Bench Person", "password": password})
	}
	f.must(201, "POST", "/api/clients/"+f.client+"/invitations", "admin", map[string]any{"email": "owner@bench.example"})
	signUp("owner@bench.example")
	f.must(201, "POST", "/api/operators/invitations", "admin", map[string]any{"email": "operator@bench.example"})
	signUp("operator@bench.example")
	f.must(201, "POST", "/api/clients/"+f.client+"/invitations", "admin", map[string]any{"email": "new@bench.example"})
	signupPath := p.signupPath(b, "new@bench.example")

	// A browser per person, each at an address of its own (see
	// personBrowser): signed-out loads are failed authentications.
	signedIn := func(n int, email string) *browsertest.Browser {
		br := personBrowser(b, n)
		p.openApp(b, br, "/app/signin", "signin")
		if r := fetchIn(b, br, "POST", "/api/session", map[string]any{"email": email, "password": password}, false); r.Status != 201 {
			b.Fatalf("sign-in of %s: %d %v", email, r.Status, r.Body)
		}
		return br
	}
	owner, operator := signedIn(11, "owner@bench.example"), signedIn(12, "operator@bench.example")
	pages := []struct {
		name, path string
		b          *browsertest.Browser
	}{
		{"signin", "/app/signin", personBrowser(b, 13)},
		{"signup", signupPath, personBrowser(b, 14)},
		{"projects", "/app/", owner},
		{"newproject", "/app/projects/new", owner},
		{"project", "/app/projects/" + project, owner},
		{"recording", "/app/recordings/" + rec, owner},
		{"stimulus", "/app/projects/" + project + "/stimuli/" + stim, owner},
		{"deletions", "/app/deletions", owner},
		{"account", "/app/account", owner},
		{"operator", "/app/operator", operator},
	}
	b.ResetTimer()
	for range b.N {
		for _, pg := range pages {
			var ms []float64
			for i := range 6 {
				// The first load comes from another page, the others reload:
				// each is a whole navigation (assets revalidated by ETag).
				if i == 0 {
					p.openApp(b, pg.b, pg.path, pg.name)
				} else {
					pg.b.Do(b, 30*time.Second, chromedp.Reload(), browsertest.WaitJS(readyJS(pg.name)))
				}
				v := evalJS[float64](b, pg.b, `performance.getEntriesByName("facet-ready")[0].startTime`)
				if i > 0 {
					ms = append(ms, v)
				}
			}
			slices.Sort(ms)
			fmt.Printf("BENCH case=portal-page page=%s ms=%.0f\n", pg.name, ms[len(ms)/2])
		}
	}
	b.StopTimer()
	fmt.Printf("BENCH case=portal-size first_page_kb_gzip=%.1f\n", kb)
}

// firstPageGzip is the size in KB of the files the portal's first page
// loads, each gzip-compressed (best compression) as a server would: the
// shell, what it links under /app/assets/, their static imports, and the
// first page's module (the projects list or the sign-in form). The same
// measure as TestPortalSizeBudget in handlers.
func firstPageGzip(b testing.TB) float64 {
	b.Helper()
	dir := filepath.Join(testenv.RepoRoot(), "handlers", "portal")
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	ref := regexp.MustCompile(`(?:src|href)="/app/assets/([^"]+\.(?:js|css))"`)
	imp := regexp.MustCompile(`(?m)^import\s[^"]*"(\./[^"]+|\.\./[^"]+)"`)
	todo := []string{"pages/projects.js", "pages/signin.js"}
	for _, m := range ref.FindAllStringSubmatch(string(read("index.html")), -1) {
		todo = append(todo, m[1])
	}
	files := []string{"index.html"}
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		if slices.Contains(files, name) {
			continue
		}
		files = append(files, name)
		for _, m := range imp.FindAllStringSubmatch(string(read(name)), -1) {
			todo = append(todo, path.Join(path.Dir(name), m[1]))
		}
	}
	total := 0
	for _, name := range files {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(read(name))
		zw.Close()
		total += buf.Len()
	}
	return float64(total) / 1024
}
