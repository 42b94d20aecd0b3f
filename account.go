package facet

import (
	"strings"
	"time"
)

// People of a client sign in to the portal with an e-mail address and a
// password (and optionally a second factor); the operator's people too.
// Their records hold the least that signing in needs: no participant is
// ever an account.

// Containers of accounts, sessions and team invitations.
const (
	CAccounts    = "accounts"    // pk /id
	CLogins      = "logins"      // pk /id (the sha256 of the lower-cased e-mail address)
	CSessions    = "sessions"    // pk /accountId
	CTeamInvites = "teaminvites" // pk /id (the token's hash)
)

// Role says what an account may do.
type Role string

// Roles. A client's roles are ranked: an owner may do what a researcher
// may, a researcher what a viewer may. The operator runs the service and
// is no client's member.
const (
	RoleViewer     Role = "viewer"     // reads only
	RoleResearcher Role = "researcher" // projects, invitations, recordings, stimuli
	RoleOwner      Role = "owner"      // the team, API keys, webhooks, company details, erasure
	RoleOperator   Role = "operator"   // the service's operator: clients and operators
)

var roleRank = map[Role]int{RoleViewer: 1, RoleResearcher: 2, RoleOwner: 3}

// ClientRole reports whether r is one of a client's roles.
func (r Role) ClientRole() bool { return roleRank[r] > 0 }

// AtLeast reports whether a client's role r includes min. The operator's
// role includes no client role: operators see no client's data.
func (r Role) AtLeast(min Role) bool { return r.ClientRole() && roleRank[r] >= roleRank[min] }

// OperatorPartition is the audit partition of the operator's own events
// (the audit container is partitioned by client).
const OperatorPartition = "operator"

// Account is one person who signs in.
type Account struct {
	ID           string    `json:"id"`       // ac_...
	ClientID     string    `json:"clientId"` // "" for an operator
	Email        string    `json:"email"`
	Name         string    `json:"name"`
	Role         Role      `json:"role"`
	PasswordHash string    `json:"passwordHash"` // argon2id, PHC string
	TOTP         *TOTP     `json:"totp,omitempty"`
	CreatedAt    time.Time `json:"createdAt"`
	// PasswordAt is when the password was last set (changing it ends
	// every other session of the account).
	PasswordAt time.Time `json:"passwordAt"`
	ETag       string    `json:"-"`
}

// TOTP is an account's second factor (RFC 6238).
type TOTP struct {
	Secret   string `json:"secret"`   // base32
	Enabled  bool   `json:"enabled"`  // false while set-up waits for its first code
	LastStep int64  `json:"lastStep"` // the last time step used: a code works once
}

// SecondFactor reports whether signing in needs a one-time code.
func (a *Account) SecondFactor() bool { return a.TOTP != nil && a.TOTP.Enabled }

// Login finds an account by e-mail address without a cross-partition
// query: its id is LoginID(email).
type Login struct {
	ID        string `json:"id"`
	AccountID string `json:"accountId"`
}

// NormalEmail is the form of an address that accounts are unique in.
func NormalEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// Session is one signed-in browser. Its id is the sha256 of the secret
// the cookie carries, so a copy of the store signs nobody in.
type Session struct {
	ID        string    `json:"id"`
	Ref       string    `json:"ref"` // se_...: how the account page names it
	AccountID string    `json:"accountId"`
	CSRF      string    `json:"csrf"` // the token every change must carry
	CreatedAt time.Time `json:"createdAt"`
	SeenAt    time.Time `json:"seenAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	UserAgent string    `json:"userAgent"` // the browser's, shortened
	ETag      string    `json:"-"`
}

// Session lifetimes: a session ends SessionTTL after sign-in, or after
// SessionIdle without a request (NIST SP 800-63B's limits for a second
// factor; without one they are only stricter than needed). SessionTouch
// is how stale SeenAt may get before a request rewrites it.
const (
	SessionTTL   = 12 * time.Hour
	SessionIdle  = time.Hour
	SessionTouch = 5 * time.Minute
)

// Live reports whether s is still usable at now.
func (s *Session) Live(now time.Time) bool {
	return now.Before(s.ExpiresAt) && now.Sub(s.SeenAt) < SessionIdle
}

// TeamInvite asks a person by e-mail to join a client (or the operators)
// in a role. Its id is the hash of the token the e-mail carries.
type TeamInvite struct {
	ID        string     `json:"id"`
	Ref       string     `json:"ref"`      // ti_...: how answers name it
	ClientID  string     `json:"clientId"` // "" for an operator
	Email     string     `json:"email"`
	Role      Role       `json:"role"`
	InvitedBy string     `json:"invitedBy"` // an account id, or "admin-key"
	CreatedAt time.Time  `json:"createdAt"`
	ExpiresAt time.Time  `json:"expiresAt"`
	UsedAt    *time.Time `json:"usedAt,omitempty"`
}

// TeamInviteTTL is how long an invitation e-mail's link works.
const TeamInviteTTL = 7 * 24 * time.Hour

// KeyInfo describes one of a client's API keys; the key itself is shown
// once, when it is made.
type KeyInfo struct {
	ID        string    `json:"id"`     // ak_...
	Name      string    `json:"name"`   // the client's label
	Prefix    string    `json:"prefix"` // the key's first characters, to tell keys apart
	Hash      string    `json:"hash"`   // sha256 of the key: its APIKey document's id
	CreatedAt time.Time `json:"createdAt"`
}

// MaxKeys bounds a client's API keys.
const MaxKeys = 20
