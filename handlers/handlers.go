// Package handlers is the Functions custom handler: one HTTP server that
// the Functions host calls. HTTP functions arrive as the original request
// (enableForwardingHttpRequest); triggers arrive as invocation posts to
// /<FunctionName>. Each handler decodes its input, calls package app, and
// maps errors to responses in one place (writeError).
package handlers

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/app"
)

// MaxBody bounds every JSON request body.
const MaxBody = 64 << 10

// Handler serves the API and the triggers.
type Handler struct {
	App      *app.App
	AdminKey string // FACET_ADMIN_KEY; "" disables operator routes
	// UploadOrigin is the Blob endpoint's scheme://host[:port]: the only
	// place besides itself the participant page may connect to (CSP).
	UploadOrigin string
	Log          *slog.Logger
	// APIDocs holds the API reference's script (APIDocsScript) for
	// /api/docs; nil, or without the file, the page answers 503.
	APIDocs fs.FS
	docs    docsCache
	// ReadTimeout and WriteTimeout bound an API request that has no
	// Route.Timeout: ReadTimeout for GET and HEAD, WriteTimeout for the
	// rest. Zero takes DefaultReadTimeout and DefaultWriteTimeout. When
	// the deadline passes, the answer is 503 with Retry-After.
	ReadTimeout, WriteTimeout time.Duration
	// Guard counts failed authentications per source and refuses a source
	// that failed too often (429). Nil: NewThrottle(AuthFailures,
	// AuthWindow, AuthMaxSources), made on first use.
	Guard *Throttle
	// AccountGuard counts failed sign-ins per address. Nil:
	// NewThrottle(SignInFailures, SignInWindow, AuthMaxSources).
	AccountGuard *Throttle
	guardOnce    sync.Once
}

// Deadlines of API requests (see Handler.ReadTimeout and Route.Timeout).
// Reads answer within seconds or not at all; LongTimeout is for the routes
// that walk a whole project or client (exports, the report, a full
// timeline, erasure), well within the 230 s the platform allows a response.
const (
	DefaultReadTimeout  = 5 * time.Second
	DefaultWriteTimeout = 15 * time.Second
	LongTimeout         = 2 * time.Minute
)

// unavailableRetry is the Retry-After of a 503 whose cause did not say.
const unavailableRetry = 5 * time.Second

// Access says who may call a route. Its zero value lets nobody in, so a
// route whose access was left out is closed, never public.
type Access int

// Route access levels.
const (
	AccessNone    Access = iota // the zero value: every request refused
	AccessPublic                // anyone: participants' links and pages
	AccessClient                // a client's API key (Authorization: Bearer) or a member's session
	AccessAdmin                 // the operator's key (X-Admin-Key) or an operator's session
	AccessSession               // a signed-in person's session, any role
)

// String names the access level as README's route table does.
func (a Access) String() string {
	switch a {
	case AccessPublic:
		return "public"
	case AccessClient:
		return "client"
	case AccessAdmin:
		return "admin"
	case AccessSession:
		return "session"
	}
	return "none"
}

// Route is one API route: the function that serves it in the Functions
// host (functions/<Function>/function.json) and its handler.
type Route struct {
	Function string // function folder name
	Method   string
	Path     string // Go ServeMux pattern path, e.g. /api/projects/{id}
	Auth     Access
	Timeout  time.Duration // the request's deadline; 0: the Handler's for the method
	serve    func(h *Handler, w http.ResponseWriter, r *http.Request, c *facet.Client) error
}

