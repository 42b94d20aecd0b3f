package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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

// TestDevBlobDirStartsClean: `facet dev` keeps no blobs across a restart
// (its Cosmos DB and Service Bus stand-ins keep nothing): blobs of
// earlier runs, and those older versions kept in the folder itself, are
// removed; a `facet dev` still running keeps its folder.
func TestDevBlobDirStartsClean(t *testing.T) {
	base := filepath.Join(t.TempDir(), "azurite")
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip("no `true` program to make a dead pid:", err)
	}
	live := strconv.Itoa(os.Getppid())
	for _, p := range []string{
		"__azurite_db_blob__.json",               // an older version's data, kept in base itself
		"__blobstorage__/1f2e",                   // its blob contents
		strconv.Itoa(dead.Process.Pid) + "/blob", // a run that ended without cleaning up
		live + "/blob",                           // a run still going
	} {
		if err := os.MkdirAll(filepath.Join(base, filepath.Dir(p)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(base, p), []byte("video"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	dir, cleanup, err := devBlobDir(base)
	if err != nil {
		t.Fatal(err)
	}
	if dir != filepath.Join(base, strconv.Itoa(os.Getpid())) {
		t.Errorf("dir %s", dir)
	}
	var left []string
	filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(base, p)
			left = append(left, rel)
		}
		return nil
	})
	if want := []string{live + "/blob"}; strings.Join(left, ",") != strings.Join(want, ",") {
		t.Errorf("left %v, want %v", left, want)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("this run's folder: %v", err)
	}
	cleanup()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("this run's folder outlived it: %v", err)
	}
	if !strings.Contains(devCleanNote, "starts clean") {
		t.Errorf("note %q", devCleanNote)
	}
}
