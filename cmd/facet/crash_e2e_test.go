package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/app"
	"github.com/humaninsight/facet/internal/devhost"
	"github.com/humaninsight/facet/internal/localstack"
	"github.com/humaninsight/facet/internal/servicebus"
	"github.com/humaninsight/facet/internal/testenv"
)

// TestCrashMidAnalysis kills `facet serve` (kill -9) while it analyses a
// video, starts it again with the same settings, and checks that the run
// ends exactly once and that no copy of the video is left on disk: the
// dead process's staging folder goes at the next start, the live one is
// empty after the run and goes on a clean exit.
//
// The handler runs as its own process; the host stand-in (devhost) runs
// here, pointed at the handler's port, as a Functions host instance would
// be. The kill takes the instance down with the handler: the message in
// flight is neither completed nor abandoned, so Service Bus delivers it
// again only when its lock expires, to a new instance in front of the
// restarted handler. The test runs its own Service Bus stand-in (whatever
// SERVICEBUS_CONNECTION_STRING says) with short locks (crashLock) and
// Azure's maximum delivery count (10). devhost does not renew locks as
// the Functions host does, so a run longer than a lock (a loaded machine)
// is delivered once more, and must find its run done.
func TestCrashMidAnalysis(t *testing.T) {
	r := newCrashRig(t)
	video, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "testdata/media/synthetic_faces_640x480.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	first := r.start(t, "serve-1")
	key, project, rec := first.upload(video)
	runID, staged := r.waitStaged(first, project, rec, len(video))
	first.crash()
	killedAt := time.Now()
	t.Logf("killed serve-1 (pid %d) %.1f s after its start: run %s running, its ffmpeg decoding %s",
		first.pid(), killedAt.Sub(t0).Seconds(), runID, staged)
	if _, status := r.run(project, rec); status != facet.RunRunning {
		t.Fatalf("after the kill the run is %q, want it still %q: the kill came too late to test anything", status, facet.RunRunning)
	}
	if fi, err := os.Stat(staged); err != nil || fi.Size() != int64(len(video)) {
		t.Fatalf("the kill left no staged video behind (%v): nothing to test", err)
	}

	second := r.start(t, "serve-2")
	if _, err := os.Stat(filepath.Dir(staged)); !os.IsNotExist(err) {
		t.Errorf("serve-2 started, and the dead serve-1's staging folder is still there (%v)", err)
	}
	second.waitStatus(key, rec, string(facet.RecAnalyzed))
	t.Logf("analysed by serve-2 %.1f s after the kill", time.Since(killedAt).Seconds())
	r.checkRunOnce(second, key, project, rec, runID)
	second.waitCompleted(runID)
	r.checkDeadLetters(rec)
	r.checkNoVideo(second.pid())

	second.stop()
	if _, err := os.Stat(filepath.Join(r.tempDir, "facet-staging", strconv.Itoa(second.pid()))); !os.IsNotExist(err) {
		t.Errorf("serve-2 exited cleanly and left its staging folder (%v)", err)
	}
	t.Logf("crash test took %.1f s from the first start", time.Since(t0).Seconds())
}

// crashLock is the message lock of the test's Service Bus stand-in: how
// long a killed instance's message waits before it is delivered again.
const crashLock = 3 * time.Second

// crashRig is what the runs of `facet serve` share: the binary, its
// environment, and this process's clients of the local stack (for the
// checks; each host instance has its own Service Bus client, as each
// Functions instance has).
type crashRig struct {
	t       testing.TB
	exe     string
	env     []string
	tempDir string // the children's FACET_TEMP_DIR
	// sysTmp is the children's TMPDIR: their os.TempDir(), theirs alone.
	// (The machine's is shared: tests of other packages stage videos
	// there at the same time.)
	sysTmp  string
	logDir  string
	d       *deps
	fns     []devhost.Function
	blobURL string
	sbConn  string // the Service Bus stand-in's connection string
	log     *slog.Logger
	// calls is each host instance's maxConcurrentCalls: host.json's,
	// unless a benchmark sets another before starting processes.
	calls int
}

func newCrashRig(t *testing.T) *crashRig { return newRig(t, crashLock) }

