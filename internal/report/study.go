package report

import (
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/stimstats"
)

// Study is what the report shows of a stimulus study: one section per
// ready stimulus of the design, in the design's order, then the A/B
// comparison of the first two.
type Study struct {
	Stimuli []StimulusSection
	AB      *ABSection // nil with fewer than two ready stimuli
}

// StimulusSection is one stimulus and its results over stimulus time.
type StimulusSection struct {
	ID           string
	Name         string
	Kind         facet.StimulusKind
	LengthS      float64
	BinS         float64
	Participants int // recordings with a frame on the stimulus
	// Thumbnails are the JPEG frames of the stimulus's strip, spread
	// evenly over its length (the middles of equal parts); a nil entry is
	// a frame that could not be read, whose place stays empty.
	Thumbnails [][]byte
	// Aspect is the stimulus's height over its width (0: 9/16).
	Aspect   float64
	Bins     []stimstats.Bin
	Segments []stimstats.SegmentResult
}

// ABSection is the A/B comparison of two stimuli: A minus B.
type ABSection struct {
	A, B   string // the stimuli's names
	Result stimstats.Comparison
}

// WriteStudy writes the study's sections. The charts are inline SVG and
// the thumbnails data: URIs, so the page stays self-contained (its CSP
// allows img-src data: and nothing else).
func WriteStudy(w io.Writer, s Study) error {
	v := studyView{}
	for i := range s.Stimuli {
		v.Stimuli = append(v.Stimuli, stimulusView(&s.Stimuli[i]))
	}
	if s.AB != nil {
		v.AB = abView(s.AB)
	}
	return page.ExecuteTemplate(w, "study", v)
}

type studyView struct {
	Stimuli []stimView
	AB      *abSectionView
}

type stimView struct {
	ID, Name     string
	Kind         facet.StimulusKind
	Length       string
	BinS         string
	Participants int
	Strip        template.HTML
	Valence      template.HTML
	Emotions     []template.HTML
	Segments     []segmentRow
}

type segmentRow struct {
	Name, Span, Valence, Dominant string
	N                             int
}

type abSectionView struct {
	A, B, Method string
	Charts       []template.HTML
}

// stimulusView draws one stimulus's charts.
func stimulusView(s *StimulusSection) stimView {
	v := stimView{ID: s.ID, Name: s.Name, Kind: s.Kind, Length: fmt.Sprintf("%.1f s", s.LengthS),
		BinS: fmt.Sprintf("%g s", s.BinS), Participants: s.Participants}
	v.Strip = stripChart(s)
	if s.Participants == 0 {
		return v
	}
	v.Valence = bandChart("Valence over stimulus time (mean, 95 % band): "+s.Name, wideFrame(s.LengthS, -1, 1), s,
		func(b *stimstats.Bin) stimstats.Estimate { return b.Valence }, "#333", "valence")
	for i, l := range facet.EmotionLabels {
		v.Emotions = append(v.Emotions, bandChart(l, smallFrame(s.LengthS), s,
			func(b *stimstats.Bin) stimstats.Estimate { return b.Emotions[i] }, emotionColors[i], l))
	}
	for _, g := range s.Segments {
		row := segmentRow{Name: g.Name, Span: fmt.Sprintf("%.1f to %.1f s", float64(g.FromS), float64(g.ToS)), N: g.N,
			Valence: estimateText(g.Valence), Dominant: "none"}
		if g.Dominant != nil {
			d := g.Dominant.Dominant()
			row.Dominant = fmt.Sprintf("%s (%.0f%% of participants)", facet.EmotionLabels[d], 100*g.Dominant[d])
		}
		v.Segments = append(v.Segments, row)
	}
	return v
}

// estimateText is "+0.12 (-0.05 to +0.29)", the mean alone without a
// band, or "no face" without a mean.
func estimateText(e stimstats.Estimate) string {
	switch {
	case e.Mean == nil:
		return "no face"
	case e.Lower == nil || e.Upper == nil:
		return fmt.Sprintf("%+.2f", float64(*e.Mean))
	}
	return fmt.Sprintf("%+.2f (%+.2f to %+.2f)", float64(*e.Mean), float64(*e.Lower), float64(*e.Upper))
}

