// Package stimstats aggregates the analysed frames of many participants
// who watched one stimulus, placed on the stimulus's own timeline, into
// the figures of a stimulus study: per time bin and per segment, the mean
// of each emotion and of valence with a 95 % confidence interval, the
// share of participants per dominant emotion, and the face and attention
// shares; and the A/B comparison of two stimuli.
//
// The statistical unit is the participant, never the frame. Frames of one
// person a fifth of a second apart are not independent observations: a
// smile that lasts two seconds is one reaction, not ten. Each participant's
// frames within a bin or a segment are averaged first; means, standard
// deviations and confidence intervals are then taken across participants,
// so that a participant with more frames (a longer session, a higher frame
// rate, a face found more often) weighs no more than one with fewer, and
// the interval's N is the number of people, as its t quantile assumes.
//
// Intervals are Student's t intervals over the participants' means, with
// N-1 degrees of freedom. They assume the participants are a random sample
// of the audience and their means roughly normal, which the central limit
// theorem makes reasonable from a few dozen participants; with a handful
// the interval is a guide, not a guarantee. An interval is clipped to the
// range its figure can take (0..1, or -1..1 for valence): the true mean
// lies in that range, so the clip never drops it from the interval and
// only keeps a chart from promising negative probabilities.
//
// Everything here is pure: no I/O, and the same samples in any order give
// the same figures, bit for bit.
package stimstats

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/humaninsight/facet"
)

// DefaultBinS is the bin width callers use when the client names none:
// as wide as the smoothing window of the analysis (facet.DefaultSmoothS),
// so that one bin holds a few frames of each participant at 5 fps, and
// narrower than most facial expressions, which last 0.5 to 4 s.
const DefaultBinS = 0.5

// MaxBins bounds the bins one call makes; Bins and Compare make none past
// it, since a bin width that small for the stimulus is a caller's error
// and would only allocate.
const MaxBins = 100_000

// Level is the confidence level of every interval.
const Level = 0.95

// timeEps shifts every stimulus time before it is compared with a bin or
// segment edge: frame times built by adding frame steps (3 * 0.1 =
// 0.30000000000000004, or just under) then land in the bin whose start
// they name. A nanosecond is far below any frame interval.
const timeEps = 1e-9

// Sample is one analysed frame of one participant, placed on the
// stimulus's timeline.
type Sample struct {
	// Participant identifies the person; frames with the same value are
	// one participant's, in any order.
	Participant string `json:"participant"`
	// T is the stimulus time of the frame in seconds from the stimulus's
	// start (not the recording's).
	T float64 `json:"t"`
	// Face reports a described face: only then do Emotions and Valence
	// hold. A face found but too small or dark to describe is no face
	// here, so that the face share says how much of the time the emotion
	// figures can speak for.
	Face bool `json:"face"`
	// Attentive reports a face present and facing the screen, as the
	// caller judges it; it is counted as given.
	Attentive bool `json:"attentive"`
	// Emotions are the face's probabilities in facet.EmotionLabels order.
	Emotions facet.Emotions `json:"emotions"`
	// Valence is the face's valence as the analysis gave it. It is taken
	// as given, not derived from Emotions: the mean of per-frame valences
	// is not the valence of mean emotions, and the analysis's per-frame
	// figure is the one the report shows.
	Valence float64 `json:"valence"`
}

// Estimate is the mean of one figure across participants with its 95 %
// confidence interval. Fields are null where undefined: Mean when no
// participant contributed, SD, Lower and Upper when fewer than two did.
type Estimate struct {
	Mean  *facet.Num `json:"mean"`
	SD    *facet.Num `json:"sd"` // sample standard deviation of the participants' means
	Lower *facet.Num `json:"lower"`
	Upper *facet.Num `json:"upper"`
}

// ByEmotion holds one value per label in facet.EmotionLabels order. It
// marshals as an object keyed by label, in that order, as facet.Emotions
// does, so that exports and charts list the emotions alike everywhere.
type ByEmotion[T any] [7]T

