package handlers

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// page fetches a public path: status, headers and body.
func (e *env) page(path string) (int, http.Header, string) {
	e.t.Helper()
	resp, b := e.get(path, "")
	return resp.StatusCode, resp.Header, string(b)
}

// TestParticipantPageHTTP: what the page answers for each state of a link,
// its security headers, and its assets. The browser tests in cmd/facet
// drive the page itself.
func TestParticipantPageHTTP(t *testing.T) {
	f := newFixture(t)
	named := f.newProject(f.keyA, map[string]any{"name": `Ads <script>alert(1)</script> & "quotes"`, "privacyMode": "delete-after-analysis"})
	namedTok := f.must(201, "POST", "/api/projects/"+named+"/invitations", f.keyA, map[string]any{})["token"].(string)
	closing := f.newProject(f.keyA, nil)
	closedTok := f.must(201, "POST", "/api/projects/"+closing+"/invitations", f.keyA, map[string]any{})["token"].(string)
	f.must(200, "POST", "/api/projects/"+closing+"/close", f.keyA, nil)

	for _, c := range []struct {
		name, token string
		status      int
		want        []string
	}{
		{"open", f.openToken, 200, []string{`data-state="consent"`, "facial expressions", "at the latest 90 days after you send it", `data-consent-version="facet-default-1"`, `data-max-duration-s="1800"`}},
		{"escaped name, deleted after analysis", namedTok, 200, []string{"Ads &lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;quotes&#34;", "deleted right after the software has analysed it"}},
		{"used", f.usedToken, 410, []string{`data-state="problem"`, "This invitation has already been used."}},
		{"expired", f.expiredToken, 410, []string{"This invitation has expired."}},
		{"revoked", f.revokedToken, 410, []string{"This invitation has been withdrawn."}},
		{"closed study", closedTok, 409, []string{"This study is closed."}},
		{"unknown", strings.Repeat("A", 32), 404, []string{"This link is not valid."}},
		{"malformed", "not-a-token", 404, []string{"This link is not valid."}},
	} {
		st, h, body := f.page("/p/" + c.token)
		if st != c.status {
			t.Errorf("%s: status %d, want %d", c.name, st, c.status)
		}
		for _, w := range c.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: page lacks %q", c.name, w)
			}
		}
		if strings.Contains(body, "<script>alert") {
			t.Errorf("%s: project name not escaped", c.name)
		}
		if h.Get("Content-Type") != "text/html; charset=utf-8" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: headers %v", c.name, h)
		}
		csp := h.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "connect-src 'self'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("%s: CSP %q lacks %q", c.name, csp, d)
			}
		}
		if strings.Contains(csp, "unsafe") || strings.Contains(body, "<script>") || strings.Contains(body, " style=") || regexp.MustCompile(`\son[a-z]+=`).MatchString(body) {
			t.Errorf("%s: inline code or styles in the page (CSP %q)", c.name, csp)
		}
	}

	// Every asset the page names is served with its type; nothing else is.
	_, _, page := f.page("/p/" + f.openToken)
	refs := regexp.MustCompile(`(?:src|href)="(/p/assets/[^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) != 3 {
		t.Errorf("page references %d assets, want 3 (script, style, icon)", len(refs))
	}
	for _, r := range append(refs, []string{"", "/p/assets/upload.js"}) {
		st, h, body := f.page(r[1])
		if st != 200 || len(body) < 100 || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %d, %d bytes, %v", r[1], st, len(body), h)
		}
		want := map[string]string{".js": "text/javascript", "css": "text/css", "svg": "image/svg+xml"}[r[1][len(r[1])-3:]]
		if ct := h.Get("Content-Type"); want == "" || !strings.HasPrefix(ct, want) {
			t.Errorf("%s: Content-Type %s", r[1], ct)
		}
	}
	for _, p := range []string{"/p/assets/participant.html", "/p/assets/..%2fparticipant.go", "/p/assets/nope.js"} {
		if st, _, _ := f.page(p); st != 404 {
			t.Errorf("%s: %d, want 404", p, st)
		}
	}
}

// TestPageCSP: the Blob endpoint is the one other origin the page may
// reach: to upload, and to play a stimulus study's videos and images
// from their read links; nothing else.
func TestPageCSP(t *testing.T) {
	for _, c := range []struct{ origin, want string }{
		{"", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self' blob:; " +
			"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
		{"https://acct.blob.core.windows.net", "default-src 'none'; script-src 'self'; style-src 'self'; " +
			"img-src 'self' https://acct.blob.core.windows.net; media-src 'self' blob: https://acct.blob.core.windows.net; " +
			"connect-src 'self' https://acct.blob.core.windows.net; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
	} {
		if got := pageCSP(c.origin); got != c.want {
			t.Errorf("pageCSP(%q)\n got %s\nwant %s", c.origin, got, c.want)
		}
	}
}
