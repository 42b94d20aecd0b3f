package app

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/credential"
)

// Teams: an owner invites colleagues by e-mail; the operator invites a
// client's first owner and other operators the same way. The link in
// the e-mail is the only copy of the invitation's token.

// Invite sends an invitation to join clientID ("" for the operators) in
// role. by is the inviting account, nil for the operator's key.
func (a *App) Invite(ctx context.Context, clientID string, by *facet.Account, email string, role facet.Role) (*facet.TeamInvite, error) {
	email = strings.TrimSpace(email)
	if clientID == "" && role != facet.RoleOperator || clientID != "" && !role.ClientRole() {
		return nil, facet.Errorf(facet.EInvalid, "role: one of owner, researcher, viewer")
	}
	if err := a.CheckInvitee(ctx, email); err != nil {
		return nil, err
	}
	company := "facet"
	if clientID != "" {
		c, err := a.Client(ctx, clientID)
		if err != nil {
			return nil, err
		}
		company = c.Company
	}
	token := newSecret("fi_", 32)
	now := a.now()
	inv := &facet.TeamInvite{
		ID: hashHex(token), Ref: newID("ti"), ClientID: clientID, Email: email, Role: role,
		InvitedBy: "admin-key", CreatedAt: now, ExpiresAt: now.Add(facet.TeamInviteTTL),
	}
	if by != nil {
		inv.InvitedBy = by.ID
	}
	if _, err := create(ctx, a.Store, facet.CTeamInvites, inv.ID, inv); err != nil {
		return nil, err
	}
	if err := a.Mail.Send(ctx, inviteMail(a.cfg.PublicBaseURL, token, company, inv)); err != nil {
		a.Store.Delete(context.WithoutCancel(ctx), facet.CTeamInvites, inv.ID, inv.ID, "")
		return nil, fmt.Errorf("invite: send the e-mail: %w", err)
	}
	a.security(ctx, clientID, by, "member-invited", inv.Ref, role)
	return inv, nil
}

// CheckInvitee says whether email can be invited: an address, with no
// account yet, and e-mail set up to send the link.
func (a *App) CheckInvitee(ctx context.Context, email string) error {
	email = strings.TrimSpace(email)
	if !emailPattern.MatchString(email) || facet.CheckText("email", email, 254, true) != nil {
		return facet.Errorf(facet.EInvalid, "email: not an e-mail address")
	}
	if a.Mail == nil {
		return facet.Errorf(facet.EUnavailable, "e-mail is not set up")
	}
	_, err := a.accountByEmail(ctx, email)
	if err == nil {
		return facet.Errorf(facet.EConflict, "email: this address has an account already")
	}
	if !isCode(err, facet.ENotFound) {
		return err
	}
	return nil
}

// SignUpPath is where an invitation's link leads, after the public base
// URL; the token follows as the fragment, which browsers send to no
// server and in no Referer.
const SignUpPath = "/app/signup#"

var signUpLink = regexp.MustCompile(regexp.QuoteMeta(SignUpPath) + `(fi_[A-Za-z0-9_-]+)`)

// SignUpToken returns the token of the sign-up link in an invitation
// e-mail's text, "" if it has none: for whoever reads mails from an
// outbox (the demo, tests).
func SignUpToken(text string) string {
	if m := signUpLink.FindStringSubmatch(text); m != nil {
		return m[1]
	}
	return ""
}

// inviteMail is the invitation's e-mail.
func inviteMail(base, token, company string, inv *facet.TeamInvite) facet.Mail {
	link := strings.TrimRight(base, "/") + SignUpPath + url.PathEscape(token)
	what := fmt.Sprintf("%s on facet as %s", company, inv.Role)
	if inv.Role == facet.RoleOperator {
		what = "facet's operators"
	}
	text := fmt.Sprintf("You are invited to join %s.\n\nSet your password here (the link works once, until %s):\n%s\n\nIf you did not expect this e-mail, ignore it.\n",
		what, inv.ExpiresAt.Format("2 January 2006 15:04 MST"), link)
	return facet.Mail{To: inv.Email, Subject: "Your invitation to " + what, Text: text}
}

// InviteInfo is what the sign-up page shows of an invitation.
type InviteInfo struct {
	Email   string     `json:"email"`
	Role    facet.Role `json:"role"`
	Company string     `json:"company"`
}

