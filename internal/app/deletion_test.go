package app

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/humaninsight/facet"
)

// doc returns a stored document's JSON, or "" when there is none.
func (e *testEnv) doc(container, pk, id string) string {
	e.t.Helper()
	d, err := e.store.Read(e.ctx, container, pk, id)
	if isCode(err, facet.ENotFound) {
		return ""
	}
	e.must(err)
	return string(d.JSON)
}

// TestDeletionIdempotent: the same message twice deletes once, writes
// one audit entry and leaves the same state.
func TestDeletionIdempotent(t *testing.T) {
	for _, reason := range []string{facet.ReasonRetention, facet.ReasonRecordingRemoved} {
		t.Run(reason, func(t *testing.T) {
			e := newTestEnv(t)
			c := e.client("Acme Research")
			p := e.project(c, facet.PrivacyRetain)
			rec := e.analysed(c, p, 1)[0]
			body := mustJSON(DeletionJob{Scope: ScopeRecording, ClientID: c.ID, ProjectID: p.ID, RecordingID: rec, Reason: reason, Trigger: TriggerAPI})
			var states []string
			for range 2 {
				out, err := e.app.DeleteData(e.ctx, body)
				if err != nil || out != Deleted {
					t.Fatalf("DeleteData: %s, %v", out, err)
				}
				states = append(states, e.doc(facet.CRecordings, p.ID, rec))
			}
			if states[0] != states[1] {
				t.Errorf("the second delivery changed the recording:\n%s\n%s", states[0], states[1])
			}
			if e.blobExists(p.ID + "/" + rec) {
				t.Error("video kept")
			}
			es := e.auditOf(c.ID)
			if len(es) != 1 || es[0].Reason != reason || es[0].RecordingID != rec || es[0].SizeBytes == 0 {
				t.Errorf("audit entries %+v, want one", es)
			}
			var st struct{ Status facet.RecordingStatus }
			json.Unmarshal([]byte(states[1]), &st)
			if removes(reason) != (st.Status == facet.RecRemoved) {
				t.Errorf("reason %s left status %q", reason, st.Status)
			}
		})
	}
}

// TestDeletionOfNothing: a message for a recording or project that
// never existed, or is long gone, is done: nothing to delete or audit.
func TestDeletionOfNothing(t *testing.T) {
	e := newTestEnv(t)
	c := e.client("Acme Research")
	for _, j := range []DeletionJob{
		{Scope: ScopeRecording, ClientID: c.ID, ProjectID: newID("pr"), RecordingID: newID("rec"), Reason: facet.ReasonRecordingRemoved, Trigger: TriggerAPI},
		{Scope: ScopeRecording, ClientID: c.ID, ProjectID: newID("pr"), RecordingID: newID("rec"), Reason: facet.ReasonRetention, Trigger: TriggerSweep},
		{Scope: ScopeProject, ClientID: c.ID, ProjectID: newID("pr"), Reason: facet.ReasonProjectClosed, Trigger: TriggerAPI},
		{Scope: ScopeProject, ClientID: c.ID, ProjectID: newID("pr"), Reason: facet.ReasonProjectRemoved, Trigger: TriggerAPI},
		{Scope: ScopeClient, ClientID: newID("cl"), Reason: facet.ReasonErasure, Trigger: TriggerOperator},
	} {
		if out, err := e.app.DeleteData(e.ctx, mustJSON(j)); err != nil || out != Deleted {
			t.Errorf("%+v: %s, %v", j, out, err)
		}
	}
	if n := e.drop(facet.QDeletions); n != 0 {
		t.Errorf("%d messages sent", n)
	}
	if n := len(e.auditOf(c.ID)); n != 0 {
		t.Errorf("%d audit entries", n)
	}
}

// TestDeletionPoison: unreadable or incomplete bodies are recorded and
// dropped (nil error: retrying cannot help), and touch nothing.
func TestDeletionPoison(t *testing.T) {
	e := newTestEnv(t)
	c := e.client("Acme Research")
	p := e.project(c, facet.PrivacyRetain)
	rec := e.analysed(c, p, 1)[0]
	valid := DeletionJob{Scope: ScopeRecording, ClientID: c.ID, ProjectID: p.ID, RecordingID: rec, Reason: facet.ReasonRetention, Trigger: TriggerAPI}
	with := func(f func(j *DeletionJob)) string {
		j := valid
		f(&j)
		return string(mustJSON(j))
	}
	bodies := []string{
		``, `not json`, `"a string"`, `[]`, `{}`, `{"scope": 7}`, `null`,
		with(func(j *DeletionJob) { j.Scope = "everything" }),
		with(func(j *DeletionJob) { j.Reason = "because" }),
		with(func(j *DeletionJob) { j.Reason = facet.ReasonOrphan }), // the sweep's own, never a message's
		with(func(j *DeletionJob) { j.Trigger = "" }),
		with(func(j *DeletionJob) { j.ClientID = "" }),
		with(func(j *DeletionJob) { j.ClientID = OrphanAuditPartition }),
		with(func(j *DeletionJob) { j.ProjectID = "../" + p.ID }),
		with(func(j *DeletionJob) { j.RecordingID = "" }),
		with(func(j *DeletionJob) { j.Scope, j.ProjectID = ScopeProject, "" }),
	}
	for _, b := range bodies {
		out, err := e.app.DeleteData(e.ctx, []byte(b))
		if err != nil || out != PoisonMessage {
			t.Errorf("%s: %s, %v; want %s", b, out, err, PoisonMessage)
		}
	}
	if !e.blobExists(p.ID+"/"+rec) || len(e.auditOf(c.ID)) != 0 || e.recording(p.ID, rec).Video.DeletedAt != nil {
		t.Error("a poison message deleted something")
	}
	if n := e.drop(facet.QDeletions); n != 0 {
		t.Errorf("a poison message sent %d messages", n)
	}
}

