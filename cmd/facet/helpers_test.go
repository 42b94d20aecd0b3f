package main

import (
	"os/exec"
	"sort"
)

func execCommand(name string, args ...string) ([]byte, error) {
	return exec.Command(name, args...).CombinedOutput()
}

func sortStrings(s []string) []string { sort.Strings(s); return s }
