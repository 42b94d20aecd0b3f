package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humaninsight/facet/client"
	"github.com/humaninsight/facet/internal/testenv"
)

// allowLocalHooks lets webhooks go to receivers on this machine over
// http, as `facet dev` does: the tests' receivers listen on 127.0.0.1.
func allowLocalHooks(c *config) { c.WebhookAllowLocal = true }

// hookReceiver is a client's webhook endpoint, on 127.0.0.1: it checks
// each delivery's Facet-Signature itself, as an integrator's code would,
// keeps every request, and answers 503 while down.
type hookReceiver struct {
	t    *testing.T
	srv  *httptest.Server
	down atomic.Bool

	mu     sync.Mutex
	secret string
	got    []hookDelivery
}

// hookDelivery is one request the receiver got, and what it answered.
type hookDelivery struct {
	Event     client.Event
	Raw       []byte
	Status    int   // the receiver's answer
	SigErr    error // nil: the signature is one of ours
	Sigs      int   // v1 signatures in the header
	UserAgent string
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{t: t}
	r.srv = httptest.NewServer(r)
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	raw, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil || req.Method != http.MethodPost || req.URL.Path != "/hooks" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	d := hookDelivery{Raw: raw, UserAgent: req.UserAgent(), Status: http.StatusOK}
	d.Sigs, d.SigErr = verifyHook(req.Header.Get("Facet-Signature"), raw, r.secret, time.Now())
	if err := json.Unmarshal(raw, &d.Event); err != nil && d.SigErr == nil {
		d.SigErr = fmt.Errorf("body: %w", err)
	}
	switch {
	case r.down.Load():
		d.Status = http.StatusServiceUnavailable
	case d.SigErr != nil:
		d.Status = http.StatusUnauthorized
	}
	r.got = append(r.got, d)
	w.WriteHeader(d.Status)
}

// register makes the receiver a webhook of the client api stands for,
// through the generated client, and keeps the secret the answer shows
// once.
func (r *hookReceiver) register(api *client.ClientWithResponses, events ...client.EventType) client.Webhook {
	r.t.Helper()
	res, err := api.CreateWebhookWithResponse(context.Background(), client.NewWebhook{Url: r.srv.URL + "/hooks", Events: events})
	ok(r.t, "POST /api/webhooks", 201, res, err)
	wh := *res.JSON201
	if wh.Secret == nil || !strings.HasPrefix(*wh.Secret, "whsec_") || wh.Status != client.WebhookStatusActive {
		r.t.Fatalf("new webhook %s", res.Body)
	}
	r.mu.Lock()
	r.secret = *wh.Secret
	r.mu.Unlock()
	return wh
}

// deliveries returns a copy of what came so far.
func (r *hookReceiver) deliveries() []hookDelivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hookDelivery(nil), r.got...)
}

