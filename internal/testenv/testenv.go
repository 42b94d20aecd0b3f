// Package testenv finds the things tests need outside the repository (the
// shared media, models and tools, the installed runtime) and decides what a
// missing one means: a skip with a printed reason, or a failure when
// FACET_REQUIRE_INTEGRATION=1 (as in CI).
package testenv

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

var (
	rootOnce sync.Once
	root     string
)

// RepoRoot returns the directory holding go.mod, found by walking up from the
// working directory (go test runs in the package directory).
func RepoRoot() string {
	rootOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			return
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				root = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				return
			}
			dir = parent
		}
	})
	return root
}

// Required reports whether integration prerequisites are mandatory.
func Required() bool { return os.Getenv("FACET_REQUIRE_INTEGRATION") == "1" }

// Skip skips the test with reason, or fails it when integration is required.
func Skip(t testing.TB, reason string) {
	t.Helper()
	if Required() {
		t.Fatalf("FACET_REQUIRE_INTEGRATION=1 and %s", reason)
	}
	t.Skip(reason)
}

// SharedDir returns FACET_SHARED_DIR, or ../shared beside the repository.
func SharedDir() string {
	if d := os.Getenv("FACET_SHARED_DIR"); d != "" {
		return d
	}
	return filepath.Join(RepoRoot(), "..", "shared")
}

// Shared returns the path of rel inside the shared directory, skipping the
// test (or failing it, see Skip) when it is absent.
func Shared(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(SharedDir(), rel)
	if _, err := os.Stat(p); err != nil {
		Skip(t, "shared file "+rel+" not found (set FACET_SHARED_DIR): "+err.Error())
	}
	return p
}

// File returns the path of rel inside the repository, skipping the test (or
// failing it) when it is absent, e.g. a download `make setup` has not made.
func File(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(RepoRoot(), rel)
	if _, err := os.Stat(p); err != nil {
		Skip(t, rel+" not found: run `make setup` ("+err.Error()+")")
	}
	return p
}
