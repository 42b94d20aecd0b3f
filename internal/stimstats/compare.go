package stimstats

import (
	"math"
	"slices"

	"github.com/humaninsight/facet"
)

// Methods of a Comparison.
const (
	// MethodWelch compares two independent groups of participants
	// (between-subjects) by Welch's t interval, which does not assume the
	// two groups' variances equal.
	MethodWelch = "welch"
	// MethodPaired compares the same participants under both stimuli
	// (within-subjects) by the t interval of their per-person differences.
	MethodPaired = "paired"
)

// Comparison is the A/B comparison of two stimuli that share a timeline
// (two versions of one ad, say), so that one set of bins and segments
// applies to both. Every difference is A minus B.
//
// Whole and each segment answer a question set before looking at the
// data, at 95 % each: with several segments and eight figures, about one
// difference in twenty is expected to "differ" by chance alone when the
// stimuli do not differ at all, and more when segments are drawn where
// the curves looked apart. Bins are pointwise intervals for a difference
// curve: read them as a curve, and test claims on segments.
type Comparison struct {
	// Method is MethodPaired when every participant saw both stimuli and
	// MethodWelch otherwise.
	Method   string            `json:"method"`
	Whole    Contrast          `json:"whole"`
	Segments []SegmentContrast `json:"segments"`
	Bins     []BinContrast     `json:"bins"`
}

// Contrast compares A and B over one stretch of stimulus time.
type Contrast struct {
	// NA and NB count the participants with a described face in the
	// stretch under each stimulus.
	NA int `json:"nA"`
	NB int `json:"nB"`
	// Pairs counts the participants with a described face in the stretch
	// under both stimuli, the N of a paired comparison; null for Welch.
	Pairs    *int                  `json:"pairs"`
	Emotions ByEmotion[Difference] `json:"emotions"`
	Valence  Difference            `json:"valence"`
}

// Difference is the difference of the means of one figure, A minus B, with
// its 95 % confidence interval. Null fields are undefined: Diff without a
// participant on either side (without a pair, when paired); the interval,
// DF and Differs with fewer than two on either side (two pairs). When the
// participants' values do not vary at all the interval is the difference
// itself, and DF is null under Welch, whose formula is then 0/0.
type Difference struct {
	Diff  *facet.Num `json:"diff"`
	Lower *facet.Num `json:"lower"`
	Upper *facet.Num `json:"upper"`
	// DF is the degrees of freedom of the t quantile: Welch-Satterthwaite's
	// (not a whole number) or pairs minus one.
	DF *facet.Num `json:"df"`
	// Differs reports that the interval excludes 0.
	Differs *bool `json:"differs"`
}

// SegmentContrast compares A and B over one segment.
type SegmentContrast struct {
	Name  string    `json:"name"`
	FromS facet.Num `json:"fromS"`
	ToS   facet.Num `json:"toS"`
	Contrast
}

// BinContrast compares A and B over one time bin.
type BinContrast struct {
	StartS facet.Num `json:"startS"`
	EndS   facet.Num `json:"endS"`
	Contrast
}

// Compare compares stimulus A (samples a) with stimulus B (samples b) over
// the whole stimulus [0, durationS), each segment and each bin, with bins
// and durationS as in Bins. Each participant's means are taken first, as
// everywhere in this package.
//
// When the participants of a and b are the same people, and at least one,
// the comparison is paired: a person's reading of A and of B share their
// face, their expressiveness and their mood, and the difference within
// each person cancels all that, so the interval is narrower for the same
// data. A participant without a face in a stretch under one stimulus
// drops out of that stretch's pairs. Otherwise the groups are taken as
// different people (between-subjects) and compared by Welch's interval.
// With some people in both groups and some in one, neither design holds;
// Welch is used, and where the shared people's readings of A and B
// correlate positively, as one person's usually do, its interval is wider
// than the truth, so a difference it finds is not one it made up.
func Compare(a, b []Sample, binS, durationS float64, segments []SegmentSpec) Comparison {
	if binS <= 0 || math.IsNaN(binS) {
		binS = DefaultBinS
	}
	pids := participantIndex(a, b)
	paired := samePeople(a, b)
	out := Comparison{Method: MethodWelch, Segments: make([]SegmentContrast, 0, len(segments))}
	if paired {
		out.Method = MethodPaired
	}
	sa, sb := sortSamples(a, pids), sortSamples(b, pids)
	whole := spanOf(0, durationS)
	crit := criticals{}
	out.Whole = contrast(sa.cells(whole, 1)[0], sb.cells(whole, 1)[0], paired, crit)
	for _, s := range segments {
		span := spanOf(s.FromS, s.ToS)
		c := contrast(sa.cells(span, 1)[0], sb.cells(span, 1)[0], paired, crit)
		out.Segments = append(out.Segments, SegmentContrast{Name: s.Name, FromS: facet.Num(s.FromS), ToS: facet.Num(s.ToS), Contrast: c})
	}
	n := binCount(binS, durationS)
	out.Bins = make([]BinContrast, n)
	if n == 0 {
		return out
	}
	bin := binOf(binS, durationS, n)
	ca, cb := sa.cells(bin, n), sb.cells(bin, n)
	for k := range out.Bins {
		out.Bins[k] = BinContrast{StartS: facet.Num(float64(k) * binS), EndS: facet.Num(min(float64(k+1)*binS, durationS)),
			Contrast: contrast(ca[k], cb[k], paired, crit)}
	}
	return out
}

