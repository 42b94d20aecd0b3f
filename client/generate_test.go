package client

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestClientUpToDate runs this package's //go:generate command, with the
// generator go.mod pins, into a temporary folder and fails when the result
// differs from the committed client.gen.go: the client can never drift
// from api/openapi.json, the configuration or the overlay.
func TestClientUpToDate(t *testing.T) {
	args := generateArgs(t)
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to run the pinned generator: %v", err)
	}
	want, err := os.ReadFile("client.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "client.gen.go")
	for i, a := range args {
		if i > 0 && args[i-1] == "-o" {
			if a != "client.gen.go" {
				t.Fatalf("//go:generate writes %s, want client.gen.go", a)
			}
			args[i] = out
		}
	}
	cmd := exec.Command(goBin, args[1:]...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, b)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^// Code generated .* DO NOT EDIT\.$`).Match(got) {
		t.Error(`client.gen.go lacks the "// Code generated ... DO NOT EDIT." line`)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		n := 0
		for n < len(gl) && n < len(wl) && gl[n] == wl[n] {
			n++
		}
		line := func(l []string) string {
			if n < len(l) {
				return l[n]
			}
			return "(end of file)"
		}
		t.Errorf("client.gen.go is not what the pinned generator makes of api/openapi.json: run `make client` and commit the result\nfirst difference, line %d:\n  committed: %s\n  generated: %s", n+1, line(wl), line(gl))
	}
}

// generateArgs returns the fields of the package's one //go:generate line.
func generateArgs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var found [][]string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(l, "//go:generate "); ok {
				found = append(found, strings.Fields(rest))
			}
		}
	}
	if len(found) != 1 || len(found[0]) < 3 || found[0][0] != "go" || found[0][1] != "tool" {
		t.Fatalf("want one //go:generate go tool ... line in the package, found %q", found)
	}
	return found[0]
}
