package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/client"
	"github.com/humaninsight/facet/internal/localstack"
)

// cmdDemo runs the product's main story on the local stack and stops it:
// a privacy-by-design project whose video is analysed and then deleted,
// a closed project whose videos go with it, and the client's erasure,
// with a webhook receiver on this machine told of every analysis and
// deletion as it happens.
// Every API call goes through the generated client (package client), as
// an integrator's would; only the upload goes straight to Blob Storage.
func cmdDemo(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		return usagef("demo takes no arguments")
	}
	root, err := projectRoot()
	if err != nil {
		return err
	}
	// The webhook receiver speaks from its own goroutines.
	var sayMu sync.Mutex
	say := func(format string, a ...any) {
		sayMu.Lock()
		defer sayMu.Unlock()
		fmt.Fprintf(stdout, format+"\n", a...)
	}
	say("== facet demo: the local stack (Azurite, Cosmos DB and Service Bus stand-ins, handler, host stand-in)")
	paths := localstack.Paths{Root: root}
	dir, err := os.MkdirTemp("", "facet-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	az, err := paths.Azurite(0, dir)
	if err != nil {
		return err
	}
	defer az.Stop()
	cs, err := paths.Cosmos(0)
	if err != nil {
		return err
	}
	defer cs.Stop()
	sb, err := paths.ServiceBus(0, 10, time.Minute)
	if err != nil {
		return err
	}
	defer sb.Stop()
	cfg.StorageConnString, cfg.StorageAccountURL = localstack.BlobConnectionString(az.Port), ""
	cfg.CosmosEndpoint, cfg.CosmosKey = localstack.CosmosEndpoint(cs.Port), localstack.CosmosKey
	cfg.ServiceBusConn, cfg.ServiceBusFQDN = localstack.ServiceBusConnectionString(sb.Port), ""
	cfg.CreateResources, cfg.AdminKey = true, "demo-admin-key"
	cfg.WebhookAllowLocal = true // the demo's receiver is on this machine, over http, as with facet dev
	// The demo sends no real mail.
	cfg.MailEndpoint, cfg.MailOutbox = "", filepath.Join(dir, "outbox")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	l, err := startLocalHost(ctx, cfg, root, "127.0.0.1:0", fmt.Sprintf("http://127.0.0.1:%d/%s", az.Port, localstack.AzuriteAccount), 0, log)
	if err != nil {
		return err
	}
	defer l.Close()
	d, err := newDemo(ctx, l.URL, "demo-admin-key")
	if err != nil {
		return err
	}

	// The operator registers a client; everything after is the client's
	// own calls with its key, or the participant's, with none.
	reg, err := d.admin.CreateClientWithResponse(ctx, client.ClientRegistration{
		Company: "Demo Research", Contact: client.Contact{Name: "Dana Demo", Email: "dana@demo.example"},
		Demographics: client.Demographics{Country: "DE"}, DpaVersion: "2026-01"})
	if err := check("POST /api/clients", http.StatusCreated, reg, err); err != nil {
		return err
	}
	if d.api, err = client.NewClientWithResponses(l.URL, client.WithRequestEditorFn(client.APIKeyAuth(*reg.JSON201.ApiKey))); err != nil {
		return err
	}
	say("client %s registered (API key shown once, stored as a hash)", reg.JSON201.Id)

	// The client's own receiver, told of each analysis and deletion.
	hooks, err := startDemoHooks(say)
	if err != nil {
		return err
	}
	defer hooks.Close()
	wr, err := d.api.CreateWebhookWithResponse(ctx, client.NewWebhook{Url: hooks.URL,
		Events: []client.EventType{client.EventTypeRecordingAnalyzed, client.EventTypeRecordingDeleted}})
	if err := check("POST /api/webhooks", http.StatusCreated, wr, err); err != nil {
		return err
	}
	hooks.setSecret(*wr.JSON201.Secret)
	say("webhook %s registered for recording.analyzed and recording.deleted: %s (secret shown once; the receiver checks each delivery's signature with it)", wr.JSON201.Id, hooks.URL)

	pr, err := d.api.CreateProjectWithResponse(ctx, client.NewProject{Name: "Privacy-by-design study",
		PrivacyMode: client.PrivacyModeDeleteAfterAnalysis, UseContext: client.NewProjectUseContextMediaTesting})
	if err := check("POST /api/projects", http.StatusCreated, pr, err); err != nil {
		return err
	}
	pbd := pr.JSON201.Id
	say("project %s: privacyMode %s", pbd, pr.JSON201.PrivacyMode)
	ir, err := d.api.CreateInvitationWithResponse(ctx, pbd, client.NewInvitation{ParticipantRef: ptr("P-001")})
	if err := check("POST /api/projects/{id}/invitations", http.StatusCreated, ir, err); err != nil {
		return err
	}
	say("invitation link for the participant: %s", ir.JSON201.Url)
	token := ir.JSON201.Token
	pub, err := d.public.GetInvitationWithResponse(ctx, token)
	if err := check("GET /api/invitations/{token}", http.StatusOK, pub, err); err != nil {
		return err
	}
	version := pub.JSON200.ConsentVersion
	cr, err := d.public.GiveConsentWithResponse(ctx, token, client.ConsentInput{Accept: true, ConsentVersion: version})
	if err := check("POST /api/invitations/{token}/consent", http.StatusCreated, cr, err); err != nil {
		return err
	}
	slot := cr.JSON201
	say("participant consented (consent version %s); upload link: create-only, one blob, until %s", version, slot.ExpiresAt.Format(time.RFC3339))
	video, err := os.ReadFile(filepath.Join(root, "testdata/media/synthetic_faces_640x480.mp4"))
	if err != nil {
		return err
	}
	if err := d.put(slot, video); err != nil {
		return err
	}
	say("uploaded testdata/media/synthetic_faces_640x480.mp4 (%d bytes) straight to Blob Storage", len(video))
	r, err := d.wait(slot.RecordingId, func(r *client.Recording) bool {
		return r.Status == client.RecordingStatusAnalyzed && !r.Video.Present
	})
	if err != nil {
		return err
	}
	an := (*r.Analyses)[0]
	say("analysis %s done; what is kept is metadata like this (no image, no name):", an.Id)
	say("  %s", summaryLine(an.Summary))
	say("video deleted at %s, reason %s", r.Video.DeletedAt.Format(time.RFC3339), *r.Video.DeletionReason)
	ar, err := d.api.ListProjectAuditWithResponse(ctx, pbd, nil)
	if err := check("GET /api/projects/{id}/audit", http.StatusOK, ar, err); err != nil {
		return err
	}
	entries, _ := json.Marshal(ar.JSON200.Items)
	say("audit entry (proof of deletion, no personal data): %s", entries)

	pr, err = d.api.CreateProjectWithResponse(ctx, client.NewProject{Name: "Closing study",
		PrivacyMode: client.PrivacyModeRetain, UseContext: client.NewProjectUseContextMarketResearch})
	if err := check("POST /api/projects", http.StatusCreated, pr, err); err != nil {
		return err
	}
	pid := pr.JSON201.Id
	var recs []string
	for i := 0; i < 2; i++ {
		s, err := d.api.CreateRecordingWithResponse(ctx, pid, client.NewRecording{ParticipantRef: ptr(fmt.Sprintf("Q-%03d", i+1)),
			Consent: client.ClientConsent{ObtainedAt: time.Now().Add(-time.Hour), Method: "signed-form"}})
		if err := check("POST /api/projects/{id}/recordings", http.StatusCreated, s, err); err != nil {
			return err
		}
		if err := d.put(s.JSON201, video); err != nil {
			return err
		}
		recs = append(recs, s.JSON201.RecordingId)
	}
	for _, id := range recs {
		if _, err := d.wait(id, func(r *client.Recording) bool { return r.Status == client.RecordingStatusAnalyzed }); err != nil {
			return err
		}
	}
	say("project %s (retain): 2 recordings analysed, videos kept", pid)
	vl, err := d.api.GetVideoLinkWithResponse(ctx, recs[0])
	if err := check("GET /api/recordings/{id}/video", http.StatusOK, vl, err); err != nil {
		return err
	}
	say("  %s: read-only video link until %s", recs[0], vl.JSON200.ExpiresAt.Format(time.RFC3339))
	rr, err := d.api.ReanalyzeRecordingWithResponse(ctx, recs[0], client.ReanalyzeRequest{Settings: &client.AnalysisSettings{SampleFps: ptr(10.0)}})
	if err := check("POST /api/recordings/{id}/reanalyze", http.StatusAccepted, rr, err); err != nil {
		return err
	}
	again := rr.JSON202.AnalysisId
	r, err = d.wait(recs[0], func(r *client.Recording) bool {
		return r.LatestAnalysis != nil && *r.LatestAnalysis == again && r.Status == client.RecordingStatusAnalyzed
	})
	if err != nil {
		return err
	}
	full, err := d.api.GetAnalysisWithResponse(ctx, recs[0], again)
	if err := check("GET /api/recordings/{id}/analyses/{analysisId}", http.StatusOK, full, err); err != nil {
		return err
	}
	say("  %s: re-analysed at %g fps as %s: %d frames in the timeline, %d runs kept", recs[0],
		full.JSON200.Settings.SampleFps, again, len(full.JSON200.Frames), len(*r.Analyses))
	out := filepath.Join(root, ".cache", "demo")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		get  func(context.Context, string, ...client.RequestEditorFn) (*http.Response, error)
	}{{"report", d.api.GetProjectReport}, {"export.csv", d.api.ExportProjectCSV}, {"export.json", d.api.ExportProjectJSON}} {
		p := filepath.Join(out, strings.Replace(f.name, "report", "report.html", 1))
		resp, err := f.get(ctx, pid)
		n, err := save(resp, err, p)
		if err != nil {
			return fmt.Errorf("demo: GET /api/projects/{id}/%s: %w", f.name, err)
		}
		say("  %s: %s (%d bytes)", f.name, p, n)
	}
	cl, err := d.api.CloseProjectWithResponse(ctx, pid)
	if err := check("POST /api/projects/{id}/close", http.StatusOK, cl, err); err != nil {
		return err
	}
	say("project closed: deletion of its videos scheduled for %s (close + grace of 0 s)", cl.JSON200.DeletionAt.Format(time.RFC3339))
	for _, id := range recs {
		r, err := d.wait(id, func(r *client.Recording) bool { return !r.Video.Present })
		if err != nil {
			return err
		}
		say("  %s: video deleted (%s)", id, *r.Video.DeletionReason)
	}
	// Four analyses (one a re-analysis) and three deletions.
	if err := hooks.wait(ctx, 7); err != nil {
		return err
	}
	whr, err := d.api.GetWebhookWithResponse(ctx, wr.JSON201.Id)
	if err := check("GET /api/webhooks/{id}", http.StatusOK, whr, err); err != nil {
		return err
	}
	var atts []client.HookAttempt
	if whr.JSON200.Attempts != nil {
		atts = *whr.JSON200.Attempts
	}
	delivered := 0
	for _, a := range atts {
		if a.Outcome == client.HookAttemptOutcomeDelivered {
			delivered++
		}
	}
	say("webhook %s: %d events received, each signature verified; its attempts (newest first): %d, %d delivered", wr.JSON201.Id, hooks.count(), len(atts), delivered)
	for _, a := range atts {
		status := "no answer"
		if a.StatusCode != nil {
			status = strconv.Itoa(*a.StatusCode)
		}
		say("  %s %s attempt %d: %s %s in %d ms", a.EventType, a.EventId, a.Attempt, status, a.Outcome, a.LatencyMs)
	}
	if err := d.study(ctx, root, dir, out, say); err != nil {
		return err
	}
	email, password, err := d.portal(ctx, l.URL, cfg.MailOutbox, say)
	if err != nil {
		return err
	}
	say("portal: %s/app/ (sign in as %s with the password %q)", l.URL, email, password)
	er, err := d.api.EraseMeWithResponse(ctx)
	if err := check("DELETE /api/clients/me", http.StatusAccepted, er, err); err != nil {
		return err
	}
	rc := er.JSON202
	say("client erased at its own request: %d projects, %d recordings, %d videos still present", rc.Projects, rc.Recordings, rc.Videos)
	me, err := d.api.GetMeWithResponse(ctx)
	if err := check("GET /api/clients/me", http.StatusUnauthorized, me, err); err != nil {
		return err
	}
	say("  its key no longer works: GET /api/clients/me answers %s", me.Status())
	// The erasure's deletions run through the queue: wait for them.
	n := -1
	for deadline := time.Now().Add(time.Minute); n != 0 && time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		n = 0
		if err := l.Deps.Blobs.List(ctx, "", func(facet.BlobInfo) error { n++; return nil }); err != nil {
			return err
		}
	}
	say("blobs left in the uploads container: %d", n)
	au, err := d.admin.ListClientAuditWithResponse(ctx, rc.ClientId, nil)
	if err := check("GET /api/clients/{id}/audit", http.StatusOK, au, err); err != nil {
		return err
	}
	reasons := map[client.DeletionReason]int{}
	for _, e := range au.JSON200.Items {
		reasons[e.Reason]++
	}
	var counts []string
	for r, n := range reasons {
		counts = append(counts, fmt.Sprintf("%s %d", r, n))
	}
	slices.Sort(counts)
	say("the operator's audit of the erased client keeps %d deletion records (%s)", len(au.JSON200.Items), strings.Join(counts, ", "))
	if os.Getenv("FACET_DEMO_HOLD") == "1" {
		say("FACET_DEMO_HOLD=1: the stack stays up for the portal at %s/app/ until Ctrl-C", l.URL)
		<-ctx.Done()
	}
	say("== demo done: stopping the local stack (FACET_DEMO_HOLD=1 keeps it up; `make dev` runs one to keep)")
	return nil
}

