package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/client"
	"github.com/humaninsight/facet/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// stack is the service on the real local parts: Azurite, the Cosmos DB and
// Service Bus stand-ins (or endpoints from the environment), the handler
// and the host stand-in, in this process.
type stack struct {
	t   testing.TB
	l   *localHost
	url string
	// cfg and blobURL are what l was started with: a test that restarts
	// the host starts the new one with them (webhook_e2e_test.go).
	cfg     config
	blobURL string
}

func startStack(t testing.TB, opts ...func(*config)) *stack {
	t.Helper()
	blob := testenv.BlobService(t)
	cos := testenv.CosmosService(t)
	sb := testenv.ServiceBusService(t)
	getenv := env(t)
	cfg, err := loadConfig(getenv)
	if err != nil {
		t.Fatal(err)
	}
	blobURL := useStack(&cfg, blob, cos, sb, "e2e")
	cfg.MailEndpoint, cfg.MailOutbox = "", t.TempDir()
	for _, o := range opts {
		o(&cfg)
	}
	l, err := startLocalHost(context.Background(), cfg, testenv.RepoRoot(), "127.0.0.1:0", blobURL, 0, testLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return &stack{t: t, l: l, url: l.URL, cfg: cfg, blobURL: blobURL}
}

// useStack points cfg at the local stack's services, with a database of
// its own (prefix and random digits), and returns the Blob endpoint the
// host stand-in watches.
func useStack(cfg *config, blob testenv.Blob, cos testenv.Cosmos, sb, prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	cfg.StorageConnString = blob.ConnectionString
	cfg.CosmosEndpoint, cfg.CosmosKey, cfg.CosmosDatabase = cos.Endpoint, cos.Key, prefix+hex.EncodeToString(b)
	cfg.ServiceBusConn = sb
	cfg.CreateResources = true
	cfg.AdminKey = "e2e-admin-key"
	cfg.PublicBaseURL = "http://participants.example"
	if blob.URL != "" {
		return blob.URL
	}
	return "https://" + connField(blob.ConnectionString, "AccountName") + ".blob.core.windows.net"
}

// testLog discards the log, or shows it at debug level under -v.
func testLog() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func (s *stack) call(method, path, key string, body any) (int, map[string]any) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key == "admin" {
		req.Header.Set("X-Admin-Key", "e2e-admin-key")
	} else if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func (s *stack) must(want int, method, path, key string, body any) map[string]any {
	s.t.Helper()
	st, out := s.call(method, path, key, body)
	if st != want {
		s.t.Fatalf("%s %s: %d %v, want %d", method, path, st, out, want)
	}
	return out
}

// put uploads data through a signed URL as a browser would.
func put(t testing.TB, u string, data []byte) int {
	t.Helper()
	req, _ := http.NewRequest("PUT", u, bytes.NewReader(data))
	req.Header.Set("x-ms-blob-type", "BlockBlob")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitStatus polls the recording until its status is want.
func (s *stack) waitStatus(key, rec, want string) map[string]any {
	s.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var last map[string]any
	for time.Now().Before(deadline) {
		last = s.must(200, "GET", "/api/recordings/"+rec, key, nil)
		if last["status"] == want {
			return last
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.t.Fatalf("recording %s never reached %s: %v", rec, want, last)
	return nil
}

// snapshot reads every document of the store.
func (s *stack) snapshot() map[string]string {
	s.t.Helper()
	out := map[string]string{}
	for _, c := range facet.Containers {
		cont := ""
		for {
			p, err := s.l.Deps.Store.Query(context.Background(), c.Name, facet.Query{Continuation: cont})
			if err != nil {
				s.t.Fatal(err)
			}
			for _, d := range p.Docs {
				var v struct {
					ID string `json:"id"`
				}
				json.Unmarshal(d.JSON, &v)
				out[c.Name+"/"+v.ID] = string(d.JSON)
			}
			if cont = p.Continuation; cont == "" {
				break
			}
		}
	}
	return out
}

// waitDelivered waits until the host has delivered n more invocations.
func (s *stack) waitDelivered(before, n int) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for s.l.Host.Delivered() < before+n {
		if time.Now().After(deadline) {
			s.t.Fatalf("host delivered %d invocations, want %d", s.l.Host.Delivered()-before, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestEndToEndLocalStack walks the main story on the local stack, every
// API call through the generated client (package client) as an
// integrator's code would make it, the uploads straight to Blob Storage.
func TestEndToEndLocalStack(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	video, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "testdata/media/synthetic_faces_640x480.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	operator, participant := s.client(client.AdminKeyAuth("e2e-admin-key")), s.client()
	reg, err := operator.CreateClientWithResponse(ctx, client.ClientRegistration{
		Company: "Acme Research", Contact: client.Contact{Name: "Ada Example", Email: "ada@example.com"},
		Demographics: client.Demographics{Country: "NL"}, DpaVersion: "2026-01"})
	ok(t, "POST /api/clients", 201, reg, err)
	api := s.client(client.APIKeyAuth(*reg.JSON201.ApiKey))
	pr, err := api.CreateProjectWithResponse(ctx, client.NewProject{Name: "Ad test",
		PrivacyMode: client.PrivacyModeRetain, UseContext: client.NewProjectUseContextMarketResearch})
	ok(t, "POST /api/projects", 201, pr, err)
	project := pr.JSON201.Id
	ir, err := api.CreateInvitationWithResponse(ctx, project, client.NewInvitation{ParticipantRef: ptr("P-1")})
	ok(t, "POST /api/projects/{id}/invitations", 201, ir, err)
	if !strings.HasPrefix(ir.JSON201.Url, "http://participants.example/p/") {
		t.Errorf("invitation url %v", ir.JSON201.Url)
	}
	token := ir.JSON201.Token
	pub, err := participant.GetInvitationWithResponse(ctx, token)
	ok(t, "GET /api/invitations/{token}", 200, pub, err)
	if !strings.Contains(pub.JSON200.ConsentText, "facial expressions") {
		t.Errorf("consent text does not say what is analysed: %v", pub.JSON200.ConsentText)
	}
	cr, err := participant.GiveConsentWithResponse(ctx, token, client.ConsentInput{Accept: true, ConsentVersion: pub.JSON200.ConsentVersion})
	ok(t, "POST /api/invitations/{token}/consent", 201, cr, err)
	upload, rec := cr.JSON201.UploadUrl, cr.JSON201.RecordingId
	if cr.JSON201.Method != client.UploadSlotMethodPUT || cr.JSON201.Headers.XMsBlobType != client.UploadSlotHeadersXMsBlobTypeBlockBlob {
		t.Errorf("upload slot %+v", cr.JSON201)
	}

	// The link is for one PUT of one blob: GET and another name are refused.
	if resp, err := http.Get(upload); err != nil || resp.StatusCode != 403 {
		t.Errorf("GET through the upload link: %v %v", resp.Status, err)
	}
	u, _ := url.Parse(upload)
	u.Path = strings.Replace(u.Path, rec, "rec_000000000000000000000000", 1)
	if st := put(t, u.String(), video); st != 403 {
		t.Errorf("PUT to another blob name: %d", st)
	}

	if st := put(t, upload, video); st != 201 {
		t.Fatalf("upload: %d", st)
	}
	r := s.waitRecording(api, rec, client.RecordingStatusAnalyzed)
	if sum := (*r.Analyses)[0].Summary; sum == nil || sum.FaceRatio < 0.95 {
		t.Errorf("summary %+v", sum)
	}
	an := *r.LatestAnalysis
	full, err := api.GetAnalysisWithResponse(ctx, rec, an)
	ok(t, "GET /api/recordings/{id}/analyses/{analysisId}", 200, full, err)
	frames := full.JSON200.Frames
	happy := 0
	for _, fr := range frames {
		if fr.T < 3 && len(fr.Faces) > 0 && fr.Faces[0].Dominant != nil && *fr.Faces[0].Dominant == client.FaceDominantHappy {
			happy++
		}
	}
	if len(frames) != 30 || happy < 8 {
		t.Errorf("%d frames, %d happy in the astronaut half", len(frames), happy)
	}

	// A repeated Event Grid delivery and a repeated analysis message change nothing.
	before := s.snapshot()
	info, err := s.l.Deps.Blobs.Stat(ctx, project+"/"+rec)
	if err != nil {
		t.Fatal(err)
	}
	if !s.l.Host.DeliverEvent(ctx, "AnalyzeRecording", "event", s.l.Host.BlobCreatedEvent(info)) {
		t.Fatal("repeated event failed")
	}
	n := s.l.Host.Delivered()
	job, _ := json.Marshal(map[string]string{"recordingId": rec, "projectId": project, "analysisId": an})
	if err := s.l.Deps.Bus.Send(ctx, facet.QAnalysis, facet.Message{Body: job}); err != nil {
		t.Fatal(err)
	}
	s.waitDelivered(n, 1)
	if diff := cmp.Diff(before, s.snapshot()); diff != "" {
		t.Errorf("repeated event or message changed the store:\n%s", diff)
	}

	// A second PUT through the same link is refused; the recording stays analysed.
	if st := put(t, upload, video[:1000]); st < 400 {
		t.Errorf("second PUT through the same link: %d", st)
	}
	got, err := api.GetRecordingWithResponse(ctx, rec)
	ok(t, "GET /api/recordings/{id}", 200, got, err)
	if g := got.JSON200; g.Status != client.RecordingStatusAnalyzed || g.Video.SizeBytes == nil || *g.Video.SizeBytes != int64(len(video)) {
		t.Errorf("after a second PUT: %+v", g)
	}

	// A forged event for another account or container is ignored.
	before = s.snapshot()
	forged := s.l.Host.BlobCreatedEvent(info)
	forged.Topic = strings.Replace(forged.Topic, "devstoreaccount1", "evilaccount", 1)
	s.l.Host.DeliverEvent(ctx, "AnalyzeRecording", "event", forged)
	other := s.l.Host.BlobCreatedEvent(info)
	other.Subject = strings.Replace(other.Subject, "/containers/uploads/", "/containers/backups/", 1)
	s.l.Host.DeliverEvent(ctx, "AnalyzeRecording", "event", other)
	if diff := cmp.Diff(before, s.snapshot()); diff != "" {
		t.Errorf("forged events changed the store:\n%s", diff)
	}
	if _, err := s.l.Deps.Blobs.Stat(ctx, project+"/"+rec); err != nil {
		t.Errorf("a forged event deleted the video: %v", err)
	}

	// A client-made slot works the same way.
	attest := func(at time.Time) client.ClientConsent {
		return client.ClientConsent{ObtainedAt: at, Method: "signed-form"}
	}
	cs, err := api.CreateRecordingWithResponse(ctx, project, client.NewRecording{ParticipantRef: ptr("P-2"), Consent: attest(time.Now().Add(-time.Hour))})
	ok(t, "POST /api/projects/{id}/recordings", 201, cs, err)
	if st := put(t, cs.JSON201.UploadUrl, video); st != 201 {
		t.Fatalf("client slot upload: %d", st)
	}
	s.waitRecording(api, cs.JSON201.RecordingId, client.RecordingStatusAnalyzed)

	// An upload over the project's limit is deleted on arrival; the slot stays open.
	sp, err := api.CreateProjectWithResponse(ctx, client.NewProject{Name: "Small", PrivacyMode: client.PrivacyModeRetain,
		UseContext: client.NewProjectUseContextUsability, Settings: &client.SettingsPatch{MaxUploadBytes: ptr[int64](1 << 20)}})
	ok(t, "POST /api/projects", 201, sp, err)
	small := sp.JSON201.Id
	br, err := api.CreateRecordingWithResponse(ctx, small, client.NewRecording{Consent: attest(time.Now())})
	ok(t, "POST /api/projects/{id}/recordings", 201, br, err)
	big := br.JSON201.RecordingId
	n = s.l.Host.Delivered()
	if st := put(t, br.JSON201.UploadUrl, bytes.Repeat([]byte{1}, 2<<20)); st != 201 {
		t.Fatalf("big upload: %d", st)
	}
	s.waitDelivered(n, 1)
	got, err = api.GetRecordingWithResponse(ctx, big)
	ok(t, "GET /api/recordings/{id}", 200, got, err)
	if got.JSON200.Status != client.RecordingStatusAwaitingUpload {
		t.Errorf("oversized upload: %+v", got.JSON200)
	}
	if _, err := s.l.Deps.Blobs.Stat(ctx, small+"/"+big); facet.ErrorCode(err) != facet.ENotFound {
		t.Errorf("oversized blob not deleted: %v", err)
	}

	// A corrupt video ends as failed with a reason, and the message is not retried.
	bad, err := api.CreateRecordingWithResponse(ctx, project, client.NewRecording{Consent: attest(time.Now())})
	ok(t, "POST /api/projects/{id}/recordings", 201, bad, err)
	if st := put(t, bad.JSON201.UploadUrl, []byte("this is not a video at all")); st != 201 {
		t.Fatalf("corrupt upload: %d", st)
	}
	f := s.waitRecording(api, bad.JSON201.RecordingId, client.RecordingStatusFailed)
	if f.Failure == nil || f.Failure.Code != facet.ENotVideo {
		t.Errorf("failure %+v", f.Failure)
	}
}

// client is the generated API client for the stack, with the request
// editors given (client.APIKeyAuth, client.AdminKeyAuth; none for a
// participant).
func (s *stack) client(edit ...client.RequestEditorFn) *client.ClientWithResponses {
	s.t.Helper()
	var opts []client.ClientOption
	for _, e := range edit {
		opts = append(opts, client.WithRequestEditorFn(e))
	}
	c, err := client.NewClientWithResponses(s.url, opts...)
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// ok fails the test unless a call of the generated client answered want.
func ok(t testing.TB, call string, want int, a answer, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", call, err)
	}
	if a.StatusCode() != want {
		t.Fatalf("%s: %s %s, want %d", call, a.Status(), a.GetBody(), want)
	}
}

// waitRecording polls the recording through the generated client until
// its status is want.
func (s *stack) waitRecording(api *client.ClientWithResponses, rec string, want client.RecordingStatus) *client.Recording {
	s.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var last *client.Recording
	for time.Now().Before(deadline) {
		res, err := api.GetRecordingWithResponse(context.Background(), rec)
		ok(s.t, "GET /api/recordings/{id}", 200, res, err)
		if last = res.JSON200; last.Status == want {
			return last
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.t.Fatalf("recording %s never reached %s: %+v", rec, want, last)
	return nil
}

// TestDemo runs `facet demo` as `make demo` does: the whole story through
// the generated client.
func TestDemo(t *testing.T) {
	if _, err := os.Stat(testenv.Paths().CosmosScript()); err != nil {
		testenv.Skip(t, "the stand-ins are not installed (make setup with ../shared present)")
	}
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"demo"}, env(t), &out, &errb); err != nil {
		t.Fatalf("demo: %v\n%s\n%s", err, out.String(), errb.String())
	}
	for _, want := range []string{"reason privacy-by-design", `"reason":"privacy-by-design"`, "video deleted (project-closed)", "blobs left in the uploads container: 0", "demo done", "report.html (", "export.csv (", "export.json (", "re-analysed at 10 fps", "client erased at its own request: 3 projects, 6 recordings, 3 videos", "answers 401 Unauthorized", "keeps 8 deletion records (erasure 5, privacy-by-design 1, project-closed 2)",
		"probed and ready (H.264 mp4, png)", "3 participants, N per bin 3 3 3 3 3 3", "A/B against the poster: paired", "stimulus-results.json (", "study-report.html (",
		"registered for recording.analyzed and recording.deleted: http://127.0.0.1:", "webhook received: recording.analyzed evt_",
		"webhook received: recording.deleted evt_", "(signature verified)",
		"7 events received, each signature verified; its attempts (newest first): 7, 7 delivered", "attempt 1: 204 delivered"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "webhook delivery refused") {
		t.Errorf("the demo's receiver refused a delivery:\n%s", out.String())
	}
}
