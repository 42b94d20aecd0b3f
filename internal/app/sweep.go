package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/humaninsight/facet"
)

// Lease is how long a run may stay "analyzing" (or a recording
// "uploaded") before the sweep assumes its message was lost: above
// host.json's functionTimeout (30 min) plus the queue's redelivery.
const Lease = 45 * time.Minute

// RunDeadline is how long after its creation a run may still be queued
// or running: past it the sweep ends the run failed (code
// facet.ETimeout) instead of queuing it again, so that nothing, not even
// a video that kills every worker that opens it, stays running for ever.
const RunDeadline = 3 * Lease

// OrphanAuditPartition is the audit partition (the entry's clientId) of
// blobs deleted with no known client: not the shape of a client id
// (facet.ValidID), so no client's Audit API can ever list it; the
// operator reads it in the audit container.
const OrphanAuditPartition = "orphans"

// OrphanAllowance is how many orphans the sweep deletes whatever their
// share of all blobs, provided the store holds recordings and some
// blobs have one. A store that lost its data while a few new
// recordings came in costs at most this many videos (each audited).
const OrphanAllowance = 2

// SweepReport counts what the retention sweep found. Each find is
// something a lost or failed message left behind, so these are metrics.
type SweepReport struct {
	Blobs        int            `json:"blobs"`                       // blobs looked at
	Deleted      map[string]int `json:"deleted"`                     // videos deleted, by reason ("orphan": no recording)
	Orphans      int            `json:"orphans"`                     // blobs found without a recording
	OrphansHeld  int            `json:"orphansHeld"`                 // orphans kept, not deleted: see HeldReason
	HeldReason   string         `json:"orphansHeldReason,omitempty"` // why they were kept
	Requeued     int            `json:"requeued"`                    // analyses queued again
	EndedRuns    int            `json:"endedRuns"`                   // stuck runs ended failed: video gone, or past RunDeadline
	ExpiredSlots int            `json:"expiredSlots"`                // upload slots marked expired
	EndedLogins  int            `json:"endedLogins"`                 // ended sessions and spent or expired team invitations deleted
	LostMessages int            `json:"lostMessages"`                // deleted (orphans once), orphans, requeued, endedRuns, expiredSlots
}

// Sweep finds and repairs what lost messages left behind: it deletes videos
// that should already be gone (closed or removed projects, privacy-by-design
// runs that ended, retention exceeded, blobs with no recording), queues
// analyses whose event or message was lost, ends runs whose video is gone
// or whose deadline passed, and expires unused upload slots.
//
// Every deletion writes an audit entry. Blobs without a recording are
// only counted in the first pass over the container; a second pass
// deletes them only when the store looks sound (see holdOrphans). It
// pages through the container, holding one page at a time.
func (a *App) Sweep(ctx context.Context) (*SweepReport, error) {
	r := &SweepReport{Deleted: map[string]int{}}
	now := a.now()
	err := a.Blobs.List(ctx, "", func(b facet.BlobInfo) error {
		r.Blobs++
		return a.sweepBlob(ctx, b, now, r)
	})
	if err != nil {
		return r, err
	}
	if err := a.sweepOrphans(ctx, r); err != nil {
		return r, err
	}
	if err := a.endStuckRuns(ctx, now, r); err != nil {
		return r, err
	}
	if err := a.expireSlots(ctx, now, r); err != nil {
		return r, err
	}
	if err := a.sweepLogins(ctx, now, r); err != nil {
		return r, err
	}
	for reason, n := range r.Deleted {
		if reason != facet.ReasonOrphan {
			r.LostMessages += n
		}
	}
	r.LostMessages += r.Orphans + r.Requeued + r.EndedRuns + r.ExpiredSlots
	a.Log.Info("retention sweep finished", "blobs", r.Blobs, "deleted", r.Deleted, "orphans", r.Orphans, "orphansHeld", r.OrphansHeld,
		"requeued", r.Requeued, "endedRuns", r.EndedRuns, "expiredSlots", r.ExpiredSlots, "endedLogins", r.EndedLogins, "lostMessages", r.LostMessages)
	return r, nil
}

