package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/humaninsight/facet"
)

func TestCSVHeader(t *testing.T) {
	// The first 19 columns are the ones exports have always had, in their
	// order; new ones are appended.
	want := strings.Split("t,track,x,y,w,h,score,angry,disgust,fear,happy,sad,surprise,neutral,dominant,valence,age,woman,man,"+
		"size_px,brightness,sharpness,yaw,roll,flags,stimulus,stimulus_t", ",")
	if diff := cmp.Diff(want, CSVHeader); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
}

func TestCSVRows(t *testing.T) {
	good := described(facet.Emotions{facet.Happy: 0.8, facet.Neutral: 0.2})
	good.Track, good.Box, good.Score = 1, [4]facet.Num{0.1, 0.2, 0.3, 0.4}, 0.99
	good.Age, good.Gender = facet.NumPtr(31.25), &facet.GenderProb{Woman: 0.6, Man: 0.4}
	good.Quality = &facet.FaceQuality{SizePx: 120, Brightness: 130.5, Sharpness: 250.25, Yaw: facet.NumPtr(-0.05), Roll: facet.NumPtr(3.5)}
	bad := flagged()
	bad.Track, bad.Box, bad.Score = 2, [4]facet.Num{0.8, 0.8, 0.02, 0.03}, 0.75
	bad.Flags = []string{"too_small", "too_dark"}
	old := described(facet.Emotions{facet.Sad: 1}) // stored before quality was measured
	old.Flags = nil
	cases := []struct {
		name string
		f    facet.Frame
		want [][]string
	}{
		{"no face", facet.Frame{T: 1.5}, [][]string{{"1.5", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", ""}}},
		{"described and flagged", facet.Frame{T: 0.2, Faces: []facet.Face{good, bad}}, [][]string{
			{"0.2", "1", "0.1", "0.2", "0.3", "0.4", "0.99", "0", "0", "0", "0.8", "0", "0", "0.2", "happy", "0.8", "31.25", "0.6", "0.4",
				"120", "130.5", "250.25", "-0.05", "3.5", "", "", ""},
			// Not described: empty cells, never zeros, where estimates go.
			{"0.2", "2", "0.8", "0.8", "0.02", "0.03", "0.75", "", "", "", "", "", "", "", "", "", "", "", "",
				"12", "90", "0", "", "", "too_small;too_dark", "", ""},
		}},
		{"a face of an older run", facet.Frame{T: 0, Faces: []facet.Face{old}}, [][]string{
			{"0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "1", "0", "0", "sad", "-1", "", "", "", "", "", "", "", "", "", "", ""},
		}},
		{"placed on a stimulus", facet.Frame{T: 3, Stimulus: "st_7d1e0c9b5a3f2e4d6c8b0a19", StimulusT: facet.NumPtr(1.25)}, [][]string{
			{"3", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "st_7d1e0c9b5a3f2e4d6c8b0a19", "1.25"},
		}},
	}
	for _, c := range cases {
		if diff := cmp.Diff(c.want, CSVRows(c.f)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
}

func result(s facet.Summary) *facet.Result {
	return &facet.Result{Video: facet.VideoInfo{DurationS: 6, Width: 640, Height: 480, FPS: 30, Codec: "h264"},
		Settings: facet.Settings{SampleFPS: 5, Models: "fast", SmoothS: 0.5}, Summary: s, Frames: []facet.Frame{}}
}

func TestWriteText(t *testing.T) {
	sum := series("r", 30, 34).Summary
	sum.Frames, sum.WallS = 30, 2
	sum.Age = &facet.AgeSummary{Median: 34, P10: 29, P90: 41, N: 28}
	sum.Gender = &facet.GenderSummary{Label: "uncertain", Confidence: 0.62, N: 28}
	sum.Quality.DescribedRatio, sum.Quality.TurnedAway, sum.Quality.Flagged = 0.7, facet.NumPtr(0.3), facet.NumPtr(0.1)
	sum.Quality.Flags = []string{"few_faces", "turned_away"}
	noFace := facet.Summary{Frames: 10, Quality: &facet.RecordingQuality{Flags: []string{"few_faces"}}}
	onlyFlagged := facet.Summary{Frames: 10, FramesWithFace: 10, FaceRatio: 1,
		Quality: &facet.RecordingQuality{Faces: 10, FaceSizePx: facet.NumPtr(15), Brightness: facet.NumPtr(100), Sharpness: facet.NumPtr(90), Flagged: facet.NumPtr(1), Flags: []string{"few_faces", "small_faces"}}}
	cases := []struct {
		name string
		s    facet.Summary
		want []string
	}{
		{"described", sum, []string{
			"quality:          a described face in 70% of frames; median face 140 px; brightness 120 of 255; sharpness 300; turned away in 30% of faces; 10% of faces too small or dark to describe\n",
			"caution:          a readable face in fewer than 80% of the frames\n",
			"caution:          head turned away (more than about 30 degrees) in over 20% of the faces\n",
			"emotions smoothed over 0.5 s per face\n",
			"age estimate:     34 (middle 80% of frames 29 to 41, 28 faces)\n",
			"gender estimate:  uncertain (the likelier side only 0.62, 28 faces)\n",
		}},
		{"no face", noFace, []string{"face found in 0 of 10 frames", "no face: no expression, age or gender estimates\n"}},
		{"only flagged faces", onlyFlagged, []string{
			"face found in 10 of 10 frames (100%)",
			"caution:          small faces (median under 48 px): estimates are less reliable\n",
			"no face could be described: no expression, age or gender estimates\n",
		}},
	}
	for _, c := range cases {
		var b bytes.Buffer
		if err := WriteText(&b, "v.mp4", result(c.s)); err != nil {
			t.Fatal(err)
		}
		for _, w := range c.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: text lacks %q:\n%s", c.name, w, b.String())
			}
		}
	}
}

func TestWriteJSON(t *testing.T) {
	// The contract's new fields, as a reader of the JSON export sees them.
	s := facet.Summary{Frames: 2, FramesWithFace: 1, FaceRatio: 0.5,
		Quality: &facet.RecordingQuality{DescribedRatio: 0, Faces: 1, FaceSizePx: facet.NumPtr(12), Brightness: facet.NumPtr(90),
			Sharpness: facet.NumPtr(80.123456), Flagged: facet.NumPtr(1), Flags: []string{"few_faces", "small_faces"}}}
	res := result(s)
	res.Frames = []facet.Frame{{T: 0, Faces: []facet.Face{flagged()}}, {T: 0.2, Faces: []facet.Face{}}}
	var b bytes.Buffer
	if err := WriteJSON(&b, res); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Settings map[string]any `json:"settings"`
		Summary  map[string]any `json:"summary"`
		Frames   []struct {
			Faces []map[string]any `json:"faces"`
		} `json:"frames"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"described_ratio": 0.0, "faces": 1.0, "face_size_px": 12.0, "brightness": 90.0, "sharpness": 80.1235,
		"turned_away": nil, "flagged": 1.0, "flags": []any{"few_faces", "small_faces"}}
	if diff := cmp.Diff(want, doc.Summary["quality"]); diff != "" {
		t.Errorf("summary.quality (-want +got):\n%s", diff)
	}
	if doc.Settings["smooth_s"] != 0.5 {
		t.Errorf("settings %v lack smooth_s", doc.Settings)
	}
	fc := doc.Frames[0].Faces[0]
	for _, k := range []string{"emotions", "dominant", "valence", "age", "gender"} {
		if v, ok := fc[k]; !ok || v != nil {
			t.Errorf("flagged face: %s = %v (present %v), want null", k, v, ok)
		}
	}
	if diff := cmp.Diff([]any{"too_small"}, fc["flags"]); diff != "" {
		t.Errorf("flags (-want +got):\n%s", diff)
	}
	// And it reads back as it was.
	var back facet.Result
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if got := back.Frames[0].Faces[0]; got.Described() || got.Quality.SizePx != 12 || len(got.Flags) != 1 {
		t.Errorf("read back: %+v", got)
	}
}
