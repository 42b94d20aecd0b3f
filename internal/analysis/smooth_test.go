package analysis

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/humaninsight/facet"
)

// Two score vectors with every class above zero, so the hand computations
// need no floor: base reads neutral, spike reads happy.
var (
	base  = facet.Emotions{0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.4}
	spike = facet.Emotions{0.04, 0.04, 0.04, 0.7, 0.04, 0.04, 0.1}
)

// seq builds frames 0.2 s apart (5 fps); each entry maps track ids to
// scores, nil for a face found but not described.
func seq(frames ...map[int]*facet.Emotions) []facet.Frame {
	var out []facet.Frame
	for i, faces := range frames {
		f := facet.Frame{T: facet.Num(float64(i) * 0.2), Faces: []facet.Face{}}
		for track := 1; track <= 3; track++ {
			e, ok := faces[track]
			if !ok {
				continue
			}
			if e == nil {
				f.Faces = append(f.Faces, FlaggedFace(track, Detection{}, facet.FaceQuality{}, []string{FlagTooSmall}))
				continue
			}
			f.Faces = append(f.Faces, MakeFace(track, Detection{}, Attributes{Emotions: *e, Age: 30, Man: 0.5}))
		}
		out = append(out, f)
	}
	return out
}

func one(e facet.Emotions) map[int]*facet.Emotions { return map[int]*facet.Emotions{1: &e} }

