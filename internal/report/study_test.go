package report

import (
	"bytes"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/stimstats"
)

// est is an estimate; nil pointers for the NaNs.
func est(mean, lower, upper float64) stimstats.Estimate {
	p := func(v float64) *facet.Num {
		if v != v {
			return nil
		}
		return facet.NumPtr(v)
	}
	return stimstats.Estimate{Mean: p(mean), Lower: p(lower), Upper: p(upper)}
}

var nan = func() float64 { z := 0.0; return z / z }()

// bin is a bin where every emotion and valence has e, happy h.
func bin(start, end float64, n, nAll int, e, h stimstats.Estimate) stimstats.Bin {
	b := stimstats.Bin{StartS: facet.Num(start), EndS: facet.Num(end)}
	b.N, b.NAll = n, nAll
	for i := range b.Emotions {
		b.Emotions[i] = e
	}
	b.Emotions[facet.Happy] = h
	b.Valence, b.FaceShare, b.AttentionShare = e, e, e
	if n > 0 {
		b.Dominant = &facet.Emotions{facet.Happy: 0.75, facet.Neutral: 0.25}
	}
	return b
}

// studyFixture is two stimuli: A (1.5 s, 3 thumbnails, one missing, a
// segment), whose last bin has no face; B, an image nobody saw yet; and
// their comparison, where happy differs and fear has no face on one side.
func studyFixture() Study {
	a := StimulusSection{ID: "st_a", Name: "Spot <A>", Kind: facet.StimVideo, LengthS: 1.5, BinS: 0.5, Participants: 3,
		Thumbnails: [][]byte{{0xff, 0xd8, 1, 0xff, 0xd9}, nil, {0xff, 0xd8, 3, 0xff, 0xd9}}, Aspect: 0.5625,
		Bins: []stimstats.Bin{
			bin(0, 0.5, 3, 3, est(0.1, 0, 0.3), est(0.5, 0.2, 0.8)),
			bin(0.5, 1, 2, 3, est(0.1, 0, 0.3), est(0.6, 0.3, 0.9)),
			bin(1, 1.5, 0, 1, est(nan, nan, nan), est(nan, nan, nan)),
		},
		Segments: []stimstats.SegmentResult{{Name: "reveal & logo", FromS: 0.5, ToS: 1.5, Figures: bin(0, 0, 2, 3, est(0.1, 0, 0.3), est(0.6, 0.3, 0.9)).Figures}},
	}
	b := StimulusSection{ID: "st_b", Name: "Poster", Kind: facet.StimImage, LengthS: 5, BinS: 0.5,
		Thumbnails: [][]byte{{0xff, 0xd8, 9, 0xff, 0xd9}}, Aspect: 0.75, Bins: make([]stimstats.Bin, 10)}
	yes, no, pairs := true, false, 3
	diff := func(d, lo, hi float64, differs *bool) stimstats.Difference {
		return stimstats.Difference{Diff: facet.NumPtr(d), Lower: facet.NumPtr(lo), Upper: facet.NumPtr(hi), Differs: differs}
	}
	whole := stimstats.Contrast{NA: 3, NB: 3, Pairs: &pairs}
	for i := range whole.Emotions {
		whole.Emotions[i] = diff(0.01, -0.05, 0.07, &no)
	}
	whole.Emotions[facet.Happy] = diff(0.2, 0.05, 0.35, &yes)
	whole.Emotions[facet.Fear] = stimstats.Difference{}
	whole.Valence = diff(-0.1, -0.3, 0.1, &no)
	seg := whole
	seg.Emotions[facet.Happy] = diff(0.1, -0.1, 0.3, &no)
	return Study{Stimuli: []StimulusSection{a, b}, AB: &ABSection{A: a.Name, B: b.Name, Result: stimstats.Comparison{
		Method: stimstats.MethodPaired, Whole: whole,
		Segments: []stimstats.SegmentContrast{{Name: "reveal & logo", FromS: 0.5, ToS: 1.5, Contrast: seg}},
		Bins:     []stimstats.BinContrast{{StartS: 0, EndS: 0.5}, {StartS: 0.5, EndS: 1}, {StartS: 1, EndS: 1.5}},
	}}}
}

