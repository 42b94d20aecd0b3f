package app

import (
	"context"
	"math"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/stimstats"
)

// AttentionYawMax is how far a head may be turned (facet.FaceQuality.Yaw,
// the nose's offset in eye distances) and still count as facing the
// screen. About 0.3 is a turn of some 20 degrees; a face without
// landmarks counts as facing it.
const AttentionYawMax = 0.3

// StimulusResults is what a stimulus did to its audience, second by
// second of the stimulus: GET /api/projects/{id}/stimuli/{stimulusId}/results.
type StimulusResults struct {
	StimulusID   string                    `json:"stimulusId"`
	LengthS      float64                   `json:"lengthS"`
	BinS         float64                   `json:"binS"`
	Participants int                       `json:"participants"` // recordings with a frame on the stimulus
	Bins         []stimstats.Bin           `json:"bins"`
	Segments     []stimstats.SegmentResult `json:"segments"`
	// Compare is the A/B comparison with another stimulus, when asked:
	// this stimulus minus the other.
	Compare *StimulusComparison `json:"compare,omitempty"`
	// Calibrated are the same figures baseline-corrected, when the
	// design calibrates: the raw ones above stay as they are.
	Calibrated *CalibratedResults `json:"calibrated,omitempty"`
}

// CalibratedResults are figures over baseline-corrected samples: each
// participant's mean emotions and valence during the baseline subtracted,
// so a bin says how far the audience moved from its own resting face.
// Participants with no face in their baseline are not in them.
type CalibratedResults struct {
	Participants int                       `json:"participants"`
	Bins         []stimstats.Bin           `json:"bins"`
	Segments     []stimstats.SegmentResult `json:"segments"`
}

// StimulusComparison is an A/B comparison of two stimuli.
type StimulusComparison struct {
	StimulusID   string               `json:"stimulusId"` // the other (B)
	Participants int                  `json:"participants"`
	Result       stimstats.Comparison `json:"result"`
}

// StimulusResults aggregates the latest finished run of every recording
// of the project over the frames placed on the stimulus: per bin of
// binS seconds of stimulus time, per segment, and against another
// stimulus of the project when compareID is given.
func (a *App) StimulusResults(ctx context.Context, c *facet.Client, projectID, id string, binS float64, compareID string) (*StimulusResults, error) {
	if binS == 0 {
		binS = stimstats.DefaultBinS
	}
	if math.IsNaN(binS) || binS < 0.1 || binS > 60 {
		return nil, facet.Errorf(facet.EInvalid, "binS: want 0.1 to 60 seconds")
	}
	s, err := a.readyStimulus(ctx, c, projectID, id)
	if err != nil {
		return nil, err
	}
	want := map[string][]stimstats.Sample{id: nil}
	p, err := a.Project(ctx, c, projectID)
	if err != nil {
		return nil, err
	}
	calibrate := p.Design != nil && p.Design.Calibrate
	if calibrate {
		want[facet.BaselineID] = nil
	}
	var other *facet.Stimulus
	if compareID != "" {
		if other, err = a.readyStimulus(ctx, c, projectID, compareID); err != nil {
			return nil, err
		}
		want[compareID] = nil
	}
	if err := a.stimulusSamples(ctx, c, projectID, want); err != nil {
		return nil, err
	}
	segs := make([]stimstats.SegmentSpec, len(s.Segments))
	out := &StimulusResults{StimulusID: id, LengthS: s.LengthS(), BinS: binS, Participants: participants(want[id]),
		Bins: stimstats.Bins(want[id], binS, s.LengthS()), Segments: make([]stimstats.SegmentResult, len(s.Segments))}
	for i, g := range s.Segments {
		segs[i] = stimstats.SegmentSpec{Name: g.Name, FromS: g.FromS, ToS: g.ToS}
		out.Segments[i] = stimstats.Segment(want[id], g.Name, g.FromS, g.ToS)
	}
	if other != nil {
		out.Compare = &StimulusComparison{StimulusID: compareID, Participants: participants(want[compareID]),
			Result: stimstats.Compare(want[id], want[compareID], binS, min(s.LengthS(), other.LengthS()), segs)}
	}
	if calibrate {
		corrected := stimstats.Calibrate(want[id], want[facet.BaselineID])
		out.Calibrated = &CalibratedResults{Participants: participants(corrected), Bins: stimstats.CorrectedBins(corrected, binS, s.LengthS()),
			Segments: make([]stimstats.SegmentResult, len(s.Segments))}
		for i, g := range s.Segments {
			out.Calibrated.Segments[i] = stimstats.CorrectedSegment(corrected, g.Name, g.FromS, g.ToS)
		}
	}
	return out, nil
}

func (a *App) readyStimulus(ctx context.Context, c *facet.Client, projectID, id string) (*facet.Stimulus, error) {
	s, err := a.Stimulus(ctx, c, projectID, id)
	if err != nil {
		return nil, err
	}
	if s.Status != facet.StimReady {
		return nil, facet.Errorf(facet.EConflict, "stimulus %s is %s, not ready", id, s.Status)
	}
	return s, nil
}

// stimulusSamples fills want (by stimulus id) with one sample per frame
// placed on each stimulus, from the latest finished run of every
// recording: the participant is the recording.
func (a *App) stimulusSamples(ctx context.Context, c *facet.Client, projectID string, want map[string][]stimstats.Sample) error {
	return a.EachRecording(ctx, c, projectID, func(rec *facet.Recording) error {
		if len(rec.Sequence) == 0 {
			return nil
		}
		an, err := a.LatestResult(ctx, rec)
		if err != nil || an == nil {
			return ignoreNotFound(err)
		}
		return a.Frames(ctx, an, func(fs []facet.Frame) error {
			for _, f := range fs {
				if _, ok := want[f.Stimulus]; ok && f.StimulusT != nil {
					want[f.Stimulus] = append(want[f.Stimulus], sample(rec.ID, f))
				}
			}
			return nil
		})
	})
}

// sample is one frame as the statistics read it: the largest described
// face, if any.
func sample(participant string, f facet.Frame) stimstats.Sample {
	smp := stimstats.Sample{Participant: participant, T: float64(*f.StimulusT)}
	var best *facet.Face
	for i := range f.Faces {
		if fc := &f.Faces[i]; fc.Described() && (best == nil || fc.Box[2]*fc.Box[3] > best.Box[2]*best.Box[3]) {
			best = fc
		}
	}
	if best == nil {
		return smp
	}
	smp.Face, smp.Emotions = true, *best.Emotions
	if best.Valence != nil {
		smp.Valence = float64(*best.Valence)
	}
	smp.Attentive = best.Quality == nil || best.Quality.Yaw == nil || math.Abs(float64(*best.Quality.Yaw)) <= AttentionYawMax
	return smp
}

func participants(ss []stimstats.Sample) int {
	seen := map[string]bool{}
	for _, s := range ss {
		seen[s.Participant] = true
	}
	return len(seen)
}

func ignoreNotFound(err error) error {
	if isCode(err, facet.ENotFound) {
		return nil
	}
	return err
}
