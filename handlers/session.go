package handlers

import (
	"context"
	"crypto/subtle"
	"net/http"
	"time"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/app"
)

// Sessions: the portal's people sign in with e-mail and password and get
// a cookie; the cookie is then one more credential for the same API that
// API keys open, with the account's role deciding what it may change.

// SessionCookie is the session cookie's name. The __Host- prefix makes
// browsers keep it only when it is Secure, host-only and for Path=/.
const SessionCookie = "__Host-facet-session"

// CSRFHeader carries a session's CSRF token on every request that is not
// a read. SameSite=Strict stops other sites' forms already; the token
// also stops a same-site page that is not ours.
const CSRFHeader = "X-CSRF-Token"

// Sign-in throttling per account: failures per address, on top of the
// per-source guard every credential check has.
const (
	SignInFailures = 5
	SignInWindow   = 15 * time.Minute
)

type signedInKey struct{}

// signedIn returns the session of the request, nil for a key.
func signedIn(r *http.Request) *app.SignedIn {
	in, _ := r.Context().Value(signedInKey{}).(*app.SignedIn)
	return in
}

// actor is the account behind the request, nil for a key.
func actor(r *http.Request) *facet.Account {
	if in := signedIn(r); in != nil {
		return in.Account
	}
	return nil
}

// ownerOnly are the functions only a client's owner (or an API key) may
// call, reads included: the team, keys and webhooks hold what lets in.
var ownerOnly = map[string]bool{
	"ClientKeys": true, "ClientKey": true, "Webhooks": true, "Webhook": true, "WebhookSecret": true,
	"WebhookPing": true, "TeamInvitations": true, "TeamMember": true,
}

// needRole is the least role a session must have to call rt.
func needRole(rt Route, r *http.Request) facet.Role {
	switch {
	case ownerOnly[rt.Function], rt.Function == "ClientMe" && rt.Method != http.MethodGet,
		rt.Function == "ClientAudit" && r.URL.Query().Get("type") == "security":
		return facet.RoleOwner
	case rt.Method == http.MethodGet || rt.Method == http.MethodHead:
		return facet.RoleViewer
	}
	return facet.RoleResearcher
}

// checkCredential admits a request to rt: the operator's key or an
// API key when the request carries one, else its session cookie. It
// returns the client to act for (nil for operator routes) and the
// request, carrying the session when there is one.
func (h *Handler) checkCredential(r *http.Request, rt Route) (*facet.Client, *http.Request, error) {
	switch {
	case rt.Auth == AccessAdmin && r.Header.Get("X-Admin-Key") != "",
		rt.Auth == AccessClient && r.Header.Get("Authorization") != "":
		c, err := h.checkKey(r, rt.Auth)
		return c, r, err
	}
	ck, err := r.Cookie(SessionCookie)
	if err != nil {
		return nil, r, facet.Errorf(facet.EUnauthorized, "%s", missingCredential(rt.Auth))
	}
	in, err := h.App.Session(r.Context(), ck.Value)
	if err != nil {
		return nil, r, err
	}
	r = r.WithContext(context.WithValue(r.Context(), signedInKey{}, in))
	if r.Method != http.MethodGet && r.Method != http.MethodHead &&
		subtle.ConstantTimeCompare([]byte(r.Header.Get(CSRFHeader)), []byte(in.Session.CSRF)) != 1 {
		return nil, r, facet.Errorf(facet.EForbidden, "a change made with a session must carry its csrfToken in the %s header", CSRFHeader)
	}
	role := in.Account.Role
	switch rt.Auth {
	case AccessSession:
		return in.Client, r, nil
	case AccessAdmin:
		if role != facet.RoleOperator {
			return nil, r, facet.Errorf(facet.EForbidden, "only the service's operators may do this")
		}
		return nil, r, nil
	}
	if in.Client == nil {
		return nil, r, facet.Errorf(facet.EForbidden, "an operator's account holds no client's data")
	}
	if need := needRole(rt, r); !role.AtLeast(need) {
		return nil, r, facet.Errorf(facet.EForbidden, "your role (%s) may not do this: it needs %s", role, need)
	}
	return in.Client, r, nil
}

// missingCredential says what a route wants when nothing came.
func missingCredential(a Access) string {
	switch a {
	case AccessAdmin:
		return "missing X-Admin-Key or an operator's session"
	case AccessSession:
		return "not signed in: sign in with POST /api/session"
	}
	return "missing Authorization: Bearer <API key>, or a session"
}

// setSession answers a new session: its cookie and what the page needs.
func setSession(w http.ResponseWriter, in *app.SignedIn) {
	setCookie(w, in.Cookie, int(facet.SessionTTL/time.Second))
	writeJSON(w, http.StatusCreated, viewSession(in))
}

