package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/invoke"
	"github.com/humaninsight/facet/internal/testenv"
)

// post sends an invocation as the host does and returns status and logs.
func (e *env) post(function string, body []byte) (int, invoke.Response) {
	e.t.Helper()
	resp, st, err := invoke.Post(context.Background(), http.DefaultClient, e.srv.URL, function, "inv-1", body)
	if err != nil && st == 0 {
		e.t.Fatal(err)
	}
	return st, resp
}

func invokeFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "internal/invoke/testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// failingStore makes every read of the wrapped store fail as an outage would.
type failingStore struct {
	facet.DocStore
	fail bool
}

func (f *failingStore) Read(ctx context.Context, c, pk, id string) (facet.Doc, error) {
	if f.fail {
		return facet.Doc{}, facet.Errorf(facet.EUnavailable, "store down")
	}
	return f.DocStore.Read(ctx, c, pk, id)
}

func TestTriggerInvocations(t *testing.T) {
	e := newEnv(t)
	_, key := e.newClient("Acme")
	project := e.newProject(key, nil)
	slot := e.consent(key, project)
	rec := slot["recordingId"].(string)
	if resp := e.upload(slot, sampleVideo()); resp.StatusCode != 201 {
		t.Fatalf("upload %s", resp.Status)
	}
	before := snapshot(t, e)

	// The documented sample event is for another account and container:
	// accepted (200) and ignored.
	st, resp := e.post("AnalyzeRecording", invokeFixture(t, "eventgrid-blobcreated.json"))
	if st != 200 || !strings.Contains(strings.Join(resp.Logs, " "), "ignored") {
		t.Errorf("foreign event: %d %v", st, resp.Logs)
	}
	// Unreadable invocations are poison: recorded and answered 200.
	for _, body := range []string{`{"Data":`, `{"Data":{"event":"not an event"}}`, `[]`} {
		if st, resp := e.post("AnalyzeRecording", []byte(body)); st != 200 {
			t.Errorf("AnalyzeRecording(%s): %d %v", body, st, resp.Logs)
		}
	}
	// The documented Service Bus sample names ids that are not ours.
	if st, resp := e.post("RunAnalysis", invokeFixture(t, "servicebus.json")); st != 200 || !strings.Contains(strings.Join(resp.Logs, " "), "poison") {
		t.Errorf("foreign message: %d %v", st, resp.Logs)
	}
	if diff := cmp.Diff(before, snapshot(t, e)); diff != "" {
		t.Errorf("ignored invocations changed the store:\n%s", diff)
	}

	// The real upload, in the host's exact shapes.
	info, err := e.blobs.Stat(context.Background(), project+"/"+rec)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(invoke.BlobCreatedData{API: "PutBlob", ETag: `"` + info.ETag + `"`, ContentLength: info.Size, BlobType: "BlockBlob",
		URL: "https://devstoreaccount1.blob.core.windows.net/uploads/" + project + "/" + rec})
	ev := invoke.EventGridEvent{ID: "e1", EventType: "Microsoft.Storage.BlobCreated", EventTime: time.Now(), Data: data,
		Topic:   "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/devstoreaccount1",
		Subject: "/blobServices/default/containers/uploads/blobs/" + project + "/" + rec}
	body, err := invoke.EventGridInvocation("event", ev, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st, resp := e.post("AnalyzeRecording", body); st != 200 || !strings.Contains(strings.Join(resp.Logs, " "), "queued") {
		t.Fatalf("upload event: %d %v", st, resp.Logs)
	}
	ds, err := e.queue.Receive(context.Background(), facet.QAnalysis, 1, time.Second)
	if err != nil || len(ds) != 1 {
		t.Fatalf("queued analysis: %v %v", ds, err)
	}
	msg, err := invoke.ServiceBusInvocation("message", ds[0], time.Now())
	if err != nil {
		t.Fatal(err)
	}

	// A store outage does not spend Service Bus's deliveries in
	// milliseconds: the invocation succeeds with a copy of the message
	// scheduled 5 s later, carrying its attempt number.
	fs := &failingStore{DocStore: e.store, fail: true}
	e.app.Store = fs
	if st, resp := e.post("RunAnalysis", msg); st != 200 || !strings.Contains(strings.Join(resp.Logs, " "), "retry in 5s") {
		t.Errorf("RunAnalysis during an outage: %d %v, want 200 and a retry in 5s", st, resp.Logs)
	}
	if ds, _ := e.queue.Receive(context.Background(), facet.QAnalysis, 1, 100*time.Millisecond); len(ds) != 0 {
		t.Errorf("the retry is due at once: %s", ds[0].Body)
	}
	// Out of attempts, the invocation fails (500): Service Bus redelivers
	// and in the end dead-letters, and the sweep repairs what is left.
	last := ds[0]
	last.Body, _ = json.Marshal(map[string]any{"recordingId": rec, "projectId": project, "analysisId": jobField(t, ds[0].Body, "analysisId"), "attempt": 8})
	lastMsg, err := invoke.ServiceBusInvocation("message", last, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := e.post("RunAnalysis", lastMsg); st != 500 {
		t.Errorf("RunAnalysis out of attempts: %d, want 500", st)
	}
	fs.fail = false
	if st, resp := e.post("RunAnalysis", msg); st != 200 || !strings.Contains(strings.Join(resp.Logs, " "), "analyzed") {
		t.Fatalf("RunAnalysis: %d %v", st, resp.Logs)
	}
	if st, resp := e.post("RunAnalysis", msg); st != 200 || !strings.Contains(strings.Join(resp.Logs, " "), "duplicate") {
		t.Errorf("repeated RunAnalysis: %d %v", st, resp.Logs)
	}
	got := e.must(200, "GET", "/api/recordings/"+rec, key, nil)
	if got["status"] != "analyzed" {
		t.Errorf("recording %v", got)
	}
	// Responses are JSON with the keys the host reads.
	r, _ := http.Post(e.srv.URL+"/RunAnalysis", "application/json", bytes.NewReader(msg))
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	r.Body.Close()
}

func jobField(t *testing.T, body []byte, name string) string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	return m[name]
}
