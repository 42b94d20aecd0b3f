package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/app"
	"github.com/humaninsight/facet/internal/engine"
	"github.com/humaninsight/facet/internal/inmem"
	"github.com/humaninsight/facet/internal/testenv"
)

const testAdminKey = "admin-test-key-0123456789"

// env is the handler over in-memory adapters and the real engine: every
// flow runs for real (uploads through signed URLs, analysis with ONNX
// models) without any external service.
type env struct {
	t     *testing.T
	srv   *httptest.Server
	app   *app.App
	store *inmem.DocStore
	blobs *inmem.BlobStore
	queue *inmem.Queue
	hooks *inmem.Hooks
	mail  *inmem.Mailer
}

var sharedEngine *engine.Engine

func testEngine(t *testing.T) *engine.Engine {
	t.Helper()
	if sharedEngine == nil {
		lib := testenv.File(t, ".cache/lib/libonnxruntime.so.1")
		sharedEngine = engine.New(engine.Config{ORTLib: lib, ModelsDir: filepath.Join(testenv.RepoRoot(), "models")})
		if err := sharedEngine.Installed("default"); err != nil {
			testenv.Skip(t, "default models not installed: run `make setup`")
		}
	}
	return sharedEngine
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, store: inmem.NewDocStore(), queue: inmem.NewQueue(3, 30*time.Second)}
	blobMux := http.NewServeMux()
	blobSrv := httptest.NewServer(blobMux)
	t.Cleanup(blobSrv.Close)
	e.blobs = inmem.NewBlobStore(blobSrv.URL + "/uploads")
	blobMux.Handle("/", e.blobs.Handler())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	e.app = app.New(app.Config{PublicBaseURL: "https://facet.example", StorageAccount: "devstoreaccount1"}, e.store, e.blobs, e.queue, testEngine(t), log)
	e.hooks = &inmem.Hooks{}
	e.app.Hooks = e.hooks
	e.mail = &inmem.Mailer{}
	e.app.Mail = e.mail
	h := &Handler{App: e.app, AdminKey: testAdminKey, Log: log}
	e.srv = httptest.NewServer(withContract(t, h.ServeMux()))
	t.Cleanup(e.srv.Close)
	return e
}

// call sends a request with an optional bearer key and JSON body (a
// string body is sent as is) and decodes the JSON answer.
func (e *env) call(method, path, key string, body any) (int, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case key == "admin":
		req.Header.Set("X-Admin-Key", testAdminKey)
	case strings.HasPrefix(key, "session "): // "session <cookie> <csrf token>"
		f := strings.Fields(key)
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: f[1]})
		if len(f) > 2 {
			req.Header.Set(CSRFHeader, f[2])
		}
	case key != "":
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			e.t.Fatalf("%s %s: answer is not a JSON object: %q", method, path, raw)
		}
	}
	return resp.StatusCode, out
}

// must calls and fails the test unless the status is want.
func (e *env) must(want int, method, path, key string, body any) map[string]any {
	e.t.Helper()
	st, out := e.call(method, path, key, body)
	if st != want {
		e.t.Fatalf("%s %s: status %d, want %d: %v", method, path, st, want, out)
	}
	return out
}

// newClient registers a client and returns its id and key.
func (e *env) newClient(company string) (string, string) {
	e.t.Helper()
	out := e.must(201, "POST", "/api/clients", "admin", map[string]any{
		"company": company, "contact": map[string]any{"name": "Ada Example", "email": "ada@example.com"},
		"demographics": map[string]any{"country": "DE", "sector": "market research"}, "dpaVersion": "2026-01",
	})
	return out["id"].(string), out["apiKey"].(string)
}

func (e *env) newProject(key string, extra map[string]any) string {
	e.t.Helper()
	body := map[string]any{"name": "Trailer test", "privacyMode": "retain", "useContext": "media-testing"}
	for k, v := range extra {
		body[k] = v
	}
	return e.must(201, "POST", "/api/projects", key, body)["id"].(string)
}

// consent walks the participant's path: invitation, consent, upload slot.
func (e *env) consent(key, projectID string) map[string]any {
	e.t.Helper()
	inv := e.must(201, "POST", "/api/projects/"+projectID+"/invitations", key, map[string]any{"participantRef": "P-001"})
	token := inv["token"].(string)
	pub := e.must(200, "GET", "/api/invitations/"+token, "", nil)
	return e.must(201, "POST", "/api/invitations/"+token+"/consent", "", map[string]any{"accept": true, "consentVersion": pub["consentVersion"]})
}

// upload PUTs the file to the slot's URL as a browser would.
func (e *env) upload(slot map[string]any, path string) *http.Response {
	e.t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		e.t.Fatal(err)
	}
	req, _ := http.NewRequest("PUT", slot["uploadUrl"].(string), bytes.NewReader(data))
	req.Header.Set("x-ms-blob-type", "BlockBlob")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// deliverUpload plays Event Grid for the slot's blob, then Service Bus for
// every queued analysis message, as the host would.
func (e *env) deliverUpload(slot map[string]any, projectID string) {
	e.t.Helper()
	ctx := context.Background()
	name := projectID + "/" + slot["recordingId"].(string)
	info, err := e.blobs.Stat(ctx, name)
	if err != nil {
		e.t.Fatal(err)
	}
	ev := app.BlobEvent{EventType: "Microsoft.Storage.BlobCreated",
		Topic:   "/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/devstoreaccount1",
		Subject: "/blobServices/default/containers/uploads/blobs/" + name, ETag: info.ETag, ContentLength: info.Size}
	if _, err := e.app.BlobCreated(ctx, ev); err != nil {
		e.t.Fatal(err)
	}
	e.drain()
}

// drain runs every message waiting on the analysis queue.
func (e *env) drain() {
	e.t.Helper()
	ctx := context.Background()
	for {
		ds, err := e.queue.Receive(ctx, facet.QAnalysis, 10, 10*time.Millisecond)
		if err != nil {
			e.t.Fatal(err)
		}
		if len(ds) == 0 {
			return
		}
		for _, d := range ds {
			if _, err := e.app.RunAnalysis(ctx, d.Body); err != nil {
				e.t.Fatal(err)
			}
			e.queue.Complete(ctx, facet.QAnalysis, d)
		}
	}
}

func sampleVideo() string {
	return filepath.Join(testenv.RepoRoot(), "testdata/media/synthetic_faces_640x480.mp4")
}
