package main

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/humaninsight/facet/api"
	"github.com/humaninsight/facet/handlers"
	"github.com/humaninsight/facet/internal/browsertest"
	"github.com/humaninsight/facet/internal/devhost"
	"github.com/humaninsight/facet/internal/testenv"
)

// operationSummaries returns the summary of every operation in
// api/openapi.json, by "METHOD /path".
func operationSummaries(t *testing.T) map[string]string {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(api.Document, &doc); err != nil {
		t.Fatal(err)
	}
	methods := []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}
	out := map[string]string{}
	for path, item := range doc.Paths {
		for method, raw := range item {
			if !slices.Contains(methods, method) {
				continue
			}
			var op struct {
				Summary string `json:"summary"`
			}
			if err := json.Unmarshal(raw, &op); err != nil || op.Summary == "" {
				t.Fatalf("%s %s: no summary (%v)", method, path, err)
			}
			out[strings.ToUpper(method)+" "+path] = op.Summary
		}
	}
	return out
}

// TestAPIReferencePage: GET /api/docs in Chromium, through the host
// stand-in, from the handler with the script found where `facet serve`
// looks for it (make setup puts it there). Redoc renders the document of
// GET /api/openapi.json: every operation's summary is a heading of the
// page, its search works, and nothing is logged (console errors, failed
// loads, CSP violations) but the blocked vendor logo. Without the script
// the page says so with 503, and nothing renders.
func TestAPIReferencePage(t *testing.T) {
	testenv.File(t, ".cache/apidocs/"+handlers.APIDocsScript)
	summaries := operationSummaries(t)
	if len(summaries) < 30 {
		t.Fatalf("%d operations in api/openapi.json", len(summaries))
	}
	log := testLog()
	h := &handlers.Handler{Log: log, APIDocs: apiDocs(log)}
	srv := httptest.NewServer(h.ServeMux())
	t.Cleanup(srv.Close)
	// Through the host stand-in, as in Azure: only what functions/*
	// routes reaches the handler.
	fns, err := devhost.LoadFunctions(filepath.Join(testenv.RepoRoot(), "functions"))
	if err != nil {
		t.Fatal(err)
	}
	host, err := devhost.New(devhost.Config{HandlerURL: srv.URL, Functions: fns, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(host.Handler())
	t.Cleanup(front.Close)

	b := browsertest.New(t, browsertest.Options{})
	// Once it has fetched and read the document, Redoc draws it whole, an
	// h2 per tag and per operation.
	headings := `[...document.querySelectorAll(".api-content h2")].map(e => e.textContent.trim())`
	b.Do(t, 60*time.Second,
		chromedp.Navigate(front.URL+"/api/docs"),
		browsertest.WaitJS(headings+`.length >= `+strconv.Itoa(len(summaries))))
	// The page is some 60,000 px long: the first screen is what a reader sees.
	shot := browsertest.Run(t, b, 10*time.Second, chromedp.CaptureScreenshot())
	if err := os.WriteFile(filepath.Join(browsertest.ArtifactDir(t), "api-docs.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}
	got := browsertest.Run(t, b, 10*time.Second, chromedp.Evaluate[[]string](headings))
	for op, s := range summaries {
		if !slices.Contains(got, s) {
			t.Errorf("%s: its summary %q is not a heading of the reference", op, s)
		}
	}
	// The search runs in Redoc's worker (a blob: URL under the CSP).
	b.Do(t, 30*time.Second,
		chromedp.SendKeys(`[role="search"] input`, "invitation"),
		browsertest.WaitJS(`document.querySelectorAll('[data-role="search:results"] li').length > 0`))
	// Redoc's side menu shows a logo from its vendor's CDN: the CSP blocks
	// it (the reference fetches nothing from elsewhere, and the image
	// hides itself), and that is the one violation Chromium may report.
	noErrors(t, b, "'https://cdn.redoc.ly/redoc/logo-mini.svg' violates the following Content Security Policy directive")

	t.Run("script missing", func(t *testing.T) {
		h := &handlers.Handler{Log: log, APIDocs: fstest.MapFS{}}
		srv := httptest.NewServer(h.ServeMux())
		t.Cleanup(srv.Close)
		b := browsertest.New(t, browsertest.Options{})
		b.Do(t, 30*time.Second,
			chromedp.Navigate(srv.URL+"/api/docs"),
			browsertest.WaitJS(`document.readyState === "complete"`))
		if h1 := b.Text(t, "h1"); !strings.Contains(h1, "not installed") {
			t.Errorf("page without the script: heading %q", h1)
		}
		if n := browsertest.Run(t, b, 5*time.Second, chromedp.Evaluate[int](`document.querySelectorAll(".api-content").length`)); n != 0 {
			t.Errorf("page without the script rendered a reference")
		}
		noErrors(t, b, "503")
	})
}
