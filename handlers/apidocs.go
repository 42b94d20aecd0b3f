package handlers

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/api"
)

// The API reference: GET /api/openapi.json is the contract, built into
// the binary, and GET /api/docs a small page (web/apidocs.html) whose
// script, Redoc's standalone bundle, renders that document in the
// browser, so the reference is always the document this binary serves.
// The bundle (about 900 KB, pinned and installed by `make setup`,
// shipped by `make package`) is not built in: Handler.APIDocs provides it.

// APIDocsScript is the file Handler.APIDocs holds: Redoc's standalone
// bundle, served at /api/docs/redoc.standalone.js.
const APIDocsScript = "redoc.standalone.js"

var (
	docsPage    = func() []byte { b, _ := fs.ReadFile(webFS, "web/apidocs.html"); return b }() // embedded: cannot fail
	openAPIETag = etag(api.Document)
)

// docsPageCSP lets the page run the bundle from this app and read the
// document from this app, nothing else. Redoc's styles are inline
// (styled-components), its search index runs in a worker made from a
// blob: URL, and its icons are data: images.
const docsPageCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"connect-src 'self'; worker-src blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// docsMissing is the page of /api/docs when the bundle is not installed.
const docsMissing = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>facet API reference: not installed</title></head>
<body><h1>The API reference is not installed on this server</h1>
<p>Its script is missing from the deployment. The API's OpenAPI document is at <a href="/api/openapi.json">/api/openapi.json</a>.</p>
</body></html>
`

// docsScript is the bundle as read from Handler.APIDocs.
type docsScript struct {
	body []byte
	etag string
}

// docsCache holds the bundle once it has been read. A missing bundle is
// not remembered: it is looked for again on the next request.
type docsCache struct {
	mu     sync.Mutex
	script *docsScript
}

// apiDocsScript returns the bundle, read once from h.APIDocs.
func (h *Handler) apiDocsScript() (*docsScript, error) {
	h.docs.mu.Lock()
	defer h.docs.mu.Unlock()
	if h.docs.script != nil {
		return h.docs.script, nil
	}
	if h.APIDocs == nil {
		return nil, fmt.Errorf("apidocs: no folder for %s configured", APIDocsScript)
	}
	b, err := fs.ReadFile(h.APIDocs, APIDocsScript)
	if err == nil && len(b) == 0 {
		err = fmt.Errorf("%s is empty", APIDocsScript)
	}
	if err != nil {
		return nil, fmt.Errorf("apidocs: %w", err)
	}
	h.docs.script = &docsScript{body: b, etag: etag(b)}
	return h.docs.script, nil
}

// apiDocs answers the reference's page, or, when its script is not
// installed, a page that says so with 503 rather than a page that would
// stay blank.
func (h *Handler) apiDocs(w http.ResponseWriter, r *http.Request, _ *facet.Client) error {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	if _, err := h.apiDocsScript(); err != nil {
		h.Log.Error("API reference unavailable", "request", hd.Get("X-Request-Id"), "error", err)
		hd.Set("Content-Security-Policy", "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, err := w.Write([]byte(docsMissing))
		return err
	}
	hd.Set("Content-Security-Policy", docsPageCSP)
	_, err := w.Write(docsPage)
	return err
}

// apiDocsAsset answers the reference's script.
func (h *Handler) apiDocsAsset(w http.ResponseWriter, r *http.Request, _ *facet.Client) error {
	if name := r.PathValue("name"); name != APIDocsScript {
		return facet.Errorf(facet.ENotFound, "no such file: %s", name)
	}
	s, err := h.apiDocsScript()
	if err != nil {
		h.Log.Error("API reference unavailable", "request", w.Header().Get("X-Request-Id"), "error", err)
		return facet.Errorf(facet.ENotFound, "the API reference is not installed on this server")
	}
	serveCached(w, r, "text/javascript; charset=utf-8", "public, max-age=300", s.etag, s.body)
	return nil
}

// openAPI answers api/openapi.json. It is revalidated on every use (its
// ETag changes with the deployed document), so a reference never reads
// a stale one.
func (h *Handler) openAPI(w http.ResponseWriter, r *http.Request, _ *facet.Client) error {
	serveCached(w, r, "application/json; charset=utf-8", "no-cache", openAPIETag, api.Document)
	return nil
}

// serveCached answers body with its validator, or 304 when the caller's
// If-None-Match holds it already.
func serveCached(w http.ResponseWriter, r *http.Request, contentType, cacheControl, tag string, body []byte) {
	hd := w.Header()
	hd.Set("Cache-Control", cacheControl)
	hd.Set("ETag", tag)
	hd.Set("X-Content-Type-Options", "nosniff")
	if etagMatch(r.Header.Get("If-None-Match"), tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Type", contentType)
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

// etag is a strong validator of b: a quoted prefix of its sha256.
func etag(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// etagMatch reports whether an If-None-Match header names tag, by the
// weak comparison RFC 9110 (section 13.1.2) asks for: W/ is ignored.
func etagMatch(header, tag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == tag {
			return true
		}
	}
	return false
}
