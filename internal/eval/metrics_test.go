package eval

import (
	"math"
	"testing"

	"github.com/humaninsight/facet"
)

const tol = 1e-9

// num compares an optional figure with a hand-computed one; want NaN means
// the figure must be undefined (nil).
func num(t *testing.T, what string, got *facet.Num, want float64) {
	t.Helper()
	switch {
	case math.IsNaN(want) && got != nil:
		t.Errorf("%s = %v, want undefined", what, float64(*got))
	case math.IsNaN(want):
	case got == nil:
		t.Errorf("%s undefined, want %v", what, want)
	case math.Abs(float64(*got)-want) > tol:
		t.Errorf("%s = %v, want %v", what, float64(*got), want)
	}
}

var undefined = math.NaN()

// emo is a record with a true and a predicted emotion; pred NoEmotion
// means no face was found.
func emo(truth, pred int) Record {
	return Record{Kind: Image, Truth: Truth{Emotion: truth}, Pred: Prediction{Face: pred != NoEmotion, Emotion: pred}}
}

func TestEmotions(t *testing.T) {
	const H, S, N, X = facet.Happy, facet.Sad, facet.Neutral, NoEmotion
	cases := []struct {
		name     string
		recs     []Record
		n, hits  int
		noFace   int
		confused map[[2]int]int // [truth, column] -> count; column 7 = no face
		recall   map[int]float64
		balanced float64
		accuracy float64
	}{
		{
			// On paper, three classes:
			//   truth happy   (4): happy 2, neutral 1, no face 1 -> recall 2/4
			//   truth sad     (2): sad 1, happy 1                -> recall 1/2
			//   truth neutral (4): neutral 3, sad 1              -> recall 3/4
			// balanced = (0.5 + 0.5 + 0.75) / 3 = 0.58333...
			// accuracy = (2 + 1 + 3) / 10 = 0.6
			// The record without a true emotion counts nowhere.
			name: "three classes",
			recs: []Record{
				emo(H, H), emo(H, H), emo(H, N), emo(H, X),
				emo(S, S), emo(S, H),
				emo(N, N), emo(N, N), emo(N, N), emo(N, S),
				emo(X, H),
			},
			n: 10, hits: 6, noFace: 1,
			confused: map[[2]int]int{{H, H}: 2, {H, N}: 1, {H, 7}: 1, {S, S}: 1, {S, H}: 1, {N, N}: 3, {N, S}: 1},
			recall:   map[int]float64{H: 0.5, S: 0.5, N: 0.75},
			balanced: 1.75 / 3, accuracy: 0.6,
		},
		{
			// Imbalance: 9 neutral all right, 1 happy missed. Plain accuracy
			// 0.9 flatters; balanced = (1 + 0) / 2 = 0.5.
			name: "imbalanced",
			recs: []Record{
				emo(N, N), emo(N, N), emo(N, N), emo(N, N), emo(N, N),
				emo(N, N), emo(N, N), emo(N, N), emo(N, N), emo(H, N),
			},
			n: 10, hits: 9,
			confused: map[[2]int]int{{N, N}: 9, {H, N}: 1},
			recall:   map[int]float64{N: 1, H: 0},
			balanced: 0.5, accuracy: 0.9,
		},
		{
			name: "no labels", recs: []Record{emo(X, H)},
			confused: map[[2]int]int{}, recall: map[int]float64{},
			balanced: undefined, accuracy: undefined,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := Emotions(c.recs)
			if e.N != c.n || e.Hits != c.hits || e.NoFace != c.noFace {
				t.Errorf("n %d hits %d no face %d, want %d %d %d", e.N, e.Hits, e.NoFace, c.n, c.hits, c.noFace)
			}
			for i := range e.Confusion {
				for j, got := range e.Confusion[i] {
					if want := c.confused[[2]int{i, j}]; got != want {
						t.Errorf("confusion[%s][%s] = %d, want %d", facet.EmotionLabels[i], e.Columns[j], got, want)
					}
				}
			}
			for i, cl := range e.Classes {
				want, ok := c.recall[i]
				if !ok {
					want = undefined
				}
				num(t, "recall "+cl.Label, cl.Recall, want)
			}
			num(t, "balanced accuracy", e.BalancedAccuracy, c.balanced)
			num(t, "accuracy", e.Accuracy, c.accuracy)
			if len(e.Columns) != 8 || e.Columns[7] != NoFaceColumn || e.Columns[3] != "happy" {
				t.Errorf("columns %v", e.Columns)
			}
		})
	}
}

