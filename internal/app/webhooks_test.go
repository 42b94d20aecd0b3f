package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/inmem"
)

// hookQueue records what the app sends and schedules on the webhooks
// queue (other queues go to the in-memory queue): the tests below play
// Service Bus, delivering each scheduled copy at its time on a clock of
// their own.
type hookQueue struct {
	facet.Queue
	mu        sync.Mutex
	now       []facet.Message
	scheduled []scheduledMsg
}

type scheduledMsg struct {
	at  time.Time
	msg facet.Message
}

func (q *hookQueue) Send(ctx context.Context, queue string, m facet.Message) error {
	if queue != facet.QWebhooks {
		return q.Queue.Send(ctx, queue, m)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.now = append(q.now, m)
	return nil
}

func (q *hookQueue) Schedule(ctx context.Context, queue string, m facet.Message, at time.Time) (int64, error) {
	if queue != facet.QWebhooks {
		return q.Queue.Schedule(ctx, queue, m, at)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.scheduled = append(q.scheduled, scheduledMsg{at, m})
	return int64(len(q.scheduled)), nil
}

// take returns and forgets the messages sent now.
func (q *hookQueue) take() []facet.Message {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.now
	q.now = nil
	return out
}

// next returns and forgets the earliest scheduled message.
func (q *hookQueue) next() (scheduledMsg, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.scheduled) == 0 {
		return scheduledMsg{}, false
	}
	m := q.scheduled[0]
	q.scheduled = q.scheduled[1:]
	return m, true
}

// receiver is a client's endpoint: it answers with the statuses of
// script in turn (then 200) and keeps what it received.
type receiver struct {
	mu     sync.Mutex
	script []int
	got    []received
}

type received struct {
	body   []byte
	sig    string
	status int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	st := http.StatusOK
	if len(r.script) > 0 {
		st, r.script = r.script[0], r.script[1:]
	}
	r.got = append(r.got, received{body, req.Header.Get("Facet-Signature"), st})
	r.mu.Unlock()
	w.WriteHeader(st)
}

// hookEnv is a testEnv whose webhooks go to an in-memory receiver, on a
// clock the test moves.
type hookEnv struct {
	*testEnv
	q     *hookQueue
	hooks *inmem.Hooks
	recv  *receiver
	clock time.Time
}

func newHookEnv(t *testing.T) *hookEnv {
	e := &hookEnv{testEnv: newTestEnv(t), hooks: &inmem.Hooks{}, recv: &receiver{}, clock: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	e.q = &hookQueue{Queue: e.app.Queue}
	e.app.Queue, e.app.Hooks = e.q, e.hooks
	e.app.Now = func() time.Time { return e.clock }
	e.hooks.Handle("https://hooks.example", e.recv)
	return e
}

// webhook registers an endpoint of c at the receiver.
func (e *hookEnv) webhook(c *facet.Client, project string, events ...facet.EventType) *WebhookView {
	e.t.Helper()
	v, err := e.app.CreateWebhook(e.ctx, c, NewWebhook{URL: "https://hooks.example/in", Events: events, ProjectID: project})
	e.must(err)
	return v
}

// deliverNow hands every message sent now to DeliverWebhook.
func (e *hookEnv) deliverNow() []Outcome {
	e.t.Helper()
	var outs []Outcome
	for _, m := range e.q.take() {
		out, err := e.app.DeliverWebhook(e.ctx, m.Body)
		e.must(err)
		outs = append(outs, out)
	}
	return outs
}

// verify checks a signature header as a receiver would, with HMAC-SHA256
// computed here from the definition: hex(HMAC(secret, "<t>.<body>")).
func verify(t *testing.T, header string, body []byte, secret string) bool {
	t.Helper()
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	if _, err := strconv.ParseInt(ts, 10, 64); err != nil {
		t.Fatalf("signature header %q has no t", header)
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "." + string(body)))
	want := hex.EncodeToString(m.Sum(nil))
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return true
		}
	}
	return false
}

