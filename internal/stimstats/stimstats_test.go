package stimstats

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/humaninsight/facet"
)

// t2 is t(0.975, 2) in closed form, (2p-1)/sqrt(2p(1-p)) = 0.95/sqrt(0.04875)
// = 4.302652729749464; t1 is t(0.975, 1) = tan(0.475 π) = 12.706204736174698.
var (
	t2 = 0.95 / math.Sqrt(0.04875)
	t1 = math.Tan(0.475 * math.Pi)
)

// approx compares figures to 1e-9, the precision the hand arithmetic of
// these tests is written to.
var approx = cmp.Options{
	cmp.Comparer(func(x, y facet.Num) bool { return math.Abs(float64(x-y)) <= 1e-9 }),
	cmpopts.EquateApprox(0, 1e-9),
}

// n is a pointer to a figure, for wants.
func n(v float64) *facet.Num { return facet.NumPtr(v) }

// est is an estimate with an interval.
func est(mean, sd, lo, hi float64) Estimate {
	return Estimate{Mean: n(mean), SD: n(sd), Lower: n(lo), Upper: n(hi)}
}

// face is a frame with a described face.
func face(p string, t float64, attentive bool, valence float64, e facet.Emotions) Sample {
	return Sample{Participant: p, T: t, Face: true, Attentive: attentive, Emotions: e, Valence: valence}
}

// noFace is a frame without a described face.
func noFace(p string, t float64) Sample { return Sample{Participant: p, T: t} }

// threeParticipants are the frames of the hand-computed example: three
// participants over two bins of 0.5 s of a 1 s stimulus.
func threeParticipants() []Sample {
	return []Sample{
		// Bin 0: p1 has two faces and a frame without, p2 one face, p3 two.
		face("p1", 0.0, true, 0.6, facet.Emotions{facet.Happy: 0.6, facet.Neutral: 0.4}),
		face("p1", 0.2, true, 0.8, facet.Emotions{facet.Happy: 0.8, facet.Neutral: 0.2}),
		noFace("p1", 0.4),
		face("p2", 0.1, true, 0.4, facet.Emotions{facet.Happy: 0.5, facet.Sad: 0.1, facet.Neutral: 0.4}),
		face("p3", 0.0, false, -0.1, facet.Emotions{facet.Happy: 0.2, facet.Sad: 0.3, facet.Neutral: 0.5}),
		face("p3", 0.2, true, 0.3, facet.Emotions{facet.Happy: 0.4, facet.Sad: 0.1, facet.Neutral: 0.5}),
		// Bin 1: p1 two faces, p2 a frame without; p3 is outside the
		// stimulus (before 0, at its end), which counts nowhere.
		face("p1", 0.6, true, 0.9, facet.Emotions{facet.Happy: 0.9, facet.Neutral: 0.1}),
		face("p1", 0.8, true, 0.7, facet.Emotions{facet.Happy: 0.7, facet.Neutral: 0.3}),
		noFace("p2", 0.6),
		face("p3", -0.1, true, 1, facet.Emotions{facet.Happy: 1}),
		face("p3", 1.0, true, 1, facet.Emotions{facet.Happy: 1}),
	}
}

