package stimstats

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/humaninsight/facet"
)

// Student's sleep data (Cushny and Peebles 1905, analysed by "Student",
// Biometrika 1908): extra hours of sleep of ten patients under each of two
// drugs. R ships it as datasets::sleep, and the examples of R's t.test
// print for it, A = drug 1 minus B = drug 2:
//
//	Welch Two Sample t-test: t = -1.8608, df = 17.776,
//	  95 percent confidence interval: -3.3654832  0.2054832
//	Paired t-test: t = -4.0621, df = 9,
//	  95 percent confidence interval: -2.4598858 -0.7001142,
//	  mean difference -1.58
var (
	sleepA = []float64{0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0}
	sleepB = []float64{1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4}
)

// people makes participants prefix1.. with the given values, each as
// three face frames at 0.1, 0.2 and 0.3 s whose mean is the value (so the
// participant's mean is taken first) and a frame without a face. The
// value goes into happy and valence alike.
func people(prefix string, values []float64) []Sample {
	var out []Sample
	for i, v := range values {
		id := fmt.Sprintf("%s%d", prefix, i+1)
		for j, dv := range []float64{-0.05, 0, 0.05} {
			out = append(out, face(id, 0.1*float64(j+1), true, v+dv, facet.Emotions{facet.Happy: v + dv}))
		}
		out = append(out, noFace(id, 0.4))
	}
	return out
}

// diff is a Difference with an interval.
func diff(d, lo, hi, df float64, differs bool) Difference {
	return Difference{Diff: n(d), Lower: n(lo), Upper: n(hi), DF: n(df), Differs: &differs}
}

func TestCompareSleep(t *testing.T) {
	cases := []struct {
		name         string
		a, b         []Sample
		method       string
		want         Difference
		pairs        *int
		tolCI, tolDF float64
	}{
		// Different people: Welch, to R's printed digits.
		{"welch", people("x", sleepA), people("y", sleepB), MethodWelch,
			diff(-1.58, -3.3654832, 0.2054832, 17.776, false), nil, 5e-8, 5e-4},
		// The same ten people under both drugs: paired.
		{"paired", people("p", sleepA), people("p", sleepB), MethodPaired,
			diff(-1.58, -2.4598858, -0.7001142, 9, true), new(10), 5e-8, 0},
	}
	for _, c := range cases {
		got := Compare(c.a, c.b, 0.5, 1, nil)
		if got.Method != c.method {
			t.Errorf("%s: method %q, want %q", c.name, got.Method, c.method)
		}
		if got.Whole.NA != 10 || got.Whole.NB != 10 || !cmp.Equal(got.Whole.Pairs, c.pairs) {
			t.Errorf("%s: nA %d nB %d pairs %v", c.name, got.Whole.NA, got.Whole.NB, got.Whole.Pairs)
		}
		tol := cmp.Comparer(func(x, y facet.Num) bool { return math.Abs(float64(x-y)) <= c.tolCI })
		for _, d := range []struct {
			what string
			got  Difference
		}{{"valence", got.Whole.Valence}, {"happy", got.Whole.Emotions[facet.Happy]}, {"bin 0 valence", got.Bins[0].Valence}} {
			// R prints df to fewer digits than the interval.
			if d.got.DF == nil || math.Abs(float64(*d.got.DF-*c.want.DF)) > c.tolDF {
				t.Errorf("%s: %s df %v, want %v", c.name, d.what, d.got.DF, *c.want.DF)
			}
			d.got.DF = c.want.DF
			if diff := cmp.Diff(c.want, d.got, tol); diff != "" {
				t.Errorf("%s: %s (-want +got):\n%s", c.name, d.what, diff)
			}
		}
		// Nobody has a face in the second bin.
		if b := got.Bins[1]; b.NA != 0 || b.NB != 0 || b.Valence != (Difference{}) {
			t.Errorf("%s: empty bin %+v", c.name, b)
		}
	}
}

