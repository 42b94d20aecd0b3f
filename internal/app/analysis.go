package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/humaninsight/facet"
)

// UploadsContainer is the blob container participants upload into.
const UploadsContainer = "uploads"

// AnalysisJob is the body of a message on the analysis queue.
type AnalysisJob struct {
	RecordingID string `json:"recordingId"`
	ProjectID   string `json:"projectId"`
	AnalysisID  string `json:"analysisId"`
}

func projectOf(doc []byte) string {
	var v struct {
		ProjectID string `json:"projectId"`
	}
	json.Unmarshal(doc, &v)
	return v.ProjectID
}

func chunkID(analysisID string, i int) string { return analysisID + "." + strconv.Itoa(i) }

func (a *App) newAnalysis(rec *facet.Recording, id string, s facet.Settings) *facet.Analysis {
	return &facet.Analysis{
		ID: id, Type: "analysis", RecordingID: rec.ID, ProjectID: rec.ProjectID, ClientID: rec.ClientID,
		Status: facet.RunQueued, Settings: s, BlobETag: rec.Video.ETag, CreatedAt: a.now(),
	}
}

func (a *App) enqueueAnalysis(ctx context.Context, rec *facet.Recording, an *facet.Analysis) error {
	body, _ := json.Marshal(AnalysisJob{RecordingID: rec.ID, ProjectID: rec.ProjectID, AnalysisID: an.ID})
	// The message id is the analysis id: where the queue detects
	// duplicates, a repeated enqueue is dropped; where not, RunAnalysis is
	// idempotent anyway.
	return a.Queue.Send(ctx, facet.QAnalysis, facet.Message{ID: an.ID, Body: body})
}

// BlobEvent is what AnalyzeRecording needs of a BlobCreated event.
type BlobEvent struct {
	EventType     string
	Topic         string // the storage account's resource id
	Subject       string // /blobServices/default/containers/<c>/blobs/<name>
	ETag          string
	ContentLength int64
}

// Outcome says what an event or message led to, for logs and tests.
type Outcome string

// Outcomes of BlobCreated and RunAnalysis.
const (
	Queued        Outcome = "queued"
	Ignored       Outcome = "ignored"   // not ours, or already handled
	Refused       Outcome = "refused"   // ours but unwanted: blob deleted
	Analyzed      Outcome = "analyzed"  // analysis stored
	FailedVideo   Outcome = "failed"    // the video is unusable: recorded
	AlreadyDone   Outcome = "duplicate" // a repeated delivery
	PoisonMessage Outcome = "poison"    // unreadable message: recorded, dropped
)

