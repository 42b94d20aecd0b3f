package app

import (
	"context"
	"time"

	"github.com/humaninsight/facet"
)

// ClientConsent is the client's attestation that it gathered consent itself.
type ClientConsent struct {
	ObtainedAt *time.Time `json:"obtainedAt"`
	Method     string     `json:"method"`
}

// NewRecording is a client's request for an upload slot of its own.
type NewRecording struct {
	ParticipantRef string         `json:"participantRef"`
	Consent        *ClientConsent `json:"consent"`
}

// earliestConsent bounds consent.obtainedAt from below: a date before the
// service existed is a typo or a zero value, not an attestation.
var earliestConsent = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// CreateRecording opens an upload slot in client c's project on the
// client's attestation of consent.
func (a *App) CreateRecording(ctx context.Context, c *facet.Client, projectID string, n NewRecording) (*UploadSlot, error) {
	p, err := a.Project(ctx, c, projectID)
	if err != nil {
		return nil, err
	}
	if p.Status != facet.ProjectOpen {
		return nil, facet.Errorf(facet.EConflict, "project is closed")
	}
	if err := validRef(n.ParticipantRef); err != nil {
		return nil, err
	}
	switch {
	case n.Consent == nil || n.Consent.ObtainedAt == nil:
		return nil, facet.Errorf(facet.EUnprocessable, "consent.obtainedAt: the client must attest when consent was obtained")
	case n.Consent.ObtainedAt.After(a.now().Add(5 * time.Minute)):
		return nil, facet.Errorf(facet.EInvalid, "consent.obtainedAt: in the future")
	case n.Consent.ObtainedAt.Before(earliestConsent):
		return nil, facet.Errorf(facet.EInvalid, "consent.obtainedAt: before %s, which no study of this service can be", earliestConsent.Format("2006-01-02"))
	case facet.CheckText("consent.method", n.Consent.Method, 100, true) != nil:
		return nil, facet.Errorf(facet.EInvalid, "consent.method: required, at most 100 characters of text (e.g. signed-form)")
	}
	if err := a.checkSlots(ctx, c.ID); err != nil {
		return nil, err
	}
	rec := a.newRecording(p, n.ParticipantRef, facet.ConsentRecord{
		Version: p.Consent.Version, TextHash: hashHex(p.Consent.Text), GivenAt: n.Consent.ObtainedAt.UTC(),
		Method: n.Consent.Method, Source: "client",
	})
	if _, err := create(ctx, a.Store, facet.CRecordings, rec.ProjectID, rec); err != nil {
		return nil, err
	}
	return a.uploadSlot(ctx, rec)
}

// Recordings lists the recordings of client c's project, newest first.
func (a *App) Recordings(ctx context.Context, c *facet.Client, projectID string, limit int, cont string) ([]facet.Recording, string, error) {
	if _, err := a.Project(ctx, c, projectID); err != nil {
		return nil, "", err
	}
	recs, next, err := query[facet.Recording](ctx, a.Store, facet.CRecordings, facet.Query{
		Partition: projectID, OrderBy: "createdAt", Desc: true, Limit: limit, Continuation: cont,
	})
	// Removed recordings are hidden (a page may then be shorter).
	out := recs[:0]
	for _, r := range recs {
		if r.Status != facet.RecRemoved {
			out = append(out, r)
		}
	}
	return out, next, err
}

