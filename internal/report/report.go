// Package report writes analysis results for people and programs: the
// JSON contract, CSV rows and a short text summary. Writers stream where
// the format allows, so exports of long videos or many recordings do not
// build whole documents in memory.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/analysis"
)

// WriteJSON writes res as indented JSON.
func WriteJSON(w io.Writer, res *facet.Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

// CSVHeader is the column list of the CSV format, in order. Columns are
// only ever appended, so that readers by position keep working: the face
// quality columns (size_px .. roll) and the face's flags (codes joined by
// ";") came after the estimates, then a stimulus study's placement of the
// frame (stimulus id and the time in it; empty outside studies).
var CSVHeader = []string{"t", "track", "x", "y", "w", "h", "score",
	"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral",
	"dominant", "valence", "age", "woman", "man",
	"size_px", "brightness", "sharpness", "yaw", "roll", "flags", "stimulus", "stimulus_t"}

// Indexes of CSVHeader columns that CSVRows fills by position.
const (
	colEmotions = 7
	colDominant = 14
	colValence  = 15
	colAge      = 16
	colWoman    = 17
	colMan      = 18
	colSize     = 19
	colBright   = 20
	colSharp    = 21
	colYaw      = 22
	colRoll     = 23
	colFlags    = 24
	colStimulus = 25
	colStimT    = 26
)

// CSVRows returns the rows of one frame: one per face, or one with only t
// filled for a frame without a face. The estimates of a face not described
// are empty cells, never zeros.
func CSVRows(f facet.Frame) [][]string {
	t := num(f.T)
	placed := func(row []string) []string {
		row[colStimulus], row[colStimT] = f.Stimulus, numPtr(f.StimulusT)
		return row
	}
	if len(f.Faces) == 0 {
		row := make([]string, len(CSVHeader))
		row[0] = t
		return [][]string{placed(row)}
	}
	rows := make([][]string, 0, len(f.Faces))
	for _, fc := range f.Faces {
		row := make([]string, len(CSVHeader))
		copy(row, []string{t, strconv.Itoa(fc.Track), num(fc.Box[0]), num(fc.Box[1]), num(fc.Box[2]), num(fc.Box[3]), num(fc.Score)})
		if fc.Emotions != nil {
			for i, p := range fc.Emotions {
				row[colEmotions+i] = facet.FormatFloat(p, 4)
			}
		}
		if fc.Dominant != nil {
			row[colDominant] = *fc.Dominant
		}
		row[colValence], row[colAge] = numPtr(fc.Valence), numPtr(fc.Age)
		if fc.Gender != nil {
			row[colWoman], row[colMan] = num(fc.Gender.Woman), num(fc.Gender.Man)
		}
		if q := fc.Quality; q != nil {
			row[colSize], row[colBright], row[colSharp] = num(q.SizePx), num(q.Brightness), num(q.Sharpness)
			row[colYaw], row[colRoll] = numPtr(q.Yaw), numPtr(q.Roll)
		}
		row[colFlags] = strings.Join(fc.Flags, ";")
		rows = append(rows, placed(row))
	}
	return rows
}

// num formats a figure as the JSON does: at most 4 decimals.
func num(n facet.Num) string { return facet.FormatFloat(float64(n), 4) }

// numPtr formats a nullable figure; null is an empty cell.
func numPtr(n *facet.Num) string {
	if n == nil {
		return ""
	}
	return num(*n)
}

// WriteText writes a short human summary of res.
func WriteText(w io.Writer, name string, res *facet.Result) error {
	v, s := res.Video, res.Summary
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %.1f s, %dx%d %s", name, float64(v.DurationS), v.Width, v.Height, v.Codec)
	if v.FPS > 0 {
		fmt.Fprintf(&b, " at %.4g fps", float64(v.FPS))
	}
	rate := "every frame"
	if res.Settings.SampleFPS > 0 {
		rate = fmt.Sprintf("%.4g fps", res.Settings.SampleFPS)
	}
	fmt.Fprintf(&b, "\nanalysed %d frames (%s) with the %q models in %.1f s", s.Frames, rate, res.Settings.Models, float64(s.WallS))
	if s.WallS > 0 && v.DurationS > 0 {
		fmt.Fprintf(&b, " (%.1fx realtime)", float64(v.DurationS/s.WallS))
	}
	fmt.Fprintf(&b, "\nface found in %d of %d frames (%.0f%%)\n", s.FramesWithFace, s.Frames, 100*float64(s.FaceRatio))
	if slices.Contains(res.Warnings, facet.WarnTruncated) {
		b.WriteString("caution:          the file ends before its stated length (cut short?): the figures cover the part that could be decoded\n")
	}
	if s.Quality != nil {
		fmt.Fprintf(&b, "quality:          %s\n", qualityLine(s.Quality))
		for _, f := range s.Quality.Flags {
			fmt.Fprintf(&b, "caution:          %s\n", analysis.FlagText(f))
		}
	}
	if s.ValenceMean == nil {
		if s.FramesWithFace > 0 {
			b.WriteString("no face could be described: no expression, age or gender estimates\n")
		} else {
			b.WriteString("no face: no expression, age or gender estimates\n")
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
	if res.Settings.SmoothS > 0 {
		fmt.Fprintf(&b, "emotions smoothed over %.4g s per face\n", res.Settings.SmoothS)
	}
	b.WriteString("dominant emotion: ")
	b.WriteString(shares(s.Dominant))
	b.WriteString("\nmean emotion:     ")
	b.WriteString(shares(s.Emotions.Mean))
	fmt.Fprintf(&b, "\nvalence (mean):   %+.2f (-1 negative .. +1 positive)\n", float64(*s.ValenceMean))
	if s.Age != nil {
		fmt.Fprintf(&b, "age estimate:     %s\n", ageLine(s.Age))
	}
	if s.Gender != nil {
		fmt.Fprintf(&b, "gender estimate:  %s\n", genderLine(s.Gender))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// qualityLine is the recording's quality figures in one line of words.
func qualityLine(q *facet.RecordingQuality) string {
	parts := []string{fmt.Sprintf("a described face in %.0f%% of frames", 100*float64(q.DescribedRatio))}
	if q.FaceSizePx != nil {
		parts = append(parts, fmt.Sprintf("median face %.0f px", float64(*q.FaceSizePx)))
	}
	if q.Brightness != nil {
		parts = append(parts, fmt.Sprintf("brightness %.0f of 255", float64(*q.Brightness)))
	}
	if q.Sharpness != nil {
		parts = append(parts, fmt.Sprintf("sharpness %.0f", float64(*q.Sharpness)))
	}
	if q.TurnedAway != nil {
		parts = append(parts, fmt.Sprintf("turned away in %.0f%% of faces", 100*float64(*q.TurnedAway)))
	}
	if q.Flagged != nil && *q.Flagged > 0 {
		parts = append(parts, fmt.Sprintf("%.0f%% of faces too small or dark to describe", 100*float64(*q.Flagged)))
	}
	return strings.Join(parts, "; ")
}

// ageLine states the age estimate with its interval and its basis.
func ageLine(a *facet.AgeSummary) string {
	return fmt.Sprintf("%.0f (middle 80%% of frames %.0f to %.0f, %d faces)", float64(a.Median), float64(a.P10), float64(a.P90), a.N)
}

// genderLine states the gender estimate, or that there is none to state.
func genderLine(g *facet.GenderSummary) string {
	if g.Label == facet.GenderUncertain {
		return fmt.Sprintf("uncertain (the likelier side only %.2f, %d faces)", float64(g.Confidence), g.N)
	}
	return fmt.Sprintf("%s (%.2f, %d faces)", g.Label, float64(g.Confidence), g.N)
}

// shares lists the non-zero labels of e, largest first, as percentages.
func shares(e facet.Emotions) string {
	idx := []int{0, 1, 2, 3, 4, 5, 6}
	sort.SliceStable(idx, func(a, b int) bool { return e[idx[a]] > e[idx[b]] })
	var parts []string
	for _, i := range idx {
		if pct := 100 * e[i]; pct >= 0.5 {
			parts = append(parts, fmt.Sprintf("%s %.0f%%", facet.EmotionLabels[i], pct))
		}
	}
	return strings.Join(parts, ", ")
}
