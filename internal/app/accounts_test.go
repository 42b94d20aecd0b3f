package app

import (
	"testing"
	"time"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/inmem"
)

// member invites email to c in role and signs the person up.
func (e *testEnv) member(c *facet.Client, email string, role facet.Role) *SignedIn {
	e.t.Helper()
	mail := &inmem.Mailer{}
	e.app.Mail = mail
	_, err := e.app.Invite(e.ctx, c.ID, nil, email, role)
	e.must(err)
	token := SignUpToken(mail.Sent()[0].Text)
	if token == "" {
		e.t.Fatalf("no link in %q", mail.Sent()[0].Text)
	}
	in, err := e.app.SignUp(e.ctx, token, NewMember{Name: "Ada", Password: "correct horse battery staple"}, "test")
	e.must(err)
	return in
}

// TestSessionIdle: a session ends after SessionIdle without a request,
// and a request keeps it alive.
func TestSessionIdle(t *testing.T) {
	e := newTestEnv(t)
	in := e.member(e.client("Acme"), "ada@acme.example", facet.RoleOwner)
	for _, d := range []time.Duration{facet.SessionIdle - time.Minute, 2*facet.SessionIdle - 2*time.Minute} {
		e.later(d)
		if _, err := e.app.Session(e.ctx, in.Cookie); err != nil {
			t.Fatalf("after %v: %v", d, err)
		}
	}
	e.later(3*facet.SessionIdle - time.Minute)
	if _, err := e.app.Session(e.ctx, in.Cookie); facet.ErrorCode(err) != facet.EUnauthorized {
		t.Fatalf("idle for an hour: %v", err)
	}
	if _, err := e.app.Session(e.ctx, in.Cookie[:len(in.Cookie)-1]+"x"); facet.ErrorCode(err) != facet.EUnauthorized {
		t.Fatalf("a forged cookie: %v", err)
	}
}

// TestEraseTeam: erasing a client leaves no trace of its people (their
// addresses are personal data) and nobody can sign in.
func TestEraseTeam(t *testing.T) {
	e := newTestEnv(t)
	c := e.client("Acme")
	owner := e.member(c, "ada@acme.example", facet.RoleOwner)
	e.must(func() error {
		_, err := e.app.Invite(e.ctx, c.ID, owner.Account, "rita@acme.example", facet.RoleResearcher)
		return err
	}())
	_, _, err := e.app.CreateKey(e.ctx, owner.Client, "CRM", owner.Account)
	e.must(err)
	if _, err := e.app.EraseClient(e.ctx, c.ID, TriggerAPI, owner.Account); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"ada@acme.example", "rita@acme.example", owner.Account.ID + `","csrf`} {
		if got := e.docsMentioning(s); len(got) != 0 {
			t.Errorf("%s is still in %v", s, got)
		}
	}
	if _, err := e.app.Session(e.ctx, owner.Cookie); facet.ErrorCode(err) != facet.EUnauthorized {
		t.Errorf("the owner's session after erasure: %v", err)
	}
	if _, err := e.app.SignIn(e.ctx, Credentials{Email: "ada@acme.example", Password: "correct horse battery staple"}, ""); facet.ErrorCode(err) != facet.EUnauthorized {
		t.Errorf("sign-in after erasure: %v", err)
	}
}

// TestSweepLogins: the sweep deletes ended sessions and spent invitations
// a day on, and leaves live ones.
func TestSweepLogins(t *testing.T) {
	e := newTestEnv(t)
	c := e.client("Acme")
	owner := e.member(c, "ada@acme.example", facet.RoleOwner)
	_, err := e.app.Invite(e.ctx, c.ID, owner.Account, "rita@acme.example", facet.RoleResearcher)
	e.must(err)
	if r := e.sweep(); r.EndedLogins != 0 {
		t.Fatalf("a fresh sweep ended %d", r.EndedLogins)
	}
	e.later(facet.SessionIdle + time.Minute)
	if r := e.sweep(); r.EndedLogins != 1 { // the session; the spent invitation is an hour old
		t.Fatalf("after an idle hour: %d ended, want 1", r.EndedLogins)
	}
	e.later(facet.TeamInviteTTL + 25*time.Hour)
	if r := e.sweep(); r.EndedLogins != 2 { // both invitations
		t.Fatalf("after the invitations' time: %d ended, want 2", r.EndedLogins)
	}
	if got := e.docsMentioning("rita@acme.example"); len(got) != 0 {
		t.Errorf("the unanswered invitation is still in %v", got)
	}
}