// BlobCreated handles an upload's BlobCreated event: it checks the blob is
// an expected upload, marks the recording uploaded and queues its analysis.
// It answers quickly (Event Grid waits 30 s) and is idempotent. An error
// means a transient failure: the event should be redelivered.
func (a *App) BlobCreated(ctx context.Context, ev BlobEvent) (Outcome, error) {
	log := a.Log.With("event", "BlobCreated", "subject", ev.Subject)
	if ev.EventType != "Microsoft.Storage.BlobCreated" {
		log.Warn("event ignored: not BlobCreated", "type", ev.EventType)
		return Ignored, nil
	}
	account := ev.Topic[strings.LastIndex(ev.Topic, "/")+1:]
	prefix := "/blobServices/default/containers/" + UploadsContainer + "/blobs/"
	if !strings.EqualFold(account, a.cfg.StorageAccount) || !strings.Contains(strings.ToLower(ev.Topic), "/storageaccounts/") || !strings.HasPrefix(ev.Subject, prefix) {
		// Not our account's uploads container: never touch it.
		log.Warn("event ignored: not this account's uploads container", "topic", ev.Topic)
		return Ignored, nil
	}
	name := strings.TrimPrefix(ev.Subject, prefix)
	projectID, recID, ok := strings.Cut(name, "/")
	if !ok || !facet.ValidID(projectID) || !facet.ValidID(recID) {
		return a.refuse(ctx, name, nil, "no upload slot has this name")
	}
	rec, etag, err := get[facet.Recording](ctx, a.Store, facet.CRecordings, projectID, recID)
	if isCode(err, facet.ENotFound) {
		return a.refuse(ctx, name, nil, "no upload slot has this name")
	}
	if err != nil {
		return "", err
	}
	rec.ETag = etag
	if rec.Status != facet.RecAwaitingUpload {
		if sameETag(rec.Video.ETag, ev.ETag) {
			return AlreadyDone, nil // Event Grid delivered it again
		}
		// Only a blob that really is no longer the recorded one goes: an
		// old event, or one whose eTag is spelled differently, must never
		// delete a recording's video.
		info, err := a.Blobs.Stat(ctx, name)
		if isCode(err, facet.ENotFound) {
			return Ignored, nil
		}
		if err != nil {
			return "", err
		}
		if sameETag(info.ETag, rec.Video.ETag) {
			return AlreadyDone, nil
		}
		return a.refuse(ctx, name, rec, "the upload slot was already used")
	}
	p, err := a.project(ctx, rec.ClientID, rec.ProjectID)
	if isCode(err, facet.ENotFound) {
		return a.refuse(ctx, name, nil, "the project no longer exists")
	}
	if err != nil {
		return "", err
	}
	if p.Status != facet.ProjectOpen {
		return a.refuse(ctx, name, rec, "the project is closed")
	}
	if ev.ContentLength > p.Settings.MaxUploadBytes {
		return a.refuse(ctx, name, rec, fmt.Sprintf("the upload (%d bytes) is larger than the project's limit (%d bytes)", ev.ContentLength, p.Settings.MaxUploadBytes))
	}
	now := a.now()
	rec.Video = facet.VideoState{Present: true, SizeBytes: ev.ContentLength, ETag: strings.Trim(ev.ETag, `"`), UploadedAt: &now}
	// The first run's id follows from the upload, so a retried event
	// makes the same run, not a second one.
	an := a.newAnalysis(rec, "an_"+shortHash(rec.ID+"|"+rec.Video.ETag), facet.Settings{SampleFPS: p.Settings.SampleFPS, Models: p.Settings.Models, SmoothS: p.Settings.Smooth()})
	if _, err := create(ctx, a.Store, facet.CAnalyses, rec.ID, an); err != nil && !isCode(err, facet.EConflict) {
		return "", err
	}
	if err := a.enqueueAnalysis(ctx, rec, an); err != nil {
		return "", err
	}
	rec.Status, rec.LatestAnalysis, rec.UpdatedAt = facet.RecUploaded, an.ID, now
	if _, err := replace(ctx, a.Store, facet.CRecordings, rec.ProjectID, rec, rec.ETag); err != nil {
		return "", err // a conflict too: the retry sees the new state
	}
	log.Info("upload accepted", "recording", rec.ID, "analysis", an.ID, "bytes", ev.ContentLength)
	return Queued, nil
}

// sameETag compares ETags as opaque values, whether or not quoted.
func sameETag(a, b string) bool {
	return a != "" && strings.Trim(a, `"`) == strings.Trim(b, `"`)
}

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:12])
}

// refuse deletes a blob that has no business where it is and records the
// refusal on its recording, if there is one (nothing else of it changes).
func (a *App) refuse(ctx context.Context, name string, rec *facet.Recording, why string) (Outcome, error) {
	if err := a.Blobs.Delete(ctx, name); err != nil {
		return "", err
	}
	a.Log.Warn("upload refused, blob deleted", "blob", name, "reason", why)
	if rec != nil && rec.Status != statusRemoved { // a tombstone stays as it is
		rec.Refusals++
		rec.UpdatedAt = a.now()
		if _, err := replace(ctx, a.Store, facet.CRecordings, rec.ProjectID, rec, rec.ETag); err != nil && !isCode(err, facet.EConflict) {
			return "", err
		}
	}
	return Refused, nil
}

