package engine

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/analysis"
	"github.com/humaninsight/facet/internal/ffmpeg"
	"github.com/humaninsight/facet/internal/testenv"
)

// counting counts the detector's runs, the faces described and the faces
// whose emotions alone were read. Its Models must be an EmotionReader, as
// onnx.Set is.
type counting struct {
	analysis.Models
	detects, described, emotions atomic.Int64
}

func (c *counting) Emotions(img analysis.Image, faces []analysis.Detection) ([]facet.Emotions, error) {
	c.emotions.Add(int64(len(faces)))
	return c.Models.(analysis.EmotionReader).Emotions(img, faces)
}

func (c *counting) Detect(img analysis.Image) ([]analysis.Detection, error) {
	c.detects.Add(1)
	return c.Models.Detect(img)
}

func (c *counting) Describe(img analysis.Image, faces []analysis.Detection) ([]analysis.Attributes, error) {
	c.described.Add(int64(len(faces)))
	return c.Models.Describe(img, faces)
}

// trackRun is one analysis of a video at 5 fps, raw scores.
type trackRun struct {
	frames                       []facet.Frame
	detects, described, emotions int64
}

func runTracked(t *testing.T, e *Engine, set, video string, mode facet.DetectMode) trackRun {
	t.Helper()
	ctx := context.Background()
	info, err := ffmpeg.Probe(ctx, "", video)
	if err != nil {
		t.Fatal(err)
	}
	w, h := ffmpeg.FitSize(info.Width, info.Height, 640)
	rd, err := ffmpeg.Open(ctx, video, ffmpeg.Options{SampleFPS: 5, Width: w, Height: h, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	s, err := e.Models(set)
	if err != nil {
		t.Fatal(err)
	}
	c := &counting{Models: s}
	var run trackRun
	_, err = analysis.Run(ctx, rd, c, analysis.Options{Width: w, Height: h, Tracking: tracking(mode, info.FPS, 5),
		OnFrame: func(f facet.Frame) error { run.frames = append(run.frames, f); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	run.detects, run.described, run.emotions = c.detects.Load(), c.described.Load(), c.emotions.Load()
	return run
}

// largestDescribed returns the frame's largest described face, or nil.
func largestDescribed(f facet.Frame) *facet.Face {
	var best *facet.Face
	for i := range f.Faces {
		fc := &f.Faces[i]
		if fc.Emotions != nil && (best == nil || fc.Box[2]*fc.Box[3] > best.Box[2]*best.Box[3]) {
			best = fc
		}
	}
	return best
}

// trackCost compares a tracked run with the exact one, frame by frame.
type trackCost struct {
	frames, foundExact, foundTrack, both, sameDominant int
	sumAbs, maxAbs                                     float64
	smoothSame                                         int // sameDominant after the default smoothing
	sumAgeDiff                                         float64
	sameGender                                         int
}

// smoothed returns r with its frames smoothed as analyses are by default.
func smoothed(t *testing.T, r trackRun) trackRun {
	t.Helper()
	out := trackRun{}
	sm := analysis.NewSmoother(facet.DefaultSmoothS, func(f facet.Frame) error { out.frames = append(out.frames, f); return nil })
	for _, f := range r.frames {
		if err := sm.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := sm.Flush(); err != nil {
		t.Fatal(err)
	}
	return out
}

func compareRuns(t *testing.T, exact, track trackRun) trackCost {
	t.Helper()
	if len(exact.frames) != len(track.frames) {
		t.Fatalf("%d frames exact, %d tracked", len(exact.frames), len(track.frames))
	}
	var c trackCost
	for i, fe := range exact.frames {
		ft := track.frames[i]
		if fe.T != ft.T {
			t.Fatalf("frame %d at %v exact, %v tracked", i, fe.T, ft.T)
		}
		c.frames++
		a, b := largestDescribed(fe), largestDescribed(ft)
		if a != nil {
			c.foundExact++
		}
		if b != nil {
			c.foundTrack++
		}
		if a == nil || b == nil {
			continue
		}
		c.both++
		if *a.Dominant == *b.Dominant {
			c.sameDominant++
		}
		if a.Age != nil && b.Age != nil {
			c.sumAgeDiff += math.Abs(float64(*a.Age - *b.Age))
		}
		if a.Gender != nil && b.Gender != nil && (a.Gender.Man > 0.5) == (b.Gender.Man > 0.5) {
			c.sameGender++
		}
		var d float64
		for k := range a.Emotions {
			d += math.Abs(float64(a.Emotions[k] - b.Emotions[k]))
		}
		d /= float64(len(a.Emotions))
		c.sumAbs += d
		c.maxAbs = max(c.maxAbs, d)
	}
	return c
}

// trackingVideos returns the sample media and two generated videos: fast
// head movement (a portrait panned across quickly) and cuts (a second of
// each of several faces and a cartoon, in turn).
func trackingVideos(t *testing.T) [][2]string {
	t.Helper()
	media := func(name string) string { return testenv.Shared(t, "media/"+name) }
	dir := t.TempDir()
	gen := func(name string, args ...string) string {
		out := filepath.Join(dir, name)
		args = append([]string{"-nostdin", "-loglevel", "error"}, args...)
		args = append(args, "-an", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", "-r", "25", "-y", out)
		if b, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
			t.Fatalf("make %s: %v\n%s", name, err, b)
		}
		return out
	}
	fast := gen("fast-motion.mp4", "-loop", "1", "-framerate", "25", "-i", media("astronaut.png"), "-t", "8", "-vf",
		"scale=1024:1024,crop=640:480:x='192+190*sin(2*PI*t*0.8)':y='272+150*sin(2*PI*t*1.1)'")
	sway := gen("sway.mp4", "-i", media("pyfeat_WolfgangLanger_Pexels.mp4"), "-t", "12", "-vf",
		"crop=480:300:x='80+80*sin(2*PI*t*0.5)':y='30+30*sin(2*PI*t*0.7)',scale=640:400")
	pieces := []string{"pyfeat_WolfgangLanger_Pexels.mp4", "pyfeat_no_face.mp4", "pyfeat_single_face.mp4", "astronaut.png", "pyfeat_WolfgangLanger_Pexels.mp4", "pyfeat_face_noface.mov"}
	var args []string
	var graph string
	for i, p := range pieces {
		if filepath.Ext(p) == ".png" {
			args = append(args, "-loop", "1", "-framerate", "25")
		}
		args = append(args, "-ss", fmt.Sprint(i%2), "-t", "1", "-i", media(p))
		graph += fmt.Sprintf("[%d:v]scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:-1:-1,setsar=1,fps=25,format=yuv420p[v%d];", i, i)
	}
	for i := range pieces {
		graph += fmt.Sprintf("[v%d]", i)
	}
	graph += fmt.Sprintf("concat=n=%d:v=1[out]", len(pieces))
	cuts := gen("cuts.mp4", append(args, "-filter_complex", graph, "-map", "[out]")...)
	return [][2]string{
		{"synthetic", testenv.File(t, "testdata/media/synthetic_faces_640x480.mp4")},
		{"wolfgang", media("pyfeat_WolfgangLanger_Pexels.mp4")},
		{"single", media("pyfeat_single_face.mp4")},
		{"face-noface", media("pyfeat_face_noface.mov")},
		{"no-face", media("pyfeat_no_face.mp4")},
		{"fast-motion", fast},
		{"sway", sway},
		{"cuts", cuts},
	}
}

// TestTrackingCost measures what DetectTrack costs against detecting
// every frame: the share of frames with a described face, and per frame
// whether the largest face's dominant emotion agrees and by how much its
// probabilities differ. FACET_TRACKING_SET picks the model set (default
// fast). The bounds are the README's figures with a margin.
func TestTrackingCost(t *testing.T) {
	e := newTestEngine(t)
	set := os.Getenv("FACET_TRACKING_SET")
	if set == "" {
		set = "fast"
	}
	if err := e.Installed(set); err != nil {
		testenv.Skip(t, "model set "+set+" not installed: "+err.Error())
	}
	var all trackCost
	var detE, detT, desE, desT, emoT int64
	for _, v := range trackingVideos(t) {
		exact := runTracked(t, e, set, v[1], facet.DetectEveryFrame)
		track := runTracked(t, e, set, v[1], facet.DetectTrack)
		c := compareRuns(t, exact, track)
		sc := compareRuns(t, smoothed(t, exact), smoothed(t, track))
		all.smoothSame += sc.sameDominant
		t.Logf("%-12s frames %3d  found %3d -> %3d  same dominant %3d/%3d  mean |dp| %.4f max %.3f  detector runs %3d -> %3d  faces described %3d -> %3d + %3d emotions alone",
			v[0], c.frames, c.foundExact, c.foundTrack, c.sameDominant, c.both, c.sumAbs/float64(max(c.both, 1)), c.maxAbs,
			exact.detects, track.detects, exact.described, track.described, track.emotions)
		all.frames += c.frames
		all.foundExact += c.foundExact
		all.foundTrack += c.foundTrack
		all.both += c.both
		all.sameDominant += c.sameDominant
		all.sumAbs += c.sumAbs
		all.sumAgeDiff += c.sumAgeDiff
		all.sameGender += c.sameGender
		all.maxAbs = max(all.maxAbs, c.maxAbs)
		detE, detT, desE, desT, emoT = detE+exact.detects, detT+track.detects, desE+exact.described, desT+track.described, emoT+track.emotions
	}
	found := float64(all.foundExact-all.foundTrack) / float64(all.frames)
	agree := float64(all.sameDominant) / float64(all.both)
	meanAbs := all.sumAbs / float64(all.both)
	t.Logf("all: age differs by %.2f years on average; gender agrees on %.1f%% of frames", all.sumAgeDiff/float64(all.both), 100*float64(all.sameGender)/float64(all.both))
	t.Logf("all: %d frames; face found in %.1f%% -> %.1f%% (cost %.2f points); dominant agrees %.1f%% (%.1f%% smoothed over %g s); mean |dp| %.4f; detector runs %d -> %d; faces described %d -> %d (+ %d emotions alone)",
		all.frames, 100*float64(all.foundExact)/float64(all.frames), 100*float64(all.foundTrack)/float64(all.frames), 100*found, 100*agree,
		100*float64(all.smoothSame)/float64(all.both), facet.DefaultSmoothS, meanAbs, detE, detT, desE, desT, emoT)
	if detT >= detE || desT+emoT >= desE {
		t.Errorf("tracking saved nothing: detector %d -> %d, described %d -> %d", detE, detT, desE, desT)
	}
	if age, gender := all.sumAgeDiff/float64(all.both), float64(all.sameGender)/float64(all.both); age > 4 || gender < 0.8 {
		t.Errorf("tracking moves age by %.2f years and gender agrees on %.1f%% of frames", age, 100*gender)
	}
	if found > 0.03 || agree < 0.9 || meanAbs > 0.03 {
		t.Errorf("tracking costs more than the README says: found -%.1f points, agreement %.1f%%, mean |dp| %.4f", 100*found, 100*agree, meanAbs)
	}
}
