package stimstats

import (
	"math/rand/v2"
	"testing"
)

// The size of a large study: 200 participants, a 60 s stimulus, frames at
// the default 5 fps (60,000 samples), bins of 0.5 s (120 bins).
const (
	benchParticipants = 200
	benchDurationS    = 60
)

func BenchmarkBins(b *testing.B) {
	samples := randomStudy(rand.New(rand.NewPCG(5, 6)), "p", benchParticipants, benchDurationS)
	b.ReportAllocs()
	for b.Loop() {
		Bins(samples, DefaultBinS, benchDurationS)
	}
}

func BenchmarkBinsShuffled(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	samples := randomStudy(r, "p", benchParticipants, benchDurationS)
	r.Shuffle(len(samples), func(i, j int) { samples[i], samples[j] = samples[j], samples[i] })
	b.ReportAllocs()
	for b.Loop() {
		Bins(samples, DefaultBinS, benchDurationS)
	}
}

func BenchmarkSegment(b *testing.B) {
	samples := randomStudy(rand.New(rand.NewPCG(5, 6)), "p", benchParticipants, benchDurationS)
	b.ReportAllocs()
	for b.Loop() {
		Segment(samples, "whole", 0, benchDurationS)
	}
}

// BenchmarkCompare compares two stimuli seen by the same 200 people
// (paired), with four segments.
func BenchmarkCompare(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	a := randomStudy(r, "p", benchParticipants, benchDurationS)
	c := randomStudy(r, "p", benchParticipants, benchDurationS)
	segs := []SegmentSpec{{"intro", 0, 5}, {"product", 5, 30}, {"offer", 30, 50}, {"end", 50, 60}}
	b.ReportAllocs()
	for b.Loop() {
		Compare(a, c, DefaultBinS, benchDurationS, segs)
	}
}