// Routes is every HTTP route; a test checks it against functions/*.
func Routes() []Route {
	return []Route{
		{"Session", "POST", "/api/session", AccessPublic, 0, (*Handler).signIn},
		{"Session", "GET", "/api/session", AccessSession, 0, (*Handler).getSession},
		{"Session", "DELETE", "/api/session", AccessSession, 0, (*Handler).signOut},
		{"AccountSessions", "GET", "/api/account/sessions", AccessSession, 0, (*Handler).listSessions},
		{"AccountSession", "DELETE", "/api/account/sessions/{id}", AccessSession, 0, (*Handler).revokeSession},
		{"AccountPassword", "POST", "/api/account/password", AccessSession, 0, (*Handler).changePassword},
		{"AccountTOTP", "POST", "/api/account/totp", AccessSession, 0, (*Handler).startTOTP},
		{"AccountTOTP", "PUT", "/api/account/totp", AccessSession, 0, (*Handler).confirmTOTP},
		{"AccountTOTP", "DELETE", "/api/account/totp", AccessSession, 0, (*Handler).disableTOTP},
		{"SignUp", "GET", "/api/signup/{token}", AccessPublic, 0, (*Handler).signUpInfo},
		{"SignUp", "POST", "/api/signup/{token}", AccessPublic, 0, (*Handler).signUp},
		{"Team", "GET", "/api/team", AccessClient, 0, (*Handler).getTeam},
		{"TeamInvitations", "POST", "/api/team/invitations", AccessClient, 0, (*Handler).inviteMember},
		{"TeamMember", "PATCH", "/api/team/{id}", AccessClient, 0, (*Handler).patchMember},
		{"TeamMember", "DELETE", "/api/team/{id}", AccessClient, 0, (*Handler).removeMember},
		{"Clients", "GET", "/api/clients", AccessAdmin, 0, (*Handler).listClients},
		{"Clients", "POST", "/api/clients", AccessAdmin, 0, (*Handler).createClient},
		{"ClientInvitations", "POST", "/api/clients/{id}/invitations", AccessAdmin, 0, (*Handler).inviteOwner},
		{"OperatorInvitations", "POST", "/api/operators/invitations", AccessAdmin, 0, (*Handler).inviteOperator},
		{"ClientMe", "GET", "/api/clients/me", AccessClient, 0, (*Handler).getMe},
		{"ClientMe", "PATCH", "/api/clients/me", AccessClient, 0, (*Handler).patchMe},
		{"ClientMe", "DELETE", "/api/clients/me", AccessClient, LongTimeout, (*Handler).eraseMe},
		{"ClientKeys", "GET", "/api/clients/me/keys", AccessClient, 0, (*Handler).listKeys},
		{"ClientKeys", "POST", "/api/clients/me/keys", AccessClient, 0, (*Handler).createKey},
		{"ClientKey", "DELETE", "/api/clients/me/keys/{id}", AccessClient, 0, (*Handler).revokeKey},
		{"ClientAudit", "GET", "/api/clients/me/audit", AccessClient, 0, (*Handler).myAudit},
		{"ClientByID", "DELETE", "/api/clients/{id}", AccessAdmin, LongTimeout, (*Handler).eraseClient},
		{"ClientAuditByID", "GET", "/api/clients/{id}/audit", AccessAdmin, 0, (*Handler).clientAudit},
		{"Projects", "GET", "/api/projects", AccessClient, 0, (*Handler).listProjects},
		{"Projects", "POST", "/api/projects", AccessClient, 0, (*Handler).createProject},
		{"Project", "GET", "/api/projects/{id}", AccessClient, 0, (*Handler).getProject},
		{"Project", "PATCH", "/api/projects/{id}", AccessClient, 0, (*Handler).patchProject},
		{"Project", "DELETE", "/api/projects/{id}", AccessClient, 0, (*Handler).removeProject},
		{"ProjectClose", "POST", "/api/projects/{id}/close", AccessClient, 0, (*Handler).closeProject},
		{"ProjectReopen", "POST", "/api/projects/{id}/reopen", AccessClient, 0, (*Handler).reopenProject},
		{"ProjectAudit", "GET", "/api/projects/{id}/audit", AccessClient, 0, (*Handler).projectAudit},
		{"ProjectExportCSV", "GET", "/api/projects/{id}/export.csv", AccessClient, LongTimeout, (*Handler).exportCSV},
		{"ProjectReport", "GET", "/api/projects/{id}/report", AccessClient, LongTimeout, (*Handler).report},
		{"ProjectExportJSON", "GET", "/api/projects/{id}/export.json", AccessClient, LongTimeout, (*Handler).exportJSON},
		{"ProjectInvitations", "GET", "/api/projects/{id}/invitations", AccessClient, 0, (*Handler).listInvitations},
		{"ProjectInvitations", "POST", "/api/projects/{id}/invitations", AccessClient, 0, (*Handler).createInvitation},
		{"ProjectRecordings", "GET", "/api/projects/{id}/recordings", AccessClient, 0, (*Handler).listRecordings},
		{"ProjectRecordings", "POST", "/api/projects/{id}/recordings", AccessClient, 0, (*Handler).createRecording},
		{"ProjectStimuli", "GET", "/api/projects/{id}/stimuli", AccessClient, 0, (*Handler).listStimuli},
		{"ProjectStimuli", "POST", "/api/projects/{id}/stimuli", AccessClient, 0, (*Handler).createStimulus},
		{"ProjectStimulus", "GET", "/api/projects/{id}/stimuli/{stimulusId}", AccessClient, 0, (*Handler).getStimulus},
		{"ProjectStimulus", "PATCH", "/api/projects/{id}/stimuli/{stimulusId}", AccessClient, 0, (*Handler).patchStimulus},
		{"ProjectStimulus", "DELETE", "/api/projects/{id}/stimuli/{stimulusId}", AccessClient, 0, (*Handler).deleteStimulus},
		{"ProjectStimulusResults", "GET", "/api/projects/{id}/stimuli/{stimulusId}/results", AccessClient, LongTimeout, (*Handler).stimulusResults},
		{"ProjectStimulusResultsCSV", "GET", "/api/projects/{id}/stimuli/{stimulusId}/results.csv", AccessClient, LongTimeout, (*Handler).stimulusResultsCSV},
		{"Invitation", "GET", "/api/invitations/{key}", AccessPublic, 0, (*Handler).getInvitation},
		{"Invitation", "DELETE", "/api/invitations/{key}", AccessClient, 0, (*Handler).revokeInvitation},
		{"InvitationConsent", "POST", "/api/invitations/{key}/consent", AccessPublic, 0, (*Handler).consent},
		{"Recording", "GET", "/api/recordings/{id}", AccessClient, 0, (*Handler).getRecording},
		{"Recording", "DELETE", "/api/recordings/{id}", AccessClient, 0, (*Handler).removeRecording},
		{"RecordingAnalysis", "GET", "/api/recordings/{id}/analyses/{analysisId}", AccessClient, LongTimeout, (*Handler).getAnalysis},
		{"RecordingAnalysis", "DELETE", "/api/recordings/{id}/analyses/{analysisId}", AccessClient, 0, (*Handler).deleteAnalysis},
		{"RecordingReanalyze", "POST", "/api/recordings/{id}/reanalyze", AccessClient, 0, (*Handler).reanalyze},
		{"RecordingVideo", "GET", "/api/recordings/{id}/video", AccessClient, 0, (*Handler).getVideo},
		{"Webhooks", "GET", "/api/webhooks", AccessClient, 0, (*Handler).listWebhooks},
		{"Webhooks", "POST", "/api/webhooks", AccessClient, 0, (*Handler).createWebhook},
		{"Webhook", "GET", "/api/webhooks/{id}", AccessClient, 0, (*Handler).getWebhook},
		{"Webhook", "DELETE", "/api/webhooks/{id}", AccessClient, 0, (*Handler).deleteWebhook},
		{"WebhookSecret", "POST", "/api/webhooks/{id}/secret", AccessClient, 0, (*Handler).rotateWebhookSecret},
		{"WebhookPing", "POST", "/api/webhooks/{id}/ping", AccessClient, 0, (*Handler).pingWebhook},
		{"ParticipantPage", "GET", "/p/{token}", AccessPublic, 0, (*Handler).participantPage},
		{"ParticipantAssets", "GET", "/p/assets/{name}", AccessPublic, 0, (*Handler).participantAsset},
		{"ApiDocs", "GET", "/api/docs", AccessPublic, 0, (*Handler).apiDocs},
		{"ApiDocsAssets", "GET", "/api/docs/{name}", AccessPublic, 0, (*Handler).apiDocsAsset},
		{"OpenAPI", "GET", "/api/openapi.json", AccessPublic, 0, (*Handler).openAPI},
		{"Portal", "GET", "/app/{path...}", AccessPublic, 0, (*Handler).portal},
	}
}

