package porttest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humaninsight/facet"
)

// HookSender checks that senders keep the facet.HookSender contract: the
// body and headers arrive exactly, every status is an answer and not an
// error, no redirect is followed, a large answer is not read to its end,
// an endpoint slower than the attempt's timeout is EUnavailable, a
// cancelled context ends the attempt, and a URL CheckHookURL refuses is
// EInvalid whatever the sender's local-development setting.
//
// Each subtest calls newSender for a fresh sender and a serve function
// that makes a handler reachable and returns a URL the sender may post to
// (an httptest server on 127.0.0.1 for a sender that allows local
// addresses, a registered origin for the in-memory one). The sender's
// attempt timeout must be short, half a second or so, since one subtest
// waits for it to expire; the others expect answers well within it.
//
// The subtests run in parallel; HookSender returns once all have ended.
func HookSender(t *testing.T, newSender func(t *testing.T) (facet.HookSender, func(h http.Handler) (url string))) {
	s := hookSuite{newSender: newSender}
	t.Run("HookSender", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			fn   func(*testing.T)
		}{
			{"Delivery", s.delivery},
			{"Statuses", s.statuses},
			{"NoRedirect", s.noRedirect},
			{"LargeAnswer", s.largeAnswer},
			{"Timeout", s.timeout},
			{"Cancelled", s.cancelled},
			{"RefusedURL", s.refusedURL},
			{"Concurrent", s.concurrent},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tc.fn(t)
			})
		}
	})
}

type hookSuite struct {
	newSender func(t *testing.T) (facet.HookSender, func(h http.Handler) string)
}

// hookTestTimeout bounds each subtest's context, so a sender that ignores
// its own timeout fails the subtest instead of hanging the binary.
const hookTestTimeout = 20 * time.Second

func (s hookSuite) setup(t *testing.T) (context.Context, facet.HookSender, func(http.Handler) string) {
	ctx, cancel := context.WithTimeout(t.Context(), hookTestTimeout)
	t.Cleanup(cancel)
	sender, serve := s.newSender(t)
	return ctx, sender, serve
}

// hookRequest is what a handler saw of a request.
type hookRequest struct {
	method, requestURI string
	header             http.Header
	body               []byte
}

func (s hookSuite) delivery(t *testing.T) {
	ctx, sender, serve := s.setup(t)
	seen := make(chan hookRequest, 1)
	target := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("handler: read body: %v", err)
		}
		seen <- hookRequest{r.Method, r.RequestURI, r.Header.Clone(), body}
	}))
	target += "?delivery=d-1&x=%C3%BC"
	want, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	// Bytes a re-encoding would change: key order, spacing, escapes, and
	// characters JSON may or may not escape.
	body := []byte(`{"type":"recording.analyzed", "data":{"id":"r-1","b":1.50,"a":"ü \u00fc <&> \u2028"}}`)
	p := facet.HookPost{URL: target, Body: body, Header: map[string]string{
		"Facet-Signature": "t=1767225600,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd",
		"Facet-Delivery":  "d-1",
	}}
	ans, err := sender.Post(ctx, p)
	if err != nil {
		t.Fatalf("Post: %v", err)
	}
	if ans.Status != http.StatusOK || ans.Latency <= 0 {
		t.Errorf("answer = %+v, want status 200 and a latency", ans)
	}
	var got hookRequest
	select {
	case got = <-seen:
	default:
		t.Fatal("Post answered, but the handler saw no request")
	}
	if got.method != http.MethodPost || got.requestURI != want.RequestURI() {
		t.Errorf("request = %s %s, want POST %s", got.method, got.requestURI, want.RequestURI())
	}
	if !bytes.Equal(got.body, body) {
		t.Errorf("body arrived as %q, want %q", got.body, body)
	}
	for k, v := range map[string]string{"Content-Type": "application/json", "Facet-Signature": p.Header["Facet-Signature"], "Facet-Delivery": "d-1"} {
		if g := got.header.Values(k); len(g) != 1 || g[0] != v {
			t.Errorf("header %s arrived as %q, want %q", k, g, v)
		}
	}
}

// statuses checks that whatever status came back is an answer: what
// counts as delivered is the caller's call.
func (s hookSuite) statuses(t *testing.T) {
	ctx, sender, serve := s.setup(t)
	target := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("status"))
		w.WriteHeader(code)
		if code != http.StatusNoContent {
			io.WriteString(w, `{"ok":false}`)
		}
	}))
	for _, code := range []int{200, 201, 202, 204, 400, 401, 404, 410, 413, 429, 500, 502, 503} {
		ans, err := sender.Post(ctx, facet.HookPost{URL: target + "?status=" + strconv.Itoa(code), Body: []byte(`{}`)})
		if err != nil || ans.Status != code || ans.Latency <= 0 {
			t.Errorf("Post to an endpoint answering %d = %+v, %v; want that status, a latency and no error", code, ans, err)
		}
	}
}

