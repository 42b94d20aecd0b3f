package app

import (
	"sync"
	"testing"
	"time"

	"github.com/humaninsight/facet"
)

// A client at its share of running analyses waits (ETooMany with a
// Retry-After), while another client's upload runs at once.
func TestFairShareAcrossClients(t *testing.T) {
	e := newTestEnv(t)
	e.app.cfg.Limits.RunningAnalyses = 2
	e.an.Frames, e.an.HoldAt = 10, 5
	e.an.Hold, e.an.Reached = make(chan struct{}), make(chan struct{})
	busy, other := e.client("Busy Research"), e.client("Other Research")
	bp, op := e.project(busy, facet.PrivacyRetain), e.project(other, facet.PrivacyRetain)
	var bodies [][]byte
	for i := 0; i < 3; i++ {
		e.uploaded(busy, bp)
	}
	ds, err := e.queue.Receive(e.ctx, facet.QAnalysis, 3, time.Second)
	e.must(err)
	for _, d := range ds {
		bodies = append(bodies, d.Body)
	}
	var wg sync.WaitGroup
	for _, b := range bodies[:2] { // two run and hold
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.app.RunAnalysis(e.ctx, b); err != nil {
				t.Error(err)
			}
		}()
	}
	waitRunning(t, e, busy.ID, 2)
	_, err = e.app.RunAnalysis(e.ctx, bodies[2])
	if facet.ErrorCode(err) != facet.ETooMany || facet.RetryAfter(err) <= 0 {
		t.Fatalf("third run of the busy client: %v, want %s with a Retry-After", err, facet.ETooMany)
	}
	rec := e.slot(other, op)
	info := e.put(op.ID, rec, []byte("other client's video"))
	_, err = e.app.BlobCreated(e.ctx, e.event(op.ID+"/"+rec, info))
	e.must(err)
	ds, err = e.queue.Receive(e.ctx, facet.QAnalysis, 1, time.Second)
	e.must(err)
	done := make(chan error)
	go func() { _, err := e.app.RunAnalysis(e.ctx, ds[0].Body); done <- err }()
	waitRunning(t, e, other.ID, 1) // not held back by the busy client
	close(e.an.Hold)
	e.must(<-done)
	wg.Wait()
	if out, err := e.app.RunAnalysis(e.ctx, bodies[2]); err != nil || out != Analyzed {
		t.Fatalf("the waiting run, once the others ended: %s %v", out, err)
	}
}

func waitRunning(t *testing.T, e *testEnv, clientID string, n int) {
	t.Helper()
	for i := 0; i < 500; i++ {
		runs, _, err := query[facet.Analysis](e.ctx, e.store, facet.CAnalyses, facet.Query{Where: map[string]any{"clientId": clientID, "status": facet.RunRunning}})
		e.must(err)
		if len(runs) >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("client %s never had %d runs running", clientID, n)
}

// Re-analyses per client and hour: the next one answers ETooMany until
// the hour is over; another client is not affected; the next hour resets.
func TestReanalysesPerHour(t *testing.T) {
	e := newTestEnv(t)
	e.app.cfg.Limits.ReanalysesPerHour = 3
	now := time.Date(2026, 12, 3, 10, 40, 0, 0, time.UTC)
	e.app.Now = func() time.Time { return now }
	c, d := e.client("Acme Research"), e.client("Other Research")
	p, q := e.project(c, facet.PrivacyRetain), e.project(d, facet.PrivacyRetain)
	rec, drec := e.uploaded(c, p), e.uploaded(d, q)
	e.deliver(facet.QAnalysis, false)
	for i := 0; i < 3; i++ {
		_, err := e.app.Reanalyze(e.ctx, c, rec, AnalysisSettings{})
		e.must(err)
	}
	_, err := e.app.Reanalyze(e.ctx, c, rec, AnalysisSettings{})
	if facet.ErrorCode(err) != facet.ETooMany || facet.RetryAfter(err) != 20*time.Minute {
		t.Fatalf("4th re-analysis: %v (retry after %s), want %s after 20m", err, facet.RetryAfter(err), facet.ETooMany)
	}
	if _, err := e.app.Reanalyze(e.ctx, d, drec, AnalysisSettings{}); err != nil {
		t.Fatalf("another client: %v", err)
	}
	now = now.Add(20 * time.Minute)
	if _, err := e.app.Reanalyze(e.ctx, c, rec, AnalysisSettings{}); err != nil {
		t.Fatalf("next hour: %v", err)
	}
}

// Invitations per project and day, and open upload slots per client.
func TestInvitationAndSlotLimits(t *testing.T) {
	e := newTestEnv(t)
	e.app.cfg.Limits.InvitationsPerDay, e.app.cfg.Limits.OpenUploadSlots = 4, 2
	now := time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)
	e.app.Now = func() time.Time { return now }
	c := e.client("Acme Research")
	p := e.project(c, facet.PrivacyRetain)
	e.slot(c, p)
	e.slot(c, p) // two slots open, two invitations made
	_, token, err := e.app.CreateInvitation(e.ctx, c, p.ID, NewInvitation{})
	e.must(err)
	pub, err := e.app.Invitation(e.ctx, token)
	e.must(err)
	yes := true
	_, err = e.app.Consent(e.ctx, token, ConsentInput{Accept: &yes, ConsentVersion: pub.ConsentVersion})
	if facet.ErrorCode(err) != facet.ETooMany || facet.RetryAfter(err) != e.app.cfg.UploadTTL {
		t.Fatalf("third open slot: %v (retry after %s), want %s after the upload TTL", err, facet.RetryAfter(err), facet.ETooMany)
	}
	e.must(ignoreOut(e.app.CreateInvitation(e.ctx, c, p.ID, NewInvitation{})))
	_, _, err = e.app.CreateInvitation(e.ctx, c, p.ID, NewInvitation{})
	if facet.ErrorCode(err) != facet.ETooMany || facet.RetryAfter(err) != 6*time.Hour {
		t.Fatalf("5th invitation of the day: %v (retry after %s)", err, facet.RetryAfter(err))
	}
	now = now.Add(6 * time.Hour)
	e.must(ignoreOut(e.app.CreateInvitation(e.ctx, c, p.ID, NewInvitation{})))
	// The slots' links have expired by now: consent opens a slot again.
	_, err = e.app.Consent(e.ctx, token, ConsentInput{Accept: &yes, ConsentVersion: pub.ConsentVersion})
	e.must(err)
}

func ignoreOut(_ *facet.Invitation, _ string, err error) error { return err }
