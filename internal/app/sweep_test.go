package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/humaninsight/facet"
)

// drop takes every message waiting on queue away unhandled: a lost
// message, as far as the app can tell.
func (e *testEnv) drop(queue string) int {
	e.t.Helper()
	n := 0
	for {
		ds, err := e.queue.Receive(e.ctx, queue, 10, time.Millisecond)
		e.must(err)
		if len(ds) == 0 {
			return n
		}
		for _, d := range ds {
			e.must(e.queue.Complete(e.ctx, queue, d))
			n++
		}
	}
}

// sweep runs the sweep and fails the test on an error.
func (e *testEnv) sweep() *SweepReport {
	e.t.Helper()
	r, err := e.app.Sweep(e.ctx)
	e.must(err)
	return r
}

// later moves the app's clock d ahead of now.
func (e *testEnv) later(d time.Duration) {
	t := time.Now().UTC().Add(d)
	e.app.Now = func() time.Time { return t }
}

// auditOf lists the deletion records of one partition.
func (e *testEnv) auditOf(partition string) []AuditEntry {
	e.t.Helper()
	var all []AuditEntry
	cont := ""
	for {
		es, next, err := query[AuditEntry](e.ctx, e.store, facet.CAudit, facet.Query{Partition: partition, Where: map[string]any{"type": "deletion"}, Continuation: cont})
		e.must(err)
		all = append(all, es...)
		if cont = next; cont == "" {
			return all
		}
	}
}

// blobExists reports whether the uploads container holds name.
func (e *testEnv) blobExists(name string) bool {
	e.t.Helper()
	_, err := e.blobs.Stat(e.ctx, name)
	if err != nil && !isCode(err, facet.ENotFound) {
		e.t.Fatal(err)
	}
	return err == nil
}

// analysed uploads n videos into p and runs their analyses.
func (e *testEnv) analysed(c *facet.Client, p *facet.Project, n int) []string {
	e.t.Helper()
	var ids []string
	for range n {
		ids = append(ids, e.uploaded(c, p))
	}
	e.deliver(facet.QAnalysis, false)
	return ids
}

// strays stores blobs no recording is named after: one id-shaped, one not.
func (e *testEnv) strays() []string {
	e.t.Helper()
	names := []string{newID("pr") + "/" + newID("rec"), "stray/holiday " + newID("x")[2:8] + ".mp4"}
	for _, n := range names {
		_, err := e.blobs.Upload(e.ctx, n, strings.NewReader("x"))
		e.must(err)
	}
	return names
}

// TestSweepDeletesFewOrphansWithAudit: a store that knows most blobs;
// the few it does not are deleted, each with an audit entry in the
// orphans partition, which no client's Audit API lists.
func TestSweepDeletesFewOrphansWithAudit(t *testing.T) {
	e := newTestEnv(t)
	c := e.client("Acme Research")
	p := e.project(c, facet.PrivacyRetain)
	e.analysed(c, p, 3)
	strays := e.strays()

	r := e.sweep()
	if r.Blobs != 5 || r.Orphans != 2 || r.OrphansHeld != 0 || r.Deleted[facet.ReasonOrphan] != 2 || r.HeldReason != "" {
		t.Fatalf("report %+v", r)
	}
	for _, n := range strays {
		if e.blobExists(n) {
			t.Errorf("orphan %s kept", n)
		}
	}
	got := e.auditOf(OrphanAuditPartition)
	if len(got) != 2 {
		t.Fatalf("%d audit entries of orphans, want 2: %+v", len(got), got)
	}
	byHash := map[string]AuditEntry{}
	for _, a := range got {
		byHash[a.BlobHash] = a
		if a.ClientID != OrphanAuditPartition || a.Reason != facet.ReasonOrphan || a.Trigger != TriggerSweep || a.Type != "deletion" {
			t.Errorf("entry %+v", a)
		}
	}
	idShaped, other := byHash[hashHex(strays[0])], byHash[hashHex(strays[1])]
	if idShaped.ProjectID+"/"+idShaped.RecordingID != strays[0] {
		t.Errorf("an id-shaped orphan's entry names %q/%q", idShaped.ProjectID, idShaped.RecordingID)
	}
	if other.BlobHash == "" || other.ProjectID != "" || other.RecordingID != "" {
		t.Errorf("a stray name's entry: %+v (its name must not be stored)", other)
	}
	if strings.Contains(e.log.String(), "holiday") {
		t.Error("a stray blob's name was logged")
	}
	if es, _, err := e.app.Audit(e.ctx, c.ID, "", 50, ""); err != nil || len(es) != 0 {
		t.Errorf("the client's audit lists %d entries (%v), want none", len(es), err)
	}
	// The next sweep finds nothing.
	if r := e.sweep(); r.Orphans != 0 || r.LostMessages != 0 {
		t.Errorf("second sweep %+v", r)
	}
}

