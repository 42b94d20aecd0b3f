package devhost

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humaninsight/facet"
)

// queueFake holds n messages of one queue and fails the test when two of
// its calls overlap (a Receiver is not for concurrent use of one queue).
type queueFake struct {
	t         *testing.T
	busy      atomic.Bool
	mu        sync.Mutex
	left      []facet.Delivery
	completed int
	all       chan struct{} // closed once every message is completed
}

func (q *queueFake) enter() func() {
	if !q.busy.CompareAndSwap(false, true) {
		q.t.Error("two Receiver calls at once on one queue")
	}
	return func() { q.busy.Store(false) }
}

func (q *queueFake) Receive(ctx context.Context, _ string, max int, wait time.Duration) ([]facet.Delivery, error) {
	defer q.enter()()
	q.mu.Lock()
	defer q.mu.Unlock()
	n := min(max, len(q.left))
	out := q.left[:n]
	q.left = q.left[n:]
	return out, nil
}

func (q *queueFake) Complete(context.Context, string, facet.Delivery) error {
	defer q.enter()()
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.completed++; q.completed == 6 {
		close(q.all)
	}
	return nil
}

func (q *queueFake) Abandon(context.Context, string, facet.Delivery) error {
	q.t.Error("a message was abandoned")
	return nil
}

func (q *queueFake) DeadLetters(context.Context, string, int) ([]facet.Delivery, error) {
	return nil, nil
}

// The pump hands a Service Bus function at most MaxConcurrentCalls
// messages at once, and uses them all.
func TestPumpConcurrency(t *testing.T) {
	for _, c := range []struct{ max, want int64 }{{0, 1}, {1, 1}, {2, 2}, {3, 3}} {
		t.Run(fmt.Sprint("max=", c.max), func(t *testing.T) {
			var now, peak atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := now.Add(1)
				defer now.Add(-1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				time.Sleep(50 * time.Millisecond)
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"Outputs":{},"Logs":[]}`)
			}))
			defer srv.Close()
			q := &queueFake{t: t, all: make(chan struct{})}
			for i := range 6 {
				q.left = append(q.left, facet.Delivery{Message: facet.Message{ID: fmt.Sprint(i), Body: []byte(`{}`)}, SequenceNumber: int64(i)})
			}
			fn := Function{Name: "RunAnalysis", Bindings: []Binding{{Type: "serviceBusTrigger", Direction: "in", Name: "message", QueueName: "analysis"}}}
			h, err := New(Config{HandlerURL: srv.URL, Functions: []Function{fn}, Receiver: q, PollEvery: 10 * time.Millisecond,
				MaxConcurrentCalls: int(c.max), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { h.Run(ctx); close(done) }()
			select {
			case <-q.all:
			case <-time.After(10 * time.Second):
				t.Fatal("the messages were not all completed in 10 s")
			}
			cancel()
			<-done
			if p := peak.Load(); p != c.want {
				t.Errorf("at most %d invocations at once, want %d", p, c.want)
			}
		})
	}
}

func TestReadHostJSON(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		json string
		want int
	}{
		{`{"extensions":{"serviceBus":{"maxConcurrentCalls":2}}}`, 2},
		{`{"version":"2.0"}`, 16 * runtime.NumCPU()},
	} {
		p := filepath.Join(dir, "host.json")
		if err := os.WriteFile(p, []byte(c.json), 0o644); err != nil {
			t.Fatal(err)
		}
		hj, err := ReadHostJSON(p)
		if err != nil || hj.MaxConcurrentCalls != c.want {
			t.Errorf("%s: %+v, %v; want %d", c.json, hj, err, c.want)
		}
	}
	// The project's own host.json reads.
	if _, err := ReadHostJSON(filepath.Join("..", "..", "host.json")); err != nil {
		t.Error(err)
	}
}
