package handlers

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/app"
	"github.com/humaninsight/facet/internal/cosmosdb"
	"github.com/humaninsight/facet/internal/inmem"
	"github.com/humaninsight/facet/internal/localstack"
	"github.com/humaninsight/facet/internal/testenv"
)

// The api-load case: one client's list requests under concurrency.
const (
	apiLoadProjects    = 20
	apiLoadRecordings  = 10 // per project: 200 in all
	apiLoadDuration    = 5 * time.Second
	apiLoadWarmup      = 500 * time.Millisecond // per level, not counted
	apiLoadConnections = 128                    // client idle conns, above the top level
)

var apiLoadLevels = []int{1, 8, 32, 64}

// apiLoadLines keeps each store's BENCH lines, so that a second run of
// a sub-benchmark (a -benchtime other than 1x) prints nothing new.
var apiLoadLines = map[string][]string{}

// BenchmarkAPILoad measures authenticated list requests over loopback:
// GET /api/projects and GET /api/projects/{id}/recordings, alternately,
// with one client's bearer key over 20 projects of 10 analysed recordings
// each, at concurrency 1, 8, 32 and 64 for 5 s each (after 0.5 s of
// warm-up). It prints one line per level and ignores b.N (run it with
// -benchtime 1x):
//
//	BENCH case=api-load store=S concurrency=N rps=X p50_ms=X p99_ms=X errors=N
//
// The server is Handler's ServeMux over internal/app, served by net/http
// on a loopback port; the client is net/http with keep-alive and enough
// idle connections for every worker. An error is a transport error, a
// status other than 200 or a body that is not a list.
//
// store=cosmos-standin is the store of `facet serve` and `facet dev`
// (cosmosdb over azcosmos) on the Cosmos DB stand-in, which this
// benchmark starts on a free port and stops (make setup installs it);
// store=inmem is the in-memory DocStore, to tell the handler's own cost
// from the store's. Blobs and queues are in memory in both: no list
// request touches them. The recordings are seeded through the app's own
// path (benchAnalyzer from export_bench_test.go stands in for the engine),
// so their documents are those of production.
func BenchmarkAPILoad(b *testing.B) {
	stores := map[string]func(b *testing.B) facet.DocStore{
		"cosmos-standin": apiLoadCosmos,
		"inmem":          func(*testing.B) facet.DocStore { return inmem.NewDocStore() },
	}
	for _, name := range []string{"cosmos-standin", "inmem"} {
		b.Run("store="+name, func(b *testing.B) {
			if lines, done := apiLoadLines[name]; done {
				b.Logf("measured once already:\n%s", strings.Join(lines, "\n"))
				return
			}
			srvURL, key, paths := apiLoadServer(b, stores[name](b))
			client := &http.Client{Transport: &http.Transport{
				MaxIdleConns: apiLoadConnections, MaxIdleConnsPerHost: apiLoadConnections,
				IdleConnTimeout: time.Minute, DisableCompression: true,
			}}
			defer client.CloseIdleConnections()
			for _, n := range apiLoadLevels {
				runAPILoad(client, srvURL, key, paths, n, apiLoadWarmup)
				cpu0, alloc0 := processCPU(), heapAllocs()
				r := runAPILoad(client, srvURL, key, paths, n, apiLoadDuration)
				cores := (processCPU() - cpu0).Seconds() / r.elapsed.Seconds()
				kbPerReq := float64(heapAllocs()-alloc0) / 1e3 / float64(max(len(r.latencies), 1))
				line := fmt.Sprintf("BENCH case=api-load store=%s concurrency=%d rps=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d",
					name, n, r.rps(), r.quantileMS(0.50), r.quantileMS(0.99), r.errors)
				fmt.Println(line)
				b.Logf("concurrency %d: %d requests, max %.1f ms; this process (server and client) used %.2f cores and allocated %.0f kB a request; load average %s; first error: %v",
					n, len(r.latencies), r.quantileMS(1), cores, kbPerReq, loadAverage(), r.firstErr)
				apiLoadLines[name] = append(apiLoadLines[name], line)
			}
		})
	}
}

// apiLoadCosmos starts the Cosmos DB stand-in for this benchmark and
// returns a cosmosdb store on a new database there, wired as in wire().
func apiLoadCosmos(b *testing.B) facet.DocStore {
	svc, err := testenv.Paths().Cosmos(0)
	if err != nil {
		testenv.Skip(b, err.Error())
	}
	b.Cleanup(svc.Stop)
	cred, err := azcosmos.NewKeyCredential(localstack.CosmosKey)
	if err != nil {
		b.Fatal(err)
	}
	cc, err := azcosmos.NewClientWithKey(localstack.CosmosEndpoint(svc.Port), cred, nil)
	if err != nil {
		b.Fatal(err)
	}
	store := cosmosdb.New(cc, "apiload", &cosmosdb.Options{OrderBy: facet.OrderFields()})
	if err := store.EnsureContainers(context.Background()); err != nil {
		b.Fatal(err)
	}
	return store
}

