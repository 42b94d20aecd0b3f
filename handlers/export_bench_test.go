package handlers

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/analysis"
	"github.com/humaninsight/facet/internal/app"
	"github.com/humaninsight/facet/internal/inmem"
)

// BenchmarkExport measures the project exports (CSV, JSON, the HTML
// report) over projects of 100 and 1,000 analysed recordings, each a 60 s
// video sampled at 5 fps (300 frames, one face in nearly every frame). The
// point is the comparison: a streamed export's memory must not grow with
// the number of recordings.
//
// ns/op, B/op, allocs/op and recordings/s come from the timed requests,
// each started after a full GC, with the GC at its default setting. B/op
// grows with N by nature: every frame is read, decoded and written.
//
// The memory figures come from two more requests per case, untimed:
//
//   - peak-heap-MB: the largest heap in use (runtime/metrics heap objects
//     plus unused, sampled every 200 µs) during the request, less the heap in
//     use after seeding and a full GC. The in-memory store keeps every
//     document as JSON and as decoded fields (about 0.7 MB per recording
//     here), so the heap after seeding grows with N, and so would the
//     default GC goal: garbage would pile up ten times longer at N=1000
//     and the figure would grow for that reason alone. For this request
//     the GC percent is set so that the goal is the same headroom
//     (benchGCHeadroom) above the live heap for every N, as in a handler
//     whose store is a remote Cosmos DB. The figure is then about that
//     headroom of garbage, plus what the export holds.
//   - peak-live-MB: what the export holds, exactly. At its first write and
//     then every eighth of its output, the export (blocked in the
//     response writer's Write) waits for a full GC, with nothing else
//     allocating; the live heap over the baseline is what it retains.
//     The largest of these. Flat means streaming.
//   - MB-out/op: response bytes (discarded, only counted).
//
// The stack is the one the handler tests build in env_test.go (in-memory
// DocStore, BlobStore and Queue; app.New with the same Config; Handler's
// ServeMux), but the requests go straight to the ServeMux and the engine
// is a stand-in: the env helpers need a *testing.T and the installed
// models, and running the engine 1,000 times would take far too long.
// Every recording still goes through the app's own path (CreateRecording,
// Blobs.Upload, BlobCreated, the analysis queue, RunAnalysis), so its
// ResultHead and TimelineChunk documents are written exactly as in
// production.
func BenchmarkExport(b *testing.B) {
	stacks := map[int]*exportStack{}
	stack := func(b *testing.B, n int) *exportStack {
		if s := stacks[n]; s != nil {
			return s
		}
		// One seeded project at a time, so that the baseline holds it alone.
		clear(stacks)
		runtime.GC()
		t0 := time.Now()
		s := seedExportStack(b, n)
		b.Logf("seeded %d recordings (%d frames each) in %.1f s", n, s.frames, time.Since(t0).Seconds())
		stacks[n] = s
		return s
	}
	// Measured once per case: testing runs each sub-benchmark function
	// more than once (b.N = 1, then the -benchtime count).
	mems := map[string]*exportMemory{}
	cases := []exportCase{
		{"csv", "/export.csv", "recording_id,", "\n", 300 * 60},
		{"json", "/export.json", `{"project":{`, "]}\n", 300 * 200},
		{"report", "/report", "<!doctype html>", "</html>\n", 2000},
	}
	// The names read {format}/recordings=N, but N is the outer loop: the
	// stack of one N serves its three formats, then makes room for the
	// next. (A -bench pattern that picks one format still works: each N
	// is then seeded once, for that format.)
	for _, n := range []int{100, 1000} {
		for _, c := range cases {
			name := c.name + "/recordings=" + fmt.Sprint(n)
			b.Run(name, func(b *testing.B) {
				s := stack(b, n)
				req := httptest.NewRequest("GET", "/api/projects/"+s.project+c.path, nil)
				req.Header.Set("Authorization", "Bearer "+s.key)
				var out int64
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					b.StopTimer()
					runtime.GC()
					b.StartTimer()
					w := serveDiscard(b, s.mux, req, nil)
					b.StopTimer()
					c.check(b, w, n)
					out = w.n
					b.StartTimer()
				}
				b.StopTimer()
				m := mems[name]
				if m == nil {
					m = measureExport(b, s.mux, req, c, n, out)
					mems[name] = m
					b.Logf("heap after seeding %.0f MB (live %.0f MB); peak-heap request: %d GC cycles (goal: live + %d MB); live over the baseline at %d points of the output, MB: %.1f",
						m.baseHeapMB, m.baseLiveMB, m.cycles, benchGCHeadroom>>20, len(m.points), m.points)
				}
				b.ReportMetric(m.peakHeapMB, "peak-heap-MB")
				b.ReportMetric(m.peakLiveMB, "peak-live-MB")
				b.ReportMetric(float64(out)/1e6, "MB-out/op")
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "recordings/s")
			})
		}
	}
}