// TestDeletionScopes: a removal of a recording, a project or a client
// leaves of each recording only its tombstone and its audit entry, and
// of the project nothing.
func TestDeletionScopes(t *testing.T) {
	cases := []struct {
		name   string
		reason string
		remove func(e *testEnv, c *facet.Client, p *facet.Project, recs []string)
	}{
		{"recording", facet.ReasonRecordingRemoved, func(e *testEnv, c *facet.Client, p *facet.Project, recs []string) {
			for _, r := range recs {
				e.must(e.app.RemoveRecording(e.ctx, c, r))
			}
		}},
		{"project", facet.ReasonProjectRemoved, func(e *testEnv, c *facet.Client, p *facet.Project, recs []string) {
			e.must(e.app.RemoveProject(e.ctx, c, p.ID))
		}},
		{"client", facet.ReasonErasure, func(e *testEnv, c *facet.Client, p *facet.Project, recs []string) {
			_, err := e.app.EraseClient(e.ctx, c.ID, TriggerOperator, nil)
			e.must(err)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			c := e.client("Acme Research")
			p := e.project(c, facet.PrivacyRetain)
			recs := e.analysed(c, p, 2)
			_, err := e.app.Reanalyze(e.ctx, c, recs[0], AnalysisSettings{})
			e.must(err)
			e.deliver(facet.QAnalysis, false)
			slot := e.slot(c, p) // never uploaded
			// Another client's recording, which none of this may touch.
			c2 := e.client("Other Research")
			p2 := e.project(c2, facet.PrivacyRetain)
			other := e.analysed(c2, p2, 1)[0]
			otherDocs := e.docsMentioning(other)

			tc.remove(e, c, p, recs)
			e.deliver(facet.QDeletions, false)

			for _, r := range recs {
				got := e.docsMentioning(r)
				want := []string{"audit/" + auditID(e, c.ID, r) + " (deletion)", "recordings/" + r + " (removed)"}
				if d := cmp.Diff(want, got); d != "" {
					t.Errorf("%s: documents (-want +got):\n%s", r, d)
				}
				if e.blobExists(p.ID + "/" + r) {
					t.Errorf("%s: video kept", r)
				}
			}
			if d := cmp.Diff([]string{"recordings/" + slot + " (removed)"}, e.docsMentioning(slot)); d != "" && tc.name != "recording" {
				t.Errorf("the unused slot (-want +got):\n%s", d)
			}
			for _, a := range e.auditOf(c.ID) {
				if a.Reason != tc.reason {
					t.Errorf("audit reason %s, want %s", a.Reason, tc.reason)
				}
			}
			if tc.name != "recording" && e.doc(facet.CProjects, c.ID, p.ID) != "" {
				t.Error("the project is still there")
			}
			if d := cmp.Diff(otherDocs, e.docsMentioning(other)); d != "" || !e.blobExists(p2.ID+"/"+other) {
				t.Errorf("another client's recording changed (-before +after):\n%s", d)
			}
		})
	}
}

// auditID returns the id of the one audit entry of a recording.
func auditID(e *testEnv, clientID, recID string) string {
	e.t.Helper()
	for _, a := range e.auditOf(clientID) {
		if a.RecordingID == recID {
			return a.ID
		}
	}
	return "(none)"
}

// TestDeletionOtherClientUntouched: a message that names another
// client's recording or project deletes nothing of it.
func TestDeletionOtherClientUntouched(t *testing.T) {
	e := newTestEnv(t)
	mallory := e.client("Mallory Research")
	c := e.client("Acme Research")
	p := e.project(c, facet.PrivacyRetain)
	rec := e.analysed(c, p, 1)[0]
	before := e.docsMentioning(rec)
	for _, j := range []DeletionJob{
		{Scope: ScopeRecording, ClientID: mallory.ID, ProjectID: p.ID, RecordingID: rec, Reason: facet.ReasonRecordingRemoved, Trigger: TriggerAPI},
		{Scope: ScopeRecording, ClientID: mallory.ID, ProjectID: p.ID, RecordingID: rec, Reason: facet.ReasonRetention, Trigger: TriggerAPI},
		{Scope: ScopeProject, ClientID: mallory.ID, ProjectID: p.ID, Reason: facet.ReasonProjectRemoved, Trigger: TriggerAPI},
	} {
		e.must(e.app.sendDeletion(e.ctx, j))
	}
	outs := e.deliver(facet.QDeletions, false)
	if strings.Count(strings.Join(toStrings(outs), " "), string(Ignored)) != 3 {
		t.Errorf("outcomes %v: want the recording's three messages ignored", outs)
	}
	if d := cmp.Diff(before, e.docsMentioning(rec)); d != "" {
		t.Errorf("documents changed (-before +after):\n%s", d)
	}
	if !e.blobExists(p.ID+"/"+rec) || e.doc(facet.CProjects, c.ID, p.ID) == "" {
		t.Error("the video or the project is gone")
	}
	if n := len(e.auditOf(mallory.ID)) + len(e.auditOf(c.ID)); n != 0 {
		t.Errorf("%d audit entries", n)
	}
	if !strings.Contains(e.log.String(), "another client's recording") {
		t.Error("not logged")
	}
}

func toStrings(outs []Outcome) []string {
	s := make([]string, len(outs))
	for i, o := range outs {
		s[i] = string(o)
	}
	return s
}
