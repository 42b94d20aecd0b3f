package main

import (
	"archive/zip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/humaninsight/facet/internal/onnx"
	"github.com/humaninsight/facet/internal/testenv"
)

// TestPackage builds the Functions package as `make package` does and
// checks the staged tree: the layout the host expects, the executable
// host.json names, the native tools and models with their checksums, and
// a real analysis run from it with the shipped (2018) ffmpeg.
func TestPackage(t *testing.T) {
	root := testenv.RepoRoot()
	testenv.File(t, ".cache/static/ffmpeg")
	testenv.File(t, ".cache/lib/libonnxruntime.so.1")
	if _, err := exec.LookPath("zip"); err != nil {
		testenv.Skip(t, "zip is not installed (make setup installs it)")
	}
	out, err := exec.Command(filepath.Join(root, "scripts", "package.sh")).CombinedOutput()
	if err != nil {
		t.Fatalf("package.sh: %v\n%s", err, out)
	}
	t.Logf("%s", strings.TrimSpace(string(out)))
	app := filepath.Join(root, "dist", "app")

	var host struct {
		CustomHandler struct {
			Description struct {
				DefaultExecutablePath string `json:"defaultExecutablePath"`
			} `json:"description"`
		} `json:"customHandler"`
	}
	b, err := os.ReadFile(filepath.Join(app, "host.json"))
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(b, &host)
	exe := filepath.Join(app, host.CustomHandler.Description.DefaultExecutablePath)
	if fi, err := os.Stat(exe); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("the handler %s is missing or not executable: %v", exe, err)
	}
	fns, _ := filepath.Glob(filepath.Join(root, "functions", "*", "function.json"))
	for _, f := range fns {
		name := filepath.Base(filepath.Dir(f))
		if _, err := os.Stat(filepath.Join(app, name, "function.json")); err != nil {
			t.Errorf("function %s is not beside host.json: %v", name, err)
		}
	}
	for _, tool := range []string{"bin/ffmpeg", "bin/ffprobe"} {
		if fi, err := os.Stat(filepath.Join(app, tool)); err != nil || fi.Mode()&0o111 == 0 {
			t.Errorf("%s missing or not executable", tool)
		}
	}
	sums := map[string]string{
		"lib/libonnxruntime.so.1": "53ef1ac028dd1b05554b8da28d9159eb3876f99868193d2aaa6e67f0243c23d4",
		"bin/ffmpeg":              "6d0c625dbd3f604ed2618981ba6fee7e29678855ab741d654cfc9effb0226624",
		"bin/ffprobe":             "576c21674291ec1948d507ea8ab0d78eb6621a0be8c6f1a6db0f50c5fcb1e0f9",
		// The API reference's script, as scripts/setup-apidocs.sh pins it.
		"apidocs/redoc.standalone.js": "0ec05be285ac885a330289b02f470e1bdbd2b6b3223a9fa213f24bf805a851d1",
	}
	for rel, sum := range sums {
		if err := onnx.VerifyFile(filepath.Join(app, rel), sum); err != nil {
			t.Error(err)
		}
	}
	m, err := onnx.ReadManifest(filepath.Join(app, "models", "default.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Verify(); err != nil {
		t.Errorf("shipped models: %v", err)
	}
	// The zip holds the same tree, host.json at its root.
	zr, err := zip.OpenReader(filepath.Join(root, "dist", "facet.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	names := map[string]bool{}
	for _, f := range zr.File {
		names[f.Name] = true
	}
	for _, want := range []string{"host.json", "facet", "lib/libonnxruntime.so.1", "bin/ffmpeg", "models/default.json", "RunAnalysis/function.json"} {
		if !names[want] {
			t.Errorf("facet.zip lacks %s", want)
		}
	}

	// Run from the package, outside the checkout: it finds its runtime,
	// models and tools beside itself.
	cmd := exec.Command(exe, "analyze", "--format", "json", "-q", filepath.Join(root, "testdata/media/synthetic_faces_640x480.mp4"))
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"PATH=/nonexistent"} // no system ffmpeg to fall back on
	res, err := cmd.Output()
	if err != nil {
		t.Fatalf("facet analyze from the package: %v", err)
	}
	var r struct {
		Summary struct {
			Frames    int     `json:"frames"`
			FaceRatio float64 `json:"face_ratio"`
		} `json:"summary"`
	}
	if err := json.Unmarshal(res, &r); err != nil || r.Summary.Frames != 30 || r.Summary.FaceRatio < 0.95 {
		t.Errorf("analysis from the package: %+v %v", r.Summary, err)
	}
}