type exportCase struct {
	name, path, prefix, suffix string
	minPerRec                  int64 // bytes at least per recording
}

// check fails the benchmark unless w holds a whole export of n recordings.
func (c exportCase) check(b *testing.B, w *discardWriter, n int) {
	b.Helper()
	if w.status != http.StatusOK || !bytes.HasPrefix(w.head, []byte(c.prefix)) || !bytes.HasSuffix(w.tail, []byte(c.suffix)) || w.n < int64(n)*c.minPerRec {
		b.Fatalf("GET %s: status %d, %d bytes, starting %q, ending %q", c.path, w.status, w.n, w.head, w.tail)
	}
}

// exportStack is a handler over in-memory adapters holding one client's
// project of n analysed recordings.
type exportStack struct {
	mux     http.Handler
	key     string
	project string
	frames  int
}

// seedExportStack builds the stack of newEnv (without its servers: the
// requests go straight to the ServeMux, and signed URLs are made but never
// fetched) and seeds it through the app.
func seedExportStack(b *testing.B, n int) *exportStack {
	b.Helper()
	ctx := context.Background()
	store, queue := inmem.NewDocStore(), inmem.NewQueue(3, 30*time.Second)
	blobs := inmem.NewBlobStore("http://127.0.0.1:10000/uploads")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	an := &benchAnalyzer{seconds: 60}
	a := app.New(app.Config{PublicBaseURL: "https://facet.example", StorageAccount: "devstoreaccount1"}, store, blobs, queue, an, log)
	h := &Handler{App: a, AdminKey: testAdminKey, Log: log}

	c, key, err := a.CreateClient(ctx, app.NewClient{Company: "Acme Research",
		Contact:      facet.Contact{Name: "Ada Example", Email: "ada@example.com"},
		Demographics: facet.Demographics{Country: "DE", Sector: "market research"}, DPAVersion: "2026-01"}, true)
	if err != nil {
		b.Fatal(err)
	}
	p, err := a.CreateProject(ctx, c, app.NewProject{Name: "Trailer test", PrivacyMode: facet.PrivacyRetain, UseContext: "media-testing"})
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		benchRecording(b, a, blobs, queue, c, p.ID, fmt.Sprintf("P-%04d", i))
	}
	return &exportStack{mux: h.ServeMux(), key: key, project: p.ID, frames: an.frames}
}

// benchRecording adds one analysed recording to project projectID through
// the app: a client-attested slot, then what the participant's PUT, Event
// Grid and Service Bus would do (see env.upload and env.deliverUpload).
func benchRecording(b *testing.B, a *app.App, blobs facet.BlobStore, queue *inmem.Queue, c *facet.Client, projectID, ref string) {
	b.Helper()
	ctx := context.Background()
	obtained := time.Now().Add(-time.Hour)
	slot, err := a.CreateRecording(ctx, c, projectID, app.NewRecording{ParticipantRef: ref,
		Consent: &app.ClientConsent{ObtainedAt: &obtained, Method: "signed-form"}})
	if err != nil {
		b.Fatal(err)
	}
	name := projectID + "/" + slot.RecordingID
	info, err := blobs.Upload(ctx, name, strings.NewReader("a stand-in video: benchAnalyzer does not read it"))
	if err != nil {
		b.Fatal(err)
	}
	ev := app.BlobEvent{EventType: "Microsoft.Storage.BlobCreated",
		Topic:   "/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/devstoreaccount1",
		Subject: "/blobServices/default/containers/uploads/blobs/" + name, ETag: info.ETag, ContentLength: info.Size}
	if out, err := a.BlobCreated(ctx, ev); err != nil || out != app.Queued {
		b.Fatalf("BlobCreated: %v %v", out, err)
	}
	ds, err := queue.Receive(ctx, facet.QAnalysis, 10, time.Millisecond)
	if err != nil || len(ds) != 1 {
		b.Fatalf("analysis queue: %d messages, %v", len(ds), err)
	}
	if out, err := a.RunAnalysis(ctx, ds[0].Body); err != nil || out != app.Analyzed {
		b.Fatalf("RunAnalysis: %v %v", out, err)
	}
	if err := queue.Complete(ctx, facet.QAnalysis, ds[0]); err != nil {
		b.Fatal(err)
	}
}

