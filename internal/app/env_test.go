package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/inmem"
)

// The use cases are tested here over the in-memory adapters (which pass
// the same conformance suites as the real ones) and a fake analyser, so
// that no test of this package needs ONNX, ffmpeg or a network.

// fakeAnalyzer emits Frames frames, one every 1/FPS s, each with one face.
// Hold, when set, is received from before frame HoldAt: a test can stop a
// run in the middle. Err, when set, is returned instead of a result.
type fakeAnalyzer struct {
	Frames int
	FPS    float64
	HoldAt int
	Hold   chan struct{}
	// Reached is closed (once) when the run reaches HoldAt.
	Reached chan struct{}
	Err     error

	mu    sync.Mutex
	Calls int
	once  sync.Once
}

func (f *fakeAnalyzer) AnalyzeFile(ctx context.Context, input string, s facet.Settings, maxDurationS float64, onFrame func(facet.Frame) error) (*facet.Result, error) {
	f.mu.Lock()
	f.Calls++
	f.mu.Unlock()
	if _, err := os.Stat(input); err != nil {
		return nil, err
	}
	if f.Err != nil {
		return nil, f.Err
	}
	fps := f.FPS
	if fps == 0 {
		fps = 5
	}
	for i := 0; i < f.Frames; i++ {
		if f.Hold != nil && i == f.HoldAt {
			if f.Reached != nil {
				f.once.Do(func() { close(f.Reached) })
			}
			select {
			case <-f.Hold:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		var e facet.Emotions
		e[facet.EmotionIndex("neutral")] = 1
		dom := "neutral"
		fr := facet.Frame{T: facet.Num(float64(i) / fps), Faces: []facet.Face{{Box: [4]facet.Num{0.4, 0.3, 0.2, 0.3}, Score: 0.99, Emotions: &e, Dominant: &dom}}}
		if err := onFrame(fr); err != nil {
			return nil, err
		}
	}
	return &facet.Result{Video: facet.VideoInfo{DurationS: facet.Num(float64(f.Frames) / fps), Width: 640, Height: 480, FPS: 30, Codec: "h264"},
		Settings: s, Summary: facet.Summary{Frames: f.Frames}}, nil
}

func (f *fakeAnalyzer) Installed(string) error { return nil }

// testEnv is an App over in-memory adapters.
type testEnv struct {
	t     *testing.T
	ctx   context.Context
	app   *App
	store *inmem.DocStore
	blobs *inmem.BlobStore
	queue *inmem.Queue
	an    *fakeAnalyzer
	log   *bytes.Buffer
}

const testAccount = "devstoreaccount1"

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	e := &testEnv{t: t, ctx: context.Background(), store: inmem.NewDocStore(), blobs: inmem.NewBlobStore("http://127.0.0.1:1/uploads"),
		queue: inmem.NewQueue(10, time.Minute), an: &fakeAnalyzer{Frames: 20}, log: &bytes.Buffer{}}
	var w io.Writer = e.log
	if testing.Verbose() {
		w = io.MultiWriter(e.log, os.Stderr)
	}
	e.app = New(Config{PublicBaseURL: "https://facet.example", StorageAccount: testAccount, TempDir: t.TempDir(), ChunkSeconds: 1},
		e.store, e.blobs, e.queue, e.an, slog.New(slog.NewTextHandler(w, nil)))
	return e
}

func (e *testEnv) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

// client registers a client.
func (e *testEnv) client(company string) *facet.Client {
	e.t.Helper()
	c, _, err := e.app.CreateClient(e.ctx, NewClient{Company: company, Contact: facet.Contact{Name: "Ada Example", Email: "ada@example.com"},
		Demographics: facet.Demographics{Country: "DE", Sector: "market research"}, DPAVersion: "2026-01"}, true)
	e.must(err)
	return c
}

// project creates an open project in the given privacy mode.
func (e *testEnv) project(c *facet.Client, privacy string) *facet.Project {
	e.t.Helper()
	p, err := e.app.CreateProject(e.ctx, c, NewProject{Name: "Trailer test", PrivacyMode: privacy, UseContext: "media-testing"})
	e.must(err)
	return p
}

// slot walks invitation and consent and returns the recording's id.
func (e *testEnv) slot(c *facet.Client, p *facet.Project) string {
	e.t.Helper()
	_, token, err := e.app.CreateInvitation(e.ctx, c, p.ID, NewInvitation{ParticipantRef: "P-001"})
	e.must(err)
	pub, err := e.app.Invitation(e.ctx, token)
	e.must(err)
	yes := true
	s, err := e.app.Consent(e.ctx, token, ConsentInput{Accept: &yes, ConsentVersion: pub.ConsentVersion})
	e.must(err)
	return s.RecordingID
}

// put stores bytes as the slot's blob, as the participant's browser does.
func (e *testEnv) put(projectID, recID string, data []byte) facet.BlobInfo {
	e.t.Helper()
	info, err := e.blobs.Upload(e.ctx, projectID+"/"+recID, bytes.NewReader(data))
	e.must(err)
	return info
}

// event is the BlobCreated event of a stored blob.
func (e *testEnv) event(name string, info facet.BlobInfo) BlobEvent {
	return BlobEvent{EventType: "Microsoft.Storage.BlobCreated",
		Topic:   "/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/" + testAccount,
		Subject: "/blobServices/default/containers/" + UploadsContainer + "/blobs/" + name, ETag: info.ETag, ContentLength: info.Size}
}

// uploaded puts a video into a fresh slot and delivers its event.
func (e *testEnv) uploaded(c *facet.Client, p *facet.Project) string {
	e.t.Helper()
	rec := e.slot(c, p)
	info := e.put(p.ID, rec, []byte("not really a video: the fake analyser does not read it"))
	out, err := e.app.BlobCreated(e.ctx, e.event(p.ID+"/"+rec, info))
	e.must(err)
	if out != Queued {
		e.t.Fatalf("BlobCreated: %s, want %s", out, Queued)
	}
	return rec
}

// deliver hands every message waiting on queue to the app, as the host
// does, until none is left; it returns the outcomes in order. Errors fail
// the test unless allowErr.
func (e *testEnv) deliver(queue string, allowErr bool) []Outcome {
	e.t.Helper()
	var outs []Outcome
	for round := 0; round < 1000; round++ {
		ds, err := e.queue.Receive(e.ctx, queue, 10, time.Millisecond)
		e.must(err)
		if len(ds) == 0 {
			return outs
		}
		for _, d := range ds {
			fn := e.app.RunAnalysis
			if queue == facet.QDeletions {
				fn = e.app.DeleteData
			}
			out, err := fn(e.ctx, d.Body)
			if err != nil {
				if !allowErr {
					e.t.Fatalf("%s: %v", queue, err)
				}
				e.queue.Abandon(e.ctx, queue, d)
				continue
			}
			outs = append(outs, out)
			e.queue.Complete(e.ctx, queue, d)
		}
	}
	e.t.Fatal("the queue never ran dry")
	return nil
}

// recording reads a recording as stored.
func (e *testEnv) recording(projectID, id string) *facet.Recording {
	e.t.Helper()
	r, _, err := get[facet.Recording](e.ctx, e.store, facet.CRecordings, projectID, id)
	e.must(err)
	return r
}

// run reads an analysis run as stored.
func (e *testEnv) run(recID, id string) *facet.Analysis {
	e.t.Helper()
	a, _, err := get[facet.Analysis](e.ctx, e.store, facet.CAnalyses, recID, id)
	e.must(err)
	return a
}

// docsMentioning lists, container by container, every stored document
// whose JSON contains s (an id): what a deletion must leave behind is
// checked against all of the store, not against what the code deletes.
func (e *testEnv) docsMentioning(s string) []string {
	e.t.Helper()
	var found []string
	for _, c := range facet.Containers {
		cont := ""
		for {
			p, err := e.store.Query(e.ctx, c.Name, facet.Query{Continuation: cont})
			e.must(err)
			for _, d := range p.Docs {
				if strings.Contains(string(d.JSON), s) {
					var v struct{ ID, Type, Status string }
					json.Unmarshal(d.JSON, &v)
					found = append(found, c.Name+"/"+v.ID+" ("+v.Type+v.Status+")")
				}
			}
			if cont = p.Continuation; cont == "" {
				break
			}
		}
	}
	sort.Strings(found)
	return found
}
