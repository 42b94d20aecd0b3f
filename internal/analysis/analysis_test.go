package analysis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/humaninsight/facet"
)

func TestIoU(t *testing.T) {
	a := Box{0, 0, 0.5, 0.5}
	cases := []struct {
		b    Box
		want float64
	}{
		{a, 1},
		{Box{0.5, 0.5, 1, 1}, 0},
		{Box{0.25, 0, 0.75, 0.5}, 1.0 / 3},
		{Box{0.6, 0.6, 0.5, 0.5}, 0}, // inverted
	}
	for _, c := range cases {
		if got := IoU(a, c.b); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("IoU(%v, %v) = %v, want %v", a, c.b, got, c.want)
		}
	}
}

func TestTracker(t *testing.T) {
	tr := NewTracker()
	left, right := Box{0.1, 0.1, 0.3, 0.4}, Box{0.6, 0.1, 0.8, 0.4}
	steps := []struct {
		t     float64
		boxes []Box
		want  []int
	}{
		{0, []Box{left}, []int{1}},
		{0.2, []Box{{0.11, 0.1, 0.31, 0.4}, right}, []int{1, 2}},
		{0.4, []Box{right, left}, []int{2, 1}}, // order in the frame does not matter
		{0.6, nil, []int{}},
		{1.2, []Box{left}, []int{1}},  // 0.8 s gap: still the same track
		{3.0, []Box{right}, []int{3}}, // gone for over a second: a new track
	}
	for _, s := range steps {
		got := tr.Assign(s.t, s.boxes)
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Errorf("t=%v (-want +got):\n%s", s.t, diff)
		}
	}
}

func face(e facet.Emotions, age, man float64) facet.Face {
	return MakeFace(1, Detection{Box: Box{0, 0, 0.5, 0.5}, Score: 0.9}, Attributes{Emotions: e, Age: age, Man: man})
}

// approx compares figures to 1e-9, for figures computed in another order.
var approx = cmp.Options{
	cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }),
	cmp.Comparer(func(a, b facet.Num) bool { return math.Abs(float64(a-b)) < 1e-9 }),
}

func TestMakeFace(t *testing.T) {
	d := Detection{Box: Box{0.1, 0.2, 0.4, 0.6}, Score: 0.9}
	e := facet.Emotions{facet.Sad: 0.6, facet.Neutral: 0.4}
	q := facet.FaceQuality{SizePx: 10, Brightness: 100}
	sad := "sad"
	cases := []struct {
		name string
		got  facet.Face
		want facet.Face
	}{
		{"described", MakeFace(3, d, Attributes{Emotions: e, Age: 30, Man: 0.25}), facet.Face{
			Track: 3, Box: [4]facet.Num{0.1, 0.2, 0.3, 0.4}, Score: 0.9, Emotions: &e, Dominant: &sad,
			Valence: facet.NumPtr(-0.6), Age: facet.NumPtr(30), Gender: &facet.GenderProb{Woman: 0.75, Man: 0.25}, Flags: []string{},
		}},
		{"no age or gender model", MakeFace(3, d, Attributes{Emotions: e, Age: math.NaN(), Man: math.NaN()}), facet.Face{
			Track: 3, Box: [4]facet.Num{0.1, 0.2, 0.3, 0.4}, Score: 0.9, Emotions: &e, Dominant: &sad,
			Valence: facet.NumPtr(-0.6), Flags: []string{},
		}},
		{"flagged", FlaggedFace(3, d, q, []string{FlagTooSmall}), facet.Face{
			Track: 3, Box: [4]facet.Num{0.1, 0.2, 0.3, 0.4}, Score: 0.9, Quality: &q, Flags: []string{FlagTooSmall},
		}},
	}
	for _, c := range cases {
		if diff := cmp.Diff(c.want, c.got, approx); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
	// A flagged face is null in JSON wherever an estimate would be.
	b, _ := json.Marshal(cases[2].got)
	want := `{"track":3,"box":[0.1,0.2,0.3,0.4],"score":0.9,"emotions":null,"dominant":null,"valence":null,"age":null,"gender":null,` +
		`"quality":{"size_px":10,"brightness":100,"sharpness":0,"yaw":null,"roll":null},"flags":["too_small"]}`
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("flagged face JSON (-want +got):\n%s", diff)
	}
}

