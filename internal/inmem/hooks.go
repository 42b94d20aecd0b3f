package inmem

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/humaninsight/facet"
)

// The limits of httphook's defaults, so that a handler sees here what it
// would see over the network.
const (
	hookTimeout   = 10 * time.Second
	hookMaxAnswer = 4 << 10
	hookUserAgent = "facet-webhooks/1"
)

// Hooks is a facet.HookSender that delivers to http.Handlers of the same
// process instead of the network: `facet dev` and app tests register a
// handler per origin with Handle and read what was sent with Posts. It
// keeps the real sender's rules where they apply without a network: the
// URL must pass facet.CheckHookURL, no redirect is followed, at most
// 4 KiB of an answer is taken (a handler's later writes fail, as they do
// once the real sender stops reading), and an attempt ends at Timeout. A
// post to an origin nobody registered is EUnavailable, as a connection
// refused is. Host names are not resolved, so the real sender's check of
// the address it dials has no counterpart here.
//
// The zero value is ready to use; set the fields before the first Post.
// Safe for concurrent use.
type Hooks struct {
	// AllowLocal is CheckHookURL's local-development setting: loopback
	// addresses and localhost, also over http.
	AllowLocal bool
	// Timeout bounds an attempt, the handler's work included; zero means
	// ten seconds, httphook's default.
	Timeout time.Duration

	mu       sync.Mutex
	handlers map[string]http.Handler // by origin, as hookOrigin writes it
	posts    []facet.HookPost
}

var _ facet.HookSender = (*Hooks)(nil)

// Handle makes h answer the posts to origin, a URL of scheme and host
// ("https://hooks.example.com", "http://127.0.0.1:7071"); a nil h removes
// the origin's handler. A malformed origin is a set-up mistake and panics,
// as http.ServeMux.Handle does with a malformed pattern.
func (k *Hooks) Handle(origin string, h http.Handler) {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		panic(fmt.Sprintf("inmem: hooks: origin %q is not scheme://host[:port]", origin))
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.handlers == nil {
		k.handlers = map[string]http.Handler{}
	}
	if h == nil {
		delete(k.handlers, hookOrigin(u))
		return
	}
	k.handlers[hookOrigin(u)] = h
}

// Posts returns copies of the posts sent so far, oldest first: those whose
// URL passed the check, whatever came of them.
func (k *Hooks) Posts() []facet.HookPost {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]facet.HookPost, len(k.posts))
	for i, p := range k.posts {
		out[i] = cloneHookPost(p)
	}
	return out
}

// Post delivers p to the handler of its URL's origin and returns the
// status it answered with, once the handler has returned.
func (k *Hooks) Post(ctx context.Context, p facet.HookPost) (facet.HookAnswer, error) {
	start := time.Now()
	ans, err := k.post(ctx, p)
	ans.Latency = time.Since(start)
	return ans, err
}

