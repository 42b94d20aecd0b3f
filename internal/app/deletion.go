package app

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/humaninsight/facet"
)

// Deletion scopes.
const (
	ScopeRecording = "recording"
	ScopeProject   = "project"
	ScopeClient    = "client"
)

// Triggers of a deletion, as the audit records them.
const (
	TriggerAPI      = "api"      // the client asked (DELETE, close)
	TriggerPipeline = "pipeline" // privacy by design, after analysis
	TriggerSweep    = "sweep"    // the retention sweep found it
	TriggerOperator = "operator" // the operator erased a client
)

// Reasons are the deletion reasons a message may carry.
var Reasons = []string{facet.ReasonPrivacyByDesign, facet.ReasonProjectClosed, facet.ReasonRecordingRemoved,
	facet.ReasonProjectRemoved, facet.ReasonErasure, facet.ReasonRetention, facet.ReasonRefusedUpload}

// DeletionJob is the body of a message on the deletions queue. A project
// or client scope fans out into one message per recording (or project),
// so no invocation holds unbounded work.
type DeletionJob struct {
	Scope       string `json:"scope"`
	ClientID    string `json:"clientId"`
	ProjectID   string `json:"projectId,omitempty"`
	RecordingID string `json:"recordingId,omitempty"`
	Reason      string `json:"reason"`
	Trigger     string `json:"trigger"`
}

func (j DeletionJob) valid() bool {
	if !facet.ValidID(j.ClientID) || !slices.Contains(Reasons, j.Reason) || j.Trigger == "" {
		return false
	}
	switch j.Scope {
	case ScopeRecording:
		return facet.ValidID(j.ProjectID) && facet.ValidID(j.RecordingID)
	case ScopeProject:
		return facet.ValidID(j.ProjectID)
	case ScopeClient:
		return true
	}
	return false
}

// removes reports whether a reason takes the metadata too (a tombstone
// stays), not only the video.
func removes(reason string) bool {
	return reason == facet.ReasonRecordingRemoved || reason == facet.ReasonProjectRemoved || reason == facet.ReasonErasure
}

// AuditEntry records one deleted video: what, why, by what, when. It holds
// no personal data, so it outlives even the client's erasure.
type AuditEntry struct {
	ID          string    `json:"id"`
	Type        string    `json:"type"` // "deletion"
	ClientID    string    `json:"clientId"`
	ProjectID   string    `json:"projectId"`
	RecordingID string    `json:"recordingId"`
	StimulusID  string    `json:"stimulusId,omitempty"` // a stimulus's file, not a recording's video
	BlobHash    string    `json:"blobHash"`             // sha256 of the blob name
	SizeBytes   int64     `json:"sizeBytes"`
	Reason      string    `json:"reason"`
	Trigger     string    `json:"trigger"`
	At          time.Time `json:"at"`
}

// sendDeletion queues a deletion now.
func (a *App) sendDeletion(ctx context.Context, j DeletionJob) error {
	body, _ := json.Marshal(j)
	return a.Queue.Send(ctx, facet.QDeletions, facet.Message{Body: body})
}

// DeleteData handles one deletion message. It is idempotent: what is
// already gone counts as deleted, and the audit entry of a video is
// written once however often the message comes. An error is transient.
func (a *App) DeleteData(ctx context.Context, body []byte) (Outcome, error) {
	var j DeletionJob
	if err := json.Unmarshal(body, &j); err != nil || !j.valid() {
		a.Log.Error("deletion message dropped: unreadable", "error", err)
		return PoisonMessage, nil
	}
	switch j.Scope {
	case ScopeRecording:
		return a.deleteRecording(ctx, j)
	case ScopeProject:
		return a.fanOutProject(ctx, j)
	default:
		return a.fanOutClient(ctx, j)
	}
}

// Deleted is the outcome of a deletion that removed something or found it gone.
const Deleted Outcome = "deleted"

