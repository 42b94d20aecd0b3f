package engine

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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
