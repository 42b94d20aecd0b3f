package handlers

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable time for a Throttle.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newTestThrottle(max int) (*Throttle, *clock) {
	c := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	t := NewThrottle(AuthFailures, AuthWindow, max)
	t.Now = c.Now
	return t, c
}

// TestThrottleAdminKey: the 11th wrong admin key from one source within a
// minute is refused with 429 and Retry-After; another source is not; the
// right key from the throttled source is refused too; after the window
// the source may try again.
func TestThrottleAdminKey(t *testing.T) {
	guard, clk := newTestThrottle(AuthMaxSources)
	e := newQuickEnv(t, &Handler{Guard: guard})
	const guesser, other = "198.51.100.7:40000", "203.0.113.9:40000"
	client := map[string]any{
		"company": "Guess Ltd", "contact": map[string]any{"name": "Ada Example", "email": "ada@example.com"},
		"demographics": map[string]any{"country": "DE", "sector": "market research"}, "dpaVersion": "2026-01"}
	wrong := func(source string) int {
		r := httptest.NewRequest("POST", "/api/clients", strings.NewReader("{}"))
		r.RemoteAddr = source
		r.Header.Set("X-Admin-Key", "guess")
		w := httptest.NewRecorder()
		e.mux.ServeHTTP(w, r)
		return w.Code
	}
	for i := 1; i <= AuthFailures; i++ {
		if st := wrong(guesser); st != 401 {
			t.Fatalf("guess %d: %d, want 401", i, st)
		}
		clk.advance(time.Second)
	}
	w := e.do("POST", "/api/clients", "", guesser, nil)
	if body := errorBody(t, w); w.Code != 429 || w.Header().Get("Retry-After") != "50" || body.Code != "too_many_requests" {
		t.Errorf("11th attempt: %d Retry-After %q %v; want 429 after 50 s", w.Code, w.Header().Get("Retry-After"), body)
	}
	// The right key is refused as well while the source is throttled:
	// were it let in, every guess would still be answered "wrong" or
	// "right", and the throttle would slow the guessing down not at all.
	if w := e.do("POST", "/api/clients", "admin", guesser, client); w.Code != 429 {
		t.Errorf("right key from a throttled source: %d, want 429", w.Code)
	}
	// Another source is unaffected, right or wrong.
	if st := wrong(other); st != 401 {
		t.Errorf("other source, wrong key: %d, want 401", st)
	}
	if w := e.do("POST", "/api/clients", "admin", other, client); w.Code != 201 {
		t.Errorf("other source, right key: %d %s", w.Code, w.Body)
	}
	// The window ends 60 s after its first failure.
	clk.advance(49 * time.Second)
	if st := wrong(guesser); st != 429 {
		t.Errorf("1 s before the window ends: %d, want 429", st)
	}
	clk.advance(time.Second)
	if w := e.do("POST", "/api/clients", "admin", guesser, client); w.Code != 201 {
		t.Errorf("after the window: %d %s", w.Code, w.Body)
	}
	if st := wrong(guesser); st != 401 {
		t.Errorf("after the window, wrong key: %d, want 401", st)
	}
}