func gen(truth, pred string, face bool) Record {
	return Record{Truth: Truth{Gender: truth}, Pred: Prediction{Face: face, Gender: pred}}
}

func TestGenders(t *testing.T) {
	recs := []Record{
		gen(Woman, Woman, true),
		gen(Woman, Man, true),
		gen(Woman, Uncertain, true),
		gen(Woman, "", false), // no face
		gen(Man, Man, true),
		gen(Man, "male", true), // a future engine spelling still compares
		gen(Man, "", true),     // a face, but no gender model
		gen(Man, "other", true),
		gen("", Man, true), // no truth: counts nowhere
	}
	g := Genders(recs)
	// On paper: woman 4 = right 1, wrong 1, uncertain 1, no face 1 -> 1/4;
	// man 4 = right 2, no estimate 1, wrong 1 (unknown label) -> 2/4;
	// all 8 = right 3 -> 3/8.
	want := []GenderCounts{
		{Truth: "all", N: 8, Right: 3, Wrong: 2, Uncertain: 1, NoFace: 1, NoEstimate: 1},
		{Truth: Man, N: 4, Right: 2, Wrong: 1, NoEstimate: 1},
		{Truth: Woman, N: 4, Right: 1, Wrong: 1, Uncertain: 1, NoFace: 1},
	}
	acc := []float64{3.0 / 8, 0.5, 0.25}
	got := append([]GenderCounts{g.Overall}, g.ByTruth...)
	for i := range want {
		num(t, want[i].Truth+" accuracy", got[i].Accuracy, acc[i])
		got[i].Accuracy = nil
		if got[i] != want[i] {
			t.Errorf("%+v, want %+v", got[i], want[i])
		}
	}
	empty := Genders(nil)
	num(t, "empty accuracy", empty.Overall.Accuracy, undefined)
	if len(empty.ByTruth) != 2 {
		t.Errorf("by truth %+v, want man and woman always", empty.ByTruth)
	}
}

func age(truth, pred float64) Record {
	r := Record{Truth: Truth{Age: truth, HasAge: true}, Pred: Prediction{Face: true, Age: pred, HasAge: true}}
	if pred < 0 {
		r.Pred = Prediction{}
	}
	return r
}

