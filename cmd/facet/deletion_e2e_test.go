package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/app"
	"github.com/humaninsight/facet/internal/testenv"
)

// flow is one client on the real local stack, with helpers to make
// analysed recordings and to wait for deletions.
type flow struct {
	*stack
	key, client string
	video       []byte
}

func newFlow(t testing.TB, s *stack, company string) *flow {
	t.Helper()
	video, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "testdata/media/synthetic_faces_640x480.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	c := s.must(201, "POST", "/api/clients", "admin", map[string]any{
		"company": company, "contact": map[string]any{"name": "Grace of " + company, "email": "grace@" + strings.ToLower(strings.ReplaceAll(company, " ", "")) + ".example"},
		"demographics": map[string]any{"country": "SE", "sector": "Retail for " + company, "size": "10-49"}, "dpaVersion": "2026-01"})
	return &flow{stack: s, key: c["apiKey"].(string), client: c["id"].(string), video: video}
}

// with returns the flow reporting to t (a subtest).
func (f *flow) with(t *testing.T) *flow {
	st := *f.stack
	st.t = t
	g := *f
	g.stack = &st
	return &g
}

func (f *flow) project(mode string, settings map[string]any) string {
	f.t.Helper()
	body := map[string]any{"name": "P", "privacyMode": mode, "useContext": "market-research"}
	if settings != nil {
		body["settings"] = settings
	}
	return f.must(201, "POST", "/api/projects", f.key, body)["id"].(string)
}

// recording makes an upload slot and uploads the sample; with wait it
// waits until the analysis has ended.
func (f *flow) recording(project string, wait bool) string {
	f.t.Helper()
	slot := f.must(201, "POST", "/api/projects/"+project+"/recordings", f.key, map[string]any{
		"consent": map[string]any{"obtainedAt": time.Now().Add(-time.Minute), "method": "signed-form"}})
	if st := put(f.t, slot["uploadUrl"].(string), f.video); st != 201 {
		f.t.Fatalf("upload: %d", st)
	}
	rec := slot["recordingId"].(string)
	if wait {
		f.waitStatus(f.key, rec, "analyzed")
	}
	return rec
}

