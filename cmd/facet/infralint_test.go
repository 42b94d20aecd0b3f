package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/testenv"
)

// infraLintNode returns the node program for scripts/infra-lint.mjs, after
// checking that the tree-sitter-bicep `make setup` copies from
// ../shared/tools/bicep-lint is installed. It skips the test, or fails it
// under FACET_REQUIRE_INTEGRATION=1, when either is missing.
func infraLintNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Skip(t, "node not found on PATH: infra-lint needs Node.js")
	}
	tools := os.Getenv("FACET_BICEP_LINT_DIR")
	if tools == "" {
		tools = filepath.Join(testenv.RepoRoot(), ".cache", "tools", "bicep-lint")
	}
	for _, m := range []string{"web-tree-sitter", "tree-sitter-bicep"} {
		if _, err := os.Stat(filepath.Join(tools, "node_modules", m)); err != nil {
			testenv.Skip(t, filepath.Join(tools, "node_modules", m)+" not found: run `make setup` (it installs ../shared/tools/bicep-lint) or set FACET_BICEP_LINT_DIR")
		}
	}
	return node
}

// infraLint runs node scripts/infra-lint.mjs args from the repository root
// and returns its output (stdout and stderr) and exit code.
func infraLint(t *testing.T, node string, args ...string) (string, int) {
	t.Helper()
	root := testenv.RepoRoot()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{filepath.Join("scripts", "infra-lint.mjs")}, args...)...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &exit):
		return out.String(), exit.ExitCode()
	default:
		t.Fatalf("node scripts/infra-lint.mjs %s: %v\n%s", strings.Join(args, " "), err, out.String())
		return "", -1
	}
}

// infraLintInputs writes the --config-vars JSON (what `facet config-vars`
// prints, from azureVars) and the --containers JSON (facet.Containers) to
// temporary files and returns their paths.
func infraLintInputs(t *testing.T) (configVars, containers string) {
	t.Helper()
	dir := t.TempDir()
	azure, local := azureVars()
	cv, err := json.Marshal(map[string][]string{"azure": azure, "localOnly": local})
	if err != nil {
		t.Fatal(err)
	}
	configVars = filepath.Join(dir, "config-vars.json")
	if err := os.WriteFile(configVars, cv, 0o644); err != nil {
		t.Fatal(err)
	}
	type container struct {
		Name         string   `json:"name"`
		PartitionKey string   `json:"partitionKey"`
		OrderBy      []string `json:"orderBy"`
	}
	var cs []container
	for _, c := range facet.Containers {
		cs = append(cs, container{c.Name, c.PartitionKey, c.OrderBy})
	}
	cj, err := json.Marshal(cs)
	if err != nil {
		t.Fatal(err)
	}
	containers = filepath.Join(dir, "containers.json")
	if err := os.WriteFile(containers, cj, 0o644); err != nil {
		t.Fatal(err)
	}
	return configVars, containers
}

// violationLine is one `file:line:col: rule-id: message` line.
var violationLine = regexp.MustCompile(`^(.+?):(\d+):(\d+): ([a-z-]+): (.+)$`)

// ruleIDs returns the rule ids of out's violation lines, and the lines
// that are neither a violation nor the final "OK" summary.
func ruleIDs(out string) (ids []string, other []string) {
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" || strings.HasPrefix(line, "infra-lint: ") && strings.HasSuffix(line, " OK") {
			continue
		}
		if m := violationLine.FindStringSubmatch(line); m != nil {
			ids = append(ids, m[4])
		} else {
			other = append(other, line)
		}
	}
	return ids, other
}