// wait polls until a delivery matches, for up to 90 s (an analysis on
// two busy cores), and returns it.
func (r *hookReceiver) wait(what string, match func(hookDelivery) bool) hookDelivery {
	r.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		for _, d := range r.deliveries() {
			if match(d) {
				return d
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("the receiver never got %s; it got:\n%s", what, r.dump())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *hookReceiver) dump() string {
	var b strings.Builder
	for _, d := range r.deliveries() {
		fmt.Fprintf(&b, "  %d %s sigErr=%v\n", d.Status, d.Raw, d.SigErr)
	}
	return b.String()
}

// ofType matches a delivery of event type typ.
func ofType(typ client.DeliveryType) func(hookDelivery) bool {
	return func(d hookDelivery) bool { return d.Event.Type == typ }
}

// attempts polls GET /api/webhooks/{id} until cond holds of its attempts
// (recorded once the receiver has answered), and returns them.
func attempts(t *testing.T, api *client.ClientWithResponses, id, what string, cond func([]client.HookAttempt) bool) []client.HookAttempt {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := api.GetWebhookWithResponse(context.Background(), id)
		ok(t, "GET /api/webhooks/{id}", 200, res, err)
		var as []client.HookAttempt
		if res.JSON200.Attempts != nil {
			as = *res.JSON200.Attempts
		}
		if cond(as) {
			return as
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook %s never showed %s: %s", id, what, res.Body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// restart stops the local host (handler and host stand-in) and starts a
// new one with the same configuration: the same database, Blob Storage
// and Service Bus stand-in, which keeps its messages meanwhile. The new
// host takes the old one's place, so the cleanup startStack registered
// stops it.
func (s *stack) restart() {
	s.t.Helper()
	s.l.Close()
	l, err := startLocalHost(context.Background(), s.cfg, testenv.RepoRoot(), "127.0.0.1:0", s.blobURL, 0, testLog())
	if err != nil {
		s.t.Fatal(err)
	}
	*s.l = *l
	s.url = l.URL
}

// TestWebhookEndToEnd follows an integrator's webhook on the local stack:
// registered through the generated client, its events delivered from the
// real webhooks queue by the DeliverWebhook function, signed as the
// receiver checks, and its attempts listed.
func TestWebhookEndToEnd(t *testing.T) {
	s := startStack(t, allowLocalHooks)
	ctx := context.Background()
	f := newFlow(t, s, "Hook Research")
	api := s.client(client.APIKeyAuth(f.key))
	recv := newHookReceiver(t)
	wh := recv.register(api, client.EventTypeRecordingAnalyzed, client.EventTypeRecordingDeleted, client.EventTypeProjectClosed)
	ls, err := api.ListWebhooksWithResponse(ctx, nil)
	ok(t, "GET /api/webhooks", 200, ls, err)
	if items := ls.JSON200.Items; len(items) != 1 || items[0].Id != wh.Id || items[0].Secret != nil || items[0].Attempts != nil {
		t.Errorf("list %s", ls.Body)
	}

	p := f.project("retain", nil) // deletion grace 0
	slot, err := api.CreateRecordingWithResponse(ctx, p, client.NewRecording{ParticipantRef: ptr("HOOK-P-7"),
		Consent: client.ClientConsent{ObtainedAt: time.Now().Add(-time.Minute), Method: "signed-form"}})
	ok(t, "POST /api/projects/{id}/recordings", 201, slot, err)
	rec := slot.JSON201.RecordingId
	if st := put(t, slot.JSON201.UploadUrl, f.video); st != 201 {
		t.Fatalf("upload: %d", st)
	}

	analyzed := recv.wait("recording.analyzed", ofType(client.DeliveryTypeRecordingAnalyzed))
	got, err := api.GetRecordingWithResponse(ctx, rec)
	ok(t, "GET /api/recordings/{id}", 200, got, err)
	data := analyzed.Event.Data
	if data.RecordingId == nil || *data.RecordingId != rec || data.ProjectId == nil || *data.ProjectId != p ||
		data.AnalysisId == nil || got.JSON200.LatestAnalysis == nil || *data.AnalysisId != *got.JSON200.LatestAnalysis ||
		data.Status == nil || *data.Status != "analyzed" {
		t.Errorf("recording.analyzed data %s, recording %s", analyzed.Raw, got.Body)
	}
	if sum := data.Summary; sum == nil || sum.Frames == 0 || sum.FaceRatio < 0.9 {
		t.Errorf("recording.analyzed summary %s", analyzed.Raw)
	}

	cl, err := api.CloseProjectWithResponse(ctx, p)
	ok(t, "POST /api/projects/{id}/close", 200, cl, err)
	closed := recv.wait("project.closed", ofType(client.DeliveryTypeProjectClosed))
	if d := closed.Event.Data; d.ProjectId == nil || *d.ProjectId != p || d.Status == nil || *d.Status != "closed" {
		t.Errorf("project.closed data %s", closed.Raw)
	}
	deleted := recv.wait("recording.deleted", ofType(client.DeliveryTypeRecordingDeleted))
	if d := deleted.Event.Data; d.RecordingId == nil || *d.RecordingId != rec || d.Reason == nil || *d.Reason != client.DeletionReasonProjectClosed {
		t.Errorf("recording.deleted data %s", deleted.Raw)
	}

	// Each event came once, signed with the registration's secret, and
	// none names the participant.
	as := attempts(t, api, wh.Id, "three attempts", func(as []client.HookAttempt) bool { return len(as) >= 3 })
	ds := recv.deliveries()
	seen := map[string]bool{}
	for _, d := range ds {
		if d.SigErr != nil || d.Sigs != 1 {
			t.Errorf("%s: signature not verified (%d v1): %v", d.Event.Type, d.Sigs, d.SigErr)
		}
		if d.Status != 200 || d.UserAgent != "facet-webhooks/1" || !strings.HasPrefix(d.Event.Id, "evt_") {
			t.Errorf("delivery %s (answered %d, User-Agent %q)", d.Raw, d.Status, d.UserAgent)
		}
		if seen[d.Event.Id] {
			t.Errorf("event %s came twice", d.Event.Id)
		}
		seen[d.Event.Id] = true
		if bytes.Contains(d.Raw, []byte("participantRef")) || bytes.Contains(d.Raw, []byte("HOOK-P-7")) {
			t.Errorf("a delivery names the participant: %s", d.Raw)
		}
	}
	if len(ds) != 3 || len(as) != 3 {
		t.Errorf("%d deliveries and %d attempts, want 3 each:\n%s", len(ds), len(as), recv.dump())
	}
	for _, a := range as {
		if !seen[a.EventId] || a.Outcome != client.HookAttemptOutcomeDelivered || a.StatusCode == nil || *a.StatusCode != 200 || a.Attempt != 1 || a.Error != nil {
			t.Errorf("attempt %+v", a)
		}
	}
}

// TestWebhookReceiverDownThenRestart takes the receiver down, lets two
// attempts fail, and stops the whole local host while the next attempt
// waits in Service Bus as a scheduled message. A new host on the same
// database and Service Bus delivers it once the receiver is back: once,
// with the event id of the failed attempts.
func TestWebhookReceiverDownThenRestart(t *testing.T) {
	s := startStack(t, allowLocalHooks)
	// Quick retries, but the third attempt far enough off that the host
	// is stopped while it is scheduled, not while it is being made.
	s.l.Deps.App.HookRetry = func(n int) time.Duration {
		if n < 2 {
			return 200 * time.Millisecond
		}
		return 2 * time.Second
	}
	ctx := context.Background()
	f := newFlow(t, s, "Outage Research")
	api := s.client(client.APIKeyAuth(f.key))
	recv := newHookReceiver(t)
	recv.down.Store(true)
	wh := recv.register(api, client.EventTypeProjectClosed)
	// A day's grace keeps the project's deletion off the queues meanwhile.
	p := f.project("retain", map[string]any{"deletionGraceS": 86400})
	cl, err := api.CloseProjectWithResponse(ctx, p)
	ok(t, "POST /api/projects/{id}/close", 200, cl, err)

	failed := attempts(t, api, wh.Id, "two failed attempts", func(as []client.HookAttempt) bool { return len(as) >= 2 })
	stopped := time.Now()
	s.restart()
	s.l.Deps.App.HookRetry = func(int) time.Duration { return 200 * time.Millisecond }
	api = s.client(client.APIKeyAuth(f.key))
	recv.down.Store(false)

	ev := failed[0].EventId
	for _, a := range failed {
		if a.EventId != ev || a.EventType != client.DeliveryTypeProjectClosed || a.Outcome != client.HookAttemptOutcomeRetrying || a.StatusCode == nil || *a.StatusCode != 503 {
			t.Errorf("failed attempt %+v", a)
		}
	}
	delivered := recv.wait("the event once the receiver is up", func(d hookDelivery) bool { return d.Status == 200 })
	if delivered.Event.Id != ev || delivered.SigErr != nil {
		t.Errorf("delivered %s (signature: %v), want event %s", delivered.Raw, delivered.SigErr, ev)
	}
	as := attempts(t, api, wh.Id, "the delivery", func(as []client.HookAttempt) bool {
		return len(as) > 0 && as[0].Outcome == client.HookAttemptOutcomeDelivered
	})
	// Nothing more comes: poll for a while that nothing arrives.
	n := len(recv.deliveries())
	for quiet := time.Now().Add(2 * time.Second); time.Now().Before(quiet); time.Sleep(100 * time.Millisecond) {
		if len(recv.deliveries()) != n {
			break
		}
	}

	ok2xx := map[string]int{}
	down := 0
	for _, d := range recv.deliveries() {
		if d.SigErr != nil {
			t.Errorf("delivery %s: %v", d.Raw, d.SigErr)
		}
		if d.Event.Id != ev {
			t.Errorf("delivery of another event: %s", d.Raw)
		}
		if d.Status/100 == 2 {
			ok2xx[d.Event.Id]++
		} else {
			down++
		}
	}
	if ok2xx[ev] != 1 || len(ok2xx) != 1 {
		t.Errorf("2xx per event id %v, want %s once:\n%s", ok2xx, ev, recv.dump())
	}
	if down < 2 || down != len(as)-1 {
		t.Errorf("the receiver answered 503 %d times; the webhook shows %d attempts", down, len(as))
	}
	// Newest first: the delivery, then every failed attempt, numbered on.
	for i, a := range as {
		want := client.HookAttemptOutcomeRetrying
		if i == 0 {
			want = client.HookAttemptOutcomeDelivered
		}
		if a.EventId != ev || a.Outcome != want || a.Attempt != len(as)-i {
			t.Errorf("attempt %d: %+v", i, a)
		}
	}
	if last := failed[0].At; !last.Before(stopped) || !as[0].At.After(stopped) {
		t.Errorf("last failed attempt at %s, delivery at %s: not across the restart at %s", last, as[0].At, stopped)
	}
	res, err := api.GetWebhookWithResponse(ctx, wh.Id)
	ok(t, "GET /api/webhooks/{id}", 200, res, err)
	if res.JSON200.FailingSince != nil || res.JSON200.Status != client.WebhookStatusActive {
		t.Errorf("after the delivery: %s", res.Body)
	}
}

// TestWebhookIsolation checks on the real store that a client reaches
// only its own webhooks: another client's id answers 404, as an unknown
// one does, and changes nothing.
func TestWebhookIsolation(t *testing.T) {
	s := startStack(t, allowLocalHooks)
	ctx := context.Background()
	a := s.client(client.APIKeyAuth(newFlow(t, s, "Owner Research").key))
	b := s.client(client.APIKeyAuth(newFlow(t, s, "Other Research").key))
	recv := newHookReceiver(t)
	wh := recv.register(a, client.EventTypeRecordingAnalyzed)

	g, err := b.GetWebhookWithResponse(ctx, wh.Id)
	ok(t, "GET /api/webhooks/{id} as another client", 404, g, err)
	pg, err := b.PingWebhookWithResponse(ctx, wh.Id)
	ok(t, "POST /api/webhooks/{id}/ping as another client", 404, pg, err)
	rs, err := b.RotateWebhookSecretWithResponse(ctx, wh.Id)
	ok(t, "POST /api/webhooks/{id}/secret as another client", 404, rs, err)
	dl, err := b.DeleteWebhookWithResponse(ctx, wh.Id)
	ok(t, "DELETE /api/webhooks/{id} as another client", 404, dl, err)
	ls, err := b.ListWebhooksWithResponse(ctx, nil)
	ok(t, "GET /api/webhooks as another client", 200, ls, err)
	if len(ls.JSON200.Items) != 0 {
		t.Errorf("another client lists %s", ls.Body)
	}

	// The owner's webhook is as it was: there, never pinged, its secret
	// not rotated (a rotation would sign with two secrets).
	own, err := a.GetWebhookWithResponse(ctx, wh.Id)
	ok(t, "GET /api/webhooks/{id}", 200, own, err)
	if own.JSON200.Attempts == nil || len(*own.JSON200.Attempts) != 0 || !own.JSON200.UpdatedAt.Equal(wh.UpdatedAt) {
		t.Errorf("the owner's webhook changed: %s", own.Body)
	}
	ping, err := a.PingWebhookWithResponse(ctx, wh.Id)
	ok(t, "POST /api/webhooks/{id}/ping", 202, ping, err)
	d := recv.wait("the owner's ping", ofType(client.DeliveryTypePing))
	if d.Event.Id != ping.JSON202.EventId || d.SigErr != nil || d.Sigs != 1 {
		t.Errorf("ping %s: %d signatures, %v", d.Raw, d.Sigs, d.SigErr)
	}
	if n := len(recv.deliveries()); n != 1 {
		t.Errorf("the receiver got %d deliveries, want the owner's ping only:\n%s", n, recv.dump())
	}
}
