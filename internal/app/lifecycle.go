package app

import (
	"context"
	"time"

	"github.com/humaninsight/facet"
)

// CloseProject closes an open project: no new uploads, and one deletion
// of every video scheduled at close time plus the project's grace period.
// The message's sequence number is kept so that a reopen can cancel it.
func (a *App) CloseProject(ctx context.Context, c *facet.Client, id string) (*facet.Project, error) {
	p, err := a.Project(ctx, c, id)
	if err != nil {
		return nil, err
	}
	if p.Status != facet.ProjectOpen {
		return nil, facet.Errorf(facet.EConflict, "project is already closed")
	}
	now := a.now()
	at := now.Add(time.Duration(p.Settings.DeletionGraceS) * time.Second)
	// Closed first, scheduled second: the deletion may be due at once, and
	// it deletes nothing of a project it finds open (a reopen won).
	p.Status, p.ClosedAt, p.UpdatedAt = facet.ProjectClosed, &now, now
	p.Deletion = &facet.ScheduledDeletion{At: at}
	etag, err := replace(ctx, a.Store, facet.CProjects, c.ID, p, p.ETag)
	if isCode(err, facet.EConflict) {
		return nil, facet.Errorf(facet.EConflict, "project changed meanwhile: retry")
	}
	if err != nil {
		return nil, err
	}
	p.ETag = etag
	body := mustJSON(DeletionJob{Scope: ScopeProject, ClientID: c.ID, ProjectID: p.ID, Reason: facet.ReasonProjectClosed, Trigger: TriggerAPI})
	seq, err := a.Queue.Schedule(ctx, facet.QDeletions, facet.Message{Body: body}, at)
	if err != nil {
		// Not scheduled: the project stays open.
		p.Status, p.ClosedAt, p.Deletion = facet.ProjectOpen, nil, nil
		replace(context.WithoutCancel(ctx), a.Store, facet.CProjects, c.ID, p, p.ETag)
		return nil, err
	}
	// The sequence number lets a reopen cancel the deletion. Should this
	// write fail, a reopen cannot cancel, but the deletion, finding the
	// project open, deletes nothing.
	p.Deletion.SequenceNumber = seq
	if etag, err = replace(ctx, a.Store, facet.CProjects, c.ID, p, p.ETag); err == nil {
		p.ETag = etag
	}
	a.Log.Info("project closed", "project", p.ID, "deletionAt", at)
	a.projectEvent(ctx, facet.EvProjectClosed, p, now)
	return p, nil
}

// ReopenProject reopens a closed project whose scheduled deletion has not
// come yet, cancelling it; after that it is 409.
func (a *App) ReopenProject(ctx context.Context, c *facet.Client, id string) (*facet.Project, error) {
	p, err := a.Project(ctx, c, id)
	if err != nil {
		return nil, err
	}
	if p.Status != facet.ProjectClosed {
		return nil, facet.Errorf(facet.EConflict, "project is not closed")
	}
	if p.Deletion == nil || !a.now().Before(p.Deletion.At) {
		return nil, facet.Errorf(facet.EConflict, "the grace period is over: the project's videos are being deleted")
	}
	if p.Deletion.SequenceNumber != 0 {
		if err := a.Queue.Cancel(ctx, facet.QDeletions, p.Deletion.SequenceNumber); err != nil {
			return nil, err
		}
	}
	p.Status, p.ClosedAt, p.Deletion, p.UpdatedAt = facet.ProjectOpen, nil, nil, a.now()
	etag, err := replace(ctx, a.Store, facet.CProjects, c.ID, p, p.ETag)
	if err != nil {
		return nil, err
	}
	p.ETag = etag
	a.Log.Info("project reopened", "project", p.ID)
	return p, nil
}

// RemoveRecording removes a recording: its metadata at once (a tombstone
// stays), its video through a queued deletion.
func (a *App) RemoveRecording(ctx context.Context, c *facet.Client, id string) error {
	rec, err := a.Recording(ctx, c, id)
	if err != nil {
		return err
	}
	// Hidden first, queued second: the deletion then never races this
	// write, and should the send fail, the sweep deletes the video of a
	// removed recording all the same.
	rec.Status, rec.UpdatedAt = facet.RecRemoved, a.now()
	rec.ParticipantRef, rec.InvitationID, rec.Failure = "", "", nil
	if _, err := replace(ctx, a.Store, facet.CRecordings, rec.ProjectID, rec, rec.ETag); err != nil {
		if isCode(err, facet.EConflict) {
			return facet.Errorf(facet.EConflict, "recording changed meanwhile: retry")
		}
		return err
	}
	return a.sendDeletion(ctx, DeletionJob{Scope: ScopeRecording, ClientID: c.ID, ProjectID: rec.ProjectID, RecordingID: rec.ID,
		Reason: facet.ReasonRecordingRemoved, Trigger: TriggerAPI})
}

