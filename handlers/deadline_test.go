package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/app"
	"github.com/humaninsight/facet/internal/inmem"
)

// stallStore wraps the in-memory DocStore. Frozen, it answers nothing
// until the caller's context ends, as Cosmos DB did for 90 s in the
// incident, and then returns the context's error (or, Opaque, an error of
// its own that does not wrap it, as a transport might). With Err set,
// every call fails with Err at once.
type stallStore struct {
	facet.DocStore
	mu     sync.Mutex
	frozen bool
	opaque bool
	err    error
}

func (s *stallStore) set(frozen, opaque bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.frozen, s.opaque, s.err = frozen, opaque, err
}

func (s *stallStore) hold(ctx context.Context) error {
	s.mu.Lock()
	frozen, opaque, err := s.frozen, s.opaque, s.err
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if !frozen {
		return nil
	}
	<-ctx.Done()
	if opaque {
		return facet.Errorf(facet.EInternal, "cosmosdb: read: transport: i/o timeout")
	}
	return ctx.Err()
}

func (s *stallStore) Create(ctx context.Context, c, p string, doc []byte) (string, error) {
	if err := s.hold(ctx); err != nil {
		return "", err
	}
	return s.DocStore.Create(ctx, c, p, doc)
}

func (s *stallStore) Read(ctx context.Context, c, p, id string) (facet.Doc, error) {
	if err := s.hold(ctx); err != nil {
		return facet.Doc{}, err
	}
	return s.DocStore.Read(ctx, c, p, id)
}

func (s *stallStore) Replace(ctx context.Context, c, p string, doc []byte, ifMatch string) (string, error) {
	if err := s.hold(ctx); err != nil {
		return "", err
	}
	return s.DocStore.Replace(ctx, c, p, doc, ifMatch)
}

func (s *stallStore) Upsert(ctx context.Context, c, p string, doc []byte) (string, error) {
	if err := s.hold(ctx); err != nil {
		return "", err
	}
	return s.DocStore.Upsert(ctx, c, p, doc)
}

func (s *stallStore) Delete(ctx context.Context, c, p, id, ifMatch string) error {
	if err := s.hold(ctx); err != nil {
		return err
	}
	return s.DocStore.Delete(ctx, c, p, id, ifMatch)
}

func (s *stallStore) Query(ctx context.Context, c string, q facet.Query) (facet.Page, error) {
	if err := s.hold(ctx); err != nil {
		return facet.Page{}, err
	}
	return s.DocStore.Query(ctx, c, q)
}

// idleAnalyzer stands in for the ONNX engine, which these tests never run.
type idleAnalyzer struct{}

func (idleAnalyzer) AnalyzeFile(context.Context, string, facet.Settings, float64, func(facet.Frame) error) (*facet.Result, error) {
	return nil, errors.New("idleAnalyzer: no analysis in this test")
}

func (idleAnalyzer) Installed(string) error { return nil }

// logBuffer collects log lines written by the handler's goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// quickEnv is the handler over in-memory adapters, a stallStore and a
// fake analyzer, with short deadlines, served without a network so each
// request can name its own source address.
type quickEnv struct {
	t     *testing.T
	h     *Handler
	mux   *http.ServeMux
	store *stallStore
	log   *logBuffer
}

func newQuickEnv(t *testing.T, h *Handler) *quickEnv {
	t.Helper()
	e := &quickEnv{t: t, store: &stallStore{DocStore: inmem.NewDocStore()}, log: &logBuffer{}}
	log := slog.New(slog.NewTextHandler(e.log, nil))
	a := app.New(app.Config{PublicBaseURL: "https://facet.example", StorageAccount: "devstoreaccount1"},
		e.store, inmem.NewBlobStore("http://127.0.0.1:1/uploads"), inmem.NewQueue(3, time.Minute), idleAnalyzer{}, log)
	h.App, h.AdminKey, h.Log = a, testAdminKey, log
	e.h, e.mux = h, h.ServeMux()
	return e
}

