package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/analysis"
	"github.com/humaninsight/facet/internal/engine"
	"github.com/humaninsight/facet/internal/eval"
)

// evalParallel is how many files eval analyses at once. Each analysis
// already spreads its frames over every core; a second one fills the gaps
// while the first is probing, decoding or starting up, and more would only
// compete for the same cores and memory.
const evalParallel = 2

// evalOptions are the parsed flags of `facet eval`.
type evalOptions struct {
	manifest, models, format, out string
	fps, smooth                   float64
	quiet                         bool
}

// parseEvalFlags reads eval's flags and its one manifest argument.
func parseEvalFlags(args []string) (evalOptions, error) {
	var o evalOptions
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Float64Var(&o.fps, "fps", engine.DefaultSampleFPS, "frames per second to analyse in videos (0 = every frame)")
	fs.Float64Var(&o.smooth, "smooth", facet.DefaultSmoothS, "seconds over which each face's emotions are smoothed in videos (0 = raw scores)")
	fs.StringVar(&o.models, "models", "default", "model set: default, fast or a manifest .json")
	fs.StringVar(&o.format, "format", "text", "output: text or json")
	fs.StringVar(&o.out, "o", "", "write the output to this file instead of stdout")
	fs.BoolVar(&o.quiet, "q", false, "no progress on stderr")
	// Flags may come before or after the manifest, as with analyze.
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return o, usagef("eval: %v\n%s", err, usage)
	}
	if len(pos) != 1 {
		return o, usagef("eval: want exactly one MANIFEST.csv, got %d\n%s", len(pos), usage)
	}
	o.manifest = pos[0]
	if o.fps < 0 || o.fps > 120 {
		return o, usagef("eval: --fps %g: want 0 (every frame) to 120", o.fps)
	}
	if o.smooth < 0 || o.smooth > facet.MaxSmoothS {
		return o, usagef("eval: --smooth %g: want 0 (raw scores) to %g seconds", o.smooth, float64(facet.MaxSmoothS))
	}
	if o.format != "text" && o.format != "json" {
		return o, usagef("eval: --format %q: want text or json", o.format)
	}
	return o, nil
}

// cmdEval runs `facet eval`. Bad flags and a manifest without a usable row
// are usage errors (exit 2); files that fail are listed in the report.
func cmdEval(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) (err error) {
	o, err := parseEvalFlags(args)
	if err != nil {
		return err
	}
	m, err := eval.Read(o.manifest)
	if err != nil {
		return usageError{err.Error()}
	}
	if len(m.Rows) == 0 {
		return usagef("eval: %s has no usable row%s", o.manifest, badRowList(m.Bad))
	}
	w, written := stdout, false
	if o.out != "" {
		// Created before the analysis, so that a bad path fails at once
		// rather than after an hour of work.
		f, err := os.Create(o.out)
		if err != nil {
			return fmt.Errorf("eval: %w", err)
		}
		w = f
		defer func() {
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil && !written {
				os.Remove(o.out) // no partial or empty report left behind
			}
		}()
	}
	eng := newEngine(cfg)
	defer eng.Close()
	// Open the set before the first file: a missing model fails once and
	// clearly, not as the same failure against every file.
	if _, err := eng.Models(o.models); err != nil {
		return fmt.Errorf("eval: model set %q: %w", o.models, err)
	}
	progress := func(done, total int) {}
	if !o.quiet {
		progress = progressPrinter(stderr)
	}
	recs, failed, err := analyseRows(ctx, eng, m.Rows, o, progress)
	if err != nil {
		return err
	}
	rep := eval.NewReport(eval.Settings{Manifest: o.manifest, Models: o.models, SampleFPS: o.fps, SmoothS: o.smooth}, m, recs, failed)
	if o.format == "json" {
		err = eval.WriteJSON(w, rep)
	} else {
		err = eval.WriteText(w, rep)
	}
	written = err == nil
	if err == nil && len(recs) == 0 {
		// The report lists why; the exit code must still tell a script
		// that there are no figures to trust.
		err = fmt.Errorf("eval: no file could be analysed (%d failed, listed in the report)", len(failed))
	}
	return err
}

// badRowList is the reasons for a manifest without a usable row.
func badRowList(bad []eval.BadRow) string {
	var b strings.Builder
	for i, r := range bad {
		if i == 10 {
			fmt.Fprintf(&b, "\n  and %d more", len(bad)-i)
			break
		}
		fmt.Fprintf(&b, "\n  row %d %s: %s", r.Row, r.Path, r.Reason)
	}
	return b.String()
}

// progressPrinter reports on stderr at each tenth of the files, so a long
// evaluation shows it is alive without a line per file.
func progressPrinter(stderr io.Writer) func(done, total int) {
	last := -1
	return func(done, total int) {
		if step := 10 * done / total; step > last {
			last = step
			fmt.Fprintf(stderr, "eval: %d of %d files analysed\n", done, total)
		}
	}
}

