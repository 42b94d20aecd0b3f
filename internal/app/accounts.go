package app

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/credential"
)

// Accounts: people who sign in to the portal. A session is a server-side
// record whose secret only the browser's cookie holds; the portal calls
// the same API as integrators, with the session as its credential.

// Credentials are what a person signs in with.
type Credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Code     string `json:"code"` // the second factor's one-time code, when it is on
}

// SignedIn is a live session with its account and client.
type SignedIn struct {
	Account *facet.Account
	Session *facet.Session
	Client  *facet.Client // nil for an operator
	// Cookie is the session cookie's value; set only when the session is
	// made (sign-in, sign-up): it is never stored.
	Cookie string
}

// errSignIn is the one answer to a wrong address or password, so the
// answer does not tell which addresses have accounts.
func errSignIn() error {
	return facet.Errorf(facet.EUnauthorized, "wrong e-mail address or password")
}

// errSignedOut answers a cookie that no longer names a live session.
func errSignedOut() error {
	return facet.Errorf(facet.EUnauthorized, "not signed in, or the session has ended: sign in again")
}

// dummyHash is verified against when no account has the address, so that
// a wrong address takes as long to refuse as a wrong password.
var dummyHash = sync.OnceValue(func() string {
	h, _ := credential.HashPassword("not anybody's password, only a timing twin")
	return h
})

// SignIn checks credentials and starts a session. EUnauthorized for a
// wrong address, password or code (the failure is audited when the
// account exists); ECodeRequired when the account has a second factor
// and no code came.
func (a *App) SignIn(ctx context.Context, in Credentials, userAgent string) (*SignedIn, error) {
	acc, err := a.accountByEmail(ctx, in.Email)
	if isCode(err, facet.ENotFound) {
		credential.VerifyPassword(dummyHash(), in.Password)
		return nil, errSignIn()
	}
	if err != nil {
		return nil, err
	}
	if ok, _ := credential.VerifyPassword(acc.PasswordHash, in.Password); !ok {
		a.security(ctx, acc.ClientID, acc, "sign-in-failed", "", "")
		return nil, errSignIn()
	}
	if acc.SecondFactor() {
		if in.Code == "" {
			return nil, facet.Errorf(facet.ECodeRequired, "this account has a second factor: send the one-time code from its authenticator app as code")
		}
		if err := a.useCode(ctx, acc, in.Code); err != nil {
			a.security(ctx, acc.ClientID, acc, "sign-in-failed", "", "")
			return nil, err
		}
	}
	s, err := a.startSession(ctx, acc, userAgent)
	if err == nil {
		a.security(ctx, acc.ClientID, acc, "signed-in", "", "")
	}
	return s, err
}

// useCode checks a one-time code and spends it: the step it belongs to
// is stored, so the same code cannot sign in twice.
func (a *App) useCode(ctx context.Context, acc *facet.Account, code string) error {
	step, ok := credential.VerifyTOTP(acc.TOTP.Secret, code, a.now(), acc.TOTP.LastStep)
	if !ok {
		return facet.Errorf(facet.EUnauthorized, "wrong or used one-time code")
	}
	acc.TOTP.LastStep = step
	return a.saveAccount(ctx, acc)
}

// accountByEmail finds an account by its address.
func (a *App) accountByEmail(ctx context.Context, email string) (*facet.Account, error) {
	email = facet.NormalEmail(email)
	if email == "" || len(email) > 254 {
		return nil, notFound("account")
	}
	l, _, err := get[facet.Login](ctx, a.Store, facet.CLogins, hashHex(email), hashHex(email))
	if err != nil {
		return nil, asNotFound(err, "account")
	}
	return a.account(ctx, l.AccountID)
}

// account reads an account by id.
func (a *App) account(ctx context.Context, id string) (*facet.Account, error) {
	if !facet.ValidID(id) {
		return nil, notFound("account")
	}
	acc, etag, err := get[facet.Account](ctx, a.Store, facet.CAccounts, id, id)
	if err != nil {
		return nil, asNotFound(err, "account")
	}
	acc.ETag = etag
	return acc, nil
}

func (a *App) saveAccount(ctx context.Context, acc *facet.Account) error {
	etag, err := replace(ctx, a.Store, facet.CAccounts, acc.ID, acc, acc.ETag)
	if err == nil {
		acc.ETag = etag
	}
	return err
}