// demo holds the generated API client (package client) three ways: as
// the operator, as the registered client, and as a participant (no key).
type demo struct {
	ctx                context.Context
	admin, api, public *client.ClientWithResponses
}

func newDemo(ctx context.Context, base, adminKey string) (*demo, error) {
	admin, err := client.NewClientWithResponses(base, client.WithRequestEditorFn(client.AdminKeyAuth(adminKey)))
	if err != nil {
		return nil, err
	}
	public, err := client.NewClientWithResponses(base)
	if err != nil {
		return nil, err
	}
	return &demo{ctx: ctx, admin: admin, public: public}, nil
}

// answer is what every response of the generated client has.
type answer interface {
	StatusCode() int
	Status() string
	GetBody() []byte
}

// check turns a call of the generated client into an error naming the
// call when it failed or answered anything but want.
func check(call string, want int, a answer, err error) error {
	if err != nil {
		return fmt.Errorf("demo: %s: %w", call, err)
	}
	if a.StatusCode() != want {
		return fmt.Errorf("demo: %s: %s: %s", call, a.Status(), strings.TrimSpace(string(a.GetBody())))
	}
	return nil
}

// save writes the body of a 200 answer to the file p.
func save(resp *http.Response, err error, p string) (int64, error) {
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s", resp.Status)
	}
	f, err := os.Create(p)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// put uploads data through an upload slot's link as the participant page