// Triggers are the non-HTTP functions: the host posts their invocations
// to /<Function>.
var Triggers = map[string]func(h *Handler, w http.ResponseWriter, r *http.Request){
	"AnalyzeRecording": (*Handler).analyzeRecording,
	"RunAnalysis":      (*Handler).runAnalysis,
	"DeleteData":       (*Handler).deleteData,
	"RetentionSweep":   (*Handler).retentionSweep,
	"DeliverWebhook":   (*Handler).deliverWebhook,
}

// ServeMux returns the handler's routes: the API, the triggers, and the
// root, which the host pings until the handler is up.
func (h *Handler) ServeMux() *http.ServeMux {
	mux := http.NewServeMux()
	for _, rt := range Routes() {
		rt := rt
		mux.HandleFunc(rt.Method+" "+rt.Path, func(w http.ResponseWriter, r *http.Request) { h.serveAPI(w, r, rt) })
	}
	for name, fn := range Triggers {
		fn := fn
		mux.HandleFunc("POST /"+name, func(w http.ResponseWriter, r *http.Request) { fn(h, w, r) })
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", newRequestID())
		w.Header().Set("Cache-Control", "no-store")
		if allow := allowedMethods(r.URL.Path); allow != "" {
			w.Header().Set("Allow", allow)
			writeError(w, facet.Errorf(EMethod, "%s is not a method of this route: use %s", r.Method, allow))
			return
		}
		writeError(w, facet.Errorf(facet.ENotFound, "no such route"))
	})
	return mux
}

