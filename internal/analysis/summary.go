package analysis

import (
	"math"

	"github.com/humaninsight/facet"
)

// ageBins is the resolution of the age histogram: 0.1 year from 0 to 120.
// A histogram keeps the percentiles exact to 0.1 year with memory that does
// not grow with the video's length.
const ageBins = 1201

// maxSizeBin caps the face-size histogram (1 px bins): frames are decoded
// at 640 px by default, and a bigger face changes no flag.
const maxSizeBin = 4096

// MinDemographicFaces is the fewest described faces with an age (or a
// gender) estimate for the summary of a video to state one: a median or a
// mean of one or two frames is a single glance, not an estimate of the
// recording. A still has one frame, and its one face is all there is.
const MinDemographicFaces = 3

// GenderMinConfidence is the mean probability of the larger side under
// which the summary's gender label is "uncertain". Below three to one the
// mean is made of frames the model itself could not tell, and naming a
// gender would turn a near coin-flip into a statement about a person.
const GenderMinConfidence = 0.75

// Summarizer accumulates frames into a facet.Summary. Every face
// observation counts once: a recording usually shows one participant, and
// a tracker that loses and re-finds them must not split their figures.
// Faces not described count as found, and in the quality figures, never
// in the emotion, valence, age or gender figures. It is not safe for
// concurrent use.
type Summarizer struct {
	frames, withFace, withDescribed int
	faces                           int // described faces
	sum, peak                       facet.Emotions
	dominant                        [7]int
	valence                         float64
	ages                            []int32 // histogram, allocated on the first age
	nAges                           int
	man                             float64
	nGender                         int
	q                               qualityAcc
}

// qualityAcc accumulates the faces' quality in memory that does not grow
// with the video's length.
type qualityAcc struct {
	faces, flagged        int     // every face found; those not described
	measured              int     // faces with a quality record
	sizes                 []int32 // histogram of SizePx, 1 px bins
	brightness, sharpness float64 // sums
	posed, turned         int     // faces with a yaw; those turned away
}

// Add counts one frame.
func (s *Summarizer) Add(f facet.Frame) {
	s.frames++
	if len(f.Faces) > 0 {
		s.withFace++
	}
	described := false
	for _, face := range f.Faces {
		s.q.add(face)
		if !face.Described() {
			continue
		}
		described = true
		s.addDescribed(face)
	}
	if described {
		s.withDescribed++
	}
}

// addDescribed counts one described face's estimates.
func (s *Summarizer) addDescribed(face facet.Face) {
	s.faces++
	e := *face.Emotions
	for i, p := range e {
		s.sum[i] += p
		s.peak[i] = max(s.peak[i], p)
	}
	s.dominant[e.Dominant()]++
	if face.Valence != nil {
		s.valence += float64(*face.Valence)
	} else {
		s.valence += e.Valence()
	}
	if face.Age != nil {
		if s.ages == nil {
			s.ages = make([]int32, ageBins)
		}
		bin := int(math.Round(float64(*face.Age) * 10))
		s.ages[min(max(bin, 0), ageBins-1)]++
		s.nAges++
	}
	if face.Gender != nil {
		s.man += float64(face.Gender.Man)
		s.nGender++
	}
}

// add counts one face's quality.
func (a *qualityAcc) add(face facet.Face) {
	a.faces++
	if !face.Described() {
		a.flagged++
	}
	q := face.Quality
	if q == nil {
		return
	}
	a.measured++
	bin := min(max(int(math.Round(float64(q.SizePx))), 0), maxSizeBin)
	if len(a.sizes) <= bin {
		a.sizes = append(a.sizes, make([]int32, bin+1-len(a.sizes))...)
	}
	a.sizes[bin]++
	a.brightness += float64(q.Brightness)
	a.sharpness += float64(q.Sharpness)
	if q.Yaw != nil {
		a.posed++
		if TurnedAway(*q) {
			a.turned++
		}
	}
}

// Summary returns the figures so far. WallS is left to the caller.
func (s *Summarizer) Summary() facet.Summary {
	out := facet.Summary{Frames: s.frames, FramesWithFace: s.withFace, Quality: s.quality()}
	if s.frames > 0 {
		out.FaceRatio = facet.Num(float64(s.withFace) / float64(s.frames))
	}
	if s.faces == 0 {
		return out
	}
	n := float64(s.faces)
	for i := range s.sum {
		out.Emotions.Mean[i] = s.sum[i] / n
		out.Emotions.Peak[i] = s.peak[i]
		out.Dominant[i] = float64(s.dominant[i]) / n
	}
	out.ValenceMean = facet.NumPtr(s.valence / n)
	need := MinDemographicFaces
	if s.frames == 1 { // a still: its one face is all there is
		need = 1
	}
	if s.nAges >= need {
		out.Age = &facet.AgeSummary{
			Median: facet.Num(s.agePercentile(0.5)),
			P10:    facet.Num(s.agePercentile(0.1)),
			P90:    facet.Num(s.agePercentile(0.9)),
			N:      s.nAges,
		}
	}
	if s.nGender >= need {
		out.Gender = genderSummary(s.man/float64(s.nGender), s.nGender)
	}
	return out
}

// genderSummary labels the mean man-probability of n faces.
func genderSummary(man float64, n int) *facet.GenderSummary {
	g := &facet.GenderSummary{Label: facet.GenderMan, Confidence: facet.Num(man), N: n}
	if man < 0.5 {
		g.Label, g.Confidence = facet.GenderWoman, facet.Num(1-man)
	}
	if float64(g.Confidence) < GenderMinConfidence {
		g.Label = facet.GenderUncertain
	}
	return g
}

// quality returns the recording's quality figures and flags (nil before
// the first frame).
func (s *Summarizer) quality() *facet.RecordingQuality {
	if s.frames == 0 {
		return nil
	}
	a := &s.q
	q := &facet.RecordingQuality{
		DescribedRatio: facet.Num(float64(s.withDescribed) / float64(s.frames)),
		Faces:          a.faces,
	}
	if a.faces > 0 {
		q.Flagged = facet.NumPtr(float64(a.flagged) / float64(a.faces))
	}
	if a.measured > 0 {
		q.FaceSizePx = facet.NumPtr(float64(percentile(a.sizes, a.measured, 0.5)))
		q.Brightness = facet.NumPtr(a.brightness / float64(a.measured))
		q.Sharpness = facet.NumPtr(a.sharpness / float64(a.measured))
	}
	if a.posed > 0 {
		q.TurnedAway = facet.NumPtr(float64(a.turned) / float64(a.posed))
	}
	q.Flags = RecordingFlags(*q)
	return q
}

// agePercentile returns the nearest-rank percentile q of the ages.
func (s *Summarizer) agePercentile(q float64) float64 {
	return float64(percentile(s.ages, s.nAges, q)) / 10
}

// percentile returns the bin of the nearest-rank percentile q of a
// histogram holding n values (the last bin if the counts fall short).
func percentile(hist []int32, n int, q float64) int {
	rank := max(int(math.Ceil(q*float64(n))), 1)
	seen := 0
	for bin, c := range hist {
		seen += int(c)
		if seen >= rank {
			return bin
		}
	}
	return len(hist) - 1
}
