// Command facet-bench measures one benchmark case in its own process, so
// its peak resident memory is the case's own, and prints one line:
//
//	BENCH case=<name> [codec=<c> [skip_frame=<mode>]] models=<set> sample_fps=<n> video_s=<x> frames=<n> wall_s=<x> x_realtime=<x> ms_per_frame=<x> peak_rss_mb=<x> ffmpeg_rss_mb=<x>
//
// Cases: pipeline (decode and analyse, as `facet analyze` does),
// decode-only (ffmpeg frames, no models; its line names the video's codec
// as ffprobe does, and the decoder's -skip_frame mode when -skip-frame is
// given) and infer-only (the models on frames already in memory).
// scripts/bench.sh runs the whole set.
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
	skipFrame := fs.String("skip-frame", "", "decode-only: ffmpeg's -skip_frame (noref, bidir, nointra, nokey; \"\" = off, as the engine decodes)")
	detect := fs.String("detect", "", "pipeline: how faces are found (every-frame, track; \"\" = every-frame)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if fs.NArg() != 1 {
		return errors.New("want one VIDEO")
	}
	video := fs.Arg(0)
	if *label == "" {
		*label = *name
	}
	eng := engine.New(engine.Config{
		ORTLib:        filepath.Join(*root, ".cache/lib/libonnxruntime.so.1"),
		ModelsDir:     filepath.Join(*root, "models"),
		Workers:       *workers,
		DecodeThreads: *dthreads,
	})
	defer eng.Close()
	ctx := context.Background()
	info, err := ffmpeg.Probe(ctx, "", video)
	if err != nil {
		return err
	}
	w, h := ffmpeg.FitSize(info.Width, info.Height, 640)
	if *skipFrame != "" && *name != "decode-only" {
		return errors.New("-skip-frame is for the decode-only case")
	}
	extra := ""
	if *name == "decode-only" {
		extra = " codec=" + info.Codec
		if *skipFrame != "" {
			extra += " skip_frame=" + *skipFrame
		}
	}

	if *detect != "" {
		if !facet.DetectMode(*detect).Valid() || *name != "pipeline" {
			return fmt.Errorf("-detect %q: every-frame or track, for the pipeline case", *detect)
		}
		extra += " detect=" + *detect
	}
	var frames int
	var ffRSS int64
	start := time.Now()
	switch *name {
	case "pipeline":
		res, st, err := eng.Analyze(ctx, engine.Request{Input: video, SampleFPS: *fps, Models: *models, Detect: facet.DetectMode(*detect)})
		if err != nil {
			return err
		}
		frames, ffRSS = res.Summary.Frames, st.FFmpegMaxRSSKB
	case "decode-only":
		rd, err := ffmpeg.Open(ctx, video, ffmpeg.Options{SampleFPS: *fps, Width: w, Height: h, Threads: *dthreads, SkipFrame: *skipFrame})
		if err != nil {
			return err
		}
		buf := make([]byte, rd.FrameSize())
		for {
			if _, err := rd.ReadFrame(buf); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				rd.Close()
				return err
			}
			frames++
		}
		rd.Close()
		ffRSS = rd.MaxRSSKB()
	case "infer-only":
		set, err := eng.Models(*models)
		if err != nil {
			return err
		}
		want := int(math.Round(info.DurationS * *fps))
		src, err := preload(ctx, video, *fps, w, h, want)
		if err != nil {
			return err
		}
		start = time.Now() // decoding is not part of this case
		sum, err := analysis.Run(ctx, src, set, analysis.Options{Width: w, Height: h, Workers: *workers})
		if err != nil {
			return err
		}
		frames = sum.Frames
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