// allowedMethods returns the methods of the routes whose path matches path,
// comma-separated (an Allow header), or "" when no route's does. A
// wildcard matches one non-empty segment, as ServeMux's do.
func allowedMethods(path string) string {
	segs := strings.Split(path, "/")
	var methods []string
	for _, rt := range Routes() {
		pat := strings.Split(rt.Path, "/")
		if len(pat) != len(segs) || slices.Contains(methods, rt.Method) {
			continue
		}
		match := true
		for i, p := range pat {
			wild := strings.HasPrefix(p, "{") && segs[i] != ""
			if p != segs[i] && !wild {
				match = false
				break
			}
		}
		if match {
			methods = append(methods, rt.Method)
		}
	}
	return strings.Join(methods, ", ")
}

// serveAPI runs one API route: a deadline, the checks of admit, the
// route's handler, and one error answer (fail) whatever went wrong.
func (h *Handler) serveAPI(w http.ResponseWriter, r *http.Request, rt Route) {
	w.Header().Set("Cache-Control", "no-store")
	reqID := newRequestID()
	w.Header().Set("X-Request-Id", reqID)
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout(rt, r.Method))
	defer cancel()
	r = r.WithContext(ctx)
	rw := &responseWriter{ResponseWriter: w}
	c, r, err := h.admit(r, rt)
	if err == nil {
		err = rt.serve(h, rw, r, c)
	}
	if err != nil {
		h.fail(rw, r, rt, reqID, err)
	}
}

// timeout returns the deadline of a request to rt.
func (h *Handler) timeout(rt Route, method string) time.Duration {
	switch {
	case rt.Timeout > 0:
		return rt.Timeout
	case method == http.MethodGet || method == http.MethodHead:
		return cmp.Or(h.ReadTimeout, DefaultReadTimeout)
	}
	return cmp.Or(h.WriteTimeout, DefaultWriteTimeout)
}

