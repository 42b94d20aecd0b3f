package app

import (
	"context"
	"crypto/rand"
	"fmt"
	"math"
	"math/big"
	"slices"
	"time"

	"github.com/humaninsight/facet"
)

// NewStimulus is the body of POST /api/projects/{id}/stimuli.
type NewStimulus struct {
	Name     string             `json:"name"`
	Kind     facet.StimulusKind `json:"kind"`
	DisplayS *float64           `json:"displayS,omitempty"`
}

// StimulusPatch is the body of PATCH /api/projects/{id}/stimuli/{stimulusId}:
// the fields given replace the stored ones.
type StimulusPatch struct {
	Name     *string          `json:"name,omitempty"`
	DisplayS *float64         `json:"displayS,omitempty"`
	Segments *[]facet.Segment `json:"segments,omitempty"`
}

// StimulusSlot is a new stimulus and the link its file is uploaded with:
// one PUT of the file, create-only, until ExpiresAt.
type StimulusSlot struct {
	Stimulus  *facet.Stimulus   `json:"stimulus"`
	UploadURL string            `json:"uploadUrl"`
	Method    string            `json:"method"`
	Headers   map[string]string `json:"headers"`
	ExpiresAt time.Time         `json:"expiresAt"`
}

// CreateStimulus adds a stimulus to an open project of c and returns the
// link the client uploads its file with. The file is probed on arrival.
func (a *App) CreateStimulus(ctx context.Context, c *facet.Client, projectID string, n NewStimulus) (*StimulusSlot, error) {
	if err := validName(n.Name); err != nil {
		return nil, err
	}
	s := &facet.Stimulus{Name: n.Name, Kind: n.Kind, Segments: []facet.Segment{}}
	switch n.Kind {
	case facet.StimVideo:
		if n.DisplayS != nil {
			return nil, facet.Errorf(facet.EInvalid, "displayS: only for images (a video plays to its end)")
		}
	case facet.StimImage:
		s.DisplayS = facet.DefaultImageS
		if n.DisplayS != nil {
			s.DisplayS = *n.DisplayS
		}
		if err := checkDisplayS(s.DisplayS); err != nil {
			return nil, err
		}
	default:
		return nil, facet.Errorf(facet.EInvalid, "kind: want video or image")
	}
	p, err := a.Project(ctx, c, projectID)
	if err != nil {
		return nil, err
	}
	if p.Status != facet.ProjectOpen {
		return nil, facet.Errorf(facet.EConflict, "project is closed")
	}
	have, _, err := query[facet.Stimulus](ctx, a.Store, facet.CStimuli, facet.Query{Partition: p.ID, Limit: facet.MaxStimuliPerProj})
	if err != nil {
		return nil, err
	}
	if len(have) >= facet.MaxStimuliPerProj {
		return nil, facet.Errorf(facet.EConflict, "a project has at most %d stimuli: delete one first", facet.MaxStimuliPerProj)
	}
	now := a.now()
	s.ID, s.ClientID, s.ProjectID, s.Status = newID("st"), c.ID, p.ID, facet.StimAwaitingUpload
	s.UploadExpiresAt, s.CreatedAt, s.UpdatedAt = now.Add(facet.StimulusUploadTTL), now, now
	url, err := a.Blobs.SignedURL(ctx, facet.StimulusBlob(p.ID, s.ID), facet.SASCreate, s.UploadExpiresAt)
	if err != nil {
		return nil, err
	}
	if _, err := create(ctx, a.Store, facet.CStimuli, p.ID, s); err != nil {
		return nil, err
	}
	a.Log.Info("stimulus created", "project", p.ID, "stimulus", s.ID, "kind", s.Kind)
	return &StimulusSlot{Stimulus: s, UploadURL: url, Method: "PUT",
		Headers: map[string]string{"x-ms-blob-type": "BlockBlob"}, ExpiresAt: s.UploadExpiresAt}, nil
}

func checkDisplayS(d float64) error {
	if math.IsNaN(d) || d < facet.MinImageS || d > facet.MaxImageS {
		return facet.Errorf(facet.EInvalid, "displayS: want %g to %g seconds", facet.MinImageS, facet.MaxImageS)
	}
	return nil
}

