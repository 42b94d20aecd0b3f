package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/humaninsight/facet"
)

// UploadsContainer is the blob container participants upload into.
const UploadsContainer = "uploads"

// AnalysisJob is the body of a message on the analysis queue: a run of
// a recording, or (Kind JobStimulus) the probe of a stimulus's file.
type AnalysisJob struct {
	Kind        string `json:"kind,omitempty"`
	RecordingID string `json:"recordingId,omitempty"`
	ProjectID   string `json:"projectId"`
	AnalysisID  string `json:"analysisId,omitempty"`
	StimulusID  string `json:"stimulusId,omitempty"`
}

// JobStimulus is the Kind of a stimulus's probe on the analysis queue.
const JobStimulus = "stimulus"

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
//
// The event only says which blob to look at: its type, length and ETag
// are read from the blob itself (one HEAD), so a forged or stale event
// can neither make the app download what was not uploaded nor name a
// version of the video that is not the one stored.
func (a *App) BlobCreated(ctx context.Context, ev BlobEvent) (Outcome, error) {
	name, ok := a.uploadName(ev)
	if !ok {
		return Ignored, nil
	}
	if strings.HasPrefix(name, facet.StimulusPrefix) {
		return a.stimulusArrived(ctx, name)
	}
	if strings.HasSuffix(name, facet.ViewingLogSuffix) {
		return a.viewingLogArrived(ctx, name)
	}
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
		return a.repeatedUpload(ctx, name, rec, ev)
	}
	info, err := a.Blobs.Stat(ctx, name)
	if isCode(err, facet.ENotFound) {
		a.Log.Warn("event ignored: no such blob (forged, or deleted since)", "blob", name)
		return Ignored, nil
	}
	if err != nil {
		return "", err
	}
	p, err := a.project(ctx, rec.ClientID, rec.ProjectID)
	switch {
	case isCode(err, facet.ENotFound):
		return a.refuse(ctx, name, nil, "the project no longer exists")
	case err != nil:
		return "", err
	case p.Status != facet.ProjectOpen:
		return a.refuse(ctx, name, rec, "the project is closed")
	case info.Type != facet.BlockBlob:
		return a.refuse(ctx, name, rec, fmt.Sprintf("the upload is a %s, not a block blob", info.Type))
	case info.Size > p.Settings.MaxUploadBytes:
		return a.refuse(ctx, name, rec, fmt.Sprintf("the upload (%d bytes) is larger than the project's limit (%d bytes)", info.Size, p.Settings.MaxUploadBytes))
	}
	return a.acceptUpload(ctx, p, rec, info)
}

// uploadName returns the blob name of an event about this account's
// uploads container; any other event is logged and ignored.
func (a *App) uploadName(ev BlobEvent) (string, bool) {
	if ev.EventType != "Microsoft.Storage.BlobCreated" {
		a.Log.Warn("event ignored: not BlobCreated", "type", ev.EventType, "subject", ev.Subject)
		return "", false
	}
	account := ev.Topic[strings.LastIndex(ev.Topic, "/")+1:]
	prefix := "/blobServices/default/containers/" + UploadsContainer + "/blobs/"
	if !strings.EqualFold(account, a.cfg.StorageAccount) || !strings.Contains(strings.ToLower(ev.Topic), "/storageaccounts/") || !strings.HasPrefix(ev.Subject, prefix) {
		// Not our account's uploads container: never touch it.
		a.Log.Warn("event ignored: not this account's uploads container", "topic", ev.Topic, "subject", ev.Subject)
		return "", false
	}
	return strings.TrimPrefix(ev.Subject, prefix), true
}

