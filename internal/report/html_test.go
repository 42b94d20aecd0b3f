package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/humaninsight/facet"
)

func series(id string, n int, age float64) *Series {
	s := NewSeries(id, 1)
	for i := range n {
		e := facet.Emotions{facet.Happy: 0.7, facet.Neutral: 0.3}
		s.Add(facet.Frame{T: facet.Num(float64(i) * 0.5), Faces: []facet.Face{{Emotions: e, Valence: 0.7}}})
	}
	s.Summary = facet.Summary{Frames: n, FramesWithFace: n, FaceRatio: 1, ValenceMean: facet.NumPtr(0.7),
		Dominant: facet.Emotions{facet.Happy: 1}, Age: &facet.AgeSummary{Median: facet.Num(age)}, Gender: &facet.GenderSummary{Label: "woman", Confidence: 0.8}}
	return s
}

func TestWriteHTML(t *testing.T) {
	for _, n := range []int{1, 4, 5} {
		var ss []*Series
		for i := range n {
			ss = append(ss, series("rec_"+strings.Repeat("a", i+1), 20, 20+float64(10*i)))
		}
		var b bytes.Buffer
		if err := WriteHTML(&b, ReportData{Title: "T <script>", Recordings: ss}); err != nil {
			t.Fatal(err)
		}
		page := b.String()
		// Project means (7) plus, per recording, 7 emotions and 1 valence.
		if got, want := strings.Count(page, `class="series"`), 7+8*n; got != want {
			t.Errorf("%d recordings: %d series, want %d", n, got, want)
		}
		if has := strings.Contains(page, `id="demographics"`); has != (n >= MinGroupForDemographics) {
			t.Errorf("%d recordings: demographics shown = %v", n, has)
		}
		if strings.Contains(page, "<script") {
			t.Error("the title was not escaped (or a script slipped in)")
		}
		if regexp.MustCompile(`(?i)(src|href)=["']?(https?:)?//`).MatchString(page) {
			t.Error("the page loads something from outside")
		}
	}
}

func TestSeriesBins(t *testing.T) {
	s := NewSeries("r", 1)
	s.Add(facet.Frame{T: 0.2, Faces: []facet.Face{{Emotions: facet.Emotions{facet.Sad: 1}, Valence: -1}}})
	s.Add(facet.Frame{T: 0.8, Faces: []facet.Face{{Emotions: facet.Emotions{facet.Happy: 1}, Valence: 1}}})
	s.Add(facet.Frame{T: 2.5})
	e, v, ok := s.point(0)
	if !ok || e[facet.Sad] != 0.5 || e[facet.Happy] != 0.5 || v != 0 {
		t.Errorf("bin 0: %v %v %v", e, v, ok)
	}
	if _, _, ok := s.point(2); ok {
		t.Error("a bin without faces has a point")
	}
}
