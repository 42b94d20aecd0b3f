// Package devhost is a local stand-in for the Azure Functions host: it
// reads functions/*/function.json, forwards HTTP requests that match a
// function's route and methods to the custom handler (as
// enableForwardingHttpRequest does), turns new blobs in the uploads
// container into Event Grid deliveries, drains Service Bus queues into
// serviceBusTrigger invocations (completing on 2xx, abandoning otherwise),
// and fires timers — posting the same requests the real host posts. It
// serves `facet dev` and the end-to-end tests; it never runs in Azure.
package devhost

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/invoke"
)

// Binding is one entry of a function.json "bindings" list.
type Binding struct {
	Type         string   `json:"type"`
	Direction    string   `json:"direction"`
	Name         string   `json:"name"`
	AuthLevel    string   `json:"authLevel,omitempty"`
	Methods      []string `json:"methods,omitempty"`
	Route        string   `json:"route,omitempty"`
	QueueName    string   `json:"queueName,omitempty"`
	Connection   string   `json:"connection,omitempty"`
	Cardinality  string   `json:"cardinality,omitempty"`
	Schedule     string   `json:"schedule,omitempty"`
	RunOnStartup bool     `json:"runOnStartup,omitempty"`
}

// Function is one function folder.
type Function struct {
	Name     string
	Bindings []Binding `json:"bindings"`
}

// Trigger returns the function's input trigger binding.
func (f Function) Trigger() Binding {
	for _, b := range f.Bindings {
		if b.Direction == "in" && strings.HasSuffix(b.Type, "Trigger") {
			return b
		}
	}
	return Binding{}
}

// LoadFunctions reads every dir/*/function.json, sorted by name. Unknown
// fields are an error: a typo in a binding would silently do nothing in
// Azure.
func LoadFunctions(dir string) ([]Function, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*", "function.json"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("devhost: no function.json under %s", dir)
	}
	var fns []Function
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var f Function
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return nil, fmt.Errorf("devhost: %s: %w", p, err)
		}
		f.Name = filepath.Base(filepath.Dir(p))
		if f.Trigger().Type == "" {
			return nil, fmt.Errorf("devhost: %s: no trigger binding", p)
		}
		fns = append(fns, f)
	}
	sort.Slice(fns, func(i, j int) bool { return fns[i].Name < fns[j].Name })
	return fns, nil
}

// HostJSON is what the stand-in takes from host.json.
type HostJSON struct {
	// MaxConcurrentCalls is extensions.serviceBus.maxConcurrentCalls, or
	// the Service Bus extension's default (16 per core) when unset.
	MaxConcurrentCalls int
}

