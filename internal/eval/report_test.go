package eval

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/humaninsight/facet"
)

// sampleReport is two labelled images, one unlabelled video, a skipped
// row, a failed file and an unknown label.
func sampleReport() *Report {
	m := &Manifest{
		DataRows: 5,
		Bad:      []BadRow{{Row: 6, Path: "missing.png", Reason: "file not found"}},
		Unknown:  []UnknownLabel{{Column: ColEmotion, Label: "Happyish", Count: 1, Rows: []int{5}}},
	}
	recs := []Record{
		{Row: 2, Path: "astronaut.png", Kind: Image,
			Truth: Truth{Emotion: facet.Happy, Gender: Woman, Age: 45, HasAge: true},
			Pred:  Prediction{Face: true, FaceRatio: 1, Emotion: facet.Happy, Gender: Uncertain, Age: 48, HasAge: true}},
		{Row: 3, Path: "camera.png", Kind: Image,
			Truth: Truth{Emotion: facet.Neutral, Gender: Man, Age: 24.5, HasAge: true},
			Pred:  Prediction{Face: true, FaceRatio: 1, Emotion: facet.Sad, Gender: Man, Age: 26, HasAge: true}},
		{Row: 4, Path: "clip.mp4", Kind: Video, Truth: Truth{Emotion: NoEmotion},
			Pred: Prediction{Face: true, FaceRatio: 0.75, Emotion: facet.Happy, Gender: Man, Age: 39, HasAge: true}},
	}
	failed := []Failure{{Row: 5, Path: "broken.mp4", Code: facet.ENotVideo, Reason: "not a video"}}
	return NewReport(Settings{Manifest: "labels.csv", Models: "fast", SampleFPS: 5, SmoothS: 0.5}, m, recs, failed)
}

func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	if err := WriteText(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	want := `facet eval: labels.csv with the "fast" models (videos at 5 fps, smoothed over 0.5 s)
rows: 5 in the manifest, 1 skipped; files: 3 read, 1 failed

skipped rows:
  row 6  missing.png: file not found

failed files:
  row 5  broken.mp4: not a video (not_a_video)

unknown labels (left out of that figure; the row counts for its other labels):
  emotion "Happyish"   1 row (row 5)

faces: found in 3 of 3 files (100.0%); 1 video, mean share of frames with a face 75.0%

emotion: 2 files with a known emotion (rows true, columns predicted)
               angry  disgust     fear    happy      sad surprise  neutral  no face   recall
  angry            0        0        0        0        0        0        0        0        -
  disgust          0        0        0        0        0        0        0        0        -
  fear             0        0        0        0        0        0        0        0        -
  happy            0        0        0        1        0        0        0        0   100.0%
  sad              0        0        0        0        0        0        0        0        -
  surprise         0        0        0        0        0        0        0        0        -
  neutral          0        0        0        0        1        0        0        0     0.0%
  balanced accuracy 50.0% (mean recall over 2 classes present), accuracy 50.0% (1 of 2)

gender: 2 files with a known gender (uncertain counts as not right)
  truth      n  right  wrong  uncertain  no face  no estimate  accuracy
  man        1      1      0          0        0            0    100.0%
  woman      1      0      0          1        0            0      0.0%
  all        2      1      0          1        0            0     50.0%

age: 2 files with a known age, 2 with an estimate, 0 without
  band       n  MAE (years)  bias (years)
  0-12       0            -             -
  13-19      0            -             -
  20-39      1          1.5          +1.5
  40-59      1          3.0          +3.0
  60+        0            -             -
  all        2          2.2          +2.2
  Pearson r of estimated and true age: 1.00 over 2 pairs
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("text (-want +got):\n%s", diff)
	}
}

func TestWriteTextWithoutLabels(t *testing.T) {
	m := &Manifest{DataRows: 1}
	r := NewReport(Settings{Manifest: "m.csv", Models: "default"}, m, []Record{{Row: 2, Path: "a.mp4", Kind: Video, Truth: Truth{Emotion: NoEmotion}, Pred: Prediction{Emotion: NoEmotion}}}, nil)
	var b bytes.Buffer
	if err := WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"(videos at every frame, raw scores)", "found in 0 of 1 files (0.0%)", "mean share of frames with a face 0.0%",
		"emotion: no file with a known emotion", "gender: no file with a known gender", "age: no file with a known age"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
}

// TestWriteJSON pins the documented shape: every key README names, null
// for undefined figures and [] for empty lists.
func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	keys := func(m any) []string {
		var k []string
		for key := range m.(map[string]any) {
			k = append(k, key)
		}
		slices.Sort(k)
		return k
	}
	want := map[string][]string{
		"":        {"age", "bad_rows", "emotion", "faces", "failed", "files", "gender", "manifest", "models", "results", "sample_fps", "smooth_s", "unknown_labels"},
		"files":   {"bad_rows", "failed", "read", "rows"},
		"faces":   {"files", "rate", "video_face_ratio_mean", "videos", "with_face"},
		"emotion": {"accuracy", "balanced_accuracy", "classes", "columns", "confusion", "hits", "n", "no_face"},
		"gender":  {"by_truth", "overall"},
		"age":     {"bands", "bias", "labelled", "mae", "n", "no_estimate", "pearson_r"},
	}
	for k, w := range want {
		var m any = got
		if k != "" {
			m = got[k]
		}
		if diff := cmp.Diff(w, keys(m)); diff != "" {
			t.Errorf("keys of %q (-want +got):\n%s", k, diff)
		}
	}
	em := got["emotion"].(map[string]any)
	conf := em["confusion"].([]any)
	if len(conf) != 7 || len(conf[0].([]any)) != 8 || conf[facet.Neutral].([]any)[facet.Sad] != 1.0 {
		t.Errorf("confusion %v, want 7 rows of 8 with neutral->sad 1", conf)
	}
	if cl := em["classes"].([]any)[0].(map[string]any); cl["recall"] != nil || cl["label"] != "angry" {
		t.Errorf("angry %v, want recall null", cl)
	}
	g := got["gender"].(map[string]any)["by_truth"].([]any)[1].(map[string]any)
	if g["truth"] != "woman" || g["uncertain"] != 1.0 || g["accuracy"] != 0.0 {
		t.Errorf("woman %v", g)
	}
	res := got["results"].([]any)
	video := res[2].(map[string]any)
	if video["truth"].(map[string]any)["emotion"] != nil || video["predicted"].(map[string]any)["emotion"] != "happy" || video["face_ratio"] != 0.75 {
		t.Errorf("video result %v", video)
	}
	empty := NewReport(Settings{}, &Manifest{}, nil, nil)
	b.Reset()
	WriteJSON(&b, empty)
	for _, k := range []string{`"bad_rows": []`, `"failed": []`, `"unknown_labels": []`, `"results": []`, `"accuracy": null`} {
		if !strings.Contains(b.String(), k) {
			t.Errorf("empty report lacks %s:\n%s", k, b.String())
		}
	}
}