// Stimuli lists a project's stimuli, newest first.
func (a *App) Stimuli(ctx context.Context, c *facet.Client, projectID string, limit int, cont string) ([]facet.Stimulus, string, error) {
	if _, err := a.Project(ctx, c, projectID); err != nil {
		return nil, "", err
	}
	return query[facet.Stimulus](ctx, a.Store, facet.CStimuli, facet.Query{Partition: projectID, Where: map[string]any{"clientId": c.ID},
		OrderBy: "createdAt", Desc: true, Limit: limit, Continuation: cont})
}

// Stimulus returns one stimulus of a project of c.
func (a *App) Stimulus(ctx context.Context, c *facet.Client, projectID, id string) (*facet.Stimulus, error) {
	s, etag, err := get[facet.Stimulus](ctx, a.Store, facet.CStimuli, projectID, id)
	if err != nil || s.ClientID != c.ID {
		return nil, asNotFound(firstErr(err, notFound("stimulus")), "stimulus")
	}
	s.ETag = etag
	return s, nil
}

// PatchStimulus renames a stimulus, changes an image's display time or
// sets the segments, which must lie within the stimulus.
func (a *App) PatchStimulus(ctx context.Context, c *facet.Client, projectID, id string, patch StimulusPatch) (*facet.Stimulus, error) {
	s, err := a.Stimulus(ctx, c, projectID, id)
	if err != nil {
		return nil, err
	}
	if patch.Name != nil {
		if err := validName(*patch.Name); err != nil {
			return nil, err
		}
		s.Name = *patch.Name
	}
	if patch.DisplayS != nil {
		if s.Kind != facet.StimImage {
			return nil, facet.Errorf(facet.EInvalid, "displayS: only for images (a video plays to its end)")
		}
		if err := checkDisplayS(*patch.DisplayS); err != nil {
			return nil, err
		}
		s.DisplayS = *patch.DisplayS
	}
	if patch.Segments != nil {
		if err := checkSegments(s, *patch.Segments); err != nil {
			return nil, err
		}
		s.Segments = *patch.Segments
	}
	s.UpdatedAt = a.now()
	etag, err := replace(ctx, a.Store, facet.CStimuli, projectID, s, s.ETag)
	if isCode(err, facet.EConflict) {
		return nil, facet.Errorf(facet.EConflict, "stimulus changed meanwhile: retry")
	}
	if err != nil {
		return nil, asNotFound(err, "stimulus")
	}
	s.ETag = etag
	return s, nil
}

// checkSegments refuses segments that are unnamed, empty, or outside the
// stimulus (whose length is known once it is ready).
func checkSegments(s *facet.Stimulus, segs []facet.Segment) error {
	if len(segs) > facet.MaxStimulusSegments {
		return facet.Errorf(facet.EInvalid, "segments: at most %d", facet.MaxStimulusSegments)
	}
	length := s.LengthS()
	for i, g := range segs {
		if err := facet.CheckText(fmt.Sprintf("segments[%d].name", i), g.Name, 100, true); err != nil {
			return err
		}
		if math.IsNaN(g.FromS) || math.IsNaN(g.ToS) || g.FromS < 0 || g.ToS <= g.FromS {
			return facet.Errorf(facet.EInvalid, "segments[%d]: want 0 <= fromS < toS", i)
		}
		if length > 0 && g.ToS > length+0.001 {
			return facet.Errorf(facet.EUnprocessable, "segments[%d]: toS %g is past the stimulus's end (%g s)", i, g.ToS, length)
		}
	}
	return nil
}

// DeleteStimulus deletes a stimulus of c: its file and thumbnails, with
// an audit entry for the file as for a participant's video, then its
// record.
func (a *App) DeleteStimulus(ctx context.Context, c *facet.Client, projectID, id string) error {
	s, err := a.Stimulus(ctx, c, projectID, id)
	if err != nil {
		return err
	}
	return a.deleteStimulus(ctx, s, facet.ReasonStimulusRemoved, TriggerAPI)
}

