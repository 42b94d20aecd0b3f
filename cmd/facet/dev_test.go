package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDevAdminKeyNotPrinted: the dev banner says where the operator key
// comes from, never the key itself.
func TestDevAdminKeyNotPrinted(t *testing.T) {
	file := filepath.Join(t.TempDir(), "dev", "admin-key")
	cfg := config{AdminKey: "set-by-the-operator"}
	note, err := devAdminKey(&cfg, file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(note, cfg.AdminKey) || !strings.Contains(note, "FACET_ADMIN_KEY") {
		t.Errorf("given key: note %q", note)
	}
	if _, err := os.Stat(file); err == nil {
		t.Error("a given key was written to a file")
	}

	cfg = config{}
	note, err = devAdminKey(&cfg, file)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AdminKey == "" || strings.Contains(note, cfg.AdminKey) || !strings.Contains(note, file) {
		t.Errorf("generated key %q: note %q", cfg.AdminKey, note)
	}
	b, err := os.ReadFile(file)
	if err != nil || strings.TrimSpace(string(b)) != cfg.AdminKey {
		t.Fatalf("key file: %q, %v", b, err)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
}