func TestSummarizer(t *testing.T) {
	happy := facet.Emotions{facet.Happy: 0.8, facet.Neutral: 0.2}
	sad := facet.Emotions{facet.Sad: 0.6, facet.Neutral: 0.4}
	small := FlaggedFace(2, Detection{Box: Box{0, 0, 0.1, 0.1}}, facet.FaceQuality{SizePx: 12, Brightness: 90, Sharpness: 200}, []string{FlagTooSmall})
	emotions := facet.EmotionSummary{
		Mean: facet.Emotions{facet.Happy: 1.6 / 3, facet.Sad: 0.2, facet.Neutral: 0.8 / 3},
		Peak: facet.Emotions{facet.Happy: 0.8, facet.Sad: 0.6, facet.Neutral: 0.4},
	}
	dominant := facet.Emotions{facet.Happy: 2.0 / 3, facet.Sad: 1.0 / 3}
	cases := []struct {
		name   string
		frames []facet.Frame
		want   facet.Summary
	}{
		{"three faces, one frame without", []facet.Frame{
			{T: 0, Faces: []facet.Face{face(happy, 30, 0.2)}},
			{T: 0.2},
			{T: 0.4, Faces: []facet.Face{face(happy, 40, 0.4)}},
			{T: 0.6, Faces: []facet.Face{face(sad, 50, 0.3)}},
		}, facet.Summary{
			Frames: 4, FramesWithFace: 3, FaceRatio: 0.75, Emotions: emotions, Dominant: dominant,
			ValenceMean: facet.NumPtr((0.8 + 0.8 - 0.6) / 3),
			Age:         &facet.AgeSummary{Median: 40, P10: 30, P90: 50, N: 3},
			// Mean man 0.3: woman at 0.7, under GenderMinConfidence.
			Gender:  &facet.GenderSummary{Label: "uncertain", Confidence: 0.7, N: 3},
			Quality: &facet.RecordingQuality{DescribedRatio: 0.75, Faces: 3, Flagged: facet.NumPtr(0), Flags: []string{FlagFewFaces}},
		}},
		{"a flagged face counts as found, not in the estimates", []facet.Frame{
			{T: 0, Faces: []facet.Face{face(happy, 30, 0.1), small}},
			{T: 0.2, Faces: []facet.Face{small}},
			{T: 0.4, Faces: []facet.Face{face(happy, 40, 0.1)}},
			{T: 0.6, Faces: []facet.Face{face(sad, 50, 0.1)}},
		}, facet.Summary{
			Frames: 4, FramesWithFace: 4, FaceRatio: 1, Emotions: emotions, Dominant: dominant,
			ValenceMean: facet.NumPtr((0.8 + 0.8 - 0.6) / 3),
			Age:         &facet.AgeSummary{Median: 40, P10: 30, P90: 50, N: 3},
			Gender:      &facet.GenderSummary{Label: "woman", Confidence: 0.9, N: 3},
			Quality: &facet.RecordingQuality{DescribedRatio: 0.75, Faces: 5, Flagged: facet.NumPtr(0.4),
				FaceSizePx: facet.NumPtr(12), Brightness: facet.NumPtr(90), Sharpness: facet.NumPtr(200), Flags: []string{FlagFewFaces, FlagSmallFaces}},
		}},
		{"only flagged faces: no estimates", []facet.Frame{{T: 0, Faces: []facet.Face{small}}}, facet.Summary{
			Frames: 1, FramesWithFace: 1, FaceRatio: 1,
			Quality: &facet.RecordingQuality{Faces: 1, Flagged: facet.NumPtr(1),
				FaceSizePx: facet.NumPtr(12), Brightness: facet.NumPtr(90), Sharpness: facet.NumPtr(200), Flags: []string{FlagFewFaces, FlagSmallFaces}},
		}},
		{"no face", []facet.Frame{{T: 0}}, facet.Summary{
			Frames: 1, Quality: &facet.RecordingQuality{Flags: []string{FlagFewFaces}},
		}},
		{"fewer than three faces: no age or gender", []facet.Frame{
			{T: 0, Faces: []facet.Face{face(happy, 30, 0.1)}},
			{T: 0.2, Faces: []facet.Face{face(happy, 30, 0.1)}},
		}, facet.Summary{
			Frames: 2, FramesWithFace: 2, FaceRatio: 1,
			Emotions:    facet.EmotionSummary{Mean: happy, Peak: happy},
			Dominant:    facet.Emotions{facet.Happy: 1},
			ValenceMean: facet.NumPtr(0.8),
			Quality:     &facet.RecordingQuality{DescribedRatio: 1, Faces: 2, Flagged: facet.NumPtr(0), Flags: []string{}},
		}},
		{"a still: its one face gives age and gender", []facet.Frame{
			{T: 0, Faces: []facet.Face{face(happy, 30, 0.1)}},
		}, facet.Summary{
			Frames: 1, FramesWithFace: 1, FaceRatio: 1,
			Emotions:    facet.EmotionSummary{Mean: happy, Peak: happy},
			Dominant:    facet.Emotions{facet.Happy: 1},
			ValenceMean: facet.NumPtr(0.8),
			Age:         &facet.AgeSummary{Median: 30, P10: 30, P90: 30, N: 1},
			Gender:      &facet.GenderSummary{Label: "woman", Confidence: 0.9, N: 1},
			Quality:     &facet.RecordingQuality{DescribedRatio: 1, Faces: 1, Flagged: facet.NumPtr(0), Flags: []string{}},
		}},
		{"no age or gender model", []facet.Frame{
			{Faces: []facet.Face{face(happy, math.NaN(), math.NaN())}},
			{Faces: []facet.Face{face(happy, math.NaN(), math.NaN())}},
			{Faces: []facet.Face{face(happy, math.NaN(), math.NaN())}},
		}, facet.Summary{
			Frames: 3, FramesWithFace: 3, FaceRatio: 1,
			Emotions:    facet.EmotionSummary{Mean: happy, Peak: happy},
			Dominant:    facet.Emotions{facet.Happy: 1},
			ValenceMean: facet.NumPtr(0.8),
			Quality:     &facet.RecordingQuality{DescribedRatio: 1, Faces: 3, Flagged: facet.NumPtr(0), Flags: []string{}},
		}},
	}
	for _, c := range cases {
		var s Summarizer
		for _, f := range c.frames {
			s.Add(f)
		}
		if diff := cmp.Diff(c.want, s.Summary(), approx); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
}

func TestGenderSummary(t *testing.T) {
	cases := []struct {
		man  float64
		want facet.GenderSummary
	}{
		{0.9, facet.GenderSummary{Label: "man", Confidence: 0.9, N: 5}},
		{0.75, facet.GenderSummary{Label: "man", Confidence: 0.75, N: 5}}, // at the threshold: named
		{0.7, facet.GenderSummary{Label: "uncertain", Confidence: 0.7, N: 5}},
		{0.5, facet.GenderSummary{Label: "uncertain", Confidence: 0.5, N: 5}},
		{0.3, facet.GenderSummary{Label: "uncertain", Confidence: 0.7, N: 5}},
		{0.2, facet.GenderSummary{Label: "woman", Confidence: 0.8, N: 5}},
	}
	for _, c := range cases {
		if diff := cmp.Diff(&c.want, genderSummary(c.man, 5), approx); diff != "" {
			t.Errorf("man %v (-want +got):\n%s", c.man, diff)
		}
	}
}

func TestAgePercentiles(t *testing.T) {
	var s Summarizer
	for i := 1; i <= 100; i++ {
		s.Add(facet.Frame{Faces: []facet.Face{face(facet.Emotions{facet.Neutral: 1}, float64(i), 0.5)}})
	}
	want := &facet.AgeSummary{Median: 50, P10: 10, P90: 90, N: 100}
	if diff := cmp.Diff(want, s.Summary().Age); diff != "" {
		t.Errorf("percentiles (-want +got):\n%s", diff)
	}
}

// fakeSource yields n frames of an even grey whose first byte encodes the
// frame number (the first pixel lies outside every face box of the tests).
type fakeSource struct {
	n, i int
	grey byte  // 0 means 128
	err  error // returned instead of io.EOF at the end
}

func (s *fakeSource) ReadFrame(dst []byte) (float64, error) {
	if s.i >= s.n {
		if s.err != nil {
			return 0, s.err
		}
		return 0, io.EOF
	}
	grey := s.grey
	if grey == 0 {
		grey = 128
	}
	for i := range dst {
		dst[i] = grey
	}
	dst[0] = byte(s.i)
	s.i++
	return float64(s.i-1) / 5, nil
}

// fakeModels finds faces (by default one 30x40 px face in a 100x100
// frame) in even frames, with an emotion read from the pixels, and fails
// on frame failAt. It counts the faces it was asked to describe.
type fakeModels struct {
	failAt    int
	boxes     []Box
	calls     atomic.Int64
	described atomic.Int64
}

func (m *fakeModels) Detect(img Image) ([]Detection, error) {
	m.calls.Add(1)
	n := int(img.Pix[0])
	if n == m.failAt {
		return nil, errors.New("runtime broke")
	}
	if n%2 == 1 {
		return nil, nil
	}
	boxes := m.boxes
	if boxes == nil {
		boxes = []Box{{0.1, 0.1, 0.4, 0.5}}
	}
	var out []Detection
	for _, b := range boxes {
		out = append(out, Detection{Box: b, Score: 0.99})
	}
	return out, nil
}

func (m *fakeModels) Describe(img Image, faces []Detection) ([]Attributes, error) {
	m.described.Add(int64(len(faces)))
	out := make([]Attributes, len(faces))
	for i := range out {
		out[i] = Attributes{Age: 30, Man: 0.3}
		out[i].Emotions[int(img.Pix[0])%7] = 1
	}
	return out, nil
}

func TestRunOrderAndSummary(t *testing.T) {
	for _, smooth := range []float64{0, 0.5} {
		var got []facet.Frame
		sum, err := Run(context.Background(), &fakeSource{n: 50}, &fakeModels{failAt: -1},
			Options{Width: 100, Height: 100, Workers: 4, SmoothS: smooth, OnFrame: func(f facet.Frame) error { got = append(got, f); return nil }})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 50 || sum.Frames != 50 || sum.FramesWithFace != 25 {
			t.Fatalf("smooth %v: frames %d, summary %+v", smooth, len(got), sum)
		}
		// The summary counts exactly the frames OnFrame received.
		var again Summarizer
		for i, f := range got {
			again.Add(f)
			if math.Abs(float64(f.T)-float64(i)/5) > 1e-9 {
				t.Fatalf("smooth %v: frame %d out of order: t=%v", smooth, i, f.T)
			}
			if i%2 == 1 {
				if len(f.Faces) != 0 {
					t.Fatalf("smooth %v: frame %d: unexpected faces", smooth, i)
				}
				continue
			}
			if len(f.Faces) != 1 || f.Faces[0].Track != 1 || f.Faces[0].Quality == nil || f.Faces[0].Quality.SizePx != 30 {
				t.Fatalf("smooth %v: frame %d: %+v", smooth, i, f.Faces)
			}
			// Raw, each frame reads as its own emotion; smoothed, frames
			// 0.4 s apart lie outside each other's 0.5 s window, so each
			// face is still alone in its window and keeps its scores.
			if want := facet.EmotionLabels[i%7]; *f.Faces[0].Dominant != want {
				t.Fatalf("smooth %v: frame %d reads %s, want %s", smooth, i, *f.Faces[0].Dominant, want)
			}
		}
		if diff := cmp.Diff(again.Summary(), sum); diff != "" {
			t.Errorf("smooth %v: summary differs from the frames sent (-frames +run):\n%s", smooth, diff)
		}
	}
}

func TestRunFlagsFaces(t *testing.T) {
	good, tiny := Box{0.1, 0.1, 0.4, 0.5}, Box{0.6, 0.6, 0.7, 0.7} // 30 and 10 px in 100x100
	cases := []struct {
		name      string
		grey      byte
		boxes     []Box
		flags     [][]string // per face of a frame with faces
		described int64      // faces sent to Describe over the run
		ratio     facet.Num  // described_ratio
	}{
		{"good", 128, []Box{good}, [][]string{{}}, 5, 0.5},
		{"too small", 128, []Box{tiny}, [][]string{{FlagTooSmall}}, 0, 0},
		{"too dark", 20, []Box{good}, [][]string{{FlagTooDark}}, 0, 0},
		{"too small and dark", 20, []Box{tiny}, [][]string{{FlagTooSmall, FlagTooDark}}, 0, 0},
		{"one of two", 128, []Box{good, tiny}, [][]string{{}, {FlagTooSmall}}, 5, 0.5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := &fakeModels{failAt: -1, boxes: c.boxes}
			var frames []facet.Frame
			sum, err := Run(context.Background(), &fakeSource{n: 10, grey: c.grey}, m,
				Options{Width: 100, Height: 100, Workers: 2, OnFrame: func(f facet.Frame) error { frames = append(frames, f); return nil }})
			if err != nil {
				t.Fatal(err)
			}
			if n := m.described.Load(); n != c.described {
				t.Errorf("%d faces described, want %d", n, c.described)
			}
			for i, fc := range frames[0].Faces {
				if diff := cmp.Diff(c.flags[i], fc.Flags); diff != "" {
					t.Errorf("face %d flags (-want +got):\n%s", i, diff)
				}
				if fc.Described() != (len(c.flags[i]) == 0) || (fc.Dominant == nil) == fc.Described() || (fc.Valence == nil) == fc.Described() || (fc.Age == nil) == fc.Described() {
					t.Errorf("face %d: described %v with flags %v: %+v", i, fc.Described(), fc.Flags, fc)
				}
			}
			if sum.FramesWithFace != 5 || sum.Quality.DescribedRatio != c.ratio {
				t.Errorf("frames with a face %d, described ratio %v; want 5, %v", sum.FramesWithFace, sum.Quality.DescribedRatio, c.ratio)
			}
			if (sum.ValenceMean != nil) != (c.described > 0) {
				t.Errorf("valence mean %v with %d faces described", sum.ValenceMean, c.described)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	bad := facet.Errorf(facet.EUnreadable, "corrupt data")
	cases := []struct {
		name string
		src  *fakeSource
		m    *fakeModels
		on   func(facet.Frame) error
		want string
	}{
		{"model error", &fakeSource{n: 200}, &fakeModels{failAt: 8}, nil, "analysis: frame 8: runtime broke"},
		{"decode error", &fakeSource{n: 3, err: bad}, &fakeModels{failAt: -1}, nil, "analysis: decode frame 3: corrupt data"},
		{"sink error", &fakeSource{n: 200}, &fakeModels{failAt: -1}, func(f facet.Frame) error {
			if f.T > 1 {
				return errors.New("disk full")
			}
			return nil
		}, "disk full"},
	}
	for _, c := range cases {
		for _, tr := range []*Tracking{nil, {Every: 4, MinMatch: 0.9, MaxDrift: 0.5, ReuseBelow: 1}} {
			src, m := *c.src, &fakeModels{failAt: c.m.failAt}
			t.Run(fmt.Sprintf("%s/tracking=%v", c.name, tr != nil), func(t *testing.T) {
				_, err := Run(context.Background(), &src, m, Options{Width: 2, Height: 2, Workers: 3, OnFrame: c.on, Tracking: tr})
				if err == nil || err.Error() != c.want {
					t.Fatalf("got %v, want %q", err, c.want)
				}
				// It stopped early instead of analysing the rest.
				if n := m.calls.Load(); n > 50 {
					t.Errorf("%d frames analysed after the error", n)
				}
			})
		}
	}
	if _, err := Run(context.Background(), &fakeSource{n: 3, err: bad}, &fakeModels{failAt: -1}, Options{Width: 2, Height: 2}); !facet.IsBadVideo(err) {
		t.Errorf("a decode error lost its code: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, &fakeSource{n: 1000}, &fakeModels{failAt: -1}, Options{Width: 2, Height: 2}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestLargest(t *testing.T) {
	faces := []Detection{
		{Box: Box{0, 0, 0.1, 0.1}, Score: 0.99},
		{Box: Box{0, 0, 0.5, 0.5}, Score: 0.8},
		{Box: Box{0, 0, 0.3, 0.3}, Score: 0.9},
	}
	got := largest(faces, 2)
	if len(got) != 2 || got[0].Score != 0.8 || got[1].Score != 0.9 {
		t.Errorf("largest: %+v", got)
	}
}