// do serves one request from source (a RemoteAddr); key is "admin", an
// API key, or "".
func (e *quickEnv) do(method, path, key, source string, body any) *httptest.ResponseRecorder {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	r := httptest.NewRequest(method, path, rd)
	if source != "" {
		r.RemoteAddr = source
	}
	switch {
	case key == "admin":
		r.Header.Set("X-Admin-Key", testAdminKey)
	case key != "":
		r.Header.Set("Authorization", "Bearer "+key)
	}
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, r)
	return w
}

// setup registers a client with a project and an invitation: its API key
// and the invitation's token.
func (e *quickEnv) setup() (string, string) {
	e.t.Helper()
	w := e.do("POST", "/api/clients", "admin", "", map[string]any{
		"company": "Frozen Ltd", "contact": map[string]any{"name": "Ada Example", "email": "ada@example.com"},
		"demographics": map[string]any{"country": "DE", "sector": "market research"}, "dpaVersion": "2026-01"})
	var c struct{ APIKey string }
	if w.Code != 201 || json.Unmarshal(w.Body.Bytes(), &c) != nil {
		e.t.Fatalf("client: %d %s", w.Code, w.Body)
	}
	w = e.do("POST", "/api/projects", c.APIKey, "", map[string]any{"name": "Trailer", "privacyMode": "retain", "useContext": "media-testing"})
	var p struct{ ID string }
	if w.Code != 201 || json.Unmarshal(w.Body.Bytes(), &p) != nil {
		e.t.Fatalf("project: %d %s", w.Code, w.Body)
	}
	w = e.do("POST", "/api/projects/"+p.ID+"/invitations", c.APIKey, "", map[string]any{})
	var inv struct{ Token string }
	if w.Code != 201 || json.Unmarshal(w.Body.Bytes(), &inv) != nil {
		e.t.Fatalf("invitation: %d %s", w.Code, w.Body)
	}
	return c.APIKey, inv.Token
}

// errorBody decodes a problem (RFC 9457) and checks what every error
// answer has: the problem media type, the type and title of its code, the
// answer's status and request id.
func errorBody(t *testing.T, w *httptest.ResponseRecorder) Problem {
	t.Helper()
	var p Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("answer is not a JSON problem: %d %q", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("%d answered with Content-Type %q, want application/problem+json", w.Code, ct)
	}
	if p.Status != w.Code || p.Type != ProblemType(p.Code) || p.Title != ProblemTitles[p.Code] || p.Detail == "" ||
		p.RequestID == "" || p.RequestID != w.Header().Get("X-Request-Id") {
		t.Errorf("problem %+v of a %d answer (X-Request-Id %q)", p, w.Code, w.Header().Get("X-Request-Id"))
	}
	return p
}