// MarshalJSON writes {"angry":v,...,"neutral":v}.
func (e ByEmotion[T]) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, l := range facet.EmotionLabels {
		if i > 0 {
			b.WriteByte(',')
		}
		v, err := json.Marshal(e[i])
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "%q:", l)
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads an object keyed by label; unknown labels are an
// error, missing ones keep the zero value.
func (e *ByEmotion[T]) UnmarshalJSON(data []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	*e = ByEmotion[T]{}
	for k, v := range m {
		i := facet.EmotionIndex(k)
		if i < 0 {
			return fmt.Errorf("unknown emotion %q", k)
		}
		if err := json.Unmarshal(v, &e[i]); err != nil {
			return fmt.Errorf("emotion %q: %w", k, err)
		}
	}
	return nil
}

// Figures are the aggregates of one stretch of stimulus time (a bin or a
// segment) across participants.
type Figures struct {
	// N counts the participants with a described face in the stretch: the
	// N of every emotion and valence estimate and of the dominant shares.
	N int `json:"n"`
	// NAll counts the participants with any frame in the stretch: the N
	// of the face and attention shares.
	NAll int `json:"nAll"`
	// Emotions and Valence are the means over the N participants of each
	// participant's mean over their face frames in the stretch.
	Emotions ByEmotion[Estimate] `json:"emotions"`
	Valence  Estimate            `json:"valence"`
	// Dominant is the share of the N participants whose dominant emotion
	// in the stretch (the label of their mean emotions, the first label on
	// a tie) is each label; null when N is 0. The label of the mean, not
	// the most frequent per-frame label: a participant who is sad in two
	// frames and barely happy in three is sad here.
	Dominant *facet.Emotions `json:"dominant"`
	// FaceShare is the mean over the NAll participants of each one's
	// share of frames with a described face.
	FaceShare Estimate `json:"faceShare"`
	// AttentionShare is the mean over the NAll participants of each one's
	// share of attentive frames.
	AttentionShare Estimate `json:"attentionShare"`
}

// Bin is the figures of one time bin [StartS, EndS) of the stimulus.
type Bin struct {
	StartS facet.Num `json:"startS"`
	EndS   facet.Num `json:"endS"`
	Figures
}

// SegmentSpec is a stretch of a stimulus that the client names, from FromS
// (included) to ToS (excluded), in seconds of stimulus time.
type SegmentSpec struct {
	Name  string  `json:"name"`
	FromS float64 `json:"fromS"`
	ToS   float64 `json:"toS"`
}

// SegmentResult is the figures of one segment.
type SegmentResult struct {
	Name  string    `json:"name"`
	FromS facet.Num `json:"fromS"`
	ToS   facet.Num `json:"toS"`
	Figures
}

// Bins returns the figures of each bin [k*binS, (k+1)*binS) of a stimulus
// durationS seconds long, in time order, every bin present even when no
// participant has a frame in it; the last bin ends at durationS. A binS of
// 0 or less means DefaultBinS. Samples outside [0, durationS) are ignored.
// It returns an empty slice for a durationS of 0 or less, or when the bins
// would be more than MaxBins.
func Bins(samples []Sample, binS, durationS float64) []Bin {
	return bins(samples, binS, durationS, rawRanges)
}

// CorrectedBins is Bins over baseline-corrected samples (see Calibrate):
// emotions then range over -1..1 and valence over -2..2, and intervals
// are clipped to those ranges instead.
func CorrectedBins(samples []Sample, binS, durationS float64) []Bin {
	return bins(samples, binS, durationS, correctedRanges)
}

// ranges are the values each figure can take: its intervals' clip.
type ranges struct{ emoLo, emoHi, valLo, valHi float64 }

var (
	rawRanges       = ranges{0, 1, -1, 1}
	correctedRanges = ranges{-1, 1, -2, 2}
)

func bins(samples []Sample, binS, durationS float64, r ranges) []Bin {
	if binS <= 0 || math.IsNaN(binS) {
		binS = DefaultBinS
	}
	n := binCount(binS, durationS)
	out := make([]Bin, n)
	if n == 0 {
		return out
	}
	cells := sortSamples(samples, participantIndex(samples)).cells(binOf(binS, durationS, n), n)
	var scratch []float64
	crit := criticals{}
	for k := range out {
		out[k].StartS, out[k].EndS = facet.Num(float64(k)*binS), facet.Num(min(float64(k+1)*binS, durationS))
		out[k].Figures, scratch = figures(cells[k], scratch, crit, r)
	}
	return out
}