// setCookie sets the session cookie, or with maxAge < 0 clears it; a
// browser clears a cookie only when the attributes match.
func setCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode,
	})
}

type accountView struct {
	ID       string     `json:"id"`
	Email    string     `json:"email"`
	Name     string     `json:"name"`
	Role     facet.Role `json:"role"`
	ClientID *string    `json:"clientId"`
	Company  string     `json:"company"`
	TOTP     bool       `json:"totp"`
}

type sessionInfo struct {
	Account   accountView `json:"account"`
	CSRFToken string      `json:"csrfToken"`
	ExpiresAt time.Time   `json:"expiresAt"`
}

func viewSession(in *app.SignedIn) sessionInfo {
	a := accountView{ID: in.Account.ID, Email: in.Account.Email, Name: in.Account.Name, Role: in.Account.Role, TOTP: in.Account.SecondFactor()}
	if in.Client != nil {
		a.ClientID, a.Company = &in.Client.ID, in.Client.Company
	}
	return sessionInfo{a, in.Session.CSRF, in.Session.ExpiresAt}
}

// signIn checks a person's credentials and starts a session. Failures
// count per source and per address; either one throttled refuses before
// the password is looked at.
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request, _ *facet.Client) error {
	var in app.Credentials
	if err := decode(w, r, &in); err != nil {
		return err
	}
	src, who := clientAddr(r), "account:"+facet.NormalEmail(in.Email)
	guard := h.guard()
	for _, g := range []struct {
		t   *Throttle
		key string
	}{{guard, src}, {h.accountGuard(), who}} {
		if wait, blocked := g.t.Blocked(g.key); blocked {
			return facet.Throttled(wait, "too many failed sign-ins: retry later")
		}
	}
	s, err := h.App.SignIn(r.Context(), in, r.UserAgent())
	if facet.ErrorCode(err) == facet.EUnauthorized {
		guard.Fail(src)
		h.accountGuard().Fail(who)
	}
	if err != nil {
		return err
	}
	setSession(w, s)
	return nil
}

func (h *Handler) accountGuard() *Throttle {
	h.guardOnce.Do(h.initGuards)
	return h.AccountGuard
}

func (h *Handler) getSession(w http.ResponseWriter, r *http.Request, _ *facet.Client) error {
	writeJSON(w, http.StatusOK, viewSession(signedIn(r)))
	return nil
}

func (h *Handler) signOut(w http.ResponseWriter, r *http.Request, _ *facet.Client) error {
	if err := h.App.SignOut(r.Context(), signedIn(r)); err != nil {
		return err
	}
	setCookie(w, "", -1)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type sessionView struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"createdAt"`
	LastSeenAt time.Time `json:"lastSeenAt"`
	ExpiresAt  time.Time `json:"expiresAt"`
	UserAgent  string    `json:"userAgent"`
	Current    bool      `json:"current"`
}

func (h *Handler) listSessions(w http.ResponseWriter, r *http.Request, _ *facet.Client) error {
	in := signedIn(r)
	ss, err := h.App.Sessions(r.Context(), in.Account.ID)
	if err != nil {
		return err
	}
	items := make([]sessionView, 0, len(ss))
	for _, s := range ss {
		items = append(items, sessionView{s.Ref, s.CreatedAt, s.SeenAt, s.ExpiresAt, s.UserAgent, s.ID == in.Session.ID})
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "continuationToken": nil})
	return nil
}

func (h *Handler) revokeSession(w http.ResponseWriter, r *http.Request, _ *facet.Client) error {
	if err := h.App.RevokeSession(r.Context(), signedIn(r).Account.ID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request, _ *facet.Client) error {
	var in struct {
		CurrentPassword string `json:"currentPassword"`
		NewPassword     string `json:"newPassword"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if err := h.App.ChangePassword(r.Context(), signedIn(r), in.CurrentPassword, in.NewPassword); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) startTOTP(w http.ResponseWriter, r *http.Request, _ *facet.Client) error {
	var in struct{}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	secret, uri, err := h.App.StartTOTP(r.Context(), signedIn(r).Account)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"secret": secret, "uri": uri})
	return nil
}

func (h *Handler) confirmTOTP(w http.ResponseWriter, r *http.Request, _ *facet.Client) error {
	var in struct {
		Code string `json:"code"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if err := h.App.ConfirmTOTP(r.Context(), signedIn(r).Account, in.Code); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) disableTOTP(w http.ResponseWriter, r *http.Request, _ *facet.Client) error {
	var in struct {
		Password string `json:"password"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if err := h.App.DisableTOTP(r.Context(), signedIn(r).Account, in.Password); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