// RunAnalysis runs one queued analysis. It is idempotent: a run that has
// ended is not run again. Poison input and unusable videos are recorded
// and answered with a nil error (retrying cannot help); other errors are
// transient and the message should be redelivered.
func (a *App) RunAnalysis(ctx context.Context, body []byte) (Outcome, error) {
	var job AnalysisJob
	if err := json.Unmarshal(body, &job); err != nil || !facet.ValidID(job.RecordingID) || !facet.ValidID(job.ProjectID) || !facet.ValidID(job.AnalysisID) {
		a.Log.Error("analysis message dropped: unreadable", "error", err)
		return PoisonMessage, nil
	}
	log := a.Log.With("recording", job.RecordingID, "analysis", job.AnalysisID)
	an, anETag, err := get[facet.Analysis](ctx, a.Store, facet.CAnalyses, job.RecordingID, job.AnalysisID)
	if isCode(err, facet.ENotFound) {
		log.Warn("analysis message dropped: no such run (deleted?)")
		return Ignored, nil
	}
	if err != nil {
		return "", err
	}
	if an.Status == facet.RunDone || an.Status == facet.RunFailed {
		// The deletion that follows a privacy-by-design run may not have
		// been sent when this message was first handled.
		if rec, _, err := get[facet.Recording](ctx, a.Store, facet.CRecordings, job.ProjectID, job.RecordingID); err == nil {
			if p, err := a.project(ctx, rec.ClientID, rec.ProjectID); err == nil {
				if err := a.afterRun(ctx, p, rec); err != nil {
					return "", err
				}
			}
		}
		return AlreadyDone, nil
	}
	rec, recETag, err := get[facet.Recording](ctx, a.Store, facet.CRecordings, job.ProjectID, job.RecordingID)
	if isCode(err, facet.ENotFound) {
		return a.failRun(ctx, an, anETag, nil, "", facet.Errorf(facet.EGone, "the recording was removed"))
	}
	if err != nil {
		return "", err
	}
	p, err := a.project(ctx, rec.ClientID, rec.ProjectID)
	if err != nil && !isCode(err, facet.ENotFound) {
		return "", err
	}
	if rec.Status == facet.RecAwaitingUpload && rec.Video.DeletedAt == nil && p != nil {
		// BlobCreated queues the run before it records the upload (so a
		// crash in between is retried by Event Grid, not lost): this
		// delivery overtook that write. Redelivery finds it done.
		return "", facet.Errorf(facet.EUnavailable, "the upload of recording %s is not recorded yet", rec.ID)
	}
	if !rec.Video.Present || rec.Video.DeletedAt != nil || p == nil {
		return a.failRun(ctx, an, anETag, rec, recETag, facet.Errorf(facet.EGone, "the video no longer exists"))
	}
	// Claim the run. A second delivery of a run still marked running
	// takes it over: the first attempt failed or its instance died, and
	// every write below is idempotent.
	now := a.now()
	an.Status, an.StartedAt = facet.RunRunning, &now
	if anETag, err = replace(ctx, a.Store, facet.CAnalyses, an.RecordingID, an, anETag); err != nil {
		return "", err
	}
	rec.Status, rec.UpdatedAt = facet.RecAnalyzing, now
	if recETag, err = replace(ctx, a.Store, facet.CRecordings, rec.ProjectID, rec, recETag); err != nil {
		return "", err
	}

	res, chunks, err := a.analyzeBlob(ctx, rec, an, float64(p.Settings.MaxDurationS))
	if err != nil {
		if facet.IsBadVideo(err) {
			return a.failRun(ctx, an, anETag, rec, recETag, err)
		}
		return "", err
	}
	end := a.now()
	an.Status, an.FinishedAt, an.Failure, an.Chunks = facet.RunDone, &end, nil, chunks
	an.Result = &facet.ResultHead{Video: res.Video, Settings: res.Settings, Models: res.Models, Summary: res.Summary, Warnings: res.Warnings}
	if _, err := replace(ctx, a.Store, facet.CAnalyses, an.RecordingID, an, anETag); err != nil {
		return "", err
	}
	rec.Status, rec.Failure, rec.LatestAnalysis, rec.UpdatedAt = facet.RecAnalyzed, nil, an.ID, end
	if _, err := replace(ctx, a.Store, facet.CRecordings, rec.ProjectID, rec, recETag); err != nil {
		return "", err
	}
	log.Info("analysis stored", "frames", res.Summary.Frames, "chunks", chunks, "wall_s", float64(res.Summary.WallS))
	if err := a.afterRun(ctx, p, rec); err != nil {
		return "", err
	}
	return Analyzed, nil
}

