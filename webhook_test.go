package facet

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readmeSnippet returns the code block that follows marker in README.md.
func readmeSnippet(t *testing.T, marker string) string {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), marker)
	if !ok {
		t.Fatalf("README.md has no %s", marker)
	}
	_, code, _ := strings.Cut(after, "\n```")
	_, code, _ = strings.Cut(code, "\n") // the fence's language
	code, _, _ = strings.Cut(code, "\n```")
	return code
}

// signatureCases are deliveries signed by Sign and what a receiver's
// check must say of each: the README's snippets are held to them.
func signatureCases(now time.Time) []struct {
	name, header, body, secret string
	ok                         bool
} {
	body := `{"id":"evt_9b2c4e6f8a0b1c3d5e7f9a1b","type":"recording.analyzed","createdAt":"2026-03-02T10:16:01Z","data":{"projectId":"pr_5a6444384daa33c746fd6998"}}`
	secret, old := "whsec_Jm3k0c1mQ9qK3X6vN2b8yTzLrE5pA7sD4fG1hJ0kL2M", "whsec_previous-secret-0000000000000000000000000"
	return []struct {
		name, header, body, secret string
		ok                         bool
	}{
		{"signed now", Sign(now, []byte(body), secret), body, secret, true},
		{"after a rotation, under either secret", Sign(now, []byte(body), secret, old), body, old, true},
		{"body changed", Sign(now, []byte(body), secret), strings.Replace(body, "analyzed", "failed", 1), secret, false},
		{"another secret", Sign(now, []byte(body), secret), body, old, false},
		{"ten minutes old (a replay)", Sign(now.Add(-10*time.Minute), []byte(body), secret), body, secret, false},
		{"no signature", "t=" + fmt.Sprint(now.Unix()), body, secret, false},
		{"unicode body", Sign(now, []byte(`{"name":"Ünïcødé 😀"}`), secret), `{"name":"Ünïcødé 😀"}`, secret, true},
	}
}

// TestREADMEVerifyGo compiles README's Go verification snippet and runs
// it on deliveries signed by Sign: a receiver who copies it verifies
// what facet sends and refuses what it should.
func TestREADMEVerifyGo(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	dir := t.TempDir()
	snippet := strings.Replace(readmeSnippet(t, "<!-- webhook-verify-go -->"), "package webhook", "package main", 1)
	main := `package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	err := Verify(os.Args[1], []byte(os.Args[2]), os.Args[3], time.Now())
	fmt.Print(err == nil)
}
`
	for name, text := range map[string]string{"verify.go": snippet, "main.go": main, "go.mod": "module verify\n\ngo 1.22\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "verify")
	build := exec.Command(goBin, "build", "-o", bin, ".")
	build.Dir, build.Env = dir, append(os.Environ(), "GOFLAGS=", "GOTOOLCHAIN=local")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("README's Go snippet does not build: %v\n%s", err, out)
	}
	for _, c := range signatureCases(time.Now()) {
		out, err := exec.Command(bin, c.header, c.body, c.secret).Output()
		if err != nil || string(out) != fmt.Sprint(c.ok) {
			t.Errorf("%s: the Go snippet says %s (%v), want %v", c.name, out, err, c.ok)
		}
	}
}

// TestREADMEVerifyPython runs README's Python snippet, Python's own hmac
// and hashlib being an implementation independent of Go's, on deliveries
// signed by Sign.
func TestREADMEVerifyPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("FACET_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("python3 is not on PATH (make setup installs it)")
		}
		t.Skip("python3 is not on PATH: make setup installs it")
	}
	script := readmeSnippet(t, "<!-- webhook-verify-python -->") + `
import sys
print(verify(sys.argv[1], sys.argv[2].encode(), sys.argv[3]), end="")
`
	for _, c := range signatureCases(time.Now()) {
		out, err := exec.Command(py, "-c", script, c.header, c.body, c.secret).Output()
		want := map[bool]string{true: "True", false: "False"}[c.ok]
		if err != nil || string(out) != want {
			t.Errorf("%s: the Python snippet says %s (%v), want %s", c.name, out, err, want)
		}
	}
}
