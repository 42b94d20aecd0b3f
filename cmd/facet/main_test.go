package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/report"
	"github.com/humaninsight/facet/internal/testenv"
)

// env returns a getenv that points the binary at the project's set-up.
func env(t testing.TB) func(string) string {
	t.Helper()
	lib := testenv.File(t, ".cache/lib/libonnxruntime.so.1")
	testenv.File(t, "models/default/fr_expression.onnx")
	vars := map[string]string{
		"FACET_ORT_LIB":    lib,
		"FACET_MODELS_DIR": filepath.Join(testenv.RepoRoot(), "models"),
		"FACET_SHARED_DIR": testenv.SharedDir(),
	}
	return func(k string) string { return vars[k] }
}

// fastModels skips (or fails, under FACET_REQUIRE_INTEGRATION=1) when the
// fast set's files in ../shared/models are absent.
func fastModels(t *testing.T) {
	t.Helper()
	testenv.Shared(t, "models/ultraface-version-RFB-320.noinitin.onnx")
}

// analyze runs `facet analyze --format json ARGS...` and decodes the result.
func analyze(t *testing.T, args ...string) *facet.Result {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), append([]string{"analyze", "--format", "json", "-q"}, args...), env(t), &out, &errb)
	if err != nil {
		t.Fatalf("analyze %v: %v (stderr %s)", args, err, errb.String())
	}
	var res facet.Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("decode result: %v", err)
	}
	checkNoChildren(t)
	return &res
}

// checkNoChildren fails if this process still has an ffmpeg or ffprobe
// child left running.
func checkNoChildren(t *testing.T) {
	t.Helper()
	me := strconv.Itoa(os.Getpid())
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		rest := s[strings.LastIndexByte(s, ')')+2:]
		f := strings.Fields(rest)
		comm := s[strings.IndexByte(s, '(')+1 : strings.LastIndexByte(s, ')')]
		// Only the analysis's own tools count: the stand-ins that other
		// tests of this binary started run until TestMain ends.
		if len(f) > 1 && f[1] == me && (comm == "ffmpeg" || comm == "ffprobe") {
			t.Errorf("child process left running: %s", s[:strings.LastIndexByte(s, ')')+1])
		}
	}
}

func dominantShare(frames []facet.Frame, label string) float64 {
	var n, hit int
	for _, f := range frames {
		for _, fc := range f.Faces {
			n++
			if fc.Dominant != nil && *fc.Dominant == label {
				hit++
			}
		}
	}
	if n == 0 {
		return 0
	}
	return float64(hit) / float64(n)
}

func TestSyntheticVideo(t *testing.T) {
	video := filepath.Join(testenv.RepoRoot(), "testdata/media/synthetic_faces_640x480.mp4")
	for _, set := range []string{"default", "fast"} {
		t.Run(set, func(t *testing.T) {
			if set == "fast" {
				fastModels(t)
			}
			res := analyze(t, "--models", set, video)
			s := res.Summary
			if s.Frames < 29 || s.Frames > 31 {
				t.Errorf("frames %d, want 30 at 5 fps", s.Frames)
			}
			if s.FaceRatio < 0.95 {
				t.Errorf("face_ratio %v, want >= 0.95", s.FaceRatio)
			}
			var first []facet.Frame
			for _, f := range res.Frames {
				if f.T < 3 {
					first = append(first, f)
				}
			}
			if sh := dominantShare(first, "happy"); sh < 0.5 {
				t.Errorf("first half happy share %.2f, want dominant", sh)
			}
			if res.Video.Width != 640 || res.Video.Height != 480 || res.Video.Codec != "h264" || res.Settings.Models != set || len(res.Models) != map[string]int{"default": 6, "fast": 4}[set] {
				t.Errorf("video %+v settings %+v models %d", res.Video, res.Settings, len(res.Models))
			}
			if s.ValenceMean == nil || s.Age == nil || s.Gender == nil {
				t.Errorf("summary lacks estimates: %+v", s)
			}
			// Timeline: one frame per 0.2 s interval, each at its own
			// presentation time, the first decoded in the interval: at
			// most one skipped (non-reference) 25 fps frame after its
			// start.
			for i, f := range res.Frames {
				if d := float64(f.T) - float64(i)*0.2; d > 0.041 || d < -0.001 {
					t.Fatalf("frame %d at t=%v, want within 40 ms after %.1f s", i, f.T, float64(i)*0.2)
				}
				if k := float64(f.T) * 25; math.Abs(k-math.Round(k)) > 0.001 {
					t.Fatalf("frame %d at t=%v: not a 25 fps frame's time", i, f.T)
				}
			}
			t.Logf("%s: face %.2f, dominant %v, valence %.2f, age %.0f, gender %s %.2f", set, s.FaceRatio, s.Dominant, *s.ValenceMean, s.Age.Median, s.Gender.Label, s.Gender.Confidence)
		})
	}
}