// TestThrottleAPIKeys: unknown and malformed API keys count too; a
// success does not wipe the count (a client owning one key must not
// launder its guesses at others'); a store that fails is no failure of
// the caller's.
func TestThrottleAPIKeys(t *testing.T) {
	guard, _ := newTestThrottle(AuthMaxSources)
	e := newQuickEnv(t, &Handler{Guard: guard, ReadTimeout: 20 * time.Millisecond})
	key, _ := e.setup()
	const src = "192.0.2.50:1234"
	for i := 0; i < AuthFailures-1; i++ {
		bad := []string{"fk_" + strings.Repeat("0", 43), "not-a-key", "fk_x"}[i%3]
		if w := e.do("GET", "/api/projects", bad, src, nil); w.Code != 401 {
			t.Fatalf("guess %d (%q): %d", i, bad, w.Code)
		}
		if w := e.do("GET", "/api/projects", key, src, nil); w.Code != 200 {
			t.Fatalf("right key between guesses: %d", w.Code)
		}
	}
	// No credential at all guesses nothing (a signed-out portal page
	// asks GET /api/session): never counted, however often.
	for i := 0; i < 2*AuthFailures; i++ {
		if w := e.do("GET", "/api/projects", "", src, nil); w.Code != 401 {
			t.Fatalf("no credential: %d, want 401", w.Code)
		}
	}
	if w := e.do("GET", "/api/projects", key, src, nil); w.Code != 200 {
		t.Fatalf("right key after requests without a credential: %d", w.Code)
	}
	e.store.set(true, false, nil) // Cosmos DB frozen: 503, not counted
	for i := 0; i < 3; i++ {
		if w := e.do("GET", "/api/projects", "fk_"+strings.Repeat("1", 43), src, nil); w.Code != 503 {
			t.Fatalf("frozen store: %d, want 503", w.Code)
		}
	}
	e.store.set(false, false, nil)
	if w := e.do("GET", "/api/projects", "Basic abc", src, nil); w.Code != 401 {
		t.Fatalf("10th failure: %d", w.Code)
	}
	if w := e.do("GET", "/api/projects", key, src, nil); w.Code != 429 || w.Header().Get("Retry-After") == "" {
		t.Errorf("right key after 10 failures: %d %v, want 429 with Retry-After", w.Code, w.Header())
	}
	// A forged X-Forwarded-For entry in front of the one the platform
	// appended gives no fresh source.
	r := httptest.NewRequest("GET", "/api/projects", nil)
	r.Header.Set("X-Forwarded-For", "10.9.8.7, 192.0.2.50:5555")
	r.Header.Set("Authorization", "Bearer "+key)
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, r)
	if w.Code != 429 {
		t.Errorf("forged X-Forwarded-For: %d, want 429", w.Code)
	}
}

// TestThrottleBounded: sources beyond MaxSources push out the oldest, and
// ended windows are forgotten, so addresses rotated by an attacker cannot
// grow the table.
func TestThrottleBounded(t *testing.T) {
	guard, clk := newTestThrottle(100)
	for i := 0; i < 10000; i++ {
		guard.Fail(fmt.Sprintf("10.0.%d.%d", i/256, i%256))
		if n := guard.Len(); n > 100 {
			t.Fatalf("%d sources tracked, want at most 100", n)
		}
	}
	for i := 0; i < AuthFailures; i++ {
		guard.Fail("192.0.2.1")
	}
	if _, blocked := guard.Blocked("192.0.2.1"); !blocked {
		t.Error("the newest source was forgotten")
	}
	if _, blocked := guard.Blocked("10.0.0.0"); blocked {
		t.Error("an evicted source is still blocked")
	}
	clk.advance(AuthWindow)
	guard.Fail("192.0.2.2")
	if n := guard.Len(); n != 1 {
		t.Errorf("after the window %d sources tracked, want 1", n)
	}
}

func TestClientAddr(t *testing.T) {
	for _, c := range []struct{ remote, xff, want string }{
		{"192.0.2.1:1234", "", "192.0.2.1"},
		{"127.0.0.1:5000", "203.0.113.5:61234", "203.0.113.5"},
		{"127.0.0.1:5000", "198.51.100.1, 203.0.113.5", "203.0.113.5"},
		{"127.0.0.1:5000", "203.0.113.5, 127.0.0.1", "203.0.113.5"},
		{"127.0.0.1:5000", "[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"127.0.0.1:5000", "2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"},
		{"127.0.0.1:5000", "::ffff:203.0.113.5", "203.0.113.5"},
		{"192.0.2.1:1234", "garbage", "192.0.2.1"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := clientAddr(r); got != c.want {
			t.Errorf("RemoteAddr %s, X-Forwarded-For %q: %q, want %q", c.remote, c.xff, got, c.want)
		}
	}
}
