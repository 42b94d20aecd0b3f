package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// stagingDir returns the folder where this process stages videos for
// ffmpeg: <base>/facet-staging/<pid>, created empty. Folders of processes
// that no longer run (killed mid-analysis, so no deferred removal ran)
// are removed first: nothing of a participant's video outlives a crash
// past the next start. Folders of live processes (another handler on the
// same machine) are left alone. cleanup removes this process's folder on
// a clean exit. base "" is the system's temporary folder.
func stagingDir(base string) (dir string, cleanup func(), err error) {
	if base == "" {
		base = os.TempDir()
	}
	root := filepath.Join(base, "facet-staging")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", nil, fmt.Errorf("staging: %w", err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return "", nil, fmt.Errorf("staging: %w", err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !e.IsDir() || processAlive(pid) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
			return "", nil, fmt.Errorf("staging: remove a dead process's videos: %w", err)
		}
	}
	dir = filepath.Join(root, strconv.Itoa(os.Getpid()))
	// A folder under this pid is a dead process's whose pid came round
	// again: it is not ours to keep.
	if err := os.RemoveAll(dir); err != nil {
		return "", nil, fmt.Errorf("staging: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("staging: %w", err)
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// processAlive reports whether a process with pid runs (signal 0 checks
// without sending anything; EPERM means it runs under another user).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
