// Package engine analyses one video file end to end: ffprobe, the ffmpeg
// frame reader, the model set and the analysis pipeline. The CLI and the
// Functions app call it; it keeps model sessions alive for the process.
package engine

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/analysis"
	"github.com/humaninsight/facet/internal/ffmpeg"
	"github.com/humaninsight/facet/internal/onnx"
)

// DefaultSampleFPS is the sampling rate when a request names none.
const DefaultSampleFPS = 5

// Config says where the engine's tools and models are.
type Config struct {
	FFmpeg, FFprobe string // program paths; "" = from PATH
	ORTLib          string // libonnxruntime.so path
	ModelsDir       string // folder holding <set>.json manifests
	// Workers is how many frames are analysed at once by all the engine's
	// runs together (one pool per process, so that concurrent runs share
	// the cores instead of oversubscribing them); 0 = GOMAXPROCS.
	Workers int
	MaxSide int // frames are decoded with the longer side at most this; 0 = 640
	// DecodeThreads is ffmpeg's decoder thread count; 0 means 1. The
	// workers keep every core busy with inference, and one decoder thread
	// measured faster than ffmpeg's own choice beside them.
	DecodeThreads int
	// GridSampling samples on the k/fps grid with every frame decoded
	// (the fps filter), never picking decoded frames at their own times
	// (ffmpeg.Options.Picks): the reader as it was, for benchmarks.
	GridSampling bool
}

// Engine analyses videos. It is safe for concurrent use; model sets are
// opened on first use and kept until Close. Its runs draw from one pool of
// Workers slots: each run has Workers frame buffers and workers of its own
// (memory per run stays flat), and the slots cap the frames in analysis
// across runs, so a lone run uses every core and two runs share them.
type Engine struct {
	cfg   Config
	slots chan struct{}
	mu    sync.Mutex
	sets  map[string]*onnx.Set
}

// New returns an engine for cfg.
func New(cfg Config) *Engine {
	if cfg.MaxSide <= 0 {
		cfg.MaxSide = 640
	}
	if cfg.DecodeThreads <= 0 {
		cfg.DecodeThreads = 1
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	return &Engine{cfg: cfg, slots: make(chan struct{}, cfg.Workers), sets: map[string]*onnx.Set{}}
}

// ManifestPath returns the manifest for a set name ("default", "fast") or
// the path itself when name is a .json file.
func (e *Engine) ManifestPath(name string) string {
	if strings.HasSuffix(name, ".json") {
		return name
	}
	return filepath.Join(e.cfg.ModelsDir, name+".json")
}

// Installed reports whether the named set's manifest and files are present
// and match their checksums.
func (e *Engine) Installed(name string) error {
	m, err := onnx.ReadManifest(e.ManifestPath(name))
	if err != nil {
		return err
	}
	return m.Verify()
}

// Models returns the opened model set, opening it on first use.
func (e *Engine) Models(name string) (*onnx.Set, error) {
	if name == "" {
		name = "default"
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if s := e.sets[name]; s != nil {
		return s, nil
	}
	if err := onnx.Init(e.cfg.ORTLib); err != nil {
		return nil, err
	}
	m, err := onnx.ReadManifest(e.ManifestPath(name))
	if err != nil {
		return nil, err
	}
	s, err := onnx.Open(m, nil)
	if err != nil {
		return nil, err
	}
	e.sets[name] = s
	return s, nil
}

// Close releases every model set.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for k, s := range e.sets {
		s.Close()
		delete(e.sets, k)
	}
	return nil
}

// Request is one analysis.
type Request struct {
	Input        string  // a file path or a URL ffmpeg can read
	SampleFPS    float64 // frames per second to analyse; 0 = every frame
	Models       string  // set name or manifest path; "" = default
	MaxDurationS float64 // refuse longer videos; 0 = no limit
	// Smooth is the width in seconds of the window over which each face
	// track's emotions are smoothed; 0 = raw scores. Callers that mean the
	// default pass facet.DefaultSmoothS: the zero value must stay "raw", so
	// that re-running a stored raw analysis gives it back. Stills are never
	// smoothed.
	Smooth float64
	// Detect chooses how faces are found; "" means every frame.
	Detect facet.DetectMode
	// KeepFrames puts every frame into Result.Frames. Without it frames go
	// only to OnFrame, and memory stays flat however long the video is.
	KeepFrames bool
	OnFrame    func(facet.Frame) error
	// Probed, when set, receives ffprobe's findings before decoding starts.
	Probed func(facet.VideoInfo)
}

// Stats are measurements of one run, for benchmarks.
type Stats struct {
	FFmpegMaxRSSKB int64
}