func TestBinsHandComputed(t *testing.T) {
	r3 := math.Sqrt(3)
	// Bin 0, per participant (mean over their face frames):
	//   happy   p1 (0.6+0.8)/2 = 0.7, p2 0.5, p3 (0.2+0.4)/2 = 0.3
	//   sad     p1 0, p2 0.1, p3 (0.3+0.1)/2 = 0.2
	//   neutral p1 (0.4+0.2)/2 = 0.3, p2 0.4, p3 0.5
	//   valence p1 (0.6+0.8)/2 = 0.7, p2 0.4, p3 (-0.1+0.3)/2 = 0.1
	// Across the N = 3 participants, df 2:
	//   happy   mean 0.5, SD sqrt((0.2²+0²+0.2²)/2) = 0.2,
	//           CI 0.5 ± 4.302652729749464·0.2/√3 = 0.5 ± 0.496827... = [0.003172.., 0.996827..]
	//   sad     mean 0.1, SD 0.1, CI 0.1 ± 0.248413... = [-0.148.., 0.348..], clipped to [0, 0.348413..]
	//   neutral mean 0.4, SD 0.1, CI 0.4 ± 0.248413...
	//   valence mean 0.4, SD sqrt((0.3²+0+0.3²)/2) = 0.3, CI 0.4 ± 0.745241..,
	//           upper clipped to 1
	// Dominant (label of each one's mean): p1 happy, p2 happy, p3 neutral.
	// Face share per participant 2/3, 1, 1: mean 8/9 (frames pooled would
	// give 5/6: p1's extra frame would weigh more), SD sqrt((4/81+1/81+1/81)/2)
	// = sqrt(1/27), CI 8/9 ± t2·sqrt(1/27)/√3 = 8/9 ± t2/9, upper clipped to 1.
	// Attention 2/3, 1, 1/2: mean 13/18, SD sqrt(((-1/18)²+(5/18)²+(-4/18)²)/2)
	// = sqrt(21/324), CI 13/18 ± t2·sqrt(21/324)/√3 = 0.7222.. ± 0.632430..,
	// upper clipped to 1.
	attSD := math.Sqrt(21.0 / 324)
	bin0 := Bin{StartS: 0, EndS: 0.5, Figures: Figures{N: 3, NAll: 3,
		Emotions: ByEmotion[Estimate]{
			facet.Angry: est(0, 0, 0, 0), facet.Disgust: est(0, 0, 0, 0), facet.Fear: est(0, 0, 0, 0),
			facet.Happy:    est(0.5, 0.2, 0.5-t2*0.2/r3, 0.5+t2*0.2/r3),
			facet.Sad:      est(0.1, 0.1, 0, 0.1+t2*0.1/r3),
			facet.Surprise: est(0, 0, 0, 0),
			facet.Neutral:  est(0.4, 0.1, 0.4-t2*0.1/r3, 0.4+t2*0.1/r3),
		},
		Valence:        est(0.4, 0.3, 0.4-t2*0.3/r3, 1),
		Dominant:       &facet.Emotions{facet.Happy: 2.0 / 3, facet.Neutral: 1.0 / 3},
		FaceShare:      est(8.0/9, math.Sqrt(1.0/27), 8.0/9-t2/9, 1),
		AttentionShare: est(13.0/18, attSD, 13.0/18-t2*attSD/r3, 1),
	}}
	// Bin 1: only p1 has a face (N = 1: means, no SD or interval), with
	// happy (0.9+0.7)/2 = 0.8, neutral 0.2, valence 0.8; p2 has a frame
	// (NAll = 2). Face and attention shares 1 and 0: mean 0.5, SD √0.5,
	// CI 0.5 ± t1·√0.5/√2 = 0.5 ± 6.35.., clipped to [0, 1].
	mean := func(v float64) Estimate { return Estimate{Mean: n(v)} }
	bin1 := Bin{StartS: 0.5, EndS: 1, Figures: Figures{N: 1, NAll: 2,
		Emotions: ByEmotion[Estimate]{mean(0), mean(0), mean(0), mean(0.8), mean(0), mean(0), mean(0.2)},
		Valence:  mean(0.8), Dominant: &facet.Emotions{facet.Happy: 1},
		FaceShare: est(0.5, math.Sqrt(0.5), 0, 1), AttentionShare: est(0.5, math.Sqrt(0.5), 0, 1),
	}}
	if diff := cmp.Diff([]Bin{bin0, bin1}, Bins(threeParticipants(), 0.5, 1), approx); diff != "" {
		t.Errorf("bins (-want +got):\n%s", diff)
	}
	// The unclipped bounds, to see that the clip and nothing else moved them.
	if lo := 0.1 - t2*0.1/r3; math.Abs(lo-(-0.148413)) > 1e-6 {
		t.Errorf("sad lower bound before the clip %v", lo)
	}
}

func TestBinsEdges(t *testing.T) {
	happy := facet.Emotions{facet.Happy: 1}
	cases := []struct {
		name            string
		samples         []Sample
		binS, durationS float64
		wantEdges       [][2]float64
		wantNAll        []int
	}{
		{"last bin ends at the duration", []Sample{face("p", 1.1, true, 1, happy)}, 0.5, 1.2,
			[][2]float64{{0, 0.5}, {0.5, 1}, {1, 1.2}}, []int{0, 0, 1}},
		{"default width", []Sample{face("p", 0.5, true, 1, happy)}, 0, 1,
			[][2]float64{{0, 0.5}, {0.5, 1}}, []int{0, 1}},
		// 3*0.1 is 0.30000000000000004, 0.7-0.4 is 0.29999999999999993 and
		// 0.7/0.1 is 6.999999999999999: both frames land in the bin their
		// time names, and 0.7 s makes 7 bins.
		{"times built from steps", []Sample{face("p", 3*0.1, true, 1, happy), face("q", 0.7-0.4, true, 1, happy)}, 0.1, 0.7,
			[][2]float64{{0, 0.1}, {0.1, 0.2}, {0.2, 0.3}, {0.3, 0.4}, {0.4, 0.5}, {0.5, 0.6}, {0.6, 0.7}}, []int{0, 0, 0, 2, 0, 0, 0}},
		{"no duration", []Sample{face("p", 0, true, 1, happy)}, 0.5, 0, nil, nil},
		{"too many bins", nil, 1e-6, 1, nil, nil},
		{"no samples", nil, 0.5, 1, [][2]float64{{0, 0.5}, {0.5, 1}}, []int{0, 0}},
	}
	for _, c := range cases {
		bins := Bins(c.samples, c.binS, c.durationS)
		var edges [][2]float64
		var nAll []int
		for _, b := range bins {
			edges = append(edges, [2]float64{float64(b.StartS), float64(b.EndS)})
			nAll = append(nAll, b.NAll)
		}
		if diff := cmp.Diff(c.wantEdges, edges, approx); diff != "" {
			t.Errorf("%s: edges (-want +got):\n%s", c.name, diff)
		}
		if diff := cmp.Diff(c.wantNAll, nAll); diff != "" {
			t.Errorf("%s: nAll (-want +got):\n%s", c.name, diff)
		}
		if bins == nil {
			t.Errorf("%s: nil bins, want a list", c.name)
		}
	}
}