// admit checks what comes before a route's handler: the ids in the path
// and the caller's credentials. It returns the calling client, if any,
// and the request, carrying the caller's session if it has one.
func (h *Handler) admit(r *http.Request, rt Route) (*facet.Client, *http.Request, error) {
	// Ids in the path are checked here, once: one that cannot exist is
	// unknown (404), and never reaches a store whose own refusal would
	// speak of its internals.
	for _, name := range []string{"id", "analysisId", "stimulusId"} {
		if v := r.PathValue(name); strings.Contains(rt.Path, "{"+name+"}") && !facet.ValidID(v) {
			return nil, r, facet.Errorf(facet.ENotFound, "no such %s", pathThing(rt.Path, name))
		}
	}
	switch rt.Auth {
	case AccessPublic:
		return nil, r, nil
	case AccessAdmin, AccessClient, AccessSession:
		return h.authenticate(r, rt)
	}
	// Deny by default: a route without access is a bug.
	h.Log.Error("route without access refused", "function", rt.Function, "method", r.Method)
	return nil, r, facet.Errorf(facet.EUnauthorized, "this route is not open to any caller")
}

// authenticate checks the admin or client key of a request, counting
// failures per source. A source that failed too often is refused before
// its key is looked at, the right key included: were the right key let
// in, each answer would still tell a throttled guesser whether its guess
// was right, and the throttle would slow nothing down.
func (h *Handler) authenticate(r *http.Request, rt Route) (*facet.Client, *http.Request, error) {
	src := clientAddr(r)
	guard := h.guard()
	if wait, blocked := guard.Blocked(src); blocked {
		return nil, r, facet.Throttled(wait, "too many failed authentication attempts: retry later")
	}
	// Only a key that was sent and is wrong counts as a failure (not a
	// store that failed). A request with no credential, or with a session
	// cookie that has ended, guesses nothing: a cookie's secret has 256
	// bits. Counting them would let a signed-out portal's reloads throttle
	// every person and key behind the same address.
	keyed := r.Header.Get("Authorization") != "" || r.Header.Get("X-Admin-Key") != ""
	c, r, err := h.checkCredential(r, rt)
	if keyed && facet.ErrorCode(err) == facet.EUnauthorized {
		guard.Fail(src)
	}
	return c, r, err
}

func (h *Handler) checkKey(r *http.Request, level Access) (*facet.Client, error) {
	if level == AccessAdmin {
		key := r.Header.Get("X-Admin-Key")
		if h.AdminKey == "" || subtle.ConstantTimeCompare([]byte(key), []byte(h.AdminKey)) != 1 {
			return nil, facet.Errorf(facet.EUnauthorized, "missing or invalid X-Admin-Key")
		}
		return nil, nil
	}
	key, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		return nil, facet.Errorf(facet.EUnauthorized, "missing Authorization: Bearer <API key>")
	}
	return h.App.Authenticate(r.Context(), key)
}

func (h *Handler) guard() *Throttle {
	h.guardOnce.Do(h.initGuards)
	return h.Guard
}

func (h *Handler) initGuards() {
	if h.Guard == nil {
		h.Guard = NewThrottle(AuthFailures, AuthWindow, AuthMaxSources)
	}
	if h.AccountGuard == nil {
		h.AccountGuard = NewThrottle(SignInFailures, SignInWindow, AuthMaxSources)
	}
}