func TestCompareHandComputed(t *testing.T) {
	// Welch: A = {0.2, 0.4, 0.6}, mean 0.4, variance 0.04; B = {0.1, 0.3},
	// mean 0.2, variance 0.02. va/na = 1/75, vb/nb = 1/100, sum 7/300:
	// SE sqrt(7/300) = 0.152752..; df = (7/300)² / ((1/75)²/2 + (1/100)²/1)
	// = (49/90000) / (8/90000 + 9/90000) = 49/17 = 2.882352..;
	// t(0.975, 49/17) = 3.257208125479 (SciPy 1.10 stats.t.ppf agrees within
	// 1.1e-12); CI 0.2 ± 3.257208..·0.152752.. = 0.2 ± 0.497549.. = [-0.297549.., 0.697549..].
	// (SciPy's ttest_ind(equal_var=False) gives t = 0.2/0.152752 = 1.3093.)
	se := math.Sqrt(7.0 / 300)
	tq := 3.2572081254789031
	welch := Compare(people("a", []float64{0.2, 0.4, 0.6}), people("b", []float64{0.1, 0.3}), 0.5, 1, nil)
	if diff := cmp.Diff(diff(0.2, 0.2-tq*se, 0.2+tq*se, 49.0/17, false), welch.Whole.Valence, approx); diff != "" {
		t.Errorf("welch (-want +got):\n%s", diff)
	}
	// Paired: a = {0.5, 0.6, 0.7}, b = {0.4, 0.4, 0.6}, differences
	// {0.1, 0.2, 0.1}: mean 0.4/3, SD sqrt(((1/30)²+(2/30)²+(1/30)²)/2) =
	// sqrt(1/300), df 2; CI 0.4/3 ± t2·sqrt(1/300)/√3 = 0.4/3 ± t2/30 =
	// 0.133333.. ± 0.143421.. = [-0.010088.., 0.276755..]: no difference.
	a, b := []float64{0.5, 0.6, 0.7}, []float64{0.4, 0.4, 0.6}
	paired := Compare(people("p", a), people("p", b), 0.5, 1, nil)
	if diff := cmp.Diff(diff(0.4/3, 0.4/3-t2/30, 0.4/3+t2/30, 2, false), paired.Whole.Valence, approx); diff != "" {
		t.Errorf("paired (-want +got):\n%s", diff)
	}
	// The same values from different people, by Welch: va/na = 0.01/3,
	// vb/nb = (0.04/3)/3, shares 3/7 and 4/7, df = 1/((9/49)/2+(16/49)/2) =
	// 98/25 = 3.92; t(0.975, 3.92) = 2.798934931638 (SciPy agrees); SE
	// sqrt(0.07/9) = 0.088191..; half width 0.246840.., wider than the
	// paired 0.143421.. for the same numbers.
	apart := Compare(people("x", a), people("y", b), 0.5, 1, nil)
	half := 2.7989349316382492 * math.Sqrt(0.07/9)
	if diff := cmp.Diff(diff(0.4/3, 0.4/3-half, 0.4/3+half, 3.92, false), apart.Whole.Valence, approx); diff != "" {
		t.Errorf("welch on the paired data (-want +got):\n%s", diff)
	}
}

func TestCompareMethod(t *testing.T) {
	one := func(ids ...string) []Sample {
		var out []Sample
		for _, id := range ids {
			out = append(out, face(id, 0, true, 0.5, facet.Emotions{facet.Happy: 0.5}))
		}
		return out
	}
	cases := []struct {
		name string
		a, b []Sample
		want string
	}{
		{"same people", one("p", "q"), one("q", "p", "p"), MethodPaired},
		{"different people", one("p", "q"), one("r", "s"), MethodWelch},
		{"some in both", one("p", "q"), one("q", "r"), MethodWelch},
		{"a subset", one("p", "q"), one("p"), MethodWelch},
		{"nobody", nil, nil, MethodWelch},
	}
	for _, c := range cases {
		if got := Compare(c.a, c.b, 0.5, 1, nil).Method; got != c.want {
			t.Errorf("%s: method %q, want %q", c.name, got, c.want)
		}
	}
}