func TestAges(t *testing.T) {
	type band struct {
		n         int
		mae, bias float64
	}
	cases := []struct {
		name               string
		recs               []Record
		labelled, n, noEst int
		mae, bias, r       float64
		skipR              bool
		bands              [5]band
	}{
		{
			// On paper (error = estimate - truth):
			//   0-12:  8 -> 12 (+4), 12.5 -> 10 (-2.5): MAE 3.25, bias 0.75
			//   13-19: 16 -> 25 (+9)
			//   20-39: 30 -> 28 (-2); 33 without an estimate
			//   40-59: 45 -> 50 (+5)
			//   60+:   70 -> 60 (-10)
			// all: MAE 32.5/6, bias 3.5/6.
			name:     "bands",
			recs:     []Record{age(8, 12), age(12.5, 10), age(16, 25), age(30, 28), age(33, -1), age(45, 50), age(70, 60), {Pred: Prediction{HasAge: true, Age: 3}}},
			labelled: 7, n: 6, noEst: 1,
			mae: 32.5 / 6, bias: 3.5 / 6,
			// Pearson by hand, with sums of squares about the means
			// (truth mean 181.5/6 = 30.25, estimate mean 185/6):
			//   sxx = 8301.25 - 6*30.25^2       = 2810.875
			//   syy = 7753 - 185^2/6            = 12293/6
			//   sxy = 7911 - 181.5*185/6        = 2314.75
			//   r   = 2314.75 / sqrt(2810.875 * 12293/6) = 0.9646 (4 d.p.)
			r:     2314.75 / math.Sqrt(2810.875*(12293.0/6)),
			bands: [5]band{{2, 3.25, 0.75}, {1, 9, 9}, {1, 2, -2}, {1, 5, 5}, {1, 10, -10}},
		},
		{
			// Band edges: 12.99 is still a child, 13 a teenager, 60 is 60+.
			name:     "edges",
			recs:     []Record{age(12.99, 12.99), age(13, 14), age(19.5, 19.5), age(20, 20), age(59.9, 59.9), age(60, 61)},
			labelled: 6, n: 6, mae: 2.0 / 6, bias: 2.0 / 6,
			skipR: true, // TestPearson covers r; here only the bands matter
			bands: [5]band{{1, 0, 0}, {2, 0.5, 0.5}, {1, 0, 0}, {1, 0, 0}, {1, 1, 1}},
		},
		{
			name: "no estimate", recs: []Record{age(40, -1)},
			labelled: 1, noEst: 1, mae: undefined, bias: undefined, r: undefined,
			bands: [5]band{},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := Ages(c.recs)
			if a.Labelled != c.labelled || a.N != c.n || a.NoEstimate != c.noEst {
				t.Errorf("labelled %d n %d no estimate %d, want %d %d %d", a.Labelled, a.N, a.NoEstimate, c.labelled, c.n, c.noEst)
			}
			num(t, "MAE", a.MAE, c.mae)
			num(t, "bias", a.Bias, c.bias)
			if !c.skipR {
				num(t, "Pearson r", a.PearsonR, c.r)
			}
			for i, b := range c.bands {
				got := a.Bands[i]
				if got.Band != AgeBands[i].Band || got.N != b.n {
					t.Errorf("band %s n %d, want %s n %d", got.Band, got.N, AgeBands[i].Band, b.n)
				}
				if b.n == 0 {
					b.mae, b.bias = undefined, undefined
				}
				num(t, "band "+got.Band+" MAE", got.MAE, b.mae)
				num(t, "band "+got.Band+" bias", got.Bias, b.bias)
			}
		})
	}
}

func TestPearson(t *testing.T) {
	cases := []struct {
		name string
		x, y []float64
		want float64
		ok   bool
	}{
		{"line", []float64{1, 2, 3, 4}, []float64{3, 5, 7, 9}, 1, true},
		{"falling", []float64{1, 2, 3}, []float64{6, 4, 2}, -1, true},
		// x mean 2, y mean 11/3: sxy = 3, sxx = 2, syy = 14/3, so
		// r = 3 / sqrt(28/3) = sqrt(27/28).
		{"paper", []float64{1, 2, 3}, []float64{2, 4, 5}, math.Sqrt(27.0 / 28), true},
		{"uncorrelated", []float64{1, 2, 3}, []float64{1, 3, 1}, 0, true},
		{"two pairs", []float64{20, 40}, []float64{50, 30}, -1, true},
		{"one pair", []float64{20}, []float64{25}, 0, false},
		{"constant estimate", []float64{20, 30, 40}, []float64{30, 30, 30}, 0, false},
		{"lengths differ", []float64{1, 2}, []float64{1}, 0, false},
	}
	for _, c := range cases {
		r, ok := Pearson(c.x, c.y)
		if ok != c.ok || math.Abs(r-c.want) > tol {
			t.Errorf("%s: r %v ok %v, want %v %v", c.name, r, ok, c.want, c.ok)
		}
	}
}

func TestFaces(t *testing.T) {
	recs := []Record{
		{Kind: Image, Pred: Prediction{Face: true, FaceRatio: 1}},
		{Kind: Image, Pred: Prediction{}},
		{Kind: Video, Pred: Prediction{Face: true, FaceRatio: 0.9}},
		{Kind: Video, Pred: Prediction{Face: true, FaceRatio: 0.01}},
		{Kind: Video, Pred: Prediction{}},
	}
	// 3 of 5 files with a face; videos (0.9 + 0.01 + 0) / 3.
	f := Faces(recs)
	if f.Files != 5 || f.WithFace != 3 || f.Videos != 3 {
		t.Errorf("%+v", f)
	}
	num(t, "rate", f.Rate, 0.6)
	num(t, "video face ratio", f.VideoFaceRatioMean, 0.91/3)
	none := Faces(recs[:1])
	num(t, "no video", none.VideoFaceRatioMean, undefined)
}
