package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/engine"
	"github.com/humaninsight/facet/internal/report"
)

func newEngine(cfg config) *engine.Engine {
	return engine.New(engine.Config{FFmpeg: cfg.FFmpeg, FFprobe: cfg.FFprobe, ORTLib: cfg.ORTLib, ModelsDir: cfg.ModelsDir, Workers: cfg.Workers})
}

// progressAfterS is the video length from which progress goes to stderr.
const progressAfterS = 5

// parseInterleaved parses fs from args where flags may come before or
// after the positional arguments, and returns those.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// analyzeOpts are the parsed flags and the video of `facet analyze`.
type analyzeOpts struct {
	video, models, format, out string
	detect                     string
	fps, smooth                float64
	quiet                      bool
}

// parseAnalyze reads analyze's flags, which may come before or after the
// video.
func parseAnalyze(args []string) (analyzeOpts, error) {
	var o analyzeOpts
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Float64Var(&o.fps, "fps", engine.DefaultSampleFPS, "frames per second to analyse (0 = every frame)")
	fs.StringVar(&o.models, "models", "default", "model set: default, fast or a manifest .json")
	fs.Float64Var(&o.smooth, "smooth", facet.DefaultSmoothS, "seconds over which each face's emotions are smoothed (0 = raw scores)")
	fs.StringVar(&o.detect, "detect", string(facet.DetectEveryFrame), "how faces are found: every-frame (exact) or track (faster)")
	fs.StringVar(&o.format, "format", "text", "output: text, json, csv or html")
	fs.StringVar(&o.out, "o", "", "write the output to this file instead of stdout")
	fs.BoolVar(&o.quiet, "q", false, "no progress on stderr")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return o, usagef("analyze: %v\n%s", err, usage)
	}
	if len(pos) != 1 {
		return o, usagef("analyze: want exactly one VIDEO, got %d\n%s", len(pos), usage)
	}
	if o.fps < 0 || o.fps > 120 {
		return o, usagef("analyze: --fps %g: want 0 (every frame) to 120", o.fps)
	}
	if o.smooth < 0 || o.smooth > facet.MaxSmoothS {
		return o, usagef("analyze: --smooth %g: want 0 (raw scores) to %g seconds", o.smooth, float64(facet.MaxSmoothS))
	}
	if !facet.DetectMode(o.detect).Valid() {
		return o, usagef("analyze: --detect %q: want %s or %s", o.detect, facet.DetectEveryFrame, facet.DetectTrack)
	}
	switch o.format {
	case "text", "json", "csv", "html":
	default:
		return o, usagef("analyze: --format %q: want text, json, csv or html", o.format)
	}
	o.video = pos[0]
	if _, err := os.Stat(o.video); err != nil {
		return o, usagef("analyze: %v", err)
	}
	return o, nil
}

// detectMode is the engine's mode for a --detect value: every-frame, the
// default, is recorded as "" as in results made before the setting.
func detectMode(v string) facet.DetectMode {
	if m := facet.DetectMode(v); m != facet.DetectEveryFrame {
		return m
	}
	return ""
}

func cmdAnalyze(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) error {
	o, err := parseAnalyze(args)
	if err != nil {
		return err
	}
	eng := newEngine(cfg)
	defer eng.Close()

	w := stdout
	var file *os.File
	if o.out != "" {
		f, err := os.Create(o.out)
		if err != nil {
			return err
		}
		file = f
		w = f
	}
	bw := bufio.NewWriterSize(w, 64<<10)

	video := o.video
	req := engine.Request{Input: video, SampleFPS: o.fps, Models: o.models, Smooth: o.smooth, Detect: detectMode(o.detect), KeepFrames: o.format == "json"}
	var duration float64
	req.Probed = func(v facet.VideoInfo) { duration = float64(v.DurationS) }
	var cw *csv.Writer
	if o.format == "csv" {
		// CSV streams frame by frame: memory stays flat for any length.
		cw = csv.NewWriter(bw)
		cw.Write(report.CSVHeader)
	}
	series := report.NewSeries(filepath.Base(video), 1)
	lastPct := -1
	req.OnFrame = func(f facet.Frame) error {
		series.Add(f)
		if cw != nil {
			if err := cw.WriteAll(report.CSVRows(f)); err != nil {
				return err
			}
		}
		if !o.quiet && duration > progressAfterS {
			if pct := int(100 * float64(f.T) / duration / 10); pct > lastPct {
				lastPct = pct
				fmt.Fprintf(stderr, "analysing %s: %d%% (%.0f of %.0f s)\n", filepath.Base(video), min(pct*10, 100), float64(f.T), duration)
			}
		}
		return nil
	}
	res, _, err := eng.Analyze(ctx, req)
	if err == nil {
		switch o.format {
		case "json":
			err = report.WriteJSON(bw, res)
		case "text":
			err = report.WriteText(bw, filepath.Base(video), res)
		case "csv":
			cw.Flush()
			err = cw.Error()
		case "html":
			series.Summary = res.Summary
			err = report.WriteHTML(bw, report.ReportData{Title: "facet report: " + filepath.Base(video),
				Subtitle:   fmt.Sprintf("%.1f s video, %d frames analysed with the %q models", float64(res.Video.DurationS), res.Summary.Frames, res.Settings.Models),
				Recordings: []*report.Series{series}})
		}
	}
	if err == nil {
		err = bw.Flush()
	}
	if file != nil {
		if cerr := file.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(o.out) // no half-written result left behind
		}
	}
	return err
}
