package engine

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/testenv"
)

func newTestEngine(t *testing.T) *Engine {
	t.Helper()
	e := New(Config{
		ORTLib:    testenv.File(t, ".cache/lib/libonnxruntime.so.1"),
		ModelsDir: filepath.Join(testenv.RepoRoot(), "models"),
	})
	if err := e.Installed("default"); err != nil {
		testenv.Skip(t, "default model set not installed: run `make setup` ("+err.Error()+")")
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func TestAnalyzeLimitsAndStreaming(t *testing.T) {
	e := newTestEngine(t)
	video := filepath.Join(testenv.RepoRoot(), "testdata/media/synthetic_faces_640x480.mp4")
	ctx := context.Background()

	// Longer than the project's limit: refused before any decoding.
	_, _, err := e.Analyze(ctx, Request{Input: video, SampleFPS: 5, MaxDurationS: 4})
	if facet.ErrorCode(err) != facet.EVideoTooLong || !strings.Contains(err.Error(), "limit of 4 s") {
		t.Fatalf("too long: %v", err)
	}

	// Without KeepFrames, frames only stream to OnFrame.
	var n int
	var probed facet.VideoInfo
	res, st, err := e.Analyze(ctx, Request{Input: video, SampleFPS: 2,
		OnFrame: func(facet.Frame) error { n++; return nil },
		Probed:  func(v facet.VideoInfo) { probed = v }})
	if err != nil {
		t.Fatal(err)
	}
	if n != 12 || len(res.Frames) != 0 || res.Summary.Frames != 12 {
		t.Errorf("streamed %d frames, kept %d, summary %d", n, len(res.Frames), res.Summary.Frames)
	}
	if probed.Width != 640 || res.Settings.Models != "default" || res.Settings.SampleFPS != 2 {
		t.Errorf("probed %+v settings %+v", probed, res.Settings)
	}
	if st.FFmpegMaxRSSKB <= 0 {
		t.Error("no ffmpeg memory figure")
	}

	// The sessions stay open: a second run reuses the same set.
	s1, err := e.Models("default")
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := e.Models("default")
	if s1 != s2 {
		t.Error("model set opened twice")
	}

	// A cancelled context stops the run.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := e.Analyze(cctx, Request{Input: video, SampleFPS: 5}); err == nil {
		t.Error("a cancelled analysis succeeded")
	}

	if err := e.Installed("nonexistent"); err == nil {
		t.Error("a missing set is installed")
	}
}

// TestDurationWithoutContainerDuration: a browser's MediaRecorder writes
// webm without a duration (it cannot seek back); the result's duration
// then comes from the decoded frames, not 0.
func TestDurationWithoutContainerDuration(t *testing.T) {
	e := newTestEngine(t)
	video := filepath.Join(testenv.RepoRoot(), "testdata/media/synthetic_faces_640x480.mp4")
	live := filepath.Join(t.TempDir(), "live.webm")
	out, err := os.Create(live)
	if err != nil {
		t.Fatal(err)
	}
	// Written to a pipe, as a recorder streams it: no duration, no cues.
	cmd := exec.Command("ffmpeg", "-nostdin", "-loglevel", "error", "-i", video, "-t", "3", "-an",
		"-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k", "-live", "1", "-f", "webm", "pipe:1")
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, stderr.String())
	}
	out.Close()
	var probed facet.VideoInfo
	res, _, err := e.Analyze(context.Background(), Request{Input: live, SampleFPS: 5, Models: "fast",
		Probed: func(v facet.VideoInfo) { probed = v }})
	if err != nil {
		t.Fatal(err)
	}
	if probed.DurationS != 0 {
		t.Fatalf("the test file states a duration (%v s): the premise is gone", probed.DurationS)
	}
	if d := float64(res.Video.DurationS); d < 2.7 || d > 3.1 || res.Summary.Frames != 15 {
		t.Errorf("duration %v s from %d frames, want about 3 s from 15", d, res.Summary.Frames)
	}
}

// TestTruncatedVideo: a file cut short (an upload interrupted after 50 KB
// of 119 KB) decodes only its first seconds; the result says so instead
// of passing for the whole video.
func TestTruncatedVideo(t *testing.T) {
	e := newTestEngine(t)
	full := filepath.Join(testenv.RepoRoot(), "testdata/media/synthetic_faces_640x480.mp4")
	data, err := os.ReadFile(full)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.mp4")
	if err := os.WriteFile(cut, data[:50000], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		want []string
	}{{full, nil}, {cut, []string{facet.WarnTruncated}}} {
		res, _, err := e.Analyze(context.Background(), Request{Input: c.path, SampleFPS: 5})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(res.Warnings, ",") != strings.Join(c.want, ",") {
			t.Errorf("%s: warnings %v, want %v (%d frames of a %.1f s video)", filepath.Base(c.path), res.Warnings, c.want, res.Summary.Frames, float64(res.Video.DurationS))
		}
	}
}

func TestTruncatedRule(t *testing.T) {
	cases := []struct {
		duration, lastT, step float64
		want                  bool
	}{
		{6, 5.8, 0.2, false}, // the last sampled frame of a whole video
		{6, 1.6, 0.2, true},  // 9 frames of 30
		{6, 4.9, 0.2, false}, // within a second of the end
		{60, 56, 2, false},   // at 0.5 fps two steps (4 s) are the margin
		{60, 40, 2, true},    // 18 s short
		{0, 1, 0.2, false},   // no stated duration: nothing to compare
		{6, -1, 0.2, false},  // no frame at all is another error
		{19.69, 19.6, 0.2, false},
	}
	for _, c := range cases {
		if got := truncated(c.duration, c.lastT, c.step); got != c.want {
			t.Errorf("truncated(%v, %v, %v) = %v, want %v", c.duration, c.lastT, c.step, got, c.want)
		}
	}
}

// TestConcurrentRunsSharePool: two runs at once on one engine draw from
// its one pool (Workers slots, GOMAXPROCS by default) and each gives what
// a run alone gives. (internal/analysis tests that the slots cap the
// frames in analysis across runs.)
func TestConcurrentRunsSharePool(t *testing.T) {
	if e := New(Config{}); cap(e.slots) != runtime.GOMAXPROCS(0) {
		t.Errorf("default pool of %d slots, want GOMAXPROCS %d", cap(e.slots), runtime.GOMAXPROCS(0))
	}
	e := newTestEngine(t)
	video := filepath.Join(testenv.RepoRoot(), "testdata/media/synthetic_faces_640x480.mp4")
	req := Request{Input: video, SampleFPS: 2, KeepFrames: true}
	alone, _, err := e.Analyze(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var res [2]*facet.Result
	var errs [2]error
	var wg sync.WaitGroup
	for i := range res {
		wg.Add(1)
		go func() { defer wg.Done(); res[i], _, errs[i] = e.Analyze(context.Background(), req) }()
	}
	wg.Wait()
	for i, r := range res {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		r.Summary.WallS = alone.Summary.WallS
		if diff := cmp.Diff(alone, r); diff != "" {
			t.Errorf("run %d of two at once differs from a run alone (-alone +concurrent):\n%s", i, diff)
		}
	}
	if len(e.slots) != 0 {
		t.Errorf("%d slots still held", len(e.slots))
	}
}
