package handlers

import (
	"context"
	"embed"
	"errors"
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
// link, or "problem" with Problem set (and ProblemTitle, when the link is
// not to blame); the page's script may still resume an upload it started
// before a reload (the link is used by then).
type pageData struct {
	State, Problem, ProblemCode, ProblemTitle string
	Reference                                 string // the request id, when the service failed
	Invitation                                *app.PublicInvitation
	Deletion                                  string
}

// participantPage answers an HTML page whatever happens: the link's
// consent step, or a page that says in plain words what went wrong, with
// the same headers, never JSON.
func (h *Handler) participantPage(w http.ResponseWriter, r *http.Request, _ *facet.Client) error {
	d := pageData{State: "consent"}
	st := http.StatusOK
	inv, err := h.App.Invitation(r.Context(), r.PathValue("token"))
	if err == nil {
		d.Invitation, d.Deletion = inv, deletionText(inv)
	} else {
		st = h.pageProblem(w, r, &d, err)
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

// pageProblem fills d with what went wrong, for the participant, and
// returns the status. Failures of the service are logged here, under the
// request id the page shows: serveAPI never sees them.
func (h *Handler) pageProblem(w http.ResponseWriter, r *http.Request, d *pageData, err error) int {
	err = deadlined(r.Context(), err)
	code := errorCode(err)
	d.State, d.ProblemCode = "problem", code
	switch code {
	case facet.ENotFound:
		d.Problem = "This link is not valid. Check that you opened the whole link from your invitation."
		return http.StatusNotFound
	case facet.EGone, facet.EConflict:
		d.Problem = sentence(facet.ErrorMessage(err)) + " If you think this is a mistake, contact the organisation that invited you."
		return status[code]
	}
	reqID := w.Header().Get("X-Request-Id")
	h.Log.Error("participant page failed", "request", reqID, "deadlineExceeded", errors.Is(err, context.DeadlineExceeded), "error", err)
	d.Reference = reqID
	if secs, ok := retryAfter(code, err); ok { // EUnavailable, ETooMany
		w.Header().Set("Retry-After", secs)
		d.ProblemTitle = "Please try again in a few minutes"
		d.Problem = "The service is busy or briefly unavailable. Please reload this page in a few minutes."
		return status[code]
	}
	d.ProblemCode = facet.EInternal
	d.ProblemTitle = "Something went wrong"
	d.Problem = "Something went wrong on our side. Please try again later. If it keeps happening, contact the organisation that invited you."
	return http.StatusInternalServerError
}

// pageCSP allows scripts, styles and requests from this app only, plus
// the Blob endpoint: uploads, and a stimulus study's videos and images
// (played from their read links there); no inline code, no framing.
func pageCSP(uploadOrigin string) string {
	blob := ""
	if uploadOrigin != "" {
		blob = " " + uploadOrigin
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'" + blob + "; media-src 'self' blob:" + blob + "; " +
		"connect-src 'self'" + blob + "; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
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
