package report

import (
	"cmp"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/analysis"
)

// Series is one recording's timeline reduced to one point per bin
// (seconds): the mean of each emotion and of valence over the faces seen
// in that bin. Built while frames stream, so a report never holds a
// recording's full timeline.
type Series struct {
	ID      string
	Summary facet.Summary
	BinS    float64
	emo     [][7]float64
	val     []float64
	n       []int
}

// NewSeries starts a series with bins of binS seconds (0 = 1 s).
func NewSeries(id string, binS float64) *Series {
	if binS <= 0 {
		binS = 1
	}
	return &Series{ID: id, BinS: binS}
}

// Add folds one frame into the series. Faces not described are left out:
// they have no emotions to average, and counting them as zeros would pull
// every line down.
func (s *Series) Add(f facet.Frame) {
	b := int(float64(f.T) / s.BinS)
	for _, fc := range f.Faces {
		if !fc.Described() {
			continue
		}
		for len(s.n) <= b {
			s.emo = append(s.emo, [7]float64{})
			s.val = append(s.val, 0)
			s.n = append(s.n, 0)
		}
		for i, p := range fc.Emotions {
			s.emo[b][i] += p
		}
		if fc.Valence != nil {
			s.val[b] += float64(*fc.Valence)
		} else {
			s.val[b] += fc.Emotions.Valence()
		}
		s.n[b]++
	}
}

// point returns bin b's mean emotions and valence, ok false when empty.
func (s *Series) point(b int) ([7]float64, float64, bool) {
	if b >= len(s.n) || s.n[b] == 0 {
		return [7]float64{}, 0, false
	}
	var e [7]float64
	for i := range e {
		e[i] = s.emo[b][i] / float64(s.n[b])
	}
	return e, s.val[b] / float64(s.n[b]), true
}

// Colors of the seven emotions, in EmotionLabels order (colour-blind safe).
var emotionColors = [7]string{"#d62728", "#8c564b", "#9467bd", "#2ca02c", "#1f77b4", "#ff7f0e", "#7f7f7f"}

// MinGroupForDemographics is the fewest recordings for which age and
// gender distributions are shown, so that no participant is singled out.
const MinGroupForDemographics = 5

