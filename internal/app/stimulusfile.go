package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/humaninsight/facet"
)

// MediaProber probes stimulus files and draws their thumbnail strips
// (ffmpeg). Safe for concurrent use.
type MediaProber interface {
	// ProbeMedia describes the file at path, or refuses it with a final
	// error (EUnprocessable: not playable in current browsers, with the
	// reason in the client's words; ENotVideo: not media at all).
	ProbeMedia(ctx context.Context, path string) (facet.StimulusMedia, error)
	// Thumbnails returns n JPEG frames spread over the file (one for an
	// image), width pixels wide.
	Thumbnails(ctx context.Context, path string, m facet.StimulusMedia, n, width int) ([][]byte, error)
}

// stimulusArrived handles the BlobCreated event of a stimulus's file: a
// file of a stimulus awaiting it is queued for its probe; anything else
// under the stimuli prefix that is not ours is deleted.
func (a *App) stimulusArrived(ctx context.Context, name string) (Outcome, error) {
	projectID, id, thumb, ok := facet.ParseStimulusBlob(name)
	if thumb {
		return Ignored, nil // written by the probe itself
	}
	var s *facet.Stimulus
	if ok {
		var err error
		s, _, err = get[facet.Stimulus](ctx, a.Store, facet.CStimuli, projectID, id)
		if err != nil && !isCode(err, facet.ENotFound) {
			return "", err
		}
	}
	if s == nil {
		a.Log.Warn("stimulus upload refused: no such stimulus", blobAttr(name))
		return Refused, a.Blobs.Delete(ctx, name)
	}
	if s.Status != facet.StimAwaitingUpload {
		return AlreadyDone, nil
	}
	info, err := a.Blobs.Stat(ctx, name)
	if isCode(err, facet.ENotFound) {
		return Ignored, nil
	}
	if err != nil {
		return "", err
	}
	switch {
	case info.Type != facet.BlockBlob:
		return a.refuseStimulus(ctx, s, fmt.Sprintf("the upload is a %s, not a block blob", info.Type))
	case info.Size > a.cfg.MaxStimulusBytes:
		return a.refuseStimulus(ctx, s, fmt.Sprintf("the file (%d bytes) is larger than the limit (%d bytes)", info.Size, a.cfg.MaxStimulusBytes))
	}
	// Queued first: should the status write be lost, Event Grid delivers
	// again, and the probe of a stimulus still awaiting runs all the same.
	job := AnalysisJob{Kind: JobStimulus, ProjectID: projectID, StimulusID: id}
	if err := a.Queue.Send(ctx, facet.QAnalysis, facet.Message{ID: "probe-" + id, Body: mustJSON(job)}); err != nil {
		return "", err
	}
	s.Status, s.UpdatedAt = facet.StimProcessing, a.now()
	if _, err := replace(ctx, a.Store, facet.CStimuli, projectID, s, ""); err != nil && !isCode(err, facet.ENotFound) {
		return "", err
	}
	return Queued, nil
}

// refuseStimulus deletes a stimulus's file and records why.
func (a *App) refuseStimulus(ctx context.Context, s *facet.Stimulus, why string) (Outcome, error) {
	if err := a.Blobs.Delete(ctx, facet.StimulusBlob(s.ProjectID, s.ID)); err != nil {
		return "", err
	}
	s.Status, s.Refusal, s.Media, s.UpdatedAt = facet.StimRefused, &facet.Failure{Code: facet.EUnprocessable, Message: why}, nil, a.now()
	if _, err := replace(ctx, a.Store, facet.CStimuli, s.ProjectID, s, ""); err != nil && !isCode(err, facet.ENotFound) {
		return "", err
	}
	a.Log.Info("stimulus refused", "project", s.ProjectID, "stimulus", s.ID, "why", why)
	return Refused, nil
}

