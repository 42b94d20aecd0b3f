package eval

import (
	"fmt"
	"io"
	"strings"

	"github.com/humaninsight/facet"
)

// WriteText writes r as tables for a person. Undefined figures (a recall
// over no file) print as "-" rather than 0, which would read as a result.
func WriteText(w io.Writer, r *Report) error {
	var b strings.Builder
	rate := "every frame"
	if r.SampleFPS > 0 {
		rate = fmt.Sprintf("%g fps", r.SampleFPS)
	}
	smooth := "raw scores"
	if r.SmoothS > 0 {
		smooth = fmt.Sprintf("smoothed over %g s", r.SmoothS)
	}
	fmt.Fprintf(&b, "facet eval: %s with the %q models (videos at %s, %s)\n", r.Manifest, r.Models, rate, smooth)
	fmt.Fprintf(&b, "rows: %d in the manifest, %d skipped; files: %d read, %d failed\n", r.Files.Rows, r.Files.BadRows, r.Files.Read, r.Files.Failed)
	writeProblems(&b, r)
	writeFaces(&b, r.Faces)
	writeEmotions(&b, r.Emotion)
	writeGenders(&b, r.Gender)
	writeAges(&b, r.Age)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeProblems(b *strings.Builder, r *Report) {
	if len(r.BadRows) > 0 {
		b.WriteString("\nskipped rows:\n")
		for _, p := range r.BadRows {
			fmt.Fprintf(b, "  row %d  %s: %s\n", p.Row, orNone(p.Path), p.Reason)
		}
	}
	if len(r.Failed) > 0 {
		b.WriteString("\nfailed files:\n")
		for _, f := range r.Failed {
			fmt.Fprintf(b, "  row %d  %s: %s (%s)\n", f.Row, f.Path, f.Reason, f.Code)
		}
	}
	if len(r.UnknownLabels) > 0 {
		b.WriteString("\nunknown labels (left out of that figure; the row counts for its other labels):\n")
		for _, u := range r.UnknownLabels {
			fmt.Fprintf(b, "  %-7s %-12q %d %s (%s)\n", u.Column, u.Label, u.Count, plural(u.Count, "row"), rowList(u.Rows))
		}
	}
}

func writeFaces(b *strings.Builder, f FaceFigures) {
	fmt.Fprintf(b, "\nfaces: found in %d of %d files (%s)", f.WithFace, f.Files, pct(f.Rate))
	if f.Videos > 0 {
		fmt.Fprintf(b, "; %d %s, mean share of frames with a face %s", f.Videos, plural(f.Videos, "video"), pct(f.VideoFaceRatioMean))
	}
	b.WriteString("\n")
}

func writeEmotions(b *strings.Builder, e EmotionFigures) {
	if e.N == 0 {
		b.WriteString("\nemotion: no file with a known emotion\n")
		return
	}
	fmt.Fprintf(b, "\nemotion: %d %s with a known emotion (rows true, columns predicted)\n", e.N, plural(e.N, "file"))
	fmt.Fprintf(b, "  %-9s", "")
	for _, c := range e.Columns {
		fmt.Fprintf(b, " %8s", c)
	}
	fmt.Fprintf(b, " %8s\n", "recall")
	for i, c := range e.Classes {
		fmt.Fprintf(b, "  %-9s", c.Label)
		for _, n := range e.Confusion[i] {
			fmt.Fprintf(b, " %8d", n)
		}
		fmt.Fprintf(b, " %8s\n", pct(c.Recall))
	}
	present := 0
	for _, c := range e.Classes {
		if c.N > 0 {
			present++
		}
	}
	fmt.Fprintf(b, "  balanced accuracy %s (mean recall over %d %s present), accuracy %s (%d of %d)\n",
		pct(e.BalancedAccuracy), present, plural(present, "class"), pct(e.Accuracy), e.Hits, e.N)
}

func writeGenders(b *strings.Builder, g GenderFigures) {
	if g.Overall.N == 0 {
		b.WriteString("\ngender: no file with a known gender\n")
		return
	}
	fmt.Fprintf(b, "\ngender: %d %s with a known gender (uncertain counts as not right)\n", g.Overall.N, plural(g.Overall.N, "file"))
	fmt.Fprintf(b, "  %-6s %5s %6s %6s %10s %8s %12s %9s\n", "truth", "n", "right", "wrong", "uncertain", "no face", "no estimate", "accuracy")
	for _, c := range append(g.ByTruth, g.Overall) {
		fmt.Fprintf(b, "  %-6s %5d %6d %6d %10d %8d %12d %9s\n", c.Truth, c.N, c.Right, c.Wrong, c.Uncertain, c.NoFace, c.NoEstimate, pct(c.Accuracy))
	}
}

func writeAges(b *strings.Builder, a AgeFigures) {
	if a.Labelled == 0 {
		b.WriteString("\nage: no file with a known age\n")
		return
	}
	fmt.Fprintf(b, "\nage: %d %s with a known age, %d with an estimate, %d without\n", a.Labelled, plural(a.Labelled, "file"), a.N, a.NoEstimate)
	fmt.Fprintf(b, "  %-6s %5s %12s %13s\n", "band", "n", "MAE (years)", "bias (years)")
	for _, band := range a.Bands {
		fmt.Fprintf(b, "  %-6s %5d %12s %13s\n", band.Band, band.N, years(band.MAE, false), years(band.Bias, true))
	}
	fmt.Fprintf(b, "  %-6s %5d %12s %13s\n", "all", a.N, years(a.MAE, false), years(a.Bias, true))
	r := "- (needs two pairs or more, and ages that vary)"
	if a.PearsonR != nil {
		// Two pairs always correlate perfectly: the count says how much
		// the figure can mean.
		r = fmt.Sprintf("%.2f over %d pairs", float64(*a.PearsonR), a.N)
	}
	fmt.Fprintf(b, "  Pearson r of estimated and true age: %s\n", r)
}

func pct(n *facet.Num) string {
	if n == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(*n))
}

func years(n *facet.Num, signed bool) string {
	switch {
	case n == nil:
		return "-"
	case signed:
		return fmt.Sprintf("%+.1f", float64(*n))
	}
	return fmt.Sprintf("%.1f", float64(*n))
}

func plural(n int, word string) string {
	switch {
	case n == 1:
		return word
	case strings.HasSuffix(word, "s"):
		return word + "es"
	}
	return word + "s"
}

func orNone(s string) string {
	if s == "" {
		return "(no path)"
	}
	return s
}

// rowList names the rows, up to ten: a label misspelt in a thousand rows
// needs its first rows to be found, not a screenful of numbers.
func rowList(rows []int) string {
	const most = 10
	var parts []string
	for i, r := range rows {
		if i == most {
			parts = append(parts, fmt.Sprintf("and %d more", len(rows)-most))
			break
		}
		parts = append(parts, fmt.Sprint(r))
	}
	return plural(len(rows), "row") + " " + strings.Join(parts, ", ")
}