// deleteStimulus deletes one stimulus; safe to repeat.
func (a *App) deleteStimulus(ctx context.Context, s *facet.Stimulus, reason, trigger string) error {
	name := facet.StimulusBlob(s.ProjectID, s.ID)
	info, err := a.Blobs.Stat(ctx, name)
	switch {
	case err == nil:
		e := AuditEntry{ID: "au_" + shortHash(name+"|"+info.ETag), Type: "deletion", ClientID: s.ClientID, ProjectID: s.ProjectID,
			StimulusID: s.ID, BlobHash: hashHex(name), SizeBytes: info.Size, Reason: reason, Trigger: trigger, At: a.now()}
		if _, err := create(ctx, a.Store, facet.CAudit, s.ClientID, e); err != nil && !isCode(err, facet.EConflict) {
			return err
		}
		if err := a.Blobs.Delete(ctx, name); err != nil {
			return err
		}
	case !isCode(err, facet.ENotFound):
		return err
	}
	for i := 0; i < max(s.Thumbnails, facet.StimulusThumbnails); i++ {
		if err := a.Blobs.Delete(ctx, facet.StimulusThumbName(s.ProjectID, s.ID, i)); err != nil {
			return err
		}
	}
	if err := a.Store.Delete(ctx, facet.CStimuli, s.ProjectID, s.ID, ""); err != nil && !isCode(err, facet.ENotFound) {
		return err
	}
	a.Log.Info("stimulus deleted", "project", s.ProjectID, "stimulus", s.ID, "reason", reason)
	return nil
}

// deleteStimuli deletes every stimulus of a removed project.
func (a *App) deleteStimuli(ctx context.Context, j DeletionJob) error {
	for round := 0; round < 100; round++ {
		ss, _, err := query[facet.Stimulus](ctx, a.Store, facet.CStimuli, facet.Query{Partition: j.ProjectID, Limit: 100})
		if err != nil || len(ss) == 0 {
			return err
		}
		for i := range ss {
			if err := a.deleteStimulus(ctx, &ss[i], j.Reason, j.Trigger); err != nil {
				return err
			}
		}
	}
	return facet.Errorf(facet.EUnavailable, "app: stimuli of project %s keep coming back", j.ProjectID)
}

// design checks a study design: each stimulus once, of this project and
// ready (a participant must never be sent a file that is not there), a
// baseline of 0 to MaxBaselineS seconds. No stimuli: no design.
func (a *App) design(ctx context.Context, c *facet.Client, projectID string, d facet.StudyDesign) (*facet.StudyDesign, error) {
	if len(d.Stimuli) == 0 {
		return nil, nil
	}
	if len(d.Stimuli) > facet.MaxStimuliPerProj {
		return nil, facet.Errorf(facet.EInvalid, "design.stimuli: at most %d", facet.MaxStimuliPerProj)
	}
	if math.IsNaN(d.BaselineS) || d.BaselineS < 0 || d.BaselineS > facet.MaxBaselineS {
		return nil, facet.Errorf(facet.EInvalid, "design.baselineS: want 0 to %g seconds", facet.MaxBaselineS)
	}
	if d.Calibrate && d.BaselineS == 0 {
		return nil, facet.Errorf(facet.EInvalid, "design.calibrate: needs a baseline (baselineS above 0)")
	}
	seen := map[string]bool{}
	for i, id := range d.Stimuli {
		if seen[id] {
			return nil, facet.Errorf(facet.EInvalid, "design.stimuli[%d]: named twice", i)
		}
		seen[id] = true
		if !facet.ValidID(id) {
			return nil, facet.Errorf(facet.EUnprocessable, "design.stimuli[%d]: no such stimulus", i)
		}
		s, err := a.Stimulus(ctx, c, projectID, id)
		if isCode(err, facet.ENotFound) {
			return nil, facet.Errorf(facet.EUnprocessable, "design.stimuli[%d]: no such stimulus", i)
		}
		if err != nil {
			return nil, err
		}
		if s.Status != facet.StimReady {
			return nil, facet.Errorf(facet.EUnprocessable, "design.stimuli[%d]: the stimulus is %s, not ready", i, s.Status)
		}
	}
	return &d, nil
}

// sequence is what one participant of a stimulus study watches: the
// design's stimuli, in a random order of their own when it shuffles,
// after the baseline.
func sequence(d *facet.StudyDesign) []string {
	if d == nil || len(d.Stimuli) == 0 {
		return nil
	}
	seq := slices.Clone(d.Stimuli)
	if d.Shuffle {
		for i := len(seq) - 1; i > 0; i-- {
			j, _ := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
			seq[i], seq[j.Int64()] = seq[j.Int64()], seq[i]
		}
	}
	if d.BaselineS > 0 {
		seq = append([]string{facet.BaselineID}, seq...)
	}
	return seq
}