// Recording returns client c's recording id. Its partition (the project)
// is not in the URL, so this is a query by id within the client's data.
func (a *App) Recording(ctx context.Context, c *facet.Client, id string) (*facet.Recording, error) {
	if !facet.ValidID(id) {
		return nil, notFound("recording")
	}
	p, err := a.Store.Query(ctx, facet.CRecordings, facet.Query{Where: map[string]any{"id": id, "clientId": c.ID}, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(p.Docs) == 0 {
		return nil, notFound("recording")
	}
	rec, etag, err := get[facet.Recording](ctx, a.Store, facet.CRecordings, projectOf(p.Docs[0].JSON), id)
	if err != nil {
		return nil, asNotFound(err, "recording")
	}
	if rec.Status == facet.RecRemoved {
		return nil, notFound("recording")
	}
	// A removed project's recordings vanish with it, before the queued
	// deletion has reached each of them.
	if _, err := a.project(ctx, c.ID, rec.ProjectID); err != nil {
		return nil, err
	}
	rec.ETag = etag
	return rec, nil
}

// Analyses lists the analysis runs of a recording, newest first.
func (a *App) Analyses(ctx context.Context, rec *facet.Recording) ([]facet.Analysis, error) {
	var all []facet.Analysis
	cont := ""
	for {
		page, next, err := query[facet.Analysis](ctx, a.Store, facet.CAnalyses, facet.Query{
			Partition: rec.ID, Where: map[string]any{"type": "analysis"}, OrderBy: "createdAt", Desc: true, Continuation: cont,
		})
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == "" {
			return all, nil
		}
		cont = next
	}
}

// Analysis returns one analysis run of client c's recording.
func (a *App) Analysis(ctx context.Context, c *facet.Client, recID, id string) (*facet.Recording, *facet.Analysis, error) {
	rec, err := a.Recording(ctx, c, recID)
	if err != nil {
		return nil, nil, err
	}
	if !facet.ValidID(id) {
		return nil, nil, notFound("analysis")
	}
	an, etag, err := get[facet.Analysis](ctx, a.Store, facet.CAnalyses, rec.ID, id)
	if err != nil || an.Type != "analysis" {
		return nil, nil, asNotFound(firstErr(err, notFound("analysis")), "analysis")
	}
	an.ETag = etag
	return rec, an, nil
}

// Frames calls fn with the frames of an analysis run, one stored chunk at
// a time, in order: a long timeline is never held whole in memory.
func (a *App) Frames(ctx context.Context, an *facet.Analysis, fn func([]facet.Frame) error) error {
	cont := ""
	for {
		page, next, err := query[facet.TimelineChunk](ctx, a.Store, facet.CAnalyses, facet.Query{
			Partition: an.RecordingID, Where: map[string]any{"type": "timeline", "analysisId": an.ID},
			OrderBy: "index", Limit: 4, Continuation: cont,
		})
		if err != nil {
			return err
		}
		for _, ch := range page {
			if err := fn(ch.Frames); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		cont = next
	}
}

// DeleteAnalysis removes an analysis run and its timeline.
func (a *App) DeleteAnalysis(ctx context.Context, c *facet.Client, recID, id string) error {
	rec, an, err := a.Analysis(ctx, c, recID, id)
	if err != nil {
		return err
	}
	if an.Status == facet.RunQueued || an.Status == facet.RunRunning {
		return facet.Errorf(facet.EConflict, "analysis is %s: delete it once it has ended", an.Status)
	}
	if err := a.deleteAnalysis(ctx, an); err != nil {
		return err
	}
	if rec.LatestAnalysis == an.ID {
		rec.LatestAnalysis = ""
		rec.UpdatedAt = a.now()
		if _, err := replace(ctx, a.Store, facet.CRecordings, rec.ProjectID, rec, rec.ETag); err != nil && !isCode(err, facet.EConflict) {
			return err
		}
	}
	return nil
}

// deleteAnalysis removes the timeline first, then the run: a failure half
// way leaves a run whose deletion can be asked for again.
func (a *App) deleteAnalysis(ctx context.Context, an *facet.Analysis) error {
	for i := 0; i < an.Chunks; i++ {
		if err := a.Store.Delete(ctx, facet.CAnalyses, an.RecordingID, chunkID(an.ID, i), ""); err != nil && !isCode(err, facet.ENotFound) {
			return err
		}
	}
	if err := a.Store.Delete(ctx, facet.CAnalyses, an.RecordingID, an.ID, ""); err != nil && !isCode(err, facet.ENotFound) {
		return err
	}
	return nil
}

// AnalysisSettings are the settings a re-analysis may change.
type AnalysisSettings struct {
	SampleFPS *float64          `json:"sampleFps"`
	Models    *string           `json:"models"`
	SmoothS   *float64          `json:"smoothS"`
	Detect    *facet.DetectMode `json:"detect"`
}

// Reanalyze queues a new analysis run of a recording whose video exists.
func (a *App) Reanalyze(ctx context.Context, c *facet.Client, recID string, in AnalysisSettings) (*facet.Analysis, error) {
	rec, err := a.Recording(ctx, c, recID)
	if err != nil {
		return nil, err
	}
	p, err := a.project(ctx, c.ID, rec.ProjectID)
	if err != nil {
		return nil, err
	}
	switch {
	case p.PrivacyMode == facet.PrivacyDeleteAfterAnalysis:
		return nil, facet.Errorf(facet.EConflict, "the project deletes videos after analysis (privacy by design): no re-analysis")
	case rec.Video.DeletedAt != nil:
		return nil, facet.Errorf(facet.EConflict, "the video has already been deleted")
	case rec.Status == facet.RecAwaitingUpload || rec.Status == facet.RecExpired || !rec.Video.Present:
		return nil, facet.Errorf(facet.EConflict, "no video has been uploaded")
	}
	s, err := a.apply(p.Settings, &SettingsPatch{SampleFPS: in.SampleFPS, Models: in.Models, SmoothS: in.SmoothS, Detect: in.Detect})
	if err != nil {
		return nil, err
	}
	if err := a.takeReanalysis(ctx, c); err != nil {
		return nil, err
	}
	an := a.newAnalysis(rec, newID("an"), facet.Settings{SampleFPS: s.SampleFPS, Models: s.Models, SmoothS: s.Smooth(), Detect: s.Detect})
	if _, err := create(ctx, a.Store, facet.CAnalyses, rec.ID, an); err != nil {
		return nil, err
	}
	if err := a.enqueueAnalysis(ctx, rec, an); err != nil {
		return nil, err
	}
	return an, nil
}

// VideoLink is a short-lived read link to a recording's video.
type VideoLink struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// VideoURL returns a read-only link to client c's recording's video.
func (a *App) VideoURL(ctx context.Context, c *facet.Client, recID string) (*VideoLink, error) {
	rec, err := a.Recording(ctx, c, recID)
	if err != nil {
		return nil, err
	}
	switch {
	case rec.Video.DeletedAt != nil:
		return nil, facet.Errorf(facet.EGone, "the video has been deleted (%s)", rec.Video.DeletionReason)
	case !rec.Video.Present:
		return nil, facet.Errorf(facet.EConflict, "no video has been uploaded yet")
	}
	exp := a.now().Add(a.cfg.VideoURLTTL)
	typ, ext := "video/mp4", "mp4"
	if an, err := a.LatestResult(ctx, rec); err == nil && an != nil && an.Result != nil && webmCodecs[an.Result.Video.Codec] {
		typ, ext = "video/webm", "webm"
	}
	// The type and disposition the uploader declared are never served: a
	// blob sent as text/html would otherwise run its script in the reader.
	url, err := a.Blobs.ReadURL(ctx, rec.Blob, exp, facet.ReadHeaders{
		ContentType: typ, ContentDisposition: `attachment; filename="` + rec.ID + "." + ext + `"`})
	if err != nil {
		return nil, err
	}
	return &VideoLink{URL: url, ExpiresAt: exp}, nil
}

// webmCodecs are the video codecs browsers record into WebM; the others
// (H.264 from Safari) come in MP4.
var webmCodecs = map[string]bool{"vp8": true, "vp9": true, "av1": true}

// LatestResult returns the newest finished run of a recording, or nil.
func (a *App) LatestResult(ctx context.Context, rec *facet.Recording) (*facet.Analysis, error) {
	if rec.LatestAnalysis != "" {
		an, _, err := get[facet.Analysis](ctx, a.Store, facet.CAnalyses, rec.ID, rec.LatestAnalysis)
		if err == nil && an.Status == facet.RunDone && an.Result != nil {
			return an, nil
		}
		if err != nil && !isCode(err, facet.ENotFound) {
			return nil, err
		}
	}
	runs, err := a.Analyses(ctx, rec)
	if err != nil {
		return nil, err
	}
	for i := range runs {
		if runs[i].Status == facet.RunDone && runs[i].Result != nil {
			return &runs[i], nil
		}
	}
	return nil, nil
}

// EachRecording calls fn for every recording of client c's project, a
// page at a time, oldest first: exports stream without holding them all.
func (a *App) EachRecording(ctx context.Context, c *facet.Client, projectID string, fn func(*facet.Recording) error) error {
	if _, err := a.Project(ctx, c, projectID); err != nil {
		return err
	}
	cont := ""
	for {
		recs, next, err := query[facet.Recording](ctx, a.Store, facet.CRecordings, facet.Query{Partition: projectID, OrderBy: "createdAt", Continuation: cont})
		if err != nil {
			return err
		}
		for i := range recs {
			if recs[i].Status == facet.RecRemoved {
				continue
			}
			if err := fn(&recs[i]); err != nil {
				return err
			}
		}
		if cont = next; cont == "" {
			return nil
		}
	}
}