// TestSweepHoldsOrphans: blobs the store does not know are deleted only
// when the store looks sound; else they are kept, the report says why,
// and the log says so at error level.
func TestSweepHoldsOrphans(t *testing.T) {
	cases := []struct {
		name  string
		setup func(e *testEnv)
		want  string // in HeldReason
	}{
		{"empty store, one blob", func(e *testEnv) {
			e.strays()
		}, "holds no recording"},
		{"empty store, four blobs", func(e *testEnv) {
			e.strays()
			e.strays()
		}, "holds no recording"},
		{"clients and slots, but no blob has a recording", func(e *testEnv) {
			c := e.client("Acme Research")
			e.slot(c, e.project(c, facet.PrivacyRetain))
			e.strays()
		}, "no blob has a recording"},
		{"orphans over the share", func(e *testEnv) {
			c := e.client("Acme Research")
			e.analysed(c, e.project(c, facet.PrivacyRetain), 4)
			e.strays()
			e.strays()
		}, "4 of 8 blobs"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			tc.setup(e)
			before := blobNames(e)
			r := e.sweep()
			if r.Orphans == 0 || r.OrphansHeld != r.Orphans || r.Deleted[facet.ReasonOrphan] != 0 || !strings.Contains(r.HeldReason, tc.want) {
				t.Errorf("report %+v, want held because %q", r, tc.want)
			}
			if d := cmp.Diff(before, blobNames(e)); d != "" {
				t.Errorf("blobs changed (-before +after):\n%s", d)
			}
			if a := e.auditOf(OrphanAuditPartition); len(a) != 0 {
				t.Errorf("audit entries of held orphans: %+v", a)
			}
			if !strings.Contains(e.log.String(), "level=ERROR") || !strings.Contains(e.log.String(), "kept, not deleted") {
				t.Errorf("no error logged:\n%s", e.log)
			}
		})
	}

	// A higher share lets the operator have them deleted.
	e := newTestEnv(t)
	c := e.client("Acme Research")
	e.analysed(c, e.project(c, facet.PrivacyRetain), 4)
	e.strays()
	e.strays()
	e.app.cfg.OrphanShareMax = 0.5
	if r := e.sweep(); r.Deleted[facet.ReasonOrphan] != 4 || r.OrphansHeld != 0 {
		t.Errorf("share 0.5: %+v", r)
	}
	if n := len(blobNames(e)); n != 4 {
		t.Errorf("%d blobs left, want the 4 videos", n)
	}
}

// TestSweepStoreUnreachable: a store that does not answer deletes
// nothing, whether it fails at the first read or only at the check.
func TestSweepStoreUnreachable(t *testing.T) {
	for _, failQuery := range []bool{false, true} {
		e := newTestEnv(t)
		c := e.client("Acme Research")
		e.analysed(c, e.project(c, facet.PrivacyRetain), 3)
		e.strays()
		e.app.Store = failingStore{DocStore: e.store, query: failQuery}
		before := blobNames(e)
		r, err := e.app.Sweep(e.ctx)
		if err == nil {
			t.Errorf("query fails %v: no error", failQuery)
		}
		if failQuery && (r.OrphansHeld != 2 || !strings.Contains(r.HeldReason, "did not answer")) {
			t.Errorf("query fails: report %+v", r)
		}
		if d := cmp.Diff(before, blobNames(e)); d != "" {
			t.Errorf("query fails %v: blobs changed (-before +after):\n%s", failQuery, d)
		}
	}
}

// failingStore fails every read, or with query every query.
type failingStore struct {
	facet.DocStore
	query bool
}

func (s failingStore) Read(ctx context.Context, container, pk, id string) (facet.Doc, error) {
	if s.query {
		return s.DocStore.Read(ctx, container, pk, id)
	}
	return facet.Doc{}, facet.Errorf(facet.EUnavailable, "store down")
}