func smoothAll(t *testing.T, smoothS float64, in []facet.Frame) []facet.Frame {
	t.Helper()
	var out []facet.Frame
	s := NewSmoother(smoothS, func(f facet.Frame) error { out = append(out, f); return nil })
	for _, f := range in {
		if err := s.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	return out
}

// scores returns the happy and neutral scores and the dominant label of
// face i of frame f.
func scores(f facet.Frame, i int) (happy, neutral float64, dom string) {
	fc := f.Faces[i]
	return fc.Emotions[facet.Happy], fc.Emotions[facet.Neutral], *fc.Dominant
}

func TestSmoother(t *testing.T) {
	// At 5 fps a 0.5 s window (t ± 0.25 s) holds a frame and its two
	// neighbours. Worked out by hand (normalised geometric means):
	//
	// spike between two base frames:
	//   happy   ∛(0.1·0.1·0.7)  = 0.19129
	//   neutral ∛(0.4·0.4·0.1)  = 0.25198
	//   others  ∛(0.1·0.1·0.04) = 0.07368 (five of them: 0.36840)
	//   sum 0.81167: happy 0.2357, neutral 0.3104; the spike of 0.7 is
	//   damped three-fold and neutral is dominant again.
	// spike at an end, one neighbour (the window holds only what exists):
	//   happy √(0.7·0.1) = 0.26458, neutral √(0.1·0.4) = 0.2,
	//   others √(0.04·0.1) = 0.06325 (0.31623); sum 0.78081:
	//   happy 0.3389, neutral 0.2561: happy stays dominant.
	cases := []struct {
		name    string
		in      []facet.Frame
		frame   int // which output frame to check
		happy   float64
		neutral float64
		dom     string
	}{
		{"one-frame spike is damped", seq(one(base), one(base), one(spike), one(base), one(base)), 2, 0.2357, 0.3104, "neutral"},
		{"first frame uses the window's existing half", seq(one(spike), one(base), one(base)), 0, 0.3389, 0.2561, "happy"},
		{"last frame uses the window's existing half", seq(one(base), one(base), one(spike)), 2, 0.3389, 0.2561, "happy"},
		{"frames beyond the window do not mix", seq(one(spike), one(base), one(base), one(base)), 2, 0.1, 0.4, "neutral"},
		{"a steady face is unchanged", seq(one(base), one(base), one(base)), 1, 0.1, 0.4, "neutral"},
		{"a flagged face of the track is skipped", seq(one(base), map[int]*facet.Emotions{1: nil}, one(spike)), 2, 0.7, 0.1, "happy"},
	}
	for _, c := range cases {
		out := smoothAll(t, 0.5, c.in)
		if len(out) != len(c.in) {
			t.Fatalf("%s: %d frames out of %d", c.name, len(out), len(c.in))
		}
		happy, neutral, dom := scores(out[c.frame], 0)
		if diff := cmp.Diff([]any{c.happy, c.neutral, c.dom}, []any{happy, neutral, dom}, cmp.Comparer(func(a, b float64) bool { return a-b < 5e-5 && b-a < 5e-5 })); diff != "" {
			t.Errorf("%s: happy, neutral, dominant (-want +got):\n%s", c.name, diff)
		}
		fc := out[c.frame].Faces[0]
		if v := fc.Emotions.Valence(); float64(*fc.Valence) != v {
			t.Errorf("%s: valence %v, not recomputed from the smoothed scores (%v)", c.name, *fc.Valence, v)
		}
	}
}

func TestSmootherKeepsTracksApart(t *testing.T) {
	both := func() map[int]*facet.Emotions { b, s := base, spike; return map[int]*facet.Emotions{1: &b, 2: &s} }
	in := seq(both(), both(), both(), both())
	out := smoothAll(t, 0.5, in)
	// Each track is steady; any mixing would move both.
	for i, f := range out {
		for j, fc := range f.Faces {
			if diff := cmp.Diff(*in[i].Faces[j].Emotions, *fc.Emotions, approx); diff != "" {
				t.Errorf("frame %d track %d (-raw +smoothed):\n%s", i, fc.Track, diff)
			}
		}
	}
}

func TestSmootherRawAndFlagged(t *testing.T) {
	in := seq(one(base), map[int]*facet.Emotions{1: nil, 2: &spike}, one(spike), map[int]*facet.Emotions{}, one(base))
	// Raw mode passes every frame on unchanged, at once.
	var raw []facet.Frame
	s := NewSmoother(0, func(f facet.Frame) error { raw = append(raw, f); return nil })
	for i, f := range in {
		if err := s.Add(f); err != nil || len(raw) != i+1 {
			t.Fatalf("raw: frame %d held back (%v)", i, err)
		}
	}
	if diff := cmp.Diff(in, raw); diff != "" {
		t.Errorf("raw mode changed the frames (-in +out):\n%s", diff)
	}
	// Smoothed, a flagged face stays without estimates, and the input
	// frames are left as they were.
	before := smoothAll(t, 0, in)
	out := smoothAll(t, 0.5, in)
	if fc := out[1].Faces[0]; fc.Described() || fc.Dominant != nil || fc.Valence != nil || len(fc.Flags) != 1 {
		t.Errorf("flagged face after smoothing: %+v", fc)
	}
	if len(out[3].Faces) != 0 {
		t.Errorf("a frame without faces gained some: %+v", out[3])
	}
	if diff := cmp.Diff(before, in); diff != "" {
		t.Errorf("smoothing changed its input (-before +after):\n%s", diff)
	}
}

func TestSmootherMemoryIsFlat(t *testing.T) {
	// At 30 fps a 0.5 s window spans 15 frame intervals: the smoother may
	// hold 0.5*30+2 frames, however long the video.
	sent := 0
	s := NewSmoother(0.5, func(facet.Frame) error { sent++; return nil })
	most := 0
	for i := range 30 * 600 {
		f := facet.Frame{T: facet.Num(float64(i) / 30), Faces: []facet.Face{MakeFace(1, Detection{}, Attributes{Emotions: base})}}
		if err := s.Add(f); err != nil {
			t.Fatal(err)
		}
		most = max(most, len(s.win))
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if sent != 30*600 || most > 17 {
		t.Errorf("sent %d of %d frames, held up to %d, want at most 17", sent, 30*600, most)
	}
}

func TestSmootherStopsOnError(t *testing.T) {
	full := errors.New("disk full")
	s := NewSmoother(0.5, func(facet.Frame) error { return full })
	var err error
	for _, f := range seq(one(base), one(base), one(base), one(base)) {
		if err = s.Add(f); err != nil {
			break
		}
	}
	if !errors.Is(err, full) {
		t.Errorf("error %v, want %v", err, full)
	}
}
