package testenv

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// NodeJSON runs a Node script of the repository (rel, e.g.
// tools/faceapi-ref/ref.mjs) on spec, written as JSON to dir/spec.json,
// and decodes what it prints into out. The reference harnesses work this
// way; a missing node skips the test (see Skip), a failing script fails it
// with its stderr.
func NodeJSON(t testing.TB, rel, dir string, spec, out any) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		Skip(t, "node is not installed")
	}
	js, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "spec.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(RepoRoot(), rel), filepath.Join(dir, "spec.json"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", rel, err, stderr.String())
	}
	if err := json.Unmarshal(stdout, out); err != nil {
		t.Fatalf("%s output: %v", rel, err)
	}
}

// Float32s reads a file of little-endian float32 values, as the harnesses
// dump tensors.
func Float32s(t testing.TB, path string) []float32 {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float32, len(raw)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return v
}