func TestDominantShares(t *testing.T) {
	e := func(happy, sad, neutral float64) facet.Emotions {
		return facet.Emotions{facet.Happy: happy, facet.Sad: sad, facet.Neutral: neutral}
	}
	samples := []Sample{
		// a: happy in three frames, barely, and sad in two, strongly. Mean
		// happy (0.5·3+0.1·2)/5 = 0.34, sad (0.4·3+0.9·2)/5 = 0.6: sad,
		// though "happy" is the most frequent per-frame label.
		face("a", 0.0, true, 0, e(0.5, 0.4, 0.1)), face("a", 0.1, true, 0, e(0.5, 0.4, 0.1)), face("a", 0.2, true, 0, e(0.5, 0.4, 0.1)),
		face("a", 0.3, true, 0, e(0.1, 0.9, 0)), face("a", 0.4, true, 0, e(0.1, 0.9, 0)),
		// b: a tie of happy and neutral goes to the first label, happy.
		face("b", 0.0, true, 0, e(0.5, 0, 0.5)),
		// c: neutral. d: no face, so not among the N = 3.
		face("c", 0.0, true, 0, e(0.1, 0.1, 0.8)),
		noFace("d", 0.0),
	}
	got := Segment(samples, "all", 0, 1)
	want := &facet.Emotions{facet.Happy: 1.0 / 3, facet.Sad: 1.0 / 3, facet.Neutral: 1.0 / 3}
	if diff := cmp.Diff(want, got.Dominant, approx); diff != "" {
		t.Errorf("dominant (-want +got):\n%s", diff)
	}
	if got.N != 3 || got.NAll != 4 {
		t.Errorf("N %d, NAll %d, want 3, 4", got.N, got.NAll)
	}
	if got := Segment([]Sample{noFace("d", 0)}, "none", 0, 1); got.Dominant != nil || got.Emotions[facet.Happy].Mean != nil {
		t.Errorf("no face: dominant %v, happy %v, want null", got.Dominant, got.Emotions[facet.Happy])
	}
}

func TestSegment(t *testing.T) {
	// The segment [0.2, 0.7) of the three participants holds p1's frames
	// at 0.2 (happy 0.8), 0.4 (no face) and 0.6 (happy 0.9): faces 2 of 3,
	// happy (0.8+0.9)/2 = 0.85; p2's at 0.6 (no face); p3's at 0.2 (happy
	// 0.4). N = 2 (p1, p3), NAll 3.
	// Happy: 0.85 and 0.4, mean 0.625, SD |0.85-0.4|/√2 = 0.45/√2,
	// CI 0.625 ± t1·(0.45/√2)/√2 = 0.625 ± t1·0.225, clipped to [0, 1].
	// Face share: p1 2/3, p2 0, p3 1: mean 5/9. Attention the same here.
	got := Segment(threeParticipants(), "middle", 0.2, 0.7)
	if got.Name != "middle" || got.FromS != 0.2 || got.ToS != 0.7 || got.N != 2 || got.NAll != 3 {
		t.Fatalf("segment %q [%v, %v) N %d NAll %d", got.Name, got.FromS, got.ToS, got.N, got.NAll)
	}
	if diff := cmp.Diff(est(0.625, 0.45/math.Sqrt2, 0, 1), got.Emotions[facet.Happy], approx); diff != "" {
		t.Errorf("happy (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(n(5.0/9), got.FaceShare.Mean, approx); diff != "" {
		t.Errorf("face share (-want +got):\n%s", diff)
	}
	// Valence p1 (0.8+0.9)/2 = 0.85, p3 0.3: mean 0.575, SD 0.55/√2, and
	// t1·0.275 = 3.49 wide each side, clipped to [-1, 1].
	if diff := cmp.Diff(est(0.575, 0.55/math.Sqrt2, -1, 1), got.Valence, approx); diff != "" {
		t.Errorf("valence (-want +got):\n%s", diff)
	}
	if got := Segment(threeParticipants(), "empty", 0.7, 0.2); got.NAll != 0 {
		t.Errorf("reversed segment NAll %d, want 0", got.NAll)
	}
}

func TestJSON(t *testing.T) {
	b, err := json.Marshal(Bins(threeParticipants(), 0.5, 1)[1])
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		`{"startS":0.5,"endS":1,"n":1,"nAll":2,"emotions":{"angry":{"mean":0,"sd":null,"lower":null,"upper":null},"disgust":`,
		`"happy":{"mean":0.8,"sd":null,"lower":null,"upper":null}`,
		`"valence":{"mean":0.8,"sd":null,"lower":null,"upper":null},"dominant":{"angry":0,"disgust":0,"fear":0,"happy":1,`,
		`"faceShare":{"mean":0.5,"sd":0.7071,"lower":0,"upper":1},"attentionShare":`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("JSON lacks %s:\n%s", want, s)
		}
	}
	var back ByEmotion[Estimate]
	if err := json.Unmarshal([]byte(`{"happy":{"mean":0.5}}`), &back); err != nil || back[facet.Happy].Mean == nil || *back[facet.Happy].Mean != 0.5 {
		t.Errorf("unmarshal: %v %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"joy":{}}`), &back); err == nil {
		t.Error("unknown label: no error")
	}
}