// analyseRows runs the engine on every row, evalParallel at a time, and
// returns the records and failures in manifest order. Only an interrupt
// stops it: any other error belongs to its file and is listed.
func analyseRows(ctx context.Context, eng *engine.Engine, rows []eval.Row, o evalOptions, progress func(done, total int)) ([]eval.Record, []eval.Failure, error) {
	type outcome struct {
		rec  eval.Record
		fail *eval.Failure
	}
	outs := make([]outcome, len(rows))
	sem := make(chan struct{}, evalParallel)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		done int
	)
	for i, row := range rows {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			rec, err := analyseRow(ctx, eng, row, o)
			if err != nil {
				outs[i].fail = &eval.Failure{Row: row.Row, Path: row.Path, Code: facet.ErrorCode(err), Reason: failureReason(err)}
			}
			outs[i].rec = rec
			mu.Lock()
			done++
			progress(done, len(rows))
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	var recs []eval.Record
	var failed []eval.Failure
	for _, out := range outs {
		if out.fail != nil {
			failed = append(failed, *out.fail)
		} else {
			recs = append(recs, out.rec)
		}
	}
	return recs, failed, nil
}

// failureReason is the client-safe message of a bad-input error, and the
// full error otherwise: the person running eval owns the machine, and
// "internal error" would tell them nothing.
func failureReason(err error) string {
	var fe *facet.Error
	if errors.As(err, &fe) {
		return fe.Message
	}
	return err.Error()
}

// analyseRow analyses one file and reads its prediction the way the
// manifest's kind says.
func analyseRow(ctx context.Context, eng *engine.Engine, row eval.Row, o evalOptions) (eval.Record, error) {
	rec := eval.Record{Row: row.Row, Path: row.Path, Kind: row.Kind, Truth: row.Truth}
	req := engine.Request{Input: row.File, SampleFPS: o.fps, Models: o.models, Smooth: o.smooth}
	frames := 0
	var largest *facet.Face
	if row.Kind == eval.Image {
		req.OnFrame = func(f facet.Frame) error {
			if frames++; frames > 1 {
				// A moving picture labelled as an image: its "one frame"
				// would be an arbitrary one, so refuse rather than guess.
				return facet.Errorf(facet.EInvalid, "declared an image, but the file has more than one frame (declare it a video)")
			}
			largest = largestFace(f.Faces)
			return nil
		}
	}
	res, _, err := eng.Analyze(ctx, req)
	if err != nil {
		return rec, err
	}
	if row.Kind == eval.Image {
		rec.Pred = facePrediction(largest)
	} else {
		rec.Pred = summaryPrediction(res.Summary)
	}
	return rec, nil
}

// largestFace returns a copy of the face with the largest box, or nil.
func largestFace(faces []facet.Face) *facet.Face {
	best := -1
	for i, f := range faces {
		if best < 0 || f.Box[2]*f.Box[3] > faces[best].Box[2]*faces[best].Box[3] {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	f := faces[best]
	return &f
}

// facePrediction reads an image's prediction from its largest face. The
// face's own estimates are used, not the summary's: the summary states no
// age or gender for fewer than analysis.MinDemographicFaces faces, a rule
// for recordings that would leave every image without one.
func facePrediction(face *facet.Face) eval.Prediction {
	p := eval.Prediction{Emotion: eval.NoEmotion}
	if face == nil {
		return p
	}
	p.Face, p.FaceRatio = true, 1
	if !face.Described() {
		return p // found, but too small or dark to describe
	}
	p.Emotion = face.Emotions.Dominant()
	if face.Age != nil {
		p.Age, p.HasAge = float64(*face.Age), true
	}
	if face.Gender != nil {
		p.Gender = faceGender(*face.Gender)
	}
	return p
}

// faceGender labels one face's probabilities by the summary's rule, with
// its threshold, so that images and videos are held to the same standard
// of "uncertain".
func faceGender(g facet.GenderProb) string {
	label, conf := facet.GenderMan, float64(g.Man)
	if conf < 0.5 {
		label, conf = facet.GenderWoman, 1-conf
	}
	if conf < analysis.GenderMinConfidence {
		return facet.GenderUncertain
	}
	return label
}

// summaryPrediction reads a video's prediction from its summary.
func summaryPrediction(s facet.Summary) eval.Prediction {
	p := eval.Prediction{Face: s.FramesWithFace > 0, FaceRatio: float64(s.FaceRatio), Emotion: eval.NoEmotion}
	// The dominant shares sum to 1 over described faces and are all 0
	// without one, where their argmax would read as "angry".
	var shares float64
	for _, v := range s.Dominant {
		shares += v
	}
	if shares > 0 {
		p.Emotion = s.Dominant.Dominant()
	}
	if s.Gender != nil {
		p.Gender = s.Gender.Label
	}
	if s.Age != nil {
		p.Age, p.HasAge = float64(s.Age.Median), true
	}
	return p
}