// Segment returns the figures of the samples in [fromS, toS). Each
// participant's means are over all their frames in the segment, which at
// a fixed frame rate is their time average over it.
func Segment(samples []Sample, name string, fromS, toS float64) SegmentResult {
	return segment(samples, name, fromS, toS, rawRanges)
}

// CorrectedSegment is Segment over baseline-corrected samples.
func CorrectedSegment(samples []Sample, name string, fromS, toS float64) SegmentResult {
	return segment(samples, name, fromS, toS, correctedRanges)
}

func segment(samples []Sample, name string, fromS, toS float64, r ranges) SegmentResult {
	cells := sortSamples(samples, participantIndex(samples)).cells(spanOf(fromS, toS), 1)
	f, _ := figures(cells[0], nil, criticals{}, r)
	return SegmentResult{Name: name, FromS: facet.Num(fromS), ToS: facet.Num(toS), Figures: f}
}

// Calibrate returns samples corrected by each participant's baseline:
// from each described face's emotions and valence it subtracts the
// participant's mean over their baseline samples (baseline), as
// FaceReader's participant calibration does. A participant without a
// described face in the baseline is left out: nothing to correct by.
// Face and attention are kept as they are.
func Calibrate(samples, baseline []Sample) []Sample {
	type rest struct {
		emo facet.Emotions
		val float64
		n   int
	}
	means := map[string]*rest{}
	for _, b := range baseline {
		if !b.Face {
			continue
		}
		m := means[b.Participant]
		if m == nil {
			m = &rest{}
			means[b.Participant] = m
		}
		for j := range m.emo {
			m.emo[j] += b.Emotions[j]
		}
		m.val += b.Valence
		m.n++
	}
	out := make([]Sample, 0, len(samples))
	for _, s := range samples {
		m := means[s.Participant]
		if m == nil {
			continue
		}
		if s.Face {
			for j := range s.Emotions {
				s.Emotions[j] -= m.emo[j] / float64(m.n)
			}
			s.Valence -= m.val / float64(m.n)
		}
		out = append(out, s)
	}
	return out
}

// binCount is the number of bins of width binS that cover [0, durationS),
// or 0 when there are none or too many. The tolerance keeps a duration
// that is a whole number of bins, give or take rounding (0.7 / 0.1 =
// 6.999999999999999), from gaining or losing a sliver of a bin.
func binCount(binS, durationS float64) int {
	if !(durationS > 0) || math.IsInf(durationS, 0) {
		return 0
	}
	n := math.Ceil(durationS/binS - 1e-9)
	if !(n <= MaxBins) {
		return 0
	}
	return max(int(n), 1)
}

// binOf returns the function that maps a stimulus time to its bin, or -1
// outside [0, durationS).
func binOf(binS, durationS float64, n int) func(float64) int {
	return func(t float64) int {
		t += timeEps
		if !(t >= 0 && t < durationS) { // also NaN
			return -1
		}
		return min(int(t/binS), n-1)
	}
}

// spanOf returns the function that maps a stimulus time to 0 inside
// [fromS, toS) and to -1 outside.
func spanOf(fromS, toS float64) func(float64) int {
	return func(t float64) int {
		t += timeEps
		if t >= fromS && t < toS {
			return 0
		}
		return -1
	}
}

// cell is one participant's frames within one span (a bin or a segment):
// counts, and sums over the face frames of the seven emotions then valence.
type cell struct {
	pid                      int
	frames, faces, attentive int
	sum                      [nFig]float64
}

// nFig is the number of averaged figures: seven emotions, then valence.
const nFig = 8

// valenceFig is valence's index among the figures.
const valenceFig = 7

// mean returns the participant's mean of figure j over their face frames.
func (c *cell) mean(j int) float64 { return c.sum[j] / float64(c.faces) }