// randomStudy makes frames at 5 fps for participants over durationS, with
// gaps without a face and random emotions.
func randomStudy(r *rand.Rand, prefix string, participants int, durationS float64) []Sample {
	var out []Sample
	for p := range participants {
		id := prefix + string(rune('A'+p%26)) + strings.Repeat("x", p/26)
		for t := 0.0; t < durationS; t += 0.2 {
			s := Sample{Participant: id, T: t, Face: r.Float64() < 0.85}
			if s.Face {
				var sum float64
				for j := range s.Emotions {
					s.Emotions[j] = r.Float64()
					sum += s.Emotions[j]
				}
				for j := range s.Emotions {
					s.Emotions[j] /= sum
				}
				s.Valence = s.Emotions.Valence()
				s.Attentive = r.Float64() < 0.9
			}
			out = append(out, s)
		}
	}
	return out
}

// TestOrderChangesNothing shuffles the samples: every figure must be the
// same, bit for bit.
func TestOrderChangesNothing(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	a := randomStudy(r, "p", 30, 10)
	b := randomStudy(r, "p", 30, 10)
	segs := []SegmentSpec{{"start", 0, 2.5}, {"end", 7, 10}}
	bins, seg, cmpAB := Bins(a, 0.5, 10), Segment(a, "s", 1, 4), Compare(a, b, 0.5, 10, segs)
	for range 3 {
		r.Shuffle(len(a), func(i, j int) { a[i], a[j] = a[j], a[i] })
		r.Shuffle(len(b), func(i, j int) { b[i], b[j] = b[j], b[i] })
		if diff := cmp.Diff(bins, Bins(a, 0.5, 10)); diff != "" {
			t.Fatalf("bins after a shuffle (-before +after):\n%s", diff)
		}
		if diff := cmp.Diff(seg, Segment(a, "s", 1, 4)); diff != "" {
			t.Fatalf("segment after a shuffle (-before +after):\n%s", diff)
		}
		if diff := cmp.Diff(cmpAB, Compare(a, b, 0.5, 10, segs)); diff != "" {
			t.Fatalf("comparison after a shuffle (-before +after):\n%s", diff)
		}
	}
}

// TestFrameCountDoesNotWeigh gives one participant six frames for every
// one (a 30 fps recording of the same expressions, a few hundredths of a
// second apart within each bin): the participant's means do not change,
// and so no figure may.
func TestFrameCountDoesNotWeigh(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	samples := randomStudy(r, "p", 10, 5)
	var dense []Sample
	for _, s := range samples {
		copies := 1
		if s.Participant == "pA" {
			copies = 6
		}
		t0 := s.T
		for i := range copies {
			s.T = t0 + 0.01*float64(i)
			dense = append(dense, s)
		}
	}
	if diff := cmp.Diff(Bins(samples, 0.5, 5), Bins(dense, 0.5, 5), approx); diff != "" {
		t.Errorf("bins (-5 fps +30 fps):\n%s", diff)
	}
	if diff := cmp.Diff(Segment(samples, "s", 0, 5), Segment(dense, "s", 0, 5), approx); diff != "" {
		t.Errorf("segment (-5 fps +30 fps):\n%s", diff)
	}
}