// TestWebhookAnalyzedSigned: a finished analysis reaches the subscribed
// endpoint once, signed under its secret, with ids, status and summary
// and nothing about the participant; an endpoint of another project or
// another event type gets nothing.
func TestWebhookAnalyzedSigned(t *testing.T) {
	e := newHookEnv(t)
	c := e.client("Hooked Ltd")
	p := e.project(c, facet.PrivacyRetain)
	other := e.project(c, facet.PrivacyRetain)
	wh := e.webhook(c, p.ID, facet.EvRecordingAnalyzed)
	e.webhook(c, other.ID, facet.EvRecordingAnalyzed)
	e.webhook(c, "", facet.EvProjectClosed)
	rec := e.uploaded(c, p)
	e.deliver(facet.QAnalysis, false)
	if outs := e.deliverNow(); len(outs) != 1 || outs[0] != HookSent {
		t.Fatalf("deliveries %v, want one delivered", outs)
	}
	got := e.recv.got[0]
	if !verify(t, got.sig, got.body, wh.Secret) {
		t.Errorf("signature %q does not verify under the endpoint's secret", got.sig)
	}
	var ev facet.Event
	if err := json.Unmarshal(got.body, &ev); err != nil {
		t.Fatal(err)
	}
	an := e.recording(p.ID, rec).LatestAnalysis
	if ev.Type != facet.EvRecordingAnalyzed || ev.Data.RecordingID != rec || ev.Data.AnalysisID != an || ev.Data.Status != "analyzed" || len(ev.Data.Summary) == 0 {
		t.Errorf("event %+v", ev)
	}
	for _, leak := range []string{"P-001", "participantRef", "http", "blob"} {
		if strings.Contains(string(got.body), leak) {
			t.Errorf("delivery carries %q: %s", leak, got.body)
		}
	}
	v, err := e.app.Webhook(e.ctx, c, wh.ID)
	e.must(err)
	if len(v.Attempts) != 1 || v.Attempts[0].Outcome != facet.HookDelivered || v.Attempts[0].StatusCode != 200 || v.Secret != "" {
		t.Errorf("endpoint after delivery: %+v", v)
	}
}

// TestWebhookRetriesUntilBack: an endpoint down for its first three
// attempts gets the event on the fourth, with the same id; each retry is
// a scheduled message at 30 s, 1 min, 2 min; a repeated message (Service
// Bus delivers at least once) posts nothing more.
func TestWebhookRetriesUntilBack(t *testing.T) {
	e := newHookEnv(t)
	c := e.client("Retry Ltd")
	p := e.project(c, facet.PrivacyRetain)
	e.webhook(c, "", facet.EvRecordingAnalyzed)
	e.recv.script = []int{503, 500, 404}
	e.uploaded(c, p)
	e.deliver(facet.QAnalysis, false)
	first := e.q.take()
	if len(first) != 1 {
		t.Fatalf("%d messages, want 1", len(first))
	}
	out, err := e.app.DeliverWebhook(e.ctx, first[0].Body)
	if err != nil || out != HookRetry {
		t.Fatalf("first attempt: %s %v", out, err)
	}
	var waits []time.Duration
	var last facet.Message
	for {
		m, ok := e.q.next()
		if !ok {
			break
		}
		waits = append(waits, m.at.Sub(e.clock))
		e.clock, last = m.at, m.msg
		if _, err := e.app.DeliverWebhook(e.ctx, m.msg.Body); err != nil {
			t.Fatal(err)
		}
	}
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute}
	if len(waits) != len(want) || waits[0] != want[0] || waits[1] != want[1] || waits[2] != want[2] {
		t.Errorf("retry waits %v, want %v", waits, want)
	}
	if out, err := e.app.DeliverWebhook(e.ctx, last.Body); err != nil || out != AlreadyDone {
		t.Errorf("repeated message: %s %v, want %s", out, err, AlreadyDone)
	}
	var ids []string
	delivered := 0
	for _, r := range e.recv.got {
		var ev facet.Event
		json.Unmarshal(r.body, &ev)
		ids = append(ids, ev.ID)
		if r.status == 200 {
			delivered++
		}
	}
	if len(ids) != 4 || delivered != 1 || ids[0] != ids[3] || ids[1] != ids[0] {
		t.Errorf("receiver got %v (%d delivered), want one event id four times, delivered once", ids, delivered)
	}
}

