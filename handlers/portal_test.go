package handlers

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/app"
)

// portalGet answers GET target through the handler's ServeMux.
func portalGet(t *testing.T, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	h := &Handler{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	r := httptest.NewRequest("GET", target, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeMux().ServeHTTP(w, r)
	return w
}

func portalText(t *testing.T, name string) string {
	t.Helper()
	b, err := fs.ReadFile(portalFiles, name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPortalShell: every page path, deep ones too, answers the one HTML
// shell with the portal's security headers, so client-side routes can be
// linked to and reloaded.
func TestPortalShell(t *testing.T) {
	shell := portalText(t, "index.html")
	for _, p := range []string{"/app/", "/app/signin?next=%2Fapp%2Faccount", "/app/signup", "/app/projects/new", "/app/projects/pr_5a6444384daa33c746fd6998",
		"/app/projects/pr_5a6444384daa33c746fd6998/stimuli/st_0123456789abcdef01234567", "/app/recordings/rec_x", "/app/no/such/page"} {
		w := portalGet(t, p, nil)
		if w.Code != 200 || w.Body.String() != shell {
			t.Errorf("%s: %d, shell %v", p, w.Code, w.Body.String() == shell)
			continue
		}
		want := map[string]string{
			"Content-Type":            "text/html; charset=utf-8",
			"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
			"Referrer-Policy":         "no-referrer",
			"X-Content-Type-Options":  "nosniff",
			"Permissions-Policy":      "camera=()",
			"X-Frame-Options":         "DENY",
			"Cache-Control":           "no-cache",
		}
		for k, v := range want {
			if got := w.Header().Get(k); got != v {
				t.Errorf("%s: %s %q, want %q", p, k, got, v)
			}
		}
	}
	// /app without its slash is sent to /app/.
	if w := portalGet(t, "/app", nil); w.Code/100 != 3 || w.Header().Get("Location") != "/app/" {
		t.Errorf("/app: %d %q, want a redirect to /app/", w.Code, w.Header().Get("Location"))
	}
}

// TestPortalAssets: assets with their types, revalidated by ETag; an
// unknown asset, a file of a type not served, and a page path with a dot
// are 404, never the shell.
func TestPortalAssets(t *testing.T) {
	for name, ct := range map[string]string{
		"app.js": "text/javascript; charset=utf-8", "pages/projects.js": "text/javascript; charset=utf-8",
		"portal.css": "text/css; charset=utf-8", "icon.svg": "image/svg+xml",
	} {
		w := portalGet(t, "/app/assets/"+name, nil)
		if w.Code != 200 || w.Header().Get("Content-Type") != ct || w.Body.String() != portalText(t, name) {
			t.Errorf("%s: %d %q", name, w.Code, w.Header().Get("Content-Type"))
			continue
		}
		etag := w.Header().Get("ETag")
		if w.Header().Get("X-Content-Type-Options") != "nosniff" || w.Header().Get("Cache-Control") != "no-cache" || !regexp.MustCompile(`^"[0-9a-f]{24}"$`).MatchString(etag) {
			t.Errorf("%s: headers %v", name, w.Header())
		}
		if w := portalGet(t, "/app/assets/"+name, map[string]string{"If-None-Match": etag}); w.Code != http.StatusNotModified || w.Body.Len() != 0 {
			t.Errorf("%s with its ETag: %d, %d bytes; want 304, none", name, w.Code, w.Body.Len())
		}
	}
	for _, p := range []string{"/app/assets/nope.js", "/app/assets/index.html", "/app/assets/pages", "/app/assets/", "/app/favicon.ico", "/app/projects/report.html"} {
		w := portalGet(t, p, nil)
		if w.Code != 404 || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/problem+json") {
			t.Errorf("%s: %d %q, want a 404 problem", p, w.Code, w.Header().Get("Content-Type"))
		}
	}
}

// pendingAssets are files index.html names that the results pages bring
// (recording and stimulus results); until they are here, they are left
// out of the checks below rather than failing them.
var pendingAssets = map[string]bool{"results.css": true}

// firstPageFiles are the files the first page loads: index.html, what it
// links under /app/assets/, the modules those import statically, and the
// first page's module (the projects list, or the sign-in form).
func firstPageFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"index.html"}
	ref := regexp.MustCompile(`(?:src|href)="/app/assets/([^"]+\.(?:js|css))"`)
	imp := regexp.MustCompile(`(?m)^import\s[^"]*"(\./[^"]+|\.\./[^"]+)"`)
	todo := []string{"pages/projects.js", "pages/signin.js"}
	for _, m := range ref.FindAllStringSubmatch(portalText(t, "index.html"), -1) {
		todo = append(todo, m[1])
	}
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		if slices.Contains(files, name) {
			continue
		}
		b, err := fs.ReadFile(portalFiles, name)
		if err != nil {
			if pendingAssets[name] {
				t.Logf("%s is not here yet (the results pages bring it)", name)
				continue
			}
			t.Errorf("the first page loads %s: %v", name, err)
			continue
		}
		files = append(files, name)
		for _, m := range imp.FindAllStringSubmatch(string(b), -1) {
			todo = append(todo, path.Join(path.Dir(name), m[1]))
		}
	}
	return files
}