// inviteByToken returns a usable invitation: ENotFound for an unknown
// token, EGone for a used or expired one.
func (a *App) inviteByToken(ctx context.Context, token string) (*facet.TeamInvite, string, error) {
	if !strings.HasPrefix(token, "fi_") || len(token) > 100 {
		return nil, "", notFound("invitation")
	}
	inv, etag, err := get[facet.TeamInvite](ctx, a.Store, facet.CTeamInvites, hashHex(token), hashHex(token))
	if err != nil {
		return nil, "", asNotFound(err, "invitation")
	}
	if inv.UsedAt != nil {
		return nil, "", facet.Errorf(facet.EGone, "this invitation has been used: sign in instead")
	}
	if !a.now().Before(inv.ExpiresAt) {
		return nil, "", facet.Errorf(facet.EGone, "this invitation has expired: ask for a new one")
	}
	return inv, etag, nil
}

// SignUpInfo describes the invitation behind token.
func (a *App) SignUpInfo(ctx context.Context, token string) (*InviteInfo, error) {
	inv, _, err := a.inviteByToken(ctx, token)
	if err != nil {
		return nil, err
	}
	return a.inviteInfo(ctx, inv)
}

// inviteInfo describes inv, with its client's company ("" for an
// operator's).
func (a *App) inviteInfo(ctx context.Context, inv *facet.TeamInvite) (*InviteInfo, error) {
	info := &InviteInfo{Email: inv.Email, Role: inv.Role}
	if inv.ClientID != "" {
		c, err := a.Client(ctx, inv.ClientID)
		if err != nil {
			return nil, asGone(err)
		}
		info.Company = c.Company
	}
	return info, nil
}

func asGone(err error) error {
	if isCode(err, facet.ENotFound) {
		return facet.Errorf(facet.EGone, "the client of this invitation no longer exists")
	}
	return err
}

// NewMember is what a person sends to accept an invitation.
type NewMember struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

// SignUp accepts the invitation behind token: the account is made and
// signed in, and the invitation is spent.
func (a *App) SignUp(ctx context.Context, token string, n NewMember, userAgent string) (*SignedIn, error) {
	inv, etag, err := a.inviteByToken(ctx, token)
	if err != nil {
		return nil, err
	}
	info, err := a.inviteInfo(ctx, inv)
	if err != nil {
		return nil, err
	}
	if err := facet.CheckText("name", n.Name, 200, true); err != nil {
		return nil, err
	}
	if err := a.checkPassword("password", n.Password, inv.Email, info.Company); err != nil {
		return nil, err
	}
	hash, err := credential.HashPassword(n.Password)
	if err != nil {
		return nil, err
	}
	now := a.now()
	acc := &facet.Account{ID: newID("ac"), ClientID: inv.ClientID, Email: inv.Email, Name: n.Name, Role: inv.Role, PasswordHash: hash, CreatedAt: now, PasswordAt: now}
	// The login first: it makes the address taken. Then the invitation is
	// spent (its ETag makes that happen once), then the account exists.
	login := hashHex(facet.NormalEmail(inv.Email))
	if _, err := create(ctx, a.Store, facet.CLogins, login, facet.Login{ID: login, AccountID: acc.ID}); err != nil {
		if isCode(err, facet.EConflict) {
			return nil, facet.Errorf(facet.EConflict, "this address has an account already: sign in instead")
		}
		return nil, err
	}
	inv.UsedAt = &now
	if _, err := replace(ctx, a.Store, facet.CTeamInvites, inv.ID, inv, etag); err != nil {
		a.Store.Delete(context.WithoutCancel(ctx), facet.CLogins, login, login, "")
		if isCode(err, facet.EConflict) {
			return nil, facet.Errorf(facet.EGone, "this invitation has been used: sign in instead")
		}
		return nil, err
	}
	if acc.ETag, err = create(ctx, a.Store, facet.CAccounts, acc.ID, acc); err != nil {
		return nil, err
	}
	a.security(ctx, acc.ClientID, acc, "member-joined", acc.ID, acc.Role)
	return a.startSession(ctx, acc, userAgent)
}

// Team lists a client's members and its unspent invitations.
func (a *App) Team(ctx context.Context, clientID string) ([]facet.Account, []facet.TeamInvite, error) {
	members, err := all[facet.Account](ctx, a, facet.CAccounts, facet.Query{Where: map[string]any{"clientId": clientID}})
	if err != nil {
		return nil, nil, err
	}
	invs, err := all[facet.TeamInvite](ctx, a, facet.CTeamInvites, facet.Query{Where: map[string]any{"clientId": clientID}})
	if err != nil {
		return nil, nil, err
	}
	now := a.now()
	open := invs[:0]
	for _, inv := range invs {
		if inv.UsedAt == nil && now.Before(inv.ExpiresAt) {
			open = append(open, inv)
		}
	}
	return members, open, nil
}