// plotFrame is a chart's drawing area: stimulus seconds [0, xmax] along
// x, values [lo, hi] along y.
type plotFrame struct {
	w, h                     float64 // the viewBox
	left, right, top, bottom float64 // margins
	xmax, lo, hi             float64
}

func wideFrame(lengthS, lo, hi float64) plotFrame {
	return plotFrame{w: 640, h: 180, left: 30, right: 5, top: 16, bottom: 22, xmax: lengthS, lo: lo, hi: hi}
}

func smallFrame(lengthS float64) plotFrame {
	return plotFrame{w: 320, h: 130, left: 26, right: 5, top: 16, bottom: 20, xmax: lengthS, lo: 0, hi: 1}
}

func (f plotFrame) x(t float64) float64 {
	xmax := f.xmax
	if xmax <= 0 {
		xmax = 1
	}
	return f.left + min(max(t, 0), xmax)/xmax*(f.w-f.left-f.right)
}

func (f plotFrame) y(v float64) float64 {
	return f.h - f.bottom - (min(max(v, f.lo), f.hi)-f.lo)/(f.hi-f.lo)*(f.h-f.top-f.bottom)
}

// open starts a chart: the svg, its title, the axes and the segments
// shaded (and named when label).
func (f plotFrame) open(b *strings.Builder, title string, segs []stimstats.SegmentResult, label bool) {
	t := template.HTMLEscapeString(title)
	fmt.Fprintf(b, `<svg class="chart" viewBox="0 0 %g %g" role="img" aria-label="%s"><title>%s</title>`, f.w, f.h, t, t)
	for _, g := range segs {
		x0, x1 := f.x(float64(g.FromS)), f.x(float64(g.ToS))
		fmt.Fprintf(b, `<rect class="segment" x="%.1f" y="%g" width="%.1f" height="%g" fill="#000" fill-opacity="0.07"/>`,
			x0, f.top, max(x1-x0, 0.5), f.h-f.top-f.bottom)
		if label {
			fmt.Fprintf(b, `<text class="segment-label" x="%.1f" y="%g" font-size="10">%s</text>`, x0+2, f.top-4, template.HTMLEscapeString(g.Name))
		}
	}
	base := f.h - f.bottom
	fmt.Fprintf(b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#999"/>`, f.left, base, f.w-f.right, base)
	if f.lo < 0 {
		y0 := f.y(0)
		fmt.Fprintf(b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#ccc" stroke-dasharray="4 3"/>`, f.left, y0, f.w-f.right, y0)
	}
	fmt.Fprintf(b, `<text x="2" y="%g" font-size="10">%g</text><text x="2" y="%g" font-size="10">%g</text>`, f.top+8, f.hi, base, f.lo)
	fmt.Fprintf(b, `<text x="%g" y="%g" font-size="10">0 s</text><text x="%g" y="%g" font-size="10" text-anchor="end">%.1f s</text>`,
		f.left, f.h-6, f.w-f.right, f.h-6, f.xmax)
}

// runs calls fn for each run of consecutive bins for which ok holds.
func runs(bins []stimstats.Bin, ok func(*stimstats.Bin) bool, fn func(run []stimstats.Bin)) {
	start := -1
	for i := range bins {
		switch {
		case ok(&bins[i]) && start < 0:
			start = i
		case !ok(&bins[i]) && start >= 0:
			fn(bins[start:i])
			start = -1
		}
	}
	if start >= 0 {
		fn(bins[start:])
	}
}

// runTimes are the times a run's values are drawn at: the bins' middles,
// or, for a run of one bin, its start and end, so that it shows.
func runTimes(run []stimstats.Bin) []float64 {
	if len(run) == 1 {
		return []float64{float64(run[0].StartS), float64(run[0].EndS)}
	}
	ts := make([]float64, len(run))
	for i, b := range run {
		ts[i] = (float64(b.StartS) + float64(b.EndS)) / 2
	}
	return ts
}

// bandChart draws one figure over the stimulus's bins: the 95 % band
// shaded (one path, a closed piece per run of bins with an interval) and
// the mean (one path, a piece per run of bins with a mean); a bin without
// a face, or with one participant (no interval), breaks them.
func bandChart(title string, f plotFrame, s *StimulusSection, est func(*stimstats.Bin) stimstats.Estimate, color, label string) template.HTML {
	var b strings.Builder
	b.WriteString(`<figure>`)
	if f.w >= 640 {
		fmt.Fprintf(&b, `<figcaption>%s</figcaption>`, template.HTMLEscapeString(title))
	}
	f.open(&b, title, s.Segments, f.w >= 640)
	if f.w < 640 {
		fmt.Fprintf(&b, `<text x="%g" y="10" font-size="11">%s</text>`, f.left, template.HTMLEscapeString(title))
	}
	var band, mean []string
	runs(s.Bins, func(bn *stimstats.Bin) bool { e := est(bn); return e.Lower != nil && e.Upper != nil }, func(run []stimstats.Bin) {
		ts := runTimes(run)
		val := func(i int, upper bool) float64 {
			e := est(&run[min(i, len(run)-1)])
			if upper {
				return float64(*e.Upper)
			}
			return float64(*e.Lower)
		}
		var pts []string
		for i, t := range ts {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", f.x(t), f.y(val(i, true))))
		}
		for i := len(ts) - 1; i >= 0; i-- {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", f.x(ts[i]), f.y(val(i, false))))
		}
		band = append(band, "M"+strings.Join(pts, " L")+" Z")
	})
	runs(s.Bins, func(bn *stimstats.Bin) bool { return est(bn).Mean != nil }, func(run []stimstats.Bin) {
		var pts []string
		for i, t := range runTimes(run) {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", f.x(t), f.y(float64(*est(&run[min(i, len(run)-1)]).Mean))))
		}
		mean = append(mean, "M"+strings.Join(pts, " L"))
	})
	fmt.Fprintf(&b, `<path class="band" data-label="%s" fill="%s" fill-opacity="0.2" stroke="none" d="%s"/>`, label, color, strings.Join(band, " "))
	fmt.Fprintf(&b, `<path class="mean" data-label="%s" fill="none" stroke="%s" stroke-width="1.5" stroke-linecap="round" d="%s"/>`, label, color, strings.Join(mean, " "))
	b.WriteString(`</svg></figure>`)
	return template.HTML(b.String())
}

// stripChart draws the thumbnail strip along the stimulus's time axis,
// the segments shaded and named, and under it N per bin: the
// participants with a described face (the N of every band) as a line,
// those with any frame as a dotted one.
func stripChart(s *StimulusSection) template.HTML {
	f := wideFrame(s.LengthS, 0, 1)
	n := len(s.Thumbnails)
	aspect := s.Aspect
	if !(aspect > 0) || aspect > 4 {
		aspect = 9.0 / 16
	}
	slot := (f.w - f.left - f.right) / float64(max(n, 1))
	thumbW := min(slot-2, float64(facet.StimulusThumbWidth))
	thumbH := min(thumbW*aspect, 90)
	thumbW = thumbH / aspect
	const nH = 44
	f.top = 2 + thumbH + 16 // the segments' names between strip and N
	f.h = f.top + nH + f.bottom
	maxN := 1
	for _, bn := range s.Bins {
		maxN = max(maxN, bn.NAll)
	}
	f.lo, f.hi = 0, float64(maxN)
	title := fmt.Sprintf("%s: thumbnails and N per bin of %g s", s.Name, s.BinS)
	var b strings.Builder
	fmt.Fprintf(&b, `<figure><figcaption>%s</figcaption>`, template.HTMLEscapeString(title))
	f.open(&b, title, s.Segments, true)
	f.top += 4 // the largest N a little under the top
	for i, jpg := range s.Thumbnails {
		if len(jpg) == 0 {
			continue
		}
		x := f.left + float64(i)*slot + (slot-thumbW)/2
		if n == 1 {
			x = f.left // an image: its one frame at the start, not stretched
		}
		fmt.Fprintf(&b, `<image class="thumb" x="%.1f" y="2" width="%.1f" height="%.1f" preserveAspectRatio="xMidYMid meet" href="data:image/jpeg;base64,%s"/>`,
			x, thumbW, thumbH, base64.StdEncoding.EncodeToString(jpg))
	}
	var nLine, allLine []string
	for _, bn := range s.Bins {
		x0, x1 := f.x(float64(bn.StartS)), f.x(float64(bn.EndS))
		nLine = append(nLine, fmt.Sprintf("%.1f,%.1f %.1f,%.1f", x0, f.y(float64(bn.N)), x1, f.y(float64(bn.N))))
		allLine = append(allLine, fmt.Sprintf("%.1f,%.1f %.1f,%.1f", x0, f.y(float64(bn.NAll)), x1, f.y(float64(bn.NAll))))
	}
	if len(nLine) > 0 {
		fmt.Fprintf(&b, `<polyline class="nall" fill="none" stroke="#999" stroke-width="1" stroke-dasharray="2 2" points="%s"/>`, strings.Join(allLine, " "))
		fmt.Fprintf(&b, `<polyline class="n" fill="none" stroke="#5b6b8c" stroke-width="1" points="%s"/>`, strings.Join(nLine, " "))
	}
	fmt.Fprintf(&b, `<text x="2" y="%.1f" font-size="10">N</text>`, f.top+nH/2+4)
	b.WriteString(`</svg></figure>`)
	return template.HTML(b.String())
}

// abView draws the comparison: one dot-and-whisker chart for the whole
// stimulus and one per segment, on one scale so that they compare.
func abView(ab *ABSection) *abSectionView {
	r := ab.Result
	v := &abSectionView{A: ab.A, B: ab.B, Method: "Welch's interval (different participants)"}
	if r.Method == stimstats.MethodPaired {
		v.Method = "paired (the same participants saw both)"
	}
	m := 0.0
	grow := func(c stimstats.Contrast) {
		for _, d := range append(c.Emotions[:], c.Valence) {
			for _, p := range []*facet.Num{d.Diff, d.Lower, d.Upper} {
				if p != nil {
					m = max(m, math.Abs(float64(*p)))
				}
			}
		}
	}
	grow(r.Whole)
	for _, s := range r.Segments {
		grow(s.Contrast)
	}
	m = min(math.Ceil(max(m, 0.05)*20-1e-9)/20, 2) // a multiple of 0.05
	wholeTo := 0.0
	if n := len(r.Bins); n > 0 {
		wholeTo = float64(r.Bins[n-1].EndS)
	}
	v.Charts = append(v.Charts, whiskerChart(fmt.Sprintf("Whole stimulus (0 to %.1f s)", wholeTo), r.Whole, m))
	for _, s := range r.Segments {
		v.Charts = append(v.Charts, whiskerChart(fmt.Sprintf("Segment %s (%.1f to %.1f s)", s.Name, float64(s.FromS), float64(s.ToS)), s.Contrast, m))
	}
	return v
}

// whiskerChart draws A minus B of each emotion and of valence: the
// difference as a dot, its 95 % interval as a whisker; a filled dot and
// "excludes 0" where the interval does not hold 0.
func whiskerChart(title string, c stimstats.Contrast, m float64) template.HTML {
	const w, rowH, x0, x1 = 640.0, 22.0, 80.0, 390.0
	labels := append(facet.EmotionLabels[:], "valence")
	diffs := append(c.Emotions[:], c.Valence)
	h := rowH*float64(len(labels)) + 30
	x := func(d float64) float64 { return x0 + (min(max(d, -m), m)+m)/(2*m)*(x1-x0) }
	n := fmt.Sprintf("N %d (A) and %d (B)", c.NA, c.NB)
	if c.Pairs != nil {
		n = fmt.Sprintf("%d pairs", *c.Pairs)
	}
	full := title + ", A minus B: " + n
	t := template.HTMLEscapeString(full)
	var b strings.Builder
	fmt.Fprintf(&b, `<figure><figcaption>%s</figcaption><svg class="chart" viewBox="0 0 %g %g" role="img" aria-label="%s"><title>%s</title>`, t, w, h, t, t)
	fmt.Fprintf(&b, `<line x1="%.1f" y1="4" x2="%.1f" y2="%g" stroke="#bbb" stroke-dasharray="4 3"/>`, x(0), x(0), h-24)
	fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#999"/>`, x0, h-24, x1, h-24)
	fmt.Fprintf(&b, `<text x="%g" y="%g" font-size="10" text-anchor="middle">%+g</text><text x="%.1f" y="%g" font-size="10" text-anchor="middle">0</text><text x="%g" y="%g" font-size="10" text-anchor="middle">%+g</text>`,
		x0, h-10, -m, x(0), h-10, x1, h-10, m)
	for i, l := range labels {
		y := 4 + float64(i)*rowH + rowH/2
		color := "#333"
		if i < len(emotionColors) {
			color = emotionColors[i]
		}
		fmt.Fprintf(&b, `<text x="0" y="%.0f" font-size="12">%s</text>`, y+4, l)
		d := diffs[i]
		if d.Diff == nil {
			fmt.Fprintf(&b, `<text class="none" x="%g" y="%.0f" font-size="11" fill="#777">no face on one side</text>`, x1+10, y+4)
			continue
		}
		if d.Lower != nil && d.Upper != nil {
			fmt.Fprintf(&b, `<line class="whisker" data-label="%s" x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="%s" stroke-width="2"/>`,
				l, x(float64(*d.Lower)), y, x(float64(*d.Upper)), y, color)
		}
		differs := d.Differs != nil && *d.Differs
		fill, class := "#fff", "dot"
		if differs {
			fill, class = color, "dot differs"
		}
		fmt.Fprintf(&b, `<circle class="%s" data-label="%s" cx="%.1f" cy="%.0f" r="4.5" fill="%s" stroke="%s" stroke-width="1.5"/>`,
			class, l, x(float64(*d.Diff)), y, fill, color)
		text := fmt.Sprintf("%+.3f", float64(*d.Diff))
		if d.Lower != nil && d.Upper != nil {
			text += fmt.Sprintf(" (%+.3f to %+.3f)", float64(*d.Lower), float64(*d.Upper))
		}
		fmt.Fprintf(&b, `<text x="%g" y="%.0f" font-size="11">%s</text>`, x1+10, y+4, text)
		if differs {
			fmt.Fprintf(&b, `<text class="excludes" x="%g" y="%.0f" font-size="11" font-weight="700" text-anchor="end">excludes 0</text>`, w-2, y+4)
		}
	}
	b.WriteString(`</svg></figure>`)
	return template.HTML(b.String())
}

// StimulusCSVHeader is the column list of a stimulus's per-bin CSV
// (GET /api/projects/{id}/stimuli/{stimulusId}/results.csv): the bin, its
// Ns, each emotion's and valence's mean with its 95 % band, the share of
// participants per dominant emotion, and the face and attention shares
// with their bands. Names follow the JSON results' fields.
var StimulusCSVHeader = stimulusCSVHeader()

func stimulusCSVHeader() []string {
	h := []string{"startS", "endS", "n", "nAll"}
	est := func(name string) {
		h = append(h, name+"_mean", name+"_lower", name+"_upper")
	}
	for _, l := range facet.EmotionLabels {
		est(l)
	}
	est("valence")
	for _, l := range facet.EmotionLabels {
		h = append(h, "dominant_"+l)
	}
	est("faceShare")
	est("attentionShare")
	return h
}

// StimulusCSVRow returns the row of one bin, in StimulusCSVHeader's
// order; a null figure is an empty cell, never a zero.
func StimulusCSVRow(b stimstats.Bin) []string {
	row := make([]string, 0, len(StimulusCSVHeader))
	row = append(row, num(b.StartS), num(b.EndS), fmt.Sprint(b.N), fmt.Sprint(b.NAll))
	est := func(e stimstats.Estimate) {
		row = append(row, numPtr(e.Mean), numPtr(e.Lower), numPtr(e.Upper))
	}
	for _, e := range b.Emotions {
		est(e)
	}
	est(b.Valence)
	for i := range facet.EmotionLabels {
		if b.Dominant == nil {
			row = append(row, "")
		} else {
			row = append(row, facet.FormatFloat(b.Dominant[i], 4))
		}
	}
	est(b.FaceShare)
	est(b.AttentionShare)
	return row
}