func TestCompareUndefined(t *testing.T) {
	val := func(c Comparison) Difference { return c.Whole.Valence }
	cases := []struct {
		name string
		got  Difference
		want Difference
	}{
		{"one participant in A: a difference, no interval",
			val(Compare(people("a", []float64{0.5}), people("b", []float64{0.1, 0.3}), 0.5, 1, nil)),
			Difference{Diff: n(0.3)}},
		{"nobody in B", val(Compare(people("a", []float64{0.5, 0.6}), nil, 0.5, 1, nil)), Difference{}},
		// Values that do not vary: the interval is the difference itself,
		// and Welch's df is 0/0.
		{"no spread, welch",
			val(Compare(people("a", []float64{0.5, 0.5}), people("b", []float64{0.25, 0.25}), 0.5, 1, nil)),
			Difference{Diff: n(0.25), Lower: n(0.25), Upper: n(0.25), Differs: new(true)}},
		{"no spread, paired",
			val(Compare(people("p", []float64{0.5, 0.5}), people("p", []float64{0.5, 0.5}), 0.5, 1, nil)),
			Difference{Diff: n(0), Lower: n(0), Upper: n(0), DF: n(1), Differs: new(false)}},
		{"one pair", val(Compare(people("p", []float64{0.5}), people("p", []float64{0.25}), 0.5, 1, nil)),
			Difference{Diff: n(0.25)}},
	}
	for _, c := range cases {
		if diff := cmp.Diff(c.want, c.got, approx); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
}

func TestCompareSegmentsAndPairs(t *testing.T) {
	// p1..p3 saw both stimuli. In [0.5, 1) p3 has a face under A but not
	// under B, so that segment has 3 in A, 2 in B and 2 pairs: p1 and p2
	// with differences 0.1 and 0.3, mean 0.2, SD sqrt(0.02), df 1,
	// CI 0.2 ± t1·sqrt(0.02)/√2 = 0.2 ± t1·0.1 = [-1.070620.., 1.470620..].
	a := []Sample{
		face("p1", 0.6, true, 0.5, facet.Emotions{facet.Happy: 0.5}),
		face("p2", 0.6, true, 0.6, facet.Emotions{facet.Happy: 0.6}),
		face("p3", 0.6, true, 0.9, facet.Emotions{facet.Happy: 0.9}),
	}
	b := []Sample{
		face("p1", 0.7, true, 0.4, facet.Emotions{facet.Happy: 0.4}),
		face("p2", 0.7, true, 0.3, facet.Emotions{facet.Happy: 0.3}),
		noFace("p3", 0.7),
	}
	segs := []SegmentSpec{{"late", 0.5, 1}, {"early", 0, 0.5}}
	got := Compare(a, b, 0.5, 1, segs)
	if got.Method != MethodPaired || len(got.Segments) != 2 || got.Segments[0].Name != "late" || got.Segments[1].Name != "early" {
		t.Fatalf("method %q, segments %+v", got.Method, got.Segments)
	}
	late := got.Segments[0]
	if late.NA != 3 || late.NB != 2 || *late.Pairs != 2 || late.FromS != 0.5 || late.ToS != 1 {
		t.Errorf("late: nA %d nB %d pairs %d [%v, %v)", late.NA, late.NB, *late.Pairs, late.FromS, late.ToS)
	}
	if diff := cmp.Diff(diff(0.2, 0.2-t1*0.1, 0.2+t1*0.1, 1, false), late.Emotions[facet.Happy], approx); diff != "" {
		t.Errorf("late happy (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(late.Contrast, got.Bins[1].Contrast); diff != "" {
		t.Errorf("bin 1 differs from the segment that covers it:\n%s", diff)
	}
	if early := got.Segments[1]; early.NA != 0 || *early.Pairs != 0 || early.Valence.Diff != nil {
		t.Errorf("early: %+v", early.Contrast)
	}
}

func TestCompareJSON(t *testing.T) {
	c := Compare(people("x", sleepA), people("y", sleepB), 0.5, 1, []SegmentSpec{{"all", 0, 1}})
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		`{"method":"welch","whole":{"nA":10,"nB":10,"pairs":null,"emotions":{"angry":{"diff":0,"lower":0,"upper":0,"df":null,"differs":false},`,
		`"valence":{"diff":-1.58,"lower":-3.3655,"upper":0.2055,"df":17.7765,"differs":false}}`,
		`"segments":[{"name":"all","fromS":0,"toS":1,"nA":10,`,
		`"bins":[{"startS":0,"endS":0.5,"nA":10,`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("JSON lacks %s:\n%s", want, s)
		}
	}
	if b, _ := json.Marshal(Compare(nil, nil, 0.5, 0, nil)); !strings.Contains(string(b), `"segments":[],"bins":[]`) {
		t.Errorf("empty lists: %s", b)
	}
}