// apiLoadServer seeds store and serves the handler over it on a loopback
// port until the benchmark ends. It returns the server's URL, the
// client's key and the paths the load requests.
func apiLoadServer(b *testing.B, store facet.DocStore) (string, string, []string) {
	b.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	blobs := inmem.NewBlobStore("http://127.0.0.1:10000/uploads")
	queue := inmem.NewQueue(3, 30*time.Second)
	a := app.New(app.Config{PublicBaseURL: "https://facet.example", StorageAccount: "devstoreaccount1"},
		store, blobs, queue, &benchAnalyzer{seconds: 10}, log)
	t0 := time.Now()
	key, projects := seedAPILoad(b, a, blobs, queue)
	b.Logf("seeded %d projects of %d analysed recordings in %.1f s", len(projects), apiLoadRecordings, time.Since(t0).Seconds())

	h := &Handler{App: a, AdminKey: testAdminKey, Log: log}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	// The timeouts of cmd/facet's serveHTTP.
	srv := &http.Server{Handler: h.ServeMux(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 2 * time.Minute,
		WriteTimeout: 35 * time.Minute, IdleTimeout: 2 * time.Minute}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })

	paths := []string{}
	for _, p := range projects {
		paths = append(paths, "/api/projects", "/api/projects/"+p+"/recordings")
	}
	return "http://" + ln.Addr().String(), key, paths
}

// seedAPILoad creates a client with its projects, each with recordings
// uploaded and analysed as in seedExportStack. It returns the client's
// key and the project ids.
func seedAPILoad(b *testing.B, a *app.App, blobs *inmem.BlobStore, queue *inmem.Queue) (string, []string) {
	b.Helper()
	ctx := context.Background()
	c, key, err := a.CreateClient(ctx, app.NewClient{Company: "Acme Research",
		Contact:      facet.Contact{Name: "Ada Example", Email: "ada@example.com"},
		Demographics: facet.Demographics{Country: "DE", Sector: "market research"}, DPAVersion: "2026-01"}, true)
	if err != nil {
		b.Fatal(err)
	}
	var ids []string
	for i := range apiLoadProjects {
		p, err := a.CreateProject(ctx, c, app.NewProject{Name: fmt.Sprintf("Trailer test %d", i+1), PrivacyMode: facet.PrivacyRetain, UseContext: "media-testing"})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, p.ID)
		for j := range apiLoadRecordings {
			benchRecording(b, a, blobs, queue, c, p.ID, fmt.Sprintf("P-%02d-%03d", i, j))
		}
	}
	return key, ids
}

// apiLoadResult is one level's measurements.
type apiLoadResult struct {
	elapsed   time.Duration
	latencies []time.Duration // every request, errors included, sorted
	errors    int64
	firstErr  error
}

func (r *apiLoadResult) rps() float64 { return float64(len(r.latencies)) / r.elapsed.Seconds() }

// quantileMS is the q-quantile of the latencies (nearest rank), in ms.
func (r *apiLoadResult) quantileMS(q float64) float64 {
	if len(r.latencies) == 0 {
		return 0
	}
	i := min(int(q*float64(len(r.latencies))), len(r.latencies)-1)
	return float64(r.latencies[i].Microseconds()) / 1000
}

// runAPILoad runs n workers for d, each sending one request at a time,
// its paths in turn (starting at a different one per worker).
func runAPILoad(client *http.Client, base, key string, paths []string, n int, d time.Duration) *apiLoadResult {
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		res    = &apiLoadResult{}
		errs   atomic.Int64
		start  = time.Now()
		doneAt = start.Add(d)
	)
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			var buf bytes.Buffer
			for i := w; time.Now().Before(doneAt); i++ {
				t0 := time.Now()
				err := apiLoadGet(client, base+paths[i%len(paths)], key, &buf)
				lat = append(lat, time.Since(t0))
				if err != nil && errs.Add(1) == 1 {
					mu.Lock()
					res.firstErr = err
					mu.Unlock()
				}
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.errors = errs.Load()
	slices.Sort(res.latencies)
	return res
}

// apiLoadGet sends one list request and reads the whole answer (so that
// the connection is reused), checking that it is a list.
func apiLoadGet(client *http.Client, url, key string, buf *bytes.Buffer) error {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	buf.Reset()
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(buf.Bytes(), []byte(`"items":[{`)) {
		return fmt.Errorf("GET %s: %d %.200s", url, resp.StatusCode, buf.Bytes())
	}
	return nil
}

// processCPU is the CPU time (user and system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// heapAllocs is the bytes this process has allocated on the heap.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// loadAverage is the machine's 1-minute load average: other processes
// on the same cores make the figures worse.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Fields(string(b) + " unknown")[0]
}
