package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/testenv"
)

// burstLock is the message lock of the throughput rig's Service Bus
// stand-in: longer than any run here, as the Functions host renews locks
// while a run lasts (devhost does not).
const burstLock = 2 * time.Minute

// TestTwoServeProcesses runs two `facet serve` processes, each behind a
// host instance of its own, on one local stack (one Azurite account, one
// Cosmos DB database, one Service Bus namespace): both drain the same
// analysis, deletions and webhooks queues. 20 recordings are uploaded at
// once through their upload links; each is analysed exactly once, none is
// lost or fails, and both processes take analyses.
//
// Both host instances watch the uploads container, so every BlobCreated
// event reaches both handlers, at nearly the same moment: Event Grid's
// at-least-once delivery at its worst. The first run's id follows from the
// upload, so the two deliveries make one run; but both may queue its
// message (the run is queued before the upload is recorded), and a second
// message that arrives while the run is running takes it over: the run is
// then analysed twice and stored once (the first attempt's last write
// loses to the takeover, and its retry finds the run done). The test
// logs how often that happened; it asserts one stored result per run.
func TestTwoServeProcesses(t *testing.T) {
	t0 := time.Now()
	r := newRig(t, burstLock)
	procs := []*serveProc{r.start(t, "serve-a"), r.start(t, "serve-b")}
	b := r.burst(t, procs, throughputVideo(t), 20, throughputModels())
	b.check(r, procs)
	t.Logf("models %s: 20 recordings analysed %.1f s after the first PUT (%.1f per minute), upload to analysed p50 %.1f s, p95 %.1f s; test took %.1f s",
		b.models, b.wall().Seconds(), b.perMin(), b.latency(0.5), b.latency(0.95), time.Since(t0).Seconds())
	// A guard against a hang, not a speed check (make bench measures that).
	if d := b.wall(); d > 3*time.Minute {
		t.Errorf("20 short recordings took %.0f s from the first upload to the last result on two processes", d.Seconds())
	}
}

// BenchmarkThroughput uploads 20 recordings of the 6 s sample at once
// through the whole local stack (Azurite, the Cosmos DB and Service Bus
// stand-ins, host stand-ins in front of `facet serve` processes), with
// one, then two handler processes, each taking one, then two messages at
// once (host.json maxConcurrentCalls), and prints per case:
//
//	BENCH case=throughput processes=<n> calls=<c> recordings=20 models=<set> per_min=<x> upload_to_analyzed_p50_s=<x> p95_s=<x> wall_s=<x>
//
// per_min is recordings over the time from the first PUT to the last run
// finished; upload_to_analyzed is, per recording, from its PUT's answer to
// the finishedAt its run stores. Each case starts its processes fresh
// (model loading is part of the figures, as on a new instance). The
// figures are read, not asserted; scripts/bench.sh runs this with
// -benchtime 1x.
func BenchmarkThroughput(b *testing.B) {
	r := newRig(b, burstLock)
	video, models := throughputVideo(b), throughputModels()
	for _, n := range []int{1, 2} {
		for _, calls := range []int{1, 2} {
			b.Run(fmt.Sprintf("processes=%d/calls=%d", n, calls), func(b *testing.B) {
				r.calls = calls
				for i := 0; i < b.N; i++ {
					var procs []*serveProc
					for j := range n {
						procs = append(procs, r.start(b, fmt.Sprintf("bench-%d-%d-%d-%d", n, calls, i, j)))
					}
					res := r.burst(b, procs, video, 20, models)
					res.check(r, procs)
					for _, p := range procs {
						p.stop()
					}
					fmt.Printf("BENCH case=throughput processes=%d calls=%d recordings=%d models=%s per_min=%.1f upload_to_analyzed_p50_s=%.2f p95_s=%.2f wall_s=%.2f\n",
						n, calls, len(res.recs), models, res.perMin(), res.latency(0.5), res.latency(0.95), res.wall().Seconds())
				}
			})
		}
	}
}

// throughputVideo is the 6 s sample.
func throughputVideo(t testing.TB) []byte {
	t.Helper()
	video, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "testdata/media/synthetic_faces_640x480.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	return video
}

// throughputModels is the fast set where its files are installed (see
// fastModels), else the default set.
func throughputModels() string {
	if _, err := os.Stat(filepath.Join(testenv.SharedDir(), "models/ultraface-version-RFB-320.noinitin.onnx")); err == nil {
		return "fast"
	}
	return "default"
}

// burstResult is what one burst of uploads came to.
type burstResult struct {
	t       testing.TB
	models  string
	key     string
	project string
	recs    []string
	first   time.Time            // the first PUT sent
	putDone map[string]time.Time // each recording's PUT answered
	runs    map[string]facet.Analysis
}