// benchAnalyzer stands in for the engine: whatever the file, it reports a
// seconds-long 640x480 video sampled at the settings' rate, with one face
// in about 49 frames of 50 (emotions, box, age and gender vary from frame
// to frame, so the stored numbers have realistic lengths), summarised by
// analysis.Summarizer as the engine does.
type benchAnalyzer struct {
	seconds float64
	mu      sync.Mutex
	runs    uint64
	frames  int
}

var benchModels = []facet.ModelRef{
	{Role: "detector", Name: "ultraface-rfb-320 (fr_detect)", SHA256: "6c0256ccd3164f844736a401faf936ec2930764a87ae39442180887d0c5c8854"},
	{Role: "emotion", Name: "fr_expression", SHA256: "88959314d9dc14d6c968cca31dc068e4350bf1944154e3bdd2eece5d0f318d05"},
	{Role: "age", Name: "ssr-net age (fr_age, initializer inputs dropped)", SHA256: "f66516f5a2d529cdb5663ae72735453b38dd8565733eb4ff66c981a3d91f83b9"},
	{Role: "gender", Name: "ssr-net gender (fr_gender, denormals flushed)", SHA256: "057711ddf7a7ca785182d6c1776c15d32551d708e8cd0fa78b38dc979ba37c59"},
}

func (a *benchAnalyzer) Installed(string) error { return nil }

func (a *benchAnalyzer) AnalyzeFile(ctx context.Context, input string, s facet.Settings, maxDurationS float64, onFrame func(facet.Frame) error) (*facet.Result, error) {
	a.mu.Lock()
	a.runs++
	seed := a.runs
	a.mu.Unlock()
	fps := s.SampleFPS
	if fps <= 0 {
		fps = 25
	}
	n := int(math.Round(a.seconds * fps))
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	age, man := 20+40*rng.Float64(), rng.Float64()
	x, y, size := 0.25+0.2*rng.Float64(), 0.15+0.2*rng.Float64(), 0.25+0.15*rng.Float64()
	var sum analysis.Summarizer
	for i := range n {
		f := facet.Frame{T: facet.Num(float64(i) / fps), Faces: []facet.Face{}}
		if rng.IntN(50) != 0 {
			var e facet.Emotions
			mood, total := rng.IntN(len(e)), 0.0
			for k := range e {
				e[k] = rng.ExpFloat64()
				if k == mood {
					e[k] += 3
				}
				total += e[k]
			}
			for k := range e {
				e[k] /= total
			}
			dx, dy := 0.01*rng.NormFloat64(), 0.01*rng.NormFloat64()
			d := analysis.Detection{Box: analysis.Box{X1: x + dx, Y1: y + dy, X2: x + dx + size, Y2: y + dy + size*1.2}, Score: 0.9 + 0.1*rng.Float64()}
			f.Faces = append(f.Faces, analysis.MakeFace(1, d, analysis.Attributes{Emotions: e, Age: age + 2*rng.NormFloat64(), Man: min(max(man+0.05*rng.NormFloat64(), 0), 1)}))
		}
		sum.Add(f)
		if err := onFrame(f); err != nil {
			return nil, err
		}
	}
	a.mu.Lock()
	a.frames = n
	a.mu.Unlock()
	res := &facet.Result{Video: facet.VideoInfo{DurationS: facet.Num(a.seconds), Width: 640, Height: 480, FPS: 25, Codec: "h264"},
		Settings: s, Models: benchModels, Summary: sum.Summary()}
	res.Summary.WallS = facet.Num(a.seconds / 4)
	return res, nil
}