// lineChart draws series of (x, y) points as an inline SVG; y in [lo, hi].
func lineChart(title string, xmax, lo, hi float64, lines []chartLine) template.HTML {
	const w, h, pad = 640.0, 200.0, 30.0
	var b strings.Builder
	t := template.HTMLEscapeString(title)
	fmt.Fprintf(&b, `<figure><figcaption>%s</figcaption><svg class="chart" viewBox="0 0 %g %g" role="img" aria-label="%s"><title>%s</title>`, t, w, h, t, t)
	fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#999"/>`, pad, h-pad, w-5, h-pad)
	if lo < 0 {
		y0 := h - pad - (0-lo)/(hi-lo)*(h-2*pad)
		fmt.Fprintf(&b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#ccc" stroke-dasharray="4 3"/>`, pad, y0, w-5, y0)
	}
	fmt.Fprintf(&b, `<text x="2" y="%g" font-size="10">%g</text><text x="2" y="%g" font-size="10">%g</text>`, pad, hi, h-pad, lo)
	fmt.Fprintf(&b, `<text x="%g" y="%g" font-size="10">0 s</text><text x="%g" y="%g" font-size="10" text-anchor="end">%.0f s</text>`, pad, h-8, w-5, h-8, xmax)
	if xmax <= 0 {
		xmax = 1
	}
	for _, l := range lines {
		var pts []string
		for _, p := range l.pts {
			x := pad + p[0]/xmax*(w-pad-5)
			y := h - pad - (math.Min(math.Max(p[1], lo), hi)-lo)/(hi-lo)*(h-2*pad)
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		}
		fmt.Fprintf(&b, `<polyline class="series" data-label="%s" fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`, l.label, l.color, strings.Join(pts, " "))
	}
	b.WriteString(`</svg></figure>`)
	return template.HTML(b.String())
}

type chartLine struct {
	label, color string
	pts          [][2]float64
}

// barChart draws labelled shares (0..1) as horizontal bars, in color, or
// in the emotions' colours when color is "".
func barChart(title string, labels []string, values []float64, color string) template.HTML {
	const w, rowH = 640.0, 22.0
	h := rowH*float64(len(labels)) + 10
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %g %g" role="img" aria-label="%s"><title>%s</title>`, w, h, template.HTMLEscapeString(title), template.HTMLEscapeString(title))
	for i, l := range labels {
		y := 5 + float64(i)*rowH
		fmt.Fprintf(&b, `<text x="0" y="%.0f" font-size="12">%s</text>`, y+14, template.HTMLEscapeString(l))
		fmt.Fprintf(&b, `<rect class="bar" x="110" y="%.0f" width="%.1f" height="16" fill="%s"/>`, y+2, values[i]*(w-170), cmp.Or(color, pickColor(i)))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" font-size="12">%.0f%%</text>`, 115+values[i]*(w-170), y+14, 100*values[i])
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// demographicsColor is one neutral colour for age and gender, so their
// bars are not read as emotions.
const demographicsColor = "#5b6b8c"

func pickColor(i int) string { return emotionColors[i%len(emotionColors)] }

// ReportData is what the report page shows.
type ReportData struct {
	Title      string
	Subtitle   string
	Recordings []*Series
}

// WriteHTML writes one self-contained page (no external scripts, fonts or
// images) for recordings already in memory: `facet analyze --format html`.
// The API streams the same page with Project, WriteHead, WriteRecording
// and WriteEnd.
func WriteHTML(w io.Writer, d ReportData) error {
	p := NewProject()
	for _, s := range d.Recordings {
		p.Add(s)
	}
	if err := WriteHead(w, d.Title, d.Subtitle, p); err != nil {
		return err
	}
	for _, s := range d.Recordings {
		if err := WriteRecording(w, s); err != nil {
			return err
		}
	}
	return WriteEnd(w)
}

// ageBands are the age distribution's bands, by median age per recording.
var ageBands = []string{"under 25", "25-34", "35-44", "45-54", "55 and over"}

// Project accumulates the project-wide figures one recording at a time,
// in memory that grows with the longest recording, not with their number:
// the mean of each emotion over time (the mean, per bin, of the
// recordings' bin means, aligned from their start), dominant-emotion
// shares, mean valence, the share of frames with a face, age bands and
// gender counts (man, woman, uncertain), and the recordings with quality
// flags.
type Project struct {
	Count    int
	binS     float64
	emo      [][7]float64
	k        []int
	dom      [7]float64
	val      float64
	withFace int
	face     float64
	ages     [5]int
	ageN     int
	genders  [3]int // woman, man, uncertain
	genderN  int
	flagged  int
}

// genderLabels are the bars of the gender chart, in Project.genders order.
var genderLabels = []string{facet.GenderWoman, facet.GenderMan, facet.GenderUncertain}

// NewProject starts an empty project.
func NewProject() *Project { return &Project{binS: 1} }

// Add folds one recording's series into the project.
func (p *Project) Add(s *Series) {
	p.Count++
	p.binS = s.BinS
	for b := range s.n {
		e, _, ok := s.point(b)
		if !ok {
			continue
		}
		for len(p.k) <= b {
			p.emo = append(p.emo, [7]float64{})
			p.k = append(p.k, 0)
		}
		for i := range e {
			p.emo[b][i] += e[i]
		}
		p.k[b]++
	}
	sum := s.Summary
	for i := range p.dom {
		p.dom[i] += sum.Dominant[i]
	}
	p.face += float64(sum.FaceRatio)
	if sum.ValenceMean != nil {
		p.val += float64(*sum.ValenceMean)
		p.withFace++
	}
	if sum.Age != nil {
		p.ages[min(max(int((float64(sum.Age.Median)-15)/10), 0), len(ageBands)-1)]++
		p.ageN++
	}
	if sum.Gender != nil {
		p.genderN++
		p.genders[genderIndex(sum.Gender.Label)]++
	}
	if sum.Quality != nil && len(sum.Quality.Flags) > 0 {
		p.flagged++
	}
}

// genderIndex returns label's bar; any label but woman and man counts as
// uncertain, so that no recording is counted for a side it was not given.
func genderIndex(label string) int {
	switch label {
	case facet.GenderWoman:
		return 0
	case facet.GenderMan:
		return 1
	}
	return 2
}

// WriteHead writes the page's start and the project section: everything
// above the recordings. Age and gender are shown only when at least
// MinGroupForDemographics recordings contribute.
func WriteHead(w io.Writer, title, subtitle string, p *Project) error {
	shares := make([]float64, 7)
	for i := range p.dom {
		shares[i] = p.dom[i] / float64(max(p.withFace, 1))
	}
	mean := func(b int) ([7]float64, bool) {
		if p.k[b] == 0 {
			return [7]float64{}, false
		}
		var e [7]float64
		for i := range e {
			e[i] = p.emo[b][i] / float64(p.k[b])
		}
		return e, true
	}
	data := map[string]any{
		"Title": title, "Subtitle": subtitle, "Count": p.Count,
		"MeanEmotions": emotionChart("Mean of each emotion over time, all recordings", len(p.k), p.binS, mean),
		"Dominant":     barChart("Dominant emotion, share of faces", facet.EmotionLabels[:], shares, ""),
		"Valence":      fmt.Sprintf("%+.2f", p.val/float64(max(p.withFace, 1))),
		"FaceRatio":    fmt.Sprintf("%.0f%%", 100*p.face/float64(max(p.Count, 1))),
		"Flagged":      p.flagged,
		"Demographics": p.ageN >= MinGroupForDemographics,
		"MinGroup":     MinGroupForDemographics,
	}
	if p.ageN >= MinGroupForDemographics {
		counts := make([]float64, len(ageBands))
		for i, n := range p.ages {
			counts[i] = float64(n) / float64(p.ageN)
		}
		data["Age"] = barChart("Age estimate (median per recording)", ageBands, counts, demographicsColor)
		g := make([]float64, len(genderLabels))
		for i, n := range p.genders {
			g[i] = float64(n) / float64(max(p.genderN, 1))
		}
		data["Gender"] = barChart(fmt.Sprintf("Gender estimate (per recording; uncertain below a mean probability of %g)", analysis.GenderMinConfidence), genderLabels, g, demographicsColor)
	}
	return page.ExecuteTemplate(w, "head", data)
}

// WriteRecording writes one recording's section: its seven emotions and
// its valence over time.
func WriteRecording(w io.Writer, s *Series) error {
	point := func(b int) ([7]float64, bool) { e, _, ok := s.point(b); return e, ok }
	v := recView{
		ID: s.ID, Summary: s.Summary,
		Emotions: emotionChart("Emotions over time: "+s.ID, len(s.n), s.BinS, point),
		Valence:  valenceChart("Valence over time: "+s.ID, s),
	}
	if q := s.Summary.Quality; q != nil {
		v.Quality = qualityLine(q)
		for _, f := range q.Flags {
			v.Flags = append(v.Flags, analysis.FlagText(f))
		}
	}
	return page.ExecuteTemplate(w, "recording", v)
}

// WriteEnd closes the page.
func WriteEnd(w io.Writer) error { return page.ExecuteTemplate(w, "end", nil) }

type recView struct {
	ID       string
	Summary  facet.Summary
	Quality  string   // "" for results made before quality was measured
	Flags    []string // in words
	Emotions template.HTML
	Valence  template.HTML
}

// emotionChart draws the seven emotions over bins bins of binS seconds;
// point gives a bin's means (ok false: no face in it).
func emotionChart(title string, bins int, binS float64, point func(b int) ([7]float64, bool)) template.HTML {
	var lines []chartLine
	for i, l := range facet.EmotionLabels {
		var pts [][2]float64
		for b := range bins {
			if e, ok := point(b); ok {
				pts = append(pts, [2]float64{float64(b) * binS, e[i]})
			}
		}
		lines = append(lines, chartLine{l, emotionColors[i], pts})
	}
	return lineChart(title, float64(bins)*binS, 0, 1, lines)
}

func valenceChart(title string, s *Series) template.HTML {
	var pts [][2]float64
	for b := range s.n {
		if _, v, ok := s.point(b); ok {
			pts = append(pts, [2]float64{float64(b) * s.BinS, v})
		}
	}
	return lineChart(title, float64(len(s.n))*s.BinS, -1, 1, []chartLine{{"valence", "#333", pts}})
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct":    func(v facet.Num) string { return fmt.Sprintf("%.0f%%", 100*float64(v)) },
	"labels": func() []string { return facet.EmotionLabels[:] },
	"color":  func(i int) template.CSS { return template.CSS(emotionColors[i]) },
}).Parse(`{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:760px;padding:1rem;color:#222}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem}h3{font-size:1rem}
.chart{width:100%;height:auto;display:block;margin:.25rem 0 .5rem}
figure{margin:1rem 0;break-inside:avoid}figcaption{font-size:.85rem;color:#555}
.legend span{display:inline-block;margin-right:.8rem;font-size:.85rem}
.legend i{display:inline-block;width:.8rem;height:.8rem;margin-right:.25rem;vertical-align:middle}
dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}dt{font-weight:600}
section.recording{break-inside:avoid;border-top:1px solid #ddd}
ul.flags{color:#8a4b00;margin:.25rem 0}
section.stimulus,section.comparison{border-top:1px solid #ddd}
.multiples{display:grid;grid-template-columns:1fr 1fr;gap:0 1rem}.multiples figure{margin:.25rem 0}
table.segments{border-collapse:collapse;font-size:.9rem;margin:.5rem 0}table.segments th,table.segments td{text-align:left;padding:.15rem .8rem .15rem 0;border-bottom:1px solid #eee}
@media print{body{max-width:none}}
</style></head><body>
<h1>{{.Title}}</h1><p>{{.Subtitle}}</p>
<p class="legend">{{range $i, $l := labels}}<span><i style="background:{{color $i}}"></i>{{$l}}</span>{{end}}</p>
<section id="project"><h2>All recordings ({{.Count}})</h2>
<dl><dt>Mean valence</dt><dd>{{.Valence}} (-1 negative .. +1 positive)</dd><dt>Frames with a face</dt><dd>{{.FaceRatio}}</dd><dt>Recordings with quality flags</dt><dd>{{.Flagged}}</dd></dl>
{{.MeanEmotions}}
<h3>Dominant emotion</h3>{{.Dominant}}
{{if .Demographics}}<section id="demographics"><h3>Age and gender estimates</h3>{{.Age}}{{.Gender}}</section>
{{else}}<p>Age and gender distributions are shown from {{.MinGroup}} recordings on, so that no participant is singled out.</p>{{end}}
</section>
{{end}}{{define "recording"}}<section class="recording"><h2>Recording {{.ID}}</h2>
<dl><dt>Frames</dt><dd>{{.Summary.Frames}}</dd><dt>With a face</dt><dd>{{pct .Summary.FaceRatio}}</dd>{{if .Quality}}<dt>Quality</dt><dd class="quality">{{.Quality}}</dd>{{end}}</dl>
{{if .Flags}}<ul class="flags">{{range .Flags}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{.Emotions}}{{.Valence}}</section>
{{end}}{{define "study"}}<section id="study"><h2>Stimulus study</h2>
<p>Each stimulus over its own time: the mean over participants of each emotion and of valence (each participant's frames in a bin averaged first), with its 95 % band shaded (Student's t; no band where only one participant has a face). N is the number of participants with a described face in each bin, the N of the bands (dotted: with any frame). Grey spans are the stimulus's segments.</p>
{{range .Stimuli}}<section class="stimulus" id="stimulus-{{.ID}}"><h3>Stimulus: {{.Name}}</h3>
<dl><dt>Kind</dt><dd>{{.Kind}}</dd><dt>Length</dt><dd>{{.Length}}</dd><dt>Participants</dt><dd>{{.Participants}}</dd><dt>Bins</dt><dd>{{.BinS}}</dd></dl>
{{.Strip}}
{{if .Participants}}{{.Valence}}
<div class="multiples">{{range .Emotions}}{{.}}{{end}}</div>
{{if .Segments}}<table class="segments"><thead><tr><th>Segment</th><th>Stimulus time</th><th>N</th><th>Valence (95 % band)</th><th>Dominant emotion</th></tr></thead><tbody>
{{range .Segments}}<tr><td>{{.Name}}</td><td>{{.Span}}</td><td>{{.N}}</td><td>{{.Valence}}</td><td>{{.Dominant}}</td></tr>
{{end}}</tbody></table>{{end}}
{{else}}<p>No participant's frame is placed on this stimulus yet.</p>{{end}}</section>
{{end}}{{with .AB}}<section class="comparison" id="ab"><h3>A/B: {{.A}} minus {{.B}}</h3>
<p>The difference of the means, A minus B, of each emotion and of valence with its 95 % interval, {{.Method}}. A filled dot: the interval excludes 0. Each chart answers its own question at 95 %: with several segments and eight figures, about one difference in twenty excludes 0 by chance alone, so test claims on segments chosen in advance.</p>
{{range .Charts}}{{.}}{{end}}</section>
{{end}}</section>
{{end}}{{define "end"}}<p><small>Model estimates of facial expressions, not of feelings; they carry known biases. Generated by facet.</small></p>
</body></html>
{{end}}`))
