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

func cmdAnalyze(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fps := fs.Float64("fps", engine.DefaultSampleFPS, "frames per second to analyse (0 = every frame)")
	models := fs.String("models", "default", "model set: default, fast or a manifest .json")
	smooth := fs.Float64("smooth", facet.DefaultSmoothS, "seconds over which each face's emotions are smoothed (0 = raw scores)")
	format := fs.String("format", "text", "output: text, json, csv or html")
	out := fs.String("o", "", "write the output to this file instead of stdout")
	quiet := fs.Bool("q", false, "no progress on stderr")
	// Flags may come before or after the video: parse up to each
	// positional argument, then go on after it.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return usagef("analyze: %v\n%s", err, usage)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != 1 {
		return usagef("analyze: want exactly one VIDEO, got %d\n%s", len(pos), usage)
	}
	if *fps < 0 || *fps > 120 {
		return usagef("analyze: --fps %g: want 0 (every frame) to 120", *fps)
	}
	if *smooth < 0 || *smooth > facet.MaxSmoothS {
		return usagef("analyze: --smooth %g: want 0 (raw scores) to %g seconds", *smooth, float64(facet.MaxSmoothS))
	}
	switch *format {
	case "text", "json", "csv", "html":
	default:
		return usagef("analyze: --format %q: want text, json, csv or html", *format)
	}
	video := pos[0]
	if _, err := os.Stat(video); err != nil {
		return usagef("analyze: %v", err)
	}

	eng := newEngine(cfg)
	defer eng.Close()

	w := stdout
	var file *os.File
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		file = f
		w = f
	}
	bw := bufio.NewWriterSize(w, 64<<10)

	req := engine.Request{Input: video, SampleFPS: *fps, Models: *models, Smooth: *smooth, KeepFrames: *format == "json"}
	var duration float64
	req.Probed = func(v facet.VideoInfo) { duration = float64(v.DurationS) }
	var cw *csv.Writer
	if *format == "csv" {
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
		if !*quiet && duration > progressAfterS {
			if pct := int(100 * float64(f.T) / duration / 10); pct > lastPct {
				lastPct = pct
				fmt.Fprintf(stderr, "analysing %s: %d%% (%.0f of %.0f s)\n", filepath.Base(video), min(pct*10, 100), float64(f.T), duration)
			}
		}
		return nil
	}
	res, _, err := eng.Analyze(ctx, req)
	if err == nil {
		switch *format {
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
			os.Remove(*out) // no half-written result left behind
		}
	}
	return err
}