// TestInfraLintFixtures: infra-lint passes good.bicep and good-cors-module/
// and finds in each bad-*.bicep (or bad-* folder, linted as one run) the
// violations of exactly the rule it is about.
func TestInfraLintFixtures(t *testing.T) {
	const dir = "scripts/testdata/infra-lint"
	cases := []struct {
		fixture, rule string
		configVars    bool // pass --config-vars
		containers    bool // pass --containers
	}{
		{"bad-syntax.bicep", "syntax", false, false},
		{"bad-api-preview.bicep", "api-version-pinned", false, false},
		{"bad-api-mismatch.bicep", "api-version-pinned", false, false},
		{"bad-api-unverified.bicep", "api-version-pinned", false, false},
		{"bad-api-no-version.bicep", "api-version-pinned", false, false},
		{"bad-location-uk.bicep", "eea-location", false, false},
		{"bad-location-switzerland.bicep", "eea-location", false, false},
		{"bad-location-no-allowed.bicep", "eea-location", false, false},
		{"bad-location-resourcegroup.bicep", "eea-location", false, false},
		{"bad-location-module.bicep", "eea-location", false, false},
		{"bad-cosmos-location.bicep", "eea-location", false, false},
		{"bad-storage-tls.bicep", "storage-security", false, false},
		{"bad-storage-shared-key.bicep", "storage-security", false, false},
		{"bad-storage-two-hosts.bicep", "storage-security", false, false},
		{"bad-storage-grs.bicep", "storage-security", false, false},
		{"bad-storage-not-literal.bicep", "storage-security", false, false},
		{"bad-storage-ternary.bicep", "storage-security", false, false},
		{"bad-blob-versioning.bicep", "blob-service", false, false},
		{"bad-blob-missing.bicep", "blob-service", false, false},
		{"bad-cors-origin-wildcard.bicep", "storage-cors", false, false},
		{"bad-cors-origin-http.bicep", "storage-cors", false, false},
		{"bad-cors-origin-param.bicep", "storage-cors", false, false},
		{"bad-cors-origin-guard.bicep", "storage-cors", false, false},
		{"bad-cors-module", "storage-cors", false, false}, // a folder: main.bicep and its module
		{"bad-cors-methods.bicep", "storage-cors", false, false},
		{"bad-cors-headers-wildcard.bicep", "storage-cors", false, false},
		{"bad-cors-headers-missing.bicep", "storage-cors", false, false},
		{"bad-cors-second-rule.bicep", "storage-cors", false, false},
		{"bad-cors-other-services.bicep", "storage-cors", false, false},
		{"bad-cors-not-literal.bicep", "storage-cors", false, false},
		{"bad-functionapp.bicep", "functionapp", false, false},
		{"bad-cosmos.bicep", "cosmos", false, false},
		{"bad-servicebus.bicep", "servicebus", false, false},
		{"bad-keyvault.bicep", "keyvault", false, false},
		{"bad-communication-datalocation.bicep", "communication", false, false},
		{"bad-communication-localauth.bicep", "communication", false, false},
		{"bad-communication-tracking.bicep", "communication", false, false},
		{"bad-output-listkeys.bicep", "no-secrets-in-outputs", false, false},
		{"bad-output-secure-param.bicep", "no-secrets-in-outputs", false, false},
		{"bad-output-name.bicep", "no-secrets-in-outputs", false, false},
		{"bad-appsettings-localonly.bicep", "app-settings", true, false},
		{"bad-appsettings-missing.bicep", "app-settings", true, false},
		{"bad-cosmos-containers.bicep", "cosmos-containers", false, true},
	}
	// Every fixture on disk (file or folder) is in the table.
	onDisk, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), dir, "bad-*"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, c := range cases {
		listed[c.fixture] = true
	}
	for _, p := range onDisk {
		if !listed[filepath.Base(p)] {
			t.Errorf("%s has no entry in TestInfraLintFixtures' table", filepath.Base(p))
		}
	}

	node := infraLintNode(t)
	configVars, containers := infraLintInputs(t)
	t.Run("good.bicep", func(t *testing.T) {
		out, code := infraLint(t, node, "--config-vars", configVars, "--containers", containers, dir+"/good.bicep")
		if code != 0 {
			t.Fatalf("exit %d, want 0:\n%s", code, out)
		}
	})
	// storage-cors across files: a module's origin param, checked at its caller.
	t.Run("good-cors-module", func(t *testing.T) {
		out, code := infraLint(t, node, dir+"/good-cors-module")
		if code != 0 {
			t.Fatalf("exit %d, want 0:\n%s", code, out)
		}
	})
	for _, c := range cases {
		t.Run(c.fixture, func(t *testing.T) {
			t.Parallel()
			var args []string
			if c.configVars {
				args = append(args, "--config-vars", configVars)
			}
			if c.containers {
				args = append(args, "--containers", containers)
			}
			out, code := infraLint(t, node, append(args, dir+"/"+c.fixture)...)
			if code != 1 {
				t.Fatalf("exit %d, want 1:\n%s", code, out)
			}
			ids, other := ruleIDs(out)
			if len(ids) == 0 {
				t.Fatalf("no violation reported, want %s:\n%s", c.rule, out)
			}
			for _, id := range ids {
				if id != c.rule {
					t.Errorf("reported %s, want only %s:\n%s", id, c.rule, out)
					break
				}
			}
			if len(other) > 0 {
				t.Errorf("lines not in the form file:line:col: rule-id: message:\n%s", strings.Join(other, "\n"))
			}
		})
	}
}

// TestInfraLintTemplates: the project's own templates (infra/**/*.bicep)
// pass every rule, with the app settings config-vars lists and the
// containers of facet.Containers.
func TestInfraLintTemplates(t *testing.T) {
	node := infraLintNode(t)
	root := testenv.RepoRoot()
	var files []string
	err := filepath.WalkDir(filepath.Join(root, "infra"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".bicep") {
			rel, _ := filepath.Rel(root, p)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("infra/ has no .bicep files: the Bicep templates (infra/main.bicep, infra/modules/*.bicep, infra/events.bicep) are being written and must pass infra-lint")
	}
	sort.Strings(files)
	configVars, containers := infraLintInputs(t)
	out, code := infraLint(t, node, append([]string{"--config-vars", configVars, "--containers", containers}, files...)...)
	if code != 0 {
		t.Fatalf("infra-lint on %s: exit %d:\n%s", strings.Join(files, " "), code, out)
	}
}