// deleteRecording deletes one recording's video (with snapshots), records
// it, and for removals deletes the metadata, leaving a tombstone. A
// message naming another client's recording touches nothing.
func (a *App) deleteRecording(ctx context.Context, j DeletionJob) (Outcome, error) {
	name := j.ProjectID + "/" + j.RecordingID
	rec, etag, err := get[facet.Recording](ctx, a.Store, facet.CRecordings, j.ProjectID, j.RecordingID)
	if err != nil && !isCode(err, facet.ENotFound) {
		return "", err
	}
	if rec != nil && rec.ClientID != "" && rec.ClientID != j.ClientID {
		a.Log.Error("deletion message names another client's recording: nothing deleted", "recording", rec.ID, "project", rec.ProjectID)
		return Ignored, nil
	}
	// The blob next: whatever the metadata says, the video must go.
	info, statErr := a.Blobs.Stat(ctx, name)
	if statErr != nil && !isCode(statErr, facet.ENotFound) {
		return "", statErr
	}
	// The audit entry before the blob goes: when only the blob proves the
	// deletion (no recording, or one that did not know of it), a retry
	// after the delete would find nothing to record. Its id follows from
	// the blob, so a retry writes no second one.
	var auditErr error
	switch {
	case rec != nil && rec.Video.Present && rec.Video.DeletedAt == nil:
		auditErr = a.audit(ctx, j, name, rec.Video.ETag, rec.Video.SizeBytes)
	case statErr == nil:
		auditErr = a.audit(ctx, j, name, info.ETag, info.Size)
	}
	if auditErr != nil {
		return "", auditErr
	}
	if err := a.Blobs.Delete(ctx, name); err != nil {
		return "", err
	}
	// The viewing log of a stimulus study goes with its video.
	if err := a.Blobs.Delete(ctx, name+facet.ViewingLogSuffix); err != nil {
		return "", err
	}
	if rec == nil {
		return Deleted, nil
	}
	if removes(j.Reason) || rec.Status == facet.RecRemoved {
		if err := a.removeRecording(ctx, rec, etag, j.Reason); err != nil {
			return "", err
		}
		return Deleted, a.deletedEvent(ctx, j, rec, facet.RecRemoved)
	}
	if rec.Video.DeletedAt == nil {
		now := a.now()
		rec.Video.Present, rec.Video.DeletedAt, rec.Video.DeletionReason = false, &now, j.Reason
		if rec.Status == facet.RecAwaitingUpload {
			rec.Status = facet.RecExpired // the slot can no longer be used
		}
		rec.UpdatedAt = now
		if _, err := replace(ctx, a.Store, facet.CRecordings, rec.ProjectID, rec, etag); err != nil {
			return "", err // a conflict too: redelivery reads the new state
		}
		a.Log.Info("video deleted", "recording", rec.ID, "reason", j.Reason)
	}
	return Deleted, a.deletedEvent(ctx, j, rec, rec.Status)
}

// deletedEvent emits recording.deleted: the recording's video is gone (and
// with a removal, its metadata). Its id follows from the recording, so a
// repeated deletion message reports the same occurrence.
func (a *App) deletedEvent(ctx context.Context, j DeletionJob, rec *facet.Recording, st facet.RecordingStatus) error {
	if j.Reason == facet.ReasonErasure || j.Reason == facet.ReasonRefusedUpload {
		return nil // the client is gone; a refused upload never was a recording
	}
	ev := facet.Event{ID: facet.EventID(facet.EvRecordingDeleted, rec.ID), Type: facet.EvRecordingDeleted, CreatedAt: a.now(),
		Data: facet.EventData{ProjectID: rec.ProjectID, RecordingID: rec.ID, Status: string(st), Reason: j.Reason}}
	return a.emit(ctx, j.ClientID, rec.ProjectID, ev)
}

// Tombstone is what stays of a removed recording, so that a late event or
// a repeated message cannot bring it back.
type Tombstone struct {
	ID        string                `json:"id"`
	ProjectID string                `json:"projectId"`
	Status    facet.RecordingStatus `json:"status"` // facet.RecRemoved
	DeletedAt time.Time             `json:"deletedAt"`
	Reason    string                `json:"reason"`
}

// removeRecording deletes a recording's analyses and replaces it by a
// tombstone. Safe to repeat.
func (a *App) removeRecording(ctx context.Context, rec *facet.Recording, etag, reason string) error {
	// Each round deletes a page; the bound turns a store that keeps
	// answering with what it cannot delete into a retry, not a hang.
	for round := 0; ; round++ {
		if round > 1000 {
			return facet.Errorf(facet.EUnavailable, "app: remove recording %s: analyses keep coming back", rec.ID)
		}
		runs, _, err := query[facet.Analysis](ctx, a.Store, facet.CAnalyses, facet.Query{Partition: rec.ID, Where: map[string]any{"type": "analysis"}})
		if err != nil {
			return err
		}
		if len(runs) == 0 {
			break
		}
		for i := range runs {
			if err := a.deleteAnalysis(ctx, &runs[i]); err != nil {
				return err
			}
		}
	}
	// Chunks whose run item is already gone (a removal cut short).
	for round := 0; ; round++ {
		if round > 1000 {
			return facet.Errorf(facet.EUnavailable, "app: remove recording %s: timeline chunks keep coming back", rec.ID)
		}
		chunks, _, err := query[facet.TimelineChunk](ctx, a.Store, facet.CAnalyses, facet.Query{Partition: rec.ID})
		if err != nil {
			return err
		}
		if len(chunks) == 0 {
			break
		}
		for _, c := range chunks {
			if err := a.Store.Delete(ctx, facet.CAnalyses, rec.ID, c.ID, ""); err != nil && !isCode(err, facet.ENotFound) {
				return err
			}
		}
	}
	// The invitation it came from names it and the participant's
	// reference: it goes with the recording.
	if err := a.deleteInvitationsOf(ctx, rec); err != nil {
		return err
	}
	if rec.ClientID == "" {
		return nil // already a tombstone
	}
	ts := Tombstone{ID: rec.ID, ProjectID: rec.ProjectID, Status: facet.RecRemoved, DeletedAt: a.now(), Reason: reason}
	if _, err := replace(ctx, a.Store, facet.CRecordings, rec.ProjectID, ts, etag); err != nil {
		return err
	}
	a.Log.Info("recording removed", "recording", rec.ID, "reason", reason)
	return nil
}