// serveDiscard serves req and counts the response instead of keeping it;
// probe, if not nil, is called before each write.
func serveDiscard(b *testing.B, h http.Handler, req *http.Request, probe func(w *discardWriter)) (w *discardWriter) {
	w = &discardWriter{header: http.Header{}, probe: probe}
	defer func() {
		if r := recover(); r != nil {
			b.Fatalf("GET %s: aborted after %d bytes: %v", req.URL.Path, w.n, r)
		}
	}()
	h.ServeHTTP(w, req.Clone(context.Background()))
	return w
}

// discardWriter is an http.ResponseWriter that keeps the status, the
// byte count and the body's first and last bytes, nothing else.
type discardWriter struct {
	header     http.Header
	status     int
	n          int64
	head, tail []byte
	probe      func(w *discardWriter)
}

const discardKeep = 64

func (w *discardWriter) Header() http.Header { return w.header }

func (w *discardWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.probe != nil {
		w.probe(w)
	}
	w.WriteHeader(http.StatusOK)
	w.n += int64(len(p))
	if len(w.head) < discardKeep {
		w.head = append(w.head, p[:min(len(p), discardKeep-len(w.head))]...)
	}
	if len(p) >= discardKeep {
		w.tail = append(w.tail[:0], p[len(p)-discardKeep:]...)
	} else {
		w.tail = append(w.tail, p...)
		if len(w.tail) > discardKeep {
			w.tail = append(w.tail[:0], w.tail[len(w.tail)-discardKeep:]...)
		}
	}
	return len(p), nil
}

func (w *discardWriter) Flush() {}

// benchGCHeadroom is the GC goal above the live heap during the
// peak-heap request, the same for every N (see BenchmarkExport).
const benchGCHeadroom = 64 << 20

var benchMetrics = []string{
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/gc/heap/live:bytes",
	"/gc/cycles/total:gc-cycles",
}

type benchSample struct{ inuse, live, cycles uint64 }

func readBench(s []metrics.Sample) benchSample {
	metrics.Read(s)
	return benchSample{inuse: s[0].Value.Uint64() + s[1].Value.Uint64(), live: s[2].Value.Uint64(), cycles: s[3].Value.Uint64()}
}

func newBenchSamples() []metrics.Sample {
	s := make([]metrics.Sample, len(benchMetrics))
	for i, name := range benchMetrics {
		s[i].Name = name
	}
	return s
}

// exportMemory is what measureExport found.
type exportMemory struct {
	baseHeapMB, baseLiveMB float64
	peakHeapMB             float64
	cycles                 uint64
	points                 []float64 // live heap over the baseline at each probe, MB
	peakLiveMB             float64
}

// measureExport serves req twice, untimed: once with the heap sampled
// and the GC goal at benchGCHeadroom above the live heap, once with the
// export paused for full GCs (see BenchmarkExport).
func measureExport(b *testing.B, h http.Handler, req *http.Request, c exportCase, n int, want int64) *exportMemory {
	b.Helper()
	m := &exportMemory{}
	s := newBenchSamples()

	runtime.GC()
	base := readBench(s)
	m.baseHeapMB, m.baseLiveMB = float64(base.inuse)/1e6, float64(base.live)/1e6
	old := debug.SetGCPercent(max(1, int(100*benchGCHeadroom/base.live)))
	stopc, done := make(chan struct{}), make(chan struct{})
	peak := base.inuse
	go func() {
		defer close(done)
		s := newBenchSamples()
		t := time.NewTicker(200 * time.Microsecond)
		defer t.Stop()
		for {
			peak = max(peak, readBench(s).inuse)
			select {
			case <-stopc:
				return
			case <-t.C:
			}
		}
	}()
	w := serveDiscard(b, h, req, nil)
	close(stopc)
	<-done
	debug.SetGCPercent(old)
	c.check(b, w, n)
	m.peakHeapMB = float64(peak-base.inuse) / 1e6
	m.cycles = readBench(s).cycles - base.cycles

	runtime.GC()
	baseLive := readBench(s).live
	next := int64(0)
	w = serveDiscard(b, h, req, func(w *discardWriter) {
		if w.n < next {
			return
		}
		next = w.n + max(want/8, 1)
		runtime.GC()
		mb := (float64(readBench(s).live) - float64(baseLive)) / 1e6
		m.points = append(m.points, math.Round(mb*10)/10)
		m.peakLiveMB = max(m.peakLiveMB, mb)
	})
	c.check(b, w, n)
	return m
}