func (s hookSuite) noRedirect(t *testing.T) {
	ctx, sender, serve := s.setup(t)
	var hits atomic.Int32
	elsewhere := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	target := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("status"))
		http.Redirect(w, r, elsewhere, code)
	}))
	for _, code := range []int{301, 302, 303, 307, 308} {
		ans, err := sender.Post(ctx, facet.HookPost{URL: target + "?status=" + strconv.Itoa(code), Body: []byte(`{}`)})
		if err != nil || ans.Status != code {
			t.Errorf("Post to an endpoint redirecting with %d = %+v, %v; want that status as the answer", code, ans, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the redirects' Location was requested %d times, want never", n)
	}
}

// largeAnswer serves a 1 MB answer. A sender reads a few KB of it at most
// and lets the rest go; how much the endpoint managed to write before the
// connection went depends on socket buffers, so only the answer is checked.
func (s hookSuite) largeAnswer(t *testing.T) {
	ctx, sender, serve := s.setup(t)
	chunk := bytes.Repeat([]byte("x"), 32<<10)
	target := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusAccepted)
		for range (1 << 20) / len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return // the sender stopped reading: as it should
			}
		}
	}))
	ans, err := sender.Post(ctx, facet.HookPost{URL: target, Body: []byte(`{}`)})
	if err != nil || ans.Status != http.StatusAccepted {
		t.Errorf("Post to an endpoint answering 1 MB = %+v, %v; want status 202", ans, err)
	}
}

func (s hookSuite) timeout(t *testing.T) {
	ctx, sender, serve := s.setup(t)
	release := make(chan struct{})
	target := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done(): // the sender gave up and hung up
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release) }) // before the server's clean-up, which waits for handlers
	ans, err := sender.Post(ctx, facet.HookPost{URL: target, Body: []byte(`{}`)})
	if facet.ErrorCode(err) != facet.EUnavailable {
		t.Errorf("Post to an endpoint slower than the timeout = %+v, %v; want code %q", ans, err, facet.EUnavailable)
	}
	if ans.Latency <= 0 {
		t.Errorf("Post that timed out returned latency %v, want it filled", ans.Latency)
	}
}

func (s hookSuite) cancelled(t *testing.T) {
	ctx, sender, serve := s.setup(t)
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	target := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release) })

	before, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := sender.Post(before, facet.HookPost{URL: target, Body: []byte(`{}`)}); !errors.Is(err, context.Canceled) {
		t.Errorf("Post with a cancelled context = %v, want an error wrapping context.Canceled", err)
	}

	during, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-entered:
			cancel()
		case <-ctx.Done():
		}
	}()
	if _, err := sender.Post(during, facet.HookPost{URL: target, Body: []byte(`{}`)}); !errors.Is(err, context.Canceled) {
		t.Errorf("Post cancelled while the endpoint worked = %v, want an error wrapping context.Canceled", err)
	}
}

// refusedURL posts to URLs that no sender may use, local development or
// not; none of them is served, so a sender that tried would not get EInvalid.
func (s hookSuite) refusedURL(t *testing.T) {
	ctx, sender, _ := s.setup(t)
	for _, u := range []string{
		"https://169.254.169.254/metadata/instance",
		"https://10.0.0.1/hook",
		"https://[fd00:ec2::254]/hook",
		"https://168.63.129.16/hook",
		"http://hooks.example.com/hook",
		"ftp://hooks.example.com/hook",
		"https://user:secret@hooks.example.com/hook",
		"https://hooks.example.com/hook#fragment",
		"/hook",
	} {
		ans, err := sender.Post(ctx, facet.HookPost{URL: u, Body: []byte(`{}`)})
		if facet.ErrorCode(err) != facet.EInvalid || ans.Status != 0 {
			t.Errorf("Post to %s = %+v, %v; want code %q and no status", u, ans, err, facet.EInvalid)
		}
	}
}

func (s hookSuite) concurrent(t *testing.T) {
	ctx, sender, serve := s.setup(t)
	var hits atomic.Int32
	target := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	const n = 16
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ans, err := sender.Post(ctx, facet.HookPost{URL: target, Body: []byte(`{"n":` + strconv.Itoa(i) + `}`)})
			if err != nil || ans.Status != http.StatusNoContent {
				t.Errorf("concurrent Post %d = %+v, %v; want status 204", i, ans, err)
			}
		})
	}
	wg.Wait()
	if got := hits.Load(); got != n {
		t.Errorf("the endpoint saw %d requests, want %d", got, n)
	}
}