// audit writes the deletion record of one video once: its id follows from
// the blob, so a repeated message finds it there.
func (a *App) audit(ctx context.Context, j DeletionJob, name, blobETag string, size int64) error {
	e := AuditEntry{
		ID: "au_" + shortHash(name+"|"+strings.Trim(blobETag, `"`)), Type: "deletion", ClientID: j.ClientID, ProjectID: j.ProjectID,
		RecordingID: j.RecordingID, BlobHash: hashHex(name), SizeBytes: size, Reason: j.Reason, Trigger: j.Trigger, At: a.now(),
	}
	if _, err := create(ctx, a.Store, facet.CAudit, j.ClientID, e); err != nil && !isCode(err, facet.EConflict) {
		return err
	}
	return nil
}

// fanOutProject queues one recording-scope deletion per recording of the
// project, a page at a time. For a removal the project's invitations go
// and the project becomes a tombstone once every message is sent.
func (a *App) fanOutProject(ctx context.Context, j DeletionJob) (Outcome, error) {
	if j.Reason == facet.ReasonProjectClosed {
		p, err := a.project(ctx, j.ClientID, j.ProjectID)
		if err != nil && !isCode(err, facet.ENotFound) {
			return "", err
		}
		if p != nil && p.Status == facet.ProjectOpen {
			return Ignored, nil // reopened: its cancel lost the race with delivery
		}
	}
	cont := ""
	for {
		recs, next, err := query[facet.Recording](ctx, a.Store, facet.CRecordings, facet.Query{Partition: j.ProjectID, OrderBy: "createdAt", Continuation: cont, Limit: 100})
		if err != nil {
			return "", err
		}
		for _, r := range recs {
			if r.Status == facet.RecRemoved || (!removes(j.Reason) && r.Video.DeletedAt != nil) {
				continue
			}
			rj := j
			rj.Scope, rj.RecordingID = ScopeRecording, r.ID
			if err := a.sendDeletion(ctx, rj); err != nil {
				return "", err
			}
		}
		if next == "" {
			break
		}
		cont = next
	}
	if removes(j.Reason) {
		if err := a.deleteStimuli(ctx, j); err != nil {
			return "", err
		}
		if err := a.deleteInvitations(ctx, j.ClientID, j.ProjectID); err != nil {
			return "", err
		}
		if err := a.Store.Delete(ctx, facet.CProjects, j.ClientID, j.ProjectID, ""); err != nil && !isCode(err, facet.ENotFound) {
			return "", err
		}
	}
	return Deleted, nil
}

func (a *App) deleteInvitations(ctx context.Context, clientID, projectID string) error {
	return a.deleteInvitationsWhere(ctx, projectID, map[string]any{"clientId": clientID, "projectId": projectID})
}

// deleteInvitationsOf deletes the invitations that name a recording.
func (a *App) deleteInvitationsOf(ctx context.Context, rec *facet.Recording) error {
	return a.deleteInvitationsWhere(ctx, rec.ID, map[string]any{"projectId": rec.ProjectID, "recordingId": rec.ID})
}

// deleteInvitationsWhere deletes, a page at a time, every invitation
// matching where; of names what they belong to, for the error.
func (a *App) deleteInvitationsWhere(ctx context.Context, of string, where map[string]any) error {
	for round := 0; ; round++ {
		if round > 1000 {
			return facet.Errorf(facet.EUnavailable, "app: delete invitations of %s: they keep coming back", of)
		}
		invs, _, err := query[facet.Invitation](ctx, a.Store, facet.CInvitations, facet.Query{Where: where})
		if err != nil {
			return err
		}
		if len(invs) == 0 {
			return nil
		}
		for _, inv := range invs {
			if err := a.Store.Delete(ctx, facet.CInvitations, inv.ID, inv.ID, ""); err != nil && !isCode(err, facet.ENotFound) {
				return err
			}
		}
	}
}

// fanOutClient queues one project-scope erasure per project of the client.
func (a *App) fanOutClient(ctx context.Context, j DeletionJob) (Outcome, error) {
	cont := ""
	for {
		ps, next, err := query[facet.Project](ctx, a.Store, facet.CProjects, facet.Query{Partition: j.ClientID, OrderBy: "createdAt", Continuation: cont, Limit: 100})
		if err != nil {
			return "", err
		}
		for _, p := range ps {
			pj := j
			pj.Scope, pj.ProjectID = ScopeProject, p.ID
			if err := a.sendDeletion(ctx, pj); err != nil {
				return "", err
			}
		}
		if next == "" {
			return Deleted, nil
		}
		cont = next
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("app: marshal %T: %v", v, err))
	}
	return b
}
