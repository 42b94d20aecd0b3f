package analysis

import (
	"math"

	"github.com/humaninsight/facet"
)

// ageBins is the resolution of the age histogram: 0.1 year from 0 to 120.
// A histogram keeps the percentiles exact to 0.1 year with memory that does
// not grow with the video's length.
const ageBins = 1201

// Summarizer accumulates frames into a facet.Summary. Every face
// observation counts once: a recording usually shows one participant, and
// a tracker that loses and re-finds them must not split their figures.
// It is not safe for concurrent use.
type Summarizer struct {
	frames, withFace, faces int
	sum, peak               facet.Emotions
	dominant                [7]int
	valence                 float64
	ages                    []int32 // histogram, allocated on the first age
	nAges                   int
	man                     float64
	nGender                 int
}

// Add counts one frame.
func (s *Summarizer) Add(f facet.Frame) {
	s.frames++
	if len(f.Faces) > 0 {
		s.withFace++
	}
	for _, face := range f.Faces {
		s.faces++
		for i, p := range face.Emotions {
			s.sum[i] += p
			s.peak[i] = max(s.peak[i], p)
		}
		s.dominant[face.Emotions.Dominant()]++
		s.valence += float64(face.Valence)
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
}

// Summary returns the figures so far. WallS is left to the caller.
func (s *Summarizer) Summary() facet.Summary {
	out := facet.Summary{Frames: s.frames, FramesWithFace: s.withFace}
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
	if s.nAges > 0 {
		out.Age = &facet.AgeSummary{
			Median: facet.Num(s.agePercentile(0.5)),
			P10:    facet.Num(s.agePercentile(0.1)),
			P90:    facet.Num(s.agePercentile(0.9)),
		}
	}
	if s.nGender > 0 {
		man := s.man / float64(s.nGender)
		out.Gender = &facet.GenderSummary{Label: "man", Confidence: facet.Num(man)}
		if man < 0.5 {
			out.Gender = &facet.GenderSummary{Label: "woman", Confidence: facet.Num(1 - man)}
		}
	}
	return out
}

// agePercentile returns the nearest-rank percentile q of the ages.
func (s *Summarizer) agePercentile(q float64) float64 {
	rank := int(math.Ceil(q * float64(s.nAges)))
	rank = max(rank, 1)
	seen := 0
	for bin, c := range s.ages {
		seen += int(c)
		if seen >= rank {
			return float64(bin) / 10
		}
	}
	return float64(ageBins-1) / 10
}