// fail answers a failed request, logs what the caller is not told, and
// leaves an answer that has begun alone (its status is out already).
func (h *Handler) fail(w *responseWriter, r *http.Request, rt Route, reqID string, err error) {
	err = deadlined(r.Context(), err)
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		h.Log.Info("caller went away", "function", rt.Function, "method", r.Method, "request", reqID)
		return
	}
	if w.wrote {
		h.Log.Error("request failed after its answer began", "function", rt.Function, "method", r.Method, "request", reqID, "error", err)
		return
	}
	code := errorCode(err)
	if _, known := status[code]; !known || code == facet.EInternal || code == facet.EUnavailable {
		h.Log.Error("request failed", "function", rt.Function, "method", r.Method, "request", reqID,
			"deadlineExceeded", errors.Is(err, context.DeadlineExceeded), "error", err)
	} else {
		// The answer carries the request id; this line is where it leads.
		h.Log.Info("request refused", "function", rt.Function, "method", r.Method, "request", reqID, "code", code)
	}
	if code == facet.EUnauthorized {
		w.Header().Set("WWW-Authenticate", challenge(rt.Auth))
	}
	writeError(w, err)
}

// challenge is the WWW-Authenticate of a 401 (RFC 9110, section 11.6.1):
// the Bearer scheme for a client's API key; the operator's key travels in
// its own header, which the AdminKey scheme names.
func challenge(a Access) string {
	switch a {
	case AccessAdmin:
		return `AdminKey realm="facet", header="X-Admin-Key"`
	case AccessSession, AccessPublic:
		return `Cookie realm="facet", cookie="` + SessionCookie + `"`
	}
	return `Bearer realm="facet"`
}

// deadlined returns err, joined with the deadline's error when the
// request's deadline has passed and err says no more than "internal": a
// dependency may report its timeout in its own words, without wrapping.
func deadlined(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && errorCode(err) == facet.EInternal {
		return errors.Join(err, ctx.Err())
	}
	return err
}

// errorCode is facet.ErrorCode, except that a deadline anywhere in err's
// chain makes it EUnavailable: the request may well succeed later.
func errorCode(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return facet.EUnavailable
	}
	return facet.ErrorCode(err)
}

// responseWriter notes whether the answer has begun, so that an error
// after that is logged rather than written into it.
type responseWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *responseWriter) WriteHeader(code int) {
	if code >= 200 { // 1xx answers are interim
		w.wrote = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *responseWriter) Flush() {
	w.wrote = true
	http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// newRequestID returns a random id that ties an answer to its log line.
func newRequestID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// pathThing names what a path parameter identifies, from the segment
// before it: /api/recordings/{id} -> recording.
func pathThing(path, name string) string {
	singular := map[string]string{"sessions": "session", "team": "member", "keys": "API key", "clients": "client", "projects": "project", "recordings": "recording", "analyses": "analysis", "webhooks": "webhook", "stimuli": "stimulus"}
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if p == "{"+name+"}" && i > 0 && singular[parts[i-1]] != "" {
			return singular[parts[i-1]]
		}
	}
	return "resource"
}

// bearer returns the credentials of an Authorization header in the Bearer
// scheme, whose name is case-insensitive (RFC 9110, section 11.1).
func bearer(h string) (string, bool) {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	cred = strings.TrimSpace(cred)
	return cred, cred != ""
}

// status maps error codes to HTTP statuses.
var status = map[string]int{
	facet.EInvalid:       http.StatusBadRequest,
	facet.EUnauthorized:  http.StatusUnauthorized,
	facet.ECodeRequired:  http.StatusUnauthorized,
	facet.EForbidden:     http.StatusForbidden,
	facet.ENotFound:      http.StatusNotFound,
	EMethod:              http.StatusMethodNotAllowed,
	facet.EConflict:      http.StatusConflict,
	facet.EGone:          http.StatusGone,
	facet.ETooLarge:      http.StatusRequestEntityTooLarge,
	facet.EUnprocessable: http.StatusUnprocessableEntity,
	facet.EUnavailable:   http.StatusServiceUnavailable,
	facet.ETooMany:       http.StatusTooManyRequests,
}

// EMethod is the code of a request whose path is routed for other
// methods only (405, with Allow). It is the HTTP layer's own: no use case
// ever refuses a method.
const EMethod = "method_not_allowed"

// ProblemTypeBase is where the problem types are documented: the type of
// an error answer is this base plus its code with dashes (RFC 9457 asks
// for a URI that stays the same for the same problem; README's "Problem
// types" section has an anchor for each).
const ProblemTypeBase = "https://github.com/humaninsight/facet/blob/main/README.md#problem-"

// ProblemTitles is the title of each problem type: a fixed summary per
// code (RFC 9457: the title does not change from one occurrence to the
// next; the detail says what happened this time).
var ProblemTitles = map[string]string{
	facet.EInvalid:       "Invalid request",
	facet.EUnauthorized:  "Unauthorized",
	facet.ECodeRequired:  "Second factor required",
	facet.EForbidden:     "Forbidden",
	facet.ENotFound:      "Not found",
	EMethod:              "Method not allowed",
	facet.EConflict:      "Conflict with the resource's state",
	facet.EGone:          "Gone",
	facet.ETooLarge:      "Content too large",
	facet.EUnprocessable: "Refused on substance",
	facet.ETooMany:       "Too many requests",
	facet.EInternal:      "Internal error",
	facet.EUnavailable:   "Service unavailable",
}

// ProblemType returns the type URI of the problem with code.
func ProblemType(code string) string {
	return ProblemTypeBase + strings.ReplaceAll(code, "_", "-")
}

// Problem is the body of every error answer of the API, an RFC 9457
// problem details object (application/problem+json). Code is an
// extension member: the type's last segment as the domain spells it, for
// callers that switch on a short string.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Code      string `json:"code"`
	RequestID string `json:"requestId,omitempty"`
}

