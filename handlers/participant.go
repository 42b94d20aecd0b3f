package handlers

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/app"
)

// The participant page: web/participant.html rendered here, and its
// script and style from /p/assets/. No third-party code; the page may
// connect only to this app and the Blob endpoint it uploads to.

//go:embed web
var webFS embed.FS

var (
	pageTmpl = template.Must(template.ParseFS(webFS, "web/participant.html"))
	assets   = func() fs.FS { f, _ := fs.Sub(webFS, "web"); return f }()
	// assetTypes are the files /p/assets/ serves, and their types.
	assetTypes = map[string]string{
		"app.js":    "text/javascript; charset=utf-8",
		"upload.js": "text/javascript; charset=utf-8",
		"page.css":  "text/css; charset=utf-8",
		"icon.svg":  "image/svg+xml",
	}
)

// pageData fills web/participant.html. State is "consent" for a usable
// link, or "problem" with Problem set; the page's script may still resume
// an upload it started before a reload (the link is used by then).
type pageData struct {
	State, Problem, ProblemCode string
	Invitation                  *app.PublicInvitation
	Deletion                    string
}

func (h *Handler) participantPage(w http.ResponseWriter, r *http.Request, _ *facet.Client) error {
	d := pageData{State: "consent"}
	st := http.StatusOK
	inv, err := h.App.Invitation(r.Context(), r.PathValue("token"))
	switch code := facet.ErrorCode(err); {
	case err == nil:
		d.Invitation, d.Deletion = inv, deletionText(inv)
	case code == facet.ENotFound:
		st, d.State, d.ProblemCode = http.StatusNotFound, "problem", code
		d.Problem = "This link is not valid. Check that you opened the whole link from your invitation."
	case code == facet.EGone || code == facet.EConflict:
		st, d.State, d.ProblemCode = status[code], "problem", code
		d.Problem = sentence(facet.ErrorMessage(err)) + " If you think this is a mistake, contact the organisation that invited you."
	default:
		return err
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", pageCSP(h.UploadOrigin))
	hd.Set("Referrer-Policy", "no-referrer") // the URL holds the token
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
	w.WriteHeader(st)
	return pageTmpl.Execute(w, d)
}

// pageCSP allows scripts, styles and requests from this app only, plus
// uploads to the Blob endpoint; no inline code, no framing.
func pageCSP(uploadOrigin string) string {
	connect := "'self'"
	if uploadOrigin != "" {
		connect += " " + uploadOrigin
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self' blob:; " +
		"connect-src " + connect + "; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// deletionText tells the participant when their video is deleted.
func deletionText(inv *app.PublicInvitation) string {
	if inv.PrivacyMode == facet.PrivacyDeleteAfterAnalysis {
		return "Your video is deleted right after the software has analysed it, usually within minutes."
	}
	return fmt.Sprintf("Your video is deleted when the study closes, and at the latest %d days after you send it.", inv.RetentionDays)
}

// sentence capitalises msg and ends it with a full stop.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

func (h *Handler) participantAsset(w http.ResponseWriter, r *http.Request, _ *facet.Client) error {
	name := r.PathValue("name")
	ct, ok := assetTypes[name]
	if !ok {
		return facet.Errorf(facet.ENotFound, "no such asset: %s", name)
	}
	b, err := fs.ReadFile(assets, name)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(b)
	return nil
}
