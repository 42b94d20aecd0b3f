package handlers

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/humaninsight/facet"
)

// The client portal: a single-page app under /app/ that calls the same
// API as integrators do. Every page path answers the one HTML shell
// (portal/index.html), so a client-side route can be linked to and
// reloaded; /app/assets/<name> answers the shell's scripts, style and
// icon, all of them in portal/, none from elsewhere.

//go:embed portal
var portalEmbed embed.FS

// PortalCSP is the portal's Content-Security-Policy: code and style from
// this app only, never inline; requests to this app only; no framing.
const PortalCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// portalTypes are the types of the assets /app/assets/ serves, by
// extension; a file of any other extension is not served.
var portalTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".svg": "image/svg+xml",
}

// portalFile is one embedded file with its ETag.
type portalFile struct {
	body []byte
	etag string
}

var (
	portalFiles = func() fs.FS { f, _ := fs.Sub(portalEmbed, "portal"); return f }()
	portalCache = loadPortal(portalFiles)
)

// loadPortal reads every file of the portal once, with a strong ETag of
// its content.
func loadPortal(fsys fs.FS) map[string]portalFile {
	files := map[string]portalFile{}
	fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		files[p] = portalFile{b, `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	return files
}

// portal answers GET /app/{path...}: an asset under assets/, a 404 for
// any other path whose last segment has a dot (a mistyped file, not a
// page), and the HTML shell for every other path.
func (h *Handler) portal(w http.ResponseWriter, r *http.Request, _ *facet.Client) error {
	p := r.PathValue("path")
	if name, ok := strings.CutPrefix(p, "assets/"); ok {
		return portalAsset(w, r, name)
	}
	if strings.Contains(path.Base("/"+p), ".") {
		return facet.Errorf(facet.ENotFound, "no such page")
	}
	f, ok := portalCache["index.html"]
	if !ok {
		return facet.Errorf(facet.EInternal, "portal: index.html is not embedded")
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", PortalCSP)
	hd.Set("Referrer-Policy", "no-referrer") // sign-up links carry their token in the fragment; no page URL leaves
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Permissions-Policy", "camera=()")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cache-Control", "no-cache")
	w.Write(f.body)
	return nil
}

// portalAsset answers one asset with its type, revalidated by ETag on
// each use: asset names carry no version, so a new release is seen at once.
func portalAsset(w http.ResponseWriter, r *http.Request, name string) error {
	ct, typed := portalTypes[path.Ext(name)]
	f, ok := portalCache[name]
	if !typed || !ok || !fs.ValidPath(name) {
		return facet.Errorf(facet.ENotFound, "no such asset: %s", name)
	}
	hd := w.Header()
	hd.Set("Content-Type", ct)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("ETag", f.etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	w.Write(f.body)
	return nil
}