// TestPortalSizeBudget: the first page loads at most 100 KB of HTML,
// JavaScript and CSS, each file gzip-compressed as a server would.
func TestPortalSizeBudget(t *testing.T) {
	const budget = 100 << 10
	total, raw := 0, 0
	for _, name := range firstPageFiles(t) {
		b := []byte(portalText(t, name))
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		t.Logf("%-22s %6d bytes, %6d gzipped", name, len(b), buf.Len())
		total += buf.Len()
		raw += len(b)
	}
	t.Logf("first page: %d bytes, %d gzipped (budget %d)", raw, total, budget)
	if total > budget {
		t.Errorf("the first page loads %d gzipped bytes, over the budget of %d", total, budget)
	}
}

// TestPortalNoInlineCode: the CSP allows no inline script or style, so
// the shell has none, and no script writes HTML or style attributes.
func TestPortalNoInlineCode(t *testing.T) {
	html := portalText(t, "index.html")
	for _, tag := range regexp.MustCompile(`(?i)<script[^>]*>`).FindAllString(html, -1) {
		if !strings.Contains(tag, `type="module" src="/app/assets/`) {
			t.Errorf("index.html: %s is not a module from /app/assets/", tag)
		}
	}
	if !regexp.MustCompile(`(?i)<script[^>]*></script>`).MatchString(html) || regexp.MustCompile(`(?i)<script[^>]*>[^<]`).MatchString(html) {
		t.Error("index.html: a script element has content")
	}
	for _, re := range []string{`<style`, `\sstyle=`, `\son[a-z]+=`, `javascript:`} {
		if m := regexp.MustCompile(`(?i)` + re).FindString(html); m != "" {
			t.Errorf("index.html has inline code or style: %q", m)
		}
	}
	fs.WalkDir(portalFiles, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || path.Ext(p) != ".js" {
			return err
		}
		src := portalText(t, p)
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", `setAttribute("style"`, "eval(", "new Function"} {
			if strings.Contains(src, bad) {
				t.Errorf("%s uses %s", p, bad)
			}
		}
		return nil
	})
}

// stringKeys returns the top-level keys of strings.js's S, and the
// source of each value.
func stringKeys(t *testing.T) map[string]string {
	t.Helper()
	src := portalText(t, "strings.js")
	start := strings.Index(src, "export const S = {")
	end := strings.Index(src, "\n};")
	if start < 0 || end < start {
		t.Fatal("strings.js: no `export const S = {` ... `};`")
	}
	keys := map[string]string{}
	line := regexp.MustCompile(`(?m)^  "?([A-Za-z0-9_]+)"?: (.*)$`)
	for _, m := range line.FindAllStringSubmatch(src[start:end], -1) {
		if _, dup := keys[m[1]]; dup {
			t.Errorf("strings.js: %s twice", m[1])
		}
		keys[m[1]] = strings.TrimSuffix(m[2], ",")
	}
	if !strings.Contains(src[start:end], "// --- results pages ---") {
		t.Error("strings.js lacks the results pages' block")
	}
	return keys
}

// TestPortalStrings: every text the scripts use (S.key, t("key")) is in
// strings.js, and every text there is used.
func TestPortalStrings(t *testing.T) {
	keys := stringKeys(t)
	used := map[string][]string{}
	use := regexp.MustCompile(`\bS\.([A-Za-z0-9_]+)|\bt\("([A-Za-z0-9_]+)"`)
	fs.WalkDir(portalFiles, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || path.Ext(p) != ".js" || p == "strings.js" {
			return err
		}
		for _, m := range use.FindAllStringSubmatch(portalText(t, p), -1) {
			k := m[1] + m[2]
			used[k] = append(used[k], p)
		}
		return nil
	})
	for k, files := range used {
		if _, ok := keys[k]; !ok {
			t.Errorf("%s uses %q, which strings.js lacks", strings.Join(slices.Compact(files), ", "), k)
		}
	}
	var unused []string
	for k := range keys {
		if _, ok := used[k]; !ok {
			unused = append(unused, k)
		}
	}
	sort.Strings(unused)
	if len(unused) > 0 {
		t.Errorf("strings.js has texts no script uses: %v", unused)
	}
	t.Logf("%d texts, all used", len(keys))
}

// TestPortalConsentPreview: the new-project form's preview shows the
// participant page's consent step in the same words.
func TestPortalConsentPreview(t *testing.T) {
	keys := stringKeys(t)
	text := func(k string) string {
		var s string
		if err := json.Unmarshal([]byte(keys[k]), &s); err != nil {
			t.Fatalf("strings.js %s: %v", k, err)
		}
		return s
	}
	if text("defaultConsentText") != app.DefaultConsentText {
		t.Error("strings.js defaultConsentText differs from app.DefaultConsentText")
	}
	b, err := fs.ReadFile(webFS, "web/participant.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"previewLead", "previewFactAnalysed", "previewFactNoSound", "previewAgree", "previewDecline"} {
		if !strings.Contains(string(b), text(k)) {
			t.Errorf("strings.js %s %q is not on the participant page", k, text(k))
		}
	}
	if got, want := text("previewDeletedAfter"), deletionText(&app.PublicInvitation{PrivacyMode: facet.PrivacyDeleteAfterAnalysis}); got != want {
		t.Errorf("previewDeletedAfter %q, the page says %q", got, want)
	}
	if got, want := strings.ReplaceAll(text("previewDeletedRetain"), "{days}", "90"), deletionText(&app.PublicInvitation{PrivacyMode: facet.PrivacyRetain, RetentionDays: 90}); got != want {
		t.Errorf("previewDeletedRetain %q, the page says %q", got, want)
	}
}