// newRig starts the rig's own Service Bus stand-in with message locks of
// lock (devhost does not renew them: a run longer than lock is delivered
// again) and builds the binary.
func newRig(t testing.TB, lock time.Duration) *crashRig {
	t.Helper()
	cfg, err := loadConfig(env(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(testenv.Paths().ServiceBusScript()); err != nil {
		why := "the Service Bus stand-in is not installed (make setup with ../shared present)"
		if os.Getenv("SERVICEBUS_CONNECTION_STRING") != "" {
			t.Skip(why + ": the crash test needs its short locks, which SERVICEBUS_CONNECTION_STRING's namespace lacks")
		}
		testenv.Skip(t, why)
	}
	built := startBuild(t) // while the stand-ins start
	blob := testenv.BlobService(t)
	cos := testenv.CosmosService(t)
	sbSvc, err := testenv.Paths().ServiceBus(0, 10, lock)
	if err != nil {
		t.Fatalf("the Service Bus stand-in did not start: %v", err)
	}
	t.Cleanup(sbSvc.Stop)
	blobURL := useStack(&cfg, blob, cos, localstack.ServiceBusConnectionString(sbSvc.Port), "crash")
	cfg.MailEndpoint, cfg.MailOutbox = "", t.TempDir()
	r := &crashRig{t: t, tempDir: t.TempDir(), sysTmp: t.TempDir(), logDir: t.TempDir(), blobURL: blobURL, sbConn: cfg.ServiceBusConn, log: testLog()}
	if r.fns, err = devhost.LoadFunctions(filepath.Join(testenv.RepoRoot(), "functions")); err != nil {
		t.Fatal(err)
	}
	hj, err := devhost.ReadHostJSON(filepath.Join(testenv.RepoRoot(), "host.json"))
	if err != nil {
		t.Fatal(err)
	}
	r.calls = hj.MaxConcurrentCalls
	r.env = append(os.Environ(),
		"FACET_TEMP_DIR="+r.tempDir, "TMPDIR="+r.sysTmp,
		"FACET_ORT_LIB="+cfg.ORTLib, "FACET_MODELS_DIR="+cfg.ModelsDir, "FACET_SHARED_DIR="+testenv.SharedDir(),
		"COSMOS_ENDPOINT="+cfg.CosmosEndpoint, "COSMOS_KEY="+cfg.CosmosKey, "COSMOS_DATABASE="+cfg.CosmosDatabase,
		"FACET_STORAGE_CONNECTION_STRING="+cfg.StorageConnString, "FACET_STORAGE_ACCOUNT_URL=",
		"ServiceBusConnection="+cfg.ServiceBusConn, "ServiceBusConnection__fullyQualifiedNamespace=",
		"FACET_CREATE_RESOURCES=true", "FACET_ADMIN_KEY="+cfg.AdminKey, "FACET_PUBLIC_BASE_URL="+cfg.PublicBaseURL,
		"FACET_MAIL_ENDPOINT=", "FACET_MAIL_OUTBOX="+cfg.MailOutbox,
		"FACET_LOG_LEVEL=debug")
	// This process's own clients stage nothing: its staging folder is
	// kept apart from the children's.
	cfg.TempDir = t.TempDir()
	if r.d, err = wire(context.Background(), cfg, r.log); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.d.Close)
	r.exe = built()
	return r
}

// startBuild starts building the facet binary from the checkout; the
// returned func waits for it and returns its path.
func startBuild(t testing.TB) func() string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	exe := filepath.Join(t.TempDir(), "facet")
	cmd := exec.Command(goBin, "build", "-o", exe, "./cmd/facet")
	cmd.Dir = testenv.RepoRoot()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	var werr error
	wait := func() { once.Do(func() { werr = cmd.Wait() }) }
	t.Cleanup(wait) // a skip or failure before the wait
	return func() string {
		t.Helper()
		if wait(); werr != nil {
			t.Fatalf("go build ./cmd/facet: %v\n%s", werr, out.String())
		}
		return exe
	}
}

// serveProc is one `facet serve` process and the host instance in front
// of it; its stack calls the API through that instance.
type serveProc struct {
	*stack
	name     string
	logFile  string
	cmd      *exec.Cmd
	exited   chan struct{}
	recv     *mortalReceiver
	stopHost func()
}

// start runs `facet serve` on a port of its own, waits until it
// listens, and starts a host instance in front of it.
func (r *crashRig) start(t testing.TB, name string) *serveProc {
	t.Helper()
	port, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(r.logDir, name+".log")
	lf, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	cmd := exec.Command(r.exe, "serve")
	cmd.Dir, cmd.Env = testenv.RepoRoot(), append(slices.Clip(r.env), "FUNCTIONS_CUSTOMHANDLER_PORT="+strconv.Itoa(port))
	// Files, not pipes: Wait must not wait for an orphaned ffmpeg that
	// inherited an output.
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProc{name: name, logFile: logFile, cmd: cmd, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // its group: ffmpeg too
			<-p.exited
		}
		if t.Failed() || testing.Verbose() {
			b, _ := os.ReadFile(logFile)
			t.Logf("%s (pid %d) logged:\n%s", name, cmd.Process.Pid, b)
		}
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(30 * time.Second); ; {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			break
		}
		select {
		case <-p.exited:
			t.Fatalf("%s exited before it listened: %v", name, cmd.ProcessState)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on %s in 30 s", name, addr)
		}
	}
	r.startHost(t, p, "http://"+addr)
	return p
}