// blobDoc is a recordings document as the sweep reads it: a recording,
// or a tombstone (whose reason it keeps).
type blobDoc struct {
	facet.Recording
	Reason string `json:"reason"`
	// stimulus: the blob is a stimulus's file or thumbnail, whose
	// stimulus exists. Stimuli go with their project or at the client's
	// request, never by a recording's rules.
	stimulus bool
	// log: the blob is the recording's viewing log, not its video.
	log bool
}

// blobRecording reads the document of the recording a blob is named
// after. It returns nil for an orphan: a name not shaped
// <projectId>/<recordingId>, or no such recording. A tombstone is not
// an orphan: it proves the recording was removed.
func (a *App) blobRecording(ctx context.Context, name string) (*blobDoc, error) {
	if strings.HasPrefix(name, facet.StimulusPrefix) {
		projectID, id, _, ok := facet.ParseStimulusBlob(name)
		if !ok {
			return nil, nil
		}
		_, _, err := get[facet.Stimulus](ctx, a.Store, facet.CStimuli, projectID, id)
		if isCode(err, facet.ENotFound) {
			return nil, nil
		}
		return &blobDoc{stimulus: true}, err
	}
	video, log := strings.CutSuffix(name, facet.ViewingLogSuffix)
	projectID, recID, ok := strings.Cut(video, "/")
	if !ok || !facet.ValidID(projectID) || !facet.ValidID(recID) {
		return nil, nil
	}
	d, _, err := get[blobDoc](ctx, a.Store, facet.CRecordings, projectID, recID)
	if d != nil {
		d.log = log
	}
	if isCode(err, facet.ENotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if d.ClientID == "" && d.Status != facet.RecRemoved {
		return nil, nil // not a document this service writes
	}
	return d, nil
}

// sweepBlob handles one blob of the first pass. Orphans are only counted.
func (a *App) sweepBlob(ctx context.Context, b facet.BlobInfo, now time.Time, r *SweepReport) error {
	d, err := a.blobRecording(ctx, b.Name)
	if err != nil {
		return err
	}
	if d == nil {
		r.Orphans++
		return nil
	}
	if d.stimulus {
		return nil
	}
	if d.log {
		return a.sweepViewingLog(ctx, b, d)
	}
	rec := &d.Recording
	del := func(clientID, reason string) error {
		_, err := a.deleteRecording(ctx, DeletionJob{Scope: ScopeRecording, ClientID: clientID, ProjectID: rec.ProjectID, RecordingID: rec.ID, Reason: reason, Trigger: TriggerSweep})
		if err == nil {
			r.Deleted[reason]++
		}
		return err
	}
	if rec.Status == facet.RecRemoved {
		if rec.ClientID == "" { // a tombstone: its video came back, or never went
			return a.sweepTombstoneBlob(ctx, d, del)
		}
		return del(rec.ClientID, facet.ReasonRecordingRemoved)
	}
	p, err := a.project(ctx, rec.ClientID, rec.ProjectID)
	if isCode(err, facet.ENotFound) {
		return del(rec.ClientID, facet.ReasonProjectRemoved)
	}
	if err != nil {
		return err
	}
	switch {
	case p.Status == facet.ProjectClosed && p.Deletion != nil && !now.Before(p.Deletion.At.Add(time.Minute)):
		return del(rec.ClientID, facet.ReasonProjectClosed)
	case p.PrivacyMode == facet.PrivacyDeleteAfterAnalysis && (rec.Status == facet.RecAnalyzed || rec.Status == facet.RecFailed):
		return del(rec.ClientID, facet.ReasonPrivacyByDesign)
	case rec.Video.UploadedAt != nil && now.Sub(*rec.Video.UploadedAt) > time.Duration(p.Settings.MaxRetentionDays)*24*time.Hour:
		return del(rec.ClientID, facet.ReasonRetention)
	case rec.Status == facet.RecAwaitingUpload && p.Status == facet.ProjectOpen:
		// The upload's BlobCreated event was lost: handle it now.
		out, err := a.BlobCreated(ctx, BlobEvent{EventType: "Microsoft.Storage.BlobCreated",
			Topic: "/storageAccounts/" + a.cfg.StorageAccount, Subject: "/blobServices/default/containers/" + UploadsContainer + "/blobs/" + b.Name,
			ETag: b.ETag, ContentLength: b.Size})
		if err == nil && out == Queued {
			r.Requeued++
		}
		return err
	}
	// Stuck runs are the recordings pass's (endStuckRuns): it also sees
	// those whose blob is gone.
	return nil
}

// sweepTombstoneBlob deletes the video of a removed recording. The
// tombstone no longer names the client: the project, if it still
// exists, does; else the audit entry goes to OrphanAuditPartition.
func (a *App) sweepTombstoneBlob(ctx context.Context, d *blobDoc, del func(clientID, reason string) error) error {
	reason := d.Reason
	if !removes(reason) {
		reason = facet.ReasonRecordingRemoved
	}
	ps, _, err := query[facet.Project](ctx, a.Store, facet.CProjects, facet.Query{Where: map[string]any{"id": d.ProjectID}, Limit: 1})
	if err != nil {
		return err
	}
	if len(ps) == 1 && facet.ValidID(ps[0].ClientID) {
		return del(ps[0].ClientID, reason)
	}
	return del(OrphanAuditPartition, reason)
}

// sweepOrphans is the second pass: when the first found orphans and the
// store looks sound, it lists the container again and deletes each blob
// that still has no recording, at most as many as the first pass
// counted (more would mean the store changed under the sweep). Each
// deletion is audited in OrphanAuditPartition.
func (a *App) sweepOrphans(ctx context.Context, r *SweepReport) error {
	if r.Orphans == 0 {
		return nil
	}
	why, err := a.holdOrphans(ctx, r)
	if why != "" {
		r.OrphansHeld, r.HeldReason = r.Orphans, why
		a.Log.Error("sweep: blobs without a recording kept, not deleted", "orphans", r.Orphans, "blobs", r.Blobs, "reason", why)
	}
	if why != "" || err != nil {
		return err
	}
	return a.Blobs.List(ctx, "", func(b facet.BlobInfo) error {
		d, err := a.blobRecording(ctx, b.Name)
		if err != nil || d != nil {
			return err
		}
		if r.Deleted[facet.ReasonOrphan] >= r.Orphans {
			r.OrphansHeld++
			r.HeldReason = "more blobs without a recording than the first pass counted: the store may have changed during the sweep"
			a.Log.Error("sweep: blob without a recording kept: more than the first pass counted", blobAttr(b.Name))
			return nil
		}
		if err := a.deleteOrphan(ctx, b); err != nil {
			return err
		}
		r.Deleted[facet.ReasonOrphan]++
		return nil
	})
}

// holdOrphans says why orphans must not be deleted, or "" when they may.
// Blobs the store does not know are what an emptied, replaced or
// unreachable store looks like, so the sweep deletes them only when the
// store answers, holds recordings, knows some of the blobs, and the
// orphans are few: at most OrphanAllowance, or at most the configured
// share (OrphanShareMax) of all blobs.
func (a *App) holdOrphans(ctx context.Context, r *SweepReport) (string, error) {
	page, err := a.Store.Query(ctx, facet.CRecordings, facet.Query{Limit: 1})
	if err != nil {
		return "the metadata store did not answer", err
	}
	share := a.cfg.OrphanShareMax
	switch {
	case len(page.Docs) == 0:
		return "the metadata store holds no recording: it may have been emptied or replaced", nil
	case r.Orphans == r.Blobs:
		return "no blob has a recording: the metadata store may not be the one these blobs belong to", nil
	case r.Orphans > OrphanAllowance && float64(r.Orphans) > share*float64(r.Blobs):
		return fmt.Sprintf("%d of %d blobs have no recording: more than %d and over the share allowed (%g, FACET_ORPHAN_SHARE_MAX)",
			r.Orphans, r.Blobs, OrphanAllowance, share), nil
	}
	return "", nil
}

// deleteOrphan deletes a blob that has no recording. The audit entry is
// written first: its id follows from the blob's name and ETag, so a
// sweep cut short between the two writes none twice and loses none.
// Only id-shaped names are stored: any other name could hold anything.
func (a *App) deleteOrphan(ctx context.Context, b facet.BlobInfo) error {
	j := DeletionJob{Scope: ScopeRecording, ClientID: OrphanAuditPartition, Reason: facet.ReasonOrphan, Trigger: TriggerSweep}
	if p, rec, ok := strings.Cut(b.Name, "/"); ok && facet.ValidID(p) && facet.ValidID(rec) {
		j.ProjectID, j.RecordingID = p, rec
	}
	if err := a.audit(ctx, j, b.Name, b.ETag, b.Size); err != nil {
		return err
	}
	if err := a.Blobs.Delete(ctx, b.Name); err != nil {
		return err
	}
	a.Log.Warn("sweep: blob without a recording deleted", blobAttr(b.Name))
	return nil
}

// blobAttr names a blob in logs: by name when it is made of ids, else by
// its hash (logs carry ids, never what a stranger chose to write).
func blobAttr(name string) slog.Attr {
	if p, rec, ok := strings.Cut(name, "/"); ok && facet.ValidID(p) && facet.ValidID(rec) {
		return slog.String("blob", name)
	}
	return slog.String("blobHash", hashHex(name))
}

// endStuckRuns looks at every recording still uploaded or analyzing past
// its Lease, whether or not its blob is there (the blob pass sees only
// those whose blob is): see endStuckRun.
func (a *App) endStuckRuns(ctx context.Context, now time.Time, r *SweepReport) error {
	for _, status := range []facet.RecordingStatus{facet.RecUploaded, facet.RecAnalyzing} {
		cont := ""
		for {
			recs, next, err := query[facet.Recording](ctx, a.Store, facet.CRecordings, facet.Query{Where: map[string]any{"status": status}, Continuation: cont})
			if err != nil {
				return err
			}
			for i := range recs {
				if now.Sub(recs[i].UpdatedAt) <= Lease {
					continue
				}
				if err := a.endStuckRun(ctx, recs[i].ProjectID, recs[i].ID, now, r); err != nil {
					return err
				}
			}
			if cont = next; cont == "" {
				break
			}
		}
	}
	return nil
}

// endStuckRun settles a recording whose run has not moved for a Lease:
// a run whose video is gone ends failed (gone) and the video is marked
// absent; a run past its RunDeadline ends failed (facet.ETimeout); any
// other is queued again (RunAnalysis takes over a run left running). A
// write that conflicts means the run moved meanwhile: the next sweep
// looks again.
func (a *App) endStuckRun(ctx context.Context, projectID, recID string, now time.Time, r *SweepReport) error {
	rec, recETag, err := get[facet.Recording](ctx, a.Store, facet.CRecordings, projectID, recID)
	if isCode(err, facet.ENotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if (rec.Status != facet.RecUploaded && rec.Status != facet.RecAnalyzing) || now.Sub(rec.UpdatedAt) <= Lease {
		return nil // it moved since the query
	}
	an, anETag, err := get[facet.Analysis](ctx, a.Store, facet.CAnalyses, rec.ID, rec.LatestAnalysis)
	if isCode(err, facet.ENotFound) {
		a.Log.Error("sweep: stuck recording without its run", "recording", rec.ID, "analysis", rec.LatestAnalysis)
		return nil
	}
	if err != nil {
		return err
	}
	if an.Status != facet.RunQueued && an.Status != facet.RunRunning {
		return nil
	}
	gone := !rec.Video.Present || rec.Video.DeletedAt != nil
	if !gone {
		if _, err := a.Blobs.Stat(ctx, recordingBlob(rec)); isCode(err, facet.ENotFound) {
			gone = true
		} else if err != nil {
			return err
		}
	}
	var cause error
	switch {
	case gone:
		rec.Video.Present = false
		cause = facet.Errorf(facet.EGone, "the video no longer exists")
	case now.Sub(an.CreatedAt) > RunDeadline:
		cause = facet.Errorf(facet.ETimeout, "the analysis did not finish within %s of being queued", RunDeadline)
	default:
		return a.requeue(ctx, rec, an, r)
	}
	if _, err := a.failRun(ctx, an, anETag, rec, recETag, cause); err != nil {
		if isCode(err, facet.EConflict) {
			return nil
		}
		return err
	}
	r.EndedRuns++
	a.Log.Warn("sweep: stuck analysis ended", "recording", rec.ID, "analysis", an.ID, "code", facet.ErrorCode(cause))
	return nil
}

// recordingBlob is the name of a recording's video.
func recordingBlob(rec *facet.Recording) string {
	if rec.Blob != "" {
		return rec.Blob
	}
	return rec.ProjectID + "/" + rec.ID
}

// requeue sends a stuck recording's run again.
func (a *App) requeue(ctx context.Context, rec *facet.Recording, an *facet.Analysis, r *SweepReport) error {
	if err := a.enqueueAnalysis(ctx, rec, an); err != nil {
		return err
	}
	r.Requeued++
	a.Log.Warn("sweep: stuck analysis queued again", "recording", rec.ID, "analysis", an.ID)
	return nil
}

// expireSlots marks upload slots whose link expired unused.
func (a *App) expireSlots(ctx context.Context, now time.Time, r *SweepReport) error {
	cont := ""
	for {
		recs, next, err := query[facet.Recording](ctx, a.Store, facet.CRecordings, facet.Query{Where: map[string]any{"status": facet.RecAwaitingUpload}, Continuation: cont})
		if err != nil {
			return err
		}
		for _, rec := range recs {
			if now.Before(rec.UploadExpiresAt.Add(10 * time.Minute)) {
				continue // a last upload may still be in flight
			}
			if _, err := a.Blobs.Stat(ctx, rec.Blob); err == nil {
				continue // uploaded: the blob pass handles it
			} else if !isCode(err, facet.ENotFound) {
				return err
			}
			cur, etag, err := get[facet.Recording](ctx, a.Store, facet.CRecordings, rec.ProjectID, rec.ID)
			if err != nil || cur.Status != facet.RecAwaitingUpload {
				continue
			}
			cur.Status, cur.UpdatedAt = facet.RecExpired, now
			if _, err := replace(ctx, a.Store, facet.CRecordings, cur.ProjectID, cur, etag); err != nil && !isCode(err, facet.EConflict) {
				return err
			}
			r.ExpiredSlots++
		}
		if cont = next; cont == "" {
			return nil
		}
	}
}

// sweepViewingLog deletes the viewing log of a recording that is removed
// or whose video is gone: it is the video's companion, never kept alone.
func (a *App) sweepViewingLog(ctx context.Context, b facet.BlobInfo, d *blobDoc) error {
	if d.Status != facet.RecRemoved && d.Video.DeletedAt == nil {
		return nil
	}
	return a.Blobs.Delete(ctx, b.Name)
}

// sweepLogins deletes ended sessions and team invitations that were
// spent or expired a day ago: a person who never signs out, or never
// accepts, leaves nothing behind (an invitation holds an address). Both
// containers are small: a client's people, not its participants.
func (a *App) sweepLogins(ctx context.Context, now time.Time, r *SweepReport) error {
	ss, err := all[facet.Session](ctx, a, facet.CSessions, facet.Query{})
	if err != nil {
		return err
	}
	for _, s := range ss {
		if !s.Live(now) {
			if err := a.Store.Delete(ctx, facet.CSessions, s.AccountID, s.ID, ""); err != nil && !isCode(err, facet.ENotFound) {
				return err
			}
			r.EndedLogins++
		}
	}
	invs, err := all[facet.TeamInvite](ctx, a, facet.CTeamInvites, facet.Query{})
	if err != nil {
		return err
	}
	for _, inv := range invs {
		end := inv.ExpiresAt
		if inv.UsedAt != nil && inv.UsedAt.Before(end) {
			end = *inv.UsedAt
		}
		if now.Sub(end) > 24*time.Hour {
			if err := a.Store.Delete(ctx, facet.CTeamInvites, inv.ID, inv.ID, ""); err != nil && !isCode(err, facet.ENotFound) {
				return err
			}
			r.EndedLogins++
		}
	}
	return nil
}
