package onnx

import (
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/humaninsight/facet/internal/analysis"
	"github.com/humaninsight/facet/internal/testenv"
)

// foundFile records the face-found rates measured on the generated
// variants, per model set; the test fails when a rate falls below its
// record or below the goal. Refresh it with FACET_UPDATE_FIGURES=1
// after a change that is meant to move them, and say why in the commit.
const foundFile = "testdata/face-found.json"

func TestFaceFoundOnVariants(t *testing.T) {
	sets := map[string]*Set{"default": openSet(t, "default"), "fast": openSet(t, "fast")}
	srcs := faceSources(t, sets["default"])
	got := map[string]map[string]float64{"default": {}, "fast": {}}
	for _, v := range variants {
		frames := make([]analysis.Image, 0, len(srcs)*len(positions))
		truths := make([]analysis.Box, 0, cap(frames))
		for _, src := range srcs {
			for _, p := range positions {
				img, truth := render(src, v, p)
				frames, truths = append(frames, img), append(truths, truth)
			}
		}
		for name, s := range sets {
			ok := 0
			for i, img := range frames {
				dets, err := s.Detect(img)
				if err != nil {
					t.Fatal(err)
				}
				if found(dets, truths[i]) {
					ok++
				}
			}
			got[name][v.name] = float64(ok) / float64(len(frames))
			if v.required > 0 && got[name][v.name] < v.required {
				t.Errorf("%s %s: face found in %.3f of frames, the goal is %.2f", name, v.name, got[name][v.name], v.required)
			}
		}
	}
	for name, s := range sets {
		got[name]["no-face false positives"] = falsePositives(t, s)
		if v := got[name]["no-face false positives"]; v > 0 {
			t.Errorf("%s: a face found in %.3f of frames without one", name, v)
		}
	}
	checkFigures(t, foundFile, got, 1.0/float64(len(srcs)*len(positions)))
}

// falsePositives returns the share of frames without a face in which s
// finds one: 20 frames of a cartoon (../shared/media/pyfeat_no_face.mp4)
// at 320x240, where the second pass must not see faces either.
func falsePositives(t *testing.T, s *Set) float64 {
	t.Helper()
	video := testenv.Shared(t, "media/pyfeat_no_face.mp4")
	dir := t.TempDir()
	cmd := exec.Command("ffmpeg", "-v", "error", "-i", video, "-vf", "fps=5,scale=320:240", "-frames:v", "20", filepath.Join(dir, "c%02d.png"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "c*.png"))
	if len(files) == 0 {
		t.Fatal("no cartoon frames")
	}
	n := 0
	for _, f := range files {
		dets, err := s.Detect(loadPNG(t, f))
		if err != nil {
			t.Fatal(err)
		}
		if len(dets) > 0 {
			n++
		}
	}
	return float64(n) / float64(len(files))
}

// checkFigures compares measured rates with the recorded ones: a rate more
// than slack below its record fails. With FACET_UPDATE_FIGURES=1 it writes
// the measurements instead.
func checkFigures(t *testing.T, file string, got map[string]map[string]float64, slack float64) {
	t.Helper()
	if os.Getenv("FACET_UPDATE_FIGURES") == "1" {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(file, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(filepath.Clean(file))
	if err != nil {
		t.Fatalf("%v (run with FACET_UPDATE_FIGURES=1 to record)", err)
	}
	var want map[string]map[string]float64
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	for _, set := range slices.Sorted(maps.Keys(got)) {
		rates := got[set]
		for _, k := range slices.Sorted(maps.Keys(rates)) {
			v := rates[k]
			w, ok := want[set][k]
			switch {
			case !ok:
				t.Errorf("%s %s: %.3f measured, none recorded in %s", set, k, v, file)
			case strings.Contains(k, "false positives") && v > w+1e-9:
				t.Errorf("%s %s: %.3f, above the recorded %.3f", set, k, v, w)
			case !strings.Contains(k, "false positives") && v < w-slack-1e-9:
				t.Errorf("%s %s: %.3f, below the recorded %.3f", set, k, v, w)
			}
			t.Logf("%s %-12s %.3f (recorded %.3f)", set, k, v, w)
		}
	}
}