// startHost starts a host instance (devhost) that delivers to handlerURL,
// with a Service Bus client of its own: two instances receiving through
// one client would share its receivers, which are not for concurrent use.
func (r *crashRig) startHost(t testing.TB, p *serveProc, handlerURL string) {
	t.Helper()
	bus, err := servicebus.NewFromConnectionString(r.sbConn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bus.Close(context.Background()) })
	p.recv = &mortalReceiver{Receiver: bus}
	host, err := devhost.New(devhost.Config{
		HandlerURL: handlerURL, Functions: r.fns, Blobs: r.d.Blobs, Container: app.UploadsContainer,
		Account: r.d.Account, BlobURL: r.blobURL, Receiver: p.recv, Log: r.log.With("instance", p.name),
		MaxConcurrentCalls: r.calls,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(host.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { host.Run(ctx); close(done) }()
	p.stopHost = func() { cancel(); <-done }
	t.Cleanup(srv.Close)
	t.Cleanup(p.stopHost)
	p.stack = &stack{t: t, l: &localHost{URL: srv.URL, HandlerURL: handlerURL, Deps: r.d, Host: host}, url: srv.URL}
}

func (p *serveProc) pid() int { return p.cmd.Process.Pid }

// crash kills the handler as the kernel would (SIGKILL to it alone, not
// to its ffmpeg) and takes its host instance down with it: nothing in
// flight is settled.
func (p *serveProc) crash() {
	p.recv.dead.Store(true)
	if err := p.cmd.Process.Kill(); err != nil {
		p.t.Fatal(err)
	}
	<-p.exited // reaped: a zombie would still count as running
	p.stopHost()
}

// stop ends the handler cleanly (SIGTERM, as the host does) and its host.
func (p *serveProc) stop() {
	p.t.Helper()
	p.stopHost()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		p.t.Fatalf("%s did not exit within 20 s of SIGTERM", p.name)
	}
	if !p.cmd.ProcessState.Success() {
		p.t.Errorf("%s exited with %v after SIGTERM", p.name, p.cmd.ProcessState)
	}
}

// upload makes a client, a project and an upload slot through the API,
// and uploads video as a browser would once the host watches the blobs.
func (p *serveProc) upload(video []byte) (key, project, rec string) {
	p.t.Helper()
	client := p.must(201, "POST", "/api/clients", "admin", map[string]any{
		"company": "Crash Research", "contact": map[string]any{"name": "Ada Example", "email": "ada@example.com"},
		"demographics": map[string]any{"country": "NL"}, "dpaVersion": "2026-01"})
	key = client["apiKey"].(string)
	project = p.must(201, "POST", "/api/projects", key, map[string]any{"name": "Crash", "privacyMode": "retain", "useContext": "market-research"})["id"].(string)
	slot := p.must(201, "POST", "/api/projects/"+project+"/recordings", key, map[string]any{
		"consent": map[string]any{"obtainedAt": time.Now().Add(-time.Minute), "method": "signed-form"}})
	// The host ignores blobs it finds on its first look: wait until it
	// has delivered one made after that (refused: no slot has its name).
	n := p.l.Host.Delivered()
	if _, err := p.l.Deps.Blobs.Upload(context.Background(), "crash-sentinel/"+rand.Text(), strings.NewReader("x")); err != nil {
		p.t.Fatal(err)
	}
	p.waitDelivered(n, 1)
	if st := put(p.t, slot["uploadUrl"].(string), video); st != 201 {
		p.t.Fatalf("upload: %d", st)
	}
	return key, project, slot["recordingId"].(string)
}

// run returns the recording's latest run and its status ("" when unknown).
func (r *crashRig) run(project, rec string) (id string, status facet.RunStatus) {
	ctx := context.Background()
	doc, err := r.d.Store.Read(ctx, facet.CRecordings, project, rec)
	if err != nil {
		return "", ""
	}
	var rv facet.Recording
	if json.Unmarshal(doc.JSON, &rv) != nil || rv.LatestAnalysis == "" {
		return "", ""
	}
	if doc, err = r.d.Store.Read(ctx, facet.CAnalyses, rec, rv.LatestAnalysis); err != nil {
		return rv.LatestAnalysis, ""
	}
	var an facet.Analysis
	json.Unmarshal(doc.JSON, &an)
	return an.ID, an.Status
}

// waitStaged polls until the run is running, the whole video sits in p's
// staging folder and p's ffmpeg decodes it, and returns the run's id and
// the staged file.
func (r *crashRig) waitStaged(p *serveProc, project, rec string, size int) (runID, staged string) {
	p.t.Helper()
	dir := filepath.Join(r.tempDir, "facet-staging", strconv.Itoa(p.pid()))
	var status facet.RunStatus
	var files []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		// Status first: the file goes before the run is marked ended, so
		// a full file seen after a running status means it runs still.
		runID, status = r.run(project, rec)
		if status == facet.RunDone || status == facet.RunFailed {
			p.t.Fatalf("the run ended (%s) before its video was seen staged in %s and decoded by ffmpeg: too quick to kill, or staged elsewhere", status, dir)
		}
		files, _ = filepath.Glob(filepath.Join(dir, "facet-video-*"))
		if status == facet.RunRunning && len(files) == 1 {
			if fi, err := os.Stat(files[0]); err == nil && fi.Size() == int64(size) && decoding(p.pid(), files[0]) {
				return runID, files[0]
			}
		}
		select {
		case <-p.exited:
			p.t.Fatalf("%s exited during the analysis: %v", p.name, p.cmd.ProcessState)
		case <-time.After(10 * time.Millisecond):
		}
	}
	p.t.Fatalf("no running run with its video staged and decoding within 30 s: run %q, staged %v", status, files)
	return "", ""
}