// writeError answers an RFC 9457 problem; internal errors keep their
// details in the log under the request id, not in the answer. A passed
// deadline is EUnavailable; 503 and 429 say when to retry (Retry-After);
// 401 names the scheme the route wants (WWW-Authenticate).
func writeError(w http.ResponseWriter, err error) {
	code := errorCode(err)
	st, ok := status[code]
	if !ok {
		st, code = http.StatusInternalServerError, facet.EInternal
	}
	if secs, ok := retryAfter(code, err); ok {
		w.Header().Set("Retry-After", secs)
	}
	detail := facet.ErrorMessage(err)
	switch code {
	case facet.EUnavailable:
		detail = "a backing service is unavailable: retry later"
	case facet.EInternal:
		// The cause is in the log under the request id; its text (store
		// and type names, internal paths) is no business of the caller's.
		detail = "internal error"
	}
	p := Problem{Type: ProblemType(code), Title: ProblemTitles[code], Status: st, Detail: detail,
		Code: code, RequestID: w.Header().Get("X-Request-Id")}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Content-Language", "en")
	w.WriteHeader(st)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(p)
}

// retryAfter returns the Retry-After (whole seconds, at least 1) of an
// answer with code: for EUnavailable and ETooMany, the error's RetryAfter
// rounded up, or unavailableRetry when an EUnavailable does not say.
func retryAfter(code string, err error) (string, bool) {
	if code != facet.EUnavailable && code != facet.ETooMany {
		return "", false
	}
	d := facet.RetryAfter(err)
	if d <= 0 && code == facet.EUnavailable {
		d = unavailableRetry
	}
	secs := int64(d / time.Second)
	if d%time.Second > 0 {
		secs++
	}
	return strconv.FormatInt(max(secs, 1), 10), true
}