// repeatedUpload handles an event for a slot whose upload is recorded.
func (a *App) repeatedUpload(ctx context.Context, name string, rec *facet.Recording, ev BlobEvent) (Outcome, error) {
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

// acceptUpload records the upload and queues its first analysis.
func (a *App) acceptUpload(ctx context.Context, p *facet.Project, rec *facet.Recording, info facet.BlobInfo) (Outcome, error) {
	now := a.now()
	rec.Video = facet.VideoState{Present: true, SizeBytes: info.Size, ETag: strings.Trim(info.ETag, `"`), UploadedAt: &now}
	// The first run's id follows from the upload, so a retried event
	// makes the same run, not a second one.
	an := a.newAnalysis(rec, "an_"+shortHash(rec.ID+"|"+rec.Video.ETag), facet.Settings{SampleFPS: p.Settings.SampleFPS, Models: p.Settings.Models, SmoothS: p.Settings.Smooth(), Detect: p.Settings.Detect})
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
	a.Log.Info("upload accepted", "recording", rec.ID, "analysis", an.ID, "bytes", info.Size)
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
	if rec != nil && rec.Status != facet.RecRemoved { // a tombstone stays as it is
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
	err := json.Unmarshal(body, &job)
	if err == nil && job.Kind == JobStimulus {
		return a.processStimulus(ctx, job)
	}
	if err != nil || !facet.ValidID(job.RecordingID) || !facet.ValidID(job.ProjectID) || !facet.ValidID(job.AnalysisID) {
		a.Log.Error("analysis message dropped: unreadable", "error", err)
		return PoisonMessage, nil
	}
	an, anETag, err := get[facet.Analysis](ctx, a.Store, facet.CAnalyses, job.RecordingID, job.AnalysisID)
	if isCode(err, facet.ENotFound) {
		// Deleted (with its recording, most likely) while it ran: what an
		// attempt cut short wrote after the deletion must not stay.
		a.Log.Warn("analysis message dropped: no such run (deleted?)", "recording", job.RecordingID, "analysis", job.AnalysisID)
		return Ignored, a.dropChunks(ctx, job.RecordingID, job.AnalysisID)
	}
	if err != nil {
		return "", err
	}
	if an.Status == facet.RunDone || an.Status == facet.RunFailed {
		return AlreadyDone, a.settled(ctx, an)
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
		err := facet.Errorf(facet.EUnavailable, "the upload of recording %s is not recorded yet", rec.ID)
		err.RetryAfter = time.Second // the write is a moment away
		return "", err
	}
	if !rec.Video.Present || rec.Video.DeletedAt != nil || p == nil || rec.Status == facet.RecRemoved {
		return a.failRun(ctx, an, anETag, rec, recETag, facet.Errorf(facet.EGone, "the video no longer exists"))
	}
	if err := a.fairShare(ctx, an); err != nil {
		return "", err // ETooMany: the handler schedules it for later
	}
	return a.run(ctx, p, rec, recETag, an, anETag)
}

// run claims a run, analyses its video and stores the result. A second
// delivery of a run still marked running takes it over: the first attempt
// failed or its instance died, and every write here is idempotent.
func (a *App) run(ctx context.Context, p *facet.Project, rec *facet.Recording, recETag string, an *facet.Analysis, anETag string) (Outcome, error) {
	now := a.now()
	takeover := an.Status == facet.RunRunning
	an.Status, an.StartedAt = facet.RunRunning, &now
	anETag, err := replace(ctx, a.Store, facet.CAnalyses, an.RecordingID, an, anETag)
	if err != nil {
		return "", err
	}
	rec.Status, rec.UpdatedAt = facet.RecAnalyzing, now
	if recETag, err = replace(ctx, a.Store, facet.CRecordings, rec.ProjectID, rec, recETag); err != nil {
		return "", err
	}
	// Which instance analyses what, and when it takes a run over.
	a.Log.Debug("analysis started", "recording", rec.ID, "analysis", an.ID, "takeover", takeover)
	res, chunks, err := a.analyzeBlob(ctx, p, rec, an)
	switch {
	case errors.Is(err, errRunDeleted):
		return Ignored, a.dropChunks(context.WithoutCancel(ctx), an.RecordingID, an.ID)
	case final(err):
		return a.failRun(ctx, an, anETag, rec, recETag, err)
	case err != nil:
		return "", err
	}
	end := a.now()
	an.Status, an.FinishedAt, an.Failure, an.Chunks = facet.RunDone, &end, nil, chunks
	an.Result = &facet.ResultHead{Video: res.Video, Settings: res.Settings, Models: res.Models, Summary: res.Summary, Warnings: res.Warnings}
	if _, err := replace(ctx, a.Store, facet.CAnalyses, an.RecordingID, an, anETag); err != nil {
		if isCode(err, facet.ENotFound) { // deleted since the last chunk
			return Ignored, a.dropChunks(context.WithoutCancel(ctx), an.RecordingID, an.ID)
		}
		return "", err
	}
	rec.Status, rec.Failure, rec.LatestAnalysis, rec.UpdatedAt = facet.RecAnalyzed, nil, an.ID, end
	if _, err := replace(ctx, a.Store, facet.CRecordings, rec.ProjectID, rec, recETag); err != nil {
		return "", err // redelivery finds the run done and settles the recording
	}
	a.Log.Info("analysis stored", "recording", rec.ID, "analysis", an.ID, "frames", res.Summary.Frames, "chunks", chunks, "wall_s", float64(res.Summary.WallS))
	if err := a.runEvent(ctx, an); err != nil {
		return "", err // redelivery finds the run done and emits again, with the same id
	}
	if err := a.afterRun(ctx, p, rec); err != nil {
		return "", err
	}
	return Analyzed, nil
}

// final reports whether a run's error ends it for good: the video is
// unusable, gone, or larger than allowed. Retrying cannot help.
func final(err error) bool {
	return facet.IsBadVideo(err) || isCode(err, facet.EGone) || isCode(err, facet.ETooLarge)
}

// settled handles a repeated delivery of a run that has ended. The
// recording may still say "analyzing" when the write after the run was
// lost (the redelivery stops here): it is brought in line with the run.
// The privacy-by-design deletion may not have been sent either.
func (a *App) settled(ctx context.Context, an *facet.Analysis) error {
	rec, etag, err := get[facet.Recording](ctx, a.Store, facet.CRecordings, an.ProjectID, an.RecordingID)
	if isCode(err, facet.ENotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if rec.LatestAnalysis == an.ID && (rec.Status == facet.RecUploaded || rec.Status == facet.RecAnalyzing) {
		rec.Status, rec.Failure, rec.UpdatedAt = facet.RecAnalyzed, nil, a.now()
		if an.Status == facet.RunFailed {
			rec.Status, rec.Failure = facet.RecFailed, an.Failure
		}
		if _, err := replace(ctx, a.Store, facet.CRecordings, rec.ProjectID, rec, etag); err != nil {
			return err
		}
		a.Log.Warn("recording status repaired after a lost write", "recording", rec.ID, "analysis", an.ID, "status", rec.Status)
	}
	// The event may not have gone out either: emitted again, it has the
	// same id, and a delivery that succeeded once is not made again.
	if err := a.runEvent(ctx, an); err != nil {
		return err
	}
	p, err := a.project(ctx, rec.ClientID, rec.ProjectID)
	if err != nil {
		return nil // the project's removal deletes the video
	}
	return a.afterRun(ctx, p, rec)
}

// errRunDeleted stops a run whose analysis was deleted while it ran.
var errRunDeleted = errors.New("app: the run was deleted while it ran")

// dropChunks deletes the timeline chunks of an analysis whose run item is
// gone: chunks an attempt wrote after a deletion had passed.
func (a *App) dropChunks(ctx context.Context, recID, anID string) error {
	for round := 0; round < 1000; round++ {
		chunks, _, err := query[facet.TimelineChunk](ctx, a.Store, facet.CAnalyses, facet.Query{Partition: recID, Where: map[string]any{"analysisId": anID}})
		if err != nil || len(chunks) == 0 {
			return err
		}
		for _, c := range chunks {
			if err := a.Store.Delete(ctx, facet.CAnalyses, recID, c.ID, ""); err != nil && !isCode(err, facet.ENotFound) {
				return err
			}
		}
		a.Log.Warn("timeline chunks of a deleted run removed", "recording", recID, "analysis", anID, "chunks", len(chunks))
	}
	return facet.Errorf(facet.EUnavailable, "app: chunks of %s keep coming back", anID)
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
		if errors.Is(cause, errVideoMissing) {
			rec.Video.Present = false // whatever removed it, it is not there
		}
		if _, err := replace(ctx, a.Store, facet.CRecordings, rec.ProjectID, rec, recETag); err != nil {
			return "", err
		}
	}
	a.Log.Warn("analysis failed", "recording", an.RecordingID, "analysis", an.ID, "code", f.Code)
	if err := a.runEvent(ctx, an); err != nil {
		return "", err
	}
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
func (a *App) analyzeBlob(ctx context.Context, p *facet.Project, rec *facet.Recording, an *facet.Analysis) (*facet.Result, int, error) {
	f, err := os.CreateTemp(a.cfg.TempDir, "facet-video-*")
	if err != nil {
		return nil, 0, fmt.Errorf("app: stage video: %w", err)
	}
	defer os.Remove(f.Name())
	err = a.stage(ctx, p, rec, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, 0, err
	}
	tl := &timeline{ctx: ctx, a: a, rec: rec, an: an}
	log, warn, err := a.viewingLog(ctx, rec)
	if err != nil {
		return nil, 0, err
	}
	onFrame := tl.add
	if log != nil {
		onFrame = placeFrames(log, rec.Sequence, tl.add)
	}
	res, err := a.Analyzer.AnalyzeFile(ctx, f.Name(), an.Settings, float64(p.Settings.MaxDurationS), onFrame)
	if err != nil {
		return nil, 0, err
	}
	res.Warnings = append(res.Warnings, studyWarnings(log, warn, rec.Sequence, float64(res.Video.DurationS))...)
	if err := tl.flush(ctx); err != nil {
		return nil, 0, err
	}
	// Chunks of an earlier, longer attempt of this run would otherwise
	// linger beyond the new count.
	for i := tl.chunks; ; i++ {
		if err := a.Store.Delete(ctx, facet.CAnalyses, rec.ID, chunkID(an.ID, i), ""); err != nil {
			if isCode(err, facet.ENotFound) {
				break
			}
			return nil, 0, err
		}
	}
	return res, tl.chunks, nil
}

// errVideoMissing marks a run's failure as "the blob is not there", so
// the recording says so too.
var errVideoMissing = errors.New("app: blob not found")

// stage downloads the recording's video into f: only the blob that was
// announced (its ETag) and no byte beyond the project's upload limit.
func (a *App) stage(ctx context.Context, p *facet.Project, rec *facet.Recording, f *os.File) error {
	err := a.Blobs.Download(ctx, rec.Blob, f, facet.DownloadOptions{IfMatch: rec.Video.ETag, MaxBytes: p.Settings.MaxUploadBytes})
	switch {
	case isCode(err, facet.ENotFound):
		return &facet.Error{Code: facet.EGone, Message: "the video no longer exists", Err: errVideoMissing}
	case isCode(err, facet.EConflict):
		return facet.Errorf(facet.EGone, "the video was replaced after its upload")
	case isCode(err, facet.ETooLarge):
		return facet.Errorf(facet.ETooLarge, "the video is larger than the project's upload limit (%d bytes)", p.Settings.MaxUploadBytes)
	}
	if err != nil {
		return fmt.Errorf("app: stage video: %w", err)
	}
	return nil
}

// timeline stores a run's frames chunk by chunk.
type timeline struct {
	ctx    context.Context
	a      *App
	rec    *facet.Recording
	an     *facet.Analysis
	chunk  []facet.Frame
	chunks int
	t0     float64
}

func (t *timeline) add(fr facet.Frame) error {
	if len(t.chunk) == 0 {
		t.t0 = float64(fr.T)
	}
	t.chunk = append(t.chunk, fr)
	if len(t.chunk) >= t.a.cfg.ChunkFrames || float64(fr.T)-t.t0 >= t.a.cfg.ChunkSeconds-1e-9 {
		return t.flush(t.ctx)
	}
	return nil
}

// flush writes the frames held as the next chunk, then checks that the
// run still exists: a deletion that removed it (and the chunks it found)
// before this write must not leave this chunk behind. Written first and
// checked second, no chunk escapes a deletion that runs meanwhile.
func (t *timeline) flush(ctx context.Context) error {
	if len(t.chunk) == 0 {
		return nil
	}
	c := facet.TimelineChunk{ID: chunkID(t.an.ID, t.chunks), Type: "timeline", RecordingID: t.rec.ID, AnalysisID: t.an.ID, Index: t.chunks, T0: t.t0, Frames: t.chunk}
	if err := upsert(ctx, t.a.Store, facet.CAnalyses, t.rec.ID, c); err != nil {
		return err
	}
	if _, err := t.a.Store.Read(ctx, facet.CAnalyses, t.rec.ID, t.an.ID); isCode(err, facet.ENotFound) {
		return errRunDeleted
	} else if err != nil {
		return err
	}
	t.chunks++
	t.chunk = t.chunk[:0]
	return nil
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