// decoding reports whether process pid has an ffmpeg child reading file.
func decoding(pid int, file string) bool {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open || s[open+1:end] != "ffmpeg" {
			continue
		}
		if f := strings.Fields(s[end+1:]); len(f) < 2 || f[1] != strconv.Itoa(pid) {
			continue
		}
		if cmdline, _ := os.ReadFile(filepath.Join(filepath.Dir(st), "cmdline")); strings.Contains(string(cmdline), file) {
			return true
		}
	}
	return false
}

// checkRunOnce checks the recording has one run, done, with its timeline
// chunks numbered 0..chunks-1 and holding every frame of its summary.
func (r *crashRig) checkRunOnce(p *serveProc, key, project, rec, runID string) {
	t := p.t
	t.Helper()
	var runs []facet.Analysis
	var chunks []facet.TimelineChunk
	for cont := ""; ; {
		pg, err := r.d.Store.Query(context.Background(), facet.CAnalyses, facet.Query{Partition: rec, Continuation: cont})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range pg.Docs {
			var kind struct{ Type string }
			json.Unmarshal(d.JSON, &kind)
			switch kind.Type {
			case "analysis":
				var a facet.Analysis
				json.Unmarshal(d.JSON, &a)
				runs = append(runs, a)
			case "timeline":
				var c facet.TimelineChunk
				json.Unmarshal(d.JSON, &c)
				chunks = append(chunks, c)
			default:
				t.Errorf("unexpected document in the recording's partition: %s", d.JSON)
			}
		}
		if cont = pg.Continuation; cont == "" {
			break
		}
	}
	if len(runs) != 1 || runs[0].ID != runID || runs[0].Status != facet.RunDone || runs[0].Result == nil {
		t.Fatalf("want one run %s, done: %+v", runID, runs)
	}
	an := runs[0]
	frames, seen := 0, map[int]bool{}
	for _, c := range chunks {
		if c.AnalysisID != an.ID || c.ID != chunkName(an.ID, c.Index) || seen[c.Index] || c.Index < 0 || c.Index >= an.Chunks {
			t.Errorf("timeline chunk %s (index %d of run %s) does not fit run %s of %d chunks", c.ID, c.Index, c.AnalysisID, an.ID, an.Chunks)
		}
		seen[c.Index] = true
		frames += len(c.Frames)
	}
	if an.Chunks < 1 || len(chunks) != an.Chunks || frames != an.Result.Summary.Frames {
		t.Errorf("run %s: %d chunks stored holding %d frames; the run says %d chunks, %d frames",
			an.ID, len(chunks), frames, an.Chunks, an.Result.Summary.Frames)
	}
	got := p.must(200, "GET", "/api/recordings/"+rec, key, nil)
	if got["status"] != string(facet.RecAnalyzed) || got["latestAnalysis"] != an.ID || len(got["analyses"].([]any)) != 1 {
		t.Errorf("recording after the restart: %v", got)
	}
}

