package analysis

import (
	"context"
	"errors"
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

func TestSummarizer(t *testing.T) {
	var s Summarizer
	happy := facet.Emotions{facet.Happy: 0.8, facet.Neutral: 0.2}
	sad := facet.Emotions{facet.Sad: 0.6, facet.Neutral: 0.4}
	s.Add(facet.Frame{T: 0, Faces: []facet.Face{face(happy, 30, 0.2)}})
	s.Add(facet.Frame{T: 0.2})
	s.Add(facet.Frame{T: 0.4, Faces: []facet.Face{face(happy, 40, 0.4)}})
	s.Add(facet.Frame{T: 0.6, Faces: []facet.Face{face(sad, 50, 0.3)}})
	got := s.Summary()
	want := facet.Summary{
		Frames: 4, FramesWithFace: 3, FaceRatio: 0.75,
		Emotions: facet.EmotionSummary{
			Mean: facet.Emotions{facet.Happy: 1.6 / 3, facet.Sad: 0.2, facet.Neutral: 0.8 / 3},
			Peak: facet.Emotions{facet.Happy: 0.8, facet.Sad: 0.6, facet.Neutral: 0.4},
		},
		Dominant:    facet.Emotions{facet.Happy: 2.0 / 3, facet.Sad: 1.0 / 3},
		ValenceMean: facet.NumPtr((0.8 + 0.8 - 0.6) / 3),
		Age:         &facet.AgeSummary{Median: 40, P10: 30, P90: 50},
		Gender:      &facet.GenderSummary{Label: "woman", Confidence: facet.Num(1 - 0.9/3)},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-9 })); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}

	var none Summarizer
	none.Add(facet.Frame{T: 0})
	if got := none.Summary(); got.ValenceMean != nil || got.Age != nil || got.Gender != nil || got.FaceRatio != 0 || got.Frames != 1 {
		t.Errorf("no face: %+v", got)
	}
	// Without age and gender models the fields stay null.
	var noAge Summarizer
	noAge.Add(facet.Frame{Faces: []facet.Face{face(happy, math.NaN(), math.NaN())}})
	if got := noAge.Summary(); got.Age != nil || got.Gender != nil || got.ValenceMean == nil {
		t.Errorf("no age model: %+v", got)
	}
}

func TestAgePercentiles(t *testing.T) {
	var s Summarizer
	for i := 1; i <= 100; i++ {
		s.Add(facet.Frame{Faces: []facet.Face{face(facet.Emotions{facet.Neutral: 1}, float64(i), 0.5)}})
	}
	a := s.Summary().Age
	if a.Median != 50 || a.P10 != 10 || a.P90 != 90 {
		t.Errorf("percentiles %+v", a)
	}
}

// fakeSource yields n frames whose first byte encodes the frame number.
type fakeSource struct {
	n, i int
	err  error // returned instead of io.EOF at the end
}

func (s *fakeSource) ReadFrame(dst []byte) (float64, error) {
	if s.i >= s.n {
		if s.err != nil {
			return 0, s.err
		}
		return 0, io.EOF
	}
	dst[0] = byte(s.i)
	s.i++
	return float64(s.i-1) / 5, nil
}

// fakeModels finds a face in even frames, with an emotion read from the
// pixels, and fails on frame failAt.
type fakeModels struct {
	failAt int
	calls  atomic.Int64
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
	return []Detection{{Box: Box{0.1, 0.1, 0.4, 0.5}, Score: 0.99}}, nil
}

func (m *fakeModels) Describe(img Image, faces []Detection) ([]Attributes, error) {
	a := Attributes{Age: 30, Man: 0.3}
	a.Emotions[int(img.Pix[0])%7] = 1
	return []Attributes{a}, nil
}

func TestRunOrderAndSummary(t *testing.T) {
	var got []facet.Frame
	sum, err := Run(context.Background(), &fakeSource{n: 50}, &fakeModels{failAt: -1},
		Options{Width: 4, Height: 2, Workers: 4, OnFrame: func(f facet.Frame) error { got = append(got, f); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 50 || sum.Frames != 50 || sum.FramesWithFace != 25 {
		t.Fatalf("frames %d, summary %+v", len(got), sum)
	}
	for i, f := range got {
		if math.Abs(float64(f.T)-float64(i)/5) > 1e-9 {
			t.Fatalf("frame %d out of order: t=%v", i, f.T)
		}
		if i%2 == 0 {
			if len(f.Faces) != 1 || f.Faces[0].Dominant != facet.EmotionLabels[i%7] || f.Faces[0].Track != 1 {
				t.Fatalf("frame %d: %+v", i, f.Faces)
			}
		} else if len(f.Faces) != 0 {
			t.Fatalf("frame %d: unexpected faces", i)
		}
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
		{"model error", &fakeSource{n: 200}, &fakeModels{failAt: 7}, nil, "analysis: frame 7: runtime broke"},
		{"decode error", &fakeSource{n: 3, err: bad}, &fakeModels{failAt: -1}, nil, "analysis: decode frame 3: corrupt data"},
		{"sink error", &fakeSource{n: 200}, &fakeModels{failAt: -1}, func(f facet.Frame) error {
			if f.T > 1 {
				return errors.New("disk full")
			}
			return nil
		}, "disk full"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Run(context.Background(), c.src, c.m, Options{Width: 2, Height: 2, Workers: 3, OnFrame: c.on})
			if err == nil || err.Error() != c.want {
				t.Fatalf("got %v, want %q", err, c.want)
			}
			// It stopped early instead of analysing the rest.
			if n := c.m.calls.Load(); n > 50 {
				t.Errorf("%d frames analysed after the error", n)
			}
		})
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