// blobs counts the blobs under prefix.
func (f *flow) blobs(prefix string) int {
	n := 0
	if err := f.l.Deps.Blobs.List(context.Background(), prefix, func(facet.BlobInfo) error { n++; return nil }); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// until polls cond for up to 90 s (CI runs the packages side by side on
// two cores).
func (f *flow) until(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			dl, _ := f.l.Deps.Bus.DeadLetters(context.Background(), facet.QDeletions, 20)
			for _, d := range dl {
				f.t.Logf("dead-lettered deletion: %s (deliveries %d)", d.Body, d.DeliveryCount)
			}
			f.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (f *flow) audit(path, key string) []any {
	f.t.Helper()
	return f.must(200, "GET", path, key, nil)["items"].([]any)
}

func TestDeletionPaths(t *testing.T) {
	s := startStack(t)
	f := newFlow(t, s, "Acme Research")

	t.Run("privacy by design", func(t *testing.T) {
		f := f.with(t)
		p := f.project("delete-after-analysis", nil)
		rec := f.recording(p, true)
		f.until("the video's deletion", func() bool { return f.blobs(p+"/") == 0 })
		f.until("the recording's record of it", func() bool {
			v := f.must(200, "GET", "/api/recordings/"+rec, f.key, nil)["video"].(map[string]any)
			return v["present"] == false && v["deletionReason"] == "privacy-by-design"
		})
		r := f.must(200, "GET", "/api/recordings/"+rec, f.key, nil)
		if r["status"] != "analyzed" || len(r["analyses"].([]any)) != 1 {
			t.Errorf("metadata must stay: %v", r)
		}
		if a := f.audit("/api/projects/"+p+"/audit", f.key); len(a) != 1 || a[0].(map[string]any)["reason"] != "privacy-by-design" {
			t.Errorf("audit %v", a)
		}
		f.must(409, "POST", "/api/recordings/"+rec+"/reanalyze", f.key, map[string]any{})
		f.must(410, "GET", "/api/recordings/"+rec+"/video", f.key, nil)
	})

	t.Run("close, then uploads through old links", func(t *testing.T) {
		f := f.with(t)
		p := f.project("retain", nil)
		r1, r2 := f.recording(p, true), f.recording(p, true)
		late := f.must(201, "POST", "/api/projects/"+p+"/recordings", f.key, map[string]any{
			"consent": map[string]any{"obtainedAt": time.Now(), "method": "signed-form"}})
		f.must(200, "POST", "/api/projects/"+p+"/close", f.key, nil)
		f.until("the closed project's videos to go", func() bool { return f.blobs(p+"/") == 0 })
		for _, r := range []string{r1, r2} {
			v := f.must(200, "GET", "/api/recordings/"+r, f.key, nil)["video"].(map[string]any)
			if v["deletionReason"] != "project-closed" {
				t.Errorf("%s: %v", r, v)
			}
		}
		if a := f.audit("/api/projects/"+p+"/audit", f.key); len(a) != 2 {
			t.Errorf("%d audit entries, want 2", len(a))
		}
		// A blob still arriving through an old link is deleted on arrival.
		n := f.l.Host.Delivered()
		if st := put(t, late["uploadUrl"].(string), f.video); st != 201 {
			t.Fatalf("late upload: %d", st)
		}
		f.waitDelivered(n, 1)
		f.until("the late upload's deletion", func() bool { return f.blobs(p+"/") == 0 })
		f.must(409, "POST", "/api/projects/"+p+"/invitations", f.key, map[string]any{})
		f.must(409, "POST", "/api/projects/"+p+"/reopen", f.key, nil) // grace 0: over
	})

	t.Run("reopen within grace cancels", func(t *testing.T) {
		f := f.with(t)
		p := f.project("retain", map[string]any{"deletionGraceS": 6})
		rec := f.recording(p, true)
		f.must(200, "POST", "/api/projects/"+p+"/close", f.key, nil)
		f.must(200, "POST", "/api/projects/"+p+"/reopen", f.key, nil)
		time.Sleep(8 * time.Second) // past the cancelled deletion's time
		if f.blobs(p+"/") != 1 {
			t.Errorf("the video did not survive a reopen")
		}
		if v := f.must(200, "GET", "/api/recordings/"+rec, f.key, nil)["video"].(map[string]any); v["present"] != true {
			t.Errorf("video %v", v)
		}
		f.must(409, "POST", "/api/projects/"+p+"/reopen", f.key, nil) // not closed
	})

	t.Run("remove a recording", func(t *testing.T) {
		f := f.with(t)
		p := f.project("retain", nil)
		rec := f.recording(p, true)
		f.must(202, "DELETE", "/api/recordings/"+rec, f.key, nil)
		f.must(404, "GET", "/api/recordings/"+rec, f.key, nil)
		f.until("the video's deletion", func() bool { return f.blobs(p+"/") == 0 })
		f.until("the audit entry", func() bool { return len(f.audit("/api/projects/"+p+"/audit", f.key)) == 1 })
		f.must(404, "DELETE", "/api/recordings/"+rec, f.key, nil)
		// The tombstone is all that stays: id, project, status, time, reason.
		var ts map[string]any
		f.until("the tombstone", func() bool {
			doc, err := f.l.Deps.Store.Read(context.Background(), facet.CRecordings, p, rec)
			if err != nil {
				t.Fatal(err)
			}
			ts = nil
			json.Unmarshal(doc.JSON, &ts)
			if len(ts) != 5 {
				t.Logf("recording now: %s", doc.JSON)
			}
			return len(ts) == 5
		})
		if ts["status"] != "removed" || ts["reason"] != "recording-removed" || ts["projectId"] != p {
			t.Errorf("tombstone %v", ts)
		}
		if pg, _ := f.l.Deps.Store.Query(context.Background(), facet.CAnalyses, facet.Query{Partition: rec}); len(pg.Docs) != 0 {
			t.Errorf("%d analysis documents left", len(pg.Docs))
		}
		// Repeated messages, a message for a recording that never existed,
		// and a late event change nothing and bring nothing back.
		before := f.snapshot()
		n := f.l.Host.Delivered()
		for _, j := range []app.DeletionJob{
			{Scope: "recording", ClientID: f.client, ProjectID: p, RecordingID: rec, Reason: "recording-removed", Trigger: "api"},
			{Scope: "recording", ClientID: f.client, ProjectID: p, RecordingID: "rec_000000000000000000000000", Reason: "recording-removed", Trigger: "api"},
			{Scope: "project", ClientID: f.client, ProjectID: "pr_000000000000000000000000", Reason: "project-closed", Trigger: "api"},
		} {
			b, _ := json.Marshal(j)
			f.l.Deps.Bus.Send(context.Background(), facet.QDeletions, facet.Message{Body: b})
		}
		f.waitDelivered(n, 3)
		info, err := f.l.Deps.Blobs.Upload(context.Background(), p+"/"+rec, strings.NewReader("late"))
		if err != nil {
			t.Fatal(err)
		}
		f.l.Host.DeliverEvent(context.Background(), "AnalyzeRecording", "event", f.l.Host.BlobCreatedEvent(info))
		if f.blobs(p+"/") != 0 {
			t.Errorf("a late upload to a removed recording survived")
		}
		after := f.snapshot()
		for k, v := range before {
			if after[k] != v {
				t.Errorf("%s changed by repeated or late deliveries", k)
			}
		}
		if len(after) != len(before) {
			t.Errorf("%d documents before, %d after", len(before), len(after))
		}
	})

	t.Run("remove a project", func(t *testing.T) {
		f := f.with(t)
		p := f.project("retain", nil)
		r1, _ := f.recording(p, true), f.recording(p, true)
		f.must(202, "DELETE", "/api/projects/"+p, f.key, nil)
		f.must(404, "GET", "/api/projects/"+p, f.key, nil)
		f.must(404, "GET", "/api/recordings/"+r1, f.key, nil)
		f.until("the project's videos to go", func() bool { return f.blobs(p+"/") == 0 })
		f.until("two audit entries", func() bool { return len(f.audit("/api/projects/"+p+"/audit", f.key)) == 2 })
	})

	t.Run("erasure", func(t *testing.T) {
		g := newFlow(t, s, "Erasable Ltd").with(t)
		p := g.project("retain", nil)
		g.recording(p, true)
		g.must(201, "POST", "/api/projects/"+p+"/invitations", g.key, map[string]any{"participantRef": "X-1"})
		receipt := g.must(202, "DELETE", "/api/clients/me", g.key, nil)
		if receipt["projects"].(float64) != 1 || receipt["recordings"].(float64) != 1 || receipt["clientId"] != g.client {
			t.Errorf("receipt %v", receipt)
		}
		g.must(401, "GET", "/api/clients/me", g.key, nil)
		g.until("the client's videos to go", func() bool { return g.blobs(p+"/") == 0 })
		g.until("the audit entry", func() bool { return len(g.audit("/api/clients/"+g.client+"/audit", "admin")) == 1 })
		g.until("the client's documents to go", func() bool {
			for k, v := range g.snapshot() {
				if strings.Contains(v, g.client) && !strings.HasPrefix(k, facet.CAudit+"/") {
					return false
				}
			}
			return true
		})
		for k, v := range g.snapshot() {
			for _, pii := range []string{"Erasable", "erasableltd", "X-1"} {
				if strings.Contains(v, pii) {
					t.Errorf("%s still names the erased client (%q)", k, pii)
				}
			}
		}
	})
}

// dropQueue loses every message sent to one queue, as a lost message would.
type dropQueue struct {
	facet.Queue
	queue   string
	dropped atomic.Int64
}

func (d *dropQueue) Send(ctx context.Context, q string, m facet.Message) error {
	if q == d.queue {
		d.dropped.Add(1)
		return nil
	}
	return d.Queue.Send(ctx, q, m)
}

func (d *dropQueue) Schedule(ctx context.Context, q string, m facet.Message, at time.Time) (int64, error) {
	if q == d.queue {
		d.dropped.Add(1)
		return 1, nil
	}
	return d.Queue.Schedule(ctx, q, m, at)
}

func TestSweepRepairsLostMessages(t *testing.T) {
	// Other tests of this binary leave blobs in the shared uploads
	// container that this test's database does not know: the sweep's
	// orphan guard would keep them all (and the stray blob with them).
	s := startStack(t, func(c *config) { c.OrphanShareMax = 1 })
	f := newFlow(t, s, "Lossy Research")
	drop := &dropQueue{Queue: s.l.Deps.App.Queue, queue: facet.QDeletions}
	s.l.Deps.App.Queue = drop

	pbd := f.project("delete-after-analysis", nil)
	f.recording(pbd, true)
	closed := f.project("retain", nil)
	f.recording(closed, true)
	f.must(200, "POST", "/api/projects/"+closed+"/close", f.key, nil)
	removed := f.project("retain", nil)
	rr := f.recording(removed, true)
	f.must(202, "DELETE", "/api/recordings/"+rr, f.key, nil)
	// A blob with no recording at all. (Other tests of this binary share
	// the uploads container, so the sweep may find more orphans.)
	s.l.Host.DropEvents("stray/")
	if _, err := s.l.Deps.Blobs.Upload(context.Background(), "stray/file.mp4", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	// At least three: a redelivered run (its lock lost under load) sends
	// its privacy-by-design deletion again.
	if drop.dropped.Load() < 3 {
		t.Fatalf("%d deletion messages dropped, want 3", drop.dropped.Load())
	}
	left := f.blobs(pbd+"/") + f.blobs(closed+"/") + f.blobs(removed+"/") + f.blobs("stray/")
	if left != 4 {
		t.Fatalf("%d leftovers before the sweep, want 4", left)
	}
	// A lost BlobCreated: the upload must be analysed, not deleted.
	drop.queue = "none"
	keep := f.project("retain", nil)
	slot := f.must(201, "POST", "/api/projects/"+keep+"/recordings", f.key, map[string]any{"consent": map[string]any{"obtainedAt": time.Now(), "method": "signed-form"}})
	s.l.Host.DropEvents(keep + "/")
	if _, err := s.l.Deps.Blobs.Upload(context.Background(), keep+"/"+slot["recordingId"].(string), strings.NewReader(string(f.video))); err != nil {
		t.Fatal(err)
	}
	s.l.Deps.App.Queue = drop.Queue

	// The sweep leaves a deletion due this very minute to its message.
	s.l.Deps.App.Now = func() time.Time { return time.Now().UTC().Add(2 * time.Minute) }
	rep, err := s.l.Deps.App.Sweep(context.Background())
	// Back to the queue's clock: a retry is scheduled by the app's.
	s.l.Deps.App.Now = func() time.Time { return time.Now().UTC() }
	if err != nil {
		t.Fatal(err)
	}
	if got := f.blobs(pbd+"/") + f.blobs(closed+"/") + f.blobs(removed+"/") + f.blobs("stray/"); got != 0 {
		t.Errorf("%d leftovers after the sweep", got)
	}
	if rep.Deleted["privacy-by-design"] != 1 || rep.Deleted["project-closed"] != 1 || rep.Deleted["recording-removed"] != 1 || rep.Orphans < 1 || rep.Requeued != 1 {
		t.Errorf("report %+v", rep)
	}
	f.waitStatus(f.key, slot["recordingId"].(string), "analyzed")
	if f.blobs(keep+"/") != 1 {
		t.Errorf("the upload whose event was lost was deleted")
	}
	// Through the timer too: a second sweep finds nothing left.
	if !s.l.Host.FireTimer(context.Background(), "RetentionSweep") {
		t.Error("RetentionSweep invocation failed")
	}
	if rep, err := s.l.Deps.App.Sweep(context.Background()); err != nil || rep.LostMessages != 0 {
		t.Errorf("second sweep: %+v %v", rep, err)
	}
}

// failBlobs makes blob deletes fail as an outage would: the next n, or
// all while fail is set.
type failBlobs struct {
	facet.BlobStore
	fail atomic.Bool
	n    atomic.Int64
}

func (b *failBlobs) Delete(ctx context.Context, name string) error {
	if b.fail.Load() || b.n.Add(-1) >= 0 {
		return facet.Errorf(facet.EUnavailable, "blob storage down")
	}
	return b.BlobStore.Delete(ctx, name)
}

func TestDeletionRetriesAndDeadLetters(t *testing.T) {
	s := startStack(t)
	f := newFlow(t, s, "Flaky Research")
	p := f.project("retain", nil)
	rec := f.recording(p, true)
	fb := &failBlobs{BlobStore: s.l.Deps.App.Blobs}
	s.l.Deps.App.Blobs = fb
	// The real policy's waits (5 s doubling) scaled down to the test's.
	s.l.Deps.App.Retries = app.RetryPolicy{Attempts: 4, First: 100 * time.Millisecond, Max: 200 * time.Millisecond}
	t.Cleanup(func() { s.l.Deps.App.Retries = app.DefaultRetry })

	// An outage of two attempts: each failure schedules a later attempt
	// (a copy of the message with its attempt number) and completes the
	// delivery; the third attempt succeeds.
	n0 := s.l.Host.Delivered()
	fb.n.Store(2)
	f.must(202, "DELETE", "/api/recordings/"+rec, f.key, nil)
	f.until("the redelivered deletion", func() bool { return f.blobs(p+"/") == 0 })
	if fb.n.Load() > -1 {
		t.Errorf("the outage was not hit")
	}
	f.waitDelivered(n0, 3)

	// Unparseable: recorded and acknowledged, not redelivered.
	n := s.l.Host.Delivered()
	s.l.Deps.Bus.Send(context.Background(), facet.QDeletions, facet.Message{Body: []byte(`{"scope": 7}`)})
	f.waitDelivered(n, 1)

	// Always failing: out of attempts, the invocation fails, and Service
	// Bus dead-letters the message after its maximum delivery count.
	if os.Getenv("SERVICEBUS_CONNECTION_STRING") != "" {
		t.Skip("dead-lettering is checked against the stand-in (max delivery 3)")
	}
	rec2 := f.recording(p, true)
	fb.fail.Store(true)
	f.must(202, "DELETE", "/api/recordings/"+rec2, f.key, nil)
	f.until("the message in the dead-letter queue", func() bool {
		dl, err := s.l.Deps.Bus.DeadLetters(context.Background(), facet.QDeletions, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range dl {
			if strings.Contains(string(d.Body), rec2) {
				return true
			}
		}
		return false
	})
	fb.fail.Store(false)
}