// samePeople reports whether a and b hold the same, non-empty, set of
// participants.
func samePeople(a, b []Sample) bool {
	ids := func(s []Sample) []string {
		out := make([]string, 0, len(s))
		for i := range s {
			out = append(out, s[i].Participant)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	pa, pb := ids(a), ids(b)
	return len(pa) > 0 && slices.Equal(pa, pb)
}

// contrast compares the cells of one stretch under A and under B.
func contrast(ca, cb []cell, paired bool, crit criticals) Contrast {
	fa, fb := faceCells(ca), faceCells(cb)
	c := Contrast{NA: len(fa), NB: len(fb)}
	if paired {
		fa, fb = matchPairs(fa, fb)
		c.Pairs = new(len(fa))
	}
	xa, xb := make([]float64, len(fa)), make([]float64, len(fb))
	for j := range nFig {
		for i := range fa {
			xa[i] = fa[i].mean(j)
		}
		for i := range fb {
			xb[i] = fb[i].mean(j)
		}
		var d Difference
		if paired {
			for i := range xa {
				xa[i] -= xb[i]
			}
			d = pairedDifference(xa, crit)
		} else {
			d = welchDifference(xa, xb)
		}
		if j == valenceFig {
			c.Valence = d
		} else {
			c.Emotions[j] = d
		}
	}
	return c
}

// faceCells returns the cells with a described face, in their order.
func faceCells(cells []cell) []*cell {
	out := make([]*cell, 0, len(cells))
	for i := range cells {
		if cells[i].faces > 0 {
			out = append(out, &cells[i])
		}
	}
	return out
}

// matchPairs keeps the cells of participants present in both a and b, both
// sorted by participant, so that a[i] and b[i] are one person's. It
// filters in place: the kept prefix never overtakes the scan.
func matchPairs(a, b []*cell) ([]*cell, []*cell) {
	k := 0
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i].pid < b[j].pid:
			i++
		case a[i].pid > b[j].pid:
			j++
		default:
			a[k], b[k] = a[i], b[j]
			k++
			i++
			j++
		}
	}
	return a[:k], b[:k]
}

// welchDifference is the difference of the means of xa and xb with Welch's
// interval: the standard error sqrt(va/na + vb/nb) and the
// Welch-Satterthwaite degrees of freedom
//
//	df = (va/na + vb/nb)² / ((va/na)²/(na-1) + (vb/nb)²/(nb-1)),
//
// computed from the shares w of each side in the squared standard error,
// df = 1 / (wa²/(na-1) + wb²/(nb-1)), which cannot underflow.
func welchDifference(xa, xb []float64) Difference {
	na, nb := len(xa), len(xb)
	if na == 0 || nb == 0 {
		return Difference{}
	}
	ma, sa := meanSD(xa)
	mb, sb := meanSD(xb)
	diff := ma - mb
	if na < 2 || nb < 2 {
		return Difference{Diff: facet.NumPtr(diff)}
	}
	ea, eb := sa*sa/float64(na), sb*sb/float64(nb)
	se := math.Sqrt(ea + eb)
	if se == 0 {
		return pointDifference(diff, nil)
	}
	wa, wb := ea/(ea+eb), eb/(ea+eb)
	df := 1 / (wa*wa/float64(na-1) + wb*wb/float64(nb-1))
	return interval(diff, critical(df)*se, df)
}

// pairedDifference is the mean of the per-person differences d with the
// one-sample t interval on n-1 degrees of freedom.
func pairedDifference(d []float64, crit criticals) Difference {
	n := len(d)
	if n == 0 {
		return Difference{}
	}
	m, sd := meanSD(d)
	if n < 2 {
		return Difference{Diff: facet.NumPtr(m)}
	}
	df := float64(n - 1)
	if sd == 0 {
		return pointDifference(m, facet.NumPtr(df))
	}
	return interval(m, crit.at(n-1)*sd/math.Sqrt(float64(n)), df)
}

// interval is diff ± half on df degrees of freedom.
func interval(diff, half, df float64) Difference {
	lo, hi := diff-half, diff+half
	differs := lo > 0 || hi < 0
	return Difference{Diff: facet.NumPtr(diff), Lower: facet.NumPtr(lo), Upper: facet.NumPtr(hi),
		DF: facet.NumPtr(df), Differs: &differs}
}

// pointDifference is the interval of values that do not vary: the
// difference itself, which differs from 0 unless it is 0.
func pointDifference(diff float64, df *facet.Num) Difference {
	differs := diff != 0
	return Difference{Diff: facet.NumPtr(diff), Lower: facet.NumPtr(diff), Upper: facet.NumPtr(diff),
		DF: df, Differs: &differs}
}