// TestDeadlineAnswers503: with the store frozen, API calls end at their
// deadline with 503, Retry-After and the request id, the cause is logged,
// and the participant page answers an HTML page, not JSON.
func TestDeadlineAnswers503(t *testing.T) {
	e := newQuickEnv(t, &Handler{ReadTimeout: 50 * time.Millisecond, WriteTimeout: 80 * time.Millisecond})
	key, token := e.setup()
	for _, opaque := range []bool{false, true} {
		e.store.set(true, opaque, nil)
		for _, c := range []struct{ method, path, key string }{
			{"GET", "/api/projects", key},
			{"GET", "/api/clients/me", key},
			{"POST", "/api/projects", key},
			{"GET", "/api/invitations/" + token, ""},
		} {
			start := time.Now()
			w := e.do(c.method, c.path, c.key, "", map[string]any{"name": "x", "privacyMode": "retain", "useContext": "media-testing"})
			took := time.Since(start)
			body := errorBody(t, w)
			id := w.Header().Get("X-Request-Id")
			if w.Code != 503 || w.Header().Get("Retry-After") != "5" || body.Code != facet.EUnavailable || body.RequestID != id || id == "" {
				t.Errorf("opaque %v, %s %s: %d Retry-After %q %v", opaque, c.method, c.path, w.Code, w.Header().Get("Retry-After"), body)
			}
			if took > time.Second {
				t.Errorf("%s %s took %s", c.method, c.path, took)
			}
			if strings.Contains(w.Body.String(), "deadline") || strings.Contains(w.Body.String(), "cosmosdb") {
				t.Errorf("%s %s: answer names the cause: %s", c.method, c.path, w.Body)
			}
			if log := e.log.String(); !strings.Contains(log, "request="+id) || !strings.Contains(log, "deadlineExceeded=true") {
				t.Errorf("%s %s: cause not logged under %s:\n%s", c.method, c.path, id, log)
			}
		}

		w := e.do("GET", "/p/"+token, "", "", nil)
		page := w.Body.String()
		if w.Code != 503 || w.Header().Get("Retry-After") != "5" || w.Header().Get("Content-Type") != "text/html; charset=utf-8" {
			t.Errorf("opaque %v, page: %d %v", opaque, w.Code, w.Header())
		}
		if !strings.Contains(page, "Please try again in a few minutes") || !strings.Contains(page, "Reference: "+w.Header().Get("X-Request-Id")) ||
			strings.Contains(page, "deadline") || strings.Contains(page, `"error"`) || strings.Contains(page, "<script>") {
			t.Errorf("opaque %v, page:\n%s", opaque, page)
		}
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe") {
			t.Errorf("page CSP %q", csp)
		}
	}
}

// TestPageFailures: the participant page answers every failure of the
// service with a page in plain words and the failure's status.
func TestPageFailures(t *testing.T) {
	e := newQuickEnv(t, &Handler{})
	_, token := e.setup()
	for _, c := range []struct {
		err        error
		status     int
		retryAfter string
		want       string
	}{
		{errors.New("inmem: boom in container invitations"), 500, "", "Something went wrong on our side"},
		{facet.Errorf(facet.EUnavailable, "cosmosdb: 503"), 503, "5", "busy or briefly unavailable"},
		{facet.Throttled(1500*time.Millisecond, "cosmosdb: 429"), 429, "2", "busy or briefly unavailable"},
	} {
		e.store.set(false, false, c.err)
		w := e.do("GET", "/p/"+token, "", "", nil)
		page := w.Body.String()
		if w.Code != c.status || w.Header().Get("Retry-After") != c.retryAfter || !strings.Contains(page, c.want) ||
			w.Header().Get("Content-Type") != "text/html; charset=utf-8" || w.Header().Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%v: %d Retry-After %q %v\n%s", c.err, w.Code, w.Header().Get("Retry-After"), w.Header(), page)
		}
		for _, leak := range []string{"inmem", "cosmosdb", "boom"} {
			if strings.Contains(page, leak) {
				t.Errorf("%v: page names %q", c.err, leak)
			}
		}
	}
}

// TestTooManyFromApp: an ETooMany from below (here the store, as Cosmos DB
// answers 429) is 429 with its Retry-After rounded up; an EUnavailable
// that says when to retry keeps its value.
func TestTooManyFromApp(t *testing.T) {
	e := newQuickEnv(t, &Handler{})
	key, _ := e.setup()
	for _, c := range []struct {
		err        error
		status     int
		retryAfter string
		code       string
	}{
		{facet.Throttled(2500*time.Millisecond, "too many requests for this client"), 429, "3", facet.ETooMany},
		{facet.Throttled(0, "too many requests for this client"), 429, "1", facet.ETooMany},
		{&facet.Error{Code: facet.EUnavailable, Message: "cosmosdb: 503", RetryAfter: 30 * time.Second}, 503, "30", facet.EUnavailable},
	} {
		e.store.set(false, false, c.err)
		w := e.do("GET", "/api/projects", key, "", nil)
		if body := errorBody(t, w); w.Code != c.status || w.Header().Get("Retry-After") != c.retryAfter || body.Code != c.code {
			t.Errorf("%v: %d Retry-After %q %v", c.err, w.Code, w.Header().Get("Retry-After"), body)
		}
	}
}