// all reads every document q selects, page by page (for small sets: a
// client's team, an account's sessions).
func all[T any](ctx context.Context, a *App, container string, q facet.Query) ([]T, error) {
	var out []T
	q.Limit = 100
	for {
		page, next, err := query[T](ctx, a.Store, container, q)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if q.Continuation = next; next == "" {
			return out, nil
		}
	}
}

// member returns a member of the client; another client's answers 404.
func (a *App) member(ctx context.Context, clientID, id string) (*facet.Account, error) {
	acc, err := a.account(ctx, id)
	if err != nil {
		return nil, err
	}
	if acc.ClientID != clientID || clientID == "" {
		return nil, notFound("member")
	}
	return acc, nil
}

// lastOwner reports whether acc is its client's only owner.
func (a *App) lastOwner(ctx context.Context, acc *facet.Account) (bool, error) {
	if acc.Role != facet.RoleOwner {
		return false, nil
	}
	members, err := all[facet.Account](ctx, a, facet.CAccounts, facet.Query{Where: map[string]any{"clientId": acc.ClientID, "role": string(facet.RoleOwner)}})
	return len(members) <= 1, err
}

// SetRole changes a member's role. A client keeps at least one owner.
func (a *App) SetRole(ctx context.Context, clientID string, by *facet.Account, id string, role facet.Role) (*facet.Account, error) {
	if !role.ClientRole() {
		return nil, facet.Errorf(facet.EInvalid, "role: one of owner, researcher, viewer")
	}
	acc, err := a.member(ctx, clientID, id)
	if err != nil {
		return nil, err
	}
	if acc.Role == role {
		return acc, nil
	}
	if last, err := a.lastOwner(ctx, acc); err != nil || last {
		return nil, cmpErr(err, facet.Errorf(facet.EConflict, "role: this is the client's only owner: make another member owner first"))
	}
	acc.Role = role
	if err := a.saveAccount(ctx, acc); err != nil {
		return nil, err
	}
	a.security(ctx, clientID, by, "role-changed", acc.ID, role)
	return acc, nil
}

// cmpErr returns err when it is not nil, else refusal.
func cmpErr(err, refusal error) error {
	if err != nil {
		return err
	}
	return refusal
}

// RemoveMember ends a member's sessions and deletes the account. A
// client keeps at least one owner.
func (a *App) RemoveMember(ctx context.Context, clientID string, by *facet.Account, id string) error {
	acc, err := a.member(ctx, clientID, id)
	if err != nil {
		return err
	}
	if last, err := a.lastOwner(ctx, acc); err != nil || last {
		return cmpErr(err, facet.Errorf(facet.EConflict, "this is the client's only owner: make another member owner first"))
	}
	if err := a.deleteAccount(ctx, acc); err != nil {
		return err
	}
	a.security(ctx, clientID, by, "member-removed", acc.ID, "")
	return nil
}

// deleteAccount deletes an account with its sessions and its login.
func (a *App) deleteAccount(ctx context.Context, acc *facet.Account) error {
	if err := a.EndSessions(ctx, acc.ID, ""); err != nil {
		return err
	}
	login := hashHex(facet.NormalEmail(acc.Email))
	for _, d := range [][3]string{{facet.CLogins, login, login}, {facet.CAccounts, acc.ID, acc.ID}} {
		if err := a.Store.Delete(ctx, d[0], d[1], d[2], ""); err != nil && !isCode(err, facet.ENotFound) {
			return err
		}
	}
	return nil
}

// eraseTeam deletes a client's accounts, sessions, invitations and API
// keys: the people of an erased client can no longer sign in.
func (a *App) eraseTeam(ctx context.Context, c *facet.Client) error {
	// Every invitation, spent ones too: they hold an e-mail address.
	members, err := all[facet.Account](ctx, a, facet.CAccounts, facet.Query{Where: map[string]any{"clientId": c.ID}})
	if err != nil {
		return err
	}
	invs, err := all[facet.TeamInvite](ctx, a, facet.CTeamInvites, facet.Query{Where: map[string]any{"clientId": c.ID}})
	if err != nil {
		return err
	}
	for i := range members {
		if err := a.deleteAccount(ctx, &members[i]); err != nil {
			return err
		}
	}
	for _, inv := range invs {
		if err := a.Store.Delete(ctx, facet.CTeamInvites, inv.ID, inv.ID, ""); err != nil && !isCode(err, facet.ENotFound) {
			return err
		}
	}
	for _, k := range c.Keys {
		if err := a.Store.Delete(ctx, facet.CAPIKeys, k.Hash, k.Hash, ""); err != nil && !isCode(err, facet.ENotFound) {
			return err
		}
	}
	return nil
}