// participantIndex numbers the distinct participants of every sample set
// given in sorted order of their ids, so that figures never depend on the
// order participants arrive in, and pairs of A and B share numbers.
func participantIndex(sets ...[]Sample) map[string]int {
	ids := make(map[string]int)
	for _, samples := range sets {
		for i := range samples {
			// One recording's frames usually come together: skip the map
			// while the participant repeats.
			if i == 0 || samples[i].Participant != samples[i-1].Participant {
				ids[samples[i].Participant] = 0
			}
		}
	}
	names := make([]string, 0, len(ids))
	for id := range ids {
		names = append(names, id)
	}
	slices.Sort(names)
	for i, id := range names {
		ids[id] = i
	}
	return ids
}

// sorted is a sample set ordered by participant, then by time, then by
// every other field, so that each participant's frames are summed in one
// order whatever order they came in: floating-point sums depend on their
// order, and shuffled input must give identical figures. Sorted once, it
// is cut into as many sets of spans as needed, each in one pass.
type sorted struct {
	samples []Sample
	keys    []sortKey
}

// sortKey places one sample: its participant's number, its time and its
// index.
type sortKey struct {
	pid int
	t   float64
	i   int
}

// sortSamples sorts samples, numbering participants by pids. It places
// the samples by participant in one counting pass, then sorts each
// participant's frames by time, which in the usual input (each recording
// in time order) are sorted already. Samples without a time (NaN) belong
// to no span and are left out.
func sortSamples(samples []Sample, pids map[string]int) sorted {
	pid := make([]int, len(samples))
	start := make([]int, len(pids)+1)
	for i := range samples {
		if i > 0 && samples[i].Participant == samples[i-1].Participant {
			pid[i] = pid[i-1] // as in participantIndex: spare the map
		} else {
			pid[i] = pids[samples[i].Participant]
		}
		if !math.IsNaN(samples[i].T) {
			start[pid[i]+1]++
		}
	}
	for p := 1; p < len(start); p++ {
		start[p] += start[p-1]
	}
	keys := make([]sortKey, start[len(start)-1])
	next := slices.Clone(start[:len(start)-1])
	for i := range samples {
		if !math.IsNaN(samples[i].T) {
			keys[next[pid[i]]] = sortKey{pid[i], samples[i].T, i}
			next[pid[i]]++
		}
	}
	for p := 1; p < len(start); p++ {
		slices.SortFunc(keys[start[p-1]:start[p]], func(x, y sortKey) int {
			switch {
			case x.t < y.t:
				return -1
			case x.t > y.t:
				return 1
			}
			return compareSamples(&samples[x.i], &samples[y.i])
		})
	}
	return sorted{samples, keys}
}

// cells cuts the samples into per-participant cells of n spans, span
// mapping a time to its span or to -1 to leave the sample out. Each
// span's cells come in participant order. span must not decrease as time
// grows, bar the -1s, which a bin or a single segment never does: then
// one participant's frames of one span are adjacent, and make one cell.
func (s sorted) cells(span func(float64) int, n int) [][]cell {
	// Count first, so that every span's cells share one allocation.
	count := make([]int, n)
	total := 0
	s.each(span, func(sp, _ int, _ *Sample, first bool) {
		if first {
			count[sp]++
			total++
		}
	})
	all := make([]cell, total)
	out := make([][]cell, n)
	off := 0
	for sp, c := range count {
		out[sp] = all[off : off : off+c]
		off += c
	}
	var cur *cell
	s.each(span, func(sp, pid int, sm *Sample, first bool) {
		if first {
			out[sp] = append(out[sp], cell{pid: pid}) // within the capacity counted
			cur = &out[sp][len(out[sp])-1]
		}
		add(cur, sm)
	})
	return out
}

// each calls f for every sample inside a span, in sorted order, telling
// whether it is the first of its participant in its span.
func (s sorted) each(span func(float64) int, f func(sp, pid int, sm *Sample, first bool)) {
	prevPid, prevSpan := -1, -1
	for _, k := range s.keys {
		sm := &s.samples[k.i]
		sp := span(sm.T)
		if sp < 0 {
			continue
		}
		first := k.pid != prevPid || sp != prevSpan
		prevPid, prevSpan = k.pid, sp
		f(sp, k.pid, sm, first)
	}
}