func (k *Hooks) post(ctx context.Context, p facet.HookPost) (facet.HookAnswer, error) {
	u, err := facet.CheckHookURL(p.URL, k.AllowLocal)
	if err != nil {
		return facet.HookAnswer{}, &facet.Error{Code: facet.EInvalid, Message: "inmem: post hook: " + facet.ErrorMessage(err), Err: err}
	}
	if err := checkHookHeader(p.Header); err != nil {
		return facet.HookAnswer{}, fmt.Errorf("inmem: post hook: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return facet.HookAnswer{}, fmt.Errorf("inmem: post hook: %w", err)
	}
	k.mu.Lock()
	k.posts = append(k.posts, cloneHookPost(p))
	h := k.handlers[hookOrigin(u)]
	k.mu.Unlock()
	if h == nil {
		return facet.HookAnswer{}, facet.Errorf(facet.EUnavailable, "inmem: post hook: connection refused (no handler for the origin)")
	}

	timeout := k.Timeout
	if timeout <= 0 {
		timeout = hookTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req := hookRequest(ctx, u, p)

	w := &hookRecorder{ResponseRecorder: httptest.NewRecorder(), left: hookMaxAnswer}
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		h.ServeHTTP(w, req)
	}()
	select {
	case v := <-done:
		if v != nil {
			// net/http recovers a handler's panic and drops the connection.
			return facet.HookAnswer{}, &facet.Error{Code: facet.EUnavailable, Message: "inmem: post hook: connection failed", Err: fmt.Errorf("handler panicked: %v", v)}
		}
		return facet.HookAnswer{Status: w.Code}, nil
	case <-ctx.Done():
		// The handler goroutine runs on with a cancelled context, as a
		// server's does when its client hangs up; w is not read again.
		if err := ctx.Err(); errors.Is(err, context.Canceled) {
			return facet.HookAnswer{}, fmt.Errorf("inmem: post hook: %w", err)
		}
		return facet.HookAnswer{}, &facet.Error{Code: facet.EUnavailable, Message: "inmem: post hook: no answer in time", Err: ctx.Err()}
	}
}

// hookRequest is p as a server receives it: the target in origin form,
// the host in Host, TLS state for https.
func hookRequest(ctx context.Context, u *url.URL, p facet.HookPost) *http.Request {
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, u.RequestURI(), bytes.NewReader(bytes.Clone(p.Body)))
	req.Host = u.Host
	if u.Scheme == "https" {
		req.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true, ServerName: u.Hostname()}
	}
	for name, v := range p.Header {
		req.Header.Set(name, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", hookUserAgent)
	return req
}

// hookOrigin is the key of u's handler: scheme and host in lower case,
// without the scheme's default port.
func hookOrigin(u *url.URL) string {
	host := strings.ToLower(u.Host)
	switch {
	case u.Scheme == "https" && strings.HasSuffix(host, ":443"), u.Scheme == "http" && strings.HasSuffix(host, ":80"):
		host = host[:strings.LastIndexByte(host, ':')]
	}
	return u.Scheme + "://" + host
}

func cloneHookPost(p facet.HookPost) facet.HookPost {
	return facet.HookPost{URL: p.URL, Body: bytes.Clone(p.Body), Header: maps.Clone(p.Header)}
}

// checkHookHeader refuses the header fields net/http would refuse to
// send, so that a twin of the real sender fails where it fails: names that
// are not RFC 9110 tokens, values with control characters other than tab.
// They are the caller's mistake, not the endpoint's, hence no code.
func checkHookHeader(h map[string]string) error {
	for _, name := range slices.Sorted(maps.Keys(h)) {
		if name == "" || strings.IndexFunc(name, func(r rune) bool { return !hookTokenChar(r) }) >= 0 {
			return fmt.Errorf("header %q: not a valid field name", name)
		}
		if strings.IndexFunc(h[name], func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) >= 0 {
			return fmt.Errorf("header %s: control character in the value", name)
		}
	}
	return nil
}

func hookTokenChar(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r)
}

// hookRecorder is an httptest.ResponseRecorder that takes hookMaxAnswer
// bytes of body and refuses the rest, as a connection the sender closed
// after reading that much would.
type hookRecorder struct {
	*httptest.ResponseRecorder
	left int
}

// errHookClosed is what a handler's writes get past the answer limit.
var errHookClosed = errors.New("inmem: hook answer: the sender stopped reading")

// Write keeps what fits within the limit.
func (w *hookRecorder) Write(b []byte) (int, error) {
	if len(b) <= w.left {
		w.left -= len(b)
		return w.ResponseRecorder.Write(b)
	}
	n, _ := w.ResponseRecorder.Write(b[:w.left])
	w.left = 0
	return n, errHookClosed
}

// WriteString shadows the recorder's own, which would bypass the limit.
func (w *hookRecorder) WriteString(s string) (int, error) { return w.Write([]byte(s)) }