func TestStillImages(t *testing.T) {
	for _, set := range []string{"default", "fast"} {
		t.Run(set, func(t *testing.T) {
			if set == "fast" {
				fastModels(t)
			}
			res := analyze(t, "--models", set, testenv.Shared(t, "media/astronaut.png"))
			if len(res.Frames) != 1 || len(res.Frames[0].Faces) != 1 {
				t.Fatalf("frames %+v", res.Frames)
			}
			f := res.Frames[0].Faces[0]
			if f.Dominant == nil || *f.Dominant != "happy" {
				t.Errorf("astronaut reads %v, want happy", f.Emotions)
			}
			// Box within 10 px of the reference (180,62)-(268,174) in 512x512.
			want := [4]float64{180, 62, 88, 112}
			for i, v := range f.Box {
				if d := float64(v)*512 - want[i]; d > 10 || d < -10 {
					t.Errorf("box %v (px %.0f), want within 10 px of %v", f.Box, float64(v)*512, want)
					break
				}
			}
		})
	}
}

func TestPyfeatClips(t *testing.T) {
	fastModels(t)
	cases := []struct {
		clip string
		min  float64
		max  float64
	}{
		{"pyfeat_no_face.mp4", 0, 0.05},
		{"pyfeat_single_face.mp4", 0.9, 1},
		{"pyfeat_WolfgangLanger_Pexels.mp4", 0.9, 1},
	}
	for _, set := range []string{"fast", "default"} {
		for _, c := range cases {
			t.Run(set+"/"+c.clip, func(t *testing.T) {
				res := analyze(t, "--models", set, testenv.Shared(t, "media/"+c.clip))
				s := res.Summary
				if r := float64(s.FaceRatio); r < c.min || r > c.max {
					t.Errorf("face_ratio %.3f, want %.2f..%.2f", r, c.min, c.max)
				}
				if s.FramesWithFace == 0 && (s.ValenceMean != nil || s.Age != nil || s.Gender != nil) {
					t.Errorf("no face, yet estimates: %+v", s)
				}
				t.Logf("%s %s: face %.2f dominant %v", set, c.clip, s.FaceRatio, s.Dominant)
			})
		}
		t.Run(set+"/pyfeat_face_noface.mov", func(t *testing.T) {
			res := analyze(t, "--models", set, testenv.Shared(t, "media/pyfeat_face_noface.mov"))
			if res.Video.Codec != "hevc" {
				t.Errorf("codec %s", res.Video.Codec)
			}
			// The face is there at first, then the cut to the cartoon: the
			// frames with a face are one run from the start.
			var lastFace, firstNone float64 = -1, -1
			var after, afterN int
			for _, f := range res.Frames {
				has := len(f.Faces) > 0
				if firstNone >= 0 {
					afterN++
					if has {
						after++
					}
				}
				if has {
					lastFace = float64(f.T)
				} else if firstNone < 0 {
					firstNone = float64(f.T)
				}
			}
			if firstNone < 1 || afterN == 0 || float64(after)/float64(afterN) > 0.05 {
				t.Errorf("first frame without a face at %.1f s, %d of %d later frames with one; want a face in the first part only", firstNone, after, afterN)
			}
			t.Logf("%s: last face at %.1f s, first frame without at %.1f s", set, lastFace, firstNone)
		})
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sample, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "testdata/media/synthetic_faces_640x480.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	audio := filepath.Join(dir, "audio.m4a")
	if out, err := execCommand("ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "sine=d=1", audio); err != nil {
		t.Fatalf("make audio: %v %s", err, out)
	}
	cases := []struct {
		name, path, want string
	}{
		{"empty", write("empty.mp4", nil), "the file is empty"},
		{"text", write("notes.mp4", []byte("this is not a video\n")), "not a video"},
		{"truncated", write("truncated.mp4", sample[:len(sample)/3]), ""},
		{"audio only", audio, "no video stream"},
		{"missing", filepath.Join(dir, "nope.mp4"), "no such file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := run(context.Background(), []string{"analyze", "-q", c.path}, env(t), &out, &errb)
			checkNoChildren(t)
			if err == nil {
				if c.want != "" {
					t.Fatalf("no error, want %q", c.want)
				}
				return // a readable prefix of a truncated file is a valid result
			}
			code := exitCode(err, &errb)
			if code != 2 {
				t.Errorf("exit code %d, want 2 (%v)", code, err)
			}
			line := strings.TrimSpace(errb.String())
			if strings.Count(line, "\n") > 0 || !strings.Contains(line, c.want) {
				t.Errorf("stderr %q, want one line containing %q", line, c.want)
			}
		})
	}
	// The temp dir holds only what the test wrote: nothing left behind.
	left, _ := os.ReadDir(dir)
	if len(left) != 4 {
		t.Errorf("files in the temp dir: %d", len(left))
	}
}