func (s failingStore) Query(ctx context.Context, container string, q facet.Query) (facet.Page, error) {
	if s.query {
		return facet.Page{}, facet.Errorf(facet.EUnavailable, "store down")
	}
	return s.DocStore.Query(ctx, container, q)
}

func blobNames(e *testEnv) []string {
	e.t.Helper()
	var names []string
	e.must(e.blobs.List(e.ctx, "", func(b facet.BlobInfo) error {
		names = append(names, b.Name)
		return nil
	}))
	return names
}

// TestSweepDeletionsAudited: every video the sweep deletes, whatever the
// reason, has its audit entry in its client's partition.
func TestSweepDeletionsAudited(t *testing.T) {
	e := newTestEnv(t)
	c := e.client("Acme Research")
	keep := e.project(c, facet.PrivacyRetain)
	kept := e.analysed(c, keep, 1)[0]
	pbd := e.project(c, facet.PrivacyDeleteAfterAnalysis)
	pbdRec := e.uploaded(c, pbd)
	e.deliver(facet.QAnalysis, false)
	closed := e.project(c, facet.PrivacyRetain)
	closedRec := e.analysed(c, closed, 1)[0]
	_, err := e.app.CloseProject(e.ctx, c, closed.ID)
	e.must(err)
	removed := e.analysed(c, keep, 1)[0]
	e.must(e.app.RemoveRecording(e.ctx, c, removed))
	if n := e.drop(facet.QDeletions); n != 3 {
		t.Fatalf("%d deletion messages lost, want 3", n)
	}
	e.later(2 * time.Minute)
	r := e.sweep()
	want := map[string]int{facet.ReasonPrivacyByDesign: 1, facet.ReasonProjectClosed: 1, facet.ReasonRecordingRemoved: 1}
	if d := cmp.Diff(want, r.Deleted); d != "" {
		t.Errorf("deleted (-want +got):\n%s", d)
	}
	// Retention: the kept video, once past the project's maximum.
	e.later(time.Duration(keep.Settings.MaxRetentionDays+1) * 24 * time.Hour)
	if r := e.sweep(); r.Deleted[facet.ReasonRetention] != 1 {
		t.Errorf("retention sweep %+v", r)
	}
	got := map[string]string{}
	for _, a := range e.auditOf(c.ID) {
		if a.Trigger != TriggerSweep || a.ProjectID == "" {
			t.Errorf("entry %+v", a)
		}
		got[a.RecordingID] = a.Reason
	}
	want2 := map[string]string{pbdRec: facet.ReasonPrivacyByDesign, closedRec: facet.ReasonProjectClosed, removed: facet.ReasonRecordingRemoved, kept: facet.ReasonRetention}
	if d := cmp.Diff(want2, got); d != "" {
		t.Errorf("audit entries by recording (-want +got):\n%s", d)
	}
	if n := len(blobNames(e)); n != 0 {
		t.Errorf("%d blobs left", n)
	}
}

// TestSweepTombstoneBlob: a video that outlived its recording's removal
// is deleted and audited in the client's partition (from the project).
func TestSweepTombstoneBlob(t *testing.T) {
	e := newTestEnv(t)
	c := e.client("Acme Research")
	p := e.project(c, facet.PrivacyRetain)
	rec := e.analysed(c, p, 1)[0]
	e.must(e.app.RemoveRecording(e.ctx, c, rec))
	e.deliver(facet.QDeletions, false)
	e.put(p.ID, rec, []byte("came back"))
	r := e.sweep()
	if r.Deleted[facet.ReasonRecordingRemoved] != 1 || r.Orphans != 0 || e.blobExists(p.ID+"/"+rec) {
		t.Errorf("report %+v", r)
	}
	if n := len(e.auditOf(c.ID)); n != 2 {
		t.Errorf("%d audit entries, want 2 (the removal and the late video)", n)
	}
}

// stuck uploads a video into p and leaves its run as a worker that died
// would: the run running, the recording analyzing, no message left.
func (e *testEnv) stuck(c *facet.Client, p *facet.Project) (recID, runID string) {
	e.t.Helper()
	recID = e.uploaded(c, p)
	e.drop(facet.QAnalysis)
	rec, etag, err := get[facet.Recording](e.ctx, e.store, facet.CRecordings, p.ID, recID)
	e.must(err)
	an, anETag, err := get[facet.Analysis](e.ctx, e.store, facet.CAnalyses, recID, rec.LatestAnalysis)
	e.must(err)
	now := time.Now().UTC()
	an.Status, an.StartedAt = facet.RunRunning, &now
	_, err = replace(e.ctx, e.store, facet.CAnalyses, recID, an, anETag)
	e.must(err)
	rec.Status, rec.UpdatedAt = facet.RecAnalyzing, now
	_, err = replace(e.ctx, e.store, facet.CRecordings, p.ID, rec, etag)
	e.must(err)
	return recID, an.ID
}

