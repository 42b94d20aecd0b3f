package handlers

import (
	"bytes"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/humaninsight/facet/api"
)

// docsServer serves a handler whose API reference script is docs (nil:
// none configured), its answers held to the contract.
func docsServer(t *testing.T, docs fs.FS) *httptest.Server {
	t.Helper()
	h := &Handler{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), APIDocs: docs}
	srv := httptest.NewServer(withContract(t, h.ServeMux()))
	t.Cleanup(srv.Close)
	return srv
}

// docsGet sends a GET with optional headers (name, value, ...) and returns
// the answer with its body read.
func docsGet(t *testing.T, url string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// TestOpenAPIDocument: GET /api/openapi.json is api/openapi.json as
// committed, JSON, with no key, and revalidates by its ETag.
func TestOpenAPIDocument(t *testing.T) {
	srv := docsServer(t, nil)
	committed, err := os.ReadFile(openAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := docsGet(t, srv.URL+"/api/openapi.json")
	tag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || !bytes.Equal(body, committed) || !bytes.Equal(body, api.Document) {
		t.Fatalf("%d, %d bytes: want 200 and api/openapi.json (%d bytes)", resp.StatusCode, len(body), len(committed))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" || !strings.HasPrefix(tag, `"`) || len(tag) < 10 {
		t.Errorf("Cache-Control %q, ETag %q: want no-cache and a strong validator", cc, tag)
	}
	for _, inm := range []string{tag, "W/" + tag, `"other", ` + tag, "*"} {
		resp, body := docsGet(t, srv.URL+"/api/openapi.json", "If-None-Match", inm)
		if resp.StatusCode != http.StatusNotModified || len(body) != 0 || resp.Header.Get("ETag") != tag {
			t.Errorf("If-None-Match %s: %d with %d bytes, ETag %q; want 304, empty", inm, resp.StatusCode, len(body), resp.Header.Get("ETag"))
		}
	}
	if resp, _ := docsGet(t, srv.URL+"/api/openapi.json", "If-None-Match", `"stale"`); resp.StatusCode != 200 {
		t.Errorf("a stale ETag: %d, want 200", resp.StatusCode)
	}
}

// TestAPIDocs: GET /api/docs is a page that runs only this app's copy of
// the script and points it at this app's document; the script is served
// with a validator; without it the page says so with 503.
func TestAPIDocs(t *testing.T) {
	script := []byte("/* redoc */")
	srv := docsServer(t, fstest.MapFS{APIDocsScript: {Data: script}})

	resp, body := docsGet(t, srv.URL+"/api/docs")
	csp := resp.Header.Get("Content-Security-Policy")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{`spec-url="/api/openapi.json"`, `<script src="/api/docs/` + APIDocsScript + `">`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if bytes.Count(body, []byte("<script")) != 1 || bytes.Contains(body, []byte("://")) {
		t.Errorf("the page loads more than its one script, or names another origin:\n%s", body)
	}
	for _, want := range []string{"default-src 'none'", "script-src 'self';", "connect-src 'self';", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %s", csp, want)
		}
	}
	if strings.Contains(csp, "http") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP %q allows another origin or eval", csp)
	}

	resp, body = docsGet(t, srv.URL+"/api/docs/"+APIDocsScript)
	tag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || !bytes.Equal(body, script) || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" || tag == "" {
		t.Errorf("script: %d %q %q, ETag %q", resp.StatusCode, resp.Header.Get("Content-Type"), body, tag)
	}
	if resp, _ := docsGet(t, srv.URL+"/api/docs/"+APIDocsScript, "If-None-Match", tag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("script revalidated: %d, want 304", resp.StatusCode)
	}
	for _, name := range []string{"redoc.standalone.js.map", "app.js", "..%2fapidocs.html"} {
		if resp, _ := docsGet(t, srv.URL+"/api/docs/"+name); resp.StatusCode != 404 {
			t.Errorf("/api/docs/%s: %d, want 404", name, resp.StatusCode)
		}
	}

	for name, docs := range map[string]fs.FS{"none configured": nil, "script missing": fstest.MapFS{}, "script empty": fstest.MapFS{APIDocsScript: {}}} {
		srv := docsServer(t, docs)
		resp, body := docsGet(t, srv.URL+"/api/docs")
		if resp.StatusCode != http.StatusServiceUnavailable || !bytes.Contains(body, []byte("not installed")) || resp.Header.Get("Retry-After") != "" {
			t.Errorf("%s: %d %q Retry-After %q; want 503, a page that says so, no Retry-After", name, resp.StatusCode, body, resp.Header.Get("Retry-After"))
		}
		if resp, _ := docsGet(t, srv.URL+"/api/docs/"+APIDocsScript); resp.StatusCode != 404 {
			t.Errorf("%s: the script answers %d, want 404", name, resp.StatusCode)
		}
	}
}