func TestNoFaceIsAValidResult(t *testing.T) {
	dir := t.TempDir()
	grey := filepath.Join(dir, "grey.mp4")
	if out, err := execCommand("ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=gray:s=320x240:d=2:r=10", "-pix_fmt", "yuv420p", grey); err != nil {
		t.Fatalf("make video: %v %s", err, out)
	}
	res := analyze(t, grey)
	s := res.Summary
	if s.FaceRatio != 0 || s.Frames != 10 || s.ValenceMean != nil || s.Age != nil || s.Gender != nil {
		t.Errorf("summary %+v", s)
	}
	if len(res.Frames) != 10 || res.Frames[0].Faces == nil {
		t.Errorf("frames must be listed with \"faces\": []")
	}
}

func TestFormatsAndFlags(t *testing.T) {
	video := filepath.Join(testenv.RepoRoot(), "testdata/media/synthetic_faces_640x480.mp4")
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "out.csv")
	// Flags after the video work as well as before it.
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"analyze", video, "--fps", "2", "--format", "csv", "-o", csvPath}, env(t), &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(report.CSVHeader, rows[0]); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	want := strings.Split("t,track,x,y,w,h,score,angry,disgust,fear,happy,sad,surprise,neutral,dominant,valence,age,woman,man,size_px,brightness,sharpness,yaw,roll,flags,stimulus,stimulus_t", ",")
	if diff := cmp.Diff(want, rows[0]); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
	if len(rows) != 13 { // header + 12 frames at 2 fps, one face each
		t.Errorf("%d rows", len(rows))
	}
	// The second frame is the first decoded in [0.5 s, 1 s), at its own
	// time: at most two 25 fps frames after 0.5 s (0.52, a non-reference
	// B-frame, is not decoded).
	if t2, err := strconv.ParseFloat(rows[2][0], 64); rows[1][0] != "0" || err != nil || t2 < 0.5 || t2 > 0.561 || rows[1][14] != "happy" {
		t.Errorf("first rows %v %v", rows[1], rows[2])
	}

	out.Reset()
	if err := run(context.Background(), []string{"analyze", "--format", "text", video}, env(t), &out, &errb); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"face found in 30 of 30 frames", "dominant emotion: happy", "age estimate", "gender estimate"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("text output lacks %q:\n%s", w, out.String())
		}
	}

	html := filepath.Join(dir, "report.html")
	if err := run(context.Background(), []string{"analyze", "-q", "--format", "html", "-o", html, video}, env(t), &out, &errb); err != nil {
		t.Fatal(err)
	}
	if page, _ := os.ReadFile(html); strings.Count(string(page), `class="series"`) != 15 || !strings.Contains(string(page), "<svg") {
		t.Errorf("html report: %d series", strings.Count(string(page), `class="series"`))
	}

	for _, bad := range [][]string{
		{"analyze"},
		{"analyze", "--format", "xml", video},
		{"analyze", "--fps", "-1", video},
		{"analyze", video, video},
		{"analyze", "--bogus", video},
		{"analyze", "--detect", "sometimes", video},
		{"frobnicate"},
	} {
		err := run(context.Background(), bad, env(t), &out, &errb)
		if exitCode(err, &bytes.Buffer{}) != 2 {
			t.Errorf("%v: %v, want a usage error", bad, err)
		}
	}
	// The tracking mode says so in the result; it finds the same face.
	if res := analyze(t, "--detect", "track", "--fps", "2", "--models", "fast", video); res.Settings.Detect != facet.DetectTrack || res.Summary.FramesWithFace != res.Summary.Frames {
		t.Errorf("--detect track: settings %+v, %d of %d frames with a face", res.Settings, res.Summary.FramesWithFace, res.Summary.Frames)
	}
	// An unknown model set is an error that names the manifest.
	err = run(context.Background(), []string{"analyze", "--models", "huge", video}, env(t), &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "huge.json") {
		t.Errorf("unknown set: %v", err)
	}
	// A failed run leaves no half-written output file.
	failed := filepath.Join(dir, "failed.json")
	run(context.Background(), []string{"analyze", "--format", "json", "-o", failed, filepath.Join(dir, "out.csv")}, env(t), &out, &errb)
	if _, err := os.Stat(failed); !os.IsNotExist(err) {
		t.Errorf("output of a failed run left behind: %v", err)
	}
}