// TestRetryAfter: which answers say when to retry, and what.
func TestRetryAfter(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		want   string
	}{
		{facet.Throttled(time.Nanosecond, "slow down"), 429, "1"},
		{facet.Throttled(59*time.Second, "slow down"), 429, "59"},
		{facet.Errorf(facet.EUnavailable, "down"), 503, "5"},
		{facet.Errorf(facet.EInternal, "read: %w", context.DeadlineExceeded), 503, "5"},
		{errors.Join(errors.New("transport"), context.DeadlineExceeded), 503, "5"},
		{facet.Errorf(facet.ENotFound, "no such project"), 404, ""},
		{errors.New("boom"), 500, ""},
	} {
		w := httptest.NewRecorder()
		writeError(w, c.err)
		if w.Code != c.status || w.Header().Get("Retry-After") != c.want {
			t.Errorf("%v: %d Retry-After %q, want %d %q", c.err, w.Code, w.Header().Get("Retry-After"), c.status, c.want)
		}
	}
}

// TestRouteDeadlines: reads get seconds, writes a little more, and the
// routes that walk a whole project or client their own, longer deadline.
func TestRouteDeadlines(t *testing.T) {
	h := &Handler{}
	long := map[string]bool{
		"GET /api/projects/{id}/export.csv": true, "GET /api/projects/{id}/export.json": true, "GET /api/projects/{id}/report": true,
		"GET /api/recordings/{id}/analyses/{analysisId}": true, "DELETE /api/clients/me": true, "DELETE /api/clients/{id}": true,
		"GET /api/projects/{id}/stimuli/{stimulusId}/results": true, "GET /api/projects/{id}/stimuli/{stimulusId}/results.csv": true,
	}
	for _, rt := range Routes() {
		want := DefaultWriteTimeout
		switch {
		case long[rt.Method+" "+rt.Path]:
			want = LongTimeout
		case rt.Method == "GET":
			want = DefaultReadTimeout
		}
		if got := h.timeout(rt, rt.Method); got != want {
			t.Errorf("%s %s: deadline %s, want %s", rt.Method, rt.Path, got, want)
		}
	}
	if got := h.timeout(Route{Method: "GET"}, "HEAD"); got != DefaultReadTimeout {
		t.Errorf("HEAD: %s", got)
	}
	h.ReadTimeout = time.Millisecond
	if got := h.timeout(Route{Method: "GET"}, "GET"); got != time.Millisecond {
		t.Errorf("ReadTimeout not used: %s", got)
	}
}

// TestNoDoubleWrite: an error after a handler began its answer is logged,
// not written into the answer.
func TestNoDoubleWrite(t *testing.T) {
	log := &logBuffer{}
	h := &Handler{Log: slog.New(slog.NewTextHandler(log, nil))}
	rt := Route{Function: "Half", Method: "GET", Path: "/api/half", Auth: AccessPublic,
		serve: func(_ *Handler, w http.ResponseWriter, _ *http.Request, _ *facet.Client) error {
			w.Header().Set("Content-Type", "text/csv")
			w.Write([]byte("a,b\n"))
			return facet.Errorf(facet.EUnavailable, "store went away")
		}}
	w := httptest.NewRecorder()
	h.serveAPI(w, httptest.NewRequest("GET", "/api/half", nil), rt)
	if w.Code != 200 || w.Body.String() != "a,b\n" || w.Header().Get("Retry-After") != "" {
		t.Errorf("%d %v %q", w.Code, w.Header(), w.Body)
	}
	if !strings.Contains(log.String(), "after its answer began") {
		t.Errorf("not logged: %s", log)
	}
}