// does: straight to Blob Storage (Azure's API, not facet's), with the
// method and headers the slot names.
func (d *demo) put(slot *client.UploadSlot, data []byte) error {
	h := map[string]string{"x-ms-blob-type": string(slot.Headers.XMsBlobType)}
	for k, v := range slot.Headers.AdditionalProperties {
		h[k] = v
	}
	return putBlob(d.ctx, string(slot.Method), slot.UploadUrl, h, data)
}

// wait polls a recording until ok, for up to two minutes.
func (d *demo) wait(id string, ok func(*client.Recording) bool) (*client.Recording, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		res, err := d.api.GetRecordingWithResponse(d.ctx, id)
		if err := check("GET /api/recordings/{id}", http.StatusOK, res, err); err != nil {
			return nil, err
		}
		if r := res.JSON200; ok(r) {
			return r, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("demo: recording %s: still %s after 2 minutes", id, res.JSON200.Status)
		}
		select {
		case <-d.ctx.Done():
			return nil, d.ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// summaryLine is a one-line account of an analysis summary; the figures
// a short or faceless video lacks are said to be missing.
func summaryLine(s *client.Summary) string {
	if s == nil {
		return "no summary"
	}
	valence, age, gender := "none", "none", "none"
	if s.ValenceMean != nil {
		valence = fmt.Sprintf("%+.2f", *s.ValenceMean)
	}
	if s.Age != nil {
		age = fmt.Sprintf("~%.0f", s.Age.Median)
	}
	if s.Gender != nil {
		gender = fmt.Sprintf("%s (%.2f)", s.Gender.Label, s.Gender.Confidence)
	}
	return fmt.Sprintf("%d frames, face in %.0f%%, dominant: happy %.0f%% neutral %.0f%%, mean valence %s, age %s, gender %s",
		s.Frames, 100*s.FaceRatio, 100*s.Dominant.Happy, 100*s.Dominant.Neutral, valence, age, gender)
}

func ptr[T any](v T) *T { return &v }

// demoHooks is the demo client's webhook receiver on 127.0.0.1. It checks
// each delivery's Facet-Signature as a receiver should (a v1 that is the
// hex HMAC-SHA256 of "<t>.<raw body>" under the webhook's secret, and t
// within five minutes), says what came, and answers 2xx only to a
// delivery it verified.
type demoHooks struct {
	URL    string
	srv    *http.Server
	say    func(string, ...any)
	mu     sync.Mutex
	secret string
	seen   map[string]bool // verified event ids
	bad    int             // deliveries that failed the check
}

func startDemoHooks(say func(string, ...any)) (*demoHooks, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: webhook receiver: %w", err)
	}
	h := &demoHooks{URL: "http://" + ln.Addr().String() + "/hooks", say: say, seen: map[string]bool{}}
	h.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go h.srv.Serve(ln)
	return h, nil
}

// Close stops the receiver; nothing is said after it returns.
func (h *demoHooks) Close() {
	h.srv.Close()
	h.mu.Lock()
	h.say = func(string, ...any) {}
	h.mu.Unlock()
}

func (h *demoHooks) setSecret(s string) {
	h.mu.Lock()
	h.secret = s
	h.mu.Unlock()
}

func (h *demoHooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || r.Method != http.MethodPost {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var ev client.Event
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err = verifyHook(r.Header.Get("Facet-Signature"), body, h.secret, time.Now())
	if err == nil {
		err = json.Unmarshal(body, &ev)
	}
	if err != nil {
		h.bad++
		h.say("  webhook delivery refused: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	about := ""
	if ev.Data.RecordingId != nil {
		about = " for " + *ev.Data.RecordingId
	}
	if h.seen[ev.Id] {
		h.say("  webhook received: %s %s%s again (signature verified; a duplicate, ignored)", ev.Type, ev.Id, about)
	} else {
		h.say("  webhook received: %s %s%s (signature verified)", ev.Type, ev.Id, about)
	}
	h.seen[ev.Id] = true
	w.WriteHeader(http.StatusNoContent)
}

// verifyHook checks a Facet-Signature header, "t=<unix seconds>,v1=<hex>
// [,v1=<hex>...]" (one v1 per secret that signs), against the raw body as
// a receiver does, with its own code rather than facet.Sign: one v1 must
// be the hex HMAC-SHA256 of "<t>.<body>" under secret, and t within five
// minutes of now. It returns how many v1 the header holds.
func verifyHook(header string, body []byte, secret string, now time.Time) (int, error) {
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			b, err := hex.DecodeString(v)
			if err != nil {
				return 0, fmt.Errorf("signature %q: v1 is not hex", header)
			}
			sigs = append(sigs, b)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return len(sigs), fmt.Errorf("signature %q: want t=...,v1=...", header)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return len(sigs), fmt.Errorf("signature %q: timestamp %s away from now", header, d.Round(time.Second))
	}
	if secret == "" {
		return len(sigs), errors.New("no secret yet")
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	want := m.Sum(nil)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return len(sigs), nil
		}
	}
	return len(sigs), fmt.Errorf("signature %q: no v1 matches the secret", header)
}

// count is how many events came, verified.
func (h *demoHooks) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.seen)
}

// wait waits up to 2 min for n verified events; a delivery that failed
// the check is an error.
func (h *demoHooks) wait(ctx context.Context, n int) error {
	// A delivery that failed (a loaded machine, a slow answer) is retried
	// after facet.HookRetryDelay(1), 30 s: wait long enough for that.
	const patience = 2 * time.Minute
	deadline := time.Now().Add(patience)
	for {
		h.mu.Lock()
		got, bad := len(h.seen), h.bad
		h.mu.Unlock()
		switch {
		case bad > 0:
			return fmt.Errorf("demo: webhook: %d deliveries failed the signature check", bad)
		case got >= n:
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("demo: webhook: %d of %d events after %v", got, n, patience)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