func TestJSONContract(t *testing.T) {
	video := filepath.Join(testenv.RepoRoot(), "testdata/media/synthetic_faces_640x480.mp4")
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"analyze", "--format", "json", "--fps", "1", video}, env(t), &out, &errb); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	keys := func(v any) []string {
		var k []string
		for key := range v.(map[string]any) {
			k = append(k, key)
		}
		return sortStrings(k)
	}
	checks := []struct {
		at   any
		want []string
	}{
		{doc, []string{"frames", "models", "settings", "summary", "video"}},
		{doc["video"], []string{"codec", "duration_s", "fps", "height", "width"}},
		{doc["settings"], []string{"models", "sample_fps", "smooth_s"}},
		{doc["models"].([]any)[0], []string{"name", "role", "sha256"}},
		{doc["summary"], []string{"age", "dominant", "emotions", "face_ratio", "frames", "frames_with_face", "gender", "quality", "valence_mean", "wall_s"}},
		{doc["summary"].(map[string]any)["quality"], []string{"brightness", "described_ratio", "face_size_px", "faces", "flagged", "flags", "sharpness", "turned_away"}},
		{doc["summary"].(map[string]any)["emotions"], []string{"mean", "peak"}},
		{doc["summary"].(map[string]any)["age"], []string{"median", "n", "p10", "p90"}},
		{doc["summary"].(map[string]any)["gender"], []string{"confidence", "label", "n"}},
		{doc["frames"].([]any)[0], []string{"faces", "t"}},
		{doc["frames"].([]any)[0].(map[string]any)["faces"].([]any)[0], []string{"age", "box", "dominant", "emotions", "flags", "gender", "quality", "score", "track", "valence"}},
		{doc["frames"].([]any)[0].(map[string]any)["faces"].([]any)[0].(map[string]any)["quality"], []string{"brightness", "roll", "sharpness", "size_px", "yaw"}},
		{doc["frames"].([]any)[0].(map[string]any)["faces"].([]any)[0].(map[string]any)["gender"], []string{"man", "woman"}},
	}
	for i, c := range checks {
		if diff := cmp.Diff(c.want, keys(c.at)); diff != "" {
			t.Errorf("check %d (-want +got):\n%s", i, diff)
		}
	}
	// Emotion objects keep the label order of the models.
	if !bytes.Contains(out.Bytes(), []byte(`"emotions": {
            "angry"`)) && !bytes.Contains(out.Bytes(), []byte(`{"angry":`)) {
		i := bytes.Index(out.Bytes(), []byte(`"angry"`))
		j := bytes.Index(out.Bytes(), []byte(`"disgust"`))
		if i < 0 || j < i {
			t.Error("emotion labels out of order")
		}
	}
}