// processStimulus probes a stimulus's file: a file that current browsers
// play and that is of the stimulus's kind makes it ready, with its media
// facts and thumbnail strip; any other is refused with the reason.
func (a *App) processStimulus(ctx context.Context, job AnalysisJob) (Outcome, error) {
	if !facet.ValidID(job.ProjectID) || !facet.ValidID(job.StimulusID) {
		a.Log.Error("stimulus message dropped: unreadable")
		return PoisonMessage, nil
	}
	s, _, err := get[facet.Stimulus](ctx, a.Store, facet.CStimuli, job.ProjectID, job.StimulusID)
	if isCode(err, facet.ENotFound) {
		return Ignored, nil // deleted meanwhile
	}
	if err != nil {
		return "", err
	}
	if s.Status == facet.StimReady || s.Status == facet.StimRefused {
		return AlreadyDone, nil
	}
	f, err := os.CreateTemp(a.cfg.TempDir, "facet-stimulus-*")
	if err != nil {
		return "", fmt.Errorf("app: stage stimulus: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	name := facet.StimulusBlob(s.ProjectID, s.ID)
	err = a.Blobs.Download(ctx, name, f, facet.DownloadOptions{MaxBytes: a.cfg.MaxStimulusBytes})
	switch {
	case isCode(err, facet.ENotFound):
		return Ignored, nil
	case isCode(err, facet.ETooLarge):
		return a.refuseStimulus(ctx, s, "the file is larger than the limit")
	case err != nil:
		return "", err
	}
	return a.describeStimulus(ctx, s, f.Name())
}

// describeStimulus probes the staged file and stores the result.
func (a *App) describeStimulus(ctx context.Context, s *facet.Stimulus, path string) (Outcome, error) {
	if a.Media == nil {
		return "", facet.Errorf(facet.EInternal, "app: no media prober wired")
	}
	m, err := a.Media.ProbeMedia(ctx, path)
	if code := facet.ErrorCode(err); code == facet.EUnprocessable || facet.IsBadVideo(err) {
		return a.refuseStimulus(ctx, s, facet.ErrorMessage(err))
	} else if err != nil {
		return "", err
	}
	isImage := m.DurationS == 0 && (m.Container == "jpeg" || m.Container == "png" || m.Container == "webp")
	if (s.Kind == facet.StimImage) != isImage {
		return a.refuseStimulus(ctx, s, fmt.Sprintf("kind: the stimulus is a %s, the file is %s", s.Kind, describeMedia(m)))
	}
	if fi, err := os.Stat(path); err == nil {
		m.SizeBytes = fi.Size()
	}
	n := facet.StimulusThumbnails
	if isImage {
		n = 1
	}
	thumbs, err := a.Media.Thumbnails(ctx, path, m, n, facet.StimulusThumbWidth)
	if err != nil {
		return "", err
	}
	for i, t := range thumbs {
		if _, err := a.Blobs.Upload(ctx, facet.StimulusThumbName(s.ProjectID, s.ID, i), bytes.NewReader(t)); err != nil {
			return "", err
		}
	}
	s.Status, s.Media, s.Thumbnails, s.Refusal, s.UpdatedAt = facet.StimReady, &m, len(thumbs), nil, a.now()
	if _, err := replace(ctx, a.Store, facet.CStimuli, s.ProjectID, s, ""); err != nil && !isCode(err, facet.ENotFound) {
		return "", err
	}
	a.Log.Info("stimulus ready", "project", s.ProjectID, "stimulus", s.ID, "container", m.Container, "durationS", m.DurationS)
	return Analyzed, nil
}

func describeMedia(m facet.StimulusMedia) string {
	if m.DurationS == 0 {
		return "an image (" + m.Container + ")"
	}
	return fmt.Sprintf("a %.1f s video (%s)", m.DurationS, m.Container)
}

// viewingLogArrived keeps the viewing log of a recording that awaits or
// has its upload; any other is deleted (a removed recording's, or one no
// slot names).
func (a *App) viewingLogArrived(ctx context.Context, name string) (Outcome, error) {
	video := strings.TrimSuffix(name, facet.ViewingLogSuffix)
	projectID, recID, _ := strings.Cut(video, "/")
	var rec *facet.Recording
	if facet.ValidID(projectID) && facet.ValidID(recID) {
		var err error
		rec, _, err = get[facet.Recording](ctx, a.Store, facet.CRecordings, projectID, recID)
		if err != nil && !isCode(err, facet.ENotFound) {
			return "", err
		}
	}
	if rec == nil || rec.Status == facet.RecRemoved || len(rec.Sequence) == 0 {
		a.Log.Warn("viewing log refused: no stimulus study's recording has this name", blobAttr(name))
		return Refused, a.Blobs.Delete(ctx, name)
	}
	return Ignored, nil // read by the recording's run
}

// viewingLog reads the viewing log of a stimulus study's recording. A
// log that is missing, too large or invalid does not stop the run: the
// frames are then not placed, and warn says why (a result warning).
func (a *App) viewingLog(ctx context.Context, rec *facet.Recording) (*facet.ViewingLog, string, error) {
	if len(rec.Sequence) == 0 {
		return nil, "", nil
	}
	var buf bytes.Buffer
	err := a.Blobs.Download(ctx, rec.Blob+facet.ViewingLogSuffix, &buf, facet.DownloadOptions{MaxBytes: facet.MaxViewingLogBytes})
	switch {
	case isCode(err, facet.ENotFound):
		return nil, "viewing_log_missing", nil
	case isCode(err, facet.ETooLarge):
		return nil, "viewing_log_too_large", nil
	case err != nil:
		return nil, "", err
	}
	var log facet.ViewingLog
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil || log.Validate() != nil {
		return nil, "viewing_log_invalid", nil
	}
	return &log, "", nil
}

// placeFrames wraps onFrame so that each frame is placed on what was on
// screen. The recording's length is not known before its frames come:
// placing does not need it (no frame lies past the end).
func placeFrames(log *facet.ViewingLog, seq []string, onFrame func(facet.Frame) error) func(facet.Frame) error {
	al, err := facet.Align(*log, facet.MaxViewingS, seq...)
	if err != nil {
		return onFrame
	}
	return func(fr facet.Frame) error {
		if id, t, ok := al.Place(float64(fr.T)); ok {
			st := facet.Num(t)
			fr.Stimulus, fr.StimulusT = id, &st
		}
		return onFrame(fr)
	}
}

// studyWarnings are the result warnings of a stimulus study's run: why
// its log was not used, or what the alignment found against the
// recording's real length (viewing_<code>).
func studyWarnings(log *facet.ViewingLog, warn string, seq []string, durationS float64) []string {
	if warn != "" {
		return []string{warn}
	}
	if log == nil {
		return nil
	}
	al, err := facet.Align(*log, max(durationS, 0.001), seq...)
	if err != nil {
		return []string{"viewing_log_invalid"}
	}
	out := make([]string, len(al.Warnings))
	for i, w := range al.Warnings {
		out[i] = "viewing_" + w
	}
	return out
}