// failRun records why a run cannot succeed, on the run and the recording.
func (a *App) failRun(ctx context.Context, an *facet.Analysis, anETag string, rec *facet.Recording, recETag string, cause error) (Outcome, error) {
	f := &facet.Failure{Code: facet.ErrorCode(cause), Message: facet.ErrorMessage(cause)}
	now := a.now()
	an.Status, an.FinishedAt, an.Failure = facet.RunFailed, &now, f
	if _, err := replace(ctx, a.Store, facet.CAnalyses, an.RecordingID, an, anETag); err != nil {
		return "", err
	}
	if rec != nil {
		rec.Status, rec.Failure, rec.LatestAnalysis, rec.UpdatedAt = facet.RecFailed, f, an.ID, now
		if _, err := replace(ctx, a.Store, facet.CRecordings, rec.ProjectID, rec, recETag); err != nil {
			return "", err
		}
	}
	a.Log.Warn("analysis failed", "recording", an.RecordingID, "analysis", an.ID, "code", f.Code)
	if rec != nil {
		if p, err := a.project(ctx, rec.ClientID, rec.ProjectID); err == nil {
			if err := a.afterRun(ctx, p, rec); err != nil {
				return "", err
			}
		}
	}
	return FailedVideo, nil
}

// analyzeBlob stages the video in a temporary file (mp4 with its index at
// the end needs a seekable input), analyses it, and stores the timeline
// chunk by chunk as frames arrive. The file is removed on every path.
func (a *App) analyzeBlob(ctx context.Context, rec *facet.Recording, an *facet.Analysis, maxDurationS float64) (*facet.Result, int, error) {
	f, err := os.CreateTemp(a.cfg.TempDir, "facet-video-*")
	if err != nil {
		return nil, 0, fmt.Errorf("app: stage video: %w", err)
	}
	defer os.Remove(f.Name())
	err = a.Blobs.Download(ctx, rec.Blob, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if isCode(err, facet.ENotFound) {
		return nil, 0, facet.Errorf(facet.EGone, "the video no longer exists")
	}
	if err != nil {
		return nil, 0, fmt.Errorf("app: stage video: %w", err)
	}
	var (
		chunk  []facet.Frame
		chunks int
		t0     float64
	)
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		c := facet.TimelineChunk{ID: chunkID(an.ID, chunks), Type: "timeline", RecordingID: rec.ID, AnalysisID: an.ID, Index: chunks, T0: t0, Frames: chunk}
		if err := upsert(ctx, a.Store, facet.CAnalyses, rec.ID, c); err != nil {
			return err
		}
		chunks++
		chunk = chunk[:0]
		return nil
	}
	onFrame := func(fr facet.Frame) error {
		if len(chunk) == 0 {
			t0 = float64(fr.T)
		}
		chunk = append(chunk, fr)
		if len(chunk) >= a.cfg.ChunkFrames || float64(fr.T)-t0 >= a.cfg.ChunkSeconds-1e-9 {
			return flush()
		}
		return nil
	}
	res, err := a.Analyzer.AnalyzeFile(ctx, f.Name(), an.Settings, maxDurationS, onFrame)
	if err != nil {
		return nil, 0, err
	}
	if err := flush(); err != nil {
		return nil, 0, err
	}
	// Chunks of an earlier, longer attempt of this run would otherwise
	// linger beyond the new count.
	for i := chunks; ; i++ {
		if err := a.Store.Delete(ctx, facet.CAnalyses, rec.ID, chunkID(an.ID, i), ""); err != nil {
			if isCode(err, facet.ENotFound) {
				break
			}
			return nil, 0, err
		}
	}
	return res, chunks, nil
}

// afterRun sends the privacy-by-design deletion once a run has ended
// (analysed or failed) and the video is still there.
func (a *App) afterRun(ctx context.Context, p *facet.Project, rec *facet.Recording) error {
	if p.PrivacyMode != facet.PrivacyDeleteAfterAnalysis || !rec.Video.Present || rec.Video.DeletedAt != nil {
		return nil
	}
	return a.sendDeletion(ctx, DeletionJob{Scope: ScopeRecording, ClientID: rec.ClientID, ProjectID: rec.ProjectID, RecordingID: rec.ID,
		Reason: facet.ReasonPrivacyByDesign, Trigger: TriggerPipeline})
}