// TestWriteStudy: the study's sections in a whole report page: the
// thumbnails as data URIs in their places, a band and a mean per emotion
// and valence of a stimulus with participants, the segments shaded and
// named, N per bin, and the A/B chart with its differences marked.
func TestWriteStudy(t *testing.T) {
	var b bytes.Buffer
	p := NewProject()
	p.Add(series("rec_a", 6, 30))
	if err := WriteHead(&b, "T", "", p); err != nil {
		t.Fatal(err)
	}
	if err := WriteStudy(&b, studyFixture()); err != nil {
		t.Fatal(err)
	}
	if err := WriteEnd(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	checkPage(t, page)

	thumbs := regexp.MustCompile(`href="data:image/jpeg;base64,([A-Za-z0-9+/=]+)"`).FindAllStringSubmatch(page, -1)
	var got []byte
	for _, m := range thumbs {
		raw, err := base64.StdEncoding.DecodeString(m[1])
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, raw[2])
	}
	// A's second frame could not be read: its place stays empty.
	if string(got) != "\x01\x03\x09" {
		t.Errorf("thumbnails %v, want A's 1 and 3, then B's 9", got)
	}
	// A's three slots of 605/3 px, each frame 160 px wide (at most) in
	// the middle of its own: the third at 30 + 2*201.67 + 20.83.
	if !strings.Contains(page, `<image class="thumb" x="454.2" y="2" width="160.0" height="90.0"`) {
		t.Errorf("A's third thumbnail is not in its third of the strip")
	}
	if n := strings.Count(page, `class="band"`); n != 8 {
		t.Errorf("%d bands, want 8 (A's 7 emotions and valence; B has no participant)", n)
	}
	if n := strings.Count(page, `class="mean"`); n != 8 {
		t.Errorf("%d mean curves, want 8", n)
	}
	// happy: bins 0 and 1 at their middles (0.25 s, 0.75 s of 1.5 s over
	// 289 px from 26), upper 0.8, 0.9 then lower 0.3, 0.2 (y = 110 - 94v);
	// bin 2 has no face and no band.
	if want := `<path class="band" data-label="happy" fill="#2ca02c" fill-opacity="0.2" stroke="none" d="M74.2,34.8 L170.5,25.4 L170.5,81.8 L74.2,91.2 Z"/>`; !strings.Contains(page, want) {
		t.Errorf("happy's band is not\n%s", want)
	}
	if want := `d="M74.2,63.0 L170.5,53.6"`; !strings.Contains(page, want) {
		t.Errorf("happy's mean curve is not %s", want)
	}
	// The segment in the strip, valence and each emotion; named in the
	// wide charts only, escaped.
	if n := strings.Count(page, `class="segment"`); n != 9 {
		t.Errorf("%d segment spans, want 9", n)
	}
	if n := strings.Count(page, `>reveal &amp; logo</text>`); n != 2 {
		t.Errorf("segment named %d times, want 2 (strip and valence)", n)
	}
	if !strings.Contains(page, `<td>reveal &amp; logo</td><td>0.5 to 1.5 s</td><td>2</td><td>&#43;0.10 (&#43;0.00 to &#43;0.30)</td><td>happy (75% of participants)</td>`) {
		t.Error("the segment's table row is missing")
	}
	// N per bin: 3, 2, 0 over a scale of the largest N with any frame (3).
	if !regexp.MustCompile(`<polyline class="n" [^>]*points="30.0,\S+ 231.7,\S+ 231.7,\S+ 433.3,\S+ 433.3,\S+ 635.0,\S+"`).MatchString(page) {
		t.Error("no N line over A's three bins")
	}
	if !strings.Contains(page, "No participant's frame is placed on this stimulus yet.") {
		t.Error("B, without participants, does not say so")
	}
	// A/B: whole and the segment, 8 rows each; happy differs in the whole
	// only; fear has no difference to draw.
	if n := strings.Count(page, `class="whisker"`); n != 14 {
		t.Errorf("%d whiskers, want 14 (7 rows with an interval, twice)", n)
	}
	if n := strings.Count(page, `class="dot differs"`); n != 1 || strings.Count(page, ">excludes 0<") != 1 {
		t.Errorf("%d dots marked as excluding 0, want 1", n)
	}
	// +0.2 on a scale of -0.35 to +0.35 (the largest bound) over 80 to
	// 390: 80 + 0.55/0.7*310.
	if !strings.Contains(page, `<circle class="dot differs" data-label="happy" cx="323.6"`) {
		t.Error("happy's difference is not where it should be")
	}
	if n := strings.Count(page, "no face on one side"); n != 2 {
		t.Errorf("fear: %d rows say there is nothing to compare, want 2", n)
	}
	for _, want := range []string{"A/B: Spot &lt;A&gt; minus Poster", "paired (the same participants saw both)",
		"Whole stimulus (0 to 1.5 s), A minus B: 3 pairs", "Segment reveal &amp; logo (0.5 to 1.5 s)"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// TestStudyOmittedWithoutSections: a study section is only what the
// caller passes; a plain project's page is the recordings' alone.
func TestStudyOmittedWithoutSections(t *testing.T) {
	var b bytes.Buffer
	if err := WriteHTML(&b, ReportData{Title: "T", Recordings: []*Series{series("rec_a", 4, 30)}}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), `id="study"`) {
		t.Error("a report without a study has a study section")
	}
}

// checkPage holds a page to what every report page must be: no script,
// nothing loaded from outside, elements closed in order, ids unique.
func checkPage(t *testing.T, page string) {
	t.Helper()
	if strings.Contains(page, "<script") {
		t.Error("a script in the page")
	}
	if regexp.MustCompile(`(?i)(src|href)=["']?(https?:)?//`).MatchString(page) {
		t.Error("the page loads something from outside")
	}
	if regexp.MustCompile(`(?i)(src|href)="(?:[^d"]|d[^a])`).MatchString(page) {
		t.Error("an image or link that is not a data: URI")
	}
	void := map[string]bool{"meta": true, "br": true, "img": true, "hr": true, "link": true, "input": true}
	var stack []string
	ids := map[string]bool{}
	for _, m := range regexp.MustCompile(`<(/?)([A-Za-z][A-Za-z0-9-]*)([^>]*)>`).FindAllStringSubmatch(page, -1) {
		closing, name, attrs := m[1] == "/", strings.ToLower(m[2]), m[3]
		if id := regexp.MustCompile(`\sid="([^"]*)"`).FindStringSubmatch(attrs); id != nil {
			if ids[id[1]] {
				t.Errorf("id %q twice", id[1])
			}
			ids[id[1]] = true
		}
		switch {
		case closing:
			if len(stack) == 0 || stack[len(stack)-1] != name {
				t.Fatalf("</%s> closes %v", name, stack)
			}
			stack = stack[:len(stack)-1]
		case void[name] || strings.HasSuffix(attrs, "/"):
		default:
			stack = append(stack, name)
		}
	}
	if len(stack) != 0 {
		t.Errorf("unclosed elements %v", stack)
	}
}

// TestStimulusCSVRow: a bin's row, by hand; nulls are empty cells.
func TestStimulusCSVRow(t *testing.T) {
	if len(StimulusCSVHeader) != 4+3*8+7+3*2 {
		t.Fatalf("%d columns", len(StimulusCSVHeader))
	}
	b := bin(0.5, 1, 2, 3, est(0.1, 0, 0.31234), est(0.6, nan, nan))
	b.FaceShare = est(2.0/3, 0, 1)
	row := StimulusCSVRow(b)
	got := map[string]string{}
	for i, h := range StimulusCSVHeader {
		got[h] = row[i]
	}
	want := map[string]string{"startS": "0.5", "endS": "1", "n": "2", "nAll": "3",
		"angry_mean": "0.1", "angry_lower": "0", "angry_upper": "0.3123", "happy_mean": "0.6", "happy_lower": "", "happy_upper": "",
		"valence_upper": "0.3123", "dominant_happy": "0.75", "dominant_neutral": "0.25", "dominant_sad": "0",
		"faceShare_mean": "0.6667", "faceShare_lower": "0", "faceShare_upper": "1", "attentionShare_mean": "0.1"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	empty := StimulusCSVRow(stimstats.Bin{StartS: 1, EndS: 1.5})
	if diff := cmp.Diff(append([]string{"1", "1.5", "0", "0"}, make([]string, len(StimulusCSVHeader)-4)...), empty); diff != "" {
		t.Errorf("a bin without frames (-want +got):\n%s", diff)
	}
}
