package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/humaninsight/facet"
)

// described is a described face with scores e.
func described(e facet.Emotions) facet.Face {
	dom := facet.EmotionLabels[e.Dominant()]
	return facet.Face{Emotions: &e, Dominant: &dom, Valence: facet.NumPtr(e.Valence()), Flags: []string{}}
}

// flagged is a face found but not described.
func flagged() facet.Face {
	return facet.Face{Quality: &facet.FaceQuality{SizePx: 12, Brightness: 90}, Flags: []string{"too_small"}}
}

func series(id string, n int, age float64) *Series {
	s := NewSeries(id, 1)
	for i := range n {
		s.Add(facet.Frame{T: facet.Num(float64(i) * 0.5), Faces: []facet.Face{described(facet.Emotions{facet.Happy: 0.7, facet.Neutral: 0.3})}})
	}
	s.Summary = facet.Summary{Frames: n, FramesWithFace: n, FaceRatio: 1, ValenceMean: facet.NumPtr(0.7),
		Dominant: facet.Emotions{facet.Happy: 1}, Age: &facet.AgeSummary{Median: facet.Num(age), N: n}, Gender: &facet.GenderSummary{Label: "woman", Confidence: 0.8, N: n},
		Quality: &facet.RecordingQuality{DescribedRatio: 1, Faces: n, FaceSizePx: facet.NumPtr(140), Brightness: facet.NumPtr(120),
			Sharpness: facet.NumPtr(300), Flagged: facet.NumPtr(0), Flags: []string{}}}
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
	s.Add(facet.Frame{T: 0.2, Faces: []facet.Face{described(facet.Emotions{facet.Sad: 1}), flagged()}})
	s.Add(facet.Frame{T: 0.8, Faces: []facet.Face{described(facet.Emotions{facet.Happy: 1})}})
	s.Add(facet.Frame{T: 1.5, Faces: []facet.Face{flagged()}})
	s.Add(facet.Frame{T: 2.5})
	e, v, ok := s.point(0)
	// The flagged face is not a third, all-zero face in the mean.
	if !ok || e[facet.Sad] != 0.5 || e[facet.Happy] != 0.5 || v != 0 {
		t.Errorf("bin 0: %v %v %v", e, v, ok)
	}
	for _, b := range []int{1, 2} {
		if _, _, ok := s.point(b); ok {
			t.Errorf("bin %d, without a described face, has a point", b)
		}
	}
}

func TestRecordingQualityInHTML(t *testing.T) {
	s := series("rec_a", 4, 30)
	s.Summary.Quality.DescribedRatio = 0.5
	s.Summary.Quality.Flags = []string{"few_faces", "dark"}
	var b bytes.Buffer
	if err := WriteRecording(&b, s); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{
		"<dt>Quality</dt><dd class=\"quality\">a described face in 50% of frames; median face 140 px; brightness 120 of 255; sharpness 300</dd>",
		"<li>a readable face in fewer than 80% of the frames</li>",
		"<li>dark faces (mean brightness under 60 of 255)</li>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("recording section lacks %q:\n%s", want, page)
		}
	}
	// A run made before quality was measured shows no quality line.
	s.Summary.Quality = nil
	b.Reset()
	if err := WriteRecording(&b, s); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "Quality") || strings.Contains(b.String(), `class="flags"`) {
		t.Errorf("a run without quality figures shows some:\n%s", b.String())
	}
}

func TestProjectGender(t *testing.T) {
	p := NewProject()
	for i, label := range []string{"woman", "man", "uncertain", "uncertain", "man"} {
		s := series("rec_"+strings.Repeat("a", i+1), 3, 30)
		s.Summary.Gender.Label = label
		p.Add(s)
	}
	// An uncertain recording is counted as such, never as a woman.
	if p.genders != [3]int{1, 2, 2} || p.genderN != 5 {
		t.Errorf("genders %v of %d, want [1 2 2] of 5", p.genders, p.genderN)
	}
	var b bytes.Buffer
	if err := WriteHead(&b, "T", "", p); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), ">uncertain</text>") {
		t.Errorf("the gender chart has no uncertain bar")
	}
}