// add counts one frame into its participant's cell.
func add(c *cell, s *Sample) {
	c.frames++
	if s.Attentive {
		c.attentive++
	}
	if !s.Face {
		return
	}
	c.faces++
	for j, p := range s.Emotions {
		c.sum[j] += p
	}
	c.sum[valenceFig] += s.Valence
}

// compareSamples orders two samples of one participant by time, then by
// every other field, so that only identical samples tie.
func compareSamples(a, b *Sample) int {
	if c := cmp.Compare(a.T, b.T); c != 0 {
		return c
	}
	if c := compareBool(a.Face, b.Face); c != 0 {
		return c
	}
	if c := compareBool(a.Attentive, b.Attentive); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Valence, b.Valence); c != 0 {
		return c
	}
	return slices.Compare(a.Emotions[:], b.Emotions[:])
}

// compareBool orders false before true.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// figures aggregates the cells of one span across participants. scratch
// is reused between calls to spare an allocation per bin; the grown
// buffer is returned.
func figures(cells []cell, scratch []float64, crit criticals, r ranges) (Figures, []float64) {
	f := Figures{NAll: len(cells)}
	vals := scratch[:0]
	for i := range cells {
		vals = append(vals, float64(cells[i].faces)/float64(cells[i].frames))
	}
	f.FaceShare = estimate(vals, 0, 1, crit)
	vals = vals[:0]
	for i := range cells {
		vals = append(vals, float64(cells[i].attentive)/float64(cells[i].frames))
	}
	f.AttentionShare = estimate(vals, 0, 1, crit)
	var dominant facet.Emotions
	for j := range nFig {
		vals = vals[:0]
		for i := range cells {
			if cells[i].faces > 0 {
				vals = append(vals, cells[i].mean(j))
			}
		}
		if j == valenceFig {
			f.Valence = estimate(vals, r.valLo, r.valHi, crit)
		} else {
			f.Emotions[j] = estimate(vals, r.emoLo, r.emoHi, crit)
		}
	}
	for i := range cells {
		if c := &cells[i]; c.faces > 0 {
			f.N++
			var m facet.Emotions
			for j := range m {
				m[j] = c.mean(j)
			}
			dominant[m.Dominant()]++
		}
	}
	if f.N > 0 {
		for j := range dominant {
			dominant[j] /= float64(f.N)
		}
		f.Dominant = &dominant
	}
	return f, vals
}

// estimate is the mean of vals with its Student's t interval at Level,
// the interval clipped to [lo, hi], the range the figure can take; never
// past the mean, should a caller's values stray outside that range.
func estimate(vals []float64, lo, hi float64, crit criticals) Estimate {
	n := len(vals)
	if n == 0 {
		return Estimate{}
	}
	m, sd := meanSD(vals)
	e := Estimate{Mean: facet.NumPtr(m)}
	if n < 2 {
		return e
	}
	half := crit.at(n-1) * sd / math.Sqrt(float64(n))
	e.SD = facet.NumPtr(sd)
	e.Lower, e.Upper = facet.NumPtr(max(m-half, min(lo, m))), facet.NumPtr(min(m+half, max(hi, m)))
	return e
}

// meanSD returns the mean and the sample standard deviation (n-1 in the
// denominator; NaN for fewer than two values). Two passes: the one-pass
// formula loses digits when the spread is small next to the mean.
func meanSD(vals []float64) (mean, sd float64) {
	var s float64
	for _, v := range vals {
		s += v
	}
	mean = s / float64(len(vals))
	var ss float64
	for _, v := range vals {
		ss += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(ss / float64(len(vals)-1))
}

// critical is the two-sided critical value of Student's t at Level.
func critical(df float64) float64 {
	return tQuantile(1-(1-Level)/2, df)
}

// criticals memoises critical values by whole degrees of freedom within
// one call: a study's bins mostly share their N, and each value is a root
// search.
type criticals map[int]float64

// at returns the critical value for df degrees of freedom.
func (c criticals) at(df int) float64 {
	v, ok := c[df]
	if !ok {
		v = critical(float64(df))
		c[df] = v
	}
	return v
}
