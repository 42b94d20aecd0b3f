package app

import (
	"context"
	"strings"
	"time"

	"github.com/humaninsight/facet"
)

// Lease is how long a run may stay "analyzing" (or a recording
// "uploaded") before the sweep assumes its message was lost: above
// host.json's functionTimeout (30 min) plus the queue's redelivery.
const Lease = 45 * time.Minute

// SweepReport counts what the retention sweep found. Each find is
// something a lost or failed message left behind, so these are metrics.
type SweepReport struct {
	Blobs        int            `json:"blobs"`        // blobs looked at
	Deleted      map[string]int `json:"deleted"`      // videos deleted, by reason
	Orphans      int            `json:"orphans"`      // blobs without a recording
	Requeued     int            `json:"requeued"`     // analyses queued again
	ExpiredSlots int            `json:"expiredSlots"` // upload slots marked expired
	LostMessages int            `json:"lostMessages"` // all of the above but Blobs
}

// Sweep finds and repairs what lost messages left behind: it deletes videos
// that should already be gone (closed or removed projects, privacy-by-design
// runs that ended, retention exceeded, blobs with no recording), queues
// analyses whose event or message was lost, and expires unused upload
// slots. It pages through the container, holding one page at a time.
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
	if err := a.expireSlots(ctx, now, r); err != nil {
		return r, err
	}
	for _, n := range r.Deleted {
		r.LostMessages += n
	}
	r.LostMessages += r.Orphans + r.Requeued + r.ExpiredSlots
	a.Log.Info("retention sweep finished", "blobs", r.Blobs, "deleted", r.Deleted, "orphans", r.Orphans,
		"requeued", r.Requeued, "expiredSlots", r.ExpiredSlots, "lostMessages", r.LostMessages)
	return r, nil
}

func (a *App) sweepBlob(ctx context.Context, b facet.BlobInfo, now time.Time, r *SweepReport) error {
	projectID, recID, ok := strings.Cut(b.Name, "/")
	if !ok || !facet.ValidID(projectID) || !facet.ValidID(recID) {
		r.Orphans++
		a.Log.Warn("sweep: blob with no recording deleted", "blob", b.Name)
		return a.Blobs.Delete(ctx, b.Name)
	}
	rec, _, err := get[facet.Recording](ctx, a.Store, facet.CRecordings, projectID, recID)
	if isCode(err, facet.ENotFound) || (err == nil && rec.ClientID == "") {
		r.Orphans++
		a.Log.Warn("sweep: blob with no recording deleted", "blob", b.Name)
		return a.Blobs.Delete(ctx, b.Name)
	}
	if err != nil {
		return err
	}
	del := func(reason string) error {
		_, err := a.deleteRecording(ctx, DeletionJob{Scope: ScopeRecording, ClientID: rec.ClientID, ProjectID: projectID, RecordingID: recID, Reason: reason, Trigger: TriggerSweep})
		if err == nil {
			r.Deleted[reason]++
		}
		return err
	}
	if rec.Status == statusRemoved {
		return del(facet.ReasonRecordingRemoved)
	}
	p, err := a.project(ctx, rec.ClientID, projectID)
	if isCode(err, facet.ENotFound) {
		return del(facet.ReasonProjectRemoved)
	}
	if err != nil {
		return err
	}
	switch {
	case p.Status == facet.ProjectClosed && p.Deletion != nil && !now.Before(p.Deletion.At.Add(time.Minute)):
		return del(facet.ReasonProjectClosed)
	case p.PrivacyMode == facet.PrivacyDeleteAfterAnalysis && (rec.Status == facet.RecAnalyzed || rec.Status == facet.RecFailed):
		return del(facet.ReasonPrivacyByDesign)
	case rec.Video.UploadedAt != nil && now.Sub(*rec.Video.UploadedAt) > time.Duration(p.Settings.MaxRetentionDays)*24*time.Hour:
		return del(facet.ReasonRetention)
	case rec.Status == facet.RecAwaitingUpload && p.Status == facet.ProjectOpen:
		// The upload's BlobCreated event was lost: handle it now.
		out, err := a.BlobCreated(ctx, BlobEvent{EventType: "Microsoft.Storage.BlobCreated",
			Topic: "/storageAccounts/" + a.cfg.StorageAccount, Subject: "/blobServices/default/containers/" + UploadsContainer + "/blobs/" + b.Name,
			ETag: b.ETag, ContentLength: b.Size})
		if err == nil && out == Queued {
			r.Requeued++
		}
		return err
	case (rec.Status == facet.RecUploaded || rec.Status == facet.RecAnalyzing) && now.Sub(rec.UpdatedAt) > Lease:
		return a.requeue(ctx, rec, r)
	}
	return nil
}

// requeue sends a stuck recording's latest run again (RunAnalysis takes
// over a run left "running").
func (a *App) requeue(ctx context.Context, rec *facet.Recording, r *SweepReport) error {
	an, _, err := get[facet.Analysis](ctx, a.Store, facet.CAnalyses, rec.ID, rec.LatestAnalysis)
	if isCode(err, facet.ENotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if an.Status != facet.RunQueued && an.Status != facet.RunRunning {
		return nil
	}
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