func writeJSON(w http.ResponseWriter, st int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(st)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// decode reads a JSON body strictly: bounded, one object, no unknown
// fields, right types; errors name the field.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return facet.Errorf(facet.EInvalid, "Content-Type must be application/json")
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		return facet.Errorf(facet.ETooLarge, "request body over %d bytes", MaxBody)
	case err != nil:
		return facet.Errorf(facet.EInvalid, "the request body could not be read")
	case !utf8.Valid(raw):
		// encoding/json would store replacement characters instead.
		return facet.Errorf(facet.EInvalid, "the request body is not valid UTF-8")
	}
	if t := bytes.TrimSpace(raw); len(t) == 0 {
		return facet.Errorf(facet.EInvalid, "empty body: want a JSON object")
	} else if t[0] != '{' {
		// null would decode as {} and act on an all-optional body.
		return facet.Errorf(facet.EInvalid, "the body must be a JSON object: want an object, got %s", jsonStart(t[0]))
	}
	if key, ok := duplicateKey(raw); ok {
		// Decoders disagree on which of two equal keys wins ({"accept":
		// false, "accept": true}): refuse rather than guess.
		return facet.Errorf(facet.EInvalid, "field %q appears twice", key)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("trailing data after the JSON object")
	}
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("trailing data after the JSON object")
		}
	}
	if err == nil {
		return nil
	}
	var (
		typeErr *json.UnmarshalTypeError
		synErr  *json.SyntaxError
	)
	switch {
	case errors.As(err, &typeErr):
		return facet.Errorf(facet.EInvalid, "field %s: want %s, got %s", fieldName(typeErr), jsonKind(typeErr.Type), typeErr.Value)
	case errors.As(err, &synErr):
		return facet.Errorf(facet.EInvalid, "malformed JSON at byte %d: %v", synErr.Offset, err)
	case errors.Is(err, io.EOF):
		return facet.Errorf(facet.EInvalid, "empty body: want a JSON object")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return facet.Errorf(facet.EInvalid, "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return facet.Errorf(facet.EInvalid, "malformed JSON: unexpected end")
	case timeError(err):
		return facet.Errorf(facet.EInvalid, "a date-time field is not an RFC 3339 string (for example \"2026-12-03T10:00:00Z\")")
	}
	// Other decoder errors name Go types or methods: the cause is no
	// business of the caller's.
	return facet.Errorf(facet.EInvalid, "the body does not match the route's fields")
}

// timeError reports a time.Time field's own decoding error (a string that
// is no RFC 3339 date-time, or a value that is no string).
func timeError(err error) bool {
	var pe *time.ParseError
	return errors.As(err, &pe) || strings.Contains(err.Error(), "Time.UnmarshalJSON")
}

// duplicateKey reports the first key that appears twice in one object of
// data (at any depth). Malformed JSON reports none: the decoder says
// what is wrong with it.
func duplicateKey(data []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		keys   map[string]bool
		object bool
		key    bool // the next string token is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if s, ok := tok.(string); ok && top != nil && top.object && top.key {
			if top.keys[s] {
				return s, true
			}
			top.keys[s] = true
			top.key = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]bool{}, object: true, key: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: in an object the next token is a key again.
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].key = true
		}
	}
}

// jsonKind names a Go type as the JSON value it decodes from, so that
// messages speak of the API, not of Go types.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

func fieldName(e *json.UnmarshalTypeError) string {
	if e.Field != "" {
		return strconv.Quote(e.Field)
	}
	return "(body)"
}

// page reads ?limit= (default 50, at most 500) and ?continuationToken=.
func page(r *http.Request) (int, string, error) {
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return 0, "", facet.Errorf(facet.EInvalid, "limit: a whole number from 1 to 500")
		}
		limit = n
	}
	return limit, r.URL.Query().Get("continuationToken"), nil
}

// list answers {"items": [...], "continuationToken": ...|null}.
func list[T any](w http.ResponseWriter, items []T, cont string) {
	var next *string
	if cont != "" {
		next = &cont
	}
	if items == nil {
		items = []T{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "continuationToken": next})
}

// jsonStart names the JSON kind a value starting with c is.
func jsonStart(c byte) string {
	switch {
	case c == '[':
		return "array"
	case c == '"':
		return "string"
	case c == 't' || c == 'f':
		return "boolean"
	case c == 'n':
		return "null"
	case c == '-' || '0' <= c && c <= '9':
		return "number"
	}
	return "something that is not JSON"
}
