package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
