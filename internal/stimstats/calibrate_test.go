package stimstats

import (
	"testing"

	"github.com/humaninsight/facet"
)

// TestCalibrate: hand-computed. Participant p rests at happy 0.2 (two
// baseline frames, 0.1 and 0.3), valence 0.1; during the stimulus happy
// 0.5 and 0.7: corrected 0.3 and 0.5, mean 0.4. Participant q rests at
// happy 0.6 and shows 0.6: corrected 0. Across the two, the corrected
// mean is 0.2 with SD sqrt(0.08) = 0.28284, and the t(0.975, 1) = 12.706
// interval 0.2 -+ 12.706 * 0.28284 / sqrt(2) = 0.2 -+ 2.5412, clipped to
// the corrected range -1..1 (not 0..1, which would hide a fall). A
// participant with no face in the baseline is left out.
func TestCalibrate(t *testing.T) {
	face := func(p string, tt, happy, val float64) Sample {
		s := Sample{Participant: p, T: tt, Face: true, Attentive: true, Valence: val}
		s.Emotions[facet.EmotionIndex("happy")] = happy
		return s
	}
	baseline := []Sample{face("p", 0, 0.1, 0.1), face("p", 0.2, 0.3, 0.1), face("q", 0, 0.6, 0.6), {Participant: "r", T: 0}}
	samples := []Sample{face("p", 0.1, 0.5, 0.5), face("p", 0.3, 0.7, 0.5), face("q", 0.1, 0.6, 0.6), face("r", 0.1, 0.9, 0.9)}
	got := Calibrate(samples, baseline)
	if len(got) != 3 {
		t.Fatalf("%d corrected samples, want 3 (r has no baseline face)", len(got))
	}
	b := CorrectedBins(got, 0.5, 0.5)[0]
	happy := b.Emotions[facet.EmotionIndex("happy")]
	near := func(p *facet.Num, want float64) bool {
		return p != nil && float64(*p) > want-1e-4 && float64(*p) < want+1e-4
	}
	if b.N != 2 || !near(happy.Mean, 0.2) || !near(happy.SD, 0.28284) || !near(happy.Lower, -1) || !near(happy.Upper, 1) {
		t.Errorf("corrected happy %+v (N %d)", happy, b.N)
	}
	// Valence: p 0.5-0.1 = 0.4, q 0: mean 0.2.
	if !near(b.Valence.Mean, 0.2) {
		t.Errorf("corrected valence %+v", b.Valence)
	}
	raw := Bins(samples[:3], 0.5, 0.5)[0].Emotions[facet.EmotionIndex("happy")]
	if !near(raw.Mean, 0.6) || !near(raw.Lower, 0.6) {
		t.Errorf("raw happy %+v: p 0.6, q 0.6: mean 0.6 with no spread", raw)
	}
	if s := CorrectedSegment(got, "all", 0, 0.5); s.N != 2 || !near(s.Emotions[facet.EmotionIndex("happy")].Mean, 0.2) {
		t.Errorf("corrected segment %+v", s)
	}
}
