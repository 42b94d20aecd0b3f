package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// TestStagingDirRemovesDeadProcessesVideos: a video left by a process that
// was killed mid-analysis is gone at the next start; a live process's
// folder stays; the new folder is empty and goes on a clean exit.
func TestStagingDirRemovesDeadProcessesVideos(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "facet-staging")
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadDir := filepath.Join(root, strconv.Itoa(dead.Process.Pid))
	liveDir := filepath.Join(root, strconv.Itoa(os.Getppid()))
	for _, d := range []string{deadDir, liveDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "facet-video-1"), []byte("a participant's video"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	dir, cleanup, err := stagingDir(base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(deadDir); !os.IsNotExist(err) {
		t.Errorf("a dead process's video survived the start: %v", err)
	}
	if _, err := os.Stat(filepath.Join(liveDir, "facet-video-1")); err != nil {
		t.Errorf("a live process's video was removed: %v", err)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 || filepath.Base(dir) != strconv.Itoa(os.Getpid()) {
		t.Errorf("own folder %s: %v %v", dir, entries, err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("own folder mode %v, want 0700", fi.Mode().Perm())
	}
	os.WriteFile(filepath.Join(dir, "facet-video-2"), []byte("x"), 0o600)
	cleanup()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("own folder left after a clean exit: %v", err)
	}
}