// burst makes a client and a project (models as given) through procs[0],
// n upload slots, and uploads video through every slot at once, as n
// participants finishing together would; it waits until every recording
// is analysed (failing on a failed one) and reads each one's runs.
func (r *crashRig) burst(t testing.TB, procs []*serveProc, video []byte, n int, models string) *burstResult {
	t.Helper()
	p := procs[0]
	tag := strings.ToLower(rand.Text()[:8])
	client := p.must(201, "POST", "/api/clients", "admin", map[string]any{
		"company": "Throughput Research " + tag, "contact": map[string]any{"name": "Ada Example", "email": "ada+" + tag + "@example.com"},
		"demographics": map[string]any{"country": "NL"}, "dpaVersion": "2026-01"})
	res := &burstResult{t: t, models: models, key: client["apiKey"].(string), putDone: map[string]time.Time{}}
	res.project = p.must(201, "POST", "/api/projects", res.key, map[string]any{"name": "Fieldwork", "privacyMode": "retain",
		"useContext": "market-research", "settings": map[string]any{"models": models}})["id"].(string)
	urls := map[string]string{}
	for range n {
		slot := p.must(201, "POST", "/api/projects/"+res.project+"/recordings", res.key, map[string]any{
			"consent": map[string]any{"obtainedAt": time.Now().Add(-time.Minute), "method": "signed-form"}})
		rec := slot["recordingId"].(string)
		res.recs = append(res.recs, rec)
		urls[rec] = slot["uploadUrl"].(string)
	}
	// Every host ignores the blobs it finds on its first look.
	for _, q := range procs {
		select {
		case <-q.l.Host.Watching():
		case <-time.After(30 * time.Second):
			t.Fatalf("%s's host has not listed the uploads container in 30 s", q.name)
		}
	}

	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]string, 0)
	res.first = time.Now()
	for _, rec := range res.recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("PUT", urls[rec], bytes.NewReader(video))
			req.Header.Set("x-ms-blob-type", "BlockBlob")
			resp, err := http.DefaultClient.Do(req)
			done := time.Now()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err.Error())
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 201 {
				errs = append(errs, fmt.Sprintf("PUT %s: %s", rec, resp.Status))
			}
			res.putDone[rec] = done
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("uploads failed: %v", errs)
	}

	// Wait for every recording to be analysed, reading the store (as
	// many GETs through the API would load the processes measured).
	ctx := context.Background()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var recs []facet.Recording
		for cont := ""; ; {
			pg, err := r.d.Store.Query(ctx, facet.CRecordings, facet.Query{Partition: res.project, Continuation: cont})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range pg.Docs {
				var rv facet.Recording
				if err := json.Unmarshal(d.JSON, &rv); err != nil {
					t.Fatal(err)
				}
				recs = append(recs, rv)
			}
			if cont = pg.Continuation; cont == "" {
				break
			}
		}
		analyzed := 0
		var waiting []string
		for _, rv := range recs {
			switch rv.Status {
			case facet.RecAnalyzed:
				analyzed++
			case facet.RecFailed:
				t.Fatalf("recording %s failed: %+v", rv.ID, rv.Failure)
			default:
				waiting = append(waiting, rv.ID+" "+string(rv.Status))
			}
		}
		if analyzed == n && len(recs) == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d recordings analysed after %.0f s; waiting: %v", analyzed, n, time.Since(res.first).Seconds(), waiting)
		}
		time.Sleep(100 * time.Millisecond)
	}

	res.runs = map[string]facet.Analysis{}
	for _, rec := range res.recs {
		pg, err := r.d.Store.Query(ctx, facet.CAnalyses, facet.Query{Partition: rec, Where: map[string]any{"type": "analysis"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(pg.Docs) != 1 || pg.Continuation != "" {
			t.Fatalf("recording %s has %d runs, want 1", rec, len(pg.Docs))
		}
		var an facet.Analysis
		if err := json.Unmarshal(pg.Docs[0].JSON, &an); err != nil {
			t.Fatal(err)
		}
		if an.Status != facet.RunDone || an.FinishedAt == nil || an.Result == nil || an.Result.Settings.Models != models {
			t.Fatalf("recording %s: run %s is %s (models %v), want done with the %s set", rec, an.ID, an.Status, an.Result, models)
		}
		res.runs[rec] = an
	}
	return res
}

// wall is the time from the first PUT to the last run finished.
func (b *burstResult) wall() time.Duration {
	var last time.Time
	for _, an := range b.runs {
		if an.FinishedAt.After(last) {
			last = *an.FinishedAt
		}
	}
	return last.Sub(b.first)
}

func (b *burstResult) perMin() float64 { return float64(len(b.runs)) / b.wall().Minutes() }

// latency is the q-quantile (nearest rank) of the seconds from each
// recording's PUT answered to its run's stored finishedAt.
func (b *burstResult) latency(q float64) float64 {
	var s []float64
	for rec, an := range b.runs {
		s = append(s, an.FinishedAt.Sub(b.putDone[rec]).Seconds())
	}
	sort.Float64s(s)
	if len(s) == 0 {
		return math.NaN()
	}
	return s[max(0, int(math.Ceil(q*float64(len(s))))-1)]
}

// handlerLog is what one `facet serve` process logged about the burst's
// recordings, from its log file (JSON lines).
type handlerLog struct {
	accepted  map[string]int // uploads accepted (the run queued), by recording
	started   map[string]int // analyses started (run claimed), by analysis id
	takeovers map[string]int // of those, runs taken over while marked running
	stored    map[string]int // runs stored, by analysis id
	transient []string       // RunAnalysis attempts that failed transiently
}

func readHandlerLog(t testing.TB, p *serveProc) handlerLog {
	t.Helper()
	f, err := os.Open(p.logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := handlerLog{accepted: map[string]int{}, started: map[string]int{}, takeovers: map[string]int{}, stored: map[string]int{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l struct {
			Msg, Function, Recording, Analysis string
			Error                              string `json:"error"`
			Takeover                           bool   `json:"takeover"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		switch {
		case l.Msg == "upload accepted":
			h.accepted[l.Recording]++
		case l.Msg == "analysis started":
			h.started[l.Analysis]++
			if l.Takeover {
				h.takeovers[l.Analysis]++
			}
		case l.Msg == "analysis stored":
			h.stored[l.Analysis]++
		case l.Function == "RunAnalysis" && strings.HasPrefix(l.Msg, "failed transiently"):
			h.transient = append(h.transient, l.Error)
		}
	}
	return h
}

// check checks each recording has one run, done, whole (checkRunOnce),
// stored by exactly one process, its message completed and not
// dead-lettered; it logs how the work was shared, and fails when a
// process took none of it while others took several.
func (b *burstResult) check(r *crashRig, procs []*serveProc) {
	t := b.t
	t.Helper()
	for _, rec := range b.recs {
		r.checkRunOnce(procs[0], b.key, b.project, rec, b.runs[rec].ID)
		r.checkDeadLetters(rec)
	}
	logs := make([]handlerLog, len(procs))
	for i, p := range procs {
		logs[i] = readHandlerLog(t, p)
	}
	var shares []string
	for i, p := range procs {
		var ran, started, takeovers int
		for _, an := range b.runs {
			ran += logs[i].stored[an.ID]
			started += logs[i].started[an.ID]
			takeovers += logs[i].takeovers[an.ID]
		}
		shares = append(shares, fmt.Sprintf("%s stored %d runs (started %d, %d of them taken over; %d attempts failed transiently)",
			p.name, ran, started, takeovers, len(logs[i].transient)))
		// Each host drains the queue. How the runs split is left to the
		// queue: on the stand-in one host's link can hold a run of
		// messages while the other waits (a split of 19 to 1 happens).
		if received := p.receivedAll(); received == 0 && len(procs) > 1 {
			t.Errorf("%s's host received no analysis message", p.name)
		}
		if ran == 0 && len(procs) > 1 {
			t.Logf("%s (pid %d) ran none of the %d analyses: the others took them all", p.name, p.pid(), len(b.recs))
		}
		for _, e := range logs[i].transient {
			t.Logf("%s: a RunAnalysis attempt failed transiently: %s", p.name, e)
		}
	}
	var twice []string
	for _, rec := range b.recs {
		an := b.runs[rec]
		var by, startedBy []string
		for i, p := range procs {
			for range logs[i].stored[an.ID] {
				by = append(by, p.name)
			}
			for range logs[i].started[an.ID] {
				startedBy = append(startedBy, p.name)
			}
		}
		if len(by) != 1 {
			t.Errorf("run %s of recording %s was stored by %v, want exactly one process", an.ID, rec, by)
		}
		if len(startedBy) > 1 {
			twice = append(twice, fmt.Sprintf("%s %v", an.ID, startedBy))
		}
	}
	t.Logf("work: %s; runs analysed more than once (a duplicate message taking over a running run; one result stored): %d %v",
		strings.Join(shares, "; "), len(twice), twice)
	// Every run's message is completed by some host instance; count the
	// deliveries each run's message had.
	deadline := time.Now().Add(15 * time.Second)
	var deliveries []string
	for _, rec := range b.recs {
		id := b.runs[rec].ID
		for {
			completed := 0
			for _, p := range procs {
				completed += p.completed(id)
			}
			if completed > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no host completed the analysis message of run %s", id)
			}
			time.Sleep(50 * time.Millisecond)
		}
		received := 0
		for _, p := range procs {
			received += p.receivedCount(id)
		}
		if received > 1 {
			deliveries = append(deliveries, fmt.Sprintf("%s: %d", id, received))
		}
	}
	slices.Sort(deliveries)
	t.Logf("analysis messages delivered more than once (a repeated event's second message, a scheduled retry): %d %v", len(deliveries), deliveries)
}

// receivedAll counts the analysis messages p's host received.
func (p *serveProc) receivedAll() int {
	p.recv.mu.Lock()
	defer p.recv.mu.Unlock()
	n := 0
	for k, c := range p.recv.received {
		if strings.HasPrefix(k, facet.QAnalysis+"/") {
			n += c
		}
	}
	return n
}

func (p *serveProc) receivedCount(msgID string) int {
	p.recv.mu.Lock()
	defer p.recv.mu.Unlock()
	return p.recv.received[facet.QAnalysis+"/"+msgID]
}