func chunkName(runID string, i int) string { return runID + "." + strconv.Itoa(i) }

// checkDeadLetters fails if an analysis message of rec was dead-lettered.
func (r *crashRig) checkDeadLetters(rec string) {
	dl, err := r.d.Bus.DeadLetters(context.Background(), facet.QAnalysis, 100)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, d := range dl {
		if strings.Contains(string(d.Body), rec) {
			r.t.Errorf("the analysis message was dead-lettered after %d deliveries: %s", d.DeliveryCount, d.Body)
		}
	}
}

// checkNoVideo checks nothing of the video is left: FACET_TEMP_DIR holds
// the live process's staging folder only, empty; no facet-video-* in the
// children's os.TempDir(); no process holds or reads
// a file under FACET_TEMP_DIR (an orphaned ffmpeg would keep a deleted
// video on disk).
func (r *crashRig) checkNoVideo(livePID int) {
	t := r.t
	t.Helper()
	filepath.WalkDir(r.tempDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("left in FACET_TEMP_DIR: %s", path)
		}
		return nil
	})
	entries, _ := os.ReadDir(filepath.Join(r.tempDir, "facet-staging"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{strconv.Itoa(livePID)}) {
		t.Errorf("staging folders %v, want only the live process's (%d)", names, livePID)
	}
	filepath.WalkDir(r.sysTmp, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), "facet-video-") {
			t.Errorf("a video in the children's os.TempDir(): %s", path)
		}
		return nil
	})
	var held []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if held = holders(r.tempDir); len(held) == 0 {
			return
		}
	}
	t.Errorf("processes still hold or read files under FACET_TEMP_DIR: %v", held)
}

// holders lists the processes with dir in their command line or a file
// under dir open.
func holders(dir string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		cmdline, _ := os.ReadFile(filepath.Join(p, "cmdline"))
		if strings.Contains(string(cmdline), dir+"/") {
			out = append(out, fmt.Sprintf("%s: %s", filepath.Base(p), strings.ReplaceAll(string(cmdline), "\x00", " ")))
			continue
		}
		fds, _ := filepath.Glob(filepath.Join(p, "fd", "*"))
		for _, fd := range fds {
			if target, err := os.Readlink(fd); err == nil && strings.HasPrefix(target, dir+"/") {
				out = append(out, fmt.Sprintf("%s: fd %s -> %s", filepath.Base(p), filepath.Base(fd), target))
			}
		}
	}
	return out
}

// waitCompleted waits until p's host instance has completed the analysis
// message of runID (its message id) once, and checks it did so only once.
func (p *serveProc) waitCompleted(runID string) {
	p.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for p.completed(runID) == 0 {
		if time.Now().After(deadline) {
			p.t.Fatalf("%s's host never completed the analysis message %s", p.name, runID)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := p.completed(runID); n != 1 {
		p.t.Errorf("%s's host completed the analysis message %d times", p.name, n)
	}
}

func (p *serveProc) completed(msgID string) int {
	p.recv.mu.Lock()
	defer p.recv.mu.Unlock()
	return p.recv.completed[facet.QAnalysis+"/"+msgID]
}

// mortalReceiver is a host instance's hold on the queues. Once dead (the
// instance went down with its handler) it settles and receives nothing,
// so a message in flight stays locked until its lock expires. It counts
// the messages it received and completed, by queue and message id.
type mortalReceiver struct {
	facet.Receiver
	dead      atomic.Bool
	mu        sync.Mutex
	received  map[string]int
	completed map[string]int
}

func (m *mortalReceiver) Receive(ctx context.Context, queue string, max int, wait time.Duration) ([]facet.Delivery, error) {
	if m.dead.Load() {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	ds, err := m.Receiver.Receive(ctx, queue, max, wait)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.received == nil {
		m.received = map[string]int{}
	}
	for _, d := range ds {
		m.received[queue+"/"+d.ID]++
	}
	return ds, err
}

func (m *mortalReceiver) Complete(ctx context.Context, queue string, d facet.Delivery) error {
	if m.dead.Load() {
		return nil
	}
	if err := m.Receiver.Complete(ctx, queue, d); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.completed == nil {
		m.completed = map[string]int{}
	}
	m.completed[queue+"/"+d.ID]++
	return nil
}

func (m *mortalReceiver) Abandon(ctx context.Context, queue string, d facet.Delivery) error {
	if m.dead.Load() {
		return nil
	}
	return m.Receiver.Abandon(ctx, queue, d)
}
