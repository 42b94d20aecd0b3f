package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/humaninsight/facet/client"
	"github.com/humaninsight/facet/internal/app"
	"github.com/humaninsight/facet/internal/outbox"
)

// The demo's portal part: the operator registers a second client with
// its first owner's address; the owner signs up from the e-mailed link,
// as a person would in the portal, and a project made with the session's
// cookie and CSRF token shows the portal's credential opening the same
// API as the key.

// portal makes the demo owner and returns the portal's address, the
// owner's e-mail address and password.
func (d *demo) portal(ctx context.Context, base, outboxDir string, say func(string, ...any)) (email, password string, err error) {
	email = "owner@portal-demo.example"
	reg, err := d.admin.CreateClientWithResponse(ctx, client.ClientRegistration{
		Company: "Portal Demo Research", Contact: client.Contact{Name: "Olga Owner", Email: openapi_types.Email(email)},
		Demographics: client.Demographics{Country: "NL"}, DpaVersion: "2026-01", Owner: &client.Invitee{Email: openapi_types.Email(email)}})
	if err := check("POST /api/clients", http.StatusCreated, reg, err); err != nil {
		return "", "", err
	}
	mail, err := outbox.Latest(outboxDir, email)
	if err != nil {
		return "", "", fmt.Errorf("demo: the owner's invitation: %w", err)
	}
	token := app.SignUpToken(mail.Text)
	if token == "" {
		return "", "", fmt.Errorf("demo: no sign-up link in the owner's invitation")
	}
	say("client %s registered with its first owner: %q e-mailed to %s (the outbox), link …%s%s…", reg.JSON201.Id, mail.Subject, email, app.SignUpPath, token[:3])
	b := make([]byte, 8)
	rand.Read(b)
	password = "demo owner " + hex.EncodeToString(b)
	su, err := d.public.SignUpWithResponse(ctx, token, client.NewAccount{Name: "Olga Owner", Password: password})
	if err := check("POST /api/signup/{token}", http.StatusCreated, su, err); err != nil {
		return "", "", err
	}
	var cookie *http.Cookie
	for _, c := range su.HTTPResponse.Cookies() {
		if c.Name == "__Host-facet-session" {
			cookie = c
		}
	}
	if cookie == nil {
		return "", "", fmt.Errorf("demo: sign-up set no session cookie")
	}
	say("the owner signed up: role %s, session cookie %s (HttpOnly, Secure, SameSite=Strict), a CSRF token for changes", su.JSON201.Account.Role, cookie.Name)
	session, err := client.NewClientWithResponses(base, client.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
		r.Header.Set("X-CSRF-Token", su.JSON201.CsrfToken)
		return nil
	}))
	if err != nil {
		return "", "", err
	}
	pr, err := session.CreateProjectWithResponse(ctx, client.NewProject{Name: "Trailer A/B",
		PrivacyMode: client.PrivacyModeDeleteAfterAnalysis, UseContext: client.NewProjectUseContextMediaTesting})
	if err := check("POST /api/projects (session)", http.StatusCreated, pr, err); err != nil {
		return "", "", err
	}
	say("  with the session, as the portal does: project %s created (the same API the key opens)", pr.JSON201.Id)
	return email, password, nil
}