// Analyze runs one analysis. Bad input gives a *facet.Error whose code
// facet.IsBadVideo recognises; other errors are the system's.
func (e *Engine) Analyze(ctx context.Context, req Request) (*facet.Result, Stats, error) {
	start := time.Now()
	var st Stats
	info, err := ffmpeg.Probe(ctx, e.cfg.FFprobe, req.Input)
	if err != nil {
		return nil, st, err
	}
	if req.MaxDurationS > 0 && info.DurationS > req.MaxDurationS {
		return nil, st, facet.Errorf(facet.EVideoTooLong, "the video lasts %.0f s, longer than the limit of %.0f s", info.DurationS, req.MaxDurationS)
	}
	vi := facet.VideoInfo{DurationS: facet.Num(info.DurationS), Width: info.Width, Height: info.Height, FPS: facet.Num(info.FPS), Codec: info.Codec}
	if req.Probed != nil {
		req.Probed(vi)
	}
	set, err := e.Models(req.Models)
	if err != nil {
		return nil, st, err
	}
	w, h := ffmpeg.FitSize(info.Width, info.Height, e.cfg.MaxSide)
	fps, smooth := req.SampleFPS, req.Smooth
	if info.Still {
		fps = 0    // one picture: take its one frame
		smooth = 0 // and nothing in time to smooth over
	}
	rd, err := ffmpeg.Open(ctx, req.Input, e.readerOptions(info, fps, w, h))
	if err != nil {
		return nil, st, err
	}
	res := &facet.Result{
		Video:    vi,
		Settings: facet.Settings{SampleFPS: req.SampleFPS, Models: set.Name(), SmoothS: smooth, Detect: req.Detect},
		Models:   set.Refs(),
		Frames:   []facet.Frame{},
	}
	lastT := -1.0
	on := func(f facet.Frame) error {
		lastT = float64(f.T)
		// Browser recordings (webm) often state no duration at all, so the
		// limit is also enforced on the frames themselves.
		if req.MaxDurationS > 0 && float64(f.T) > req.MaxDurationS {
			return facet.Errorf(facet.EVideoTooLong, "the video lasts longer than the limit of %.0f s", req.MaxDurationS)
		}
		if req.KeepFrames {
			res.Frames = append(res.Frames, f)
		}
		if req.OnFrame != nil {
			return req.OnFrame(f)
		}
		return nil
	}
	opts := analysis.Options{Width: w, Height: h, Workers: e.cfg.Workers, Slots: e.slots, SmoothS: smooth, OnFrame: on, Tracking: tracking(req.Detect, info.FPS, fps)}
	sum, err := analysis.Run(ctx, rd, set, opts)
	cerr := rd.Close()
	st.FFmpegMaxRSSKB = rd.MaxRSSKB()
	if err != nil {
		return nil, st, err
	}
	if cerr != nil {
		return nil, st, fmt.Errorf("engine: close decoder: %w", cerr)
	}
	if sum.Frames == 0 {
		return nil, st, facet.Errorf(facet.EUnreadable, "no frame could be decoded from the video")
	}
	videoS := info.VideoDurationS
	if videoS == 0 {
		videoS = info.DurationS
	}
	if truncated(videoS, lastT, frameStep(info.FPS, req.SampleFPS)) && !info.Still {
		res.Warnings = append(res.Warnings, facet.WarnTruncated)
	}
	if info.DurationS == 0 && !info.Still && lastT >= 0 {
		res.Video.DurationS = facet.Num(durationFromLastFrame(lastT, info.FPS, req.SampleFPS))
	}
	sum.WallS = facet.Num(time.Since(start).Seconds())
	res.Summary = sum
	return res, st, nil
}

// AnalyzeFile analyses a file with the given settings, streaming frames to
// onFrame; the result holds no frames. It serves the Functions app.
func (e *Engine) AnalyzeFile(ctx context.Context, input string, s facet.Settings, maxDurationS float64, onFrame func(facet.Frame) error) (*facet.Result, error) {
	res, _, err := e.Analyze(ctx, Request{Input: input, SampleFPS: s.SampleFPS, Models: s.Models, Smooth: s.SmoothS, Detect: s.Detect, MaxDurationS: maxDurationS, OnFrame: onFrame})
	return res, err
}

// tracking returns the pipeline's tracking for mode: nil for every frame;
// for DetectTrack, analysis.DefaultTracking with a detection at least once
// a second at the rate frames are analysed (the sampling rate, else the
// source's).
func tracking(mode facet.DetectMode, sourceFPS, sampleFPS float64) *analysis.Tracking {
	if mode != facet.DetectTrack {
		return nil
	}
	t := analysis.DefaultTracking
	if rate := cmp.Or(sampleFPS, sourceFPS); rate > 0 {
		t.Every = max(1, int(math.Round(rate)))
	}
	return &t
}

// readerOptions are the frame reader's options for a video Probe described
// as info, sampled at fps (0 = every frame) into w x h frames. Knowing the
// source's rate lets the reader pick decoded frames and decode less.
func (e *Engine) readerOptions(info ffmpeg.Info, fps float64, w, h int) ffmpeg.Options {
	o := ffmpeg.Options{Bin: e.cfg.FFmpeg, SampleFPS: fps, Width: w, Height: h, Threads: e.cfg.DecodeThreads}
	if !e.cfg.GridSampling {
		o.SourceFPS = info.FPS
	}
	return o
}

// durationFromLastFrame estimates the duration of a video whose container
// states none (browser webm): the last decoded frame's time plus one frame
// interval, the source's or else the sampling's.
func durationFromLastFrame(lastT, sourceFPS, sampleFPS float64) float64 {
	switch {
	case sourceFPS > 0:
		return lastT + 1/sourceFPS
	case sampleFPS > 0:
		return lastT + 1/sampleFPS
	}
	return lastT
}

// frameStep is the time between two analysed frames: the sampling
// interval, or the source's frame interval when every frame is analysed.
func frameStep(sourceFPS, sampleFPS float64) float64 {
	switch {
	case sampleFPS > 0:
		return 1 / sampleFPS
	case sourceFPS > 0:
		return 1 / sourceFPS
	}
	return 0
}

// truncated reports whether the last decoded frame (at lastT, -1 for
// none) stops well before the stated duration: more than a second and two
// frame steps short. A container that states no duration says nothing.
func truncated(durationS, lastT, step float64) bool {
	if durationS <= 0 || lastT < 0 {
		return false
	}
	return lastT+step < durationS-max(1, 2*step)
}
