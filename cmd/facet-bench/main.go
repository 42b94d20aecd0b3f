// Command facet-bench measures one benchmark case in its own process, so
// its peak resident memory is the case's own, and prints one line:
//
//	BENCH case=<name> [codec=<c> [skip_frame=<mode>]] [sampling=<pick|grid|every>] models=<set> sample_fps=<n> video_s=<x> frames=<n> wall_s=<x> x_realtime=<x> ms_per_frame=<x> peak_rss_mb=<x> ffmpeg_rss_mb=<x>
//
// Cases: pipeline (decode and analyse, as `facet analyze` does),
// decode-only (ffmpeg frames, no models; its line names the video's codec
// as ffprobe does, and the decoder's -skip_frame mode when -skip-frame is
// given) and infer-only (the models on frames already in memory).
// sampling= says how the first two sample: picking decoded frames at their
// own times (the engine's way when the source is at least twice the sample
// rate), the k/fps grid (slower sources, or -grid: the reader before it
// picked) or every frame. scripts/bench.sh runs the whole set.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/analysis"
	"github.com/humaninsight/facet/internal/engine"
	"github.com/humaninsight/facet/internal/ffmpeg"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "facet-bench:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("facet-bench", flag.ContinueOnError)
	name := fs.String("case", "pipeline", "pipeline, decode-only or infer-only")
	label := fs.String("name", "", "name printed as case= (default: -case)")
	models := fs.String("models", "fast", "model set")
	fps := fs.Float64("fps", 5, "sample fps (0 = every frame)")
	root := fs.String("root", ".", "project root (models/, .cache/lib/)")
	dthreads := fs.Int("decode-threads", 0, "ffmpeg decoder threads (0 = ffmpeg decides)")
	workers := fs.Int("workers", 0, "frames analysed at once (0 = one per core)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	skipFrame := fs.String("skip-frame", "", "decode-only: ffmpeg's -skip_frame (none, noref, bidir, nointra, nokey; \"\" = as the engine decodes)")
	grid := fs.Bool("grid", false, "sample on the k/fps grid, decoding every frame, never picking decoded frames (the reader before it picked)")
	detect := fs.String("detect", "", "pipeline: how faces are found (every-frame, track; \"\" = every-frame)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuprofile != "" {
		stop, err := startProfile(*cpuprofile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if fs.NArg() != 1 {
		return errors.New("want one VIDEO")
	}
	video := fs.Arg(0)
	if *label == "" {
		*label = *name
	}
	if err := checkCaseFlags(*name, *skipFrame, *detect); err != nil {
		return err
	}
	eng := engine.New(engine.Config{ORTLib: filepath.Join(*root, ".cache/lib/libonnxruntime.so.1"), ModelsDir: filepath.Join(*root, "models"),
		Workers: *workers, DecodeThreads: *dthreads, GridSampling: *grid})
	defer eng.Close()
	ctx := context.Background()
	info, err := ffmpeg.Probe(ctx, "", video)
	if err != nil {
		return err
	}
	o := readerOptions(info, *fps, *dthreads, *skipFrame, *grid)
	extra := caseFields(*name, info.Codec, o)
	if *detect != "" {
		extra += " detect=" + *detect
	}
	if *name == "pipeline" {
		if extra, err = openSet(eng, *models, extra); err != nil {
			return err
		}
	}
	frames, ffRSS := 0, int64(0)
	start := time.Now()
	switch *name {
	case "pipeline":
		res, st, err := eng.Analyze(ctx, engine.Request{Input: video, SampleFPS: *fps, Models: *models, Detect: facet.DetectMode(*detect)})
		if err != nil {
			return err
		}
		frames, ffRSS = res.Summary.Frames, st.FFmpegMaxRSSKB
	case "decode-only":
		if frames, ffRSS, err = decodeOnly(ctx, video, o); err != nil {
			return err
		}
	case "infer-only":
		// Decoding is not part of this case: the clock starts after it.
		if frames, start, err = inferOnly(ctx, eng, *models, video, info.DurationS, o, *workers); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown case %q", *name)
	}
	wall := time.Since(start).Seconds()
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("BENCH case=%s%s models=%s sample_fps=%g video_s=%.1f frames=%d wall_s=%.3f x_realtime=%.1f ms_per_frame=%.2f peak_rss_mb=%.1f ffmpeg_rss_mb=%.1f\n",
		*label, extra, *models, *fps, info.DurationS, frames, wall, info.DurationS/wall, 1000*wall/float64(max(frames, 1)),
		float64(ru.Maxrss)/1024, float64(ffRSS)/1024)
	return nil
}

// openSet opens the model set before a pipeline is timed, as a warm
// instance has it open, and adds the time it took to the line's fields.
func openSet(eng *engine.Engine, models, extra string) (string, error) {
	t0 := time.Now()
	if _, err := eng.Models(models); err != nil {
		return extra, err
	}
	return extra + fmt.Sprintf(" open_s=%.3f", time.Since(t0).Seconds()), nil
}

// checkCaseFlags refuses flags that do not apply to the case.
func checkCaseFlags(name, skipFrame, detect string) error {
	if skipFrame != "" && name != "decode-only" {
		return errors.New("-skip-frame is for the decode-only case")
	}
	if detect != "" && (!facet.DetectMode(detect).Valid() || name != "pipeline") {
		return fmt.Errorf("-detect %q: every-frame or track, for the pipeline case", detect)
	}
	return nil
}

// readerOptions are the frame reader's options for the video Probe
// described as info, as the engine sets them (sampling at fps, with the
// longer side at most 640 px), with threads, skipFrame and grid from the
// flags.
func readerOptions(info ffmpeg.Info, fps float64, threads int, skipFrame string, grid bool) ffmpeg.Options {
	w, h := ffmpeg.FitSize(info.Width, info.Height, 640)
	o := ffmpeg.Options{SampleFPS: fps, Width: w, Height: h, Threads: threads, SkipFrame: skipFrame}
	if !grid && !info.Still {
		o.SourceFPS = info.FPS
	}
	return o
}

// startProfile writes a CPU profile to path until stop is called.
func startProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// inferOnly runs the models set on the frames of video's first seconds,
// sampled as o says (on the grid) and replayed from memory for durationS,
// and returns how many frames it analysed and when it started to.
func inferOnly(ctx context.Context, eng *engine.Engine, models, video string, durationS float64, o ffmpeg.Options, workers int) (int, time.Time, error) {
	set, err := eng.Models(models)
	if err != nil {
		return 0, time.Time{}, err
	}
	want := int(math.Round(durationS * o.SampleFPS))
	src, err := preload(ctx, video, o.SampleFPS, o.Width, o.Height, want)
	if err != nil {
		return 0, time.Time{}, err
	}
	start := time.Now()
	sum, err := analysis.Run(ctx, src, set, analysis.Options{Width: o.Width, Height: o.Height, Workers: workers})
	if err != nil {
		return 0, time.Time{}, err
	}
	return sum.Frames, start, nil
}

// decodeOnly reads every frame of video with o and returns how many there
// were and ffmpeg's peak resident set size in KiB.
func decodeOnly(ctx context.Context, video string, o ffmpeg.Options) (int, int64, error) {
	rd, err := ffmpeg.Open(ctx, video, o)
	if err != nil {
		return 0, 0, err
	}
	defer rd.Close()
	buf := make([]byte, rd.FrameSize())
	frames := 0
	for {
		if _, err := rd.ReadFrame(buf); err != nil {
			if errors.Is(err, io.EOF) {
				return frames, rd.MaxRSSKB(), nil
			}
			return 0, 0, err
		}
		frames++
	}
}

// caseFields are the BENCH line's fields after case= that say what the
// case ran: for decode-only the codec and a -skip_frame other than the
// engine's choice, and how the reader with o samples.
func caseFields(name, codec string, o ffmpeg.Options) string {
	extra := ""
	if name == "decode-only" {
		extra = " codec=" + codec
		if o.SkipFrame != "" {
			extra += " skip_frame=" + o.SkipFrame
		}
	}
	if name != "infer-only" {
		extra += " sampling=" + sampling(o)
	}
	return extra
}

// sampling names how the reader with o samples.
func sampling(o ffmpeg.Options) string {
	switch {
	case o.Picks():
		return "pick"
	case o.SampleFPS > 0:
		return "grid"
	}
	return "every"
}

// cycle replays frames held in memory until n have been read.
type cycle struct {
	frames [][]byte
	times  []float64
	n, i   int
}

func (c *cycle) ReadFrame(dst []byte) (float64, error) {
	if c.i >= c.n {
		return 0, io.EOF
	}
	k := c.i % len(c.frames)
	copy(dst, c.frames[k])
	c.i++
	return float64(c.i-1) / 5, nil
}

// preload decodes up to 30 frames (6 s at 5 fps: one period of the looped
// sample) and replays them n times in all.
func preload(ctx context.Context, video string, fps float64, w, h, n int) (*cycle, error) {
	rd, err := ffmpeg.Open(ctx, video, ffmpeg.Options{SampleFPS: fps, Width: w, Height: h})
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	c := &cycle{n: n}
	for len(c.frames) < 30 {
		buf := make([]byte, rd.FrameSize())
		t, err := rd.ReadFrame(buf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		c.frames = append(c.frames, buf)
		c.times = append(c.times, t)
	}
	if len(c.frames) == 0 {
		return nil, errors.New("no frame decoded")
	}
	return c, nil
}