// TestSweepEndsStuckRuns: a run whose video vanished ends failed (gone)
// once past the Lease; a run past its deadline ends failed (timeout);
// any other stuck run is queued again; none is touched within the Lease.
func TestSweepEndsStuckRuns(t *testing.T) {
	e := newTestEnv(t)
	c := e.client("Acme Research")
	p := e.project(c, facet.PrivacyRetain)
	vanished, vanishedRun := e.stuck(c, p)
	e.must(e.blobs.Delete(e.ctx, p.ID+"/"+vanished))
	uploadedGone := e.uploaded(c, p) // still "uploaded", its message lost
	e.drop(facet.QAnalysis)
	e.must(e.blobs.Delete(e.ctx, p.ID+"/"+uploadedGone))
	slow, _ := e.stuck(c, p)

	if r := e.sweep(); r.EndedRuns != 0 || r.Requeued != 0 {
		t.Errorf("within the lease: %+v", r)
	}
	e.later(Lease + time.Minute)
	r := e.sweep()
	if r.EndedRuns != 2 || r.Requeued != 1 || r.Orphans != 0 {
		t.Errorf("past the lease: %+v", r)
	}
	for _, id := range []string{vanished, uploadedGone} {
		rec := e.recording(p.ID, id)
		if rec.Status != facet.RecFailed || rec.Failure == nil || rec.Failure.Code != facet.EGone || rec.Video.Present {
			t.Errorf("%s: status %s, failure %+v, video %+v", id, rec.Status, rec.Failure, rec.Video)
		}
		if an := e.run(id, rec.LatestAnalysis); an.Status != facet.RunFailed || an.Failure == nil || an.Failure.Code != facet.EGone {
			t.Errorf("%s: run %s %+v", id, an.Status, an.Failure)
		}
	}
	if e.run(vanished, vanishedRun).FinishedAt == nil {
		t.Error("the ended run has no finishedAt")
	}
	if rec := e.recording(p.ID, slow); rec.Status != facet.RecAnalyzing {
		t.Errorf("the requeued run's recording: %s", rec.Status)
	}
	if outs := e.deliver(facet.QAnalysis, false); len(outs) != 1 || outs[0] != Analyzed {
		t.Errorf("the requeued run: %v", outs)
	}
	if rec := e.recording(p.ID, slow); rec.Status != facet.RecAnalyzed {
		t.Errorf("after the requeued run: %s", rec.Status)
	}
}

// TestSweepRunDeadline: a run still running past RunDeadline, its video
// there, ends failed with facet.ETimeout, and a privacy-by-design
// project's video then goes as after any run.
func TestSweepRunDeadline(t *testing.T) {
	e := newTestEnv(t)
	c := e.client("Acme Research")
	p := e.project(c, facet.PrivacyDeleteAfterAnalysis)
	recID, runID := e.stuck(c, p)
	e.later(RunDeadline - time.Minute)
	if r := e.sweep(); r.Requeued != 1 || r.EndedRuns != 0 {
		t.Errorf("before the deadline: %+v", r)
	}
	e.drop(facet.QAnalysis) // that attempt dies too
	e.later(RunDeadline + time.Minute)
	if r := e.sweep(); r.EndedRuns != 1 || r.Requeued != 0 {
		t.Errorf("past the deadline: %+v", r)
	}
	rec := e.recording(p.ID, recID)
	if rec.Status != facet.RecFailed || rec.Failure == nil || rec.Failure.Code != facet.ETimeout {
		t.Errorf("recording %s %+v", rec.Status, rec.Failure)
	}
	if an := e.run(recID, runID); an.Status != facet.RunFailed || an.Failure == nil || an.Failure.Code != facet.ETimeout {
		t.Errorf("run %s %+v", an.Status, an.Failure)
	}
	e.deliver(facet.QDeletions, false)
	if e.blobExists(p.ID + "/" + recID) {
		t.Error("privacy by design: the video of the ended run was kept")
	}
	if len(e.auditOf(c.ID)) != 1 {
		t.Error("the video's deletion was not audited")
	}
}