// ReadHostJSON reads the settings of host.json at path that the stand-in
// honours.
func ReadHostJSON(path string) (HostJSON, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return HostJSON{}, fmt.Errorf("devhost: %w", err)
	}
	var v struct {
		Extensions struct {
			ServiceBus struct {
				MaxConcurrentCalls int `json:"maxConcurrentCalls"`
			} `json:"serviceBus"`
		} `json:"extensions"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return HostJSON{}, fmt.Errorf("devhost: %s: %w", path, err)
	}
	hj := HostJSON{MaxConcurrentCalls: v.Extensions.ServiceBus.MaxConcurrentCalls}
	if hj.MaxConcurrentCalls <= 0 {
		hj.MaxConcurrentCalls = 16 * runtime.NumCPU()
	}
	return hj, nil
}

// Config configures a Host.
type Config struct {
	HandlerURL string          // the custom handler's base URL
	Functions  []Function      // from LoadFunctions
	Blobs      facet.BlobStore // the uploads container, watched for new blobs
	Container  string          // its name, for event subjects ("uploads")
	Account    string          // the storage account's name, for event topics
	BlobURL    string          // the account's blob endpoint, for event data.url
	Receiver   facet.Receiver  // the Service Bus queues
	PollEvery  time.Duration   // blob and queue polling; 0 = 300 ms
	TimerEvery time.Duration   // fire timer functions this often; 0 = only through FireTimer
	Log        *slog.Logger
	Client     *http.Client

	// MaxConcurrentCalls is how many messages each Service Bus function
	// handles at once, as host.json's serviceBus.maxConcurrentCalls says
	// (see ReadHostJSON); 0 = 1.
	MaxConcurrentCalls int
}

// Host runs the functions of Config against the handler.
type Host struct {
	cfg   Config
	proxy *httputil.ReverseProxy
	mux   *http.ServeMux

	mu        sync.Mutex
	seq       int64
	delivered int      // invocations answered 2xx, for tests
	drop      []string // blob name prefixes whose events are lost

	watching     chan struct{} // closed after the first look at the uploads
	watchingOnce sync.Once
}

// Watching is closed once the host has made its first listing of the
// uploads container: it ignores the blobs it finds there, and delivers an
// event for every blob made after that.
func (h *Host) Watching() <-chan struct{} { return h.watching }

// DropEvents makes the host lose the BlobCreated events of new blobs whose
// names start with prefix, as a lost Event Grid delivery would (tests).
func (h *Host) DropEvents(prefix string) {
	h.mu.Lock()
	h.drop = append(h.drop, prefix)
	h.mu.Unlock()
}

func (h *Host) dropped(name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range h.drop {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// New returns a Host; Run starts its triggers, Handler serves its HTTP side.
func New(cfg Config) (*Host, error) {
	if cfg.PollEvery == 0 {
		cfg.PollEvery = 300 * time.Millisecond
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 35 * time.Minute}
	}
	if cfg.Container == "" {
		cfg.Container = "uploads"
	}
	target, err := url.Parse(cfg.HandlerURL)
	if err != nil {
		return nil, fmt.Errorf("devhost: handler URL: %w", err)
	}
	h := &Host{cfg: cfg, proxy: httputil.NewSingleHostReverseProxy(target), mux: http.NewServeMux(), watching: make(chan struct{})}
	for _, f := range cfg.Functions {
		t := f.Trigger()
		if t.Type != "httpTrigger" {
			continue
		}
		path := "/" + routePattern(t.Route)
		methods := t.Methods
		if len(methods) == 0 {
			methods = []string{"get", "post", "put", "patch", "delete"}
		}
		for _, m := range methods {
			h.mux.Handle(strings.ToUpper(m)+" "+path, h.proxy)
		}
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no function matches "+r.Method+" "+r.URL.Path, http.StatusNotFound)
	})
	return h, nil
}

// routePattern turns a Functions route template into a ServeMux pattern:
// {name:constraint} loses its constraint, {*rest} becomes {rest...}.
func routePattern(route string) string {
	parts := strings.Split(route, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			name := strings.Trim(p, "{}?")
			name, _, _ = strings.Cut(name, ":")
			if strings.HasPrefix(name, "*") {
				name = strings.TrimPrefix(name, "*") + "..."
			}
			parts[i] = "{" + name + "}"
		}
	}
	return strings.Join(parts, "/")
}

// Handler serves HTTP functions as the host does: only matching routes
// and methods reach the handler.
func (h *Host) Handler() http.Handler { return h.mux }

// Delivered counts trigger invocations the handler answered with 2xx.
func (h *Host) Delivered() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.delivered
}

// Run starts the trigger loops and blocks until ctx ends.
func (h *Host) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, f := range h.cfg.Functions {
		f, t := f, f.Trigger()
		switch t.Type {
		case "eventGridTrigger":
			if h.cfg.Blobs == nil {
				continue
			}
			wg.Add(1)
			go func() { defer wg.Done(); h.watchBlobs(ctx, f) }()
		case "serviceBusTrigger":
			if h.cfg.Receiver == nil {
				continue
			}
			wg.Add(1)
			go func() { defer wg.Done(); h.pumpQueue(ctx, f) }()
		case "timerTrigger":
			if h.cfg.TimerEvery <= 0 {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-ctx.Done():
						return
					case <-time.After(h.cfg.TimerEvery):
						h.FireTimer(ctx, f.Name)
					}
				}
			}()
		}
	}
	<-ctx.Done()
	wg.Wait()
	return nil
}

func newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// invoke posts one invocation, as the host does, and reports whether the
// handler answered 2xx.
func (h *Host) invoke(ctx context.Context, fn string, body []byte) bool {
	id := newID()
	resp, status, err := invoke.Post(ctx, h.cfg.Client, h.cfg.HandlerURL, fn, id, body)
	ok := err == nil && status >= 200 && status < 300
	log := h.cfg.Log.With("function", fn, "invocation", id, "status", status)
	if ok {
		h.mu.Lock()
		h.delivered++
		h.mu.Unlock()
		log.Debug("invocation succeeded", "logs", resp.Logs)
	} else if ctx.Err() == nil {
		log.Warn("invocation failed", "error", err, "logs", resp.Logs)
	}
	return ok
}

// watchBlobs polls the uploads container and delivers a BlobCreated event
// for every new blob (or new version of one), retrying with backoff as
// Event Grid does when the function fails.
func (h *Host) watchBlobs(ctx context.Context, f Function) {
	seen := map[string]string{}
	first := true
	for {
		err := h.cfg.Blobs.List(ctx, "", func(b facet.BlobInfo) error {
			if seen[b.Name] == b.ETag {
				return nil
			}
			seen[b.Name] = b.ETag
			if first || h.dropped(b.Name) {
				return nil // old news, or an event lost on purpose
			}
			go h.deliverBlob(ctx, f, b)
			return nil
		})
		if err != nil && ctx.Err() == nil {
			h.cfg.Log.Warn("listing blobs failed", "error", err)
		}
		first = false
		if err == nil {
			h.watchingOnce.Do(func() { close(h.watching) })
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(h.cfg.PollEvery):
		}
	}
}

// BlobCreatedEvent is the event Event Grid sends for blob b.
func (h *Host) BlobCreatedEvent(b facet.BlobInfo) invoke.EventGridEvent {
	h.mu.Lock()
	h.seq++
	seq := h.seq
	h.mu.Unlock()
	data, _ := json.Marshal(invoke.BlobCreatedData{
		API: "PutBlob", ClientRequestID: newID(), RequestID: newID(), ETag: b.ETag,
		ContentType: "application/octet-stream", ContentLength: b.Size, BlobType: "BlockBlob",
		URL: strings.TrimRight(h.cfg.BlobURL, "/") + "/" + h.cfg.Container + "/" + b.Name, Sequencer: fmt.Sprintf("%032x", seq),
	})
	return invoke.EventGridEvent{
		ID:              newID(),
		Topic:           "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/local/providers/Microsoft.Storage/storageAccounts/" + h.cfg.Account,
		Subject:         "/blobServices/default/containers/" + h.cfg.Container + "/blobs/" + b.Name,
		EventType:       "Microsoft.Storage.BlobCreated",
		EventTime:       time.Now().UTC(),
		Data:            data,
		DataVersion:     "",
		MetadataVersion: "1",
	}
}

// DeliverEvent posts ev to function fn, retrying up to 5 times.
func (h *Host) DeliverEvent(ctx context.Context, fn string, binding string, ev invoke.EventGridEvent) bool {
	backoff := time.Second
	for attempt := 1; attempt <= 5; attempt++ {
		body, err := invoke.EventGridInvocation(binding, ev, time.Now().UTC())
		if err != nil {
			h.cfg.Log.Error("encode event", "error", err)
			return false
		}
		if h.invoke(ctx, fn, body) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(backoff):
			backoff *= 2
		}
	}
	h.cfg.Log.Error("event dropped after 5 attempts (Event Grid would dead-letter it)", "function", fn, "subject", ev.Subject)
	return false
}

func (h *Host) deliverBlob(ctx context.Context, f Function, b facet.BlobInfo) {
	h.DeliverEvent(ctx, f.Name, f.Trigger().Name, h.BlobCreatedEvent(b))
}

// pumpQueue receives messages one at a time (cardinality one, prefetch
// 0) and hands each to the handler while fewer than MaxConcurrentCalls of
// the function's invocations are in progress, as the host's message pump
// does per function and instance; it settles each by the handler's answer.
// The Receiver is not for concurrent use of one queue, so receiving and
// settling take turns.
func (h *Host) pumpQueue(ctx context.Context, f Function) {
	t := f.Trigger()
	calls := make(chan struct{}, max(h.cfg.MaxConcurrentCalls, 1))
	var mu sync.Mutex // the queue's Receiver calls
	var wg sync.WaitGroup
	defer wg.Wait()
	for ctx.Err() == nil {
		select {
		case calls <- struct{}{}:
		case <-ctx.Done():
			return
		}
		mu.Lock()
		ds, err := h.cfg.Receiver.Receive(ctx, t.QueueName, 1, time.Second)
		mu.Unlock()
		if err != nil && ctx.Err() == nil {
			h.cfg.Log.Warn("receive failed", "queue", t.QueueName, "error", err)
			time.Sleep(h.cfg.PollEvery)
		}
		if len(ds) == 0 {
			<-calls
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-calls }()
			for _, d := range ds {
				h.deliverMessage(ctx, f, d, &mu)
			}
		}()
	}
}

// deliverMessage invokes f with d and settles d by the answer, taking mu
// for the Receiver.
func (h *Host) deliverMessage(ctx context.Context, f Function, d facet.Delivery, mu *sync.Mutex) {
	t := f.Trigger()
	body, err := invoke.ServiceBusInvocation(t.Name, d, time.Now().UTC())
	ok := err == nil && h.invoke(ctx, f.Name, body)
	settle := context.WithoutCancel(ctx)
	mu.Lock()
	defer mu.Unlock()
	if ok {
		err = h.cfg.Receiver.Complete(settle, t.QueueName, d)
	} else {
		err = h.cfg.Receiver.Abandon(settle, t.QueueName, d)
	}
	if err != nil {
		h.cfg.Log.Warn("settling a message failed", "queue", t.QueueName, "error", err)
	}
}

// FireTimer invokes the timer function name once, as the host does when
// its schedule comes due, and reports whether the handler answered 2xx.
func (h *Host) FireTimer(ctx context.Context, name string) bool {
	for _, f := range h.cfg.Functions {
		if f.Name != name || f.Trigger().Type != "timerTrigger" {
			continue
		}
		now := time.Now().UTC()
		t := invoke.TimerInfo{Schedule: json.RawMessage(`{"AdjustForDST":true}`), IsPastDue: false}
		t.ScheduleStatus = &invoke.ScheduleStatus{Last: now.Add(-h.cfg.TimerEvery), Next: now.Add(h.cfg.TimerEvery), LastUpdated: now}
		body, err := invoke.TimerInvocation(f.Trigger().Name, t, now)
		if err != nil {
			h.cfg.Log.Error("encode timer", "error", err)
			return false
		}
		return h.invoke(ctx, f.Name, body)
	}
	h.cfg.Log.Error("no timer function", "function", name)
	return false
}