// TestWebhookGivesUpAfterADay: an endpoint that never answers 2xx is
// tried until the event is a day old, then the delivery is failed; it is
// disabled once it has failed for three days, and a ping it answers
// enables it again.
func TestWebhookGivesUpAfterADay(t *testing.T) {
	e := newHookEnv(t)
	c := e.client("Down Ltd")
	p := e.project(c, facet.PrivacyRetain)
	wh := e.webhook(c, "", facet.EvProjectClosed, facet.EvProjectDeleted)
	e.recv.script = make([]int, 1000)
	for i := range e.recv.script {
		e.recv.script[i] = 502
	}
	start := e.clock
	_, err := e.app.CloseProject(e.ctx, c, p.ID)
	e.must(err)
	tries := 0
	for _, m := range e.q.take() {
		e.app.DeliverWebhook(e.ctx, m.Body)
		tries++
	}
	for {
		m, ok := e.q.next()
		if !ok {
			break
		}
		e.clock = m.at
		if _, err := e.app.DeliverWebhook(e.ctx, m.msg.Body); err != nil {
			t.Fatal(err)
		}
		tries++
	}
	v, err := e.app.Webhook(e.ctx, c, wh.ID)
	e.must(err)
	lastAt := e.clock.Sub(start)
	if lastAt < facet.HookRetryWindow || lastAt > facet.HookRetryWindow+4*time.Hour || tries < 12 || tries > 20 {
		t.Errorf("%d attempts, the last %s after the event; want about 15 over at least 24 h", tries, lastAt)
	}
	if v.Attempts[0].Outcome != facet.HookFailed || v.Attempts[1].Outcome != facet.HookRetrying || v.Status != facet.HookActive || v.FailingSince == nil {
		t.Errorf("after giving up: status %s, attempts %+v", v.Status, v.Attempts[:2])
	}
	// Three days on, still failing: disabled, and events are no longer sent.
	e.clock = start.Add(facet.HookDisableAfter + time.Minute)
	e.must(e.app.RemoveProject(e.ctx, c, p.ID))
	for _, m := range e.q.take() {
		e.app.DeliverWebhook(e.ctx, m.Body)
	}
	if v, _ = e.app.Webhook(e.ctx, c, wh.ID); v.Status != facet.HookDisabled || v.DisabledAt == nil {
		t.Fatalf("after three days of failures: %s", v.Status)
	}
	p2 := e.project(c, facet.PrivacyRetain)
	_, err = e.app.CloseProject(e.ctx, c, p2.ID)
	e.must(err)
	if m := e.q.take(); len(m) != 0 {
		t.Errorf("a disabled endpoint was sent %d events", len(m))
	}
	// A ping it answers enables it again.
	e.recv.mu.Lock()
	e.recv.script = nil
	e.recv.mu.Unlock()
	ping, err := e.app.PingWebhook(e.ctx, c, wh.ID)
	e.must(err)
	if outs := e.deliverNow(); len(outs) != 1 || outs[0] != HookSent {
		t.Fatalf("ping: %v", outs)
	}
	if v, _ = e.app.Webhook(e.ctx, c, wh.ID); v.Status != facet.HookActive || v.FailingSince != nil || v.Attempts[0].EventID != ping.ID {
		t.Errorf("after a ping answered 200: %+v", v)
	}
	if len(v.Attempts) != facet.HookAttemptsKept && len(v.Attempts) > facet.HookAttemptsKept {
		t.Errorf("%d attempts kept", len(v.Attempts))
	}
}

// TestWebhookSecretRotation: after a rotation a delivery carries a
// signature under each secret for a day, then under the new one only; a
// deleted endpoint's queued deliveries are dropped.
func TestWebhookSecretRotation(t *testing.T) {
	e := newHookEnv(t)
	c := e.client("Rotate Ltd")
	wh := e.webhook(c, "", facet.EvProjectClosed)
	rot, err := e.app.RotateWebhookSecret(e.ctx, c, wh.ID)
	e.must(err)
	if rot.Secret == wh.Secret || !strings.HasPrefix(rot.Secret, "whsec_") {
		t.Fatalf("rotated secret %q", rot.Secret)
	}
	_, err = e.app.PingWebhook(e.ctx, c, wh.ID)
	e.must(err)
	e.deliverNow()
	got := e.recv.got[0]
	if !verify(t, got.sig, got.body, wh.Secret) || !verify(t, got.sig, got.body, rot.Secret) {
		t.Errorf("within the grace period, %q should verify under both secrets", got.sig)
	}
	e.clock = e.clock.Add(facet.HookSecretGrace + time.Second)
	_, err = e.app.PingWebhook(e.ctx, c, wh.ID)
	e.must(err)
	e.deliverNow()
	got = e.recv.got[1]
	if verify(t, got.sig, got.body, wh.Secret) || !verify(t, got.sig, got.body, rot.Secret) {
		t.Errorf("after the grace period, %q should verify under the new secret only", got.sig)
	}
	_, err = e.app.PingWebhook(e.ctx, c, wh.ID)
	e.must(err)
	e.must(e.app.DeleteWebhook(e.ctx, c, wh.ID))
	if outs := e.deliverNow(); len(outs) != 1 || outs[0] != Ignored || len(e.recv.got) != 2 {
		t.Errorf("delivery to a deleted endpoint: %v, %d posts", outs, len(e.recv.got))
	}
}

