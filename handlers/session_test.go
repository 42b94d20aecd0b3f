package handlers

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/app"
	"github.com/humaninsight/facet/internal/credential"
	"github.com/humaninsight/facet/internal/inmem"
)

// mailToken returns the sign-up token of the newest invitation e-mail.
func mailToken(t testing.TB, m *inmem.Mailer) string {
	t.Helper()
	sent := m.Sent()
	if len(sent) == 0 {
		t.Fatal("no e-mail was sent")
	}
	token := app.SignUpToken(sent[len(sent)-1].Text)
	if token == "" {
		t.Fatalf("no sign-up link in %q", sent[len(sent)-1].Text)
	}
	return token
}

// session signs in (path /api/session) or signs up (/api/signup/<token>)
// with body, checks the cookie's attributes, and returns the credential
// env.call takes: "session <cookie> <csrf token>".
func (e *env) session(path string, body map[string]any) string {
	e.t.Helper()
	j, _ := json.Marshal(body)
	resp, err := http.Post(e.srv.URL+path, "application/json", bytes.NewReader(j))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		CSRFToken string `json:"csrfToken"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != http.StatusCreated {
		e.t.Fatalf("POST %s: %d", path, resp.StatusCode)
	}
	var ck *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == SessionCookie {
			ck = c
		}
	}
	if ck == nil || !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Domain != "" || out.CSRFToken == "" {
		e.t.Fatalf("POST %s: session cookie %+v, csrf %q", path, ck, out.CSRFToken)
	}
	return "session " + ck.Value + " " + out.CSRFToken
}

// join accepts the newest invitation e-mail's link as name.
func (e *env) join(name string) string {
	e.t.Helper()
	return e.session("/api/signup/"+mailToken(e.t, e.mail), map[string]any{"name": name, "password": "correct horse battery staple " + name})
}

// noCSRF drops the CSRF token from a session credential.
func noCSRF(cred string) string { return strings.Join(strings.Fields(cred)[:2], " ") }

// TestPortalRoles walks the portal's people through the API: the
// operator invites a client's owner, who invites a researcher and a
// viewer; what each may do follows the role, changes need the CSRF
// token, and another client finds nothing.
func TestPortalRoles(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/api/operators/invitations", "admin", map[string]any{"email": "op@facet.example"})
	token := mailToken(t, e.mail)
	if got := e.must(200, "GET", "/api/signup/"+token, "", nil); got["role"] != "operator" || got["email"] != "op@facet.example" {
		t.Fatalf("sign-up info %v", got)
	}
	for _, weak := range []string{"short", "1qaz2wsx3edc", "LeaveMeAlone2024!", "op@facet.example!!", "aaaaaaaaaaaaaaaa"} {
		if st, p := e.call("POST", "/api/signup/"+token, "", map[string]any{"name": "Otto", "password": weak}); st != 422 {
			t.Errorf("password %q: %d %v, want 422", weak, st, p)
		}
	}
	op := e.join("Otto")
	if st, _ := e.call("POST", "/api/signup/"+token, "", map[string]any{"name": "Otto", "password": "correct horse battery staple"}); st != 410 {
		t.Errorf("a spent invitation: %d, want 410", st)
	}
	client := map[string]any{"company": "Acme Research", "contact": map[string]any{"name": "Ada", "email": "ada@acme.example"},
		"demographics": map[string]any{"country": "DE"}, "dpaVersion": "2026-01", "owner": map[string]any{"email": "ada@acme.example"}}
	e.must(403, "POST", "/api/clients", noCSRF(op), client)
	if made := e.must(201, "POST", "/api/clients", op, client); made["apiKey"] != nil || made["ownerInvitation"] == nil {
		t.Errorf("a client with an invited owner: %v (no key: the owner makes them)", made)
	}
	e.must(403, "GET", "/api/projects", op, nil) // an operator sees no client's data
	owner := e.join("Ada")
	e.must(201, "POST", "/api/team/invitations", owner, map[string]any{"email": "rita@acme.example", "role": "researcher"})
	researcher := e.join("Rita")
	e.must(201, "POST", "/api/team/invitations", owner, map[string]any{"email": "vic@acme.example", "role": "viewer"})
	viewer := e.join("Vic")

	project := e.must(201, "POST", "/api/projects", researcher, map[string]any{"name": "Trailer", "privacyMode": "retain", "useContext": "media-testing"})["id"].(string)
	e.must(403, "POST", "/api/projects", noCSRF(researcher), map[string]any{"name": "Trailer", "privacyMode": "retain", "useContext": "media-testing"})
	e.must(201, "POST", "/api/projects/"+project+"/invitations", researcher, map[string]any{})
	got := e.must(200, "GET", "/api/projects/"+project, viewer, nil)
	if counts, _ := got["counts"].(map[string]any); counts["awaiting-upload"] != 0.0 {
		t.Errorf("counts %v", got["counts"])
	}
	for _, c := range []struct{ method, path, cred string }{
		{"PATCH", "/api/projects/" + project, viewer}, {"POST", "/api/projects/" + project + "/close", viewer},
		{"DELETE", "/api/projects/" + project, viewer}, {"POST", "/api/projects/" + project + "/invitations", viewer},
		{"GET", "/api/webhooks", researcher}, {"POST", "/api/clients/me/keys", researcher}, {"GET", "/api/clients/me/audit?type=security", researcher},
		{"POST", "/api/team/invitations", researcher}, {"DELETE", "/api/clients/me", researcher}, {"GET", "/api/clients", owner},
	} {
		if st, p := e.call(c.method, c.path, c.cred, map[string]any{}); st != 403 || p["type"] != ProblemType(facet.EForbidden) {
			t.Errorf("%s %s as %s: %d %v, want 403", c.method, c.path, strings.Fields(c.cred)[1][:8], st, p)
		}
	}
	_, keyB := e.newClient("Other Research")
	team := e.must(200, "GET", "/api/team", viewer, nil)
	if n := len(team["items"].([]any)); n != 3 {
		t.Fatalf("team of %d, want 3: %v", n, team)
	}
	ownerID := e.must(200, "GET", "/api/session", owner, nil)["account"].(map[string]any)["id"].(string)
	for _, c := range []struct{ method, path string }{{"GET", "/api/projects/" + project}, {"PATCH", "/api/team/" + ownerID}, {"DELETE", "/api/team/" + ownerID}} {
		e.must(404, c.method, c.path, keyB, map[string]any{"role": "viewer"})
	}
	e.must(409, "PATCH", "/api/team/"+ownerID, owner, map[string]any{"role": "viewer"}) // the only owner
}

// TestSessionLifecycle: a second factor, signing out, a password change
// that ends the other sessions, failed sign-ins throttled per account,
// API keys made and revoked, and the security log that records them.
func TestSessionLifecycle(t *testing.T) {
	e := newEnv(t)
	id, key := e.newClient("Acme Research")
	e.must(201, "POST", "/api/clients/"+id+"/invitations", "admin", map[string]any{"email": "ada@acme.example"})
	owner := e.join("Ada")
	pw := "correct horse battery staple Ada"
	signIn := map[string]any{"email": "ADA@Acme.example", "password": pw}

	// A second factor: set up, confirmed by a code, then asked for.
	secret := e.must(201, "POST", "/api/account/totp", owner, map[string]any{})["secret"].(string)
	now := time.Now()
	code, _ := credential.TOTPCode(secret, now)
	e.must(422, "PUT", "/api/account/totp", owner, map[string]any{"code": "000000"})
	e.must(204, "PUT", "/api/account/totp", owner, map[string]any{"code": code})
	if p := e.must(401, "POST", "/api/session", "", signIn); p["code"] != facet.ECodeRequired {
		t.Fatalf("sign-in without the code: %v", p)
	}
	signIn["code"] = code
	e.must(401, "POST", "/api/session", "", signIn) // a used code works once
	signIn["code"], _ = credential.TOTPCode(secret, now.Add(30*time.Second))
	second := e.session("/api/session", signIn)
	if got := e.must(200, "GET", "/api/session", second, nil)["account"].(map[string]any); got["totp"] != true || got["role"] != "owner" {
		t.Errorf("account %v", got)
	}
	sessions := e.must(200, "GET", "/api/account/sessions", owner, nil)["items"].([]any)
	if len(sessions) != 2 {
		t.Fatalf("%d sessions, want 2", len(sessions))
	}

	// A password change ends the other session, not this one.
	e.must(422, "POST", "/api/account/password", owner, map[string]any{"currentPassword": "wrong wrong wrong", "newPassword": "a new and long passphrase"})
	e.must(204, "POST", "/api/account/password", owner, map[string]any{"currentPassword": pw, "newPassword": "a new and long passphrase"})
	e.must(401, "GET", "/api/session", second, nil)
	e.must(200, "GET", "/api/session", owner, nil)

	// Keys: made, used, revoked.
	made := e.must(201, "POST", "/api/clients/me/keys", owner, map[string]any{"name": "CRM"})
	e.must(200, "GET", "/api/projects", made["apiKey"].(string), nil)
	if keys := e.must(200, "GET", "/api/clients/me/keys", key, nil)["items"].([]any); len(keys) != 2 {
		t.Fatalf("keys %v", keys)
	}
	e.must(204, "DELETE", "/api/clients/me/keys/"+made["id"].(string), owner, nil)
	e.must(401, "GET", "/api/projects", made["apiKey"].(string), nil)
	e.must(404, "DELETE", "/api/clients/me/keys/"+made["id"].(string), owner, nil)

	// Signing out ends the session.
	e.must(204, "DELETE", "/api/session", owner, nil)
	e.must(401, "GET", "/api/session", owner, nil)

	// Failed sign-ins: the account is throttled, the right password too
	// (the replayed code above was one failure).
	for i := 1; i < SignInFailures; i++ {
		e.must(401, "POST", "/api/session", "", map[string]any{"email": "ada@acme.example", "password": "not the password"})
	}
	e.must(429, "POST", "/api/session", "", map[string]any{"email": "ada@acme.example", "password": "a new and long passphrase"})

	var actions []string
	for _, it := range e.must(200, "GET", "/api/clients/me/audit?type=security", key, nil)["items"].([]any) {
		actions = append(actions, it.(map[string]any)["action"].(string))
	}
	// Entries of one millisecond come in any order: compare them sorted.
	slices.Sort(actions)
	want := []string{"member-invited", "member-joined", "totp-enabled", "sign-in-failed", "signed-in", "password-changed", "key-created", "key-revoked", "signed-out"}
	want = append(want, slices.Repeat([]string{"sign-in-failed"}, SignInFailures-1)...)
	slices.Sort(want)
	if d := cmp.Diff(want, actions); d != "" {
		t.Errorf("security log (-want +got):\n%s", d)
	}
}