// RemoveProject removes a project with every video and all its metadata.
// The project is gone at once; the recordings follow through the queue.
func (a *App) RemoveProject(ctx context.Context, c *facet.Client, id string) error {
	p, err := a.Project(ctx, c, id)
	if err != nil {
		return err
	}
	if err := a.sendDeletion(ctx, DeletionJob{Scope: ScopeProject, ClientID: c.ID, ProjectID: p.ID, Reason: facet.ReasonProjectRemoved, Trigger: TriggerAPI}); err != nil {
		return err
	}
	if p.Deletion != nil {
		a.Queue.Cancel(ctx, facet.QDeletions, p.Deletion.SequenceNumber) // superseded
	}
	if err := a.Store.Delete(ctx, facet.CProjects, c.ID, p.ID, ""); err != nil && !isCode(err, facet.ENotFound) {
		return err
	}
	a.Log.Info("project removed", "project", p.ID)
	a.projectEvent(ctx, facet.EvProjectDeleted, p, a.now())
	return nil
}

// projectEvent emits a project's closing or removal. The change is made
// and answered for already, so a queue that fails here loses the event
// (logged): the client sees the project's state in the API all the same.
func (a *App) projectEvent(ctx context.Context, t facet.EventType, p *facet.Project, at time.Time) {
	st := string(p.Status)
	if t == facet.EvProjectDeleted {
		st = "deleted"
	}
	ev := facet.Event{ID: facet.EventID(t, p.ID, at.Format(time.RFC3339Nano)), Type: t, CreatedAt: at,
		Data: facet.EventData{ProjectID: p.ID, Status: st}}
	if err := a.emit(context.WithoutCancel(ctx), p.ClientID, p.ID, ev); err != nil {
		a.Log.Error("webhook event not queued", "project", p.ID, "event", t, "error", err)
	}
}

// Receipt confirms an erasure.
type Receipt struct {
	ClientID   string    `json:"clientId"`
	ErasedAt   time.Time `json:"erasedAt"`
	Projects   int       `json:"projects"`
	Recordings int       `json:"recordings"`
	Videos     int       `json:"videos"` // videos still present, now queued for deletion
}

// EraseClient erases a client: its record, keys, accounts and sessions at once, its projects,
// recordings, analyses and videos through the queue. The audit entries
// stay (they hold no personal data) so the deletion remains provable.
//
// by is the account that asked, nil for a key.
func (a *App) EraseClient(ctx context.Context, clientID string, trigger string, by *facet.Account) (*Receipt, error) {
	c, err := a.Client(ctx, clientID)
	if err != nil {
		return nil, err
	}
	r := &Receipt{ClientID: c.ID, ErasedAt: a.now()}
	cont := ""
	for {
		ps, next, err := query[facet.Project](ctx, a.Store, facet.CProjects, facet.Query{Partition: c.ID, OrderBy: "createdAt", Continuation: cont})
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			r.Projects++
			rc := ""
			for {
				recs, rnext, err := query[facet.Recording](ctx, a.Store, facet.CRecordings, facet.Query{Partition: p.ID, OrderBy: "createdAt", Continuation: rc})
				if err != nil {
					return nil, err
				}
				for _, rec := range recs {
					if rec.Status == facet.RecRemoved {
						continue
					}
					r.Recordings++
					if rec.Video.Present && rec.Video.DeletedAt == nil {
						r.Videos++
					}
				}
				if rc = rnext; rc == "" {
					break
				}
			}
		}
		if cont = next; cont == "" {
			break
		}
	}
	if err := a.sendDeletion(ctx, DeletionJob{Scope: ScopeClient, ClientID: c.ID, Reason: facet.ReasonErasure, Trigger: trigger}); err != nil {
		return nil, err
	}
	if err := a.deleteWebhooks(ctx, c.ID); err != nil {
		return nil, err
	}
	if err := a.eraseTeam(ctx, c); err != nil {
		return nil, err
	}
	if err := a.Store.Delete(ctx, facet.CClients, c.ID, c.ID, ""); err != nil && !isCode(err, facet.ENotFound) {
		return nil, err
	}
	a.security(ctx, c.ID, by, "client-erased", c.ID, "")
	a.Log.Info("client erased", "client", c.ID, "projects", r.Projects, "recordings", r.Recordings)
	return r, nil
}

// Audit lists a client's deletion records, newest first; projectID ""
// lists them all.
func (a *App) Audit(ctx context.Context, clientID, projectID string, limit int, cont string) ([]AuditEntry, string, error) {
	where := map[string]any{"type": "deletion"}
	if projectID != "" {
		where["projectId"] = projectID
	}
	return query[AuditEntry](ctx, a.Store, facet.CAudit, facet.Query{Partition: clientID, Where: where, OrderBy: "at", Desc: true, Limit: limit, Continuation: cont})
}