// startSession makes a session for acc and returns it with its cookie.
func (a *App) startSession(ctx context.Context, acc *facet.Account, userAgent string) (*SignedIn, error) {
	var c *facet.Client
	if acc.ClientID != "" {
		var err error
		if c, err = a.Client(ctx, acc.ClientID); err != nil {
			return nil, asUnauthorized(err)
		}
	}
	secret := newSecret("", 32)
	now := a.now()
	s := &facet.Session{
		ID: hashHex(secret), Ref: newID("se"), AccountID: acc.ID, CSRF: newSecret("", 24),
		CreatedAt: now, SeenAt: now, ExpiresAt: now.Add(facet.SessionTTL), UserAgent: shortAgent(userAgent),
	}
	etag, err := create(ctx, a.Store, facet.CSessions, acc.ID, s)
	if err != nil {
		return nil, err
	}
	s.ETag = etag
	return &SignedIn{Account: acc, Session: s, Client: c, Cookie: acc.ID + "." + secret}, nil
}

// shortAgent keeps enough of a User-Agent to tell one's browsers apart.
func shortAgent(ua string) string {
	if err := facet.CheckText("", ua, 1000, false); err != nil {
		return ""
	}
	if r := []rune(ua); len(r) > 120 {
		ua = string(r[:120])
	}
	return ua
}

// Session returns the live session a cookie names; EUnauthorized when
// there is none. A request keeps an idle session alive.
func (a *App) Session(ctx context.Context, cookie string) (*SignedIn, error) {
	accID, secret, ok := strings.Cut(cookie, ".")
	if !ok || !facet.ValidID(accID) || len(secret) != 43 {
		return nil, errSignedOut()
	}
	s, etag, err := get[facet.Session](ctx, a.Store, facet.CSessions, accID, hashHex(secret))
	if err != nil {
		return nil, asUnauthorized(err)
	}
	s.ETag = etag
	now := a.now()
	if !s.Live(now) {
		a.Store.Delete(ctx, facet.CSessions, accID, s.ID, "")
		return nil, errSignedOut()
	}
	acc, err := a.account(ctx, accID)
	if err != nil {
		return nil, asUnauthorized(err)
	}
	in := &SignedIn{Account: acc, Session: s}
	if acc.ClientID != "" {
		if in.Client, err = a.Client(ctx, acc.ClientID); err != nil {
			return nil, asUnauthorized(err)
		}
	}
	if now.Sub(s.SeenAt) > facet.SessionTouch {
		s.SeenAt = now
		if etag, err := replace(ctx, a.Store, facet.CSessions, accID, s, s.ETag); err == nil {
			s.ETag = etag
		}
	}
	return in, nil
}

// asUnauthorized turns "not found" into "signed out": the session's
// account or client is gone.
func asUnauthorized(err error) error {
	if isCode(err, facet.ENotFound) {
		return errSignedOut()
	}
	return err
}

// SignOut ends the session.
func (a *App) SignOut(ctx context.Context, in *SignedIn) error {
	err := a.Store.Delete(ctx, facet.CSessions, in.Account.ID, in.Session.ID, "")
	if err != nil && !isCode(err, facet.ENotFound) {
		return err
	}
	a.security(ctx, in.Account.ClientID, in.Account, "signed-out", "", "")
	return nil
}

// Sessions lists an account's live sessions.
func (a *App) Sessions(ctx context.Context, accountID string) ([]facet.Session, error) {
	ss, err := all[facet.Session](ctx, a, facet.CSessions, facet.Query{Partition: accountID})
	now := a.now()
	return slices.DeleteFunc(ss, func(s facet.Session) bool { return !s.Live(now) }), err
}

// EndSessions ends the account's sessions but keep (by its id; "" ends
// them all).
func (a *App) EndSessions(ctx context.Context, accountID, keep string) error {
	for {
		ss, _, err := query[facet.Session](ctx, a.Store, facet.CSessions, facet.Query{Partition: accountID, Limit: 100})
		if err != nil {
			return err
		}
		n := 0
		for _, s := range ss {
			if s.ID == keep {
				continue
			}
			n++
			if err := a.Store.Delete(ctx, facet.CSessions, accountID, s.ID, ""); err != nil && !isCode(err, facet.ENotFound) {
				return err
			}
		}
		if n == 0 {
			return nil
		}
	}
}

// RevokeSession ends one of the account's sessions, named by its ref.
func (a *App) RevokeSession(ctx context.Context, accountID, ref string) error {
	ss, _, err := query[facet.Session](ctx, a.Store, facet.CSessions, facet.Query{Partition: accountID, Where: map[string]any{"ref": ref}, Limit: 1})
	if err != nil {
		return err
	}
	if len(ss) == 0 {
		return notFound("session")
	}
	err = a.Store.Delete(ctx, facet.CSessions, accountID, ss[0].ID, "")
	if isCode(err, facet.ENotFound) {
		return notFound("session")
	}
	return err
}

