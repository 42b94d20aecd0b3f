package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
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
	"github.com/humaninsight/facet/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// stack is the service on the real local parts: Azurite, the Cosmos DB and
// Service Bus stand-ins (or endpoints from the environment), the handler
// and the host stand-in, in this process.
type stack struct {
	t   *testing.T
	l   *localHost
	url string
}

func startStack(t *testing.T, opts ...func(*config)) *stack {
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
	for _, o := range opts {
		o(&cfg)
	}
	l, err := startLocalHost(context.Background(), cfg, testenv.RepoRoot(), "127.0.0.1:0", blobURL, 0, testLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return &stack{t: t, l: l, url: l.URL}
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
func put(t *testing.T, u string, data []byte) int {
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

func TestEndToEndLocalStack(t *testing.T) {
	s := startStack(t)
	video, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "testdata/media/synthetic_faces_640x480.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	client := s.must(201, "POST", "/api/clients", "admin", map[string]any{
		"company": "Acme Research", "contact": map[string]any{"name": "Ada Example", "email": "ada@example.com"},
		"demographics": map[string]any{"country": "NL"}, "dpaVersion": "2026-01"})
	key := client["apiKey"].(string)
	project := s.must(201, "POST", "/api/projects", key, map[string]any{"name": "Ad test", "privacyMode": "retain", "useContext": "market-research"})["id"].(string)
	inv := s.must(201, "POST", "/api/projects/"+project+"/invitations", key, map[string]any{"participantRef": "P-1"})
	if !strings.HasPrefix(inv["url"].(string), "http://participants.example/p/") {
		t.Errorf("invitation url %v", inv["url"])
	}
	token := inv["token"].(string)
	pub := s.must(200, "GET", "/api/invitations/"+token, "", nil)
	if !strings.Contains(pub["consentText"].(string), "facial expressions") {
		t.Errorf("consent text does not say what is analysed: %v", pub["consentText"])
	}
	slot := s.must(201, "POST", "/api/invitations/"+token+"/consent", "", map[string]any{"accept": true, "consentVersion": pub["consentVersion"]})
	upload := slot["uploadUrl"].(string)
	rec := slot["recordingId"].(string)

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
	r := s.waitStatus(key, rec, "analyzed")
	ans := r["analyses"].([]any)
	sum := ans[0].(map[string]any)["summary"].(map[string]any)
	if sum["face_ratio"].(float64) < 0.95 {
		t.Errorf("summary %v", sum)
	}
	an := r["latestAnalysis"].(string)
	full := s.must(200, "GET", "/api/recordings/"+rec+"/analyses/"+an, key, nil)
	frames := full["frames"].([]any)
	happy := 0
	for _, fr := range frames {
		m := fr.(map[string]any)
		faces := m["faces"].([]any)
		if m["t"].(float64) < 3 && len(faces) > 0 && faces[0].(map[string]any)["dominant"] == "happy" {
			happy++
		}
	}
	if len(frames) != 30 || happy < 8 {
		t.Errorf("%d frames, %d happy in the astronaut half", len(frames), happy)
	}

	// A repeated Event Grid delivery and a repeated analysis message change nothing.
	before := s.snapshot()
	info, err := s.l.Deps.Blobs.Stat(context.Background(), project+"/"+rec)
	if err != nil {
		t.Fatal(err)
	}
	if !s.l.Host.DeliverEvent(context.Background(), "AnalyzeRecording", "event", s.l.Host.BlobCreatedEvent(info)) {
		t.Fatal("repeated event failed")
	}
	n := s.l.Host.Delivered()
	job, _ := json.Marshal(map[string]string{"recordingId": rec, "projectId": project, "analysisId": an})
	if err := s.l.Deps.Bus.Send(context.Background(), facet.QAnalysis, facet.Message{Body: job}); err != nil {
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
	if got := s.must(200, "GET", "/api/recordings/"+rec, key, nil); got["status"] != "analyzed" || got["video"].(map[string]any)["sizeBytes"].(float64) != float64(len(video)) {
		t.Errorf("after a second PUT: %v", got)
	}

	// A forged event for another account or container is ignored.
	before = s.snapshot()
	forged := s.l.Host.BlobCreatedEvent(info)
	forged.Topic = strings.Replace(forged.Topic, "devstoreaccount1", "evilaccount", 1)
	s.l.Host.DeliverEvent(context.Background(), "AnalyzeRecording", "event", forged)
	other := s.l.Host.BlobCreatedEvent(info)
	other.Subject = strings.Replace(other.Subject, "/containers/uploads/", "/containers/backups/", 1)
	s.l.Host.DeliverEvent(context.Background(), "AnalyzeRecording", "event", other)
	if diff := cmp.Diff(before, s.snapshot()); diff != "" {
		t.Errorf("forged events changed the store:\n%s", diff)
	}
	if _, err := s.l.Deps.Blobs.Stat(context.Background(), project+"/"+rec); err != nil {
		t.Errorf("a forged event deleted the video: %v", err)
	}

	// A client-made slot works the same way.
	cs := s.must(201, "POST", "/api/projects/"+project+"/recordings", key, map[string]any{
		"participantRef": "P-2", "consent": map[string]any{"obtainedAt": time.Now().Add(-time.Hour), "method": "signed-form"}})
	if st := put(t, cs["uploadUrl"].(string), video); st != 201 {
		t.Fatalf("client slot upload: %d", st)
	}
	s.waitStatus(key, cs["recordingId"].(string), "analyzed")

	// An upload over the project's limit is deleted on arrival; the slot stays open.
	small := s.must(201, "POST", "/api/projects", key, map[string]any{"name": "Small", "privacyMode": "retain", "useContext": "usability",
		"settings": map[string]any{"maxUploadBytes": 1 << 20}})["id"].(string)
	big := s.must(201, "POST", "/api/projects/"+small+"/recordings", key, map[string]any{"consent": map[string]any{"obtainedAt": time.Now(), "method": "signed-form"}})
	n = s.l.Host.Delivered()
	if st := put(t, big["uploadUrl"].(string), bytes.Repeat([]byte{1}, 2<<20)); st != 201 {
		t.Fatalf("big upload: %d", st)
	}
	s.waitDelivered(n, 1)
	got := s.must(200, "GET", "/api/recordings/"+big["recordingId"].(string), key, nil)
	if got["status"] != "awaiting-upload" {
		t.Errorf("oversized upload: %v", got)
	}
	if _, err := s.l.Deps.Blobs.Stat(context.Background(), small+"/"+big["recordingId"].(string)); facet.ErrorCode(err) != facet.ENotFound {
		t.Errorf("oversized blob not deleted: %v", err)
	}

	// A corrupt video ends as failed with a reason, and the message is not retried.
	bad := s.must(201, "POST", "/api/projects/"+project+"/recordings", key, map[string]any{"consent": map[string]any{"obtainedAt": time.Now(), "method": "signed-form"}})
	if st := put(t, bad["uploadUrl"].(string), []byte("this is not a video at all")); st != 201 {
		t.Fatalf("corrupt upload: %d", st)
	}
	f := s.waitStatus(key, bad["recordingId"].(string), "failed")
	if code := f["failure"].(map[string]any)["code"]; code != facet.ENotVideo {
		t.Errorf("failure %v", f["failure"])
	}
	fmt.Fprintln(io.Discard, f)
}

// TestDemo runs `facet demo` as `make demo` does.
func TestDemo(t *testing.T) {
	if _, err := os.Stat(testenv.Paths().CosmosScript()); err != nil {
		testenv.Skip(t, "the stand-ins are not installed (make setup with ../shared present)")
	}
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"demo"}, env(t), &out, &errb); err != nil {
		t.Fatalf("demo: %v\n%s\n%s", err, out.String(), errb.String())
	}
	for _, want := range []string{"reason privacy-by-design", `"reason":"privacy-by-design"`, "video deleted (project-closed)", "blobs left in the uploads container: 0", "demo done", "report.html (", "export.csv (", "export.json ("} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}
