package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/humaninsight/facet/internal/testenv"
)

// TestSettingsDocumented: every variable the binary reads is in README's
// configuration table and in local.settings.sample.json.
func TestSettingsDocumented(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "local.settings.sample.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sample struct {
		Values map[string]string `json:"Values"`
	}
	if err := json.Unmarshal(raw, &sample); err != nil {
		t.Fatal(err)
	}
	for _, name := range configVars() {
		if !strings.Contains(string(readme), "| `"+name+"`") {
			t.Errorf("README's configuration table lacks %s", name)
		}
		if _, ok := sample.Values[name]; !ok && name != "FUNCTIONS_CUSTOMHANDLER_PORT" {
			t.Errorf("local.settings.sample.json lacks %s", name)
		}
	}
}

func TestLoadConfig(t *testing.T) {
	env := map[string]string{"FACET_WORKERS": "3", "FACET_CREATE_RESOURCES": "true", "FACET_UPLOAD_TTL": "30m", "COSMOS_ENDPOINT": "https://x/"}
	c, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Workers != 3 || !c.CreateResources || c.UploadTTL != 30*time.Minute || c.CosmosEndpoint != "https://x/" || c.CosmosDatabase != "facet" {
		t.Errorf("config %+v", c)
	}
	for k, v := range map[string]string{"FACET_WORKERS": "-1", "FACET_CREATE_RESOURCES": "maybe", "FACET_UPLOAD_TTL": "soon"} {
		if _, err := loadConfig(func(n string) string {
			if n == k {
				return v
			}
			return ""
		}); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v", k, v, err)
		}
	}
}

// TestLoadConfigOrphanShare: FACET_ORPHAN_SHARE_MAX is a share in (0, 1].
func TestLoadConfigOrphanShare(t *testing.T) {
	for v, want := range map[string]float64{"": 0, "0.1": 0.1, "1": 1, "0.025": 0.025} {
		c, err := loadConfig(func(n string) string {
			if n == "FACET_ORPHAN_SHARE_MAX" {
				return v
			}
			return ""
		})
		if err != nil || c.OrphanShareMax != want {
			t.Errorf("%q: %v, %v; want %v", v, c.OrphanShareMax, err, want)
		}
	}
	for _, v := range []string{"0", "-0.1", "1.5", "10%", "NaN", "many"} {
		if _, err := loadConfig(func(n string) string {
			if n == "FACET_ORPHAN_SHARE_MAX" {
				return v
			}
			return ""
		}); err == nil || !strings.Contains(err.Error(), "FACET_ORPHAN_SHARE_MAX") {
			t.Errorf("%q: %v, want an error naming the variable", v, err)
		}
	}
}

// TestMailerConfig: Azure Communication Services when FACET_MAIL_ENDPOINT
// is set, the outbox when FACET_MAIL_OUTBOX is, and an error at start
// naming the variables otherwise.
func TestMailerConfig(t *testing.T) {
	const endpoint, sender = "https://facet-mail.europe.communication.azure.com", "DoNotReply@0a1b2c3d-0000-4000-8000-00000000abcd.azurecomms.net"
	cases := []struct {
		name     string
		cfg      config
		identity error  // from the managed identity
		want     string // the Mailer's type, or a variable the error names
	}{
		{"azure", config{MailEndpoint: endpoint, MailSender: sender}, nil, "*acsemail.Mailer"},
		{"outbox", config{MailOutbox: "out", MailSender: sender}, nil, "*outbox.Outbox"},
		{"nothing", config{}, nil, "FACET_MAIL_OUTBOX"},
		{"both", config{MailEndpoint: endpoint, MailSender: sender, MailOutbox: "out"}, nil, "not both"},
		{"no sender", config{MailEndpoint: endpoint}, nil, "FACET_MAIL_SENDER"},
		{"bad sender", config{MailEndpoint: endpoint, MailSender: "Facet <" + sender + ">"}, nil, "FACET_MAIL_SENDER"},
		{"http endpoint", config{MailEndpoint: "http://facet-mail.europe.communication.azure.com", MailSender: sender}, nil, "FACET_MAIL_ENDPOINT"},
		{"no identity", config{MailEndpoint: endpoint, MailSender: sender}, errors.New("no managed identity"), "no managed identity"},
	}
	for _, c := range cases {
		m, err := mailer(c.cfg, func() (azcore.TokenCredential, error) { return fakeCredential{}, c.identity })
		got := fmt.Sprintf("%T", m)
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, c.want) || (err == nil) != strings.HasPrefix(c.want, "*") {
			t.Errorf("%s: mailer = %v, %v; want %s", c.name, m, err, c.want)
		}
	}
}

// fakeCredential stands in for the managed identity; mailer never asks
// it for a token.
type fakeCredential struct{}

func (fakeCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, errors.New("fakeCredential: no tokens here")
}
