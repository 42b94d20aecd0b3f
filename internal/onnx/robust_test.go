package onnx

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/humaninsight/facet/internal/analysis"
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
	checkFigures(t, foundFile, got, 1.0/float64(len(srcs)*len(positions)))
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
	for set, rates := range got {
		for k, v := range rates {
			w, ok := want[set][k]
			switch {
			case !ok:
				t.Errorf("%s %s: %.3f measured, none recorded in %s", set, k, v, file)
			case v < w-slack-1e-9:
				t.Errorf("%s %s: %.3f, below the recorded %.3f", set, k, v, w)
			}
			t.Logf("%s %-12s %.3f (recorded %.3f)", set, k, v, w)
		}
	}
}
