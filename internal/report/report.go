// Package report writes analysis results for people and programs: the
// JSON contract, CSV rows and a short text summary. Writers stream where
// the format allows, so exports of long videos or many recordings do not
// build whole documents in memory.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/humaninsight/facet"
)

// WriteJSON writes res as indented JSON.
func WriteJSON(w io.Writer, res *facet.Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

// CSVHeader is the column list of the CSV format, in order.
var CSVHeader = []string{"t", "track", "x", "y", "w", "h", "score",
	"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral",
	"dominant", "valence", "age", "woman", "man"}

// CSVRows returns the rows of one frame: one per face, or one with only t
// filled for a frame without a face.
func CSVRows(f facet.Frame) [][]string {
	num := func(n facet.Num) string { return facet.FormatFloat(float64(n), 4) }
	t := num(f.T)
	if len(f.Faces) == 0 {
		row := make([]string, len(CSVHeader))
		row[0] = t
		return [][]string{row}
	}
	rows := make([][]string, 0, len(f.Faces))
	for _, fc := range f.Faces {
		row := []string{t, strconv.Itoa(fc.Track),
			num(fc.Box[0]), num(fc.Box[1]), num(fc.Box[2]), num(fc.Box[3]), num(fc.Score)}
		for _, p := range fc.Emotions {
			row = append(row, facet.FormatFloat(p, 4))
		}
		row = append(row, fc.Dominant, num(fc.Valence), "", "", "")
		if fc.Age != nil {
			row[16] = num(*fc.Age)
		}
		if fc.Gender != nil {
			row[17], row[18] = num(fc.Gender.Woman), num(fc.Gender.Man)
		}
		rows = append(rows, row)
	}
	return rows
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
	if s.ValenceMean == nil {
		b.WriteString("no face: no expression, age or gender estimates\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	b.WriteString("dominant emotion: ")
	b.WriteString(shares(s.Dominant))
	b.WriteString("\nmean emotion:     ")
	b.WriteString(shares(s.Emotions.Mean))
	fmt.Fprintf(&b, "\nvalence (mean):   %+.2f (-1 negative .. +1 positive)\n", float64(*s.ValenceMean))
	if s.Age != nil {
		fmt.Fprintf(&b, "age estimate:     %.0f (p10 %.0f, p90 %.0f)\n", float64(s.Age.Median), float64(s.Age.P10), float64(s.Age.P90))
	}
	if s.Gender != nil {
		fmt.Fprintf(&b, "gender estimate:  %s (%.2f)\n", s.Gender.Label, float64(s.Gender.Confidence))
	}
	_, err := io.WriteString(w, b.String())
	return err
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
