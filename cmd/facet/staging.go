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
	if dir, cleanup, err = pidDir(filepath.Join(base, "facet-staging"), false); err != nil {
		return "", nil, fmt.Errorf("staging: %w", err)
	}
	return dir, cleanup, nil
}

// pidDir returns <root>/<pid>, created empty (mode 0700), and a cleanup
// that removes it. The folders of processes that no longer run go first,
// and with strays every other entry of root too; the folders of live
// processes stay. A folder under this process's own pid is a dead
// process's whose pid came round again: it goes as well.
func pidDir(root string, strays bool) (dir string, cleanup func(), err error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", nil, err
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return "", nil, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		isPID := err == nil && e.IsDir()
		if isPID && pid != os.Getpid() && processAlive(pid) || !isPID && !strays {
			continue
		}
		if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
			return "", nil, fmt.Errorf("remove an earlier process's files: %w", err)
		}
	}
	dir = filepath.Join(root, strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", nil, err
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