// TestWebhookRegistration: the URL rules (https, public addresses; http
// on loopback only with the local-development setting), known event
// types, the client's own projects, the bound on endpoints; and an
// erased client's endpoints go with it.
func TestWebhookRegistration(t *testing.T) {
	e := newHookEnv(t)
	c := e.client("Rules Ltd")
	other := e.client("Other Ltd")
	op := e.project(other, facet.PrivacyRetain)
	for _, n := range []struct {
		in   NewWebhook
		code string
	}{
		{NewWebhook{URL: "http://hooks.example/in", Events: []facet.EventType{facet.EvProjectClosed}}, facet.EInvalid},
		{NewWebhook{URL: "https://127.0.0.1/in", Events: []facet.EventType{facet.EvProjectClosed}}, facet.EInvalid},
		{NewWebhook{URL: "https://10.1.2.3/in", Events: []facet.EventType{facet.EvProjectClosed}}, facet.EInvalid},
		{NewWebhook{URL: "https://169.254.169.254/metadata", Events: []facet.EventType{facet.EvProjectClosed}}, facet.EInvalid},
		{NewWebhook{URL: "http://127.0.0.1:8080/in", Events: []facet.EventType{facet.EvProjectClosed}}, facet.EInvalid},
		{NewWebhook{URL: "https://hooks.example/in", Events: []facet.EventType{"recording.created"}}, facet.EInvalid},
		{NewWebhook{URL: "https://hooks.example/in", Events: []facet.EventType{facet.EvPing}}, facet.EInvalid},
		{NewWebhook{URL: "https://hooks.example/in"}, facet.EInvalid},
		{NewWebhook{URL: "https://hooks.example/in", Events: []facet.EventType{facet.EvProjectClosed}, ProjectID: op.ID}, facet.EUnprocessable},
	} {
		if _, err := e.app.CreateWebhook(e.ctx, c, n.in); facet.ErrorCode(err) != n.code {
			t.Errorf("%+v: %v, want %s", n.in, err, n.code)
		}
	}
	e.app.cfg.WebhookAllowLocal = true
	if _, err := e.app.CreateWebhook(e.ctx, c, NewWebhook{URL: "http://127.0.0.1:8080/in", Events: []facet.EventType{facet.EvProjectClosed}}); err != nil {
		t.Errorf("http on loopback with WebhookAllowLocal: %v", err)
	}
	if _, err := e.app.CreateWebhook(e.ctx, c, NewWebhook{URL: "http://10.0.0.1/in", Events: []facet.EventType{facet.EvProjectClosed}}); facet.ErrorCode(err) != facet.EInvalid {
		t.Errorf("a private address with WebhookAllowLocal: %v, want refused", err)
	}
	e.app.cfg.WebhookAllowLocal = false
	for i := 1; i < MaxWebhooks; i++ {
		e.webhook(c, "", facet.EvProjectClosed)
	}
	if _, err := e.app.CreateWebhook(e.ctx, c, NewWebhook{URL: "https://hooks.example/in", Events: []facet.EventType{facet.EvProjectClosed}}); facet.ErrorCode(err) != facet.EConflict {
		t.Errorf("endpoint %d: %v, want %s", MaxWebhooks+1, err, facet.EConflict)
	}
	_, err := e.app.EraseClient(e.ctx, c.ID, TriggerAPI, nil)
	e.must(err)
	if left := e.docsMentioning(c.ID); len(left) != 0 {
		for _, d := range left {
			if strings.HasPrefix(d, facet.CWebhooks) {
				t.Errorf("after erasure: %s", d)
			}
		}
	}
}