// ChangePassword sets a new password after checking the current one, and
// ends every other session of the account.
func (a *App) ChangePassword(ctx context.Context, in *SignedIn, current, next string) error {
	acc := in.Account
	if ok, _ := credential.VerifyPassword(acc.PasswordHash, current); !ok {
		return facet.Errorf(facet.EUnprocessable, "currentPassword: wrong password")
	}
	if err := a.checkPassword("newPassword", next, acc.Email, company(in.Client)); err != nil {
		return err
	}
	h, err := credential.HashPassword(next)
	if err != nil {
		return err
	}
	acc.PasswordHash, acc.PasswordAt = h, a.now()
	if err := a.saveAccount(ctx, acc); err != nil {
		return err
	}
	a.security(ctx, acc.ClientID, acc, "password-changed", "", "")
	return a.EndSessions(ctx, acc.ID, in.Session.ID)
}

// checkPassword applies the password rule, naming the field.
func (a *App) checkPassword(field, pw string, context ...string) error {
	if err := credential.CheckPassword(pw, context...); err != nil {
		return facet.Errorf(facet.EUnprocessable, "%s: %s", field, strings.TrimPrefix(err.Error(), "password "))
	}
	return nil
}

func company(c *facet.Client) string {
	if c == nil {
		return ""
	}
	return c.Company
}

// StartTOTP begins setting up a second factor: it returns the secret and
// its otpauth URI, which work once ConfirmTOTP has seen a code.
func (a *App) StartTOTP(ctx context.Context, acc *facet.Account) (secret, uri string, err error) {
	if acc.SecondFactor() {
		return "", "", facet.Errorf(facet.EConflict, "a second factor is already on: turn it off first")
	}
	secret = credential.NewTOTPSecret()
	acc.TOTP = &facet.TOTP{Secret: secret}
	if err := a.saveAccount(ctx, acc); err != nil {
		return "", "", err
	}
	return secret, credential.TOTPURI(secret, "facet", acc.Email), nil
}

// ConfirmTOTP turns the second factor on once a code from it is right.
func (a *App) ConfirmTOTP(ctx context.Context, acc *facet.Account, code string) error {
	if acc.TOTP == nil || acc.TOTP.Enabled {
		return facet.Errorf(facet.EConflict, "no second factor is being set up: start with POST /api/account/totp")
	}
	step, ok := credential.VerifyTOTP(acc.TOTP.Secret, code, a.now(), acc.TOTP.LastStep)
	if !ok {
		return facet.Errorf(facet.EUnprocessable, "code: wrong code: check the authenticator app's clock")
	}
	acc.TOTP.Enabled, acc.TOTP.LastStep = true, step
	if err := a.saveAccount(ctx, acc); err != nil {
		return err
	}
	a.security(ctx, acc.ClientID, acc, "totp-enabled", "", "")
	return nil
}

// DisableTOTP turns the second factor off; the password confirms it.
func (a *App) DisableTOTP(ctx context.Context, acc *facet.Account, password string) error {
	if ok, _ := credential.VerifyPassword(acc.PasswordHash, password); !ok {
		return facet.Errorf(facet.EUnprocessable, "password: wrong password")
	}
	if acc.TOTP == nil {
		return nil
	}
	acc.TOTP = nil
	if err := a.saveAccount(ctx, acc); err != nil {
		return err
	}
	a.security(ctx, acc.ClientID, acc, "totp-disabled", "", "")
	return nil
}

// SecurityEntry is one event of a client's security log: who signed in,
// changed a role or a key, or erased the client. It names accounts by id
// only.
type SecurityEntry struct {
	ID        string     `json:"id"`
	Type      string     `json:"type"` // "security"
	ClientID  string     `json:"clientId"`
	Action    string     `json:"action"`
	AccountID string     `json:"accountId"` // who; "api-key" or "admin-key" for a key
	TargetID  string     `json:"targetId,omitempty"`
	Role      facet.Role `json:"role,omitempty"`
	At        time.Time  `json:"at"`
}

// security writes a security log entry. A failure is logged, not
// returned: the action it records has happened already.
func (a *App) security(ctx context.Context, clientID string, by *facet.Account, action, target string, role facet.Role) {
	who := "api-key"
	if by != nil {
		who = by.ID
	}
	if clientID == "" {
		clientID = facet.OperatorPartition
		if by == nil {
			who = "admin-key"
		}
	}
	e := SecurityEntry{ID: newID("au"), Type: "security", ClientID: clientID, Action: action, AccountID: who, TargetID: target, Role: role, At: a.now()}
	if _, err := create(context.WithoutCancel(ctx), a.Store, facet.CAudit, clientID, e); err != nil {
		a.Log.Error("security log entry lost", "client", clientID, "action", action, "error", err)
	}
}

// SecurityLog lists a client's security events, newest first.
func (a *App) SecurityLog(ctx context.Context, clientID string, limit int, cont string) ([]SecurityEntry, string, error) {
	return query[SecurityEntry](ctx, a.Store, facet.CAudit, facet.Query{Partition: clientID, Where: map[string]any{"type": "security"}, OrderBy: "at", Desc: true, Limit: limit, Continuation: cont})
}
